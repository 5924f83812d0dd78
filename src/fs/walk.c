/* walk.c: the recursive walk behind scan, tree, validate and search.
 *
 * Shape: the start directory is opened once O_PATH beneath the root (the
 * base); every directory of the walk is then opened relative to the base
 * with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS and
 * O_NOFOLLOW, so a directory swapped for a symlink mid-walk is refused and
 * the walk never leaves the start directory.
 *
 * Directories waiting to be read sit on a stack (depth first, paths
 * relative to the start); at most walk_dirs_open are open at once. Each open
 * directory is read with RB_IO_GETDENTS into a 32 KiB chunk, one request at
 * a time; a short batch is not the end, only 0 is (IO_URING_NOTES). Each
 * chunk is parsed in place; an entry that needs a statx takes a stat slot
 * (the slot pool bounds the statx requests outstanding, the cap bounds
 * those in flight) and holds a reference on its chunk, whose names the
 * statx reads, and the chunk holds its directory open (the statx is
 * relative to the directory fd). A directory reads ahead at most one chunk
 * while the previous one is being stat'ed. Memory is therefore bounded by
 * walk_dirs_open x 2 chunks + the slot pool + the pending-directory stack,
 * whatever the number of files.
 *
 * Every request takes its own permit (getdents also the chunk's bytes)
 * and returns it on completion; closes take none, so teardown never waits
 * behind the queue. Nothing waits for a permit while holding one.
 *
 * Pause stops parsing and issuing; entries whose statx was already in
 * flight (at most the slot pool) are still delivered.
 *
 * A directory that cannot be opened or read after it was reported is
 * reported a second time with err set (and counted in errors). The walk
 * fails as a whole (done(res < 0)) only if the start cannot be opened, on
 * cancel, or when the entry callback returns a negative code.
 *
 * getdents_ns is the wall time during which at least one getdents was
 * outstanding: an upper bound on listing's share of the walk (the requests
 * of several directories overlap, and on the uring backend each waits for
 * its loop turn).
 *
 * All work happens in pump(), which runs from completions and deferred
 * callbacks only, so the entry and done callbacks are never called from
 * inside rb_fs_walk / rb_fs_cancel / rb_fs_walk_resume. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"

struct walk;
struct walk_dir;

struct chunk {
	struct rb_list node; /* in the walk's parse queue */
	struct walk_dir *d;
	unsigned refs;	     /* parse queue + stats reading names in it */
	size_t len, pos;
	char buf[FS_CHUNK];
};

enum { D_IDLE, D_OPEN, D_READ, D_CLOSE };

struct walk_dir {
	struct walk *w;
	struct fs_req req;
	int state;
	int fd;
	char *rel;  /* relative to the start ("." for the start itself) */
	int depth;  /* 0 for the start */
	bool used, eof;
	bool failed; /* its open or a getdents failed: not every entry was reported */
	unsigned chunks;
	struct chunk *reading, *spare;
};

struct walk_stat {
	struct fs_req req;
	struct rb_list node; /* free list */
	struct walk *w;
	struct chunk *c;
	const char *name;
	unsigned char dtype;
	struct statx stx;
};

struct pend {
	char *rel;
	int depth;
};

struct walk {
	struct rb_fs_op base;
	struct rb_walk_opts o;
	int (*entry)(void *ctx, const struct rb_walk_entry *e);
	void (*done)(void *ctx, int res, const struct rb_walk_stats *st);
	void *ctx;
	int rootfd;
	char *start_rel;
	struct fs_req base_req;
	int base_state; /* D_OPEN, D_IDLE (open), D_CLOSE, or -1 closed */
	int basefd;
	struct pend *stack;
	size_t nstack, capstack;
	struct walk_dir *dirs;
	unsigned ndirs, nopen;
	struct rb_list parse_q;
	struct walk_stat *stats;
	unsigned nstats, stats_busy;
	struct rb_list free_stats;
	bool paused, stopping, in_pump, again, finished;
	unsigned gd_pending; /* getdents outstanding, and since when */
	uint64_t gd_since;
	int err;
	struct rb_walk_stats st;
	struct rb_defer pump_d;
	char relbuf[PATH_MAX];
};

