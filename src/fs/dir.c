/* dir.c: the small operations: stat, mkdir (with parents), rename, unlink,
 * and list_dir (one directory's entries, optionally statx'ed).
 *
 * Name operations never hand a multi-component path to a syscall that
 * cannot be confined: the parent directory is opened with openat2 beneath
 * the root, and mkdirat / renameat / unlinkat get that fd plus one
 * validated final component. A stat opens the path itself O_PATH beneath
 * the root and statx'es the fd (AT_EMPTY_PATH): a statx by path cannot be
 * confined with RESOLVE_* flags.
 *
 * Durability: a name change lives in its parent directory, so after it the
 * parent is fsync'ed before success is reported (IORING_OP_FSYNC needs a
 * real fd, hence parents are opened O_RDONLY|O_DIRECTORY, not O_PATH; the
 * same fd anchors the *at() call). A rename between directories fsyncs
 * both at once (two fsyncs in flight, the second under a permit taken only
 * if one is free now; else the destination first, then the source), and
 * reports the first error; a rename within one directory opens it once
 * and fsyncs it once; mkdir -p fsyncs the parent of each component it
 * created (one fsync per touched directory). A parent that may be written
 * but not read (EACCES on O_RDONLY) is opened O_PATH instead and not
 * fsync'ed, so the operation still works there.
 *
 *   OPEN1 parent -> [OPEN2 other parent] -> ACT -> [SYNC2 other parent] ->
 *   SYNC1 parent -> CLOSE1 -> [CLOSE2]
 *   (a rename between directories: ACT -> SYNC2 and SYNC1 in flight together
 *   (SYNCBOTH) -> CLOSE1 -> CLOSE2)
 *
 * The ACT is the commit point: a cancel before it reports -ECANCELED with
 * nothing changed; once it has run (the last component, for mkdir -p), the
 * fsyncs run to the end and the op reports the real result, a failing fsync
 * included. Between the components of mkdir -p (each created one fsync'ed
 * before the next) a cancel stops the chain, like an interrupted mkdir(1). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs_internal.h"

/* ---- name operations -------------------------------------------------------- */

enum { N_STAT, N_MKDIR, N_RENAME, N_UNLINK };
enum { S_OPEN1, S_OPEN2, S_ACT, S_CHECK, S_SYNC2, S_SYNC1, S_SYNCBOTH, S_CLOSE1, S_CLOSE2, S_DONE };

struct name_op {
	struct rb_fs_op base;
	struct fs_req req;
	struct fs_req req2;   /* SYNCBOTH: the source parent's fsync, under a permit of its own */
	int syncs;	      /* SYNCBOTH: fsyncs still in flight */
	int kind;
	void (*cb)(void *ctx, int res);
	void (*stat_cb)(void *ctx, int res, const struct statx *stx);
	void *ctx;
	int dirfd, dirfd2;
	int pfd, pfd2;
	int state, err;
	bool acted;	      /* the mkdirat/renameat/unlinkat/statx ran: the result is real */
	unsigned flags;	      /* stat: RB_FS_NOFOLLOW */
	bool parents, dir, noreplace;
	bool same_parent;     /* rename within one directory: pfd serves both names */
	bool opath1, opath2;  /* that parent is an O_PATH fd (not readable): no fsync */
	bool per_component;   /* mkdir -p: walking the components */
	size_t comp_end;      /* mkdir -p: end of the current component in rel */
	struct statx stx;
	char rel[PATH_MAX];   /* stat path, or mkdir -p's full path */
	char parent[PATH_MAX], parent2[PATH_MAX];
	char name[NAME_MAX + 1], name2[NAME_MAX + 1];
};

static void name_done(struct fs_req *fr);

static void name_finish(struct name_op *o)
{
	int res = o->err;
	o->state = S_DONE;
	fs_op_release(&o->base);
	if (o->base.cancelled && !o->acted)
		res = -ECANCELED;
	fs_op_end(&o->base);
	if (o->kind == N_STAT)
		o->stat_cb(o->ctx, res, res >= 0 ? &o->stx : NULL);
	else
		o->cb(o->ctx, res);
	free(o);
}

