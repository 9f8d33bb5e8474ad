/* check_filter.c - EventBridge event patterns: compilation and matching. */
#include <check.h>
#include <stdio.h>
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

/* filter_match() on the text, and filter_match_members() on the members
 * the parser recorded (as run does): -1 when the two disagree. */
static int match_both(const filter *f, const char *event, size_t n)
{
	json_member members[512];
	json_value v, v2;
	json_error jerr;
	size_t nm;
	bool a, b;

	if (!json_parse(event, n, JSON_DEFAULT_MAX_DEPTH, &v, &jerr))
		return -2;
	a = filter_match(f, v);
	ck_assert(json_parse_members(event, n, JSON_DEFAULT_MAX_DEPTH, &v2, members, 512, &nm,
				     &jerr));
	if (v2.type != JSON_OBJECT || nm > 512)
		return a;
	b = filter_match_members(f, v2, members, nm);
	return a == b ? a : -1;
}

static bool matches_f(const filter *f, const char *event)
{
	int r = match_both(f, event, strlen(event));

	ck_assert_msg(r != -2, "bad test event %s", event);
	ck_assert_msg(r != -1, "event %s: the members path disagrees", event);
	return r;
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


/* --- operators ----------------------------------------------------------- */

START_TEST(prefix_and_suffix)
{
	MATCH("{\"a\":[{\"prefix\":\"ab\"}]}", "{\"a\":\"abc\"}");
	MATCH("{\"a\":[{\"prefix\":\"ab\"}]}", "{\"a\":\"ab\"}");
	NO_MATCH("{\"a\":[{\"prefix\":\"ab\"}]}", "{\"a\":\"a\"}");
	NO_MATCH("{\"a\":[{\"prefix\":\"ab\"}]}", "{\"a\":\"Abc\"}");
	NO_MATCH("{\"a\":[{\"prefix\":\"1\"}]}", "{\"a\":12}");
	MATCH("{\"a\":[{\"prefix\":\"\"}]}", "{\"a\":\"\"}");
	MATCH("{\"a\":[{\"prefix\":\"\"}]}", "{\"a\":\"x\"}");
	NO_MATCH("{\"a\":[{\"prefix\":\"\"}]}", "{\"a\":null}");
	NO_MATCH("{\"a\":[{\"prefix\":\"\"}]}", "{}");
	MATCH("{\"a\":[{\"prefix\":\"a\\\"b\"}]}", "{\"a\":\"a\\u0022bc\"}");
	MATCH("{\"a\":[{\"suffix\":\".png\"}]}", "{\"a\":\"x.png\"}");
	MATCH("{\"a\":[{\"suffix\":\".png\"}]}", "{\"a\":[\"x.jpg\",\"y.png\"]}");
	NO_MATCH("{\"a\":[{\"suffix\":\".png\"}]}", "{\"a\":\"x.PNG\"}");
	NO_MATCH("{\"a\":[{\"suffix\":\".png\"}]}", "{\"a\":\"png\"}");
	MATCH("{\"a\":[{\"suffix\":\"\"}]}", "{\"a\":\"\"}");
	/* with equals-ignore-case */
	MATCH("{\"a\":[{\"prefix\":{\"equals-ignore-case\":\"ab\"}}]}", "{\"a\":\"ABc\"}");
	NO_MATCH("{\"a\":[{\"prefix\":{\"equals-ignore-case\":\"ab\"}}]}", "{\"a\":\"cAB\"}");
	MATCH("{\"a\":[{\"suffix\":{\"equals-ignore-case\":\".PNG\"}}]}", "{\"a\":\"x.png\"}");
	NO_MATCH("{\"a\":[{\"suffix\":{\"equals-ignore-case\":\".PNG\"}}]}", "{\"a\":\"x.pn\"}");
	/* folding that changes the UTF-8 length: U+023A (2 bytes), U+2C65 (3) */
	MATCH("{\"a\":[{\"suffix\":{\"equals-ignore-case\":\"x\xc8\xba\"}}]}",
	      "{\"a\":\"yX\xe2\xb1\xa5\"}");
	MATCH("{\"a\":[{\"prefix\":{\"equals-ignore-case\":\"\xe2\xb1\xa5y\"}}]}",
	      "{\"a\":\"\xc8\xbaYz\"}");
	MATCH("{\"a\":[{\"suffix\":{\"equals-ignore-case\":\"\xc3\xa9\"}}]}",
	      "{\"a\":\"caf\xc3\x89\"}");
}
END_TEST

START_TEST(equals_ignore_case_unicode)
{
	MATCH("{\"a\":[{\"equals-ignore-case\":\"alice\"}]}", "{\"a\":\"ALICE\"}");
	MATCH("{\"a\":[{\"equals-ignore-case\":\"alice\"}]}", "{\"a\":\"aLiCe\"}");
	NO_MATCH("{\"a\":[{\"equals-ignore-case\":\"alice\"}]}", "{\"a\":\"alice \"}");
	NO_MATCH("{\"a\":[{\"equals-ignore-case\":\"alice\"}]}", "{\"a\":\"alic\"}");
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\"}]}", "{\"a\":\"\"}");
	NO_MATCH("{\"a\":[{\"equals-ignore-case\":\"\"}]}", "{\"a\":\"x\"}");
	NO_MATCH("{\"a\":[{\"equals-ignore-case\":\"1\"}]}", "{\"a\":1}");
	/* Latin-1: É/é, Ø/ø, Þ/þ; ÿ/Ÿ (U+0178 is in Latin Extended-A) */
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\xc3\x89t\xc3\xa9\"}]}",
	      "{\"a\":\"\xc3\xa9T\xc3\x89\"}");
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\xc3\x98\xc3\x9e\"}]}",
	      "{\"a\":\"\\u00f8\\u00fe\"}");
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\xc3\xbf\"}]}", "{\"a\":\"\xc5\xb8\"}");
	/* Latin Extended-A: Ł/ł, Ő/ő, Ž/ž */
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\xc5\x81\xc5\x90\xc5\xbd\"}]}",
	      "{\"a\":\"\xc5\x82\xc5\x91\xc5\xbe\"}");
	/* Greek: Σ, σ and final ς all fold to σ; Ω/ω */
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\xce\xa3\xce\xa9\"}]}",
	      "{\"a\":\"\xcf\x82\xcf\x89\"}");
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\xcf\x83\"}]}", "{\"a\":\"\xce\xa3\"}");
	/* Cyrillic: Д/д, Ж/ж, Ё/ё */
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\xd0\x94\xd0\x96\xd0\x81\"}]}",
	      "{\"a\":\"\xd0\xb4\xd0\xb6\xd1\x91\"}");
	/* Kelvin sign folds to k; capital sharp s to sharp s */
	MATCH("{\"a\":[{\"equals-ignore-case\":\"k\"}]}", "{\"a\":\"\xe2\x84\xaa\"}");
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\xc3\x9f\"}]}", "{\"a\":\"\xe1\xba\x9e\"}");
	/* simple folding only: sharp s is not "ss", dotted I is not i */
	NO_MATCH("{\"a\":[{\"equals-ignore-case\":\"ss\"}]}", "{\"a\":\"\xc3\x9f\"}");
	NO_MATCH("{\"a\":[{\"equals-ignore-case\":\"i\"}]}", "{\"a\":\"\xc4\xb0\"}");
	/* outside the BMP: Deseret */
	MATCH("{\"a\":[{\"equals-ignore-case\":\"\xf0\x90\x90\x80\"}]}",
	      "{\"a\":\"\xf0\x90\x90\xa8\"}");
	/* accents are not ignored */
	NO_MATCH("{\"a\":[{\"equals-ignore-case\":\"e\"}]}", "{\"a\":\"\xc3\xa9\"}");
}
END_TEST

