/* store.c: the state directory.
 *
 * Layout: <dir>/<id>.json, one record per job, replaced atomically (temp
 * file beside it, fsync, rename, fsync of the directory: rb_fs_write_atomic
 * beneath the directory's own fd, opened once at start-up; the state dir is
 * not a client root and no client path can reach it). <id>.result.json
 * holds a result too large to keep inline; it is written before the record
 * that names it. <id>.json.corrupt is a record that did not parse, set
 * aside so it is reported once and never again read as a job.
 *
 * Reading is on demand: a listing lists the directory and reads every
 * record (at most LOAD_PARALLEL at once), except for jobs this process
 * still holds in memory, whose state is fresher than their file. A record
 * that says pending or running is checked against its owner: on this
 * machine (same host name, boot id and pid namespace) a pid that no longer
 * exists, or exists with another start time (reused), means the job was
 * interrupted (kill -9, a crash, a reboot); the record is then rewritten
 * as interrupted by the reader. Owners elsewhere are taken at their word. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobs_internal.h"

#define LOAD_PARALLEL 16

/* ---- identity -------------------------------------------------------------------------- */

/* Start-up only (synchronous reads of procfs, before the loop serves). */
static unsigned long long proc_start_of(const char *text)
{
	const char *p = strrchr(text, ')');
	unsigned long long v = 0;
	int field = 2;

	if (!p)
		return 0;
	p++;
	/* fields after the command: 3 state, 4 ppid, ... 22 starttime */
	while (*p && field < 22) {
		while (*p == ' ')
			p++;
		field++;
		if (field == 22)
			break;
		while (*p && *p != ' ')
			p++;
	}
	if (field == 22)
		v = strtoull(p, NULL, 10);
	return v;
}

static void read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r = fd < 0 ? -1 : read(fd, buf, n - 1);

	buf[r > 0 ? r : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

void store_identity(struct owner *me)
{
	char buf[1024];
	char *nl;
	ssize_t r;

	memset(me, 0, sizeof(*me));
	if (gethostname(me->host, sizeof(me->host) - 1) < 0)
		snprintf(me->host, sizeof(me->host), "unknown");
	read_small("/proc/sys/kernel/random/boot_id", me->boot, sizeof(me->boot));
	if ((nl = strchr(me->boot, '\n')))
		*nl = '\0';
	/* The pid namespace: pids of another namespace mean nothing here. */
	r = readlink("/proc/self/ns/pid", me->ns, sizeof(me->ns) - 1);
	me->ns[r > 0 ? r : 0] = '\0';
	me->pid = (int)getpid();
	read_small("/proc/self/stat", buf, sizeof(buf));
	me->start = proc_start_of(buf);
}

int rb_jobs_default_state_dir(char *buf, size_t n)
{
	const char *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
	int r;

	/* The XDG spec: a relative XDG_STATE_HOME is invalid and ignored. */
	if (x && x[0] == '/')
		r = snprintf(buf, n, "%s/ringbank", x);
	else if (h && *h)
		r = snprintf(buf, n, "%s/.local/state/ringbank", h);
	else
		return -ENOENT;
	return r < 0 || (size_t)r >= n ? -ENAMETOOLONG : 0;
}

/* mkdir -p (start-up only). The last component is made 0700: job records
 * hold results of reads, which are the user's to see. */
static int mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, i == n ? 0700 : 0755) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = path[i];
	}
	return 0;
}

int store_open_dir(const char *path, bool is_default)
{
	int r = mkdirs(path), fd;
	struct stat st;

	if (r < 0)
		return r;
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Job records hold results of reads: a directory others can enter
	 * (made before us, or by hand) shows them. Our own default directory
	 * is closed again; one the user named is theirs to decide: said. */
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) && st.st_uid == geteuid()) {
		if (is_default && chmod(path, st.st_mode & 0700) == 0)
			rb_log(RB_LOG_NOTICE, "jobs: state directory %s was mode %04o; made %04o (job records hold "
			       "the results of reads)", path, (unsigned)(st.st_mode & 07777), (unsigned)(st.st_mode & 0700));
		else
			rb_log(RB_LOG_WARNING, "jobs: state directory %s is mode %04o: other users may read job "
			       "records (the results of reads); chmod 700 it unless that is meant", path,
			       (unsigned)(st.st_mode & 07777));
	}
	return fd;
}

