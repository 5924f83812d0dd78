/* read.c: whole-file reads, and ranged reads (rb_fs_read_range, at the end).
 *
 * Fast path (no flags): one RB_IO_READFILE (open beneath the root + read
 * into a 64 KiB buffer + close; a linked chain on the uring backend). A
 * result shorter than the buffer is the whole file, and no STATX is spent
 * (it goes to io-wq and costs more than the read: shared/IO_URING_NOTES.md).
 *
 * Step path: the stat-first step (OPENAT2 -> STATX fd -> refuse what is not
 * a regular file; shared with the ranged reads, see below) -> READ at growing
 * offsets until 0 -> CLOSE. Used when
 *  - the first buffer filled: the file is re-read from offset 0 on the new
 *    fd (the name may now point at a new inode after an atomic replace, and
 *    mixing two versions would hand back a torn file), with a STATX: for a
 *    file of 64 KiB or more it costs less than the read, sizes the buffer
 *    exactly (one read instead of a doubling series) and refuses a device
 *    that reads forever (/dev/zero);
 *  - READFILE returned 0 bytes: an empty file, a fifo without writers and
 *    /dev/null all read 0; the STATX tells them apart (empty files are rare
 *    enough for this to cost nothing);
 *  - the caller wants the metadata (RB_FS_READ_STAT) or the cache
 *    (RB_FS_READ_CACHED).
 * The FIFO guard: io_uring ignores O_NONBLOCK on pollable files, so a
 * READFILE of a fifo with a silent writer would wait forever (the threads
 * backend's read(2) says -EAGAIN). A DT_REG from the walk proves nothing (a
 * fifo can be renamed into place before the open), and no open flag of this
 * kernel refuses a non-regular file, so every fast-path read is guarded: it
 * sits on the fs's fast_reads list (oldest first) and one loop timer, armed
 * while the list is not empty, cancels those older than the deadline, which
 * then take the step path, whose STATX tells a fifo from a slow disk. This
 * replaced a LINK_TIMEOUT SQE per read: same cut, but that SQE (an hrtimer
 * armed and cancelled, one more SQE and CQE per file) cost 22-27% more CPU
 * per READFILE of a 2 KiB file (~0.75 us of ~3.1 us; wall 1.03-1.6x, 10k
 * files, 64 in flight, warm, medians of 5 alternating runs on a loaded
 * machine); the list costs nothing measurable (0.98-1.02x). Measured with
 * bench/guard-cost.c.
 * A fifo with a writer but no data fails the read with -EAGAIN on the
 * threads backend (the open is O_NONBLOCK) and is cut by the guard on the
 * uring one; one that holds data when READFILE runs is read like a file,
 * as is a device whose read comes back short (/dev/zero interrupted by task
 * work): telling them apart would need the STATX the fast path exists to
 * avoid, and such nodes have no business in a memory bank.
 * Files that grow while being read are followed up to the limit.
 *
 * The op holds one permit plus the bytes of its buffer; growing the buffer
 * returns them and takes the larger amount (never waiting while holding).
 *
 * The buffer handed back fits the data (read_fit, before the callback). The
 * fast path reads into 64 KiB while most bank files hold a few, and a caller
 * may keep thousands of results (read_multiple_files holds up to 8 MiB of
 * text). The rule:
 *  - data in less than half the buffer: copied into an exact allocation and
 *    the buffer freed whole. A shrink in place does not do the job: the
 *    freed tail sits between two held blocks and is too small for the next
 *    64 KiB buffer, so the heap still grows by 64 KiB per file held and the
 *    tails fill with small allocations that touch their pages. Measured over
 *    the 10k bench bank, read_multiple_files of all files in one call: peak
 *    RSS ~33 MB and peak virtual size ~150 MB with realloc in place, ~22-25
 *    MB and ~27-32 MB with the copy. The copy is at most half a buffer of
 *    bytes the read has just written (cache-hot), less than the read's own
 *    copy out of the page cache;
 *  - else, FS_SHRINK_SLACK (a page) or more unused: realloc in place (no
 *    copy; what is freed is under half the buffer). Under a page there is
 *    nothing worth a call (an mmapped buffer gives back whole pages only);
 *  - else as it is. Buffers sized by the STATX (the step path: size + 1)
 *    have no slack and are left alone; so are cached copies (exact). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"

#define FS_READFILE_DEADLINE_NS (2ull * 1000000000ull)
#define FS_GUARD_MIN_NS 1000000ull /* the guard timer never re-arms sooner than this */
#define FS_SHRINK_SLACK 4096u	    /* a result's buffer this much too large is shrunk in place (see the top) */

