/* session.c: MCP tasks (specification 2025-11-25, "Tasks") for one session,
 * mapped onto the job table: a task is a job, its taskId the job id.
 *
 *   tasks/get     the Task of any job (ours or another process's)
 *   tasks/result  blocks until the job has ended (polled every 250 ms), then
 *                 answers exactly what the tools/call would have: the
 *                 CallToolResult (isError included), with
 *                 _meta["io.modelcontextprotocol/related-task"]; a cancelled
 *                 or interrupted job answers an isError result saying so
 *   tasks/list    every job, newest first, 50 a page (opaque cursor)
 *   tasks/cancel  -32602 for a job that has ended; else cancelled at once
 *
 * Job status -> task status: pending and running are "working"; failed and
 * interrupted are "failed". For a task-augmented call the session also
 * forwards progress with the request's progressToken (which stays valid for
 * the task's life) and sends notifications/tasks/status on each change,
 * while the session lives. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs_internal.h"

#define RESULT_POLL_MS 250
#define LIST_PAGE 50
#define CURSOR_PREFIX "rbjobs:"

#define JR_INVALID_PARAMS (-32602)
#define JR_INTERNAL_ERROR (-32603)

struct rb_jobs_session {
	struct rb_list node; /* jobs->sessions */
	struct rb_jobs *jobs;
	void (*send)(void *ctx, char *msg, size_t len);
	void *ctx;
	size_t max_reply;
	struct rb_list tasks; /* jobs it created (rb_job.snode) */
	struct rb_list reqs;  /* tasks requests not answered yet */
};

enum treq_kind { T_GET, T_RESULT, T_LIST, T_CANCEL };

struct treq {
	struct rb_list node;
	struct rb_jobs_session *js; /* NULL: the session is gone, drop the answer */
	struct rb_jobs *jobs;
	yyjson_mut_doc *iddoc;
	enum treq_kind kind;
	char task_id[RB_JOB_ID_LEN + 1];
	size_t offset;
	struct rb_timer poll;
};

/* ---- sending ------------------------------------------------------------------------------- */

static char *write_line(yyjson_mut_doc *d, size_t *len)
{
	char *s = yyjson_mut_write(d, YYJSON_WRITE_NOFLAG, len), *t;
	if (!s)
		return NULL;
	t = realloc(s, *len + 2);
	if (!t) {
		free(s);
		return NULL;
	}
	t[(*len)++] = '\n';
	t[*len] = '\0';
	return t;
}

static yyjson_mut_val *response(yyjson_mut_doc *d, struct treq *tr)
{
	yyjson_mut_val *root = yyjson_mut_obj(d);
	yyjson_mut_doc_set_root(d, root);
	yyjson_mut_obj_add_str(d, root, "jsonrpc", "2.0");
	yyjson_mut_obj_add_val(d, root, "id", yyjson_mut_val_mut_copy(d, yyjson_mut_doc_get_root(tr->iddoc)));
	return root;
}

static void send_doc(struct rb_jobs_session *js, yyjson_mut_doc *d)
{
	size_t len;
	char *s = write_line(d, &len);
	if (s)
		js->send(js->ctx, s, len);
}

static void treq_free(struct treq *tr)
{
	rb_list_del(&tr->node);
	if (rb_timer_active(&tr->poll))
		rb_timer_stop(tr->jobs->loop, &tr->poll);
	yyjson_mut_doc_free(tr->iddoc);
	free(tr);
}

