/* mcp.h: the MCP front end. Three pieces, each usable alone:
 *
 *  - rb_call_*: runs one tool call (tool.h's contract) for any owner: an MCP
 *    session, the `call` subcommand, later the job table. The owner gets the
 *    finished result object through hooks. rb_tools_set_opts sets what every
 *    call of the process reads (the writers' lock wait, --lock-wait-ms).
 *  - rb_mcp_*: one MCP session, transport-agnostic: it is handed complete
 *    messages and sends complete messages. JSON-RPC 2.0 with yyjson; the
 *    lifecycle (initialize, version negotiation, initialized, ping),
 *    tools/list, tools/call (many in flight, answered as each finishes),
 *    progress, cancellation, logging, roots, and JSON-RPC batches for the
 *    sessions whose protocol version has them (2025-03-26).
 *  - rb_stdio_*: the stdio transport: newline-delimited messages on fd 0/1,
 *    through ring reads/writes on the uring backend and non-blocking
 *    read/write behind one-shot polls on the threads backend.
 *
 * Everything runs on the loop thread. Functions return 0 or a negative errno. */
#ifndef RINGBANK_MCP_H
#define RINGBANK_MCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <yyjson.h>

#include "ringbank/fs.h"
#include "ringbank/loop.h"
#include "ringbank/tool.h"

#define RB_MCP_MAX_MESSAGE_DEFAULT (16u << 20) /* incoming line limit */
#define RB_MCP_MAX_REPLY_DEFAULT (8u << 20)    /* outgoing line limit */

/* ---- one tool call, for any owner -------------------------------------------- */

struct rb_call_hooks {
	/* The call finished. result is the tools/call result object ({content,
	 * structuredContent?, isError?}) inside doc; both belong to the call and
	 * are freed right after this returns, together with the call. Runs for
	 * cancelled calls too (the owner decides to drop the result). */
	void (*finish)(struct rb_call *call, yyjson_mut_doc *doc, yyjson_mut_val *result, bool is_error);
	/* Progress, already throttled (at most ~10 per second, values strictly
	 * increasing); optional. total 0 = unknown; message may be NULL. */
	void (*progress)(struct rb_call *call, uint64_t current, uint64_t total, const char *message);
};

/* Creates a call of tool with args (an object, or NULL for {}). args must stay
 * valid until the finish hook has run. want_progress: the owner wants
 * progress hooks. Returns 0 or -ENOMEM. */
int rb_call_new(struct rb_call **out, const struct rb_tool *tool, struct rb_fs *fs, yyjson_val *args,
		bool want_progress, const struct rb_call_hooks *hooks, void *owner);
/* Starts it. The finish hook runs exactly once: from a later completion, or
 * from inside this function when the tool refused its arguments or finished
 * at once (then the call is gone when rb_call_start returns). */
void rb_call_start(struct rb_call *call);
/* Sets the cancelled flag and calls tool->cancel; the finish hook still runs
 * once. Idempotent. */
void rb_call_cancel(struct rb_call *call);
void *rb_call_owner(struct rb_call *call);
/* Hands a running call to another owner (the job table adopting a call
 * that outlived its time budget): later progress and the finish hook go
 * to the new hooks. want_progress as in rb_call_new. (issue 5) */
void rb_call_set_owner(struct rb_call *call, const struct rb_call_hooks *hooks, void *owner, bool want_progress);

/* ---- settings every tool call reads ------------------------------------------ */

/* How long the writers that take a file's lock (write_file, edit_file,
 * memory_bank_update; lock.h) wait for another writer holding it, and how
 * old a lock must be to be taken over as stale. Defaults, and the ranges
 * --lock-wait-ms and --lock-stale-ms accept. */
#define RB_LOCK_WAIT_MS_DEFAULT 5000u
#define RB_LOCK_WAIT_MS_MAX 600000u	/* 10 minutes */
#define RB_LOCK_STALE_MS_DEFAULT 60000u
#define RB_LOCK_STALE_MS_MIN 1000u	/* a holder must finish its write well within it */
#define RB_LOCK_STALE_MS_MAX 86400000u	/* a day */

