/* Description: the one-pass JSON string escaper behind read_multiple_files
 * (src/tools/jsonout.c) prints exactly what the old path printed: the text
 * repaired by rb_utf8_repair, put in a yyjson document and written by
 * yyjson's own writer (flags 0). Checked on fixed cases (every control
 * byte, '"', '\\', DEL, NUL, U+2028/2029, 4-byte characters, each kind of
 * invalid UTF-8) and on random byte strings built from those pieces at
 * every offset around the 16- and 32-byte blocks of the SSE2 path, for
 * both the SSE2 and the portable functions: same bytes, same length, same
 * validity. Buffers are sized exactly (length + RB_JSON_ESC_SLACK) so ASan
 * catches a write past the promised room. Also: a raw string value built
 * in place in a document writes like the ordinary string value. */
#include "../t.h"
#include "jsonout.h"
#include "text.h"

static unsigned long long rng = 0x9E3779B97F4A7C15ull;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* What the old path sent: yyjson's writer on the repaired text, quotes off. */
static char *reference(const char *s, size_t len, size_t *outlen)
{
	struct rb_sbuf fix = { 0 };
	yyjson_mut_doc *d = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *v;
	char *w, *r;
	size_t wl;

	rb_utf8_repair(&fix, s, len);
	ASSERT(!fix.oom && d);
	v = yyjson_mut_strncpy(d, fix.p ? fix.p : "", fix.len);
	ASSERT(v);
	yyjson_mut_doc_set_root(d, v);
	w = yyjson_mut_write(d, 0, &wl);
	ASSERT(w && wl >= 2 && w[0] == '"' && w[wl - 1] == '"');
	r = malloc(wl);
	ASSERT(r);
	memcpy(r, w + 1, wl - 2);
	*outlen = wl - 2;
	free(w);
	yyjson_mut_doc_free(d);
	rb_sbuf_free(&fix);
	return r;
}

static void dump(const char *what, const char *s, size_t len)
{
	fprintf(stderr, "%s (%zu):", what, len);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, " %02x", (unsigned char)s[i]);
	fputc('\n', stderr);
}

/* Both implementations against the reference, for s. */
static void check(const char *s, size_t len)
{
	size_t want_len, n;
	char *want = reference(s, len, &want_len);
	bool valid = rb_utf8_valid(s, len);

	for (int impl = 0; impl < 2; impl++) {
		bool v = !valid;
		size_t el = impl ? rb_json_esc_len_portable(s, len, &v) : rb_json_esc_len(s, len, &v);
		char *out = malloc(el + RB_JSON_ESC_SLACK), *end;
		ASSERT(out);
		end = impl ? rb_json_esc_portable(out, s, len) : rb_json_esc(out, s, len);
		n = (size_t)(end - out);
		if (el != want_len || n != want_len || memcmp(out, want, want_len) || v != valid) {
			dump("input", s, len);
			dump("yyjson", want, want_len);
			dump(impl ? "portable" : "simd", out, n);
			T_FAIL("%s: length %zu, wrote %zu, yyjson %zu; valid %d, want %d", impl ? "portable" : "simd",
			       el, n, want_len, v, valid);
		}
		free(out);
	}
	if (valid)
		ASSERT_EQ(want_len, rb_json_str_len(s, len));
	ASSERT_EQ(rb_json_esc_len(s, len, NULL), want_len); /* valid may be NULL */
	free(want);
}

static void check_str(const char *s)
{
	check(s, strlen(s));
}

/* Pieces random inputs are made of: plain text, each escape, valid
 * sequences of every length, and each way UTF-8 goes wrong. */
static const struct {
	const char *s;
	size_t len;
} pieces[] = {
#define P(x) { x, sizeof(x) - 1 }
	P("a"), P("plain ASCII text, "), P("0123456789abcdef"), P(" "), P("\x7f"),
	P("\""), P("\\"), P("\n"), P("\r\n"), P("\t"), P("\b"), P("\f"), P("\x01"), P("\x1f"), P("\x0b"), { "\0", 1 },
	P("\xc3\xa9"), P("\xe2\x82\xac"), P("\xe2\x80\xa8"), P("\xe2\x80\xa9"), P("\xef\xbf\xbd"), P("\xf0\x9f\x98\x80"),
	P("\xf4\x8f\xbf\xbf"), P("\xed\x9f\xbf"), P("\xee\x80\x80"),
	P("\x80"), P("\xbf"), P("\xc0\xaf"), P("\xc1\xbf"), P("\xc3"), P("\xe2\x82"), P("\xf0\x9f\x98"), P("\xe0\x80\x80"),
	P("\xe0\x9f\xbf"), P("\xed\xa0\x80"), P("\xed\xbf\xbf"), P("\xf0\x80\x80\x80"), P("\xf4\x90\x80\x80"), P("\xf5"),
	P("\xf8\x88\x80\x80\x80"), P("\xfe"), P("\xff"),
#undef P
};

