/* cli.h: the subcommands and the runtime they share.
 * A runtime is loop + io backend + cap + fs, built from common options
 * (--io=auto|uring|threads, --threads N, --cap N, roots). With --io=auto the
 * ring is tried first and, when io_uring is blocked, the threads backend on
 * the epoll engine is used and the reason is printed on stderr; an explicit
 * --io=uring fails with a clear message instead. */
#ifndef RINGBANK_CLI_H
#define RINGBANK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ringbank/cap.h"
#include "ringbank/fs.h"
#include "ringbank/io.h"
#include "ringbank/loop.h"

enum rb_io_choice { RB_IO_CHOICE_AUTO, RB_IO_CHOICE_URING, RB_IO_CHOICE_THREADS };

struct rb_runtime_opts {
	enum rb_io_choice io;
	unsigned threads;	/* threads backend pool (0 = 4) */
	unsigned permits;	/* cap (0 = default) */
	size_t max_file_bytes;	/* 0 = default */
	bool quiet;		/* no info line (the io_uring fallback note is always printed) */
};

struct rb_runtime {
	struct rb_loop *loop;
	struct rb_io *io;
	struct rb_cap cap;
	struct rb_fs *fs;
};

/* Parses "--io=X", "--io X", "--threads N", "--cap N", "--max-file-bytes N" at
 * argv[*i] (advancing *i when it takes a value). Returns 1 if consumed, 0 if
 * not one of these, -1 on a bad value (message printed). */
int rb_runtime_parse_opt(struct rb_runtime_opts *o, int argc, char **argv, int *i);
/* Those options' lines of `ringbank --help` ("  --cap N   ops in flight..."). */
void rb_cli_common_usage(FILE *f);
/* Creates everything; prints a clear message on stderr and returns -errno on failure. */
int rb_runtime_init(struct rb_runtime *rt, const struct rb_runtime_opts *o);
/* Drains (stops io workers, runs the loop to the end) and frees. */
void rb_runtime_deinit(struct rb_runtime *rt);

int rb_cli_scan(int argc, char **argv);	 /* src/cli/scan.c */
int rb_cli_serve(int argc, char **argv); /* src/cli/serve.c */
int rb_cli_call(int argc, char **argv);	 /* src/cli/call.c */

#endif
