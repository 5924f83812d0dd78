/* validate.c: the bank validator (validate.h).
 *
 * Pipeline, all on the loop thread:
 *   rules file read -> walk (rb_fs_walk, bulk class, no statx) -> per
 *   markdown file a job: read (rb_fs_read_file) -> rb_md_check -> its
 *   links one by one -> end. At most max_inflight jobs exist: the walk is
 *   paused at the limit and resumed at 3/4 of it, so reads stay ~64 deep.
 *   After the walk, link checks still parked (below) are drained by jobs.
 *
 * What is kept, and why it is bounded whatever the number of files:
 *   - totals per code, and at most max_reported diagnostics (the result);
 *   - an existence cache of bank paths (4-way set-associative, 56-bit
 *     path hashes with the stat result; 4096 entries doubling up to 2^21,
 *     32 KiB to 16 MiB), fed by the walk's entries and by link stats, so a link to a
 *     file the walk already saw costs no syscall;
 *   - an LRU of heading-slug sets (HSET_MAX files, 64-bit slug hashes),
 *     fed by every validated file and, on a miss after the walk, by reading
 *     and parsing the target once (concurrent misses wait for one load);
 *   - parked link checks (at most PEND_MAX): a check the caches cannot
 *     answer during the walk waits for the walk to report its target
 *     (existence) or for the target's own validation (anchors) instead of
 *     doing I/O now; forward links then cost nothing;
 *   - per-directory name sets for case conflicts, for the most recently
 *     active directories only (DIR_LRU_MAX, DSET_SLOTS_MAX hashes in all):
 *     the walk reads at most walk_dirs_open (16) directories at a time, so
 *     a directory is not evicted while its entries still arrive (a single
 *     directory of over 256k names is checked among its first 256k);
 *   - one small record per project directory (core-file bitmask).
 * Hash equality stands for string equality (64-bit hashes: a collision
 * among a million paths has a probability around 1e-8; 56 bits in the
 * existence cache: around 1e-5). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yyjson.h>

#include "ringbank/loop.h"
#include "validate.h"

#define RULES_FILE ".memory-bank-rules.json"
#define RULES_MAX_BYTES (64u << 10)
#define EXISTS_SETS_MIN (1u << 10) /* x EXISTS_WAYS entries: 32 KiB to start */
#define EXISTS_SETS_MAX (1u << 19) /* 16 MiB: room for 1M paths at half load */
#define EXISTS_WAYS 4u
#define HSET_BUCKETS 32768u
#define HSET_MAX 16384u
#define DIR_LRU_MAX 256u
#define DSET_SLOTS_MAX (1u << 19) /* 8 MiB of name hashes in all */
#define PROJ_BUCKETS 1024u
#define PEND_BUCKETS 16384u
#define PEND_MAX 32768u
#define READ_RETRIES 8u /* for EMFILE: 2, 4 ... 256 ms */

static const char *const default_required[] = {
	"projectbrief.md", "productContext.md", "activeContext.md",
	"systemPatterns.md", "techContext.md", "progress.md",
};

struct kept {
	uint32_t path, msg; /* offsets in the kept arena */
	unsigned line;
	enum rb_md_code code;
};

/* An existence-cache entry: the path hash's high 56 bits and, in the low
 * byte, 1 + the index of its stat result in exists_res (0 = empty). */
typedef uint64_t exists_slot;
static const int exists_res[] = { 0, -ENOENT, -ENOTDIR, -RB_E_OUTSIDE, -ELOOP };

enum { HS_LOADING, HS_READY, HS_FAILED };

struct hset {
	struct rb_validate *v;
	struct rb_list node;	/* v->hlru when settled, v->loading while loading */
	struct hset *hnext;	/* hash chain */
	uint64_t key;
	int state, err;
	uint64_t *slugs;	/* sorted slug hashes */
	size_t n;
	struct rb_list waiters;	/* jobs (wnode) */
	struct rb_fs_op *op;
};

struct dset {
	struct rb_list node; /* v->dlru */
	uint64_t key;
	uint64_t *lower, *exact; /* open addressing on lower (0 = empty) */
	size_t n, cap;
};

struct proj {
	struct proj *next;
	uint64_t key, mask;
	char rel[]; /* bank-relative ("" for the bank root) */
};

struct jlink {
	unsigned line;
	uint32_t path, anchor; /* offsets in the job's strings */
	bool has_anchor;
};

struct job {
	struct rb_validate *v;
	struct rb_list node;  /* v->jobs */
	struct rb_list wnode; /* a hset's waiters */
	struct rb_fs_op *op;  /* read or stat in flight */
	char *rel;	      /* bank-relative path of the file */
	struct jlink *links;
	size_t nlinks, next;
	char *strs;
	uint64_t tkey;	      /* target of the link being checked */
	bool drain;	      /* a parked check run after the walk */
	struct rb_timer retry; /* a read refused for want of fds, tried again */
	unsigned retries;
	char target[PATH_MAX];
};

struct pend {
	struct pend *next;   /* hash chain */
	struct rb_list fifo; /* v->pend_fifo, oldest first */
	uint64_t tkey;
	unsigned line;
	bool has_anchor, anchor_check;
	uint32_t o_path, o_anchor; /* offsets in s; the source path is at 0 */
	char s[];
};

struct rb_validate {
	struct rb_fs *fs;
	struct rb_loop *loop;
	struct rb_path bank;
	size_t bank_rel_len; /* 0 when the bank is the root itself */
	struct rb_validate_hooks hooks;
	void *ctx;

	/* rules in force */
	char *required[RB_VALIDATE_MAX_REQUIRED];
	size_t nrequired;
	size_t max_file_bytes;
	bool check_links;
	struct rb_validate_opts o;

	struct rb_fs_op *rules_op, *walk;
	bool walking, paused, cancelled, finishing;
	int walk_res;
	unsigned njobs, nloads;
	struct rb_list jobs, loading, hlru, dlru;
	unsigned nhsets, ndsets;
	size_t dslots;
	struct hset *htab[HSET_BUCKETS];
	exists_slot *exists;
	size_t exists_sets, exists_used; /* sets (a power of 2); slots in use */
	struct proj *projs[PROJ_BUCKETS];
	size_t nprojs;
	struct pend *pend[PEND_BUCKETS];
	size_t npend;
	struct rb_list pend_fifo;
	bool draining;
	struct rb_defer drain_d;
	struct rb_md_result md, md_load;

	struct kept *kept;
	size_t nkept;
	char *karena;
	size_t karena_len, karena_cap;
	struct rb_validate_diag *out;

	struct rb_validate_report rep;
	uint64_t t0;
	struct rb_defer fin;
	char errbuf[PATH_MAX + 160];
};

static void maybe_finish(struct rb_validate *v);
static void job_links(struct job *j);
static void drain_cb(struct rb_defer *d);

/* ---- small helpers ------------------------------------------------------------- */

static uint64_t hash64(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h | 1; /* never 0: 0 marks empty slots */
}

