/* stats.c: bank_stats, the shape of a bank in one walk: files (and how many
 * are markdown), directories, symlinks, other entries, bytes, a token
 * estimate (bytes / 4, the usual rule of thumb for English text and code),
 * the 10 largest and 10 newest files, and the content cache's hit ratio.
 *
 * One rb_fs_walk with statx of regular files (on the ring, relative to each
 * directory fd, under the bulk cap); nothing is read. Memory is two arrays
 * of 10 entries whatever the bank's size. Symlinks are counted, never
 * followed. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "text.h"
#include "tools.h"

#define TOP_N 10

struct top {
	char *path;
	uint64_t key;	/* bytes, or mtime in ns */
};

struct stats {
	struct rb_call *call;
	struct rb_path start;
	struct rb_fs_op *walk;
	uint64_t files, md, dirs, symlinks, other, bytes, errors, seen;
	struct top largest[TOP_N], newest[TOP_N];
	size_t nlargest, nnewest;
	char first_error[256];
	uint64_t t0;
};

/* Keeps the TOP_N greatest keys, sorted descending (ties: path order). */
static void top_put(struct top *t, size_t *n, const char *path, uint64_t key)
{
	size_t i = *n;
	char *p;

	if (*n == TOP_N && (key < t[TOP_N - 1].key || (key == t[TOP_N - 1].key && strcmp(path, t[TOP_N - 1].path) > 0)))
		return;
	if (!(p = strdup(path)))
		return;
	if (*n == TOP_N)
		free(t[--i].path);
	else
		(*n)++;
	while (i > 0 && (t[i - 1].key < key || (t[i - 1].key == key && strcmp(t[i - 1].path, path) > 0))) {
		t[i] = t[i - 1];
		i--;
	}
	t[i].path = p;
	t[i].key = key;
}

static void stats_free(struct stats *s)
{
	size_t i;

	for (i = 0; i < s->nlargest; i++)
		free(s->largest[i].path);
	for (i = 0; i < s->nnewest; i++)
		free(s->newest[i].path);
	free(s); /* the call may be gone: finishing frees it */
}

static bool is_markdown(const char *name)
{
	size_t n = strlen(name);

	return (n > 3 && !strcasecmp(name + n - 3, ".md")) || (n > 9 && !strcasecmp(name + n - 9, ".markdown"));
}

static int stats_entry(void *ctx, const struct rb_walk_entry *e)
{
	struct stats *s = ctx;

	if (rb_call_cancelled(s->call))
		return -ECANCELED;
	if (++s->seen % 1024 == 0)
		rb_call_progress(s->call, s->seen, 0, "scanning");
	if (e->err) {
		s->errors++;
		if (!s->first_error[0])
			snprintf(s->first_error, sizeof(s->first_error), "%s: %s", e->rel, rb_strerror(e->err));
		return e->type == DT_DIR ? 1 : 0; /* a directory is reported again with err: counted once */
	}
	switch (e->type) {
	case DT_DIR:
		s->dirs++;
		break;
	case DT_LNK:
		s->symlinks++;
		break;
	case DT_REG:
		s->files++;
		s->md += is_markdown(e->name);
		if (e->have_stx) {
			uint64_t mt = (uint64_t)e->stx.stx_mtime.tv_sec * 1000000000ull + e->stx.stx_mtime.tv_nsec;

			s->bytes += e->stx.stx_size;
			top_put(s->largest, &s->nlargest, e->rel, e->stx.stx_size);
			top_put(s->newest, &s->nnewest, e->rel, mt);
		}
		break;
	default:
		s->other++;
		break;
	}
	return 0;
}