static void reply_error(struct treq *tr, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reply_error(struct treq *tr, int code, const char *fmt, ...)
{
	yyjson_mut_doc *d = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *root, *e;
	char msg[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d && tr->js) {
		root = response(d, tr);
		e = yyjson_mut_obj(d);
		yyjson_mut_obj_add_int(d, e, "code", code);
		yyjson_mut_obj_add_strcpy(d, e, "message", msg);
		yyjson_mut_obj_add_val(d, root, "error", e);
		send_doc(tr->js, d);
	}
	yyjson_mut_doc_free(d);
	treq_free(tr);
}

/* Sends {result} (built in d) and ends the request. */
static void reply(struct treq *tr, yyjson_mut_doc *d, yyjson_mut_val *result)
{
	yyjson_mut_val *root;
	size_t len;
	char *s;

	if (!tr->js) {
		treq_free(tr);
		return;
	}
	root = response(d, tr);
	yyjson_mut_obj_add_val(d, root, "result", result);
	s = write_line(d, &len);
	if (s && len <= tr->js->max_reply) {
		tr->js->send(tr->js->ctx, s, len);
		treq_free(tr);
		return;
	}
	free(s);
	if (tr->kind == T_RESULT) {
		/* What tools/call itself would have answered for a result this big. */
		yyjson_mut_doc *ed = yyjson_mut_doc_new(NULL);
		char text[400];
		if (ed) {
			yyjson_mut_val *r = yyjson_mut_obj(ed), *meta = yyjson_mut_obj(ed), *rt = yyjson_mut_obj(ed);
			snprintf(text, sizeof(text), "the result of task %s is %zu bytes, over the %zu-byte reply limit; "
				 "run the tool again with a narrower request", tr->task_id, len, tr->js->max_reply);
			yyjson_mut_obj_add_val(ed, r, "content", view_text(ed, text));
			yyjson_mut_obj_add_bool(ed, r, "isError", true);
			yyjson_mut_obj_add_strcpy(ed, rt, "taskId", tr->task_id);
			yyjson_mut_obj_add_val(ed, meta, "io.modelcontextprotocol/related-task", rt);
			yyjson_mut_obj_add_val(ed, r, "_meta", meta);
			root = response(ed, tr);
			yyjson_mut_obj_add_val(ed, root, "result", r);
			send_doc(tr->js, ed);
			yyjson_mut_doc_free(ed);
		}
		treq_free(tr);
		return;
	}
	reply_error(tr, JR_INTERNAL_ERROR, "Internal error: the answer could not be encoded or is too large");
}

/* ---- tasks/get ------------------------------------------------------------------------------ */

static void not_found(struct treq *tr, int res, const char *why)
{
	if (res == -ENOENT)
		reply_error(tr, JR_INVALID_PARAMS, "Failed to retrieve task: Task not found: %s", tr->task_id);
	else
		reply_error(tr, JR_INVALID_PARAMS, "Failed to retrieve task %s: %s", tr->task_id,
			    why ? why : rb_strerror(res));
}

static void got_task(void *ctx, int res, struct jrec *rec, const char *why)
{
	struct treq *tr = ctx;
	yyjson_mut_doc *d;

	if (!tr->js) {
		treq_free(tr);
		return;
	}
	if (res < 0) {
		not_found(tr, res, why);
		return;
	}
	d = yyjson_mut_doc_new(NULL);
	if (!d) {
		treq_free(tr);
		return;
	}
	reply(tr, d, jrec_task(d, rec));
	yyjson_mut_doc_free(d);
}

/* ---- tasks/result ---------------------------------------------------------------------------- */

static void result_poll(struct rb_timer *t);

static void got_result(void *ctx, int res, struct jrec *rec, const char *why)
{
	struct treq *tr = ctx;
	yyjson_mut_doc *d;
	yyjson_mut_val *r, *meta, *rt;
	yyjson_val *stored;
	char text[700];

	if (!tr->js) {
		treq_free(tr);
		return;
	}
	if (res < 0) {
		not_found(tr, res, why);
		return;
	}
	if (!rb_job_status_terminal(rec->status)) {
		rb_timer_start(tr->jobs->loop, &tr->poll, RESULT_POLL_MS, result_poll);
		return;
	}
	d = yyjson_mut_doc_new(NULL);
	if (!d) {
		treq_free(tr);
		return;
	}
	stored = jrec_result(rec);
	if (stored && (rec->status == RB_JOB_COMPLETED || rec->status == RB_JOB_FAILED)) {
		r = yyjson_val_mut_copy(d, stored);
		yyjson_mut_obj_remove_key(r, "_meta");
	} else {
		const char *err = yyjson_get_str(yyjson_obj_get(rec->root, "error"));
		if (rec->status == RB_JOB_CANCELLED)
			snprintf(text, sizeof(text), "task %s was cancelled before it finished", tr->task_id);
		else if (rec->status == RB_JOB_INTERRUPTED)
			snprintf(text, sizeof(text), "task %s was interrupted: %.500s", tr->task_id,
				 err ? err : "its process ended first");
		else
			snprintf(text, sizeof(text), "task %s %s but its result is not available: %.500s", tr->task_id,
				 rb_job_status_name(rec->status),
				 rec->result_why[0] ? rec->result_why : err ? err : "it was not stored");
		r = yyjson_mut_obj(d);
		yyjson_mut_obj_add_val(d, r, "content", view_text(d, text));
		yyjson_mut_obj_add_bool(d, r, "isError", true);
	}
	meta = yyjson_mut_obj(d);
	rt = yyjson_mut_obj(d);
	yyjson_mut_obj_add_strcpy(d, rt, "taskId", tr->task_id);
	yyjson_mut_obj_add_val(d, meta, "io.modelcontextprotocol/related-task", rt);
	yyjson_mut_obj_add_val(d, r, "_meta", meta);
	reply(tr, d, r);
	yyjson_mut_doc_free(d);
}

static void result_poll(struct rb_timer *t)
{
	struct treq *tr = t->data;
	store_load_one(tr->jobs, tr->task_id, true, got_result, tr);
}

/* ---- tasks/list -------------------------------------------------------------------------------- */

static int newest_first(const void *a, const void *b)
{
	const struct jrec *x = a, *y = b;
	if (x->created_ms != y->created_ms)
		return x->created_ms > y->created_ms ? -1 : 1;
	/* The same millisecond: the nanoseconds (strictly increasing within a process). */
	if (x->created_ns != y->created_ns && x->created_ns && y->created_ns)
		return x->created_ns > y->created_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

void jrec_sort_newest(struct jrec *recs, size_t n)
{
	if (n > 1)
		qsort(recs, n, sizeof(*recs), newest_first);
}

static void got_list(void *ctx, int res, struct store_list *l)
{
	struct treq *tr = ctx;
	yyjson_mut_doc *d;
	yyjson_mut_val *r, *arr;
	size_t i;

	if (!tr->js) {
		treq_free(tr);
		return;
	}
	if (res < 0) {
		reply_error(tr, JR_INTERNAL_ERROR, "Internal error: listing the jobs: %s", rb_strerror(res));
		return;
	}
	d = yyjson_mut_doc_new(NULL);
	if (!d) {
		treq_free(tr);
		return;
	}
	jrec_sort_newest(l->recs, l->n);
	r = yyjson_mut_obj(d);
	arr = yyjson_mut_arr(d);
	for (i = tr->offset; i < l->n && i < tr->offset + LIST_PAGE; i++)
		yyjson_mut_arr_append(arr, jrec_task(d, &l->recs[i]));
	yyjson_mut_obj_add_val(d, r, "tasks", arr);
	if (tr->offset + LIST_PAGE < l->n) {
		char cur[48];
		snprintf(cur, sizeof(cur), CURSOR_PREFIX "%zu", tr->offset + LIST_PAGE);
		yyjson_mut_obj_add_strcpy(d, r, "nextCursor", cur);
	}
	reply(tr, d, r);
	yyjson_mut_doc_free(d);
}

/* ---- tasks/cancel ------------------------------------------------------------------------------ */

static void cancelled(void *ctx, const struct job_cancel_report *rep)
{
	struct treq *tr = ctx;
	yyjson_mut_doc *d;

	if (!tr->js) {
		treq_free(tr);
		return;
	}
	if (rep->res == -ENOENT) {
		not_found(tr, rep->res, NULL);
		return;
	}
	if (rep->res < 0) {
		reply_error(tr, JR_INVALID_PARAMS, "%s", rep->why);
		return;
	}
	if (rep->was_terminal) {
		reply_error(tr, JR_INVALID_PARAMS, "Cannot cancel task in terminal status: %s",
			    rep->rec ? rb_job_status_name(rep->rec->status) : "ended");
		return;
	}
	d = yyjson_mut_doc_new(NULL);
	if (!d || !rep->rec) {
		yyjson_mut_doc_free(d);
		reply_error(tr, JR_INTERNAL_ERROR, "Internal error: out of memory");
		return;
	}
	reply(tr, d, jrec_task(d, rep->rec));
	yyjson_mut_doc_free(d);
}

/* ---- dispatch ------------------------------------------------------------------------------------ */

bool rb_jobs_session_request(struct rb_jobs_session *js, const char *method, yyjson_val *id, yyjson_val *params)
{
	static const char *const names[] = { "tasks/get", "tasks/result", "tasks/list", "tasks/cancel" };
	yyjson_val *tid = yyjson_obj_get(params, "taskId"), *cursor = yyjson_obj_get(params, "cursor");
	struct treq *tr;
	size_t k;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (!strcmp(method, names[k]))
			break;
	if (k == sizeof(names) / sizeof(names[0]))
		return false;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return true;
	tr->js = js;
	tr->jobs = js->jobs;
	tr->kind = (enum treq_kind)k;
	tr->poll.data = tr;
	tr->iddoc = yyjson_mut_doc_new(NULL);
	rb_list_add_tail(&js->reqs, &tr->node);
	if (!tr->iddoc) {
		treq_free(tr);
		return true;
	}
	yyjson_mut_doc_set_root(tr->iddoc, yyjson_val_mut_copy(tr->iddoc, id));
	if (tr->kind != T_LIST) {
		if (!yyjson_is_str(tid)) {
			reply_error(tr, JR_INVALID_PARAMS, "Invalid params: params.taskId: expected a string");
			return true;
		}
		snprintf(tr->task_id, sizeof(tr->task_id), "%s", yyjson_get_str(tid));
		if (!jobs_valid_id(yyjson_get_str(tid))) {
			reply_error(tr, JR_INVALID_PARAMS, "Failed to retrieve task: Task not found: %.100s",
				    yyjson_get_str(tid));
			return true;
		}
	}
	switch (tr->kind) {
	case T_GET:
		store_load_one(js->jobs, tr->task_id, false, got_task, tr);
		break;
	case T_RESULT:
		store_load_one(js->jobs, tr->task_id, true, got_result, tr);
		break;
	case T_LIST:
		if (cursor && !yyjson_is_null(cursor)) {
			const char *c = yyjson_get_str(cursor);
			char *end;
			if (!c || strncmp(c, CURSOR_PREFIX, strlen(CURSOR_PREFIX))) {
				reply_error(tr, JR_INVALID_PARAMS, "Invalid params: params.cursor: not a cursor of ours");
				return true;
			}
			tr->offset = strtoull(c + strlen(CURSOR_PREFIX), &end, 10);
			if (*end) {
				reply_error(tr, JR_INVALID_PARAMS, "Invalid params: params.cursor: not a cursor of ours");
				return true;
			}
		}
		store_load_all(js->jobs, got_list, tr);
		break;
	case T_CANCEL:
		jobs_cancel(js->jobs, tr->task_id, 0, cancelled, tr, NULL);
		break;
	}
	return true;
}

/* ---- the session's tasks ---------------------------------------------------------------------------- */

void session_job_attach(struct rb_jobs_session *js, struct rb_job *j, yyjson_val *token)
{
	j->session = js;
	rb_list_add_tail(&js->tasks, &j->snode);
	if (token) {
		size_t len;
		j->token_json = yyjson_val_write(token, YYJSON_WRITE_NOFLAG, &len);
	}
}

void session_job_detach(struct rb_job *j)
{
	rb_list_del(&j->snode);
	j->session = NULL;
	free(j->token_json);
	j->token_json = NULL;
}

void session_job_progress(struct rb_job *j)
{
	struct rb_jobs_session *js = j->session;
	yyjson_mut_doc *d;
	yyjson_mut_val *root, *p;

	if (!js || !j->token_json || !(d = yyjson_mut_doc_new(NULL)))
		return;
	root = yyjson_mut_obj(d);
	yyjson_mut_doc_set_root(d, root);
	yyjson_mut_obj_add_str(d, root, "jsonrpc", "2.0");
	yyjson_mut_obj_add_str(d, root, "method", "notifications/progress");
	p = yyjson_mut_obj(d);
	yyjson_mut_obj_add_val(d, p, "progressToken", yyjson_mut_rawcpy(d, j->token_json));
	yyjson_mut_obj_add_uint(d, p, "progress", j->cur);
	if (j->total)
		yyjson_mut_obj_add_uint(d, p, "total", j->total);
	if (j->msg)
		yyjson_mut_obj_add_strcpy(d, p, "message", j->msg);
	yyjson_mut_obj_add_val(d, root, "params", p);
	send_doc(js, d);
	yyjson_mut_doc_free(d);
}

void session_job_status(struct rb_job *j)
{
	struct rb_jobs_session *js = j->session;
	yyjson_mut_doc *d;
	yyjson_mut_val *root;
	struct jrec rec;

	if (!js || job_rec(j, &rec) < 0)
		return;
	d = yyjson_mut_doc_new(NULL);
	if (d) {
		root = yyjson_mut_obj(d);
		yyjson_mut_doc_set_root(d, root);
		yyjson_mut_obj_add_str(d, root, "jsonrpc", "2.0");
		yyjson_mut_obj_add_str(d, root, "method", "notifications/tasks/status");
		yyjson_mut_obj_add_val(d, root, "params", jrec_task(d, &rec));
		send_doc(js, d);
		yyjson_mut_doc_free(d);
	}
	jrec_clear(&rec);
	/* The status of an ended task no longer changes: nothing more to send. */
	if (rb_job_status_terminal(j->status) && !j->call)
		session_job_detach(j);
}

int rb_jobs_session_new(struct rb_jobs_session **out, struct rb_jobs *jobs,
			void (*send)(void *ctx, char *msg, size_t len), void *ctx, size_t max_reply)
{
	struct rb_jobs_session *js = calloc(1, sizeof(*js));

	*out = NULL;
	if (!js)
		return -ENOMEM;
	js->jobs = jobs;
	js->send = send;
	js->ctx = ctx;
	js->max_reply = max_reply ? max_reply : RB_MCP_MAX_REPLY_DEFAULT;
	rb_list_init(&js->tasks);
	rb_list_init(&js->reqs);
	rb_list_add_tail(&jobs->sessions, &js->node);
	*out = js;
	return 0;
}

void rb_jobs_session_free(struct rb_jobs_session *js)
{
	struct rb_list *pos, *tmp;

	if (!js)
		return;
	rb_list_for_each_safe(pos, tmp, &js->tasks)
		session_job_detach(rb_container_of(pos, struct rb_job, snode));
	/* Requests still waiting (tasks/result, or a load in flight): polls stop
	 * now; a load in flight finds js NULL and drops its answer. */
	rb_list_for_each_safe(pos, tmp, &js->reqs) {
		struct treq *tr = rb_container_of(pos, struct treq, node);
		tr->js = NULL;
		rb_list_del(&tr->node);
		if (rb_timer_active(&tr->poll)) {
			rb_timer_stop(js->jobs->loop, &tr->poll);
			treq_free(tr);
		}
	}
	rb_list_del(&js->node);
	free(js);
}
