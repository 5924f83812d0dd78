/* Description: the text helpers behind read_text_file and
 * list_directory_with_sizes: head/tail slicing with the official server's
 * semantics, its formatSize (toFixed rounding), UTF-8 repair like Node's
 * decoder, JSON length estimates, String.length for padding. Expected
 * values were computed with node 20. */
#include "../t.h"
#include "text.h"

static void slice(void (*f)(const char *, size_t, uint64_t, size_t *, size_t *), const char *s, uint64_t n,
		  const char *want)
{
	size_t off, len;
	f(s, strlen(s), n, &off, &len);
	if (len != strlen(want) || memcmp(s + off, want, len))
		T_FAIL("\"%s\" n=%llu: want \"%s\" got \"%.*s\"", s, (unsigned long long)n, want, (int)len, s + off);
}

static void size_is(uint64_t b, const char *want)
{
	char out[32];
	rb_format_size(b, out);
	ASSERT_STREQ(out, want);
}

static void repair_is(const char *in, size_t len, const char *want)
{
	struct rb_sbuf b = { 0 };
	rb_utf8_repair(&b, in, len);
	ASSERT_EQ(b.len, strlen(want));
	ASSERT(!memcmp(b.p, want, b.len));
	ASSERT(rb_utf8_valid(b.p, b.len));
	rb_sbuf_free(&b);
}

int main(void)
{
	char crlf[] = "a\r\nb\r\n\rc\r\n";

	/* headFile: the first n lines joined by '\n', no trailing newline. */
	slice(rb_text_head, "a\nb\nc\n", 2, "a\nb");
	slice(rb_text_head, "a\nb\nc\n", 3, "a\nb\nc");
	slice(rb_text_head, "a\nb\nc\n", 9, "a\nb\nc");
	slice(rb_text_head, "a\nb\nc", 9, "a\nb\nc");
	slice(rb_text_head, "a\n\n", 5, "a\n");
	slice(rb_text_head, "", 1, "");
	/* tailFile: split('\n').slice(-n).join('\n'). */
	slice(rb_text_tail, "a\nb\nc\n", 1, "");
	slice(rb_text_tail, "a\nb\nc\n", 2, "c\n");
	slice(rb_text_tail, "a\nb\nc", 2, "b\nc");
	slice(rb_text_tail, "a\nb\nc", 9, "a\nb\nc");
	slice(rb_text_tail, "abc", 1, "abc");

	ASSERT_EQ(rb_crlf_to_lf(crlf, strlen(crlf)), 7);
	ASSERT_STREQ(crlf, "a\nb\n\rc\n");
	ASSERT(rb_text_is_crlf("x\r\ny\r\n", 6));
	ASSERT(!rb_text_is_crlf("x\r\ny\n", 5));
	ASSERT(!rb_text_is_crlf("xy", 2));

	/* formatSize, node: (b / 1024 ** i).toFixed(2) */
	size_is(0, "0 B");
	size_is(1, "1 B");
	size_is(1023, "1023 B");
	size_is(1024, "1.00 KB");
	size_is(1100, "1.07 KB");
	size_is(1152, "1.13 KB"); /* 1.125 exactly: toFixed rounds up, printf would give 1.12 */
	size_is(1536, "1.50 KB");
	size_is(1048575, "1024.00 KB");
	size_is(1048576, "1.00 MB");
	size_is(1073741823, "1024.00 MB");
	size_is(1073741824, "1.00 GB");
	size_is(1099511627776ull, "1.00 TB");
	size_is(1125899906842624ull, "1024.00 TB");

	/* Node's Buffer.toString('utf8'): one U+FFFD per maximal invalid subpart. */
	repair_is("a\xff" "b", 3, "a\xEF\xBF\xBD" "b");
	repair_is("\xe2\x82\n", 3, "\xEF\xBF\xBD\n");
	repair_is("\xf0\x9f\x98", 3, "\xEF\xBF\xBD");
	repair_is("\xed\xa0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); /* a surrogate */
	repair_is("\xc0\xaf", 2, "\xEF\xBF\xBD\xEF\xBF\xBD");		  /* overlong */
	repair_is("ok \xf0\x9f\x8c\x8d", 7, "ok \xf0\x9f\x8c\x8d");
	ASSERT(rb_utf8_valid("h\xc3\xa9llo \xf0\x9f\x8c\x8d", 11));
	ASSERT(!rb_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */

	ASSERT_EQ(rb_json_str_len("a\"b\n\x01", 5), 1 + 2 + 1 + 2 + 6);
	ASSERT_EQ(rb_js_length("h\xc3\xa9 \xf0\x9f\x8c\x8d", 8), 5); /* "hé 🌍".length */
	return T_EXIT_PASS;
}
