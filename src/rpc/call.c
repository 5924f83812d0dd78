/* call.c: one tool call in flight (tool.h's rb_call_* and rb_arg_*), for any
 * owner (an MCP session, the `call` subcommand).
 *
 * A call owns a yyjson mutable document in which the tool builds its result;
 * finishing wraps the result object ({content, structuredContent?, isError?}),
 * hands it to the owner's finish hook and frees the call. A tool that
 * finishes from inside run() is tolerated: the delivery waits until run()
 * returns, so the owner never sees a call vanish under its feet.
 *
 * Progress is throttled here (one notification per 100 ms at most, values
 * strictly increasing, the latest pending one always delivered before the
 * result), so tools can report every step without flooding the client. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringbank/error.h"
#include "rpc.h"

#define PROGRESS_INTERVAL_NS (100ull * 1000 * 1000)

int rb_call_new(struct rb_call **out, const struct rb_tool *tool, struct rb_fs *fs, yyjson_val *args,
		bool want_progress, const struct rb_call_hooks *hooks, void *owner)
{
	struct rb_call *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->doc = yyjson_mut_doc_new(NULL);
	if (!args) {
		c->empty_args = yyjson_read("{}", 2, 0);
		args = yyjson_doc_get_root(c->empty_args);
	}
	if (!c->doc || !args) {
		yyjson_mut_doc_free(c->doc);
		yyjson_doc_free(c->empty_args);
		free(c);
		return -ENOMEM;
	}
	c->tool = tool;
	c->fs = fs;
	c->args = args;
	c->want_progress = want_progress && hooks->progress;
	c->hooks = hooks;
	c->owner = owner;
	c->prog_timer.data = c;
	*out = c;
	return 0;
}

void *rb_call_owner(struct rb_call *call) { return call->owner; }

void rb_call_set_owner(struct rb_call *call, const struct rb_call_hooks *hooks, void *owner, bool want_progress)
{
	call->hooks = hooks;
	call->owner = owner;
	call->want_progress = want_progress && hooks->progress;
}
yyjson_val *rb_call_args(struct rb_call *call) { return call->args; }
const struct rb_tool *rb_call_tool(struct rb_call *call) { return call->tool; }
struct rb_fs *rb_call_fs(struct rb_call *call) { return call->fs; }
struct rb_loop *rb_call_loop(struct rb_call *call) { return rb_io_loop(rb_fs_io(call->fs)); }
bool rb_call_cancelled(struct rb_call *call) { return call->cancelled; }
void *rb_call_state(struct rb_call *call) { return call->state; }
void rb_call_set_state(struct rb_call *call, void *state) { call->state = state; }
yyjson_mut_doc *rb_call_doc(struct rb_call *call) { return call->doc; }

enum rb_cap_class rb_call_class(struct rb_call *call)
{
	return call->tool->bulk ? RB_CAP_BULK : RB_CAP_INTERACTIVE;
}

/* ---- progress -------------------------------------------------------------------- */

static void progress_send(struct rb_call *c, uint64_t cur, uint64_t total, const char *msg)
{
	c->prog_sent = true;
	c->prog_last = cur;
	c->prog_last_ns = rb_now_ns();
	c->hooks->progress(c, cur, total, msg);
}

static void progress_flush(struct rb_call *c)
{
	if (rb_timer_active(&c->prog_timer))
		rb_timer_stop(rb_call_loop(c), &c->prog_timer);
	if (c->prog_pending && !c->cancelled) {
		c->prog_pending = false;
		progress_send(c, c->prog_cur, c->prog_total, c->prog_msg);
	}
	c->prog_pending = false;
}

static void progress_timer(struct rb_timer *t)
{
	progress_flush(t->data);
}

