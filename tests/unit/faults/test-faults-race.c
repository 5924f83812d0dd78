/* Description: the tree changes under running operations.
 *  1. Directories removed while being walked: from the walk's own entry
 *     callback (a directory already listed but not yet opened, then the
 *     start directory itself), and by a racing child process deleting
 *     whole subtrees while the walk runs. The walk always finishes (done
 *     exactly once), reports only names that existed, reports a vanished
 *     directory as an entry with err set (never a crash or a hang), and
 *     leaves no fd or permit behind.
 *  2. A file truncated while being read: a child process truncates a
 *     4 MiB file at a random moment during rb_fs_read_file (and during
 *     read_text_file). The result is an error or exactly a prefix of the
 *     original bytes, never bytes that were not in the file.
 * Both backends, many rounds each. */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "faults_t.h"

#define NDIRS 40
#define NFILES 25

static void make_tree(struct env *e, const char *top)
{
	char rel[128], tp[4096];
	env_path(e, top, tp, sizeof tp);
	ASSERT_EQ(mkdir(tp, 0755), 0);
	for (int d = 0; d < NDIRS; d++) {
		char p[4096];
		snprintf(rel, sizeof rel, "%s/d%02d", top, d);
		env_path(e, rel, p, sizeof p);
		ASSERT_EQ(mkdir(p, 0755), 0);
		for (int f = 0; f < NFILES; f++) {
			snprintf(rel, sizeof rel, "%s/d%02d/f%02d.md", top, d, f);
			t_write_file(e->dir, rel, "# x\n", 4);
		}
	}
}

static void rm_rel_tree(struct env *e, const char *rel)
{
	char p[4096];
	env_path(e, rel, p, sizeof p);
	t_rmtree(strdup(p));
}

struct wstate {
	struct env *e;
	const char *top;
	int mode; /* 0: remove later dirs from the callback, 1: remove the start, 2: a child races */
	int entries, errs, removed;
	volatile bool done;
	int done_calls, res;
};

static int wentry(void *ctx, const struct rb_walk_entry *en)
{
	struct wstate *s = ctx;
	int d, f;
	s->entries++;
	if (en->err)
		s->errs++;
	/* Only names that were created. */
	if (en->depth == 1)
		ASSERT(sscanf(en->rel, "d%02d", &d) == 1 && d >= 0 && d < NDIRS);
	else if (en->depth == 2)
		ASSERT(sscanf(en->rel, "d%02d/f%02d.md", &d, &f) == 2 && d < NDIRS && f < NFILES);
	else
		ASSERT(en->depth == 0 && en->err);
	if (s->mode == 0 && s->entries == 1) {
		/* Remove every other directory: most are listed, none opened yet. */
		char rel[128];
		for (d = 1; d < NDIRS; d += 2) {
			snprintf(rel, sizeof rel, "%s/d%02d", s->top, d);
			rm_rel_tree(s->e, rel);
			s->removed++;
		}
	} else if (s->mode == 1 && s->entries == 3) {
		rm_rel_tree(s->e, s->top);
		s->removed++;
	}
	return 0;
}

static void wdone(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct wstate *s = ctx;
	(void)st;
	s->done_calls++;
	s->res = res;
	s->done = true;
}

static pid_t racer(struct env *e, const char *top)
{
	char base[4096];
	pid_t pid;
	env_path(e, top, base, sizeof base);
	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		/* Delete directories from the end while the walk runs. */
		struct timespec ts = { 0, 200000 };
		char p[4200];
		for (int d = NDIRS - 1; d >= 0; d--) {
			snprintf(p, sizeof p, "%s/d%02d", base, d);
			t_rmtree(strdup(p));
			nanosleep(&ts, NULL);
		}
		_exit(0);
	}
	return pid;
}

static void walk_round(struct env *e, int mode, int round, uint64_t *vanished)
{
	char top[32];
	struct wstate s = { 0 };
	struct rb_walk_opts o = { .stat_files = true, .cls = RB_CAP_BULK };
	struct rb_path p;
	int fd_base, st;
	pid_t pid = -1;

	snprintf(top, sizeof top, "w%d-%d", mode, round);
	make_tree(e, top);
	t_settle(e);
	fd_base = t_fd_count();
	s.e = e;
	s.top = top;
	s.mode = mode;
	p = env_resolve(e, top);
	ASSERT_EQ(rb_fs_walk(e->fs, &p, &o, wentry, wdone, &s, NULL), 0);
	if (mode == 2)
		pid = racer(e, top);
	t_run_until(e->loop, &s.done);
	if (pid > 0)
		ASSERT_EQ(waitpid(pid, &st, 0), pid);
	for (int i = 0; i < 3; i++)
		rb_loop_run_once(e->loop, false, 0);
	ASSERT_EQ(s.done_calls, 1);
	/* The start existed when the walk began: it finishes, not fails. */
	ASSERT(s.res == 0);
	t_settle(e);
	ASSERT_EQ(t_fd_count(), fd_base);
	if (mode == 0)
		ASSERT_GE(s.errs, 1); /* listed, then gone when opened */
	*vanished += (uint64_t)s.errs;
	rm_rel_tree(e, top);
}

