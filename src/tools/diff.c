/* diff.c: the unified diff of edit_file, byte-identical to jsdiff 8's
 * createTwoFilesPatch (what the official filesystem server prints).
 *
 * Lines are tokens that keep their '\n' (a last line without one is a
 * different token, hence the "\ No newline at end of file" markers). The
 * line diff is jsdiff's Myers variant: paths per diagonal, each extended
 * greedily along the diagonal, preferring the path furthest along the old
 * text, with the same diagonal pruning at the graph's edges; the same
 * choices give the same hunks. Path components are shared between paths
 * (each step links to its predecessor), allocated from an arena and freed
 * together. When the arena passes its budget (huge, very different inputs)
 * we emit one hunk covering everything between the common prefix and
 * suffix: a correct patch, just not a minimal one. Hunks then get 4 lines
 * of context, merged when closer than 8, as in structuredPatch(). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define CONTEXT 4
#define ARENA_BUDGET (1u << 22) /* components: 4M x 24 B = 96 MiB at most */

enum { K_COMMON, K_ADDED, K_REMOVED };

struct tok {
	const char *p;
	size_t len;
};

struct comp {
	size_t count;
	int kind;
	struct comp *prev;
};

struct arena {
	struct arena_chunk {
		struct arena_chunk *next;
		size_t used;
		struct comp c[4096];
	} *head;
	size_t total;
};

struct path {
	long old_pos;
	struct comp *last;
	bool set;
};

struct seg {		/* one component, in order, with where its lines are */
	int kind;
	const struct tok *lines;
	size_t count;
};

static struct comp *comp_new(struct arena *a, size_t count, int kind, struct comp *prev)
{
	struct comp *c;
	if (a->total >= ARENA_BUDGET)
		return NULL;
	if (!a->head || a->head->used == 4096) {
		struct arena_chunk *ch = malloc(sizeof *ch);
		if (!ch)
			return NULL;
		ch->next = a->head;
		ch->used = 0;
		a->head = ch;
	}
	c = &a->head->c[a->head->used++];
	a->total++;
	c->count = count;
	c->kind = kind;
	c->prev = prev;
	return c;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct arena_chunk *n = a->head->next;
		free(a->head);
		a->head = n;
	}
}

static struct tok *tokenize(const char *s, size_t len, size_t *n)
{
	size_t cnt = 0, k = 0, start = 0;
	struct tok *v;
	for (size_t i = 0; i < len; i++)
		cnt += s[i] == '\n';
	v = malloc((cnt + 1) * sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			v[k++] = (struct tok){ s + start, i + 1 - start };
			start = i + 1;
		}
	}
	if (start < len)
		v[k++] = (struct tok){ s + start, len - start };
	*n = k;
	return v;
}

static bool tok_eq(const struct tok *a, const struct tok *b)
{
	return a->len == b->len && !memcmp(a->p, b->p, a->len);
}

struct myers {
	const struct tok *o, *n;
	long olen, nlen;
	struct arena arena;
	bool oom;
};

/* jsdiff addToPath: extends a path by one insertion or removal, merging
 * with its last component when of the same kind (without mutating it: the
 * component may be shared with another path). */
static struct path add_to_path(struct myers *m, const struct path *p, int kind, long inc)
{
	struct path r = { .old_pos = p->old_pos + inc, .set = true };
	const struct comp *last = p->last;
	if (last && last->kind == kind)
		r.last = comp_new(&m->arena, last->count + 1, kind, last->prev);
	else
		r.last = comp_new(&m->arena, 1, kind, p->last);
	if (!r.last)
		m->oom = true;
	return r;
}

/* jsdiff extractCommon: follows the diagonal while lines are equal. */
static long extract_common(struct myers *m, struct path *p, long diag)
{
	long old_pos = p->old_pos, new_pos = old_pos - diag, common = 0;
	while (new_pos + 1 < m->nlen && old_pos + 1 < m->olen && tok_eq(&m->o[old_pos + 1], &m->n[new_pos + 1])) {
		new_pos++;
		old_pos++;
		common++;
	}
	if (common) {
		p->last = comp_new(&m->arena, (size_t)common, K_COMMON, p->last);
		if (!p->last)
			m->oom = true;
	}
	p->old_pos = old_pos;
	return new_pos;
}

/* Runs the diff; returns the last component of the winning path (NULL with
 * m->oom set when over budget or out of memory; NULL alone when both sides
 * are empty). */
