/* Description: search_memory_bank through the call machinery, on both io
 * backends, over 1000 generated files: the first maxResults matches are
 * exactly the (path, line)-sorted prefix of all matches (bounded heap),
 * totals are exact, case (in)sensitivity, regex with ^/$ per line, context
 * lines, include/exclude globs (name and path patterns, pruned
 * directories), binary and 2 GiB sparse files skipped (the latter unread),
 * a regex syntax error reported, a repeated search served from the cache,
 * cancellation mid-search, and nothing left in flight afterwards. */
#include "bank_t.h"

#define ND 40
#define NF 25

/* File (d, f): lines "text <d> <f> <k>" for k in 0..29; "needle" on lines
 * where (d * 31 + f * 7 + k) % 11 == 0, "NEEDLE" where it is == 5. */
static int line_kind(int d, int f, int k)
{
	int m = (d * 31 + f * 7 + k) % 11;
	return m == 0 ? 1 : m == 5 ? 2 : 0;
}

static void make_bank(struct env *e)
{
	char rel[64], buf[4096];
	int d, f, k;
	size_t n;

	for (d = 0; d < ND; d++) {
		snprintf(rel, sizeof(rel), "d%02d", d);
		ASSERT_EQ(t_mkdir(e, rel, false), 0);
		for (f = 0; f < NF; f++) {
			n = 0;
			for (k = 0; k < 30; k++) {
				int kind = line_kind(d, f, k);
				n += (size_t)snprintf(buf + n, sizeof(buf) - n, "text %d %d %d%s\n", d, f, k,
						      kind == 1 ? " a needle here" : kind == 2 ? " A NEEDLE HERE" : "");
			}
			snprintf(rel, sizeof(rel), "d%02d/f%02d.md", d, f);
			t_write_file(e->dir, rel, buf, n);
		}
	}
}

struct want {
	char path[32];
	int line;
};

static int want_cmp(const void *a, const void *b)
{
	const struct want *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	return c ? c : x->line - y->line;
}

/* All expected matches (kinds in mask), sorted. */
static size_t expected(struct want *w, int mask)
{
	size_t n = 0;
	for (int d = 0; d < ND; d++)
		for (int f = 0; f < NF; f++)
			for (int k = 0; k < 30; k++)
				if (line_kind(d, f, k) && mask & (1 << (line_kind(d, f, k) - 1))) {
					snprintf(w[n].path, sizeof(w[n].path), "d%02d/f%02d.md", d, f);
					w[n++].line = k + 1;
				}
	qsort(w, n, sizeof(*w), want_cmp);
	return n;
}

static void check_prefix(struct result *r, struct want *w, size_t total, size_t max)
{
	yyjson_val *m = yyjson_obj_get(r->sc, "matches");
	size_t i, shown = total < max ? total : max;

	ASSERT(!r->is_error);
	ASSERT_EQ(sc_uint(r, "totalMatches"), total);
	ASSERT_EQ(sc_uint(r, "returned"), shown);
	ASSERT_EQ(yyjson_get_bool(yyjson_obj_get(r->sc, "truncated")), total > max);
	if (strlen(r->text) <= 64 * 1024) {
		ASSERT_EQ(yyjson_arr_size(m), shown);
		for (i = 0; i < shown; i++) {
			yyjson_val *o = yyjson_arr_get(m, i);
			ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(o, "path")), w[i].path);
			ASSERT_EQ(yyjson_get_uint(yyjson_obj_get(o, "line")), w[i].line);
		}
	} else {
		ASSERT(m == NULL); /* large results are sent once, as text */
	}
	/* The text has the same lines in the same order. */
	{
		const char *t = r->text;
		char head[64];
		for (i = 0; i < shown; i++) {
			int n = snprintf(head, sizeof(head), "%s:%d: ", w[i].path, w[i].line);
			if (strncmp(t, head, (size_t)n))
				T_FAIL("text line %zu: expected \"%s\", got \"%.40s\"", i, head, t);
			t = strchr(t, '\n') + 1;
		}
	}
	if (total > max && !strstr(r->text, "[truncated: showing the first"))
		T_FAIL("no truncation marker in %s", r->text);
}

