/* loop.c: the event loop (see include/ringbank/loop.h).
 *
 * One turn: run due timers, run the defers queued before the turn began,
 * then submit everything queued and wait (ring: one
 * io_uring_submit_and_wait_timeout; epoll: one epoll_wait) for at most the
 * nearest timer, and dispatch completions in batches. A turn never waits if
 * defers are pending. Completions are copied out of the CQ in batches and the
 * CQ head advanced once per batch before any callback runs, so callbacks may
 * submit freely without the CQ filling under them. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "ringbank/loop.h"

#define CQE_BATCH 64
#define DRAIN_GRACE_NS (5ull * 1000000000ull)

struct rb_loop {
	enum rb_engine engine;
	struct io_uring ring;
	unsigned setup_flags;
	struct io_uring_probe *probe;
	int epfd;
	unsigned inflight;	/* ring ops submitted, CQE not yet seen */
	unsigned polls;		/* active rb_poll */
	unsigned asyncs;	/* open rb_async */
	bool stop;
	bool cancel_all_sent;
	uint64_t stop_ns;
	uint64_t now;
	struct rb_timer **heap;	/* 1-based min-heap on when_ns */
	unsigned heap_n, heap_cap;
	struct rb_list defers;
	int *slots;		/* free direct-descriptor slots (stack) */
	unsigned nslots, nslots_free;
	char desc[160];
	char fallback[160];
};

uint64_t rb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t rb_loop_now_ns(const struct rb_loop *loop) { return loop->now; }
enum rb_engine rb_loop_engine(const struct rb_loop *loop) { return loop->engine; }
const char *rb_loop_describe(const struct rb_loop *loop) { return loop->desc; }
const char *rb_loop_fallback_reason(const struct rb_loop *loop)
{
	return loop->fallback[0] ? loop->fallback : NULL;
}
struct io_uring *rb_loop_ring(struct rb_loop *loop)
{
	return loop->engine == RB_ENGINE_RING ? &loop->ring : NULL;
}
unsigned rb_loop_inflight(const struct rb_loop *loop) { return loop->inflight; }
bool rb_loop_stopping(const struct rb_loop *loop) { return loop->stop; }

bool rb_loop_has_op(const struct rb_loop *loop, unsigned opcode)
{
	return loop->probe && io_uring_opcode_supported(loop->probe, (int)opcode);
}

/* ---- creation ---------------------------------------------------------------- */

/* Tries ring set-ups from the most to the least capable; returns 0 or the
 * last -errno. The kernel refuses unknown flags with -EINVAL; -EPERM/-ENOSYS
 * mean io_uring is blocked outright and no variant will help. */
static int ring_create(struct rb_loop *loop, const struct rb_loop_opts *o)
{
	static const struct { unsigned flags; const char *name; } tries[] = {
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, "SINGLE_ISSUER|DEFER_TASKRUN" },
		{ IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN, "SINGLE_ISSUER|COOP_TASKRUN" },
		{ IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN" },
		{ 0, "no optional flags" },
	};
	unsigned entries = o->sq_entries ? o->sq_entries : 256;
	const char *name = "";
	int r = -EINVAL;
	size_t i;

	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = tries[i].flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = entries * 8;
		r = io_uring_queue_init_params(entries, &loop->ring, &p);
		if (r == -EINVAL) {
			/* SUBMIT_ALL (5.18) may be what the kernel refuses. */
			p.flags &= ~IORING_SETUP_SUBMIT_ALL;
			r = io_uring_queue_init_params(entries, &loop->ring, &p);
		}
		if (r == 0) {
			loop->setup_flags = p.flags;
			name = tries[i].name;
			break;
		}
		if (r != -EINVAL)
			return r;
	}
	if (r < 0)
		return r;

	loop->probe = io_uring_get_probe_ring(&loop->ring);
	{
		unsigned nf = o->fixed_files ? o->fixed_files : 1024;
		if (io_uring_register_files_sparse(&loop->ring, nf) == 0) {
			loop->slots = malloc(nf * sizeof(int));
			if (loop->slots) {
				loop->nslots = loop->nslots_free = nf;
				for (unsigned k = 0; k < nf; k++)
					loop->slots[k] = (int)(nf - 1 - k);
			}
		}
	}
	{
		/* Bound io-wq so a cold scan cannot spawn hundreds of workers. */
		unsigned vals[2] = { o->iowq_max_workers ? o->iowq_max_workers : 8,
				     o->iowq_max_workers ? o->iowq_max_workers : 8 };
		(void)io_uring_register_iowq_max_workers(&loop->ring, vals);
	}
	snprintf(loop->desc, sizeof(loop->desc), "io_uring (%s, %u fixed-file slots)", name, loop->nslots);
	return 0;
}

