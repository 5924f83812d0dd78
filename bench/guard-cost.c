/*
 * guard-cost: what the FIFO guard of the whole-file read costs.
 *
 * src/fs/read.c's fast path is one RB_IO_READFILE request: on the uring
 * backend the linked chain OPENAT2 (direct) -> READ (64 KiB) -> CLOSE_DIRECT,
 * to which it adds a hardlinked IORING_OP_LINK_TIMEOUT on the READ (2 s), so
 * that a fifo with a silent writer (io_uring ignores O_NONBLOCK there) cannot
 * hold the read forever. This program reads NFILES files of 2 KiB through
 * exactly that request, 64 in flight, once with the timeout SQE and once
 * without, alternating the order each round, and prints per run the wall
 * time and the process's CPU time (getrusage RUSAGE_SELF: the loop thread
 * plus any io-wq workers, which are threads of this process), then the
 * medians and the ratio guard / no guard. The request is the same one the
 * fs layer issues (same flags, resolve, buffer size, deadline), so the
 * difference is the guard's alone; the fs layer's own cost, identical in
 * both, is measured too as a third mode (rb_fs_read_file, guard included)
 * to put the difference in proportion. A fourth mode, "sweep", prices the
 * alternative guard: no timeout SQE, but each request on a list with its
 * start time and one loop timer, armed while the list is not empty, that
 * would cancel requests older than the deadline (it never fires here: the
 * point is the bookkeeping's cost on the happy path).
 *
 * Not part of meson.build (like bench/sync-read.c). Build against a build
 * directory's static library, e.g.:
 *   cc -O2 -D_GNU_SOURCE -Iinclude -Isrc/fs bench/guard-cost.c \
 *      build-h2/libringbank.a -luring -lyyjson -lpthread -o /tmp/guard-cost
 *   /tmp/guard-cost /tmp/guard-bank 10000 5
 * The directory is filled with NFILES files of 2 KiB on the first run and
 * read once before measuring (warm cache).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "ringbank/cap.h"
#include "ringbank/fs.h"
#include "ringbank/io.h"
#include "ringbank/loop.h"

#define INFLIGHT 64
#define FILE_SIZE 2048
#define BUF (64u * 1024u)		  /* FS_FIRST_READ */
#define DEADLINE (2ull * 1000000000ull) /* FS_READFILE_DEADLINE_NS */
#define MAX_ROUNDS 64

static struct rb_loop *loop;
static struct rb_io *io;
static struct rb_cap cap;
static struct rb_fs *fs;
static int dirfd_;
static unsigned nfiles, next_file, done_files;
static uint64_t timeout_ns;
static char (*names)[16];

struct slot {
	struct rb_io_req req;
	char buf[BUF];
	struct rb_path p;
	struct rb_list node; /* sweep mode: on the in-flight list */
	uint64_t start_ns;
};
static struct slot slots[INFLIGHT];
static bool sweep_mode;
static struct rb_list sweep_list;
static struct rb_timer sweep_timer;
static unsigned sweep_cancels;

