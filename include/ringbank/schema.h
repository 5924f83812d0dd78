/* schema.h: JSON Schema fragments shared by the tool tables (struct rb_tool's
 * input_schema and output_schema are JSON text). They are string literals,
 * so a table still holds one constant string: fragments are joined by the
 * compiler, e.g.
 *
 *   .input_schema = RB_SCHEMA_ARGS_REQ("\"id\":{\"type\":\"string\"}", "\"id\""),
 *
 * Arguments are the inner JSON text: properties without their braces, the
 * required names quoted and comma-separated. */
#ifndef RINGBANK_SCHEMA_H
#define RINGBANK_SCHEMA_H

/* An arguments object that accepts only the properties listed. */
#define RB_SCHEMA_ARGS(props) "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{" props "}}"
/* The same with required properties. */
#define RB_SCHEMA_ARGS_REQ(props, required)                                                           \
	"{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{" props "},\"required\":[" \
	required "]}"

/* An array of strings. */
#define RB_SCHEMA_STRING_ARRAY "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}"

#endif
