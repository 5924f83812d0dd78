/* cap.c: the in-flight cap (see include/ringbank/cap.h).
 *
 * Class limits: interactive may use the whole budget, bulk all but the
 * headroom. A waiter is granted when its class has room for its n permits
 * and its bytes; grants go out interactive queue first, then bulk, each
 * strictly in FIFO order (the head of a queue that does not fit blocks the
 * ones behind it, so a large request is never starved by small ones).
 * Grant callbacks run from a defer, never from inside acquire/release. */
#include <stdlib.h>
#include <string.h>

#include "ringbank/cap.h"

static unsigned permit_limit(const struct rb_cap *cap, enum rb_cap_class cls)
{
	return cls == RB_CAP_BULK ? cap->o.permits - cap->o.headroom : cap->o.permits;
}

static size_t byte_limit(const struct rb_cap *cap, enum rb_cap_class cls)
{
	return cls == RB_CAP_BULK ? cap->o.bytes - cap->o.bytes_headroom : cap->o.bytes;
}

static size_t clamp_bytes(const struct rb_cap *cap, enum rb_cap_class cls, size_t bytes)
{
	size_t lim = byte_limit(cap, cls);
	return bytes > lim ? lim : bytes;
}

static unsigned clamp_n(const struct rb_cap *cap, enum rb_cap_class cls, unsigned n)
{
	unsigned lim = permit_limit(cap, cls);
	return n > lim ? lim : n;
}

void rb_cap_init(struct rb_cap *cap, struct rb_loop *loop, const struct rb_cap_opts *opts)
{
	memset(cap, 0, sizeof(*cap));
	cap->loop = loop;
	if (opts)
		cap->o = *opts;
	if (!cap->o.permits)
		cap->o.permits = 128;
	if (!cap->o.headroom)
		cap->o.headroom = cap->o.permits / 4 ? cap->o.permits / 4 : 1;
	if (cap->o.headroom >= cap->o.permits)
		cap->o.headroom = cap->o.permits > 1 ? cap->o.permits - 1 : 0;
	if (!cap->o.bytes)
		cap->o.bytes = 64u << 20;
	if (!cap->o.bytes_headroom)
		cap->o.bytes_headroom = cap->o.bytes / 4;
	if (cap->o.bytes_headroom >= cap->o.bytes)
		cap->o.bytes_headroom = cap->o.bytes / 2;
	rb_list_init(&cap->queue[0]);
	rb_list_init(&cap->queue[1]);
}

void rb_cap_deinit(struct rb_cap *cap)
{
	(void)cap;
}

/* Room for n permits and bytes in class cls, given what both classes use. */
static bool fits(const struct rb_cap *cap, enum rb_cap_class cls, unsigned n, size_t bytes)
{
	unsigned used = cap->used[0] + cap->used[1];
	size_t bused = cap->bytes_used[0] + cap->bytes_used[1];
	if (cls == RB_CAP_BULK) {
		/* Bulk is limited by its own use and by the total. */
		if (cap->used[1] + n > permit_limit(cap, cls) || used + n > cap->o.permits)
			return false;
		if (cap->bytes_used[1] + bytes > byte_limit(cap, cls) || bused + bytes > cap->o.bytes)
			return false;
		return true;
	}
	return used + n <= cap->o.permits && bused + bytes <= cap->o.bytes;
}

static void take(struct rb_cap *cap, enum rb_cap_class cls, unsigned n, size_t bytes)
{
	size_t b;
	cap->used[cls] += n;
	cap->bytes_used[cls] += bytes;
	cap->st.grants[cls]++;
	if (cap->used[cls] > cap->st.peak[cls])
		cap->st.peak[cls] = cap->used[cls];
	b = cap->bytes_used[0] + cap->bytes_used[1];
	if (b > cap->st.bytes_peak)
		cap->st.bytes_peak = b;
}

