/* bank_t.h: helpers for the memory-bank tool tests: run one tool call
 * through the real call machinery (rb_call_new/rb_call_start, as the MCP
 * layer does) on an fs test environment, and wait for its result; take a
 * lock synchronously. The result is kept as JSON text and a parsed
 * (immutable) document for assertions. */
#ifndef RB_TEST_BANK_T_H
#define RB_TEST_BANK_T_H

#include "fs/fs_t.h"
#include "ringbank/lock.h"
#include "ringbank/mcp.h"

struct result {
	volatile bool done;
	bool is_error;
	char *json;	   /* the whole result object */
	yyjson_doc *doc;   /* parsed json */
	yyjson_val *sc;	   /* structuredContent or NULL */
	const char *text;  /* first content block's text, or "" */
	uint64_t progress; /* progress hooks seen */
};

static inline void res_free(struct result *r)
{
	free(r->json);
	yyjson_doc_free(r->doc);
	memset(r, 0, sizeof(*r));
}

static inline void call_finished(struct rb_call *call, yyjson_mut_doc *doc, yyjson_mut_val *result, bool is_error)
{
	struct result *r = rb_call_owner(call);
	yyjson_val *root, *content;

	r->is_error = is_error;
	r->json = yyjson_mut_val_write(result, 0, NULL);
	ASSERT(r->json != NULL); /* every result must serialise (valid UTF-8) */
	r->doc = yyjson_read(r->json, strlen(r->json), 0);
	root = yyjson_doc_get_root(r->doc);
	r->sc = yyjson_obj_get(root, "structuredContent");
	content = yyjson_obj_get(root, "content");
	r->text = yyjson_get_str(yyjson_obj_get(yyjson_arr_get(content, 0), "text"));
	if (!r->text)
		r->text = "";
	r->done = true;
}

static inline void call_progress(struct rb_call *call, uint64_t cur, uint64_t total, const char *msg)
{
	struct result *r = rb_call_owner(call);
	r->progress++;
}

static const struct rb_call_hooks bank_hooks = { .finish = call_finished, .progress = call_progress };

/* Starts tool `name` with JSON args; returns the call (finished later into r). */
static inline struct rb_call *call_start(struct env *e, const char *name, const char *args_json, yyjson_doc **args,
					 struct result *r)
{
	const struct rb_tool *tool = rb_tool_find(name);
	struct rb_call *call;

	memset(r, 0, sizeof(*r));
	if (!tool)
		T_FAIL("tool %s is not registered", name);
	*args = yyjson_read(args_json, strlen(args_json), 0);
	if (!*args)
		T_FAIL("bad test JSON: %s", args_json);
	ASSERT_EQ(rb_call_new(&call, tool, e->fs, yyjson_doc_get_root(*args), true, &bank_hooks, r), 0);
	rb_call_start(call);
	return r->done ? NULL : call;
}

/* Runs tool `name` with args to its end. */
static inline void call_tool(struct env *e, const char *name, const char *args_json, struct result *r)
{
	yyjson_doc *args;

	call_start(e, name, args_json, &args, r);
	t_run_until(e->loop, &r->done);
	yyjson_doc_free(args);
}

static inline uint64_t sc_uint(struct result *r, const char *key)
{
	yyjson_val *v = yyjson_obj_get(r->sc, key);
	if (!yyjson_is_uint(v))
		T_FAIL("structuredContent.%s missing in %s", key, r->json);
	return yyjson_get_uint(v);
}

static inline const char *sc_str(struct result *r, const char *key)
{
	const char *s = yyjson_get_str(yyjson_obj_get(r->sc, key));
	if (!s)
		T_FAIL("structuredContent.%s missing in %s", key, r->json);
	return s;
}

/* ---- what was read ---------------------------------------------------------------- */

/* Read requests submitted on e's io so far: RB_IO_READ (the fs layer's step
 * path: reads at growing offsets) and RB_IO_READFILE (its fast path: one
 * open + read of at most the first 64 KiB + close). A file refused for its
 * size must cost no READ at all, and at most the one bounded READFILE that
 * found its first buffer full; reading it would take READs. */
struct t_reads {
	uint64_t read, readfile;
};

static inline struct t_reads t_reads_now(struct env *e)
{
	struct rb_io_stats st;
	struct t_reads r;
	rb_io_get_stats(e->io, &st);
	r.read = st.submitted[RB_IO_READ];
	r.readfile = st.submitted[RB_IO_READFILE];
	return r;
}

/* Fails unless, since `before`, nothing was read beyond one READFILE. */
static inline void t_assert_unread(struct env *e, struct t_reads before, const char *what)
{
	struct t_reads now = t_reads_now(e);
	if (now.read != before.read || now.readfile - before.readfile > 1)
		T_FAIL("%s was read: %llu READ and %llu READFILE requests were submitted for it", what,
		       (unsigned long long)(now.read - before.read), (unsigned long long)(now.readfile - before.readfile));
}

/* ---- locks -------------------------------------------------------------------- */

struct lw {
	volatile bool done;
	int res;
	struct rb_lock *lk;
	char holder[256];
	uint64_t t_done;
};

static inline void lock_cb(void *ctx, int res, struct rb_lock *lk, const char *holder)
{
	struct lw *w = ctx;
	w->res = res;
	w->lk = lk;
	ASSERT((res == 0) == (lk != NULL));
	ASSERT(!(holder && res != -RB_E_LOCKED));
	snprintf(w->holder, sizeof(w->holder), "%s", holder ? holder : "");
	w->t_done = rb_now_ns();
	w->done = true;
}

static inline int lock_start(struct env *e, const char *rel, const struct rb_lock_opts *o, struct lw *w,
			     struct rb_lock **h)
{
	struct rb_path p;
	int r;

	memset(w, 0, sizeof(*w));
	r = rb_fs_resolve(e->fs, rel, &p);
	if (r < 0)
		return r;
	r = rb_lock_acquire(e->fs, &p, o, lock_cb, w, h);
	if (r == 0)
		ASSERT(!w->done); /* never called back from inside the start */
	return r;
}

static inline int t_lock(struct env *e, const char *rel, const struct rb_lock_opts *o, struct lw *w)
{
	int r = lock_start(e, rel, o, w, NULL);
	if (r < 0)
		return r;
	t_run_until(e->loop, &w->done);
	return w->res;
}

static inline int t_unlock(struct env *e, struct rb_lock *lk)
{
	struct waiter w = { 0 };
	rb_lock_release(lk, res_cb, &w);
	ASSERT(!w.done);
	t_run_until(e->loop, &w.done);
	return w.res;
}

#endif
