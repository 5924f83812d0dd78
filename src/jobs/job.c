/* job.c: the job table. A job owns one rb_call (tool.h) from the moment it
 * is submitted (async_mode, tasks) or adopted (its time budget ran out);
 * the call itself never restarts: adoption only changes who gets its
 * finish and progress hooks (rb_call_set_owner).
 *
 * Life of a job: pending (queued for a running slot, at most max_running
 * at once) -> running -> completed | failed (the tool returned isError) |
 * cancelled | interrupted (shutdown; or its process died, noticed by
 * store.c). Every status change is written at once; progress at most once
 * per progress_write_ms. One write per job is in flight at a time; a change
 * during a write marks the job dirty and is written when it ends, so the
 * file always ends with the latest state. A job leaves memory once its
 * final state is on disk and nothing refers to it; readers then find it in
 * the state directory like any other process's job. Without a state
 * directory (or while writes fail) finished jobs stay in memory until
 * pruned. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "jobs_internal.h"

#define DEFAULT_BUDGET_MS 20000u
#define DEFAULT_MAX_RUNNING 4u
#define DEFAULT_INLINE_RESULT (16u << 10)
#define DEFAULT_RESULT_FILE (32u << 20)
#define DEFAULT_CANCEL_WAIT_MS 5000u
#define DEFAULT_PROGRESS_WRITE_MS 1000u
#define DEFAULT_ABANDON_MS 5000u

static struct rb_jobs *default_jobs;

void rb_jobs_set_default(struct rb_jobs *jobs) { default_jobs = jobs; }
struct rb_jobs *rb_jobs_default(void) { return default_jobs; }
const char *rb_jobs_state_dir(const struct rb_jobs *jobs) { return jobs->state_path; }
const char *rb_job_id(const struct rb_job *job) { return job->id; }
enum rb_job_status rb_job_status(const struct rb_job *job) { return job->status; }

static const char *const status_names[RB_JOB_STATUS_COUNT] = {
	"pending", "running", "completed", "failed", "cancelled", "interrupted",
};

const char *rb_job_status_name(enum rb_job_status s)
{
	return (unsigned)s < RB_JOB_STATUS_COUNT ? status_names[s] : "unknown";
}

int rb_job_status_parse(const char *name, enum rb_job_status *out)
{
	int i;
	for (i = 0; name && i < RB_JOB_STATUS_COUNT; i++)
		if (!strcmp(name, status_names[i])) {
			*out = (enum rb_job_status)i;
			return 0;
		}
	return -EINVAL;
}

int64_t jobs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool jobs_valid_id(const char *s)
{
	size_t i;
	if (!s)
		return false;
	for (i = 0; i < RB_JOB_ID_LEN; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return s[RB_JOB_ID_LEN] == '\0';
}

/* 64 random bits from getrandom(2); if the pool is not ready (early boot)
 * the clock, pid and a counter are mixed instead: ids must be unguessable
 * in normal operation, and unique always. */
static void new_id(struct rb_jobs *jobs, char out[RB_JOB_ID_LEN + 1])
{
	static uint64_t counter;
	uint64_t x;
	do {
		if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != (ssize_t)sizeof(x)) {
			x = rb_now_ns() ^ ((uint64_t)getpid() << 32) ^ (++counter * 0x9e3779b97f4a7c15ull);
			x ^= x >> 29;
			x *= 0xbf58476d1ce4e5b9ull;
			x ^= x >> 32;
		}
		snprintf(out, RB_JOB_ID_LEN + 1, "%016llx", (unsigned long long)x);
	} while (jobs_find(jobs, out));
}

struct rb_job *jobs_find(struct rb_jobs *jobs, const char *id)
{
	struct rb_list *pos, *tmp;
	rb_list_for_each_safe(pos, tmp, &jobs->own) {
		struct rb_job *j = rb_container_of(pos, struct rb_job, node);
		if (!strcmp(j->id, id))
			return j;
	}
	return NULL;
}

/* ---- budgets ------------------------------------------------------------------ */

static bool parse_seconds(const char *name, const char *v, uint64_t *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(v, &end);
	while (*end == ' ')
		end++;
	if (!*v || *end || errno || !isfinite(s) || s < 0 || s > 1e7) {
		rb_log(RB_LOG_WARNING, "jobs: %s=%s is not a number of seconds from 0 to 10000000; ignored", name, v);
		return false;
	}
	*ms = (uint64_t)(s * 1000.0 + 0.5);
	return true;
}

