/* write.c: atomic whole-file writes.
 *
 *   OPENAT2 parent (O_RDONLY|O_DIRECTORY, beneath the root)
 *   STATX parent/name (AT_SYMLINK_NOFOLLOW): refuse a symlink or directory, keep the mode
 *   OPENAT2 parent/.name.rb-PID-N.tmp (O_CREAT|O_EXCL|O_WRONLY)
 *   WRITE ... until every byte is written (short writes continue)
 *   FSYNC temp  (unless NO_FSYNC)
 *   CLOSE temp
 *   RENAMEAT temp -> name (RENAME_NOREPLACE for CREATE_ONLY)
 *   FSYNC parent (unless NO_FSYNC)
 *   STATX name: verify type and size
 *   CLOSE parent
 *
 * The parent is opened O_RDONLY rather than O_PATH because the same fd then
 * serves as the *at() anchor and as the directory to fsync, saving an open
 * and a close per write.
 *
 * Failure before the rename leaves the old file untouched; the error path
 * closes the temp fd, unlinks the temp file and closes the parent, in that
 * order, whatever failed (their own failures are ignored: the first error is
 * the one reported). After the rename the new content is in place; a failing
 * directory fsync or verification is still reported, and cancel no longer
 * applies (the write has in effect finished). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs_internal.h"

enum { W_PARENT, W_CHECK, W_CREATE, W_WRITE, W_FSYNC, W_CLOSE, W_RENAME, W_DIRSYNC, W_VERIFY,
       W_CLEAN_TMPFD, W_CLEAN_UNLINK, W_CLEAN_PARENT, W_DONE };

struct write_op {
	struct rb_fs_op base;
	struct fs_req req;
	void (*cb)(void *ctx, int res);
	void *ctx;
	int dirfd;
	unsigned flags;
	const char *data;
	size_t len, off;
	int pfd, tfd;
	int state, err;
	bool created, renamed, exists;
	unsigned tries;
	mode_t mode;
	struct statx stx;
	const char *name; /* = namebuf */
	char namebuf[NAME_MAX + 1];
	char parent[PATH_MAX];
	char tmp[NAME_MAX + 1];
};

static void write_done(struct fs_req *fr);

static void write_finish(struct write_op *o)
{
	int res = o->err;
	o->state = W_DONE;
	fs_op_release(&o->base);
	if (o->base.cancelled && !o->renamed)
		res = -ECANCELED;
	fs_op_end(&o->base);
	o->cb(o->ctx, res);
	free(o);
}

static void write_finish_later(struct rb_defer *d)
{
	write_finish(d->data);
}

static void step(struct write_op *o, int state, enum rb_io_op op)
{
	o->state = state;
	fs_req_prep(&o->req, o->base.fs, op, false, o->base.cls, 0, write_done, o);
}

/* The unwinding and the normal end share this: close the temp fd, remove
 * the temp file if it was not renamed, close the parent, then report. */
static void write_cleanup(struct write_op *o)
{
	if (o->tfd >= 0) {
		step(o, W_CLEAN_TMPFD, RB_IO_CLOSE);
		o->req.r.fd = o->tfd;
		o->tfd = -1;
	} else if (o->created && !o->renamed) {
		step(o, W_CLEAN_UNLINK, RB_IO_UNLINKAT);
		o->req.r.fd = o->pfd;
		o->req.r.path = o->tmp;
		o->created = false;
	} else if (o->pfd >= 0) {
		step(o, W_CLEAN_PARENT, RB_IO_CLOSE);
		o->req.r.fd = o->pfd;
		o->pfd = -1;
	} else {
		write_finish(o);
		return;
	}
	fs_req_start(&o->req);
}

static void write_fail(struct write_op *o, int err)
{
	if (!o->err)
		o->err = err;
	write_cleanup(o);
}

static void write_create(struct write_op *o)
{
	struct rb_fs *fs = o->base.fs;
	snprintf(o->tmp, sizeof(o->tmp), ".%.200s.rb-%d-%llu.tmp", o->name, (int)fs->pid,
		 (unsigned long long)++fs->tmp_counter);
	step(o, W_CREATE, RB_IO_OPENAT2);
	o->req.r.fd = o->pfd;
	o->req.r.path = o->tmp;
	o->req.r.flags = O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW;
	o->req.r.mode = o->mode;
	o->req.r.resolve = FS_RESOLVE;
	fs_req_start(&o->req);
}

