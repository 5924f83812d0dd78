/* serve.c: `ringbank serve [OPTIONS] ROOT...`: the MCP server on stdin and
 * stdout, or with --http on the Streamable HTTP transport (http.h).
 * stdout carries the protocol only; every log line goes to stderr.
 * SIGINT/SIGTERM/SIGHUP arrive on the loop (signalfd): reading stops,
 * calls are cancelled, replies are flushed and the process exits 0; a
 * second signal exits at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void usage(FILE *f)
{
	fputs("usage: ringbank serve [--io=auto|uring|threads] [--threads N] [--cap N] [--max-file-bytes N]\n"
	      "                      [--max-message-bytes N] [--max-reply-bytes N]\n"
	      "                      [--http ADDR:PORT [--token-file F] [--allowed-origin O]...] ROOT...\n"
	      "MCP server over stdio; ROOTs are the allowed directories (MEMORY_BANK_ROOT when none is given).\n"
	      "  --max-message-bytes N  longest incoming message (default 16 MiB); longer lines are refused\n"
	      "  --max-reply-bytes N    longest reply line (default 8 MiB); a bigger tool result becomes an\n"
	      "                         isError result asking to page or narrow the request\n",
	      f);
	rb_http_usage(f);
	rb_jobs_usage(f);
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

static int parse_size(const char *opt, const char *v, size_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v ? v : "", &end, 10);
	if (!v || !*v || *end || errno || x < 64 || x > (1ull << 30)) {
		fprintf(stderr, "ringbank serve: %s expects a number of bytes from 64 to %llu, got '%s'\n", opt,
			1ull << 30, v ? v : "");
		return -1;
	}
	*out = (size_t)x;
	return 0;
}

int rb_cli_serve(int argc, char **argv)
{
	struct rb_runtime_opts ro = { .quiet = true };
	struct rb_stdio_opts so = { .in_fd = 0, .out_fd = 1, .max_message_bytes = RB_MCP_MAX_MESSAGE_DEFAULT };
	struct rb_http_opts ho = { 0 };
	struct rb_jobs_opts jo = { 0 };
	struct serve s;
	const char **roots = calloc((size_t)argc + 1, sizeof(char *)), *env;
	char list[2048] = "";
	size_t nroots = 0, i;
	int r, a;

	if (!roots)
		return 1;
	for (a = 1; a < argc; a++) {
		const char *arg = argv[a];
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			usage(stdout);
			free(roots);
			return 0;
		}
		r = rb_runtime_parse_opt(&ro, argc, argv, &a);
		if (r < 0)
			goto bad;
		if (r > 0)
			continue;
		r = rb_http_parse_opt(&ho, argc, argv, &a);
		if (r < 0)
			goto bad;
		if (r > 0)
			continue;
		r = rb_jobs_parse_opt(&jo, argc, argv, &a);
		if (r < 0)
			goto bad;
		if (r > 0)
			continue;
		if (!strncmp(arg, "--max-message-bytes", 19) && (arg[19] == '=' || !arg[19])) {
			const char *v = arg[19] == '=' ? arg + 20 : (a + 1 < argc ? argv[++a] : NULL);
			if (parse_size("--max-message-bytes", v, &so.max_message_bytes) < 0)
				goto bad;
			continue;
		}
		if (!strncmp(arg, "--max-reply-bytes", 17) && (arg[17] == '=' || !arg[17])) {
			const char *v = arg[17] == '=' ? arg + 18 : (a + 1 < argc ? argv[++a] : NULL);
			if (parse_size("--max-reply-bytes", v, &so.mcp.max_reply_bytes) < 0)
				goto bad;
			continue;
		}
		if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "ringbank serve: unknown option '%s'\n", arg);
			usage(stderr);
			goto bad;
		}
		roots[nroots++] = arg;
	}
	if (!ho.listen && (ho.token_file || ho.n_allowed_origins)) {
		fprintf(stderr, "ringbank serve: --token-file and --allowed-origin only apply with --http\n");
		goto bad;
	}
	env = getenv("MEMORY_BANK_ROOT");
	if (!nroots && env && *env)
		roots[nroots++] = env;
	if (!nroots) {
		fprintf(stderr, "ringbank serve: no root directory: give ROOT... or set MEMORY_BANK_ROOT\n");
		usage(stderr);
		goto bad;
	}

	/* Before any thread exists, so the io workers inherit the mask and
	 * only the signalfd sees these signals. */
	rb_sigwatch_block();
	memset(&s, 0, sizeof(s));
	if (rb_runtime_init(&s.rt, &ro) < 0)
		goto bad;
	for (i = 0; i < nroots; i++) {
		r = rb_fs_add_root(s.rt.fs, roots[i]);
		if (r < 0) {
			fprintf(stderr, "ringbank serve: root %s: %s\n", roots[i], rb_strerror(r));
			rb_runtime_deinit(&s.rt);
			goto bad;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 rb_fs_root_path(s.rt.fs, i));
	}
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
	free(roots);
	return 0;
bad:
	free(roots);
	return 1;
}
