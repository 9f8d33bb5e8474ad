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
	json_keycheck_init(&ep->keycheck);
	ep->members = NULL;
	ep->members_alloc = 0;
}

void event_parser_release(event_parser *ep)
{
	buf_release(&ep->scratch);
	json_keycheck_release(&ep->keycheck);
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

bool event_parse(event_parser *ep, const char *line, size_t n, event *ev,
		 event_error *err)
{
	json_value root, found[NREQUIRED];
	bool have[NREQUIRED] = { false };
	json_error jerr;
	size_t idlen, orglen, nmembers;

	if (!ep->members_alloc)
		ep->members = xgrow(ep->members, 32, &ep->members_alloc, sizeof(*ep->members));
	if (!json_parse_members_checked(line, n, ep->max_depth, &root, ep->members,
					ep->members_alloc, &nmembers, &ep->keycheck, &jerr)) {
		if (ep->keycheck.error_path[0])   /* a repeated key, a control character in one */
			return set_error(err, ep->keycheck.error_path, "%s", jerr.reason);
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
		/* a wide object (rare): make room and record it again (its
		 * keys were checked) */
		ep->members = xgrow(ep->members, nmembers, &ep->members_alloc,
				    sizeof(*ep->members));
		json_parse_members(line, n, ep->max_depth, &root, ep->members,
				   ep->members_alloc, &nmembers, &jerr);
	}
	for (size_t m = 0; m < nmembers; m++) {
		json_value key = ep->members[m].key;
		bool escaped = json_string_has_escape(key);   /* once per key */

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
