/*
 * rb-genbank: deterministic, seeded generator of large "memory bank"
 * directories of markdown files, with an exact count of deliberately
 * injected errors.  Single file, libc only.  See bench/gen/README.md.
 *
 *   rb-genbank [--seed N] [--files N] [--broken-links-every K]
 *              [--errors-every K] [--large-every K] [--max-large-bytes B]
 *              [--manifest FILE] [--jobs N] [--quiet] OUTDIR
 *
 * Design: the whole tree (directories, file names, sizes, which file gets
 * which injected error) is planned first from the seed; then each file's
 * content is generated from its own PRNG stream derived from (seed, file
 * index).  A file's heading outline has a separate stream so any other file
 * can regenerate it to form a valid (or deliberately invalid) #anchor.
 * Files are independent, so --jobs threads write whole directories in
 * parallel without changing a byte of output.  Never put two PRNG draws in
 * one expression or argument list (evaluation order is unspecified).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define PROG "rb-genbank"

/* ------------------------------------------------------------------ */
/* errors / small helpers                                               */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die("out of memory (%zu bytes)", n);
	return q;
}

/* ------------------------------------------------------------------ */
/* PRNG: xoshiro256** seeded through splitmix64 finalisers              */

typedef struct {
	uint64_t s[4];
} rng_t;

static inline uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

enum { ST_PLAN = 1, ST_ERRORS, ST_SIZES, ST_OUTLINE, ST_BODY };

