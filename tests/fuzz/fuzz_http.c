/* fuzz_http: the Streamable HTTP transport (src/transport/http.c) fed raw
 * bytes off the wire. Each input runs a fresh rb_http server (its real
 * sessions: rb_mcp with the real tools over the harness's small bank) on
 * the shared runtime; up to three client connections are AF_UNIX
 * socketpairs whose server ends are handed over with rb_http_adopt_fd, so
 * every byte goes through the same recv path, parser, routing and sendmsg
 * path as a TCP client's. After every piece of input the loop runs until
 * nothing moves (the server answered what it could), so the pieces arrive
 * as separate reads: partial requests, pipelining and requests spread over
 * connections are all reachable.
 *
 * Input: byte 0 is a set of flags (below), the rest is bytes to send, cut
 * into pieces at each "~~X", where X says what happens next:
 *   '0' '1' '2'  the following bytes go to that connection (opened on first use),
 *   '3' '4' '5'  the same for connection 0, 1, 2, but without waiting for
 *                the piece before to be answered (its tool call is still
 *                running when the next piece arrives),
 *   'c'          the current connection shuts its write side (client EOF),
 *   'C'          the same, right after the piece before it (no wait between),
 *   'w'          the loop runs ~60 ms (with flag 32, timeouts fire; 8 at most),
 *   other        a plain cut on the same connection.
 * "@SID@" anywhere is replaced by the last Mcp-Session-Id the server sent,
 * so a session created by an initialize can be used by later pieces.
 * Flags: 1 bearer token required (the token is FZ_TOKEN), 2 an extra
 * allowed origin (https://app.example), 4 a 4 KiB output cap (slow-client
 * drops), 8 one session at most, 16 the server shuts down while clients are
 * still connected (else the clients hang up first), 32 short timeouts
 * (request, idle, session: 40 ms), 64 two connections at most (the third
 * gets 503).
 *
 * Checks, on every connection: each response starts with "HTTP/1.1 ", a
 * three-digit status, a reason and CRLF; header lines are well formed;
 * Content-Length equals the body that follows (the next response starts
 * right after it); chunked bodies are framed exactly; JSON bodies are
 * JSON-RPC 2.0 messages (or batches of them, or the /stats object); SSE
 * bodies are events whose data line is one such message; 413, 431, 408
 * and the malformed-HTTP 400 say Connection: close; after a response that
 * says Connection: close nothing follows, and the server has closed the
 * connection by the time the loop is idle. Once the loop is idle, no
 * request waits for an answer in a session with no call in flight
 * (rb_http_fuzz_unanswered: a response routed nowhere would leave its
 * connection waiting forever). A response may be cut short only where the
 * connection was legitimately torn down (the client hung up first, the
 * output cap or, with 40 ms timeouts, the send-stall timer dropped it):
 * with flag 16 the shutdown flushes every stream and answer it owes. Then:
 * the server's shutdown finishes with no call abandoned, every socket it
 * was given is closed, nothing outside the root changed, and
 * LeakSanitizer sees no leak. */
#include <ctype.h>
#include <strings.h>
#include <sys/socket.h>
#include <llhttp.h>
#include <yyjson.h>

#include "fuzz_common.h"
#include "ringbank/http.h"
#include "ringbank/mcp.h"

#define NCONN 3
#define FZ_TOKEN "fuzz-token-0123456789abcdef"

enum {
	F_TOKEN = 1,
	F_ORIGIN = 2,
	F_SMALL_OUT = 4,
	F_ONE_SESSION = 8,
	F_SERVER_FIRST = 16,
	F_SHORT_TIMEOUTS = 32,
	F_TWO_CONNS = 64,
};

struct client {
	int fd;		  /* our end, -1 = not opened */
	int srv_fd;	  /* the end the server was given */
	char *buf;	  /* every byte received */
	size_t len, cap;
	size_t sid_scan;  /* where the Mcp-Session-Id scan resumes */
	bool eof;	  /* the server closed it (read 0 or a reset) */
	bool hung_up;	  /* we shut our write side */
	/* The requests sent, as a parser sees them: the method of each one
	 * whose method is complete, in order (a response to HEAD has no body,
	 * whatever its Content-Length says: the server knows the method from
	 * the same point, so a 431 to a HEAD has none either). */
	llhttp_t req_parser;
	bool req_parse_over; /* it stopped: a parse error or an upgrade */
	unsigned char methods[256];
	size_t nreq;
};

