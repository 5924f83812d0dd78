/* lock.c: per-file lock files and content versions (lock.h).
 *
 * Acquiring is a small state machine advanced by completions:
 *
 *   CREATE   openat2(root, "dir/.name.lock", O_CREAT|O_EXCL, beneath the root)
 *     ok  -> WRITE {"pid","host","time"} -> CLOSE -> held
 *     EEXIST -> INSPECT: read the lock (fs layer: beneath the root, no follow)
 *       live  -> WAIT (backoff timer) -> CREATE
 *       stale -> REAP_CREATE "dir/.name.lock.reap" (O_EXCL)
 *                  ok -> REAP_CLOSE -> REAP_READ (judge again) -> unlink the
 *                        lock if still stale -> unlink .reap -> CREATE
 *                  EEXIST -> REAP_STAT: a .reap older than 10 s is removed
 *                        (crashed reaper), then WAIT -> CREATE
 *
 * The create and the writes go straight to rb_io (the fs layer has no
 * create-exclusive call); reads, stats and unlinks use the fs layer so they
 * resolve beneath the root. The lock's own I/O takes no cap permits: it is a
 * handful of tiny ops per write, and a writer waiting behind a bulk job for
 * permits while holding a lock would stall the other process too.
 *
 * The lock file is not fsynced: it only has to exclude live processes, and
 * after a crash it is stale anyway (dead pid, or past stale_ms after a
 * reboot). Every failure and cancel path unlinks what this acquisition
 * created (.reap first, then the lock) before the callback runs. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <nettle/sha2.h>
#include <yyjson.h>

#include "ringbank/lock.h"

#define LK_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
#define LK_BACKOFF_MIN_NS (2ull * 1000 * 1000)
#define LK_BACKOFF_MAX_NS (64ull * 1000 * 1000)
#define LK_REAP_STALE_NS (10ull * 1000 * 1000 * 1000)
#define LK_MAX_BODY 4096

enum lk_state {
	L_CREATE, L_WRITE, L_CLOSE, L_INSPECT, L_WAIT,
	L_REAP_CREATE, L_REAP_CLOSE, L_REAP_READ, L_REAP_UNLINK, L_REAP_DONE, L_REAP_STAT, L_REAP_CLEAR,
	L_UNDO_CLOSE, L_UNDO_UNLINK, L_HELD, L_RELEASE, L_FINISHED
};

struct rb_lock {
	struct rb_fs *fs;
	struct rb_loop *loop;
	struct rb_lock_opts o;
	void (*cb)(void *ctx, int res, struct rb_lock *lk, const char *holder);
	void *ctx;
	void (*rel_cb)(void *ctx, int res);
	void *rel_ctx;
	enum lk_state state;
	struct rb_io_req req;
	struct rb_fs_op *fsop;	/* fs read/stat/unlink in flight */
	bool io_busy;		/* req in flight */
	struct rb_timer timer;
	struct rb_defer defer;
	int fd;			/* lock or .reap fd while open */
	bool have_lock, have_reap, cancelled;
	int err, defer_res;
	unsigned tries;		/* acquisition attempts */
	unsigned release_tries;	/* unlink retries on release (tries counts the acquisition) */
	uint64_t rnd;		/* xorshift state for the backoff jitter */
	uint64_t deadline_ns;
	char body[320];
	size_t body_len, body_off;
	char holder[200];	/* last holder seen */
	struct rb_path lockp, reapp;
};

/* ---- content versions: SHA-256 -------------------------------------------------- */

/* Nettle's SHA-256 (Debian's nettle is built "fat": it picks the SHA-NI
 * code at run time where the CPU has it, ~1.5 us per 2 KiB here against
 * ~8 us for the portable C this replaced, which was 63% of the user CPU
 * of a small read_text_file call). */
void rb_content_version(const void *data, size_t len, char out[RB_VERSION_LEN])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t d[SHA256_DIGEST_SIZE];
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, len, data);
	sha256_digest(&c, sizeof(d), d);
	for (size_t i = 0; i < sizeof(d); i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 15];
	}
	out[2 * sizeof(d)] = '\0';
}