static void rng_init(rng_t *r, uint64_t seed, uint64_t stream, uint64_t idx)
{
	uint64_t x = mix64(seed + 0x9E3779B97F4A7C15ULL * (stream + 1));
	x = mix64(x ^ (idx * 0xD6E8FEB86659FD93ULL + 0x632BE59BD9B4E019ULL));
	for (int i = 0; i < 4; i++) {
		x += 0x9E3779B97F4A7C15ULL;
		r->s[i] = mix64(x);
	}
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng_t *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* uniform in [0, n); n == 0 gives 0 */
static inline uint32_t rng_below(rng_t *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}
/* inclusive range */
static inline uint32_t rng_range(rng_t *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}
static inline bool rng_pct(rng_t *r, uint32_t pct) { return rng_below(r, 100) < pct; }
/* skewed towards small indices (Zipf-ish) */
static inline uint32_t rng_skew(rng_t *r, uint32_t n) { return rng_below(r, rng_below(r, n) + 1); }

/* ------------------------------------------------------------------ */
/* vocabulary                                                           */

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const nouns[] = {
	"access", "account", "adapter", "agent", "alert", "allocator", "api", "archive", "audit",
	"backend", "backlog", "backup", "balancer", "batch", "benchmark", "binary", "bank",
	"boundary", "branch", "broker", "buffer", "bug", "build", "bundle", "cache", "callback",
	"canary", "capacity", "catalog", "channel", "checkpoint", "chunk", "client", "cluster",
	"codec", "commit", "compiler", "config", "connection", "consumer", "container", "context",
	"contract", "cursor", "daemon", "dashboard", "database", "deadline", "decoder", "deploy",
	"design", "digest", "directory", "dispatch", "document", "domain", "driver", "encoder",
	"endpoint", "engine", "entry", "event", "eviction", "executor", "export", "extension",
	"feature", "fetch", "field", "file", "filter", "fixture", "flag", "format", "frame",
	"gateway", "graph", "handler", "handshake", "header", "heap", "hook", "import", "index",
	"ingest", "inode", "input", "interface", "journal", "kernel", "key", "latency", "layer",
	"layout", "ledger", "library", "limit", "link", "listener", "loader", "lock", "log",
	"loop", "manifest", "mapping", "memory", "merge", "message", "metric", "migration",
	"mirror", "model", "module", "monitor", "mutex", "namespace", "network", "node", "note",
	"offset", "operator", "output", "overview", "owner", "packet", "page", "parser",
	"partition", "patch", "path", "payload", "pipeline", "plugin", "policy", "pool", "port",
	"probe", "process", "profile", "protocol", "proxy", "query", "queue", "quota", "range",
	"reader", "record", "recovery", "region", "registry", "release", "replica", "report",
	"request", "resolver", "resource", "response", "retry", "review", "ring", "roadmap",
	"rollout", "route", "runtime", "sampler", "scanner", "schema", "scheduler", "scope",
	"search", "segment", "selector", "sensor", "server", "service", "session", "shard",
	"signal", "snapshot", "socket", "source", "span", "spec", "stack", "storage", "stream",
	"submission", "subscriber", "summary", "symbol", "sync", "table", "task", "template",
	"tenant", "test", "thread", "throttle", "timeline", "timer", "token", "topic", "trace",
	"tracker", "transport", "trigger", "tuning", "upload", "upstream", "user", "validator",
	"vector", "version", "volume", "watcher", "window", "worker", "workflow", "writer", "zone",
};
static const char *const dets[] = {"the", "the", "a", "each", "every", "this", "that", "our", "one"};
static const char *const adjs[] = {
	"fast", "slow", "stale", "large", "small", "new", "previous", "current", "pending",
	"stable", "flaky", "async", "atomic", "cold", "hot", "idle", "local", "remote", "shared",
	"sparse", "dense", "strict", "lazy", "eager", "critical", "minor", "major", "simple",
	"robust", "partial", "full", "durable", "temporary", "legacy", "naïve", /* keep last */
};
static const char *const verbs[] = {
	"handles", "stores", "reads", "writes", "checks", "returns", "tracks", "loads", "parses",
	"flushes", "rotates", "retries", "blocks", "drops", "merges", "caches", "indexes",
	"validates", "schedules", "reduces", "improves", "breaks", "fixes", "moves", "splits",
	"keeps", "uses", "needs", "adds", "removes", "wraps", "exposes", "replaces", "batches",
};
static const char *const preps[] = {"in", "for", "with", "on", "from", "into", "by", "under", "after", "before"};
static const char *const conjs[] = {"and", "but", "so", "while", "because", "although", "and then"};
static const char *const units[] = {"ms", "us", "KiB", "MiB", "x", "k", "s", "GiB"};
static const char *const codenames[] = {
	"atlas", "borealis", "cobalt", "delta", "ember", "falcon", "granite", "harbor", "indigo",
	"juniper", "kestrel", "lumen", "meridian", "nebula", "onyx", "orion", "pioneer", "quartz",
	"raven", "sierra", "tundra", "umbra", "vertex", "willow", "xenon", "yarrow", "zephyr",
	"aurora", "beacon", "cascade", "drift", "echo",
};
static const char *const langs[] = {"c", "sh", "json", "yaml", "python", "sql", "text", ""};
static const char *const statuses[] = {"draft", "active", "done", "blocked", "review"};

/* the six core files of a project */
#define NCORE 6
static const struct {
	const char *name;
	const char *title;
	const char *sections[6];
} core[NCORE] = {
	{"projectbrief.md", "Project Brief", {"Overview", "Goals", "Non-Goals", "Scope", "Stakeholders", NULL}},
	{"productContext.md", "Product Context",
	 {"Why This Exists", "Problems It Solves", "How It Should Work", "User Experience Goals", NULL}},
	{"activeContext.md", "Active Context",
	 {"Current Focus", "Recent Changes", "Next Steps", "Active Decisions & Considerations", NULL}},
	{"systemPatterns.md", "System Patterns",
	 {"Architecture", "Key Technical Decisions", "Design Patterns in Use", "Component Relationships", NULL}},
	{"techContext.md", "Tech Context",
	 {"Technologies Used", "Development Setup", "Technical Constraints", "Dependencies", NULL}},
	{"progress.md", "Progress", {"What Works", "What's Left to Build", "Current Status", "Known Issues", NULL}},
};

/* ------------------------------------------------------------------ */
/* error classes                                                        */

enum {
	ERR_NONE = 0,
	ERR_BROKEN_LINK,
	ERR_BROKEN_ANCHOR,
	ERR_SKIPPED_HEADING,
	ERR_UNCLOSED_FENCE,
	ERR_NO_TITLE,
	ERR_EMPTY_FILE,
	ERR_BAD_FRONT_MATTER,
	ERR_INVALID_UTF8,
	ERR_MISSING_CORE_FILE,
	ERR__COUNT
};
static const char *const err_names[ERR__COUNT] = {
	"none", "broken_link", "broken_anchor", "skipped_heading", "unclosed_fence", "no_title",
	"empty_file", "bad_front_matter", "invalid_utf8", "missing_core_file",
};

/* ------------------------------------------------------------------ */
/* growable buffers                                                     */

typedef struct {
	char *p;
	size_t len, cap;
} buf_t;

static inline void buf_reserve(buf_t *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + extra + 1)
			nc *= 2;
		b->p = xrealloc(b->p, nc);
		b->cap = nc;
	}
}
static inline void buf_put(buf_t *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}
static inline void buf_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }
static inline void buf_putc(buf_t *b, char c)
{
	buf_reserve(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}
static void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf_t *b, const char *fmt, ...)
{
	va_list ap;
	buf_reserve(b, 256);
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf failed");
	if ((size_t)n >= b->cap - b->len) {
		buf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* string arena addressed by 32-bit offsets */
static buf_t arena;
static uint32_t arena_add(const char *s, size_t n)
{
	if (arena.len + n + 1 > UINT32_MAX)
		die("name arena overflow");
	uint32_t off = (uint32_t)arena.len;
	buf_put(&arena, s, n);
	buf_putc(&arena, '\0');
	return off;
}
#define ASTR(off) (arena.p + (off))

/* ------------------------------------------------------------------ */
/* the plan                                                             */

enum { K_TOPIC = NCORE, K_NOTE };   /* kinds 0..5 are the core files */
enum { FM_NONE = 0, FM_GOOD, FM_BAD };

typedef struct {
	uint32_t dir;
	uint32_t name;   /* arena offset */
	uint32_t size;   /* target size (0 for empty files) */
	uint8_t kind;
	uint8_t err;
	uint8_t fm;
	uint8_t large;
} file_t;

typedef struct {
	uint32_t path;   /* arena offset, relative to OUTDIR */
	uint32_t project;
	uint32_t first, nfiles;
} dir_t;

typedef struct {
	uint32_t dir;
	uint32_t first, nfiles;
	int32_t core[NCORE]; /* file index or -1 */
	int missing;         /* missing core index or -1 */
	char display[48];
} project_t;

typedef struct {
	uint32_t file;   /* file index, or UINT32_MAX for missing core */
	uint32_t project;
	uint8_t err;
	char *detail;    /* link destination for link errors */
} errrec_t;

static struct {
	/* options */
	uint64_t seed;
	uint32_t nfiles;
	uint32_t broken_every, errors_every, large_every;
	uint32_t max_large;
	const char *manifest;
	const char *outdir;
	bool quiet;
	uint32_t jobs;

	/* plan */
	file_t *files;
	uint32_t nf, fcap;
	dir_t *dirs;
	uint32_t nd, dcap;
	project_t *projects;
	uint32_t np;
	uint32_t *clean;   /* files with ERR_NONE */
	uint32_t nclean;

	/* results */
	uint64_t bytes;
	uint32_t nlarge;
	uint64_t counts[ERR__COUNT];
	uint64_t links_rel, links_anchored, links_self, links_ext;
	errrec_t *recs;
	uint32_t nrecs, rcap;
} G;

static uint32_t dir_add(const char *path, uint32_t project)
{
	if (G.nd == G.dcap) {
		G.dcap = G.dcap ? G.dcap * 2 : 1024;
		G.dirs = xrealloc(G.dirs, sizeof(dir_t) * G.dcap);
	}
	dir_t *d = &G.dirs[G.nd];
	d->path = arena_add(path, strlen(path));
	d->project = project;
	d->first = G.nf;
	d->nfiles = 0;
	return G.nd++;
}

static uint32_t file_add(uint32_t dir, const char *name, uint8_t kind)
{
	if (G.nf == G.fcap) {
		G.fcap = G.fcap ? G.fcap * 2 : 4096;
		G.files = xrealloc(G.files, sizeof(file_t) * G.fcap);
	}
	file_t *f = &G.files[G.nf];
	memset(f, 0, sizeof *f);
	f->dir = dir;
	f->name = arena_add(name, strlen(name));
	f->kind = kind;
	if (G.dirs[dir].nfiles == 0)
		G.dirs[dir].first = G.nf;
	G.dirs[dir].nfiles++;
	return G.nf++;
}

/* per-directory name set (hashes), reset cheaply with a generation counter */
#define NS_SIZE 2048
static uint64_t ns_hash[NS_SIZE];
static uint32_t ns_gen[NS_SIZE];
static uint32_t ns_cur = 1;

static uint64_t str_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return mix64(h) | 1;
}
static void ns_reset(void) { ns_cur++; }
static bool ns_insert(const char *s)
{
	uint64_t h = str_hash(s);
	uint32_t i = (uint32_t)h & (NS_SIZE - 1);
	while (ns_gen[i] == ns_cur) {
		if (ns_hash[i] == h)
			return false;
		i = (i + 1) & (NS_SIZE - 1);
	}
	ns_gen[i] = ns_cur;
	ns_hash[i] = h;
	return true;
}

/* "word-word" slug name from 1..maxw nouns */
static size_t slug_name(rng_t *r, char *out, size_t cap, uint32_t minw, uint32_t maxw)
{
	uint32_t n = rng_range(r, minw, maxw);
	size_t len = 0;
	for (uint32_t i = 0; i < n; i++) {
		const char *w = nouns[rng_below(r, NELEM(nouns))];
		size_t wl = strlen(w);
		if (len + wl + 2 >= cap)
			break;
		if (i)
			out[len++] = '-';
		memcpy(out + len, w, wl);
		len += wl;
	}
	out[len] = '\0';
	return len;
}

/* split n into chunks of 50..200 (a single chunk if n <= 200) */
static uint32_t next_chunk(rng_t *r, uint32_t n)
{
	if (n <= 200)
		return n;
	uint32_t s = rng_range(r, 50, 200);
	if (n - s < 50)
		s = n - 50;
	return s;
}

static int days_in_month(int y, int m)
{
	static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

static void plan_project(rng_t *r, uint32_t p, uint32_t nfiles, int missing, int width)
{
	project_t *pj = &G.projects[p];
	const char *cn = codenames[rng_below(r, NELEM(codenames))];
	char pname[64], path[512], name[256];
	snprintf(pname, sizeof pname, "%s-%0*u", cn, width, p);
	snprintf(pj->display, sizeof pj->display, "%c%s %0*u", cn[0] - 'a' + 'A', cn + 1, width, p);
	pj->missing = missing;
	snprintf(path, sizeof path, "projects/%s", pname);
	pj->dir = dir_add(path, p);
	pj->first = G.nf;

	uint32_t ncore = 0;
	for (int c = 0; c < NCORE; c++) {
		if (c == missing) {
			pj->core[c] = -1;
			continue;
		}
		pj->core[c] = (int32_t)file_add(pj->dir, core[c].name, (uint8_t)c);
		ncore++;
	}
	uint32_t rest = nfiles > ncore ? nfiles - ncore : 0;
	uint32_t ntopic = rest * 2 / 5, nnote = rest - ntopic;

	if (ntopic) {
		snprintf(path, sizeof path, "projects/%s/topics", pname);
		dir_add(path, p);
		char topics[64][64];
		uint32_t ntopics = 0;
		while (ntopic) {
			uint32_t chunk = next_chunk(r, ntopic);
			char tname[64];
			for (int tries = 0;; tries++) {
				slug_name(r, tname, sizeof tname, 1, 2);
				if (tries > 20)
					snprintf(tname + strlen(tname), sizeof tname - strlen(tname), "-%u", ntopics);
				bool dup = false;
				for (uint32_t i = 0; i < ntopics && i < 64; i++)
					if (!strcmp(topics[i], tname))
						dup = true;
				if (!dup)
					break;
			}
			if (ntopics < 64)
				memcpy(topics[ntopics], tname, sizeof tname);
			ntopics++;
			snprintf(path, sizeof path, "projects/%s/topics/%s", pname, tname);
			uint32_t d = dir_add(path, p);
			ns_reset();
			for (uint32_t i = 0; i < chunk; i++) {
				size_t l;
				do {
					l = slug_name(r, name, sizeof name - 4, 1, 4);
					memcpy(name + l, ".md", 4);
				} while (!ns_insert(name));
				file_add(d, name, K_TOPIC);
			}
			ntopic -= chunk;
		}
	}
	if (nnote) {
		snprintf(path, sizeof path, "projects/%s/notes", pname);
		dir_add(path, p);
		int mi = 2025 * 12 + 5 - (int)rng_below(r, 6); /* months since year 0, June 2025 - k */
		int last_year = -1;
		while (nnote) {
			uint32_t chunk = next_chunk(r, nnote);
			int y = mi / 12, m = mi % 12 + 1;
			if (y != last_year) {
				snprintf(path, sizeof path, "projects/%s/notes/%04d", pname, y);
				dir_add(path, p);
				last_year = y;
			}
			snprintf(path, sizeof path, "projects/%s/notes/%04d/%02d", pname, y, m);
			uint32_t d = dir_add(path, p);
			ns_reset();
			int dim = days_in_month(y, m);
			for (uint32_t i = 0; i < chunk; i++) {
				do {
					int n = snprintf(name, sizeof name, "%04d-%02d-%02u-", y, m, rng_range(r, 1, (uint32_t)dim));
					size_t l = slug_name(r, name + n, sizeof name - (size_t)n - 4, 1, 3) + (size_t)n;
					memcpy(name + l, ".md", 4);
				} while (!ns_insert(name));
				file_add(d, name, K_NOTE);
			}
			nnote -= chunk;
			mi--;
		}
	}
	pj->nfiles = G.nf - pj->first;
}

static void errrec_add(uint32_t file, uint32_t project, uint8_t err)
{
	if (G.nrecs == G.rcap) {
		G.rcap = G.rcap ? G.rcap * 2 : 256;
		G.recs = xrealloc(G.recs, sizeof(errrec_t) * G.rcap);
	}
	G.recs[G.nrecs++] = (errrec_t){.file = file, .project = project, .err = err, .detail = NULL};
}

static void build_plan(void)
{
	rng_t r;
	rng_init(&r, G.seed, ST_PLAN, 0);

	G.np = G.nfiles / 2000 + 1;
	G.projects = xrealloc(NULL, sizeof(project_t) * G.np);
	memset(G.projects, 0, sizeof(project_t) * G.np);
	int width = 2;
	for (uint32_t v = G.np - 1; v >= 100; v /= 10)
		width++;

	/* which projects lack a core file */
	int *missing = xrealloc(NULL, sizeof(int) * G.np);
	for (uint32_t p = 0; p < G.np; p++)
		missing[p] = -1;
	uint32_t nmiss = G.errors_every ? (G.np + 9) / 10 : 0;
	{
		uint32_t *perm = xrealloc(NULL, sizeof(uint32_t) * G.np);
		for (uint32_t p = 0; p < G.np; p++)
			perm[p] = p;
		for (uint32_t k = 0; k < nmiss; k++) {
			uint32_t j = k + rng_below(&r, G.np - k);
			uint32_t t = perm[k];
			perm[k] = perm[j];
			perm[j] = t;
			missing[perm[k]] = (int)rng_below(&r, NCORE);
		}
		free(perm);
	}

	dir_add("projects", UINT32_MAX);
	for (uint32_t p = 0; p < G.np; p++) {
		uint32_t n = G.nfiles / G.np + (p < G.nfiles % G.np ? 1 : 0);
		plan_project(&r, p, n, missing[p], width);
	}
	free(missing);
	if (G.nf != G.nfiles)
		die("internal error: planned %u files, wanted %u", G.nf, G.nfiles);

	/* injected errors: a partial Fisher-Yates shuffle picks distinct files */
	rng_t er;
	rng_init(&er, G.seed, ST_ERRORS, 0);
	uint32_t want[ERR__COUNT] = {0};
	want[ERR_BROKEN_LINK] = G.broken_every ? G.nf / G.broken_every : 0;
	uint64_t total = want[ERR_BROKEN_LINK];
	for (int e = ERR_BROKEN_ANCHOR; e <= ERR_INVALID_UTF8; e++) {
		want[e] = G.errors_every ? G.nf / G.errors_every : 0;
		total += want[e];
	}
	if (total + 2 > G.nf)
		die("too many injected errors (%" PRIu64 ") for %u files: raise --broken-links-every/--errors-every",
		    total, G.nf);
	uint32_t *perm = xrealloc(NULL, sizeof(uint32_t) * G.nf);
	for (uint32_t i = 0; i < G.nf; i++)
		perm[i] = i;
	uint32_t k = 0;
	for (int e = ERR_BROKEN_LINK; e <= ERR_INVALID_UTF8; e++) {
		for (uint32_t c = 0; c < want[e]; c++, k++) {
			uint32_t j = k + rng_below(&er, G.nf - k);
			uint32_t t = perm[k];
			perm[k] = perm[j];
			perm[j] = t;
			G.files[perm[k]].err = (uint8_t)e;
		}
	}
	free(perm);

	/* sizes, front matter, large files */
	rng_t sr;
	rng_init(&sr, G.seed, ST_SIZES, 0);
	uint32_t large_off = G.large_every ? rng_below(&sr, G.large_every) : 0;
	uint32_t lhi = G.max_large - 4096;
	uint32_t llo = G.max_large / 2 < 32768 ? G.max_large / 2 : 32768;
	G.clean = xrealloc(NULL, sizeof(uint32_t) * G.nf);
	for (uint32_t i = 0; i < G.nf; i++) {
		file_t *f = &G.files[i];
		/* NB: never two PRNG draws in one expression or argument list: the
		 * evaluation order is unspecified and output must not depend on the
		 * compiler */
		uint32_t n1 = rng_below(&sr, 6913);
		uint32_t n2 = rng_below(&sr, 6913);
		uint32_t normal = 1280 + (uint32_t)(((uint64_t)n1 * n2) / 6912);
		uint32_t fm_roll = rng_below(&sr, 100);
		uint32_t l1 = (uint32_t)(rng_next(&sr) >> 32);
		uint32_t l2 = (uint32_t)(rng_next(&sr) >> 32);
		if (f->err == ERR_EMPTY_FILE) {
			f->size = 0;
		} else if (G.large_every && (i + large_off) % G.large_every == 0) {
			/* roughly log-uniform in [llo, lhi] */
			uint32_t oct = 0;
			for (uint32_t v = llo; v * 2 <= lhi; v *= 2)
				oct++;
			uint32_t o = oct ? l1 % (oct + 1) : 0;
			uint64_t lo = (uint64_t)llo << o, hi = lo * 2;
			if (hi > lhi)
				hi = lhi;
			if (lo > hi)
				lo = hi;
			f->size = (uint32_t)(lo + (hi > lo ? l2 % (hi - lo) : 0));
			f->large = 1;
			G.nlarge++;
		} else {
			f->size = normal;
		}
		if (f->err == ERR_BAD_FRONT_MATTER)
			f->fm = FM_BAD;
		else if (f->err == ERR_NONE && fm_roll < (f->kind < NCORE ? 10u : 20u))
			f->fm = FM_GOOD;
		if (f->err == ERR_NONE)
			G.clean[G.nclean++] = i;
		else {
			G.counts[f->err]++;
			errrec_add(i, G.dirs[f->dir].project, f->err);
		}
	}
	for (uint32_t p = 0; p < G.np; p++)
		if (G.projects[p].missing >= 0) {
			G.counts[ERR_MISSING_CORE_FILE]++;
			errrec_add(UINT32_MAX, p, ERR_MISSING_CORE_FILE);
		}
}

/* ------------------------------------------------------------------ */
/* headings and outlines                                                */

#define MAX_HEAD 256
#define HTEXT 96

typedef struct {
	uint8_t level;
	char text[HTEXT];
	char slug[HTEXT];
} heading_t;

typedef struct {
	int n;
	heading_t h[MAX_HEAD];
} outline_t;

/* GitHub-style: ASCII letters lowercased, digits/'-'/'_' kept, ' ' -> '-',
 * everything else dropped (no collapsing of repeated '-'). */
static void slugify(const char *t, char *out)
{
	size_t n = 0;
	for (; *t; t++) {
		unsigned char c = (unsigned char)*t;
		if (c >= 'A' && c <= 'Z')
			out[n++] = (char)(c - 'A' + 'a');
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')
			out[n++] = (char)c;
		else if (c == ' ')
			out[n++] = '-';
	}
	out[n] = '\0';
}

static bool outline_has_slug(const outline_t *o, const char *slug)
{
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->h[i].slug, slug))
			return true;
	return false;
}