static struct client cl[NCONN];
static char last_sid[33];
static char token_path[320];
static bool server_done;
static int server_err;

static void token_atexit(void)
{
	if (token_path[0])
		unlink(token_path);
}

static void on_done(void *ctx, int err)
{
	(void)ctx;
	server_done = true;
	server_err = err;
}

/* ---- the clients ------------------------------------------------------------------------ */

static void sid_scan(struct client *c)
{
	static const char key[] = "\r\nMcp-Session-Id: ";
	const size_t kl = sizeof(key) - 1;

	for (;;) {
		const char *p = c->len > c->sid_scan ? memmem(c->buf + c->sid_scan, c->len - c->sid_scan, key, kl) : NULL;
		size_t at;
		if (!p)
			return;
		at = (size_t)(p - c->buf);
		if (at + kl + 32 > c->len)
			return; /* not all here yet: scanned again with more */
		memcpy(last_sid, p + kl, 32);
		last_sid[32] = 0;
		c->sid_scan = at + kl + 32;
	}
}

/* Reads what is there; returns the number of bytes. */
static size_t cl_read(struct client *c)
{
	size_t got = 0;

	while (c->fd >= 0 && !c->eof) {
		ssize_t n;
		if (c->cap - c->len < 16384) {
			size_t cap = c->cap ? c->cap * 2 : 65536;
			char *p = realloc(c->buf, cap);
			FZ_CHECK(p);
			c->buf = p;
			c->cap = cap;
		}
		n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, MSG_DONTWAIT);
		if (n > 0) {
			c->len += (size_t)n;
			c->buf[c->len] = 0;
			got += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		/* 0, or ECONNRESET: an AF_UNIX peer that closed with our bytes
		 * unread (conn_abort does not drain) resets after the data. */
		FZ_CHECK(n == 0 || errno == ECONNRESET);
		c->eof = true;
	}
	if (got)
		sid_scan(c);
	return got;
}

static size_t read_all(void)
{
	size_t got = 0;
	int i;
	for (i = 0; i < NCONN; i++)
		got += cl_read(&cl[i]);
	return got;
}

/* File work in flight (a tool call that will answer later). */
static bool fs_busy(void)
{
	struct rb_fs_stats st;
	struct rb_io_stats io;
	rb_fs_get_stats(fz_rt.fs, &st);
	rb_io_get_stats(fz_rt.io, &io);
	return st.ops_inflight || io.inflight || !rb_cap_idle(&fz_rt.cap);
}

/* Runs the loop until it is idle: three turns in a row ran nothing, read
 * nothing and no file op is in flight (bounded: a stream that keeps
 * talking ends the wait, which is not an error). */
static void settle(unsigned budget_ms)
{
	uint64_t end = rb_now_ns() + (uint64_t)budget_ms * 1000000ull;
	int quiet = 0;

	while (quiet < 3 && rb_now_ns() < end) {
		bool busy = fs_busy();
		int r = rb_loop_run_once(fz_rt.loop, busy, busy ? 2 : 0);
		size_t got;
		FZ_CHECK(r >= 0);
		got = read_all();
		quiet = r == 0 && !got && !busy ? quiet + 1 : 0;
	}
}

/* Runs the loop for ms, reading (timers fire meanwhile). */
static void run_for(unsigned ms)
{
	uint64_t end = rb_now_ns() + (uint64_t)ms * 1000000ull;
	while (rb_now_ns() < end) {
		FZ_CHECK(rb_loop_run_once(fz_rt.loop, true, 2) >= 0);
		read_all();
	}
}

static int req_method_done(llhttp_t *p)
{
	struct client *c = p->data;
	if (c->nreq < sizeof(c->methods))
		c->methods[c->nreq] = (unsigned char)llhttp_get_method(p);
	c->nreq++;
	return 0;
}

