/* Description: regression (found by tests/fuzz/fuzz_mdcheck): md4c 0.4.8
 * reads one byte past the end of its input when the input ends inside an
 * inline link ("[](", "x[](" ...). rb_md_check is safe as long as the byte
 * after the data is readable, which every caller guarantees today: the fs
 * layer's buffers end with a NUL. This places such inputs, followed by
 * their NUL, at the very end of a page whose next page is inaccessible, so
 * any read further than that NUL faults. */
#include <sys/mman.h>

#include "t.h"
#include "ringbank/mdcheck.h"

int main(void)
{
	static const char *const inputs[] = { "[](", "x[](", "# T\n\n[a](", "# T\n\n![i](<", "[x]: <", "[](#" };
	long pg = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct rb_md_opts o = { .links = true };
	struct rb_md_result r;
	size_t i;

	ASSERT(m != MAP_FAILED);
	ASSERT_EQ(mprotect(m + pg, (size_t)pg, PROT_NONE), 0);
	rb_md_result_init(&r);
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		size_t n = strlen(inputs[i]);
		char *s = m + pg - n - 1;
		memcpy(s, inputs[i], n + 1); /* with its NUL, like rb_fs_read_file's buffers */
		ASSERT_EQ(rb_md_check(s, n, "x.md", &o, &r), 0);
	}
	rb_md_result_free(&r);
	munmap(m, 2 * (size_t)pg);
	return T_EXIT_PASS;
}