static void name_finish_later(struct rb_defer *d)
{
	name_finish(d->data);
}

static void name_step(struct name_op *o, int state, enum rb_io_op op)
{
	o->state = state;
	fs_req_prep(&o->req, o->base.fs, op, false, o->base.cls, 0, name_done, o);
}

/* Flags for opening a parent: readable so it can be fsync'ed, unless it
 * was refused that way (then O_PATH, see opath1/opath2). */
static int parent_flags(bool opath)
{
	return (opath ? O_PATH : O_RDONLY) | O_DIRECTORY | O_CLOEXEC;
}

static void name_open(struct name_op *o, int state, int dirfd, const char *path, int flags)
{
	name_step(o, state, RB_IO_OPENAT2);
	o->req.r.fd = dirfd;
	o->req.r.path = path;
	o->req.r.flags = flags;
	o->req.r.resolve = FS_RESOLVE;
	fs_req_start(&o->req);
}

/* Closes whatever is open, then reports o->err. */
static void name_cleanup(struct name_op *o)
{
	if (o->pfd >= 0) {
		name_step(o, S_CLOSE1, RB_IO_CLOSE);
		o->req.r.fd = o->pfd;
		o->pfd = -1;
	} else if (o->pfd2 >= 0 && !o->same_parent) {
		name_step(o, S_CLOSE2, RB_IO_CLOSE);
		o->req.r.fd = o->pfd2;
		o->pfd2 = -1;
	} else {
		name_finish(o);
		return;
	}
	fs_req_start(&o->req);
}

static void name_fail(struct name_op *o, int err)
{
	if (!o->err)
		o->err = err;
	name_cleanup(o);
}

/* mkdir -p: sets parent/name to the next component to create, skipping "."
 * and ".." (the kernel resolves those inside the parent path). Returns 1,
 * 0 at the end, or -ENAMETOOLONG. */
