/*
 * fuzz_azxml.c - libFuzzer target for the Azure Blob XML reply parsers.
 *
 * Runs both parsers of azxml.h (List Blobs, <Error>) on the input and
 * releases what they return; ASan/UBSan report the rest.  Seeds are in
 * tests/fuzz/corpus/azxml/ (copies of tests/data/azure/xml/).
 * tests/fuzz/run-fuzz builds and runs it with the others.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "azxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	az_list_page page;
	az_error_info info;
	char *err = NULL;
	es_result r;

	r = azxml_parse_list_blobs(xml, size, &page, &err);
	if (r != ES_OK && (page.blobs || page.count || page.next_marker || !err || !*err))
		abort();
	if (r == ES_OK) {
		if (err)
			abort();
		for (size_t i = 0; i < page.count; i++)
			if (!page.blobs[i].name || !*page.blobs[i].name || page.blobs[i].size < 0)
				abort();
	}
	free(err);
	az_list_page_release(&page);
	r = azxml_parse_error(xml, size, &info);
	if (r == ES_OK && (!info.code || !*info.code))
		abort();
	if (r != ES_OK && (info.code || info.message))
		abort();
	az_error_info_release(&info);
	return 0;
}
