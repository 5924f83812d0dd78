#!/usr/bin/env bash
# tests/unit/test-genbank.sh: self-check for bench/gen/rb-genbank.
#
#   tests/unit/test-genbank.sh [path/to/rb-genbank]
#
# Without an argument (or $RB_GENBANK) it compiles bench/gen/rb-genbank.c
# with gcc into a temporary directory.  Checks: strict build, file count,
# byte count, determinism (two runs, and --jobs 1 vs --jobs 3), bad
# arguments, and -- when md4c and python3 are present -- that an
# independent md4c-based validator (embedded below; it spells out the
# consumer rules of bench/gen/README.md) finds exactly the injected errors
# listed in the manifest, file by file.
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-genbank.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

gen=${1:-${RB_GENBANK:-}}
if [ -z "$gen" ]; then
  gen=$tmp/rb-genbank
  if gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$gen" "$here/bench/gen/rb-genbank.c"; then
    ok "strict build (gcc -std=gnu11 -O2 -Wall -Wextra -Werror)"
  else
    bad "strict build"; echo "genbank: $pass passed, $fail failed"; exit 1
  fi
fi

sum_sizes() { find "$1" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d\n", s}'; }
mjson() { # mjson FILE KEY -> top-level integer
  sed -n "s/^  \"$2\": \([0-9]*\),\$/\1/p" "$1"
}

for n in 1000 3000; do
  a=$tmp/a$n b=$tmp/b$n
  if ! "$gen" -q --seed 7 --files $n --large-every 100 --max-large-bytes 262144 --manifest "$a.json" "$a"; then
    bad "generate $n files"; continue
  fi
  "$gen" -q --seed 7 --files $n --large-every 100 --max-large-bytes 262144 --jobs 3 --manifest "$b.json" "$b"
  got=$(find "$a" -type f | wc -l)
  [ "$got" -eq $n ] && ok "$n: file count" || bad "$n: $got files, want $n"
  [ "$(mjson "$a.json" files)" = $n ] && ok "$n: manifest files" || bad "$n: manifest files"
  [ "$(sum_sizes "$a")" = "$(mjson "$a.json" bytes)" ] && ok "$n: manifest bytes" || bad "$n: bytes differ"
  [ "$(find "$a" -mindepth 1 -type d | wc -l)" = "$(mjson "$a.json" directories)" ] \
    && ok "$n: manifest directories" || bad "$n: directories differ"
  diff -r "$a" "$b" >/dev/null && cmp -s "$a.json" "$b.json" \
    && ok "$n: deterministic (rerun, --jobs 3)" || bad "$n: trees differ between runs"
  big=$(find "$a" -type f -size +262144c | wc -l)
  [ "$big" -eq 0 ] && ok "$n: --max-large-bytes respected" || bad "$n: $big files too large"
done
"$gen" -q --seed 8 --files 1000 "$tmp/s8" && ! diff -rq "$tmp/a1000" "$tmp/s8" >/dev/null \
  && ok "other seed gives other tree" || bad "seed has no effect"

# bad arguments must fail with a message
for args in "" "--files 5 $tmp/x" "--files 12x $tmp/x" "--bogus $tmp/x" "$tmp/a1000" \
            "--errors-every 1 --files 100 $tmp/y" "--max-large-bytes 10 $tmp/z"; do
  # shellcheck disable=SC2086
  if err=$("$gen" -q $args 2>&1); then bad "accepted: rb-genbank $args"
  elif [ -z "$err" ]; then bad "no message: rb-genbank $args"
  else ok "rejected: rb-genbank $args"; fi
done

# independent md4c validator
if ! command -v python3 >/dev/null || ! { pkg-config --exists md4c 2>/dev/null || [ -f /usr/include/md4c.h ]; }; then
  echo "skip: md4c validator (needs python3 and libmd4c-dev)"
  echo "genbank: $pass passed, $fail failed, 1 skipped"
  [ $fail -eq 0 ]; exit
fi

cat > "$tmp/validate.c" <<'EOF'
/* Reads a generated bank and prints "<error class>\t<path>" for every
 * (file, class) it finds, following bench/gen/README.md:
 *  - empty_file: size 0 (nothing else checked)
 *  - invalid_utf8: strict UTF-8 check of the raw bytes
 *  - front matter: a file starting with "---\n" must have a later line
 *    "---"; otherwise bad_front_matter (nothing else checked). The block is
 *    stripped before parsing.
 *  - unclosed_fence: lines starting with ``` toggle; odd count at EOF
 *  - no_title: the first block of the body is not an H1
 *  - skipped_heading: a heading deeper than the previous heading + 1
 *  - links (md4c MD_SPAN_A hrefs): scheme ("x:" before any '/') = external,
 *    ignored; "#frag" = own heading; otherwise path[#frag] resolved against
 *    the file's directory: missing file = broken_link, missing GitHub-style
 *    heading slug in the target = broken_anchor
 *  - missing_core_file: each projects/<p>/ lacks one of the six core files */
#define _GNU_SOURCE
#include <ftw.h>
#include <md4c.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct { char *path, *data; size_t size; char **slugs; int nslugs; char **links; int nlinks; } F;
static F *fs;
static int nfs, cfs;
static size_t rootlen;

static int walk(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type != FTW_F)
		return 0;
	if (nfs == cfs) {
		cfs = cfs ? cfs * 2 : 1024;
		fs = realloc(fs, sizeof(F) * cfs);
	}
	F *f = &fs[nfs++];
	memset(f, 0, sizeof *f);
	f->path = strdup(p + rootlen + 1);
	f->size = (size_t)st->st_size;
	f->data = malloc(f->size + 1);
	FILE *fp = fopen(p, "rb");
	if (!fp || fread(f->data, 1, f->size, fp) != f->size) {
		perror(p);
		exit(2);
	}
	f->data[f->size] = 0;
	fclose(fp);
	return 0;
}
static int cmpf(const void *a, const void *b) { return strcmp(((const F *)a)->path, ((const F *)b)->path); }
static F *lookup(const char *path)
{
	F key = {.path = (char *)path};
	return bsearch(&key, fs, nfs, sizeof(F), cmpf);
}

