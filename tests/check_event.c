/*
 * check_event.c - NDJSON lines to validated events: required fields and
 * their types, repeated keys and control characters in keys at any depth,
 * decoded ids, error paths and reasons.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json.h"
#include "util.h"

#define VALID "{\"event_id\":\"e-1\",\"org_id\":\"TN-a\",\"domain\":\"onboarding\"," \
	"\"event_type\":\"succeeded\",\"schema_version\":2," \
	"\"timestamp\":\"2026-11-27T00:46:12Z\",\"cid\":\"c\",\"data\":{\"x\":[1,2]}}"

/* Parse a line that must be accepted (the line is an exact-size heap copy,
 * kept in *copy so the event stays valid; free it after). */
static event parse_ok(event_parser *ep, const char *line, size_t n, char **copy)
{
	event ev;
	event_error err;

	*copy = xmalloc(n ? n : 1);
	memcpy(*copy, line, n);
	memset(&err, 0, sizeof(err));
	ck_assert_msg(event_parse(ep, *copy, n, &ev, &err), "'%.*s' rejected: %s: %s",
		      (int)n, line, err.path, err.reason);
	return ev;
}

/* Parse a line that must be rejected with exactly this path and reason. */
static void expect_err_n(const char *line, size_t n, const char *path,
			 const char *reason)
{
	event_parser ep;
	event ev;
	event_error err;
	char *copy = xmalloc(n ? n : 1);

	memcpy(copy, line, n);
	memset(&err, 0, sizeof(err));
	event_parser_init(&ep, JSON_DEFAULT_MAX_DEPTH);
	ck_assert_msg(!event_parse(&ep, copy, n, &ev, &err), "'%.*s' accepted",
		      (int)n, line);
	ck_assert_msg(!strcmp(err.path, path), "'%.*s': path '%s', want '%s'",
		      (int)n, line, err.path, path);
	ck_assert_msg(!strcmp(err.reason, reason), "'%.*s': reason '%s', want '%s'",
		      (int)n, line, err.reason, reason);
	event_parser_release(&ep);
	free(copy);
}

#define EXPECT_ERR(line, path, reason) expect_err_n((line), strlen(line), (path), (reason))

/* A valid event with one field replaced (or removed when value is NULL). */
static char *event_with(const char *field, const char *value)
{
	static const char *names[] = { "event_id", "org_id", "domain", "event_type",
				       "schema_version", "timestamp" };
	static const char *values[] = { "\"e-1\"", "\"TN-a\"", "\"d\"", "\"t\"", "1",
					"\"2026-01-01T00:00:00Z\"" };
	buf b = BUF_INIT;
	bool first = true;

	buf_addch(&b, '{');
	for (size_t i = 0; i < 6; i++) {
		const char *v = values[i];

		if (!strcmp(names[i], field)) {
			if (!value)
				continue;
			v = value;
		}
		buf_printf(&b, "%s\"%s\":%s", first ? "" : ",", names[i], v);
		first = false;
	}
	buf_addch(&b, '}');
	return buf_detach(&b, NULL);
}

START_TEST(valid_event)
{
	event_parser ep;
	char *copy;
	event ev;

	event_parser_init(&ep, JSON_DEFAULT_MAX_DEPTH);
	ev = parse_ok(&ep, VALID, strlen(VALID), &copy);
	ck_assert_uint_eq(ev.event_id_len, 3);
	ck_assert(!memcmp(ev.event_id, "e-1", 3));
	ck_assert_uint_eq(ev.org_id_len, 4);
	ck_assert(!memcmp(ev.org_id, "TN-a", 4));
	ck_assert_int_eq(ev.schema_version, 2);
	ck_assert_int_eq(ev.object.type, JSON_OBJECT);
	ck_assert_ptr_eq(ev.object.p, copy);
	ck_assert_uint_eq(ev.object.n, strlen(VALID));
	free(copy);
	event_parser_release(&ep);
}
END_TEST

