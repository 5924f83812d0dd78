/* io_t.h: helpers shared by the io tests. A test context (loop + io + a
 * fresh temp dir with an open dirfd + the fd baseline), synchronous wrappers
 * that submit one request and run the loop until its callback ran (checking
 * it ran exactly once and never from inside rb_io_submit), and a per-backend
 * log of results so a test can assert that both backends agree. */
#ifndef RB_TEST_IO_T_H
#define RB_TEST_IO_T_H

#include <linux/openat2.h>

#include "../t.h"

/* The configurations every io test runs in: the uring backend (ring
 * engine), the same without direct descriptors (READFILE step by step, the
 * fallback for kernels that refuse direct opens), the threads backend on the
 * ring engine, and the threads backend on the epoll engine (the fallback
 * where io_uring is blocked). RB_TEST_IO (uring|threads) narrows them like
 * FOR_BOTH_BACKENDS. */
enum t_cfg { T_URING, T_URING_NODIRECT, T_THREADS, T_THREADS_EPOLL, T_NCFG };
static const char *const t_cfg_name[T_NCFG] = { "uring", "uring (no direct descriptors)", "threads",
						"threads (epoll engine)" };

static inline enum rb_io_kind t_cfg_kind(int cfg)
{
	return cfg <= T_URING_NODIRECT ? RB_IO_BACKEND_URING : RB_IO_BACKEND_THREADS;
}

#define FOR_EACH_CONFIG(cfg) \
	for (int cfg = 0; cfg < T_NCFG; cfg++) \
		if (t_want_backend(t_cfg_kind(cfg)))

struct t_ctx {
	int cfg;
	enum rb_io_kind kind;
	struct rb_loop *loop;
	struct rb_io *io;
	char *dir; /* temp dir (absolute) */
	int dfd;   /* open on dir */
	int fd_base;
};

/* Results of every t_do, per configuration, normalised (an fd becomes 0). */
#define T_LOG_MAX 8192
static int64_t t_log[T_NCFG][T_LOG_MAX];
static int t_nlog[T_NCFG];

static inline void t_log_add(int cfg, int64_t v)
{
	if (t_nlog[cfg] < T_LOG_MAX)
		t_log[cfg][t_nlog[cfg]++] = v;
}

/* Fails unless every configuration that ran produced the same sequence of
 * results as the first one that ran. */
static inline void t_log_compare(void)
{
	int ref = -1, k, i;
	for (k = 0; k < T_NCFG; k++) {
		if (!t_nlog[k])
			continue;
		if (ref < 0) {
			ref = k;
			continue;
		}
		ASSERT_EQ(t_nlog[k], t_nlog[ref]);
		for (i = 0; i < t_nlog[ref]; i++)
			if (t_log[ref][i] != t_log[k][i])
				T_FAIL("result %d differs: %s %lld, %s %lld", i, t_cfg_name[ref],
				       (long long)t_log[ref][i], t_cfg_name[k], (long long)t_log[k][i]);
	}
}

/* Creates loop + io for a configuration (threads: opts->threads = nthreads,
 * 0 = default); false if it cannot run here. */
static inline bool t_setup_cfg(int cfg, unsigned nthreads, struct rb_loop **loop, struct rb_io **io)
{
	struct rb_loop_opts lo = { .engine = RB_ENGINE_AUTO, .quiet = true };
	struct rb_io_opts io_o = { .kind = t_cfg_kind(cfg), .threads = nthreads,
				   .no_direct = cfg == T_URING_NODIRECT };
	int r;
	if (cfg == T_URING || cfg == T_URING_NODIRECT)
		lo.engine = RB_ENGINE_RING;
	else if (cfg == T_THREADS_EPOLL)
		lo.engine = RB_ENGINE_EPOLL;
	r = rb_loop_new(loop, &lo);
	if (r < 0 && lo.engine == RB_ENGINE_RING) {
		fprintf(stderr, "note: io_uring unavailable here (%s): %s skipped\n", strerror(-r), t_cfg_name[cfg]);
		return false;
	}
	if (r < 0)
		T_FAIL("rb_loop_new: %s", strerror(-r));
	r = rb_io_new(io, *loop, &io_o);
	if (r < 0)
		T_FAIL("rb_io_new(%s): %s", t_cfg_name[cfg], strerror(-r));
	return true;
}

