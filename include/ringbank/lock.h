/* lock.h: per-file advisory locks between writers (two agents, two ringbank
 * processes, the same bank), and content versions for optimistic checks.
 *
 * The lock of ROOT/dir/name is the file ROOT/dir/.name.lock, created with
 * O_CREAT|O_EXCL by an openat2 beneath the root (on the ring with the uring
 * backend), holding {"pid":N,"host":"h","time":ms-since-epoch}. Whoever
 * creates it holds the lock; releasing unlinks it. It is advisory: only
 * writers that take it are serialised (memory_bank_update, write_file,
 * edit_file).
 *
 * Acquiring retries with exponential backoff and jitter (2 ms doubling to
 * 64 ms) until the timeout or the retry bound. A lock found in the way is
 * stale, and reaped, when its holder's pid is dead on this host
 * (kill(pid, 0) gives ESRCH) or it is older than stale_ms (by its time
 * field, else its mtime). Reaping is serialised by a second short-lived
 * O_EXCL file, .name.lock.reap: the reaper re-reads the lock while holding
 * it and unlinks only a lock still judged stale, so two waiters that both saw
 * the same dead lock cannot unlink a fresh one taken in between. A .reap file
 * older than 10 s (a reaper that crashed) is removed by the next waiter.
 * Limits, stated rather than hidden: a holder must finish well within
 * stale_ms (our writes take milliseconds); pid liveness is judged only for
 * locks written on this host name.
 *
 * Everything is asynchronous on the loop; callbacks run exactly once, never
 * from inside the starting call. Functions return 0 or a negative code. */
#ifndef RINGBANK_LOCK_H
#define RINGBANK_LOCK_H

#include <stddef.h>
#include <stdint.h>

#include "ringbank/fs.h"

struct rb_lock;

struct rb_lock_opts {
	uint64_t timeout_ms; /* give up with -RB_E_LOCKED after this (default 5000) */
	uint64_t stale_ms;   /* a lock older than this is reaped (default 60000) */
	unsigned max_tries;  /* attempts before -RB_E_LOCKED (default 1000) */
};

/* Acquires the lock of target (a file path from rb_fs_resolve; the file
 * itself need not exist, its directory must). opts may be NULL (defaults).
 * cb runs once from the loop:
 *   res 0, lk held: the caller must rb_lock_release(lk) on every path;
 *   res < 0, lk NULL: -RB_E_LOCKED (timed out; holder then describes the
 *   last holder seen, e.g. "pid 42 on host a, 1.2 s old", else holder is
 *   NULL), -ENOENT (no such directory), -RB_E_OUTSIDE, -RB_E_BAD_NAME,
 *   -ENAMETOOLONG, -ECANCELED, another -errno.
 * *out (may be NULL) gets a handle for rb_lock_cancel, valid until cb ran. */
int rb_lock_acquire(struct rb_fs *fs, const struct rb_path *target, const struct rb_lock_opts *opts,
		    void (*cb)(void *ctx, int res, struct rb_lock *lk, const char *holder), void *ctx,
		    struct rb_lock **out);
/* Abandons an acquisition in progress: cb still runs once, with -ECANCELED,
 * and nothing is left held (a lock file already created is unlinked first).
 * Must not be called after cb has run. */
void rb_lock_cancel(struct rb_lock *lk);
/* Releases a held lock: unlinks its file (beneath the root) and frees lk.
 * cb (may be NULL) runs once from the loop with 0 or the unlink's -errno. */
void rb_lock_release(struct rb_lock *lk, void (*cb)(void *ctx, int res), void *ctx);

/* Lock-file path of target ("dir/.name.lock"): 0, -RB_E_BAD_NAME (the root
 * itself) or -ENAMETOOLONG. out is a copy of target with rel/abs replaced. */
int rb_lock_path(const struct rb_path *target, struct rb_path *out);

/* ---- content versions ----------------------------------------------------------
 * A file's version is the lowercase hex SHA-256 of its bytes (64 chars): the
 * reading tools return it as structuredContent.version and the writing tools
 * take it back as expectedVersion; a client can compute it itself. A content
 * hash rather than size+mtime because mtime advances by timer ticks (a few
 * ms), so two same-size writes inside one tick would look unchanged. */
#define RB_VERSION_LEN 65 /* 64 hex digits + NUL */
void rb_content_version(const void *data, size_t len, char out[RB_VERSION_LEN]);

#endif
