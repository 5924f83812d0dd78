/* Description: rb_fs_read_range on both backends. Ranges of a 5 MiB file
 * read back byte for byte (at 0, inside, across the end, FROM_END, from the
 * end further back than the file), the offset and statx handed back, ranges
 * at and past the end of the file and len 0 (nothing read, success), an
 * empty file, len over max_file_bytes (refused at the start), a file
 * truncated between the statx and the read (held there deterministically:
 * the test owns every bulk byte of the cap, so the op waits for its range's
 * bytes with the file open and statx'ed; the read then gives what is still
 * there), non-regular files (a directory, a fifo without a writer, a fifo
 * with a writer and data, whose data must still be there afterwards: the
 * guard refuses before any read; a socket; /dev/zero and /dev/null made
 * inside the root where mknod is allowed) -> -RB_E_NOT_REGULAR, symlinks
 * (inside: followed; RB_FS_NOFOLLOW: -ELOOP; out of the root, absolute and
 * by "..": -RB_E_OUTSIDE), a missing file, and cancel: while waiting for the
 * first permit, while waiting for the range's bytes with the file open, and
 * at every turn of a read in flight. Every path returns its permits and
 * leaves no fd open.
 * Also the whole-file read's FIFO guard (src/fs/read.c), which ranged reads
 * do not need: two reads of a fifo whose writer stays silent, started a
 * loop turn of ~0.7 s apart, are both cut (-RB_E_NOT_REGULAR) while a
 * regular file read alongside them succeeds; a guarded read cancelled before
 * its deadline ends -ECANCELED and leaves no timer behind (ASan would see
 * the fs freed under an armed timer); on uring, the same cut on the
 * step-by-step READFILE used without direct descriptors. */
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include "fs_t.h"

#define BIG (5u << 20)

static char *big;

struct rwait {
	volatile bool done;
	int calls;
	int res;
	char *data;
	size_t len;
	uint64_t off;
	struct statx stx;
};

static void range_cb(void *ctx, int res, struct rb_fs_range *r)
{
	struct rwait *w = ctx;
	w->calls++;
	w->res = res;
	if (res >= 0) {
		ASSERT(r != NULL);
		ASSERT(r->data != NULL);
		ASSERT_EQ(r->data[r->len], '\0');
		w->data = r->data; /* take it */
		r->data = NULL;
		w->len = r->len;
		w->off = r->off;
		w->stx = r->stx;
	} else {
		ASSERT(r == NULL);
	}
	w->done = true;
}

static int t_range(struct env *e, const char *client, uint64_t off, size_t len, unsigned flags, struct rwait *w)
{
	struct rb_path p;
	int r;
	memset(w, 0, sizeof(*w));
	r = rb_fs_resolve(e->fs, client, &p);
	if (r < 0)
		return r;
	r = rb_fs_read_range(e->fs, &p, off, len, flags, RB_CAP_INTERACTIVE, range_cb, w, NULL);
	if (r < 0)
		return r;
	ASSERT(!w->done); /* never called back from inside the start */
	t_run_until(e->loop, &w->done);
	ASSERT_EQ(w->calls, 1);
	return w->res;
}

/* Reads [off, off+len) (flags) and checks it is big[want_off, want_off + want_len). */
static void expect_range(struct env *e, uint64_t off, size_t len, unsigned flags, uint64_t want_off, size_t want_len)
{
	struct rwait w;
	ASSERT_EQ(t_range(e, "big.bin", off, len, flags, &w), 0);
	ASSERT_EQ(w.off, want_off);
	ASSERT_EQ(w.len, want_len);
	ASSERT_EQ(w.stx.stx_size, BIG);
	ASSERT(S_ISREG(w.stx.stx_mode));
	ASSERT(w.len == 0 || memcmp(w.data, big + want_off, want_len) == 0);
	free(w.data);
}