static llhttp_settings_t req_settings;

/* Follows the bytes the server was sent, request by request. */
static void req_track(struct client *c, const char *p, size_t n)
{
	llhttp_errno_t e;
	if (c->req_parse_over || !n)
		return;
	e = llhttp_execute(&c->req_parser, p, n);
	if (e != HPE_OK)
		c->req_parse_over = true;
}

/* Whether response k of the connection answers a HEAD request. */
static bool answers_head(const struct client *c, size_t k)
{
	return k < c->nreq && k < sizeof(c->methods) && c->methods[k] == HTTP_HEAD;
}

static struct client *cl_get(struct rb_http *h, int i)
{
	struct client *c = &cl[i];
	int sv[2];

	if (c->fd >= 0)
		return c;
	llhttp_settings_init(&req_settings);
	req_settings.on_method_complete = req_method_done;
	llhttp_init(&c->req_parser, HTTP_REQUEST, &req_settings);
	c->req_parser.data = c;
	FZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	FZ_CHECK(rb_http_adopt_fd(h, sv[1]) == 0);
	c->fd = sv[0];
	c->srv_fd = sv[1];
	return c;
}

/* Sends a piece (with "@SID@" replaced); what the server no longer reads is dropped. */
static void cl_send(struct client *c, const uint8_t *data, size_t n)
{
	static const char mark[] = "@SID@";
	char *buf = malloc(n * 7 + 1), *o = buf;
	const char *p = (const char *)data, *end = p + n;
	uint64_t deadline = rb_now_ns() + 2000ull * 1000000ull;

	FZ_CHECK(buf);
	while (p < end) {
		const char *m = memmem(p, (size_t)(end - p), mark, sizeof(mark) - 1);
		size_t k = m ? (size_t)(m - p) : (size_t)(end - p);
		memcpy(o, p, k);
		o += k;
		p += k;
		if (m) {
			const char *s = last_sid[0] ? last_sid : mark;
			memcpy(o, s, strlen(s));
			o += strlen(s);
			p += sizeof(mark) - 1;
		}
	}
	p = buf;
	end = o;
	while (p < end && !c->hung_up && !c->eof) {
		ssize_t w = send(c->fd, p, (size_t)(end - p), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0) {
			req_track(c, p, (size_t)w);
			p += w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && rb_now_ns() < deadline) {
			/* The server stopped reading (a closing connection): let it move. */
			FZ_CHECK(rb_loop_run_once(fz_rt.loop, true, 2) >= 0);
			read_all();
			continue;
		}
		break; /* EPIPE/ECONNRESET: it closed; or it never reads again */
	}
	free(buf);
}

/* ---- the response checker --------------------------------------------------------------- */

struct stream_state {
	bool close_seen; /* a complete response said Connection: close */
};

