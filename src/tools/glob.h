/* glob.h: minimatch-compatible glob matching of relative paths (internal to
 * src/tools).
 *
 * Semantics follow minimatch with { dot: true }, as the official filesystem
 * server uses it: '/' separates segments; '*', '?', '[...]' (with '!'/'^'
 * negation and [[:class:]]) and extglobs (+(a|b) ...) match within one
 * segment; a segment that is exactly "**" matches zero or more segments;
 * dot files are not special; braces expand first ({a,b}, {1..3}, {a..e});
 * a leading '!' negates (also before "("); a leading '#' is a comment
 * (matches nothing); repeated slashes collapse; a backslash escapes the next
 * character.
 * Segments are matched with fnmatch(3) (FNM_EXTMATCH, no FNM_PERIOD).
 * Not supported: minimatch's matchBase/nocase/partial options. */
#ifndef RB_TOOLS_GLOB_H
#define RB_TOOLS_GLOB_H

#include <stdbool.h>

struct rb_glob;

/* Compiles pat. Returns 0, -ENOMEM, or -E2BIG when brace expansion would
 * produce more than 1024 alternatives. */
int rb_glob_new(const char *pat, struct rb_glob **out);
void rb_glob_free(struct rb_glob *g); /* NULL ok */

/* Whether the relative path (no leading "./", segments separated by '/')
 * matches. */
bool rb_glob_match(const struct rb_glob *g, const char *path);

/* Whether some path strictly below directory `dir` could match: false lets
 * a walk skip the directory (e.g. "*.md" never matches below the top). */
bool rb_glob_match_below(const struct rb_glob *g, const char *dir);

#endif
