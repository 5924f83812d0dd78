/* Description: what an atomic write over an existing file keeps, where the
 * temp file's own attributes differ from what a prediction would say, and
 * the extended attributes copied through RB_IO_FGETXATTR / RB_IO_FSETXATTR.
 * Runs on uring, on uring with the xattr requests as syscalls on the loop
 * thread (no_ring_xattr, as on a kernel before 5.19), and on threads.
 *  - a set-gid directory whose group is not ours, and a file in it that we
 *    gave our own group: the temp file is born with the directory's group,
 *    and the write must give the file back its group (as root; a
 *    prediction "our egid" would skip that chown);
 *  - a file in that directory with the directory's group keeps it;
 *  - a directory with a default ACL whose other entry is ---: the temp
 *    file is born 0640 (the ACL replaces the umask) and the 0644 target
 *    must stay 0644 (a prediction "mode minus umask" would skip the chmod);
 *  - a target with two user.* attributes (one of 3000 bytes), a POSIX ACL
 *    and a security.* attribute (where we may set one: root): all kept byte
 *    for byte, the mode kept, twice in a row; one FSETXATTR per attribute
 *    and one FGETXATTR per security.* attribute went through the io layer;
 *    on the loop-thread configuration the backend counted them as run there;
 *  - the Nth FSETXATTR fails (EPERM), N = 1..count + 1: a user.* or
 *    security.* attribute is written without it and RB_FS_WROTE_XATTRS_LOST,
 *    the ACL refuses the write (old file kept); count + 1 is never reached;
 *  - every request of that write failed in turn, with each error of the
 *    fault suite (EIO, ENOSPC, EINTR, EAGAIN, ENOMEM, EMFILE, ECANCELED):
 *    an error is the injected code and leaves the old file (the new one
 *    after the rename: the directory fsync, the verification); a
 *    success is the new file, with all attributes, or with every one but a
 *    user.* attribute and RB_FS_WROTE_XATTRS_LOST; the ACL is never lost on
 *    a success; no temp file, fds back, cap idle;
 *  - cancel after 0..N loop turns: -ECANCELED with the old file, or
 *    success with the new one and its attributes.
 * Parts skip (saying why) where the filesystem has no user.* xattrs or no
 * ACLs, or when not root. */
#include <sys/xattr.h>

#include "fs_t.h"

#define NOTE_LOST RB_FS_WROTE_XATTRS_LOST
#define BIGV 3000

enum { CFG_URING, CFG_URING_LOOP, CFG_THREADS, NCFG };
static const char *const cfg_name[NCFG] = { "uring", "uring (xattr syscalls on the loop thread)", "threads" };

static bool is_root, have_user_x = true, have_acl = true, have_sec = true;
static char bigv[BIGV];
static unsigned char acl[64];
static size_t acl_len;

/* env_setup with io options of our own. */
static bool x_setup(struct env *e, int cfg)
{
	struct rb_loop_opts lo = { .engine = cfg == CFG_THREADS ? RB_ENGINE_AUTO : RB_ENGINE_RING, .quiet = true };
	struct rb_io_opts io_o = { .kind = cfg == CFG_THREADS ? RB_IO_BACKEND_THREADS : RB_IO_BACKEND_URING,
				   .no_ring_xattr = cfg == CFG_URING_LOOP };
	int r;

	memset(e, 0, sizeof(*e));
	e->kind = io_o.kind;
	if (!t_want_backend(e->kind))
		return false;
	e->fd_base = t_fd_count();
	r = rb_loop_new(&e->loop, &lo);
	if (r < 0 && io_o.kind == RB_IO_BACKEND_URING) {
		fprintf(stderr, "note: io_uring unavailable here (%s): %s skipped\n", strerror(-r), cfg_name[cfg]);
		return false;
	}
	ASSERT_EQ(r, 0);
	ASSERT_EQ(rb_io_new(&e->io, e->loop, &io_o), 0);
	rb_cap_init(&e->cap, e->loop, NULL);
	ASSERT_EQ(rb_fs_new(&e->fs, e->io, &e->cap, NULL), 0);
	e->dir = t_tmpdir();
	ASSERT_EQ(rb_fs_add_root(e->fs, e->dir), 0);
	fprintf(stderr, "-- %s\n", cfg_name[cfg]);
	return true;
}

