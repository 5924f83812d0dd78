/* Description: the Streamable HTTP transport on the wire, against an
 * in-process server on every engine/backend pair (ring+uring, ring+threads,
 * epoll+threads), driven by a blocking client thread: sessions, 202s,
 * pipelined requests answered in order, chunked bodies, Expect: 100-continue,
 * SSE responses with keep-alive after them, the GET stream and its
 * heartbeat, DELETE, every refusal (400/403/404/405/406/408/413/415/431/503,
 * 401 with WWW-Authenticate), idle connections closed, and no fd left open
 * after shutdown. The server, the client and the waits are wire.h's. */
#include <poll.h>

#include "wire.h"

static char *root;

/* ---- scenarios ------------------------------------------------------------------------------- */

static void sc_basic(struct w_run *run)
{
	const int port = run->port;
	struct w_resp r = { 0 };
	char sid[W_SID_SIZE], ct[128];

	w_session(port, sid, NULL);
	w_post1(port, sid, "MCP-Protocol-Version: 2025-11-25\r\n",
		"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\"}", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(w_hdr(&r, "content-type", ct, sizeof(ct)));
	ASSERT_STREQ(ct, "application/json");
	ASSERT(strstr(r.body, "\"id\":7"));
	ASSERT(strstr(r.body, "\"read_text_file\""));
	/* A tool call, and a response-shaped message (accepted: nothing to answer). */
	w_post1(port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"read_text_file\",\"arguments\":{\"path\":\"a.md\"}}}", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "hello from a"));
	w_post1(port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":99,\"result\":{}}", &r);
	ASSERT_EQ(r.status, 202);
	/* An invalid message that is not even a request: 400 with the JSON-RPC error. */
	w_post1(port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", &r);
	ASSERT_EQ(r.status, 400);
	ASSERT(strstr(r.body, "\"error\""));
	/* initialize again on the session: refused by the session, which lives on. */
	w_post1(port, sid, NULL, w_init_body, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "already initialized"));
	ASSERT(!w_hdr(&r, "mcp-session-id", ct, sizeof(ct)));
	/* initialize with bad params: no session is issued. */
	w_post1(port, NULL, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "-32602"));
	ASSERT(!w_hdr(&r, "mcp-session-id", ct, sizeof(ct)));
	free(r.body);
}

static void sc_pipeline(struct w_run *run)
{
	const int port = run->port;
	struct w_buf b = { 0 };
	struct w_resp r = { 0 };
	char sid[W_SID_SIZE], *all = NULL, *one, *grown;
	size_t len = 0;
	int fd, i;

	w_session(port, sid, NULL);
	/* Five requests in one write, a slow tool call among them: the
	 * answers come back in request order on the one connection. */
	for (i = 1; i <= 5; i++) {
		char body[256];
		if (i == 2)
			snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":"
				 "{\"name\":\"search_files\",\"arguments\":{\"path\":\".\",\"pattern\":\"**/*.md\"}}}", i);
		else
			snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}", i);
		one = w_post_req(sid, NULL, body);
		grown = realloc(all, len + strlen(one) + 1);
		ASSERT(grown);
		all = grown;
		memcpy(all + len, one, strlen(one) + 1);
		len += strlen(one);
		free(one);
	}
	fd = w_connect(port);
	w_send(fd, all, len);
	for (i = 1; i <= 5; i++) {
		char want[32];
		ASSERT(w_read_resp(fd, &b, &r));
		ASSERT_EQ(r.status, 200);
		snprintf(want, sizeof(want), "\"id\":%d,", i);
		if (!strstr(r.body, want))
			T_FAIL("response %d out of order: %s", i, r.body);
	}
	/* Byte by byte: the parser keeps its place across reads. */
	one = w_post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"ping\"}");
	for (i = 0; one[i]; i++)
		w_send(fd, one + i, 1);
	ASSERT(w_read_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":6"));
	free(one);
	free(all);
	close(fd);
	free(b.p);
	free(r.body);
}

