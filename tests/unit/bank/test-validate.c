/* Description: validate_memory_bank through the real call machinery, on
 * both io backends, on hand-made banks: every walker-level finding with its
 * path and line (links escaping the bank and the root, missing targets,
 * forward and backward anchors, symlinks and fifos reported and not
 * followed, case conflicts, hidden directories skipped, core files per
 * project, the rules file and argument overrides), the truncation note, the
 * failure paths (missing bank, bad rules file) and cancellation with every
 * permit and fd given back. */
#include <sys/stat.h>

#include "bank-tools/bank_t.h"

static void put(struct env *e, const char *rel, const char *data)
{
	char p[4096];
	char *slash;
	snprintf(p, sizeof(p), "%s/%s", e->dir, rel);
	for (slash = strchr(p + strlen(e->dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0755);
		*slash = '/';
	}
	t_write_file(e->dir, rel, data, strlen(data));
}

/* The listed diagnostics as "path:line code" lines, case_conflict left out
 * (which of two names comes second depends on the directory's order). */
static const char *listed(struct result *r, char *out, size_t n)
{
	yyjson_val *files = yyjson_obj_get(r->sc, "files"), *f, *d;
	size_t i, k, ni, nk, len = 0;
	out[0] = '\0';
	yyjson_arr_foreach(files, i, ni, f) {
		yyjson_arr_foreach(yyjson_obj_get(f, "diagnostics"), k, nk, d) {
			const char *code = yyjson_get_str(yyjson_obj_get(d, "code"));
			if (!strcmp(code, "case_conflict"))
				continue;
			len += (size_t)snprintf(out + len, n - len, "%s:%llu %s\n", yyjson_get_str(yyjson_obj_get(f, "path")),
						(unsigned long long)yyjson_get_uint(yyjson_obj_get(d, "line")), code);
		}
	}
	return out;
}

/* validate_memory_bank on path (relative to the test directory, or
 * absolute), with more arguments after it (",\"max_reported\":3" or ""). */
static void validate(struct env *e, const char *path, const char *more, struct result *r)
{
	char args[8192];

	if (path[0] == '/')
		snprintf(args, sizeof(args), "{\"path\":\"%s\"%s}", path, more);
	else
		snprintf(args, sizeof(args), "{\"path\":\"%s/%s\"%s}", e->dir, path, more);
	call_tool(e, "validate_memory_bank", args, r);
}

/* The same, expected to succeed; r is the result. */
static void validate_ok(struct env *e, const char *path, const char *more, struct result *r)
{
	validate(e, path, more, r);
	if (r->is_error)
		T_FAIL("validate %s%s: unexpected error %s", path, more, r->json);
}

/* The same, expected to fail with a message containing want. */
static void validate_fails(struct env *e, const char *path, const char *more, const char *want)
{
	struct result r;

	validate(e, path, more, &r);
	if (!r.is_error || !strstr(r.text, want))
		T_FAIL("validate %s%s: expected an error containing \"%s\", got %s", path, more, want, r.json);
	res_free(&r);
}

static uint64_t by_code(struct result *r, const char *code)
{
	yyjson_val *v = yyjson_obj_get(yyjson_obj_get(r->sc, "by_code"), code);
	if (!yyjson_is_uint(v))
		T_FAIL("by_code.%s missing in %s", code, r->json);
	return yyjson_get_uint(v);
}

static void make_bank(struct env *e)
{
	char p[4096], q[4096];
	char big[5001];

	put(e, "bank/.memory-bank-rules.json", "{\"max_file_bytes\": 4096}");
	put(e, "bank/top.md", "# Top\n\n[alpha](projects/alpha/projectbrief.md)\n");
	put(e, "bank/projects/alpha/projectbrief.md", "# Alpha Brief\n\n## Goals\n\nSee [ctx](productContext.md#why-this-exists).\n");
	put(e, "bank/projects/alpha/productContext.md", "# Product\n\n## Why This Exists\n\ntext\n");
	put(e, "bank/projects/alpha/activeContext.md", "# Active\n");
	put(e, "bank/projects/alpha/systemPatterns.md", "# Patterns\n");
	put(e, "bank/projects/alpha/techContext.md", "# Tech\n");
	/* progress.md is missing */
	put(e, "bank/projects/alpha/notes/a.md",
	    "# Note A\n"
	    "\n"
	    "## Sec One\n"
	    "\n"
	    "[ok](../productContext.md#why-this-exists) [ok2](/projects/alpha/projectbrief.md#goals)\n"
	    "[missing](../nope.md) [dir missing](archive/x.md)\n"
	    "[bad anchor](../productContext.md#nope) [self](#sec-one) [self bad](#zzz)\n"
	    "[out of bank](../../../../x.md) [out of root](../../../../../x.md)\n"
	    "[back in](../../../../bank/projects/alpha/techContext.md) [dir](../notes/) [img](pic.png)\n"
	    "[fwd](b.md#later) [fwd bad](b.md#nothing) [ext](https://example.com/nope.md)\n");
	put(e, "bank/projects/alpha/notes/b.md", "# B\n\n## Later\n");
	put(e, "bank/projects/alpha/notes/pic.png", "\x89PNG\r\n");
	put(e, "bank/projects/alpha/empty.md", "");
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "# Big\n\n", 7);
	big[sizeof(big) - 1] = '\0';
	put(e, "bank/projects/alpha/big.md", big);
	snprintf(p, sizeof(p), "%s/bank/projects/alpha/link.md", e->dir);
	ASSERT_EQ(symlink("notes/a.md", p), 0);
	snprintf(q, sizeof(q), "%s/bank/projects/alpha/fifo.md", e->dir);
	ASSERT_EQ(mkfifo(q, 0644), 0);
	put(e, "bank/projects/beta/notes.md", "# Beta\n");
	put(e, "bank/projects/beta/Same.md", "# Same\n");
	put(e, "bank/projects/beta/same.md", "# same\n");
	put(e, "bank/.git/junk.md", "no title here\n");
	put(e, "x.md", "# Outside the bank\n");
}

