/* files_bulk.c: the bulk file tools: read_multiple_files, directory_tree and
 * search_files. They run under the bulk cap class (the fs layer takes a
 * permit per operation), keep at most FILES_MAX_OPS of their own operations
 * outstanding so memory stays bounded however many paths or files there are,
 * report progress, and honour cancellation: cancel() cancels what is in
 * flight and the call finishes once every callback has come back.
 *
 * Output order never depends on completion order: read_multiple_files
 * answers in the order of its paths, directory_tree sorts each directory's
 * children by bytes (what Node's readdir gives the official server), and
 * search_files sorts its matches the way the official server's depth-first
 * walk of sorted directories lists them. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "files.h"
#include "glob.h"
#include "jsonout.h"
#include "text.h"

#define RMF_MAX_PATHS 100000
#define RMF_WINDOW 1024		/* paths started ahead of the first unfinished one */
#define TREE_MAX_ENTRIES 100000
#define SEARCH_MAX_MATCHES 10000
#define PROGRESS_EVERY 1024

/* ==== read_multiple_files ======================================================== */

struct rmf_file {
	char *data;
	size_t len;
	size_t cost;	/* JSON bytes of this file's section */
	size_t esc;	/* JSON bytes of the content alone (exact) */
	int err;
	bool done;
};

struct rmf;
struct rmf_slot {
	struct rmf *m;
	size_t idx;
	struct rb_fs_op *op;
	struct rb_path p;
	bool busy;
};

struct rmf {
	struct rb_call *call;
	size_t n, next, prefix, cut, done, outstanding;
	size_t prefix_bytes, held_bytes;
	const char **names;
	struct rmf_file *files;
	struct rmf_slot slots[FILES_MAX_OPS];
	bool cancelled, finishing;
};

static void rmf_free(struct rmf *m)
{
	rb_call_set_state(m->call, NULL);
	for (size_t i = 0; i < m->n; i++)
		free(m->files[i].data);
	free(m->files);
	free(m->names);
	free(m);
}

/* Section cost in the reply: "<path>:\n<content>\n" or "<path>: Error - <msg>",
 * plus the "\n---\n" separator. Invalid UTF-8 may triple when repaired.
 * The content's exact escaped length is kept for rmf_finish. */
static size_t rmf_cost(struct rmf *m, size_t i)
{
	struct rmf_file *f = &m->files[i];
	size_t c = rb_json_str_len(m->names[i], strlen(m->names[i])) + 16;
	bool valid;
	if (f->err)
		return c + 96;
	f->esc = rb_json_esc_len(f->data, f->len, &valid);
	return valid ? c + f->esc : c + 3 * f->len;
}

/* The reply's text, counted (p NULL: n grows) or escaped into p. */
struct rmf_out {
	char *p;
	size_t n;
};

static void out_text(struct rmf_out *o, const char *s, size_t len)
{
	if (o->p)
		o->p = rb_json_esc(o->p, s, len);
	else
		o->n += rb_json_esc_len(s, len, NULL);
}

static void out_str(struct rmf_out *o, const char *s)
{
	out_text(o, s, strlen(s));
}

/* The text the official server prints: each file's section in the order of
 * the paths, then the note on omitted files. Run twice by rmf_finish, to
 * count and to write, so the two cannot disagree. */
static void rmf_emit(const struct rmf *m, struct rmf_out *o)
{
	char note[256];

	for (size_t i = 0; i < m->cut; i++) {
		const struct rmf_file *f = &m->files[i];
		if (i)
			out_str(o, "\n---\n");
		out_str(o, m->names[i]);
		if (f->err == -RB_E_TOO_LARGE) {
			out_str(o, ": Error - too large for read_multiple_files (about 8 MiB per reply); "
				   "read it with read_text_file and head or tail");
		} else if (f->err) {
			out_str(o, ": Error - ");
			out_str(o, rb_strerror(f->err));
		} else {
			out_str(o, ":\n");
			if (o->p)
				o->p = rb_json_esc(o->p, f->data, f->len);
			else
				o->n += f->esc;
			out_str(o, "\n");
		}
	}
	if (m->cut < m->n) {
		size_t shown = m->n - m->cut < 50 ? m->n - m->cut : 50;
		snprintf(note, sizeof(note), "%s[read_multiple_files: the result reached its size limit (about 8 MiB); "
			 "%zu of %zu files omitted - request them separately: ", m->cut ? "\n---\n" : "",
			 m->n - m->cut, m->n);
		out_str(o, note);
		for (size_t i = 0; i < shown; i++) {
			if (i)
				out_str(o, ", ");
			out_str(o, m->names[m->cut + i]);
		}
		if (shown < m->n - m->cut) {
			snprintf(note, sizeof(note), " and %zu more", m->n - m->cut - shown);
			out_str(o, note);
		}
		out_str(o, "]");
	}
}

/* [{type: "text", text}] around a text value made by rb_json_str_end. */
static yyjson_mut_val *text_block(yyjson_mut_doc *d, yyjson_mut_val *text)
{
	yyjson_mut_val *arr = yyjson_mut_arr(d), *b = yyjson_mut_obj(d);

	if (!arr || !b || !text || !yyjson_mut_obj_add_str(d, b, "type", "text") ||
	    !yyjson_mut_obj_add_val(d, b, "text", text) || !yyjson_mut_arr_append(arr, b))
		return NULL;
	return arr;
}

