/* io.c: the backend-independent half of the I/O interface: creation by kind,
 * statistics, the fault-injection hook and the synchronous body of every op
 * (used by the threads backend's workers and by the uring backend where the
 * ring has no opcode: getdents64, and the xattr requests on kernels before
 * 5.19). */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "io_internal.h"

int rb_io_new(struct rb_io **out, struct rb_loop *loop, const struct rb_io_opts *opts)
{
	struct rb_io_opts o = { 0 };
	if (opts)
		o = *opts;
	*out = NULL;
	if (o.kind == RB_IO_BACKEND_URING)
		return rb_io_uring_new(out, loop, &o);
	if (o.kind == RB_IO_BACKEND_THREADS)
		return rb_io_threads_new(out, loop, &o);
	return -EINVAL;
}

void rb_io_free(struct rb_io *io)
{
	if (io)
		io->vt->destroy(io);
}

void rb_io_shutdown(struct rb_io *io)
{
	if (io && io->vt->shutdown)
		io->vt->shutdown(io);
}

enum rb_io_kind rb_io_kind(const struct rb_io *io) { return io->kind; }
const char *rb_io_name(const struct rb_io *io) { return io->name; }
struct rb_loop *rb_io_loop(const struct rb_io *io) { return io->loop; }

void rb_io_get_stats(const struct rb_io *io, struct rb_io_stats *out)
{
	*out = io->st;
}

void rb_io_prep(struct rb_io_req *req, enum rb_io_op op, void (*cb)(struct rb_io_req *req), void *data)
{
	memset(req, 0, sizeof(*req));
	req->op = op;
	req->fd = -1;
	req->fd2 = -1;
	req->off = -1;
	req->slot = -1;
	req->cb = cb;
	req->data = data;
	rb_list_init(&req->node);
}

void rb_io_fault_set(struct rb_io *io, enum rb_io_op op, uint64_t nth, uint64_t every, int err)
{
	io->fault_op = op;
	io->fault_nth = nth;
	io->fault_every = every;
	io->fault_err = err;
	io->fault_seen = 0;
}

uint64_t rb_io_fault_count(const struct rb_io *io) { return io->fault_hits; }

static void fault_done(struct rb_defer *d)
{
	struct rb_io_req *req = d->data;
	rb_io_complete(req->io, req);
}

/* Decides whether this request is the one to fail. */
static bool fault_hit(struct rb_io *io, const struct rb_io_req *req)
{
	uint64_t k;
	if (!io->fault_nth || (io->fault_op != RB_IO_NOP && io->fault_op != req->op))
		return false;
	/* A short transfer exists only for a READ or WRITE of 2+ bytes; other
	 * requests are neither counted nor failed (they would otherwise
	 * complete with the marker value itself as their "errno"). */
	if (io->fault_err == RB_IO_FAULT_SHORT && !((req->op == RB_IO_READ || req->op == RB_IO_WRITE) && req->len > 1))
		return false;
	k = ++io->fault_seen;
	if (k == io->fault_nth)
		return true;
	return io->fault_every && k > io->fault_nth && (k - io->fault_nth) % io->fault_every == 0;
}

int rb_io_submit(struct rb_io *io, struct rb_io_req *req)
{
	int r;
	if ((unsigned)req->op >= RB_IO_OP_COUNT || !req->cb)
		return -EINVAL;
	req->io = io;
	req->res = 0;
	req->cancelled = false;
	req->running = false;
	io->st.submitted[req->op]++;
	io->st.inflight++;
	if (io->st.inflight > io->st.inflight_peak)
		io->st.inflight_peak = io->st.inflight; /* an injected failure is in flight too */
	if (fault_hit(io, req)) {
		io->fault_hits++;
		/* A short read/write fault halves the length and lets it run. */
		if (io->fault_err == RB_IO_FAULT_SHORT) {
			req->len /= 2;
		} else {
			/* close(2) releases the fd even when it reports an error; an
			 * injected close failure does the same, or every caller (who
			 * rightly never retries a close) would leak the fd. */
			if (req->op == RB_IO_CLOSE)
				close(req->fd);
			req->res = io->fault_err;
			req->defer.data = req;
			rb_defer(io->loop, &req->defer, fault_done);
			return 0;
		}
	}
	r = io->vt->submit(io, req);
	if (r < 0) {
		io->st.inflight--;
		io->st.submitted[req->op]--;
	}
	return r;
}

