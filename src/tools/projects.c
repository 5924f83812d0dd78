/* projects.c: the project tools of @allpepper/memory-bank-mcp (alioshr's
 * memory-bank-mcp), same names, parameters and result texts, so its users
 * switch by changing the command: list_projects, list_project_files,
 * memory_bank_read, memory_bank_write, memory_bank_update, each on
 * ROOT/projectName/fileName under the first root.
 *
 * Differences, on purpose:
 *  - Names are checked (one component: no '/', not "." or "..", not empty)
 *    and paths resolve beneath the root; errors are sentences with isError.
 *  - list_project_files on a missing project is an error ("Project 'x' not
 *    found"), not an empty list, so a typo is not mistaken for a new project.
 *  - Writes are atomic (temp file + rename); memory_bank_write creates only
 *    (RENAME_NOREPLACE), so two writers racing on a new file cannot both win.
 *  - memory_bank_update takes the file's lock (lock.h), checks the optional
 *    expectedVersion under it, writes, and releases it before answering.
 *  - Results carry structuredContent: the project/file lists, and the
 *    content version (SHA-256 hex) after read, write and update.
 * Texts: lists are the JSON array text theirs sends; memory_bank_read is the
 * file's text itself (theirs JSON-quotes it); write/update say "File f
 * written successfully to project p" / "File f updated successfully in
 * project p" like theirs. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ringbank/lock.h"
#include "text.h"
#include "tools.h"

enum pj_kind { PJ_LIST, PJ_FILES, PJ_READ, PJ_WRITE, PJ_UPDATE };

enum pj_step { P_LIST, P_READ, P_PROBE, P_MKDIR, P_LOCK, P_CHECK, P_WRITE, P_RELEASE, P_DONE };

struct pj {
	struct rb_call *call;
	struct rb_fs *fs;
	enum pj_kind kind;
	enum pj_step step;
	const char *project, *file, *expected;
	const char *content;
	size_t content_len;
	bool restat;		/* list again with statx: the fs gave DT_UNKNOWN */
	struct rb_fs_op *op;
	struct rb_lock *lock;
	uint64_t lock_t0;	/* update: when the acquisition started (rb_now_ns) */
	int err;		/* update: the outcome to report after the release */
	char *msg;		/* update: its message (heap; NULL when out of memory) */
	char version[RB_VERSION_LEN];
	struct rb_path dir, file_path;
};

/* Finishing frees the call: detach the state first, finish, then free p
 * (which never touches the call again). */
static void pj_free(struct pj *p)
{
	free(p->msg);
	free(p);
}

static void pj_detach(struct pj *p)
{
	rb_call_set_state(p->call, NULL);
}

#define pj_error(p, ...) (pj_detach(p), rb_call_error((p)->call, __VA_ARGS__))

static void pj_finish_text(struct pj *p, const char *text, size_t len, yyjson_mut_val *sc)
{
	pj_detach(p);
	rb_call_finish_text(p->call, text, len, sc);
}

/* ---- arguments ------------------------------------------------------------------ */

static int check_name(struct rb_call *call, const char *what, const char *field, const char *name)
{
	/* A JSON string may hold "\u0000": the C string would silently name a prefix. */
	size_t len = yyjson_get_len(yyjson_obj_get(rb_call_args(call), field));

	if (len == strlen(name) && rb_fs_check_name(name) == 0)
		return 0;
	return rb_call_fail_msg(call, "%s: invalid %s name '%s': it must be one path component, not empty, "
				"without '/' and not '.' or '..'", field, what, name);
}

static int resolve_under_root(struct rb_call *call, struct rb_fs *fs, const char *project, const char *file,
			      struct rb_path *out)
{
	char client[PATH_MAX];
	int n, r;

	if (!rb_fs_root_count(fs))
		return rb_call_fail_msg(call, "no memory-bank root is configured (give a directory or set MEMORY_BANK_ROOT)");
	n = snprintf(client, sizeof(client), "%s%s%s%s%s", rb_fs_root_path(fs, 0), project ? "/" : "",
		     project ? project : "", file ? "/" : "", file ? file : "");
	if (n < 0 || (size_t)n >= sizeof(client))
		return rb_call_fail_msg(call, "%s: path too long", file ? file : project);
	r = rb_fs_resolve(fs, client, out);
	if (r < 0)
		return rb_call_fail_msg(call, "%s: %s", client, rb_strerror(r));
	return 0;
}

