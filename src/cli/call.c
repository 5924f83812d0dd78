/* call.c: `ringbank call TOOL [JSON] --root DIR...`: runs one tool without a
 * client and prints its result object (the same JSON as a tools/call
 * result) on stdout; exit 0, or 1 when isError, 2 on a usage error, 130
 * when interrupted (SIGINT cancels the call, which still finishes). Progress
 * goes to stderr when it is a terminal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "ringbank/cli.h"
#include "ringbank/mcp.h"

struct callrun {
	struct rb_runtime rt;
	struct rb_call *call;
	struct rb_sigwatch sig;
	bool done, is_error, interrupted, tty, progress_shown;
	char *out;
	size_t out_len;
};

static const struct cli_opt call_opts[] = {
	{ "--root", "DIR", NULL, CLI_DIR, 0, 0, 0 },
};

static void usage(const struct cli_cmd *cmd, FILE *f)
{
	cli_synopsis(cmd, f);
	fputs("Runs one tool and prints its result (the tools/call result object) as JSON.\n"
	      "Exit status: 0 success, 1 the tool reported an error, 2 usage error.\n",
	      f);
	cli_list_help(f, cli_tools_opts, cli_tools_nopts, 19);
}

struct call_args {
	const char *tool, *json;
};

static int operand(void *ctx, const char *arg)
{
	struct call_args *ca = ctx;

	if (!ca->tool) {
		ca->tool = arg;
	} else if (!ca->json) {
		ca->json = arg;
	} else {
		fprintf(stderr, "ringbank call: unexpected argument '%s' (quote the JSON as one argument)\n", arg);
		return -1;
	}
	return 0;
}

static void finished(struct rb_call *call, yyjson_mut_doc *doc, yyjson_mut_val *result, bool is_error)
{
	struct callrun *c = rb_call_owner(call);

	c->done = true;
	c->is_error = is_error;
	c->call = NULL;
	c->out = yyjson_mut_val_write(result, isatty(1) ? YYJSON_WRITE_PRETTY_TWO_SPACES : 0, &c->out_len);
	if (c->progress_shown)
		fputs("\r\033[K", stderr);
	rb_sigwatch_stop(&c->sig);
}

static void progress(struct rb_call *call, uint64_t cur, uint64_t total, const char *msg)
{
	struct callrun *c = rb_call_owner(call);

	c->progress_shown = true;
	if (total)
		fprintf(stderr, "\r%s: %llu/%llu (%u%%)%s%s\033[K", rb_call_tool(call)->name,
			(unsigned long long)cur, (unsigned long long)total, (unsigned)(cur * 100 / total),
			msg ? " " : "", msg ? msg : "");
	else if (msg) /* tools put the count in their message when there is no total */
		fprintf(stderr, "\r%s: %s\033[K", rb_call_tool(call)->name, msg);
	else
		fprintf(stderr, "\r%s: %llu\033[K", rb_call_tool(call)->name, (unsigned long long)cur);
}

static const struct rb_call_hooks hooks = { .finish = finished, .progress = progress };

static void on_signal(struct rb_sigwatch *w, int signo)
{
	struct callrun *c = w->data;

	if (c->interrupted)
		_exit(128 + signo);
	c->interrupted = true;
	if (c->call)
		rb_call_cancel(c->call);
}

int rb_cli_call(int argc, char **argv)
{
	struct rb_runtime_opts ro = { .quiet = true };
	struct cli_list roots;
	struct call_args ca = { 0 };
	struct rb_tools_opts to = RB_TOOLS_OPTS_INIT;
	const struct cli_group groups[] = {
		{ .opts = call_opts, .n = sizeof(call_opts) / sizeof(call_opts[0]), .base = &roots },
		{ .opts = cli_runtime_opts, .n = cli_runtime_nopts, .base = &ro },
		{ .opts = cli_tools_opts, .n = cli_tools_nopts, .base = &to },
	};
	const struct cli_cmd cmd = { .name = "call", .lead = "TOOL ['{json arguments}']", .groups = groups,
				     .ngroups = 3, .usage = usage, .operand = operand, .ctx = &ca };
	const char *tool_name, *json;
	const struct rb_tool *tool;
	yyjson_read_err err;
	yyjson_doc *args = NULL;
	struct callrun c;
	int r, rc = 2;

	if (cli_list_init(&roots, argc) < 0)
		return 2;
	memset(&c, 0, sizeof(c));
	r = cli_parse(&cmd, argc, argv);
	if (r != 0) {
		rc = r > 0 ? 0 : 2;
		goto out;
	}
	/* In range: the table's bounds are rb_tools_set_opts's. */
	if (rb_tools_set_opts(&to) < 0) {
		fprintf(stderr, "ringbank call: --lock-wait-ms or --lock-stale-ms out of range\n");
		goto out;
	}
	tool_name = ca.tool;
	json = ca.json;
	cli_roots_default(&roots);
	if (!tool_name || !roots.n) {
		fprintf(stderr, "ringbank call: %s\n", !tool_name ? "which tool?" : "no root: give --root DIR or set MEMORY_BANK_ROOT");
		usage(&cmd, stderr);
		goto out;
	}
	tool = rb_tool_find(tool_name);
	if (!tool) {
		const struct rb_tool *const *t;
		fprintf(stderr, "ringbank call: unknown tool '%s'; tools:", tool_name);
		for (t = rb_tools_all(); *t; t++)
			fprintf(stderr, " %s", (*t)->name);
		fputc('\n', stderr);
		goto out;
	}
	if (json) {
		args = yyjson_read_opts((char *)json, strlen(json), YYJSON_READ_NOFLAG, NULL, &err);
		if (!args || !yyjson_is_obj(yyjson_doc_get_root(args))) {
			if (args)
				fprintf(stderr, "ringbank call: the arguments must be a JSON object\n");
			else
				fprintf(stderr, "ringbank call: invalid JSON arguments: %s at byte %zu\n", err.msg, err.pos);
			goto out;
		}
	}

	rb_sigwatch_block();
	if (rb_runtime_init(&c.rt, &ro) < 0) {
		rc = 1;
		goto out;
	}
	if (cli_add_roots("call", c.rt.fs, &roots) < 0) {
		rb_runtime_deinit(&c.rt);
		goto out;
	}
	c.sig.data = &c;
	if (rb_sigwatch_start(c.rt.loop, &c.sig, on_signal) < 0)
		c.sig.fd = -1;
	c.tty = isatty(2);
	r = rb_call_new(&c.call, tool, c.rt.fs, args ? yyjson_doc_get_root(args) : NULL, c.tty, &hooks, &c);
	if (r < 0) {
		fprintf(stderr, "ringbank call: %s\n", strerror(-r));
		rb_sigwatch_stop(&c.sig);
		rb_runtime_deinit(&c.rt);
		rc = 1;
		goto out;
	}
	rb_call_start(c.call);
	while (!c.done) {
		r = rb_loop_run_once(c.rt.loop, true, -1);
		if (r < 0) {
			fprintf(stderr, "ringbank call: event loop failed: %s\n", strerror(-r));
			_exit(1);
		}
	}
	rb_runtime_deinit(&c.rt);
	/* The loop is gone: plain blocking stdio is fine now. */
	if (!c.out) {
		fprintf(stderr, "ringbank call: the result could not be encoded as JSON\n");
		rc = 1;
	} else {
		fwrite(c.out, 1, c.out_len, stdout);
		fputc('\n', stdout);
		rc = c.interrupted ? 130 : c.is_error ? 1 : 0;
	}
	free(c.out);
out:
	yyjson_doc_free(args);
	cli_list_free(&roots);
	return rc;
}
