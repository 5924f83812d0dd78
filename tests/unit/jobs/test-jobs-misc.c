/* Description: the job table's small contracts. Budgets come from
 * RINGBANK_TIMEOUT_S and RINGBANK_TIMEOUT_<TOOL>_S (bad values ignored,
 * job tools never have one); async_mode and job_label are checked;
 * timestamps round-trip; the schemas of bulk tools gain async_mode,
 * job_label and the job handle while other tools' schemas stay as they
 * are; the default state dir follows XDG; a state dir that cannot be
 * created leaves a working table in memory; job ids are unique. */
#include "jobs_t.h"

static const struct rb_tool *tool(const char *name)
{
	const struct rb_tool *t = rb_tool_find(name);
	ASSERT(t);
	return t;
}

static void check_budgets(struct env *e)
{
	struct rb_jobs_opts o = { .state_dir = "" };
	struct rb_jobs *jobs;

	setenv("RINGBANK_TIMEOUT_S", "2.5", 1);
	setenv("RINGBANK_TIMEOUT_VALIDATE_MEMORY_BANK_S", "0", 1);
	setenv("RINGBANK_TIMEOUT_READ_TEXT_FILE_S", "soon", 1);
	setenv("RINGBANK_TIMEOUT_SEARCH_FILES_S", "0.25", 1);
	ASSERT_EQ(rb_jobs_new(&jobs, e->fs, &o), 0);
	ASSERT_EQ(rb_jobs_budget_ms(jobs, tool("list_directory")), 2500);
	ASSERT_EQ(rb_jobs_budget_ms(jobs, tool("validate_memory_bank")), 0);
	ASSERT_EQ(rb_jobs_budget_ms(jobs, tool("read_text_file")), 2500);
	ASSERT_EQ(rb_jobs_budget_ms(jobs, tool("search_files")), 250);
	ASSERT_EQ(rb_jobs_budget_ms(jobs, tool("job_status")), 0);
	ASSERT_EQ(rb_jobs_budget_ms(jobs, tool("cancel_job")), 0);
	ASSERT(rb_jobs_is_job_tool(tool("prune_jobs")));
	ASSERT(!rb_jobs_is_job_tool(tool("directory_tree")));
	rb_jobs_free(jobs);
	unsetenv("RINGBANK_TIMEOUT_S");
	unsetenv("RINGBANK_TIMEOUT_VALIDATE_MEMORY_BANK_S");
	unsetenv("RINGBANK_TIMEOUT_READ_TEXT_FILE_S");
	unsetenv("RINGBANK_TIMEOUT_SEARCH_FILES_S");
	ASSERT_EQ(rb_jobs_new(&jobs, e->fs, &o), 0);
	ASSERT_EQ(rb_jobs_budget_ms(jobs, tool("list_directory")), 20000);
	rb_jobs_free(jobs);
}

static int mode(const char *tname, const char *args, const char **label, const char **why)
{
	yyjson_doc *d = yyjson_read(args, strlen(args), 0);
	int r = rb_jobs_call_mode(tool(tname), yyjson_doc_get_root(d), label, why);
	static char keep[256];
	if (*label) {
		snprintf(keep, sizeof(keep), "%s", *label);
		*label = keep;
	}
	yyjson_doc_free(d);
	return r;
}

static void check_call_mode(void)
{
	const char *label, *why;
	char big[400];

	ASSERT_EQ(mode("validate_memory_bank", "{\"async_mode\":true,\"job_label\":\"x\"}", &label, &why), 1);
	ASSERT_STREQ(label, "x");
	ASSERT_EQ(mode("validate_memory_bank", "{\"async_mode\":false}", &label, &why), 0);
	ASSERT_EQ(mode("validate_memory_bank", "{\"async_mode\":null}", &label, &why), 0);
	ASSERT_EQ(mode("validate_memory_bank", "{\"async_mode\":\"yes\"}", &label, &why), -EINVAL);
	ASSERT(strstr(why, "async_mode"));
	ASSERT_EQ(mode("read_text_file", "{\"async_mode\":true}", &label, &why), 0); /* not a bulk tool */
	ASSERT_EQ(mode("read_text_file", "{\"job_label\":7}", &label, &why), -EINVAL);
	snprintf(big, sizeof(big), "{\"job_label\":\"%0300d\"}", 0);
	ASSERT_EQ(mode("search_files", big, &label, &why), -EINVAL);
	ASSERT(strstr(why, "200"));
}

