/* tools.c: the job tools. They see every job of the state directory (this
 * process's and any other's), never become jobs themselves, and finish
 * within a bounded time: reads of small records, and cancel_job's wait,
 * which is a timer (wait_ms, default 5 s), never a blocking wait. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs_internal.h"
#include "ringbank/schema.h"

#define TEXT_RESULT_MAX 2000
#define LIST_LIMIT_MAX 1000

/* Every job tool starts here: 0, or -EINVAL with the message recorded. */
static int jobs_get(struct rb_call *call, struct rb_jobs **jobs)
{
	*jobs = rb_jobs_default();
	if (!*jobs)
		return rb_call_fail_msg(call, "%s: jobs exist only in a running server (ringbank serve)",
					rb_call_tool(call)->name);
	return 0;
}

static int arg_id(struct rb_call *call, const char **id)
{
	int r = rb_arg_string(call, "job_id", true, id);
	if (r < 0)
		return r;
	if (!jobs_valid_id(*id))
		return rb_call_fail_msg(call, "job_id: expected the 16 lower-case hexadecimal characters of a job id, "
					"got \"%.40s\"", *id);
	return 0;
}

/* A growing text buffer. */
struct buf {
	char *s;
	size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		{
			size_t nc = (b->cap ? b->cap * 2 : 512) + (size_t)n;
			char *t = realloc(b->s, nc);
			if (!t)
				return;
			b->s = t;
			b->cap = nc;
		}
	}
}

/* ---- job_status ------------------------------------------------------------------------- */

struct status_args {
	const char *id;
	bool incl;
};

static int status_parse(struct rb_call *call, struct status_args *a)
{
	int r = arg_id(call, &a->id);

	return r < 0 ? r : rb_arg_bool(call, "include_result", true, &a->incl);
}

static void status_got(void *ctx, int res, struct jrec *rec, const char *why)
{
	struct rb_call *call = ctx;
	yyjson_mut_doc *d = rb_call_doc(call);
	struct status_args a = { 0 };
	struct buf b = { 0 };
	yyjson_mut_val *sc;
	yyjson_val *res_v, *p;
	const char *id, *err, *label, *msg;
	bool incl;

	status_parse(call, &a); /* checked in run() */
	id = a.id;
	incl = a.incl;
	if (res == -ENOENT) {
		rb_call_error(call, "job %s: no such job (never created, pruned, or in another state directory)", id);
		return;
	}
	if (res < 0) {
		rb_call_error(call, "job %s: %s", id, why && *why ? why : rb_strerror(res));
		return;
	}
	sc = jrec_view(d, rec, incl, false);
	label = yyjson_get_str(yyjson_obj_get(rec->root, "label"));
	p = yyjson_obj_get(rec->root, "progress");
	msg = yyjson_get_str(yyjson_obj_get(p, "message"));
	bprintf(&b, "Job %s: %s%s%s%s is %s", rec->id, yyjson_get_str(yyjson_obj_get(rec->root, "tool")) ?: "?",
		label ? " \"" : "", label ? label : "", label ? "\"" : "", rb_job_status_name(rec->status));
	if (p && !rb_job_status_terminal(rec->status))
		bprintf(&b, " (%s)", msg ? msg : "working");
	bprintf(&b, "; created %s", yyjson_get_str(yyjson_obj_get(rec->root, "created")) ?: "?");
	if (yyjson_get_str(yyjson_obj_get(rec->root, "completed")))
		bprintf(&b, ", ended %s", yyjson_get_str(yyjson_obj_get(rec->root, "completed")));
	bprintf(&b, ".");
	err = yyjson_get_str(yyjson_obj_get(rec->root, "error"));
	if (err)
		bprintf(&b, "\nError: %s", err);
	res_v = incl ? jrec_result(rec) : NULL;
	if (res_v && rec->status == RB_JOB_COMPLETED) {
		const char *t = yyjson_get_str(yyjson_obj_get(yyjson_arr_get_first(yyjson_obj_get(res_v, "content")), "text"));
		if (t) {
			size_t n = strlen(t);
			bprintf(&b, "\nResult:\n%.*s%s", (int)(n > TEXT_RESULT_MAX ? TEXT_RESULT_MAX : n), t,
				n > TEXT_RESULT_MAX ? "\n[...] (the whole result is in structuredContent.result)" : "");
		}
	} else if (incl && rb_job_status_terminal(rec->status)) {
		yyjson_mut_val *note = yyjson_mut_obj_get(sc, "result_note");
		if (note)
			bprintf(&b, "\n(%s)", yyjson_mut_get_str(note));
	}
	if (!b.s) {
		rb_call_error(call, "job_status: out of memory");
		return;
	}
	rb_call_finish_text(call, b.s, b.len, sc);
	free(b.s);
}

