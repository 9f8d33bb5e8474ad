/*
 * json.c - strict JSON validation and allocation-free access.
 *
 * The validator is a loop over the bytes with an explicit stack of open
 * containers (no recursion, so no input can exhaust the C stack).  With
 * key checks (json_parse_members_checked) it also keeps, in the caller's
 * json_keycheck, where each open container starts and the keys of the
 * open objects: each object's keys are compared when it closes, and an
 * error's path is rebuilt from them.  The accessors rely on validity: they
 * skip values by counting brackets outside strings.
 */
#include "json.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_DEPTH_LIMIT 1024

/* Character classes for the string fast path: 1 = needs attention in
 * any string, 2 = in a key only (DEL, a control character in keys). */
static const unsigned char str_special[256] = {
	/* control characters */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   /* '"' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,   /* '\\' */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,   /* DEL: keys only */
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


/* The key checks' scratch (json_keycheck, owned by the caller). */
struct json_keyslot {
	const char *p;        /* a key of an open object: its text, quotes included */
	size_t n;
	uint64_t tag;         /* KEY_ESCAPED, else a digest of its text (key_tag) */
};

struct json_level {
	const unsigned char *open;   /* the container's '{' or '[' */
	size_t base;                 /* objects: its first key in keys[], */
	uint64_t filter;             /* the bits of its keys' tags, */
	bool escaped;                /* and whether one has an escape */
};

struct json_sortkey {
	const char *p;        /* a decoded key of a large object */
	size_t n;
	size_t slot;          /* its index in keys[] */
};

void json_keycheck_init(json_keycheck *kc)
{
	memset(kc, 0, sizeof(*kc));
}

void json_keycheck_release(json_keycheck *kc)
{
	if (!kc)
		return;
	free(kc->keys);
	free(kc->levels);
	free(kc->sorted);
	free(kc->decoded);
	json_keycheck_init(kc);
}

struct scanner {
	const unsigned char *start, *p, *end;
	json_error *err;
	bool raw_bytes;      /* bytes >= 0x80 in strings need not be UTF-8 */
	json_keycheck *kc;   /* keys are checked (json_parse_members_checked) */
	const unsigned char *stack;  /* '{' or '[' of each open container */
};

static bool fail(struct scanner *s, const unsigned char *at, const char *reason)
{
	s->err->offset = (size_t)(at - s->start);
	s->err->reason = reason;
	if (s->kc)
		s->kc->error_path[0] = '\0';   /* not a key error after all */
	return false;
}

static void skip_ws(struct scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' ||
				 *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

/* Does any byte of x need attention in a string: '"', '\\', a control
 * character or a byte >= 0x80 (and DEL in a key)?  (Classic SWAR tests:
 * exact about whether there is one, not about where.) */
static inline uint64_t swar_special(uint64_t x, bool key)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
	uint64_t r = ((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x) |
		     (x & highs);

	if (key) {
		uint64_t d = x ^ (ones * 0x7f);

		r |= (d - ones) & ~d;
	}
	return r;
}

/* Is the code point a control character in a key: C0, DEL or C1? */
static inline bool key_control(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* A string, s->p at the opening quote; on success s->p just past the
 * closing one.  For a key (key is a constant: the compiler makes two
 * functions of this one), *escaped tells whether it has an escape and
 * *ctrl points at its first control character (escaped or raw), or is
 * NULL; the string is still scanned to its end. */
static inline __attribute__((always_inline)) bool
scan_string_as(struct scanner *s, bool key, bool *escaped, const unsigned char **ctrl)
{
	const unsigned char *p = s->p + 1, *end = s->end;
	const unsigned char mask = key ? 3 : 1;   /* classes of str_special */

	*escaped = false;
	*ctrl = NULL;
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
			const __m128i del = _mm_set1_epi8(0x7f);

			while (end - p >= 16) {
				__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
				__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
								      _mm_cmpeq_epi8(x, bslash)),
							 _mm_cmplt_epi8(x, space));
				int bits;

				if (key)
					m = _mm_or_si128(m, _mm_cmpeq_epi8(x, del));
				bits = _mm_movemask_epi8(m);
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
			if (swar_special(x, key) & 0x8080808080808080ULL)
				break;
			p += 8;
		}
		while (p < end && !(str_special[*p] & mask))
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
			if (key)
				*escaped = true;
			switch (p[1]) {
			case 'b': case 'f': case 'n': case 'r': case 't':
				if (key && !*ctrl)
					*ctrl = p;
				p += 2;
				continue;
			case '"': case '\\': case '/':
				p += 2;
				continue;
			case 'u':
				break;
			default:
				return fail(s, p, "invalid escape in string");
			}
			if (end - p < 6 || (u = read_hex4(p + 2)) < 0)
				return fail(s, p, "invalid \\u escape in string");
			if (key && key_control((unsigned)u) && !*ctrl)
				*ctrl = p;
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
		if (key && *p == 0x7f) {
			if (!*ctrl)
				*ctrl = p;
			p++;
			continue;
		}
		{
			size_t k = utf8_char_len(p, (size_t)(end - p));

			if (!k && !s->raw_bytes)
				return fail(s, p, "invalid UTF-8");
			/* C1 controls: U+0080-U+009F are C2 80-C2 9F */
			if (key && k == 2 && p[0] == 0xc2 && p[1] < 0xa0 && !*ctrl)
				*ctrl = p;
			p += k ? k : 1;
		}
	}
}

