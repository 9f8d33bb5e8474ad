/*
 * check_json.c - the strict JSON scanner: grammar, UTF-8, depth, error
 * offsets, iteration, member lookup, string decoding and numbers; the key
 * checks of events (repeated keys, control characters, the paths told).
 *
 * Every document is copied into a heap block of exactly its length, so a
 * read past the end of the span is caught by AddressSanitizer.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util.h"

/* An exact-size heap copy of p[0..n) (at least one byte allocated). */
static char *dup_exact(const char *p, size_t n)
{
	char *c = xmalloc(n ? n : 1);

	memcpy(c, p, n);
	return c;
}

static bool parse_n(const char *p, size_t n, unsigned depth, json_value *v,
		    json_error *e)
{
	char *c = dup_exact(p, n);
	bool ok = json_parse(c, n, depth, v, e);

	/* v points into c: callers that need the value use parse_keep */
	free(c);
	return ok;
}

static void ok_n(const char *p, size_t n)
{
	json_value v;
	json_error e = { 0, NULL };

	ck_assert_msg(parse_n(p, n, JSON_DEFAULT_MAX_DEPTH, &v, &e),
		      "'%.*s' rejected at %zu: %s", (int)n, p, e.offset,
		      e.reason ? e.reason : "?");
}

#define OK(s) ok_n((s), sizeof(s) - 1)

/* Expect rejection at `offset` with a reason containing `part`. */
static void bad_n(const char *p, size_t n, size_t offset, const char *part)
{
	json_value v;
	json_error e = { 999999, NULL };

	ck_assert_msg(!parse_n(p, n, JSON_DEFAULT_MAX_DEPTH, &v, &e),
		      "'%.*s' accepted", (int)n, p);
	ck_assert_msg(e.reason != NULL, "'%.*s': no reason", (int)n, p);
	ck_assert_msg(e.offset == offset, "'%.*s': offset %zu, want %zu (%s)",
		      (int)n, p, e.offset, offset, e.reason);
	if (part)
		ck_assert_msg(strstr(e.reason, part) != NULL,
			      "'%.*s': reason '%s', want '%s' in it", (int)n, p,
			      e.reason, part);
}

#define BAD(s, off, part) bad_n((s), sizeof(s) - 1, (off), (part))

/* json_parse_members_checked() on an exact-size copy of p[0..n), with a
 * json_keycheck that is reused from call to call (as event.c does). */
static json_keycheck shared_kc;

static bool checked_n(const char *p, size_t n, json_error *e)
{
	char *c = dup_exact(p, n);
	json_member m[4];
	json_value v;
	size_t nm;
	bool ok = json_parse_members_checked(c, n, JSON_DEFAULT_MAX_DEPTH, &v, m, 4, &nm,
					     &shared_kc, e);

	free(c);
	return ok;
}

/* Keys that pass the key checks (and plain JSON, of course). */
static void key_ok_n(const char *p, size_t n)
{
	json_error e = { 0, NULL };

	ck_assert_msg(checked_n(p, n, &e), "'%.*s' rejected at %zu: %s (%s)", (int)n, p,
		      e.offset, e.reason ? e.reason : "?", shared_kc.error_path);
	ck_assert_str_eq(shared_kc.error_path, "");
}

#define KEY_OK(s) key_ok_n((s), sizeof(s) - 1)

/* Keys refused with this reason, at this offset, with this path; the
 * parsers without key checks still accept the text. */
static void key_bad_n(const char *p, size_t n, size_t offset, const char *reason,
		      const char *path)
{
	json_error e = { 999999, NULL };
	json_member m[4];
	json_value v;
	size_t nm;

	ck_assert_msg(!checked_n(p, n, &e), "'%.*s' accepted", (int)n, p);
	ck_assert_msg(e.reason && !strcmp(e.reason, reason), "'%.*s': reason '%s', want '%s'",
		      (int)n, p, e.reason ? e.reason : "?", reason);
	ck_assert_msg(e.offset == offset, "'%.*s': offset %zu, want %zu", (int)n, p,
		      e.offset, offset);
	ck_assert_msg(!strcmp(shared_kc.error_path, path), "'%.*s': path '%s', want '%s'",
		      (int)n, p, shared_kc.error_path, path);
	ck_assert_msg(parse_n(p, n, JSON_DEFAULT_MAX_DEPTH, &v, &e),
		      "'%.*s': json_parse refused it: %s", (int)n, p, e.reason);
	ck_assert(json_parse_members(p, n, JSON_DEFAULT_MAX_DEPTH, &v, m, 4, &nm, &e));
}

#define KEY_BAD(s, off, reason, path) key_bad_n((s), sizeof(s) - 1, (off), (reason), (path))
#define DUP "duplicate key"
#define CTRL "control character in key"

/* A parsed document whose text stays alive (free with doc_free). */
typedef struct doc {
	char *text;
	json_value v;
} doc;

static doc parse_keep_n(const char *p, size_t n)
{
	doc d;
	json_error e = { 0, NULL };

	d.text = dup_exact(p, n);
	ck_assert_msg(json_parse(d.text, n, JSON_DEFAULT_MAX_DEPTH, &d.v, &e),
		      "'%.*s' rejected at %zu: %s", (int)n, p, e.offset,
		      e.reason ? e.reason : "?");
	return d;
}

#define KEEP(s) parse_keep_n((s), sizeof(s) - 1)

static void doc_free(doc *d)
{
	free(d->text);
	d->text = NULL;
}

/* Does value v have exactly the text s? */
static void assert_text(json_value v, const char *s)
{
	ck_assert_msg(v.n == strlen(s) && memcmp(v.p, s, v.n) == 0,
		      "value text '%.*s', want '%s'", (int)v.n, v.p, s);
}

/* ---------------------------------------------------------------- */

START_TEST(scalars_valid)
{
	OK("0");
	OK("-0");
	OK("1e5");
	OK("1E5");
	OK("1e+5");
	OK("1e-5");
	OK("-0.0");
	OK("0.5");
	OK("-1.25e-10");
	OK("123456789012345678901234567890");
	OK("9");
	OK("true");
	OK("false");
	OK("null");
	OK("\"\"");
	OK("\"abc\"");
	OK("[]");
	OK("{}");
	OK("[1,2,3]");
	OK("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}");
	OK(" \t\r\n[ 1 , { \"a\" : 2 } ]\n\r\t ");
	OK("[[],{},[{}],{\"\":[]}]");
	/* DEL (0x7f) is not a control character for JSON */
	OK("\"\x7f\"");
}
END_TEST

START_TEST(parse_result_value)
{
	json_value v;
	json_error e;
	const char *t = "  {\"a\" : 1}\n ";
	char *c = dup_exact(t, strlen(t));

	ck_assert(json_parse(c, strlen(t), 8, &v, &e));
	ck_assert_int_eq(v.type, JSON_OBJECT);
	ck_assert_ptr_eq(v.p, c + 2);
	ck_assert_uint_eq(v.n, 9);
	free(c);

	{
		static const struct { const char *t; json_type type; size_t off, n; } cases[] = {
			{ " 12.5e3 ", JSON_NUMBER, 1, 6 },
			{ "\"x\"", JSON_STRING, 0, 3 },
			{ "\ttrue", JSON_TRUE, 1, 4 },
			{ "false\r\n", JSON_FALSE, 0, 5 },
			{ "null", JSON_NULL, 0, 4 },
			{ " [ ] ", JSON_ARRAY, 1, 3 },
			{ "-0", JSON_NUMBER, 0, 2 },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			size_t n = strlen(cases[i].t);

			c = dup_exact(cases[i].t, n);
			ck_assert_msg(json_parse(c, n, 8, &v, &e), "%s", cases[i].t);
			ck_assert_int_eq(v.type, cases[i].type);
			ck_assert_ptr_eq(v.p, c + cases[i].off);
			ck_assert_uint_eq(v.n, cases[i].n);
			free(c);
		}
	}
}
END_TEST

START_TEST(numbers_invalid)
{
	BAD("01", 1, "after the value");
	BAD("-01", 2, "after the value");
	BAD("00", 1, NULL);
	BAD("1.", 2, "digit expected after '.'");
	BAD("1.e5", 2, "digit expected after '.'");
	BAD("-", 1, "invalid number");
	BAD("-a", 1, "invalid number");
	BAD("- 1", 1, "invalid number");
	BAD("+1", 0, "expected a value");
	BAD(".5", 0, "expected a value");
	BAD("1e", 2, "exponent");
	BAD("1e+", 3, "exponent");
	BAD("1E-x", 3, "exponent");
	BAD("0x10", 1, "after the value");
	BAD("1.5.2", 3, "after the value");
	BAD("NaN", 0, NULL);
	BAD("Infinity", 0, NULL);
	BAD("-Infinity", 1, NULL);
	BAD("[01]", 2, "expected ',' or ']'");
	BAD("[1.]", 3, "digit expected after '.'");
	BAD("{\"a\":-}", 6, "invalid number");
}
END_TEST