void rb_call_progress(struct rb_call *call, uint64_t current, uint64_t total, const char *message)
{
	uint64_t now;

	if (!call->want_progress || call->cancelled || call->finished)
		return;
	/* The spec wants progress to increase with every notification. */
	if ((call->prog_sent && current <= call->prog_last) || (call->prog_pending && current < call->prog_cur))
		return;
	now = rb_now_ns();
	if (!call->prog_sent || (now - call->prog_last_ns >= PROGRESS_INTERVAL_NS && !call->prog_pending)) {
		progress_send(call, current, total, message);
		return;
	}
	call->prog_pending = true;
	call->prog_cur = current;
	call->prog_total = total;
	free(call->prog_msg);
	call->prog_msg = message ? strdup(message) : NULL;
	if (!rb_timer_active(&call->prog_timer)) {
		uint64_t since = now - call->prog_last_ns;
		rb_timer_start_ns(rb_call_loop(call), &call->prog_timer,
				  since >= PROGRESS_INTERVAL_NS ? 0 : PROGRESS_INTERVAL_NS - since, progress_timer);
	}
}

void rb_call_log(struct rb_call *call, enum rb_log_level lvl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* rb_log writes stderr and feeds the session's sink (notifications/message). */
	rb_log(lvl, "%s: %s", call->tool->name, msg);
}

/* ---- finishing ---------------------------------------------------------------------- */

static void deliver(struct rb_call *c)
{
	progress_flush(c);
	c->hooks->finish(c, c->doc, c->result, c->is_error);
	yyjson_mut_doc_free(c->doc);
	yyjson_doc_free(c->empty_args);
	free(c->fail_msg);
	free(c->prog_msg);
	free(c);
}

static void complete(struct rb_call *c, yyjson_mut_val *result, bool is_error)
{
	c->result = result;
	c->is_error = is_error;
	if (c->in_run)
		c->finished_in_run = true;
	else
		deliver(c);
}

static bool first_finish(struct rb_call *c)
{
	if (c->finished) {
		rb_log(RB_LOG_ERROR, "%s: tool finished a call twice (ignored)", c->tool->name);
		return false;
	}
	c->finished = true;
	return true;
}

void rb_call_finish(struct rb_call *call, yyjson_mut_val *content, yyjson_mut_val *structured)
{
	yyjson_mut_doc *d = call->doc;
	yyjson_mut_val *r;

	if (!first_finish(call))
		return;
	r = yyjson_mut_obj(d);
	yyjson_mut_obj_add_val(d, r, "content", content ? content : yyjson_mut_arr(d));
	if (structured)
		yyjson_mut_obj_add_val(d, r, "structuredContent", structured);
	complete(call, r, false);
}

static yyjson_mut_val *text_block(yyjson_mut_doc *d, const char *text, size_t len)
{
	yyjson_mut_val *arr = yyjson_mut_arr(d), *b = yyjson_mut_obj(d);

	yyjson_mut_obj_add_str(d, b, "type", "text");
	yyjson_mut_obj_add_strncpy(d, b, "text", text, len);
	yyjson_mut_arr_append(arr, b);
	return arr;
}

void rb_call_finish_text(struct rb_call *call, const char *text, size_t len, yyjson_mut_val *structured)
{
	rb_call_finish(call, text_block(call->doc, text, len), structured);
}

static void finish_error_text(struct rb_call *c, const char *text)
{
	yyjson_mut_doc *d = c->doc;
	yyjson_mut_val *r;

	if (!first_finish(c))
		return;
	r = yyjson_mut_obj(d);
	yyjson_mut_obj_add_val(d, r, "content", text_block(d, text, strlen(text)));
	yyjson_mut_obj_add_bool(d, r, "isError", true);
	complete(c, r, true);
}

void rb_call_error(struct rb_call *call, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	finish_error_text(call, text ? text : "out of memory formatting the error");
	free(text);
}

void rb_call_start(struct rb_call *call)
{
	int r;

	call->in_run = true;
	r = call->tool->run(call);
	call->in_run = false;
	if (call->finished_in_run) {
		deliver(call);
		return;
	}
	if (r < 0 && !call->finished) {
		if (call->fail_msg)
			finish_error_text(call, call->fail_msg);
		else
			rb_call_error(call, "%s: %s", call->tool->name, rb_strerror(r));
	}
}