static int load_budgets(struct rb_jobs *jobs)
{
	const struct rb_tool *const *t;
	uint64_t dflt = jobs->o.budget_ms;
	const char *v;
	size_t n = 0;

	if (!jobs->o.ignore_env && (v = getenv("RINGBANK_TIMEOUT_S")) && *v)
		parse_seconds("RINGBANK_TIMEOUT_S", v, &dflt);
	for (t = rb_tools_all(); *t; t++)
		n++;
	jobs->budgets = calloc(n + 1, sizeof(*jobs->budgets));
	if (!jobs->budgets)
		return -ENOMEM;
	for (t = rb_tools_all(); *t; t++) {
		char name[128];
		size_t i, k = 0;
		uint64_t ms = dflt;

		k = (size_t)snprintf(name, sizeof(name), "RINGBANK_TIMEOUT_");
		for (i = 0; (*t)->name[i] && k + 3 < sizeof(name); i++)
			name[k++] = (char)toupper((unsigned char)(*t)->name[i]);
		memcpy(name + k, "_S", 3);
		if (!jobs->o.ignore_env && (v = getenv(name)) && *v)
			parse_seconds(name, v, &ms);
		jobs->budgets[jobs->nbudgets].tool = *t;
		jobs->budgets[jobs->nbudgets].ms = rb_jobs_is_job_tool(*t) ? 0 : ms;
		jobs->nbudgets++;
	}
	return 0;
}

bool rb_jobs_is_job_tool(const struct rb_tool *tool)
{
	const struct rb_tool *const *t;
	for (t = rb_tools_jobs; *t; t++)
		if (*t == tool)
			return true;
	return false;
}

uint64_t rb_jobs_budget_ms(const struct rb_jobs *jobs, const struct rb_tool *tool)
{
	size_t i;
	if (rb_jobs_is_job_tool(tool))
		return 0;
	for (i = 0; i < jobs->nbudgets; i++)
		if (jobs->budgets[i].tool == tool)
			return jobs->budgets[i].ms;
	return jobs->o.budget_ms;
}

int rb_jobs_call_mode(const struct rb_tool *tool, yyjson_val *args, const char **label, const char **why)
{
	yyjson_val *a = yyjson_obj_get(args, "async_mode"), *l = yyjson_obj_get(args, "job_label");

	*label = NULL;
	*why = NULL;
	if (l && !yyjson_is_null(l)) {
		if (!yyjson_is_str(l)) {
			*why = "job_label: expected a string";
			return -EINVAL;
		}
		if (yyjson_get_len(l) > JOB_LABEL_MAX) {
			*why = "job_label: longer than 200 bytes";
			return -EINVAL;
		}
		*label = yyjson_get_str(l);
	}
	/* async_mode is declared on the bulk tools only; elsewhere it is an
	 * unknown argument like any other and ignored. */
	if (!tool->bulk || rb_jobs_is_job_tool(tool) || !a || yyjson_is_null(a))
		return 0;
	if (!yyjson_is_bool(a)) {
		*why = "async_mode: expected a boolean";
		return -EINVAL;
	}
	return yyjson_get_bool(a) ? 1 : 0;
}

/* ---- table ---------------------------------------------------------------------- */

