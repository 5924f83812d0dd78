/* opts.h: the subcommands' option parser (private to src/cli).
 *
 * An option is a row of a table: its spelling, the word for its value in the
 * help, its help text, what kind of value it takes and where that goes (an
 * offset from a base the command supplies). The same rows drive the parsing,
 * the synopsis of `ringbank CMD --help` and the option lists of the help, so
 * an option is spelled, ranged and described in one place. "--name=V" and
 * "--name V" are both accepted; a value missing at the end of the line
 * counts as empty (and is refused with the option's own message). */
#ifndef RB_CLI_OPTS_H
#define RB_CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

struct rb_fs;

enum cli_kind {
	CLI_IO,	   /* auto|uring|threads into an enum rb_io_choice */
	CLI_UINT,  /* a number from min to max into an unsigned; "ringbank: ..." on error */
	CLI_SIZE,  /* the same into a size_t */
	CLI_BYTES, /* a number of bytes from min to max into a size_t; the message names the command */
	CLI_DIR,   /* a directory (non-empty), appended to a struct cli_list; repeatable */
};

struct cli_opt {
	const char *name; /* "--cap" */
	const char *arg;  /* the value's word in the help: "N" (after '=' for CLI_IO) */
	const char *help; /* for the option lists; a '\n' starts an indented line */
	enum cli_kind kind;
	unsigned long long min, max; /* numbers */
	size_t off;		     /* where the value goes, from the group's base */
};

/* Options that share one destination struct. nlisted: how many of the
 * first rows the synopsis shows (0: all). */
struct cli_group {
	const struct cli_opt *opts;
	size_t n, nlisted;
	void *base;
};

/* A list of strings taken from the command line (CLI_DIR), room for argc. */
struct cli_list {
	const char **v;
	size_t n;
};

struct cli_cmd {
	const char *name;		/* "serve": in messages and the synopsis */
	const char *lead, *tail;	/* synopsis text before and after the options (or NULL) */
	const struct cli_group *groups; /* in synopsis and parsing order */
	size_t ngroups;
	void (*usage)(const struct cli_cmd *c, FILE *f);
	/* Options parsed by another module (rb_http_parse_opt...): 1 taken,
	 * 0 not its own, -1 a bad value (said). Optional. */
	int (*more)(void *ctx, int argc, char **argv, int *i);
	/* An argument that is not an option: 0, or -1 after saying why. */
	int (*operand)(void *ctx, const char *arg);
	void *ctx;
};

/* The options every command takes (struct rb_runtime_opts), --max-file-bytes
 * last (scan takes it but does not list it). */
extern const struct cli_opt cli_runtime_opts[];
extern const size_t cli_runtime_nopts;
/* The options of the commands that write (serve, call), into a struct
 * rb_tools_opts (mcp.h) initialised with RB_TOOLS_OPTS_INIT and then handed
 * to rb_tools_set_opts: --lock-wait-ms, --lock-stale-ms. */
extern const struct cli_opt cli_tools_opts[];
extern const size_t cli_tools_nopts;

/* Parses argv[1..]. Returns 1 after printing the usage on stdout (-h,
 * --help), 0 when every argument was taken, -1 after a message on stderr
 * (an unknown option is followed by the usage). */
int cli_parse(const struct cli_cmd *c, int argc, char **argv);
/* One option of the group at argv[*i] (advancing *i past its value): 1 taken,
 * 0 not one of them, -1 a bad value (said, as "ringbank CMD: ..." for the
 * kinds whose message names the command: CLI_BYTES, CLI_DIR). */
int cli_parse_opt(const char *cmd, const struct cli_group *g, int argc, char **argv, int *i);

/* "usage: ringbank CMD lead [opt]... tail", wrapped under its first word. */
void cli_synopsis(const struct cli_cmd *c, FILE *f);
/* "  --opt N    help" for each row with help, the help at column width + 2. */
void cli_list_help(FILE *f, const struct cli_opt *opts, size_t n, int width);

/* Room for every argument; -ENOMEM. */
int cli_list_init(struct cli_list *l, int argc);
void cli_list_free(struct cli_list *l);
/* No root given: MEMORY_BANK_ROOT, when set and not empty. */
void cli_roots_default(struct cli_list *l);
/* Adds every root to fs; on failure says "ringbank CMD: root DIR: reason"
 * and returns the error (roots added so far stay). */
int cli_add_roots(const char *cmd, struct rb_fs *fs, const struct cli_list *l);

#endif