static void test_ranges(struct env *e)
{
	struct rwait w;
	struct rb_path p;

	t_write_file(e->dir, "big.bin", big, BIG);
	expect_range(e, 0, 100, 0, 0, 100);
	expect_range(e, 0, BIG, 0, 0, BIG);		/* the whole file */
	expect_range(e, 12345, 65536, 0, 12345, 65536); /* unaligned, inside */
	expect_range(e, 65535, 3u << 20, 0, 65535, 3u << 20);
	expect_range(e, BIG - 10, 100, 0, BIG - 10, 10); /* across the end: what is there */
	expect_range(e, BIG, 10, 0, BIG, 0);		/* at the end: nothing, success */
	expect_range(e, (uint64_t)BIG + 4096, 10, 0, (uint64_t)BIG + 4096, 0); /* past it */
	expect_range(e, UINT64_MAX - 5, 10, 0, UINT64_MAX - 5, 0);
	expect_range(e, 100, 0, 0, 100, 0);		/* len 0 */
	/* From the end. */
	expect_range(e, 100, 100, RB_FS_RANGE_FROM_END, BIG - 100, 100);
	expect_range(e, 100, 40, RB_FS_RANGE_FROM_END, BIG - 100, 40);
	expect_range(e, 65536, 65536, RB_FS_RANGE_FROM_END, BIG - 65536, 65536);
	expect_range(e, (uint64_t)BIG + 7, 50, RB_FS_RANGE_FROM_END, 0, 50); /* further back than the file */
	expect_range(e, 0, 10, RB_FS_RANGE_FROM_END, BIG, 0);
	/* An empty file. */
	t_write_file(e->dir, "empty", "", 0);
	ASSERT_EQ(t_range(e, "empty", 0, 100, 0, &w), 0);
	ASSERT_EQ(w.len, 0);
	ASSERT_EQ(w.stx.stx_size, 0);
	ASSERT_EQ(w.data[0], '\0');
	free(w.data);
	ASSERT_EQ(t_range(e, "empty", 10, 100, RB_FS_RANGE_FROM_END, &w), 0);
	ASSERT_EQ(w.len, 0);
	ASSERT_EQ(w.off, 0);
	free(w.data);
	/* A range over max_file_bytes is refused before anything starts. */
	p = env_resolve(e, "big.bin");
	memset(&w, 0, sizeof(w));
	ASSERT_EQ(rb_fs_read_range(e->fs, &p, 0, rb_fs_max_file_bytes(e->fs) + 1, 0, RB_CAP_INTERACTIVE, range_cb, &w,
				   NULL),
		  -RB_E_TOO_LARGE);
	rb_loop_run_once(e->loop, false, 0);
	ASSERT_EQ(w.calls, 0);
}