static bool scan_string(struct scanner *s)
{
	bool escaped;
	const unsigned char *ctrl;

	return scan_string_as(s, false, &escaped, &ctrl);
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline __attribute__((always_inline)) bool scan_number(struct scanner *s)
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

static inline bool scan_literal(struct scanner *s, const char *lit, size_t n)
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

/* --- the path of a key at fault -------------------------------------- */

#define PATH_ROOM (JSON_PATH_MAX - 1)   /* characters, without the NUL */

static bool is_name(const unsigned char *d, size_t m)
{
	if (!m || !((d[0] >= 'a' && d[0] <= 'z') || (d[0] >= 'A' && d[0] <= 'Z') ||
		    d[0] == '_'))
		return false;
	for (size_t i = 1; i < m; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') ||
		      (d[i] >= '0' && d[i] <= '9') || d[i] == '_'))
			return false;
	return true;
}

/* One character of a key (decoded, d[0..m), valid UTF-8) as it is shown
 * between quotes in a path: into piece (at most 6 bytes); returns the
 * bytes shown and sets *used to the bytes of d it stands for. */
static size_t path_char(const unsigned char *d, size_t m, char *piece, size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c = d[0];
	unsigned cp;

	*used = 1;
	switch (c) {
	case '\'': case '\\':
		piece[0] = '\\';
		piece[1] = (char)c;
		return 2;
	case '\b': piece[0] = '\\'; piece[1] = 'b'; return 2;
	case '\f': piece[0] = '\\'; piece[1] = 'f'; return 2;
	case '\n': piece[0] = '\\'; piece[1] = 'n'; return 2;
	case '\r': piece[0] = '\\'; piece[1] = 'r'; return 2;
	case '\t': piece[0] = '\\'; piece[1] = 't'; return 2;
	}
	if (c < 0x80 && !key_control(c)) {
		piece[0] = (char)c;
		return 1;
	}
	if (c == 0xc2 && m >= 2 && d[1] < 0xa0) {
		cp = d[1];   /* C2 80-9F: U+0080-U+009F */
		*used = 2;
	} else if (c < 0x80) {
		cp = c;
	} else {
		size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

		*used = k < m ? k : m;
		memcpy(piece, d, *used);
		return *used;
	}
	piece[0] = '\\';
	piece[1] = 'u';
	piece[2] = '0';
	piece[3] = '0';
	piece[4] = hex[cp >> 4];
	piece[5] = hex[cp & 15];
	return 6;
}

