/* io_uring.c: the uring io backend. Every request is one SQE on the loop's
 * ring, its CQE dispatched to the request through rop[] (user_data points at
 * rop[i], whose owner is the request).
 *
 * RB_IO_READFILE, the small-file fast path, is one linked chain:
 *   OPENAT2 into a direct descriptor slot (IO_LINK)
 *   -> READ from the slot (FIXED_FILE, IO_HARDLINK: a short read must not
 *      cancel the close, see IO_URING_NOTES)
 *   -> CLOSE of the slot.
 * If the kernel refuses direct opens, or no slot is free, it runs step by
 * step (open, read, close as three ring ops in turn).
 *
 * RB_IO_GETDENTS has no opcode: requests queue here and a defer runs one
 * getdents64 per loop turn on the loop thread, so a huge directory cannot
 * stall the loop. RB_IO_FGETXATTR / RB_IO_FSETXATTR are one SQE each where
 * the probe has IORING_OP_FGETXATTR / FSETXATTR (5.19); otherwise they take
 * the same queue as getdents and run as syscalls on the loop thread. The
 * kernel runs every ring xattr op in io-wq (measured: 100 of 100 queued as
 * async work): it costs more CPU than the syscall, but the loop thread never
 * waits for an xattr block. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/xattr.h>

#include <liburing.h>

#include "io_internal.h"

struct uring_io {
	struct rb_io base;
	struct io_uring *ring;
	bool direct;
	bool xattr; /* the ring takes FGETXATTR and FSETXATTR */
	/* Requests without a ring op, run on the loop thread one per turn. */
	struct rb_list loop_q;
	struct rb_defer loop_defer;
};

static struct uring_io *U(struct rb_io *io) { return (struct uring_io *)io; }

static int readfile_steps(struct uring_io *u, struct rb_io_req *req);

static void finish(struct rb_io_req *req, int64_t res)
{
	/* A link timeout that fired shows up as -ECANCELED on the op. */
	if (res == -ECANCELED && req->linked_timeout && !req->cancelled)
		res = -ETIME;
	req->res = res;
	rb_io_complete(req->io, req);
}

/* ---- single ops ---------------------------------------------------------------- */

static void single_done(struct rb_ring_op *op, int res, unsigned flags)
{
	struct rb_io_req *req = rb_container_of(op, struct rb_io_req, rop[0]);
	(void)flags;
	finish(req, res);
}

static void add_timeout(struct uring_io *u, struct io_uring_sqe *sqe, struct rb_io_req *req)
{
	struct io_uring_sqe *t;
	if (!req->timeout_ns)
		return;
	req->ts[0] = (long long)(req->timeout_ns / 1000000000ull);
	req->ts[1] = (long long)(req->timeout_ns % 1000000000ull);
	sqe->flags |= IOSQE_IO_LINK;
	t = rb_loop_sqe(u->base.loop, NULL);
	if (t) {
		io_uring_prep_link_timeout(t, (struct __kernel_timespec *)req->ts, 0);
		req->linked_timeout = true;
	} else {
		sqe->flags &= (unsigned char)~IOSQE_IO_LINK;
	}
}

