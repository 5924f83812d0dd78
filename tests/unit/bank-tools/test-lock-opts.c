/* Description: the writers' lock settings (rb_tools_set_opts, which
 * `serve` and `call` fill from --lock-wait-ms and --lock-stale-ms) reach
 * every tool that takes a file's lock (write_file, edit_file,
 * memory_bank_update), on both io backends: with a wait of 0 a held lock
 * fails the call at once (one attempt, at most one more: counted in the io
 * stats, not timed) with a message saying how long it waited and naming the
 * option; with a few hundred ms it waits at least that long, then fails the
 * same way; a lock older than the stale limit is taken over (even with a
 * wait of 0), one younger is not; out-of-range settings are refused and
 * change nothing. The lock is held "from outside": a lock file written
 * directly, as another process would, naming pid 1 (alive) on this host.
 * Nothing is written while the lock is held, and the holder's lock file is
 * left as it was. */
#include <time.h>

#include "bank_t.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A lock on rel held by pid 1 (alive) on this host, taken age_ms ago. */
static void hold(struct env *e, const char *lock_rel, long long age_ms, char *body, size_t n)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	snprintf(body, n, "{\"pid\":1,\"host\":\"%s\",\"time\":%lld}\n", host, now_ms() - age_ms);
	t_write_file(e->dir, lock_rel, body, strlen(body));
}

static char *file_text(struct env *e, const char *rel)
{
	char p[4096];
	size_t len;

	env_path(e, rel, p, sizeof(p));
	return slurp(p, &len);
}

static bool exists(struct env *e, const char *rel)
{
	char p[4096];

	env_path(e, rel, p, sizeof(p));
	return access(p, F_OK) == 0;
}

static void set_opts(unsigned wait_ms, unsigned stale_ms)
{
	struct rb_tools_opts o = { .lock_wait_ms = wait_ms, .lock_stale_ms = stale_ms };

	ASSERT_EQ(rb_tools_set_opts(&o), 0);
}

/* The lock-timeout message: "<who>: another writer held the bank lock for
 * X.Y s (--lock-wait-ms N), so nothing was written (holder: pid 1 on host
 * ...)". Returns X.Y in tenths of a second. */
static long check_locked_msg(struct result *r, const char *who, unsigned wait_ms)
{
	char head[512], opt[64];
	const char *p;
	char *end;
	long tenths;

	if (!r->is_error)
		T_FAIL("the call succeeded under a held lock: %s", r->json);
	snprintf(head, sizeof(head), "%s: another writer held the bank lock for ", who);
	if (strncmp(r->text, head, strlen(head)))
		T_FAIL("message \"%s\" does not start with \"%s\"", r->text, head);
	p = r->text + strlen(head);
	tenths = strtol(p, &end, 10) * 10;
	if (end == p || *end != '.' || end[1] < '0' || end[1] > '9' || strncmp(end + 2, " s ", 3))
		T_FAIL("no \"X.Y s\" wait in \"%s\"", r->text);
	tenths += end[1] - '0';
	snprintf(opt, sizeof(opt), "(--lock-wait-ms %u), so nothing was written", wait_ms);
	if (!strstr(r->text, opt))
		T_FAIL("message \"%s\" does not name %s", r->text, opt);
	if (!strstr(r->text, "(holder: pid 1 on host "))
		T_FAIL("message \"%s\" does not name the holder", r->text);
	return tenths;
}

/* An attempt is a create (OPENAT2) and a read of the holder's file (one
 * READFILE, or one OPENAT2 when read step by step, or none when the fs
 * cache answers): at most two of these per attempt. */
static uint64_t lock_ops(struct env *e)
{
	struct rb_io_stats st;

	rb_io_get_stats(e->io, &st);
	return st.submitted[RB_IO_OPENAT2] + st.submitted[RB_IO_READFILE];
}

