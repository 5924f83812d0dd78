/* Description: regression (found by tests/fuzz/fuzz_http): a graceful
 * shutdown cut the end of every open SSE stream. rb_http_shutdown ended
 * the sessions first, which queued the last chunk of each stream and made
 * its connection idle, then aborted every idle connection, unsent output
 * included: a client saw the connection drop in the middle of a chunked
 * body instead of its end ("0\r\n\r\n"). Now a connection with output still
 * queued is flushed before it is closed. On every engine/backend pair. */
#include "wire.h"

static char *root;

static void shutdown_with_stream_open(struct w_run *run)
{
	struct w_buf b = { 0 };
	char sid[W_SID_SIZE], req[512];
	int g;

	w_session(run->port, sid, NULL);
	g = w_connect(run->port);
	snprintf(req, sizeof(req), "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
		 "Mcp-Session-Id: %s\r\n\r\n", sid);
	w_sends(g, req);
	ASSERT(w_until(g, &b, "Transfer-Encoding: chunked\r\n\r\n"));
	/* The stream is open and idle: now the server shuts down. */
	w_ask(run, W_ASK_SHUTDOWN);
	w_until_eof(g, &b);
	/* The stream ended properly before the connection closed. */
	if (b.len < 5 || memcmp(b.p + b.len - 5, "0\r\n\r\n", 5))
		T_FAIL("the stream was cut: it does not end with the last chunk: %s", b.p);
	close(g);
	free(b.p);
}

static w_client_fn *const clients[] = { shutdown_with_stream_open, NULL };

static void one_config(int config)
{
	struct rb_http_opts o = { 0 };

	w_serve(config, &o, root, clients);
}

int main(void)
{
	root = t_tmpdir();
	t_write_file(root, "a.md", "# a\n", 4);
	w_each_config(one_config);
	t_rmtree(root);
	return T_EXIT_PASS;
}
