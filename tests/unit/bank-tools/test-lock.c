/* Description: per-file lock files (lock.h) on both io backends: the lock
 * file's place and content, exclusion with a timeout naming the holder,
 * reaping of dead-pid, over-age and unreadable-old locks (and of a crashed
 * reaper's leftover), no reaping of live or foreign-host locks, cancel while
 * waiting, missing directory, refusal outside the root, a name too long for
 * ".name.lock.reap" locked under a shortened one, and mutual exclusion
 * among 16 concurrent acquirers. Every path leaves no lock file, fd or
 * permit behind. No wall-clock upper bounds: a timeout is checked to have
 * waited at least its length, and "waiting" is observed as the acquisition
 * having nothing in flight but its backoff timer, not guessed from a sleep. */
#include <sys/time.h>
#include <time.h>
#include <yyjson.h>

#include "bank_t.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool exists(struct env *e, const char *rel)
{
	char p[4096];
	env_path(e, rel, p, sizeof(p));
	return access(p, F_OK) == 0;
}

static void put_lock(struct env *e, const char *rel, const char *body)
{
	t_write_file(e->dir, rel, body, strlen(body));
}

static void age_file(struct env *e, const char *rel, int seconds)
{
	char p[4096];
	struct timeval tv[2];
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= seconds;
	tv[1] = tv[0];
	env_path(e, rel, p, sizeof(p));
	ASSERT_EQ(utimes(p, tv), 0);
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	ASSERT(pid > 0);
	waitpid(pid, NULL, 0);
	return pid;
}

static void test_basic(struct env *e)
{
	struct lw w;
	char path[4096], host[256] = "";
	size_t len = 0;
	char *body;
	yyjson_doc *d;
	yyjson_val *root;
	long long before = now_ms(), after, t;

	ASSERT_EQ(t_lock(e, "a.md", NULL, &w), 0);
	after = now_ms();
	ASSERT(exists(e, ".a.md.lock"));
	ASSERT(!exists(e, "a.md")); /* the target need not exist */
	env_path(e, ".a.md.lock", path, sizeof(path));
	body = slurp(path, &len);
	ASSERT(body != NULL);
	d = yyjson_read(body, len, 0);
	root = yyjson_doc_get_root(d);
	gethostname(host, sizeof(host) - 1);
	ASSERT_EQ(yyjson_get_int(yyjson_obj_get(root, "pid")), getpid());
	ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(root, "host")), host);
	/* The time it was taken, in ms since the epoch (both clocks are
	 * CLOCK_REALTIME truncated to ms). */
	t = (long long)yyjson_get_num(yyjson_obj_get(root, "time"));
	ASSERT_GE(t, before);
	ASSERT_LE(t, after);
	yyjson_doc_free(d);
	free(body);
	ASSERT_EQ(t_unlock(e, w.lk), 0);
	ASSERT(!exists(e, ".a.md.lock"));
}

static void test_timeout(struct env *e)
{
	struct rb_lock_opts o = { .timeout_ms = 200 };
	struct lw a, b;
	char want[64];
	uint64_t t0;

	ASSERT_EQ(t_lock(e, "b.md", NULL, &a), 0);
	t0 = rb_now_ns();
	ASSERT_EQ(t_lock(e, "b.md", &o, &b), -RB_E_LOCKED);
	/* It waited out its whole timeout (the deadline is taken after t0), and
	 * gave up: a hang would be caught by t_lock's 60 s detector. How much
	 * longer than 200 ms it took is the machine's business. */
	ASSERT_GE(b.t_done - t0, 200 * 1000000ull);
	snprintf(want, sizeof(want), "pid %d on host", (int)getpid());
	if (!strstr(b.holder, want))
		T_FAIL("holder \"%s\" does not name %s", b.holder, want);
	ASSERT(exists(e, ".b.md.lock")); /* the loser removed nothing */
	ASSERT_EQ(t_unlock(e, a.lk), 0);
	ASSERT_EQ(t_lock(e, "b.md", &o, &b), 0);
	ASSERT_EQ(t_unlock(e, b.lk), 0);
	ASSERT(!exists(e, ".b.md.lock"));
}

