/* fs_t.h: helpers for the fs tests: an environment (loop + io + cap + fs
 * over a fresh temp dir as the only root) per backend, and synchronous
 * wrappers that start one fs operation and run the loop until its callback.
 * Teardown checks that every permit came back and no op is left. */
#ifndef RB_TEST_FS_T_H
#define RB_TEST_FS_T_H

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ringbank/fs.h"
#include "t.h"

struct env {
	enum rb_io_kind kind;
	struct rb_loop *loop;
	struct rb_io *io;
	struct rb_cap cap;
	struct rb_fs *fs;
	char *dir;
	int fd_base;
};

static inline const char *kname(enum rb_io_kind k)
{
	return k == RB_IO_BACKEND_URING ? "uring" : "threads";
}

/* false: backend unavailable here (skip it). */
static inline bool env_setup_opts(struct env *e, enum rb_io_kind k, const struct rb_fs_opts *fo,
				  const struct rb_cap_opts *co)
{
	int r;
	memset(e, 0, sizeof(*e));
	e->kind = k;
	e->fd_base = t_fd_count();
	if (!t_setup(k, &e->loop, &e->io))
		return false;
	rb_cap_init(&e->cap, e->loop, co);
	r = rb_fs_new(&e->fs, e->io, &e->cap, fo);
	ASSERT_EQ(r, 0);
	e->dir = t_tmpdir();
	r = rb_fs_add_root(e->fs, e->dir);
	ASSERT_EQ(r, 0);
	return true;
}

static inline bool env_setup(struct env *e, enum rb_io_kind k)
{
	return env_setup_opts(e, k, NULL, NULL);
}

static inline void env_check_idle(struct env *e)
{
	struct rb_fs_stats st;
	rb_fs_get_stats(e->fs, &st);
	ASSERT_EQ(st.ops_inflight, 0);
	ASSERT(rb_cap_idle(&e->cap));
}

static inline void env_teardown(struct env *e)
{
	env_check_idle(e);
	rb_fs_free(e->fs);
	t_teardown(e->loop, e->io);
	rb_cap_deinit(&e->cap);
	t_rmtree(e->dir);
	ASSERT_EQ(t_fd_count(), e->fd_base);
}

static inline void env_path(struct env *e, const char *rel, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", e->dir, rel);
}

/* lstat of a path under the env's directory (fails the test on error). */
static inline struct stat env_lstat(struct env *e, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;
	env_path(e, rel, p, sizeof(p));
	if (lstat(p, &st) < 0)
		T_FAIL("lstat %s: %s", p, strerror(errno));
	return st;
}

static inline struct rb_path env_resolve(struct env *e, const char *client)
{
	struct rb_path p;
	int r = rb_fs_resolve(e->fs, client, &p);
	if (r < 0)
		T_FAIL("resolve %s: %d", client, r);
	return p;
}

/* ---- synchronous wrappers -------------------------------------------------- */

struct waiter {
	volatile bool done;
	int res;
	char *data;
	size_t len;
	struct statx stx;
	bool have_stx, from_cache;
	struct rb_dirent *ents; /* list: copied names */
	size_t n;
	struct rb_walk_stats wst;
};

static inline void read_cb(void *ctx, int res, struct rb_fs_file *f)
{
	struct waiter *w = ctx;
	w->res = res;
	if (res >= 0) {
		ASSERT(f != NULL);
		ASSERT_EQ(f->data[f->len], '\0');
		w->data = f->data; /* take ownership */
		f->data = NULL;
		w->len = f->len;
		w->have_stx = f->have_stx;
		w->from_cache = f->from_cache;
		if (f->have_stx)
			w->stx = f->stx;
	}
	w->done = true;
}

static inline void res_cb(void *ctx, int res)
{
	struct waiter *w = ctx;
	w->res = res;
	w->done = true;
}

static inline void stat_cb(void *ctx, int res, const struct statx *stx)
{
	struct waiter *w = ctx;
	w->res = res;
	if (res >= 0)
		w->stx = *stx;
	w->done = true;
}

static inline void list_cb(void *ctx, int res, struct rb_dirent *ents, size_t n)
{
	struct waiter *w = ctx;
	size_t i;
	w->res = res;
	if (res >= 0) {
		w->ents = calloc(n ? n : 1, sizeof(*ents));
		for (i = 0; i < n; i++) {
			w->ents[i] = ents[i];
			w->ents[i].name = strdup(ents[i].name);
		}
		w->n = n;
	}
	w->done = true;
}

static inline void free_list(struct waiter *w)
{
	size_t i;
	for (i = 0; i < w->n; i++)
		free(w->ents[i].name);
	free(w->ents);
	w->ents = NULL;
	w->n = 0;
}

