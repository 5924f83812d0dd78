/* tools.h (internal to src/tools): each tool module's NULL-terminated
 * table, gathered by registry.c into rb_tools_all(). */
#ifndef RB_TOOLS_INTERNAL_H
#define RB_TOOLS_INTERNAL_H

#include "ringbank/tool.h"

extern const struct rb_tool *const rb_tools_basic[]; /* basic.c */
extern const struct rb_tool *const rb_tools_files[]; /* files*.c */
extern const struct rb_tool *const rb_tools_projects[], *const rb_tools_search[], *const rb_tools_stats[]; /* bank tools */
extern const struct rb_tool *const rb_tools_validate[]; /* validate.c (src/bank) */
extern const struct rb_tool *const rb_tools_jobs[]; /* src/jobs/tools.c (issue 5) */

#endif