static void put(struct env *e, const char *rel, const char *content)
{
	t_write_file(e->dir, rel, content, strlen(content));
}

static bool has(struct env *e, const char *rel, const char *content)
{
	char p[PATH_MAX], *got;
	size_t len;
	bool r;
	env_path(e, rel, p, PATH_MAX);
	got = slurp(p, &len);
	if (!got)
		return false;
	r = len == strlen(content) && !memcmp(got, content, len);
	free(got);
	return r;
}

static void no_temps(struct env *e, const char *sub)
{
	char p[PATH_MAX];
	env_path(e, sub, p, PATH_MAX);
	if (count_names(p, ".rb-") > 0)
		T_FAIL("temp file left in %s", p);
}

static void mkdir_mode(struct env *e, const char *rel, mode_t mode)
{
	char p[PATH_MAX];
	env_path(e, rel, p, PATH_MAX);
	ASSERT_EQ(mkdir(p, 0755), 0);
	ASSERT_EQ(chmod(p, mode), 0);
}

/* A POSIX ACL in the kernel's xattr format (version 2, entries sorted by
 * tag, then id). */
struct acl_ent {
	unsigned short tag, perm;
	unsigned id;
};

static size_t make_acl(unsigned char *b, const struct acl_ent *ents, size_t n)
{
	unsigned v = 2;
	size_t i, o = 4;
	memcpy(b, &v, 4);
	for (i = 0; i < n; i++) {
		memcpy(b + o, &ents[i].tag, 2);
		memcpy(b + o + 2, &ents[i].perm, 2);
		memcpy(b + o + 4, &ents[i].id, 4);
		o += 8;
	}
	return o;
}

/* user::rw- user:12345:r-- group::r-- mask::rw- other::--- */
static const struct acl_ent access_acl[] = {
	{ 0x01, 6, 0xffffffffu }, { 0x02, 4, 12345 }, { 0x04, 4, 0xffffffffu },
	{ 0x10, 6, 0xffffffffu }, { 0x20, 0, 0xffffffffu },
};
/* A default ACL: user::rwx group::r-x other::--- */
static const struct acl_ent default_acl[] = { { 0x01, 7, 0xffffffffu }, { 0x04, 5, 0xffffffffu }, { 0x20, 0, 0xffffffffu } };

/* ---- owner, group and mode: what the temp file is born with ----------------- */

static void test_setgid_dir(struct env *e)
{
	char p[PATH_MAX];
	struct stat st;

	if (!is_root) {
		fprintf(stderr, "SKIP (part): set-gid directory of another group: chgrp needs root\n");
		return;
	}
	mkdir_mode(e, "sg", 0755);
	env_path(e, "sg", p, PATH_MAX);
	ASSERT_EQ(chown(p, 0, 12345), 0);
	ASSERT_EQ(chmod(p, 02775), 0);

	/* A file we gave our own group: the temp is born with 12345. */
	put(e, "sg/ours.md", "old");
	env_path(e, "sg/ours.md", p, PATH_MAX);
	ASSERT_EQ(env_lstat(e, "sg/ours.md").st_gid, 12345); /* inherited, as the temp's will be */
	ASSERT_EQ(chown(p, geteuid(), getegid()), 0);
	ASSERT_EQ(t_write(e, "sg/ours.md", "new", 3, 0), 0);
	st = env_lstat(e, "sg/ours.md");
	ASSERT_EQ(st.st_uid, geteuid());
	ASSERT_EQ(st.st_gid, getegid());
	ASSERT_EQ(st.st_mode & 07777, 0644);
	ASSERT(has(e, "sg/ours.md", "new"));

	/* A file with the directory's group keeps it. */
	put(e, "sg/theirs.md", "old");
	ASSERT_EQ(t_write(e, "sg/theirs.md", "new", 3, 0), 0);
	ASSERT_EQ(env_lstat(e, "sg/theirs.md").st_gid, 12345);
	no_temps(e, "sg");
}

