/* tool.h: the contract between the MCP layer (src/rpc) and the tools
 * (src/tools). A tool is a table entry; a call is one tools/call request in
 * flight. Tools are asynchronous: run() starts the work (fs operations with
 * callbacks) and returns; the tool finishes the call later, exactly once,
 * with rb_call_finish() or rb_call_error(). Many calls run at once and
 * finish in any order.
 *
 * Cancellation: when the client sends notifications/cancelled (or a job is
 * cancelled, or the session ends), the MCP layer sets the cancelled flag and
 * calls tool->cancel(call) if set; the tool cancels its fs ops (rb_fs_cancel)
 * and still finishes the call once (its result is then dropped).
 *
 * Memory: args stay valid until the call is finished. Results are built in
 * rb_call_doc(call), a yyjson mutable document owned by the call. */
#ifndef RINGBANK_TOOL_H
#define RINGBANK_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include <yyjson.h>

#include "ringbank/fs.h"
#include "ringbank/loop.h"

struct rb_call;

struct rb_tool {
	const char *name;
	const char *title;
	const char *description;
	const char *input_schema;  /* JSON Schema text (type: object) */
	const char *output_schema; /* JSON Schema text, or NULL when the result is prose */
	bool read_only, destructive, idempotent, open_world;
	bool bulk;		   /* uses the bulk cap class; may become a job (issue 5) */
	/* 0: the call will be (or was) finished by the tool. A negative code:
	 * the tool has NOT finished it and never will; the MCP layer finishes it
	 * with isError and the message recorded by rb_arg_* / rb_call_fail_msg,
	 * else "<tool>: " + rb_strerror(code). */
	int (*run)(struct rb_call *call);
	void (*cancel)(struct rb_call *call); /* optional */
};

/* ---- what a running tool can see ------------------------------------------- */
yyjson_val *rb_call_args(struct rb_call *call);	     /* the "arguments" object (never NULL: {} if absent) */
const struct rb_tool *rb_call_tool(struct rb_call *call);
struct rb_fs *rb_call_fs(struct rb_call *call);
struct rb_loop *rb_call_loop(struct rb_call *call);
enum rb_cap_class rb_call_class(struct rb_call *call); /* RB_CAP_BULK for bulk tools */
bool rb_call_cancelled(struct rb_call *call);
void *rb_call_state(struct rb_call *call);
void rb_call_set_state(struct rb_call *call, void *state); /* the tool frees it before finishing */

/* notifications/progress when the request carried _meta.progressToken
 * (throttled to a few per second; the last one before finishing is always
 * sent). total 0 = unknown. */
void rb_call_progress(struct rb_call *call, uint64_t current, uint64_t total, const char *message);
/* A log line to stderr and, at or above the client's logging/setLevel, as
 * notifications/message. */
void rb_call_log(struct rb_call *call, enum rb_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- finishing (exactly once) ------------------------------------------------- */
yyjson_mut_doc *rb_call_doc(struct rb_call *call);
/* content: a JSON array of content blocks built in rb_call_doc (or NULL for
 * none); structured: the structuredContent object or NULL. Large data belongs
 * in one of the two, not both (no reply line over 8 MiB). */
void rb_call_finish(struct rb_call *call, yyjson_mut_val *content, yyjson_mut_val *structured);
/* Shorthand: one text content block (copied). */
void rb_call_finish_text(struct rb_call *call, const char *text, size_t len, yyjson_mut_val *structured);
/* isError: true with one text block, e.g. "notes/a.md: no such file or directory". */
void rb_call_error(struct rb_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- helpers for argument checking (the message names the field) ------------- */
/* Each returns 0, or records a message naming the field (e.g. "path: expected
 * a string") and returns -EINVAL, which run() then returns as is. */
int rb_arg_string(struct rb_call *call, const char *field, bool required, const char **out);
int rb_arg_bool(struct rb_call *call, const char *field, bool dflt, bool *out);
int rb_arg_uint(struct rb_call *call, const char *field, uint64_t dflt, uint64_t max, uint64_t *out);
/* Resolves a path argument through the sandbox (lexical step); on failure
 * records "<path>: outside the allowed directories" (or the like). */
int rb_arg_path(struct rb_call *call, const char *field, struct rb_path *out);
/* The same for an optional path: absent means the first root. */
int rb_arg_path_opt(struct rb_call *call, const char *field, struct rb_path *out);

/* Records the message run() failed with (printf-style); returns -EINVAL. */
int rb_call_fail_msg(struct rb_call *call, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The tool table: every tool ringbank serves, NULL-terminated. Modules add
 * their arrays in src/tools/registry.c. */
const struct rb_tool *const *rb_tools_all(void);
const struct rb_tool *rb_tool_find(const char *name);

#endif