static int status_run(struct rb_call *call)
{
	struct rb_jobs *jobs;
	struct status_args a;
	int r;

	if ((r = jobs_get(call, &jobs)) < 0 || (r = status_parse(call, &a)) < 0)
		return r;
	store_load_one(jobs, a.id, a.incl, status_got, call);
	return 0;
}

/* ---- list_jobs ---------------------------------------------------------------------------- */

struct list_args {
	bool want[RB_JOB_STATUS_COUNT];
	uint64_t limit;
	const char *tool;
};

static int list_parse(struct rb_call *call, struct list_args *a)
{
	yyjson_val *st = yyjson_obj_get(rb_call_args(call), "status"), *v;
	enum rb_job_status s;
	size_t i, max;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = rb_arg_uint(call, "limit", 50, LIST_LIMIT_MAX, &a->limit)) < 0 ||
	    (r = rb_arg_string(call, "tool", false, &a->tool)) < 0)
		return r;
	if (!st || yyjson_is_null(st)) {
		for (i = 0; i < RB_JOB_STATUS_COUNT; i++)
			a->want[i] = true;
		return 0;
	}
	if (yyjson_is_str(st)) {
		if (rb_job_status_parse(yyjson_get_str(st), &s) < 0)
			goto bad;
		a->want[s] = true;
		return 0;
	}
	if (!yyjson_is_arr(st))
		goto bad;
	yyjson_arr_foreach(st, i, max, v) {
		if (rb_job_status_parse(yyjson_get_str(v), &s) < 0)
			goto bad;
		a->want[s] = true;
	}
	return 0;
bad:
	return rb_call_fail_msg(call, "status: expected one of pending, running, completed, failed, cancelled, "
				"interrupted (or an array of them)");
}

static void list_got(void *ctx, int res, struct store_list *l)
{
	struct rb_call *call = ctx;
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *sc = yyjson_mut_obj(d), *arr = yyjson_mut_arr(d), *warr = yyjson_mut_arr(d);
	struct list_args a;
	struct buf b = { 0 };
	size_t i, total = 0, shown = 0;
	char line[700];

	if (res < 0) {
		rb_call_error(call, "list_jobs: %s", rb_strerror(res));
		return;
	}
	list_parse(call, &a); /* checked in run() */
	jrec_sort_newest(l->recs, l->n);
	for (i = 0; i < l->n; i++) {
		const struct jrec *r = &l->recs[i];
		if (!a.want[r->status] ||
		    (a.tool && strcmp(a.tool, yyjson_get_str(yyjson_obj_get(r->root, "tool")) ?: "")))
			continue;
		total++;
		if (shown >= a.limit)
			continue;
		shown++;
		yyjson_mut_arr_append(arr, jrec_view(d, r, false, true));
		jrec_line(r, line, sizeof(line));
		bprintf(&b, "\n%s", line);
	}
	for (i = 0; i < l->nwarnings; i++) {
		yyjson_mut_arr_add_strcpy(d, warr, l->warnings[i]);
		bprintf(&b, "\nwarning: %s", l->warnings[i]);
	}
	yyjson_mut_obj_add_val(d, sc, "jobs", arr);
	yyjson_mut_obj_add_uint(d, sc, "total", total);
	yyjson_mut_obj_add_uint(d, sc, "shown", shown);
	yyjson_mut_obj_add_val(d, sc, "warnings", warr);
	{
		/* This server's load now: jobs, and permits of the in-flight cap
		 * (after a cancel, bulk permits are back to 0). */
		struct rb_jobs *jobs = rb_jobs_default();
		struct rb_cap_stats cs;
		yyjson_mut_val *ld = yyjson_mut_obj(d);
		struct rb_list *pos;
		size_t pend = 0;
		for (pos = jobs->pending.next; pos != &jobs->pending; pos = pos->next)
			pend++;
		rb_cap_stats(rb_fs_cap(jobs->fs), &cs);
		yyjson_mut_obj_add_uint(d, ld, "jobs_running", jobs->running);
		yyjson_mut_obj_add_uint(d, ld, "jobs_pending", pend);
		yyjson_mut_obj_add_uint(d, ld, "permits_bulk", cs.used[RB_CAP_BULK]);
		yyjson_mut_obj_add_uint(d, ld, "permits_interactive", cs.used[RB_CAP_INTERACTIVE]);
		yyjson_mut_obj_add_strcpy(d, ld, "state_dir", jobs->state_path ? jobs->state_path : "");
		yyjson_mut_obj_add_val(d, sc, "server", ld);
	}
	{
		struct buf head = { 0 };
		if (total > shown)
			bprintf(&head, "%zu jobs, newest first; showing %zu (raise limit for more)%s", total, shown,
				shown ? ":" : ".");
		else
			bprintf(&head, "%zu job%s, newest first%s", total, total == 1 ? "" : "s", total ? ":" : ".");
		if (b.s)
			bprintf(&head, "%s", b.s);
		free(b.s);
		if (!head.s) {
			rb_call_error(call, "list_jobs: out of memory");
			return;
		}
		rb_call_finish_text(call, head.s, head.len, sc);
		free(head.s);
	}
}

