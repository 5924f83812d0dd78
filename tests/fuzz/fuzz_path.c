/* fuzz_path: sandbox path resolution (rb_fs_resolve, the lexical step) and
 * file-name validation (rb_fs_check_name). Byte 0 picks the set-up: which
 * fs (one temp root; or nested roots "/", the temp root and a subdirectory
 * of it), whether the MCP-roots narrowing is on, and whether the rest is
 * taken as given or prefixed with the root path. The rest is the client
 * path (a C string: it ends at the first NUL, as every caller passes it).
 *
 * Invariants on success: rel is relative, "." or clean components (no "",
 * ".", trailing '/'), never climbs above the root, fits, and abs is the
 * root path + "/" + rel; with narrowing, abs with ".." folded lies within
 * an allowed directory. Names accepted by rb_fs_check_name are 1..255
 * bytes, not "." or "..", without '/'. */
#include "fuzz_common.h"

static struct rb_fs *fs2;
static char sub[300];

static void init2(void)
{
	if (fs2)
		return;
	FZ_CHECK(rb_fs_new(&fs2, fz_rt.io, &fz_rt.cap, NULL) == 0);
	FZ_CHECK(rb_fs_add_root(fs2, "/") == 0);
	FZ_CHECK(rb_fs_add_root(fs2, fz_root) == 0);
	snprintf(sub, sizeof sub, "%s/notes/deep", fz_root);
	FZ_CHECK(rb_fs_add_root(fs2, sub) == 0);
}

static bool below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* Folds "." and ".." of an absolute path (no symlinks): a model of what the
 * narrowing compares. Returns false if it climbs above "/". */
static bool fold(const char *in, char *out, size_t outsz)
{
	size_t o = 0, n;
	const char *p = in, *c;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - c);
		if (n == 1 && c[0] == '.')
			continue;
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (!o)
				return false;
			while (o && out[o - 1] != '/')
				o--;
			o--;
			continue;
		}
		FZ_CHECK(o + 1 + n < outsz);
		out[o++] = '/';
		memcpy(out + o, c, n);
		o += n;
	}
	if (!o)
		out[o++] = '/';
	out[o] = '\0';
	return true;
}

static void check_resolved(struct rb_fs *fs, const struct rb_path *p)
{
	const char *rootp, *s = p->rel, *c;
	size_t rl = strnlen(p->rel, sizeof(p->rel)), n;
	int depth = 0;
	char folded[PATH_MAX];

	FZ_CHECK(p->root >= 0 && (size_t)p->root < rb_fs_root_count(fs));
	/* Under MCP roots narrowing, rel is relative to the allowed directory's
	 * own fd (the kernel then confines it there); otherwise to the root's. */
	bool narrowed = p->dirfd != rb_fs_root_fd(fs, (size_t)p->root);
	FZ_CHECK(!narrowed || rb_fs_allowed_count(fs) > 0);
	FZ_CHECK(rl > 0 && rl < sizeof(p->rel));
	FZ_CHECK(p->rel[0] != '/');
	rootp = rb_fs_root_path(fs, (size_t)p->root);
	if (!strcmp(p->rel, ".")) {
		FZ_CHECK(narrowed || !strcmp(p->abs, rootp));
	} else {
		FZ_CHECK(p->rel[rl - 1] != '/');
		while (*s) {
			c = s;
			while (*s && *s != '/')
				s++;
			n = (size_t)(s - c);
			FZ_CHECK(n > 0);		/* no "//" */
			FZ_CHECK(!(n == 1 && c[0] == '.')); /* no "." component */
			if (n == 2 && c[0] == '.' && c[1] == '.')
				FZ_CHECK(--depth >= 0);	/* never above the root */
			else
				depth++;
			if (*s)
				s++;
		}
		/* abs = root + "/" + rel (not under narrowing: rel is then below
		 * the allowed directory, checked at the end) */
		if (narrowed) {
		} else if (!strcmp(rootp, "/")) {
			FZ_CHECK(p->abs[0] == '/' && !strcmp(p->abs + 1, p->rel));
		} else {
			n = strlen(rootp);
			FZ_CHECK(!strncmp(p->abs, rootp, n) && p->abs[n] == '/' && !strcmp(p->abs + n + 1, p->rel));
		}
	}
	/* The root picked is the longest one that contains the path. */
	for (size_t i = 0; i < rb_fs_root_count(fs); i++)
		if (below(p->abs, rb_fs_root_path(fs, i)))
			FZ_CHECK(strlen(rb_fs_root_path(fs, i)) <= strlen(rootp));
	if (rb_fs_allowed_count(fs)) {
		bool in = false;
		FZ_CHECK(fold(p->abs, folded, sizeof folded));
		for (size_t i = 0; i < rb_fs_allowed_count(fs); i++)
			in = in || below(folded, rb_fs_allowed_path(fs, i));
		FZ_CHECK(in);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[3 * PATH_MAX];
	struct rb_path p;
	struct rb_fs *fs;
	size_t n, off = 0;
	unsigned mode;
	int r;

	if (size < 1)
		return 0;
	fz_init();
	init2();
	mode = data[0];
	fs = (mode & 1) ? fs2 : fz_rt.fs;
	if (mode & 2) {
		char a[400], b[400];
		const char *al[2] = { a, b };
		snprintf(a, sizeof a, "%s/notes", fz_root);
		snprintf(b, sizeof b, "%s/proj/", fz_root);
		FZ_CHECK(rb_fs_set_allowed(fs, al, 2) == 0);
		FZ_CHECK(rb_fs_allowed_count(fs) == 2);
	}
	if (mode & 4)
		off = (size_t)snprintf(buf, sizeof buf, "%s/", fz_root);
	n = size - 1;
	if (n > sizeof(buf) - off - 1)
		n = sizeof(buf) - off - 1;
	memcpy(buf + off, data + 1, n);
	buf[off + n] = '\0';

	memset(&p, 0xa5, sizeof p);
	r = rb_fs_resolve(fs, buf, &p);
	if (r == 0)
		check_resolved(fs, &p);
	else
		FZ_CHECK(r == -RB_E_OUTSIDE || r == -ENAMETOOLONG || r == -EINVAL);
	if (!*buf)
		FZ_CHECK(r < 0);

	r = rb_fs_check_name(buf + off);
	n = strlen(buf + off);
	if (r == 0)
		FZ_CHECK(n >= 1 && n <= 255 && !strchr(buf + off, '/') && strcmp(buf + off, ".") &&
			 strcmp(buf + off, ".."));
	else
		FZ_CHECK(r == -RB_E_BAD_NAME);
	if (mode & 2)
		FZ_CHECK(rb_fs_set_allowed(fs, NULL, 0) == 0);
	return 0;
}
