/* text.c: buffer, UTF-8, head/tail, size format and whitespace-tolerant
 * edits for the file tools (contracts in text.h). The edit rules reproduce
 * the official filesystem server's applyFileEdits so that prompts written
 * for it keep working; the whitespace set is JavaScript's \s / trim(). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringbank/error.h"
#include "text.h"

/* ---- buffer ------------------------------------------------------------------ */

static bool sbuf_grow(struct rb_sbuf *b, size_t more)
{
	size_t need, nc;
	char *np;
	if (b->oom)
		return false;
	if (more > SIZE_MAX - b->len - 1)
		goto oom;
	need = b->len + more + 1;
	if (need <= b->cap)
		return true;
	nc = b->cap ? b->cap : 256;
	while (nc < need)
		nc = nc > SIZE_MAX / 2 ? need : nc * 2;
	np = realloc(b->p, nc);
	if (!np)
		goto oom;
	b->p = np;
	b->cap = nc;
	return true;
oom:
	b->oom = true;
	return false;
}

void rb_sbuf_add(struct rb_sbuf *b, const void *s, size_t n)
{
	if (!sbuf_grow(b, n))
		return;
	if (n)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void rb_sbuf_adds(struct rb_sbuf *b, const char *s)
{
	rb_sbuf_add(b, s, strlen(s));
}

void rb_sbuf_addc(struct rb_sbuf *b, char c)
{
	rb_sbuf_add(b, &c, 1);
}

void rb_sbuf_addf(struct rb_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sbuf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void rb_sbuf_free(struct rb_sbuf *b)
{
	free(b->p);
	*b = (struct rb_sbuf){ 0 };
}

/* ---- UTF-8 --------------------------------------------------------------------- */

/* Length of the valid sequence at s[i] (1..4), or -(bytes to replace with
 * one U+FFFD) following the WHATWG decoder's "maximal subpart" rule. */
static int utf8_seq(const unsigned char *s, size_t len, size_t i)
{
	unsigned c = s[i], lo = 0x80, hi = 0xBF;
	int need;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return -1;
	}
	for (int k = 1; k <= need; k++) {
		if (i + (size_t)k >= len || s[i + k] < lo || s[i + k] > hi)
			return -k;
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

bool rb_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		int n;
		uint64_t w;
		/* ASCII, the common case, 8 bytes at a time. */
		while (i + 8 <= len && (memcpy(&w, u + i, 8), !(w & 0x8080808080808080ull)))
			i += 8;
		if (i >= len)
			break;
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(u, len, i);
		if (n < 0)
			return false;
		i += (size_t)n;
	}
	return true;
}

void rb_utf8_repair(struct rb_sbuf *out, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;
	while (i < len) {
		int n = utf8_seq(u, len, i);
		if (n > 0) {
			i += (size_t)n;
			continue;
		}
		rb_sbuf_add(out, s + run, i - run);
		rb_sbuf_add(out, "\xEF\xBF\xBD", 3);
		i += (size_t)-n;
		run = i;
	}
	rb_sbuf_add(out, s + run, len - run);
}

size_t rb_json_str_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f')
			n += 2;
		else if (c < 0x20)
			n += 6;
		else
			n += 1;
	}
	return n;
}

/* ---- lines ------------------------------------------------------------------------ */

void rb_text_head(const char *s, size_t len, uint64_t n, size_t *off, size_t *outlen)
{
	uint64_t seen = 0;
	*off = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n' && ++seen == n) {
			*outlen = i;
			return;
		}
	}
	*outlen = len && s[len - 1] == '\n' ? len - 1 : len;
}

void rb_text_tail(const char *s, size_t len, uint64_t n, size_t *off, size_t *outlen)
{
	uint64_t seen = 0;
	for (size_t i = len; i-- > 0;) {
		if (s[i] == '\n' && ++seen == n) {
			*off = i + 1;
			*outlen = len - i - 1;
			return;
		}
	}
	*off = 0;
	*outlen = len;
}

uint64_t rb_text_newlines(const char *s, size_t len, uint64_t *crlf)
{
	uint64_t n = 0, pairs = 0;
	const char *p = s, *end = s + len, *nl;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		if (nl > s && nl[-1] == '\r')
			pairs++;
		p = nl + 1;
	}
	if (crlf)
		*crlf = pairs;
	return n;
}