static void test_errors(struct env *e)
{
	struct rwait w;
	char path[PATH_MAX], outside[PATH_MAX];

	ASSERT_EQ(t_range(e, "missing", 0, 10, 0, &w), -ENOENT);
	ASSERT_EQ(t_range(e, "nodir/x", 0, 10, 0, &w), -ENOENT);
	/* A directory. */
	env_path(e, "sub", path, sizeof(path));
	ASSERT_EQ(mkdir(path, 0755), 0);
	ASSERT_EQ(t_range(e, "sub", 0, 10, 0, &w), -RB_E_NOT_REGULAR);
	ASSERT_EQ(t_range(e, ".", 0, 10, RB_FS_RANGE_FROM_END, &w), -RB_E_NOT_REGULAR);
	/* A fifo without a writer: refused, and the open did not block. */
	env_path(e, "fifo", path, sizeof(path));
	ASSERT_EQ(mkfifo(path, 0644), 0);
	ASSERT_EQ(t_range(e, "fifo", 0, 10, 0, &w), -RB_E_NOT_REGULAR);
	{
		/* A fifo with a writer and data waiting: refused before any
		 * read, so the data is still there for its real reader. */
		char got[16] = "";
		int rfd = open(path, O_RDONLY | O_NONBLOCK), wfd = open(path, O_WRONLY | O_NONBLOCK);
		ASSERT_GE(rfd, 0);
		ASSERT_GE(wfd, 0);
		ASSERT_EQ(write(wfd, "hello", 5), 5);
		ASSERT_EQ(t_range(e, "fifo", 0, 10, 0, &w), -RB_E_NOT_REGULAR);
		ASSERT_EQ(t_range(e, "fifo", 5, 10, RB_FS_RANGE_FROM_END, &w), -RB_E_NOT_REGULAR);
		ASSERT_EQ(read(rfd, got, sizeof(got)), 5);
		ASSERT_EQ(memcmp(got, "hello", 5), 0);
		close(wfd);
		close(rfd);
	}
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		ASSERT_GE(s, 0);
		env_path(e, "sock", sa.sun_path, sizeof(sa.sun_path));
		ASSERT_EQ(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ASSERT_EQ(t_range(e, "sock", 0, 10, 0, &w), -RB_E_NOT_REGULAR);
		close(s);
	}
	/* Device nodes inside the root (root only; a nodev mount refuses the
	 * open with -EACCES): one that never ends, one that reads 0 bytes. */
	env_path(e, "zero", path, sizeof(path));
	if (mknod(path, S_IFCHR | 0666, makedev(1, 5)) == 0) {
		int r = t_range(e, "zero", 0, 1u << 20, 0, &w);
		if (r == -EACCES) {
			fprintf(stderr, "note: device nodes refused on this mount: device check skipped\n");
		} else {
			ASSERT_EQ(r, -RB_E_NOT_REGULAR);
			env_path(e, "null", path, sizeof(path));
			ASSERT_EQ(mknod(path, S_IFCHR | 0666, makedev(1, 3)), 0);
			ASSERT_EQ(t_range(e, "null", 0, 10, RB_FS_RANGE_FROM_END, &w), -RB_E_NOT_REGULAR);
		}
	} else {
		fprintf(stderr, "note: mknod: %s: device check skipped\n", strerror(errno));
	}
	/* Symlinks: inside (followed), NOFOLLOW, out of the root. */
	t_write_file(e->dir, "target.md", "target text", 11);
	env_path(e, "link.md", path, sizeof(path));
	ASSERT_EQ(symlink("target.md", path), 0);
	ASSERT_EQ(t_range(e, "link.md", 7, 100, 0, &w), 0);
	ASSERT_EQ(w.len, 4);
	ASSERT_STREQ(w.data, "text");
	free(w.data);
	ASSERT_EQ(t_range(e, "link.md", 0, 100, RB_FS_NOFOLLOW, &w), -ELOOP);
	/* A file next to the root, reached by an absolute link and by "..". */
	snprintf(outside, sizeof(outside), "%s.outside", e->dir);
	{
		int fd = open(outside, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(write(fd, "secret", 6), 6);
		close(fd);
	}
	env_path(e, "abs-out", path, sizeof(path));
	ASSERT_EQ(symlink(outside, path), 0);
	ASSERT_EQ(t_range(e, "abs-out", 0, 10, 0, &w), -RB_E_OUTSIDE);
	ASSERT_EQ(t_range(e, "abs-out", 3, 10, RB_FS_RANGE_FROM_END, &w), -RB_E_OUTSIDE);
	env_path(e, "rel-out", path, sizeof(path));
	{
		const char *base = strrchr(outside, '/') + 1;
		char target[PATH_MAX];
		snprintf(target, sizeof(target), "../%s", base);
		ASSERT_EQ(symlink(target, path), 0);
	}
	ASSERT_EQ(t_range(e, "rel-out", 0, 10, 0, &w), -RB_E_OUTSIDE);
	env_path(e, "etc-link", path, sizeof(path));
	ASSERT_EQ(symlink("/etc/passwd", path), 0);
	ASSERT_EQ(t_range(e, "etc-link", 0, 10, 0, &w), -RB_E_OUTSIDE);
	ASSERT_EQ(unlink(outside), 0);
}

/* Takes every bulk byte of the cap (so a bulk range waits for its bytes
 * after its statx, with the file open); returns how many were taken. */
static size_t hog_bulk_bytes(struct env *e)
{
	size_t n = e->cap.o.bytes - e->cap.o.bytes_headroom;
	ASSERT(rb_cap_try(&e->cap, RB_CAP_BULK, 0, n));
	return n;
}

/* Runs the loop until a bulk request waits in the cap. */
static void run_until_bulk_waits(struct env *e)
{
	struct rb_cap_stats st;
	uint64_t end = rb_now_ns() + 30ull * 1000000000ull;
	for (;;) {
		rb_cap_stats(&e->cap, &st);
		if (st.waiting[RB_CAP_BULK])
			return;
		ASSERT(rb_loop_run_once(e->loop, true, 10) >= 0);
		if (rb_now_ns() > end)
			T_FAIL("the range never waited for its bytes");
	}
}

static void test_shrink(struct env *e)
{
	static const size_t cut[] = { 10000, 0, 70000 };
	char path[PATH_MAX];
	size_t i;

	env_path(e, "shrink.bin", path, sizeof(path));
	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		struct rwait w = { 0 };
		struct rb_path p;
		size_t hog;
		int fds;

		t_write_file(e->dir, "shrink.bin", big, 100000);
		p = env_resolve(e, "shrink.bin");
		hog = hog_bulk_bytes(e);
		fds = t_fd_count();
		/* [5000, 5000 + 80000) of a 100000-byte file, truncated to cut[i]
		 * after the statx and before the read. */
		ASSERT_EQ(rb_fs_read_range(e->fs, &p, 5000, 80000, 0, RB_CAP_BULK, range_cb, &w, NULL), 0);
		run_until_bulk_waits(e);
		ASSERT(!w.done);
		ASSERT_EQ(t_fd_count(), fds + 1); /* the op's fd, open while it waits */
		ASSERT_EQ(truncate(path, (off_t)cut[i]), 0);
		rb_cap_release(&e->cap, RB_CAP_BULK, 0, hog);
		t_run_until(e->loop, &w.done);
		ASSERT_EQ(w.res, 0);
		ASSERT_EQ(w.off, 5000);
		ASSERT_EQ(w.stx.stx_size, 100000); /* the statx saw the old size */
		ASSERT_EQ(w.len, cut[i] > 5000 ? (cut[i] - 5000 < 80000 ? cut[i] - 5000 : 80000) : 0);
		ASSERT(memcmp(w.data, big + 5000, w.len) == 0);
		free(w.data);
		ASSERT_EQ(t_fd_count(), fds);
	}
	/* Growing after the statx: the range stays within the size it saw. */
	{
		struct rwait w = { 0 };
		struct rb_path p;
		size_t hog;
		int fd;

		t_write_file(e->dir, "grow.bin", big, 1000);
		p = env_resolve(e, "grow.bin");
		hog = hog_bulk_bytes(e);
		ASSERT_EQ(rb_fs_read_range(e->fs, &p, 500, 1u << 20, RB_FS_RANGE_FROM_END, RB_CAP_BULK, range_cb, &w,
					   NULL),
			  0);
		run_until_bulk_waits(e);
		env_path(e, "grow.bin", path, sizeof(path));
		fd = open(path, O_WRONLY | O_APPEND);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(write(fd, big + 1000, 5000), 5000);
		close(fd);
		rb_cap_release(&e->cap, RB_CAP_BULK, 0, hog);
		t_run_until(e->loop, &w.done);
		ASSERT_EQ(w.res, 0);
		ASSERT_EQ(w.off, 500);
		ASSERT_EQ(w.len, 500);
		ASSERT(memcmp(w.data, big + 500, 500) == 0);
		free(w.data);
	}
}

