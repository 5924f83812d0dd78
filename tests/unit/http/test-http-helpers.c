/* Description: the HTTP transport's pure helpers: listen-address parsing,
 * Origin and Host validation (DNS rebinding), the constant-time token
 * comparison, protocol-version checks, and the serve option parser. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "ringbank/http.h"
#include "t.h"

static void listen_ok(const char *s, int family, const char *addr, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[64];

	if (rb_http_parse_listen(s, &ss, &len) != 0)
		T_FAIL("parse_listen(%s) failed", s);
	ASSERT_EQ(ss.ss_family, family);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, buf, sizeof(buf));
		ASSERT_EQ(ntohs(a->sin_port), port);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof(buf));
		ASSERT_EQ(ntohs(a->sin6_port), port);
	}
	ASSERT_STREQ(buf, addr);
}

static void listen_bad(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (rb_http_parse_listen(s, &ss, &len) != -EINVAL)
		T_FAIL("parse_listen(%s) should fail", s);
}

static void opts(void)
{
	struct rb_http_opts o = { 0 };
	char *argv[] = { "serve", "--http", "127.0.0.1:9", "--token-file=/t", "--allowed-origin", "https://a.example",
			 "--http-idle-timeout", "500ms", "--http-request-timeout=3", "--http-max-connections", "7",
			 "--http-session-timeout", "0", "--cap", "4", NULL };
	int argc = 15, i;

	i = 1;
	ASSERT_EQ(rb_http_parse_opt(&o, argc, argv, &i), 1);
	ASSERT_EQ(i, 2);
	ASSERT_STREQ(o.listen, "127.0.0.1:9");
	i = 3;
	ASSERT_EQ(rb_http_parse_opt(&o, argc, argv, &i), 1);
	ASSERT_STREQ(o.token_file, "/t");
	i = 4;
	ASSERT_EQ(rb_http_parse_opt(&o, argc, argv, &i), 1);
	ASSERT_EQ(o.n_allowed_origins, 1);
	ASSERT_STREQ(o.allowed_origins[0], "https://a.example");
	i = 6;
	ASSERT_EQ(rb_http_parse_opt(&o, argc, argv, &i), 1);
	ASSERT_EQ(o.idle_timeout_ms, 500);
	i = 8;
	ASSERT_EQ(rb_http_parse_opt(&o, argc, argv, &i), 1);
	ASSERT_EQ(o.request_timeout_ms, 3000);
	i = 9;
	ASSERT_EQ(rb_http_parse_opt(&o, argc, argv, &i), 1);
	ASSERT_EQ(o.max_connections, 7);
	i = 11;
	ASSERT_EQ(rb_http_parse_opt(&o, argc, argv, &i), -1); /* 0 s is not a timeout */
	i = 13;
	ASSERT_EQ(rb_http_parse_opt(&o, argc, argv, &i), 0); /* not ours */
}