static void write_more(struct write_op *o)
{
	step(o, W_WRITE, RB_IO_WRITE);
	o->req.r.fd = o->tfd;
	o->req.r.buf = (void *)(o->data + o->off);
	o->req.r.len = o->len - o->off;
	o->req.r.off = (int64_t)o->off;
	fs_req_start(&o->req);
}

static void write_fsync(struct write_op *o, int state, int fd)
{
	step(o, state, RB_IO_FSYNC);
	o->req.r.fd = fd;
	fs_req_start(&o->req);
}

static void write_after_data(struct write_op *o)
{
	if (o->flags & RB_FS_WRITE_NO_FSYNC) {
		step(o, W_CLOSE, RB_IO_CLOSE);
		o->req.r.fd = o->tfd;
		o->tfd = -1;
		fs_req_start(&o->req);
	} else {
		write_fsync(o, W_FSYNC, o->tfd);
	}
}

static void write_verify(struct write_op *o)
{
	step(o, W_VERIFY, RB_IO_STATX);
	o->req.r.fd = o->pfd;
	o->req.r.path = o->name;
	o->req.r.flags = AT_SYMLINK_NOFOLLOW;
	o->req.r.mode = STATX_TYPE | STATX_SIZE;
	o->req.r.stx = &o->stx;
	fs_req_start(&o->req);
}

static void write_done(struct fs_req *fr)
{
	struct write_op *o = fr->owner;
	int res = (int)fr->r.res;

	if (o->state >= W_CLEAN_TMPFD) {
		write_cleanup(o);
		return;
	}
	if ((o->state == W_PARENT || o->state == W_CREATE) && res >= 0) {
		if (o->state == W_PARENT)
			o->pfd = res;
		else {
			o->tfd = res;
			o->created = true;
		}
	}
	if (o->state == W_RENAME && res >= 0)
		o->renamed = true;
	if (o->base.cancelled && !o->renamed) {
		write_fail(o, -ECANCELED);
		return;
	}
	switch (o->state) {
	case W_PARENT:
		if (res < 0) {
			write_fail(o, fs_map_open_err(res, false));
			return;
		}
		step(o, W_CHECK, RB_IO_STATX);
		o->req.r.fd = o->pfd;
		o->req.r.path = o->name;
		o->req.r.flags = AT_SYMLINK_NOFOLLOW;
		o->req.r.mode = STATX_TYPE | STATX_MODE;
		o->req.r.stx = &o->stx;
		fs_req_start(&o->req);
		return;
	case W_CHECK:
		if (res == -ENOENT) {
			o->mode = 0644;
		} else if (res < 0) {
			write_fail(o, res);
			return;
		} else if (S_ISLNK(o->stx.stx_mode)) {
			write_fail(o, -RB_E_SYMLINK);
			return;
		} else if (S_ISDIR(o->stx.stx_mode)) {
			write_fail(o, -EISDIR);
			return;
		} else if (!S_ISREG(o->stx.stx_mode)) {
			write_fail(o, -RB_E_NOT_REGULAR);
			return;
		} else if (o->flags & RB_FS_WRITE_CREATE_ONLY) {
			write_fail(o, -EEXIST);
			return;
		} else {
			o->exists = true;
			o->mode = o->stx.stx_mode & 07777;
		}
		write_create(o);
		return;
	case W_CREATE:
		if (res == -EEXIST && ++o->tries < 8) {
			write_create(o); /* a stale temp of an earlier process with our pid */
			return;
		}
		if (res < 0) {
			write_fail(o, fs_map_open_err(res, true));
			return;
		}
		/* O_CREAT's mode went through the umask; a kept mode with bits the
		 * umask strips (e.g. 0664) is restored here. A synchronous fchmod
		 * touches only the in-memory inode, so it does not stall the loop. */
		if (o->exists && (o->mode & o->base.fs->umask) && fchmod(o->tfd, o->mode) < 0) {
			write_fail(o, -errno);
			return;
		}
		if (o->len == 0) {
			write_after_data(o);
			return;
		}
		write_more(o);
		return;
	case W_WRITE:
		if (res == 0)
			res = -EIO; /* no progress on a regular file: do not spin */
		if (res < 0) {
			write_fail(o, res);
			return;
		}
		o->off += (size_t)res;
		if (o->off < o->len)
			write_more(o);
		else
			write_after_data(o);
		return;
	case W_FSYNC:
		if (res < 0) {
			write_fail(o, res);
			return;
		}
		step(o, W_CLOSE, RB_IO_CLOSE);
		o->req.r.fd = o->tfd;
		o->tfd = -1;
		fs_req_start(&o->req);
		return;
	case W_CLOSE:
		if (res < 0) {
			write_fail(o, res);
			return;
		}
		step(o, W_RENAME, RB_IO_RENAMEAT);
		o->req.r.fd = o->pfd;
		o->req.r.path = o->tmp;
		o->req.r.fd2 = o->pfd;
		o->req.r.path2 = o->name;
		o->req.r.flags = (o->flags & RB_FS_WRITE_CREATE_ONLY) ? RENAME_NOREPLACE : 0;
		fs_req_start(&o->req);
		return;
	case W_RENAME:
		if (res < 0) {
			write_fail(o, res);
			return;
		}
		if (o->flags & RB_FS_WRITE_NO_FSYNC)
			write_verify(o);
		else
			write_fsync(o, W_DIRSYNC, o->pfd);
		return;
	case W_DIRSYNC:
		if (res < 0) {
			write_fail(o, res);
			return;
		}
		write_verify(o);
		return;
	case W_VERIFY:
		if (res < 0)
			write_fail(o, res);
		else if (!S_ISREG(o->stx.stx_mode) || o->stx.stx_size != o->len)
			write_fail(o, -EIO); /* someone replaced it under us, or the fs lied */
		else
			write_cleanup(o);
		return;
	}
}