int rb_jobs_new(struct rb_jobs **out, struct rb_fs *fs, const struct rb_jobs_opts *o)
{
	struct rb_jobs *jobs = calloc(1, sizeof(*jobs));
	char dflt[4096];
	const char *dir;
	int r;

	*out = NULL;
	if (!jobs)
		return -ENOMEM;
	if (o)
		jobs->o = *o;
	if (!jobs->o.max_running)
		jobs->o.max_running = DEFAULT_MAX_RUNNING;
	if (!jobs->o.budget_ms)
		jobs->o.budget_ms = DEFAULT_BUDGET_MS;
	if (!jobs->o.inline_result_max)
		jobs->o.inline_result_max = DEFAULT_INLINE_RESULT;
	if (!jobs->o.result_file_max)
		jobs->o.result_file_max = DEFAULT_RESULT_FILE;
	if (!jobs->o.cancel_wait_ms)
		jobs->o.cancel_wait_ms = DEFAULT_CANCEL_WAIT_MS;
	if (!jobs->o.progress_write_ms)
		jobs->o.progress_write_ms = DEFAULT_PROGRESS_WRITE_MS;
	if (!jobs->o.abandon_ms)
		jobs->o.abandon_ms = DEFAULT_ABANDON_MS;
	jobs->fs = fs;
	jobs->loop = rb_io_loop(rb_fs_io(fs));
	jobs->state_fd = jobs->proc_fd = -1;
	rb_list_init(&jobs->own);
	rb_list_init(&jobs->pending);
	rb_list_init(&jobs->sessions);
	jobs->pump.data = jobs;
	jobs->abandon_timer.data = jobs;
	jobs->shutdown_defer.data = jobs;
	r = load_budgets(jobs);
	if (r < 0) {
		free(jobs);
		return r;
	}
	store_identity(&jobs->me);

	dir = jobs->o.state_dir;
	if (!dir) {
		r = rb_jobs_default_state_dir(dflt, sizeof(dflt));
		if (r < 0)
			rb_log(RB_LOG_WARNING, "jobs: no state directory (set XDG_STATE_HOME or HOME, or give "
			       "--state-dir); jobs are kept in memory only");
		dir = r < 0 ? "" : dflt;
	}
	if (*dir) {
		r = store_open_dir(dir, !jobs->o.state_dir);
		if (r < 0) {
			rb_log(RB_LOG_WARNING, "jobs: state directory %s: %s; jobs are kept in memory only", dir,
			       rb_strerror(r));
		} else {
			jobs->state_fd = r;
			jobs->state_path = realpath(dir, NULL);
			if (!jobs->state_path)
				jobs->state_path = strdup(dir);
			if (!jobs->state_path) {
				rb_jobs_free(jobs);
				return -ENOMEM;
			}
		}
	}
	/* For the liveness check of other processes' jobs (their start time). */
	jobs->proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	*out = jobs;
	return 0;
}

void rb_jobs_free(struct rb_jobs *jobs)
{
	struct rb_list *pos, *tmp;

	if (!jobs)
		return;
	if (default_jobs == jobs)
		default_jobs = NULL;
	rb_list_for_each_safe(pos, tmp, &jobs->own) {
		struct rb_job *j = rb_container_of(pos, struct rb_job, node);
		rb_list_del(&j->node);
		session_job_detach(j);
		yyjson_doc_free(j->req);
		free(j->label);
		free(j->msg);
		free(j->args_json);
		free(j->result);
		free(j->error);
		free(j->token_json);
		free(j);
	}
	if (jobs->state_fd >= 0)
		close(jobs->state_fd);
	if (jobs->proc_fd >= 0)
		close(jobs->proc_fd);
	free(jobs->state_path);
	free(jobs->budgets);
	free(jobs);
}

/* ---- persistence ----------------------------------------------------------------- */

static void job_release_check(struct rb_job *j);
static void job_write(struct rb_job *j);

static void job_free(struct rb_job *j)
{
	rb_list_del(&j->node);
	rb_list_del(&j->qnode);
	session_job_detach(j);
	if (rb_timer_active(&j->wtimer))
		rb_timer_stop(j->jobs->loop, &j->wtimer);
	rb_defer_cancel(j->jobs->loop, &j->start_defer);
	yyjson_doc_free(j->req);
	free(j->label);
	free(j->msg);
	free(j->args_json);
	free(j->result);
	free(j->error);
	free(j->token_json);
	free(j);
}

static void wtimer_fired(struct rb_timer *t)
{
	struct rb_job *j = t->data;
	if (!j->writing && j->dirty)
		job_write(j);
}

/* Marks the job changed and writes it: at once for a status change
 * (urgent), else when the progress interval allows. */
static void job_persist(struct rb_job *j, bool urgent)
{
	struct rb_jobs *jobs = j->jobs;
	uint64_t now, next;

	j->updated_ms = jobs_now_ms();
	if (!jobs->state_path || j->forget) {
		job_release_check(j);
		return;
	}
	j->dirty = true;
	if (urgent)
		j->dirty_urgent = true;
	if (j->writing)
		return; /* written again when this write ends */
	if (!j->dirty_urgent) {
		/* Only progress is throttled: the first progress write goes at
		 * once, then one per interval; status writes never wait. */
		now = rb_now_ns();
		next = j->last_progress_write_ns + (uint64_t)jobs->o.progress_write_ms * 1000000ull;
		if (j->last_progress_write_ns && now < next) {
			if (!rb_timer_active(&j->wtimer))
				rb_timer_start_ns(jobs->loop, &j->wtimer, next - now, wtimer_fired);
			return;
		}
	}
	job_write(j);
}

