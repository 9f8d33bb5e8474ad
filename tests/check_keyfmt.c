/*
 * check_keyfmt.c - output key templates: rendering with fixed times,
 * {seq} padding, rejected templates, keyfmt_uses_source.
 *
 * Times were converted by hand (and checked with Python's datetime):
 * 1795740372000 ms = 2026-11-27T00:46:12Z, 1709251199999 = 2024-02-29T23:59:59.999Z,
 * 2147483648000 = 2038-01-19T03:14:08Z, 4133927100000 = 2100-12-31T09:05:00Z.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "keyfmt.h"
#include "util.h"

static keyfmt *compile_ok(const char *text)
{
	keyfmt *k = NULL;
	buf err = BUF_INIT;
	es_result r = keyfmt_compile(text, &k, &err);

	ck_assert_msg(r == ES_OK, "'%s' rejected: %s", text, err.data ? err.data : "");
	ck_assert_ptr_nonnull(k);
	buf_release(&err);
	return k;
}

/* Rejected; the message must contain `part` (when not NULL). */
static void compile_bad(const char *text, const char *part)
{
	keyfmt *k = (keyfmt *)1;
	buf err = BUF_INIT;
	es_result r = keyfmt_compile(text, &k, &err);

	ck_assert_msg(r == ES_ERR_CONFIG, "'%s' accepted", text);
	ck_assert_ptr_null(k);
	ck_assert_msg(err.len > 0, "'%s': no message", text);
	if (part)
		ck_assert_msg(strstr(err.data, part) != NULL, "'%s': message '%s', want '%s'",
			      text, err.data, part);
	buf_release(&err);
}

static void expect_render(const char *tmpl, const keyfmt_vars *v, const char *want)
{
	keyfmt *k = compile_ok(tmpl);
	buf out = BUF_INIT;

	ck_assert_msg(keyfmt_render(k, v, &out), "'%s' did not render", tmpl);
	ck_assert_msg(out.data && !strcmp(out.data, want), "'%s': got '%s', want '%s'",
		      tmpl, out.data ? out.data : "", want);
	buf_release(&out);
	keyfmt_free(k);
}

START_TEST(render_every_placeholder)
{
	keyfmt_vars v = { "TN-partner-0001", "TN-a1db", 1795740372000LL,
			  "20261127T004612Z-1a2b3c4d", 1 };

	expect_render(KEYFMT_DEFAULT, &v,
		      "TN-partner-0001/2026/11/27/20261127T004612Z-1a2b3c4d-000001.ndjson.gz");
	expect_render("{subscriber}/{source}/{yyyy}-{mm}-{dd}T{hh}/{run_id}/{seq}", &v,
		      "TN-partner-0001/TN-a1db/2026-11-27T00/20261127T004612Z-1a2b3c4d/000001");
	expect_render("x{run_id}{seq}y", &v, "x20261127T004612Z-1a2b3c4d000001y");
	/* the same placeholder twice */
	expect_render("{hh}{hh}/{run_id}.{seq}.{seq}", &v,
		      "0000/20261127T004612Z-1a2b3c4d.000001.000001");

	v.run_start_ms = 1709251199999LL;   /* leap day, last millisecond */
	expect_render("{yyyy}/{mm}/{dd}/{hh}/{run_id}-{seq}", &v,
		      "2024/02/29/23/20261127T004612Z-1a2b3c4d-000001");
	v.run_start_ms = 0;
	expect_render("{yyyy}/{mm}/{dd}/{hh}/{run_id}-{seq}", &v,
		      "1970/01/01/00/20261127T004612Z-1a2b3c4d-000001");
	v.run_start_ms = 2147483648000LL;   /* past 2^31 seconds */
	expect_render("{yyyy}/{mm}/{dd}/{hh}/{run_id}-{seq}", &v,
		      "2038/01/19/03/20261127T004612Z-1a2b3c4d-000001");
	v.run_start_ms = 4133927100000LL;
	expect_render("{yyyy}/{mm}/{dd}/{hh}/{run_id}-{seq}", &v,
		      "2100/12/31/09/20261127T004612Z-1a2b3c4d-000001");
}
END_TEST