START_TEST(wildcards)
{
	const char *p = "{\"a\":[{\"wildcard\":\"arn:*:bus/*\"}]}";

	MATCH(p, "{\"a\":\"arn:aws:bus/x\"}");
	MATCH(p, "{\"a\":\"arn::bus/\"}");
	NO_MATCH(p, "{\"a\":\"arn:aws:bus\"}");
	NO_MATCH(p, "{\"a\":\"xarn:aws:bus/x\"}");
	MATCH("{\"a\":[{\"wildcard\":\"xy*\"}]}", "{\"a\":\"xy\"}");
	MATCH("{\"a\":[{\"wildcard\":\"*\"}]}", "{\"a\":\"\"}");
	MATCH("{\"a\":[{\"wildcard\":\"\"}]}", "{\"a\":\"\"}");
	NO_MATCH("{\"a\":[{\"wildcard\":\"\"}]}", "{\"a\":\"x\"}");
	NO_MATCH("{\"a\":[{\"wildcard\":\"*\"}]}", "{\"a\":5}");
	MATCH("{\"a\":[{\"wildcard\":\"a*b*c\"}]}", "{\"a\":\"abbbcbc\"}");
	NO_MATCH("{\"a\":[{\"wildcard\":\"a*b*c\"}]}", "{\"a\":\"abbbcb\"}");
	/* the segments may not overlap the anchored ends */
	NO_MATCH("{\"a\":[{\"wildcard\":\"ab*ba\"}]}", "{\"a\":\"aba\"}");
	MATCH("{\"a\":[{\"wildcard\":\"ab*ba\"}]}", "{\"a\":\"abba\"}");
	MATCH("{\"a\":[{\"wildcard\":\"*aab*\"}]}", "{\"a\":\"aaab\"}");
	/* escapes: \* a star, \\ a backslash (doubled again for JSON) */
	MATCH("{\"a\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"a\":\"a*b\"}");
	NO_MATCH("{\"a\":[{\"wildcard\":\"a\\\\*b\"}]}", "{\"a\":\"axb\"}");
	MATCH("{\"a\":[{\"wildcard\":\"a\\\\\\\\*\"}]}", "{\"a\":\"a\\\\xyz\"}");
	NO_MATCH("{\"a\":[{\"wildcard\":\"a\\\\\\\\*\"}]}", "{\"a\":\"axyz\"}");
	/* multibyte */
	MATCH("{\"a\":[{\"wildcard\":\"*\xc3\xa9*\"}]}", "{\"a\":\"caf\xc3\xa9s\"}");
	/* EventBridge's own example of an accepted pattern */
	filter_free(compile_ok("{\"a\":[{\"wildcard\":\"arn:aws:events:us-east-1:*:event-bus/*\"}]}"));
	filter_free(compile_ok("{\"a\":[{\"wildcard\":\"*a*b*c*d*e*f*g*\"}]}"));
}
END_TEST

START_TEST(wildcard_is_linear_on_long_values)
{
	/* segments that nearly match everywhere, on a 1 MiB value: naive
	 * searching would be quadratic; this must finish at once */
	size_t n = 1 << 20;
	char *ev = xmalloc(n + 16);
	filter *f = compile_ok("{\"a\":[{\"wildcard\":\"*abab*abac*\"}]}");
	json_value v;
	json_error jerr;

	memcpy(ev, "{\"a\":\"", 6);
	for (size_t i = 0; i < n; i++)
		ev[6 + i] = "ab"[i % 2];
	memcpy(ev + 6 + n, "\"}", 3);
	ck_assert(json_parse(ev, strlen(ev), 64, &v, &jerr));
	ck_assert(!filter_match(f, v));
	memcpy(ev + 6 + n - 8, "abac", 4);
	ck_assert(filter_match(f, v));
	filter_free(f);
	free(ev);
}
END_TEST

