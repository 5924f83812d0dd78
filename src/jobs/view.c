/* view.c: what clients see of jobs. A record (store.c) becomes a job view
 * (job_status, list_jobs), an MCP Task (the tasks methods), or a job handle (the
 * tools/call result of a call that became a job); and the tools/list
 * schemas learn about job arguments and job handles. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs_internal.h"

/* ---- time ------------------------------------------------------------------------------- */

/* RFC 3339 / ISO 8601 in UTC with milliseconds: 2025-11-25T10:30:00.123Z */
void iso_time(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	/* The modulos bound each field for the compiler; real dates fit anyway. */
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned)(ms % 1000) % 1000u);
}

/* n decimal digits at s, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;
	while (n--) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

/* The form iso_time writes (the fraction optional). -1 if it is not. */
int64_t iso_parse(const char *s)
{
	struct tm tm = { 0 };
	int ms = 0;
	time_t t;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return -1;
	tm.tm_year = digits(s, 4);
	tm.tm_mon = digits(s + 5, 2);
	tm.tm_mday = digits(s + 8, 2);
	tm.tm_hour = digits(s + 11, 2);
	tm.tm_min = digits(s + 14, 2);
	tm.tm_sec = digits(s + 17, 2);
	if (tm.tm_year < 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	s += 19;
	if (*s == '.') {
		int n = 0;
		for (s++; *s >= '0' && *s <= '9'; s++, n++)
			if (n < 3)
				ms = ms * 10 + (*s - '0');
		if (n == 0)
			return -1;
		for (; n < 3; n++)
			ms *= 10;
	}
	if (strcmp(s, "Z"))
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return (int64_t)t * 1000 + ms;
}

/* ---- views ------------------------------------------------------------------------------- */

yyjson_mut_val *view_text(yyjson_mut_doc *d, const char *text)
{
	yyjson_mut_val *arr = yyjson_mut_arr(d), *b = yyjson_mut_obj(d);
	yyjson_mut_obj_add_str(d, b, "type", "text");
	yyjson_mut_obj_add_strcpy(d, b, "text", text);
	yyjson_mut_arr_append(arr, b);
	return arr;
}

yyjson_val *jrec_result(const struct jrec *r)
{
	yyjson_val *v;
	if (r->result_doc)
		return yyjson_doc_get_root(r->result_doc);
	v = yyjson_obj_get(r->root, "result");
	return yyjson_is_obj(v) ? v : NULL;
}

static const char *str(const struct jrec *r, const char *key)
{
	return yyjson_get_str(yyjson_obj_get(r->root, key));
}

static void copy_key(yyjson_mut_doc *d, yyjson_mut_val *o, const struct jrec *r, const char *from, const char *to)
{
	yyjson_val *v = yyjson_obj_get(r->root, from);
	if (v)
		yyjson_mut_obj_add_val(d, o, to, yyjson_val_mut_copy(d, v));
}

/* Why a job that should have a result shows none; "" if it has one or should not. */
static void result_note(const struct jrec *r, char *buf, size_t n)
{
	yyjson_val *t = yyjson_obj_get(r->root, "result_truncated");

	buf[0] = '\0';
	if (jrec_result(r))
		return;
	if (t)
		snprintf(buf, n, "the result (%llu bytes) was over the %llu-byte limit for stored results and was "
			 "not kept; run the tool again with a narrower request",
			 (unsigned long long)yyjson_get_uint(yyjson_obj_get(t, "bytes")),
			 (unsigned long long)yyjson_get_uint(yyjson_obj_get(t, "limit")));
	else if (r->result_why[0])
		snprintf(buf, n, "%s", r->result_why);
	else if (str(r, "result_note"))
		snprintf(buf, n, "%s", str(r, "result_note"));
	else if (str(r, "result_file"))
		snprintf(buf, n, "the result is in %s (ask with include_result)", str(r, "result_file"));
}

yyjson_mut_val *jrec_view(yyjson_mut_doc *d, const struct jrec *r, bool with_result, bool summary)
{
	yyjson_mut_val *o = yyjson_mut_obj(d), *ow;
	const char *started = str(r, "started"), *completed = str(r, "completed"), *err = str(r, "error");
	char note[512];

	yyjson_mut_obj_add_strcpy(d, o, "job_id", r->id);
	copy_key(d, o, r, "tool", "tool");
	copy_key(d, o, r, "label", "label");
	copy_key(d, o, r, "origin", "origin");
	yyjson_mut_obj_add_str(d, o, "status", rb_job_status_name(r->status));
	{
		yyjson_val *p = yyjson_obj_get(r->root, "progress");
		yyjson_mut_val *mp = yyjson_mut_obj(d);
		yyjson_mut_obj_add_uint(d, mp, "current", yyjson_get_uint(yyjson_obj_get(p, "current")));
		yyjson_mut_obj_add_uint(d, mp, "total", yyjson_get_uint(yyjson_obj_get(p, "total")));
		if (yyjson_get_str(yyjson_obj_get(p, "message")))
			yyjson_mut_obj_add_strcpy(d, mp, "message", yyjson_get_str(yyjson_obj_get(p, "message")));
		yyjson_mut_obj_add_val(d, o, "progress", mp);
	}
	copy_key(d, o, r, "created", "created");
	copy_key(d, o, r, "started", "started");
	copy_key(d, o, r, "completed", "completed");
	copy_key(d, o, r, "updated", "updated");
	if (started && iso_parse(started) >= 0) {
		int64_t end = completed ? iso_parse(completed) : jobs_now_ms();
		if (end >= 0)
			yyjson_mut_obj_add_real(d, o, "elapsed_s", (double)(end - iso_parse(started)) / 1000.0);
	}
	if (r->have_owner) {
		ow = yyjson_mut_obj(d);
		yyjson_mut_obj_add_int(d, ow, "pid", r->owner.pid);
		yyjson_mut_obj_add_strcpy(d, ow, "host", r->owner.host);
		yyjson_mut_obj_add_val(d, o, "owner", ow);
	}
	if (!summary)
		copy_key(d, o, r, "arguments", "arguments");
	if (err) {
		if (summary && strlen(err) > 300) {
			char buf[304];
			snprintf(buf, sizeof(buf), "%.296s...", err);
			yyjson_mut_obj_add_strcpy(d, o, "error", buf);
		} else {
			yyjson_mut_obj_add_strcpy(d, o, "error", err);
		}
	}
	if (with_result) {
		yyjson_val *res = jrec_result(r);
		if (res)
			yyjson_mut_obj_add_val(d, o, "result", yyjson_val_mut_copy(d, res));
		result_note(r, note, sizeof(note));
		if (note[0])
			yyjson_mut_obj_add_strcpy(d, o, "result_note", note);
	}
	return o;
}

void jrec_line(const struct jrec *r, char *buf, size_t n)
{
	yyjson_val *p = yyjson_obj_get(r->root, "progress");
	const char *label = str(r, "label"), *err = str(r, "error"), *msg = yyjson_get_str(yyjson_obj_get(p, "message"));
	uint64_t cur = yyjson_get_uint(yyjson_obj_get(p, "current")), tot = yyjson_get_uint(yyjson_obj_get(p, "total"));
	int k;

	k = snprintf(buf, n, "%s  %-11s %s%s%s%s  created %s", r->id, rb_job_status_name(r->status),
		     str(r, "tool") ?: "?", label ? " \"" : "", label ? label : "", label ? "\"" : "",
		     str(r, "created") ?: "?");
	if (k < 0 || (size_t)k >= n)
		return;
	if (p && !rb_job_status_terminal(r->status)) {
		if (tot)
			k += snprintf(buf + k, n - (size_t)k, "  progress %llu/%llu", (unsigned long long)cur,
				      (unsigned long long)tot);
		else
			k += snprintf(buf + k, n - (size_t)k, "  progress %llu", (unsigned long long)cur);
		if (k < 0 || (size_t)k >= n)
			return;
		if (msg)
			k += snprintf(buf + k, n - (size_t)k, " (%s)", msg);
		if (k < 0 || (size_t)k >= n)
			return;
	}
	if (err)
		snprintf(buf + k, n - (size_t)k, "  error: %.160s", err);
}

/* ---- MCP tasks ---------------------------------------------------------------------------- */

static const char *task_status(enum rb_job_status s)
{
	switch (s) {
	case RB_JOB_PENDING:
	case RB_JOB_RUNNING:
		return "working";
	case RB_JOB_COMPLETED:
		return "completed";
	case RB_JOB_CANCELLED:
		return "cancelled";
	default:
		return "failed"; /* failed, interrupted */
	}
}

yyjson_mut_val *jrec_task(yyjson_mut_doc *d, const struct jrec *r)
{
	yyjson_mut_val *t = yyjson_mut_obj(d);
	yyjson_val *p = yyjson_obj_get(r->root, "progress");
	const char *msg = yyjson_get_str(yyjson_obj_get(p, "message")), *err = str(r, "error");
	char buf[600];

	yyjson_mut_obj_add_strcpy(d, t, "taskId", r->id);
	yyjson_mut_obj_add_str(d, t, "status", task_status(r->status));
	switch (r->status) {
	case RB_JOB_PENDING:
		snprintf(buf, sizeof(buf), "waiting for a free job slot");
		break;
	case RB_JOB_RUNNING:
		if (msg)
			snprintf(buf, sizeof(buf), "%s", msg);
		else
			snprintf(buf, sizeof(buf), "running");
		break;
	case RB_JOB_COMPLETED:
		snprintf(buf, sizeof(buf), "completed");
		break;
	case RB_JOB_CANCELLED:
		snprintf(buf, sizeof(buf), "cancelled by request");
		break;
	case RB_JOB_INTERRUPTED:
		snprintf(buf, sizeof(buf), "interrupted: %.500s", err ? err : "its process ended first");
		break;
	default:
		snprintf(buf, sizeof(buf), "%.560s", err ? err : "failed");
		break;
	}
	yyjson_mut_obj_add_strcpy(d, t, "statusMessage", buf);
	copy_key(d, t, r, "created", "createdAt");
	copy_key(d, t, r, "updated", "lastUpdatedAt");
	yyjson_mut_obj_add_null(d, t, "ttl"); /* kept until prune_jobs removes it */
	yyjson_mut_obj_add_int(d, t, "pollInterval", JOB_POLL_MS);
	return t;
}

/* ---- job handles --------------------------------------------------------------------------- */

static void handle_text(const struct rb_job *j, uint64_t budget_ms, char *buf, size_t n)
{
	char lab[260] = "";

	if (j->label)
		snprintf(lab, sizeof(lab), " (label \"%s\")", j->label);
	if (j->origin == RB_JOB_ORIGIN_BUDGET)
		snprintf(buf, n, "%s is still running after its %.3g s time budget, so it continues in the background "
			 "as job %s%s; nothing was restarted. Check it with job_status {\"job_id\":\"%s\"}, stop it "
			 "with cancel_job; list_jobs shows every job.",
			 j->tool->name, (double)budget_ms / 1000.0, j->id, lab, j->id);
	else
		snprintf(buf, n, "%s started in the background as job %s%s. Check it with job_status "
			 "{\"job_id\":\"%s\"}, stop it with cancel_job; list_jobs shows every job.",
			 j->tool->name, j->id, lab, j->id);
}

/* A job just submitted starts on the next loop turn if a slot is free,
 * before anything else the client could see: it is running for them. */
static const char *handle_status(const struct rb_job *j)
{
	if (j->status == RB_JOB_PENDING && j->jobs->running < j->jobs->o.max_running &&
	    !rb_list_empty(&j->qnode) && j->jobs->pending.next == &j->qnode)
		return "running";
	return rb_job_status_name(j->status);
}

/* Whether the tool's output schema (as tools/list shows it) admits a job
 * handle: tools without one, and the bulk tools, whose schema
 * rb_jobs_output_schema widens. The other tools keep their schemas exactly
 * (clients and the official filesystem server's shapes rely on them). */
static bool handle_fits(const struct rb_tool *t)
{
	return !t->output_schema || t->bulk;
}

yyjson_mut_val *rb_job_handle_result(const struct rb_job *j, yyjson_mut_doc *d, uint64_t budget_ms)
{
	yyjson_mut_val *r = yyjson_mut_obj(d), *sc = yyjson_mut_obj(d);
	char text[1024];

	handle_text(j, budget_ms, text, sizeof(text));
	yyjson_mut_obj_add_val(d, r, "content", view_text(d, text));
	yyjson_mut_obj_add_strcpy(d, sc, "job_id", j->id);
	yyjson_mut_obj_add_str(d, sc, "status", handle_status(j));
	yyjson_mut_obj_add_strcpy(d, sc, "message", text);
	if (handle_fits(j->tool)) {
		yyjson_mut_obj_add_val(d, r, "structuredContent", sc);
	} else {
		/* A small tool with a strict output schema that still ran past
		 * its budget: its result is not here, and a handle would break
		 * the schema (validating clients reject it), so the answer is an
		 * isError result whose text says where the result will be; the
		 * handle goes in _meta for programs. */
		yyjson_mut_val *meta = yyjson_mut_obj(d);
		yyjson_mut_obj_add_val(d, meta, "io.github.ringbank/job", sc);
		yyjson_mut_obj_add_val(d, r, "_meta", meta);
		yyjson_mut_obj_add_bool(d, r, "isError", true);
	}
	return r;
}

yyjson_mut_val *rb_job_task_result(const struct rb_job *j, yyjson_mut_doc *d)
{
	yyjson_mut_val *r = yyjson_mut_obj(d), *meta = yyjson_mut_obj(d), *t;
	struct jrec rec;
	char text[1024];

	if (job_rec((struct rb_job *)j, &rec) < 0)
		return NULL;
	t = jrec_task(d, &rec);
	if (j->status == RB_JOB_PENDING && !strcmp(handle_status(j), "running"))
		yyjson_mut_obj_put(t, yyjson_mut_str(d, "statusMessage"), yyjson_mut_str(d, "started"));
	yyjson_mut_obj_add_val(d, r, "task", t);
	handle_text(j, 0, text, sizeof(text));
	yyjson_mut_obj_add_strcpy(d, meta, "io.modelcontextprotocol/model-immediate-response", text);
	yyjson_mut_obj_add_val(d, r, "_meta", meta);
	jrec_clear(&rec);
	return r;
}

/* ---- schemas ------------------------------------------------------------------------------- */

static yyjson_doc *finish_schema(yyjson_doc *old, yyjson_mut_doc *m)
{
	yyjson_doc *nd = m ? yyjson_mut_doc_imut_copy(m, NULL) : NULL;
	yyjson_mut_doc_free(m);
	if (!nd)
		return old; /* out of memory: the plain schema is still right for foreground calls */
	yyjson_doc_free(old);
	return nd;
}

static yyjson_mut_val *props_of(yyjson_mut_doc *m, yyjson_mut_val *root)
{
	yyjson_mut_val *props = yyjson_mut_obj_get(root, "properties");
	if (!yyjson_mut_is_obj(props)) {
		yyjson_mut_obj_remove_key(root, "properties");
		props = yyjson_mut_obj(m);
		yyjson_mut_obj_add_val(m, root, "properties", props);
	}
	return props;
}

static void add_prop(yyjson_mut_doc *m, yyjson_mut_val *props, const char *name, const char *schema)
{
	yyjson_doc *sd = yyjson_read(schema, strlen(schema), 0);
	yyjson_mut_val *v, *old;

	if (!sd)
		return;
	v = yyjson_val_mut_copy(m, yyjson_doc_get_root(sd));
	yyjson_doc_free(sd);
	old = yyjson_mut_obj_remove_key(props, name);
	if (old) {
		/* The tool has a field of that name already: either form is valid. */
		yyjson_mut_val *any = yyjson_mut_arr(m), *w = yyjson_mut_obj(m);
		yyjson_mut_arr_append(any, old);
		yyjson_mut_arr_append(any, v);
		yyjson_mut_obj_add_val(m, w, "anyOf", any);
		v = w;
	}
	yyjson_mut_obj_add_val(m, props, name, v);
}

yyjson_doc *rb_jobs_input_schema(const struct rb_tool *tool, yyjson_doc *doc)
{
	yyjson_mut_doc *m;
	yyjson_mut_val *root, *props;

	if (!doc || !tool->bulk || rb_jobs_is_job_tool(tool))
		return doc;
	m = yyjson_doc_mut_copy(doc, NULL);
	if (!m)
		return doc;
	root = yyjson_mut_doc_get_root(m);
	props = props_of(m, root);
	add_prop(m, props, "async_mode",
		 "{\"type\":\"boolean\",\"description\":\"Run in the background: answer at once with a job_id "
		 "(watch it with job_status, stop it with cancel_job). Without it a call that outlives its time "
		 "budget (default 20 s) becomes a job anyway, without losing work.\"}");
	add_prop(m, props, "job_label",
		 "{\"type\":\"string\",\"maxLength\":200,\"description\":\"A label for the job, shown by job_status "
		 "and list_jobs.\"}");
	return finish_schema(doc, m);
}

yyjson_doc *rb_jobs_output_schema(const struct rb_tool *tool, yyjson_doc *doc)
{
	static const char handle_required[] = "[\"job_id\",\"status\",\"message\"]";
	yyjson_mut_doc *m;
	yyjson_mut_val *root, *props, *req, *any, *alt, *hr, *old_any;
	yyjson_doc *hd;

	if (!doc || rb_jobs_is_job_tool(tool) || !handle_fits(tool))
		return doc;
	m = yyjson_doc_mut_copy(doc, NULL);
	if (!m)
		return doc;
	root = yyjson_mut_doc_get_root(m);
	props = props_of(m, root);
	add_prop(m, props, "job_id",
		 "{\"type\":\"string\",\"description\":\"Present when the call became a background job: its id for "
		 "job_status and cancel_job.\"}");
	add_prop(m, props, "status", "{\"type\":\"string\",\"enum\":[\"pending\",\"running\"]}");
	add_prop(m, props, "message", "{\"type\":\"string\"}");
	req = yyjson_mut_obj_remove_key(root, "required");
	if (!req)
		return finish_schema(doc, m);
	/* The tool's fields, or a job handle. */
	hd = yyjson_read(handle_required, sizeof(handle_required) - 1, 0);
	hr = hd ? yyjson_val_mut_copy(m, yyjson_doc_get_root(hd)) : NULL;
	yyjson_doc_free(hd);
	if (!hr) {
		yyjson_mut_doc_free(m);
		return doc;
	}
	any = yyjson_mut_arr(m);
	alt = yyjson_mut_obj(m);
	yyjson_mut_obj_add_val(m, alt, "required", req);
	yyjson_mut_arr_append(any, alt);
	alt = yyjson_mut_obj(m);
	yyjson_mut_obj_add_val(m, alt, "required", hr);
	yyjson_mut_arr_append(any, alt);
	old_any = yyjson_mut_obj_remove_key(root, "anyOf");
	if (old_any) {
		yyjson_mut_val *all = yyjson_mut_arr(m), *a1 = yyjson_mut_obj(m), *a2 = yyjson_mut_obj(m);
		yyjson_mut_obj_add_val(m, a1, "anyOf", old_any);
		yyjson_mut_obj_add_val(m, a2, "anyOf", any);
		yyjson_mut_arr_append(all, a1);
		yyjson_mut_arr_append(all, a2);
		yyjson_mut_obj_add_val(m, root, "allOf", all);
	} else {
		yyjson_mut_obj_add_val(m, root, "anyOf", any);
	}
	return finish_schema(doc, m);
}
