/* fuzz_mdcheck: the pure markdown checker (mdcheck.h). Byte 0 picks the
 * options (links, headings_only, a small max_bytes) and a slug buffer size;
 * the rest is the file. The result struct is reused across inputs, as the
 * bank walker reuses it. Checks: return 0; every diagnostic, heading and
 * link is within range and its strings are NUL-terminated inside the arena;
 * options are honoured; checking the same bytes twice gives the same
 * answer; rb_md_utf8_invalid_at agrees with an independent strict decoder
 * and an invalid file carries an invalid_utf8 diagnostic; slugify respects
 * its buffer and yields only slug characters.
 *
 * md4c is a system library without ASan instrumentation, so an over-read
 * inside it is invisible to ASan. The file is therefore copied to the end
 * of a page followed by an inaccessible page: any read past the end faults
 * at once. By default one NUL follows the bytes, which is what every caller
 * passes today (rb_fs_read_file's buffers are NUL-terminated); with
 * RB_FUZZ_MD_NONUL=1 nothing follows them, as mdcheck.h allows, and md4c
 * 0.4.8 then reads past the end of "[](" (see the report in issue 8). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ringbank/mdcheck.h"

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: invariant failed: %s\n", \
	__FILE__, __LINE__, #c); abort(); } } while (0)

static struct rb_md_result res;
static bool res_init;

/* A buffer whose end touches a PROT_NONE page. */
static char *guard_base;
static size_t guard_size;
static const char *place(const char *s, size_t n, bool nul)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t need = n + (nul ? 1 : 0), data_pages = (need + (size_t)pg - 1) / (size_t)pg + 1;
	char *end;
	if (data_pages * (size_t)pg + (size_t)pg > guard_size) {
		if (guard_base)
			munmap(guard_base, guard_size);
		guard_size = data_pages * (size_t)pg + (size_t)pg;
		guard_base = mmap(NULL, guard_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(guard_base != MAP_FAILED);
		CHECK(mprotect(guard_base + guard_size - (size_t)pg, (size_t)pg, PROT_NONE) == 0);
	}
	end = guard_base + guard_size - (size_t)pg;
	if (nul)
		end[-1] = '\0';
	memcpy(end - need, s, n);
	return end - need;
}

/* Strict UTF-8 (RFC 3629): offset of the first bad byte or -1. */
static long ref_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i], need, min, cp;
		size_t k;
		if (c < 0x80) { i++; continue; }
		else if (c >= 0xc2 && c <= 0xdf) { need = 1; min = 0x80; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { need = 2; min = 0x800; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { need = 3; min = 0x10000; cp = c & 0x07; }
		else return (long)i;
		for (k = 1; k <= need; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				return (long)i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (long)i;
		i += need + 1;
	}
	return -1;
}

static bool in_arena(const struct rb_md_result *r, uint32_t off)
{
	return off < r->arena_len && memchr(r->arena + off, '\0', r->arena_len - off);
}

struct summary {
	size_t ndiags, nheads, nlinks;
	unsigned sig;
};

static struct summary summarise(const struct rb_md_result *r)
{
	struct summary s = { r->ndiags, r->nheads, r->nlinks, 0 };
	size_t i;
	for (i = 0; i < r->ndiags; i++)
		s.sig = s.sig * 31 + r->diags[i].line * 17 + (unsigned)r->diags[i].code;
	for (i = 0; i < r->nheads; i++)
		s.sig = s.sig * 31 + r->heads[i].line * 7 + r->heads[i].level + r->heads[i].slug_len;
	for (i = 0; i < r->nlinks; i++)
		s.sig = s.sig * 31 + r->links[i].line + (unsigned)strlen(rb_md_str(r, r->links[i].path));
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rb_md_opts o = { 0 };
	const char *text;
	size_t len, i, nlines = 1, cap;
	struct summary a, b;
	char slug[80];
	long bad, ref;
	bool any_utf8 = false;

	if (size < 1)
		return 0;
	if (!res_init) {
		rb_md_result_init(&res);
		res_init = true;
	}
	o.links = data[0] & 1;
	o.headings_only = (data[0] & 2) != 0;
	o.max_bytes = (data[0] & 4) ? 64 : 0;
	cap = 1 + (data[0] >> 3); /* 1..32 */
	len = size - 1;
	text = place((const char *)data + 1, len, !getenv("RB_FUZZ_MD_NONUL"));
	for (i = 0; i < len; i++)
		nlines += text[i] == '\n';

	CHECK(rb_md_check(text, len, "fuzz.md", &o, &res) == 0);
	for (i = 0; i < res.ndiags; i++) {
		const struct rb_md_diag *d = &res.diags[i];
		CHECK((unsigned)d->code < RB_MD_NCODES);
		CHECK(d->line <= nlines);
		CHECK(memchr(d->message, '\0', RB_MD_MSG_MAX));
		CHECK(rb_md_code_name(d->code) != NULL);
		CHECK(d->severity == rb_md_code_severity(d->code));
		any_utf8 = any_utf8 || d->code == RB_MD_INVALID_UTF8;
	}
	for (i = 0; i < res.nheads; i++) {
		const struct rb_md_heading *h = &res.heads[i];
		CHECK(h->level >= 1 && h->level <= 6);
		CHECK(h->line >= 1 && h->line <= nlines);
		CHECK(in_arena(&res, h->slug));
		CHECK(strlen(rb_md_str(&res, h->slug)) == h->slug_len);
	}
	for (i = 0; i < res.nlinks; i++) {
		const struct rb_md_link *l = &res.links[i];
		CHECK(l->line >= 1 && l->line <= nlines);
		CHECK(in_arena(&res, l->path));
		CHECK(*rb_md_str(&res, l->path) != '\0');
		CHECK(in_arena(&res, l->anchor));
		if (!l->has_anchor)
			CHECK(*rb_md_str(&res, l->anchor) == '\0');
	}
	if (o.headings_only)
		CHECK(res.ndiags == 0 && res.nlinks == 0);
	if (!o.links)
		CHECK(res.nlinks == 0);

	bad = rb_md_utf8_invalid_at(text, len);
	ref = ref_utf8((const unsigned char *)text, len);
	CHECK(bad == ref);
	if (bad >= 0 && !o.headings_only && !(o.max_bytes && len > o.max_bytes))
		CHECK(any_utf8);

	/* Same bytes, same answer (the reused result keeps no stale state). */
	a = summarise(&res);
	CHECK(rb_md_check(text, len, "fuzz.md", &o, &res) == 0);
	b = summarise(&res);
	CHECK(a.ndiags == b.ndiags && a.nheads == b.nheads && a.nlinks == b.nlinks && a.sig == b.sig);

	/* Slugs: bounded, NUL-terminated, only slug characters. */
	memset(slug, 'Z', sizeof slug);
	(void)rb_md_slugify(text, len > 200 ? 200 : len, slug, cap);
	CHECK(memchr(slug, '\0', cap) != NULL);
	CHECK(slug[cap] == 'Z');
	for (i = 0; slug[i]; i++) {
		unsigned char c = (unsigned char)slug[i];
		CHECK(c >= 0x80 || c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'));
	}
	return 0;
}
