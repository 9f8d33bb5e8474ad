/*
 * check_http.c - the HTTP client and the pure parts of the S3 backend:
 * retry classification, backoff bounds with a fixed random source, HTTP
 * dates, endpoint parsing, settings defaults, request targets (path and
 * virtual-host style, key and query encoding), part sizes, error mapping.
 * http_perform is driven against a scripted server on 127.0.0.1 in this
 * process (no network): streaming, headers, Content-Length bodies without
 * Expect, truncated, stalled and dripping replies, time budgets and the
 * run deadline, aborts, caps and keep-alive.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "sigv4.h"
#include "store_s3.h"

/* --- retry policy ------------------------------------------------------ */

START_TEST(classify_table)
{
	static const struct {
		http_error e;
		long status;
		const char *code;
		http_verdict want;
	} t[] = {
		{ HTTP_OK, 200, NULL, HTTP_VERDICT_DONE },
		{ HTTP_OK, 204, NULL, HTTP_VERDICT_DONE },
		{ HTTP_OK, 206, NULL, HTTP_VERDICT_DONE },
		{ HTTP_OK, 200, "InternalError", HTTP_VERDICT_RETRY },   /* Complete's 200 <Error> */
		{ HTTP_OK, 200, "SlowDown", HTTP_VERDICT_RETRY },
		{ HTTP_OK, 200, "NoSuchUpload", HTTP_VERDICT_FAIL },
		{ HTTP_OK, 500, "InternalError", HTTP_VERDICT_RETRY },
		{ HTTP_OK, 500, NULL, HTTP_VERDICT_RETRY },
		{ HTTP_OK, 502, NULL, HTTP_VERDICT_RETRY },
		{ HTTP_OK, 503, "SlowDown", HTTP_VERDICT_RETRY },
		{ HTTP_OK, 503, "ServiceUnavailable", HTTP_VERDICT_RETRY },
		{ HTTP_OK, 504, NULL, HTTP_VERDICT_RETRY },
		{ HTTP_OK, 429, NULL, HTTP_VERDICT_RETRY },
		{ HTTP_OK, 400, "RequestTimeout", HTTP_VERDICT_RETRY },
		{ HTTP_OK, 400, "InvalidArgument", HTTP_VERDICT_FAIL },
		{ HTTP_OK, 400, "BadDigest", HTTP_VERDICT_FAIL },
		{ HTTP_OK, 403, "SignatureDoesNotMatch", HTTP_VERDICT_FAIL },
		{ HTTP_OK, 403, "RequestTimeTooSkewed", HTTP_VERDICT_FAIL },
		{ HTTP_OK, 403, NULL, HTTP_VERDICT_FAIL },
		{ HTTP_OK, 404, "NoSuchKey", HTTP_VERDICT_FAIL },
		{ HTTP_OK, 404, "NoSuchBucket", HTTP_VERDICT_FAIL },
		{ HTTP_OK, 412, "PreconditionFailed", HTTP_VERDICT_FAIL },
		{ HTTP_OK, 301, "PermanentRedirect", HTTP_VERDICT_FAIL },
		{ HTTP_OK, 501, "NotImplemented", HTTP_VERDICT_FAIL },
		{ HTTP_E_RESOLVE, 0, NULL, HTTP_VERDICT_RETRY },
		{ HTTP_E_CONNECT, 0, NULL, HTTP_VERDICT_RETRY },
		{ HTTP_E_TIMEOUT, 0, NULL, HTTP_VERDICT_RETRY },
		{ HTTP_E_SEND, 0, NULL, HTTP_VERDICT_RETRY },
		{ HTTP_E_RECV, 200, NULL, HTTP_VERDICT_RETRY },          /* reset, truncated */
		{ HTTP_E_STALL, 200, NULL, HTTP_VERDICT_RETRY },
		{ HTTP_E_TLS, 0, NULL, HTTP_VERDICT_FAIL },
		{ HTTP_E_ABORTED, 200, NULL, HTTP_VERDICT_FAIL },
		{ HTTP_E_TOO_BIG, 200, NULL, HTTP_VERDICT_FAIL },
		{ HTTP_E_LOCAL, 0, NULL, HTTP_VERDICT_FAIL },
		{ HTTP_E_OTHER, 0, NULL, HTTP_VERDICT_FAIL },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(http_classify(t[i].e, t[i].status, t[i].code) == t[i].want,
			      "case %zu: error %d status %ld code %s", i, (int)t[i].e,
			      t[i].status, t[i].code ? t[i].code : "-");
}
END_TEST

static uint64_t fixed_value;

static uint64_t fixed_random(void *ud)
{
	(void)ud;
	return fixed_value;
}

static unsigned slept[16];
static size_t nslept;

static void record_sleep(void *ud, unsigned ms)
{
	(void)ud;
	if (nslept < 16)
		slept[nslept++] = ms;
}

START_TEST(backoff_full_jitter_bounds)
{
	http_retry p = { 5, 100, 2000, fixed_random, record_sleep, NULL, NULL };

	/* the largest draw gives the ceiling: base doubling, capped */
	fixed_value = UINT64_MAX;
	for (unsigned a = 1; a <= 8; a++) {
		unsigned ceiling = 100u << (a - 1);

		if (ceiling > 2000)
			ceiling = 2000;
		fixed_value = ceiling;   /* r % (ceiling + 1) == ceiling */
		ck_assert_uint_eq(http_backoff_ms(&p, a), ceiling);
		fixed_value = (uint64_t)ceiling + 1;
		ck_assert_uint_eq(http_backoff_ms(&p, a), 0);
	}
	/* every draw stays in [0, ceiling] */
	for (uint64_t r = 0; r < 5000; r += 7) {
		fixed_value = r * 2654435761u;
		ck_assert_uint_le(http_backoff_ms(&p, 1), 100);
		ck_assert_uint_le(http_backoff_ms(&p, 3), 400);
		ck_assert_uint_le(http_backoff_ms(&p, 30), 2000);
	}
	/* defaults: 100 ms doubling up to 20 s */
	{
		http_retry d = { 5, 0, 0, fixed_random, NULL, NULL, NULL };

		fixed_value = 100;
		ck_assert_uint_eq(http_backoff_ms(&d, 1), 100);
		fixed_value = 20000;
		ck_assert_uint_eq(http_backoff_ms(&d, 40), 20000);
		fixed_value = 20001;
		ck_assert_uint_eq(http_backoff_ms(&d, 40), 0);
	}
	/* the injected sleep is used */
	nslept = 0;
	fixed_value = 150;
	ck_assert_uint_eq(http_retry_wait(&p, 2), 150);
	ck_assert_uint_eq(nslept, 1);
	ck_assert_uint_eq(slept[0], 150);
	/* the default generator stays in bounds too */
	p.random = NULL;
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_le(http_backoff_ms(&p, 2), 200);
}
END_TEST

START_TEST(http_dates)
{
	int64_t t;

	ck_assert(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t));
	ck_assert_int_eq(t, 784111777);
	ck_assert(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t));
	ck_assert_int_eq(t, 784111777);
	ck_assert(http_date_parse("Sun Nov  6 08:49:37 1994", &t));
	ck_assert_int_eq(t, 784111777);
	ck_assert(http_date_parse("Fri, 27 Nov 2026 00:06:44 GMT", &t));
	ck_assert_int_eq(t, 1795738004);
	ck_assert(http_date_parse("Thu, 29 Feb 2024 23:59:59 GMT", &t));
	ck_assert_int_eq(t, 1709251199);
	ck_assert(!http_date_parse("", &t));
	ck_assert(!http_date_parse("Sun, 06 Nov 1994", &t));
	ck_assert(!http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", &t));
	ck_assert(!http_date_parse("Sun, 36 Nov 1994 08:49:37 GMT", &t));
	ck_assert(!http_date_parse("Sun, 06 Nov 1994 25:49:37 GMT", &t));
	ck_assert(!http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT 12", &t));
}
END_TEST

/* --- S3 targets and settings ------------------------------------------- */

static const char *env_none(void *ud, const char *name)
{
	(void)ud;
	(void)name;
	return NULL;
}

static const char *stall_value;

static const char *env_stall(void *ud, const char *name)
{
	(void)ud;
	return !strcmp(name, OBJHTTP_STALL_ENV) ? stall_value : NULL;
}

static void loc_init(location *l, enum location_scheme scheme, const char *bucket)
{
	memset(l, 0, sizeof(*l));
	l->scheme = scheme;
	l->bucket = xstrdup(bucket);
	l->prefix = xstrdup("in/");
	l->url = xasprintf("%s://%s/in/", scheme == LOC_GS ? "gs" : "s3", bucket);
	l->path_style = -1;
}

static aws_config aws_blank(void)
{
	aws_config a;

	memset(&a, 0, sizeof(a));
	a.path_style = -1;
	return a;
}

START_TEST(endpoint_parsing)
{
	objhttp_endpoint e;
	buf err = BUF_INIT;

	ck_assert_int_eq(objhttp_endpoint_parse("https://s3.eu-west-1.amazonaws.com", &e, &err), ES_OK);
	ck_assert_str_eq(e.scheme, "https");
	ck_assert_str_eq(e.host, "s3.eu-west-1.amazonaws.com");
	ck_assert_str_eq(e.base_path, "");
	objhttp_endpoint_release(&e);
	ck_assert_int_eq(objhttp_endpoint_parse("http://127.0.0.1:9000/base/s3//", &e, &err), ES_OK);
	ck_assert_str_eq(e.scheme, "http");
	ck_assert_str_eq(e.host, "127.0.0.1:9000");
	ck_assert_str_eq(e.base_path, "/base/s3");
	objhttp_endpoint_release(&e);
	ck_assert_int_eq(objhttp_endpoint_parse("http://[::1]:9000/", &e, &err), ES_OK);
	ck_assert_str_eq(e.host, "[::1]:9000");
	objhttp_endpoint_release(&e);
	ck_assert_int_eq(objhttp_endpoint_parse("ftp://x", &e, &err), ES_ERR_CONFIG);
	ck_assert_int_eq(objhttp_endpoint_parse("https://", &e, &err), ES_ERR_CONFIG);
	ck_assert_int_eq(objhttp_endpoint_parse("https://x?a=b", &e, &err), ES_ERR_CONFIG);
	ck_assert_int_eq(objhttp_endpoint_parse("https://x/a b", &e, &err), ES_ERR_CONFIG);
	buf_reset(&err);
	ck_assert_int_eq(objhttp_endpoint_parse("https://user:pw@host", &e, &err), ES_ERR_CONFIG);
	ck_assert_ptr_null(strstr(err.data, "pw"));   /* never echo a password */
	buf_release(&err);
}
END_TEST

START_TEST(settings_defaults_s3)
{
	location l;
	aws_config a = aws_blank();
	creds_env env = { env_none, NULL };
	s3_settings s;
	buf err = BUF_INIT;

	loc_init(&l, LOC_S3, "evbucket");
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert_str_eq(s.region, "us-east-1");
	ck_assert_str_eq(s.endpoint.scheme, "https");
	ck_assert_str_eq(s.endpoint.host, "s3.us-east-1.amazonaws.com");
	ck_assert(s.default_endpoint);
	ck_assert(!s.path_style);
	ck_assert_uint_eq(s.xfer.part_size, 16u << 20);
	ck_assert_uint_eq(s.xfer.threshold, 16u << 20);
	ck_assert_uint_eq(s.xfer.attempts, 5);
	ck_assert_uint_eq(s.xfer.upload_streams, OBJHTTP_DEFAULT_STREAMS);
	ck_assert_int_eq(s.stall_timeout_s, 30);
	ck_assert_ptr_null(s.ca_bundle);
	s3_settings_release(&s);

	/* the AWS settings, then the location */
	a.region = xstrdup("cn-north-1");
	a.ca_bundle = xstrdup("/etc/ca.pem");
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert_str_eq(s.region, "cn-north-1");
	ck_assert_str_eq(s.endpoint.host, "s3.cn-north-1.amazonaws.com.cn");
	ck_assert_str_eq(s.ca_bundle, "/etc/ca.pem");
	s3_settings_release(&s);
	l.region = xstrdup("eu-west-3");
	l.part_size = 8u << 20;
	l.retries = 2;
	l.upload_streams = 1;
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert_uint_eq(s.xfer.upload_streams, 1);
	ck_assert_str_eq(s.region, "eu-west-3");
	ck_assert_str_eq(s.endpoint.host, "s3.eu-west-3.amazonaws.com");
	ck_assert_uint_eq(s.xfer.part_size, 8u << 20);
	ck_assert_uint_eq(s.xfer.threshold, 8u << 20);    /* follows the part size */
	ck_assert_uint_eq(s.xfer.attempts, 2);
	s3_settings_release(&s);
	l.multipart_threshold = 6ull << 40;
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert_uint_eq(s.xfer.threshold, 5ull << 30);  /* capped at the PUT limit */
	s3_settings_release(&s);
	free(l.region);
	l.region = xstrdup("bad/region");
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_ERR_CONFIG);
	location_release(&l);
	aws_config_release(&a);
	buf_release(&err);
}
END_TEST