static bool is_md(const char *name)
{
	size_t n = strlen(name);
	return (n > 3 && !strcasecmp(name + n - 3, ".md")) || (n > 9 && !strcasecmp(name + n - 9, ".markdown"));
}

/* A path under the bank ("" = the bank itself) as a sandbox path. */
static int mkpath(const struct rb_validate *v, const char *brel, struct rb_path *p)
{
	int a, b;
	p->root = v->bank.root;
	p->dirfd = v->bank.dirfd;
	if (!*brel) {
		a = snprintf(p->rel, sizeof(p->rel), "%s", v->bank.rel);
		b = snprintf(p->abs, sizeof(p->abs), "%s", v->bank.abs);
	} else if (!v->bank_rel_len) {
		a = snprintf(p->rel, sizeof(p->rel), "%s", brel);
		b = snprintf(p->abs, sizeof(p->abs), "%s/%s", v->bank.abs, brel);
	} else {
		a = snprintf(p->rel, sizeof(p->rel), "%s/%s", v->bank.rel, brel);
		b = snprintf(p->abs, sizeof(p->abs), "%s/%s", v->bank.abs, brel);
	}
	return a < 0 || b < 0 || (size_t)a >= sizeof(p->rel) || (size_t)b >= sizeof(p->abs) ? -ENAMETOOLONG : 0;
}

static size_t karena_add(struct rb_validate *v, const char *s)
{
	size_t n = strlen(s) + 1, off = v->karena_len;
	if (off + n > v->karena_cap) {
		size_t nc = v->karena_cap ? v->karena_cap * 2 : 64 * 1024;
		char *q;
		while (nc < off + n)
			nc *= 2;
		if (!(q = realloc(v->karena, nc)))
			return SIZE_MAX;
		v->karena = q;
		v->karena_cap = nc;
	}
	memcpy(v->karena + off, s, n);
	v->karena_len += n;
	return off;
}

