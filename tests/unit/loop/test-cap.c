/* Description: the in-flight cap: FIFO order within a class, no lost
 * wake-ups under random acquire/release, bulk cannot starve interactive,
 * the bytes budget, and permits returned by cancel in every state. Runs on
 * both loop engines. */
#include "t.h"

struct waiter {
	struct rb_cap_wait w;
	int id;
	bool granted;
};

static int order[4096];
static int norder;

static void on_grant(struct rb_cap_wait *w)
{
	struct waiter *x = rb_container_of(w, struct waiter, w);
	x->granted = true;
	order[norder++] = x->id;
}

static void spin(struct rb_loop *loop, int turns)
{
	while (turns--)
		ASSERT_GE(rb_loop_run_once(loop, false, 0), 0);
}

static void test_fifo(struct rb_loop *loop)
{
	struct rb_cap cap;
	struct rb_cap_opts o = { .permits = 4, .headroom = 1, .bytes = 1 << 20, .bytes_headroom = 1 << 18 };
	struct waiter w[10];
	int i;

	rb_cap_init(&cap, loop, &o);
	norder = 0;
	/* Bulk has 3 permits: take them all, then queue 10 bulk waiters. */
	ASSERT(rb_cap_try(&cap, RB_CAP_BULK, 3, 0));
	ASSERT(!rb_cap_try(&cap, RB_CAP_BULK, 1, 0));
	for (i = 0; i < 10; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		rb_cap_acquire(&cap, &w[i].w, RB_CAP_BULK, 1, 0, on_grant);
	}
	spin(loop, 3);
	ASSERT_EQ(norder, 0);
	/* A try may not overtake queued waiters of its class. */
	rb_cap_release(&cap, RB_CAP_BULK, 1, 0);
	ASSERT(!rb_cap_try(&cap, RB_CAP_BULK, 1, 0));
	spin(loop, 2);
	ASSERT_EQ(norder, 1);
	for (i = 0; i < 9; i++) {
		rb_cap_release(&cap, RB_CAP_BULK, 1, 0);
		spin(loop, 2);
	}
	ASSERT_EQ(norder, 10);
	for (i = 0; i < 10; i++)
		ASSERT_EQ(order[i], i);
	/* Release everything the grants and the first try held. */
	rb_cap_release(&cap, RB_CAP_BULK, 3, 0);
	ASSERT(rb_cap_idle(&cap));
}