static void write_done(void *ctx, int res)
{
	struct rb_job *j = ctx;

	j->writing = false;
	if (res < 0) {
		if (!j->persist_failed)
			rb_log(RB_LOG_WARNING, "jobs: writing %s/%s.json: %s (the job stays in memory)",
			       j->jobs->state_path, j->id, rb_strerror(res));
		j->persist_failed = true;
	} else {
		j->persist_failed = false;
		j->persisted = true;
	}
	if (j->dirty) {
		/* Changed while the write ran: the newest state goes next (a
		 * pending status change at once, progress throttled). */
		if (j->dirty_urgent || res < 0)
			job_write(j);
		else
			job_persist(j, false);
		return;
	}
	job_release_check(j);
}

static void sidecar_done(void *ctx, int res)
{
	struct rb_job *j = ctx;

	j->writing = false;
	j->sidecar_done = true;
	if (res < 0) {
		rb_log(RB_LOG_WARNING, "jobs: writing %s/%s.result.json: %s (the result is kept in memory only)",
		       j->jobs->state_path, j->id, rb_strerror(res));
		j->sidecar_failed = true;
	}
	job_write(j);
}

static void job_write(struct rb_job *j)
{
	struct rb_jobs *jobs = j->jobs;
	char name[RB_JOB_ID_LEN + 16];
	char *buf;
	size_t len;

	if (rb_timer_active(&j->wtimer))
		rb_timer_stop(jobs->loop, &j->wtimer);
	/* A large result goes first to its own file, so that a job file that
	 * names it never exists without it. */
	if (j->result && j->result_len > jobs->o.inline_result_max && j->result_len <= jobs->o.result_file_max &&
	    !j->sidecar_done) {
		buf = malloc(j->result_len);
		if (buf) {
			memcpy(buf, j->result, j->result_len);
			snprintf(name, sizeof(name), "%s.result.json", j->id);
			j->writing = true;
			store_write(jobs, name, buf, j->result_len, sidecar_done, j);
			return;
		}
		j->sidecar_done = j->sidecar_failed = true;
	}
	buf = job_serialize(j, true, &len);
	if (!buf) {
		rb_log(RB_LOG_ERROR, "jobs: %s: out of memory serialising the job", j->id);
		j->persist_failed = true;
		j->dirty = j->dirty_urgent = false;
		return;
	}
	if (!j->dirty_urgent && j->have_progress)
		j->last_progress_write_ns = rb_now_ns();
	j->dirty = j->dirty_urgent = false;
	j->writing = true;
	snprintf(name, sizeof(name), "%s.json", j->id);
	store_write(jobs, name, buf, len, write_done, j);
}

/* Deleting a pruned job's files: the record, then its result file. */
struct forget {
	struct rb_jobs *jobs;
	char id[RB_JOB_ID_LEN + 1];
	bool record_done;
	void (*cb)(void *ctx);
	void *ctx;
};

static void forget_unlinked(void *ctx, int res)
{
	struct forget *f = ctx;
	char name[RB_JOB_ID_LEN + 16];

	if (!f->record_done) {
		f->record_done = true;
		snprintf(name, sizeof(name), "%s.result.json", f->id);
		store_unlink(f->jobs, name, forget_unlinked, f);
		return;
	}
	if (f->cb)
		f->cb(f->ctx);
	free(f);
}

static void job_forget_now(struct rb_job *j)
{
	struct rb_jobs *jobs = j->jobs;
	struct forget *f = jobs->state_path ? calloc(1, sizeof(*f)) : NULL;
	void (*cb)(void *ctx) = j->forget_cb;
	void *ctx = j->forget_ctx;
	char name[RB_JOB_ID_LEN + 16];

	if (f) {
		f->jobs = jobs;
		f->cb = cb;
		f->ctx = ctx;
		snprintf(f->id, sizeof(f->id), "%s", j->id);
		snprintf(name, sizeof(name), "%s.json", j->id);
	}
	job_free(j);
	if (f)
		store_unlink(jobs, name, forget_unlinked, f);
	else if (cb)
		cb(ctx);
}

/* Frees the job once it is finished, on disk and unreferenced. */
static void job_release_check(struct rb_job *j)
{
	struct rb_jobs *jobs = j->jobs;

	if (!rb_job_status_terminal(j->status) || j->call || j->writing || j->holds || !rb_list_empty(&j->waits))
		return;
	if (j->forget) {
		job_forget_now(j);
		if (jobs->shutting_down)
			jobs_bg_done(jobs);
		return;
	}
	if (j->dirty || rb_timer_active(&j->wtimer))
		return;
	if (jobs->state_path && j->persisted && !j->persist_failed && !(j->result && j->sidecar_failed))
		job_free(j);
	if (jobs->shutting_down)
		jobs_bg_done(jobs);
}