static int list_run(struct rb_call *call)
{
	struct rb_jobs *jobs;
	struct list_args a;
	int r;

	if ((r = jobs_get(call, &jobs)) < 0 || (r = list_parse(call, &a)) < 0)
		return r;
	store_load_all(jobs, list_got, call);
	return 0;
}

/* ---- cancel_job ----------------------------------------------------------------------------- */

struct cancel_state {
	struct job_cancel *h;
	char id[RB_JOB_ID_LEN + 1];
};

static void cancel_got(void *ctx, const struct job_cancel_report *rep)
{
	struct rb_call *call = ctx;
	struct cancel_state *st = rb_call_state(call);
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *sc;
	char text[700], id[RB_JOB_ID_LEN + 1];
	const char *status = rep->rec ? rb_job_status_name(rep->rec->status) : "unknown";

	snprintf(id, sizeof(id), "%s", st->id);
	free(st);
	rb_call_set_state(call, NULL);
	if (rep->res < 0) {
		rb_call_error(call, "%s", rep->why);
		return;
	}
	sc = yyjson_mut_obj(d);
	yyjson_mut_obj_add_strcpy(d, sc, "job_id", id);
	yyjson_mut_obj_add_strcpy(d, sc, "status", status);
	yyjson_mut_obj_add_bool(d, sc, "cancelled", !rep->was_terminal);
	yyjson_mut_obj_add_bool(d, sc, "stopped", rep->stopped);
	yyjson_mut_obj_add_uint(d, sc, "waited_ms", rep->waited_ms);
	if (rep->was_terminal)
		snprintf(text, sizeof(text), "Job %s had already ended (%s); there was nothing to cancel.", id, status);
	else if (rep->stopped)
		snprintf(text, sizeof(text), "Job %s is cancelled; its work stopped after %llu ms and released what it held.",
			 id, (unsigned long long)rep->waited_ms);
	else
		snprintf(text, sizeof(text), "Job %s is marked cancelled, but its work had not stopped after %llu ms; "
			 "it is being stopped and whatever it produces will be dropped.",
			 id, (unsigned long long)rep->waited_ms);
	rb_call_finish_text(call, text, strlen(text), sc);
}

static int cancel_run(struct rb_call *call)
{
	struct rb_jobs *jobs;
	struct cancel_state *st;
	const char *id;
	uint64_t wait;
	int r;

	if ((r = jobs_get(call, &jobs)) < 0 || (r = arg_id(call, &id)) < 0 ||
	    (r = rb_arg_uint(call, "wait_ms", jobs->o.cancel_wait_ms, 30000, &wait)) < 0)
		return r;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	snprintf(st->id, sizeof(st->id), "%s", id);
	rb_call_set_state(call, st);
	jobs_cancel(jobs, id, (unsigned)wait, cancel_got, call, &st->h);
	return 0;
}

