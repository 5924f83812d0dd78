/* error.c: the phrases for result codes (error.h). */
#include <errno.h>
#include <string.h>

#include "ringbank/error.h"

const char *rb_strerror(int code)
{
	static const char *const rb[] = {
		[RB_E_OUTSIDE - RB_E_BASE] = "outside the allowed directories",
		[RB_E_TOO_LARGE - RB_E_BASE] = "too large",
		[RB_E_NOT_REGULAR - RB_E_BASE] = "not a regular file",
		[RB_E_SYMLINK - RB_E_BASE] = "is a symbolic link (refusing to replace or follow it)",
		[RB_E_CONFLICT - RB_E_BASE] = "changed since it was read (version conflict)",
		[RB_E_LOCKED - RB_E_BASE] = "locked by another writer",
		[RB_E_BAD_NAME - RB_E_BASE] = "invalid name",
		[RB_E_NOT_UTF8 - RB_E_BASE] = "not valid UTF-8",
		[RB_E_LIMIT - RB_E_BASE] = "too many entries; narrow the request",
		[RB_E_NO_MATCH - RB_E_BASE] = "text to replace not found",
		[RB_E_AMBIGUOUS - RB_E_BASE] = "text to replace matches more than once",
		[RB_E_READ_ONLY - RB_E_BASE] = "is read-only (no write permission bit; chmod u+w to allow changes)",
	};
	int c = code < 0 ? -code : code;
	if (c > RB_E_BASE && c < RB_E_MAX && rb[c - RB_E_BASE])
		return rb[c - RB_E_BASE];
	switch (c) {
	case 0:
		return "success";
	case ENOENT:
		return "no such file or directory";
	case EACCES:
	case EPERM:
		return "permission denied";
	case ENAMETOOLONG:
		return "name too long";
	case EEXIST:
		return "already exists";
	case EISDIR:
		return "is a directory";
	case ENOTDIR:
		return "not a directory";
	case ENOSPC:
		return "no space left on device";
	case ECANCELED:
		return "cancelled";
	case EXDEV:
		return "outside the allowed directories";
	case ELOOP:
		return "too many levels of symbolic links";
	default:
		return strerror(c);
	}
}