/* Counts a diagnostic and keeps it while there is room. */
static void emit(struct rb_validate *v, const char *path, unsigned line, enum rb_md_code code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void emit(struct rb_validate *v, const char *path, unsigned line, enum rb_md_code code, const char *fmt, ...)
{
	char msg[RB_MD_MSG_MAX + 64];
	size_t po, mo;
	va_list ap;

	v->rep.by_code[code]++;
	if (rb_md_code_severity(code) == RB_MD_ERROR)
		v->rep.errors++;
	else
		v->rep.warnings++;
	if (v->nkept >= v->o.max_reported) {
		v->rep.truncated = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if ((po = karena_add(v, path)) == SIZE_MAX || (mo = karena_add(v, msg)) == SIZE_MAX ||
	    po > UINT32_MAX || mo > UINT32_MAX) {
		v->rep.truncated = true;
		return;
	}
	v->kept[v->nkept++] = (struct kept){ .path = (uint32_t)po, .msg = (uint32_t)mo, .line = line, .code = code };
}

static void progress(struct rb_validate *v)
{
	v->rep.files++;
	if (v->hooks.progress && v->rep.files % v->o.progress_every == 0)
		v->hooks.progress(v->ctx, v->rep.files);
}

/* ---- existence cache ------------------------------------------------------------- */

/* A 4-way set-associative table: each set keeps its most recently
 * inserted keys first, so an eviction drops the oldest of four rather than
 * whatever happened to share a slot. It starts at EXISTS_SETS_MIN sets and
 * doubles (up to EXISTS_SETS_MAX) when half its slots are in use, so a
 * bank's paths stay cached whatever its size: at a fixed 2^18 entries a
 * 1M-file bank re-stat'ed 11x more link targets per file than a 100k one. */
static exists_slot *exists_set(exists_slot *tab, size_t sets, uint64_t key)
{
	return &tab[((key >> 8) & (sets - 1)) * EXISTS_WAYS];
}

static bool exists_get(struct rb_validate *v, uint64_t key, int *res)
{
	exists_slot *set = exists_set(v->exists, v->exists_sets, key);
	for (unsigned w = 0; w < EXISTS_WAYS; w++)
		if (set[w] && (set[w] & ~0xffull) == (key & ~0xffull)) {
			v->rep.exists_hits++;
			*res = exists_res[(set[w] & 0xff) - 1];
			return true;
		}
	v->rep.exists_misses++;
	return false;
}

/* Puts a slot value into tab; returns whether it took an empty slot. */
static bool exists_insert(exists_slot *tab, size_t sets, exists_slot val)
{
	exists_slot *set = exists_set(tab, sets, val);
	bool fresh;
	unsigned w;
	for (w = 0; w < EXISTS_WAYS - 1 && set[w] && (set[w] & ~0xffull) != (val & ~0xffull); w++)
		;
	fresh = !set[w];
	memmove(set + 1, set, w * sizeof(*set));
	set[0] = val;
	return fresh;
}

static void exists_grow(struct rb_validate *v)
{
	size_t sets = v->exists_sets * 2, used = 0;
	exists_slot *tab = calloc(sets * EXISTS_WAYS, sizeof(*tab));
	if (!tab)
		return; /* keep the table we have: older entries are evicted */
	for (size_t i = 0; i < v->exists_sets; i++)
		for (unsigned w = EXISTS_WAYS; w-- > 0;) /* oldest first: recency kept */
			if (v->exists[i * EXISTS_WAYS + w])
				used += exists_insert(tab, sets, v->exists[i * EXISTS_WAYS + w]);
	free(v->exists);
	v->exists = tab;
	v->exists_sets = sets;
	v->exists_used = used;
}

/* Only the results in exists_res are cached (others may be transient). */
static void exists_put(struct rb_validate *v, uint64_t key, int res)
{
	unsigned code;
	for (code = 0; code < sizeof(exists_res) / sizeof(exists_res[0]) && exists_res[code] != res; code++)
		;
	if (code == sizeof(exists_res) / sizeof(exists_res[0]))
		return;
	v->exists_used += exists_insert(v->exists, v->exists_sets, (key & ~0xffull) | (code + 1));
	if (v->exists_used > v->exists_sets * EXISTS_WAYS / 2 && v->exists_sets < EXISTS_SETS_MAX)
		exists_grow(v);
}

/* ---- heading-slug sets ------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static struct hset *hset_find(struct rb_validate *v, uint64_t key)
{
	struct hset *h;
	for (h = v->htab[key % HSET_BUCKETS]; h; h = h->hnext)
		if (h->key == key)
			return h;
	return NULL;
}

static void hset_unhash(struct rb_validate *v, struct hset *h)
{
	struct hset **pp;
	for (pp = &v->htab[h->key % HSET_BUCKETS]; *pp; pp = &(*pp)->hnext)
		if (*pp == h) {
			*pp = h->hnext;
			break;
		}
}

static void hset_free(struct rb_validate *v, struct hset *h)
{
	hset_unhash(v, h);
	rb_list_del(&h->node);
	v->nhsets--;
	free(h->slugs);
	free(h);
}

/* Settles a set into the LRU and evicts the least recently used beyond the limit. */
static void hset_settle(struct rb_validate *v, struct hset *h)
{
	rb_list_del(&h->node);
	rb_list_add_head(&v->hlru, &h->node);
	while (v->nhsets > HSET_MAX && !rb_list_empty(&v->hlru)) {
		struct hset *old = rb_container_of(v->hlru.prev, struct hset, node);
		if (old == h)
			break;
		hset_free(v, old);
	}
}

static struct hset *hset_new(struct rb_validate *v, uint64_t key)
{
	struct hset *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->v = v;
	h->key = key;
	rb_list_init(&h->node);
	rb_list_init(&h->waiters);
	h->hnext = v->htab[key % HSET_BUCKETS];
	v->htab[key % HSET_BUCKETS] = h;
	v->nhsets++;
	return h;
}

/* Fills h from a checker result (headings). */
static int hset_fill(struct hset *h, const struct rb_md_result *r)
{
	free(h->slugs);
	h->slugs = NULL;
	h->n = 0;
	if (r->nheads) {
		if (!(h->slugs = malloc(r->nheads * sizeof(*h->slugs))))
			return -ENOMEM;
		for (size_t i = 0; i < r->nheads; i++)
			h->slugs[i] = hash64(rb_md_str(r, r->heads[i].slug), r->heads[i].slug_len);
		h->n = r->nheads;
		qsort(h->slugs, h->n, sizeof(*h->slugs), cmp_u64);
	}
	h->state = HS_READY;
	return 0;
}

static bool hset_has(const struct hset *h, uint64_t slug)
{
	return h->n && bsearch(&slug, h->slugs, h->n, sizeof(slug), cmp_u64);
}

/* ---- verdicts on one link ----------------------------------------------------------- */

/* One link being judged, from a job or from a parked check. */
struct lref {
	const char *src;	   /* the linking file, bank-relative */
	unsigned line;
	const char *path, *anchor; /* as written (decoded) */
	bool has_anchor;
	const char *target;	   /* resolved, bank-relative */
};

static struct lref job_lref(const struct job *j)
{
	const struct jlink *l = &j->links[j->next];
	return (struct lref){ .src = j->rel, .line = l->line, .path = j->strs + l->path, .anchor = j->strs + l->anchor,
			      .has_anchor = l->has_anchor, .target = j->target };
}

static const char *link_text(const struct lref *l, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s", l->path, l->has_anchor ? "#" : "", l->has_anchor ? l->anchor : "");
	return buf;
}

/* The target is missing or unusable (err from a stat or a read). */
static void link_failed(struct rb_validate *v, const struct lref *l, int err)
{
	char b[PATH_MAX + 64];
	link_text(l, b, sizeof(b));
	if (err == -ENOENT || err == -ENOTDIR)
		emit(v, l->src, l->line, RB_MD_BROKEN_LINK, "link %.300s: %.300s does not exist", b, l->target);
	else if (err == -RB_E_OUTSIDE || err == -ELOOP || err == -EXDEV)
		emit(v, l->src, l->line, RB_MD_BROKEN_LINK, "link %.300s: resolves outside the allowed directories", b);
	else
		emit(v, l->src, l->line, RB_MD_BROKEN_LINK, "link %.300s: %s", b, rb_strerror(err));
}

/* The target could not be read for its headings: a file too large or not
 * regular exists, its anchors just cannot be checked. */
static void anchor_unreadable(struct rb_validate *v, const struct lref *l, int err)
{
	if (err != -RB_E_TOO_LARGE && err != -RB_E_NOT_REGULAR && err != -ECANCELED)
		link_failed(v, l, err);
}

static void anchor_missing(struct rb_validate *v, const struct lref *l)
{
	char b[PATH_MAX + 64];
	emit(v, l->src, l->line, RB_MD_BROKEN_ANCHOR, "link %.300s: %.300s has no heading with anchor #%.120s",
	     link_text(l, b, sizeof(b)), l->target, l->anchor);
}

static void anchor_verdict(struct rb_validate *v, const struct lref *l, const struct hset *h)
{
	if (h->state == HS_FAILED)
		anchor_unreadable(v, l, h->err);
	else if (!hset_has(h, hash64(l->anchor, strlen(l->anchor))))
		anchor_missing(v, l);
}

/* ---- link resolution ------------------------------------------------------------------ */

/* Lexically resolves link path lp written in file src (bank-relative)
 * against src's directory (or the bank for "/x"), from the root so that
 * "../bank/x.md" works. The bank-relative target goes to out (PATH_MAX).
 * Returns NULL, or why the link is broken without any I/O. */
static const char *resolve_path(const struct rb_validate *v, const char *src, const char *lp, char *out)
{
	const char *slash = strrchr(src, '/'), *s;
	size_t n = 0, blen = v->bank_rel_len, dirlen = slash ? (size_t)(slash - src) : 0;
	char buf[PATH_MAX * 2];

	/* buf holds PATH_MAX * 2: the bank and the source's directory fit */
	memcpy(buf, v->bank.rel, n = blen);
	if (*lp != '/' && dirlen) {
		if (n)
			buf[n++] = '/';
		memcpy(buf + n, src, dirlen);
		n += dirlen;
	}
	for (s = lp; *s;) {
		const char *e = strchr(s, '/');
		size_t cl = e ? (size_t)(e - s) : strlen(s);
		if (cl == 2 && s[0] == '.' && s[1] == '.') {
			if (!n)
				return "points outside the root";
			while (n && buf[n - 1] != '/')
				n--;
			if (n)
				n--;
		} else if (cl && !(cl == 1 && s[0] == '.')) {
			if (n + cl + 2 >= PATH_MAX)
				return "path too long";
			if (n)
				buf[n++] = '/';
			memcpy(buf + n, s, cl);
			n += cl;
		}
		s += cl + (s[cl] == '/');
	}
	buf[n] = '\0';
	if (blen && (n < blen || memcmp(buf, v->bank.rel, blen) || (n > blen && buf[blen] != '/')))
		return "points outside the bank";
	s = !blen ? buf : n > blen ? buf + blen + 1 : buf + n;
	if ((size_t)(buf + n - s) >= PATH_MAX)
		return "path too long";
	memcpy(out, s, (size_t)(buf + n - s) + 1);
	return NULL;
}

/* Resolves the job's current link into j->target / j->tkey; false when it
 * is broken on its face (reported). */
static bool resolve(struct rb_validate *v, struct job *j, const struct jlink *l)
{
	const char *why = resolve_path(v, j->rel, j->strs + l->path, j->target);
	if (why) {
		struct lref lr = job_lref(j);
		char tb[PATH_MAX + 64];
		emit(v, j->rel, l->line, RB_MD_BROKEN_LINK, "link %.300s: %s", link_text(&lr, tb, sizeof(tb)), why);
		return false;
	}
	j->tkey = hash64(j->target, strlen(j->target));
	return true;
}

/* ---- loading a link target's headings ----------------------------------------------- */

static void job_end(struct job *j);

static void load_cb(void *ctx, int res, struct rb_fs_file *f)
{
	struct hset *h = ctx;
	struct rb_validate *v = h->v;
	struct rb_list *n, woken;

	h->op = NULL;
	v->nloads--;
	h->state = HS_FAILED;
	h->err = res;
	if (res >= 0) {
		struct rb_md_opts mo = { .max_bytes = v->max_file_bytes, .headings_only = true };
		if (rb_md_check(f->data, f->len, NULL, &mo, &v->md_load) < 0 || hset_fill(h, &v->md_load) < 0) {
			h->state = HS_FAILED;
			h->err = -ENOMEM;
		}
	}
	/* Verdicts first, then h is settled (or dropped), and only then do the
	 * waiters go on: their next links may evict sets from the LRU. */
	rb_list_init(&woken);
	while ((n = rb_list_pop(&h->waiters))) {
		struct job *j = rb_container_of(n, struct job, wnode);
		if (!v->cancelled && h->err != -ENOMEM) {
			struct lref lr = job_lref(j);
			anchor_verdict(v, &lr, h);
		}
		rb_list_add_tail(&woken, &j->wnode);
	}
	if (h->state == HS_FAILED && (h->err == -ECANCELED || h->err == -ENOMEM))
		hset_free(v, h); /* not an answer about the file: do not cache it */
	else
		hset_settle(v, h);
	while ((n = rb_list_pop(&woken))) {
		struct job *j = rb_container_of(n, struct job, wnode);
		j->next++;
		job_links(j);
	}
	maybe_finish(v);
}

static struct hset *hset_load(struct rb_validate *v, const char *target, uint64_t key)
{
	struct rb_path p;
	struct hset *h;
	if (mkpath(v, target, &p) < 0 || !(h = hset_new(v, key)))
		return NULL;
	h->state = HS_LOADING;
	rb_list_add_tail(&v->loading, &h->node);
	if (rb_fs_read_file(v->fs, &p, 0, v->max_file_bytes, RB_CAP_BULK, load_cb, h, &h->op) < 0) {
		hset_free(v, h);
		return NULL;
	}
	v->nloads++;
	v->rep.heading_misses++;
	return h;
}

/* ---- jobs: one markdown file --------------------------------------------------------- */

static void job_free(struct job *j)
{
	free(j->rel);
	free(j->links);
	free(j->strs);
	free(j);
}

static void job_end(struct job *j)
{
	struct rb_validate *v = j->v;
	rb_list_del(&j->node);
	job_free(j);
	v->njobs--;
	if (v->paused && v->walk && !v->cancelled && v->njobs <= v->o.max_inflight * 3 / 4) {
		v->paused = false;
		rb_fs_walk_resume(v->walk);
	}
	if (v->draining && v->npend && !v->cancelled) {
		v->drain_d.data = v;
		rb_defer(v->loop, &v->drain_d, drain_cb);
	}
	maybe_finish(v);
}

static void stat_cb(void *ctx, int res, const struct statx *stx)
{
	struct job *j = ctx;
	struct rb_validate *v = j->v;
	j->op = NULL;
	if (v->cancelled) {
		job_end(j);
		return;
	}
	if (res >= 0 || res == -ENOENT || res == -ENOTDIR || res == -RB_E_OUTSIDE || res == -ELOOP)
		exists_put(v, j->tkey, res < 0 ? res : 0);
	if (res < 0) {
		struct lref lr = job_lref(j);
		link_failed(v, &lr, res);
	}
	j->next++;
	job_links(j);
}

/* ---- parked link checks -------------------------------------------------------------
 * A link whose answer is not cached would cost a statx (existence) or a
 * read and a parse (anchors) now, yet the walk is about to see most such
 * targets anyway (forward links). So while the walk runs, such a check is
 * parked under its target's hash instead: the walk's entry for the target
 * settles an existence check, the target's own validation settles an
 * anchor check. What is still parked when the walk and the jobs are done
 * (targets outside the walk, or seen before the check was parked and
 * since evicted from the caches) is drained through ordinary jobs with
 * I/O. At most PEND_MAX checks are parked; beyond that, checks do their
 * I/O at once, so memory stays bounded. */

static struct job *job_new(struct rb_validate *v, const char *rel);
static void pend_run(struct rb_validate *v, struct pend *p);

static void pend_unlink(struct rb_validate *v, struct pend *p)
{
	struct pend **pp = &v->pend[p->tkey % PEND_BUCKETS];
	while (*pp != p)
		pp = &(*pp)->next;
	*pp = p->next;
	rb_list_del(&p->fifo);
	v->npend--;
}

static bool park(struct rb_validate *v, const struct lref *l, uint64_t key, bool anchor_check)
{
	size_t ls = strlen(l->src) + 1, lp = strlen(l->path) + 1, la = strlen(l->anchor) + 1;
	struct pend *p;

	if (!v->walking || v->cancelled)
		return false;
	if (v->npend >= PEND_MAX) {
		/* Full: the oldest parked check is the one least likely to be
		 * settled by the walk soon (a far forward link); it does its
		 * I/O now, in a job of its own, unless jobs are already many. */
		if (v->njobs >= 2 * v->o.max_inflight)
			return false;
		p = rb_container_of(v->pend_fifo.next, struct pend, fifo);
		pend_unlink(v, p);
		pend_run(v, p);
	}
	/* The target is not stored: it is resolved again from src and path
	 * in the rare case a message needs it. */
	if (!(p = malloc(sizeof(*p) + ls + lp + la)))
		return false;
	p->tkey = key;
	p->line = l->line;
	p->has_anchor = l->has_anchor;
	p->anchor_check = anchor_check;
	p->o_path = (uint32_t)ls;
	p->o_anchor = (uint32_t)(ls + lp);
	memcpy(p->s, l->src, ls);
	memcpy(p->s + p->o_path, l->path, lp);
	memcpy(p->s + p->o_anchor, l->anchor, la);
	p->next = v->pend[key % PEND_BUCKETS];
	v->pend[key % PEND_BUCKETS] = p;
	rb_list_add_tail(&v->pend_fifo, &p->fifo);
	v->npend++;
	v->rep.parked++;
	return true;
}

/* target: PATH_MAX bytes for the resolved target (for messages). */
static struct lref pend_lref(const struct rb_validate *v, const struct pend *p, char *target)
{
	if (resolve_path(v, p->s, p->s + p->o_path, target))
		target[0] = '\0'; /* cannot happen: it resolved when parked */
	return (struct lref){ .src = p->s, .line = p->line, .path = p->s + p->o_path, .anchor = p->s + p->o_anchor,
			      .has_anchor = p->has_anchor, .target = target };
}

/* The walk reported the entry with this key: existence checks are settled
 * (and anchor checks too when it is a directory: nothing to parse). */
static void pend_seen(struct rb_validate *v, uint64_t key, bool is_dir)
{
	struct pend **pp = &v->pend[key % PEND_BUCKETS], *p;
	while ((p = *pp)) {
		if (p->tkey == key && (!p->anchor_check || is_dir)) {
			*pp = p->next;
			rb_list_del(&p->fifo);
			free(p);
			v->npend--;
		} else
			pp = &p->next;
	}
}

/* The file with this key was validated (r: its headings) or could not be
 * read (err): every check parked on it is settled. */
static void pend_checked(struct rb_validate *v, uint64_t key, const struct rb_md_result *r, int err)
{
	struct pend **pp = &v->pend[key % PEND_BUCKETS], *p;
	while ((p = *pp)) {
		if (p->tkey != key) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		rb_list_del(&p->fifo);
		v->npend--;
		if (p->anchor_check) {
			char target[PATH_MAX];
			struct lref l = pend_lref(v, p, target);
			bool found = false;
			if (err < 0) {
				anchor_unreadable(v, &l, err);
				found = true;
			}
			for (size_t i = 0; r && !found && i < r->nheads; i++)
				found = !strcmp(rb_md_str(r, r->heads[i].slug), l.anchor);
			if (!found)
				anchor_missing(v, &l);
		}
		free(p);
	}
}

/* Checks the job's links from j->next on; returns when one waits for I/O
 * (its callback continues here) or all are done (the job ends). */
static void job_links(struct job *j)
{
	struct rb_validate *v = j->v;
	while (j->next < j->nlinks && !v->cancelled) {
		const struct jlink *l = &j->links[j->next];
		const char *a = j->strs + l->anchor;
		struct lref lr;
		int ex;

		if (!resolve(v, j, l)) {
			j->next++;
			continue;
		}
		if (!j->drain)
			v->rep.links_checked++;
		lr = job_lref(j);
		if (l->has_anchor && *a && is_md(j->target)) {
			struct hset *h = hset_find(v, j->tkey);
			if (h && h->state == HS_LOADING) {
				rb_list_add_tail(&h->waiters, &j->wnode);
				return;
			}
			if (h) {
				v->rep.heading_hits++;
				hset_settle(v, h); /* most recently used */
				anchor_verdict(v, &lr, h);
				j->next++;
				continue;
			}
			if (!j->drain && park(v, &lr, j->tkey, true)) {
				j->next++;
				continue;
			}
			if ((h = hset_load(v, j->target, j->tkey))) {
				rb_list_add_tail(&h->waiters, &j->wnode);
				return;
			}
			/* no memory for the load: fall back to existence */
		}
		if (exists_get(v, j->tkey, &ex)) {
			if (ex < 0)
				link_failed(v, &lr, ex);
			j->next++;
			continue;
		}
		if (!j->drain && park(v, &lr, j->tkey, false)) {
			j->next++;
			continue;
		}
		{
			struct rb_path p;
			if (mkpath(v, j->target, &p) == 0 &&
			    rb_fs_stat(v->fs, &p, 0, RB_CAP_BULK, stat_cb, j, &j->op) == 0) {
				v->rep.stats++;
				return;
			}
			emit(v, j->rel, l->line, RB_MD_BROKEN_LINK, "link target %.300s cannot be checked", j->target);
			j->next++;
		}
	}
	job_end(j);
}

/* Runs a parked check (already unlinked) through a job of its own, with
 * I/O: after the walk, or when the parked table overflows. */
static void pend_run(struct rb_validate *v, struct pend *p)
{
	size_t lp = strlen(p->s + p->o_path) + 1, la = strlen(p->s + p->o_anchor) + 1;
	struct job *j = job_new(v, p->s);

	if (j && (j->links = malloc(sizeof(*j->links))) && (j->strs = malloc(lp + la))) {
		j->drain = true;
		memcpy(j->strs, p->s + p->o_path, lp);
		memcpy(j->strs + lp, p->s + p->o_anchor, la);
		j->links[0] = (struct jlink){ .line = p->line, .path = 0, .anchor = (uint32_t)lp,
					      .has_anchor = p->has_anchor };
		j->nlinks = 1;
		free(p);
		job_links(j);
		return;
	}
	{
		char target[PATH_MAX];
		struct lref l = pend_lref(v, p, target);
		emit(v, l.src, l.line, RB_MD_BROKEN_LINK, "link target %.300s cannot be checked (out of memory)",
		     l.target);
	}
	if (j)
		job_end(j);
	free(p);
}

static void drain_cb(struct rb_defer *d)
{
	struct rb_validate *v = d->data;
	while (v->npend && !v->cancelled && v->njobs < v->o.max_inflight) {
		struct pend *p = rb_container_of(v->pend_fifo.next, struct pend, fifo);
		pend_unlink(v, p);
		pend_run(v, p);
	}
}

/* Runs the checker on a file's bytes and turns its result into
 * diagnostics, a heading set and the job's links. */
static void check_file(struct rb_validate *v, struct job *j, const char *data, size_t len)
{
	struct rb_md_opts mo = { .max_bytes = v->max_file_bytes, .links = v->check_links };
	struct rb_md_result *r = &v->md;
	size_t i, slen;
	struct hset *h;
	uint64_t key;

	if (rb_md_check(data, len, j->rel, &mo, r) < 0) {
		emit(v, j->rel, 0, RB_MD_READ_ERROR, "out of memory while checking");
		return;
	}
	for (i = 0; i < r->ndiags; i++)
		emit(v, j->rel, r->diags[i].line, r->diags[i].code, "%s", r->diags[i].message);
	/* This file's headings answer later links to it without a read. */
	key = hash64(j->rel, strlen(j->rel));
	h = hset_find(v, key);
	if (!h && (h = hset_new(v, key))) {
		if (hset_fill(h, r) < 0)
			hset_free(v, h);
		else
			hset_settle(v, h);
	}
	if (v->npend)
		pend_checked(v, key, r, 0);
	if (!r->nlinks)
		return;
	/* Copy the links out: the result is reused by the next file. */
	slen = 0;
	for (i = 0; i < r->nlinks; i++)
		slen += strlen(rb_md_str(r, r->links[i].path)) + strlen(rb_md_str(r, r->links[i].anchor)) + 2;
	j->links = malloc(r->nlinks * sizeof(*j->links));
	j->strs = malloc(slen);
	if (!j->links || !j->strs) {
		emit(v, j->rel, 0, RB_MD_READ_ERROR, "out of memory while checking links");
		return;
	}
	slen = 0;
	for (i = 0; i < r->nlinks; i++) {
		const char *p = rb_md_str(r, r->links[i].path), *a = rb_md_str(r, r->links[i].anchor);
		size_t pl = strlen(p) + 1, al = strlen(a) + 1;
		j->links[i] = (struct jlink){ .line = r->links[i].line, .path = (uint32_t)slen,
					      .anchor = (uint32_t)(slen + pl), .has_anchor = r->links[i].has_anchor };
		memcpy(j->strs + slen, p, pl);
		memcpy(j->strs + slen + pl, a, al);
		slen += pl + al;
	}
	j->nlinks = r->nlinks;
}

static void retry_cb(struct rb_timer *t);

static void read_cb(void *ctx, int res, struct rb_fs_file *f)
{
	struct job *j = ctx;
	struct rb_validate *v = j->v;

	j->op = NULL;
	if (v->cancelled) {
		job_end(j);
		return;
	}
	if ((res == -EMFILE || res == -ENFILE) && j->retries < READ_RETRIES) {
		/* Out of file descriptors (a low RLIMIT_NOFILE): read fewer files
		 * at once from now on, and this one again a little later. */
		if (v->o.max_inflight > 8)
			v->o.max_inflight /= 2;
		j->retry.data = j;
		rb_timer_start(v->loop, &j->retry, 1u << ++j->retries, retry_cb);
		return;
	}
	if (res < 0 && v->npend)
		pend_checked(v, hash64(j->rel, strlen(j->rel)), NULL, res);
	if (res >= 0)
		check_file(v, j, f->data, f->len);
	else if (res == -RB_E_TOO_LARGE)
		emit(v, j->rel, 0, RB_MD_TOO_LARGE, "over the limit of %zu bytes", v->max_file_bytes);
	else if (res == -ELOOP)
		emit(v, j->rel, 0, RB_MD_SYMLINK, "symbolic link: not followed");
	else if (res == -RB_E_NOT_REGULAR)
		emit(v, j->rel, 0, RB_MD_SPECIAL_FILE, "not a regular file: not read");
	else
		emit(v, j->rel, 0, RB_MD_READ_ERROR, "cannot read: %s", rb_strerror(res));
	progress(v);
	job_links(j);
}

static int job_read(struct rb_validate *v, struct job *j)
{
	struct rb_path p;
	int r = mkpath(v, j->rel, &p);
	return r < 0 ? r : rb_fs_read_file(v->fs, &p, RB_FS_NOFOLLOW, v->max_file_bytes, RB_CAP_BULK, read_cb, j, &j->op);
}

static void retry_cb(struct rb_timer *t)
{
	struct job *j = t->data;
	struct rb_validate *v = j->v;
	if (v->cancelled) {
		job_end(j);
	} else if (job_read(v, j) < 0) {
		emit(v, j->rel, 0, RB_MD_READ_ERROR, "cannot start reading");
		progress(v);
		job_end(j);
	}
}

static struct job *job_new(struct rb_validate *v, const char *rel)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j || !(j->rel = strdup(rel))) {
		free(j);
		return NULL;
	}
	j->v = v;
	rb_list_init(&j->wnode);
	rb_list_add_tail(&v->jobs, &j->node);
	v->njobs++;
	return j;
}

