/* Description: glob matching agrees with minimatch({dot: true}), the matcher
 * the official filesystem server uses for search_files and the exclude
 * patterns. The expectations below were produced by minimatch 10.2.6 itself
 * (one row per pattern: '1' where the path at that position matches), then
 * rb_glob_match_below's pruning is checked to never hide a match. */
#include "../t.h"
#include "glob.h"

struct row {
	const char *pat, *expect;
};

static const char *const paths1[] = {
	"a.md",
	"b.md",
	"c.md",
	"x.txt",
	"a",
	"a/b",
	"a/b/c",
	"a/x/c",
	"a/b.md",
	"a/x/b",
	"a/x/y/b",
	"b",
	"notes",
	"notes/x.md",
	"sub/notes",
	"sub/notes/y",
	".git",
	".git/config",
	"x/.git/HEAD",
	".hidden.md",
	"a*b",
	"axb",
	"1file",
	"d/2x",
	"x1",
	"x2",
	"x4",
	"node_modules/p/q.js",
	"a/x/y/z.md",
	"c/a.md",
	NULL,
};

static const struct row table1[] = {
	{ "*.md", "111000000000000000010000000000" },
	{ "**/*.md", "111000001000010000010000000011" },
	{ "**", "111111111111111111111111111111" },
	{ "a/**", "000001111110000000000000000010" },
	{ "a/**/b", "000001000110000000000000000000" },
	{ "**/b", "000001000111000000000000000000" },
	{ "*", "111110000001100010011110111000" },
	{ "?.md", "111000000000000000000000000000" },
	{ "[ab].md", "110000000000000000000000000000" },
	{ "[!a].md", "011000000000000000000000000000" },
	{ "[^a].md", "011000000000000000000000000000" },
	{ "a/*/c", "000000110000000000000000000000" },
	{ "*.{md,txt}", "111100000000000000010000000000" },
	{ "**/*.{md,txt}", "111100001000010000010000000011" },
	{ "{a,b}/**", "000001111110000000000000000010" },
	{ "notes", "000000000000100000000000000000" },
	{ "notes/", "000000000000000000000000000000" },
	{ "**/notes", "000000000000101000000000000000" },
	{ "**/notes/**", "000000000000010100000000000000" },
	{ ".git", "000000000000000010000000000000" },
	{ "**/.git/**", "000000000000000001100000000000" },
	{ "a\\*b", "000000000000000000001000000000" },
	{ "*a*", "100010000000000000001100000000" },
	{ "a/b", "000001000000000000000000000000" },
	{ "**/[[:digit:]]*", "000000000000000000000011000000" },
	{ "x{1..3}", "000000000000000000000000110000" },
	{ "!*.md", "000111111111111111101111111111" },
	{ "a/**/", "000000000000000000000000000000" },
	{ "*/", "000000000000000000000000000000" },
	{ "./a", "000000000000000000000000000000" },
	{ "a//b", "000001000000000000000000000000" },
	{ "**/*", "111111111111111111111111111111" },
	{ "node_modules", "000000000000000000000000000000" },
	{ "a/**/*.md", "000000001000000000000000000010" },
	{ "{,a/}*.md", "111000001000000000010000000000" },
	{ NULL, NULL },
};

static const char *const paths2[] = {
	"a.md",
	"b.md",
	"c.md",
	"d.md",
	"a1",
	"b2",
	"a2",
	"a",
	"b",
	"c",
	"1",
	"4",
	"7",
	"10",
	"01",
	"02",
	"03",
	"A.MD",
	"a/b",
	"a/b/c",
	"a/x/y/b",
	"x/q.md",
	"x/y/z/q.md",
	"x/x/q.md",
	"{a,b}",
	"{a,b",
	"a}",
	"#x",
	"x",
	NULL,
};