struct rb_tools_opts {
	unsigned lock_wait_ms;	/* 0..RB_LOCK_WAIT_MS_MAX; 0 = give up at once when the lock is held */
	unsigned lock_stale_ms; /* RB_LOCK_STALE_MS_MIN..RB_LOCK_STALE_MS_MAX */
};
#define RB_TOOLS_OPTS_INIT { .lock_wait_ms = RB_LOCK_WAIT_MS_DEFAULT, .lock_stale_ms = RB_LOCK_STALE_MS_DEFAULT }

/* Sets them for the whole process: every MCP session (stdio and HTTP), the
 * call subcommand and the job table run their calls with these. Called at
 * start-up (tests may call it between calls); an acquisition already started
 * keeps the values it began with. NULL restores the defaults. Returns 0, or
 * -EINVAL when a value is out of range (nothing changed). Loop thread only. */
int rb_tools_set_opts(const struct rb_tools_opts *o);
/* The settings in force (never NULL). */
const struct rb_tools_opts *rb_tools_get_opts(void);

/* ---- one MCP session --------------------------------------------------------- */

struct rb_mcp;
struct rb_jobs;

struct rb_mcp_opts {
	struct rb_fs *fs;
	/* Sends one message: msg is malloc'ed, ends with '\n' (counted in len)
	 * and is the transport's to free. */
	void (*send)(void *ctx, char *msg, size_t len);
	/* After rb_mcp_shutdown: every call has ended (abandoned: some tool did
	 * not finish within the deadline after being cancelled; its memory is
	 * still referenced by ops in flight, so the process should exit without
	 * draining). Runs once, from the loop. */
	void (*idle)(void *ctx, bool abandoned);
	/* A call ended (the transport may resume reading). Optional. */
	void (*wake)(void *ctx);
	/* Optional: the end of a JSON-RPC batch (2025-03-26) that held
	 * requests, for a transport that must match the reply to the exchange
	 * waiting for it (HTTP). line: the batch reply, as for send (malloc'ed,
	 * ends with '\n', the callee's to free); or NULL when every request in
	 * it was cancelled and JSON-RPC answers nothing. first_id: the
	 * canonical JSON (as yyjson writes it) of its first request's id.
	 * Without this hook the line goes through send (and a NULL line is
	 * simply nothing). The reply to a batch without requests (errors for
	 * invalid elements) always goes through send, while rb_mcp_handle runs. */
	void (*batch_reply)(void *ctx, const char *first_id, size_t idlen, char *line, size_t len);
	void *ctx;
	size_t max_reply_bytes;	 /* default 8 MiB; bounds a whole batch reply too */
	unsigned grace_ms;	 /* graceful shutdown: cancel calls after this (default 30000) */
	unsigned abandon_ms;	 /* after cancelling: give up on calls after this (default 5000) */
	unsigned roots_timeout_ms; /* roots/list unanswered: run held calls anyway (default 5000) */
	struct rb_jobs *jobs;	 /* time budgets, async_mode, MCP tasks (jobs.h); NULL = none (issue 5) */
};

int rb_mcp_new(struct rb_mcp **out, const struct rb_mcp_opts *o);
/* Requires the session to be idle (no call in flight) or never started. NULL ok. */
void rb_mcp_free(struct rb_mcp *m);
/* One complete message (a line without its newline; need not be NUL-terminated).
 * A JSON array is a batch: taken apart when the session negotiated
 * 2025-03-26 (or 2024-11-05) and answered with ONE array line once every
 * element is done (no line when no element has a reply), else refused with
 * one -32600 error. */
void rb_mcp_handle(struct rb_mcp *m, const char *msg, size_t len);
/* Whether the session takes JSON-RPC batches (initialized, on 2025-03-26 or older). */
bool rb_mcp_batches(const struct rb_mcp *m);
/* A line of n bytes that the transport dropped for being over max. */
void rb_mcp_oversized(struct rb_mcp *m, size_t n, size_t max);
/* Stops taking requests. cancel_now: cancel in-flight calls at once (signal,
 * broken output); else let them finish for grace_ms first (stdin EOF).
 * Calling it again with cancel_now escalates. */
