/* stdio.c: the MCP stdio transport: newline-delimited JSON-RPC on fd 0
 * (in) and fd 1 (out), one session.
 *
 * Two shapes, chosen by the io backend, never a blocking call on the loop:
 *  - uring:   stdin reads and stdout writes are RB_IO_READ / RB_IO_WRITE
 *             ring ops at offset -1 (the kernel arms its own poll for pipes).
 *             An fd someone left O_NONBLOCK answers -EAGAIN; we then wait
 *             with a one-shot poll and submit again.
 *  - threads: libuv's shape for pipes: a one-shot poll, then non-blocking
 *             read()/write() on the loop thread. O_NONBLOCK is set only on
 *             pipes and sockets (a tty's description is usually shared with
 *             stderr and the shell) and restored at the end; regular files
 *             are always ready. Reading stops at a short read (a blocking
 *             tty must not be read twice per poll).
 *
 * Reading: 64 KiB chunks into rb_lines (size limit, oversized lines counted
 * and dropped without being buffered). Reading pauses while too many calls
 * are in flight or too much output is queued (8 MiB or 16k messages: a
 * client that stops reading our replies cannot make us buffer without
 * bound) and resumes as they drain.
 *
 * Writing: one write in flight; queued messages are coalesced into one
 * buffer up to 256 KiB (a larger message goes out as is); short writes are
 * continued. EPIPE (the client closed our stdout) ends the session quietly.
 *
 * Ending: stdin EOF -> the session finishes its calls (grace, then cancel);
 * rb_stdio_shutdown (a signal) -> reading stops and calls are cancelled at
 * once. When the session is idle the queued output is flushed (at most
 * FLUSH_MS, then dropped and the pending ops cancelled) and done() runs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringbank/mcp.h"

#define READ_CHUNK (64u << 10)
#define READS_PER_TURN 4
#define COALESCE_MAX (256u << 10)
#define PAUSE_CALLS 4096
#define PAUSE_OUT_BYTES (8u << 20)
#define PAUSE_OUT_MSGS 16384
#define FLUSH_MS 5000

struct outmsg {
	struct rb_list node;
	char *buf;
	size_t len;
};

struct rb_stdio {
	struct rb_stdio_opts o;
	struct rb_io *io;
	struct rb_loop *loop;
	bool uring;
	struct rb_mcp *mcp;
	struct rb_lines lines;
	/* reading */
	struct rb_io_req rreq;
	struct rb_poll rpoll;
	bool reading;	   /* a read op or poll is in flight */
	bool read_stopped; /* EOF, signal or broken output: never read again */
	bool paused;
	/* writing */
	struct rb_list outq;
	size_t out_bytes; /* queued + in flight */
	size_t out_msgs;  /* queued */
	struct rb_io_req wreq;
	struct rb_poll wpoll;
	struct rb_defer write_defer;
	char *wbuf;
	size_t wlen, woff;
	bool writing, out_dead;
	/* ending */
	bool session_idle, done_sent;
	int done_err, flush_tries;
	struct rb_timer flush_timer;
	struct rb_defer done_defer;
	void (*done)(void *ctx, int err);
	void *done_ctx;
	int in_flags, out_flags; /* to restore; -1 = untouched */
};

static void read_arm(struct rb_stdio *st);
static void write_next(struct rb_stdio *st);
static void maybe_done(struct rb_stdio *st);

/* ---- ending ----------------------------------------------------------------------- */

static void done_now(struct rb_defer *d)
{
	struct rb_stdio *st = d->data;
	st->done(st->done_ctx, st->done_err);
}

static void maybe_done(struct rb_stdio *st)
{
	if (st->done_sent || !st->session_idle || st->reading || st->writing)
		return;
	if (!rb_list_empty(&st->outq) && !st->out_dead)
		return;
	st->done_sent = true;
	rb_timer_stop(st->loop, &st->flush_timer);
	rb_defer(st->loop, &st->done_defer, done_now);
}