/* Sets up a configuration and a temp dir; false if it cannot run here. */
static inline bool t_begin(struct t_ctx *c, int cfg)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->kind = t_cfg_kind(cfg);
	umask(022); /* the tests assert modes */
	c->fd_base = t_fd_count();
	if (!t_setup_cfg(cfg, 0, &c->loop, &c->io))
		return false;
	ASSERT_EQ(rb_io_kind(c->io), c->kind);
	if (cfg == T_THREADS_EPOLL)
		ASSERT_EQ(rb_loop_engine(c->loop), RB_ENGINE_EPOLL);
	c->dir = t_tmpdir();
	c->dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(c->dfd, 0);
	fprintf(stderr, "-- %s\n", t_cfg_name[cfg]);
	return true;
}

/* Drains and frees everything; the process must be back to its fd count. */
static inline void t_end(struct t_ctx *c)
{
	struct rb_io_stats st;
	rb_io_get_stats(c->io, &st);
	ASSERT_EQ(st.inflight, 0);
	close(c->dfd);
	t_teardown(c->loop, c->io);
	t_rmtree(c->dir);
	ASSERT_EQ(t_fd_count(), c->fd_base);
}

struct t_wait {
	int calls;
	bool done;
};

static inline void t_wait_cb(struct rb_io_req *req)
{
	struct t_wait *w = req->data;
	w->calls++;
	w->done = true;
}

/* Submits req (inputs filled; cb and data are set here) and runs the loop
 * until it completes. Returns req->res and logs it for the cross-backend
 * comparison. */
static inline int64_t t_do(struct t_ctx *c, struct rb_io_req *req)
{
	struct t_wait w = { 0 };
	int i, r;
	req->cb = t_wait_cb;
	req->data = &w;
	r = rb_io_submit(c->io, req);
	if (r < 0)
		T_FAIL("rb_io_submit(op %d): %s", (int)req->op, strerror(-r));
	ASSERT_EQ(w.calls, 0); /* never completed from inside submit */
	t_run_until(c->loop, &w.done);
	/* A few more turns: the callback must not run again. */
	for (i = 0; i < 3; i++)
		rb_loop_run_once(c->loop, false, 0);
	ASSERT_EQ(w.calls, 1);
	t_log_add(c->cfg, (req->op == RB_IO_OPENAT2 && req->res >= 0) ? 0 : req->res);
	return req->res;
}

static inline int64_t t_openat2(struct t_ctx *c, int dfd, const char *path, int flags, unsigned mode,
				uint64_t resolve)
{
	struct rb_io_req r;
	rb_io_prep(&r, RB_IO_OPENAT2, NULL, NULL);
	r.fd = dfd;
	r.path = path;
	r.flags = flags | O_CLOEXEC;
	r.mode = mode;
	r.resolve = resolve;
	return t_do(c, &r);
}

static inline int64_t t_close(struct t_ctx *c, int fd)
{
	struct rb_io_req r;
	rb_io_prep(&r, RB_IO_CLOSE, NULL, NULL);
	r.fd = fd;
	return t_do(c, &r);
}

static inline int64_t t_rw(struct t_ctx *c, enum rb_io_op op, int fd, void *buf, size_t len, int64_t off)
{
	struct rb_io_req r;
	rb_io_prep(&r, op, NULL, NULL);
	r.fd = fd;
	r.buf = buf;
	r.len = len;
	r.off = off;
	return t_do(c, &r);
}

static inline int64_t t_statx(struct t_ctx *c, int dfd, const char *path, int flags, unsigned mask,
			      struct statx *stx)
{
	struct rb_io_req r;
	rb_io_prep(&r, RB_IO_STATX, NULL, NULL);
	r.fd = dfd;
	r.path = path;
	r.flags = flags;
	r.mode = mask;
	r.stx = stx;
	return t_do(c, &r);
}

static inline int64_t t_readfile(struct t_ctx *c, int dfd, const char *path, uint64_t resolve, void *buf,
				 size_t len)
{
	struct rb_io_req r;
	rb_io_prep(&r, RB_IO_READFILE, NULL, NULL);
	r.fd = dfd;
	r.path = path;
	r.resolve = resolve;
	r.buf = buf;
	r.len = len;
	return t_do(c, &r);
}

/* Threads of this process: user threads (everything but the kernel's io_uring
 * workers) and io-wq workers ("iou-wrk-*", "iou-sqp-*"). */
static inline void t_thread_count(int *user, int *iou)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	*user = *iou = 0;
	ASSERT(d != NULL);
	while ((e = readdir(d))) {
		char p[300], comm[64] = "";
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
		f = fopen(p, "re");
		if (!f)
			continue; /* exited meanwhile */
		if (!fgets(comm, sizeof comm, f))
			comm[0] = 0;
		fclose(f);
		if (!strncmp(comm, "iou-wrk", 7) || !strncmp(comm, "iou-sqp", 7))
			(*iou)++;
		else
			(*user)++;
	}
	closedir(d);
}

#endif
