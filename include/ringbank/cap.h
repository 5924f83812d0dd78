/* cap.h: the in-flight cap. A counting semaphore with FIFO wait queues, run
 * on the loop thread (no locks).
 *
 * Two classes share one budget of permits (ops in flight) and bytes (buffers
 * in flight). Bulk work (validate, search, tree, read_multiple) may use at
 * most `permits - headroom` permits and `bytes - bytes_headroom` bytes; the
 * headroom is only for interactive requests, so a read arriving during a
 * 100k-file validation never waits behind the bulk queue. On release,
 * interactive waiters are served before bulk ones; within a class, strictly
 * FIFO (a new request never overtakes a queued one of its class).
 *
 * Grants are always delivered through the waiter's callback on a later loop
 * turn (never from inside rb_cap_acquire or rb_cap_release), so callers have
 * one code path and no re-entrancy. */
#ifndef RINGBANK_CAP_H
#define RINGBANK_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringbank/list.h"
#include "ringbank/loop.h"

enum rb_cap_class { RB_CAP_INTERACTIVE = 0, RB_CAP_BULK = 1 };

struct rb_cap_opts {
	unsigned permits;      /* default 128 */
	unsigned headroom;     /* default permits/4 */
	size_t bytes;	       /* default 64 MiB */
	size_t bytes_headroom; /* default bytes/4 */
};

struct rb_cap_wait {
	void (*cb)(struct rb_cap_wait *w); /* permits are held when this runs */
	void *data;
	/* private */
	struct rb_list node;
	struct rb_defer defer;
	struct rb_cap *cap;
	enum rb_cap_class cls;
	unsigned n;
	size_t bytes;
	enum { RB_CAPW_IDLE, RB_CAPW_QUEUED, RB_CAPW_GRANTED } state;
};

struct rb_cap_stats {
	unsigned used[2], peak[2], waiting[2];
	size_t bytes_used[2], bytes_peak;
	uint64_t grants[2], waits[2];
};

struct rb_cap {
	struct rb_loop *loop;
	struct rb_cap_opts o;
	unsigned used[2];
	size_t bytes_used[2];
	struct rb_list queue[2];
	struct rb_cap_stats st;
};

void rb_cap_init(struct rb_cap *cap, struct rb_loop *loop, const struct rb_cap_opts *opts);
/* All permits must have been released and no waiter queued. */
void rb_cap_deinit(struct rb_cap *cap);

/* Takes n permits and `bytes` bytes at once if the class has room and nobody
 * of the class is queued; returns true if taken. bytes over the class's
 * whole budget are clamped to it (a huge file proceeds alone). */
bool rb_cap_try(struct rb_cap *cap, enum rb_cap_class cls, unsigned n, size_t bytes);
/* Queues w; w->cb runs on a later loop turn once the permits are held.
 * w must be idle (not queued or granted-pending). */
void rb_cap_acquire(struct rb_cap *cap, struct rb_cap_wait *w, enum rb_cap_class cls,
		    unsigned n, size_t bytes, void (*cb)(struct rb_cap_wait *w));
/* Withdraws w: if queued it leaves the queue; if granted but its callback
 * has not run yet, the permits go back. Returns true if w was withdrawn (its
 * cb will not run), false if it was idle. */
bool rb_cap_cancel(struct rb_cap_wait *w);
/* Returns permits taken by rb_cap_try or a granted rb_cap_acquire (pass the
 * same n and bytes; clamping is repeated identically). */
void rb_cap_release(struct rb_cap *cap, enum rb_cap_class cls, unsigned n, size_t bytes);

void rb_cap_stats(const struct rb_cap *cap, struct rb_cap_stats *out);
/* Both classes idle: nothing used, nothing queued (tests check this after every path). */
bool rb_cap_idle(const struct rb_cap *cap);

#endif
