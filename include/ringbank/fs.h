/* fs.h: core file operations, all asynchronous on the loop, all beneath the
 * sandbox's roots.
 *
 * Sandbox: roots are directories given at start-up, each opened once as an
 * O_PATH directory fd. A client path (absolute, or relative to the first
 * root) is matched to a root by string prefix only to pick the root; the
 * kernel does the real resolution: every open goes through openat2 from the
 * root fd with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so "..", absolute
 * symlinks, symlinks out of the root and /proc magic links fail with -EXDEV /
 * -ELOOP, reported as -RB_E_OUTSIDE. Operations on names (create, rename,
 * unlink, mkdir) resolve the parent that way and use one validated final
 * component.
 *
 * Every composite operation allocates its own state, takes permits from the
 * cap (class given by the caller), and calls its callback exactly once from
 * the loop (never from inside the starting call), with res = 0 / >= 0 on
 * success or a negative code (error.h). A returned rb_fs_op handle may be
 * passed to rb_fs_cancel until the callback has run; after the callback it
 * is gone. A starting call that returns a negative code (bad name, no
 * memory) has started nothing and never calls back. Buffers passed in (write
 * data) must stay valid until the callback.
 * Data handed to a callback (file contents, entry arrays) is owned by the
 * callee only for the duration of the callback unless stated otherwise. */
#ifndef RINGBANK_FS_H
#define RINGBANK_FS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "ringbank/cap.h"
#include "ringbank/error.h"
#include "ringbank/io.h"

struct rb_fs;
struct rb_fs_op;

struct rb_fs_opts {
	size_t max_file_bytes;	/* read limit (default 64 MiB) */
	size_t cache_bytes;	/* content cache budget (default 64 MiB, 0 = off) */
	unsigned walk_dirs_open;/* directories open at once in a walk (default 16) */
};

int rb_fs_new(struct rb_fs **out, struct rb_io *io, struct rb_cap *cap, const struct rb_fs_opts *opts);
/* No operation may be in flight. Closes the root fds. NULL ok. */
void rb_fs_free(struct rb_fs *fs);
struct rb_io *rb_fs_io(const struct rb_fs *fs);
struct rb_cap *rb_fs_cap(const struct rb_fs *fs);

/* ---- sandbox --------------------------------------------------------------- */

/* Adds a root (start-up only, synchronous): realpath + open(O_PATH|O_DIRECTORY). */
int rb_fs_add_root(struct rb_fs *fs, const char *path);
size_t rb_fs_root_count(const struct rb_fs *fs);
const char *rb_fs_root_path(const struct rb_fs *fs, size_t i); /* canonical absolute */
int rb_fs_root_fd(const struct rb_fs *fs, size_t i);
/* Narrows access to these directories (each must lie within a root; MCP
 * roots). n == 0 restores the full roots. Returns -RB_E_OUTSIDE naming none
 * if no path is within a root. */
int rb_fs_set_allowed(struct rb_fs *fs, const char *const *paths, size_t n);
size_t rb_fs_allowed_count(const struct rb_fs *fs);
const char *rb_fs_allowed_path(const struct rb_fs *fs, size_t i);

/* A client path resolved to a root: rel is relative to dirfd ("." for the
 * directory itself): the root's fd, or under MCP roots narrowing the allowed
 * directory's own fd, so the kernel confines the path there. Normalised lexically (no "//", no "./"; ".." is kept and the
 * kernel refuses it if it climbs out). */
struct rb_path {
	int root;		/* index of the root */
	int dirfd;		/* that root's fd */
	char rel[PATH_MAX];
	char abs[PATH_MAX];	/* root path + "/" + rel, for messages and results */
};

/* Lexical step only: picks the root, rejects NUL/empty/too long/outside
 * (-RB_E_OUTSIDE), enforces the allowed narrowing. No I/O. */
int rb_fs_resolve(const struct rb_fs *fs, const char *client_path, struct rb_path *out);
/* Validates one file-name component: not empty, not "." or "..", no '/',
 * no NUL, at most 255 bytes. 0 or -RB_E_BAD_NAME. */
int rb_fs_check_name(const char *name);

/* ---- operations -------------------------------------------------------------- */

struct rb_fs_file {
	char *data;		/* NUL-terminated, its allocation fitted to len (within a page); the callee
				 * may keep it: set data = NULL to take it */
	size_t len;
	bool have_stx;
	struct statx stx;	/* when asked (RB_FS_READ_STAT) */
	bool from_cache;
};

enum {
	RB_FS_READ_STAT = 1u << 0,   /* also statx the opened file (costs a STATX) */
	RB_FS_READ_CACHED = 1u << 1, /* open + statx the fd first (a statx by path cannot be confined
					beneath the root), serve from the (dev,ino,size,mtime,ctime) cache */
	RB_FS_NOFOLLOW = 1u << 2,    /* do not follow a final symlink (-ELOOP) */
};

/* Whole-file read (open -> read until 0, growing the buffer -> close; the
 * first step is one linked open+read+close on the uring backend). Over
 * max_bytes (0 = the fs default) -> -RB_E_TOO_LARGE. Not a regular file ->
 * -RB_E_NOT_REGULAR. */