static bool is_token_char(char ch)
{
	return ch > 32 && ch < 127 && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

/* A JSON-RPC 2.0 message, or a batch of them (protocol 2025-03-26), or the
 * /stats object. */
static void check_jsonrpc(const char *p, size_t n, bool stats_ok)
{
	yyjson_doc *d = yyjson_read(p, n, 0);
	yyjson_val *root, *it;
	yyjson_arr_iter iter;

	FZ_CHECK(d != NULL);
	root = yyjson_doc_get_root(d);
	if (yyjson_is_arr(root)) {
		FZ_CHECK(yyjson_arr_size(root) > 0);
		yyjson_arr_iter_init(root, &iter);
		while ((it = yyjson_arr_iter_next(&iter))) {
			FZ_CHECK(yyjson_is_obj(it));
			FZ_CHECK(yyjson_equals_str(yyjson_obj_get(it, "jsonrpc"), "2.0"));
		}
	} else {
		FZ_CHECK(yyjson_is_obj(root));
		if (!(stats_ok && yyjson_obj_get(root, "requests")))
			FZ_CHECK(yyjson_equals_str(yyjson_obj_get(root, "jsonrpc"), "2.0"));
	}
	yyjson_doc_free(d);
}

/* An SSE body: events "event: message\ndata: JSON\n\n" or comments ": x\n\n".
 * complete: the body ended; else its last event may be cut short. */
static void check_sse(const char *p, size_t n, bool complete)
{
	const char *end = p + n;

	while (p < end) {
		const char *e = memmem(p, (size_t)(end - p), "\n\n", 2);
		if (!e) {
			FZ_CHECK(!complete);
			return;
		}
		if (*p == ':') {
			FZ_CHECK(!memchr(p, '\n', (size_t)(e - p)));
		} else {
			static const char pre[] = "event: message\ndata: ";
			FZ_CHECK((size_t)(e - p) > sizeof(pre) - 1 && !memcmp(p, pre, sizeof(pre) - 1));
			FZ_CHECK(!memchr(p + sizeof(pre) - 1, '\n', (size_t)(e - p) - (sizeof(pre) - 1)));
			check_jsonrpc(p + sizeof(pre) - 1, (size_t)(e - p) - (sizeof(pre) - 1), false);
		}
		p = e + 2;
	}
}

static bool hdr_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
	size_t nl = strlen(name);
	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return false;
	*val = line + nl + 1;
	*vlen = len - nl - 1;
	while (*vlen && **val == ' ') {
		(*val)++;
		(*vlen)--;
	}
	return true;
}

/* Checks the whole output of one connection. may_cut: the last response
 * may be incomplete (the connection was torn down under it); eof: the
 * server closed the connection after these bytes. */
