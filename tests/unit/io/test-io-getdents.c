/* Description: GETDENTS over a directory of 1000 files plus a 255-byte
 * name, a name with a newline and a name that is not UTF-8, read in 1 KiB
 * chunks until it returns 0: every name comes back exactly once, each chunk
 * fits the buffer, and both backends list the same names. Errors: a regular
 * file (-ENOTDIR), a buffer too small for one entry (-EINVAL), a bad fd
 * (-EBADF). */
#include <stdint.h>

#include "io_t.h"

#define NFILES 1000
#define NEXTRA 3
#define CHUNK 1024

struct dirent64_raw {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static char *names[T_NCFG][NFILES + NEXTRA];
static int nnames[T_NCFG];

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void expected(char **out)
{
	char *longname = malloc(256);
	int i;
	memset(longname, 'L', 255);
	longname[255] = 0;
	for (i = 0; i < NFILES; i++)
		ASSERT(asprintf(&out[i], "note-%04d.md", i) > 0);
	out[NFILES] = longname;
	out[NFILES + 1] = strdup("line\nbreak.md");
	out[NFILES + 2] = strdup("bad-\xff\xfe-utf8.md");
}

static void listing(struct t_ctx *c)
{
	char *want[NFILES + NEXTRA];
	char *buf = malloc(CHUNK);
	int dir, i, calls = 0;
	char **got = names[c->cfg];
	int64_t n;

	expected(want);
	ASSERT_EQ(mkdirat(c->dfd, "big", 0755), 0);
	dir = openat(c->dfd, "big", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(dir, 0);
	for (i = 0; i < NFILES + NEXTRA; i++) {
		int f = openat(dir, want[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		ASSERT_GE(f, 0);
		close(f);
	}
	nnames[c->cfg] = 0;
	for (;;) {
		n = t_rw(c, RB_IO_GETDENTS, dir, buf, CHUNK, -1);
		ASSERT_GE(n, 0);
		ASSERT_LE(n, CHUNK);
		if (n == 0)
			break;
		calls++;
		for (int64_t off = 0; off < n;) {
			struct dirent64_raw *d = (struct dirent64_raw *)(buf + off);
			ASSERT_GE(d->d_reclen, offsetof(struct dirent64_raw, d_name) + 2);
			ASSERT_LE(off + d->d_reclen, n);
			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			ASSERT_EQ(d->d_type, DT_REG);
			ASSERT(nnames[c->cfg] < NFILES + NEXTRA);
			got[nnames[c->cfg]++] = strdup(d->d_name);
		}
	}
	/* Once at the end it stays there. */
	ASSERT_EQ(t_rw(c, RB_IO_GETDENTS, dir, buf, CHUNK, -1), 0);
	fprintf(stderr, "%d entries in %d chunks of %d bytes\n", nnames[c->cfg], calls, CHUNK);
	ASSERT_GE(calls, 20); /* really chunked: ~30 bytes+ per entry */
	ASSERT_EQ(nnames[c->cfg], NFILES + NEXTRA);
	qsort(got, (size_t)nnames[c->cfg], sizeof(char *), cmp);
	qsort(want, NFILES + NEXTRA, sizeof(char *), cmp);
	for (i = 0; i < NFILES + NEXTRA; i++) {
		ASSERT_STREQ(got[i], want[i]);
		free(want[i]);
	}

	/* Errors. */
	{
		int f;
		t_write_file(c->dir, "plain", "p", 1);
		f = openat(c->dfd, "plain", O_RDONLY | O_CLOEXEC);
		ASSERT_GE(f, 0);
		ASSERT_EQ(t_rw(c, RB_IO_GETDENTS, f, buf, CHUNK, -1), -ENOTDIR);
		close(f);
		ASSERT_EQ(lseek(dir, 0, SEEK_SET), 0);
		ASSERT_EQ(t_rw(c, RB_IO_GETDENTS, dir, buf, 8, -1), -EINVAL);
		ASSERT_EQ(t_rw(c, RB_IO_GETDENTS, 100000, buf, CHUNK, -1), -EBADF);
	}
	close(dir);
	free(buf);
}

int main(void)
{
	struct t_ctx c;
	int i;
	FOR_EACH_CONFIG(k) {
		if (!t_begin(&c, k))
			continue;
		listing(&c);
		t_end(&c);
	}
	/* Every configuration that ran listed the same names (sorted). */
	for (int ref = -1, k = 0; k < T_NCFG; k++) {
		if (!nnames[k])
			continue;
		if (ref < 0)
			ref = k;
		for (i = 0; i < NFILES + NEXTRA; i++)
			ASSERT_STREQ(names[ref][i], names[k][i]);
	}
	for (int k = 0; k < T_NCFG; k++)
		for (i = 0; i < nnames[k]; i++)
			free(names[k][i]);
	return T_EXIT_PASS;
}