static void stop_reading(struct rb_stdio *st)
{
	if (st->read_stopped)
		return;
	st->read_stopped = true;
	if (!st->reading)
		return;
	/* The op's callback still runs (with -ECANCELED or its data, ignored). */
	if (st->rpoll.active)
		rb_poll_stop(&st->rpoll);
	else
		rb_io_cancel(st->io, &st->rreq);
}

static void drop_output(struct rb_stdio *st)
{
	struct rb_list *n;

	st->out_dead = true;
	while ((n = rb_list_pop(&st->outq))) {
		struct outmsg *om = rb_container_of(n, struct outmsg, node);
		st->out_bytes -= om->len;
		st->out_msgs--;
		free(om->buf);
		free(om);
	}
	if (st->writing) {
		if (st->wpoll.active)
			rb_poll_stop(&st->wpoll);
		else
			rb_io_cancel(st->io, &st->wreq);
	}
}

/* The end is taking too long: first drop the output the client does not
 * read and cancel what is pending; if even the cancellations have not
 * completed a second later, give up (-ETIMEDOUT: ops are still in flight,
 * the caller exits without draining). Never hang. */
static void flush_timeout(struct rb_timer *t)
{
	struct rb_stdio *st = t->data;

	if (st->flush_tries++ == 0) {
		if (st->writing || !rb_list_empty(&st->outq))
			rb_log(RB_LOG_WARNING, "stdout: the client did not read %zu bytes of replies in %d ms; "
			       "dropping them", st->out_bytes, FLUSH_MS);
		drop_output(st);
		stop_reading(st);
		maybe_done(st);
		if (!st->done_sent)
			rb_timer_start(st->loop, &st->flush_timer, 1000, flush_timeout);
		return;
	}
	rb_log(RB_LOG_ERROR, "stdio: %s did not complete after cancellation; giving up",
	       st->reading ? "a read of stdin" : "a write to stdout");
	st->done_err = -ETIMEDOUT;
	st->done_sent = true;
	rb_defer(st->loop, &st->done_defer, done_now);
}

static void on_session_idle(void *ctx, bool abandoned)
{
	struct rb_stdio *st = ctx;

	st->session_idle = true;
	if (abandoned)
		st->done_err = -ETIMEDOUT;
	stop_reading(st);
	maybe_done(st);
	if (!st->done_sent)
		rb_timer_start(st->loop, &st->flush_timer, FLUSH_MS, flush_timeout);
}

void rb_stdio_shutdown(struct rb_stdio *st)
{
	stop_reading(st);
	rb_mcp_shutdown(st->mcp, true);
}

/* ---- writing ----------------------------------------------------------------------- */

static void write_failed(struct rb_stdio *st, int err)
{
	/* EPIPE: the client went away, nothing to say about it. */
	if (err != -EPIPE && err != -ECANCELED)
		rb_log(RB_LOG_WARNING, "stdout: write failed: %s; ending the session", strerror(-err));
	free(st->wbuf);
	st->out_bytes -= st->wlen;
	st->wbuf = NULL;
	st->wlen = st->woff = 0;
	drop_output(st);
	stop_reading(st);
	rb_mcp_shutdown(st->mcp, true);
	maybe_done(st);
}

static void write_complete(struct rb_stdio *st)
{
	free(st->wbuf);
	st->out_bytes -= st->wlen;
	st->wbuf = NULL;
	st->wlen = st->woff = 0;
	if (st->paused)
		read_arm(st);
}

static bool write_submit(struct rb_stdio *st);
static void write_done(struct rb_io_req *req);

static void write_ready(struct rb_poll *p, int revents)
{
	struct rb_stdio *st = p->data;

	st->writing = false;
	if (st->out_dead || revents < 0) {
		write_failed(st, revents < 0 ? revents : -ECANCELED);
		return;
	}
	if (write_submit(st)) {
		write_complete(st);
		write_next(st);
	}
}

