/* http.c: the MCP Streamable HTTP transport (see include/ringbank/http.h).
 *
 * Shape. A connection reads and parses one request at a time (llhttp,
 * paused at each message end, so pipelined bytes wait in the connection's
 * input buffer until the response before them is queued: responses leave in
 * request order). A request is dispatched at once; its response is either
 * written at once (errors, 202, DELETE, the initialize answer...) or later,
 * when the session's rb_mcp sends the JSON-RPC response for its id.
 *
 * Routing of what a session sends (rb_mcp's send callback):
 *   - a response: to the connection whose POST carried the request with
 *     that id (application/json, or the last event of its SSE stream); an
 *     error with no usable id goes to the POST being handled right now;
 *   - notifications/progress: to the SSE stream of the request that carried
 *     the progressToken (dropped when that request is answered in JSON);
 *   - anything else (server requests, other notifications): to the
 *     session's GET stream, or a small bounded backlog until one opens;
 *   - a batch reply (an array; 2025-03-26 sessions): through rb_mcp's
 *     batch hook to the POST that carried the batch, found by its first
 *     request id; the reply to a batch without requests, to that POST
 *     while it is handled (400).
 *
 * Output: a queue of segments sent with sendmsg (iovecs: no copy of large
 * replies). SSE events are chunked (keep-alive survives the end of a
 * stream). A connection whose unsent bytes pass the cap, or whose send
 * makes no progress for the idle timeout, is dropped.
 *
 * Ending a connection cancels the request it carries (a synthesized
 * notifications/cancelled into its session: the tool stops, its permits go
 * back) and, for a GET stream, detaches it. Its memory is freed once every
 * ring op or poll on it has completed (an op's memory is the op's). Graceful
 * closes flush, shut the write side and discard input for up to 2 s
 * (lingering close), so an early 413 is read by a client still uploading.
 *
 * Timers: one rb_timer per connection, armed at the nearest deadline of its
 * state (request timeout, keep-alive idle, send stall, SSE heartbeat,
 * linger) and re-evaluated when it fires, so progress never re-arms it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>
#include <llhttp.h>
#include <yyjson.h>

#include "ringbank/http.h"
#include "ringbank/io.h"

#define NS_PER_MS 1000000ull

#define BUF_SIZE (16u << 10)	   /* provided recv buffer */
#define BUF_COUNT 128		   /* provided buffers (power of two) */
#define BUF_GROUP 0x7262	   /* 'rb' */
#define RDBUF_SIZE (64u << 10)	   /* threads backend: shared read buffer */
#define READS_PER_TURN 4
#define IN_PAUSE (256u << 10)	   /* pipelined input held while busy, then stop reading */
#define OUT_PAUSE (1u << 20)	   /* do not start the next request while this much is unsent */
#define IOV_BATCH 64
#define LINGER_MS 2000
#define SHUTDOWN_FLUSH_MS 5000
#define BACKLOG_MSGS 256
#define BACKLOG_BYTES (1u << 20)
#define ACCEPT_BATCH 64
#define REJECT_EXTRA 64		   /* connections over the limit still answered 503 */
#define FIELD_MAX 64

/* Protocol versions the server speaks (mcp.c negotiates the same list). */
static const char *const versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" };

/* ---- small helpers ---------------------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		char *p;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_puts(struct sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		sb_add(b, tmp, (size_t)n);
		return;
	}
	{
		char *big = malloc((size_t)n + 1);
		if (!big) {
			b->oom = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		sb_add(b, big, (size_t)n);
		free(big);
	}
}

static char *memdup0(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}

static bool ieq(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);
	return an == bn && !strncasecmp(a, b, an);
}

/* Does a comma-separated header value list `token` (case-insensitive,
 * parameters after ';' ignored)? */
static bool list_has(const char *v, const char *token)
{
	size_t tl = strlen(token);

	while (v && *v) {
		const char *end, *p;
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		end = v;
		while (*end && *end != ',')
			end++;
		p = v;
		while (p < end && *p != ';' && *p != ' ' && *p != '\t')
			p++;
		if ((size_t)(p - v) == tl && !strncasecmp(v, token, tl))
			return true;
		v = end;
	}
	return false;
}

/* ---- exposed helpers -------------------------------------------------------------------- */

int rb_http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	const char *colon, *host, *port_s;
	char hostbuf[64];
	size_t hl;
	char *end;
	unsigned long port;

	if (!s)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -EINVAL;
		host = s + 1;
		hl = (size_t)(rb - host);
		port_s = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			return -EINVAL;
		host = s;
		hl = (size_t)(colon - s);
		port_s = colon + 1;
	}
	if (hl >= sizeof(hostbuf) || !*port_s)
		return -EINVAL;
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (*end || errno || port > 65535 || !isdigit((unsigned char)*port_s))
		return -EINVAL;
	memcpy(hostbuf, host, hl);
	hostbuf[hl] = 0;
	if (s[0] != '[' && (!hl || !strcasecmp(hostbuf, "localhost")))
		strcpy(hostbuf, "127.0.0.1");
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, hostbuf, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, hostbuf, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*len = sizeof(*a);
	}
	return 0;
}

/* The host part of "host", "host:port", "[v6]" or "[v6]:port" into out
 * (brackets kept for IPv6). false if malformed. */
static bool host_part(const char *s, size_t n, char *out, size_t outlen)
{
	size_t hl;

	if (!n)
		return false;
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return false;
		hl = (size_t)(rb - s) + 1;
		if (hl < n && s[hl] != ':')
			return false;
	} else {
		const char *c = memchr(s, ':', n);
		hl = c ? (size_t)(c - s) : n;
	}
	if (!hl || hl >= outlen)
		return false;
	if (hl < n) { /* a port: digits only */
		size_t i;
		if (hl + 1 == n)
			return false;
		for (i = hl + 1; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
	}
	memcpy(out, s, hl);
	out[hl] = 0;
	return true;
}

static bool host_is_loopback_name(const char *h)
{
	return !strcasecmp(h, "localhost") || !strcmp(h, "127.0.0.1") || !strcmp(h, "[::1]");
}

/* Splits "scheme://host[:port]" (no path) -> host part. */
static bool origin_host(const char *origin, char *host, size_t hostlen)
{
	const char *p = strstr(origin, "://");
	size_t n;

	if (!p)
		return false;
	if (!ieq(origin, (size_t)(p - origin), "http") && !ieq(origin, (size_t)(p - origin), "https"))
		return false;
	p += 3;
	n = strlen(p);
	if (n && p[n - 1] == '/')
		n--; /* tolerate a trailing slash */
	if (memchr(p, '/', n) || memchr(p, '@', n))
		return false;
	return host_part(p, n, host, hostlen);
}

bool rb_http_origin_allowed(const char *origin, const char *const *extra, size_t n_extra)
{
	char host[256];
	size_t i, ol;

	if (!origin)
		return true;
	ol = strlen(origin);
	for (i = 0; i < n_extra; i++) {
		size_t el = strlen(extra[i]);
		if (el && extra[i][el - 1] == '/')
			el--;
		if (ol == el && !strncasecmp(origin, extra[i], el))
			return true;
	}
	if (!origin_host(origin, host, sizeof(host)))
		return false;
	return host_is_loopback_name(host);
}

bool rb_http_host_allowed(const char *hostval, const char *const *extra, size_t n_extra)
{
	char host[256], eh[256];
	size_t i;

	if (!host_part(hostval, strlen(hostval), host, sizeof(host)))
		return false;
	if (host_is_loopback_name(host))
		return true;
	for (i = 0; i < n_extra; i++)
		if (origin_host(extra[i], eh, sizeof(eh)) && !strcasecmp(eh, host))
			return true;
	return false;
}

bool rb_http_token_equal(const char *want, size_t want_len, const char *got, size_t got_len)
{
	volatile unsigned char diff = (unsigned char)(want_len != got_len);
	size_t i;

	/* Every byte of `want` is compared whatever `got` holds, so the time
	 * tells nothing about where the first difference is. */
	for (i = 0; i < want_len; i++) {
		unsigned char g = i < got_len ? (unsigned char)got[i] : 0;
		diff |= (unsigned char)((unsigned char)want[i] ^ g);
	}
	return diff == 0;
}

bool rb_http_version_supported(const char *v)
{
	size_t i;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (!strcmp(v, versions[i]))
			return true;
	return false;
}

/* ---- types ------------------------------------------------------------------------------ */

struct seg {
	struct rb_list node;
	char *buf;
	size_t len, off;
	bool own;
};

/* The request being parsed, then served. */
struct req {
	char *url;
	size_t url_len;
	char field[FIELD_MAX];
	size_t field_len;
	bool field_long;
	struct sbuf val;
	size_t head_bytes;
	char *host, *origin, *auth, *ctype, *accept, *sid, *pver, *expect;
	struct sbuf body;
	int err_status;	 /* set by a callback to stop the parser */
	const char *err_msg;
	uint8_t method;
	bool complete, upgrade;
};

enum resp_kind { R_NONE, R_JSON, R_SSE, R_SSE_GET };

struct session;

struct conn {
	struct rb_list node;
	struct rb_http *h;
	int fd;
	llhttp_t parser;
	unsigned id;
	/* state */
	bool busy;	/* a request is being served */
	bool closing;	/* no more requests: flush, then linger */
	bool lingering; /* write side shut: discard input until EOF or LINGER_MS */
	bool dead;	/* torn down: waiting for ops, then freed */
	bool overflow;	/* output cap passed: drop at the next kick */
	bool rejecting; /* over the connection limit: a 503, then close */
	unsigned ops;	/* ring ops / polls in flight */
	/* input */
	char *in;
	size_t in_len, in_cap;
	bool recv_armed, force_own;
	struct rb_ring_op recv_op;
	char *rbuf;
	struct rb_poll poll;
	unsigned poll_events;
	bool poll_pending; /* started, its callback not yet run (a stop is asynchronous) */
	bool want_write;
	struct req r;
	bool req_started;
	/* response */
	enum resp_kind resp;
	struct session *s;	  /* attached session */
	struct rb_list snode;	  /* in s->conns */
	struct rb_list pnode;	  /* in s->pending while a request waits */
	char *pid, *ptok;	  /* canonical JSON of the request id and progress token */
	char **bids, **btoks;	  /* a batch (2025-03-26) instead: its request ids and progress tokens */
	size_t nbids, nbtoks;
	bool pending, new_session, keep_alive, chunked, sse_ok, json_ok;
	char new_sid[33];	  /* Mcp-Session-Id to send with the initialize answer */
	/* output */
	struct rb_list outq;
	size_t out_bytes;
	bool sending;
	struct rb_ring_op send_op;
	struct iovec iov[IOV_BATCH];
	struct msghdr msg;
	struct rb_defer kick, parse_defer, free_defer;
	/* timing */
	struct rb_timer timer;
	uint64_t idle_since, req_start, last_out, last_beat, linger_start;
};

struct backlog_msg {
	struct rb_list node;
	char *buf;
	size_t len;
};

struct session {
	struct rb_list node;
	struct rb_http *h;
	char id[33];
	struct rb_mcp *m;
	struct rb_list pending; /* conns (pnode) waiting for a response */
	struct rb_list conns;	/* attached conns (snode) */
	struct conn *get;	/* the GET stream */
	struct conn *current;	/* the POST being handed to rb_mcp now */
	struct conn *batch_post; /* the same, when its body is a batch */
	struct rb_list backlog;
	size_t backlog_n, backlog_bytes;
	struct rb_timer expire;
	struct rb_defer doom;
	uint64_t last_used;
	bool terminated, mcp_idle, abandoned;
};

struct rb_http {
	struct rb_http_opts o;
	struct rb_loop *loop;
	struct rb_io *io;
	struct rb_fs *fs;
	bool uring;
	int lfd;
	bool loopback, socket_activated;
	char url[160];
	char *token;
	size_t token_len;
	llhttp_settings_t settings;
	/* accept */
	struct rb_ring_op accept_op;
	struct rb_poll accept_poll;
	struct rb_timer accept_backoff;
	bool accept_armed, accept_multishot;
	/* provided buffers */
	bool bufring;
	struct io_uring_buf_ring *br;
	size_t br_size;
	char *bufs;
	char *rdbuf;
	/* conns and sessions */
	struct rb_list conns, sessions, dying;
	unsigned nconns, nlive, nsessions, next_conn_id; /* nlive: with the ones being refused */
	/* end */
	bool started, stopping, done_sent, abandoned;
	struct rb_timer stop_timer;
	struct rb_defer done_defer;
	void (*done)(void *ctx, int err);
	void *done_ctx;
	/* counters */
	uint64_t accepted, requests, rejected_conns, rejected_sessions, rejected_origin, rejected_auth,
		rejected_limits, timeouts, dropped_slow, cancelled_on_close;
};

static void conn_abort(struct conn *c, const char *why);
static void conn_finish(struct conn *c);
static void conn_timer_arm(struct conn *c);
static void out_kick(struct conn *c);
static void recv_arm(struct conn *c);
static void response_done(struct conn *c);
static void maybe_done(struct rb_http *h);
static void session_terminate(struct session *s, const char *why);
static void session_detach(struct conn *c, bool cancel);
static void accept_arm(struct rb_http *h);
static void kick_cb(struct rb_defer *d);
static void parse_cb(struct rb_defer *d);
static void session_doom(struct rb_defer *d);
static void free_cb(struct rb_defer *d);

