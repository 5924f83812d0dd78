/* Description: every way out of the root is refused with -RB_E_OUTSIDE, by
 * the lexical step or by the kernel (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), for read, stat, write, mkdir, unlink, rename,
 * list_dir and walk, on both backends: "..", "a/../../x", an absolute path
 * outside, a symlink to outside (absolute and relative), a symlink chain
 * ending outside, a symlink to the parent of the root, a directory symlink
 * out used as a parent, /proc/self/root/..., a symlink to /proc/self/fd/N,
 * and, with /proc/self as a root, the magic links fd/N and root/ (the
 * kernel's -ELOOP from RESOLVE_NO_MAGICLINKS). Legitimate paths that look
 * odd (a/../b inside, symlinks that stay inside) still work, and the outside
 * file is never read or changed. Also the lexical rules of rb_fs_resolve
 * (normalisation, nested roots, allowed narrowing) and rb_fs_check_name. */
#include "fs_t.h"

static char *outside_dir;

static void walk_done_cb(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct waiter *w = ctx;
	w->res = res;
	w->wst = *st;
	w->done = true;
}

static int t_walk(struct env *e, const char *client)
{
	struct waiter w = { 0 };
	struct rb_walk_opts o = { .stat_files = true, .cls = RB_CAP_BULK };
	struct rb_path p;
	int r = rb_fs_resolve(e->fs, client, &p);
	if (r < 0)
		return r;
	ASSERT_EQ(rb_fs_walk(e->fs, &p, &o, NULL, walk_done_cb, &w, NULL), 0);
	t_run_until(e->loop, &w.done);
	return w.res;
}

/* The same refusal from every operation that takes this path. */
static void refused(struct env *e, const char *client)
{
	struct waiter w;
	char leaf[PATH_MAX];

	ASSERT_EQ(t_read(e, client, 0, 0, NULL, NULL, NULL), -RB_E_OUTSIDE);
	ASSERT_EQ(t_read(e, client, RB_FS_READ_STAT, 0, NULL, NULL, NULL), -RB_E_OUTSIDE);
	ASSERT_EQ(t_read(e, client, RB_FS_READ_CACHED, 0, NULL, NULL, NULL), -RB_E_OUTSIDE);
	ASSERT_EQ(t_stat(e, client, 0, NULL), -RB_E_OUTSIDE);
	ASSERT_EQ(t_list(e, client, false, 0, &w), -RB_E_OUTSIDE);
	ASSERT_EQ(t_walk(e, client), -RB_E_OUTSIDE);
	/* As a parent directory of a name operation. */
	snprintf(leaf, sizeof(leaf), "%s/new.md", client);
	ASSERT_EQ(t_write(e, leaf, "x", 1, RB_FS_WRITE_NO_FSYNC), -RB_E_OUTSIDE);
	ASSERT_EQ(t_mkdir(e, leaf, false), -RB_E_OUTSIDE);
	ASSERT_EQ(t_mkdir(e, leaf, true), -RB_E_OUTSIDE);
	ASSERT_EQ(t_unlink(e, leaf, false), -RB_E_OUTSIDE);
	t_write_file(e->dir, "mine.md", "m", 1);
	ASSERT_EQ(t_rename(e, "mine.md", leaf, false), -RB_E_OUTSIDE);
	ASSERT_EQ(t_rename(e, leaf, "mine2.md", false), -RB_E_OUTSIDE);
}

static void outside_untouched(void)
{
	char path[PATH_MAX], *got;
	size_t len;
	snprintf(path, sizeof(path), "%s/secret.md", outside_dir);
	got = slurp(path, &len);
	ASSERT(got != NULL);
	ASSERT_STREQ(got, "outside secret");
	free(got);
	ASSERT_EQ(count_names(outside_dir, ""), 2 + 2); /* . .. secret.md sub */
}

