/* Description: the process's threads while 10k ops run, 64 in flight
 * (READFILE, STATX, MKDIRAT + UNLINKAT of dirs, NOP). With the uring
 * backend there is exactly one user thread at every sample (the kernel's
 * io-wq workers, "iou-wrk-*", are counted apart and reported on stderr); with
 * the threads backend there are 1 + N, named "rb-io-0".."rb-io-N-1", each
 * blocking SIGTERM, SIGINT and SIGCHLD, and all are gone after teardown. */
#include <signal.h>

#include "io_t.h"

#define TOTAL 10000
#define DEPTH 64
#define NPOOL 4

struct slot {
	struct rb_io_req req;
	char buf[128];
	char name[32];
	struct statx stx;
};

static struct t_ctx *ctx;
static struct slot slots[DEPTH];
static int issued, done, samples, max_user, min_user = 1 << 30, max_iou;
static bool finished;

static void sample(void)
{
	int user, iou;
	t_thread_count(&user, &iou);
	samples++;
	if (user > max_user)
		max_user = user;
	if (user < min_user)
		min_user = user;
	if (iou > max_iou)
		max_iou = iou;
}

static void issue(struct slot *s);

static void on_done(struct rb_io_req *req)
{
	struct slot *s = req->data;
	if (++done % 500 == 0)
		sample();
	if (req->op == RB_IO_MKDIRAT) {
		ASSERT_EQ(req->res, 0);
		/* Remove it again with the next op from this slot. */
		rb_io_prep(&s->req, RB_IO_UNLINKAT, on_done, s);
		s->req.fd = ctx->dfd;
		s->req.path = s->name;
		s->req.flags = AT_REMOVEDIR;
		ASSERT_EQ(rb_io_submit(ctx->io, &s->req), 0); /* counted in issued at the mkdir */
		return;
	}
	ASSERT_EQ(req->res, req->op == RB_IO_READFILE ? 5 : 0);
	if (done == TOTAL)
		finished = true;
	else if (issued < TOTAL)
		issue(s);
}

static void issue(struct slot *s)
{
	int k = (int)(s - slots), n = issued;
	switch (n % 4) {
	case 0:
		rb_io_prep(&s->req, RB_IO_READFILE, on_done, s);
		s->req.fd = ctx->dfd;
		s->req.path = "five";
		s->req.buf = s->buf;
		s->req.len = sizeof s->buf;
		break;
	case 1:
		rb_io_prep(&s->req, RB_IO_STATX, on_done, s);
		s->req.fd = ctx->dfd;
		s->req.path = "five";
		s->req.mode = STATX_SIZE;
		s->req.stx = &s->stx;
		break;
	case 2:
		if (issued + 2 > TOTAL)
			goto nop;
		snprintf(s->name, sizeof s->name, "d%d", k);
		rb_io_prep(&s->req, RB_IO_MKDIRAT, on_done, s);
		s->req.fd = ctx->dfd;
		s->req.path = s->name;
		s->req.mode = 0755;
		issued++; /* the UNLINKAT that follows it */
		break;
	default:
	nop:
		rb_io_prep(&s->req, RB_IO_NOP, on_done, s);
		break;
	}
	ASSERT_EQ(rb_io_submit(ctx->io, &s->req), 0);
	issued++;
}

/* Signals blocked by thread tid, from /proc. */
static unsigned long long sigblk(const char *tid)
{
	char p[300], line[256];
	unsigned long long v = 0;
	FILE *f;
	snprintf(p, sizeof p, "/proc/self/task/%s/status", tid);
	f = fopen(p, "re");
	ASSERT(f != NULL);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "SigBlk: %llx", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void check_pool_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool seen[NPOOL] = { 0 };
	unsigned long long need = (1ull << (SIGTERM - 1)) | (1ull << (SIGINT - 1)) | (1ull << (SIGCHLD - 1));
	ASSERT(d != NULL);
	while ((e = readdir(d))) {
		char p[300], comm[64] = "";
		unsigned i;
		FILE *f;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
		f = fopen(p, "re");
		ASSERT(f != NULL);
		ASSERT(fgets(comm, sizeof comm, f) != NULL);
		fclose(f);
		if (sscanf(comm, "rb-io-%u", &i) != 1)
			continue;
		ASSERT(i < NPOOL);
		ASSERT(!seen[i]);
		seen[i] = true;
		if ((sigblk(e->d_name) & need) != need)
			T_FAIL("rb-io-%u does not block SIGTERM/SIGINT/SIGCHLD (SigBlk %llx)", i, sigblk(e->d_name));
	}
	closedir(d);
	for (unsigned i = 0; i < NPOOL; i++)
		if (!seen[i])
			T_FAIL("no thread named rb-io-%u", i);
}

static void run(struct t_ctx *c)
{
	int user, iou, want = c->kind == RB_IO_BACKEND_URING ? 1 : 1 + NPOOL;
	ctx = c;
	issued = done = samples = max_user = max_iou = 0;
	min_user = 1 << 30;
	finished = false;
	t_write_file(c->dir, "five", "12345", 5);
	sample();
	for (int i = 0; i < DEPTH; i++)
		issue(&slots[i]);
	sample();
	t_run_until(c->loop, &finished);
	ASSERT_EQ(done, TOTAL);
	ASSERT_EQ(issued, TOTAL);
	fprintf(stderr, "%s: %d samples, user threads %d..%d, io-wq workers (iou-wrk) up to %d\n",
		rb_io_name(c->io), samples, min_user, max_user, max_iou);
	ASSERT_EQ(samples, TOTAL / 500 + 2);
	ASSERT_EQ(min_user, want);
	ASSERT_EQ(max_user, want);
	if (c->kind == RB_IO_BACKEND_THREADS)
		check_pool_threads();
	t_thread_count(&user, &iou);
	ASSERT_EQ(user, want);
}

int main(void)
{
	struct t_ctx c;
	int user, iou;
	t_thread_count(&user, &iou);
	ASSERT_EQ(user, 1);
	FOR_EACH_CONFIG(k) {
		if (!t_begin(&c, k))
			continue;
		run(&c);
		t_end(&c);
		t_thread_count(&user, &iou);
		ASSERT_EQ(user, 1); /* the pool's threads were joined */
	}
	return T_EXIT_PASS;
}
