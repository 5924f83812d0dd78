/* io.h: the I/O interface. One request type, two backends.
 *
 *  - uring:   each request is one SQE on the loop's ring (a few for
 *             RB_IO_READFILE: OPENAT2 into a direct descriptor -> READ ->
 *             CLOSE, linked, with a sequential fallback). Needs the ring engine.
 *  - threads: each request is a blocking syscall on a pthread pool (default 4
 *             threads, like libuv); completions go back to the loop through an
 *             eventfd (rb_async). Runs on either engine.
 *
 * io_uring has no getdents opcode: on the uring backend RB_IO_GETDENTS runs
 * getdents64 on the loop thread, one bounded buffer per request, from a
 * deferred callback (so one chunk per loop turn); on the threads backend it
 * runs on the pool like everything else.
 *
 * Extended attributes by fd (RB_IO_FGETXATTR / RB_IO_FSETXATTR) are
 * IORING_OP_FGETXATTR / FSETXATTR (Linux 5.19) on the uring backend when the
 * kernel's probe has them; the kernel always runs them in io-wq. Without the
 * opcodes (or with rb_io_opts.no_ring_xattr) they run as syscalls on the
 * loop thread, one per loop turn, like getdents. There are no by-name
 * requests: the ring's GETXATTR/SETXATTR resolve a path from the working
 * directory and follow a final symlink, so they cannot be confined beneath
 * a root; and the ring refuses O_PATH fds for all four (-EBADF).
 *
 * Contract: rb_io_submit returns 0 and later calls req->cb exactly once from
 * the loop (never from inside rb_io_submit), or returns a negative errno and
 * never calls it. The request and every buffer/path it points at belong to the
 * backend from submit until cb runs. req->res is >= 0 on success (bytes, fd,
 * 0) or a negative errno, passed through from the kernel unchanged. */
#ifndef RINGBANK_IO_H
#define RINGBANK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>

#include "ringbank/list.h"
#include "ringbank/loop.h"

struct rb_io;

enum rb_io_kind { RB_IO_BACKEND_URING = 0, RB_IO_BACKEND_THREADS = 1 };

enum rb_io_op {
	RB_IO_NOP = 0,
	RB_IO_OPENAT2,	/* fd=dirfd, path, flags, mode, resolve -> res = new fd */
	RB_IO_CLOSE,	/* fd */
	RB_IO_READ,	/* fd, buf, len, off (-1 = current position) -> bytes */
	RB_IO_WRITE,	/* fd, buf, len, off (-1 = current position) -> bytes */
	RB_IO_FSYNC,	/* fd, flags: 0 or RB_IO_DATASYNC */
	RB_IO_STATX,	/* fd=dirfd, path, flags (AT_*), mode=mask, stx */
	RB_IO_RENAMEAT, /* fd, path -> fd2, path2, flags (RENAME_NOREPLACE...) */
	RB_IO_UNLINKAT, /* fd, path, flags (AT_REMOVEDIR) */
	RB_IO_MKDIRAT,	/* fd, path, mode */
	RB_IO_GETDENTS, /* fd (directory), buf, len -> bytes of linux_dirent64, 0 = end */
	RB_IO_READFILE, /* fd=dirfd, path, resolve, buf, len: open+read(off 0)+close -> bytes;
			   res == len means "maybe more": read the rest another way */
	RB_IO_FGETXATTR, /* fd (not O_PATH), path = attribute name, buf, len -> bytes of the value
			    (len 0: its size; -ERANGE: buf too small; -ENODATA: none) */
	RB_IO_FSETXATTR, /* fd (not O_PATH), path = attribute name, buf, len = the value,
			    flags (0, XATTR_CREATE, XATTR_REPLACE) -> 0 */
	RB_IO_OP_COUNT
};

#define RB_IO_DATASYNC 1u

