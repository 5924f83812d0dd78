/* Description: the Streamable HTTP transport on the wire, against an
 * in-process server on every engine/backend pair (ring+uring, ring+threads,
 * epoll+threads), driven by a blocking client thread: sessions, 202s,
 * pipelined requests answered in order, chunked bodies, Expect: 100-continue,
 * SSE responses with keep-alive after them, the GET stream and its
 * heartbeat, DELETE, every refusal (400/403/404/405/406/408/413/415/431/503,
 * 401 with WWW-Authenticate), idle connections closed, and no fd left open
 * after shutdown. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ringbank/fs.h"
#include "ringbank/http.h"
#include "t.h"

/* ---- the server under test ------------------------------------------------------------------ */

struct srv {
	struct rb_loop *loop;
	struct rb_io *io;
	struct rb_cap cap;
	struct rb_fs *fs;
	struct rb_http *h;
	int port;
	bool done;
	int err;
};

static const char *config_name[] = { "ring+uring", "ring+threads", "epoll+threads" };
static char *root;

static void srv_done(void *ctx, int err)
{
	struct srv *s = ctx;
	s->done = true;
	s->err = err;
}

static bool srv_start(struct srv *s, int config, struct rb_http_opts *o)
{
	struct rb_loop_opts lo = { .engine = config == 2 ? RB_ENGINE_EPOLL : RB_ENGINE_RING, .quiet = true };
	struct rb_io_opts io = { .kind = config == 0 ? RB_IO_BACKEND_URING : RB_IO_BACKEND_THREADS };
	const char *url, *colon;
	int r;

	memset(s, 0, sizeof(*s));
	r = rb_loop_new(&s->loop, &lo);
	if (r < 0) {
		if (config != 2) {
			fprintf(stderr, "note: io_uring unavailable (%s): %s skipped\n", strerror(-r), config_name[config]);
			return false;
		}
		T_FAIL("rb_loop_new: %s", strerror(-r));
	}
	ASSERT_EQ(rb_io_new(&s->io, s->loop, &io), 0);
	rb_cap_init(&s->cap, s->loop, NULL);
	ASSERT_EQ(rb_fs_new(&s->fs, s->io, &s->cap, NULL), 0);
	ASSERT_EQ(rb_fs_add_root(s->fs, root), 0);
	o->listen = "127.0.0.1:0";
	o->quiet = true;
	o->mcp.fs = s->fs;
	ASSERT_EQ(rb_http_new(&s->h, o), 0);
	url = rb_http_url(s->h);
	colon = strrchr(url, ':');
	ASSERT(colon);
	s->port = atoi(colon + 1);
	ASSERT(s->port > 0);
	ASSERT_EQ(rb_http_start(s->h, srv_done, s), 0);
	return true;
}

static void srv_stop(struct srv *s)
{
	rb_http_shutdown(s->h);
	t_run_until(s->loop, &s->done);
	ASSERT_EQ(s->err, 0);
	rb_http_free(s->h);
	rb_io_shutdown(s->io);
	rb_loop_stop(s->loop);
	ASSERT_EQ(rb_loop_run(s->loop), 0);
	rb_fs_free(s->fs);
	ASSERT(rb_cap_idle(&s->cap));
	rb_cap_deinit(&s->cap);
	rb_io_free(s->io);
	rb_loop_free(s->loop);
}

struct client_run {
	void (*fn)(int port);
	int port;
	atomic_bool finished;
	bool flag;
};

static void *client_main(void *arg)
{
	struct client_run *cr = arg;
	cr->fn(cr->port);
	atomic_store(&cr->finished, true);
	return NULL;
}

/* Runs fn(port) on a thread while the loop serves it. */
static void run_client(struct srv *s, void (*fn)(int port))
{
	struct client_run cr = { .fn = fn, .port = s->port };
	pthread_t th;
	uint64_t end = rb_now_ns() + 120ull * 1000000000ull;

	ASSERT_EQ(pthread_create(&th, NULL, client_main, &cr), 0);
	while (!atomic_load(&cr.finished)) {
		int r = rb_loop_run_once(s->loop, true, 20);
		if (r < 0)
			T_FAIL("rb_loop_run_once: %s", strerror(-r));
		if (rb_now_ns() > end)
			T_FAIL("client timed out");
	}
	pthread_join(th, NULL);
}

