/* mdcheck.c: the pure per-file markdown checker (include/ringbank/mdcheck.h).
 *
 * md4c does the CommonMark parse and reports blocks, spans and text through
 * callbacks. It gives no source positions for blocks, but its text pointers
 * point into the input for everything that is not synthesised (newlines in
 * code blocks, indentation, decoded entities come from static strings), so
 * line numbers are computed from the last in-range text pointer with a
 * moving line cursor. The one thing md4c hides on purpose is a fenced code
 * block that never closes (it ends silently at EOF or at the end of its
 * container); that is recovered by looking at the source line after the
 * block's last content line (see fence_leave). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <md4c.h>

#include "ringbank/mdcheck.h"

static const char *const code_names[RB_MD_NCODES] = {
	[RB_MD_INVALID_UTF8] = "invalid_utf8",
	[RB_MD_EMPTY_FILE] = "empty_file",
	[RB_MD_TOO_LARGE] = "too_large",
	[RB_MD_NO_TITLE] = "no_title",
	[RB_MD_SKIPPED_HEADING] = "skipped_heading",
	[RB_MD_UNCLOSED_FENCE] = "unclosed_fence",
	[RB_MD_BAD_FRONT_MATTER] = "bad_front_matter",
	[RB_MD_BROKEN_LINK] = "broken_link",
	[RB_MD_BROKEN_ANCHOR] = "broken_anchor",
	[RB_MD_MISSING_CORE_FILE] = "missing_core_file",
	[RB_MD_CASE_CONFLICT] = "case_conflict",
	[RB_MD_SYMLINK] = "symlink",
	[RB_MD_SPECIAL_FILE] = "special_file",
	[RB_MD_READ_ERROR] = "read_error",
};

const char *rb_md_code_name(enum rb_md_code c)
{
	return (unsigned)c < RB_MD_NCODES ? code_names[c] : "unknown";
}

enum rb_md_severity rb_md_code_severity(enum rb_md_code c)
{
	return c == RB_MD_CASE_CONFLICT || c == RB_MD_SYMLINK || c == RB_MD_SPECIAL_FILE ? RB_MD_WARNING
											  : RB_MD_ERROR;
}

/* ---- UTF-8 ------------------------------------------------------------------ */

long rb_md_utf8_invalid_at(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned lo = 0x80, hi = 0xBF; /* bounds of the second byte */
		if (c < 0x80) {
			/* ASCII runs 8 bytes at a time: most of a markdown file */
			uint64_t w;
			while (i + 8 <= len && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080ull)))
				i += 8;
			if (i < len && s[i] < 0x80)
				i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1;
		else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			else if (c == 0xED)
				hi = 0x9F; /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90; /* overlong */
			else if (c == 0xF4)
				hi = 0x8F; /* > U+10FFFF */
		} else
			return (long)i;
		if (i + n >= len)
			return (long)i; /* truncated at the end */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return (long)i;
		for (size_t k = 2; k <= n; k++)
			if ((s[i + k] & 0xC0) != 0x80)
				return (long)i;
		i += n + 1;
	}
	return -1;
}

/* ---- result storage --------------------------------------------------------- */

void rb_md_result_init(struct rb_md_result *r)
{
	memset(r, 0, sizeof(*r));
}

