/*
 * check_azxml.c - the List Blobs and <Error> parsers: replies captured from
 * Azurite 3.37.0 and one in the shape Microsoft documents for Azure
 * (tests/data/azure/xml/), NextMarker pagination, Encoded names, and the
 * refusals of azxml.h (DOCTYPE and entities, caps, depth, malformed values).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azxml.h"
#include "util.h"

static const char *data_dir(void)
{
	const char *d = getenv("EVSHARE_TEST_DATA");

	return d && *d ? d : "tests/data";
}

static void read_data(const char *name, buf *b)
{
	char *path = xasprintf("%s/azure/xml/%s", data_dir(), name);

	buf_reset(b);
	ck_assert_msg(read_file(path, b, 1 << 20) == 0, "cannot read %s", path);
	free(path);
}

static es_result parse_list(const char *xml, az_list_page *p, char **err)
{
	return azxml_parse_list_blobs(xml, strlen(xml), p, err);
}

START_TEST(azurite_pages)
{
	buf b = BUF_INIT;
	az_list_page p;
	char *err = (char *)"x";

	read_data("list-azurite-page1.xml", &b);
	ck_assert_int_eq(azxml_parse_list_blobs(b.data, b.len, &p, &err), ES_OK);
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(p.count, 2);
	ck_assert_str_eq(p.blobs[0].name, "in/a b.ndjson.gz");
	ck_assert_int_eq(p.blobs[0].size, 10);
	ck_assert_int_eq(p.blobs[0].mtime_ms, 1795755478000LL);   /* 04:57:58 */
	ck_assert_str_eq(p.blobs[0].etag, "0x1C4730B85A67400");
	ck_assert_str_eq(p.blobs[0].blob_type, "BlockBlob");
	ck_assert_str_eq(p.blobs[1].name, "in/z.ndjson");
	ck_assert_str_eq(p.next_marker, "in/z.ndjson");
	az_list_page_release(&p);
	ck_assert_ptr_null(p.blobs);

	read_data("list-azurite-page2.xml", &b);
	ck_assert_int_eq(azxml_parse_list_blobs(b.data, b.len, &p, &err), ES_OK);
	ck_assert_uint_eq(p.count, 1);
	ck_assert_str_eq(p.blobs[0].name, "in/\xc3\xa9t\xc3\xa9&<x>.ndjson");
	ck_assert_int_eq(p.blobs[0].size, 0);
	ck_assert_ptr_null(p.next_marker);          /* <NextMarker/>: the last page */
	az_list_page_release(&p);
	buf_release(&b);
}
END_TEST

START_TEST(azure_documented_shape)
{
	buf b = BUF_INIT;
	az_list_page p;
	char *err = NULL;

	read_data("list-azure-doc.xml", &b);   /* BOM, whitespace, Metadata, BlobPrefix */
	ck_assert_int_eq(azxml_parse_list_blobs(b.data, b.len, &p, &err), ES_OK);
	ck_assert_uint_eq(p.count, 3);
	ck_assert_str_eq(p.blobs[0].name, "in/2026/11/27/a.ndjson.gz");
	ck_assert_int_eq(p.blobs[0].size, 1048576);
	ck_assert_str_eq(p.blobs[0].etag, "0x8DCB1F2E3A4B5C6");
	ck_assert_str_eq(p.blobs[1].name, "in/\xef\xbf\xbf\x01" "ctl%.ndjson");
	ck_assert_str_eq(p.blobs[1].etag, "0x8DCB1F2E3A4B5C7");   /* quotes dropped */
	ck_assert_str_eq(p.blobs[1].blob_type, "AppendBlob");
	ck_assert_int_eq(p.blobs[1].mtime_ms, 1795871109000LL);
	ck_assert_str_eq(p.blobs[2].name, "in/folder/");
	ck_assert_ptr_null(p.blobs[2].etag);
	ck_assert_str_eq(p.next_marker, "2!108!MDAwMDM1IWluLzIwMjYvMTEvMjcvYi5uZGpzb24uZ3oh"
			 "MDAwMDI4ITk5OTktMTItMzFUMjM6NTk6NTkuOTk5OTk5OVoh");
	az_list_page_release(&p);
	buf_release(&b);
}
END_TEST