/* ---- a blocking HTTP client ------------------------------------------------------------------ */

struct cbuf {
	char *p;
	size_t len, cap;
};

struct resp {
	int status;
	char head[8192];
	char *body;
	size_t body_len;
};

static int c_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	ASSERT(fd >= 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		T_FAIL("connect: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void c_send(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			T_FAIL("send: %s", strerror(errno));
		s += w;
		n -= (size_t)w;
	}
}

static void c_sends(int fd, const char *s) { c_send(fd, s, strlen(s)); }

/* Reads more; false on EOF or error (timeout fails the test). */
static bool c_more(int fd, struct cbuf *b)
{
	ssize_t n;

	if (b->len + 65536 + 1 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 131072;
		b->p = realloc(b->p, b->cap);
		ASSERT(b->p);
	}
	do
		n = recv(fd, b->p + b->len, 65536, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		T_FAIL("recv timed out (have %zu bytes: %.300s)", b->len, b->p ? b->p : "");
	if (n <= 0)
		return false;
	b->len += (size_t)n;
	b->p[b->len] = 0;
	return true;
}

static void c_drop(struct cbuf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = 0;
}

/* Case-insensitive header lookup in a response head; value copied to out. */
static bool hdr(const struct resp *r, const char *name, char *out, size_t outlen)
{
	const char *p = r->head;
	size_t nl = strlen(name);

	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e;
			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			if (!e)
				e = v + strlen(v);
			snprintf(out, outlen, "%.*s", (int)(e - v), v);
			return true;
		}
	}
	return false;
}

/* Parses one complete response at the head of b (skipping 100 Continue);
 * returns its length or 0 if incomplete. */
static size_t c_parse(struct cbuf *b, struct resp *r, bool *eof_body)
{
	char *he, tmp[64];
	size_t hl, off;

	*eof_body = false;
	if (!b->p)
		return 0;
	he = strstr(b->p, "\r\n\r\n");
	if (!he)
		return 0;
	hl = (size_t)(he - b->p) + 4;
	ASSERT(hl < sizeof(r->head));
	memcpy(r->head, b->p, hl);
	r->head[hl] = 0;
	r->status = atoi(r->head + 9);
	if (r->status == 100) {
		c_drop(b, hl);
		return c_parse(b, r, eof_body);
	}
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	if (r->status == 204) {
		r->body = strdup("");
		return hl;
	}
	if (hdr(r, "transfer-encoding", tmp, sizeof(tmp))) {
		struct cbuf body = { 0 };
		off = hl;
		for (;;) {
			char *le = strstr(b->p + off, "\r\n");
			size_t n;
			if (!le)
				return 0;
			n = strtoul(b->p + off, NULL, 16);
			off = (size_t)(le - b->p) + 2;
			if (n == 0) {
				if (b->len < off + 2)
					return 0;
				off += 2;
				break;
			}
			if (b->len < off + n + 2)
				return 0;
			body.p = realloc(body.p, body.len + n + 1);
			memcpy(body.p + body.len, b->p + off, n);
			body.len += n;
			body.p[body.len] = 0;
			off += n + 2;
		}
		r->body = body.p ? body.p : strdup("");
		r->body_len = body.len;
		return off;
	}
	if (hdr(r, "content-length", tmp, sizeof(tmp))) {
		size_t n = strtoul(tmp, NULL, 10);
		if (b->len < hl + n)
			return 0;
		r->body = malloc(n + 1);
		memcpy(r->body, b->p + hl, n);
		r->body[n] = 0;
		r->body_len = n;
		return hl + n;
	}
	*eof_body = true;
	return 0;
}