/* A path beneath the state dir (or /proc), in the rb_path form the fs
 * layer takes: the fs operations only use dirfd and rel. */
static void at_path(struct rb_path *p, int dirfd, const char *dir, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->root = -1;
	p->dirfd = dirfd;
	snprintf(p->rel, sizeof(p->rel), "%s", name);
	snprintf(p->abs, sizeof(p->abs), "%s/%s", dir ? dir : "", name);
}

/* ---- records ----------------------------------------------------------------------------- */

static const char *const origins[] = { "budget", "async", "task" };

void jrec_clear(struct jrec *r)
{
	yyjson_doc_free(r->doc);
	yyjson_doc_free(r->result_doc);
	memset(r, 0, sizeof(*r));
}

char *job_serialize(struct rb_job *j, bool for_disk, size_t *len)
{
	struct rb_jobs *jobs = j->jobs;
	yyjson_mut_doc *d = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *root, *o;
	char t[32], name[RB_JOB_ID_LEN + 16];
	char *s;

	if (!d)
		return NULL;
	root = yyjson_mut_obj(d);
	yyjson_mut_doc_set_root(d, root);
	yyjson_mut_obj_add_str(d, root, "format", JOB_FORMAT);
	yyjson_mut_obj_add_strcpy(d, root, "id", j->id);
	yyjson_mut_obj_add_str(d, root, "tool", j->tool->name);
	if (j->label)
		yyjson_mut_obj_add_strcpy(d, root, "label", j->label);
	yyjson_mut_obj_add_str(d, root, "origin", origins[j->origin]);
	yyjson_mut_obj_add_str(d, root, "status", rb_job_status_name(j->status));
	iso_time(j->created_ms, t);
	yyjson_mut_obj_add_strcpy(d, root, "created", t);
	yyjson_mut_obj_add_uint(d, root, "created_ns", j->created_ns);
	if (j->started_ms) {
		iso_time(j->started_ms, t);
		yyjson_mut_obj_add_strcpy(d, root, "started", t);
	}
	if (j->completed_ms) {
		iso_time(j->completed_ms, t);
		yyjson_mut_obj_add_strcpy(d, root, "completed", t);
	}
	iso_time(j->updated_ms, t);
	yyjson_mut_obj_add_strcpy(d, root, "updated", t);
	o = yyjson_mut_obj(d);
	yyjson_mut_obj_add_int(d, o, "pid", jobs->me.pid);
	yyjson_mut_obj_add_strcpy(d, o, "host", jobs->me.host);
	yyjson_mut_obj_add_strcpy(d, o, "boot_id", jobs->me.boot);
	yyjson_mut_obj_add_strcpy(d, o, "pid_ns", jobs->me.ns);
	yyjson_mut_obj_add_uint(d, o, "start", jobs->me.start);
	yyjson_mut_obj_add_val(d, root, "owner", o);
	if (j->have_progress) {
		o = yyjson_mut_obj(d);
		yyjson_mut_obj_add_uint(d, o, "current", j->cur);
		if (j->total)
			yyjson_mut_obj_add_uint(d, o, "total", j->total);
		if (j->msg)
			yyjson_mut_obj_add_strcpy(d, o, "message", j->msg);
		yyjson_mut_obj_add_val(d, root, "progress", o);
	}
	if (j->args_json)
		yyjson_mut_obj_add_val(d, root, "arguments", yyjson_mut_rawcpy(d, j->args_json));
	if (j->error)
		yyjson_mut_obj_add_strcpy(d, root, "error", j->error);
	if (j->result) {
		if (j->result_len > jobs->o.result_file_max) {
			o = yyjson_mut_obj(d);
			yyjson_mut_obj_add_uint(d, o, "bytes", j->result_len);
			yyjson_mut_obj_add_uint(d, o, "limit", jobs->o.result_file_max);
			yyjson_mut_obj_add_val(d, root, "result_truncated", o);
		} else if (!for_disk || j->result_len <= jobs->o.inline_result_max || j->sidecar_failed) {
			if (for_disk && j->sidecar_failed)
				yyjson_mut_obj_add_str(d, root, "result_note",
						       "the result could not be written to the state directory");
			else
				yyjson_mut_obj_add_val(d, root, "result",
						       yyjson_mut_rawncpy(d, j->result, j->result_len));
		} else {
			snprintf(name, sizeof(name), "%s.result.json", j->id);
			yyjson_mut_obj_add_strcpy(d, root, "result_file", name);
			yyjson_mut_obj_add_uint(d, root, "result_bytes", j->result_len);
		}
	}
	s = yyjson_mut_write(d, YYJSON_WRITE_NOFLAG, len);
	yyjson_mut_doc_free(d);
	if (s) {
		/* A newline at the end, as text files have. */
		char *t2 = realloc(s, *len + 2);
		if (!t2) {
			free(s);
			return NULL;
		}
		s = t2;
		s[(*len)++] = '\n';
		s[*len] = '\0';
	}
	return s;
}

