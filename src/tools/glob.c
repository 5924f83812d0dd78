/* glob.c: minimatch-compatible glob matching (see glob.h for the rules).
 *
 * A pattern compiles to a list of alternatives (one per brace expansion),
 * each a list of segments; "**" segments are globstars. Matching splits the
 * path at '/' once and walks the segments, backtracking only at globstars;
 * each ordinary segment is one fnmatch(3) call. */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"

#define MAX_ALTS 1024
#define MAX_SEGS 1024

struct alt {
	size_t nseg;
	char **seg;	/* NULL entry = globstar */
};

struct rb_glob {
	bool negate, never;
	size_t nalt;
	struct alt *alts;
};

/* ---- brace expansion ------------------------------------------------------ */

struct strv {
	char **v;
	size_t n, cap;
	int err;
};

static void strv_push(struct strv *sv, const char *a, size_t alen, const char *b, size_t blen)
{
	char *s;
	if (sv->err)
		return;
	if (sv->n == MAX_ALTS) {
		sv->err = -E2BIG;
		return;
	}
	if (sv->n == sv->cap) {
		size_t nc = sv->cap ? sv->cap * 2 : 8;
		char **nv = realloc(sv->v, nc * sizeof *nv);
		if (!nv) {
			sv->err = -ENOMEM;
			return;
		}
		sv->v = nv;
		sv->cap = nc;
	}
	s = malloc(alen + blen + 1);
	if (!s) {
		sv->err = -ENOMEM;
		return;
	}
	memcpy(s, a, alen);
	memcpy(s + alen, b, blen);
	s[alen + blen] = '\0';
	sv->v[sv->n++] = s;
}

/* Index of the '}' closing the '{' at s[i], or -1. Backslash escapes. */
static long brace_close(const char *s, size_t i)
{
	int depth = 0;
	for (; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			i++;
		} else if (s[i] == '{') {
			depth++;
		} else if (s[i] == '}' && --depth == 0) {
			return (long)i;
		}
	}
	return -1;
}

static bool parse_long(const char *s, size_t len, long *out)
{
	char buf[32], *end;
	if (!len || len >= sizeof buf)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!(buf[0] == '-' || (buf[0] >= '0' && buf[0] <= '9')))
		return false;
	errno = 0;
	*out = strtol(buf, &end, 10);
	return !errno && *end == '\0' && end != buf && !(buf[0] == '-' && !buf[1]);
}