static void sc_chunked(struct w_run *run)
{
	const int port = run->port;
	struct w_buf b = { 0 };
	struct w_resp r = { 0 };
	char sid[W_SID_SIZE], head[512];
	int fd;

	w_session(port, sid, NULL);
	fd = w_connect(port);
	snprintf(head, sizeof(head), "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Accept: application/json, text/event-stream\r\nMcp-Session-Id: %s\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n", sid);
	w_sends(fd, head);
	w_sends(fd, "11\r\n{\"jsonrpc\":\"2.0\",\r\n");
	/* The rest reaches the server in a read of its own: the body parser
	 * keeps its place between chunks across reads. */
	w_wait_read(fd);
	w_sends(fd, "7\r\n\"id\":11\r\n");
	w_sends(fd, "11;ext=1\r\n,\"method\":\"ping\"}\r\n0\r\n\r\n");
	ASSERT(w_read_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":11"));
	/* Expect: 100-continue: the interim answer, then the real one. */
	snprintf(head, sizeof(head), "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Accept: application/json, text/event-stream\r\nMcp-Session-Id: %s\r\nExpect: 100-continue\r\n"
		 "Content-Length: 41\r\n\r\n", sid);
	w_sends(fd, head);
	ASSERT(w_until(fd, &b, "HTTP/1.1 100 Continue\r\n\r\n"));
	w_sends(fd, "{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\"}");
	ASSERT(w_read_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":12"));
	close(fd);
	free(b.p);
	free(r.body);
}

/* HEAD gets headers only (a body would be read as the next response on a
 * keep-alive connection); an HTTP/1.0 client sending Expect: 100-continue
 * gets no interim 100 (RFC 9110 10.1.1), just the answer. */
static void sc_head_and_http10(struct w_run *run)
{
	const int port = run->port;
	struct w_buf b = { 0 };
	struct w_resp r = { 0 };
	char sid[W_SID_SIZE], head[512], *he;
	int fd;

	w_session(port, sid, NULL);
	fd = w_connect(port);
	w_sends(fd, "HEAD /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n");
	ASSERT(w_until(fd, &b, "\r\n\r\n"));
	ASSERT(!strncmp(b.p, "HTTP/1.1 4", 10));
	he = strstr(b.p, "\r\n\r\n");
	w_drop(&b, (size_t)(he - b.p) + 4);
	/* Nothing may follow the head but the next response. */
	he = w_post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":21,\"method\":\"ping\"}");
	w_sends(fd, he);
	free(he);
	ASSERT(w_read_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":21"));
	close(fd);
	free(b.p);
	b = (struct w_buf){ 0 };

	/* HEAD /stats: the 200 that GET gets, with its Content-Length, and
	 * no body (the next response follows the blank line). */
	free(r.body);
	r = (struct w_resp){ 0 };
	fd = w_connect(port);
	w_sends(fd, "HEAD /stats HTTP/1.1\r\nHost: localhost\r\n\r\n");
	ASSERT(w_until(fd, &b, "\r\n\r\n"));
	ASSERT(!strncmp(b.p, "HTTP/1.1 200 ", 13));
	ASSERT(strstr(b.p, "\r\nContent-Length: "));
	he = strstr(b.p, "\r\n\r\n");
	w_drop(&b, (size_t)(he - b.p) + 4);
	w_sends(fd, "GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n");
	ASSERT(w_read_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(r.body && r.body[0] == '{' && strstr(r.body, "\"connections\""));
	close(fd);
	free(b.p);
	free(r.body);
	r = (struct w_resp){ 0 };
	b = (struct w_buf){ 0 };

	fd = w_connect(port);
	snprintf(head, sizeof(head), "POST /mcp HTTP/1.0\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Accept: application/json, text/event-stream\r\nMcp-Session-Id: %s\r\nExpect: 100-continue\r\n"
		 "Content-Length: 41\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":22,\"method\":\"ping\"}", sid);
	w_sends(fd, head);
	if (!w_until(fd, &b, "\"id\":22"))
		T_FAIL("HTTP/1.0 POST: got [%.*s]", (int)b.len, b.p ? b.p : "");
	ASSERT(!strstr(b.p, " 100 Continue"));
	ASSERT(!strncmp(b.p, "HTTP/1.1 200", 12));
	close(fd);
	free(b.p);
	free(r.body);
}