static void test_cancel(struct env *e)
{
	struct rb_fs_op *op;
	struct rb_path p = env_resolve(e, "big.bin");
	int fds = t_fd_count(), i, cancelled = 0;

	/* Waiting for the first permit: nothing open yet. */
	{
		struct rwait w = { 0 };
		unsigned n = e->cap.o.permits - e->cap.o.headroom;
		ASSERT(rb_cap_try(&e->cap, RB_CAP_BULK, n, 0));
		ASSERT_EQ(rb_fs_read_range(e->fs, &p, 0, 100, 0, RB_CAP_BULK, range_cb, &w, &op), 0);
		rb_loop_run_once(e->loop, false, 0);
		ASSERT(!w.done);
		rb_fs_cancel(op);
		ASSERT(!w.done); /* the callback comes later */
		t_run_until(e->loop, &w.done);
		ASSERT_EQ(w.res, -ECANCELED);
		ASSERT_EQ(w.calls, 1);
		rb_cap_release(&e->cap, RB_CAP_BULK, n, 0);
		env_check_idle(e);
	}
	/* Waiting for the range's bytes, with the file open and statx'ed. */
	{
		struct rwait w = { 0 };
		size_t hog = hog_bulk_bytes(e);
		ASSERT_EQ(rb_fs_read_range(e->fs, &p, 0, 1u << 20, 0, RB_CAP_BULK, range_cb, &w, &op), 0);
		run_until_bulk_waits(e);
		ASSERT_EQ(t_fd_count(), fds + 1);
		rb_fs_cancel(op);
		rb_fs_cancel(op); /* twice is harmless */
		t_run_until(e->loop, &w.done);
		ASSERT_EQ(w.res, -ECANCELED);
		ASSERT_EQ(w.calls, 1);
		ASSERT_EQ(t_fd_count(), fds);
		rb_cap_release(&e->cap, RB_CAP_BULK, 0, hog);
		env_check_idle(e);
	}
	/* In flight: cancelled after 0, 1, 2, ... loop turns. Each finishes
	 * exactly once, with -ECANCELED or its whole range. */
	for (i = 0; i < 12; i++) {
		struct rwait w = { 0 };
		int t;
		ASSERT_EQ(rb_fs_read_range(e->fs, &p, i & 1 ? 4u << 20 : 1000, 4u << 20, i & 1 ? RB_FS_RANGE_FROM_END : 0,
					   RB_CAP_INTERACTIVE, range_cb, &w, &op),
			  0);
		for (t = 0; t < i / 2 && !w.done; t++)
			rb_loop_run_once(e->loop, false, 0);
		if (!w.done)
			rb_fs_cancel(op);
		t_run_until(e->loop, &w.done);
		ASSERT_EQ(w.calls, 1);
		if (w.res == -ECANCELED) {
			cancelled++;
		} else {
			ASSERT_EQ(w.res, 0);
			ASSERT_EQ(w.len, 4u << 20);
			ASSERT(memcmp(w.data, big + w.off, w.len) == 0);
			free(w.data);
		}
		ASSERT_EQ(t_fd_count(), fds);
		env_check_idle(e);
	}
	ASSERT_GE(cancelled, 1);
}