/* "{1..5}", "{a..e}", with an optional "..step": the values, or false. */
static bool brace_range(const char *body, size_t len, struct strv *vals)
{
	const char *d1 = memmem(body, len, "..", 2), *d2;
	long a, b, step = 1;
	bool alpha;
	int width = 0;
	if (!d1)
		return false;
	d2 = memmem(d1 + 2, len - (size_t)(d1 + 2 - body), "..", 2);
	size_t la = (size_t)(d1 - body), lb = (size_t)((d2 ? d2 : body + len) - (d1 + 2));
	if (d2 && !parse_long(d2 + 2, len - (size_t)(d2 + 2 - body), &step))
		return false;
	alpha = la == 1 && lb == 1 && !(body[0] >= '0' && body[0] <= '9');
	if (alpha) {
		a = (unsigned char)body[0];
		b = (unsigned char)d1[2];
		if (!((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z')) ||
		    !((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')))
			return false;
	} else {
		if (!parse_long(body, la, &a) || !parse_long(d1 + 2, lb, &b))
			return false;
		/* Leading zeros ask for padding, as in bash and brace-expansion. */
		if ((la > 1 && body[body[0] == '-'] == '0') || (lb > 1 && d1[2 + (d1[2] == '-')] == '0'))
			width = (int)(la > lb ? la : lb);
	}
	if (step < 0)
		step = -step;
	if (step == 0)
		step = 1;
	for (long v = a;; v += a <= b ? step : -step) {
		char buf[40];
		int n;
		if ((a <= b && v > b) || (a > b && v < b))
			break;
		if (alpha)
			n = snprintf(buf, sizeof buf, "%c", (char)v);
		else if (width)
			n = snprintf(buf, sizeof buf, "%0*ld", width, v);
		else
			n = snprintf(buf, sizeof buf, "%ld", v);
		strv_push(vals, buf, (size_t)n, "", 0);
		if (vals->err)
			return true;
	}
	return true;
}

/* Expands the braces of s into out, each result prefixed with fixed. */
static void brace_expand(struct strv *out, const char *fixed, size_t flen, const char *s)
{
	size_t i;
	long j = -1;
	for (i = 0; s[i]; i++) {
		if (s[i] == '\\' && s[i + 1]) {
			i++;
			continue;
		}
		if (s[i] == '{' && (j = brace_close(s, i)) > 0)
			break;
	}
	if (!s[i] || out->err) {
		strv_push(out, fixed, flen, s, strlen(s));
		return;
	}
	const char *body = s + i + 1, *post = s + j + 1;
	size_t blen = (size_t)j - i - 1;
	char *pre = malloc(flen + i + 2);
	if (!pre) {
		out->err = -ENOMEM;
		return;
	}
	memcpy(pre, fixed, flen);
	memcpy(pre + flen, s, i);
	size_t plen = flen + i;

	/* Split the body at top-level commas. */
	struct strv parts = { 0 };
	int depth = 0;
	size_t start = 0, ncomma = 0;
	for (size_t k = 0; k < blen; k++) {
		if (body[k] == '\\' && k + 1 < blen) {
			k++;
		} else if (body[k] == '{') {
			depth++;
		} else if (body[k] == '}') {
			depth--;
		} else if (body[k] == ',' && depth == 0) {
			ncomma++;
			strv_push(&parts, body + start, k - start, "", 0);
			start = k + 1;
		}
	}
	if (ncomma) {
		strv_push(&parts, body + start, blen - start, "", 0);
	} else if (!brace_range(body, blen, &parts)) {
		/* "{x}": not an expansion; keep the '{' literally and go on after it. */
		pre[plen++] = '{';
		brace_expand(out, pre, plen, s + i + 1);
		free(pre);
		return;
	}
	if (parts.err)
		out->err = parts.err;
	for (size_t k = 0; k < parts.n && !out->err; k++) {
		char *rest;
		if (asprintf(&rest, "%s%s", parts.v[k], post) < 0) {
			out->err = -ENOMEM;
			break;
		}
		brace_expand(out, pre, plen, rest);
		free(rest);
	}
	for (size_t k = 0; k < parts.n; k++)
		free(parts.v[k]);
	free(parts.v);
	free(pre);
}

/* ---- compile ------------------------------------------------------------------ */

static int alt_init(struct alt *a, char *pat)
{
	char *segs[MAX_SEGS];
	size_t n = 0;
	char *p = pat, *slash;
	for (;;) {
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		/* Collapse empty segments from "a//b"; keep a leading one (an
		 * absolute pattern never matches a relative path) and a trailing
		 * one ("dir/" matches no file name). */
		bool keep = *p || p == pat || !slash;
		/* cppcheck-suppress uninitvar ; segs[0..n) are set (n > 0) */
		if (keep && n > 0 && !segs[n - 1] && !strcmp(p, "**"))
			keep = false; /* "**" / "**" is one globstar */
		if (keep) {
			if (n == MAX_SEGS)
				return -E2BIG;
			segs[n++] = strcmp(p, "**") ? p : NULL;
		}
		if (!slash)
			break;
		p = slash + 1;
	}
	a->seg = calloc(n ? n : 1, sizeof *a->seg);
	if (!a->seg)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (segs[i] && !(a->seg[i] = strdup(segs[i])))
			return -ENOMEM;
	}
	a->nseg = n;
	return 0;
}

int rb_glob_new(const char *pat, struct rb_glob **out)
{
	struct rb_glob *g = calloc(1, sizeof *g);
	struct strv sv = { 0 };
	int r = 0;
	*out = NULL;
	if (!g)
		return -ENOMEM;
	if (pat[0] == '#') {
		g->never = true; /* minimatch: a comment matches nothing */
		*out = g;
		return 0;
	}
	/* Leading '!'s toggle negation (even before '(': minimatch reads
	 * "!(a).md" as "not (a).md", not as an extglob). */
	while (pat[0] == '!') {
		g->negate = !g->negate;
		pat++;
	}
	brace_expand(&sv, "", 0, pat);
	if (sv.err) {
		r = sv.err;
		goto out;
	}
	g->alts = calloc(sv.n ? sv.n : 1, sizeof *g->alts); /* calloc(0) may return NULL */
	if (!g->alts) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < sv.n && !r; i++) {
		r = alt_init(&g->alts[i], sv.v[i]);
		g->nalt = i + 1;
	}
out:
	for (size_t i = 0; i < sv.n; i++)
		free(sv.v[i]);
	free(sv.v);
	if (r < 0) {
		rb_glob_free(g);
		return r;
	}
	*out = g;
	return 0;
}

void rb_glob_free(struct rb_glob *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nalt; i++) {
		for (size_t k = 0; k < g->alts[i].nseg; k++)
			free(g->alts[i].seg[k]);
		free(g->alts[i].seg);
	}
	free(g->alts);
	free(g);
}

/* ---- match ------------------------------------------------------------------- */

struct split {
	char buf[PATH_MAX];
	const char *seg[PATH_MAX / 2];
	size_t n;
};

static bool split_path(struct split *s, const char *path)
{
	size_t len = strlen(path);
	char *p;
	if (len >= sizeof s->buf)
		return false;
	memcpy(s->buf, path, len + 1);
	s->n = 0;
	p = s->buf;
	for (;;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (*p)
			s->seg[s->n++] = p;
		if (!slash)
			break;
		p = slash + 1;
	}
	return true;
}

static bool seg_match(const char *pat, const char *name)
{
	return fnmatch(pat, name, FNM_EXTMATCH) == 0;
}

static bool match_from(const struct alt *a, size_t pi, const struct split *s, size_t si)
{
	for (; pi < a->nseg; pi++, si++) {
		if (!a->seg[pi]) {
			/* A trailing globstar needs at least one segment (pattern
			 * "a/" + "**" does not match "a"); an inner one may match
			 * none. */
			if (pi + 1 == a->nseg)
				return si < s->n;
			for (size_t k = si; k <= s->n; k++)
				if (match_from(a, pi + 1, s, k))
					return true;
			return false;
		}
		if (si >= s->n || !seg_match(a->seg[pi], s->seg[si]))
			return false;
	}
	return si == s->n;
}

static bool below_from(const struct alt *a, size_t pi, const struct split *s, size_t si)
{
	for (; si < s->n; pi++, si++) {
		if (pi >= a->nseg)
			return false;
		if (!a->seg[pi])
			return true;
		if (!seg_match(a->seg[pi], s->seg[si]))
			return false;
	}
	return pi < a->nseg;
}

bool rb_glob_match(const struct rb_glob *g, const char *path)
{
	static __thread struct split s;
	bool m = false;
	if (g->never)
		return false;
	if (!split_path(&s, path))
		return false;
	for (size_t i = 0; i < g->nalt && !m; i++)
		m = match_from(&g->alts[i], 0, &s, 0);
	return m != g->negate;
}

bool rb_glob_match_below(const struct rb_glob *g, const char *dir)
{
	static __thread struct split s;
	if (g->never)
		return false;
	if (g->negate || !split_path(&s, dir))
		return true;
	for (size_t i = 0; i < g->nalt; i++)
		if (below_from(&g->alts[i], 0, &s, 0))
			return true;
	return false;
}