enum { R_READFILE, R_STEP, R_READ, R_CLOSE, R_GROW, R_DONE };

/* ---- the stat-first step (both read paths) ----------------------------------------
 *
 * OPENAT2 beneath the root (O_NONBLOCK: opening a fifo must not wait for a
 * writer; RB_FS_NOFOLLOW honoured) -> STATX of the fd (a statx by path could
 * not be confined beneath the root) -> refuse what is not a regular file,
 * before any byte is read. It is the step path of whole-file reads and the
 * start of every ranged read, and the one place that maps their open and
 * statx errors. It runs on its owner's request (cancelling that request
 * cancels it) under the permit its owner holds. done(s, res) runs exactly
 * once, from the request's completion:
 *  - res 0: *fd is open and *stx holds the metadata of a regular file;
 *  - res < 0: the open's error mapped (-RB_E_OUTSIDE, -RB_E_NOT_REGULAR for
 *    what only a non-regular file answers), the STATX's error unchanged,
 *    -RB_E_NOT_REGULAR, or -ECANCELED when the owner was cancelled.
 * Either way *fd is >= 0 once the open has succeeded: the owner closes it. */
enum { S_OPEN, S_STATX };

struct open_step {
	struct rb_fs_op *op; /* the owner: its fs, class and cancelled flag */
	struct fs_req *req;  /* the owner's request, reused for both steps */
	int dirfd;
	const char *rel;
	bool nofollow;
	int state;
	int *fd;	   /* the owner's: -1 until the open succeeds */
	struct statx *stx; /* the owner's */
	void (*done)(struct open_step *s, int res);
};

struct read_op {
	struct rb_fs_op base;
	struct fs_req req;
	void (*cb)(void *ctx, int res, struct rb_fs_file *f);
	void *ctx;
	int dirfd;
	char *rel;
	unsigned flags;
	size_t max;
	int fd;
	int state;
	int err;
	bool need_stat;
	bool from_cache;
	struct open_step step; /* the step path's open + statx */
	char *buf;
	size_t bufcap; /* bytes readable into buf (one more is kept for the NUL) */
	size_t len;
	size_t want;   /* capacity being grown to */
	struct statx stx;
	int64_t stx_rt; /* when the statx completed (CLOCK_REALTIME) */
	bool have_stx;
	/* the FIFO guard (the READFILE step only) */
	struct rb_list gnode; /* on fs->fast_reads */
	uint64_t guard_ns;    /* when the READFILE was started (loop time) */
	bool guarded;
	bool timed_out;	      /* the guard cancelled the READFILE */
};

static void read_done(struct fs_req *fr);
static void read_close(struct read_op *o, int err);

static int not_regular(int res)
{
	/* A directory reads -EISDIR, a fifo with a writer -EAGAIN (O_NONBLOCK),
	 * a socket fails the open with -ENXIO. */
	if (res == -EISDIR || res == -EAGAIN || res == -ENXIO || res == -ENODEV)
		return -RB_E_NOT_REGULAR;
	return res;
}

static void open_step_done(struct fs_req *fr);

static void open_step_init(struct open_step *s, struct rb_fs_op *op, struct fs_req *req, int dirfd, const char *rel,
			   bool nofollow, int *fd, struct statx *stx, void (*done)(struct open_step *s, int res))
{
	s->op = op;
	s->req = req;
	s->dirfd = dirfd;
	s->rel = rel;
	s->nofollow = nofollow;
	s->fd = fd;
	s->stx = stx;
	s->done = done;
}

static void open_step_start(struct open_step *s)
{
	struct fs_req *fr = s->req;

	s->state = S_OPEN;
	fs_req_prep(fr, s->op->fs, RB_IO_OPENAT2, false, s->op->cls, 0, open_step_done, s);
	fr->r.fd = s->dirfd;
	fr->r.path = s->rel;
	fr->r.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (s->nofollow ? O_NOFOLLOW : 0);
	fr->r.resolve = FS_RESOLVE;
	fs_req_start(fr);
}