static void test_escapes(struct env *e)
{
	char path[PATH_MAX], client[PATH_MAX], *got;
	size_t len;
	int fd;

	/* The root lives in a parent we also use as "outside". */
	refused(e, "..");
	refused(e, "../secret.md");
	refused(e, "a/../../x");
	refused(e, "./../.");
	snprintf(client, sizeof(client), "%s/secret.md", outside_dir);
	refused(e, client);
	refused(e, outside_dir);
	refused(e, "/etc");
	refused(e, "/etc/passwd");

	/* Symlinks out of the root: absolute, relative, chains, to the parent. */
	env_path(e, "abs-out", path, sizeof(path));
	snprintf(client, sizeof(client), "%s/secret.md", outside_dir);
	ASSERT_EQ(symlink(client, path), 0);
	refused(e, "abs-out");
	env_path(e, "rel-out", path, sizeof(path));
	ASSERT_EQ(symlink("../outside/secret.md", path), 0);
	refused(e, "rel-out");
	env_path(e, "chain1", path, sizeof(path));
	ASSERT_EQ(symlink("chain2", path), 0);
	env_path(e, "chain2", path, sizeof(path));
	ASSERT_EQ(symlink("chain3", path), 0);
	env_path(e, "chain3", path, sizeof(path));
	ASSERT_EQ(symlink("rel-out", path), 0);
	refused(e, "chain1");
	env_path(e, "up", path, sizeof(path));
	ASSERT_EQ(symlink("..", path), 0);
	refused(e, "up");
	refused(e, "up/outside");
	env_path(e, "dir-out", path, sizeof(path));
	ASSERT_EQ(symlink(outside_dir, path), 0);
	refused(e, "dir-out");
	refused(e, "dir-out/sub");
	env_path(e, "root-link", path, sizeof(path));
	ASSERT_EQ(symlink("/", path), 0);
	refused(e, "root-link/etc");

	/* /proc: by client path, and by a symlink to an fd's magic link. */
	snprintf(client, sizeof(client), "/proc/self/root%s/secret.md", outside_dir);
	refused(e, client);
	snprintf(client, sizeof(client), "/proc/self/root%s/inside.md", e->dir);
	refused(e, client);
	snprintf(client, sizeof(client), "%s/secret.md", outside_dir);
	fd = open(client, O_RDONLY);
	ASSERT_GE(fd, 0);
	env_path(e, "fdlink", path, sizeof(path));
	snprintf(client, sizeof(client), "/proc/self/fd/%d", fd);
	ASSERT_EQ(symlink(client, path), 0);
	refused(e, "fdlink");
	env_path(e, "proc-root", path, sizeof(path));
	ASSERT_EQ(symlink("/proc/self/root", path), 0);
	refused(e, "proc-root/etc");
	close(fd);

	/* Odd but inside: these must work. */
	t_write_file(e->dir, "inside.md", "inside", 6);
	ASSERT_EQ(mkdirat(AT_FDCWD, (env_path(e, "a", path, sizeof(path)), path), 0755), 0);
	ASSERT_EQ(t_read(e, "a/../inside.md", 0, 0, &got, &len, NULL), 0);
	ASSERT_STREQ(got, "inside");
	free(got);
	snprintf(client, sizeof(client), "%s//a/.//../inside.md/", e->dir);
	ASSERT_EQ(t_read(e, client, 0, 0, &got, &len, NULL), 0);
	ASSERT_STREQ(got, "inside");
	free(got);
	env_path(e, "a/link-in", path, sizeof(path));
	ASSERT_EQ(symlink("../inside.md", path), 0);
	ASSERT_EQ(t_read(e, "a/link-in", 0, 0, &got, &len, NULL), 0);
	ASSERT_STREQ(got, "inside");
	free(got);
	outside_untouched();
}

/* /proc/self as a root: fd/N and root are magic links, refused by
 * RESOLVE_NO_MAGICLINKS (-ELOOP from the kernel). */
static void test_magic(struct env *e)
{
	char client[64], path[PATH_MAX];
	int fd, r;

	ASSERT_EQ(rb_fs_add_root(e->fs, "/proc/self"), 0);
	snprintf(path, sizeof(path), "%s/secret.md", outside_dir);
	fd = open(path, O_RDONLY);
	ASSERT_GE(fd, 0);
	snprintf(client, sizeof(client), "/proc/%d/fd/%d", (int)getpid(), fd);
	ASSERT_EQ(t_read(e, client, 0, 0, NULL, NULL, NULL), -RB_E_OUTSIDE);
	ASSERT_EQ(t_read(e, client, RB_FS_READ_STAT, 0, NULL, NULL, NULL), -RB_E_OUTSIDE);
	ASSERT_EQ(t_stat(e, client, 0, NULL), -RB_E_OUTSIDE);
	snprintf(client, sizeof(client), "/proc/%d/root/etc/passwd", (int)getpid());
	ASSERT_EQ(t_read(e, client, 0, 0, NULL, NULL, NULL), -RB_E_OUTSIDE);
	snprintf(client, sizeof(client), "/proc/%d/cwd", (int)getpid());
	ASSERT_EQ(t_stat(e, client, 0, NULL), -RB_E_OUTSIDE);
	/* A plain file under that root still reads. */
	snprintf(client, sizeof(client), "/proc/%d/comm", (int)getpid());
	r = t_read(e, client, 0, 0, NULL, NULL, NULL);
	ASSERT_EQ(r, 0);
	close(fd);
}