START_TEST(anything_but)
{
	const char *p = "{\"s\":[{\"anything-but\":[\"stopped\",\"overloaded\"]}]}";

	MATCH(p, "{\"s\":\"running\"}");
	NO_MATCH(p, "{\"s\":\"stopped\"}");
	NO_MATCH(p, "{}");
	MATCH(p, "{\"s\":null}");
	MATCH(p, "{\"s\":5}");
	MATCH(p, "{\"s\":true}");
	MATCH(p, "{\"s\":[\"stopped\",\"x\"]}");
	NO_MATCH(p, "{\"s\":[\"stopped\"]}");
	NO_MATCH(p, "{\"s\":[]}");
	NO_MATCH(p, "{\"s\":{\"x\":1}}");
	MATCH("{\"s\":[{\"anything-but\":\"x\"}]}", "{\"s\":\"y\"}");
	NO_MATCH("{\"s\":[{\"anything-but\":\"x\"}]}", "{\"s\":\"x\"}");
	MATCH("{\"n\":[{\"anything-but\":[100,200]}]}", "{\"n\":150}");
	NO_MATCH("{\"n\":[{\"anything-but\":[100,200]}]}", "{\"n\":2e2}");
	MATCH("{\"n\":[{\"anything-but\":[100,200]}]}", "{\"n\":\"100\"}");
	NO_MATCH("{\"n\":[{\"anything-but\":300}]}", "{\"n\":300.0}");
	/* prefix and suffix, one or a list */
	MATCH("{\"s\":[{\"anything-but\":{\"prefix\":\"init\"}}]}", "{\"s\":\"running\"}");
	NO_MATCH("{\"s\":[{\"anything-but\":{\"prefix\":\"init\"}}]}", "{\"s\":\"initial\"}");
	MATCH("{\"s\":[{\"anything-but\":{\"prefix\":\"init\"}}]}", "{\"s\":42}");
	NO_MATCH("{\"s\":[{\"anything-but\":{\"prefix\":[\"a\",\"b\"]}}]}", "{\"s\":\"bc\"}");
	MATCH("{\"s\":[{\"anything-but\":{\"prefix\":[\"a\",\"b\"]}}]}", "{\"s\":\"cb\"}");
	NO_MATCH("{\"s\":[{\"anything-but\":{\"suffix\":\".txt\"}}]}", "{\"s\":\"a.txt\"}");
	MATCH("{\"s\":[{\"anything-but\":{\"suffix\":[\".txt\",\".md\"]}}]}",
	      "{\"s\":\"a.c\"}");
	/* equals-ignore-case */
	NO_MATCH("{\"s\":[{\"anything-but\":{\"equals-ignore-case\":\"Stopped\"}}]}",
		 "{\"s\":\"STOPPED\"}");
	MATCH("{\"s\":[{\"anything-but\":{\"equals-ignore-case\":[\"a\",\"b\"]}}]}",
	      "{\"s\":\"C\"}");
	NO_MATCH("{\"s\":[{\"anything-but\":{\"equals-ignore-case\":[\"a\",\"b\"]}}]}",
		 "{\"s\":\"B\"}");
	/* wildcard, one or a list; the empty wildcard excludes only "" */
	NO_MATCH("{\"s\":[{\"anything-but\":{\"wildcard\":\"*/dir/*\"}}]}", "{\"s\":\"a/dir/b\"}");
	MATCH("{\"s\":[{\"anything-but\":{\"wildcard\":[\"*x*\",\"*y*\"]}}]}", "{\"s\":\"abc\"}");
	NO_MATCH("{\"s\":[{\"anything-but\":{\"wildcard\":\"\"}}]}", "{\"s\":\"\"}");
	MATCH("{\"s\":[{\"anything-but\":{\"wildcard\":\"\"}}]}", "{\"s\":\"a\"}");
}
END_TEST

START_TEST(numeric)
{
	const char *range = "{\"n\":[{\"numeric\":[\">\",0,\"<=\",5]}]}";

	MATCH(range, "{\"n\":5}");
	MATCH(range, "{\"n\":0.000001}");
	MATCH(range, "{\"n\":5e0}");
	NO_MATCH(range, "{\"n\":0}");
	NO_MATCH(range, "{\"n\":5.0000000000000000001}");
	NO_MATCH(range, "{\"n\":-1}");
	NO_MATCH(range, "{\"n\":\"3\"}");
	NO_MATCH(range, "{\"n\":null}");
	NO_MATCH(range, "{}");
	MATCH(range, "{\"n\":[10,3]}");
	MATCH("{\"n\":[{\"numeric\":[\">=\",0,\"<\",5]}]}", "{\"n\":0}");
	NO_MATCH("{\"n\":[{\"numeric\":[\">=\",0,\"<\",5]}]}", "{\"n\":5}");
	MATCH("{\"n\":[{\"numeric\":[\"=\",301.8]}]}", "{\"n\":3.018e2}");
	NO_MATCH("{\"n\":[{\"numeric\":[\"=\",301.8]}]}", "{\"n\":301.80001}");
	MATCH("{\"n\":[{\"numeric\":[\"<\",-5e9]}]}", "{\"n\":-5000000000.5}");
	NO_MATCH("{\"n\":[{\"numeric\":[\"<\",-5e9]}]}", "{\"n\":-5000000000}");
	MATCH("{\"n\":[{\"numeric\":[\"<=\",-5e9]}]}", "{\"n\":-5000000000}");
	MATCH("{\"n\":[{\"numeric\":[\">\",5e9]}]}", "{\"n\":5000000000.000001}");
	MATCH("{\"n\":[{\"numeric\":[\">=\",5e9]}]}", "{\"n\":5e9}");
	/* beyond EventBridge's documented range, and beyond double */
	MATCH("{\"n\":[{\"numeric\":[\">\",1e300]}]}", "{\"n\":1e400}");
	MATCH("{\"n\":[{\"numeric\":[\"<\",-1e300]}]}", "{\"n\":-1e400}");
	MATCH("{\"n\":[{\"numeric\":[\">\",9007199254740992]}]}",
	      "{\"n\":9007199254740993}");
	MATCH("{\"n\":[{\"numeric\":[\">\",0]}]}", "{\"n\":1e-400}");
	NO_MATCH("{\"n\":[{\"numeric\":[\">\",0]}]}", "{\"n\":-0}");
	MATCH("{\"n\":[{\"numeric\":[\">\",0.1,\"<\",0.3]}]}", "{\"n\":0.2}");
}
END_TEST