void rb_md_result_free(struct rb_md_result *r)
{
	free(r->diags);
	free(r->heads);
	free(r->links);
	free(r->arena);
	free(r->slug_tab);
	free(r->htext);
	rb_md_result_init(r);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t nc;
	void *q;
	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	if (!(q = realloc(*p, nc * elem)))
		return -ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

/* Appends n bytes + NUL to the arena; returns the offset or -ENOMEM. */
static long arena_add(struct rb_md_result *r, const char *s, size_t n)
{
	size_t off = r->arena_len;
	if (off + n + 1 > UINT32_MAX || grow((void **)&r->arena, &r->arena_cap, off + n + 1, 1))
		return -ENOMEM;
	if (n && s)
		memcpy(r->arena + off, s, n);
	r->arena[off + n] = '\0';
	r->arena_len = off + n + 1;
	return (long)off;
}

/* ---- slugs --------------------------------------------------------------------- */

size_t rb_md_slugify(const char *text, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c >= 'A' && c <= 'Z')
			out[n++] = (char)(c - 'A' + 'a');
		else if (c == 0xC3 && i + 1 < len && (unsigned char)text[i + 1] >= 0x80 &&
			 (unsigned char)text[i + 1] <= 0x9E && (unsigned char)text[i + 1] != 0x97 && n + 2 < cap) {
			/* Latin-1 capitals (U+00C0..U+00DE but the multiplication sign) */
			out[n++] = (char)c;
			out[n++] = (char)(text[++i] + 0x20);
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80)
			out[n++] = (char)c;
		else if (c == ' ')
			out[n++] = '-';
	}
	if (cap)
		out[n] = '\0';
	return n;
}

