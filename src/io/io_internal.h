/* io_internal.h: what the io backends share. A backend embeds struct rb_io
 * as its first member and provides the vtable; io.c wraps submit/cancel with
 * statistics and the fault-injection hook, and every backend finishes a
 * request through rb_io_complete() on the loop thread. */
#ifndef RB_IO_INTERNAL_H
#define RB_IO_INTERNAL_H

#include "ringbank/io.h"

struct rb_io_vtable {
	int (*submit)(struct rb_io *io, struct rb_io_req *req);
	void (*cancel)(struct rb_io *io, struct rb_io_req *req);
	void (*shutdown)(struct rb_io *io);
	void (*destroy)(struct rb_io *io);
};

struct rb_io {
	const struct rb_io_vtable *vt;
	struct rb_loop *loop;
	enum rb_io_kind kind;
	const char *name;
	struct rb_io_stats st;
	/* fault injection */
	enum rb_io_op fault_op;
	uint64_t fault_nth, fault_every, fault_seen, fault_hits;
	int fault_err;
};

/* Called by a backend on the loop thread when req is done (req->res set). */
void rb_io_complete(struct rb_io *io, struct rb_io_req *req);

/* Runs one request as blocking syscalls (the threads backend's worker body,
 * the uring backend's getdents path and its READFILE fallback share it).
 * Returns the result (>= 0 or -errno). */
int64_t rb_io_run_sync(struct rb_io_req *req);

#endif
