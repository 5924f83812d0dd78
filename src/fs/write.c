/* write.c: atomic whole-file writes.
 *
 *   OPENAT2 parent (O_RDONLY|O_DIRECTORY, beneath the root)
 *   STATX parent/name (AT_SYMLINK_NOFOLLOW): refuse a symlink or directory,
 *         a read-only target or one we may not write; note other hard links
 *   OPENAT2 parent/.name.rb-PID-N.tmp (O_CREAT|O_EXCL|O_WRONLY, the target's mode)
 *   [target exists] mode, owner, group onto the temp (synchronous, only
 *         what differs); the target's xattr names and values (synchronous),
 *         then per attribute [FGETXATTR temp (security.* only)] FSETXATTR temp
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
 * applies (the write has in effect finished).
 *
 * Metadata of an existing target (see keep_owner, keep_xattrs): io_uring
 * has no fstat, fchown, fchmod or listxattr opcode, so those are plain
 * syscalls on the loop thread (on both backends). Each touches the
 * in-memory inode of the temp file just created, or reads the target's
 * inode that the STATX has just brought in. On the common path (our own
 * file, no xattrs) that is one fstat and one listxattrat (0.3 and 0.6-0.7 us
 * measured here, warm, ext4 and tmpfs), against the two fsyncs of every
 * write (and may_write's geteuid, plus a faccessat when we are root or the
 * file is not ours); a fchmod runs only when the umask or a default ACL
 * took bits from the target's mode, a fchown only when the owner or group
 * differs.
 *
 * Why the fstat, rather than predicting the temp file's owner, group and
 * mode (our euid; the directory's group if it is set-gid, else our egid;
 * the mode minus the umask): the group also comes from the directory under
 * a grpid/bsdgroups mount, a default ACL on the directory replaces the
 * umask with its own mask, and on NFS or FUSE the server decides. Only the
 * file says what it got (tests/unit/fs/test-fs-xattr.c pins the set-gid
 * and default-ACL cases).
 *
 * The values of the target's attributes are read by parent fd + name
 * (getxattrat) on the loop thread: the ring's by-path GETXATTR resolves
 * from the working directory and follows symlinks (not confinable), and its
 * FGETXATTR refuses O_PATH fds, so it would need the live target opened for
 * reading. The listxattrat before them has already read the attribute
 * block. What is set on the temp file goes through the io layer
 * (RB_IO_FGETXATTR / RB_IO_FSETXATTR: io-wq on the ring, the pool on the
 * threads backend), so the loop thread does not do the writing half.
 *
 * A parent directory that may be written but not read (mode 0333) cannot
 * be opened O_RDONLY: it is opened O_PATH instead, which anchors the *at()
 * calls but cannot be fsync'ed, so that one step is skipped there. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs_internal.h"

enum { W_PARENT, W_CHECK, W_CREATE, W_XCUR, W_XSET, W_WRITE, W_FSYNC, W_CLOSE, W_RENAME, W_DIRSYNC,
       W_VERIFY, W_CLEAN_TMPFD, W_CLEAN_UNLINK, W_CLEAN_PARENT, W_DONE };

/* Where the target's extended attributes are read from (src_list, src_get). */
struct xattr_src {
	int pfd;
	const char *name;
	bool proc;		  /* the kernel has no *xattrat: use path */
	char path[64 + NAME_MAX]; /* /proc/self/fd/N/name */
};

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
	int notes;	   /* RB_FS_WROTE_* */
	bool created, renamed, exists;
	bool parent_opath; /* the parent is an O_PATH fd: no directory fsync */
	unsigned tries;
	mode_t mode;
	struct statx stx;
	/* the target's extended attributes being copied (keep_xattrs) */
	struct xattr_src xsrc;
	char *xlist;	   /* names, NUL-separated */
	size_t xlen, xpos; /* list length, next name */
	const char *xname; /* the one in flight */
	char *xval, *xcur; /* its value on the target, on the temp (security.*) */
	size_t xvlen;
	const char *name; /* = namebuf */
	char namebuf[NAME_MAX + 1];
	char parent[PATH_MAX];
	char tmp[NAME_MAX + 1];
};

static void write_done(struct fs_req *fr);

static void xattrs_free(struct write_op *o)
{
	free(o->xlist);
	free(o->xval);
	free(o->xcur);
	o->xlist = o->xval = o->xcur = NULL;
	o->xlen = o->xpos = 0;
}