size_t rb_crlf_to_lf(char *s, size_t len)
{
	size_t w = 0;
	for (size_t r = 0; r < len; r++) {
		if (s[r] == '\r' && r + 1 < len && s[r + 1] == '\n')
			continue;
		s[w++] = s[r];
	}
	if (w < len)
		s[w] = '\0';
	return w;
}

bool rb_text_is_crlf(const char *s, size_t len)
{
	bool any = false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			if (i == 0 || s[i - 1] != '\r')
				return false;
			any = true;
		}
	}
	return any;
}

void rb_format_size(uint64_t bytes, char *out)
{
	static const char *const units[] = { "B", "KB", "MB", "GB", "TB" };
	unsigned i = 0;
	unsigned __int128 q, rem, unit;
	if (bytes == 0) {
		strcpy(out, "0 B");
		return;
	}
	/* Theirs: floor(log(b) / log(1024)); the integer form agrees with it at
	 * every power of 1024 (checked against node in the unit test). */
	while (i < 4 && bytes >> (10 * (i + 1)))
		i++;
	if (i == 0) {
		snprintf(out, 32, "%llu B", (unsigned long long)bytes);
		return;
	}
	/* toFixed(2) of bytes / 1024^i, exactly: round half up. */
	unit = (unsigned __int128)1 << (10 * i);
	q = (unsigned __int128)bytes * 100 / unit;
	rem = (unsigned __int128)bytes * 100 % unit;
	if (rem * 2 >= unit)
		q++;
	snprintf(out, 32, "%llu.%02u %s", (unsigned long long)(q / 100), (unsigned)(q % 100), units[i]);
}

size_t rb_js_length(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xC0) != 0x80)
			n += c >= 0xF0 ? 2 : 1;
	}
	return n;
}

/* ---- edits ------------------------------------------------------------------------- */

struct span {
	const char *p;
	size_t len;
};

/* Length of the JavaScript whitespace character at s (\s: ASCII space and
 * TAB/LF/VT/FF/CR, NBSP, U+1680, U+2000-200A, U+2028/9, U+202F, U+205F,
 * U+3000, U+FEFF), or 0. */
static size_t js_space(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	if (!len)
		return 0;
	if (u[0] == ' ' || (u[0] >= '\t' && u[0] <= '\r'))
		return 1;
	if (len >= 2 && u[0] == 0xC2 && u[1] == 0xA0)
		return 2;
	if (len < 3)
		return 0;
	if (u[0] == 0xE1 && u[1] == 0x9A && u[2] == 0x80)
		return 3;
	if (u[0] == 0xE2 && u[1] == 0x80 &&
	    ((u[2] >= 0x80 && u[2] <= 0x8A) || u[2] == 0xA8 || u[2] == 0xA9 || u[2] == 0xAF))
		return 3;
	if (u[0] == 0xE2 && u[1] == 0x81 && u[2] == 0x9F)
		return 3;
	if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80)
		return 3;
	if (u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF)
		return 3;
	return 0;
}

static size_t lead_ws(struct span l)
{
	size_t i = 0, k;
	while ((k = js_space(l.p + i, l.len - i)))
		i += k;
	return i;
}

/* Whether the last character of s[0..len) is JS whitespace; its size in *k. */
static bool trail_ws(const char *s, size_t len, size_t *k)
{
	size_t start;
	if (!len)
		return false;
	start = len - 1;
	while (start > 0 && ((unsigned char)s[start] & 0xC0) == 0x80 && len - start < 4)
		start--;
	*k = len - start;
	return js_space(s + start, *k) == *k;
}

static struct span trim(struct span l)
{
	size_t a = lead_ws(l), k;
	l.p += a;
	l.len -= a;
	while (trail_ws(l.p, l.len, &k))
		l.len -= k;
	return l;
}

static bool span_eq(struct span a, struct span b)
{
	return a.len == b.len && !memcmp(a.p, b.p, a.len);
}

/* Splits s at '\n' (like String.split: n+1 parts for n newlines). */
static struct span *split_lines(const char *s, size_t len, size_t *n)
{
	size_t cnt = 1, k = 0, start = 0;
	struct span *v;
	for (size_t i = 0; i < len; i++)
		cnt += s[i] == '\n';
	v = malloc(cnt * sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '\n') {
			v[k++] = (struct span){ s + start, i - start };
			start = i + 1;
		}
	}
	*n = cnt;
	return v;
}