/* A key as a step of a path, into out[0..cap): ".name" for an identifier,
 * else "['...']".  Returns its length; 0 when it does not fit, unless cut
 * is set: then as much of it as fits, ended by "...']" (cap >= 8). */
static size_t path_key(json_value key, char *out, size_t cap, bool cut)
{
	char small[128], piece[8];
	char *dec = key.n <= sizeof(small) ? small : xmalloc(key.n);
	const unsigned char *d = (const unsigned char *)dec;
	size_t m = json_string_decode(key, dec);
	size_t o = 0, o_cut = 0, i = 0;

	if (is_name(d, m) && m + 1 <= cap) {
		out[0] = '.';
		memcpy(out + 1, d, m);
		o = m + 1;
		goto done;
	}
	if (cap < 4) {
		o = 0;
		goto done;
	}
	out[o++] = '[';
	out[o++] = '\'';
	o_cut = o;
	while (i < m) {
		size_t used, pn = path_char(d + i, m - i, piece, &used);

		if (o + pn + 2 > cap) {
			if (!cut) {
				o = 0;
				goto done;
			}
			memcpy(out + o_cut, "...", 3);
			o = o_cut + 3;
			break;
		}
		memcpy(out + o, piece, pn);
		o += pn;
		i += used;
		if (o + 5 <= cap)   /* "...']" still fits after it */
			o_cut = o;
	}
	out[o++] = '\'';
	out[o++] = ']';
done:
	if (dec != small)
		free(dec);
	return o;
}

/* The step from the open container at depth i to the one at depth i + 1
 * (both open): its key in an object, its index in an array.  Into
 * out[0..cap); returns the length, 0 if it does not fit. */