START_TEST(settings_path_style)
{
	location l;
	aws_config a = aws_blank();
	creds_env env = { env_none, NULL };
	s3_settings s;
	buf err = BUF_INIT;

	loc_init(&l, LOC_S3, "evbucket");
	/* a custom endpoint (AWS_ENDPOINT_URL) means path style */
	a.endpoint_url = xstrdup("http://127.0.0.1:5000");
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert(s.path_style);
	ck_assert(!s.default_endpoint);
	ck_assert_str_eq(s.endpoint.host, "127.0.0.1:5000");
	s3_settings_release(&s);
	/* the profile's addressing_style, then the location, decide */
	a.path_style = 0;
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert(!s.path_style);
	s3_settings_release(&s);
	l.path_style = 1;
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert(s.path_style);
	s3_settings_release(&s);
	/* the location's endpoint wins over the environment's */
	l.endpoint = xstrdup("https://minio.example.com:9000");
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert_str_eq(s.endpoint.host, "minio.example.com:9000");
	s3_settings_release(&s);
	location_release(&l);
	aws_config_release(&a);

	/* AWS, a dotted bucket over https: path style unless told otherwise */
	a = aws_blank();
	loc_init(&l, LOC_S3, "my.bucket");
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert(s.path_style);
	s3_settings_release(&s);
	l.path_style = 0;
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert(!s.path_style);
	s3_settings_release(&s);
	location_release(&l);
	buf_release(&err);
}
END_TEST

