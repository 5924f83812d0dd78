/* Description: the heap cost of one MCP session. 200 rb_mcp sessions (with
 * and without a job table, as `ringbank serve` and the CLI make them) are
 * created and the growth of the malloc heap (mallinfo2) is divided by 200.
 * The tool schemas are parsed once per process and shared, so a session
 * costs a few hundred bytes, not the ~69 KiB of its own parsed schemas;
 * tools/list still serves them (checked on both backends). Under
 * AddressSanitizer the heap is ASan's and mallinfo2 says nothing: the
 * figure is then skipped, the tools/list check still runs. */
#include <malloc.h>

#include "fs/fs_t.h"
#include "ringbank/jobs.h"
#include "ringbank/mcp.h"

#define SESSIONS 200
/* Generous: a session is ~1 KiB of its own plus the job session. The
 * schemas alone (when each session parsed its own) were ~69 KiB. */
#define MAX_BYTES_PER_SESSION (8u << 10)

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

struct sink {
	char *last; /* not NUL-terminated */
	size_t len, n;
};

static void sink_send(void *ctx, char *msg, size_t len)
{
	struct sink *s = ctx;
	free(s->last);
	s->last = msg;
	s->len = len;
	s->n++;
}

static void sink_idle(void *ctx, bool abandoned)
{
	(void)ctx;
	(void)abandoned;
}

static size_t heap_used(void)
{
	struct mallinfo2 mi;
	malloc_trim(0);
	mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* Per-session heap bytes of SESSIONS sessions; 0 when not measurable. */
static size_t per_session(struct rb_fs *fs, struct rb_jobs *jobs)
{
	static struct rb_mcp *ms[SESSIONS];
	struct rb_mcp_opts o = { .fs = fs, .send = sink_send, .idle = sink_idle, .jobs = jobs };
	struct sink sk = { 0 };
	size_t before, after;
	int i;

	o.ctx = &sk;
	/* A first session outside the measure: one-time (per process) costs. */
	ASSERT_EQ(rb_mcp_new(&ms[0], &o), 0);
	rb_mcp_free(ms[0]);
	before = heap_used();
	for (i = 0; i < SESSIONS; i++)
		ASSERT_EQ(rb_mcp_new(&ms[i], &o), 0);
	after = heap_used();
	for (i = 0; i < SESSIONS; i++)
		rb_mcp_free(ms[i]);
	free(sk.last);
	return after > before ? (after - before) / SESSIONS : 0;
}

/* tools/list of a fresh session lists every tool with its input schema. */
static void check_tools_list(struct rb_fs *fs, struct rb_jobs *jobs)
{
	static const char init[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
				   "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{}}}";
	static const char list[] = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";
	struct rb_mcp_opts o = { .fs = fs, .send = sink_send, .idle = sink_idle, .jobs = jobs };
	struct sink sk = { 0 };
	const struct rb_tool *const *t;
	struct rb_mcp *m;
	yyjson_doc *d;
	yyjson_val *tools, *v;
	size_t i, max, n = 0;

	o.ctx = &sk;
	ASSERT_EQ(rb_mcp_new(&m, &o), 0);
	rb_mcp_handle(m, init, sizeof(init) - 1);
	rb_mcp_handle(m, list, sizeof(list) - 1);
	ASSERT_EQ(sk.n, 2);
	d = yyjson_read(sk.last, sk.len, 0);
	ASSERT(d);
	tools = yyjson_obj_get(yyjson_obj_get(yyjson_doc_get_root(d), "result"), "tools");
	for (t = rb_tools_all(); *t; t++)
		n++;
	ASSERT_EQ(yyjson_arr_size(tools), n);
	yyjson_arr_foreach(tools, i, max, v) {
		yyjson_val *in = yyjson_obj_get(v, "inputSchema");
		ASSERT(yyjson_equals_str(yyjson_obj_get(in, "type"), "object"));
	}
	yyjson_doc_free(d);
	rb_mcp_free(m);
	free(sk.last);
}

int main(void)
{
	FOR_BOTH_BACKENDS(kind) {
		struct rb_jobs_opts jo = { .state_dir = "", .ignore_env = true, .no_fsync = true };
		struct rb_jobs *jobs;
		struct env e;
		size_t plain, with_jobs;

		if (!env_setup(&e, kind))
			continue;
		ASSERT_EQ(rb_jobs_new(&jobs, e.fs, &jo), 0);
		check_tools_list(e.fs, NULL);
		check_tools_list(e.fs, jobs);
		plain = per_session(e.fs, NULL);
		with_jobs = per_session(e.fs, jobs);
#ifdef UNDER_ASAN
		fprintf(stderr, "%s: heap per session not measurable under AddressSanitizer\n", kname(kind));
		(void)plain;
		(void)with_jobs;
#else
		fprintf(stderr, "%s: heap per session: %zu bytes without jobs, %zu with a job table (%d sessions)\n",
			kname(kind), plain, with_jobs, SESSIONS);
		ASSERT_LE(plain, MAX_BYTES_PER_SESSION);
		ASSERT_LE(with_jobs, MAX_BYTES_PER_SESSION);
#endif
		ASSERT(rb_jobs_shutdown_wait(jobs));
		rb_jobs_free(jobs);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