/* Fills sqe for a single-SQE op. */
static int prep_single(struct rb_io_req *req, struct io_uring_sqe *sqe)
{
	switch (req->op) {
	case RB_IO_NOP:
		io_uring_prep_nop(sqe);
		break;
	case RB_IO_OPENAT2:
		memset(&req->how, 0, sizeof(req->how));
		req->how.flags = (uint64_t)(unsigned)req->flags;
		req->how.mode = (req->flags & (O_CREAT | O_TMPFILE)) ? req->mode : 0;
		req->how.resolve = req->resolve;
		io_uring_prep_openat2(sqe, req->fd, req->path, &req->how);
		break;
	case RB_IO_CLOSE:
		io_uring_prep_close(sqe, req->fd);
		break;
	case RB_IO_READ:
		io_uring_prep_read(sqe, req->fd, req->buf, (unsigned)req->len, (uint64_t)req->off);
		break;
	case RB_IO_WRITE:
		io_uring_prep_write(sqe, req->fd, req->buf, (unsigned)req->len, (uint64_t)req->off);
		break;
	case RB_IO_FSYNC:
		io_uring_prep_fsync(sqe, req->fd, (req->flags & RB_IO_DATASYNC) ? IORING_FSYNC_DATASYNC : 0);
		break;
	case RB_IO_STATX:
		io_uring_prep_statx(sqe, req->fd, req->path, req->flags, req->mode, req->stx);
		break;
	case RB_IO_RENAMEAT:
		io_uring_prep_renameat(sqe, req->fd, req->path, req->fd2, req->path2, (unsigned)req->flags);
		break;
	case RB_IO_UNLINKAT:
		io_uring_prep_unlinkat(sqe, req->fd, req->path, req->flags);
		break;
	case RB_IO_MKDIRAT:
		io_uring_prep_mkdirat(sqe, req->fd, req->path, req->mode);
		break;
	case RB_IO_FGETXATTR:
		io_uring_prep_fgetxattr(sqe, req->fd, req->path, req->buf, (unsigned)req->len);
		break;
	case RB_IO_FSETXATTR:
		io_uring_prep_fsetxattr(sqe, req->fd, req->path, req->buf, req->flags, (unsigned)req->len);
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static int submit_single(struct uring_io *u, struct rb_io_req *req)
{
	struct io_uring_sqe *sqe;
	int r;
	if (req->len > 0x7ffff000u && (req->op == RB_IO_READ || req->op == RB_IO_WRITE))
		req->len = 0x7ffff000u; /* the kernel's own per-call maximum */
	/* The SQE's len is 32 bits: clamp as the syscalls do (a get reads at
	 * most XATTR_SIZE_MAX; a set over it is -E2BIG from the kernel). */
	if (req->op == RB_IO_FGETXATTR && req->len > XATTR_SIZE_MAX)
		req->len = XATTR_SIZE_MAX;
	if (req->op == RB_IO_FSETXATTR && req->len > XATTR_SIZE_MAX)
		req->len = XATTR_SIZE_MAX + 1;
	if (req->timeout_ns && rb_loop_sq_reserve(u->base.loop, 2) < 0)
		return -EBUSY;
	req->rop[0].complete = single_done;
	sqe = rb_loop_sqe(u->base.loop, &req->rop[0]);
	if (!sqe)
		return -EBUSY;
	r = prep_single(req, sqe);
	if (r < 0) {
		/* Cannot happen for valid ops (checked by rb_io_submit); keep the SQE harmless. */
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data(sqe, NULL);
		return r;
	}
	io_uring_sqe_set_data(sqe, &req->rop[0]);
	add_timeout(u, sqe, req);
	req->pending = 1;
	return 0;
}

/* ---- READFILE: linked direct chain ------------------------------------------------ */

static void chain_part(struct rb_io_req *req, int i, int res)
{
	struct uring_io *u = U(req->io);
	req->sub[i] = res;
	if (--req->pending)
		return;
	rb_loop_slot_put(u->base.loop, req->slot);
	req->slot = -1;
	if (req->sub[0] == -EINVAL && u->direct) {
		/* Kernel without direct opens: remember and redo step by step. */
		u->direct = false;
		req->step = 0;
		if (readfile_steps(u, req) == 0)
			return;
		finish(req, -EINVAL);
		return;
	}
	if (req->sub[0] < 0)
		finish(req, req->sub[0]);
	else
		finish(req, req->sub[1]);
}

static void chain0(struct rb_ring_op *op, int res, unsigned f) { (void)f; chain_part(rb_container_of(op, struct rb_io_req, rop[0]), 0, res); }
static void chain1(struct rb_ring_op *op, int res, unsigned f) { (void)f; chain_part(rb_container_of(op, struct rb_io_req, rop[1]), 1, res); }
static void chain2(struct rb_ring_op *op, int res, unsigned f) { (void)f; chain_part(rb_container_of(op, struct rb_io_req, rop[2]), 2, res); }

static void prep_readfile_how(struct rb_io_req *req, bool direct)
{
	memset(&req->how, 0, sizeof(req->how));
	/* O_NONBLOCK: a FIFO must not block the open; O_CLOEXEC is refused for
	 * direct descriptors (they are not in the fd table anyway). */
	req->how.flags = O_RDONLY | O_NOCTTY | O_NONBLOCK | (unsigned)req->flags | (direct ? 0 : O_CLOEXEC);
	req->how.resolve = req->resolve;
}

static int submit_readfile_chain(struct uring_io *u, struct rb_io_req *req)
{
	struct rb_loop *loop = u->base.loop;
	struct io_uring_sqe *s0, *s1, *s2, *st = NULL;
	int slot;

	if (rb_loop_sq_reserve(loop, req->timeout_ns ? 4 : 3) < 0)
		return -EBUSY;
	slot = rb_loop_slot_get(loop);
	if (slot < 0)
		return slot;
	req->slot = slot;
	prep_readfile_how(req, true);
	req->rop[0].complete = chain0;
	req->rop[1].complete = chain1;
	req->rop[2].complete = chain2;
	s0 = rb_loop_sqe(loop, &req->rop[0]);
	s1 = rb_loop_sqe(loop, &req->rop[1]);
	if (req->timeout_ns)
		st = rb_loop_sqe(loop, NULL);
	s2 = rb_loop_sqe(loop, &req->rop[2]);
	io_uring_prep_openat2_direct(s0, req->fd, req->path, &req->how, (unsigned)slot);
	s0->flags |= IOSQE_IO_LINK;
	io_uring_prep_read(s1, slot, req->buf, (unsigned)req->len, 0);
	s1->flags |= IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
	if (st) {
		/* A deadline on the read: io_uring ignores O_NONBLOCK on pollable
		 * files, so a FIFO with a silent writer would otherwise wait
		 * forever. The timeout is hardlinked too so the close always runs
		 * (measured: open -> read(-ECANCELED) -> timeout(-ETIME) -> close(0)). */
		req->ts[0] = (long long)(req->timeout_ns / 1000000000ull);
		req->ts[1] = (long long)(req->timeout_ns % 1000000000ull);
		io_uring_prep_link_timeout(st, (struct __kernel_timespec *)req->ts, 0);
		st->flags |= IOSQE_IO_HARDLINK;
		req->linked_timeout = true;
	}
	io_uring_prep_close_direct(s2, (unsigned)slot);
	req->pending = 3;
	u->base.st.chains_direct++;
	return 0;
}

/* ---- READFILE: step by step ------------------------------------------------------------ */

static void step_done(struct rb_ring_op *op, int res, unsigned flags);

static int step_submit(struct uring_io *u, struct rb_io_req *req)
{
	struct io_uring_sqe *sqe;
	if (req->step == 1 && req->timeout_ns && rb_loop_sq_reserve(u->base.loop, 2) < 0)
		return -EBUSY;
	sqe = rb_loop_sqe(u->base.loop, &req->rop[0]);
	if (!sqe)
		return -EBUSY;
	req->rop[0].complete = step_done;
	switch (req->step) {
	case 0:
		prep_readfile_how(req, false);
		io_uring_prep_openat2(sqe, req->fd, req->path, &req->how);
		break;
	case 1:
		io_uring_prep_read(sqe, (int)req->sub[0], (char *)req->buf + req->sub[1],
				   (unsigned)(req->len - (size_t)req->sub[1]), (uint64_t)req->sub[1]);
		add_timeout(u, sqe, req);
		break;
	default:
		io_uring_prep_close(sqe, (int)req->sub[0]);
		break;
	}
	req->pending = 1;
	return 0;
}

static void step_fail(struct uring_io *u, struct rb_io_req *req, int64_t err)
{
	req->sub[2] = err;
	if (req->step >= 1 && req->step < 2) {
		req->step = 2; /* still close what was opened */
		if (step_submit(u, req) == 0)
			return;
	}
	finish(req, err);
}

static void step_done(struct rb_ring_op *op, int res, unsigned flags)
{
	struct rb_io_req *req = rb_container_of(op, struct rb_io_req, rop[0]);
	struct uring_io *u = U(req->io);
	(void)flags;
	req->pending = 0;
	switch (req->step) {
	case 0:
		if (res < 0) {
			finish(req, res);
			return;
		}
		req->sub[0] = res; /* fd */
		req->sub[1] = 0;   /* bytes so far */
		req->sub[2] = 0;
		req->step = 1;
		if (req->cancelled) {
			step_fail(u, req, -ECANCELED);
			return;
		}
		break;
	case 1:
		if (res == -EINTR) {
			/* retry the same read */
		} else if (res == -ECANCELED && req->linked_timeout && !req->cancelled && req->sub[1] > 0) {
			/* A pipe ran dry after giving bytes: deliver them, as the
			 * threads backend does on EAGAIN after data. */
			req->step = 2;
		} else if (res < 0) { /* incl. -EAGAIN: a FIFO with no data */
			step_fail(u, req, res);
			return;
		} else if (res == 0 || (size_t)(req->sub[1] + res) >= req->len) {
			req->sub[1] += res;
			req->step = 2;
		} else {
			req->sub[1] += res; /* a short read is not the end: read on */
		}
		if (req->cancelled && req->step == 1) {
			step_fail(u, req, -ECANCELED);
			return;
		}
		break;
	default:
		finish(req, req->sub[2] < 0 ? req->sub[2] : req->sub[1]);
		return;
	}
	if (step_submit(u, req) < 0)
		step_fail(u, req, -EBUSY);
}

static int readfile_steps(struct uring_io *u, struct rb_io_req *req)
{
	req->step = 0;
	u->base.st.chains_fallback++;
	return step_submit(u, req);
}

/* ---- GETDENTS (and xattrs without opcodes) on the loop thread ------------------------------ */

static void loop_turn(struct rb_defer *d)
{
	struct uring_io *u = d->data;
	struct rb_list *n = rb_list_pop(&u->loop_q);
	struct rb_io_req *req;
	if (!n)
		return;
	req = rb_container_of(n, struct rb_io_req, node);
	if (!rb_list_empty(&u->loop_q))
		rb_defer(u->base.loop, &u->loop_defer, loop_turn);
	finish(req, req->cancelled ? -ECANCELED : rb_io_run_sync(req));
}

static int run_on_loop(struct uring_io *u, struct rb_io_req *req)
{
	rb_list_add_tail(&u->loop_q, &req->node);
	u->loop_defer.data = u;
	rb_defer(u->base.loop, &u->loop_defer, loop_turn);
	return 0;
}

/* ---- the vtable -------------------------------------------------------------------------------- */

static int uring_submit(struct rb_io *io, struct rb_io_req *req)
{
	struct uring_io *u = U(io);
	req->slot = -1;
	req->pending = 0;
	req->linked_timeout = false;
	switch (req->op) {
	case RB_IO_GETDENTS:
		return run_on_loop(u, req);
	case RB_IO_FGETXATTR:
	case RB_IO_FSETXATTR:
		if (u->xattr)
			return submit_single(u, req);
		u->base.st.xattr_on_loop++;
		return run_on_loop(u, req);
	case RB_IO_READFILE:
		if (u->direct) {
			int r = submit_readfile_chain(u, req);
			if (r != -ENFILE)
				return r;
		}
		return readfile_steps(u, req);
	default:
		return submit_single(u, req);
	}
}

static void cancel_sqe(struct uring_io *u, struct rb_ring_op *op)
{
	struct io_uring_sqe *sqe = rb_loop_sqe(u->base.loop, NULL);
	if (sqe)
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
}

static void uring_cancel(struct rb_io *io, struct rb_io_req *req)
{
	struct uring_io *u = U(io);
	if (req->cancelled)
		return;
	req->cancelled = true;
	if (!req->pending)
		return; /* queued to run on the loop thread: the flag makes it report -ECANCELED */
	if (req->op == RB_IO_READFILE && req->slot >= 0) {
		/* Cancel the open and the read; the hardlinked close still runs. */
		cancel_sqe(u, &req->rop[0]);
		cancel_sqe(u, &req->rop[1]);
		return;
	}
	if (req->pending)
		cancel_sqe(u, &req->rop[0]);
}

static void uring_destroy(struct rb_io *io)
{
	free(io);
}

static const struct rb_io_vtable uring_vt = {
	.submit = uring_submit,
	.cancel = uring_cancel,
	.shutdown = NULL,
	.destroy = uring_destroy,
};

int rb_io_uring_new(struct rb_io **out, struct rb_loop *loop, const struct rb_io_opts *opts)
{
	struct uring_io *u;
	if (!rb_loop_ring(loop))
		return -ENOTSUP;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->base.vt = &uring_vt;
	u->base.loop = loop;
	u->base.kind = RB_IO_BACKEND_URING;
	u->base.name = "uring";
	u->ring = rb_loop_ring(loop);
	/* Direct descriptors need the sparse table the loop registered. */
	u->direct = false;
	if (!opts->no_direct) {
		int s = rb_loop_slot_get(loop);
		if (s >= 0) {
			rb_loop_slot_put(loop, s);
			u->direct = true;
		}
	}
	/* Both xattr opcodes or neither: one path per kernel keeps results alike. */
	u->xattr = !opts->no_ring_xattr && rb_loop_has_op(loop, IORING_OP_FGETXATTR) &&
		   rb_loop_has_op(loop, IORING_OP_FSETXATTR);
	rb_list_init(&u->loop_q);
	*out = &u->base;
	return 0;
}