/* No statx first (it would go to io-wq for every file, IO_URING_NOTES):
 * the read itself stops at the size limit and tells empty files apart. */
static void start_file(struct rb_validate *v, const struct rb_walk_entry *e)
{
	struct job *j = job_new(v, e->rel);

	if (!j) {
		emit(v, e->rel, 0, RB_MD_READ_ERROR, "out of memory");
		return;
	}
	if (job_read(v, j) < 0) {
		emit(v, e->rel, 0, RB_MD_READ_ERROR, "cannot start reading");
		progress(v);
		job_end(j);
		return;
	}
	if (v->njobs >= v->o.max_inflight && !v->paused && v->walk) {
		v->paused = true;
		rb_fs_walk_pause(v->walk);
	}
}

/* ---- per-directory checks: case conflicts and core files ----------------------------- */

static void dset_free(struct rb_validate *v, struct dset *d)
{
	rb_list_del(&d->node);
	v->ndsets--;
	v->dslots -= d->cap;
	free(d->lower);
	free(d->exact);
	free(d);
}

static struct dset *dset_get(struct rb_validate *v, uint64_t key)
{
	struct rb_list *n;
	struct dset *d;
	for (n = v->dlru.next; n != &v->dlru; n = n->next) {
		d = rb_container_of(n, struct dset, node);
		if (d->key == key) {
			if (n != v->dlru.next) {
				rb_list_del(n);
				rb_list_add_head(&v->dlru, n);
			}
			return d;
		}
	}
	if (!(d = calloc(1, sizeof(*d))))
		return NULL;
	d->key = key;
	rb_list_add_head(&v->dlru, &d->node);
	if (++v->ndsets > DIR_LRU_MAX)
		dset_free(v, rb_container_of(v->dlru.prev, struct dset, node));
	return d;
}