static void outline_push(outline_t *o, int level, const char *text)
{
	heading_t *h = &o->h[o->n++];
	h->level = (uint8_t)level;
	snprintf(h->text, sizeof h->text, "%s", text);
	slugify(h->text, h->slug);
}

/* append a capitalised word */
static void cat_cap(char *dst, size_t cap, const char *w)
{
	size_t l = strlen(dst);
	if (l + strlen(w) + 1 >= cap)
		return;
	dst[l] = (w[0] >= 'a' && w[0] <= 'z') ? (char)(w[0] - 'a' + 'A') : w[0];
	strcpy(dst + l + 1, w + 1);
}
static void cat(char *dst, size_t cap, const char *s)
{
	size_t l = strlen(dst);
	if (l + strlen(s) + 1 >= cap)
		return;
	strcpy(dst + l, s);
}
static const char *noun(rng_t *r) { return nouns[rng_below(r, NELEM(nouns))]; }

static void cap_words(rng_t *r, char *out, size_t cap, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			cat(out, cap, " ");
		cat_cap(out, cap, noun(r));
	}
}

static void gen_heading(rng_t *r, char *out, size_t cap)
{
	char num[32];
	out[0] = '\0';
	switch (rng_below(r, 20)) {
	case 9:
		snprintf(num, sizeof num, "Phase %u: ", rng_range(r, 1, 9));
		cat(out, cap, num);
		cap_words(r, out, cap, rng_range(r, 1, 2));
		break;
	case 10:
		cat_cap(out, cap, noun(r));
		cat(out, cap, " & ");
		cat_cap(out, cap, noun(r));
		break;
	case 11:
		cat(out, cap, "Why ");
		cap_words(r, out, cap, 2);
		cat(out, cap, "?");
		break;
	case 12:
		cat(out, cap, "How ");
		cap_words(r, out, cap, rng_range(r, 1, 2));
		cat(out, cap, " Works");
		break;
	case 13:
		cat_cap(out, cap, noun(r));
		cat(out, cap, " (");
		cat_cap(out, cap, noun(r));
		cat(out, cap, ")");
		break;
	case 14:
		cat(out, cap, "What's Next for ");
		cat_cap(out, cap, noun(r));
		break;
	case 15:
		cat_cap(out, cap, noun(r));
		cat(out, cap, "/");
		cat_cap(out, cap, noun(r));
		break;
	case 16:
		cat_cap(out, cap, noun(r));
		cat(out, cap, ", ");
		cat_cap(out, cap, noun(r));
		cat(out, cap, " and ");
		cat_cap(out, cap, noun(r));
		break;
	case 17:
		{
			uint32_t q = rng_range(r, 1, 4);
			uint32_t y = rng_range(r, 2022, 2025);
			snprintf(num, sizeof num, "Q%u %u Review", q, y);
		}
		cat(out, cap, num);
		break;
	case 18:
		cat(out, cap, "Open Questions: ");
		cat_cap(out, cap, noun(r));
		break;
	case 19:
		cat_cap(out, cap, adjs[rng_below(r, NELEM(adjs) - 1)]); /* headings stay ASCII */
		cat(out, cap, " ");
		cat_cap(out, cap, noun(r));
		break;
	default:
		cap_words(r, out, cap, rng_range(r, 1, 3));
		break;
	}
}