static void write_go(struct rb_fs_op *op)
{
	struct write_op *o = (struct write_op *)op;
	step(o, W_PARENT, RB_IO_OPENAT2);
	o->req.r.fd = o->dirfd;
	o->req.r.path = o->parent;
	o->req.r.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	o->req.r.resolve = FS_RESOLVE;
	fs_req_start(&o->req);
}

static void write_cancel(struct rb_fs_op *op)
{
	struct write_op *o = (struct write_op *)op;
	if (o->state == W_DONE || o->renamed)
		return;
	if (fs_op_withdraw(op)) {
		o->state = W_DONE;
		fs_op_later(op, write_finish_later);
		return;
	}
	/* Only steps without side effects, or whose effect the unwinding undoes,
	 * are cancelled in flight. An open(O_CREAT) or a rename cancelled
	 * while running in io-wq may have taken effect and still report
	 * -ECANCELED, which would leak the temp file or report a replaced file
	 * as untouched; those are left to finish and the flag is seen next. */
	if (o->state == W_PARENT || o->state == W_CHECK || o->state == W_WRITE || o->state == W_FSYNC)
		fs_req_cancel(&o->req);
}

int rb_fs_write_atomic(struct rb_fs *fs, const struct rb_path *p, const void *data, size_t len,
		       unsigned flags, enum rb_cap_class cls,
		       void (*cb)(void *ctx, int res), void *ctx, struct rb_fs_op **op_out)
{
	struct write_op *o = calloc(1, sizeof(*o));
	int r;
	if (!o)
		return -ENOMEM;
	r = fs_split(p->rel, o->parent, sizeof(o->parent), &o->name);
	if (r < 0) {
		free(o);
		return !strcmp(p->rel, ".") ? -EISDIR : r;
	}
	/* fs_split's name points into the caller's rb_path: keep a copy. */
	strcpy(o->namebuf, o->name);
	o->name = o->namebuf;
	fs_op_init(&o->base, fs, cls, write_cancel);
	o->cb = cb;
	o->ctx = ctx;
	o->dirfd = p->dirfd;
	o->flags = flags;
	o->data = data;
	o->len = len;
	o->pfd = o->tfd = -1;
	if (op_out)
		*op_out = &o->base;
	fs_op_permit(&o->base, 0, write_go);
	return 0;
}
