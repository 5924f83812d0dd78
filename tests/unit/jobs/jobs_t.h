/* jobs_t.h: helpers for the job table tests: an fs environment (fs_t.h)
 * plus a job table whose state directory is <tmp>/state, a fake tool whose
 * calls take `steps` timer ticks (reporting progress each), and synchronous
 * wrappers around the asynchronous store. */
#ifndef RB_TEST_JOBS_T_H
#define RB_TEST_JOBS_T_H

#include "fs/fs_t.h"
#include "jobs_internal.h"

struct jenv {
	struct env e;
	struct rb_jobs *jobs;
	char state[1024];
};

static inline bool jenv_setup(struct jenv *j, enum rb_io_kind k, struct rb_jobs_opts *o)
{
	struct rb_jobs_opts dflt = { 0 };
	memset(j, 0, sizeof(*j));
	if (!env_setup(&j->e, k))
		return false;
	if (!o)
		o = &dflt;
	o->ignore_env = true;
	o->no_fsync = true;
	snprintf(j->state, sizeof(j->state), "%s/state", j->e.dir);
	if (!o->state_dir)
		o->state_dir = j->state;
	ASSERT_EQ(rb_jobs_new(&j->jobs, j->e.fs, o), 0);
	return true;
}

static inline void jenv_teardown(struct jenv *j)
{
	ASSERT(rb_jobs_shutdown_wait(j->jobs));
	rb_jobs_free(j->jobs);
	env_teardown(&j->e);
}

/* ---- the fake tool: {"steps":N,"bytes":B,"error":bool,"stubborn":bool} ---- */

struct fake {
	struct rb_call *call;
	struct rb_timer t;
	uint64_t step, steps, bytes;
	bool error, stubborn, cancelled;
};

static int fake_runs, fake_finished;
static bool fake_hold; /* a stubborn call never ends while this is set */

static void fake_tick(struct rb_timer *t)
{
	struct fake *f = t->data;
	struct rb_call *call = f->call;

	if (f->cancelled && !f->stubborn) {
		free(f);
		rb_call_set_state(call, NULL);
		fake_finished++;
		rb_call_error(call, "fake: cancelled");
		return;
	}
	if (f->step < f->steps || (f->stubborn && fake_hold)) {
		if (f->step < f->steps)
			f->step++;
		rb_call_progress(call, f->step, f->steps, "ticking");
		rb_timer_start(rb_call_loop(call), &f->t, 5, fake_tick);
		return;
	}
	{
		size_t n = f->bytes ? f->bytes : 4;
		char *text = malloc(n + 1);
		bool err = f->error;
		memset(text, 'x', n);
		text[n] = '\0';
		free(f);
		rb_call_set_state(call, NULL);
		fake_finished++;
		if (err)
			rb_call_error(call, "fake: failed on purpose");
		else
			rb_call_finish_text(call, text, n, NULL);
		free(text);
	}
}

static int fake_run(struct rb_call *call)
{
	struct fake *f = calloc(1, sizeof(*f));
	f->call = call;
	f->t.data = f;
	rb_arg_uint(call, "steps", 10, 1000000, &f->steps);
	rb_arg_uint(call, "bytes", 4, 1u << 30, &f->bytes);
	rb_arg_bool(call, "error", false, &f->error);
	rb_arg_bool(call, "stubborn", false, &f->stubborn);
	rb_call_set_state(call, f);
	fake_runs++;
	rb_timer_start(rb_call_loop(call), &f->t, 5, fake_tick);
	return 0;
}

static void fake_cancel(struct rb_call *call)
{
	struct fake *f = rb_call_state(call);
	if (f)
		f->cancelled = true;
}

static const struct rb_tool fake_tool = {
	.name = "fake_slow",
	.description = "test",
	.input_schema = "{\"type\":\"object\"}",
	.bulk = true,
	.run = fake_run,
	.cancel = fake_cancel,
};

/* Submits the fake tool with args (JSON text). */
static inline struct rb_job *jt_submit(struct jenv *j, const char *args, const char *label)
{
	yyjson_doc *doc = yyjson_read(args, strlen(args), 0);
	struct rb_job_start s = { .origin = RB_JOB_ORIGIN_ASYNC, .label = label };
	struct rb_job *job;
	ASSERT(doc);
	ASSERT_EQ(rb_jobs_submit(j->jobs, &fake_tool, doc, yyjson_doc_get_root(doc), &s, &job), 0);
	return job;
}

/* ---- synchronous store access ---- */

struct jt_one {
	bool done;
	int res;
	struct jrec rec;
	char why[600];
};

static void jt_one_cb(void *ctx, int res, struct jrec *rec, const char *why)
{
	struct jt_one *o = ctx;
	o->done = true;
	o->res = res;
	if (rec) {
		o->rec = *rec;
		memset(rec, 0, sizeof(*rec)); /* take it */
	}
	snprintf(o->why, sizeof(o->why), "%s", why ? why : "");
}

/* Loads job id (res returned; the record in *out, to jrec_clear). */
static inline int jt_load(struct jenv *j, const char *id, bool want_result, struct jrec *out, char *why, size_t n)
{
	struct jt_one o = { 0 };
	store_load_one(j->jobs, id, want_result, jt_one_cb, &o);
	t_run_until(j->e.loop, &o.done);
	if (out)
		*out = o.rec;
	else
		jrec_clear(&o.rec);
	if (why)
		snprintf(why, n, "%s", o.why);
	return o.res;
}

static inline const char *jt_str(const struct jrec *r, const char *key)
{
	return yyjson_get_str(yyjson_obj_get(r->root, key));
}

/* Runs the loop until job id has ended; returns its final status. */
static inline enum rb_job_status jt_wait_end(struct jenv *j, const char *id)
{
	uint64_t end = rb_now_ns() + 30ull * 1000000000ull;
	for (;;) {
		struct jrec r;
		enum rb_job_status s;
		ASSERT_EQ(jt_load(j, id, false, &r, NULL, 0), 0);
		s = r.status;
		jrec_clear(&r);
		if (rb_job_status_terminal(s))
			return s;
		if (rb_now_ns() > end)
			T_FAIL("job %s did not end", id);
		rb_loop_run_once(j->e.loop, true, 5);
	}
}

/* Runs the loop until nothing of the table is in flight (writes included). */
static inline void jt_settle(struct jenv *j)
{
	uint64_t end = rb_now_ns() + 30ull * 1000000000ull;
	for (;;) {
		struct rb_list *pos;
		bool busy = j->jobs->bg || j->jobs->running;
		for (pos = j->jobs->own.next; !busy && pos != &j->jobs->own; pos = pos->next) {
			struct rb_job *jb = rb_container_of(pos, struct rb_job, node);
			busy = jb->writing || jb->dirty || jb->call;
		}
		if (!busy)
			return;
		if (rb_now_ns() > end)
			T_FAIL("the job table did not settle");
		rb_loop_run_once(j->e.loop, true, 5);
	}
}

/* The text of file state/name (malloc'ed), or NULL. */
static inline char *jt_file(struct jenv *j, const char *name)
{
	char path[4600];
	FILE *f;
	long n;
	char *buf;
	snprintf(path, sizeof(path), "%s/%s", j->state, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n)
		T_FAIL("short read of %s", path);
	fclose(f);
	return buf;
}

static inline bool jt_exists(struct jenv *j, const char *name)
{
	char path[4600];
	snprintf(path, sizeof(path), "%s/%s", j->state, name);
	return access(path, F_OK) == 0;
}

#endif
