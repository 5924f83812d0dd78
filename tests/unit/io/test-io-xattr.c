/* Description: RB_IO_FGETXATTR and RB_IO_FSETXATTR in every configuration:
 * the ring's FGETXATTR/FSETXATTR (uring, where the probe has them), the same
 * requests as syscalls on the loop thread (uring with no_ring_xattr, as on a
 * kernel before 5.19; it takes the place of the "no direct descriptors"
 * configuration here), and the thread pool on both engines. Every result
 * must be identical across them.
 *  - set, then get, a user.* attribute: a 1-byte, a 3000-byte and an empty
 *    value; len 0 asks the size; a get with len over XATTR_SIZE_MAX works;
 *    each value is read back with plain fgetxattr too;
 *  - errors: a buffer too small (-ERANGE), a missing attribute (-ENODATA),
 *    XATTR_CREATE over an existing one (-EEXIST), XATTR_REPLACE of a missing
 *    one (-ENODATA), a name without a namespace (-EOPNOTSUPP), a value over
 *    XATTR_SIZE_MAX (-E2BIG), a bad fd and an O_PATH fd (-EBADF);
 *  - a POSIX ACL (system.posix_acl_access) copied from one file to another
 *    arrives byte for byte and sets the mode's group bits to its mask, as
 *    setfacl does (skipped where the filesystem has no ACLs);
 *  - which path ran: the uring backend counts requests run on the loop
 *    thread (xattr_on_loop): none where the ring has the opcodes, all with
 *    no_ring_xattr, none on the threads backend;
 *  - an injected fault fails an FSETXATTR without running it (nothing set);
 *  - cancel: a request still queued (loop-thread queue, or behind a busy
 *    pool) completes -ECANCELED without running; one in flight on the ring
 *    completes with its result or -ECANCELED; the callback runs once.
 * Skips (77) where the temp directory's filesystem has no user.* xattrs. */
#include <linux/io_uring.h>
#include <sys/xattr.h>

#include "io_t.h"

#define BIGV 3000
#define HUGE (XATTR_SIZE_MAX + 10)

static bool acl_ok = true;
static uint64_t nreq; /* xattr requests submitted in this configuration */

/* As t_begin, but the second configuration is uring with the xattr
 * requests on the loop thread instead of uring without direct descriptors. */
static bool x_begin(struct t_ctx *c, int cfg)
{
	struct rb_loop_opts lo = { .engine = RB_ENGINE_AUTO, .quiet = true };
	struct rb_io_opts io_o = { .kind = t_cfg_kind(cfg), .no_ring_xattr = cfg == T_URING_NODIRECT };
	int r;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->kind = t_cfg_kind(cfg);
	umask(022);
	c->fd_base = t_fd_count();
	if (c->kind == RB_IO_BACKEND_URING)
		lo.engine = RB_ENGINE_RING;
	else if (cfg == T_THREADS_EPOLL)
		lo.engine = RB_ENGINE_EPOLL;
	r = rb_loop_new(&c->loop, &lo);
	if (r < 0 && lo.engine == RB_ENGINE_RING) {
		fprintf(stderr, "note: io_uring unavailable here (%s): skipped\n", strerror(-r));
		return false;
	}
	ASSERT_EQ(r, 0);
	ASSERT_EQ(rb_io_new(&c->io, c->loop, &io_o), 0);
	c->dir = t_tmpdir();
	c->dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(c->dfd, 0);
	fprintf(stderr, "-- %s\n", cfg == T_URING_NODIRECT ? "uring (xattr syscalls on the loop thread)" : t_cfg_name[cfg]);
	return true;
}

/* Runs the loop, 1 ms waits at most (see x_do), until *flag; fails saying
 * what hung after 60 s. */
static void spin_until(struct t_ctx *c, volatile bool *flag, const char *what)
{
	uint64_t end = rb_now_ns() + 60ull * 1000000000ull;
	while (!*flag) {
		ASSERT_GE(rb_loop_run_once(c->loop, true, 1), 0);
		if (!*flag && rb_now_ns() > end)
			T_FAIL("hung: %s did not complete", what);
	}
}

/* t_do, but waiting at most 1 ms per loop turn: a request run on the loop
 * thread completes inside the turn's defers, before the turn's wait, which
 * then has nothing left to wake it (t_do's 100 ms would be spent each time). */