START_TEST(exists)
{
	const char *t = "{\"a\":[{\"exists\":true}]}", *f = "{\"a\":[{\"exists\":false}]}";

	MATCH(t, "{\"a\":\"x\"}");
	MATCH(t, "{\"a\":0}");
	MATCH(t, "{\"a\":false}");
	MATCH(t, "{\"a\":\"\"}");
	/* null is a value: exists:true holds, exists:false does not */
	MATCH(t, "{\"a\":null}");
	NO_MATCH(f, "{\"a\":null}");
	NO_MATCH(t, "{}");
	MATCH(f, "{}");
	NO_MATCH(f, "{\"a\":1}");
	/* an object is not a leaf value */
	NO_MATCH(t, "{\"a\":{\"b\":1}}");
	MATCH(f, "{\"a\":{\"b\":1}}");
	/* an empty array has no value; an array of objects neither */
	NO_MATCH(t, "{\"a\":[]}");
	MATCH(f, "{\"a\":[]}");
	MATCH(f, "{\"a\":[[]]}");
	NO_MATCH(t, "{\"a\":[{\"b\":1}]}");
	MATCH(f, "{\"a\":[{\"b\":1}]}");
	MATCH(t, "{\"a\":[{\"b\":1},2]}");
	NO_MATCH(f, "{\"a\":[{\"b\":1},2]}");
	/* a missing parent */
	MATCH("{\"x\":{\"a\":[{\"exists\":false}]}}", "{}");
	MATCH("{\"x\":{\"a\":[{\"exists\":false}]}}", "{\"x\":5}");
	NO_MATCH("{\"x\":{\"a\":[{\"exists\":true}]}}", "{}");
	/* per element of an array of objects, with the conditions beside it */
	MATCH("{\"x\":{\"k\":[\"v\"],\"a\":[{\"exists\":false}]}}",
	      "{\"x\":[{\"k\":\"v\",\"a\":1},{\"k\":\"v\"}]}");
	NO_MATCH("{\"x\":{\"k\":[\"v\"],\"a\":[{\"exists\":false}]}}",
		 "{\"x\":[{\"k\":\"v\",\"a\":1},{\"k\":\"w\"}]}");
	/* with other alternatives in the same leaf */
	MATCH("{\"a\":[\"x\",{\"exists\":false}]}", "{\"a\":\"x\"}");
	MATCH("{\"a\":[\"x\",{\"exists\":false}]}", "{}");
	NO_MATCH("{\"a\":[\"x\",{\"exists\":false}]}", "{\"a\":\"y\"}");
	/* exists:false is falsified by a dotted key too */
	NO_MATCH("{\"a\":{\"b\":[{\"exists\":false}]}}", "{\"a.b\":1}");
	MATCH("{\"a\":{\"b\":[{\"exists\":false}],\"c\":[1]}}", "{\"a\":{\"c\":1}}");
	NO_MATCH("{\"a\":{\"b\":[{\"exists\":false}],\"c\":[1]}}",
		 "{\"a\":{\"c\":1},\"a.b\":2}");
}
END_TEST

START_TEST(cidr)
{
	const char *v4 = "{\"ip\":[{\"cidr\":\"10.0.0.0/24\"}]}";
	const char *v6 = "{\"ip\":[{\"cidr\":\"2001:db8:1234:1a00::/64\"}]}";

	MATCH(v4, "{\"ip\":\"10.0.0.0\"}");
	MATCH(v4, "{\"ip\":\"10.0.0.255\"}");
	NO_MATCH(v4, "{\"ip\":\"10.0.1.0\"}");
	NO_MATCH(v4, "{\"ip\":\"10.0.0.256\"}");
	NO_MATCH(v4, "{\"ip\":\"10.0.0\"}");
	NO_MATCH(v4, "{\"ip\":\"10.0.0.1.2\"}");
	NO_MATCH(v4, "{\"ip\":\" 10.0.0.1\"}");
	NO_MATCH(v4, "{\"ip\":\"::ffff:10.0.0.1\"}");
	NO_MATCH(v4, "{\"ip\":167772161}");
	MATCH(v6, "{\"ip\":\"2001:db8:1234:1a00::1\"}");
	MATCH(v6, "{\"ip\":\"2001:0DB8:1234:1A00:ffff:ffff:ffff:ffff\"}");
	NO_MATCH(v6, "{\"ip\":\"2001:db8:1234:1a01::\"}");
	NO_MATCH(v6, "{\"ip\":\"10.0.0.1\"}");
	NO_MATCH(v6, "{\"ip\":\"2001:db8:1234:1a00::1::\"}");
	NO_MATCH(v6, "{\"ip\":\"2001:db8:1234:1a00:0:0:0:0:0\"}");
	/* host bits in the base are ignored; /0, /32, /128 */
	MATCH("{\"ip\":[{\"cidr\":\"10.0.0.171/31\"}]}", "{\"ip\":\"10.0.0.170\"}");
	NO_MATCH("{\"ip\":[{\"cidr\":\"10.0.0.171/31\"}]}", "{\"ip\":\"10.0.0.169\"}");
	MATCH("{\"ip\":[{\"cidr\":\"1.2.3.4/0\"}]}", "{\"ip\":\"255.255.255.255\"}");
	MATCH("{\"ip\":[{\"cidr\":\"1.2.3.4/32\"}]}", "{\"ip\":\"1.2.3.4\"}");
	NO_MATCH("{\"ip\":[{\"cidr\":\"1.2.3.4/32\"}]}", "{\"ip\":\"1.2.3.5\"}");
	MATCH("{\"ip\":[{\"cidr\":\"::1/128\"}]}", "{\"ip\":\"0:0:0:0:0:0:0:1\"}");
	MATCH("{\"ip\":[{\"cidr\":\"::ffff:10.0.0.0/120\"}]}", "{\"ip\":\"::ffff:10.0.0.9\"}");
	MATCH("{\"ip\":[{\"cidr\":\"::/0\"}]}", "{\"ip\":\"fe80::1\"}");
	MATCH("{\"ip\":[{\"cidr\":\"1::/16\"}]}", "{\"ip\":\"1::\"}");
	MATCH("{\"ip\":[{\"cidr\":\"10.1.2.0/23\"}]}", "{\"ip\":\"10.1.3.200\"}");
	NO_MATCH("{\"ip\":[{\"cidr\":\"10.1.2.0/23\"}]}", "{\"ip\":\"10.1.4.0\"}");
}
END_TEST