static void open_step_done(struct fs_req *fr)
{
	struct open_step *s = fr->owner;
	int res = (int)fr->r.res;

	if (s->state == S_OPEN && res >= 0)
		*s->fd = res;
	if (s->op->cancelled) {
		s->done(s, -ECANCELED);
	} else if (res < 0) {
		s->done(s, s->state == S_OPEN ? not_regular(fs_map_open_err(res, s->nofollow)) : res);
	} else if (s->state == S_OPEN) {
		s->state = S_STATX;
		fs_req_prep(fr, s->op->fs, RB_IO_STATX, false, s->op->cls, 0, open_step_done, s);
		fr->r.fd = *s->fd;
		fr->r.path = "";
		fr->r.flags = AT_EMPTY_PATH;
		fr->r.mode = STATX_BASIC_STATS | STATX_BTIME;
		fr->r.stx = s->stx;
		fs_req_start(fr);
	} else {
		s->done(s, S_ISREG(s->stx->stx_mode) ? 0 : -RB_E_NOT_REGULAR);
	}
}

/* ---- the FIFO guard ------------------------------------------------------------ */

static void guard_sweep(struct rb_timer *t);

static void guard_add(struct read_op *o)
{
	struct rb_fs *fs = o->base.fs;
	if (!fs->fast_reads.next)
		rb_list_init(&fs->fast_reads);
	if (rb_list_empty(&fs->fast_reads)) {
		fs->fast_read_timer.data = fs;
		rb_timer_start_ns(fs->loop, &fs->fast_read_timer, FS_READFILE_DEADLINE_NS, guard_sweep);
	}
	o->guard_ns = rb_loop_now_ns(fs->loop);
	rb_list_add_tail(&fs->fast_reads, &o->gnode);
	o->guarded = true;
}

static void guard_del(struct read_op *o)
{
	struct rb_fs *fs = o->base.fs;
	if (!o->guarded)
		return;
	o->guarded = false;
	rb_list_del(&o->gnode);
	if (rb_list_empty(&fs->fast_reads))
		rb_timer_stop(fs->loop, &fs->fast_read_timer);
}

/* Cancels the reads past their deadline (oldest first: the list is in start
 * order) and re-arms for the oldest one left. */
static void guard_sweep(struct rb_timer *t)
{
	struct rb_fs *fs = t->data;
	uint64_t now = rb_loop_now_ns(fs->loop), due;
	struct read_op *o;

	while (!rb_list_empty(&fs->fast_reads)) {
		o = rb_container_of(fs->fast_reads.next, struct read_op, gnode);
		if (now - o->guard_ns < FS_READFILE_DEADLINE_NS)
			break;
		guard_del(o);
		o->timed_out = true;
		fs_req_cancel(&o->req); /* completes later: read_done sees timed_out */
	}
	if (rb_list_empty(&fs->fast_reads))
		return;
	o = rb_container_of(fs->fast_reads.next, struct read_op, gnode);
	due = o->guard_ns + FS_READFILE_DEADLINE_NS - now;
	rb_timer_start_ns(fs->loop, &fs->fast_read_timer, due < FS_GUARD_MIN_NS ? FS_GUARD_MIN_NS : due,
			  guard_sweep);
}

/* ---- whole-file reads ------------------------------------------------------------ */

/* Fits a finished read's buffer to its data (the rule: see the top). An
 * allocation failure leaves the buffer as it is: still a valid result. */
static void read_fit(struct read_op *o)
{
	char *nb;

	if (o->from_cache)
		return;
	if (o->len < o->bufcap / 2) {
		nb = malloc(o->len + 1);
		if (!nb)
			return;
		memcpy(nb, o->buf, o->len);
		nb[o->len] = '\0';
		free(o->buf);
		o->buf = nb;
	} else if (o->bufcap - o->len >= FS_SHRINK_SLACK) {
		nb = realloc(o->buf, o->len + 1);
		if (nb)
			o->buf = nb;
	}
}

