/* jobs.h: the job table (issue 5). Long tool calls never block anyone:
 *
 *  - Time budgets: every tools/call has one (default 20 s; RINGBANK_TIMEOUT_S
 *    overrides it globally, RINGBANK_TIMEOUT_<TOOL>_S per tool, the tool name
 *    upper-cased; 0 = no budget). A call still running at its budget is
 *    ADOPTED: the same rb_call keeps running (nothing restarts, nothing is
 *    lost), its owner changes from the MCP session to the job table, and the
 *    client gets a normal tool result {job_id, status, message}.
 *  - `async_mode: true` on a bulk tool (and a task-augmented tools/call,
 *    MCP 2025-11-25) SUBMITS the call as a job at once.
 *  - Jobs are watched (job_status, list_jobs), cancelled with a bounded wait
 *    (cancel_job) and pruned (prune_jobs): src/jobs/tools.c.
 *  - Persistence: one file per job, <state dir>/<id>.json, replaced
 *    atomically (rb_fs_write_atomic beneath the state dir's own fd) on every
 *    state change and at most once a second for progress. Results over
 *    inline_result_max go beside it as <id>.result.json. Only the owner
 *    process writes a job's file (the owner is recorded: host, boot id, pid,
 *    process start time), except that a job whose owner is provably dead is
 *    rewritten as `interrupted` by whoever notices (at start-up, or when a
 *    listing reads it). Several processes may share one state directory:
 *    listings read it on demand. A file that does not parse is reported and
 *    renamed to <id>.json.corrupt; it never brings the server down.
 *
 * Everything runs on the loop thread. Functions return 0 or a negative
 * errno. Job ids are 16 lower-case hex characters from getrandom(2). */
#ifndef RINGBANK_JOBS_H
#define RINGBANK_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <yyjson.h>

#include "ringbank/fs.h"
#include "ringbank/mcp.h"
#include "ringbank/tool.h"

#define RB_JOB_ID_LEN 16

struct rb_jobs;
struct rb_job;
struct rb_jobs_session;

enum rb_job_status {
	RB_JOB_PENDING,	    /* accepted, waiting for a running slot */
	RB_JOB_RUNNING,
	RB_JOB_COMPLETED,   /* the tool returned a result */
	RB_JOB_FAILED,	    /* the tool returned isError (the result is kept) */
	RB_JOB_CANCELLED,   /* cancel_job / tasks/cancel */
	RB_JOB_INTERRUPTED, /* its process ended (crash, kill, shutdown) first */
	RB_JOB_STATUS_COUNT
};
const char *rb_job_status_name(enum rb_job_status s);
/* -EINVAL for an unknown name. */
int rb_job_status_parse(const char *name, enum rb_job_status *out);
static inline bool rb_job_status_terminal(enum rb_job_status s) { return s >= RB_JOB_COMPLETED; }

enum rb_job_origin {
	RB_JOB_ORIGIN_BUDGET, /* a foreground call outlived its time budget */
	RB_JOB_ORIGIN_ASYNC,  /* async_mode: true */
	RB_JOB_ORIGIN_TASK,   /* task-augmented tools/call (MCP tasks) */
};

struct rb_jobs_opts {
	const char *state_dir;	    /* NULL: the default (rb_jobs_default_state_dir); "" = memory only */
	unsigned max_running;	    /* jobs running at once; more wait as pending (default 4) */
	uint64_t budget_ms;	    /* default budget (default 20000); the environment overrides it */
	bool ignore_env;	    /* do not read RINGBANK_TIMEOUT_* (tests) */
	size_t inline_result_max;   /* larger results go to <id>.result.json (default 16 KiB: listings stay cheap) */
	size_t result_file_max;	    /* larger results are dropped with a marker (default 32 MiB) */
	unsigned cancel_wait_ms;    /* default wait of cancel_job (default 5000) */
	unsigned progress_write_ms; /* at most one progress write per job per this (default 1000) */
	unsigned abandon_ms;	    /* shutdown: give up on cancelled calls after this (default 5000) */
	bool no_fsync;		    /* tests only */
};

/* $XDG_STATE_HOME/ringbank, else $HOME/.local/state/ringbank. -ENOENT if neither is set. */
int rb_jobs_default_state_dir(char *buf, size_t n);

/* Creates the table. The state directory is created (mode 0700, parents
 * too) and opened once, at start-up, synchronously; if that fails the
 * table runs in memory only and says so on stderr (never fatal). Reads the
 * budgets from the environment. */
int rb_jobs_new(struct rb_jobs **out, struct rb_fs *fs, const struct rb_jobs_opts *o);
/* Start-up sweep, asynchronous: job files whose owner is provably dead
 * (same host and boot, pid gone or reused) and that still say pending or
 * running are rewritten as interrupted. done may be NULL. */
void rb_jobs_recover(struct rb_jobs *jobs, void (*done)(void *ctx, unsigned interrupted), void *ctx);
/* Stops taking jobs; pending and running jobs become interrupted (their
 * calls are cancelled); waits for the calls and the writes to end, at most
 * abandon_ms, then calls done once from the loop (abandoned: something was
 * still in flight, exit without draining). */