static void test_bank(struct env *e)
{
	char buf[8192];
	struct result r;

	make_bank(e);
	validate_ok(e, "bank", "", &r);
	ASSERT_STREQ(listed(&r, buf, sizeof(buf)),
		     "projects/alpha/big.md:0 too_large\n"
		     "projects/alpha/empty.md:0 empty_file\n"
		     "projects/alpha/fifo.md:0 special_file\n"
		     "projects/alpha/link.md:0 symlink\n"
		     "projects/alpha/notes/a.md:6 broken_link\n"
		     "projects/alpha/notes/a.md:6 broken_link\n"
		     "projects/alpha/notes/a.md:7 broken_anchor\n"
		     "projects/alpha/notes/a.md:7 broken_anchor\n"
		     "projects/alpha/notes/a.md:8 broken_link\n"
		     "projects/alpha/notes/a.md:8 broken_link\n"
		     "projects/alpha/notes/a.md:10 broken_anchor\n"
		     "projects/alpha/progress.md:0 missing_core_file\n");
	ASSERT_EQ(by_code(&r, "case_conflict"), 1);
	ASSERT(strstr(r.json, "\"path\":\"projects/beta/Same.md\"") || strstr(r.json, "\"path\":\"projects/beta/same.md\""));
	ASSERT_EQ(sc_uint(&r, "files_validated"), 13); /* .git, the symlink and the fifo are not read */
	ASSERT_EQ(sc_uint(&r, "errors"), 10);
	ASSERT_EQ(sc_uint(&r, "warnings"), 3);
	ASSERT(strstr(r.json, "../../../../x.md: points outside the bank"));
	ASSERT(strstr(r.json, "../../../../../x.md: points outside the root"));
	ASSERT(strstr(r.json, "has no heading with anchor #nothing"));
	ASSERT(strstr(r.text, "projects/alpha/notes/a.md:6: error broken_link: link ../nope.md: "
			      "projects/alpha/nope.md does not exist"));
	ASSERT(!yyjson_get_bool(yyjson_obj_get(r.sc, "truncated")));
	res_free(&r);

	/* Arguments override the rules file: no size limit hit, one core
	 * file required (alpha has it; beta holds none so is no project), no
	 * link checks at all. */
	validate_ok(e, "bank",
		    ",\"rules\":{\"max_file_bytes\":100000,\"required_files\":[\"projectbrief.md\"],\"check_links\":false}",
		    &r);
	ASSERT_STREQ(listed(&r, buf, sizeof(buf)),
		     "projects/alpha/empty.md:0 empty_file\n"
		     "projects/alpha/fifo.md:0 special_file\n"
		     "projects/alpha/link.md:0 symlink\n");
	res_free(&r);

	/* Truncation keeps the totals. */
	validate_ok(e, "bank", ",\"max_reported\":3", &r);
	ASSERT(yyjson_get_bool(yyjson_obj_get(r.sc, "truncated")));
	ASSERT_EQ(sc_uint(&r, "diagnostics_reported"), 3);
	ASSERT_EQ(sc_uint(&r, "errors") + sc_uint(&r, "warnings"), 13);
	ASSERT(strstr(r.text, "Truncated: 3 of 13 diagnostics listed"));
	res_free(&r);
}

