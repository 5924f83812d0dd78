/* lines.c: newline framing for the stdio transport, with a size limit that
 * never buffers an oversized line whole.
 *
 * The buffer holds at most one partial line (compacted to the front after
 * each commit) plus the chunk just read; `scan` remembers how far the
 * partial line was already searched for '\n', so a 16 MiB message read in
 * 64 KiB chunks costs one pass, not a quadratic rescan. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringbank/mcp.h"

#define LINES_MIN_CAP (64u << 10)

void rb_lines_init(struct rb_lines *l, size_t max, void (*line)(void *ctx, const char *s, size_t n),
		   void (*oversized)(void *ctx, size_t n, size_t max), void *ctx)
{
	memset(l, 0, sizeof(*l));
	l->max = max ? max : RB_MCP_MAX_MESSAGE_DEFAULT;
	l->line = line;
	l->oversized = oversized;
	l->ctx = ctx;
}

void rb_lines_deinit(struct rb_lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = l->scan = 0;
}

ssize_t rb_lines_space(struct rb_lines *l, size_t want, char **p)
{
	if (l->cap - l->len < want) {
		size_t ncap = l->cap ? l->cap : LINES_MIN_CAP;
		char *nb;
		while (ncap - l->len < want)
			ncap *= 2;
		nb = realloc(l->buf, ncap);
		if (!nb)
			return -ENOMEM;
		l->buf = nb;
		l->cap = ncap;
	}
	*p = l->buf + l->len;
	return (ssize_t)(l->cap - l->len);
}

static void emit(struct rb_lines *l, const char *s, size_t n)
{
	size_t i;

	if (n && s[n - 1] == '\r')
		n--;
	if (n > l->max) {
		l->oversized(l->ctx, n, l->max);
		return;
	}
	/* Blank lines (keep-alives, a stray "\r\n") are not messages. */
	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			break;
	if (i < n)
		l->line(l->ctx, s, n);
}

void rb_lines_commit(struct rb_lines *l, size_t n)
{
	size_t end = l->len + n, pos = 0, from = l->scan;
	char *nl;

	if (l->skipping) {
		nl = memchr(l->buf, '\n', end);
		if (!nl) {
			/* Still inside the oversized line: count and drop. */
			l->skipped += end;
			l->len = l->scan = 0;
			return;
		}
		l->skipped += (size_t)(nl - l->buf);
		l->skipping = false;
		l->oversized(l->ctx, l->skipped, l->max);
		l->skipped = 0;
		pos = from = (size_t)(nl - l->buf) + 1;
	}
	while (from < end && (nl = memchr(l->buf + from, '\n', end - from))) {
		size_t i = (size_t)(nl - l->buf);
		emit(l, l->buf + pos, i - pos);
		pos = from = i + 1;
	}
	if (end - pos > l->max) {
		/* A partial line already over the limit: drop it now and count
		 * the rest up to its newline without keeping it. */
		l->skipping = true;
		l->skipped = end - pos;
		l->len = l->scan = 0;
	} else {
		memmove(l->buf, l->buf + pos, end - pos);
		l->len = l->scan = end - pos;
	}
	/* Give back the memory a huge message needed once it is gone. */
	if (l->cap > 4 * LINES_MIN_CAP && l->len < LINES_MIN_CAP) {
		char *nb = realloc(l->buf, LINES_MIN_CAP);
		if (nb) {
			l->buf = nb;
			l->cap = LINES_MIN_CAP;
		}
	}
}

void rb_lines_eof(struct rb_lines *l)
{
	if (l->skipping) {
		l->skipping = false;
		l->oversized(l->ctx, l->skipped, l->max);
		l->skipped = 0;
	} else if (l->len) {
		size_t n = l->len;
		l->len = l->scan = 0;
		emit(l, l->buf, n);
	}
}

int rb_lines_feed(struct rb_lines *l, const char *data, size_t n)
{
	while (n) {
		char *p;
		size_t chunk = n < LINES_MIN_CAP ? n : LINES_MIN_CAP;
		ssize_t room = rb_lines_space(l, chunk, &p);
		if (room < 0)
			return (int)room;
		memcpy(p, data, chunk);
		rb_lines_commit(l, chunk);
		data += chunk;
		n -= chunk;
	}
	return 0;
}