/* title of a file (its H1 text) */
static void file_title(uint32_t fi, char *out, size_t cap)
{
	const file_t *f = &G.files[fi];
	const char *name = ASTR(f->name);
	out[0] = '\0';
	if (f->kind < NCORE) {
		snprintf(out, cap, "%s: %s", core[f->kind].title, G.projects[G.dirs[f->dir].project].display);
		return;
	}
	const char *stem = name;
	if (f->kind == K_NOTE) {
		/* "YYYY-MM-DD-rest.md" -> "YYYY-MM-DD: Rest" */
		snprintf(out, cap, "%.10s:", name);
		stem = name + 11;
	}
	const char *end = strstr(stem, ".md");
	size_t len = strlen(out);
	bool start = true;
	for (const char *p = stem; p < end && len + 2 < cap; p++) {
		if (start && len)
			out[len++] = ' ';
		if (*p == '-') {
			start = true;
			continue;
		}
		out[len++] = (start && *p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
		start = false;
	}
	out[len] = '\0';
}

static void make_outline(uint32_t fi, outline_t *o)
{
	const file_t *f = &G.files[fi];
	o->n = 0;
	if (f->err == ERR_EMPTY_FILE || f->err == ERR_NO_TITLE)
		return;
	rng_t r;
	rng_init(&r, G.seed, ST_OUTLINE, fi);
	char t[HTEXT];
	file_title(fi, t, sizeof t);
	outline_push(o, 1, t);

	uint32_t nsec = f->size / 700 + rng_below(&r, 3);
	if (nsec < 2)
		nsec = 2;
	if (nsec > MAX_HEAD - 1)
		nsec = MAX_HEAD - 1;
	uint32_t fixed = 0;
	if (f->kind < NCORE) {
		while (fixed < 6 && core[f->kind].sections[fixed])
			outline_push(o, 2, core[f->kind].sections[fixed++]);
		if (nsec < fixed)
			nsec = fixed;
	}
	int prev = fixed ? 2 : 1;
	for (uint32_t s = fixed; s < nsec; s++) {
		int lvl;
		uint32_t u = rng_below(&r, 100);
		if (prev <= 1)
			lvl = 2;
		else if (prev == 2)
			lvl = u < 35 ? 3 : 2;
		else if (prev == 3)
			lvl = u < 10 ? 4 : u < 55 ? 3 : 2;
		else
			lvl = u < 40 ? 4 : u < 70 ? 3 : 2;
		char text[HTEXT], slug[HTEXT];
		for (int tries = 0;; tries++) {
			gen_heading(&r, text, sizeof text - 8);
			slugify(text, slug);
			if (!outline_has_slug(o, slug))
				break;
			if (tries >= 8) {
				size_t l = strlen(text);
				for (uint32_t k = 2;; k++) {
					snprintf(text + l, sizeof text - l, " %u", k);
					slugify(text, slug);
					if (!outline_has_slug(o, slug))
						break;
				}
				break;
			}
		}
		outline_push(o, lvl, text);
		prev = lvl;
	}
	if (f->err == ERR_SKIPPED_HEADING)
		o->h[1].level = 3; /* "# Title" directly followed by "### ..." */
}

/* ------------------------------------------------------------------ */
/* content generation                                                   */

enum { LK_REL, LK_ANCHOR, LK_SELF, LK_EXT, LK_BROKEN, LK_BROKEN_ANCHOR };

typedef struct {
	buf_t *b;
	rng_t r;
	uint32_t fi;
	const file_t *f;
	const dir_t *d;
	const project_t *pj;
	const outline_t *o;
	outline_t *tmp;
	int inject;      /* pending ERR_BROKEN_LINK / ERR_BROKEN_ANCHOR / ERR_INVALID_UTF8, or 0 */
	int inject_sec;  /* section index (0 = intro) receiving the injection */
	errrec_t *rec;   /* this file's error record */
	int col;         /* current column while wrapping a paragraph */
	uint64_t lk[4];  /* links written: relative, relative with #anchor, self #anchor, external */
} ctx_t;

/* relative path from directory path `a` to file `name` in directory path `b` */
static size_t rel_path(const char *a, const char *b, const char *name, char *out, size_t cap)
{
	/* length of the common leading components */
	size_t ca = 0, cb = 0, common_a = 0, common_b = 0;
	for (;;) {
		size_t ea = ca, eb = cb;
		while (a[ea] && a[ea] != '/')
			ea++;
		while (b[eb] && b[eb] != '/')
			eb++;
		if (ea == ca || ea - ca != eb - cb || memcmp(a + ca, b + cb, ea - ca) != 0)
			break;
		common_a = ea;
		common_b = eb;
		if (!a[ea] || !b[eb])
			break;
		ca = ea + 1;
		cb = eb + 1;
	}
	size_t len = 0;
	const char *ra = a + common_a;
	if (*ra == '/')
		ra++;
	/* one "../" per remaining component of a */
	if (*ra)
		for (const char *p = ra;; p++)
			if (*p == '/' || !*p) {
				if (len + 4 >= cap)
					die("internal error: link path too long");
				memcpy(out + len, "../", 3);
				len += 3;
				if (!*p)
					break;
			}
	const char *rb = b + common_b;
	if (*rb == '/')
		rb++;
	size_t rl = strlen(rb), nl = strlen(name);
	if (len + rl + nl + 2 > cap)
		die("internal error: link path too long");
	memcpy(out + len, rb, rl);
	len += rl;
	if (rl)
		out[len++] = '/';
	memcpy(out + len, name, nl + 1);
	return len + nl;
}

static size_t rel_file(const ctx_t *c, uint32_t j, char *out, size_t cap)
{
	return rel_path(ASTR(c->d->path), ASTR(G.dirs[G.files[j].dir].path), ASTR(G.files[j].name), out, cap);
}

/* pick a link target near the source file (never the source itself) */
static uint32_t pick_target(ctx_t *c)
{
	uint32_t j = c->fi;
	for (int tries = 0; tries < 8 && j == c->fi; tries++) {
		uint32_t u = rng_below(&c->r, 100);
		if (u < 30) {
			j = c->d->first + rng_below(&c->r, c->d->nfiles);
		} else if (u < 50) {
			int32_t k = c->pj->core[rng_below(&c->r, NCORE)];
			j = k >= 0 ? (uint32_t)k : c->fi;
		} else if (u < 85) {
			j = c->pj->first + rng_below(&c->r, c->pj->nfiles);
		} else {
			j = rng_below(&c->r, G.nf);
		}
	}
	if (j == c->fi)
		j = (c->fi + 1) % G.nf;
	return j;
}

/* link text from a file name: "cache-eviction.md" -> "cache eviction" */
static void name_text(const char *name, char *out, size_t cap)
{
	size_t n = 0;
	for (const char *p = name; *p && n + 1 < cap; p++) {
		if (!strcmp(p, ".md"))
			break;
		out[n++] = *p == '-' ? ' ' : *p;
	}
	out[n] = '\0';
}

/* does directory d contain a file named `name`? */
static bool dir_has(const dir_t *d, const char *name)
{
	for (uint32_t i = 0; i < d->nfiles; i++)
		if (!strcmp(ASTR(G.files[d->first + i].name), name))
			return true;
	return false;
}

static void record_detail(ctx_t *c, const char *dest)
{
	if (c->rec && !c->rec->detail)
		c->rec->detail = strdup(dest);
}

/* build one link token "[text](dest)" into out */
static size_t make_link(ctx_t *c, int kind, char *out, size_t cap)
{
	char text[160], dest[640];
	size_t dl;
	rng_t *r = &c->r;

	if (kind == LK_SELF && c->o->n < 2)
		kind = LK_REL;
	if (kind == LK_ANCHOR && G.nclean < 2)
		kind = LK_REL;

	switch (kind) {
	case LK_EXT: {
		const char *host = rng_pct(r, 50) ? "example.com" : "docs.example.org";
		const char *p1 = noun(r);
		const char *p2 = noun(r);
		snprintf(dest, sizeof dest, "https://%s/%s/%s", host, p1, p2);
		const char *t1 = noun(r);
		snprintf(text, sizeof text, "%s %s", t1, rng_pct(r, 50) ? "docs" : "reference");
		c->lk[3]++;
		break;
	}
	case LK_SELF: {
		const heading_t *h = &c->o->h[1 + rng_below(r, (uint32_t)c->o->n - 1)];
		snprintf(dest, sizeof dest, "#%s", h->slug);
		snprintf(text, sizeof text, "%s", h->text);
		c->lk[2]++;
		break;
	}
	case LK_ANCHOR: {
		uint32_t j = pick_target(c);
		for (int t = 0; t < 4 && G.files[j].err != ERR_NONE; t++)
			j = pick_target(c);
		if (G.files[j].err != ERR_NONE) {
			/* fall back to any clean file */
			do
				j = G.clean[rng_below(r, G.nclean)];
			while (j == c->fi);
		}
		make_outline(j, c->tmp);
		const heading_t *h = &c->tmp->h[rng_below(r, (uint32_t)c->tmp->n)];
		dl = rel_file(c, j, dest, sizeof dest);
		snprintf(dest + dl, sizeof dest - dl, "#%s", h->slug);
		snprintf(text, sizeof text, "%s", h->text);
		c->lk[0]++;
		c->lk[1]++;
		break;
	}
	case LK_BROKEN_ANCHOR: {
		uint32_t j;
		do
			j = G.clean[rng_below(r, G.nclean)];
		while (j == c->fi);
		/* prefer a nearby clean file when there is one */
		for (int t = 0; t < 8; t++) {
			uint32_t k = pick_target(c);
			if (G.files[k].err == ERR_NONE) {
				j = k;
				break;
			}
		}
		make_outline(j, c->tmp);
		char atext[HTEXT], aslug[HTEXT];
		do {
			atext[0] = '\0';
			cap_words(r, atext, sizeof atext, rng_range(r, 1, 3));
			slugify(atext, aslug);
		} while (outline_has_slug(c->tmp, aslug));
		dl = rel_file(c, j, dest, sizeof dest);
		snprintf(dest + dl, sizeof dest - dl, "#%s", aslug);
		snprintf(text, sizeof text, "%s", atext);
		record_detail(c, dest);
		c->lk[0]++;
		c->lk[1]++;
		break;
	}
	case LK_BROKEN: {
		uint32_t j = pick_target(c);
		const dir_t *td = &G.dirs[G.files[j].dir];
		const char *tname = ASTR(G.files[j].name);
		char name[256];
		uint32_t how = rng_below(r, 3);
		if (how == 0 && strlen(tname) > 5) {
			/* typo: drop one character of the stem */
			size_t sl = strlen(tname) - 3;
			for (int t = 0; t < 16; t++) {
				size_t drop = rng_below(r, (uint32_t)sl);
				memcpy(name, tname, drop);
				strcpy(name + drop, tname + drop + 1);
				if (name[0] != '-' && name[0] != '.' && !dir_has(td, name))
					break;
				name[0] = '\0';
			}
			if (!name[0])
				how = 1;
		}
		if (how != 0) {
			do {
				size_t l = slug_name(r, name, sizeof name - 4, 1, 3);
				memcpy(name + l, ".md", 4);
			} while (dir_has(td, name));
		}
		if (how == 2) {
			/* a directory that does not exist: "archive/" below the target's
			 * directory (project, topic and month directories never have an
			 * "archive" subdirectory) */
			char fpath[512];
			snprintf(fpath, sizeof fpath, "%s/archive", ASTR(td->path));
			rel_path(ASTR(c->d->path), fpath, name, dest, sizeof dest);
		} else {
			rel_path(ASTR(c->d->path), ASTR(td->path), name, dest, sizeof dest);
		}
		name_text(name, text, sizeof text);
		record_detail(c, dest);
		c->lk[0]++;
		break;
	}
	default: { /* LK_REL */
		uint32_t j = pick_target(c);
		const file_t *tf = &G.files[j];
		rel_file(c, j, dest, sizeof dest);
		if (tf->kind < NCORE && rng_pct(r, 50))
			snprintf(text, sizeof text, "%s", core[tf->kind].title);
		else
			name_text(ASTR(tf->name), text, sizeof text);
		c->lk[0]++;
		break;
	}
	}
	size_t tl = strlen(text), dl2 = strlen(dest);
	if (tl + dl2 + 5 > cap)
		die("internal error: link too long");
	out[0] = '[';
	memcpy(out + 1, text, tl);
	memcpy(out + 1 + tl, "](", 2);
	memcpy(out + 3 + tl, dest, dl2);
	out[3 + tl + dl2] = ')';
	out[4 + tl + dl2] = '\0';
	return 4 + tl + dl2;
}

static int random_link_kind(rng_t *r)
{
	uint32_t u = rng_below(r, 100);
	return u < 66 ? LK_REL : u < 86 ? LK_ANCHOR : u < 93 ? LK_SELF : LK_EXT;
}

/* wrapped paragraph token emission */
#define WRAP 80
static void tok(ctx_t *c, const char *s, size_t n)
{
	if (c->col > 0) {
		if ((size_t)c->col + 1 + n > WRAP) {
			buf_putc(c->b, '\n');
			c->col = 0;
		} else {
			buf_putc(c->b, ' ');
			c->col++;
		}
	}
	buf_put(c->b, s, n);
	c->col += (int)n;
}

typedef struct {
	char s[4096];
	size_t len;
	uint16_t off[96], n[96];
	int nt;
} toks_t;

static void tk_add(toks_t *t, const char *s, size_t n)
{
	if (t->nt >= 96 || t->len + n + 2 > sizeof t->s)
		return;
	t->off[t->nt] = (uint16_t)t->len;
	t->n[t->nt] = (uint16_t)n;
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->nt++;
}
static void tk_adds(toks_t *t, const char *s) { tk_add(t, s, strlen(s)); }
/* append characters to the last token */
static void tk_suffix(toks_t *t, const char *s)
{
	size_t n = strlen(s);
	if (!t->nt || t->len + n + 2 > sizeof t->s)
		return;
	/* tokens are contiguous and the last one ends at t->len */
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->n[t->nt - 1] = (uint16_t)(t->n[t->nt - 1] + n);
}

static void clause(ctx_t *c, toks_t *t)
{
	rng_t *r = &c->r;
	char w[96];
	if (rng_pct(r, 80))
		tk_adds(t, dets[rng_below(r, NELEM(dets))]);
	if (rng_pct(r, 40))
		tk_adds(t, adjs[rng_skew(r, NELEM(adjs))]);
	const char *n1 = nouns[rng_skew(r, NELEM(nouns))];
	uint32_t deco = rng_below(r, 100);
	if (deco < 4) {
		snprintf(w, sizeof w, "`%s_%s`", n1, noun(r));
		tk_adds(t, w);
	} else if (deco < 7) {
		snprintf(w, sizeof w, "**%s**", n1);
		tk_adds(t, w);
	} else {
		tk_adds(t, n1);
	}
	tk_adds(t, verbs[rng_skew(r, NELEM(verbs))]);
	if (rng_pct(r, 60))
		tk_adds(t, dets[rng_below(r, NELEM(dets))]);
	if (rng_pct(r, 30)) {
		const char *a = adjs[rng_skew(r, NELEM(adjs))];
		if (rng_pct(r, 10)) {
			snprintf(w, sizeof w, "*%s*", a);
			tk_adds(t, w);
		} else {
			tk_adds(t, a);
		}
	}
	tk_adds(t, nouns[rng_skew(r, NELEM(nouns))]);
	if (rng_pct(r, 8)) {
		uint32_t v = rng_range(r, 2, 512);
		snprintf(w, sizeof w, "%u%s", v, units[rng_below(r, NELEM(units))]);
		tk_adds(t, w);
	}
	if (rng_pct(r, 40)) {
		tk_adds(t, preps[rng_below(r, NELEM(preps))]);
		if (rng_pct(r, 50))
			tk_adds(t, dets[rng_below(r, NELEM(dets))]);
		tk_adds(t, nouns[rng_skew(r, NELEM(nouns))]);
	}
}

static const char *const bad_utf8[] = {
	"caf\xe9",          /* latin-1 e-acute: lead byte followed by ASCII */
	"na\xefve",         /* latin-1 i-diaeresis */
	"\xff",             /* never valid */
	("\x80" "bytes"),   /* lone continuation byte (split so the escape ends) */
	"\xc3",             /* truncated 2-byte sequence before a space */
};

static void sentence(ctx_t *c, int inject)
{
	rng_t *r = &c->r;
	toks_t t;
	t.len = 0;
	t.nt = 0;
	clause(c, &t);
	uint32_t j = rng_below(r, 100);
	if (j < 30) {
		tk_suffix(&t, ",");
		tk_adds(&t, conjs[rng_below(r, NELEM(conjs))]);
		clause(c, &t);
	} else if (j < 34) {
		tk_adds(&t, rng_pct(r, 60) ? "\xe2\x80\x94" : "\xe2\x86\x92"); /* U+2014, U+2192 */
		clause(c, &t);
	}
	/* capitalise the first letter of the first token if it is a plain word */
	if (t.s[0] >= 'a' && t.s[0] <= 'z')
		t.s[0] = (char)(t.s[0] - 'a' + 'A');

	int link_at = -1, link_kind = 0;
	if (inject == ERR_BROKEN_LINK || inject == ERR_BROKEN_ANCHOR || inject == ERR_INVALID_UTF8) {
		link_at = 1 + (int)rng_below(r, (uint32_t)t.nt - 1);
		link_kind = inject;
	} else if (rng_pct(r, 14)) {
		link_at = 1 + (int)rng_below(r, (uint32_t)t.nt - 1);
		link_kind = -1;
	}
	for (int i = 0; i < t.nt; i++) {
		if (i == link_at) {
			char lk[1024];
			size_t n;
			if (link_kind == ERR_INVALID_UTF8) {
				const char *bw = bad_utf8[rng_below(r, NELEM(bad_utf8))];
				n = strlen(bw);
				memcpy(lk, bw, n);
			} else if (link_kind == ERR_BROKEN_LINK) {
				n = make_link(c, LK_BROKEN, lk, sizeof lk);
			} else if (link_kind == ERR_BROKEN_ANCHOR) {
				n = make_link(c, LK_BROKEN_ANCHOR, lk, sizeof lk);
			} else {
				n = make_link(c, random_link_kind(r), lk, sizeof lk);
			}
			tok(c, lk, n);
		}
		const char *s = t.s + t.off[i];
		size_t n = t.n[i];
		if (i == t.nt - 1) {
			char last[256];
			if (n + 2 > sizeof last)
				n = sizeof last - 2;
			memcpy(last, s, n);
			last[n++] = '.';
			tok(c, last, n);
		} else {
			tok(c, s, n);
		}
	}
}

static void emit_para(ctx_t *c, size_t maxlen, bool inject_here)
{
	size_t start = c->b->len;
	int inj = inject_here ? c->inject : 0;
	uint32_t nsent = rng_range(&c->r, 1, 5);
	c->col = 0;
	for (uint32_t s = 0; s < nsent; s++) {
		if (s > 0 && c->b->len - start + 170 > maxlen)
			break;
		sentence(c, s == 0 ? inj : 0);
	}
	if (inj)
		c->inject = 0;
	buf_puts(c->b, "\n\n");
}

static void phrase(ctx_t *c, buf_t *b, uint32_t minw, uint32_t maxw)
{
	rng_t *r = &c->r;
	uint32_t n = rng_range(r, minw, maxw);
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			buf_putc(b, ' ');
		uint32_t u = rng_below(r, 10);
		const char *w = u < 5 ? nouns[rng_skew(r, NELEM(nouns))]
		              : u < 7 ? verbs[rng_skew(r, NELEM(verbs))]
		              : u < 9 ? adjs[rng_skew(r, NELEM(adjs))]
		                      : preps[rng_below(r, NELEM(preps))];
		buf_puts(b, w);
	}
}