/* Reads and checks the arguments of kind, fills p's paths. */
static int pj_args(struct rb_call *call, struct pj *p)
{
	yyjson_val *v;
	int r;

	if (p->kind == PJ_LIST)
		return resolve_under_root(call, p->fs, NULL, NULL, &p->dir);
	if ((r = rb_arg_string(call, "projectName", true, &p->project)) < 0 ||
	    (r = check_name(call, "project", "projectName", p->project)) < 0 ||
	    (r = resolve_under_root(call, p->fs, p->project, NULL, &p->dir)) < 0)
		return r;
	if (p->kind == PJ_FILES)
		return 0;
	if ((r = rb_arg_string(call, "fileName", true, &p->file)) < 0 ||
	    (r = check_name(call, "file", "fileName", p->file)) < 0 ||
	    (r = resolve_under_root(call, p->fs, p->project, p->file, &p->file_path)) < 0)
		return r;
	if (p->kind == PJ_READ)
		return 0;
	if ((r = rb_arg_string(call, "content", true, &p->content)) < 0)
		return r;
	v = yyjson_obj_get(rb_call_args(call), "content");
	p->content_len = yyjson_get_len(v); /* may hold NUL bytes (\u0000) */
	if (p->kind == PJ_UPDATE) {
		if ((r = rb_arg_string(call, "expectedVersion", false, &p->expected)) < 0)
			return r;
		if (p->expected && strlen(p->expected) != RB_VERSION_LEN - 1)
			return rb_call_fail_msg(call, "expectedVersion: expected the 64-hex-digit version that "
						"memory_bank_read returned, got '%.80s'", p->expected);
	}
	return 0;
}

/* ---- results ------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Files ringbank itself leaves beside a target for a moment: its lock
 * (".name.lock", ".name.lock.reap") and atomic-write temp files
 * (".name.rb-PID-N.tmp"). Not memory-bank content. */
static bool own_artifact(const char *name)
{
	size_t n = strlen(name);

	if (name[0] != '.')
		return false;
	if (n > 5 && !strcmp(name + n - 5, ".lock"))
		return true;
	if (n > 10 && !strcmp(name + n - 10, ".lock.reap"))
		return true;
	return n > 4 && !strcmp(name + n - 4, ".tmp") && strstr(name, ".rb-");
}

static void finish_version(struct pj *p, const char *text)
{
	yyjson_mut_doc *d = rb_call_doc(p->call);
	yyjson_mut_val *sc = yyjson_mut_obj(d);

	yyjson_mut_obj_add_strcpy(d, sc, "version", p->version);
	pj_finish_text(p, text, strlen(text), sc);
}

/* ---- list_projects / list_project_files --------------------------------------- */

static void list_done(void *ctx, int res, struct rb_dirent *ents, size_t n);

static int start_list(struct pj *p)
{
	p->step = P_LIST;
	return rb_fs_list_dir(p->fs, &p->dir, p->restat, 0, RB_CAP_INTERACTIVE, list_done, p, &p->op);
}