START_TEST(or_groups)
{
	const char *p = "{\"source\":[\"s\"],\"$or\":[{\"a\":[1]},{\"b\":[2],\"c\":[3]}]}";

	MATCH(p, "{\"source\":\"s\",\"a\":1}");
	MATCH(p, "{\"source\":\"s\",\"b\":2,\"c\":3}");
	NO_MATCH(p, "{\"source\":\"s\",\"b\":2}");
	NO_MATCH(p, "{\"a\":1}");
	/* in a nested object, and nested in itself */
	p = "{\"d\":{\"$or\":[{\"x\":[1]},{\"$or\":[{\"y\":[2]},{\"z\":[3]}]}]}}";
	MATCH(p, "{\"d\":{\"z\":3}}");
	MATCH(p, "{\"d\":{\"x\":1}}");
	NO_MATCH(p, "{\"d\":{\"w\":1}}");
	NO_MATCH(p, "{\"z\":3}");
	/* the combined conditions hold for the same array element */
	p = "{\"e\":{\"f\":[\"A\"]},\"$or\":[{\"e\":{\"l\":[\"J\"]}},{\"e\":{\"l\":[\"K\"]}}]}";
	NO_MATCH(p, "{\"e\":[{\"f\":\"A\",\"l\":\"S\"},{\"f\":\"P\",\"l\":\"J\"}]}");
	MATCH(p, "{\"e\":[{\"f\":\"P\",\"l\":\"J\"},{\"f\":\"A\",\"l\":\"K\"}]}");
	/* several $or at several levels (sns/or-parallel) */
	p = "{\"$or\":[{\"m\":[\"c\"]},{\"n\":[\"e\"]}],"
	    "\"d\":{\"s\":[\"v\"],\"$or\":[{\"so\":[\"w\"]},{\"t\":[\"a\"]}]}}";
	MATCH(p, "{\"n\":\"e\",\"d\":{\"s\":\"v\",\"t\":\"a\"}}");
	NO_MATCH(p, "{\"n\":\"e\",\"d\":{\"t\":\"a\"}}");
	/* "$or" is only special as a key of a pattern object */
	MATCH("{\"a\":[\"$or\"]}", "{\"a\":\"$or\"}");
}
END_TEST

START_TEST(deep_nesting)
{
	buf p = BUF_INIT, e = BUF_INIT;
	filter *f;
	char *msg;
	json_value v;
	json_error jerr;

	/* 32 levels of keys are allowed, 33 are not */
	for (int i = 0; i < 31; i++)
		buf_addstr(&p, "{\"k\":");
	buf_addstr(&p, "{\"k\":[1]}");
	for (int i = 0; i < 31; i++)
		buf_addch(&p, '}');
	f = compile_ok(p.data);
	for (int i = 0; i < 31; i++)
		buf_addstr(&e, "{\"k\":[");
	buf_addstr(&e, "{\"k\":1}");
	for (int i = 0; i < 31; i++)
		buf_addstr(&e, "]}");
	ck_assert(json_parse(e.data, e.len, 1024, &v, &jerr));
	ck_assert(filter_match(f, v));
	filter_free(f);
	buf_reset(&p);
	for (int i = 0; i < 32; i++)
		buf_addstr(&p, "{\"k\":");
	buf_addstr(&p, "{\"k\":[1]}");
	for (int i = 0; i < 32; i++)
		buf_addch(&p, '}');
	msg = compile_err(p.data);
	ck_assert_msg(strstr(msg, "nested too deeply") != NULL, "%s", msg);
	free(msg);
	/* dotted keys count as levels */
	buf_reset(&p);
	buf_addstr(&p, "{\"");
	for (int i = 0; i < 32; i++)
		buf_addstr(&p, "k.");
	buf_addstr(&p, "k\":[1]}");
	msg = compile_err(p.data);
	ck_assert_msg(strstr(msg, "nested too deeply") != NULL, "%s", msg);
	free(msg);

	/* a hostile event: arrays 1000 deep under the matched key */
	f = compile_ok("{\"k\":[1],\"j\":{\"x\":[2]}}");
	buf_reset(&e);
	buf_addstr(&e, "{\"j\":");
	for (int i = 0; i < 1000; i++)
		buf_addch(&e, '[');
	buf_addstr(&e, "{\"x\":2}");
	for (int i = 0; i < 1000; i++)
		buf_addch(&e, ']');
	buf_addstr(&e, ",\"k\":");
	for (int i = 0; i < 1000; i++)
		buf_addch(&e, '[');
	buf_addch(&e, '1');
	for (int i = 0; i < 1000; i++)
		buf_addch(&e, ']');
	buf_addch(&e, '}');
	ck_assert(json_parse(e.data, e.len, 1024, &v, &jerr));
	ck_assert(filter_match(f, v));
	filter_free(f);
	buf_release(&p);
	buf_release(&e);
}
END_TEST

