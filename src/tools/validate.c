/* validate.c: the validate_memory_bank tool: arguments -> the bank validator
 * (src/bank/validate.h) -> a short text summary plus the full result as
 * structuredContent. The validator streams: totals are exact for any bank
 * size, the list of diagnostics is cut at max_reported (the result says so
 * and gives the totals). The text repeats only the summary and the first
 * TEXT_DIAGS diagnostics, so large data is not sent twice. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bank/validate.h"
#include "tools.h"

#define TEXT_DIAGS 50
#define MAX_REPORTED_LIMIT 20000
/* The reply must stay under the MCP layer's 8 MiB line limit: the list of
 * diagnostics stops at this many (estimated) JSON bytes. */
#define LIST_BYTES_MAX (6u << 20)

struct vstate {
	struct rb_call *call;
	struct rb_validate *v;
	struct rb_path bank;
	const char *required[RB_VALIDATE_MAX_REQUIRED];
};

static void v_progress(void *ctx, uint64_t files)
{
	struct vstate *s = ctx;
	char msg[64];
	snprintf(msg, sizeof(msg), "%llu markdown files validated", (unsigned long long)files);
	rb_call_progress(s->call, files, 0, msg);
}

static const char *sev_name(enum rb_md_code c)
{
	return rb_md_code_severity(c) == RB_MD_ERROR ? "error" : "warning";
}

/* How many of the n kept diagnostics fit in LIST_BYTES_MAX. */
static size_t fitting(const struct rb_validate_diag *d, size_t n)
{
	size_t bytes = 0, i;
	for (i = 0; i < n; i++) {
		/* both strings may need escaping; 96 covers the keys and numbers */
		bytes += (strlen(d[i].path) + strlen(d[i].message)) * 11 / 10 + 96;
		if (bytes > LIST_BYTES_MAX)
			break;
	}
	return i;
}

static yyjson_mut_val *structured(struct vstate *s, yyjson_mut_doc *doc, const struct rb_validate_report *rep,
				  const struct rb_validate_diag *d, size_t n, bool truncated)
{
	yyjson_mut_val *o = yyjson_mut_obj(doc), *by = yyjson_mut_obj(doc), *files = yyjson_mut_arr(doc);
	yyjson_mut_val *file = NULL, *diags = NULL, *st;
	const char *cur = NULL;
	int c;

	yyjson_mut_obj_add_strcpy(doc, o, "path", s->bank.abs);
	yyjson_mut_obj_add_uint(doc, o, "files_validated", rep->files);
	yyjson_mut_obj_add_uint(doc, o, "errors", rep->errors);
	yyjson_mut_obj_add_uint(doc, o, "warnings", rep->warnings);
	for (c = 0; c < RB_MD_NCODES; c++)
		yyjson_mut_obj_add_uint(doc, by, rb_md_code_name(c), rep->by_code[c]);
	yyjson_mut_obj_add_val(doc, o, "by_code", by);
	for (size_t i = 0; i < n; i++) {
		yyjson_mut_val *x;
		if (!cur || strcmp(cur, d[i].path)) {
			cur = d[i].path;
			file = yyjson_mut_arr_add_obj(doc, files);
			yyjson_mut_obj_add_str(doc, file, "path", d[i].path);
			diags = yyjson_mut_obj_add_arr(doc, file, "diagnostics");
		}
		x = yyjson_mut_arr_add_obj(doc, diags);
		yyjson_mut_obj_add_uint(doc, x, "line", d[i].line);
		yyjson_mut_obj_add_str(doc, x, "severity", sev_name(d[i].code));
		yyjson_mut_obj_add_str(doc, x, "code", rb_md_code_name(d[i].code));
		yyjson_mut_obj_add_str(doc, x, "message", d[i].message);
	}
	yyjson_mut_obj_add_val(doc, o, "files", files);
	yyjson_mut_obj_add_uint(doc, o, "diagnostics_reported", n);
	yyjson_mut_obj_add_bool(doc, o, "truncated", truncated);
	yyjson_mut_obj_add_uint(doc, o, "links_checked", rep->links_checked);
	yyjson_mut_obj_add_real(doc, o, "elapsed_s", rep->elapsed_s);
	/* How the link checks were answered (cache effectiveness). */
	st = yyjson_mut_obj_add_obj(doc, o, "stats");
	yyjson_mut_obj_add_uint(doc, st, "entries_walked", rep->entries);
	yyjson_mut_obj_add_uint(doc, st, "heading_cache_hits", rep->heading_hits);
	yyjson_mut_obj_add_uint(doc, st, "heading_cache_misses", rep->heading_misses);
	yyjson_mut_obj_add_uint(doc, st, "exists_cache_hits", rep->exists_hits);
	yyjson_mut_obj_add_uint(doc, st, "exists_cache_misses", rep->exists_misses);
	yyjson_mut_obj_add_uint(doc, st, "checks_parked", rep->parked);
	yyjson_mut_obj_add_uint(doc, st, "target_stats", rep->stats);
	return o;
}