/* ---- paths --------------------------------------------------------------------- */

/* The longest suffix a lock file's name gets. */
#define LOCK_LONGEST_SUFFIX ".lock.reap"
/* A long name's lock files: its first LOCK_NAME_KEEP bytes, '~' and 16 hex
 * digits of the SHA-256 of the whole name, so that ".name.lock.reap" fits
 * NAME_MAX for every name a file can have (1 + 200 + 1 + 16 + 10 = 228). */
#define LOCK_NAME_KEEP 200

/* Copies target into out with the last component replaced by ".name" +
 * suffix (".name~hash" + suffix when the name is too long for that: the
 * same base for every suffix, so a lock and its reap marker pair up). */
static int sibling(const struct rb_path *target, const char *suffix, struct rb_path *out)
{
	const char *slash = strrchr(target->rel, '/');
	const char *name = slash ? slash + 1 : target->rel;
	size_t dirlen = (size_t)(name - target->rel), nlen = strlen(name);
	size_t abs_dirlen = strlen(target->abs) - nlen;
	char base[NAME_MAX + 1];
	int r;

	if (rb_fs_check_name(name) < 0)
		return -RB_E_BAD_NAME;
	if (1 + nlen + sizeof(LOCK_LONGEST_SUFFIX) - 1 <= NAME_MAX) {
		snprintf(base, sizeof(base), "%s", name);
	} else {
		char v[RB_VERSION_LEN];
		rb_content_version(name, nlen, v);
		snprintf(base, sizeof(base), "%.*s~%.16s", LOCK_NAME_KEEP, name, v);
	}
	*out = *target;
	r = snprintf(out->rel + dirlen, sizeof(out->rel) - dirlen, ".%s%s", base, suffix);
	if (r < 0 || (size_t)r >= sizeof(out->rel) - dirlen)
		return -ENAMETOOLONG;
	r = snprintf(out->abs + abs_dirlen, sizeof(out->abs) - abs_dirlen, ".%s%s", base, suffix);
	if (r < 0 || (size_t)r >= sizeof(out->abs) - abs_dirlen)
		return -ENAMETOOLONG;
	return 0;
}

int rb_lock_path(const struct rb_path *target, struct rb_path *out)
{
	return sibling(target, ".lock", out);
}

/* ---- helpers ------------------------------------------------------------------- */

