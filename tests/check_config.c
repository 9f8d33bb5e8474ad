/*
 * check_config.c - configuration parsing and validation (config_parse with
 * a base directory): every field of a full config, the defaults, relative
 * paths, location overrides, and the JSON path named by each error.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "filter.h"
#include "json.h"
#include "keyfmt.h"
#include "util.h"

#define BASE "/cfg/base"

static config *parse_ok_base(const char *text, const char *base)
{
	config *c = NULL;
	buf err = BUF_INIT;
	es_result r = config_parse(text, strlen(text), "test.json", base, &c, &err);

	ck_assert_msg(r == ES_OK, "config rejected:\n%s", err.data ? err.data : "");
	ck_assert_ptr_nonnull(c);
	buf_release(&err);
	return c;
}

static config *parse_ok(const char *text)
{
	return parse_ok_base(text, BASE);
}

/* Parse a config that must fail; returns the messages (free them). */
static char *parse_bad(const char *text)
{
	config *c = (config *)1;
	buf err = BUF_INIT;
	es_result r = config_parse(text, strlen(text), "test.json", BASE, &c, &err);

	ck_assert_msg(r == ES_ERR_CONFIG, "config accepted:\n%s", text);
	ck_assert_ptr_null(c);
	ck_assert_msg(err.len > 0 && err.data[err.len - 1] == '\n',
		      "messages must be lines: '%s'", err.data ? err.data : "");
	return buf_detach(&err, NULL);
}

/* Is there a line "PATH: ...PART..."? */
static bool has_error(const char *msgs, const char *path, const char *part)
{
	const char *line = msgs;
	size_t plen = strlen(path);

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len > plen + 1 && !strncmp(line, path, plen) && line[plen] == ':' &&
		    line[plen + 1] == ' ') {
			char *l = xstrndup(line, len);
			bool found = !part || strstr(l + plen, part) != NULL;

			free(l);
			if (found)
				return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The config must fail with (at least) this error. */
static void expect_error(const char *text, const char *path, const char *part)
{
	char *msgs = parse_bad(text);

	ck_assert_msg(has_error(msgs, path, part), "want '%s: ...%s...' in:\n%s\nfor %s",
		      path, part ? part : "", msgs, text);
	free(msgs);
}

/* A minimal valid config with one piece swapped in. */
static char *cfg_with(const char *top_extra, const char *direct, const char *additional)
{
	return xasprintf("{%s%s\"direct_subscribers\":[%s],\"additional_subscribers\":[%s]}",
			 top_extra ? top_extra : "", top_extra ? "," : "",
			 direct ? direct : "{\"org_id\":\"A\",\"source\":\"file:///in/a/\"}",
			 additional ? additional
			 : "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///out/b/\"}");
}

#define EXPECT(top, dir, add, path, part) do {                          \
		char *t_ = cfg_with((top), (dir), (add));                \
		expect_error(t_, (path), (part));                         \
		free(t_);                                                 \
	} while (0)

static const char full_config[] =
	"{\n"
	"  \"state_dir\": \"state\",\n"
	"  \"s3\": {\"region\": \"us-east-1\", \"endpoint\": \"https://s3.example.com\",\n"
	"         \"path_style\": true, \"profile\": \"prof\"},\n"
	"  \"direct_subscribers\": [\n"
	"    {\"org_id\": \"TN-a\", \"source\": \"s3://org-a-events/events/\"},\n"
	"    {\"org_id\": \"TN-b\", \"source\": {\"url\": \"file:in/b/\", \"region\": \"eu-west-1\",\n"
	"       \"endpoint\": \"http://127.0.0.1:9000\", \"path_style\": false, \"profile\": \"other\"}},\n"
	"    {\"org_id\": \"TN-c.d_e\", \"source\": \"gs://bucket-c/p\"}\n"
	"  ],\n"
	"  \"additional_subscribers\": [\n"
	"    {\"org_id\": \"TN-partner-0001\", \"links\": [\"TN-c.d_e\", \"TN-a\"],\n"
	"     \"filter\": {\"domain\": [\"onboarding\"]},\n"
	"     \"destination\": \"file:///abs/out/\",\n"
	"     \"key_format\": \"{subscriber}/{source}/{run_id}-{seq}.gz\",\n"
	"     \"dedup\": false, \"max_object_bytes\": 2048, \"compression_level\": 9},\n"
	"    {\"org_id\": \"P2\", \"links\": [\"TN-b\"], \"destination\": \"az://acct/cont/pre/\"}\n"
	"  ],\n"
	"  \"max_line_bytes\": 4096,\n"
	"  \"max_json_depth\": 10,\n"
	"  \"lookback\": \"36h\",\n"
	"  \"max_attempts\": 5\n"
	"}\n";

static bool filter_matches(const filter *f, const char *event)
{
	json_value v;
	json_error e;

	ck_assert(json_parse(event, strlen(event), 64, &v, &e));
	return filter_match(f, v);
}