static int epoll_create_engine(struct rb_loop *loop)
{
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		return -errno;
	snprintf(loop->desc, sizeof(loop->desc), "epoll");
	return 0;
}

int rb_loop_new(struct rb_loop **out, const struct rb_loop_opts *opts)
{
	struct rb_loop_opts o = { 0 };
	struct rb_loop *loop;
	int r;

	*out = NULL;
	if (opts)
		o = *opts;
	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->epfd = -1;
	rb_list_init(&loop->defers);
	loop->heap_cap = 64;
	loop->heap = calloc(loop->heap_cap + 1, sizeof(*loop->heap));
	if (!loop->heap) {
		free(loop);
		return -ENOMEM;
	}

	if (o.engine == RB_ENGINE_EPOLL) {
		loop->engine = RB_ENGINE_EPOLL;
		r = epoll_create_engine(loop);
	} else {
		loop->engine = RB_ENGINE_RING;
		r = ring_create(loop, &o);
		if (r < 0 && o.engine == RB_ENGINE_AUTO) {
			snprintf(loop->fallback, sizeof(loop->fallback), "io_uring_setup failed: %s%s",
				 strerror(-r),
				 r == -EPERM ? " (blocked by seccomp or kernel.io_uring_disabled)" :
				 r == -ENOSYS ? " (kernel without io_uring)" : "");
			loop->engine = RB_ENGINE_EPOLL;
			r = epoll_create_engine(loop);
		}
	}
	if (r < 0) {
		free(loop->heap);
		free(loop);
		return r;
	}
	loop->now = rb_now_ns();
	if (!o.quiet)
		rb_log(RB_LOG_INFO, "event loop: %s", loop->desc);
	*out = loop;
	return 0;
}

void rb_loop_free(struct rb_loop *loop)
{
	if (!loop)
		return;
	if (loop->engine == RB_ENGINE_RING) {
		if (loop->probe)
			io_uring_free_probe(loop->probe);
		io_uring_queue_exit(&loop->ring);
	}
	if (loop->epfd >= 0)
		close(loop->epfd);
	free(loop->slots);
	free(loop->heap);
	free(loop);
}

/* ---- ring access ---------------------------------------------------------------- */

struct io_uring_sqe *rb_loop_sqe(struct rb_loop *loop, struct rb_ring_op *op)
{
	struct io_uring_sqe *sqe;
	if (loop->engine != RB_ENGINE_RING)
		return NULL;
	sqe = io_uring_get_sqe(&loop->ring);
	if (!sqe) {
		/* SQ full: hand what is queued to the kernel and retry. -EBUSY
		 * means the CQ overflowed: the next turn reaps first. */
		int r = io_uring_submit(&loop->ring);
		if (r < 0 && r != -EBUSY && r != -EAGAIN)
			return NULL;
		sqe = io_uring_get_sqe(&loop->ring);
		if (!sqe)
			return NULL;
	}
	io_uring_sqe_set_data(sqe, op);
	loop->inflight++;
	return sqe;
}

