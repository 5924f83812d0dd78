/* files.c: the filesystem tool set, with the names, parameters and output
 * formats of the official @modelcontextprotocol/server-filesystem so that
 * prompts written for it keep working (differences kept on purpose are in
 * docs/PARITY.md). This file holds the tools that are one fs operation (or
 * two: read then write for edit_file) and the table rb_tools_files; the bulk
 * tools live in files_bulk.c.
 *
 * Every tool follows one shape: run() checks the arguments (a bad one is
 * refused with a message naming the field), allocates a `struct fop` as the
 * call's state, starts the fs operation and returns 0; the operation's
 * callback builds the result and finishes the call. cancel() cancels the
 * operation in flight; its callback still runs (with -ECANCELED) and
 * finishes the call, whose result the MCP layer then drops. Paths in
 * messages are the client's own spelling.
 *
 * write_file and edit_file (not its dryRun) are read-check-write under the
 * target's lock file (lock.h, the one memory_bank_update takes): lock ->
 * [read, compare expectedVersion] -> write -> release -> finish. Every path
 * after the lock is taken (success, error, cancel) goes through wr_end(),
 * which releases it before the call is finished. They answer with the new
 * content version in structuredContent ({version}); read_text_file gives
 * {size, version} (the version of the whole file, whatever head/tail cut;
 * none past 8 MiB or --max-file-bytes, where head/tail read only a part). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "files.h"
#include "ringbank/lock.h"
#include "text.h"
#include "tools.h"

/* read_media_file: 6 MiB of data is 8 MiB of base64, the reply limit. */
#define MEDIA_MAX (6u * 1024 * 1024)

/* read_text_file hashes files up to this size for structuredContent.version.
 * SHA-256 runs at ~230 MB/s on the loop's thread: 8 MiB is ~35 ms, 64 MiB
 * (a head/tail of a big log) would stall every other request ~0.3 s for a
 * version nobody can use (such a file cannot be read whole, nor written
 * back through one request). */
#define VERSION_MAX (8u * 1024 * 1024)

/* ---- the writers' lock settings (--lock-wait-ms, --lock-stale-ms) ----------------
 * One set for the process and for every tool that takes a file's lock:
 * write_file and edit_file here, memory_bank_update in projects.c (tools.h). */
static struct rb_tools_opts tools_opts = RB_TOOLS_OPTS_INIT;

int rb_tools_set_opts(const struct rb_tools_opts *o)
{
	static const struct rb_tools_opts dflt = RB_TOOLS_OPTS_INIT;

	if (!o)
		o = &dflt;
	if (o->lock_wait_ms > RB_LOCK_WAIT_MS_MAX || o->lock_stale_ms < RB_LOCK_STALE_MS_MIN ||
	    o->lock_stale_ms > RB_LOCK_STALE_MS_MAX)
		return -EINVAL;
	tools_opts = *o;
	return 0;
}

const struct rb_tools_opts *rb_tools_get_opts(void)
{
	return &tools_opts;
}

const struct rb_lock_opts *rb_tools_lock_opts(void)
{
	static struct rb_lock_opts lo;

	/* lock.h reads a timeout of 0 as its default (5 s), so "do not wait" is
	 * asked as 1 ms: one attempt (a holder found is read, and taken over
	 * if stale), at most one more after a pause of under 1 ms, then
	 * -RB_E_LOCKED. */
	lo.timeout_ms = tools_opts.lock_wait_ms ? tools_opts.lock_wait_ms : 1;
	lo.stale_ms = tools_opts.lock_stale_ms;
	/* The deadline must decide: lock.h's bound of 1000 attempts alone would
	 * end a wait after about a minute of 64 ms back-offs. Back-offs last at
	 * least 32 ms from the sixth attempt on, so one attempt per 16 ms of
	 * wait on top keeps the bound out of the way. */
	lo.max_tries = 1000 + tools_opts.lock_wait_ms / 16;
	return &lo;
}

void rb_tools_lock_msg(char *buf, size_t n, uint64_t waited_ns, const char *holder)
{
	snprintf(buf, n, "another writer held the bank lock for %.1f s (--lock-wait-ms %u), so nothing was "
		 "written (holder: %s)", (double)waited_ns / 1e9, tools_opts.lock_wait_ms,
		 holder ? holder : "unknown");
}

/* Where a write tool is (for cancel). */
enum wr_step { W_NONE, W_LOCK, W_CHECK, W_WRITE, W_RELEASE };

struct lents;
static void lents_free(struct lents *l);

struct fop {
	struct rb_call *call;
	struct rb_fs_op *op;
	const char *arg, *arg2;	/* the client's paths, valid until finish */
	struct rb_path p, p2;
	uint64_t head, tail;
	bool dry_run, crlf;
	struct rb_edit *edits;
	size_t nedits;
	struct rb_sbuf diff, data;
	struct lents *list;	/* list_directory_with_sizes */
	/* write_file / edit_file */
	enum wr_step step;
	struct rb_lock *lock;	/* W_LOCK: the acquisition; later: held until wr_end */
	uint64_t lock_t0;	/* when the acquisition started (rb_now_ns), for the timeout message */
	const char *expected;	/* expectedVersion or NULL */
	const char *content;	/* write_file's content (the call's argument) */
	size_t content_len;
	int err;		/* the outcome wr_end recorded */
	struct rb_sbuf msg;	/* its text: the error, or the success text */
	char version[RB_VERSION_LEN];
	/* read_text_file: head/tail of a file over the whole-read limit, read
	 * by ranges (f->data holds the bytes gathered: a prefix for head, a
	 * suffix for tail). */
	struct {
		uint64_t size;	    /* the file's size at the first range: the snapshot read */
		uint64_t ino;
		uint32_t dev_major, dev_minor;
		uint64_t pos;	    /* head: next offset; tail: offset of f->data's first byte */
		size_t chunk, asked;
		uint64_t lines;	    /* '\n' in f->data */
		uint64_t crlf;	    /* tail: "\r\n" pairs in f->data */
		unsigned restarts;
		bool started;
	} rr;
};

/* ---- shared helpers ---------------------------------------------------------- */

void rb_files_fail(struct rb_call *call, const char *path, int code)
{
	rb_call_error(call, "%s: %s", path, rb_strerror(code));
}

yyjson_mut_val *rb_files_text_content(struct rb_call *call, const char *text, size_t len)
{
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *arr = yyjson_mut_arr(d), *b = yyjson_mut_obj(d), *s;
	if (rb_utf8_valid(text, len)) {
		s = yyjson_mut_strncpy(d, text, len);
	} else {
		struct rb_sbuf fix = { 0 };
		rb_utf8_repair(&fix, text, len);
		s = fix.oom ? NULL : yyjson_mut_strncpy(d, fix.p ? fix.p : "", fix.len);
		rb_sbuf_free(&fix);
	}
	if (!arr || !b || !s)
		return NULL;
	yyjson_mut_obj_add_str(d, b, "type", "text");
	yyjson_mut_obj_add_val(d, b, "text", s);
	yyjson_mut_arr_append(arr, b);
	return arr;
}

int rb_files_arg_strv(struct rb_call *call, const char *field, yyjson_val **arr, size_t *n)
{
	yyjson_val *v = yyjson_obj_get(rb_call_args(call), field), *x;
	size_t i, max;
	*arr = NULL;
	*n = 0;
	if (!v || yyjson_is_null(v))
		return 0;
	if (!yyjson_is_arr(v))
		return rb_call_fail_msg(call, "%s: expected an array of strings", field);
	yyjson_arr_foreach(v, i, max, x) {
		if (!yyjson_is_str(x))
			return rb_call_fail_msg(call, "%s[%zu]: expected a string", field, i);
	}
	*arr = v;
	*n = yyjson_arr_size(v);
	return 0;
}

void rb_files_join(char *out, size_t cap, const char *start, const char *rel)
{
	size_t n = strlen(start);
	if (!strcmp(start, ".") || !*start)
		snprintf(out, cap, "%s", rel);
	else if (n && start[n - 1] == '/')
		snprintf(out, cap, "%s%s", start, rel);
	else
		snprintf(out, cap, "%s/%s", start, rel);
}

static struct fop *fop_new(struct rb_call *call)
{
	struct fop *f = calloc(1, sizeof(*f));
	if (f) {
		f->call = call;
		rb_call_set_state(call, f);
	}
	return f;
}

static void fop_free(struct fop *f)
{
	rb_call_set_state(f->call, NULL);
	free(f->edits);
	lents_free(f->list);
	rb_sbuf_free(&f->diff);
	rb_sbuf_free(&f->data);
	rb_sbuf_free(&f->msg);
	free(f);
}

/* Ends the call with an error naming path; frees f. */
static void fop_fail(struct fop *f, const char *path, int code)
{
	struct rb_call *call = f->call;
	fop_free(f);
	rb_files_fail(call, path, code);
}