/* Returns true when another name of the directory has the same lowercase
 * form. All the sets together hold at most DSET_SLOTS_MAX slots: to grow
 * past that, the least recently used directories are dropped, and a single
 * directory larger than the budget is checked among its first names only. */
static bool dset_case_conflict(struct rb_validate *v, struct dset *d, uint64_t lower, uint64_t exact)
{
	size_t i, mask;
	if ((d->n + 1) * 2 > d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 64, k;
		uint64_t *nl, *ne;
		while (v->dslots + nc - d->cap > DSET_SLOTS_MAX && v->dlru.prev != &d->node)
			dset_free(v, rb_container_of(v->dlru.prev, struct dset, node));
		if (v->dslots + nc - d->cap > DSET_SLOTS_MAX)
			return false;
		nl = calloc(nc, sizeof(*nl));
		ne = calloc(nc, sizeof(*ne));
		if (!nl || !ne) {
			free(nl);
			free(ne);
			return false;
		}
		for (k = 0; k < d->cap; k++)
			if (d->lower[k]) {
				for (i = d->lower[k] & (nc - 1); nl[i]; i = (i + 1) & (nc - 1))
					;
				nl[i] = d->lower[k];
				ne[i] = d->exact[k];
			}
		free(d->lower);
		free(d->exact);
		d->lower = nl;
		d->exact = ne;
		v->dslots += nc - d->cap;
		d->cap = nc;
	}
	mask = d->cap - 1;
	for (i = lower & mask; d->lower[i]; i = (i + 1) & mask)
		if (d->lower[i] == lower)
			return d->exact[i] != exact;
	d->lower[i] = lower;
	d->exact[i] = exact;
	d->n++;
	return false;
}

