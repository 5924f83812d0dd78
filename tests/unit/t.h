/* t.h: the unit tests' helpers, liburing-style: one program per behaviour,
 * exit 0 pass, 1 fail, 77 skip (meson reads 77 as skipped). ASSERT macros
 * print both values and the line. Helpers for temp dirs, fd counts and
 * running a test body once per io backend. */
#ifndef RB_TEST_T_H
#define RB_TEST_T_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringbank/cap.h"
#include "ringbank/io.h"
#include "ringbank/loop.h"

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

#define T_FAIL(...) do { fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(T_EXIT_FAIL); } while (0)
#define ASSERT(c) do { if (!(c)) T_FAIL("assertion failed: %s", #c); } while (0)
#define ASSERT_EQ(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) T_FAIL("%s == %s: %lld != %lld", #a, #b, _a, _b); } while (0)
#define ASSERT_NE(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (_a == _b) T_FAIL("%s != %s: both %lld", #a, #b, _a); } while (0)
#define ASSERT_GE(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (!(_a >= _b)) T_FAIL("%s >= %s: %lld < %lld", #a, #b, _a, _b); } while (0)
#define ASSERT_LE(a, b) do { long long _a = (long long)(a), _b = (long long)(b); \
	if (!(_a <= _b)) T_FAIL("%s <= %s: %lld > %lld", #a, #b, _a, _b); } while (0)
#define ASSERT_STREQ(a, b) do { const char *_a = (a), *_b = (b); \
	if (!_a || !_b || strcmp(_a, _b)) T_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); } while (0)

static inline void t_skip(const char *why)
{
	fprintf(stderr, "SKIP: %s\n", why);
	exit(T_EXIT_SKIP);
}

/* Number of open fds of this process. */
static inline int t_fd_count(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

/* A fresh temp directory (removed by t_rmtree). */
static inline char *t_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;
	if (!base || !*base)
		base = "/tmp";
	if (asprintf(&p, "%s/rbtest.XXXXXX", base) < 0 || !mkdtemp(p))
		T_FAIL("mkdtemp: %s", strerror(errno));
	return p;
}

static inline int t_rm_cb(const char *p, const struct stat *sb, int tf, struct FTW *f)
{
	(void)sb; (void)tf; (void)f;
	chmod(p, 0700);
	return remove(p);
}
static inline void t_rmtree(char *p)
{
	if (p) {
		chmod(p, 0700);
		nftw(p, t_rm_cb, 64, FTW_DEPTH | FTW_PHYS);
		free(p);
	}
}

static inline void t_write_file(const char *dir, const char *rel, const char *data, size_t len)
{
	char path[4096];
	int fd;
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		T_FAIL("open %s: %s", path, strerror(errno));
	if (len && write(fd, data, len) != (ssize_t)len)
		T_FAIL("write %s: %s", path, strerror(errno));
	close(fd);
}

/* Which backends to run: both unless RB_TEST_IO=uring|threads. The uring
 * backend is skipped (not failed) when io_uring is blocked on this machine. */
static inline bool t_want_backend(enum rb_io_kind k)
{
	const char *e = getenv("RB_TEST_IO");
	if (!e || !*e)
		return true;
	return !strcmp(e, k == RB_IO_BACKEND_URING ? "uring" : "threads");
}

/* Creates loop + io for kind; returns false if that backend cannot run here. */
static inline bool t_setup(enum rb_io_kind k, struct rb_loop **loop, struct rb_io **io)
{
	struct rb_loop_opts lo = { .engine = k == RB_IO_BACKEND_URING ? RB_ENGINE_RING : RB_ENGINE_AUTO,
				   .quiet = true };
	struct rb_io_opts io_o = { .kind = k };
	int r = rb_loop_new(loop, &lo);
	if (r < 0) {
		if (k == RB_IO_BACKEND_URING) {
			fprintf(stderr, "note: io_uring unavailable here (%s): uring backend skipped\n", strerror(-r));
			return false;
		}
		T_FAIL("rb_loop_new: %s", strerror(-r));
	}
	r = rb_io_new(io, *loop, &io_o);
	if (r < 0)
		T_FAIL("rb_io_new(%d): %s", (int)k, strerror(-r));
	return true;
}

/* Drains and frees loop + io (so valgrind and LSan see every leak). */
static inline void t_teardown(struct rb_loop *loop, struct rb_io *io)
{
	rb_io_shutdown(io);
	rb_loop_stop(loop);
	ASSERT_EQ(rb_loop_run(loop), 0);
	rb_io_free(io);
	rb_loop_free(loop);
}

/* Runs the loop until *flag becomes true (the callback sets it). */
static inline void t_run_until(struct rb_loop *loop, volatile bool *flag)
{
	uint64_t end = rb_now_ns() + 60ull * 1000000000ull;
	while (!*flag) {
		int r = rb_loop_run_once(loop, true, 100);
		if (r < 0)
			T_FAIL("rb_loop_run_once: %s", strerror(-r));
		if (rb_now_ns() > end)
			T_FAIL("timed out waiting for a completion");
	}
}

#define FOR_BOTH_BACKENDS(kind) \
	for (enum rb_io_kind kind = RB_IO_BACKEND_URING; kind <= RB_IO_BACKEND_THREADS; kind++) \
		if (t_want_backend(kind))

#endif