START_TEST(settings_gs)
{
	location l;
	aws_config a = aws_blank();
	creds_env env = { env_none, NULL };
	s3_settings s;
	buf err = BUF_INIT;

	loc_init(&l, LOC_GS, "gbucket");
	a.region = xstrdup("eu-west-1");             /* AWS settings do not apply */
	a.endpoint_url = xstrdup("http://127.0.0.1:5000");
	a.path_style = 1;
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert_str_eq(s.region, "auto");
	ck_assert_str_eq(s.endpoint.scheme, "https");
	ck_assert_str_eq(s.endpoint.host, "storage.googleapis.com");
	ck_assert(s.default_endpoint);
	ck_assert(!s.path_style);
	s3_settings_release(&s);
	l.endpoint = xstrdup("http://127.0.0.1:4443");
	ck_assert_int_eq(s3_settings_resolve(&l, &a, &env, &s, &err), ES_OK);
	ck_assert(s.path_style);
	ck_assert_str_eq(s.region, "auto");
	s3_settings_release(&s);
	location_release(&l);
	aws_config_release(&a);
	buf_release(&err);
}
END_TEST

START_TEST(settings_stall_env)
{
	location l;
	creds_env env = { env_stall, NULL };
	s3_settings s;
	buf err = BUF_INIT;

	loc_init(&l, LOC_S3, "b");
	stall_value = "2";
	ck_assert_int_eq(s3_settings_resolve(&l, NULL, &env, &s, &err), ES_OK);
	ck_assert_int_eq(s.stall_timeout_s, 2);
	s3_settings_release(&s);
	stall_value = "0";
	ck_assert_int_eq(s3_settings_resolve(&l, NULL, &env, &s, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, OBJHTTP_STALL_ENV));
	stall_value = "10s";
	ck_assert_int_eq(s3_settings_resolve(&l, NULL, &env, &s, &err), ES_ERR_CONFIG);
	location_release(&l);
	buf_release(&err);
}
END_TEST

static void settings_for(s3_settings *s, const char *endpoint, bool path_style)
{
	buf err = BUF_INIT;

	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(objhttp_endpoint_parse(endpoint, &s->endpoint, &err), ES_OK);
	s->path_style = path_style;
	buf_release(&err);
}

