/* fs.c: the fs object, the sandbox's lexical half (roots, allowed
 * narrowing, client path -> root + relative path, name checks), the shared
 * request/permit plumbing every operation uses, statistics and cancel
 * dispatch. The kernel half of the sandbox is in each open: openat2 from a
 * root fd with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (FS_RESOLVE). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "fs_internal.h"

#define FS_DEFAULT_MAX_FILE (64u << 20)
#define FS_DEFAULT_CACHE (64u << 20)
#define FS_DEFAULT_DIRS_OPEN 16u

int rb_fs_new(struct rb_fs **out, struct rb_io *io, struct rb_cap *cap, const struct rb_fs_opts *opts)
{
	struct rb_fs *fs;
	int r;

	*out = NULL;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	fs->io = io;
	fs->loop = rb_io_loop(io);
	fs->cap = cap;
	if (opts) {
		fs->o = *opts;
	} else {
		fs->o.cache_bytes = FS_DEFAULT_CACHE;
	}
	if (!fs->o.max_file_bytes)
		fs->o.max_file_bytes = FS_DEFAULT_MAX_FILE;
	if (!fs->o.walk_dirs_open)
		fs->o.walk_dirs_open = FS_DEFAULT_DIRS_OPEN;
	if (fs->o.cache_bytes) {
		r = fs_cache_new(&fs->cache, fs->o.cache_bytes);
		if (r < 0) {
			free(fs);
			return r;
		}
	}
	/* The umask can only be read by setting it; this runs at start-up, before
	 * any other thread could be creating files. Writes use it to tell when a
	 * kept mode needs an explicit fchmod. */
	fs->umask = umask(022);
	umask(fs->umask);
	fs->pid = getpid();
	*out = fs;
	return 0;
}

void rb_fs_free(struct rb_fs *fs)
{
	size_t i;
	if (!fs)
		return;
	for (i = 0; i < fs->nroots; i++) {
		close(fs->roots[i].fd);
		free(fs->roots[i].path);
	}
	for (i = 0; i < fs->nallowed; i++) {
		free(fs->allowed[i].path);
		close(fs->allowed[i].fd);
	}
	free(fs->roots);
	free(fs->allowed);
	fs_cache_free(fs->cache);
	free(fs);
}

struct rb_io *rb_fs_io(const struct rb_fs *fs) { return fs->io; }
struct rb_cap *rb_fs_cap(const struct rb_fs *fs) { return fs->cap; }

/* ---- sandbox ------------------------------------------------------------ */

int rb_fs_add_root(struct rb_fs *fs, const char *path)
{
	char *canon;
	struct fs_root *nr;
	int fd;

	canon = realpath(path, NULL);
	if (!canon)
		return -errno;
	fd = open(canon, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;
		free(canon);
		return e;
	}
	nr = realloc(fs->roots, (fs->nroots + 1) * sizeof(*nr));
	if (!nr) {
		close(fd);
		free(canon);
		return -ENOMEM;
	}
	fs->roots = nr;
	nr[fs->nroots].path = canon;
	nr[fs->nroots].len = strlen(canon);
	nr[fs->nroots].fd = fd;
	fs->nroots++;
	return 0;
}

size_t rb_fs_root_count(const struct rb_fs *fs) { return fs->nroots; }
const char *rb_fs_root_path(const struct rb_fs *fs, size_t i) { return i < fs->nroots ? fs->roots[i].path : NULL; }
int rb_fs_root_fd(const struct rb_fs *fs, size_t i) { return i < fs->nroots ? fs->roots[i].fd : -EINVAL; }
size_t rb_fs_allowed_count(const struct rb_fs *fs) { return fs->nallowed; }
const char *rb_fs_allowed_path(const struct rb_fs *fs, size_t i) { return i < fs->nallowed ? fs->allowed[i].path : NULL; }

int rb_fs_check_name(const char *name)
{
	size_t n;
	if (!name)
		return -RB_E_BAD_NAME;
	n = strlen(name);
	if (n == 0 || n > NAME_MAX || !strcmp(name, ".") || !strcmp(name, "..") || memchr(name, '/', n))
		return -RB_E_BAD_NAME;
	return 0;
}

