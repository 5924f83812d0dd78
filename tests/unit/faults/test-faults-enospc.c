/* Description: a real full disk. In a child with its own mount namespace
 * (unshare(CLONE_NEWNS); skipped with 77 where that is not permitted) a
 * 256 KiB tmpfs becomes the root. An atomic write bigger than the disk
 * fails with -ENOSPC and leaves the old file byte for byte, and no temp
 * file; filling the disk with small writes ends in -ENOSPC, never a torn
 * or empty file; write_file and memory_bank_update then say "no space left
 * on device" as an isError result; fds and permits are back at baseline;
 * after freeing space the same write succeeds. Both backends. */
#include <sched.h>
#include <sys/mount.h>

#include "faults_t.h"

#define DISK (256 * 1024)

static char old_data[8 * 1024], big[DISK * 2], small[20 * 1024];

static void run(enum rb_io_kind kind, const char *mnt)
{
	struct env e;
	struct rb_fs_opts fo = { .cache_bytes = 0 };
	struct t_tool_res tr = { 0 };
	char name[64], path[4200];
	int i, r, full = 0, ok = 0;

	if (!env_setup_opts(&e, kind, &fo, NULL))
		return;
	/* Replace the env's temp root with the tmpfs. */
	rb_fs_free(e.fs);
	ASSERT_EQ(rb_fs_new(&e.fs, e.io, &e.cap, &fo), 0);
	ASSERT_EQ(rb_fs_add_root(e.fs, mnt), 0);
	t_rmtree(e.dir);
	e.dir = strdup(mnt);

	t_write_file(mnt, "old.md", old_data, sizeof old_data);
	int fd_base = t_fd_count();

	/* 1. One write bigger than the disk. */
	r = t_write(&e, "old.md", big, sizeof big, 0);
	ASSERT_EQ(r, -ENOSPC);
	ASSERT_EQ(t_which(&e, "old.md", old_data, sizeof old_data, NULL, 0), 1);
	t_no_leftovers(mnt, "big write");
	env_check_idle(&e);
	ASSERT_EQ(t_fd_count(), fd_base);

	/* 2. Fill it with small files until it is full; every file is whole
	 * or absent. */
	for (i = 0; i < 100 && full < 3; i++) {
		snprintf(name, sizeof name, "fill-%02d.md", i);
		fill_pattern(small, sizeof small, (unsigned)i);
		r = t_write(&e, name, small, sizeof small, 0);
		if (r == 0) {
			ok++;
			ASSERT_EQ(t_which(&e, name, small, sizeof small, NULL, 0), 1);
		} else {
			ASSERT_EQ(r, -ENOSPC);
			ASSERT_EQ(t_which(&e, name, NULL, 0, NULL, 0), 0);
			full++;
		}
		t_no_leftovers(mnt, "filling");
	}
	ASSERT_GE(ok, 1);
	ASSERT_GE(full, 1);
	ASSERT_EQ(t_which(&e, "old.md", old_data, sizeof old_data, NULL, 0), 1);

	/* 3. The tools say so in a sentence, and the old file survives. */
	{
		char *j = malloc(70000);
		snprintf(j, 70000, "{\"path\":\"old.md\",\"content\":\"%0*d\"}", 60000, 7);
		t_tool(&e, "write_file", j, &tr);
		free(j);
		ASSERT(tr.is_error);
		if (!strstr(tr.text, "old.md") || !strstr(tr.text, "no space left on device"))
			T_FAIL("write_file on a full disk: \"%s\"", tr.text);
		ASSERT_EQ(t_which(&e, "old.md", old_data, sizeof old_data, NULL, 0), 1);
	}
	mkdir(strcat(strcpy(path, mnt), "/proj"), 0755);
	t_write_file(mnt, "proj/u.md", "# U\n", 4);
	{
		char *j = malloc(70000);
		snprintf(j, 70000, "{\"projectName\":\"proj\",\"fileName\":\"u.md\",\"content\":\"%0*d\"}", 60000, 7);
		t_tool(&e, "memory_bank_update", j, &tr);
		free(j);
		ASSERT(tr.is_error);
		if (!strstr(tr.text, "u.md") || !strstr(tr.text, "no space left on device"))
			T_FAIL("memory_bank_update on a full disk: \"%s\"", tr.text);
		ASSERT_EQ(t_which(&e, "proj/u.md", "# U\n", 4, NULL, 0), 1);
	}
	t_settle(&e);
	t_no_leftovers(mnt, "tools on a full disk");
	env_check_idle(&e);
	ASSERT_EQ(t_fd_count(), fd_base);

	/* 4. Space freed: the write goes through. */
	for (i = 0; i < 100; i++) {
		snprintf(path, sizeof path, "%s/fill-%02d.md", mnt, i);
		unlink(path);
	}
	ASSERT_EQ(t_write(&e, "old.md", small, sizeof small, 0), 0);
	ASSERT_EQ(t_which(&e, "old.md", small, sizeof small, NULL, 0), 1);
	free(tr.structured);
	/* Leave the mount point itself for the parent to remove. */
	unlink(strcat(strcpy(path, mnt), "/old.md"));
	unlink(strcat(strcpy(path, mnt), "/proj/u.md"));
	snprintf(path, sizeof path, "%s/proj", mnt);
	rmdir(path);
	free(e.dir);
	e.dir = NULL;
	env_check_idle(&e);
	rb_fs_free(e.fs);
	t_teardown(e.loop, e.io);
	rb_cap_deinit(&e.cap);
	fprintf(stderr, "%s: %d writes fit, %d refused with ENOSPC\n", kname(kind), ok, full + 3);
}

static int child(const char *mnt)
{
	if (unshare(CLONE_NEWNS) < 0) {
		fprintf(stderr, "SKIP: unshare(CLONE_NEWNS): %s\n", strerror(errno));
		return T_EXIT_SKIP;
	}
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "SKIP: making mounts private: %s\n", strerror(errno));
		return T_EXIT_SKIP;
	}
	if (mount("rbtest", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=256k,mode=0755") < 0) {
		fprintf(stderr, "SKIP: mount tmpfs: %s\n", strerror(errno));
		return T_EXIT_SKIP;
	}
	FOR_BOTH_BACKENDS(kind)
		run(kind, mnt);
	umount2(mnt, MNT_DETACH);
	return T_EXIT_PASS;
}

int main(void)
{
	char *mnt;
	pid_t pid;
	int st;

	fill_pattern(old_data, sizeof old_data, 3);
	fill_pattern(big, sizeof big, 4);
	rb_log_set_level(RB_LOG_ERROR);
	mnt = t_tmpdir();
	fflush(NULL);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0)
		_exit(child(mnt));
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	rmdir(mnt);
	free(mnt);
	if (WIFSIGNALED(st))
		T_FAIL("child killed by signal %d", WTERMSIG(st));
	return WEXITSTATUS(st);
}
