/* io_threads.c: the thread-pool I/O backend, shaped like libuv's
 * src/threadpool.c. Requests go on a work queue (mutex + condvar, intrusive
 * list through req->node); N pthreads ("rb-io-N") pop them and run them as
 * blocking syscalls (rb_io_run_sync); finished requests go on a done queue
 * under the same mutex and a worker wakes the loop through one rb_async. The
 * async callback drains the done queue in one batch and finishes each request
 * with rb_io_complete on the loop thread.
 *
 * This is the comparison variant for the benchmark: it must be as good as a
 * real thread pool, so it coalesces wake-ups (only the push that makes the
 * done queue non-empty sends) and signals the condvar only when a worker is
 * idle, like libuv. Workers block every signal so SIGTERM/SIGINT/SIGCHLD are
 * delivered to the loop thread.
 *
 * Shutdown never blocks the loop: it tells workers to exit once the queue is
 * empty; the last one to leave sends the async, whose callback joins the
 * (already finished) threads and closes the async so rb_loop_run can drain. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_internal.h"

#define RB_IO_THREADS_DEFAULT 4
#define RB_IO_THREADS_MAX 256

struct rb_io_threads {
	struct rb_io io; /* first: the shared part */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct rb_list work; /* submitted, not yet picked up */
	struct rb_list done; /* finished, not yet completed on the loop */
	unsigned idle;	     /* workers waiting on cond */
	unsigned alive;	     /* workers not yet exited */
	bool stopping;	     /* shutdown asked: exit when work is empty */
	/* loop thread only */
	bool joined;
	bool destroyed; /* rb_io_free ran before the async finished closing */
	enum { ASYNC_OPEN, ASYNC_CLOSING, ASYNC_CLOSED } async_state;
	struct rb_async async;
	unsigned nthreads;
	pthread_t *tids;
};

static struct rb_io_threads *to_pool(struct rb_io *io)
{
	return rb_container_of(io, struct rb_io_threads, io);
}

/* Moves every node of from to the tail of to, leaving from empty. */
static void list_splice_tail(struct rb_list *to, struct rb_list *from)
{
	if (rb_list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	rb_list_init(from);
}

static void *worker(void *arg)
{
	struct rb_io_threads *p = arg;
	struct rb_io_req *req;
	struct rb_list *n;
	bool wake, last;
	int64_t res;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (rb_list_empty(&p->work) && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->cond, &p->mu);
			p->idle--;
		}
		n = rb_list_pop(&p->work);
		if (!n)
			break; /* stopping and nothing left */
		req = rb_container_of(n, struct rb_io_req, node);
		req->running = true;
		pthread_mutex_unlock(&p->mu);

		/* A deadline that passed while queued fails the op unrun; once a
		 * blocking syscall has started it cannot be interrupted. */
		if (req->timeout_ns && rb_now_ns() >= (uint64_t)req->sub[0])
			res = -ETIME;
		else
			res = rb_io_run_sync(req);

		pthread_mutex_lock(&p->mu);
		req->res = res;
		/* Only the push that makes the queue non-empty needs to wake the
		 * loop: the callback takes the whole queue, and a later push
		 * after it has taken it finds the queue empty again. */
		wake = rb_list_empty(&p->done);
		rb_list_add_tail(&p->done, &req->node);
		if (wake) {
			pthread_mutex_unlock(&p->mu);
			rb_async_send(&p->async);
			pthread_mutex_lock(&p->mu);
		}
	}
	last = --p->alive == 0;
	pthread_mutex_unlock(&p->mu);
	if (last)
		rb_async_send(&p->async); /* lets the loop join and close */
	return NULL;
}

static void join_all(struct rb_io_threads *p)
{
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->tids[i], NULL);
	p->joined = true;
}

static void pool_free(struct rb_io_threads *p)
{
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p->tids);
	free(p);
}

/* The loop may hold the async (an armed eventfd read) until its close
 * completes, so the pool's memory is freed only after that. */
static void async_closed(struct rb_async *a)
{
	struct rb_io_threads *p = a->data;
	p->async_state = ASYNC_CLOSED;
	if (p->destroyed)
		pool_free(p);
}

static void async_close(struct rb_io_threads *p)
{
	if (p->async_state != ASYNC_OPEN)
		return;
	p->async_state = ASYNC_CLOSING;
	rb_async_close(&p->async, async_closed);
}

