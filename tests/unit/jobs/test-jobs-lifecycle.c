/* Description: a job's life on both backends: submitted (pending, then
 * running on a later turn), progress, completed with its result in the
 * record; isError results make a failed job that keeps its result; a large
 * result goes to <id>.result.json and comes back through a load; a result
 * over the stored limit leaves a marker; max_running queues jobs as
 * pending in order; a running call adopted from another owner finishes as
 * a job (its first owner never hears of it again); progress writes are
 * throttled to one per interval. */
#include "jobs_t.h"

static void check_basic(struct jenv *j)
{
	int runs = fake_runs;
	struct rb_job *job = jt_submit(j, "{\"steps\":20}", "first");
	char id[RB_JOB_ID_LEN + 1];
	struct jrec r;
	yyjson_val *res;

	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	ASSERT(jobs_valid_id(id));
	ASSERT_EQ(rb_job_status(job), RB_JOB_PENDING); /* starts on a later turn */
	ASSERT_EQ(fake_runs, runs);
	ASSERT_EQ(jt_wait_end(j, id), RB_JOB_COMPLETED);
	jt_settle(j);
	ASSERT(!jobs_find(j->jobs, id)); /* on disk: gone from memory */
	ASSERT_EQ(jt_load(j, id, true, &r, NULL, 0), 0);
	ASSERT(!r.own);
	ASSERT_STREQ(jt_str(&r, "label"), "first");
	ASSERT_STREQ(jt_str(&r, "origin"), "async");
	ASSERT_STREQ(jt_str(&r, "tool"), "fake_slow");
	ASSERT(jt_str(&r, "started") && jt_str(&r, "completed"));
	ASSERT(iso_parse(jt_str(&r, "completed")) >= iso_parse(jt_str(&r, "started")));
	ASSERT_EQ(yyjson_get_uint(yyjson_obj_get(yyjson_obj_get(r.root, "progress"), "current")), 20);
	ASSERT_EQ(yyjson_get_uint(yyjson_obj_get(yyjson_obj_get(r.root, "progress"), "total")), 20);
	ASSERT_EQ(yyjson_get_int(yyjson_obj_get(yyjson_obj_get(r.root, "owner"), "pid")), getpid());
	res = jrec_result(&r);
	ASSERT(res);
	ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(yyjson_arr_get_first(yyjson_obj_get(res, "content")), "text")), "xxxx");
	jrec_clear(&r);
}

static void check_failed(struct jenv *j)
{
	struct rb_job *job = jt_submit(j, "{\"steps\":2,\"error\":true}", NULL);
	char id[RB_JOB_ID_LEN + 1];
	struct jrec r;

	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	ASSERT_EQ(jt_wait_end(j, id), RB_JOB_FAILED);
	ASSERT_EQ(jt_load(j, id, true, &r, NULL, 0), 0);
	ASSERT_STREQ(jt_str(&r, "error"), "fake: failed on purpose");
	ASSERT(yyjson_get_bool(yyjson_obj_get(jrec_result(&r), "isError")));
	jrec_clear(&r);
}

static void check_sidecar(struct jenv *j)
{
	/* inline limit 4096 (set by main) */
	struct rb_job *job = jt_submit(j, "{\"steps\":1,\"bytes\":20000}", NULL);
	char id[RB_JOB_ID_LEN + 1], name[64];
	char *text;
	struct jrec r;
	const char *t;

	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	ASSERT_EQ(jt_wait_end(j, id), RB_JOB_COMPLETED);
	jt_settle(j);
	snprintf(name, sizeof(name), "%s.json", id);
	text = jt_file(j, name);
	ASSERT(text && strstr(text, "\"result_file\":\"") && !strstr(text, "xxxxxxxx"));
	ASSERT(strlen(text) < 4096);
	free(text);
	snprintf(name, sizeof(name), "%s.result.json", id);
	ASSERT(jt_exists(j, name));
	ASSERT_EQ(jt_load(j, id, true, &r, NULL, 0), 0);
	t = yyjson_get_str(yyjson_obj_get(yyjson_arr_get_first(yyjson_obj_get(jrec_result(&r), "content")), "text"));
	ASSERT(t && strlen(t) == 20000);
	jrec_clear(&r);
	/* Without asking for the result, the sidecar is not read. */
	ASSERT_EQ(jt_load(j, id, false, &r, NULL, 0), 0);
	ASSERT(!jrec_result(&r));
	jrec_clear(&r);
}