int rb_fs_read_file(struct rb_fs *fs, const struct rb_path *p, unsigned flags, size_t max_bytes,
		    enum rb_cap_class cls,
		    void (*cb)(void *ctx, int res, struct rb_fs_file *f), void *ctx,
		    struct rb_fs_op **op_out);

/* The limit rb_fs_read_file applies when given max_bytes 0 (--max-file-bytes). */
size_t rb_fs_max_file_bytes(const struct rb_fs *fs);

/* Ranged read: open beneath the root (the sandbox rules of rb_fs_read_file:
 * RESOLVE_BENEATH, O_NONBLOCK, RB_FS_NOFOLLOW honoured), statx the opened
 * fd, read [start, start + len) and close. Not a regular file ->
 * -RB_E_NOT_REGULAR, found by the statx before any byte is read (a fifo or
 * a device is never read). start is off, or with RB_FS_RANGE_FROM_END
 * max(0, size - off). The range is bounded by the size the statx saw: bytes
 * appended later are not read, and a range at or past that end (or len 0)
 * reads nothing and succeeds. A file that shrank between the statx and the
 * read gives what was still there (len shorter than the range). len over
 * the fs's max_file_bytes -> -RB_E_TOO_LARGE (nothing started). Holds one
 * permit, plus the range's bytes while reading. RB_FS_READ_STAT and
 * RB_FS_READ_CACHED are ignored (the statx is always taken and returned). */
struct rb_fs_range {
	char *data;	  /* the bytes, NUL-terminated; the callee may keep it: set data = NULL */
	size_t len;	  /* bytes read */
	uint64_t off;	  /* file offset of data[0] */
	struct statx stx; /* of the opened file, taken before reading (size, dev, ino, times) */
};
enum {
	RB_FS_RANGE_FROM_END = 1u << 8, /* off counts back from the end of the file */
};
int rb_fs_read_range(struct rb_fs *fs, const struct rb_path *p, uint64_t off, size_t len, unsigned flags,
		     enum rb_cap_class cls, void (*cb)(void *ctx, int res, struct rb_fs_range *r), void *ctx,
		     struct rb_fs_op **op_out);

/* statx of the path (follows symlinks unless RB_FS_NOFOLLOW). */
int rb_fs_stat(struct rb_fs *fs, const struct rb_path *p, unsigned flags, enum rb_cap_class cls,
	       void (*cb)(void *ctx, int res, const struct statx *stx), void *ctx,
	       struct rb_fs_op **op_out);

enum {
	RB_FS_WRITE_CREATE_ONLY = 1u << 0, /* -EEXIST if the target exists (RENAME_NOREPLACE) */
	RB_FS_WRITE_NO_FSYNC = 1u << 1,	   /* tests and benchmarks only */
};

/* Atomic write: temp file O_EXCL beside the target, write all, fsync,
 * renameat over the target, fsync the directory, verify the size. The old
 * file survives any failure; the temp file is removed on every error path.
 * A target that is a symlink or a directory is refused. Keeps the target's
 * mode when it exists (else 0644). data must stay valid until cb.
 * An existing target also keeps its owner and group and its extended
 * attributes (ACLs, SELinux label, user.*), set on the temp file before
 * the rename; see docs/ARCHITECTURE.md "Durability and ownership". Refused,
 * old file untouched: a target without any write bit (mode 0444 and the
 * like, even for root) -> -RB_E_READ_ONLY; a target the caller could not
 * open for writing in place (not its owner, no group or ACL write access)
 * -> -EACCES: replacing it through the directory would grant more than
 * write permission does. res > 0 is success with notes (RB_FS_WROTE_*). */
int rb_fs_write_atomic(struct rb_fs *fs, const struct rb_path *p, const void *data, size_t len,
		       unsigned flags, enum rb_cap_class cls,
		       void (*cb)(void *ctx, int res), void *ctx, struct rb_fs_op **op_out);

/* What a successful rb_fs_write_atomic reports in res (0 = nothing to say;
 * callers that only test res < 0 see success either way). The write has
 * happened (durably, unless RB_FS_WRITE_NO_FSYNC); these say what it could
 * not keep. */
enum {
	/* The target had other hard links (nlink > 1). A rename replaces one
	 * name: this path now holds the new content, the other names still
	 * hold the old file. Policy: proceed and report (hard-link snapshots
	 * such as cp -al / rsnapshot rely on exactly this). */
	RB_FS_WROTE_LINKS_SPLIT = 1 << 0,
	/* The target's owner or group could not be given to the new file
	 * (fchown: EPERM, e.g. a service user with group write access to
	 * someone else's file); it now belongs to this process's user. Policy:
	 * proceed and report (the write itself was permitted: see -EACCES). */
	RB_FS_WROTE_OWNER_CHANGED = 1 << 1,
	/* Some extended attribute could not be copied (not permitted, e.g. an
	 * SELinux label this process may not set, or not supported). A POSIX
	 * ACL (system.*) that cannot be copied fails the write instead
	 * (dropping it could widen access). */
	RB_FS_WROTE_XATTRS_LOST = 1 << 2,
};
/* The notes of res as sentences for a person ("" when there are none):
 * writes at most n bytes with the NUL and returns what it would write,
 * like snprintf. */