void rb_mcp_shutdown(struct rb_mcp *m, bool cancel_now);
/* tools/call requests in flight or held (waiting for roots). */
size_t rb_mcp_inflight(const struct rb_mcp *m);

/* ---- helpers shared with the transports (exposed for tests) ---------------- */

/* Newline framing with a size limit. Data is read into rb_lines_space();
 * rb_lines_commit() then reports each complete line (without "\n" or a final
 * "\r"; blank lines skipped) and each line over max, which is never buffered
 * whole: once a partial line passes max its bytes are dropped and only
 * counted up to the next newline. */
struct rb_lines {
	char *buf;
	size_t len, cap, scan, max;
	bool skipping;
	size_t skipped;
	void (*line)(void *ctx, const char *s, size_t n);
	void (*oversized)(void *ctx, size_t n, size_t max);
	void *ctx;
};
void rb_lines_init(struct rb_lines *l, size_t max, void (*line)(void *ctx, const char *s, size_t n),
		   void (*oversized)(void *ctx, size_t n, size_t max), void *ctx);
void rb_lines_deinit(struct rb_lines *l);
/* Room for at least `want` bytes at *p; returns the room or -ENOMEM. */
ssize_t rb_lines_space(struct rb_lines *l, size_t want, char **p);
/* n bytes were written at the space; reports the complete lines. */
void rb_lines_commit(struct rb_lines *l, size_t n);
/* End of input: an unterminated last line is reported as a line. */
void rb_lines_eof(struct rb_lines *l);
/* Feeds a buffer (space + copy + commit); for tests and non-reading sources. */
int rb_lines_feed(struct rb_lines *l, const char *data, size_t n);

/* Decodes a file:// URI (host empty or "localhost", %XX escapes) into an
 * absolute path without a trailing '/'. -EINVAL if it is not one. */
int rb_file_uri_to_path(const char *uri, size_t n, char *out, size_t outlen);

/* ---- the stdio transport ------------------------------------------------------ */

struct rb_stdio;

struct rb_stdio_opts {
	int in_fd, out_fd;	  /* 0 and 1 */
	size_t max_message_bytes; /* default 16 MiB */
	struct rb_mcp_opts mcp;	  /* fs and limits; send/idle/wake/ctx are filled in */
};

/* Creates the transport and its session over rb_fs_io(fs). */
int rb_stdio_new(struct rb_stdio **out, const struct rb_stdio_opts *o);
/* Starts reading. done(ctx, err) runs once from the loop when the session
 * is over and its output flushed (or dropped after 5 s of a client not
 * reading it): err 0; or -ETIMEDOUT when tool calls were abandoned or a
 * cancelled read/write never completed (ops are still in flight: the caller
 * should exit without draining). */
int rb_stdio_start(struct rb_stdio *st, void (*done)(void *ctx, int err), void *ctx);
/* Signal: stop reading, cancel calls, flush, then done. */
void rb_stdio_shutdown(struct rb_stdio *st);
/* After done. Restores the fds' flags. NULL ok. */
void rb_stdio_free(struct rb_stdio *st);

/* ---- signals on the loop (signalfd behind a one-shot poll) -------------------- */

struct rb_sigwatch {
	void (*cb)(struct rb_sigwatch *w, int signo);
	void *data;
	/* private */
	struct rb_loop *loop;
	int fd;
	struct rb_poll poll;
	bool stopping;
};
/* Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (call before any
 * thread starts so workers inherit the mask) and ignores SIGPIPE. */
void rb_sigwatch_block(void);
int rb_sigwatch_start(struct rb_loop *loop, struct rb_sigwatch *w, void (*cb)(struct rb_sigwatch *w, int signo));
/* Stops watching and closes the fd once the poll has let go. */
void rb_sigwatch_stop(struct rb_sigwatch *w);

#endif
