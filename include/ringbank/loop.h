/* loop.h: the event loop. One per process, one thread.
 *
 * Two engines sit behind the same API:
 *  - ring:  one io_uring (SINGLE_ISSUER|DEFER_TASKRUN where the kernel takes
 *           them); every wait is io_uring_submit_and_wait_timeout, and file
 *           ops of the uring io backend are SQEs on this ring.
 *  - epoll: used only when io_uring_setup is refused (seccomp, the
 *           kernel.io_uring_disabled sysctl, an old kernel); waits with
 *           epoll_wait on fds and eventfds. Only the threads io backend runs
 *           on it. This is exactly libuv's shape (epoll + thread pool).
 *
 * Services common to both engines: timers (a min-heap in user space, the
 * nearest deadline becomes the wait timeout), deferred callbacks (run once on
 * the next loop turn, never re-entrantly), async wake-ups posted from other
 * threads (one eventfd each), and one-shot fd readiness polls.
 *
 * Ownership: every struct passed in (rb_timer, rb_defer, rb_async, rb_poll,
 * rb_ring_op) is owned by the caller and must stay valid until its callback
 * has run or it was stopped. Functions return 0 or a negative errno. */
#ifndef RINGBANK_LOOP_H
#define RINGBANK_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringbank/list.h"

struct io_uring;
struct io_uring_sqe;
struct rb_loop;

enum rb_engine {
	RB_ENGINE_AUTO = 0,	/* ring, else epoll (logged on stderr) */
	RB_ENGINE_RING,		/* ring or fail with -errno */
	RB_ENGINE_EPOLL,
};

struct rb_loop_opts {
	enum rb_engine engine;
	unsigned sq_entries;	   /* SQ size (default 256); CQ is 8x */
	unsigned fixed_files;	   /* sparse direct-descriptor table (default 1024, 0 = none) */
	unsigned iowq_max_workers; /* cap on io-wq bounded workers (default 8, 0 = kernel default) */
	bool quiet;		   /* no start-up log line on stderr */
};

/* Creates a loop. On failure *out is NULL and a negative errno is returned;
 * for RB_ENGINE_RING, -EPERM/-ENOSYS mean io_uring is blocked here. */
int rb_loop_new(struct rb_loop **out, const struct rb_loop_opts *opts);
/* Frees a loop that has no pending work left (call after rb_loop_run returned). NULL ok. */
void rb_loop_free(struct rb_loop *loop);

/* Runs until rb_loop_stop() was called and all in-flight ring ops, pending
 * defers and active polls have finished (the drain). Returns 0 or -errno on a
 * fatal ring error. */
int rb_loop_run(struct rb_loop *loop);
/* One loop turn: run due timers and defers, submit, wait (if `wait` and
 * nothing is ready) for at most the nearest timer or timeout_ms (-1 = no
 * limit), dispatch completions. Returns the number of callbacks run or -errno. */
int rb_loop_run_once(struct rb_loop *loop, bool wait, int timeout_ms);
/* Asks rb_loop_run to return once drained. Safe from callbacks. */
void rb_loop_stop(struct rb_loop *loop);
bool rb_loop_stopping(const struct rb_loop *loop);

enum rb_engine rb_loop_engine(const struct rb_loop *loop);
/* A human description, e.g. "ring (SINGLE_ISSUER|DEFER_TASKRUN, 1024 fixed files)". */
const char *rb_loop_describe(const struct rb_loop *loop);
/* Why the ring was not used on an AUTO loop that fell back to epoll, or NULL. */
const char *rb_loop_fallback_reason(const struct rb_loop *loop);

uint64_t rb_now_ns(void);			/* CLOCK_MONOTONIC */
uint64_t rb_loop_now_ns(const struct rb_loop *loop); /* cached at each turn */

/* ---- ring access (ring engine only) ------------------------------------ */

/* Every SQE submitted through the loop carries a pointer to one of these as
 * its user_data; the loop calls complete() for each CQE. */
struct rb_ring_op {
	void (*complete)(struct rb_ring_op *op, int res, unsigned cqe_flags);
};

/* The ring, or NULL on the epoll engine. */
struct io_uring *rb_loop_ring(struct rb_loop *loop);
/* An SQE for op (user_data set), submitting queued SQEs first if the SQ is
 * full. op may be NULL for SQEs whose completion nobody needs (the CQE is
 * counted and dropped). Returns NULL only on the epoll engine or if the ring
 * is broken. Counts one in-flight op until its CQE arrives (CQE_F_MORE
 * completions do not end it). */