static void check_stream(const struct client *c, bool may_cut, bool eof, struct stream_state *st)
{
	const char *b = c->buf;
	size_t n = c->len, off = 0, k = 0; /* k: the request the next response answers */

	st->close_seen = false;
	while (off < n) {
		const char *p = b + off, *he, *line, *ctype = NULL;
		size_t left = n - off, hl, ctl = 0, clen = 0, body_off;
		bool has_cl = false, chunked = false, close = false, json, sse, retry1 = false, head;
		int status;

		FZ_CHECK(!st->close_seen); /* nothing after Connection: close */
		if (left < 9) {
			FZ_CHECK(!memcmp(p, "HTTP/1.1 ", left) && may_cut);
			return;
		}
		FZ_CHECK(!memcmp(p, "HTTP/1.1 ", 9));
		he = memmem(p, left, "\r\n\r\n", 4);
		if (!he) {
			FZ_CHECK(may_cut);
			return;
		}
		hl = (size_t)(he - p) + 4;
		/* Status line: "HTTP/1.1 DDD Reason\r\n". */
		FZ_CHECK(hl >= 9 + 4 + 2);
		FZ_CHECK(p[9] >= '1' && p[9] <= '5' && isdigit((unsigned char)p[10]) && isdigit((unsigned char)p[11]));
		FZ_CHECK(p[12] == ' ');
		status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
		line = memmem(p, hl, "\r\n", 2);
		FZ_CHECK(line && line - p > 13);
		{
			const char *q;
			for (q = p + 13; q < line; q++)
				FZ_CHECK(*q >= 32 && *q < 127);
		}
		/* Headers. */
		line += 2;
		while (line < p + hl - 2) {
			const char *le = memmem(line, (size_t)(p + hl - line), "\r\n", 2), *v, *q;
			size_t ll, vl;
			FZ_CHECK(le);
			ll = (size_t)(le - line);
			for (q = line; q < line + ll && *q != ':'; q++)
				FZ_CHECK(is_token_char(*q));
			FZ_CHECK(q > line && q < line + ll);
			for (q = line; q < line + ll; q++)
				FZ_CHECK((*q >= 32 && *q < 127) || *q == '\t');
			if (hdr_is(line, ll, "content-length", &v, &vl)) {
				char tmp[24];
				FZ_CHECK(!has_cl && vl && vl < sizeof(tmp));
				memcpy(tmp, v, vl);
				tmp[vl] = 0;
				FZ_CHECK(strspn(tmp, "0123456789") == vl);
				clen = strtoul(tmp, NULL, 10);
				has_cl = true;
			} else if (hdr_is(line, ll, "transfer-encoding", &v, &vl)) {
				FZ_CHECK(vl == 7 && !strncasecmp(v, "chunked", 7));
				chunked = true;
			} else if (hdr_is(line, ll, "connection", &v, &vl)) {
				if (vl == 5 && !strncasecmp(v, "close", 5))
					close = true;
			} else if (hdr_is(line, ll, "content-type", &v, &vl)) {
				ctype = v;
				ctl = vl;
			} else if (hdr_is(line, ll, "retry-after", &v, &vl)) {
				retry1 = vl == 1 && v[0] == '1';
			}
			line = le + 2;
		}
		json = ctype && ctl >= 16 && !strncasecmp(ctype, "application/json", 16);
		sse = ctype && ctl >= 17 && !strncasecmp(ctype, "text/event-stream", 17);
		/* The refusals that leave the connection unusable close it. */
		if (status == 413 || status == 431 || status == 408)
			FZ_CHECK(close);
		body_off = off + hl;
		if (status == 100) {
			FZ_CHECK(hl == 25 && !has_cl && !chunked); /* "HTTP/1.1 100 Continue\r\n\r\n" */
			off = body_off;
			continue;
		}
		FZ_CHECK(!(has_cl && chunked));
		/* The 503 of a connection over the limit is sent on accept,
		 * before any request is read: it answers none of them. */
		if (k == 0 && status == 503 && retry1 && close)
			head = false;
		else
			head = answers_head(c, k++);
		if (head) {
			/* No body, whatever the headers say; the next
			 * response (if any) follows the blank line. */
			off = body_off;
		} else if (status == 204) {
			FZ_CHECK(!has_cl && !chunked);
			off = body_off;
		} else if (chunked) {
			char *body = NULL;
			size_t blen = 0, q = body_off;
			bool done = false;
			FZ_CHECK(sse);
			for (;;) {
				const char *le = q < n ? memmem(b + q, n - q, "\r\n", 2) : NULL;
				size_t sz, i;
				if (!le)
					break;
				for (i = q; i < (size_t)(le - b); i++)
					FZ_CHECK(isxdigit((unsigned char)b[i]));
				FZ_CHECK((size_t)(le - b) > q && (size_t)(le - b) - q <= 8);
				sz = strtoul(b + q, NULL, 16);
				q = (size_t)(le - b) + 2;
				if (n - q < sz + 2) {
					if (n - q >= sz) /* data, then the CRLF is not all here */
						FZ_CHECK(!memcmp(b + q + sz, "\r\n", n - q - sz));
					break;
				}
				FZ_CHECK(!memcmp(b + q + sz, "\r\n", 2));
				if (!sz) {
					q += 2;
					done = true;
					break;
				}
				{
					char *nb = realloc(body, blen + sz + 1);
					FZ_CHECK(nb);
					body = nb;
				}
				memcpy(body + blen, b + q, sz);
				blen += sz;
				q += sz + 2;
			}
			check_sse(body ? body : "", blen, done);
			free(body);
			if (!done) {
				FZ_CHECK(may_cut);
				return;
			}
			off = q;
		} else if (has_cl) {
			if (n - body_off < clen) {
				FZ_CHECK(may_cut);
				return;
			}
			if (json && clen)
				check_jsonrpc(b + body_off, clen, true);
			if (sse)
				check_sse(b + body_off, clen, true);
			off = body_off + clen;
		} else {
			/* Delimited by the end of the connection: an HTTP/1.0 stream. */
			FZ_CHECK(sse && close);
			check_sse(b + body_off, n - body_off, eof && !may_cut);
			if (!eof)
				return; /* still open */
			off = n;
		}
		if (close)
			st->close_seen = true;
	}
}

