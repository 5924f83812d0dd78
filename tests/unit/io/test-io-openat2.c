/* Description: OPENAT2 (and READFILE, which opens the same way) under
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: "..", absolute paths and
 * symlinks out of the root are refused with -EXDEV by the kernel, magic
 * links with -ELOOP; -ENOENT, -ENAMETOOLONG (a 256-byte component and a path
 * over PATH_MAX) and -EACCES (a 000 directory and file) pass through. Both
 * backends, identical results.
 *
 * EACCES as root: root ignores permission bits through CAP_DAC_OVERRIDE and
 * CAP_DAC_READ_SEARCH, so the test drops both from its effective set before
 * creating the loop (pool threads inherit the creator's credentials, and
 * io_uring runs requests with the submitter's). If the drop does not make a
 * plain open() fail, the EACCES checks are skipped and the test says so. */
#include <linux/capability.h>
#include <sys/syscall.h>

#include "io_t.h"

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

static bool perms_apply;

static void drop_dac_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) < 0)
		return;
	d[0].effective &= ~((1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH));
	if (syscall(SYS_capset, &h, d) < 0)
		fprintf(stderr, "note: capset: %s\n", strerror(errno));
}

static void beneath(struct t_ctx *c)
{
	char path[8192], buf[64];
	char *name = malloc(300);
	int root, fd, i;

	ASSERT_EQ(mkdirat(c->dfd, "root", 0755), 0);
	ASSERT_EQ(mkdirat(c->dfd, "root/sub", 0755), 0);
	t_write_file(c->dir, "outside.txt", "secret", 6);
	t_write_file(c->dir, "root/in.txt", "inside", 6);
	ASSERT_EQ(symlinkat("../outside.txt", c->dfd, "root/link_out"), 0);
	snprintf(path, sizeof path, "%s/outside.txt", c->dir);
	ASSERT_EQ(symlinkat(path, c->dfd, "root/abs_link"), 0);
	ASSERT_EQ(symlinkat("in.txt", c->dfd, "root/link_in"), 0);
	ASSERT_EQ(symlinkat("../../outside.txt", c->dfd, "root/sub/up2"), 0);
	root = openat(c->dfd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(root, 0);

	/* Inside: plain, through a subdirectory's "..", through a symlink. */
	fd = (int)t_openat2(c, root, "in.txt", O_RDONLY, 0, BENEATH);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(t_rw(c, RB_IO_READ, fd, buf, sizeof buf, 0), 6);
	ASSERT_EQ(memcmp(buf, "inside", 6), 0);
	ASSERT_EQ(t_close(c, fd), 0);
	fd = (int)t_openat2(c, root, "sub/../in.txt", O_RDONLY, 0, BENEATH);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(t_close(c, fd), 0);
	fd = (int)t_openat2(c, root, "link_in", O_RDONLY, 0, BENEATH);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(t_close(c, fd), 0);

	/* Out of the root: refused by the kernel. */
	ASSERT_EQ(t_openat2(c, root, "../outside.txt", O_RDONLY, 0, BENEATH), -EXDEV);
	ASSERT_EQ(t_openat2(c, root, "../x", O_RDONLY, 0, BENEATH), -EXDEV);
	ASSERT_EQ(t_openat2(c, root, "sub/../../outside.txt", O_RDONLY, 0, BENEATH), -EXDEV);
	ASSERT_EQ(t_openat2(c, root, path, O_RDONLY, 0, BENEATH), -EXDEV); /* absolute */
	ASSERT_EQ(t_openat2(c, root, "link_out", O_RDONLY, 0, BENEATH), -EXDEV);
	ASSERT_EQ(t_openat2(c, root, "abs_link", O_RDONLY, 0, BENEATH), -EXDEV);
	ASSERT_EQ(t_openat2(c, root, "sub/up2", O_RDONLY, 0, BENEATH), -EXDEV);
	ASSERT_EQ(t_openat2(c, root, "../new", O_WRONLY | O_CREAT | O_EXCL, 0644, BENEATH), -EXDEV);
	ASSERT_EQ(faccessat(c->dfd, "new", F_OK, 0), -1); /* nothing created outside */
	ASSERT_EQ(t_readfile(c, root, "link_out", BENEATH, buf, sizeof buf), -EXDEV);
	ASSERT_EQ(t_readfile(c, root, "../outside.txt", BENEATH, buf, sizeof buf), -EXDEV);
	/* The same symlink without the flag does leave the root (control). */
	ASSERT_EQ(t_readfile(c, root, "link_out", 0, buf, sizeof buf), 6);
	ASSERT_EQ(memcmp(buf, "secret", 6), 0);

	/* Creating beneath works. */
	fd = (int)t_openat2(c, root, "sub/new", O_WRONLY | O_CREAT | O_EXCL, 0644, BENEATH);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(t_close(c, fd), 0);
	ASSERT_EQ(faccessat(root, "sub/new", F_OK, 0), 0);

	/* Magic links and symlinks when refused. */
	snprintf(path, sizeof path, "/proc/self/fd/%d", root);
	ASSERT_EQ(t_openat2(c, AT_FDCWD, path, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS), -ELOOP);
	ASSERT_EQ(t_openat2(c, root, "link_in", O_RDONLY, 0, BENEATH | RESOLVE_NO_SYMLINKS), -ELOOP);

	/* Missing, and names too long. */
	ASSERT_EQ(t_openat2(c, root, "missing", O_RDONLY, 0, BENEATH), -ENOENT);
	ASSERT_EQ(t_openat2(c, root, "missing/x", O_RDONLY, 0, BENEATH), -ENOENT);
	ASSERT_EQ(t_readfile(c, root, "missing", BENEATH, buf, sizeof buf), -ENOENT);
	memset(name, 'n', 255);
	name[255] = 0;
	ASSERT_EQ(t_openat2(c, root, name, O_RDONLY, 0, BENEATH), -ENOENT);
	name[255] = 'n';
	name[256] = 0;
	ASSERT_EQ(t_openat2(c, root, name, O_RDONLY, 0, BENEATH), -ENAMETOOLONG);
	ASSERT_EQ(t_readfile(c, root, name, BENEATH, buf, sizeof buf), -ENAMETOOLONG);
	for (i = 0; i + 2 < (int)sizeof path; i += 2)
		memcpy(path + i, "a/", 2);
	path[i] = 0;
	ASSERT_EQ(t_openat2(c, root, path, O_RDONLY, 0, BENEATH), -ENAMETOOLONG);
	free(name);

	/* Permission denied (see the header comment). */
	ASSERT_EQ(mkdirat(root, "locked", 0755), 0);
	t_write_file(c->dir, "root/locked/x", "x", 1);
	t_write_file(c->dir, "root/noread", "n", 1);
	ASSERT_EQ(fchmodat(root, "locked", 0, 0), 0);
	ASSERT_EQ(fchmodat(root, "noread", 0, 0), 0);
	fd = openat(root, "noread", O_RDONLY | O_CLOEXEC);
	perms_apply = fd < 0 && errno == EACCES;
	if (fd >= 0)
		close(fd);
	if (perms_apply) {
		ASSERT_EQ(t_openat2(c, root, "locked/x", O_RDONLY, 0, BENEATH), -EACCES);
		ASSERT_EQ(t_openat2(c, root, "locked", O_RDONLY | O_DIRECTORY, 0, BENEATH), -EACCES);
		ASSERT_EQ(t_openat2(c, root, "locked/new", O_WRONLY | O_CREAT, 0644, BENEATH), -EACCES);
		ASSERT_EQ(t_openat2(c, root, "noread", O_RDONLY, 0, BENEATH), -EACCES);
		ASSERT_EQ(t_readfile(c, root, "noread", BENEATH, buf, sizeof buf), -EACCES);
	}
	close(root);
}

int main(void)
{
	struct t_ctx c;
	if (geteuid() == 0)
		drop_dac_caps();
	FOR_EACH_CONFIG(k) {
		if (!t_begin(&c, k))
			continue;
		beneath(&c);
		t_end(&c);
	}
	if (!perms_apply)
		fprintf(stderr, "SKIPPED CHECK: permission bits do not apply to this process "
				"(root with DAC capabilities that could not be dropped): EACCES not tested\n");
	t_log_compare();
	return T_EXIT_PASS;
}