/* Reads one response; false if the connection closed first. */
static bool c_resp(int fd, struct cbuf *b, struct resp *r)
{
	for (;;) {
		bool eof_body;
		size_t n = c_parse(b, r, &eof_body);
		if (n) {
			c_drop(b, n);
			return true;
		}
		if (!c_more(fd, b))
			return false;
	}
}

/* Reads until needle shows up; false on EOF first. */
static bool c_until(int fd, struct cbuf *b, const char *needle)
{
	while (!b->p || !strstr(b->p, needle))
		if (!c_more(fd, b))
			return false;
	return true;
}

/* The server closes: EOF (after whatever is left) within the receive timeout. */
static void c_expect_close(int fd, struct cbuf *b)
{
	while (c_more(fd, b))
		;
}

static char *post_req(const char *sid, const char *extra, const char *body)
{
	char *s;
	if (asprintf(&s, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
		     "Accept: application/json, text/event-stream\r\n%s%s%s%sContent-Length: %zu\r\n\r\n%s",
		     sid ? "Mcp-Session-Id: " : "", sid ? sid : "", sid ? "\r\n" : "", extra ? extra : "",
		     strlen(body), body) < 0)
		T_FAIL("asprintf");
	return s;
}

/* One request, one response on a fresh connection. */
static void exchange(int port, const char *req, struct resp *r)
{
	struct cbuf b = { 0 };
	int fd = c_connect(port);

	c_sends(fd, req);
	if (!c_resp(fd, &b, r))
		T_FAIL("no response to %.120s", req);
	close(fd);
	free(b.p);
}

static void post1(int port, const char *sid, const char *extra, const char *body, struct resp *r)
{
	char *req = post_req(sid, extra, body);
	exchange(port, req, r);
	free(req);
}

static const char init_body[] = "{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":\"initialize\",\"params\":"
				"{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"roots\":{}},"
				"\"clientInfo\":{\"name\":\"wire\",\"version\":\"1\"}}}";

/* A session: initialize + initialized; returns its id. */
static void new_session(int port, char sid[64], const char *extra)
{
	struct resp r = { 0 };

	post1(port, NULL, extra, init_body, &r);
	ASSERT_EQ(r.status, 200);
	if (!hdr(&r, "mcp-session-id", sid, 64))
		T_FAIL("no Mcp-Session-Id in %s", r.head);
	ASSERT_EQ(strlen(sid), 32);
	ASSERT(strspn(sid, "0123456789abcdef") == 32);
	ASSERT(strstr(r.body, "\"protocolVersion\":\"2025-11-25\""));
	post1(port, sid, extra, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r);
	ASSERT_EQ(r.status, 202);
	ASSERT_EQ(r.body_len, 0);
	free(r.body);
}

static void expect_error(struct resp *r, int status, const char *msg_part)
{
	if (r->status != status)
		T_FAIL("status %d, want %d: %s%s", r->status, status, r->head, r->body ? r->body : "");
	if (msg_part && (!r->body || !strstr(r->body, msg_part)))
		T_FAIL("body of the %d lacks '%s': %s", status, msg_part, r->body ? r->body : "(none)");
}

/* ---- scenarios ------------------------------------------------------------------------------- */

static void sc_basic(int port)
{
	struct resp r = { 0 };
	char sid[64], ct[128];

	new_session(port, sid, NULL);
	post1(port, sid, "MCP-Protocol-Version: 2025-11-25\r\n",
	      "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(hdr(&r, "content-type", ct, sizeof(ct)));
	ASSERT_STREQ(ct, "application/json");
	ASSERT(strstr(r.body, "\"id\":7"));
	ASSERT(strstr(r.body, "\"read_text_file\""));
	/* A tool call, and a response-shaped message (accepted: nothing to answer). */
	post1(port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":"
	      "\"read_text_file\",\"arguments\":{\"path\":\"a.md\"}}}", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "hello from a"));
	post1(port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}", &r);
	ASSERT_EQ(r.status, 202);
	/* An invalid message that is not even a request: 400 with the JSON-RPC error. */
	post1(port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", &r);
	ASSERT_EQ(r.status, 400);
	ASSERT(strstr(r.body, "\"error\""));
	/* initialize again on the session: refused by the session, which lives on. */
	post1(port, sid, NULL, init_body, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "already initialized"));
	ASSERT(!hdr(&r, "mcp-session-id", ct, sizeof(ct)));
	/* initialize with bad params: no session is issued. */
	post1(port, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "-32602"));
	ASSERT(!hdr(&r, "mcp-session-id", ct, sizeof(ct)));
	free(r.body);
}

