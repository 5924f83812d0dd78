/* fs_internal.h: what the fs module's files share.
 *
 * Every public operation is a heap struct that starts with struct rb_fs_op
 * (the handle callers get back). I/O goes through struct fs_req, an
 * rb_io_req plus optional permit bookkeeping: a request either runs under a
 * permit its op already holds, or takes its own permit from the cap (fast
 * path rb_cap_try, else a queued rb_cap_acquire) and returns it when it
 * completes, fails to submit, or is withdrawn by cancel.
 *
 * Deadlock rule: nothing in this module waits for a permit while holding
 * one. Composite ops take one permit up front and never ask for more (extra
 * parallelism is taken with rb_cap_try only); the walk takes a permit per
 * request, and every request that holds one completes on its own. */
#ifndef RB_FS_INTERNAL_H
#define RB_FS_INTERNAL_H

#include <linux/openat2.h>

#include "ringbank/fs.h"

/* Every open beneath a root. */
#define FS_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
#define FS_CHUNK (32u * 1024u)	   /* getdents buffer */
#define FS_FIRST_READ (64u * 1024u) /* READFILE buffer */

struct fs_cache;

/* The kernel's getdents64 record, which glibc does not declare. */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static inline bool fs_dot_or_dotdot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

struct fs_root {
	char *path; /* canonical */
	size_t len;
	int fd;
};

struct fs_allowed {
	char *path; /* canonical, lexical, within root `root` */
	size_t len;
	int root;
	int fd;	    /* O_PATH, opened beneath the root: paths resolve beneath it */
};

struct rb_fs {
	struct rb_io *io;
	struct rb_loop *loop;
	struct rb_cap *cap;
	struct rb_fs_opts o;
	struct fs_root *roots;
	size_t nroots;
	struct fs_allowed *allowed;
	size_t nallowed;
	struct fs_cache *cache;
	uint64_t inflight;
	uint64_t tmp_counter;
	mode_t umask;
	pid_t pid;
	/* read.c: fast-path reads in flight, oldest first, and the one timer
	 * that cuts those past their deadline (the FIFO guard). Initialised on
	 * first use; the timer runs only while the list is not empty. */
	struct rb_list fast_reads;
	struct rb_timer fast_read_timer;
};

struct rb_fs_op {
	struct rb_fs *fs;
	void (*cancel)(struct rb_fs_op *op);
	enum rb_cap_class cls;
	bool cancelled;
	/* the op-level permit (composite ops) */
	struct rb_cap_wait w;
	void (*go)(struct rb_fs_op *op);
	bool held;
	size_t held_bytes;
	struct rb_defer fin; /* delivers a result on a later turn */
};

struct fs_req {
	struct rb_io_req r;
	struct rb_fs *fs;
	void (*done)(struct fs_req *fr); /* r.res holds the result */
	void *owner;
	/* own permit (walk, extra stats) */
	struct rb_cap_wait w;
	enum rb_cap_class cls;
	size_t bytes;
	bool permit;  /* takes its own permit */
	bool held;    /* holds it now */
	bool waiting; /* queued in the cap */
	bool busy;    /* started and done() not yet run */
	bool submitted;
	struct rb_defer d;
};

/* Zeroes the io request and sets op + completion. permit: whether the
 * request takes its own permit (with `bytes` bytes) under class cls. */
void fs_req_prep(struct fs_req *fr, struct rb_fs *fs, enum rb_io_op op, bool permit,
		 enum rb_cap_class cls, size_t bytes, void (*done)(struct fs_req *fr), void *owner);
/* Starts it: done() always runs later from the loop, exactly once. */
void fs_req_start(struct fs_req *fr);
/* Withdraws it from the cap queue or asks the backend to cancel it; done()
 * still runs once (with -ECANCELED, or the real result if it raced). */
void fs_req_cancel(struct fs_req *fr);

/* Op bookkeeping: init, the op-level permit, and finishing. */
void fs_op_init(struct rb_fs_op *op, struct rb_fs *fs, enum rb_cap_class cls,
		void (*cancel)(struct rb_fs_op *op));
/* Takes 1 permit + bytes for the op: runs go() at once when free (inside the
 * caller), else from the cap on a later turn. */
void fs_op_permit(struct rb_fs_op *op, size_t bytes, void (*go)(struct rb_fs_op *op));
/* Cancel helper: withdraws a queued op-level permit request; true if it was
 * queued (the op must then finish itself with -ECANCELED). */
bool fs_op_withdraw(struct rb_fs_op *op);
/* Returns the op-level permit if held. */
void fs_op_release(struct rb_fs_op *op);
/* Calls fn(op) on the next loop turn (used when a result is known before
 * any I/O was started, so callbacks never run inside the starting call). */
void fs_op_later(struct rb_fs_op *op, void (*fn)(struct rb_defer *d));
/* Drops the op from the in-flight count. */
void fs_op_end(struct rb_fs_op *op);

/* Kernel result of an open beneath a root -> our code (-EXDEV and magic-link
 * -ELOOP become -RB_E_OUTSIDE). */
int fs_map_open_err(int res, bool nofollow);
/* Splits rel into parent and final component (validated). parent gets "."
 * for a top-level name. -RB_E_BAD_NAME for the root itself or a bad name. */
int fs_split(const char *rel, char *parent, size_t parent_sz, const char **name);

/* ---- cache (cache.c) ---- */
int fs_cache_new(struct fs_cache **out, size_t budget);
void fs_cache_free(struct fs_cache *c);
/* Copies the cached bytes into a fresh NUL-terminated buffer on a hit. */
bool fs_cache_get(struct fs_cache *c, const struct statx *stx, char **data, size_t *len);
/* Stores a copy (may decline: too large, or changed too shortly before
 * stat_rt_ns, the CLOCK_REALTIME time of the statx that preceded the read). */
void fs_cache_put(struct fs_cache *c, const struct statx *stx, int64_t stat_rt_ns, const char *data, size_t len);
int64_t fs_realtime_ns(void);
void fs_cache_stats(const struct fs_cache *c, struct rb_fs_stats *out);

#endif
