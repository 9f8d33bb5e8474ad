/*
 * filter.h - additional subscribers' event filters: AWS EventBridge event
 * patterns, compiled once and matched against validated event objects.
 *
 * A pattern is compiled from its JSON text (the config loader passes the
 * text of the "filter" value; `evshare filter --filter` passes the
 * argument), so number spellings and repeated keys are seen as written.
 * Matching works on the original event bytes through json.h: no tree is
 * built and the event is never re-serialised.
 *
 * Ownership: filter_compile() returns a filter the caller frees with
 * filter_free(); a filter is immutable after compilation and may be used
 * from several threads at once.
 */
#ifndef EVSHARE_FILTER_H
#define EVSHARE_FILTER_H

#include "json.h"
#include "util.h"

typedef struct filter filter;

/* Compile the pattern text p[0..n).  base_path names the pattern in error
 * messages, e.g. "$.additional_subscribers[0].filter".  On failure returns
 * ES_ERR_CONFIG with *out NULL and appends one message to err of the form
 *   "$.additional_subscribers[0].filter.domain: <reason>". */
es_result filter_compile(const char *p, size_t n, const char *base_path,
			 filter **out, buf *err);

/* Does the event (a validated JSON object) match? */
bool filter_match(const filter *f, json_value event);

void filter_free(filter *f);

#endif