static void test_settings(void)
{
	const struct rb_tools_opts *o = rb_tools_get_opts();
	struct rb_tools_opts bad;

	ASSERT_EQ(rb_tools_set_opts(NULL), 0);
	ASSERT_EQ(o->lock_wait_ms, RB_LOCK_WAIT_MS_DEFAULT);
	ASSERT_EQ(o->lock_wait_ms, 5000);
	ASSERT_EQ(o->lock_stale_ms, RB_LOCK_STALE_MS_DEFAULT);
	ASSERT_EQ(o->lock_stale_ms, 60000);
	set_opts(0, RB_LOCK_STALE_MS_MIN);
	ASSERT_EQ(o->lock_wait_ms, 0);
	ASSERT_EQ(o->lock_stale_ms, RB_LOCK_STALE_MS_MIN);
	set_opts(RB_LOCK_WAIT_MS_MAX, RB_LOCK_STALE_MS_MAX);
	bad = (struct rb_tools_opts){ .lock_wait_ms = RB_LOCK_WAIT_MS_MAX + 1, .lock_stale_ms = 60000 };
	ASSERT_EQ(rb_tools_set_opts(&bad), -EINVAL);
	bad = (struct rb_tools_opts){ .lock_wait_ms = 5000, .lock_stale_ms = RB_LOCK_STALE_MS_MIN - 1 };
	ASSERT_EQ(rb_tools_set_opts(&bad), -EINVAL);
	bad = (struct rb_tools_opts){ .lock_wait_ms = 5000, .lock_stale_ms = RB_LOCK_STALE_MS_MAX + 1 };
	ASSERT_EQ(rb_tools_set_opts(&bad), -EINVAL);
	/* Refused: nothing changed. */
	ASSERT_EQ(o->lock_wait_ms, RB_LOCK_WAIT_MS_MAX);
	ASSERT_EQ(o->lock_stale_ms, RB_LOCK_STALE_MS_MAX);
	ASSERT_EQ(rb_tools_set_opts(NULL), 0);
	ASSERT_EQ(o->lock_wait_ms, 5000);
}

/* One writer under a held lock: fails, writes nothing, leaves the lock. */
struct writer {
	const char *tool, *args, *who;	/* who: the path the message starts with */
	const char *target, *lock;	/* files under the root */
};

static const struct writer writers[] = {
	{ "write_file", "{\"path\":\"w.md\",\"content\":\"new\"}", "w.md", "w.md", ".w.md.lock" },
	{ "edit_file", "{\"path\":\"w.md\",\"edits\":[{\"oldText\":\"old\",\"newText\":\"new\"}]}", "w.md", "w.md",
	  ".w.md.lock" },
	{ "memory_bank_update", "{\"projectName\":\"p\",\"fileName\":\"f.md\",\"content\":\"new\"}", "p/f.md",
	  "p/f.md", "p/.f.md.lock" },
};
#define NWRITERS (sizeof(writers) / sizeof(writers[0]))

static void prepare(struct env *e)
{
	char p[4096];

	env_path(e, "p", p, sizeof(p));
	if (access(p, F_OK) < 0)
		ASSERT_EQ(mkdir(p, 0755), 0);
	t_write_file(e->dir, "w.md", "old\n", 4);
	t_write_file(e->dir, "p/f.md", "old\n", 4);
}

/* Runs w under a lock held age_ms ago; returns the tenths of a second the
 * message says it waited. */
static long locked_out(struct env *e, const struct writer *w, unsigned wait_ms, long long age_ms,
		       uint64_t *ops, uint64_t *elapsed_ns)
{
	char body[512], *now;
	struct result r;
	uint64_t ops0, t0;
	long tenths;

	prepare(e);
	hold(e, w->lock, age_ms, body, sizeof(body));
	ops0 = lock_ops(e);
	t0 = rb_now_ns();
	call_tool(e, w->tool, w->args, &r);
	*elapsed_ns = rb_now_ns() - t0;
	*ops = lock_ops(e) - ops0;
	tenths = check_locked_msg(&r, w->who, wait_ms);
	now = file_text(e, w->target);
	ASSERT(now != NULL);
	ASSERT_STREQ(now, "old\n"); /* nothing written */
	free(now);
	now = file_text(e, w->lock);
	ASSERT(now != NULL);
	ASSERT_STREQ(now, body); /* the holder's lock is untouched */
	free(now);
	res_free(&r);
	return tenths;
}