static size_t path_step(const struct scanner *s, unsigned i, char *out, size_t cap)
{
	const json_keycheck *kc = s->kc;
	const struct json_level *parent = &kc->levels[i - 1], *child = &kc->levels[i];
	json_iter it;
	json_value el;
	size_t index = 0;
	int n;

	if (s->stack[i - 1] == '{') {
		/* the last key of the parent when the child opened */
		const struct json_keyslot *k = &kc->keys[child->base - 1];
		json_value key = { k->p, k->n, JSON_STRING };

		return path_key(key, out, cap, false);
	}
	/* the elements before the child were validated: count them */
	it.p = (const char *)parent->open + 1;
	it.end = (const char *)child->open;
	while (json_iter_element(&it, &el))
		index++;
	n = snprintf(out, cap, "[%zu]", index);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The JSON path of a key of the object open at `depth` into out
 * (JSON_PATH_MAX bytes): the steps from the root, then the key; when they
 * do not all fit, the first steps that do, "..", and the key. */
static void key_path(const struct scanner *s, unsigned depth, json_value key, char *out)
{
	char last[JSON_PATH_MAX], step[JSON_PATH_MAX];
	size_t lastlen = path_key(key, last, PATH_ROOM - 3, true);   /* "$.." + last fits */
	/* ".." before ".name" is "." + last; before "['...']" it is ".." */
	size_t dots = last[0] == '.' ? 1 : 2;
	size_t len = 1, keep = 1;
	bool whole = true;

	out[0] = '$';
	for (unsigned i = 1; i < depth; i++) {
		size_t n = path_step(s, i, step, sizeof(step));

		if (!n || len + n + lastlen > PATH_ROOM) {
			whole = false;
			break;
		}
		memcpy(out + len, step, n);
		len += n;
		if (len + dots + lastlen <= PATH_ROOM)
			keep = len;
	}
	if (!whole) {
		len = keep;
		memcpy(out + len, "..", dots);
		len += dots;
	}
	memcpy(out + len, last, lastlen);
	out[len + lastlen] = '\0';
}

/* An error at `at` in the key key[0..n) of the object open at depth.  The
 * first one is kept, with its path, and told once the whole text is known
 * to be JSON: a text that is not gets its JSON error, as from json_parse. */
static void key_error(struct scanner *s, unsigned depth, const unsigned char *key, size_t n,
		      const unsigned char *at, const char *reason)
{
	json_keycheck *kc = s->kc;
	json_value k = { (const char *)key, n, JSON_STRING };

	if (kc->key_error)
		return;
	kc->key_error = reason;
	kc->key_error_offset = (size_t)(at - s->start);
	key_path(s, depth, k, kc->error_path);
}

/* --- the key checks ---------------------------------------------------- */

/*
 * Each open object has a 64-bit filter of the keys it has had: a key
 * whose bit is not yet set is new, and only a key whose bit is set is
 * compared with the object's earlier keys, so a typical object costs a
 * few instructions per key.  That holds for keys without escapes, up to
 * SMALL_OBJECT of them; an object with an escaped key has its keys
 * compared pairwise when it closes (escapes are rare), and one with more
 * keys has them decoded and sorted then.
 */
#define SMALL_OBJECT 16

/* The tag of a key with a backslash escape: keys_equal() decodes it. */
#define KEY_ESCAPED UINT64_MAX

/* A digest of an unescaped key's text k[0..n) (quotes included, n >= 2):
 * its length and a few of its bytes.  Equal texts have equal tags. */
static inline uint64_t key_tag(const unsigned char *k, size_t n)
{
	return (uint64_t)n << 24 ^ (uint64_t)k[1] << 16 ^ (uint64_t)k[n - 2] << 8 ^
	       (uint64_t)k[n / 2];
}

/* The bit of a tag in an object's filter (multiplicative hashing). */
static inline uint64_t tag_bit(uint64_t tag)
{
	return 1ULL << ((tag * 0x9e3779b97f4a7c15ULL) >> 58);
}

/* Do two keys, one of them at least with an escape, decode to the same
 * string? */
static bool keys_equal_decoded(const struct json_keyslot *a, const struct json_keyslot *b)
{
	char small[128];
	char *tmp;
	size_t n;
	bool eq;

	tmp = a->n <= sizeof(small) ? small : xmalloc(a->n);
	n = json_string_decode((json_value){ a->p, a->n, JSON_STRING }, tmp);
	eq = json_string_equals((json_value){ b->p, b->n, JSON_STRING }, tmp, n);
	if (tmp != small)
		free(tmp);
	return eq;
}

/* Do two keys decode to the same string?  Without escapes the text is the
 * value, and unequal tags mean unequal texts. */
static bool keys_equal(const struct json_keyslot *a, const struct json_keyslot *b)
{
	if (a->tag != KEY_ESCAPED && b->tag != KEY_ESCAPED)
		return a->tag == b->tag && a->n == b->n && !memcmp(a->p, b->p, a->n);
	return keys_equal_decoded(a, b);
}

static int cmp_sortkey(const void *x, const void *y)
{
	const struct json_sortkey *a = x, *b = y;
	size_t n = a->n < b->n ? a->n : b->n;
	int c = memcmp(a->p, b->p, n);

	if (c)
		return c;
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return (a->slot > b->slot) - (a->slot < b->slot);
}

/* The keys keys[base..nkeys) of one object, more than SMALL_OBJECT:
 * decoded and sorted, a key that repeats an earlier one (the later of the
 * two), or NULL. */
static const struct json_keyslot *find_repeat_sorted(json_keycheck *kc, size_t base)
{
	const struct json_keyslot *k = kc->keys + base;
	size_t n = kc->nkeys - base, total = 0, off = 0;

	for (size_t i = 0; i < n; i++)
		total += k[i].n;
	kc->decoded = xgrow(kc->decoded, total, &kc->decoded_alloc, 1);
	kc->sorted = xgrow(kc->sorted, n, &kc->sorted_alloc, sizeof(*kc->sorted));
	for (size_t i = 0; i < n; i++) {
		struct json_sortkey *d = &kc->sorted[i];

		d->p = kc->decoded + off;
		d->n = json_string_decode((json_value){ k[i].p, k[i].n, JSON_STRING },
					  kc->decoded + off);
		d->slot = base + i;
		off += d->n;
	}
	qsort(kc->sorted, n, sizeof(*kc->sorted), cmp_sortkey);
	for (size_t i = 1; i < n; i++) {
		const struct json_sortkey *a = &kc->sorted[i - 1], *b = &kc->sorted[i];

		if (a->n == b->n && !memcmp(a->p, b->p, a->n))
			return &kc->keys[b->slot];   /* sorted by slot within equals */
	}
	return NULL;
}

/* The keys keys[from..nkeys) of the object whose keys start at base, each
 * compared with the ones before it: the first that repeats one, or NULL. */
static const struct json_keyslot *find_repeat_pairwise(const json_keycheck *kc, size_t base,
						       size_t from)
{
	for (size_t i = from; i < kc->nkeys; i++)
		for (size_t j = base; j < i; j++)
			if (keys_equal(&kc->keys[i], &kc->keys[j]))
				return &kc->keys[i];
	return NULL;
}

static void open_level(json_keycheck *kc, unsigned depth, const unsigned char *open)
{
	struct json_level *lv;

	if (depth > kc->levels_alloc)
		kc->levels = xgrow(kc->levels, depth, &kc->levels_alloc, sizeof(*kc->levels));
	lv = &kc->levels[depth - 1];
	lv->open = open;
	lv->base = kc->nkeys;
	lv->filter = 0;
	lv->escaped = false;
}

/* A key of the object open at depth (s->p at its quote): scanned, found
 * wrong if it has a control character or, when that is cheap to know now,
 * repeats an earlier key; kept for the object's end.  False if it is not
 * a JSON string. */
static bool scan_checked_key(struct scanner *s, unsigned depth)
{
	json_keycheck *kc = s->kc;
	struct json_level *lv = &kc->levels[depth - 1];
	const unsigned char *key = s->p, *ctrl;
	struct json_keyslot *k;
	bool escaped;

	if (!scan_string_as(s, true, &escaped, &ctrl))
		return false;
	if (ctrl)
		key_error(s, depth, key, (size_t)(s->p - key), ctrl, "control character in key");
	if (kc->nkeys == kc->keys_alloc)
		kc->keys = xgrow(kc->keys, kc->nkeys + 1, &kc->keys_alloc, sizeof(*kc->keys));
	k = &kc->keys[kc->nkeys++];
	k->p = (const char *)key;
	k->n = (size_t)(s->p - key);
	if (escaped) {
		k->tag = KEY_ESCAPED;
		lv->escaped = true;
	} else {
		k->tag = key_tag(key, k->n);
		if (!lv->escaped && kc->nkeys - lv->base <= SMALL_OBJECT) {
			uint64_t bit = tag_bit(k->tag);

			if ((lv->filter & bit) &&
			    find_repeat_pairwise(kc, lv->base, kc->nkeys - 1))
				key_error(s, depth, key, k->n, key, "duplicate key");
			lv->filter |= bit;
		}
	}
	return true;
}

/* The object open at depth closes: a repeated key not found yet is found
 * now; its keys are forgotten. */
static void close_object(struct scanner *s, unsigned depth)
{
	json_keycheck *kc = s->kc;
	const struct json_level *lv = &kc->levels[depth - 1];
	size_t n = kc->nkeys - lv->base;
	const struct json_keyslot *dup = NULL;

	if (n > SMALL_OBJECT)
		dup = find_repeat_sorted(kc, lv->base);
	else if (lv->escaped && n > 1)
		dup = find_repeat_pairwise(kc, lv->base, lv->base + 1);
	if (dup)
		key_error(s, depth, (const unsigned char *)dup->p, dup->n,
			  (const unsigned char *)dup->p, "duplicate key");
	kc->nkeys = lv->base;
}

/* --- the scanner --------------------------------------------------------- */

/* Members of the root object, recorded while validating. */
struct recorder {
	json_member *m;
	size_t max, n;
	const unsigned char *key, *key_end, *val;
};

static inline void record_member(struct recorder *rec, const unsigned char *val_end)
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

/* A member's key and its ':' in the object open at depth (s->p at the key,
 * left at the value); checked with the key checks, recorded when rec is given
 * (the root object's members). */
static inline __attribute__((always_inline)) bool
scan_key(struct scanner *s, json_keycheck *kc, struct recorder *rec, unsigned depth,
	 const char *expected)
{
	const unsigned char *key = s->p;

	if (s->p >= s->end || *s->p != '"')
		return fail(s, s->p, expected);
	if (kc ? !scan_checked_key(s, depth) : !scan_string(s))
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
static bool parse_checked(const char *text, size_t n, unsigned max_depth, json_value *out,
			  struct recorder *rec, json_keycheck *kc, json_error *err);

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

bool json_parse_members_checked(const char *text, size_t n, unsigned max_depth,
				json_value *out, json_member *members, size_t max,
				size_t *nmembers, json_keycheck *kc, json_error *err)
{
	struct recorder rec = { members, max, 0, NULL, NULL, NULL };
	bool ok = parse_checked(text, n, max_depth, out, &rec, kc, err);

	*nmembers = ok && out->type == JSON_OBJECT ? rec.n : 0;
	return ok;
}

static inline __attribute__((always_inline)) bool
parse_value_as(const char *text, size_t n, unsigned max_depth, json_value *out,
	       struct recorder *rec, json_keycheck *kc, bool raw_bytes, json_error *err)
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
	s.kc = kc;
	s.stack = stack;
	if (kc) {
		kc->nkeys = 0;
		kc->key_error = NULL;
		kc->error_path[0] = '\0';
	}
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
			case '[': {
				const unsigned char *open = s.p;

				if (depth >= max_depth)
					return fail(&s, s.p, "nesting too deep");
				stack[depth++] = *s.p;
				s.p++;
				skip_ws(&s);
				if (s.p < s.end && *s.p == (*open == '{' ? '}' : ']')) {
					s.p++;
					depth--;
					need_value = false;
					break;
				}
				if (kc)
					open_level(kc, depth, open);
				if (*open == '{' &&
				    !scan_key(&s, kc, depth == 1 ? rec : NULL, depth,
					      "expected a string key or '}'"))
					return false;
				continue;
			}
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
			    !scan_key(&s, kc, depth == 1 ? rec : NULL, depth, "expected a string key"))
				return false;
			need_value = true;
			continue;
		}
		if (*s.p == (stack[depth - 1] == '{' ? '}' : ']')) {
			if (kc && stack[depth - 1] == '{')
				close_object(&s, depth);
			s.p++;
			depth--;
			continue;
		}
		return fail(&s, s.p, stack[depth - 1] == '{' ? "expected ',' or '}'"
							    : "expected ',' or ']'");
	}
	if (s.p != s.end)
		return fail(&s, s.p, "unexpected data after the value");
	if (kc && kc->key_error) {
		err->offset = kc->key_error_offset;
		err->reason = kc->key_error;
		return false;
	}
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

