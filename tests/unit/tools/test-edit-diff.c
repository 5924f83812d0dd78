/* Description: edit_file's text machinery gives what the official server
 * gives. The unified diffs below were produced by jsdiff 8.0.4's
 * createTwoFilesPatch (the official edit_file's diff) and the edit results
 * by the official server's own applyFileEdits (2026.8.31): exact and
 * whitespace-tolerant matching, indentation rules, CRLF in edit texts, and
 * which edit fails. */
#include "../t.h"
#include "ringbank/error.h"
#include "text.h"

struct dcase {
	const char *name, *a, *b, *diff;
};

static const struct dcase dcases[] = {
	{ "middle change", "line1\nline2\nline3\nline4\nline5\nline6\nline7\nline8\nline9\nline10\nline11\nline12\nline13\nline14\nline15\nline16\nline17\nline18\nline19\nline20\nline21\nline22\nline23\nline24\nline25\nline26\nline27\nline28\nline29\nline30\n", "line1\nline2\nline3\nline4\nline5\nline6\nline7\nline8\nline9\nline10\nline11\nline12\nline13\nline14\nLINE15\nline16\nline17\nline18\nline19\nline20\nline21\nline22\nline23\nline24\nline25\nline26\nline27\nline28\nline29\nline30\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -11,9 +11,9 @@\n line11\n line12\n line13\n line14\n-line15\n+LINE15\n line16\n line17\n line18\n line19\n" },
	{ "two hunks 9 apart", "line1\nline2\nline3\nline4\nline5\nline6\nline7\nline8\nline9\nline10\nline11\nline12\nline13\nline14\nline15\nline16\nline17\nline18\nline19\nline20\nline21\nline22\nline23\nline24\nline25\nline26\nline27\nline28\nline29\nline30\n", "line1\nline2\nline3\nline4\nX\nline6\nline7\nline8\nline9\nline10\nline11\nline12\nline13\nline14\nY\nline16\nline17\nline18\nline19\nline20\nline21\nline22\nline23\nline24\nline25\nline26\nline27\nline28\nline29\nline30\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -1,9 +1,9 @@\n line1\n line2\n line3\n line4\n-line5\n+X\n line6\n line7\n line8\n line9\n@@ -11,9 +11,9 @@\n line11\n line12\n line13\n line14\n-line15\n+Y\n line16\n line17\n line18\n line19\n" },
	{ "merged 8 apart", "line1\nline2\nline3\nline4\nline5\nline6\nline7\nline8\nline9\nline10\nline11\nline12\nline13\nline14\nline15\nline16\nline17\nline18\nline19\nline20\nline21\nline22\nline23\nline24\nline25\nline26\nline27\nline28\nline29\nline30\n", "line1\nline2\nline3\nline4\nX\nline6\nline7\nline8\nline9\nline10\nline11\nline12\nline13\nY\nline15\nline16\nline17\nline18\nline19\nline20\nline21\nline22\nline23\nline24\nline25\nline26\nline27\nline28\nline29\nline30\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -1,18 +1,18 @@\n line1\n line2\n line3\n line4\n-line5\n+X\n line6\n line7\n line8\n line9\n line10\n line11\n line12\n line13\n-line14\n+Y\n line15\n line16\n line17\n line18\n" },
	{ "no newline at end", "a\nb", "a\nc",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n" },
	{ "newline added at end", "a", "a\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -1,1 +1,1 @@\n-a\n\\ No newline at end of file\n+a\n" },
	{ "from empty", "", "x\ny\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -0,0 +1,2 @@\n+x\n+y\n" },
	{ "to empty", "x\ny\n", "",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -1,2 +0,0 @@\n-x\n-y\n" },
	{ "identical", "same\n", "same\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n" },
	{ "ambiguous repeats", "a\nb\na\nb\n", "b\na\nb\na\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -1,4 +1,4 @@\n-a\n b\n a\n b\n+a\n" },
	{ "insert at top", "line1\nline2\nline3\nline4\nline5\nline6\n", "new\nline1\nline2\nline3\nline4\nline5\nline6\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -1,4 +1,5 @@\n+new\n line1\n line2\n line3\n line4\n" },
	{ "delete at end", "line1\nline2\nline3\nline4\nline5\nline6\nline7\nline8\nline9\nline10\n", "line1\nline2\nline3\nline4\nline5\nline6\nline7\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -4,7 +4,4 @@\n line4\n line5\n line6\n line7\n-line8\n-line9\n-line10\n" },
	{ "tabs and blanks", "x\n\n\ty\n\n", "x\n\n\tz\n\n\n",
	  "Index: F\n===================================================================\n--- F\toriginal\n+++ F\tmodified\n@@ -1,4 +1,5 @@\n x\n \n-\ty\n+\tz\n \n+\n" },
	{ NULL, NULL, NULL, NULL },
};

struct ecase {
	const char *name, *content;
	size_t n;
	struct rb_edit edits[2];
	long failed;		/* index of the edit not found, or -1 */
	const char *result;
};

static const struct ecase ecases[] = {
	{ "exact first occurrence", "a b a b\n", 1, { { "a", 1, "X", 1 } }, -1, "X b a b\n" },
	{ "empty oldText inserts at start", "abc\n", 1, { { "", 0, "Z", 1 } }, -1, "Zabc\n" },
	{ "fuzzy indentation", "def f():\n    if x:\n        return 1\n", 1, { { "if x:\n    return 1", 18, "if y:\n        return 2", 22 } }, -1, "def f():\n    if y:\n        return 2\n" },
	{ "fuzzy trailing spaces", "a  \n  b\nc\n", 1, { { "a\nb", 3, "A\nB", 3 } }, -1, "A\nB\nc\n" },
	{ "fuzzy nbsp and tabs", "\tx \n\ty\n", 1, { { "x\ny", 3, "p\n\t\tq", 5 } }, -1, "\tp\n\t\tq\n" },
	{ "sequential edits", "one\ntwo\nthree\n", 2, { { "one", 3, "1", 1 }, { "1\ntwo", 5, "uno\ndos", 7 } }, -1, "uno\ndos\nthree\n" },
	{ "crlf in edit text", "p\nq\n", 1, { { "p\r\nq", 4, "P\r\nQ", 4 } }, -1, "P\nQ\n" },
	{ "not found", "abc\n", 1, { { "zzz", 3, "y", 1 } }, 0, NULL },
	{ "second edit not found", "abc\n", 2, { { "a", 1, "b", 1 }, { "qqq", 3, "y", 1 } }, 1, NULL },
	{ "multi-line new text keeps relative indent", "  start\n    mid\n  end\n", 1, { { "start\nmid\nend", 13, "S\n      M\n  E\n   extra", 22 } }, -1, "  S\n      M\n  E\n   extra\n" },
	{ NULL, NULL, 0, { { 0 } }, 0, NULL },
};

static void check_diffs(void)
{
	for (const struct dcase *c = dcases; c->name; c++) {
		struct rb_sbuf out = { 0 };
		ASSERT_EQ(rb_diff_unified(&out, "F", c->a, strlen(c->a), c->b, strlen(c->b)), 0);
		if (strcmp(out.p, c->diff))
			T_FAIL("diff \"%s\":\n--- want\n%s--- got\n%s", c->name, c->diff, out.p);
		rb_sbuf_free(&out);
	}
}

static void check_edits(void)
{
	for (const struct ecase *c = ecases; c->name; c++) {
		struct rb_sbuf out = { 0 };
		size_t failed = 99;
		int r = rb_edits_apply(c->content, strlen(c->content), c->edits, c->n, &out, &failed);
		if (c->failed >= 0) {
			ASSERT_EQ(r, -RB_E_NO_MATCH);
			ASSERT_EQ(failed, c->failed);
			ASSERT(out.p == NULL);
			continue;
		}
		ASSERT_EQ(r, 0);
		if (strcmp(out.p, c->result))
			T_FAIL("edit \"%s\": want \"%s\" got \"%s\"", c->name, c->result, out.p);
		rb_sbuf_free(&out);
	}
}

/* A large, very different pair takes the coarse fallback: still a valid
 * patch whose - and + lines rebuild both sides. */
static void check_fallback(void)
{
	struct rb_sbuf a = { 0 }, b = { 0 }, out = { 0 };
	size_t minus = 0, plus = 0;
	for (int i = 0; i < 6000; i++) {
		rb_sbuf_addf(&a, "old %d\n", i);
		rb_sbuf_addf(&b, "new %d\n", i);
	}
	ASSERT_EQ(rb_diff_unified(&out, "F", a.p, a.len, b.p, b.len), 0);
	for (char *l = out.p; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		minus += l[0] == '-' && l[1] != '-';
		plus += l[0] == '+' && l[1] != '+';
	}
	ASSERT_EQ(minus, 6000);
	ASSERT_EQ(plus, 6000);
	ASSERT(strstr(out.p, "@@ -1,6000 +1,6000 @@\n"));
	rb_sbuf_free(&a);
	rb_sbuf_free(&b);
	rb_sbuf_free(&out);
}

int main(void)
{
	check_diffs();
	check_edits();
	check_fallback();
	return T_EXIT_PASS;
}
