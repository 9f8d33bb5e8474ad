/*
 * check_plan.c - the plan journal: plan_to_json and plan_from_json give
 * back the same plan and configuration; a journal that is not JSON, or
 * holds numbers its fields cannot take, is corrupt (ES_ERR_STATE).
 * (plan_build is exercised by the integration suites, on real stores.)
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "plan.h"
#include "util.h"

static const char config_text[] =
	"{\"direct_subscribers\":[{\"org_id\":\"A\",\"source\":\"file:///in/a/\"}],"
	"\"additional_subscribers\":[{\"org_id\":\"B\",\"links\":[\"A\"],"
	"\"destination\":\"file:///out/b/\"}]}";

/* A plan of one file (key k) for B, and its configuration. */
static char *journal_of(const char *key, size_t *len)
{
	config *cfg = NULL;
	buf err = BUF_INIT;
	plan p;
	char *json;

	ck_assert_int_eq(config_parse(config_text, sizeof(config_text) - 1, "t.json", "/cfg",
				      &cfg, &err), ES_OK);
	memset(&p, 0, sizeof(p));
	snprintf(p.run_id, sizeof(p.run_id), "20261127T004612Z-1a2b3c4d");
	p.started_ms = 1795740372000;
	p.objects_listed = 3;
	p.listed = xcalloc(1, sizeof(bool));
	p.listed[0] = true;
	p.min_pending_ms = xcalloc(1, sizeof(int64_t));
	p.min_pending_ms[0] = 1795740000000;
	p.files = xcalloc(1, sizeof(*p.files));
	p.nfiles = p.alloc = 1;
	p.files[0].obj.key = xstrdup(key);
	p.files[0].obj.etag = xstrdup("e1");
	p.files[0].obj.size = 959;
	p.files[0].obj.mtime_ms = 9007199254740991;   /* 2^53 - 1: exact (not 15 digits) */
	p.files[0].subs = xcalloc(1, sizeof(size_t));
	p.files[0].nsubs = 1;
	json = plan_to_json(&p, cfg, len);
	plan_release(&p);
	config_free(cfg);
	buf_release(&err);
	return json;
}

START_TEST(round_trip_with_key_not_utf8)
{
	size_t len;
	char *json = journal_of("2026/11/26/caf\xe9.ndjson.gz", &len);
	config *cfg = NULL;
	plan p;

	ck_assert_int_eq(plan_from_json(json, len, &p, &cfg), ES_OK);
	ck_assert_str_eq(p.run_id, "20261127T004612Z-1a2b3c4d");
	ck_assert_int_eq(p.started_ms, 1795740372000);
	ck_assert_uint_eq(p.objects_listed, 3);
	ck_assert(p.listed[0]);
	ck_assert_int_eq(p.min_pending_ms[0], 1795740000000);
	ck_assert_uint_eq(p.nfiles, 1);
	ck_assert_str_eq(p.files[0].obj.key, "2026/11/26/caf\xe9.ndjson.gz");
	ck_assert_uint_eq(p.files[0].obj.size, 959);
	ck_assert_int_eq(p.files[0].obj.mtime_ms, 9007199254740991);
	ck_assert_uint_eq(p.files[0].nsubs, 1);
	ck_assert_uint_eq(p.files[0].subs[0], 0);
	ck_assert_str_eq(cfg->additional[0].org_id, "B");
	plan_release(&p);
	config_free(cfg);
	free(json);
}
END_TEST