static int bad(struct jrec *r, char *why, size_t n, const char *msg)
{
	jrec_clear(r);
	snprintf(why, n, "%s", msg);
	return -EBADMSG;
}

int jrec_parse(const char *id, const char *text, size_t len, struct jrec *r, char *why, size_t n)
{
	yyjson_read_err err;
	yyjson_doc *doc;
	yyjson_val *root, *v, *o;
	const char *s;

	memset(r, 0, sizeof(*r));
	doc = yyjson_read_opts((char *)text, len, 0, NULL, &err);
	if (!doc) {
		snprintf(why, n, "not valid JSON: %s at byte %zu", err.msg, err.pos);
		return -EBADMSG;
	}
	r->doc = doc;
	r->root = root = yyjson_doc_get_root(doc);
	if (!yyjson_is_obj(root))
		return bad(r, why, n, "not a JSON object");
	s = yyjson_get_str(yyjson_obj_get(root, "format"));
	if (!s || strcmp(s, JOB_FORMAT)) {
		if (s && !strncmp(s, JOB_FORMAT_PREFIX, strlen(JOB_FORMAT_PREFIX))) {
			snprintf(why, n, "written in format %.60s by another ringbank version", s);
			jrec_clear(r);
			return -EPROTO;
		}
		return bad(r, why, n, "no \"format\": \"" JOB_FORMAT "\" field");
	}
	s = yyjson_get_str(yyjson_obj_get(root, "id"));
	if (!jobs_valid_id(s) || (id && strcmp(s, id)))
		return bad(r, why, n, "its \"id\" is missing or does not match the file name");
	memcpy(r->id, s, RB_JOB_ID_LEN + 1);
	s = yyjson_get_str(yyjson_obj_get(root, "tool"));
	if (!s || !*s)
		return bad(r, why, n, "no \"tool\" field");
	s = yyjson_get_str(yyjson_obj_get(root, "status"));
	if (rb_job_status_parse(s, &r->status) < 0)
		return bad(r, why, n, s ? "unknown \"status\"" : "no \"status\" field");
	s = yyjson_get_str(yyjson_obj_get(root, "created"));
	r->created_ms = s ? iso_parse(s) : -1;
	if (r->created_ms < 0)
		return bad(r, why, n, "no valid \"created\" time");
	v = yyjson_obj_get(root, "created_ns");
	r->created_ns = yyjson_is_uint(v) ? yyjson_get_uint(v) : 0;
	o = yyjson_obj_get(root, "owner");
	if (yyjson_is_obj(o)) {
		r->have_owner = true;
		v = yyjson_obj_get(o, "pid");
		r->owner.pid = yyjson_is_int(v) ? (int)yyjson_get_int(v) : 0;
		snprintf(r->owner.host, sizeof(r->owner.host), "%s", yyjson_get_str(yyjson_obj_get(o, "host")) ?: "");
		snprintf(r->owner.boot, sizeof(r->owner.boot), "%s",
			 yyjson_get_str(yyjson_obj_get(o, "boot_id")) ?: "");
		snprintf(r->owner.ns, sizeof(r->owner.ns), "%s", yyjson_get_str(yyjson_obj_get(o, "pid_ns")) ?: "");
		v = yyjson_obj_get(o, "start");
		r->owner.start = yyjson_is_uint(v) ? yyjson_get_uint(v) : 0;
	}
	v = yyjson_obj_get(root, "result");
	if (v && !yyjson_is_obj(v))
		return bad(r, why, n, "its \"result\" is not an object");
	return 0;
}