static void test_results(struct env *e)
{
	static struct want w[ND * NF * 30];
	struct result r;
	size_t n;
	char line[128];

	n = expected(w, 3); /* case-insensitive: both kinds */
	call_tool(e, "search_memory_bank", "{\"query\":\"needle\",\"maxResults\":37}", &r);
	check_prefix(&r, w, n, 37);
	ASSERT_EQ(sc_uint(&r, "filesSearched"), ND * NF);
	snprintf(line, sizeof(line), "%s:%d: text", w[0].path, w[0].line);
	ASSERT(strncmp(r.text, line, strlen(line)) == 0);
	res_free(&r);

	n = expected(w, 1);
	call_tool(e, "search_memory_bank", "{\"query\":\"needle\",\"caseSensitive\":true,\"maxResults\":10000}", &r);
	check_prefix(&r, w, n, 10000);
	res_free(&r);

	/* Regex, ^ and $ at line ends: lines ending in "HERE". */
	n = expected(w, 2);
	call_tool(e, "search_memory_bank", "{\"query\":\"^text \\\\d+ \\\\d+ \\\\d+ A NEEDLE HERE$\",\"regex\":true,"
		  "\"caseSensitive\":true,\"maxResults\":5}", &r);
	check_prefix(&r, w, n, 5);
	res_free(&r);

	/* Context: the first match's neighbours. */
	call_tool(e, "search_memory_bank", "{\"query\":\"text 0 0 5 \",\"contextLines\":2,\"include\":\"d00/*\"}", &r);
	ASSERT_EQ(sc_uint(&r, "totalMatches"), 1);
	{
		yyjson_val *m = yyjson_arr_get(yyjson_obj_get(r.sc, "matches"), 0);
		yyjson_val *b = yyjson_obj_get(m, "before"), *a = yyjson_obj_get(m, "after");
		ASSERT_EQ(yyjson_arr_size(b), 2);
		ASSERT_EQ(yyjson_arr_size(a), 2);
		ASSERT(strncmp(yyjson_get_str(yyjson_arr_get(b, 0)), "text 0 0 3", 10) == 0);
		ASSERT(strncmp(yyjson_get_str(yyjson_arr_get(a, 1)), "text 0 0 7", 10) == 0);
		ASSERT(strstr(r.text, "d00/f00.md-4- text 0 0 3") && strstr(r.text, "d00/f00.md:6: text 0 0 5"));
	}
	res_free(&r);

	/* First and last lines have no context beyond the file. */
	call_tool(e, "search_memory_bank", "{\"query\":\"^text 0 0 (0|29)\\\\b\",\"regex\":true,\"contextLines\":3,"
		  "\"include\":\"d00/f00.md\"}", &r);
	ASSERT_EQ(sc_uint(&r, "totalMatches"), 2);
	{
		yyjson_val *m = yyjson_obj_get(r.sc, "matches");
		ASSERT(!yyjson_obj_get(yyjson_arr_get(m, 0), "before"));
		ASSERT_EQ(yyjson_arr_size(yyjson_obj_get(yyjson_arr_get(m, 0), "after")), 3);
		ASSERT_EQ(yyjson_arr_size(yyjson_obj_get(yyjson_arr_get(m, 1), "before")), 3);
		ASSERT(!yyjson_obj_get(yyjson_arr_get(m, 1), "after"));
	}
	res_free(&r);
}

static void test_filters(struct env *e)
{
	struct result r;

	t_write_file(e->dir, "d00/notes.txt", "needle\n", 7);
	/* Name pattern: *.md at any depth. */
	call_tool(e, "search_memory_bank", "{\"query\":\"needle\",\"caseSensitive\":true,\"include\":\"*.txt\"}", &r);
	ASSERT_EQ(sc_uint(&r, "totalMatches"), 1);
	ASSERT_EQ(sc_uint(&r, "filesSearched"), 1);
	res_free(&r);
	/* Path patterns, several: only d01 and d02. */
	call_tool(e, "search_memory_bank", "{\"query\":\"text\",\"include\":[\"d01/**\",\"d02/*.md\"],\"maxResults\":1}", &r);
	ASSERT_EQ(sc_uint(&r, "filesSearched"), 2 * NF);
	ASSERT_EQ(sc_uint(&r, "totalMatches"), 2 * NF * 30);
	res_free(&r);
	/* Exclude a directory by name and files by name. */
	call_tool(e, "search_memory_bank", "{\"query\":\"text\",\"exclude\":[\"d0?\",\"f1*.md\"],\"maxResults\":1}", &r);
	ASSERT_EQ(sc_uint(&r, "filesSearched"), (ND - 10) * (NF - 10));
	res_free(&r);
	/* A narrower path. */
	call_tool(e, "search_memory_bank", "{\"query\":\"text\",\"path\":\"d05\",\"maxResults\":1}", &r);
	ASSERT_EQ(sc_uint(&r, "filesSearched"), NF);
	ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(yyjson_arr_get(yyjson_obj_get(r.sc, "matches"), 0), "path")),
		     "f00.md");
	res_free(&r);
	ASSERT_EQ(t_unlink(e, "d00/notes.txt", false), 0);
}

