/* cli.c: what `ringbank serve` needs of the job table: its options and a
 * shutdown that runs the loop until every job has been written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs_internal.h"

void rb_jobs_usage(FILE *f)
{
	fputs("Background jobs:\n"
	      "  --state-dir DIR        where background jobs are recorded (default $XDG_STATE_HOME/ringbank,\n"
	      "                         else ~/.local/state/ringbank; '' keeps them in memory only)\n"
	      "  --max-jobs N           background jobs running at once; more wait as pending (default 4)\n"
	      "  Time budgets: RINGBANK_TIMEOUT_S (default 20) and RINGBANK_TIMEOUT_<TOOL>_S, in seconds;\n"
	      "  a call still running at its budget continues as a background job (0 = no budget).\n",
	      f);
}

int rb_jobs_parse_opt(struct rb_jobs_opts *o, int argc, char **argv, int *i)
{
	const char *a = argv[*i], *v = NULL;
	static const char *const names[] = { "--state-dir", "--max-jobs" };
	size_t k, l;
	char *end;
	unsigned long x;

	for (k = 0; k < 2; k++) {
		l = strlen(names[k]);
		if (!strncmp(a, names[k], l) && (a[l] == '=' || a[l] == '\0'))
			break;
	}
	if (k == 2)
		return 0;
	if (a[l] == '=')
		v = a + l + 1;
	else if (*i + 1 < argc)
		v = argv[++*i];
	if (!v) {
		fprintf(stderr, "ringbank serve: %s needs a value\n", names[k]);
		return -1;
	}
	if (k == 0) {
		o->state_dir = v;
		return 1;
	}
	errno = 0;
	x = strtoul(v, &end, 10);
	if (!*v || *end || errno || x < 1 || x > 1024) {
		fprintf(stderr, "ringbank serve: --max-jobs expects a number from 1 to 1024, got '%s'\n", v);
		return -1;
	}
	o->max_running = (unsigned)x;
	return 1;
}

struct wait {
	bool done, abandoned;
};

static void recovered(void *ctx, unsigned n)
{
	struct wait *w = ctx;
	w->done = true;
}

void rb_jobs_recover_wait(struct rb_jobs *jobs)
{
	struct wait w = { 0 };

	/* Before the server reads its first request: what it reports about
	 * jobs is settled, and nothing of the sweep (an open directory, a read
	 * in flight) is still going on when clients look at the process. */
	rb_jobs_recover(jobs, recovered, &w);
	while (!w.done || jobs->bg) /* with the rewrites of interrupted records */
		if (rb_loop_run_once(jobs->loop, true, 50) < 0)
			return;
}

static void shut(void *ctx, bool abandoned)
{
	struct wait *w = ctx;
	w->done = true;
	w->abandoned = abandoned;
}

bool rb_jobs_shutdown_wait(struct rb_jobs *jobs)
{
	struct wait w = { 0 };

	if (!jobs)
		return true;
	rb_jobs_shutdown(jobs, shut, &w);
	while (!w.done) {
		/* Bounded: the answer may come from a callback run at the start
		 * of a turn, after which the turn would otherwise sleep. */
		int r = rb_loop_run_once(jobs->loop, true, 50);
		if (r < 0) {
			rb_log(RB_LOG_ERROR, "jobs: event loop failed during shutdown: %s", strerror(-r));
			return false;
		}
	}
	return !w.abandoned;
}