int job_rec(struct rb_job *j, struct jrec *r)
{
	char why[256];
	size_t len;
	char *s = job_serialize(j, false, &len);
	int res;

	if (!s)
		return -ENOMEM;
	res = jrec_parse(j->id, s, len, r, why, sizeof(why));
	free(s);
	if (res < 0)
		rb_log(RB_LOG_ERROR, "jobs: %s: own record does not parse: %s", j->id, why);
	else
		r->own = true;
	return res;
}

/* ---- writes, renames, unlinks (each counted in jobs->bg) --------------------------------- */

struct sop {
	struct rb_jobs *jobs;
	struct rb_path p, p2;
	char *buf;
	void (*cb)(void *ctx, int res);
	void *ctx;
	struct rb_defer d;
	int res;
};

static void sop_end(struct sop *w, int res)
{
	struct rb_jobs *jobs = w->jobs;
	if (w->cb)
		w->cb(w->ctx, res);
	free(w->buf);
	free(w);
	jobs->bg--;
	jobs_bg_done(jobs);
}

static void sop_done(void *ctx, int res) { sop_end(ctx, res); }
static void sop_later(struct rb_defer *d) { struct sop *w = d->data; sop_end(w, w->res); }

static struct sop *sop_new(struct rb_jobs *jobs, const char *name, void (*cb)(void *ctx, int res), void *ctx)
{
	struct sop *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->jobs = jobs;
	w->cb = cb;
	w->ctx = ctx;
	w->d.data = w;
	at_path(&w->p, jobs->state_fd, jobs->state_path, name);
	jobs->bg++;
	return w;
}

static void sop_check(struct sop *w, int r)
{
	if (r < 0) {
		w->res = r;
		rb_defer(w->jobs->loop, &w->d, sop_later);
	}
}

/* An op that cannot even be set up still answers on a later turn. */
static void sop_fail(struct rb_jobs *jobs, char *buf, void (*cb)(void *ctx, int res), void *ctx)
{
	free(buf);
	if (cb)
		cb(ctx, -ENOMEM); /* no memory for a defer either: answer now */
	(void)jobs;
}

void store_write(struct rb_jobs *jobs, const char *name, char *buf, size_t len, void (*cb)(void *ctx, int res),
		 void *ctx)
{
	struct sop *w;

	if (!jobs->state_path) {
		sop_fail(jobs, buf, cb, ctx);
		return;
	}
	w = sop_new(jobs, name, cb, ctx);
	if (!w) {
		sop_fail(jobs, buf, cb, ctx);
		return;
	}
	w->buf = buf;
	sop_check(w, rb_fs_write_atomic(jobs->fs, &w->p, buf, len, jobs->o.no_fsync ? RB_FS_WRITE_NO_FSYNC : 0,
					RB_CAP_INTERACTIVE, sop_done, w, NULL));
}

void store_unlink(struct rb_jobs *jobs, const char *name, void (*cb)(void *ctx, int res), void *ctx)
{
	struct sop *w = jobs->state_path ? sop_new(jobs, name, cb, ctx) : NULL;

	if (!w) {
		sop_fail(jobs, NULL, cb, ctx);
		return;
	}
	sop_check(w, rb_fs_unlink(jobs->fs, &w->p, false, RB_CAP_INTERACTIVE, sop_done, w, NULL));
}

static void store_rename(struct rb_jobs *jobs, const char *from, const char *to)
{
	struct sop *w = sop_new(jobs, from, NULL, NULL);

	if (!w)
		return;
	at_path(&w->p2, jobs->state_fd, jobs->state_path, to);
	sop_check(w, rb_fs_rename(jobs->fs, &w->p, &w->p2, false, RB_CAP_INTERACTIVE, sop_done, w, NULL));
}

/* ---- loading ------------------------------------------------------------------------------ */

struct loadset {
	struct rb_jobs *jobs;
	bool want_result, one;
	void (*all_cb)(void *ctx, int res, struct store_list *l);
	void (*one_cb)(void *ctx, int res, struct jrec *rec, const char *why);
	void *ctx;
	char (*ids)[RB_JOB_ID_LEN + 1];
	size_t nids, next, active, finished;
	struct store_list out;
	size_t recs_cap;
	char (*sidecars)[RB_JOB_ID_LEN + 1];
	size_t nsidecars;
	int one_res;
	char one_why[600];
	struct rb_path dir;
	struct rb_defer d;
};