START_TEST(seq_padding)
{
	static const struct { unsigned seq; const char *want; } cases[] = {
		{ 1, "r-000001" }, { 9, "r-000009" }, { 10, "r-000010" },
		{ 123, "r-000123" }, { 999999, "r-999999" }, { 1000000, "r-1000000" },
		{ 0, "r-000000" },
	};
	keyfmt_vars v = { "S", NULL, 0, "r", 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v.seq = cases[i].seq;
		expect_render("{run_id}-{seq}", &v, cases[i].want);
	}
}
END_TEST

START_TEST(render_appends)
{
	keyfmt *k = compile_ok("{subscriber}/{run_id}-{seq}");
	keyfmt_vars v = { "A", NULL, 0, "R", 2 };
	buf out = BUF_INIT;

	buf_addstr(&out, "prefix/");
	ck_assert(keyfmt_render(k, &v, &out));
	ck_assert_str_eq(out.data, "prefix/A/R-000002");
	keyfmt_free(k);
	buf_release(&out);
}
END_TEST

START_TEST(render_refuses_unsafe_results)
{
	/* values are checked by the config loader; render checks anyway */
	keyfmt *k = compile_ok("{subscriber}/{run_id}-{seq}");
	keyfmt_vars v = { "..", NULL, 0, "R", 1 };
	buf out = BUF_INIT;

	ck_assert(!keyfmt_render(k, &v, &out));
	buf_reset(&out);
	v.subscriber = "";
	ck_assert(!keyfmt_render(k, &v, &out));   /* leading '/' */
	buf_reset(&out);
	v.subscriber = "a/b";
	ck_assert(keyfmt_render(k, &v, &out));    /* still a relative key */
	buf_reset(&out);
	v.subscriber = "a\\b";
	ck_assert(!keyfmt_render(k, &v, &out));
	buf_reset(&out);
	v.subscriber = "a\nb";
	ck_assert(!keyfmt_render(k, &v, &out));
	keyfmt_free(k);

	/* a {source} template rendered without a source makes an empty segment */
	k = compile_ok("{subscriber}/{source}/{run_id}-{seq}");
	buf_reset(&out);
	v.subscriber = "S";
	v.source = NULL;
	ck_assert(!keyfmt_render(k, &v, &out));
	keyfmt_free(k);
	buf_release(&out);
}
END_TEST

START_TEST(rejected_templates)
{
	/* {run_id} and {seq} are both required */
	compile_bad("{subscriber}/{yyyy}/{seq}.gz", "{run_id}");
	compile_bad("{subscriber}/{run_id}.gz", "{seq}");
	compile_bad("out.ndjson.gz", "{run_id}");
	compile_bad("", NULL);
	/* unknown placeholders, including near misses */
	compile_bad("{run_id}-{seq}-{org}", "unknown placeholder '{org}'");
	compile_bad("{run_id}-{seq}-{}", "unknown placeholder");
	compile_bad("{run_id}-{SEQ}", "unknown placeholder '{SEQ}'");
	compile_bad("{run_id}-{seq }", "unknown placeholder");
	compile_bad("{run_id}-{ seq}", "unknown placeholder");
	compile_bad("{{run_id}}-{seq}", "unknown placeholder");
	compile_bad("{run_id}-{yy}{seq}", "unknown placeholder '{yy}'");
	/* unbalanced braces */
	compile_bad("{run_id}-{seq", "'{' without '}' at position 10");
	compile_bad("{run_id}-seq}", "'}' without '{' at position 13");
	compile_bad("a}{run_id}{seq}", "'}' without '{' at position 2");
	compile_bad("{run_id}{seq}{", "'{' without '}'");
	/* escaping the destination prefix */
	compile_bad("/{run_id}-{seq}", NULL);
	compile_bad("../{run_id}-{seq}", NULL);
	compile_bad("a/../{run_id}-{seq}", NULL);
	compile_bad("a/..", NULL);
	compile_bad("{run_id}-{seq}/..", NULL);
	compile_bad("./{run_id}-{seq}", NULL);
	compile_bad("a//{run_id}-{seq}", NULL);
	compile_bad("a\\{run_id}-{seq}", NULL);
	compile_bad("a\\..\\{run_id}-{seq}", NULL);
	compile_bad("a\n{run_id}-{seq}", NULL);
	compile_bad("a\t{run_id}-{seq}", NULL);
	compile_bad("a\x01{run_id}-{seq}", NULL);
	compile_bad("a\x7f{run_id}-{seq}", NULL);
	/* the reason for an unsafe template names the rule */
	compile_bad("../{run_id}-{seq}", "'..'");
	/* a trailing '/' makes an empty last segment (a key naming a
	 * "directory"), which no backend can store as an object */
	compile_bad("{run_id}-{seq}/", NULL);
	compile_bad("{subscriber}/{run_id}/{seq}/", NULL);
}
END_TEST