static void emit_bullets(ctx_t *c, size_t maxlen, bool ordered)
{
	rng_t *r = &c->r;
	buf_t *b = c->b;
	size_t start = b->len;
	uint32_t n = rng_range(r, 2, 7);
	bool tasks = !ordered && (c->f->kind == 2 || c->f->kind == 5) && rng_pct(r, 40);
	bool nested = false;
	for (uint32_t i = 0; i < n; i++) {
		if (i > 1 && b->len - start + 200 > maxlen)
			break;
		/* nested items only under an unordered, non-nested item */
		nested = !ordered && i > 0 && !nested && rng_pct(r, 12);
		if (nested)
			buf_puts(b, "  ");
		if (ordered)
			buf_printf(b, "%u. ", i + 1);
		else
			buf_puts(b, "- ");
		if (tasks)
			buf_puts(b, rng_pct(r, 50) ? "[x] " : "[ ] ");
		uint32_t u = rng_below(r, 100);
		if (u < 25) {
			char lk[1024];
			size_t l = make_link(c, random_link_kind(r), lk, sizeof lk);
			buf_put(b, lk, l);
			buf_puts(b, rng_pct(r, 50) ? " \xe2\x80\x94 " : ": ");
			phrase(c, b, 2, 8);
		} else if (u < 40) {
			buf_puts(b, "**");
			const char *w = noun(r);
			buf_putc(b, (char)(w[0] - 'a' + 'A'));
			buf_puts(b, w + 1);
			buf_puts(b, "**: ");
			phrase(c, b, 3, 10);
		} else if (u < 48) {
			const char *i1 = noun(r);
			buf_printf(b, "`%s_%s`", i1, noun(r));
			buf_putc(b, ' ');
			phrase(c, b, 2, 7);
		} else {
			phrase(c, b, 3, 12);
		}
		buf_putc(b, '\n');
	}
	buf_putc(b, '\n');
}

