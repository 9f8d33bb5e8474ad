/* check_filter.c - EventBridge event patterns: compilation and matching. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "json.h"
#include "util.h"

/* Compile a pattern that must be valid; fails the test otherwise. */
static filter *compile_ok(const char *pattern)
{
	filter *f = NULL;
	buf err = BUF_INIT;
	es_result r = filter_compile(pattern, strlen(pattern), "$.filter", &f, &err);

	ck_assert_msg(r == ES_OK, "pattern %s: %s", pattern, err.data ? err.data : "");
	ck_assert_ptr_nonnull(f);
	buf_release(&err);
	return f;
}

/* Compile a pattern that must be rejected; returns the message (free it). */
static char *compile_err(const char *pattern)
{
	filter *f = (filter *)1;
	buf err = BUF_INIT;
	es_result r = filter_compile(pattern, strlen(pattern), "$.filter", &f, &err);

	ck_assert_msg(r == ES_ERR_CONFIG, "pattern %s was accepted", pattern);
	ck_assert_ptr_null(f);
	ck_assert_msg(err.len > 0, "no message for %s", pattern);
	return buf_detach(&err, NULL);
}

/* Expect the message for a pattern to be exactly `want`. */
static void expect_error(const char *pattern, const char *want)
{
	char *msg = compile_err(pattern);

	ck_assert_msg(!strcmp(msg, want), "pattern %s: got '%s', want '%s'",
		      pattern, msg, want);
	free(msg);
}

/* Expect the message for a pattern to contain `part`. */
static void expect_error_part(const char *pattern, const char *part)
{
	char *msg = compile_err(pattern);

	ck_assert_msg(strstr(msg, part) != NULL, "pattern %s: got '%s', want '%s' in it",
		      pattern, msg, part);
	free(msg);
}

static bool matches_f(const filter *f, const char *event)
{
	json_value v;
	json_error jerr;

	ck_assert_msg(json_parse(event, strlen(event), JSON_DEFAULT_MAX_DEPTH, &v, &jerr),
		      "bad test event %s: %s", event, jerr.reason);
	return filter_match(f, v);
}

static bool matches(const char *pattern, const char *event)
{
	filter *f = compile_ok(pattern);
	bool r = matches_f(f, event);

	filter_free(f);
	return r;
}

#define MATCH(p, e)    ck_assert_msg(matches(p, e), "%s should match %s", p, e)
#define NO_MATCH(p, e) ck_assert_msg(!matches(p, e), "%s should not match %s", p, e)

START_TEST(exact_strings_top_level_and_nested)
{
	const char *p = "{\"domain\":[\"onboarding\",\"billing\"],\"data\":{\"kind\":[\"x\"]}}";

	MATCH(p, "{\"domain\":\"onboarding\",\"data\":{\"kind\":\"x\",\"y\":1}}");
	MATCH(p, "{\"data\":{\"kind\":\"x\"},\"domain\":\"billing\"}");
	NO_MATCH(p, "{\"domain\":\"other\",\"data\":{\"kind\":\"x\"}}");
	NO_MATCH(p, "{\"domain\":\"onboarding\",\"data\":{\"kind\":\"y\"}}");
	NO_MATCH(p, "{\"domain\":\"onboarding\"}");
	NO_MATCH(p, "{\"domain\":\"onboarding\",\"data\":\"x\"}");
	NO_MATCH(p, "{\"domain\":\"onboarding\",\"data\":{\"kind\":{\"x\":1}}}");
	/* case-sensitive, no normalisation */
	NO_MATCH(p, "{\"domain\":\"Onboarding\",\"data\":{\"kind\":\"x\"}}");
	NO_MATCH(p, "{\"domain\":\"onboarding \",\"data\":{\"kind\":\"x\"}}");
	/* escapes are decoded on both sides */
	MATCH("{\"k\":[\"a\\u00e9\"]}", "{\"k\":\"a\xc3\xa9\"}");
	MATCH("{\"k\":[\"a\xc3\xa9\"]}", "{\"k\":\"a\\u00E9\"}");
	MATCH("{\"k\\u0031\":[\"v\"]}", "{\"k1\":\"v\"}");
	MATCH("{\"k1\":[\"v\"]}", "{\"\\u006b1\":\"v\"}");
	MATCH("{\"\":[\"\"]}", "{\"\":\"\"}");
	NO_MATCH("{\"k\":[\"\"]}", "{\"k\":null}");
}
END_TEST

