/* Description: the project tools through the call machinery, on both io
 * backends: list/read/write/update results and files on disk, create-only
 * refusal, update of a missing file or project, name checks, lock files
 * hidden from listings and never left behind, invalid UTF-8, a 2 GiB
 * sparse file refused without being read, and in-process concurrency:
 * 40 updates racing with the same expectedVersion (exactly one wins) and
 * 40 read-modify-write appenders retrying on conflict (none lost). */
#include "bank_t.h"

static char *disk(struct env *e, const char *rel, size_t *len)
{
	char p[4096];
	size_t l;
	env_path(e, rel, p, sizeof(p));
	return slurp(p, len ? len : &l);
}

static void expect_error(struct env *e, const char *tool, const char *args, const char *needle)
{
	struct result r;
	call_tool(e, tool, args, &r);
	if (!r.is_error || !strstr(r.text, needle))
		T_FAIL("%s %s: expected an error containing \"%s\", got %s", tool, args, needle, r.json);
	res_free(&r);
}

static void test_basics(struct env *e)
{
	struct result r;
	char ver[RB_VERSION_LEN], *d;
	size_t len;

	call_tool(e, "list_projects", "{}", &r);
	ASSERT(!r.is_error);
	ASSERT_STREQ(r.text, "[]");
	res_free(&r);

	call_tool(e, "memory_bank_write", "{\"projectName\":\"p\",\"fileName\":\"a.md\",\"content\":\"one\\n\"}", &r);
	ASSERT(!r.is_error);
	ASSERT_STREQ(r.text, "File a.md written successfully to project p");
	rb_content_version("one\n", 4, ver);
	ASSERT_STREQ(sc_str(&r, "version"), ver);
	res_free(&r);
	d = disk(e, "p/a.md", &len);
	ASSERT_STREQ(d, "one\n");
	free(d);

	expect_error(e, "memory_bank_write", "{\"projectName\":\"p\",\"fileName\":\"a.md\",\"content\":\"two\"}",
		     "already exists");
	d = disk(e, "p/a.md", NULL);
	ASSERT_STREQ(d, "one\n"); /* refused, untouched */
	free(d);

	call_tool(e, "memory_bank_read", "{\"projectName\":\"p\",\"fileName\":\"a.md\"}", &r);
	ASSERT(!r.is_error);
	ASSERT_STREQ(r.text, "one\n");
	ASSERT_STREQ(sc_str(&r, "version"), ver);
	ASSERT_EQ(sc_uint(&r, "bytes"), 4);
	res_free(&r);

	call_tool(e, "memory_bank_update", "{\"projectName\":\"p\",\"fileName\":\"a.md\",\"content\":\"two\\n\"}", &r);
	ASSERT(!r.is_error);
	ASSERT_STREQ(r.text, "File a.md updated successfully in project p");
	res_free(&r);
	d = disk(e, "p/a.md", NULL);
	ASSERT_STREQ(d, "two\n");
	free(d);

	/* The version read before the update is stale now. */
	{
		char args[512];
		snprintf(args, sizeof(args),
			 "{\"projectName\":\"p\",\"fileName\":\"a.md\",\"content\":\"three\\n\",\"expectedVersion\":\"%s\"}",
			 ver);
		expect_error(e, "memory_bank_update", args, "changed since it was read (version conflict): current version ");
		d = disk(e, "p/a.md", NULL);
		ASSERT_STREQ(d, "two\n");
		free(d);
		rb_content_version("two\n", 4, ver);
		snprintf(args, sizeof(args),
			 "{\"projectName\":\"p\",\"fileName\":\"a.md\",\"content\":\"three\\n\",\"expectedVersion\":\"%s\"}",
			 ver);
		call_tool(e, "memory_bank_update", args, &r);
		ASSERT(!r.is_error);
		res_free(&r);
		d = disk(e, "p/a.md", NULL);
		ASSERT_STREQ(d, "three\n");
		free(d);
	}

	expect_error(e, "memory_bank_update", "{\"projectName\":\"p\",\"fileName\":\"nope.md\",\"content\":\"x\"}",
		     "File 'nope.md' not found in project 'p'");
	expect_error(e, "memory_bank_update", "{\"projectName\":\"q\",\"fileName\":\"a.md\",\"content\":\"x\"}",
		     "Project 'q' not found");
	expect_error(e, "memory_bank_read", "{\"projectName\":\"p\",\"fileName\":\"nope.md\"}",
		     "File 'nope.md' not found in project 'p'");
	expect_error(e, "memory_bank_read", "{\"projectName\":\"q\",\"fileName\":\"a.md\"}", "Project 'q' not found");
	expect_error(e, "list_project_files", "{\"projectName\":\"q\"}", "Project 'q' not found");
	ASSERT_EQ(count_names(e->dir, "nope"), 0);
	{
		char p[4096];
		env_path(e, "p", p, sizeof(p));
		ASSERT_EQ(count_names(p, ".lock"), 0);
	}

	/* Lock files and temp files are not memory-bank content. */
	t_write_file(e->dir, "p/.a.md.lock", "{}", 2);
	t_write_file(e->dir, "p/b.md", "b", 1);
	ASSERT_EQ(t_mkdir(e, "p/sub", false), 0);
	call_tool(e, "list_project_files", "{\"projectName\":\"p\"}", &r);
	ASSERT(!r.is_error);
	ASSERT_STREQ(r.text, "[\"a.md\",\"b.md\"]");
	res_free(&r);
	call_tool(e, "list_projects", "{}", &r);
	ASSERT_STREQ(r.text, "[\"p\"]");
	res_free(&r);
	ASSERT_EQ(t_unlink(e, "p/.a.md.lock", false), 0);
}