static bool utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = s[i], len, min;
		if (c < 0x80) { i++; continue; }
		if (c >= 0xC2 && c <= 0xDF) { len = 2; min = 0x80; }
		else if (c >= 0xE0 && c <= 0xEF) { len = 3; min = 0x800; }
		else if (c >= 0xF0 && c <= 0xF4) { len = 4; min = 0x10000; }
		else return false;
		if (i + len > n)
			return false;
		unsigned cp = c & (0xFFu >> (len + 1));
		for (unsigned k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

/* GitHub-style slug: lowercase, ' ' -> '-', keep [a-z0-9_-] (and non-ASCII), drop the rest */
static void slugify(const char *t, char *o)
{
	size_t n = 0;
	for (; *t; t++) {
		unsigned char c = (unsigned char)*t;
		if (c >= 'A' && c <= 'Z') o[n++] = (char)(c + 32);
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c >= 0x80) o[n++] = (char)c;
		else if (c == ' ') o[n++] = '-';
	}
	o[n] = 0;
}

typedef struct { F *f; int first_type, first_level, in_h, prev_level, skipped; char htext[512]; size_t hlen; } PS;

static int enter_block(MD_BLOCKTYPE t, void *d, void *u)
{
	PS *ps = u;
	if (t == MD_BLOCK_DOC)
		return 0;
	int level = t == MD_BLOCK_H ? (int)((MD_BLOCK_H_DETAIL *)d)->level : 0;
	if (ps->first_type < 0) {
		ps->first_type = (int)t;
		ps->first_level = level;
	}
	if (t == MD_BLOCK_H) {
		ps->in_h = 1;
		ps->hlen = 0;
		if (ps->prev_level && level > ps->prev_level + 1)
			ps->skipped++;
		ps->prev_level = level;
	}
	return 0;
}
static int leave_block(MD_BLOCKTYPE t, void *d, void *u)
{
	(void)d;
	PS *ps = u;
	if (t == MD_BLOCK_H) {
		char s[600];
		ps->in_h = 0;
		ps->htext[ps->hlen] = 0;
		slugify(ps->htext, s);
		F *f = ps->f;
		f->slugs = realloc(f->slugs, sizeof(char *) * (f->nslugs + 1));
		f->slugs[f->nslugs++] = strdup(s);
	}
	return 0;
}
static int enter_span(MD_SPANTYPE t, void *d, void *u)
{
	PS *ps = u;
	if (t == MD_SPAN_A) {
		MD_SPAN_A_DETAIL *a = d;
		F *f = ps->f;
		f->links = realloc(f->links, sizeof(char *) * (f->nlinks + 1));
		f->links[f->nlinks++] = strndup(a->href.text, a->href.size);
	}
	return 0;
}
static int leave_span(MD_SPANTYPE t, void *d, void *u) { (void)t; (void)d; (void)u; return 0; }
static int text(MD_TEXTTYPE t, const MD_CHAR *s, MD_SIZE n, void *u)
{
	(void)t;
	PS *ps = u;
	if (ps->in_h && ps->hlen + n < sizeof ps->htext) {
		memcpy(ps->htext + ps->hlen, s, n);
		ps->hlen += n;
	}
	return 0;
}

