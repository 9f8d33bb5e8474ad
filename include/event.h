/*
 * event.h - turn one NDJSON line into a validated event.
 *
 * A line is an event when it is valid UTF-8, one JSON object, with string
 * event_id, org_id, domain, event_type, timestamp and an integer
 * schema_version (a JSON integer literal: no fraction, no exponent).  No
 * object in it, at any depth, may repeat a key or have a key with a
 * control character (json.h, "Key checks"): a repeated "org_id", or an
 * "org_id\u0000" that C readers see as "org_id", would let two readers see
 * two tenants, and a repeated key under "data" two values for a filter.
 * Other fields are optional and untouched.
 *
 * Decoded values: event_id and org_id are decoded (escapes resolved) into
 * the parser's scratch space, so comparisons use values, not spellings.
 * They may contain NUL bytes and are therefore (pointer, length) pairs.
 *
 * Ownership: an event points into the line and into the parser; both
 * must outlive it, and the next event_parse() call invalidates it.
 */
#ifndef EVSHARE_EVENT_H
#define EVSHARE_EVENT_H

#include "json.h"
#include "util.h"

typedef struct event {
	json_value object;          /* the whole event */
	const char *event_id;       /* decoded */
	size_t event_id_len;
	const char *org_id;         /* decoded */
	size_t org_id_len;
	int64_t schema_version;
	const json_member *members; /* its top-level members (the parser's) */
	size_t nmembers;
} event;

typedef struct event_error {
	char path[JSON_PATH_MAX];   /* JSON path at fault, "$" for the line */
	char reason[160];           /* lowercase, no full stop */
} event_error;

typedef struct event_parser {
	unsigned max_depth;
	buf scratch;                /* decoded event_id and org_id */
	json_keycheck keycheck;     /* the scanner's scratch for the key checks */
	json_member *members;       /* top-level members, recorded by the parser */
	size_t members_alloc;
} event_parser;

void event_parser_init(event_parser *ep, unsigned max_depth);
void event_parser_release(event_parser *ep);

/* Validate line[0..n) (no line terminator).  Returns true with *ev filled,
 * or false with *err saying what and where. */
bool event_parse(event_parser *ep, const char *line, size_t n, event *ev,
		 event_error *err);

#endif