static int next_component(struct name_op *o)
{
	for (;;) {
		size_t start = o->comp_end, end;
		if (o->rel[start] == '/')
			start++;
		if (!o->rel[start])
			return 0;
		end = start;
		while (o->rel[end] && o->rel[end] != '/')
			end++;
		o->comp_end = end;
		if (end - start > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(o->name, o->rel + start, end - start);
		o->name[end - start] = '\0';
		if (rb_fs_check_name(o->name) < 0)
			continue;
		if (start == 0) {
			strcpy(o->parent, ".");
		} else {
			memcpy(o->parent, o->rel, start - 1);
			o->parent[start - 1] = '\0';
		}
		return 1;
	}
}

static void name_fsync(struct name_op *o, int state, int fd)
{
	name_step(o, state, RB_IO_FSYNC);
	o->req.r.fd = fd;
	fs_req_start(&o->req);
}

/* SYNCBOTH: one of the two fsyncs finished; the first error is the one
 * reported, after both. */
static void sync_both_part(struct name_op *o, int res)
{
	if (res < 0 && !o->err)
		o->err = res;
	if (--o->syncs == 0)
		name_cleanup(o);
}

static void sync2_done(struct fs_req *fr)
{
	struct name_op *o = fr->owner;
	rb_cap_release(o->base.fs->cap, o->base.cls, 1, 0);
	sync_both_part(o, (int)fr->r.res);
}

/* After a successful mkdirat / renameat / unlinkat: the destination's
 * parent (rename between directories) and the parent, at once when a
 * second permit is free right now (never waiting for one while holding
 * one), else one after the other; then close. */
static void name_sync_next(struct name_op *o, int done_state)
{
	if (done_state == S_ACT && o->kind == N_RENAME && !o->same_parent && !o->opath2) {
		if (!o->opath1 && rb_cap_try(o->base.fs->cap, o->base.cls, 1, 0)) {
			o->syncs = 2;
			name_fsync(o, S_SYNCBOTH, o->pfd2);
			fs_req_prep(&o->req2, o->base.fs, RB_IO_FSYNC, false, o->base.cls, 0, sync2_done, o);
			o->req2.r.fd = o->pfd;
			fs_req_start(&o->req2);
			return;
		}
		name_fsync(o, S_SYNC2, o->pfd2);
		return;
	}
	if (done_state != S_SYNC1 && !o->opath1) {
		name_fsync(o, S_SYNC1, o->pfd);
		return;
	}
	name_cleanup(o);
}

static void name_act(struct name_op *o)
{
	switch (o->kind) {
	case N_STAT:
		name_step(o, S_ACT, RB_IO_STATX);
		o->req.r.fd = o->pfd;
		o->req.r.path = "";
		o->req.r.flags = AT_EMPTY_PATH;
		o->req.r.mode = STATX_BASIC_STATS | STATX_BTIME;
		o->req.r.stx = &o->stx;
		break;
	case N_MKDIR:
		name_step(o, S_ACT, RB_IO_MKDIRAT);
		o->req.r.fd = o->pfd;
		o->req.r.path = o->name;
		o->req.r.mode = 0777; /* minus the umask, like mkdir(1) */
		break;
	case N_RENAME:
		name_step(o, S_ACT, RB_IO_RENAMEAT);
		o->req.r.fd = o->pfd;
		o->req.r.path = o->name;
		o->req.r.fd2 = o->pfd2;
		o->req.r.path2 = o->name2;
		o->req.r.flags = o->noreplace ? RENAME_NOREPLACE : 0;
		break;
	case N_UNLINK:
		name_step(o, S_ACT, RB_IO_UNLINKAT);
		o->req.r.fd = o->pfd;
		o->req.r.path = o->name;
		o->req.r.flags = o->dir ? AT_REMOVEDIR : 0;
		break;
	}
	fs_req_start(&o->req);
}

static void name_done(struct fs_req *fr)
{
	struct name_op *o = fr->owner;
	int res = (int)fr->r.res;
	bool last;

	if (o->state == S_CLOSE1 || o->state == S_CLOSE2) {
		/* mkdir -p: after each component's parent is closed, the next. */
		if (o->per_component && !o->err && !o->base.cancelled && o->pfd < 0) {
			int r = next_component(o);
			if (r > 0) {
				o->opath1 = false;
				name_open(o, S_OPEN1, o->dirfd, o->parent, parent_flags(false));
				return;
			}
			o->err = r;
		}
		name_cleanup(o);
		return;
	}
	/* A parent that may be written but not read: open it O_PATH (no fsync). */
	if (res == -EACCES && o->kind != N_STAT && ((o->state == S_OPEN1 && !o->opath1) ||
						    (o->state == S_OPEN2 && !o->opath2)) && !o->base.cancelled) {
		if (o->state == S_OPEN1) {
			o->opath1 = true;
			name_open(o, S_OPEN1, o->dirfd, o->parent, parent_flags(true));
		} else {
			o->opath2 = true;
			name_open(o, S_OPEN2, o->dirfd2, o->parent2, parent_flags(true));
		}
		return;
	}
	if (o->state == S_OPEN1 && res >= 0)
		o->pfd = res;
	if (o->state == S_OPEN2 && res >= 0)
		o->pfd2 = res;
	if (o->state == S_ACT)
		o->acted = !o->per_component || !o->rel[o->comp_end];
	if (o->base.cancelled && !o->acted) {
		name_fail(o, -ECANCELED);
		return;
	}
	switch (o->state) {
	case S_OPEN1:
		if (res == -ENOENT && o->kind == N_MKDIR && o->parents && !o->per_component) {
			/* The parent is missing: create every component in turn. */
			int r;
			o->per_component = true;
			o->comp_end = 0;
			r = next_component(o);
			if (r > 0) {
				o->opath1 = false;
				name_open(o, S_OPEN1, o->dirfd, o->parent, parent_flags(false));
			} else {
				name_fail(o, r);
			}
			return;
		}
		if (res < 0) {
			name_fail(o, fs_map_open_err(res, o->kind == N_STAT && (o->flags & RB_FS_NOFOLLOW)));
			return;
		}
		if (o->kind == N_RENAME && o->same_parent) {
			o->pfd2 = o->pfd;
			o->opath2 = o->opath1;
			name_act(o);
		} else if (o->kind == N_RENAME) {
			name_open(o, S_OPEN2, o->dirfd2, o->parent2, parent_flags(false));
		} else {
			name_act(o);
		}
		return;
	case S_OPEN2:
		if (res < 0) {
			name_fail(o, fs_map_open_err(res, false));
			return;
		}
		name_act(o);
		return;
	case S_ACT:
		last = !o->per_component || !o->rel[o->comp_end];
		if (res == -EEXIST && o->kind == N_MKDIR && (o->parents || !last)) {
			/* Fine if it is a directory: an intermediate that is not fails
			 * the next open with -ENOTDIR; the final one is checked. */
			if (!last) {
				name_cleanup(o);
				return;
			}
			name_step(o, S_CHECK, RB_IO_STATX);
			o->req.r.fd = o->pfd;
			o->req.r.path = o->name;
			o->req.r.flags = AT_SYMLINK_NOFOLLOW;
			o->req.r.mode = STATX_TYPE;
			o->req.r.stx = &o->stx;
			fs_req_start(&o->req);
			return;
		}
		if (res < 0)
			name_fail(o, res);
		else if (o->kind == N_STAT)
			name_cleanup(o);
		else
			name_sync_next(o, S_ACT);
		return;
	case S_SYNC2:
	case S_SYNC1:
		/* The name change happened; without this fsync it may not survive
		 * a crash, so a failure is the op's error, never a success. */
		if (res < 0)
			name_fail(o, res);
		else
			name_sync_next(o, o->state);
		return;
	case S_SYNCBOTH:
		sync_both_part(o, res);
		return;
	case S_CHECK:
		if (res < 0)
			name_fail(o, res);
		else if (!S_ISDIR(o->stx.stx_mode))
			name_fail(o, -EEXIST);
		else
			name_cleanup(o);
		return;
	}
}

static void name_go(struct rb_fs_op *op)
{
	struct name_op *o = (struct name_op *)op;
	if (o->kind == N_STAT)
		name_open(o, S_OPEN1, o->dirfd, o->rel,
			  O_PATH | O_CLOEXEC | ((o->flags & RB_FS_NOFOLLOW) ? O_NOFOLLOW : 0));
	else
		name_open(o, S_OPEN1, o->dirfd, o->parent, parent_flags(false));
}

static void name_cancel(struct rb_fs_op *op)
{
	struct name_op *o = (struct name_op *)op;
	if (o->state == S_DONE)
		return;
	if (fs_op_withdraw(op)) {
		o->state = S_DONE;
		fs_op_later(op, name_finish_later);
		return;
	}
	/* Opens and checks are cancelled in flight; the mkdirat / renameat /
	 * unlinkat itself is left to finish (cancelled while running in io-wq
	 * it might have taken effect and still report -ECANCELED), and so is
	 * the fsync after it: the op has committed. Only the fsync of an
	 * intermediate mkdir -p component is cancelled (the chain stops). */
	if (o->state == S_OPEN1 || o->state == S_OPEN2 || o->state == S_CHECK ||
	    (o->state == S_ACT && o->kind == N_STAT) || (o->state == S_SYNC1 && !o->acted))
		fs_req_cancel(&o->req);
}

static struct name_op *name_new(struct rb_fs *fs, int kind, const struct rb_path *p, enum rb_cap_class cls,
				void *ctx, int *err)
{
	struct name_op *o = calloc(1, sizeof(*o));
	const char *name;
	int r;

	*err = -ENOMEM;
	if (!o)
		return NULL;
	o->kind = kind;
	o->ctx = ctx;
	o->dirfd = p->dirfd;
	o->pfd = o->pfd2 = -1;
	snprintf(o->rel, sizeof(o->rel), "%s", p->rel);
	if (kind != N_STAT) {
		r = fs_split(p->rel, o->parent, sizeof(o->parent), &name);
		if (r < 0) {
			free(o);
			*err = r;
			return NULL;
		}
		strcpy(o->name, name);
	}
	fs_op_init(&o->base, fs, cls, name_cancel);
	return o;
}

static int name_start(struct name_op *o, struct rb_fs_op **op_out)
{
	if (op_out)
		*op_out = &o->base;
	fs_op_permit(&o->base, 0, name_go);
	return 0;
}

int rb_fs_stat(struct rb_fs *fs, const struct rb_path *p, unsigned flags, enum rb_cap_class cls,
	       void (*cb)(void *ctx, int res, const struct statx *stx), void *ctx,
	       struct rb_fs_op **op_out)
{
	int err;
	struct name_op *o = name_new(fs, N_STAT, p, cls, ctx, &err);
	if (!o)
		return err;
	o->stat_cb = cb;
	o->flags = flags;
	return name_start(o, op_out);
}

int rb_fs_mkdir(struct rb_fs *fs, const struct rb_path *p, bool parents, enum rb_cap_class cls,
		void (*cb)(void *ctx, int res), void *ctx, struct rb_fs_op **op_out)
{
	int err;
	struct name_op *o;

	/* The root itself exists, which only mkdir -p accepts (answered on the
	 * next turn, like every result). */
	if (!strcmp(p->rel, ".")) {
		if (!parents)
			return -EEXIST;
		o = calloc(1, sizeof(*o));
		if (!o)
			return -ENOMEM;
		o->kind = N_MKDIR;
		o->cb = cb;
		o->ctx = ctx;
		o->pfd = o->pfd2 = -1;
		fs_op_init(&o->base, fs, cls, name_cancel);
		o->state = S_DONE;
		if (op_out)
			*op_out = &o->base;
		fs_op_later(&o->base, name_finish_later);
		return 0;
	}
	o = name_new(fs, N_MKDIR, p, cls, ctx, &err);
	if (!o)
		return err;
	o->cb = cb;
	o->parents = parents;
	return name_start(o, op_out);
}

int rb_fs_rename(struct rb_fs *fs, const struct rb_path *from, const struct rb_path *to, bool noreplace,
		 enum rb_cap_class cls, void (*cb)(void *ctx, int res), void *ctx,
		 struct rb_fs_op **op_out)
{
	int err;
	const char *name2;
	struct name_op *o = name_new(fs, N_RENAME, from, cls, ctx, &err);
	if (!o)
		return err;
	err = fs_split(to->rel, o->parent2, sizeof(o->parent2), &name2);
	if (err < 0) {
		fs_op_end(&o->base);
		free(o);
		return err;
	}
	strcpy(o->name2, name2);
	o->dirfd2 = to->dirfd;
	o->same_parent = o->dirfd2 == o->dirfd && !strcmp(o->parent, o->parent2);
	o->cb = cb;
	o->noreplace = noreplace;
	return name_start(o, op_out);
}

int rb_fs_unlink(struct rb_fs *fs, const struct rb_path *p, bool dir, enum rb_cap_class cls,
		 void (*cb)(void *ctx, int res), void *ctx, struct rb_fs_op **op_out)
{
	int err;
	struct name_op *o = name_new(fs, N_UNLINK, p, cls, ctx, &err);
	if (!o)
		return err;
	o->cb = cb;
	o->dir = dir;
	return name_start(o, op_out);
}

/* ---- list_dir ------------------------------------------------------------------ */

#define LIST_SLOTS 16

struct list_op;
struct list_slot {
	struct fs_req req;
	struct list_op *o;
	size_t idx;
	bool extra; /* holds a permit of its own (taken with rb_cap_try) */
	bool busy;
};

struct list_op {
	struct rb_fs_op base;
	struct fs_req req;
	void (*cb)(void *ctx, int res, struct rb_dirent *ents, size_t n);
	void *ctx;
	int dirfd;
	char *rel;
	bool want_stat;
	size_t max;
	int fd;
	int state, err;
	char *buf;
	struct rb_dirent *ents;
	size_t n, cap;
	size_t next;	 /* next entry to stat */
	unsigned busy;	 /* stat slots in flight */
	struct list_slot slots[LIST_SLOTS];
};

enum { L_OPEN, L_READ, L_STAT, L_CLOSE, L_DONE };

static void list_done(struct fs_req *fr);

static void list_finish(struct list_op *o)
{
	int res = o->err;
	size_t i;
	o->state = L_DONE;
	fs_op_release(&o->base);
	if (o->base.cancelled)
		res = -ECANCELED;
	fs_op_end(&o->base);
	o->cb(o->ctx, res, res >= 0 ? o->ents : NULL, res >= 0 ? o->n : 0);
	for (i = 0; i < o->n; i++)
		free(o->ents[i].name);
	free(o->ents);
	free(o->buf);
	free(o->rel);
	free(o);
}

static void list_finish_later(struct rb_defer *d)
{
	list_finish(d->data);
}

static void list_close(struct list_op *o, int err)
{
	if (!o->err)
		o->err = err;
	if (o->fd < 0) {
		list_finish(o);
		return;
	}
	o->state = L_CLOSE;
	fs_req_prep(&o->req, o->base.fs, RB_IO_CLOSE, false, o->base.cls, 0, list_done, o);
	o->req.r.fd = o->fd;
	o->fd = -1;
	fs_req_start(&o->req);
}

static void list_read(struct list_op *o)
{
	o->state = L_READ;
	fs_req_prep(&o->req, o->base.fs, RB_IO_GETDENTS, false, o->base.cls, 0, list_done, o);
	o->req.r.fd = o->fd;
	o->req.r.buf = o->buf;
	o->req.r.len = FS_CHUNK;
	fs_req_start(&o->req);
}

static void slot_done(struct fs_req *fr);

static bool slot_next(struct list_slot *s)
{
	struct list_op *o = s->o;
	if (o->base.cancelled || o->next >= o->n)
		return false;
	s->idx = o->next++;
	fs_req_prep(&s->req, o->base.fs, RB_IO_STATX, false, o->base.cls, 0, slot_done, s);
	s->req.r.fd = o->fd;
	s->req.r.path = o->ents[s->idx].name;
	s->req.r.flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT;
	s->req.r.mode = STATX_BASIC_STATS | STATX_BTIME;
	s->req.r.stx = &o->ents[s->idx].stx;
	fs_req_start(&s->req);
	return true;
}

static void slot_done(struct fs_req *fr)
{
	struct list_slot *s = fr->owner;
	struct list_op *o = s->o;
	struct rb_dirent *e = &o->ents[s->idx];

	e->stat_res = fr->r.res < 0 ? (int)fr->r.res : 0;
	if (!e->stat_res)
		e->type = IFTODT(e->stx.stx_mode);
	if (slot_next(s))
		return;
	s->busy = false;
	if (s->extra) {
		s->extra = false;
		rb_cap_release(o->base.fs->cap, o->base.cls, 1, 0);
	}
	if (--o->busy == 0)
		list_close(o, 0);
}

/* Slot 0 runs under the op's own permit; the others only under permits
 * that are free right now (never waiting while holding one). */
static void list_stats(struct list_op *o)
{
	unsigned i;
	o->state = L_STAT;
	for (i = 0; i < LIST_SLOTS && o->next < o->n; i++) {
		struct list_slot *s = &o->slots[i];
		s->o = o;
		if (i > 0 && !rb_cap_try(o->base.fs->cap, o->base.cls, 1, 0))
			break;
		s->extra = i > 0;
		s->busy = true;
		o->busy++;
		slot_next(s);
	}
}

static int list_parse(struct list_op *o, size_t len)
{
	size_t pos = 0;
	while (pos < len) {
		struct linux_dirent64 *d = (struct linux_dirent64 *)(o->buf + pos);
		pos += d->d_reclen;
		if (fs_dot_or_dotdot(d->d_name))
			continue;
		if (o->n >= o->max)
			return -RB_E_LIMIT;
		if (o->n == o->cap) {
			size_t nc = o->cap ? o->cap * 2 : 64;
			struct rb_dirent *ne = realloc(o->ents, nc * sizeof(*ne));
			if (!ne)
				return -ENOMEM;
			o->ents = ne;
			o->cap = nc;
		}
		memset(&o->ents[o->n], 0, sizeof(o->ents[0]));
		o->ents[o->n].name = strdup(d->d_name);
		if (!o->ents[o->n].name)
			return -ENOMEM;
		o->ents[o->n].type = d->d_type;
		o->n++;
	}
	return 0;
}

static void list_done(struct fs_req *fr)
{
	struct list_op *o = fr->owner;
	int res = (int)fr->r.res;

	if (o->state == L_CLOSE) {
		list_finish(o);
		return;
	}
	if (o->state == L_OPEN && res >= 0)
		o->fd = res;
	if (o->base.cancelled) {
		list_close(o, -ECANCELED);
		return;
	}
	if (o->state == L_OPEN) {
		if (res < 0) {
			list_close(o, fs_map_open_err(res, false));
			return;
		}
		list_read(o);
		return;
	}
	/* L_READ: a short batch is not the end; only 0 is. */
	if (res < 0) {
		list_close(o, res);
	} else if (res > 0) {
		res = list_parse(o, (size_t)res);
		if (res < 0)
			list_close(o, res);
		else
			list_read(o);
	} else if (o->want_stat && o->n) {
		list_stats(o);
	} else {
		list_close(o, 0);
	}
}

static void list_go(struct rb_fs_op *op)
{
	struct list_op *o = (struct list_op *)op;
	o->state = L_OPEN;
	fs_req_prep(&o->req, o->base.fs, RB_IO_OPENAT2, false, o->base.cls, 0, list_done, o);
	o->req.r.fd = o->dirfd;
	o->req.r.path = o->rel;
	o->req.r.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	o->req.r.resolve = FS_RESOLVE;
	fs_req_start(&o->req);
}

static void list_cancel(struct rb_fs_op *op)
{
	struct list_op *o = (struct list_op *)op;
	unsigned i;
	if (o->state == L_DONE || o->state == L_CLOSE)
		return;
	if (fs_op_withdraw(op)) {
		o->state = L_DONE;
		fs_op_later(op, list_finish_later);
		return;
	}
	if (o->state == L_STAT) {
		for (i = 0; i < LIST_SLOTS; i++)
			if (o->slots[i].busy)
				fs_req_cancel(&o->slots[i].req);
	} else {
		fs_req_cancel(&o->req);
	}
}

int rb_fs_list_dir(struct rb_fs *fs, const struct rb_path *p, bool want_stat, size_t max_entries,
		   enum rb_cap_class cls,
		   void (*cb)(void *ctx, int res, struct rb_dirent *ents, size_t n), void *ctx,
		   struct rb_fs_op **op_out)
{
	struct list_op *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->rel = strdup(p->rel);
	o->buf = malloc(FS_CHUNK);
	if (!o->rel || !o->buf) {
		free(o->rel);
		free(o->buf);
		free(o);
		return -ENOMEM;
	}
	fs_op_init(&o->base, fs, cls, list_cancel);
	o->cb = cb;
	o->ctx = ctx;
	o->dirfd = p->dirfd;
	o->want_stat = want_stat;
	o->max = max_entries ? max_entries : 100000;
	o->fd = -1;
	if (op_out)
		*op_out = &o->base;
	fs_op_permit(&o->base, FS_CHUNK, list_go);
	return 0;
}