static uint32_t hash_str(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* The slug table holds heading indexes + 1 (0 = empty), open addressing. */
static bool slug_find(const struct rb_md_result *r, const char *s, size_t n)
{
	size_t mask = r->slug_tab_cap - 1;
	if (!r->slug_tab_cap)
		return false;
	for (size_t i = hash_str(s, n) & mask;; i = (i + 1) & mask) {
		uint32_t v = r->slug_tab[i];
		const struct rb_md_heading *h;
		if (!v)
			return false;
		h = &r->heads[v - 1];
		if (h->slug_len == n && !memcmp(r->arena + h->slug, s, n))
			return true;
	}
}

static int slug_insert(struct rb_md_result *r, size_t idx)
{
	const struct rb_md_heading *h;
	size_t mask;
	if ((r->nheads + 1) * 2 > r->slug_tab_cap) {
		size_t nc = r->slug_tab_cap ? r->slug_tab_cap * 2 : 64;
		uint32_t *t = calloc(nc, sizeof(*t));
		if (!t)
			return -ENOMEM;
		free(r->slug_tab);
		r->slug_tab = t;
		r->slug_tab_cap = nc;
		for (size_t k = 0; k < r->nheads; k++)
			if (k != idx)
				slug_insert(r, k); /* cannot recurse into a grow: room is ample */
	}
	h = &r->heads[idx];
	mask = r->slug_tab_cap - 1;
	for (size_t i = hash_str(r->arena + h->slug, h->slug_len) & mask;; i = (i + 1) & mask)
		if (!r->slug_tab[i]) {
			r->slug_tab[i] = (uint32_t)idx + 1;
			return 0;
		}
}

/* ---- the parse context ------------------------------------------------------------ */

struct ctx {
	const char *doc;
	size_t len;
	size_t body; /* where the markdown starts (after a BOM and front matter) */
	const struct rb_md_opts *o;
	struct rb_md_result *r;
	const char *path;
	int err;
	bool quiet; /* findings are suppressed (invalid UTF-8) */

	/* line cursor: cur_line is the line of offset cur_off */
	size_t cur_off;
	unsigned cur_line;
	size_t scan_pos;  /* end of the furthest in-range text (or closing fence) seen */
	bool seen_text;

	/* title and heading order */
	int first_block;  /* -1: none yet; else the MD_BLOCKTYPE of the first block */
	unsigned first_level;
	unsigned first_line; /* 0 = pending */
	unsigned prev_level;

	/* the heading being parsed */
	bool in_h;
	unsigned h_level, h_line;

	/* the link being parsed (pending line) */
	int link_depth;
	size_t link_idx;
	bool link_pending;
	const char *link_href;

	/* the fenced code block being parsed */
	bool in_fence;
	char fence_char;
	size_t fence_opener;	/* line start of the opening fence, or SIZE_MAX */
	size_t fence_first;	/* offset of the first in-range content, or SIZE_MAX */
	size_t fence_end;	/* end of the last in-range content */
};

static bool in_range(const struct ctx *c, const char *p)
{
	return p >= c->doc && p < c->doc + c->len;
}

static unsigned line_of(struct ctx *c, size_t off)
{
	const char *p;
	if (off >= c->cur_off) {
		const char *end = c->doc + off;
		for (p = c->doc + c->cur_off; (p = memchr(p, '\n', (size_t)(end - p))); p++)
			c->cur_line++;
	} else {
		const char *end = c->doc + c->cur_off;
		for (p = c->doc + off; (p = memchr(p, '\n', (size_t)(end - p))); p++)
			c->cur_line--;
	}
	c->cur_off = off;
	return c->cur_line;
}

static void diag(struct ctx *c, enum rb_md_code code, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void diag(struct ctx *c, enum rb_md_code code, unsigned line, const char *fmt, ...)
{
	struct rb_md_result *r = c->r;
	struct rb_md_diag *d;
	va_list ap;
	if (c->quiet || c->o->headings_only)
		return;
	if (grow((void **)&r->diags, &r->diags_cap, r->ndiags + 1, sizeof(*r->diags))) {
		c->err = -ENOMEM;
		return;
	}
	d = &r->diags[r->ndiags++];
	d->line = line;
	d->code = code;
	d->severity = rb_md_code_severity(code);
	va_start(ap, fmt);
	vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
}

/* ---- source-line helpers (for fences and front matter) ---------------------------- */

static size_t line_end(const struct ctx *c, size_t off)
{
	const char *p = memchr(c->doc + off, '\n', c->len - off);
	return p ? (size_t)(p - c->doc) : c->len;
}

static size_t next_line(const struct ctx *c, size_t off)
{
	size_t e = line_end(c, off);
	return e < c->len ? e + 1 : c->len;
}

static bool is_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* Skips container prefixes: whitespace and blockquote '>' and, when
 * `markers`, list markers ("-", "+", "*", "1.", "1)") followed by a space. */
static size_t strip_prefix(const struct ctx *c, size_t off, bool markers)
{
	size_t e = line_end(c, off);
	for (;;) {
		while (off < e && (is_ws(c->doc[off]) || c->doc[off] == '>'))
			off++;
		if (!markers || off >= e)
			return off;
		size_t k = off;
		if (c->doc[k] == '-' || c->doc[k] == '+' || c->doc[k] == '*')
			k++;
		else {
			while (k < e && k - off < 9 && c->doc[k] >= '0' && c->doc[k] <= '9')
				k++;
			if (k == off || k >= e || (c->doc[k] != '.' && c->doc[k] != ')'))
				return off;
			k++;
		}
		if (k >= e || !is_ws(c->doc[k]))
			return off;
		off = k;
	}
}

static bool blank_line(const struct ctx *c, size_t off)
{
	return strip_prefix(c, off, false) >= line_end(c, off);
}

/* Length of the run of fence characters fc starting the line (after its
 * prefix); *rest_blank tells whether only whitespace follows the run. */
static size_t fence_run(const struct ctx *c, size_t line, char fc, bool markers, bool *rest_blank)
{
	size_t off = strip_prefix(c, line, markers), e = line_end(c, line), n = 0;
	while (off + n < e && c->doc[off + n] == fc)
		n++;
	if (rest_blank) {
		size_t k = off + n;
		while (k < e && is_ws(c->doc[k]))
			k++;
		*rest_blank = k >= e;
	}
	return n;
}

static size_t line_start(const struct ctx *c, size_t off)
{
	while (off > 0 && c->doc[off - 1] != '\n')
		off--;
	return off;
}

/* ---- fenced code blocks ------------------------------------------------------------- */

static void fence_enter(struct ctx *c, const MD_BLOCK_CODE_DETAIL *d)
{
	c->in_fence = true;
	c->fence_char = (char)d->fence_char;
	c->fence_first = SIZE_MAX;
	c->fence_end = 0;
	/* The info string sits on the opening line. */
	c->fence_opener = d->info.size && in_range(c, d->info.text)
		? line_start(c, (size_t)(d->info.text - c->doc)) : SIZE_MAX;
}

static void fence_leave(struct ctx *c)
{
	size_t opener = c->fence_opener, after, pos, olen = 3;
	bool rest_blank;

	c->in_fence = false;
	if (opener == SIZE_MAX && c->fence_first != SIZE_MAX) {
		/* The opener is the first non-blank line above the first content
		 * (blank content lines come from md4c's static strings). */
		size_t l = line_start(c, c->fence_first);
		while (l > c->body) {
			l = line_start(c, l - 1);
			if (!blank_line(c, l))
				break;
		}
		opener = l;
	}
	if (opener == SIZE_MAX) {
		/* No content and no info string: the first fence-looking line after
		 * everything parsed so far. */
		size_t l = c->seen_text ? next_line(c, c->scan_pos) : c->body;
		for (; l < c->len; l = next_line(c, l))
			if (fence_run(c, l, c->fence_char, true, NULL) >= 3)
				break;
		if (l >= c->len)
			return; /* cannot place it: say nothing rather than guess */
		opener = l;
	}
	olen = fence_run(c, opener, c->fence_char, true, NULL);
	if (olen < 3)
		olen = 3;
	/* fence_end stops before the last content line's newline */
	after = c->fence_first != SIZE_MAX ? c->fence_end : opener;
	pos = next_line(c, after);
	while (pos < c->len && blank_line(c, pos))
		pos = next_line(c, pos);
	if (pos < c->len && fence_run(c, pos, c->fence_char, false, &rest_blank) >= olen && rest_blank) {
		size_t e = line_end(c, pos);
		if (e > c->scan_pos)
			c->scan_pos = e;
		return;
	}
	diag(c, RB_MD_UNCLOSED_FENCE, line_of(c, opener), "code fence opened on line %u is never closed",
	     line_of(c, opener));
}

/* ---- md4c callbacks ------------------------------------------------------------------- */

static void block_line_pending(struct ctx *c, unsigned line)
{
	if (c->first_block >= 0 && !c->first_line)
		c->first_line = line;
	if (c->in_h && !c->h_line)
		c->h_line = line;
}

static int on_text(MD_TEXTTYPE type, const MD_CHAR *text, MD_SIZE size, void *ud)
{
	struct ctx *c = ud;
	if (in_range(c, text) && size) {
		size_t off = (size_t)(text - c->doc), end = off + size;
		unsigned line = line_of(c, off);
		block_line_pending(c, line);
		if (c->link_pending && c->link_depth > 0) {
			c->r->links[c->link_idx].line = line;
			c->link_pending = false;
		}
		if (end > c->scan_pos)
			c->scan_pos = end;
		c->seen_text = true;
		if (c->in_fence && type == MD_TEXT_CODE) {
			if (c->fence_first == SIZE_MAX)
				c->fence_first = off;
			if (end > c->fence_end)
				c->fence_end = end;
		}
	}
	if (c->in_h) {
		/* Heading text for its slug: plain and code text; entities and raw
		 * HTML are dropped (GitHub renders then strips them). */
		const char *s = text;
		size_t n = size;
		if (type == MD_TEXT_SOFTBR || type == MD_TEXT_BR) {
			s = " ";
			n = 1;
		} else if (type != MD_TEXT_NORMAL && type != MD_TEXT_CODE)
			n = 0;
		if (n) {
			struct rb_md_result *r = c->r;
			if (grow((void **)&r->htext, &r->htext_cap, r->htext_len + n, 1))
				return c->err = -ENOMEM;
			memcpy(r->htext + r->htext_len, s, n);
			r->htext_len += n;
		}
	}
	return 0;
}

static int on_enter_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
	struct ctx *c = ud;
	if (type == MD_BLOCK_DOC)
		return 0;
	if (c->first_block < 0 && type != MD_BLOCK_HTML) {
		c->first_block = (int)type;
		c->first_level = type == MD_BLOCK_H ? ((MD_BLOCK_H_DETAIL *)detail)->level : 0;
	}
	if (type == MD_BLOCK_H) {
		c->in_h = true;
		c->h_level = ((MD_BLOCK_H_DETAIL *)detail)->level;
		c->h_line = 0;
		c->r->htext_len = 0;
	} else if (type == MD_BLOCK_CODE && ((MD_BLOCK_CODE_DETAIL *)detail)->fence_char) {
		fence_enter(c, detail);
	}
	return 0;
}

/* An empty heading ("#" alone) has no text to give its line: take the next
 * line starting with '#' after what was parsed. */
static unsigned empty_heading_line(struct ctx *c)
{
	size_t l = c->seen_text ? next_line(c, c->scan_pos) : c->body;
	for (; l < c->len; l = next_line(c, l)) {
		size_t k = strip_prefix(c, l, true);
		if (k < c->len && c->doc[k] == '#') {
			c->scan_pos = line_end(c, l); /* the next empty heading is further down */
			c->seen_text = true;
			return line_of(c, l);
		}
	}
	return line_of(c, c->scan_pos);
}

static int heading_leave(struct ctx *c)
{
	struct rb_md_result *r = c->r;
	size_t raw, n, base;
	struct rb_md_heading *h;
	long off;

	if (!c->h_line)
		c->h_line = empty_heading_line(c);
	if (c->first_block == MD_BLOCK_H && !c->first_line)
		c->first_line = c->h_line;
	/* Slugify into the arena (the slug is never longer than the text),
	 * then de-duplicate github-slugger style: "x", "x-1", "x-2"... */
	if ((off = arena_add(r, NULL, r->htext_len)) < 0)
		return c->err = -ENOMEM;
	raw = (size_t)off;
	n = rb_md_slugify(r->htext, r->htext_len, r->arena + raw, r->htext_len + 1);
	r->arena_len = raw + n + 1;
	base = n;
	for (unsigned k = 1; slug_find(r, r->arena + raw, n); k++) {
		char suf[16];
		int sl = snprintf(suf, sizeof(suf), "-%u", k);
		r->arena_len = raw + base;
		if (arena_add(r, suf, (size_t)sl) < 0)
			return c->err = -ENOMEM;
		n = base + (size_t)sl;
	}
	if (grow((void **)&r->heads, &r->heads_cap, r->nheads + 1, sizeof(*r->heads)))
		return c->err = -ENOMEM;
	h = &r->heads[r->nheads];
	h->level = c->h_level;
	h->line = c->h_line;
	h->slug = (uint32_t)raw;
	h->slug_len = (uint32_t)n;
	if (slug_insert(r, r->nheads) < 0)
		return c->err = -ENOMEM;
	r->nheads++;

	if (c->prev_level && c->h_level > c->prev_level + 1)
		diag(c, RB_MD_SKIPPED_HEADING, c->h_line, "heading level %u follows level %u (expected at most %u)",
		     c->h_level, c->prev_level, c->prev_level + 1);
	c->prev_level = c->h_level;
	c->in_h = false;
	return 0;
}

static int on_leave_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
	struct ctx *c = ud;
	if (type == MD_BLOCK_H)
		return heading_leave(c);
	if (type == MD_BLOCK_CODE && c->in_fence)
		fence_leave(c);
	return c->err;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Percent-decodes arena[src..src+n) into a new arena string (the source
 * is addressed by offset: the arena may move while growing). Returns the
 * new offset or -ENOMEM. */
static long add_decoded(struct rb_md_result *r, size_t src, size_t n)
{
	long off = arena_add(r, NULL, n);
	char *d;
	size_t o = 0;
	if (off < 0)
		return off;
	d = r->arena + off;
	memcpy(d, r->arena + src, n);
	for (size_t i = 0; i < n; i++) {
		int a, b;
		if (d[i] == '%' && i + 2 < n && (a = hexval(d[i + 1])) >= 0 && (b = hexval(d[i + 2])) >= 0) {
			d[o++] = (char)(a * 16 + b);
			i += 2;
		} else
			d[o++] = d[i];
	}
	d[o] = '\0';
	r->arena_len = (size_t)off + o + 1;
	return off;
}

static bool is_url(const char *s, size_t n)
{
	size_t i = 0;
	if (n >= 2 && s[0] == '/' && s[1] == '/')
		return true;
	if (!n || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 1; i < n; i++) {
		char ch = s[i];
		if (ch == ':')
			return true;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '+' || ch == '-' || ch == '.'))
			return false;
	}
	return false;
}