static void check_times(void)
{
	char t[32];
	ASSERT_STREQ((iso_time(1764066600123ll, t), t), "2025-11-25T10:30:00.123Z");
	ASSERT_EQ(iso_parse("2025-11-25T10:30:00.123Z"), 1764066600123ll);
	ASSERT_EQ(iso_parse("2025-11-25T10:30:00Z"), 1764066600000ll);
	ASSERT_EQ(iso_parse("2025-11-25T10:30:00.5Z"), 1764066600500ll);
	ASSERT_EQ(iso_parse("2025-11-25 10:30:00Z"), -1);
	ASSERT_EQ(iso_parse("2025-13-25T10:30:00Z"), -1);
	ASSERT_EQ(iso_parse("yesterday"), -1);
}

static yyjson_doc *schema(const char *text)
{
	yyjson_doc *d = yyjson_read(text, strlen(text), 0);
	ASSERT(d);
	return d;
}

static void check_schemas(void)
{
	const struct rb_tool *v = tool("validate_memory_bank"), *r = tool("read_text_file");
	yyjson_doc *in = schema(v->input_schema), *out = schema(v->output_schema), *d2;
	yyjson_val *root, *any;

	in = rb_jobs_input_schema(v, in);
	root = yyjson_doc_get_root(in);
	ASSERT_STREQ(yyjson_get_str(yyjson_obj_get(yyjson_obj_get(yyjson_obj_get(root, "properties"), "async_mode"), "type")),
		     "boolean");
	ASSERT(yyjson_obj_get(yyjson_obj_get(root, "properties"), "job_label"));
	ASSERT(yyjson_obj_get(yyjson_obj_get(root, "properties"), "path")); /* the tool's own stay */
	ASSERT(yyjson_equals_str(yyjson_arr_get_first(yyjson_obj_get(root, "required")), "path"));
	yyjson_doc_free(in);

	out = rb_jobs_output_schema(v, out);
	root = yyjson_doc_get_root(out);
	ASSERT(!yyjson_obj_get(root, "required"));
	any = yyjson_obj_get(root, "anyOf");
	ASSERT_EQ(yyjson_arr_size(any), 2);
	ASSERT(yyjson_equals_str(yyjson_arr_get_first(yyjson_obj_get(yyjson_arr_get(any, 0), "required")), "path"));
	ASSERT_EQ(yyjson_arr_size(yyjson_obj_get(yyjson_arr_get(any, 1), "required")), 3);
	ASSERT(yyjson_obj_get(yyjson_obj_get(root, "properties"), "job_id"));
	ASSERT(yyjson_obj_get(yyjson_obj_get(root, "properties"), "files_validated"));
	yyjson_doc_free(out);

	/* Not a bulk tool: the very same documents come back. */
	d2 = schema(r->input_schema);
	ASSERT(rb_jobs_input_schema(r, d2) == d2);
	yyjson_doc_free(d2);
	d2 = schema(r->output_schema);
	ASSERT(rb_jobs_output_schema(r, d2) == d2);
	yyjson_doc_free(d2);
}