START_TEST(event_corner_cases)
{
	buf p = BUF_INIT, e = BUF_INIT;

	/* a key repeated in one event object counts at its first occurrence */
	MATCH("{\"a\":[1]}", "{\"a\":1,\"a\":2}");
	NO_MATCH("{\"a\":[2]}", "{\"a\":1,\"a\":2}");
	MATCH("{\"a\":{\"b\":[1]}}", "{\"a\":{\"b\":1},\"a\":{\"b\":2}}");
	NO_MATCH("{\"a\":{\"b\":[2]}}", "{\"a\":{\"b\":1},\"a\":{\"b\":2}}");
	NO_MATCH("{\"a\":[{\"exists\":false}]}", "{\"a\":1,\"a\":{}}");
	/* a dotted key and a nested object side by side are one path; under
	 * an array each element stands alone */
	MATCH("{\"a\":{\"b\":{\"c\":[1],\"d\":[2]}}}", "{\"a\":{\"b\":{\"c\":1},\"b.d\":2}}");
	MATCH("{\"a\":{\"b\":{\"c\":[1],\"d\":[2]}}}", "{\"a.b\":{\"c\":1},\"a.b.d\":2}");
	MATCH("{\"a\":{\"b\":[1]}}", "{\"a\":[{\"b\":0}],\"a.b\":1}");
	MATCH("{\"a\":{\"b\":[1]}}", "{\"a\":[{\"b\":0},{\"b\":1}],\"a.b\":3}");
	NO_MATCH("{\"a\":{\"b\":[1],\"c\":[2]}}", "{\"a\":[{\"b\":1},{\"c\":2}]}");
	MATCH("{\"a\":{\"b\":[1]}}", "{\"a\":5,\"a.b\":1}");
	MATCH("{\"a.\":[1]}", "{\"a\":{\"\":1}}");
	MATCH("{\"a\":{\"\":[1]}}", "{\"a.\":1}");
	/* keys and values that need decoding, short and long */
	buf_addstr(&p, "{\"k");
	buf_addstr(&e, "{\"k");
	for (int i = 0; i < 300; i++) {
		buf_addstr(&p, "\xc3\xa9");
		buf_addstr(&e, "\\u00e9");
	}
	buf_addstr(&p, "\":[{\"suffix\":\"\xc3\xa9z\"}]}");
	buf_addstr(&e, "\":\"");
	for (int i = 0; i < 300; i++)
		buf_addstr(&e, "\\u00c9");
	buf_addstr(&e, "\\u00e9z\"}");
	MATCH(p.data, e.data);
	/* a pattern object of many fields */
	buf_reset(&p);
	buf_reset(&e);
	buf_addch(&p, '{');
	buf_addch(&e, '{');
	for (int i = 0; i < 40; i++) {
		buf_printf(&p, "%s\"f%d\":[%d]", i ? "," : "", i, i);
		buf_printf(&e, "%s\"f%d\":%d", i ? "," : "", 39 - i, 39 - i);
	}
	buf_addch(&p, '}');
	buf_addch(&e, '}');
	MATCH(p.data, e.data);
	buf_release(&p);
	buf_release(&e);
	/* NUL bytes from \u0000 are ordinary bytes */
	MATCH("{\"a\":[\"x\\u0000y\"]}", "{\"a\":\"x\\u0000y\"}");
	NO_MATCH("{\"a\":[\"x\\u0000y\"]}", "{\"a\":\"x\"}");
	MATCH("{\"a\\u0000\":[1]}", "{\"a\\u0000\":1}");
	NO_MATCH("{\"a\\u0000\":[1]}", "{\"a\":1}");
}
END_TEST

START_TEST(limits)
{
	buf p = BUF_INIT;
	char *msg;

	/* 2^10 = 1024 combinations of $or: more than EventBridge's 1000 */
	buf_addch(&p, '{');
	for (int i = 0; i < 10; i++)
		buf_printf(&p, "%s\"k%d\":{\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", i ? "," : "", i);
	buf_addch(&p, '}');
	msg = compile_err(p.data);
	ck_assert_msg(strstr(msg, "too many combinations") != NULL, "%s", msg);
	free(msg);
	/* 2^9 = 512 are fine */
	buf_reset(&p);
	buf_addch(&p, '{');
	for (int i = 0; i < 9; i++)
		buf_printf(&p, "%s\"k%d\":{\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", i ? "," : "", i);
	buf_addch(&p, '}');
	filter_free(compile_ok(p.data));
	/* many fields under many combinations */
	buf_reset(&p);
	buf_addstr(&p, "{\"x\":{");
	for (int i = 0; i < 9; i++)
		buf_printf(&p, "%s\"k%d\":{\"$or\":[{\"a\":[1]},{\"b\":[2]}]}", i ? "," : "", i);
	buf_addstr(&p, "}");
	for (int i = 0; i < 400; i++)
		buf_printf(&p, ",\"l%d\":[1]", i);
	buf_addch(&p, '}');
	msg = compile_err(p.data);
	ck_assert_msg(strstr(msg, "too complex") != NULL, "%s", msg);
	free(msg);
	/* an $or of many wide alternatives */
	buf_reset(&p);
	buf_addstr(&p, "{\"$or\":[");
	for (int i = 0; i < 1001; i++)
		buf_printf(&p, "%s{\"a\":[%d]}", i ? "," : "", i);
	buf_addstr(&p, "]}");
	msg = compile_err(p.data);
	ck_assert_msg(strstr(msg, "too many combinations") != NULL, "%s", msg);
	free(msg);
	/* the text size */
	buf_reset(&p);
	buf_addstr(&p, "{\"a\":[\"");
	for (int i = 0; i < 70000; i++)
		buf_addch(&p, 'x');
	buf_addstr(&p, "\"]}");
	msg = compile_err(p.data);
	ck_assert_msg(strstr(msg, "too long") != NULL, "%s", msg);
	free(msg);
	buf_release(&p);
}
END_TEST

