/* Description: the state directory as other processes and accidents leave
 * it, on both backends. Corrupt records (truncated, garbage, wrong id,
 * unknown status) are reported once and renamed to <id>.json.corrupt; a
 * record of a newer format is skipped but left in place. Recovery marks
 * interrupted exactly the records whose owner is provably gone (a dead pid;
 * our own pid with another start time; a live pid whose start time differs,
 * i.e. reused) and leaves the others (another host; a live owner; ended
 * jobs). A result file without its record is reported as an orphan. */
#include <sys/wait.h>

#include "jobs_t.h"

static void put(struct jenv *j, const char *name, const char *text)
{
	t_write_file(j->state, name, text, strlen(text));
}

static char *record(struct jenv *j, const char *id, const char *status, int pid, const char *host,
		    unsigned long long start)
{
	char *s;
	if (asprintf(&s,
		     "{\"format\":\"ringbank-job/1\",\"id\":\"%s\",\"tool\":\"fake_slow\",\"origin\":\"async\","
		     "\"status\":\"%s\",\"created\":\"2025-11-25T10:30:00.000Z\",\"updated\":\"2025-11-25T10:30:00.000Z\","
		     "\"owner\":{\"pid\":%d,\"host\":\"%s\",\"boot_id\":\"%s\",\"pid_ns\":\"%s\",\"start\":%llu}}\n",
		     id, status, pid, host, j->jobs->me.boot, j->jobs->me.ns, start) < 0)
		T_FAIL("asprintf");
	return s;
}

static void put_record(struct jenv *j, const char *id, const char *status, int pid, const char *host,
		       unsigned long long start)
{
	char name[64];
	char *s = record(j, id, status, pid, host, start);
	snprintf(name, sizeof(name), "%s.json", id);
	put(j, name, s);
	free(s);
}

struct listing {
	bool done;
	size_t n, nwarn, norphans;
	unsigned interrupted;
	char warn[8][600];
	char ids[16][RB_JOB_ID_LEN + 1];
	char orphan[RB_JOB_ID_LEN + 1];
};

static void listed(void *ctx, int res, struct store_list *l)
{
	struct listing *o = ctx;
	size_t i;
	ASSERT_EQ(res, 0);
	o->done = true;
	o->n = l->n;
	o->nwarn = l->nwarnings;
	o->norphans = l->norphans;
	o->interrupted = l->interrupted;
	for (i = 0; i < l->nwarnings && i < 8; i++)
		snprintf(o->warn[i], sizeof(o->warn[i]), "%s", l->warnings[i]);
	jrec_sort_newest(l->recs, l->n);
	for (i = 0; i < l->n && i < 16; i++)
		memcpy(o->ids[i], l->recs[i].id, RB_JOB_ID_LEN + 1);
	if (l->norphans)
		memcpy(o->orphan, l->orphans[0], RB_JOB_ID_LEN + 1);
}

static void list_all(struct jenv *j, struct listing *o)
{
	memset(o, 0, sizeof(*o));
	store_load_all(j->jobs, listed, o);
	t_run_until(j->e.loop, &o->done);
	jt_settle(j);
}

static bool warned(struct listing *o, const char *id, const char *what)
{
	size_t i;
	for (i = 0; i < o->nwarn && i < 8; i++)
		if (strstr(o->warn[i], id) && strstr(o->warn[i], what))
			return true;
	return false;
}

static void check_corrupt(struct jenv *j)
{
	const char *good = "00000000000000a1", *trunc = "00000000000000a2", *garbage = "00000000000000a3";
	const char *wrongid = "00000000000000a4", *badstatus = "00000000000000a5", *newer = "00000000000000a6";
	char *full = record(j, good, "completed", 1, "elsewhere", 0), *s;
	struct listing o;
	char why[600];

	put(j, "00000000000000a1.json", full);
	full[strlen(full) / 2] = '\0';
	put(j, "00000000000000a2.json", full);
	free(full);
	put(j, "00000000000000a3.json", "\x01\x02 garbage {{{");
	s = record(j, good, "completed", 1, "elsewhere", 0); /* id a1 inside a file named a4 */
	put(j, "00000000000000a4.json", s);
	free(s);
	s = record(j, badstatus, "exploded", 1, "elsewhere", 0);
	put(j, "00000000000000a5.json", s);
	free(s);
	put(j, "00000000000000a6.json", "{\"format\":\"ringbank-job/9\",\"id\":\"00000000000000a6\"}");
	put(j, "README", "not a job");
	put(j, ".00000000000000a7.json.rb-1-1.tmp", "{");

	/* One of them asked for directly: an error naming the problem. */
	ASSERT_EQ(jt_load(j, trunc, false, NULL, why, sizeof(why)), -EBADMSG);
	ASSERT(strstr(why, "corrupt") && strstr(why, "not valid JSON") && strstr(why, "moved aside"));
	jt_settle(j);
	ASSERT(!jt_exists(j, "00000000000000a2.json") && jt_exists(j, "00000000000000a2.json.corrupt"));

	list_all(j, &o);
	ASSERT_EQ(o.n, 1);
	ASSERT_STREQ(o.ids[0], good);
	ASSERT_EQ(o.nwarn, 4);
	ASSERT(warned(&o, garbage, "corrupt"));
	ASSERT(warned(&o, wrongid, "does not match"));
	ASSERT(warned(&o, badstatus, "status"));
	ASSERT(warned(&o, newer, "another ringbank version"));
	ASSERT(!jt_exists(j, "00000000000000a3.json") && jt_exists(j, "00000000000000a3.json.corrupt"));
	ASSERT(jt_exists(j, "00000000000000a4.json.corrupt"));
	ASSERT(jt_exists(j, "00000000000000a5.json.corrupt"));
	ASSERT(jt_exists(j, "00000000000000a6.json")); /* not ours to judge */
	/* Reported once: the next listing only skips the newer one again. */
	list_all(j, &o);
	ASSERT_EQ(o.n, 1);
	ASSERT_EQ(o.nwarn, 1);
	ASSERT(warned(&o, newer, "another ringbank version"));
}