/* ---- output ------------------------------------------------------------------------------- */

static void seg_free(struct seg *g)
{
	if (g->own)
		free(g->buf);
	free(g);
}

/* Queues len bytes of buf; own: buf is malloc'ed and now ours. */
static void out_push(struct conn *c, char *buf, size_t len, bool own)
{
	struct seg *g;

	if (c->dead || !len) {
		if (own)
			free(buf);
		return;
	}
	g = malloc(sizeof(*g));
	if (!g) {
		if (own)
			free(buf);
		c->overflow = true; /* cannot keep the stream consistent: drop it */
		out_kick(c);
		return;
	}
	g->buf = buf;
	g->len = len;
	g->off = 0;
	g->own = own;
	rb_list_add_tail(&c->outq, &g->node);
	if (!c->out_bytes)
		c->last_out = rb_now_ns(); /* the stall clock starts with the first unsent byte */
	c->out_bytes += len;
	if (c->out_bytes > c->h->o.max_output_bytes && !c->overflow) {
		c->overflow = true;
		rb_log(RB_LOG_WARNING, "http: connection %u: %zu bytes unsent (limit %zu): the client is not "
		       "reading; disconnecting it", c->id, c->out_bytes, c->h->o.max_output_bytes);
	}
	out_kick(c);
}

static void out_push_str(struct conn *c, const char *s)
{
	out_push(c, (char *)s, strlen(s), false);
}