START_TEST(operator_errors)
{
	expect_error("{\"a\":[{}]}", "$.filter.a[0]: an operator object must not be empty");
	expect_error("{\"a\":[{\"prefix\":\"x\",\"suffix\":\"y\"}]}",
		     "$.filter.a[0]: an operator object must have exactly one key");
	expect_error_part("{\"a\":[{\"NUMERIC\":[\">\",1]}]}",
			  "$.filter.a[0]: unknown operator \"NUMERIC\"");
	expect_error_part("{\"a\":[{\"EXISTS\":true}]}", "unknown operator \"EXISTS\"");
	expect_error_part("{\"a\":[{\"exactly\":\"x\"}]}", "unknown operator \"exactly\"");
	expect_error("{\"a\":[{\"prefix\":[\"x\"]}]}", "$.filter.a[0].prefix: must be a "
		     "string or {\"equals-ignore-case\": string}, not an array");
	expect_error_part("{\"a\":[{\"prefix\":{\"equals-ignore-case\":1}}]}",
			  "equals-ignore-case must be a string, not a number");
	expect_error_part("{\"a\":[{\"prefix\":{\"exists\":true}}]}", "must be a string or");
	expect_error("{\"a\":[{\"equals-ignore-case\":[\"x\"]}]}",
		     "$.filter.a[0].equals-ignore-case: must be a string, not an array");
	expect_error("{\"a\":[{\"wildcard\":\"a**b\"}]}",
		     "$.filter.a[0].wildcard: invalid wildcard: consecutive wildcard characters");
	expect_error_part("{\"a\":[{\"wildcard\":\"a\\\\b\"}]}", "a backslash must escape");
	expect_error_part("{\"a\":[{\"wildcard\":\"a\\\\\"}]}", "a backslash must escape");
	expect_error_part("{\"a\":[{\"wildcard\":\"*:*:*:*:*:event-bus/*\"}]}",
			  "$.filter.a: wildcards are too complex");
	expect_error_part("{\"a\":[{\"wildcard\":\"*a*a*a*a*a*\"}]}", "too complex");
	/* the complexity counts every wildcard of the field */
	expect_error_part("{\"a\":[{\"wildcard\":\"*a*a*a*\"},{\"wildcard\":\"*a*a*\"},"
			  "{\"anything-but\":{\"wildcard\":\"*a*a*\"}}]}", "too complex");
	/* anything-but */
	expect_error_part("{\"a\":[{\"anything-but\":null}]}", "not null");
	expect_error_part("{\"a\":[{\"anything-but\":true}]}", "not true");
	expect_error("{\"a\":[{\"anything-but\":[]}]}",
		     "$.filter.a[0].anything-but: must not be an empty array");
	expect_error("{\"a\":[{\"anything-but\":[\"x\",1]}]}", "$.filter.a[0].anything-but: "
		     "an anything-but list must not mix strings and numbers");
	expect_error_part("{\"a\":[{\"anything-but\":[\"x\",[1]]}]}",
			  "$.filter.a[0].anything-but[1]: an anything-but list holds");
	expect_error("{\"a\":[{\"anything-but\":{\"prefix\":\"\"}}]}",
		     "$.filter.a[0].anything-but.prefix: must not be an empty string");
	expect_error_part("{\"a\":[{\"anything-but\":{\"suffix\":[\"x\",\"\"]}}]}",
			  "anything-but.suffix[1]: must not be an empty string");
	expect_error_part("{\"a\":[{\"anything-but\":{\"prefix\":{\"equals-ignore-case\":"
			  "\"x\"}}}]}", "must be a string or a list of strings, not an object");
	expect_error_part("{\"a\":[{\"anything-but\":{\"exists\":false}}]}",
			  "unsupported anything-but operator \"exists\"");
	expect_error_part("{\"a\":[{\"anything-but\":{\"numeric\":[\">\",1]}}]}",
			  "unsupported anything-but operator \"numeric\"");
	expect_error_part("{\"a\":[{\"anything-but\":{\"prefix\":\"a\",\"suffix\":\"b\"}}]}",
			  "exactly one key");
	expect_error_part("{\"a\":[{\"anything-but\":{\"wildcard\":[]}}]}", "empty array");
	expect_error_part("{\"a\":[{\"anything-but\":{\"equals-ignore-case\":[1]}}]}",
			  "equals-ignore-case[0]: must be a string, not a number");
	/* numeric */
	expect_error_part("{\"a\":[{\"numeric\":\">\"}]}", "numeric: must be an array");
	expect_error_part("{\"a\":[{\"numeric\":[]}]}", "numeric: must not be an empty array");
	expect_error_part("{\"a\":[{\"numeric\":[\"!=\",1]}]}", "unknown operator \"!=\"");
	expect_error_part("{\"a\":[{\"numeric\":[\">\"]}]}", "must be followed by a number");
	expect_error_part("{\"a\":[{\"numeric\":[\">\",\"1\"]}]}", "must be followed by a number");
	expect_error_part("{\"a\":[{\"numeric\":[\"=\",1,\"<\",2]}]}", "too many elements");
	expect_error_part("{\"a\":[{\"numeric\":[\"<\",1,\">\",0]}]}", "too many elements");
	expect_error_part("{\"a\":[{\"numeric\":[\">\",1,\">\",2]}]}", "a range is a lower bound");
	expect_error_part("{\"a\":[{\"numeric\":[\">\",1,\"<\"]}]}", "at [2] must be followed");
	expect_error_part("{\"a\":[{\"numeric\":[\">\",5,\"<\",5]}]}", "below the upper bound");
	expect_error_part("{\"a\":[{\"numeric\":[\">\",5,\"<\",1]}]}", "below the upper bound");
	expect_error_part("{\"a\":[{\"numeric\":[\">\",1,\"<\",5,\"<\",6]}]}", "too many terms");
	/* exists, cidr */
	expect_error("{\"a\":[{\"exists\":\"true\"}]}",
		     "$.filter.a[0].exists: must be true or false, not a string");
	expect_error_part("{\"a\":[{\"cidr\":\"10.0.0.0\"}]}", "one '/' required");
	expect_error_part("{\"a\":[{\"cidr\":\"10.0.0.0/8/8\"}]}", "one '/' required");
	expect_error_part("{\"a\":[{\"cidr\":\"10.0.0.0/x\"}]}", "number of bits");
	expect_error_part("{\"a\":[{\"cidr\":\"10.0.0.0/\"}]}", "number of bits");
	expect_error_part("{\"a\":[{\"cidr\":\"10.0.0.0/-1\"}]}", "number of bits");
	expect_error_part("{\"a\":[{\"cidr\":\"10.0.0.0/33\"}]}", "at most 32");
	expect_error_part("{\"a\":[{\"cidr\":\"::/129\"}]}", "at most 128");
	expect_error_part("{\"a\":[{\"cidr\":\"10.0.0.256/24\"}]}", "invalid IP address");
	expect_error_part("{\"a\":[{\"cidr\":\"1:2:3:4:5:6:7:8:9/64\"}]}", "invalid IP address");
	expect_error_part("{\"a\":[{\"cidr\":\"1:2:3:4:5:6:7:8::/64\"}]}", "invalid IP address");
	expect_error_part("{\"a\":[{\"cidr\":10}]}", "must be a string");
	/* $or */
	expect_error("{\"$or\":{\"a\":[1]}}",
		     "$.filter.$or: $or must be an array of at least two objects");
	expect_error("{\"$or\":[{\"a\":[1]}]}",
		     "$.filter.$or: $or must be an array of at least two objects");
	expect_error("{\"$or\":[{\"a\":[1]},[1]]}",
		     "$.filter.$or[1]: $or must be an array of objects, not an array");
	expect_error("{\"$or\":[{\"a\":[1]},{}]}", "$.filter.$or[1]: must not be an empty object");
	expect_error("{\"$or\":[{\"a\":[1]},{\"b\":2}]}",
		     "$.filter.$or[1].b: must be an object or an array");
}
END_TEST

