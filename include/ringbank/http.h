/* http.h: the MCP Streamable HTTP transport (spec 2025-06-18 / 2025-11-25),
 * served from the same loop that does the file work.
 *
 * One endpoint, /mcp:
 *  - POST a JSON-RPC request: answered with application/json, or with a
 *    text/event-stream (SSE) when the request carries a progressToken (its
 *    progress notifications go on that stream, then the response ends it);
 *  - POST notifications or responses: 202 Accepted;
 *  - GET: an SSE stream for the session's other server messages;
 *  - DELETE: ends the session.
 * Mcp-Session-Id (128 random bits, hex) is issued with the initialize
 * response and required afterwards (400 missing, 404 unknown);
 * MCP-Protocol-Version is checked (400 when unsupported). Streams are not
 * resumable: events carry no ids, and a dropped connection cancels the
 * request it was carrying (its response could not be delivered anyway; the
 * 2026 draft makes stream close mean cancellation). GET /stats returns a
 * JSON object of counters for operators and tests.
 *
 * Each session is one rb_mcp; a session ignores the client's MCP roots
 * (the sandbox is shared by every session, so one client must not narrow or
 * re-widen another's view: the operator's ROOTs are the bound).
 *
 * I/O: on the uring backend accept (multishot where the kernel takes it),
 * recv (into a ring of provided buffers, with a per-connection fallback) and
 * sendmsg are ring ops through rb_loop_sqe; on the threads backend each
 * socket is non-blocking behind one one-shot rb_poll (epoll engine or ring
 * POLL_ADD), like the stdio transport. HTTP/1.1 with llhttp: keep-alive,
 * pipelining (one request at a time per connection, in order), chunked
 * request bodies, Expect: 100-continue.
 *
 * Security: 127.0.0.1 unless told otherwise; Origin validated on every
 * request (localhost, 127.0.0.1, [::1] or an --allowed-origin, else 403);
 * on a loopback listener the Host header too (DNS rebinding); optional
 * bearer token compared in constant time (401 with WWW-Authenticate).
 * Limits, each with its HTTP status: header bytes (431), body bytes (413),
 * connections and sessions (503), request timeout (408), idle keep-alive
 * timeout, per-connection output cap and send-stall timeout (disconnect).
 *
 * Everything runs on the loop thread. Functions return 0 or a negative errno. */
#ifndef RINGBANK_HTTP_H
#define RINGBANK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "ringbank/mcp.h"

#define RB_HTTP_MAX_ORIGINS 16

struct rb_http_opts {
	const char *listen;	     /* "127.0.0.1:8765", "[::1]:0", ":8765"; NULL = not serving HTTP */
	const char *token_file;	     /* bearer token (first line, trimmed); NULL = no authentication */
	const char *allowed_origins[RB_HTTP_MAX_ORIGINS]; /* extra Origin values allowed, e.g. "https://app.example" */
	size_t n_allowed_origins;
	unsigned max_connections;    /* default 1024 (clamped to RLIMIT_NOFILE) */
	unsigned max_sessions;	     /* default 1024 */
	size_t max_header_bytes;     /* request line + headers, default 16 KiB */
	size_t max_body_bytes;	     /* default 16 MiB (serve: --max-message-bytes) */
	size_t max_output_bytes;     /* unsent bytes per connection before it is dropped, default 8 MiB */
	unsigned idle_timeout_ms;    /* keep-alive idle, and a send making no progress; default 60 s */
	unsigned request_timeout_ms; /* a request must arrive whole within this (slowloris); default 30 s */
	unsigned session_timeout_ms; /* a session with no connection for this long ends; default 30 min */
	unsigned heartbeat_ms;	     /* SSE comment lines on idle streams; default 25 s */
	bool quiet;		     /* no "listening on" line (tests) */
	struct rb_mcp_opts mcp;	     /* fs and limits for every session; send/idle/ctx are filled in */
};

struct rb_http;

