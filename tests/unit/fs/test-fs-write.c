/* Description: rb_fs_write_atomic on both backends: a new file (mode 0644),
 * a replacement (content and mode kept: 0600, and 0664 which the umask
 * would strip), an empty write, CREATE_ONLY on an existing file (-EEXIST,
 * old content kept) and on a new one, a symlink target (-RB_E_SYMLINK, the
 * link and its target untouched), a directory target (-EISDIR), a missing
 * parent (-ENOENT), bad names; short writes (every WRITE halved) still
 * write everything; cancel at every point of the sequence. Fault injection:
 * for each op kind (and for "any op"), the Nth request of that kind fails
 * for N = 1, 2, ... until a write gets through; after each failure the
 * target holds exactly the old content (or, for a failure after the rename,
 * exactly the new one), no temp file is left, every permit is back and the
 * fd count is at its baseline. */
#include "fs_t.h"

#define SZ (256 * 1024)

static char *old_data, *new_data;

static void set_old(struct env *e)
{
	t_write_file(e->dir, "target.md", old_data, SZ);
}

/* 0 = old content, 1 = new, -1 = neither (torn or missing). */
static int which_content(struct env *e, const char *rel, size_t *len_out)
{
	char path[PATH_MAX], *got;
	size_t len;
	int r = -1;
	env_path(e, rel, path, sizeof(path));
	got = slurp(path, &len);
	if (!got)
		return -1;
	if (len == SZ && !memcmp(got, old_data, SZ))
		r = 0;
	else if (len == SZ && !memcmp(got, new_data, SZ))
		r = 1;
	free(got);
	if (len_out)
		*len_out = len;
	return r;
}

#define no_temps(e) do { \
	if (count_names((e)->dir, ".rb-")) { \
		system("ls -la /proc/self/cwd >/dev/null"); \
		T_FAIL("temp file left in %s", (e)->dir); \
	} } while (0)

static mode_t mode_of(struct env *e, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;
	env_path(e, rel, path, sizeof(path));
	ASSERT_EQ(lstat(path, &st), 0);
	return st.st_mode;
}

static void test_basic(struct env *e)
{
	char path[PATH_MAX], target[PATH_MAX];
	struct stat st;

	ASSERT_EQ(t_write(e, "new.md", new_data, SZ, 0), 0);
	ASSERT_EQ(which_content(e, "new.md", NULL), 1);
	ASSERT_EQ(mode_of(e, "new.md") & 07777, 0644);
	set_old(e);
	ASSERT_EQ(t_write(e, "target.md", new_data, SZ, 0), 0);
	ASSERT_EQ(which_content(e, "target.md", NULL), 1);
	ASSERT_EQ(t_write(e, "target.md", old_data, SZ, RB_FS_WRITE_NO_FSYNC), 0);
	ASSERT_EQ(which_content(e, "target.md", NULL), 0);

	/* Modes are kept, including bits the umask would strip. */
	env_path(e, "target.md", path, sizeof(path));
	ASSERT_EQ(chmod(path, 0600), 0);
	ASSERT_EQ(t_write(e, "target.md", new_data, SZ, 0), 0);
	ASSERT_EQ(mode_of(e, "target.md") & 07777, 0600);
	ASSERT_EQ(chmod(path, 0664), 0);
	ASSERT_EQ(t_write(e, "target.md", old_data, SZ, 0), 0);
	ASSERT_EQ(mode_of(e, "target.md") & 07777, 0664);

	/* Empty content. */
	ASSERT_EQ(t_write(e, "empty.md", "", 0, 0), 0);
	env_path(e, "empty.md", path, sizeof(path));
	ASSERT_EQ(stat(path, &st), 0);
	ASSERT_EQ(st.st_size, 0);

	/* CREATE_ONLY. */
	set_old(e);
	ASSERT_EQ(t_write(e, "target.md", new_data, SZ, RB_FS_WRITE_CREATE_ONLY), -EEXIST);
	ASSERT_EQ(which_content(e, "target.md", NULL), 0);
	ASSERT_EQ(t_write(e, "fresh.md", new_data, SZ, RB_FS_WRITE_CREATE_ONLY), 0);
	ASSERT_EQ(which_content(e, "fresh.md", NULL), 1);

	/* A symlink target is refused and left alone, as is its target. */
	env_path(e, "link.md", path, sizeof(path));
	ASSERT_EQ(symlink("target.md", path), 0);
	ASSERT_EQ(t_write(e, "link.md", new_data, SZ, 0), -RB_E_SYMLINK);
	ASSERT(S_ISLNK(mode_of(e, "link.md")));
	ASSERT_EQ(which_content(e, "target.md", NULL), 0);
	env_path(e, "dangling.md", path, sizeof(path));
	ASSERT_EQ(symlink("nowhere.md", path), 0);
	ASSERT_EQ(t_write(e, "dangling.md", new_data, SZ, 0), -RB_E_SYMLINK);
	env_path(e, "nowhere.md", target, sizeof(target));
	ASSERT_EQ(access(target, F_OK), -1);

	/* Directories, missing parents, bad names. */
	env_path(e, "dir", path, sizeof(path));
	ASSERT_EQ(mkdir(path, 0755), 0);
	ASSERT_EQ(t_write(e, "dir", new_data, SZ, 0), -EISDIR);
	ASSERT_EQ(t_write(e, ".", new_data, SZ, 0), -EISDIR);
	ASSERT_EQ(t_write(e, "nodir/x.md", new_data, SZ, 0), -ENOENT);
	ASSERT_EQ(t_write(e, "target.md/x", new_data, SZ, 0), -ENOTDIR);
	ASSERT_EQ(t_write(e, "dir/..", new_data, SZ, 0), -RB_E_BAD_NAME);
	ASSERT_EQ(t_write(e, "dir/x.md", new_data, SZ, 0), 0);
	ASSERT_EQ(which_content(e, "dir/x.md", NULL), 1);
	{
		char name[256];
		memset(name, 'w', 255);
		name[255] = '\0';
		ASSERT_EQ(t_write(e, name, "long name", 9, 0), 0); /* the temp name is shortened */
	}
	no_temps(e);
	ASSERT_EQ(count_names(path, ".rb-"), 0);

	/* Every other WRITE comes back short (half its length): the rest is
	 * written by further calls. (Every single one would end at a 1-byte
	 * write, which the fault hook fails outright instead of shortening.) */
	{
		uint64_t before = rb_io_fault_count(e->io);
		rb_io_fault_set(e->io, RB_IO_WRITE, 1, 2, RB_IO_FAULT_SHORT);
		ASSERT_EQ(t_write(e, "short.md", new_data, SZ, 0), 0);
		ASSERT_GE(rb_io_fault_count(e->io) - before, 1);
	}
	rb_io_fault_set(e->io, RB_IO_NOP, 0, 0, 0);
	ASSERT_EQ(which_content(e, "short.md", NULL), 1);
	env_check_idle(e);
}