enum { L_RECORD, L_PROC, L_SIDECAR };

struct load {
	struct loadset *set;
	char id[RB_JOB_ID_LEN + 1];
	struct jrec rec;
	int state;
	struct rb_path path;
};

static void load_step(struct load *l);
static void load_next(struct loadset *s);

static void warn(struct loadset *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct loadset *s, const char *fmt, ...)
{
	char *msg = NULL, **nw;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return;
	rb_log(RB_LOG_WARNING, "jobs: %s", msg);
	if (s->one) {
		snprintf(s->one_why, sizeof(s->one_why), "%s", msg);
		free(msg);
		return;
	}
	nw = realloc(s->out.warnings, (s->out.nwarnings + 1) * sizeof(*nw));
	if (!nw) {
		free(msg);
		return;
	}
	s->out.warnings = nw;
	nw[s->out.nwarnings++] = msg;
}

static void set_free(struct loadset *s)
{
	size_t i;
	for (i = 0; i < s->out.n; i++)
		jrec_clear(&s->out.recs[i]);
	for (i = 0; i < s->out.nwarnings; i++)
		free(s->out.warnings[i]);
	free(s->out.warnings);
	free(s->out.recs);
	free(s->out.orphans);
	free(s->ids);
	free(s->sidecars);
	free(s);
}

static bool add_rec(struct loadset *s, struct jrec *r)
{
	if (s->out.n == s->recs_cap) {
		size_t nc = s->recs_cap ? 2 * s->recs_cap : 64;
		struct jrec *nr = realloc(s->out.recs, nc * sizeof(*nr));
		if (!nr)
			return false;
		s->out.recs = nr;
		s->recs_cap = nc;
	}
	s->out.recs[s->out.n++] = *r;
	memset(r, 0, sizeof(*r));
	return true;
}

static void set_deliver(struct loadset *s)
{
	struct rb_jobs *jobs = s->jobs;
	size_t i, k;

	if (s->one) {
		struct jrec *r = s->out.n ? &s->out.recs[0] : NULL;
		s->one_cb(s->ctx, r ? 0 : s->one_res ? s->one_res : -ENOENT, r, r ? NULL : s->one_why);
	} else {
		/* Result files whose record is gone (a prune that stopped half-way). */
		s->out.orphans = calloc(s->nsidecars + 1, sizeof(*s->out.orphans));
		for (i = 0; s->out.orphans && i < s->nsidecars; i++) {
			bool have = false;
			for (k = 0; k < s->nids && !have; k++)
				have = !strcmp(s->ids[k], s->sidecars[i]);
			have = have || jobs_find(jobs, s->sidecars[i]);
			if (!have)
				memcpy(s->out.orphans[s->out.norphans++], s->sidecars[i], RB_JOB_ID_LEN + 1);
		}
		s->all_cb(s->ctx, 0, &s->out);
	}
	set_free(s);
	jobs->bg--;
	jobs_bg_done(jobs);
}

static void load_end(struct load *l, bool keep)
{
	struct loadset *s = l->set;

	if (keep && !add_rec(s, &l->rec))
		warn(s, "out of memory listing job %s", l->id);
	jrec_clear(&l->rec);
	free(l);
	s->active--;
	s->finished++;
	load_next(s);
}

/* Rewrites a record whose owner is gone as interrupted, and shows it so. */
static void mark_interrupted(struct load *l)
{
	struct loadset *s = l->set;
	struct rb_jobs *jobs = s->jobs;
	yyjson_mut_doc *m = yyjson_doc_mut_copy(l->rec.doc, NULL);
	yyjson_mut_val *root;
	char t[32], msg[512], name[RB_JOB_ID_LEN + 8], why[128];
	struct jrec nr;
	size_t len;
	char *text;

	if (!m)
		return;
	root = yyjson_mut_doc_get_root(m);
	iso_time(jobs_now_ms(), t);
	snprintf(msg, sizeof(msg), "the ringbank process that ran this job (pid %d on %s) ended before it finished",
		 l->rec.owner.pid, l->rec.owner.host);
	yyjson_mut_obj_remove_key(root, "status");
	yyjson_mut_obj_add_str(m, root, "status", "interrupted");
	if (!yyjson_mut_obj_get(root, "completed"))
		yyjson_mut_obj_add_strcpy(m, root, "completed", t);
	yyjson_mut_obj_remove_key(root, "updated");
	yyjson_mut_obj_add_strcpy(m, root, "updated", t);
	yyjson_mut_obj_remove_key(root, "error");
	yyjson_mut_obj_add_strcpy(m, root, "error", msg);
	text = yyjson_mut_write(m, YYJSON_WRITE_NOFLAG, &len);
	yyjson_mut_doc_free(m);
	if (!text)
		return;
	if (jrec_parse(l->id, text, len, &nr, why, sizeof(why)) == 0) {
		jrec_clear(&l->rec);
		l->rec = nr;
	}
	rb_log(RB_LOG_NOTICE, "jobs: %s (%s): %s; marked interrupted", l->id,
	       yyjson_get_str(yyjson_obj_get(l->rec.root, "tool")) ?: "?", msg);
	snprintf(name, sizeof(name), "%s.json", l->id);
	store_write(jobs, name, text, len, NULL, NULL);
	s->out.interrupted++;
}

