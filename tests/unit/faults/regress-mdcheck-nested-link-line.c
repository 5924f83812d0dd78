/* Description: regression (found by tests/fuzz/fuzz_mdcheck): a link whose
 * text starts with another link or image, the README badge pattern
 * "[![alt](badge.png)](target.md)", got line 0 ("the whole file") because
 * the inner link took over the pending line slot of the outer one. Every
 * collected link now has the line it is on. */
#include "t.h"
#include "ringbank/mdcheck.h"

int main(void)
{
	static const char doc[] = "# T\n\ntext\n[![a](b.png)](c.md) and [x](d.md)\n\n[\n![](e.png)](f.md)\n";
	struct rb_md_opts o = { .links = true };
	struct rb_md_result r;
	size_t i;
	int seen = 0;

	rb_md_result_init(&r);
	ASSERT_EQ(rb_md_check(doc, sizeof doc - 1, "x.md", &o, &r), 0);
	ASSERT_EQ(r.nlinks, 5);
	for (i = 0; i < r.nlinks; i++) {
		const char *p = rb_md_str(&r, r.links[i].path);
		unsigned want = !strcmp(p, "c.md") || !strcmp(p, "b.png") || !strcmp(p, "d.md") ? 4 : 7;
		if (!strcmp(p, "f.md"))
			want = 7; /* its destination's line */
		if (r.links[i].line != want)
			T_FAIL("link %s: line %u, want %u", p, r.links[i].line, want);
		seen++;
	}
	ASSERT_EQ(seen, 5);
	rb_md_result_free(&r);
	return T_EXIT_PASS;
}