START_TEST(accepted_templates)
{
	static const char *ok[] = {
		KEYFMT_DEFAULT,
		"{run_id}{seq}",
		"a..b/{run_id}-{seq}",          /* '..' inside a segment is harmless */
		".hidden/{run_id}-{seq}",
		"{subscriber}/{source}/{run_id}-{seq}.ndjson.gz",
		"dt={yyyy}-{mm}-{dd}/hour={hh}/{run_id}_{seq}.json.gz",
		"sp ace/+plus/%25/{run_id}-{seq}",
		"\xc3\xa9t\xc3\xa9/{run_id}-{seq}",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		keyfmt *k = compile_ok(ok[i]);

		keyfmt_free(k);
	}
}
END_TEST

START_TEST(uses_source)
{
	keyfmt *k;

	k = compile_ok(KEYFMT_DEFAULT);
	ck_assert(!keyfmt_uses_source(k));
	keyfmt_free(k);
	k = compile_ok("{source}/{run_id}-{seq}");
	ck_assert(keyfmt_uses_source(k));
	keyfmt_free(k);
	k = compile_ok("x/{run_id}-{seq}-{source}");
	ck_assert(keyfmt_uses_source(k));
	keyfmt_free(k);
	/* the word in plain text is not the placeholder */
	k = compile_ok("source/{run_id}-{seq}");
	ck_assert(!keyfmt_uses_source(k));
	keyfmt_free(k);
	keyfmt_free(NULL);
}
END_TEST

/* Two key spaces, and whether they may share a key. */
static const struct meet_case {
	const char *pa, *fa, *sa, *srca;
	const char *pb, *fb, *sb, *srcb;
	bool meet;
} meet_cases[] = {
	/* the same prefix and a template without {subscriber} */
	{ "in/", "{run_id}-{seq}", "P1", "A", "in/", "{run_id}-{seq}", "P2", "B", true },
	/* the issue's case: the folder moved from the prefix to the template */
	{ "", "x/{run_id}-{seq}", "P1", "A", "x/", "{run_id}-{seq}", "P2", "B", true },
	/* {subscriber} separates */
	{ "in/", KEYFMT_DEFAULT, "P1", "A", "in/", KEYFMT_DEFAULT, "P2", "B", false },
	/* ... unless one org_id plus a literal spells the other */
	{ "in/", "{subscriber}/{run_id}-{seq}", "P1", "A", "in/P1/", "{run_id}-{seq}", "P2", "B",
	  true },
	{ "in/", "{subscriber}-{run_id}-{seq}", "P", "A", "in/", "{subscriber}{run_id}-{seq}", "P-",
	  "B", true },
	{ "in/", "{subscriber}-{run_id}-{seq}", "P", "A", "in/", "{subscriber}/{run_id}-{seq}", "P-",
	  "B", false },
	/* a suffix separates */
	{ "", "{run_id}-{seq}.gz", "P1", "A", "", "{run_id}-{seq}.json", "P2", "B", false },
	/* {seq} takes more than six digits: the digits cannot stand for ".gz" */
	{ "", "{run_id}-{seq}", "P1", "A", "", "{run_id}-{seq}.gz", "P2", "B", false },
	/* ... but can for "7" */
	{ "", "{run_id}-{seq}", "P1", "A", "", "{run_id}-{seq}7", "P2", "B", true },
	/* {source} of shared links meets a literal org_id */
	{ "", "{source}/{run_id}-{seq}", "P1", "TN-a,TN-b", "TN-b/", "{run_id}-{seq}", "P2", "C",
	  true },
	{ "", "{source}/{run_id}-{seq}", "P1", "TN-a,TN-b", "TN-c/", "{run_id}-{seq}", "P2", "C",
	  false },
	{ "", "{source}/{run_id}-{seq}", "P1", "TN-a", "", "{source}/{run_id}-{seq}", "P2", "TN-a",
	  true },
	{ "", "{source}/{run_id}-{seq}", "P1", "TN-a", "", "{source}/{run_id}-{seq}", "P2", "TN-ab",
	  false },
	/* dates against a run id: a run id has a 'T' and a 'Z' */
	{ "", "{yyyy}{mm}{dd}/{run_id}-{seq}", "P1", "A", "", "{run_id}/{run_id}-{seq}", "P2", "B",
	  false },
	{ "", "{yyyy}{mm}{dd}T{hh}0000Z-{run_id}-{seq}", "P1", "A", "", "{run_id}-{run_id}-{seq}",
	  "P2", "B", false },
	{ "", "{yyyy}{mm}{dd}T{hh}0000Z-00000000-{seq}/{run_id}", "P1", "A", "",
	  "{run_id}-{seq}/{run_id}", "P2", "B", true },
	/* different prefixes never meet */
	{ "a/", "{run_id}-{seq}", "P1", "A", "b/", "{run_id}-{seq}", "P2", "B", false },
	/* file: spaces are absolute paths */
	{ "/data/out/", "y/{subscriber}-{run_id}-{seq}", "P1", "A", "/data/out/y/",
	  "P1-{run_id}-{seq}", "P2", "B", true },
	{ "/data/out/", "y/{subscriber}-{run_id}-{seq}", "P1", "A", "/data/out/y/",
	  "P2-{run_id}-{seq}", "P2", "B", false },
};

