/* Description: the event loop on both engines: timers fire in deadline
 * order and survive stop/restart from their own callback, defers run once
 * per turn in FIFO order, async wake-ups from other threads are never lost,
 * one-shot polls fire and cancel, and run() drains before returning. */
#include <poll.h>
#include <pthread.h>

#include "t.h"

static int fired[16], nfired;

static void timer_cb(struct rb_timer *t)
{
	fired[nfired++] = (int)(intptr_t)t->data;
}

static struct rb_timer self_t;
static int self_count;
static void self_rearm(struct rb_timer *t)
{
	if (++self_count < 5)
		rb_timer_start((struct rb_loop *)t->data, t, 1, self_rearm);
}

static void test_timers(struct rb_loop *loop)
{
	struct rb_timer t[5];
	int delays[5] = { 30, 10, 50, 20, 40 };
	int i;
	memset(t, 0, sizeof(t));
	nfired = 0;
	for (i = 0; i < 5; i++) {
		t[i].data = (void *)(intptr_t)delays[i];
		rb_timer_start(loop, &t[i], (uint64_t)delays[i], timer_cb);
	}
	rb_timer_stop(loop, &t[4]); /* 40 never fires */
	ASSERT(!rb_timer_active(&t[4]));
	while (nfired < 4)
		ASSERT_GE(rb_loop_run_once(loop, true, 1000), 0);
	ASSERT_EQ(fired[0], 10);
	ASSERT_EQ(fired[1], 20);
	ASSERT_EQ(fired[2], 30);
	ASSERT_EQ(fired[3], 50);
	/* A timer that re-arms itself from its callback. */
	memset(&self_t, 0, sizeof(self_t));
	self_t.data = loop;
	self_count = 0;
	rb_timer_start(loop, &self_t, 1, self_rearm);
	while (self_count < 5)
		ASSERT_GE(rb_loop_run_once(loop, true, 1000), 0);
	ASSERT(!rb_timer_active(&self_t));
}

static int dorder[8], ndorder;
static struct rb_defer chained;
static struct rb_loop *gloop;
static void defer_cb(struct rb_defer *d)
{
	dorder[ndorder++] = (int)(intptr_t)d->data;
	if (d->data == (void *)3) {
		/* Queued from a defer: runs on the next turn, not this one. */
		chained.data = (void *)9;
		rb_defer(gloop, &chained, defer_cb);
	}
}

static void test_defers(struct rb_loop *loop)
{
	struct rb_defer d[4];
	int i;
	memset(d, 0, sizeof(d));
	memset(&chained, 0, sizeof(chained));
	gloop = loop;
	ndorder = 0;
	for (i = 0; i < 4; i++) {
		d[i].data = (void *)(intptr_t)i;
		rb_defer(loop, &d[i], defer_cb);
	}
	rb_defer(loop, &d[0], defer_cb); /* already queued: no-op */
	rb_defer_cancel(loop, &d[2]);
	ASSERT_GE(rb_loop_run_once(loop, false, 0), 0);
	ASSERT_EQ(ndorder, 3);
	ASSERT_EQ(dorder[0], 0);
	ASSERT_EQ(dorder[1], 1);
	ASSERT_EQ(dorder[2], 3);
	ASSERT_GE(rb_loop_run_once(loop, false, 0), 0);
	ASSERT_EQ(ndorder, 4);
	ASSERT_EQ(dorder[3], 9);
}

struct athread {
	struct rb_async *a;
	int sends;
};
static atomic_int produced;
static int consumed_calls;
static void *producer(void *p)
{
	struct athread *t = p;
	for (int i = 0; i < t->sends; i++) {
		atomic_fetch_add(&produced, 1);
		rb_async_send(t->a);
	}
	return NULL;
}
static atomic_int seen;
static void async_cb(struct rb_async *a)
{
	(void)a;
	consumed_calls++;
	atomic_store(&seen, atomic_load(&produced));
}
static bool closed;
static void async_closed(struct rb_async *a)
{
	(void)a;
	closed = true;
}

static void test_async(struct rb_loop *loop)
{
	struct rb_async a;
	pthread_t th[4];
	struct athread at[4];
	int i;
	ASSERT_EQ(rb_async_init(loop, &a, async_cb), 0);
	atomic_store(&produced, 0);
	atomic_store(&seen, 0);
	for (i = 0; i < 4; i++) {
		at[i].a = &a;
		at[i].sends = 5000;
		pthread_create(&th[i], NULL, producer, &at[i]);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	/* Every send before this point must be observed by a callback. */
	while (atomic_load(&seen) < 20000)
		ASSERT_GE(rb_loop_run_once(loop, true, 1000), 0);
	ASSERT(consumed_calls >= 1);
	closed = false;
	rb_async_close(&a, async_closed);
	while (!closed)
		ASSERT_GE(rb_loop_run_once(loop, true, 1000), 0);
}

static int poll_res;
static bool poll_done;
static void poll_cb(struct rb_poll *p, int revents)
{
	(void)p;
	poll_res = revents;
	poll_done = true;
}

static void test_poll(struct rb_loop *loop)
{
	int fds[2];
	struct rb_poll p;
	char c = 'x';
	memset(&p, 0, sizeof(p));
	ASSERT_EQ(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
	poll_done = false;
	ASSERT_EQ(rb_poll_start(loop, &p, fds[0], POLLIN, poll_cb), 0);
	ASSERT_GE(rb_loop_run_once(loop, true, 20), 0);
	ASSERT(!poll_done);
	ASSERT_EQ(write(fds[1], &c, 1), 1);
	t_run_until(loop, &poll_done);
	ASSERT(poll_res > 0 && (poll_res & POLLIN));
	ASSERT_EQ(read(fds[0], &c, 1), 1);
	/* Cancel a pending poll: the callback runs once with -ECANCELED. */
	poll_done = false;
	ASSERT_EQ(rb_poll_start(loop, &p, fds[0], POLLIN, poll_cb), 0);
	rb_poll_stop(&p);
	t_run_until(loop, &poll_done);
	ASSERT_EQ(poll_res, -ECANCELED);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	int base = t_fd_count();
	for (int e = RB_ENGINE_RING; e <= RB_ENGINE_EPOLL; e++) {
		struct rb_loop *loop;
		struct rb_loop_opts lo = { .engine = (enum rb_engine)e, .quiet = true };
		int r = rb_loop_new(&loop, &lo);
		if (r < 0) {
			if (e == RB_ENGINE_RING)
				fprintf(stderr, "ring engine unavailable (%s), skipped\n", strerror(-r));
			else
				T_FAIL("epoll engine: %s", strerror(-r));
			continue;
		}
		test_timers(loop);
		test_defers(loop);
		test_async(loop);
		test_poll(loop);
		rb_loop_stop(loop);
		ASSERT_EQ(rb_loop_run(loop), 0);
		ASSERT_EQ(rb_loop_inflight(loop), 0);
		rb_loop_free(loop);
		ASSERT_EQ(t_fd_count(), base);
	}
	return T_EXIT_PASS;
}
