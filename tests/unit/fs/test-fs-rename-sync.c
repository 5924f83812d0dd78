/* Description: a rename between directories fsyncs both parents at once,
 * both backends.
 *  - with permits free: exactly two FSYNC requests, both in flight together
 *    (the backend's in-flight peak over the whole rename is 2; every other
 *    step runs alone); the file is moved;
 *  - the first fsync to fail is the error reported, with the other one
 *    still finished first: the destination's fsync failed (injected: it
 *    completes on the next turn while the real one runs) or the source's;
 *    when the callback runs nothing of the rename is in flight and every fd
 *    is closed;
 *  - with a cap of one permit (none free for the second fsync): the two
 *    fsyncs run one after the other (peak 1), the destination's first (a
 *    failure of it is reported and the source's is not issued), and the
 *    cap gets its permit back;
 *  - a rename within one directory still issues one fsync. */
#include "fs_t.h"

struct cbw {
	struct env *e;
	volatile bool done;
	int res;
	unsigned inflight_at_cb;
	int fds_at_cb;
};

static void cb(void *ctx, int res)
{
	struct cbw *w = ctx;
	struct rb_io_stats st;
	rb_io_get_stats(w->e->io, &st);
	w->inflight_at_cb = st.inflight;
	w->fds_at_cb = t_fd_count();
	w->res = res;
	w->done = true;
}

static void setup(struct env *e)
{
	char p[PATH_MAX];
	env_path(e, "a", p, sizeof p);
	mkdir(p, 0755);
	env_path(e, "b", p, sizeof p);
	mkdir(p, 0755);
	env_path(e, "b/f.md", p, sizeof p);
	unlink(p);
	t_write_file(e->dir, "a/f.md", "F", 1);
}

static bool moved(struct env *e)
{
	char p[PATH_MAX];
	struct stat st;
	env_path(e, "a/f.md", p, sizeof p);
	if (lstat(p, &st) == 0)
		return false;
	env_path(e, "b/f.md", p, sizeof p);
	return lstat(p, &st) == 0;
}

/* One rename a/f.md -> b/f.md; returns its result, *peak the backend's
 * in-flight peak during it, *nsync the FSYNC requests it issued. */
static int rename_once(struct env *e, unsigned *peak, uint64_t *nsync)
{
	struct rb_io_stats s0, s1;
	struct cbw w = { .e = e };
	struct rb_path a = env_resolve(e, "a/f.md"), b = env_resolve(e, "b/f.md");
	int fd_base = t_fd_count();

	rb_io_get_stats(e->io, &s0);
	ASSERT_EQ(s0.inflight, 0);
	ASSERT_EQ(rb_fs_rename(e->fs, &a, &b, false, RB_CAP_INTERACTIVE, cb, &w, NULL), 0);
	t_run_until(e->loop, &w.done);
	rb_io_get_stats(e->io, &s1);
	*peak = s1.inflight_peak;
	*nsync = s1.submitted[RB_IO_FSYNC] - s0.submitted[RB_IO_FSYNC];
	ASSERT_EQ(w.inflight_at_cb, 0);
	ASSERT_EQ(w.fds_at_cb, fd_base);
	env_check_idle(e);
	return w.res;
}

/* A fresh environment per case, so the backend's in-flight peak belongs to
 * the one rename. */
static void one_case(enum rb_io_kind k, const struct rb_cap_opts *co, uint64_t fail_nth, unsigned want_peak,
		     uint64_t want_nsync)
{
	struct env e;
	unsigned peak;
	uint64_t nsync;
	int res;

	if (!env_setup_opts(&e, k, NULL, co))
		return;
	setup(&e);
	if (fail_nth)
		rb_io_fault_set(e.io, RB_IO_FSYNC, fail_nth, 0, fail_nth == 1 ? -EIO : -ENOSPC);
	res = rename_once(&e, &peak, &nsync);
	rb_io_fault_set(e.io, RB_IO_NOP, 0, 0, 0);
	ASSERT_EQ(nsync, want_nsync);
	ASSERT_EQ(peak, want_peak);
	ASSERT(moved(&e)); /* the fsyncs come after the name change */
	if (fail_nth == 0)
		ASSERT_EQ(res, 0);
	else
		ASSERT_EQ(res, fail_nth == 1 ? -EIO : -ENOSPC);
	env_teardown(&e);
}

static void same_dir(enum rb_io_kind k)
{
	struct env e;
	struct rb_io_stats s0, s1;
	if (!env_setup(&e, k))
		return;
	t_write_file(e.dir, "x.md", "X", 1);
	rb_io_get_stats(e.io, &s0);
	ASSERT_EQ(t_rename(&e, "x.md", "y.md", true), 0);
	rb_io_get_stats(e.io, &s1);
	ASSERT_EQ(s1.submitted[RB_IO_FSYNC] - s0.submitted[RB_IO_FSYNC], 1);
	ASSERT_EQ(s1.inflight_peak, 1);
	env_teardown(&e);
}

int main(void)
{
	struct rb_cap_opts one = { .permits = 1, .headroom = 0 };
	FOR_BOTH_BACKENDS(k) {
		one_case(k, NULL, 0, 2, 2);  /* both at once */
		one_case(k, NULL, 1, 2, 2);  /* the destination's fails */
		one_case(k, NULL, 2, 2, 2);  /* the source's fails */
		one_case(k, &one, 0, 1, 2);  /* no second permit: one after the other */
		one_case(k, &one, 1, 1, 1);
		one_case(k, &one, 2, 1, 2);
		same_dir(k);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	return T_EXIT_PASS;
}