START_TEST(full_config_fields)
{
	config *c = parse_ok(full_config);
	const location *l;
	const additional_subscriber *a;

	ck_assert_str_eq(c->path, "test.json");
	ck_assert_str_eq(c->dir, BASE);
	ck_assert_uint_eq(c->text_len, strlen(full_config));
	ck_assert(!memcmp(c->text, full_config, c->text_len));
	ck_assert_str_eq(c->state_dir, BASE "/state");
	ck_assert_uint_eq(c->max_line_bytes, 4096);
	ck_assert_uint_eq(c->max_json_depth, 10);
	ck_assert_int_eq(c->lookback_ms, 36LL * 3600 * 1000);
	ck_assert_uint_eq(c->max_attempts, 5);

	ck_assert_uint_eq(c->ndirect, 3);
	ck_assert_str_eq(c->direct[0].org_id, "TN-a");
	l = &c->direct[0].source;
	ck_assert_int_eq(l->scheme, LOC_S3);
	ck_assert_str_eq(l->url, "s3://org-a-events/events/");
	ck_assert_str_eq(l->bucket, "org-a-events");
	ck_assert_str_eq(l->prefix, "events/");
	ck_assert_str_eq(l->region, "us-east-1");
	ck_assert_str_eq(l->endpoint, "https://s3.example.com");
	ck_assert_str_eq(l->profile, "prof");
	ck_assert_int_eq(l->path_style, 1);

	ck_assert_str_eq(c->direct[1].org_id, "TN-b");
	l = &c->direct[1].source;
	ck_assert_int_eq(l->scheme, LOC_FILE);
	ck_assert_str_eq(l->root, BASE "/in/b");
	ck_assert_str_eq(l->url, "file://" BASE "/in/b/");
	ck_assert_str_eq(l->prefix, "");
	/* the location object overrides every s3 default it names */
	ck_assert_str_eq(l->region, "eu-west-1");
	ck_assert_str_eq(l->endpoint, "http://127.0.0.1:9000");
	ck_assert_str_eq(l->profile, "other");
	ck_assert_int_eq(l->path_style, 0);

	ck_assert_str_eq(c->direct[2].org_id, "TN-c.d_e");
	l = &c->direct[2].source;
	ck_assert_int_eq(l->scheme, LOC_GS);
	ck_assert_str_eq(l->url, "gs://bucket-c/p/");
	ck_assert_str_eq(l->bucket, "bucket-c");
	ck_assert_str_eq(l->prefix, "p/");
	ck_assert_str_eq(l->region, "us-east-1");

	ck_assert_uint_eq(c->nadditional, 2);
	a = &c->additional[0];
	ck_assert_str_eq(a->org_id, "TN-partner-0001");
	ck_assert_uint_eq(a->nlinks, 2);
	ck_assert_uint_eq(a->links[0], 2);   /* in the order listed */
	ck_assert_uint_eq(a->links[1], 0);
	ck_assert_ptr_nonnull(a->filter);
	ck_assert(filter_matches(a->filter, "{\"domain\":\"onboarding\"}"));
	ck_assert(!filter_matches(a->filter, "{\"domain\":\"billing\"}"));
	ck_assert_int_eq(a->destination.scheme, LOC_FILE);
	ck_assert_str_eq(a->destination.root, "/abs/out");
	ck_assert_str_eq(a->destination.url, "file:///abs/out/");
	ck_assert_str_eq(a->key_format_text, "{subscriber}/{source}/{run_id}-{seq}.gz");
	ck_assert_ptr_nonnull(a->key_format);
	ck_assert(keyfmt_uses_source(a->key_format));
	ck_assert(!a->dedup);
	ck_assert_uint_eq(a->max_object_bytes, 2048);
	ck_assert_int_eq(a->compression_level, 9);

	a = &c->additional[1];
	ck_assert_str_eq(a->org_id, "P2");
	ck_assert_uint_eq(a->nlinks, 1);
	ck_assert_uint_eq(a->links[0], 1);
	ck_assert_ptr_null(a->filter);
	ck_assert_int_eq(a->destination.scheme, LOC_AZ);
	ck_assert_str_eq(a->destination.account, "acct");
	ck_assert_str_eq(a->destination.bucket, "cont");
	ck_assert_str_eq(a->destination.prefix, "pre/");
	ck_assert_str_eq(a->destination.url, "az://acct/cont/pre/");
	/* defaults */
	ck_assert(a->dedup);
	ck_assert_uint_eq(a->max_object_bytes, 134217728);
	ck_assert_int_eq(a->compression_level, 5);
	ck_assert_str_eq(a->key_format_text, KEYFMT_DEFAULT);
	ck_assert_ptr_nonnull(a->key_format);
	ck_assert(!keyfmt_uses_source(a->key_format));

	ck_assert_int_eq(config_direct_index(c, "TN-b"), 1);
	ck_assert_int_eq(config_direct_index(c, "P2"), -1);
	ck_assert_int_eq(config_additional_index(c, "P2"), 1);
	ck_assert_int_eq(config_additional_index(c, "TN-a"), -1);
	config_free(c);
}
END_TEST

