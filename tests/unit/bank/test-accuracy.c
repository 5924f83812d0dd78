/* Description: validate_memory_bank against the bank generator's manifest:
 * rb-genbank writes a 10k-file bank with a known set of injected errors,
 * and the validator, on each io backend, must report exactly those: the
 * same count per class (by_code), the same (path, code) pairs, nothing
 * else (no warnings, no other code), and every file validated. Size with
 * RB_ACCURACY_FILES (default 10000). Skipped when RB_GENBANK is not set. */
#include <sys/wait.h>

#include "bank-tools/bank_t.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "path code" strings, sorted. */
static char **pairs_manifest(yyjson_val *m, size_t *n)
{
	yyjson_val *arr = yyjson_obj_get(m, "error_files"), *x;
	size_t i, max, k = 0;
	char **out = calloc(yyjson_arr_size(arr) + 1, sizeof(*out));
	yyjson_arr_foreach(arr, i, max, x)
		ASSERT(asprintf(&out[k++], "%s %s", yyjson_get_str(yyjson_obj_get(x, "path")),
				yyjson_get_str(yyjson_obj_get(x, "error"))) > 0);
	qsort(out, k, sizeof(*out), cmp_str);
	*n = k;
	return out;
}

static char **pairs_result(yyjson_val *sc, size_t *n)
{
	yyjson_val *files = yyjson_obj_get(sc, "files"), *f, *d;
	size_t i, k, ni, nk, cnt = 0, cap = 1024;
	char **out = calloc(cap, sizeof(*out));
	yyjson_arr_foreach(files, i, ni, f) {
		yyjson_arr_foreach(yyjson_obj_get(f, "diagnostics"), k, nk, d) {
			if (cnt == cap)
				out = realloc(out, (cap *= 2) * sizeof(*out));
			ASSERT(asprintf(&out[cnt++], "%s %s", yyjson_get_str(yyjson_obj_get(f, "path")),
					yyjson_get_str(yyjson_obj_get(d, "code"))) > 0);
		}
	}
	qsort(out, cnt, sizeof(*out), cmp_str);
	*n = cnt;
	return out;
}

static void free_pairs(char **p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i]);
	free(p);
}

int main(void)
{
	const char *gen = getenv("RB_GENBANK"), *nf = getenv("RB_ACCURACY_FILES");
	char cmd[8192], mpath[4096], args[4096];
	yyjson_doc *mdoc;
	yyjson_val *m;
	char *dir;
	int st;

	if (!gen || !*gen)
		t_skip("RB_GENBANK is not set (run through meson test)");
	dir = t_tmpdir();
	snprintf(mpath, sizeof(mpath), "%s/manifest.json", dir);
	snprintf(cmd, sizeof(cmd), "'%s' -q --seed 20251127 --files %s --manifest '%s' '%s/bank'", gen,
		 nf && *nf ? nf : "10000", mpath, dir);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		T_FAIL("generator failed: %s", cmd);
	mdoc = yyjson_read_file(mpath, 0, NULL, NULL);
	ASSERT(mdoc != NULL);
	m = yyjson_doc_get_root(mdoc);

	FOR_BOTH_BACKENDS(k) {
		struct env e;
		struct result r;
		yyjson_val *errs = yyjson_obj_get(m, "errors"), *by, *key, *val;
		size_t i, n, nm, nr;
		char **pm, **pr;

		if (!env_setup(&e, k))
			continue;
		ASSERT_EQ(rb_fs_add_root(e.fs, dir), 0);
		snprintf(args, sizeof(args), "{\"path\":\"%s/bank\",\"max_reported\":20000}", dir);
		call_tool(&e, "validate_memory_bank", args, &r);
		ASSERT(!r.is_error);
		ASSERT(!yyjson_get_bool(yyjson_obj_get(r.sc, "truncated")));
		ASSERT_EQ(sc_uint(&r, "files_validated"), yyjson_get_uint(yyjson_obj_get(m, "files")));
		ASSERT_EQ(sc_uint(&r, "warnings"), 0);
		ASSERT_EQ(sc_uint(&r, "errors"), yyjson_get_uint(yyjson_obj_get(m, "error_total")));
		/* by_code: the manifest's classes exactly, every other code 0 */
		by = yyjson_obj_get(r.sc, "by_code");
		yyjson_obj_foreach(by, i, n, key, val) {
			yyjson_val *want = yyjson_obj_get(errs, yyjson_get_str(key));
			uint64_t w = want ? yyjson_get_uint(want) : 0;
			if (yyjson_get_uint(val) != w)
				T_FAIL("%s: by_code.%s = %llu, manifest %llu", kname(k), yyjson_get_str(key),
				       (unsigned long long)yyjson_get_uint(val), (unsigned long long)w);
		}
		yyjson_obj_foreach(errs, i, n, key, val)
			ASSERT(yyjson_obj_get(by, yyjson_get_str(key)) != NULL);
		/* the same files with the same codes */
		pm = pairs_manifest(m, &nm);
		pr = pairs_result(r.sc, &nr);
		for (i = 0; i < nm && i < nr; i++)
			if (strcmp(pm[i], pr[i]))
				T_FAIL("%s: first difference: manifest \"%s\", validator \"%s\"", kname(k), pm[i], pr[i]);
		ASSERT_EQ(nr, nm);
		fprintf(stderr, "%s: %llu files, %zu errors as in the manifest, %.2f s\n", kname(k),
			(unsigned long long)sc_uint(&r, "files_validated"), nr,
			yyjson_get_real(yyjson_obj_get(r.sc, "elapsed_s")));
		free_pairs(pm, nm);
		free_pairs(pr, nr);
		res_free(&r);
		env_teardown(&e);
	}
	yyjson_doc_free(mdoc);
	t_rmtree(dir);
	return T_EXIT_PASS;
}