static const char *host_name(void)
{
	static char host[256];

	if (!host[0] && gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	return host;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void io_done(struct rb_io_req *req);
static void cleanup(struct rb_lock *lk);
static void try_create(struct rb_lock *lk);

static int submit(struct rb_lock *lk, enum lk_state st)
{
	int r;

	lk->state = st;
	lk->io_busy = true;
	r = rb_io_submit(rb_fs_io(lk->fs), &lk->req);
	if (r < 0)
		lk->io_busy = false;
	return r;
}

static void prep(struct rb_lock *lk, enum rb_io_op op)
{
	rb_io_prep(&lk->req, op, io_done, lk);
}

static void create_excl(struct rb_lock *lk, enum lk_state st, const struct rb_path *p)
{
	int r;

	prep(lk, RB_IO_OPENAT2);
	lk->req.fd = p->dirfd;
	lk->req.path = p->rel;
	lk->req.flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
	lk->req.mode = 0644;
	lk->req.resolve = LK_RESOLVE;
	r = submit(lk, st);
	if (r < 0) {
		lk->err = r;
		cleanup(lk);
	}
}

static void close_fd(struct rb_lock *lk, enum lk_state st)
{
	int r;

	prep(lk, RB_IO_CLOSE);
	lk->req.fd = lk->fd;
	lk->fd = -1; /* closed whatever the result */
	r = submit(lk, st);
	if (r < 0) {
		/* The backend refused the request: close synchronously rather than leak. */
		close(lk->req.fd);
		if (!lk->err)
			lk->err = r;
		cleanup(lk);
	}
}

static void deliver_defer(struct rb_defer *d)
{
	struct rb_lock *lk = d->data;
	int err = lk->err;

	lk->state = L_FINISHED;
	lk->cb(lk->ctx, err, NULL, err == -RB_E_LOCKED && lk->holder[0] ? lk->holder : NULL);
	free(lk);
}

static void unlink_done(void *ctx, int res);

static void unlink_failed(struct rb_defer *d)
{
	struct rb_lock *lk = d->data;

	unlink_done(lk, lk->defer_res);
}

static void fs_unlink(struct rb_lock *lk, enum lk_state st, const struct rb_path *p)
{
	int r;

	lk->state = st;
	r = rb_fs_unlink(lk->fs, p, false, RB_CAP_INTERACTIVE, unlink_done, lk, &lk->fsop);
	if (r < 0) {
		/* Report on a later turn like a completed unlink would (release's cb
		 * must not run inside rb_lock_release). */
		lk->fsop = NULL;
		lk->defer_res = r;
		lk->defer.data = lk;
		rb_defer(lk->loop, &lk->defer, unlink_failed);
	}
}

/* Undoes what this acquisition created, then reports lk->err. */
static void cleanup(struct rb_lock *lk)
{
	if (lk->fd >= 0) {
		close_fd(lk, L_UNDO_CLOSE);
		return;
	}
	if (lk->have_reap) {
		lk->have_reap = false;
		fs_unlink(lk, L_UNDO_UNLINK, &lk->reapp);
		return;
	}
	if (lk->have_lock) {
		lk->have_lock = false;
		fs_unlink(lk, L_UNDO_UNLINK, &lk->lockp);
		return;
	}
	lk->state = L_FINISHED;
	lk->defer.data = lk;
	rb_defer(lk->loop, &lk->defer, deliver_defer);
}

static void fail(struct rb_lock *lk, int err)
{
	if (!lk->err)
		lk->err = err;
	cleanup(lk);
}

/* ---- judging a lock in the way ----------------------------------------------- */

/* Whether the lock file read as (res, f) is stale; describes its holder. */
static bool judge(struct rb_lock *lk, struct rb_fs_file *f)
{
	yyjson_doc *doc = f->len ? yyjson_read(f->data, f->len, 0) : NULL;
	yyjson_val *root = yyjson_doc_get_root(doc);
	yyjson_val *vpid = yyjson_obj_get(root, "pid"), *vhost = yyjson_obj_get(root, "host");
	yyjson_val *vtime = yyjson_obj_get(root, "time");
	int64_t born_ms, age_ms;
	const char *host = yyjson_is_str(vhost) ? yyjson_get_str(vhost) : NULL;
	long pid = yyjson_is_int(vpid) ? (long)yyjson_get_int(vpid) : 0;
	bool stale = false;

	/* An unreadable or half-written lock is judged by its mtime alone. */
	if (yyjson_is_num(vtime))
		born_ms = (int64_t)yyjson_get_num(vtime);
	else if (f->have_stx)
		born_ms = f->stx.stx_mtime.tv_sec * 1000 + f->stx.stx_mtime.tv_nsec / 1000000;
	else
		born_ms = now_ms();
	age_ms = now_ms() - born_ms;
	if (age_ms > 0 && (uint64_t)age_ms > lk->o.stale_ms)
		stale = true;
	if (pid > 0 && host && !strcmp(host, host_name()) && pid != (long)getpid() &&
	    kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		stale = true;
	if (pid > 0)
		snprintf(lk->holder, sizeof(lk->holder), "pid %ld on host %.64s, %.1f s old%s", pid,
			 host ? host : "?", (double)(age_ms < 0 ? 0 : age_ms) / 1000.0, stale ? ", stale" : "");
	else
		snprintf(lk->holder, sizeof(lk->holder), "unknown holder (unreadable lock file), %.1f s old",
			 (double)(age_ms < 0 ? 0 : age_ms) / 1000.0);
	yyjson_doc_free(doc);
	return stale;
}

/* ---- the state machine --------------------------------------------------------- */

static void timer_fired(struct rb_timer *t)
{
	try_create(t->data);
}

static void wait_and_retry(struct rb_lock *lk)
{
	uint64_t now = rb_now_ns(), delay;
	unsigned shift = lk->tries < 6 ? lk->tries : 5;

	if (lk->cancelled) {
		fail(lk, -ECANCELED);
		return;
	}
	if (lk->tries >= lk->o.max_tries || now >= lk->deadline_ns) {
		fail(lk, -RB_E_LOCKED);
		return;
	}
	delay = LK_BACKOFF_MIN_NS << shift;
	if (delay > LK_BACKOFF_MAX_NS)
		delay = LK_BACKOFF_MAX_NS;
	/* Jitter in [delay/2, 3*delay/2): two processes that collided once
	 * should not collide again on the same schedule. */
	lk->rnd ^= lk->rnd << 13;
	lk->rnd ^= lk->rnd >> 7;
	lk->rnd ^= lk->rnd << 17;
	delay = delay / 2 + lk->rnd % delay;
	if (now + delay > lk->deadline_ns)
		delay = lk->deadline_ns - now;
	lk->state = L_WAIT;
	lk->timer.data = lk;
	rb_timer_start_ns(lk->loop, &lk->timer, delay, timer_fired);
}

static void try_create(struct rb_lock *lk)
{
	if (lk->cancelled) {
		fail(lk, -ECANCELED);
		return;
	}
	lk->tries++;
	create_excl(lk, L_CREATE, &lk->lockp);
}

static void read_done(void *ctx, int res, struct rb_fs_file *f)
{
	struct rb_lock *lk = ctx;
	bool stale;

	lk->fsop = NULL;
	if (lk->cancelled) {
		fail(lk, -ECANCELED);
		return;
	}
	if (res == -ENOENT) {
		/* Released (or reaped) meanwhile: retry at once. */
		if (lk->state == L_REAP_READ) {
			lk->have_reap = false;
			fs_unlink(lk, L_REAP_DONE, &lk->reapp);
		} else if (lk->tries >= lk->o.max_tries) {
			fail(lk, -RB_E_LOCKED);
		} else {
			try_create(lk);
		}
		return;
	}
	if (res < 0 && res != -RB_E_TOO_LARGE) {
		/* A directory or fifo in the lock's place will never go away by waiting. */
		fail(lk, res);
		return;
	}
	if (res == -RB_E_TOO_LARGE) {
		struct rb_fs_file none = { 0 };
		stale = judge(lk, &none);
	} else {
		stale = judge(lk, f);
	}
	if (lk->state == L_INSPECT) {
		if (stale)
			create_excl(lk, L_REAP_CREATE, &lk->reapp);
		else
			wait_and_retry(lk);
		return;
	}
	/* L_REAP_READ: we hold .reap, so no other reaper runs; the judgement is fresh. */
	if (stale) {
		rb_log(RB_LOG_NOTICE, "%s: reaping a stale lock (%s)", lk->lockp.abs, lk->holder);
		fs_unlink(lk, L_REAP_UNLINK, &lk->lockp);
	} else {
		lk->have_reap = false;
		fs_unlink(lk, L_REAP_DONE, &lk->reapp);
	}
}

static void stat_done(void *ctx, int res, const struct statx *stx)
{
	struct rb_lock *lk = ctx;
	struct timespec ts;
	int64_t now_ns, born_ns;

	lk->fsop = NULL;
	if (lk->cancelled) {
		fail(lk, -ECANCELED);
		return;
	}
	if (res < 0) {
		wait_and_retry(lk); /* gone meanwhile, or unreadable: just wait */
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	born_ns = (int64_t)stx->stx_mtime.tv_sec * 1000000000 + stx->stx_mtime.tv_nsec;
	if (now_ns - born_ns > (int64_t)LK_REAP_STALE_NS) {
		rb_log(RB_LOG_NOTICE, "%s: removing a reaper's leftover", lk->reapp.abs);
		fs_unlink(lk, L_REAP_CLEAR, &lk->reapp);
		return;
	}
	wait_and_retry(lk);
}

static void unlink_done(void *ctx, int res)
{
	struct rb_lock *lk = ctx;

	lk->fsop = NULL;
	switch (lk->state) {
	case L_UNDO_UNLINK:
		cleanup(lk);
		return;
	case L_REAP_UNLINK:
		/* The stale lock is gone (or someone beat us to it): drop .reap. */
		lk->have_reap = false;
		fs_unlink(lk, L_REAP_DONE, &lk->reapp);
		return;
	case L_REAP_DONE:
	case L_REAP_CLEAR:
		if (lk->cancelled)
			fail(lk, -ECANCELED);
		else if (lk->tries >= lk->o.max_tries)
			fail(lk, -RB_E_LOCKED);
		else
			try_create(lk);
		return;
	case L_RELEASE:
		/* A lock file left behind blocks every writer of the file until it
		 * is stale (our own pid is alive): retry a failed unlink a few
		 * times before giving up on it (issue 8, fault injection). */
		if (res < 0 && res != -ENOENT && lk->release_tries++ < 3) {
			fs_unlink(lk, L_RELEASE, &lk->lockp);
			return;
		}
		if (res < 0 && res != -ENOENT)
			rb_log(RB_LOG_WARNING, "%s: cannot remove the lock file (%s); writers will wait until it is stale",
			       lk->lockp.abs, rb_strerror(res));
		if (lk->rel_cb)
			lk->rel_cb(lk->rel_ctx, res);
		free(lk);
		return;
	default:
		rb_log(RB_LOG_ERROR, "lock: unlink completed in state %d", (int)lk->state);
		return;
	}
}

static void write_body(struct rb_lock *lk)
{
	int r;

	prep(lk, RB_IO_WRITE);
	lk->req.fd = lk->fd;
	lk->req.buf = lk->body + lk->body_off;
	lk->req.len = lk->body_len - lk->body_off;
	lk->req.off = (int64_t)lk->body_off;
	r = submit(lk, L_WRITE);
	if (r < 0)
		fail(lk, r);
}

static void io_done(struct rb_io_req *req)
{
	struct rb_lock *lk = req->data;
	int res = (int)req->res;
	int r;

	lk->io_busy = false;
	switch (lk->state) {
	case L_CREATE:
		if (res >= 0) {
			lk->fd = res;
			lk->have_lock = true;
			if (lk->cancelled) {
				fail(lk, -ECANCELED);
				return;
			}
			lk->body_len = (size_t)snprintf(lk->body, sizeof(lk->body),
							"{\"pid\":%ld,\"host\":\"%s\",\"time\":%lld}\n",
							(long)getpid(), host_name(), (long long)now_ms());
			lk->body_off = 0;
			write_body(lk);
		} else if (res == -EEXIST) {
			if (lk->cancelled) {
				fail(lk, -ECANCELED);
				return;
			}
			lk->state = L_INSPECT;
			r = rb_fs_read_file(lk->fs, &lk->lockp, RB_FS_READ_STAT | RB_FS_NOFOLLOW, LK_MAX_BODY,
					    RB_CAP_INTERACTIVE, read_done, lk, &lk->fsop);
			if (r < 0)
				fail(lk, r);
		} else {
			fail(lk, res == -EXDEV ? -RB_E_OUTSIDE : res);
		}
		return;
	case L_WRITE:
		if (res < 0) {
			fail(lk, res);
			return;
		}
		lk->body_off += (size_t)res;
		if (res == 0) {
			fail(lk, -EIO);
			return;
		}
		if (lk->body_off < lk->body_len) {
			write_body(lk); /* short write: continue */
			return;
		}
		close_fd(lk, L_CLOSE);
		return;
	case L_CLOSE:
		if (lk->cancelled) {
			fail(lk, -ECANCELED);
			return;
		}
		/* A failed close of a file we wrote fully still leaves the lock in place. */
		lk->state = L_HELD;
		lk->cb(lk->ctx, 0, lk, NULL);
		return;
	case L_REAP_CREATE:
		if (res >= 0) {
			lk->fd = res;
			lk->have_reap = true;
			if (lk->cancelled) {
				fail(lk, -ECANCELED);
				return;
			}
			close_fd(lk, L_REAP_CLOSE);
		} else if (res == -EEXIST) {
			if (lk->cancelled) {
				fail(lk, -ECANCELED);
				return;
			}
			lk->state = L_REAP_STAT;
			r = rb_fs_stat(lk->fs, &lk->reapp, RB_FS_NOFOLLOW, RB_CAP_INTERACTIVE, stat_done, lk,
				       &lk->fsop);
			if (r < 0)
				fail(lk, r);
		} else {
			fail(lk, res == -EXDEV ? -RB_E_OUTSIDE : res);
		}
		return;
	case L_REAP_CLOSE:
		if (lk->cancelled) {
			fail(lk, -ECANCELED);
			return;
		}
		lk->state = L_REAP_READ;
		r = rb_fs_read_file(lk->fs, &lk->lockp, RB_FS_READ_STAT | RB_FS_NOFOLLOW, LK_MAX_BODY,
				    RB_CAP_INTERACTIVE, read_done, lk, &lk->fsop);
		if (r < 0)
			fail(lk, r);
		return;
	case L_UNDO_CLOSE:
		cleanup(lk);
		return;
	default:
		rb_log(RB_LOG_ERROR, "lock: io completed in state %d", (int)lk->state);
		return;
	}
}

/* ---- public ------------------------------------------------------------------- */

int rb_lock_acquire(struct rb_fs *fs, const struct rb_path *target, const struct rb_lock_opts *opts,
		    void (*cb)(void *ctx, int res, struct rb_lock *lk, const char *holder), void *ctx,
		    struct rb_lock **out)
{
	struct rb_lock *lk = calloc(1, sizeof(*lk));
	int r;

	if (!lk)
		return -ENOMEM;
	if ((r = sibling(target, ".lock", &lk->lockp)) < 0 || (r = sibling(target, ".lock.reap", &lk->reapp)) < 0) {
		free(lk);
		return r;
	}
	lk->fs = fs;
	lk->loop = rb_io_loop(rb_fs_io(fs));
	lk->o.timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : 5000;
	lk->o.stale_ms = opts && opts->stale_ms ? opts->stale_ms : 60000;
	lk->o.max_tries = opts && opts->max_tries ? opts->max_tries : 1000;
	lk->cb = cb;
	lk->ctx = ctx;
	lk->fd = -1;
	lk->deadline_ns = rb_now_ns() + lk->o.timeout_ms * 1000000ull;
	lk->rnd = (rb_now_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)lk) | 1;
	if (out)
		*out = lk;
	try_create(lk); /* completes (or fails) later: never calls cb from here */
	return 0;
}

void rb_lock_cancel(struct rb_lock *lk)
{
	if (lk->cancelled || lk->state == L_HELD || lk->state == L_FINISHED)
		return;
	lk->cancelled = true;
	if (lk->state == L_WAIT) {
		rb_timer_stop(lk->loop, &lk->timer);
		fail(lk, -ECANCELED);
	} else if (lk->io_busy) {
		/* Only creates and writes are withdrawn: a close must run, or its fd leaks. */
		if (lk->state == L_CREATE || lk->state == L_REAP_CREATE || lk->state == L_WRITE)
			rb_io_cancel(rb_fs_io(lk->fs), &lk->req);
	} else if (lk->fsop && lk->state != L_UNDO_UNLINK && lk->state != L_REAP_UNLINK &&
		   lk->state != L_REAP_DONE && lk->state != L_REAP_CLEAR) {
		/* Reads and stats may stop early; unlinks that clean up run to the end. */
		rb_fs_cancel(lk->fsop);
	}
}

void rb_lock_release(struct rb_lock *lk, void (*cb)(void *ctx, int res), void *ctx)
{
	lk->rel_cb = cb;
	lk->rel_ctx = ctx;
	lk->have_lock = false;
	fs_unlink(lk, L_RELEASE, &lk->lockp);
}