/* Applies one edit by trimmed-line matching; 1 if applied, 0 if not found. */
static int apply_fuzzy(struct rb_sbuf *cur, const char *old, size_t olen, const char *nw, size_t nlen)
{
	size_t no, nc, nn;
	struct span *ol = split_lines(old, olen, &no), *cl = split_lines(cur->p ? cur->p : "", cur->len, &nc);
	struct span *nl = split_lines(nw, nlen, &nn);
	struct rb_sbuf res = { 0 };
	int found = 0;
	if (!ol || !cl || !nl) {
		found = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; no <= nc && i <= nc - no && !found; i++) {
		size_t j;
		for (j = 0; j < no; j++)
			if (!span_eq(trim(ol[j]), trim(cl[i + j])))
				break;
		if (j < no)
			continue;
		found = 1;
		struct span indent = { cl[i].p, lead_ws(cl[i]) };
		for (size_t k = 0; k < i; k++) {
			rb_sbuf_add(&res, cl[k].p, cl[k].len);
			rb_sbuf_addc(&res, '\n');
		}
		for (size_t k = 0; k < nn; k++) {
			struct span l = nl[k];
			size_t lw = lead_ws(l);
			if (k > 0)
				rb_sbuf_addc(&res, '\n');
			if (k == 0) {
				rb_sbuf_add(&res, indent.p, indent.len);
				rb_sbuf_add(&res, l.p + lw, l.len - lw);
				continue;
			}
			size_t ow = k < no ? lead_ws(ol[k]) : 0;
			if (ow && lw) {
				/* Relative indentation in JS string length units. */
				size_t a = rb_js_length(l.p, lw), b = rb_js_length(ol[k].p, ow);
				rb_sbuf_add(&res, indent.p, indent.len);
				for (size_t s = b; s < a; s++)
					rb_sbuf_addc(&res, ' ');
				rb_sbuf_add(&res, l.p + lw, l.len - lw);
			} else {
				rb_sbuf_add(&res, l.p, l.len);
			}
		}
		for (size_t k = i + no; k < nc; k++) {
			rb_sbuf_addc(&res, '\n');
			rb_sbuf_add(&res, cl[k].p, cl[k].len);
		}
	}
	if (found == 1) {
		if (res.oom) {
			found = -ENOMEM;
		} else {
			rb_sbuf_free(cur);
			*cur = res;
			res = (struct rb_sbuf){ 0 };
			if (!cur->p)
				rb_sbuf_add(cur, "", 0);
		}
	}
out:
	rb_sbuf_free(&res);
	free(ol);
	free(cl);
	free(nl);
	return found;
}

static char *dup_lf(const char *s, size_t len, size_t *outlen)
{
	char *d = malloc(len + 1);
	if (!d)
		return NULL;
	memcpy(d, s, len);
	d[len] = '\0';
	*outlen = rb_crlf_to_lf(d, len);
	return d;
}

int rb_edits_apply(const char *content, size_t len, const struct rb_edit *edits, size_t n,
		   struct rb_sbuf *out, size_t *failed)
{
	struct rb_sbuf cur = { 0 };
	int r = 0;
	rb_sbuf_add(&cur, content, len);
	for (size_t i = 0; i < n && !r; i++) {
		size_t olen, nlen;
		char *old = dup_lf(edits[i].old_text, edits[i].old_len, &olen);
		char *nw = dup_lf(edits[i].new_text, edits[i].new_len, &nlen);
		char *hit;
		if (!old || !nw || cur.oom) {
			r = -ENOMEM;
		} else if ((hit = memmem(cur.p, cur.len, old, olen))) {
			/* Exact match: replace the first occurrence (an empty
			 * oldText matches at the start, as String.replace does). */
			struct rb_sbuf res = { 0 };
			size_t at = (size_t)(hit - cur.p);
			rb_sbuf_add(&res, cur.p, at);
			rb_sbuf_add(&res, nw, nlen);
			rb_sbuf_add(&res, cur.p + at + olen, cur.len - at - olen);
			rb_sbuf_free(&cur);
			cur = res;
			if (cur.oom)
				r = -ENOMEM;
		} else {
			int f = apply_fuzzy(&cur, old, olen, nw, nlen);
			if (f < 0) {
				r = f;
			} else if (f == 0) {
				*failed = i;
				r = -RB_E_NO_MATCH;
			}
		}
		free(old);
		free(nw);
	}
	if (r < 0) {
		rb_sbuf_free(&cur);
		return r;
	}
	*out = cur;
	return 0;
}
