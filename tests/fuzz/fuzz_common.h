/* fuzz_common.h: what the libFuzzer harnesses share: one runtime (loop + io
 * backend + cap + fs) created once per process over a temp root holding a
 * small memory bank, a reset of that root between inputs (tools write,
 * move and create), and a bounded loop runner.
 *
 * The backend is uring unless RB_FUZZ_IO=threads. The temp root lives under
 * $TMPDIR (or /tmp) and is removed at exit. */
#ifndef RB_FUZZ_COMMON_H
#define RB_FUZZ_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringbank/cli.h"
#include "ringbank/fs.h"
#include "ringbank/loop.h"

static struct rb_runtime fz_rt;
static char fz_root[256];
static char fz_outside[300];

#define FZ_CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: invariant failed: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

static const struct { const char *rel, *data; } fz_files[] = {
	{ "projectbrief.md", "# Brief\n\nThe project.\n" },
	{ "activeContext.md", "# Active\n\n## Now\n\nSee [brief](projectbrief.md#brief).\n" },
	{ "notes/a.md", "# A\n\nalpha\nbeta\ngamma\n" },
	{ "notes/b.txt", "one\r\ntwo\r\n" },
	{ "notes/deep/c.md", "# C\n\n### skipped\n\n```\nunclosed\n" },
	{ "proj/x.md", "# X\n\n[missing](nope.md)\n" },
	{ "proj/y.md", "---\ntitle: y\n---\n# Y\n" },
	{ "empty.md", "" },
	{ "bad.md", "\xff\xfe not utf8\n" },
};

static inline int fz_rm_cb(const char *p, const struct stat *sb, int tf, struct FTW *f)
{
	(void)sb; (void)tf;
	if (f->level == 0)
		return 0; /* keep the root itself: the fs holds its fd */
	chmod(p, 0700);
	return remove(p);
}

static inline void fz_put(const char *rel, const char *data)
{
	char p[512];
	int fd;
	snprintf(p, sizeof p, "%s/%s", fz_root, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FZ_CHECK(fd >= 0);
	FZ_CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
	close(fd);
}

/* Puts the root back to the base tree (and the full, un-narrowed roots). */
static inline void fz_reset(void)
{
	char p[512];
	size_t i;
	nftw(fz_root, fz_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
	snprintf(p, sizeof p, "%s/notes", fz_root); mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/notes/deep", fz_root); mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/proj", fz_root); mkdir(p, 0755);
	for (i = 0; i < sizeof(fz_files) / sizeof(fz_files[0]); i++)
		fz_put(fz_files[i].rel, fz_files[i].data);
	snprintf(p, sizeof p, "%s/escape", fz_root); FZ_CHECK(symlink(fz_outside, p) == 0);
	snprintf(p, sizeof p, "%s/link-a.md", fz_root); FZ_CHECK(symlink("notes/a.md", p) == 0);
	rb_fs_set_allowed(fz_rt.fs, NULL, 0);
}

static inline void fz_atexit(void)
{
	if (fz_rt.loop)
		rb_runtime_deinit(&fz_rt);
	if (fz_root[0]) {
		nftw(fz_root, fz_rm_cb, 32, FTW_DEPTH | FTW_PHYS);
		rmdir(fz_root);
	}
	if (fz_outside[0]) {
		char p[400];
		snprintf(p, sizeof p, "%s/secret", fz_outside);
		unlink(p);
		rmdir(fz_outside);
	}
}

/* Creates the runtime and the root once. */
static inline void fz_init(void)
{
	struct rb_runtime_opts o = { .io = RB_IO_CHOICE_URING, .quiet = true };
	const char *e = getenv("RB_FUZZ_IO"), *tmp = getenv("TMPDIR");
	char p[400];
	int fd;

	if (fz_rt.loop)
		return;
	if (e && !strcmp(e, "threads"))
		o.io = RB_IO_CHOICE_THREADS;
	if (!tmp || !*tmp)
		tmp = "/tmp";
	snprintf(fz_root, sizeof fz_root, "%s/rbfuzz.XXXXXX", tmp);
	FZ_CHECK(mkdtemp(fz_root));
	snprintf(fz_outside, sizeof fz_outside, "%s.outside", fz_root);
	FZ_CHECK(mkdir(fz_outside, 0755) == 0);
	snprintf(p, sizeof p, "%s/secret", fz_outside);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FZ_CHECK(fd >= 0 && write(fd, "OUTSIDE", 7) == 7);
	close(fd);
	rb_log_set_level((enum rb_log_level)(RB_LOG_ERROR + 1)); /* the harnesses' tool errors are expected */
	FZ_CHECK(rb_runtime_init(&fz_rt, &o) == 0);
	FZ_CHECK(rb_fs_add_root(fz_rt.fs, fz_root) == 0);
	atexit(fz_atexit);
	fz_reset();
}

/* Nothing may ever be written outside the root. */
static inline void fz_check_outside(void)
{
	char p[400], b[16];
	int fd;
	ssize_t n;
	snprintf(p, sizeof p, "%s/secret", fz_outside);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	FZ_CHECK(fd >= 0);
	n = read(fd, b, sizeof b);
	close(fd);
	FZ_CHECK(n == 7 && !memcmp(b, "OUTSIDE", 7));
}

/* One loop turn: blocks (at most 5 ms) only when the previous turn ran
 * nothing, so a callback that finishes the wait is not followed by a
 * useless sleep. */
static inline void fz_turn(void)
{
	static int last = 1;
	int r = rb_loop_run_once(fz_rt.loop, last == 0, 5);
	FZ_CHECK(r >= 0);
	last = r;
}

/* Runs loop turns until *done or the budget (ms) is spent. */
static inline bool fz_run_until(volatile bool *done, unsigned budget_ms)
{
	uint64_t end = rb_now_ns() + (uint64_t)budget_ms * 1000000ull;
	while (!*done) {
		fz_turn();
		if (rb_now_ns() > end)
			return false;
	}
	return true;
}

/* Runs loop turns until no fs op is in flight and every permit is back
 * (a lock release, say, may still be unlinking after its call finished). */
static inline void fz_settle(void)
{
	uint64_t end = rb_now_ns() + 5000ull * 1000000ull;
	struct rb_fs_stats st;
	for (;;) {
		rb_fs_get_stats(fz_rt.fs, &st);
		if (!st.ops_inflight && rb_cap_idle(&fz_rt.cap))
			return;
		FZ_CHECK(rb_now_ns() < end);
		fz_turn();
	}
}

#endif
