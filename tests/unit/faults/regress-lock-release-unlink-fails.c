/* Description: regression (found by tests/unit/faults/test-faults): when
 * the unlink that releases a lock file failed once (EIO), the lock file
 * stayed; its holder (this process) is alive, so every later
 * memory_bank_update of that file waited 5 s and failed "locked by another
 * writer" until the lock went stale after 60 s. Release now retries the
 * unlink: the lock is gone, a second locker that may not wait at all (one
 * attempt, no retry) gets it, and the next update succeeds. No wall-clock
 * bound: "at once" is asserted as "without waiting", not as a speed. Both
 * backends. */
#include "faults_t.h"
#include "ringbank/lock.h"

struct lk_wait {
	bool done;
	int res;
	struct rb_lock *lk;
};

static void lk_cb(void *ctx, int res, struct rb_lock *lk, const char *holder)
{
	struct lk_wait *w = ctx;
	(void)holder;
	w->res = res;
	w->lk = lk;
	w->done = true;
}

static void lk_released(void *ctx, int res)
{
	struct lk_wait *w = ctx;
	w->res = res;
	w->done = true;
}

/* Takes the lock of rel with a single attempt (max_tries 1: a lock file in
 * the way fails it with -RB_E_LOCKED instead of waiting), releases it, and
 * returns the acquisition's result. */
static int lock_once(struct env *e, const char *rel)
{
	struct rb_lock_opts o = { .max_tries = 1 };
	struct rb_path p = env_resolve(e, rel);
	struct lk_wait w = { 0 };
	int res;

	ASSERT_EQ(rb_lock_acquire(e->fs, &p, &o, lk_cb, &w, NULL), 0);
	t_run_until(e->loop, &w.done);
	res = w.res;
	if (res == 0) {
		struct lk_wait r = { 0 };
		rb_lock_release(w.lk, lk_released, &r);
		t_run_until(e->loop, &r.done);
		ASSERT_EQ(r.res, 0);
	}
	return res;
}

int main(void)
{
	t_prefer_tmpfs();
	rb_log_set_level(RB_LOG_ERROR);
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		struct t_tool_res tr = { 0 };
		int r;

		if (!env_setup(&e, kind))
			continue;
		{
			char p[4096];
			env_path(&e, "proj", p, sizeof p);
			ASSERT_EQ(mkdir(p, 0755), 0);
		}
		t_write_file(e.dir, "proj/u.md", "# Old\n", 6);
		/* The write renames its temp file: the first unlink is the release. */
		rb_io_fault_set(e.io, RB_IO_UNLINKAT, 1, 0, -EIO);
		t_tool(&e, "memory_bank_update", "{\"projectName\":\"proj\",\"fileName\":\"u.md\",\"content\":\"# New\\n\"}", &tr);
		rb_io_fault_set(e.io, RB_IO_NOP, 0, 0, 0);
		ASSERT(!tr.is_error);
		ASSERT_EQ(rb_io_fault_count(e.io), 1);
		t_settle(&e);
		t_no_leftovers(e.dir, "release after a failed unlink");
		/* The lock is free now: one attempt, no waiting, gets it. */
		r = lock_once(&e, "proj/u.md");
		if (r != 0)
			T_FAIL("%s: the lock of proj/u.md was still held after the update (%d: %s)", kname(kind), r,
			       rb_strerror(r));
		t_tool(&e, "memory_bank_update", "{\"projectName\":\"proj\",\"fileName\":\"u.md\",\"content\":\"# Newer\\n\"}", &tr);
		if (tr.is_error)
			T_FAIL("%s: the next update failed: %s", kname(kind), tr.text);
		ASSERT_EQ(t_which(&e, "proj/u.md", "# Newer\n", 8, NULL, 0), 1);
		t_settle(&e);
		free(tr.structured);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