/* The cancel_job call itself is cancelled (the client gave up, or the
 * session ends): stop waiting. The job stays cancelled. */
static void cancel_cancel(struct rb_call *call)
{
	struct cancel_state *st = rb_call_state(call);

	if (!st || !st->h)
		return;
	jobs_cancel_withdraw(st->h);
	free(st);
	rb_call_set_state(call, NULL);
	rb_call_error(call, "cancel_job: the wait was cancelled");
}

/* ---- prune_jobs ----------------------------------------------------------------------------- */

struct prune_args {
	uint64_t keep_c, keep_f;
	int64_t max_age_ms; /* -1: no age limit */
};

static int prune_parse(struct rb_call *call, struct prune_args *a)
{
	yyjson_val *age = yyjson_obj_get(rb_call_args(call), "max_age_hours");
	int r;

	if ((r = rb_arg_uint(call, "keep_completed", 50, 1000000, &a->keep_c)) < 0 ||
	    (r = rb_arg_uint(call, "keep_failed", 50, 1000000, &a->keep_f)) < 0)
		return r;
	if (age && !yyjson_is_null(age) && (!yyjson_is_num(age) || yyjson_get_num(age) < 0))
		return rb_call_fail_msg(call, "max_age_hours: expected a number of hours, 0 or more");
	a->max_age_ms = yyjson_is_num(age) ? (int64_t)(yyjson_get_num(age) * 3600000.0) : -1;
	return 0;
}

struct prune {
	struct rb_call *call;
	struct prune_args a;
	unsigned pending;
	unsigned errors;
	char first_error[300];
	yyjson_mut_val *deleted;
	size_t ndeleted, kept;
	bool listed;
};

static void prune_finish(struct prune *p)
{
	struct rb_call *call = p->call;
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *sc = yyjson_mut_obj(d);
	char text[600];

	yyjson_mut_obj_add_val(d, sc, "deleted", p->deleted);
	yyjson_mut_obj_add_uint(d, sc, "kept", p->kept);
	yyjson_mut_obj_add_uint(d, sc, "errors", p->errors);
	snprintf(text, sizeof(text), "Pruned %zu job%s; %zu kept.%s%s", p->ndeleted, p->ndeleted == 1 ? "" : "s", p->kept,
		 p->errors ? " Some files could not be removed: " : "", p->errors ? p->first_error : "");
	free(p);
	rb_call_set_state(call, NULL);
	rb_call_finish_text(call, text, strlen(text), sc);
}

static void unlinked(void *ctx, int res)
{
	struct prune *p = ctx;

	if (res < 0 && res != -ENOENT && !p->errors++)
		snprintf(p->first_error, sizeof(p->first_error), "%s", rb_strerror(res));
	if (--p->pending == 0 && p->listed)
		prune_finish(p);
}

static void forgotten(void *ctx)
{
	unlinked(ctx, 0);
}

static void prune_unlink(struct rb_jobs *jobs, struct prune *p, const char *id, const char *suffix)
{
	char name[RB_JOB_ID_LEN + 16];
	snprintf(name, sizeof(name), "%s%s", id, suffix);
	p->pending++;
	store_unlink(jobs, name, unlinked, p);
}

