/*
 * fuzz_filter.c - libFuzzer target for event patterns (filter.h).
 *
 * The input is a pattern, a newline, and an event (the event may itself
 * contain newlines).  The pattern is compiled; a rejected pattern must
 * come with a message and no filter.  An accepted one P is matched against
 * the event when the event is valid JSON, and so is {"$or": [P, P]}, which
 * must give the same answer (when it is within the limits), and so must
 * matching from the top-level members json_parse_members() recorded (as
 * run does).
 * ASan/UBSan report the rest; timeouts catch matching that is not bounded.
 * Seeds are in tests/fuzz/corpus/filter/ (one per shared case).
 *
 * Built and run by tests/fuzz/run-fuzz (make fuzz).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *nl = memchr(text, '\n', size);
	size_t plen = nl ? (size_t)(nl - text) : size;
	filter *f = (filter *)&plen;   /* must be overwritten */
	buf err = BUF_INIT;
	json_value ev;
	json_error jerr;
	es_result r;

	r = filter_compile(text, plen, "$.f", &f, &err);
	if (r != ES_OK) {
		if (f != NULL || !err.len || strncmp(err.data, "$.f", 3) != 0)
			abort();
		buf_release(&err);
		return 0;
	}
	if (!f || err.len)
		abort();
	if (nl && json_parse(nl + 1, size - plen - 1, JSON_DEFAULT_MAX_DEPTH, &ev, &jerr)) {
		bool first = filter_match(f, ev);
		buf twice = BUF_INIT;
		filter *f2 = NULL;
		json_member members[64];
		json_value ev2;
		size_t nm;

		if (!json_parse_members(nl + 1, size - plen - 1, JSON_DEFAULT_MAX_DEPTH, &ev2,
					members, 64, &nm, &jerr))
			abort();   /* json_parse accepted it */
		if (nm <= 64 && filter_match_members(f, ev2, members, nm) != first)
			abort();

		buf_addstr(&twice, "{\"$or\":[");
		buf_add(&twice, text, plen);
		buf_addch(&twice, ',');
		buf_add(&twice, text, plen);
		buf_addstr(&twice, "]}");
		if (filter_compile(twice.data, twice.len, "$.f", &f2, &err) == ES_OK &&
		    filter_match(f2, ev) != first)
			abort();
		filter_free(f2);
		buf_release(&twice);
	}
	filter_free(f);
	buf_release(&err);
	return 0;
}