static struct comp *myers_run(struct myers *m)
{
	long max_edit = m->olen + m->nlen, off = max_edit + 1;
	long min_diag = LONG_MIN / 2, max_diag = LONG_MAX / 2;
	struct path *best = calloc((size_t)(2 * max_edit + 3), sizeof *best);
	struct comp *res = NULL;
	long new_pos;
	if (!best) {
		m->oom = true;
		return NULL;
	}
	best[off] = (struct path){ .old_pos = -1, .set = true };
	new_pos = extract_common(m, &best[off], 0);
	if (best[off].old_pos + 1 >= m->olen && new_pos + 1 >= m->nlen) {
		res = best[off].last;
		goto out;
	}
	for (long edit = 1; edit <= max_edit && !m->oom; edit++) {
		long lo = min_diag > -edit ? min_diag : -edit, hi = max_diag < edit ? max_diag : edit;
		for (long d = lo; d <= hi; d += 2) {
			struct path rem = { 0 }, add = { 0 }, base;
			bool can_add = false, can_remove;
			if (d - 1 + off >= 0 && best[d - 1 + off].set) {
				rem = best[d - 1 + off];
				best[d - 1 + off].set = false; /* nobody else will use it */
			}
			if (d + 1 + off <= 2 * max_edit + 2 && best[d + 1 + off].set) {
				long add_new_pos;
				add = best[d + 1 + off];
				add_new_pos = add.old_pos - d;
				can_add = add_new_pos >= 0 && add_new_pos < m->nlen;
			}
			can_remove = rem.set && rem.old_pos + 1 < m->olen;
			if (!can_add && !can_remove) {
				best[d + off].set = false;
				continue;
			}
			if (!can_remove || (can_add && rem.old_pos < add.old_pos))
				base = add_to_path(m, &add, K_ADDED, 0);
			else
				base = add_to_path(m, &rem, K_REMOVED, 1);
			new_pos = extract_common(m, &base, d);
			if (m->oom)
				goto out;
			if (base.old_pos + 1 >= m->olen && new_pos + 1 >= m->nlen) {
				res = base.last;
				goto out;
			}
			best[d + off] = base;
			if (base.old_pos + 1 >= m->olen && d - 1 < max_diag)
				max_diag = d - 1;
			if (new_pos + 1 >= m->nlen && d + 1 > min_diag)
				min_diag = d + 1;
		}
	}
out:
	free(best);
	return res;
}

/* Turns the component chain into segments in order (jsdiff buildValues). */
static struct seg *build_segs(const struct comp *last, const struct tok *o, const struct tok *n, size_t *count)
{
	size_t k = 0, nseg = 0, opos = 0, npos = 0;
	struct seg *v;
	for (const struct comp *c = last; c; c = c->prev)
		nseg++;
	v = malloc((nseg + 1) * sizeof *v);
	if (!v)
		return NULL;
	k = nseg;
	for (const struct comp *c = last; c; c = c->prev)
		v[--k] = (struct seg){ .kind = c->kind, .count = c->count };
	for (k = 0; k < nseg; k++) {
		if (v[k].kind == K_REMOVED) {
			v[k].lines = o + opos;
			opos += v[k].count;
		} else {
			v[k].lines = n + npos;
			npos += v[k].count;
			if (v[k].kind == K_COMMON)
				opos += v[k].count;
		}
	}
	*count = nseg;
	return v;
}

/* Fallback segments: common prefix, all removed, all added, common suffix. */
static struct seg *coarse_segs(const struct tok *o, size_t on, const struct tok *n, size_t nn, size_t *count)
{
	size_t pre = 0, suf = 0, k = 0;
	struct seg *v = malloc(4 * sizeof *v);
	if (!v)
		return NULL;
	while (pre < on && pre < nn && tok_eq(&o[pre], &n[pre]))
		pre++;
	while (suf < on - pre && suf < nn - pre && tok_eq(&o[on - 1 - suf], &n[nn - 1 - suf]))
		suf++;
	if (pre)
		v[k++] = (struct seg){ K_COMMON, n, pre };
	if (on - pre - suf)
		v[k++] = (struct seg){ K_REMOVED, o + pre, on - pre - suf };
	if (nn - pre - suf)
		v[k++] = (struct seg){ K_ADDED, n + pre, nn - pre - suf };
	if (suf)
		v[k++] = (struct seg){ K_COMMON, n + nn - suf, suf };
	*count = k;
	return v;
}

struct hline {
	char sign;
	const struct tok *t;
};

struct hunk_buf {
	struct hline *v;
	size_t n, cap;
	bool oom;
};

