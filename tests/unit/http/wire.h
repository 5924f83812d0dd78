/* wire.h: what the HTTP wire tests share (test-http-wire.c, test-http-adopt.c
 * and the test-http-regress-*.c, one per bug the fuzz harness
 * tests/fuzz/fuzz_http found): an in-process server on one engine/backend
 * pair, a client thread speaking real bytes over a socket (a blocking
 * HTTP/1.1 client that parses responses, chunked and SSE bodies included),
 * a way for the client to ask the loop thread to do something (shut the
 * server down) at a chosen point, and waits for real conditions (a /stats
 * counter, the server having read what was sent).
 *
 * No sleep stands in for a condition here. Every deadline (W_RECV_TIMEOUT_S,
 * W_HANG_NS, W_CLIENT_NS) only detects a hang: a correct server under ASan on
 * a loaded 2-core machine is far inside them, and none is a speed claim. */
#ifndef RB_TEST_HTTP_WIRE_H
#define RB_TEST_HTTP_WIRE_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ringbank/fs.h"
#include "ringbank/http.h"
#include "t.h"

#define W_RECV_TIMEOUT_S 30			  /* one blocking recv of the client */
#define W_HANG_NS (30ull * 1000000000ull)	  /* one awaited condition */
#define W_CLIENT_NS (120ull * 1000000000ull)	  /* one whole client function */
#define W_CONFIGS 3

/* ---- the server under test ----------------------------------------------------------------- */

struct w_srv {
	struct rb_loop *loop;
	struct rb_io *io;
	struct rb_cap cap;
	struct rb_fs *fs;
	struct rb_http *h;
	int port;
	bool done;
	int err;
};

static const char *const w_config_name[W_CONFIGS] = { "ring+uring", "ring+threads", "epoll+threads" };

static inline void w_srv_done(void *ctx, int err)
{
	struct w_srv *s = ctx;
	s->done = true;
	s->err = err;
}

/* Starts a server on 127.0.0.1:0 over root with o (listen, quiet and
 * mcp.fs are filled in); false when this config is not available here
 * (io_uring blocked: said on stderr). */