/* The result's text is never assembled in plain form: it is counted, then
 * escaped section by section from the files' buffers straight into the
 * call's document (jsonout.h). Concatenating it, checking and repairing its
 * UTF-8, copying it into the document and letting the writer escape it
 * again was most of the CPU of a large read. The bytes the client receives
 * are the same. */
static void rmf_finish(struct rmf *m)
{
	struct rb_call *call = m->call;
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *content = NULL;
	struct rmf_out o = { 0 };
	struct rb_json_str js;

	if (m->cancelled) {
		rmf_free(m);
		rb_call_error(call, "read_multiple_files: cancelled");
		return;
	}
	rmf_emit(m, &o);
	o.p = rb_json_str_begin(d, &js, o.n);
	if (o.p) {
		rmf_emit(m, &o);
		content = text_block(d, rb_json_str_end(d, &js, o.p));
	}
	rmf_free(m);
	if (!content)
		rb_call_error(call, "read_multiple_files: out of memory building the result");
	else
		rb_call_finish(call, content, NULL);
}

/* Moves the in-order prefix over finished files; past the budget, cuts. */
static void rmf_advance(struct rmf *m)
{
	while (m->prefix < m->n && m->files[m->prefix].done) {
		struct rmf_file *f = &m->files[m->prefix];
		m->held_bytes -= f->cost;
		if (m->cut == m->n && m->prefix_bytes + f->cost > FILES_REPLY_MAX) {
			/* Everything from here on is omitted: stop reading. */
			m->cut = m->prefix;
			for (size_t k = 0; k < FILES_MAX_OPS; k++)
				if (m->slots[k].busy)
					rb_fs_cancel(m->slots[k].op);
		}
		if (m->cut < m->n) {
			free(f->data);
			f->data = NULL;
		} else {
			m->prefix_bytes += f->cost;
		}
		m->prefix++;
	}
}

static void rmf_file_done(struct rmf *m, size_t i, int err, struct rb_fs_file *file)
{
	struct rmf_file *f = &m->files[i];
	f->done = true;
	f->err = err < 0 ? err : 0;
	if (!f->err) {
		f->data = file->data; /* already fitted to the data by the reader (src/fs/read.c) */
		f->len = file->len;
		file->data = NULL; /* ours now */
	}
	f->cost = rmf_cost(m, i);
	m->held_bytes += f->cost;
	m->done++;
}

static void rmf_pump(struct rmf *m);

static void rmf_read_done(void *ctx, int res, struct rb_fs_file *file)
{
	struct rmf_slot *s = ctx;
	struct rmf *m = s->m;

	s->busy = false;
	s->op = NULL;
	m->outstanding--;
	rmf_file_done(m, s->idx, res, file);
	rb_call_progress(m->call, m->done, m->n, NULL);
	rmf_advance(m);
	rmf_pump(m);
}

static void rmf_pump(struct rmf *m)
{
	struct rb_fs *fs = rb_call_fs(m->call);
	size_t k = 0;

	if (m->finishing)
		return;
	while (!m->cancelled && m->cut == m->n && m->outstanding < FILES_MAX_OPS && m->next < m->n &&
	       m->next < m->prefix + RMF_WINDOW && m->prefix_bytes + m->held_bytes <= FILES_REPLY_MAX) {
		size_t i = m->next++;
		struct rmf_slot *s;
		int r;
		while (m->slots[k].busy)
			k++;
		s = &m->slots[k];
		r = rb_fs_resolve(fs, m->names[i], &s->p);
		if (r >= 0) {
			/* A file that alone exceeds the reply can never be returned. */
			r = rb_fs_read_file(fs, &s->p, 0, FILES_REPLY_MAX, rb_call_class(m->call), rmf_read_done, s,
					    &s->op);
		}
		if (r < 0) {
			rmf_file_done(m, i, r, NULL);
			rmf_advance(m);
			continue;
		}
		s->busy = true;
		s->idx = i;
		m->outstanding++;
	}
	if (m->outstanding == 0 && (m->cancelled || m->next == m->n || m->cut < m->n)) {
		m->finishing = true;
		rb_call_progress(m->call, m->done, m->n, NULL); /* the final count, even if no read ended last */
		if (m->cut == m->n)
			m->cut = m->prefix; /* == n unless cancelled */
		rmf_finish(m);
	}
}

