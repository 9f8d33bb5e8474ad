/*
 * check_s3xml.c - the S3 XML reply parsers: S3's and moto's shapes, url
 * encoding, errors, refusal of entities, caps, malformed documents.
 * Sample bodies are in tests/data/s3xml/ (see its README).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "s3xml.h"

#define T_064412 1795738004000LL   /* 2026-11-27T00:06:44Z */

static const char *data_dir(void)
{
	const char *d = getenv("EVSHARE_TEST_DATA");

	return d && *d ? d : "tests/data";
}

static char *load(const char *name, size_t *n)
{
	char *path = xasprintf("%s/s3xml/%s", data_dir(), name);
	buf b = BUF_INIT;

	ck_assert_msg(read_file(path, &b, 1 << 20) == 0, "cannot read '%s'", path);
	free(path);
	return buf_detach(&b, n);
}

static void list_file(const char *name, s3_list_page *p)
{
	size_t n;
	char *xml = load(name, &n), *err = NULL;
	es_result r = s3xml_parse_list_v2(xml, n, p, &err);

	ck_assert_msg(r == ES_OK, "%s: %s", name, err ? err : "?");
	ck_assert_ptr_null(err);
	free(xml);
}

static void assert_has(const char *err, const char *needle)
{
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, needle) != NULL, "message '%s' lacks '%s'", err, needle);
}

/* A ListObjectsV2 body must fail with a message containing needle. */
static void list_fails_n(const char *xml, size_t n, const char *needle)
{
	s3_list_page p;
	char *err = NULL;

	ck_assert_int_eq(s3xml_parse_list_v2(xml, n, &p, &err), ES_ERR_REMOTE);
	assert_has(err, needle);
	ck_assert_ptr_null(p.objects);
	ck_assert_uint_eq(p.count, 0);
	ck_assert_ptr_null(p.next_token);
	free(err);
}

static void list_fails(const char *xml, const char *needle)
{
	list_fails_n(xml, strlen(xml), needle);
}

#define LIST(body) "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" \
	body "</ListBucketResult>"
#define OBJ(key, size, time) "<Contents><Key>" key "</Key><LastModified>" time \
	"</LastModified><Size>" size "</Size></Contents>"
#define NOT_TRUNCATED "<IsTruncated>false</IsTruncated>"

/* --- ListObjectsV2 ------------------------------------------------------ */

START_TEST(list_s3_page)
{
	s3_list_page p;

	list_file("list-v2-s3.xml", &p);
	ck_assert_uint_eq(p.count, 3);
	ck_assert(!p.truncated);
	ck_assert_ptr_null(p.next_token);
	ck_assert_ptr_null(p.encoding_type);
	ck_assert_str_eq(p.objects[0].key, "events/2026/11/27/part-0001.ndjson.gz");
	ck_assert_int_eq(p.objects[0].size, 857);
	ck_assert_int_eq(p.objects[0].mtime_ms, T_064412);
	ck_assert_str_eq(p.objects[0].etag, "599bab3ed2c697f1d26842727561fd94");
	/* character references and raw UTF-8 both come out as UTF-8 */
	ck_assert_str_eq(p.objects[1].key,
			 "events/2026/11/27/caf\xc3\xa9-\xf0\x9f\x98\x80.ndjson.gz");
	ck_assert_int_eq(p.objects[1].size, 47189212);
	ck_assert_int_eq(p.objects[1].mtime_ms, 1795740372512LL);
	ck_assert_str_eq(p.objects[1].etag, "3858f62230ac3c915f300c664312c11f-9");
	ck_assert_str_eq(p.objects[2].key, "events/2026/11/27/\xe5\xb9\xb4/\xc3\xbc.ndjson.gz");
	ck_assert_int_eq(p.objects[2].size, 0);
	ck_assert_int_eq(p.objects[2].mtime_ms, 1795741200000LL);
	s3_list_page_release(&p);
	ck_assert_ptr_null(p.objects);
	s3_list_page_release(&p);   /* twice is fine */
}
END_TEST

START_TEST(list_truncated_keeps_base64_token)
{
	s3_list_page p;

	list_file("list-v2-s3-truncated.xml", &p);
	ck_assert(p.truncated);
	ck_assert_uint_eq(p.count, 2);
	ck_assert_str_eq(p.next_token,
			 "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM+a9Kp/Lx8d7cQ==");
	ck_assert_str_eq(p.objects[1].key, "events/b.ndjson.gz");
	ck_assert_int_eq(p.objects[1].mtime_ms, T_064412 + 1000);
	s3_list_page_release(&p);
}
END_TEST