int rb_loop_sq_reserve(struct rb_loop *loop, unsigned n)
{
	if (loop->engine != RB_ENGINE_RING)
		return -EBUSY;
	if (io_uring_sq_space_left(&loop->ring) >= n)
		return 0;
	(void)io_uring_submit(&loop->ring);
	return io_uring_sq_space_left(&loop->ring) >= n ? 0 : -EBUSY;
}

int rb_loop_slot_get(struct rb_loop *loop)
{
	if (!loop->nslots_free)
		return -ENFILE;
	return loop->slots[--loop->nslots_free];
}

void rb_loop_slot_put(struct rb_loop *loop, int slot)
{
	if (slot >= 0 && loop->nslots_free < loop->nslots)
		loop->slots[loop->nslots_free++] = slot;
}

/* ---- timers -------------------------------------------------------------------------- */

static void heap_swap(struct rb_loop *loop, unsigned a, unsigned b)
{
	struct rb_timer *t = loop->heap[a];
	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->heap_idx = a;
	loop->heap[b]->heap_idx = b;
}

static void heap_up(struct rb_loop *loop, unsigned i)
{
	while (i > 1 && loop->heap[i / 2]->when_ns > loop->heap[i]->when_ns) {
		heap_swap(loop, i, i / 2);
		i /= 2;
	}
}

static void heap_down(struct rb_loop *loop, unsigned i)
{
	for (;;) {
		unsigned l = 2 * i, r = l + 1, m = i;
		if (l <= loop->heap_n && loop->heap[l]->when_ns < loop->heap[m]->when_ns)
			m = l;
		if (r <= loop->heap_n && loop->heap[r]->when_ns < loop->heap[m]->when_ns)
			m = r;
		if (m == i)
			return;
		heap_swap(loop, i, m);
		i = m;
	}
}

void rb_timer_stop(struct rb_loop *loop, struct rb_timer *t)
{
	unsigned i = t->heap_idx;
	if (!i)
		return;
	t->heap_idx = 0;
	if (i != loop->heap_n) {
		loop->heap[i] = loop->heap[loop->heap_n];
		loop->heap[i]->heap_idx = i;
		loop->heap_n--;
		heap_up(loop, i);
		heap_down(loop, loop->heap[i]->heap_idx);
	} else {
		loop->heap_n--;
	}
}

void rb_timer_start_ns(struct rb_loop *loop, struct rb_timer *t, uint64_t delay_ns,
		       void (*cb)(struct rb_timer *t))
{
	rb_timer_stop(loop, t);
	if (loop->heap_n == loop->heap_cap) {
		struct rb_timer **h = realloc(loop->heap, (loop->heap_cap * 2 + 1) * sizeof(*h));
		if (!h)
			abort(); /* a timer cannot be dropped silently; out of memory here is fatal */
		loop->heap = h;
		loop->heap_cap *= 2;
	}
	t->cb = cb;
	t->when_ns = rb_now_ns() + delay_ns;
	loop->heap[++loop->heap_n] = t;
	t->heap_idx = loop->heap_n;
	heap_up(loop, loop->heap_n);
}

void rb_timer_start(struct rb_loop *loop, struct rb_timer *t, uint64_t delay_ms,
		    void (*cb)(struct rb_timer *t))
{
	rb_timer_start_ns(loop, t, delay_ms * 1000000ull, cb);
}

static int run_timers(struct rb_loop *loop)
{
	int n = 0;
	while (loop->heap_n && loop->heap[1]->when_ns <= loop->now) {
		struct rb_timer *t = loop->heap[1];
		rb_timer_stop(loop, t);
		t->cb(t); /* may re-arm t or stop others */
		n++;
	}
	return n;
}

/* ---- defers ------------------------------------------------------------------------------ */

void rb_defer(struct rb_loop *loop, struct rb_defer *d, void (*cb)(struct rb_defer *d))
{
	if (d->queued)
		return;
	d->cb = cb;
	d->queued = true;
	rb_list_add_tail(&loop->defers, &d->node);
}

void rb_defer_cancel(struct rb_loop *loop, struct rb_defer *d)
{
	(void)loop;
	if (!d->queued)
		return;
	rb_list_del(&d->node);
	d->queued = false;
}