static void emit_code_lines(ctx_t *c, const char *lang, uint32_t n)
{
	rng_t *r = &c->r;
	buf_t *b = c->b;
	bool is_c = !strcmp(lang, "c"), is_py = !strcmp(lang, "python");
	const char *f1 = noun(r);
	const char *f2 = noun(r);
	const char *f3 = noun(r);
	if (is_c)
		buf_printf(b, "static int %s_%s(struct %s *ctx)\n{\n", f1, f2, f3);
	else if (is_py)
		buf_printf(b, "def %s_%s(%s):\n", f1, f2, f3);
	for (uint32_t i = 0; i < n; i++) {
		const char *a = noun(r);
		const char *d = noun(r);
		const char *e = noun(r);
		uint32_t v = rng_range(r, 1, 4096);
		if (is_c) {
			if (rng_pct(r, 30))
				buf_printf(b, "\tif (ctx->%s > %u)\n\t\treturn -EAGAIN;\n", a, v);
			else
				buf_printf(b, "\tctx->%s = %s_%s(ctx, %u);\n", a, d, e, v);
		} else if (is_py) {
			buf_printf(b, "    %s = %s.%s(%u)\n", a, e, d, v);
		} else if (!strcmp(lang, "sh")) {
			buf_printf(b, "$ ringbank %s --%s=%u --%s %s/%s.md\n", a, d, v, e, a, d);
		} else if (!strcmp(lang, "json")) {
			buf_printf(b, "%s\"%s_%s\": %u%s\n", i == 0 ? "{ " : "  ", a, d, v, i + 1 == n ? " }" : ",");
		} else if (!strcmp(lang, "yaml")) {
			if (i % 3 == 0)
				buf_printf(b, "%s_%s:\n", a, d);
			else
				buf_printf(b, "  %s: %s\n", a, e);
		} else if (!strcmp(lang, "sql")) {
			buf_printf(b, "SELECT %s, %s FROM %s WHERE %s_id = %u;\n", a, d, e, a, v);
		} else {
			buf_printf(b, "%s %s %s %u\n", a, d, e, v);
		}
	}
	if (is_c)
		buf_puts(b, "\treturn 0;\n}\n");
	else if (is_py)
		buf_puts(b, "    return None\n");
}

