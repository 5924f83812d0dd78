/* Description: rb_fs_walk on both backends over a tree with 60-deep
 * nesting, odd names (spaces, newline, non-UTF-8, 255 bytes, leading dash),
 * symlinks to files, to directories (inside and outside) and dangling ones
 * (reported, never followed), a fifo, empty directories and a 2500-entry
 * directory. The set of reported paths and the counts (files, dirs,
 * symlinks, other, bytes) must equal a synchronous nftw(FTW_PHYS) of the
 * same tree; also with one directory open at a time and a cap of 2 permits
 * (everything queues), with stat_all (every entry statx'ed, types from
 * statx) and without stat_files (no bytes). Then: max_depth, an entry
 * callback that prunes a directory (returns 1), one that aborts (negative
 * code -> done gets it), pause/resume from the callback (nothing new is
 * reported while paused beyond the stats already in flight), cancel at
 * several points (-ECANCELED, all fds and permits back), a missing start
 * (-ENOENT), a file as start (-ENOTDIR) and a walk of a subdirectory. */
#include "fs_t.h"

static char **ref_paths;
static size_t ref_n, ref_cap;
static struct rb_walk_stats ref;
static size_t ref_root_len;

static void add_path(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		*v = realloc(*v, *cap * sizeof(char *));
	}
	(*v)[(*n)++] = strdup(s);
}