/* Runs the defers queued before this call; ones queued meanwhile wait for the next turn. */
static int run_defers(struct rb_loop *loop)
{
	struct rb_list batch;
	struct rb_list *n;
	int cnt = 0;
	if (rb_list_empty(&loop->defers))
		return 0;
	/* Move the whole list to a local head. */
	batch.next = loop->defers.next;
	batch.prev = loop->defers.prev;
	batch.next->prev = &batch;
	batch.prev->next = &batch;
	rb_list_init(&loop->defers);
	while ((n = rb_list_pop(&batch))) {
		struct rb_defer *d = rb_container_of(n, struct rb_defer, node);
		d->queued = false;
		d->cb(d);
		cnt++;
	}
	return cnt;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

static int reap_ring(struct rb_loop *loop)
{
	struct io_uring_cqe *cqes[CQE_BATCH];
	struct { struct rb_ring_op *op; int res; unsigned flags; } batch[CQE_BATCH];
	int total = 0;
	for (;;) {
		unsigned n = io_uring_peek_batch_cqe(&loop->ring, cqes, CQE_BATCH), i;
		if (!n)
			break;
		for (i = 0; i < n; i++) {
			batch[i].op = io_uring_cqe_get_data(cqes[i]);
			batch[i].res = cqes[i]->res;
			batch[i].flags = cqes[i]->flags;
		}
		io_uring_cq_advance(&loop->ring, n);
		for (i = 0; i < n; i++) {
			if (!(batch[i].flags & IORING_CQE_F_MORE))
				loop->inflight--;
			if (batch[i].op)
				batch[i].op->complete(batch[i].op, batch[i].res, batch[i].flags);
		}
		total += (int)n;
	}
	return total;
}

static int wait_ring(struct rb_loop *loop, int64_t timeout_ns)
{
	struct io_uring_cqe *cqe;
	int r;
	if (timeout_ns == 0) {
		r = io_uring_submit_and_get_events(&loop->ring);
	} else if (timeout_ns < 0) {
		r = io_uring_submit_and_wait(&loop->ring, 1);
	} else {
		struct __kernel_timespec ts = { .tv_sec = timeout_ns / 1000000000,
						.tv_nsec = timeout_ns % 1000000000 };
		r = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
	}
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY && r != -EAGAIN)
		return r;
	return 0;
}

static int wait_epoll(struct rb_loop *loop, int64_t timeout_ns)
{
	struct epoll_event evs[CQE_BATCH];
	int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	int n = epoll_wait(loop->epfd, evs, CQE_BATCH, ms), i;
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct rb_ring_op *op = evs[i].data.ptr;
		op->complete(op, (int)evs[i].events, 0);
	}
	return n;
}

static bool drained(const struct rb_loop *loop)
{
	return loop->inflight == 0 && loop->polls == 0 && loop->asyncs == 0 &&
	       rb_list_empty(&loop->defers);
}

int rb_loop_run_once(struct rb_loop *loop, bool wait, int timeout_ms)
{
	int64_t tmo;
	int n, r;

	loop->now = rb_now_ns();
	n = run_timers(loop);
	n += run_defers(loop);

	/* A defer that just ran may have finished the drain (e.g. an async
	 * close on the epoll engine): then nothing is left to wake us. */
	if (!wait || !rb_list_empty(&loop->defers) || (loop->stop && drained(loop))) {
		tmo = 0;
	} else {
		tmo = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000000;
		if (loop->heap_n) {
			uint64_t now = rb_now_ns();
			int64_t t = loop->heap[1]->when_ns > now ? (int64_t)(loop->heap[1]->when_ns - now) : 0;
			if (tmo < 0 || t < tmo)
				tmo = t;
		}
		if (loop->stop && loop->inflight && tmo < 0)
			tmo = 100000000; /* keep checking the drain deadline */
	}
	if (loop->engine == RB_ENGINE_RING) {
		r = wait_ring(loop, tmo);
		if (r < 0)
			return r;
		n += reap_ring(loop);
	} else {
		r = wait_epoll(loop, tmo);
		if (r < 0)
			return r;
		n += r;
	}
	loop->now = rb_now_ns();
	return n;
}

