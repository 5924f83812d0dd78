/* Description: rb_http_adopt_fd serves an already-connected socket (here
 * one end of an AF_UNIX socketpair, as the fuzz harness does) exactly like
 * an accepted TCP connection: a session is created and used over it with
 * keep-alive, the server closes it at shutdown, and once the server is
 * shutting down adopting is refused with -ESHUTDOWN and the caller keeps
 * the fd. On every engine/backend pair. */
#include "wire.h"

static char *root;
static int client_fd;

static void over_socketpair(struct w_run *run)
{
	struct w_buf b = { 0 };
	const char *p;
	char sid[33];

	w_post(client_fd, NULL, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
				"\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"adopt\",\"version\":\"1\"}}}");
	ASSERT(w_until(client_fd, &b, "\"protocolVersion\""));
	ASSERT(!strncmp(b.p, "HTTP/1.1 200 OK\r\n", 17));
	p = strstr(b.p, "Mcp-Session-Id: ");
	ASSERT(p);
	memcpy(sid, p + 16, 32);
	sid[32] = 0;
	/* The same connection again (keep-alive): a tool call on the session. */
	w_reset(&b);
	w_post(client_fd, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	ASSERT(w_until(client_fd, &b, "HTTP/1.1 202 Accepted\r\n"));
	w_reset(&b);
	w_post(client_fd, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
			       "\"read_text_file\",\"arguments\":{\"path\":\"a.md\"}}}");
	ASSERT(w_until(client_fd, &b, "hello from a"));
	ASSERT(strstr(b.p, "\"id\":2"));
	/* Shutdown closes it. */
	w_ask(run, W_ASK_SHUTDOWN);
	w_until_eof(client_fd, &b);
	free(b.p);
}

int main(void)
{
	int config, base_fds;

	root = t_tmpdir();
	t_write_file(root, "a.md", "hello from a\n", 13);
	signal(SIGPIPE, SIG_IGN);
	base_fds = t_fd_count();
	for (config = 0; config < 3; config++) {
		struct w_srv s;
		struct rb_http_opts o;
		struct timeval tv = { .tv_sec = 10 };
		int sv[2];

		if (!t_want_backend(config == 0 ? RB_IO_BACKEND_URING : RB_IO_BACKEND_THREADS))
			continue;
		fprintf(stderr, "== %s\n", w_config_name[config]);
		memset(&o, 0, sizeof(o));
		if (!w_srv_start(&s, config, &o, root))
			continue;
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ASSERT_EQ(rb_http_adopt_fd(s.h, sv[1]), 0);
		client_fd = sv[0];
		w_run_client(&s, over_socketpair);
		close(sv[0]);
		/* Shutting down: refused, and the fd stays the caller's. */
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		ASSERT_EQ(rb_http_adopt_fd(s.h, sv[1]), -ESHUTDOWN);
		ASSERT_EQ(fcntl(sv[1], F_GETFD), FD_CLOEXEC);
		close(sv[0]);
		close(sv[1]);
		w_srv_stop(&s);
		ASSERT_EQ(t_fd_count(), base_fds);
	}
	t_rmtree(root);
	return T_EXIT_PASS;
}