static void test_lexical(struct env *e)
{
	struct rb_path p;
	char client[2 * PATH_MAX], sub[PATH_MAX], nested[PATH_MAX];
	const char *allow[2];

	ASSERT_EQ(rb_fs_resolve(e->fs, "", &p), -EINVAL);
	ASSERT_EQ(rb_fs_resolve(e->fs, ".", &p), 0);
	ASSERT_STREQ(p.rel, ".");
	ASSERT_STREQ(p.abs, rb_fs_root_path(e->fs, 0));
	ASSERT_EQ(rb_fs_resolve(e->fs, "./a//b/./c/", &p), 0);
	ASSERT_STREQ(p.rel, "a/b/c");
	ASSERT_EQ(p.root, 0);
	ASSERT_EQ(p.dirfd, rb_fs_root_fd(e->fs, 0));
	snprintf(client, sizeof(client), "%s/a/../b", e->dir);
	ASSERT_EQ(rb_fs_resolve(e->fs, client, &p), 0);
	ASSERT_STREQ(p.rel, "a/../b"); /* ".." kept for the kernel */
	snprintf(client, sizeof(client), "%s/", e->dir);
	ASSERT_EQ(rb_fs_resolve(e->fs, client, &p), 0);
	ASSERT_STREQ(p.rel, ".");
	/* A sibling whose name extends the root's is not inside it. */
	snprintf(client, sizeof(client), "%sx/file", e->dir);
	ASSERT_EQ(rb_fs_resolve(e->fs, client, &p), -RB_E_OUTSIDE);

	/* Nested roots: the longest match wins. */
	env_path(e, "nested", nested, sizeof(nested));
	ASSERT_EQ(mkdir(nested, 0755), 0);
	ASSERT_EQ(rb_fs_add_root(e->fs, nested), 0);
	snprintf(client, sizeof(client), "%s/f.md", nested);
	ASSERT_EQ(rb_fs_resolve(e->fs, client, &p), 0);
	ASSERT_EQ(p.root, 1);
	ASSERT_STREQ(p.rel, "f.md");
	ASSERT_STREQ(p.abs, client);
	ASSERT_EQ(rb_fs_resolve(e->fs, "nested/f.md", &p), 0); /* relative: the first root */
	ASSERT_EQ(p.root, 1);

	/* Narrowing: only below the allowed directories, ".." folded. */
	env_path(e, "allowed", sub, sizeof(sub));
	ASSERT_EQ(mkdir(sub, 0755), 0);
	allow[0] = sub;
	allow[1] = "/elsewhere";
	ASSERT_EQ(rb_fs_set_allowed(e->fs, allow, 2), 0);
	ASSERT_EQ(rb_fs_allowed_count(e->fs), 1);
	ASSERT_EQ(rb_fs_resolve(e->fs, "allowed/x.md", &p), 0);
	ASSERT_EQ(rb_fs_resolve(e->fs, "allowed", &p), 0);
	ASSERT_EQ(rb_fs_resolve(e->fs, "inside.md", &p), -RB_E_OUTSIDE);
	ASSERT_EQ(rb_fs_resolve(e->fs, "allowed/../inside.md", &p), -RB_E_OUTSIDE);
	ASSERT_EQ(rb_fs_resolve(e->fs, "allowedx/y", &p), -RB_E_OUTSIDE);
	allow[0] = "/elsewhere";
	ASSERT_EQ(rb_fs_set_allowed(e->fs, allow, 1), -RB_E_OUTSIDE);
	ASSERT_EQ(rb_fs_allowed_count(e->fs), 1); /* unchanged */
	ASSERT_EQ(rb_fs_set_allowed(e->fs, NULL, 0), 0);
	ASSERT_EQ(rb_fs_resolve(e->fs, "inside.md", &p), 0);

	ASSERT_EQ(rb_fs_check_name("ok.md"), 0);
	ASSERT_EQ(rb_fs_check_name(".hidden"), 0);
	ASSERT_EQ(rb_fs_check_name("..."), 0);
	ASSERT_EQ(rb_fs_check_name(""), -RB_E_BAD_NAME);
	ASSERT_EQ(rb_fs_check_name("."), -RB_E_BAD_NAME);
	ASSERT_EQ(rb_fs_check_name(".."), -RB_E_BAD_NAME);
	ASSERT_EQ(rb_fs_check_name("a/b"), -RB_E_BAD_NAME);
	memset(client, 'x', 256);
	client[256] = '\0';
	ASSERT_EQ(rb_fs_check_name(client), -RB_E_BAD_NAME);
	client[255] = '\0';
	ASSERT_EQ(rb_fs_check_name(client), 0);
}

int main(void)
{
	FOR_BOTH_BACKENDS(k) {
		struct env e;
		char *base = t_tmpdir(), path[PATH_MAX];
		char *saved_tmp = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;

		/* Layout: base/outside/{secret.md,sub/} and base/root (the root). */
		snprintf(path, sizeof(path), "%s/outside", base);
		ASSERT_EQ(mkdir(path, 0755), 0);
		outside_dir = path;
		t_write_file(path, "secret.md", "outside secret", 14);
		{
			char s2[PATH_MAX + 16];
			snprintf(s2, sizeof(s2), "%s/sub", path);
			ASSERT_EQ(mkdir(s2, 0755), 0);
		}
		setenv("TMPDIR", base, 1);
		if (!env_setup(&e, k)) {
			t_rmtree(base);
			continue;
		}
		if (saved_tmp)
			setenv("TMPDIR", saved_tmp, 1);
		else
			unsetenv("TMPDIR");
		free(saved_tmp);
		/* The root is base/rbtest.XXXXXX; make "../outside" reach outside. */
		test_escapes(&e);
		test_lexical(&e);
		test_magic(&e);
		outside_untouched();
		env_teardown(&e);
		t_rmtree(base);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	return T_EXIT_PASS;
}
