/* faults_t.h: helpers shared by the fault-injection tests: the fs test
 * environment (tests/unit/fs/fs_t.h), a scan of the whole root for leftover
 * temp and lock files, a synchronous tool call through rb_call, and the
 * list of injected errors. */
#ifndef RB_TEST_FAULTS_T_H
#define RB_TEST_FAULTS_T_H

#include <ftw.h>
#include <yyjson.h>

#include "fs_t.h"
#include "ringbank/mcp.h"
#include "ringbank/tool.h"

/* The temp roots live on a tmpfs when there is one: these tests write
 * thousands of files and fsync each, and what they check does not depend
 * on the disk. */
static inline void t_prefer_tmpfs(void)
{
	const char *t = getenv("TMPDIR");
	if ((!t || !*t) && access("/dev/shm", W_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
}

/* ---- leftovers --------------------------------------------------------------- */

static char t_leftover[4096];

static int t_leftover_cb(const char *p, const struct stat *sb, int tf, struct FTW *f)
{
	const char *name = p + f->base;
	size_t n = strlen(name);
	(void)sb; (void)tf;
	if ((name[0] == '.' && strstr(name, ".rb-") && n > 4 && !strcmp(name + n - 4, ".tmp")) ||
	    (n > 5 && !strcmp(name + n - 5, ".lock")) || (n > 10 && !strcmp(name + n - 10, ".lock.reap"))) {
		snprintf(t_leftover, sizeof t_leftover, "%s", p);
		return 1;
	}
	return 0;
}

/* Fails the test if a temp file (.name.rb-PID-N.tmp) or a lock file
 * (.name.lock, .name.lock.reap) is left anywhere below dir. */
static inline void t_no_leftovers(const char *dir, const char *what)
{
	t_leftover[0] = '\0';
	if (nftw(dir, t_leftover_cb, 32, FTW_PHYS) == 1)
		T_FAIL("%s: left behind: %s", what, t_leftover);
}

/* ---- one tool call, synchronously ----------------------------------------------- */

struct t_tool_res {
	int finished;
	bool is_error;
	char text[1024];
	char *structured; /* structuredContent as JSON text (malloc'ed), or NULL */
};

static inline void t_tool_fin(struct rb_call *call, yyjson_mut_doc *doc, yyjson_mut_val *result, bool is_error)
{
	struct t_tool_res *o = rb_call_owner(call);
	yyjson_mut_val *c = yyjson_mut_obj_get(result, "content");
	const char *t = yyjson_mut_get_str(yyjson_mut_obj_get(yyjson_mut_arr_get_first(c), "text"));
	(void)doc;
	o->finished++;
	o->is_error = is_error;
	snprintf(o->text, sizeof o->text, "%s", t ? t : "");
	free(o->structured);
	o->structured = yyjson_mut_val_write(yyjson_mut_obj_get(result, "structuredContent"), 0, NULL);
}

/* An unsigned number at a dotted path ("by_code.read_error") of the
 * structured result, or -1. */
static inline long long t_tool_num(const struct t_tool_res *o, const char *dotted)
{
	yyjson_doc *d = o->structured ? yyjson_read(o->structured, strlen(o->structured), 0) : NULL;
	yyjson_val *v = yyjson_doc_get_root(d);
	char key[128];
	const char *p = dotted, *dot;
	long long r = -1;
	while (v && *p) {
		dot = strchr(p, '.');
		snprintf(key, sizeof key, "%.*s", (int)(dot ? (size_t)(dot - p) : strlen(p)), p);
		v = yyjson_obj_get(v, key);
		p = dot ? dot + 1 : p + strlen(p);
	}
	if (yyjson_is_uint(v))
		r = (long long)yyjson_get_uint(v);
	else if (yyjson_is_sint(v))
		r = yyjson_get_sint(v);
	yyjson_doc_free(d);
	return r;
}

static const struct rb_call_hooks t_tool_hooks = { t_tool_fin, NULL };

/* Runs tool with the JSON arguments until it finishes; checks it finishes
 * exactly once (also after a few more loop turns). */
static inline void t_tool(struct env *e, const char *tool, const char *json, struct t_tool_res *o)
{
	yyjson_doc *d = yyjson_read(json, strlen(json), 0);
	const struct rb_tool *t = rb_tool_find(tool);
	struct rb_call *call;
	uint64_t end = rb_now_ns() + 60ull * 1000000000ull;
	int i;

	if (!t)
		T_FAIL("no tool %s", tool);
	ASSERT(d != NULL);
	free(o->structured);
	memset(o, 0, sizeof(*o));
	ASSERT_EQ(rb_call_new(&call, t, e->fs, yyjson_doc_get_root(d), false, &t_tool_hooks, o), 0);
	rb_call_start(call);
	while (!o->finished) {
		ASSERT(rb_loop_run_once(e->loop, true, 50) >= 0);
		if (rb_now_ns() > end)
			T_FAIL("%s %s: no result in 60 s", tool, json);
	}
	for (i = 0; i < 3; i++)
		ASSERT(rb_loop_run_once(e->loop, false, 0) >= 0);
	ASSERT_EQ(o->finished, 1);
	yyjson_doc_free(d);
}

/* Runs loop turns without waiting (what is still queued: a lock release,
 * a deferred close) until the fs has nothing in flight and the cap is idle.
 * The 60 s limit is a hang detector, not a speed claim. */
static inline void t_settle(struct env *e)
{
	uint64_t end = rb_now_ns() + 60ull * 1000000000ull;
	struct rb_fs_stats st;
	for (;;) {
		rb_fs_get_stats(e->fs, &st);
		if (!st.ops_inflight && rb_cap_idle(&e->cap))
			return;
		if (rb_now_ns() > end)
			T_FAIL("hung: still busy after 60 s: %llu fs ops in flight, cap idle %d",
			       (unsigned long long)st.ops_inflight, (int)rb_cap_idle(&e->cap));
		ASSERT(rb_loop_run_once(e->loop, true, 10) >= 0);
	}
}

/* ---- what is injected -------------------------------------------------------- */

static const int t_errs[] = { -EIO, -ENOSPC, -EINTR, -EAGAIN, -ENOMEM, -EMFILE, -ECANCELED, RB_IO_FAULT_SHORT };
#define T_NERRS (sizeof(t_errs) / sizeof(t_errs[0]))

static inline const char *t_errname(int err)
{
	switch (err) {
	case -EIO: return "EIO";
	case -ENOSPC: return "ENOSPC";
	case -EINTR: return "EINTR";
	case -EAGAIN: return "EAGAIN";
	case -ENOMEM: return "ENOMEM";
	case -EMFILE: return "EMFILE";
	case -ECANCELED: return "ECANCELED";
	case RB_IO_FAULT_SHORT: return "SHORT";
	default: return "?";
	}
}

/* Content on disk: 1 if it is `a`, 2 if `b`, 0 if the file is missing,
 * -1 if it is something else (torn). */
static inline int t_which(struct env *e, const char *rel, const char *a, size_t alen, const char *b, size_t blen)
{
	char path[4096];
	size_t n;
	char *d;
	int r = -1;
	env_path(e, rel, path, sizeof path);
	d = slurp(path, &n);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	if (a && n == alen && !memcmp(d, a, n))
		r = 1;
	else if (b && n == blen && !memcmp(d, b, n))
		r = 2;
	free(d);
	return r;
}

#endif
