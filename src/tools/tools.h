/* tools.h (internal to src/tools): each tool module's NULL-terminated
 * table, gathered by registry.c into rb_tools_all(). */
#ifndef RB_TOOLS_INTERNAL_H
#define RB_TOOLS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ringbank/lock.h"
#include "ringbank/mcp.h"
#include "ringbank/tool.h"

extern const struct rb_tool *const rb_tools_basic[]; /* basic.c */
extern const struct rb_tool *const rb_tools_files[]; /* files*.c */
extern const struct rb_tool *const rb_tools_projects[], *const rb_tools_search[], *const rb_tools_stats[]; /* bank tools */
extern const struct rb_tool *const rb_tools_validate[]; /* validate.c (src/bank) */
extern const struct rb_tool *const rb_tools_jobs[]; /* src/jobs/tools.c (issue 5) */

/* The lock options of every tool that takes a file's lock (write_file,
 * edit_file, memory_bank_update), from rb_tools_set_opts (mcp.h): pass it
 * to rb_lock_acquire as is (it is copied there). files.c. */
const struct rb_lock_opts *rb_tools_lock_opts(void);
/* The sentence those tools give when the wait ran out (-RB_E_LOCKED), after
 * "<path>: ": "another writer held the bank lock for 5.0 s (--lock-wait-ms
 * 5000), so nothing was written (holder: pid 42 on host h, 1.2 s old)".
 * waited_ns: since the acquisition started; holder as rb_lock_acquire gave
 * it (may be NULL). */
void rb_tools_lock_msg(char *buf, size_t n, uint64_t waited_ns, const char *holder);

#endif
