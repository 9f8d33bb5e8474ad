/*
 * json.c - strict JSON validation and allocation-free access.
 *
 * The validator is a loop over the bytes with an explicit stack of open
 * containers (no recursion, so no input can exhaust the C stack).  The
 * accessors rely on validity: they skip values by counting brackets
 * outside strings.
 */
#include "json.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DEPTH_LIMIT 1024

/* Character classes for the string fast path: 1 = needs attention. */
static const unsigned char str_special[256] = {
	/* control characters */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* '"' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,   /* '\\' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,   /* >= 0x80 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
};

const char *json_type_name(json_type t)
{
	switch (t) {
	case JSON_NULL:   return "null";
	case JSON_FALSE:  return "boolean";
	case JSON_TRUE:   return "boolean";
	case JSON_NUMBER: return "number";
	case JSON_STRING: return "string";
	case JSON_ARRAY:  return "array";
	case JSON_OBJECT: return "object";
	}
	return "value";
}

static int read_hex4(const unsigned char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hex_digit(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Length of a valid UTF-8 multibyte sequence at p, or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n = (size_t)(end - p);
	unsigned char c = p[0];

	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

struct scanner {
	const unsigned char *start, *p, *end;
	json_error *err;
	bool raw_bytes;      /* bytes >= 0x80 in strings need not be UTF-8 */
};

static bool fail(struct scanner *s, const unsigned char *at, const char *reason)
{
	s->err->offset = (size_t)(at - s->start);
	s->err->reason = reason;
	return false;
}

static void skip_ws(struct scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' ||
				 *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

/* s->p at the opening quote; on success s->p just past the closing one. */
/* Does any byte of x need attention in a string: '"', '\\', a control
 * character or a byte >= 0x80?  (Classic SWAR tests; exact.) */
static inline uint64_t swar_special(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');

	return ((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x) |
	       (x & highs);
}

static bool scan_string(struct scanner *s)
{
	const unsigned char *p = s->p + 1, *end = s->end;

	for (;;) {
#ifdef __SSE2__
		/* sixteen bytes at a time: as signed bytes, both control
		 * characters and bytes >= 0x80 are below 0x20; the first
		 * byte found is taken as it is (the loops below would only
		 * look at it again) */
		{
			const __m128i quote = _mm_set1_epi8('"');
			const __m128i bslash = _mm_set1_epi8('\\');
			const __m128i space = _mm_set1_epi8(0x20);

			while (end - p >= 16) {
				__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
				__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
								      _mm_cmpeq_epi8(x, bslash)),
							 _mm_cmplt_epi8(x, space));
				int bits = _mm_movemask_epi8(m);

				if (bits) {
					p += __builtin_ctz((unsigned)bits);
					goto attention;
				}
				p += 16;
			}
		}
#endif
		/* eight bytes at a time while none needs attention */
		while (end - p >= 8) {
			uint64_t x;

			memcpy(&x, p, 8);
			if (swar_special(x) & 0x8080808080808080ULL)
				break;
			p += 8;
		}
		while (p < end && !str_special[*p])
			p++;
#ifdef __SSE2__
attention:
#endif
		if (p >= end)
			return fail(s, p, "unterminated string");
		if (*p == '"') {
			s->p = p + 1;
			return true;
		}
		if (*p == '\\') {
			int u;

			if (p + 1 >= end)
				return fail(s, p, "unterminated string");
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b':
			case 'f': case 'n': case 'r': case 't':
				p += 2;
				continue;
			case 'u':
				break;
			default:
				return fail(s, p, "invalid escape in string");
			}
			if (end - p < 6 || (u = read_hex4(p + 2)) < 0)
				return fail(s, p, "invalid \\u escape in string");
			p += 6;
			if (u >= 0xdc00 && u <= 0xdfff)
				return fail(s, p - 6, "lone low surrogate in string");
			if (u >= 0xd800 && u <= 0xdbff) {
				int lo;

				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    (lo = read_hex4(p + 2)) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff)
					return fail(s, p - 6, "lone high surrogate in string");
				p += 6;
			}
			continue;
		}
		if (*p < 0x20)
			return fail(s, p, "control character in string");
		{
			size_t k = utf8_len(p, end);

			if (!k && !s->raw_bytes)
				return fail(s, p, "invalid UTF-8");
			p += k ? k : 1;
		}
	}
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool scan_number(struct scanner *s)
{
	const unsigned char *p = s->p, *end = s->end;

	if (p < end && *p == '-')
		p++;
	if (p >= end || !is_digit(*p))
		return fail(s, p, "invalid number");
	if (*p == '0') {
		p++;
	} else {
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !is_digit(*p))
			return fail(s, p, "invalid number: digit expected after '.'");
		while (p < end && is_digit(*p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || !is_digit(*p))
			return fail(s, p, "invalid number: digit expected in exponent");
		while (p < end && is_digit(*p))
			p++;
	}
	s->p = p;
	return true;
}

