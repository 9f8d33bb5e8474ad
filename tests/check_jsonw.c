/*
 * check_jsonw.c - the JSON writer: commas and colons, nesting, texts one
 * after the other, string escaping (JSONW_TEXT as buf_add_json_string,
 * JSONW_BYTES keeping bytes that are not UTF-8), exact integers and
 * fixed-point numbers, strings in pieces; what it writes reads back with
 * json.c; a call out of turn dies.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsonw.h"
#include "util.h"

START_TEST(structure_and_separators)
{
	buf b = BUF_INIT;
	jsonw w;

	jsonw_init(&w, &b, JSONW_TEXT);
	jsonw_object_begin(&w);
	jsonw_int_field(&w, "version", 1);
	jsonw_name(&w, "empty");
	jsonw_object_begin(&w);
	jsonw_object_end(&w);
	jsonw_name(&w, "list");
	jsonw_array_begin(&w);
	jsonw_string(&w, "a");
	jsonw_array_begin(&w);
	jsonw_array_end(&w);
	jsonw_object_begin(&w);
	jsonw_bool_field(&w, "t", true);
	jsonw_bool_field(&w, "f", false);
	jsonw_null_field(&w, "n");
	jsonw_object_end(&w);
	jsonw_null(&w);
	jsonw_string(&w, NULL);
	jsonw_raw(&w, "[1,2]", 5);
	jsonw_array_end(&w);
	jsonw_string_field(&w, "last", "z");
	jsonw_object_end(&w);
	ck_assert_str_eq(b.data, "{\"version\":1,\"empty\":{},\"list\":[\"a\",[],"
			 "{\"t\":true,\"f\":false,\"n\":null},null,null,[1,2]],\"last\":\"z\"}");
	/* another text on the same writer: no comma between texts (NDJSON) */
	buf_addch(&b, '\n');
	jsonw_object_begin(&w);
	jsonw_uint_field(&w, "n", 2);
	jsonw_object_end(&w);
	jsonw_int(&w, -3);
	ck_assert_str_eq(strchr(b.data, '\n'), "\n{\"n\":2}-3");
	buf_release(&b);
}
END_TEST

START_TEST(appends_to_what_the_buf_holds)
{
	buf b = BUF_INIT;
	jsonw w;

	buf_addstr(&b, "\r\033[K");
	jsonw_init(&w, &b, JSONW_TEXT);
	jsonw_object_begin(&w);
	jsonw_string_field(&w, "msg", "hi");
	jsonw_object_end(&w);
	ck_assert_str_eq(b.data, "\r\033[K{\"msg\":\"hi\"}");
	buf_release(&b);
}
END_TEST

/* JSONW_TEXT escapes as buf_add_json_string does, byte for byte. */
START_TEST(strings_text_as_buf_add_json_string)
{
	static const char *const cases[] = {
		"", "plain", "a\"b\\c/d", "\n\r\t\b\f\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"\xff", "caf\xe9", "\xc3", "\xc3\x28", "\xe0\x80\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xc0\xaf", "ok\xc2\x80\xc2\x9f", "\xf0\x9f\x98",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf want = BUF_INIT, got = BUF_INIT;
		jsonw w;

		buf_add_json_string(&want, cases[i], strlen(cases[i]));
		jsonw_init(&w, &got, JSONW_TEXT);
		jsonw_string(&w, cases[i]);
		ck_assert_msg(got.len == want.len && !memcmp(got.data, want.data, got.len),
			      "case %zu: '%s', want '%s'", i, got.data, want.data);
		buf_release(&want);
		buf_release(&got);
	}
}
END_TEST

START_TEST(strings_embedded_nul_and_names)
{
	buf b = BUF_INIT;
	jsonw w;

	jsonw_init(&w, &b, JSONW_TEXT);
	jsonw_object_begin(&w);
	jsonw_name(&w, "a\"b\n");
	jsonw_string_n(&w, "x\0y", 3);
	jsonw_object_end(&w);
	ck_assert_str_eq(b.data, "{\"a\\\"b\\n\":\"x\\u0000y\"}");
	buf_release(&b);
}
END_TEST

/* JSONW_BYTES keeps a byte that is not UTF-8 as it is, so that a file
 * name comes back the same through json_parse_bytes; everything else is
 * as JSONW_TEXT. */
START_TEST(strings_bytes_round_trip)
{
	static const char name[] = "2026/11/26/caf\xe9\xff\xc3\xa9\x01\x7f\"\\.gz";
	buf b = BUF_INIT;
	jsonw w;
	json_value v, k, val;
	json_error e;
	json_iter it;
	char *back;
	size_t n;

	jsonw_init(&w, &b, JSONW_BYTES);
	jsonw_object_begin(&w);
	jsonw_name(&w, name);
	jsonw_string(&w, name);
	jsonw_object_end(&w);
	ck_assert_str_eq(b.data, "{\"2026/11/26/caf\xe9\xff\xc3\xa9\\u0001\\u007f\\\"\\\\.gz\":"
			 "\"2026/11/26/caf\xe9\xff\xc3\xa9\\u0001\\u007f\\\"\\\\.gz\"}");
	ck_assert(!json_parse(b.data, b.len, 4, &v, &e));
	ck_assert(json_parse_bytes(b.data, b.len, 4, &v, &e));
	json_iter_init(&it, v);
	ck_assert(json_iter_member(&it, &k, &val));
	back = json_string_dup(k, &n);
	ck_assert_str_eq(back, name);
	free(back);
	back = json_string_dup(val, &n);
	ck_assert_str_eq(back, name);
	free(back);
	buf_release(&b);
}
END_TEST

