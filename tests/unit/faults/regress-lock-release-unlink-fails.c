/* Description: regression (found by tests/unit/faults/test-faults): when
 * the unlink that releases a lock file failed once (EIO), the lock file
 * stayed; its holder (this process) is alive, so every later
 * memory_bank_update of that file waited 5 s and failed "locked by another
 * writer" until the lock went stale after 60 s. Release now retries the
 * unlink: the lock is gone and the next update succeeds at once. Both
 * backends. */
#include "faults_t.h"

int main(void)
{
	t_prefer_tmpfs();
	rb_log_set_level(RB_LOG_ERROR);
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		struct t_tool_res tr = { 0 };
		uint64_t t0;

		if (!env_setup(&e, kind))
			continue;
		{
			char p[4096];
			env_path(&e, "proj", p, sizeof p);
			ASSERT_EQ(mkdir(p, 0755), 0);
		}
		t_write_file(e.dir, "proj/u.md", "# Old\n", 6);
		/* The write renames its temp file: the first unlink is the release. */
		rb_io_fault_set(e.io, RB_IO_UNLINKAT, 1, 0, -EIO);
		t_tool(&e, "memory_bank_update", "{\"projectName\":\"proj\",\"fileName\":\"u.md\",\"content\":\"# New\\n\"}", &tr);
		rb_io_fault_set(e.io, RB_IO_NOP, 0, 0, 0);
		ASSERT(!tr.is_error);
		ASSERT_EQ(rb_io_fault_count(e.io), 1);
		t_settle(&e);
		t_no_leftovers(e.dir, "release after a failed unlink");
		t0 = rb_now_ns();
		t_tool(&e, "memory_bank_update", "{\"projectName\":\"proj\",\"fileName\":\"u.md\",\"content\":\"# Newer\\n\"}", &tr);
		if (tr.is_error)
			T_FAIL("%s: the next update failed: %s", kname(kind), tr.text);
		ASSERT_LE(rb_now_ns() - t0, 1000000000ull);
		ASSERT_EQ(t_which(&e, "proj/u.md", "# Newer\n", 8, NULL, 0), 1);
		t_settle(&e);
		free(tr.structured);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