static void read_finish(struct read_op *o, int res)
{
	struct rb_fs_file f = { 0 };
	struct rb_fs *fs = o->base.fs;

	o->state = R_DONE;
	fs_op_release(&o->base);
	if (o->base.cancelled)
		res = -ECANCELED;
	if (res >= 0) {
		if ((o->flags & RB_FS_READ_CACHED) && !o->from_cache && o->have_stx && fs->cache)
			fs_cache_put(fs->cache, &o->stx, o->stx_rt, o->buf, o->len);
		read_fit(o);
		f.data = o->buf;
		f.len = o->len;
		f.have_stx = o->have_stx && (o->flags & RB_FS_READ_STAT);
		if (f.have_stx)
			f.stx = o->stx;
		f.from_cache = o->from_cache;
		o->buf = NULL;
	}
	fs_op_end(&o->base);
	o->cb(o->ctx, res, res >= 0 ? &f : NULL);
	free(f.data);
	free(o->buf);
	free(o->rel);
	free(o);
}

static void read_finish_later(struct rb_defer *d)
{
	struct read_op *o = d->data;
	read_finish(o, o->err);
}

static void submit(struct read_op *o, enum rb_io_op op)
{
	fs_req_prep(&o->req, o->base.fs, op, false, o->base.cls, 0, read_done, o);
}

static void read_open(struct read_op *o)
{
	o->state = R_STEP;
	open_step_start(&o->step);
}

static void read_next(struct read_op *o)
{
	o->state = R_READ;
	submit(o, RB_IO_READ);
	o->req.r.fd = o->fd;
	o->req.r.buf = o->buf + o->len;
	o->req.r.len = o->bufcap - o->len;
	o->req.r.off = (int64_t)o->len;
	fs_req_start(&o->req);
}

/* The bigger buffer's bytes are held: grow and read on. */
static void read_grown(struct rb_fs_op *op)
{
	struct read_op *o = (struct read_op *)op;
	char *nb = realloc(o->buf, o->want + 1);
	if (!nb) {
		read_close(o, -ENOMEM);
		return;
	}
	o->buf = nb;
	o->bufcap = o->want;
	read_next(o);
}

/* Grows the buffer to `want` when the size is known (exact), else doubles;
 * capped at max + 1 so an over-limit file is detected by filling it. */
static void read_grow(struct read_op *o, size_t want, bool exact)
{
	size_t n = exact ? want : o->bufcap ? o->bufcap * 2 : FS_FIRST_READ;
	if (n < want)
		n = want;
	if (n > o->max + 1)
		n = o->max + 1;
	o->want = n;
	o->state = R_GROW;
	/* Return the old amount and take the new one; waiting (if the cap is
	 * busy) happens while holding nothing. */
	fs_op_release(&o->base);
	fs_op_permit(&o->base, n + 1, read_grown);
}

static void read_close(struct read_op *o, int err)
{
	o->err = err;
	if (o->fd < 0) {
		read_finish(o, err);
		return;
	}
	o->state = R_CLOSE;
	submit(o, RB_IO_CLOSE);
	o->req.r.fd = o->fd;
	o->fd = -1;
	fs_req_start(&o->req);
}

static void read_start(struct rb_fs_op *op)
{
	struct read_op *o = (struct read_op *)op;

	if (o->need_stat) {
		read_open(o);
		return;
	}
	o->bufcap = o->max + 1 < FS_FIRST_READ ? o->max + 1 : FS_FIRST_READ;
	o->buf = malloc(o->bufcap + 1);
	if (!o->buf) {
		o->err = -ENOMEM;
		fs_op_later(&o->base, read_finish_later);
		return;
	}
	o->state = R_READFILE;
	submit(o, RB_IO_READFILE);
	o->req.r.fd = o->dirfd;
	o->req.r.path = o->rel;
	o->req.r.flags = (o->flags & RB_FS_NOFOLLOW) ? O_NOFOLLOW : 0;
	o->req.r.resolve = FS_RESOLVE;
	o->req.r.buf = o->buf;
	o->req.r.len = o->bufcap;
	/* A fifo with a silent writer would hold the read forever: the guard
	 * cuts it past the deadline (see the top). */
	guard_add(o);
	fs_req_start(&o->req);
}

/* The step path's open and statx are done (res < 0: the fd, if opened, is
 * still to be closed). */
