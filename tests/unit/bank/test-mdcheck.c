/* Description: the pure markdown checker (src/bank/mdcheck.c) on
 * hand-written inputs: every diagnostic code with its exact line, no false
 * positives on clean realistic markdown ('#' lines in code blocks, setext
 * headings, links in code spans, nested fences, CRLF), GitHub slugs with
 * de-duplication, and link collection (decoding, URLs skipped, lines). */
#include "ringbank/mdcheck.h"
#include "t.h"

static struct rb_md_result R;

/* Diagnostics as "code:line code:line ..." sorted by line then code. */
static const char *diags(void)
{
	static char out[4096];
	size_t n = 0, i, k;
	struct rb_md_diag *d = R.diags;
	for (i = 1; i < R.ndiags; i++) /* insertion sort: a handful of entries */
		for (k = i; k > 0 && (d[k - 1].line > d[k].line ||
				      (d[k - 1].line == d[k].line && d[k - 1].code > d[k].code)); k--) {
			struct rb_md_diag t = d[k];
			d[k] = d[k - 1];
			d[k - 1] = t;
		}
	out[0] = '\0';
	for (i = 0; i < R.ndiags; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s:%u", i ? " " : "", rb_md_code_name(d[i].code),
				      d[i].line);
	return out;
}

static const char *heads(void)
{
	static char out[4096];
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < R.nheads; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%u:%s@%u", i ? " " : "", R.heads[i].level,
				      rb_md_str(&R, R.heads[i].slug), R.heads[i].line);
	return out;
}

static const char *links(void)
{
	static char out[4096];
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < R.nlinks; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s%s%s@%u", i ? " " : "", rb_md_str(&R, R.links[i].path),
				      R.links[i].has_anchor ? "#" : "", rb_md_str(&R, R.links[i].anchor), R.links[i].line);
	return out;
}

static void check_len(const char *s, size_t len)
{
	struct rb_md_opts o = { .max_bytes = 1 << 20, .links = true };
	ASSERT_EQ(rb_md_check(s, len, "t.md", &o, &R), 0);
}
static void check(const char *s) { check_len(s, strlen(s)); }

static void test_clean(void)
{
	const char *doc =
		"---\n"
		"title: \"Active Context\"\n"
		"tags: [cache, ring]\n"
		"owners:\n"
		"  - alice\n"
		"  - bob\n"
		"# a comment\n"
		"updated: 2025-01-02\n"
		"---\n"
		"<!-- generated -->\n"
		"# Active Context: Atlas 01\n"			/* 11 */
		"\n"
		"Intro with [a link](../notes/x.md#why-it-works) and `[code](no.md)`.\n" /* 13 */
		"See [Contents](#current-focus) and ![img](img/a%20b.png?raw=1).\n"	 /* 14 */
		"\n"
		"## Current Focus\n"				/* 16 */
		"\n"
		"```sh\n"					/* 18 */
		"# not a heading\n"
		"### neither\n"
		"[nor](a link.md)\n"
		"```\n"
		"\n"
		"Setext Section\n"				/* 24 */
		"--------------\n"
		"\n"
		"### Details & Notes (v2)\n"			/* 27 */
		"\n"
		"    # indented code, not a heading\n"
		"\n"
		"- item with [ref][r] and <https://example.com/x.md>\n" /* 31 */
		"- ``` not a fence in a code span ```\n"
		"\n"
		"> quote with [q](q.md)\n"			/* 34 */
		"\n"
		"| a | b |\n|---|---|\n| [t](t.md) | 2 |\n"	/* 38: the table link */
		"\n"
		"````md\n"					/* 40 */
		"```\n"
		"inner fence is content\n"
		"```\n"
		"````\n"
		"\n"
		"~~~\n"
		"tilde\n"
		"~~~~\n"
		"\n"
		"## Current Focus\n"				/* 50: duplicate -> current-focus-1 */
		"\n"
		"Back to [top](#current-focus-1), [mail](mailto:a@b.c), [web](https://x.org/a.md),\n" /* 52 */
		"[proto](//cdn/x.md), [multi\n"			/* 53 */
		"line](multi.md).\n"
		"\n"
		"[r]: refs/r.md#sec\n";
	check(doc);
	ASSERT_STREQ(diags(), "");
	ASSERT_STREQ(heads(), "1:active-context-atlas-01@11 2:current-focus@16 2:setext-section@24 "
			      "3:details--notes-v2@27 2:current-focus-1@50");
	ASSERT_STREQ(links(), "../notes/x.md#why-it-works@13 img/a b.png@14 refs/r.md#sec@31 q.md@34 t.md@38 "
			      "multi.md@53");
	ASSERT(R.markdown_checked);
}

