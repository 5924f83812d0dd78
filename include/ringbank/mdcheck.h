/* mdcheck.h: the pure per-file markdown checker behind validate_memory_bank.
 *
 * No I/O and no global state: bytes in, findings out. One call checks one
 * file and fills a caller-owned result that is reused from file to file (its
 * arrays are kept and only grow to the largest file seen), so a bulk caller
 * allocates nothing per file in the steady state.
 *
 * Checks, in order (each diagnostic has a 1-based line, 0 = the whole file):
 *   too_large        len > max_bytes (nothing else is checked)
 *   empty_file       no bytes, or only whitespace (nothing else is checked)
 *   invalid_utf8     strict UTF-8 (no overlongs, surrogates or > U+10FFFF);
 *                    the line of the first bad byte. Markdown checks and
 *                    links are skipped; headings are still collected so
 *                    anchors into the file resolve.
 *   bad_front_matter a first line "---" opens front matter; it must be
 *                    closed by a line "---" or "..." (else the rest of the
 *                    file is unreadable as markdown: nothing further is
 *                    checked), and its lines must be `key: value`, `key:`,
 *                    comments, blank, or indented / "- " continuations of a
 *                    key (only the first bad line is reported). The front
 *                    matter is stripped before the markdown parse.
 *   no_title         the first block (HTML blocks such as comments are
 *                    skipped) is not a level-1 heading (ATX or setext).
 *   skipped_heading  a heading more than one level below the previous
 *                    heading (# then ###); the first heading is judged by
 *                    no_title only.
 *   unclosed_fence   a fenced code block whose closing fence never comes:
 *                    md4c closes such a block silently at the end of the
 *                    file or of its container, so the checker looks at the
 *                    source line after the block's last content line (or
 *                    after its opening line when it has no content) and
 *                    requires a fence of the same character, at least as
 *                    long as the opener. The line is the opener's.
 *   broken_anchor    a same-file link "#frag" naming no heading slug (only
 *                    with opts.links, like the collection of links).
 * Markdown is parsed by md4c (CommonMark + tables, strikethrough, task
 * lists), so '#' lines inside code blocks, links inside code spans and
 * setext headings are understood as CommonMark says.
 *
 * Headings: level, line and GitHub-style slug: the heading's text (inline
 * markup stripped, inline code kept, entities and raw HTML dropped),
 * lowercased (ASCII and Latin-1 letters; other scripts are kept as they
 * are); ' ' becomes '-'; ASCII letters, digits, '-', '_' and every
 * non-ASCII byte are kept; everything else (ASCII punctuation, tabs) is
 * dropped, with no collapsing of "--". Repeats get "-1", "-2"... like
 * github-slugger.
 *
 * Links: every link and image destination that is neither a URL (a scheme
 * such as "https:" or "mailto:", or "//host") nor a pure "#frag", with its
 * percent-decoded path, its fragment (anchor) and its line. "?query" is
 * dropped. Cross-file checks are the caller's (they need I/O). */
#ifndef RINGBANK_MDCHECK_H
#define RINGBANK_MDCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rb_md_severity { RB_MD_ERROR = 0, RB_MD_WARNING = 1 };

/* Diagnostic codes, shared with the bank walker (which adds the cross-file
 * and directory-level ones). The names are the API (by_code keys). */
enum rb_md_code {
	RB_MD_INVALID_UTF8,
	RB_MD_EMPTY_FILE,
	RB_MD_TOO_LARGE,
	RB_MD_NO_TITLE,
	RB_MD_SKIPPED_HEADING,
	RB_MD_UNCLOSED_FENCE,
	RB_MD_BAD_FRONT_MATTER,
	RB_MD_BROKEN_LINK,
	RB_MD_BROKEN_ANCHOR,
	RB_MD_MISSING_CORE_FILE,
	RB_MD_CASE_CONFLICT, /* warning */
	RB_MD_SYMLINK,	     /* warning */
	RB_MD_SPECIAL_FILE,  /* warning */
	RB_MD_READ_ERROR,    /* a file or directory could not be read */
	RB_MD_NCODES
};
/* "invalid_utf8", ... Never NULL for a valid code. */
const char *rb_md_code_name(enum rb_md_code c);
enum rb_md_severity rb_md_code_severity(enum rb_md_code c);

#define RB_MD_MSG_MAX 200

struct rb_md_diag {
	unsigned line;
	enum rb_md_code code;
	enum rb_md_severity severity;
	char message[RB_MD_MSG_MAX];
};

/* Strings (slugs, link paths, anchors) live in the result's arena and are
 * addressed by offset: the arena moves when it grows. rb_md_str() gives a
 * NUL-terminated pointer valid until the next check or reset. */
struct rb_md_heading {
	unsigned level, line;
	uint32_t slug;	/* arena offset */
	uint32_t slug_len;
};

struct rb_md_link {
	unsigned line;
	uint32_t path;	 /* arena offset: percent-decoded, query dropped; never empty */
	uint32_t anchor; /* arena offset: percent-decoded fragment ("" when none) */
	bool has_anchor;
	bool image;
};

struct rb_md_result {
	struct rb_md_diag *diags;
	size_t ndiags, diags_cap;
	struct rb_md_heading *heads;
	size_t nheads, heads_cap;
	struct rb_md_link *links;
	size_t nlinks, links_cap;
	char *arena;
	size_t arena_len, arena_cap;
	uint32_t *slug_tab; /* private: slug hash set for de-duplication */
	size_t slug_tab_cap;
	char *htext;	    /* private: the heading being parsed */
	size_t htext_len, htext_cap;
	bool markdown_checked; /* false when a file-level problem stopped the markdown checks */
};

struct rb_md_opts {
	size_t max_bytes;     /* 0 = no limit */
	bool links;	      /* check same-file anchors and collect cross-file links */
	bool headings_only;   /* only headings (anchor targets): no diagnostics, no links */
};

void rb_md_result_init(struct rb_md_result *r);
void rb_md_result_free(struct rb_md_result *r);
static inline const char *rb_md_str(const struct rb_md_result *r, uint32_t off) { return r->arena + off; }

/* Checks one file: data[0..len), path only for messages (may be NULL).
 * The byte data[len] must be readable (its value does not matter): md4c
 * 0.4.8 reads one byte past an input that ends inside an inline link
 * (tests/unit/faults/regress-md4c-overread.c); rb_fs_read_file's buffers
 * and C strings end with a NUL. Clears r first. Returns 0, or -ENOMEM (r
 * is then partial). Diagnostics come out in line order per check, not
 * sorted overall. */
int rb_md_check(const char *data, size_t len, const char *path, const struct rb_md_opts *o,
		struct rb_md_result *r);

/* GitHub-style slug of text (no de-duplication), written to out (at most
 * cap-1 bytes + NUL). Returns the slug length. Exposed for tests and for
 * callers that compare anchors. */
size_t rb_md_slugify(const char *text, size_t len, char *out, size_t cap);

/* Offset of the first byte that is not valid UTF-8, or -1. */
long rb_md_utf8_invalid_at(const char *s, size_t len);

#endif