static void check_state_dir(struct env *e)
{
	char buf[4096], path[4200];
	struct rb_jobs_opts o = { .ignore_env = true };
	struct rb_jobs *jobs;
	const char *home = getenv("HOME");
	char *saved_home = home ? strdup(home) : NULL;

	setenv("XDG_STATE_HOME", "/x/state", 1);
	ASSERT_EQ(rb_jobs_default_state_dir(buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "/x/state/ringbank");
	setenv("XDG_STATE_HOME", "relative", 1);
	setenv("HOME", "/home/someone", 1);
	ASSERT_EQ(rb_jobs_default_state_dir(buf, sizeof(buf)), 0);
	ASSERT_STREQ(buf, "/home/someone/.local/state/ringbank");
	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
	ASSERT_EQ(rb_jobs_default_state_dir(buf, sizeof(buf)), -ENOENT);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	free(saved_home);

	/* Created on demand, 0700. */
	snprintf(path, sizeof(path), "%s/a/b/state", e->dir);
	o.state_dir = path;
	ASSERT_EQ(rb_jobs_new(&jobs, e->fs, &o), 0);
	ASSERT(rb_jobs_state_dir(jobs));
	{
		struct stat st;
		ASSERT_EQ(stat(path, &st), 0);
		ASSERT_EQ(st.st_mode & 0777, 0700);
	}
	rb_jobs_free(jobs);
	/* Made 0755 by someone else: a named directory is left as it is (a
	 * warning), the default one is closed to others. */
	ASSERT_EQ(chmod(path, 0755), 0);
	ASSERT_EQ(rb_jobs_new(&jobs, e->fs, &o), 0);
	ASSERT(rb_jobs_state_dir(jobs));
	rb_jobs_free(jobs);
	{
		struct stat st;
		char xdg[4200], dflt[4300];
		ASSERT_EQ(stat(path, &st), 0);
		ASSERT_EQ(st.st_mode & 0777, 0755);
		snprintf(xdg, sizeof(xdg), "%s/xdg", e->dir);
		snprintf(dflt, sizeof(dflt), "%s/ringbank", xdg);
		ASSERT_EQ(mkdir(xdg, 0755), 0);
		ASSERT_EQ(mkdir(dflt, 0755), 0);
		ASSERT_EQ(chmod(dflt, 0755), 0);
		setenv("XDG_STATE_HOME", xdg, 1);
		o.state_dir = NULL;
		ASSERT_EQ(rb_jobs_new(&jobs, e->fs, &o), 0);
		ASSERT(rb_jobs_state_dir(jobs));
		rb_jobs_free(jobs);
		unsetenv("XDG_STATE_HOME");
		ASSERT_EQ(stat(dflt, &st), 0);
		ASSERT_EQ(st.st_mode & 0777, 0700);
		o.state_dir = path;
	}
	/* A file where the directory should be: memory only, still working. */
	t_write_file(e->dir, "notadir", "x", 1);
	snprintf(path, sizeof(path), "%s/notadir/state", e->dir);
	ASSERT_EQ(rb_jobs_new(&jobs, e->fs, &o), 0);
	ASSERT(!rb_jobs_state_dir(jobs));
	rb_jobs_free(jobs);
}

static void check_memory_only(enum rb_io_kind k)
{
	struct rb_jobs_opts o = { .state_dir = "" };
	struct jenv j;
	char id[RB_JOB_ID_LEN + 1];
	struct jrec r;

	ASSERT(jenv_setup(&j, k, &o));
	snprintf(id, sizeof(id), "%s", rb_job_id(jt_submit(&j, "{\"steps\":3}", NULL)));
	ASSERT_EQ(jt_wait_end(&j, id), RB_JOB_COMPLETED);
	jt_settle(&j);
	ASSERT(jobs_find(j.jobs, id)); /* kept in memory: nowhere else to keep it */
	ASSERT_EQ(jt_load(&j, id, true, &r, NULL, 0), 0);
	ASSERT(r.own && jrec_result(&r));
	jrec_clear(&r);
	ASSERT(jobs_forget(j.jobs, jobs_find(j.jobs, id), NULL, NULL));
	ASSERT_EQ(jt_load(&j, id, false, NULL, NULL, 0), -ENOENT);
	jenv_teardown(&j);
}

static void check_ids(enum rb_io_kind k)
{
	struct jenv j;
	char seen[64][RB_JOB_ID_LEN + 1];
	int i, m;

	ASSERT(jenv_setup(&j, k, NULL));
	for (i = 0; i < 64; i++) {
		snprintf(seen[i], sizeof(seen[i]), "%s", rb_job_id(jt_submit(&j, "{\"steps\":1}", NULL)));
		ASSERT(jobs_valid_id(seen[i]));
		for (m = 0; m < i; m++)
			ASSERT(strcmp(seen[i], seen[m]));
	}
	jt_settle(&j);
	jenv_teardown(&j);
}

int main(void)
{
	check_call_mode();
	check_times();
	check_schemas();
	FOR_BOTH_BACKENDS(k) {
		struct env e;
		if (!env_setup(&e, k))
			continue;
		check_budgets(&e);
		check_state_dir(&e);
		env_teardown(&e);
		check_memory_only(k);
		check_ids(k);
		fprintf(stderr, "%s: ok\n", kname(k));
	}
	return T_EXIT_PASS;
}