START_TEST(literals_and_structure_invalid)
{
	BAD("tru", 0, "invalid literal");
	BAD("nul", 0, "invalid literal");
	BAD("True", 0, "expected a value");
	BAD("trueX", 4, "after the value");
	BAD("[1,]", 3, "expected a value");
	BAD("[,1]", 1, "expected a value");
	BAD("[1 2]", 3, "expected ',' or ']'");
	BAD("[1}", 2, "expected ',' or ']'");
	BAD("{\"a\":1,}", 7, "expected a string key");
	BAD("{\"a\" 1}", 5, "expected ':'");
	BAD("{\"a\"}", 4, "expected ':'");
	BAD("{1:2}", 1, "string key");
	BAD("{'a':2}", 1, "string key");
	BAD("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'");
	BAD("{\"a\":1]", 6, "expected ',' or '}'");
	BAD("{\"a\":}", 5, "expected a value");
	BAD("[", 1, "unexpected end of input");
	BAD("{", 1, NULL);
	BAD("{\"a\":1", 6, "unexpected end of input");
	BAD("{\"a\":", 5, "unexpected end of input");
	BAD("[1,", 3, "unexpected end of input");
	BAD("]", 0, "expected a value");
	BAD("'a'", 0, "expected a value");
	BAD("\"abc", 4, "unterminated string");
	BAD("\"abc\\", 4, "unterminated string");
}
END_TEST

START_TEST(empty_and_whitespace_input)
{
	BAD("", 0, "unexpected end of input");
	BAD("   ", 3, "unexpected end of input");
	BAD("\n\t\r ", 4, "unexpected end of input");
	/* only the four JSON whitespace characters are whitespace */
	BAD("\f{}", 0, "expected a value");
	BAD("\v1", 0, "expected a value");
	BAD("\xc2\xa0{}", 0, "expected a value");   /* NBSP */
	BAD("{}\f", 2, "after the value");
}
END_TEST

START_TEST(trailing_garbage)
{
	BAD("{} x", 3, "unexpected data after the value");
	BAD("1 2", 2, "unexpected data after the value");
	BAD("{}{}", 2, "unexpected data after the value");
	BAD("[]]", 2, "unexpected data after the value");
	BAD("\"a\"\"b\"", 3, "unexpected data after the value");
	BAD("null,", 4, "unexpected data after the value");
	/* a NUL byte after the value is data, not an end */
	bad_n("{}\0", 3, 2, "unexpected data after the value");
}
END_TEST

START_TEST(string_escapes_valid)
{
	OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
	OK("\"\\u0000\"");
	OK("\"\\u0041\\u00e9\\u00E9\\u20ac\\uFFFF\"");
	OK("\"\\ud83d\\ude00\"");             /* U+1F600 */
	OK("\"\\uD800\\uDC00\"");             /* U+10000 */
	OK("\"\\udbff\\udfff\"");             /* U+10FFFF */
	OK("\"x\\ud83d\\ude00y\\u0000z\"");
	OK("{\"\\u0061\":\"\\u0062\"}");
}
END_TEST

START_TEST(string_escapes_invalid)
{
	BAD("\"\\a\"", 1, "invalid escape");
	BAD("\"ab\\x41\"", 3, "invalid escape");
	BAD("\"\\U0041\"", 1, "invalid escape");
	BAD("\"\\'\"", 1, "invalid escape");
	BAD("\"\\0\"", 1, "invalid escape");
	BAD("\"\\u12\"", 1, "\\u escape");
	BAD("\"\\u12G4\"", 1, "\\u escape");
	BAD("\"\\u-123\"", 1, "\\u escape");
	BAD("\"\\u123", 1, NULL);
	/* lone surrogates */
	BAD("\"\\ud800\"", 1, "lone high surrogate");
	BAD("\"a\\ud800b\"", 2, "lone high surrogate");
	BAD("\"\\ud800\\u0041\"", 1, "lone high surrogate");
	BAD("\"\\ud800\\ud800\"", 1, "lone high surrogate");
	BAD("\"\\udbff\\n\"", 1, "lone high surrogate");
	BAD("\"\\udc00\"", 1, "lone low surrogate");
	BAD("\"\\udfff\"", 1, "lone low surrogate");
	BAD("\"\\ud83d\\ude00\\ude00\"", 13, "lone low surrogate");
	BAD("[\"ok\",\"\\uDC80\"]", 7, "lone low surrogate");
}
END_TEST

START_TEST(raw_control_characters)
{
	char s[8];

	for (int c = 0; c < 0x20; c++) {
		s[0] = '"';
		s[1] = 'a';
		s[2] = (char)c;
		s[3] = 'b';
		s[4] = '"';
		bad_n(s, 5, 2, "control character");
	}
	/* raw tab and newline inside a key too */
	BAD("{\"a\tb\":1}", 3, "control character");
	BAD("[\"\n\"]", 2, "control character");
}
END_TEST

START_TEST(utf8_valid_sequences)
{
	OK("\"\xc2\x80\"");                     /* U+0080 */
	OK("\"\xc3\xa9\"");
	OK("\"\xdf\xbf\"");                     /* U+07FF */
	OK("\"\xe0\xa0\x80\"");                 /* U+0800 */
	OK("\"\xe2\x82\xac\"");
	OK("\"\xed\x9f\xbf\"");                 /* U+D7FF */
	OK("\"\xee\x80\x80\"");                 /* U+E000 */
	OK("\"\xef\xbf\xbf\"");                 /* U+FFFF */
	OK("\"\xf0\x90\x80\x80\"");             /* U+10000 */
	OK("\"\xf0\x9f\x98\x80\"");
	OK("\"\xf4\x8f\xbf\xbf\"");             /* U+10FFFF */
	OK("{\"\xc3\xa9t\xc3\xa9\":\"\xe6\x97\xa5\xe6\x9c\xac\"}");
}
END_TEST

START_TEST(utf8_invalid_sequences)
{
	/* overlongs */
	BAD("\"\xc0\x80\"", 1, "invalid UTF-8");
	BAD("\"\xc0\xaf\"", 1, "invalid UTF-8");
	BAD("\"\xc1\xbf\"", 1, "invalid UTF-8");
	BAD("\"\xe0\x80\x80\"", 1, "invalid UTF-8");
	BAD("\"\xe0\x9f\xbf\"", 1, "invalid UTF-8");
	BAD("\"\xf0\x80\x80\x80\"", 1, "invalid UTF-8");
	BAD("\"\xf0\x8f\xbf\xbf\"", 1, "invalid UTF-8");
	/* surrogates encoded in UTF-8 */
	BAD("\"\xed\xa0\x80\"", 1, "invalid UTF-8");
	BAD("\"\xed\xbf\xbf\"", 1, "invalid UTF-8");
	BAD("\"ab\xed\xb0\x80\"", 3, "invalid UTF-8");
	/* above U+10FFFF */
	BAD("\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8");
	BAD("\"\xf5\x80\x80\x80\"", 1, "invalid UTF-8");
	BAD("\"\xf8\x88\x80\x80\x80\"", 1, "invalid UTF-8");
	/* stray continuation, invalid lead bytes */
	BAD("\"\x80\"", 1, "invalid UTF-8");
	BAD("\"a\xbf\"", 2, "invalid UTF-8");
	BAD("\"\xfe\"", 1, "invalid UTF-8");
	BAD("\"\xff\"", 1, "invalid UTF-8");
	/* truncated sequences */
	BAD("\"\xc3\"", 1, "invalid UTF-8");
	BAD("\"\xe2\x82\"", 1, "invalid UTF-8");
	BAD("\"\xf0\x9f\x98\"", 1, "invalid UTF-8");
	BAD("\"\xe2\x82x\"", 1, "invalid UTF-8");
	/* truncated at the very end of the input */
	BAD("\"\xe2\x82", 1, NULL);
	/* in a key */
	BAD("{\"k\xff\":1}", 3, "invalid UTF-8");
	/* raw bytes >= 0x80 outside strings are not JSON */
	BAD("[\xc3\xa9]", 1, "expected a value");
}
END_TEST

/* json_parse_bytes: the same grammar, but bytes >= 0x80 in strings are
 * taken as they are (file names in evshare's own state files). */
START_TEST(parse_bytes_in_strings)
{
	static const char *ok[] = {
		"\"\xff\"", "\"\xc0\x80\"", "{\"caf\xe9\":\"\xed\xa0\x80\"}", "[\"\xe2\x82\"]",
		"\"\xc3\xa9\"",
	};
	static const char *bad[] = {
		"[\xc3\xa9]", "\"\x01\"", "{} x", "01", "\"\xff", "\"\\ud800\"",
	};
	json_value v, k, e;
	json_error err;
	json_iter it;
	char out[8];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *c = dup_exact(ok[i], strlen(ok[i]));

		ck_assert_msg(json_parse_bytes(c, strlen(ok[i]), 64, &v, &err),
			      "'%s' rejected: %s", ok[i], err.reason);
		free(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *c = dup_exact(bad[i], strlen(bad[i]));

		ck_assert_msg(!json_parse_bytes(c, strlen(bad[i]), 64, &v, &err),
			      "'%s' accepted", bad[i]);
		free(c);
	}
	/* the helpers work on such strings */
	ck_assert(json_parse_bytes("{\"k\xe9\":\"a\xff\\n\"}", 13, 64, &v, &err));
	json_iter_init(&it, v);
	ck_assert(json_iter_member(&it, &k, &e));
	ck_assert(json_string_equals(k, "k\xe9", 2));
	ck_assert_uint_eq(json_string_decode(e, out), 3);
	ck_assert(!memcmp(out, "a\xff\n", 3));
}
END_TEST