static char *summary(struct vstate *s, const struct rb_validate_report *rep, const struct rb_validate_diag *d,
		     size_t n, bool truncated, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0, i;
	FILE *f = open_memstream(&buf, &cap);
	bool any = false;
	int c;

	if (!f)
		return NULL;
	fprintf(f, "Validated %llu markdown files in %s in %.2f s: %llu errors, %llu warnings.\n",
		(unsigned long long)rep->files, s->bank.abs, rep->elapsed_s, (unsigned long long)rep->errors,
		(unsigned long long)rep->warnings);
	for (c = 0; c < RB_MD_NCODES; c++)
		if (rep->by_code[c]) {
			fprintf(f, "%s%s %llu", any ? ", " : "By code: ", rb_md_code_name(c),
				(unsigned long long)rep->by_code[c]);
			any = true;
		}
	if (any)
		fputs(".\n", f);
	for (i = 0; i < n && i < TEXT_DIAGS; i++) {
		if (d[i].line)
			fprintf(f, "%s:%u: %s %s: %s\n", d[i].path, d[i].line, sev_name(d[i].code),
				rb_md_code_name(d[i].code), d[i].message);
		else
			fprintf(f, "%s: %s %s: %s\n", d[i].path, sev_name(d[i].code), rb_md_code_name(d[i].code),
				d[i].message);
	}
	if (n > TEXT_DIAGS)
		fprintf(f, "... %zu more in structuredContent.files.\n", n - TEXT_DIAGS);
	if (truncated)
		fprintf(f, "Truncated: %zu of %llu diagnostics listed (max_reported, or the reply size limit); "
			"the totals above are complete.\n", n, (unsigned long long)rep->errors + rep->warnings);
	fclose(f);
	*len = cap;
	return buf;
}

static void v_done(void *ctx, int res)
{
	struct vstate *s = ctx;
	struct rb_call *call = s->call;
	const struct rb_validate_report *rep = rb_validate_report(s->v);

	rb_call_set_state(call, NULL);
	if (res < 0) {
		rb_call_error(call, "%s", rep->error ? rep->error : rb_strerror(res));
	} else {
		const struct rb_validate_diag *d;
		size_t kept = rb_validate_diags(s->v, &d), n = fitting(d, kept), len = 0;
		bool truncated = rep->truncated || n < kept;
		yyjson_mut_doc *doc = rb_call_doc(call);
		char *text = summary(s, rep, d, n, truncated, &len);
		yyjson_mut_val *st = structured(s, doc, rep, d, n, truncated);
		if (!text)
			rb_call_error(call, "validate_memory_bank: out of memory");
		else
			rb_call_finish_text(call, text, len, st);
		free(text);
	}
	rb_validate_free(s->v);
	free(s);
}

static int v_run(struct rb_call *call)
{
	yyjson_val *args = rb_call_args(call), *rules = yyjson_obj_get(args, "rules"), *x;
	struct rb_validate_opts o = { 0 };
	struct rb_validate_hooks h = { .progress = v_progress, .done = v_done };
	struct vstate *s = calloc(1, sizeof(*s));
	uint64_t maxrep;
	int r;

	if (!s)
		return -ENOMEM;
	s->call = call;
	if ((r = rb_arg_path(call, "path", &s->bank)) < 0 ||
	    (r = rb_arg_uint(call, "max_reported", 1000, MAX_REPORTED_LIMIT, &maxrep)) < 0)
		goto fail;
	o.max_reported = maxrep ? (size_t)maxrep : 1;
	if (rules && !yyjson_is_obj(rules)) {
		r = rb_call_fail_msg(call, "rules: expected an object");
		goto fail;
	}
	if (rules) {
		size_t i, n;
		yyjson_val *k, *val;
		yyjson_obj_foreach(rules, i, n, k, val) {
			const char *name = yyjson_get_str(k);
			if (strcmp(name, "required_files") && strcmp(name, "max_file_bytes") && strcmp(name, "check_links")) {
				r = rb_call_fail_msg(call, "rules.%s: unknown rule (expected required_files, max_file_bytes, "
							   "check_links)", name);
				goto fail;
			}
		}
	}
	if (rules && (x = yyjson_obj_get(rules, "required_files"))) {
		size_t i, n;
		yyjson_val *it;
		if (!yyjson_is_arr(x) || yyjson_arr_size(x) > RB_VALIDATE_MAX_REQUIRED) {
			r = rb_call_fail_msg(call, "rules.required_files: expected an array of at most %d file names",
					     RB_VALIDATE_MAX_REQUIRED);
			goto fail;
		}
		yyjson_arr_foreach(x, i, n, it) {
			if (!yyjson_is_str(it) || rb_fs_check_name(yyjson_get_str(it)) < 0) {
				r = rb_call_fail_msg(call, "rules.required_files: each entry must be a file name (no '/')");
				goto fail;
			}
			s->required[o.nrequired++] = yyjson_get_str(it);
		}
		o.required = s->required;
		o.required_set = true;
	}
	if (rules && (x = yyjson_obj_get(rules, "max_file_bytes"))) {
		if (!yyjson_is_uint(x) || !yyjson_get_uint(x)) {
			r = rb_call_fail_msg(call, "rules.max_file_bytes: expected a positive integer");
			goto fail;
		}
		o.max_file_bytes = (size_t)yyjson_get_uint(x);
		o.max_file_bytes_set = true;
	}
	if (rules && (x = yyjson_obj_get(rules, "check_links"))) {
		if (!yyjson_is_bool(x)) {
			r = rb_call_fail_msg(call, "rules.check_links: expected true or false");
			goto fail;
		}
		o.check_links = yyjson_get_bool(x);
		o.check_links_set = true;
	}
	rb_call_set_state(call, s);
	if ((r = rb_validate_start(&s->v, rb_call_fs(call), &s->bank, &o, &h, s)) < 0) {
		rb_call_set_state(call, NULL);
		goto fail;
	}
	return 0;
fail:
	free(s);
	return r;
}