/* --- the shared cases (tests/data/filter/cases.json) ------------------ */

static char *data_path(const char *name)
{
	const char *dir = getenv("EVSHARE_TEST_DATA");

	return xasprintf("%s/filter/%s", dir && *dir ? dir : "tests/data", name);
}

/* The member k of the case c, or a value of type 0. */
static json_value case_get(json_value c, const char *k)
{
	json_value v;

	if (!json_object_get(c, k, strlen(k), &v))
		v.type = 0;
	return v;
}

/* The pattern or the event of a case: the text of its "..._text" string,
 * else the text of its value as written in the file. */
static char *case_text(json_value c, const char *text_key, const char *key)
{
	json_value t = case_get(c, text_key), v = case_get(c, key);

	if (t.type == JSON_STRING)
		return json_string_dup(t, NULL);
	return v.type ? xstrndup(v.p, v.n) : xstrdup("");
}

/* Run one case; NULL if it passes, else a description (free it). */
static char *run_case(json_value c)
{
	char *name = json_string_dup(case_get(c, "name"), NULL);
	bool invalid = case_get(c, "invalid_pattern").type == JSON_TRUE;
	bool want = case_get(c, "match").type == JSON_TRUE;
	char *pattern = NULL, *event = NULL, *fail = NULL;
	filter *f = NULL;
	buf err = BUF_INIT;
	json_value ev;
	json_error jerr;
	es_result r;
	int got;

	ck_assert_ptr_nonnull(name);
	pattern = case_text(c, "pattern_text", "pattern");
	event = case_text(c, "event_text", "event");
	ck_assert(pattern && event);
	r = filter_compile(pattern, strlen(pattern), "$.filter", &f, &err);
	if (invalid) {
		if (r == ES_OK)
			fail = xasprintf("%s: invalid pattern %s was accepted", name, pattern);
		goto done;
	}
	if (r != ES_OK) {
		fail = xasprintf("%s: pattern %s rejected: %s", name, pattern, err.data);
		goto done;
	}
	if (!json_parse(event, strlen(event), JSON_DEFAULT_MAX_DEPTH, &ev, &jerr)) {
		fail = xasprintf("%s: bad event: %s", name, jerr.reason);
		goto done;
	}
	got = match_both(f, event, strlen(event));
	if (got == -1)
		fail = xasprintf("%s: %s on %s: the members path disagrees", name, pattern, event);
	else if (got != want)
		fail = xasprintf("%s: %s %s %s", name, pattern,
				 want ? "should match" : "should not match", event);
done:
	filter_free(f);
	buf_release(&err);
	free(pattern);
	free(event);
	free(name);
	return fail;
}

START_TEST(shared_cases)
{
	char *path = data_path("cases.json");
	buf text = BUF_INIT;
	json_value cases, c;
	json_error jerr;
	json_iter it;
	int total = 0, failed = 0, invalid = 0;

	ck_assert_msg(read_file(path, &text, 4 << 20) == 0, "cannot read %s", path);
	ck_assert(json_parse(text.data, text.len, JSON_DEFAULT_MAX_DEPTH, &cases, &jerr));
	json_iter_init(&it, cases);
	while (json_iter_element(&it, &c)) {
		char *fail = run_case(c);

		total++;
		if (case_get(c, "invalid_pattern").type == JSON_TRUE)
			invalid++;
		if (fail) {
			fprintf(stderr, "filter case failed: %s\n", fail);
			failed++;
			free(fail);
		}
	}
	if (getenv("EVSHARE_TEST_VERBOSE"))
		fprintf(stderr, "filter: %d of %d shared cases pass (%d invalid patterns)\n",
			total - failed, total, invalid);
	ck_assert_int_ge(total, 158);
	ck_assert_msg(failed == 0, "%d of %d shared cases failed", failed, total);
	buf_release(&text);
	free(path);
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
	tc = tcase_create("operators");
	tcase_add_test(tc, prefix_and_suffix);
	tcase_add_test(tc, equals_ignore_case_unicode);
	tcase_add_test(tc, wildcards);
	tcase_add_test(tc, wildcard_is_linear_on_long_values);
	tcase_add_test(tc, anything_but);
	tcase_add_test(tc, numeric);
	tcase_add_test(tc, exists);
	tcase_add_test(tc, cidr);
	tcase_add_test(tc, or_groups);
	tcase_add_test(tc, deep_nesting);
	tcase_add_test(tc, event_corner_cases);
	tcase_add_test(tc, limits);
	tcase_add_test(tc, operator_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("cases");
	tcase_add_test(tc, shared_cases);
	suite_add_tcase(s, tc);
	return s;
}
