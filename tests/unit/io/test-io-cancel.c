/* Description: cancellation and deadlines.
 *  - threads (1 worker): a READ blocked on an empty pipe occupies the
 *    worker; a request queued behind it is cancelled: it completes once with
 *    -ECANCELED on a later loop turn (not inside rb_io_cancel), while the
 *    running READ ignores the cancel and completes with its real result.
 *    A queued request whose timeout passes before a worker takes it fails
 *    with -ETIME without running.
 *  - uring: a READ on an empty pipe is cancelled in flight: -ECANCELED,
 *    callback exactly once, and the byte written afterwards is still in the
 *    pipe (the read really went away). A READ with timeout_ns on an empty
 *    pipe fails (-ECANCELED or -ETIME) close to its deadline.
 *  - both: cancelling a request that is racing to the end gives either its
 *    result or -ECANCELED, callback once. */
#include "io_t.h"

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
	while (!__atomic_load_n(&a.req.running, __ATOMIC_ACQUIRE))
		if (rb_now_ns() - t0 > 5000000000ull)
			T_FAIL("the worker never picked up the READ");
	submit(&c, &b, RB_IO_NOP, -1);
	rb_io_cancel(io, &a.req); /* running: no effect */
	rb_io_cancel(io, &b.req);
	ASSERT_EQ(b.w.calls, 0); /* deferred, never inside cancel */
	rb_io_cancel(io, &b.req); /* twice is harmless */
	t_run_until(loop, &b.w.done);
	ASSERT_EQ(b.req.res, -ECANCELED);
	spin(&c, 5);
	ASSERT_EQ(b.w.calls, 1);
	ASSERT_EQ(a.w.calls, 0); /* still blocked: the cancel did not touch it */

	/* A queued op whose deadline passes while the worker is busy. */
	memset(&t, 0, sizeof t);
	rb_io_prep(&t.req, RB_IO_NOP, t_wait_cb, &t.w);
	t.req.timeout_ns = 10 * 1000000ull;
	ASSERT_EQ(rb_io_submit(io, &t.req), 0);
	usleep(30 * 1000);

	ASSERT_EQ(write(p[1], "x", 1), 1);
	t_run_until(loop, &a.w.done);
	ASSERT_EQ(a.req.res, 1);
	ASSERT_EQ(a.buf[0], 'x');
	t_run_until(loop, &t.w.done);
	ASSERT_EQ(t.req.res, -ETIME);
	spin(&c, 5);
	ASSERT_EQ(a.w.calls, 1);
	ASSERT_EQ(t.w.calls, 1);

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
	t_run_until(c->loop, &a.w.done);
	ASSERT_EQ(a.req.res, -ECANCELED);
	spin(c, 5);
	ASSERT_EQ(a.w.calls, 1);
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
	t_run_until(c->loop, &a.w.done);
	dt = rb_now_ns() - t0;
	ASSERT(a.req.res == -ECANCELED || a.req.res == -ETIME);
	ASSERT_GE(dt, 45 * 1000000ull);
	ASSERT_LE(dt, 2000 * 1000000ull);
	spin(c, 5);
	ASSERT_EQ(a.w.calls, 1);
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
		t_run_until(c->loop, &ops[i].w.done);
	spin(c, 5);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(ops[i].w.calls, 1);
		ASSERT(ops[i].req.res == 0 || ops[i].req.res == -ECANCELED);
		if (ops[i].req.res == 0)
			ok++;
		else
			cancelled++;
	}
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