/* Loop thread: finish everything the workers have done so far. */
static void on_async(struct rb_async *a)
{
	struct rb_io_threads *p = a->data;
	struct rb_list batch, *n;
	bool finished;

	rb_list_init(&batch);
	pthread_mutex_lock(&p->mu);
	list_splice_tail(&batch, &p->done);
	finished = p->stopping && p->alive == 0;
	pthread_mutex_unlock(&p->mu);

	/* Callbacks may submit or cancel: the lock is not held here. */
	while ((n = rb_list_pop(&batch))) {
		struct rb_io_req *req = rb_container_of(n, struct rb_io_req, node);
		req->running = false;
		rb_io_complete(&p->io, req);
	}

	/* Every worker has left its loop (alive == 0 was set just before its
	 * last instructions), so the joins return at once. */
	if (finished && !p->joined) {
		join_all(p);
		async_close(p);
	}
}

static int threads_submit(struct rb_io *io, struct rb_io_req *req)
{
	struct rb_io_threads *p = to_pool(io);

	if (req->timeout_ns)
		req->sub[0] = (int64_t)(rb_now_ns() + req->timeout_ns);
	pthread_mutex_lock(&p->mu);
	if (p->stopping) {
		pthread_mutex_unlock(&p->mu);
		return -ESHUTDOWN;
	}
	rb_list_add_tail(&p->work, &req->node);
	if (p->idle)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void cancel_done(struct rb_defer *d)
{
	struct rb_io_req *req = d->data;
	rb_io_complete(req->io, req);
}

/* A queued request is taken off the queue and completed with -ECANCELED on
 * the next loop turn; a running one is left to finish with its real result
 * (a blocking syscall cannot be taken back); a done one completes as is. */
static void threads_cancel(struct rb_io *io, struct rb_io_req *req)
{
	struct rb_io_threads *p = to_pool(io);
	bool queued;

	pthread_mutex_lock(&p->mu);
	queued = !req->running && !rb_list_empty(&req->node);
	if (queued)
		rb_list_del(&req->node);
	pthread_mutex_unlock(&p->mu);
	if (!queued)
		return;
	req->cancelled = true;
	req->res = -ECANCELED;
	req->defer.data = req;
	rb_defer(io->loop, &req->defer, cancel_done);
}

static void threads_shutdown(struct rb_io *io)
{
	struct rb_io_threads *p = to_pool(io);

	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

/* Normally called after shutdown and a drained loop. If the loop did not
 * run after shutdown, the workers are stopped and joined here (blocking is
 * fine: we are tearing down) and the memory is freed when the async's close
 * completes, on a later loop turn. */
static void threads_destroy(struct rb_io *io)
{
	struct rb_io_threads *p = to_pool(io);

	threads_shutdown(io);
	if (!p->joined)
		join_all(p);
	async_close(p);
	if (p->async_state == ASYNC_CLOSING) {
		p->destroyed = true;
		return;
	}
	pool_free(p);
}

static const struct rb_io_vtable threads_vt = {
	.submit = threads_submit,
	.cancel = threads_cancel,
	.shutdown = threads_shutdown,
	.destroy = threads_destroy,
};

int rb_io_threads_new(struct rb_io **out, struct rb_loop *loop, const struct rb_io_opts *opts)
{
	struct rb_io_threads *p;
	sigset_t all, old;
	char name[16];
	unsigned n = opts && opts->threads ? opts->threads : RB_IO_THREADS_DEFAULT;
	int r;

	*out = NULL;
	if (n > RB_IO_THREADS_MAX)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->tids = calloc(n, sizeof(*p->tids));
	if (!p->tids) {
		free(p);
		return -ENOMEM;
	}
	p->io.vt = &threads_vt;
	p->io.loop = loop;
	p->io.kind = RB_IO_BACKEND_THREADS;
	p->io.name = "threads";
	rb_list_init(&p->work);
	rb_list_init(&p->done);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	r = rb_async_init(loop, &p->async, on_async);
	if (r < 0) {
		pool_free(p);
		return r;
	}
	p->async.data = p;

	/* Threads inherit the creator's mask: block everything around
	 * pthread_create so no signal can land on a worker, even early. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; p->nthreads < n; p->nthreads++) {
		pthread_mutex_lock(&p->mu);
		p->alive++;
		pthread_mutex_unlock(&p->mu);
		r = -pthread_create(&p->tids[p->nthreads], NULL, worker, p);
		if (r < 0) {
			pthread_mutex_lock(&p->mu);
			p->alive--;
			pthread_mutex_unlock(&p->mu);
			break;
		}
		snprintf(name, sizeof name, "rb-io-%u", p->nthreads);
		pthread_setname_np(p->tids[p->nthreads], name);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto err;
	*out = &p->io;
	return 0;
err:
	threads_destroy(&p->io);
	return r;
}