static void prune_got(void *ctx, int res, struct store_list *l)
{
	struct prune *p = ctx;
	struct rb_call *call = p->call;
	struct rb_jobs *jobs = rb_jobs_default();
	yyjson_mut_doc *d = rb_call_doc(call);
	uint64_t keep_c = p->a.keep_c, keep_f = p->a.keep_f;
	size_t i, n_c = 0, n_f = 0;
	int64_t now = jobs_now_ms(), max_age_ms = p->a.max_age_ms;

	p->deleted = yyjson_mut_arr(d);
	p->pending = 1; /* until the loop is done */
	if (res < 0 || !jobs) {
		p->errors++;
		snprintf(p->first_error, sizeof(p->first_error), "listing: %s", rb_strerror(res < 0 ? res : -ENOENT));
		l = NULL;
	}
	if (l)
		jrec_sort_newest(l->recs, l->n);
	for (i = 0; l && i < l->n; i++) {
		const struct jrec *r = &l->recs[i];
		const char *end = yyjson_get_str(yyjson_obj_get(r->root, "completed"));
		int64_t t = end ? iso_parse(end) : r->created_ms;
		bool completed = r->status == RB_JOB_COMPLETED, victim;
		struct rb_job *own;

		if (!rb_job_status_terminal(r->status)) {
			p->kept++;
			continue;
		}
		victim = completed ? ++n_c > keep_c : ++n_f > keep_f;
		if (max_age_ms >= 0 && t >= 0 && now - t > max_age_ms)
			victim = true;
		if (!victim) {
			p->kept++;
			continue;
		}
		own = jobs_find(jobs, r->id);
		if (own) {
			/* Ours: its files go once any write of them in flight has landed. */
			p->pending++;
			if (!jobs_forget(jobs, own, forgotten, p)) {
				p->pending--;
				p->kept++;
				continue;
			}
		} else if (jobs->state_path) {
			prune_unlink(jobs, p, r->id, ".json");
			if (yyjson_obj_get(r->root, "result_file"))
				prune_unlink(jobs, p, r->id, ".result.json");
		}
		yyjson_mut_arr_add_strcpy(d, p->deleted, r->id);
		p->ndeleted++;
	}
	/* Result files left by a prune that stopped between its two unlinks. */
	for (i = 0; l && jobs->state_path && i < l->norphans; i++)
		prune_unlink(jobs, p, l->orphans[i], ".result.json");
	p->listed = true;
	unlinked(p, 0);
}

