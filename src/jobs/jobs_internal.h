/* jobs_internal.h: what the files of src/jobs share.
 *
 *   job.c      the table: ids, budgets, submit/adopt, the call hooks,
 *              status changes, throttled persistence, cancel with a
 *              bounded wait, shutdown.
 *   store.c    the state directory: records (serialise, parse, validate),
 *              atomic writes, on-demand loading of every process's jobs,
 *              owner liveness, corrupt files set aside, recovery.
 *   view.c     JSON shown to clients: job views, MCP Task objects, job
 *              handles, the schema additions.
 *   session.c  MCP tasks for one session (tasks/get|result|list|cancel,
 *              notifications/tasks/status, progress with the task's token).
 *   tools.c    job_status, list_jobs, cancel_job, prune_jobs.
 *
 * A record (struct jrec) is the parsed form of a job file. Jobs of this
 * process that are still in memory are turned into records the same way
 * (serialise + parse), so every reader has one code path whether the job
 * is ours or another process's, in memory or on disk. */
#ifndef RB_JOBS_INTERNAL_H
#define RB_JOBS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ringbank/jobs.h"
#include "ringbank/list.h"

#define JOB_FORMAT "ringbank-job/1"
#define JOB_FORMAT_PREFIX "ringbank-job/"
#define JOB_LABEL_MAX 200
#define JOB_ARGS_MAX (16u << 10)      /* arguments kept in the record (else a marker) */
#define JOB_ERROR_MAX (4u << 10)      /* error text kept in the record */
#define JOB_FILE_READ_MAX (8u << 20)  /* a job file larger than this is corrupt */
#define JOB_POLL_MS 1000	      /* pollInterval suggested to task clients */

/* Who runs a job: enough to tell, on the same machine, whether it still runs. */
struct owner {
	char host[256];
	char boot[40];		 /* /proc/sys/kernel/random/boot_id */
	char ns[48];		 /* readlink /proc/self/ns/pid: "pid:[4026531836]" */
	int pid;
	unsigned long long start; /* /proc/<pid>/stat field 22 (clock ticks since boot) */
};

/* A bounded wait for a cancelled job's call to end (cancel_job). */
struct job_cancel;
struct jrec;

struct job_cancel_report {
	int res;		   /* 0, -ENOENT (no such job), -EBADMSG (corrupt), -EPERM (another process's) */
	char why[512];		   /* for res < 0 */
	bool was_terminal;	   /* nothing to cancel: it had already ended */
	bool stopped;		   /* the call has ended (or there was none) */
	uint64_t waited_ms;
	const struct jrec *rec;	   /* the job after the cancel (valid during the callback), or NULL */
};
typedef void (*job_cancel_cb)(void *ctx, const struct job_cancel_report *rep);

struct rb_job {
	struct rb_list node;  /* jobs->own */
	struct rb_list qnode; /* jobs->pending (self-linked when not queued) */
	struct rb_jobs *jobs;
	char id[RB_JOB_ID_LEN + 1];
	const struct rb_tool *tool;
	char *label;
	enum rb_job_origin origin;
	enum rb_job_status status;
	int64_t created_ms, started_ms, completed_ms, updated_ms;
	uint64_t created_ns;	 /* realtime ns, strictly increasing in a process: orders jobs created in one ms */
	/* progress */
	bool have_progress;
	uint64_t cur, total;
	char *msg;
	/* the call */
	char *args_json;	 /* the arguments as JSON text (or a marker when too big) */
	struct rb_call *call;	 /* while it runs */
	yyjson_doc *req;	 /* the request document args point into */
	yyjson_val *args;
	struct rb_defer start_defer;
	/* the outcome */
	char *result;		 /* the tools/call result object as JSON text */
	size_t result_len;
	char *error;
	/* persistence */
	bool writing, dirty, dirty_urgent, persist_failed, persisted;
	bool sidecar_done, sidecar_failed;
	struct rb_timer wtimer;
	uint64_t last_progress_write_ns; /* progress writes: at most one per progress_write_ms */
	/* cancel_job waits */
	struct rb_list waits;
	/* a task's session: progress token (JSON text) and status notifications */
	struct rb_jobs_session *session;
	struct rb_list snode;
	char *token_json;
	unsigned holds;
	/* prune_jobs: delete once nothing is in flight */
	bool forget;
	void (*forget_cb)(void *ctx);
	void *forget_ctx;
};

struct rb_jobs {
	struct rb_fs *fs;
	struct rb_loop *loop;
	struct rb_jobs_opts o;
	char *state_path;	/* NULL: memory only */
	int state_fd, proc_fd;
	struct owner me;
	struct rb_list own;	/* jobs of this process still in memory */
	struct rb_list pending;
	unsigned running;
	struct rb_defer pump;
	struct rb_list sessions;
	struct { const struct rb_tool *tool; uint64_t ms; } *budgets;
	size_t nbudgets;
	unsigned bg;		/* store ops in flight (loads, writes, renames, unlinks) */
	/* shutdown */
	bool shutting_down, shutdown_done;
	void (*shutdown_cb)(void *ctx, bool abandoned);
	void *shutdown_ctx;
	struct rb_timer abandon_timer;
	struct rb_defer shutdown_defer;
	bool abandoned;
};