static void test_file_level(void)
{
	struct rb_md_opts small = { .max_bytes = 10, .links = true };
	check("");
	ASSERT_STREQ(diags(), "empty_file:0");
	check(" \n\t\r\n\n");
	ASSERT_STREQ(diags(), "empty_file:0");
	ASSERT_EQ(rb_md_check("# Title\n\nbody\n", 15, "t.md", &small, &R), 0);
	ASSERT_STREQ(diags(), "too_large:0");
	ASSERT_EQ(R.nheads, 0);
	/* Invalid UTF-8: reported on its line; nothing else (no title here)
	 * is reported, but headings are still collected for anchors. */
	check("intro\n\n## Caf\xc3\xa9\nna\xefve\n### deep\n");
	ASSERT_STREQ(diags(), "invalid_utf8:4");
	ASSERT_STREQ(heads(), "2:caf\xc3\xa9@3 3:deep@5");
	ASSERT_EQ(R.nlinks, 0);
	ASSERT(!R.markdown_checked);
	check("# T\n\xed\xa0\x80 surrogate\n");
	ASSERT_STREQ(diags(), "invalid_utf8:2");
	check("# T\nend \xe2\x82");
	ASSERT_STREQ(diags(), "invalid_utf8:2");
	check("\xc0\xaf overlong\n");
	ASSERT_STREQ(diags(), "invalid_utf8:1");
	ASSERT_EQ(rb_md_utf8_invalid_at("ok \xf4\x90\x80\x80", 7), 3);
	ASSERT_EQ(rb_md_utf8_invalid_at("\xf0\x9f\x98\x80 ok", 7), -1);
}

static void test_title_and_levels(void)
{
	check("Just a paragraph.\n\n# Late Title\n");
	ASSERT_STREQ(diags(), "no_title:1");
	check("\n\n## Second Level First\n\n### Fine\n");
	ASSERT_STREQ(diags(), "no_title:3");
	check("---\na: 1\n---\n\n- a list first\n");
	ASSERT_STREQ(diags(), "no_title:5");
	check("---\na: 1\n---\n");
	ASSERT_STREQ(diags(), "no_title:4");
	check("Setext Title\n============\n\ntext\n");
	ASSERT_STREQ(diags(), "");
	check("# A\n\n### Skipped\n\n## B\n\n#### Skipped Again\n\n##### ok\n\n# Second H1\n\n### skip\n");
	ASSERT_STREQ(diags(), "skipped_heading:3 skipped_heading:7 skipped_heading:13");
	check("# A\n\n## B\n\n### C\n\n## D\n\n# E\n\n## F\n");
	ASSERT_STREQ(diags(), "");
	/* The first heading is judged by no_title alone. */
	check("### Deep first\n\n## then\n");
	ASSERT_STREQ(diags(), "no_title:1");
}

static void test_fences(void)
{
	check("# T\n\ntext\n\n```c\nint x;\n# not a heading\n");
	ASSERT_STREQ(diags(), "unclosed_fence:5");
	ASSERT_EQ(R.nheads, 1);
	check("# T\n\n```\n");
	ASSERT_STREQ(diags(), "unclosed_fence:3");
	check("# T\n\n```\n\n\n");
	ASSERT_STREQ(diags(), "unclosed_fence:3");
	check("# T\n\n~~~~\ncode\n~~~\n");
	ASSERT_STREQ(diags(), "unclosed_fence:3");
	/* Closed by the end of its blockquote, not by a fence. */
	check("# T\n\n> ```\n> code\n\nafter\n");
	ASSERT_STREQ(diags(), "unclosed_fence:3");
	/* Closed ones, in containers and empty. */
	check("# T\n\n> ```\n> code\n> ```\n\n- item\n\n  ```\n  x\n  ```\n\n```\n```\n\n```\n\n```\n");
	ASSERT_STREQ(diags(), "");
	check("# T\n\n```\nx\n`````   \n");
	ASSERT_STREQ(diags(), "");
	/* Two fences, only the second unclosed. */
	check("# T\n\n```\na\n```\n\npara\n\n```py\nb\n");
	ASSERT_STREQ(diags(), "unclosed_fence:9");
}