static void core_seen(struct rb_validate *v, const char *dir, size_t dirlen, uint64_t dkey, size_t idx)
{
	struct proj *p;
	for (p = v->projs[dkey % PROJ_BUCKETS]; p; p = p->next)
		if (p->key == dkey)
			break;
	if (!p) {
		if (!(p = calloc(1, sizeof(*p) + dirlen + 1)))
			return;
		memcpy(p->rel, dir, dirlen);
		p->key = dkey;
		p->next = v->projs[dkey % PROJ_BUCKETS];
		v->projs[dkey % PROJ_BUCKETS] = p;
		v->nprojs++;
	}
	p->mask |= 1ull << idx;
}

static void dir_checks(struct rb_validate *v, const struct rb_walk_entry *e)
{
	const char *slash = strrchr(e->rel, '/');
	size_t dirlen = slash ? (size_t)(slash - e->rel) : 0, nl = strlen(e->name), i;
	uint64_t dkey = hash64(e->rel, dirlen);
	char lower[256];
	struct dset *d;

	if (nl < sizeof(lower)) {
		for (i = 0; i < nl; i++)
			lower[i] = (e->name[i] >= 'A' && e->name[i] <= 'Z') ? (char)(e->name[i] + 32) : e->name[i];
		if ((d = dset_get(v, dkey)) &&
		    dset_case_conflict(v, d, hash64(lower, nl), hash64(e->name, nl)))
			emit(v, e->rel, 0, RB_MD_CASE_CONFLICT, "name differs only in case from another entry of %s",
			     dirlen ? "its directory" : "the bank directory");
	}
	if (e->type == DT_DIR)
		return;
	for (i = 0; i < v->nrequired; i++)
		if (!strcmp(e->name, v->required[i]))
			core_seen(v, e->rel, dirlen, dkey, i);
}