static bool scan_literal(struct scanner *s, const char *lit, size_t n)
{
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return fail(s, s->p, "invalid literal");
	s->p += n;
	return true;
}

static json_type type_of(unsigned char c)
{
	switch (c) {
	case '{': return JSON_OBJECT;
	case '[': return JSON_ARRAY;
	case '"': return JSON_STRING;
	case 't': return JSON_TRUE;
	case 'f': return JSON_FALSE;
	case 'n': return JSON_NULL;
	default:  return JSON_NUMBER;
	}
}

/* Members of the root object, recorded while validating. */
struct recorder {
	json_member *m;
	size_t max, n;
	const unsigned char *key, *key_end, *val;
};

static void record_member(struct recorder *rec, const unsigned char *val_end)
{
	if (rec->n < rec->max) {
		json_member *m = &rec->m[rec->n];

		m->key.p = (const char *)rec->key;
		m->key.n = (size_t)(rec->key_end - rec->key);
		m->key.type = JSON_STRING;
		m->value.p = (const char *)rec->val;
		m->value.n = (size_t)(val_end - rec->val);
		m->value.type = type_of(*rec->val);
	}
	rec->n++;
}

/* A member's key and its ':' (s->p at the key, left at the value);
 * recorded when rec is given (the root object's members). */
static bool scan_key(struct scanner *s, struct recorder *rec, const char *expected)
{
	const unsigned char *key = s->p;

	if (s->p >= s->end || *s->p != '"')
		return fail(s, s->p, expected);
	if (!scan_string(s))
		return false;
	if (rec) {
		rec->key = key;
		rec->key_end = s->p;
	}
	skip_ws(s);
	if (s->p >= s->end || *s->p != ':')
		return fail(s, s->p, "expected ':'");
	s->p++;
	skip_ws(s);
	if (rec)
		rec->val = s->p;
	return true;
}

static bool parse_value(const char *text, size_t n, unsigned max_depth, json_value *out,
			struct recorder *rec, bool raw_bytes, json_error *err);

bool json_parse(const char *text, size_t n, unsigned max_depth, json_value *out,
		json_error *err)
{
	return parse_value(text, n, max_depth, out, NULL, false, err);
}

bool json_parse_bytes(const char *text, size_t n, unsigned max_depth, json_value *out,
		      json_error *err)
{
	return parse_value(text, n, max_depth, out, NULL, true, err);
}

bool json_parse_members(const char *text, size_t n, unsigned max_depth, json_value *out,
			json_member *members, size_t max, size_t *nmembers, json_error *err)
{
	struct recorder rec = { members, max, 0, NULL, NULL, NULL };
	bool ok = parse_value(text, n, max_depth, out, &rec, false, err);

	*nmembers = ok && out->type == JSON_OBJECT ? rec.n : 0;
	return ok;
}

static bool parse_value(const char *text, size_t n, unsigned max_depth, json_value *out,
			struct recorder *rec, bool raw_bytes, json_error *err)
{
	/* stack[i]: '{' or '[' of the open container at depth i+1 */
	unsigned char stack[MAX_DEPTH_LIMIT];
	unsigned depth = 0;
	struct scanner s;
	const unsigned char *vstart;
	bool need_value = true;   /* a value is expected next */

