/* cache.c: the content cache behind RB_FS_READ_CACHED.
 *
 * Key (dev, ino) -> bytes, valid while (size, mtime, ctime) still match a
 * fresh statx of the file. Bounded by a byte budget with LRU eviction; a hit
 * costs the op's open + STATX + close instead of the read, which only pays
 * for large files and for callers that keep parsed results (search).
 *
 * Racy timestamps (git's "racily clean" problem): a file changed twice
 * within one timestamp tick keeps the same mtime/ctime, and if the size also
 * stays the same the second version would look cached. So a file whose
 * ctime is less than FS_CACHE_SETTLE_NS older than the statx that preceded
 * the read is not cached: any later change then gets a visibly newer ctime. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_internal.h"

#define FS_CACHE_SETTLE_NS 100000000ll /* 100 ms, far above ext4's timestamp tick */

struct ent {
	struct rb_list lru;	/* head = most recent */
	struct ent *next;	/* hash chain */
	uint32_t dev_major, dev_minor;
	uint64_t ino, size;
	struct statx_timestamp mtime, ctime;
	size_t len;
	char data[];
};

struct fs_cache {
	size_t budget, bytes, count;
	struct ent **tab;
	size_t nbuckets; /* power of two */
	struct rb_list lru;
	uint64_t hits, misses;
};

int fs_cache_new(struct fs_cache **out, size_t budget)
{
	struct fs_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nbuckets = 1024;
	c->tab = calloc(c->nbuckets, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return -ENOMEM;
	}
	c->budget = budget;
	rb_list_init(&c->lru);
	*out = c;
	return 0;
}

void fs_cache_free(struct fs_cache *c)
{
	struct rb_list *n, *t;
	if (!c)
		return;
	rb_list_for_each_safe(n, t, &c->lru)
		free(rb_container_of(n, struct ent, lru));
	free(c->tab);
	free(c);
}

static size_t bucket(uint32_t maj, uint32_t min, uint64_t ino, size_t nbuckets)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ ((uint64_t)maj << 32 | min) * 0xc2b2ae3d27d4eb4full;
	return (size_t)(h >> 32) & (nbuckets - 1);
}

static struct ent **find(struct fs_cache *c, const struct statx *s)
{
	struct ent **pp = &c->tab[bucket(s->stx_dev_major, s->stx_dev_minor, s->stx_ino, c->nbuckets)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->ino == s->stx_ino && (*pp)->dev_major == s->stx_dev_major &&
		    (*pp)->dev_minor == s->stx_dev_minor)
			return pp;
	return pp;
}

static bool ts_eq(const struct statx_timestamp *a, const struct statx_timestamp *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static void drop(struct fs_cache *c, struct ent **pp)
{
	struct ent *e = *pp;
	*pp = e->next;
	rb_list_del(&e->lru);
	c->bytes -= e->len;
	c->count--;
	free(e);
}

bool fs_cache_get(struct fs_cache *c, const struct statx *s, char **data, size_t *len)
{
	struct ent **pp = find(c, s), *e = *pp;
	char *copy;

	if (!e) {
		c->misses++;
		return false;
	}
	if (e->size != s->stx_size || !ts_eq(&e->mtime, &s->stx_mtime) || !ts_eq(&e->ctime, &s->stx_ctime)) {
		drop(c, pp); /* stale: the file changed */
		c->misses++;
		return false;
	}
	copy = malloc(e->len + 1);
	if (!copy) {
		c->misses++;
		return false;
	}
	memcpy(copy, e->data, e->len);
	copy[e->len] = '\0';
	rb_list_del(&e->lru);
	rb_list_add_head(&c->lru, &e->lru);
	c->hits++;
	*data = copy;
	*len = e->len;
	return true;
}

void fs_cache_put(struct fs_cache *c, const struct statx *s, int64_t stat_rt_ns, const char *data, size_t len)
{
	struct ent **pp, *e;
	int64_t ct = (int64_t)s->stx_ctime.tv_sec * 1000000000ll + s->stx_ctime.tv_nsec;

	/* One file may not take more than a quarter of the budget, and the
	 * content must match the stat we keyed it with. */
	if (len > c->budget / 4 || len != s->stx_size || ct > stat_rt_ns - FS_CACHE_SETTLE_NS)
		return;
	pp = find(c, s);
	if (*pp)
		drop(c, pp);
	while (c->bytes + len > c->budget && !rb_list_empty(&c->lru)) {
		struct ent *old = rb_container_of(c->lru.prev, struct ent, lru);
		struct ent **opp = find(c, &(struct statx){ .stx_ino = old->ino, .stx_dev_major = old->dev_major,
							    .stx_dev_minor = old->dev_minor });
		if (!*opp)
			break; /* cannot happen: every entry on the LRU is in the table */
		drop(c, opp);
	}
	e = malloc(sizeof(*e) + len);
	if (!e)
		return;
	e->dev_major = s->stx_dev_major;
	e->dev_minor = s->stx_dev_minor;
	e->ino = s->stx_ino;
	e->size = s->stx_size;
	e->mtime = s->stx_mtime;
	e->ctime = s->stx_ctime;
	e->len = len;
	memcpy(e->data, data, len);
	pp = find(c, s);
	e->next = NULL;
	*pp = e;
	rb_list_add_head(&c->lru, &e->lru);
	c->bytes += len;
	c->count++;
	/* Keep chains short: double the table when it is as full as it is wide. */
	if (c->count > c->nbuckets) {
		size_t nb = c->nbuckets * 2, i;
		struct ent **nt = calloc(nb, sizeof(*nt));
		if (!nt)
			return;
		for (i = 0; i < c->nbuckets; i++) {
			while (c->tab[i]) {
				struct ent *x = c->tab[i];
				size_t b;
				c->tab[i] = x->next;
				b = bucket(x->dev_major, x->dev_minor, x->ino, nb);
				x->next = nt[b];
				nt[b] = x;
			}
		}
		free(c->tab);
		c->tab = nt;
		c->nbuckets = nb;
	}
}

void fs_cache_stats(const struct fs_cache *c, struct rb_fs_stats *out)
{
	out->cache_hits = c->hits;
	out->cache_misses = c->misses;
	out->cache_bytes = c->bytes;
	out->cache_entries = c->count;
}

int64_t fs_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}