static const struct row table2[] = {
	{ "+(a|b).md", "11000000000000000000000000000" },
	{ "@(a|c).md", "10100000000000000000000000000" },
	{ "!(a).md", "11111111111111111111111111111" },
	{ "a/**/**/b", "00000000000000000010100000000" },
	{ "**/**", "11111111111111111111111111111" },
	{ "{a,b}{1,2}", "00001110000000000000000000000" },
	{ "{a,{b,c}}.md", "11100000000000000000000000000" },
	{ "{a}", "00000000000000000000000000000" },
	{ "{1..10..3}", "00000000001111000000000000000" },
	{ "{01..03}", "00000000000000111000000000000" },
	{ "[a-c]*", "11101111110000000000000000100" },
	{ "*.MD", "00000000000000000100000000000" },
	{ "a/b/**", "00000000000000000001000000000" },
	{ "**/x/**/*.md", "00000000000000000000011100000" },
	{ "{a..c}.md", "11100000000000000000000000000" },
	{ "\\{a,b\\}", "00000000000000000000000010000" },
	{ "{a,b", "00000000000000000000000001000" },
	{ "a}", "00000000000000000000000000100" },
	{ "**/*.md/", "00000000000000000000000000000" },
	{ "#x", "00000000000000000000000000000" },
	{ "!!*.md", "11110000000000000000000000000" },
	{ "*/*", "00000000000000000010010000000" },
	{ "**/q.md", "00000000000000000000011100000" },
	{ "x/**", "00000000000000000000011100000" },
	{ "?", "00000001111110000000000000001" },
	{ "[[:upper:]]*", "00000000000000000100000000000" },
	{ NULL, NULL },
};

static void check_table(const struct row *tab, const char *const *paths)
{
	for (const struct row *r = tab; r->pat; r++) {
		struct rb_glob *g;
		ASSERT_EQ(rb_glob_new(r->pat, &g), 0);
		for (size_t i = 0; paths[i]; i++) {
			bool want = r->expect[i] == '1';
			if (rb_glob_match(g, paths[i]) != want)
				T_FAIL("pattern \"%s\" path \"%s\": want %d", r->pat, paths[i], want);
			/* Pruning soundness: if a path matches, every directory
			 * above it must report that something below could match. */
			if (want) {
				char dir[256];
				snprintf(dir, sizeof(dir), "%s", paths[i]);
				for (char *s = strrchr(dir, '/'); s; s = strrchr(dir, '/')) {
					*s = '\0';
					if (!rb_glob_match_below(g, dir))
						T_FAIL("pattern \"%s\": match_below(\"%s\") hides \"%s\"", r->pat, dir, paths[i]);
				}
			}
		}
		rb_glob_free(g);
	}
}

static bool below(const char *pat, const char *dir)
{
	struct rb_glob *g;
	bool b;
	ASSERT_EQ(rb_glob_new(pat, &g), 0);
	b = rb_glob_match_below(g, dir);
	rb_glob_free(g);
	return b;
}

int main(void)
{
	struct rb_glob *g;

	check_table(table1, paths1);
	check_table(table2, paths2);

	/* Pruning does prune: a top-level pattern never needs a subdirectory. */
	ASSERT(!below("*.md", "notes"));
	ASSERT(!below("notes/*.md", "other"));
	ASSERT(below("notes/*.md", "notes"));
	ASSERT(!below("notes/*.md", "notes/deep"));
	ASSERT(below("**/*.md", "a/b/c"));
	ASSERT(below("a/**/z", "a/b"));
	ASSERT(below("{x,notes}/*", "notes"));
	ASSERT(below("!*.md", "anything"));
	ASSERT(!below("#comment", "x"));

	/* Too many brace alternatives is refused, not expanded without bound. */
	ASSERT_EQ(rb_glob_new("{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}", &g), -E2BIG);
	ASSERT_EQ(rb_glob_new("{1..5000}", &g), -E2BIG);
	/* Odd but harmless inputs. */
	ASSERT_EQ(rb_glob_new("", &g), 0);
	ASSERT(!rb_glob_match(g, "a"));
	rb_glob_free(g);
	ASSERT_EQ(rb_glob_new("{", &g), 0);
	ASSERT(rb_glob_match(g, "{"));
	rb_glob_free(g);
	ASSERT_EQ(rb_glob_new("[", &g), 0);
	ASSERT(!rb_glob_match(g, "a"));
	rb_glob_free(g);
	return T_EXIT_PASS;
}