START_TEST(targets_path_and_virtual)
{
	s3_settings s;
	objhttp_target t;

	settings_for(&s, "http://127.0.0.1:9000", true);
	s3_target_build(&s, "evb", "in/a b+c=d%e&f é~.gz", NULL, &t);
	ck_assert_str_eq(t.host, "127.0.0.1:9000");
	ck_assert_str_eq(t.path, "/evb/in/a%20b%2Bc%3Dd%25e%26f%20%C3%A9~.gz");
	ck_assert_str_eq(t.url, "http://127.0.0.1:9000/evb/in/a%20b%2Bc%3Dd%25e%26f%20%C3%A9~.gz");
	objhttp_target_release(&t);
	s3_target_build(&s, "evb", NULL, "list-type=2&prefix=in%2F", &t);
	ck_assert_str_eq(t.path, "/evb");
	ck_assert_str_eq(t.url, "http://127.0.0.1:9000/evb?list-type=2&prefix=in%2F");
	objhttp_target_release(&t);
	objhttp_endpoint_release(&s.endpoint);

	settings_for(&s, "https://s3.eu-west-1.amazonaws.com", false);
	s3_target_build(&s, "evb", "a//b/./c", "", &t);
	ck_assert_str_eq(t.host, "evb.s3.eu-west-1.amazonaws.com");
	ck_assert_str_eq(t.path, "/a//b/./c");   /* sent as is: S3 never normalises */
	ck_assert_str_eq(t.url, "https://evb.s3.eu-west-1.amazonaws.com/a//b/./c");
	objhttp_target_release(&t);
	s3_target_build(&s, "evb", NULL, "uploads", &t);
	ck_assert_str_eq(t.path, "/");
	ck_assert_str_eq(t.url, "https://evb.s3.eu-west-1.amazonaws.com/?uploads");
	objhttp_target_release(&t);
	objhttp_endpoint_release(&s.endpoint);

	settings_for(&s, "https://gw.example.com/s3/", true);
	s3_target_build(&s, "evb", "k", NULL, &t);
	ck_assert_str_eq(t.path, "/s3/evb/k");
	objhttp_target_release(&t);
	objhttp_endpoint_release(&s.endpoint);
}
END_TEST

START_TEST(query_encoding)
{
	buf q = BUF_INIT;

	/* S3's continuation tokens are base64: + / = must be encoded */
	objhttp_query_add(&q, "continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=+a");
	objhttp_query_add(&q, "encoding-type", "url");
	objhttp_query_add(&q, "prefix", "in/a b");
	objhttp_query_add(&q, "uploads", NULL);
	ck_assert_str_eq(q.data, "continuation-token=1ueGcxLPRx1Tr%2FXYExHnhbYLgveDs2J%2Fwm36Hy4vbOwM%3D%2Ba"
			 "&encoding-type=url&prefix=in%2Fa%20b&uploads");
	buf_release(&q);
	/* the key encoding of the signer: unreserved kept, '/' kept in paths */
	sigv4_uri_encode(&q, "a/b c~_-.%+", 11, true);
	ck_assert_str_eq(q.data, "a/b%20c~_-.%25%2B");
	buf_release(&q);
}
END_TEST

START_TEST(part_sizes)
{
	const uint64_t mib = 1u << 20;

	ck_assert_uint_eq(s3_part_size_for(0, 16 * mib), 16 * mib);
	ck_assert_uint_eq(s3_part_size_for(100 * mib, 16 * mib), 16 * mib);
	ck_assert_uint_eq(s3_part_size_for(10000 * 5 * mib, 5 * mib), 5 * mib);
	/* one byte more would need 10001 parts: whole MiB above */
	ck_assert_uint_eq(s3_part_size_for(10000 * 5 * mib + 1, 5 * mib), 6 * mib);
	{
		uint64_t size = 1ull << 40, p = s3_part_size_for(size, 5 * mib);

		ck_assert_uint_eq(p % mib, 0);
		ck_assert_uint_le((size + p - 1) / p, 10000);
	}
}
END_TEST

START_TEST(error_results)
{
	ck_assert_int_eq(s3_error_result(403, "SignatureDoesNotMatch", false), ES_ERR_AUTH);
	ck_assert_int_eq(s3_error_result(403, "InvalidAccessKeyId", false), ES_ERR_AUTH);
	ck_assert_int_eq(s3_error_result(403, "AccessDenied", false), ES_ERR_AUTH);
	ck_assert_int_eq(s3_error_result(403, "RequestTimeTooSkewed", false), ES_ERR_AUTH);
	ck_assert_int_eq(s3_error_result(400, "ExpiredToken", false), ES_ERR_AUTH);
	ck_assert_int_eq(s3_error_result(403, NULL, false), ES_ERR_AUTH);
	ck_assert_int_eq(s3_error_result(400, "AuthorizationHeaderMalformed", false),
			 ES_ERR_CONFIG);
	ck_assert_int_eq(s3_error_result(301, "PermanentRedirect", false), ES_ERR_CONFIG);
	ck_assert_int_eq(s3_error_result(404, "NoSuchBucket", false), ES_ERR_REMOTE);
	ck_assert_int_eq(s3_error_result(404, "NoSuchKey", false), ES_ERR_REMOTE);
	ck_assert_int_eq(s3_error_result(412, "PreconditionFailed", false), ES_ERR_REMOTE);
	ck_assert_int_eq(s3_error_result(503, "SlowDown", true), ES_ERR_TEMP);
	ck_assert_int_eq(s3_error_result(0, NULL, true), ES_ERR_TEMP);
}
END_TEST