/* normalise dir(from)/rel; false if it climbs above the root */
static bool resolve(const char *from, const char *rel, char *out, size_t cap)
{
	char tmp[8192], *comps[512], *save;
	int nc = 0;
	const char *slash = strrchr(from, '/');
	snprintf(tmp, sizeof tmp, "%.*s/%s", slash ? (int)(slash - from) : 0, from, rel);
	for (char *tok = strtok_r(tmp, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (!nc)
				return false;
			nc--;
			continue;
		}
		comps[nc++] = tok;
	}
	size_t len = 0;
	out[0] = 0;
	for (int i = 0; i < nc; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "/" : "", comps[i]);
	return true;
}

int main(int argc, char **argv)
{
	static const char *core[6] = {"projectbrief.md", "productContext.md", "activeContext.md",
	                              "systemPatterns.md", "techContext.md", "progress.md"};
	if (argc != 2)
		return 2;
	rootlen = strlen(argv[1]);
	if (nftw(argv[1], walk, 64, FTW_PHYS))
		return 2;
	qsort(fs, nfs, sizeof(F), cmpf);
	for (int i = 0; i < nfs; i++) {
		F *f = &fs[i];
		if (f->size == 0) {
			printf("empty_file\t%s\n", f->path);
			continue;
		}
		if (!utf8_ok((unsigned char *)f->data, f->size))
			printf("invalid_utf8\t%s\n", f->path);
		const char *body = f->data;
		if (!strncmp(body, "---\n", 4)) {
			const char *p = body + 4, *end = NULL;
			while (*p) {
				const char *nl = strchr(p, '\n');
				size_t l = nl ? (size_t)(nl - p) : strlen(p);
				if (l == 3 && !strncmp(p, "---", 3)) {
					end = p + l + (nl ? 1 : 0);
					break;
				}
				if (!nl)
					break;
				p = nl + 1;
			}
			if (!end) {
				printf("bad_front_matter\t%s\n", f->path);
				continue;
			}
			body = end;
		}
		size_t blen = f->size - (size_t)(body - f->data);
		int open = 0;
		for (const char *p = body; p < body + blen;) {
			if (!strncmp(p, "```", 3))
				open = !open;
			const char *nl = memchr(p, '\n', (size_t)(body + blen - p));
			if (!nl)
				break;
			p = nl + 1;
		}
		if (open)
			printf("unclosed_fence\t%s\n", f->path);
		PS ps = {.f = f, .first_type = -1};
		MD_PARSER parser = {.flags = MD_DIALECT_GITHUB, .enter_block = enter_block, .leave_block = leave_block,
		                    .enter_span = enter_span, .leave_span = leave_span, .text = text};
		if (md_parse(body, (MD_SIZE)blen, &parser, &ps))
			return 2;
		if (!(ps.first_type == MD_BLOCK_H && ps.first_level == 1))
			printf("no_title\t%s\n", f->path);
		if (ps.skipped)
			printf("skipped_heading\t%s\n", f->path);
	}
	for (int i = 0; i < nfs; i++) {
		F *f = &fs[i];
		int bl = 0, ba = 0;
		for (int k = 0; k < f->nlinks; k++) {
			char *h = f->links[k], *colon = strchr(h, ':'), *sl = strchr(h, '/');
			if (colon && (!sl || colon < sl))
				continue;
			char *hash = strchr(h, '#'), path[4096], res[4096];
			snprintf(path, sizeof path, "%.*s", hash ? (int)(hash - h) : (int)strlen(h), h);
			F *t = f;
			if (path[0] && (!resolve(f->path, path, res, sizeof res) || !(t = lookup(res)))) {
				bl++;
				continue;
			}
			if (hash) {
				bool found = false;
				for (int s = 0; s < t->nslugs && !found; s++)
					found = !strcmp(t->slugs[s], hash + 1);
				ba += !found;
			}
		}
		if (bl)
			printf("broken_link\t%s\n", f->path);
		if (ba)
			printf("broken_anchor\t%s\n", f->path);
	}
	for (int i = 0; i < nfs; i++) {
		const char *p = fs[i].path, *s;
		if (strncmp(p, "projects/", 9) || !(s = strchr(p + 9, '/')))
			continue;
		int plen = (int)(s - p);
		if (i > 0 && !strncmp(fs[i - 1].path, p, (size_t)plen) && fs[i - 1].path[plen] == '/')
			continue; /* project already handled */
		for (int c = 0; c < 6; c++) {
			char q[4096];
			snprintf(q, sizeof q, "%.*s/%s", plen, p, core[c]);
			if (!lookup(q))
				printf("missing_core_file\t%s\n", q);
		}
	}
	return 0;
}
EOF
cat > "$tmp/compare.py" <<'EOF'
import json, sys
from collections import Counter
m = json.load(open(sys.argv[1]))
got = set(tuple(l.rstrip("\n").split("\t")) for l in open(sys.argv[2]))
want = set((e["error"], e["path"]) for e in m["error_files"])
ok = got == want
if not ok:
    print("  only found by validator:", sorted(got - want)[:10])
    print("  only in manifest:", sorted(want - got)[:10])
