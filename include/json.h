/*
 * json.h - a strict, allocation-free JSON scanner for event lines.
 *
 * evshare never re-serialises an event: it validates the line, looks at a
 * few fields, and forwards the original bytes.  This scanner does exactly
 * that.  json_parse() checks that a byte span is one JSON text (RFC 8259)
 * and valid UTF-8, with a nesting limit; afterwards the iteration and
 * string helpers below may be used on any value inside it without further
 * checks (they assume validity and never read outside the span).
 *
 * Strictness beyond RFC 8259: escaped lone surrogates (\ud800 alone) are
 * rejected, because they cannot be decoded to UTF-8.  Raw bytes must be
 * valid UTF-8 everywhere.
 *
 * A json_value points into the caller's text; it owns nothing and is valid
 * as long as that text is.
 */
#ifndef EVSHARE_JSON_H
#define EVSHARE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum json_type {
	JSON_NULL = 1,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
} json_type;

typedef struct json_value {
	const char *p;   /* first byte of the value's text (a string: its '"') */
	size_t n;        /* length of the value's text */
	json_type type;
} json_value;

typedef struct json_error {
	size_t offset;       /* byte offset in the parsed text */
	const char *reason;  /* static text: "expected ':'" */
} json_error;

#define JSON_DEFAULT_MAX_DEPTH 64

/* Validate p[0..n) as exactly one JSON value with optional surrounding
 * whitespace, nested at most max_depth deep (max_depth <= 1024).  On
 * success returns true and stores the value (without the whitespace) in
 * *out; otherwise returns false and fills *err. */
bool json_parse(const char *p, size_t n, unsigned max_depth, json_value *out,
		json_error *err);

/* json_parse(), except that bytes >= 0x80 inside strings are taken as
 * they are, UTF-8 or not; outside strings they are still errors.  For the
 * files evshare writes itself through cJSON, which copies a string's bytes
 * (keys of file:// sources are file names, and those are bytes).  The
 * string helpers below work on such values too. */
bool json_parse_bytes(const char *p, size_t n, unsigned max_depth, json_value *out,
		      json_error *err);

typedef struct json_member {
	json_value key;      /* a JSON_STRING value (quotes included) */
	json_value value;
} json_member;

/* json_parse(), and when the value is an object, its top-level members in
 * order, recorded during the same pass: the first `max` go to members[],
 * and *nmembers tells how many there are in all (more than max: the rest
 * were not stored).  *nmembers is 0 for anything but an object. */
bool json_parse_members(const char *p, size_t n, unsigned max_depth,
			json_value *out, json_member *members, size_t max,
			size_t *nmembers, json_error *err);

/* The name of a type: "string", "number", "object", ... */
const char *json_type_name(json_type t);

/* Iteration over a validated object or array. */
typedef struct json_iter {
	const char *p;
	const char *end;
} json_iter;

void json_iter_init(json_iter *it, json_value container);
/* Next member of an object: key (a JSON_STRING value) and value. */
bool json_iter_member(json_iter *it, json_value *key, json_value *val);
/* Next element of an array. */
bool json_iter_element(json_iter *it, json_value *val);

/* The first member of obj whose decoded key equals key[0..keylen). */
bool json_object_get(json_value obj, const char *key, size_t keylen,
		     json_value *val);

/* Strings (v must be a JSON_STRING value). */
/* True if the string text contains a backslash escape. */
bool json_string_has_escape(json_value v);
/* Decode into out, which must have room for v.n bytes (a decoded string is
 * never longer than its text).  Returns the decoded length; the result may
 * contain NUL bytes (from \u0000).  Not NUL-terminated. */
size_t json_string_decode(json_value v, char *out);
/* Does the decoded string equal s[0..n)?  No allocation. */
bool json_string_equals(json_value v, const char *s, size_t n);

/* Numbers (v must be a JSON_NUMBER value). */
/* True if the text has no fraction and no exponent. */
bool json_number_is_integer_literal(json_value v);
/* The value of an integer literal, false if it does not fit in int64. */
bool json_number_to_int64(json_value v, int64_t *out);
/* The value as a double (strtod semantics, correctly rounded). */
double json_number_to_double(json_value v);

/* Compare two number values exactly, as decimals of any size and
 * precision (no rounding through double): <0, 0 or >0 as a is less than,
 * equal to or greater than b.  300, 300.0, 3.0e2 and 3e+2 are equal, and
 * -0 equals 0.  Exponents beyond +-1e15 saturate (such numbers compare
 * as +-infinity or 0 against ordinary ones).  Both must be valid
 * JSON_NUMBER values (as json_parse accepts them). */
int json_number_compare(json_value a, json_value b);

#endif