static void check_truncated(struct jenv *j)
{
	/* stored limit 65536 (set by main) */
	struct rb_job *job = jt_submit(j, "{\"steps\":1,\"bytes\":100000}", NULL);
	char id[RB_JOB_ID_LEN + 1];
	yyjson_mut_doc *d = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *v;
	struct jrec r;

	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	ASSERT_EQ(jt_wait_end(j, id), RB_JOB_COMPLETED);
	jt_settle(j);
	ASSERT_EQ(jt_load(j, id, true, &r, NULL, 0), 0);
	ASSERT(!jrec_result(&r));
	ASSERT(yyjson_obj_get(r.root, "result_truncated"));
	v = jrec_view(d, &r, true, false);
	ASSERT(strstr(yyjson_mut_get_str(yyjson_mut_obj_get(v, "result_note")), "over the 65536-byte limit"));
	jrec_clear(&r);
	yyjson_mut_doc_free(d);
}

static void check_queue(struct jenv *j)
{
	/* max_running 1 (set by main) */
	struct rb_job *a = jt_submit(j, "{\"steps\":10}", NULL), *b = jt_submit(j, "{\"steps\":2}", NULL);
	char ia[RB_JOB_ID_LEN + 1], ib[RB_JOB_ID_LEN + 1];
	struct jrec ra, rb2;
	int runs = fake_runs;

	snprintf(ia, sizeof(ia), "%s", rb_job_id(a));
	snprintf(ib, sizeof(ib), "%s", rb_job_id(b));
	rb_loop_run_once(j->e.loop, false, 0);
	ASSERT_EQ(rb_job_status(a), RB_JOB_RUNNING);
	ASSERT_EQ(rb_job_status(b), RB_JOB_PENDING);
	ASSERT_EQ(fake_runs, runs + 1);
	ASSERT_EQ(jt_wait_end(j, ib), RB_JOB_COMPLETED);
	ASSERT_EQ(jt_load(j, ia, false, &ra, NULL, 0), 0);
	ASSERT_EQ(jt_load(j, ib, false, &rb2, NULL, 0), 0);
	ASSERT_EQ(ra.status, RB_JOB_COMPLETED);
	ASSERT(iso_parse(jt_str(&rb2, "started")) >= iso_parse(jt_str(&ra, "completed")));
	jrec_clear(&ra);
	jrec_clear(&rb2);
}

/* ---- adoption ---- */

static int first_owner_heard;
static void first_finish(struct rb_call *c, yyjson_mut_doc *d, yyjson_mut_val *r, bool e) { first_owner_heard++; }
static void first_progress(struct rb_call *c, uint64_t a, uint64_t b, const char *m) { first_owner_heard++; }
static const struct rb_call_hooks first_hooks = { first_finish, first_progress };

static void check_adopt(struct jenv *j)
{
	const char *args = "{\"steps\":20}";
	yyjson_doc *doc = yyjson_read(args, strlen(args), 0);
	struct rb_job_start s = { .origin = RB_JOB_ORIGIN_BUDGET };
	struct rb_call *call;
	struct rb_job *job;
	char id[RB_JOB_ID_LEN + 1];
	struct jrec r;
	int i;

	ASSERT_EQ(rb_call_new(&call, &fake_tool, j->e.fs, yyjson_doc_get_root(doc), false, &first_hooks, NULL), 0);
	rb_call_start(call);
	for (i = 0; i < 3; i++)
		rb_loop_run_once(j->e.loop, true, 10);
	ASSERT_EQ(rb_jobs_adopt(j->jobs, call, doc, yyjson_doc_get_root(doc), &s, &job), 0);
	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	ASSERT_EQ(rb_job_status(job), RB_JOB_RUNNING);
	ASSERT_EQ(jt_wait_end(j, id), RB_JOB_COMPLETED);
	ASSERT_EQ(first_owner_heard, 0);
	ASSERT_EQ(jt_load(j, id, true, &r, NULL, 0), 0);
	ASSERT_STREQ(jt_str(&r, "origin"), "budget");
	/* The work was not restarted: progress reached 20 in one run. */
	ASSERT_EQ(yyjson_get_uint(yyjson_obj_get(yyjson_obj_get(r.root, "progress"), "current")), 20);
	jrec_clear(&r);
}