START_TEST(content_ranges)
{
	uint64_t start, total;

	ck_assert(http_parse_content_range("bytes 100-199/1000", &start, &total));
	ck_assert_uint_eq(start, 100);
	ck_assert_uint_eq(total, 1000);
	ck_assert(http_parse_content_range("bytes 0-0/*", &start, &total));
	ck_assert_uint_eq(total, UINT64_MAX);
	ck_assert(!http_parse_content_range(NULL, &start, &total));
	ck_assert(!http_parse_content_range("bytes 100-199", &start, &total));
	ck_assert(!http_parse_content_range("bytes 200-100/1000", &start, &total));
	ck_assert(!http_parse_content_range("bytes 0-999/999", &start, &total));
	ck_assert(!http_parse_content_range("bytes -5/10", &start, &total));
	ck_assert(!http_parse_content_range("items 0-1/2", &start, &total));
	ck_assert(!http_parse_content_range("bytes 0-99999999999999999999999/1", &start, &total));
}
END_TEST

START_TEST(skew_notes)
{
	buf m = BUF_INIT;

	s3_skew_note(&m, "Fri, 27 Nov 2026 00:06:44 GMT", 1795738004 + 3600);
	ck_assert_ptr_nonnull(strstr(m.data, "off by +3600 s (ahead of the server's Date "
				     "'Fri, 27 Nov 2026 00:06:44 GMT')"));
	buf_reset(&m);
	s3_skew_note(&m, "Fri, 27 Nov 2026 00:06:44 GMT", 1795738004 - 1000);
	ck_assert_ptr_nonnull(strstr(m.data, "off by -1000 s (behind the server's"));
	buf_reset(&m);
	s3_skew_note(&m, NULL, 0);
	ck_assert_ptr_nonnull(strstr(m.data, "the clock of this machine is off (the reply had "
				     "no usable Date"));
	buf_release(&m);
}
END_TEST

/* --- http_perform against a scripted loopback server -------------------- */

/*
 * After its reply, a step keeps the connection for the next request, or
 * closes it, or (STALL) sends nothing more, or (DRIP) sends a byte every
 * DRIP_MS: in both of these, until the client leaves (or the test stops
 * the server), so the only way the request ends is the client's own
 * limit, whatever the machine's load.  SERVER_FAILSAFE_S only ends a
 * connection a broken client would keep for ever.
 */
enum after { KEEP, CLOSE, STALL, DRIP };

#define DRIP_MS 50
#define SERVER_FAILSAFE_S 20
/* well under SERVER_FAILSAFE_S and the stall windows of 30 s, well over
 * the 1 s limits under test */
#define TOOK_AT_MOST_S 15.0
/* r.seconds counts from curl's start, a little after http_perform's
 * clock starts; a limit of 1 s cuts at 0.5 s of it only if the thread
 * waited half a second in between */
#define TOOK_AT_LEAST_S 0.5

struct step {
	const char *reply;     /* bytes to send (a whole or partial response) */
	size_t reply_len;      /* 0: strlen */
	enum after after;
};

struct server {
	int lfd;
	int port;
	int quit[2];           /* server_stop closes quit[1] */
	const struct step *steps;
	size_t nsteps;
	pthread_t thread;
	int accepts;
	buf requests[8];       /* what each request carried, head and body */
};

static size_t content_length(const char *head)
{
	const char *p = strcasestr(head, "\r\ncontent-length:");

	return p ? (size_t)strtoul(p + 17, NULL, 10) : 0;
}

/* Read one request (head and Content-Length body); false on EOF. */
static bool read_request(int fd, buf *b)
{
	char chunk[65536];
	char *end;

	while (!(b->data && (end = strstr(b->data, "\r\n\r\n")))) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n <= 0)
			return false;
		buf_add(b, chunk, (size_t)n);
	}
	{
		size_t want = (size_t)(end + 4 - b->data) + content_length(b->data);

		while (b->len < want) {
			ssize_t n = read(fd, chunk, sizeof(chunk));

			if (n <= 0)
				return false;
			buf_add(b, chunk, (size_t)n);
		}
	}
	return true;
}

/* Wait up to ms for the client to leave (EOF or an error on fd) or the
 * test to stop the server: true when either happened. */
static bool client_left(const struct server *sv, int fd, int ms)
{
	struct pollfd p[2] = { { fd, POLLIN, 0 }, { sv->quit[0], POLLIN, 0 } };
	char junk[256];

	if (poll(p, 2, ms) <= 0)
		return false;
	if (p[1].revents)
		return true;
	return read(fd, junk, sizeof(junk)) <= 0;
}

static void *serve(void *ud)
{
	struct server *sv = ud;
	size_t i = 0;

	while (i < sv->nsteps) {
		int fd = accept(sv->lfd, NULL, NULL);

		if (fd < 0)
			break;
		sv->accepts++;
		while (i < sv->nsteps) {
			const struct step *st = &sv->steps[i];
			size_t n = st->reply_len ? st->reply_len : strlen(st->reply);

			if (!read_request(fd, &sv->requests[i < 8 ? i : 7]))
				break;
			(void)write_all(fd, st->reply, n);
			i++;
			if (st->after == STALL)
				(void)client_left(sv, fd, SERVER_FAILSAFE_S * 1000);
			for (int k = 0; st->after == DRIP && k < SERVER_FAILSAFE_S * 1000 / DRIP_MS &&
			     !client_left(sv, fd, DRIP_MS); k++) {
				if (send(fd, "x", 1, MSG_NOSIGNAL) != 1)
					break;
			}
			if (st->after != KEEP)
				break;
		}
		close(fd);
	}
	return NULL;
}

static void server_start(struct server *sv, const struct step *steps, size_t n)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	memset(sv, 0, sizeof(*sv));
	sv->steps = steps;
	sv->nsteps = n;
	ck_assert_int_eq(pipe(sv->quit), 0);
	sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(sv->lfd, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(sv->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(sv->lfd, 4), 0);
	ck_assert_int_eq(getsockname(sv->lfd, (struct sockaddr *)&a, &len), 0);
	sv->port = ntohs(a.sin_port);
	ck_assert_int_eq(pthread_create(&sv->thread, NULL, serve, sv), 0);
}

