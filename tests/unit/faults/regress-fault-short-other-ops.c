/* Description: regression (found by tests/unit/faults/test-faults):
 * rb_io_fault_set(io, RB_IO_NOP, n, k, RB_IO_FAULT_SHORT) used to fail the
 * nth request of any other kind (open, statx, fsync, rename...) with the
 * marker value -100000 itself as its "errno". A short transfer exists only
 * for a READ or WRITE of two bytes or more: other requests are neither
 * counted nor failed. Both backends. */
#include "fs_t.h"

int main(void)
{
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		static char data[100000];
		char *got = NULL;
		size_t len = 0;
		uint64_t hits;

		if (!env_setup(&e, kind))
			continue;
		fill_pattern(data, sizeof data, 5);
		hits = rb_io_fault_count(e.io);
		/* Every request a candidate: only the writes and reads are shortened. */
		rb_io_fault_set(e.io, RB_IO_NOP, 1, 1, RB_IO_FAULT_SHORT);
		ASSERT_EQ(t_mkdir(&e, "a/b", true), 0);
		ASSERT_EQ(rb_io_fault_count(e.io), hits); /* no read or write in a mkdir */
		ASSERT_EQ(t_write(&e, "a/b/f.md", data, sizeof data, 0), 0);
		ASSERT_GE(rb_io_fault_count(e.io), hits + 2); /* the write was split */
		ASSERT_GE(t_read(&e, "a/b/f.md", RB_FS_READ_STAT, 0, &got, &len, NULL), 0);
		rb_io_fault_set(e.io, RB_IO_NOP, 0, 0, 0);
		ASSERT_EQ(len, sizeof data);
		ASSERT(!memcmp(got, data, len));
		free(got);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