static void test_interactive_headroom(struct rb_loop *loop)
{
	struct rb_cap cap;
	struct rb_cap_opts o = { .permits = 8, .headroom = 2, .bytes = 1 << 20, .bytes_headroom = 1 << 18 };
	struct waiter bulk[100], inter;
	struct rb_cap_stats st;
	int i;

	rb_cap_init(&cap, loop, &o);
	norder = 0;
	/* 100 bulk waiters flood the cap. */
	for (i = 0; i < 100; i++) {
		memset(&bulk[i], 0, sizeof(bulk[i]));
		bulk[i].id = i;
		rb_cap_acquire(&cap, &bulk[i].w, RB_CAP_BULK, 1, 0, on_grant);
	}
	spin(loop, 2);
	ASSERT_EQ(norder, 6); /* permits - headroom */
	rb_cap_stats(&cap, &st);
	ASSERT_EQ(st.used[RB_CAP_BULK], 6);
	ASSERT_EQ(st.waiting[RB_CAP_BULK], 94);
	/* An interactive request is granted at once, ahead of 94 bulk waiters. */
	memset(&inter, 0, sizeof(inter));
	inter.id = 1000;
	rb_cap_acquire(&cap, &inter.w, RB_CAP_INTERACTIVE, 1, 0, on_grant);
	spin(loop, 2);
	ASSERT(inter.granted);
	ASSERT_EQ(order[norder - 1], 1000);
	/* On release, interactive waiters go first. */
	ASSERT(rb_cap_try(&cap, RB_CAP_INTERACTIVE, 1, 0)); /* the last free permit */
	memset(&inter, 0, sizeof(inter));
	inter.id = 1001;
	rb_cap_acquire(&cap, &inter.w, RB_CAP_INTERACTIVE, 1, 0, on_grant);
	spin(loop, 2);
	ASSERT(!inter.granted);
	rb_cap_release(&cap, RB_CAP_BULK, 1, 0); /* a bulk op finishes */
	spin(loop, 2);
	ASSERT(inter.granted);
	/* Drain: release everything, all bulk waiters are served in order. */
	rb_cap_release(&cap, RB_CAP_INTERACTIVE, 1, 0);
	rb_cap_release(&cap, RB_CAP_INTERACTIVE, 1, 0);
	rb_cap_release(&cap, RB_CAP_INTERACTIVE, 1, 0);
	for (i = 0; i < 200 && norder < 102; i++) {
		rb_cap_release(&cap, RB_CAP_BULK, 1, 0);
		spin(loop, 2);
	}
	ASSERT_EQ(norder, 102);
	/* order: bulk 0..5, interactive 1000 and 1001, then bulk 6..99 */
	ASSERT_EQ(order[6], 1000);
	ASSERT_EQ(order[7], 1001);
	for (i = 0; i < 100; i++)
		ASSERT_EQ(order[i < 6 ? i : i + 2], i);
	rb_cap_stats(&cap, &st);
	rb_cap_release(&cap, RB_CAP_BULK, st.used[RB_CAP_BULK], 0);
	ASSERT(rb_cap_idle(&cap));
}

static void test_bytes(struct rb_loop *loop)
{
	struct rb_cap cap;
	struct rb_cap_opts o = { .permits = 100, .headroom = 10, .bytes = 1000, .bytes_headroom = 200 };
	struct waiter a, b;

	rb_cap_init(&cap, loop, &o);
	norder = 0;
	ASSERT(rb_cap_try(&cap, RB_CAP_BULK, 1, 700));
	ASSERT(!rb_cap_try(&cap, RB_CAP_BULK, 1, 200)); /* bulk byte limit is 800 */
	ASSERT(rb_cap_try(&cap, RB_CAP_INTERACTIVE, 1, 250));
	/* Over the whole budget: clamped, proceeds alone once the rest is back. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.id = 1;
	b.id = 2;
	rb_cap_acquire(&cap, &a.w, RB_CAP_BULK, 1, 1u << 30, on_grant);
	rb_cap_acquire(&cap, &b.w, RB_CAP_BULK, 1, 10, on_grant); /* FIFO: waits behind a */
	spin(loop, 2);
	ASSERT(!a.granted && !b.granted);
	rb_cap_release(&cap, RB_CAP_BULK, 1, 700);
	rb_cap_release(&cap, RB_CAP_INTERACTIVE, 1, 250);
	spin(loop, 2);
	ASSERT(a.granted);
	ASSERT(!b.granted);
	rb_cap_release(&cap, RB_CAP_BULK, 1, 1u << 30);
	spin(loop, 2);
	ASSERT(b.granted);
	rb_cap_release(&cap, RB_CAP_BULK, 1, 10);
	ASSERT(rb_cap_idle(&cap));
}

static void test_cancel(struct rb_loop *loop)
{
	struct rb_cap cap;
	struct rb_cap_opts o = { .permits = 2, .headroom = 1 };
	struct waiter a, b, c;

	rb_cap_init(&cap, loop, &o);
	norder = 0;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	/* Granted but callback not yet run: cancel returns the permit. */
	rb_cap_acquire(&cap, &a.w, RB_CAP_BULK, 1, 100, on_grant);
	ASSERT(rb_cap_cancel(&a.w));
	spin(loop, 2);
	ASSERT(!a.granted);
	ASSERT(rb_cap_idle(&cap));
	/* Queued: cancel removes it and the waiter behind it moves up. */
	ASSERT(rb_cap_try(&cap, RB_CAP_BULK, 1, 0));
	rb_cap_acquire(&cap, &b.w, RB_CAP_BULK, 1, 0, on_grant);
	rb_cap_acquire(&cap, &c.w, RB_CAP_BULK, 1, 0, on_grant);
	ASSERT(rb_cap_cancel(&b.w));
	ASSERT(!rb_cap_cancel(&b.w)); /* idle now */
	rb_cap_release(&cap, RB_CAP_BULK, 1, 0);
	spin(loop, 2);
	ASSERT(!b.granted);
	ASSERT(c.granted);
	rb_cap_release(&cap, RB_CAP_BULK, 1, 0);
	ASSERT(rb_cap_idle(&cap));
}

