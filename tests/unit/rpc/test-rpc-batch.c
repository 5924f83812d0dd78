/* Description: JSON-RPC batches (MCP 2025-03-26) in a real rb_mcp session
 * over real files, on both backends: a mixed batch (requests, a
 * notification, a tool call) is answered with ONE array, in element order,
 * only once the tool call has finished, with progress on the way; a batch
 * of notifications and client responses is not answered at all; an empty
 * batch is one -32600 error; invalid elements get an error entry each;
 * initialize in a batch is refused; a request cancelled inside its batch has
 * no entry; a batch in a 2025-06-18 session and one before initialize are
 * refused with a message naming 2025-03-26; the reply cap holds for the
 * whole array (late entries replaced by an error that says why, and a batch
 * too large to answer even with errors is refused before anything runs). */
#include "fs/fs_t.h"
#include "ringbank/mcp.h"

#define CAP_SMALL 8192 /* the reply cap of the cap tests */

struct out {
	yyjson_doc *msgs[64];
	size_t lens[64];
	size_t n;
	int unanswered;	 /* batch_reply calls without a line */
	int hooked;	 /* batch_reply calls with one */
	char first[64];	 /* the last first_id */
};

static void out_send(void *ctx, char *msg, size_t len)
{
	struct out *o = ctx;
	ASSERT(len > 0 && msg[len - 1] == '\n');
	ASSERT(!memchr(msg, '\n', len - 1)); /* one line */
	ASSERT(o->n < 64);
	o->lens[o->n] = len;
	o->msgs[o->n] = yyjson_read(msg, len - 1, 0);
	ASSERT(o->msgs[o->n]); /* every line is JSON */
	o->n++;
	free(msg);
}

/* The transport's batch hook: a line goes out as send would; none is
 * counted, with the id that names the batch. */
static void out_batch_reply(void *ctx, const char *first_id, size_t idlen, char *line, size_t len)
{
	struct out *o = ctx;
	snprintf(o->first, sizeof(o->first), "%.*s", (int)idlen, first_id);
	if (line) {
		o->hooked++;
		out_send(ctx, line, len);
		return;
	}
	o->unanswered++;
}

static void out_idle(void *ctx, bool abandoned)
{
	(void)ctx;
	(void)abandoned;
}

static void out_clear(struct out *o)
{
	size_t i;
	for (i = 0; i < o->n; i++)
		yyjson_doc_free(o->msgs[i]);
	o->n = 0;
}

static yyjson_val *out_root(struct out *o, size_t i)
{
	ASSERT(i < o->n);
	return yyjson_doc_get_root(o->msgs[i]);
}

/* Runs the loop until n messages have been sent. */
static void wait_msgs(struct env *e, struct out *o, size_t n)
{
	uint64_t end = rb_now_ns() + 30ull * 1000000000ull;
	while (o->n < n) {
		ASSERT(rb_loop_run_once(e->loop, true, 100) >= 0);
		if (rb_now_ns() > end)
			T_FAIL("waited in vain for %zu message(s), have %zu", n, o->n);
	}
}

static void handle(struct rb_mcp *m, const char *s)
{
	rb_mcp_handle(m, s, strlen(s));
}

static struct rb_mcp *session(struct env *e, struct out *o, const char *version, const char *caps, size_t max_reply)
{
	struct rb_mcp_opts mo = { .fs = e->fs, .send = out_send, .idle = out_idle, .ctx = o,
				  .max_reply_bytes = max_reply, .batch_reply = out_batch_reply };
	struct rb_mcp *m;
	char init[512];

	ASSERT_EQ(rb_mcp_new(&m, &mo), 0);
	snprintf(init, sizeof(init), "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
		 "{\"protocolVersion\":\"%s\",\"capabilities\":%s,\"clientInfo\":{\"name\":\"t\",\"version\":\"0\"}}}",
		 version, caps);
	handle(m, init);
	ASSERT_EQ(o->n, 1);
	ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(yyjson_obj_get(out_root(o, 0), "result"), "protocolVersion")),
		     version);
	out_clear(o);
	return m;
}

static void end_session(struct env *e, struct rb_mcp *m, struct out *o)
{
	uint64_t end = rb_now_ns() + 30ull * 1000000000ull;
	while (rb_mcp_inflight(m)) {
		ASSERT(rb_loop_run_once(e->loop, true, 100) >= 0);
		ASSERT(rb_now_ns() < end);
	}
	rb_mcp_free(m);
	out_clear(o);
}

