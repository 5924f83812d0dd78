/* log.c: log lines to stderr (never stdout: it carries the protocol) and to
 * an optional sink (the MCP layer forwards them as notifications/message). */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "ringbank/loop.h"

static enum rb_log_level min_level = RB_LOG_INFO;
static void (*sink_fn)(void *ctx, enum rb_log_level lvl, const char *msg);
static void *sink_ctx;

void rb_log_set_level(enum rb_log_level lvl) { min_level = lvl; }

void rb_log_set_sink(void (*sink)(void *ctx, enum rb_log_level lvl, const char *msg), void *ctx)
{
	sink_fn = sink;
	sink_ctx = ctx;
}

void rb_log(enum rb_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "notice", "warning", "error" };
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lvl >= min_level)
		fprintf(stderr, "ringbank[%d] %s: %s\n", (int)getpid(), names[lvl], msg);
	if (sink_fn)
		sink_fn(sink_ctx, lvl, msg);
}