static void sc_sse(struct w_run *run)
{
	const int port = run->port;
	struct w_buf b = { 0 };
	struct w_resp r = { 0 };
	char sid[W_SID_SIZE], ct[128], *req;
	int fd;

	w_session(port, sid, NULL);
	fd = w_connect(port);
	/* A progressToken: the answer is a stream, ended by the response. */
	req = w_post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"tools/call\",\"params\":{\"name\":"
			 "\"search_files\",\"arguments\":{\"path\":\".\",\"pattern\":\"**/*.md\"},\"_meta\":"
			 "{\"progressToken\":\"p1\"}}}");
	w_sends(fd, req);
	free(req);
	ASSERT(w_read_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(w_hdr(&r, "content-type", ct, sizeof(ct)));
	ASSERT_STREQ(ct, "text/event-stream");
	ASSERT(strstr(r.body, "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\""));
	ASSERT(strstr(r.body, "}\n\n"));
	/* Keep-alive after the stream. */
	req = w_post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
	w_sends(fd, req);
	free(req);
	ASSERT(w_read_resp(fd, &b, &r));
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"id\":2"));
	/* Only text/event-stream accepted: a stream even without a token. */
	req = w_post_req(sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
	{
		/* "Accept: application/json, text/event-stream" loses its first type. */
		char *p = strstr(req, "Accept: application/json, text/event-stream");
		ASSERT(p);
		p += strlen("Accept: ");
		memmove(p, p + strlen("application/json, "), strlen(p + strlen("application/json, ")) + 1);
	}
	w_sends(fd, req);
	free(req);
	ASSERT(w_read_resp(fd, &b, &r));
	ASSERT(w_hdr(&r, "content-type", ct, sizeof(ct)));
	ASSERT_STREQ(ct, "text/event-stream");
	ASSERT(strstr(r.body, "\"id\":3"));
	close(fd);
	free(b.p);
	free(r.body);
}