static void hpush(struct hunk_buf *h, char sign, const struct tok *t)
{
	if (h->n == h->cap) {
		size_t nc = h->cap ? h->cap * 2 : 64;
		struct hline *nv = realloc(h->v, nc * sizeof *nv);
		if (!nv) {
			h->oom = true;
			return;
		}
		h->v = nv;
		h->cap = nc;
	}
	h->v[h->n++] = (struct hline){ sign, t };
}

static void emit_hunk(struct rb_sbuf *out, long os, long ol, long ns, long nl, const struct hunk_buf *h)
{
	/* Unified-format quirk kept by jsdiff: an empty range starts one lower. */
	if (ol == 0)
		os--;
	if (nl == 0)
		ns--;
	rb_sbuf_addf(out, "@@ -%ld,%ld +%ld,%ld @@\n", os, ol, ns, nl);
	for (size_t i = 0; i < h->n; i++) {
		const struct tok *t = h->v[i].t;
		bool nl_end = t->len && t->p[t->len - 1] == '\n';
		rb_sbuf_addc(out, h->v[i].sign);
		rb_sbuf_add(out, t->p, nl_end ? t->len - 1 : t->len);
		rb_sbuf_addc(out, '\n');
		if (!nl_end)
			rb_sbuf_adds(out, "\\ No newline at end of file\n");
	}
}

int rb_diff_unified(struct rb_sbuf *out, const char *name, const char *a, size_t alen,
		    const char *b, size_t blen)
{
	size_t on = 0, nn = 0, nseg = 0;
	struct tok *o = tokenize(a, alen, &on), *n = tokenize(b, blen, &nn);
	struct myers m = { 0 };
	struct seg *segs = NULL;
	struct hunk_buf h = { 0 };
	int r = 0;
	if (!o || !n) {
		r = -ENOMEM;
		goto out;
	}
	m = (struct myers){ .o = o, .n = n, .olen = (long)on, .nlen = (long)nn };
	struct comp *last = myers_run(&m);
	segs = m.oom ? coarse_segs(o, on, n, nn, &nseg) : build_segs(last, o, n, &nseg);
	arena_free(&m.arena);
	if (!segs) {
		r = -ENOMEM;
		goto out;
	}

	rb_sbuf_addf(out, "Index: %s\n", name);
	rb_sbuf_adds(out, "===================================================================\n");
	rb_sbuf_addf(out, "--- %s\toriginal\n+++ %s\tmodified\n", name, name);

	/* structuredPatch step 1, with the empty sentinel segment at nseg. */
	long old_start = 0, new_start = 0, old_line = 1, new_line = 1;
	for (size_t i = 0; i <= nseg; i++) {
		struct seg cur = i < nseg ? segs[i] : (struct seg){ K_COMMON, NULL, 0 };
		if (cur.kind != K_COMMON) {
			if (!old_start) {
				old_start = old_line;
				new_start = new_line;
				h.n = 0;
				if (i > 0) {
					const struct seg *prev = &segs[i - 1];
					size_t c = prev->count < CONTEXT ? prev->count : CONTEXT;
					for (size_t k = prev->count - c; k < prev->count; k++)
						hpush(&h, ' ', &prev->lines[k]);
					old_start -= (long)c;
					new_start -= (long)c;
				}
			}
			for (size_t k = 0; k < cur.count; k++)
				hpush(&h, cur.kind == K_ADDED ? '+' : '-', &cur.lines[k]);
			if (cur.kind == K_ADDED)
				new_line += (long)cur.count;
			else
				old_line += (long)cur.count;
			continue;
		}
		if (old_start) {
			if (cur.count <= 2 * CONTEXT && i + 1 < nseg) {
				/* Close enough to the next change: one hunk. */
				for (size_t k = 0; k < cur.count; k++)
					hpush(&h, ' ', &cur.lines[k]);
			} else {
				size_t c = cur.count < CONTEXT ? cur.count : CONTEXT;
				for (size_t k = 0; k < c; k++)
					hpush(&h, ' ', &cur.lines[k]);
				emit_hunk(out, old_start, old_line - old_start + (long)c, new_start,
					  new_line - new_start + (long)c, &h);
				old_start = new_start = 0;
			}
		}
		old_line += (long)cur.count;
		new_line += (long)cur.count;
	}
	if (h.oom || out->oom)
		r = -ENOMEM;
out:
	free(h.v);
	free(segs);
	free(o);
	free(n);
	return r;
}