/* run() failed before starting anything: free f and hand code back. */
static int fop_abort(struct fop *f, int code)
{
	fop_free(f);
	return code;
}

/* A start function returned an error without calling back. */
static int fop_start_failed(struct fop *f, const char *path, int code)
{
	fop_fail(f, path, code);
	return 0;
}

static void fop_finish_text(struct fop *f, const char *text, size_t len, yyjson_mut_val *structured)
{
	struct rb_call *call = f->call;
	yyjson_mut_val *content = rb_files_text_content(call, text, len);
	fop_free(f);
	if (!content)
		rb_call_error(call, "out of memory building the result");
	else
		rb_call_finish(call, content, structured);
}

static void fop_cancel(struct rb_call *call)
{
	struct fop *f = rb_call_state(call);
	if (f && f->op)
		rb_fs_cancel(f->op);
}

/* The path argument: the client's string and its resolution. */
static int arg_path(struct rb_call *call, const char *field, const char **s, struct rb_path *p)
{
	int r = rb_arg_string(call, field, true, s);
	return r < 0 ? r : rb_arg_path(call, field, p);
}

/* ---- read_text_file / read_file -----------------------------------------------
 *
 * Without head/tail the file is read whole (up to --max-file-bytes). With
 * head or tail it is read whole when it is at most RTF_WHOLE_MAX bytes (and
 * within --max-file-bytes), so structuredContent.version (the SHA-256 of
 * the whole file) is there exactly as before. A larger file (the whole read
 * says -RB_E_TOO_LARGE before reading past its first 64 KiB) is read by
 * ranges instead: head forward from offset 0, tail backward from the end, in
 * chunks of RTF_CHUNK growing to RTF_CHUNK_MAX, until N lines are complete or
 * the start/end of the file; such a result has no version (it would need the
 * whole file). The reply is cut exactly as the whole-file path cuts it: the
 * ranges hold at least what the slice needs, and rb_text_head/tail on them
 * give the same bytes (tail's CRLF conversion is local to each "\r\n"). */

/* Up to here a head/tail reads the whole file (and gives its version). */
#define RTF_WHOLE_MAX VERSION_MAX
#define RTF_CHUNK (64u * 1024)
#define RTF_CHUNK_MAX (4u * 1024 * 1024)
/* A file replaced or truncated between two ranges: start again this many times. */
#define RTF_RESTARTS 3

/* Cuts data (the whole file, or the ranges gathered) as head/tail say, checks
 * the reply limit and finishes the call with sc as structuredContent. data is
 * writable (tail converts CRLF in place). */
static void read_text_reply(struct fop *f, char *data, size_t len, yyjson_mut_val *sc)
{
	size_t off = 0;

	if (f->tail) {
		/* Theirs converts CRLF for tail only; the slice is of the converted text. */
		len = rb_crlf_to_lf(data, len);
		rb_text_tail(data, len, f->tail, &off, &len);
	} else if (f->head) {
		rb_text_head(data, len, f->head, &off, &len);
	}
	/* A byte takes at most 6 in JSON ("\u001f"; a repaired one 3): up to a
	 * sixth of the limit the text fits whatever it holds, so the exact count
	 * (a pass over the text: 9% of the user-space instructions of a 2 KiB
	 * read_text_file call) is skipped. */
	if (len > FILES_REPLY_MAX / 6 && rb_json_str_len(data + off, len) > FILES_REPLY_MAX) {
		struct rb_call *call = f->call;
		const char *arg = f->arg;
		fop_free(f);
		rb_call_error(call, "%s: too large to return in one reply (%zu bytes; the limit is about 8 MiB): "
			      "read part of it with head or tail", arg, len);
		return;
	}
	fop_finish_text(f, data + off, len, sc);
}

static void rtf_range_done(void *ctx, int res, struct rb_fs_range *r);

/* Starts the next range: the first one (offset 0 for head, the last chunk
 * for tail), then head reads on from pos and tail reads the chunk before
 * pos. Fails the call if the range cannot start. */
static void rtf_range_next(struct fop *f)
{
	uint64_t off;
	unsigned flags = 0;
	int r;

	if (!f->rr.started) {
		off = f->tail ? f->rr.chunk : 0;
		flags = f->tail ? RB_FS_RANGE_FROM_END : 0;
		f->rr.asked = f->rr.chunk;
	} else if (f->head) {
		off = f->rr.pos;
		f->rr.asked = f->rr.size - off < f->rr.chunk ? (size_t)(f->rr.size - off) : f->rr.chunk;
	} else {
		f->rr.asked = f->rr.pos < f->rr.chunk ? (size_t)f->rr.pos : f->rr.chunk;
		off = f->rr.pos - f->rr.asked;
	}
	r = rb_fs_read_range(rb_call_fs(f->call), &f->p, off, f->rr.asked, flags, rb_call_class(f->call),
			     rtf_range_done, f, &f->op);
	if (r < 0)
		fop_fail(f, f->arg, r);
}

/* (Re)starts the ranged read from nothing; restarts: how many times so far. */
static void rtf_range_begin(struct fop *f, unsigned restarts)
{
	size_t lim = rb_fs_max_file_bytes(rb_call_fs(f->call));
	rb_sbuf_free(&f->data);
	memset(&f->rr, 0, sizeof(f->rr));
	f->rr.restarts = restarts;
	f->rr.chunk = RTF_CHUNK < lim ? RTF_CHUNK : lim;
	rtf_range_next(f);
}

/* The ranges hold what the slice needs: reply with {size}, no version. */
static void rtf_range_reply(struct fop *f)
{
	yyjson_mut_doc *d = rb_call_doc(f->call);
	yyjson_mut_val *sc = yyjson_mut_obj(d);

	rb_sbuf_add(&f->data, "", 0); /* an empty snapshot still has a buffer */
	if (f->data.oom) {
		fop_fail(f, f->arg, -ENOMEM);
		return;
	}
	yyjson_mut_obj_add_uint(d, sc, "size", f->rr.size);
	read_text_reply(f, f->data.p, f->data.len, sc);
}

/* Prepends r's bytes to f->data (tail), taking r's buffer. */
static int rtf_prepend(struct fop *f, struct rb_fs_range *r)
{
	char *nb = realloc(r->data, r->len + f->data.len + 1);
	if (!nb)
		return -ENOMEM;
	r->data = NULL;
	if (f->data.len)
		memcpy(nb + r->len, f->data.p, f->data.len);
	nb[r->len + f->data.len] = '\0';
	free(f->data.p);
	f->data.p = nb;
	f->data.len += r->len;
	f->data.cap = f->data.len + 1;
	return 0;
}

static void rtf_range_done(void *ctx, int res, struct rb_fs_range *r)
{
	struct fop *f = ctx;
	size_t lim = rb_fs_max_file_bytes(rb_call_fs(f->call)), room;
	uint64_t lines, crlf = 0;

	f->op = NULL;
	if (res < 0) {
		fop_fail(f, f->arg, res);
		return;
	}
	if (!f->rr.started) {
		/* The first range fixes the snapshot: [0, size) of this inode. */
		f->rr.started = true;
		f->rr.size = r->stx.stx_size;
		f->rr.ino = r->stx.stx_ino;
		f->rr.dev_major = r->stx.stx_dev_major;
		f->rr.dev_minor = r->stx.stx_dev_minor;
		f->rr.pos = f->head ? 0 : f->rr.size;
		f->rr.asked = f->rr.size - r->off < f->rr.chunk ? (size_t)(f->rr.size - r->off) : f->rr.chunk;
	}
	/* Another file now (an atomic replace), shorter than the snapshot
	 * (truncated), or fewer bytes than the range held (truncated between
	 * the statx and the read): the ranges would not add up to one version
	 * of the file, so start again. Bytes appended after the first range
	 * lie outside the snapshot and are not read. */
	if (r->stx.stx_ino != f->rr.ino || r->stx.stx_dev_major != f->rr.dev_major ||
	    r->stx.stx_dev_minor != f->rr.dev_minor || r->stx.stx_size < f->rr.size || r->len != f->rr.asked) {
		if (f->rr.restarts >= RTF_RESTARTS) {
			struct rb_call *call = f->call;
			const char *arg = f->arg;
			fop_free(f);
			rb_call_error(call, "%s: the file kept changing while it was being read (replaced or truncated "
				      "%d times); try again", arg, RTF_RESTARTS + 1);
			return;
		}
		rtf_range_begin(f, f->rr.restarts + 1);
		return;
	}
	lines = rb_text_newlines(r->data, r->len, f->tail ? &crlf : NULL);
	if (f->head) {
		rb_sbuf_add(&f->data, r->data, r->len);
		if (f->data.oom) {
			fop_fail(f, f->arg, -ENOMEM);
			return;
		}
		f->rr.pos += r->len;
		f->rr.lines += lines;
		if (f->rr.lines >= f->head || f->rr.pos >= f->rr.size) {
			rtf_range_reply(f);
			return;
		}
		/* Fewer than N lines: the slice will hold all of this. */
		room = f->data.len;
	} else {
		/* A "\r\n" split between this range and the one after it. */
		if (r->len && r->data[r->len - 1] == '\r' && f->data.len && f->data.p[0] == '\n')
			crlf++;
		if (rtf_prepend(f, r) < 0) {
			fop_fail(f, f->arg, -ENOMEM);
			return;
		}
		f->rr.pos -= r->len;
		f->rr.lines += lines;
		f->rr.crlf += crlf;
		if (f->rr.lines >= f->tail || f->rr.pos == 0) {
			rtf_range_reply(f);
			return;
		}
		/* Fewer than N lines: the slice will hold all of this, CRLF converted. */
		room = f->data.len - (size_t)f->rr.crlf;
	}
	if (room > FILES_REPLY_MAX) {
		struct rb_call *call = f->call;
		const char *arg = f->arg;
		fop_free(f);
		rb_call_error(call, "%s: too large to return in one reply (more than %zu bytes; the limit is about "
			      "8 MiB): ask for fewer lines", arg, room);
		return;
	}
	if (f->rr.chunk < RTF_CHUNK_MAX && f->rr.chunk * 2 <= lim)
		f->rr.chunk *= 2;
	rtf_range_next(f);
}

