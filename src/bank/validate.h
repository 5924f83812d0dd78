/* validate.h (internal to src/bank and its tool glue in src/tools/validate.c):
 * the bank validator behind validate_memory_bank. It walks a bank
 * directory, reads every markdown file under the bulk class with bounded
 * concurrency, runs the pure checker (ringbank/mdcheck.h) on each, checks
 * every relative link and anchor, and keeps totals per code plus at most
 * max_reported diagnostics: memory does not grow with the number of files.
 *
 * Rules (arguments win over the bank's `.memory-bank-rules.json`, which wins
 * over the defaults): required_files (default: the six memory-bank core
 * files), max_file_bytes (default 4 MiB), check_links (default true). The
 * rules file is a JSON object of at most 64 KiB; other keys in it are
 * ignored (room for other tools), a malformed file fails the validation.
 * Markdown files are those named *.md or *.markdown (any case).
 *
 * Projects and core files: a directory is a project when it directly holds
 * at least one required file (any entry type but a directory counts); each
 * required file it lacks is a missing_core_file (path = where the file
 * should be). When no directory of the bank is a project, the bank root is
 * one, so an empty bank or one without any core file reports all of them
 * at its root. Hidden directories (".git", ".obsidian"...) are not entered.
 *
 * Everything runs on the loop thread. */
#ifndef RB_BANK_VALIDATE_H
#define RB_BANK_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringbank/fs.h"
#include "ringbank/mdcheck.h"

#define RB_VALIDATE_MAX_REQUIRED 64
#define RB_VALIDATE_DEFAULT_MAX_BYTES (4u << 20)

struct rb_validate_opts {
	/* Rules from the call; each applies only when its *_set flag is true. */
	const char *const *required; /* names, no '/' */
	size_t nrequired;
	bool required_set;
	size_t max_file_bytes;
	bool max_file_bytes_set;
	bool check_links;
	bool check_links_set;
	/* Engine knobs (0 = default). */
	size_t max_reported;	/* diagnostics kept for the result (default 1000) */
	unsigned max_inflight;	/* files being read or link-checked at once (default 64) */
	unsigned progress_every;/* files between progress hooks (default 200) */
};

struct rb_validate_hooks {
	void (*progress)(void *ctx, uint64_t files_validated);
	/* Once, from the loop. res 0: the report is complete (whatever it
	 * found). res < 0: the validation itself failed (bank missing, bad
	 * rules file, -ECANCELED); rb_validate_report()->error says why. */
	void (*done)(void *ctx, int res);
};

struct rb_validate_report {
	uint64_t files;		/* markdown files validated */
	uint64_t errors, warnings;
	uint64_t by_code[RB_MD_NCODES];
	uint64_t links_checked, entries;
	uint64_t heading_hits, heading_misses, exists_hits, exists_misses;
	uint64_t parked, stats; /* link checks parked for the walk; statx spent on targets */
	double elapsed_s;
	bool truncated;		/* more diagnostics than max_reported */
	size_t max_reported;
	const char *error;	/* set when done(res < 0) */
};

/* One kept diagnostic; path is relative to the bank directory. */
struct rb_validate_diag {
	const char *path;
	unsigned line;
	enum rb_md_code code;
	const char *message;
};

struct rb_validate;

/* Starts validating the directory `bank` (resolved by the caller). The
 * engine copies what it needs from o and bank. Returns 0 (done will run
 * later, never from inside this call) or -ENOMEM / -EINVAL. */
int rb_validate_start(struct rb_validate **out, struct rb_fs *fs, const struct rb_path *bank,
		      const struct rb_validate_opts *o, const struct rb_validate_hooks *h, void *ctx);
/* Cancels the walk and every read and stat in flight; done still runs once,
 * with -ECANCELED, after every callback is back. */
void rb_validate_cancel(struct rb_validate *v);
/* After done. NULL ok. */
void rb_validate_free(struct rb_validate *v);

const struct rb_validate_report *rb_validate_report(const struct rb_validate *v);
/* The kept diagnostics, sorted by path, then line, then code (after done). */
size_t rb_validate_diags(const struct rb_validate *v, const struct rb_validate_diag **out);

#endif