static void test_default_acl_dir(struct env *e)
{
	unsigned char dacl[64];
	size_t dlen = make_acl(dacl, default_acl, sizeof(default_acl) / sizeof(default_acl[0]));
	char p[PATH_MAX];

	mkdir_mode(e, "dacl", 0755);
	env_path(e, "dacl", p, PATH_MAX);
	if (setxattr(p, "system.posix_acl_default", dacl, dlen, 0) < 0) {
		fprintf(stderr, "SKIP (part): default ACLs: %s on this filesystem\n", strerror(errno));
		return;
	}
	/* What a new file there is born with: the ACL's other --- replaces the umask. */
	put(e, "dacl/probe", "");
	ASSERT_EQ(env_lstat(e, "dacl/probe").st_mode & 0777, 0640);
	put(e, "dacl/f.md", "old");
	env_path(e, "dacl/f.md", p, PATH_MAX);
	ASSERT_EQ(chmod(p, 0644), 0);
	ASSERT_EQ(t_write(e, "dacl/f.md", "new", 3, 0), 0);
	ASSERT_EQ(env_lstat(e, "dacl/f.md").st_mode & 07777, 0644);
	ASSERT(has(e, "dacl/f.md", "new"));
	no_temps(e, "dacl");
}

/* ---- extended attributes ------------------------------------------------------------ */

/* Puts x.md back to its old content and attributes: a fresh file each
 * time, its attributes set in one order, so that the Nth request of a
 * write is the same step in every run. */
static void x_setup_file(struct env *e)
{
	char p[PATH_MAX];
	env_path(e, "x.md", p, PATH_MAX);
	if (unlink(p) < 0 && errno != ENOENT)
		T_FAIL("unlink %s: %s", p, strerror(errno));
	put(e, "x.md", "old");
	env_path(e, "x.md", p, PATH_MAX);
	ASSERT_EQ(chmod(p, 0644), 0);
	ASSERT_EQ(setxattr(p, "user.a", "alpha", 5, 0), 0);
	ASSERT_EQ(setxattr(p, "user.big", bigv, BIGV, 0), 0);
	if (have_acl)
		ASSERT_EQ(setxattr(p, "system.posix_acl_access", acl, acl_len, 0), 0);
	if (have_sec)
		ASSERT_EQ(setxattr(p, "security.rbtest", "label", 5, 0), 0);
}

static bool value_is(const char *p, const char *name, const void *v, size_t len)
{
	char got[BIGV];
	ssize_t n = getxattr(p, name, got, sizeof got);
	return n == (ssize_t)len && !memcmp(got, v, len);
}

/* 0 old content, all attributes; 1 new, all; 2 new, all but exactly one
 * of user.a, user.big, security.rbtest; -1 anything else (the ACL and the
 * mode are always there). */
static int x_state(struct env *e)
{
	char p[PATH_MAX];
	int c, missing = 0;
	env_path(e, "x.md", p, PATH_MAX);
	c = has(e, "x.md", "old") ? 0 : has(e, "x.md", "new") ? 1 : -1;
	if (c < 0 || (env_lstat(e, "x.md").st_mode & 07777) != (have_acl ? 0660 : 0644))
		return -1;
	if (have_acl && !value_is(p, "system.posix_acl_access", acl, acl_len))
		return -1;
	missing += !value_is(p, "user.a", "alpha", 5);
	missing += !value_is(p, "user.big", bigv, BIGV);
	missing += have_sec && !value_is(p, "security.rbtest", "label", 5);
	if (!missing)
		return c;
	return c == 1 && missing == 1 ? 2 : -1;
}

