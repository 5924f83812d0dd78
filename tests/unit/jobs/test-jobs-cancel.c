/* Description: cancelling and shutting down, on both backends. A running
 * job is cancelled at once and the answer comes when its call has stopped;
 * a call that ignores the cancel is waited for at most wait_ms (never a
 * hang), stays cancelled, and its late result is dropped; a pending job is
 * cancelled without ever running; an ended job and an unknown id are
 * reported as such; a withdrawn wait never calls back. Shutdown marks
 * unfinished jobs interrupted and writes them; a call that never ends is
 * abandoned after abandon_ms. The cap and the fds come back every time. */
#include "jobs_t.h"

struct rep {
	bool done;
	int res;
	bool was_terminal, stopped;
	uint64_t waited;
	enum rb_job_status status;
};

static void got(void *ctx, const struct job_cancel_report *r)
{
	struct rep *o = ctx;
	o->done = true;
	o->res = r->res;
	o->was_terminal = r->was_terminal;
	o->stopped = r->stopped;
	o->waited = r->waited_ms;
	o->status = r->rec ? r->rec->status : RB_JOB_STATUS_COUNT;
}

static void cancel(struct jenv *j, const char *id, unsigned wait_ms, struct rep *o)
{
	memset(o, 0, sizeof(*o));
	jobs_cancel(j->jobs, id, wait_ms, got, o, NULL);
	t_run_until(j->e.loop, &o->done);
}

static void run_a_bit(struct jenv *j, int turns)
{
	while (turns--)
		rb_loop_run_once(j->e.loop, true, 10);
}

static void check_cooperative(struct jenv *j)
{
	struct rb_job *job = jt_submit(j, "{\"steps\":100000}", NULL);
	char id[RB_JOB_ID_LEN + 1], name[64];
	struct rep o;
	char *text;

	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	run_a_bit(j, 5);
	ASSERT_EQ(rb_job_status(job), RB_JOB_RUNNING);
	cancel(j, id, 5000, &o);
	ASSERT_EQ(o.res, 0);
	ASSERT(!o.was_terminal);
	/* The answer came because its work stopped, not because the 5 s wait
	 * ran out (that would say !stopped, as check_stubborn shows). How
	 * quickly it stopped is the machine's business: no wall-clock bound. */
	ASSERT(o.stopped);
	ASSERT_EQ(o.status, RB_JOB_CANCELLED);
	jt_settle(j);
	snprintf(name, sizeof(name), "%s.json", id);
	text = jt_file(j, name);
	ASSERT(strstr(text, "\"status\":\"cancelled\"") && !strstr(text, "\"result\""));
	free(text);
	/* Again: it has ended. */
	cancel(j, id, 5000, &o);
	ASSERT(o.was_terminal);
	ASSERT_EQ(o.status, RB_JOB_CANCELLED);
}

static void check_stubborn(struct jenv *j)
{
	/* Ignores the cancel; ends after its 60 steps (~300 ms). */
	struct rb_job *job = jt_submit(j, "{\"steps\":60,\"stubborn\":true}", NULL);
	char id[RB_JOB_ID_LEN + 1];
	struct rep o;
	struct jrec r;

	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	run_a_bit(j, 3);
	cancel(j, id, 50, &o);
	/* The answer came at the end of the wait, while the call still ran
	 * (not stopped): it did not wait for the call's end. No wall-clock
	 * bound: a loaded machine stretches the 50 ms timer at will. */
	ASSERT(!o.stopped);
	ASSERT_GE(o.waited, 45);
	ASSERT_EQ(o.status, RB_JOB_CANCELLED);
	ASSERT_EQ(jt_wait_end(j, id), RB_JOB_CANCELLED);
	jt_settle(j); /* the late result came and was dropped */
	ASSERT_EQ(jt_load(j, id, true, &r, NULL, 0), 0);
	ASSERT_EQ(r.status, RB_JOB_CANCELLED);
	ASSERT(!jrec_result(&r));
	jrec_clear(&r);
}

static void check_pending_and_misc(struct jenv *j)
{
	/* max_running 1: b waits behind a */
	struct rb_job *a = jt_submit(j, "{\"steps\":40}", NULL), *b = jt_submit(j, "{\"steps\":1}", NULL);
	char ia[RB_JOB_ID_LEN + 1], ib[RB_JOB_ID_LEN + 1];
	struct rep o;
	int runs;

	snprintf(ia, sizeof(ia), "%s", rb_job_id(a));
	snprintf(ib, sizeof(ib), "%s", rb_job_id(b));
	run_a_bit(j, 2);
	runs = fake_runs;
	ASSERT_EQ(rb_job_status(b), RB_JOB_PENDING);
	cancel(j, ib, 5000, &o);
	ASSERT(o.stopped && !o.was_terminal);
	ASSERT_EQ(o.status, RB_JOB_CANCELLED);
	ASSERT_EQ(jt_wait_end(j, ia), RB_JOB_COMPLETED);
	jt_settle(j);
	ASSERT_EQ(fake_runs, runs); /* b never ran */
	cancel(j, ia, 5000, &o);
	ASSERT(o.was_terminal);
	ASSERT_EQ(o.status, RB_JOB_COMPLETED);
	cancel(j, "0123456789abcdef", 5000, &o);
	ASSERT_EQ(o.res, -ENOENT);
}