START_TEST(valid_event_variants)
{
	event_parser ep;
	char *copy;
	event ev;
	/* reordered fields, whitespace around, negative and big schema versions,
	 * extra fields of any type */
	const char *l1 = "  {\"timestamp\":\"t\" , \"schema_version\" : -7,\"event_type\":\"x\","
			 "\"domain\":\"\",\"org_id\":\"\",\"event_id\":\"id\",\"data\":null}\t";
	const char *l2 = "{\"event_id\":\"\xc3\xa9\",\"org_id\":\"o\",\"domain\":\"d\","
			 "\"event_type\":\"t\",\"schema_version\":9223372036854775807,"
			 "\"timestamp\":\"t\",\"x\":[{\"event_id\":1}]}";

	event_parser_init(&ep, JSON_DEFAULT_MAX_DEPTH);
	ev = parse_ok(&ep, l1, strlen(l1), &copy);
	ck_assert_int_eq(ev.schema_version, -7);
	ck_assert_uint_eq(ev.org_id_len, 0);
	ck_assert_uint_eq(ev.event_id_len, 2);
	ck_assert(!memcmp(ev.event_id, "id", 2));
	/* the object excludes the surrounding whitespace */
	ck_assert_ptr_eq(ev.object.p, copy + 2);
	ck_assert_uint_eq(ev.object.n, strlen(l1) - 3);
	free(copy);

	ev = parse_ok(&ep, l2, strlen(l2), &copy);
	ck_assert_int_eq(ev.schema_version, INT64_MAX);
	ck_assert_uint_eq(ev.event_id_len, 2);
	ck_assert(!memcmp(ev.event_id, "\xc3\xa9", 2));
	free(copy);
	event_parser_release(&ep);
}
END_TEST

START_TEST(each_required_field_missing)
{
	static const char *names[] = { "event_id", "org_id", "domain", "event_type",
				       "schema_version", "timestamp" };

	for (size_t i = 0; i < 6; i++) {
		char *line = event_with(names[i], NULL);
		char path[64];

		snprintf(path, sizeof(path), "$.%s", names[i]);
		EXPECT_ERR(line, path, "missing required field");
		free(line);
	}
	EXPECT_ERR("{}", "$.event_id", "missing required field");
	/* a nested field of that name does not count */
	EXPECT_ERR("{\"data\":{\"event_id\":\"x\"}}", "$.event_id", "missing required field");
}
END_TEST

START_TEST(each_field_wrong_type)
{
	static const char *strings[] = { "event_id", "org_id", "domain", "event_type",
					 "timestamp" };
	static const struct { const char *v; const char *found; } bad_strings[] = {
		{ "1", "number" }, { "null", "null" }, { "true", "boolean" },
		{ "false", "boolean" }, { "[\"a\"]", "array" }, { "{\"a\":\"b\"}", "object" },
	};

	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < sizeof(bad_strings) / sizeof(bad_strings[0]); j++) {
			char *line = event_with(strings[i], bad_strings[j].v);
			char path[64], reason[160];

			snprintf(path, sizeof(path), "$.%s", strings[i]);
			snprintf(reason, sizeof(reason), "expected a string, found %s",
				 bad_strings[j].found);
			EXPECT_ERR(line, path, reason);
			free(line);
		}
}
END_TEST