/* ---- truncation during a read ------------------------------------------------- */

#define TSIZE (4 * 1024 * 1024)
static char orig[TSIZE];

static pid_t truncater(struct env *e, const char *rel, long delay_us, off_t to)
{
	char p[4096];
	pid_t pid;
	env_path(e, rel, p, sizeof p);
	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		struct timespec ts = { 0, delay_us * 1000 };
		nanosleep(&ts, NULL);
		_exit(truncate(p, to) == 0 ? 0 : 1);
	}
	return pid;
}

static void trunc_round(struct env *e, unsigned seed, uint64_t *shorter, uint64_t *errors)
{
	long delay = (long)(seed % 3000);
	off_t to = (off_t)((seed * 2654435761u) % TSIZE);
	int st, r, fd_base;
	char *data = NULL;
	size_t len = 0;
	pid_t pid;

	t_write_file(e->dir, "t.md", orig, TSIZE);
	t_settle(e);
	fd_base = t_fd_count();
	pid = truncater(e, "t.md", delay, to);
	r = t_read(e, "t.md", seed & 1 ? RB_FS_READ_STAT : 0, 0, &data, &len, NULL);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (r < 0) {
		(*errors)++;
		ASSERT(r != RB_IO_FAULT_SHORT);
	} else {
		ASSERT_LE(len, TSIZE);
		if (memcmp(data, orig, len))
			T_FAIL("%s: read %zu bytes that are not a prefix of the file", kname(e->kind), len);
		ASSERT_EQ(data[len], '\0');
		if (len < TSIZE)
			(*shorter)++;
	}
	free(data);
	t_settle(e);
	ASSERT_EQ(t_fd_count(), fd_base);
}

static void trunc_tool_round(struct env *e, unsigned seed)
{
	struct t_tool_res tr = { 0 };
	static char text[TSIZE / 8];
	char line[16];
	int st;
	pid_t pid;
	/* A text file of numbered lines; read_text_file returns it as text. */
	for (size_t i = 0; i + 8 <= sizeof text; i += 8) {
		snprintf(line, sizeof line, "%07zu\n", (i / 8) % 10000000);
		memcpy(text + i, line, 8);
	}
	t_write_file(e->dir, "tt.md", text, sizeof text);
	pid = truncater(e, "tt.md", (long)(seed % 500), (off_t)((seed * 40503u) % sizeof text));
	t_tool(e, "read_text_file", "{\"path\":\"tt.md\"}", &tr);
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	if (!tr.is_error) {
		size_t n = strlen(tr.text);
		if (strncmp(tr.text, text, n))
			T_FAIL("read_text_file during truncation: not a prefix: \"%.60s\"", tr.text);
	} else {
		ASSERT(tr.text[0] != '\0');
	}
	free(tr.structured);
	t_settle(e);
}

int main(void)
{
	uint64_t vanished = 0, shorter = 0, errors = 0;
	int rounds = getenv("RB_TEST_ROUNDS") ? atoi(getenv("RB_TEST_ROUNDS")) : 20;

	t_prefer_tmpfs();
	rb_log_set_level(RB_LOG_ERROR);
	fill_pattern(orig, TSIZE, 9);
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		if (!env_setup(&e, kind))
			continue;
		for (int i = 0; i < rounds; i++) {
			walk_round(&e, 0, i, &vanished);
			walk_round(&e, 1, i, &vanished);
			walk_round(&e, 2, i, &vanished);
		}
		for (int i = 0; i < rounds * 5; i++)
			trunc_round(&e, (unsigned)(i * 7919 + kind), &shorter, &errors);
		for (int i = 0; i < rounds; i++)
			trunc_tool_round(&e, (unsigned)(i * 104729));
		env_teardown(&e);
	}
	fprintf(stderr, "walks: %llu vanished directories reported; truncated reads: %llu shorter, %llu errors\n",
		(unsigned long long)vanished, (unsigned long long)shorter, (unsigned long long)errors);
	return T_EXIT_PASS;
}
