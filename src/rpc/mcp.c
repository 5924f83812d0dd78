/* mcp.c: one MCP session over any message transport.
 *
 * The transport hands in complete messages and takes complete messages
 * (one JSON text + '\n' each). Requests are handled at once except
 * tools/call, which becomes an rb_call that finishes later: many run
 * together and each reply goes out when its call finishes, in any order.
 *
 * Lifecycle (spec 2025-11-25 "Lifecycle"): only initialize and ping are
 * served before initialize has been answered; anything else gets -32600
 * with a sentence (the spec names no code for this; -32600 "Invalid
 * Request" is the JSON-RPC code for a request that is not valid now). The
 * roots/list request waits for notifications/initialized, as the spec asks.
 *
 * Roots: when the client declares the roots capability we ask roots/list
 * and narrow the sandbox to the file:// roots that lie within the
 * command-line roots. tools/call requests that arrive while that question
 * is open are held (at most roots_timeout_ms) so no tool runs with wider
 * access than the client granted. If none of the client's roots lies within
 * ours, or it lists none, we keep the current allowed directories and log a
 * warning: that is what the official filesystem server does, and the
 * command-line roots are already the operator's upper bound.
 *
 * Shutdown: no new requests; in-flight calls finish (or are cancelled at
 * once on a signal, or after grace_ms on EOF; their results are dropped);
 * if some tool still has not finished abandon_ms after cancellation the
 * session reports itself abandoned so the process exits instead of hanging.
 *
 * Batches (JSON arrays): MCP 2025-03-26 allowed them (basic "Batching",
 * transports: stdio and POST bodies may be a batch of requests and
 * notifications, or of responses); 2025-06-18 removed them. A session that
 * negotiated 2025-03-26 (or 2024-11-05, which only said "JSON-RPC 2.0", and
 * JSON-RPC 2.0 section 6 defines batches) takes them apart: every element is
 * dispatched as if it had come alone (tool calls run concurrently, like
 * pipelined ones, and keep their progress and cancellation), and its
 * response goes into the batch's slot for it instead of out. When every
 * slot is settled the responses leave as ONE array line, in element order;
 * notifications, client responses and cancelled requests have no entry, and
 * a batch without entries is not answered at all. An empty array is one
 * -32600 error; an invalid element, an error entry of its own; initialize
 * in a batch is refused (2025-03-26 Lifecycle: it "MUST NOT be part of a
 * JSON-RPC batch"). Newer sessions, and any session before initialize, get
 * one -32600 error naming the version batches need.
 *
 * The reply cap holds for the whole array: a batch is refused up front
 * when even an error entry per element could not fit; afterwards every
 * entry is kept only while the entries kept so far, this one and the
 * smallest possible entry of every slot still open fit under the cap, and
 * is otherwise replaced by an error entry that says why. So the line never
 * passes the cap and no batch holds much more than the cap in memory.
 *
 * The tool schemas are parsed once per process and shared by every
 * session (immutable yyjson documents are safe to share; there are two sets:
 * with and without the job fields). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringbank/error.h"
#include "ringbank/jobs.h"
#include "rpc.h"

/* Latest first. */
static const char *const versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05" };
/* structuredContent and outputSchema exist from this version on. */
#define STRUCTURED_SINCE "2025-06-18"
/* JSON-RPC batches were removed in this version (2025-06-18 changelog). */
#define BATCHES_UNTIL "2025-06-18"

/* MCP log levels (RFC 5424 names), in increasing severity. */
static const char *const levels[] = { "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency" };
#define LEVEL_DEFAULT 3 /* warning, until the client sets one */

static const char instructions[] =
	"ringbank serves memory-bank directories (folders of markdown notes agents use as memory). "
	"Call list_allowed_directories first: every path must lie within one of them, given absolute "
	"or relative to the first one. The file tools keep the names and parameters of the official "
	"filesystem server; writes are atomic. For large files read with head/tail, and narrow bulk "
	"requests (search, tree, read_multiple_files) that report results over the size limit. Bulk "
	"tools report progress when the request carries a progressToken and can be cancelled. A call still "
	"running at its time budget (20 s by default) continues as a background job and answers with a "
	"job_id: poll job_status, stop it with cancel_job; async_mode: true on a bulk tool starts one at once.";

/* A batch in flight: one slot per element. */
enum slot_state {
	SLOT_OPEN,	/* being dispatched */
	SLOT_CALL,	/* a tools/call (mcp_req) that has not answered yet */
	SLOT_CALL_DONE, /* answered, its mcp_req not yet freed (it still points at the batch) */
	SLOT_DONE,	/* has its entry */
	SLOT_NONE,	/* no entry: a notification, a response, a cancelled request */
};

struct mcp_batch {
	struct rb_list node; /* in m->batch_list */
	struct rb_mcp *m;
	size_t n, open;	     /* elements; slots not yet DONE or NONE */
	bool dispatched;     /* every element has been handed out */
	size_t used;	     /* bytes of the reply line taken by DONE entries, with brackets and newline */
	size_t reserve;	     /* the smallest entries of the slots still open (each an overflow error) */
	size_t replaced;
	size_t first_req;    /* index of the first request (its id names the batch to the transport); n: none */
	struct rb_jr_entry *e;
	struct slot {
		unsigned char state;
		char *id; /* canonical JSON of the element's id, NULL = none */
		size_t idlen;
		size_t cost; /* reserved: its overflow error entry (0: never answered) */
	} *slots;
};

/* Where a response goes: to the transport, or into a batch slot. */
struct reply_to {
	struct mcp_batch *b; /* NULL: straight out */
	size_t slot;
};

struct mcp_req {
	struct rb_list node;
	struct rb_mcp *m;
	struct reply_to to;
	yyjson_doc *doc; /* the request: id, arguments and token point into it */
	yyjson_val *id, *token, *args;
	const struct rb_tool *tool;
	struct rb_call *call; /* NULL while held */
	bool cancelled;
	bool task;		  /* params.task: run as an MCP task (issue 5) */
	struct rb_timer budget;	  /* the time budget: the call becomes a job (issue 5) */
};

struct rb_mcp {
	struct rb_mcp_opts o;
	struct rb_loop *loop;
	bool initialized;	/* initialize answered */
	bool batches;		/* negotiated version takes JSON-RPC batches (2025-03-26 and older) */
	const char *version;	/* negotiated version (a static string), NULL before initialize */
	bool ready;		/* notifications/initialized received */
	bool structured;	/* negotiated version has structuredContent */
	bool client_roots;
	int log_level;
	struct rb_list running, held;
	size_t ncalls;
	yyjson_doc *const *schemas; /* per tool: input, output (the process's shared set) */
	size_t ntools;
	int64_t next_id, roots_id;
	bool roots_pending, roots_again;
	struct rb_timer roots_timer, grace_timer, abandon_timer;
	bool shutting_down, cancelled_all, idle_sent, abandoned;
	struct rb_defer idle_defer;
	bool in_sink;
	pthread_t loop_thread;
	struct rb_jobs_session *js; /* with o.jobs (issue 5) */
	struct reply_to cur;	    /* where responses to the message being handled go */
	struct rb_list batch_list;  /* mcp_batch.node */
	size_t overflow_len;	    /* an overflow error entry with id null, plus one (its comma); 0 = not yet known */
	bool freeing;
	bool tasks;		    /* 2025-11-25 session with a job table: MCP tasks */
};