static void read_text_done(void *ctx, int res, struct rb_fs_file *file)
{
	struct fop *f = ctx;
	yyjson_mut_doc *d = rb_call_doc(f->call);
	yyjson_mut_val *sc;

	f->op = NULL;
	if (res == -RB_E_TOO_LARGE && (f->head || f->tail)) {
		rtf_range_begin(f, 0);
		return;
	}
	if (res == -RB_E_TOO_LARGE) {
		struct rb_call *call = f->call;
		const char *arg = f->arg;
		size_t lim = rb_fs_max_file_bytes(rb_call_fs(call));
		fop_free(f);
		rb_call_error(call, "%s: too large to read whole (over the server's limit of %zu bytes, "
			      "--max-file-bytes): read part of it with head or tail", arg, lim);
		return;
	}
	if (res < 0) {
		fop_fail(f, f->arg, res);
		return;
	}
	/* The version is of the bytes on disk: before tail's CRLF conversion
	 * (in place) and before any U+FFFD repair. */
	sc = yyjson_mut_obj(d);
	yyjson_mut_obj_add_uint(d, sc, "size", file->len);
	if (file->len <= VERSION_MAX) {
		char v[RB_VERSION_LEN];
		rb_content_version(file->data, file->len, v);
		yyjson_mut_obj_add_strcpy(d, sc, "version", v);
	}
	read_text_reply(f, file->data, file->len, sc);
}

static int read_text_run(struct rb_call *call)
{
	struct fop *f = fop_new(call);
	struct rb_fs *fs = rb_call_fs(call);
	size_t max = 0;
	int r;
	if (!f)
		return -ENOMEM;
	if ((r = arg_path(call, "path", &f->arg, &f->p)) < 0 ||
	    (r = rb_arg_uint(call, "head", 0, UINT32_MAX, &f->head)) < 0 ||
	    (r = rb_arg_uint(call, "tail", 0, UINT32_MAX, &f->tail)) < 0)
		return fop_abort(f, r);
	if (f->head && f->tail)
		return fop_abort(f, rb_call_fail_msg(call, "Cannot specify both head and tail parameters "
							   "simultaneously"));
	if (f->head || f->tail) {
		/* Past this the whole read stops at its statx and the ranges take over. */
		max = rb_fs_max_file_bytes(fs);
		if (max > RTF_WHOLE_MAX)
			max = RTF_WHOLE_MAX;
	}
	r = rb_fs_read_file(fs, &f->p, 0, max, rb_call_class(call), read_text_done, f, &f->op);
	return r < 0 ? fop_start_failed(f, f->arg, r) : 0;
}

/* ---- read_media_file ------------------------------------------------------------ */

static const char *mime_of(const char *path)
{
	static const char *const map[][2] = {
		{ "png", "image/png" },	  { "jpg", "image/jpeg" },    { "jpeg", "image/jpeg" },
		{ "gif", "image/gif" },	  { "webp", "image/webp" },   { "bmp", "image/bmp" },
		{ "svg", "image/svg+xml" }, { "mp3", "audio/mpeg" },   { "wav", "audio/wav" },
		{ "ogg", "audio/ogg" },	  { "flac", "audio/flac" },
	};
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	const char *dot = strrchr(base, '.');
	/* path.extname: a leading dot alone (".png") is a name, not an extension. */
	if (dot && dot != base)
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcasecmp(dot + 1, map[i][0]))
				return map[i][1];
	return "application/octet-stream";
}

static char *base64(const unsigned char *s, size_t len, size_t *out_len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = (len + 2) / 3 * 4, k = 0;
	char *o = malloc(n + 1);
	if (!o)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0) |
			     (i + 2 < len ? s[i + 2] : 0);
		o[k++] = tab[v >> 18 & 63];
		o[k++] = tab[v >> 12 & 63];
		o[k++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		o[k++] = i + 2 < len ? tab[v & 63] : '=';
	}
	o[k] = '\0';
	*out_len = k;
	return o;
}

/* file:// URI of an absolute path, percent-encoding what a URL path may not hold. */
static void file_uri(struct rb_sbuf *b, const char *abs)
{
	rb_sbuf_adds(b, "file://");
	for (const unsigned char *c = (const unsigned char *)abs; *c; c++) {
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		    strchr("/-._~!$&'()*+,;=:@", *c))
			rb_sbuf_addc(b, (char)*c);
		else
			rb_sbuf_addf(b, "%%%02X", *c);
	}
}

static void read_media_done(void *ctx, int res, struct rb_fs_file *file)
{
	struct fop *f = ctx;
	struct rb_call *call = f->call;
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *arr, *blk;
	const char *mime = mime_of(f->p.rel);
	size_t b64len;
	char *b64;

	f->op = NULL;
	if (res == -RB_E_TOO_LARGE) {
		const char *arg = f->arg;
		fop_free(f);
		rb_call_error(call, "%s: too large for read_media_file (the limit is %u MiB)", arg, MEDIA_MAX >> 20);
		return;
	}
	if (res < 0) {
		fop_fail(f, f->arg, res);
		return;
	}
	b64 = base64((const unsigned char *)file->data, file->len, &b64len);
	arr = yyjson_mut_arr(d);
	blk = yyjson_mut_obj(d);
	if (!b64 || !arr || !blk) {
		free(b64);
		fop_free(f);
		rb_call_error(call, "out of memory building the result");
		return;
	}
	if (!strncmp(mime, "image/", 6) || !strncmp(mime, "audio/", 6)) {
		yyjson_mut_obj_add_str(d, blk, "type", mime[0] == 'i' ? "image" : "audio");
		yyjson_mut_obj_add_strncpy(d, blk, "data", b64, b64len);
		yyjson_mut_obj_add_str(d, blk, "mimeType", mime);
	} else {
		/* Other types as an embedded blob resource, as the official server now does. */
		yyjson_mut_val *res_obj = yyjson_mut_obj(d);
		struct rb_sbuf uri = { 0 };
		file_uri(&uri, f->p.abs);
		yyjson_mut_obj_add_str(d, blk, "type", "resource");
		yyjson_mut_obj_add_strncpy(d, res_obj, "uri", uri.p ? uri.p : "", uri.len);
		yyjson_mut_obj_add_str(d, res_obj, "mimeType", mime);
		yyjson_mut_obj_add_strncpy(d, res_obj, "blob", b64, b64len);
		yyjson_mut_obj_add_val(d, blk, "resource", res_obj);
		rb_sbuf_free(&uri);
	}
	free(b64);
	yyjson_mut_arr_append(arr, blk);
	fop_free(f);
	rb_call_finish(call, arr, NULL);
}

static int read_media_run(struct rb_call *call)
{
	struct fop *f = fop_new(call);
	int r;
	if (!f)
		return -ENOMEM;
	if ((r = arg_path(call, "path", &f->arg, &f->p)) < 0)
		return fop_abort(f, r);
	r = rb_fs_read_file(rb_call_fs(call), &f->p, 0, MEDIA_MAX, rb_call_class(call), read_media_done, f, &f->op);
	return r < 0 ? fop_start_failed(f, f->arg, r) : 0;
}

/* ---- write_file / edit_file: lock -> [read, check version] -> write -> release -- */