void rb_io_cancel(struct rb_io *io, struct rb_io_req *req)
{
	if (req->defer.queued && req->defer.cb == fault_done)
		return; /* completes with the injected fault next turn anyway */
	io->vt->cancel(io, req);
}

void rb_io_complete(struct rb_io *io, struct rb_io_req *req)
{
	io->st.inflight--;
	io->st.completed++;
	if (req->res < 0)
		io->st.errors++;
	req->cb(req);
}

static int64_t sys_ret(long r)
{
	return r < 0 ? -(int64_t)errno : (int64_t)r;
}

int64_t rb_io_run_sync(struct rb_io_req *req)
{
	struct open_how how;
	int64_t r;
	switch (req->op) {
	case RB_IO_NOP:
		return 0;
	case RB_IO_OPENAT2:
		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(unsigned)req->flags;
		how.mode = (req->flags & (O_CREAT | O_TMPFILE)) ? req->mode : 0;
		how.resolve = req->resolve;
		return sys_ret(syscall(SYS_openat2, req->fd, req->path, &how, sizeof(how)));
	case RB_IO_CLOSE:
		return sys_ret(close(req->fd));
	case RB_IO_READ:
		do {
			r = req->off < 0 ? read(req->fd, req->buf, req->len)
					 : pread(req->fd, req->buf, req->len, req->off);
		} while (r < 0 && errno == EINTR);
		return sys_ret((long)r);
	case RB_IO_WRITE:
		do {
			r = req->off < 0 ? write(req->fd, req->buf, req->len)
					 : pwrite(req->fd, req->buf, req->len, req->off);
		} while (r < 0 && errno == EINTR);
		return sys_ret((long)r);
	case RB_IO_FSYNC:
		return sys_ret((req->flags & RB_IO_DATASYNC) ? fdatasync(req->fd) : fsync(req->fd));
	case RB_IO_STATX:
		return sys_ret(statx(req->fd, req->path, req->flags, req->mode, req->stx));
	case RB_IO_RENAMEAT:
		return sys_ret(renameat2(req->fd, req->path, req->fd2, req->path2, (unsigned)req->flags));
	case RB_IO_UNLINKAT:
		return sys_ret(unlinkat(req->fd, req->path, req->flags));
	case RB_IO_MKDIRAT:
		return sys_ret(mkdirat(req->fd, req->path, req->mode));
	case RB_IO_GETDENTS:
		return sys_ret(syscall(SYS_getdents64, req->fd, req->buf, req->len));
	case RB_IO_FGETXATTR:
		return sys_ret((long)fgetxattr(req->fd, req->path, req->buf, req->len));
	case RB_IO_FSETXATTR:
		return sys_ret(fsetxattr(req->fd, req->path, req->buf, req->len, req->flags));
	case RB_IO_READFILE: {
		int fd;
		int64_t n;
		size_t got = 0;
		memset(&how, 0, sizeof(how));
		how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (unsigned)req->flags;
		how.resolve = req->resolve;
		fd = (int)syscall(SYS_openat2, req->fd, req->path, &how, sizeof(how));
		if (fd < 0)
			return -errno;
		/* Fill the buffer (short reads are not the end; 0 is). */
		while (got < req->len) {
			n = read(fd, (char *)req->buf + got, req->len - got);
			if (n < 0 && errno == EINTR)
				continue;
			/* A FIFO ran dry after giving bytes: they are consumed,
			 * so deliver them (as the ring's single READ does). */
			if (n < 0 && errno == EAGAIN && got)
				break;
			if (n < 0) {
				n = -errno;
				close(fd);
				return n;
			}
			if (n == 0)
				break;
			got += (size_t)n;
		}
		close(fd);
		return (int64_t)got;
	}
	case RB_IO_OP_COUNT:
		break;
	}
	return -EINVAL;
}