	s.start = (const unsigned char *)text;
	s.p = s.start;
	s.end = s.start + n;
	s.err = err;
	s.raw_bytes = raw_bytes;
	if (max_depth > MAX_DEPTH_LIMIT)
		max_depth = MAX_DEPTH_LIMIT;

	skip_ws(&s);
	vstart = s.p;
	for (;;) {
		if (need_value) {
			if (s.p >= s.end)
				return fail(&s, s.p, "unexpected end of input");
			switch (*s.p) {
			case '{':
			case '[':
				if (depth >= max_depth)
					return fail(&s, s.p, "nesting too deep");
				stack[depth++] = *s.p;
				s.p++;
				skip_ws(&s);
				if (s.p < s.end && *s.p == (stack[depth - 1] == '{' ? '}' : ']')) {
					s.p++;
					depth--;
					need_value = false;
					break;
				}
				if (stack[depth - 1] == '{' &&
				    !scan_key(&s, depth == 1 ? rec : NULL, "expected a string key or '}'"))
					return false;
				continue;
			case '"':
				if (!scan_string(&s))
					return false;
				break;
			case 't':
				if (!scan_literal(&s, "true", 4))
					return false;
				break;
			case 'f':
				if (!scan_literal(&s, "false", 5))
					return false;
				break;
			case 'n':
				if (!scan_literal(&s, "null", 4))
					return false;
				break;
			default:
				if (*s.p == '-' || is_digit(*s.p)) {
					if (!scan_number(&s))
						return false;
					break;
				}
				return fail(&s, s.p, "expected a value");
			}
			need_value = false;
		}
		/* after a value */
		if (rec && depth == 1 && stack[0] == '{')
			record_member(rec, s.p);
		skip_ws(&s);
		if (depth == 0)
			break;
		if (s.p >= s.end)
			return fail(&s, s.p, "unexpected end of input");
		if (*s.p == ',') {
			s.p++;
			skip_ws(&s);
			if (stack[depth - 1] == '{' &&
			    !scan_key(&s, depth == 1 ? rec : NULL, "expected a string key"))
				return false;
			need_value = true;
			continue;
		}
		if (*s.p == (stack[depth - 1] == '{' ? '}' : ']')) {
			s.p++;
			depth--;
			continue;
		}
		return fail(&s, s.p, stack[depth - 1] == '{' ? "expected ',' or '}'"
							    : "expected ',' or ']'");
	}
	if (s.p != s.end)
		return fail(&s, s.p, "unexpected data after the value");
	out->p = (const char *)vstart;
	out->type = 0;
	{
		/* the value text ends before trailing whitespace */
		const unsigned char *e = s.end;

		while (e > vstart && (e[-1] == ' ' || e[-1] == '\n' ||
				      e[-1] == '\r' || e[-1] == '\t'))
			e--;
		out->n = (size_t)(e - vstart);
	}
	switch (*vstart) {
	case '{': out->type = JSON_OBJECT; break;
	case '[': out->type = JSON_ARRAY; break;
	case '"': out->type = JSON_STRING; break;
	case 't': out->type = JSON_TRUE; break;
	case 'f': out->type = JSON_FALSE; break;
	case 'n': out->type = JSON_NULL; break;
	default:  out->type = JSON_NUMBER; break;
	}
	return true;
}

/* --- access to validated values ------------------------------------- */

static const char *skip_ws_ptr(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* p at the opening quote of a valid string: return past the closing one. */
static const char *skip_string(const char *p, const char *end)
{
	p++;
	while (p < end) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		const char *b;
		size_t slashes = 0;

		if (!q)
			return end;
		for (b = q; b > p && b[-1] == '\\'; b--)
			slashes++;
		if (slashes % 2 == 0)
			return q + 1;
		p = q + 1;
	}
	return end;
}