/* ---- progress writes are throttled ---- */

static void check_throttle(struct jenv *j)
{
	/* 300 progress steps over ~1.5 s with a 500 ms write interval: a
	 * handful of writes, not hundreds. Every write is a new inode. */
	struct rb_job *job = jt_submit(j, "{\"steps\":300}", NULL);
	char id[RB_JOB_ID_LEN + 1], path[4700];
	ino_t last = 0;
	unsigned writes = 0;
	uint64_t t0 = rb_now_ns(), ms;
	struct stat st;

	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	snprintf(path, sizeof(path), "%s/%s.json", j->state, id);
	while (jobs_find(j->jobs, id) || j->jobs->bg) {
		rb_loop_run_once(j->e.loop, true, 1);
		if (stat(path, &st) == 0 && st.st_ino != last) {
			last = st.st_ino;
			writes++;
		}
	}
	ms = (rb_now_ns() - t0) / 1000000;
	/* pending, running, the first progress at once, then at most one per
	 * 500 ms of the job's life (~1.5 s, more on a loaded machine: so the
	 * bound follows the time it took), completed (+1 for the result write) */
	ASSERT_LE(writes, 5 + ms / 500);
	ASSERT_GE(writes, 3);
}

/* ---- prune of a job whose last write is still in flight ---- */

static bool forgotten;
static void forgot(void *ctx) { forgotten = true; }

static void check_forget(struct jenv *j)
{
	struct rb_job *job = jt_submit(j, "{\"steps\":1,\"bytes\":20000}", NULL);
	char id[RB_JOB_ID_LEN + 1], name[64];

	snprintf(id, sizeof(id), "%s", rb_job_id(job));
	while (!rb_job_status_terminal(rb_job_status(job)))
		rb_loop_run_once(j->e.loop, true, 1);
	/* It ended this turn: its record (and result file) are being written. */
	ASSERT(job->writing);
	forgotten = false;
	ASSERT(jobs_forget(j->jobs, job, forgot, NULL));
	t_run_until(j->e.loop, &forgotten);
	ASSERT(!jobs_find(j->jobs, id));
	jt_settle(j);
	snprintf(name, sizeof(name), "%s.json", id);
	ASSERT(!jt_exists(j, name));
	snprintf(name, sizeof(name), "%s.result.json", id);
	ASSERT(!jt_exists(j, name));
	ASSERT_EQ(jt_load(j, id, false, NULL, NULL, 0), -ENOENT);
}

int main(void)
{
	FOR_BOTH_BACKENDS(k) {
		struct rb_jobs_opts o = { .inline_result_max = 4096, .result_file_max = 65536 };
		struct rb_jobs_opts q = { .max_running = 1 };
		struct rb_jobs_opts t = { .progress_write_ms = 500 };
		struct jenv j;

		if (!jenv_setup(&j, k, &o))
			continue;
		check_basic(&j);
		check_failed(&j);
		check_sidecar(&j);
		check_truncated(&j);
		check_adopt(&j);
		check_forget(&j);
		jt_settle(&j);
		jenv_teardown(&j);

		ASSERT(jenv_setup(&j, k, &q));
		check_queue(&j);
		jenv_teardown(&j);

		ASSERT(jenv_setup(&j, k, &t));
		check_throttle(&j);
		jenv_teardown(&j);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	return T_EXIT_PASS;
}
