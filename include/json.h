/*
 * json.h - evshare's JSON reader: a strict, allocation-free scanner.
 *
 * It reads every JSON evshare takes in: event lines, the configuration,
 * the plan journal and the state file (its writer is jsonw.h).  No tree
 * is built.  json_parse() checks that a byte span is one JSON text (RFC
 * 8259) and valid UTF-8, with a nesting limit; afterwards the iteration,
 * string and number helpers below may be used on any value inside it
 * without further checks (they assume validity and never read outside
 * the span).  An event is validated, a few of its fields are looked at,
 * and its original bytes are forwarded; a file is validated once, then
 * read with the helpers of "Reading a file" below.
 *
 * Strictness beyond RFC 8259: escaped lone surrogates (\ud800 alone) are
 * rejected, because they cannot be decoded to UTF-8.  Raw bytes must be
 * valid UTF-8 everywhere.
 *
 * Events get stricter keys (json_parse_members_checked): no key may repeat
 * in its object or contain a control character, in every object at every
 * depth (see "Key checks" below).  json_parse(), json_parse_bytes() and
 * json_parse_members() do not check keys: the configuration has its own
 * duplicate check with its own messages (config.c), the state files' keys
 * are file names, which may hold any byte, and the filter is tested on
 * events with repeated keys too.
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
 * files evshare writes itself (state.json, the plan journal), where jsonw
 * copies a string's bytes (JSONW_BYTES: keys of file:// sources are file
 * names, and those are bytes).  The string helpers below work on such
 * values too. */
bool json_parse_bytes(const char *p, size_t n, unsigned max_depth, json_value *out,
		      json_error *err);

typedef struct json_member {
	json_value key;      /* a JSON_STRING value (quotes included) */
	json_value value;
} json_member;

/*
 * Key checks.  json_parse_members_checked() refuses, in every object at
 * every depth (values are not concerned):
 *
 *   - a key that repeats an earlier key of the same object, compared
 *     decoded ("a" and "\u0061" are one key): reason "duplicate key", the
 *     offset of the second one.  Readers disagree on which value such a
 *     key has (the first, the last, either), so a filter or the tenant
 *     guard could see another value than a consumer.  The same key in two
 *     different objects, or at two depths, is fine.
 *
 *   - a key containing a control character: U+0000-U+001F (as an escape:
 *     raw, they are not JSON anyway), U+007F or U+0080-U+009F (escaped, or
 *     raw: 7F, C2 80-C2 9F): reason "control character in key", the offset
 *     of the character.  C strings end at U+0000 ("org_id\u0000" is
 *     "org_id" to a reader that makes C strings of keys) and terminals
 *     act on the others.
 *
 * The whole document is checked in the same single pass, with no
 * recursion.  A key is compared with its object's earlier keys only when
 * a 64-bit filter of them says it may repeat one; an object with an
 * escaped key is compared pairwise when it closes, and one of more than
 * 16 keys has its keys decoded and sorted then, so no input costs
 * quadratic time.  A text that is not JSON gets its JSON error, as from
 * json_parse(), wherever the key errors are; otherwise the first key error
 * the scan found is told: a repeated key is found at its second
 * occurrence or, at the latest, where its object closes.
 *
 * On such an error kc->error_path names the key at fault, as a JSONPath:
 * the path of its object, then the key, as ".name" when it is a plain
 * identifier ([A-Za-z_][A-Za-z0-9_]*), else as "['...']" with \', \\, \b,
 * \f, \n, \r, \t and \u00xx for the other control characters (never
 * raw).  Array elements are "[index]": "$.data.items[2]['a\u0085']".  A
 * path longer than JSON_PATH_MAX - 1 keeps its first steps and the key,
 * joined by ".." ("$.data..visibility"); a key too long for that alone is
 * cut and ends with "...']".  After any other error, and after success,
 * error_path is "".
 *
 * The scanner keeps the keys of the objects still open in a json_keycheck,
 * scratch memory owned by the caller: json_keycheck_init() it once, pass
 * it to any number of calls (it grows to the largest document seen and is
 * reused: nothing is allocated per call once it is large enough), then
 * json_keycheck_release() it.  Between calls it holds only error_path; one
 * json_keycheck serves one call at a time (one per thread).
 */
struct json_keyslot;
struct json_level;
struct json_sortkey;

/* Room for a JSON path in an error, NUL included. */
#define JSON_PATH_MAX 64

typedef struct json_keycheck {
	char error_path[JSON_PATH_MAX];  /* after a key error: the key's path */
	const char *key_error;        /* the first key error found, */
	size_t key_error_offset;      /* told once the text is known to be JSON */
	struct json_keyslot *keys;    /* keys of the open objects, in order */
	size_t nkeys, keys_alloc;
	struct json_level *levels;    /* per open container: start, keys, filter */
	size_t levels_alloc;
	struct json_sortkey *sorted;  /* a large object's keys, for sorting */
	size_t sorted_alloc;
	char *decoded;                /* and their decoded text */
	size_t decoded_alloc;
} json_keycheck;

void json_keycheck_init(json_keycheck *kc);
/* Free what kc holds; it may be initialised again.  NULL is fine. */
void json_keycheck_release(json_keycheck *kc);

/* json_parse(), and when the value is an object, its top-level members in
 * order, recorded during the same pass: the first `max` go to members[],
 * and *nmembers tells how many there are in all (more than max: the rest
 * were not stored).  *nmembers is 0 for anything but an object.  Keys are
 * not checked (the filter tests and tools use it on any JSON). */
bool json_parse_members(const char *p, size_t n, unsigned max_depth,
			json_value *out, json_member *members, size_t max,
			size_t *nmembers, json_error *err);

/* json_parse_members() with the key checks above, in the same single
 * pass: the event path (event.c).  kc is the caller's scratch. */
bool json_parse_members_checked(const char *p, size_t n, unsigned max_depth,
				json_value *out, json_member *members, size_t max,
				size_t *nmembers, json_keycheck *kc, json_error *err);

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

/*
 * Reading a file.  The configuration, the plan journal and the state file
 * are validated once (json_parse, json_parse_bytes) and read with these,
 * and the accessors above, from the same text: one reader, one pass to
 * validate, no tree.  Like the accessors, they take values of a validated
 * text.
 */

/* The most names json_object_pick() takes at once. */
#define JSON_PICK_MAX 16

/* One pass over the members of obj: vals[i] is the value of the first
 * member whose decoded key is names[i] (a C string), for the n <=
 * JSON_PICK_MAX names, or a value of type 0 (p NULL, n 0) when obj has
 * none, or is not an object.  A key given twice keeps its first value
 * (the configuration reports the second: config.c). */
void json_object_pick(json_value obj, const char *const *names, size_t n,
		      json_value *vals);

/* The number of elements of an array or of members of an object (0 for
 * any other value). */
size_t json_count(json_value v);

/* The string v decoded into a new NUL-terminated C string (xmalloc: free
 * it), its length in *len unless len is NULL; or NULL, with nothing
 * allocated, when it holds U+0000 ("\u0000"): a C string would end there
 * and lose the rest without a word. */
char *json_string_dup(json_value v, size_t *len);

/* The value of the number v when it is an integer that fits the type,
 * whatever its notation: 300, 3e2, 300.0 and 30000e-2 are 300.  Exact (no
 * rounding through a double: 9007199254740993 stays itself); false for a
 * value with a fraction or out of range. */
bool json_number_get_int64(json_value v, int64_t *out);
bool json_number_get_uint64(json_value v, uint64_t *out);

#endif