static void read_stepped(struct open_step *s, int res)
{
	struct read_op *o = rb_container_of(s, struct read_op, step);

	if (res < 0) {
		read_close(o, res);
		return;
	}
	o->have_stx = true;
	o->stx_rt = fs_realtime_ns();
	if (o->stx.stx_size > o->max) {
		read_close(o, -RB_E_TOO_LARGE);
		return;
	}
	if ((o->flags & RB_FS_READ_CACHED) && o->base.fs->cache) {
		free(o->buf);
		o->buf = NULL;
		o->bufcap = 0;
		if (fs_cache_get(o->base.fs->cache, &o->stx, &o->buf, &o->len)) {
			o->from_cache = true;
			read_close(o, 0);
			return;
		}
	}
	/* Room for the whole file plus one byte, so the first read comes back
	 * short and the next returns 0. */
	if (o->bufcap < o->stx.stx_size + 1 || !o->buf) {
		read_grow(o, (size_t)o->stx.stx_size + 1, true);
		return;
	}
	read_next(o);
}

static void read_done(struct fs_req *fr)
{
	struct read_op *o = fr->owner;
	int res = (int)fr->r.res;

	if (o->state == R_CLOSE) {
		read_finish(o, o->err);
		return;
	}
	if (o->state == R_READFILE)
		guard_del(o);
	if (o->base.cancelled) {
		read_close(o, -ECANCELED);
		return;
	}
	switch (o->state) {
	case R_READFILE:
		/* Past the deadline: cut by the guard (a read blocked in the
		 * kernel may say -EINTR when cancelled). */
		if (o->timed_out && (res == -ECANCELED || res == -EINTR)) {
			o->need_stat = true;
			o->len = 0;
			read_open(o);
		} else if (res < 0) {
			read_finish(o, not_regular(fs_map_open_err(res, o->flags & RB_FS_NOFOLLOW)));
		} else if (res > 0 && (size_t)res < o->bufcap) {
			o->len = (size_t)res;
			o->buf[o->len] = '\0';
			read_finish(o, 0);
		} else if ((size_t)res == o->bufcap && o->bufcap == o->max + 1) {
			read_finish(o, -RB_E_TOO_LARGE);
		} else {
			/* Full buffer (maybe more) or 0 bytes (maybe not a file). */
			o->need_stat = true;
			o->len = 0;
			read_open(o);
		}
		return;
	case R_READ:
		if (res < 0) {
			read_close(o, not_regular(res));
		} else if (res == 0) {
			o->buf[o->len] = '\0';
			read_close(o, 0);
		} else {
			o->len += (size_t)res;
			if (o->len < o->bufcap)
				read_next(o); /* a short read is not the end; 0 is */
			else if (o->bufcap == o->max + 1)
				read_close(o, -RB_E_TOO_LARGE);
			else
				read_grow(o, o->bufcap * 2, false);
		}
		return;
	}
}

static void read_cancel(struct rb_fs_op *op)
{
	struct read_op *o = (struct read_op *)op;

	/* A close is never cancelled: it would leave the fd open. */
	if (o->state == R_DONE || o->state == R_CLOSE)
		return;
	if (fs_op_withdraw(op)) {
		/* Waiting for permits: at the start (nothing open) or while
		 * growing the buffer (the fd is open). */
		if (o->fd >= 0) {
			read_close(o, -ECANCELED);
		} else {
			o->err = -ECANCELED;
			o->state = R_DONE;
			fs_op_later(op, read_finish_later);
		}
		return;
	}
	fs_req_cancel(&o->req);
}

int rb_fs_read_file(struct rb_fs *fs, const struct rb_path *p, unsigned flags, size_t max_bytes,
		    enum rb_cap_class cls,
		    void (*cb)(void *ctx, int res, struct rb_fs_file *f), void *ctx,
		    struct rb_fs_op **op_out)
{
	struct read_op *o = calloc(1, sizeof(*o));
	if (!o || !(o->rel = strdup(p->rel))) {
		free(o);
		return -ENOMEM;
	}
	fs_op_init(&o->base, fs, cls, read_cancel);
	o->cb = cb;
	o->ctx = ctx;
	o->dirfd = p->dirfd;
	o->flags = flags;
	o->max = max_bytes ? max_bytes : fs->o.max_file_bytes;
	if (o->max > SIZE_MAX / 4)
		o->max = SIZE_MAX / 4; /* max + 1 and the doubling must not wrap */
	o->fd = -1;
	open_step_init(&o->step, &o->base, &o->req, o->dirfd, o->rel, flags & RB_FS_NOFOLLOW, &o->fd, &o->stx,
		       read_stepped);
	o->need_stat = flags & (RB_FS_READ_STAT | RB_FS_READ_CACHED);
	if (op_out)
		*op_out = &o->base;
	fs_op_permit(&o->base, o->need_stat ? 0 : (o->max + 1 < FS_FIRST_READ ? o->max + 1 : FS_FIRST_READ) + 1,
		     read_start);
	return 0;
}

