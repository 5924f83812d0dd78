/* serve.c: `ringbank serve [OPTIONS] ROOT...`: the MCP server on stdin and
 * stdout, or with --http on the Streamable HTTP transport (http.h).
 * stdout carries the protocol only; every log line goes to stderr.
 * SIGINT/SIGTERM/SIGHUP arrive on the loop (signalfd): reading stops,
 * calls are cancelled, replies are flushed and the process exits 0; a
 * second signal exits at once. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "ringbank/cli.h"
#include "ringbank/http.h"
#include "ringbank/jobs.h"
#include "ringbank/mcp.h"

struct serve {
	struct rb_runtime rt;
	struct rb_stdio *st;
	struct rb_http *http; /* --http: instead of st */
	struct rb_jobs *jobs; /* background jobs (issue 5) */
	struct rb_sigwatch sig;
	bool done, signalled;
	int err;
};

/* serve's own options: offsets in struct rb_stdio_opts (HTTP takes them from there too). */
static const struct cli_opt serve_opts[] = {
	{ "--max-message-bytes", "N", "longest incoming message (default 16 MiB); longer lines are refused",
	  CLI_BYTES, 64, 1ull << 30, offsetof(struct rb_stdio_opts, max_message_bytes) },
	{ "--max-reply-bytes", "N",
	  "longest reply line (default 8 MiB); a bigger tool result becomes an\n"
	  "isError result asking to page or narrow the request",
	  CLI_BYTES, 64, 1ull << 30, offsetof(struct rb_stdio_opts, mcp.max_reply_bytes) },
};

static void usage(const struct cli_cmd *cmd, FILE *f)
{
	cli_synopsis(cmd, f);
	fputs("MCP server over stdio; ROOTs are the allowed directories (MEMORY_BANK_ROOT when none is given).\n", f);
	cli_list_help(f, serve_opts, sizeof(serve_opts) / sizeof(serve_opts[0]), 23);
	cli_list_help(f, cli_tools_opts, cli_tools_nopts, 23);
	rb_http_usage(f);
	rb_jobs_usage(f);
}

struct serve_args {
	struct rb_http_opts *ho;
	struct rb_jobs_opts *jo;
	struct cli_list roots;
};

/* The HTTP transport's and the job table's options. */
static int more_opts(void *ctx, int argc, char **argv, int *i)
{
	struct serve_args *sa = ctx;
	int r = rb_http_parse_opt(sa->ho, argc, argv, i);

	return r ? r : rb_jobs_parse_opt(sa->jo, argc, argv, i);
}

static int operand(void *ctx, const char *arg)
{
	struct serve_args *sa = ctx;

	sa->roots.v[sa->roots.n++] = arg;
	return 0;
}

static void on_done(void *ctx, int err)
{
	struct serve *s = ctx;
	s->done = true;
	s->err = err;
	rb_sigwatch_stop(&s->sig);
}

static void on_signal(struct rb_sigwatch *w, int signo)
{
	struct serve *s = w->data;

	if (s->signalled) {
		/* The second signal: the operator wants out now. */
		fprintf(stderr, "ringbank: %s again: exiting at once\n", strsignal(signo));
		_exit(128 + signo);
	}
	s->signalled = true;
	rb_log(RB_LOG_INFO, "%s: shutting down (cancelling calls in flight)", strsignal(signo));
	if (s->http)
		rb_http_shutdown(s->http);
	else
		rb_stdio_shutdown(s->st);
}