static void write_finish(struct write_op *o)
{
	int res = o->err ? o->err : o->notes;
	xattrs_free(o);
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

/* Whether this process could open the existing target for writing in
 * place; the atomic replace needs only the directory's write permission,
 * and must not grant more than that. The owner's bits decide for the owner
 * (no syscall, the common case); otherwise the kernel does the check
 * (groups, ACLs, root's override). */
static int may_write(struct write_op *o)
{
	uid_t euid = geteuid();
	if (euid != 0 && o->stx.stx_uid == euid)
		return (o->stx.stx_mode & S_IWUSR) ? 0 : -EACCES;
	if (faccessat(o->pfd, o->name, W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno; /* gone meanwhile: the rename creates it */
	return 0;
}

#define XATTR_BUF 65536 /* XATTR_SIZE_MAX and XATTR_LIST_MAX */

/* listxattrat / getxattrat (Linux 6.13; the same numbers on every
 * architecture) read the target's attributes by parent fd + name, so no
 * path outside the parent is resolved. Older kernels (ENOSYS) go through
 * /proc/self/fd/<parent>/<name>, which needs /proc and a traversable "/". */
#ifndef __NR_getxattrat
#define __NR_getxattrat 464
#endif
#ifndef __NR_listxattrat
#define __NR_listxattrat 465
#endif

static ssize_t src_list(struct xattr_src *x, char *buf, size_t n)
{
	if (!x->proc) {
		ssize_t r = syscall(__NR_listxattrat, x->pfd, x->name, AT_SYMLINK_NOFOLLOW, buf, n);
		if (r >= 0 || errno != ENOSYS)
			return r;
		x->proc = true;
		snprintf(x->path, sizeof(x->path), "/proc/self/fd/%d/%s", x->pfd, x->name);
	}
	return llistxattr(x->path, buf, n);
}

static ssize_t src_get(struct xattr_src *x, const char *attr, char *buf, size_t n)
{
	if (!x->proc) {
		struct { uint64_t value; uint32_t size, flags; } args = { (uint64_t)(uintptr_t)buf, (uint32_t)n, 0 };
		return syscall(__NR_getxattrat, x->pfd, x->name, AT_SYMLINK_NOFOLLOW, attr, &args, sizeof(args));
	}
	return lgetxattr(x->path, attr, buf, n);
}

static void write_data(struct write_op *o)
{
	if (o->len == 0)
		write_after_data(o);
	else
		write_more(o);
}

static void xattr_set(struct write_op *o)
{
	step(o, W_XSET, RB_IO_FSETXATTR);
	o->req.r.fd = o->tfd;
	o->req.r.path = o->xname;
	o->req.r.buf = o->xval;
	o->req.r.len = o->xvlen;
	fs_req_start(&o->req);
}

/* Copies the next of the target's attributes to the temp file (reading
 * its value here, setting it through the io layer), or, after the last,
 * starts writing the data. A security.* attribute the new file already
 * has with the same value (the SELinux label the policy gives every file
 * here) is not set again: that would need relabel permission for nothing. */
static void xattr_next(struct write_op *o)
{
	while (o->xpos < o->xlen) {
		const char *name = o->xlist + o->xpos;
		ssize_t v;
		o->xpos += strlen(name) + 1;
		v = src_get(&o->xsrc, name, o->xval, XATTR_BUF);
		if (v < 0) {
			if (errno != ENODATA)
				o->notes |= RB_FS_WROTE_XATTRS_LOST;
			continue; /* ENODATA: removed since the list */
		}
		o->xname = name;
		o->xvlen = (size_t)v;
		if (strncmp(name, "security.", 9)) {
			xattr_set(o);
			return;
		}
		if (!o->xcur && !(o->xcur = malloc(XATTR_BUF))) {
			write_fail(o, -ENOMEM);
			return;
		}
		step(o, W_XCUR, RB_IO_FGETXATTR);
		o->req.r.fd = o->tfd;
		o->req.r.path = name;
		o->req.r.buf = o->xcur;
		o->req.r.len = XATTR_BUF;
		fs_req_start(&o->req);
		return;
	}
	xattrs_free(o);
	write_data(o);
}

/* Lists the target's extended attributes (one listxattrat when it has
 * none, the common case) for xattr_next to copy. A POSIX ACL (system.*)
 * that cannot be set fails the write (without it the mode's group bits,
 * which are the ACL's mask, could grant the owning group more than its
 * entry did); any other attribute that cannot be read or set is a note. */
static int keep_xattrs(struct write_op *o)
{
	char small[256];
	ssize_t n;

	o->xsrc.pfd = o->pfd;
	o->xsrc.name = o->name;
	n = src_list(&o->xsrc, small, sizeof(small));
	if (n < 0 && errno == ERANGE) {
		o->xlist = malloc(XATTR_BUF);
		if (!o->xlist)
			return -ENOMEM;
		n = src_list(&o->xsrc, o->xlist, XATTR_BUF);
	}
	if (n < 0) {
		/* No xattrs on this filesystem, or the target is gone (the rename
		 * will create it): nothing to keep. Anything else, including a
		 * /proc path that does not resolve to the target, is a note. */
		if (errno != ENOTSUP &&
		    !(errno == ENOENT && faccessat(o->pfd, o->name, F_OK, AT_SYMLINK_NOFOLLOW) < 0))
			o->notes |= RB_FS_WROTE_XATTRS_LOST;
		n = 0;
	}
	if (n > 0) {
		if (!o->xlist) {
			o->xlist = malloc((size_t)n);
			if (o->xlist)
				memcpy(o->xlist, small, (size_t)n);
		}
		o->xval = malloc(XATTR_BUF);
		if (!o->xlist || !o->xval)
			return -ENOMEM;
	}
	o->xlen = (size_t)n;
	o->xpos = 0;
	return 0;
}

/* Gives the temp file the existing target's mode, owner and group, before
 * any data is written; each call only when the fstat shows it differs. The
 * mode goes first, while the file is surely ours; a chown clears the set-id
 * bits, so those are set again after it. Not permitted to give the file to
 * its owner (EPERM; EINVAL: an id not mapped in our user namespace), the
 * group alone is tried (allowed when we are in it) and the write goes on
 * with a note. */
static int keep_owner(struct write_op *o)
{
	struct stat st;
	uid_t uid = o->stx.stx_uid;
	gid_t gid = o->stx.stx_gid;

	if (fstat(o->tfd, &st) < 0)
		return -errno;
	/* O_CREAT's mode went through the umask (a kept 0664 may have lost
	 * its group write bit), and a default ACL may have changed it. */
	if ((st.st_mode & 07777) != o->mode && fchmod(o->tfd, o->mode) < 0)
		return -errno;
	if (st.st_uid != uid || st.st_gid != gid) {
		if (fchown(o->tfd, uid, gid) == 0) {
			if ((o->mode & (S_ISUID | S_ISGID)) && fchmod(o->tfd, o->mode) < 0)
				return -errno;
		} else if (errno == EPERM || errno == EINVAL) {
			if (st.st_gid != gid && fchown(o->tfd, (uid_t)-1, gid) < 0 && errno != EPERM &&
			    errno != EINVAL)
				return -errno;
			o->notes |= RB_FS_WROTE_OWNER_CHANGED;
		} else {
			return -errno;
		}
	}
	return 0;
}

size_t rb_fs_write_notes(int res, char *buf, size_t n)
{
	static const struct { int bit; const char *text; } notes[] = {
		{ RB_FS_WROTE_LINKS_SPLIT, "Note: the file had other hard links; this path now holds the new "
					   "content and the other links still hold the old file." },
		{ RB_FS_WROTE_OWNER_CHANGED, "Note: the file's owner or group could not be kept (not permitted); "
					     "it now belongs to the server's user." },
		{ RB_FS_WROTE_XATTRS_LOST, "Note: some extended attributes of the file (such as its SELinux "
					   "label) could not be kept." },
	};
	size_t i, len = 0;

	if (n)
		buf[0] = '\0';
	for (i = 0; res > 0 && i < sizeof(notes) / sizeof(notes[0]); i++) {
		int w;
		if (!(res & notes[i].bit))
			continue;
		w = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, "%s%s", len ? " " : "",
			     notes[i].text);
		if (w > 0)
			len += (size_t)w;
	}
	return len;
}

static void write_open_parent(struct write_op *o, int flags)
{
	step(o, W_PARENT, RB_IO_OPENAT2);
	o->req.r.fd = o->dirfd;
	o->req.r.path = o->parent;
	o->req.r.flags = flags | O_DIRECTORY | O_CLOEXEC;
	o->req.r.resolve = FS_RESOLVE;
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
		if (res == -EACCES && !o->parent_opath) {
			o->parent_opath = true; /* writable, not readable: no directory fsync */
			write_open_parent(o, O_PATH);
			return;
		}
		if (res < 0) {
			write_fail(o, fs_map_open_err(res, false));
			return;
		}
		step(o, W_CHECK, RB_IO_STATX);
		o->req.r.fd = o->pfd;
		o->req.r.path = o->name;
		o->req.r.flags = AT_SYMLINK_NOFOLLOW;
		o->req.r.mode = STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_UID | STATX_GID;
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
		} else if (!(o->stx.stx_mode & 0222)) {
			write_fail(o, -RB_E_READ_ONLY);
			return;
		} else {
			int r = may_write(o);
			if (r < 0) {
				write_fail(o, r);
				return;
			}
			o->exists = true;
			o->mode = o->stx.stx_mode & 07777;
			if (o->stx.stx_nlink > 1)
				o->notes |= RB_FS_WROTE_LINKS_SPLIT;
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
		if (o->exists) {
			int r = keep_owner(o);
			if (r == 0)
				r = keep_xattrs(o);
			if (r < 0) {
				write_fail(o, r);
				return;
			}
			xattr_next(o);
			return;
		}
		write_data(o);
		return;
	case W_XCUR:
		if (res >= 0 && (size_t)res == o->xvlen && !memcmp(o->xcur, o->xval, o->xvlen))
			xattr_next(o); /* already there */
		else
			xattr_set(o);
		return;
	case W_XSET:
		if (res < 0) {
			if (!strncmp(o->xname, "system.", 7)) {
				write_fail(o, res);
				return;
			}
			o->notes |= RB_FS_WROTE_XATTRS_LOST;
		}
		xattr_next(o);
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
		if ((o->flags & RB_FS_WRITE_NO_FSYNC) || o->parent_opath)
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
	write_open_parent((struct write_op *)op, O_RDONLY);
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
	if (o->state == W_PARENT || o->state == W_CHECK || o->state == W_XCUR || o->state == W_XSET ||
	    o->state == W_WRITE || o->state == W_FSYNC)
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
