/*
 * fuzz_event.c - libFuzzer target for the event parser (event.h) and the
 * JSON scanner under it (json.h).
 *
 * The input is NDJSON: each line (split on LF, nothing dropped) goes
 * through event_parse() and json_parse(), and they must agree: a valid
 * event is a valid JSON object; a line that is not JSON is refused at "$".
 * An event's decoded event_id and org_id are the decoded values of those
 * members, and schema_version is theirs; a refusal has a path and a
 * reason.
 *
 * For every line that is valid JSON:
 *   - json_parse_members() gives the same value, and its members are the
 *     ones json_iter_member() walks, in order, byte for byte;
 *   - every value inside is walked with the iterators; each string decodes
 *     (json_string_decode, into a block of exactly its text's size, so a
 *     longer result is an overflow) to no more bytes than its text, to
 *     valid UTF-8, and json_string_equals() agrees with the decoding;
 *   - every number compares equal to itself (json_number_compare);
 *     integer literals that fit in int64 compare as their values do; and
 *     two numbers whose doubles (json_number_to_double, correctly rounded,
 *     so monotonic) differ compare the same way.
 * Seeds are in tests/fuzz/corpus/event/.
 *
 * Built and run by tests/fuzz/run-fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MEMBERS 64

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

/* The decoded string, in a block of exactly v.n bytes. */
static char *decode(json_value v, size_t *len)
{
	char *out = xmalloc(v.n);

	*len = json_string_decode(v, out);
	return out;
}

static void check_string(json_value v)
{
	size_t len;
	char *s;

	if (v.type != JSON_STRING || v.n < 2 || v.p[0] != '"' || v.p[v.n - 1] != '"')
		abort();
	s = decode(v, &len);
	if (len > v.n - 2 || !utf8_valid(s, len) || !json_string_equals(v, s, len))
		abort();
	if (!json_string_has_escape(v) && (len != v.n - 2 || memcmp(s, v.p + 1, len)))
		abort();
	if (len && json_string_equals(v, s, len - 1))
		abort();
	free(s);
}

#define MAX_NUMBERS 24

/* The numbers of a line, for comparing them pairwise. */
typedef struct numbers {
	json_value v[MAX_NUMBERS];
	size_t n;
} numbers;

static void check_number(json_value v, numbers *nums)
{
	if (json_number_compare(v, v) != 0)
		abort();
	if (nums->n < MAX_NUMBERS)
		nums->v[nums->n++] = v;
}

static void compare_numbers(const numbers *nums)
{
	for (size_t i = 0; i < nums->n; i++) {
		json_value a = nums->v[i];
		double da = json_number_to_double(a);
		int64_t ia, ib;
		bool a_int = json_number_is_integer_literal(a) && json_number_to_int64(a, &ia);

		for (size_t j = 0; j < nums->n; j++) {
			json_value b = nums->v[j];
			double db = json_number_to_double(b);
			int c = sign(json_number_compare(a, b));

			if (c != -sign(json_number_compare(b, a)))
				abort();
			if (da != db && c != (da < db ? -1 : 1))
				abort();
			if (a_int && json_number_is_integer_literal(b) && json_number_to_int64(b, &ib) &&
			    c != (ia > ib) - (ia < ib))
				abort();
		}
	}
}

/* Walk every value inside v. */
static void walk(json_value v, numbers *nums)
{
	json_iter it;
	json_value k, e;

	switch (v.type) {
	case JSON_STRING:
		check_string(v);
		break;
	case JSON_NUMBER:
		check_number(v, nums);
		break;
	case JSON_OBJECT:
		json_iter_init(&it, v);
		while (json_iter_member(&it, &k, &e)) {
			check_string(k);
			walk(e, nums);
		}
		break;
	case JSON_ARRAY:
		json_iter_init(&it, v);
		while (json_iter_element(&it, &e))
			walk(e, nums);
		break;
	default:
		break;
	}
}

static bool same_value(json_value a, json_value b)
{
	return a.p == b.p && a.n == b.n && a.type == b.type;
}

static void check_json(const char *line, size_t n)
{
	json_value root, root2, k, v;
	json_member members[MAX_MEMBERS];
	json_error err;
	json_iter it;
	size_t nmembers, i = 0;
	numbers nums;

	if (!json_parse(line, n, JSON_DEFAULT_MAX_DEPTH, &root, &err)) {
		if (!err.reason || !*err.reason || err.offset > n ||
		    json_parse_members(line, n, JSON_DEFAULT_MAX_DEPTH, &root2, members,
				       MAX_MEMBERS, &nmembers, &err))
			abort();
		return;
	}
	if (!json_parse_members(line, n, JSON_DEFAULT_MAX_DEPTH, &root2, members, MAX_MEMBERS,
				&nmembers, &err) || !same_value(root, root2))
		abort();
	if (root.type != JSON_OBJECT && nmembers != 0)
		abort();
	if (root.type == JSON_OBJECT) {
		json_iter_init(&it, root);
		while (json_iter_member(&it, &k, &v)) {
			if (i < MAX_MEMBERS && (!same_value(members[i].key, k) ||
						!same_value(members[i].value, v)))
				abort();
			i++;
		}
		if (i != nmembers)
			abort();
	}
	nums.n = 0;
	walk(root, &nums);
	compare_numbers(&nums);
}

static void check_event(event_parser *ep, const char *line, size_t n)
{
	json_value root, v;
	json_error jerr;
	event ev;
	event_error err;
	bool is_json = json_parse(line, n, JSON_DEFAULT_MAX_DEPTH, &root, &jerr);
	char *s;
	size_t len;

	memset(&err, 0, sizeof(err));
	if (!event_parse(ep, line, n, &ev, &err)) {
		if (err.path[0] != '$' || !err.reason[0] ||
		    memchr(err.path, '\0', sizeof(err.path)) == NULL ||
		    memchr(err.reason, '\0', sizeof(err.reason)) == NULL)
			abort();
		if (!is_json && strcmp(err.path, "$") != 0)
			abort();
		return;
	}
	if (!is_json || root.type != JSON_OBJECT || !same_value(root, ev.object))
		abort();
	if (!json_object_get(root, "event_id", 8, &v) || v.type != JSON_STRING)
		abort();
	s = decode(v, &len);
	if (ev.event_id_len == 0 || len != ev.event_id_len || memcmp(s, ev.event_id, len))
		abort();
	free(s);
	if (!json_object_get(root, "org_id", 6, &v) || v.type != JSON_STRING)
		abort();
	s = decode(v, &len);
	if (len != ev.org_id_len || memcmp(s, ev.org_id, len))
		abort();
	free(s);
	{
		int64_t sv;

		if (!json_object_get(root, "schema_version", 14, &v) || v.type != JSON_NUMBER ||
		    !json_number_to_int64(v, &sv) || sv != ev.schema_version)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static event_parser ep;
	static bool ready;
	const char *p = (const char *)data, *end = p + size;

	if (!ready) {
		event_parser_init(&ep, JSON_DEFAULT_MAX_DEPTH);
		ready = true;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		/* each line in its own block, so that reads past it are seen */
		char *line = xmalloc(n ? n : 1);

		memcpy(line, p, n);
		check_event(&ep, line, n);
		check_json(line, n);
		free(line);
		p += n + 1;
	}
	return 0;
}