static unsigned long long start_of(int pid)
{
	char path[64], buf[1024];
	FILE *f;
	size_t n;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	ASSERT(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	{
		const char *p = strrchr(buf, ')') + 1;
		int field;
		for (field = 3; field < 22; field++) {
			while (*p == ' ')
				p++;
			while (*p && *p != ' ')
				p++;
		}
		return strtoull(p, NULL, 10);
	}
}

struct rec_done {
	bool done;
	unsigned n;
};

static void recovered(void *ctx, unsigned n)
{
	struct rec_done *d = ctx;
	d->done = true;
	d->n = n;
}

static void check_recover(struct jenv *j)
{
	const char *host = j->jobs->me.host;
	int dead, ppid = getppid();
	struct rec_done d = { 0 };
	struct jrec r;
	pid_t c = fork();

	if (c == 0)
		_exit(0);
	ASSERT(c > 0);
	ASSERT_EQ(waitpid(c, NULL, 0), c);
	dead = c;
	put_record(j, "00000000000000b1", "running", dead, host, 12345);		   /* dead pid */
	put_record(j, "00000000000000b2", "running", 4242, "another-host", 1);	   /* elsewhere */
	put_record(j, "00000000000000b3", "running", getpid(), host, 1);	   /* our pid, other start */
	put_record(j, "00000000000000b4", "completed", dead, host, 12345);	   /* ended */
	put_record(j, "00000000000000b5", "pending", ppid, host, start_of(ppid));   /* alive */
	put_record(j, "00000000000000b6", "running", ppid, host, start_of(ppid) + 1); /* pid reused */

	rb_jobs_recover(j->jobs, recovered, &d);
	t_run_until(j->e.loop, &d.done);
	jt_settle(j);
	ASSERT_EQ(d.n, 3);
	ASSERT_EQ(jt_load(j, "00000000000000b1", false, &r, NULL, 0), 0);
	ASSERT_EQ(r.status, RB_JOB_INTERRUPTED);
	ASSERT(strstr(jt_str(&r, "error"), "ended before it finished"));
	ASSERT(jt_str(&r, "completed"));
	jrec_clear(&r);
	{
		char *text = jt_file(j, "00000000000000b1.json");
		ASSERT(strstr(text, "\"status\":\"interrupted\""));
		free(text);
	}
	ASSERT_EQ(jt_load(j, "00000000000000b2", false, &r, NULL, 0), 0);
	ASSERT_EQ(r.status, RB_JOB_RUNNING);
	jrec_clear(&r);
	ASSERT_EQ(jt_load(j, "00000000000000b3", false, &r, NULL, 0), 0);
	ASSERT_EQ(r.status, RB_JOB_INTERRUPTED);
	jrec_clear(&r);
	ASSERT_EQ(jt_load(j, "00000000000000b4", false, &r, NULL, 0), 0);
	ASSERT_EQ(r.status, RB_JOB_COMPLETED);
	ASSERT(!jt_str(&r, "error"));
	jrec_clear(&r);
	ASSERT_EQ(jt_load(j, "00000000000000b5", false, &r, NULL, 0), 0);
	ASSERT_EQ(r.status, RB_JOB_PENDING);
	jrec_clear(&r);
	ASSERT_EQ(jt_load(j, "00000000000000b6", false, &r, NULL, 0), 0);
	ASSERT_EQ(r.status, RB_JOB_INTERRUPTED);
	jrec_clear(&r);
}

static void check_orphans(struct jenv *j)
{
	struct listing o;
	put(j, "00000000000000c1.result.json", "{\"content\":[]}");
	list_all(j, &o);
	ASSERT_EQ(o.norphans, 1);
	ASSERT_STREQ(o.orphan, "00000000000000c1");
}

int main(void)
{
	FOR_BOTH_BACKENDS(k) {
		struct jenv j;
		if (!jenv_setup(&j, k, NULL))
			continue;
		check_corrupt(&j);
		jenv_teardown(&j);
		ASSERT(jenv_setup(&j, k, NULL));
		check_recover(&j);
		check_orphans(&j);
		jenv_teardown(&j);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	return T_EXIT_PASS;
}
