/* Description: a 10,000-file walk (100 directories x 100 files, stat_files)
 * on the uring backend runs on exactly one user thread: sampled from the
 * entry callback at several points of the walk, /proc/self/task lists one
 * thread apart from the kernel's io-wq workers (named iou-wrk-*, flagged
 * PF_IO_WORKER), which are counted and printed. Counts and bytes match what was created. The threads
 * backend is not run here by design (it is the thread pool); with io_uring
 * unavailable the test skips. */
#include "fs_t.h"

struct ctx {
	volatile bool done;
	int res;
	struct rb_walk_stats st;
	unsigned entries, samples, max_user, max_iowq;
};

/* PF_IO_WORKER in /proc/<tid>/stat's flags: an io-wq worker. Checked as
 * well as the "iou-wrk" name because a worker runs briefly under its
 * parent's name before it renames itself. */
#define PF_IO_WORKER 0x00000010u

static bool io_worker(const char *tid)
{
	char path[300], buf[1024], *p;
	unsigned long flags = 0;
	FILE *f;
	int i;
	snprintf(path, sizeof(path), "/proc/self/task/%s/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return true; /* gone already: only io-wq workers come and go here */
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	if (!p)
		return false;
	/* After ") ": state ppid pgrp session tty_nr tpgid flags */
	for (i = 0, p += 2; i < 6 && p; i++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		flags = strtoul(p, NULL, 10);
	return flags & PF_IO_WORKER;
}

static void count_threads(unsigned *user, unsigned *iowq)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	*user = *iowq = 0;
	ASSERT(d != NULL);
	while ((de = readdir(d))) {
		char path[300], comm[64] = "";
		FILE *f;
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue; /* a worker that just exited */
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		if (!strncmp(comm, "iou-wrk", 7) || io_worker(de->d_name)) {
			(*iowq)++;
		} else {
			(*user)++;
			if (getenv("RB_TEST_VERBOSE"))
				fprintf(stderr, "thread %s: %s", de->d_name, comm);
		}
	}
	closedir(d);
}

static int entry_cb(void *vctx, const struct rb_walk_entry *e)
{
	struct ctx *c = vctx;
	(void)e;
	if (++c->entries % 1000 == 0) {
		unsigned u, w;
		count_threads(&u, &w);
		c->samples++;
		if (u > c->max_user)
			c->max_user = u;
		if (w > c->max_iowq)
			c->max_iowq = w;
	}
	return 0;
}

static void done_cb(void *vctx, int res, const struct rb_walk_stats *st)
{
	struct ctx *c = vctx;
	c->res = res;
	c->st = *st;
	c->done = true;
}

int main(void)
{
	struct env e;
	struct ctx c = { 0 };
	struct rb_walk_opts o = { .stat_files = true, .cls = RB_CAP_BULK };
	struct rb_path p;
	char rel[64], data[200];
	uint64_t bytes = 0, t0;
	int d, f;

	if (!t_want_backend(RB_IO_BACKEND_URING))
		t_skip("RB_TEST_IO excludes the uring backend");
	if (!env_setup(&e, RB_IO_BACKEND_URING))
		t_skip("io_uring unavailable here");
	memset(data, 'x', sizeof(data));
	for (d = 0; d < 100; d++) {
		char path[PATH_MAX];
		snprintf(rel, sizeof(rel), "dir%03d", d);
		env_path(&e, rel, path, sizeof(path));
		ASSERT_EQ(mkdir(path, 0755), 0);
		for (f = 0; f < 100; f++) {
			size_t len = (size_t)((d * 100 + f) % 200);
			snprintf(rel, sizeof(rel), "dir%03d/note-%03d.md", d, f);
			t_write_file(e.dir, rel, data, len);
			bytes += len;
		}
	}
	p = env_resolve(&e, ".");
	t0 = rb_now_ns();
	ASSERT_EQ(rb_fs_walk(e.fs, &p, &o, entry_cb, done_cb, &c, NULL), 0);
	t_run_until(e.loop, &c.done);
	ASSERT_EQ(c.res, 0);
	ASSERT_EQ(c.st.files, 10000);
	ASSERT_EQ(c.st.dirs, 100);
	ASSERT_EQ(c.st.bytes, bytes);
	ASSERT_EQ(c.st.errors, 0);
	ASSERT_GE(c.samples, 10);
	ASSERT_EQ(c.max_user, 1);
	fprintf(stderr, "10100 entries in %.1f ms on one user thread (%u samples; up to %u io-wq workers seen; "
		"getdents: %llu calls, %.1f ms)\n", (double)(rb_now_ns() - t0) / 1e6, c.samples, c.max_iowq,
		(unsigned long long)c.st.getdents_calls, (double)c.st.getdents_ns / 1e6);
	env_teardown(&e);
	return T_EXIT_PASS;
}