START_TEST(exact_numbers_compare_by_value)
{
	MATCH("{\"n\":[300]}", "{\"n\":300}");
	MATCH("{\"n\":[300]}", "{\"n\":300.0}");
	MATCH("{\"n\":[300]}", "{\"n\":3.0e2}");
	MATCH("{\"n\":[3.0e2]}", "{\"n\":300}");
	MATCH("{\"n\":[300.0]}", "{\"n\":3.0e+2}");
	MATCH("{\"n\":[0]}", "{\"n\":-0.0}");
	MATCH("{\"n\":[0.001]}", "{\"n\":1e-3}");
	MATCH("{\"n\":[-12.5]}", "{\"n\":-1250E-2}");
	NO_MATCH("{\"n\":[300]}", "{\"n\":300.0000001}");
	NO_MATCH("{\"n\":[300]}", "{\"n\":-300}");
	NO_MATCH("{\"n\":[300]}", "{\"n\":\"300\"}");
	NO_MATCH("{\"n\":[\"300\"]}", "{\"n\":300}");
	/* beyond double precision, still exact */
	MATCH("{\"n\":[12345678901234567890123]}", "{\"n\":1.2345678901234567890123e22}");
	NO_MATCH("{\"n\":[9007199254740993]}", "{\"n\":9007199254740992}");
}
END_TEST

