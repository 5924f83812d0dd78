/* files.h: what the file tools' sources share (internal to src/tools).
 * files.c holds the single-operation tools and the table; files_bulk.c the
 * bulk ones (read_multiple_files, directory_tree, search_files).
 *
 * Result-size rule, the same for every file tool: one reply stays under
 * the MCP layer's 8 MiB line, and no large payload is sent twice. The
 * content text keeps the official server's format (what prompts and models
 * expect) and is always complete up to the tool's cap; structuredContent
 * carries the typed data only while the text is at most FILES_INLINE_MAX,
 * and beyond that just the summary fields (counts, truncated), which every
 * outputSchema marks as the only required ones. */
#ifndef RB_TOOLS_FILES_H
#define RB_TOOLS_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "ringbank/tool.h"

#define FILES_REPLY_MAX (8u * 1024 * 1024 - 64 * 1024) /* JSON bytes of one result's text */
#define FILES_INLINE_MAX (64u * 1024)			/* structuredContent carries data below this */
#define FILES_MAX_OPS 64				/* own fs ops outstanding per bulk call */

extern const struct rb_tool rb_tool_read_multiple_files;
extern const struct rb_tool rb_tool_directory_tree;
extern const struct rb_tool rb_tool_search_files;

/* Finishes call with isError: "<path>: <cause>". */
void rb_files_fail(struct rb_call *call, const char *path, int code);

/* Builds the text content array for (text, len), repairing invalid UTF-8
 * (U+FFFD, as Node's decoder does). NULL on allocation failure. */
yyjson_mut_val *rb_files_text_content(struct rb_call *call, const char *text, size_t len);

/* Reads an optional array-of-strings argument (e.g. excludePatterns);
 * records "<field>: ..." and returns -EINVAL when malformed. *n = 0 when absent. */
int rb_files_arg_strv(struct rb_call *call, const char *field, yyjson_val **arr, size_t *n);

/* A path below a walk's start as the client would name it: the start
 * argument joined with rel (no "./" prefix, no doubled '/'). */
void rb_files_join(char *out, size_t cap, const char *start, const char *rel);

#endif