START_TEST(list_s3_url_encoding)
{
	s3_list_page p;

	list_file("list-v2-s3-url.xml", &p);
	ck_assert_str_eq(p.encoding_type, "url");
	ck_assert_uint_eq(p.count, 4);
	/* '+' is a space, %2B a plus; EncodingType came after the keys */
	ck_assert_str_eq(p.objects[0].key, "in+out/my file 1.ndjson.gz");
	ck_assert_str_eq(p.objects[1].key, "in+out/caf\xc3\xa9\xe2\x82\xac.ndjson.gz");
	ck_assert_str_eq(p.objects[2].key, "in+out/line\nbreak\r\x01%.gz");
	ck_assert_str_eq(p.objects[3].key, "in+out/\xff\xfe-not-utf8");
	/* the token is never encoded: '+' stays */
	ck_assert_str_eq(p.next_token, "AbC+dEf/GhI=");
	s3_list_page_release(&p);
}
END_TEST

START_TEST(list_moto_page)
{
	s3_list_page p;

	list_file("list-v2-moto.xml", &p);
	ck_assert(p.truncated);
	ck_assert_str_eq(p.next_token, "6b1b2c0f3e9a4d52a0c7e8f91d2b3a4c");
	ck_assert_uint_eq(p.count, 2);
	ck_assert_str_eq(p.objects[0].key, "in/my file+1.ndjson.gz");
	ck_assert_str_eq(p.objects[0].etag, "599bab3ed2c697f1d26842727561fd94");
	ck_assert_str_eq(p.objects[1].key, "in/\xc3\xa9t\xc3\xa9.ndjson.gz");
	ck_assert_str_eq(p.objects[1].etag, "3858f62230ac3c915f300c664312c11f-2");
	ck_assert_int_eq(p.objects[1].size, 20971520);
	s3_list_page_release(&p);
}
END_TEST

START_TEST(list_empty_page)
{
	s3_list_page p;

	list_file("list-v2-empty.xml", &p);
	ck_assert_uint_eq(p.count, 0);
	ck_assert_ptr_null(p.objects);
	ck_assert(!p.truncated);
	s3_list_page_release(&p);
}
END_TEST

START_TEST(list_only_object_keys_count)
{
	s3_list_page p;

	list_file("list-v2-nested-keys.xml", &p);
	ck_assert_uint_eq(p.count, 1);
	ck_assert_str_eq(p.objects[0].key, "photos/real.jpg");
	ck_assert_int_eq(p.objects[0].size, 857);
	s3_list_page_release(&p);
}
END_TEST

START_TEST(list_etag_quotes)
{
	static const char xml[] = LIST(NOT_TRUNCATED
		"<Contents><Key>a</Key><LastModified>2026-11-27T00:06:44Z</LastModified>"
		"<ETag>&quot;raw&quot;</ETag><Size>1</Size></Contents>"
		"<Contents><Key>b</Key><LastModified>2026-11-27T00:06:44Z</LastModified>"
		"<ETag>unquoted</ETag><Size>1</Size></Contents>"
		"<Contents><Key>c</Key><LastModified>2026-11-27T00:06:44Z</LastModified>"
		"<ETag>\"</ETag><Size>1</Size></Contents>"
		"<Contents><Key>d</Key><LastModified>2026-11-27T00:06:44Z</LastModified>"
		"<Size>1</Size></Contents>");
	s3_list_page p;
	char *err = NULL;

	ck_assert_int_eq(s3xml_parse_list_v2(xml, strlen(xml), &p, &err), ES_OK);
	ck_assert_str_eq(p.objects[0].etag, "raw");
	ck_assert_str_eq(p.objects[1].etag, "unquoted");
	ck_assert_str_eq(p.objects[2].etag, "\"");
	ck_assert_ptr_null(p.objects[3].etag);
	s3_list_page_release(&p);
}
END_TEST

START_TEST(list_namespace_prefix_and_case)
{
	static const char xml[] =
		"<s3:ListBucketResult xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<s3:IsTruncated>false</s3:IsTruncated>"
		"<s3:Contents><s3:Key>k</s3:Key><s3:Size>7</s3:Size>"
		"<s3:LastModified>2026-11-27T02:06:44+02:00</s3:LastModified></s3:Contents>"
		"</s3:ListBucketResult>";
	s3_list_page p;

	ck_assert_int_eq(s3xml_parse_list_v2(xml, strlen(xml), &p, NULL), ES_OK);
	ck_assert_uint_eq(p.count, 1);
	ck_assert_str_eq(p.objects[0].key, "k");
	ck_assert_int_eq(p.objects[0].mtime_ms, T_064412);
	s3_list_page_release(&p);
	/* S3 and Cloud Storage write true and false; an old moto's False is
	 * no S3 reply */
	list_fails(LIST("<IsTruncated>False</IsTruncated>"),
		   "invalid <IsTruncated> 'False': not true or false");
}
END_TEST