static void server_stop(struct server *sv)
{
	shutdown(sv->lfd, SHUT_RDWR);
	close(sv->quit[1]);
	pthread_join(sv->thread, NULL);
	close(sv->lfd);
	close(sv->quit[0]);
}

static void server_free(struct server *sv)
{
	for (int i = 0; i < 8; i++)
		buf_release(&sv->requests[i]);
}

struct sink {
	buf got;
	int stop_after;        /* > 0: ask to stop after that many calls */
	int calls;
};

static int sink_body(void *ud, const char *p, size_t n)
{
	struct sink *s = ud;

	buf_add(&s->got, p, n);
	return s->stop_after && ++s->calls >= s->stop_after;
}

static void do_get(struct server *sv, http_client *c, struct sink *s, size_t cap,
		   http_response *r)
{
	char *url = xasprintf("http://127.0.0.1:%d/b/k", sv->port);
	char *host = xasprintf("127.0.0.1:%d", sv->port);
	http_header h[] = { { "Host", host }, { "x-amz-date", "20261127T000000Z" } };
	http_request req = { "GET", url, h, 2, NULL, s ? sink_body : NULL, s, cap, 0 };

	http_perform(c, &req, r);
	free(url);
	free(host);
}

START_TEST(perform_streams_body_and_keeps_connection)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nETag: \"abc\"\r\n"
		  "X-Folded: one\r\n  two\r\n\r\n0123456789", 0, KEEP },
		{ "HTTP/1.1 404 Not Found\r\nContent-Length: 23\r\n\r\n<Error><Code>x</Code>..", 0, KEEP },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", 0, KEEP },
	};
	struct server sv;
	http_client *c = http_client_new(NULL);
	struct sink s = { BUF_INIT, 0, 0 };
	http_response r;

	server_start(&sv, steps, 3);
	do_get(&sv, c, &s, 0, &r);
	ck_assert_int_eq(r.error, HTTP_OK);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(s.got.data, "0123456789");
	ck_assert_uint_eq(r.body.len, 0);              /* streamed, not kept */
	ck_assert_uint_eq(r.body_bytes, 10);
	ck_assert_str_eq(http_response_header(&r, "etag"), "\"abc\"");
	ck_assert_str_eq(http_response_header(&r, "X-FOLDED"), "one two");
	ck_assert_ptr_null(http_response_header(&r, "nope"));
	ck_assert_ptr_nonnull(strstr(sv.requests[0].data, "\r\nHost: 127.0.0.1:"));
	ck_assert_ptr_nonnull(strstr(sv.requests[0].data, "\r\nx-amz-date: 20261127T000000Z"));
	http_response_release(&r);
	/* an error body is kept, not streamed */
	buf_reset(&s.got);
	do_get(&sv, c, &s, 0, &r);
	ck_assert_int_eq(r.error, HTTP_OK);
	ck_assert_int_eq(r.status, 404);
	ck_assert_uint_eq(s.got.len, 0);
	ck_assert_str_eq(r.body.data, "<Error><Code>x</Code>..");
	http_response_release(&r);
	/* no sink: a 2xx body is kept */
	do_get(&sv, c, NULL, 0, &r);
	ck_assert_str_eq(r.body.data, "abc");
	http_response_release(&r);
	http_client_free(c);
	server_stop(&sv);
	server_free(&sv);
	ck_assert_int_eq(sv.accepts, 1);               /* one connection, kept alive */
	buf_release(&s.got);
}
END_TEST