static int64_t err_code(yyjson_val *v)
{
	return yyjson_get_sint(yyjson_obj_get(yyjson_obj_get(v, "error"), "code"));
}

static const char *err_msg(yyjson_val *v)
{
	const char *s = yyjson_get_str(yyjson_obj_get(yyjson_obj_get(v, "error"), "message"));
	return s ? s : "";
}

static const char *result_text(yyjson_val *v)
{
	yyjson_val *c = yyjson_obj_get(yyjson_obj_get(v, "result"), "content");
	const char *s = yyjson_get_str(yyjson_obj_get(yyjson_arr_get_first(c), "text"));
	return s ? s : "";
}

/* A batch of requests, a notification and a tool call: one array, in
 * element order, once the call is done; its progress came before. */
static void t_mixed(struct env *e)
{
	struct out o = { 0 };
	struct rb_mcp *m = session(e, &o, "2025-03-26", "{}", 0);
	char batch[2048];
	yyjson_val *arr, *v;
	size_t i, nprog = 0;

	handle(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	snprintf(batch, sizeof(batch),
		 "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},"
		 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/roots/list_changed\"},"
		 "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"method\":\"tools/call\",\"params\":{\"name\":\"read_text_file\","
		 "\"arguments\":{\"path\":\"%s/a.md\"}}},"
		 "{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\"tools/call\",\"params\":{\"name\":\"read_multiple_files\","
		 "\"arguments\":{\"paths\":[\"%s/a.md\",\"%s/b.md\"]},\"_meta\":{\"progressToken\":\"tok\"}}},"
		 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"no/such/method\"},"
		 "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}]",
		 e->dir, e->dir, e->dir);
	handle(m, batch);
	/* The reads complete later: nothing may have gone out yet. */
	ASSERT_EQ(o.n, 0);
	ASSERT_EQ(rb_mcp_inflight(m), 2);
	for (i = 0;; i++) {
		wait_msgs(e, &o, i + 1);
		v = out_root(&o, i);
		if (yyjson_is_arr(v))
			break;
		/* Only progress of the call with the token comes before. */
		ASSERT(yyjson_equals_str(yyjson_obj_get(v, "method"), "notifications/progress"));
		ASSERT(yyjson_equals_str(yyjson_obj_get(yyjson_obj_get(v, "params"), "progressToken"), "tok"));
		nprog++;
	}
	ASSERT_GE(nprog, 1);
	ASSERT_EQ(o.n, i + 1); /* nothing after the array */
	arr = v;
	ASSERT_EQ(yyjson_arr_size(arr), 5);
	ASSERT_EQ(yyjson_get_sint(yyjson_obj_get(yyjson_arr_get(arr, 0), "id")), 1);
	ASSERT(yyjson_is_obj(yyjson_obj_get(yyjson_arr_get(arr, 0), "result")));
	ASSERT(yyjson_equals_str(yyjson_obj_get(yyjson_arr_get(arr, 1), "id"), "r"));
	ASSERT_STREQ(result_text(yyjson_arr_get(arr, 1)), "alpha\n");
	ASSERT(yyjson_equals_str(yyjson_obj_get(yyjson_arr_get(arr, 2), "id"), "m"));
	ASSERT(strstr(result_text(yyjson_arr_get(arr, 2)), "beta"));
	ASSERT_EQ(yyjson_get_sint(yyjson_obj_get(yyjson_arr_get(arr, 3), "id")), 2);
	ASSERT_EQ(err_code(yyjson_arr_get(arr, 3)), -32601);
	ASSERT_EQ(yyjson_get_sint(yyjson_obj_get(yyjson_arr_get(arr, 4), "id")), 3);
	ASSERT_GE(yyjson_arr_size(yyjson_obj_get(yyjson_obj_get(yyjson_arr_get(arr, 4), "result"), "tools")), 10);
	for (i = 0; i < 5; i++)
		ASSERT(yyjson_equals_str(yyjson_obj_get(yyjson_arr_get(arr, i), "jsonrpc"), "2.0"));
	/* Named to the transport by its first request's id. */
	ASSERT_EQ(o.hooked, 1);
	ASSERT_STREQ(o.first, "1");
	ASSERT_EQ(rb_mcp_inflight(m), 0);
	end_session(e, m, &o);
}

/* Notifications and client responses only: no reply at all. The next
 * message's reply is the first thing out. Then [] and invalid elements. */
static void t_silent_empty_invalid(struct env *e)
{
	struct out o = { 0 };
	struct rb_mcp *m = session(e, &o, "2025-03-26", "{}", 0);
	yyjson_val *arr, *v;

	handle(m, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"},"
		  "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":99}},"
		  "{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{}}]");
	handle(m, "{\"jsonrpc\":\"2.0\",\"id\":\"after\",\"method\":\"ping\"}");
	ASSERT_EQ(o.n, 1);
	ASSERT(yyjson_equals_str(yyjson_obj_get(out_root(&o, 0), "id"), "after"));
	out_clear(&o);

	handle(m, "[]");
	ASSERT_EQ(o.n, 1);
	v = out_root(&o, 0);
	ASSERT(yyjson_is_obj(v)); /* a single error, not an array */
	ASSERT(yyjson_is_null(yyjson_obj_get(v, "id")));
	ASSERT_EQ(err_code(v), -32600);
	ASSERT(strstr(err_msg(v), "empty batch"));
	out_clear(&o);

	/* JSON-RPC 2.0 section 7's examples: each invalid element gets its own
	 * error; a valid request among them is served; a notification with bad
	 * params (no id) gets nothing. */
	handle(m, "[1,{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"},{\"foo\":\"boo\"},"
		  "{\"jsonrpc\":\"2.0\",\"id\":6},[],"
		  "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\",\"params\":[1]}]");
	ASSERT_EQ(o.n, 1);
	arr = out_root(&o, 0);
	ASSERT(yyjson_is_arr(arr));
	ASSERT_EQ(yyjson_arr_size(arr), 5);
	ASSERT(yyjson_is_null(yyjson_obj_get(yyjson_arr_get(arr, 0), "id")));
	ASSERT_EQ(err_code(yyjson_arr_get(arr, 0)), -32600);
	ASSERT(strstr(err_msg(yyjson_arr_get(arr, 0)), "JSON object"));
	ASSERT_EQ(yyjson_get_sint(yyjson_obj_get(yyjson_arr_get(arr, 1), "id")), 5);
	ASSERT(yyjson_is_obj(yyjson_obj_get(yyjson_arr_get(arr, 1), "result")));
	ASSERT(yyjson_is_null(yyjson_obj_get(yyjson_arr_get(arr, 2), "id")));
	ASSERT_EQ(err_code(yyjson_arr_get(arr, 2)), -32600);
	ASSERT_EQ(yyjson_get_sint(yyjson_obj_get(yyjson_arr_get(arr, 3), "id")), 6);
	ASSERT_EQ(err_code(yyjson_arr_get(arr, 3)), -32600);
	ASSERT_EQ(err_code(yyjson_arr_get(arr, 4)), -32600); /* a nested array is not a message */
	end_session(e, m, &o);
}

