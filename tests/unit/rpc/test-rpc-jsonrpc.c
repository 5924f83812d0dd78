/* Description: JSON-RPC message classification (request, notification,
 * response, and each invalid shape with the code the spec asks for; batch
 * elements one by one, and the joining of a batch reply), the
 * UTF-8 validator behind the "invalid UTF-8" parse error, and file:// root
 * URIs. */
#include "t.h"
#include "ringbank/mcp.h"
#include "rpc.h"

static enum rb_jr_kind kind(const char *s, int *code)
{
	struct rb_jr_msg m;
	yyjson_doc *d = rb_jr_parse(s, strlen(s), &m);
	if (!d) {
		*code = m.code;
		return RB_JR_INVALID;
	}
	rb_jr_classify(d, &m);
	*code = m.kind == RB_JR_INVALID ? m.code : 0;
	yyjson_doc_free(d);
	return m.kind;
}

int main(void)
{
	struct rb_jr_msg m;
	yyjson_doc *d;
	char path[64];
	int code;

	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", &code), RB_JR_REQUEST);
	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"x\",\"params\":{}}", &code), RB_JR_REQUEST);
	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &code), RB_JR_NOTIFICATION);
	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}", &code), RB_JR_RESPONSE);
	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":1}}", &code), RB_JR_RESPONSE);

	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32700);
	ASSERT_EQ(kind("[1,2]", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32600);
	ASSERT_EQ(kind("42", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32600);
	ASSERT_EQ(kind("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32600);
	ASSERT_EQ(kind("{\"id\":1,\"method\":\"ping\"}", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32600);
	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32600);
	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32600);
	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32600);
	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32602);
	ASSERT_EQ(kind("{\"jsonrpc\":\"2.0\",\"id\":1}", &code), RB_JR_INVALID);
	ASSERT_EQ(code, -32600);

	/* The id of an invalid request is echoed when it is usable. */
	{
		const char *s = "{\"jsonrpc\":\"1\",\"id\":9,\"method\":\"a\"}";
		d = rb_jr_parse(s, strlen(s), &m);
	}
	ASSERT(d);
	rb_jr_classify(d, &m);
	ASSERT(m.id && yyjson_get_uint(m.id) == 9);
	yyjson_doc_free(d);

	/* Invalid UTF-8 inside a string: a parse error that says so. */
	d = rb_jr_parse("{\"a\":\"\xc3\x28\"}", 10, &m);
	ASSERT(!d);
	ASSERT_EQ(m.code, -32700);
	ASSERT(strstr(m.why, "invalid UTF-8 at byte 6"));
	ASSERT_EQ(rb_utf8_invalid_at("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15), -1);
	ASSERT_EQ(rb_utf8_invalid_at("\xc0\xaf", 2), 0);	   /* overlong '/' */
	ASSERT_EQ(rb_utf8_invalid_at("ab\xed\xa0\x80", 5), 2); /* surrogate */
	ASSERT_EQ(rb_utf8_invalid_at("abc\xe2\x82", 5), 3);	   /* truncated */

	/* Batch elements are classified one by one; a reply joins the entries
	 * that have text, in order, and none at all is no line. */
	{
		const char *s = "[{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"},7]";
		char a[] = "{\"id\":1}", b[] = "{\"id\":2}", *line;
		struct rb_jr_entry e[3] = { { a, strlen(a) }, { NULL, 0 }, { b, strlen(b) } };
		size_t len;
		d = rb_jr_parse(s, strlen(s), &m);
		ASSERT(d);
		rb_jr_classify(d, &m);
		ASSERT_EQ(m.kind, RB_JR_INVALID); /* a whole array is not one message */
		rb_jr_classify_val(yyjson_arr_get(yyjson_doc_get_root(d), 0), &m);
		ASSERT_EQ(m.kind, RB_JR_REQUEST);
		ASSERT_EQ(yyjson_get_sint(m.id), 3);
		rb_jr_classify_val(yyjson_arr_get(yyjson_doc_get_root(d), 1), &m);
		ASSERT_EQ(m.kind, RB_JR_INVALID);
		ASSERT_EQ(m.code, -32600);
		yyjson_doc_free(d);
		line = rb_jr_batch_join(e, 3, &len);
		ASSERT(line);
		ASSERT_EQ(len, 20);
		ASSERT(!memcmp(line, "[{\"id\":1},{\"id\":2}]\n", len));
		free(line);
		e[0].text = e[2].text = NULL;
		ASSERT(!rb_jr_batch_join(e, 3, &len));
		ASSERT_EQ(len, 0);
	}

	ASSERT_EQ(rb_file_uri_to_path("file:///tmp/a%20b/", 18, path, sizeof(path)), 0);
	ASSERT_STREQ(path, "/tmp/a b");
	ASSERT_EQ(rb_file_uri_to_path("file://localhost/x", 18, path, sizeof(path)), 0);
	ASSERT_STREQ(path, "/x");
	ASSERT_EQ(rb_file_uri_to_path("file:///", 8, path, sizeof(path)), 0);
	ASSERT_STREQ(path, "/");
	ASSERT_EQ(rb_file_uri_to_path("file://host/x", 13, path, sizeof(path)), -EINVAL);
	ASSERT_EQ(rb_file_uri_to_path("http:///x", 9, path, sizeof(path)), -EINVAL);
	ASSERT_EQ(rb_file_uri_to_path("file:///a%00b", 13, path, sizeof(path)), -EINVAL);
	ASSERT_EQ(rb_file_uri_to_path("file:///a%zz", 12, path, sizeof(path)), -EINVAL);
	return T_EXIT_PASS;
}