static void test_guard(struct env *e)
{
	struct waiter a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct rb_path pf = env_resolve(e, "fifo"), pr;
	struct rb_fs_op *op;
	char path[PATH_MAX];
	int rfd, wfd;

	t_write_file(e->dir, "plain.md", "plain", 5);
	pr = env_resolve(e, "plain.md");
	env_path(e, "fifo", path, sizeof(path));
	rfd = open(path, O_RDONLY | O_NONBLOCK); /* made by test_errors */
	wfd = open(path, O_WRONLY | O_NONBLOCK);
	ASSERT_GE(rfd, 0);
	ASSERT_GE(wfd, 0);
	ASSERT_EQ(rb_fs_read_file(e->fs, &pf, 0, 0, RB_CAP_INTERACTIVE, read_cb, &a, NULL), 0);
	rb_loop_run_once(e->loop, true, 700);
	ASSERT_EQ(rb_fs_read_file(e->fs, &pf, 0, 0, RB_CAP_INTERACTIVE, read_cb, &b, NULL), 0);
	ASSERT_EQ(rb_fs_read_file(e->fs, &pr, 0, 0, RB_CAP_INTERACTIVE, read_cb, &c, NULL), 0);
	t_run_until(e->loop, &c.done);
	ASSERT_EQ(c.res, 0);
	ASSERT_STREQ(c.data, "plain");
	free(c.data);
	t_run_until(e->loop, &a.done);
	t_run_until(e->loop, &b.done);
	ASSERT_EQ(a.res, -RB_E_NOT_REGULAR);
	ASSERT_EQ(b.res, -RB_E_NOT_REGULAR);
	/* Cancelled while guarded. */
	ASSERT_EQ(rb_fs_read_file(e->fs, &pf, 0, 0, RB_CAP_INTERACTIVE, read_cb, &d, &op), 0);
	rb_loop_run_once(e->loop, false, 0);
	if (!d.done) /* threads: the read already said -EAGAIN */
		rb_fs_cancel(op);
	t_run_until(e->loop, &d.done);
	ASSERT(d.res == -ECANCELED || d.res == -RB_E_NOT_REGULAR);
	close(wfd);
	close(rfd);
	env_check_idle(e);
}