/* Parses the HTTP options of `serve` at argv[*i] ("--http A", "--http=A",
 * "--token-file F", "--allowed-origin O", "--http-max-connections N",
 * "--http-max-sessions N", "--http-max-header-bytes N",
 * "--http-max-output-bytes N", "--http-idle-timeout T",
 * "--http-request-timeout T", "--http-session-timeout T"; T in seconds, or
 * with an "ms" suffix). Returns 1 if consumed (advancing *i past a value), 0
 * if not an HTTP option, -1 on a bad value (message printed on stderr). */
int rb_http_parse_opt(struct rb_http_opts *o, int argc, char **argv, int *i);
/* The HTTP options' help lines, for `serve --help`. */
void rb_http_usage(FILE *f);

/* Reads the token file, creates the listening socket (or takes a
 * systemd-activated one: LISTEN_FDS=1 for this pid) and prints
 * "ringbank: listening on http://ADDR:PORT/mcp" on stderr (port 0 is
 * resolved to the bound port). Prints a clear message and returns -errno on
 * failure. */
int rb_http_new(struct rb_http **out, const struct rb_http_opts *o);
/* Starts accepting. done(ctx, err) runs once from the loop after
 * rb_http_shutdown, when every connection is closed and every session has
 * ended: err 0, or -ETIMEDOUT when some tool call was abandoned (ops are
 * still in flight: exit without draining). */
int rb_http_start(struct rb_http *h, void (*done)(void *ctx, int err), void *ctx);
/* Stops accepting, ends every session (cancelling calls), flushes what can
 * be flushed within 5 s, then done. Idempotent. */
void rb_http_shutdown(struct rb_http *h);
/* After done (or instead of start). NULL ok. */
void rb_http_free(struct rb_http *h);
/* The bound address as "http://127.0.0.1:8765/mcp". */
const char *rb_http_url(const struct rb_http *h);

/* Serves fd, a connected stream socket (TCP or AF_UNIX), as if the listener
 * had just accepted it: same limits (503 over max_connections), timeouts
 * and security checks. For supervisors that hand over accepted sockets,
 * tests and the fuzz harness (tests/fuzz/fuzz_http.c). Call after
 * rb_http_start. On 0 the fd is the server's (its O_NONBLOCK flag is set
 * as the backend needs; it is closed when the connection ends); on error
 * (-EINVAL before start, -ESHUTDOWN after rb_http_shutdown, -EBADF) the
 * caller keeps it. */
int rb_http_adopt_fd(struct rb_http *h, int fd);

#ifdef RB_FUZZING
/* Test hook for the fuzz harness: requests still waiting for their
 * JSON-RPC answer in sessions that have no call in flight. Once the loop is
 * idle that must be 0: such a request is never answered (its response went
 * astray) and its connection waits forever. */
size_t rb_http_fuzz_unanswered(const struct rb_http *h);
#endif

/* ---- helpers (exposed for tests) --------------------------------------------- */

/* "host:port" with host an IPv4 literal, "[IPv6]", "localhost" or empty
 * (127.0.0.1). -EINVAL on anything else. */
int rb_http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);
/* An Origin header value is allowed: scheme http/https with host localhost,
 * 127.0.0.1 or [::1] (any port), or equal (case-insensitive) to one of
 * extra. "null" and malformed values are refused. */
bool rb_http_origin_allowed(const char *origin, const char *const *extra, size_t n_extra);
/* A Host header value names this machine's loopback (localhost, 127.0.0.1,
 * [::1], any port) or the host of one of the extra origins. */
bool rb_http_host_allowed(const char *host, const char *const *extra, size_t n_extra);
/* Constant-time comparison: the time depends on the length of `want` only. */
bool rb_http_token_equal(const char *want, size_t want_len, const char *got, size_t got_len);
/* Whether an MCP-Protocol-Version value is one the server speaks. */
bool rb_http_version_supported(const char *v);

#endif
