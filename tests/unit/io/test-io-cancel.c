/* Description: cancellation and deadlines.
 *  - threads (1 worker): a READ blocked on an empty pipe occupies the
 *    worker; a request queued behind it is cancelled: it completes once with
 *    -ECANCELED on a later loop turn (not inside rb_io_cancel), while the
 *    running READ ignores the cancel and completes with its real result.
 *    A queued request whose timeout passes before a worker takes it fails
 *    with -ETIME without running.
 *  - uring: a READ on an empty pipe is cancelled in flight: -ECANCELED,
 *    callback exactly once, nothing left in flight on the backend or the
 *    ring, and the byte written afterwards is still in the pipe (the read
 *    really went away). A READ with timeout_ns on an empty pipe fails
 *    (-ECANCELED or -ETIME), not before its deadline, and leaves nothing in
 *    flight.
 *  - both: cancelling a request that is racing to the end gives either its
 *    result or -ECANCELED, callback once.
 * No wall-clock upper bounds: waits end on a condition, with a hang
 * detector of HANG_NS that fails saying what hung. */
#include <sched.h>

#include "io_t.h"

#define HANG_NS (60ull * 1000000000ull)

struct op {
	struct rb_io_req req;
	struct t_wait w;
	char buf[8];
};

static void submit(struct t_ctx *c, struct op *o, enum rb_io_op kind, int fd)
{
	memset(o, 0, sizeof(*o));
	rb_io_prep(&o->req, kind, t_wait_cb, &o->w);
	o->req.fd = fd;
	o->req.buf = o->buf;
	o->req.len = sizeof o->buf;
	ASSERT_EQ(rb_io_submit(c->io, &o->req), 0);
	ASSERT_EQ(o->w.calls, 0);
}

static void spin(struct t_ctx *c, int turns)
{
	for (int i = 0; i < turns; i++)
		rb_loop_run_once(c->loop, false, 0);
}

/* Runs the loop until w's request completed; fails saying it hung if that
 * takes HANG_NS. */
static void run_until_done(struct t_ctx *c, struct t_wait *w, const char *what)
{
	uint64_t end = rb_now_ns() + HANG_NS;
	while (!w->done) {
		ASSERT_GE(rb_loop_run_once(c->loop, true, 100), 0);
		if (!w->done && rb_now_ns() > end)
			T_FAIL("hung: %s did not complete in %llu s", what, (unsigned long long)(HANG_NS / 1000000000ull));
	}
}

/* Runs the loop until nothing of ours is in flight: no request on the
 * backend and (uring backend) no SQE awaiting its CQE, such as an
 * ASYNC_CANCEL or a link timeout. Something left behind fails it as hung. */
static void run_until_idle(struct t_ctx *c, const char *after)
{
	uint64_t end = rb_now_ns() + HANG_NS;
	struct rb_io_stats st;
	unsigned ring;
	for (;;) {
		rb_io_get_stats(c->io, &st);
		ring = c->kind == RB_IO_BACKEND_URING ? rb_loop_inflight(c->loop) : 0;
		if (!st.inflight && !ring)
			return;
		if (rb_now_ns() > end)
			T_FAIL("hung: %s, %u requests and %u ring ops still in flight after %llu s", after, st.inflight,
			       ring, (unsigned long long)(HANG_NS / 1000000000ull));
		ASSERT_GE(rb_loop_run_once(c->loop, true, 10), 0);
	}
}