static void iso_time(uint64_t ns, char *out, size_t n)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void stats_done(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct stats *s = ctx;
	struct rb_call *call = s->call;
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *sc, *arr, *o, *cache;
	struct rb_fs_stats fst;
	struct rb_sbuf b = { 0 };
	char size[32], when[32];
	uint64_t lookups, ms = (rb_now_ns() - s->t0) / 1000000;
	double ratio;
	size_t i;

	s->walk = NULL;
	rb_call_set_state(call, NULL); /* finishing below frees the call */
	if (res < 0) {
		if (res == -ECANCELED)
			rb_call_error(call, "bank_stats: cancelled");
		else if (res == -ENOTDIR)
			rb_call_error(call, "%s: not a directory", s->start.abs);
		else
			rb_call_error(call, "%s: %s", s->start.abs, rb_strerror(res));
		stats_free(s);
		return;
	}
	rb_fs_get_stats(rb_call_fs(call), &fst);
	lookups = fst.cache_hits + fst.cache_misses;
	ratio = lookups ? (double)fst.cache_hits / (double)lookups : 0.0;

	rb_format_size(s->bytes, size);
	rb_sbuf_addf(&b, "Bank: %s\nFiles: %llu (%llu markdown), directories: %llu, symlinks: %llu, other: %llu\n",
		     s->start.abs, (unsigned long long)s->files, (unsigned long long)s->md,
		     (unsigned long long)s->dirs, (unsigned long long)s->symlinks, (unsigned long long)s->other);
	rb_sbuf_addf(&b, "Bytes: %llu (%s); estimated tokens: %llu (bytes / 4)\n", (unsigned long long)s->bytes,
		     size, (unsigned long long)(s->bytes / 4));
	if (s->nlargest)
		rb_sbuf_adds(&b, "Largest files:\n");
	for (i = 0; i < s->nlargest; i++) {
		rb_format_size(s->largest[i].key, size);
		rb_sbuf_addf(&b, "  %10s  %s\n", size, s->largest[i].path);
	}
	if (s->nnewest)
		rb_sbuf_adds(&b, "Newest files:\n");
	for (i = 0; i < s->nnewest; i++) {
		iso_time(s->newest[i].key, when, sizeof(when));
		rb_sbuf_addf(&b, "  %s  %s\n", when, s->newest[i].path);
	}
	if (lookups)
		rb_sbuf_addf(&b, "Content cache: %llu hits, %llu misses (hit ratio %.2f), %llu entries, %llu bytes\n",
			     (unsigned long long)fst.cache_hits, (unsigned long long)fst.cache_misses, ratio,
			     (unsigned long long)fst.cache_entries, (unsigned long long)fst.cache_bytes);
	else
		rb_sbuf_adds(&b, "Content cache: no lookups yet\n");
	rb_sbuf_addf(&b, "Scanned in %llu ms", (unsigned long long)ms);
	if (s->errors)
		rb_sbuf_addf(&b, "; %llu errors (first: %s)", (unsigned long long)s->errors, s->first_error);
	rb_sbuf_addc(&b, '\n');

	sc = yyjson_mut_obj(d);
	yyjson_mut_obj_add_strcpy(d, sc, "root", s->start.abs);
	yyjson_mut_obj_add_uint(d, sc, "files", s->files);
	yyjson_mut_obj_add_uint(d, sc, "markdownFiles", s->md);
	yyjson_mut_obj_add_uint(d, sc, "directories", s->dirs);
	yyjson_mut_obj_add_uint(d, sc, "symlinks", s->symlinks);
	yyjson_mut_obj_add_uint(d, sc, "other", s->other);
	yyjson_mut_obj_add_uint(d, sc, "bytes", s->bytes);
	yyjson_mut_obj_add_uint(d, sc, "tokensEstimate", s->bytes / 4);
	arr = yyjson_mut_arr(d);
	for (i = 0; i < s->nlargest; i++) {
		o = yyjson_mut_arr_add_obj(d, arr);
		yyjson_mut_obj_add_strcpy(d, o, "path", s->largest[i].path);
		yyjson_mut_obj_add_uint(d, o, "bytes", s->largest[i].key);
	}
	yyjson_mut_obj_add_val(d, sc, "largest", arr);
	arr = yyjson_mut_arr(d);
	for (i = 0; i < s->nnewest; i++) {
		iso_time(s->newest[i].key, when, sizeof(when));
		o = yyjson_mut_arr_add_obj(d, arr);
		yyjson_mut_obj_add_strcpy(d, o, "path", s->newest[i].path);
		yyjson_mut_obj_add_strcpy(d, o, "mtime", when);
		yyjson_mut_obj_add_uint(d, o, "mtimeNs", s->newest[i].key);
	}
	yyjson_mut_obj_add_val(d, sc, "newest", arr);
	cache = yyjson_mut_obj_add_obj(d, sc, "cache");
	yyjson_mut_obj_add_uint(d, cache, "hits", fst.cache_hits);
	yyjson_mut_obj_add_uint(d, cache, "misses", fst.cache_misses);
	if (lookups)
		yyjson_mut_obj_add_real(d, cache, "hitRatio", ratio);
	else
		yyjson_mut_obj_add_null(d, cache, "hitRatio");
	yyjson_mut_obj_add_uint(d, cache, "entries", fst.cache_entries);
	yyjson_mut_obj_add_uint(d, cache, "bytes", fst.cache_bytes);
	yyjson_mut_obj_add_uint(d, sc, "errors", s->errors);
	yyjson_mut_obj_add_uint(d, sc, "elapsedMs", ms);
	if (b.oom)
		rb_call_error(call, "%s: %s", s->start.abs, rb_strerror(-ENOMEM));
	else
		rb_call_finish_text(call, b.p, b.len, sc);
	rb_sbuf_free(&b);
	stats_free(s);
}