static int rmf_run(struct rb_call *call)
{
	yyjson_val *paths = yyjson_obj_get(rb_call_args(call), "paths"), *v;
	struct rmf *m;
	size_t i, max;

	if (!yyjson_is_arr(paths))
		return rb_call_fail_msg(call, "paths: expected an array of strings");
	if (yyjson_arr_size(paths) == 0)
		return rb_call_fail_msg(call, "paths: at least one file path must be provided");
	if (yyjson_arr_size(paths) > RMF_MAX_PATHS)
		return rb_call_fail_msg(call, "paths: at most %d paths per call", RMF_MAX_PATHS);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->call = call;
	m->n = m->cut = yyjson_arr_size(paths);
	m->names = calloc(m->n, sizeof(*m->names));
	m->files = calloc(m->n, sizeof(*m->files));
	if (!m->names || !m->files) {
		free(m->names);
		free(m->files);
		free(m);
		return -ENOMEM;
	}
	rb_call_set_state(call, m);
	yyjson_arr_foreach(paths, i, max, v) {
		if (!yyjson_is_str(v)) {
			m->n = 0;
			rmf_free(m);
			return rb_call_fail_msg(call, "paths[%zu]: expected a string", i);
		}
		if (strlen(yyjson_get_str(v)) != yyjson_get_len(v)) { /* "\u0000": issue 8 */
			m->n = 0;
			rmf_free(m);
			return rb_call_fail_msg(call, "paths[%zu]: a path cannot contain a NUL byte", i);
		}
		m->names[i] = yyjson_get_str(v);
	}
	for (i = 0; i < FILES_MAX_OPS; i++)
		m->slots[i].m = m;
	rmf_pump(m);
	return 0;
}

static void rmf_cancel(struct rb_call *call)
{
	struct rmf *m = rb_call_state(call);
	if (!m)
		return;
	m->cancelled = true;
	for (size_t k = 0; k < FILES_MAX_OPS; k++)
		if (m->slots[k].busy)
			rb_fs_cancel(m->slots[k].op);
}

const struct rb_tool rb_tool_read_multiple_files = {
	.name = "read_multiple_files",
	.title = "Read Multiple Files",
	.description = "Read many files at once, concurrently: faster than reading them one by one when you need "
		       "to analyze or compare several files. Each file's content comes back under its path "
		       "(\"path:\" then the content, sections separated by \"---\"); a file that cannot be read "
		       "shows \"path: Error - cause\" in its place without failing the others. Up to 100000 "
		       "paths; the result is limited to about 8 MiB, and files beyond it are listed as "
		       "omitted, to be requested separately. Only works within allowed directories.",
	.input_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
		"\"paths\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"type\":\"string\"},"
		"\"description\":\"Array of file paths to read. Each path must be a string pointing to a valid "
		"file within allowed directories.\"}},\"required\":[\"paths\"]}",
	.read_only = true,
	.idempotent = true,
	.bulk = true,
	.run = rmf_run,
	.cancel = rmf_cancel,
};

/* ==== walks: shared by directory_tree and search_files ================================ */

struct excl {
	struct rb_glob **g;
	size_t n;
};

static void excl_free(struct excl *x)
{
	for (size_t i = 0; i < x->n; i++)
		rb_glob_free(x->g[i]);
	free(x->g);
	*x = (struct excl){ 0 };
}

static int excl_add(struct excl *x, const char *pat)
{
	struct rb_glob **ng = realloc(x->g, (x->n + 1) * sizeof(*ng));
	int r;
	if (!ng)
		return -ENOMEM;
	x->g = ng;
	r = rb_glob_new(pat, &x->g[x->n]);
	if (r == 0)
		x->n++;
	return r;
}

/* excludePatterns. For directory_tree (`loose`), a pattern without '*' also
 * matches as a name anywhere and as a directory's contents, as theirs does. */
static int excl_init(struct rb_call *call, struct excl *x, bool loose)
{
	yyjson_val *arr, *v;
	size_t i, max, n;
	int r = rb_files_arg_strv(call, "excludePatterns", &arr, &n);
	if (r < 0)
		return r;
	yyjson_arr_foreach(arr, i, max, v) {
		const char *p = yyjson_get_str(v);
		char *a = NULL, *b = NULL;
		r = excl_add(x, p);
		if (r == 0 && loose && !strchr(p, '*')) {
			if (asprintf(&a, "**/%s", p) < 0 || asprintf(&b, "**/%s/**", p) < 0)
				r = -ENOMEM;
			else if ((r = excl_add(x, a)) == 0)
				r = excl_add(x, b);
		}
		free(a);
		free(b);
		if (r < 0) {
			excl_free(x);
			return r == -E2BIG ? rb_call_fail_msg(call, "excludePatterns[%zu]: too many brace "
							      "alternatives", i)
					   : r;
		}
	}
	return 0;
}

static bool excl_match(const struct excl *x, const char *rel)
{
	for (size_t i = 0; i < x->n; i++)
		if (rb_glob_match(x->g[i], rel))
			return true;
	return false;
}

/* A name as valid UTF-8 (file names are bytes; JSON needs UTF-8). */
static char *name_dup(const char *s)
{
	struct rb_sbuf b = { 0 };
	size_t len = strlen(s);
	if (rb_utf8_valid(s, len))
		return strdup(s);
	rb_utf8_repair(&b, s, len);
	if (b.oom) {
		rb_sbuf_free(&b);
		return NULL;
	}
	return b.p;
}

/* ==== directory_tree ================================================================ */

struct tnode {
	char *name;
	bool dir;
	bool complete; /* a directory the walk read to the end */
	struct tnode **kids;
	size_t nkids, cap;
};

struct tmap_ent {
	char *rel;
	struct tnode *node;
};

struct tree {
	struct rb_call *call;
	struct rb_fs_op *op;
	const char *arg;
	struct rb_path p;
	struct excl ex;
	struct tnode root;
	struct tmap_ent *map;	/* open addressing: directory rel -> node */
	size_t map_cap, map_n;
	uint64_t entries, dirs, files, unreadable;
	bool truncated, oom;
	struct rb_sbuf notes;
};