/* initialize inside a batch is refused; the rest of the batch is served. */
static void t_initialize_in_batch(struct env *e)
{
	struct out o = { 0 };
	struct rb_mcp *m = session(e, &o, "2025-03-26", "{}", 0);
	yyjson_val *arr;

	handle(m, "[{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
		  "\"2025-03-26\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"0\"}}},"
		  "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}]");
	ASSERT_EQ(o.n, 1);
	arr = out_root(&o, 0);
	ASSERT_EQ(yyjson_arr_size(arr), 2);
	ASSERT_EQ(yyjson_get_sint(yyjson_obj_get(yyjson_arr_get(arr, 0), "id")), 7);
	ASSERT_EQ(err_code(yyjson_arr_get(arr, 0)), -32600);
	ASSERT(strstr(err_msg(yyjson_arr_get(arr, 0)), "initialize must not be part of a JSON-RPC batch"));
	ASSERT_EQ(yyjson_get_sint(yyjson_obj_get(yyjson_arr_get(arr, 1), "id")), 8);
	ASSERT(yyjson_obj_get(yyjson_arr_get(arr, 1), "result"));
	end_session(e, m, &o);
}

/* Refusals: before initialize, and in a 2025-06-18 session. A batch in a
 * 2024-11-05 session is served (JSON-RPC 2.0 batches, before MCP dropped them). */