/* The same cut on the uring backend's step-by-step READFILE (no direct
 * descriptors): the guard's cancel reaches the read in flight there too. */
static void test_guard_no_direct(struct env *e)
{
	struct rb_loop_opts lo = { .engine = RB_ENGINE_RING, .quiet = true };
	struct rb_io_opts io_o = { .kind = RB_IO_BACKEND_URING, .no_direct = true };
	struct rb_loop *loop;
	struct rb_io *io;
	struct rb_cap cap;
	struct rb_fs *fs;
	struct rb_path p;
	struct rb_io_stats st;
	struct waiter w = { 0 };
	char path[PATH_MAX];
	int rfd, wfd;

	ASSERT_EQ(rb_loop_new(&loop, &lo), 0);
	ASSERT_EQ(rb_io_new(&io, loop, &io_o), 0);
	rb_cap_init(&cap, loop, NULL);
	ASSERT_EQ(rb_fs_new(&fs, io, &cap, NULL), 0);
	ASSERT_EQ(rb_fs_add_root(fs, e->dir), 0);
	env_path(e, "fifo", path, sizeof(path));
	rfd = open(path, O_RDONLY | O_NONBLOCK);
	wfd = open(path, O_WRONLY | O_NONBLOCK);
	ASSERT_GE(rfd, 0);
	ASSERT_GE(wfd, 0);
	ASSERT_EQ(rb_fs_resolve(fs, "fifo", &p), 0);
	ASSERT_EQ(rb_fs_read_file(fs, &p, 0, 0, RB_CAP_INTERACTIVE, read_cb, &w, NULL), 0);
	t_run_until(loop, &w.done);
	ASSERT_EQ(w.res, -RB_E_NOT_REGULAR);
	rb_io_get_stats(io, &st);
	ASSERT_EQ(st.chains_direct, 0);
	ASSERT_GE(st.chains_fallback, 1);
	close(wfd);
	close(rfd);
	rb_fs_free(fs);
	t_teardown(loop, io);
	rb_cap_deinit(&cap);
}

int main(void)
{
	big = malloc(BIG);
	ASSERT(big != NULL);
	fill_pattern(big, BIG, 7);
	FOR_BOTH_BACKENDS(k) {
		struct env e;
		if (!env_setup(&e, k))
			continue;
		fprintf(stderr, "%s: ranges\n", kname(k));
		test_ranges(&e);
		fprintf(stderr, "%s: errors\n", kname(k));
		test_errors(&e);
		fprintf(stderr, "%s: shrink\n", kname(k));
		test_shrink(&e);
		fprintf(stderr, "%s: cancel\n", kname(k));
		test_cancel(&e);
		fprintf(stderr, "%s: fifo guard of whole reads\n", kname(k));
		test_guard(&e);
		if (k == RB_IO_BACKEND_URING)
			test_guard_no_direct(&e);
		env_teardown(&e);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	free(big);
	return T_EXIT_PASS;
}
