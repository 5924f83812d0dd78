/* jsonout.c: JSON string bodies escaped in one pass (contracts in jsonout.h).
 *
 * On x86-64 the common case (runs of printable ASCII between newlines) is
 * handled 16 bytes at a time with SSE2, which every x86-64 CPU has: one
 * compare finds the bytes that need attention (controls, '"', '\\' and
 * anything >= 0x80); the bytes before the first of them are copied as a
 * whole vector. Lengths of ASCII blocks are summed in vector lanes, with no
 * branch per escaped byte. Every byte >= 0x80, and every byte escaped on
 * output, goes through the same code as the portable path, and the tests
 * check both paths against yyjson. */
#include <stdint.h>
#include <string.h>

#include "jsonout.h"

#if defined(__SSE2__) && defined(__x86_64__) && !defined(RB_JSON_NO_SIMD)
#include <emmintrin.h>
#define JSON_SSE2 1
#endif

/* Extra output bytes of an ASCII byte: 1 for the two-character escapes, 5
 * for \u00XX, 0 for bytes copied as they are. */
static const unsigned char esc_extra[128] = {
	5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5,
	5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* The letter of a two-character escape (0: none, or not ASCII). */
static const char esc_short[256] = {
	['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
};

/* Length of the valid UTF-8 sequence at u[i] (2..4; u[i] >= 0x80), or
 * -(bytes replaced by one U+FFFD): the WHATWG decoder's maximal subpart,
 * the same rule as rb_utf8_repair. */
static int utf8_seq(const unsigned char *u, size_t len, size_t i)
{
	unsigned c = u[i], lo = 0x80, hi = 0xBF;
	int need;

	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return -1;
	}
	for (int k = 1; k <= need; k++) {
		if (i + (size_t)k >= len || u[i + k] < lo || u[i + k] > hi)
			return -k;
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

/* An ASCII byte that needs escaping ('"', '\\' or a control). */
static char *put_escape(char *out, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";

	if (esc_short[c]) {
		out[0] = '\\';
		out[1] = esc_short[c];
		return out + 2;
	}
	out[0] = '\\';
	out[1] = 'u';
	out[2] = '0';
	out[3] = '0';
	out[4] = hex[c >> 4];
	out[5] = hex[c & 15];
	return out + 6;
}

/* The byte at u[*i] needs attention: writes it (escaped, copied as a whole
 * UTF-8 sequence, or replaced by U+FFFD) and moves *i past it. */
static char *put_special(char *out, const unsigned char *u, size_t len, size_t *i)
{
	int n;

	if (u[*i] < 0x80) {
		out = put_escape(out, u[*i]);
		*i += 1;
		return out;
	}
	n = utf8_seq(u, len, *i);
	if (n > 0) {
		memcpy(out, u + *i, (size_t)n);
		*i += (size_t)n;
		return out + n;
	}
	out[0] = (char)0xEF; /* U+FFFD */
	out[1] = (char)0xBF;
	out[2] = (char)0xBD;
	*i += (size_t)-n;
	return out + 3;
}

/* Output bytes of the byte(s) at u[*i] minus the input bytes consumed,
 * moving *i past them; clears *ok on invalid UTF-8. */
static size_t special_extra(const unsigned char *u, size_t len, size_t *i, bool *ok)
{
	int n;

	if (u[*i] < 0x80)
		return esc_extra[u[(*i)++]];
	n = utf8_seq(u, len, *i);
	if (n > 0) {
		*i += (size_t)n;
		return 0;
	}
	/* 1..3 bytes become the 3 of U+FFFD. */
	*ok = false;
	*i += (size_t)-n;
	return 3 - (size_t)-n;
}

size_t rb_json_esc_len_portable(const char *s, size_t len, bool *valid)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = len, i = 0;
	bool ok = true;

	while (i < len) {
		if (u[i] < 0x80 && !esc_extra[u[i]])
			i++;
		else
			n += special_extra(u, len, &i, &ok);
	}
	if (valid)
		*valid = ok;
	return n;
}

char *rb_json_esc_portable(char *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t j = i;
		while (j < len && u[j] < 0x80 && !esc_extra[u[j]])
			j++;
		memcpy(out, u + i, j - i);
		out += j - i;
		i = j;
		if (i < len)
			out = put_special(out, u, len, &i);
	}
	return out;
}

#ifdef JSON_SSE2
static inline __m128i sse2_eq(__m128i v, char c)
{
	return _mm_cmpeq_epi8(v, _mm_set1_epi8(c));
}

/* Bit k set when byte k of v needs attention. Signed compare: bytes >= 0x80
 * are negative, so "< 0x20" catches them with the controls. */
static inline uint32_t sse2_special(__m128i v)
{
	__m128i m = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
				 _mm_or_si128(sse2_eq(v, '"'), sse2_eq(v, '\\')));
	return (uint32_t)_mm_movemask_epi8(m);
}