static void write_wait(struct rb_stdio *st)
{
	int r;
	st->wpoll.data = st;
	r = rb_poll_start(st->loop, &st->wpoll, st->o.out_fd, POLLOUT, write_ready);
	if (r < 0)
		write_failed(st, r);
	else
		st->writing = true;
}

static void write_done(struct rb_io_req *req)
{
	struct rb_stdio *st = req->data;
	int64_t res = req->res;
	bool again = false;

	st->writing = false;
	if (st->out_dead) {
		write_failed(st, -ECANCELED);
		return;
	}
	if (res > 0) {
		st->woff += (size_t)res;
		if (st->woff == st->wlen) {
			write_complete(st);
			write_next(st);
			return;
		}
		again = true; /* short write: the rest */
	} else if (res == -EAGAIN) {
		write_wait(st); /* an O_NONBLOCK fd: wait for room */
		return;
	} else if (res == -EINTR || res == 0) {
		again = true;
	}
	if (again)
		write_submit(st); /* on the ring: always pending or failed */
	else
		write_failed(st, (int)res);
}

/* Writes the rest of wbuf. Returns true when it was all written at once
 * (threads backend); false when an op or poll is pending, or it failed. */
static bool write_submit(struct rb_stdio *st)
{
	if (st->uring) {
		int r;
		rb_io_prep(&st->wreq, RB_IO_WRITE, write_done, st);
		st->wreq.fd = st->o.out_fd;
		st->wreq.buf = st->wbuf + st->woff;
		st->wreq.len = st->wlen - st->woff;
		st->wreq.off = -1;
		r = rb_io_submit(st->io, &st->wreq);
		if (r < 0)
			write_failed(st, r);
		else
			st->writing = true;
		return false;
	}
	while (st->woff < st->wlen) {
		ssize_t n = write(st->o.out_fd, st->wbuf + st->woff, st->wlen - st->woff);
		if (n > 0) {
			st->woff += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			write_wait(st);
			return false;
		} else {
			write_failed(st, n < 0 ? -errno : -EIO);
			return false;
		}
	}
	return true;
}

/* Takes the next buffer from the queue (coalescing small messages) and
 * writes it; loops while writes complete at once, so a long queue on the
 * threads backend does not recurse. */
static void write_next(struct rb_stdio *st)
{
	while (!st->writing && !st->out_dead && !st->wbuf) {
		struct rb_list *n = rb_list_pop(&st->outq);
		struct outmsg *om;

		if (!n) {
			maybe_done(st);
			return;
		}
		om = rb_container_of(n, struct outmsg, node);
		st->out_msgs--;
		if (om->len >= COALESCE_MAX || rb_list_empty(&st->outq)) {
			st->wbuf = om->buf;
			st->wlen = om->len;
			free(om);
		} else {
			/* Several small replies: one write instead of one each. */
			size_t total = om->len;
			struct rb_list *p;
			char *buf;
			for (p = st->outq.next; p != &st->outq; p = p->next) {
				struct outmsg *x = rb_container_of(p, struct outmsg, node);
				if (total + x->len > COALESCE_MAX)
					break;
				total += x->len;
			}
			buf = malloc(total);
			if (!buf) {
				st->wbuf = om->buf; /* no memory to coalesce: send one */
				st->wlen = om->len;
				free(om);
			} else {
				st->wbuf = buf;
				st->wlen = 0;
				for (;;) {
					memcpy(buf + st->wlen, om->buf, om->len);
					st->wlen += om->len;
					free(om->buf);
					free(om);
					if (st->wlen == total)
						break;
					om = rb_container_of(rb_list_pop(&st->outq), struct outmsg, node);
					st->out_msgs--;
				}
			}
		}
		st->woff = 0;
		if (write_submit(st))
			write_complete(st);
	}
}

static void write_kick(struct rb_defer *d)
{
	write_next(d->data);
}