START_TEST(integers_exact)
{
	buf b = BUF_INIT;
	jsonw w;

	jsonw_init(&w, &b, JSONW_TEXT);
	jsonw_array_begin(&w);
	jsonw_int(&w, INT64_MIN);
	jsonw_int(&w, INT64_MAX);
	jsonw_int(&w, 0);
	jsonw_int(&w, -9007199254740993LL);
	jsonw_uint(&w, UINT64_MAX);
	jsonw_uint(&w, 1000000000000000ULL);   /* not 1e+15 */
	jsonw_array_end(&w);
	ck_assert_str_eq(b.data, "[-9223372036854775808,9223372036854775807,0,"
			 "-9007199254740993,18446744073709551615,1000000000000000]");
	buf_release(&b);
}
END_TEST

START_TEST(fixed_point)
{
	static const struct { int64_t units; unsigned dec; const char *want; } cases[] = {
		{ 0, 3, "0" }, { 1500, 3, "1.5" }, { 2000, 3, "2" }, { 1, 3, "0.001" },
		{ -1, 3, "-0.001" }, { 1005, 3, "1.005" }, { 123456, 3, "123.456" },
		{ -2000, 3, "-2" }, { 120, 3, "0.12" }, { 7, 0, "7" },
		{ INT64_MIN, 3, "-9223372036854775.808" },
		{ INT64_MAX, 18, "9.223372036854775807" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf b = BUF_INIT;
		jsonw w;

		jsonw_init(&w, &b, JSONW_TEXT);
		jsonw_fixed(&w, cases[i].units, cases[i].dec);
		ck_assert_msg(!strcmp(b.data, cases[i].want), "(%lld, %u): '%s', want '%s'",
			      (long long)cases[i].units, cases[i].dec, b.data, cases[i].want);
		buf_release(&b);
	}
}
END_TEST

START_TEST(string_in_pieces)
{
	buf b = BUF_INIT;
	jsonw w;

	jsonw_init(&w, &b, JSONW_TEXT);
	jsonw_object_begin(&w);
	jsonw_string_field(&w, "a", "1");
	jsonw_name(&w, "base64");
	jsonw_string_begin(&w);
	buf_add_base64(&b, "abc", 3);
	jsonw_string_piece(&w, "\"\n", 2);
	jsonw_string_end(&w);
	jsonw_uint_field(&w, "bytes", 3);
	jsonw_object_end(&w);
	ck_assert_str_eq(b.data, "{\"a\":\"1\",\"base64\":\"YWJj\\\"\\n\",\"bytes\":3}");
	buf_release(&b);
}
END_TEST

/* Calls out of turn are bugs: die() exits 70. */
START_TEST(value_without_a_name_dies)
{
	buf b = BUF_INIT;
	jsonw w;

	jsonw_init(&w, &b, JSONW_TEXT);
	jsonw_object_begin(&w);
	jsonw_int(&w, 1);
}
END_TEST

START_TEST(wrong_end_dies)
{
	buf b = BUF_INIT;
	jsonw w;

	jsonw_init(&w, &b, JSONW_TEXT);
	jsonw_array_begin(&w);
	jsonw_object_end(&w);
}
END_TEST

START_TEST(name_in_an_array_dies)
{
	buf b = BUF_INIT;
	jsonw w;

	jsonw_init(&w, &b, JSONW_TEXT);
	jsonw_array_begin(&w);
	jsonw_name(&w, "k");
}
END_TEST

START_TEST(too_deep_dies)
{
	buf b = BUF_INIT;
	jsonw w;

	jsonw_init(&w, &b, JSONW_TEXT);
	for (int i = 0; i <= JSONW_MAX_DEPTH; i++)
		jsonw_array_begin(&w);
}
END_TEST

Suite *jsonw_suite(void)
{
	Suite *s = suite_create("jsonw");
	TCase *tc = tcase_create("jsonw");

	tcase_add_test(tc, structure_and_separators);
	tcase_add_test(tc, appends_to_what_the_buf_holds);
	tcase_add_test(tc, strings_text_as_buf_add_json_string);
	tcase_add_test(tc, strings_embedded_nul_and_names);
	tcase_add_test(tc, strings_bytes_round_trip);
	tcase_add_test(tc, integers_exact);
	tcase_add_test(tc, fixed_point);
	tcase_add_test(tc, string_in_pieces);
	tcase_add_exit_test(tc, value_without_a_name_dies, 70);
	tcase_add_exit_test(tc, wrong_end_dies, 70);
	tcase_add_exit_test(tc, name_in_an_array_dies, 70);
	tcase_add_exit_test(tc, too_deep_dies, 70);
	suite_add_tcase(s, tc);
	return s;
}