START_TEST(list_sizes_are_strict)
{
	static const char max[] = LIST(NOT_TRUNCATED
		OBJ("k", "9223372036854775807", "2026-11-27T00:06:44Z"));
	s3_list_page p;

	ck_assert_int_eq(s3xml_parse_list_v2(max, strlen(max), &p, NULL), ES_OK);
	ck_assert_int_eq(p.objects[0].size, INT64_MAX);
	s3_list_page_release(&p);

	list_fails(LIST(NOT_TRUNCATED OBJ("k", "9223372036854775808", "2026-11-27T00:06:44Z")),
		   "invalid <Size> in <Contents> '9223372036854775808'");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "99999999999999999999999", "2026-11-27T00:06:44Z")),
		   "<Size>");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "-1", "2026-11-27T00:06:44Z")), "'-1'");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "12a", "2026-11-27T00:06:44Z")),
		   "'12a': not a decimal byte count");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", " 12", "2026-11-27T00:06:44Z")), "<Size>");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "+12", "2026-11-27T00:06:44Z")), "<Size>");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "", "2026-11-27T00:06:44Z")), "<Size>");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "1.5", "2026-11-27T00:06:44Z")), "<Size>");
}
END_TEST

START_TEST(list_times_are_rfc3339)
{
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "1", "yesterday")),
		   "invalid <LastModified> in <Contents> 'yesterday': not an RFC 3339 time");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "1", "2026-11-27T00:06:44")), "<LastModified>");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "1", "Fri, 27 Nov 2026 00:06:44 GMT")),
		   "<LastModified>");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "1", "2026-13-27T00:06:44Z")), "<LastModified>");
	list_fails(LIST(NOT_TRUNCATED OBJ("k", "1", "")), "<LastModified>");
}
END_TEST

START_TEST(list_structure_is_checked)
{
	list_fails(LIST(OBJ("k", "1", "2026-11-27T00:06:44Z")),
		   "no <IsTruncated> in <ListBucketResult>");
	list_fails(LIST("<IsTruncated>yes</IsTruncated>"), "invalid <IsTruncated> 'yes'");
	list_fails(LIST(NOT_TRUNCATED NOT_TRUNCATED), "duplicate <IsTruncated>");
	list_fails(LIST("<IsTruncated>true</IsTruncated>"),
		   "<IsTruncated> is true but there is no <NextContinuationToken>");
	list_fails(LIST("<IsTruncated>true</IsTruncated><NextContinuationToken/>"),
		   "no <NextContinuationToken>");
	list_fails(LIST(NOT_TRUNCATED "<Contents><Key>k</Key><Size>1</Size></Contents>"),
		   "<Contents> number 1 has no <LastModified>");
	list_fails(LIST(NOT_TRUNCATED OBJ("a", "1", "2026-11-27T00:06:44Z")
			"<Contents><LastModified>2026-11-27T00:06:44Z</LastModified>"
			"<Size>1</Size></Contents>"),
		   "<Contents> number 2 has no <Key>");
	list_fails(LIST(NOT_TRUNCATED "<Contents><Key>a</Key><Key>b</Key></Contents>"),
		   "duplicate <Key> in <Contents>");
	list_fails(LIST(NOT_TRUNCATED OBJ("", "1", "2026-11-27T00:06:44Z")),
		   "empty <Key> in <Contents>");
	list_fails(LIST(NOT_TRUNCATED "<EncodingType>base64</EncodingType>"),
		   "invalid <EncodingType> 'base64'");
	list_fails(LIST(NOT_TRUNCATED OBJ("a<b>x</b>", "1", "2026-11-27T00:06:44Z")),
		   "unexpected element <b> inside <Key>");
}
END_TEST

START_TEST(list_url_decoding_errors)
{
	list_fails(LIST(NOT_TRUNCATED "<EncodingType>url</EncodingType>"
			OBJ("a%00b", "1", "2026-11-27T00:06:44Z")),
		   "invalid <Key> in <Contents> 'a%00b': decodes to a NUL byte");
	list_fails(LIST(NOT_TRUNCATED OBJ("a%zz", "1", "2026-11-27T00:06:44Z")
			"<EncodingType>url</EncodingType>"),
		   "'a%zz': bad %-escape");
	list_fails(LIST(NOT_TRUNCATED OBJ("a%4", "1", "2026-11-27T00:06:44Z")
			"<EncodingType>url</EncodingType>"),
		   "bad %-escape");
}
END_TEST