/* The scanner without key checks, and with them (two copies of one loop:
 * the checks cost nothing when they are off; the helpers the loop calls
 * for every value are inline, which two copies no longer make them by
 * themselves). */
static bool parse_value(const char *text, size_t n, unsigned max_depth, json_value *out,
			struct recorder *rec, bool raw_bytes, json_error *err)
{
	return parse_value_as(text, n, max_depth, out, rec, NULL, raw_bytes, err);
}

static bool parse_checked(const char *text, size_t n, unsigned max_depth, json_value *out,
			  struct recorder *rec, json_keycheck *kc, json_error *err)
{
	return parse_value_as(text, n, max_depth, out, rec, kc, false, err);
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

/* --- reading a file ---------------------------------------------------- */

void json_object_pick(json_value obj, const char *const *names, size_t n,
		      json_value *vals)
{
	size_t lens[JSON_PICK_MAX], left = n;
	char small[128];
	json_iter it;
	json_value k, v;

	if (n > JSON_PICK_MAX)
		die("json_object_pick: %zu names", n);
	for (size_t i = 0; i < n; i++) {
		vals[i] = (json_value){ NULL, 0, 0 };
		lens[i] = strlen(names[i]);
	}
	if (obj.type != JSON_OBJECT)
		return;
	json_iter_init(&it, obj);
	while (left && json_iter_member(&it, &k, &v)) {
		const char *key = k.p + 1;
		size_t klen = k.n - 2;
		char *tmp = NULL;

		if (json_string_has_escape(k)) {
			tmp = k.n <= sizeof(small) ? small : xmalloc(k.n);
			klen = json_string_decode(k, tmp);
			key = tmp;
		}
		for (size_t i = 0; i < n; i++)
			if (!vals[i].p && lens[i] == klen && !memcmp(names[i], key, klen)) {
				vals[i] = v;
				left--;
				break;
			}
		if (tmp && tmp != small)
			free(tmp);
	}
}

size_t json_count(json_value v)
{
	json_iter it;
	json_value k, e;
	size_t n = 0;

	if (v.type != JSON_ARRAY && v.type != JSON_OBJECT)
		return 0;
	json_iter_init(&it, v);
	if (v.type == JSON_ARRAY) {
		while (json_iter_element(&it, &e))
			n++;
	} else {
		while (json_iter_member(&it, &k, &e))
			n++;
	}
	return n;
}

char *json_string_dup(json_value v, size_t *len)
{
	char *s = xmalloc(v.n - 1);   /* the decoded text is never longer */
	size_t n = json_string_decode(v, s);

	if (memchr(s, '\0', n)) {
		free(s);
		return NULL;
	}
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

/* The magnitude of the number v when it is an integer below 2^64: its
 * significant digits, then as many zeros as its exponent asks. */
static bool integer_magnitude(json_value v, bool *neg, uint64_t *mag)
{
	struct decimal d;
	uint64_t acc = 0;
	int64_t ndigits = 0;

	decimal_split(v, &d);
	*neg = d.neg;
	*mag = 0;
	if (!d.first)
		return true;   /* zero, however written */
	if (d.adj > 20)       /* 20 digits or more before the point */
		return false;
	for (const char *q = d.first; q <= d.last; q++) {
		unsigned digit = (unsigned)(*q - '0');

		if (*q == '.')
			continue;
		if (acc > (UINT64_MAX - digit) / 10)
			return false;
		acc = acc * 10 + digit;
		ndigits++;
	}
	if (ndigits > d.adj)
		return false;   /* digits after the point */
	for (; ndigits < d.adj; ndigits++) {
		if (acc > UINT64_MAX / 10)
			return false;
		acc *= 10;
	}
	*mag = acc;
	return true;
}

bool json_number_get_int64(json_value v, int64_t *out)
{
	bool neg;
	uint64_t mag;

	if (!integer_magnitude(v, &neg, &mag) ||
	    mag > (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
		return false;
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return true;
}

bool json_number_get_uint64(json_value v, uint64_t *out)
{
	bool neg;
	uint64_t mag;

	if (!integer_magnitude(v, &neg, &mag) || (neg && mag))
		return false;
	*out = mag;
	return true;
}