/* ---- status changes ------------------------------------------------------------------ */

static void set_status(struct rb_job *j, enum rb_job_status s)
{
	j->status = s;
	if (s == RB_JOB_RUNNING && !j->started_ms)
		j->started_ms = jobs_now_ms();
	if (rb_job_status_terminal(s) && !j->completed_ms)
		j->completed_ms = jobs_now_ms();
	job_persist(j, true);
	session_job_status(j);
}

static void set_error(struct rb_job *j, const char *text)
{
	size_t n = strlen(text);
	free(j->error);
	j->error = strndup(text, n > JOB_ERROR_MAX ? JOB_ERROR_MAX : n);
}

/* ---- the call's hooks ------------------------------------------------------------------ */

struct job_cancel {
	struct rb_list node; /* job->waits while waiting */
	struct rb_jobs *jobs;
	struct rb_job *job;
	struct rb_timer timer;
	uint64_t start_ns;
	job_cancel_cb cb;
	void *ctx;
	bool withdrawn, loading;
	unsigned wait_ms;
	char id[RB_JOB_ID_LEN + 1];
};

static void cancel_report_own(struct job_cancel *c, bool was_terminal, bool stopped);

static void wake_waits(struct rb_job *j)
{
	struct rb_list *pos, *tmp;
	rb_list_for_each_safe(pos, tmp, &j->waits) {
		struct job_cancel *c = rb_container_of(pos, struct job_cancel, node);
		cancel_report_own(c, false, true);
	}
}

static void pump_cb(struct rb_defer *d);

static void job_finished(struct rb_call *call, yyjson_mut_doc *doc, yyjson_mut_val *result, bool is_error)
{
	struct rb_job *j = rb_call_owner(call);
	struct rb_jobs *jobs = j->jobs;

	j->holds++;
	j->call = NULL;
	jobs->running--;
	if (j->status == RB_JOB_RUNNING) {
		size_t len = 0;
		char *s = yyjson_mut_val_write(result, YYJSON_WRITE_NOFLAG, &len);
		if (!s) {
			set_error(j, "the result could not be encoded as JSON (invalid UTF-8 in a string, or out of memory)");
			j->status = RB_JOB_FAILED;
		} else {
			j->result = s;
			j->result_len = len;
			if (is_error) {
				yyjson_mut_val *c = yyjson_mut_obj_get(result, "content");
				const char *t = yyjson_mut_get_str(yyjson_mut_obj_get(yyjson_mut_arr_get_first(c), "text"));
				set_error(j, t ? t : "the tool reported an error");
			}
			j->status = is_error ? RB_JOB_FAILED : RB_JOB_COMPLETED;
		}
		if (j->result_len > jobs->o.result_file_max)
			rb_log(RB_LOG_WARNING, "jobs: %s: the result of %zu bytes is over the %zu-byte limit and is "
			       "not stored", j->id, j->result_len, jobs->o.result_file_max);
		j->completed_ms = jobs_now_ms();
		job_persist(j, true);
		session_job_status(j);
	} else {
		/* Cancelled or interrupted while it ran: the record says so
		 * already; whatever the call produced is dropped. */
		job_persist(j, true);
	}
	/* The request document held the arguments; the call is done with them. */
	yyjson_doc_free(j->req);
	j->req = NULL;
	j->args = NULL;
	wake_waits(j);
	if (!rb_list_empty(&jobs->pending) && !jobs->shutting_down)
		rb_defer(jobs->loop, &jobs->pump, pump_cb);
	j->holds--;
	job_release_check(j);
	if (jobs->shutting_down)
		jobs_bg_done(jobs);
}

static void job_progress(struct rb_call *call, uint64_t cur, uint64_t total, const char *msg)
{
	struct rb_job *j = rb_call_owner(call);

	j->have_progress = true;
	j->cur = cur;
	j->total = total;
	free(j->msg);
	j->msg = msg ? strdup(msg) : NULL;
	job_persist(j, false);
	session_job_progress(j);
}

static const struct rb_call_hooks job_hooks = { .finish = job_finished, .progress = job_progress };

/* ---- starting ---------------------------------------------------------------------------- */