/* Cancels what is older than the deadline; re-arms while work is left. */
static void sweep(struct rb_timer *t)
{
	uint64_t now = rb_loop_now_ns(loop);
	struct rb_list *n;
	(void)t;
	while ((n = sweep_list.next) != &sweep_list) {
		struct slot *s = rb_container_of(n, struct slot, node);
		if (now - s->start_ns < DEADLINE)
			break;
		rb_list_del(n);
		rb_list_init(n);
		sweep_cancels++;
		rb_io_cancel(io, &s->req);
	}
	if (!rb_list_empty(&sweep_list))
		rb_timer_start(loop, &sweep_timer, 1000, sweep);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "guard-cost: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void io_next(struct slot *s);

static void io_done(struct rb_io_req *req)
{
	struct slot *s = req->data;
	if (sweep_mode) {
		rb_list_del(&s->node);
		rb_list_init(&s->node);
		if (rb_list_empty(&sweep_list))
			rb_timer_stop(loop, &sweep_timer);
	}
	if (req->res != FILE_SIZE)
		die("read", req->res < 0 ? (int)req->res : EIO);
	done_files++;
	io_next(s);
}

static void io_next(struct slot *s)
{
	int r;
	if (next_file >= nfiles)
		return;
	rb_io_prep(&s->req, RB_IO_READFILE, io_done, s);
	s->req.fd = dirfd_;
	s->req.path = names[next_file++];
	s->req.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	s->req.buf = s->buf;
	s->req.len = BUF;
	s->req.timeout_ns = timeout_ns;
	r = rb_io_submit(io, &s->req);
	if (r < 0)
		die("submit", r);
	if (sweep_mode) {
		if (rb_list_empty(&sweep_list))
			rb_timer_start(loop, &sweep_timer, 1000, sweep);
		s->start_ns = rb_loop_now_ns(loop);
		rb_list_add_tail(&sweep_list, &s->node);
	}
}

static void fs_next(struct slot *s);

static void fs_done(void *ctx, int res, struct rb_fs_file *f)
{
	struct slot *s = ctx;
	if (res < 0 || f->len != FILE_SIZE)
		die("fs read", res < 0 ? res : EIO);
	done_files++;
	fs_next(s);
}

static void fs_next(struct slot *s)
{
	int r;
	if (next_file >= nfiles)
		return;
	r = rb_fs_resolve(fs, names[next_file++], &s->p);
	if (r < 0)
		die("resolve", r);
	r = rb_fs_read_file(fs, &s->p, 0, 0, RB_CAP_INTERACTIVE, fs_done, s, NULL);
	if (r < 0)
		die("fs submit", r);
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* mode 0: READFILE with the guard, 1: without, 2: rb_fs_read_file,
 * 3: without, plus the sweep's bookkeeping. */
static void run(int mode, double *wall, double *cpu)
{
	uint64_t t0;
	double c0;
	unsigned i;

	next_file = done_files = 0;
	timeout_ns = mode == 0 || mode == 2 ? DEADLINE : 0;
	sweep_mode = mode == 3;
	c0 = cpu_s();
	t0 = rb_now_ns();
	for (i = 0; i < INFLIGHT; i++)
		(mode == 2 ? fs_next : io_next)(&slots[i]);
	while (done_files < nfiles)
		if (rb_loop_run_once(loop, true, 1000) < 0)
			die("loop", EIO);
	*wall = (double)(rb_now_ns() - t0) / 1e9;
	*cpu = cpu_s() - c0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static const char *const mname[] = { "guard", "noguard", "fs", "sweep" };
	struct rb_loop_opts lo = { .engine = RB_ENGINE_RING, .quiet = true };
	struct rb_io_opts ioo = { .kind = RB_IO_BACKEND_URING };
	double wall[4][MAX_ROUNDS], cpu[4][MAX_ROUNDS], wm[4], cm[4];
	unsigned rounds, i, k;
	char data[FILE_SIZE];
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: guard-cost DIR NFILES ROUNDS\n");
		return 2;
	}
	nfiles = (unsigned)strtoul(argv[2], NULL, 10);
	rounds = (unsigned)strtoul(argv[3], NULL, 10);
	if (!nfiles || !rounds || rounds > MAX_ROUNDS)
		die("arguments", EINVAL);
	mkdir(argv[1], 0755);
	dirfd_ = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd_ < 0)
		die(argv[1], errno);
	names = calloc(nfiles, sizeof(*names));
	memset(data, 'x', sizeof(data));
	for (i = 0; i < nfiles; i++) {
		struct stat sb;
		snprintf(names[i], sizeof(names[i]), "f%05u.md", i);
		if (fstatat(dirfd_, names[i], &sb, 0) < 0 || sb.st_size != FILE_SIZE) {
			int fd = openat(dirfd_, names[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
			if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data))
				die(names[i], errno);
			close(fd);
		}
	}
	rb_list_init(&sweep_list);
	r = rb_loop_new(&loop, &lo);
	if (r < 0)
		die("io_uring", r);
	r = rb_io_new(&io, loop, &ioo);
	if (r < 0)
		die("io", r);
	rb_cap_init(&cap, loop, NULL);
	if ((r = rb_fs_new(&fs, io, &cap, NULL)) < 0 || (r = rb_fs_add_root(fs, argv[1])) < 0)
		die("fs", r);
	run(0, &wall[0][0], &cpu[0][0]); /* warm the cache and the ring */
	for (k = 0; k < rounds; k++) {
		/* Alternate: guard, noguard, sweep, fs / noguard, guard, fs, sweep. */
		int order[4] = { 0, 1, 3, 2 };
		if (k % 2) {
			order[0] = 1;
			order[1] = 0;
			order[2] = 2;
			order[3] = 3;
		}
		for (i = 0; i < 4; i++) {
			int m = order[i];
			run(m, &wall[m][k], &cpu[m][k]);
			printf("{\"round\":%u,\"mode\":\"%s\",\"files\":%u,\"wall_s\":%.4f,\"cpu_s\":%.4f}\n", k, mname[m],
			       nfiles, wall[m][k], cpu[m][k]);
		}
	}
	for (i = 0; i < 4; i++) {
		wm[i] = median(wall[i], rounds);
		cm[i] = median(cpu[i], rounds);
	}
	printf("{\"median\":true,\"files\":%u,\"rounds\":%u,\"guard\":{\"wall_s\":%.4f,\"cpu_s\":%.4f},"
	       "\"noguard\":{\"wall_s\":%.4f,\"cpu_s\":%.4f},\"fs\":{\"wall_s\":%.4f,\"cpu_s\":%.4f},"
	       "\"sweep\":{\"wall_s\":%.4f,\"cpu_s\":%.4f},"
	       "\"guard_over_noguard\":{\"wall\":%.3f,\"cpu\":%.3f},\"sweep_over_noguard\":{\"wall\":%.3f,"
	       "\"cpu\":%.3f},\"cpu_us_per_file\":{\"guard\":%.2f,\"noguard\":%.2f,\"sweep\":%.2f,\"fs\":%.2f},"
	       "\"sweep_cancels\":%u}\n",
	       nfiles, rounds, wm[0], cm[0], wm[1], cm[1], wm[2], cm[2], wm[3], cm[3], wm[0] / wm[1], cm[0] / cm[1],
	       wm[3] / wm[1], cm[3] / cm[1], cm[0] / nfiles * 1e6, cm[1] / nfiles * 1e6, cm[3] / nfiles * 1e6,
	       cm[2] / nfiles * 1e6, sweep_cancels);
	rb_fs_free(fs);
	rb_io_shutdown(io);
	rb_loop_stop(loop);
	rb_loop_run(loop);
	rb_io_free(io);
	rb_loop_free(loop);
	rb_cap_deinit(&cap);
	close(dirfd_);
	free(names);
	return 0;
}