static int64_t x_do(struct t_ctx *c, struct rb_io_req *req)
{
	struct t_wait w = { 0 };
	req->cb = t_wait_cb;
	req->data = &w;
	ASSERT_EQ(rb_io_submit(c->io, req), 0);
	ASSERT_EQ(w.calls, 0); /* never completed from inside submit */
	spin_until(c, &w.done, "an xattr request");
	for (int i = 0; i < 3; i++)
		rb_loop_run_once(c->loop, false, 0);
	ASSERT_EQ(w.calls, 1);
	t_log_add(c->cfg, req->res);
	return req->res;
}

static int64_t xget(struct t_ctx *c, int fd, const char *name, void *buf, size_t len)
{
	struct rb_io_req r;
	nreq++;
	rb_io_prep(&r, RB_IO_FGETXATTR, NULL, NULL);
	r.fd = fd;
	r.path = name;
	r.buf = buf;
	r.len = len;
	return x_do(c, &r);
}

static int64_t xset(struct t_ctx *c, int fd, const char *name, const void *val, size_t len, int flags)
{
	struct rb_io_req r;
	nreq++;
	rb_io_prep(&r, RB_IO_FSETXATTR, NULL, NULL);
	r.fd = fd;
	r.path = name;
	r.buf = (void *)val;
	r.len = len;
	r.flags = flags;
	return x_do(c, &r);
}

/* The value as the kernel has it, read with the plain syscall. */
static void assert_value(int fd, const char *name, const void *want, size_t len)
{
	char got[BIGV];
	ssize_t n = fgetxattr(fd, name, got, sizeof got);
	ASSERT_EQ(n, (ssize_t)len);
	ASSERT(len == 0 || !memcmp(got, want, len));
}

/* user::rw- user:12345:r-- group::r-- mask::rw- other::--- in the kernel's
 * xattr format (version 2, entries sorted by tag, then id). */
static size_t make_acl(unsigned char *b)
{
	static const struct { unsigned short tag, perm; unsigned id; } ents[] = {
		{ 0x01, 6, 0xffffffffu }, { 0x02, 4, 12345 }, { 0x04, 4, 0xffffffffu },
		{ 0x10, 6, 0xffffffffu }, { 0x20, 0, 0xffffffffu },
	};
	unsigned v = 2;
	size_t i, o = 4;
	memcpy(b, &v, 4);
	for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		memcpy(b + o, &ents[i].tag, 2);
		memcpy(b + o + 2, &ents[i].perm, 2);
		memcpy(b + o + 4, &ents[i].id, 4);
		o += 8;
	}
	return o;
}