struct io_uring_sqe *rb_loop_sqe(struct rb_loop *loop, struct rb_ring_op *op);
/* Makes sure n SQEs can be taken without an intervening submit (a linked
 * chain must not be split across submissions). 0 or -EBUSY. */
int rb_loop_sq_reserve(struct rb_loop *loop, unsigned n);
/* Ring ops submitted and not yet completed. */
unsigned rb_loop_inflight(const struct rb_loop *loop);
/* Registered direct-descriptor slots: take one (>= 0) or -ENFILE if none free. */
int rb_loop_slot_get(struct rb_loop *loop);
void rb_loop_slot_put(struct rb_loop *loop, int slot);
/* Whether the kernel takes an opcode (probed at start-up). */
bool rb_loop_has_op(const struct rb_loop *loop, unsigned opcode);

/* ---- timers --------------------------------------------------------------- */

struct rb_timer {
	uint64_t when_ns;
	void (*cb)(struct rb_timer *t);
	void *data;
	unsigned heap_idx; /* private; 0 = not armed */
};

/* (Re)arms t to fire once after delay_ms. */
void rb_timer_start(struct rb_loop *loop, struct rb_timer *t, uint64_t delay_ms,
		    void (*cb)(struct rb_timer *t));
void rb_timer_start_ns(struct rb_loop *loop, struct rb_timer *t, uint64_t delay_ns,
		       void (*cb)(struct rb_timer *t));
void rb_timer_stop(struct rb_loop *loop, struct rb_timer *t);
static inline bool rb_timer_active(const struct rb_timer *t) { return t->heap_idx != 0; }

/* ---- deferred callbacks -------------------------------------------------- */

struct rb_defer {
	struct rb_list node; /* private */
	void (*cb)(struct rb_defer *d);
	void *data;
	bool queued;
};

/* Runs cb once on the next loop turn (FIFO). Re-queueing a queued defer is a no-op. */
void rb_defer(struct rb_loop *loop, struct rb_defer *d, void (*cb)(struct rb_defer *d));
void rb_defer_cancel(struct rb_loop *loop, struct rb_defer *d);

/* ---- wake-ups from other threads ----------------------------------------- */

struct rb_async {
	void (*cb)(struct rb_async *a); /* runs on the loop after one or more sends */
	void *data;
	/* private */
	struct rb_loop *loop;
	int efd;
	uint64_t buf;
	struct rb_ring_op rop;
	bool armed, closing;
	struct rb_defer close_defer;
	void (*close_cb)(struct rb_async *a);
};

int rb_async_init(struct rb_loop *loop, struct rb_async *a, void (*cb)(struct rb_async *a));
/* Thread-safe; coalesces. */
void rb_async_send(struct rb_async *a);
/* Stops watching; close_cb (may be NULL) runs once the ring has let go of it. */
void rb_async_close(struct rb_async *a, void (*close_cb)(struct rb_async *a));

/* ---- fd readiness (one-shot) ----------------------------------------------- */

struct rb_poll {
	void (*cb)(struct rb_poll *p, int revents); /* revents, or -ECANCELED / -errno */
	void *data;
	/* private */
	struct rb_loop *loop;
	int fd;
	unsigned events;
	struct rb_ring_op rop;
	struct rb_defer always_ready; /* regular files: epoll refuses them */
	bool active, registered;
	struct rb_list node;
};

/* Calls cb once when fd has one of events (POLLIN/POLLOUT...). */
int rb_poll_start(struct rb_loop *loop, struct rb_poll *p, int fd, unsigned events,
		  void (*cb)(struct rb_poll *p, int revents));
/* Cancels a pending poll; cb then runs with -ECANCELED (asynchronously). */
void rb_poll_stop(struct rb_poll *p);

/* ---- logging (stderr; the MCP layer adds a sink for notifications/message) ---- */

enum rb_log_level { RB_LOG_DEBUG, RB_LOG_INFO, RB_LOG_NOTICE, RB_LOG_WARNING, RB_LOG_ERROR };
void rb_log(enum rb_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rb_log_set_level(enum rb_log_level lvl);
/* An extra sink called for each message at or above the level (e.g. MCP logging). */
void rb_log_set_sink(void (*sink)(void *ctx, enum rb_log_level lvl, const char *msg), void *ctx);

#endif
