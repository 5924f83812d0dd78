/* Description: READFILE (open + read from offset 0 until the buffer is full
 * or EOF + close) on an empty, a small, an exactly-buffer-sized and a larger
 * file (res == len means "maybe more"), a 1 MiB file, a directory (-EISDIR),
 * a missing file (-ENOENT), and a FIFO with and without a writer, which must
 * not hang: it is opened O_NONBLOCK and returns -EAGAIN or 0 promptly on the
 * threads backend; io_uring ignores O_NONBLOCK on pollable files, so there the
 * request's deadline (timeout_ns, a linked timeout) ends it with -ETIME, never
 * before the deadline. "Must not hang" is checked with a hang detector (tens
 * of seconds), not a speed bound. No fd is left open on any path; both
 * backends return the same results. */
#include <sys/stat.h>

#include "io_t.h"

#define BUF 4096

static void fill(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + seed) % 26);
}

/* The FIFO reads' deadlines. On the uring backend the deadline is what ends
 * a read that waits for data (a writer, no data; and, step by step, the
 * second read after the data): 200 ms. On the threads backend the O_NONBLOCK
 * open must end it, and a deadline only fails a request still queued when it
 * passes (-ETIME, never run): a long one, so that a loaded machine's slow
 * worker wake-up is not mistaken for a result. */
#define URING_DEADLINE_NS (200ull * 1000000ull)
#define THREADS_DEADLINE_NS (30ull * 1000000000ull)
/* How long past its deadline a request may stay pending before we call it hung. */
#define HANG_NS (30ull * 1000000000ull)

/* READFILE with a deadline of our own: a FIFO must not block the op. It
 * completes exactly once; if the deadline ended it (-ETIME), not before the
 * deadline, and only on the uring backend. */
static int64_t readfile_prompt(struct t_ctx *c, const char *what, const char *path, void *buf, size_t len)
{
	uint64_t deadline_ns = c->kind == RB_IO_BACKEND_URING ? URING_DEADLINE_NS : THREADS_DEADLINE_NS;
	struct rb_io_req r;
	struct t_wait w = { 0 };
	uint64_t t0 = rb_now_ns(), dt;
	rb_io_prep(&r, RB_IO_READFILE, t_wait_cb, &w);
	r.fd = c->dfd;
	r.path = path;
	r.buf = buf;
	r.len = len;
	r.timeout_ns = deadline_ns;
	ASSERT_EQ(rb_io_submit(c->io, &r), 0);
	while (!w.done) {
		ASSERT_GE(rb_loop_run_once(c->loop, true, 100), 0);
		if (!w.done && rb_now_ns() - t0 > deadline_ns + HANG_NS)
			T_FAIL("hung: READFILE on a FIFO (%s) still pending %llu s after its %llu ms deadline", what,
			       (unsigned long long)HANG_NS / 1000000000ull, (unsigned long long)deadline_ns / 1000000ull);
	}
	dt = rb_now_ns() - t0;
	for (int i = 0; i < 3; i++)
		ASSERT_GE(rb_loop_run_once(c->loop, false, 0), 0);
	ASSERT_EQ(w.calls, 1);
	if (r.res == -ETIME) {
		if (c->kind != RB_IO_BACKEND_URING)
			T_FAIL("READFILE on a FIFO (%s): the threads backend waited for its deadline", what);
		ASSERT_GE(dt, deadline_ns); /* the deadline did not fire early */
	}
	/* "would block" is -EAGAIN from the pool and -ETIME from the ring's deadline */
	t_log_add(c->cfg, r.res == -ETIME ? -EAGAIN : r.res);
	return r.res;
}

static void readfile(struct t_ctx *c)
{
	static char want[3 * 1024 * 1024 / 2], buf[BUF + 16], *big;
	size_t mib = 1024 * 1024;
	int64_t r;
	int wfd;

	fill(want, sizeof want, 3);
	t_write_file(c->dir, "empty", "", 0);
	t_write_file(c->dir, "small", want, 100);
	t_write_file(c->dir, "exact", want, BUF);
	t_write_file(c->dir, "larger", want, BUF * 2 + 5);
	t_write_file(c->dir, "mib", want, mib);
	ASSERT_EQ(mkdirat(c->dfd, "adir", 0755), 0);
	ASSERT_EQ(mkfifoat(c->dfd, "fifo", 0644), 0);

	ASSERT_EQ(t_readfile(c, c->dfd, "empty", 0, buf, BUF), 0);
	memset(buf, 0, sizeof buf);
	ASSERT_EQ(t_readfile(c, c->dfd, "small", 0, buf, BUF), 100);
	ASSERT_EQ(memcmp(buf, want, 100), 0);
	ASSERT_EQ(buf[100], 0); /* nothing past what was read */
	memset(buf, 0, sizeof buf);
	ASSERT_EQ(t_readfile(c, c->dfd, "exact", 0, buf, BUF), BUF);
	ASSERT_EQ(memcmp(buf, want, BUF), 0);
	ASSERT_EQ(buf[BUF], 0); /* never writes past len */
	memset(buf, 0, sizeof buf);
	ASSERT_EQ(t_readfile(c, c->dfd, "larger", 0, buf, BUF), BUF);
	ASSERT_EQ(memcmp(buf, want, BUF), 0);
	ASSERT_EQ(buf[BUF], 0);
	/* A buffer one byte larger than the file: the whole file, short. */
	ASSERT_EQ(t_readfile(c, c->dfd, "exact", 0, buf, BUF + 1), BUF);

	big = malloc(mib + 1);
	ASSERT_EQ(t_readfile(c, c->dfd, "mib", 0, big, mib + 1), (int64_t)mib);
	ASSERT_EQ(memcmp(big, want, mib), 0);
	free(big);

	ASSERT_EQ(t_readfile(c, c->dfd, "adir", 0, buf, BUF), -EISDIR);
	ASSERT_EQ(t_readfile(c, c->dfd, "missing", 0, buf, BUF), -ENOENT);
	ASSERT_EQ(t_readfile(c, c->dfd, "small/x", 0, buf, BUF), -ENOTDIR);

	/* FIFO without a writer: O_NONBLOCK open succeeds, read sees EOF. */
	r = readfile_prompt(c, "no writer", "fifo", buf, BUF);
	ASSERT(r == 0 || r == -EAGAIN);
	/* FIFO with a writer that writes nothing: must not wait for data. */
	wfd = openat(c->dfd, "fifo", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	ASSERT_GE(wfd, 0);
	r = readfile_prompt(c, "a writer, no data", "fifo", buf, BUF);
	ASSERT(r == 0 || r == -EAGAIN || r == -ETIME);
	/* With data waiting: reads it, then stops at EAGAIN without losing it. */
	ASSERT_EQ(write(wfd, "piped", 5), 5);
	r = readfile_prompt(c, "data waiting", "fifo", buf, BUF);
	ASSERT(r == 5 || r == -EAGAIN);
	if (r == 5)
		ASSERT_EQ(memcmp(buf, "piped", 5), 0);
	close(wfd);
}

int main(void)
{
	struct t_ctx c;
	FOR_EACH_CONFIG(k) {
		if (!t_begin(&c, k))
			continue;
		readfile(&c);
		t_end(&c);
	}
	t_log_compare();
	return T_EXIT_PASS;
}
