/* check_util.c - buffers, UTF-8, time parsing and formatting. */
#include <check.h>
#include <string.h>

#include "util.h"

START_TEST(buf_cap_is_enforced)
{
	buf b;

	buf_init(&b, 5);
	ck_assert(buf_add(&b, "abc", 3));
	ck_assert(!buf_add(&b, "def", 3));
	ck_assert_uint_eq(b.len, 3);
	ck_assert(buf_add(&b, "de", 2));
	ck_assert_str_eq(b.data, "abcde");
	buf_release(&b);
}
END_TEST

START_TEST(json_string_escapes)
{
	buf b = BUF_INIT;

	buf_add_json_string(&b, "a\"b\\c\n\x01\xff\xc3\xa9", 10);
	ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\\u00ff\xc3\xa9\"");
	buf_release(&b);
}
END_TEST

START_TEST(base64_matches_rfc4648)
{
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
				     "Zm9vYmE=", "Zm9vYmFy" };

	for (int i = 0; i < 7; i++) {
		buf b = BUF_INIT;

		buf_add_base64(&b, in[i], strlen(in[i]));
		ck_assert_str_eq(b.data ? b.data : "", out[i]);
		buf_release(&b);
	}
}
END_TEST

START_TEST(utf8_validation)
{
	ck_assert(utf8_valid("plain", 5));
	ck_assert(utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	ck_assert(!utf8_valid("\xc0\xaf", 2));          /* overlong */
	ck_assert(!utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
	ck_assert(!utf8_valid("\xe2\x82", 2));          /* truncated */
	ck_assert(!utf8_valid("\xff", 1));
}
END_TEST

START_TEST(time_round_trip)
{
	int64_t t;
	char s[32], c[20];

	ck_assert(time_parse_rfc3339("2026-11-27T00:46:12Z", &t));
	ck_assert_int_eq(t, 1795740372000LL);
	time_format_rfc3339(t, s);
	ck_assert_str_eq(s, "2026-11-27T00:46:12.000Z");
	time_format_compact(t, c);
	ck_assert_str_eq(c, "20261127T004612Z");
	ck_assert(time_parse_rfc3339("2026-11-27T02:46:12.5+02:00", &t));
	ck_assert_int_eq(t, 1795740372500LL);
	ck_assert(time_parse_rfc3339("2026-11-27", &t));
	ck_assert_int_eq(t, 1795737600000LL);
	ck_assert(!time_parse_rfc3339("2026-11-27T00:46", &t));
	ck_assert(!time_parse_rfc3339("2026-13-01", &t));
	ck_assert(!time_parse_rfc3339("2026-11-27T00:46:12", &t));
}
END_TEST

/* Before the epoch, and at the ends of int64 (a corrupt state file or
 * journal may hold them; found by fuzz_keyfmt): no overflow, fields in
 * range. */
START_TEST(time_fields_any_int64)
{
	static const int64_t ends[] = { INT64_MIN, INT64_MIN + 999, INT64_MAX, -1, 0 };
	char s[32];

	time_format_rfc3339(-1, s);
	ck_assert_str_eq(s, "1969-12-31T23:59:59.999Z");
	time_format_rfc3339(-86400000, s);
	ck_assert_str_eq(s, "1969-12-31T00:00:00.000Z");
	time_format_rfc3339(-86400001, s);
	ck_assert_str_eq(s, "1969-12-30T23:59:59.999Z");
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		int y, mo, d, h, mi, sec;

		time_utc_fields(ends[i], &y, &mo, &d, &h, &mi, &sec);
		ck_assert(mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
		ck_assert(h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && sec >= 0 && sec <= 59);
	}
}
END_TEST

START_TEST(durations)
{
	int64_t d;

	ck_assert(duration_parse("7d", &d));
	ck_assert_int_eq(d, 7LL * 86400 * 1000);
	ck_assert(duration_parse("90", &d));
	ck_assert_int_eq(d, 90000);
	ck_assert(duration_parse("36h", &d));
	ck_assert_int_eq(d, 36LL * 3600 * 1000);
	ck_assert(!duration_parse("", &d));
	ck_assert(!duration_parse("d", &d));
	ck_assert(!duration_parse("-1d", &d));
	ck_assert(!duration_parse("99999999999999999999d", &d));
}
END_TEST

START_TEST(visible_text)
{
	buf b = BUF_INIT, s = BUF_INIT;
	const char raw[] = "a\nb\rc\td\x1b[0m\x7f\\n\xc3\xa9";

	buf_add_visible(&b, raw, sizeof(raw) - 1);
	ck_assert_str_eq(b.data, "a\\nb\\rc\\td\\x1b[0m\\x7f\\n\xc3\xa9");
	buf_reset(&b);
	buf_add_visible(&b, "x\0y", 3);
	ck_assert_str_eq(b.data, "x\\x00y");
	ck_assert_str_eq(visible(&s, NULL), "");
	ck_assert_str_eq(visible(&s, "plain"), "plain");
	ck_assert_str_eq(visible(&s, "two\nlines"), "two\\nlines");
	buf_release(&b);
	buf_release(&s);
}
END_TEST

START_TEST(ascii_space_and_trim)
{
	const char *s = " \t\r\n\v\fkey = v a\t \n";
	size_t n = strlen(s);
	const char *p = span_trim(s, &n);

	ck_assert_uint_eq(n, 9);
	ck_assert_int_eq(memcmp(p, "key = v a", 9), 0);
	n = 3;
	p = span_trim("   ", &n);
	ck_assert_uint_eq(n, 0);
	n = 0;
	ck_assert_ptr_eq(span_trim(s, &n), s);
	ck_assert_uint_eq(n, 0);
	ck_assert(!ascii_space('\0'));
	ck_assert(!ascii_space((char)0xa0));
	ck_assert(ascii_space('\v'));
}
END_TEST

START_TEST(hex_digits_and_percent_decoding)
{
	static const char digits[] = "0123456789abcdefABCDEF";
	buf b = BUF_INIT;

	for (int c = 0; c < 256; c++) {
		const char *at = c ? strchr(digits, c) : NULL;
		int want = !at ? -1 : at - digits < 16 ? (int)(at - digits)
						       : (int)(at - digits) - 6;

		ck_assert_int_eq(hex_digit(c), want);
	}

	ck_assert_int_eq(pct_decode(&b, "a%2Fb+c%2b%7e", 13, 0), PCT_OK);
	ck_assert_uint_eq(b.len, 7);
	ck_assert_mem_eq(b.data, "a/b+c+~", 7);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "a+b%20c", 7, PCT_PLUS_IS_SPACE), PCT_OK);
	ck_assert_mem_eq(b.data, "a b c", 5);
	buf_reset(&b);
	/* %00 is a NUL byte: kept unless refused */
	ck_assert_int_eq(pct_decode(&b, "x%00y", 5, 0), PCT_OK);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(b.data[1], 0);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "x%00y", 5, PCT_NUL_IS_BAD), PCT_NUL);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "x\0y", 3, PCT_NUL_IS_BAD), PCT_NUL);
	buf_reset(&b);
	/* cut or non-hex escapes, at the end and inside */
	ck_assert_int_eq(pct_decode(&b, "ab%4", 4, 0), PCT_BAD_ESCAPE);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "ab%", 3, 0), PCT_BAD_ESCAPE);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "%g0x", 4, 0), PCT_BAD_ESCAPE);
	buf_reset(&b);
	/* n bounds the input: an escape cut by n is bad even if s goes on */
	ck_assert_int_eq(pct_decode(&b, "a%41", 3, 0), PCT_BAD_ESCAPE);
	buf_release(&b);
}
END_TEST

Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, buf_cap_is_enforced);
	tcase_add_test(tc, json_string_escapes);
	tcase_add_test(tc, base64_matches_rfc4648);
	tcase_add_test(tc, utf8_validation);
	tcase_add_test(tc, time_round_trip);
	tcase_add_test(tc, time_fields_any_int64);
	tcase_add_test(tc, durations);
	tcase_add_test(tc, hex_digits_and_percent_decoding);
	tcase_add_test(tc, ascii_space_and_trim);
	tcase_add_test(tc, visible_text);
	suite_add_tcase(s, tc);
	return s;
}