START_TEST(empty_listing_and_namespaces)
{
	az_list_page p;

	ck_assert_int_eq(parse_list("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>",
				    &p, NULL), ES_OK);
	ck_assert_uint_eq(p.count, 0);
	ck_assert_ptr_null(p.next_marker);
	az_list_page_release(&p);
	ck_assert_int_eq(parse_list("<x:EnumerationResults xmlns:x=\"urn:a\"><x:Blobs><x:Blob>"
				    "<x:Name>k</x:Name><x:Properties><x:Content-Length>1"
				    "</x:Content-Length><x:Last-Modified>Thu, 01 Jan 1970 00:00:01 GMT"
				    "</x:Last-Modified></x:Properties></x:Blob></x:Blobs>"
				    "</x:EnumerationResults>", &p, NULL), ES_OK);
	ck_assert_uint_eq(p.count, 1);
	ck_assert_str_eq(p.blobs[0].name, "k");
	ck_assert_int_eq(p.blobs[0].mtime_ms, 1000);
	az_list_page_release(&p);
}
END_TEST

#define BLOB(inner) "<EnumerationResults><Blobs><Blob>" inner "</Blob></Blobs></EnumerationResults>"
#define PROPS(inner) "<Properties>" inner "</Properties>"
#define OKP PROPS("<Content-Length>1</Content-Length>" \
		  "<Last-Modified>Fri, 27 Nov 2026 00:00:00 GMT</Last-Modified>")

START_TEST(refused_listings)
{
	static const struct { const char *xml, *msg; } bad[] = {
		{ "", "empty reply" },
		{ "<ListBucketResult/>", "unexpected root element <ListBucketResult>" },
		{ "<EnumerationResults>", "not well-formed" },
		{ "<!DOCTYPE x [<!ENTITY a \"b\">]><EnumerationResults/>", "DOCTYPE" },
		{ BLOB(PROPS("<Content-Length>1</Content-Length>"
			     "<Last-Modified>Fri, 27 Nov 2026 00:00:00 GMT</Last-Modified>")),
		  "has no <Name>" },
		{ BLOB("<Name>k</Name>" PROPS("<Content-Length>1</Content-Length>")),
		  "has no <Last-Modified>" },
		{ BLOB("<Name>k</Name>" PROPS("<Last-Modified>Fri, 27 Nov 2026 00:00:00 GMT"
					      "</Last-Modified>")), "has no <Content-Length>" },
		{ BLOB("<Name></Name>" OKP), "empty <Name>" },
		{ BLOB("<Name>a</Name><Name>b</Name>" OKP), "duplicate <Name>" },
		{ BLOB("<Name>k</Name>" PROPS("<Content-Length>1a</Content-Length>"
					      "<Last-Modified>Fri, 27 Nov 2026 00:00:00 GMT"
					      "</Last-Modified>")), "not a decimal byte count" },
		{ BLOB("<Name>k</Name>" PROPS("<Content-Length>9223372036854775808</Content-Length>"
					      "<Last-Modified>Fri, 27 Nov 2026 00:00:00 GMT"
					      "</Last-Modified>")), "not a decimal byte count" },
		{ BLOB("<Name>k</Name>" PROPS("<Content-Length>1</Content-Length>"
					      "<Last-Modified>2026-11-27T00:00:00Z</Last-Modified>")),
		  "not an HTTP date" },
		{ BLOB("<Name Encoded=\"true\">a%zz</Name>" OKP), "bad %-escape" },
		{ BLOB("<Name Encoded=\"true\">a%00b</Name>" OKP), "bad %-escape or %00" },
		{ BLOB("<Name>a<b/></Name>" OKP), "unexpected element <b> inside <Name>" },
		{ "<EnumerationResults><NextMarker>a</NextMarker><NextMarker>b</NextMarker>"
		  "</EnumerationResults>", "duplicate <NextMarker>" },
		{ NULL, NULL }
	};

	for (size_t i = 0; bad[i].xml; i++) {
		az_list_page p;
		char *err = NULL;

		ck_assert_msg(parse_list(bad[i].xml, &p, &err) == ES_ERR_REMOTE, "accepted: %s",
			      bad[i].xml);
		ck_assert_ptr_null(p.blobs);
		ck_assert_msg(err && strstr(err, bad[i].msg), "%s: got '%s', want '%s'",
			      bad[i].xml, err ? err : "(null)", bad[i].msg);
		free(err);
	}
}
END_TEST