static void v_cancel(struct rb_call *call)
{
	struct vstate *s = rb_call_state(call);
	if (s && s->v)
		rb_validate_cancel(s->v);
}

#define DIAG_SCHEMA                                                                                         \
	"{\"type\":\"object\",\"properties\":{\"line\":{\"type\":\"integer\"},"                            \
	"\"severity\":{\"type\":\"string\",\"enum\":[\"error\",\"warning\"]},\"code\":{\"type\":\"string\"}," \
	"\"message\":{\"type\":\"string\"}},\"required\":[\"line\",\"severity\",\"code\",\"message\"]}"

static const struct rb_tool tool_validate = {
	.name = "validate_memory_bank",
	.title = "Validate a memory bank",
	.description =
		"Checks every markdown file of a memory-bank directory, with line numbers: required core files "
		"per project directory (projectbrief.md, productContext.md, activeContext.md, systemPatterns.md, "
		"techContext.md, progress.md by default; a directory holding any of them is a project, else the "
		"bank root is), valid UTF-8, not empty, under a size limit, a level-1 title, no skipped heading "
		"levels, no unclosed code fence, well-formed front matter, relative links and #anchors that "
		"resolve, names differing only in case; symlinks and special files are reported, not followed. "
		"Rules come from the arguments, else from .memory-bank-rules.json in the bank, else defaults. "
		"Totals are exact; the list of diagnostics stops at max_reported.",
	.input_schema =
		"{\"type\":\"object\",\"properties\":{"
		"\"path\":{\"type\":\"string\",\"description\":\"The bank directory (beneath an allowed root).\"},"
		"\"rules\":{\"type\":\"object\",\"properties\":{"
		"\"required_files\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"maxItems\":64},"
		"\"max_file_bytes\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"Default 4194304.\"},"
		"\"check_links\":{\"type\":\"boolean\",\"description\":\"Default true.\"}},"
		"\"additionalProperties\":false},"
		"\"max_reported\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20000,"
		"\"description\":\"Diagnostics listed in the result (default 1000); totals always count all.\"}},"
		"\"required\":[\"path\"]}",
	.output_schema =
		"{\"type\":\"object\",\"properties\":{"
		"\"path\":{\"type\":\"string\"},"
		"\"files_validated\":{\"type\":\"integer\"},\"errors\":{\"type\":\"integer\"},"
		"\"warnings\":{\"type\":\"integer\"},"
		"\"by_code\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}},"
		"\"files\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"
		"\"path\":{\"type\":\"string\"},\"diagnostics\":{\"type\":\"array\",\"items\":" DIAG_SCHEMA "}},"
		"\"required\":[\"path\",\"diagnostics\"]}},"
		"\"diagnostics_reported\":{\"type\":\"integer\"},\"truncated\":{\"type\":\"boolean\"},"
		"\"links_checked\":{\"type\":\"integer\"},\"elapsed_s\":{\"type\":\"number\"},"
		"\"stats\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}},"
		"\"required\":[\"path\",\"files_validated\",\"errors\",\"warnings\",\"by_code\",\"files\","
		"\"truncated\",\"elapsed_s\"]}",
	.read_only = true,
	.idempotent = true,
	.bulk = true,
	.run = v_run,
	.cancel = v_cancel,
};

const struct rb_tool *const rb_tools_validate[] = { &tool_validate, NULL };