static int prune_run(struct rb_call *call)
{
	struct rb_jobs *jobs;
	struct prune_args a;
	struct prune *p;
	int r;

	if ((r = jobs_get(call, &jobs)) < 0 || (r = prune_parse(call, &a)) < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->call = call;
	p->a = a;
	rb_call_set_state(call, p);
	store_load_all(jobs, prune_got, p);
	return 0;
}

/* ---- the table -------------------------------------------------------------------------------- */

/* The job states, in the schemas (rb_job_status_name spells them). */
#define STATUS_ENUM "[\"pending\",\"running\",\"completed\",\"failed\",\"cancelled\",\"interrupted\"]"
/* The job_id argument. */
#define JOB_ID_PROP "\"job_id\":{\"type\":\"string\",\"pattern\":\"^[0-9a-f]{16}$\"}"

#define VIEW_PROPS                                                                                          \
	"\"job_id\":{\"type\":\"string\"},\"tool\":{\"type\":\"string\"},\"label\":{\"type\":\"string\"},"   \
	"\"origin\":{\"type\":\"string\",\"enum\":[\"budget\",\"async\",\"task\"]},"                        \
	"\"status\":{\"type\":\"string\",\"enum\":" STATUS_ENUM "},"                                       \
	"\"progress\":{\"type\":\"object\",\"properties\":{\"current\":{\"type\":\"integer\"},"              \
	"\"total\":{\"type\":\"integer\",\"description\":\"0 when unknown\"},\"message\":{\"type\":\"string\"}}}," \
	"\"created\":{\"type\":\"string\"},\"started\":{\"type\":\"string\"},\"completed\":{\"type\":\"string\"}," \
	"\"updated\":{\"type\":\"string\"},\"elapsed_s\":{\"type\":\"number\"},"                            \
	"\"owner\":{\"type\":\"object\",\"properties\":{\"pid\":{\"type\":\"integer\"},\"host\":{\"type\":\"string\"}}}," \
	"\"error\":{\"type\":\"string\"}"

static const struct rb_tool tool_job_status = {
	.name = "job_status",
	.title = "Job status",
	.description = "Status of a background job (a call that outlived its time budget, or was started with "
		       "async_mode): pending, running, completed, failed, cancelled or interrupted; progress "
		       "{current, total, message}; created/started/completed times; and, once it has ended, the "
		       "tool's own result (structuredContent.result) or its error. Jobs of other ringbank processes "
		       "sharing the state directory are visible too.",
	.input_schema = RB_SCHEMA_ARGS_REQ(JOB_ID_PROP ","
					   "\"include_result\":{\"type\":\"boolean\",\"description\":\"Default true.\"}",
					   "\"job_id\""),
	.output_schema = "{\"type\":\"object\",\"properties\":{" VIEW_PROPS ","
			 "\"arguments\":{\"type\":\"object\"},\"result\":{\"type\":\"object\","
			 "\"description\":\"The tools/call result the job produced\"},\"result_note\":{\"type\":\"string\"}},"
			 "\"required\":[\"job_id\",\"status\"]}",
	.read_only = true,
	.idempotent = true,
	.run = status_run,
};

static const struct rb_tool tool_list_jobs = {
	.name = "list_jobs",
	.title = "List jobs",
	.description = "Background jobs, newest first, of this server and of any other ringbank process sharing "
		       "its state directory. Filter by status (one or several) and tool; limit (default 50). "
		       "Unreadable job files are reported as warnings and set aside.",
	.input_schema = RB_SCHEMA_ARGS("\"status\":{\"anyOf\":[{\"type\":\"string\",\"enum\":" STATUS_ENUM "},"
				       RB_SCHEMA_STRING_ARRAY "]},"
				       "\"tool\":{\"type\":\"string\"},"
				       "\"limit\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000,"
				       "\"description\":\"Default 50.\"}"),
	.output_schema = "{\"type\":\"object\",\"properties\":{"
			 "\"jobs\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{" VIEW_PROPS "}}},"
			 "\"total\":{\"type\":\"integer\"},\"shown\":{\"type\":\"integer\"},"
			 "\"warnings\":" RB_SCHEMA_STRING_ARRAY ","
			 "\"server\":{\"type\":\"object\",\"description\":\"This server now: jobs running and "
			 "pending, permits of the in-flight cap in use, the state directory\"}},"
			 "\"required\":[\"jobs\",\"total\",\"shown\",\"warnings\"]}",
	.read_only = true,
	.idempotent = true,
	.run = list_run,
};

static const struct rb_tool tool_cancel_job = {
	.name = "cancel_job",
	.title = "Cancel a job",
	.description = "Cancels a pending or running job of this server: it is marked cancelled at once, its file "
		       "operations are cancelled, and the answer comes when its work has stopped or after wait_ms "
		       "(default 5000), whichever is first. A job that has ended is left as it is.",
	.input_schema = RB_SCHEMA_ARGS_REQ(JOB_ID_PROP ","
					   "\"wait_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":30000,"
					   "\"description\":\"How long to wait for the work to stop (default 5000).\"}",
					   "\"job_id\""),
	.output_schema = "{\"type\":\"object\",\"properties\":{\"job_id\":{\"type\":\"string\"},"
			 "\"status\":{\"type\":\"string\"},\"cancelled\":{\"type\":\"boolean\"},"
			 "\"stopped\":{\"type\":\"boolean\"},\"waited_ms\":{\"type\":\"integer\"}},"
			 "\"required\":[\"job_id\",\"status\",\"cancelled\",\"stopped\"]}",
	.destructive = true,
	.idempotent = true,
	.run = cancel_run,
	.cancel = cancel_cancel,
};

static const struct rb_tool tool_prune_jobs = {
	.name = "prune_jobs",
	.title = "Prune jobs",
	.description = "Deletes the records of ended jobs: keeps the newest keep_completed completed ones (default "
		       "50) and the newest keep_failed failed, cancelled or interrupted ones (default 50), and, "
		       "with max_age_hours, deletes any ended job older than that. Running jobs are never touched.",
	.input_schema = RB_SCHEMA_ARGS("\"keep_completed\":{\"type\":\"integer\",\"minimum\":0},"
				       "\"keep_failed\":{\"type\":\"integer\",\"minimum\":0},"
				       "\"max_age_hours\":{\"type\":\"number\",\"minimum\":0}"),
	.output_schema = "{\"type\":\"object\",\"properties\":{\"deleted\":" RB_SCHEMA_STRING_ARRAY ","
			 "\"kept\":{\"type\":\"integer\"},\"errors\":{\"type\":\"integer\"}},"
			 "\"required\":[\"deleted\",\"kept\"]}",
	.destructive = true,
	.idempotent = true,
	.run = prune_run,
};

const struct rb_tool *const rb_tools_jobs[] = { &tool_job_status, &tool_list_jobs, &tool_cancel_job, &tool_prune_jobs,
						NULL };