static void list_done(void *ctx, int res, struct rb_dirent *ents, size_t n)
{
	struct pj *p = ctx;
	struct rb_call *call = p->call;
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *arr, *sc;
	const char **names;
	unsigned char want = p->kind == PJ_LIST ? DT_DIR : DT_REG;
	size_t i, k = 0;
	char *text;
	int r;

	p->op = NULL;
	if (res < 0) {
		if (p->kind == PJ_FILES && (res == -ENOENT || res == -ENOTDIR))
			pj_error(p, "Project '%s' not found", p->project);
		else
			pj_error(p, "%s: %s", p->dir.abs, rb_strerror(res));
		pj_free(p);
		return;
	}
	for (i = 0; i < n && !p->restat; i++)
		if (ents[i].type == DT_UNKNOWN)
			p->restat = true;
	if (p->restat && !rb_call_cancelled(call)) {
		/* Some file systems give no d_type: list again with statx (rare). */
		r = start_list(p);
		if (r == 0)
			return;
		pj_error(p, "%s: %s", p->dir.abs, rb_strerror(r));
		pj_free(p);
		return;
	}
	names = malloc((n ? n : 1) * sizeof(*names));
	if (!names) {
		pj_error(p, "%s: %s", p->dir.abs, rb_strerror(-ENOMEM));
		pj_free(p);
		return;
	}
	for (i = 0; i < n; i++)
		if (ents[i].type == want && !(want == DT_REG && own_artifact(ents[i].name)))
			names[k++] = ents[i].name;
	qsort(names, k, sizeof(*names), cmp_str);
	arr = yyjson_mut_arr(d);
	for (i = 0; i < k; i++)
		yyjson_mut_arr_add_strcpy(d, arr, names[i]);
	free(names);
	/* The text is the JSON array, as the original server sends it. */
	text = yyjson_mut_val_write(arr, 0, NULL);
	sc = yyjson_mut_obj(d);
	yyjson_mut_obj_add_val(d, sc, p->kind == PJ_LIST ? "projects" : "files", arr);
	if (!text)
		pj_error(p, "%s: %s", p->dir.abs, rb_strerror(-ENOMEM));
	else
		pj_finish_text(p, text, strlen(text), sc);
	free(text);
	pj_free(p);
}

/* ---- not found: tell a missing project from a missing file ---------------------- */

static void probe_done(void *ctx, int res, const struct statx *stx)
{
	struct pj *p = ctx;

	p->op = NULL;
	if (res == -ENOENT || res == -ENOTDIR || (res == 0 && !S_ISDIR(stx->stx_mode)))
		pj_error(p, "Project '%s' not found", p->project);
	else
		pj_error(p, "File '%s' not found in project '%s'", p->file, p->project);
	pj_free(p);
}

/* Finishes the call with the right "not found" sentence. */
static void not_found(struct pj *p)
{
	int r;

	p->step = P_PROBE;
	r = rb_fs_stat(p->fs, &p->dir, 0, RB_CAP_INTERACTIVE, probe_done, p, &p->op);
	if (r < 0) {
		pj_error(p, "File '%s' not found in project '%s'", p->file, p->project);
		pj_free(p);
	}
}

/* ---- memory_bank_read ------------------------------------------------------------ */

static void read_done(void *ctx, int res, struct rb_fs_file *f)
{
	struct pj *p = ctx;
	struct rb_call *call = p->call;
	struct rb_sbuf fixed = { 0 };
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *sc;

	p->op = NULL;
	if (res == -ENOENT || res == -ENOTDIR) {
		not_found(p);
		return;
	}
	if (res < 0) {
		pj_error(p, "%s/%s: %s", p->project, p->file, rb_strerror(res));
		pj_free(p);
		return;
	}
	rb_content_version(f->data, f->len, p->version);
	sc = yyjson_mut_obj(d);
	yyjson_mut_obj_add_strcpy(d, sc, "version", p->version);
	yyjson_mut_obj_add_uint(d, sc, "bytes", f->len);
	/* JSON text must be UTF-8: invalid bytes become U+FFFD, as Node's
	 * readFile(…, "utf-8") does; the version is of the bytes on disk. */
	if (rb_utf8_valid(f->data, f->len)) {
		pj_finish_text(p, f->data, f->len, sc);
	} else {
		rb_utf8_repair(&fixed, f->data, f->len);
		if (fixed.oom)
			pj_error(p, "%s/%s: %s", p->project, p->file, rb_strerror(-ENOMEM));
		else
			pj_finish_text(p, fixed.p ? fixed.p : "", fixed.len, sc);
		rb_sbuf_free(&fixed);
	}
	pj_free(p);
}

/* ---- memory_bank_write ------------------------------------------------------------ */

static void write_done(void *ctx, int res);

static void mkdir_done(void *ctx, int res)
{
	struct pj *p = ctx;
	int r;

	p->op = NULL;
	if (res < 0 && res != -EEXIST) {
		pj_error(p, "Project '%s': %s", p->project, rb_strerror(res));
		pj_free(p);
		return;
	}
	if (rb_call_cancelled(p->call)) {
		pj_error(p, "cancelled");
		pj_free(p);
		return;
	}
	p->step = P_WRITE;
	r = rb_fs_write_atomic(p->fs, &p->file_path, p->content, p->content_len, RB_FS_WRITE_CREATE_ONLY,
			       RB_CAP_INTERACTIVE, write_done, p, &p->op);
	if (r < 0)
		write_done(p, r) /* a synchronous refusal: report it the same way */;
}