static uint64_t fnv(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static struct tnode *tmap_get(const struct tree *t, const char *rel, size_t len)
{
	if (!t->map_cap)
		return NULL;
	for (size_t i = fnv(rel, len) & (t->map_cap - 1);; i = (i + 1) & (t->map_cap - 1)) {
		if (!t->map[i].rel)
			return NULL;
		if (!strncmp(t->map[i].rel, rel, len) && !t->map[i].rel[len])
			return t->map[i].node;
	}
}

static int tmap_put(struct tree *t, const char *rel, struct tnode *node)
{
	if ((t->map_n + 1) * 2 > t->map_cap) {
		size_t nc = t->map_cap ? t->map_cap * 2 : 256;
		struct tmap_ent *nm = calloc(nc, sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		for (size_t k = 0; k < t->map_cap; k++) {
			if (!t->map[k].rel)
				continue;
			size_t i = fnv(t->map[k].rel, strlen(t->map[k].rel)) & (nc - 1);
			while (nm[i].rel)
				i = (i + 1) & (nc - 1);
			nm[i] = t->map[k];
		}
		free(t->map);
		t->map = nm;
		t->map_cap = nc;
	}
	size_t i = fnv(rel, strlen(rel)) & (t->map_cap - 1);
	while (t->map[i].rel)
		i = (i + 1) & (t->map_cap - 1);
	if (!(t->map[i].rel = strdup(rel)))
		return -ENOMEM;
	t->map[i].node = node;
	t->map_n++;
	return 0;
}

static void tnode_free(struct tnode *n)
{
	for (size_t i = 0; i < n->nkids; i++) {
		tnode_free(n->kids[i]);
		free(n->kids[i]);
	}
	free(n->kids);
	free(n->name);
}

static void tree_free(struct tree *t)
{
	rb_call_set_state(t->call, NULL);
	tnode_free(&t->root);
	for (size_t i = 0; i < t->map_cap; i++)
		free(t->map[i].rel);
	free(t->map);
	excl_free(&t->ex);
	rb_sbuf_free(&t->notes);
	free(t);
}

static int tree_entry(void *ctx, const struct rb_walk_entry *e)
{
	struct tree *t = ctx;
	const char *slash = strrchr(e->rel, '/');
	struct tnode *parent, *n;
	bool dir = e->type == DT_DIR;

	if (excl_match(&t->ex, e->rel))
		return dir ? 1 : 0;
	if (dir && e->err && tmap_get(t, e->rel, strlen(e->rel))) {
		/* Listed already, then it failed to open or read: its
		 * children stop here, and it is said after the tree. */
		if (t->unreadable++ < 20)
			rb_sbuf_addf(&t->notes, "\n%s: %s", e->rel, rb_strerror(e->err));
		return 0;
	}
	if (t->entries >= TREE_MAX_ENTRIES) {
		t->truncated = true;
		return -RB_E_LIMIT;
	}
	parent = slash ? tmap_get(t, e->rel, (size_t)(slash - e->rel)) : &t->root;
	if (!parent)
		return dir ? 1 : 0; /* its directory was skipped */
	if (parent->nkids == parent->cap) {
		size_t nc = parent->cap ? parent->cap * 2 : 8;
		struct tnode **nk = realloc(parent->kids, nc * sizeof(*nk));
		if (!nk)
			goto oom;
		parent->kids = nk;
		parent->cap = nc;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = name_dup(e->name))) {
		free(n);
		goto oom;
	}
	n->dir = dir;
	parent->kids[parent->nkids++] = n;
	t->entries++;
	if (dir) {
		t->dirs++;
		if (tmap_put(t, e->rel, n) < 0)
			goto oom;
		if (e->err) {
			/* Listed with no children, and said so after the tree. */
			if (t->unreadable++ < 20)
				rb_sbuf_addf(&t->notes, "\n%s: %s", e->rel, rb_strerror(e->err));
		}
	} else {
		t->files++;
	}
	if (t->entries % PROGRESS_EVERY == 0)
		rb_call_progress(t->call, t->entries, 0, NULL);
	return 0;
oom:
	t->oom = true;
	return -ENOMEM;
}

static void tree_dir_done(void *ctx, const char *rel)
{
	struct tree *t = ctx;
	struct tnode *n = strcmp(rel, ".") ? tmap_get(t, rel, strlen(rel)) : &t->root;
	if (n)
		n->complete = true;
}

static int cmp_tnode(const void *a, const void *b)
{
	return strcmp((*(struct tnode *const *)a)->name, (*(struct tnode *const *)b)->name);
}

/* truncated: the entry cap stopped the walk; the directories it had not
 * read to the end say so ("truncated": true; their children are the ones
 * seen), so an unread directory does not pass for an empty one. budget:
 * entries still to print (in the printed order); a directory whose
 * entries it cut says so too, and *cut tells the caller. */
static yyjson_mut_val *tree_json(yyjson_mut_doc *d, struct tnode *n, bool truncated, uint64_t *budget, bool *cut)
{
	yyjson_mut_val *arr = yyjson_mut_arr(d);
	if (n->nkids > 1) /* qsort(NULL, 0) is undefined */
		qsort(n->kids, n->nkids, sizeof(*n->kids), cmp_tnode);
	for (size_t i = 0; i < n->nkids && arr; i++) {
		struct tnode *k = n->kids[i];
		yyjson_mut_val *o;
		if (!*budget) {
			*cut = true;
			break;
		}
		--*budget;
		if (!(o = yyjson_mut_arr_add_obj(d, arr)))
			return NULL;
		/* Copied: the nodes are freed before the reply is written. */
		yyjson_mut_obj_add_strcpy(d, o, "name", k->name);
		yyjson_mut_obj_add_str(d, o, "type", k->dir ? "directory" : "file");
		if (k->dir) {
			bool kcut = false;
			yyjson_mut_val *c = tree_json(d, k, truncated, budget, &kcut);
			if (!c)
				return NULL;
			yyjson_mut_obj_add_val(d, o, "children", c);
			if ((truncated && !k->complete) || kcut)
				yyjson_mut_obj_add_bool(d, o, "truncated", true);
		}
	}
	return arr;
}

/* The tree's text: JSON.stringify(tree, null, 2) is what theirs prints;
 * compact JSON when the indentation alone would pass the reply limit (as
 * JSON-escaped text, which is what goes on the wire); and when even that
 * is over it, only the first entries (in the printed order) that fit. */
static char *tree_text(struct tree *t, yyjson_mut_doc *d, yyjson_mut_val **arr, size_t *len, bool *compact,
		       uint64_t *shown)
{
	uint64_t budget = UINT64_MAX;
	bool cut = false;
	char *text;
	size_t esc;

	*compact = false;
	*shown = t->entries;
	*arr = tree_json(d, &t->root, t->truncated, &budget, &cut);
	if (!*arr || !(text = yyjson_mut_val_write(*arr, YYJSON_WRITE_PRETTY_TWO_SPACES, len)))
		return NULL;
	if (rb_json_str_len(text, *len) <= FILES_REPLY_MAX)
		return text;
	free(text);
	*compact = true;
	if (!(text = yyjson_mut_val_write(*arr, 0, len)))
		return NULL;
	for (int tries = 0; (esc = rb_json_str_len(text, *len)) > FILES_REPLY_MAX && tries < 8; tries++) {
		/* Entries are about the same size: aim at 90% of the limit. */
		uint64_t n = (uint64_t)((double)*shown * ((double)FILES_REPLY_MAX / (double)esc) * 0.9);
		free(text);
		*shown = budget = n < *shown ? n : *shown / 2;
		cut = false;
		if (!(*arr = tree_json(d, &t->root, t->truncated, &budget, &cut)) ||
		    !(text = yyjson_mut_val_write(*arr, 0, len)))
			return NULL;
	}
	if (esc > FILES_REPLY_MAX) {
		free(text);
		return NULL;
	}
	return text;
}

static void tree_done(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct tree *t = ctx;
	struct rb_call *call = t->call;
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *arr, *content, *s;
	char *text;
	size_t len;
	bool compact = false;
	uint64_t shown;

	t->op = NULL;
	if (res < 0 && !(res == -RB_E_LIMIT && t->truncated)) {
		const char *arg = t->arg;
		bool cancelled = rb_call_cancelled(call) || res == -ECANCELED;
		bool oom = t->oom;
		tree_free(t);
		if (cancelled)
			rb_call_error(call, "directory_tree: cancelled");
		else
			rb_files_fail(call, arg, oom ? -ENOMEM : res);
		return;
	}
	text = tree_text(t, d, &arr, &len, &compact, &shown);
	if (!text) {
		const char *arg = t->arg;
		tree_free(t);
		free(text);
		rb_call_error(call, "%s: the tree is too large for one reply; use a deeper path or "
			      "excludePatterns", arg);
		return;
	}
	content = rb_files_text_content(call, text, len);
	if (content && (t->truncated || compact || t->unreadable || shown < t->entries)) {
		struct rb_sbuf note = { 0 };
		yyjson_mut_val *more;
		if (t->truncated)
			rb_sbuf_addf(&note, "[directory_tree: stopped after %d entries; the tree above is incomplete: "
				     "directories marked \"truncated\": true were not read to the end. "
				     "Use a deeper path or excludePatterns to narrow it.]", TREE_MAX_ENTRIES);
		if (shown < t->entries)
			rb_sbuf_addf(&note, "%s[directory_tree: the first %llu of the %llu entries walked are printed, "
				     "to fit in one reply; directories with entries left out are marked "
				     "\"truncated\": true. Use a deeper path or excludePatterns for the rest.]",
				     note.len ? "\n" : "", (unsigned long long)shown, (unsigned long long)t->entries);
		if (compact)
			rb_sbuf_addf(&note, "%s[directory_tree: printed without indentation to fit in one reply.]",
				     note.len ? "\n" : "");
		if (t->unreadable)
			rb_sbuf_addf(&note, "%s[directory_tree: %llu directories could not be read and show no "
				     "children:%s]", note.len ? "\n" : "", (unsigned long long)t->unreadable,
				     t->notes.p ? t->notes.p : "");
		more = rb_files_text_content(call, note.p ? note.p : "", note.len);
		if (more)
			yyjson_mut_arr_append(content, yyjson_mut_arr_get_first(more));
		rb_sbuf_free(&note);
	}
	s = yyjson_mut_obj(d);
	yyjson_mut_obj_add_uint(d, s, "entries", t->entries);
	yyjson_mut_obj_add_uint(d, s, "directories", t->dirs);
	yyjson_mut_obj_add_uint(d, s, "files", t->files);
	yyjson_mut_obj_add_bool(d, s, "truncated", t->truncated || shown < t->entries);
	if (shown < t->entries)
		yyjson_mut_obj_add_uint(d, s, "printed", shown);
	if (len <= FILES_INLINE_MAX)
		yyjson_mut_obj_add_val(d, s, "tree", arr);
	free(text);
	(void)st;
	tree_free(t);
	if (!content)
		rb_call_error(call, "directory_tree: out of memory building the result");
	else
		rb_call_finish(call, content, s);
}

static int tree_run(struct rb_call *call)
{
	struct tree *t = calloc(1, sizeof(*t));
	struct rb_walk_opts o = { .cls = rb_call_class(call), .dir_done = tree_dir_done };
	int r;

	if (!t)
		return -ENOMEM;
	t->call = call;
	rb_call_set_state(call, t);
	if ((r = rb_arg_string(call, "path", true, &t->arg)) < 0 || (r = rb_arg_path(call, "path", &t->p)) < 0 ||
	    (r = excl_init(call, &t->ex, true)) < 0) {
		tree_free(t);
		return r;
	}
	r = rb_fs_walk(rb_call_fs(call), &t->p, &o, tree_entry, tree_done, t, &t->op);
	if (r < 0) {
		const char *arg = t->arg;
		tree_free(t);
		rb_files_fail(call, arg, r);
	}
	return 0;
}

static void tree_cancel(struct rb_call *call)
{
	struct tree *t = rb_call_state(call);
	if (t && t->op)
		rb_fs_cancel(t->op);
}

const struct rb_tool rb_tool_directory_tree = {
	.name = "directory_tree",
	.title = "Directory Tree",
	.description = "Get a recursive tree of the files and directories below a path as JSON (2-space indented): "
		       "an array of {name, type: \"file\"|\"directory\", children} where directories always have "
		       "a children array (possibly empty) and files have none. Symbolic links are listed as "
		       "files, never followed. excludePatterns are glob patterns on paths relative to `path`; "
		       "one without '*' also excludes that name anywhere. Stops after 100000 entries with a "
		       "note; then every directory not read to the end has \"truncated\": true (its children are "
		       "the ones seen, an empty array included). Only works within allowed directories.",
	.input_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
		"\"path\":{\"type\":\"string\",\"description\":\"Directory at the top of the tree.\"},"
		"\"excludePatterns\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"default\":[],"
		"\"description\":\"Glob patterns (minimatch syntax) of paths to leave out, e.g. node_modules or **/*.log\"}},"
		"\"required\":[\"path\"]}",
	.output_schema = "{\"type\":\"object\",\"properties\":{"
		"\"entries\":{\"type\":\"integer\"},\"directories\":{\"type\":\"integer\"},\"files\":{\"type\":\"integer\"},"
		"\"truncated\":{\"type\":\"boolean\",\"description\":\"True when the entry cap stopped the walk "
		"or not every entry walked fits in one reply\"},"
		"\"printed\":{\"type\":\"integer\",\"description\":\"Entries printed, when fewer than walked\"},"
		"\"tree\":{\"type\":\"array\",\"description\":\"The tree, present when its text is at most 64 KiB "
		"(otherwise only in the text content)\",\"items\":{\"$ref\":\"#/$defs/entry\"}}},"
		"\"required\":[\"entries\",\"directories\",\"files\",\"truncated\"],"
		"\"$defs\":{\"entry\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},"
		"\"type\":{\"type\":\"string\",\"enum\":[\"file\",\"directory\"]},"
		"\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/entry\"}},"
		"\"truncated\":{\"type\":\"boolean\",\"description\":\"A directory the entry cap left "
		"incomplete, or whose entries were left out to fit the reply\"}},\"required\":[\"name\",\"type\"]}}}",
	.read_only = true,
	.idempotent = true,
	.bulk = true,
	.run = tree_run,
	.cancel = tree_cancel,
};

/* ==== search_files ====================================================================== */

struct hit {
	char *rel;
	bool link, drop;
};

struct search;
struct lcheck {
	struct search *s;
	size_t idx;
	struct rb_fs_op *op;
	struct rb_path p;
	bool busy;
};

struct search {
	struct rb_call *call;
	struct rb_fs_op *op;
	const char *arg;
	struct rb_path p;
	struct rb_glob *pat;
	struct excl ex;
	struct hit *hits;
	size_t nhits, cap;
	uint64_t seen;
	bool truncated, oom;
	/* After the walk: matched symbolic links are kept only if their target
	 * resolves within the roots (theirs validates every path it lists). */
	size_t next_link, checks_out;
	struct lcheck *checks;	/* FILES_MAX_OPS, allocated when a link matched */
};

static void search_free(struct search *s)
{
	rb_call_set_state(s->call, NULL);
	for (size_t i = 0; i < s->nhits; i++)
		free(s->hits[i].rel);
	free(s->hits);
	free(s->checks);
	rb_glob_free(s->pat);
	excl_free(&s->ex);
	free(s);
}

static int search_entry(void *ctx, const struct rb_walk_entry *e)
{
	struct search *s = ctx;
	bool dir = e->type == DT_DIR;

	if (++s->seen % PROGRESS_EVERY == 0) {
		char msg[96];
		snprintf(msg, sizeof(msg), "%llu entries scanned, %zu matches", (unsigned long long)s->seen, s->nhits);
		rb_call_progress(s->call, s->seen, 0, msg);
	}
	if (excl_match(&s->ex, e->rel))
		return dir ? 1 : 0;
	if (rb_glob_match(s->pat, e->rel)) {
		if (s->nhits == SEARCH_MAX_MATCHES) {
			s->truncated = true;
			return -RB_E_LIMIT;
		}
		if (s->nhits == s->cap) {
			size_t nc = s->cap ? s->cap * 2 : 64;
			struct hit *nh = realloc(s->hits, nc * sizeof(*nh));
			if (!nh)
				goto oom;
			s->hits = nh;
			s->cap = nc;
		}
		/* Relative for now (sorting compares components); made absolute at the end. */
		s->hits[s->nhits] = (struct hit){ .rel = name_dup(e->rel), .link = e->type == DT_LNK };
		if (!s->hits[s->nhits].rel)
			goto oom;
		s->nhits++;
	}
	/* Nothing below can match: do not descend (a pure saving, same result). */
	if (dir && !rb_glob_match_below(s->pat, e->rel))
		return 1;
	return 0;
oom:
	s->oom = true;
	return -ENOMEM;
}

/* Depth-first order of sorted directories: compare component by component. */
static int cmp_walk_order(const void *a, const void *b)
{
	const char *x = ((const struct hit *)a)->rel, *y = ((const struct hit *)b)->rel;
	for (;;) {
		size_t lx = strcspn(x, "/"), ly = strcspn(y, "/");
		int c = memcmp(x, y, lx < ly ? lx : ly);
		if (c)
			return c;
		if (lx != ly)
			return lx < ly ? -1 : 1;
		if (!x[lx] || !y[ly])
			return !x[lx] && !y[ly] ? 0 : (!x[lx] ? -1 : 1);
		x += lx + 1;
		y += ly + 1;
	}
}

static void search_finish(struct search *s)
{
	struct rb_call *call = s->call;
	yyjson_mut_doc *d = rb_call_doc(call);
	struct rb_sbuf t = { 0 };
	yyjson_mut_val *content, *sc, *arr = NULL;
	const char *base = s->p.abs;
	char full[PATH_MAX * 2];
	size_t n = 0;

	if (rb_call_cancelled(call)) {
		search_free(s);
		rb_call_error(call, "search_files: cancelled");
		return;
	}
	for (size_t i = 0; i < s->nhits; i++) {
		if (s->hits[i].drop)
			continue;
		/* Full paths, as theirs returns. */
		rb_files_join(full, sizeof(full), base, s->hits[i].rel);
		rb_sbuf_adds(&t, n++ ? "\n" : "");
		rb_sbuf_adds(&t, full);
	}
	if (!n)
		rb_sbuf_adds(&t, "No matches found");
	sc = yyjson_mut_obj(d);
	yyjson_mut_obj_add_uint(d, sc, "matches", n);
	yyjson_mut_obj_add_bool(d, sc, "truncated", s->truncated);
	if (n && t.len <= FILES_INLINE_MAX) {
		arr = yyjson_mut_obj_add_arr(d, sc, "paths");
		for (size_t i = 0; i < s->nhits; i++) {
			if (s->hits[i].drop)
				continue;
			rb_files_join(full, sizeof(full), base, s->hits[i].rel);
			yyjson_mut_arr_add_strcpy(d, arr, full);
		}
	}
	content = t.oom ? NULL : rb_files_text_content(call, t.p, t.len);
	if (content && s->truncated) {
		char note[256];
		snprintf(note, sizeof(note), "[search_files: stopped at %d matches; more may exist. "
			 "Use a narrower path or pattern.]", SEARCH_MAX_MATCHES);
		yyjson_mut_val *more = rb_files_text_content(call, note, strlen(note));
		if (more)
			yyjson_mut_arr_append(content, yyjson_mut_arr_get_first(more));
	}
	rb_sbuf_free(&t);
	search_free(s);
	if (!content)
		rb_call_error(call, "search_files: out of memory building the result");
	else
		rb_call_finish(call, content, sc);
}

static void search_check_pump(struct search *s);

static void link_checked(void *ctx, int res, const struct statx *stx)
{
	struct lcheck *c = ctx;
	struct search *s = c->s;
	(void)stx;
	c->busy = false;
	c->op = NULL;
	s->checks_out--;
	/* Broken, looping, or leading out of the roots: theirs skips it. */
	s->hits[c->idx].drop = res < 0;
	search_check_pump(s);
}

static void search_check_pump(struct search *s)
{
	struct rb_fs *fs = rb_call_fs(s->call);
	size_t k = 0;
	char full[PATH_MAX * 2];
	while (!rb_call_cancelled(s->call) && s->checks_out < FILES_MAX_OPS && s->next_link < s->nhits) {
		size_t i = s->next_link++;
		struct lcheck *c;
		int r;
		if (!s->hits[i].link)
			continue;
		while (s->checks[k].busy)
			k++;
		c = &s->checks[k];
		rb_files_join(full, sizeof(full), s->p.abs, s->hits[i].rel);
		r = rb_fs_resolve(fs, full, &c->p);
		if (r == 0)
			r = rb_fs_stat(fs, &c->p, 0, rb_call_class(s->call), link_checked, c, &c->op);
		if (r < 0) {
			s->hits[i].drop = true;
			continue;
		}
		c->s = s;
		c->idx = i;
		c->busy = true;
		s->checks_out++;
	}
	if (!s->checks_out)
		search_finish(s);
}

static void search_done(void *ctx, int res, const struct rb_walk_stats *st)
{
	struct search *s = ctx;
	struct rb_call *call = s->call;
	bool links = false;

	(void)st;
	s->op = NULL;
	if (res < 0 && !(res == -RB_E_LIMIT && s->truncated)) {
		const char *arg = s->arg;
		bool cancelled = rb_call_cancelled(call) || res == -ECANCELED;
		bool oom = s->oom;
		search_free(s);
		if (cancelled)
			rb_call_error(call, "search_files: cancelled");
		else
			rb_files_fail(call, arg, oom ? -ENOMEM : res);
		return;
	}
	if (s->nhits > 1)
		qsort(s->hits, s->nhits, sizeof(*s->hits), cmp_walk_order);
	for (size_t i = 0; i < s->nhits && !links; i++)
		links = s->hits[i].link;
	if (links && !(s->checks = calloc(FILES_MAX_OPS, sizeof(*s->checks)))) {
		const char *arg = s->arg;
		search_free(s);
		rb_files_fail(call, arg, -ENOMEM);
		return;
	}
	if (links)
		search_check_pump(s);
	else
		search_finish(s);
}

static int search_run(struct rb_call *call)
{
	struct search *s = calloc(1, sizeof(*s));
	struct rb_walk_opts o = { .cls = rb_call_class(call) };
	const char *pat;
	int r;

	if (!s)
		return -ENOMEM;
	s->call = call;
	rb_call_set_state(call, s);
	if ((r = rb_arg_string(call, "path", true, &s->arg)) < 0 || (r = rb_arg_path(call, "path", &s->p)) < 0 ||
	    (r = rb_arg_string(call, "pattern", true, &pat)) < 0 || (r = excl_init(call, &s->ex, false)) < 0) {
		search_free(s);
		return r;
	}
	r = rb_glob_new(pat, &s->pat);
	if (r < 0) {
		search_free(s);
		return r == -E2BIG ? rb_call_fail_msg(call, "pattern: too many brace alternatives") : r;
	}
	r = rb_fs_walk(rb_call_fs(call), &s->p, &o, search_entry, search_done, s, &s->op);
	if (r < 0) {
		const char *arg = s->arg;
		search_free(s);
		rb_files_fail(call, arg, r);
	}
	return 0;
}

static void search_cancel(struct rb_call *call)
{
	struct search *s = rb_call_state(call);
	if (!s)
		return;
	if (s->op)
		rb_fs_cancel(s->op);
	for (size_t k = 0; s->checks && k < FILES_MAX_OPS; k++)
		if (s->checks[k].busy)
			rb_fs_cancel(s->checks[k].op);
}

const struct rb_tool rb_tool_search_files = {
	.name = "search_files",
	.title = "Search Files",
	.description = "Recursively search for files and directories whose path matches a glob pattern. The "
		       "pattern matches paths relative to `path` (minimatch syntax, dot files included): "
		       "'*.md' matches only directly inside `path`, '**/*.md' at any depth, '**/notes/*' in any "
		       "directory named notes; braces like '*.{md,txt}' work. excludePatterns (same syntax) "
		       "leave paths and whole directories out. Returns full paths, one per line, or \"No "
		       "matches found\"; stops at 10000 matches with a note. Only searches within allowed "
		       "directories.",
	.input_schema = "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
		"\"path\":{\"type\":\"string\",\"description\":\"Directory to search below.\"},"
		"\"pattern\":{\"type\":\"string\",\"description\":\"Glob pattern matched against paths relative to path, "
		"e.g. **/*.md\"},"
		"\"excludePatterns\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"default\":[],"
		"\"description\":\"Glob patterns of relative paths to skip (a matching directory is not entered)\"}},"
		"\"required\":[\"path\",\"pattern\"]}",
	.output_schema = "{\"type\":\"object\",\"properties\":{"
		"\"matches\":{\"type\":\"integer\"},"
		"\"truncated\":{\"type\":\"boolean\",\"description\":\"True when the match cap stopped the search\"},"
		"\"paths\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
		"\"description\":\"Full paths, present when the text is at most 64 KiB (otherwise only in the text content)\"}},"
		"\"required\":[\"matches\",\"truncated\"]}",
	.read_only = true,
	.idempotent = true,
	.bulk = true,
	.run = search_run,
	.cancel = search_cancel,
};