/* p at the first byte of a valid value: fill v and return past it. */
static const char *take_value(const char *p, const char *end, json_value *v)
{
	const char *q = p;

	switch (*p) {
	case '"':
		q = skip_string(p, end);
		v->type = JSON_STRING;
		break;
	case '{':
	case '[': {
		int depth = 0;

		v->type = *p == '{' ? JSON_OBJECT : JSON_ARRAY;
		while (q < end) {
			char c = *q;

			if (c == '"') {
				q = skip_string(q, end);
				continue;
			}
			q++;
			if (c == '{' || c == '[')
				depth++;
			else if ((c == '}' || c == ']') && --depth == 0)
				break;
		}
		break;
	}
	case 't': q = p + 4; v->type = JSON_TRUE; break;
	case 'f': q = p + 5; v->type = JSON_FALSE; break;
	case 'n': q = p + 4; v->type = JSON_NULL; break;
	default:
		v->type = JSON_NUMBER;
		while (q < end && (is_digit((unsigned char)*q) || *q == '-' || *q == '+' ||
				   *q == '.' || *q == 'e' || *q == 'E'))
			q++;
		break;
	}
	v->p = p;
	v->n = (size_t)(q - p);
	return q;
}

void json_iter_init(json_iter *it, json_value container)
{
	/* inside the brackets */
	it->p = container.p + 1;
	it->end = container.p + container.n - 1;
}

bool json_iter_member(json_iter *it, json_value *key, json_value *val)
{
	const char *p = skip_ws_ptr(it->p, it->end);

	if (p < it->end && *p == ',')
		p = skip_ws_ptr(p + 1, it->end);
	if (p >= it->end || *p != '"')
		return false;
	p = take_value(p, it->end, key);
	p = skip_ws_ptr(p, it->end);
	p = skip_ws_ptr(p + 1, it->end);   /* the ':' */
	it->p = take_value(p, it->end, val);
	return true;
}

bool json_iter_element(json_iter *it, json_value *val)
{
	const char *p = skip_ws_ptr(it->p, it->end);

	if (p < it->end && *p == ',')
		p = skip_ws_ptr(p + 1, it->end);
	if (p >= it->end)
		return false;
	it->p = take_value(p, it->end, val);
	return true;
}

bool json_object_get(json_value obj, const char *key, size_t keylen,
		     json_value *val)
{
	json_iter it;
	json_value k, v;

	if (obj.type != JSON_OBJECT)
		return false;
	json_iter_init(&it, obj);
	while (json_iter_member(&it, &k, &v)) {
		if (json_string_equals(k, key, keylen)) {
			*val = v;
			return true;
		}
	}
	return false;
}

bool json_string_has_escape(json_value v)
{
	return memchr(v.p + 1, '\\', v.n - 2) != NULL;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t json_string_decode(json_value v, char *out)
{
	const unsigned char *p = (const unsigned char *)v.p + 1;
	const unsigned char *end = (const unsigned char *)v.p + v.n - 1;
	size_t o = 0;

	while (p < end) {
		const unsigned char *q = memchr(p, '\\', (size_t)(end - p));
		unsigned cp;

		if (!q)
			q = end;
		memcpy(out + o, p, (size_t)(q - p));
		o += (size_t)(q - p);
		p = q;
		if (p >= end)
			break;
		switch (p[1]) {
		case 'b': out[o++] = '\b'; p += 2; continue;
		case 'f': out[o++] = '\f'; p += 2; continue;
		case 'n': out[o++] = '\n'; p += 2; continue;
		case 'r': out[o++] = '\r'; p += 2; continue;
		case 't': out[o++] = '\t'; p += 2; continue;
		case 'u': break;
		default:  out[o++] = (char)p[1]; p += 2; continue;
		}
		cp = (unsigned)read_hex4(p + 2);
		p += 6;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			unsigned lo = (unsigned)read_hex4(p + 2);

			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			p += 6;
		}
		o += put_utf8(out + o, cp);
	}
	return o;
}

bool json_string_equals(json_value v, const char *s, size_t n)
{
	char small[256];
	char *tmp;
	size_t len;
	bool eq;

	if (!json_string_has_escape(v))
		return v.n - 2 == n && memcmp(v.p + 1, s, n) == 0;
	if (n > v.n)   /* a decoded string is never longer than its text */
		return false;
	tmp = v.n <= sizeof(small) ? small : xmalloc(v.n);
	len = json_string_decode(v, tmp);
	eq = len == n && memcmp(tmp, s, n) == 0;
	if (tmp != small)
		free(tmp);
	return eq;
}

