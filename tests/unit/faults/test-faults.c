/* Description: fault injection at the io interface, SQLite-style. For each
 * fs operation (read_file, read_range, write_atomic over a file and creating
 * one, mkdir -p, rename, list_dir, walk) and then each writing or reading
 * tool through rb_call (read_text_file, read_text_file's ranged tail of a
 * file over the whole-read limit, write_file, edit_file, memory_bank_write,
 * memory_bank_update, validate_memory_bank on a small bank), N walks from 1
 * upward with rb_io_fault_set(io, RB_IO_NOP, N, 0, err) for each err in
 * EIO, ENOSPC, EINTR, EAGAIN, ENOMEM, EMFILE, ECANCELED and a short
 * transfer, until the operation completes without reaching the fault.
 * After every injected failure: the callback ran exactly once, with an
 * error that names the cause (or success: a short transfer that was
 * continued, a failure after the commit point, a retried EINTR/EAGAIN); each
 * target holds exactly its old or its new content (the new one on
 * success); no temp or lock file is left anywhere; the fd count is back to
 * its baseline; the cap is idle; and the same operation then succeeds
 * without faults. Both backends. Prints the number of faults injected. */
#include "faults_t.h"

static uint64_t faults_total, successes_after_fault;
static int verbose;

/* One operation under test. setup() puts the files in their "old" state;
 * run() starts the operation, runs the loop until its callback and returns
 * its result (for tools: 0 or -1 for isError, with the text in msg);
 * check() asserts the on-disk state for that result. */
struct fcase {
	const char *name;
	void (*setup)(struct env *e);
	int (*run)(struct env *e, char *msg, size_t msglen);
	void (*check)(struct env *e, int res);
	bool tool;
};

/* ---- data --------------------------------------------------------------------- */

#define BIG (200 * 1024)
static char big_old[BIG], big_new[BIG + 7777];
static const char small_old[] = "# Old\n\nalpha\nbeta\ngamma\n";
static const char small_new[] = "# New\n\nsomething else entirely, longer than the old text\n";

static void put(struct env *e, const char *rel, const void *data, size_t len)
{
	t_write_file(e->dir, rel, data, len);
}

static void rm_rel(struct env *e, const char *rel)
{
	char p[4096];
	env_path(e, rel, p, sizeof p);
	if (unlink(p) < 0 && errno == EISDIR)
		rmdir(p);
}

static void mkdir_rel(struct env *e, const char *rel)
{
	char p[4096];
	env_path(e, rel, p, sizeof p);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		T_FAIL("mkdir %s: %s", p, strerror(errno));
}