int rb_cli_serve(int argc, char **argv)
{
	struct rb_runtime_opts ro = { .quiet = true };
	struct rb_stdio_opts so = { .in_fd = 0, .out_fd = 1, .max_message_bytes = RB_MCP_MAX_MESSAGE_DEFAULT };
	struct rb_http_opts ho = { 0 };
	struct rb_jobs_opts jo = { 0 };
	struct rb_tools_opts to = RB_TOOLS_OPTS_INIT;
	struct serve_args sa = { .ho = &ho, .jo = &jo };
	const struct cli_group groups[] = {
		{ .opts = cli_runtime_opts, .n = cli_runtime_nopts, .base = &ro },
		{ .opts = serve_opts, .n = sizeof(serve_opts) / sizeof(serve_opts[0]), .base = &so },
		{ .opts = cli_tools_opts, .n = cli_tools_nopts, .base = &to },
	};
	const struct cli_cmd cmd = { .name = "serve", .groups = groups, .ngroups = 3,
				     .tail = "[--http ADDR:PORT [--token-file F] [--allowed-origin O]...] ROOT...",
				     .usage = usage, .more = more_opts, .operand = operand, .ctx = &sa };
	struct serve s;
	char list[2048] = "";
	size_t i;
	int r, rc = 2; /* a usage error (an unknown option, a bad value) until the options are taken */

	if (cli_list_init(&sa.roots, argc) < 0)
		return 1;
	r = cli_parse(&cmd, argc, argv);
	if (r > 0) {
		cli_list_free(&sa.roots);
		return 0;
	}
	if (r < 0)
		goto bad;
	if (!ho.listen && (ho.token_file || ho.n_allowed_origins)) {
		fprintf(stderr, "ringbank serve: --token-file and --allowed-origin only apply with --http\n");
		goto bad;
	}
	/* In range: the table's bounds are rb_tools_set_opts's. */
	if (rb_tools_set_opts(&to) < 0) {
		fprintf(stderr, "ringbank serve: --lock-wait-ms or --lock-stale-ms out of range\n");
		goto bad;
	}
	rc = 1; /* from here on, a failure to start (a bad root, an address in use...) */
	cli_roots_default(&sa.roots);
	if (!sa.roots.n) {
		fprintf(stderr, "ringbank serve: no root directory: give ROOT... or set MEMORY_BANK_ROOT\n");
		usage(&cmd, stderr);
		goto bad;
	}

	/* Before any thread exists, so the io workers inherit the mask and
	 * only the signalfd sees these signals. */
	rb_sigwatch_block();
	memset(&s, 0, sizeof(s));
	if (rb_runtime_init(&s.rt, &ro) < 0)
		goto bad;
	if (cli_add_roots("serve", s.rt.fs, &sa.roots) < 0) {
		rb_runtime_deinit(&s.rt);
		goto bad;
	}
	for (i = 0; i < sa.roots.n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 rb_fs_root_path(s.rt.fs, i));
	{
		const char *why = rb_loop_fallback_reason(s.rt.loop);
		rb_log(RB_LOG_INFO, "serving MCP on %s: io=%s%s%s%s, roots: %s", ho.listen ? "HTTP" : "stdio",
		       rb_io_name(s.rt.io),
		       why ? " (io_uring unavailable: " : "", why ? why : "", why ? ")" : "", list);
	}

	so.mcp.fs = s.rt.fs;
	r = rb_jobs_new(&s.jobs, s.rt.fs, &jo);
	if (r < 0) {
		fprintf(stderr, "ringbank serve: jobs: %s\n", strerror(-r));
		rb_runtime_deinit(&s.rt);
		goto bad;
	}
	rb_jobs_set_default(s.jobs);
	rb_jobs_recover_wait(s.jobs); /* jobs of dead processes -> interrupted */
	so.mcp.jobs = s.jobs;
	if (ho.listen) {
		ho.mcp = so.mcp;
		ho.max_body_bytes = so.max_message_bytes;
		r = rb_http_new(&s.http, &ho);
	} else {
		r = rb_stdio_new(&s.st, &so);
	}
	if (r < 0) {
		fprintf(stderr, "ringbank serve: %s\n", strerror(-r));
		if (rb_jobs_shutdown_wait(s.jobs))
			rb_jobs_free(s.jobs);
		rb_runtime_deinit(&s.rt);
		goto bad;
	}
	s.sig.data = &s;
	r = rb_sigwatch_start(s.rt.loop, &s.sig, on_signal);
	if (r < 0)
		rb_log(RB_LOG_WARNING, "signals: %s (SIGTERM will not shut down gracefully)", strerror(-r));
	if (s.http)
		rb_http_start(s.http, on_done, &s);
	else
		rb_stdio_start(s.st, on_done, &s);
	while (!s.done) {
		r = rb_loop_run_once(s.rt.loop, true, -1);
		if (r < 0) {
			rb_log(RB_LOG_ERROR, "event loop failed: %s", strerror(-r));
			fflush(stderr);
			_exit(1);
		}
	}
	if (s.err == -ETIMEDOUT) {
		/* Abandoned calls still own ops in flight: draining could hang and
		 * freeing would be unsafe. Replies are flushed; leave now. */
		fflush(stderr);
		_exit(1);
	}
	rb_stdio_free(s.st);
	rb_http_free(s.http);
	/* The sessions are gone; unfinished jobs are cancelled, recorded as
	 * interrupted, and every job file is written before we exit. */
	if (!rb_jobs_shutdown_wait(s.jobs)) {
		fflush(stderr);
		_exit(1);
	}
	rb_jobs_free(s.jobs);
	rb_runtime_deinit(&s.rt);
	cli_list_free(&sa.roots);
	return 0;
bad:
	cli_list_free(&sa.roots);
	return rc;
}