bool json_number_is_integer_literal(json_value v)
{
	for (size_t i = 0; i < v.n; i++)
		if (v.p[i] == '.' || v.p[i] == 'e' || v.p[i] == 'E')
			return false;
	return true;
}

bool json_number_to_int64(json_value v, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t acc = 0, limit;

	if (!json_number_is_integer_literal(v))
		return false;
	if (v.p[0] == '-') {
		neg = true;
		i = 1;
	}
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < v.n; i++) {
		unsigned d = (unsigned)(v.p[i] - '0');

		if (acc > (limit - d) / 10)
			return false;
		acc = acc * 10 + d;
	}
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return true;
}

double json_number_to_double(json_value v)
{
	char small[64];
	char *tmp = v.n < sizeof(small) ? small : xmalloc(v.n + 1);
	double d;

	memcpy(tmp, v.p, v.n);
	tmp[v.n] = '\0';
	d = strtod(tmp, NULL);
	if (tmp != small)
		free(tmp);
	return d;
}

/* --- exact decimal comparison ------------------------------------------ */

/* A number as sign, significant digits and a decimal exponent:
 * value = 0.d1d2...dk x 10^adj, with d1 and dk non-zero (zero: k = 0). */
struct decimal {
	bool neg;
	const char *first, *last;   /* first and last significant digit */
	int64_t adj;
};

#define DECIMAL_EXP_LIMIT 1000000000000000LL   /* 1e15: saturation */

static void decimal_split(json_value v, struct decimal *d)
{
	const char *p = v.p, *end = v.p + v.n, *mend, *q;
	int64_t exp = 0, intdigits = 0, fraczeros = 0;
	bool in_frac = false, seen = false;

	d->neg = p < end && *p == '-';
	if (d->neg)
		p++;
	mend = p;
	while (mend < end && *mend != 'e' && *mend != 'E')
		mend++;
	if (mend < end) {
		const char *e = mend + 1;
		bool eneg = false;

		if (e < end && (*e == '+' || *e == '-'))
			eneg = *e++ == '-';
		for (; e < end; e++) {
			if (exp < DECIMAL_EXP_LIMIT)
				exp = exp * 10 + (*e - '0');
		}
		if (exp > DECIMAL_EXP_LIMIT)
			exp = DECIMAL_EXP_LIMIT;
		if (eneg)
			exp = -exp;
	}
	d->first = d->last = NULL;
	for (q = p; q < mend; q++) {
		if (*q == '.') {
			in_frac = true;
			continue;
		}
		if (*q != '0') {
			if (!seen)
				d->first = q;
			d->last = q;
			seen = true;
		}
		if (!in_frac && seen)
			intdigits++;
		else if (in_frac && !seen)
			fraczeros++;
	}
	/* digits before the point after the first significant one, or minus
	 * the zeros between the point and the first significant digit */
	d->adj = exp + (intdigits > 0 ? intdigits : -fraczeros);
}

int json_number_compare(json_value a, json_value b)
{
	struct decimal x, y;
	const char *p, *q;
	int mag = 0;

	decimal_split(a, &x);
	decimal_split(b, &y);
	if (!x.first || !y.first) {
		if (!x.first && !y.first)
			return 0;
		if (!x.first)
			return y.neg ? 1 : -1;
		return x.neg ? -1 : 1;
	}
	if (x.neg != y.neg)
		return x.neg ? -1 : 1;
	if (x.adj != y.adj) {
		mag = x.adj < y.adj ? -1 : 1;
	} else {
		p = x.first;
		q = y.first;
		for (;;) {
			if (p <= x.last && *p == '.')
				p++;
			if (q <= y.last && *q == '.')
				q++;
			if (p > x.last || q > y.last) {
				/* the one with digits left is larger */
				mag = p <= x.last ? 1 : q <= y.last ? -1 : 0;
				break;
			}
			if (*p != *q) {
				mag = *p < *q ? -1 : 1;
				break;
			}
			p++;
			q++;
		}
	}
	return x.neg ? -mag : mag;
}