static void out_push_sb(struct conn *c, struct sbuf *b)
{
	if (b->oom) {
		free(b->p);
		c->overflow = true;
		out_kick(c);
		return;
	}
	out_push(c, b->p, b->len, true);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Drops n sent bytes from the head of the queue. */
static void out_consume(struct conn *c, size_t n)
{
	c->out_bytes -= n;
	c->last_out = rb_now_ns();
	while (n) {
		struct seg *g = rb_container_of(c->outq.next, struct seg, node);
		size_t left = g->len - g->off;
		if (n < left) {
			g->off += n;
			return;
		}
		n -= left;
		rb_list_del(&g->node);
		seg_free(g);
	}
	/* Empty segments never get queued, so the loop ends exactly. */
}

static size_t out_iov(struct conn *c)
{
	struct rb_list *p;
	size_t n = 0;

	for (p = c->outq.next; p != &c->outq && n < IOV_BATCH; p = p->next) {
		struct seg *g = rb_container_of(p, struct seg, node);
		c->iov[n].iov_base = g->buf + g->off;
		c->iov[n].iov_len = g->len - g->off;
		n++;
	}
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = n;
	return n;
}

/* The queue drained: what the connection waits for next. */
static void out_drained(struct conn *c)
{
	if (c->closing && !c->lingering && !c->busy) {
		conn_finish(c);
		return;
	}
	/* A pipelined request waits while output is high. */
	if (!c->busy && !c->closing && c->in_len)
		rb_defer(c->h->loop, &c->parse_defer, parse_cb);
	conn_timer_arm(c);
}

static void send_failed(struct conn *c, int err)
{
	if (err != -EPIPE && err != -ECONNRESET && err != -ECANCELED)
		rb_log(RB_LOG_INFO, "http: connection %u: send failed: %s", c->id, strerror(-err));
	conn_abort(c, NULL);
}

static void send_done(struct rb_ring_op *op, int res, unsigned flags)
{
	struct conn *c = rb_container_of(op, struct conn, send_op);
	(void)flags;

	c->sending = false;
	c->ops--;
	if (c->dead) {
		conn_abort(c, NULL); /* frees when the last op is back */
		return;
	}
	if (res < 0) {
		if (res == -EINTR || res == -EAGAIN) {
			out_kick(c);
			return;
		}
		send_failed(c, res);
		return;
	}
	out_consume(c, (size_t)res);
	if (c->out_bytes && !c->overflow) {
		out_kick(c);
		return;
	}
	if (c->overflow) {
		c->h->dropped_slow++;
		conn_abort(c, NULL);
		return;
	}
	out_drained(c);
}

static void poll_update(struct conn *c);

/* Threads backend: non-blocking sendmsg until EAGAIN. */
static void send_sync(struct conn *c)
{
	while (c->out_bytes && !c->dead) {
		ssize_t n;
		out_iov(c);
		n = sendmsg(c->fd, &c->msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			out_consume(c, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			c->want_write = true;
			poll_update(c);
			return;
		}
		send_failed(c, n < 0 ? -errno : -EIO);
		return;
	}
	c->want_write = false;
	if (!c->dead) {
		poll_update(c);
		out_drained(c);
	}
}

static void kick_cb(struct rb_defer *d)
{
	struct conn *c = d->data;

	if (c->dead)
		return;
	if (c->overflow) {
		c->h->dropped_slow++;
		conn_abort(c, NULL);
		return;
	}
	if (c->sending || !c->out_bytes) {
		if (!c->sending && !c->out_bytes)
			out_drained(c);
		return;
	}
	if (!c->h->uring) {
		if (!c->want_write)
			send_sync(c);
		return;
	}
	{
		struct io_uring_sqe *sqe = rb_loop_sqe(c->h->loop, &c->send_op);
		if (!sqe) {
			send_failed(c, -EIO);
			return;
		}
		out_iov(c);
		io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
		c->sending = true;
		c->ops++;
	}
}

/* Sends on the next loop turn: everything queued in this turn goes in one sendmsg. */
static void out_kick(struct conn *c)
{
	if (!c->dead)
		rb_defer(c->h->loop, &c->kick, kick_cb);
}

/* ---- responses ------------------------------------------------------------------------------ */

static const char *status_text(int st)
{
	switch (st) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* Status line and the headers every response carries. */
static void head_start(struct conn *c, struct sbuf *b, int status)
{
	sb_printf(b, "HTTP/1.1 %d %s\r\n", status, status_text(status));
	if (c->r.origin && rb_http_origin_allowed(c->r.origin, c->h->o.allowed_origins, c->h->o.n_allowed_origins))
		sb_printf(b, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
			  "Access-Control-Expose-Headers: Mcp-Session-Id, WWW-Authenticate\r\n", c->r.origin);
	if (c->new_session)
		sb_printf(b, "Mcp-Session-Id: %s\r\n", c->new_sid);
	if (!c->keep_alive || c->closing)
		sb_puts(b, "Connection: close\r\n");
	else if (llhttp_get_http_minor(&c->parser) == 0)
		sb_puts(b, "Connection: keep-alive\r\n");
}

/* A JSON-RPC error object with id null (transport-level refusals). */
static char *error_body(int code, const char *msg, size_t *len)
{
	yyjson_mut_doc *d = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *root, *err;
	char *s;

	if (!d)
		return NULL;
	root = yyjson_mut_obj(d);
	yyjson_mut_doc_set_root(d, root);
	yyjson_mut_obj_add_str(d, root, "jsonrpc", "2.0");
	yyjson_mut_obj_add_null(d, root, "id");
	err = yyjson_mut_obj(d);
	yyjson_mut_obj_add_int(d, err, "code", code);
	yyjson_mut_obj_add_strcpy(d, err, "message", msg);
	yyjson_mut_obj_add_val(d, root, "error", err);
	s = yyjson_mut_write(d, 0, len);
	yyjson_mut_doc_free(d);
	return s;
}

/* A complete response with an optional body; the request is done. */
static void respond(struct conn *c, int status, const char *extra_headers, const char *ctype, char *body,
		    size_t body_len)
{
	struct sbuf b = { 0 };

	head_start(c, &b, status);
	if (extra_headers)
		sb_puts(&b, extra_headers);
	if (ctype)
		sb_printf(&b, "Content-Type: %s\r\n", ctype);
	if (status == 204)
		sb_puts(&b, "\r\n");
	else
		sb_printf(&b, "Content-Length: %zu\r\n\r\n", body_len);
	out_push_sb(c, &b);
	/* A response to HEAD carries the headers of the one GET would get and
	 * no body (RFC 9110 9.3.2): a keep-alive client would read the body as
	 * its next response. */
	out_push(c, body, c->r.method == HTTP_HEAD ? 0 : body_len, true);
	response_done(c);
}

/* An HTTP error with a JSON-RPC error body. close: the connection cannot
 * continue (unread body, broken framing). */
static void respond_error(struct conn *c, int status, int code, const char *extra_headers, bool close,
			  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void respond_error(struct conn *c, int status, int code, const char *extra_headers, bool close,
			  const char *fmt, ...)
{
	char msg[512];
	size_t len = 0;
	char *body;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (close)
		c->closing = true;
	body = error_body(code, msg, &len);
	respond(c, status, extra_headers, "application/json", body, body ? len : 0);
}

static void respond_json_msg(struct conn *c, int status, char *msg, size_t len)
{
	respond(c, status, NULL, "application/json", msg, len);
}

static void sse_start(struct conn *c)
{
	struct sbuf b = { 0 };

	c->chunked = llhttp_get_http_major(&c->parser) == 1 && llhttp_get_http_minor(&c->parser) >= 1;
	if (!c->chunked)
		c->keep_alive = false; /* HTTP/1.0: the stream ends with the connection */
	head_start(c, &b, 200);
	sb_puts(&b, "Content-Type: text/event-stream\r\nCache-Control: no-cache, no-transform\r\n"
		    "X-Accel-Buffering: no\r\n");
	if (c->chunked)
		sb_puts(&b, "Transfer-Encoding: chunked\r\n");
	sb_puts(&b, "\r\n");
	out_push_sb(c, &b);
	c->last_beat = rb_now_ns();
}

/* One SSE event carrying msg (which ends with '\n'); takes msg. */
static void sse_event(struct conn *c, char *msg, size_t len)
{
	static const char pre[] = "event: message\ndata: ";
	char head[64];
	size_t n = len && msg[len - 1] == '\n' ? len - 1 : len;
	int hl;

	if (c->chunked)
		hl = snprintf(head, sizeof(head), "%zx\r\n%s", sizeof(pre) - 1 + n + 2, pre);
	else
		hl = snprintf(head, sizeof(head), "%s", pre);
	out_push(c, memdup0(head, (size_t)hl), (size_t)hl, true);
	out_push(c, msg, n, true);
	out_push_str(c, c->chunked ? "\n\n\r\n" : "\n\n");
	c->last_beat = rb_now_ns();
}

static void sse_comment(struct conn *c, const char *text)
{
	char buf[96];
	int n;

	if (c->chunked)
		n = snprintf(buf, sizeof(buf), "%zx\r\n: %s\n\n\r\n", strlen(text) + 4, text);
	else
		n = snprintf(buf, sizeof(buf), ": %s\n\n", text);
	out_push(c, memdup0(buf, (size_t)n), (size_t)n, true);
	c->last_beat = rb_now_ns();
}

/* Ends an SSE response (the last chunk); the request is done. */
static void sse_end(struct conn *c)
{
	if (c->chunked)
		out_push_str(c, "0\r\n\r\n");
	else
		c->closing = true;
	response_done(c);
}

/* ---- sessions ---------------------------------------------------------------------------------- */

static void backlog_drop(struct session *s)
{
	struct rb_list *n;
	while ((n = rb_list_pop(&s->backlog))) {
		struct backlog_msg *b = rb_container_of(n, struct backlog_msg, node);
		free(b->buf);
		free(b);
	}
	s->backlog_n = s->backlog_bytes = 0;
}

static void session_free(struct session *s)
{
	struct rb_http *h = s->h;

	rb_list_del(&s->node);
	rb_timer_stop(h->loop, &s->expire);
	rb_defer_cancel(h->loop, &s->doom);
	backlog_drop(s);
	if (s->abandoned) {
		/* Calls still own ops in flight: the session's memory must outlive
		 * them; the process exits without draining. */
		h->abandoned = true;
	} else {
		rb_mcp_free(s->m);
		free(s);
	}
	maybe_done(h);
}

static void session_idle(void *ctx, bool abandoned)
{
	struct session *s = ctx;

	s->mcp_idle = true;
	s->abandoned = abandoned;
	if (s->terminated && rb_list_empty(&s->conns))
		session_free(s);
}

static struct conn *pending_find(struct session *s, const char *key, size_t klen, bool tok)
{
	struct rb_list *p;

	for (p = s->pending.next; p != &s->pending; p = p->next) {
		struct conn *c = rb_container_of(p, struct conn, pnode);
		const char *k = tok ? c->ptok : c->pid;
		char **bk = tok ? c->btoks : c->bids;
		size_t i, nb = tok ? c->nbtoks : c->nbids;
		if (k && strlen(k) == klen && !memcmp(k, key, klen))
			return c;
		for (i = 0; i < nb; i++)
			if (strlen(bk[i]) == klen && !memcmp(bk[i], key, klen))
				return c;
	}
	return NULL;
}

static void keys_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void pending_clear(struct conn *c)
{
	rb_list_del(&c->pnode);
	free(c->pid);
	free(c->ptok);
	c->pid = c->ptok = NULL;
	keys_free(c->bids, c->nbids);
	keys_free(c->btoks, c->nbtoks);
	c->bids = c->btoks = NULL;
	c->nbids = c->nbtoks = 0;
	c->pending = false;
}

/* Delivers the JSON-RPC response of c's request (takes msg). */
static void deliver_response(struct conn *c, char *msg, size_t len, bool is_error, int status)
{
	struct session *s = c->s;

	if (c->new_session && is_error) {
		/* initialize refused: no session for this client (its id is
		 * not sent, or, on a stream already started, ends unused). */
		if (c->resp != R_SSE)
			c->new_session = false;
		rb_defer(c->h->loop, &s->doom, session_doom);
	}
	if (c->pending)
		pending_clear(c);
	session_detach(c, false);
	if (c->resp == R_SSE) {
		sse_event(c, msg, len);
		sse_end(c);
	} else {
		respond_json_msg(c, status, msg, len);
	}
}

static void standalone(struct session *s, char *msg, size_t len)
{
	struct backlog_msg *b;

	if (s->get && !s->get->dead) {
		sse_event(s->get, msg, len);
		return;
	}
	/* No GET stream yet (the SDK opens it right after initialized): keep
	 * a little, oldest dropped first. */
	while (s->backlog_n >= BACKLOG_MSGS || (s->backlog_n && s->backlog_bytes + len > BACKLOG_BYTES)) {
		struct backlog_msg *o = rb_container_of(rb_list_pop(&s->backlog), struct backlog_msg, node);
		s->backlog_n--;
		s->backlog_bytes -= o->len;
		free(o->buf);
		free(o);
	}
	b = malloc(sizeof(*b));
	if (!b || len > BACKLOG_BYTES) {
		free(b);
		free(msg);
		return;
	}
	b->buf = msg;
	b->len = len;
	rb_list_add_tail(&s->backlog, &b->node);
	s->backlog_n++;
	s->backlog_bytes += len;
}

/* Length of the JSON string or integer at p, as yyjson writes one, or 0. */
static size_t scalar_len(const char *p, const char *end)
{
	const char *q = p;

	if (q < end && *q == '"') {
		for (q++; q < end; q++) {
			if (*q == '\\')
				q++;
			else if (*q == '"')
				return (size_t)(q + 1 - p);
		}
		return 0;
	}
	if (q < end && *q == '-')
		q++;
	while (q < end && isdigit((unsigned char)*q))
		q++;
	return q > p && isdigit((unsigned char)q[-1]) ? (size_t)(q - p) : 0;
}

static bool has_prefix(const char *p, const char *end, const char *pre, size_t n)
{
	return (size_t)(end - p) >= n && !memcmp(p, pre, n);
}
#define PREFIX(p, end, lit) has_prefix(p, end, lit, sizeof(lit) - 1)

/* The shapes rb_mcp writes (rb_jr_write, keys in this order): a response
 * {"jsonrpc":"2.0","id":ID,"result"|"error":...} or a progress notification
 * {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":T,...
 * Recognised from the first bytes, so a large reply is not parsed again to
 * be routed; anything else takes the full parse. Returns 1 (response:
 * key = id), 2 (progress: key = token) or 0. */
static int route_scan(const char *msg, size_t len, const char **key, size_t *klen, bool *is_error)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",";
	static const char prog[] = "\"method\":\"notifications/progress\",\"params\":{\"progressToken\":";
	const char *p = msg + sizeof(head) - 1, *end = msg + len;
	size_t n;

	if (!PREFIX(msg, end, head))
		return 0;
	if (PREFIX(p, end, "\"id\":")) {
		p += 5;
		n = scalar_len(p, end);
		if (!n)
			return 0;
		*key = p;
		*klen = n;
		p += n;
		if (PREFIX(p, end, ",\"result\":")) {
			*is_error = false;
			return 1;
		}
		if (PREFIX(p, end, ",\"error\":")) {
			*is_error = true;
			return 1;
		}
		return 0;
	}
	if (PREFIX(p, end, prog)) {
		p += sizeof(prog) - 1;
		n = scalar_len(p, end);
		if (!n)
			return 0;
		*key = p;
		*klen = n;
		return 2;
	}
	return 0;
}

static void route_response(struct session *s, struct conn *c, char *msg, size_t len, bool is_error)
{
	if (c) {
		deliver_response(c, msg, len, is_error, 200);
	} else if (s->current && !s->current->dead && s->current->resp == R_NONE) {
		/* About the message being posted (invalid, no usable id). */
		c = s->current;
		session_detach(c, false);
		respond_json_msg(c, 400, msg, len);
	} else if (s->current && !s->current->dead && s->current->pending) {
		deliver_response(s->current, msg, len, is_error, 200);
	} else {
		free(msg); /* for a request whose connection is gone */
	}
}

static void route_progress(struct conn *c, char *msg, size_t len)
{
	if (c && c->resp == R_SSE)
		sse_event(c, msg, len);
	else
		free(msg); /* answered in JSON: progress has nowhere to go */
}

/* rb_mcp's send callback: route one outgoing message (see the file header). */
static void session_send(void *ctx, char *msg, size_t len)
{
	struct session *s = ctx;
	yyjson_doc *d;
	yyjson_val *root, *method, *id;
	const char *k;
	size_t kl;
	bool is_error;

	if (s->terminated) {
		free(msg);
		return;
	}
	switch (route_scan(msg, len, &k, &kl, &is_error)) {
	case 1:
		route_response(s, pending_find(s, k, kl, false), msg, len, is_error);
		return;
	case 2:
		route_progress(pending_find(s, k, kl, true), msg, len);
		return;
	}
	d = yyjson_read(msg, len, 0);
	root = yyjson_doc_get_root(d);
	if (yyjson_is_arr(root) && s->batch_post && s->batch_post == s->current) {
		/* The reply to a batch without requests (errors for its invalid
		 * elements), sent while it is handled; batches with requests come
		 * through session_batch_reply. */
		yyjson_doc_free(d);
		route_response(s, NULL, msg, len, false);
		return;
	}
	if (!yyjson_is_obj(root)) {
		yyjson_doc_free(d);
		free(msg);
		return;
	}
	method = yyjson_obj_get(root, "method");
	id = yyjson_obj_get(root, "id");
	if (!method) {
		/* A response. */
		bool err = yyjson_obj_get(root, "error") != NULL;
		struct conn *c = NULL;
		size_t il = 0;
		char *key = id && !yyjson_is_null(id) ? yyjson_val_write(id, 0, &il) : NULL;

		if (key)
			c = pending_find(s, key, il, false);
		free(key);
		yyjson_doc_free(d);
		route_response(s, c, msg, len, err);
		return;
	}
	if (!id && yyjson_equals_str(method, "notifications/progress")) {
		yyjson_val *tok = yyjson_obj_get(yyjson_obj_get(root, "params"), "progressToken");
		size_t tl = 0;
		char *key = tok ? yyjson_val_write(tok, 0, &tl) : NULL;
		struct conn *c = key ? pending_find(s, key, tl, true) : NULL;

		free(key);
		yyjson_doc_free(d);
		route_progress(c, msg, len);
		return;
	}
	yyjson_doc_free(d);
	standalone(s, msg, len);
}

/* rb_mcp's batch hook: the end of a batch with requests (2025-03-26), to
 * the POST that carried it, found by its first request's id. No line: all
 * its requests were cancelled; the exchange still ends (202, or the end
 * of its stream), as for a cancelled single request. */
static void session_batch_reply(void *ctx, const char *first_id, size_t idlen, char *line, size_t len)
{
	struct session *s = ctx;
	struct conn *c = s->terminated ? NULL : pending_find(s, first_id, idlen, false);

	if (!c || !c->nbids || c->dead) {
		free(line); /* its connection is gone */
		return;
	}
	if (line) {
		deliver_response(c, line, len, false, 200);
		return;
	}
	pending_clear(c);
	session_detach(c, false);
	if (c->resp == R_SSE)
		sse_end(c);
	else
		respond(c, 202, NULL, NULL, NULL, 0);
}

static void session_expire(struct rb_timer *t)
{
	struct session *s = t->data;
	struct rb_http *h = s->h;
	uint64_t now = rb_now_ns(), limit = (uint64_t)h->o.session_timeout_ms * NS_PER_MS;

	if (s->terminated || !rb_list_empty(&s->conns))
		return; /* re-armed when the last connection leaves */
	if (now - s->last_used >= limit) {
		session_terminate(s, "idle");
		return;
	}
	rb_timer_start_ns(h->loop, &s->expire, limit - (now - s->last_used), session_expire);
}

static void session_doom(struct rb_defer *d)
{
	session_terminate(d->data, NULL);
}

static int session_new(struct rb_http *h, struct session **out)
{
	struct session *s = calloc(1, sizeof(*s));
	struct rb_mcp_opts mo = h->o.mcp;
	unsigned char rnd[16];
	size_t i;
	int r;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		free(s);
		return -EIO;
	}
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
	s->h = h;
	rb_list_init(&s->pending);
	rb_list_init(&s->conns);
	rb_list_init(&s->backlog);
	s->expire.data = s->doom.data = s;
	mo.send = session_send;
	mo.idle = session_idle;
	mo.wake = NULL;
	mo.batch_reply = session_batch_reply;
	mo.ctx = s;
	r = rb_mcp_new(&s->m, &mo);
	/* rb_mcp_new makes its session the process's log sink. Over HTTP that
	 * would send the server's log lines (paths other clients touched) to
	 * whichever client connected last: they stay on stderr. */
	rb_log_set_sink(NULL, NULL);
	if (r < 0) {
		free(s);
		return r;
	}
	s->last_used = rb_now_ns();
	rb_list_add_tail(&h->sessions, &s->node);
	h->nsessions++;
	*out = s;
	return 0;
}

static struct session *session_find(struct rb_http *h, const char *id)
{
	struct rb_list *p;

	if (strlen(id) != 32)
		return NULL;
	for (p = h->sessions.next; p != &h->sessions; p = p->next) {
		struct session *s = rb_container_of(p, struct session, node);
		if (!s->terminated && !memcmp(s->id, id, 32))
			return s;
	}
	return NULL;
}

static void session_attach(struct conn *c, struct session *s)
{
	c->s = s;
	rb_list_add_tail(&s->conns, &c->snode);
	rb_timer_stop(c->h->loop, &s->expire);
	s->last_used = rb_now_ns();
}

/* Tells the session that c's request will not be answered on c: the
 * connection is gone or the session ends. */
static void cancel_request(struct session *s, const char *idkey)
{
	struct sbuf b = { 0 };

	sb_printf(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":%s,"
		  "\"reason\":\"the HTTP connection carrying the request was closed\"}}", idkey);
	if (!b.oom)
		rb_mcp_handle(s->m, b.p, b.len);
	free(b.p);
}

/* Detaches c from its session; cancel: c's pending request is cancelled. */
static void session_detach(struct conn *c, bool cancel)
{
	struct session *s = c->s;

	if (!s)
		return;
	if (c->pending) {
		char *idkey = c->pid, **bids = c->bids;
		size_t i, nb = c->nbids;
		c->pid = NULL;
		c->bids = NULL;
		c->nbids = 0;
		pending_clear(c);
		if (cancel && !s->terminated) {
			c->h->cancelled_on_close++;
			if (idkey)
				cancel_request(s, idkey);
			for (i = 0; i < nb; i++) /* a batch: every request in it */
				cancel_request(s, bids[i]);
		}
		free(idkey);
		keys_free(bids, nb);
	}
	if (s->get == c)
		s->get = NULL;
	if (s->current == c)
		s->current = NULL;
	rb_list_del(&c->snode);
	c->s = NULL;
	s->last_used = rb_now_ns();
	if (rb_list_empty(&s->conns)) {
		if (s->terminated) {
			if (s->mcp_idle)
				session_free(s);
		} else {
			rb_timer_start(c->h->loop, &s->expire, c->h->o.session_timeout_ms, session_expire);
		}
	}
}

/* Ends a session: no more requests (404 from now on), its streams end,
 * its calls are cancelled; freed once rb_mcp is idle. */
static void session_terminate(struct session *s, const char *why)
{
	struct rb_http *h = s->h;
	struct rb_list *p, *tmp;

	if (s->terminated)
		return;
	s->terminated = true;
	h->nsessions--;
	rb_timer_stop(h->loop, &s->expire);
	rb_defer_cancel(h->loop, &s->doom);
	if (why)
		rb_log(RB_LOG_INFO, "http: session %.8s… ended (%s)", s->id, why);
	backlog_drop(s);
	rb_list_for_each_safe(p, tmp, &s->conns) {
		struct conn *c = rb_container_of(p, struct conn, snode);
		if (c->dead) {
			session_detach(c, false);
			continue;
		}
		switch (c->resp) {
		case R_JSON: {
			/* The call is cancelled below and will not answer: say so
			 * (a batch gets an array: an error for each request in it). */
			static const char err[] = "\"error\":{\"code\":-32000,\"message\":"
						  "\"the session ended before the request finished\"}}";
			struct sbuf b = { 0 };
			size_t i;
			if (c->nbids) {
				sb_puts(&b, "[");
				for (i = 0; i < c->nbids; i++)
					sb_printf(&b, "%s{\"jsonrpc\":\"2.0\",\"id\":%s,%s", i ? "," : "", c->bids[i], err);
				sb_puts(&b, "]\n");
			} else {
				sb_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,%s\n", c->pid ? c->pid : "null", err);
			}
			session_detach(c, false);
			if (b.oom) {
				free(b.p);
				conn_abort(c, NULL);
			} else {
				respond_json_msg(c, 200, b.p, b.len);
			}
			break;
		}
		case R_SSE:
		case R_SSE_GET:
			session_detach(c, false);
			sse_end(c);
			break;
		default:
			session_detach(c, false);
			break;
		}
	}
	rb_mcp_shutdown(s->m, true);
	if (rb_list_empty(&s->conns) && s->mcp_idle)
		session_free(s);
}

/* ---- requests ------------------------------------------------------------------------------------ */

static void req_reset(struct req *r)
{
	free(r->url);
	free(r->val.p);
	free(r->host);
	free(r->origin);
	free(r->auth);
	free(r->ctype);
	free(r->accept);
	free(r->sid);
	free(r->pver);
	free(r->expect);
	free(r->body.p);
	memset(r, 0, sizeof(*r));
}

/* The response to the current request is queued: back to reading. */
static void response_done(struct conn *c)
{
	struct rb_http *h = c->h;

	c->busy = false;
	c->resp = R_NONE;
	c->new_session = false;
	req_reset(&c->r);
	if (c->dead)
		return;
	c->idle_since = rb_now_ns();
	if (!c->keep_alive || h->stopping)
		c->closing = true;
	if (c->closing) {
		if (!c->out_bytes && !c->sending)
			conn_finish(c);
		else
			conn_timer_arm(c);
		return;
	}
	/* Pipelined bytes wait for a later turn: never recurse into the
	 * next request from inside this one's response. */
	if (c->in_len)
		rb_defer(h->loop, &c->parse_defer, parse_cb);
	recv_arm(c);
	conn_timer_arm(c);
}

static void accept_flags(struct conn *c)
{
	const char *a = c->r.accept;
	if (!a) {
		c->json_ok = c->sse_ok = true;
		return;
	}
	c->json_ok = list_has(a, "application/json") || list_has(a, "application/*") || list_has(a, "*/*");
	c->sse_ok = list_has(a, "text/event-stream") || list_has(a, "text/*") || list_has(a, "*/*");
}

static void stats(struct conn *c)
{
	struct rb_http *h = c->h;
	struct rb_cap_stats cs;
	struct sbuf b = { 0 };
	struct rb_list *p;
	size_t calls = 0, out = 0;
	long rss = 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		char buf[128];
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			char *sp;
			buf[n] = 0;
			sp = strchr(buf, ' '); /* size, then resident (pages) */
			if (sp)
				rss = strtol(sp + 1, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024);
		}
	}
	for (p = h->sessions.next; p != &h->sessions; p = p->next)
		calls += rb_mcp_inflight(rb_container_of(p, struct session, node)->m);
	for (p = h->conns.next; p != &h->conns; p = p->next)
		out += rb_container_of(p, struct conn, node)->out_bytes;
	rb_cap_stats(rb_fs_cap(h->fs), &cs);
	sb_printf(&b, "{\"io\":\"%s\",\"accept\":\"%s\",\"recv\":\"%s\",\"connections\":%u,\"sessions\":%u,\"calls_in_flight\":%zu,"
		  "\"permits_used\":%u,\"permits_waiting\":%u,\"unsent_bytes\":%zu,\"rss_kib\":%ld,"
		  "\"accepted\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"rejected_connections\":%" PRIu64
		  ",\"rejected_sessions\":%" PRIu64 ",\"rejected_origin\":%" PRIu64 ",\"rejected_auth\":%" PRIu64
		  ",\"rejected_limits\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"dropped_slow\":%" PRIu64
		  ",\"cancelled_on_close\":%" PRIu64 "}\n",
		  rb_io_name(h->io),
		  !h->uring ? "poll+accept4" : h->accept_multishot ? "ring multishot" : "ring",
		  !h->uring ? "poll+recv" : h->bufring ? "ring, provided buffers" : "ring, per-connection buffer",
		  h->nconns, h->nsessions, calls, cs.used[0] + cs.used[1],
		  cs.waiting[0] + cs.waiting[1], out, rss, h->accepted, h->requests, h->rejected_conns,
		  h->rejected_sessions, h->rejected_origin, h->rejected_auth, h->rejected_limits, h->timeouts,
		  h->dropped_slow, h->cancelled_on_close);
	if (b.oom) {
		free(b.p);
		respond_error(c, 500, -32603, NULL, false, "out of memory");
		return;
	}
	respond(c, 200, "Cache-Control: no-store\r\n", "application/json", b.p, b.len);
}

