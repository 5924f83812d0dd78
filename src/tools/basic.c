/* basic.c: tools that need no file I/O. list_allowed_directories answers
 * like the official filesystem server (text "Allowed directories:\n" plus
 * one path per line, and structuredContent.content with the same short
 * text) and adds the list itself as structuredContent.directories. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"

static int allowed_run(struct rb_call *call)
{
	struct rb_fs *fs = rb_call_fs(call);
	yyjson_mut_doc *d = rb_call_doc(call);
	yyjson_mut_val *sc = yyjson_mut_obj(d), *dirs = yyjson_mut_arr(d);
	/* No narrowing (no MCP roots) means the command-line roots. */
	bool narrowed = rb_fs_allowed_count(fs) > 0;
	size_t i, n = narrowed ? rb_fs_allowed_count(fs) : rb_fs_root_count(fs), len = 0, cap = 64;
	char *text = malloc(cap);
	static const char head[] = "Allowed directories:";

	if (!text)
		return -ENOMEM;
	memcpy(text, head, sizeof(head));
	len = sizeof(head) - 1;
	for (i = 0; i < n; i++) {
		const char *p = narrowed ? rb_fs_allowed_path(fs, i) : rb_fs_root_path(fs, i);
		size_t pl = strlen(p);
		if (len + pl + 2 > cap) {
			char *t;
			while (len + pl + 2 > cap)
				cap *= 2;
			t = realloc(text, cap);
			if (!t) {
				free(text);
				return -ENOMEM;
			}
			text = t;
		}
		text[len++] = '\n';
		memcpy(text + len, p, pl + 1);
		len += pl;
		yyjson_mut_arr_add_strcpy(d, dirs, p);
	}
	yyjson_mut_obj_add_strncpy(d, sc, "content", text, len);
	yyjson_mut_obj_add_val(d, sc, "directories", dirs);
	/* The result is ready now; the MCP layer delivers it after run() returns. */
	rb_call_finish_text(call, text, len, sc);
	free(text);
	return 0;
}

static const struct rb_tool list_allowed_directories = {
	.name = "list_allowed_directories",
	.title = "List Allowed Directories",
	.description = "Returns the list of directories that this server is allowed to access. "
		       "Subdirectories within these allowed directories are also accessible. "
		       "Use this to understand which directories and their nested paths are available "
		       "before trying to access files.",
	.input_schema = "{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}",
	.output_schema = "{\"type\":\"object\",\"properties\":{"
			 "\"content\":{\"type\":\"string\",\"description\":\"The same text as the content block\"},"
			 "\"directories\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},"
			 "\"description\":\"Absolute paths of the allowed directories\"}},"
			 "\"required\":[\"content\",\"directories\"]}",
	.read_only = true,
	.idempotent = true,
	.run = allowed_run,
};

const struct rb_tool *const rb_tools_basic[] = { &list_allowed_directories, NULL };