/* ---- job.c ------------------------------------------------------------------ */
struct rb_job *jobs_find(struct rb_jobs *jobs, const char *id);
/* Cancels job id (ours: at once, then waits up to wait_ms for its call to
 * end; another process's: refused). cb runs once, possibly from inside
 * this function. *h (may be NULL) can withdraw the wait (cb not called). */
void jobs_cancel(struct rb_jobs *jobs, const char *id, unsigned wait_ms, job_cancel_cb cb, void *ctx,
		 struct job_cancel **h);
void jobs_cancel_withdraw(struct job_cancel *h);
/* Deletes an ended own job (prune): from memory and, once any write of its
 * record has landed, its files. done(ctx) runs once when that is over
 * (maybe from inside). false if the job has not ended (nothing is done). */
bool jobs_forget(struct rb_jobs *jobs, struct rb_job *j, void (*done)(void *ctx), void *ctx);
/* Store ops finished: shutdown may be complete. */
void jobs_bg_done(struct rb_jobs *jobs);
int64_t jobs_now_ms(void);
bool jobs_valid_id(const char *s);

/* ---- store.c ---------------------------------------------------------------- */
struct jrec {
	yyjson_doc *doc;	/* the record */
	yyjson_val *root;
	char id[RB_JOB_ID_LEN + 1];
	enum rb_job_status status;
	int64_t created_ms;
	uint64_t created_ns;	/* 0 if absent */
	bool own;		/* from this process's memory */
	struct owner owner;
	bool have_owner;
	yyjson_doc *result_doc; /* the sidecar, when loaded */
	char result_why[256];	/* why a result that should be there is not */
};
void jrec_clear(struct jrec *r);
/* Parses a record (the text is copied). -EBADMSG with why set when it is
 * not one; -EPROTO for a record of a newer format. */
int jrec_parse(const char *id, const char *text, size_t len, struct jrec *r, char *why, size_t whylen);
/* A record of an own job (serialised with its whole result, and parsed). */
int job_rec(struct rb_job *j, struct jrec *r);
/* The file content of a job (results over the inline limit referenced). */
char *job_serialize(struct rb_job *j, bool for_disk, size_t *len);

/* Writes name beneath the state dir atomically; takes buf (freed after). cb may be NULL. */
void store_write(struct rb_jobs *jobs, const char *name, char *buf, size_t len, void (*cb)(void *ctx, int res),
		 void *ctx);
void store_unlink(struct rb_jobs *jobs, const char *name, void (*cb)(void *ctx, int res), void *ctx);

/* Every job (own ones from memory, the others from the directory);
 * records without results. warnings: one sentence per file skipped.
 * orphans: ids of result files without a job file. All valid during cb. */
struct store_list {
	struct jrec *recs;
	size_t n;
	char **warnings;
	size_t nwarnings;
	char (*orphans)[RB_JOB_ID_LEN + 1];
	size_t norphans;
	unsigned interrupted; /* records rewritten as interrupted during this load */
};
void store_load_all(struct rb_jobs *jobs, void (*cb)(void *ctx, int res, struct store_list *l), void *ctx);
/* One job, with its result when want_result. res: 0, -ENOENT, -EBADMSG (why
 * says what was wrong and that the file was set aside). May call back
 * from inside (an own job). */
void store_load_one(struct rb_jobs *jobs, const char *id, bool want_result,
		    void (*cb)(void *ctx, int res, struct jrec *rec, const char *why), void *ctx);
/* Start-up identity of this process. */
void store_identity(struct owner *me);
/* The state dir: create (mkdir -p), open; returns the fd or -errno. The
 * default one is made 0700 when others could enter it, a named one only
 * draws a warning. */
int store_open_dir(const char *path, bool is_default);

/* ---- view.c ----------------------------------------------------------------- */
void iso_time(int64_t ms, char out[32]);
int64_t iso_parse(const char *s);
/* A client's view of a job. with_result adds "result" (the tools/call
 * result the job produced) or "result_note" saying why it is missing;
 * summary leaves out arguments and shortens the error. */
yyjson_mut_val *jrec_view(yyjson_mut_doc *d, const struct jrec *r, bool with_result, bool summary);
/* The MCP Task object. */
yyjson_mut_val *jrec_task(yyjson_mut_doc *d, const struct jrec *r);
/* The stored tools/call result (in the record or its sidecar), or NULL. */
yyjson_val *jrec_result(const struct jrec *r);
/* One line for text content: "<id> <status> <tool> ...". */
void jrec_line(const struct jrec *r, char *buf, size_t n);
/* A one-block text content array. */
yyjson_mut_val *view_text(yyjson_mut_doc *d, const char *text);

/* ---- session.c -------------------------------------------------------------- */
void jrec_sort_newest(struct jrec *recs, size_t n);
void session_job_progress(struct rb_job *j);
void session_job_status(struct rb_job *j);
void session_job_detach(struct rb_job *j);
void session_job_attach(struct rb_jobs_session *js, struct rb_job *j, yyjson_val *token);

/* ---- tools.c ---------------------------------------------------------------- */
extern const struct rb_tool *const rb_tools_jobs[];

#endif
