/* registry.c: the tool table: every module's array, in a fixed order, built
 * once; lookups by name for tools/call. */
#include <stddef.h>
#include <string.h>

#include "tools.h"

#define MAX_TOOLS 128

static const struct rb_tool *const *const modules[] = { rb_tools_files, rb_tools_basic, rb_tools_projects, rb_tools_search, rb_tools_stats, rb_tools_validate, rb_tools_jobs };
static const struct rb_tool *table[MAX_TOOLS + 1];
static size_t ntable;

const struct rb_tool *const *rb_tools_all(void)
{
	size_t m, i;

	if (ntable)
		return table;
	for (m = 0; m < sizeof(modules) / sizeof(modules[0]); m++)
		for (i = 0; modules[m][i] && ntable < MAX_TOOLS; i++)
			table[ntable++] = modules[m][i];
	table[ntable] = NULL;
	return table;
}

const struct rb_tool *rb_tool_find(const char *name)
{
	const struct rb_tool *const *t;

	for (t = rb_tools_all(); *t; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	return NULL;
}