/* Reads client path; returns res, *data owned by the caller (NULL on error). */
static inline int t_read(struct env *e, const char *client, unsigned flags, size_t max, char **data, size_t *len,
			 struct waiter *out)
{
	struct waiter w = { 0 };
	struct rb_path p;
	int r = rb_fs_resolve(e->fs, client, &p);
	if (r < 0)
		return r;
	r = rb_fs_read_file(e->fs, &p, flags, max, RB_CAP_INTERACTIVE, read_cb, &w, NULL);
	if (r < 0)
		return r;
	ASSERT(!w.done); /* never called back from inside the start */
	t_run_until(e->loop, &w.done);
	if (data)
		*data = w.data;
	else
		free(w.data);
	if (len)
		*len = w.len;
	if (out) {
		*out = w;
		out->data = NULL;
	}
	return w.res;
}

static inline int t_write(struct env *e, const char *client, const void *data, size_t len, unsigned flags)
{
	struct waiter w = { 0 };
	struct rb_path p;
	int r = rb_fs_resolve(e->fs, client, &p);
	if (r < 0)
		return r;
	r = rb_fs_write_atomic(e->fs, &p, data, len, flags, RB_CAP_INTERACTIVE, res_cb, &w, NULL);
	if (r < 0)
		return r;
	ASSERT(!w.done);
	t_run_until(e->loop, &w.done);
	return w.res;
}

static inline int t_stat(struct env *e, const char *client, unsigned flags, struct statx *stx)
{
	struct waiter w = { 0 };
	struct rb_path p;
	int r = rb_fs_resolve(e->fs, client, &p);
	if (r < 0)
		return r;
	r = rb_fs_stat(e->fs, &p, flags, RB_CAP_INTERACTIVE, stat_cb, &w, NULL);
	if (r < 0)
		return r;
	ASSERT(!w.done);
	t_run_until(e->loop, &w.done);
	if (stx)
		*stx = w.stx;
	return w.res;
}

static inline int t_mkdir(struct env *e, const char *client, bool parents)
{
	struct waiter w = { 0 };
	struct rb_path p;
	int r = rb_fs_resolve(e->fs, client, &p);
	if (r < 0)
		return r;
	r = rb_fs_mkdir(e->fs, &p, parents, RB_CAP_INTERACTIVE, res_cb, &w, NULL);
	if (r < 0)
		return r;
	ASSERT(!w.done);
	t_run_until(e->loop, &w.done);
	return w.res;
}

static inline int t_unlink(struct env *e, const char *client, bool dir)
{
	struct waiter w = { 0 };
	struct rb_path p;
	int r = rb_fs_resolve(e->fs, client, &p);
	if (r < 0)
		return r;
	r = rb_fs_unlink(e->fs, &p, dir, RB_CAP_INTERACTIVE, res_cb, &w, NULL);
	if (r < 0)
		return r;
	ASSERT(!w.done);
	t_run_until(e->loop, &w.done);
	return w.res;
}

static inline int t_rename(struct env *e, const char *from, const char *to, bool noreplace)
{
	struct waiter w = { 0 };
	struct rb_path a, b;
	int r = rb_fs_resolve(e->fs, from, &a);
	if (r < 0)
		return r;
	r = rb_fs_resolve(e->fs, to, &b);
	if (r < 0)
		return r;
	r = rb_fs_rename(e->fs, &a, &b, noreplace, RB_CAP_INTERACTIVE, res_cb, &w, NULL);
	if (r < 0)
		return r;
	ASSERT(!w.done);
	t_run_until(e->loop, &w.done);
	return w.res;
}

static inline int t_list(struct env *e, const char *client, bool want_stat, size_t max, struct waiter *w)
{
	struct rb_path p;
	int r = rb_fs_resolve(e->fs, client, &p);
	memset(w, 0, sizeof(*w));
	if (r < 0)
		return r;
	r = rb_fs_list_dir(e->fs, &p, want_stat, max, RB_CAP_INTERACTIVE, list_cb, w, NULL);
	if (r < 0)
		return r;
	ASSERT(!w->done);
	t_run_until(e->loop, &w->done);
	return w->res;
}

/* ---- files on disk ----------------------------------------------------------- */

static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t cap = 0, n = 0, k;
	if (!f)
		return NULL;
	for (;;) {
		if (n + 65536 > cap) {
			cap = (n + 65536) * 2;
			b = realloc(b, cap + 1);
		}
		k = fread(b + n, 1, cap - n, f);
		n += k;
		if (k == 0)
			break;
	}
	fclose(f);
	b[n] = '\0';
	*len = n;
	return b;
}

/* Number of entries in dir whose name contains needle. */
static inline int count_names(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strstr(de->d_name, needle))
			n++;
	closedir(d);
	return n;
}

static inline void fill_pattern(char *buf, size_t len, unsigned seed)
{
	size_t i;
	for (i = 0; i < len; i++)
		buf[i] = (char)('a' + (i * 7 + seed + i / 4096) % 26);
}

#endif