static inline bool w_srv_start(struct w_srv *s, int config, struct rb_http_opts *o, const char *root)
{
	struct rb_loop_opts lo = { .engine = config == 2 ? RB_ENGINE_EPOLL : RB_ENGINE_RING, .quiet = true };
	struct rb_io_opts io = { .kind = config == 0 ? RB_IO_BACKEND_URING : RB_IO_BACKEND_THREADS };
	const char *url, *colon;
	int r;

	memset(s, 0, sizeof(*s));
	r = rb_loop_new(&s->loop, &lo);
	if (r < 0) {
		if (config != 2) {
			fprintf(stderr, "note: io_uring unavailable (%s): %s skipped\n", strerror(-r),
				w_config_name[config]);
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
	ASSERT_EQ(rb_http_start(s->h, w_srv_done, s), 0);
	return true;
}

/* Shuts the server down (if the test did not) and frees everything. */
static inline void w_srv_stop(struct w_srv *s)
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

/* The body of every test here: fn(config) once per engine/backend pair
 * that RB_TEST_IO selects (uring: ring+uring; threads: ring+threads and
 * epoll+threads), named on stderr; after each, no fd may be open that was
 * not open before. SIGPIPE is ignored (a client writing to a socket the
 * server closed gets EPIPE). */
static inline void w_each_config(void (*fn)(int config))
{
	int config, base_fds;

	signal(SIGPIPE, SIG_IGN);
	base_fds = t_fd_count();
	for (config = 0; config < W_CONFIGS; config++) {
		if (!t_want_backend(config == 0 ? RB_IO_BACKEND_URING : RB_IO_BACKEND_THREADS))
			continue;
		fprintf(stderr, "== %s\n", w_config_name[config]);
		fn(config);
		ASSERT_EQ(t_fd_count(), base_fds);
	}
}

/* ---- the client thread, and its requests to the loop thread ------------------------------- */

struct w_run;
typedef void w_client_fn(struct w_run *run);

struct w_run {
	w_client_fn *fn;
	struct w_srv *srv;
	int port;
	atomic_bool finished;
	atomic_int ask; /* W_ASK_*: set by the client, cleared by the loop once done */
};

enum { W_ASK_NONE, W_ASK_SHUTDOWN };

static inline void *w_client_main(void *arg)
{
	struct w_run *run = arg;
	run->fn(run);
	atomic_store(&run->finished, true);
	return NULL;
}

/* From the client: has the loop thread do `what`, and waits until it has. */
static inline void w_ask(struct w_run *run, int what)
{
	uint64_t end = rb_now_ns() + W_HANG_NS;
	atomic_store(&run->ask, what);
	while (atomic_load(&run->ask) != W_ASK_NONE) {
		if (rb_now_ns() > end)
			T_FAIL("the loop thread did not take request %d", what);
		usleep(1000);
	}
}

/* Runs fn on a thread while the loop serves it (and what it asks). */
static inline void w_run_client(struct w_srv *s, w_client_fn *fn)
{
	struct w_run run = { .fn = fn, .srv = s, .port = s->port };
	pthread_t th;
	uint64_t end = rb_now_ns() + W_CLIENT_NS;

	ASSERT_EQ(pthread_create(&th, NULL, w_client_main, &run), 0);
	while (!atomic_load(&run.finished)) {
		int r = rb_loop_run_once(s->loop, true, 10), ask = atomic_load(&run.ask);
		if (r < 0)
			T_FAIL("rb_loop_run_once: %s", strerror(-r));
		if (ask == W_ASK_SHUTDOWN) {
			rb_http_shutdown(s->h);
			atomic_store(&run.ask, W_ASK_NONE);
		}
		if (rb_now_ns() > end)
			T_FAIL("client timed out");
	}
	pthread_join(th, NULL);
}

/* Starts a server with o over root, runs the clients (a NULL-terminated
 * list) one after the other, and stops it. False, having run nothing, when
 * this config is not available here. */
static inline bool w_serve(int config, struct rb_http_opts *o, const char *root, w_client_fn *const *clients)
{
	struct w_srv s;

	if (!w_srv_start(&s, config, o, root))
		return false;
	for (; *clients; clients++)
		w_run_client(&s, *clients);
	w_srv_stop(&s);
	return true;
}

/* ---- a blocking HTTP client ---------------------------------------------------------------- */

struct w_buf {
	char *p;
	size_t len, cap;
};

/* One parsed response: status, head (through the blank line) and the body
 * (de-chunked; NUL-terminated; the caller frees it). */
struct w_resp {
	int status;
	char head[8192];
	char *body;
	size_t body_len;
};

/* A receive timeout on a client socket (the hang detector of w_more), no Nagle. */
static inline void w_client_sockopts(int fd)
{
	struct timeval tv = { .tv_sec = W_RECV_TIMEOUT_S };
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* fails harmlessly on AF_UNIX */
}

static inline int w_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ASSERT(fd >= 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		T_FAIL("connect: %s", strerror(errno));
	w_client_sockopts(fd);
	return fd;
}

static inline void w_send(int fd, const char *s, size_t n)
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

static inline void w_sends(int fd, const char *s) { w_send(fd, s, strlen(s)); }

/* Reads more; false on EOF or error (a reset counts as EOF); a timeout fails the test. */
static inline bool w_more(int fd, struct w_buf *b)
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

/* Drops the first n bytes of b. */
static inline void w_drop(struct w_buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = 0;
}

static inline void w_reset(struct w_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
}

/* Reads until needle is in the buffer; false on EOF first. */
static inline bool w_until(int fd, struct w_buf *b, const char *needle)
{
	while (!b->p || !strstr(b->p, needle))
		if (!w_more(fd, b))
			return false;
	return true;
}

/* Reads until the server closes (what comes before the EOF is kept in b);
 * a server that never closes fails at the receive timeout. */
static inline void w_until_eof(int fd, struct w_buf *b)
{
	while (w_more(fd, b))
		;
}

/* Case-insensitive header lookup in a response head; value copied to out. */
static inline bool w_hdr(const struct w_resp *r, const char *name, char *out, size_t outlen)
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
static inline size_t w_parse(struct w_buf *b, struct w_resp *r)
{
	char *he, tmp[64];
	size_t hl, off;

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
		w_drop(b, hl);
		return w_parse(b, r);
	}
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	if (r->status == 204) {
		r->body = strdup("");
		return hl;
	}
	if (w_hdr(r, "transfer-encoding", tmp, sizeof(tmp))) {
		struct w_buf body = { 0 };
		off = hl;
		for (;;) {
			char *le = strstr(b->p + off, "\r\n");
			size_t n;
			if (!le) {
				free(body.p);
				return 0;
			}
			n = strtoul(b->p + off, NULL, 16);
			off = (size_t)(le - b->p) + 2;
			if (n == 0) {
				if (b->len < off + 2) {
					free(body.p);
					return 0;
				}
				off += 2;
				break;
			}
			if (b->len < off + n + 2) {
				free(body.p);
				return 0;
			}
			body.p = realloc(body.p, body.len + n + 1);
			ASSERT(body.p);
			memcpy(body.p + body.len, b->p + off, n);
			body.len += n;
			body.p[body.len] = 0;
			off += n + 2;
		}
		r->body = body.p ? body.p : strdup("");
		r->body_len = body.len;
		return off;
	}
	if (w_hdr(r, "content-length", tmp, sizeof(tmp))) {
		size_t n = strtoul(tmp, NULL, 10);
		if (b->len < hl + n)
			return 0;
		r->body = malloc(n + 1);
		ASSERT(r->body);
		memcpy(r->body, b->p + hl, n);
		r->body[n] = 0;
		r->body_len = n;
		return hl + n;
	}
	/* A body that ends at EOF: none of this server's answers has one. */
	return 0;
}

/* Reads one response into r (dropping it from b); false if the connection
 * closed first. */
static inline bool w_read_resp(int fd, struct w_buf *b, struct w_resp *r)
{
	for (;;) {
		size_t n = w_parse(b, r);
		if (n) {
			w_drop(b, n);
			return true;
		}
		if (!w_more(fd, b))
			return false;
	}
}

/* A formatted string in a buffer of its own, which the caller frees.
 * (Not asprintf: with its char ** output inlined, GCC 12 takes pointers
 * into the result for pointers to a local, -Wdangling-pointer.) */
__attribute__((format(printf, 1, 2))) static inline char *w_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	ASSERT(n >= 0);
	s = malloc((size_t)n + 1);
	ASSERT(s);
	va_start(ap, fmt);
	ASSERT_EQ(vsnprintf(s, (size_t)n + 1, fmt, ap), n);
	va_end(ap);
	return s;
}

