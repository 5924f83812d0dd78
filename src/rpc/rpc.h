/* rpc.h (internal to src/rpc): JSON-RPC 2.0 message parsing and building,
 * and the struct behind a tool call. */
#ifndef RB_RPC_INTERNAL_H
#define RB_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <yyjson.h>

#include "ringbank/mcp.h"

/* JSON-RPC error codes. */
#define RB_JR_PARSE_ERROR (-32700)
#define RB_JR_INVALID_REQUEST (-32600)
#define RB_JR_METHOD_NOT_FOUND (-32601)
#define RB_JR_INVALID_PARAMS (-32602)
#define RB_JR_INTERNAL_ERROR (-32603)
#define RB_JR_SERVER_ERROR (-32000) /* implementation-defined: a server limit */

enum rb_jr_kind { RB_JR_INVALID, RB_JR_REQUEST, RB_JR_NOTIFICATION, RB_JR_RESPONSE };

struct rb_jr_msg {
	enum rb_jr_kind kind;
	yyjson_val *id;	    /* requests and responses; for INVALID: the id if usable, else NULL */
	const char *method; /* requests and notifications */
	yyjson_val *params; /* object or NULL */
	yyjson_val *result, *error; /* responses: exactly one is set */
	int code;	    /* INVALID: the error code to answer with */
	char why[160];	    /* INVALID: the message */
};

/* Parses one message. On failure returns NULL and fills code/why (-32700,
 * with the byte offset; invalid UTF-8 named as such). */
yyjson_doc *rb_jr_parse(const char *s, size_t n, struct rb_jr_msg *m);
/* Sorts a parsed message into request / notification / response, or
 * INVALID with code (-32600 / -32602) and why. A JSON array (a batch) is
 * INVALID here: batches are taken apart by the session (mcp.c), which
 * classifies each element with rb_jr_classify_val. */
void rb_jr_classify(yyjson_doc *doc, struct rb_jr_msg *m);
/* The same for one value (a batch element); anything but an object is
 * INVALID (-32600). m's pointers point into v's document. */
void rb_jr_classify_val(yyjson_val *v, struct rb_jr_msg *m);

/* Offset of the first invalid UTF-8 byte, or -1 if s is valid. */
long rb_utf8_invalid_at(const char *s, size_t n);

/* Serialises doc (compact) and appends '\n'. NULL on failure (invalid
 * UTF-8 in a string, no memory). */
char *rb_jr_write(yyjson_mut_doc *doc, size_t *len);
/* An error response line: id may be NULL (-> null). */
char *rb_jr_error_line(yyjson_val *id, int code, const char *msg, size_t *len);
/* One element's reply in a batch: a response object without its newline
 * (malloc'ed), or text NULL for no entry. */
struct rb_jr_entry {
	char *text;
	size_t len;
};
/* Joins the entries that have text into one batch reply line "[a,b,...]\n"
 * (malloc'ed; *len counts the newline). NULL when there is no entry (a batch
 * of notifications is not answered at all) or out of memory (*len 0 and 1
 * respectively). The entries are already JSON texts, so joining them needs no
 * parse; sizes are the caller's business (mcp.c keeps the line under the
 * reply cap). */
char *rb_jr_batch_join(const struct rb_jr_entry *e, size_t n, size_t *len);
/* Starts {"jsonrpc":"2.0","id":<copy of id>} as doc's root. */
yyjson_mut_val *rb_jr_response(yyjson_mut_doc *doc, yyjson_val *id);
/* Starts {"jsonrpc":"2.0","method":method,"params":{}} as doc's root; returns params. */
yyjson_mut_val *rb_jr_notification(yyjson_mut_doc *doc, const char *method);

/* ---- the call ------------------------------------------------------------------ */

struct rb_call {
	const struct rb_tool *tool;
	struct rb_fs *fs;
	yyjson_val *args;
	yyjson_doc *empty_args; /* owned "{}" when the owner passed NULL */
	yyjson_mut_doc *doc;
	void *state;
	char *fail_msg;
	const struct rb_call_hooks *hooks;
	void *owner;
	bool cancelled, finished, in_run, finished_in_run, want_progress;
	yyjson_mut_val *result;
	bool is_error;
	/* progress throttle */
	bool prog_sent, prog_pending;
	uint64_t prog_last_ns, prog_last, prog_cur, prog_total;
	char *prog_msg;
	struct rb_timer prog_timer;
};

#endif
