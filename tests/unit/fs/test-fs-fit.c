/* Description: the buffer rb_fs_read_file hands back fits its data
 * (src/fs/read.c, read_fit), on both backends. The fast path reads into
 * 64 KiB; a caller that keeps many results (read_multiple_files) must not
 * hold 64 KiB per small file.
 *  - sizes 0 B to 200 KiB, through the fast path and the step path
 *    (RB_FS_READ_STAT): the bytes are the file's, NUL-terminated, and the
 *    allocation exceeds len + 1 by less than a page (malloc_usable_size);
 *  - 1024 files of 2 KiB read concurrently and all held: the heap grows by
 *    about what is held, not by 64 KiB per file. A shrink in place would
 *    leave every freed tail between two held blocks, too small for the next
 *    64 KiB buffer (glibc only: mallinfo2; skipped under ASan, whose
 *    allocator has no such heap). */
#include <malloc.h>

#include "fs_t.h"

/* What a fitted buffer may carry beyond len + 1: under a page (the in-place
 * shrink's threshold) plus malloc's rounding. */
#define FIT_SLACK_MAX (4096 + 64)
#define HELD_FILES 1024
#define HELD_SIZE 2048

#if defined(__SANITIZE_ADDRESS__)
#define FIT_HEAP_CHECK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FIT_HEAP_CHECK 0
#endif
#endif
#ifndef FIT_HEAP_CHECK
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define FIT_HEAP_CHECK 1
#else
#define FIT_HEAP_CHECK 0
#endif
#endif

static void check_fit(const char *what, size_t size, const char *got, size_t len, const char *want)
{
	size_t usable = malloc_usable_size((void *)got);

	ASSERT_EQ(len, size);
	ASSERT(memcmp(got, want, size) == 0);
	ASSERT_EQ(got[len], '\0');
	if (usable < len + 1 || usable - (len + 1) >= FIT_SLACK_MAX)
		T_FAIL("%s, %zu bytes: the buffer holds %zu bytes (at most %zu expected)", what, size, usable,
		       len + FIT_SLACK_MAX);
}

static void test_sizes(struct env *e)
{
	/* Under half the first buffer (copied), over half with a page or more
	 * free (shrunk in place), under a page free (kept), a full first buffer
	 * and over it (the step path sizes the buffer by the statx). */
	static const size_t sizes[] = { 0, 1, 100, 2048, 30000, 40000, 62000, 65535, 65536, 200000 };
	char name[32], *want = malloc(200000), *got;
	size_t i, len;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		fill_pattern(want, sizes[i], (unsigned)i + 1);
		snprintf(name, sizeof name, "size-%zu", sizes[i]);
		t_write_file(e->dir, name, want, sizes[i]);
		ASSERT_EQ(t_read(e, name, 0, 0, &got, &len, NULL), 0);
		check_fit("fast path", sizes[i], got, len, want);
		free(got);
		ASSERT_EQ(t_read(e, name, RB_FS_READ_STAT, 0, &got, &len, NULL), 0);
		check_fit("step path", sizes[i], got, len, want);
		free(got);
	}
	free(want);
}

static void test_held(struct env *e)
{
	static struct waiter w[HELD_FILES];
	char name[64], want[HELD_SIZE];
	unsigned i;
#if FIT_HEAP_CHECK
	struct mallinfo2 before, after;
#endif

	memset(w, 0, sizeof w);
	snprintf(name, sizeof name, "%s/many", e->dir);
	ASSERT(mkdir(name, 0755) == 0 || errno == EEXIST);
	for (i = 0; i < HELD_FILES; i++) {
		fill_pattern(want, HELD_SIZE, 1000 + i);
		snprintf(name, sizeof name, "many/f%04u.md", i);
		t_write_file(e->dir, name, want, HELD_SIZE);
	}
#if FIT_HEAP_CHECK
	malloc_trim(0);
	before = mallinfo2();
#endif
	/* All at once: the cap lets 128 run and queues the rest, so buffers
	 * are allocated while earlier results are held around them. */
	for (i = 0; i < HELD_FILES; i++) {
		struct rb_path p;
		snprintf(name, sizeof name, "many/f%04u.md", i);
		p = env_resolve(e, name);
		ASSERT_EQ(rb_fs_read_file(e->fs, &p, 0, 0, RB_CAP_BULK, read_cb, &w[i], NULL), 0);
	}
	for (i = 0; i < HELD_FILES; i++)
		t_run_until(e->loop, &w[i].done);
#if FIT_HEAP_CHECK
	after = mallinfo2();
	/* Held: 1024 x ~2 KiB = ~2 MiB; 64 KiB per file would be 64 MiB. The
	 * bound leaves room for the buffers in flight (128 x 64 KiB). */
	if (after.arena > before.arena && after.arena - before.arena > 16u * 1024 * 1024)
		T_FAIL("%s: the heap grew by %zu KiB holding %u results of %u bytes", kname(e->kind),
		       (after.arena - before.arena) / 1024, HELD_FILES, HELD_SIZE);
	fprintf(stderr, "%s: heap grew by %zu KiB holding %u results of %u bytes\n", kname(e->kind),
		after.arena > before.arena ? (after.arena - before.arena) / 1024 : 0, HELD_FILES, HELD_SIZE);
#else
	fprintf(stderr, "%s: heap growth not checked (sanitizer allocator or no mallinfo2)\n", kname(e->kind));
#endif
	for (i = 0; i < HELD_FILES; i++) {
		ASSERT_EQ(w[i].res, 0);
		fill_pattern(want, HELD_SIZE, 1000 + i);
		check_fit("held", HELD_SIZE, w[i].data, w[i].len, want);
		free(w[i].data);
	}
}

int main(void)
{
	FOR_BOTH_BACKENDS(k) {
		struct env e;
		if (!env_setup(&e, k))
			continue;
		fprintf(stderr, "%s: sizes\n", kname(k));
		test_sizes(&e);
		fprintf(stderr, "%s: held\n", kname(k));
		test_held(&e);
		env_teardown(&e);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	return T_EXIT_PASS;
}