START_TEST(list_without_encoding_keeps_percent)
{
	static const char xml[] = LIST(NOT_TRUNCATED OBJ("a%00+b%zz", "1", "2026-11-27T00:06:44Z"));
	s3_list_page p;

	ck_assert_int_eq(s3xml_parse_list_v2(xml, strlen(xml), &p, NULL), ES_OK);
	ck_assert_str_eq(p.objects[0].key, "a%00+b%zz");
	s3_list_page_release(&p);
}
END_TEST

/* --- refusals ------------------------------------------------------------ */

/* Every parser must refuse xml[0..n) with a message containing needle. */
static void all_refuse(const char *xml, size_t n, const char *needle)
{
	s3_list_page page;
	s3_upload_list uploads;
	s3_error_info info;
	char *err = NULL, *id = NULL, *etag = NULL;

	ck_assert_int_eq(s3xml_parse_list_v2(xml, n, &page, &err), ES_ERR_REMOTE);
	assert_has(err, needle);
	free(err);
	ck_assert_int_eq(s3xml_parse_list_multipart_uploads(xml, n, &uploads, &err),
			 ES_ERR_REMOTE);
	assert_has(err, needle);
	free(err);
	ck_assert_int_eq(s3xml_parse_initiate_multipart(xml, n, &id, &err), ES_ERR_REMOTE);
	ck_assert_ptr_null(id);
	assert_has(err, needle);
	free(err);
	ck_assert_int_eq(s3xml_parse_complete_multipart(xml, n, &etag, &info, &err),
			 ES_ERR_REMOTE);
	ck_assert_ptr_null(etag);
	ck_assert_ptr_null(info.code);
	assert_has(err, needle);
	free(err);
	ck_assert_int_eq(s3xml_parse_error(xml, n, &info), ES_ERR_REMOTE);
	ck_assert_ptr_null(info.code);
}

START_TEST(billion_laughs_is_refused)
{
	size_t n;
	char *xml = load("billion-laughs.xml", &n);

	all_refuse(xml, n, "DOCTYPE is refused");
	free(xml);
}
END_TEST

START_TEST(external_entity_is_refused)
{
	size_t n;
	char *xml = load("xxe.xml", &n);

	all_refuse(xml, n, "DOCTYPE is refused");
	free(xml);
	/* a DOCTYPE without entities, and an entity that was never declared */
	xml = xstrdup("<!DOCTYPE ListBucketResult><ListBucketResult/>");
	all_refuse(xml, strlen(xml), "DOCTYPE is refused");
	free(xml);
	list_fails("<ListBucketResult>&xxe;</ListBucketResult>", "undefined entity");
	{
		s3_error_info e;

		xml = xstrdup("<Error><Code>&xxe;</Code></Error>");
		ck_assert_int_eq(s3xml_parse_error(xml, strlen(xml), &e), ES_ERR_REMOTE);
		free(xml);
	}
}
END_TEST

START_TEST(oversize_body_is_refused)
{
	size_t n = S3XML_MAX_LIST_BYTES + 1;
	char *xml = xmalloc(n);
	s3_upload_list l;
	s3_error_info e;
	char *err = NULL, *out = NULL;

	memset(xml, ' ', n);
	list_fails_n(xml, n, "reply of 16777217 bytes is over the 16777216 byte limit "
		     "for <ListBucketResult>");
	ck_assert_int_eq(s3xml_parse_list_multipart_uploads(xml, n, &l, &err), ES_ERR_REMOTE);
	assert_has(err, "over the 16777216 byte limit");
	free(err);

	n = S3XML_MAX_REPLY_BYTES + 1;
	ck_assert_int_eq(s3xml_parse_initiate_multipart(xml, n, &out, &err), ES_ERR_REMOTE);
	assert_has(err, "reply of 1048577 bytes is over the 1048576 byte limit");
	free(err);
	ck_assert_int_eq(s3xml_parse_complete_multipart(xml, n, &out, &e, &err), ES_ERR_REMOTE);
	assert_has(err, "over the 1048576 byte limit for <CompleteMultipartUploadResult>");
	free(err);
	ck_assert_int_eq(s3xml_parse_error(xml, n, &e), ES_ERR_REMOTE);
	free(xml);
}
END_TEST