/* Checks the session headers of a non-initialize request. Returns the
 * session, or NULL after answering. */
static struct session *need_session(struct conn *c)
{
	struct session *s;

	if (!c->r.sid) {
		respond_error(c, 400, -32000, NULL, false, "Bad Request: the Mcp-Session-Id header is required "
			      "(send initialize first to get one)");
		return NULL;
	}
	s = session_find(c->h, c->r.sid);
	if (!s) {
		respond_error(c, 404, -32001, NULL, false, "Session not found: it ended or never existed; "
			      "send a new initialize without Mcp-Session-Id");
		return NULL;
	}
	if (c->r.pver && !rb_http_version_supported(c->r.pver)) {
		respond_error(c, 400, -32000, NULL, false, "Bad Request: unsupported MCP-Protocol-Version '%.40s' "
			      "(supported: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05)", c->r.pver);
		return NULL;
	}
	return s;
}

/* The initialize request without the client's roots capability (see the
 * header comment in http.h); NULL when there is nothing to strip. */
static char *strip_roots(yyjson_doc *d, size_t *len)
{
	yyjson_mut_doc *md;
	yyjson_mut_val *caps;
	char *s;

	if (!yyjson_obj_get(yyjson_obj_get(yyjson_obj_get(yyjson_doc_get_root(d), "params"), "capabilities"), "roots"))
		return NULL;
	md = yyjson_doc_mut_copy(d, NULL);
	if (!md)
		return NULL;
	caps = yyjson_mut_obj_get(yyjson_mut_obj_get(yyjson_mut_doc_get_root(md), "params"), "capabilities");
	yyjson_mut_obj_remove_key(caps, "roots");
	s = yyjson_mut_write(md, 0, len);
	yyjson_mut_doc_free(md);
	return s;
}

/* target's request was cancelled by a notification just handled. */
static void end_cancelled(struct session *s, struct conn *target)
{
	/* A batch's exchange ends with its reply (or session_batch_reply when
	 * every request in it was cancelled), not at one cancellation. */
	if (!target->pending || target->nbids || target->s != s || target->dead)
		return;
	/* A cancelled request gets no JSON-RPC response, but its HTTP
	 * exchange must end: 202 with no body, or the end of its stream. */
	pending_clear(target);
	session_detach(target, false);
	if (target->resp == R_SSE)
		sse_end(target);
	else
		respond(target, 202, NULL, NULL, NULL, 0);
}

/* A POST body that is a JSON array: a JSON-RPC batch (takes d). A session
 * on protocol 2025-03-26 takes it (2025-03-26 transports: a POST body may
 * batch requests and notifications, or responses): the conn waits for the
 * one array rb_mcp answers with, as application/json, or as the last event
 * of an SSE stream when a request in it asked for progress (which then
 * flows on that stream); a batch of notifications/responses gets 202.
 * Other sessions, and an empty array, get rb_mcp's -32600 error with 400. */
static void handle_post_batch(struct conn *c, yyjson_doc *d)
{
	struct req *r = &c->r;
	yyjson_val *arr = yyjson_doc_get_root(d), *el;
	size_t i, imax, n = 0, nt = 0, cap = yyjson_arr_size(arr), kl, blen;
	char **ids = NULL, **toks = NULL, *body;
	struct session *s = need_session(c);

	if (!s) {
		yyjson_doc_free(d);
		return;
	}
	session_attach(c, s);
	if (rb_mcp_batches(s->m) && cap) {
		ids = calloc(cap, sizeof(*ids));
		toks = calloc(cap, sizeof(*toks));
		if (!ids || !toks) {
			free(ids);
			free(toks);
			yyjson_doc_free(d);
			session_detach(c, false);
			respond_error(c, 500, -32603, NULL, false, "Internal error: out of memory");
			return;
		}
		yyjson_arr_foreach(arr, i, imax, el) {
			yyjson_val *id = yyjson_obj_get(el, "id"), *tok;
			char *key;
			size_t k;
			if (!yyjson_is_str(yyjson_obj_get(el, "method")) || !(yyjson_is_str(id) || yyjson_is_int(id)))
				continue;
			key = yyjson_val_write(id, 0, &kl);
			for (k = 0; key && k < n && strcmp(ids[k], key); k++)
				;
			if (!key || k < n || pending_find(s, key, kl, false)) {
				char shown[80];
				snprintf(shown, sizeof(shown), "%s", key ? key : "?");
				free(key);
				keys_free(ids, n);
				keys_free(toks, nt);
				yyjson_doc_free(d);
				session_detach(c, false);
				respond_error(c, 400, -32600, NULL, false, "Invalid Request: request id %s is already in "
					      "use in this session%s", shown, k < n ? " (twice in this batch)" : "");
				return;
			}
			ids[n++] = key;
			tok = yyjson_obj_get(yyjson_obj_get(yyjson_obj_get(el, "params"), "_meta"), "progressToken");
			if ((yyjson_is_str(tok) || yyjson_is_int(tok)) && (toks[nt] = yyjson_val_write(tok, 0, &kl)))
				nt++;
		}
	}
	if (n) {
		c->bids = ids;
		c->nbids = n;
		c->btoks = toks;
		c->nbtoks = nt;
		c->pending = true;
		rb_list_add_tail(&s->pending, &c->pnode);
		/* SSE when progress can flow (or JSON is not accepted). */
		if (c->sse_ok && (nt || !c->json_ok)) {
			c->resp = R_SSE;
			sse_start(c);
		} else {
			c->resp = R_JSON;
		}
	} else {
		keys_free(ids, 0);
		keys_free(toks, nt);
	}
	c->h->requests++;
	/* The body is ours from here (see handle_post). */
	body = r->body.p;
	blen = r->body.len;
	memset(&r->body, 0, sizeof(r->body));
	s->current = s->batch_post = c;
	rb_mcp_handle(s->m, body, blen);
	if (s->current == c)
		s->current = NULL;
	if (s->batch_post == c)
		s->batch_post = NULL;
	free(body);
	/* Cancellations in the batch end the single-request exchanges they named. */
	yyjson_arr_foreach(arr, i, imax, el) {
		yyjson_val *rid = yyjson_obj_get(yyjson_obj_get(el, "params"), "requestId");
		struct conn *target;
		char *key;
		if (!yyjson_equals_str(yyjson_obj_get(el, "method"), "notifications/cancelled") ||
		    yyjson_obj_get(el, "id") || !rid || !(key = yyjson_val_write(rid, 0, &kl)))
			continue;
		target = pending_find(s, key, kl, false);
		free(key);
		if (target && target != c)
			end_cancelled(s, target);
	}
	yyjson_doc_free(d);
	if (c->dead || !c->busy || c->resp != R_NONE)
		return; /* answered, or waiting for its reply */
	/* Notifications and responses only: accepted. */
	session_detach(c, false);
	respond(c, 202, NULL, NULL, NULL, 0);
}