static void sc_pipeline(int port)
{
	struct cbuf b = { 0 };
	struct resp r = { 0 };
	char sid[64], *all = NULL, *one;
	size_t len = 0;
	int fd, i;

	new_session(port, sid, NULL);
	/* Five requests in one write, a slow tool call among them: the
	 * answers come back in request order on the one connection. */
	for (i = 1; i <= 5; i++) {
		char body[256];
		if (i == 2)
			snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
				 "{\"name\":\"search_files\",\"arguments\":{\"path\":\".\",\"pattern\":\"**/*.md\"}}}", i);
		else
			snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}", i);
		one = post_req(sid, NULL, body);
		all = realloc(all, len + strlen(one) + 1);
		memcpy(all + len, one, strlen(one) + 1);
		len += strlen(one);
		free(one);
	}
	fd = c_connect(port);
	c_send(fd, all, len);
	for (i = 1; i <= 5; i++) {
		char want[32];
		ASSERT(c_resp(fd, &b, &r));
		ASSERT_EQ(r.status, 200);
		snprintf(want, sizeof(want), "\"id\":%d,", i);
		if (!strstr(r.body, want))
			T_FAIL("response %d out of order: %s", i, r.body);
	}
	/* Byte by byte: the parser keeps its place across reads. */
	one = post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}");
	for (i = 0; one[i]; i++)
		c_send(fd, one + i, 1);
	ASSERT(c_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":6"));
	free(one);
	free(all);
	close(fd);
	free(b.p);
	free(r.body);
}

static void sc_chunked(int port)
{
	struct cbuf b = { 0 };
	struct resp r = { 0 };
	char sid[64], head[512];
	int fd;

	new_session(port, sid, NULL);
	fd = c_connect(port);
	snprintf(head, sizeof(head), "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Accept: application/json, text/event-stream\r\nMcp-Session-Id: %s\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n", sid);
	c_sends(fd, head);
	c_sends(fd, "11\r\n{\"jsonrpc\":\"2.0\",\r\n");
	usleep(20000);
	c_sends(fd, "7\r\n\"id\":11\r\n");
	c_sends(fd, "11;ext=1\r\n,\"method\":\"ping\"}\r\n0\r\n\r\n");
	ASSERT(c_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":11"));
	/* Expect: 100-continue: the interim answer, then the real one. */
	snprintf(head, sizeof(head), "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Accept: application/json, text/event-stream\r\nMcp-Session-Id: %s\r\nExpect: 100-continue\r\n"
		 "Content-Length: 41\r\n\r\n", sid);
	c_sends(fd, head);
	ASSERT(c_until(fd, &b, "HTTP/1.1 100 Continue\r\n\r\n"));
	c_sends(fd, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\"}");
	ASSERT(c_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":12"));
	close(fd);
	free(b.p);
	free(r.body);
}

/* HEAD gets headers only (a body would be read as the next response on a
 * keep-alive connection); an HTTP/1.0 client sending Expect: 100-continue
 * gets no interim 100 (RFC 9110 10.1.1), just the answer. */