START_TEST(schema_version_types)
{
	static const struct { const char *v; const char *reason; } cases[] = {
		{ "\"1\"", "expected an integer, found string" },
		{ "1.5", "expected an integer, found a non-integer number" },
		{ "1.0", "expected an integer, found a non-integer number" },
		{ "1e2", "expected an integer, found a non-integer number" },
		{ "1E0", "expected an integer, found a non-integer number" },
		{ "null", "expected an integer, found null" },
		{ "true", "expected an integer, found boolean" },
		{ "[1]", "expected an integer, found array" },
		{ "{}", "expected an integer, found object" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *line = event_with("schema_version", cases[i].v);

		EXPECT_ERR(line, "$.schema_version", cases[i].reason);
		free(line);
	}
	/* an integer that does not fit in int64 is not accepted either */
	{
		char *line = event_with("schema_version", "9223372036854775808");
		event_parser ep;
		event ev;
		event_error err;

		event_parser_init(&ep, 8);
		ck_assert(!event_parse(&ep, line, strlen(line), &ev, &err));
		ck_assert_str_eq(err.path, "$.schema_version");
		event_parser_release(&ep);
		free(line);
	}
	/* the int64 limits are accepted */
	{
		char *line = event_with("schema_version", "-9223372036854775808");
		event_parser ep;
		char *copy;
		event ev;

		event_parser_init(&ep, 8);
		ev = parse_ok(&ep, line, strlen(line), &copy);
		ck_assert(ev.schema_version == INT64_MIN);
		free(copy);
		event_parser_release(&ep);
		free(line);
	}
}
END_TEST

START_TEST(duplicate_keys)
{
	/* plain duplicate of a required field */
	EXPECT_ERR("{\"event_id\":\"a\",\"org_id\":\"TN-a\",\"domain\":\"d\",\"event_type\":\"t\","
		   "\"schema_version\":1,\"timestamp\":\"t\",\"org_id\":\"TN-b\"}",
		   "$.org_id", "duplicate key");
	/* duplicate via an escape: the escaped spelling first */
	EXPECT_ERR("{\"event_id\":\"a\",\"org\\u005fid\":\"TN-b\",\"org_id\":\"TN-a\",\"domain\":\"d\","
		   "\"event_type\":\"t\",\"schema_version\":1,\"timestamp\":\"t\"}",
		   "$.org_id", "duplicate key");
	/* duplicate of an optional field is also refused */
	EXPECT_ERR("{\"event_id\":\"a\",\"org_id\":\"TN-a\",\"domain\":\"d\",\"event_type\":\"t\","
		   "\"schema_version\":1,\"timestamp\":\"t\",\"x\":1,\"x\":1}",
		   "$.x", "duplicate key");
	/* the duplicate check comes before the field checks */
	EXPECT_ERR("{\"a\":1,\"a\":2}", "$.a", "duplicate key");
	/* the escaped spelling second: still refused (the path names it) */
	{
		const char *l = "{\"event_id\":\"a\",\"org_id\":\"TN-a\",\"org\\u005Fid\":\"TN-b\","
				"\"domain\":\"d\",\"event_type\":\"t\",\"schema_version\":1,"
				"\"timestamp\":\"t\"}";
		event_parser ep;
		event ev;
		event_error err;

		event_parser_init(&ep, 8);
		ck_assert(!event_parse(&ep, l, strlen(l), &ev, &err));
		ck_assert_str_eq(err.reason, "duplicate key");
		ck_assert_msg(!strncmp(err.path, "$.org", 5), "path %s", err.path);
		event_parser_release(&ep);
	}
	/* a nested object's repeated key is refused too; the same key in two
	 * objects, or at two depths, is not a repeat */
	EXPECT_ERR("{\"event_id\":\"a\",\"org_id\":\"TN-a\",\"domain\":\"d\","
		   "\"event_type\":\"t\",\"schema_version\":1,\"timestamp\":\"t\","
		   "\"data\":{\"org_id\":\"x\",\"org_id\":\"y\"},\"more\":{\"org_id\":\"z\"}}",
		   "$.data.org_id", "duplicate key");
	{
		const char *l = "{\"event_id\":\"a\",\"org_id\":\"TN-a\",\"domain\":\"d\","
				"\"event_type\":\"t\",\"schema_version\":1,\"timestamp\":\"t\","
				"\"data\":{\"org_id\":\"x\",\"data\":{\"data\":1}},"
				"\"more\":{\"org_id\":\"z\"}}";
		event_parser ep;
		char *copy;

		event_parser_init(&ep, 8);
		parse_ok(&ep, l, strlen(l), &copy);
		free(copy);
		event_parser_release(&ep);
	}
	/* keys that differ only after decoding are distinct */
	{
		const char *l = "{\"event_id\":\"a\",\"org_id\":\"TN-a\",\"domain\":\"d\","
				"\"event_type\":\"t\",\"schema_version\":1,\"timestamp\":\"t\","
				"\"k\\u0041\":1,\"k\":2,\"\\u006bB\":3,\"K\":4}";
		event_parser ep;
		char *copy;

		event_parser_init(&ep, 8);
		parse_ok(&ep, l, strlen(l), &copy);
		free(copy);
		event_parser_release(&ep);
	}
}
END_TEST

START_TEST(decoded_ids)
{
	event_parser ep;
	char *copy;
	event ev;
	const char *l = "{\"event_id\":\"a\\u0000b\\\"c\",\"org_id\":\"TN-\\u0061\","
			"\"domain\":\"d\",\"event_type\":\"t\",\"schema_version\":3,"
			"\"timestamp\":\"t\"}";
	const char *l2 = "{\"event_id\":\"\\ud83d\\ude00\",\"org_id\":\"\\u0054\\u004e-a\","
			 "\"domain\":\"d\",\"event_type\":\"t\",\"schema_version\":0,"
			 "\"timestamp\":\"t\"}";

	event_parser_init(&ep, JSON_DEFAULT_MAX_DEPTH);
	ev = parse_ok(&ep, l, strlen(l), &copy);
	ck_assert_uint_eq(ev.event_id_len, 5);
	ck_assert(!memcmp(ev.event_id, "a\0b\"c", 5));
	ck_assert_uint_eq(ev.org_id_len, 4);
	ck_assert(!memcmp(ev.org_id, "TN-a", 4));
	free(copy);

	/* the parser is reused: the previous ids are replaced */
	ev = parse_ok(&ep, l2, strlen(l2), &copy);
	ck_assert_uint_eq(ev.event_id_len, 4);
	ck_assert(!memcmp(ev.event_id, "\xf0\x9f\x98\x80", 4));
	ck_assert_uint_eq(ev.org_id_len, 4);
	ck_assert(!memcmp(ev.org_id, "TN-a", 4));
	ck_assert_int_eq(ev.schema_version, 0);
	free(copy);
	event_parser_release(&ep);
}
END_TEST

START_TEST(not_an_object)
{
	EXPECT_ERR("[1,2]", "$", "not a JSON object but an array");
	EXPECT_ERR("\"x\"", "$", "not a JSON object but a string");
	EXPECT_ERR("42", "$", "not a JSON object but a number");
	EXPECT_ERR("true", "$", "not a JSON object but a boolean");
	EXPECT_ERR("null", "$", "not a JSON object but a null");
}
END_TEST

START_TEST(invalid_json_and_utf8)
{
	EXPECT_ERR("{\"event_id\":", "$", "invalid JSON at byte 13: unexpected end of input");
	EXPECT_ERR("{\"a\" 1}", "$", "invalid JSON at byte 6: expected ':'");
	EXPECT_ERR("{} x", "$", "invalid JSON at byte 4: unexpected data after the value");
	EXPECT_ERR("", "$", "invalid JSON at byte 1: unexpected end of input");
	EXPECT_ERR("{\"event_id\":\"\xff\"}", "$", "invalid UTF-8 at byte 14");
	EXPECT_ERR("{\"event_id\":\"\xc0\xaf\"}", "$", "invalid UTF-8 at byte 14");
	EXPECT_ERR("{\"event_id\":\"\xed\xa0\x80\"}", "$", "invalid UTF-8 at byte 14");
	EXPECT_ERR("{\"event_id\":\"\\ud800\"}", "$",
		   "invalid JSON at byte 14: lone high surrogate in string");
	/* a NUL byte in the line (outside a string) */
	expect_err_n("{\"a\":1}\0", 8, "$", "invalid JSON at byte 8: unexpected data after the value");
}
END_TEST

START_TEST(depth_limit)
{
	const char *l = "{\"event_id\":\"a\",\"org_id\":\"TN-a\",\"domain\":\"d\","
			"\"event_type\":\"t\",\"schema_version\":1,\"timestamp\":\"t\","
			"\"data\":{\"a\":[[1]]}}";
	event_parser ep;
	event ev;
	event_error err;

	event_parser_init(&ep, 4);
	ck_assert(event_parse(&ep, l, strlen(l), &ev, &err));
	event_parser_release(&ep);
	event_parser_init(&ep, 3);
	ck_assert(!event_parse(&ep, l, strlen(l), &ev, &err));
	ck_assert_str_eq(err.path, "$");
	ck_assert_ptr_nonnull(strstr(err.reason, "nesting too deep"));
	event_parser_release(&ep);
}
END_TEST

/* An event with `extra` more keys k00, k01, ... (and maybe a repeat). */
static char *large_event(unsigned extra, const char *dup_key)
{
	buf b = BUF_INIT;

	buf_addstr(&b, "{\"event_id\":\"big\",\"org_id\":\"TN-a\",\"domain\":\"d\","
		       "\"event_type\":\"t\",\"schema_version\":1,\"timestamp\":\"t\"");
	for (unsigned i = 0; i < extra; i++)
		buf_printf(&b, ",\"k%02u\":%u", i, i);
	if (dup_key)
		buf_printf(&b, ",%s:0", dup_key);
	buf_addch(&b, '}');
	return buf_detach(&b, NULL);
}

START_TEST(large_object_duplicates)
{
	event_parser ep;
	event ev;
	event_error err;
	char *copy;
	char *l;

	event_parser_init(&ep, JSON_DEFAULT_MAX_DEPTH);
	/* 6 + 40 keys, all distinct: accepted */
	l = large_event(40, NULL);
	ev = parse_ok(&ep, l, strlen(l), &copy);
	ck_assert_uint_eq(ev.event_id_len, 3);
	free(copy);
	free(l);

	/* a repeated extra key */
	l = large_event(40, "\"k17\"");
	ck_assert(!event_parse(&ep, l, strlen(l), &ev, &err));
	ck_assert_str_eq(err.path, "$.k17");
	ck_assert_str_eq(err.reason, "duplicate key");
	free(l);

	/* a repeated required key, spelled with escapes */
	l = large_event(20, "\"\\u006frg_id\"");
	ck_assert(!event_parse(&ep, l, strlen(l), &ev, &err));
	ck_assert_str_eq(err.reason, "duplicate key");
	free(l);

	/* exactly 17 keys with a repeat of the first */
	l = large_event(10, "\"event_id\"");
	ck_assert(!event_parse(&ep, l, strlen(l), &ev, &err));
	ck_assert_str_eq(err.path, "$.event_id");
	ck_assert_str_eq(err.reason, "duplicate key");
	free(l);

	/* 16 keys with a repeat (the pairwise path) */
	l = large_event(9, "\"k00\"");
	ck_assert(!event_parse(&ep, l, strlen(l), &ev, &err));
	ck_assert_str_eq(err.path, "$.k00");
	free(l);

	/* keys that are prefixes of each other are distinct */
	{
		buf b = BUF_INIT;

		buf_addstr(&b, "{\"event_id\":\"x\",\"org_id\":\"o\",\"domain\":\"d\","
			       "\"event_type\":\"t\",\"schema_version\":1,\"timestamp\":\"t\"");
		for (int i = 1; i <= 30; i++) {
			buf_addstr(&b, ",\"");
			for (int j = 0; j < i; j++)
				buf_addch(&b, 'a');
			buf_addstr(&b, "\":1");
		}
		buf_addstr(&b, ",\"\":1}");
		ev = parse_ok(&ep, b.data, b.len, &copy);
		free(copy);
		buf_release(&b);
	}
	/* the parser still works on a small event afterwards */
	ev = parse_ok(&ep, VALID, strlen(VALID), &copy);
	ck_assert_int_eq(ev.schema_version, 2);
	free(copy);
	event_parser_release(&ep);
}
END_TEST

START_TEST(long_key_in_message)
{
	/* a duplicate key longer than the path field: cut, still a path */
	buf b = BUF_INIT;
	event_parser ep;
	event ev;
	event_error err;

	buf_addstr(&b, "{\"");
	for (int i = 0; i < 200; i++)
		buf_addch(&b, 'k');
	buf_addstr(&b, "\":1,\"");
	for (int i = 0; i < 200; i++)
		buf_addch(&b, 'k');
	buf_addstr(&b, "\":2}");
	event_parser_init(&ep, 8);
	ck_assert(!event_parse(&ep, b.data, b.len, &ev, &err));
	ck_assert_str_eq(err.reason, "duplicate key");
	ck_assert_msg(!strncmp(err.path, "$['kkkk", 7), "path %s", err.path);
	ck_assert_uint_lt(strlen(err.path), sizeof(err.path));
	ck_assert_str_eq(err.path + strlen(err.path) - 8, "kkk...']");
	event_parser_release(&ep);
	buf_release(&b);
}
END_TEST

/* A valid event followed by `extra` (members, each starting with ','). */
static char *event_plus(const char *extra)
{
	buf b = BUF_INIT;

	buf_addstr(&b, "{\"event_id\":\"e-1\",\"org_id\":\"TN-a\",\"domain\":\"d\","
		       "\"event_type\":\"t\",\"schema_version\":1,\"timestamp\":\"t\"");
	buf_addstr(&b, extra);
	buf_addch(&b, '}');
	return buf_detach(&b, NULL);
}

static void expect_extra_err(const char *extra, const char *path, const char *reason)
{
	char *line = event_plus(extra);

	EXPECT_ERR(line, path, reason);
	free(line);
}

static void expect_extra_ok(const char *extra)
{
	char *line = event_plus(extra);
	event_parser ep;
	char *copy;

	event_parser_init(&ep, JSON_DEFAULT_MAX_DEPTH);
	parse_ok(&ep, line, strlen(line), &copy);
	free(copy);
	event_parser_release(&ep);
	free(line);
}

#define CTRL_KEY "control character in key"

START_TEST(control_character_keys)
{
	/* the tenant attack: cJSON reads the first key as "org_id", TN-b */
	EXPECT_ERR("{\"org_id\\u0000\":\"TN-b\",\"org_id\":\"TN-a\",\"event_id\":\"e-1\","
		   "\"domain\":\"d\",\"event_type\":\"t\",\"schema_version\":1,\"timestamp\":\"t\"}",
		   "$['org_id\\u0000']", CTRL_KEY);
	/* the same after the real one */
	expect_extra_err(",\"org_id\\u0000\":\"TN-b\"", "$['org_id\\u0000']", CTRL_KEY);
	/* other control characters: C0, DEL, C1, escaped or raw (never shown raw) */
	expect_extra_err(",\"x\\u001f\":1", "$['x\\u001f']", CTRL_KEY);
	expect_extra_err(",\"x\\u007f\":1", "$['x\\u007f']", CTRL_KEY);
	expect_extra_err(",\"x\\u0085\":1", "$['x\\u0085']", CTRL_KEY);
	expect_extra_err(",\"x\xc2\x85\":1", "$['x\\u0085']", CTRL_KEY);
	expect_extra_err(",\"x\x7f\":1", "$['x\\u007f']", CTRL_KEY);
	expect_extra_err(",\"x\\n\":1", "$['x\\n']", CTRL_KEY);
	/* at depth 2, and in objects inside arrays */
	expect_extra_err(",\"data\":{\"a\":{\"b\\u0000\":1}}", "$.data.a['b\\u0000']", CTRL_KEY);
	expect_extra_err(",\"data\":{\"items\":[{\"sku\":1},{\"s\\u0085\":2}]}",
			 "$.data.items[1]['s\\u0085']", CTRL_KEY);
	expect_extra_err(",\"data\":[[{\"ok\":1}],[1,{\"\xc2\x9f\":2}]]", "$.data[1][1]['\\u009f']",
			 CTRL_KEY);
	/* values may hold them; U+00A0 and beyond are not control characters */
	expect_extra_ok(",\"data\":{\"note\":\"a\\u0000b\\u0085\xc2\x85\x7f\\n\",\"l\":[\"\\u0001\"]}");
	expect_extra_ok(",\"\\u00a0\":1,\"\xc2\xa0x\":2,\"\\u00e9\":3,\"~\":4");
	/* a raw control character below 0x20 is invalid JSON */
	expect_extra_err(",\"x\ty\":1", "$", "invalid JSON at byte 102: control character in string");
	/* and invalid JSON is told as such, whatever key errors come before */
	expect_extra_err(",\"k\\u0000\":1,", "$", "invalid JSON at byte 112: expected a string key");
	expect_extra_err(",\"org_id\":\"TN-b\",\"x\":\"y\":1", "$",
			 "invalid JSON at byte 123: expected ',' or '}'");
}
END_TEST

START_TEST(nested_duplicate_keys)
{
	/* the filter attack: the matcher would see the first visibility,
	 * Python and jq the last */
	expect_extra_err(",\"data\":{\"visibility\":\"public\",\"visibility\":\"internal-only\"}",
			 "$.data.visibility", "duplicate key");
	expect_extra_err(",\"data\":{\"visibility\":\"public\",\"vis\\u0069bility\":\"internal-only\"}",
			 "$.data.visibility", "duplicate key");
	expect_extra_err(",\"data\":{\"vis\\u0069bility\":\"public\",\"visibility\":\"internal-only\"}",
			 "$.data.visibility", "duplicate key");
	/* in objects inside arrays: the index of the element */
	expect_extra_err(",\"data\":{\"items\":[{\"a\":1},{\"b\":1},{\"a\":1,\"a\":2}]}",
			 "$.data.items[2].a", "duplicate key");
	expect_extra_err(",\"data\":{\"m\":[[],[{\"x\":{\"y\":1,\"y\":1}}]]}", "$.data.m[1][0].x.y",
			 "duplicate key");
	/* the same key in two objects, or at two depths, is fine */
	expect_extra_ok(",\"a\":{\"x\":1},\"b\":{\"x\":2}");
	expect_extra_ok(",\"data\":{\"data\":{\"data\":1},\"org_id\":\"TN-b\"},"
			"\"items\":[{\"a\":1},{\"a\":2}]");
	/* a large nested object: a repeat at its end, and none */
	{
		buf b = BUF_INIT;
		char *line;

		buf_addstr(&b, ",\"data\":{");
		for (int i = 0; i < 24; i++)
			buf_printf(&b, "%s\"f%02d\":%d", i ? "," : "", i, i);
		buf_addch(&b, '}');
		expect_extra_ok(b.data);
		b.data[b.len - 1] = ',';
		buf_addstr(&b, "\"f\\u00323\":0}");   /* "f23" */
		line = event_plus(b.data);
		EXPECT_ERR(line, "$.data.f23", "duplicate key");
		free(line);
		buf_release(&b);
	}
}
END_TEST

/* Long paths stay bounded and well formed. */
START_TEST(long_paths)
{
	buf b = BUF_INIT;
	char *line;

	buf_addstr(&b, ",\"data\":");
	for (int i = 0; i < 30; i++)
		buf_addstr(&b, "{\"customer\":");
	buf_addstr(&b, "{\"visibility\":1,\"visibility\":2}");
	for (int i = 0; i < 30; i++)
		buf_addch(&b, '}');
	line = event_plus(b.data);
	EXPECT_ERR(line, "$.data.customer.customer.customer.customer.customer..visibility",
		   "duplicate key");
	free(line);
	buf_release(&b);
}
END_TEST

Suite *event_suite(void)
{
	Suite *s = suite_create("event");
	TCase *tc = tcase_create("event");

	tcase_add_test(tc, valid_event);
	tcase_add_test(tc, valid_event_variants);
	tcase_add_test(tc, each_required_field_missing);
	tcase_add_test(tc, each_field_wrong_type);
	tcase_add_test(tc, schema_version_types);
	tcase_add_test(tc, duplicate_keys);
	tcase_add_test(tc, decoded_ids);
	tcase_add_test(tc, not_an_object);
	tcase_add_test(tc, invalid_json_and_utf8);
	tcase_add_test(tc, depth_limit);
	tcase_add_test(tc, large_object_duplicates);
	tcase_add_test(tc, long_key_in_message);
	tcase_add_test(tc, control_character_keys);
	tcase_add_test(tc, nested_duplicate_keys);
	tcase_add_test(tc, long_paths);
	suite_add_tcase(s, tc);
	return s;
}