START_TEST(oversize_text_is_refused)
{
	size_t cap = S3XML_MAX_TEXT;
	buf b = BUF_INIT;
	s3_list_page p;
	char *err = NULL;

	/* exactly the cap is fine */
	buf_addstr(&b, "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>");
	for (size_t i = 0; i < cap; i++)
		buf_addch(&b, 'k');
	buf_addstr(&b, "</Key><Size>1</Size><LastModified>2026-11-27</LastModified>"
		       "</Contents></ListBucketResult>");
	ck_assert_int_eq(s3xml_parse_list_v2(b.data, b.len, &p, &err), ES_OK);
	ck_assert_uint_eq(strlen(p.objects[0].key), cap);
	s3_list_page_release(&p);
	buf_release(&b);

	/* one more byte is not, even split by a character reference */
	buf_addstr(&b, "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>");
	for (size_t i = 0; i < cap; i++)
		buf_addch(&b, 't');
	buf_addstr(&b, "&#x41;</NextContinuationToken></ListBucketResult>");
	list_fails_n(b.data, b.len, "<NextContinuationToken> text over 65536 bytes");
	buf_release(&b);

	/* a long element that is not used does not count */
	buf_addstr(&b, "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Owner>"
		       "<DisplayName>");
	for (size_t i = 0; i < 4 * cap; i++)
		buf_addch(&b, 'd');
	buf_addstr(&b, "</DisplayName></Owner><Key>k</Key><Size>1</Size>"
		       "<LastModified>2026-11-27T00:06:44Z</LastModified></Contents>"
		       "</ListBucketResult>");
	ck_assert_int_eq(s3xml_parse_list_v2(b.data, b.len, &p, &err), ES_OK);
	ck_assert_uint_eq(p.count, 1);
	s3_list_page_release(&p);
	buf_release(&b);
}
END_TEST

START_TEST(deep_nesting_is_refused)
{
	buf b = BUF_INIT;

	buf_addstr(&b, "<ListBucketResult>");
	for (int i = 1; i < S3XML_MAX_DEPTH; i++)
		buf_addstr(&b, "<a>");
	for (int i = 1; i < S3XML_MAX_DEPTH; i++)
		buf_addstr(&b, "</a>");
	buf_addstr(&b, NOT_TRUNCATED "</ListBucketResult>");
	{
		s3_list_page p;

		ck_assert_int_eq(s3xml_parse_list_v2(b.data, b.len, &p, NULL), ES_OK);
		s3_list_page_release(&p);
	}
	buf_release(&b);

	buf_addstr(&b, "<ListBucketResult>");
	for (int i = 0; i < S3XML_MAX_DEPTH; i++)
		buf_addstr(&b, "<a>");
	for (int i = 0; i < S3XML_MAX_DEPTH; i++)
		buf_addstr(&b, "</a>");
	buf_addstr(&b, NOT_TRUNCATED "</ListBucketResult>");
	list_fails_n(b.data, b.len, "nested deeper than 16 levels");
	buf_release(&b);
}
END_TEST

START_TEST(malformed_xml_is_refused)
{
	list_fails("", "empty reply, expected <ListBucketResult>");
	list_fails(" \r\n\t", "empty reply, expected <ListBucketResult>");
	list_fails("<ListBucketResult><IsTruncated>false</IsTruncated>",
		   "not well-formed XML (line 1, column 50: no element found), "
		   "expected <ListBucketResult>");
	list_fails("<ListBucketResult><Contents></ListBucketResult>", "mismatched tag");
	list_fails("<html><body>502 Bad Gateway</body></html>",
		   "unexpected root element <html>, expected <ListBucketResult>");
	list_fails("502 Bad Gateway", "expected <ListBucketResult>");
	list_fails(LIST(NOT_TRUNCATED) "<trailing/>", "junk after document element");
	list_fails("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>"
		   "</Error>", "unexpected root element <Error>, expected <ListBucketResult>");
	/* moto puts a control character of a key raw into the XML */
	list_fails(LIST(NOT_TRUNCATED OBJ("a\x01z", "1", "2026-11-27T00:06:44Z")),
		   "not well-formed (invalid token)");
	/* a NUL byte inside the body */
	list_fails_n(LIST(NOT_TRUNCATED) "\0", sizeof(LIST(NOT_TRUNCATED)), "not well-formed");
	list_fails("<ListBucketResult>&#0;</ListBucketResult>", "not well-formed");
	list_fails("<ListBucketResult xmlns:a=\"x\"><b:c/></ListBucketResult>", "unbound prefix");
}
END_TEST

/* --- <Error> ------------------------------------------------------------- */

