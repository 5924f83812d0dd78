/* runtime.c: loop + io backend + cap + fs from the common options, with the
 * --io=auto fallback to the thread pool when io_uring is blocked. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "opts.h"
#include "ringbank/cli.h"
#include "ringbank/mcp.h"

/* The options every command takes. The help is `ringbank --help`'s "common
 * options"; the error messages name no command (they are the same in all). */
const struct cli_opt cli_runtime_opts[] = {
	{ "--io", "auto|uring|threads",
	  "I/O backend (default auto: io_uring, else the thread\n"
	  "pool with a note on stderr; uring fails if unavailable)",
	  CLI_IO, 0, 0, offsetof(struct rb_runtime_opts, io) },
	{ "--threads", "N", "thread-pool size for --io=threads (default 4)", CLI_UINT, 1, 1024,
	  offsetof(struct rb_runtime_opts, threads) },
	{ "--cap", "N", "ops in flight at once (default 128)", CLI_UINT, 1, 65536,
	  offsetof(struct rb_runtime_opts, permits) },
	{ "--max-file-bytes", "N", "largest file read whole (default 64 MiB)", CLI_SIZE, 1, 1ull << 40,
	  offsetof(struct rb_runtime_opts, max_file_bytes) },
};
const size_t cli_runtime_nopts = sizeof(cli_runtime_opts) / sizeof(cli_runtime_opts[0]);

/* How the writers (write_file, edit_file, memory_bank_update) share a file's
 * lock with other writers: other sessions, other ringbank processes. */
const struct cli_opt cli_tools_opts[] = {
	{ "--lock-wait-ms", "N",
	  "how long a write waits for a file lock another writer holds\n"
	  "(default 5000, at most 600000; 0 = fail at once)",
	  CLI_UINT, 0, RB_LOCK_WAIT_MS_MAX, offsetof(struct rb_tools_opts, lock_wait_ms) },
	{ "--lock-stale-ms", "N",
	  "a lock older than this is taken over as abandoned\n"
	  "(default 60000, from 1000 to 86400000)",
	  CLI_UINT, RB_LOCK_STALE_MS_MIN, RB_LOCK_STALE_MS_MAX, offsetof(struct rb_tools_opts, lock_stale_ms) },
};
const size_t cli_tools_nopts = sizeof(cli_tools_opts) / sizeof(cli_tools_opts[0]);

int rb_runtime_parse_opt(struct rb_runtime_opts *o, int argc, char **argv, int *i)
{
	const struct cli_group g = { .opts = cli_runtime_opts, .n = cli_runtime_nopts, .base = o };

	return cli_parse_opt("", &g, argc, argv, i);
}

void rb_cli_common_usage(FILE *f)
{
	cli_list_help(f, cli_runtime_opts, cli_runtime_nopts, 31);
	fputs("\nfile locks (serve, call):\n", f);
	cli_list_help(f, cli_tools_opts, cli_tools_nopts, 31);
}

int rb_runtime_init(struct rb_runtime *rt, const struct rb_runtime_opts *o)
{
	struct rb_loop_opts lo = { .quiet = true };
	struct rb_io_opts io = { .threads = o->threads };
	struct rb_cap_opts co = { .permits = o->permits };
	struct rb_fs_opts fo = { .max_file_bytes = o->max_file_bytes, .cache_bytes = 64u << 20 };
	const char *env = getenv("RINGBANK_IO");
	enum rb_io_choice choice = o->io;
	int r;

	memset(rt, 0, sizeof(*rt));
	/* RINGBANK_IO lets tests and wrappers pick a backend without flags. */
	if (choice == RB_IO_CHOICE_AUTO && env && *env) {
		if (!strcmp(env, "uring"))
			choice = RB_IO_CHOICE_URING;
		else if (!strcmp(env, "threads"))
			choice = RB_IO_CHOICE_THREADS;
	}
	lo.engine = choice == RB_IO_CHOICE_URING ? RB_ENGINE_RING : RB_ENGINE_AUTO;
	r = rb_loop_new(&rt->loop, &lo);
	if (r < 0) {
		if (choice == RB_IO_CHOICE_URING)
			fprintf(stderr, "ringbank: --io=uring: io_uring is not available here: %s%s\n"
				"ringbank: (blocked by a seccomp profile or kernel.io_uring_disabled, or an old kernel);"
				" use --io=auto or --io=threads\n", strerror(-r),
				r == -EPERM ? " (operation not permitted)" : "");
		else
			fprintf(stderr, "ringbank: cannot create the event loop: %s\n", strerror(-r));
		return r;
	}
	/* Always said, quiet or not: the user must know the ring is not in use. */
	if (rb_loop_fallback_reason(rt->loop))
		fprintf(stderr, "ringbank: io_uring unavailable (%s); using the thread pool (--io=threads)\n",
			rb_loop_fallback_reason(rt->loop));
	io.kind = (choice == RB_IO_CHOICE_THREADS || !rb_loop_ring(rt->loop)) ? RB_IO_BACKEND_THREADS
									      : RB_IO_BACKEND_URING;
	r = rb_io_new(&rt->io, rt->loop, &io);
	if (r < 0) {
		fprintf(stderr, "ringbank: cannot start the %s io backend: %s\n",
			io.kind == RB_IO_BACKEND_URING ? "uring" : "threads", strerror(-r));
		goto err_loop;
	}
	{
		/* Each permit may hold a real fd (walks, the thread pool, the
		 * step-by-step read): never allow more ops in flight than the fd
		 * limit leaves room for, or a bulk job would fail with EMFILE. */
		struct rlimit rl;
		unsigned want = co.permits ? co.permits : 128;
		if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = rl.rlim_max = RLIM_INFINITY;
		if (rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
			/* Take what the hard limit allows (systemd's soft default is 1024). */
			rlim_t old = rl.rlim_cur;
			rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				rl.rlim_cur = old;
		}
		if (rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur < (rlim_t)want + 48) {
			unsigned lim = rl.rlim_cur > 56 ? (unsigned)rl.rlim_cur - 48 : 8;
			rb_log(RB_LOG_WARNING, "fd limit %llu: ops in flight capped at %u (raise ulimit -n for more)",
			       (unsigned long long)rl.rlim_cur, lim);
			co.permits = lim;
		}
	}
	rb_cap_init(&rt->cap, rt->loop, &co);
	r = rb_fs_new(&rt->fs, rt->io, &rt->cap, &fo);
	if (r < 0) {
		fprintf(stderr, "ringbank: cannot set up the file layer: %s\n", strerror(-r));
		goto err_io;
	}
	if (!o->quiet)
		rb_log(RB_LOG_INFO, "io: %s on %s", rb_io_name(rt->io), rb_loop_describe(rt->loop));
	return 0;
err_io:
	rb_io_shutdown(rt->io);
	rb_loop_stop(rt->loop);
	rb_loop_run(rt->loop);
	rb_io_free(rt->io);
err_loop:
	rb_loop_free(rt->loop);
	rt->loop = NULL;
	return r;
}

void rb_runtime_deinit(struct rb_runtime *rt)
{
	if (!rt->loop)
		return;
	rb_io_shutdown(rt->io);
	rb_loop_stop(rt->loop);
	rb_loop_run(rt->loop);
	rb_fs_free(rt->fs);
	rb_cap_deinit(&rt->cap);
	rb_io_free(rt->io);
	rb_loop_free(rt->loop);
	rt->loop = NULL;
}
