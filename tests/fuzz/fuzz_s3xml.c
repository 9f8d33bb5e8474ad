/*
 * fuzz_s3xml.c - libFuzzer target for the S3 XML reply parsers.
 *
 * Runs every parser of s3xml.h, and the url decoder, on the input and
 * releases what they return; ASan/UBSan report the rest.  Seeds are in
 * tests/fuzz/corpus/s3xml/ and tests/data/s3xml/.
 *
 * Built and run by tests/fuzz/run-fuzz (make fuzz).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* On failure everything must be released and a message given. */
static void check_failure(es_result r, char *err)
{
	if (r != ES_OK && (!err || !*err))
		abort();
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	s3_list_page page;
	s3_upload_list uploads;
	s3_error_info info;
	char *err = NULL, *s = NULL;
	es_result r;

	r = s3xml_parse_list_v2(xml, size, &page, &err);
	if (r != ES_OK && (page.objects || page.count || page.next_token))
		abort();
	for (size_t i = 0; i < page.count; i++)
		if (!page.objects[i].key || !*page.objects[i].key || page.objects[i].size < 0)
			abort();
	if (page.truncated && !page.next_token)
		abort();
	s3_list_page_release(&page);
	check_failure(r, err);

	r = s3xml_parse_list_multipart_uploads(xml, size, &uploads, &err);
	for (size_t i = 0; i < uploads.count; i++)
		if (!uploads.uploads[i].key || !uploads.uploads[i].upload_id)
			abort();
	s3_upload_list_release(&uploads);
	check_failure(r, err);

	r = s3xml_parse_error(xml, size, &info);
	if ((r == ES_OK) != (info.code != NULL))
		abort();
	s3_error_info_release(&info);

	r = s3xml_parse_initiate_multipart(xml, size, &s, &err);
	if ((r == ES_OK) != (s != NULL))
		abort();
	free(s);
	check_failure(r, err);

	r = s3xml_parse_complete_multipart(xml, size, &s, &info, &err);
	if ((r == ES_OK) != (s != NULL))
		abort();
	free(s);
	s3_error_info_release(&info);
	check_failure(r, err);

	s = s3xml_url_decode(xml, size);
	if (s && strlen(s) > size)
		abort();
	free(s);
	return 0;
}
