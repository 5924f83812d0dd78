/* text.h: text helpers of the file tools (internal to src/tools): a growable
 * byte buffer, UTF-8 repair, head/tail line slicing, the official server's
 * size format, whitespace-tolerant edits and the unified diff of edit_file.
 * Everything here is pure computation on memory (no I/O), unit-tested in
 * tests/unit/tools. */
#ifndef RB_TOOLS_TEXT_H
#define RB_TOOLS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- growable buffer ------------------------------------------------------
 * Appends never fail visibly: on allocation failure `oom` is set and later
 * appends are ignored; check it once at the end. p is NUL-terminated when
 * len > 0 or after any append. */
struct rb_sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};
void rb_sbuf_add(struct rb_sbuf *b, const void *s, size_t n);
void rb_sbuf_adds(struct rb_sbuf *b, const char *s);
void rb_sbuf_addc(struct rb_sbuf *b, char c);
void rb_sbuf_addf(struct rb_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rb_sbuf_free(struct rb_sbuf *b);

/* ---- UTF-8 ----------------------------------------------------------------- */
bool rb_utf8_valid(const char *s, size_t len);
/* Decodes like the WHATWG decoder Node uses (each maximal invalid subpart
 * becomes U+FFFD) into out. */
void rb_utf8_repair(struct rb_sbuf *out, const char *s, size_t len);
/* Bytes that s takes inside a JSON string as yyjson writes it (quotes not
 * counted): used to keep replies under the message limit before building them. */
size_t rb_json_str_len(const char *s, size_t len);

/* ---- line slicing (the official server's head/tail semantics) ----------------
 * head: the first n lines joined by '\n' (no trailing newline), i.e. the
 * prefix before the n-th '\n', or the whole text minus one final '\n'.
 * tail: of text.split('\n') the last n elements joined by '\n' (so a file
 * ending in '\n' gives n-1 lines and a trailing newline, as theirs does); the
 * caller converts CRLF first. Both return a slice of s (n >= 1). */
void rb_text_head(const char *s, size_t len, uint64_t n, size_t *off, size_t *outlen);
void rb_text_tail(const char *s, size_t len, uint64_t n, size_t *off, size_t *outlen);
/* Number of '\n' in s; with crlf, *crlf gets the number of "\r\n" pairs
 * (used to bound a tail's length after rb_crlf_to_lf without converting). */
uint64_t rb_text_newlines(const char *s, size_t len, uint64_t *crlf);
/* Converts CRLF to LF in place; returns the new length. */
size_t rb_crlf_to_lf(char *s, size_t len);
/* Whether every '\n' of s is preceded by '\r' and there is at least one. */
bool rb_text_is_crlf(const char *s, size_t len);

/* The official server's formatSize: "0 B", "512 B", "1.50 KB", "3.00 MB"...
 * (toFixed(2) rounding: ties go up). out holds at least 32 bytes. */
void rb_format_size(uint64_t bytes, char *out);

/* Number of code units JavaScript's String.length gives for UTF-8 text
 * (astral characters count 2): used for padEnd-compatible alignment. */
size_t rb_js_length(const char *s, size_t len);

/* ---- edits -------------------------------------------------------------------
 * Applies edits in order to LF-normalised content, like the official server:
 * an exact substring match replaces the first occurrence; otherwise a run of
 * lines whose trimmed text equals oldText's trimmed lines is replaced, the
 * first new line taking the matched line's indentation and later lines
 * keeping their indentation relative to oldText. oldText/newText may hold
 * CRLF (normalised here). Returns 0 with the result in out, or
 * -RB_E_NO_MATCH with *failed set to the index of the edit not found, or
 * -ENOMEM. */
struct rb_edit {
	const char *old_text;
	size_t old_len;
	const char *new_text;
	size_t new_len;
};
int rb_edits_apply(const char *content, size_t len, const struct rb_edit *edits, size_t n,
		   struct rb_sbuf *out, size_t *failed);

/* ---- diff ----------------------------------------------------------------------
 * A unified diff identical to jsdiff's createTwoFilesPatch(name, name, a, b,
 * "original", "modified") with 4 lines of context (the official edit_file
 * output): the same Myers variant and tie-breaking, "Index:" and "===" header
 * lines and "\ No newline at end of file" markers. Inputs are LF-normalised.
 * Past a work budget (very large, very different inputs) it falls back to one
 * hunk spanning the changed middle, still a valid patch. 0 or -ENOMEM. */
int rb_diff_unified(struct rb_sbuf *out, const char *name, const char *a, size_t alen,
		    const char *b, size_t blen);

#endif
