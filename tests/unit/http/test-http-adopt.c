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
	char sid[W_SID_SIZE];

	/* initialize (200, a session id), then initialized (202), both on the
	 * one connection (keep-alive), then a tool call on the session. */
	w_session_on(client_fd, &b, sid);
	w_post(client_fd, sid, NULL, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
				     "\"read_text_file\",\"arguments\":{\"path\":\"a.md\"}}}");
	ASSERT(w_until(client_fd, &b, "hello from a"));
	ASSERT(strstr(b.p, "\"id\":2"));
	/* Shutdown closes it. */
	w_ask(run, W_ASK_SHUTDOWN);
	w_until_eof(client_fd, &b);
	free(b.p);
}

static void one_config(int config)
{
	struct w_srv s;
	struct rb_http_opts o = { 0 };
	int sv[2];

	if (!w_srv_start(&s, config, &o, root))
		return;
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	w_client_sockopts(sv[0]);
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
}

int main(void)
{
	root = t_tmpdir();
	t_write_file(root, "a.md", "hello from a\n", 13);
	w_each_config(one_config);
	t_rmtree(root);
	return T_EXIT_PASS;
}