void rb_call_cancel(struct rb_call *call)
{
	if (call->cancelled)
		return;
	call->cancelled = true;
	if (!call->finished && call->tool->cancel)
		call->tool->cancel(call);
}

/* ---- argument helpers ------------------------------------------------------------ */

int rb_call_fail_msg(struct rb_call *call, const char *fmt, ...)
{
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	free(call->fail_msg);
	call->fail_msg = text;
	return -EINVAL;
}

/* JSON null counts as absent: clients send it for unset optional fields. */
static yyjson_val *arg(struct rb_call *call, const char *field)
{
	yyjson_val *v = yyjson_obj_get(call->args, field);
	return yyjson_is_null(v) ? NULL : v;
}

int rb_arg_string(struct rb_call *call, const char *field, bool required, const char **out)
{
	yyjson_val *v = arg(call, field);

	*out = NULL;
	if (!v)
		return required ? rb_call_fail_msg(call, "%s: required argument missing (expected a string)", field) : 0;
	if (!yyjson_is_str(v))
		return rb_call_fail_msg(call, "%s: expected a string", field);
	*out = yyjson_get_str(v);
	return 0;
}

int rb_arg_bool(struct rb_call *call, const char *field, bool dflt, bool *out)
{
	yyjson_val *v = arg(call, field);

	*out = dflt;
	if (!v)
		return 0;
	if (!yyjson_is_bool(v))
		return rb_call_fail_msg(call, "%s: expected a boolean", field);
	*out = yyjson_get_bool(v);
	return 0;
}

int rb_arg_uint(struct rb_call *call, const char *field, uint64_t dflt, uint64_t max, uint64_t *out)
{
	yyjson_val *v = arg(call, field);
	uint64_t x;

	*out = dflt;
	if (!v)
		return 0;
	if (yyjson_is_uint(v))
		x = yyjson_get_uint(v);
	else if (yyjson_is_real(v) && yyjson_get_real(v) >= 0 && yyjson_get_real(v) <= 9007199254740992.0 &&
		 yyjson_get_real(v) == (double)(uint64_t)yyjson_get_real(v))
		x = (uint64_t)yyjson_get_real(v); /* 5.0 from a client that only has doubles */
	else
		return rb_call_fail_msg(call, "%s: expected an integer from 0 to %llu", field,
					(unsigned long long)max);
	if (x > max)
		return rb_call_fail_msg(call, "%s: %llu is over the maximum of %llu", field, (unsigned long long)x,
					(unsigned long long)max);
	*out = x;
	return 0;
}

static int arg_path(struct rb_call *call, const char *field, bool optional, struct rb_path *out)
{
	const char *s;
	int r = rb_arg_string(call, field, !optional, &s);

	if (r < 0)
		return r;
	if (!s) {
		/* Absent optional path: the first root. */
		if (!rb_fs_root_count(call->fs))
			return rb_call_fail_msg(call, "%s: required (no root is configured)", field);
		s = rb_fs_root_path(call->fs, 0);
	} else if (strlen(s) != yyjson_get_len(arg(call, field))) {
		/* A JSON string may hold "\u0000": the C string would silently name a
		 * prefix of what the client asked for (issue 8, escape suite). */
		return rb_call_fail_msg(call, "%s: a path cannot contain a NUL byte", field);
	}
	if (!*s)
		return rb_call_fail_msg(call, "%s: must not be empty", field);
	r = rb_fs_resolve(call->fs, s, out);
	if (r < 0)
		return rb_call_fail_msg(call, "%s: %s", s, rb_strerror(r));
	return 0;
}

int rb_arg_path(struct rb_call *call, const char *field, struct rb_path *out)
{
	return arg_path(call, field, false, out);
}

int rb_arg_path_opt(struct rb_call *call, const char *field, struct rb_path *out)
{
	return arg_path(call, field, true, out);
}