int main(void)
{
	char buf[4096];
	size_t len;

	/* Fixed cases. */
	check("", 0);
	check_str("hello");
	check_str("say \"hi\" \\ bye");
	check_str("line\nline\r\ntab\there\b\f");
	check("\0", 1);
	check("a\0b", 3);
	for (int c = 0; c < 0x20; c++) {
		char one[40];
		memset(one, 'x', sizeof(one));
		one[17] = (char)c; /* inside a block too */
		check(one, sizeof(one));
		one[0] = (char)c;
		check(one, 1);
	}
	check_str("\x7f DEL is copied");
	check_str("U+2028 \xe2\x80\xa8 and U+2029 \xe2\x80\xa9 are copied");
	check_str("four bytes: \xf0\x9f\x98\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf");
	check_str("overlong \xc0\xaf \xe0\x80\xaf \xf0\x80\x80\xaf");
	check_str("surrogate \xed\xa0\x80\xed\xbf\xbf");
	check_str("above U+10FFFF \xf4\x90\x80\x80 \xf5\x80\x80\x80");
	check_str("truncated at the end \xe2\x82");
	check_str("\xf0\x9f\x98");
	check_str("lone continuation \x80\x80\x80 x");
	check_str("\xff\xfe\xfd");
	/* Every byte value, alone and after 15 bytes of ASCII. */
	for (int c = 0; c < 256; c++) {
		memset(buf, 'y', 64);
		buf[0] = (char)c;
		check(buf, 1);
		buf[15] = (char)c;
		buf[16] = (char)c;
		check(buf, 17);
		check(buf, 64);
	}

	/* Random strings of the pieces, shifted across block boundaries. */
	for (int round = 0; round < 4000; round++) {
		size_t want = 1 + rnd(round < 3000 ? 80 : 1500), shift = rnd(40);
		len = 0;
		while (len < shift)
			buf[len++] = (char)('A' + rnd(26));
		while (len < want) {
			unsigned k = rnd(10) < 6 ? rnd(5) : rnd((unsigned)(sizeof(pieces) / sizeof(pieces[0])));
			if (len + pieces[k].len > sizeof(buf))
				break;
			memcpy(buf + len, pieces[k].s, pieces[k].len);
			len += pieces[k].len;
		}
		check(buf, len);
	}
	/* Uniformly random bytes, mostly invalid. */
	for (int round = 0; round < 2000; round++) {
		len = rnd(200);
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)rnd(256);
		check(buf, len);
	}

	/* A value written in place writes like an ordinary string value. */
	{
		const char *text = "a \"quoted\" line\n\xe2\x80\xa8 \xff end";
		yyjson_mut_doc *d = yyjson_mut_doc_new(NULL), *e = yyjson_mut_doc_new(NULL);
		struct rb_json_str js;
		struct rb_sbuf fix = { 0 };
		size_t el = rb_json_esc_len(text, strlen(text), NULL), la, lb;
		char *p, *a, *b;
		yyjson_mut_val *ra = yyjson_mut_obj(d), *rb = yyjson_mut_obj(e), *v;

		ASSERT(d && e && ra && rb);
		p = rb_json_str_begin(d, &js, el);
		ASSERT(p);
		v = rb_json_str_end(d, &js, rb_json_esc(p, text, strlen(text)));
		ASSERT(v);
		yyjson_mut_obj_add_str(d, ra, "type", "text");
		yyjson_mut_obj_add_val(d, ra, "text", v);
		yyjson_mut_doc_set_root(d, ra);
		rb_utf8_repair(&fix, text, strlen(text));
		yyjson_mut_obj_add_str(e, rb, "type", "text");
		yyjson_mut_obj_add_strncpy(e, rb, "text", fix.p, fix.len);
		yyjson_mut_doc_set_root(e, rb);
		a = yyjson_mut_write(d, 0, &la);
		b = yyjson_mut_write(e, 0, &lb);
		ASSERT(a && b);
		ASSERT_EQ(la, lb);
		ASSERT(!memcmp(a, b, la));
		/* Writing past what was reserved is refused, not sent. */
		p = rb_json_str_begin(d, &js, 4);
		ASSERT(p);
		ASSERT(rb_json_str_end(d, &js, p + 5) == NULL);
		ASSERT(rb_json_str_end(d, &js, p + 4) != NULL);
		free(a);
		free(b);
		rb_sbuf_free(&fix);
		yyjson_mut_doc_free(d);
		yyjson_mut_doc_free(e);
	}
	return T_EXIT_PASS;
}