static void handle_post(struct conn *c)
{
	struct rb_http *h = c->h;
	struct req *r = &c->r;
	yyjson_read_err err;
	yyjson_doc *d;
	yyjson_val *root, *method, *id, *tok = NULL;
	struct session *s;
	bool is_request, is_init;
	char *body = NULL, *text, *rewritten = NULL;
	size_t text_len = 0;
	struct conn *target = NULL;

	if (!r->ctype || !(list_has(r->ctype, "application/json"))) {
		respond_error(c, 415, -32000, NULL, false, "Unsupported Media Type: POST a JSON-RPC message with "
			      "Content-Type: application/json");
		return;
	}
	accept_flags(c);
	if (!c->json_ok && !c->sse_ok) {
		respond_error(c, 406, -32000, NULL, false, "Not Acceptable: the client must accept application/json "
			      "and text/event-stream");
		return;
	}
	d = yyjson_read_opts(r->body.p ? r->body.p : (char *)"", r->body.len, 0, NULL, &err);
	if (!d) {
		respond_error(c, 400, -32700, NULL, false, "Parse error: %s at byte %zu", err.msg, err.pos);
		return;
	}
	root = yyjson_doc_get_root(d);
	if (yyjson_is_arr(root)) {
		handle_post_batch(c, d);
		return;
	}
	method = yyjson_obj_get(root, "method");
	id = yyjson_obj_get(root, "id");
	is_request = yyjson_is_str(method) && (yyjson_is_str(id) || yyjson_is_int(id));
	is_init = is_request && yyjson_equals_str(method, "initialize");
	if (is_init && !r->sid) {
		if (h->stopping) {
			yyjson_doc_free(d);
			respond_error(c, 503, -32000, NULL, false, "Service Unavailable: the server is shutting down");
			return;
		}
		if (h->nsessions >= h->o.max_sessions) {
			yyjson_doc_free(d);
			h->rejected_sessions++;
			respond_error(c, 503, -32000, "Retry-After: 5\r\n", false, "Service Unavailable: %u sessions "
				      "are open, the server's limit; end one (DELETE) or retry later", h->o.max_sessions);
			return;
		}
		if (session_new(h, &s) < 0) {
			yyjson_doc_free(d);
			respond_error(c, 500, -32603, NULL, false, "Internal error: cannot create a session");
			return;
		}
		c->new_session = true;
		memcpy(c->new_sid, s->id, sizeof(c->new_sid));
		rewritten = strip_roots(d, &text_len);
	} else {
		s = need_session(c);
		if (!s) {
			yyjson_doc_free(d);
			return;
		}
	}
	session_attach(c, s);
	if (is_request) {
		size_t kl;
		char *key = yyjson_val_write(id, 0, &kl);
		if (!key || pending_find(s, key, kl, false)) {
			char shown[80];
			snprintf(shown, sizeof(shown), "%s", key ? key : "?");
			free(key);
			free(rewritten);
			yyjson_doc_free(d);
			session_detach(c, false);
			respond_error(c, 400, -32600, NULL, false, "Invalid Request: request id %s is already in use "
				      "in this session", shown);
			return;
		}
		c->pid = key;
		tok = yyjson_obj_get(yyjson_obj_get(yyjson_obj_get(root, "params"), "_meta"), "progressToken");
		if (tok && (yyjson_is_str(tok) || yyjson_is_int(tok)))
			c->ptok = yyjson_val_write(tok, 0, &kl);
		c->pending = true;
		rb_list_add_tail(&s->pending, &c->pnode);
		/* SSE when progress can flow (or JSON is not accepted). */
		if (c->sse_ok && (c->ptok || !c->json_ok)) {
			c->resp = R_SSE;
			sse_start(c);
		} else {
			c->resp = R_JSON;
		}
	} else if (!method && id) {
		/* A response to one of our requests: nothing to route. */
	} else if (yyjson_equals_str(method, "notifications/cancelled")) {
		yyjson_val *rid = yyjson_obj_get(yyjson_obj_get(root, "params"), "requestId");
		if (rid) {
			size_t kl;
			char *key = yyjson_val_write(rid, 0, &kl);
			if (key)
				target = pending_find(s, key, kl, false);
			free(key);
		}
	}
	h->requests++;
	/* The body is ours from here: a response sent from inside
	 * rb_mcp_handle ends the request and resets c->r. */
	body = r->body.p;
	if (!rewritten)
		text_len = r->body.len;
	memset(&r->body, 0, sizeof(r->body));
	text = rewritten ? rewritten : (body ? body : (char *)"");
	s->current = c;
	rb_mcp_handle(s->m, text, text_len);
	if (s->current == c)
		s->current = NULL;
	free(rewritten);
	free(body);
	yyjson_doc_free(d);
	if (target)
		end_cancelled(s, target);
	if (c->dead || !c->busy || c->resp != R_NONE)
		return; /* answered, or waiting for its response */
	/* Notifications and responses: accepted. */
	session_detach(c, false);
	respond(c, 202, NULL, NULL, NULL, 0);
}

static void handle_get(struct conn *c)
{
	struct session *s;
	struct rb_list *n;

	accept_flags(c);
	if (c->r.accept && !c->sse_ok) {
		respond_error(c, 406, -32000, NULL, false, "Not Acceptable: GET opens a text/event-stream");
		return;
	}
	s = need_session(c);
	if (!s)
		return;
	if (s->get) {
		/* A reconnecting client: the new stream replaces the old one
		 * (one stream per session, so no message is sent twice). */
		struct conn *old = s->get;
		session_detach(old, false);
		if (!old->dead)
			sse_end(old);
	}
	session_attach(c, s);
	s->get = c;
	c->resp = R_SSE_GET;
	sse_start(c);
	while ((n = rb_list_pop(&s->backlog))) {
		struct backlog_msg *b = rb_container_of(n, struct backlog_msg, node);
		s->backlog_n--;
		s->backlog_bytes -= b->len;
		sse_event(c, b->buf, b->len);
		free(b);
	}
	conn_timer_arm(c);
}

static void handle_delete(struct conn *c)
{
	struct session *s = need_session(c);

	if (!s)
		return;
	session_terminate(s, "deleted by the client");
	respond(c, 200, NULL, NULL, NULL, 0);
}

static bool path_is(const struct req *r, const char *path)
{
	size_t pl = strlen(path);
	return r->url && r->url_len >= pl && !memcmp(r->url, path, pl) &&
	       (r->url_len == pl || r->url[pl] == '?');
}

/* A whole request arrived (body included). */
static void dispatch(struct conn *c)
{
	struct rb_http *h = c->h;
	struct req *r = &c->r;

	c->busy = true;
	c->req_started = false;
	c->keep_alive = llhttp_should_keep_alive(&c->parser) && !r->upgrade;
	conn_timer_arm(c);
	if (r->origin && !rb_http_origin_allowed(r->origin, h->o.allowed_origins, h->o.n_allowed_origins)) {
		h->rejected_origin++;
		rb_log(RB_LOG_NOTICE, "http: refused a request from Origin %.100s (DNS rebinding protection; "
		       "allow it with --allowed-origin)", r->origin);
		free(r->origin); /* no CORS headers for it */
		r->origin = NULL;
		respond_error(c, 403, -32000, NULL, false, "Forbidden: Origin not allowed");
		return;
	}
	if (h->loopback && r->host && !rb_http_host_allowed(r->host, h->o.allowed_origins, h->o.n_allowed_origins)) {
		h->rejected_origin++;
		rb_log(RB_LOG_NOTICE, "http: refused a request for Host %.100s (DNS rebinding protection)", r->host);
		respond_error(c, 403, -32000, NULL, false, "Forbidden: Host not allowed");
		return;
	}
	if (r->method == HTTP_OPTIONS) {
		respond(c, 204, "Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS\r\n"
			"Access-Control-Allow-Headers: Content-Type, Accept, Authorization, Mcp-Session-Id, "
			"MCP-Protocol-Version, Last-Event-ID\r\nAccess-Control-Max-Age: 600\r\n", NULL, NULL, 0);
		return;
	}
	if (h->token) {
		const char *a = r->auth;
		bool ok = false;
		if (a && !strncasecmp(a, "Bearer ", 7)) {
			a += 7;
			while (*a == ' ')
				a++;
			ok = rb_http_token_equal(h->token, h->token_len, a, strlen(a));
		}
		if (!ok) {
			h->rejected_auth++;
			respond_error(c, 401, -32000, r->auth ? "WWW-Authenticate: Bearer realm=\"ringbank\", "
				      "error=\"invalid_token\"\r\n" : "WWW-Authenticate: Bearer realm=\"ringbank\"\r\n",
				      false, "Unauthorized: %s", r->auth ? "invalid bearer token" :
				      "send Authorization: Bearer <token>");
			return;
		}
	}
	if (path_is(r, "/stats") && (r->method == HTTP_GET || r->method == HTTP_HEAD)) {
		stats(c);
		return;
	}
	if (!path_is(r, "/mcp")) {
		respond_error(c, 404, -32000, NULL, false, "Not Found: the MCP endpoint is /mcp");
		return;
	}
	switch (r->method) {
	case HTTP_POST:
		handle_post(c);
		break;
	case HTTP_GET:
		handle_get(c);
		break;
	case HTTP_DELETE:
		handle_delete(c);
		break;
	default:
		respond_error(c, 405, -32000, "Allow: GET, POST, DELETE, OPTIONS\r\n", false,
			      "Method Not Allowed: use POST, GET or DELETE on /mcp");
		break;
	}
}

/* ---- parsing ------------------------------------------------------------------------------------ */

static struct conn *pconn(llhttp_t *p) { return p->data; }

static int head_limit(struct conn *c, size_t n)
{
	c->r.head_bytes += n;
	if (c->r.head_bytes > c->h->o.max_header_bytes) {
		c->r.err_status = 431;
		c->r.err_msg = "request line and headers over the limit";
		return -1;
	}
	return 0;
}

static int on_message_begin(llhttp_t *p)
{
	struct conn *c = pconn(p);

	req_reset(&c->r);
	c->req_started = true;
	c->req_start = rb_now_ns();
	conn_timer_arm(c);
	return 0;
}

/* The method is known from here: an answer that refuses the request
 * before its headers end (431) must know it was HEAD, and send no body. */
static int on_method_complete(llhttp_t *p)
{
	pconn(p)->r.method = llhttp_get_method(p);
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
	struct conn *c = pconn(p);
	char *u;

	if (head_limit(c, n))
		return -1;
	u = realloc(c->r.url, c->r.url_len + n + 1);
	if (!u)
		return -1;
	memcpy(u + c->r.url_len, at, n);
	c->r.url = u;
	c->r.url_len += n;
	u[c->r.url_len] = 0;
	return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct conn *c = pconn(p);

	if (head_limit(c, n + 4))
		return -1;
	if (c->r.field_len + n >= FIELD_MAX) {
		c->r.field_long = true; /* not one we care about */
		return 0;
	}
	memcpy(c->r.field + c->r.field_len, at, n);
	c->r.field_len += n;
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct conn *c = pconn(p);

	if (head_limit(c, n))
		return -1;
	sb_add(&c->r.val, at, n);
	return c->r.val.oom ? -1 : 0;
}

static void keep_header(char **slot, struct sbuf *v, bool join)
{
	const char *s = v->p ? v->p : "";

	if (*slot && join) {
		/* Repeated list headers (Accept) are one list. */
		size_t a = strlen(*slot), b = strlen(s);
		char *n = realloc(*slot, a + b + 3);
		if (n) {
			n[a] = ',';
			n[a + 1] = ' ';
			memcpy(n + a + 2, s, b + 1);
			*slot = n;
		}
		return;
	}
	free(*slot);
	*slot = strdup(s);
}

static int on_header_value_complete(llhttp_t *p)
{
	struct conn *c = pconn(p);
	struct req *r = &c->r;
	const char *f = r->field;
	size_t n = r->field_len;

	if (!r->field_long) {
		if (ieq(f, n, "host"))
			keep_header(&r->host, &r->val, false);
		else if (ieq(f, n, "origin"))
			keep_header(&r->origin, &r->val, false);
		else if (ieq(f, n, "authorization"))
			keep_header(&r->auth, &r->val, false);
		else if (ieq(f, n, "content-type"))
			keep_header(&r->ctype, &r->val, false);
		else if (ieq(f, n, "accept"))
			keep_header(&r->accept, &r->val, true);
		else if (ieq(f, n, "mcp-session-id"))
			keep_header(&r->sid, &r->val, false);
		else if (ieq(f, n, "mcp-protocol-version"))
			keep_header(&r->pver, &r->val, false);
		else if (ieq(f, n, "expect"))
			keep_header(&r->expect, &r->val, false);
	}
	r->field_len = 0;
	r->field_long = false;
	r->val.len = 0;
	if (r->val.p)
		r->val.p[0] = 0;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct conn *c = pconn(p);
	struct req *r = &c->r;
	bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);

	r->upgrade = llhttp_get_upgrade(p); /* r->method: on_method_complete */
	if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->h->o.max_body_bytes) {
		r->err_status = 413;
		r->err_msg = "body over the limit";
		return -1;
	}
	/* HTTP/1.0 clients do not know 100 Continue (RFC 9110 10.1.1: ignore the expectation). */
	if (has_body && r->expect && !strcasecmp(r->expect, "100-continue") &&
	    (llhttp_get_http_major(p) > 1 || llhttp_get_http_minor(p) >= 1))
		out_push_str(c, "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
	struct conn *c = pconn(p);
	struct req *r = &c->r;

	if (r->body.len + n > c->h->o.max_body_bytes) {
		r->err_status = 413;
		r->err_msg = "body over the limit";
		return -1;
	}
	sb_add(&r->body, at, n);
	return r->body.oom ? -1 : 0;
}

static int on_message_complete(llhttp_t *p)
{
	pconn(p)->r.complete = true;
	return HPE_PAUSED; /* one request at a time */
}

/* Parse failure: answer what can be answered and close. */
static void parse_failed(struct conn *c, llhttp_errno_t e)
{
	struct rb_http *h = c->h;
	int st = c->r.err_status ? c->r.err_status : 400;

	c->busy = true;
	c->req_started = false;
	c->keep_alive = false;
	c->closing = true;
	if (st == 413 || st == 431) {
		h->rejected_limits++;
		rb_log(RB_LOG_NOTICE, "http: connection %u: %s", c->id, c->r.err_msg);
	}
	if (st == 413)
		respond_error(c, 413, -32000, NULL, true, "Content Too Large: the body exceeds %zu bytes",
			      h->o.max_body_bytes);
	else if (st == 431)
		respond_error(c, 431, -32000, NULL, true, "Request Header Fields Too Large: the request line and "
			      "headers exceed %zu bytes", h->o.max_header_bytes);
	else
		respond_error(c, 400, -32000, NULL, true, "Bad Request: malformed HTTP (%s)",
			      c->r.err_msg ? c->r.err_msg : llhttp_errno_name(e));
}