static bool is_dir(struct env *e, const char *rel)
{
	char p[4096];
	struct stat sb;
	env_path(e, rel, p, sizeof p);
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* ---- fs: read_file ------------------------------------------------------------ */

static void read_setup(struct env *e)
{
	put(e, "r.md", big_old, BIG);
}

static char *read_got;
static size_t read_len;

static int read_run(struct env *e, char *msg, size_t msglen)
{
	struct waiter w = { 0 };
	int r = t_read(e, "r.md", 0, 0, &read_got, &read_len, &w);
	(void)msg; (void)msglen;
	return r;
}

static void read_check(struct env *e, int res)
{
	(void)e;
	if (res >= 0) {
		ASSERT_EQ(read_len, BIG);
		ASSERT(!memcmp(read_got, big_old, BIG));
	}
	free(read_got);
	read_got = NULL;
}

/* ---- fs: read_range ------------------------------------------------------------ */

#define RANGE_BACK 150000 /* the last 150000 bytes: more than one read's worth after halving */

static char *range_got;
static size_t range_len;
static uint64_t range_off;

static void range_cb(void *ctx, int res, struct rb_fs_range *r)
{
	struct waiter *w = ctx;
	w->res = res;
	if (res >= 0) {
		range_got = r->data;
		r->data = NULL;
		range_len = r->len;
		range_off = r->off;
	}
	w->done = true;
}

static int range_run(struct env *e, char *msg, size_t msglen)
{
	struct waiter w = { 0 };
	struct rb_path p = env_resolve(e, "r.md");
	int r = rb_fs_read_range(e->fs, &p, RANGE_BACK, RANGE_BACK, RB_FS_RANGE_FROM_END, RB_CAP_INTERACTIVE, range_cb,
				 &w, NULL);
	(void)msg; (void)msglen;
	if (r < 0)
		return r;
	t_run_until(e->loop, &w.done);
	return w.res;
}

static void range_check(struct env *e, int res)
{
	(void)e;
	if (res >= 0) {
		ASSERT_EQ(range_off, BIG - RANGE_BACK);
		ASSERT_EQ(range_len, RANGE_BACK);
		ASSERT(!memcmp(range_got, big_old + BIG - RANGE_BACK, RANGE_BACK));
	}
	free(range_got);
	range_got = NULL;
}

/* ---- fs: write_atomic over an existing file and creating one ------------------- */

static void write_setup(struct env *e)
{
	put(e, "w.md", big_old, BIG);
}

static int write_run(struct env *e, char *msg, size_t msglen)
{
	(void)msg; (void)msglen;
	return t_write(e, "w.md", big_new, sizeof big_new, 0);
}

static void write_check(struct env *e, int res)
{
	int c = t_which(e, "w.md", big_old, BIG, big_new, sizeof big_new);
	if (res == 0)
		ASSERT_EQ(c, 2);
	else if (c != 1 && c != 2)
		T_FAIL("w.md is neither old nor new (%d)", c);
}

static void create_setup(struct env *e)
{
	rm_rel(e, "c.md");
}

static int create_run(struct env *e, char *msg, size_t msglen)
{
	(void)msg; (void)msglen;
	return t_write(e, "c.md", small_new, strlen(small_new), RB_FS_WRITE_CREATE_ONLY);
}

static void create_check(struct env *e, int res)
{
	int c = t_which(e, "c.md", NULL, 0, small_new, strlen(small_new));
	if (res == 0)
		ASSERT_EQ(c, 2);
	else if (c != 0 && c != 2)
		T_FAIL("c.md is neither missing nor new (%d)", c);
}

/* ---- fs: mkdir -p --------------------------------------------------------------- */

static void mkdir_setup(struct env *e)
{
	rm_rel(e, "m/a/b");
	rm_rel(e, "m/a");
	rm_rel(e, "m");
}

static int mkdir_run(struct env *e, char *msg, size_t msglen)
{
	(void)msg; (void)msglen;
	return t_mkdir(e, "m/a/b", true);
}

static void mkdir_check(struct env *e, int res)
{
	/* A failed mkdir -p may leave some of the parents, like mkdir(1). */
	if (res == 0)
		ASSERT(is_dir(e, "m/a/b"));
}

/* ---- fs: rename ----------------------------------------------------------------- */

static void rename_setup(struct env *e)
{
	rm_rel(e, "dst.md");
	put(e, "src.md", small_old, strlen(small_old));
}

static int rename_run(struct env *e, char *msg, size_t msglen)
{
	(void)msg; (void)msglen;
	return t_rename(e, "src.md", "dst.md", true);
}

static void rename_check(struct env *e, int res)
{
	int s = t_which(e, "src.md", small_old, strlen(small_old), NULL, 0);
	int d = t_which(e, "dst.md", small_old, strlen(small_old), NULL, 0);
	if (res == 0)
		ASSERT(s == 0 && d == 1);
	else if (!((s == 1 && d == 0) || (s == 0 && d == 1)))
		T_FAIL("rename left src %d dst %d", s, d);
}

/* ---- fs: list_dir with stat ------------------------------------------------------ */

#define NLIST 6
static void list_setup(struct env *e)
{
	char rel[64];
	mkdir_rel(e, "l");
	for (int i = 0; i < NLIST; i++) {
		snprintf(rel, sizeof rel, "l/f%d.md", i);
		put(e, rel, "x", 1);
	}
}

static struct waiter list_w;
static int list_run(struct env *e, char *msg, size_t msglen)
{
	(void)msg; (void)msglen;
	return t_list(e, "l", true, 0, &list_w);
}

static void list_check(struct env *e, int res)
{
	(void)e;
	if (res >= 0) {
		unsigned seen = 0;
		ASSERT_EQ(list_w.n, NLIST);
		for (size_t i = 0; i < list_w.n; i++) {
			int k;
			ASSERT_EQ(sscanf(list_w.ents[i].name, "f%d.md", &k), 1);
			ASSERT(k >= 0 && k < NLIST && !(seen & (1u << k)));
			seen |= 1u << k;
			/* One entry's failed statx is reported in the entry. */
			if (list_w.ents[i].stat_res < 0)
				ASSERT(list_w.ents[i].stat_res != 0);
		}
	}
	free_list(&list_w);
}

/* ---- fs: walk --------------------------------------------------------------------- */

#define WALK_DIRS 3
#define WALK_FILES 4
static void walk_setup(struct env *e)
{
	char rel[64];
	mkdir_rel(e, "t");
	for (int d = 0; d < WALK_DIRS; d++) {
		snprintf(rel, sizeof rel, "t/d%d", d);
		mkdir_rel(e, rel);
		for (int f = 0; f < WALK_FILES; f++) {
			snprintf(rel, sizeof rel, "t/d%d/f%d.md", d, f);
			put(e, rel, "y", 1);
		}
	}
}

struct walk_seen {
	unsigned dirs, files[WALK_DIRS];
	int errs;
	volatile bool done;
	int res;
};
static struct walk_seen ws;

static int walk_entry(void *ctx, const struct rb_walk_entry *en)
{
	struct walk_seen *s = ctx;
	int d, f;
	if (en->err)
		s->errs++;
	if (en->depth == 0) {
		/* The start itself, reported only when it could not be read. */
		if (!en->err)
			T_FAIL("walk: depth-0 entry \"%s\" without an error", en->rel);
	} else if (en->depth == 1) {
		ASSERT_EQ(sscanf(en->rel, "d%d", &d), 1);
		/* A directory that cannot be opened or read after it was
		 * reported is reported again with err set (walk.c). */
		if (!(d >= 0 && d < WALK_DIRS && (!(s->dirs & (1u << d)) || en->err)))
			T_FAIL("walk: entry %s (depth 1, err %d) again or unexpected", en->rel, en->err);
		s->dirs |= 1u << d;
	} else {
		ASSERT_EQ(en->depth, 2);
		ASSERT_EQ(sscanf(en->rel, "d%d/f%d.md", &d, &f), 2);
		ASSERT(d >= 0 && d < WALK_DIRS && f >= 0 && f < WALK_FILES && !(s->files[d] & (1u << f)));
		s->files[d] |= 1u << f;
	}
	return 0;
}

static void walk_done(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct walk_seen *s = ctx;
	(void)st;
	ASSERT(!s->done);
	s->res = res;
	s->done = true;
}

static int walk_run(struct env *e, char *msg, size_t msglen)
{
	struct rb_walk_opts o = { .stat_files = true, .cls = RB_CAP_BULK };
	struct rb_path p = env_resolve(e, "t");
	(void)msg; (void)msglen;
	memset(&ws, 0, sizeof ws);
	ASSERT_EQ(rb_fs_walk(e->fs, &p, &o, walk_entry, walk_done, &ws, NULL), 0);
	ASSERT(!ws.done);
	t_run_until(e->loop, &ws.done);
	return ws.res;
}

static void walk_check(struct env *e, int res)
{
	(void)e;
	if (res == 0 && !ws.errs) {
		/* Nothing reported failing: everything was seen. */
		ASSERT_EQ(ws.dirs, (1u << WALK_DIRS) - 1);
		for (int d = 0; d < WALK_DIRS; d++)
			ASSERT_EQ(ws.files[d], (1u << WALK_FILES) - 1);
	}
}

/* ---- tools ---------------------------------------------------------------------- */

static struct t_tool_res tr;

static int tool_result(const char *tool, char *msg, size_t msglen)
{
	snprintf(msg, msglen, "%s", tr.text);
	if (tr.is_error) {
		/* A clear sentence: not empty, no raw code, no "(null)". */
		if (!tr.text[0] || strstr(tr.text, "(null)") || strstr(tr.text, "-100000") ||
		    strstr(tr.text, "Unknown error") || strstr(tr.text, "unknown error"))
			T_FAIL("%s: unclear error: \"%s\"", tool, tr.text);
		return -1;
	}
	return 0;
}

static void rtf_setup(struct env *e)
{
	mkdir_rel(e, "notes");
	put(e, "notes/a.md", big_old, BIG);
}

static int rtf_run(struct env *e, char *msg, size_t msglen)
{
	t_tool(e, "read_text_file", "{\"path\":\"notes/a.md\"}", &tr);
	return tool_result("read_text_file", msg, msglen);
}

static void rtf_check(struct env *e, int res)
{
	(void)e;
	/* The text block holds the file (truncated in the copy kept here). */
	if (res == 0)
		ASSERT(!strncmp(tr.text, big_old, sizeof(tr.text) - 1));
}

/* A tail of a file over the 8 MiB whole-read limit of head/tail: the whole
 * read stops at its statx, then ranges from the end are read. */
#define HUGE_SIZE (8u * 1024 * 1024 + 4096)
static const char huge_end[] = "line one\r\nline two\r\nthe last line";

static void rtf_huge_setup(struct env *e)
{
	char p[4096];
	struct stat sb;
	mkdir_rel(e, "notes");
	env_path(e, "notes/huge.log", p, sizeof p);
	if (stat(p, &sb) < 0 || sb.st_size != (off_t)HUGE_SIZE) {
		/* Written once: the runs only read it. */
		char *b = malloc(HUGE_SIZE);
		ASSERT(b != NULL);
		fill_pattern(b, HUGE_SIZE, 5);
		for (size_t i = 80; i < HUGE_SIZE; i += 81)
			b[i] = '\n';
		memcpy(b + HUGE_SIZE - strlen(huge_end), huge_end, strlen(huge_end));
		put(e, "notes/huge.log", b, HUGE_SIZE);
		free(b);
	}
}

static int rtf_huge_run(struct env *e, char *msg, size_t msglen)
{
	t_tool(e, "read_text_file", "{\"path\":\"notes/huge.log\",\"tail\":2}", &tr);
	return tool_result("read_text_file", msg, msglen);
}

static void rtf_huge_check(struct env *e, int res)
{
	(void)e;
	if (res == 0) {
		ASSERT_STREQ(tr.text, "line two\nthe last line");
		ASSERT_EQ(t_tool_num(&tr, "size"), HUGE_SIZE);
	}
}

static char wf_json[1024];
static void wf_setup(struct env *e)
{
	mkdir_rel(e, "notes");
	put(e, "notes/w.md", small_old, strlen(small_old));
}

static int wf_run(struct env *e, char *msg, size_t msglen)
{
	t_tool(e, "write_file", wf_json, &tr);
	return tool_result("write_file", msg, msglen);
}

static void wf_check(struct env *e, int res)
{
	int c = t_which(e, "notes/w.md", small_old, strlen(small_old), small_new, strlen(small_new));
	if (res == 0)
		ASSERT_EQ(c, 2);
	else if (c != 1 && c != 2)
		T_FAIL("notes/w.md torn (%d)", c);
}

static const char edit_old[] = "# E\n\nalpha\nbeta\ngamma\n";
static const char edit_new[] = "# E\n\nalpha\nBETA!\ngamma\n";
static void ef_setup(struct env *e)
{
	mkdir_rel(e, "notes");
	put(e, "notes/e.md", edit_old, strlen(edit_old));
}

static int ef_run(struct env *e, char *msg, size_t msglen)
{
	t_tool(e, "edit_file", "{\"path\":\"notes/e.md\",\"edits\":[{\"oldText\":\"beta\",\"newText\":\"BETA!\"}]}", &tr);
	return tool_result("edit_file", msg, msglen);
}

static void ef_check(struct env *e, int res)
{
	int c = t_which(e, "notes/e.md", edit_old, strlen(edit_old), edit_new, strlen(edit_new));
	if (res == 0)
		ASSERT_EQ(c, 2);
	else if (c != 1 && c != 2)
		T_FAIL("notes/e.md torn (%d)", c);
}

static void mbw_setup(struct env *e)
{
	mkdir_rel(e, "proj");
	rm_rel(e, "proj/new.md");
}

static int mbw_run(struct env *e, char *msg, size_t msglen)
{
	t_tool(e, "memory_bank_write",
	       "{\"projectName\":\"proj\",\"fileName\":\"new.md\",\"content\":\"# New\\n\\nsomething else entirely, longer than the old text\\n\"}",
	       &tr);
	return tool_result("memory_bank_write", msg, msglen);
}

static void mbw_check(struct env *e, int res)
{
	int c = t_which(e, "proj/new.md", NULL, 0, small_new, strlen(small_new));
	if (res == 0)
		ASSERT_EQ(c, 2);
	else if (c != 0 && c != 2)
		T_FAIL("proj/new.md torn (%d)", c);
}

static void mbu_setup(struct env *e)
{
	mkdir_rel(e, "proj");
	put(e, "proj/u.md", small_old, strlen(small_old));
}

static int mbu_run(struct env *e, char *msg, size_t msglen)
{
	t_tool(e, "memory_bank_update",
	       "{\"projectName\":\"proj\",\"fileName\":\"u.md\",\"content\":\"# New\\n\\nsomething else entirely, longer than the old text\\n\"}",
	       &tr);
	return tool_result("memory_bank_update", msg, msglen);
}

static void mbu_check(struct env *e, int res)
{
	int c = t_which(e, "proj/u.md", small_old, strlen(small_old), small_new, strlen(small_new));
	if (res == 0)
		ASSERT_EQ(c, 2);
	else if (c != 1 && c != 2)
		T_FAIL("proj/u.md torn (%d)", c);
}

static void val_setup(struct env *e)
{
	mkdir_rel(e, "bank");
	mkdir_rel(e, "bank/sub");
	put(e, "bank/projectbrief.md", "# Brief\n\nSee [ctx](activeContext.md#now).\n", 43);
	put(e, "bank/activeContext.md", "# Active\n\n## Now\n\ntext\n", 23);
	put(e, "bank/progress.md", "# Progress\n\n### skipped\n", 24);
	put(e, "bank/sub/x.md", "# X\n\n[up](../projectbrief.md)\n", 30);
	put(e, "bank/sub/bad.md", "no title\n", 9);
}

static int val_run(struct env *e, char *msg, size_t msglen)
{
	t_tool(e, "validate_memory_bank", "{\"path\":\"bank\"}", &tr);
	return tool_result("validate_memory_bank", msg, msglen);
}

static void val_check(struct env *e, int res)
{
	(void)e; (void)res; /* read-only: the driver's checks are the point */
}

static const struct fcase cases[] = {
	{ "read_file", read_setup, read_run, read_check, false },
	{ "read_range", read_setup, range_run, range_check, false },
	{ "write_atomic", write_setup, write_run, write_check, false },
	{ "write_atomic(create)", create_setup, create_run, create_check, false },
	{ "mkdir -p", mkdir_setup, mkdir_run, mkdir_check, false },
	{ "rename", rename_setup, rename_run, rename_check, false },
	{ "list_dir", list_setup, list_run, list_check, false },
	{ "walk", walk_setup, walk_run, walk_check, false },
	{ "read_text_file", rtf_setup, rtf_run, rtf_check, true },
	{ "read_text_file(ranged)", rtf_huge_setup, rtf_huge_run, rtf_huge_check, true },
	{ "write_file", wf_setup, wf_run, wf_check, true },
	{ "edit_file", ef_setup, ef_run, ef_check, true },
	{ "memory_bank_write", mbw_setup, mbw_run, mbw_check, true },
	{ "memory_bank_update", mbu_setup, mbu_run, mbu_check, true },
	{ "validate_memory_bank", val_setup, val_run, val_check, true },
};

/* ---- the driver ------------------------------------------------------------------ */

/* src/fs/read.c takes -EAGAIN from an open or read as the answer of a fifo
 * (it opens O_NONBLOCK) and reports "not a regular file". */
static bool eagain_fifo(int err, int res)
{
	return err == -EAGAIN && res == -RB_E_NOT_REGULAR;
}

static void drive(struct env *e, const struct fcase *fc)
{
	char msg[1024];
	uint64_t n, injected = 0;
	size_t ei;

	for (ei = 0; ei < T_NERRS; ei++) {
		int err = t_errs[ei];
		for (n = 1;; n++) {
			int fd_base, res;
			uint64_t hits;

			fc->setup(e);
			t_settle(e);
			fd_base = t_fd_count();
			hits = rb_io_fault_count(e->io);
			rb_io_fault_set(e->io, RB_IO_NOP, n, 0, err);
			res = fc->run(e, msg, sizeof msg);
			rb_io_fault_set(e->io, RB_IO_NOP, 0, 0, 0);
			t_settle(e);
			if (rb_io_fault_count(e->io) == hits) {
				/* The operation ended before its Nth request: a clean run. */
				if (res < 0)
					T_FAIL("%s on %s: fails without a fault: %d %s", fc->name, kname(e->kind), res,
					       fc->tool ? msg : rb_strerror(res));
				fc->check(e, res);
				break;
			}
			injected++;
			if (verbose)
				fprintf(stderr, "%s/%s/%s n=%llu -> %d %.*s\n", kname(e->kind), fc->name, t_errname(err),
					(unsigned long long)n, res, (int)strcspn(fc->tool ? msg : "", "\n"),
					fc->tool ? msg : (res < 0 ? rb_strerror(res) : ""));
			if (res >= 0)
				successes_after_fault++;
			else if (!fc->tool) {
				/* A clear code: the injected one for a hard error (the fs passes
				 * errno through), never the short-transfer marker. */
				ASSERT(res != RB_IO_FAULT_SHORT);
				if (err != RB_IO_FAULT_SHORT && res != err && res != -ECANCELED && !eagain_fifo(err, res))
					T_FAIL("%s on %s, %s at request %llu: got %d (%s)", fc->name, kname(e->kind),
					       t_errname(err), (unsigned long long)n, res, rb_strerror(res));
			}
			/* A short transfer is continued, never an error. */
			if (err == RB_IO_FAULT_SHORT && res < 0)
				T_FAIL("%s on %s: a short transfer at request %llu failed it: %d %s", fc->name,
				       kname(e->kind), (unsigned long long)n, res, fc->tool ? msg : rb_strerror(res));
			fc->check(e, res);
			t_no_leftovers(e->dir, fc->name);
			env_check_idle(e);
			if (t_fd_count() != fd_base)
				T_FAIL("%s on %s, %s at request %llu: %d fds open, %d before", fc->name, kname(e->kind),
				       t_errname(err), (unsigned long long)n, t_fd_count(), fd_base);
			/* And the same operation then works. */
			fc->setup(e);
			res = fc->run(e, msg, sizeof msg);
			t_settle(e);
			if (res < 0)
				T_FAIL("%s on %s after %s at request %llu: the next run fails: %d %s", fc->name,
				       kname(e->kind), t_errname(err), (unsigned long long)n, res,
				       fc->tool ? msg : rb_strerror(res));
			fc->check(e, res);
			t_no_leftovers(e->dir, fc->name);
			ASSERT_EQ(t_fd_count(), fd_base);
			if (n > 2000)
				T_FAIL("%s: more than 2000 requests?", fc->name);
		}
	}
	/* Every read and write short (each halved, again and again): the
	 * operation still completes with the right bytes. */
	{
		uint64_t hits;
		int fd_base, res;
		fc->setup(e);
		t_settle(e);
		fd_base = t_fd_count();
		hits = rb_io_fault_count(e->io);
		rb_io_fault_set(e->io, RB_IO_NOP, 1, 1, RB_IO_FAULT_SHORT);
		res = fc->run(e, msg, sizeof msg);
		rb_io_fault_set(e->io, RB_IO_NOP, 0, 0, 0);
		t_settle(e);
		injected += rb_io_fault_count(e->io) - hits;
		if (res < 0)
			T_FAIL("%s on %s: every transfer short: %d %s", fc->name, kname(e->kind), res,
			       fc->tool ? msg : rb_strerror(res));
		fc->check(e, res);
		t_no_leftovers(e->dir, fc->name);
		ASSERT_EQ(t_fd_count(), fd_base);
	}
	/* Every operation issues requests: at least one fault per error hit it. */
	ASSERT_GE(injected, T_NERRS - 1);
	faults_total += injected;
	fprintf(stderr, "%-22s %-7s %5llu faults injected\n", fc->name, kname(e->kind), (unsigned long long)injected);
}

int main(void)
{
	size_t i;

	t_prefer_tmpfs();
	verbose = getenv("RB_TEST_VERBOSE") != NULL;
	fill_pattern(big_old, BIG, 1);
	fill_pattern(big_new, sizeof big_new, 2);
	snprintf(wf_json, sizeof wf_json, "{\"path\":\"notes/w.md\",\"content\":\"%s\"}",
		 "# New\\n\\nsomething else entirely, longer than the old text\\n");
	rb_log_set_level(RB_LOG_ERROR);
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		if (!env_setup(&e, kind))
			continue;
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			drive(&e, &cases[i]);
		env_teardown(&e);
	}
	fprintf(stderr, "faults injected: %llu (%llu of them ended in success: continued or after the commit)\n",
		(unsigned long long)faults_total, (unsigned long long)successes_after_fault);
	return T_EXIT_PASS;
}
