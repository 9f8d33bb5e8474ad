/*
 * jsonw.c - the one JSON writer (see jsonw.h).
 *
 * The writer keeps, per open container, its kind and whether it has an
 * item yet, and writes the separator a value needs before it: ',' between
 * items, ':' after a name.  Strings are escaped by one function for every
 * output; the flags only say what a byte that is not UTF-8 becomes.
 */
#include "jsonw.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void jsonw_init(jsonw *w, buf *b, unsigned flags)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
	w->flags = flags;
}

/* Before a value: the separator it needs, or die if none is due here. */
static void value_due(jsonw *w, const char *what)
{
	if (w->depth && w->open[w->depth - 1] == '{') {
		if (!w->named)
			die("jsonw: %s in an object without a name", what);
		w->named = false;
		return;
	}
	if (w->items[w->depth])
		buf_addch(w->b, ',');
	w->items[w->depth] = w->depth > 0;
}

static void open_container(jsonw *w, char kind)
{
	value_due(w, kind == '{' ? "an object" : "an array");
	if (w->depth >= JSONW_MAX_DEPTH)
		die("jsonw: more than %d containers open", JSONW_MAX_DEPTH);
	w->open[w->depth++] = kind;
	w->items[w->depth] = false;
	buf_addch(w->b, kind);
}

static void close_container(jsonw *w, char kind)
{
	if (!w->depth || w->open[w->depth - 1] != kind || w->named)
		die("jsonw: '%c' closes nothing open", kind == '{' ? '}' : ']');
	w->depth--;
	buf_addch(w->b, kind == '{' ? '}' : ']');
}

void jsonw_object_begin(jsonw *w)
{
	open_container(w, '{');
}

void jsonw_object_end(jsonw *w)
{
	close_container(w, '{');
}

void jsonw_array_begin(jsonw *w)
{
	open_container(w, '[');
}

void jsonw_array_end(jsonw *w)
{
	close_container(w, '[');
}

void jsonw_name(jsonw *w, const char *name)
{
	if (!w->depth || w->open[w->depth - 1] != '{' || w->named)
		die("jsonw: the name '%s' out of an object, or after another", name);
	if (w->items[w->depth])
		buf_addch(w->b, ',');
	w->items[w->depth] = true;
	buf_addch(w->b, '"');
	buf_add_json_chars(w->b, name, strlen(name), w->flags & JSONW_BYTES);
	buf_add(w->b, "\":", 2);
	w->named = true;
}

void jsonw_string_n(jsonw *w, const char *s, size_t n)
{
	value_due(w, "a string");
	buf_addch(w->b, '"');
	buf_add_json_chars(w->b, s, n, w->flags & JSONW_BYTES);
	buf_addch(w->b, '"');
}

void jsonw_string(jsonw *w, const char *s)
{
	if (!s)
		jsonw_null(w);
	else
		jsonw_string_n(w, s, strlen(s));
}

void jsonw_int(jsonw *w, int64_t v)
{
	value_due(w, "a number");
	buf_printf(w->b, "%" PRId64, v);
}

void jsonw_uint(jsonw *w, uint64_t v)
{
	value_due(w, "a number");
	buf_printf(w->b, "%" PRIu64, v);
}

void jsonw_fixed(jsonw *w, int64_t units, unsigned decimals)
{
	uint64_t mag = units < 0 ? 0 - (uint64_t)units : (uint64_t)units, scale = 1, frac;
	char digits[24];
	unsigned nd = decimals;

	if (decimals > 18)
		die("jsonw: %u decimals", decimals);
	for (unsigned i = 0; i < decimals; i++)
		scale *= 10;
	value_due(w, "a number");
	frac = mag % scale;
	buf_printf(w->b, "%s%" PRIu64, units < 0 ? "-" : "", mag / scale);
	if (!frac)
		return;
	while (frac % 10 == 0) {   /* no trailing zeros */
		frac /= 10;
		nd--;
	}
	snprintf(digits, sizeof(digits), "%0*" PRIu64, (int)nd, frac);
	buf_addch(w->b, '.');
	buf_addstr(w->b, digits);
}

void jsonw_bool(jsonw *w, bool v)
{
	value_due(w, "a boolean");
	buf_addstr(w->b, v ? "true" : "false");
}

void jsonw_null(jsonw *w)
{
	value_due(w, "null");
	buf_add(w->b, "null", 4);
}

void jsonw_raw(jsonw *w, const char *json, size_t n)
{
	value_due(w, "a value");
	buf_add(w->b, json, n);
}

void jsonw_string_begin(jsonw *w)
{
	value_due(w, "a string");
	buf_addch(w->b, '"');
}

void jsonw_string_piece(jsonw *w, const char *s, size_t n)
{
	buf_add_json_chars(w->b, s, n, w->flags & JSONW_BYTES);
}

void jsonw_string_end(jsonw *w)
{
	buf_addch(w->b, '"');
}

void jsonw_string_field(jsonw *w, const char *name, const char *s)
{
	jsonw_name(w, name);
	jsonw_string(w, s);
}

void jsonw_int_field(jsonw *w, const char *name, int64_t v)
{
	jsonw_name(w, name);
	jsonw_int(w, v);
}

void jsonw_uint_field(jsonw *w, const char *name, uint64_t v)
{
	jsonw_name(w, name);
	jsonw_uint(w, v);
}

void jsonw_bool_field(jsonw *w, const char *name, bool v)
{
	jsonw_name(w, name);
	jsonw_bool(w, v);
}

void jsonw_null_field(jsonw *w, const char *name)
{
	jsonw_name(w, name);
	jsonw_null(w);
}