/* Feeds bytes to the parser while reading; returns how many were consumed
 * (a complete request stops it: the rest is kept for later). */
static size_t feed(struct conn *c, const char *data, size_t n)
{
	llhttp_errno_t e = llhttp_execute(&c->parser, data, n);
	size_t used = n;

	if (e == HPE_OK)
		return n;
	if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
		const char *pos = llhttp_get_error_pos(&c->parser);
		used = pos && pos >= data && pos <= data + n ? (size_t)(pos - data) : n;
		if (e == HPE_PAUSED)
			llhttp_resume(&c->parser);
		if (c->r.complete) {
			if (e == HPE_PAUSED_UPGRADE)
				c->r.upgrade = true; /* not followed: the connection ends after */
			dispatch(c);
		}
		return used;
	}
	parse_failed(c, e);
	return n;
}

static void in_append(struct conn *c, const char *data, size_t n)
{
	if (c->in_len + n > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 4096;
		char *p;
		while (cap < c->in_len + n)
			cap *= 2;
		p = realloc(c->in, cap);
		if (!p) {
			conn_abort(c, "out of memory");
			return;
		}
		c->in = p;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, data, n);
	c->in_len += n;
}

static bool can_parse(const struct conn *c)
{
	return !c->busy && !c->closing && !c->dead && c->out_bytes < OUT_PAUSE;
}

/* Parses buffered input while requests can be taken. */
static void parse_input(struct conn *c)
{
	size_t off = 0;

	while (off < c->in_len && can_parse(c))
		off += feed(c, c->in + off, c->in_len - off);
	if (c->dead)
		return;
	if (off > c->in_len)
		off = c->in_len; /* it started lingering meanwhile: the input was dropped */
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	if (!c->in_len && c->in_cap > 65536) {
		free(c->in); /* an idle connection holds no buffer */
		c->in = NULL;
		c->in_cap = 0;
	}
	recv_arm(c);
}

static void parse_cb(struct rb_defer *d)
{
	struct conn *c = d->data;
	if (!c->dead)
		parse_input(c);
}

/* Bytes from the socket (a provided buffer, the shared read buffer, or the
 * connection's own): parsed in place when nothing is buffered, else appended. */
static void on_input(struct conn *c, const char *data, size_t n)
{
	if (c->lingering || c->closing)
		return; /* discarded */
	if (!c->in_len && can_parse(c)) {
		size_t off = 0;
		while (off < n && can_parse(c))
			off += feed(c, data + off, n - off);
		if (!c->dead && off < n && !c->closing)
			in_append(c, data + off, n - off);
		return;
	}
	in_append(c, data, n);
	if (!c->dead && can_parse(c))
		parse_input(c);
}

static void on_eof(struct conn *c, int err)
{
	if (err && err != -ECONNRESET && err != -EPIPE)
		rb_log(RB_LOG_INFO, "http: connection %u: recv failed: %s", c->id, strerror(-err));
	if (c->busy && c->pending)
		rb_log(RB_LOG_INFO, "http: connection %u closed by the client before the response: "
		       "cancelling its request", c->id);
	conn_abort(c, NULL);
}

/* ---- reading ------------------------------------------------------------------------------------- */

static bool want_read(const struct conn *c)
{
	if (c->dead)
		return false;
	if (c->lingering)
		return true;
	if (c->closing)
		return false;
	return c->in_len < IN_PAUSE;
}

static void buf_recycle(struct rb_http *h, unsigned bid)
{
	io_uring_buf_ring_add(h->br, h->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
			      io_uring_buf_ring_mask(BUF_COUNT), 0);
	io_uring_buf_ring_advance(h->br, 1);
}

static void recv_done(struct rb_ring_op *op, int res, unsigned flags)
{
	struct conn *c = rb_container_of(op, struct conn, recv_op);
	struct rb_http *h = c->h;
	const char *data = c->rbuf;
	int bid = -1;

	c->recv_armed = false;
	c->ops--;
	if (flags & IORING_CQE_F_BUFFER) {
		bid = (int)(flags >> IORING_CQE_BUFFER_SHIFT);
		data = h->bufs + (size_t)bid * BUF_SIZE;
	}
	if (c->dead) {
		if (bid >= 0)
			buf_recycle(h, (unsigned)bid);
		conn_abort(c, NULL);
		return;
	}
	if (res == -ENOBUFS) {
		/* Every provided buffer is in use this instant: this read uses
		 * the connection's own buffer. */
		c->force_own = true;
		recv_arm(c);
		return;
	}
	c->force_own = false;
	if (res > 0) {
		on_input(c, data, (size_t)res);
		if (bid >= 0)
			buf_recycle(h, (unsigned)bid);
		recv_arm(c);
		return;
	}
	if (bid >= 0)
		buf_recycle(h, (unsigned)bid);
	if (res == -EINTR || res == -EAGAIN) {
		recv_arm(c);
		return;
	}
	on_eof(c, res == 0 ? 0 : res);
}

static void poll_cb(struct rb_poll *p, int revents);

/* Threads backend: one poll per connection with the events it wants. */
static void poll_update(struct conn *c)
{
	unsigned ev = 0;

	if (c->h->uring || c->dead)
		return;
	if (want_read(c))
		ev |= POLLIN;
	if (c->want_write)
		ev |= POLLOUT;
	if (c->poll_pending) {
		/* Never restart before the callback: re-armed from it. */
		if (c->poll.active && c->poll_events != ev)
			rb_poll_stop(&c->poll);
		return;
	}
	if (!ev)
		return;
	c->poll.data = c;
	if (rb_poll_start(c->h->loop, &c->poll, c->fd, ev, poll_cb) < 0) {
		conn_abort(c, "poll failed");
		return;
	}
	c->poll_events = ev;
	c->poll_pending = true;
	c->ops++;
}

static void poll_cb(struct rb_poll *p, int revents)
{
	struct conn *c = p->data;
	struct rb_http *h = c->h;
	int i;

	c->ops--;
	c->poll_pending = false;
	if (c->dead) {
		conn_abort(c, NULL);
		return;
	}
	if (revents < 0) {
		if (revents != -ECANCELED) {
			conn_abort(c, "poll failed");
			return;
		}
		poll_update(c);
		return;
	}
	if ((revents & POLLOUT) && c->want_write) {
		c->want_write = false;
		send_sync(c);
		if (c->dead)
			return;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP)) {
		for (i = 0; i < READS_PER_TURN && want_read(c); i++) {
			ssize_t n = recv(c->fd, h->rdbuf, RDBUF_SIZE, MSG_DONTWAIT);
			if (n > 0) {
				on_input(c, h->rdbuf, (size_t)n);
				if (c->dead)
					return;
				if ((size_t)n < RDBUF_SIZE)
					break;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			on_eof(c, n == 0 ? 0 : -errno);
			return;
		}
	}
	poll_update(c);
}

static void recv_arm(struct conn *c)
{
	struct rb_http *h = c->h;
	struct io_uring_sqe *sqe;

	if (!h->uring) {
		poll_update(c);
		return;
	}
	if (c->recv_armed || !want_read(c))
		return;
	if (!h->bufring || c->force_own) {
		if (!c->rbuf && !(c->rbuf = malloc(BUF_SIZE))) {
			conn_abort(c, "out of memory");
			return;
		}
	}
	sqe = rb_loop_sqe(h->loop, &c->recv_op);
	if (!sqe) {
		conn_abort(c, "no SQE");
		return;
	}
	if (h->bufring && !c->force_own) {
		io_uring_prep_recv(sqe, c->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = BUF_GROUP;
	} else {
		io_uring_prep_recv(sqe, c->fd, c->rbuf, BUF_SIZE, 0);
	}
	c->recv_armed = true;
	c->ops++;
}

/* ---- connection lifecycle --------------------------------------------------------------------- */

static void conn_free(struct conn *c)
{
	struct rb_http *h = c->h;
	struct rb_list *n;

	rb_list_del(&c->node);
	while ((n = rb_list_pop(&c->outq)))
		seg_free(rb_container_of(n, struct seg, node));
	req_reset(&c->r);
	free(c->pid);
	free(c->ptok);
	keys_free(c->bids, c->nbids);
	keys_free(c->btoks, c->nbtoks);
	free(c->in);
	free(c->rbuf);
	/* Every op on the fd has completed. A plain close: a fire-and-forget
	 * IORING_OP_CLOSE that a kernel punted to io-wq would resolve the fd
	 * number late, possibly after it was reused (see conn_finish). */
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	maybe_done(h);
}

static void cancel_op(struct rb_http *h, struct rb_ring_op *op)
{
	struct io_uring_sqe *sqe = rb_loop_sqe(h->loop, NULL);
	if (sqe)
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)op, 0);
}

/* Tears c down at once: its request is cancelled, its memory freed when
 * the last op on it is back. Safe to call again (from op callbacks). */
static void conn_abort(struct conn *c, const char *why)
{
	struct rb_http *h = c->h;

	if (!c->dead) {
		c->dead = true;
		if (why)
			rb_log(RB_LOG_INFO, "http: connection %u: %s; closing it", c->id, why);
		if (c->s)
			session_detach(c, true);
		rb_timer_stop(h->loop, &c->timer);
		rb_defer_cancel(h->loop, &c->kick);
		rb_defer_cancel(h->loop, &c->parse_defer);
		rb_list_del(&c->node);
		rb_list_add_tail(&h->dying, &c->node);
		h->nconns -= c->rejecting ? 0 : 1;
		h->nlive--;
		if (h->uring) {
			if (c->recv_armed)
				cancel_op(h, &c->recv_op);
			if (c->sending)
				cancel_op(h, &c->send_op);
		} else if (c->poll_pending && c->poll.active) {
			rb_poll_stop(&c->poll);
		}
		if (!h->stopping && !h->accept_armed)
			accept_arm(h); /* a slot is free again */
	}
	/* Freed on a later turn: callers up the stack may still look at c. */
	if (!c->ops)
		rb_defer(h->loop, &c->free_defer, free_cb);
}

static void free_cb(struct rb_defer *d)
{
	struct conn *c = d->data;
	if (!c->ops)
		conn_free(c);
}

/* Output flushed on a closing connection: shut the write side and
 * discard input until the client closes (or LINGER_MS). */
static void conn_finish(struct conn *c)
{
	struct rb_http *h = c->h;

	if (c->dead || c->lingering)
		return;
	c->closing = true;
	if (c->out_bytes || c->sending) {
		out_kick(c);
		return;
	}
	if (h->stopping) {
		conn_abort(c, NULL);
		return;
	}
	c->lingering = true;
	c->linger_start = rb_now_ns();
	/* A plain syscall, not IORING_OP_SHUTDOWN: that op always goes to an
	 * io-wq worker, which resolves the fd number late; had the client
	 * closed meanwhile and the number gone to a new connection, the late
	 * shutdown would cut that one (seen in test-http-wire). shutdown(2)
	 * on a TCP socket does not block. */
	shutdown(c->fd, SHUT_WR);
	c->in_len = 0;
	recv_arm(c);
	conn_timer_arm(c);
}

/* Keep-alive idleness counts from the end of the last response's output. */
static uint64_t idle_ref(const struct conn *c)
{
	return c->idle_since > c->last_out ? c->idle_since : c->last_out;
}

static uint64_t conn_deadline(struct conn *c)
{
	struct rb_http *h = c->h;
	uint64_t d = UINT64_MAX, idle = (uint64_t)h->o.idle_timeout_ms * NS_PER_MS;

#define EARLIER(x) do { uint64_t _x = (x); if (_x < d) d = _x; } while (0)
	if (c->lingering)
		return c->linger_start + (uint64_t)LINGER_MS * NS_PER_MS;
	if (c->out_bytes)
		EARLIER(c->last_out + idle);
	if (!c->busy && !c->closing) {
		if (c->req_started)
			EARLIER(c->req_start + (uint64_t)h->o.request_timeout_ms * NS_PER_MS);
		else if (!c->out_bytes)
			EARLIER(idle_ref(c) + idle);
	}
	if (c->busy && (c->resp == R_SSE || c->resp == R_SSE_GET))
		EARLIER(c->last_beat + (uint64_t)h->o.heartbeat_ms * NS_PER_MS);
#undef EARLIER
	return d;
}