START_TEST(defaults)
{
	char *t = cfg_with(NULL, NULL, NULL);
	config *c = parse_ok(t);
	const location *l = &c->direct[0].source;

	ck_assert_str_eq(c->state_dir, "/var/lib/evshare");
	ck_assert_uint_eq(c->max_line_bytes, 1048576);
	ck_assert_uint_eq(c->max_json_depth, 64);
	ck_assert_int_eq(c->lookback_ms, 7LL * 86400 * 1000);
	ck_assert_uint_eq(c->max_attempts, 3);
	ck_assert(c->additional[0].dedup);
	ck_assert_uint_eq(c->additional[0].max_object_bytes, 134217728);
	ck_assert_int_eq(c->additional[0].compression_level, 5);
	ck_assert_str_eq(c->additional[0].key_format_text, KEYFMT_DEFAULT);
	ck_assert_ptr_null(c->additional[0].filter);
	ck_assert_ptr_null(l->region);
	ck_assert_ptr_null(l->endpoint);
	ck_assert_ptr_null(l->profile);
	ck_assert_int_eq(l->path_style, -1);
	config_free(c);
	free(t);

	/* "filter": null is no filter; empty subscriber lists are a valid,
	 * idle config */
	t = cfg_with(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"filter\":null,"
		     "\"destination\":\"file:///o/\"}");
	c = parse_ok(t);
	ck_assert_ptr_null(c->additional[0].filter);
	config_free(c);
	free(t);
	c = parse_ok("{\"direct_subscribers\":[],\"additional_subscribers\":[]}");
	ck_assert_uint_eq(c->ndirect, 0);
	ck_assert_uint_eq(c->nadditional, 0);
	config_free(c);
}
END_TEST

START_TEST(relative_paths)
{
	config *c;
	char *t;

	/* relative state_dir and file: locations against base_dir; absolute ones kept */
	t = cfg_with("\"state_dir\":\"var/state\"",
		     "{\"org_id\":\"A\",\"source\":\"file:events/a\"}",
		     "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:./out//b/\"}");
	c = parse_ok(t);
	ck_assert_str_eq(c->state_dir, BASE "/var/state");
	ck_assert_str_eq(c->direct[0].source.root, BASE "/events/a");
	ck_assert_str_eq(c->direct[0].source.url, "file://" BASE "/events/a/");
	ck_assert_str_eq(c->additional[0].destination.root, BASE "/out/b");
	config_free(c);
	free(t);

	t = cfg_with("\"state_dir\":\"/abs/state\"",
		     "{\"org_id\":\"A\",\"source\":\"file:///x/y/\"}", NULL);
	c = parse_ok(t);
	ck_assert_str_eq(c->state_dir, "/abs/state");
	ck_assert_str_eq(c->direct[0].source.root, "/x/y");
	config_free(c);
	free(t);

	/* another base */
	t = cfg_with("\"state_dir\":\"s\"", "{\"org_id\":\"A\",\"source\":\"file:in/\"}", NULL);
	c = parse_ok_base(t, "/etc/evshare");
	ck_assert_str_eq(c->state_dir, "/etc/evshare/s");
	ck_assert_str_eq(c->direct[0].source.root, "/etc/evshare/in");
	config_free(c);
	free(t);
}
END_TEST

START_TEST(relative_location_with_dotdot_in_base)
{
	/* config_load passes the config's directory as given on the command
	 * line (cwd + "/../conf" for `-c ../conf/evshare.json`); a relative
	 * file: location must still work: the '..' rule is about the URL */
	char *t = cfg_with(NULL, "{\"org_id\":\"A\",\"source\":\"file:in/\"}", NULL);
	config *c = parse_ok_base(t, "/work/x/../conf");
	const char *root = c->direct[0].source.root;

	ck_assert_msg(!strcmp(root, "/work/conf/in") || !strcmp(root, "/work/x/../conf/in"),
		      "root '%s'", root);
	config_free(c);
	free(t);
}
END_TEST

START_TEST(location_overrides)
{
	/* s3 defaults reach string locations; an object overrides some keys
	 * and inherits the others */
	char *t = cfg_with("\"s3\":{\"region\":\"r1\",\"endpoint\":\"https://e1\",\"profile\":\"p1\","
			   "\"path_style\":true}",
			   "{\"org_id\":\"A\",\"source\":\"s3://bkt1/x/\"},"
			   "{\"org_id\":\"C\",\"source\":{\"url\":\"s3://bkt2/\",\"region\":\"r2\"}},"
			   "{\"org_id\":\"D\",\"source\":{\"url\":\"s3://bkt3\",\"path_style\":false,"
			   "\"endpoint\":\"http://e3:9000\"}}",
			   NULL);
	config *c = parse_ok(t);
	const location *l;

	l = &c->direct[0].source;
	ck_assert_str_eq(l->region, "r1");
	ck_assert_str_eq(l->endpoint, "https://e1");
	ck_assert_str_eq(l->profile, "p1");
	ck_assert_int_eq(l->path_style, 1);
	l = &c->direct[1].source;
	ck_assert_str_eq(l->region, "r2");
	ck_assert_str_eq(l->endpoint, "https://e1");
	ck_assert_str_eq(l->profile, "p1");
	ck_assert_int_eq(l->path_style, 1);
	ck_assert_str_eq(l->prefix, "");
	l = &c->direct[2].source;
	ck_assert_str_eq(l->region, "r1");
	ck_assert_str_eq(l->endpoint, "http://e3:9000");
	ck_assert_int_eq(l->path_style, 0);
	ck_assert_str_eq(l->url, "s3://bkt3/");
	/* destinations get the defaults too */
	l = &c->additional[0].destination;
	ck_assert_str_eq(l->region, "r1");
	ck_assert_uint_eq(l->upload_streams, 0);     /* the backend's default */
	config_free(c);
	free(t);
}
END_TEST