static void values(struct t_ctx *c, int fd)
{
	static char big[BIGV], buf[BIGV];
	char *huge = malloc(HUGE);
	int pfd;

	ASSERT(huge != NULL);
	memset(huge, 'h', HUGE);
	for (int i = 0; i < BIGV; i++)
		big[i] = (char)('a' + i % 23);

	ASSERT_EQ(xset(c, fd, "user.one", "x", 1, 0), 0);
	assert_value(fd, "user.one", "x", 1);
	ASSERT_EQ(xget(c, fd, "user.one", buf, sizeof buf), 1);
	ASSERT_EQ(buf[0], 'x');
	ASSERT_EQ(xget(c, fd, "user.one", NULL, 0), 1); /* len 0: the size */

	ASSERT_EQ(xset(c, fd, "user.big", big, BIGV, XATTR_CREATE), 0);
	assert_value(fd, "user.big", big, BIGV);
	memset(buf, 0, sizeof buf);
	ASSERT_EQ(xget(c, fd, "user.big", buf, sizeof buf), BIGV);
	ASSERT(!memcmp(buf, big, BIGV));
	ASSERT_EQ(xget(c, fd, "user.big", buf, 10), -ERANGE);
	ASSERT_EQ(xget(c, fd, "user.big", huge, HUGE), BIGV); /* len clamped like the syscall's */

	ASSERT_EQ(xset(c, fd, "user.empty", "", 0, 0), 0);
	assert_value(fd, "user.empty", "", 0);
	ASSERT_EQ(xget(c, fd, "user.empty", buf, sizeof buf), 0);

	/* Replace, and the flags' refusals. */
	ASSERT_EQ(xset(c, fd, "user.one", "yz", 2, XATTR_REPLACE), 0);
	assert_value(fd, "user.one", "yz", 2);
	ASSERT_EQ(xset(c, fd, "user.one", "q", 1, XATTR_CREATE), -EEXIST);
	ASSERT_EQ(xset(c, fd, "user.none", "q", 1, XATTR_REPLACE), -ENODATA);
	assert_value(fd, "user.one", "yz", 2);

	ASSERT_EQ(xget(c, fd, "user.none", buf, sizeof buf), -ENODATA);
	ASSERT_EQ(xget(c, fd, "nonamespace", buf, sizeof buf), -EOPNOTSUPP);
	ASSERT_EQ(xset(c, fd, "nonamespace", "v", 1, 0), -EOPNOTSUPP);
	ASSERT_EQ(xset(c, fd, "user.huge", huge, HUGE, 0), -E2BIG);
	ASSERT_EQ(xget(c, fd, "user.huge", buf, sizeof buf), -ENODATA);
	ASSERT_EQ(xget(c, 100000, "user.one", buf, sizeof buf), -EBADF);
	ASSERT_EQ(xset(c, 100000, "user.one", "v", 1, 0), -EBADF);
	pfd = openat(c->dfd, "x", O_PATH | O_CLOEXEC);
	ASSERT_GE(pfd, 0);
	ASSERT_EQ(xget(c, pfd, "user.one", buf, sizeof buf), -EBADF);
	ASSERT_EQ(xset(c, pfd, "user.one", "v", 1, 0), -EBADF);
	close(pfd);
	free(huge);
}