static void test_skips_and_errors(struct env *e)
{
	struct result r;
	struct t_reads before;
	char p[4096];
	int fd;

	ASSERT_EQ(t_mkdir(e, "bin", false), 0);
	t_write_file(e->dir, "bin/blob.dat", "needle\0needle\n", 14);
	env_path(e, "bin/huge.md", p, sizeof(p));
	fd = open(p, O_CREAT | O_WRONLY, 0644);
	ASSERT(fd >= 0);
	ASSERT_EQ(ftruncate(fd, 2LL << 30), 0);
	close(fd);
	/* The sparse file alone: skipped for its size without being read (the
	 * io requests of this search are all its own). */
	before = t_reads_now(e);
	call_tool(e, "search_memory_bank", "{\"query\":\"needle\",\"path\":\"bin\",\"include\":\"huge.md\"}", &r);
	ASSERT(!r.is_error);
	t_assert_unread(e, before, "the 2 GiB sparse file");
	ASSERT_EQ(sc_uint(&r, "tooLargeSkipped"), 1);
	ASSERT_EQ(sc_uint(&r, "totalMatches"), 0);
	res_free(&r);
	/* With the binary file beside it: each skipped for its own reason. */
	call_tool(e, "search_memory_bank", "{\"query\":\"needle\",\"path\":\"bin\"}", &r);
	ASSERT(!r.is_error);
	ASSERT_EQ(sc_uint(&r, "binarySkipped"), 1);
	ASSERT_EQ(sc_uint(&r, "tooLargeSkipped"), 1);
	ASSERT_EQ(sc_uint(&r, "totalMatches"), 0);
	ASSERT(strstr(r.text, "No matches found"));
	res_free(&r);
	unlink(p);

	call_tool(e, "search_memory_bank", "{\"query\":\"(unclosed\",\"regex\":true}", &r);
	ASSERT(r.is_error);
	ASSERT(strstr(r.text, "query: invalid regular expression at offset 9: missing closing parenthesis"));
	res_free(&r);
	call_tool(e, "search_memory_bank", "{\"query\":\"\"}", &r);
	ASSERT(r.is_error && strstr(r.text, "query: must not be empty"));
	res_free(&r);
	call_tool(e, "search_memory_bank", "{\"query\":\"x\",\"path\":\"/etc\"}", &r);
	ASSERT(r.is_error && strstr(r.text, "outside"));
	res_free(&r);
	call_tool(e, "search_memory_bank", "{\"query\":\"x\",\"path\":\"missing\"}", &r);
	ASSERT(r.is_error && strstr(r.text, "no such file"));
	res_free(&r);
	call_tool(e, "search_memory_bank", "{\"query\":\"x\",\"path\":\"bin/blob.dat\"}", &r);
	ASSERT(r.is_error && strstr(r.text, "not a directory"));
	res_free(&r);
	/* A catastrophic pattern is a per-file error, not a hang. */
	{
		static const char aaa[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab\n";
		t_write_file(e->dir, "bin/aaa.md", aaa, strlen(aaa));
	}
	call_tool(e, "search_memory_bank", "{\"query\":\"(a+)+[bc][bc]\",\"regex\":true,\"path\":\"bin\"}", &r);
	ASSERT(!r.is_error);
	ASSERT_EQ(sc_uint(&r, "errors"), 1);
	res_free(&r);
}

static void test_cache(struct env *e)
{
	struct rb_fs_stats a, b;
	struct result r;

	call_tool(e, "search_memory_bank", "{\"query\":\"zzz-none\"}", &r);
	res_free(&r);
	rb_fs_get_stats(e->fs, &a);
	call_tool(e, "search_memory_bank", "{\"query\":\"zzz-none\"}", &r);
	res_free(&r);
	rb_fs_get_stats(e->fs, &b);
	/* The files were written more than a moment ago, so the cache may keep them. */
	ASSERT_GE(b.cache_hits - a.cache_hits, ND * NF / 2);
}

static void test_cancel(struct env *e)
{
	struct result r;
	yyjson_doc *args;
	struct rb_call *call;

	call = call_start(e, "search_memory_bank", "{\"query\":\"needle\"}", &args, &r);
	ASSERT(call != NULL);
	for (int i = 0; i < 3 && !r.done; i++)
		rb_loop_run_once(e->loop, false, 0);
	if (!r.done)
		rb_call_cancel(call);
	t_run_until(e->loop, &r.done);
	ASSERT(r.is_error || sc_uint(&r, "totalMatches") > 0);
	res_free(&r);
	yyjson_doc_free(args);
}

int main(void)
{
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		if (!env_setup(&e, kind))
			continue;
		fprintf(stderr, "backend %s\n", kname(kind));
		if (!rb_tool_find("search_memory_bank"))
			t_skip("built without PCRE2");
		make_bank(&e);
		test_results(&e);
		test_filters(&e);
		test_skips_and_errors(&e);
		sleep(1); /* the cache refuses files changed within a moment of their read */
		test_cache(&e);
		test_cancel(&e);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