/* Whether the Nth request of kind k (in the write's order: OPENAT2 parent,
 * STATX, OPENAT2 temp, WRITE, FSYNC, CLOSE, RENAMEAT, FSYNC dir, STATX,
 * CLOSE parent) comes after the rename. */
static bool after_rename(enum rb_io_op k, uint64_t n)
{
	switch (k) {
	case RB_IO_NOP:
		return n >= 8;
	case RB_IO_FSYNC:
	case RB_IO_STATX:
	case RB_IO_CLOSE:
		return n >= 2;
	default:
		return false;
	}
}

static void test_faults(struct env *e)
{
	const enum rb_io_op kinds[] = { RB_IO_NOP, RB_IO_OPENAT2, RB_IO_STATX, RB_IO_WRITE, RB_IO_FSYNC,
					RB_IO_CLOSE, RB_IO_RENAMEAT, RB_IO_UNLINKAT };
	const int errs[] = { -EIO, -ENOSPC, -EDQUOT };
	size_t ki;
	int fd_base = t_fd_count(), failures = 0;

	for (ki = 0; ki < sizeof(kinds) / sizeof(kinds[0]); ki++) {
		uint64_t n;
		for (n = 1;; n++) {
			int err = errs[n % 3], r, c;
			uint64_t hits = rb_io_fault_count(e->io);
			set_old(e);
			rb_io_fault_set(e->io, kinds[ki], n, 0, err);
			r = t_write(e, "target.md", new_data, SZ, 0);
			c = which_content(e, "target.md", NULL);
			rb_io_fault_set(e->io, RB_IO_NOP, 0, 0, 0);
			if (rb_io_fault_count(e->io) == hits) {
				/* The Nth request of this kind never came: a clean write. */
				ASSERT_EQ(r, 0);
				ASSERT_EQ(c, 1);
				break;
			}
			if (r == 0) {
				/* Only a failing final close of the parent is not an error. */
				ASSERT(after_rename(kinds[ki], n));
				ASSERT_EQ(c, 1);
			} else {
				failures++;
				ASSERT_EQ(r, err);
				if (after_rename(kinds[ki], n))
					ASSERT_EQ(c, 1);
				else if (c != 0)
					T_FAIL("kind %d, n %llu: target not the old content (%d)", (int)kinds[ki],
					       (unsigned long long)n, c);
			}
			no_temps(e);
			env_check_idle(e);
			ASSERT_EQ(t_fd_count(), fd_base);
			ASSERT(n < 20);
		}
	}
	ASSERT_GE(failures, 12);
}

struct cancel_ctx {
	struct waiter w;
	struct rb_fs_op *op;
};

static void test_cancel(struct env *e)
{
	int turns, cancelled = 0, completed = 0;
	for (turns = 0; turns < 40; turns++) {
		struct cancel_ctx c = { 0 };
		struct rb_path p = env_resolve(e, "target.md");
		int i, content;
		set_old(e);
		ASSERT_EQ(rb_fs_write_atomic(e->fs, &p, new_data, SZ, 0, RB_CAP_INTERACTIVE, res_cb, &c.w, &c.op), 0);
		for (i = 0; i < turns && !c.w.done; i++)
			rb_loop_run_once(e->loop, true, 100);
		if (!c.w.done)
			rb_fs_cancel(c.op);
		t_run_until(e->loop, &c.w.done);
		content = which_content(e, "target.md", NULL);
		if (getenv("DBG"))
			fprintf(stderr, "turns %d res %d content %d temps %d\n", turns, c.w.res, content, count_names(e->dir, ".rb-"));
		if (c.w.res == -ECANCELED) {
			cancelled++;
			ASSERT_EQ(content, 0);
		} else {
			completed++;
			ASSERT_EQ(c.w.res, 0);
			ASSERT_EQ(content, 1);
		}
		no_temps(e);
		env_check_idle(e);
	}
	ASSERT_GE(cancelled, 3);
	ASSERT_GE(completed, 1);
}

int main(void)
{
	old_data = malloc(SZ);
	new_data = malloc(SZ);
	fill_pattern(old_data, SZ, 11);
	fill_pattern(new_data, SZ, 12);
	FOR_BOTH_BACKENDS(k) {
		struct env e;
		if (!env_setup(&e, k))
			continue;
		test_basic(&e);
		test_faults(&e);
		test_cancel(&e);
		env_teardown(&e);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	free(old_data);
	free(new_data);
	return T_EXIT_PASS;
}