static void sc_head_and_http10(int port)
{
	struct cbuf b = { 0 };
	struct resp r = { 0 };
	char sid[64], head[512], *he;
	int fd;

	new_session(port, sid, NULL);
	fd = c_connect(port);
	c_sends(fd, "HEAD /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n");
	ASSERT(c_until(fd, &b, "\r\n\r\n"));
	ASSERT(!strncmp(b.p, "HTTP/1.1 4", 10));
	he = strstr(b.p, "\r\n\r\n");
	c_drop(&b, (size_t)(he - b.p) + 4);
	/* Nothing may follow the head but the next response. */
	he = post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"ping\"}");
	c_sends(fd, he);
	free(he);
	ASSERT(c_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":21"));
	close(fd);
	free(b.p);
	b = (struct cbuf){ 0 };

	/* HEAD /stats: the 200 that GET gets, with its Content-Length, and
	 * no body (the next response follows the blank line). */
	free(r.body);
	r = (struct resp){ 0 };
	fd = c_connect(port);
	c_sends(fd, "HEAD /stats HTTP/1.1\r\nHost: localhost\r\n\r\n");
	ASSERT(c_until(fd, &b, "\r\n\r\n"));
	ASSERT(!strncmp(b.p, "HTTP/1.1 200 ", 13));
	ASSERT(strstr(b.p, "\r\nContent-Length: "));
	he = strstr(b.p, "\r\n\r\n");
	c_drop(&b, (size_t)(he - b.p) + 4);
	c_sends(fd, "GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n");
	ASSERT(c_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(r.body && r.body[0] == '{' && strstr(r.body, "\"connections\""));
	close(fd);
	free(b.p);
	free(r.body);
	r = (struct resp){ 0 };
	b = (struct cbuf){ 0 };

	fd = c_connect(port);
	snprintf(head, sizeof(head), "POST /mcp HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Accept: application/json, text/event-stream\r\nMcp-Session-Id: %s\r\nExpect: 100-continue\r\n"
		 "Content-Length: 41\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":22,\"method\":\"ping\"}", sid);
	c_sends(fd, head);
	if (!c_until(fd, &b, "\"id\":22"))
		T_FAIL("HTTP/1.0 POST: got [%.*s]", (int)b.len, b.p ? b.p : "");
	ASSERT(!strstr(b.p, " 100 Continue"));
	ASSERT(!strncmp(b.p, "HTTP/1.1 200", 12));
	close(fd);
	free(b.p);
	free(r.body);
}

static void sc_sse(int port)
{
	struct cbuf b = { 0 };
	struct resp r = { 0 };
	char sid[64], ct[128], *req;
	int fd;

	new_session(port, sid, NULL);
	fd = c_connect(port);
	/* A progressToken: the answer is a stream, ended by the response. */
	req = post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"tools/call\",\"params\":{\"name\":"
		       "\"search_files\",\"arguments\":{\"path\":\".\",\"pattern\":\"**/*.md\"},\"_meta\":"
		       "{\"progressToken\":\"p1\"}}}");
	c_sends(fd, req);
	free(req);
	ASSERT(c_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(hdr(&r, "content-type", ct, sizeof(ct)));
	ASSERT_STREQ(ct, "text/event-stream");
	ASSERT(strstr(r.body, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\""));
	ASSERT(strstr(r.body, "}\n\n"));
	/* Keep-alive after the stream. */
	req = post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	c_sends(fd, req);
	free(req);
	ASSERT(c_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":2"));
	/* Only text/event-stream accepted: a stream even without a token. */
	req = post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
	{
		char *p = strstr(req, "Accept: application/json, text/event-stream");
		memcpy(p, "Accept: text/event-stream                  ", 43);
	}
	c_sends(fd, req);
	free(req);
	ASSERT(c_resp(fd, &b, &r));
	ASSERT(hdr(&r, "content-type", ct, sizeof(ct)));
	ASSERT_STREQ(ct, "text/event-stream");
	ASSERT(strstr(r.body, "\"id\":3"));
	close(fd);
	free(b.p);
	free(r.body);
}