static void threads_queued(int cfg)
{
	struct rb_loop *loop;
	struct rb_io *io;
	struct t_ctx c = { .cfg = cfg, .kind = RB_IO_BACKEND_THREADS };
	struct op a, b, t;
	uint64_t t0;
	int p[2], base = t_fd_count();

	fprintf(stderr, "-- %s, 1 worker\n", t_cfg_name[cfg]);
	t_setup_cfg(cfg, 1, &loop, &io);
	c.loop = loop;
	c.io = io;
	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);

	submit(&c, &a, RB_IO_READ, p[0]);
	/* Wait until the only worker has taken it and is blocked in read(). */
	t0 = rb_now_ns();
	while (!__atomic_load_n(&a.req.running, __ATOMIC_ACQUIRE)) {
		if (rb_now_ns() - t0 > HANG_NS)
			T_FAIL("hung: the worker never picked up the READ in %llu s",
			       (unsigned long long)(HANG_NS / 1000000000ull));
		sched_yield(); /* let the worker run on a busy machine */
	}
	submit(&c, &b, RB_IO_NOP, -1);
	rb_io_cancel(io, &a.req); /* running: no effect */
	rb_io_cancel(io, &b.req);
	ASSERT_EQ(b.w.calls, 0); /* deferred, never inside cancel */
	rb_io_cancel(io, &b.req); /* twice is harmless */
	run_until_done(&c, &b.w, "a cancelled queued NOP");
	ASSERT_EQ(b.req.res, -ECANCELED);
	spin(&c, 5);
	ASSERT_EQ(b.w.calls, 1);
	ASSERT_EQ(a.w.calls, 0); /* still blocked: the cancel did not touch it */

	/* A queued op whose deadline passes while the worker is busy. */
	memset(&t, 0, sizeof t);
	rb_io_prep(&t.req, RB_IO_NOP, t_wait_cb, &t.w);
	t.req.timeout_ns = 10 * 1000000ull;
	t0 = rb_now_ns();
	ASSERT_EQ(rb_io_submit(io, &t.req), 0);
	/* Let its deadline pass while the worker is still blocked (a lower
	 * bound on elapsed time, which holds however slow the machine is). */
	while (rb_now_ns() - t0 <= t.req.timeout_ns)
		usleep(1000);

	ASSERT_EQ(write(p[1], "x", 1), 1);
	run_until_done(&c, &a.w, "the READ, once a byte was written");
	ASSERT_EQ(a.req.res, 1);
	ASSERT_EQ(a.buf[0], 'x');
	run_until_done(&c, &t.w, "a queued NOP past its deadline");
	ASSERT_EQ(t.req.res, -ETIME);
	spin(&c, 5);
	ASSERT_EQ(a.w.calls, 1);
	ASSERT_EQ(t.w.calls, 1);
	run_until_idle(&c, "threads, after the queued cancel and deadline");

	close(p[0]);
	close(p[1]);
	t_teardown(loop, io);
	ASSERT_EQ(t_fd_count(), base);
}

static void uring_inflight(struct t_ctx *c)
{
	struct op a;
	char ch;
	int p[2];
	uint64_t t0, dt;

	ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
	submit(c, &a, RB_IO_READ, p[0]);
	spin(c, 3); /* make sure it is really in the kernel, waiting */
	ASSERT_EQ(a.w.calls, 0);
	rb_io_cancel(c->io, &a.req);
	ASSERT_EQ(a.w.calls, 0);
	run_until_done(c, &a.w, "a cancelled READ on an empty pipe");
	ASSERT_EQ(a.req.res, -ECANCELED);
	spin(c, 5);
	ASSERT_EQ(a.w.calls, 1);
	run_until_idle(c, "uring, after cancelling a READ in flight");
	/* The read is gone: a byte written now stays in the pipe. */
	ASSERT_EQ(write(p[1], "y", 1), 1);
	spin(c, 3);
	ASSERT_EQ(read(p[0], &ch, 1), 1);
	ASSERT_EQ(ch, 'y');

	/* A deadline on an op that would wait forever. */
	memset(&a, 0, sizeof a);
	rb_io_prep(&a.req, RB_IO_READ, t_wait_cb, &a.w);
	a.req.fd = p[0];
	a.req.buf = a.buf;
	a.req.len = 1;
	a.req.timeout_ns = 50 * 1000000ull;
	t0 = rb_now_ns();
	ASSERT_EQ(rb_io_submit(c->io, &a.req), 0);
	run_until_done(c, &a.w, "a READ with a 50 ms deadline on an empty pipe");
	dt = rb_now_ns() - t0;
	ASSERT(a.req.res == -ECANCELED || a.req.res == -ETIME);
	ASSERT_GE(dt, a.req.timeout_ns); /* not before its deadline; how long after is the machine's business */
	spin(c, 5);
	ASSERT_EQ(a.w.calls, 1);
	run_until_idle(c, "uring, after a READ's deadline");
	close(p[0]);
	close(p[1]);
}

/* Cancel right after submit: whichever wins, one callback. */
static void racing(struct t_ctx *c)
{
	static struct op ops[64];
	int i, cancelled = 0, ok = 0;
	for (i = 0; i < 64; i++) {
		submit(c, &ops[i], RB_IO_NOP, -1);
		rb_io_cancel(c->io, &ops[i].req);
	}
	for (i = 0; i < 64; i++)
		run_until_done(c, &ops[i].w, "a NOP cancelled right after submit");
	spin(c, 5);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(ops[i].w.calls, 1);
		ASSERT(ops[i].req.res == 0 || ops[i].req.res == -ECANCELED);
		if (ops[i].req.res == 0)
			ok++;
		else
			cancelled++;
	}
	run_until_idle(c, "after 64 racing cancels");
	fprintf(stderr, "racing cancels: %d cancelled, %d completed\n", cancelled, ok);
}

int main(void)
{
	struct t_ctx c;
	if (t_want_backend(RB_IO_BACKEND_THREADS)) {
		threads_queued(T_THREADS);
		threads_queued(T_THREADS_EPOLL);
	}
	FOR_EACH_CONFIG(k) {
		if (!t_begin(&c, k))
			continue;
		if (c.kind == RB_IO_BACKEND_URING)
			uring_inflight(&c);
		racing(&c);
		t_end(&c);
	}
	return T_EXIT_PASS;
}