START_TEST(perform_put_has_content_length_and_no_expect)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, KEEP },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, KEEP },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, KEEP },
	};
	struct server sv;
	http_client *c = http_client_new(NULL);
	http_response r;
	size_t n = 3u << 20;
	char *data = xmalloc(n), *url, *host, tmpl[] = "/tmp/check_http.XXXXXX";
	int fd = mkstemp(tmpl);
	http_body mem = { data, -1, 0, n }, file = { NULL, fd, 5, 1000 };
	const char *head_end;

	for (size_t i = 0; i < n; i++)
		data[i] = (char)('a' + i % 26);
	ck_assert_int_ge(fd, 0);
	unlink(tmpl);
	ck_assert_int_eq(write_all(fd, data, 2000), 0);
	server_start(&sv, steps, 3);
	url = xasprintf("http://127.0.0.1:%d/b/k", sv.port);
	host = xasprintf("127.0.0.1:%d", sv.port);
	{
		http_header h[] = { { "Host", host }, { "Content-Type", "application/xml" } };
		http_request put = { "PUT", url, h, 1, &mem, NULL, NULL, 0, 0 };
		http_request post = { "POST", url, h, 2, &file, NULL, NULL, 0, 0 };
		http_request empty = { "POST", url, h, 1, NULL, NULL, NULL, 0, 0 };

		ck_assert_int_eq(http_perform(c, &put, &r), HTTP_OK);
		ck_assert_uint_eq(r.sent_bytes, n);
		http_response_release(&r);
		ck_assert_int_eq(http_perform(c, &post, &r), HTTP_OK);
		http_response_release(&r);
		ck_assert_int_eq(http_perform(c, &empty, &r), HTTP_OK);
		http_response_release(&r);
	}
	server_stop(&sv);
	/* the PUT: Content-Length, no Expect, no chunking, the body intact */
	ck_assert_ptr_nonnull(strstr(sv.requests[0].data, "PUT /b/k HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(sv.requests[0].data, "\r\nContent-Length: 3145728\r\n"));
	ck_assert_ptr_null(strcasestr(sv.requests[0].data, "\r\nExpect:"));
	ck_assert_ptr_null(strcasestr(sv.requests[0].data, "Transfer-Encoding"));
	head_end = strstr(sv.requests[0].data, "\r\n\r\n") + 4;
	ck_assert_uint_eq(sv.requests[0].len - (size_t)(head_end - sv.requests[0].data), n);
	ck_assert(!memcmp(head_end, data, n));
	/* the POST from a file range, with our Content-Type */
	ck_assert_ptr_nonnull(strstr(sv.requests[1].data, "POST /b/k HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(sv.requests[1].data, "\r\nContent-Length: 1000\r\n"));
	ck_assert_ptr_nonnull(strstr(sv.requests[1].data, "\r\nContent-Type: application/xml\r\n"));
	ck_assert_ptr_null(strcasestr(sv.requests[1].data, "x-www-form-urlencoded"));
	head_end = strstr(sv.requests[1].data, "\r\n\r\n") + 4;
	ck_assert(!memcmp(head_end, data + 5, 1000));
	/* a POST without a body says Content-Length: 0 */
	ck_assert_ptr_nonnull(strstr(sv.requests[2].data, "\r\nContent-Length: 0\r\n"));
	ck_assert_int_eq(sv.accepts, 1);
	http_client_free(c);
	free(url);
	free(host);
	free(data);
	close(fd);
	server_free(&sv);
}
END_TEST

START_TEST(perform_truncated_and_reset)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", 0, CLOSE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", 0, KEEP },
	};
	struct server sv;
	http_client *c = http_client_new(NULL);
	struct sink s = { BUF_INIT, 0, 0 };
	http_response r;

	server_start(&sv, steps, 2);
	do_get(&sv, c, &s, 0, &r);
	ck_assert_int_eq(r.error, HTTP_E_RECV);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(s.got.data, "0123456789");     /* what came is delivered */
	ck_assert_int_eq(http_classify(r.error, r.status, NULL), HTTP_VERDICT_RETRY);
	http_response_release(&r);
	/* the next request opens a new connection */
	buf_reset(&s.got);
	do_get(&sv, c, &s, 0, &r);
	ck_assert_int_eq(r.error, HTTP_OK);
	ck_assert_str_eq(s.got.data, "abcde");
	http_response_release(&r);
	http_client_free(c);
	server_stop(&sv);
	server_free(&sv);
	ck_assert_int_eq(sv.accepts, 2);
	buf_release(&s.got);
}
END_TEST

START_TEST(perform_stall_is_detected)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", 0, STALL },
	};
	struct server sv;
	http_options o = { NULL, 0, 1, NULL };
	http_client *c = http_client_new(&o);
	struct sink s = { BUF_INIT, 0, 0 };
	http_response r;

	server_start(&sv, steps, 1);
	do_get(&sv, c, &s, 0, &r);
	ck_assert_int_eq(r.error, HTTP_E_STALL);
	ck_assert_str_eq(s.got.data, "0123456789");
	/* cut after its 1 s window, not the default 30 s */
	ck_assert_msg(r.seconds >= TOOK_AT_LEAST_S && r.seconds < TOOK_AT_MOST_S, "%.2f s", r.seconds);
	/* silent since its 10 bytes: below the floor too, whichever is seen first */
	ck_assert_msg(strstr(r.message, "no data moved for 1 s (stalled transfer)") ||
		      strstr(r.message, "only 10 bytes moved in 1 s"), "%s", r.message);
	http_response_release(&r);
	http_client_free(c);
	server_stop(&sv);
	server_free(&sv);
	buf_release(&s.got);
}
END_TEST

/* A server that drips a byte every 50 ms never stops moving: the speed
 * floor (1 KiB per stall window, here 1 s) cuts it after a window. */
START_TEST(perform_drip_is_cut_by_the_speed_floor)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 0, DRIP },
	};
	struct server sv;
	http_options o = { NULL, 0, 1, NULL };
	http_client *c = http_client_new(&o);
	struct sink s = { BUF_INIT, 0, 0 };
	http_response r;

	server_start(&sv, steps, 1);
	do_get(&sv, c, &s, 0, &r);
	ck_assert_int_eq(r.error, HTTP_E_STALL);
	ck_assert_msg(r.seconds >= TOOK_AT_LEAST_S && r.seconds < TOOK_AT_MOST_S, "%.2f s", r.seconds);
	ck_assert_uint_lt(s.got.len, 1024);
	ck_assert_ptr_nonnull(strstr(r.message, "bytes moved in 1 s, fewer than 1024 "
				     "(stalled transfer)"));
	ck_assert_int_eq(http_classify(r.error, r.status, NULL), HTTP_VERDICT_RETRY);
	http_response_release(&r);
	http_client_free(c);
	server_stop(&sv);
	server_free(&sv);
	buf_release(&s.got);
}
END_TEST

/* A request's own time budget ends it, even while bytes still move. */
START_TEST(perform_time_budget)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 0, DRIP },
	};
	struct server sv;
	http_options o = { NULL, 0, 30, NULL };
	http_client *c = http_client_new(&o);
	struct sink s = { BUF_INIT, 0, 0 };
	http_response r;
	char *url, *host;

	server_start(&sv, steps, 1);
	url = xasprintf("http://127.0.0.1:%d/b/k", sv.port);
	host = xasprintf("127.0.0.1:%d", sv.port);
	{
		http_header h[] = { { "Host", host } };
		http_request req = { "GET", url, h, 1, NULL, sink_body, &s, 0, 1000 };

		ck_assert_int_eq(http_perform(c, &req, &r), HTTP_E_DEADLINE);
	}
	/* the budget (1 s), not the stall window (30 s) */
	ck_assert_msg(r.seconds >= TOOK_AT_LEAST_S && r.seconds < TOOK_AT_MOST_S, "%.2f s", r.seconds);
	ck_assert(!r.run_deadline);
	ck_assert_str_eq(r.message, "time budget of the request spent");
	ck_assert_int_eq(http_classify(r.error, r.status, NULL), HTTP_VERDICT_FAIL);
	ck_assert_uint_gt(s.got.len, 0);              /* it was moving */
	http_response_release(&r);
	http_client_free(c);
	server_stop(&sv);
	server_free(&sv);
	buf_release(&s.got);
	free(url);
	free(host);
}
END_TEST