/* A POST /mcp of body: sid may be NULL, extra (whole header lines) too.
 * The caller frees it. */
static inline char *w_post_req(const char *sid, const char *extra, const char *body)
{
	return w_strf("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
		      "Accept: application/json, text/event-stream\r\n%s%s%s%sContent-Length: %zu\r\n\r\n%s",
		      sid ? "Mcp-Session-Id: " : "", sid ? sid : "", sid ? "\r\n" : "", extra ? extra : "",
		      strlen(body), body);
}

/* Sends w_post_req(sid, extra, body) on fd. */
static inline void w_post(int fd, const char *sid, const char *extra, const char *body)
{
	char *s = w_post_req(sid, extra, body);
	w_sends(fd, s);
	free(s);
}

/* One request, one response on a fresh connection. */
static inline void w_exchange(int port, const char *req, struct w_resp *r)
{
	struct w_buf b = { 0 };
	int fd = w_connect(port);

	w_sends(fd, req);
	if (!w_read_resp(fd, &b, r))
		T_FAIL("no response to %.120s", req);
	close(fd);
	free(b.p);
}

/* One POST, one response on a fresh connection. */
static inline void w_post1(int port, const char *sid, const char *extra, const char *body, struct w_resp *r)
{
	char *req = w_post_req(sid, extra, body);
	w_exchange(port, req, r);
	free(req);
}

static inline void w_expect_error(const struct w_resp *r, int status, const char *msg_part)
{
	if (r->status != status)
		T_FAIL("status %d, want %d: %s%s", r->status, status, r->head, r->body ? r->body : "");
	if (msg_part && (!r->body || !strstr(r->body, msg_part)))
		T_FAIL("body of the %d lacks '%s': %s", status, msg_part, r->body ? r->body : "(none)");
}

/* ---- sessions ------------------------------------------------------------------------------ */

#define W_SID_SIZE 64

static const char w_init_body[] = "{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":\"initialize\",\"params\":"
				  "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"roots\":{}},"
				  "\"clientInfo\":{\"name\":\"wire\",\"version\":\"1\"}}}";

/* The answer to initialize: 200, a session id of 32 hex digits (into sid),
 * the protocol version agreed. Frees r's body. */
static inline void w_check_initialized(struct w_resp *r, char sid[W_SID_SIZE])
{
	ASSERT_EQ(r->status, 200);
	if (!w_hdr(r, "mcp-session-id", sid, W_SID_SIZE))
		T_FAIL("no Mcp-Session-Id in %s", r->head);
	ASSERT_EQ(strlen(sid), 32);
	ASSERT(strspn(sid, "0123456789abcdef") == 32);
	ASSERT(strstr(r->body, "\"protocolVersion\":\"2025-11-25\""));
	free(r->body);
	r->body = NULL;
}