static void stdio_send(void *ctx, char *msg, size_t len)
{
	struct rb_stdio *st = ctx;
	struct outmsg *om;

	if (st->out_dead || st->done_sent || !(om = malloc(sizeof(*om)))) {
		free(msg);
		return;
	}
	om->buf = msg;
	om->len = len;
	rb_list_add_tail(&st->outq, &om->node);
	st->out_bytes += len;
	st->out_msgs++;
	/* Deferred: replies produced in the same loop turn share one write. */
	if (!st->writing && !st->wbuf)
		rb_defer(st->loop, &st->write_defer, write_kick);
}

/* ---- reading ------------------------------------------------------------------------ */

static void on_line(void *ctx, const char *s, size_t n)
{
	struct rb_stdio *st = ctx;
	rb_mcp_handle(st->mcp, s, n);
}

static void on_oversized(void *ctx, size_t n, size_t max)
{
	struct rb_stdio *st = ctx;
	/* INFO: the client already gets an error reply for it. */
	rb_log(RB_LOG_INFO, "stdin: dropped a message of %zu bytes (limit %zu)", n, max);
	rb_mcp_oversized(st->mcp, n, max);
}

static void on_eof(struct rb_stdio *st)
{
	st->read_stopped = true;
	rb_lines_eof(&st->lines);
	rb_log(RB_LOG_INFO, "stdin closed: finishing %zu call(s) in flight", rb_mcp_inflight(st->mcp));
	rb_mcp_shutdown(st->mcp, false);
	maybe_done(st);
}

static void read_failed(struct rb_stdio *st, int err)
{
	rb_log(RB_LOG_WARNING, "stdin: read failed: %s; treating it as end of input", strerror(-err));
	on_eof(st);
}

static bool must_pause(struct rb_stdio *st)
{
	return rb_mcp_inflight(st->mcp) >= PAUSE_CALLS || st->out_bytes >= PAUSE_OUT_BYTES ||
	       st->out_msgs >= PAUSE_OUT_MSGS;
}

static void read_ready(struct rb_poll *p, int revents);

static void read_done(struct rb_io_req *req)
{
	struct rb_stdio *st = req->data;
	int64_t res = req->res;

	st->reading = false;
	if (st->read_stopped) {
		maybe_done(st);
		return;
	}
	if (res > 0) {
		rb_lines_commit(&st->lines, (size_t)res);
		read_arm(st);
	} else if (res == 0) {
		on_eof(st);
	} else if (res == -EAGAIN) {
		/* stdin was left O_NONBLOCK: wait for data, then submit again. */
		int r;
		st->rpoll.data = st;
		r = rb_poll_start(st->loop, &st->rpoll, st->o.in_fd, POLLIN, read_ready);
		if (r < 0)
			read_failed(st, r);
		else
			st->reading = true;
	} else if (res == -EINTR) {
		read_arm(st);
	} else {
		read_failed(st, (int)res);
	}
}

static void read_ready(struct rb_poll *p, int revents)
{
	struct rb_stdio *st = p->data;
	int i;

	st->reading = false;
	if (st->read_stopped || revents < 0) {
		if (!st->read_stopped)
			read_failed(st, revents);
		maybe_done(st);
		return;
	}
	if (st->uring) {
		/* Back from an -EAGAIN: the ring read again. */
		read_arm(st);
		return;
	}
	for (i = 0; i < READS_PER_TURN && !st->read_stopped; i++) {
		char *buf;
		ssize_t room = rb_lines_space(&st->lines, READ_CHUNK, &buf), n;
		if (room < 0) {
			read_failed(st, (int)room);
			return;
		}
		n = read(st->o.in_fd, buf, READ_CHUNK);
		if (n > 0) {
			rb_lines_commit(&st->lines, (size_t)n);
			/* A short read took all there was (libuv's rule too); the
			 * poll tells when more comes. Reading again would cost a
			 * syscall per request to hear EAGAIN on a pipe, and on a
			 * stdin left blocking (a terminal) it would block the loop
			 * until the next line: no reply to this one meanwhile. */
			if (must_pause(st) || (size_t)n < READ_CHUNK)
				break;
		} else if (n == 0) {
			on_eof(st);
			return;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			break;
		} else {
			read_failed(st, -errno);
			return;
		}
	}
	read_arm(st);
}

