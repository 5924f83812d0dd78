/* Description: 1000 requests in flight at once, three times: READFILE of 1000
 * distinct files, positioned READs of one file, and a mix of STATX, NOP and
 * READFILE of missing files. Every callback runs exactly once, from the loop
 * (none inside rb_io_submit), with the right result and bytes; the stats
 * count them all and end with nothing in flight. */
#include "io_t.h"

#define N 1000

struct item {
	struct rb_io_req req;
	int calls;
	char buf[64];
	struct statx stx;
	char name[32];
};

static struct item items[N];
static int ndone;
static bool in_submit;

static void on_done(struct rb_io_req *req)
{
	struct item *it = req->data;
	if (in_submit)
		T_FAIL("callback ran inside rb_io_submit");
	it->calls++;
	ndone++;
}

static void run_all(struct t_ctx *c)
{
	uint64_t end = rb_now_ns() + 60ull * 1000000000ull;
	for (int i = 0; i < N; i++) {
		in_submit = true;
		ASSERT_EQ(rb_io_submit(c->io, &items[i].req), 0);
		in_submit = false;
	}
	while (ndone < N) {
		ASSERT_GE(rb_loop_run_once(c->loop, true, 100), 0);
		if (rb_now_ns() > end)
			T_FAIL("only %d of %d completed", ndone, N);
	}
	for (int i = 0; i < 3; i++)
		rb_loop_run_once(c->loop, false, 0);
	ASSERT_EQ(ndone, N);
	for (int i = 0; i < N; i++)
		ASSERT_EQ(items[i].calls, 1);
}

static void many(struct t_ctx *c)
{
	struct rb_io_stats st0, st;
	char content[64];
	int fd, i;

	ASSERT_EQ(mkdirat(c->dfd, "files", 0755), 0);
	for (i = 0; i < N; i++) {
		int n = snprintf(content, sizeof content, "file number %d\n", i);
		snprintf(items[i].name, sizeof items[i].name, "files/%04d.md", i);
		t_write_file(c->dir, items[i].name, content, (size_t)n);
	}
	rb_io_get_stats(c->io, &st0);

	/* 1. READFILE x 1000. */
	memset(items, 0, sizeof items);
	ndone = 0;
	for (i = 0; i < N; i++) {
		struct item *it = &items[i];
		snprintf(it->name, sizeof it->name, "files/%04d.md", i);
		rb_io_prep(&it->req, RB_IO_READFILE, on_done, it);
		it->req.fd = c->dfd;
		it->req.path = it->name;
		it->req.resolve = RESOLVE_BENEATH;
		it->req.buf = it->buf;
		it->req.len = sizeof it->buf;
	}
	run_all(c);
	for (i = 0; i < N; i++) {
		int n = snprintf(content, sizeof content, "file number %d\n", i);
		if (items[i].req.res != n)
			T_FAIL("READFILE %s (#%d): %lld, want %d", items[i].name, i, (long long)items[i].req.res, n);
		ASSERT_EQ(memcmp(items[i].buf, content, (size_t)n), 0);
	}
	rb_io_get_stats(c->io, &st);
	ASSERT_EQ(st.submitted[RB_IO_READFILE] - st0.submitted[RB_IO_READFILE], N);
	ASSERT_EQ(st.completed - st0.completed, N);
	ASSERT_EQ(st.inflight, 0);
	ASSERT_GE(st.inflight_peak, N); /* all were submitted before any completed */
	fprintf(stderr, "READFILE chains: %llu direct, %llu step by step\n", (unsigned long long)st.chains_direct,
		(unsigned long long)st.chains_fallback);
	if (c->cfg == T_URING_NODIRECT)
		ASSERT_EQ(st.chains_direct, 0);
	if (c->kind == RB_IO_BACKEND_URING)
		ASSERT_EQ(st.chains_direct + st.chains_fallback, N);
	else
		ASSERT_EQ(st.chains_direct + st.chains_fallback, 0);

	/* 2. 1000 positioned READs of one file, 8 bytes each. */
	{
		static char data[N * 8];
		for (i = 0; i < N * 8; i++)
			data[i] = (char)(i * 31 + 7);
		t_write_file(c->dir, "data", data, sizeof data);
		fd = openat(c->dfd, "data", O_RDONLY | O_CLOEXEC);
		ASSERT_GE(fd, 0);
		memset(items, 0, sizeof items);
		ndone = 0;
		for (i = 0; i < N; i++) {
			rb_io_prep(&items[i].req, RB_IO_READ, on_done, &items[i]);
			items[i].req.fd = fd;
			items[i].req.buf = items[i].buf;
			items[i].req.len = 8;
			items[i].req.off = (int64_t)(N - 1 - i) * 8;
		}
		run_all(c);
		for (i = 0; i < N; i++) {
			ASSERT_EQ(items[i].req.res, 8);
			ASSERT_EQ(memcmp(items[i].buf, data + (N - 1 - i) * 8, 8), 0);
		}
		close(fd);
	}

	/* 3. A mix with errors. */
	memset(items, 0, sizeof items);
	ndone = 0;
	for (i = 0; i < N; i++) {
		struct item *it = &items[i];
		switch (i % 3) {
		case 0:
			snprintf(it->name, sizeof it->name, "files/%04d.md", i);
			rb_io_prep(&it->req, RB_IO_STATX, on_done, it);
			it->req.fd = c->dfd;
			it->req.path = it->name;
			it->req.mode = STATX_SIZE;
			it->req.stx = &it->stx;
			break;
		case 1:
			rb_io_prep(&it->req, RB_IO_NOP, on_done, it);
			break;
		default:
			snprintf(it->name, sizeof it->name, "files/none-%d", i);
			rb_io_prep(&it->req, RB_IO_READFILE, on_done, it);
			it->req.fd = c->dfd;
			it->req.path = it->name;
			it->req.buf = it->buf;
			it->req.len = sizeof it->buf;
			break;
		}
	}
	rb_io_get_stats(c->io, &st0);
	run_all(c);
	for (i = 0; i < N; i++) {
		if (i % 3 == 0) {
			ASSERT_EQ(items[i].req.res, 0);
			ASSERT_EQ(items[i].stx.stx_size, snprintf(content, sizeof content, "file number %d\n", i));
		} else if (i % 3 == 1) {
			ASSERT_EQ(items[i].req.res, 0);
		} else {
			ASSERT_EQ(items[i].req.res, -ENOENT);
		}
	}
	rb_io_get_stats(c->io, &st);
	ASSERT_EQ(st.errors - st0.errors, N / 3);
	ASSERT_EQ(st.completed - st0.completed, N);
	ASSERT_EQ(st.inflight, 0);
}

int main(void)
{
	struct t_ctx c;
	FOR_EACH_CONFIG(k) {
		if (!t_begin(&c, k))
			continue;
		many(&c);
		t_end(&c);
	}
	return T_EXIT_PASS;
}