START_TEST(error_bodies)
{
	static const struct {
		const char *file, *code, *message_start, *resource, *request_id;
	} cases[] = {
		{ "error-nosuchkey.xml", "NoSuchKey", "The resource you requested",
		  "/mybucket/myfoto.jpg", "4442587FB7D0A2F9" },
		{ "error-signature.xml", "SignatureDoesNotMatch",
		  "The request signature we calculated", NULL, "0B5A5E2C5A4E6F7D" },
		{ "error-skewed.xml", "RequestTimeTooSkewed",
		  "The difference between the request time", NULL, "7D3B1F5E2A9C4B86" },
		{ "complete-error-200.xml", "InternalError", "We encountered an internal error",
		  NULL, "656c76696e6727732072657175657374" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s3_error_info e;
		size_t n;
		char *xml = load(cases[i].file, &n);

		ck_assert_int_eq(s3xml_parse_error(xml, n, &e), ES_OK);
		ck_assert_str_eq(e.code, cases[i].code);
		ck_assert_msg(!strncmp(e.message, cases[i].message_start,
				       strlen(cases[i].message_start)), "%s", e.message);
		if (cases[i].resource)
			ck_assert_str_eq(e.resource, cases[i].resource);
		else
			ck_assert_ptr_null(e.resource);
		ck_assert_str_eq(e.request_id, cases[i].request_id);
		s3_error_info_release(&e);
		ck_assert_ptr_null(e.code);
		s3_error_info_release(&e);
		free(xml);
	}
}
END_TEST

START_TEST(error_refuses_other_bodies)
{
	static const char *const bodies[] = {
		"",
		"<html><body><h1>503 Service Unavailable</h1></body></html>",
		"<Error><Message>no code</Message></Error>",
		"<Error><Code></Code></Error>",
		"<Error><Code>A</Code><Code>B</Code></Error>",
		"<Error><Code>NoSuchKey</Code>",
		LIST(NOT_TRUNCATED),
	};
	s3_error_info e;
	const char *body;

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		ck_assert_int_eq(s3xml_parse_error(bodies[i], strlen(bodies[i]), &e),
				 ES_ERR_REMOTE);
		ck_assert_ptr_null(e.code);
		ck_assert_ptr_null(e.message);
	}
	/* only a <Code> just below the root counts */
	body = "<Error><Detail><Code>X</Code></Detail></Error>";
	ck_assert_int_eq(s3xml_parse_error(body, strlen(body), &e), ES_ERR_REMOTE);
	body = "<Error><Code>X</Code><Detail><Code>Y</Code></Detail></Error>";
	ck_assert_int_eq(s3xml_parse_error(body, strlen(body), &e), ES_OK);
	ck_assert_str_eq(e.code, "X");
	s3_error_info_release(&e);
}
END_TEST

/* --- multipart ----------------------------------------------------------- */

START_TEST(initiate_reply)
{
	size_t n;
	char *xml = load("initiate.xml", &n), *id = NULL, *err = NULL;
	const char *body;

	ck_assert_int_eq(s3xml_parse_initiate_multipart(xml, n, &id, &err), ES_OK);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
	free(id);
	free(xml);

	body = "<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>";
	ck_assert_int_eq(s3xml_parse_initiate_multipart(body, strlen(body), &id, &err),
			 ES_ERR_REMOTE);
	assert_has(err, "no <UploadId> in <InitiateMultipartUploadResult>");
	ck_assert_ptr_null(id);
	free(err);
	body = "<Error><Code>AccessDenied</Code></Error>";
	ck_assert_int_eq(s3xml_parse_initiate_multipart(body, strlen(body), &id, &err),
			 ES_ERR_REMOTE);
	assert_has(err, "unexpected root element <Error>, expected <InitiateMultipartUploadResult>");
	free(err);
}
END_TEST

START_TEST(complete_reply)
{
	static const char *const files[] = { "complete-s3.xml", "complete-moto.xml" };
	static const char *const etags[] = { "3858f62230ac3c915f300c664312c11f-9",
					     "79b281060d337b9b2b84ccf390adcf74-2" };
	s3_error_info e;
	size_t n;
	char *xml, *etag = NULL, *err = NULL;

	for (int i = 0; i < 2; i++) {
		xml = load(files[i], &n);
		ck_assert_int_eq(s3xml_parse_complete_multipart(xml, n, &etag, &e, &err), ES_OK);
		ck_assert_str_eq(etag, etags[i]);
		ck_assert_ptr_null(err);
		ck_assert_ptr_null(e.code);
		free(etag);
		etag = NULL;
		free(xml);
	}
	/* moto 5.2.1's root is not S3's (tests/peer/ answers with S3's) */
	xml = load("complete-moto-5.2.1.xml", &n);
	ck_assert_int_eq(s3xml_parse_complete_multipart(xml, n, &etag, &e, &err), ES_ERR_REMOTE);
	ck_assert_ptr_null(etag);
	assert_has(err, "expected <CompleteMultipartUploadResult>");
	free(err);
	free(xml);
}
END_TEST

