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

#endif
