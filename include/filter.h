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
 *
 * Semantics are EventBridge's (where the SNS dialect differs, EventBridge
 * wins); tests/data/filter/README.md describes them in full:
 *  - a pattern object is shaped like the event; an array is a leaf (its
 *    entries are alternatives), an object descends, all keys must hold;
 *    a bare scalar, [] and {} are rejected; a repeated pattern key takes
 *    its last value; "a.b" and {"a": {"b": ...}} are the same, in the
 *    pattern and in the event;
 *  - exact values: strings byte for byte, true/false/null as literals,
 *    numbers by value (300 = 300.0 = 3.0e2), exactly, at any size;
 *  - an array in the event matches when any element does (nested arrays
 *    are flattened); the conditions side by side in one pattern object
 *    must hold for the same element of an array of objects;
 *  - only {"exists": false} matches a missing field; null is a value
 *    (exists: true holds for it); an object or an empty array is not;
 *  - operators: prefix, suffix (each also with {"equals-ignore-case": s}),
 *    equals-ignore-case, wildcard, anything-but (a value, a list, or
 *    prefix/suffix/equals-ignore-case/wildcard), numeric, exists, cidr,
 *    and "$or" at any level;
 *  - case is ignored by Unicode simple case folding (Unicode 14.0,
 *    CaseFolding.txt C+S: "É" = "é", "Σ" = "σ" = "ς", "ẞ" = "ß", but
 *    "ß" is not "ss");
 *  - numeric compares exact decimals: no range limit and no rounding
 *    (EventBridge documents -5e9..5e9 with 6 decimals; any pattern valid
 *    there behaves the same here);
 *  - in an event, a key repeated within one object counts once, at its
 *    first occurrence (as json_object_get reads it).
 *
 * Limits, enforced by filter_compile: 64 KiB of pattern text, 32 levels
 * of keys (dotted segments count), 1000 combinations once "$or" is
 * multiplied out (EventBridge's limit) and 100000 fields in all of them,
 * and EventBridge's wildcard complexity (at most 10 pattern prefixes
 * matching one input at once).  Matching is linear in the event size for
 * each pattern object; wildcards are matched without backtracking.
 */
#ifndef EVSHARE_FILTER_H
#define EVSHARE_FILTER_H

#include "json.h"
#include "util.h"

typedef struct filter filter;

/* Compile the pattern text p[0..n).  base_path names the pattern in error
 * messages, e.g. "$.additional_subscribers[0].filter".  On failure returns
 * ES_ERR_CONFIG with *out NULL and appends one message to err of the form
 *   "$.additional_subscribers[0].filter.domain: <reason>".
 * (no newline).  The path goes down to the faulty value, operators
 * included: "...filter.detail.state[0].anything-but.prefix: must not be an
 * empty string". */
es_result filter_compile(const char *p, size_t n, const char *base_path,
			 filter **out, buf *err);

/* Does the event (a value validated by json_parse) match?  Anything but
 * an object never matches.  Allocates only in rare cases: an escaped key
 * or compared string of 256 bytes or more, a pattern object of more than
 * 16 fields. */
bool filter_match(const filter *f, json_value event);

/* filter_match() on an event whose top-level members the parser recorded
 * (json_parse_members(), all n of them): the top level is matched from
 * members[] instead of by scanning the text again, so a key the event
 * lacks costs a look at each member, not a walk over the whole event. */
bool filter_match_members(const filter *f, json_value event, const json_member *members,
			  size_t n);

void filter_free(filter *f);

#endif