static void emit_code(ctx_t *c, size_t maxlen)
{
	const char *lang = langs[rng_below(&c->r, NELEM(langs))];
	uint32_t n = rng_range(&c->r, 3, 14);
	while (n > 1 && n * 60 + 20 > maxlen)
		n--;
	buf_printf(c->b, "```%s\n", lang);
	emit_code_lines(c, lang, n);
	buf_puts(c->b, "```\n\n");
}

static void emit_quote(ctx_t *c)
{
	buf_puts(c->b, rng_pct(&c->r, 50) ? "> **Note:** " : "> ");
	phrase(c, c->b, 5, 14);
	buf_puts(c->b, ".\n\n");
}

/* random non-heading block within maxlen */
static void emit_block(ctx_t *c, size_t maxlen)
{
	uint32_t u = rng_below(&c->r, 100);
	if (u < 50)
		emit_para(c, maxlen, false);
	else if (u < 72)
		emit_bullets(c, maxlen, false);
	else if (u < 86)
		emit_code(c, maxlen);
	else if (u < 94)
		emit_bullets(c, maxlen, true);
	else
		emit_quote(c);
}

static void emit_front_matter(ctx_t *c, bool closed)
{
	buf_t *b = c->b;
	rng_t *r = &c->r;
	char t[HTEXT];
	file_title(c->fi, t, sizeof t);
	buf_printf(b, "---\ntitle: \"%s\"\n", t);
	const char *t1 = noun(r);
	const char *t2 = noun(r);
	buf_printf(b, "tags: [%s, %s]\n", t1, t2);
	uint32_t y = rng_range(r, 2023, 2025);
	uint32_t m = rng_range(r, 1, 12);
	uint32_t d = rng_range(r, 1, 28);
	buf_printf(b, "updated: %04u-%02u-%02u\n", y, m, d);
	buf_printf(b, "status: %s\n", statuses[rng_below(r, NELEM(statuses))]);
	if (closed)
		buf_puts(b, "---\n");
	buf_putc(b, '\n');
}

static void gen_file(uint32_t fi, buf_t *b, outline_t *own, outline_t *tmp, errrec_t *rec, uint64_t lk[4])
{
	const file_t *f = &G.files[fi];
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
	if (f->err == ERR_EMPTY_FILE)
		return;

	ctx_t c = {0};
	c.b = b;
	c.fi = fi;
	c.f = f;
	c.d = &G.dirs[f->dir];
	c.pj = &G.projects[c.d->project];
	c.o = own;
	c.tmp = tmp;
	c.rec = rec;
	rng_init(&c.r, G.seed, ST_BODY, fi);
	make_outline(fi, own);

	size_t target = f->size;
	if (f->fm == FM_GOOD)
		emit_front_matter(&c, true);
	else if (f->fm == FM_BAD)
		emit_front_matter(&c, false);

	if (f->err == ERR_NO_TITLE) {
		/* no headings at all; starts with a paragraph */
		emit_para(&c, 900, false);
		while (b->len + 200 < target)
			emit_block(&c, target - b->len);
	} else {
		if (f->err == ERR_BROKEN_LINK || f->err == ERR_BROKEN_ANCHOR || f->err == ERR_INVALID_UTF8) {
			c.inject = f->err;
			c.inject_sec = (int)rng_below(&c.r, (uint32_t)own->n); /* 0 = intro */
		}
		size_t reserve = f->err == ERR_UNCLOSED_FENCE ? 400 : 0;
		buf_printf(b, "# %s\n\n", own->h[0].text);
		emit_para(&c, 600, c.inject_sec == 0);
		if (own->n >= 6 && !f->large && rng_pct(&c.r, 25)) {
			buf_puts(b, "Contents:\n\n");
			for (int i = 1; i < own->n; i++)
				if (own->h[i].level == 2) {
					buf_printf(b, "- [%s](#%s)\n", own->h[i].text, own->h[i].slug);
					c.lk[2]++;
				}
			buf_putc(b, '\n');
		}
		for (int s = 1; s < own->n; s++) {
			size_t used = b->len + reserve;
			size_t left = target > used ? target - used : 0;
			size_t end = b->len + left / (size_t)(own->n - s);
			const heading_t *h = &own->h[s];
			buf_put(b, "###### ", h->level);
			buf_putc(b, ' ');
			buf_puts(b, h->text);
			buf_put(b, "\n\n", 2);
			emit_para(&c, end > b->len ? end - b->len : 0, c.inject_sec == s);
			while (b->len + 200 < end)
				emit_block(&c, end - b->len);
		}
		if (f->err == ERR_UNCLOSED_FENCE) {
			const char *lang = langs[rng_below(&c.r, NELEM(langs) - 1)];
			buf_printf(b, "```%s\n", lang);
			emit_code_lines(&c, lang, rng_range(&c.r, 2, 5));
		}
	}
	if (c.inject)
		die("internal error: injection not placed in file %u", fi);
	/* end with exactly one newline */
	while (b->len >= 2 && b->p[b->len - 1] == '\n' && b->p[b->len - 2] == '\n')
		b->p[--b->len] = '\0';
	/* link statistics leave out files a validator stops reading */
	if (f->fm != FM_BAD)
		for (int k = 0; k < 4; k++)
			lk[k] += c.lk[k];
}

/* ------------------------------------------------------------------ */
/* output                                                               */

static void write_all(int fd, const char *p, size_t n, const char *what)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write %s: %s", what, strerror(errno));
		}
		p += w;
		n -= (size_t)w;
	}
}

static void mkdir_p(const char *path)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
		die("path too long: %s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			die("mkdir %s: %s", tmp, strerror(errno));
		*p = '/';
	}
	if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", tmp, strerror(errno));
}

static int open_outdir(const char *out)
{
	struct stat st;
	if (stat(out, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			die("%s exists and is not a directory", out);
		DIR *d = opendir(out);
		if (!d)
			die("opendir %s: %s", out, strerror(errno));
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				closedir(d);
				die("%s exists and is not empty", out);
			}
		closedir(d);
	} else if (errno == ENOENT) {
		mkdir_p(out);
	} else {
		die("stat %s: %s", out, strerror(errno));
	}
	int fd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open %s: %s", out, strerror(errno));
	return fd;
}

static void json_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(fp, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(fp, "\\u%04x", ch);
		else
			fputc(ch, fp);
	}
	fputc('"', fp);
}

static void write_manifest(FILE *fp, const char *path)
{
	uint64_t total = 0;
	for (int e = 1; e < ERR__COUNT; e++)
		total += G.counts[e];
	fprintf(fp, "{\n");
	fprintf(fp, "  \"generator\": \"rb-genbank\",\n  \"format\": 1,\n");
	fprintf(fp, "  \"seed\": %" PRIu64 ",\n", G.seed);
	fprintf(fp, "  \"files\": %u,\n", G.nf);
	fprintf(fp, "  \"directories\": %u,\n", G.nd);
	fprintf(fp, "  \"bytes\": %" PRIu64 ",\n", G.bytes);
	fprintf(fp, "  \"projects\": %u,\n", G.np);
	fprintf(fp, "  \"large_files\": %u,\n", G.nlarge);
	fprintf(fp,
		"  \"options\": {\"broken_links_every\": %u, \"errors_every\": %u, \"large_every\": %u, "
		"\"max_large_bytes\": %u},\n",
		G.broken_every, G.errors_every, G.large_every, G.max_large);
	fprintf(fp,
		"  \"links\": {\"relative\": %" PRIu64 ", \"relative_with_anchor\": %" PRIu64
		", \"self_anchor\": %" PRIu64 ", \"external\": %" PRIu64 "},\n",
		G.links_rel, G.links_anchored, G.links_self, G.links_ext);
	fprintf(fp, "  \"errors\": {");
	for (int e = 1; e < ERR__COUNT; e++)
		fprintf(fp, "%s\"%s\": %" PRIu64, e > 1 ? ", " : "", err_names[e], G.counts[e]);
	fprintf(fp, "},\n");
	fprintf(fp, "  \"error_total\": %" PRIu64 ",\n", total);
	fprintf(fp, "  \"error_files\": [");
	for (uint32_t i = 0; i < G.nrecs; i++) {
		const errrec_t *rc = &G.recs[i];
		char fpath[1024];
		if (rc->file == UINT32_MAX) {
			const project_t *pj = &G.projects[rc->project];
			snprintf(fpath, sizeof fpath, "%s/%s", ASTR(G.dirs[pj->dir].path), core[pj->missing].name);
		} else {
			const file_t *f = &G.files[rc->file];
			snprintf(fpath, sizeof fpath, "%s/%s", ASTR(G.dirs[f->dir].path), ASTR(f->name));
		}
		fprintf(fp, "%s\n    {\"path\": ", i ? "," : "");
		json_str(fp, fpath);
		fprintf(fp, ", \"error\": \"%s\"", err_names[rc->err]);
		if (rc->detail) {
			fprintf(fp, ", \"link\": ");
			json_str(fp, rc->detail);
		}
		fputc('}', fp);
	}
	fprintf(fp, "%s]\n}\n", G.nrecs ? "\n  " : "");
	if (ferror(fp) | (fclose(fp) != 0))
		die("write manifest %s: %s", path, strerror(errno));
}