static void sc_get(int port)
{
	struct cbuf b1 = { 0 }, b2 = { 0 };
	struct resp r = { 0 };
	char sid[64], req[512];
	int g1, g2;

	new_session(port, sid, NULL);
	snprintf(req, sizeof(req), "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
		 "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n", sid);
	g1 = c_connect(port);
	c_sends(g1, req);
	ASSERT(c_until(g1, &b1, "\r\n\r\n"));
	ASSERT(!strncmp(b1.p, "HTTP/1.1 200 OK\r\n", 17));
	ASSERT(strstr(b1.p, "Content-Type: text/event-stream\r\n"));
	/* The heartbeat (100 ms in this test) keeps an idle stream alive. */
	ASSERT(c_until(g1, &b1, ": keep-alive\n\n"));
	/* A second GET replaces the first, which ends. */
	g2 = c_connect(port);
	c_sends(g2, req);
	ASSERT(c_until(g2, &b2, "\r\n\r\n"));
	ASSERT(c_until(g1, &b1, "\r\n0\r\n\r\n"));
	/* DELETE ends the session and its stream; then 404. */
	snprintf(req, sizeof(req), "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: %s\r\n\r\n", sid);
	exchange(port, req, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(c_until(g2, &b2, "\r\n0\r\n\r\n"));
	exchange(port, req, &r);
	expect_error(&r, 404, "Session not found");
	/* GET refusals. */
	snprintf(req, sizeof(req), "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n\r\n");
	exchange(port, req, &r);
	expect_error(&r, 406, "text/event-stream");
	snprintf(req, sizeof(req), "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
	exchange(port, req, &r);
	expect_error(&r, 400, "Mcp-Session-Id");
	close(g1);
	close(g2);
	free(b1.p);
	free(b2.p);
	free(r.body);
}

static void sc_refusals(int port)
{
	struct resp r = { 0 };
	char sid[64], ct[256];

	new_session(port, sid, NULL);
	post1(port, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
	expect_error(&r, 400, "Mcp-Session-Id header is required");
	post1(port, "0123456789abcdef0123456789abcdef", NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
	expect_error(&r, 404, "Session not found");
	post1(port, sid, "MCP-Protocol-Version: 2030-01-01\r\n", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
	expect_error(&r, 400, "unsupported MCP-Protocol-Version");
	post1(port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,", &r);
	expect_error(&r, 400, "-32700");
	post1(port, sid, NULL, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &r);
	expect_error(&r, 400, "batches are not supported");
	exchange(port, "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}", &r);
	/* Host x is refused first on a loopback listener. */
	expect_error(&r, 403, "Host not allowed");
	exchange(port, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
		 &r);
	expect_error(&r, 415, "application/json");
	exchange(port, "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: text/html\r\n"
		 "Content-Length: 2\r\n\r\n{}", &r);
	expect_error(&r, 406, "Not Acceptable");
	exchange(port, "PUT /mcp HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
	expect_error(&r, 405, "Method Not Allowed");
	ASSERT(hdr(&r, "allow", ct, sizeof(ct)));
	exchange(port, "GET /other HTTP/1.1\r\n\r\n", &r);
	expect_error(&r, 404, "/mcp");
	exchange(port, "GARBAGE\r\n\r\n", &r);
	expect_error(&r, 400, "malformed HTTP");
	/* DNS rebinding: a foreign Origin or Host is refused; localhost's is
	 * served with CORS headers. */
	post1(port, sid, "Origin: http://evil.example.com\r\n", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
	expect_error(&r, 403, "Origin not allowed");
	ASSERT(!hdr(&r, "access-control-allow-origin", ct, sizeof(ct)));
	exchange(port, "GET /mcp HTTP/1.1\r\nHost: evil.example.com:80\r\nAccept: text/event-stream\r\n\r\n", &r);
	expect_error(&r, 403, "Host not allowed");
	post1(port, sid, "Origin: http://localhost:6274\r\n", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(hdr(&r, "access-control-allow-origin", ct, sizeof(ct)));
	ASSERT_STREQ(ct, "http://localhost:6274");
	ASSERT(hdr(&r, "access-control-expose-headers", ct, sizeof(ct)));
	ASSERT(strstr(ct, "Mcp-Session-Id"));
	exchange(port, "OPTIONS /mcp HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:6274\r\n"
		 "Access-Control-Request-Method: POST\r\n\r\n", &r);
	ASSERT_EQ(r.status, 204);
	ASSERT(hdr(&r, "access-control-allow-headers", ct, sizeof(ct)));
	ASSERT(strstr(ct, "Mcp-Session-Id"));
	free(r.body);
}

static void sc_limits(int port)
{
	struct cbuf b = { 0 };
	struct resp r = { 0 };
	char sid[64], *big;
	int fd;

	new_session(port, sid, NULL);
	/* Headers over 16 KiB: 431 and the connection ends. */
	big = malloc(20000);
	memset(big, 'a', 19999);
	big[19999] = 0;
	fd = c_connect(port);
	c_sends(fd, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Big: ");
	c_sends(fd, big);
	c_sends(fd, "\r\n\r\n");
	ASSERT(c_resp(fd, &b, &r));
	expect_error(&r, 431, "Header Fields Too Large");
	c_expect_close(fd, &b);
	close(fd);
	/* A Content-Length over the body limit (64 KiB here): 413 at once. */
	fd = c_connect(port);
	c_sends(fd, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Content-Length: 100000\r\n\r\n");
	ASSERT(c_resp(fd, &b, &r));
	expect_error(&r, 413, "Content Too Large");
	c_expect_close(fd, &b);
	close(fd);
	/* A chunked body that grows past it: 413 too. */
	fd = c_connect(port);
	c_sends(fd, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n");
	{
		int i;
		for (i = 0; i < 5; i++) {
			c_sends(fd, "3e80\r\n"); /* 16000 bytes */
			c_send(fd, big, 16000);
			c_sends(fd, "\r\n");
		}
	}
	ASSERT(c_resp(fd, &b, &r));
	expect_error(&r, 413, "Content Too Large");
	close(fd);
	free(big);
	free(b.p);
	free(r.body);
}

static void sc_timeouts(int port)
{
	struct cbuf b = { 0 };
	struct resp r = { 0 };
	uint64_t t0;
	int fd;

	/* Half a request, then silence: 408 after the request timeout (300 ms). */
	fd = c_connect(port);
	t0 = rb_now_ns();
	c_sends(fd, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nCont");
	ASSERT(c_resp(fd, &b, &r));
	expect_error(&r, 408, "Request Timeout");
	ASSERT((rb_now_ns() - t0) / 1000000 >= 250);
	c_expect_close(fd, &b);
	close(fd);
	/* Slowloris: a byte every 100 ms never completes the headers; the
	 * deadline counts from the first byte, not the last. */
	fd = c_connect(port);
	t0 = rb_now_ns();
	{
		const char *s = "GET /mcp HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
		size_t i;
		for (i = 0; s[i]; i++) {
			if (send(fd, s + i, 1, MSG_NOSIGNAL) <= 0)
				break;
			usleep(100000);
			if (rb_now_ns() - t0 > 3000000000ull)
				T_FAIL("a slowloris connection survived 3 s");
			{
				struct pollfd p = { .fd = fd, .events = POLLIN };
				if (poll(&p, 1, 0) == 1)
					break; /* the 408 */
			}
		}
	}
	ASSERT(c_resp(fd, &b, &r));
	expect_error(&r, 408, NULL);
	close(fd);
	/* An idle keep-alive connection is closed quietly (idle timeout 300 ms). */
	fd = c_connect(port);
	t0 = rb_now_ns();
	c_expect_close(fd, &b);
	ASSERT_EQ(b.len, 0);
	ASSERT((rb_now_ns() - t0) / 1000000 >= 250);
	close(fd);
	free(b.p);
	free(r.body);
}

static void sc_conn_limit(int port)
{
	struct cbuf b = { 0 };
	struct resp r = { 0 };
	int a, c, d;

	/* Limit 2: two held connections, the third is told 503 and closed. */
	a = c_connect(port);
	c = c_connect(port);
	usleep(100000);
	d = c_connect(port);
	ASSERT(c_resp(d, &b, &r));
	expect_error(&r, 503, "connections");
	c_expect_close(d, &b);
	close(d);
	close(a);
	/* A slot frees: served again. */
	usleep(200000);
	exchange(port, "GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"rejected_connections\":1"));
	close(c);
	free(b.p);
	free(r.body);
}

static void sc_session_limit(int port)
{
	struct resp r = { 0 };
	char sid[64], req[256];

	new_session(port, sid, NULL);
	post1(port, NULL, NULL, init_body, &r);
	expect_error(&r, 503, "sessions");
	snprintf(req, sizeof(req), "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: %s\r\n\r\n", sid);
	exchange(port, req, &r);
	ASSERT_EQ(r.status, 200);
	new_session(port, sid, NULL);
	free(r.body);
}

static void sc_token(int port)
{
	struct resp r = { 0 };
	char sid[64], v[256];

	post1(port, NULL, NULL, init_body, &r);
	expect_error(&r, 401, "Unauthorized");
	ASSERT(hdr(&r, "www-authenticate", v, sizeof(v)));
	ASSERT(!strncmp(v, "Bearer", 6));
	post1(port, NULL, "Authorization: Bearer wrong-token-wrong-token\r\n", init_body, &r);
	expect_error(&r, 401, "invalid bearer token");
	ASSERT(hdr(&r, "www-authenticate", v, sizeof(v)));
	ASSERT(strstr(v, "invalid_token"));
	post1(port, NULL, "Authorization: Basic dXNlcjpwYXNz\r\n", init_body, &r);
	expect_error(&r, 401, NULL);
	exchange(port, "GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
	expect_error(&r, 401, NULL);
	new_session(port, sid, "Authorization: Bearer 0123456789abcdef-correct\r\n");
	post1(port, sid, "Authorization: bearer   0123456789abcdef-correct\r\n",
	      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
	ASSERT_EQ(r.status, 200);
	free(r.body);
}

/* ---- driver ------------------------------------------------------------------------------------ */

int main(void)
{
	char tokfile[4200];
	int config, base_fds;

	root = t_tmpdir();
	t_write_file(root, "a.md", "hello from a\n", 13);
	t_write_file(root, "b.md", "# b\n", 4);
	snprintf(tokfile, sizeof(tokfile), "%s.token", root);
	{
		int fd = open(tokfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ASSERT(fd >= 0);
		ASSERT_EQ(write(fd, "0123456789abcdef-correct\n", 25), 25);
		close(fd);
	}
	signal(SIGPIPE, SIG_IGN);
	base_fds = t_fd_count();
	for (config = 0; config < 3; config++) {
		struct srv s;
		struct rb_http_opts o;

		if (!t_want_backend(config == 0 ? RB_IO_BACKEND_URING : RB_IO_BACKEND_THREADS))
			continue;
		fprintf(stderr, "== %s\n", config_name[config]);
		memset(&o, 0, sizeof(o));
		o.max_body_bytes = 65536;
		o.heartbeat_ms = 100;
		if (!srv_start(&s, config, &o))
			continue;
		run_client(&s, sc_basic);
		run_client(&s, sc_pipeline);
		run_client(&s, sc_chunked);
		run_client(&s, sc_head_and_http10);
		run_client(&s, sc_sse);
		run_client(&s, sc_get);
		run_client(&s, sc_refusals);
		run_client(&s, sc_limits);
		srv_stop(&s);

		memset(&o, 0, sizeof(o));
		o.request_timeout_ms = 300;
		o.idle_timeout_ms = 300;
		ASSERT(srv_start(&s, config, &o));
		run_client(&s, sc_timeouts);
		srv_stop(&s);

		memset(&o, 0, sizeof(o));
		o.max_connections = 2;
		o.max_sessions = 1;
		ASSERT(srv_start(&s, config, &o));
		run_client(&s, sc_conn_limit);
		run_client(&s, sc_session_limit);
		srv_stop(&s);

		memset(&o, 0, sizeof(o));
		o.token_file = tokfile;
		ASSERT(srv_start(&s, config, &o));
		run_client(&s, sc_token);
		srv_stop(&s);

		ASSERT_EQ(t_fd_count(), base_fds);
	}
	unlink(tokfile);
	t_rmtree(root);
	return T_EXIT_PASS;
}