static void test_stale(struct env *e)
{
	struct rb_lock_opts quick = { .timeout_ms = 300 };
	char body[512], host[256] = "";
	struct lw w;

	gethostname(host, sizeof(host) - 1);
	/* Dead pid on this host: reaped at once. */
	snprintf(body, sizeof(body), "{\"pid\":%d,\"host\":\"%s\",\"time\":%lld}\n", (int)dead_pid(), host, now_ms());
	put_lock(e, ".c.md.lock", body);
	ASSERT_EQ(t_lock(e, "c.md", &quick, &w), 0);
	ASSERT_EQ(t_unlock(e, w.lk), 0);
	ASSERT(!exists(e, ".c.md.lock"));
	ASSERT(!exists(e, ".c.md.lock.reap"));

	/* Live pid (init) but older than stale_ms: reaped. */
	snprintf(body, sizeof(body), "{\"pid\":1,\"host\":\"%s\",\"time\":%lld}\n", host, now_ms() - 120000);
	put_lock(e, ".c.md.lock", body);
	ASSERT_EQ(t_lock(e, "c.md", &quick, &w), 0);
	ASSERT_EQ(t_unlock(e, w.lk), 0);

	/* Live pid, fresh: kept (timeout). */
	snprintf(body, sizeof(body), "{\"pid\":1,\"host\":\"%s\",\"time\":%lld}\n", host, now_ms());
	put_lock(e, ".c.md.lock", body);
	ASSERT_EQ(t_lock(e, "c.md", &quick, &w), -RB_E_LOCKED);
	ASSERT(exists(e, ".c.md.lock"));

	/* A dead-looking pid on another host is not judged by pid: kept. */
	snprintf(body, sizeof(body), "{\"pid\":%d,\"host\":\"elsewhere.invalid\",\"time\":%lld}\n", (int)dead_pid(),
		 now_ms());
	put_lock(e, ".c.md.lock", body);
	ASSERT_EQ(t_lock(e, "c.md", &quick, &w), -RB_E_LOCKED);
	if (!strstr(w.holder, "elsewhere.invalid"))
		T_FAIL("holder \"%s\"", w.holder);

	/* Unreadable and fresh: kept; unreadable and old (mtime): reaped. */
	put_lock(e, ".c.md.lock", "");
	ASSERT_EQ(t_lock(e, "c.md", &quick, &w), -RB_E_LOCKED);
	age_file(e, ".c.md.lock", 120);
	ASSERT_EQ(t_lock(e, "c.md", &quick, &w), 0);
	ASSERT_EQ(t_unlock(e, w.lk), 0);

	/* A crashed reaper's .reap (older than 10 s) does not block reaping forever. */
	snprintf(body, sizeof(body), "{\"pid\":%d,\"host\":\"%s\",\"time\":%lld}\n", (int)dead_pid(), host, now_ms());
	put_lock(e, ".c.md.lock", body);
	put_lock(e, ".c.md.lock.reap", "");
	age_file(e, ".c.md.lock.reap", 30);
	ASSERT_EQ(t_lock(e, "c.md", &quick, &w), 0);
	ASSERT(!exists(e, ".c.md.lock.reap"));
	ASSERT_EQ(t_unlock(e, w.lk), 0);

	/* A fresh .reap means someone is reaping: wait, and time out if it stays. */
	put_lock(e, ".c.md.lock", body);
	put_lock(e, ".c.md.lock.reap", "");
	ASSERT_EQ(t_lock(e, "c.md", &quick, &w), -RB_E_LOCKED);
	ASSERT(exists(e, ".c.md.lock.reap") && exists(e, ".c.md.lock"));
	{
		char p[4096];
		env_path(e, ".c.md.lock.reap", p, sizeof(p));
		unlink(p);
		env_path(e, ".c.md.lock", p, sizeof(p));
		unlink(p);
	}
}

static uint64_t io_submitted(struct env *e)
{
	struct rb_io_stats st;
	uint64_t n = 0;
	rb_io_get_stats(e->io, &st);
	for (int i = 0; i < RB_IO_OP_COUNT; i++)
		n += st.submitted[i];
	return n;
}

/* Runs the loop until the acquisition w, blocked by a live holder, is
 * waiting on its backoff timer: not finished, and neither an io request
 * nor an fs operation in flight (its create and its read of the holder's
 * lock file are done). This is the only state an unfinished acquisition
 * with nothing in flight can be in. */
static void run_until_waiting(struct env *e, struct lw *w)
{
	uint64_t end = rb_now_ns() + 60ull * 1000000000ull;
	struct rb_io_stats ios;
	struct rb_fs_stats fss;

	for (;;) {
		ASSERT(rb_loop_run_once(e->loop, true, 100) >= 0);
		if (w->done)
			T_FAIL("the acquisition finished (%d) instead of waiting for the holder", w->res);
		rb_io_get_stats(e->io, &ios);
		rb_fs_get_stats(e->fs, &fss);
		if (!ios.inflight && !fss.ops_inflight)
			return;
		if (rb_now_ns() > end)
			T_FAIL("hung: the acquisition never reached its backoff wait in 60 s (%u io, %llu fs ops in flight)",
			       ios.inflight, (unsigned long long)fss.ops_inflight);
	}
}