START_TEST(unknown_keys_at_each_level)
{
	EXPECT("\"colour\":1", NULL, NULL, "$.colour", "unknown key");
	EXPECT("\"s3\":{\"regoin\":\"x\"}", NULL, NULL, "$.s3.regoin", "unknown key");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":\"file:///i/\",\"sink\":1}", NULL,
	       "$.direct_subscribers[0].sink", "unknown key");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":{\"url\":\"file:///i/\",\"bucket\":\"b\"}}", NULL,
	       "$.direct_subscribers[0].source.bucket", "unknown key");
	EXPECT(NULL, NULL,
	       "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///o/\",\"dedupe\":true}",
	       "$.additional_subscribers[0].dedupe", "unknown key");
	EXPECT(NULL, NULL,
	       "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":{\"url\":\"file:///o/\",\"x\":1}}",
	       "$.additional_subscribers[0].destination.x", "unknown key");
	/* keys are case-sensitive */
	EXPECT("\"State_dir\":\"/s\"", NULL, NULL, "$.State_dir", "unknown key");
	/* a repeated key */
	EXPECT("\"state_dir\":\"/a\",\"state_dir\":\"/b\"", NULL, NULL, "$.state_dir",
	       "duplicate key");
}
END_TEST

START_TEST(wrong_types)
{
	EXPECT("\"state_dir\":5", NULL, NULL, "$.state_dir", "expected a string, found a number");
	EXPECT("\"state_dir\":\"\"", NULL, NULL, "$.state_dir", "empty");
	EXPECT("\"s3\":[]", NULL, NULL, "$.s3", "expected an object, found an array");
	EXPECT("\"s3\":{\"region\":1}", NULL, NULL, "$.s3.region", "expected a string");
	EXPECT("\"s3\":{\"path_style\":\"yes\"}", NULL, NULL, "$.s3.path_style",
	       "expected true or false, found a string");
	EXPECT("\"max_line_bytes\":\"1M\"", NULL, NULL, "$.max_line_bytes",
	       "expected an integer, found a string");
	EXPECT("\"max_line_bytes\":100.5", NULL, NULL, "$.max_line_bytes", "expected an integer");
	EXPECT("\"max_attempts\":0", NULL, NULL, "$.max_attempts", "expected an integer from 1");
	EXPECT("\"max_json_depth\":1", NULL, NULL, "$.max_json_depth", "expected an integer");
	EXPECT("\"max_json_depth\":true", NULL, NULL, "$.max_json_depth", "found a boolean");
	EXPECT(NULL, "{\"org_id\":5,\"source\":\"file:///i/\"}", NULL,
	       "$.direct_subscribers[0].org_id", "expected a string, found a number");
	EXPECT(NULL, "{\"source\":\"file:///i/\"}", NULL, "$.direct_subscribers[0].org_id",
	       "missing");
	EXPECT(NULL, "{\"org_id\":\"A\"}", NULL, "$.direct_subscribers[0].source", "missing");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":7}", NULL, "$.direct_subscribers[0].source",
	       "expected a URL string or an object");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":{\"region\":\"r\"}}", NULL,
	       "$.direct_subscribers[0].source.url", "missing");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":{\"url\":\"s3://b/\",\"path_style\":1}}", NULL,
	       "$.direct_subscribers[0].source.path_style", "expected true or false");
	EXPECT(NULL, "\"A\"", NULL, "$.direct_subscribers[0]", "expected an object, found a string");

	static const char *add_prefix = "{\"org_id\":\"B\",\"links\":[\"A\"],"
					"\"destination\":\"file:///o/\",";
	static const struct { const char *kv; const char *path; const char *part; } add[] = {
		{ "\"dedup\":\"yes\"", "dedup", "expected true or false, found a string" },
		{ "\"dedup\":1", "dedup", "expected true or false, found a number" },
		{ "\"max_object_bytes\":\"1\"", "max_object_bytes", "expected an integer, found a string" },
		{ "\"max_object_bytes\":1.5", "max_object_bytes", "expected an integer" },
		{ "\"max_object_bytes\":1000", "max_object_bytes", "expected an integer from 1024" },
		{ "\"max_object_bytes\":-1", "max_object_bytes", "expected an integer" },
		{ "\"max_object_bytes\":-2048", "max_object_bytes", "expected an integer" },
		{ "\"max_object_bytes\":1e300", "max_object_bytes", "expected an integer" },
		{ "\"compression_level\":0", "compression_level", "expected an integer from 1 to 9" },
		{ "\"compression_level\":10", "compression_level", "expected an integer from 1 to 9" },
		{ "\"key_format\":5", "key_format", "expected a string, found a number" },
		{ "\"filter\":\"domain\"", "filter", NULL },
	};
	for (size_t i = 0; i < sizeof(add) / sizeof(add[0]); i++) {
		char *a = xasprintf("%s%s}", add_prefix, add[i].kv);
		char *p = xasprintf("$.additional_subscribers[0].%s", add[i].path);

		EXPECT(NULL, NULL, a, p, add[i].part);
		free(a);
		free(p);
	}
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":\"A\",\"destination\":\"file:///o/\"}",
	       "$.additional_subscribers[0].links", "non-empty array");
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[],\"destination\":\"file:///o/\"}",
	       "$.additional_subscribers[0].links", "non-empty array");
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"destination\":\"file:///o/\"}",
	       "$.additional_subscribers[0].links", "non-empty array");
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\",3],\"destination\":\"file:///o/\"}",
	       "$.additional_subscribers[0].links[1]", "expected an org_id string, found a number");
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"]}",
	       "$.additional_subscribers[0].destination", "missing");
	EXPECT(NULL, NULL, "[]", "$.additional_subscribers[0]", "expected an object, found an array");

	/* the top level */
	expect_error("[]", "$", "expected an object, found an array");
	expect_error("{\"additional_subscribers\":[]}", "$.direct_subscribers", "missing");
	expect_error("{\"direct_subscribers\":[]}", "$.additional_subscribers", "missing");
	expect_error("{\"direct_subscribers\":{},\"additional_subscribers\":[]}",
		     "$.direct_subscribers", "expected an array");
}
END_TEST

