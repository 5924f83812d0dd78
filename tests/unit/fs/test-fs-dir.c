/* Description: the small operations on both backends. stat (follows a
 * symlink unless RB_FS_NOFOLLOW, the root itself, -ENOENT); mkdir (new,
 * existing -> -EEXIST, with parents: every missing component created, an
 * existing directory is fine, an existing file in the way -> -ENOTDIR or
 * -EEXIST, ".." inside the path, the root itself); rename (a file, a
 * directory, over an existing file, RENAME_NOREPLACE -> -EEXIST with both
 * files intact, a missing source, between directories); unlink (a file, an
 * empty directory, a non-empty one -> -ENOTEMPTY, a symlink removes the
 * link only, a file with dir=true -> -ENOTDIR); list_dir (names and types
 * without stat, statx'ed entries with sizes, an empty directory, a
 * directory of 3000 entries spanning several getdents chunks, the
 * max_entries limit -> -RB_E_LIMIT, a file -> -ENOTDIR); cancel of
 * list_dir in flight. Permits and fds are back after each. */
#include "fs_t.h"

static void test_stat(struct env *e)
{
	struct statx stx;
	char path[PATH_MAX];

	t_write_file(e->dir, "f.md", "12345", 5);
	ASSERT_EQ(t_stat(e, "f.md", 0, &stx), 0);
	ASSERT(S_ISREG(stx.stx_mode));
	ASSERT_EQ(stx.stx_size, 5);
	env_path(e, "l.md", path, sizeof(path));
	ASSERT_EQ(symlink("f.md", path), 0);
	ASSERT_EQ(t_stat(e, "l.md", 0, &stx), 0);
	ASSERT(S_ISREG(stx.stx_mode));
	ASSERT_EQ(t_stat(e, "l.md", RB_FS_NOFOLLOW, &stx), 0);
	ASSERT(S_ISLNK(stx.stx_mode));
	ASSERT_EQ(t_stat(e, ".", 0, &stx), 0);
	ASSERT(S_ISDIR(stx.stx_mode));
	ASSERT_EQ(t_stat(e, "nope", 0, &stx), -ENOENT);
	ASSERT_EQ(t_stat(e, "f.md/x", 0, &stx), -ENOTDIR);
}