static bool never;
static void never_cb(void *ctx, const struct job_cancel_report *r) { never = true; }

static void check_withdraw(struct jenv *j)
{
	struct rb_job *job = jt_submit(j, "{\"steps\":40,\"stubborn\":true}", NULL);
	char id[RB_JOB_ID_LEN + 1];
	struct job_cancel *h = NULL;

	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	run_a_bit(j, 2);
	jobs_cancel(j->jobs, id, 5000, never_cb, NULL, &h);
	ASSERT(h);
	jobs_cancel_withdraw(h);
	ASSERT_EQ(jt_wait_end(j, id), RB_JOB_CANCELLED);
	jt_settle(j);
	ASSERT(!never);
}

struct shut {
	bool done, abandoned;
};
static void shut_cb(void *ctx, bool abandoned)
{
	struct shut *s = ctx;
	s->done = true;
	s->abandoned = abandoned;
}

static void check_shutdown(enum rb_io_kind k)
{
	struct rb_jobs_opts o = { .max_running = 1 };
	struct shut s = { 0 };
	struct jenv j;
	char ia[RB_JOB_ID_LEN + 1], ib[RB_JOB_ID_LEN + 1], name[64];
	char *text;

	ASSERT(jenv_setup(&j, k, &o));
	snprintf(ia, sizeof(ia), "%s", rb_job_id(jt_submit(&j, "{\"steps\":100000}", NULL)));
	snprintf(ib, sizeof(ib), "%s", rb_job_id(jt_submit(&j, "{\"steps\":1}", NULL)));
	run_a_bit(&j, 3);
	rb_jobs_shutdown(j.jobs, shut_cb, &s);
	t_run_until(j.e.loop, &s.done);
	ASSERT(!s.abandoned);
	snprintf(name, sizeof(name), "%s.json", ia);
	text = jt_file(&j, name);
	ASSERT(strstr(text, "\"status\":\"interrupted\"") && strstr(text, "shut down"));
	free(text);
	snprintf(name, sizeof(name), "%s.json", ib);
	text = jt_file(&j, name);
	ASSERT(strstr(text, "\"status\":\"interrupted\""));
	free(text);
	/* No new jobs now. */
	{
		const char *args = "{}";
		yyjson_doc *doc = yyjson_read(args, 2, 0);
		struct rb_job_start st = { .origin = RB_JOB_ORIGIN_ASYNC };
		struct rb_job *job;
		ASSERT_EQ(rb_jobs_submit(j.jobs, &fake_tool, doc, yyjson_doc_get_root(doc), &st, &job), -ESHUTDOWN);
		yyjson_doc_free(doc);
	}
	rb_jobs_free(j.jobs);
	env_teardown(&j.e);
}

static void check_abandon(enum rb_io_kind k)
{
	struct rb_jobs_opts o = { .abandon_ms = 100 };
	struct shut s = { 0 };
	struct jenv j;

	ASSERT(jenv_setup(&j, k, &o));
	fake_hold = true; /* the call ignores cancel and never ends */
	jt_submit(&j, "{\"steps\":1,\"stubborn\":true}", NULL);
	run_a_bit(&j, 3);
	rb_jobs_shutdown(j.jobs, shut_cb, &s);
	/* The call never ends, so only the abandon timer can end the shutdown
	 * (t_run_until fails after 60 s): no wall-clock bound of our own, which
	 * a loaded machine would break. */
	t_run_until(j.e.loop, &s.done);
	ASSERT(s.abandoned);
	/* Let it end so the test can tear down cleanly. */
	fake_hold = false;
	while (j.jobs->running || j.jobs->bg)
		rb_loop_run_once(j.e.loop, true, 10);
	rb_jobs_free(j.jobs);
	env_teardown(&j.e);
}

int main(void)
{
	FOR_BOTH_BACKENDS(k) {
		struct rb_jobs_opts q = { .max_running = 1 };
		struct jenv j;
		int fds;

		if (!jenv_setup(&j, k, NULL))
			continue;
		fds = t_fd_count();
		check_cooperative(&j);
		check_stubborn(&j);
		check_withdraw(&j);
		jt_settle(&j);
		env_check_idle(&j.e);
		ASSERT_EQ(t_fd_count(), fds);
		jenv_teardown(&j);

		ASSERT(jenv_setup(&j, k, &q));
		check_pending_and_misc(&j);
		jenv_teardown(&j);

		check_shutdown(k);
		check_abandon(k);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	return T_EXIT_PASS;
}