/* The answer to notifications/initialized: 202, no body. Frees r's body. */
static inline void w_check_accepted(struct w_resp *r)
{
	ASSERT_EQ(r->status, 202);
	ASSERT_EQ(r->body_len, 0);
	free(r->body);
	r->body = NULL;
}

/* A session on port, each of its two requests (initialize, initialized;
 * extra header lines on both) on a connection of its own; its id in sid. */
static inline void w_session(int port, char sid[W_SID_SIZE], const char *extra)
{
	struct w_resp r = { 0 };

	w_post1(port, NULL, extra, w_init_body, &r);
	w_check_initialized(&r, sid);
	w_post1(port, sid, extra, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r);
	w_check_accepted(&r);
}

/* The same on one open connection (keep-alive), reading through b. */
static inline void w_session_on(int fd, struct w_buf *b, char sid[W_SID_SIZE])
{
	struct w_resp r = { 0 };

	w_post(fd, NULL, NULL, w_init_body);
	ASSERT(w_read_resp(fd, b, &r));
	w_check_initialized(&r, sid);
	w_post(fd, sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	ASSERT(w_read_resp(fd, b, &r));
	w_check_accepted(&r);
}

/* ---- waiting for the server's state ------------------------------------------------------ */

/* The value of counter `name` in a GET /stats body; fails when it is absent. */
static inline long long w_stat(const struct w_resp *r, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":", name);
	p = r->body ? strstr(r->body, key) : NULL;
	if (!p)
		T_FAIL("no %s in /stats: %s", name, r->body ? r->body : "(none)");
	return strtoll(p + strlen(key), NULL, 10);
}

/* Asks GET /stats on fd (a keep-alive connection of the caller's, read
 * through b) until counter `name` is want. */
static inline void w_wait_stat(int fd, struct w_buf *b, const char *name, long long want)
{
	struct w_resp r = { 0 };
	uint64_t end = rb_now_ns() + W_HANG_NS;
	long long v;

	for (;;) {
		w_sends(fd, "GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n");
		if (!w_read_resp(fd, b, &r))
			T_FAIL("the connection closed while waiting for %s == %lld", name, want);
		ASSERT_EQ(r.status, 200);
		v = w_stat(&r, name);
		if (v == want)
			break;
		if (rb_now_ns() > end)
			T_FAIL("/stats: %s is still %lld, not %lld: %s", name, v, want, r.body);
		usleep(2000);
	}
	free(r.body);
}

/* Bytes that reached the server's end of the connection whose client end
 * has address `client` but that the server has not read yet; -1 while the
 * server has not accepted it. The server runs in this process: its end is
 * the socket among our fds whose peer is `client`. */
static inline int w_server_unread(const struct sockaddr_in *client)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int unread = -1;

	ASSERT(d);
	while (unread < 0 && (e = readdir(d))) {
		struct sockaddr_in peer = { 0 };
		socklen_t len = sizeof(peer);
		int fd = atoi(e->d_name), n;

		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0 && len == sizeof(peer) &&
		    peer.sin_family == AF_INET && peer.sin_port == client->sin_port &&
		    peer.sin_addr.s_addr == client->sin_addr.s_addr && ioctl(fd, FIONREAD, &n) == 0)
			unread = n;
	}
	closedir(d);
	return unread;
}

/* Waits until the server has read every byte sent so far on fd (a TCP
 * connection to the in-process server): the peer acknowledged all of them
 * (TIOCOUTQ 0) and none is left unread at the server's end. What is sent
 * next reaches the server in a read of its own. Only for a server that is
 * reading (mid-request), not one holding pipelined input back. */
static inline void w_wait_read(int fd)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	uint64_t end = rb_now_ns() + W_HANG_NS;
	int unsent = -1, unread = -1;

	ASSERT_EQ(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	for (;;) {
		ASSERT_EQ(ioctl(fd, TIOCOUTQ, &unsent), 0);
		if (unsent == 0 && (unread = w_server_unread(&me)) == 0)
			return;
		if (rb_now_ns() > end)
			T_FAIL("the server did not read what was sent (%d bytes unacknowledged, %d unread)", unsent,
			       unread);
		usleep(1000);
	}
}

#endif