c = Counter(e for e, _ in got)
for k, v in m["errors"].items():
    if c.get(k, 0) != v:
        ok = False
        print("  count mismatch", k, c.get(k, 0), v)
if sum(m["errors"].values()) == 0 and m["options"]["errors_every"]:
    ok = False
    print("  no errors injected")
sys.exit(0 if ok else 1)
EOF
cflags=$(pkg-config --cflags md4c 2>/dev/null); libs=$(pkg-config --libs md4c 2>/dev/null || echo -lmd4c)
# shellcheck disable=SC2086
if gcc -std=gnu11 -O2 -Wall -Wextra -o "$tmp/validate" "$tmp/validate.c" $cflags $libs; then
  for n in 1000 3000; do
    if "$tmp/validate" "$tmp/a$n" > "$tmp/v$n.txt" && python3 "$tmp/compare.py" "$tmp/a$n.json" "$tmp/v$n.txt"; then
      ok "$n: md4c validator finds exactly the manifest's injected errors"
    else
      bad "$n: md4c validator disagrees with the manifest"
    fi
  done
  "$gen" -q --files 2000 --errors-every 0 --broken-links-every 0 --manifest "$tmp/c.json" "$tmp/c"
  "$tmp/validate" "$tmp/c" > "$tmp/vc.txt"
  [ ! -s "$tmp/vc.txt" ] && ok "clean bank (errors disabled) validates clean" || bad "clean bank has errors"
else
  bad "build md4c validator"
fi

echo "genbank: $pass passed, $fail failed"
[ $fail -eq 0 ]