START_TEST(org_id_rules)
{
	static const char *bad[] = { "TN a", "a/b", "", ".", "..", "a\\b", "\xc3\xa9",
				     "a:b", "a*", "{a}" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *d = xasprintf("{\"org_id\":\"%s\",\"source\":\"file:///i/\"}", bad[i]);
		char *t = cfg_with(NULL, d, "{\"org_id\":\"B\",\"links\":[\"A\"],"
				   "\"destination\":\"file:///o/\"}");

		expect_error(t, "$.direct_subscribers[0].org_id", "not a valid org_id");
		free(d);
		free(t);
	}
	{
		char long_id[140];

		memset(long_id, 'x', 129);
		long_id[129] = '\0';
		char *d = xasprintf("{\"org_id\":\"%s\",\"source\":\"file:///i/\"}", long_id);

		EXPECT(NULL, NULL, d, "$.additional_subscribers[0].org_id", NULL);
		free(d);
		long_id[128] = '\0';
		ck_assert(org_id_is_valid(long_id));
	}
	ck_assert(org_id_is_valid("TN-a1db4e4e-315f-4a67-9036-ecacd370b561"));
	ck_assert(org_id_is_valid("a.b_c-D9"));
	ck_assert(org_id_is_valid("..."));
	ck_assert(!org_id_is_valid(".."));
	ck_assert(!org_id_is_valid(""));
}
END_TEST

START_TEST(org_id_relations)
{
	/* duplicate direct */
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":\"file:///i/\"},"
		     "{\"org_id\":\"A\",\"source\":\"file:///j/\"}", NULL,
	       "$.direct_subscribers[1].org_id", "duplicate org_id 'A'");
	/* duplicate additional */
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///o/\"},"
			   "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///p/\"}",
	       "$.additional_subscribers[1].org_id", "duplicate org_id 'B'");
	/* a link to an unknown org_id */
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\",\"Z\"],\"destination\":\"file:///o/\"}",
	       "$.additional_subscribers[0].links[1]", "unknown org_id 'Z'");
	/* a link to an additional subscriber is unknown too */
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///o/\"},"
			   "{\"org_id\":\"C\",\"links\":[\"B\"],\"destination\":\"file:///p/\"}",
	       "$.additional_subscribers[1].links[0]", "unknown org_id 'B'");
	/* a link listed twice */
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\",\"A\"],\"destination\":\"file:///o/\"}",
	       "$.additional_subscribers[0].links[1]", "linked twice");
	/* both direct and additional */
	EXPECT(NULL, NULL, "{\"org_id\":\"A\",\"links\":[\"A\"],\"destination\":\"file:///o/\"}",
	       "$.direct_subscribers[0].org_id", "also an additional subscriber");
}
END_TEST