START_TEST(number_compare_helper)
{
	static const struct { const char *a, *b; int want; } t[] = {
		{ "1", "2", -1 }, { "2", "1", 1 }, { "-1", "1", -1 }, { "1", "-1", 1 },
		{ "-2", "-1", -1 }, { "0", "-0", 0 }, { "0.0", "0e5", 0 },
		{ "0", "1e-400", -1 }, { "-1e-400", "0", -1 }, { "10", "9.99", 1 },
		{ "100.00001", "100", 1 }, { "301.8", "3.018e2", 0 },
		{ "1e15", "1000000000000000", 0 }, { "1e999999999999999999", "1e9999", 1 },
		{ "0.1", "0.10000000000000001", -1 }, { "123", "123.0001", -1 },
		{ "5e9", "5000000000.000001", -1 }, { "-5e9", "-4999999999.999999", -1 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		json_value a = { t[i].a, strlen(t[i].a), JSON_NUMBER };
		json_value b = { t[i].b, strlen(t[i].b), JSON_NUMBER };
		int r = json_number_compare(a, b);

		r = r < 0 ? -1 : r > 0;
		ck_assert_msg(r == t[i].want, "%s vs %s: %d", t[i].a, t[i].b, r);
	}
}
END_TEST

START_TEST(exact_literals)
{
	MATCH("{\"b\":[true]}", "{\"b\":true}");
	NO_MATCH("{\"b\":[true]}", "{\"b\":\"true\"}");
	NO_MATCH("{\"b\":[true]}", "{\"b\":1}");
	MATCH("{\"b\":[false]}", "{\"b\":false}");
	NO_MATCH("{\"b\":[false]}", "{\"b\":null}");
	MATCH("{\"b\":[null]}", "{\"b\":null}");
	NO_MATCH("{\"b\":[null]}", "{}");
	NO_MATCH("{\"b\":[null]}", "{\"b\":\"\"}");
	NO_MATCH("{\"b\":[null]}", "{\"b\":[]}");
	MATCH("{\"b\":[null, 5]}", "{\"b\":5}");
}
END_TEST

START_TEST(event_arrays_any_element)
{
	MATCH("{\"r\":[\"b\"]}", "{\"r\":[\"a\",\"b\"]}");
	NO_MATCH("{\"r\":[\"c\"]}", "{\"r\":[\"a\",\"b\"]}");
	MATCH("{\"r\":[\"c\"]}", "{\"r\":[[\"a\"],[[\"c\"]]]}");
	NO_MATCH("{\"r\":[\"c\"]}", "{\"r\":[]}");
	MATCH("{\"r\":{\"x\":[1]}}", "{\"r\":[{\"x\":2},{\"x\":1}]}");
	/* side by side conditions: the same element */
	NO_MATCH("{\"e\":{\"f\":[\"Anna\"],\"l\":[\"Jones\"]}}",
		 "{\"e\":[{\"f\":\"Anna\",\"l\":\"Smith\"},{\"f\":\"Peter\",\"l\":\"Jones\"}]}");
	MATCH("{\"e\":{\"f\":[\"Anna\"],\"l\":[\"Smith\"]}}",
	      "{\"e\":[{\"f\":\"Peter\",\"l\":\"Jones\"},{\"f\":\"Anna\",\"l\":\"Smith\"}]}");
}
END_TEST

START_TEST(and_of_keys_or_of_values)
{
	const char *p = "{\"a\":[\"1\",\"2\"],\"b\":[\"3\"]}";

	MATCH(p, "{\"a\":\"2\",\"b\":\"3\"}");
	NO_MATCH(p, "{\"a\":\"2\"}");
	NO_MATCH(p, "{\"b\":\"3\"}");
	NO_MATCH(p, "{\"a\":\"4\",\"b\":\"3\"}");
	NO_MATCH(p, "{}");
}
END_TEST

START_TEST(repeated_keys_and_dotted_keys)
{
	/* the last of a repeated pattern key counts */
	MATCH("{\"a\":[\"x\"],\"a\":[\"y\"]}", "{\"a\":\"y\"}");
	NO_MATCH("{\"a\":[\"x\"],\"a\":[\"y\"]}", "{\"a\":\"x\"}");
	/* dotted keys on either side */
	MATCH("{\"a.b\":[1]}", "{\"a\":{\"b\":1}}");
	MATCH("{\"a\":{\"b\":[1]}}", "{\"a.b\":1}");
	MATCH("{\"a.b.c\":[1]}", "{\"a.b\":{\"c\":1}}");
	MATCH("{\"a.b.c\":[1]}", "{\"a\":{\"b.c\":1}}");
	MATCH("{\"a\":{\"b\":[1],\"c\":[2]}}", "{\"a\":{\"b\":1},\"a.c\":2}");
	NO_MATCH("{\"a.b\":[1]}", "{\"a\":{\"b\":2}}");
	NO_MATCH("{\"a.b\":[1]}", "{\"ab\":1}");
}
END_TEST

START_TEST(non_object_events_never_match)
{
	filter *f = compile_ok("{\"a\":[1]}");
	json_value v = { "[1]", 3, JSON_ARRAY };

	ck_assert(!filter_match(f, v));
	v.p = "\"a\"";
	v.type = JSON_STRING;
	ck_assert(!filter_match(f, v));
	filter_free(f);
	filter_free(NULL);
}
END_TEST

START_TEST(invalid_patterns_are_rejected_with_a_path)
{
	expect_error("[1]", "$.filter: pattern must be an object, not an array");
	expect_error("\"x\"", "$.filter: pattern must be an object, not a string");
	expect_error("{\"int\":42}", "$.filter.int: must be an object or an array");
	expect_error("{\"a\":{\"b\":\"x\"}}", "$.filter.a.b: must be an object or an array");
	expect_error("{\"a\":{\"b\":null}}", "$.filter.a.b: must be an object or an array");
	expect_error("{\"a\":[]}", "$.filter.a: must not be an empty array");
	expect_error("{\"a\":{}}", "$.filter.a: must not be an empty object");
	expect_error("{}", "$.filter: must not be an empty object");
	expect_error("{\"a\":[1,[2]]}", "$.filter.a[1]: a match value must be a string, a "
		     "number, true, false, null or an operator object, not an array");
	expect_error("{\"a b\":{\"c\":1}}", "$.filter[\"a b\"].c: must be an object or an array");
	expect_error_part("{\"a\":", "$.filter: invalid JSON at offset 5");
}
END_TEST

Suite *filter_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *tc = tcase_create("exact");

	tcase_add_test(tc, exact_strings_top_level_and_nested);
	tcase_add_test(tc, exact_numbers_compare_by_value);
	tcase_add_test(tc, number_compare_helper);
	tcase_add_test(tc, exact_literals);
	tcase_add_test(tc, event_arrays_any_element);
	tcase_add_test(tc, and_of_keys_or_of_values);
	tcase_add_test(tc, repeated_keys_and_dotted_keys);
	tcase_add_test(tc, non_object_events_never_match);
	tcase_add_test(tc, invalid_patterns_are_rejected_with_a_path);
	suite_add_tcase(s, tc);
	return s;
}