/* ---- memory_bank_update: lock -> [check version | check exists] -> write -> release */

static void released(void *ctx, int res)
{
	struct pj *p = ctx;

	if (res < 0 && res != -ENOENT)
		rb_log(RB_LOG_WARNING, "memory_bank_update: %s: releasing the lock: %s", p->file_path.abs,
		       rb_strerror(res));
	if (p->err == -ENOENT)
		not_found(p); /* frees p */
	else {
		static const char oom[] = "out of memory while reporting the update";
		if (p->err < 0)
			pj_error(p, "%s", p->msg ? p->msg : oom);
		else
			finish_version(p, p->msg ? p->msg : oom);
		pj_free(p);
	}
}

/* Records the outcome and releases the lock; the call finishes after that. */
static void update_end(struct pj *p, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void update_end(struct pj *p, int err, const char *fmt, ...)
{
	va_list ap;

	p->err = err;
	free(p->msg);
	va_start(ap, fmt);
	if (vasprintf(&p->msg, fmt, ap) < 0)
		p->msg = NULL;
	va_end(ap);
	p->step = P_RELEASE;
	rb_lock_release(p->lock, released, p);
	p->lock = NULL;
}

static void update_write(struct pj *p)
{
	int r;

	if (rb_call_cancelled(p->call)) {
		update_end(p, -ECANCELED, "cancelled");
		return;
	}
	p->step = P_WRITE;
	r = rb_fs_write_atomic(p->fs, &p->file_path, p->content, p->content_len, 0, RB_CAP_INTERACTIVE,
			       write_done, p, &p->op);
	if (r < 0)
		update_end(p, r, "%s/%s: %s", p->project, p->file, rb_strerror(r));
}

static void check_read_done(void *ctx, int res, struct rb_fs_file *f)
{
	struct pj *p = ctx;
	char cur[RB_VERSION_LEN];

	p->op = NULL;
	if (res == -ENOENT) {
		update_end(p, -ENOENT, "not found");
		return;
	}
	if (res < 0) {
		update_end(p, res, "%s/%s: %s", p->project, p->file, rb_strerror(res));
		return;
	}
	rb_content_version(f->data, f->len, cur);
	if (strcasecmp(cur, p->expected)) {
		update_end(p, -RB_E_CONFLICT,
			   "%s/%s: changed since it was read (version conflict): current version %s, expected %s; "
			   "read it again, merge, and retry with the current version",
			   p->project, p->file, cur, p->expected);
		return;
	}
	update_write(p);
}

static void check_stat_done(void *ctx, int res, const struct statx *stx)
{
	struct pj *p = ctx;

	p->op = NULL;
	if (res == -ENOENT) {
		update_end(p, -ENOENT, "not found");
		return;
	}
	if (res == 0 && !S_ISREG(stx->stx_mode))
		res = -RB_E_NOT_REGULAR;
	if (res < 0) {
		update_end(p, res, "%s/%s: %s", p->project, p->file, rb_strerror(res));
		return;
	}
	update_write(p);
}

static void locked(void *ctx, int res, struct rb_lock *lk, const char *holder)
{
	struct pj *p = ctx;
	int r;

	p->lock = lk;
	if (res == -ENOENT || res == -ENOTDIR) {
		pj_error(p, "Project '%s' not found", p->project);
		pj_free(p);
		return;
	}
	if (res < 0) {
		if (res == -RB_E_LOCKED) {
			char why[400];
			rb_tools_lock_msg(why, sizeof(why), rb_now_ns() - p->lock_t0, holder);
			pj_error(p, "%s/%s: %s", p->project, p->file, why);
		} else
			pj_error(p, "%s/%s: taking the lock: %s", p->project, p->file, rb_strerror(res));
		pj_free(p);
		return;
	}
	if (rb_call_cancelled(p->call)) {
		update_end(p, -ECANCELED, "cancelled");
		return;
	}
	/* Under the lock: nobody else that takes it can change the file now. */
	p->step = P_CHECK;
	if (p->expected)
		r = rb_fs_read_file(p->fs, &p->file_path, 0, 0, RB_CAP_INTERACTIVE, check_read_done, p, &p->op);
	else
		r = rb_fs_stat(p->fs, &p->file_path, 0, RB_CAP_INTERACTIVE, check_stat_done, p, &p->op);
	if (r < 0)
		update_end(p, r, "%s/%s: %s", p->project, p->file, rb_strerror(r));
}

/* write and update share the write's completion. */
static void write_done(void *ctx, int res)
{
	struct pj *p = ctx;
	char text[600];

	p->op = NULL;
	if (res >= 0)
		rb_content_version(p->content, p->content_len, p->version);
	if (p->kind == PJ_UPDATE) {
		if (res < 0)
			update_end(p, res, "%s/%s: %s", p->project, p->file, rb_strerror(res));
		else {
			char note[1024];
			rb_fs_write_notes(res, note, sizeof(note));
			update_end(p, 0, "File %s updated successfully in project %s%s%s", p->file, p->project,
				   *note ? "\n" : "", note);
		}
		return;
	}
	if (res == -EEXIST)
		pj_error(p, "File '%s' already exists in project '%s': memory_bank_write only creates "
			      "files; use memory_bank_update to change it", p->file, p->project);
	else if (res < 0)
		pj_error(p, "%s/%s: %s", p->project, p->file, rb_strerror(res));
	else {
		snprintf(text, sizeof(text), "File %s written successfully to project %s", p->file, p->project);
		finish_version(p, text);
	}
	pj_free(p);
}

/* ---- run / cancel ------------------------------------------------------------------ */

static int pj_run(struct rb_call *call, enum pj_kind kind)
{
	struct pj *p = calloc(1, sizeof(*p));
	int r;

	if (!p)
		return -ENOMEM;
	p->call = call;
	p->fs = rb_call_fs(call);
	p->kind = kind;
	r = pj_args(call, p);
	if (r < 0) {
		free(p);
		return r;
	}
	rb_call_set_state(call, p);
	switch (kind) {
	case PJ_LIST:
	case PJ_FILES:
		r = start_list(p);
		break;
	case PJ_READ:
		p->step = P_READ;
		r = rb_fs_read_file(p->fs, &p->file_path, 0, 0, RB_CAP_INTERACTIVE, read_done, p, &p->op);
		break;
	case PJ_WRITE:
		/* The project directory is created on demand, as theirs does. */
		p->step = P_MKDIR;
		r = rb_fs_mkdir(p->fs, &p->dir, false, RB_CAP_INTERACTIVE, mkdir_done, p, &p->op);
		if (r == -EEXIST) {
			p->op = NULL;
			p->step = P_WRITE;
			r = rb_fs_write_atomic(p->fs, &p->file_path, p->content, p->content_len,
					       RB_FS_WRITE_CREATE_ONLY, RB_CAP_INTERACTIVE, write_done, p, &p->op);
		}
		break;
	case PJ_UPDATE:
		p->step = P_LOCK;
		p->lock_t0 = rb_now_ns();
		r = rb_lock_acquire(p->fs, &p->file_path, rb_tools_lock_opts(), locked, p, &p->lock);
		break;
	}
	if (r < 0) {
		rb_call_fail_msg(call, "%s: %s", kind == PJ_LIST || kind == PJ_FILES ? p->dir.abs : p->file_path.abs,
				 rb_strerror(r));
		pj_detach(p);
		pj_free(p);
		return -EINVAL;
	}
	return 0;
}

static void pj_cancel(struct rb_call *call)
{
	struct pj *p = rb_call_state(call);

	if (!p)
		return;
	if (p->step == P_LOCK && p->lock)
		rb_lock_cancel(p->lock);
	else if (p->op && (p->step == P_LIST || p->step == P_READ || p->step == P_CHECK || p->step == P_MKDIR))
		rb_fs_cancel(p->op); /* a started write runs to its end: it is atomic and short */
}

static int list_projects_run(struct rb_call *call) { return pj_run(call, PJ_LIST); }
static int list_files_run(struct rb_call *call) { return pj_run(call, PJ_FILES); }
static int read_run(struct rb_call *call) { return pj_run(call, PJ_READ); }
static int write_run(struct rb_call *call) { return pj_run(call, PJ_WRITE); }
static int update_run(struct rb_call *call) { return pj_run(call, PJ_UPDATE); }

#define PROP_PROJECT "\"projectName\":{\"type\":\"string\",\"description\":\"The name of the project\"}"
#define PROP_FILE "\"fileName\":{\"type\":\"string\",\"description\":\"The name of the file\"}"
#define PROP_CONTENT "\"content\":{\"type\":\"string\",\"description\":\"The content of the file\"}"

static const struct rb_tool list_projects = {
	.name = "list_projects",
	.title = "List Projects",
	.description = "List all projects in the memory bank",
	.input_schema = "{\"type\":\"object\",\"properties\":{},\"required\":[]}",
	.output_schema = "{\"type\":\"object\",\"properties\":{\"projects\":{\"type\":\"array\","
			 "\"items\":{\"type\":\"string\"}}},\"required\":[\"projects\"]}",
	.read_only = true,
	.idempotent = true,
	.run = list_projects_run,
	.cancel = pj_cancel,
};

static const struct rb_tool list_project_files = {
	.name = "list_project_files",
	.title = "List Project Files",
	.description = "List all files within a specific project",
	.input_schema = "{\"type\":\"object\",\"properties\":{" PROP_PROJECT "},\"required\":[\"projectName\"]}",
	.output_schema = "{\"type\":\"object\",\"properties\":{\"files\":{\"type\":\"array\","
			 "\"items\":{\"type\":\"string\"}}},\"required\":[\"files\"]}",
	.read_only = true,
	.idempotent = true,
	.run = list_files_run,
	.cancel = pj_cancel,
};

static const struct rb_tool memory_bank_read = {
	.name = "memory_bank_read",
	.title = "Read Memory Bank File",
	.description = "Read a memory bank file for a specific project. The result's structuredContent.version "
		       "(SHA-256 of the content) can be passed to memory_bank_update as expectedVersion.",
	.input_schema = "{\"type\":\"object\",\"properties\":{" PROP_PROJECT "," PROP_FILE "},"
			"\"required\":[\"projectName\",\"fileName\"]}",
	.output_schema = "{\"type\":\"object\",\"properties\":{\"version\":{\"type\":\"string\"},"
			 "\"bytes\":{\"type\":\"integer\"}},\"required\":[\"version\",\"bytes\"]}",
	.read_only = true,
	.idempotent = true,
	.run = read_run,
	.cancel = pj_cancel,
};

static const struct rb_tool memory_bank_write = {
	.name = "memory_bank_write",
	.title = "Write Memory Bank File",
	.description = "Create a new memory bank file for a specific project (the project is created if "
		       "needed). Refuses to overwrite an existing file: use memory_bank_update for that.",
	.input_schema = "{\"type\":\"object\",\"properties\":{" PROP_PROJECT "," PROP_FILE "," PROP_CONTENT "},"
			"\"required\":[\"projectName\",\"fileName\",\"content\"]}",
	.output_schema = "{\"type\":\"object\",\"properties\":{\"version\":{\"type\":\"string\"}},"
			 "\"required\":[\"version\"]}",
	.run = write_run,
	.cancel = pj_cancel,
};

static const struct rb_tool memory_bank_update = {
	.name = "memory_bank_update",
	.title = "Update Memory Bank File",
	.description = "Update an existing memory bank file for a specific project (replaces its content "
		       "atomically, under a per-file lock shared with other ringbank processes). Give "
		       "expectedVersion (the version memory_bank_read returned) to fail with a version conflict "
		       "instead of overwriting changes made since that read.",
	.input_schema = "{\"type\":\"object\",\"properties\":{" PROP_PROJECT "," PROP_FILE "," PROP_CONTENT ","
			"\"expectedVersion\":{\"type\":\"string\",\"description\":\"Optional: the version "
			"(SHA-256 hex of the content) the new content was based on\"}},"
			"\"required\":[\"projectName\",\"fileName\",\"content\"]}",
	.output_schema = "{\"type\":\"object\",\"properties\":{\"version\":{\"type\":\"string\"}},"
			 "\"required\":[\"version\"]}",
	.destructive = true,
	.idempotent = true,
	.run = update_run,
	.cancel = pj_cancel,
};

const struct rb_tool *const rb_tools_projects[] = {
	&list_projects, &list_project_files, &memory_bank_read, &memory_bank_write, &memory_bank_update, NULL,
};