static void t_refused(struct env *e)
{
	struct rb_mcp_opts mo = { .fs = e->fs, .send = out_send, .idle = out_idle };
	struct out o = { 0 };
	struct rb_mcp *m;
	yyjson_val *v;

	mo.ctx = &o;
	ASSERT_EQ(rb_mcp_new(&m, &mo), 0);
	handle(m, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]");
	ASSERT_EQ(o.n, 1);
	v = out_root(&o, 0);
	ASSERT(yyjson_is_obj(v));
	ASSERT_EQ(err_code(v), -32600);
	ASSERT(strstr(err_msg(v), "before initialization") && strstr(err_msg(v), "2025-03-26"));
	rb_mcp_free(m);
	out_clear(&o);

	m = session(e, &o, "2025-06-18", "{}", 0);
	handle(m, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]");
	ASSERT_EQ(o.n, 1);
	v = out_root(&o, 0);
	ASSERT(yyjson_is_obj(v));
	ASSERT(yyjson_is_null(yyjson_obj_get(v, "id")));
	ASSERT_EQ(err_code(v), -32600);
	ASSERT(strstr(err_msg(v), "not supported in protocol 2025-06-18"));
	ASSERT(strstr(err_msg(v), "need protocol 2025-03-26"));
	end_session(e, m, &o);

	m = session(e, &o, "2024-11-05", "{}", 0);
	handle(m, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]");
	ASSERT_EQ(o.n, 1);
	ASSERT_EQ(yyjson_arr_size(out_root(&o, 0)), 2);
	end_session(e, m, &o);
}

/* A client with roots: tool calls wait for its roots/list answer. A call
 * cancelled inside its own batch has no entry; the batch of the client's
 * responses (the roots) is not answered; the other call's entry follows. */