static void test_names(struct env *e)
{
	static const char *bad[] = { "a/b", "..", ".", "", "../p", "/etc" };
	char args[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "{\"projectName\":\"%s\",\"fileName\":\"a.md\"}", bad[i]);
		expect_error(e, "memory_bank_read", args, "projectName: invalid project name");
		snprintf(args, sizeof(args), "{\"projectName\":\"p\",\"fileName\":\"%s\",\"content\":\"x\"}", bad[i]);
		expect_error(e, "memory_bank_write", args, "fileName: invalid file name");
		expect_error(e, "memory_bank_update", args, "fileName: invalid file name");
	}
	expect_error(e, "memory_bank_read", "{\"projectName\":\"p\"}", "fileName: required argument missing");
	expect_error(e, "memory_bank_write", "{\"projectName\":\"p\",\"fileName\":\"x\",\"content\":5}",
		     "content: expected a string");
	expect_error(e, "memory_bank_update",
		     "{\"projectName\":\"p\",\"fileName\":\"a.md\",\"content\":\"x\",\"expectedVersion\":\"abc\"}",
		     "expectedVersion: expected the 64-hex-digit version");
	ASSERT_EQ(count_names(e->dir, "etc"), 0);
}

static void test_odd_files(struct env *e)
{
	struct result r;
	char p[4096], ver[RB_VERSION_LEN];
	struct t_reads before;
	int fd;

	t_write_file(e->dir, "p/bad.md", "a\xff" "b", 3);
	call_tool(e, "memory_bank_read", "{\"projectName\":\"p\",\"fileName\":\"bad.md\"}", &r);
	ASSERT(!r.is_error);
	ASSERT_STREQ(r.text, "a\xEF\xBF\xBD" "b");
	rb_content_version("a\xff" "b", 3, ver);
	ASSERT_STREQ(sc_str(&r, "version"), ver); /* of the bytes on disk */
	res_free(&r);

	env_path(e, "p/huge.md", p, sizeof(p));
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	ASSERT(fd >= 0);
	ASSERT_EQ(ftruncate(fd, 2LL << 30), 0);
	close(fd);
	before = t_reads_now(e);
	expect_error(e, "memory_bank_read", "{\"projectName\":\"p\",\"fileName\":\"huge.md\"}", "too large");
	t_assert_unread(e, before, "the 2 GiB sparse file"); /* refused, not read */
	unlink(p);

	env_path(e, "p/esc.md", p, sizeof(p));
	ASSERT_EQ(symlink("/etc/hostname", p), 0);
	expect_error(e, "memory_bank_read", "{\"projectName\":\"p\",\"fileName\":\"esc.md\"}", "outside");
	unlink(p);
}

/* ---- concurrency in one process ---------------------------------------------------- */

#define NW 40

struct appender {
	struct env *e;
	char *content;
	yyjson_doc *args;
	struct result r;
	int id;
	int state; /* 0 read, 1 update */
	int conflicts;
	bool busy, done;
	char version[RB_VERSION_LEN];
};