/* Extra output bytes of 16 ASCII bytes, one lane each: 1 for every byte
 * that is escaped, 4 more for the controls written as \u00XX. Summed with
 * psadbw, so a block of plain text costs no branch however many newlines
 * it holds. */
static inline __m128i sse2_extra(__m128i v)
{
	__m128i ctrl = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
	__m128i quote = _mm_or_si128(sse2_eq(v, '"'), sse2_eq(v, '\\'));
	__m128i two = _mm_or_si128(_mm_or_si128(sse2_eq(v, '\n'), sse2_eq(v, '\t')),
				   _mm_or_si128(_mm_or_si128(sse2_eq(v, '\r'), sse2_eq(v, '\b')), sse2_eq(v, '\f')));

	return _mm_add_epi8(_mm_and_si128(_mm_or_si128(quote, ctrl), _mm_set1_epi8(1)),
			    _mm_and_si128(_mm_andnot_si128(two, ctrl), _mm_set1_epi8(4)));
}

size_t rb_json_esc_len(const char *s, size_t len, bool *valid)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = len, i = 0, tail;
	bool ok = true, tail_ok;
	__m128i acc = _mm_setzero_si128();

	while (len - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
		uint32_t hi = (uint32_t)_mm_movemask_epi8(v), a;

		if (!hi) {
			acc = _mm_add_epi64(acc, _mm_sad_epu8(sse2_extra(v), _mm_setzero_si128()));
			i += 16;
			continue;
		}
		/* Not ASCII: the escaped bytes before the first byte >= 0x80 are
		 * counted one by one, and that byte's sequence by the common code. */
		a = sse2_special(v) & ((hi & (0u - hi)) - 1);
		for (; a; a &= a - 1)
			n += esc_extra[u[i + (unsigned)__builtin_ctz(a)]];
		i += (unsigned)__builtin_ctz(hi);
		n += special_extra(u, len, &i, &ok);
	}
	n += (size_t)_mm_cvtsi128_si64(acc) + (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
	tail = rb_json_esc_len_portable(s + i, len - i, &tail_ok);
	if (valid)
		*valid = ok && tail_ok;
	return n - (len - i) + tail;
}

char *rb_json_esc(char *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (len - i >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(u + i));
		uint32_t m = sse2_special(v), k;

		/* The whole vector is stored; only the bytes before the first
		 * special one count (the rest is overwritten or is slack). */
		_mm_storeu_si128((__m128i *)(void *)out, v);
		if (!m) {
			out += 16;
			i += 16;
			continue;
		}
		k = (unsigned)__builtin_ctz(m);
		out += k;
		i += k;
		if (esc_short[u[i]]) { /* mostly '\n': the short way */
			out[0] = '\\';
			out[1] = esc_short[u[i]];
			out += 2;
			i++;
		} else {
			out = put_special(out, u, len, &i);
		}
	}
	return rb_json_esc_portable(out, s + i, len - i);
}
#else
size_t rb_json_esc_len(const char *s, size_t len, bool *valid)
{
	return rb_json_esc_len_portable(s, len, valid);
}

char *rb_json_esc(char *out, const char *s, size_t len)
{
	return rb_json_esc_portable(out, s, len);
}
#endif

/* yyjson has no documented call for "room in the document's string pool";
 * unsafe_yyjson_mut_str_alc is the inline helper of yyjson.h that its own
 * strncpy uses ("unsafe": it checks no arguments). Checked with 0.10.0, the
 * system package and the wrap alike; this is the one place that relies on
 * it, and test-jsonout fails if it ever stops working. */
char *rb_json_doc_alloc(yyjson_mut_doc *d, size_t len)
{
	return d ? unsafe_yyjson_mut_str_alc(d, len) : NULL;
}

char *rb_json_str_begin(yyjson_mut_doc *d, struct rb_json_str *js, size_t cap)
{
	/* The quotes, the slack rb_json_esc may store into, and a NUL. */
	js->cap = cap;
	js->buf = cap > SIZE_MAX - 2 - RB_JSON_ESC_SLACK ? NULL : rb_json_doc_alloc(d, cap + 2 + RB_JSON_ESC_SLACK);
	if (!js->buf)
		return NULL;
	js->buf[0] = '"';
	return js->buf + 1;
}

yyjson_mut_val *rb_json_str_end(yyjson_mut_doc *d, struct rb_json_str *js, char *end)
{
	size_t n;

	/* More than was reserved would have been a bug in the caller's count. */
	if (!js->buf || end < js->buf + 1 || (size_t)(end - js->buf - 1) > js->cap)
		return NULL;
	*end++ = '"';
	*end = '\0';
	n = (size_t)(end - js->buf);
	return yyjson_mut_rawn(d, js->buf, n);
}