static struct rb_job *job_new(struct rb_jobs *jobs, const struct rb_tool *tool, yyjson_val *args,
			      const struct rb_job_start *s)
{
	struct rb_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->jobs = jobs;
	j->tool = tool;
	j->origin = s->origin;
	j->status = RB_JOB_PENDING;
	{
		static uint64_t last_ns;
		struct timespec ts;
		uint64_t ns;
		clock_gettime(CLOCK_REALTIME, &ts);
		ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		j->created_ns = last_ns = ns > last_ns ? ns : last_ns + 1;
		j->created_ms = j->updated_ms = (int64_t)(j->created_ns / 1000000ull);
	}
	rb_list_init(&j->node);
	rb_list_init(&j->qnode);
	rb_list_init(&j->waits);
	rb_list_init(&j->snode);
	j->wtimer.data = j;
	j->start_defer.data = j;
	if (s->label && !(j->label = strdup(s->label)))
		goto oom;
	if (args) {
		size_t len = 0;
		j->args_json = yyjson_val_write(args, YYJSON_WRITE_NOFLAG, &len);
		if (j->args_json && len > JOB_ARGS_MAX) {
			free(j->args_json);
			j->args_json = NULL;
			if (asprintf(&j->args_json, "{\"truncated\":true,\"bytes\":%zu}", len) < 0)
				j->args_json = NULL;
		}
	}
	new_id(jobs, j->id);
	rb_list_add_tail(&jobs->own, &j->node);
	if (s->session)
		session_job_attach(s->session, j, s->progress_token);
	return j;
oom:
	free(j->label);
	free(j);
	return NULL;
}

static void job_run(struct rb_job *j)
{
	struct rb_jobs *jobs = j->jobs;
	int r = rb_call_new(&j->call, j->tool, jobs->fs, j->args, true, &job_hooks, j);

	if (r < 0) {
		j->call = NULL;
		set_error(j, "could not start the call: out of memory");
		yyjson_doc_free(j->req);
		j->req = NULL;
		set_status(j, RB_JOB_FAILED);
		return;
	}
	jobs->running++;
	set_status(j, RB_JOB_RUNNING);
	j->holds++;
	rb_call_start(j->call); /* the tool may finish inside: job_finished runs then */
	j->holds--;
	job_release_check(j);
}

static void pump_cb(struct rb_defer *d)
{
	struct rb_jobs *jobs = d->data;
	struct rb_list *n;

	while (!jobs->shutting_down && jobs->running < jobs->o.max_running && (n = rb_list_pop(&jobs->pending)))
		job_run(rb_container_of(n, struct rb_job, qnode));
}

int rb_jobs_submit(struct rb_jobs *jobs, const struct rb_tool *tool, yyjson_doc *req, yyjson_val *args,
		   const struct rb_job_start *s, struct rb_job **out)
{
	struct rb_job *j;

	*out = NULL;
	if (jobs->shutting_down)
		return -ESHUTDOWN;
	j = job_new(jobs, tool, args, s);
	if (!j)
		return -ENOMEM;
	j->req = req;
	j->args = args;
	rb_list_add_tail(&jobs->pending, &j->qnode);
	job_persist(j, true);
	/* Started on the next turn at the earliest: the caller answers the
	 * request first, and a tool that finishes inside run() cannot free
	 * the document the caller is still reading its id from. */
	rb_defer(jobs->loop, &jobs->pump, pump_cb);
	rb_log(RB_LOG_INFO, "jobs: %s: %s started as a job (%s)", j->id, tool->name,
	       s->origin == RB_JOB_ORIGIN_TASK ? "task" : "async_mode");
	*out = j;
	return 0;
}

int rb_jobs_adopt(struct rb_jobs *jobs, struct rb_call *call, yyjson_doc *req, yyjson_val *args,
		  const struct rb_job_start *s, struct rb_job **out)
{
	const struct rb_tool *tool = rb_call_tool(call);
	uint64_t budget = rb_jobs_budget_ms(jobs, tool);
	struct rb_job *j;

	*out = NULL;
	if (jobs->shutting_down)
		return -ESHUTDOWN;
	j = job_new(jobs, tool, args, s);
	if (!j)
		return -ENOMEM;
	/* The call began one budget ago. */
	j->created_ms = j->started_ms = jobs_now_ms() - (int64_t)budget;
	j->created_ns -= budget * 1000000ull;
	j->req = req;
	j->args = args;
	j->call = call;
	jobs->running++;
	rb_call_set_owner(call, &job_hooks, j, true);
	set_status(j, RB_JOB_RUNNING);
	rb_log(RB_LOG_INFO, "jobs: %s: %s still running after its %.1f s budget; continuing as a job", j->id,
	       tool->name, (double)budget / 1000.0);
	*out = j;
	return 0;
}

/* ---- cancel ------------------------------------------------------------------------------ */