static int cmp_rec(const void *a, const void *b)
{
	const errrec_t *x = a, *y = b;
	/* files in plan order, missing core files last by project */
	uint64_t kx = x->file == UINT32_MAX ? (1ULL << 32) + x->project : x->file;
	uint64_t ky = y->file == UINT32_MAX ? (1ULL << 32) + y->project : y->file;
	return kx < ky ? -1 : kx > ky;
}

static errrec_t *find_rec(uint32_t fi)
{
	/* recs are sorted by file index (see cmp_rec) */
	uint32_t lo = 0, hi = G.nrecs;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (G.recs[mid].file < fi)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < G.nrecs && G.recs[lo].file == fi ? &G.recs[lo] : NULL;
}

typedef struct {
	pthread_t tid;
	int rootfd;
	uint64_t bytes;
	uint64_t lk[4];
} worker_t;

static uint32_t next_dir; /* work queue: directories, taken atomically */

static void *worker_run(void *arg)
{
	worker_t *w = arg;
	buf_t b = {0};
	outline_t *own = xrealloc(NULL, sizeof(outline_t));
	outline_t *tmp = xrealloc(NULL, sizeof(outline_t));
	uint32_t limit = G.max_large > 16384 ? G.max_large : 16384;
	for (;;) {
		uint32_t d = __atomic_fetch_add(&next_dir, 1, __ATOMIC_RELAXED);
		if (d >= G.nd)
			break;
		const dir_t *dir = &G.dirs[d];
		if (!dir->nfiles)
			continue;
		const char *dpath = ASTR(dir->path);
		int dfd = openat(w->rootfd, dpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			die("open %s/%s: %s", G.outdir, dpath, strerror(errno));
		for (uint32_t i = dir->first; i < dir->first + dir->nfiles; i++) {
			const file_t *f = &G.files[i];
			const char *name = ASTR(f->name);
			gen_file(i, &b, own, tmp, f->err ? find_rec(i) : NULL, w->lk);
			if (b.len > limit)
				die("internal error: %s/%s is %zu bytes (> %u)", dpath, name, b.len, limit);
			int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
			if (fd < 0)
				die("create %s/%s/%s: %s", G.outdir, dpath, name, strerror(errno));
			write_all(fd, b.p, b.len, name);
			if (close(fd) < 0)
				die("close %s/%s/%s: %s", G.outdir, dpath, name, strerror(errno));
			w->bytes += b.len;
		}
		close(dfd);
	}
	free(b.p);
	free(own);
	free(tmp);
	return NULL;
}

static void generate(int rootfd)
{
	for (uint32_t i = 0; i < G.nd; i++)
		if (mkdirat(rootfd, ASTR(G.dirs[i].path), 0755) < 0)
			die("mkdir %s/%s: %s", G.outdir, ASTR(G.dirs[i].path), strerror(errno));

	uint32_t n = G.jobs;
	worker_t *w = xrealloc(NULL, sizeof(worker_t) * n);
	memset(w, 0, sizeof(worker_t) * n);
	for (uint32_t i = 0; i < n; i++) {
		w[i].rootfd = rootfd;
		if (i == 0)
			continue; /* worker 0 runs on the main thread */
		int e = pthread_create(&w[i].tid, NULL, worker_run, &w[i]);
		if (e)
			die("pthread_create: %s", strerror(e));
	}
	worker_run(&w[0]);
	for (uint32_t i = 0; i < n; i++) {
		if (i) {
			int e = pthread_join(w[i].tid, NULL);
			if (e)
				die("pthread_join: %s", strerror(e));
		}
		G.bytes += w[i].bytes;
		G.links_rel += w[i].lk[0];
		G.links_anchored += w[i].lk[1];
		G.links_self += w[i].lk[2];
		G.links_ext += w[i].lk[3];
	}
	free(w);
}

/* ------------------------------------------------------------------ */
/* command line                                                         */

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: " PROG " [options] OUTDIR\n"
		"Generate a deterministic markdown memory bank in OUTDIR (must not exist or be empty).\n"
		"\n"
		"  --seed N                PRNG seed (default 1)\n"
		"  --files N               number of files to write (default 1000, min 6)\n"
		"  --broken-links-every K  one file in K gets one broken relative link (default 200, 0 = none)\n"
		"  --errors-every K        one file in K gets each other error class (default 200, 0 = none;\n"
		"                          also disables missing core files)\n"
		"  --large-every K         one file in K is large (default 500, 0 = none)\n"
		"  --max-large-bytes B     upper size bound for large files (default 2097152, min 16384)\n"
		"  --manifest FILE         write a JSON manifest (counts, exact injected errors)\n"
		"  --jobs N                writer threads (default: online CPUs, at most 8); output\n"
		"                          is identical for any N\n"
		"  -q, --quiet             no summary line on stderr\n"
		"  -h, --help              this help\n");
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	if (!s || !*s || *s == '-' || *s == '+') {
		fprintf(stderr, PROG ": %s: expected a non-negative integer, got '%s'\n", opt, s ? s : "");
		exit(2);
	}
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end) {
		fprintf(stderr, PROG ": %s: invalid integer '%s'\n", opt, s);
		exit(2);
	}
	if (v < min || v > max) {
		fprintf(stderr, PROG ": %s: %llu out of range [%" PRIu64 ", %" PRIu64 "]\n", opt, v, min, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	G.seed = 1;
	G.nfiles = 1000;
	G.broken_every = 200;
	G.errors_every = 200;
	G.large_every = 500;
	G.max_large = 2 * 1024 * 1024;

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	G.jobs = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (uint32_t)ncpu;

	enum { O_SEED = 256, O_FILES, O_BROKEN, O_ERRORS, O_LARGE, O_MAXLARGE, O_MANIFEST, O_JOBS };
	static const struct option lo[] = {
		{"seed", required_argument, NULL, O_SEED},
		{"files", required_argument, NULL, O_FILES},
		{"broken-links-every", required_argument, NULL, O_BROKEN},
		{"errors-every", required_argument, NULL, O_ERRORS},
		{"large-every", required_argument, NULL, O_LARGE},
		{"max-large-bytes", required_argument, NULL, O_MAXLARGE},
		{"manifest", required_argument, NULL, O_MANIFEST},
		{"jobs", required_argument, NULL, O_JOBS},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "qh", lo, NULL)) != -1) {
		switch (ch) {
		case O_SEED: G.seed = parse_u64("--seed", optarg, 0, UINT64_MAX); break;
		case O_FILES: G.nfiles = (uint32_t)parse_u64("--files", optarg, 6, 50000000); break;
		case O_BROKEN: G.broken_every = (uint32_t)parse_u64("--broken-links-every", optarg, 0, UINT32_MAX); break;
		case O_ERRORS: G.errors_every = (uint32_t)parse_u64("--errors-every", optarg, 0, UINT32_MAX); break;
		case O_LARGE: G.large_every = (uint32_t)parse_u64("--large-every", optarg, 0, UINT32_MAX); break;
		case O_MAXLARGE:
			G.max_large = (uint32_t)parse_u64("--max-large-bytes", optarg, 16384, 1024u * 1024 * 1024);
			break;
		case O_MANIFEST: G.manifest = optarg; break;
		case O_JOBS: G.jobs = (uint32_t)parse_u64("--jobs", optarg, 1, 256); break;
		case 'q': G.quiet = true; break;
		case 'h': usage(stdout); return 0;
		default:
			if (optopt && optopt < 256)
				fprintf(stderr, PROG ": unknown or incomplete option '-%c'\n", optopt);
			else
				fprintf(stderr, PROG ": unknown option or missing argument: '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, PROG ": expected exactly one OUTDIR argument\n");
		usage(stderr);
		return 2;
	}
	G.outdir = argv[optind];

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	build_plan(); /* may reject the options: before touching the filesystem */
	qsort(G.recs, G.nrecs, sizeof(errrec_t), cmp_rec);
	int rootfd = open_outdir(G.outdir);
	FILE *mfp = NULL;
	if (G.manifest && !(mfp = fopen(G.manifest, "w")))
		die("open manifest %s: %s", G.manifest, strerror(errno));
	generate(rootfd);
	close(rootfd);
	if (mfp)
		write_manifest(mfp, G.manifest);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (!G.quiet)
		fprintf(stderr,
			PROG ": %u files, %u directories, %u projects, %" PRIu64 " bytes in %.2fs (%.0f files/s)\n",
			G.nf, G.nd, G.np, G.bytes, secs, secs > 0 ? G.nf / secs : 0.0);
	return 0;
}
