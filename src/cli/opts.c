/* opts.c: the table-driven option parser and help printer of the
 * subcommands (opts.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"
#include "ringbank/cli.h"
#include "ringbank/error.h"

/* The synopsis is wrapped before this column. */
#define SYNOPSIS_WIDTH 92

/* argv[*i] is name, "name=V" or "name" followed by V (NULL at the end). */
static bool opt_match(const char *name, int argc, char **argv, int *i, const char **v)
{
	const char *a = argv[*i];
	size_t l = strlen(name);

	if (strncmp(a, name, l) || (a[l] != '=' && a[l]))
		return false;
	if (a[l] == '=')
		*v = a + l + 1;
	else
		*v = *i + 1 < argc ? argv[++*i] : NULL;
	return true;
}

static int parse_num(const char *cmd, const struct cli_opt *o, const char *v, unsigned long long *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v ? v : "", &end, 10);
	if (!v || !*v || *end || errno || x < o->min || x > o->max) {
		if (o->kind == CLI_BYTES)
			fprintf(stderr, "ringbank %s: %s expects a number of bytes from %llu to %llu, got '%s'\n", cmd,
				o->name, o->min, o->max, v ? v : "");
		else
			fprintf(stderr, "ringbank: %s expects a number from %llu to %llu, got '%s'\n", o->name, o->min,
				o->max, v ? v : "");
		return -1;
	}
	*out = x;
	return 0;
}

static int take(const char *cmd, const struct cli_opt *o, void *dst, const char *v)
{
	unsigned long long x = 0;

	switch (o->kind) {
	case CLI_IO: {
		enum rb_io_choice *io = dst;
		if (v && !strcmp(v, "auto"))
			*io = RB_IO_CHOICE_AUTO;
		else if (v && !strcmp(v, "uring"))
			*io = RB_IO_CHOICE_URING;
		else if (v && !strcmp(v, "threads"))
			*io = RB_IO_CHOICE_THREADS;
		else {
			fprintf(stderr, "ringbank: %s expects auto, uring or threads, got '%s'\n", o->name, v ? v : "");
			return -1;
		}
		return 1;
	}
	case CLI_UINT:
		if (parse_num(cmd, o, v, &x) < 0)
			return -1;
		*(unsigned *)dst = (unsigned)x;
		return 1;
	case CLI_SIZE:
	case CLI_BYTES:
		if (parse_num(cmd, o, v, &x) < 0)
			return -1;
		*(size_t *)dst = (size_t)x;
		return 1;
	case CLI_DIR: {
		struct cli_list *l = dst;
		if (!v || !*v) {
			fprintf(stderr, "ringbank %s: %s expects a directory\n", cmd, o->name);
			return -1;
		}
		l->v[l->n++] = v;
		return 1;
	}
	}
	return -1;
}

int cli_parse_opt(const char *cmd, const struct cli_group *g, int argc, char **argv, int *i)
{
	const char *v;
	size_t k;

	for (k = 0; k < g->n; k++)
		if (opt_match(g->opts[k].name, argc, argv, i, &v))
			return take(cmd, &g->opts[k], (char *)g->base + g->opts[k].off, v);
	return 0;
}

int cli_parse(const struct cli_cmd *c, int argc, char **argv)
{
	size_t k;
	int a, r;

	for (a = 1; a < argc; a++) {
		const char *arg = argv[a];
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			c->usage(c, stdout);
			return 1;
		}
		for (k = 0, r = 0; k < c->ngroups && !r; k++)
			r = cli_parse_opt(c->name, &c->groups[k], argc, argv, &a);
		if (!r && c->more)
			r = c->more(c->ctx, argc, argv, &a);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (arg[0] == '-' && arg[1]) {
			fprintf(stderr, "ringbank %s: unknown option '%s'\n", c->name, arg);
			c->usage(c, stderr);
			return -1;
		}
		if (c->operand(c->ctx, arg) < 0)
			return -1;
	}
	return 0;
}

/* ---- help ------------------------------------------------------------------------------------- */

/* "--io=auto|uring|threads", "--cap N". */
static void opt_label(const struct cli_opt *o, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s", o->name, o->kind == CLI_IO ? "=" : " ", o->arg);
}

struct line {
	FILE *f;
	size_t col, indent;
};

static void word(struct line *l, const char *w)
{
	size_t n = strlen(w);

	if (l->col + 1 + n > SYNOPSIS_WIDTH) {
		fprintf(l->f, "\n%*s", (int)l->indent, "");
		l->col = l->indent;
	} else {
		fputc(' ', l->f);
		l->col++;
	}
	fputs(w, l->f);
	l->col += n;
}

void cli_synopsis(const struct cli_cmd *c, FILE *f)
{
	struct line l = { .f = f };
	char label[128], w[132];
	size_t g, k;
	int n;

	n = fprintf(f, "usage: ringbank %s", c->name);
	l.col = n > 0 ? (size_t)n : 0;
	l.indent = l.col + 1;
	if (c->lead)
		word(&l, c->lead);
	for (g = 0; g < c->ngroups; g++) {
		const struct cli_group *gr = &c->groups[g];
		for (k = 0; k < (gr->nlisted ? gr->nlisted : gr->n); k++) {
			opt_label(&gr->opts[k], label, sizeof(label));
			/* A command's directories are what it works on: not optional. */
			snprintf(w, sizeof(w), gr->opts[k].kind == CLI_DIR ? "%s..." : "[%s]", label);
			word(&l, w);
		}
	}
	if (c->tail)
		word(&l, c->tail);
	fputc('\n', f);
}

void cli_list_help(FILE *f, const struct cli_opt *opts, size_t n, int width)
{
	char label[128];
	const char *h;
	size_t k;

	for (k = 0; k < n; k++) {
		if (!opts[k].help)
			continue;
		opt_label(&opts[k], label, sizeof(label));
		fprintf(f, "  %-*s", width, label);
		for (h = opts[k].help; *h; h++) {
			fputc(*h, f);
			if (*h == '\n')
				fprintf(f, "%*s", width + 2, "");
		}
		fputc('\n', f);
	}
}

/* ---- roots ------------------------------------------------------------------------------------ */

int cli_list_init(struct cli_list *l, int argc)
{
	l->n = 0;
	l->v = calloc((size_t)argc + 1, sizeof(char *));
	return l->v ? 0 : -ENOMEM;
}

void cli_list_free(struct cli_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void cli_roots_default(struct cli_list *l)
{
	const char *env = getenv("MEMORY_BANK_ROOT");

	if (!l->n && env && *env)
		l->v[l->n++] = env;
}

int cli_add_roots(const char *cmd, struct rb_fs *fs, const struct cli_list *l)
{
	size_t i;
	int r;

	for (i = 0; i < l->n; i++) {
		r = rb_fs_add_root(fs, l->v[i]);
		if (r < 0) {
			fprintf(stderr, "ringbank %s: root %s: %s\n", cmd, l->v[i], rb_strerror(r));
			return r;
		}
	}
	return 0;
}