START_TEST(bad_values)
{
	/* key_format */
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///o/\","
			   "\"key_format\":\"{subscriber}/out.gz\"}",
	       "$.additional_subscribers[0].key_format", "{run_id}");
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///o/\","
			   "\"key_format\":\"../{run_id}-{seq}\"}",
	       "$.additional_subscribers[0].key_format", NULL);
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///o/\","
			   "\"key_format\":\"{run_id}-{seq}-{colour}\"}",
	       "$.additional_subscribers[0].key_format", "unknown placeholder");
	/* lookback */
	EXPECT("\"lookback\":\"soon\"", NULL, NULL, "$.lookback", "duration");
	EXPECT("\"lookback\":\"30s\"", NULL, NULL, "$.lookback", "at least a minute");
	EXPECT("\"lookback\":7", NULL, NULL, "$.lookback", "expected a string, found a number");
	EXPECT("\"lookback\":\"-7d\"", NULL, NULL, "$.lookback", NULL);
	/* URL schemes */
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":\"http://example.com/x/\"}", NULL,
	       "$.direct_subscribers[0].source", "unknown scheme");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":\"S3://b/x/\"}", NULL,
	       "$.direct_subscribers[0].source", "unknown scheme");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":\"/abs/dir/\"}", NULL,
	       "$.direct_subscribers[0].source", "unknown scheme");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":{\"url\":\"ftp://h/x/\"}}", NULL,
	       "$.direct_subscribers[0].source.url", "unknown scheme");
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"s3:///x/\"}",
	       "$.additional_subscribers[0].destination", "missing bucket");
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"s3://Bad_Bucket/\"}",
	       "$.additional_subscribers[0].destination", "invalid bucket");
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"az://acct/\"}",
	       "$.additional_subscribers[0].destination", "missing container");
	/* '..' in a file URL may not climb above "/" */
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":\"file:///in/../../etc/\"}", NULL,
	       "$.direct_subscribers[0].source", "'..'");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":\"file://host/in/\"}", NULL,
	       "$.direct_subscribers[0].source", "no host");
	/* '..' in a bucket prefix */
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":\"s3://b/x/../y/\"}", NULL,
	       "$.direct_subscribers[0].source", NULL);
	/* endpoints must be http(s) */
	EXPECT("\"s3\":{\"endpoint\":\"ftp://e\"}", "{\"org_id\":\"A\",\"source\":\"s3://b/\"}", NULL,
	       "$.s3.endpoint", "http://");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":{\"url\":\"s3://b/\",\"endpoint\":\"e.com\"}}",
	       NULL, "$.direct_subscribers[0].source.endpoint", "http://");
	/* upload_streams: 1..16 */
	EXPECT("\"s3\":{\"upload_streams\":0}", "{\"org_id\":\"A\",\"source\":\"s3://b/\"}", NULL,
	       "$.s3.upload_streams", NULL);
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":"
			   "{\"url\":\"s3://b/o/\",\"upload_streams\":17}}",
	       "$.additional_subscribers[0].destination.upload_streams", NULL);
}
END_TEST

START_TEST(invalid_filter)
{
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///o/\","
			   "\"filter\":{\"domain\":[]}}",
	       "$.additional_subscribers[0].filter.domain", NULL);
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\"],\"destination\":\"file:///o/\"},"
			   "{\"org_id\":\"C\",\"links\":[\"A\"],\"destination\":\"file:///p/\","
			   "\"filter\":{\"data\":{\"kind\":\"x\"}}}",
	       "$.additional_subscribers[1].filter.data.kind", NULL);
}
END_TEST

START_TEST(invalid_json_position)
{
	/* the error is at 'o' of oops: line 3, column 3 */
	expect_error("{\n  \"state_dir\": \"x\",\n  oops\n}", "$", "line 3, column 3");
	/* trailing data after the object: line 1, column 4 */
	expect_error("{} x", "$", "line 1, column 4");
	expect_error("{\"a\":1}\n\n  }", "$", "line 3, column 3");
	expect_error("", "$", "invalid JSON");
	expect_error("   \n", "$", "invalid JSON");
}
END_TEST

/* The file is JSON as RFC 8259 says, in UTF-8 (evshare.json(5)); a
 * lenient reader would take more.  And every error stays on a line of its own, even
 * when a key holds an escaped newline.  (Found by fuzz_config.) */
START_TEST(strict_json_and_one_line_per_error)
{
	static const char nul_first[] =
		"\0{\"direct_subscribers\":[],\"additional_subscribers\":[]}";
	config *c = (config *)1;
	buf err = BUF_INIT;
	char *msgs;

	/* a NUL byte (the text kept for the journal would end there) */
	ck_assert_int_eq(config_parse(nul_first, sizeof(nul_first) - 1, "t.json", BASE, &c,
				      &err), ES_ERR_CONFIG);
	ck_assert_ptr_null(c);
	ck_assert_msg(has_error(err.data, "$", "line 1, column 1"), "%s", err.data);
	buf_release(&err);
	/* a raw newline inside a key, bytes that are not UTF-8, a leading zero */
	expect_error("{\"state\ndir\": \"x\"}", "$", "control character in string");
	expect_error("{\"state_dir\": \"caf\xe9\"}", "$", "invalid UTF-8");
	expect_error("{\"max_attempts\": 03}", "$", "line 1, column 19");
	/* an escaped newline in a key or a value: '?' in the message */
	EXPECT("\"sta\\nte\":1", NULL, NULL, "$.sta?te", "unknown key");
	msgs = parse_bad("{\"a\\nb\":1,\"lookback\":\"1\\r\\nx\",\"direct_subscribers\":[],"
			 "\"additional_subscribers\":[]}");
	ck_assert_msg(has_error(msgs, "$.a?b", "unknown key"), "%s", msgs);
	ck_assert_msg(has_error(msgs, "$.lookback", "'1??x'"), "%s", msgs);
	ck_assert_uint_eq(count_lines(msgs), 2);
	free(msgs);
}
END_TEST

