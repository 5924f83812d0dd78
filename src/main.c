/* main.c: the ringbank command line: subcommand dispatch and --help. */
#include <stdio.h>
#include <string.h>

#include "ringbank/cli.h"

static const char usage[] =
	"usage: ringbank COMMAND [OPTIONS] ...\n"
	"\n"
	"ringbank serves very large memory-bank directories to coding agents over MCP,\n"
	"doing all file I/O on one io_uring loop.\n"
	"\n"
	"commands:\n"
	"  serve [OPTIONS] ROOT...        MCP server on stdin/stdout (roots: allowed directories;\n"
	"                                 MEMORY_BANK_ROOT when none is given)\n"
	"  serve --http ADDR:PORT ROOT... the same over MCP Streamable HTTP at http://ADDR:PORT/mcp\n"
	"                                 for many clients (--token-file F, --allowed-origin O;\n"
	"                                 limits: see ringbank serve --help)\n"
	"  call TOOL [JSON] --root DIR... run one tool without a client, print the result as JSON\n"
	"  scan [OPTIONS] DIR             count files, directories, symlinks, other, bytes (JSON)\n"
	"\n"
	"common options:\n";
/* Between the two: the common options, from their table (src/cli/runtime.c). */
static const char usage_tail[] =
	"\n"
	"  -h, --help                     this text\n"
	"  -V, --version                  the version\n"
	"\n"
	"environment:\n"
	"  MEMORY_BANK_ROOT               root for serve when no ROOT is given\n"
	"  RINGBANK_IO                    default for --io (auto, uring, threads)\n";

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	if (!cmd || !strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		FILE *f = cmd ? stdout : stderr;
		fputs(usage, f);
		rb_cli_common_usage(f);
		fputs(usage_tail, f);
		return cmd ? 0 : 2;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("ringbank %s\n", RB_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "scan"))
		return rb_cli_scan(argc - 1, argv + 1);
	if (!strcmp(cmd, "serve"))
		return rb_cli_serve(argc - 1, argv + 1);
	if (!strcmp(cmd, "call"))
		return rb_cli_call(argc - 1, argv + 1);
	fprintf(stderr, "ringbank: unknown command '%s' (try ringbank --help)\n", cmd);
	return 2;
}
