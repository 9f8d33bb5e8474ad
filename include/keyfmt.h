/*
 * keyfmt.h - output key templates ("key_format").
 *
 * Placeholders: {subscriber} {source} {yyyy} {mm} {dd} {hh} {run_id} {seq}.
 * Times are the run start, UTC.  {seq} is the object's number within the
 * run for the subscriber, zero-padded to 6 digits, from 000001.
 *
 * A template must contain {run_id} and {seq} (so no two objects of any
 * two runs share a key) and must not be able to leave the destination
 * prefix: it is relative, has no empty, "." or ".." segment, no control
 * character, no backslash, and braces only around known placeholders.
 * The values substituted are org_ids (validated by the config loader to
 * [A-Za-z0-9._-], not "." or "..") and evshare's own digits and run ids,
 * so a rendered key is always safe; keyfmt_render checks it anyway.
 */
#ifndef EVSHARE_KEYFMT_H
#define EVSHARE_KEYFMT_H

#include "util.h"

typedef struct keyfmt keyfmt;

typedef struct keyfmt_vars {
	const char *subscriber;
	const char *source;       /* may be NULL when the template has no {source} */
	int64_t run_start_ms;
	const char *run_id;
	unsigned seq;
} keyfmt_vars;

#define KEYFMT_DEFAULT "{subscriber}/{yyyy}/{mm}/{dd}/{run_id}-{seq}.ndjson.gz"

/* Compile; on failure appends the reason to err and returns ES_ERR_CONFIG. */
es_result keyfmt_compile(const char *text, keyfmt **out, buf *err);
void keyfmt_free(keyfmt *k);
bool keyfmt_uses_source(const keyfmt *k);
/* Append the rendered key to out.  Returns false (nothing usable) if the
 * result would not be a safe key. */
bool keyfmt_render(const keyfmt *k, const keyfmt_vars *v, buf *out);

/*
 * Key spaces: every key one subscriber's outputs can ever have in a store,
 * `prefix` followed by the template rendered with its own org_id, any of
 * its linked sources' org_ids for {source}, and any time, run id and
 * sequence number (each placeholder taken on its own, across runs: {yyyy}
 * four digits, {mm} {dd} {hh} two, {run_id} the shape of a run id, {seq}
 * six digits or more).
 *
 * keyfmt_spaces_meet() tells whether two key spaces share a key: exactly,
 * as the intersection of two regular languages (a search over pairs of
 * positions in both), so "x/{run_id}-{seq}" under "dest/" meets
 * "{run_id}-{seq}" under "dest/x/" and "{subscriber}/..." of two org_ids
 * never meets.  A search that would pass KEYFMT_MEET_MAX_STEPS pairs
 * answers true (they may meet): refusing a config is safe, losing a
 * partner's objects is not.  With a meeting and `example` non-NULL, a key
 * both can produce (or, after the bound, the prefix searched so far) is
 * appended to it.
 */
typedef struct keyfmt_space {
	const char *prefix;
	const keyfmt *fmt;
	const char *subscriber;
	const char *const *sources;
	size_t nsources;
} keyfmt_space;

#define KEYFMT_MEET_MAX_STEPS 2000000u

bool keyfmt_spaces_meet(const keyfmt_space *a, const keyfmt_space *b, buf *example);
/*
 * Texts one of which every key of the space starts with: the prefix, then
 * the template's leading text, {subscriber} and {source} (each linked
 * source's org_id: one text per source, up to KEYFMT_MAX_LITERALS, else
 * the text before {source} alone), up to its first other placeholder.
 * Two spaces none of whose texts starts with one of the other's never
 * meet: a cheap test before keyfmt_spaces_meet for configs of thousands
 * of subscribers.  Returns how many; *out (allocated, each allocated).
 */
#define KEYFMT_MAX_LITERALS 16
size_t keyfmt_space_literals(const keyfmt_space *sp, char ***out);
/* Could spaces with these texts meet (one starts with another)? */
bool keyfmt_literals_meet(char *const *a, size_t na, char *const *b, size_t nb);

#endif
