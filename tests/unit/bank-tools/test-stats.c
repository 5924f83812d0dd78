/* Description: bank_stats through the call machinery, on both io backends:
 * exact counts of files, markdown files, directories, symlinks and bytes,
 * the token estimate, the largest and newest files in order (12 files, so
 * the top 10 cut shows), the cache section before and after a cached read,
 * a narrower path, and a missing path reported as an error. */
#include <sys/time.h>

#include "bank_t.h"

static void set_mtime(struct env *e, const char *rel, long sec)
{
	char p[4096];
	struct timeval tv[2] = { { sec, 0 }, { sec, 0 } };
	env_path(e, rel, p, sizeof(p));
	ASSERT_EQ(utimes(p, tv), 0);
}

int main(void)
{
	FOR_BOTH_BACKENDS(kind) {
		struct env e;
		struct result r;
		char rel[64], buf[2048], p[4096];
		uint64_t bytes = 0;
		yyjson_val *arr;
		int i;

		if (!env_setup(&e, kind))
			continue;
		fprintf(stderr, "backend %s\n", kname(kind));
		ASSERT_EQ(t_mkdir(&e, "a/b", true), 0);
		ASSERT_EQ(t_mkdir(&e, "c", false), 0);
		/* f00..f11 of 100*(i+1) bytes; mtime grows with i, except f03 is the newest. */
		for (i = 0; i < 12; i++) {
			snprintf(rel, sizeof(rel), "%s/f%02d.%s", i % 3 == 0 ? "a" : i % 3 == 1 ? "a/b" : "c", i,
				 i % 4 == 0 ? "txt" : "md");
			memset(buf, 'x', sizeof(buf));
			t_write_file(e.dir, rel, buf, (size_t)100 * (i + 1));
			bytes += (uint64_t)100 * (i + 1);
			set_mtime(&e, rel, 1700000000 + i * 60 + (i == 3 ? 10000 : 0));
		}
		env_path(&e, "link", p, sizeof(p));
		ASSERT_EQ(symlink("a", p), 0);

		call_tool(&e, "bank_stats", "{}", &r);
		ASSERT(!r.is_error);
		ASSERT_EQ(sc_uint(&r, "files"), 12);
		ASSERT_EQ(sc_uint(&r, "markdownFiles"), 9);
		ASSERT_EQ(sc_uint(&r, "directories"), 3);
		ASSERT_EQ(sc_uint(&r, "symlinks"), 1);
		ASSERT_EQ(sc_uint(&r, "bytes"), bytes);
		ASSERT_EQ(sc_uint(&r, "tokensEstimate"), bytes / 4);
		arr = yyjson_obj_get(r.sc, "largest");
		ASSERT_EQ(yyjson_arr_size(arr), 10);
		ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(yyjson_arr_get(arr, 0), "path")), "c/f11.md");
		ASSERT_EQ(yyjson_get_uint(yyjson_obj_get(yyjson_arr_get(arr, 0), "bytes")), 1200);
		ASSERT_EQ(yyjson_get_uint(yyjson_obj_get(yyjson_arr_get(arr, 9), "bytes")), 300);
		arr = yyjson_obj_get(r.sc, "newest");
		ASSERT_EQ(yyjson_arr_size(arr), 10);
		ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(yyjson_arr_get(arr, 0), "path")), "a/f03.md");
		ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(yyjson_arr_get(arr, 1), "path")), "c/f11.md");
		ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(yyjson_arr_get(arr, 0), "mtime")), "2023-11-15T01:03:00Z");
		ASSERT(yyjson_is_null(yyjson_obj_get(yyjson_obj_get(r.sc, "cache"), "hitRatio")));
		ASSERT(strstr(r.text, "Files: 12 (9 markdown), directories: 3, symlinks: 1, other: 0"));
		ASSERT(strstr(r.text, "Content cache: no lookups yet"));
		res_free(&r);

		/* Two cached reads of one settled file (its ctime over 100 ms old): a
		 * miss, then a hit. */
		usleep(200 * 1000);
		{
			size_t len = 0;
			ASSERT_GE(t_read(&e, "a/f00.txt", RB_FS_READ_CACHED, 0, NULL, &len, NULL), 0);
			ASSERT_EQ(len, 100);
			ASSERT_GE(t_read(&e, "a/f00.txt", RB_FS_READ_CACHED, 0, NULL, &len, NULL), 0);
			ASSERT_EQ(len, 100);
		}
		call_tool(&e, "bank_stats", "{\"path\":\"a\"}", &r);
		ASSERT(!r.is_error);
		ASSERT_EQ(sc_uint(&r, "files"), 8);
		ASSERT_EQ(sc_uint(&r, "directories"), 1);
		{
			yyjson_val *c = yyjson_obj_get(r.sc, "cache");
			ASSERT_EQ(yyjson_get_uint(yyjson_obj_get(c, "hits")), 1);
			ASSERT_EQ(yyjson_get_uint(yyjson_obj_get(c, "misses")), 1);
			ASSERT(yyjson_get_real(yyjson_obj_get(c, "hitRatio")) == 0.5);
		}
		ASSERT(strstr(r.text, "hit ratio 0.50"));
		res_free(&r);

		call_tool(&e, "bank_stats", "{\"path\":\"nope\"}", &r);
		ASSERT(r.is_error && strstr(r.text, "no such file"));
		res_free(&r);
		env_teardown(&e);
	}
	return T_EXIT_PASS;
}