/* n nested arrays "[[[...]]]" */
static char *nested(unsigned n, char open, char close, size_t *len)
{
	char *s = xmalloc(2 * (size_t)n + 1);

	for (unsigned i = 0; i < n; i++) {
		s[i] = open;
		s[2 * (size_t)n - 1 - i] = close;
	}
	s[2 * (size_t)n] = '\0';
	*len = 2 * (size_t)n;
	return s;
}

START_TEST(depth_limit)
{
	json_value v;
	json_error e;
	size_t len;
	char *s;

	s = nested(3, '[', ']', &len);
	ck_assert(parse_n(s, len, 3, &v, &e));
	ck_assert(!parse_n(s, len, 2, &v, &e));
	ck_assert_uint_eq(e.offset, 2);
	ck_assert_ptr_nonnull(strstr(e.reason, "nesting too deep"));
	free(s);

	/* objects count too: depth 3 */
	{
		const char *o = "{\"a\":{\"b\":[1]}}";

		ck_assert(parse_n(o, strlen(o), 3, &v, &e));
		ck_assert(!parse_n(o, strlen(o), 2, &v, &e));
		ck_assert_uint_eq(e.offset, 10);
	}
	/* scalars have depth 0 */
	ck_assert(parse_n("1", 1, 0, &v, &e));
	ck_assert(parse_n("\"a\"", 3, 0, &v, &e));
	ck_assert(!parse_n("[]", 2, 0, &v, &e));
	ck_assert(parse_n("[]", 2, 1, &v, &e));
	ck_assert(!parse_n("[[]]", 4, 1, &v, &e));

	/* the default limit: exactly 64 passes, 65 fails */
	s = nested(JSON_DEFAULT_MAX_DEPTH, '[', ']', &len);
	ck_assert(parse_n(s, len, JSON_DEFAULT_MAX_DEPTH, &v, &e));
	free(s);
	s = nested(JSON_DEFAULT_MAX_DEPTH + 1, '[', ']', &len);
	ck_assert(!parse_n(s, len, JSON_DEFAULT_MAX_DEPTH, &v, &e));
	ck_assert_uint_eq(e.offset, JSON_DEFAULT_MAX_DEPTH);
	free(s);

	/* max_depth is capped at 1024 */
	s = nested(1024, '[', ']', &len);
	ck_assert(parse_n(s, len, 1024, &v, &e));
	ck_assert(parse_n(s, len, 100000, &v, &e));
	free(s);
	s = nested(1025, '[', ']', &len);
	ck_assert(!parse_n(s, len, 100000, &v, &e));
	ck_assert_uint_eq(e.offset, 1024);
	free(s);
	/* very deep input does not crash and is rejected */
	s = nested(200000, '[', ']', &len);
	ck_assert(!parse_n(s, len, 1024, &v, &e));
	free(s);
}
END_TEST

START_TEST(iterate_object)
{
	static const char text[] =
		"{ \"a\" : \"x]}\\\"\\\\\" , \"b\":[1,{\"c\":\"]\"},\"[\"],"
		"\"c\\\"d\":{\"e\":[]},\"n\":-1.5e3,\"t\":true,\"f\":false,"
		"\"z\":null,\"s\":\"\\\\\",\"{\":{}, \"e\":\"a,b:c\" }";
	static const struct { const char *k; const char *v; json_type t; } want[] = {
		{ "\"a\"", "\"x]}\\\"\\\\\"", JSON_STRING },
		{ "\"b\"", "[1,{\"c\":\"]\"},\"[\"]", JSON_ARRAY },
		{ "\"c\\\"d\"", "{\"e\":[]}", JSON_OBJECT },
		{ "\"n\"", "-1.5e3", JSON_NUMBER },
		{ "\"t\"", "true", JSON_TRUE },
		{ "\"f\"", "false", JSON_FALSE },
		{ "\"z\"", "null", JSON_NULL },
		{ "\"s\"", "\"\\\\\"", JSON_STRING },
		{ "\"{\"", "{}", JSON_OBJECT },
		{ "\"e\"", "\"a,b:c\"", JSON_STRING },
	};
	doc d = KEEP(text);
	json_iter it;
	json_value k, v;
	size_t i = 0;

	ck_assert_int_eq(d.v.type, JSON_OBJECT);
	json_iter_init(&it, d.v);
	while (json_iter_member(&it, &k, &v)) {
		ck_assert_uint_lt(i, sizeof(want) / sizeof(want[0]));
		ck_assert_int_eq(k.type, JSON_STRING);
		assert_text(k, want[i].k);
		assert_text(v, want[i].v);
		ck_assert_int_eq(v.type, want[i].t);
		i++;
	}
	ck_assert_uint_eq(i, sizeof(want) / sizeof(want[0]));
	/* the iterator stays exhausted */
	ck_assert(!json_iter_member(&it, &k, &v));

	/* nested iteration on the array member "b" */
	ck_assert(json_object_get(d.v, "b", 1, &v));
	{
		static const char *elems[] = { "1", "{\"c\":\"]\"}", "\"[\"" };
		json_value el;
		size_t j = 0;

		json_iter_init(&it, v);
		while (json_iter_element(&it, &el)) {
			ck_assert_uint_lt(j, 3);
			assert_text(el, elems[j]);
			j++;
		}
		ck_assert_uint_eq(j, 3);
	}
	doc_free(&d);
}
END_TEST

START_TEST(iterate_array)
{
	static const char text[] =
		"[ \"\\\\\" , \"\\\"\",[],{},0,\"a,b\",[[\"]]\"]],{\"k\":[\"}\"]} ,-0.0e-0,"
		"\"\\\\\\\"\" ]";
	static const struct { const char *v; json_type t; } want[] = {
		{ "\"\\\\\"", JSON_STRING },
		{ "\"\\\"\"", JSON_STRING },
		{ "[]", JSON_ARRAY },
		{ "{}", JSON_OBJECT },
		{ "0", JSON_NUMBER },
		{ "\"a,b\"", JSON_STRING },
		{ "[[\"]]\"]]", JSON_ARRAY },
		{ "{\"k\":[\"}\"]}", JSON_OBJECT },
		{ "-0.0e-0", JSON_NUMBER },
		{ "\"\\\\\\\"\"", JSON_STRING },
	};
	doc d = KEEP(text);
	json_iter it;
	json_value v;
	size_t i = 0;

	json_iter_init(&it, d.v);
	while (json_iter_element(&it, &v)) {
		ck_assert_uint_lt(i, sizeof(want) / sizeof(want[0]));
		assert_text(v, want[i].v);
		ck_assert_int_eq(v.type, want[i].t);
		i++;
	}
	ck_assert_uint_eq(i, sizeof(want) / sizeof(want[0]));
	doc_free(&d);
}
END_TEST

START_TEST(iterate_empty_containers)
{
	doc d;
	json_iter it;
	json_value k, v;

	d = KEEP("{}");
	json_iter_init(&it, d.v);
	ck_assert(!json_iter_member(&it, &k, &v));
	doc_free(&d);

	d = KEEP("{ \n }");
	json_iter_init(&it, d.v);
	ck_assert(!json_iter_member(&it, &k, &v));
	doc_free(&d);

	d = KEEP("[ \t ]");
	json_iter_init(&it, d.v);
	ck_assert(!json_iter_element(&it, &v));
	doc_free(&d);

	d = KEEP("[[]]");
	json_iter_init(&it, d.v);
	ck_assert(json_iter_element(&it, &v));
	assert_text(v, "[]");
	ck_assert(!json_iter_element(&it, &v));
	doc_free(&d);
}
END_TEST

