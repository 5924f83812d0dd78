/* Description: every io op's success and error paths (NOP, OPENAT2, READ and
 * WRITE at offsets and at the file position, short read at EOF, FSYNC,
 * STATX, RENAMEAT incl. RENAME_NOREPLACE, UNLINKAT, MKDIRAT, CLOSE), run on
 * both backends, which must return identical results. */
#include "io_t.h"

static void file_ops(struct t_ctx *c)
{
	char buf[256];
	struct statx stx;
	struct stat sb;
	int fd, rofd;

	ASSERT_EQ(t_rw(c, RB_IO_NOP, -1, NULL, 0, 0), 0);

	/* Create, and refuse to create twice with O_EXCL. */
	fd = (int)t_openat2(c, c->dfd, "f", O_RDWR | O_CREAT | O_EXCL, 0640, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(fstat(fd, &sb), 0);
	ASSERT(S_ISREG(sb.st_mode));
	ASSERT_EQ(sb.st_mode & 0777, 0640);
	ASSERT_EQ(t_openat2(c, c->dfd, "f", O_RDWR | O_CREAT | O_EXCL, 0640, 0), -EEXIST);
	ASSERT_EQ(t_openat2(c, c->dfd, "missing", O_RDONLY, 0, 0), -ENOENT);
	ASSERT_EQ(t_openat2(c, c->dfd, "f/x", O_RDONLY, 0, 0), -ENOTDIR);

	/* Writes at offsets (a hole between) and at the file position. */
	ASSERT_EQ(t_rw(c, RB_IO_WRITE, fd, "hello world", 11, 0), 11);
	ASSERT_EQ(t_rw(c, RB_IO_WRITE, fd, "XY", 2, 100), 2);
	ASSERT_EQ(fstat(fd, &sb), 0);
	ASSERT_EQ(sb.st_size, 102);
	ASSERT_EQ(lseek(fd, 0, SEEK_CUR), 0); /* positioned writes do not move it */
	ASSERT_EQ(t_rw(c, RB_IO_WRITE, fd, "abc", 3, -1), 3);
	ASSERT_EQ(lseek(fd, 0, SEEK_CUR), 3);

	/* Reads at offsets, at the position, short at EOF, 0 past it. */
	memset(buf, 0, sizeof buf);
	ASSERT_EQ(t_rw(c, RB_IO_READ, fd, buf, 5, 0), 5);
	ASSERT_EQ(memcmp(buf, "abclo", 5), 0);
	ASSERT_EQ(t_rw(c, RB_IO_READ, fd, buf, 4, -1), 4);
	ASSERT_EQ(memcmp(buf, "lo w", 4), 0);
	ASSERT_EQ(lseek(fd, 0, SEEK_CUR), 7);
	ASSERT_EQ(t_rw(c, RB_IO_READ, fd, buf, 8, 11), 8);
	ASSERT_EQ(memcmp(buf, "\0\0\0\0\0\0\0\0", 8), 0); /* the hole reads as zeros */
	ASSERT_EQ(t_rw(c, RB_IO_READ, fd, buf, sizeof buf, 98), 4);
	ASSERT_EQ(memcmp(buf, "\0\0XY", 4), 0);
	ASSERT_EQ(t_rw(c, RB_IO_READ, fd, buf, sizeof buf, 102), 0);
	ASSERT_EQ(t_rw(c, RB_IO_READ, fd, buf, sizeof buf, 4096), 0);

	/* Wrong fds. */
	ASSERT_EQ(t_rw(c, RB_IO_READ, c->dfd, buf, sizeof buf, 0), -EISDIR);
	ASSERT_EQ(t_rw(c, RB_IO_READ, 100000, buf, sizeof buf, 0), -EBADF);
	rofd = (int)t_openat2(c, c->dfd, "f", O_RDONLY, 0, 0);
	ASSERT_GE(rofd, 0);
	ASSERT_EQ(t_rw(c, RB_IO_WRITE, rofd, "z", 1, 0), -EBADF);
	ASSERT_EQ(t_close(c, rofd), 0);

	/* fsync and fdatasync. */
	{
		struct rb_io_req r;
		rb_io_prep(&r, RB_IO_FSYNC, NULL, NULL);
		r.fd = fd;
		ASSERT_EQ(t_do(c, &r), 0);
		rb_io_prep(&r, RB_IO_FSYNC, NULL, NULL);
		r.fd = fd;
		r.flags = RB_IO_DATASYNC;
		ASSERT_EQ(t_do(c, &r), 0);
		rb_io_prep(&r, RB_IO_FSYNC, NULL, NULL);
		r.fd = 100000;
		ASSERT_EQ(t_do(c, &r), -EBADF);
	}

	/* statx by path and by fd. */
	memset(&stx, 0, sizeof stx);
	ASSERT_EQ(t_statx(c, c->dfd, "f", 0, STATX_SIZE | STATX_MODE, &stx), 0);
	ASSERT(stx.stx_mask & STATX_SIZE);
	ASSERT_EQ(stx.stx_size, 102);
	ASSERT(S_ISREG(stx.stx_mode));
	ASSERT_EQ(stx.stx_mode & 0777, 0640);
	memset(&stx, 0, sizeof stx);
	ASSERT_EQ(t_statx(c, fd, "", AT_EMPTY_PATH, STATX_SIZE, &stx), 0);
	ASSERT_EQ(stx.stx_size, 102);
	ASSERT_EQ(t_statx(c, c->dfd, "missing", 0, STATX_SIZE, &stx), -ENOENT);
	ASSERT_EQ(t_statx(c, c->dfd, "f/x", 0, STATX_SIZE, &stx), -ENOTDIR);
	ASSERT_EQ(t_statx(c, c->dfd, ".", 0, STATX_TYPE, &stx), 0);
	ASSERT(S_ISDIR(stx.stx_mode));

	/* close, and a second close of the same number fails. */
	ASSERT_EQ(t_close(c, fd), 0);
	ASSERT_EQ(fcntl(fd, F_GETFD), -1);
	ASSERT_EQ(t_close(c, fd), -EBADF);
}

static int64_t t_name_op(struct t_ctx *c, enum rb_io_op op, int fd, const char *path, int fd2, const char *path2,
			 int flags, unsigned mode)
{
	struct rb_io_req r;
	rb_io_prep(&r, op, NULL, NULL);
	r.fd = fd;
	r.path = path;
	r.fd2 = fd2;
	r.path2 = path2;
	r.flags = flags;
	r.mode = mode;
	return t_do(c, &r);
}

static void name_ops(struct t_ctx *c)
{
	struct stat sb;
	int sub;

	t_write_file(c->dir, "a", "A", 1);
	t_write_file(c->dir, "b", "BB", 2);

	/* mkdirat */
	ASSERT_EQ(t_name_op(c, RB_IO_MKDIRAT, c->dfd, "d", -1, NULL, 0, 0750), 0);
	ASSERT_EQ(fstatat(c->dfd, "d", &sb, 0), 0);
	ASSERT(S_ISDIR(sb.st_mode));
	ASSERT_EQ(sb.st_mode & 0777, 0750);
	ASSERT_EQ(t_name_op(c, RB_IO_MKDIRAT, c->dfd, "d", -1, NULL, 0, 0750), -EEXIST);
	ASSERT_EQ(t_name_op(c, RB_IO_MKDIRAT, c->dfd, "a", -1, NULL, 0, 0750), -EEXIST);
	ASSERT_EQ(t_name_op(c, RB_IO_MKDIRAT, c->dfd, "nope/d", -1, NULL, 0, 0750), -ENOENT);
	ASSERT_EQ(t_name_op(c, RB_IO_MKDIRAT, c->dfd, "a/d", -1, NULL, 0, 0750), -ENOTDIR);

	/* renameat: plain, NOREPLACE onto an existing name, missing source,
	 * across directories (fd2 != fd). */
	ASSERT_EQ(t_name_op(c, RB_IO_RENAMEAT, c->dfd, "a", c->dfd, "a2", 0, 0), 0);
	ASSERT_EQ(faccessat(c->dfd, "a", F_OK, 0), -1);
	ASSERT_EQ(faccessat(c->dfd, "a2", F_OK, 0), 0);
	ASSERT_EQ(t_name_op(c, RB_IO_RENAMEAT, c->dfd, "a2", c->dfd, "b", RENAME_NOREPLACE, 0), -EEXIST);
	ASSERT_EQ(fstatat(c->dfd, "b", &sb, 0), 0);
	ASSERT_EQ(sb.st_size, 2); /* b untouched */
	ASSERT_EQ(t_name_op(c, RB_IO_RENAMEAT, c->dfd, "missing", c->dfd, "x", 0, 0), -ENOENT);
	sub = openat(c->dfd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(sub, 0);
	ASSERT_EQ(t_name_op(c, RB_IO_RENAMEAT, c->dfd, "a2", sub, "moved", 0, 0), 0);
	ASSERT_EQ(fstatat(sub, "moved", &sb, 0), 0);
	ASSERT_EQ(sb.st_size, 1);
	/* Plain rename replaces the target. */
	ASSERT_EQ(t_name_op(c, RB_IO_RENAMEAT, sub, "moved", c->dfd, "b", 0, 0), 0);
	ASSERT_EQ(fstatat(c->dfd, "b", &sb, 0), 0);
	ASSERT_EQ(sb.st_size, 1);

	/* unlinkat: file, twice, a directory without and with AT_REMOVEDIR,
	 * a non-empty directory. */
	t_write_file(c->dir, "d/inner", "i", 1);
	ASSERT_EQ(t_name_op(c, RB_IO_UNLINKAT, c->dfd, "b", -1, NULL, 0, 0), 0);
	ASSERT_EQ(faccessat(c->dfd, "b", F_OK, 0), -1);
	ASSERT_EQ(t_name_op(c, RB_IO_UNLINKAT, c->dfd, "b", -1, NULL, 0, 0), -ENOENT);
	ASSERT_EQ(t_name_op(c, RB_IO_UNLINKAT, c->dfd, "d", -1, NULL, 0, 0), -EISDIR);
	ASSERT_EQ(t_name_op(c, RB_IO_UNLINKAT, c->dfd, "d", -1, NULL, AT_REMOVEDIR, 0), -ENOTEMPTY);
	ASSERT_EQ(t_name_op(c, RB_IO_UNLINKAT, sub, "inner", -1, NULL, 0, 0), 0);
	ASSERT_EQ(t_name_op(c, RB_IO_UNLINKAT, c->dfd, "d", -1, NULL, AT_REMOVEDIR, 0), 0);
	ASSERT_EQ(faccessat(c->dfd, "d", F_OK, 0), -1);
	close(sub);
}

int main(void)
{
	struct t_ctx c;
	FOR_EACH_CONFIG(k) {
		if (!t_begin(&c, k))
			continue;
		file_ops(&c);
		name_ops(&c);
		t_end(&c);
	}
	t_log_compare();
	return T_EXIT_PASS;
}