START_TEST(complete_200_with_error)
{
	s3_error_info e;
	size_t n;
	char *xml = load("complete-error-200.xml", &n), *etag = NULL, *err = NULL;
	const char *body;

	ck_assert_int_eq(s3xml_parse_complete_multipart(xml, n, &etag, &e, &err), ES_ERR_REMOTE);
	ck_assert_ptr_null(etag);
	ck_assert_str_eq(e.code, "InternalError");
	ck_assert_str_eq(e.request_id, "656c76696e6727732072657175657374");
	ck_assert_str_eq(err, "CompleteMultipartUpload failed: 'InternalError': "
			 "We encountered an internal error. Please try again.");
	free(err);
	s3_error_info_release(&e);
	free(xml);

	/* an <Error> without a <Code> is reported as such */
	body = "<Error><Message>m</Message></Error>";
	ck_assert_int_eq(s3xml_parse_complete_multipart(body, strlen(body), &etag, &e, &err),
			 ES_ERR_REMOTE);
	ck_assert_ptr_null(e.code);
	ck_assert_str_eq(err, "no <Code> in <Error>");
	free(err);
}
END_TEST

START_TEST(complete_needs_etag)
{
	static const char *const bodies[] = {
		"<CompleteMultipartUploadResult><Key>k</Key></CompleteMultipartUploadResult>",
		"<CompleteMultipartUploadResult><ETag>&quot;&quot;</ETag>"
		"</CompleteMultipartUploadResult>",
	};

	for (int i = 0; i < 2; i++) {
		s3_error_info e;
		char *etag = NULL, *err = NULL;

		ck_assert_int_eq(s3xml_parse_complete_multipart(bodies[i], strlen(bodies[i]),
								&etag, &e, &err), ES_ERR_REMOTE);
		ck_assert_ptr_null(etag);
		ck_assert_str_eq(err, "no <ETag> in <CompleteMultipartUploadResult>");
		free(err);
	}
}
END_TEST

START_TEST(uploads_s3_page)
{
	s3_upload_list l;
	size_t n;
	char *xml = load("uploads-s3.xml", &n), *err = NULL;

	ck_assert_int_eq(s3xml_parse_list_multipart_uploads(xml, n, &l, &err), ES_OK);
	ck_assert_uint_eq(l.count, 3);
	ck_assert(l.truncated);
	ck_assert_str_eq(l.next_key_marker, "my-movie.m2ts");
	ck_assert_str_eq(l.next_upload_id_marker,
			 "YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ");
	ck_assert_str_eq(l.uploads[0].key, "my-divisor");
	ck_assert_str_eq(l.uploads[0].upload_id,
			 "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw");
	ck_assert_int_eq(l.uploads[0].initiated_ms, 1289422113000LL);
	ck_assert_str_eq(l.uploads[2].key, "my-movie.m2ts");
	ck_assert_int_eq(l.uploads[2].initiated_ms, 1289422173000LL);
	s3_upload_list_release(&l);
	ck_assert_ptr_null(l.uploads);
	free(xml);
}
END_TEST

START_TEST(uploads_url_and_moto)
{
	s3_upload_list l;
	size_t n;
	char *xml = load("uploads-url.xml", &n), *err = NULL;

	ck_assert_int_eq(s3xml_parse_list_multipart_uploads(xml, n, &l, NULL), ES_OK);
	ck_assert_uint_eq(l.count, 1);
	ck_assert_str_eq(l.uploads[0].key, "out/b c+\xc3\xa9.gz");
	ck_assert_str_eq(l.next_key_marker, "out/b c+\xc3\xa9.gz");
	/* upload ids are not encoded */
	ck_assert_str_eq(l.next_upload_id_marker, "b3RoZXIgdXBsb2FkIGZvciB0aGUgc2FtZSBrZXk+/=");
	ck_assert_str_eq(l.uploads[0].upload_id, "b3RoZXIgdXBsb2FkIGZvciB0aGUgc2FtZSBrZXk+/=");
	s3_upload_list_release(&l);
	free(xml);

	/* an old moto's <IsTruncated>False</IsTruncated> is no S3 reply */
	xml = load("uploads-moto.xml", &n);
	ck_assert_int_eq(s3xml_parse_list_multipart_uploads(xml, n, &l, &err), ES_ERR_REMOTE);
	assert_has(err, "invalid <IsTruncated> 'False'");
	ck_assert_uint_eq(l.count, 0);
	free(err);
	free(xml);
}
END_TEST