bool rb_cap_try(struct rb_cap *cap, enum rb_cap_class cls, unsigned n, size_t bytes)
{
	n = clamp_n(cap, cls, n);
	bytes = clamp_bytes(cap, cls, bytes);
	if (!rb_list_empty(&cap->queue[cls]) || !fits(cap, cls, n, bytes))
		return false;
	take(cap, cls, n, bytes);
	return true;
}

static void grant_cb(struct rb_defer *d)
{
	struct rb_cap_wait *w = d->data;
	w->state = RB_CAPW_IDLE;
	w->cb(w);
}

/* Grants queue heads while they fit: interactive first, then bulk. */
static void wake(struct rb_cap *cap)
{
	int cls;
	for (cls = RB_CAP_INTERACTIVE; cls <= RB_CAP_BULK; cls++) {
		while (!rb_list_empty(&cap->queue[cls])) {
			struct rb_cap_wait *w = rb_container_of(cap->queue[cls].next, struct rb_cap_wait, node);
			if (!fits(cap, (enum rb_cap_class)cls, w->n, w->bytes))
				break;
			rb_list_del(&w->node);
			take(cap, (enum rb_cap_class)cls, w->n, w->bytes);
			w->state = RB_CAPW_GRANTED;
			w->defer.data = w;
			rb_defer(cap->loop, &w->defer, grant_cb);
		}
	}
}

void rb_cap_acquire(struct rb_cap *cap, struct rb_cap_wait *w, enum rb_cap_class cls,
		    unsigned n, size_t bytes, void (*cb)(struct rb_cap_wait *w))
{
	w->cap = cap;
	w->cls = cls;
	w->n = clamp_n(cap, cls, n);
	w->bytes = clamp_bytes(cap, cls, bytes);
	w->cb = cb;
	memset(&w->defer, 0, sizeof(w->defer));
	w->state = RB_CAPW_QUEUED;
	cap->st.waits[cls]++;
	rb_list_add_tail(&cap->queue[cls], &w->node);
	wake(cap);
}

bool rb_cap_cancel(struct rb_cap_wait *w)
{
	struct rb_cap *cap = w->cap;
	switch (w->state) {
	case RB_CAPW_QUEUED:
		rb_list_del(&w->node);
		w->state = RB_CAPW_IDLE;
		/* The head leaving may unblock the ones behind it. */
		wake(cap);
		return true;
	case RB_CAPW_GRANTED:
		rb_defer_cancel(cap->loop, &w->defer);
		w->state = RB_CAPW_IDLE;
		rb_cap_release(cap, w->cls, w->n, w->bytes);
		return true;
	case RB_CAPW_IDLE:
		break;
	}
	return false;
}

void rb_cap_release(struct rb_cap *cap, enum rb_cap_class cls, unsigned n, size_t bytes)
{
	n = clamp_n(cap, cls, n);
	bytes = clamp_bytes(cap, cls, bytes);
	if (n > cap->used[cls] || bytes > cap->bytes_used[cls]) {
		rb_log(RB_LOG_ERROR, "cap: release of %u permits/%zu bytes exceeds use (%u/%zu)",
		       n, bytes, cap->used[cls], cap->bytes_used[cls]);
		abort(); /* a permit accounting bug must not pass silently */
	}
	cap->used[cls] -= n;
	cap->bytes_used[cls] -= bytes;
	wake(cap);
}

void rb_cap_stats(const struct rb_cap *cap, struct rb_cap_stats *out)
{
	int c;
	*out = cap->st;
	for (c = 0; c < 2; c++) {
		struct rb_list *n;
		unsigned k = 0;
		out->used[c] = cap->used[c];
		out->bytes_used[c] = cap->bytes_used[c];
		for (n = cap->queue[c].next; n != &cap->queue[c]; n = n->next)
			k++;
		out->waiting[c] = k;
	}
}

bool rb_cap_idle(const struct rb_cap *cap)
{
	return !cap->used[0] && !cap->used[1] && !cap->bytes_used[0] && !cap->bytes_used[1] &&
	       rb_list_empty(&cap->queue[0]) && rb_list_empty(&cap->queue[1]);
}