START_TEST(object_get)
{
	doc d = KEEP("{\"a\":1,\"ab\":2,\"a\":3,\"\\u0063d\":4,\"e\\\"f\":5,"
		     "\"g\\u0000h\":6,\"\":7,\"\xc3\xa9\":8,\"\\u00e8\":9,"
		     "\"nested\":{\"x\":10},\"x\":11}");
	json_value v;

	/* first occurrence wins */
	ck_assert(json_object_get(d.v, "a", 1, &v));
	assert_text(v, "1");
	ck_assert(json_object_get(d.v, "ab", 2, &v));
	assert_text(v, "2");
	/* escaped keys compare by value */
	ck_assert(json_object_get(d.v, "cd", 2, &v));
	assert_text(v, "4");
	ck_assert(json_object_get(d.v, "e\"f", 3, &v));
	assert_text(v, "5");
	ck_assert(json_object_get(d.v, "g\0h", 3, &v));
	assert_text(v, "6");
	ck_assert(!json_object_get(d.v, "g", 1, &v));
	ck_assert(json_object_get(d.v, "", 0, &v));
	assert_text(v, "7");
	ck_assert(json_object_get(d.v, "\xc3\xa9", 2, &v));
	assert_text(v, "8");
	ck_assert(json_object_get(d.v, "\xc3\xa8", 2, &v));
	assert_text(v, "9");
	/* the top level only: "x" of the nested object is not seen first */
	ck_assert(json_object_get(d.v, "x", 1, &v));
	assert_text(v, "11");
	ck_assert(json_object_get(d.v, "nested", 6, &v));
	ck_assert(json_object_get(v, "x", 1, &v));
	assert_text(v, "10");
	/* absent keys and prefixes */
	ck_assert(!json_object_get(d.v, "abc", 3, &v));
	ck_assert(!json_object_get(d.v, "c", 1, &v));
	ck_assert(!json_object_get(d.v, "A", 1, &v));
	doc_free(&d);

	/* not an object */
	d = KEEP("[\"a\",1]");
	ck_assert(!json_object_get(d.v, "a", 1, &v));
	doc_free(&d);
	d = KEEP("\"a\"");
	ck_assert(!json_object_get(d.v, "a", 1, &v));
	doc_free(&d);
}
END_TEST