START_TEST(uploads_structure_is_checked)
{
	static const struct { const char *xml, *needle; } cases[] = {
		{ "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
		  "<NextKeyMarker>k</NextKeyMarker></ListMultipartUploadsResult>",
		  "<NextKeyMarker> or <NextUploadIdMarker> is missing" },
		{ "<ListMultipartUploadsResult></ListMultipartUploadsResult>",
		  "no <IsTruncated> in <ListMultipartUploadsResult>" },
		{ "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key>"
		  "<Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload>"
		  "</ListMultipartUploadsResult>",
		  "<Upload> number 1 has no <UploadId>" },
		{ "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key>"
		  "<UploadId>u</UploadId><Initiated>soon</Initiated></Upload>"
		  "</ListMultipartUploadsResult>",
		  "invalid <Initiated> in <Upload> 'soon'" },
		{ "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k%</Key>"
		  "<UploadId>u</UploadId><Initiated>2010-11-10T20:48:33Z</Initiated></Upload>"
		  "<EncodingType>url</EncodingType></ListMultipartUploadsResult>",
		  "invalid <Key> in <Upload> 'k%': bad %-escape" },
		{ "<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
		  "<NextKeyMarker>%00</NextKeyMarker><NextUploadIdMarker>u</NextUploadIdMarker>"
		  "<EncodingType>url</EncodingType></ListMultipartUploadsResult>",
		  "invalid <NextKeyMarker> '%00': decodes to a NUL byte" },
		{ "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated><Upload><Key>k</Key>"
		  "<UploadId></UploadId><Initiated>2010-11-10T20:48:33Z</Initiated></Upload>"
		  "</ListMultipartUploadsResult>",
		  "empty <UploadId> in <Upload>" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s3_upload_list l;
		char *err = NULL;

		ck_assert_int_eq(s3xml_parse_list_multipart_uploads(cases[i].xml,
								    strlen(cases[i].xml), &l, &err),
				 ES_ERR_REMOTE);
		assert_has(err, cases[i].needle);
		ck_assert_ptr_null(l.uploads);
		ck_assert_ptr_null(l.next_key_marker);
		free(err);
	}
}
END_TEST

/* --- url decoding -------------------------------------------------------- */

START_TEST(url_decode_helper)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "", "" }, { "plain", "plain" }, { "a+b", "a b" }, { "a%2Bb", "a+b" },
		{ "a%2bb", "a+b" }, { "%20%7e", " ~" }, { "%C3%A9t%c3%a9", "\xc3\xa9t\xc3\xa9" },
		{ "\xc3\xa9", "\xc3\xa9" }, { "%FF", "\xff" }, { "100%25", "100%" },
	};
	static const char *const bad[] = { "%", "%2", "a%g0", "%0g", "%00", "a%00b", "%%20" };

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *d = s3xml_url_decode(ok[i].in, strlen(ok[i].in));

		ck_assert_ptr_nonnull(d);
		ck_assert_str_eq(d, ok[i].out);
		free(d);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_ptr_null(s3xml_url_decode(bad[i], strlen(bad[i])));
	ck_assert_ptr_null(s3xml_url_decode("a\0b", 3));
	/* n bounds the input: "%2" of "%2B" is cut */
	ck_assert_ptr_null(s3xml_url_decode("%2B", 2));
}
END_TEST

Suite *s3xml_suite(void)
{
	Suite *s = suite_create("s3xml");
	TCase *list = tcase_create("list_v2");
	TCase *refuse = tcase_create("refusals");
	TCase *other = tcase_create("error_multipart");

	tcase_add_test(list, list_s3_page);
	tcase_add_test(list, list_truncated_keeps_base64_token);
	tcase_add_test(list, list_s3_url_encoding);
	tcase_add_test(list, list_moto_page);
	tcase_add_test(list, list_empty_page);
	tcase_add_test(list, list_only_object_keys_count);
	tcase_add_test(list, list_etag_quotes);
	tcase_add_test(list, list_namespace_prefix_and_case);
	tcase_add_test(list, list_sizes_are_strict);
	tcase_add_test(list, list_times_are_rfc3339);
	tcase_add_test(list, list_structure_is_checked);
	tcase_add_test(list, list_url_decoding_errors);
	tcase_add_test(list, list_without_encoding_keeps_percent);
	tcase_add_test(list, url_decode_helper);
	suite_add_tcase(s, list);

	tcase_add_test(refuse, billion_laughs_is_refused);
	tcase_add_test(refuse, external_entity_is_refused);
	tcase_add_test(refuse, oversize_body_is_refused);
	tcase_add_test(refuse, oversize_text_is_refused);
	tcase_add_test(refuse, deep_nesting_is_refused);
	tcase_add_test(refuse, malformed_xml_is_refused);
	tcase_set_timeout(refuse, 30);
	suite_add_tcase(s, refuse);

	tcase_add_test(other, error_bodies);
	tcase_add_test(other, error_refuses_other_bodies);
	tcase_add_test(other, initiate_reply);
	tcase_add_test(other, complete_reply);
	tcase_add_test(other, complete_200_with_error);
	tcase_add_test(other, complete_needs_etag);
	tcase_add_test(other, uploads_s3_page);
	tcase_add_test(other, uploads_url_and_moto);
	tcase_add_test(other, uploads_structure_is_checked);
	suite_add_tcase(s, other);
	return s;
}