/* Whether `path` equals `dir` or lies below it, component-wise ("/a/bc" is
 * not below "/a/b"). Both are normalised absolute paths. */
static bool below(const char *path, const char *dir, size_t dlen)
{
	if (dlen == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, dlen) && (path[dlen] == '\0' || path[dlen] == '/');
}

/* Normalises client into out (absolute, no "//", no "." components, no
 * trailing '/'; ".." kept when collapse is false, folded when true). A
 * relative path is taken relative to base. Returns 0, -ENAMETOOLONG, or
 * -RB_E_OUTSIDE when a folded ".." climbs above "/". */
static int normalise(const char *client, const char *base, bool collapse, char *out, size_t outsz)
{
	size_t o = 0, n;
	const char *p = client, *c;

	if (client[0] != '/') {
		n = strlen(base);
		if (n >= outsz)
			return -ENAMETOOLONG;
		memcpy(out, base, n);
		o = n;
		if (o == 1) /* base is "/" */
			o = 0;
	}
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		if (n == 1 && c[0] == '.')
			continue;
		if (collapse && n == 2 && c[0] == '.' && c[1] == '.') {
			if (o == 0)
				return -RB_E_OUTSIDE;
			while (o > 0 && out[o - 1] != '/')
				o--;
			o--; /* the '/' */
			continue;
		}
		if (o + 1 + n >= outsz)
			return -ENAMETOOLONG;
		out[o++] = '/';
		memcpy(out + o, c, n);
		o += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

/* Lexical check that rel (relative, ".." kept) never climbs above its start. */
static bool climbs(const char *rel)
{
	long depth = 0;
	const char *p = rel, *c;
	while (*p) {
		c = p;
		while (*p && *p != '/')
			p++;
		if (p - c == 2 && c[0] == '.' && c[1] == '.') {
			if (--depth < 0)
				return true;
		} else if (!(p - c == 1 && c[0] == '.')) {
			depth++;
		}
		if (*p)
			p++;
	}
	return false;
}

int rb_fs_resolve(const struct rb_fs *fs, const char *client_path, struct rb_path *out)
{
	char norm[PATH_MAX], folded[PATH_MAX];
	const char *rest;
	size_t i, best_len = 0;
	int best = -1, r;

	if (!client_path || !*client_path)
		return -EINVAL;
	if (strlen(client_path) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!fs->nroots)
		return -RB_E_OUTSIDE;
	r = normalise(client_path, fs->roots[0].path, false, norm, sizeof(norm));
	if (r < 0)
		return r;
	/* The longest root that is a component-wise prefix wins (nested roots). */
	for (i = 0; i < fs->nroots; i++) {
		if (below(norm, fs->roots[i].path, fs->roots[i].len) && (best < 0 || fs->roots[i].len > best_len)) {
			best = (int)i;
			best_len = fs->roots[i].len;
		}
	}
	if (best < 0)
		return -RB_E_OUTSIDE;
	rest = norm + (best_len == 1 ? 1 : best_len);
	while (*rest == '/')
		rest++;
	if (!*rest)
		rest = ".";
	/* The kernel refuses this too; refusing it here gives the same answer
	 * without a syscall and keeps rel meaningful for messages. */
	if (climbs(rest))
		return -RB_E_OUTSIDE;
	out->root = best;
	out->dirfd = fs->roots[best].fd;
	snprintf(out->rel, sizeof(out->rel), "%s", rest);
	if (!strcmp(rest, "."))
		snprintf(out->abs, sizeof(out->abs), "%s", fs->roots[best].path);
	else if ((size_t)snprintf(out->abs, sizeof(out->abs), "%s/%s", best_len == 1 ? "" : fs->roots[best].path,
				  rest) >= sizeof(out->abs))
		return -ENAMETOOLONG;
	if (fs->nallowed) {
		/* MCP roots narrowing: pick the allowed directory lexically, then
		 * resolve beneath ITS fd, so that a symlink inside it cannot lead
		 * elsewhere in the command-line root (the kernel enforces both). */
		const struct fs_allowed *a = NULL;
		const char *sub;
		r = normalise(out->abs, "/", true, folded, sizeof(folded));
		if (r < 0)
			return r;
		for (i = 0; i < fs->nallowed; i++)
			if (below(folded, fs->allowed[i].path, fs->allowed[i].len) &&
			    (!a || fs->allowed[i].len > a->len))
				a = &fs->allowed[i];
		if (!a)
			return -RB_E_OUTSIDE;
		sub = folded + (a->len == 1 ? 1 : a->len);
		while (*sub == '/')
			sub++;
		out->dirfd = a->fd;
		snprintf(out->rel, sizeof(out->rel), "%s", *sub ? sub : ".");
		return 0;
	}
	return 0;
}

int rb_fs_set_allowed(struct rb_fs *fs, const char *const *paths, size_t n)
{
	struct fs_allowed *na = NULL;
	char buf[PATH_MAX];
	size_t i, j, k = 0;

	if (n) {
		if (!fs->nroots)
			return -RB_E_OUTSIDE;
		na = calloc(n, sizeof(*na));
		if (!na)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			if (!paths[i] || !*paths[i] || normalise(paths[i], fs->roots[0].path, true, buf, sizeof(buf)) < 0)
				continue;
			for (j = 0; j < fs->nroots; j++)
				if (below(buf, fs->roots[j].path, fs->roots[j].len))
					break;
			if (j == fs->nroots)
				continue;
			na[k].path = strdup(buf);
			if (!na[k].path) {
				while (k) {
					k--;
					free(na[k].path);
					close(na[k].fd);
				}
				free(na);
				return -ENOMEM;
			}
			na[k].len = strlen(buf);
			na[k].root = (int)j;
			{
				/* Opened once here, on the loop thread: an O_PATH open
				 * that happens only when the client's roots change. */
				const char *rel = buf + (fs->roots[j].len == 1 ? 1 : fs->roots[j].len);
				struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
							.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
				while (*rel == '/')
					rel++;
				na[k].fd = (int)syscall(SYS_openat2, fs->roots[j].fd, *rel ? rel : ".", &how, sizeof(how));
			}
			if (na[k].fd < 0) {
				rb_log(RB_LOG_WARNING, "allowed directory %s cannot be opened beneath its root: %s",
				       buf, strerror(errno));
				free(na[k].path);
				continue;
			}
			k++;
		}
		if (!k) {
			free(na);
			return -RB_E_OUTSIDE;
		}
	}
	for (i = 0; i < fs->nallowed; i++) {
		free(fs->allowed[i].path);
		close(fs->allowed[i].fd);
	}
	free(fs->allowed);
	fs->allowed = na;
	fs->nallowed = k;
	return 0;
}