/* The run deadline: a request after it is not sent, one under way when
 * it comes is cut; the request's own budget cannot extend it. */
START_TEST(perform_run_deadline)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 0, DRIP },
	};
	struct server sv;
	http_options o = { NULL, 0, 30, NULL };
	http_client *c = http_client_new(&o);
	struct sink s = { BUF_INIT, 0, 0 };
	http_response r;
	char *url, *host;

	ck_assert_int_eq(http_deadline(), 0);
	ck_assert(!http_deadline_passed());
	server_start(&sv, steps, 1);
	url = xasprintf("http://127.0.0.1:%d/b/k", sv.port);
	host = xasprintf("127.0.0.1:%d", sv.port);
	{
		http_header h[] = { { "Host", host } };
		http_request req = { "GET", url, h, 1, NULL, sink_body, &s, 0, 60000 };

		http_set_deadline(time_now_ms() - 1);
		ck_assert(http_deadline_passed());
		ck_assert_int_eq(http_perform(c, &req, &r), HTTP_E_DEADLINE);
		ck_assert(r.run_deadline);
		ck_assert_str_eq(r.message, "run deadline reached");
		ck_assert_int_eq(sv.accepts, 0);        /* nothing was sent */
		http_response_release(&r);

		http_set_deadline(time_now_ms() + 1000);
		ck_assert(!http_deadline_passed());
		ck_assert_int_eq(http_perform(c, &req, &r), HTTP_E_DEADLINE);
		ck_assert(r.run_deadline);
		/* not cut before the deadline, however late the request began
		 * (http_perform reads the wall clock for its budget before it
		 * starts its own clock), nor at its own budget (60 s) or the
		 * stall window (30 s) */
		ck_assert_msg(http_deadline_passed(), "cut %lld ms before the deadline",
			      (long long)(http_deadline() - time_now_ms()));
		ck_assert_msg(r.seconds < TOOK_AT_MOST_S, "%.2f s", r.seconds);
		http_response_release(&r);
	}
	http_set_deadline(0);
	ck_assert(!http_deadline_passed());
	http_client_free(c);
	server_stop(&sv);
	server_free(&sv);
	buf_release(&s.got);
	free(url);
	free(host);
}
END_TEST

START_TEST(perform_abort_and_cap)
{
	static const struct step steps[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 0, CLOSE },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", 0, CLOSE },
	};
	struct server sv;
	http_client *c = http_client_new(NULL);
	struct sink s = { BUF_INIT, 1, 0 };
	http_response r;

	server_start(&sv, steps, 2);
	do_get(&sv, c, &s, 0, &r);
	ck_assert_int_eq(r.error, HTTP_E_ABORTED);
	ck_assert_int_eq(http_classify(r.error, r.status, NULL), HTTP_VERDICT_FAIL);
	http_response_release(&r);
	do_get(&sv, c, NULL, 5, &r);
	ck_assert_int_eq(r.error, HTTP_E_TOO_BIG);
	http_response_release(&r);
	http_client_free(c);
	server_stop(&sv);
	server_free(&sv);
	buf_release(&s.got);
}
END_TEST

START_TEST(perform_connection_refused)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;
	http_client *c = http_client_new(NULL);
	http_response r;
	char *url, *host;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);                                     /* nobody listens there now */
	url = xasprintf("http://127.0.0.1:%d/b", port);
	host = xasprintf("127.0.0.1:%d", port);
	{
		http_header h[] = { { "Host", host } };
		http_request req = { "GET", url, h, 1, NULL, NULL, NULL, 0, 0 };

		ck_assert_int_eq(http_perform(c, &req, &r), HTTP_E_CONNECT);
		ck_assert_int_eq(http_classify(r.error, r.status, NULL), HTTP_VERDICT_RETRY);
		ck_assert_str_ne(r.message, "");
	}
	http_response_release(&r);
	http_client_free(c);
	free(url);
	free(host);
}
END_TEST

Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, classify_table);
	tcase_add_test(tc, backoff_full_jitter_bounds);
	tcase_add_test(tc, http_dates);
	suite_add_tcase(s, tc);
	tc = tcase_create("s3");
	tcase_add_test(tc, endpoint_parsing);
	tcase_add_test(tc, settings_defaults_s3);
	tcase_add_test(tc, settings_path_style);
	tcase_add_test(tc, settings_gs);
	tcase_add_test(tc, settings_stall_env);
	tcase_add_test(tc, targets_path_and_virtual);
	tcase_add_test(tc, query_encoding);
	tcase_add_test(tc, part_sizes);
	tcase_add_test(tc, error_results);
	tcase_add_test(tc, skew_notes);
	tcase_add_test(tc, content_ranges);
	suite_add_tcase(s, tc);
	tc = tcase_create("perform");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, perform_streams_body_and_keeps_connection);
	tcase_add_test(tc, perform_put_has_content_length_and_no_expect);
	tcase_add_test(tc, perform_truncated_and_reset);
	tcase_add_test(tc, perform_stall_is_detected);
	tcase_add_test(tc, perform_drip_is_cut_by_the_speed_floor);
	tcase_add_test(tc, perform_time_budget);
	tcase_add_test(tc, perform_run_deadline);
	tcase_add_test(tc, perform_abort_and_cap);
	tcase_add_test(tc, perform_connection_refused);
	suite_add_tcase(s, tc);
	return s;
}
