/* Description: the stdio line splitter: lines split across reads, CRLF,
 * empty lines skipped, the size limit exact to the byte, an oversized line
 * refused with its full length and never buffered whole, the unterminated
 * last line at EOF. */
#include "t.h"
#include "ringbank/mcp.h"

struct seen {
	char lines[16][64];
	size_t n, over[8], nover;
};

static void on_line(void *ctx, const char *s, size_t n)
{
	struct seen *v = ctx;
	ASSERT(v->n < 16 && n < 64);
	memcpy(v->lines[v->n], s, n);
	v->lines[v->n++][n] = 0;
}

static void on_over(void *ctx, size_t n, size_t max)
{
	struct seen *v = ctx;
	ASSERT_EQ(max, 10);
	v->over[v->nover++] = n;
}

static int feed(struct rb_lines *l, const char *s)
{
	return rb_lines_feed(l, s, strlen(s));
}

int main(void)
{
	struct rb_lines l;
	struct seen v = { 0 };
	char *big;
	size_t i;

	rb_lines_init(&l, 10, on_line, on_over, &v);
	/* Split across feeds, CRLF, empty lines, exactly 10 bytes. */
	ASSERT_EQ(feed(&l, "{\"a\":"), 0);
	ASSERT_EQ(v.n, 0);
	ASSERT_EQ(feed(&l, "1}\r\n\n\r\n0123456789\nab"), 0);
	ASSERT_EQ(v.n, 2);
	ASSERT_STREQ(v.lines[0], "{\"a\":1}");
	ASSERT_STREQ(v.lines[1], "0123456789");
	ASSERT_EQ(v.nover, 0);
	/* 11 bytes, complete in one feed: refused with its length. */
	ASSERT_EQ(feed(&l, "c\n01234567890\nok\n"), 0);
	ASSERT_STREQ(v.lines[2], "abc");
	ASSERT_EQ(v.nover, 1);
	ASSERT_EQ(v.over[0], 11);
	ASSERT_STREQ(v.lines[3], "ok");

	/* 5 MiB without a newline, fed in pieces: counted, not buffered. */
	big = malloc(1 << 20);
	memset(big, 'x', 1 << 20);
	for (i = 0; i < 5; i++)
		ASSERT_EQ(rb_lines_feed(&l, big, 1 << 20), 0);
	ASSERT_LE(l.cap, 256 << 10);
	ASSERT_EQ(v.nover, 1);
	ASSERT_EQ(feed(&l, "yy\nafter\n"), 0);
	ASSERT_EQ(v.nover, 2);
	ASSERT_EQ(v.over[1], 5 * (1 << 20) + 2);
	ASSERT_STREQ(v.lines[4], "after");

	/* EOF: the unterminated last line counts; an oversized one is reported. */
	ASSERT_EQ(feed(&l, "tail"), 0);
	rb_lines_eof(&l);
	ASSERT_STREQ(v.lines[5], "tail");
	ASSERT_EQ(rb_lines_feed(&l, big, 100), 0);
	rb_lines_eof(&l);
	ASSERT_EQ(v.nover, 3);
	ASSERT_EQ(v.over[2], 100);
	ASSERT_EQ(v.n, 6);
	free(big);
	rb_lines_deinit(&l);
	return T_EXIT_PASS;
}