static int stats_run(struct rb_call *call)
{
	struct rb_fs *fs = rb_call_fs(call);
	struct stats *s;
	struct rb_walk_opts wo = { .stat_files = true, .cls = rb_call_class(call) };
	int r;

	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->call = call;
	s->t0 = rb_now_ns();
	if ((r = rb_arg_path_opt(call, "path", &s->start)) < 0) {
		free(s);
		return r;
	}
	rb_call_set_state(call, s);
	r = rb_fs_walk(fs, &s->start, &wo, stats_entry, stats_done, s, &s->walk);
	if (r < 0) {
		rb_call_set_state(call, NULL);
		r = rb_call_fail_msg(call, "%s: %s", s->start.abs, rb_strerror(r));
		stats_free(s);
		return r;
	}
	return 0;
}

static void stats_cancel(struct rb_call *call)
{
	struct stats *s = rb_call_state(call);

	if (s && s->walk)
		rb_fs_cancel(s->walk);
}

static const struct rb_tool bank_stats = {
	.name = "bank_stats",
	.title = "Memory Bank Statistics",
	.description = "Statistics of a memory-bank directory (default: the first root): files (and markdown "
		       "files), directories, symlinks, bytes, an estimate of tokens (bytes / 4), the 10 largest "
		       "and the 10 newest files, and the content cache's hit ratio. Reads no file contents.",
	.input_schema = "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\","
			"\"description\":\"Directory to describe (default: the first root)\"}}}",
	.output_schema =
		"{\"type\":\"object\",\"properties\":{\"root\":{\"type\":\"string\"},"
		"\"files\":{\"type\":\"integer\"},\"markdownFiles\":{\"type\":\"integer\"},"
		"\"directories\":{\"type\":\"integer\"},\"symlinks\":{\"type\":\"integer\"},"
		"\"other\":{\"type\":\"integer\"},\"bytes\":{\"type\":\"integer\"},"
		"\"tokensEstimate\":{\"type\":\"integer\"},"
		"\"largest\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
		"\"path\":{\"type\":\"string\"},\"bytes\":{\"type\":\"integer\"}}}},"
		"\"newest\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
		"\"path\":{\"type\":\"string\"},\"mtime\":{\"type\":\"string\"},\"mtimeNs\":{\"type\":\"integer\"}}}},"
		"\"cache\":{\"type\":\"object\",\"properties\":{\"hits\":{\"type\":\"integer\"},"
		"\"misses\":{\"type\":\"integer\"},\"hitRatio\":{\"type\":[\"number\",\"null\"]},"
		"\"entries\":{\"type\":\"integer\"},\"bytes\":{\"type\":\"integer\"}}},"
		"\"errors\":{\"type\":\"integer\"},\"elapsedMs\":{\"type\":\"integer\"}},"
		"\"required\":[\"root\",\"files\",\"directories\",\"bytes\",\"tokensEstimate\",\"largest\",\"newest\",\"cache\"]}",
	.read_only = true,
	.idempotent = true,
	.bulk = true,
	.run = stats_run,
	.cancel = stats_cancel,
};

const struct rb_tool *const rb_tools_stats[] = { &bank_stats, NULL };
