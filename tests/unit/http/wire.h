/* wire.h: what the HTTP regression tests share (the tests named
 * test-http-regress-*.c, one per bug the fuzz harness tests/fuzz/fuzz_http
 * found): an in-process server on one engine/backend pair, a client thread
 * speaking real bytes over a TCP socket, and a way for the client to ask
 * the loop thread to do something (shut the server down) at a chosen point.
 * The same shapes as test-http-wire.c, whose helpers are static. */
#ifndef RB_TEST_HTTP_WIRE_H
#define RB_TEST_HTTP_WIRE_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "ringbank/fs.h"
#include "ringbank/http.h"
#include "t.h"

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

static const char *const w_config_name[] = { "ring+uring", "ring+threads", "epoll+threads" };

static inline void w_srv_done(void *ctx, int err)
{
	struct w_srv *s = ctx;
	s->done = true;
	s->err = err;
}

/* Starts a server on 127.0.0.1:0 over root; false when this config is not
 * available here (io_uring blocked: said on stderr). */
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

/* ---- the client thread, and its requests to the loop thread ------------------------------- */

struct w_run {
	void (*fn)(struct w_run *run);
	struct w_srv *srv;
	int port;
	atomic_bool finished;
	atomic_int ask;	   /* W_ASK_*: set by the client, cleared by the loop once done */
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
	uint64_t end = rb_now_ns() + 30ull * 1000000000ull;
	atomic_store(&run->ask, what);
	while (atomic_load(&run->ask) != W_ASK_NONE) {
		if (rb_now_ns() > end)
			T_FAIL("the loop thread did not take request %d", what);
		usleep(1000);
	}
}

/* Runs fn on a thread while the loop serves it (and what it asks). */
static inline void w_run_client(struct w_srv *s, void (*fn)(struct w_run *run))
{
	struct w_run run = { .fn = fn, .srv = s, .port = s->port };
	pthread_t th;
	uint64_t end = rb_now_ns() + 120ull * 1000000000ull;

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

/* ---- a blocking HTTP client ---------------------------------------------------------------- */

struct w_buf {
	char *p;
	size_t len, cap;
};

static inline int w_connect(int port)
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

static inline void w_send(int fd, const char *s)
{
	size_t n = strlen(s);
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

/* Reads more; false on EOF (a reset counts as EOF); a timeout fails. */
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

/* Reads until needle is in the buffer; false on EOF first. */
static inline bool w_until(int fd, struct w_buf *b, const char *needle)
{
	while (!b->p || !strstr(b->p, needle))
		if (!w_more(fd, b))
			return false;
	return true;
}

/* Reads until the server closes. */
static inline void w_until_eof(int fd, struct w_buf *b)
{
	while (w_more(fd, b))
		;
}

static inline void w_reset(struct w_buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = 0;
}

/* A POST /mcp of body (sid may be NULL), sent whole. */
static inline void w_post(int fd, const char *sid, const char *body)
{
	char *s;
	if (asprintf(&s, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
		     "Accept: application/json, text/event-stream\r\n%s%s%sContent-Length: %zu\r\n\r\n%s",
		     sid ? "Mcp-Session-Id: " : "", sid ? sid : "", sid ? "\r\n" : "", strlen(body), body) < 0)
		T_FAIL("asprintf");
	w_send(fd, s);
	free(s);
}

/* A session on a connection of its own: initialize, initialized; its id in sid. */
static inline void w_session(int port, char sid[33])
{
	struct w_buf b = { 0 };
	const char *p;
	int fd = w_connect(port);

	w_post(fd, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
		   "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"regress\",\"version\":\"1\"}}}");
	ASSERT(w_until(fd, &b, "\"protocolVersion\""));
	p = strstr(b.p, "Mcp-Session-Id: ");
	ASSERT(p);
	memcpy(sid, p + 16, 32);
	sid[32] = 0;
	w_reset(&b);
	w_post(fd, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	ASSERT(w_until(fd, &b, "HTTP/1.1 202 Accepted\r\n"));
	close(fd);
	free(b.p);
}

#endif