/* The parse-failure 400 closes too (its body says "malformed HTTP"). */
static void check_malformed_close(const char *b, size_t n)
{
	const char *p = b, *end = b + n;
	while ((p = memmem(p, (size_t)(end - p), "HTTP/1.1 400 ", 13))) {
		const char *he = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		const char *body = he ? he + 4 : NULL;
		const char *next = body ? memmem(body, (size_t)(end - body), "HTTP/1.1 ", 9) : NULL;
		if (!body)
			return;
		/* The body's own message, not a client's text it quotes (an
		 * unsupported MCP-Protocol-Version is echoed in its 400). */
		static const char mal[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,"
					  "\"message\":\"Bad Request: malformed HTTP (";
		if ((size_t)((next ? next : end) - body) >= sizeof(mal) - 1 && !memcmp(body, mal, sizeof(mal) - 1))
			FZ_CHECK(memmem(p, (size_t)(he - p), "\r\nConnection: close\r\n", 21) != NULL);
		p = body;
	}
}

/* RB_FUZZ_HTTP_DUMP=1: every connection's output on stderr (reproducing a finding). */
static void dump(const char *when)
{
	static int on = -1;
	int i;

	if (on < 0)
		on = getenv("RB_FUZZ_HTTP_DUMP") != NULL;
	if (!on)
		return;
	for (i = 0; i < NCONN; i++)
		if (cl[i].fd >= 0)
			fprintf(stderr, "---- %s: connection %d (%zu bytes%s%s):\n%.*s\n", when, i, cl[i].len,
				cl[i].eof ? ", closed by the server" : "", cl[i].hung_up ? ", client hung up" : "",
				(int)cl[i].len, cl[i].buf ? cl[i].buf : "");
}

/* ---- one input -------------------------------------------------------------------------- */

static void init_once(void)
{
	int fd;

	fz_init();
	if (token_path[0])
		return;
	snprintf(token_path, sizeof(token_path), "%s.token", fz_root);
	fd = open(token_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FZ_CHECK(fd >= 0);
	FZ_CHECK(write(fd, FZ_TOKEN "\n", sizeof(FZ_TOKEN)) == (ssize_t)sizeof(FZ_TOKEN));
	close(fd);
	atexit(token_atexit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rb_http_opts o;
	struct rb_http *h;
	const uint8_t *p, *end;
	unsigned flags;
	int cur = 0, waits = 0, i;
	uint64_t deadline;

	if (size < 1)
		return 0;
	init_once();
	flags = data[0];
	memset(&o, 0, sizeof(o));
	o.listen = "127.0.0.1:0";
	o.quiet = true;
	if (flags & F_TOKEN)
		o.token_file = token_path;
	if (flags & F_ORIGIN) {
		o.allowed_origins[0] = "https://app.example";
		o.n_allowed_origins = 1;
	}
	/* Small limits, so that 431 and 413 are within an input's reach. */
	o.max_header_bytes = 2048;
	o.max_body_bytes = 4096;
	o.max_output_bytes = flags & F_SMALL_OUT ? 4096 : 0;
	o.max_sessions = flags & F_ONE_SESSION ? 1 : 4;
	o.max_connections = flags & F_TWO_CONNS ? 2 : 0;
	if (flags & F_SHORT_TIMEOUTS)
		o.request_timeout_ms = o.idle_timeout_ms = o.session_timeout_ms = 40;
	o.mcp.fs = fz_rt.fs;
	o.mcp.grace_ms = 1;
	o.mcp.abandon_ms = 3000;
	o.mcp.roots_timeout_ms = 20;
	for (i = 0; i < NCONN; i++) {
		memset(&cl[i], 0, sizeof(cl[i]));
		cl[i].fd = cl[i].srv_fd = -1;
	}
	last_sid[0] = 0;
	server_done = false;
	server_err = 0;
	FZ_CHECK(rb_http_new(&h, &o) == 0);
	FZ_CHECK(rb_http_start(h, on_done, NULL) == 0);

	/* The pieces. */
	p = data + 1;
	end = data + size;
	while (p <= end) {
		const uint8_t *sep = p < end ? memmem(p, (size_t)(end - p), "~~", 2) : NULL;
		const uint8_t *stop = sep ? sep : end;
		const uint8_t next = sep && sep + 2 < end ? sep[2] : 0;
		if (stop > p) {
			struct client *c = cl_get(h, cur);
			cl_send(c, p, (size_t)(stop - p));
			if (next == 'C' && !c->hung_up) {
				/* Hang up before the server has answered. */
				shutdown(c->fd, SHUT_WR);
				c->hung_up = true;
			}
			if (next >= '3' && next < '3' + NCONN) {
				/* Two turns only: the request is read and started,
				 * its work is still in flight. */
				FZ_CHECK(rb_loop_run_once(fz_rt.loop, false, 0) >= 0);
				FZ_CHECK(rb_loop_run_once(fz_rt.loop, false, 0) >= 0);
				read_all();
			} else {
				settle(2000);
			}
		}
		if (!sep)
			break;
		p = sep + 2;
		if (p < end) {
			uint8_t d = *p++;
			if (d >= '0' && d < '0' + NCONN) {
				cur = d - '0';
			} else if (d >= '3' && d < '3' + NCONN) {
				cur = d - '3';
			} else if (d == 'c') {
				struct client *c = cl_get(h, cur);
				if (!c->hung_up) {
					shutdown(c->fd, SHUT_WR);
					c->hung_up = true;
				}
				settle(2000);
			} else if (d == 'w' && waits++ < 8) { /* bounded: an input must stay fast */
				run_for(60);
				settle(2000);
			}
		}
	}
	settle(2000);

	/* Idle now: every response so far is well formed, and a response
	 * that said Connection: close was the last and the server closed. */
	dump("idle");
	/* No request is left unanswered once its calls are over. */
	FZ_CHECK(rb_http_fuzz_unanswered(h) == 0);
	for (i = 0; i < NCONN; i++) {
		struct stream_state st;
		if (cl[i].fd < 0)
			continue;
		check_stream(&cl[i], true, cl[i].eof, &st);
		check_malformed_close(cl[i].buf, cl[i].len);
		if (st.close_seen)
			FZ_CHECK(cl[i].eof || cl[i].hung_up);
	}

	/* The end: clients hang up first, or the server shuts down under them. */
	if (!(flags & F_SERVER_FIRST)) {
		for (i = 0; i < NCONN; i++)
			if (cl[i].fd >= 0 && !cl[i].hung_up) {
				shutdown(cl[i].fd, SHUT_WR);
				cl[i].hung_up = true;
			}
		settle(2000);
	}
	rb_http_shutdown(h);
	deadline = rb_now_ns() + 15000ull * 1000000ull;
	{
		int last = 1;
		while (!server_done) {
			/* Blocks only after a turn that ran nothing (done is set
			 * by a defer, which a waiting turn would follow with a
			 * useless sleep). */
			last = rb_loop_run_once(fz_rt.loop, last == 0, 5);
			FZ_CHECK(last >= 0);
			read_all();
			FZ_CHECK(rb_now_ns() < deadline); /* a shutdown must end */
		}
	}
	FZ_CHECK(server_err == 0); /* no call abandoned */
	rb_http_free(h);
	fz_settle();
	read_all();
	dump("end");
	for (i = 0; i < NCONN; i++) {
		struct stream_state st;
		if (cl[i].fd < 0)
			continue;
		FZ_CHECK(cl[i].eof); /* every connection was closed */
		/* The server closed its end (unless the number went to one of
		 * our later socketpairs, which are still open). */
		{
			bool reused = false;
			int j;
			for (j = 0; j < NCONN; j++)
				reused = reused || cl[j].fd == cl[i].srv_fd;
			errno = 0;
			FZ_CHECK(reused || (fcntl(cl[i].srv_fd, F_GETFD) < 0 && errno == EBADF));
		}
		/* Cut short only where it was torn down under a response: the
		 * client hung up, the output cap dropped it, or (40 ms timeouts)
		 * a loaded machine let the send-stall timer fire. */
		check_stream(&cl[i], cl[i].hung_up || (flags & (F_SMALL_OUT | F_SHORT_TIMEOUTS)), true,
			     &st);
		check_malformed_close(cl[i].buf, cl[i].len);
		close(cl[i].fd);
		free(cl[i].buf);
		cl[i].fd = -1;
		cl[i].buf = NULL;
	}
	fz_check_outside();
	fz_reset();
	return 0;
}