int main(void)
{
	const char *extra[] = { "https://bank.example.com", "http://10.0.0.5:8080/" };

	listen_ok("127.0.0.1:8765", AF_INET, "127.0.0.1", 8765);
	listen_ok(":0", AF_INET, "127.0.0.1", 0);
	listen_ok("localhost:80", AF_INET, "127.0.0.1", 80);
	listen_ok("0.0.0.0:1", AF_INET, "0.0.0.0", 1);
	listen_ok("[::1]:9000", AF_INET6, "::1", 9000);
	listen_ok("[::]:9000", AF_INET6, "::", 9000);
	listen_bad("127.0.0.1");
	listen_bad("127.0.0.1:");
	listen_bad("127.0.0.1:65536");
	listen_bad("127.0.0.1:-1");
	listen_bad("example.com:80");
	listen_bad("::1:80");
	listen_bad("[::1]80");
	listen_bad("[nonsense]:80");

	/* Origin: loopback names on any port, exact extra origins; nothing else. */
	ASSERT(rb_http_origin_allowed(NULL, NULL, 0));
	ASSERT(rb_http_origin_allowed("http://localhost", NULL, 0));
	ASSERT(rb_http_origin_allowed("http://localhost:3000", NULL, 0));
	ASSERT(rb_http_origin_allowed("https://127.0.0.1:8443", NULL, 0));
	ASSERT(rb_http_origin_allowed("http://[::1]:6274", NULL, 0));
	ASSERT(rb_http_origin_allowed("HTTP://LOCALHOST:1", NULL, 0));
	ASSERT(!rb_http_origin_allowed("http://evil.example.com", NULL, 0));
	ASSERT(!rb_http_origin_allowed("http://localhost.evil.com", NULL, 0));
	ASSERT(!rb_http_origin_allowed("http://127.0.0.1.nip.io", NULL, 0));
	ASSERT(!rb_http_origin_allowed("http://localhost@evil.com", NULL, 0));
	ASSERT(!rb_http_origin_allowed("http://localhost:80x", NULL, 0));
	ASSERT(!rb_http_origin_allowed("null", NULL, 0));
	ASSERT(!rb_http_origin_allowed("file://localhost", NULL, 0));
	ASSERT(!rb_http_origin_allowed("", NULL, 0));
	ASSERT(!rb_http_origin_allowed("https://bank.example.com", NULL, 0));
	ASSERT(rb_http_origin_allowed("https://bank.example.com", extra, 2));
	ASSERT(rb_http_origin_allowed("HTTPS://BANK.EXAMPLE.COM", extra, 2));
	ASSERT(rb_http_origin_allowed("http://10.0.0.5:8080", extra, 2));
	ASSERT(!rb_http_origin_allowed("http://bank.example.com", extra, 2));
	ASSERT(!rb_http_origin_allowed("https://bank.example.com:444", extra, 2));

	/* Host: loopback names, or the host of an allowed origin. */
	ASSERT(rb_http_host_allowed("localhost", NULL, 0));
	ASSERT(rb_http_host_allowed("127.0.0.1:8765", NULL, 0));
	ASSERT(rb_http_host_allowed("[::1]:8765", NULL, 0));
	ASSERT(rb_http_host_allowed("LocalHost:1", NULL, 0));
	ASSERT(!rb_http_host_allowed("evil.example.com", NULL, 0));
	ASSERT(!rb_http_host_allowed("evil.example.com:8765", NULL, 0));
	ASSERT(!rb_http_host_allowed("127.0.0.1.evil.com", NULL, 0));
	ASSERT(!rb_http_host_allowed("", NULL, 0));
	ASSERT(!rb_http_host_allowed("localhost:", NULL, 0));
	ASSERT(rb_http_host_allowed("bank.example.com", extra, 2));
	ASSERT(rb_http_host_allowed("bank.example.com:443", extra, 2));

	/* Tokens: equal only when equal, whatever the lengths. */
	ASSERT(rb_http_token_equal("s3cret-token", 12, "s3cret-token", 12));
	ASSERT(!rb_http_token_equal("s3cret-token", 12, "s3cret-tokeN", 12));
	ASSERT(!rb_http_token_equal("s3cret-token", 12, "s3cret-toke", 11));
	ASSERT(!rb_http_token_equal("s3cret-token", 12, "s3cret-token!", 13));
	ASSERT(!rb_http_token_equal("s3cret-token", 12, "", 0));
	ASSERT(!rb_http_token_equal("abc", 3, "abc\0", 4));

	ASSERT(rb_http_version_supported("2025-11-25"));
	ASSERT(rb_http_version_supported("2025-06-18"));
	ASSERT(rb_http_version_supported("2025-03-26"));
	ASSERT(rb_http_version_supported("2024-11-05"));
	ASSERT(!rb_http_version_supported("2030-01-01"));
	ASSERT(!rb_http_version_supported(""));

	opts();
	return T_EXIT_PASS;
}