static const struct rb_call_hooks call_hooks;

/* ---- sending ----------------------------------------------------------------------- */

static void batch_put(struct mcp_batch *b, size_t slot, char *line, size_t len);

/* A response (or error) line for the request whose reply goes to `to`. */
static void respond(struct rb_mcp *m, const struct reply_to *to, char *line, size_t len)
{
	if (to && to->b)
		batch_put(to->b, to->slot, line, len);
	else
		m->o.send(m->o.ctx, line, len);
}

/* A notification or a request of ours: always straight out (also in a
 * batch: only responses are collected). */
static void send_doc(struct rb_mcp *m, yyjson_mut_doc *d)
{
	size_t len;
	char *s = rb_jr_write(d, &len);

	if (s)
		m->o.send(m->o.ctx, s, len);
	else
		rb_log(RB_LOG_ERROR, "could not serialise a message (out of memory?)");
}

static void send_error(struct rb_mcp *m, const struct reply_to *to, yyjson_val *id, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void send_error(struct rb_mcp *m, const struct reply_to *to, yyjson_val *id, int code, const char *fmt, ...)
{
	char msg[512];
	size_t len;
	char *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s = rb_jr_error_line(id, code, msg, &len);
	if (s)
		respond(m, to, s, len);
}

/* Sends {"jsonrpc","id","result": result} with result built in d. */
static void send_result(struct rb_mcp *m, const struct reply_to *to, yyjson_mut_doc *d, yyjson_val *id,
			yyjson_mut_val *result)
{
	yyjson_mut_val *root = rb_jr_response(d, id);
	size_t len;
	char *s;

	yyjson_mut_obj_add_val(d, root, "result", result);
	s = rb_jr_write(d, &len);
	if (s)
		respond(m, to, s, len);
	else
		rb_log(RB_LOG_ERROR, "could not serialise a response (out of memory?)");
}

static void reply_limit_text(size_t max, char *lim, size_t n)
{
	if (max % (1u << 20))
		snprintf(lim, n, "%zu-byte", max);
	else
		snprintf(lim, n, "%zu MiB", max >> 20);
}

/* ---- logging sink: notifications/message ---------------------------------------- */

static void log_sink(void *ctx, enum rb_log_level lvl, const char *msg)
{
	struct rb_mcp *m = ctx;
	yyjson_mut_doc *d;
	yyjson_mut_val *p;

	/* in_sink: a log line written while sending must not recurse. A line
	 * logged on another thread (an io worker) only goes to stderr: the
	 * session is the loop thread's. */
	if (m->in_sink || !m->initialized || (int)lvl < m->log_level || !pthread_equal(pthread_self(), m->loop_thread))
		return;
	d = yyjson_mut_doc_new(NULL);
	if (!d)
		return;
	m->in_sink = true;
	p = rb_jr_notification(d, "notifications/message");
	yyjson_mut_obj_add_str(d, p, "level", levels[lvl]);
	yyjson_mut_obj_add_str(d, p, "logger", "ringbank");
	yyjson_mut_obj_add_strcpy(d, p, "data", msg);
	send_doc(m, d);
	yyjson_mut_doc_free(d);
	m->in_sink = false;
}

/* ---- idle / shutdown ---------------------------------------------------------------- */

static void idle_now(struct rb_defer *df)
{
	struct rb_mcp *m = df->data;
	m->o.idle(m->o.ctx, m->abandoned);
}

static void maybe_idle(struct rb_mcp *m)
{
	if (!m->shutting_down || m->idle_sent || m->ncalls)
		return;
	m->idle_sent = true;
	rb_timer_stop(m->loop, &m->grace_timer);
	rb_timer_stop(m->loop, &m->abandon_timer);
	rb_timer_stop(m->loop, &m->roots_timer);
	/* Deferred: the transport may free things it is iterating over. */
	rb_defer(m->loop, &m->idle_defer, idle_now);
}

static void abandon_timer(struct rb_timer *t)
{
	struct rb_mcp *m = t->data;

	if (m->idle_sent)
		return;
	rb_log(RB_LOG_ERROR, "shutdown: %zu tool call(s) did not finish %u ms after cancellation; giving up on them",
	       m->ncalls, m->o.abandon_ms);
	m->abandoned = true;
	m->idle_sent = true;
	rb_defer(m->loop, &m->idle_defer, idle_now);
}

static void batch_settle_slot(struct mcp_batch *b, size_t slot);

static void req_free(struct mcp_req *q)
{
	struct reply_to to = q->to;

	if (rb_timer_active(&q->budget))
		rb_timer_stop(q->m->loop, &q->budget);
	rb_list_del(&q->node);
	q->m->ncalls--;
	yyjson_doc_free(q->doc);
	free(q);
	/* A request of a batch that ends without a reply (cancelled): its
	 * slot has no entry. Last, as it may complete the batch. */
	if (to.b)
		batch_settle_slot(to.b, to.slot);
}

static void cancel_all(struct rb_mcp *m)
{
	struct rb_list *pos, *tmp;

	if (m->cancelled_all)
		return;
	m->cancelled_all = true;
	rb_timer_stop(m->loop, &m->grace_timer);
	rb_list_for_each_safe(pos, tmp, &m->held)
		req_free(rb_container_of(pos, struct mcp_req, node));
	if (m->ncalls) {
		rb_log(RB_LOG_INFO, "shutdown: cancelling %zu tool call(s)", m->ncalls);
		rb_timer_start(m->loop, &m->abandon_timer, m->o.abandon_ms, abandon_timer);
	}
	/* A tool's cancel may finish its call at once, unlinking only that node. */
	rb_list_for_each_safe(pos, tmp, &m->running) {
		struct mcp_req *q = rb_container_of(pos, struct mcp_req, node);
		q->cancelled = true;
		rb_call_cancel(q->call);
	}
}

static void grace_timer(struct rb_timer *t)
{
	struct rb_mcp *m = t->data;
	rb_log(RB_LOG_WARNING, "shutdown: %zu tool call(s) still running after %u ms", m->ncalls, m->o.grace_ms);
	cancel_all(m);
}

void rb_mcp_shutdown(struct rb_mcp *m, bool cancel_now)
{
	if (!m->shutting_down) {
		m->shutting_down = true;
		if (!cancel_now && m->ncalls)
			rb_timer_start(m->loop, &m->grace_timer, m->o.grace_ms, grace_timer);
	}
	if (cancel_now)
		cancel_all(m);
	maybe_idle(m);
}

size_t rb_mcp_inflight(const struct rb_mcp *m) { return m->ncalls; }

bool rb_mcp_batches(const struct rb_mcp *m) { return m->initialized && m->batches; }

/* ---- tool calls ---------------------------------------------------------------------- */

/* Before 2025-06-18 a result has no structuredContent: fold it into a text
 * block when the tool gave no content. */
static void legacy_shape(yyjson_mut_doc *d, yyjson_mut_val *result)
{
	yyjson_mut_val *sc = yyjson_mut_obj_remove_key(result, "structuredContent");
	yyjson_mut_val *content = yyjson_mut_obj_get(result, "content");
	size_t len;
	char *text;

	if (!sc || yyjson_mut_arr_size(content))
		return;
	text = yyjson_mut_val_write(sc, YYJSON_WRITE_NOFLAG, &len);
	if (text) {
		yyjson_mut_val *b = yyjson_mut_obj(d);
		yyjson_mut_obj_add_str(d, b, "type", "text");
		yyjson_mut_obj_add_strncpy(d, b, "text", text, len);
		yyjson_mut_arr_append(content, b);
		free(text);
	}
}

static void reply_call(struct rb_mcp *m, struct mcp_req *q, yyjson_mut_doc *d, yyjson_mut_val *result)
{
	yyjson_mut_val *root;
	yyjson_mut_doc *ed;
	size_t len = 0;
	bool encoded;
	char *s;

	if (!m->structured)
		legacy_shape(d, result);
	root = rb_jr_response(d, q->id);
	yyjson_mut_obj_add_val(d, root, "result", result);
	s = rb_jr_write(d, &len);
	if (s && len <= m->o.max_reply_bytes) {
		respond(m, &q->to, s, len);
		return;
	}
	encoded = s != NULL;
	free(s);
	/* Too big for one line (or not encodable): an isError result the model
	 * can act on, instead of a reply the client would choke on. */
	ed = yyjson_mut_doc_new(NULL);
	if (!ed)
		return;
	{
		yyjson_mut_val *r = yyjson_mut_obj(ed), *arr = yyjson_mut_arr(ed), *b = yyjson_mut_obj(ed);
		char text[512], lim[32];
		reply_limit_text(m->o.max_reply_bytes, lim, sizeof(lim));
		if (encoded)
			snprintf(text, sizeof(text),
				 "%s: the result was %zu bytes, over the %s reply limit; page with head/tail/offset "
				 "or narrow the request (fewer files, a deeper path, excludePatterns)",
				 q->tool->name, len, lim);
		else
			snprintf(text, sizeof(text), "%s: the result could not be encoded as JSON "
				 "(invalid UTF-8 in a string, or out of memory)", q->tool->name);
		yyjson_mut_obj_add_str(ed, b, "type", "text");
		yyjson_mut_obj_add_strcpy(ed, b, "text", text);
		yyjson_mut_arr_append(arr, b);
		yyjson_mut_obj_add_val(ed, r, "content", arr);
		yyjson_mut_obj_add_bool(ed, r, "isError", true);
		send_result(m, &q->to, ed, q->id, r);
	}
	yyjson_mut_doc_free(ed);
}

static void call_finished(struct rb_call *call, yyjson_mut_doc *d, yyjson_mut_val *result, bool is_error)
{
	struct mcp_req *q = rb_call_owner(call);
	struct rb_mcp *m = q->m;

	/* A cancelled request gets no response (spec: "Cancellation"). */
	if (!q->cancelled)
		reply_call(m, q, d, result);
	req_free(q);
	if (m->o.wake)
		m->o.wake(m->o.ctx);
	maybe_idle(m);
}

static void call_progress(struct rb_call *call, uint64_t cur, uint64_t total, const char *msg)
{
	struct mcp_req *q = rb_call_owner(call);
	yyjson_mut_doc *d = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *p;

	if (!d)
		return;
	p = rb_jr_notification(d, "notifications/progress");
	yyjson_mut_obj_add_val(d, p, "progressToken", yyjson_val_mut_copy(d, q->token));
	yyjson_mut_obj_add_uint(d, p, "progress", cur);
	if (total)
		yyjson_mut_obj_add_uint(d, p, "total", total);
	if (msg)
		yyjson_mut_obj_add_strcpy(d, p, "message", msg);
	send_doc(q->m, d);
	yyjson_mut_doc_free(d);
}

static const struct rb_call_hooks call_hooks = { .finish = call_finished, .progress = call_progress };

/* ---- jobs (issue 5): time budgets, async_mode, tasks ----------------------------------- */

static void req_done(struct rb_mcp *m, struct mcp_req *q)
{
	req_free(q);
	if (m->o.wake)
		m->o.wake(m->o.ctx);
	maybe_idle(m);
}

/* The budget ran out with the call still running: the job table adopts it
 * (the call goes on untouched) and the client gets the job handle now. */
static void budget_fired(struct rb_timer *t)
{
	struct mcp_req *q = t->data;
	struct rb_mcp *m = q->m;
	struct rb_job_start js = { .origin = RB_JOB_ORIGIN_BUDGET };
	struct rb_job *job;
	yyjson_mut_doc *d;
	const char *why;
	int r;

	if (q->cancelled || !q->call || m->shutting_down)
		return;
	rb_jobs_call_mode(q->tool, q->args, &js.label, &why);
	r = rb_jobs_adopt(m->o.jobs, q->call, q->doc, q->args, &js, &job);
	if (r < 0) {
		rb_log(RB_LOG_WARNING, "%s: past its time budget but cannot become a job (%s); it goes on in the "
		       "foreground", q->tool->name, rb_strerror(r));
		return;
	}
	/* q->id points into q->doc, now the job's: it is freed only when the
	 * call ends, on a later turn. */
	d = yyjson_mut_doc_new(NULL);
	if (d)
		reply_call(m, q, d, rb_job_handle_result(job, d, rb_jobs_budget_ms(m->o.jobs, q->tool)));
	yyjson_mut_doc_free(d);
	q->doc = NULL;
	q->call = NULL;
	req_done(m, q);
}

/* A task, or async_mode on a bulk tool: the call starts as a job and the
 * request is answered at once. Returns false for a foreground call. */
static bool start_job(struct rb_mcp *m, struct mcp_req *q)
{
	struct rb_job_start js = { 0 };
	struct rb_job *job;
	yyjson_mut_doc *d;
	yyjson_mut_val *res;
	const char *why;
	int mode, r;

	if (!m->o.jobs)
		return false;
	mode = rb_jobs_call_mode(q->tool, q->args, &js.label, &why);
	if (mode < 0) {
		d = yyjson_mut_doc_new(NULL);
		if (d) {
			yyjson_mut_val *rv = yyjson_mut_obj(d), *arr = yyjson_mut_arr(d), *b = yyjson_mut_obj(d);
			yyjson_mut_obj_add_str(d, b, "type", "text");
			yyjson_mut_obj_add_str(d, b, "text", why);
			yyjson_mut_arr_append(arr, b);
			yyjson_mut_obj_add_val(d, rv, "content", arr);
			yyjson_mut_obj_add_bool(d, rv, "isError", true);
			reply_call(m, q, d, rv);
		}
		yyjson_mut_doc_free(d);
		req_done(m, q);
		return true;
	}
	if (!mode && !q->task)
		return false;
	js.origin = q->task ? RB_JOB_ORIGIN_TASK : RB_JOB_ORIGIN_ASYNC;
	js.session = q->task ? m->js : NULL;
	js.progress_token = q->task ? q->token : NULL;
	r = rb_jobs_submit(m->o.jobs, q->tool, q->doc, q->args, &js, &job);
	if (r < 0) {
		send_error(m, &q->to, q->id, RB_JR_INTERNAL_ERROR, "Internal error: cannot start a job: %s", rb_strerror(r));
		req_done(m, q);
		return true;
	}
	/* The job owns q->doc now; it starts on a later turn, so q->id stays valid here. */
	d = yyjson_mut_doc_new(NULL);
	res = !d ? NULL : q->task ? rb_job_task_result(job, d) : rb_job_handle_result(job, d, 0);
	if (res && q->task)
		send_result(m, &q->to, d, q->id, res); /* a CreateTaskResult, not a tool result */
	else if (res)
		reply_call(m, q, d, res);
	else
		send_error(m, &q->to, q->id, RB_JR_INTERNAL_ERROR, "Internal error: out of memory");
	yyjson_mut_doc_free(d);
	q->doc = NULL;
	req_done(m, q);
	return true;
}

static void start_call(struct rb_mcp *m, struct mcp_req *q)
{
	int r;

	rb_list_del(&q->node);
	rb_list_add_tail(&m->running, &q->node);
	if (start_job(m, q))
		return;
	r = rb_call_new(&q->call, q->tool, m->o.fs, q->args, q->token != NULL, &call_hooks, q);
	if (r < 0) {
		send_error(m, &q->to, q->id, RB_JR_INTERNAL_ERROR, "Internal error: %s", strerror(-r));
		req_free(q);
		return;
	}
	if (m->o.jobs) {
		uint64_t ms = rb_jobs_budget_ms(m->o.jobs, q->tool);
		q->budget.data = q;
		if (ms)
			rb_timer_start(m->loop, &q->budget, ms, budget_fired);
	}
	rb_call_start(q->call); /* may finish inside: req_free stops the budget */
}

static void release_held(struct rb_mcp *m)
{
	struct rb_list *pos, *tmp;
	rb_list_for_each_safe(pos, tmp, &m->held)
		start_call(m, rb_container_of(pos, struct mcp_req, node));
}

/* Takes doc on success (returns true). */
static bool tools_call(struct rb_mcp *m, yyjson_doc *doc, const struct rb_jr_msg *jm)
{
	yyjson_val *name = yyjson_obj_get(jm->params, "name"), *args = yyjson_obj_get(jm->params, "arguments");
	yyjson_val *meta = yyjson_obj_get(jm->params, "_meta"), *token = yyjson_obj_get(meta, "progressToken");
	yyjson_val *task = yyjson_obj_get(jm->params, "task");
	const struct rb_tool *tool;
	struct mcp_req *q;

	if (!jm->params || !yyjson_is_str(name)) {
		send_error(m, &m->cur, jm->id, RB_JR_INVALID_PARAMS, "Invalid params: params.name: expected a string");
		return false;
	}
	tool = rb_tool_find(yyjson_get_str(name));
	if (!tool) {
		/* What the SDK's McpServer and the spec's example answer. */
		send_error(m, &m->cur, jm->id, RB_JR_INVALID_PARAMS, "Unknown tool: %s", yyjson_get_str(name));
		return false;
	}
	if (args && !yyjson_is_null(args) && !yyjson_is_obj(args)) {
		send_error(m, &m->cur, jm->id, RB_JR_INVALID_PARAMS, "Invalid params: params.arguments: expected an object");
		return false;
	}
	if (token && !yyjson_is_str(token) && !yyjson_is_int(token)) {
		send_error(m, &m->cur, jm->id, RB_JR_INVALID_PARAMS,
			   "Invalid params: params._meta.progressToken: expected a string or an integer");
		return false;
	}
	/* Tasks (2025-11-25): a session without them ignores params.task, as the spec asks. */
	if (m->tasks && task && !yyjson_is_null(task)) {
		if (!yyjson_is_obj(task)) {
			send_error(m, &m->cur, jm->id, RB_JR_INVALID_PARAMS, "Invalid params: params.task: expected an object");
			return false;
		}
		if (rb_jobs_is_job_tool(tool)) {
			send_error(m, &m->cur, jm->id, RB_JR_METHOD_NOT_FOUND, "Method not found: %s does not support "
				   "task-augmented execution (its execution.taskSupport is forbidden)", tool->name);
			return false;
		}
	} else {
		task = NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		send_error(m, &m->cur, jm->id, RB_JR_INTERNAL_ERROR, "Internal error: out of memory");
		return false;
	}
	q->m = m;
	q->to = m->cur;
	if (q->to.b)
		q->to.b->slots[q->to.slot].state = SLOT_CALL;
	q->doc = doc;
	q->id = jm->id;
	q->token = token;
	q->args = yyjson_is_obj(args) ? args : NULL;
	q->tool = tool;
	q->task = task != NULL;
	m->ncalls++;
	rb_list_add_tail(&m->held, &q->node);
	if (!m->roots_pending)
		start_call(m, q);
	return true;
}

static void tools_list(struct rb_mcp *m, yyjson_val *id)
{
	yyjson_mut_doc *d = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *res, *arr;
	const struct rb_tool *const *t;
	size_t i = 0;

	if (!d)
		return;
	res = yyjson_mut_obj(d);
	arr = yyjson_mut_arr(d);
	for (t = rb_tools_all(); *t; t++, i++) {
		yyjson_mut_val *o = yyjson_mut_obj(d), *ann = yyjson_mut_obj(d);
		yyjson_mut_obj_add_str(d, o, "name", (*t)->name);
		if ((*t)->title)
			yyjson_mut_obj_add_str(d, o, "title", (*t)->title);
		yyjson_mut_obj_add_str(d, o, "description", (*t)->description ? (*t)->description : "");
		yyjson_mut_obj_add_val(d, o, "inputSchema", yyjson_val_mut_copy(d, yyjson_doc_get_root(m->schemas[2 * i])));
		if (m->schemas[2 * i + 1] && m->structured)
			yyjson_mut_obj_add_val(d, o, "outputSchema",
					       yyjson_val_mut_copy(d, yyjson_doc_get_root(m->schemas[2 * i + 1])));
		if ((*t)->title)
			yyjson_mut_obj_add_str(d, ann, "title", (*t)->title);
		yyjson_mut_obj_add_bool(d, ann, "readOnlyHint", (*t)->read_only);
		yyjson_mut_obj_add_bool(d, ann, "destructiveHint", (*t)->destructive);
		yyjson_mut_obj_add_bool(d, ann, "idempotentHint", (*t)->idempotent);
		yyjson_mut_obj_add_bool(d, ann, "openWorldHint", (*t)->open_world);
		yyjson_mut_obj_add_val(d, o, "annotations", ann);
		if (m->tasks && !rb_jobs_is_job_tool(*t)) {
			yyjson_mut_val *ex = yyjson_mut_obj(d);
			yyjson_mut_obj_add_str(d, ex, "taskSupport", "optional");
			yyjson_mut_obj_add_val(d, o, "execution", ex);
		}
		yyjson_mut_arr_append(arr, o);
	}
	yyjson_mut_obj_add_val(d, res, "tools", arr);
	send_result(m, &m->cur, d, id, res);
	yyjson_mut_doc_free(d);
}

/* ---- roots --------------------------------------------------------------------------- */

static void roots_timer(struct rb_timer *t)
{
	struct rb_mcp *m = t->data;

	rb_log(RB_LOG_WARNING, "roots/list: no answer from the client in %u ms; running held calls with "
	       "the current allowed directories", m->o.roots_timeout_ms);
	m->roots_pending = false;
	release_held(m);
}

static void request_roots(struct rb_mcp *m)
{
	yyjson_mut_doc *d;
	yyjson_mut_val *root;

	if (m->roots_pending) {
		m->roots_again = true; /* ask again once this answer is in */
		return;
	}
	d = yyjson_mut_doc_new(NULL);
	if (!d)
		return;
	m->roots_id = ++m->next_id;
	root = yyjson_mut_obj(d);
	yyjson_mut_obj_add_str(d, root, "jsonrpc", "2.0");
	yyjson_mut_obj_add_int(d, root, "id", m->roots_id);
	yyjson_mut_obj_add_str(d, root, "method", "roots/list");
	yyjson_mut_doc_set_root(d, root);
	send_doc(m, d);
	yyjson_mut_doc_free(d);
	m->roots_pending = true;
	rb_timer_start(m->loop, &m->roots_timer, m->o.roots_timeout_ms, roots_timer);
}

static void apply_roots(struct rb_mcp *m, yyjson_val *result)
{
	yyjson_val *roots = yyjson_obj_get(result, "roots"), *r;
	size_t n = 0, i, max, cap = yyjson_arr_size(roots);
	char **paths = calloc(cap ? cap : 1, sizeof(char *));
	char buf[PATH_MAX], list[1024] = "";
	int res;

	if (!paths)
		return;
	yyjson_arr_foreach(roots, i, max, r) {
		yyjson_val *uri = yyjson_obj_get(r, "uri");
		if (!yyjson_is_str(uri) ||
		    rb_file_uri_to_path(yyjson_get_str(uri), yyjson_get_len(uri), buf, sizeof(buf)) < 0) {
			rb_log(RB_LOG_WARNING, "roots/list: ignoring root %s: not a file:// URI",
			       yyjson_is_str(uri) ? yyjson_get_str(uri) : "(no uri)");
			continue;
		}
		paths[n++] = strdup(buf);
		if (!paths[n - 1])
			n--;
	}
	res = n ? rb_fs_set_allowed(m->o.fs, (const char *const *)paths, n) : -RB_E_OUTSIDE;
	if (res < 0) {
		/* No roots at all is ordinary (the Inspector declares roots and
		 * lists none); roots that all miss ours deserve a warning. */
		rb_log(n ? RB_LOG_WARNING : RB_LOG_INFO, "roots/list: %s; keeping the %zu current allowed directories",
		       n ? "none of the client's roots lies within the served directories"
			 : "the client listed no file:// roots",
		       rb_fs_allowed_count(m->o.fs) ? rb_fs_allowed_count(m->o.fs) : rb_fs_root_count(m->o.fs));
	} else {
		for (i = 0; i < rb_fs_allowed_count(m->o.fs); i++) {
			size_t l = strlen(list);
			snprintf(list + l, sizeof(list) - l, "%s%s", i ? ", " : "", rb_fs_allowed_path(m->o.fs, i));
		}
		rb_log(RB_LOG_INFO, "roots/list: allowed directories narrowed to the client's roots: %s", list);
	}
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static void handle_response(struct rb_mcp *m, const struct rb_jr_msg *jm)
{
	if (!m->roots_pending || !yyjson_is_int(jm->id) || yyjson_get_sint(jm->id) != m->roots_id) {
		if (jm->error)
			rb_log(RB_LOG_WARNING, "the client answered with an error: %s",
			       yyjson_get_str(yyjson_obj_get(jm->error, "message")) ?: "(no message)");
		return;
	}
	rb_timer_stop(m->loop, &m->roots_timer);
	m->roots_pending = false;
	if (jm->error)
		rb_log(RB_LOG_WARNING, "roots/list failed: %s",
		       yyjson_get_str(yyjson_obj_get(jm->error, "message")) ?: "(no message)");
	else
		apply_roots(m, jm->result);
	if (m->roots_again) {
		m->roots_again = false;
		request_roots(m);
		return; /* held calls wait for the fresh answer */
	}
	release_held(m);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static void initialize(struct rb_mcp *m, const struct rb_jr_msg *jm)
{
	yyjson_val *pv = yyjson_obj_get(jm->params, "protocolVersion");
	yyjson_val *caps = yyjson_obj_get(jm->params, "capabilities");
	const char *version = versions[0];
	yyjson_mut_doc *d;
	yyjson_mut_val *res, *c, *info;
	size_t i;

	if (m->initialized) {
		send_error(m, &m->cur, jm->id, RB_JR_INVALID_REQUEST, "Invalid Request: the session is already initialized");
		return;
	}
	if (!yyjson_is_str(pv)) {
		send_error(m, &m->cur, jm->id, RB_JR_INVALID_PARAMS, "Invalid params: params.protocolVersion: expected a string");
		return;
	}
	if (caps && !yyjson_is_obj(caps)) {
		send_error(m, &m->cur, jm->id, RB_JR_INVALID_PARAMS, "Invalid params: params.capabilities: expected an object");
		return;
	}
	/* The client's version if we speak it, else our latest (the client
	 * then decides whether it can go on). */
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (!strcmp(yyjson_get_str(pv), versions[i]))
			version = versions[i];
	m->structured = strcmp(version, STRUCTURED_SINCE) >= 0;
	m->version = version;
	m->batches = strcmp(version, BATCHES_UNTIL) < 0;
	m->tasks = m->js && strcmp(version, "2025-11-25") >= 0;
	m->client_roots = yyjson_is_obj(yyjson_obj_get(caps, "roots"));
	d = yyjson_mut_doc_new(NULL);
	if (!d)
		return;
	res = yyjson_mut_obj(d);
	yyjson_mut_obj_add_str(d, res, "protocolVersion", version);
	c = yyjson_mut_obj(d);
	{
		yyjson_mut_val *tools = yyjson_mut_obj(d);
		yyjson_mut_obj_add_bool(d, tools, "listChanged", false);
		yyjson_mut_obj_add_val(d, c, "tools", tools);
		yyjson_mut_obj_add_val(d, c, "logging", yyjson_mut_obj(d));
		if (m->tasks) {
			/* Exactly what is implemented: tasks/list, tasks/cancel, task-augmented tools/call. */
			yyjson_mut_val *tk = yyjson_mut_obj(d), *rq = yyjson_mut_obj(d), *tt = yyjson_mut_obj(d);
			yyjson_mut_obj_add_val(d, tk, "list", yyjson_mut_obj(d));
			yyjson_mut_obj_add_val(d, tk, "cancel", yyjson_mut_obj(d));
			yyjson_mut_obj_add_val(d, tt, "call", yyjson_mut_obj(d));
			yyjson_mut_obj_add_val(d, rq, "tools", tt);
			yyjson_mut_obj_add_val(d, tk, "requests", rq);
			yyjson_mut_obj_add_val(d, c, "tasks", tk);
		}
	}
	yyjson_mut_obj_add_val(d, res, "capabilities", c);
	info = yyjson_mut_obj(d);
	yyjson_mut_obj_add_str(d, info, "name", "ringbank");
	yyjson_mut_obj_add_str(d, info, "title", "ringbank memory bank");
	yyjson_mut_obj_add_str(d, info, "version", RB_VERSION);
	yyjson_mut_obj_add_val(d, res, "serverInfo", info);
	yyjson_mut_obj_add_str(d, res, "instructions", instructions);
	send_result(m, &m->cur, d, jm->id, res);
	yyjson_mut_doc_free(d);
	m->initialized = true;
	rb_log(RB_LOG_INFO, "session initialized: protocol %s, client %s%s", version,
	       yyjson_get_str(yyjson_obj_get(yyjson_obj_get(jm->params, "clientInfo"), "name")) ?: "(unnamed)",
	       m->client_roots ? ", with roots" : "");
}

static void set_level(struct rb_mcp *m, const struct rb_jr_msg *jm)
{
	yyjson_val *lv = yyjson_obj_get(jm->params, "level");
	yyjson_mut_doc *d;
	size_t i;

	for (i = 0; yyjson_is_str(lv) && i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcmp(levels[i], yyjson_get_str(lv)))
			break;
	if (!yyjson_is_str(lv) || i == sizeof(levels) / sizeof(levels[0])) {
		send_error(m, &m->cur, jm->id, RB_JR_INVALID_PARAMS,
			   "Invalid params: params.level: expected one of debug, info, notice, warning, error, "
			   "critical, alert, emergency");
		return;
	}
	m->log_level = (int)i;
	d = yyjson_mut_doc_new(NULL);
	if (!d)
		return;
	send_result(m, &m->cur, d, jm->id, yyjson_mut_obj(d));
	yyjson_mut_doc_free(d);
}

static void handle_notification(struct rb_mcp *m, const struct rb_jr_msg *jm)
{
	if (!strcmp(jm->method, "notifications/initialized")) {
		if (!m->initialized || m->ready)
			return;
		m->ready = true;
		if (m->client_roots)
			request_roots(m);
	} else if (!strcmp(jm->method, "notifications/cancelled")) {
		yyjson_val *rid = yyjson_obj_get(jm->params, "requestId");
		struct rb_list *lists[2] = { &m->held, &m->running }, *pos, *tmp;
		int k;
		if (!rid)
			return;
		for (k = 0; k < 2; k++)
			rb_list_for_each_safe(pos, tmp, lists[k]) {
				struct mcp_req *q = rb_container_of(pos, struct mcp_req, node);
				if (q->cancelled || !yyjson_equals(q->id, rid))
					continue;
				if (!q->call) {
					req_free(q);
					maybe_idle(m);
				} else {
					q->cancelled = true;
					rb_call_cancel(q->call);
				}
				return;
			}
		/* Unknown or already finished: the spec says to ignore it. */
	} else if (!strcmp(jm->method, "notifications/roots/list_changed")) {
		if (m->ready && m->client_roots && !m->shutting_down)
			request_roots(m);
	}
	/* Other notifications (progress of our requests...) need nothing. */
}

/* Handles one classified message whose values point into doc. Returns
 * true when doc was taken (a tools/call keeps its request). Responses go
 * to m->cur. */
static bool dispatch(struct rb_mcp *m, yyjson_doc *doc, const struct rb_jr_msg *jm)
{
	switch (jm->kind) {
	case RB_JR_INVALID:
		/* A notification cannot be answered, but a message without an id
		 * that is not even a valid notification is answered with id null. */
		if (!(jm->code == RB_JR_INVALID_PARAMS && !jm->id))
			send_error(m, &m->cur, jm->id, jm->code, "%s", jm->why);
		break;
	case RB_JR_RESPONSE:
		handle_response(m, jm);
		break;
	case RB_JR_NOTIFICATION:
		handle_notification(m, jm);
		break;
	case RB_JR_REQUEST:
		if (!strcmp(jm->method, "ping")) {
			yyjson_mut_doc *d = yyjson_mut_doc_new(NULL);
			if (d)
				send_result(m, &m->cur, d, jm->id, yyjson_mut_obj(d));
			yyjson_mut_doc_free(d);
		} else if (!strcmp(jm->method, "initialize")) {
			initialize(m, jm);
		} else if (!m->initialized) {
			send_error(m, &m->cur, jm->id, RB_JR_INVALID_REQUEST,
				   "Invalid Request: the server is not initialized; send initialize first (got %s)",
				   jm->method);
		} else if (m->shutting_down) {
			send_error(m, &m->cur, jm->id, RB_JR_INVALID_REQUEST, "Invalid Request: the server is shutting down");
		} else if (!strcmp(jm->method, "tools/call")) {
			return tools_call(m, doc, jm);
		} else if (!strcmp(jm->method, "tools/list")) {
			tools_list(m, jm->id);
		} else if (!strcmp(jm->method, "logging/setLevel")) {
			set_level(m, jm);
		} else if (m->tasks && rb_jobs_session_request(m->js, jm->method, jm->id, jm->params)) {
			/* tasks/get, tasks/result, tasks/list, tasks/cancel (issue 5).
			 * They answer straight out, never into a batch: tasks need
			 * 2025-11-25, batches 2025-03-26. */
		} else {
			send_error(m, &m->cur, jm->id, RB_JR_METHOD_NOT_FOUND, "Method not found: %s", jm->method);
		}
		break;
	}
	return false;
}

/* ---- batches (2025-03-26) ------------------------------------------------------------ */

/* Whether the element gets an entry (if not cancelled): requests, and
 * invalid messages except a notification with bad params. */
static bool answered(const struct rb_jr_msg *jm)
{
	return jm->kind == RB_JR_REQUEST || (jm->kind == RB_JR_INVALID && !(jm->code == RB_JR_INVALID_PARAMS && !jm->id));
}

static void overflow_message(struct rb_mcp *m, char *msg, size_t n)
{
	char lim[32];

	reply_limit_text(m->o.max_reply_bytes, lim, sizeof(lim));
	snprintf(msg, n, "Batch reply too large: the replies to this batch passed the %s reply limit, so this "
		 "request's reply was dropped (the request itself ran); send it again on its own or in a "
		 "smaller batch", lim);
}

/* The bytes an overflow error entry for an id of idlen bytes (0: null)
 * takes in the reply line, its comma included. */
static size_t overflow_cost(struct rb_mcp *m, size_t idlen)
{
	if (!m->overflow_len) {
		char msg[512], *s;
		size_t len = 0;
		overflow_message(m, msg, sizeof(msg));
		s = rb_jr_error_line(NULL, RB_JR_SERVER_ERROR, msg, &len);
		free(s);
		/* len counts the newline, which stands for the comma here. */
		m->overflow_len = s ? len : 512;
	}
	/* The id is written exactly as it was read back: "null" is 4 bytes. */
	return idlen ? m->overflow_len - 4 + idlen : m->overflow_len;
}

/* The overflow error entry of a slot (without newline), or NULL. */
static char *overflow_entry(struct mcp_batch *b, size_t slot, size_t *len)
{
	struct slot *sl = &b->slots[slot];
	yyjson_doc *idd = sl->id ? yyjson_read(sl->id, sl->idlen, 0) : NULL;
	char msg[512], *s;

	overflow_message(b->m, msg, sizeof(msg));
	s = rb_jr_error_line(yyjson_doc_get_root(idd), RB_JR_SERVER_ERROR, msg, len);
	yyjson_doc_free(idd);
	if (s)
		(*len)--;
	return s;
}

static void batch_free(struct mcp_batch *b)
{
	size_t i;

	rb_list_del(&b->node);
	for (i = 0; i < b->n; i++) {
		free(b->e[i].text);
		free(b->slots[i].id);
	}
	free(b->e);
	free(b->slots);
	free(b);
}

/* Every slot settled: the one reply line (none for a batch without entries). */
static void batch_maybe_finish(struct mcp_batch *b)
{
	struct rb_mcp *m = b->m;
	size_t len = 0;
	char *line, *first = NULL;

	if (!b->dispatched || b->open)
		return;
	line = m->freeing ? NULL : rb_jr_batch_join(b->e, b->n, &len);
	if (line && len > m->o.max_reply_bytes) /* cannot happen: the budget is kept on every entry */
		rb_log(RB_LOG_ERROR, "batch: a reply of %zu bytes passed the %zu-byte cap", len, m->o.max_reply_bytes);
	if (b->replaced)
		rb_log(RB_LOG_INFO, "batch of %zu messages: %zu repl%s dropped for the %zu-byte reply limit", b->n,
		       b->replaced, b->replaced == 1 ? "y" : "ies", m->o.max_reply_bytes);
	if (!line && len)
		rb_log(RB_LOG_ERROR, "batch of %zu messages: out of memory assembling the reply", b->n);
	if (!m->freeing && b->first_req < b->n && m->o.batch_reply) {
		/* A batch with requests: the transport matches it to the
		 * exchange that waits for it (also when there is no line). */
		size_t idlen = b->slots[b->first_req].idlen;
		first = b->slots[b->first_req].id;
		b->slots[b->first_req].id = NULL;
		batch_free(b);
		m->o.batch_reply(m->o.ctx, first, idlen, line, line ? len : 0);
		free(first);
		return;
	}
	batch_free(b);
	if (line)
		m->o.send(m->o.ctx, line, len);
}

/* A slot is settled: with its entry if it has one, else without. A
 * tools/call's slot is settled by req_free, so the batch never goes away
 * under a request that points at it. */
static void batch_settle_slot(struct mcp_batch *b, size_t slot)
{
	struct slot *sl = &b->slots[slot];

	if (sl->state == SLOT_DONE || sl->state == SLOT_NONE)
		return;
	if (sl->state == SLOT_CALL_DONE) {
		sl->state = SLOT_DONE;
	} else {
		sl->state = SLOT_NONE;
		b->reserve -= sl->cost;
	}
	b->open--;
	batch_maybe_finish(b);
}

/* The response of a slot (a line with its newline; taken). */
static void batch_put(struct mcp_batch *b, size_t slot, char *line, size_t len)
{
	struct rb_mcp *m = b->m;
	struct slot *sl = &b->slots[slot];

	if (sl->state != SLOT_OPEN && sl->state != SLOT_CALL) {
		rb_log(RB_LOG_ERROR, "batch: a second response for element %zu (dropped)", slot);
		free(line);
		return;
	}
	if (!sl->cost) /* cannot happen: answered() foresaw every response */
		sl->cost = overflow_cost(m, sl->idlen), b->reserve += sl->cost;
	b->reserve -= sl->cost;
	len--; /* the newline: entries are joined with commas */
	if (b->used + len + 1 + b->reserve > m->o.max_reply_bytes) {
		/* Kept, it would leave no room for the smallest entry of every
		 * slot still open: this one gives way (its error fits the room
		 * it had reserved). */
		free(line);
		line = overflow_entry(b, slot, &len);
		b->replaced++;
	}
	b->e[slot].text = line;
	b->e[slot].len = line ? len : 0;
	b->used += line ? len + 1 : 0;
	if (sl->state == SLOT_CALL) {
		sl->state = SLOT_CALL_DONE; /* settled when its request is freed */
		return;
	}
	sl->state = SLOT_DONE;
	b->open--;
	batch_maybe_finish(b);
}

/* A document of its own holding a copy of v (a batch element a tools/call
 * keeps for its lifetime). */
static yyjson_doc *val_doc(yyjson_val *v)
{
	yyjson_mut_doc *md = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *r = md ? yyjson_val_mut_copy(md, v) : NULL;
	yyjson_doc *d = NULL;

	if (r) {
		yyjson_mut_doc_set_root(md, r);
		d = yyjson_mut_doc_imut_copy(md, NULL);
	}
	yyjson_mut_doc_free(md);
	return d;
}

/* A JSON array: a batch (takes doc). */
static void handle_batch(struct rb_mcp *m, yyjson_doc *doc)
{
	yyjson_val *arr = yyjson_doc_get_root(doc), *el;
	size_t n = yyjson_arr_size(arr), i, imax, need = 3; /* "[", "]", "\n" */
	struct mcp_batch *b;
	char lim[32];

	if (!m->initialized || !m->batches) {
		if (!m->initialized)
			send_error(m, NULL, NULL, RB_JR_INVALID_REQUEST,
				   "Invalid Request: JSON-RPC batches are not supported before initialization; they need "
				   "a session on protocol 2025-03-26: send initialize on its own first");
		else
			send_error(m, NULL, NULL, RB_JR_INVALID_REQUEST,
				   "Invalid Request: JSON-RPC batches are not supported in protocol %s (removed in "
				   "2025-06-18; batches need protocol 2025-03-26): send one message at a time",
				   m->version);
		yyjson_doc_free(doc);
		return;
	}
	if (!n) {
		send_error(m, NULL, NULL, RB_JR_INVALID_REQUEST,
			   "Invalid Request: an empty batch (a JSON-RPC batch holds at least one message)");
		yyjson_doc_free(doc);
		return;
	}
	b = calloc(1, sizeof(*b));
	if (b) {
		b->e = calloc(n, sizeof(*b->e));
		b->slots = calloc(n, sizeof(*b->slots));
	}
	if (!b || !b->e || !b->slots) {
		if (b) {
			free(b->e);
			free(b->slots);
			free(b);
		}
		send_error(m, NULL, NULL, RB_JR_INTERNAL_ERROR, "Internal error: out of memory for a batch of %zu "
			   "messages", n);
		yyjson_doc_free(doc);
		return;
	}
	b->m = m;
	b->n = b->open = b->first_req = n;
	rb_list_init(&b->node);
	/* First pass: the ids, and room for an error entry per answered element. */
	yyjson_arr_foreach(arr, i, imax, el) {
		struct rb_jr_msg jm;
		rb_jr_classify_val(el, &jm);
		if (jm.id) {
			b->slots[i].id = yyjson_val_write(jm.id, 0, &b->slots[i].idlen);
			if (!b->slots[i].id)
				b->slots[i].idlen = 0; /* out of memory: an overflow error would say null */
		}
		if (answered(&jm)) {
			b->slots[i].cost = overflow_cost(m, b->slots[i].idlen);
			need += b->slots[i].cost;
		}
		if (jm.kind == RB_JR_REQUEST && b->first_req == n && b->slots[i].id)
			b->first_req = i;
	}
	b->reserve = need - 3;
	b->used = 3;
	if (need > m->o.max_reply_bytes) {
		reply_limit_text(m->o.max_reply_bytes, lim, sizeof(lim));
		batch_free(b);
		send_error(m, NULL, NULL, RB_JR_INVALID_REQUEST,
			   "Invalid Request: a batch of %zu messages could not be answered within the %s reply limit "
			   "(not even with a short error for each); nothing was run: send fewer messages per batch", n,
			   lim);
		yyjson_doc_free(doc);
		return;
	}
	rb_list_add_tail(&m->batch_list, &b->node);
	/* Second pass: each element as if it had come alone. */
	yyjson_arr_foreach(arr, i, imax, el) {
		struct rb_jr_msg jm;
		m->cur.b = b;
		m->cur.slot = i;
		rb_jr_classify_val(el, &jm);
		if (jm.kind == RB_JR_REQUEST && !strcmp(jm.method, "initialize")) {
			send_error(m, &m->cur, jm.id, RB_JR_INVALID_REQUEST,
				   "Invalid Request: initialize must not be part of a JSON-RPC batch (MCP 2025-03-26, "
				   "Lifecycle); this session is initialized already");
		} else if (jm.kind == RB_JR_REQUEST && !strcmp(jm.method, "tools/call")) {
			yyjson_doc *own = val_doc(el);
			if (!own) {
				send_error(m, &m->cur, jm.id, RB_JR_INTERNAL_ERROR, "Internal error: out of memory");
			} else {
				rb_jr_classify(own, &jm);
				if (!dispatch(m, own, &jm))
					yyjson_doc_free(own);
			}
		} else {
			/* Nothing but a tools/call keeps its document. */
			(void)dispatch(m, doc, &jm);
		}
		if (b->slots[i].state == SLOT_OPEN)
			batch_settle_slot(b, i); /* answered already, or never: a notification, a response */
	}
	m->cur.b = NULL;
	yyjson_doc_free(doc);
	b->dispatched = true;
	batch_maybe_finish(b);
}

void rb_mcp_handle(struct rb_mcp *m, const char *s, size_t n)
{
	struct reply_to saved = m->cur; /* a transport may call in while we send */
	struct rb_jr_msg jm;
	yyjson_doc *doc = rb_jr_parse(s, n, &jm);

	m->cur.b = NULL;
	if (!doc) {
		send_error(m, NULL, NULL, jm.code, "%s", jm.why);
	} else if (yyjson_is_arr(yyjson_doc_get_root(doc))) {
		handle_batch(m, doc);
	} else {
		rb_jr_classify(doc, &jm);
		if (!dispatch(m, doc, &jm))
			yyjson_doc_free(doc);
	}
	m->cur = saved;
}

void rb_mcp_oversized(struct rb_mcp *m, size_t n, size_t max)
{
	send_error(m, NULL, NULL, RB_JR_INVALID_REQUEST, "message of %zu bytes exceeds the limit of %zu bytes", n, max);
}

/* ---- setup ----------------------------------------------------------------------------- */

static yyjson_doc *parse_schema(const struct rb_tool *t, const char *text, bool output)
{
	yyjson_doc *d;

	if (!text)
		return NULL;
	d = yyjson_read(text, strlen(text), 0);
	if (!d || !yyjson_is_obj(yyjson_doc_get_root(d))) {
		/* A bug in the tool table; serve a permissive schema rather than die. */
		rb_log(RB_LOG_ERROR, "tool %s: its %s schema is not a JSON object", t->name, output ? "output" : "input");
		yyjson_doc_free(d);
		return output ? NULL : yyjson_read("{\"type\":\"object\"}", 17, 0);
	}
	return d;
}

/* The tool schemas, parsed once per process and shared by every session:
 * [2 * i] input, [2 * i + 1] output (NULL: none) of rb_tools_all()[i].
 * Two sets: plain, and with the job fields (rb_jobs_*_schema depend on the
 * tool only). Immutable documents, read by every session (and any thread);
 * they live as long as the process. The lock only guards the first build. */
static pthread_mutex_t schema_lock = PTHREAD_MUTEX_INITIALIZER;
static yyjson_doc **schema_sets[2];

static yyjson_doc *const *shared_schemas(bool jobs, size_t ntools)
{
	yyjson_doc **docs;
	const struct rb_tool *const *t;
	size_t i;

	pthread_mutex_lock(&schema_lock);
	docs = schema_sets[jobs];
	if (!docs) {
		docs = calloc(2 * ntools + 1, sizeof(*docs));
		for (i = 0, t = rb_tools_all(); docs && *t; t++, i++) {
			docs[2 * i] = parse_schema(*t, (*t)->input_schema, false);
			docs[2 * i + 1] = parse_schema(*t, (*t)->output_schema, true);
			if (jobs) {
				/* async_mode/job_label on bulk tools; output may be a job handle (issue 5) */
				docs[2 * i] = rb_jobs_input_schema(*t, docs[2 * i]);
				docs[2 * i + 1] = rb_jobs_output_schema(*t, docs[2 * i + 1]);
			}
		}
		schema_sets[jobs] = docs;
	}
	pthread_mutex_unlock(&schema_lock);
	return docs;
}

int rb_mcp_new(struct rb_mcp **out, const struct rb_mcp_opts *o)
{
	struct rb_mcp *m = calloc(1, sizeof(*m));
	const struct rb_tool *const *t;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->o = *o;
	if (!m->o.max_reply_bytes)
		m->o.max_reply_bytes = RB_MCP_MAX_REPLY_DEFAULT;
	if (!m->o.grace_ms)
		m->o.grace_ms = 30000;
	if (!m->o.abandon_ms)
		m->o.abandon_ms = 5000;
	if (!m->o.roots_timeout_ms)
		m->o.roots_timeout_ms = 5000;
	m->loop = rb_io_loop(rb_fs_io(o->fs));
	m->log_level = LEVEL_DEFAULT;
	m->loop_thread = pthread_self();
	rb_list_init(&m->running);
	rb_list_init(&m->held);
	rb_list_init(&m->batch_list);
	m->roots_timer.data = m->grace_timer.data = m->abandon_timer.data = m->idle_defer.data = m;
	for (t = rb_tools_all(); *t; t++)
		m->ntools++;
	m->schemas = shared_schemas(o->jobs != NULL, m->ntools);
	if (!m->schemas) {
		free(m);
		return -ENOMEM;
	}
	if (o->jobs && rb_jobs_session_new(&m->js, o->jobs, o->send, o->ctx, m->o.max_reply_bytes) < 0) {
		free(m);
		return -ENOMEM;
	}
	rb_log_set_sink(log_sink, m);
	*out = m;
	return 0;
}

void rb_mcp_free(struct rb_mcp *m)
{
	struct rb_list *pos, *tmp;

	if (!m)
		return;
	m->freeing = true; /* batches settled from here on are dropped, not sent */
	rb_log_set_sink(NULL, NULL);
	rb_jobs_session_free(m->js);
	rb_timer_stop(m->loop, &m->roots_timer);
	rb_timer_stop(m->loop, &m->grace_timer);
	rb_timer_stop(m->loop, &m->abandon_timer);
	rb_defer_cancel(m->loop, &m->idle_defer);
	rb_list_for_each_safe(pos, tmp, &m->held)
		req_free(rb_container_of(pos, struct mcp_req, node));
	rb_list_for_each_safe(pos, tmp, &m->batch_list)
		batch_free(rb_container_of(pos, struct mcp_batch, node));
	free(m);
}