static bool is_dir(struct env *e, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;
	env_path(e, rel, path, sizeof(path));
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(struct env *e, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;
	env_path(e, rel, path, sizeof(path));
	return lstat(path, &st) == 0;
}

static void test_mkdir(struct env *e)
{
	ASSERT_EQ(t_mkdir(e, "d1", false), 0);
	ASSERT(is_dir(e, "d1"));
	ASSERT_EQ(t_mkdir(e, "d1", false), -EEXIST);
	ASSERT_EQ(t_mkdir(e, "d1", true), 0);
	ASSERT_EQ(t_mkdir(e, "x/y/z", false), -ENOENT);
	ASSERT(!exists(e, "x"));
	ASSERT_EQ(t_mkdir(e, "x/y/z", true), 0);
	ASSERT(is_dir(e, "x/y/z"));
	ASSERT_EQ(t_mkdir(e, "x/y/z/w", true), 0); /* parent exists: the direct path */
	ASSERT(is_dir(e, "x/y/z/w"));
	ASSERT_EQ(t_mkdir(e, "d1/a/../b", true), 0);
	ASSERT(is_dir(e, "d1/a"));
	ASSERT(is_dir(e, "d1/b"));
	t_write_file(e->dir, "file", "f", 1);
	ASSERT_EQ(t_mkdir(e, "file", true), -EEXIST);
	ASSERT_EQ(t_mkdir(e, "file", false), -EEXIST);
	ASSERT_EQ(t_mkdir(e, "file/sub/deeper", true), -ENOTDIR);
	ASSERT_EQ(t_mkdir(e, ".", true), 0);
	ASSERT_EQ(t_mkdir(e, ".", false), -EEXIST);
	{
		char name[300];
		memset(name, 'm', 256);
		strcpy(name + 256, "/x");
		ASSERT_EQ(t_mkdir(e, name, true), -ENAMETOOLONG);
	}
}

static void test_rename_unlink(struct env *e)
{
	char path[PATH_MAX], *got;
	size_t len;

	t_write_file(e->dir, "a.md", "A", 1);
	t_write_file(e->dir, "b.md", "B", 1);
	ASSERT_EQ(t_rename(e, "a.md", "b.md", true), -EEXIST);
	env_path(e, "a.md", path, sizeof(path));
	got = slurp(path, &len);
	ASSERT_STREQ(got, "A");
	free(got);
	env_path(e, "b.md", path, sizeof(path));
	got = slurp(path, &len);
	ASSERT_STREQ(got, "B");
	free(got);
	ASSERT_EQ(t_rename(e, "a.md", "b.md", false), 0);
	ASSERT(!exists(e, "a.md"));
	got = slurp(path, &len);
	ASSERT_STREQ(got, "A");
	free(got);
	ASSERT_EQ(t_rename(e, "missing.md", "c.md", false), -ENOENT);
	ASSERT_EQ(t_rename(e, "b.md", "d1/moved.md", true), 0);
	ASSERT(exists(e, "d1/moved.md"));
	ASSERT_EQ(t_rename(e, "d1", "d2", true), 0);
	ASSERT(is_dir(e, "d2/b"));
	ASSERT_EQ(t_rename(e, ".", "d3", false), -RB_E_BAD_NAME);

	ASSERT_EQ(t_unlink(e, "d2/moved.md", false), 0);
	ASSERT(!exists(e, "d2/moved.md"));
	ASSERT_EQ(t_unlink(e, "d2/moved.md", false), -ENOENT);
	ASSERT_EQ(t_unlink(e, "d2", true), -ENOTEMPTY);
	ASSERT_EQ(t_unlink(e, "d2/a", true), 0);
	ASSERT(!exists(e, "d2/a"));
	ASSERT_EQ(t_unlink(e, "d2/b", false), -EISDIR);
	ASSERT_EQ(t_unlink(e, "file", true), -ENOTDIR);
	t_write_file(e->dir, "keep.md", "K", 1);
	env_path(e, "keep-link", path, sizeof(path));
	ASSERT_EQ(symlink("keep.md", path), 0);
	ASSERT_EQ(t_unlink(e, "keep-link", false), 0);
	ASSERT(!exists(e, "keep-link"));
	ASSERT(exists(e, "keep.md"));
	ASSERT_EQ(t_unlink(e, ".", true), -RB_E_BAD_NAME);
}

static struct rb_dirent *find_ent(struct waiter *w, const char *name)
{
	size_t i;
	for (i = 0; i < w->n; i++)
		if (!strcmp(w->ents[i].name, name))
			return &w->ents[i];
	return NULL;
}

static void test_list(struct env *e)
{
	struct waiter w;
	struct rb_dirent *d;
	char path[PATH_MAX], name[64];
	int i;

	ASSERT_EQ(t_mkdir(e, "ls", false), 0);
	ASSERT_EQ(t_list(e, "ls", true, 0, &w), 0);
	ASSERT_EQ(w.n, 0);
	free_list(&w);
	t_write_file(e->dir, "ls/one.md", "1", 1);
	t_write_file(e->dir, "ls/three.md", "333", 3);
	ASSERT_EQ(t_mkdir(e, "ls/sub", false), 0);
	env_path(e, "ls/link", path, sizeof(path));
	ASSERT_EQ(symlink("one.md", path), 0);
	ASSERT_EQ(t_list(e, "ls", false, 0, &w), 0);
	ASSERT_EQ(w.n, 4);
	ASSERT(find_ent(&w, "sub") && find_ent(&w, "sub")->type == DT_DIR);
	ASSERT(find_ent(&w, "link") && find_ent(&w, "link")->type == DT_LNK);
	free_list(&w);
	ASSERT_EQ(t_list(e, "ls", true, 0, &w), 0);
	ASSERT_EQ(w.n, 4);
	d = find_ent(&w, "three.md");
	ASSERT(d && d->stat_res == 0 && d->type == DT_REG);
	ASSERT_EQ(d->stx.stx_size, 3);
	d = find_ent(&w, "link");
	ASSERT(d && d->stat_res == 0 && S_ISLNK(d->stx.stx_mode)); /* not followed */
	free_list(&w);

	/* Several getdents chunks, and the limit. */
	ASSERT_EQ(t_mkdir(e, "big", false), 0);
	for (i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "big/entry-%05d-with-a-longish-name.md", i);
		t_write_file(e->dir, name, "x", 1);
	}
	ASSERT_EQ(t_list(e, "big", true, 0, &w), 0);
	ASSERT_EQ(w.n, 3000);
	for (i = 0; i < 3000; i++)
		ASSERT_EQ(w.ents[i].stat_res, 0);
	ASSERT(find_ent(&w, "entry-02999-with-a-longish-name.md"));
	free_list(&w);
	ASSERT_EQ(t_list(e, "big", false, 3000, &w), 0);
	free_list(&w);
	ASSERT_EQ(t_list(e, "big", false, 2999, &w), -RB_E_LIMIT);
	ASSERT_EQ(t_list(e, "ls/one.md", false, 0, &w), -ENOTDIR);
	ASSERT_EQ(t_list(e, "missing", false, 0, &w), -ENOENT);

	/* Cancel after k turns: -ECANCELED or the full answer. */
	for (i = 0; i < 12; i++) {
		struct waiter c = { 0 };
		struct rb_fs_op *op;
		struct rb_path p = env_resolve(e, "big");
		int t;
		ASSERT_EQ(rb_fs_list_dir(e->fs, &p, true, 0, RB_CAP_BULK, list_cb, &c, &op), 0);
		for (t = 0; t < i && !c.done; t++)
			rb_loop_run_once(e->loop, true, 100);
		if (!c.done)
			rb_fs_cancel(op);
		t_run_until(e->loop, &c.done);
		ASSERT(c.res == -ECANCELED || (c.res == 0 && c.n == 3000));
		free_list(&c);
		env_check_idle(e);
	}
}

int main(void)
{
	FOR_BOTH_BACKENDS(k) {
		struct env e;
		if (!env_setup(&e, k))
			continue;
		test_stat(&e);
		test_mkdir(&e);
		test_rename_unlink(&e);
		test_list(&e);
		env_teardown(&e);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	return T_EXIT_PASS;
}