void rb_loop_stop(struct rb_loop *loop)
{
	if (!loop->stop) {
		loop->stop = true;
		loop->stop_ns = rb_now_ns();
	}
}

int rb_loop_run(struct rb_loop *loop)
{
	for (;;) {
		int r;
		if (loop->stop && drained(loop))
			return 0;
		if (loop->stop && !loop->cancel_all_sent && loop->inflight &&
		    rb_now_ns() - loop->stop_ns > DRAIN_GRACE_NS && loop->engine == RB_ENGINE_RING) {
			/* Owners did not cancel what they left in flight: cancel
			 * everything so the drain cannot hang. */
			struct io_uring_sqe *sqe = rb_loop_sqe(loop, NULL);
			rb_log(RB_LOG_WARNING, "shutdown: cancelling %u ring ops still in flight", loop->inflight - 1);
			if (sqe)
				io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
			loop->cancel_all_sent = true;
		}
		r = rb_loop_run_once(loop, true, -1);
		if (r < 0)
			return r;
	}
}

/* ---- async wake-ups ------------------------------------------------------------------------ */

static void async_arm(struct rb_async *a);

static void async_finish_close(struct rb_async *a)
{
	close(a->efd);
	a->efd = -1;
	a->loop->asyncs--;
	if (a->close_cb)
		a->close_cb(a);
}

static void async_ring_done(struct rb_ring_op *op, int res, unsigned flags)
{
	struct rb_async *a = rb_container_of(op, struct rb_async, rop);
	(void)flags;
	a->armed = false;
	if (a->closing) {
		async_finish_close(a);
		return;
	}
	if (res < 0 && res != -EINTR && res != -EAGAIN && res != -ECANCELED)
		rb_log(RB_LOG_ERROR, "eventfd read failed: %s", strerror(-res));
	async_arm(a);
	a->cb(a);
}

static void async_epoll_ready(struct rb_ring_op *op, int events, unsigned flags)
{
	struct rb_async *a = rb_container_of(op, struct rb_async, rop);
	uint64_t v;
	(void)events;
	(void)flags;
	if (read(a->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		rb_log(RB_LOG_ERROR, "eventfd read failed: %s", strerror(errno));
	if (!a->closing)
		a->cb(a);
}

static void async_arm(struct rb_async *a)
{
	struct io_uring_sqe *sqe = rb_loop_sqe(a->loop, &a->rop);
	if (!sqe) {
		rb_log(RB_LOG_ERROR, "no SQE for the eventfd read: wake-ups lost");
		return;
	}
	io_uring_prep_read(sqe, a->efd, &a->buf, sizeof(a->buf), 0);
	a->armed = true;
}

int rb_async_init(struct rb_loop *loop, struct rb_async *a, void (*cb)(struct rb_async *a))
{
	a->loop = loop;
	a->cb = cb;
	a->closing = false;
	a->armed = false;
	a->close_cb = NULL;
	memset(&a->close_defer, 0, sizeof(a->close_defer));
	a->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->efd < 0)
		return -errno;
	if (loop->engine == RB_ENGINE_RING) {
		a->rop.complete = async_ring_done;
		async_arm(a);
	} else {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &a->rop };
		a->rop.complete = async_epoll_ready;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, a->efd, &ev) < 0) {
			int e = -errno;
			close(a->efd);
			return e;
		}
	}
	loop->asyncs++;
	return 0;
}