START_TEST(billion_laughs_caps_and_depth)
{
	const char *lol = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
			  "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
			  "<EnumerationResults><NextMarker>&lol2;</NextMarker></EnumerationResults>";
	az_list_page p;
	char *err = NULL;
	buf b = BUF_INIT;

	ck_assert_int_eq(parse_list(lol, &p, &err), ES_ERR_REMOTE);
	ck_assert_ptr_nonnull(strstr(err, "DOCTYPE"));
	free(err);
	/* an undeclared entity is not well-formed */
	ck_assert_int_eq(parse_list("<EnumerationResults><NextMarker>&x;</NextMarker>"
				    "</EnumerationResults>", &p, NULL), ES_ERR_REMOTE);
	/* a name over the text cap */
	buf_addstr(&b, "<EnumerationResults><Blobs><Blob><Name>");
	for (size_t i = 0; i <= AZXML_MAX_TEXT; i++)
		buf_addch(&b, 'a');
	buf_addstr(&b, "</Name></Blob></Blobs></EnumerationResults>");
	ck_assert_int_eq(azxml_parse_list_blobs(b.data, b.len, &p, &err), ES_ERR_REMOTE);
	ck_assert_ptr_nonnull(strstr(err, "text over"));
	free(err);
	/* a reply over the page cap */
	ck_assert_int_eq(azxml_parse_list_blobs(b.data, AZXML_MAX_LIST_BYTES + 1, &p, &err),
			 ES_ERR_REMOTE);
	ck_assert_ptr_nonnull(strstr(err, "over the"));
	free(err);
	/* nesting */
	buf_reset(&b);
	buf_addstr(&b, "<EnumerationResults>");
	for (int i = 0; i < AZXML_MAX_DEPTH; i++)
		buf_addstr(&b, "<x>");
	for (int i = 0; i < AZXML_MAX_DEPTH; i++)
		buf_addstr(&b, "</x>");
	buf_addstr(&b, "</EnumerationResults>");
	ck_assert_int_eq(azxml_parse_list_blobs(b.data, b.len, &p, &err), ES_ERR_REMOTE);
	ck_assert_ptr_nonnull(strstr(err, "nested deeper"));
	free(err);
	buf_release(&b);
}
END_TEST

START_TEST(errors)
{
	buf b = BUF_INIT;
	az_error_info e;

	read_data("error-azurite-auth.xml", &b);
	ck_assert_int_eq(azxml_parse_error(b.data, b.len, &e), ES_OK);
	ck_assert_str_eq(e.code, "AuthorizationFailure");
	ck_assert_str_eq(e.message, "Server failed to authenticate the request. Make sure the "
			 "value of the Authorization header is formed correctly including the "
			 "signature.");
	az_error_info_release(&e);
	read_data("error-azurite-container.xml", &b);
	ck_assert_int_eq(azxml_parse_error(b.data, b.len, &e), ES_OK);
	ck_assert_str_eq(e.code, "ContainerNotFound");
	ck_assert_str_eq(e.message, "The specified container does not exist.");
	az_error_info_release(&e);
	/* Azure: BOM, and an AuthenticationErrorDetail that quotes the signature */
	read_data("error-azure-auth.xml", &b);
	ck_assert_int_eq(azxml_parse_error(b.data, b.len, &e), ES_OK);
	ck_assert_str_eq(e.code, "AuthenticationFailed");
	ck_assert_ptr_null(strstr(e.message, "SIGNATURE"));
	ck_assert_ptr_null(strstr(e.message, "RequestId"));
	az_error_info_release(&e);
	/* not errors */
	ck_assert_int_eq(azxml_parse_error("", 0, &e), ES_ERR_REMOTE);
	ck_assert_ptr_null(e.code);
	ck_assert_int_eq(azxml_parse_error("<html>busy</html>", 17, &e), ES_ERR_REMOTE);
	ck_assert_int_eq(azxml_parse_error("<Error><Message>m</Message></Error>", 35, &e),
			 ES_ERR_REMOTE);
	ck_assert_int_eq(azxml_parse_error("<Error><Code>A</Code><Code>B</Code></Error>", 43, &e),
			 ES_ERR_REMOTE);
	ck_assert_ptr_null(e.code);
	az_error_info_release(NULL);
	buf_release(&b);
}
END_TEST

Suite *azxml_suite(void)
{
	Suite *s = suite_create("azxml");
	TCase *tc = tcase_create("azxml");

	tcase_add_test(tc, azurite_pages);
	tcase_add_test(tc, azure_documented_shape);
	tcase_add_test(tc, empty_listing_and_namespaces);
	tcase_add_test(tc, refused_listings);
	tcase_add_test(tc, billion_laughs_caps_and_depth);
	tcase_add_test(tc, errors);
	suite_add_tcase(s, tc);
	return s;
}