static void test_copy(struct env *e, int cfg)
{
	struct rb_io_stats s0, s1;
	int nset = 2 + have_acl + have_sec;

	x_setup_file(e);
	rb_io_get_stats(e->io, &s0);
	ASSERT_EQ(t_write(e, "x.md", "new", 3, 0), 0);
	rb_io_get_stats(e->io, &s1);
	ASSERT_EQ(x_state(e), 1);
	ASSERT_EQ(s1.submitted[RB_IO_FSETXATTR] - s0.submitted[RB_IO_FSETXATTR], nset);
	ASSERT_EQ(s1.submitted[RB_IO_FGETXATTR] - s0.submitted[RB_IO_FGETXATTR], have_sec);
	ASSERT_EQ(s1.xattr_on_loop - s0.xattr_on_loop, cfg == CFG_URING_LOOP ? nset + have_sec : 0);
	/* And again over the new file (its attributes came from the copy). */
	ASSERT_EQ(t_write(e, "x.md", "new", 3, 0), 0);
	ASSERT_EQ(x_state(e), 1);
	no_temps(e, ".");
}

static void idle_and_fds(struct env *e, int fd_base, const char *what, int n)
{
	env_check_idle(e);
	no_temps(e, ".");
	if (t_fd_count() != fd_base)
		T_FAIL("%s, request %d: %d fds open, %d before", what, n, t_fd_count(), fd_base);
}

/* Every request of the write fails in turn, with each error the fault
 * suite uses (a short transfer only shortens reads and writes: none here
 * but the data's, which test-faults covers). */
static void test_every_request(struct env *e)
{
	static const int errs[] = { -EIO, -ENOSPC, -EINTR, -EAGAIN, -ENOMEM, -EMFILE, -ECANCELED };
	int fd_base = t_fd_count();

	for (size_t ei = 0; ei < sizeof(errs) / sizeof(errs[0]); ei++) {
		int n, err = errs[ei], injected = 0, lost = 0, refused = 0;
		for (n = 1;; n++) {
			uint64_t hits = rb_io_fault_count(e->io);
			int res, st;
			x_setup_file(e);
			rb_io_fault_set(e->io, RB_IO_NOP, (uint64_t)n, 0, err);
			res = t_write(e, "x.md", "new", 3, 0);
			rb_io_fault_set(e->io, RB_IO_NOP, 0, 0, 0);
			st = x_state(e);
			if (rb_io_fault_count(e->io) == hits) {
				ASSERT_EQ(res, 0);
				ASSERT_EQ(st, 1);
				break;
			}
			injected++;
			if (getenv("RB_TEST_VERBOSE"))
				fprintf(stderr, "request %d (%d): res %d state %d\n", n, err, res, st);
			if (res < 0) {
				if (res != err)
					T_FAIL("request %d failed with %d: reported %d", n, err, res);
				/* Before the rename: the old file; after it (the directory
				 * fsync, the verification): the new one, whole. */
				if (st != 0 && st != 1)
					T_FAIL("request %d failed (%d): state %d", n, err, st);
				refused += st == 0;
			} else if (res == NOTE_LOST) {
				if (st != 2)
					T_FAIL("request %d failed (%d): XATTRS_LOST, state %d", n, err, st);
				lost++;
			} else {
				ASSERT_EQ(res, 0);
				ASSERT_EQ(st, 1);
			}
			idle_and_fds(e, fd_base, "every request", n);
			ASSERT(n < 60);
		}
		/* open parent, statx, create, each FSETXATTR, write, fsync, close,
		 * rename, dir fsync, verify at least; a failed user.* or security.*
		 * set is a note, a failed ACL set refuses the write, like a failure
		 * of anything before the rename. */
		ASSERT_GE(injected, 10 + 2 + have_acl + have_sec);
		ASSERT_EQ(lost, 2 + have_sec);
		ASSERT_GE(refused, 7 + have_acl);
	}
}