static keyfmt_space make_space(const char *prefix, const char *fmt, const char *sub,
			       const char *sources, keyfmt **k, char ***srcv)
{
	keyfmt_space sp;
	size_t n = 0;
	char *copy = xstrdup(sources), *save = NULL;

	*k = compile_ok(fmt);
	*srcv = xcalloc(8, sizeof(char *));
	for (char *t = strtok_r(copy, ",", &save); t && n < 8; t = strtok_r(NULL, ",", &save))
		(*srcv)[n++] = xstrdup(t);
	free(copy);
	sp.prefix = prefix;
	sp.fmt = *k;
	sp.subscriber = sub;
	sp.sources = (const char *const *)*srcv;
	sp.nsources = n;
	return sp;
}

static void free_space(keyfmt *k, char **srcv)
{
	for (size_t i = 0; i < 8 && srcv[i]; i++)
		free(srcv[i]);
	free(srcv);
	keyfmt_free(k);
}

START_TEST(spaces_meet_table)
{
	for (size_t i = 0; i < sizeof(meet_cases) / sizeof(meet_cases[0]); i++) {
		const struct meet_case *mc = &meet_cases[i];
		keyfmt *ka, *kb;
		char **va, **vb;
		keyfmt_space a = make_space(mc->pa, mc->fa, mc->sa, mc->srca, &ka, &va);
		keyfmt_space b = make_space(mc->pb, mc->fb, mc->sb, mc->srcb, &kb, &vb);
		buf ex = BUF_INIT, ex2 = BUF_INIT;
		bool m = keyfmt_spaces_meet(&a, &b, &ex);

		ck_assert_msg(m == mc->meet, "case %zu: '%s%s' vs '%s%s': meet %d, want %d (%s)",
			      i, mc->pa, mc->fa, mc->pb, mc->fb, m, mc->meet, ex.data ? ex.data : "");
		/* symmetric */
		ck_assert_msg(keyfmt_spaces_meet(&b, &a, &ex2) == m, "case %zu not symmetric", i);
		if (m) {
			/* the example is a key of both: it starts with both prefixes */
			ck_assert_msg(ex.data && !strncmp(ex.data, mc->pa, strlen(mc->pa)) &&
				      !strncmp(ex.data, mc->pb, strlen(mc->pb)),
				      "case %zu: example '%s'", i, ex.data ? ex.data : "(none)");
			ck_assert_str_eq(ex.data, ex2.data);
		}
		buf_release(&ex);
		buf_release(&ex2);
		free_space(ka, va);
		free_space(kb, vb);
	}
}
END_TEST

/* The cheap test never rules out a pair that meets, and rules out pairs
 * whose literal texts differ. */