/* ---- the walk ------------------------------------------------------------------------------ */

static int on_entry(void *ctx, const struct rb_walk_entry *e)
{
	struct rb_validate *v = ctx;

	if (v->cancelled)
		return -ECANCELED;
	v->rep.entries++;
	if (e->err) {
		if (e->type == DT_DIR) {
			emit(v, e->rel, 0, RB_MD_READ_ERROR, "cannot read directory: %s", rb_strerror(e->err));
			return 1;
		}
		if (e->type != DT_REG && e->type != DT_UNKNOWN) {
			emit(v, e->rel, 0, RB_MD_READ_ERROR, "cannot stat: %s", rb_strerror(e->err));
			return 0;
		}
	}
	if (e->type != DT_LNK) {
		uint64_t key = hash64(e->rel, strlen(e->rel));
		exists_put(v, key, 0);
		if (v->npend)
			pend_seen(v, key, e->type == DT_DIR);
	}
	dir_checks(v, e);
	switch (e->type) {
	case DT_DIR:
		return e->name[0] == '.' ? 1 : 0; /* hidden directories (.git...) are not the bank's */
	case DT_LNK:
		emit(v, e->rel, 0, RB_MD_SYMLINK, "symbolic link: reported, not followed");
		return 0;
	case DT_REG:
	case DT_UNKNOWN:
		if (is_md(e->name))
			start_file(v, e);
		return 0;
	default:
		emit(v, e->rel, 0, RB_MD_SPECIAL_FILE, "special file (%s): not read",
		     e->type == DT_FIFO ? "fifo" : e->type == DT_SOCK ? "socket" : e->type == DT_CHR ? "character device"
		     : e->type == DT_BLK ? "block device" : "unknown type");
		return 0;
	}
}

static void on_walk_done(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct rb_validate *v = ctx;
	v->walk = NULL;
	v->walking = false;
	v->walk_res = res;
	maybe_finish(v);
}

static void start_walk(struct rb_validate *v)
{
	struct rb_walk_opts wo = { .cls = RB_CAP_BULK };
	int r = rb_fs_walk(v->fs, &v->bank, &wo, on_entry, on_walk_done, v, &v->walk);
	if (r < 0) {
		v->walk_res = r;
		maybe_finish(v);
		return;
	}
	v->walking = true;
}

/* ---- the rules file -------------------------------------------------------------------------- */

static int rules_fail(struct rb_validate *v, const char *what)
{
	snprintf(v->errbuf, sizeof(v->errbuf), "%.3800s/%s: %.200s", v->bank.abs, RULES_FILE, what);
	return -EINVAL;
}

static int rules_apply(struct rb_validate *v, const char *data, size_t len)
{
	yyjson_read_err err;
	yyjson_doc *doc = yyjson_read_opts((char *)data, len, 0, NULL, &err);
	yyjson_val *root, *x;
	int r = 0;

	if (!doc) {
		char m[160];
		snprintf(m, sizeof(m), "invalid JSON at byte %zu: %s", err.pos, err.msg);
		return rules_fail(v, m);
	}
	root = yyjson_doc_get_root(doc);
	if (!yyjson_is_obj(root)) {
		r = rules_fail(v, "expected a JSON object");
		goto out;
	}
	if ((x = yyjson_obj_get(root, "required_files")) && !v->o.required_set) {
		size_t i, n;
		yyjson_val *it;
		if (!yyjson_is_arr(x) || yyjson_arr_size(x) > RB_VALIDATE_MAX_REQUIRED) {
			r = rules_fail(v, "required_files: expected an array of at most 64 file names");
			goto out;
		}
		for (i = 0; i < v->nrequired; i++)
			free(v->required[i]);
		v->nrequired = 0;
		yyjson_arr_foreach(x, i, n, it) {
			if (!yyjson_is_str(it) || rb_fs_check_name(yyjson_get_str(it)) < 0) {
				r = rules_fail(v, "required_files: each entry must be a file name (no '/')");
				goto out;
			}
			if (!(v->required[v->nrequired] = strdup(yyjson_get_str(it)))) {
				r = -ENOMEM;
				goto out;
			}
			v->nrequired++;
		}
	}
	if ((x = yyjson_obj_get(root, "max_file_bytes")) && !v->o.max_file_bytes_set) {
		if (!yyjson_is_uint(x) || !yyjson_get_uint(x)) {
			r = rules_fail(v, "max_file_bytes: expected a positive integer");
			goto out;
		}
		v->max_file_bytes = (size_t)yyjson_get_uint(x);
	}
	if ((x = yyjson_obj_get(root, "check_links")) && !v->o.check_links_set) {
		if (!yyjson_is_bool(x)) {
			r = rules_fail(v, "check_links: expected true or false");
			goto out;
		}
		v->check_links = yyjson_get_bool(x);
	}
out:
	yyjson_doc_free(doc);
	return r;
}

static void rules_cb(void *ctx, int res, struct rb_fs_file *f)
{
	struct rb_validate *v = ctx;
	int r = 0;

	v->rules_op = NULL;
	if (v->cancelled) {
		maybe_finish(v);
		return;
	}
	if (res >= 0)
		r = rules_apply(v, f->data, f->len);
	else if (res != -ENOENT && res != -ENOTDIR)
		r = rules_fail(v, res == -RB_E_TOO_LARGE ? "over 64 KiB" : rb_strerror(res));
	if (r < 0) {
		v->walk_res = r;
		maybe_finish(v);
		return;
	}
	start_walk(v);
}

/* ---- finishing ----------------------------------------------------------------------------------- */

static int cmp_kept(const void *a, const void *b, void *arg)
{
	const struct kept *x = a, *y = b;
	const char *ar = arg;
	int c = strcmp(ar + x->path, ar + y->path);
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return (int)x->code - (int)y->code;
}

static void missing_core(struct rb_validate *v)
{
	char path[PATH_MAX];
	size_t b, i;
	if (!v->nrequired)
		return;
	if (!v->nprojs) {
		for (i = 0; i < v->nrequired; i++)
			emit(v, v->required[i], 0, RB_MD_MISSING_CORE_FILE,
			     "missing core file %s: no directory of the bank holds any core file", v->required[i]);
		return;
	}
	for (b = 0; b < PROJ_BUCKETS; b++)
		for (struct proj *p = v->projs[b]; p; p = p->next)
			for (i = 0; i < v->nrequired; i++) {
				if (p->mask & (1ull << i))
					continue;
				snprintf(path, sizeof(path), "%s%s%s", p->rel, *p->rel ? "/" : "", v->required[i]);
				emit(v, path, 0, RB_MD_MISSING_CORE_FILE,
				     "missing core file %s (the directory holds other core files)", v->required[i]);
			}
}