static void test_no_projects_and_failures(struct env *e)
{
	char buf[8192];
	struct result r;

	put(e, "plain/a.md", "# A\n");
	validate_ok(e, "plain", "", &r);
	ASSERT_STREQ(listed(&r, buf, sizeof(buf)),
		     "activeContext.md:0 missing_core_file\n"
		     "productContext.md:0 missing_core_file\n"
		     "progress.md:0 missing_core_file\n"
		     "projectbrief.md:0 missing_core_file\n"
		     "systemPatterns.md:0 missing_core_file\n"
		     "techContext.md:0 missing_core_file\n");
	res_free(&r);

	validate_fails(e, "nobank", "", "nobank: no such file or directory");
	validate_fails(e, "plain/a.md", "", "a.md: not a directory");
	put(e, "badrules/.memory-bank-rules.json", "{\"check_links\": tru");
	validate_fails(e, "badrules", "", "badrules/.memory-bank-rules.json: invalid JSON");
	put(e, "badrules2/.memory-bank-rules.json", "{\"required_files\": [\"a/b.md\"]}");
	validate_fails(e, "badrules2", "", "required_files: each entry must be a file name");
	validate_fails(e, "plain", ",\"rules\":{\"max_file_bytes\":-1}", "rules.max_file_bytes");
	validate_fails(e, "plain", ",\"rules\":{\"max_bytes\":1}", "rules.max_bytes: unknown rule");
	validate_fails(e, "/etc", "", "outside");
}

static void test_cancel(struct env *e)
{
	char args[4096], rel[256];
	struct result r;
	struct rb_call *call;
	yyjson_doc *doc;
	int i;

	for (i = 0; i < 3000; i++) {
		snprintf(rel, sizeof(rel), "many/d%d/f%d.md", i / 300, i);
		put(e, rel, "# F\n\n[x](../d0/f0.md#f) [y](nope.md)\n");
	}
	snprintf(args, sizeof(args), "{\"path\":\"%s/many\"}", e->dir);
	call = call_start(e, "validate_memory_bank", args, &doc, &r);
	ASSERT(call != NULL);
	for (i = 0; i < 30 && !r.done; i++)
		ASSERT_GE(rb_loop_run_once(e->loop, true, 100), 0);
	ASSERT(!r.done); /* 3000 files take longer than 30 loop turns */
	rb_call_cancel(call);
	t_run_until(e->loop, &r.done);
	ASSERT(r.is_error);
	ASSERT(strstr(r.text, "cancelled"));
	res_free(&r);
	yyjson_doc_free(doc);

	/* The same bank, to the end: 3000 broken links, 3000 files. */
	validate_ok(e, "many", "", &r);
	ASSERT_EQ(sc_uint(&r, "files_validated"), 3000);
	ASSERT_EQ(by_code(&r, "broken_link"), 3000);
	ASSERT_EQ(by_code(&r, "broken_anchor"), 0);
	ASSERT_EQ(by_code(&r, "missing_core_file"), 6);
	ASSERT_GE(r.progress, 1);
	res_free(&r);
}

int main(void)
{
	FOR_BOTH_BACKENDS(k) {
		struct env e;
		if (!env_setup(&e, k))
			continue;
		test_bank(&e);
		test_no_projects_and_failures(&e);
		test_cancel(&e);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