static void appender_step(struct appender *a)
{
	char *json;
	yyjson_mut_doc *d;
	yyjson_mut_val *o;

	d = yyjson_mut_doc_new(NULL);
	o = yyjson_mut_obj(d);
	yyjson_mut_doc_set_root(d, o);
	yyjson_mut_obj_add_str(d, o, "projectName", "p");
	yyjson_mut_obj_add_str(d, o, "fileName", "log.md");
	if (a->state == 1) {
		yyjson_mut_obj_add_str(d, o, "content", a->content);
		yyjson_mut_obj_add_str(d, o, "expectedVersion", a->version);
	}
	json = yyjson_mut_write(d, 0, NULL);
	yyjson_mut_doc_free(d);
	yyjson_doc_free(a->args);
	res_free(&a->r);
	call_start(a->e, a->state == 0 ? "memory_bank_read" : "memory_bank_update", json, &a->args, &a->r);
	free(json);
	a->busy = true;
}

static void appender_done(struct appender *a)
{
	a->busy = false;
	if (a->state == 0) {
		size_t n;
		ASSERT(!a->r.is_error);
		snprintf(a->version, sizeof(a->version), "%s", sc_str(&a->r, "version"));
		n = strlen(a->r.text);
		free(a->content);
		a->content = malloc(n + 32);
		sprintf(a->content, "%sline %d\n", a->r.text, a->id);
		a->state = 1;
		appender_step(a);
		return;
	}
	if (a->r.is_error) {
		if (!strstr(a->r.text, "version conflict"))
			T_FAIL("update failed: %s", a->r.json);
		a->conflicts++;
		a->state = 0;
		appender_step(a);
		return;
	}
	a->done = true;
}

static void test_concurrency(struct env *e)
{
	static struct appender a[NW];
	struct result r[NW];
	yyjson_doc *args[NW];
	char ver[RB_VERSION_LEN], json[512], *d;
	int i, ok = 0, conflicts = 0, finished, total_conflicts = 0;
	size_t len, lines = 0;

	/* Same expected version, 40 writers: exactly one may win. */
	t_write_file(e->dir, "p/race.md", "base\n", 5);
	rb_content_version("base\n", 5, ver);
	for (i = 0; i < NW; i++) {
		snprintf(json, sizeof(json),
			 "{\"projectName\":\"p\",\"fileName\":\"race.md\",\"content\":\"writer %d\\n\",\"expectedVersion\":\"%s\"}",
			 i, ver);
		call_start(e, "memory_bank_update", json, &args[i], &r[i]);
	}
	do {
		ASSERT(rb_loop_run_once(e->loop, true, 100) >= 0);
		for (finished = 0, i = 0; i < NW; i++)
			finished += r[i].done;
	} while (finished < NW);
	for (i = 0; i < NW; i++) {
		if (!r[i].is_error)
			ok++;
		else if (strstr(r[i].text, "version conflict"))
			conflicts++;
		else
			T_FAIL("unexpected: %s", r[i].json);
		res_free(&r[i]);
		yyjson_doc_free(args[i]);
	}
	ASSERT_EQ(ok, 1);
	ASSERT_EQ(conflicts, NW - 1);

	/* 40 read-modify-write appenders retrying on conflict: none lost. */
	t_write_file(e->dir, "p/log.md", "", 0);
	for (i = 0; i < NW; i++) {
		a[i].e = e;
		a[i].id = i;
		appender_step(&a[i]);
	}
	do {
		ASSERT(rb_loop_run_once(e->loop, true, 100) >= 0);
		for (finished = 0, i = 0; i < NW; i++) {
			if (a[i].busy && a[i].r.done)
				appender_done(&a[i]);
			finished += a[i].done;
		}
	} while (finished < NW);
	d = disk(e, "p/log.md", &len);
	for (size_t k = 0; k < len; k++)
		lines += d[k] == '\n';
	ASSERT_EQ(lines, NW);
	for (i = 0; i < NW; i++) {
		char want[32];
		snprintf(want, sizeof(want), "line %d\n", i);
		ASSERT(strstr(d, want) != NULL);
		total_conflicts += a[i].conflicts;
		res_free(&a[i].r);
		yyjson_doc_free(a[i].args);
		free(a[i].content);
		memset(&a[i], 0, sizeof(a[i]));
	}
	free(d);
	fprintf(stderr, "  %d appenders, %d conflicts retried\n", NW, total_conflicts);
	{
		char p[4096];
		env_path(e, "p", p, sizeof(p));
		ASSERT_EQ(count_names(p, ".lock"), 0);
	}
}

int main(void)
{
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		if (!env_setup(&e, kind))
			continue;
		fprintf(stderr, "backend %s\n", kname(kind));
		test_basics(&e);
		test_names(&e);
		test_odd_files(&e);
		test_concurrency(&e);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
