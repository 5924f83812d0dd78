/* scan-sync.c: the synchronous baseline for `ringbank scan`: the same
 * syscalls one after another on one thread, no nftw. Depth first over an
 * explicit stack; each directory is opened with openat(O_DIRECTORY|
 * O_NOFOLLOW) relative to its parent's path, read with getdents64 into a 32
 * KiB buffer until it returns 0, and each regular or unknown-type entry is
 * statx'ed relative to the directory fd (AT_SYMLINK_NOFOLLOW, the same mask
 * as the walk). Prints the same JSON as `ringbank scan` plus the time spent
 * inside getdents64 and statx, so listing's share of a scan is measured.
 *
 *   rb-scan-sync DIR */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static char **stack;
static size_t nstack, capstack;

static void push(char *p)
{
	if (nstack == capstack) {
		capstack = capstack ? capstack * 2 : 256;
		stack = realloc(stack, capstack * sizeof(*stack));
		if (!stack) {
			perror("realloc");
			exit(1);
		}
	}
	stack[nstack++] = p;
}

int main(int argc, char **argv)
{
	static char buf[32768];
	uint64_t files = 0, dirs = 0, links = 0, other = 0, bytes = 0, errors = 0;
	uint64_t t0, gd_ns = 0, st_ns = 0, gd_calls = 0, st_calls = 0;
	int rootfd;

	if (argc != 2) {
		fprintf(stderr, "usage: rb-scan-sync DIR\n");
		return 1;
	}
	rootfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		fprintf(stderr, "rb-scan-sync: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	t0 = now_ns();
	push(strdup("."));
	while (nstack) {
		char *rel = stack[--nstack];
		int fd = openat(rootfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			errors++;
			free(rel);
			continue;
		}
		for (;;) {
			uint64_t t = now_ns();
			long n = syscall(SYS_getdents64, fd, buf, sizeof(buf));
			long pos;
			gd_ns += now_ns() - t;
			gd_calls++;
			if (n <= 0) {
				if (n < 0)
					errors++;
				break;
			}
			for (pos = 0; pos < n;) {
				struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + pos);
				unsigned char type = d->d_type;
				pos += d->d_reclen;
				if (d->d_name[0] == '.' && (!d->d_name[1] || (d->d_name[1] == '.' && !d->d_name[2])))
					continue;
				if (type == DT_REG || type == DT_UNKNOWN) {
					struct statx stx;
					uint64_t ts = now_ns();
					int r = statx(fd, d->d_name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
						      STATX_TYPE | STATX_SIZE | STATX_MTIME | STATX_MODE | STATX_INO, &stx);
					st_ns += now_ns() - ts;
					st_calls++;
					if (r < 0) {
						errors++;
						continue;
					}
					type = (unsigned char)IFTODT(stx.stx_mode);
					if (type == DT_REG)
						bytes += stx.stx_size;
				}
				if (type == DT_REG) {
					files++;
				} else if (type == DT_DIR) {
					char *sub;
					dirs++;
					if (asprintf(&sub, "%s/%s", rel, d->d_name) < 0) {
						perror("asprintf");
						return 1;
					}
					push(sub);
				} else if (type == DT_LNK) {
					links++;
				} else {
					other++;
				}
			}
		}
		close(fd);
		free(rel);
	}
	printf("{\"files\": %llu, \"directories\": %llu, \"symlinks\": %llu, \"other\": %llu, \"bytes\": %llu, "
	       "\"elapsed_s\": %.6f, \"io\": \"sync\", \"errors\": %llu, \"getdents_s\": %.6f, \"getdents_calls\": %llu, "
	       "\"statx_s\": %.6f, \"statx_calls\": %llu}\n",
	       (unsigned long long)files, (unsigned long long)dirs, (unsigned long long)links,
	       (unsigned long long)other, (unsigned long long)bytes, (double)(now_ns() - t0) / 1e9,
	       (unsigned long long)errors, (double)gd_ns / 1e9, (unsigned long long)gd_calls, (double)st_ns / 1e9,
	       (unsigned long long)st_calls);
	close(rootfd);
	free(stack);
	return 0;
}