void rb_jobs_shutdown(struct rb_jobs *jobs, void (*done)(void *ctx, bool abandoned), void *ctx);
/* After shutdown's done (or never started). NULL ok. */
void rb_jobs_free(struct rb_jobs *jobs);
/* For `ringbank serve`: --state-dir DIR, --max-jobs N (1 consumed, 0 not
 * ours, -1 bad value, message printed); the usage lines; shutdown with the
 * loop run until it is done (false: abandoned, exit at once). */
int rb_jobs_parse_opt(struct rb_jobs_opts *o, int argc, char **argv, int *i);
void rb_jobs_usage(FILE *f);
bool rb_jobs_shutdown_wait(struct rb_jobs *jobs);
/* rb_jobs_recover with the loop run until it is done (start-up). */
void rb_jobs_recover_wait(struct rb_jobs *jobs);
const char *rb_jobs_state_dir(const struct rb_jobs *jobs); /* NULL when memory only */

/* The process's table, for the job tools (one loop, one table per process). */
void rb_jobs_set_default(struct rb_jobs *jobs);
struct rb_jobs *rb_jobs_default(void);

/* The time budget of a tool in ms (0 = none). Job tools have none. */
uint64_t rb_jobs_budget_ms(const struct rb_jobs *jobs, const struct rb_tool *tool);
/* Whether the tool is one of the job tools (they never become jobs). */
bool rb_jobs_is_job_tool(const struct rb_tool *tool);

/* How a new job came to be. label: job_label (copied; NULL ok).
 * session + progress_token: a task; its session gets notifications/progress
 * with that token and notifications/tasks/status while it lives. */
struct rb_job_start {
	enum rb_job_origin origin;
	const char *label;
	struct rb_jobs_session *session;
	yyjson_val *progress_token;
};

/* Reads the job arguments of a tools/call: async_mode (bulk tools only)
 * and job_label. Returns 1 to start a job at once, 0 to run in the
 * foreground, -EINVAL with *why set for a bad value. */
int rb_jobs_call_mode(const struct rb_tool *tool, yyjson_val *args, const char **label, const char **why);

/* A new job of tool with args (pointing into req, or NULL for {}). Takes
 * req (freed when the call has finished) on success. The call starts on a
 * later loop turn (never inside this function), or waits as pending. */
int rb_jobs_submit(struct rb_jobs *jobs, const struct rb_tool *tool, yyjson_doc *req, yyjson_val *args,
		   const struct rb_job_start *s, struct rb_job **out);
/* A running call becomes a job: the table takes the call (rb_call_set_owner)
 * and req (which args of the call point into). Never finishes anything
 * synchronously. -ESHUTDOWN once shutting down. */
int rb_jobs_adopt(struct rb_jobs *jobs, struct rb_call *call, yyjson_doc *req, yyjson_val *args,
		  const struct rb_job_start *s, struct rb_job **out);

const char *rb_job_id(const struct rb_job *job);
enum rb_job_status rb_job_status(const struct rb_job *job);
/* The tools/call result that stands for a job: one text block and
 * structuredContent {job_id, status, message}. Built in d. For a non-bulk
 * tool with an output schema (which a handle would not match) it is an
 * isError result with the handle in _meta["io.github.ringbank/job"]. */
yyjson_mut_val *rb_job_handle_result(const struct rb_job *job, yyjson_mut_doc *d, uint64_t budget_ms);
/* The CreateTaskResult of a task job: {task: Task}. */
yyjson_mut_val *rb_job_task_result(const struct rb_job *job, yyjson_mut_doc *d);

/* ---- schemas: what the MCP layer shows in tools/list ------------------------ */

/* Bulk tools: async_mode and job_label added to the input schema's
 * properties. Returns doc itself (unchanged) or a new doc (doc is freed). */
yyjson_doc *rb_jobs_input_schema(const struct rb_tool *tool, yyjson_doc *doc);
/* A bulk tool's call may come back as a job handle, so its output schema
 * also admits {job_id, status, message}: the job fields are added to its
 * properties and its `required` becomes anyOf [the tool's, the handle's].
 * Other tools' schemas are left exactly as they are. */
yyjson_doc *rb_jobs_output_schema(const struct rb_tool *tool, yyjson_doc *doc);

/* ---- MCP tasks (2025-11-25) for one session --------------------------------- */

/* send: as rb_mcp_opts.send (a malloc'ed line ending in '\n', the callee's
 * to free). max_reply: longest line (tasks/result of a huge result is
 * answered with an isError result instead). */
int rb_jobs_session_new(struct rb_jobs_session **out, struct rb_jobs *jobs,
			void (*send)(void *ctx, char *msg, size_t len), void *ctx, size_t max_reply);
/* Drops pending tasks/result waits and detaches the session's tasks (they
 * keep running). NULL ok. */
void rb_jobs_session_free(struct rb_jobs_session *js);
/* tasks/get, tasks/result, tasks/list, tasks/cancel: answers (now or later)
 * and returns true; false for any other method. id is copied. */
bool rb_jobs_session_request(struct rb_jobs_session *js, const char *method, yyjson_val *id, yyjson_val *params);

#endif