/* Copies an ACL from one file to another through the requests. */
static void acl_copy(struct t_ctx *c)
{
	unsigned char acl[64], got[64];
	size_t alen = make_acl(acl);
	struct stat st;
	int a, b;
	int64_t n;

	a = openat(c->dfd, "acl-src", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	b = openat(c->dfd, "acl-dst", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	ASSERT(a >= 0 && b >= 0);
	if (fsetxattr(a, "system.posix_acl_access", acl, alen, 0) < 0) {
		if (acl_ok)
			fprintf(stderr, "SKIP (part): POSIX ACLs: %s on this filesystem\n", strerror(errno));
		acl_ok = false;
		close(a);
		close(b);
		return;
	}
	n = xget(c, a, "system.posix_acl_access", got, sizeof got);
	ASSERT_EQ(n, (int64_t)alen);
	ASSERT(!memcmp(got, acl, alen));
	ASSERT_EQ(xset(c, b, "system.posix_acl_access", got, (size_t)n, 0), 0);
	memset(got, 0, sizeof got);
	ASSERT_EQ(fgetxattr(b, "system.posix_acl_access", got, sizeof got), (ssize_t)alen);
	ASSERT(!memcmp(got, acl, alen));
	ASSERT_EQ(fstat(b, &st), 0);
	ASSERT_EQ(st.st_mode & 0777, 0660); /* group bits = the mask (rw-), other --- */
	close(a);
	close(b);
}

static void which_path(struct t_ctx *c)
{
	struct rb_io_stats st;
	uint64_t n = nreq;
	rb_io_get_stats(c->io, &st);
	ASSERT_EQ(st.submitted[RB_IO_FGETXATTR] + st.submitted[RB_IO_FSETXATTR], n);
	if (c->kind == RB_IO_BACKEND_THREADS)
		ASSERT_EQ(st.xattr_on_loop, 0);
	else if (c->cfg == T_URING_NODIRECT)
		ASSERT_EQ(st.xattr_on_loop, n);
	else if (rb_loop_has_op(c->loop, IORING_OP_FGETXATTR) && rb_loop_has_op(c->loop, IORING_OP_FSETXATTR))
		ASSERT_EQ(st.xattr_on_loop, 0);
	else
		ASSERT_EQ(st.xattr_on_loop, n); /* a kernel before 5.19 */
}

static void fault(struct t_ctx *c, int fd)
{
	char buf[8];
	rb_io_fault_set(c->io, RB_IO_FSETXATTR, 1, 0, -EIO);
	ASSERT_EQ(xset(c, fd, "user.faulted", "v", 1, 0), -EIO);
	rb_io_fault_set(c->io, RB_IO_NOP, 0, 0, 0);
	ASSERT_EQ(rb_io_fault_count(c->io), 1);
	ASSERT_EQ(fgetxattr(fd, "user.faulted", buf, sizeof buf), -1);
	ASSERT_EQ(errno, ENODATA);
	ASSERT_EQ(xset(c, fd, "user.faulted", "v", 1, 0), 0);
}

struct creq {
	struct rb_io_req req;
	struct t_wait w;
	char buf[16];
};

static void cancels(struct t_ctx *c, int fd)
{
	struct creq a, b;
	int i;

	/* Cancelled at once: still queued (loop-thread queue, or waiting for a
	 * worker), or in flight on the ring. */
	for (i = 0; i < 20; i++) {
		memset(&a, 0, sizeof a);
		rb_io_prep(&a.req, i & 1 ? RB_IO_FSETXATTR : RB_IO_FGETXATTR, t_wait_cb, &a.w);
		a.req.fd = fd;
		a.req.path = "user.one";
		a.req.buf = i & 1 ? (void *)"yz" : a.buf;
		a.req.len = i & 1 ? 2 : sizeof a.buf;
		ASSERT_EQ(rb_io_submit(c->io, &a.req), 0);
		rb_io_cancel(c->io, &a.req);
		ASSERT_EQ(a.w.calls, 0); /* never from inside cancel */
		spin_until(c, &a.w.done, "a cancelled xattr request");
		for (int k = 0; k < 3; k++)
			rb_loop_run_once(c->loop, false, 0);
		ASSERT_EQ(a.w.calls, 1);
		if (c->cfg == T_URING_NODIRECT)
			ASSERT_EQ(a.req.res, -ECANCELED); /* queued for the loop thread: never ran */
		else if (a.req.res != -ECANCELED)
			ASSERT_EQ(a.req.res, i & 1 ? 0 : 2);
	}
	/* Two queued on the loop thread, the first cancelled: the second still
	 * runs (the queue moves on). */
	if (c->cfg == T_URING_NODIRECT) {
		memset(&a, 0, sizeof a);
		memset(&b, 0, sizeof b);
		rb_io_prep(&a.req, RB_IO_FGETXATTR, t_wait_cb, &a.w);
		rb_io_prep(&b.req, RB_IO_FGETXATTR, t_wait_cb, &b.w);
		a.req.fd = b.req.fd = fd;
		a.req.path = b.req.path = "user.one";
		a.req.buf = a.buf;
		b.req.buf = b.buf;
		a.req.len = b.req.len = sizeof a.buf;
		ASSERT_EQ(rb_io_submit(c->io, &a.req), 0);
		ASSERT_EQ(rb_io_submit(c->io, &b.req), 0);
		rb_io_cancel(c->io, &a.req);
		spin_until(c, &b.w.done, "the request queued behind a cancelled one");
		ASSERT_EQ(a.w.calls, 1);
		ASSERT_EQ(a.req.res, -ECANCELED);
		ASSERT_EQ(b.w.calls, 1);
		ASSERT_EQ(b.req.res, 2);
		ASSERT(!memcmp(b.buf, "yz", 2));
	}
}

int main(void)
{
	bool ran = false;
	FOR_EACH_CONFIG(cfg) {
		struct t_ctx c;
		int fd;
		if (!x_begin(&c, cfg))
			continue;
		fd = openat(c.dfd, "x", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		ASSERT_GE(fd, 0);
		if (fsetxattr(fd, "user.probe", "p", 1, 0) < 0) {
			int e = errno;
			close(fd);
			t_end(&c);
			fprintf(stderr, "SKIP: no user.* xattrs in %s: %s\n", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
				strerror(e));
			return T_EXIT_SKIP;
		}
		ASSERT_EQ(fremovexattr(fd, "user.probe"), 0);
		nreq = 0;
		values(&c, fd);
		ASSERT_GE(nreq, 20);
		which_path(&c);
		acl_copy(&c);
		fault(&c, fd);
		cancels(&c, fd);
		close(fd);
		t_end(&c);
		ran = true;
	}
	if (!ran)
		t_skip("no configuration could run here");
	t_log_compare();
	return T_EXIT_PASS;
}
