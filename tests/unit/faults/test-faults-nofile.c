/* Description: RLIMIT_NOFILE at 64 under bulk work. A bank of 10,000
 * markdown files in 100 directories is walked (every file statx'ed) and
 * validated by validate_memory_bank with the soft fd limit at 64: the walk
 * keeps at most walk_dirs_open directories open, so it must see every file.
 * With the default set-ups (uring's direct descriptors; 4 pool threads)
 * validation must read every file too. With one real fd per permit (uring
 * without direct descriptors, a pool of 96 threads) the cap's 128 permits
 * exceed the limit: that must fail cleanly (read_error diagnostics saying
 * "Too many open files", no crash, fds back) and is printed as a warning.
 * A read_text_file in the middle of it all still answers. fds and permits
 * are back at baseline afterwards. Both backends. */
#include <sys/resource.h>

#include "faults_t.h"

#define NDIRS 100
#define NFILES 100

struct walk_count {
	uint64_t files, errs;
	volatile bool done;
	int res;
};

static int wentry(void *ctx, const struct rb_walk_entry *en)
{
	struct walk_count *c = ctx;
	if (en->err) {
		if (!c->errs)
			fprintf(stderr, "walk: %s: %s\n", en->rel, strerror(-en->err));
		c->errs++;
	} else if (en->type == DT_REG) {
		ASSERT(en->have_stx);
		c->files++;
	}
	return 0;
}

static void wdone(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct walk_count *c = ctx;
	(void)st;
	c->res = res;
	c->done = true;
}

static void make_bank(const char *dir)
{
	char p[4096], rel[64], body[128];
	int d, f, n;
	snprintf(p, sizeof p, "%s/bank", dir);
	ASSERT_EQ(mkdir(p, 0755), 0);
	for (d = 0; d < NDIRS; d++) {
		snprintf(p, sizeof p, "%s/bank/d%03d", dir, d);
		ASSERT_EQ(mkdir(p, 0755), 0);
		for (f = 0; f < NFILES; f++) {
			snprintf(rel, sizeof rel, "bank/d%03d/f%03d.md", d, f);
			n = snprintf(body, sizeof body, "# File %d.%d\n\nSome text.\n", d, f);
			t_write_file(dir, rel, body, (size_t)n);
		}
	}
}

/* The env of fs_t.h with chosen io options: the default ones, uring
 * without direct descriptors (every open a real fd), and a threads pool of
 * 96 (96 blocking opens at once). */
static bool setup_cfg(struct env *e, enum rb_io_kind k, int cfg)
{
	struct rb_loop_opts lo = { .engine = k == RB_IO_BACKEND_URING ? RB_ENGINE_RING : RB_ENGINE_AUTO, .quiet = true };
	struct rb_io_opts io_o = { .kind = k, .no_direct = cfg == 1, .threads = cfg == 1 ? 96 : 0 };
	if (cfg == 0)
		return env_setup(e, k);
	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->fd_base = t_fd_count();
	if (rb_loop_new(&e->loop, &lo) < 0)
		return false;
	ASSERT_EQ(rb_io_new(&e->io, e->loop, &io_o), 0);
	rb_cap_init(&e->cap, e->loop, NULL);
	ASSERT_EQ(rb_fs_new(&e->fs, e->io, &e->cap, NULL), 0);
	e->dir = t_tmpdir();
	ASSERT_EQ(rb_fs_add_root(e->fs, e->dir), 0);
	return true;
}

int main(void)
{
	t_prefer_tmpfs();
	rb_log_set_level(RB_LOG_ERROR);
	for (int cfg = 0; cfg < 2; cfg++)
	FOR_BOTH_BACKENDS(kind) {
		const char *cname = cfg == 0 ? "defaults" : kind == RB_IO_BACKEND_URING ? "no direct descriptors" : "96 threads";
		struct env e;
		struct rlimit old, lim;
		struct walk_count wc = { 0 };
		struct rb_walk_opts wo = { .stat_files = true, .cls = RB_CAP_BULK };
		struct rb_path p;
		struct t_tool_res tr = { 0 };
		int fd_base;
		long long files, read_errors;

		if (!setup_cfg(&e, kind, cfg))
			continue;
		make_bank(e.dir);
		fd_base = t_fd_count();
		ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
		lim = old;
		lim.rlim_cur = 64;
		ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);

		/* The walk: every file seen and stat'ed. */
		p = env_resolve(&e, "bank");
		ASSERT_EQ(rb_fs_walk(e.fs, &p, &wo, wentry, wdone, &wc, NULL), 0);
		t_run_until(e.loop, &wc.done);
		if (wc.res != 0 || wc.errs || wc.files != NDIRS * NFILES)
			T_FAIL("%s (%s): walk with 64 fds: res %d, %llu files, %llu errors", kname(kind), cname, wc.res,
			       (unsigned long long)wc.files, (unsigned long long)wc.errs);
		t_settle(&e);

		/* validate_memory_bank over the same 10,000 files. */
		t_tool(&e, "validate_memory_bank", "{\"path\":\"bank\",\"rules\":{\"required_files\":[]}}", &tr);
		files = t_tool_num(&tr, "files_validated");
		read_errors = t_tool_num(&tr, "by_code.read_error");
		if (tr.is_error)
			T_FAIL("%s (%s): validate with 64 fds failed: %s", kname(kind), cname, tr.text);
		/* Files (and directories) that could not be read are read_error
		 * diagnostics, not validated files; without one, all were. */
		if (files > NDIRS * NFILES || read_errors < 0 || (!read_errors && files != NDIRS * NFILES))
			T_FAIL("%s (%s): validate with 64 fds: %lld files, %lld read errors, of %d", kname(kind),
			       cname, files, read_errors, NDIRS * NFILES);
		if (read_errors != 0) {
			/* With the default set-ups the fds in use stay far below 64:
			 * direct descriptors, or a pool of 4 threads. */
			if (cfg == 0)
				T_FAIL("%s (%s): validate with 64 fds: %lld read errors:\n%s", kname(kind), cname,
				       read_errors, tr.text);
			/* Otherwise one fd per permit exceeds the limit: the cap
			 * does not know the fd limit (reported in issue 8). Clean
			 * failure only: every error says why. */
			if (!strstr(tr.text, "Too many open files"))
				T_FAIL("%s (%s): %lld read errors that do not say why:\n%s", kname(kind), cname,
				       read_errors, tr.text);
			fprintf(stderr, "WARNING: %s (%s): only %lld of %d files validated with RLIMIT_NOFILE 64, "
				"%lld read_error diagnostics (EMFILE)\n", kname(kind), cname, files, NDIRS * NFILES,
				read_errors);
		}
		t_settle(&e);

		/* An interactive read still works at the limit. */
		t_tool(&e, "read_text_file", "{\"path\":\"bank/d042/f042.md\"}", &tr);
		ASSERT(!tr.is_error);
		ASSERT(strstr(tr.text, "# File 42.42") != NULL);

		ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
		t_settle(&e);
		ASSERT_EQ(t_fd_count(), fd_base);
		fprintf(stderr, "%s (%s): walk %llu files, validate %lld files (%lld read errors), RLIMIT_NOFILE 64\n",
			kname(kind), cname, (unsigned long long)wc.files, files, read_errors);
		free(tr.structured);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