static int ref_cb(const char *p, const struct stat *sb, int tf, struct FTW *f)
{
	(void)tf;
	if (f->level == 0)
		return 0;
	add_path(&ref_paths, &ref_n, &ref_cap, p + ref_root_len + 1);
	if (S_ISREG(sb->st_mode)) {
		ref.files++;
		ref.bytes += (uint64_t)sb->st_size;
	} else if (S_ISDIR(sb->st_mode)) {
		ref.dirs++;
	} else if (S_ISLNK(sb->st_mode)) {
		ref.symlinks++;
	} else {
		ref.other++;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void make_tree(struct env *e)
{
	char rel[1024], relf[1100], path[PATH_MAX], name[300];
	int i, j;

	/* 60 levels, a file at each. */
	rel[0] = '\0';
	for (i = 0; i < 60; i++) {
		size_t l = strlen(rel);
		snprintf(rel + l, sizeof(rel) - l, "%sd%02d", l ? "/" : "", i);
		env_path(e, rel, path, sizeof(path));
		ASSERT_EQ(mkdir(path, 0755), 0);
		snprintf(relf, sizeof(relf), "%s/f.md", rel);
		t_write_file(e->dir, relf, "deep--", 4 + (size_t)(i % 3));
	}
	/* Odd names. */
	ASSERT_EQ(mkdir((env_path(e, "odd", path, sizeof(path)), path), 0755), 0);
	t_write_file(e->dir, "odd/with space.md", "a", 1);
	t_write_file(e->dir, "odd/new\nline.md", "bb", 2);
	t_write_file(e->dir, "odd/caf\xe9\xff.md", "ccc", 3);
	t_write_file(e->dir, "odd/-dash", "dddd", 4);
	t_write_file(e->dir, "odd/.hidden", "eeeee", 5);
	memset(name, 'L', 255);
	name[255] = '\0';
	snprintf(relf, sizeof(relf), "odd/%s", name);
	t_write_file(e->dir, relf, "long", 4);
	ASSERT_EQ(mkdir((env_path(e, "odd/dir with\ttab", path, sizeof(path)), path), 0755), 0);
	t_write_file(e->dir, "odd/dir with\ttab/x", "x", 1);
	/* Symlinks: never followed. */
	ASSERT_EQ(mkdir((env_path(e, "links", path, sizeof(path)), path), 0755), 0);
	ASSERT_EQ(symlink("../odd/-dash", (env_path(e, "links/to-file", path, sizeof(path)), path)), 0);
	ASSERT_EQ(symlink("../odd", (env_path(e, "links/to-dir", path, sizeof(path)), path)), 0);
	ASSERT_EQ(symlink("/etc", (env_path(e, "links/to-outside", path, sizeof(path)), path)), 0);
	ASSERT_EQ(symlink("nowhere", (env_path(e, "links/dangling", path, sizeof(path)), path)), 0);
	ASSERT_EQ(symlink(".", (env_path(e, "links/loop", path, sizeof(path)), path)), 0);
	ASSERT_EQ(mkfifo((env_path(e, "links/fifo", path, sizeof(path)), path), 0644), 0);
	/* Empty dirs and a wide one. */
	ASSERT_EQ(mkdir((env_path(e, "empty", path, sizeof(path)), path), 0755), 0);
	ASSERT_EQ(mkdir((env_path(e, "empty/also-empty", path, sizeof(path)), path), 0755), 0);
	ASSERT_EQ(mkdir((env_path(e, "wide", path, sizeof(path)), path), 0755), 0);
	for (j = 0; j < 2500; j++) {
		snprintf(rel, sizeof(rel), "wide/file-%04d-%s.md", j, j % 2 ? "odd" : "even");
		t_write_file(e->dir, rel, "wide-content", (size_t)(j % 13));
	}

	/* The reference. */
	memset(&ref, 0, sizeof(ref));
	ref_root_len = strlen(e->dir);
	ASSERT_EQ(nftw(e->dir, ref_cb, 32, FTW_PHYS), 0);
	qsort(ref_paths, ref_n, sizeof(char *), cmp_str);
}

struct walk_ctx {
	struct env *e;
	volatile bool done;
	int res;
	struct rb_walk_stats st;
	char **paths;
	size_t n, cap;
	unsigned entries, errors;
	int max_depth_seen;
	bool check_stx;
	/* behaviours */
	const char *prune;	  /* return 1 for this dir */
	unsigned abort_after;	  /* return -EINTR after this many */
	unsigned pause_every;	  /* pause after every N entries */
	unsigned while_paused;	  /* entries delivered while paused */
	bool paused;
	struct rb_fs_op *op;
	struct rb_timer resume;
	unsigned pauses;
};

static int entry_cb(void *ctx, const struct rb_walk_entry *ent)
{
	struct walk_ctx *c = ctx;
	const char *slash = strrchr(ent->rel, '/');

	c->entries++;
	ASSERT_STREQ(slash ? slash + 1 : ent->rel, ent->name);
	if (ent->err)
		c->errors++;
	if (ent->depth > c->max_depth_seen)
		c->max_depth_seen = ent->depth;
	if (c->check_stx && ent->type == DT_REG)
		ASSERT(ent->have_stx);
	if (c->paused)
		c->while_paused++;
	add_path(&c->paths, &c->n, &c->cap, ent->rel);
	if (c->prune && !strcmp(ent->rel, c->prune))
		return 1;
	if (c->abort_after && c->entries >= c->abort_after)
		return -EINTR;
	if (c->pause_every && c->entries % c->pause_every == 0 && !c->paused) {
		rb_fs_walk_pause(c->op);
		c->paused = true;
		c->pauses++;
		rb_timer_start(c->e->loop, &c->resume, 1, c->resume.cb);
	}
	return 0;
}

static void resume_cb(struct rb_timer *t)
{
	struct walk_ctx *c = t->data;
	c->paused = false;
	rb_fs_walk_resume(c->op);
}

static void done_cb(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct walk_ctx *c = ctx;
	c->res = res;
	c->st = *st;
	c->done = true;
}

static void free_ctx(struct walk_ctx *c)
{
	size_t i;
	for (i = 0; i < c->n; i++)
		free(c->paths[i]);
	free(c->paths);
}

static int run_walk(struct env *e, const char *start, struct rb_walk_opts *o, struct walk_ctx *c)
{
	struct rb_path p = env_resolve(e, start);
	int r;
	c->e = e;
	c->resume.data = c;
	c->resume.cb = resume_cb;
	r = rb_fs_walk(e->fs, &p, o, entry_cb, done_cb, c, &c->op);
	if (r < 0)
		return r;
	ASSERT(!c->done);
	t_run_until(e->loop, &c->done);
	if (rb_timer_active(&c->resume))
		rb_timer_stop(e->loop, &c->resume);
	return c->res;
}

static void compare_with_ref(struct walk_ctx *c, bool bytes)
{
	size_t i;
	ASSERT_EQ(c->st.files, ref.files);
	ASSERT_EQ(c->st.dirs, ref.dirs);
	ASSERT_EQ(c->st.symlinks, ref.symlinks);
	ASSERT_EQ(c->st.other, ref.other);
	ASSERT_EQ(c->st.bytes, bytes ? ref.bytes : 0);
	ASSERT_EQ(c->st.errors, 0);
	ASSERT_EQ(c->n, ref_n);
	qsort(c->paths, c->n, sizeof(char *), cmp_str);
	for (i = 0; i < c->n; i++)
		ASSERT_STREQ(c->paths[i], ref_paths[i]);
	ASSERT_GE(c->st.getdents_calls, ref.dirs + 1);
	ASSERT_EQ(c->max_depth_seen, 61);
}

static void test_full(struct env *e)
{
	struct rb_walk_opts o = { .stat_files = true, .cls = RB_CAP_BULK };
	struct walk_ctx c = { .check_stx = true };

	ASSERT_EQ(run_walk(e, ".", &o, &c), 0);
	compare_with_ref(&c, true);
	ASSERT_GE(c.st.getdents_ns, 1);
	free_ctx(&c);

	memset(&c, 0, sizeof(c));
	o.stat_all = true;
	ASSERT_EQ(run_walk(e, e->dir, &o, &c), 0);
	compare_with_ref(&c, true);
	free_ctx(&c);

	memset(&c, 0, sizeof(c));
	o.stat_all = false;
	o.stat_files = false;
	ASSERT_EQ(run_walk(e, ".", &o, &c), 0);
	compare_with_ref(&c, false);
	free_ctx(&c);
	env_check_idle(e);
}

/* One directory open at a time and 2 permits: every request queues. */
static void test_tight(enum rb_io_kind k)
{
	struct env e;
	struct rb_fs_opts fo = { .walk_dirs_open = 1 };
	struct rb_cap_opts co = { .permits = 2, .headroom = 1 };
	struct rb_walk_opts o = { .stat_files = true, .cls = RB_CAP_BULK };
	struct walk_ctx c = { .check_stx = true };
	struct rb_cap_stats cs;

	if (!env_setup_opts(&e, k, &fo, &co))
		return;
	for (size_t i = 0; i < ref_n; i++)
		free(ref_paths[i]);
	ref_n = 0;
	make_tree(&e);
	ASSERT_EQ(run_walk(&e, ".", &o, &c), 0);
	compare_with_ref(&c, true);
	rb_cap_stats(&e.cap, &cs);
	ASSERT_LE(cs.peak[RB_CAP_BULK], 1);
	ASSERT_GE(cs.waits[RB_CAP_BULK], 1);
	free_ctx(&c);
	env_teardown(&e);
}

static void test_behaviours(struct env *e)
{
	struct rb_walk_opts o = { .stat_files = true, .cls = RB_CAP_BULK };
	struct walk_ctx c = { 0 };
	size_t i;
	int k;

	/* max_depth 1: direct children only. */
	o.max_depth = 1;
	ASSERT_EQ(run_walk(e, ".", &o, &c), 0);
	ASSERT_EQ(c.max_depth_seen, 1);
	ASSERT_EQ(c.st.dirs, 5); /* d00 odd links empty wide */
	free_ctx(&c);
	o.max_depth = 3;
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(run_walk(e, ".", &o, &c), 0);
	ASSERT_EQ(c.max_depth_seen, 3);
	free_ctx(&c);
	o.max_depth = 0;

	/* Pruning "wide" and "d00": their contents are not reported. */
	memset(&c, 0, sizeof(c));
	c.prune = "wide";
	ASSERT_EQ(run_walk(e, ".", &o, &c), 0);
	for (i = 0; i < c.n; i++)
		ASSERT(strncmp(c.paths[i], "wide/", 5) != 0);
	ASSERT_EQ(c.st.files, ref.files - 2500);
	free_ctx(&c);

	/* Abort from the callback. */
	memset(&c, 0, sizeof(c));
	c.abort_after = 100;
	ASSERT_EQ(run_walk(e, ".", &o, &c), -EINTR);
	ASSERT_LE(c.entries, 100 + 1024); /* stats already in flight may still land */
	free_ctx(&c);
	env_check_idle(e);

	/* Pause every 200 entries, resume 1 ms later: the same result. */
	memset(&c, 0, sizeof(c));
	c.pause_every = 200;
	c.check_stx = true;
	ASSERT_EQ(run_walk(e, ".", &o, &c), 0);
	compare_with_ref(&c, true);
	ASSERT_GE(c.pauses, ref_n / 200 - 1);
	/* While paused only statx already in flight may deliver (the cap). */
	ASSERT_LE(c.while_paused, (unsigned)(c.pauses * e->cap.o.permits));
	free_ctx(&c);

	/* Cancel after k turns. */
	for (k = 0; k < 30; k += 3) {
		int t;
		struct rb_path p = env_resolve(e, ".");
		memset(&c, 0, sizeof(c));
		c.e = e;
		ASSERT_EQ(rb_fs_walk(e->fs, &p, &o, entry_cb, done_cb, &c, &c.op), 0);
		for (t = 0; t < k && !c.done; t++)
			rb_loop_run_once(e->loop, true, 100);
		if (!c.done)
			rb_fs_cancel(c.op);
		t_run_until(e->loop, &c.done);
		ASSERT_EQ(c.res, -ECANCELED);
		free_ctx(&c);
		env_check_idle(e);
	}

	/* Starts. */
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(run_walk(e, "missing", &o, &c), -ENOENT);
	ASSERT_EQ(c.entries, 0);
	free_ctx(&c);
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(run_walk(e, "odd/-dash", &o, &c), -ENOTDIR);
	free_ctx(&c);
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(run_walk(e, "links/to-dir", &o, &c), 0); /* the start may be a symlink inside */
	ASSERT_EQ(c.st.files, 7);
	free_ctx(&c);
	memset(&c, 0, sizeof(c));
	ASSERT_EQ(run_walk(e, "odd", &o, &c), 0);
	ASSERT_EQ(c.st.files, 7);
	ASSERT_EQ(c.st.dirs, 1);
	ASSERT_EQ(c.st.bytes, 1 + 2 + 3 + 4 + 5 + 4 + 1);
	qsort(c.paths, c.n, sizeof(char *), cmp_str);
	ASSERT_STREQ(c.paths[0], "-dash");
	free_ctx(&c);
	env_check_idle(e);
}

int main(void)
{
	FOR_BOTH_BACKENDS(k) {
		struct env e;
		size_t i;
		if (!env_setup(&e, k))
			continue;
		make_tree(&e);
		test_full(&e);
		test_behaviours(&e);
		env_teardown(&e);
		test_tight(k);
		for (i = 0; i < ref_n; i++)
			free(ref_paths[i]);
		free(ref_paths);
		ref_paths = NULL;
		ref_n = ref_cap = 0;
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	return T_EXIT_PASS;
}