/* Random acquire/try/release/cancel against a model: every waiter is
 * granted exactly once or cancelled, nobody waits while permits are free. */
static void test_random(struct rb_loop *loop)
{
	enum { N = 2000 };
	static struct waiter w[N];
	static bool held[N], cancelled[N];
	struct rb_cap cap;
	struct rb_cap_opts o = { .permits = 16, .headroom = 4, .bytes = 4096, .bytes_headroom = 1024 };
	unsigned seed = 12345;
	int i, granted = 0, ncancel = 0;

	rb_cap_init(&cap, loop, &o);
	memset(w, 0, sizeof(w));
	memset(held, 0, sizeof(held));
	memset(cancelled, 0, sizeof(cancelled));
	for (i = 0; i < N; i++) {
		w[i].id = i;
		rb_cap_acquire(&cap, &w[i].w, (i % 3) ? RB_CAP_BULK : RB_CAP_INTERACTIVE, 1 + i % 3,
			       (size_t)(i % 7) * 100, on_grant);
		if (rand_r(&seed) % 10 == 0 && rb_cap_cancel(&w[i].w)) {
			cancelled[i] = true;
			ncancel++;
		}
		if (rand_r(&seed) % 2)
			spin(loop, 1);
		/* release a random held one */
		for (int k = 0; k < 2; k++) {
			int j = (int)(rand_r(&seed) % (unsigned)(i + 1));
			if (w[j].granted && !held[j]) {
				held[j] = true;
				rb_cap_release(&cap, w[j].w.cls, w[j].w.n, w[j].w.bytes);
			}
		}
	}
	for (int round = 0; round < 10000; round++) {
		spin(loop, 1);
		bool any = false;
		for (i = 0; i < N; i++)
			if (w[i].granted && !held[i]) {
				held[i] = true;
				any = true;
				rb_cap_release(&cap, w[i].w.cls, w[i].w.n, w[i].w.bytes);
			}
		if (!any && rb_cap_idle(&cap))
			break;
	}
	for (i = 0; i < N; i++) {
		if (w[i].granted == cancelled[i]) T_FAIL("waiter %d: granted %d cancelled %d state %d used %u %u bytes %zu %zu", i, w[i].granted, cancelled[i], (int)w[i].w.state, cap.used[0], cap.used[1], cap.bytes_used[0], cap.bytes_used[1]);
		if (w[i].granted)
			granted++;
	}
	ASSERT_EQ(granted + ncancel, N);
	ASSERT(rb_cap_idle(&cap));
}

int main(void)
{
	for (int e = RB_ENGINE_RING; e <= RB_ENGINE_EPOLL; e++) {
		struct rb_loop *loop;
		struct rb_loop_opts lo = { .engine = (enum rb_engine)e, .quiet = true };
		if (rb_loop_new(&loop, &lo) < 0) {
			fprintf(stderr, "engine %d unavailable, skipped\n", e);
			continue;
		}
		test_fifo(loop);
		test_interactive_headroom(loop);
		test_bytes(loop);
		test_cancel(loop);
		test_random(loop);
		rb_loop_stop(loop);
		ASSERT_EQ(rb_loop_run(loop), 0);
		rb_loop_free(loop);
	}
	return T_EXIT_PASS;
}