static void fin_cb(struct rb_defer *d)
{
	struct rb_validate *v = d->data;
	int res = 0;
	size_t i;

	if (v->cancelled) {
		res = -ECANCELED;
		snprintf(v->errbuf, sizeof(v->errbuf), "validation of %s was cancelled", v->bank.abs);
	} else if (v->walk_res < 0) {
		res = v->walk_res;
		if (!v->errbuf[0])
			snprintf(v->errbuf, sizeof(v->errbuf), "%s: %s", v->bank.abs,
				 res == -ENOTDIR ? "not a directory" : rb_strerror(res));
	} else {
		missing_core(v);
		qsort_r(v->kept, v->nkept, sizeof(*v->kept), cmp_kept, v->karena);
		if (v->nkept && !(v->out = malloc(v->nkept * sizeof(*v->out)))) {
			res = -ENOMEM;
			snprintf(v->errbuf, sizeof(v->errbuf), "out of memory");
		}
		for (i = 0; v->out && i < v->nkept; i++)
			v->out[i] = (struct rb_validate_diag){ .path = v->karena + v->kept[i].path,
							       .line = v->kept[i].line,
							       .code = v->kept[i].code,
							       .message = v->karena + v->kept[i].msg };
	}
	v->rep.error = res < 0 ? v->errbuf : NULL;
	v->rep.elapsed_s = (double)(rb_now_ns() - v->t0) / 1e9;
	v->hooks.done(v->ctx, res);
}

/* Everything is back (rules read, walk, jobs, loads): finish on the next turn. */
static void maybe_finish(struct rb_validate *v)
{
	if (v->finishing || v->rules_op || v->walking || v->njobs || v->nloads)
		return;
	if (v->npend && !v->cancelled) {
		/* The walk is over: what is still parked needs its own I/O. */
		v->draining = true;
		v->drain_d.data = v;
		rb_defer(v->loop, &v->drain_d, drain_cb);
		return;
	}
	v->finishing = true;
	v->fin.data = v;
	rb_defer(v->loop, &v->fin, fin_cb);
}

/* ---- public ---------------------------------------------------------------------------------------- */

int rb_validate_start(struct rb_validate **out, struct rb_fs *fs, const struct rb_path *bank,
		      const struct rb_validate_opts *o, const struct rb_validate_hooks *h, void *ctx)
{
	struct rb_validate *v;
	struct rb_path p;
	size_t i;
	int r;

	*out = NULL;
	if (!h || !h->done || (o->required_set && o->nrequired > RB_VALIDATE_MAX_REQUIRED))
		return -EINVAL;
	if (!(v = calloc(1, sizeof(*v))))
		return -ENOMEM;
	v->fs = fs;
	v->loop = rb_io_loop(rb_fs_io(fs));
	v->bank = *bank;
	v->bank_rel_len = strcmp(bank->rel, ".") ? strlen(bank->rel) : 0;
	v->hooks = *h;
	v->ctx = ctx;
	v->o = *o;
	v->o.required = NULL;
	if (!v->o.max_reported)
		v->o.max_reported = 1000;
	v->rep.max_reported = v->o.max_reported;
	if (!v->o.max_inflight)
		v->o.max_inflight = 64;
	if (!v->o.progress_every)
		v->o.progress_every = 200;
	v->max_file_bytes = o->max_file_bytes_set && o->max_file_bytes ? o->max_file_bytes
									: RB_VALIDATE_DEFAULT_MAX_BYTES;
	v->check_links = o->check_links_set ? o->check_links : true;
	rb_list_init(&v->jobs);
	rb_list_init(&v->loading);
	rb_list_init(&v->hlru);
	rb_list_init(&v->dlru);
	rb_list_init(&v->pend_fifo);
	rb_md_result_init(&v->md);
	rb_md_result_init(&v->md_load);
	v->exists_sets = EXISTS_SETS_MIN;
	v->exists = calloc(EXISTS_SETS_MIN * EXISTS_WAYS, sizeof(*v->exists));
	v->kept = malloc(v->o.max_reported * sizeof(*v->kept));
	if (!v->exists || !v->kept)
		goto nomem;
	for (i = 0; i < (o->required_set ? o->nrequired : sizeof(default_required) / sizeof(*default_required)); i++) {
		const char *name = o->required_set ? o->required[i] : default_required[i];
		if (!(v->required[i] = strdup(name)))
			goto nomem;
		v->nrequired++;
	}
	v->t0 = rb_now_ns();
	if ((r = mkpath(v, RULES_FILE, &p)) < 0 ||
	    (r = rb_fs_read_file(fs, &p, RB_FS_NOFOLLOW, RULES_MAX_BYTES, RB_CAP_BULK, rules_cb, v, &v->rules_op)) < 0) {
		rb_validate_free(v);
		return r;
	}
	*out = v;
	return 0;
nomem:
	rb_validate_free(v);
	return -ENOMEM;
}

void rb_validate_cancel(struct rb_validate *v)
{
	struct rb_list *n;
	if (v->cancelled || v->finishing)
		return;
	v->cancelled = true;
	if (v->rules_op)
		rb_fs_cancel(v->rules_op);
	if (v->walk)
		rb_fs_cancel(v->walk);
	for (n = v->jobs.next; n != &v->jobs; n = n->next) {
		struct job *j = rb_container_of(n, struct job, node);
		if (j->op)
			rb_fs_cancel(j->op);
		else if (rb_timer_active(&j->retry))
			rb_timer_start(v->loop, &j->retry, 0, retry_cb); /* ends it on the next turn */
	}
	for (n = v->loading.next; n != &v->loading; n = n->next) {
		struct hset *h = rb_container_of(n, struct hset, node);
		if (h->op)
			rb_fs_cancel(h->op);
	}
}

void rb_validate_free(struct rb_validate *v)
{
	size_t i;
	struct rb_list *n;
	if (!v)
		return;
	while ((n = rb_list_pop(&v->hlru))) {
		struct hset *h = rb_container_of(n, struct hset, node);
		free(h->slugs);
		free(h);
	}
	while (!rb_list_empty(&v->dlru))
		dset_free(v, rb_container_of(v->dlru.next, struct dset, node));
	for (i = 0; i < PROJ_BUCKETS; i++)
		while (v->projs[i]) {
			struct proj *p = v->projs[i];
			v->projs[i] = p->next;
			free(p);
		}
	for (i = 0; i < PEND_BUCKETS; i++)
		while (v->pend[i]) {
			struct pend *p = v->pend[i];
			v->pend[i] = p->next;
			free(p);
		}
	for (i = 0; i < v->nrequired; i++)
		free(v->required[i]);
	rb_md_result_free(&v->md);
	rb_md_result_free(&v->md_load);
	free(v->exists);
	free(v->kept);
	free(v->karena);
	free(v->out);
	free(v);
}

const struct rb_validate_report *rb_validate_report(const struct rb_validate *v)
{
	return &v->rep;
}

size_t rb_validate_diags(const struct rb_validate *v, const struct rb_validate_diag **out)
{
	*out = v->out;
	return v->out ? v->nkept : 0;
}
