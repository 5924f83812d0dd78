/* fuzz_mcp: the JSON-RPC/MCP message handler. Arbitrary bytes are split into
 * lines by rb_lines (as the stdio transport does) and each line is handed to
 * one rb_mcp session over a real runtime; the loop then runs until every
 * tool call has finished (bounded), the session is shut down and freed.
 * Every message the server sends must be one line of valid JSON, a
 * JSON-RPC 2.0 object or (a batch's reply) a non-empty array of them. Nothing outside the root may change. */
#include <yyjson.h>

#include "fuzz_common.h"
#include "ringbank/mcp.h"

struct sess {
	struct rb_mcp *m;
	bool idle;
	size_t sent;
};

static void on_send(void *ctx, char *msg, size_t len)
{
	struct sess *s = ctx;
	yyjson_doc *d;
	yyjson_val *root;

	FZ_CHECK(len >= 1 && msg[len - 1] == '\n');
	FZ_CHECK(!memchr(msg, '\n', len - 1));
	d = yyjson_read(msg, len - 1, 0);
	FZ_CHECK(d != NULL);
	root = yyjson_doc_get_root(d);
	if (yyjson_is_arr(root)) {
		/* A batch's reply (2025-03-26 sessions): a non-empty array of
		 * JSON-RPC 2.0 objects. */
		yyjson_arr_iter it;
		yyjson_val *e;
		FZ_CHECK(yyjson_arr_size(root) > 0);
		yyjson_arr_iter_init(root, &it);
		while ((e = yyjson_arr_iter_next(&it))) {
			FZ_CHECK(yyjson_is_obj(e));
			FZ_CHECK(yyjson_equals_str(yyjson_obj_get(e, "jsonrpc"), "2.0"));
		}
	} else {
		FZ_CHECK(yyjson_is_obj(root));
		FZ_CHECK(yyjson_equals_str(yyjson_obj_get(root, "jsonrpc"), "2.0"));
	}
	yyjson_doc_free(d);
	s->sent++;
	free(msg);
}

static void on_idle(void *ctx, bool abandoned)
{
	struct sess *s = ctx;
	FZ_CHECK(!abandoned);
	s->idle = true;
}

static void on_line(void *ctx, const char *line, size_t n)
{
	struct sess *s = ctx;
	rb_mcp_handle(s->m, line, n);
}

static void on_oversized(void *ctx, size_t n, size_t max)
{
	struct sess *s = ctx;
	rb_mcp_oversized(s->m, n, max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sess s = { 0 };
	struct rb_mcp_opts mo = { 0 };
	struct rb_lines lines;
	uint64_t end;

	fz_init();
	mo.fs = fz_rt.fs;
	mo.send = on_send;
	mo.idle = on_idle;
	mo.ctx = &s;
	mo.grace_ms = 1;
	mo.abandon_ms = 3000;
	mo.roots_timeout_ms = 20;
	FZ_CHECK(rb_mcp_new(&s.m, &mo) == 0);
	/* A small line limit so the oversized path is reachable. */
	rb_lines_init(&lines, 64 * 1024, on_line, on_oversized, &s);
	/* Feed in two pieces so a line split across reads is exercised. */
	FZ_CHECK(rb_lines_feed(&lines, (const char *)data, size / 2) == 0);
	FZ_CHECK(rb_lines_feed(&lines, (const char *)data + size / 2, size - size / 2) == 0);
	rb_lines_eof(&lines);
	/* Let the tool calls finish (they are small on this tree). */
	end = rb_now_ns() + 2000ull * 1000000ull;
	while (rb_mcp_inflight(s.m) && rb_now_ns() < end)
		fz_turn();
	rb_mcp_shutdown(s.m, true);
	FZ_CHECK(fz_run_until(&s.idle, 5000));
	FZ_CHECK(rb_mcp_inflight(s.m) == 0);
	rb_mcp_free(s.m);
	rb_lines_deinit(&lines);
	/* Everything in flight ends: permits come back. */
	fz_settle();
	fz_check_outside();
	fz_reset();
	return 0;
}