enum { OWNER_ALIVE, OWNER_DEAD, OWNER_ASK };

static int owner_check(const struct rb_jobs *jobs, const struct jrec *r)
{
	const struct owner *o = &r->owner, *me = &jobs->me;

	if (!r->have_owner || strcmp(o->host, me->host))
		return OWNER_ALIVE; /* another machine (or unknown): it alone can tell */
	if (o->boot[0] && me->boot[0] && strcmp(o->boot, me->boot))
		return OWNER_DEAD; /* same machine, booted since */
	if (o->ns[0] && me->ns[0] && strcmp(o->ns, me->ns))
		return OWNER_ALIVE; /* another pid namespace (a container with our host name): cannot tell */
	if (o->pid == me->pid)
		return OWNER_DEAD; /* us (a job of ours still running would be in memory) or a reused pid */
	if (o->pid <= 0)
		return OWNER_ALIVE;
	if (kill(o->pid, 0) < 0 && errno == ESRCH)
		return OWNER_DEAD;
	return o->start && jobs->proc_fd >= 0 ? OWNER_ASK : OWNER_ALIVE;
}

static void read_done(void *ctx, int res, struct rb_fs_file *f)
{
	struct load *l = ctx;
	struct loadset *s = l->set;
	struct rb_jobs *jobs = s->jobs;
	char why[300], from[RB_JOB_ID_LEN + 8], to[RB_JOB_ID_LEN + 16];
	struct rb_job *own;
	int r;

	switch (l->state) {
	case L_RECORD:
		if (res == -ENOENT) {
			/* Pruned since the listing. */
			s->one_res = -ENOENT;
			load_end(l, false);
			return;
		}
		if (res < 0 && res != -RB_E_TOO_LARGE) {
			s->one_res = res;
			warn(s, "job %s: cannot read %s/%s.json: %s", l->id, jobs->state_path, l->id, rb_strerror(res));
			load_end(l, false);
			return;
		}
		if (res == -RB_E_TOO_LARGE) {
			snprintf(why, sizeof(why), "larger than %u bytes", JOB_FILE_READ_MAX);
			r = -EBADMSG;
		} else {
			r = jrec_parse(l->id, f->data, f->len, &l->rec, why, sizeof(why));
		}
		if (r == -EPROTO) {
			s->one_res = -EBADMSG;
			warn(s, "job %s: %s/%s.json is %s; skipped", l->id, jobs->state_path, l->id, why);
			load_end(l, false);
			return;
		}
		if (r < 0) {
			s->one_res = -EBADMSG;
			snprintf(from, sizeof(from), "%s.json", l->id);
			snprintf(to, sizeof(to), "%s.json.corrupt", l->id);
			warn(s, "job %s: its record %s/%s is corrupt (%s); moved aside to %s", l->id, jobs->state_path,
			     from, why, to);
			store_rename(jobs, from, to);
			load_end(l, false);
			return;
		}
		/* Created by us since the listing: memory is fresher. */
		own = jobs_find(jobs, l->id);
		if (own) {
			struct jrec nr;
			if (job_rec(own, &nr) == 0) {
				jrec_clear(&l->rec);
				l->rec = nr;
			}
		} else if (!rb_job_status_terminal(l->rec.status)) {
			switch (owner_check(jobs, &l->rec)) {
			case OWNER_DEAD:
				mark_interrupted(l);
				break;
			case OWNER_ASK: {
				char name[32];
				snprintf(name, sizeof(name), "%d/stat", l->rec.owner.pid);
				at_path(&l->path, jobs->proc_fd, "/proc", name);
				l->state = L_PROC;
				r = rb_fs_read_file(jobs->fs, &l->path, 0, 4096, RB_CAP_INTERACTIVE, read_done, l, NULL);
				if (r == 0)
					return;
				break; /* cannot tell: take it at its word */
			}
			}
		}
		load_step(l);
		return;
	case L_PROC:
		if (res == -ENOENT || (res >= 0 && proc_start_of(f->data) != l->rec.owner.start))
			mark_interrupted(l);
		load_step(l);
		return;
	case L_SIDECAR:
		if (res >= 0) {
			yyjson_read_err err;
			l->rec.result_doc = yyjson_read_opts(f->data, f->len, 0, NULL, &err);
			if (!l->rec.result_doc || !yyjson_is_obj(yyjson_doc_get_root(l->rec.result_doc))) {
				yyjson_doc_free(l->rec.result_doc);
				l->rec.result_doc = NULL;
				snprintf(l->rec.result_why, sizeof(l->rec.result_why),
					 "its result file %s.result.json is corrupt", l->id);
			}
		} else {
			snprintf(l->rec.result_why, sizeof(l->rec.result_why), "its result file %s.result.json: %s",
				 l->id, res == -ENOENT ? "missing (pruned?)" : rb_strerror(res));
		}
		load_end(l, true);
		return;
	}
}

