/* uri.c: file:// URIs (MCP roots) to paths. Only local URIs are accepted:
 * an empty host or "localhost"; %XX escapes are decoded and an escaped NUL
 * is refused, so a root can never smuggle a truncated path. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "ringbank/mcp.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int rb_file_uri_to_path(const char *uri, size_t n, char *out, size_t outlen)
{
	const char *p = uri + 7, *end = uri + n, *slash;
	size_t o = 0;

	if (n < 8 || strncasecmp(uri, "file://", 7) || !outlen)
		return -EINVAL;
	slash = memchr(p, '/', (size_t)(end - p));
	if (!slash || (slash != p && !(slash - p == 9 && !strncasecmp(p, "localhost", 9))))
		return -EINVAL;
	for (p = slash; p < end && *p != '?' && *p != '#'; p++) {
		char c = *p;
		if (c == '%') {
			int hi, lo;
			if (end - p < 3 || (hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (c == 0)
			return -EINVAL;
		if (o + 1 >= outlen)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	while (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = 0;
	return 0;
}