size_t rb_fs_max_file_bytes(const struct rb_fs *fs)
{
	return fs->o.max_file_bytes;
}

/* ---- ranged reads ---------------------------------------------------------------
 *
 * The stat-first step (OPENAT2 with O_NONBLOCK beneath the root -> STATX of
 * the fd -> regular files only) -> [the bytes' permit] -> READ at growing
 * offsets until the range is full or 0 -> CLOSE. The STATX is the FIFO
 * guard here: nothing is read until it has shown a regular file, so no read
 * can hang on a fifo or never end on a device, and no READ needs a deadline. The size it gives bounds the range, so the
 * buffer (and the bytes taken from the cap) is what the file really holds
 * there, never more than asked. A STATX costs more than a small read (it
 * always goes to io-wq), which is why the whole-file fast path has none;
 * ranges serve head/tail of files too big to read whole, where it is noise.
 * Each op opens the file afresh: a caller reading several ranges compares
 * stx (dev, ino, size) between them. */

enum { G_STEP, G_GROW, G_READ, G_CLOSE, G_DONE };

/* A READ that fails with EINTR or EAGAIN (neither happens on a regular file
 * in practice, but a signal or the fault hook can say so) is tried again
 * this many times in a row before the error is reported. */
#define RANGE_RETRIES 4

struct range_op {
	struct rb_fs_op base;
	struct fs_req req;
	void (*cb)(void *ctx, int res, struct rb_fs_range *r);
	void *ctx;
	char *rel;
	unsigned flags;
	uint64_t off;	/* as asked */
	size_t len;	/* as asked */
	uint64_t start; /* file offset of the first byte to read */
	size_t want;	/* bytes to read: min(len, size - start) */
	size_t got;
	int fd;
	int state;
	int err;
	unsigned retries;
	char *buf;
	struct statx stx;
	struct open_step step; /* the open + statx */
};

static void range_done(struct fs_req *fr);

static void range_finish(struct range_op *o, int res)
{
	struct rb_fs_range r = { 0 };

	o->state = G_DONE;
	fs_op_release(&o->base);
	if (o->base.cancelled)
		res = -ECANCELED;
	if (res >= 0) {
		r.data = o->buf;
		r.data[o->got] = '\0';
		r.len = o->got;
		r.off = o->start;
		r.stx = o->stx;
		o->buf = NULL;
	}
	fs_op_end(&o->base);
	o->cb(o->ctx, res, res >= 0 ? &r : NULL);
	free(r.data);
	free(o->buf);
	free(o->rel);
	free(o);
}

static void range_finish_later(struct rb_defer *d)
{
	struct range_op *o = d->data;
	range_finish(o, o->err);
}

static void range_submit(struct range_op *o, enum rb_io_op op)
{
	fs_req_prep(&o->req, o->base.fs, op, false, o->base.cls, 0, range_done, o);
}

static void range_close(struct range_op *o, int err)
{
	o->err = err;
	if (o->fd < 0) {
		range_finish(o, err);
		return;
	}
	o->state = G_CLOSE;
	range_submit(o, RB_IO_CLOSE);
	o->req.r.fd = o->fd;
	o->fd = -1;
	fs_req_start(&o->req);
}

static void range_read_next(struct range_op *o)
{
	o->state = G_READ;
	range_submit(o, RB_IO_READ);
	o->req.r.fd = o->fd;
	o->req.r.buf = o->buf + o->got;
	o->req.r.len = o->want - o->got;
	o->req.r.off = (int64_t)(o->start + o->got);
	fs_req_start(&o->req);
}