static void read_arm(struct rb_stdio *st)
{
	char *buf;
	ssize_t room;
	int r;

	if (st->reading || st->read_stopped)
		return;
	st->paused = must_pause(st);
	if (st->paused)
		return; /* resumed by wake() or a finished write */
	if (!st->uring) {
		st->rpoll.data = st;
		r = rb_poll_start(st->loop, &st->rpoll, st->o.in_fd, POLLIN, read_ready);
		if (r < 0)
			read_failed(st, r);
		else
			st->reading = true;
		return;
	}
	room = rb_lines_space(&st->lines, READ_CHUNK, &buf);
	if (room < 0) {
		read_failed(st, (int)room);
		return;
	}
	rb_io_prep(&st->rreq, RB_IO_READ, read_done, st);
	st->rreq.fd = st->o.in_fd;
	st->rreq.buf = buf;
	st->rreq.len = READ_CHUNK;
	st->rreq.off = -1;
	r = rb_io_submit(st->io, &st->rreq);
	if (r < 0)
		read_failed(st, r);
	else
		st->reading = true;
}

static void session_wake(void *ctx)
{
	struct rb_stdio *st = ctx;
	if (st->paused)
		read_arm(st);
}

/* ---- setup -------------------------------------------------------------------------- */

/* Threads backend: O_NONBLOCK on pipes and sockets only. Returns the old
 * flags to restore, or -1 when untouched. */
static int set_nonblock(int fd)
{
	struct stat sb;
	int fl;

	if (fstat(fd, &sb) < 0 || !(S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)))
		return -1;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return -1;
	if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fl;
}

int rb_stdio_new(struct rb_stdio **out, const struct rb_stdio_opts *o)
{
	struct rb_stdio *st = calloc(1, sizeof(*st));
	struct rb_mcp_opts mo;
	int r;

	*out = NULL;
	if (!st)
		return -ENOMEM;
	st->o = *o;
	st->io = rb_fs_io(o->mcp.fs);
	st->loop = rb_io_loop(st->io);
	st->uring = rb_io_kind(st->io) == RB_IO_BACKEND_URING;
	st->in_flags = st->out_flags = -1;
	rb_list_init(&st->outq);
	st->write_defer.data = st->done_defer.data = st->flush_timer.data = st;
	rb_lines_init(&st->lines, o->max_message_bytes, on_line, on_oversized, st);
	mo = o->mcp;
	mo.send = stdio_send;
	mo.idle = on_session_idle;
	mo.wake = session_wake;
	mo.ctx = st;
	r = rb_mcp_new(&st->mcp, &mo);
	if (r < 0) {
		free(st);
		return r;
	}
	*out = st;
	return 0;
}

int rb_stdio_start(struct rb_stdio *st, void (*done)(void *ctx, int err), void *ctx)
{
	st->done = done;
	st->done_ctx = ctx;
	if (!st->uring) {
		st->in_flags = set_nonblock(st->o.in_fd);
		st->out_flags = set_nonblock(st->o.out_fd);
	}
	read_arm(st);
	return 0;
}

void rb_stdio_free(struct rb_stdio *st)
{
	if (!st)
		return;
	if (st->in_flags >= 0)
		fcntl(st->o.in_fd, F_SETFL, st->in_flags);
	if (st->out_flags >= 0)
		fcntl(st->o.out_fd, F_SETFL, st->out_flags);
	rb_timer_stop(st->loop, &st->flush_timer);
	rb_defer_cancel(st->loop, &st->write_defer);
	rb_defer_cancel(st->loop, &st->done_defer);
	drop_output(st);
	free(st->wbuf);
	rb_mcp_free(st->mcp);
	rb_lines_deinit(&st->lines);
	free(st);
}