int fs_map_open_err(int res, bool nofollow)
{
	if (res == -EXDEV)
		return -RB_E_OUTSIDE;
	/* With RESOLVE_NO_MAGICLINKS a /proc magic link fails with -ELOOP; a
	 * final symlink under O_NOFOLLOW does too, and that one is the caller's
	 * documented answer. */
	if (res == -ELOOP && !nofollow)
		return -RB_E_OUTSIDE;
	return res;
}

int fs_split(const char *rel, char *parent, size_t parent_sz, const char **name)
{
	const char *slash = strrchr(rel, '/');
	size_t n;
	if (!slash) {
		snprintf(parent, parent_sz, ".");
		*name = rel;
	} else {
		n = (size_t)(slash - rel);
		if (n >= parent_sz)
			return -ENAMETOOLONG;
		memcpy(parent, rel, n);
		parent[n] = '\0';
		*name = slash + 1;
	}
	return rb_fs_check_name(*name);
}

/* ---- requests ------------------------------------------------------------- */

static void req_finish(struct fs_req *fr)
{
	if (fr->held) {
		fr->held = false;
		rb_cap_release(fr->fs->cap, fr->cls, 1, fr->bytes);
	}
	fr->busy = false;
	fr->submitted = false;
	fr->done(fr);
}

static void req_io_cb(struct rb_io_req *r)
{
	req_finish(rb_container_of(r, struct fs_req, r));
}