/* After the record (and its owner): the result file if wanted, else done. */
static void load_step(struct load *l)
{
	struct loadset *s = l->set;
	struct rb_jobs *jobs = s->jobs;
	char name[RB_JOB_ID_LEN + 16];

	if (s->want_result && !l->rec.own && yyjson_get_str(yyjson_obj_get(l->rec.root, "result_file"))) {
		snprintf(name, sizeof(name), "%s.result.json", l->id);
		at_path(&l->path, jobs->state_fd, jobs->state_path, name);
		l->state = L_SIDECAR;
		if (rb_fs_read_file(jobs->fs, &l->path, 0, jobs->o.result_file_max + 1, RB_CAP_INTERACTIVE, read_done,
				    l, NULL) == 0)
			return;
		snprintf(l->rec.result_why, sizeof(l->rec.result_why), "its result file could not be read");
	}
	load_end(l, true);
}

static void load_next(struct loadset *s)
{
	struct rb_jobs *jobs = s->jobs;

	while (s->active < LOAD_PARALLEL && s->next < s->nids) {
		struct load *l = calloc(1, sizeof(*l));
		char name[RB_JOB_ID_LEN + 8];
		int r;

		if (!l) {
			warn(s, "out of memory reading job %s", s->ids[s->next]);
			s->next++;
			s->finished++;
			continue;
		}
		l->set = s;
		memcpy(l->id, s->ids[s->next++], RB_JOB_ID_LEN + 1);
		snprintf(name, sizeof(name), "%s.json", l->id);
		at_path(&l->path, jobs->state_fd, jobs->state_path, name);
		l->state = L_RECORD;
		s->active++;
		r = rb_fs_read_file(jobs->fs, &l->path, 0, JOB_FILE_READ_MAX, RB_CAP_INTERACTIVE, read_done, l, NULL);
		if (r < 0) {
			warn(s, "job %s: cannot read its record: %s", l->id, rb_strerror(r));
			s->one_res = r;
			free(l);
			s->active--;
			s->finished++;
		}
	}
	if (s->finished == s->nids && !s->active)
		set_deliver(s);
}

static bool id_name(const char *name, const char *suffix, char id[RB_JOB_ID_LEN + 1])
{
	if (strlen(name) != RB_JOB_ID_LEN + strlen(suffix) || strcmp(name + RB_JOB_ID_LEN, suffix))
		return false;
	memcpy(id, name, RB_JOB_ID_LEN);
	id[RB_JOB_ID_LEN] = '\0';
	return jobs_valid_id(id);
}

static void own_recs(struct loadset *s)
{
	struct rb_list *pos, *tmp;
	rb_list_for_each_safe(pos, tmp, &s->jobs->own) {
		struct rb_job *j = rb_container_of(pos, struct rb_job, node);
		struct jrec r;
		if (job_rec(j, &r) == 0 && !add_rec(s, &r))
			jrec_clear(&r);
	}
}