static void conn_timer(struct rb_timer *t)
{
	struct conn *c = t->data;
	struct rb_http *h = c->h;
	uint64_t now = rb_now_ns(), idle = (uint64_t)h->o.idle_timeout_ms * NS_PER_MS;

	if (c->dead)
		return;
	if (c->lingering) {
		if (now >= c->linger_start + (uint64_t)LINGER_MS * NS_PER_MS) {
			conn_abort(c, NULL);
			return;
		}
	} else if (c->out_bytes && now >= c->last_out + idle) {
		h->dropped_slow++;
		rb_log(RB_LOG_WARNING, "http: connection %u: no send progress in %u ms with %zu bytes unsent; "
		       "disconnecting the client", c->id, h->o.idle_timeout_ms, c->out_bytes);
		conn_abort(c, NULL);
		return;
	} else if (!c->busy && !c->closing && c->req_started &&
		   now >= c->req_start + (uint64_t)h->o.request_timeout_ms * NS_PER_MS) {
		h->timeouts++;
		rb_log(RB_LOG_NOTICE, "http: connection %u: request not complete within %u ms; closing it",
		       c->id, h->o.request_timeout_ms);
		c->busy = true;
		c->req_started = false;
		c->keep_alive = false;
		respond_error(c, 408, -32000, NULL, true, "Request Timeout: the request did not arrive within %u ms",
			      h->o.request_timeout_ms);
		return;
	} else if (!c->busy && !c->closing && !c->req_started && !c->out_bytes && now >= idle_ref(c) + idle) {
		conn_abort(c, NULL); /* keep-alive idle: close quietly */
		return;
	} else if (c->busy && (c->resp == R_SSE || c->resp == R_SSE_GET) &&
		   now >= c->last_beat + (uint64_t)h->o.heartbeat_ms * NS_PER_MS) {
		sse_comment(c, "keep-alive");
	}
	conn_timer_arm(c);
}

static void conn_timer_arm(struct conn *c)
{
	uint64_t d, now;

	if (c->dead)
		return;
	d = conn_deadline(c);
	if (d == UINT64_MAX) {
		rb_timer_stop(c->h->loop, &c->timer);
		return;
	}
	now = rb_now_ns();
	rb_timer_start_ns(c->h->loop, &c->timer, d > now ? d - now : 0, conn_timer);
}

static void conn_new(struct rb_http *h, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c) {
		close(fd);
		return;
	}
	c->h = h;
	c->fd = fd;
	c->id = ++h->next_conn_id;
	rb_list_init(&c->outq);
	rb_list_init(&c->snode);
	rb_list_init(&c->pnode);
	c->kick.data = c->parse_defer.data = c->free_defer.data = c->timer.data = c;
	c->recv_op.complete = recv_done;
	c->send_op.complete = send_done;
	llhttp_init(&c->parser, HTTP_REQUEST, &h->settings);
	c->parser.data = c;
	c->keep_alive = true;
	c->idle_since = rb_now_ns();
	rb_list_add_tail(&h->conns, &c->node);
	h->nlive++;
	h->accepted++;
	/* Small SSE events must not wait for Nagle. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (h->nconns >= h->o.max_connections) {
		c->rejecting = true;
		h->rejected_conns++;
		c->busy = true;
		c->keep_alive = false;
		rb_log(RB_LOG_NOTICE, "http: %u connections open (the limit): refusing one with 503", h->nconns);
		respond_error(c, 503, -32000, "Retry-After: 1\r\n", true, "Service Unavailable: %u connections are "
			      "open, the server's limit", h->o.max_connections);
		return;
	}
	h->nconns++;
	recv_arm(c);
	conn_timer_arm(c);
}

/* ---- accepting ------------------------------------------------------------------------------------- */

static bool accept_room(const struct rb_http *h)
{
	return h->nlive < h->o.max_connections + REJECT_EXTRA;
}

static void accept_backoff_cb(struct rb_timer *t)
{
	struct rb_http *h = t->data;
	accept_arm(h);
}

static void accept_error(struct rb_http *h, int err)
{
	static uint64_t last;
	uint64_t now = rb_now_ns();

	if (now - last > 5000 * NS_PER_MS) {
		rb_log(RB_LOG_WARNING, "http: accept failed: %s%s", strerror(-err),
		       err == -EMFILE || err == -ENFILE ? " (out of file descriptors; retrying in 100 ms)" : "");
		last = now;
	}
	rb_timer_start(h->loop, &h->accept_backoff, 100, accept_backoff_cb);
}

static void accept_done(struct rb_ring_op *op, int res, unsigned flags)
{
	struct rb_http *h = rb_container_of(op, struct rb_http, accept_op);
	bool more = flags & IORING_CQE_F_MORE;

	if (!more)
		h->accept_armed = false;
	if (res >= 0) {
		if (h->stopping)
			close(res);
		else
			conn_new(h, res);
	} else if (res == -EINVAL && h->accept_multishot && !more) {
		/* The kernel does not take multishot accept: one at a time. */
		h->accept_multishot = false;
		rb_log(RB_LOG_INFO, "http: multishot accept unsupported; accepting one connection per op");
	} else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN && res != -ECONNABORTED) {
		if (!more && !h->stopping) {
			accept_error(h, res);
			return;
		}
	}
	if (h->stopping) {
		maybe_done(h);
		return;
	}
	if (!h->accept_armed) {
		if (accept_room(h))
			accept_arm(h);
		else
			h->accept_armed = false; /* re-armed when a connection ends */
	} else if (!accept_room(h)) {
		/* Too many even to refuse politely: stop the multishot; the
		 * kernel's backlog holds the rest until slots free up. */
		cancel_op(h, &h->accept_op);
	}
}

static void accept_poll_cb(struct rb_poll *p, int revents)
{
	struct rb_http *h = p->data;
	int i;

	h->accept_armed = false;
	if (h->stopping || revents < 0) {
		if (revents < 0 && revents != -ECANCELED && !h->stopping)
			accept_error(h, revents);
		maybe_done(h);
		return;
	}
	for (i = 0; i < ACCEPT_BATCH && accept_room(h); i++) {
		int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_new(h, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		accept_error(h, -errno);
		return;
	}
	if (accept_room(h))
		accept_arm(h);
}

static void accept_arm(struct rb_http *h)
{
	if (h->accept_armed || h->stopping || h->lfd < 0 || !accept_room(h))
		return;
	if (h->uring) {
		struct io_uring_sqe *sqe = rb_loop_sqe(h->loop, &h->accept_op);
		if (!sqe) {
			accept_error(h, -EBUSY);
			return;
		}
		if (h->accept_multishot)
			io_uring_prep_multishot_accept(sqe, h->lfd, NULL, NULL, SOCK_CLOEXEC);
		else
			io_uring_prep_accept(sqe, h->lfd, NULL, NULL, SOCK_CLOEXEC);
	} else {
		h->accept_poll.data = h;
		if (rb_poll_start(h->loop, &h->accept_poll, h->lfd, POLLIN, accept_poll_cb) < 0) {
			accept_error(h, -EBUSY);
			return;
		}
	}
	h->accept_armed = true;
}

/* ---- server lifecycle --------------------------------------------------------------------------------- */

static void done_cb(struct rb_defer *d)
{
	struct rb_http *h = d->data;
	h->done(h->done_ctx, h->abandoned ? -ETIMEDOUT : 0);
}

static void maybe_done(struct rb_http *h)
{
	struct rb_list *p;

	if (!h->stopping || h->done_sent || h->accept_armed || !rb_list_empty(&h->conns) ||
	    !rb_list_empty(&h->dying))
		return;
	for (p = h->sessions.next; p != &h->sessions; p = p->next)
		if (!rb_container_of(p, struct session, node)->abandoned)
			return;
	h->done_sent = true;
	rb_timer_stop(h->loop, &h->stop_timer);
	rb_timer_stop(h->loop, &h->accept_backoff);
	if (h->lfd >= 0) {
		close(h->lfd);
		h->lfd = -1;
	}
	if (h->done)
		rb_defer(h->loop, &h->done_defer, done_cb);
}

static void stop_timeout(struct rb_timer *t)
{
	struct rb_http *h = t->data;
	struct rb_list *p, *tmp;

	rb_log(RB_LOG_WARNING, "http: shutdown: dropping %u connection(s) that did not finish in %d ms",
	       h->nlive, SHUTDOWN_FLUSH_MS);
	rb_list_for_each_safe(p, tmp, &h->conns)
		conn_abort(rb_container_of(p, struct conn, node), NULL);
	if (!h->done_sent) {
		/* Sessions whose calls never finished, or ops never completed. */
		h->abandoned = h->abandoned || !rb_list_empty(&h->sessions) || !rb_list_empty(&h->dying);
		if (!rb_list_empty(&h->dying) || !rb_list_empty(&h->sessions)) {
			h->done_sent = true;
			if (h->done)
				rb_defer(h->loop, &h->done_defer, done_cb);
		}
	}
}

void rb_http_shutdown(struct rb_http *h)
{
	struct rb_list *p, *tmp;

	if (h->stopping)
		return;
	h->stopping = true;
	rb_timer_stop(h->loop, &h->accept_backoff);
	if (h->accept_armed) {
		if (h->uring)
			cancel_op(h, &h->accept_op);
		else
			rb_poll_stop(&h->accept_poll);
	}
	rb_list_for_each_safe(p, tmp, &h->sessions)
		session_terminate(rb_container_of(p, struct session, node), NULL);
	rb_list_for_each_safe(p, tmp, &h->conns) {
		struct conn *c = rb_container_of(p, struct conn, node);
		/* Idle or half-read with nothing left to send: nothing owed. A
		 * response still queued (the end of a stream or the error that
		 * session_terminate just wrote) is flushed first. */
		if (!c->busy && !c->out_bytes && !c->sending)
			conn_abort(c, NULL);
		else
			c->closing = true;
	}
	rb_timer_start(h->loop, &h->stop_timer, SHUTDOWN_FLUSH_MS, stop_timeout);
	maybe_done(h);
}

static int read_token(struct rb_http *h, const char *path)
{
	char buf[4097];
	struct stat sb;
	ssize_t n;
	size_t len;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "ringbank serve: --token-file %s: %s\n", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
		fprintf(stderr, "ringbank serve: warning: --token-file %s is readable by other users (mode %o); "
			"chmod 600 it\n", path, (unsigned)(sb.st_mode & 0777));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		int e = errno;
		fprintf(stderr, "ringbank serve: --token-file %s: %s\n", path, strerror(e));
		return -e;
	}
	buf[n] = 0;
	len = strcspn(buf, "\r\n");
	while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	{
		size_t lead = strspn(buf, " \t");
		if (lead >= len || (size_t)n == sizeof(buf) - 1) {
			fprintf(stderr, "ringbank serve: --token-file %s: %s\n", path,
				lead >= len ? "the first line is empty" : "longer than 4096 bytes");
			return -EINVAL;
		}
		h->token = memdup0(buf + lead, len - lead);
		h->token_len = len - lead;
	}
	if (!h->token)
		return -ENOMEM;
	if (h->token_len < 16)
		fprintf(stderr, "ringbank serve: warning: the bearer token is only %zu characters; use 32 or more "
			"random ones (e.g. openssl rand -hex 32)\n", h->token_len);
	return 0;
}

static bool addr_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

static bool addr_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

static void set_url(struct rb_http *h, const struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(h->url, sizeof(h->url), "http://[%s]:%u/mcp", host, port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(h->url, sizeof(h->url), "http://%s:%u/mcp", host, port);
	}
}

/* A socket passed by systemd (LISTEN_PID = us, LISTEN_FDS = 1): fd 3. */
static int systemd_socket(void)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int acc = 0;
	socklen_t l = sizeof(acc);

	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		return -1;
	if (strcmp(fds, "1")) {
		fprintf(stderr, "ringbank serve: LISTEN_FDS=%s: expected exactly one socket; ignoring them\n", fds);
		return -1;
	}
	if (getsockopt(3, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) < 0 || !acc) {
		fprintf(stderr, "ringbank serve: the socket passed by systemd (fd 3) is not listening; ignoring it\n");
		return -1;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	fcntl(3, F_SETFD, FD_CLOEXEC);
	return 3;
}

static int listen_socket(struct rb_http *h)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int fd, one = 1, r;

	memset(&ss, 0, sizeof(ss));
	fd = systemd_socket();
	if (fd >= 0) {
		h->socket_activated = true;
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			return -errno;
	} else {
		r = rb_http_parse_listen(h->o.listen, &ss, &len);
		if (r < 0) {
			fprintf(stderr, "ringbank serve: --http %s: expected ADDR:PORT with a numeric address "
				"(127.0.0.1:8765, [::1]:8765, 0.0.0.0:8765, :8765)\n", h->o.listen);
			return r;
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 1024) < 0) {
			int e = errno;
			fprintf(stderr, "ringbank serve: --http %s: %s\n", h->o.listen, strerror(e));
			close(fd);
			return -e;
		}
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
	}
	if (!h->uring) {
		int fl = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	h->lfd = fd;
	h->loopback = addr_loopback(&ss);
	set_url(h, &ss);
	if (!h->loopback && !h->token)
		fprintf(stderr, "ringbank serve: warning: listening on %s without --token-file: anyone who can "
			"reach this address can read and write the bank\n", addr_any(&ss) ? "every interface" :
			"a non-loopback address");
	return 0;
}

/* Raises the soft fd limit to the hard one and keeps max_connections
 * within it. */