START_TEST(string_decode_escapes)
{
	static const struct { const char *text; const char *want; size_t n; } cases[] = {
		{ "\"\"", "", 0 },
		{ "\"plain\"", "plain", 5 },
		{ "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8 },
		{ "\"a\\u0000b\"", "a\0b", 3 },
		{ "\"\\u0000\"", "\0", 1 },
		{ "\"\\u0041\\u007f\"", "A\x7f", 2 },
		{ "\"\\u0080\"", "\xc2\x80", 2 },
		{ "\"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9", 4 },
		{ "\"\\u07ff\"", "\xdf\xbf", 2 },
		{ "\"\\u0800\"", "\xe0\xa0\x80", 3 },
		{ "\"\\u20AC\"", "\xe2\x82\xac", 3 },
		{ "\"\\uffff\"", "\xef\xbf\xbf", 3 },
		{ "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4 },
		{ "\"\\uD800\\uDC00\"", "\xf0\x90\x80\x80", 4 },
		{ "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4 },
		{ "\"x\xc3\xa9\\n\xe2\x82\xacy\"", "x\xc3\xa9\n\xe2\x82\xacy", 8 },
		{ "\"\\\\u0041\"", "\\u0041", 6 },
		{ "\"\\\\\\\\\"", "\\\\", 2 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		doc d = parse_keep_n(cases[i].text, strlen(cases[i].text));
		char *out = xmalloc(d.v.n);
		size_t n;

		ck_assert_int_eq(d.v.type, JSON_STRING);
		n = json_string_decode(d.v, out);
		ck_assert_msg(n == cases[i].n && memcmp(out, cases[i].want, n) == 0,
			      "decode %s: got %zu bytes", cases[i].text, n);
		ck_assert(json_string_equals(d.v, cases[i].want, cases[i].n));
		ck_assert_int_eq(json_string_has_escape(d.v),
				 strchr(cases[i].text, '\\') != NULL);
		free(out);
		doc_free(&d);
	}
}
END_TEST

START_TEST(string_equals)
{
	doc d = KEEP("[\"abc\",\"a\\u0062c\",\"a\\u0000\",\"\",\"\\u00e9\"]");
	json_iter it;
	json_value s[5];

	json_iter_init(&it, d.v);
	for (int i = 0; i < 5; i++)
		ck_assert(json_iter_element(&it, &s[i]));

	ck_assert(json_string_equals(s[0], "abc", 3));
	ck_assert(!json_string_equals(s[0], "ab", 2));
	ck_assert(!json_string_equals(s[0], "abcd", 4));
	ck_assert(!json_string_equals(s[0], "abd", 3));
	ck_assert(json_string_equals(s[1], "abc", 3));
	ck_assert(!json_string_equals(s[1], "a\\u0062c", 8));
	ck_assert(!json_string_equals(s[1], "abcc", 4));
	ck_assert(json_string_equals(s[2], "a\0", 2));
	ck_assert(!json_string_equals(s[2], "a", 1));
	ck_assert(json_string_equals(s[3], "", 0));
	ck_assert(!json_string_equals(s[3], "a", 1));
	ck_assert(json_string_equals(s[4], "\xc3\xa9", 2));
	ck_assert(!json_string_equals(s[4], "\xc3", 1));
	doc_free(&d);
}
END_TEST

START_TEST(string_equals_long)
{
	/* escaped strings longer than any small stack buffer */
	buf t = BUF_INIT, want = BUF_INIT;
	doc d;

	buf_addch(&t, '"');
	for (int i = 0; i < 1000; i++) {
		buf_addstr(&t, "\\u0041b\\n");
		buf_addstr(&want, "Ab\n");
	}
	buf_addch(&t, '"');
	d = parse_keep_n(t.data, t.len);
	ck_assert(json_string_equals(d.v, want.data, want.len));
	want.data[want.len - 1] = 'x';
	ck_assert(!json_string_equals(d.v, want.data, want.len));
	ck_assert(!json_string_equals(d.v, want.data, want.len - 1));
	doc_free(&d);
	buf_release(&t);
	buf_release(&want);
}
END_TEST

static json_value number_of(doc *d, const char *text)
{
	*d = parse_keep_n(text, strlen(text));
	ck_assert_int_eq(d->v.type, JSON_NUMBER);
	return d->v;
}

START_TEST(number_integer_literal)
{
	static const struct { const char *t; bool is_int; } cases[] = {
		{ "0", true }, { "-0", true }, { "123", true },
		{ "-9223372036854775809", true }, { "1.0", false },
		{ "1e2", false }, { "1E2", false }, { "-0.0", false },
		{ "1e-0", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		doc d;
		json_value v = number_of(&d, cases[i].t);

		ck_assert_msg(json_number_is_integer_literal(v) == cases[i].is_int,
			      "%s", cases[i].t);
		doc_free(&d);
	}
}
END_TEST

START_TEST(number_int64)
{
	static const struct { const char *t; bool ok; int64_t v; } cases[] = {
		{ "0", true, 0 },
		{ "-0", true, 0 },
		{ "7", true, 7 },
		{ "-42", true, -42 },
		{ "9223372036854775807", true, INT64_MAX },
		{ "-9223372036854775807", true, -INT64_MAX },
		{ "-9223372036854775808", true, INT64_MIN },
		{ "9223372036854775806", true, INT64_MAX - 1 },
		{ "922337203685477580", true, 922337203685477580LL },
		{ "9223372036854775808", false, 0 },
		{ "9223372036854775810", false, 0 },
		{ "-9223372036854775809", false, 0 },
		{ "9999999999999999999", false, 0 },
		{ "10000000000000000000", false, 0 },
		{ "18446744073709551615", false, 0 },
		{ "18446744073709551616", false, 0 },
		{ "-18446744073709551616", false, 0 },
		{ "123456789012345678901234567890", false, 0 },
		{ "1.0", false, 0 },
		{ "1e2", false, 0 },
		{ "-5E0", false, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		doc d;
		json_value v = number_of(&d, cases[i].t);
		int64_t got = 12345;
		bool ok = json_number_to_int64(v, &got);

		ck_assert_msg(ok == cases[i].ok, "%s: ok=%d", cases[i].t, ok);
		if (ok)
			ck_assert_msg(got == cases[i].v, "%s: got %lld", cases[i].t,
				      (long long)got);
		doc_free(&d);
	}
}
END_TEST

START_TEST(number_double_and_compare)
{
	doc d1, d2;
	json_value a, b;

	a = number_of(&d1, "1e5");
	ck_assert(json_number_to_double(a) == 100000.0);
	doc_free(&d1);
	a = number_of(&d1, "-0");
	ck_assert(json_number_to_double(a) == 0.0 && signbit(json_number_to_double(a)));
	doc_free(&d1);
	a = number_of(&d1, "0.1");
	ck_assert(json_number_to_double(a) == 0.1);
	doc_free(&d1);
	/* longer than any small buffer */
	a = number_of(&d1, "1.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001e2");
	ck_assert(json_number_to_double(a) == 100.0);
	doc_free(&d1);

	static const struct { const char *a, *b; int sign; } cmp[] = {
		{ "300", "3e2", 0 }, { "300", "300.0", 0 }, { "3.0e2", "3e+2", 0 },
		{ "-0", "0", 0 }, { "0.0", "-0e5", 0 }, { "1", "2", -1 },
		{ "-1", "-2", 1 }, { "0.1", "0.10000000000000000001", -1 },
		{ "1e400", "1e399", 1 }, { "-5", "0", -1 }, { "0", "-5", 1 },
		{ "12.5", "1.25e1", 0 }, { "0.001", "1e-3", 0 }, { "10", "9.99", 1 },
	};
	for (size_t i = 0; i < sizeof(cmp) / sizeof(cmp[0]); i++) {
		int r;

		a = number_of(&d1, cmp[i].a);
		b = number_of(&d2, cmp[i].b);
		r = json_number_compare(a, b);
		ck_assert_msg((r > 0) - (r < 0) == cmp[i].sign, "%s vs %s: %d",
			      cmp[i].a, cmp[i].b, r);
		r = json_number_compare(b, a);
		ck_assert_msg((r > 0) - (r < 0) == -cmp[i].sign, "%s vs %s: %d",
			      cmp[i].b, cmp[i].a, r);
		doc_free(&d1);
		doc_free(&d2);
	}
}
END_TEST

START_TEST(type_names)
{
	ck_assert_str_eq(json_type_name(JSON_NULL), "null");
	ck_assert_str_eq(json_type_name(JSON_TRUE), "boolean");
	ck_assert_str_eq(json_type_name(JSON_FALSE), "boolean");
	ck_assert_str_eq(json_type_name(JSON_NUMBER), "number");
	ck_assert_str_eq(json_type_name(JSON_STRING), "string");
	ck_assert_str_eq(json_type_name(JSON_ARRAY), "array");
	ck_assert_str_eq(json_type_name(JSON_OBJECT), "object");
}
END_TEST

/* The string scanner skips plain bytes 16 and 8 at a time: a byte that
 * needs attention must be seen at every offset from the opening quote. */
START_TEST(string_specials_at_every_offset)
{
	static const struct {
		const char *tail;   /* what follows the run of plain bytes */
		bool valid;
	} cases[] = {
		{ "\"", true },            /* the end of the string */
		{ "\\n\"", true },        /* an escape */
		{ "\xc3\xa9\"", true },   /* two-byte UTF-8 */
		{ "\x01\"", false },       /* a control character */
		{ "\x1f\"", false },
		{ "\xff\"", false },       /* not UTF-8 */
		{ "\xc3\"", false },       /* a cut UTF-8 sequence */
		{ "\\q\"", false },       /* a bad escape */
	};
	char text[128];

	for (size_t k = 0; k < 48; k++) {
		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			json_value v;
			json_error e;
			size_t n;

			text[0] = '"';
			memset(text + 1, 'a', k);
			n = 1 + k;
			memcpy(text + n, cases[c].tail, strlen(cases[c].tail));
			n += strlen(cases[c].tail);
			ck_assert_msg(json_parse(text, n, 4, &v, &e) == cases[c].valid,
				      "offset %zu, case %zu", k, c);
			if (cases[c].valid)
				ck_assert_uint_eq(v.n, n);
		}
	}
}
END_TEST

/* Top-level members recorded during validation: the same spans as the
 * iterator gives, whatever the whitespace and nesting. */
START_TEST(parse_members_records_top_level)
{
	static const char *docs[] = {
		"{\"a\":1,\"b\":{\"x\":[1,{\"y\":\"}\"}]},\"c\":\"s\\\"q\",\"d\":[],\"e\":{}}",
		" { \"k\" : true , \"l\" :\tnull , \"m\":\n-1.5e3 } ",
		"{}",
		"{\"only\":{\"deep\":{\"deeper\":[[[]]]}}}",
	};

	for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
		json_member m[8];
		json_value root, k, v;
		json_error e;
		json_iter it;
		size_t n, i = 0;

		ck_assert(json_parse_members(docs[d], strlen(docs[d]), 16, &root, m, 8, &n, &e));
		json_iter_init(&it, root);
		while (json_iter_member(&it, &k, &v)) {
			ck_assert_uint_lt(i, n);
			ck_assert(m[i].key.p == k.p && m[i].key.n == k.n);
			ck_assert_msg(m[i].value.p == v.p && m[i].value.n == v.n,
				      "doc %zu member %zu: '%.*s' vs '%.*s'", d, i,
				      (int)m[i].value.n, m[i].value.p, (int)v.n, v.p);
			ck_assert_int_eq(m[i].value.type, v.type);
			i++;
		}
		ck_assert_uint_eq(i, n);
	}
}
END_TEST

START_TEST(parse_members_counts_beyond_max_and_non_objects)
{
	json_member m[2];
	json_value root;
	json_error e;
	size_t n;

	ck_assert(json_parse_members("{\"a\":1,\"b\":2,\"c\":3}", 19, 8, &root, m, 2, &n, &e));
	ck_assert_uint_eq(n, 3);
	ck_assert(!strncmp(m[1].key.p, "\"b\"", 3));
	ck_assert(json_parse_members("[1,{\"a\":2}]", 11, 8, &root, m, 2, &n, &e));
	ck_assert_uint_eq(n, 0);
	ck_assert(!json_parse_members("{\"a\":1,}", 8, 8, &root, m, 2, &n, &e));
}
END_TEST

/* --- key checks (json_parse_members_checked) ---------------------------- */

START_TEST(keys_control_characters)
{
	/* the tenant attack: a reader of C strings takes "org_id\u0000" for
	 * "org_id" */
	KEY_BAD("{\"org_id\\u0000\":\"TN-b\",\"org_id\":\"TN-a\"}", 8, CTRL,
		"$['org_id\\u0000']");
	KEY_BAD("{\"a\\u001f\":1}", 3, CTRL, "$['a\\u001f']");
	KEY_BAD("{\"a\\u007f\":1}", 3, CTRL, "$['a\\u007f']");
	KEY_BAD("{\"a\\u007F\":1}", 3, CTRL, "$['a\\u007f']");
	KEY_BAD("{\"a\\u0085\":1}", 3, CTRL, "$['a\\u0085']");
	KEY_BAD("{\"a\\u0080\":1}", 3, CTRL, "$['a\\u0080']");
	KEY_BAD("{\"a\\u009F\":1}", 3, CTRL, "$['a\\u009f']");
	/* raw DEL and raw C1 (C2 85): shown escaped, never raw */
	KEY_BAD("{\"a\x7f\":1}", 3, CTRL, "$['a\\u007f']");
	KEY_BAD("{\"a\xc2\x85\":1}", 3, CTRL, "$['a\\u0085']");
	KEY_BAD("{\"\xc2\x80z\":1}", 2, CTRL, "$['\\u0080z']");
	/* the short escapes are control characters too */
	KEY_BAD("{\"a\\nb\":1}", 3, CTRL, "$['a\\nb']");
	KEY_BAD("{\"\\t\":1}", 2, CTRL, "$['\\t']");
	KEY_BAD("{\"\\b\\f\\r\":1}", 2, CTRL, "$['\\b\\f\\r']");
	/* the first one counts; the key is scanned to its end */
	KEY_BAD("{\"ok\":1,\"x\\u0001y\\u0002\":1}", 10, CTRL, "$['x\\u0001y\\u0002']");
	/* in nested objects, at depth 2 and inside arrays; the path leads there */
	KEY_BAD("{\"data\":{\"a\":{\"b\\u0000\":1}}}", 16, CTRL, "$.data.a['b\\u0000']");
	KEY_BAD("{\"data\":{\"items\":[{\"ok\":1},{\"x\\u0085\":2}]}}", 30, CTRL,
		"$.data.items[1]['x\\u0085']");
	KEY_BAD("[1,[\"s\",{\"a\":[]},{\"\\u0000\":0}]]", 19, CTRL, "$[1][2]['\\u0000']");
	/* raw control characters below 0x20 are not JSON at all: no path */
	{
		json_error e = { 0, NULL };

		ck_assert(!checked_n("{\"a\nb\":1}", 9, &e));
		ck_assert_str_eq(e.reason, "control character in string");
		ck_assert_uint_eq(e.offset, 3);
		ck_assert_str_eq(shared_kc.error_path, "");
	}
	/* neighbours that are not control characters */
	KEY_OK("{\"a\\u0020\":1,\"\\u007e\":2,\"\\u00a0\":3,\"\xc2\xa0x\":4,\"\xc3\x85\":5,"
	       "\"\\u0100\":6,\"\\u2028\":7,\"\\ud83d\\ude00\":8,\"\\\"\\\\\\/\":9}");
	/* values are not concerned */
	KEY_OK("{\"a\":\"\\u0000\\u001f\\u007f\\u0085\x7f\xc2\x85\\n\",\"b\":[\"\\u0000\"]}");
}
END_TEST

/* Every code point up to U+00A0, escaped, in a key: refused exactly for
 * C0, DEL and C1; raw, the same for DEL and C1 (raw C0 is not JSON). */
START_TEST(keys_control_code_points)
{
	for (unsigned cp = 0; cp <= 0xa0; cp++) {
		char text[32];
		int n = snprintf(text, sizeof(text), "{\"k\\u%04x\":1}", cp);
		bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
		json_error e = { 0, NULL };

		ck_assert_msg(checked_n(text, (size_t)n, &e) == !control, "U+%04X", cp);
		if (control) {
			ck_assert_str_eq(e.reason, CTRL);
			ck_assert_uint_eq(e.offset, 3);
		}
		if (cp < 0x20)
			continue;
		if (cp < 0x80) {
			text[3] = (char)cp;
			memcpy(text + 4, "\":1}", 4);
			n = 8;
		} else {
			text[3] = (char)(0xc0 | (cp >> 6));
			text[4] = (char)(0x80 | (cp & 0x3f));
			memcpy(text + 5, "\":1}", 4);
			n = 9;
		}
		if (cp == '"' || cp == '\\')
			continue;
		ck_assert_msg(checked_n(text, (size_t)n, &e) == !control, "raw U+%04X", cp);
	}
}
END_TEST

START_TEST(keys_duplicates)
{
	/* at the top level, escaped spellings included */
	KEY_BAD("{\"a\":1,\"a\":2}", 7, DUP, "$.a");
	KEY_BAD("{\"a\":1,\"\\u0061\":2}", 7, DUP, "$.a");
	KEY_BAD("{\"\\u0061\":1,\"a\":2}", 12, DUP, "$.a");
	KEY_BAD("{\"a/b\":1,\"a\\/b\":2}", 9, DUP, "$['a/b']");
	/* the filter attack: a second visibility under data */
	KEY_BAD("{\"data\":{\"visibility\":\"public\",\"visibility\":\"internal-only\"}}",
		31, DUP, "$.data.visibility");
	KEY_BAD("{\"data\":{\"visibility\":\"public\",\"vis\\u0069bility\":\"internal-only\"}}",
		31, DUP, "$.data.visibility");
	/* in objects inside arrays */
	KEY_BAD("{\"data\":{\"items\":[{\"a\":1},{\"b\":1},{\"a\":1,\"a\":2}]}}", 41, DUP,
		"$.data.items[2].a");
	KEY_BAD("[[],{\"x\":[{\"k\":1,\"k\":{}}]}]", 17, DUP, "$[1].x[0].k");
	/* the inner object's repeat is found when it closes, before the outer's */
	KEY_BAD("{\"a\":1,\"b\":{\"c\":1,\"c\":2},\"a\":3}", 18, DUP, "$.b.c");
	/* keys that need brackets in a path */
	KEY_BAD("{\"x-y\":1,\"x-y\":2}", 9, DUP, "$['x-y']");
	KEY_BAD("{\"it's\":1,\"it's\":2}", 10, DUP, "$['it\\'s']");
	KEY_BAD("{\"a\\\\b\":1,\"a\\\\b\":2}", 10, DUP, "$['a\\\\b']");
	KEY_BAD("{\"\":1,\"\":2}", 6, DUP, "$['']");
	KEY_BAD("{\"1a\":1,\"1a\":2}", 8, DUP, "$['1a']");
	KEY_BAD("{\"\xc3\xa9\":1,\"\\u00e9\":2}", 8, DUP, "$['\xc3\xa9']");
	/* the same key in two objects, or at two depths, is fine */
	KEY_OK("{\"a\":{\"x\":1},\"b\":{\"x\":2}}");
	KEY_OK("{\"a\":{\"a\":{\"a\":1}},\"x\":[{\"a\":1},{\"a\":2}],\"y\":{\"a\":[{\"a\":1}]}}");
	KEY_OK("{\"data\":{\"org_id\":\"x\"},\"org_id\":\"y\",\"more\":{\"org_id\":\"z\"}}");
	/* keys that differ only after decoding, or by case, or as prefixes */
	KEY_OK("{\"a\":1,\"A\":2,\"\\u0062\":3,\"ab\":4,\"a\\u0062c\":5,\"\\u00e9\":6,\"\\u00e8\":7}");
	/* the parser is left clean by a rejection: the next document is fine */
	KEY_OK("{\"a\":1}");
}
END_TEST

/* A text that is not JSON gets its JSON error, whatever key errors come
 * before; of two key errors, the first found is told. */
START_TEST(keys_syntax_errors_first)
{
	static const struct { const char *t; size_t off; const char *reason; } cases[] = {
		{ "{\"a\":1,\"a\":2", 12, "unexpected end of input" },
		{ "{\"a\":1,\"a\":2,}", 13, "expected a string key" },
		{ "{\"k\\u0000\":1} x", 14, "unexpected data after the value" },
		{ "{\"d\":{\"v\":1,\"v\":2},\"x\":[1,]}", 26, "expected a value" },
		{ "{\"org_id\":\"a\",\"org_id\":\"b\",\"t\":\"x\":1}", 34, "expected ',' or '}'" },
		{ "{\"a\\u0001\":1,\"b\":\"\xff\"}", 18, "invalid UTF-8" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_error e = { 0, NULL };
		const char *t = cases[i].t;

		ck_assert_msg(!checked_n(t, strlen(t), &e), "%s accepted", t);
		ck_assert_msg(!strcmp(e.reason, cases[i].reason) && e.offset == cases[i].off,
			      "%s: %s at %zu", t, e.reason, e.offset);
		ck_assert_msg(!strcmp(shared_kc.error_path, ""), "%s: path %s", t,
			      shared_kc.error_path);
	}
	KEY_BAD("{\"a\\u0001\":1,\"b\":1,\"b\":2}", 3, CTRL, "$['a\\u0001']");
	KEY_BAD("{\"b\":1,\"b\":2,\"a\\u0001\":1}", 7, DUP, "$.b");
	KEY_BAD("{\"o\":{\"b\":1,\"b\":2},\"a\\u0001\":1}", 12, DUP, "$.o.b");
}
END_TEST

/* A large object (more than 16 keys: decoded and sorted), of n keys k000,
 * k001, ... and then `tail` (a member, or ""), inside `prefix` ... `suffix`. */
static char *large_object(const char *prefix, unsigned n, const char *tail, const char *suffix)
{
	buf b = BUF_INIT;

	buf_addstr(&b, prefix);
	buf_addch(&b, '{');
	for (unsigned i = 0; i < n; i++)
		buf_printf(&b, "%s\"k%03u\":%u", i ? "," : "", i, i);
	buf_addstr(&b, tail);
	buf_addch(&b, '}');
	buf_addstr(&b, suffix);
	return buf_detach(&b, NULL);
}

START_TEST(keys_large_objects)
{
	char *t;
	json_error e;

	/* no repeat: accepted */
	t = large_object("{\"data\":", 40, "", "}");
	key_ok_n(t, strlen(t));
	free(t);
	/* a repeat at the end, plain and escaped */
	t = large_object("{\"data\":", 40, ",\"k039\":0", "}");
	ck_assert(!checked_n(t, strlen(t), &e));
	ck_assert_str_eq(e.reason, DUP);
	ck_assert_str_eq(shared_kc.error_path, "$.data.k039");
	ck_assert_uint_eq(e.offset, strlen(t) - strlen("\"k039\":0}}"));
	free(t);
	t = large_object("[0,", 20, ",\"\\u006b000\":0", "]");
	ck_assert(!checked_n(t, strlen(t), &e));
	ck_assert_str_eq(e.reason, DUP);
	ck_assert_str_eq(shared_kc.error_path, "$[1].k000");
	free(t);
	/* 16 keys (pairwise) and 17 (sorted), a repeat of the first */
	t = large_object("", 15, ",\"k000\":0", "");
	ck_assert(!checked_n(t, strlen(t), &e));
	ck_assert_str_eq(shared_kc.error_path, "$.k000");
	free(t);
	t = large_object("", 16, ",\"k000\":0", "");
	ck_assert(!checked_n(t, strlen(t), &e));
	ck_assert_str_eq(shared_kc.error_path, "$.k000");
	free(t);
	/* keys that are prefixes of one another, and the empty key */
	{
		buf b = BUF_INIT;

		buf_addch(&b, '{');
		for (int i = 1; i <= 30; i++) {
			buf_addch(&b, '"');
			for (int j = 0; j < i; j++)
				buf_addch(&b, 'a');
			buf_addstr(&b, "\":1,");
		}
		buf_addstr(&b, "\"\":1}");
		key_ok_n(b.data, b.len);
		buf_release(&b);
	}
	/* many keys: sorted, not compared pairwise (this would take minutes) */
	{
		buf b = BUF_INIT;

		buf_addch(&b, '{');
		for (unsigned i = 0; i < 100000; i++)
			buf_printf(&b, "%s\"%u\":0", i ? "," : "", i);
		buf_addch(&b, '}');
		key_ok_n(b.data, b.len);
		b.data[b.len - 1] = ',';
		buf_addstr(&b, "\"99999\":1}");
		ck_assert(!checked_n(b.data, b.len, &e));
		ck_assert_str_eq(shared_kc.error_path, "$['99999']");
		buf_release(&b);
	}
	/* a large object between small ones, nested in a large one */
	t = large_object("{\"a\":{\"x\":1},\"b\":", 30, ",\"inner\":{\"x\":1,\"y\":2}",
			 ",\"c\":{\"x\":1}}");
	key_ok_n(t, strlen(t));
	free(t);
}
END_TEST

/* Objects of 2 to 20 keys, each key repeated at each later place, plain
 * or escaped: refused with the later key's offset; without the repeat,
 * accepted (whatever the filter of keys says). */
START_TEST(keys_every_repeat_position)
{
	static const char *names[] = {
		"id", "org_id", "domain", "event_type", "schema_version", "timestamp", "cid",
		"data", "di", "a", "b", "ab", "ba", "aa", "bb", "x1", "x2", "1x", "org", "ido",
	};

	for (size_t n = 2; n <= 20; n++) {
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j <= n; j++)
				for (int esc = 0; esc < 2; esc++) {
					buf b = BUF_INIT;
					size_t at = 0;
					json_error e;
					char want[64];

					buf_addch(&b, '{');
					for (size_t k = 0; k < n; k++) {
						if (k == j) {
							at = b.len;
							/* the repeat, its first letter escaped or not */
							buf_printf(&b, esc ? "\"\\u%04x%s\":0," : "\"%c%s\":0,",
								   names[i][0], names[i] + 1);
						}
						buf_printf(&b, "\"%s\":%zu,", names[k], k);
					}
					if (j == n) {
						at = b.len;
						buf_printf(&b, esc ? "\"\\u%04x%s\":0," : "\"%c%s\":0,",
							   names[i][0], names[i] + 1);
					}
					b.data[b.len - 1] = '}';
					ck_assert_msg(!checked_n(b.data, b.len, &e), "%s", b.data);
					ck_assert_str_eq(e.reason, DUP);
					snprintf(want, sizeof(want), names[i][0] == '1' ? "$['%s']" : "$.%s",
						 names[i]);
					ck_assert_msg(!strcmp(shared_kc.error_path, want), "%s: %s",
						      b.data, shared_kc.error_path);
					ck_assert_msg(e.offset == at, "%s: offset %zu, want %zu",
						      b.data, e.offset, at);
					buf_release(&b);
				}
		{
			buf b = BUF_INIT;

			buf_addch(&b, '{');
			for (size_t k = 0; k < n; k++)
				buf_printf(&b, "%s\"%s\":%zu", k ? "," : "", names[k], k);
			buf_addch(&b, '}');
			key_ok_n(b.data, b.len);
			buf_release(&b);
		}
	}
}
END_TEST

/* Paths are bounded: the first steps, "..", the key; a long key is cut. */
START_TEST(keys_long_paths)
{
	buf b = BUF_INIT;
	json_error e;
	const char *path = shared_kc.error_path;

	/* 40 levels of "level": the first steps that fit, then the key */
	for (int i = 0; i < 40; i++)
		buf_addstr(&b, "{\"level\":");
	buf_addstr(&b, "{\"visibility\":1,\"visibility\":2}");
	for (int i = 0; i < 40; i++)
		buf_addch(&b, '}');
	ck_assert(!checked_n(b.data, b.len, &e));
	ck_assert_str_eq(e.reason, DUP);
	ck_assert_str_eq(path, "$.level.level.level.level.level.level.level.level..visibility");
	/* deep arrays, up to the nesting limit */
	buf_reset(&b);
	for (int i = 0; i < JSON_DEFAULT_MAX_DEPTH - 1; i++)
		buf_addstr(&b, "[0,");
	buf_addstr(&b, "{\"k\\u0000\":1}");
	for (int i = 0; i < JSON_DEFAULT_MAX_DEPTH - 1; i++)
		buf_addch(&b, ']');
	ck_assert(!checked_n(b.data, b.len, &e));
	ck_assert_str_eq(e.reason, CTRL);
	ck_assert_str_eq(path, "$[1][1][1][1][1][1][1][1][1][1][1][1][1][1][1][1]..['k\\u0000']");
	/* a step too long to show at all */
	buf_reset(&b);
	buf_addstr(&b, "{\"");
	for (int i = 0; i < 100; i++)
		buf_addch(&b, 's');
	buf_addstr(&b, "\":{\"a\":1,\"a\":1}}");
	ck_assert(!checked_n(b.data, b.len, &e));
	ck_assert_str_eq(path, "$..a");
	/* a key too long: cut, still a quoted name; a cut character escape or
	 * UTF-8 sequence is left out whole */
	for (int pad = 0; pad < 8; pad++) {
		buf_reset(&b);
		buf_addstr(&b, "{\"x\":{\"");
		for (int i = 0; i < pad; i++)
			buf_addch(&b, 'p');
		for (int i = 0; i < 40; i++)
			buf_addstr(&b, i % 2 ? "\xe2\x82\xac" : "\\u0001");
		buf_addstr(&b, "\":1}}");
		ck_assert(!checked_n(b.data, b.len, &e));
		ck_assert_str_eq(e.reason, CTRL);
		ck_assert_uint_lt(strlen(path), JSON_PATH_MAX);
		ck_assert_msg(!strncmp(path, "$.x['", 5), "pad %d: %s", pad, path);
		ck_assert_msg(strlen(path) >= 8 && !strcmp(path + strlen(path) - 5, "...']"),
			      "pad %d: %s", pad, path);
		/* no raw control character, no cut UTF-8 sequence */
		for (const char *c = path; *c; c++)
			ck_assert((unsigned char)*c >= 0x20 && *c != 0x7f);
		{
			json_value v;
			json_error je;
			buf q = BUF_INIT;

			buf_addch(&q, '"');
			buf_addstr(&q, path);
			buf_addch(&q, '"');
			ck_assert_msg(json_parse(q.data, q.len, 1, &v, &je) ||
				      strcmp(je.reason, "invalid UTF-8"), "pad %d: %s", pad, path);
			buf_release(&q);
		}
	}
	buf_release(&b);
}
END_TEST

/* The checked parser records the same members, and reuses its scratch. */
START_TEST(keys_checked_members_and_reuse)
{
	static const char text[] = "{\"a\":1,\"b\":{\"x\":[1,{\"y\":\"}\"}]},\"c\":\"s\\\"q\"}";
	json_member m[8], m2[8];
	json_value v, v2;
	json_error e;
	size_t n, n2;
	json_keycheck kc;

	json_keycheck_init(&kc);
	ck_assert(json_parse_members(text, sizeof(text) - 1, 16, &v, m, 8, &n, &e));
	for (int round = 0; round < 3; round++) {
		ck_assert(json_parse_members_checked(text, sizeof(text) - 1, 16, &v2, m2, 8, &n2,
						     &kc, &e));
		ck_assert_uint_eq(n, n2);
		ck_assert(v.p == v2.p && v.n == v2.n && v.type == v2.type);
		for (size_t i = 0; i < n; i++) {
			ck_assert(m[i].key.p == m2[i].key.p && m[i].key.n == m2[i].key.n);
			ck_assert(m[i].value.p == m2[i].value.p && m[i].value.n == m2[i].value.n);
		}
		ck_assert_str_eq(kc.error_path, "");
		/* an error in between leaves nothing behind */
		ck_assert(!json_parse_members_checked("{\"q\":{\"r\":1,\"r\":1", 17, 16, &v2, m2, 8,
						      &n2, &kc, &e));
		ck_assert_str_eq(kc.error_path, "");
		ck_assert(!json_parse_members_checked("{\"q\":{\"r\":1,\"r\":1}}", 19, 16, &v2, m2,
						      8, &n2, &kc, &e));
		ck_assert_str_eq(kc.error_path, "$.q.r");
		ck_assert(!json_parse_members_checked("[1,", 3, 16, &v2, m2, 8, &n2, &kc, &e));
		ck_assert_str_eq(kc.error_path, "");
	}
	/* the nesting limit still applies */
	ck_assert(!json_parse_members_checked("{\"a\":{\"b\":[1]}}", 15, 2, &v2, m2, 8, &n2,
					      &kc, &e));
	ck_assert_ptr_nonnull(strstr(e.reason, "nesting too deep"));
	json_keycheck_release(&kc);
	json_keycheck_release(&kc);
	json_keycheck_release(NULL);
}
END_TEST

/* json_parse() and json_parse_bytes() keep accepting such keys (the
 * configuration and the state files are not events). */
START_TEST(keys_unchecked_parsers)
{
	static const char *docs[] = {
		"{\"a\":1,\"a\":2}", "{\"k\\u0000\":1}", "{\"d\":{\"v\":1,\"v\":2}}", "{\"\x7f\":1}",
	};
	json_value v;
	json_error e;

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		ck_assert(json_parse(docs[i], strlen(docs[i]), 8, &v, &e));
		ck_assert(json_parse_bytes(docs[i], strlen(docs[i]), 8, &v, &e));
	}
}
END_TEST

static void keys_teardown(void)
{
	json_keycheck_release(&shared_kc);
}

/* --- reading a file (config, plan, state) ------------------------------ */

START_TEST(number_get_integers_in_any_notation)
{
	static const struct {
		const char *t;
		bool ok64, oku;
		int64_t v;
		uint64_t u;
	} cases[] = {
		{ "0", true, true, 0, 0 },
		{ "-0", true, true, 0, 0 },
		{ "0.0e-7", true, true, 0, 0 },
		{ "300", true, true, 300, 300 },
		{ "3e2", true, true, 300, 300 },
		{ "3E+2", true, true, 300, 300 },
		{ "300.0", true, true, 300, 300 },
		{ "30000e-2", true, true, 300, 300 },
		{ "0.3e3", true, true, 300, 300 },
		{ "1.5e1", true, true, 15, 15 },
		{ "-42", true, false, -42, 0 },
		{ "-4.2e1", true, false, -42, 0 },
		{ "1.5", false, false, 0, 0 },
		{ "0.001e2", false, false, 0, 0 },
		{ "3.0000000000000000000000001", false, false, 0, 0 },
		{ "1e-400", false, false, 0, 0 },
		{ "9007199254740993", true, true, 9007199254740993LL, 9007199254740993ULL },
		{ "9223372036854775807", true, true, INT64_MAX, (uint64_t)INT64_MAX },
		{ "-9223372036854775808", true, false, INT64_MIN, 0 },
		{ "-9.223372036854775808e18", true, false, INT64_MIN, 0 },
		{ "9223372036854775808", false, true, 0, 9223372036854775808ULL },
		{ "18446744073709551615", false, true, 0, UINT64_MAX },
		{ "1.8446744073709551615e19", false, true, 0, UINT64_MAX },
		{ "18446744073709551616", false, false, 0, 0 },
		{ "1e19", false, true, 0, 10000000000000000000ULL },
		{ "1e20", false, false, 0, 0 },
		{ "1e300", false, false, 0, 0 },
		{ "1e999999999999999999999", false, false, 0, 0 },
		{ "-1e300", false, false, 0, 0 },
		{ "123456789012345678901234567890", false, false, 0, 0 },
		{ "100000000000000000000e-3", true, true, 100000000000000000LL,
		  100000000000000000ULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		doc d;
		json_value v = number_of(&d, cases[i].t);
		int64_t got = 12345;
		uint64_t ugot = 12345;
		bool ok = json_number_get_int64(v, &got), uok = json_number_get_uint64(v, &ugot);

		ck_assert_msg(ok == cases[i].ok64, "%s: int64 ok=%d", cases[i].t, ok);
		ck_assert_msg(uok == cases[i].oku, "%s: uint64 ok=%d", cases[i].t, uok);
		if (ok)
			ck_assert_msg(got == cases[i].v, "%s: got %lld", cases[i].t,
				      (long long)got);
		else
			ck_assert_msg(got == 12345, "%s: written on failure", cases[i].t);
		if (uok)
			ck_assert_msg(ugot == cases[i].u, "%s: got %llu", cases[i].t,
				      (unsigned long long)ugot);
		doc_free(&d);
	}
}
END_TEST

START_TEST(string_dup_refuses_nul)
{
	static const struct { const char *t; const char *want; size_t n; } cases[] = {
		{ "\"\"", "", 0 },
		{ "\"abc\"", "abc", 3 },
		{ "\"a\\nb\\u00e9\"", "a\nb\xc3\xa9", 5 },
		{ "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4 },
		{ "\"a\\u0000b\"", NULL, 0 },
		{ "\"\\u0000\"", NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		doc d = parse_keep_n(cases[i].t, strlen(cases[i].t));
		size_t n = 999;
		char *s = json_string_dup(d.v, &n);

		if (!cases[i].want) {
			ck_assert_msg(s == NULL, "%s: accepted", cases[i].t);
			ck_assert_uint_eq(n, 999);
		} else {
			ck_assert_msg(s != NULL, "%s: refused", cases[i].t);
			ck_assert_uint_eq(n, cases[i].n);
			ck_assert(!memcmp(s, cases[i].want, n + 1));
		}
		free(s);
		doc_free(&d);
	}
	/* bytes that are not UTF-8 (json_parse_bytes: a state file's key) */
	{
		static const char t[] = "\"caf\xe9\"";
		char *c = dup_exact(t, sizeof(t) - 1);
		json_value v;
		json_error e;
		char *s;

		ck_assert(json_parse_bytes(c, sizeof(t) - 1, 4, &v, &e));
		s = json_string_dup(v, NULL);
		ck_assert_str_eq(s, "caf\xe9");
		free(s);
		free(c);
	}
}
END_TEST

START_TEST(object_pick_first_of_each_name)
{
	static const char *const names[] = { "key", "size", "done", "absent", "a\"b" };
	static const char t[] =
		"{\"size\":1,\"k\\u0065y\":\"K\",\"x\":{\"key\":2},\"size\":3,"
		"\"done\":[],\"a\\\"b\":null,\"key\":\"second\"}";
	doc d = parse_keep_n(t, sizeof(t) - 1);
	json_value v[5];

	json_object_pick(d.v, names, 5, v);
	ck_assert_int_eq(v[0].type, JSON_STRING);
	ck_assert(json_string_equals(v[0], "K", 1));      /* escaped key, first one */
	ck_assert_int_eq(v[1].type, JSON_NUMBER);
	ck_assert_int_eq(v[1].p[0], '1');                  /* the first "size" */
	ck_assert_int_eq(v[2].type, JSON_ARRAY);
	ck_assert_int_eq(v[3].type, 0);
	ck_assert_ptr_null(v[3].p);
	ck_assert_int_eq(v[4].type, JSON_NULL);
	doc_free(&d);
	/* not an object: nothing */
	d = parse_keep_n("[1,2]", 5);
	json_object_pick(d.v, names, 2, v);
	ck_assert_int_eq(v[0].type, 0);
	ck_assert_int_eq(v[1].type, 0);
	doc_free(&d);
}
END_TEST

START_TEST(count_elements_and_members)
{
	static const struct { const char *t; size_t n; } cases[] = {
		{ "[]", 0 }, { "[1]", 1 }, { "[1,[2,3],{\"a\":[4]},\"]\"]", 4 },
		{ "{}", 0 }, { "{\"a\":1,\"b\":{\"c\":2}}", 2 }, { "\"ab\"", 0 },
		{ "7", 0 }, { "null", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		doc d = parse_keep_n(cases[i].t, strlen(cases[i].t));

		ck_assert_msg(json_count(d.v) == cases[i].n, "%s", cases[i].t);
		doc_free(&d);
	}
}
END_TEST

Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *members = tcase_create("members");

	tcase_add_test(members, parse_members_records_top_level);
	tcase_add_test(members, string_specials_at_every_offset);
	tcase_add_test(members, parse_members_counts_beyond_max_and_non_objects);
	suite_add_tcase(s, members);
	TCase *keys = tcase_create("keys");

	tcase_add_checked_fixture(keys, NULL, keys_teardown);
	tcase_add_test(keys, keys_control_characters);
	tcase_add_test(keys, keys_control_code_points);
	tcase_add_test(keys, keys_duplicates);
	tcase_add_test(keys, keys_syntax_errors_first);
	tcase_add_test(keys, keys_large_objects);
	tcase_add_test(keys, keys_every_repeat_position);
	tcase_add_test(keys, keys_long_paths);
	tcase_add_test(keys, keys_checked_members_and_reuse);
	tcase_add_test(keys, keys_unchecked_parsers);
	suite_add_tcase(s, keys);
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, scalars_valid);
	tcase_add_test(tc, parse_result_value);
	tcase_add_test(tc, numbers_invalid);
	tcase_add_test(tc, literals_and_structure_invalid);
	tcase_add_test(tc, empty_and_whitespace_input);
	tcase_add_test(tc, trailing_garbage);
	tcase_add_test(tc, string_escapes_valid);
	tcase_add_test(tc, string_escapes_invalid);
	tcase_add_test(tc, raw_control_characters);
	tcase_add_test(tc, utf8_valid_sequences);
	tcase_add_test(tc, utf8_invalid_sequences);
	tcase_add_test(tc, parse_bytes_in_strings);
	tcase_add_test(tc, depth_limit);
	tcase_add_test(tc, iterate_object);
	tcase_add_test(tc, iterate_array);
	tcase_add_test(tc, iterate_empty_containers);
	tcase_add_test(tc, object_get);
	tcase_add_test(tc, string_decode_escapes);
	tcase_add_test(tc, string_equals);
	tcase_add_test(tc, string_equals_long);
	tcase_add_test(tc, number_integer_literal);
	tcase_add_test(tc, number_int64);
	tcase_add_test(tc, number_double_and_compare);
	tcase_add_test(tc, type_names);
	tcase_add_test(tc, number_get_integers_in_any_notation);
	tcase_add_test(tc, string_dup_refuses_nul);
	tcase_add_test(tc, object_pick_first_of_each_name);
	tcase_add_test(tc, count_elements_and_members);
	suite_add_tcase(s, tc);
	return s;
}