/* The Nth FSETXATTR fails: a user.* attribute is a note, the ACL a refusal. */
static void test_each_set(struct env *e)
{
	int n, nset = 2 + have_acl + have_sec, lost = 0, refused = 0;
	for (n = 1; n <= nset + 1; n++) {
		uint64_t hits = rb_io_fault_count(e->io);
		int res, st;
		x_setup_file(e);
		rb_io_fault_set(e->io, RB_IO_FSETXATTR, (uint64_t)n, 0, -EPERM);
		res = t_write(e, "x.md", "new", 3, 0);
		rb_io_fault_set(e->io, RB_IO_NOP, 0, 0, 0);
		st = x_state(e);
		if (n > nset) {
			ASSERT_EQ(rb_io_fault_count(e->io), hits); /* no more sets than attributes */
			ASSERT_EQ(res, 0);
			ASSERT_EQ(st, 1);
		} else if (res == -EPERM) {
			ASSERT_EQ(st, 0);
			refused++;
		} else if (res == NOTE_LOST) {
			ASSERT_EQ(st, 2);
			lost++;
		} else {
			T_FAIL("FSETXATTR %d failed with -EPERM: reported %d", n, res);
		}
		no_temps(e, ".");
	}
	ASSERT_EQ(refused, have_acl);
	ASSERT_EQ(lost, 2 + have_sec);
}

static void test_cancel(struct env *e)
{
	int turns, cancelled = 0, completed = 0, fd_base = t_fd_count();
	for (turns = 0; turns < 24; turns++) {
		struct waiter w = { 0 };
		struct rb_fs_op *op;
		struct rb_path p;
		int i, st;
		x_setup_file(e);
		p = env_resolve(e, "x.md");
		ASSERT_EQ(rb_fs_write_atomic(e->fs, &p, "new", 3, 0, RB_CAP_INTERACTIVE, res_cb, &w, &op), 0);
		for (i = 0; i < turns && !w.done; i++)
			rb_loop_run_once(e->loop, true, 100);
		if (!w.done)
			rb_fs_cancel(op);
		t_run_until(e->loop, &w.done);
		st = x_state(e);
		if (w.res == -ECANCELED) {
			cancelled++;
			ASSERT_EQ(st, 0);
		} else {
			completed++;
			ASSERT_EQ(w.res, 0);
			ASSERT_EQ(st, 1);
		}
		idle_and_fds(e, fd_base, "cancel", turns);
	}
	ASSERT_GE(cancelled, 1);
	ASSERT_GE(completed, 1);
}

int main(void)
{
	char probe[PATH_MAX];
	bool ran = false;

	is_root = geteuid() == 0;
	for (int i = 0; i < BIGV; i++)
		bigv[i] = (char)('A' + i % 29);
	acl_len = make_acl(acl, access_acl, sizeof(access_acl) / sizeof(access_acl[0]));
	for (int cfg = 0; cfg < NCFG; cfg++) {
		struct env e;
		if (!x_setup(&e, cfg))
			continue;
		ran = true;
		umask(022);
		test_setgid_dir(&e);
		test_default_acl_dir(&e);
		/* What the filesystem takes. */
		put(&e, "probe", "");
		env_path(&e, "probe", probe, PATH_MAX);
		if (setxattr(probe, "user.p", "p", 1, 0) < 0) {
			if (have_user_x)
				fprintf(stderr, "SKIP (part): xattr copies: no user.* xattrs here (%s)\n", strerror(errno));
			have_user_x = false;
		}
		if (have_user_x && setxattr(probe, "system.posix_acl_access", acl, acl_len, 0) < 0) {
			if (have_acl)
				fprintf(stderr, "note: no POSIX ACLs here (%s): copies without one\n", strerror(errno));
			have_acl = false;
		}
		if (have_user_x && setxattr(probe, "security.rbtest", "label", 5, 0) < 0) {
			if (have_sec)
				fprintf(stderr, "note: security.* not settable here (%s): copies without one\n",
					strerror(errno));
			have_sec = false;
		}
		if (have_user_x) {
			test_copy(&e, cfg);
			test_every_request(&e);
			test_each_set(&e);
			test_cancel(&e);
		}
		env_teardown(&e);
		fprintf(stderr, "%s: ok\n", cfg_name[cfg]);
	}
	if (!ran)
		t_skip("no backend could run here");
	return T_EXIT_PASS;
}