static void fd_limit(struct rb_http *h)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
		if (want > rl.rlim_cur) {
			struct rlimit n = { want, rl.rlim_max };
			if (setrlimit(RLIMIT_NOFILE, &n) == 0)
				rl.rlim_cur = want;
		}
	}
	/* Room for the bank's own files, the ring, and the 503 answers. */
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)h->o.max_connections + REJECT_EXTRA + 256) {
		unsigned m = rl.rlim_cur > REJECT_EXTRA + 320 ? (unsigned)(rl.rlim_cur - REJECT_EXTRA - 256) : 64;
		fprintf(stderr, "ringbank serve: the fd limit (%llu) allows %u HTTP connections, not %u\n",
			(unsigned long long)rl.rlim_cur, m, h->o.max_connections);
		h->o.max_connections = m;
	}
}

static int bufring_setup(struct rb_http *h)
{
	struct io_uring *ring = rb_loop_ring(h->loop);
	struct io_uring_buf_reg reg;
	unsigned i;
	void *mem;

	h->br_size = BUF_COUNT * sizeof(struct io_uring_buf);
	mem = mmap(NULL, h->br_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -errno;
	h->bufs = malloc((size_t)BUF_COUNT * BUF_SIZE);
	if (!h->bufs) {
		munmap(mem, h->br_size);
		return -ENOMEM;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)mem;
	reg.ring_entries = BUF_COUNT;
	reg.bgid = BUF_GROUP;
	{
		int r = io_uring_register_buf_ring(ring, &reg, 0);
		if (r < 0) {
			munmap(mem, h->br_size);
			free(h->bufs);
			h->bufs = NULL;
			return r;
		}
	}
	h->br = mem;
	io_uring_buf_ring_init(h->br);
	for (i = 0; i < BUF_COUNT; i++)
		io_uring_buf_ring_add(h->br, h->bufs + (size_t)i * BUF_SIZE, BUF_SIZE, (unsigned short)i,
				      io_uring_buf_ring_mask(BUF_COUNT), (int)i);
	io_uring_buf_ring_advance(h->br, BUF_COUNT);
	h->bufring = true;
	return 0;
}

int rb_http_new(struct rb_http **out, const struct rb_http_opts *o)
{
	struct rb_http *h = calloc(1, sizeof(*h));
	int r;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->o = *o;
	if (!h->o.max_connections)
		h->o.max_connections = 1024;
	if (!h->o.max_sessions)
		h->o.max_sessions = 1024;
	if (!h->o.max_header_bytes)
		h->o.max_header_bytes = 16u << 10;
	if (!h->o.max_body_bytes)
		h->o.max_body_bytes = RB_MCP_MAX_MESSAGE_DEFAULT;
	if (!h->o.max_output_bytes)
		h->o.max_output_bytes = 8u << 20;
	if (!h->o.idle_timeout_ms)
		h->o.idle_timeout_ms = 60000;
	if (!h->o.request_timeout_ms)
		h->o.request_timeout_ms = 30000;
	if (!h->o.session_timeout_ms)
		h->o.session_timeout_ms = 30u * 60000;
	if (!h->o.heartbeat_ms)
		h->o.heartbeat_ms = 25000;
	if (!h->o.listen)
		h->o.listen = "127.0.0.1:8765";
	h->fs = o->mcp.fs;
	h->io = rb_fs_io(h->fs);
	h->loop = rb_io_loop(h->io);
	h->uring = rb_io_kind(h->io) == RB_IO_BACKEND_URING;
	h->lfd = -1;
	rb_list_init(&h->conns);
	rb_list_init(&h->sessions);
	rb_list_init(&h->dying);
	h->stop_timer.data = h->accept_backoff.data = h->done_defer.data = h;
	h->accept_op.complete = accept_done;
	llhttp_settings_init(&h->settings);
	h->settings.on_message_begin = on_message_begin;
	h->settings.on_method_complete = on_method_complete;
	h->settings.on_url = on_url;
	h->settings.on_header_field = on_header_field;
	h->settings.on_header_value = on_header_value;
	h->settings.on_header_value_complete = on_header_value_complete;
	h->settings.on_headers_complete = on_headers_complete;
	h->settings.on_body = on_body;
	h->settings.on_message_complete = on_message_complete;
	if (o->token_file && (r = read_token(h, o->token_file)) < 0)
		goto err;
	fd_limit(h);
	r = listen_socket(h);
	if (r < 0)
		goto err;
	if (h->uring) {
		h->accept_multishot = true;
		r = bufring_setup(h);
		if (r < 0)
			rb_log(RB_LOG_INFO, "http: no provided-buffer ring (%s): each connection reads into its own "
			       "buffer", strerror(-r));
	} else {
		h->rdbuf = malloc(RDBUF_SIZE);
		if (!h->rdbuf) {
			r = -ENOMEM;
			goto err;
		}
	}
	if (!o->quiet)
		fprintf(stderr, "ringbank: listening on %s%s\n", h->url, h->socket_activated ? " (systemd socket)" : "");
	*out = h;
	return 0;
err:
	rb_http_free(h);
	return r;
}

int rb_http_start(struct rb_http *h, void (*done)(void *ctx, int err), void *ctx)
{
	h->done = done;
	h->done_ctx = ctx;
	h->started = true;
	accept_arm(h);
	return 0;
}

const char *rb_http_url(const struct rb_http *h) { return h->url; }

void rb_http_free(struct rb_http *h)
{
	if (!h)
		return;
	rb_timer_stop(h->loop, &h->stop_timer);
	rb_timer_stop(h->loop, &h->accept_backoff);
	rb_defer_cancel(h->loop, &h->done_defer);
	if (h->bufring) {
		io_uring_unregister_buf_ring(rb_loop_ring(h->loop), BUF_GROUP);
		munmap(h->br, h->br_size);
	}
	free(h->bufs);
	free(h->rdbuf);
	if (h->lfd >= 0)
		close(h->lfd);
	free(h->token);
	free(h);
}

/* ---- options ------------------------------------------------------------------------------------------ */

static int opt_value(int argc, char **argv, int *i, const char *name, const char **v)
{
	const char *a = argv[*i];
	size_t l = strlen(name);

	if (strncmp(a, name, l) || (a[l] != '=' && a[l]))
		return 0;
	if (a[l] == '=')
		*v = a + l + 1;
	else if (*i + 1 < argc)
		*v = argv[++*i];
	else
		*v = NULL;
	return 1;
}

static int parse_count(const char *name, const char *v, unsigned long long lo, unsigned long long hi,
		       unsigned long long *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v ? v : "", &end, 10);
	if (!v || !*v || *end || errno || x < lo || x > hi) {
		fprintf(stderr, "ringbank serve: %s expects a number from %llu to %llu, got '%s'\n", name, lo, hi,
			v ? v : "");
		return -1;
	}
	*out = x;
	return 0;
}

/* "30" (seconds) or "500ms". */
static int parse_duration(const char *name, const char *v, unsigned *ms)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v ? v : "", &end, 10);
	if (v && *v && !errno && end != v) {
		if (!strcmp(end, "ms") && x >= 10 && x <= 86400000ull) {
			*ms = (unsigned)x;
			return 0;
		}
		if ((!*end || !strcmp(end, "s")) && x >= 1 && x <= 86400ull) {
			*ms = (unsigned)(x * 1000);
			return 0;
		}
	}
	fprintf(stderr, "ringbank serve: %s expects seconds (1 to 86400) or milliseconds with 'ms' "
		"(e.g. 30 or 500ms), got '%s'\n", name, v ? v : "");
	return -1;
}

int rb_http_parse_opt(struct rb_http_opts *o, int argc, char **argv, int *i)
{
	const char *v;
	unsigned long long x;

	if (opt_value(argc, argv, i, "--http", &v)) {
		if (!v || !*v) {
			fprintf(stderr, "ringbank serve: --http expects ADDR:PORT (e.g. 127.0.0.1:8765)\n");
			return -1;
		}
		o->listen = v;
		return 1;
	}
	if (opt_value(argc, argv, i, "--token-file", &v)) {
		if (!v || !*v) {
			fprintf(stderr, "ringbank serve: --token-file expects a file name\n");
			return -1;
		}
		o->token_file = v;
		return 1;
	}
	if (opt_value(argc, argv, i, "--allowed-origin", &v)) {
		if (!v || !strstr(v, "://")) {
			fprintf(stderr, "ringbank serve: --allowed-origin expects an origin like https://app.example.com, "
				"got '%s'\n", v ? v : "");
			return -1;
		}
		if (o->n_allowed_origins == RB_HTTP_MAX_ORIGINS) {
			fprintf(stderr, "ringbank serve: at most %d --allowed-origin\n", RB_HTTP_MAX_ORIGINS);
			return -1;
		}
		o->allowed_origins[o->n_allowed_origins++] = v;
		return 1;
	}
	if (opt_value(argc, argv, i, "--http-max-connections", &v)) {
		if (parse_count("--http-max-connections", v, 1, 1000000, &x) < 0)
			return -1;
		o->max_connections = (unsigned)x;
		return 1;
	}
	if (opt_value(argc, argv, i, "--http-max-sessions", &v)) {
		if (parse_count("--http-max-sessions", v, 1, 1000000, &x) < 0)
			return -1;
		o->max_sessions = (unsigned)x;
		return 1;
	}
	if (opt_value(argc, argv, i, "--http-max-header-bytes", &v)) {
		if (parse_count("--http-max-header-bytes", v, 1024, 1u << 20, &x) < 0)
			return -1;
		o->max_header_bytes = (size_t)x;
		return 1;
	}
	if (opt_value(argc, argv, i, "--http-max-output-bytes", &v)) {
		if (parse_count("--http-max-output-bytes", v, 4096, 1ull << 32, &x) < 0)
			return -1;
		o->max_output_bytes = (size_t)x;
		return 1;
	}
	if (opt_value(argc, argv, i, "--http-idle-timeout", &v))
		return parse_duration("--http-idle-timeout", v, &o->idle_timeout_ms) < 0 ? -1 : 1;
	if (opt_value(argc, argv, i, "--http-request-timeout", &v))
		return parse_duration("--http-request-timeout", v, &o->request_timeout_ms) < 0 ? -1 : 1;
	if (opt_value(argc, argv, i, "--http-session-timeout", &v))
		return parse_duration("--http-session-timeout", v, &o->session_timeout_ms) < 0 ? -1 : 1;
	return 0;
}

void rb_http_usage(FILE *f)
{
	fputs("HTTP (MCP Streamable HTTP on one endpoint, /mcp, instead of stdio):\n"
	      "  --http ADDR:PORT             listen there (127.0.0.1:8765; port 0 picks one; the URL is\n"
	      "                               printed on stderr as 'ringbank: listening on http://.../mcp')\n"
	      "  --token-file F               require 'Authorization: Bearer <first line of F>'\n"
	      "  --allowed-origin O           also accept this Origin (repeatable; localhost is always allowed)\n"
	      "  --http-max-connections N     open connections (default 1024; more get 503)\n"
	      "  --http-max-sessions N        MCP sessions (default 1024; more get 503)\n"
	      "  --http-max-header-bytes N    request line + headers (default 16384; more get 431)\n"
	      "  --http-max-output-bytes N    unsent bytes per connection before it is dropped (default 8 MiB)\n"
	      "  --http-idle-timeout T        keep-alive idle / send stall limit (default 60 s)\n"
	      "  --http-request-timeout T     a request must arrive whole within T (default 30 s; 408)\n"
	      "  --http-session-timeout T     a session with no connection ends after T (default 30 min)\n"
	      "                               T is seconds, or milliseconds with 'ms' (500ms)\n"
	      "  (--max-message-bytes also limits POST bodies: 413)\n",
	      f);
}

/* ---- adopting a connected socket (supervisors, tests, the fuzz harness tests/fuzz/fuzz_http.c), -------- */
/* ---- and that harness's hook (RB_FUZZING builds only) ------------------------------------------------- */

int rb_http_adopt_fd(struct rb_http *h, int fd)
{
	int fl;

	if (!h->started)
		return -EINVAL;
	if (h->stopping)
		return -ESHUTDOWN;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	/* As accept would have left it: blocking under ring ops (a
	 * non-blocking socket ends a ring recv with -EAGAIN instead of
	 * waiting), non-blocking behind the threads backend's polls. */
	if (fcntl(fd, F_SETFL, h->uring ? fl & ~O_NONBLOCK : fl | O_NONBLOCK) < 0)
		return -errno;
	conn_new(h, fd);
	return 0;
}

#ifdef RB_FUZZING
/* Test hook (tests/fuzz/fuzz_http.c; built only with -Dfuzz=true). */
size_t rb_http_fuzz_unanswered(const struct rb_http *h)
{
	const struct rb_list *p, *q;
	size_t n = 0;

	for (p = h->sessions.next; p != &h->sessions; p = p->next) {
		const struct session *s = rb_container_of(p, struct session, node);
		if (s->terminated || rb_mcp_inflight(s->m))
			continue;
		for (q = s->pending.next; q != &s->pending; q = q->next)
			n++;
	}
	return n;
}
#endif
