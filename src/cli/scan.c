/* scan.c: `ringbank scan [--io=auto|uring|threads] [--threads N] [--cap N] DIR`.
 *
 * Walks DIR (made the only root) with rb_fs_walk, statx'ing regular files,
 * and prints one JSON object on stdout:
 *   {"files": N, "directories": N, "symlinks": N, "other": N, "bytes": N,
 *    "elapsed_s": X, "io": "uring"|"threads", "errors": N}
 * directories counts those below DIR (not DIR itself); symlinks are counted,
 * never followed; bytes sums st_size of regular files. When stderr is a
 * terminal a progress line is redrawn about five times a second. Exit 0, or
 * 1 with "ringbank scan: DIR: <reason>" on stderr. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "ringbank/cli.h"

struct scan {
	struct rb_runtime rt;
	struct rb_timer progress;
	uint64_t seen_files, seen_dirs;
	uint64_t t0;
	bool done, tty;
	int res;
	struct rb_walk_stats st;
};

static void progress_cb(struct rb_timer *t)
{
	struct scan *s = t->data;
	fprintf(stderr, "\rscanning: %llu files, %llu directories", (unsigned long long)s->seen_files,
		(unsigned long long)s->seen_dirs);
	fflush(stderr);
	rb_timer_start(s->rt.loop, &s->progress, 200, progress_cb);
}

static int scan_entry(void *ctx, const struct rb_walk_entry *e)
{
	struct scan *s = ctx;
	if (e->type == DT_DIR)
		s->seen_dirs++;
	else
		s->seen_files++;
	return 0;
}

static void scan_done(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct scan *s = ctx;
	s->res = res;
	s->st = *st;
	s->done = true;
	if (s->tty) {
		rb_timer_stop(s->rt.loop, &s->progress);
		fputs("\r\033[K", stderr);
	}
}

static int operand(void *ctx, const char *arg)
{
	const char **dir = ctx;

	if (*dir) {
		fprintf(stderr, "ringbank scan: one directory only ('%s' and '%s')\n", *dir, arg);
		return -1;
	}
	*dir = arg;
	return 0;
}

int rb_cli_scan(int argc, char **argv)
{
	struct rb_runtime_opts ro = { .quiet = true };
	struct rb_walk_opts wo = { .stat_files = true, .cls = RB_CAP_BULK };
	struct scan s;
	const char *dir = NULL;
	/* --max-file-bytes (last) is taken but not listed: a scan reads no file. */
	const struct cli_group groups[] = {
		{ .opts = cli_runtime_opts, .n = cli_runtime_nopts, .nlisted = cli_runtime_nopts - 1, .base = &ro },
	};
	const struct cli_cmd cmd = { .name = "scan", .tail = "DIR", .groups = groups, .ngroups = 1,
				     .usage = cli_synopsis, .operand = operand, .ctx = &dir };
	struct rb_path p;
	int r;

	r = cli_parse(&cmd, argc, argv);
	if (r != 0)
		return r > 0 ? 0 : 1;
	if (!dir) {
		cli_synopsis(&cmd, stderr);
		return 1;
	}
	memset(&s, 0, sizeof(s));
	if (rb_runtime_init(&s.rt, &ro) < 0)
		return 1;
	r = rb_fs_add_root(s.rt.fs, dir);
	if (r == 0)
		r = rb_fs_resolve(s.rt.fs, rb_fs_root_path(s.rt.fs, 0), &p);
	if (r == 0) {
		s.t0 = rb_now_ns();
		r = rb_fs_walk(s.rt.fs, &p, &wo, scan_entry, scan_done, &s, NULL);
	}
	if (r < 0) {
		fprintf(stderr, "ringbank scan: %s: %s\n", dir, rb_strerror(r));
		rb_runtime_deinit(&s.rt);
		return 1;
	}
	s.tty = isatty(2);
	if (s.tty) {
		s.progress.data = &s;
		rb_timer_start(s.rt.loop, &s.progress, 200, progress_cb);
	}
	while (!s.done) {
		r = rb_loop_run_once(s.rt.loop, true, -1);
		if (r < 0) {
			fprintf(stderr, "ringbank scan: event loop failed: %s\n", strerror(-r));
			break;
		}
	}
	if (s.done && s.res == 0)
		printf("{\"files\": %llu, \"directories\": %llu, \"symlinks\": %llu, \"other\": %llu, "
		       "\"bytes\": %llu, \"elapsed_s\": %.6f, \"io\": \"%s\", \"errors\": %llu}\n",
		       (unsigned long long)s.st.files, (unsigned long long)s.st.dirs,
		       (unsigned long long)s.st.symlinks, (unsigned long long)s.st.other,
		       (unsigned long long)s.st.bytes, (double)(rb_now_ns() - s.t0) / 1e9, rb_io_name(s.rt.io),
		       (unsigned long long)s.st.errors);
	else if (s.done)
		fprintf(stderr, "ringbank scan: %s: %s\n", dir, rb_strerror(s.res));
	r = s.done && s.res == 0 ? 0 : 1;
	rb_runtime_deinit(&s.rt);
	return r;
}