/* The range's bytes are held: allocate and read. */
static void range_grown(struct rb_fs_op *op)
{
	struct range_op *o = (struct range_op *)op;
	o->buf = malloc(o->want + 1);
	if (!o->buf) {
		range_close(o, -ENOMEM);
		return;
	}
	range_read_next(o);
}

static void range_start(struct rb_fs_op *op)
{
	struct range_op *o = (struct range_op *)op;
	o->state = G_STEP;
	open_step_start(&o->step);
}

/* The file is known regular and stx holds its size: fix the range and take
 * its bytes (returning the op's first permit first: never wait holding one). */
static void range_plan(struct range_op *o)
{
	uint64_t size = o->stx.stx_size;

	if (o->flags & RB_FS_RANGE_FROM_END)
		o->start = o->off >= size ? 0 : size - o->off;
	else
		o->start = o->off;
	o->want = o->start >= size ? 0 : (size - o->start < o->len ? (size_t)(size - o->start) : o->len);
	if (!o->want) {
		o->buf = malloc(1);
		range_close(o, o->buf ? 0 : -ENOMEM);
		return;
	}
	o->state = G_GROW;
	fs_op_release(&o->base);
	fs_op_permit(&o->base, o->want + 1, range_grown);
}

/* The open and statx are done: a regular file to plan the range of, or an
 * error (the fd, if opened, is still to be closed). */
static void range_stepped(struct open_step *s, int res)
{
	struct range_op *o = rb_container_of(s, struct range_op, step);

	if (res < 0)
		range_close(o, res);
	else
		range_plan(o);
}

static void range_done(struct fs_req *fr)
{
	struct range_op *o = fr->owner;
	int res = (int)fr->r.res;

	if (o->state == G_CLOSE) {
		range_finish(o, o->err);
		return;
	}
	if (o->base.cancelled) {
		range_close(o, -ECANCELED);
		return;
	}
	switch (o->state) {
	case G_READ:
		if ((res == -EINTR || res == -EAGAIN) && o->retries < RANGE_RETRIES) {
			o->retries++;
			range_read_next(o);
		} else if (res < 0) {
			range_close(o, res);
		} else if (res == 0) {
			range_close(o, 0); /* the file shrank after the statx: what was there */
		} else {
			o->retries = 0;
			o->got += (size_t)res;
			if (o->got < o->want)
				range_read_next(o); /* a short read is not the end; 0 is */
			else
				range_close(o, 0);
		}
		return;
	}
}

static void range_cancel(struct rb_fs_op *op)
{
	struct range_op *o = (struct range_op *)op;

	/* A close is never cancelled: it would leave the fd open. */
	if (o->state == G_DONE || o->state == G_CLOSE)
		return;
	if (fs_op_withdraw(op)) {
		/* Waiting for permits: at the start (nothing open) or for the
		 * range's bytes (the fd is open). */
		if (o->fd >= 0) {
			range_close(o, -ECANCELED);
		} else {
			o->err = -ECANCELED;
			o->state = G_DONE;
			fs_op_later(op, range_finish_later);
		}
		return;
	}
	fs_req_cancel(&o->req);
}

int rb_fs_read_range(struct rb_fs *fs, const struct rb_path *p, uint64_t off, size_t len, unsigned flags,
		     enum rb_cap_class cls, void (*cb)(void *ctx, int res, struct rb_fs_range *r), void *ctx,
		     struct rb_fs_op **op_out)
{
	struct range_op *o;

	if (len > fs->o.max_file_bytes)
		return -RB_E_TOO_LARGE;
	o = calloc(1, sizeof(*o));
	if (!o || !(o->rel = strdup(p->rel))) {
		free(o);
		return -ENOMEM;
	}
	fs_op_init(&o->base, fs, cls, range_cancel);
	o->cb = cb;
	o->ctx = ctx;
	o->flags = flags;
	o->off = off;
	o->len = len;
	o->fd = -1;
	open_step_init(&o->step, &o->base, &o->req, p->dirfd, o->rel, flags & RB_FS_NOFOLLOW, &o->fd, &o->stx,
		       range_stepped);
	if (op_out)
		*op_out = &o->base;
	fs_op_permit(&o->base, 0, range_start);
	return 0;
}
