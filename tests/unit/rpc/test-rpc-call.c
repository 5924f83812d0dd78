/* Description: the tool-call machinery on both backends: a result finished
 * inside run() is delivered once after run() returns; argument errors name
 * the field; a bare errno becomes "<tool>: <cause>"; progress is throttled,
 * strictly increasing, and its last value arrives before the result;
 * cancellation reaches tool->cancel and the call still finishes once. */
#include "t.h"
#include "ringbank/fs.h"
#include "ringbank/mcp.h"

struct outcome {
	int finished, progress;
	bool is_error;
	uint64_t last_progress;
	bool progress_after_finish, decreasing;
	char text[256];
};

static void fin(struct rb_call *call, yyjson_mut_doc *doc, yyjson_mut_val *result, bool is_error)
{
	struct outcome *o = rb_call_owner(call);
	yyjson_mut_val *c = yyjson_mut_obj_get(result, "content");
	const char *t = yyjson_mut_get_str(yyjson_mut_obj_get(yyjson_mut_arr_get_first(c), "text"));
	o->finished++;
	o->is_error = is_error;
	snprintf(o->text, sizeof(o->text), "%s", t ? t : "");
	ASSERT_EQ(yyjson_mut_get_bool(yyjson_mut_obj_get(result, "isError")), is_error);
}

static void prog(struct rb_call *call, uint64_t cur, uint64_t total, const char *msg)
{
	struct outcome *o = rb_call_owner(call);
	if (o->finished)
		o->progress_after_finish = true;
	if (o->progress && cur <= o->last_progress)
		o->decreasing = true;
	o->progress++;
	o->last_progress = cur;
	ASSERT_EQ(total, 20000);
}

static const struct rb_call_hooks hooks = { fin, prog };

static int sync_run(struct rb_call *call)
{
	rb_call_finish_text(call, "done", 4, NULL);
	return 0;
}

static int args_run(struct rb_call *call)
{
	const char *p;
	uint64_t n;
	int r = rb_arg_uint(call, "head", 0, 10, &n);
	if (r < 0)
		return r;
	return rb_arg_string(call, "path", true, &p);
}

static int errno_run(struct rb_call *call) { return -ENOENT; }

/* Reports 20000 steps, one per loop turn, then finishes. */
static struct rb_defer step_defer;
static uint64_t steps;
static void step(struct rb_defer *d)
{
	struct rb_call *call = d->data;
	if (rb_call_cancelled(call)) {
		rb_call_error(call, "cancelled at step %llu", (unsigned long long)steps);
		return;
	}
	rb_call_progress(call, ++steps, 20000, NULL);
	if (steps == 20000)
		rb_call_finish_text(call, "steps", 5, NULL);
	else
		rb_defer(rb_call_loop(call), d, step);
}
static int steps_run(struct rb_call *call)
{
	steps = 0;
	step_defer.data = call;
	rb_defer(rb_call_loop(call), &step_defer, step);
	return 0;
}

static int cancels;
static void steps_cancel(struct rb_call *call) { cancels++; }

static const struct rb_tool t_sync = { .name = "t_sync", .run = sync_run };
static const struct rb_tool t_args = { .name = "t_args", .run = args_run };
static const struct rb_tool t_errno = { .name = "t_errno", .run = errno_run };
static const struct rb_tool t_steps = { .name = "t_steps", .run = steps_run, .cancel = steps_cancel };

static void run_call(struct rb_loop *loop, struct rb_fs *fs, const struct rb_tool *tool, const char *json,
		     bool cancel_midway, struct outcome *o)
{
	yyjson_doc *d = json ? yyjson_read(json, strlen(json), 0) : NULL;
	struct rb_call *call;
	uint64_t end = rb_now_ns() + 30ull * 1000000000ull;

	memset(o, 0, sizeof(*o));
	ASSERT_EQ(rb_call_new(&call, tool, fs, d ? yyjson_doc_get_root(d) : NULL, true, &hooks, o), 0);
	rb_call_start(call);
	while (!o->finished) {
		ASSERT(rb_loop_run_once(loop, true, 100) >= 0);
		if (cancel_midway && steps >= 500 && !cancels)
			rb_call_cancel(call), rb_call_cancel(call); /* idempotent */
		ASSERT(rb_now_ns() < end);
	}
	/* Nothing arrives after the result. */
	for (int i = 0; i < 5; i++)
		rb_loop_run_once(loop, false, 0);
	ASSERT_EQ(o->finished, 1);
	ASSERT(!o->progress_after_finish);
	yyjson_doc_free(d);
}

int main(void)
{
	FOR_BOTH_BACKENDS(kind) {
		struct rb_loop *loop;
		struct rb_io *io;
		struct rb_cap cap;
		struct rb_fs *fs;
		struct rb_fs_opts fo = { 0 };
		struct outcome o;
		uint64_t t0;

		if (!t_setup(kind, &loop, &io))
			continue;
		rb_cap_init(&cap, loop, NULL);
		ASSERT_EQ(rb_fs_new(&fs, io, &cap, &fo), 0);

		run_call(loop, fs, &t_sync, NULL, false, &o);
		ASSERT(!o.is_error);
		ASSERT_STREQ(o.text, "done");

		run_call(loop, fs, &t_args, "{\"head\":\"x\"}", false, &o);
		ASSERT(o.is_error);
		ASSERT_STREQ(o.text, "head: expected an integer from 0 to 10");
		run_call(loop, fs, &t_args, "{\"head\":11}", false, &o);
		ASSERT_STREQ(o.text, "head: 11 is over the maximum of 10");
		run_call(loop, fs, &t_args, "{\"head\":3,\"path\":null}", false, &o);
		ASSERT_STREQ(o.text, "path: required argument missing (expected a string)");
		run_call(loop, fs, &t_args, "{\"path\":7}", false, &o);
		ASSERT_STREQ(o.text, "path: expected a string");

		run_call(loop, fs, &t_errno, NULL, false, &o);
		ASSERT(o.is_error);
		ASSERT(!strncmp(o.text, "t_errno: ", 9) && strlen(o.text) > 10);

		t0 = rb_now_ns();
		run_call(loop, fs, &t_steps, NULL, false, &o);
		ASSERT(!o.is_error);
		ASSERT(!o.decreasing);
		ASSERT_EQ(o.last_progress, 20000);
		/* Throttled to one per 100 ms (plus the first and the last). */
		ASSERT_LE(o.progress, 3 + (rb_now_ns() - t0) / 100000000ull);
		ASSERT_GE(o.progress, 2);

		cancels = 0;
		run_call(loop, fs, &t_steps, NULL, true, &o);
		ASSERT_EQ(cancels, 1);
		ASSERT(o.is_error);
		ASSERT(!strncmp(o.text, "cancelled at step", 17));

		rb_fs_free(fs);
		ASSERT(rb_cap_idle(&cap));
		t_teardown(loop, io);
		rb_cap_deinit(&cap);
	}
	return T_EXIT_PASS;
}