void rb_async_send(struct rb_async *a)
{
	uint64_t one = 1;
	/* A full counter (EAGAIN) still wakes the loop. */
	while (write(a->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

static void async_close_deferred(struct rb_defer *d)
{
	async_finish_close(d->data);
}

void rb_async_close(struct rb_async *a, void (*close_cb)(struct rb_async *a))
{
	if (a->closing)
		return;
	a->closing = true;
	a->close_cb = close_cb;
	if (a->loop->engine == RB_ENGINE_RING && a->armed) {
		/* Complete the pending read ourselves; its CQE finishes the close. */
		rb_async_send(a);
		return;
	}
	if (a->loop->engine == RB_ENGINE_EPOLL)
		epoll_ctl(a->loop->epfd, EPOLL_CTL_DEL, a->efd, NULL);
	a->close_defer.data = a;
	rb_defer(a->loop, &a->close_defer, async_close_deferred);
}

/* ---- fd readiness ------------------------------------------------------------------------------ */

static void poll_ring_done(struct rb_ring_op *op, int res, unsigned flags)
{
	struct rb_poll *p = rb_container_of(op, struct rb_poll, rop);
	(void)flags;
	p->active = false;
	p->loop->polls--;
	p->cb(p, res);
}

static void poll_epoll_ready(struct rb_ring_op *op, int events, unsigned flags)
{
	struct rb_poll *p = rb_container_of(op, struct rb_poll, rop);
	(void)flags;
	if (!p->active)
		return;
	p->active = false;
	p->loop->polls--;
	p->cb(p, events);
}

static void poll_deferred(struct rb_defer *d)
{
	struct rb_poll *p = d->data;
	int ev = p->active ? (int)(p->events & (POLLIN | POLLOUT)) : -ECANCELED;
	if (p->active) {
		p->active = false;
		p->loop->polls--;
	}
	p->cb(p, ev);
}

int rb_poll_start(struct rb_loop *loop, struct rb_poll *p, int fd, unsigned events,
		  void (*cb)(struct rb_poll *p, int revents))
{
	if (p->active)
		return -EBUSY;
	if (p->loop != loop) {
		p->registered = false;
		memset(&p->always_ready, 0, sizeof(p->always_ready));
	}
	p->loop = loop;
	p->fd = fd;
	p->events = events;
	p->cb = cb;
	if (loop->engine == RB_ENGINE_RING) {
		struct io_uring_sqe *sqe;
		p->rop.complete = poll_ring_done;
		sqe = rb_loop_sqe(loop, &p->rop);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_poll_add(sqe, fd, events);
	} else {
		struct epoll_event ev = { .events = 0, .data.ptr = &p->rop };
		if (events & POLLIN)
			ev.events |= EPOLLIN | EPOLLRDHUP;
		if (events & POLLOUT)
			ev.events |= EPOLLOUT;
		ev.events |= EPOLLONESHOT;
		p->rop.complete = poll_epoll_ready;
		if (epoll_ctl(loop->epfd, p->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) {
			int e = errno;
			if (e == ENOENT && epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
				p->registered = true;
			} else if (e == EEXIST && epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) {
				p->registered = true;
			} else if (e == EPERM) {
				/* Regular files are always ready; epoll refuses them. */
				p->always_ready.data = p;
				p->active = true;
				loop->polls++;
				rb_defer(loop, &p->always_ready, poll_deferred);
				return 0;
			} else {
				return -e;
			}
		} else {
			p->registered = true;
		}
	}
	p->active = true;
	loop->polls++;
	return 0;
}

void rb_poll_stop(struct rb_poll *p)
{
	struct rb_loop *loop = p->loop;
	if (!p->active)
		return;
	if (loop->engine == RB_ENGINE_RING) {
		struct io_uring_sqe *sqe = rb_loop_sqe(loop, NULL);
		if (sqe)
			io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)&p->rop, 0);
		return; /* the poll's CQE arrives with -ECANCELED */
	}
	if (p->always_ready.queued) {
		/* Let the queued defer report the cancel. */
		p->active = false;
		loop->polls--;
		return;
	}
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, p->fd, NULL);
	p->registered = false;
	p->active = false;
	loop->polls--;
	p->always_ready.data = p;
	rb_defer(loop, &p->always_ready, poll_deferred);
}
