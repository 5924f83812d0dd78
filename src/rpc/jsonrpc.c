/* jsonrpc.c: JSON-RPC 2.0 framing rules on top of yyjson: parse one
 * message, classify it (request, notification, response, or invalid with the
 * code to answer), and build responses and notifications. All JSON goes
 * through yyjson; the one thing assembled by hand is a batch reply, which
 * only puts brackets and commas around response texts yyjson wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

long rb_utf8_invalid_at(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], need, min, cp;
		size_t k;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return (long)i;
		if (n - i <= need)
			return (long)i;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (long)i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
		if (cp < min || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return (long)i;
		i += need + 1;
	}
	return -1;
}

yyjson_doc *rb_jr_parse(const char *s, size_t n, struct rb_jr_msg *m)
{
	yyjson_read_err err;
	yyjson_doc *doc;
	long bad;

	memset(m, 0, sizeof(*m));
	/* NOFLAG: strict JSON, UTF-8 validated; the input is not modified. */
	doc = yyjson_read_opts((char *)s, n, YYJSON_READ_NOFLAG, NULL, &err);
	if (doc)
		return doc;
	m->kind = RB_JR_INVALID;
	m->code = RB_JR_PARSE_ERROR;
	bad = rb_utf8_invalid_at(s, n);
	if (bad >= 0)
		snprintf(m->why, sizeof(m->why), "Parse error: invalid UTF-8 at byte %ld (messages must be UTF-8)", bad);
	else
		snprintf(m->why, sizeof(m->why), "Parse error: %s at byte %zu", err.msg ? err.msg : "invalid JSON",
			 err.pos);
	return NULL;
}

static void invalid(struct rb_jr_msg *m, int code, const char *why)
{
	m->kind = RB_JR_INVALID;
	m->code = code;
	snprintf(m->why, sizeof(m->why), "%s", why);
}

void rb_jr_classify(yyjson_doc *doc, struct rb_jr_msg *m)
{
	yyjson_val *root = yyjson_doc_get_root(doc);

	if (yyjson_is_arr(root)) {
		/* Batches exist only in MCP 2025-03-26 (and are taken apart by
		 * the session before classification); dropped in 2025-06-18. */
		memset(m, 0, sizeof(*m));
		invalid(m, RB_JR_INVALID_REQUEST, "Invalid Request: batches (JSON arrays) are not supported");
		return;
	}
	rb_jr_classify_val(root, m);
}

void rb_jr_classify_val(yyjson_val *root, struct rb_jr_msg *m)
{
	yyjson_val *v, *id, *method;

	memset(m, 0, sizeof(*m));
	if (!yyjson_is_obj(root)) {
		invalid(m, RB_JR_INVALID_REQUEST, "Invalid Request: a message must be a JSON object");
		return;
	}
	id = yyjson_obj_get(root, "id");
	/* MCP ids are strings or integers, never null. A bad id cannot be
	 * echoed, so the error goes out with id null. */
	if (id && (yyjson_is_str(id) || yyjson_is_int(id)))
		m->id = id;
	v = yyjson_obj_get(root, "jsonrpc");
	if (!yyjson_is_str(v) || strcmp(yyjson_get_str(v), "2.0")) {
		invalid(m, RB_JR_INVALID_REQUEST, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
		return;
	}
	method = yyjson_obj_get(root, "method");
	m->result = yyjson_obj_get(root, "result");
	m->error = yyjson_obj_get(root, "error");
	if (!method && (!m->result != !m->error) && (m->id || yyjson_is_null(id) || !id)) {
		/* A response; one with id null (the peer could not read one of
		 * our messages) matches nothing but must never be answered. */
		m->kind = RB_JR_RESPONSE;
		return;
	}
	if (id && !m->id) {
		invalid(m, RB_JR_INVALID_REQUEST, "Invalid Request: \"id\" must be a string or an integer");
		return;
	}
	if (method) {
		if (!yyjson_is_str(method)) {
			invalid(m, RB_JR_INVALID_REQUEST, "Invalid Request: \"method\" must be a string");
			return;
		}
		m->method = yyjson_get_str(method);
		m->kind = id ? RB_JR_REQUEST : RB_JR_NOTIFICATION;
		v = yyjson_obj_get(root, "params");
		if (v && !yyjson_is_obj(v)) {
			invalid(m, RB_JR_INVALID_PARAMS, "Invalid params: \"params\" must be an object");
			return;
		}
		m->params = v;
		return;
	}
	invalid(m, RB_JR_INVALID_REQUEST,
		(m->result || m->error) ? "Invalid Request: a response needs exactly one of \"result\" and \"error\""
					: "Invalid Request: missing \"method\"");
}

char *rb_jr_batch_join(const struct rb_jr_entry *e, size_t n, size_t *len)
{
	size_t i, total = 2, k = 0; /* "[" and "]\n" less one comma */
	char *s, *p;

	*len = 0;
	for (i = 0; i < n; i++)
		if (e[i].text)
			total += e[i].len + 1, k++;
	if (!k)
		return NULL;
	s = malloc(total + 1);
	if (!s) {
		*len = 1;
		return NULL;
	}
	p = s;
	*p++ = '[';
	for (i = 0; i < n; i++) {
		if (!e[i].text)
			continue;
		if (p != s + 1)
			*p++ = ',';
		memcpy(p, e[i].text, e[i].len);
		p += e[i].len;
	}
	*p++ = ']';
	*p++ = '\n';
	*len = (size_t)(p - s);
	return s;
}

char *rb_jr_write(yyjson_mut_doc *doc, size_t *len)
{
	size_t n = 0;
	char *s = yyjson_mut_write(doc, YYJSON_WRITE_NOFLAG, &n), *t;

	if (!s)
		return NULL;
	/* The framing newline; yyjson escapes every newline inside strings. */
	t = realloc(s, n + 1);
	if (!t) {
		free(s);
		return NULL;
	}
	t[n] = '\n';
	*len = n + 1;
	return t;
}

yyjson_mut_val *rb_jr_response(yyjson_mut_doc *doc, yyjson_val *id)
{
	yyjson_mut_val *root = yyjson_mut_obj(doc);

	yyjson_mut_obj_add_str(doc, root, "jsonrpc", "2.0");
	yyjson_mut_obj_add_val(doc, root, "id", id ? yyjson_val_mut_copy(doc, id) : yyjson_mut_null(doc));
	yyjson_mut_doc_set_root(doc, root);
	return root;
}

yyjson_mut_val *rb_jr_notification(yyjson_mut_doc *doc, const char *method)
{
	yyjson_mut_val *root = yyjson_mut_obj(doc), *params = yyjson_mut_obj(doc);

	yyjson_mut_obj_add_str(doc, root, "jsonrpc", "2.0");
	yyjson_mut_obj_add_str(doc, root, "method", method);
	yyjson_mut_obj_add_val(doc, root, "params", params);
	yyjson_mut_doc_set_root(doc, root);
	return params;
}

char *rb_jr_error_line(yyjson_val *id, int code, const char *msg, size_t *len)
{
	yyjson_mut_doc *doc = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *root, *err;
	char *s;

	if (!doc)
		return NULL;
	root = rb_jr_response(doc, id);
	err = yyjson_mut_obj(doc);
	yyjson_mut_obj_add_int(doc, err, "code", code);
	yyjson_mut_obj_add_strcpy(doc, err, "message", msg);
	yyjson_mut_obj_add_val(doc, root, "error", err);
	s = rb_jr_write(doc, len);
	yyjson_mut_doc_free(doc);
	return s;
}
