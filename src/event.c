/* event.c - validate an NDJSON line as an event. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum field_kind { FIELD_STRING, FIELD_INTEGER };

static const struct required_field {
	const char *name;
	size_t len;
	enum field_kind kind;
} required_fields[] = {
#define FIELD(name, kind) { name, sizeof(name) - 1, kind }
	FIELD("event_id", FIELD_STRING),
	FIELD("org_id", FIELD_STRING),
	FIELD("domain", FIELD_STRING),
	FIELD("event_type", FIELD_STRING),
	FIELD("schema_version", FIELD_INTEGER),
	FIELD("timestamp", FIELD_STRING),
#undef FIELD
};
#define NREQUIRED (sizeof(required_fields) / sizeof(required_fields[0]))

/* Their JSON paths, for messages (same order). */
static const char *const required_paths[] = {
	"$.event_id", "$.org_id", "$.domain", "$.event_type", "$.schema_version",
	"$.timestamp",
};

void event_parser_init(event_parser *ep, unsigned max_depth)
{
	ep->max_depth = max_depth;
	buf_init(&ep->scratch, 0);
	ep->keys = NULL;
	ep->nkeys = 0;
	ep->keys_alloc = 0;
	ep->members = NULL;
	ep->members_alloc = 0;
}

void event_parser_release(event_parser *ep)
{
	buf_release(&ep->scratch);
	free(ep->keys);
	ep->keys = NULL;
	ep->nkeys = ep->keys_alloc = 0;
	free(ep->members);
	ep->members = NULL;
	ep->members_alloc = 0;
}

static bool set_error(event_error *err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool set_error(event_error *err, const char *path, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->path, sizeof(err->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
	va_end(ap);
	return false;
}

/* Decoded keys compare equal? (Raw text equality is the common case.) */
static bool keys_equal(json_value a, json_value b)
{
	char small[128];
	char *tmp;
	size_t n;
	bool eq;

	if (a.n == b.n && memcmp(a.p, b.p, a.n) == 0)
		return true;
	if (!json_string_has_escape(a) && !json_string_has_escape(b))
		return false;
	tmp = a.n <= sizeof(small) ? small : xmalloc(a.n);
	n = json_string_decode(a, tmp);
	eq = json_string_equals(b, tmp, n);
	if (tmp != small)
		free(tmp);
	return eq;
}

struct decoded_key {
	const char *p;
	size_t n;
	json_value key;
};

static int cmp_decoded(const void *x, const void *y)
{
	const struct decoded_key *a = x, *b = y;
	size_t n = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->p, b->p, n);

	return c ? c : (a->n > b->n) - (a->n < b->n);
}

/* Find a repeated top-level key (compared by decoded value); store it in
 * *dup.  Events have a handful of keys, so pairs are compared directly; a
 * large object has its keys decoded and sorted, so no input is quadratic. */
static bool find_duplicate(event_parser *ep, json_value *dup)
{
	size_t n = ep->nkeys, total = 0;
	json_value *k = ep->keys;
	struct decoded_key *d;
	buf text = BUF_INIT;
	bool found = false;

	if (n <= 16) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (keys_equal(k[i], k[j])) {
					*dup = k[i];
					return true;
				}
		return false;
	}
	for (size_t i = 0; i < n; i++)
		total += k[i].n;
	buf_reserve(&text, total);
	d = xmalloc(n * sizeof(*d));
	for (size_t i = 0; i < n; i++) {
		d[i].n = json_string_decode(k[i], text.data + text.len);
		d[i].key = k[i];
		text.len += d[i].n;
	}
	for (size_t i = 0, off = 0; i < n; i++) {
		d[i].p = text.data + off;
		off += d[i].n;
	}
	qsort(d, n, sizeof(*d), cmp_decoded);
	for (size_t i = 1; i < n && !found; i++)
		if (d[i].n == d[i - 1].n && !memcmp(d[i].p, d[i - 1].p, d[i].n)) {
			*dup = d[i].key;
			found = true;
		}
	free(d);
	buf_release(&text);
	return found;
}

