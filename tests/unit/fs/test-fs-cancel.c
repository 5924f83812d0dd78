/* Description: cancel of every operation kind at every point, concurrently,
 * on both backends. Each round starts a walk, a list_dir with stats, an
 * atomic write, a mkdir -p, a rename, a stat and a 300 KB read together,
 * runs the loop 0-24 turns, cancels whatever has not finished, and runs
 * until every callback has come (exactly once). After each round: every
 * permit is back, the fd count is at its baseline, no temp file is left,
 * and the written file is whole (old or new). A stress version of this
 * caught a cancelled read whose close was cancelled too (a leaked fd in
 * about 1 of 1000 rounds). RB_CANCEL_ROUNDS overrides the 300 rounds. */
#include "fs_t.h"

#define NEWSZ 300000

static void walk_done(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct waiter *w = ctx;
	(void)st;
	ASSERT(!w->done);
	w->res = res;
	w->done = true;
}

static void once_res_cb(void *ctx, int res)
{
	struct waiter *w = ctx;
	ASSERT(!w->done);
	res_cb(ctx, res);
}

int main(void)
{
	const char *env_rounds = getenv("RB_CANCEL_ROUNDS");
	int rounds = env_rounds ? atoi(env_rounds) : 300;

	FOR_BOTH_BACKENDS(k) {
		struct env e;
		struct rb_walk_opts o = { .stat_files = true, .cls = RB_CAP_BULK };
		char rel[64], path[PATH_MAX], *data;
		int d, f, it, base, cancelled = 0;

		if (!env_setup(&e, k))
			continue;
		data = malloc(NEWSZ);
		fill_pattern(data, NEWSZ, 1);
		for (d = 0; d < 20; d++) {
			snprintf(rel, sizeof(rel), "d%02d", d);
			env_path(&e, rel, path, sizeof(path));
			ASSERT_EQ(mkdir(path, 0755), 0);
			for (f = 0; f < 50; f++) {
				snprintf(rel, sizeof(rel), "d%02d/f%02d", d, f);
				t_write_file(e.dir, rel, "x", 1);
			}
		}
		t_write_file(e.dir, "t.md", "old", 3);
		t_write_file(e.dir, "big.md", data, NEWSZ);
		base = t_fd_count();
		for (it = 0; it < rounds; it++) {
			struct waiter w[7] = { 0 };
			struct rb_fs_op *op[7];
			struct rb_path p = env_resolve(&e, "."), pt = env_resolve(&e, "t.md");
			struct rb_path pd = env_resolve(&e, "d03"), pm = env_resolve(&e, "newdir/a/b");
			struct rb_path pr1 = env_resolve(&e, "d01/f01"), pr2 = env_resolve(&e, "d01/g01");
			struct rb_path pb = env_resolve(&e, "big.md");
			size_t len;
			char *c;
			int i, t;

			ASSERT_EQ(rb_fs_walk(e.fs, &p, &o, NULL, walk_done, &w[0], &op[0]), 0);
			ASSERT_EQ(rb_fs_list_dir(e.fs, &pd, true, 0, RB_CAP_BULK, list_cb, &w[1], &op[1]), 0);
			ASSERT_EQ(rb_fs_write_atomic(e.fs, &pt, data, NEWSZ, it & 1 ? RB_FS_WRITE_NO_FSYNC : 0,
						     RB_CAP_INTERACTIVE, once_res_cb, &w[2], &op[2]), 0);
			ASSERT_EQ(rb_fs_mkdir(e.fs, &pm, true, RB_CAP_INTERACTIVE, once_res_cb, &w[3], &op[3]), 0);
			ASSERT_EQ(rb_fs_rename(e.fs, it & 1 ? &pr2 : &pr1, it & 1 ? &pr1 : &pr2, false,
					       RB_CAP_INTERACTIVE, once_res_cb, &w[4], &op[4]), 0);
			ASSERT_EQ(rb_fs_stat(e.fs, &pt, 0, RB_CAP_INTERACTIVE, stat_cb, &w[5], &op[5]), 0);
			ASSERT_EQ(rb_fs_read_file(e.fs, &pb, it & 2 ? RB_FS_READ_STAT : 0, 0, RB_CAP_BULK, read_cb, &w[6],
						  &op[6]), 0);
			for (t = 0; t < it % 25; t++)
				rb_loop_run_once(e.loop, false, 0);
			for (i = 0; i < 7; i++)
				if (!w[i].done)
					rb_fs_cancel(op[i]);
			for (i = 0; i < 7; i++) {
				t_run_until(e.loop, &w[i].done);
				if (w[i].res == -ECANCELED)
					cancelled++;
			}
			ASSERT(w[6].res == -ECANCELED || (w[6].res == 0 && w[6].len == NEWSZ));
			free(w[6].data);
			free_list(&w[1]);
			env_check_idle(&e);
			if (count_names(e.dir, ".rb-"))
				T_FAIL("round %d: temp file left", it);
			env_path(&e, "t.md", path, sizeof(path));
			c = slurp(path, &len);
			ASSERT(c != NULL);
			ASSERT(len == 3 ? !memcmp(c, "old", 3) : len == NEWSZ && !memcmp(c, data, NEWSZ));
			free(c);
			if (t_fd_count() != base)
				T_FAIL("round %d: %d fds open, baseline %d", it, t_fd_count(), base);
			/* Undo what completed so the next round does the same work. */
			t_write_file(e.dir, "t.md", "old", 3);
			env_path(&e, "newdir/a/b", path, sizeof(path));
			rmdir(path);
			env_path(&e, "newdir/a", path, sizeof(path));
			rmdir(path);
			env_path(&e, "newdir", path, sizeof(path));
			rmdir(path);
		}
		ASSERT_GE(cancelled, rounds);
		free(data);
		env_teardown(&e);
		fprintf(stderr, "%s: %d rounds, %d operations cancelled: ok\n", kname(k), rounds, cancelled);
	}
	return T_EXIT_PASS;
}