/* Finishes a write tool from its recorded outcome (f->err, f->msg). */
static void wr_finish(struct fop *f)
{
	struct rb_call *call = f->call;
	struct rb_sbuf m = f->msg;

	f->msg = (struct rb_sbuf){ 0 };
	if (m.oom) {
		fop_free(f);
		rb_call_error(call, "out of memory building the result");
	} else if (f->err < 0) {
		fop_free(f);
		rb_call_error(call, "%s", m.p ? m.p : "failed");
	} else {
		yyjson_mut_doc *d = rb_call_doc(call);
		yyjson_mut_val *sc = yyjson_mut_obj(d);
		yyjson_mut_obj_add_strcpy(d, sc, "version", f->version);
		fop_finish_text(f, m.p ? m.p : "", m.len, sc); /* copies the text, frees f */
	}
	rb_sbuf_free(&m);
}

static void wr_released(void *ctx, int res)
{
	struct fop *f = ctx;

	if (res < 0 && res != -ENOENT)
		rb_log(RB_LOG_WARNING, "%s: %s: releasing the lock: %s", rb_call_tool(f->call)->name, f->p.abs,
		       rb_strerror(res));
	wr_finish(f);
}

/* Ends a write tool: err < 0 finishes with isError and f->msg, else with
 * the text f->msg and {version: f->version}. A held lock is released first
 * and the call finishes from the release's callback. */
static void wr_end(struct fop *f, int err)
{
	struct rb_lock *lk = f->lock;

	f->err = err;
	if (!lk) {
		wr_finish(f);
		return;
	}
	f->lock = NULL;
	f->step = W_RELEASE;
	rb_lock_release(lk, wr_released, f);
}