static void test_cancel(struct env *e)
{
	struct lw a, b;
	struct rb_lock *h;
	uint64_t ops;

	ASSERT_EQ(t_lock(e, "d.md", NULL, &a), 0);
	ASSERT_EQ(lock_start(e, "d.md", NULL, &b, &h), 0);
	run_until_waiting(e, &b);
	ops = io_submitted(e);
	rb_lock_cancel(h);
	ASSERT(!b.done); /* reported on a later turn, never from inside cancel */
	t_run_until(e->loop, &b.done);
	ASSERT_EQ(b.res, -ECANCELED);
	/* Cancelled in its wait: nothing was in flight to withdraw, and nothing
	 * new was started (no create, no unlink: it held nothing). */
	ASSERT_EQ(io_submitted(e), ops);
	ASSERT(exists(e, ".d.md.lock")); /* a's lock is untouched */
	ASSERT_EQ(t_unlock(e, a.lk), 0);

	/* Cancel right after starting (the create is in flight): nothing left behind. */
	ASSERT_EQ(lock_start(e, "d.md", NULL, &b, &h), 0);
	rb_lock_cancel(h);
	t_run_until(e->loop, &b.done);
	if (b.res == 0)
		T_FAIL("a cancelled acquisition reported success");
	ASSERT_EQ(b.res, -ECANCELED);
	ASSERT(!exists(e, ".d.md.lock"));
}

static void test_refusals(struct env *e)
{
	struct lw w;
	char name[300], p[4096], v[RB_VERSION_LEN], lockname[256];

	ASSERT_EQ(t_lock(e, "nodir/x.md", NULL, &w), -ENOENT);
	env_path(e, "out", p, sizeof(p));
	ASSERT_EQ(symlink("/tmp", p), 0);
	ASSERT_EQ(t_lock(e, "out/x.md", NULL, &w), -RB_E_OUTSIDE);
	/* A name too long for ".name.lock.reap" locks under a shortened name:
	 * its first 200 bytes, '~', 16 hex digits of its SHA-256 (lock.c). */
	memset(name, 'n', 252);
	name[252] = 0;
	ASSERT_EQ(t_lock(e, name, NULL, &w), 0);
	rb_content_version(name, 252, v);
	snprintf(lockname, sizeof(lockname), ".%.200s~%.16s.lock", name, v);
	ASSERT(exists(e, lockname));
	ASSERT_EQ(t_unlock(e, w.lk), 0);
	ASSERT(!exists(e, lockname));
	ASSERT_EQ(t_lock(e, ".", NULL, &w), -RB_E_BAD_NAME);
}

/* 16 acquirers in one loop: each holds the lock for ~1 ms; never two at once. */
#define NC 16
static int holders, max_holders, granted;
struct contender {
	struct env *e;
	struct lw w;
	struct rb_lock *h;
	struct rb_timer t;
	bool polled;
	volatile bool released;
};

static void released_cb(void *ctx, int res)
{
	struct contender *c = ctx;
	ASSERT_EQ(res, 0);
	c->released = true;
}

static void hold_over(struct rb_timer *t)
{
	struct contender *c = t->data;
	holders--;
	rb_lock_release(c->w.lk, released_cb, c);
}

static void test_exclusion(struct env *e)
{
	static struct contender c[NC];
	int i, done;

	holders = max_holders = granted = 0;
	memset(c, 0, sizeof(c));
	for (i = 0; i < NC; i++) {
		c[i].e = e;
		c[i].t.data = &c[i];
		ASSERT_EQ(lock_start(e, "x.md", NULL, &c[i].w, &c[i].h), 0);
	}
	do {
		ASSERT(rb_loop_run_once(e->loop, true, 50) >= 0);
		done = 0;
		for (i = 0; i < NC; i++) {
			if (c[i].w.done && !c[i].polled) {
				ASSERT_EQ(c[i].w.res, 0);
				c[i].polled = true;
				granted++;
				if (++holders > max_holders)
					max_holders = holders;
				rb_timer_start(e->loop, &c[i].t, 1, hold_over);
			}
			done += c[i].released;
		}
	} while (done < NC);
	ASSERT_EQ(granted, NC);
	ASSERT_EQ(max_holders, 1);
	ASSERT(!exists(e, ".x.md.lock"));
}

int main(void)
{
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		if (!env_setup(&e, kind))
			continue;
		fprintf(stderr, "backend %s\n", kname(kind));
		test_basic(&e);
		test_timeout(&e);
		test_stale(&e);
		test_cancel(&e);
		test_refusals(&e);
		test_exclusion(&e);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
