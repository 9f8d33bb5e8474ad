/*
 * jsonw.h - the one JSON writer: everything evshare prints or saves as
 * JSON (state.json, the plan journal and the pending parts, the run
 * summary, state show --json, list --json, quarantine records, JSON log
 * lines) is written through it.  Its reader is json.h.
 *
 * A jsonw appends compact JSON (no white space) to a buf the caller owns,
 * in the order the calls come: begin and end objects and arrays, name a
 * member (jsonw_name), write values.  The writer puts the commas and the
 * colons.  Several texts may follow each other on one writer (NDJSON: the
 * caller writes the newlines between them with buf_addch).
 *
 * Numbers are exact: integers as decimal integers, whatever their size
 * (never a double's 15 digits), and decimal fractions given as integer
 * units (jsonw_fixed).  There is no writer of doubles.
 *
 * Strings: '"' and '\\' are escaped, \n, \r and \t as such, every other
 * control character (U+0000-U+001F, U+007F) as \u00xx; valid UTF-8 is
 * copied as it is.  A byte that is not part of valid UTF-8 depends on the
 * writer's flags:
 *   JSONW_TEXT   \u00xx: the output is always valid JSON (such a byte
 *                reads back as U+00XX).  For new outputs.
 *   JSONW_BYTES  copied as it is: for the files evshare reads back itself
 *                (keys of file:// sources are file names, which may hold
 *                any byte, and must come back the same: json_parse_bytes
 *                reads them), and the outputs that have always shown such
 *                names as they are (run --json, state show --json).
 *
 * A call out of turn (a value where a name is due, a name in an array, the
 * end of a container that is not open, more than JSONW_MAX_DEPTH open) is
 * a bug of the caller: die().  The buf should have no cap (appends past
 * one are dropped, as buf_add drops them).
 *
 * A jsonw owns nothing: it borrows the buf, and needs no release.
 */
#ifndef EVSHARE_JSONW_H
#define EVSHARE_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum {
	JSONW_TEXT  = 0,
	JSONW_BYTES = 1 << 0
};

#define JSONW_MAX_DEPTH 32

typedef struct jsonw {
	buf *b;
	unsigned flags;
	unsigned depth;                       /* containers open */
	bool named;                           /* a name waits for its value */
	char open[JSONW_MAX_DEPTH];           /* '{' or '[' of each open container */
	bool items[JSONW_MAX_DEPTH + 1];      /* has it a member or an element yet? */
} jsonw;

/* Write into b (appending to what it holds) with flags (JSONW_TEXT or
 * JSONW_BYTES). */
void jsonw_init(jsonw *w, buf *b, unsigned flags);

/* Containers.  Each begin is a value (in an array, after a name, or a text
 * of its own); its end closes the innermost open container, which must be
 * of its kind. */
void jsonw_object_begin(jsonw *w);
void jsonw_object_end(jsonw *w);
void jsonw_array_begin(jsonw *w);
void jsonw_array_end(jsonw *w);

/* The name of the next member of the open object (a C string, escaped as
 * strings are); the value follows. */
void jsonw_name(jsonw *w, const char *name);

/* Values. */
/* s as a JSON string; NULL writes null. */
void jsonw_string(jsonw *w, const char *s);
void jsonw_string_n(jsonw *w, const char *s, size_t n);
void jsonw_int(jsonw *w, int64_t v);
void jsonw_uint(jsonw *w, uint64_t v);
/* units / 10^decimals, exactly, without trailing zeros after the point:
 * (1500, 3) is 1.5, (2000, 3) is 2, (-1, 3) is -0.001.  decimals <= 18. */
void jsonw_fixed(jsonw *w, int64_t units, unsigned decimals);
void jsonw_bool(jsonw *w, bool v);
void jsonw_null(jsonw *w);
/* json[0..n), one JSON value already valid, copied as it is. */
void jsonw_raw(jsonw *w, const char *json, size_t n);

/* A string written in pieces (a quarantined line's base64, which may not
 * be held whole): begin writes the opening quote, each piece is escaped as
 * strings are (or the caller appends to the buf text that needs no
 * escaping, like base64 or hex), end writes the closing quote.  Nothing
 * else may be written between begin and end. */
void jsonw_string_begin(jsonw *w);
void jsonw_string_piece(jsonw *w, const char *s, size_t n);
void jsonw_string_end(jsonw *w);

/* A member: jsonw_name(), then the value. */
void jsonw_string_field(jsonw *w, const char *name, const char *s);
void jsonw_int_field(jsonw *w, const char *name, int64_t v);
void jsonw_uint_field(jsonw *w, const char *name, uint64_t v);
void jsonw_bool_field(jsonw *w, const char *name, bool v);
void jsonw_null_field(jsonw *w, const char *name);

#endif