struct rb_io_req {
	/* inputs */
	enum rb_io_op op;
	int fd;
	const char *path;
	int fd2;
	const char *path2;
	int flags;
	unsigned mode;
	uint64_t resolve; /* RESOLVE_* for OPENAT2 and READFILE */
	void *buf;
	size_t len;
	int64_t off;
	struct statx *stx;
	uint64_t timeout_ns; /* 0 = none; else the op fails -ECANCELED/-ETIME past it */
	/* output */
	int64_t res;
	/* completion */
	void (*cb)(struct rb_io_req *req);
	void *data;
	/* private to the backend */
	struct rb_io *io;
	struct rb_list node;
	struct rb_ring_op rop[3];
	int pending;	/* CQEs still expected */
	int slot;	/* direct descriptor slot, -1 none */
	int step;
	int64_t sub[3]; /* per-step results of a chain */
	bool cancelled;
	bool running;	/* threads: picked up by a worker */
	bool linked_timeout;
	struct rb_defer defer;
	struct open_how how;	/* must outlive the SQE until submission */
	long long ts[2];	/* link timeout (struct __kernel_timespec) */
};

struct rb_io_opts {
	enum rb_io_kind kind;
	unsigned threads;	/* threads backend pool size (default 4) */
	bool no_direct;		/* uring: never use direct descriptors / linked chains */
	bool no_ring_xattr;	/* uring: run xattr requests as syscalls on the loop thread, as on a
				   kernel without the opcodes (tests, and a CPU-over-latency choice) */
};

struct rb_io_stats {
	uint64_t submitted[RB_IO_OP_COUNT];
	uint64_t completed;
	uint64_t errors;
	uint64_t chains_direct;	  /* READFILE done as a linked direct chain */
	uint64_t chains_fallback; /* READFILE done step by step */
	uint64_t xattr_on_loop;	  /* uring: xattr requests run as syscalls on the loop thread */
	unsigned inflight, inflight_peak;
};

/* Creates a backend on loop. -ENOTSUP if uring is asked for on an epoll loop. */
int rb_io_new(struct rb_io **out, struct rb_loop *loop, const struct rb_io_opts *opts);
/* Requires no request in flight (run the loop to drain first). NULL ok. */
void rb_io_free(struct rb_io *io);
/* Stops worker threads (threads backend) after queued requests complete;
 * needed before rb_loop_run can drain. */
void rb_io_shutdown(struct rb_io *io);

int rb_io_submit(struct rb_io *io, struct rb_io_req *req);
/* Best effort. If the request has not completed, it will complete with
 * -ECANCELED (or its real result if it raced to the end). cb still runs once. */
void rb_io_cancel(struct rb_io *io, struct rb_io_req *req);

enum rb_io_kind rb_io_kind(const struct rb_io *io);
const char *rb_io_name(const struct rb_io *io); /* "uring" / "threads" */
struct rb_loop *rb_io_loop(const struct rb_io *io);
void rb_io_get_stats(const struct rb_io *io, struct rb_io_stats *out);

/* Convenience initialisers: zero the request and fill the inputs. */
void rb_io_prep(struct rb_io_req *req, enum rb_io_op op, void (*cb)(struct rb_io_req *req), void *data);

/* Test hook (issue 8): fail the nth submitted request of kind op (or any kind
 * if op == RB_IO_NOP) with err instead of running it; nth = 0 disables.
 * every != 0 repeats the fault every `every` matching requests. */
#define RB_IO_FAULT_SHORT (-100000) /* err value: halve a READ/WRITE's length (short I/O) */
void rb_io_fault_set(struct rb_io *io, enum rb_io_op op, uint64_t nth, uint64_t every, int err);
uint64_t rb_io_fault_count(const struct rb_io *io);

/* Backends (internal; used by rb_io_new). */
int rb_io_uring_new(struct rb_io **out, struct rb_loop *loop, const struct rb_io_opts *opts);
int rb_io_threads_new(struct rb_io **out, struct rb_loop *loop, const struct rb_io_opts *opts);

#endif