/* Swap the first `from` in json for `to`. */
static char *swap(const char *json, const char *from, const char *to)
{
	const char *at = strstr(json, from);

	ck_assert_ptr_nonnull(at);
	return xasprintf("%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
}

/* (Found by fuzz_state: the reader used before json.c took data after the
 * journal, and numbers out of range were converted to int64 and uint64
 * regardless.)  Also: a string holding U+0000 is no string of evshare's
 * (it writes C strings), an integer with a fraction is none, and "sources"
 * and "files" are lists. */
START_TEST(corrupt_journal_refused)
{
	size_t len;
	char *json = journal_of("k", &len);
	char *bad[] = {
		xasprintf("%s}", json),
		xasprintf("%s\n%s", json, json),
		swap(json, "\"size\":959", "\"size\":-959"),
		swap(json, "\"size\":959", "\"size\":1e300"),
		swap(json, "\"mtime_ms\":9007199254740991", "\"mtime_ms\":-1e300"),
		swap(json, "\"started_ms\":1795740372000", "\"started_ms\":1e19"),
		swap(json, "\"objects_listed\":3", "\"objects_listed\":-3"),
		swap(json, "\"min_pending_ms\":1795740000000", "\"min_pending_ms\":1e300"),
		swap(json, "\"size\":959", "\"size\":0959"),
		swap(json, "\"size\":959", "\"size\":959.5"),
		swap(json, "\"mtime_ms\":9007199254740991", "\"mtime_ms\":9223372036854775808"),
		swap(json, "\"etag\":\"e1\"", "\"etag\":\"e\\u00001\""),
		swap(json, "\"key\":\"k\"", "\"key\":\"k\\u0000.gz\""),
		swap(json, "\"run_id\":\"", "\"run_id\":\"\\u0000"),
		swap(json, "\"subscribers\":[\"B\"]", "\"subscribers\":[\"B\\u0000\"]"),
		swap(json, "\"files\":[", "\"files\":{\"f\":"),
		swap(json, "\"sources\":[", "\"sources\":\"A\",\"x\":["),
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config *cfg = (config *)1;
		plan p;

		ck_assert_msg(plan_from_json(bad[i], strlen(bad[i]), &p, &cfg) == ES_ERR_STATE,
			      "accepted: %s", bad[i]);
		ck_assert_ptr_null(cfg);
		ck_assert_uint_eq(p.nfiles, 0);
		free(bad[i]);
	}
	free(json);
}
END_TEST

/* A pending part's plan as the cJSON-era writer left it (tests/data/state/)
 * reads, with its configuration, and writes back to a plan that reads the
 * same: owed outputs survive an upgrade. */
static void assert_cjson_era_part(const plan *p, const config *cfg)
{
	ck_assert_str_eq(p->run_id, "20261205T200126Z-6ab5b7c6");
	ck_assert_uint_eq(p->nfiles, 7);
	ck_assert_str_eq(p->files[3].obj.key, "2026/11/26/broken.ndjson.gz");
	ck_assert_uint_eq(p->files[3].obj.size, 15);
	ck_assert_uint_eq(p->files[3].source, 1);
	for (size_t i = 0; i < p->nfiles; i++) {
		ck_assert_uint_eq(p->files[i].nsubs, 1);
		ck_assert_str_eq(cfg->additional[p->files[i].subs[0]].org_id, "TN-partner-0002");
	}
	ck_assert_uint_eq(cfg->nadditional, 2);
	ck_assert_str_eq(cfg->direct[1].org_id, "TN-1234e4e-531f-jhft-5896-asades55655");
}

START_TEST(part_written_by_cjson_reads)
{
	const char *env = getenv("EVSHARE_TEST_DATA");
	char *path = xasprintf("%s/state/cjson-era/part.json", env && *env ? env : "tests/data");
	buf text = BUF_INIT;
	config *cfg = NULL, *cfg2 = NULL;
	plan p, q;
	char *again;
	size_t len;

	ck_assert_msg(read_file(path, &text, 1 << 20) == 0, "cannot read %s", path);
	ck_assert_int_eq(plan_from_json(text.data, text.len, &p, &cfg), ES_OK);
	assert_cjson_era_part(&p, cfg);
	again = plan_to_json(&p, cfg, &len);
	ck_assert_int_eq(plan_from_json(again, len, &q, &cfg2), ES_OK);
	assert_cjson_era_part(&q, cfg2);
	plan_release(&p);
	plan_release(&q);
	config_free(cfg);
	config_free(cfg2);
	free(again);
	buf_release(&text);
	free(path);
}
END_TEST

/* Integers come back exactly in any notation; a key that is not UTF-8
 * too (above). */
START_TEST(integers_in_any_notation)
{
	size_t len;
	char *json = journal_of("k", &len);
	char *alt = swap(json, "\"size\":959", "\"size\":9.59e2");
	char *big = swap(alt, "\"mtime_ms\":9007199254740991", "\"mtime_ms\":9223372036854775807");
	config *cfg = NULL;
	plan p;

	ck_assert_int_eq(plan_from_json(big, strlen(big), &p, &cfg), ES_OK);
	ck_assert_uint_eq(p.files[0].obj.size, 959);
	ck_assert_int_eq(p.files[0].obj.mtime_ms, INT64_MAX);
	plan_release(&p);
	config_free(cfg);
	free(big);
	free(alt);
	free(json);
}
END_TEST

Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, round_trip_with_key_not_utf8);
	tcase_add_test(tc, corrupt_journal_refused);
	tcase_add_test(tc, integers_in_any_notation);
	tcase_add_test(tc, part_written_by_cjson_reads);
	suite_add_tcase(s, tc);
	return s;
}