/* The destination as written: attribute substrings joined, the few entities
 * that appear in paths decoded. Uses a scratch area at the arena's end. */
static int href_text(struct ctx *c, const MD_ATTRIBUTE *a, size_t *off, size_t *len)
{
	struct rb_md_result *r = c->r;
	size_t start = r->arena_len;
	for (unsigned i = 0; a->substr_offsets && a->substr_offsets[i] < a->size; i++) {
		const char *s = a->text + a->substr_offsets[i];
		size_t n = a->substr_offsets[i + 1] - a->substr_offsets[i];
		if (a->substr_types[i] == MD_TEXT_NULLCHAR)
			continue;
		if (a->substr_types[i] == MD_TEXT_ENTITY) {
			static const struct { const char *e, *v; } ents[] = {
				{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"},
				{"&#x27;", "'"}, {"&nbsp;", " "},
			};
			for (size_t k = 0; k < sizeof(ents) / sizeof(ents[0]); k++)
				if (strlen(ents[k].e) == n && !memcmp(ents[k].e, s, n)) {
					s = ents[k].v;
					n = strlen(s);
					break;
				}
		}
		if (arena_add(r, s, n) < 0)
			return c->err = -ENOMEM;
		r->arena_len--;
	}
	*off = start;
	*len = r->arena_len - start;
	return 0;
}

/* Gives the pending link its line when no text inside it did: no text at
 * all ("[](x.md)", an image without alt), or a link or image nested at its
 * start ("[![badge](b.png)](x.md)", whose text belongs to the image): the
 * destination's own line, else the current line. */
static void link_settle(struct ctx *c)
{
	if (c->link_pending) {
		c->r->links[c->link_idx].line =
			c->link_href ? line_of(c, (size_t)(c->link_href - c->doc)) : line_of(c, c->scan_pos);
		c->link_pending = false;
	}
}

static int link_enter(struct ctx *c, const MD_ATTRIBUTE *href, bool image)
{
	struct rb_md_result *r = c->r;
	size_t hoff, hlen, plen, qlen;
	const char *h, *hash;
	struct rb_md_link *l;
	long p, a;

	c->link_depth++;
	link_settle(c); /* an outer link still waiting for its line */
	if (c->quiet || c->o->headings_only || !c->o->links || !href->size)
		return 0;
	if (href_text(c, href, &hoff, &hlen))
		return c->err;
	h = r->arena + hoff;
	if (is_url(h, hlen)) {
		r->arena_len = hoff;
		return 0;
	}
	hash = memchr(h, '#', hlen);
	plen = hash ? (size_t)(hash - h) : hlen;
	qlen = plen;
	{
		const char *q = memchr(h, '?', plen);
		if (q)
			qlen = (size_t)(q - h);
	}
	if (!qlen && !hash) {
		r->arena_len = hoff; /* "?x" alone: nothing to check */
		return 0;
	}
	/* The decoded copies go after the scratch text, which is then dropped
	 * by moving them down. */
	p = add_decoded(r, hoff, qlen);
	if (p < 0)
		return c->err = -ENOMEM;
	a = hash ? add_decoded(r, hoff + plen + 1, hlen - plen - 1) : arena_add(r, "", 0);
	if (a < 0)
		return c->err = -ENOMEM;
	{
		size_t moved = r->arena_len - (size_t)p;
		memmove(r->arena + hoff, r->arena + p, moved);
		a = a - p + (long)hoff;
		p = (long)hoff;
		r->arena_len = hoff + moved;
	}
	if (grow((void **)&r->links, &r->links_cap, r->nlinks + 1, sizeof(*r->links)))
		return c->err = -ENOMEM;
	l = &r->links[r->nlinks];
	l->path = (uint32_t)p;
	l->anchor = (uint32_t)a;
	l->has_anchor = hash != NULL;
	l->image = image;
	l->line = 0;
	c->link_idx = r->nlinks++;
	c->link_pending = true;
	c->link_href = in_range(c, href->text) ? href->text : NULL;
	return 0;
}

static void link_leave(struct ctx *c)
{
	if (c->link_depth > 0)
		c->link_depth--;
	link_settle(c);
}

static int on_enter_span(MD_SPANTYPE type, void *detail, void *ud)
{
	struct ctx *c = ud;
	if (type == MD_SPAN_A)
		return link_enter(c, &((MD_SPAN_A_DETAIL *)detail)->href, false);
	if (type == MD_SPAN_IMG)
		return link_enter(c, &((MD_SPAN_IMG_DETAIL *)detail)->src, true);
	return 0;
}

static int on_leave_span(MD_SPANTYPE type, void *detail, void *ud)
{
	struct ctx *c = ud;
	if (type == MD_SPAN_A || type == MD_SPAN_IMG)
		link_leave(c);
	return 0;
}

/* ---- front matter ---------------------------------------------------------------------- */

static bool fm_delim(const struct ctx *c, size_t l, const char *d)
{
	size_t e = line_end(c, l), n = strlen(d);
	if (e - l < n || memcmp(c->doc + l, d, n))
		return false;
	for (size_t k = l + n; k < e; k++)
		if (!is_ws(c->doc[k]))
			return false;
	return true;
}

/* A front matter line is fine when it is blank, a comment, a continuation
 * (indented, or a "- " list item) of an earlier key, or `key:` / `key: v`
 * with a plain or quoted key. */
static bool fm_line_ok(const struct ctx *c, size_t l, bool have_key, bool *is_key)
{
	size_t e = line_end(c, l), k = l;
	char ch = c->doc[l];
	*is_key = false;
	if (l >= e || blank_line(c, l) || ch == '#')
		return true;
	if (ch == ' ' || ch == '\t' || (ch == '-' && (l + 1 == e || is_ws(c->doc[l + 1]))))
		return have_key;
	if (ch == '"' || ch == '\'') {
		const char *q = memchr(c->doc + l + 1, ch, e - l - 1);
		if (!q)
			return false;
		k = (size_t)(q - c->doc) + 1;
	} else {
		while (k < e && c->doc[k] != ':') {
			char x = c->doc[k];
			if (!((x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') || (x >= '0' && x <= '9') ||
			      x == '_' || x == '-' || x == '.' || x == ' ' || (unsigned char)x >= 0x80))
				return false;
			k++;
		}
		if (k == l)
			return false;
	}
	if (k >= e || c->doc[k] != ':' || (k + 1 < e && !is_ws(c->doc[k + 1])))
		return false;
	*is_key = true;
	return true;
}

/* Returns false when the front matter is unclosed (stop checking). One
 * bad_front_matter per file at most: unclosed, or its first bad line. */
static bool front_matter(struct ctx *c, size_t start)
{
	size_t l, close;
	bool have_key = false;
	if (!fm_delim(c, start, "---"))
		return true;
	for (close = next_line(c, start); close < c->len; close = next_line(c, close))
		if (fm_delim(c, close, "---") || fm_delim(c, close, "..."))
			break;
	if (close >= c->len) {
		diag(c, RB_MD_BAD_FRONT_MATTER, line_of(c, start),
		     "front matter opened on line %u is never closed (no closing `---`)", line_of(c, start));
		return false;
	}
	for (l = next_line(c, start); l < close; l = next_line(c, l)) {
		bool is_key;
		if (!fm_line_ok(c, l, have_key, &is_key)) {
			unsigned ln = line_of(c, l);
			diag(c, RB_MD_BAD_FRONT_MATTER, ln, "front matter line %u is not `key: value`", ln);
			break;
		}
		have_key |= is_key;
	}
	c->body = next_line(c, close);
	return true;
}

/* ---- the checker ---------------------------------------------------------------------------- */

static void self_anchors(struct ctx *c)
{
	struct rb_md_result *r = c->r;
	size_t k = 0;
	for (size_t i = 0; i < r->nlinks; i++) {
		struct rb_md_link *l = &r->links[i];
		if (r->arena[l->path]) {
			r->links[k++] = *l;
			continue;
		}
		const char *a = r->arena + l->anchor;
		if (*a && !slug_find(r, a, strlen(a))) {
			const char *base = c->path ? strrchr(c->path, '/') : NULL;
			diag(c, RB_MD_BROKEN_ANCHOR, l->line, "no heading with anchor #%.120s in %.60s", a,
			     base ? base + 1 : c->path ? c->path : "this file");
		}
	}
	r->nlinks = k;
}

int rb_md_check(const char *data, size_t len, const char *path, const struct rb_md_opts *o,
		struct rb_md_result *r)
{
	struct ctx c = { .doc = data, .len = len, .o = o, .r = r, .path = path, .cur_line = 1,
			 .first_block = -1 };
	MD_PARSER p = { 0 };
	long bad;
	size_t k;

	r->ndiags = r->nheads = r->nlinks = r->arena_len = 0;
	r->markdown_checked = false;
	if (r->slug_tab)
		memset(r->slug_tab, 0, r->slug_tab_cap * sizeof(*r->slug_tab));

	if ((o->max_bytes && len > o->max_bytes) || len > UINT32_MAX) {
		diag(&c, RB_MD_TOO_LARGE, 0, "%zu bytes is over the limit of %zu", len,
		     o->max_bytes ? o->max_bytes : (size_t)UINT32_MAX);
		return c.err;
	}
	for (k = 0; k < len && (is_ws(data[k]) || data[k] == '\n'); k++)
		;
	if (k == len) {
		diag(&c, RB_MD_EMPTY_FILE, 0, len ? "the file holds only whitespace" : "the file is empty");
		return c.err;
	}
	bad = rb_md_utf8_invalid_at(data, len);
	if (bad >= 0) {
		unsigned ln = line_of(&c, (size_t)bad);
		diag(&c, RB_MD_INVALID_UTF8, ln, "invalid UTF-8 (byte 0x%02x at offset %ld)",
		     (unsigned char)data[bad], bad);
		/* No markdown findings on text that is not text; the headings are
		 * still collected so that anchors into this file resolve. */
		c.quiet = true;
	}
	c.body = len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3) ? 3 : 0;
	if (!front_matter(&c, c.body))
		return c.err;

	p.flags = MD_FLAG_TABLES | MD_FLAG_STRIKETHROUGH | MD_FLAG_TASKLISTS;
	p.enter_block = on_enter_block;
	p.leave_block = on_leave_block;
	p.enter_span = on_enter_span;
	p.leave_span = on_leave_span;
	p.text = on_text;
	c.scan_pos = c.body;
	if (md_parse(data + c.body, (MD_SIZE)(len - c.body), &p, &c) != 0 || c.err)
		return c.err ? c.err : -ENOMEM;
	if (!(c.first_block == MD_BLOCK_H && c.first_level == 1)) {
		unsigned ln = c.first_line ? c.first_line : line_of(&c, c.body);
		if (c.first_block < 0)
			diag(&c, RB_MD_NO_TITLE, ln, "nothing follows the front matter");
		else if (c.first_block == MD_BLOCK_H)
			diag(&c, RB_MD_NO_TITLE, ln, "the first heading is level %u, not 1", c.first_level);
		else
			diag(&c, RB_MD_NO_TITLE, ln, "the file does not start with a level-1 heading");
	}
	self_anchors(&c);
	r->markdown_checked = !c.quiet && !o->headings_only;
	if (!r->markdown_checked)
		r->nlinks = 0;
	return c.err;
}