START_TEST(several_errors_together)
{
	const char *t =
		"{\"colour\":1,\"lookback\":\"x\","
		"\"direct_subscribers\":[{\"org_id\":\"a b\",\"source\":\"ftp://x/\"}],"
		"\"additional_subscribers\":[{\"org_id\":\"B\",\"links\":[\"Z\"],"
		"\"destination\":\"file:///o/\",\"compression_level\":11}]}";
	char *msgs = parse_bad(t);

	ck_assert_msg(has_error(msgs, "$.colour", "unknown key"), "%s", msgs);
	ck_assert_msg(has_error(msgs, "$.lookback", NULL), "%s", msgs);
	ck_assert_msg(has_error(msgs, "$.direct_subscribers[0].org_id", NULL), "%s", msgs);
	ck_assert_msg(has_error(msgs, "$.direct_subscribers[0].source", "unknown scheme"), "%s", msgs);
	ck_assert_msg(has_error(msgs, "$.additional_subscribers[0].links[0]", "unknown org_id"),
		      "%s", msgs);
	ck_assert_msg(has_error(msgs, "$.additional_subscribers[0].compression_level", NULL),
		      "%s", msgs);
	ck_assert_uint_eq(count_lines(msgs), 6);
	free(msgs);
}
END_TEST

START_TEST(many_errors_capped)
{
	buf t = BUF_INIT;
	char *msgs;

	buf_addstr(&t, "{\"direct_subscribers\":[],\"additional_subscribers\":[]");
	for (int i = 0; i < 60; i++)
		buf_printf(&t, ",\"k%d\":1", i);
	buf_addch(&t, '}');
	msgs = parse_bad(t.data);
	ck_assert(has_error(msgs, "$.k0", "unknown key"));
	ck_assert(has_error(msgs, "$.k49", "unknown key"));
	ck_assert(!has_error(msgs, "$.k50", NULL));
	ck_assert_ptr_nonnull(strstr(msgs, "10 more errors"));
	ck_assert_uint_eq(count_lines(msgs), 51);
	free(msgs);
	buf_release(&t);
}
END_TEST

START_TEST(config_load_files)
{
	char dir[] = "/tmp/evshare-config-XXXXXX";
	char *path, *sub, *rel;
	config *c = NULL;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	sub = xasprintf("%s/conf", dir);
	ck_assert_int_eq(mkdir_p(sub, 0755), 0);
	path = xasprintf("%s/evshare.json", sub);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"state_dir\":\"st\",\"direct_subscribers\":[{\"org_id\":\"A\","
	      "\"source\":\"file:in/\"}],\"additional_subscribers\":[{\"org_id\":\"B\","
	      "\"links\":[\"A\"],\"destination\":\"file:out/\"}]}", f);
	fclose(f);
	ck_assert_int_eq(config_load(path, &c), ES_OK);
	rel = xasprintf("%s/st", sub);
	ck_assert_str_eq(c->state_dir, rel);
	free(rel);
	rel = xasprintf("%s/in", sub);
	ck_assert_str_eq(c->direct[0].source.root, rel);
	free(rel);
	ck_assert_str_eq(c->path, path);
	config_free(c);

	/* a missing file is a configuration error */
	rel = xasprintf("%s/absent.json", dir);
	ck_assert_int_eq(config_load(rel, &c), ES_ERR_CONFIG);
	ck_assert_ptr_null(c);
	free(rel);

	unlink(path);
	rmdir(sub);
	rmdir(dir);
	free(path);
	free(sub);
}
END_TEST

START_TEST(config_load_relative_path_with_dotdot)
{
	/* `evshare -c ../conf/evshare.json` from a sibling directory, with a
	 * relative file: source: the config is valid wherever it is read from */
	char dir[] = "/tmp/evshare-config-XXXXXX";
	char *conf, *work, *path, *want;
	config *c = NULL;
	FILE *f;
	es_result r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	conf = xasprintf("%s/conf", dir);
	work = xasprintf("%s/work", dir);
	ck_assert_int_eq(mkdir_p(conf, 0755), 0);
	ck_assert_int_eq(mkdir_p(work, 0755), 0);
	path = xasprintf("%s/evshare.json", conf);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"direct_subscribers\":[{\"org_id\":\"A\",\"source\":\"file:in/\"}],"
	      "\"additional_subscribers\":[{\"org_id\":\"B\",\"links\":[\"A\"],"
	      "\"destination\":\"file:///out/\"}]}", f);
	fclose(f);
	ck_assert_int_eq(chdir(work), 0);   /* Check runs each test in a child */
	r = config_load("../conf/evshare.json", &c);
	unlink(path);
	rmdir(conf);
	rmdir(work);
	rmdir(dir);
	ck_assert_msg(r == ES_OK, "config_load('../conf/evshare.json') failed");
	want = xasprintf("%s/in", conf);
	ck_assert_msg(!strcmp(c->direct[0].source.root, want) ||
		      strstr(c->direct[0].source.root, "/work/../conf/in") != NULL,
		      "root '%s'", c->direct[0].source.root);
	config_free(c);
	free(want);
	free(path);
	free(conf);
	free(work);
}
END_TEST