size_t rb_fs_write_notes(int res, char *buf, size_t n);

/* Name operations are durable when they report success: after the mkdirat,
 * renameat or unlinkat, the parent directory is fsync'ed (both parents for
 * a rename between directories, each parent of a component created by mkdir
 * -p), on the ring, under the op's permit. A failing fsync is the op's
 * error even though the name change happened (the caller must not take it
 * as durable). Cancel stops the op before the name change; once it has
 * happened, the op finishes, fsync included, and reports its real result.
 * A parent that may be written but not read (mode 0333) is used through an
 * O_PATH fd and cannot be fsync'ed: the op still succeeds there. */
int rb_fs_mkdir(struct rb_fs *fs, const struct rb_path *p, bool parents, enum rb_cap_class cls,
		void (*cb)(void *ctx, int res), void *ctx, struct rb_fs_op **op_out);
/* rename within the roots (both paths resolved); noreplace -> -EEXIST if `to` exists. */
int rb_fs_rename(struct rb_fs *fs, const struct rb_path *from, const struct rb_path *to, bool noreplace,
		 enum rb_cap_class cls, void (*cb)(void *ctx, int res), void *ctx,
		 struct rb_fs_op **op_out);
int rb_fs_unlink(struct rb_fs *fs, const struct rb_path *p, bool dir, enum rb_cap_class cls,
		 void (*cb)(void *ctx, int res), void *ctx, struct rb_fs_op **op_out);

/* One directory's entries (no recursion). With want_stat each entry is
 * statx'ed (AT_SYMLINK_NOFOLLOW). More than max_entries (0 = 100000) ->
 * -RB_E_LIMIT. Entries are unsorted. */
struct rb_dirent {
	char *name;
	unsigned char type;	/* DT_REG, DT_DIR, DT_LNK, ... (from statx when stat'ed) */
	int stat_res;		/* 0 or -errno of its statx */
	struct statx stx;
};
int rb_fs_list_dir(struct rb_fs *fs, const struct rb_path *p, bool want_stat, size_t max_entries,
		   enum rb_cap_class cls,
		   void (*cb)(void *ctx, int res, struct rb_dirent *ents, size_t n), void *ctx,
		   struct rb_fs_op **op_out);

/* Recursive walk. Directories are opened on the ring (openat2 beneath the
 * root), read with getdents64 in bounded chunks, entries stat'ed on the ring
 * relative to the directory fd (AT_SYMLINK_NOFOLLOW: symlinks are reported,
 * never followed). At most walk_dirs_open directories are open at once; stats
 * run under the cap. Memory is bounded by the open directories and the
 * pending-directory stack, not by the number of files. */
struct rb_walk_entry {
	const char *rel;	/* path relative to the walk's start, no leading "./" */
	const char *name;	/* last component */
	unsigned char type;	/* DT_* */
	int depth;		/* 1 for direct children of the start */
	int err;		/* 0, or -errno: statx failed, or a directory could not be opened/read */
	bool have_stx;
	struct statx stx;
};
struct rb_walk_opts {
	int max_depth;		/* 0 = unlimited */
	bool stat_files;	/* statx regular files and unknown types */
	bool stat_all;		/* statx every entry, directories and symlinks too */
	enum rb_cap_class cls;
	/* Optional: every entry of the directory rel ("." for the start) has
	 * been reported. Never called for a directory that could not be opened
	 * or read to the end, nor once the walk stops (an entry callback's
	 * abort, a cancel, an error), so a directory not reported done may be
	 * incomplete. */
	void (*dir_done)(void *ctx, const char *rel);
};
struct rb_walk_stats {
	uint64_t files, dirs, symlinks, other, bytes, errors, getdents_calls, getdents_ns;
};
/* entry: return 0 to continue, 1 to not descend into this directory,
 * a negative code to abort the walk (done gets that code). */
int rb_fs_walk(struct rb_fs *fs, const struct rb_path *start, const struct rb_walk_opts *o,
	       int (*entry)(void *ctx, const struct rb_walk_entry *e),
	       void (*done)(void *ctx, int res, const struct rb_walk_stats *st), void *ctx,
	       struct rb_fs_op **op_out);
/* Backpressure for consumers that start work per entry. */
void rb_fs_walk_pause(struct rb_fs_op *walk);
void rb_fs_walk_resume(struct rb_fs_op *walk);

/* Cancels an operation in flight; its callback still runs once, with
 * -ECANCELED unless it had already finished. Every fd and permit it held is
 * returned; a cancelled write leaves the old file. */
void rb_fs_cancel(struct rb_fs_op *op);

struct rb_fs_stats {
	uint64_t cache_hits, cache_misses, cache_bytes, cache_entries, ops_inflight;
};
void rb_fs_get_stats(const struct rb_fs *fs, struct rb_fs_stats *out);

#endif