static void req_defer_cb(struct rb_defer *d)
{
	req_finish(d->data);
}

static void req_submit(struct fs_req *fr)
{
	int r = rb_io_submit(fr->fs->io, &fr->r);
	if (r < 0) {
		/* Never completes through the backend: report it next turn. */
		fr->r.res = r;
		fr->d.data = fr;
		rb_defer(fr->fs->loop, &fr->d, req_defer_cb);
		return;
	}
	fr->submitted = true;
}

static void req_granted(struct rb_cap_wait *w)
{
	struct fs_req *fr = rb_container_of(w, struct fs_req, w);
	fr->waiting = false;
	fr->held = true;
	req_submit(fr);
}

void fs_req_prep(struct fs_req *fr, struct rb_fs *fs, enum rb_io_op op, bool permit,
		 enum rb_cap_class cls, size_t bytes, void (*done)(struct fs_req *fr), void *owner)
{
	rb_io_prep(&fr->r, op, req_io_cb, fr);
	fr->fs = fs;
	fr->done = done;
	fr->owner = owner;
	fr->cls = cls;
	fr->bytes = bytes;
	fr->permit = permit;
	fr->held = fr->waiting = fr->busy = fr->submitted = false;
}

void fs_req_start(struct fs_req *fr)
{
	fr->busy = true;
	if (!fr->permit) {
		req_submit(fr);
	} else if (rb_cap_try(fr->fs->cap, fr->cls, 1, fr->bytes)) {
		fr->held = true;
		req_submit(fr);
	} else {
		fr->waiting = true;
		rb_cap_acquire(fr->fs->cap, &fr->w, fr->cls, 1, fr->bytes, req_granted);
	}
}

void fs_req_cancel(struct fs_req *fr)
{
	if (!fr->busy)
		return;
	if (fr->waiting) {
		if (rb_cap_cancel(&fr->w)) {
			fr->waiting = false;
			fr->r.res = -ECANCELED;
			fr->d.data = fr;
			rb_defer(fr->fs->loop, &fr->d, req_defer_cb);
		}
	} else if (fr->submitted) {
		rb_io_cancel(fr->fs->io, &fr->r);
	}
}

/* ---- ops ------------------------------------------------------------------ */

void fs_op_init(struct rb_fs_op *op, struct rb_fs *fs, enum rb_cap_class cls,
		void (*cancel)(struct rb_fs_op *op))
{
	op->fs = fs;
	op->cls = cls;
	op->cancel = cancel;
	op->cancelled = false;
	op->held = false;
	fs->inflight++;
}

static void op_granted(struct rb_cap_wait *w)
{
	struct rb_fs_op *op = rb_container_of(w, struct rb_fs_op, w);
	op->held = true;
	op->go(op);
}

void fs_op_permit(struct rb_fs_op *op, size_t bytes, void (*go)(struct rb_fs_op *op))
{
	op->held_bytes = bytes;
	op->go = go;
	if (rb_cap_try(op->fs->cap, op->cls, 1, bytes)) {
		op->held = true;
		go(op);
	} else {
		rb_cap_acquire(op->fs->cap, &op->w, op->cls, 1, bytes, op_granted);
	}
}

bool fs_op_withdraw(struct rb_fs_op *op)
{
	return !op->held && rb_cap_cancel(&op->w);
}

void fs_op_release(struct rb_fs_op *op)
{
	if (op->held) {
		op->held = false;
		rb_cap_release(op->fs->cap, op->cls, 1, op->held_bytes);
	}
}

void fs_op_later(struct rb_fs_op *op, void (*fn)(struct rb_defer *d))
{
	op->fin.data = op;
	rb_defer(op->fs->loop, &op->fin, fn);
}

void fs_op_end(struct rb_fs_op *op)
{
	op->fs->inflight--;
}

void rb_fs_cancel(struct rb_fs_op *op)
{
	if (op && !op->cancelled) {
		op->cancelled = true;
		op->cancel(op);
	}
}

void rb_fs_get_stats(const struct rb_fs *fs, struct rb_fs_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (fs->cache)
		fs_cache_stats(fs->cache, out);
	out->ops_inflight = fs->inflight;
}
