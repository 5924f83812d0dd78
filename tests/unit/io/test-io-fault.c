/* Description: fault injection and statistics. rb_io_fault_set fails the nth
 * request (of one op or of any) with -EIO, optionally every k after it;
 * RB_IO_FAULT_SHORT halves a READ's or WRITE's length so the caller sees a
 * short transfer; cancelling a faulted request changes nothing. The stats
 * count submissions per op, completions, errors and the in-flight peak
 * exactly; a refused submission (bad op, no callback, after shutdown on the
 * threads backend) counts nothing and never calls back. Both backends. */
#include "io_t.h"

static int64_t nop(struct t_ctx *c)
{
	return t_rw(c, RB_IO_NOP, -1, NULL, 0, 0);
}

static void faults(struct t_ctx *c)
{
	struct statx stx;
	char buf[1000], data[1000];
	struct stat sb;
	uint64_t base = rb_io_fault_count(c->io);
	int fd, i;

	/* The 3rd request of any kind fails, once. */
	rb_io_fault_set(c->io, RB_IO_NOP, 3, 0, -EIO);
	for (i = 1; i <= 5; i++)
		ASSERT_EQ(nop(c), i == 3 ? -EIO : 0);
	ASSERT_EQ(rb_io_fault_count(c->io) - base, 1);

	/* STATX only: the 2nd, then every 3rd after it (2, 5, 8); other ops
	 * pass untouched and are not counted. */
	t_write_file(c->dir, "f", "12345", 5);
	rb_io_fault_set(c->io, RB_IO_STATX, 2, 3, -EIO);
	for (i = 1; i <= 10; i++) {
		ASSERT_EQ(nop(c), 0);
		ASSERT_EQ(t_statx(c, c->dfd, "f", 0, STATX_SIZE, &stx), (i == 2 || i == 5 || i == 8) ? -EIO : 0);
	}
	ASSERT_EQ(rb_io_fault_count(c->io) - base, 4);

	/* Disabled. */
	rb_io_fault_set(c->io, RB_IO_NOP, 0, 0, 0);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(t_statx(c, c->dfd, "f", 0, STATX_SIZE, &stx), 0);
	ASSERT_EQ(rb_io_fault_count(c->io) - base, 4);

	/* Short READ and WRITE. */
	for (i = 0; i < (int)sizeof data; i++)
		data[i] = (char)i;
	t_write_file(c->dir, "g", data, sizeof data);
	fd = openat(c->dfd, "g", O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	rb_io_fault_set(c->io, RB_IO_READ, 1, 0, RB_IO_FAULT_SHORT);
	memset(buf, 0, sizeof buf);
	ASSERT_EQ(t_rw(c, RB_IO_READ, fd, buf, 100, 0), 50);
	ASSERT_EQ(memcmp(buf, data, 50), 0);
	ASSERT_EQ(buf[50], 0);
	ASSERT_EQ(t_rw(c, RB_IO_READ, fd, buf, 100, 0), 100); /* only the 1st */
	rb_io_fault_set(c->io, RB_IO_WRITE, 1, 0, RB_IO_FAULT_SHORT);
	ASSERT_EQ(t_rw(c, RB_IO_WRITE, fd, data, 1000, 1000), 500);
	ASSERT_EQ(fstat(fd, &sb), 0);
	ASSERT_EQ(sb.st_size, 1500);
	close(fd);
	ASSERT_EQ(rb_io_fault_count(c->io) - base, 6);

	/* An injected fault on an op that would touch the disk does not. */
	rb_io_fault_set(c->io, RB_IO_UNLINKAT, 1, 0, -EIO);
	{
		struct rb_io_req r;
		rb_io_prep(&r, RB_IO_UNLINKAT, NULL, NULL);
		r.fd = c->dfd;
		r.path = "f";
		ASSERT_EQ(t_do(c, &r), -EIO);
		ASSERT_EQ(faccessat(c->dfd, "f", F_OK, 0), 0);
	}

	/* Cancelling a faulted request: still the fault, one callback. */
	rb_io_fault_set(c->io, RB_IO_NOP, 1, 0, -EIO);
	{
		struct rb_io_req r;
		struct t_wait w = { 0 };
		rb_io_prep(&r, RB_IO_NOP, t_wait_cb, &w);
		ASSERT_EQ(rb_io_submit(c->io, &r), 0);
		rb_io_cancel(c->io, &r);
		t_run_until(c->loop, &w.done);
		for (i = 0; i < 3; i++)
			rb_loop_run_once(c->loop, false, 0);
		ASSERT_EQ(w.calls, 1);
		ASSERT_EQ(r.res, -EIO);
	}
	rb_io_fault_set(c->io, RB_IO_NOP, 0, 0, 0);
}

static void never_cb(struct rb_io_req *req)
{
	(void)req;
	T_FAIL("callback of a refused submission ran");
}

static void stats(struct t_ctx *c)
{
	struct rb_io_stats st;
	struct statx stx;
	struct rb_io_req reqs[10], bad;
	struct t_wait w[10];
	int i;

	rb_io_get_stats(c->io, &st);
	for (i = 0; i < RB_IO_OP_COUNT; i++)
		ASSERT_EQ(st.submitted[i], 0);
	ASSERT_EQ(st.completed, 0);
	ASSERT_EQ(st.errors, 0);
	ASSERT_EQ(st.inflight, 0);
	ASSERT_EQ(st.inflight_peak, 0);

	t_write_file(c->dir, "s", "abc", 3);
	for (i = 0; i < 3; i++)
		ASSERT_EQ(nop(c), 0);
	ASSERT_EQ(t_statx(c, c->dfd, "s", 0, STATX_SIZE, &stx), 0);
	ASSERT_EQ(t_statx(c, c->dfd, "s", 0, STATX_SIZE, &stx), 0);
	ASSERT_EQ(t_statx(c, c->dfd, "nope", 0, STATX_SIZE, &stx), -ENOENT);
	rb_io_fault_set(c->io, RB_IO_NOP, 1, 0, -EIO);
	ASSERT_EQ(nop(c), -EIO);
	rb_io_fault_set(c->io, RB_IO_NOP, 0, 0, 0);

	/* Refused submissions count nothing. */
	rb_io_prep(&bad, RB_IO_OP_COUNT, never_cb, NULL);
	ASSERT_EQ(rb_io_submit(c->io, &bad), -EINVAL);
	rb_io_prep(&bad, RB_IO_NOP, NULL, NULL);
	ASSERT_EQ(rb_io_submit(c->io, &bad), -EINVAL);

	rb_io_get_stats(c->io, &st);
	ASSERT_EQ(st.submitted[RB_IO_NOP], 4);
	ASSERT_EQ(st.submitted[RB_IO_STATX], 3);
	ASSERT_EQ(st.submitted[RB_IO_READ], 0);
	ASSERT_EQ(st.completed, 7);
	ASSERT_EQ(st.errors, 2);
	ASSERT_EQ(st.inflight, 0);
	ASSERT_EQ(st.inflight_peak, 1);

	/* Ten at once: the peak is ten. */
	memset(w, 0, sizeof w);
	for (i = 0; i < 10; i++) {
		rb_io_prep(&reqs[i], RB_IO_NOP, t_wait_cb, &w[i]);
		ASSERT_EQ(rb_io_submit(c->io, &reqs[i]), 0);
	}
	rb_io_get_stats(c->io, &st);
	ASSERT_EQ(st.inflight, 10);
	for (i = 0; i < 10; i++)
		t_run_until(c->loop, &w[i].done);
	rb_io_get_stats(c->io, &st);
	ASSERT_EQ(st.inflight, 0);
	ASSERT_EQ(st.inflight_peak, 10);
	ASSERT_EQ(st.completed, 17);
	ASSERT_EQ(st.submitted[RB_IO_NOP], 14);
}

/* After shutdown the pool takes nothing new (threads backend). */
static void after_shutdown(struct t_ctx *c)
{
	struct rb_io_stats st0, st;
	struct rb_io_req bad;
	rb_io_get_stats(c->io, &st0);
	rb_io_shutdown(c->io);
	rb_io_prep(&bad, RB_IO_NOP, never_cb, NULL);
	ASSERT_EQ(rb_io_submit(c->io, &bad), -ESHUTDOWN);
	rb_io_get_stats(c->io, &st);
	ASSERT_EQ(st.submitted[RB_IO_NOP], st0.submitted[RB_IO_NOP]);
	ASSERT_EQ(st.inflight, 0);
}

int main(void)
{
	struct t_ctx c;
	FOR_EACH_CONFIG(k) {
		if (!t_begin(&c, k))
			continue;
		stats(&c);
		faults(&c);
		if (c.kind == RB_IO_BACKEND_THREADS)
			after_shutdown(&c);
		t_end(&c);
	}
	t_log_compare();
	return T_EXIT_PASS;
}
