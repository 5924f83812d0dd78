/* error.h: result codes.
 * Inside ringbank every function returns >= 0 on success or a negative code:
 * -errno for system failures (passed through from the kernel unchanged), or
 * -RB_E_* for documented outcomes a caller must handle (outside the roots,
 * too large, conflict...). RB_E_* start above the errno range so the two
 * never collide. Only the protocol edge turns a code into a sentence. */
#ifndef RINGBANK_ERROR_H
#define RINGBANK_ERROR_H

enum rb_error {
	RB_E_BASE = 10000,
	RB_E_OUTSIDE,	  /* path is outside the allowed directories */
	RB_E_TOO_LARGE,	  /* over a size limit (file, message, result) */
	RB_E_NOT_REGULAR, /* not a regular file (directory, fifo, device...) */
	RB_E_SYMLINK,	  /* refusing to replace or follow a symlink */
	RB_E_CONFLICT,	  /* expected version does not match */
	RB_E_LOCKED,	  /* lock held by another writer past the timeout */
	RB_E_BAD_NAME,	  /* invalid file or project name */
	RB_E_NOT_UTF8,	  /* content is not valid UTF-8 */
	RB_E_LIMIT,	  /* too many entries/results: narrow the request */
	RB_E_NO_MATCH,	  /* edit: oldText not found */
	RB_E_AMBIGUOUS,	  /* edit: oldText matches more than once */
	RB_E_READ_ONLY,	  /* write: the target has no write permission bit (chmod a-w) */
	RB_E_MAX
};

/* A short lower-case phrase for a negative code: "no such file or directory",
 * "outside the allowed directories", ... Never NULL. */
const char *rb_strerror(int code);

#endif