static void wr_endf(struct fop *f, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void wr_endf(struct fop *f, int err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	f->msg.len = 0;
	if (n < 0)
		f->msg.oom = true;
	else
		rb_sbuf_add(&f->msg, s, (size_t)n);
	free(s);
	wr_end(f, err);
}

/* "<path>: <cause>" */
static void wr_fail(struct fop *f, int code)
{
	wr_endf(f, code, "%s: %s", f->arg, rb_strerror(code));
}

/* The file is not at the version the client based its change on. */
static void wr_conflict(struct fop *f, const char *cur)
{
	if (!cur)
		wr_endf(f, -RB_E_CONFLICT, "%s: does not exist (version conflict): expected version %s; it was "
			"deleted or moved since it was read: read it again, or write without expectedVersion to "
			"create it", f->arg, f->expected);
	else
		wr_endf(f, -RB_E_CONFLICT, "%s: changed since it was read (version conflict): current version %s, "
			"expected %s; read it again, merge, and retry with the current version",
			f->arg, cur, f->expected);
}

/* The optional expectedVersion argument: 64 hex digits. */
static int arg_version(struct rb_call *call, struct fop *f)
{
	int r = rb_arg_string(call, "expectedVersion", false, &f->expected);
	size_t i;

	if (r < 0 || !f->expected)
		return r;
	for (i = 0; f->expected[i]; i++)
		if (!strchr("0123456789abcdefABCDEF", f->expected[i]))
			break;
	if (i != RB_VERSION_LEN - 1 || f->expected[i])
		return rb_call_fail_msg(call, "expectedVersion: expected the 64-hex-digit version (SHA-256 of the "
					"content) that read_text_file returned, got '%.80s'", f->expected);
	return 0;
}

/* Takes the target's lock; then runs locked(f). */
static void wr_locked(void *ctx, int res, struct rb_lock *lk, const char *holder);

static int wr_lock(struct fop *f)
{
	int r;

	f->step = W_LOCK;
	f->lock_t0 = rb_now_ns();
	r = rb_lock_acquire(rb_call_fs(f->call), &f->p, rb_tools_lock_opts(), wr_locked, f, &f->lock);
	if (r < 0)
		f->lock = NULL;
	return r;
}

static void wf_write(struct fop *f);
static void edit_read(void *ctx, int res, struct rb_fs_file *file);
static void wf_check_read(void *ctx, int res, struct rb_fs_file *file);

static void wr_locked(void *ctx, int res, struct rb_lock *lk, const char *holder)
{
	struct fop *f = ctx;
	int r;

	f->lock = lk;
	if (res < 0) {
		/* Nothing is held. */
		if (res == -RB_E_LOCKED) {
			char why[400];
			rb_tools_lock_msg(why, sizeof(why), rb_now_ns() - f->lock_t0, holder);
			wr_endf(f, res, "%s: %s", f->arg, why);
		} else if (res == -RB_E_BAD_NAME)
			wr_fail(f, -EISDIR); /* the root directory itself */
		else
			wr_fail(f, res);
		return;
	}
	if (rb_call_cancelled(f->call)) {
		wr_endf(f, -ECANCELED, "%s: cancelled", f->arg);
		return;
	}
	/* Under the lock, nobody else that takes it can change the file. */
	f->step = W_CHECK;
	if (f->edits)
		r = rb_fs_read_file(rb_call_fs(f->call), &f->p, 0, 0, rb_call_class(f->call), edit_read, f, &f->op);
	else if (f->expected)
		r = rb_fs_read_file(rb_call_fs(f->call), &f->p, 0, 0, rb_call_class(f->call), wf_check_read, f,
				    &f->op);
	else {
		wf_write(f);
		return;
	}
	if (r < 0)
		wr_fail(f, r);
}

/* ---- write_file --------------------------------------------------------------------- */

static void write_done(void *ctx, int res)
{
	struct fop *f = ctx;

	f->op = NULL;
	if (res < 0) {
		wr_fail(f, res);
		return;
	}
	rb_content_version(f->content, f->content_len, f->version);
	{
		/* res > 0: what the replace could not keep (hard links, owner). */
		char note[512];
		rb_fs_write_notes(res, note, sizeof(note));
		wr_endf(f, 0, "Successfully wrote to %s%s%s", f->arg, *note ? "\n" : "", note);
	}
}

static void wf_write(struct fop *f)
{
	int r;

	if (rb_call_cancelled(f->call)) {
		wr_endf(f, -ECANCELED, "%s: cancelled", f->arg);
		return;
	}
	f->step = W_WRITE;
	r = rb_fs_write_atomic(rb_call_fs(f->call), &f->p, f->content, f->content_len, 0, rb_call_class(f->call),
			       write_done, f, &f->op);
	if (r < 0)
		wr_fail(f, r);
}

static void wf_check_read(void *ctx, int res, struct rb_fs_file *file)
{
	struct fop *f = ctx;
	char cur[RB_VERSION_LEN];

	f->op = NULL;
	if (res == -ENOENT) {
		wr_conflict(f, NULL);
		return;
	}
	if (res < 0) {
		wr_fail(f, res);
		return;
	}
	rb_content_version(file->data, file->len, cur);
	if (strcasecmp(cur, f->expected)) {
		wr_conflict(f, cur);
		return;
	}
	wf_write(f);
}

static int write_run(struct rb_call *call)
{
	struct fop *f = fop_new(call);
	int r;
	if (!f)
		return -ENOMEM;
	if ((r = arg_path(call, "path", &f->arg, &f->p)) < 0 ||
	    (r = rb_arg_string(call, "content", true, &f->content)) < 0 ||
	    (r = arg_version(call, f)) < 0)
		return fop_abort(f, r);
	/* The JSON string's own length: content may hold NUL characters. */
	f->content_len = yyjson_get_len(yyjson_obj_get(rb_call_args(call), "content"));
	r = wr_lock(f);
	return r < 0 ? fop_start_failed(f, f->arg, r == -RB_E_BAD_NAME ? -EISDIR : r) : 0;
}

/* Cancels what is in flight; the callback still runs and goes through
 * wr_end, which releases the lock. */
static void wr_cancel(struct rb_call *call)
{
	struct fop *f = rb_call_state(call);

	if (!f)
		return;
	if (f->step == W_LOCK && f->lock)
		rb_lock_cancel(f->lock);
	else if (f->op)
		rb_fs_cancel(f->op);
}

/* ---- edit_file --------------------------------------------------------------------------- */

static void edit_written(void *ctx, int res)
{
	struct fop *f = ctx;
	f->op = NULL;
	if (res < 0) {
		wr_fail(f, res);
		return;
	}
	rb_content_version(f->data.p ? f->data.p : "", f->data.len, f->version);
	/* The diff is the result text (then what the replace could not keep). */
	rb_sbuf_free(&f->msg);
	f->msg = f->diff;
	f->diff = (struct rb_sbuf){ 0 };
	if (res > 0) {
		char note[512];
		rb_fs_write_notes(res, note, sizeof(note));
		rb_sbuf_addf(&f->msg, "%s\n", note);
	}
	wr_end(f, 0);
}

/* Reads the file (under the lock unless dryRun), checks expectedVersion,
 * applies the edits and writes (unless dryRun). */
static void edit_read(void *ctx, int res, struct rb_fs_file *file)
{
	struct fop *f = ctx;
	struct rb_call *call = f->call;
	struct rb_sbuf out = { 0 }, diff = { 0 };
	size_t failed = 0, len, ticks = 3;
	char cur[RB_VERSION_LEN];

	f->op = NULL;
	if (res == -ENOENT && f->expected) {
		wr_conflict(f, NULL);
		return;
	}
	if (res < 0) {
		wr_fail(f, res);
		return;
	}
	rb_content_version(file->data, file->len, cur);
	if (f->expected && strcasecmp(cur, f->expected)) {
		wr_conflict(f, cur);
		return;
	}
	/* Node would decode invalid bytes to U+FFFD and write that back,
	 * corrupting the file; refuse instead. */
	if (!rb_utf8_valid(file->data, file->len)) {
		wr_fail(f, -RB_E_NOT_UTF8);
		return;
	}
	f->crlf = rb_text_is_crlf(file->data, file->len);
	len = rb_crlf_to_lf(file->data, file->len);
	res = rb_edits_apply(file->data, len, f->edits, f->nedits, &out, &failed);
	if (res == -RB_E_NO_MATCH) {
		/* The texts live in the call's arguments (valid until it finishes). */
		struct rb_edit e = f->edits[failed];
		rb_sbuf_free(&out);
		wr_endf(f, res, "%s: Could not find exact match for edit:\n%.*s", f->arg, (int)e.old_len, e.old_text);
		return;
	}
	if (res == 0)
		res = rb_diff_unified(&diff, f->p.abs, file->data, len, out.p, out.len);
	if (res < 0) {
		rb_sbuf_free(&out);
		rb_sbuf_free(&diff);
		wr_fail(f, res);
		return;
	}
	/* A fence longer than any backtick run inside the diff. */
	while (diff.len && memmem(diff.p, diff.len, "``````````````````````````````", ticks) && ticks < 30)
		ticks++;
	rb_sbuf_addf(&f->diff, "%.*sdiff\n", (int)ticks, "``````````````````````````````");
	rb_sbuf_add(&f->diff, diff.p, diff.len);
	rb_sbuf_addf(&f->diff, "%.*s\n\n", (int)ticks, "``````````````````````````````");
	rb_sbuf_free(&diff);
	if (f->dry_run || f->diff.oom) {
		rb_sbuf_free(&out);
		if (f->diff.oom) {
			wr_fail(f, -ENOMEM);
			return;
		}
		/* Nothing written: the version is the file's, unchanged. */
		memcpy(f->version, cur, sizeof(cur));
		rb_sbuf_free(&f->msg);
		f->msg = f->diff;
		f->diff = (struct rb_sbuf){ 0 };
		wr_end(f, 0);
		return;
	}
	/* Keep a CRLF file CRLF (theirs writes it back with LF endings). */
	if (f->crlf) {
		for (size_t i = 0; i < out.len; i++) {
			if (out.p[i] == '\n')
				rb_sbuf_addc(&f->data, '\r');
			rb_sbuf_addc(&f->data, out.p[i]);
		}
		rb_sbuf_free(&out);
	} else {
		f->data = out;
	}
	if (f->data.oom) {
		wr_fail(f, -ENOMEM);
		return;
	}
	if (rb_call_cancelled(call)) {
		wr_endf(f, -ECANCELED, "%s: cancelled", f->arg);
		return;
	}
	f->step = W_WRITE;
	res = rb_fs_write_atomic(rb_call_fs(call), &f->p, f->data.p ? f->data.p : "", f->data.len, 0,
				 rb_call_class(call), edit_written, f, &f->op);
	if (res < 0)
		wr_fail(f, res);
}

static int edit_run(struct rb_call *call)
{
	struct fop *f = fop_new(call);
	yyjson_val *edits, *e;
	size_t i, max;
	int r;
	if (!f)
		return -ENOMEM;
	if ((r = arg_path(call, "path", &f->arg, &f->p)) < 0 ||
	    (r = rb_arg_bool(call, "dryRun", false, &f->dry_run)) < 0 ||
	    (r = arg_version(call, f)) < 0)
		return fop_abort(f, r);
	edits = yyjson_obj_get(rb_call_args(call), "edits");
	if (!yyjson_is_arr(edits))
		return fop_abort(f, rb_call_fail_msg(call, "edits: expected an array of {oldText, newText}"));
	f->nedits = yyjson_arr_size(edits);
	f->edits = calloc(f->nedits + 1, sizeof(*f->edits));
	if (!f->edits)
		return fop_abort(f, -ENOMEM);
	yyjson_arr_foreach(edits, i, max, e) {
		yyjson_val *o = yyjson_obj_get(e, "oldText"), *n = yyjson_obj_get(e, "newText");
		if (!yyjson_is_obj(e) || !yyjson_is_str(o) || !yyjson_is_str(n))
			return fop_abort(f, rb_call_fail_msg(call, "edits[%zu]: expected {oldText: string, "
							   "newText: string}", i));
		f->edits[i] = (struct rb_edit){ yyjson_get_str(o), yyjson_get_len(o), yyjson_get_str(n),
						yyjson_get_len(n) };
	}
	if (f->dry_run) {
		/* Writes nothing: no lock (expectedVersion is still checked). */
		f->step = W_CHECK;
		r = rb_fs_read_file(rb_call_fs(call), &f->p, 0, 0, rb_call_class(call), edit_read, f, &f->op);
	} else {
		r = wr_lock(f);
	}
	return r < 0 ? fop_start_failed(f, f->arg, r == -RB_E_BAD_NAME ? -EISDIR : r) : 0;
}

/* ---- create_directory ------------------------------------------------------------------ */

static void mkdir_done(void *ctx, int res)
{
	struct fop *f = ctx;
	char msg[PATH_MAX + 64];
	int n;

	f->op = NULL;
	if (res == -EEXIST || res == -ENOTDIR) {
		/* The path, or one of its parents, is an existing non-directory. */
		struct rb_call *call = f->call;
		const char *arg = f->arg;
		fop_free(f);
		rb_call_error(call, "%s: %s", arg, res == -EEXIST ? "already exists and is not a directory"
								   : "a parent is not a directory");
		return;
	}
	if (res < 0) {
		fop_fail(f, f->arg, res);
		return;
	}
	n = snprintf(msg, sizeof(msg), "Successfully created directory %s", f->arg);
	fop_finish_text(f, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1, NULL);
}

static int mkdir_run(struct rb_call *call)
{
	struct fop *f = fop_new(call);
	int r;
	if (!f)
		return -ENOMEM;
	if ((r = arg_path(call, "path", &f->arg, &f->p)) < 0)
		return fop_abort(f, r);
	r = rb_fs_mkdir(rb_call_fs(call), &f->p, true, rb_call_class(call), mkdir_done, f, &f->op);
	return r < 0 ? fop_start_failed(f, f->arg, r) : 0;
}

/* ---- list_directory / list_directory_with_sizes --------------------------------------- */

/* One listed entry, owned (the fs layer's array only lives during its callback). */
struct lent {
	char *name;
	bool dir, link;
	uint64_t size;
	size_t order;	/* position in byte order: ties keep it (JS sort is stable) */
};

struct lslot {
	struct fop *f;
	size_t idx;
	struct rb_fs_op *op;
	struct rb_path p;
	bool busy;
};

/* Sizes of symbolic links are their targets' (theirs uses stat, which
 * follows): one rb_fs_stat per link, at most FILES_MAX_OPS at once; a
 * broken link, or one leaving the roots, counts 0 as in theirs. */
struct lents {
	struct lent *v;
	size_t n, next_link, out;
	bool by_size;
	struct lslot slots[FILES_MAX_OPS];
};

static void lents_free(struct lents *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	free(l);
}

static int cmp_bytes(const void *a, const void *b)
{
	return strcmp(((const struct lent *)a)->name, ((const struct lent *)b)->name);
}

/* ICU root collation order of printable ASCII (what String.localeCompare
 * uses): punctuation, symbols, digits, then letters with case as a later
 * tie-break. Other bytes sort after, by code point (an approximation). */
static const char icu_ascii[] = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ";

static unsigned icu_primary(unsigned char c, bool *upper)
{
	const char *p;
	*upper = c >= 'A' && c <= 'Z';
	if (*upper)
		c = (unsigned char)(c - 'A' + 'a');
	if (c >= 0x20 && c < 0x7f && (p = strchr(icu_ascii, c)))
		return (unsigned)(p - icu_ascii);
	return 256u + c;
}

static int cmp_locale(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
	int tert = 0;
	bool ua, ub;
	/* Primary strength over the whole strings first, then case (lower first). */
	for (; *x && *y; x++, y++) {
		unsigned pa = icu_primary(*x, &ua), pb = icu_primary(*y, &ub);
		if (pa != pb)
			return pa < pb ? -1 : 1;
		if (!tert && ua != ub)
			tert = ua ? 1 : -1;
	}
	if (*x || *y)
		return *x ? 1 : -1;
	return tert ? tert : strcmp(a, b);
}

static int cmp_name(const void *a, const void *b)
{
	const struct lent *x = a, *y = b;
	int c = cmp_locale(x->name, y->name);
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

static int cmp_size(const void *a, const void *b)
{
	const struct lent *x = a, *y = b;
	if (x->size != y->size)
		return x->size < y->size ? 1 : -1;
	return (x->order > y->order) - (x->order < y->order);
}

static void pad_to(struct rb_sbuf *b, const char *s, size_t width, bool left)
{
	size_t w = rb_js_length(s, strlen(s));
	if (!left)
		rb_sbuf_adds(b, s);
	for (; w < width; w++)
		rb_sbuf_addc(b, ' ');
	if (left)
		rb_sbuf_adds(b, s);
}

static void sizes_format(struct fop *f)
{
	struct lents *l = f->list;
	yyjson_mut_doc *d = rb_call_doc(f->call);
	struct rb_sbuf t = { 0 };
	uint64_t files = 0, dirs = 0, total = 0;
	yyjson_mut_val *st, *arr;
	char sz[32];

	for (size_t i = 0; i < l->n; i++) {
		files += !l->v[i].dir;
		dirs += l->v[i].dir;
		total += l->v[i].dir ? 0 : l->v[i].size;
	}
	qsort(l->v, l->n, sizeof(*l->v), l->by_size ? cmp_size : cmp_name);
	for (size_t i = 0; i < l->n; i++) {
		const struct lent *e = &l->v[i];
		rb_sbuf_adds(&t, e->dir ? "[DIR] " : "[FILE] ");
		pad_to(&t, e->name, 30, false);
		rb_sbuf_addc(&t, ' ');
		if (!e->dir) {
			rb_format_size(e->size, sz);
			pad_to(&t, sz, 10, true);
		}
		rb_sbuf_addc(&t, '\n');
	}
	rb_format_size(total, sz);
	rb_sbuf_addf(&t, "\nTotal: %llu files, %llu directories\nCombined size: %s", (unsigned long long)files,
		     (unsigned long long)dirs, sz);
	st = yyjson_mut_obj(d);
	yyjson_mut_obj_add_uint(d, st, "totalFiles", files);
	yyjson_mut_obj_add_uint(d, st, "totalDirectories", dirs);
	yyjson_mut_obj_add_uint(d, st, "totalSize", total);
	if (t.len <= FILES_INLINE_MAX) {
		arr = yyjson_mut_obj_add_arr(d, st, "entries");
		for (size_t i = 0; i < l->n; i++) {
			yyjson_mut_val *o = yyjson_mut_arr_add_obj(d, arr);
			yyjson_mut_obj_add_strcpy(d, o, "name", l->v[i].name);
			yyjson_mut_obj_add_str(d, o, "type", l->v[i].dir ? "directory" : "file");
			if (!l->v[i].dir)
				yyjson_mut_obj_add_uint(d, o, "size", l->v[i].size);
		}
	}
	if (t.oom)
		fop_fail(f, f->arg, -ENOMEM);
	else
		fop_finish_text(f, t.p ? t.p : "", t.len, st);
	rb_sbuf_free(&t);
}

static void sizes_pump(struct fop *f);

static void link_stat_done(void *ctx, int res, const struct statx *stx)
{
	struct lslot *s = ctx;
	struct lents *l = s->f->list;
	s->busy = false;
	s->op = NULL;
	l->out--;
	l->v[s->idx].size = res == 0 ? stx->stx_size : 0;
	sizes_pump(s->f);
}

static void sizes_pump(struct fop *f)
{
	struct lents *l = f->list;
	size_t k = 0;
	while (!rb_call_cancelled(f->call) && l->out < FILES_MAX_OPS && l->next_link < l->n) {
		size_t i = l->next_link++;
		char rel[PATH_MAX];
		struct lslot *s;
		int r;
		if (!l->v[i].link)
			continue;
		while (l->slots[k].busy)
			k++;
		s = &l->slots[k];
		rb_files_join(rel, sizeof(rel), f->p.abs, l->v[i].name);
		r = rb_fs_resolve(rb_call_fs(f->call), rel, &s->p);
		if (r == 0)
			r = rb_fs_stat(rb_call_fs(f->call), &s->p, 0, rb_call_class(f->call), link_stat_done, s,
				       &s->op);
		if (r < 0)
			continue; /* size stays 0 */
		s->f = f;
		s->idx = i;
		s->busy = true;
		l->out++;
	}
	if (l->out)
		return;
	if (rb_call_cancelled(f->call))
		fop_fail(f, f->arg, -ECANCELED);
	else
		sizes_format(f);
}

static void list_done(struct fop *f, int res, struct rb_dirent *ents, size_t n, bool sizes)
{
	struct lents *l = f->list;
	struct rb_sbuf t = { 0 };

	f->op = NULL;
	if (res < 0) {
		fop_fail(f, f->arg, res);
		return;
	}
	l->v = calloc(n + 1, sizeof(*l->v));
	if (!l->v) {
		fop_fail(f, f->arg, -ENOMEM);
		return;
	}
	for (size_t i = 0; i < n; i++, l->n++) {
		/* isDirectory() of the entry itself: a link to a directory is a file. */
		l->v[i] = (struct lent){ .name = strdup(ents[i].name), .dir = ents[i].type == DT_DIR,
					 .link = ents[i].type == DT_LNK,
					 .size = ents[i].stat_res == 0 ? ents[i].stx.stx_size : 0 };
		if (!l->v[i].name) {
			fop_fail(f, f->arg, -ENOMEM);
			return;
		}
	}
	/* Node's readdir is sorted by bytes (libuv scandir); start from that order. */
	qsort(l->v, l->n, sizeof(*l->v), cmp_bytes);
	for (size_t i = 0; i < l->n; i++)
		l->v[i].order = i;
	if (sizes) {
		sizes_pump(f);
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		rb_sbuf_addf(&t, "%s%s %s", i ? "\n" : "", l->v[i].dir ? "[DIR]" : "[FILE]", l->v[i].name);
	if (t.oom)
		fop_fail(f, f->arg, -ENOMEM);
	else
		fop_finish_text(f, t.p ? t.p : "", t.len, NULL);
	rb_sbuf_free(&t);
}

static void list_plain_done(void *ctx, int res, struct rb_dirent *ents, size_t n)
{
	list_done(ctx, res, ents, n, false);
}

static void list_sizes_done(void *ctx, int res, struct rb_dirent *ents, size_t n)
{
	list_done(ctx, res, ents, n, true);
}

static void list_cancel(struct rb_call *call)
{
	struct fop *f = rb_call_state(call);
	if (!f)
		return;
	if (f->op)
		rb_fs_cancel(f->op);
	for (size_t k = 0; k < FILES_MAX_OPS; k++)
		if (f->list->slots[k].busy)
			rb_fs_cancel(f->list->slots[k].op);
}

static int list_start(struct rb_call *call, bool sizes)
{
	struct fop *f = fop_new(call);
	const char *sort = NULL;
	int r;
	if (!f)
		return -ENOMEM;
	if (!(f->list = calloc(1, sizeof(*f->list))))
		return fop_abort(f, -ENOMEM);
	if ((r = arg_path(call, "path", &f->arg, &f->p)) < 0)
		return fop_abort(f, r);
	if (sizes) {
		if ((r = rb_arg_string(call, "sortBy", false, &sort)) < 0)
			return fop_abort(f, r);
		if (sort && strcmp(sort, "name") && strcmp(sort, "size"))
			return fop_abort(f, rb_call_fail_msg(call, "sortBy: expected \"name\" or \"size\""));
		f->list->by_size = sort && !strcmp(sort, "size");
	}
	r = rb_fs_list_dir(rb_call_fs(call), &f->p, sizes, 0, rb_call_class(call),
			   sizes ? list_sizes_done : list_plain_done, f, &f->op);
	return r < 0 ? fop_start_failed(f, f->arg, r) : 0;
}

static int list_run(struct rb_call *call)
{
	return list_start(call, false);
}

static int list_sizes_run(struct rb_call *call)
{
	return list_start(call, true);
}

/* ---- move_file --------------------------------------------------------------------------- */

static void move_done(void *ctx, int res)
{
	struct fop *f = ctx;
	struct rb_sbuf t = { 0 };

	f->op = NULL;
	if (res == -EEXIST || res == -ENOTEMPTY) {
		struct rb_call *call = f->call;
		const char *dst = f->arg2;
		fop_free(f);
		rb_call_error(call, "%s: destination already exists", dst);
		return;
	}
	if (res < 0) {
		/* ENOENT may come from either side (a missing source or a missing
		 * destination directory): name both. */
		struct rb_call *call = f->call;
		rb_sbuf_addf(&t, "%s -> %s: %s", f->arg, f->arg2, rb_strerror(res));
		fop_free(f);
		rb_call_error(call, "%s", t.p ? t.p : "move failed");
		rb_sbuf_free(&t);
		return;
	}
	rb_sbuf_addf(&t, "Successfully moved %s to %s", f->arg, f->arg2);
	fop_finish_text(f, t.p ? t.p : "", t.len, NULL);
	rb_sbuf_free(&t);
}

static int move_run(struct rb_call *call)
{
	struct fop *f = fop_new(call);
	int r;
	if (!f)
		return -ENOMEM;
	if ((r = arg_path(call, "source", &f->arg, &f->p)) < 0 ||
	    (r = arg_path(call, "destination", &f->arg2, &f->p2)) < 0)
		return fop_abort(f, r);
	r = rb_fs_rename(rb_call_fs(call), &f->p, &f->p2, true, rb_call_class(call), move_done, f, &f->op);
	return r < 0 ? fop_start_failed(f, f->arg, r) : 0;
}

/* ---- get_file_info ------------------------------------------------------------------------- */

/* JavaScript's Date.prototype.toString() in local time, e.g.
 * "Fri Nov 27 2026 09:20:41 GMT+0000 (Coordinated Universal Time)". ICU's
 * long zone names are not available here: UTC gets its long name, other
 * zones their abbreviation. */
static void js_date(char *out, size_t cap, int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char base[64];
	long off;
	localtime_r(&t, &tm);
	strftime(base, sizeof(base), "%a %b %d %Y %H:%M:%S", &tm);
	off = tm.tm_gmtoff / 60;
	snprintf(out, cap, "%s GMT%c%02ld%02ld (%s)", base, off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60,
		 off == 0 && (!tm.tm_zone || !strcmp(tm.tm_zone, "UTC") || !strcmp(tm.tm_zone, "GMT"))
			 ? "Coordinated Universal Time"
			 : tm.tm_zone);
}

/* JSON's Date form, "2026-11-27T09:20:41.123Z". */
static void iso_date(char *out, size_t cap, const struct statx_timestamp *ts)
{
	time_t t = (time_t)ts->tv_sec;
	struct tm tm;
	char base[40];
	gmtime_r(&t, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, cap, "%s.%03uZ", base, ts->tv_nsec / 1000000u);
}

static void info_done(void *ctx, int res, const struct statx *stx)
{
	struct fop *f = ctx;
	yyjson_mut_doc *d = rb_call_doc(f->call);
	yyjson_mut_val *st;
	struct statx_timestamp zero = { 0 };
	const struct statx_timestamp *ts[3];
	static const char *const keys[3] = { "created", "modified", "accessed" };
	char js[3][128], iso[3][48], text[768], perm[8];
	bool dir, reg;
	int n;

	f->op = NULL;
	if (res < 0) {
		fop_fail(f, f->arg, res);
		return;
	}
	/* Node reports birthtime as the epoch when the filesystem has none. */
	ts[0] = stx->stx_mask & STATX_BTIME ? &stx->stx_btime : &zero;
	ts[1] = &stx->stx_mtime;
	ts[2] = &stx->stx_atime;
	for (int i = 0; i < 3; i++) {
		js_date(js[i], sizeof(js[i]), ts[i]->tv_sec);
		iso_date(iso[i], sizeof(iso[i]), ts[i]);
	}
	dir = S_ISDIR(stx->stx_mode);
	reg = S_ISREG(stx->stx_mode);
	snprintf(perm, sizeof(perm), "%03o", stx->stx_mode & 0777);
	n = snprintf(text, sizeof(text),
		     "size: %llu\ncreated: %s\nmodified: %s\naccessed: %s\nisDirectory: %s\nisFile: %s\npermissions: %s",
		     (unsigned long long)stx->stx_size, js[0], js[1], js[2], dir ? "true" : "false",
		     reg ? "true" : "false", perm);
	st = yyjson_mut_obj(d);
	yyjson_mut_obj_add_uint(d, st, "size", stx->stx_size);
	for (int i = 0; i < 3; i++)
		yyjson_mut_obj_add_strcpy(d, st, keys[i], iso[i]);
	yyjson_mut_obj_add_bool(d, st, "isDirectory", dir);
	yyjson_mut_obj_add_bool(d, st, "isFile", reg);
	yyjson_mut_obj_add_strcpy(d, st, "permissions", perm);
	fop_finish_text(f, text, (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1, st);
}

static int info_run(struct rb_call *call)
{
	struct fop *f = fop_new(call);
	int r;
	if (!f)
		return -ENOMEM;
	if ((r = arg_path(call, "path", &f->arg, &f->p)) < 0)
		return fop_abort(f, r);
	r = rb_fs_stat(rb_call_fs(call), &f->p, 0, rb_call_class(call), info_done, f, &f->op);
	return r < 0 ? fop_start_failed(f, f->arg, r) : 0;
}

/* ---- the table ------------------------------------------------------------------------------ */

#define SCHEMA_HEAD "{\"type\":\"object\",\"additionalProperties\":false,"
#define PATH_PROP(desc) "\"path\":{\"type\":\"string\",\"description\":\"" desc "\"}"
#define ONLY_PATH(desc) SCHEMA_HEAD "\"properties\":{" PATH_PROP(desc) "},\"required\":[\"path\"]}"

static const char read_text_schema[] = SCHEMA_HEAD
	"\"properties\":{" PATH_PROP("File to read: absolute, or relative to the first allowed directory.") ","
	"\"head\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"If provided, returns only the first N lines of the file\"},"
	"\"tail\":{\"type\":\"integer\",\"minimum\":0,\"description\":\"If provided, returns only the last N lines of the file\"}},"
	"\"required\":[\"path\"]}";

static const char read_text_output[] = "{\"type\":\"object\",\"properties\":{"
	"\"size\":{\"type\":\"integer\",\"description\":\"Bytes of the whole file on disk\"},"
	"\"version\":{\"type\":\"string\",\"description\":\"SHA-256 (lowercase hex) of the whole file's bytes, "
	"whatever head or tail returned; pass it to write_file or edit_file as expectedVersion. Present for "
	"files up to 8 MiB that are within the server's --max-file-bytes; absent for larger files (their head "
	"or tail is read without reading the whole file)\"}},\"required\":[\"size\"]}";

#define VERSION_OUTPUT "{\"type\":\"object\",\"properties\":{\"version\":{\"type\":\"string\"," \
	"\"description\":\"SHA-256 (lowercase hex) of the file's content after the call\"}},\"required\":[\"version\"]}"

#define EXPECTED_VERSION_PROP(what) "\"expectedVersion\":{\"type\":\"string\"," \
	"\"description\":\"Optional: the version (SHA-256 hex of the content, as read_text_file returns it in " \
	"structuredContent.version) " what ". If the file's current content has another version, " \
	"or the file no longer exists, nothing is written and the call fails with a version conflict.\"}"

static const char read_text_desc[] =
	"Read the complete contents of a file as UTF-8 text (invalid bytes show as U+FFFD). "
	"Use 'head' to get only the first N lines or 'tail' for only the last N lines (not both). "
	"Works on any file regardless of extension; a result is limited to about 8 MiB of text, and a file "
	"over the server's --max-file-bytes (64 MiB by default) is not read whole, so read larger files in "
	"parts with head or tail (on a file over 8 MiB they read only the part they need). Only works within "
	"allowed directories. structuredContent gives the file's size and version (SHA-256 of its bytes; not "
	"given for files over 8 MiB or over --max-file-bytes), which write_file and edit_file take as "
	"expectedVersion to refuse overwriting changes made since this read.";

static const struct rb_tool rb_tool_read_text_file = {
	.name = "read_text_file",
	.title = "Read Text File",
	.description = read_text_desc,
	.input_schema = read_text_schema,
	.output_schema = read_text_output,
	.read_only = true,
	.idempotent = true,
	.run = read_text_run,
	.cancel = fop_cancel,
};

static const struct rb_tool rb_tool_read_file = {
	.name = "read_file",
	.title = "Read File (Deprecated)",
	.description = "Read the complete contents of a file as text. DEPRECATED: use read_text_file, "
		       "which this is an alias of (same parameters and result).",
	.input_schema = read_text_schema,
	.output_schema = read_text_output,
	.read_only = true,
	.idempotent = true,
	.run = read_text_run,
	.cancel = fop_cancel,
};

static const struct rb_tool rb_tool_read_media_file = {
	.name = "read_media_file",
	.title = "Read Media File",
	.description = "Read an image or audio file and return it base64-encoded with its MIME type "
		       "(chosen by extension: png, jpg/jpeg, gif, webp, bmp, svg, mp3, wav, ogg, flac). "
		       "Other files come back as an embedded blob resource (application/octet-stream). "
		       "Files up to 6 MiB. Only works within allowed directories.",
	.input_schema = ONLY_PATH("Media file to read."),
	.read_only = true,
	.idempotent = true,
	.run = read_media_run,
	.cancel = fop_cancel,
};

static const struct rb_tool rb_tool_write_file = {
	.name = "write_file",
	.title = "Write File",
	.description = "Create a new file or completely overwrite an existing file with new content. "
		       "Use with caution: an existing file is replaced without warning. The write is atomic "
		       "(a temporary file is written, synced and renamed over the target), so readers see the "
		       "old or the new content, never a mix; the file's permissions, owner, group and extended "
		       "attributes are kept (the result says so when they could not be, or when the file had "
		       "other hard links, which keep the old content). A file without any write permission bit "
		       "(e.g. chmod a-w) is refused. The parent "
		       "directory must exist. Only works within allowed directories. The write holds the file's "
		       "lock (shared with edit_file, memory_bank_update and other ringbank processes); give "
		       "expectedVersion (from read_text_file) to fail with a version conflict instead of "
		       "overwriting changes made since that read. structuredContent.version is the new content's "
		       "version.",
	.input_schema = SCHEMA_HEAD "\"properties\":{" PATH_PROP("File to create or overwrite.") ","
		"\"content\":{\"type\":\"string\",\"description\":\"The complete new content (UTF-8 text).\"},"
		EXPECTED_VERSION_PROP("the new content was based on") "},"
		"\"required\":[\"path\",\"content\"]}",
	.output_schema = VERSION_OUTPUT,
	.destructive = true,
	.idempotent = true,
	.run = write_run,
	.cancel = wr_cancel,
};

static const struct rb_tool rb_tool_edit_file = {
	.name = "edit_file",
	.title = "Edit File",
	.description = "Make line-based edits to a text file. Each edit replaces the first occurrence of oldText "
		       "with newText, applied in order; when oldText does not occur exactly, a run of lines "
		       "equal to it up to leading/trailing whitespace is replaced, keeping the file's "
		       "indentation. Returns a git-style unified diff of the change in a ```diff block. "
		       "With dryRun the diff is returned and nothing is written. The write is atomic (permissions, "
		       "owner and extended attributes kept; a file without any write permission bit is refused) and holds "
		       "the file's lock (shared with write_file, memory_bank_update and other ringbank "
		       "processes); give expectedVersion (from read_text_file) to fail with a version conflict "
		       "if the file changed since that read. structuredContent.version is the file's version "
		       "after the call. Only works within allowed directories.",
	.input_schema = SCHEMA_HEAD "\"properties\":{" PATH_PROP("Text file to edit.") ","
		"\"edits\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"additionalProperties\":false,"
		"\"properties\":{\"oldText\":{\"type\":\"string\",\"description\":\"Text to search for - must match exactly\"},"
		"\"newText\":{\"type\":\"string\",\"description\":\"Text to replace with\"}},"
		"\"required\":[\"oldText\",\"newText\"]}},"
		"\"dryRun\":{\"type\":\"boolean\",\"default\":false,\"description\":\"Preview changes using git-style diff format\"},"
		EXPECTED_VERSION_PROP("the edits were based on") "},"
		"\"required\":[\"path\",\"edits\"]}",
	.output_schema = VERSION_OUTPUT,
	.destructive = true,
	.run = edit_run,
	.cancel = wr_cancel,
};

static const struct rb_tool rb_tool_create_directory = {
	.name = "create_directory",
	.title = "Create Directory",
	.description = "Create a directory, with any missing parents, or make sure it exists: an existing "
		       "directory is not an error. Fails if the path is an existing file. "
		       "Only works within allowed directories.",
	.input_schema = ONLY_PATH("Directory to create."),
	.idempotent = true,
	.run = mkdir_run,
	.cancel = fop_cancel,
};

static const struct rb_tool rb_tool_list_directory = {
	.name = "list_directory",
	.title = "List Directory",
	.description = "List the files and directories directly inside a directory, one per line, each "
		       "prefixed with [FILE] or [DIR] (symbolic links show as [FILE]), in byte order of the names. "
		       "Only works within allowed directories.",
	.input_schema = ONLY_PATH("Directory to list."),
	.read_only = true,
	.idempotent = true,
	.run = list_run,
	.cancel = list_cancel,
};

static const struct rb_tool rb_tool_list_directory_with_sizes = {
	.name = "list_directory_with_sizes",
	.title = "List Directory with Sizes",
	.description = "List the files and directories directly inside a directory with [FILE]/[DIR] prefixes "
		       "and file sizes, sorted by name or by size (largest first), followed by the totals "
		       "(number of files, directories, combined size of the files). "
		       "Only works within allowed directories.",
	.input_schema = SCHEMA_HEAD "\"properties\":{" PATH_PROP("Directory to list.") ","
		"\"sortBy\":{\"type\":\"string\",\"enum\":[\"name\",\"size\"],\"default\":\"name\","
		"\"description\":\"Sort entries by name or size\"}},\"required\":[\"path\"]}",
	.output_schema = "{\"type\":\"object\",\"properties\":{"
		"\"totalFiles\":{\"type\":\"integer\"},\"totalDirectories\":{\"type\":\"integer\"},"
		"\"totalSize\":{\"type\":\"integer\",\"description\":\"Bytes in the files listed\"},"
		"\"entries\":{\"type\":\"array\",\"description\":\"Present when the listing is small (text up to 64 KiB)\","
		"\"items\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
		"\"type\":{\"type\":\"string\",\"enum\":[\"file\",\"directory\"]},\"size\":{\"type\":\"integer\"}},"
		"\"required\":[\"name\",\"type\"]}}},"
		"\"required\":[\"totalFiles\",\"totalDirectories\",\"totalSize\"]}",
	.read_only = true,
	.idempotent = true,
	.run = list_sizes_run,
	.cancel = list_cancel,
};

static const struct rb_tool rb_tool_move_file = {
	.name = "move_file",
	.title = "Move File",
	.description = "Move or rename a file or directory, within a directory or across directories, in one "
		       "atomic rename. Fails if the destination already exists (nothing is overwritten). "
		       "Both source and destination must be within allowed directories.",
	.input_schema = SCHEMA_HEAD "\"properties\":{"
		"\"source\":{\"type\":\"string\",\"description\":\"Existing file or directory.\"},"
		"\"destination\":{\"type\":\"string\",\"description\":\"New path; must not exist yet.\"}},"
		"\"required\":[\"source\",\"destination\"]}",
	.destructive = true,
	.run = move_run,
	.cancel = fop_cancel,
};

static const struct rb_tool rb_tool_get_file_info = {
	.name = "get_file_info",
	.title = "Get File Info",
	.description = "Get a file's or directory's metadata without reading it: size in bytes, creation, "
		       "modification and access times, whether it is a directory or a regular file, and its "
		       "permission bits (octal, e.g. 644). Symbolic links are followed. "
		       "Only works within allowed directories.",
	.input_schema = ONLY_PATH("File or directory to describe."),
	.output_schema = "{\"type\":\"object\",\"properties\":{\"size\":{\"type\":\"integer\"},"
		"\"created\":{\"type\":\"string\",\"description\":\"ISO 8601 (UTC)\"},"
		"\"modified\":{\"type\":\"string\",\"description\":\"ISO 8601 (UTC)\"},"
		"\"accessed\":{\"type\":\"string\",\"description\":\"ISO 8601 (UTC)\"},"
		"\"isDirectory\":{\"type\":\"boolean\"},\"isFile\":{\"type\":\"boolean\"},"
		"\"permissions\":{\"type\":\"string\",\"description\":\"Three octal digits\"}},"
		"\"required\":[\"size\",\"created\",\"modified\",\"accessed\",\"isDirectory\",\"isFile\",\"permissions\"]}",
	.read_only = true,
	.idempotent = true,
	.run = info_run,
	.cancel = fop_cancel,
};

const struct rb_tool *const rb_tools_files[] = {
	&rb_tool_read_text_file,
	&rb_tool_read_file,
	&rb_tool_read_media_file,
	&rb_tool_read_multiple_files,
	&rb_tool_write_file,
	&rb_tool_edit_file,
	&rb_tool_create_directory,
	&rb_tool_list_directory,
	&rb_tool_list_directory_with_sizes,
	&rb_tool_directory_tree,
	&rb_tool_move_file,
	&rb_tool_search_files,
	&rb_tool_get_file_info,
	NULL,
};