START_TEST(space_literals)
{
	size_t ruled_out = 0;

	for (size_t i = 0; i < sizeof(meet_cases) / sizeof(meet_cases[0]); i++) {
		const struct meet_case *mc = &meet_cases[i];
		keyfmt *ka, *kb;
		char **va, **vb, **la, **lb;
		keyfmt_space a = make_space(mc->pa, mc->fa, mc->sa, mc->srca, &ka, &va);
		keyfmt_space b = make_space(mc->pb, mc->fb, mc->sb, mc->srcb, &kb, &vb);
		size_t na = keyfmt_space_literals(&a, &la), nb = keyfmt_space_literals(&b, &lb);
		bool maybe = keyfmt_literals_meet(la, na, lb, nb);

		ck_assert_msg(maybe || !mc->meet, "case %zu ruled out but meets", i);
		ruled_out += !maybe;
		for (size_t k = 0; k < na; k++)
			free(la[k]);
		for (size_t k = 0; k < nb; k++)
			free(lb[k]);
		free(la);
		free(lb);
		free_space(ka, va);
		free_space(kb, vb);
	}
	ck_assert_uint_ge(ruled_out, 4);
	{
		keyfmt *k;
		char **v, **l;
		keyfmt_space sp = make_space("in/", "{source}/{subscriber}/{run_id}-{seq}", "P1",
					     "TN-a,TN-b", &k, &v);
		size_t n = keyfmt_space_literals(&sp, &l);

		ck_assert_uint_eq(n, 2);
		ck_assert_str_eq(l[0], "in/TN-a/P1/");
		ck_assert_str_eq(l[1], "in/TN-b/P1/");
		for (size_t i = 0; i < n; i++)
			free(l[i]);
		free(l);
		free_space(k, v);
	}
}
END_TEST

/* The example of a meeting is a key both templates really render. */
START_TEST(spaces_meet_example_is_rendered)
{
	keyfmt *ka, *kb;
	char **va, **vb;
	keyfmt_space a = make_space("", "x/{run_id}-{seq}", "P1", "A", &ka, &va);
	keyfmt_space b = make_space("x/", "{run_id}-{seq}", "P2", "B", &kb, &vb);
	keyfmt_vars v = { "P2", "B", 0, "00000000T000000Z-00000000", 0 };
	buf ex = BUF_INIT, r = BUF_INIT;

	ck_assert(keyfmt_spaces_meet(&a, &b, &ex));
	buf_addstr(&r, "x/");
	ck_assert(keyfmt_render(kb, &v, &r));
	ck_assert_str_eq(ex.data, r.data);
	buf_release(&ex);
	buf_release(&r);
	free_space(ka, va);
	free_space(kb, vb);
}
END_TEST

/* Many linked sources on both sides: the search stays small. */
START_TEST(spaces_meet_many_sources)
{
	keyfmt *ka = compile_ok("{source}/{subscriber}/{run_id}-{seq}");
	keyfmt *kb = compile_ok("{source}/{subscriber}/{run_id}-{seq}");
	char **srcs = xcalloc(2000, sizeof(char *));
	keyfmt_space a, b;

	for (size_t i = 0; i < 2000; i++)
		srcs[i] = xasprintf("TN-%08zx-4e4e-315f-4a67-9036", i * 7919);
	a = (keyfmt_space){ "", ka, "TN-partner-1", (const char *const *)srcs, 2000 };
	b = (keyfmt_space){ "", kb, "TN-partner-2", (const char *const *)srcs, 2000 };
	ck_assert(!keyfmt_spaces_meet(&a, &b, NULL));
	b.subscriber = "TN-partner-1";
	ck_assert(keyfmt_spaces_meet(&a, &b, NULL));
	for (size_t i = 0; i < 2000; i++)
		free(srcs[i]);
	free(srcs);
	keyfmt_free(ka);
	keyfmt_free(kb);
}
END_TEST

Suite *keyfmt_suite(void)
{
	Suite *s = suite_create("keyfmt");
	TCase *tc = tcase_create("keyfmt");

	tcase_add_test(tc, render_every_placeholder);
	tcase_add_test(tc, seq_padding);
	tcase_add_test(tc, render_appends);
	tcase_add_test(tc, render_refuses_unsafe_results);
	tcase_add_test(tc, rejected_templates);
	tcase_add_test(tc, accepted_templates);
	tcase_add_test(tc, uses_source);
	tcase_add_test(tc, spaces_meet_table);
	tcase_add_test(tc, spaces_meet_example_is_rendered);
	tcase_add_test(tc, space_literals);
	tcase_add_test(tc, spaces_meet_many_sources);
	suite_add_tcase(s, tc);
	return s;
}