static void t_cancel_in_batch(struct env *e)
{
	struct out o = { 0 };
	struct rb_mcp *m = session(e, &o, "2025-03-26", "{\"roots\":{}}", 0);
	char batch[2048];
	yyjson_val *v, *arr;
	int64_t roots_id;

	handle(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	ASSERT_EQ(o.n, 1);
	v = out_root(&o, 0);
	ASSERT(yyjson_equals_str(yyjson_obj_get(v, "method"), "roots/list"));
	roots_id = yyjson_get_sint(yyjson_obj_get(v, "id"));
	out_clear(&o);

	snprintf(batch, sizeof(batch),
		 "[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/call\",\"params\":{\"name\":\"read_text_file\","
		 "\"arguments\":{\"path\":\"%s/a.md\"}}},"
		 "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"tools/call\",\"params\":{\"name\":\"read_text_file\","
		 "\"arguments\":{\"path\":\"%s/b.md\"}}},"
		 "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"a\"}}]",
		 e->dir, e->dir);
	handle(m, batch);
	ASSERT_EQ(o.n, 0);
	ASSERT_EQ(rb_mcp_inflight(m), 1); /* "b", held for the roots */

	snprintf(batch, sizeof(batch), "[{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"roots\":[{\"uri\":\"file://%s\"}]}}]",
		 (long long)roots_id, e->dir);
	handle(m, batch);
	wait_msgs(e, &o, 1);
	arr = out_root(&o, o.n - 1);
	ASSERT(yyjson_is_arr(arr));
	ASSERT_EQ(yyjson_arr_size(arr), 1);
	ASSERT(yyjson_equals_str(yyjson_obj_get(yyjson_arr_get(arr, 0), "id"), "b"));
	ASSERT_STREQ(result_text(yyjson_arr_get(arr, 0)), "beta\n");
	ASSERT_EQ(o.unanswered, 0);
	out_clear(&o);

	/* Every request of a batch cancelled: no reply at all, and the
	 * transport is told which batch will never be answered. */
	snprintf(batch, sizeof(batch),
		 "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/roots/list_changed\"},"
		 "{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"tools/call\",\"params\":{\"name\":\"read_text_file\","
		 "\"arguments\":{\"path\":\"%s/a.md\"}}},"
		 "{\"jsonrpc\":\"2.0\",\"id\":\"y\",\"method\":\"tools/call\",\"params\":{\"name\":\"read_text_file\","
		 "\"arguments\":{\"path\":\"%s/a.md\"}}}]",
		 e->dir, e->dir);
	handle(m, batch); /* list_changed: roots/list again, and the calls wait for it */
	ASSERT_EQ(o.n, 1);
	v = out_root(&o, 0);
	ASSERT(yyjson_equals_str(yyjson_obj_get(v, "method"), "roots/list"));
	ASSERT_EQ(rb_mcp_inflight(m), 2);
	handle(m, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"y\"}}");
	ASSERT_EQ(o.unanswered, 0);
	handle(m, "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":\"x\"}}]");
	ASSERT_EQ(o.n, 1);
	ASSERT_EQ(o.unanswered, 1);
	ASSERT_STREQ(o.first, "\"x\"");
	end_session(e, m, &o);
}

/* The cap holds for the whole array: with an 8 KiB cap, four 3000-byte
 * reads cannot all fit; the entries that would pass it are replaced by an
 * error entry saying why, and the line stays under the cap. A batch too
 * big to answer even with short errors is refused before anything runs. */
static void t_cap(struct env *e)
{
	struct out o = { 0 };
	struct rb_mcp *m = session(e, &o, "2025-03-26", "{}", CAP_SMALL);
	char batch[4096], *big;
	size_t i, full = 0, replaced = 0, k, len;
	yyjson_val *arr, *v;
	bool seen[4] = { false };

	k = (size_t)snprintf(batch, sizeof(batch), "[");
	for (i = 0; i < 4; i++)
		k += (size_t)snprintf(batch + k, sizeof(batch) - k,
				      "%s{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tools/call\",\"params\":{\"name\":"
				      "\"read_text_file\",\"arguments\":{\"path\":\"%s/big.md\"}}}",
				      i ? "," : "", i, e->dir);
	snprintf(batch + k, sizeof(batch) - k, "]");
	handle(m, batch);
	wait_msgs(e, &o, 1);
	ASSERT_EQ(o.n, 1);
	ASSERT_LE(o.lens[0], CAP_SMALL);
	arr = out_root(&o, 0);
	ASSERT_EQ(yyjson_arr_size(arr), 4);
	for (i = 0; i < 4; i++) {
		int64_t id;
		v = yyjson_arr_get(arr, i);
		id = yyjson_get_sint(yyjson_obj_get(v, "id"));
		ASSERT(id >= 0 && id < 4 && !seen[id]);
		seen[id] = true;
		if (yyjson_obj_get(v, "result")) {
			ASSERT_EQ(strlen(result_text(v)), 3000);
			full++;
		} else {
			ASSERT_EQ(err_code(v), -32000);
			ASSERT(strstr(err_msg(v), "Batch reply too large") && strstr(err_msg(v), "8192-byte"));
			replaced++;
		}
	}
	ASSERT_EQ(full, 2); /* 2 x ~3.1 KB fit in 8 KiB with room for the errors; 3 do not */
	ASSERT_EQ(replaced, 2);
	out_clear(&o);

	/* 100 pings: ~3.7 KB of replies, but 100 overflow errors would not fit
	 * 8 KiB, so the cap could not be promised: refused, nothing run. */
	big = malloc(100 * 64 + 2);
	ASSERT(big);
	len = 0;
	big[len++] = '[';
	for (i = 0; i < 100; i++)
		len += (size_t)sprintf(big + len, "%s{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"ping\"}", i ? "," : "", i);
	big[len++] = ']';
	rb_mcp_handle(m, big, len);
	free(big);
	ASSERT_EQ(o.n, 1);
	v = out_root(&o, 0);
	ASSERT(yyjson_is_obj(v));
	ASSERT_EQ(err_code(v), -32600);
	ASSERT(strstr(err_msg(v), "could not be answered within the 8192-byte reply limit"));
	ASSERT(strstr(err_msg(v), "nothing was run"));
	end_session(e, m, &o);
}

int main(void)
{
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		char text[3001];

		if (!env_setup(&e, kind))
			continue;
		t_write_file(e.dir, "a.md", "alpha\n", 6);
		t_write_file(e.dir, "b.md", "beta\n", 5);
		memset(text, 'x', 3000);
		t_write_file(e.dir, "big.md", text, 3000);
		t_mixed(&e);
		t_silent_empty_invalid(&e);
		t_initialize_in_batch(&e);
		t_refused(&e);
		t_cancel_in_batch(&e);
		t_cap(&e);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