/* The decoded key, cut to fit, control characters and quotes as '?'. */
static void key_for_message(json_value key, char *out, size_t outlen)
{
	char *tmp = xmalloc(key.n);
	size_t n = json_string_decode(key, tmp);

	if (n > outlen - 1)
		n = outlen - 1;
	memcpy(out, tmp, n);
	out[n] = '\0';
	free(tmp);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == '\\' || out[i] == '"')
			out[i] = '?';
}

bool event_parse(event_parser *ep, const char *line, size_t n, event *ev,
		 event_error *err)
{
	json_value root, found[NREQUIRED];
	bool have[NREQUIRED] = { false };
	json_error jerr;
	size_t idlen, orglen, nmembers;

	if (!ep->members_alloc)
		ep->members = xgrow(ep->members, 32, &ep->members_alloc, sizeof(*ep->members));
	if (!json_parse_members(line, n, ep->max_depth, &root, ep->members,
				ep->members_alloc, &nmembers, &jerr)) {
		if (!strcmp(jerr.reason, "invalid UTF-8"))
			return set_error(err, "$", "invalid UTF-8 at byte %zu",
					 jerr.offset + 1);
		return set_error(err, "$", "invalid JSON at byte %zu: %s",
				 jerr.offset + 1, jerr.reason);
	}
	if (root.type != JSON_OBJECT)
		return set_error(err, "$", "not a JSON object but %s %s",
				 root.type == JSON_ARRAY || root.type == JSON_OBJECT
				 ? "an" : "a", json_type_name(root.type));
	if (nmembers > ep->members_alloc) {
		/* a wide object (rare): make room and record it again */
		ep->members = xgrow(ep->members, nmembers, &ep->members_alloc,
				    sizeof(*ep->members));
		json_parse_members(line, n, ep->max_depth, &root, ep->members,
				   ep->members_alloc, &nmembers, &jerr);
	}
	ep->keys = xgrow(ep->keys, nmembers, &ep->keys_alloc, sizeof(*ep->keys));
	ep->nkeys = nmembers;
	for (size_t m = 0; m < nmembers; m++) {
		json_value key = ep->members[m].key;
		bool escaped = json_string_has_escape(key);   /* once per key */

		ep->keys[m] = key;
		for (size_t i = 0; i < NREQUIRED; i++) {
			size_t len = required_fields[i].len;

			if (have[i])
				continue;
			if (escaped ? json_string_equals(key, required_fields[i].name, len)
				    : key.n - 2 == len &&
				      !memcmp(key.p + 1, required_fields[i].name, len)) {
				have[i] = true;
				found[i] = ep->members[m].value;
				break;
			}
		}
	}
	if (ep->nkeys > 1) {
		json_value dup;

		if (find_duplicate(ep, &dup)) {
			char name[48], path[64];

			key_for_message(dup, name, sizeof(name));
			snprintf(path, sizeof(path), "$.%s", name);
			return set_error(err, path, "duplicate key");
		}
	}
	for (size_t i = 0; i < NREQUIRED; i++) {
		const char *path = required_paths[i];

		if (!have[i])
			return set_error(err, path, "missing required field");
		if (required_fields[i].kind == FIELD_STRING) {
			if (found[i].type != JSON_STRING)
				return set_error(err, path, "expected a string, found %s",
						 json_type_name(found[i].type));
		} else if (found[i].type != JSON_NUMBER ||
			   !json_number_to_int64(found[i], &ev->schema_version)) {
			return set_error(err, path, "expected an integer, found %s",
					 found[i].type == JSON_NUMBER ? "a non-integer number"
					 : json_type_name(found[i].type));
		}
	}
	/* decode event_id (index 0) and org_id (index 1) */
	buf_reset(&ep->scratch);
	if (!buf_reserve(&ep->scratch, found[0].n + found[1].n))
		die("event scratch buffer");
	idlen = json_string_decode(found[0], ep->scratch.data);
	orglen = json_string_decode(found[1], ep->scratch.data + idlen);
	if (idlen == 0)
		return set_error(err, "$.event_id", "empty string");
	ev->object = root;
	ev->event_id = ep->scratch.data;
	ev->event_id_len = idlen;
	ev->org_id = ep->scratch.data + idlen;
	ev->org_id_len = orglen;
	ev->members = ep->members;
	ev->nmembers = nmembers;
	return true;
}