static void cancel_free(struct job_cancel *c)
{
	rb_list_del(&c->node);
	if (rb_timer_active(&c->timer))
		rb_timer_stop(c->jobs->loop, &c->timer);
	free(c);
}

static void cancel_report_own(struct job_cancel *c, bool was_terminal, bool stopped)
{
	struct job_cancel_report rep = { 0 };
	struct rb_job *j = c->job;
	struct jrec rec = { 0 };

	rb_list_del(&c->node);
	if (rb_timer_active(&c->timer))
		rb_timer_stop(c->jobs->loop, &c->timer);
	rep.was_terminal = was_terminal;
	rep.stopped = stopped;
	rep.waited_ms = (rb_now_ns() - c->start_ns) / 1000000ull;
	if (j && job_rec(j, &rec) == 0)
		rep.rec = &rec;
	if (!c->withdrawn)
		c->cb(c->ctx, &rep);
	jrec_clear(&rec);
	free(c);
	if (j)
		job_release_check(j);
}

static void cancel_timer(struct rb_timer *t)
{
	struct job_cancel *c = t->data;
	cancel_report_own(c, false, c->job->call == NULL);
}

static void cancel_loaded(void *ctx, int res, struct jrec *rec, const char *why)
{
	struct job_cancel *c = ctx;
	struct job_cancel_report rep = { 0 };

	c->loading = false;
	if (c->withdrawn) {
		free(c);
		return;
	}
	rep.rec = res == 0 ? rec : NULL;
	if (res == -ENOENT) {
		rep.res = res;
		snprintf(rep.why, sizeof(rep.why), "job %s: no such job (never created, or pruned)", c->id);
	} else if (res < 0) {
		rep.res = res;
		snprintf(rep.why, sizeof(rep.why), "job %s: %s", c->id, why ? why : rb_strerror(res));
	} else if (rb_job_status_terminal(rec->status)) {
		rep.was_terminal = rep.stopped = true;
	} else {
		rep.res = -EPERM;
		snprintf(rep.why, sizeof(rep.why),
			 "job %s is run by another ringbank process (pid %d on %s); cancel it through that server",
			 c->id, rec->owner.pid, rec->owner.host[0] ? rec->owner.host : "an unknown host");
	}
	c->cb(c->ctx, &rep);
	free(c);
}

void jobs_cancel(struct rb_jobs *jobs, const char *id, unsigned wait_ms, job_cancel_cb cb, void *ctx,
		 struct job_cancel **h)
{
	struct job_cancel *c = calloc(1, sizeof(*c));
	struct rb_job *j = jobs_find(jobs, id);

	/* *h is set only when the answer comes later: a callback run from in
	 * here may free the caller's state that holds h. */
	if (h)
		*h = NULL;
	if (!c) {
		struct job_cancel_report rep = { .res = -ENOMEM };
		snprintf(rep.why, sizeof(rep.why), "job %s: out of memory", id);
		cb(ctx, &rep);
		return;
	}
	c->jobs = jobs;
	c->cb = cb;
	c->ctx = ctx;
	c->wait_ms = wait_ms;
	c->start_ns = rb_now_ns();
	c->timer.data = c;
	snprintf(c->id, sizeof(c->id), "%s", id);
	rb_list_init(&c->node);
	if (!j) {
		/* Not ours (or no longer in memory): the file says whose it is.
		 * The load always answers on a later turn. */
		c->loading = true;
		if (h)
			*h = c;
		store_load_one(jobs, id, false, cancel_loaded, c);
		return;
	}
	c->job = j;
	if (rb_job_status_terminal(j->status)) {
		cancel_report_own(c, true, j->call == NULL);
		return;
	}
	rb_log(RB_LOG_INFO, "jobs: %s: cancelled (%s)", j->id, rb_job_status_name(j->status));
	j->holds++;
	if (j->status == RB_JOB_PENDING) {
		rb_list_del(&j->qnode);
		yyjson_doc_free(j->req);
		j->req = NULL;
		j->args = NULL;
		set_status(j, RB_JOB_CANCELLED);
		j->holds--;
		cancel_report_own(c, false, true);
		return;
	}
	/* Running: the record says cancelled from now on (MCP tasks want the
	 * status before the answer); the call is asked to stop and we wait
	 * for it, at most wait_ms. */
	set_status(j, RB_JOB_CANCELLED);
	rb_list_add_tail(&j->waits, &c->node);
	rb_call_cancel(j->call);
	if (!j->call) {
		/* It ended inside: job_finished has reported and freed c. */
		j->holds--;
		job_release_check(j);
		return;
	}
	j->holds--;
	if (!wait_ms) {
		cancel_report_own(c, false, false);
		return;
	}
	if (h)
		*h = c;
	rb_timer_start(jobs->loop, &c->timer, wait_ms, cancel_timer);
}

