/* jsonout.h: JSON string bodies escaped straight into an output buffer
 * (internal to src/tools).
 *
 * A tool that returns megabytes of file text (read_multiple_files) used to
 * concatenate it, check and repair its UTF-8, copy it into the yyjson
 * document and let the writer validate and escape it again. These
 * functions do the repair and the escaping in one pass per byte, into
 * memory owned by the call's document, so the reply's text is written once.
 *
 * The output is byte for byte what yyjson's writer (flags 0) prints inside
 * the quotes for rb_utf8_repair(s): invalid UTF-8 becomes U+FFFD per maximal
 * invalid subpart (the WHATWG decoder's rule, as Node decodes files); '"',
 * '\\', \b \t \n \f \r get their two-character escapes; other bytes below
 * 0x20 become \u00XX (upper-case hex); everything else (DEL, U+2028/9,
 * astral characters) is copied. tests/unit/tools/test-jsonout.c checks this
 * against yyjson itself. No I/O; the only memory taken is the document's
 * (rb_json_doc_alloc, rb_json_str_begin). */
#ifndef RB_TOOLS_JSONOUT_H
#define RB_TOOLS_JSONOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <yyjson.h>

/* rb_json_esc may store up to this many bytes past the end it returns
 * (whole 16-byte vectors); the caller's buffer has that much slack. */
#define RB_JSON_ESC_SLACK 16

/* Exact number of bytes rb_json_esc writes for s (quotes not counted).
 * *valid (may be NULL) says whether s was valid UTF-8; when it was, the
 * result equals rb_json_str_len(s, len). */
size_t rb_json_esc_len(const char *s, size_t len, bool *valid);

/* Writes the escaped body of s at out, which has room for
 * rb_json_esc_len(s, len, NULL) + RB_JSON_ESC_SLACK bytes; returns the end
 * of what it wrote (no NUL is added). */
char *rb_json_esc(char *out, const char *s, size_t len);

/* The same two functions without SIMD: what other architectures run. They
 * are always built so the tests check them on x86-64 too. */
size_t rb_json_esc_len_portable(const char *s, size_t len, bool *valid);
char *rb_json_esc_portable(char *out, const char *s, size_t len);

/* len bytes (plus one) of d's string memory, freed with d: a value's text
 * can be written in place instead of built elsewhere and copied in. NULL on
 * allocation failure. */
char *rb_json_doc_alloc(yyjson_mut_doc *d, size_t len);

/* A JSON string value whose text is written in place: rb_json_str_begin
 * reserves room for up to `cap` escaped bytes and returns where to write
 * them (after the opening quote; NULL when out of memory);
 * rb_json_str_end closes the quote at `end` and returns the value, or NULL
 * when end is past the room reserved. It is a raw value holding the quoted
 * string: every yyjson writer prints it verbatim, but yyjson_mut_get_str
 * gives NULL for it, so use it only for text that is sent, not read back. */
struct rb_json_str {
	char *buf;
	size_t cap;
};
char *rb_json_str_begin(yyjson_mut_doc *d, struct rb_json_str *js, size_t cap);
yyjson_mut_val *rb_json_str_end(yyjson_mut_doc *d, struct rb_json_str *js, char *end);

#endif