static void listed(void *ctx, int res, struct rb_dirent *ents, size_t n)
{
	struct loadset *s = ctx;
	size_t i;

	if (res < 0) {
		warn(s, "cannot list the state directory %s: %s", s->jobs->state_path, rb_strerror(res));
		n = 0;
	}
	s->ids = calloc(n + 1, sizeof(*s->ids));
	s->sidecars = calloc(n + 1, sizeof(*s->sidecars));
	if (!s->ids || !s->sidecars)
		n = 0;
	for (i = 0; i < n; i++) {
		char id[RB_JOB_ID_LEN + 1];
		if (id_name(ents[i].name, ".json", id)) {
			if (!jobs_find(s->jobs, id))
				memcpy(s->ids[s->nids++], id, sizeof(id));
		} else if (id_name(ents[i].name, ".result.json", id)) {
			memcpy(s->sidecars[s->nsidecars++], id, sizeof(id));
		}
	}
	own_recs(s);
	load_next(s);
}

static void deliver_later(struct rb_defer *d)
{
	load_next(d->data);
}

void store_load_all(struct rb_jobs *jobs, void (*cb)(void *ctx, int res, struct store_list *l), void *ctx)
{
	struct loadset *s = calloc(1, sizeof(*s));
	int r;

	if (!s) {
		cb(ctx, -ENOMEM, NULL);
		return;
	}
	s->jobs = jobs;
	s->all_cb = cb;
	s->ctx = ctx;
	jobs->bg++;
	if (!jobs->state_path) {
		own_recs(s);
		load_next(s);
		return;
	}
	at_path(&s->dir, jobs->state_fd, jobs->state_path, ".");
	r = rb_fs_list_dir(jobs->fs, &s->dir, false, 0, RB_CAP_INTERACTIVE, listed, s, NULL);
	if (r < 0) {
		warn(s, "cannot list the state directory %s: %s", jobs->state_path, rb_strerror(r));
		own_recs(s);
		s->d.data = s;
		rb_defer(jobs->loop, &s->d, deliver_later);
	}
}

void store_load_one(struct rb_jobs *jobs, const char *id, bool want_result,
		    void (*cb)(void *ctx, int res, struct jrec *rec, const char *why), void *ctx)
{
	struct rb_job *j = jobs_find(jobs, id);
	struct loadset *s;
	struct jrec r;
	int res;

	if (j) {
		res = job_rec(j, &r);
		cb(ctx, res, res == 0 ? &r : NULL, res == 0 ? NULL : "out of memory");
		if (res == 0)
			jrec_clear(&r);
		return;
	}
	s = jobs->state_path && jobs_valid_id(id) ? calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		cb(ctx, jobs->state_path && jobs_valid_id(id) ? -ENOMEM : -ENOENT, NULL, NULL);
		return;
	}
	s->jobs = jobs;
	s->one = true;
	s->want_result = want_result;
	s->one_cb = cb;
	s->ctx = ctx;
	s->ids = calloc(1, sizeof(*s->ids));
	if (!s->ids) {
		free(s);
		cb(ctx, -ENOMEM, NULL, NULL);
		return;
	}
	memcpy(s->ids[0], id, RB_JOB_ID_LEN + 1);
	s->nids = 1;
	jobs->bg++;
	load_next(s);
}

/* ---- recovery ------------------------------------------------------------------------------ */

struct recover {
	void (*done)(void *ctx, unsigned interrupted);
	void *ctx;
};

static void recovered(void *ctx, int res, struct store_list *l)
{
	struct recover *rc = ctx;
	unsigned n = res == 0 ? l->interrupted : 0;

	if (n)
		rb_log(RB_LOG_INFO, "jobs: %u job(s) of ended processes marked interrupted", n);
	if (rc->done)
		rc->done(rc->ctx, n);
	free(rc);
}

void rb_jobs_recover(struct rb_jobs *jobs, void (*done)(void *ctx, unsigned interrupted), void *ctx)
{
	struct recover *rc = calloc(1, sizeof(*rc));

	if (!rc) {
		if (done)
			done(ctx, 0);
		return;
	}
	rc->done = done;
	rc->ctx = ctx;
	store_load_all(jobs, recovered, rc);
}