static void pump(struct walk *w);

static void pump_later_cb(struct rb_defer *d)
{
	pump(d->data);
}

static void pump_later(struct walk *w)
{
	w->pump_d.data = w;
	rb_defer(w->base.fs->loop, &w->pump_d, pump_later_cb);
}

/* Stops issuing work; in-flight requests are cancelled (closes are left to
 * run) and everything unwinds through pump(). */
static void walk_stop(struct walk *w, int err)
{
	unsigned i;
	if (!w->err)
		w->err = err;
	if (w->stopping)
		return;
	w->stopping = true;
	for (i = 0; i < w->ndirs; i++)
		if (w->dirs[i].used && w->dirs[i].state != D_CLOSE && w->dirs[i].state != D_IDLE)
			fs_req_cancel(&w->dirs[i].req);
	for (i = 0; i < w->nstats; i++)
		if (w->stats[i].req.busy)
			fs_req_cancel(&w->stats[i].req);
	if (w->base_state == D_OPEN)
		fs_req_cancel(&w->base_req);
}

static int push(struct walk *w, const char *rel, int depth)
{
	char *s;
	if (w->nstack == w->capstack) {
		size_t nc = w->capstack ? w->capstack * 2 : 64;
		struct pend *ns = realloc(w->stack, nc * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		w->stack = ns;
		w->capstack = nc;
	}
	s = strdup(rel);
	if (!s)
		return -ENOMEM;
	w->stack[w->nstack].rel = s;
	w->stack[w->nstack].depth = depth;
	w->nstack++;
	return 0;
}

/* Builds the entry's path relative to the start into relbuf. */
static int entry_rel(struct walk *w, const struct walk_dir *d, const char *name)
{
	size_t n;
	if (!strcmp(d->rel, "."))
		n = (size_t)snprintf(w->relbuf, sizeof(w->relbuf), "%s", name);
	else
		n = (size_t)snprintf(w->relbuf, sizeof(w->relbuf), "%s/%s", d->rel, name);
	return n >= sizeof(w->relbuf) ? -ENAMETOOLONG : 0;
}

/* Counts and reports one entry; pushes directories to descend into. */
static void report(struct walk *w, const struct walk_dir *d, const char *name, unsigned char type, int err,
		   const struct statx *stx)
{
	struct rb_walk_entry e = { 0 };
	int rc = entry_rel(w, d, name);

	if (rc < 0) {
		snprintf(w->relbuf, sizeof(w->relbuf), "%s", name);
		if (!err)
			err = rc;
	}
	rc = 0;
	if (stx)
		type = IFTODT(stx->stx_mode);
	if (err) {
		w->st.errors++;
	} else if (type == DT_REG) {
		w->st.files++;
		if (stx)
			w->st.bytes += stx->stx_size;
	} else if (type == DT_DIR) {
		w->st.dirs++;
	} else if (type == DT_LNK) {
		w->st.symlinks++;
	} else {
		w->st.other++;
	}
	e.rel = w->relbuf;
	e.name = name;
	e.type = type;
	e.depth = d->depth + 1;
	e.err = err;
	e.have_stx = stx != NULL;
	if (stx)
		e.stx = *stx;
	if (w->entry)
		rc = w->entry(w->ctx, &e);
	if (rc < 0) {
		walk_stop(w, rc);
		return;
	}
	if (type == DT_DIR && !err && rc == 0 && (!w->o.max_depth || e.depth < w->o.max_depth)) {
		rc = push(w, w->relbuf, e.depth);
		if (rc < 0)
			walk_stop(w, rc);
	}
}

/* A directory that was reported and then failed to open or read. */
static void report_dir_error(struct walk *w, struct walk_dir *d, int err)
{
	struct rb_walk_entry e = { 0 };
	const char *slash = strrchr(d->rel, '/');
	int rc = 0;

	w->st.errors++;
	e.rel = d->rel;
	e.name = slash ? slash + 1 : d->rel;
	e.type = DT_DIR;
	e.depth = d->depth;
	e.err = err;
	if (w->entry)
		rc = w->entry(w->ctx, &e);
	if (rc < 0)
		walk_stop(w, rc);
}

/* The last reference returns the chunk to its directory (one spare is kept
 * for the next getdents) and may let the directory close. */
static void chunk_unref(struct chunk *c)
{
	struct walk_dir *d = c->d;
	if (--c->refs)
		return;
	d->chunks--;
	if (!d->spare)
		d->spare = c;
	else
		free(c);
}

static void stat_done(struct fs_req *fr)
{
	struct walk_stat *s = fr->owner;
	struct walk *w = s->w;
	int res = (int)fr->r.res;

	w->stats_busy--;
	if (!w->stopping)
		report(w, s->c->d, s->name, s->dtype, res < 0 ? res : 0, res < 0 ? NULL : &s->stx);
	chunk_unref(s->c);
	s->c = NULL;
	rb_list_add_tail(&w->free_stats, &s->node);
	pump(w);
}

/* Parses entries from the chunk's cursor. Returns true when the chunk is
 * used up, false when it has to wait (no free stat slot, paused, stopped). */
static bool parse_chunk(struct walk *w, struct chunk *c)
{
	while (c->pos < c->len) {
		struct linux_dirent64 *de = (struct linux_dirent64 *)(c->buf + c->pos);
		unsigned char t = de->d_type;
		bool need_stat;

		if (w->stopping || w->paused)
			return false;
		if (fs_dot_or_dotdot(de->d_name)) {
			c->pos += de->d_reclen;
			continue;
		}
		need_stat = w->o.stat_all || (w->o.stat_files && (t == DT_REG || t == DT_UNKNOWN));
		if (need_stat) {
			struct rb_list *n = rb_list_pop(&w->free_stats);
			struct walk_stat *s;
			if (!n)
				return false;
			s = rb_container_of(n, struct walk_stat, node);
			c->pos += de->d_reclen;
			s->c = c;
			c->refs++;
			s->name = de->d_name;
			s->dtype = t;
			fs_req_prep(&s->req, w->base.fs, RB_IO_STATX, true, w->o.cls, 0, stat_done, s);
			s->req.r.fd = c->d->fd;
			s->req.r.path = s->name;
			s->req.r.flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT;
			s->req.r.mode = STATX_TYPE | STATX_SIZE | STATX_MTIME | STATX_MODE | STATX_INO;
			s->req.r.stx = &s->stx;
			w->stats_busy++;
			fs_req_start(&s->req);
		} else {
			c->pos += de->d_reclen;
			report(w, c->d, de->d_name, t, 0, NULL);
		}
	}
	return true;
}

static void dir_done(struct fs_req *fr);

static void dir_req(struct walk *w, struct walk_dir *d, int state, enum rb_io_op op, bool permit, size_t bytes)
{
	d->state = state;
	fs_req_prep(&d->req, w->base.fs, op, permit, w->o.cls, bytes, dir_done, d);
}

static void dir_open(struct walk *w, struct walk_dir *d, struct pend *p)
{
	d->w = w;
	d->used = true;
	d->eof = false;
	d->failed = false;
	d->fd = -1;
	d->chunks = 0;
	d->rel = p->rel;
	d->depth = p->depth;
	w->nopen++;
	dir_req(w, d, D_OPEN, RB_IO_OPENAT2, true, 0);
	d->req.r.fd = w->basefd;
	d->req.r.path = d->rel;
	d->req.r.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW;
	d->req.r.resolve = FS_RESOLVE | RESOLVE_NO_SYMLINKS;
	fs_req_start(&d->req);
}

static void dir_read(struct walk *w, struct walk_dir *d)
{
	struct chunk *c = d->spare;
	if (c) {
		d->spare = NULL;
	} else if (!(c = malloc(sizeof(*c)))) {
		walk_stop(w, -ENOMEM);
		return;
	}
	c->d = d;
	d->reading = c;
	d->chunks++;
	if (!w->gd_pending++)
		w->gd_since = rb_now_ns();
	dir_req(w, d, D_READ, RB_IO_GETDENTS, true, FS_CHUNK);
	d->req.r.fd = d->fd;
	d->req.r.buf = c->buf;
	d->req.r.len = FS_CHUNK;
	fs_req_start(&d->req);
}

static void dir_done(struct fs_req *fr)
{
	struct walk_dir *d = fr->owner;
	struct walk *w = d->w;
	int res = (int)fr->r.res;
	int state = d->state;
	struct chunk *c;

	d->state = D_IDLE;
	switch (state) {
	case D_OPEN:
		if (res >= 0) {
			d->fd = res;
		} else {
			d->eof = true;
			d->failed = true;
			if (!w->stopping) {
				if (d->depth == 0)
					walk_stop(w, fs_map_open_err(res, false));
				else
					report_dir_error(w, d, res);
			}
		}
		break;
	case D_READ:
		c = d->reading;
		d->reading = NULL;
		w->st.getdents_calls++;
		if (!--w->gd_pending)
			w->st.getdents_ns += rb_now_ns() - w->gd_since;
		if (res > 0 && !w->stopping) {
			c->len = (size_t)res;
			c->pos = 0;
			c->refs = 1;
			rb_list_add_tail(&w->parse_q, &c->node);
			break;
		}
		/* The end (0), an error, or a cancel: the chunk goes back. */
		c->refs = 1;
		chunk_unref(c);
		d->eof = true;
		if (res < 0)
			d->failed = true;
		if (res < 0 && !w->stopping)
			report_dir_error(w, d, res);
		break;
	case D_CLOSE:
		free(d->rel);
		free(d->spare);
		d->rel = NULL;
		d->spare = NULL;
		d->used = false;
		w->nopen--;
		break;
	}
	pump(w);
}

static void walk_finish(struct walk *w)
{
	int res = w->base.cancelled ? -ECANCELED : w->err;
	size_t i;
	/* A cancel may have queued a pump that would run on freed memory. */
	rb_defer_cancel(w->base.fs->loop, &w->pump_d);
	fs_op_end(&w->base);
	w->done(w->ctx, res, &w->st);
	for (i = 0; i < w->nstack; i++)
		free(w->stack[i].rel);
	free(w->stack);
	free(w->dirs);
	free(w->stats);
	free(w->start_rel);
	free(w);
}

static void base_done(struct fs_req *fr)
{
	struct walk *w = fr->owner;
	int res = (int)fr->r.res;

	if (w->base_state == D_CLOSE) {
		w->base_state = -1;
		w->basefd = -1;
		pump(w);
		return;
	}
	if (res < 0) {
		w->base_state = -1;
		walk_stop(w, fs_map_open_err(res, false));
		pump(w);
		return;
	}
	w->base_state = D_IDLE;
	w->basefd = res;
	if (!w->stopping && push(w, ".", 0) < 0)
		walk_stop(w, -ENOMEM);
	pump(w);
}

static bool walk_idle(const struct walk *w)
{
	return w->nopen == 0 && w->stats_busy == 0 && rb_list_empty(&w->parse_q) &&
	       (w->stopping || w->nstack == 0);
}

static void pump(struct walk *w)
{
	unsigned i;

	if (w->finished)
		return;
	if (w->in_pump) {
		w->again = true;
		return;
	}
	w->in_pump = true;
	do {
		w->again = false;
		if (!w->stopping && !w->paused) {
			/* Parse first: it frees chunks and fills the stat pipeline. */
			while (!rb_list_empty(&w->parse_q)) {
				struct chunk *c = rb_container_of(w->parse_q.next, struct chunk, node);
				if (!parse_chunk(w, c))
					break;
				rb_list_del(&c->node);
				chunk_unref(c);
			}
			for (i = 0; i < w->ndirs && w->nstack && !w->stopping && !w->paused; i++) {
				if (!w->dirs[i].used) {
					struct pend p = w->stack[--w->nstack];
					dir_open(w, &w->dirs[i], &p);
				}
			}
			for (i = 0; i < w->ndirs && !w->stopping && !w->paused; i++) {
				struct walk_dir *d = &w->dirs[i];
				if (d->used && d->state == D_IDLE && d->fd >= 0 && !d->eof && d->chunks < 2)
					dir_read(w, d);
			}
		}
		if (w->stopping) {
			while (!rb_list_empty(&w->parse_q)) {
				struct chunk *c = rb_container_of(w->parse_q.next, struct chunk, node);
				rb_list_del(&c->node);
				chunk_unref(c);
			}
		}
		/* Close what is done: read to the end (or stopping) with no chunk
		 * left whose stats still need the fd. */
		for (i = 0; i < w->ndirs; i++) {
			struct walk_dir *d = &w->dirs[i];
			if (!d->used || d->state != D_IDLE || d->chunks || !(d->eof || w->stopping))
				continue;
			if (!w->stopping && !d->failed && w->o.dir_done)
				w->o.dir_done(w->ctx, d->rel); /* read to the end, every entry reported */
			if (d->fd >= 0) {
				dir_req(w, d, D_CLOSE, RB_IO_CLOSE, false, 0);
				d->req.r.fd = d->fd;
				d->fd = -1;
				fs_req_start(&d->req);
			} else {
				free(d->rel);
				free(d->spare);
				d->rel = NULL;
				d->spare = NULL;
				d->used = false;
				w->nopen--;
				w->again = true;
			}
		}
	} while (w->again);
	w->in_pump = false;

	if (w->base_state == D_IDLE && walk_idle(w)) {
		w->base_state = D_CLOSE;
		fs_req_prep(&w->base_req, w->base.fs, RB_IO_CLOSE, false, w->o.cls, 0, base_done, w);
		w->base_req.r.fd = w->basefd;
		fs_req_start(&w->base_req);
	} else if (w->base_state == -1 && walk_idle(w)) {
		w->finished = true;
		walk_finish(w);
	}
}

static void walk_cancel(struct rb_fs_op *op)
{
	struct walk *w = (struct walk *)op;
	if (w->finished)
		return;
	walk_stop(w, -ECANCELED);
	pump_later(w);
}

void rb_fs_walk_pause(struct rb_fs_op *op)
{
	((struct walk *)op)->paused = true;
}

void rb_fs_walk_resume(struct rb_fs_op *op)
{
	struct walk *w = (struct walk *)op;
	if (w->paused) {
		w->paused = false;
		pump_later(w);
	}
}

int rb_fs_walk(struct rb_fs *fs, const struct rb_path *start, const struct rb_walk_opts *o,
	       int (*entry)(void *ctx, const struct rb_walk_entry *e),
	       void (*done)(void *ctx, int res, const struct rb_walk_stats *st), void *ctx,
	       struct rb_fs_op **op_out)
{
	struct walk *w = calloc(1, sizeof(*w));
	unsigned i, permits = fs->cap->o.permits;

	if (!w)
		return -ENOMEM;
	w->o = *o;
	w->ndirs = fs->o.walk_dirs_open;
	/* Enough stat slots to use every permit the class may get. */
	w->nstats = permits < 16 ? 16 : permits > 1024 ? 1024 : permits;
	w->dirs = calloc(w->ndirs, sizeof(*w->dirs));
	w->stats = calloc(w->nstats, sizeof(*w->stats));
	w->start_rel = strdup(start->rel);
	if (!w->dirs || !w->stats || !w->start_rel) {
		free(w->dirs);
		free(w->stats);
		free(w->start_rel);
		free(w);
		return -ENOMEM;
	}
	fs_op_init(&w->base, fs, o->cls, walk_cancel);
	w->entry = entry;
	w->done = done;
	w->ctx = ctx;
	w->rootfd = start->dirfd;
	w->basefd = -1;
	rb_list_init(&w->parse_q);
	rb_list_init(&w->free_stats);
	for (i = 0; i < w->nstats; i++) {
		w->stats[i].w = w;
		rb_list_add_tail(&w->free_stats, &w->stats[i].node);
	}
	for (i = 0; i < w->ndirs; i++)
		w->dirs[i].fd = -1;
	if (op_out)
		*op_out = &w->base;
	w->base_state = D_OPEN;
	fs_req_prep(&w->base_req, fs, RB_IO_OPENAT2, true, o->cls, 0, base_done, w);
	w->base_req.r.fd = w->rootfd;
	w->base_req.r.path = w->start_rel;
	w->base_req.r.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
	w->base_req.r.resolve = FS_RESOLVE;
	fs_req_start(&w->base_req);
	return 0;
}