/* The filter is compiled from its text as written: a reader of doubles
 * would turn 9007199254740993 into 9007199254740992 and 1e400 into null. */
START_TEST(filter_numbers_as_written)
{
	static const char cfg[] =
		"{\"state_dir\":\"s\",\"direct_subscribers\":[{\"org_id\":\"A\","
		"\"source\":\"file:///a/\"}],\"additional_subscribers\":["
		"{\"org_id\":\"X\",\"links\":[\"A\"],\"destination\":\"file:///x/\","
		"\"filter\":{\"n\":[9007199254740993]}},"
		"{\"org_id\":\"Y\",\"links\":[\"A\"],\"destination\":\"file:///y/\","
		"\"filter\":{\"n\":[1e400]}}]}";
	static const char *events[] = {
		"{\"n\":9007199254740992}", "{\"n\":9007199254740993}", "{\"n\":null}",
	};
	config *c = parse_ok(cfg);
	bool x[3], y[3];

	for (int i = 0; i < 3; i++) {
		json_value v;
		json_error e;

		ck_assert(json_parse(events[i], strlen(events[i]), 8, &v, &e));
		x[i] = filter_match(c->additional[0].filter, v);
		y[i] = filter_match(c->additional[1].filter, v);
	}
	ck_assert(!x[0] && x[1] && !x[2]);
	ck_assert(!y[0] && !y[1] && !y[2]);
	config_free(c);
}
END_TEST

/* Strings are C strings once read: one holding U+0000 is refused where
 * it stands (a reader of C strings would cut it there without a word),
 * and a key holding one is shown with '?'.  Integers are read exactly, in
 * any notation. */
START_TEST(nul_in_strings_and_exact_integers)
{
	config *c;

	EXPECT("\"state_dir\":\"/var/lib/x\\u0000y\"", NULL, NULL, "$.state_dir",
	       "must not contain a NUL character (\\u0000)");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":\"file:///i/\\u0000\"}", NULL,
	       "$.direct_subscribers[0].source", "must not contain a NUL character");
	EXPECT(NULL, "{\"org_id\":\"A\\u0000\",\"source\":\"file:///i/\"}", NULL,
	       "$.direct_subscribers[0].org_id", "must not contain a NUL character");
	EXPECT(NULL, NULL, "{\"org_id\":\"B\",\"links\":[\"A\\u0000\"],\"destination\":\"file:///o/\"}",
	       "$.additional_subscribers[0].links[0]", "must not contain a NUL character");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":{\"url\\u0000x\":\"file:///i/\"}}", NULL,
	       "$.direct_subscribers[0].source.url?x", "unknown key");
	EXPECT(NULL, "{\"org_id\":\"A\",\"source\":{\"url\\u0000x\":\"file:///i/\"}}", NULL,
	       "$.direct_subscribers[0].source.url", "missing");
	/* an integer in any notation, exactly */
	c = parse_ok("{\"max_attempts\":3e2,\"max_line_bytes\":65536.0,\"s3\":{\"part_size\":"
		     "5.24288e6},\"direct_subscribers\":[{\"org_id\":\"A\",\"source\":"
		     "\"s3://bkt/\"}],\"additional_subscribers\":[{\"org_id\":\"B\",\"links\":"
		     "[\"A\"],\"destination\":\"file:///o/\",\"compression_level\":90e-1}]}");
	ck_assert_uint_eq(c->max_attempts, 300);
	ck_assert_uint_eq(c->max_line_bytes, 65536);
	ck_assert_uint_eq(c->direct[0].source.part_size, 5242880);
	ck_assert_int_eq(c->additional[0].compression_level, 9);
	config_free(c);
	EXPECT("\"max_attempts\":3.0000000000000000000000001", NULL, NULL, "$.max_attempts",
	       "expected an integer from 1 to 1000");
	EXPECT("\"max_file_bytes\":1125899906842625", NULL, NULL, "$.max_file_bytes",
	       "expected an integer from 1048576 to 1125899906842624");
	EXPECT("\"max_list_keys\":18446744073709551616", NULL, NULL, "$.max_list_keys",
	       "expected an integer from 1000 to 4294967296");
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_test(tc, full_config_fields);
	tcase_add_test(tc, filter_numbers_as_written);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, relative_paths);
	tcase_add_test(tc, relative_location_with_dotdot_in_base);
	tcase_add_test(tc, location_overrides);
	tcase_add_test(tc, unknown_keys_at_each_level);
	tcase_add_test(tc, wrong_types);
	tcase_add_test(tc, org_id_rules);
	tcase_add_test(tc, org_id_relations);
	tcase_add_test(tc, bad_values);
	tcase_add_test(tc, invalid_filter);
	tcase_add_test(tc, invalid_json_position);
	tcase_add_test(tc, strict_json_and_one_line_per_error);
	tcase_add_test(tc, nul_in_strings_and_exact_integers);
	tcase_add_test(tc, several_errors_together);
	tcase_add_test(tc, many_errors_capped);
	tcase_add_test(tc, config_load_files);
	tcase_add_test(tc, config_load_relative_path_with_dotdot);
	suite_add_tcase(s, tc);
	return s;
}