void jobs_cancel_withdraw(struct job_cancel *c)
{
	if (!c)
		return;
	if (c->loading) {
		c->withdrawn = true; /* freed when the load ends */
		return;
	}
	if (c->job) {
		struct rb_job *j = c->job;
		cancel_free(c);
		job_release_check(j);
		return;
	}
	cancel_free(c);
}

bool jobs_forget(struct rb_jobs *jobs, struct rb_job *j, void (*done)(void *ctx), void *ctx)
{
	if (!rb_job_status_terminal(j->status) || j->forget)
		return false;
	j->forget = true;
	j->forget_cb = done;
	j->forget_ctx = ctx;
	if (rb_timer_active(&j->wtimer))
		rb_timer_stop(jobs->loop, &j->wtimer);
	j->dirty = j->dirty_urgent = false;
	job_release_check(j); /* now, or when its call or its last write ends */
	return true;
}

/* ---- shutdown ---------------------------------------------------------------------------- */

static void shutdown_finish(struct rb_defer *d)
{
	struct rb_jobs *jobs = d->data;
	if (rb_timer_active(&jobs->abandon_timer))
		rb_timer_stop(jobs->loop, &jobs->abandon_timer);
	jobs->shutdown_cb(jobs->shutdown_ctx, jobs->abandoned);
}

void jobs_bg_done(struct rb_jobs *jobs)
{
	struct rb_list *pos, *tmp;

	if (!jobs->shutting_down || jobs->shutdown_done || jobs->bg || jobs->running)
		return;
	rb_list_for_each_safe(pos, tmp, &jobs->own) {
		struct rb_job *j = rb_container_of(pos, struct rb_job, node);
		if (j->call || j->writing || (j->dirty && jobs->state_path))
			return;
	}
	jobs->shutdown_done = true;
	rb_defer(jobs->loop, &jobs->shutdown_defer, shutdown_finish);
}

static void abandon_fired(struct rb_timer *t)
{
	struct rb_jobs *jobs = t->data;
	if (jobs->shutdown_done)
		return;
	rb_log(RB_LOG_ERROR, "jobs: shutdown: %u job call(s) and %u file operation(s) still in flight after %u ms; "
	       "giving up on them", jobs->running, jobs->bg, jobs->o.abandon_ms);
	jobs->abandoned = jobs->shutdown_done = true;
	rb_defer(jobs->loop, &jobs->shutdown_defer, shutdown_finish);
}

void rb_jobs_shutdown(struct rb_jobs *jobs, void (*done)(void *ctx, bool abandoned), void *ctx)
{
	struct rb_list *pos, *tmp;
	unsigned n = 0;

	if (jobs->shutting_down)
		return;
	jobs->shutting_down = true;
	jobs->shutdown_cb = done;
	jobs->shutdown_ctx = ctx;
	rb_defer_cancel(jobs->loop, &jobs->pump);
	rb_list_for_each_safe(pos, tmp, &jobs->own) {
		struct rb_job *j = rb_container_of(pos, struct rb_job, node);
		if (rb_job_status_terminal(j->status))
			continue;
		n++;
		j->holds++;
		set_error(j, "the server shut down before the job finished");
		rb_list_del(&j->qnode);
		if (j->status == RB_JOB_PENDING) {
			yyjson_doc_free(j->req);
			j->req = NULL;
			j->args = NULL;
		}
		set_status(j, RB_JOB_INTERRUPTED);
		if (j->call)
			rb_call_cancel(j->call);
		j->holds--;
	}
	/* Give pending waiters their answer now: the calls are being cancelled. */
	rb_list_for_each_safe(pos, tmp, &jobs->own) {
		struct rb_job *j = rb_container_of(pos, struct rb_job, node);
		j->holds++;
		while (!rb_list_empty(&j->waits))
			cancel_report_own(rb_container_of(j->waits.next, struct job_cancel, node), false, j->call == NULL);
		j->holds--;
	}
	if (n)
		rb_log(RB_LOG_INFO, "jobs: shutdown: %u unfinished job(s) marked interrupted", n);
	rb_timer_start(jobs->loop, &jobs->abandon_timer, jobs->o.abandon_ms, abandon_fired);
	jobs_bg_done(jobs);
}