static void release(struct env *e, const char *lock_rel)
{
	char p[4096];

	env_path(e, lock_rel, p, sizeof(p));
	ASSERT_EQ(unlink(p), 0);
}

static void test_wait_zero(struct env *e)
{
	uint64_t ops, ns;
	size_t i;

	set_opts(0, RB_LOCK_STALE_MS_DEFAULT);
	for (i = 0; i < NWRITERS; i++) {
		locked_out(e, &writers[i], 0, 0, &ops, &ns);
		/* At once: no more than two attempts (the default wait would make
		 * dozens in its 5 s), however slow this machine is. */
		if (ops > 4)
			T_FAIL("%s: %llu lock creates/reads with --lock-wait-ms 0 (at most 2 attempts expected)",
			       writers[i].tool, (unsigned long long)ops);
		ASSERT(ops >= 1); /* it did try */
		release(e, writers[i].lock);
	}
	/* Released: the same call goes through at once. */
	{
		struct result r;
		char *now;
		call_tool(e, "write_file", writers[0].args, &r);
		if (r.is_error)
			T_FAIL("write_file after the release: %s", r.json);
		res_free(&r);
		now = file_text(e, "w.md");
		ASSERT_STREQ(now, "new");
		free(now);
		ASSERT(!exists(e, ".w.md.lock"));
	}
}

static void test_wait_some(struct env *e)
{
	const unsigned wait_ms = 300;
	uint64_t ops, ns;
	long tenths;
	size_t i;

	set_opts(wait_ms, RB_LOCK_STALE_MS_DEFAULT);
	for (i = 0; i < NWRITERS; i += 2) { /* write_file (files.c) and memory_bank_update (projects.c) */
		tenths = locked_out(e, &writers[i], wait_ms, 0, &ops, &ns);
		/* A lower bound only: it waited at least the limit (the call's own
		 * clock, and the one its message reports). */
		ASSERT_GE(ns / 1000000, wait_ms);
		ASSERT_GE(tenths, wait_ms / 100);
		release(e, writers[i].lock);
	}
}

static void test_stale(struct env *e)
{
	const long long age_ms = 5000;
	uint64_t ops, ns;
	size_t i;

	/* 5 s old is not stale by default (60 s): refused. */
	set_opts(0, RB_LOCK_STALE_MS_DEFAULT);
	for (i = 0; i < NWRITERS; i += 2) {
		locked_out(e, &writers[i], 0, age_ms, &ops, &ns);
		release(e, writers[i].lock);
	}
	/* With --lock-stale-ms 2000 it is taken over, even without waiting. */
	set_opts(0, 2000);
	for (i = 0; i < NWRITERS; i++) {
		char body[512], *now;
		struct result r;

		prepare(e);
		hold(e, writers[i].lock, age_ms, body, sizeof(body));
		call_tool(e, writers[i].tool, writers[i].args, &r);
		if (r.is_error)
			T_FAIL("%s: a lock %lld ms old with --lock-stale-ms 2000 was not taken over: %s", writers[i].tool,
			       age_ms, r.json);
		res_free(&r);
		now = file_text(e, writers[i].target);
		ASSERT(now != NULL);
		ASSERT(!strcmp(now, "new") || !strcmp(now, "new\n"));
		free(now);
		ASSERT(!exists(e, writers[i].lock));		/* reaped, then ours released */
		{
			char reap[300];
			snprintf(reap, sizeof(reap), "%s.reap", writers[i].lock);
			ASSERT(!exists(e, reap));
		}
	}
}

int main(void)
{
	test_settings();
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		if (!env_setup(&e, kind))
			continue;
		fprintf(stderr, "backend %s\n", kname(kind));
		test_wait_zero(&e);
		test_wait_some(&e);
		test_stale(&e);
		ASSERT_EQ(rb_tools_set_opts(NULL), 0);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