static void sc_get(struct w_run *run)
{
	const int port = run->port;
	struct w_buf b1 = { 0 }, b2 = { 0 };
	struct w_resp r = { 0 };
	char sid[W_SID_SIZE], req[512];
	int g1, g2;

	w_session(port, sid, NULL);
	snprintf(req, sizeof(req), "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
		 "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: 2025-06-18\r\n\r\n", sid);
	g1 = w_connect(port);
	w_sends(g1, req);
	ASSERT(w_until(g1, &b1, "\r\n\r\n"));
	ASSERT(!strncmp(b1.p, "HTTP/1.1 200 OK\r\n", 17));
	ASSERT(strstr(b1.p, "Content-Type: text/event-stream\r\n"));
	/* The heartbeat (100 ms in this test) keeps an idle stream alive. */
	ASSERT(w_until(g1, &b1, ": keep-alive\n\n"));
	/* A second GET replaces the first, which ends. */
	g2 = w_connect(port);
	w_sends(g2, req);
	ASSERT(w_until(g2, &b2, "\r\n\r\n"));
	ASSERT(w_until(g1, &b1, "\r\n0\r\n\r\n"));
	/* DELETE ends the session and its stream; then 404. */
	snprintf(req, sizeof(req), "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: %s\r\n\r\n", sid);
	w_exchange(port, req, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(w_until(g2, &b2, "\r\n0\r\n\r\n"));
	w_exchange(port, req, &r);
	w_expect_error(&r, 404, "Session not found");
	/* GET refusals. */
	snprintf(req, sizeof(req), "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n\r\n");
	w_exchange(port, req, &r);
	w_expect_error(&r, 406, "text/event-stream");
	snprintf(req, sizeof(req), "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
	w_exchange(port, req, &r);
	w_expect_error(&r, 400, "Mcp-Session-Id");
	close(g1);
	close(g2);
	free(b1.p);
	free(b2.p);
	free(r.body);
}

static void sc_refusals(struct w_run *run)
{
	const int port = run->port;
	struct w_resp r = { 0 };
	static const char ping[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
	char sid[W_SID_SIZE], ct[256];

	w_session(port, sid, NULL);
	w_post1(port, NULL, NULL, ping, &r);
	w_expect_error(&r, 400, "Mcp-Session-Id header is required");
	w_post1(port, "0123456789abcdef0123456789abcdef", NULL, ping, &r);
	w_expect_error(&r, 404, "Session not found");
	w_post1(port, sid, "MCP-Protocol-Version: 2030-01-01\r\n", ping, &r);
	w_expect_error(&r, 400, "unsupported MCP-Protocol-Version");
	w_post1(port, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,", &r);
	w_expect_error(&r, 400, "-32700");
	w_post1(port, sid, NULL, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", &r);
	w_expect_error(&r, 400, "batches are not supported");
	w_exchange(port, "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
		   &r);
	/* Host x is refused first on a loopback listener. */
	w_expect_error(&r, 403, "Host not allowed");
	w_exchange(port, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
		   "Content-Length: 2\r\n\r\n{}", &r);
	w_expect_error(&r, 415, "application/json");
	w_exchange(port, "POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nAccept: text/html\r\n"
		   "Content-Length: 2\r\n\r\n{}", &r);
	w_expect_error(&r, 406, "Not Acceptable");
	w_exchange(port, "PUT /mcp HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
	w_expect_error(&r, 405, "Method Not Allowed");
	ASSERT(w_hdr(&r, "allow", ct, sizeof(ct)));
	w_exchange(port, "GET /other HTTP/1.1\r\n\r\n", &r);
	w_expect_error(&r, 404, "/mcp");
	w_exchange(port, "GARBAGE\r\n\r\n", &r);
	w_expect_error(&r, 400, "malformed HTTP");
	/* DNS rebinding: a foreign Origin or Host is refused; localhost's is
	 * served with CORS headers. */
	w_post1(port, sid, "Origin: http://evil.example.com\r\n", ping, &r);
	w_expect_error(&r, 403, "Origin not allowed");
	ASSERT(!w_hdr(&r, "access-control-allow-origin", ct, sizeof(ct)));
	w_exchange(port, "GET /mcp HTTP/1.1\r\nHost: evil.example.com:80\r\nAccept: text/event-stream\r\n\r\n", &r);
	w_expect_error(&r, 403, "Host not allowed");
	w_post1(port, sid, "Origin: http://localhost:6274\r\n", ping, &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(w_hdr(&r, "access-control-allow-origin", ct, sizeof(ct)));
	ASSERT_STREQ(ct, "http://localhost:6274");
	ASSERT(w_hdr(&r, "access-control-expose-headers", ct, sizeof(ct)));
	ASSERT(strstr(ct, "Mcp-Session-Id"));
	w_exchange(port, "OPTIONS /mcp HTTP/1.1\r\nHost: localhost\r\nOrigin: http://localhost:6274\r\n"
		   "Access-Control-Request-Method: POST\r\n\r\n", &r);
	ASSERT_EQ(r.status, 204);
	ASSERT(w_hdr(&r, "access-control-allow-headers", ct, sizeof(ct)));
	ASSERT(strstr(ct, "Mcp-Session-Id"));
	free(r.body);
}

static void sc_limits(struct w_run *run)
{
	const int port = run->port;
	struct w_buf b = { 0 };
	struct w_resp r = { 0 };
	char sid[W_SID_SIZE], *big;
	int fd;

	w_session(port, sid, NULL);
	/* Headers over 16 KiB: 431 and the connection ends. */
	big = malloc(20000);
	memset(big, 'a', 19999);
	big[19999] = 0;
	fd = w_connect(port);
	w_sends(fd, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nX-Big: ");
	w_sends(fd, big);
	w_sends(fd, "\r\n\r\n");
	ASSERT(w_read_resp(fd, &b, &r));
	w_expect_error(&r, 431, "Header Fields Too Large");
	w_until_eof(fd, &b);
	close(fd);
	/* A Content-Length over the body limit (64 KiB here): 413 at once. */
	fd = w_connect(port);
	w_sends(fd, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Content-Length: 100000\r\n\r\n");
	ASSERT(w_read_resp(fd, &b, &r));
	w_expect_error(&r, 413, "Content Too Large");
	w_until_eof(fd, &b);
	close(fd);
	/* A chunked body that grows past it: 413 too. */
	fd = w_connect(port);
	w_sends(fd, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n");
	{
		int i;
		for (i = 0; i < 5; i++) {
			w_sends(fd, "3e80\r\n"); /* 16000 bytes */
			w_send(fd, big, 16000);
			w_sends(fd, "\r\n");
		}
	}
	ASSERT(w_read_resp(fd, &b, &r));
	w_expect_error(&r, 413, "Content Too Large");
	close(fd);
	free(big);
	free(b.p);
	free(r.body);
}

static void sc_timeouts(struct w_run *run)
{
	const int port = run->port;
	struct w_buf b = { 0 };
	struct w_resp r = { 0 };
	uint64_t t0;
	int fd;

	/* Half a request, then silence: 408 after the request timeout (300 ms).
	 * t0 is taken before the connection exists, so the server's deadline
	 * (from the first byte) cannot start before it: the lower bound holds
	 * however late this thread runs (and no upper bound is asserted). */
	t0 = rb_now_ns();
	fd = w_connect(port);
	w_sends(fd, "POST /mcp HTTP/1.1\r\nHost: localhost\r\nCont");
	ASSERT(w_read_resp(fd, &b, &r));
	w_expect_error(&r, 408, "Request Timeout");
	ASSERT((rb_now_ns() - t0) / 1000000 >= 250);
	w_until_eof(fd, &b);
	close(fd);
	/* Slowloris: a byte at a time, each within 100 ms of the last (inside
	 * the 300 ms request timeout), never completing the headers (the
	 * header value goes on for as long as it takes). The deadline counts
	 * from the first byte, not the last: the 408 comes while the bytes
	 * keep coming. A server that restarted it on every byte would never
	 * answer; the hang detector, not a speed bound, fails that. */
	fd = w_connect(port);
	t0 = rb_now_ns();
	{
		const char *s = "GET /mcp HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
		size_t i, n = strlen(s);
		for (i = 0;; i++) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (send(fd, i < n ? s + i : "a", 1, MSG_NOSIGNAL) <= 0)
				break;
			if (poll(&p, 1, 100) == 1)
				break; /* the 408 */
			if (rb_now_ns() - t0 > W_HANG_NS)
				T_FAIL("a slowloris connection got no 408 in %llu s of trickled bytes: the request "
				       "deadline must count from the first byte", W_HANG_NS / 1000000000ull);
		}
	}
	ASSERT(w_read_resp(fd, &b, &r));
	w_expect_error(&r, 408, NULL);
	close(fd);
	/* An idle keep-alive connection is closed quietly (idle timeout 300 ms;
	 * t0 before the connection exists, as above). */
	t0 = rb_now_ns();
	fd = w_connect(port);
	w_until_eof(fd, &b);
	ASSERT_EQ(b.len, 0);
	ASSERT((rb_now_ns() - t0) / 1000000 >= 250);
	close(fd);
	/* Both 408s were counted as timeouts; the idle close was not one. */
	w_exchange(port, "GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(w_stat(&r, "timeouts"), 2);
	free(b.p);
	free(r.body);
}

static void sc_conn_limit(struct w_run *run)
{
	const int port = run->port;
	struct w_buf b = { 0 }, bc = { 0 };
	struct w_resp r = { 0 };
	int a, c, d;

	/* Limit 2: two held connections (a silent; c asks /stats until the
	 * server counts both), the third is told 503 and closed. */
	a = w_connect(port);
	c = w_connect(port);
	w_wait_stat(c, &bc, "connections", 2);
	d = w_connect(port);
	ASSERT(w_read_resp(d, &b, &r));
	w_expect_error(&r, 503, "connections");
	w_until_eof(d, &b);
	close(d);
	close(a);
	/* A slot frees (once the server has closed a, c is the only one
	 * counted): served again. */
	w_wait_stat(c, &bc, "connections", 1);
	w_exchange(port, "GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
	ASSERT_EQ(r.status, 200);
	ASSERT(strstr(r.body, "\"rejected_connections\":1"));
	close(c);
	free(b.p);
	free(bc.p);
	free(r.body);
}

static void sc_session_limit(struct w_run *run)
{
	const int port = run->port;
	struct w_resp r = { 0 };
	char sid[W_SID_SIZE], req[256];

	w_session(port, sid, NULL);
	w_post1(port, NULL, NULL, w_init_body, &r);
	w_expect_error(&r, 503, "sessions");
	snprintf(req, sizeof(req), "DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nMcp-Session-Id: %s\r\n\r\n", sid);
	w_exchange(port, req, &r);
	ASSERT_EQ(r.status, 200);
	w_session(port, sid, NULL);
	free(r.body);
}

static void sc_token(struct w_run *run)
{
	const int port = run->port;
	struct w_resp r = { 0 };
	char sid[W_SID_SIZE], v[256];

	w_post1(port, NULL, NULL, w_init_body, &r);
	w_expect_error(&r, 401, "Unauthorized");
	ASSERT(w_hdr(&r, "www-authenticate", v, sizeof(v)));
	ASSERT(!strncmp(v, "Bearer", 6));
	w_post1(port, NULL, "Authorization: Bearer wrong-token-wrong-token\r\n", w_init_body, &r);
	w_expect_error(&r, 401, "invalid bearer token");
	ASSERT(w_hdr(&r, "www-authenticate", v, sizeof(v)));
	ASSERT(strstr(v, "invalid_token"));
	w_post1(port, NULL, "Authorization: Basic dXNlcjpwYXNz\r\n", w_init_body, &r);
	w_expect_error(&r, 401, NULL);
	w_exchange(port, "GET /stats HTTP/1.1\r\nHost: localhost\r\n\r\n", &r);
	w_expect_error(&r, 401, NULL);
	w_session(port, sid, "Authorization: Bearer 0123456789abcdef-correct\r\n");
	w_post1(port, sid, "Authorization: bearer   0123456789abcdef-correct\r\n",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &r);
	ASSERT_EQ(r.status, 200);
	free(r.body);
}

/* ---- driver ------------------------------------------------------------------------------------ */

static char tokfile[4200];

/* Four servers per engine/backend pair, each set up for its scenarios. */
static w_client_fn *const on_defaults[] = { sc_basic, sc_pipeline, sc_chunked, sc_head_and_http10, sc_sse,
					    sc_get, sc_refusals, sc_limits, NULL };
static w_client_fn *const on_short_timeouts[] = { sc_timeouts, NULL };
static w_client_fn *const on_low_limits[] = { sc_conn_limit, sc_session_limit, NULL };
static w_client_fn *const on_token[] = { sc_token, NULL };

static void one_config(int config)
{
	struct rb_http_opts o = { .max_body_bytes = 65536, .heartbeat_ms = 100 };

	if (!w_serve(config, &o, root, on_defaults))
		return;
	o = (struct rb_http_opts){ .request_timeout_ms = 300, .idle_timeout_ms = 300 };
	ASSERT(w_serve(config, &o, root, on_short_timeouts));
	o = (struct rb_http_opts){ .max_connections = 2, .max_sessions = 1 };
	ASSERT(w_serve(config, &o, root, on_low_limits));
	o = (struct rb_http_opts){ .token_file = tokfile };
	ASSERT(w_serve(config, &o, root, on_token));
}

int main(void)
{
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
	w_each_config(one_config);
	unlink(tokfile);
	t_rmtree(root);
	return T_EXIT_PASS;
}
