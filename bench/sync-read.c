/*
 * sync-read: the synchronous floor for ringbank's benchmarks.
 *
 * One thread, blocking syscalls, nothing else: the kernel work per file that
 * any server has to pay at least once, with no event loop, no protocol and no
 * thread hand-offs.  Compiled by bench/run with `cc -O2` into bench/.bin/
 * (it is deliberately not part of meson.build).
 *
 *   sync-read read  ROOT LIST      openat(root, path) + read until short/0 + close
 *   sync-read stat  ROOT LIST      fstatat(root, path) for every listed path
 *   sync-read walk  ROOT           open dirs + getdents64 + fstatat every entry
 *   sync-read grep  ROOT NEEDLE    walk, then read every file and memmem NEEDLE
 *   sync-read evict ROOT           walk, posix_fadvise(DONTNEED) every file
 *
 * LIST is a file of paths relative to ROOT, one per line.  Reads go into one
 * growable buffer (64 KiB first, doubled while a read fills it), the shape
 * the server uses: no stat before reading, a short read ends the file.
 *
 * Prints one JSON object on stdout.  Timing and CPU cover the measured phase
 * only (loading LIST is excluded; the walk of `grep` is included, as the
 * server has to walk too).
 */
#define _GNU_SOURCE 1
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "sync-read: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fprintf(stderr, "sync-read: out of memory\n");
		exit(1);
	}
	return q;
}

/* ---- a flat list of relative paths ---- */
struct list {
	char **v;
	size_t n, cap;
};

static void list_push(struct list *l, const char *s, size_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = xrealloc(l->v, l->cap * sizeof *l->v);
	}
	char *c = xrealloc(NULL, len + 1);
	memcpy(c, s, len);
	c[len] = 0;
	l->v[l->n++] = c;
}

static void list_load(struct list *l, const char *file)
{
	FILE *f = fopen(file, "r");
	if (!f)
		die(file);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len)
			list_push(l, line, (size_t)len);
	}
	free(line);
	fclose(f);
}

/* ---- counters ---- */
static uint64_t n_files, n_dirs, n_bytes, n_errors, n_matches;

/* ---- reading ---- */
static char *buf;
static size_t bufcap;

static ssize_t read_whole(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		n_errors++;
		return -1;
	}
	size_t len = 0;
	for (;;) {
		if (len == bufcap) {
			bufcap = bufcap ? bufcap * 2 : 65536;
			buf = xrealloc(buf, bufcap);
		}
		size_t want = bufcap - len;
		ssize_t r = read(fd, buf + len, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			n_errors++;
			close(fd);
			return -1;
		}
		len += (size_t)r;
		if ((size_t)r < want)
			break; /* short read or 0: end of file */
	}
	close(fd);
	n_files++;
	n_bytes += len;
	return (ssize_t)len;
}

/* ---- walking: getdents64 + fstatat relative to the directory fd ---- */
struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static void walk(int dirfd, const char *rel, struct list *out)
{
	char dents[32768];
	n_dirs++;
	for (;;) {
		long nread = syscall(SYS_getdents64, dirfd, dents, sizeof dents);
		if (nread < 0) {
			if (errno == EINTR)
				continue;
			n_errors++;
			return;
		}
		if (nread == 0)
			return;
		for (long off = 0; off < nread;) {
			struct linux_dirent64 *d = (void *)(dents + off);
			off += d->d_reclen;
			const char *name = d->d_name;
			if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
				continue;
			struct stat st;
			if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				n_errors++;
				continue;
			}
			size_t rl = strlen(rel), nl = strlen(name);
			char *path = xrealloc(NULL, rl + nl + 2);
			if (rl) {
				memcpy(path, rel, rl);
				path[rl] = '/';
				memcpy(path + rl + 1, name, nl + 1);
			} else {
				memcpy(path, name, nl + 1);
			}
			if (S_ISDIR(st.st_mode)) {
				int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (sub < 0) {
					n_errors++;
				} else {
					walk(sub, path, out);
					close(sub);
				}
			} else if (S_ISREG(st.st_mode)) {
				n_files++;
				n_bytes += (uint64_t)st.st_size;
				if (out)
					list_push(out, path, rl + nl + (rl ? 1 : 0));
			}
			free(path);
		}
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak RSS of this program only: VmHWM belongs to the address space, which
 * execve replaces, while ru_maxrss carries over the forking parent's peak. */
static long vm_hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: sync-read read|stat ROOT LIST | walk|evict ROOT | grep ROOT NEEDLE\n");
		return 2;
	}
	const char *mode = argv[1], *root = argv[2];
	int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		die(root);
	struct list lst = {0};
	int is_read = !strcmp(mode, "read"), is_stat = !strcmp(mode, "stat");
	if (is_read || is_stat) {
		if (argc < 4) {
			fprintf(stderr, "sync-read: %s needs a LIST file\n", mode);
			return 2;
		}
		list_load(&lst, argv[3]);
	} else if (!strcmp(mode, "grep") && argc < 4) {
		fprintf(stderr, "sync-read: grep needs a NEEDLE\n");
		return 2;
	}

	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = now_s();

	if (is_read) {
		for (size_t i = 0; i < lst.n; i++)
			read_whole(rootfd, lst.v[i]);
	} else if (is_stat) {
		struct stat st;
		for (size_t i = 0; i < lst.n; i++) {
			if (fstatat(rootfd, lst.v[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
				n_errors++;
			else
				n_files++;
		}
	} else if (!strcmp(mode, "walk")) {
		walk(rootfd, "", NULL);
	} else if (!strcmp(mode, "grep") || !strcmp(mode, "evict")) {
		int grep = mode[0] == 'g';
		walk(rootfd, "", &lst);
		n_files = n_bytes = 0;
		const char *needle = grep ? argv[3] : NULL;
		size_t nl = needle ? strlen(needle) : 0;
		for (size_t i = 0; i < lst.n; i++) {
			if (grep) {
				ssize_t len = read_whole(rootfd, lst.v[i]);
				for (char *p = buf; len > 0 && p;) {
					p = memmem(p, (size_t)len - (size_t)(p - buf), needle, nl);
					if (p) {
						n_matches++;
						p += nl;
						if (p >= buf + len)
							break;
					}
				}
			} else {
				int fd = openat(rootfd, lst.v[i], O_RDONLY | O_CLOEXEC);
				if (fd < 0) {
					n_errors++;
					continue;
				}
				if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
					n_errors++;
				close(fd);
				n_files++;
			}
		}
	} else {
		fprintf(stderr, "sync-read: unknown mode %s\n", mode);
		return 2;
	}

	double t1 = now_s();
	getrusage(RUSAGE_SELF, &r1);
	printf("{\"mode\":\"%s\",\"files\":%llu,\"dirs\":%llu,\"bytes\":%llu,\"errors\":%llu,"
	       "\"matches\":%llu,\"wall_s\":%.6f,\"user_s\":%.6f,\"sys_s\":%.6f,\"hwm_kb\":%ld}\n",
	       mode, (unsigned long long)n_files, (unsigned long long)n_dirs,
	       (unsigned long long)n_bytes, (unsigned long long)n_errors,
	       (unsigned long long)n_matches, t1 - t0,
	       tv_s(r1.ru_utime) - tv_s(r0.ru_utime), tv_s(r1.ru_stime) - tv_s(r0.ru_stime),
	       vm_hwm_kb());
	return 0;
}