static void test_front_matter(void)
{
	check("---\ntitle: x\nstatus: draft\n\n# T\n\ntext [l](a.md)\n");
	ASSERT_STREQ(diags(), "bad_front_matter:1");
	ASSERT_EQ(R.nheads, 0);
	ASSERT_EQ(R.nlinks, 0);
	check("---\ntitle: x\nthis is not yaml\nk: v\n---\n# T\n");
	ASSERT_STREQ(diags(), "bad_front_matter:3");
	check("---\n  - orphan\n---\n# T\n");
	ASSERT_STREQ(diags(), "bad_front_matter:2");
	check("---\n\"quoted key\": 1\nlist:\n- a\n- b\nx:y\n...\n# T\n");
	ASSERT_STREQ(diags(), "bad_front_matter:6");
	check("---\r\ntitle: crlf\r\n---\r\n# T\r\n\r\n## A\r\n\r\n#### B\r\n");
	ASSERT_STREQ(diags(), "skipped_heading:8");
	check("\xef\xbb\xbf---\nk: v\n---\n# BOM\n");
	ASSERT_STREQ(diags(), "");
}

static void test_anchors_and_slugs(void)
{
	char s[128];
	check("# Title\n\n## Dup\n\n## Dup\n\n## Dup 1\n\n[a](#dup-1) [b](#dup-2) [c](#dup-1-1) [d](#dup-3)\n"
	      "[e](#Title) [f](#title)\n");
	ASSERT_STREQ(heads(), "1:title@1 2:dup@3 2:dup-1@5 2:dup-1-1@7");
	ASSERT_STREQ(diags(), "broken_anchor:9 broken_anchor:9 broken_anchor:10");
	ASSERT_EQ(R.nlinks, 0); /* self anchors are settled here, not handed out */
	ASSERT_EQ(rb_md_slugify("Active Decisions & Considerations", 33, s, sizeof(s)), 32);
	ASSERT_STREQ(s, "active-decisions--considerations");
	rb_md_slugify("What's Left to Build", 20, s, sizeof(s));
	ASSERT_STREQ(s, "whats-left-to-build");
	rb_md_slugify("Phase 3: Foo/Bar (Baz)?", 23, s, sizeof(s));
	ASSERT_STREQ(s, "phase-3-foobar-baz");
	rb_md_slugify("\xc3\x9c" "ber snake_case", 16, s, sizeof(s));
	ASSERT_STREQ(s, "\xc3\xbc" "ber-snake_case");
	check("# `rb_fs_walk()` &amp; *friends*\n\n[x](#rb_fs_walk--friends)\n");
	ASSERT_STREQ(heads(), "1:rb_fs_walk--friends@1");
	ASSERT_STREQ(diags(), "");
	/* Empty headings get a line too. */
	check("# T\n\ntext\n\n##\n\n###\n");
	ASSERT_STREQ(heads(), "1:t@1 2:@5 3:-1@7"); /* github-slugger does the same */
}

static void test_links(void)
{
	check("# T\n\n[a](a%2Fb.md) [b](<sp ace.md>) [c](c.md?x=1#Frag%20X) [d](?q) [e](HTTP://X)\n"
	      "[f](../up.md \"title\") [g](sub/) [h](/abs.md) [i](x&amp;y.md) [j](C:/win.md)\n");
	ASSERT_STREQ(links(), "a/b.md@3 sp ace.md@3 c.md#Frag X@3 ../up.md@4 sub/@4 /abs.md@4 x&y.md@4");
	ASSERT_STREQ(diags(), "");
	{
		struct rb_md_opts o = { .links = false };
		ASSERT_EQ(rb_md_check("# T\n[a](a.md) [b](#nope)\n", 26, NULL, &o, &R), 0);
		ASSERT_EQ(R.nlinks, 0);
		ASSERT_STREQ(diags(), "");
	}
}

int main(void)
{
	rb_md_result_init(&R);
	test_clean();
	test_file_level();
	test_title_and_levels();
	test_fences();
	test_front_matter();
	test_anchors_and_slugs();
	test_links();
	rb_md_result_free(&R);
	return T_EXIT_PASS;
}
