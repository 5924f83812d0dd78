/* fuzz_tools: every tool's argument validation and work. The first input
 * byte picks a tool from rb_tools_all(), the rest is its "arguments" JSON.
 * Each call runs through rb_call_new/rb_call_start on a real runtime over a
 * small bank until it finishes (cancelled after 2 s, it must still finish).
 * Checks: the finish hook runs exactly once, the result has a content array
 * of typed blocks, an error result says something, and nothing outside the
 * root changes. */
#include <yyjson.h>

#include "fuzz_common.h"
#include "ringbank/mcp.h"
#include "ringbank/tool.h"

struct outcome {
	int finished;
	bool is_error;
};

static void fin(struct rb_call *call, yyjson_mut_doc *doc, yyjson_mut_val *result, bool is_error)
{
	struct outcome *o = rb_call_owner(call);
	yyjson_mut_val *content = yyjson_mut_obj_get(result, "content"), *it;
	yyjson_mut_arr_iter iter;

	(void)doc;
	o->finished++;
	o->is_error = is_error;
	FZ_CHECK(yyjson_mut_is_obj(result));
	FZ_CHECK(yyjson_mut_is_arr(content));
	yyjson_mut_arr_iter_init(content, &iter);
	while ((it = yyjson_mut_arr_iter_next(&iter)))
		FZ_CHECK(yyjson_mut_is_str(yyjson_mut_obj_get(it, "type")));
	if (is_error) {
		const char *t = yyjson_mut_get_str(yyjson_mut_obj_get(yyjson_mut_arr_get_first(content), "text"));
		FZ_CHECK(t && *t);
		FZ_CHECK(yyjson_mut_get_bool(yyjson_mut_obj_get(result, "isError")));
	}
}

static void prog(struct rb_call *call, uint64_t cur, uint64_t total, const char *msg)
{
	struct outcome *o = rb_call_owner(call);
	(void)cur; (void)total; (void)msg;
	FZ_CHECK(!o->finished);
}

static const struct rb_call_hooks hooks = { fin, prog };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct rb_tool *const *all;
	const struct rb_tool *tool;
	struct outcome o = { 0 };
	struct rb_call *call;
	yyjson_doc *doc;
	yyjson_val *args;
	size_t ntools = 0;
	uint64_t end, cancel_at;

	if (size < 1)
		return 0;
	fz_init();
	all = rb_tools_all();
	while (all[ntools])
		ntools++;
	tool = all[data[0] % ntools];
	doc = yyjson_read((const char *)data + 1, size - 1, 0);
	if (!doc)
		return 0;
	args = yyjson_doc_get_root(doc);
	if (!yyjson_is_obj(args)) { /* the MCP layer refuses these before any tool */
		yyjson_doc_free(doc);
		return 0;
	}
	FZ_CHECK(rb_call_new(&call, tool, fz_rt.fs, args, true, &hooks, &o) == 0);
	rb_call_start(call);
	cancel_at = rb_now_ns() + 2000ull * 1000000ull;
	end = cancel_at + 5000ull * 1000000ull;
	while (!o.finished) {
		uint64_t now;
		fz_turn();
		now = rb_now_ns();
		if (now > cancel_at && !o.finished) {
			rb_call_cancel(call);
			cancel_at = UINT64_MAX;
		}
		FZ_CHECK(now < end); /* a cancelled call must still finish */
	}
	FZ_CHECK(o.finished == 1);
	fz_settle();
	FZ_CHECK(o.finished == 1);
	yyjson_doc_free(doc);
	fz_check_outside();
	fz_reset();
	return 0;
}
