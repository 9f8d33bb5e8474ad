/*
 * filter.c - AWS EventBridge event patterns: compile once, match many.
 *
 * Compilation turns the pattern text into a list of "alternatives": trees
 * without $or (the $or groups are multiplied out, as EventBridge does,
 * within a limit on the number of combinations).  A tree node is a pattern
 * object: a list of fields, each either a leaf (a list of conditions, any
 * of which may hold) or a child node.  Dotted keys are split, so
 * {"a.b": [1]} and {"a": {"b": [1]}} compile to the same tree, and fields
 * of the same name are merged so that sibling conditions stay together.
 *
 * Matching walks the event through json.h without building anything.  A
 * node is matched against an event object: one pass over its members
 * settles the leaves (and the children that only need positive evidence),
 * stopping as soon as every field holds.  An array in the event is
 * flattened: a leaf holds if any scalar in it satisfies a condition, and a
 * child must hold for one element (so side-by-side conditions are
 * satisfied by the same element).  Event keys that contain dots are seen
 * through "views": a node at path a.b is also matched against the members
 * of the parent object named "b.x" and of the grandparent named "a.b.x".
 * A key repeated within one event object counts at its first occurrence,
 * so that with no dotted keys around, a leaf is decided as soon as its key
 * is read and a failing leaf ends the walk.
 *
 * Recursion is bounded: the pattern's depth is limited at compile time
 * and the event's depth by json_parse (and checked again here).
 */
#include "filter.h"
#include "json.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* Limits (documented in filter.h). */
#define FILTER_MAX_TEXT          65536   /* bytes of pattern text */
#define FILTER_MAX_DEPTH         32      /* key segments from the root */
#define FILTER_MAX_JSON_DEPTH    96      /* JSON nesting of the text */
#define FILTER_MAX_COMBINATIONS  1000    /* alternatives after $or */
#define FILTER_MAX_FIELDS        100000  /* fields in all alternatives */
#define FILTER_MAX_EVENT_DEPTH   1024    /* as json_parse's own limit */
#define WILDCARD_MAX_COMPLEXITY  10      /* EventBridge's wildcard limit */
#define WILDCARD_MAX_SETS        20000   /* bound on the complexity check */

/* --- Unicode simple case folding --------------------------------------- */

/*
 * The simple case folding of Unicode 14.0 (CaseFolding.txt, statuses C
 * and S: one code point to one code point, so "ß" stays "ß" and "ẞ" folds
 * to "ß"; the Turkic T mappings are not used).  Runs of code points
 * start, start+stride, ... (count of them) fold to cp + delta.  Generated
 * by tests/data/filter/gen_casefold.py.
 */
struct fold_run {
	uint32_t start;
	uint8_t count;
	uint8_t stride;
	int32_t delta;
};

static const struct fold_run fold_runs[] = {
	{ 0x00041, 26, 1,     32 }, { 0x000b5,  1, 1,    775 }, { 0x000c0, 23, 1,     32 },
	{ 0x000d8,  7, 1,     32 }, { 0x00100, 24, 2,      1 }, { 0x00132,  3, 2,      1 },
	{ 0x00139,  8, 2,      1 }, { 0x0014a, 23, 2,      1 }, { 0x00178,  1, 1,   -121 },
	{ 0x00179,  3, 2,      1 }, { 0x0017f,  1, 1,   -268 }, { 0x00181,  1, 1,    210 },
	{ 0x00182,  2, 2,      1 }, { 0x00186,  1, 1,    206 }, { 0x00187,  1, 1,      1 },
	{ 0x00189,  2, 1,    205 }, { 0x0018b,  1, 1,      1 }, { 0x0018e,  1, 1,     79 },
	{ 0x0018f,  1, 1,    202 }, { 0x00190,  1, 1,    203 }, { 0x00191,  1, 1,      1 },
	{ 0x00193,  1, 1,    205 }, { 0x00194,  1, 1,    207 }, { 0x00196,  1, 1,    211 },
	{ 0x00197,  1, 1,    209 }, { 0x00198,  1, 1,      1 }, { 0x0019c,  1, 1,    211 },
	{ 0x0019d,  1, 1,    213 }, { 0x0019f,  1, 1,    214 }, { 0x001a0,  3, 2,      1 },
	{ 0x001a6,  1, 1,    218 }, { 0x001a7,  1, 1,      1 }, { 0x001a9,  1, 1,    218 },
	{ 0x001ac,  1, 1,      1 }, { 0x001ae,  1, 1,    218 }, { 0x001af,  1, 1,      1 },
	{ 0x001b1,  2, 1,    217 }, { 0x001b3,  2, 2,      1 }, { 0x001b7,  1, 1,    219 },
	{ 0x001b8,  1, 1,      1 }, { 0x001bc,  1, 1,      1 }, { 0x001c4,  1, 1,      2 },
	{ 0x001c5,  1, 1,      1 }, { 0x001c7,  1, 1,      2 }, { 0x001c8,  1, 1,      1 },
	{ 0x001ca,  1, 1,      2 }, { 0x001cb,  9, 2,      1 }, { 0x001de,  9, 2,      1 },
	{ 0x001f1,  1, 1,      2 }, { 0x001f2,  2, 2,      1 }, { 0x001f6,  1, 1,    -97 },
	{ 0x001f7,  1, 1,    -56 }, { 0x001f8, 20, 2,      1 }, { 0x00220,  1, 1,   -130 },
	{ 0x00222,  9, 2,      1 }, { 0x0023a,  1, 1,  10795 }, { 0x0023b,  1, 1,      1 },
	{ 0x0023d,  1, 1,   -163 }, { 0x0023e,  1, 1,  10792 }, { 0x00241,  1, 1,      1 },
	{ 0x00243,  1, 1,   -195 }, { 0x00244,  1, 1,     69 }, { 0x00245,  1, 1,     71 },
	{ 0x00246,  5, 2,      1 }, { 0x00345,  1, 1,    116 }, { 0x00370,  2, 2,      1 },
	{ 0x00376,  1, 1,      1 }, { 0x0037f,  1, 1,    116 }, { 0x00386,  1, 1,     38 },
	{ 0x00388,  3, 1,     37 }, { 0x0038c,  1, 1,     64 }, { 0x0038e,  2, 1,     63 },
	{ 0x00391, 17, 1,     32 }, { 0x003a3,  9, 1,     32 }, { 0x003c2,  1, 1,      1 },
	{ 0x003cf,  1, 1,      8 }, { 0x003d0,  1, 1,    -30 }, { 0x003d1,  1, 1,    -25 },
	{ 0x003d5,  1, 1,    -15 }, { 0x003d6,  1, 1,    -22 }, { 0x003d8, 12, 2,      1 },
	{ 0x003f0,  1, 1,    -54 }, { 0x003f1,  1, 1,    -48 }, { 0x003f4,  1, 1,    -60 },
	{ 0x003f5,  1, 1,    -64 }, { 0x003f7,  1, 1,      1 }, { 0x003f9,  1, 1,     -7 },
	{ 0x003fa,  1, 1,      1 }, { 0x003fd,  3, 1,   -130 }, { 0x00400, 16, 1,     80 },
	{ 0x00410, 32, 1,     32 }, { 0x00460, 17, 2,      1 }, { 0x0048a, 27, 2,      1 },
	{ 0x004c0,  1, 1,     15 }, { 0x004c1,  7, 2,      1 }, { 0x004d0, 48, 2,      1 },
	{ 0x00531, 38, 1,     48 }, { 0x010a0, 38, 1,   7264 }, { 0x010c7,  1, 1,   7264 },
	{ 0x010cd,  1, 1,   7264 }, { 0x013f8,  6, 1,     -8 }, { 0x01c80,  1, 1,  -6222 },
	{ 0x01c81,  1, 1,  -6221 }, { 0x01c82,  1, 1,  -6212 }, { 0x01c83,  2, 1,  -6210 },
	{ 0x01c85,  1, 1,  -6211 }, { 0x01c86,  1, 1,  -6204 }, { 0x01c87,  1, 1,  -6180 },
	{ 0x01c88,  1, 1,  35267 }, { 0x01c90, 43, 1,  -3008 }, { 0x01cbd,  3, 1,  -3008 },
	{ 0x01e00, 75, 2,      1 }, { 0x01e9b,  1, 1,    -58 }, { 0x01e9e,  1, 1,  -7615 },
	{ 0x01ea0, 48, 2,      1 }, { 0x01f08,  8, 1,     -8 }, { 0x01f18,  6, 1,     -8 },
	{ 0x01f28,  8, 1,     -8 }, { 0x01f38,  8, 1,     -8 }, { 0x01f48,  6, 1,     -8 },
	{ 0x01f59,  4, 2,     -8 }, { 0x01f68,  8, 1,     -8 }, { 0x01f88,  8, 1,     -8 },
	{ 0x01f98,  8, 1,     -8 }, { 0x01fa8,  8, 1,     -8 }, { 0x01fb8,  2, 1,     -8 },
	{ 0x01fba,  2, 1,    -74 }, { 0x01fbc,  1, 1,     -9 }, { 0x01fbe,  1, 1,  -7173 },
	{ 0x01fc8,  4, 1,    -86 }, { 0x01fcc,  1, 1,     -9 }, { 0x01fd8,  2, 1,     -8 },
	{ 0x01fda,  2, 1,   -100 }, { 0x01fe8,  2, 1,     -8 }, { 0x01fea,  2, 1,   -112 },
	{ 0x01fec,  1, 1,     -7 }, { 0x01ff8,  2, 1,   -128 }, { 0x01ffa,  2, 1,   -126 },
	{ 0x01ffc,  1, 1,     -9 }, { 0x02126,  1, 1,  -7517 }, { 0x0212a,  1, 1,  -8383 },
	{ 0x0212b,  1, 1,  -8262 }, { 0x02132,  1, 1,     28 }, { 0x02160, 16, 1,     16 },
	{ 0x02183,  1, 1,      1 }, { 0x024b6, 26, 1,     26 }, { 0x02c00, 48, 1,     48 },
	{ 0x02c60,  1, 1,      1 }, { 0x02c62,  1, 1, -10743 }, { 0x02c63,  1, 1,  -3814 },
	{ 0x02c64,  1, 1, -10727 }, { 0x02c67,  3, 2,      1 }, { 0x02c6d,  1, 1, -10780 },
	{ 0x02c6e,  1, 1, -10749 }, { 0x02c6f,  1, 1, -10783 }, { 0x02c70,  1, 1, -10782 },
	{ 0x02c72,  1, 1,      1 }, { 0x02c75,  1, 1,      1 }, { 0x02c7e,  2, 1, -10815 },
	{ 0x02c80, 50, 2,      1 }, { 0x02ceb,  2, 2,      1 }, { 0x02cf2,  1, 1,      1 },
	{ 0x0a640, 23, 2,      1 }, { 0x0a680, 14, 2,      1 }, { 0x0a722,  7, 2,      1 },
	{ 0x0a732, 31, 2,      1 }, { 0x0a779,  2, 2,      1 }, { 0x0a77d,  1, 1, -35332 },
	{ 0x0a77e,  5, 2,      1 }, { 0x0a78b,  1, 1,      1 }, { 0x0a78d,  1, 1, -42280 },
	{ 0x0a790,  2, 2,      1 }, { 0x0a796, 10, 2,      1 }, { 0x0a7aa,  1, 1, -42308 },
	{ 0x0a7ab,  1, 1, -42319 }, { 0x0a7ac,  1, 1, -42315 }, { 0x0a7ad,  1, 1, -42305 },
	{ 0x0a7ae,  1, 1, -42308 }, { 0x0a7b0,  1, 1, -42258 }, { 0x0a7b1,  1, 1, -42282 },
	{ 0x0a7b2,  1, 1, -42261 }, { 0x0a7b3,  1, 1,    928 }, { 0x0a7b4,  8, 2,      1 },
	{ 0x0a7c4,  1, 1,    -48 }, { 0x0a7c5,  1, 1, -42307 }, { 0x0a7c6,  1, 1, -35384 },
	{ 0x0a7c7,  2, 2,      1 }, { 0x0a7d0,  1, 1,      1 }, { 0x0a7d6,  2, 2,      1 },
	{ 0x0a7f5,  1, 1,      1 }, { 0x0ab70, 80, 1, -38864 }, { 0x0ff21, 26, 1,     32 },
	{ 0x10400, 40, 1,     40 }, { 0x104b0, 36, 1,     40 }, { 0x10570, 11, 1,     39 },
	{ 0x1057c, 15, 1,     39 }, { 0x1058c,  7, 1,     39 }, { 0x10594,  2, 1,     39 },
	{ 0x10c80, 51, 1,     64 }, { 0x118a0, 32, 1,     32 }, { 0x16e40, 32, 1,     32 },
	{ 0x1e900, 34, 1,     34 },
};

static uint32_t fold_cp(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(fold_runs) / sizeof(fold_runs[0]);
	const struct fold_run *r;

	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	/* the last run starting at or before cp */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (fold_runs[mid].start <= cp)
			lo = mid;
		else
			hi = mid;
	}
	r = &fold_runs[lo];
	if (cp >= r->start && cp < r->start + (uint32_t)r->count * r->stride &&
	    (cp - r->start) % r->stride == 0)
		return (uint32_t)((int32_t)cp + r->delta);
	return cp;
}

/* The code point at *pp (advanced past it).  Input is valid UTF-8 (JSON
 * strings are validated); a stray byte b would come back as 0x110000 + b,
 * so that nothing reads past end. */
static uint32_t utf8_next(const unsigned char **pp, const unsigned char *end)
{
	const unsigned char *p = *pp;
	uint32_t cp = *p;
	size_t k = cp < 0x80 ? 1 : cp >= 0xf0 ? 4 : cp >= 0xe0 ? 3 : cp >= 0xc0 ? 2 : 0;

	if (k == 1 || k == 0 || (size_t)(end - p) < k) {
		*pp = p + 1;
		return k == 1 ? cp : 0x110000 + cp;
	}
	cp &= 0x3fu >> (k - 1);
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			*pp = p + 1;
			return 0x110000 + *p;
		}
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	*pp = p + k;
	return cp;
}

/* The code point ending just before *pp (moved back to its start). */
static uint32_t utf8_prev(const unsigned char *start, const unsigned char **pp)
{
	const unsigned char *end = *pp, *p = end - 1, *q;
	uint32_t cp;

	while (p > start && end - p < 4 && (*p & 0xc0) == 0x80)
		p--;
	q = p;
	cp = utf8_next(&q, end);
	if (q != end) {
		/* not one sequence: take the last byte alone */
		p = end - 1;
		q = p;
		cp = utf8_next(&q, end);
	}
	*pp = p;
	return cp;
}

/* Fold a UTF-8 string into an array of code points (caller frees). */
static uint32_t *fold_string(const char *s, size_t n, size_t *out_n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	uint32_t *cps = xmalloc((n + 1) * sizeof(*cps));
	size_t k = 0;

	while (p < end)
		cps[k++] = fold_cp(utf8_next(&p, end));
	*out_n = k;
	return cps;
}

enum fold_how { FOLD_EQUALS, FOLD_PREFIX, FOLD_SUFFIX };

/* Compare s[0..n) without case against folded code points. */
static bool fold_match(const char *s, size_t n, const uint32_t *cps, size_t ncps,
		       enum fold_how how)
{
	const unsigned char *start = (const unsigned char *)s, *end = start + n;
	const unsigned char *p;
	size_t i;

	if (how == FOLD_SUFFIX) {
		p = end;
		for (i = ncps; i > 0; i--) {
			if (p <= start || fold_cp(utf8_prev(start, &p)) != cps[i - 1])
				return false;
		}
		return true;
	}
	p = start;
	for (i = 0; i < ncps; i++) {
		if (p >= end || fold_cp(utf8_next(&p, end)) != cps[i])
			return false;
	}
	return how == FOLD_PREFIX || p == end;
}

/* --- wildcards --------------------------------------------------------- */

/* A wildcard without its escapes, cut at the stars: nseg = stars + 1
 * literal segments, segment i being lit[seg[i]..seg[i + 1]). */
struct glob {
	char *lit;
	size_t *seg;
	size_t nseg;
	size_t *kmp;     /* per byte of lit: its segment's prefix function */
};

static void glob_release(struct glob *g)
{
	free(g->lit);
	free(g->seg);
	free(g->kmp);
	g->lit = NULL;
	g->seg = NULL;
	g->kmp = NULL;
	g->nseg = 0;
}

/* Parse s[0..n): '*' any run, "\*" a star, "\\" a backslash.  Returns NULL
 * or a static reason. */
static const char *glob_parse(const char *s, size_t n, struct glob *g)
{
	size_t len = 0, alloc = 0;

	g->lit = xmalloc(n + 1);
	g->seg = NULL;
	g->kmp = NULL;
	g->nseg = 0;
	g->seg = xgrow(g->seg, 1, &alloc, sizeof(*g->seg));
	g->seg[0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '*') {
			if (i + 1 < n && s[i + 1] == '*') {
				glob_release(g);
				return "consecutive wildcard characters";
			}
			g->nseg++;
			g->seg = xgrow(g->seg, g->nseg + 1, &alloc, sizeof(*g->seg));
			g->seg[g->nseg] = len;
			continue;
		}
		if (s[i] == '\\') {
			if (i + 1 >= n || (s[i + 1] != '*' && s[i + 1] != '\\')) {
				glob_release(g);
				return "a backslash must escape '*' or '\\'";
			}
			i++;
		}
		g->lit[len++] = s[i];
	}
	g->nseg++;
	g->seg = xgrow(g->seg, g->nseg + 1, &alloc, sizeof(*g->seg));
	g->seg[g->nseg] = len;
	g->lit[len] = '\0';
	/* Knuth-Morris-Pratt tables, so that finding a segment is linear */
	g->kmp = xcalloc(len + 1, sizeof(*g->kmp));
	for (size_t s0 = 0; s0 < g->nseg; s0++) {
		const char *p = g->lit + g->seg[s0];
		size_t *pi = g->kmp + g->seg[s0], m = g->seg[s0 + 1] - g->seg[s0], k = 0;

		for (size_t j = 1; j < m; j++) {
			while (k > 0 && p[j] != p[k])
				k = pi[k - 1];
			if (p[j] == p[k])
				k++;
			pi[j] = k;
		}
	}
	return NULL;
}

/* The first occurrence of segment i of g in t[0..n), or NULL. */
static const char *glob_find(const struct glob *g, size_t i, const char *t, size_t n)
{
	const char *p = g->lit + g->seg[i];
	const size_t *pi = g->kmp + g->seg[i];
	size_t m = g->seg[i + 1] - g->seg[i], k = 0;

	for (size_t j = 0; j < n; j++) {
		while (k > 0 && t[j] != p[k])
			k = pi[k - 1];
		if (t[j] == p[k])
			k++;
		if (k == m)
			return t + j + 1 - m;
	}
	return NULL;
}

/* Linear: the first and last segments are anchored and the middle ones
 * taken leftmost, which is exact when '*' is the only metacharacter. */
static bool glob_match(const struct glob *g, const char *s, size_t n)
{
	size_t first = g->seg[1] - g->seg[0];
	size_t last = g->seg[g->nseg] - g->seg[g->nseg - 1];
	const char *p, *end;

	if (g->nseg == 1)
		return n == first && !memcmp(s, g->lit, n);
	if (n < first + last || memcmp(s, g->lit, first) ||
	    memcmp(s + n - last, g->lit + g->seg[g->nseg - 1], last))
		return false;
	p = s + first;
	end = s + n - last;
	for (size_t i = 1; i + 1 < g->nseg; i++) {
		size_t len = g->seg[i + 1] - g->seg[i];
		const char *hit;

		if (!len)
			continue;
		hit = glob_find(g, i, p, (size_t)(end - p));
		if (!hit)
			return false;
		p = hit + len;
	}
	return true;
}

/*
 * EventBridge's complexity of the wildcards of one field (event-ruler's
 * MachineComplexityEvaluator): the largest number of pattern prefixes that
 * one input can match at once, each pattern enclosed in quotes as
 * event-ruler stores it.  EventBridge rejects more than 10: its example
 * "*:*:*:*:*:event-bus/" followed by a final star scores 11 (input
 * "\":::::"), "a*b*c" scores 3.  Computed over the sets of NFA states
 * that some input reaches (a breadth-first subset construction), giving up
 * past the limit or after WILDCARD_MAX_SETS sets.
 */
#define WC_STAR 256
#define WC_SEP  257
#define WC_SET  WILDCARD_MAX_COMPLEXITY

struct wc_set {
	uint32_t st[WC_SET];
	uint8_t n;
};

struct wc_check {
	uint16_t *tok;           /* all the token lists, each ended by WC_SEP */
	size_t ntok;
	struct wc_set *sets;     /* reached so far; sets[0] is the start */
	size_t nsets, asets;
	uint32_t *table;         /* hash of sets: index + 1, 0 empty */
	size_t tsize;
};

static uint32_t wc_hash(const struct wc_set *s)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < s->n; i++)
		h = (h ^ s->st[i]) * 16777619u;
	return h;
}

/* Add state p (and what a star after it allows) to s; false past the
 * limit. */
static bool wc_add(const struct wc_check *w, struct wc_set *s, uint32_t p)
{
	for (;;) {
		size_t i = 0;

		while (i < s->n && s->st[i] < p)
			i++;
		if (i == s->n || s->st[i] != p) {
			if (s->n >= WC_SET)
				return false;
			memmove(s->st + i + 1, s->st + i, (s->n - i) * sizeof(*s->st));
			s->st[i] = p;
			s->n++;
		}
		if (w->tok[p] != WC_STAR)
			return true;
		p++;
	}
}

/* Insert a set not seen before; false if there are too many. */
static bool wc_insert(struct wc_check *w, const struct wc_set *s, bool *fresh)
{
	size_t i;

	if ((w->nsets + 1) * 2 > w->tsize) {
		size_t nsize = w->tsize ? w->tsize * 2 : 1024;
		uint32_t *nt = xcalloc(nsize, sizeof(*nt));

		for (size_t k = 0; k < w->nsets; k++) {
			i = wc_hash(&w->sets[k]) & (nsize - 1);
			while (nt[i])
				i = (i + 1) & (nsize - 1);
			nt[i] = (uint32_t)k + 1;
		}
		free(w->table);
		w->table = nt;
		w->tsize = nsize;
	}
	i = wc_hash(s) & (w->tsize - 1);
	while (w->table[i]) {
		const struct wc_set *o = &w->sets[w->table[i] - 1];

		if (o->n == s->n && !memcmp(o->st, s->st, s->n * sizeof(*s->st))) {
			*fresh = false;
			return true;
		}
		i = (i + 1) & (w->tsize - 1);
	}
	if (w->nsets >= WILDCARD_MAX_SETS)
		return false;
	w->sets = xgrow(w->sets, w->nsets + 1, &w->asets, sizeof(*w->sets));
	w->sets[w->nsets] = *s;
	w->table[i] = (uint32_t)++w->nsets;
	*fresh = true;
	return true;
}

/* Is the wildcard set of one field within EventBridge's complexity? */
static bool wildcards_simple(const struct glob *const *globs, size_t nglobs)
{
	struct wc_check w;
	bool seen[258] = { false }, ok = false, fresh;
	uint16_t alphabet[258];
	size_t nalpha = 0, alloc = 0;
	struct wc_set start;

	memset(&w, 0, sizeof(w));
	memset(&start, 0, sizeof(start));
	for (size_t g = 0; g < nglobs; g++) {
		const struct glob *gl = globs[g];
		size_t need = w.ntok + (gl->seg[gl->nseg] + gl->nseg + 3);

		w.tok = xgrow(w.tok, need, &alloc, sizeof(*w.tok));
		if (start.n < WC_SET)
			start.st[start.n++] = (uint32_t)w.ntok;
		w.tok[w.ntok++] = '"';
		for (size_t s = 0; s < gl->nseg; s++) {
			if (s)
				w.tok[w.ntok++] = WC_STAR;
			for (size_t i = gl->seg[s]; i < gl->seg[s + 1]; i++)
				w.tok[w.ntok++] = (unsigned char)gl->lit[i];
		}
		w.tok[w.ntok++] = '"';
		w.tok[w.ntok++] = WC_SEP;
	}
	for (size_t i = 0; i < w.ntok; i++) {
		if (w.tok[i] < 256 && !seen[w.tok[i]]) {
			seen[w.tok[i]] = true;
			alphabet[nalpha++] = w.tok[i];
		}
	}
	alphabet[nalpha++] = WC_SEP;   /* stands for any other byte */
	if (nglobs > WC_SET || !wc_insert(&w, &start, &fresh))   /* '"' alone */
		goto done;
	for (size_t k = 0; k < w.nsets; k++) {
		for (size_t a = 0; a < nalpha; a++) {
			struct wc_set cur = w.sets[k], next;

			next.n = 0;
			for (size_t i = 0; i < cur.n; i++) {
				uint32_t p = cur.st[i];

				/* a start state is never counted nor kept */
				if (p > 0 && w.tok[p - 1] == WC_STAR && !wc_add(&w, &next, p))
					goto done;
				if (alphabet[a] != WC_SEP && w.tok[p] == alphabet[a] &&
				    !wc_add(&w, &next, p + 1))
					goto done;
			}
			if (next.n && !wc_insert(&w, &next, &fresh))
				goto done;
		}
	}
	ok = true;
done:
	free(w.tok);
	free(w.sets);
	free(w.table);
	return ok;
}

/* --- IP addresses ------------------------------------------------------ */

static bool parse_ipv4(const char *s, size_t n, unsigned char out[4])
{
	size_t i = 0;

	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			digits++;
			i++;
		}
		if (!digits || digits > 3 || v > 255)
			return false;
		out[part] = (unsigned char)v;
	}
	return i == n;
}

/* RFC 4291 text forms: eight groups, "::" once, a dotted quad at the end. */
static bool parse_ipv6(const char *s, size_t n, unsigned char out[16])
{
	unsigned char head[16], tail[16];
	size_t nh = 0, nt = 0, i = 0;
	bool gap = false;

	if (n >= 2 && s[0] == ':' && s[1] == ':') {
		gap = true;
		i = 2;
	}
	while (i < n) {
		size_t j = i, *cnt = gap ? &nt : &nh;
		unsigned char *dst = gap ? tail : head;
		unsigned v = 0;

		while (j < n && s[j] != ':' && s[j] != '.')
			j++;
		if (j < n && s[j] == '.') {
			/* a dotted quad: the last 32 bits */
			while (j < n && s[j] != ':')
				j++;
			if (j != n || *cnt > 12 || !parse_ipv4(s + i, n - i, dst + *cnt))
				return false;
			*cnt += 4;
			i = n;
			break;
		}
		if (j == i || j - i > 4 || *cnt >= 16)
			return false;
		for (size_t k = i; k < j; k++) {
			int h = hex_digit((unsigned char)s[k]);

			if (h < 0)
				return false;
			v = v * 16 + (unsigned)h;
		}
		dst[(*cnt)++] = (unsigned char)(v >> 8);
		dst[(*cnt)++] = (unsigned char)v;
		i = j;
		if (i == n)
			break;
		i++;   /* ':' */
		if (i < n && s[i] == ':') {
			if (gap)
				return false;
			gap = true;
			i++;
			continue;
		}
		if (i == n)
			return false;   /* a single trailing ':' */
	}
	if (gap ? nh + nt > 14 : nh != 16)
		return false;
	memset(out, 0, 16);
	memcpy(out, head, nh);
	memcpy(out + 16 - nt, tail, nt);
	return true;
}

/* An IPv4 (returns 4, 4 bytes) or IPv6 (returns 6, 16 bytes) address. */
static int parse_ip(const char *s, size_t n, unsigned char out[16])
{
	if (parse_ipv4(s, n, out))
		return 4;
	if (memchr(s, ':', n) && parse_ipv6(s, n, out))
		return 6;
	return 0;
}

/* --- conditions -------------------------------------------------------- */

enum cond_kind {
	COND_STRING,         /* an exact string */
	COND_NUMBER,         /* an exact number, compared by value */
	COND_TRUE,
	COND_FALSE,
	COND_NULL,
	COND_PREFIX,
	COND_SUFFIX,
	COND_PREFIX_IC,      /* prefix, equals-ignore-case */
	COND_SUFFIX_IC,
	COND_EQUALS_IC,
	COND_WILDCARD,
	COND_NUMERIC,
	COND_CIDR,
	COND_EXISTS,         /* exists: true (any scalar value) */
	COND_ABSENT,         /* exists: false (no scalar value; see struct leaf) */
	COND_ANYTHING_BUT    /* a present value that none of subs matches */
};

struct cond {
	enum cond_kind kind;
	char *s;             /* STRING, PREFIX, SUFFIX: bytes; NUMBER: text */
	size_t n;
	uint32_t *cps;       /* *_IC: the folded code points */
	size_t ncps;
	struct glob glob;    /* WILDCARD */
	struct {
		bool lo, lo_incl, hi, hi_incl;
		char *lo_text, *hi_text;   /* number texts */
		size_t lo_n, hi_n;
	} num;               /* NUMERIC */
	struct {
		int family;          /* 4 or 6 */
		unsigned bits;
		unsigned char addr[16];
	} cidr;              /* CIDR */
	struct cond *subs;   /* ANYTHING_BUT: the excluded values */
	size_t nsubs;
};

/* The conditions of one leaf array: alternatives. */
struct leaf {
	struct cond *conds;
	size_t nconds;
	bool exists_false;   /* an {"exists": false} among them */
};

static void cond_release(struct cond *c)
{
	free(c->s);
	free(c->cps);
	glob_release(&c->glob);
	free(c->num.lo_text);
	free(c->num.hi_text);
	for (size_t i = 0; i < c->nsubs; i++)
		cond_release(&c->subs[i]);
	free(c->subs);
	memset(c, 0, sizeof(*c));
}

struct node;

struct field {
	char *key;           /* one key segment (no dots), decoded */
	size_t keylen;
	const struct leaf *leaf;  /* shared, owned by the filter; or NULL */
	struct node *child;  /* owned; or NULL */
};

struct orgroup {
	struct node **alts;
	size_t nalts;
};

struct node {
	struct field *fields;
	size_t nfields, afields;
	struct orgroup *ors;      /* only before expansion */
	size_t nors, aors;
	bool monotone;       /* no exists:false below: more values never hurt */
};

struct filter {
	struct node **alts;        /* $or-free trees; any may match */
	size_t nalts;
	struct leaf **leaves;      /* every leaf, for filter_free */
	size_t nleaves, aleaves;
};

/* --- building and freeing trees ---------------------------------------- */

static void leaf_free(struct leaf *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nconds; i++)
		cond_release(&l->conds[i]);
	free(l->conds);
	free(l);
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nfields; i++) {
		free(n->fields[i].key);
		node_free(n->fields[i].child);
	}
	free(n->fields);
	for (size_t i = 0; i < n->nors; i++) {
		for (size_t j = 0; j < n->ors[i].nalts; j++)
			node_free(n->ors[i].alts[j]);
		free(n->ors[i].alts);
	}
	free(n->ors);
	free(n);
}

static struct node *node_new(void)
{
	return xcalloc(1, sizeof(struct node));
}

static struct field *node_add_field(struct node *n, const char *key, size_t keylen)
{
	struct field *f;

	n->fields = xgrow(n->fields, n->nfields + 1, &n->afields, sizeof(*n->fields));
	f = &n->fields[n->nfields++];
	f->key = xstrndup(key, keylen);
	f->keylen = keylen;
	f->leaf = NULL;
	f->child = NULL;
	return f;
}

/* A deep copy of an $or-free tree (leaves are shared). */
static struct node *node_clone(const struct node *src)
{
	struct node *n = node_new();

	for (size_t i = 0; i < src->nfields; i++) {
		struct field *f = node_add_field(n, src->fields[i].key, src->fields[i].keylen);

		f->leaf = src->fields[i].leaf;
		if (src->fields[i].child)
			f->child = node_clone(src->fields[i].child);
	}
	return n;
}

/* Fields in an $or-free tree. */
static size_t node_size(const struct node *n)
{
	size_t total = n->nfields;

	for (size_t i = 0; i < n->nfields; i++)
		if (n->fields[i].child)
			total += node_size(n->fields[i].child);
	return total;
}

/* Merge a copy of src into dst: children of the same name are merged,
 * leaves are appended (both must hold). */
static void node_merge(struct node *dst, const struct node *src)
{
	for (size_t i = 0; i < src->nfields; i++) {
		const struct field *s = &src->fields[i];
		struct field *d = NULL;

		if (s->child) {
			for (size_t j = 0; j < dst->nfields; j++) {
				if (dst->fields[j].child && dst->fields[j].keylen == s->keylen &&
				    !memcmp(dst->fields[j].key, s->key, s->keylen)) {
					d = &dst->fields[j];
					break;
				}
			}
			if (d) {
				node_merge(d->child, s->child);
				continue;
			}
		}
		d = node_add_field(dst, s->key, s->keylen);
		d->leaf = s->leaf;
		if (s->child)
			d->child = node_clone(s->child);
	}
}

static bool node_compute_monotone(struct node *n)
{
	n->monotone = true;
	for (size_t i = 0; i < n->nfields; i++) {
		if (n->fields[i].leaf && n->fields[i].leaf->exists_false)
			n->monotone = false;
		if (n->fields[i].child && !node_compute_monotone(n->fields[i].child))
			n->monotone = false;
	}
	return n->monotone;
}

/* --- compilation ------------------------------------------------------- */

struct nodelist {
	struct node **v;
	size_t n, alloc;
};

static void nodelist_add(struct nodelist *l, struct node *n)
{
	l->v = xgrow(l->v, l->n + 1, &l->alloc, sizeof(*l->v));
	l->v[l->n++] = n;
}

static void nodelist_release(struct nodelist *l)
{
	for (size_t i = 0; i < l->n; i++)
		node_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->alloc = 0;
}

struct compiler {
	filter *f;
	buf path;            /* JSON path of the value being compiled */
	buf *err;
	bool failed;
};

/* Record an error about the value at the current path; returns false. */
static bool compile_error(struct compiler *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool compile_error(struct compiler *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed || !c->err) {
		c->failed = true;
		return false;
	}
	c->failed = true;
	buf_add(c->err, c->path.data, c->path.len);
	buf_addstr(c->err, ": ");
	va_start(ap, fmt);
	buf_vprintf(c->err, fmt, ap);
	va_end(ap);
	return false;
}

static bool is_plain_key(const char *k, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)k[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '$'))
			return false;
	}
	return true;
}

/* Append ".key" (or ["key"] when it is not a plain name) to the path. */
static void path_push_key(struct compiler *c, const char *k, size_t n)
{
	if (is_plain_key(k, n)) {
		buf_addch(&c->path, '.');
		buf_add(&c->path, k, n);
	} else {
		buf_addch(&c->path, '[');
		buf_add_json_string(&c->path, k, n);
		buf_addch(&c->path, ']');
	}
}

static void path_push_index(struct compiler *c, size_t i)
{
	buf_printf(&c->path, "[%zu]", i);
}

static void path_pop(struct compiler *c, size_t len)
{
	c->path.len = len;
	if (c->path.data)
		c->path.data[len] = '\0';
}

/* Decode a string value into a new NUL-terminated allocation. */
static char *string_dup(json_value v, size_t *len)
{
	char *s = xmalloc(v.n);

	*len = json_string_decode(v, s);
	s[*len] = '\0';   /* v.n >= 2 > decoded length */
	return s;
}

/* "a string", "an object", ... for messages. */
static const char *a_type(json_type t)
{
	switch (t) {
	case JSON_NULL:   return "null";
	case JSON_FALSE:  return "false";
	case JSON_TRUE:   return "true";
	case JSON_NUMBER: return "a number";
	case JSON_STRING: return "a string";
	case JSON_ARRAY:  return "an array";
	case JSON_OBJECT: return "an object";
	}
	return "a value";
}

/* Is the decoded name[0..n) exactly s? */
static bool name_is(const char *name, size_t n, const char *s)
{
	return strlen(s) == n && !memcmp(name, s, n);
}

/* The only member of an object: 0 if empty, 1, or 2 for several. */
static int only_member(json_value obj, json_value *k, json_value *v)
{
	json_iter it;
	json_value k2, v2;

	json_iter_init(&it, obj);
	if (!json_iter_member(&it, k, v))
		return 0;
	return json_iter_member(&it, &k2, &v2) ? 2 : 1;
}

static bool compile_string_cond(json_value v, enum cond_kind kind, struct cond *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->s = string_dup(v, &out->n);
	if (kind == COND_PREFIX_IC || kind == COND_SUFFIX_IC || kind == COND_EQUALS_IC) {
		out->cps = fold_string(out->s, out->n, &out->ncps);
		free(out->s);
		out->s = NULL;
	}
	return true;
}

static bool compile_wildcard_cond(struct compiler *c, json_value v, struct cond *out)
{
	size_t n;
	char *s = string_dup(v, &n);
	const char *why;

	memset(out, 0, sizeof(*out));
	out->kind = COND_WILDCARD;
	why = glob_parse(s, n, &out->glob);
	free(s);
	if (why)
		return compile_error(c, "invalid wildcard: %s", why);
	return true;
}

/* prefix / suffix: a string or {"equals-ignore-case": string}. */
static bool compile_affix(struct compiler *c, json_value v, bool prefix,
			  struct cond *out)
{
	json_value k, w;

	if (v.type == JSON_STRING)
		return compile_string_cond(v, prefix ? COND_PREFIX : COND_SUFFIX, out);
	if (v.type == JSON_OBJECT && only_member(v, &k, &w) == 1 &&
	    json_string_equals(k, "equals-ignore-case", 18)) {
		if (w.type != JSON_STRING)
			return compile_error(c, "equals-ignore-case must be a string, not %s",
					     a_type(w.type));
		return compile_string_cond(w, prefix ? COND_PREFIX_IC : COND_SUFFIX_IC, out);
	}
	return compile_error(c, "must be a string or {\"equals-ignore-case\": string}, "
			     "not %s", a_type(v.type));
}

/* Add an excluded value to an anything-but condition. */
static struct cond *anything_but_add(struct cond *ab, size_t *alloc)
{
	ab->subs = xgrow(ab->subs, ab->nsubs + 1, alloc, sizeof(*ab->subs));
	memset(&ab->subs[ab->nsubs], 0, sizeof(ab->subs[0]));
	return &ab->subs[ab->nsubs++];
}

/* anything-but {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": one
 * string or a list of them}. */
static bool compile_anything_but_op(struct compiler *c, json_value obj, struct cond *ab,
				    size_t *alloc)
{
	static const struct {
		const char *name;
		enum cond_kind kind;
		bool nonempty;
	} ops[] = {
		{ "prefix", COND_PREFIX, true },
		{ "suffix", COND_SUFFIX, true },
		{ "equals-ignore-case", COND_EQUALS_IC, false },
		{ "wildcard", COND_WILDCARD, false },
	};
	size_t len = c->path.len, op, i = 0, nname;
	json_value k, w, e;
	json_iter it;
	bool ok = true;
	char *name;

	switch (only_member(obj, &k, &w)) {
	case 0:
		return compile_error(c, "must not be an empty object");
	case 2:
		return compile_error(c, "an operator object must have exactly one key");
	}
	name = string_dup(k, &nname);
	for (op = 0; op < sizeof(ops) / sizeof(ops[0]); op++)
		if (name_is(name, nname, ops[op].name))
			break;
	if (op == sizeof(ops) / sizeof(ops[0])) {
		buf q = BUF_INIT;

		buf_add_json_string(&q, name, nname);
		compile_error(c, "unsupported anything-but operator %s (use prefix, suffix, "
			      "equals-ignore-case or wildcard)", q.data);
		buf_release(&q);
		free(name);
		return false;
	}
	path_push_key(c, name, nname);
	free(name);
	if (w.type == JSON_ARRAY) {
		json_iter_init(&it, w);
		while (ok && json_iter_element(&it, &e)) {
			size_t elen = c->path.len;

			path_push_index(c, i++);
			if (e.type != JSON_STRING) {
				ok = compile_error(c, "must be a string, not %s", a_type(e.type));
			} else if (ops[op].nonempty && e.n == 2) {
				ok = compile_error(c, "must not be an empty string");
			} else if (ops[op].kind == COND_WILDCARD) {
				ok = compile_wildcard_cond(c, e, anything_but_add(ab, alloc));
			} else {
				ok = compile_string_cond(e, ops[op].kind, anything_but_add(ab, alloc));
			}
			path_pop(c, elen);
		}
		if (ok && !i)
			ok = compile_error(c, "must not be an empty array");
	} else if (w.type != JSON_STRING) {
		ok = compile_error(c, "must be a string or a list of strings, not %s",
				   a_type(w.type));
	} else if (ops[op].nonempty && w.n == 2) {
		ok = compile_error(c, "must not be an empty string");
	} else if (ops[op].kind == COND_WILDCARD) {
		ok = compile_wildcard_cond(c, w, anything_but_add(ab, alloc));
	} else {
		ok = compile_string_cond(w, ops[op].kind, anything_but_add(ab, alloc));
	}
	path_pop(c, len);
	return ok;
}

/* anything-but: a string, a number, a list of strings or of numbers, or
 * an operator object. */
static bool compile_anything_but(struct compiler *c, json_value v, struct cond *out)
{
	size_t alloc = 0, i = 0, len = c->path.len;
	bool strings = false, numbers = false;
	json_iter it;
	json_value e;

	memset(out, 0, sizeof(*out));
	out->kind = COND_ANYTHING_BUT;
	switch (v.type) {
	case JSON_STRING:
		return compile_string_cond(v, COND_STRING, anything_but_add(out, &alloc));
	case JSON_NUMBER: {
		struct cond *sub = anything_but_add(out, &alloc);

		sub->kind = COND_NUMBER;
		sub->s = xstrndup(v.p, v.n);
		sub->n = v.n;
		return true;
	}
	case JSON_OBJECT:
		return compile_anything_but_op(c, v, out, &alloc);
	case JSON_ARRAY:
		break;
	default:
		return compile_error(c, "must be a string, a number, a list or an operator "
				     "object, not %s", a_type(v.type));
	}
	json_iter_init(&it, v);
	while (json_iter_element(&it, &e)) {
		path_push_index(c, i++);
		if (e.type == JSON_STRING) {
			strings = true;
			compile_string_cond(e, COND_STRING, anything_but_add(out, &alloc));
		} else if (e.type == JSON_NUMBER) {
			struct cond *sub = anything_but_add(out, &alloc);

			numbers = true;
			sub->kind = COND_NUMBER;
			sub->s = xstrndup(e.p, e.n);
			sub->n = e.n;
		} else {
			return compile_error(c, "an anything-but list holds strings or numbers, "
					     "not %s", a_type(e.type));
		}
		path_pop(c, len);
	}
	if (!i)
		return compile_error(c, "must not be an empty array");
	if (strings && numbers)
		return compile_error(c, "an anything-but list must not mix strings and numbers");
	return true;
}

enum numeric_op { NUM_EQ, NUM_LT, NUM_LE, NUM_GT, NUM_GE, NUM_BAD };

static enum numeric_op numeric_op(json_value v)
{
	static const char *names[] = { "=", "<", "<=", ">", ">=" };

	if (v.type != JSON_STRING)
		return NUM_BAD;
	for (int i = 0; i < NUM_BAD; i++)
		if (json_string_equals(v, names[i], strlen(names[i])))
			return (enum numeric_op)i;
	return NUM_BAD;
}

/* numeric: [op, n] or [">"|">=", lo, "<"|"<=", hi]. */
static bool compile_numeric(struct compiler *c, json_value v, struct cond *out)
{
	json_value e[5];
	size_t n = 0;
	json_iter it;
	enum numeric_op op, op2;
	json_value lo = { NULL, 0, JSON_NUMBER }, hi = lo;

	memset(out, 0, sizeof(*out));
	out->kind = COND_NUMERIC;
	if (v.type != JSON_ARRAY)
		return compile_error(c, "must be an array such as [\">\", 0, \"<=\", 5], "
				     "not %s", a_type(v.type));
	json_iter_init(&it, v);
	while (n < 5 && json_iter_element(&it, &e[n]))
		n++;
	if (!n)
		return compile_error(c, "must not be an empty array");
	op = numeric_op(e[0]);
	if (op == NUM_BAD && e[0].type == JSON_STRING)
		return compile_error(c, "unknown operator %.*s at [0] (use =, <, <=, > "
				     "or >=)", (int)e[0].n, e[0].p);
	if (op == NUM_BAD)
		return compile_error(c, "expected an operator (=, <, <=, > or >=) at [0], "
				     "not %s", a_type(e[0].type));
	if (n < 2 || e[1].type != JSON_NUMBER)
		return compile_error(c, "the operator at [0] must be followed by a number");
	if (n == 2) {
		switch (op) {
		case NUM_EQ: out->num.lo = out->num.hi = true;
			     out->num.lo_incl = out->num.hi_incl = true;
			     lo = hi = e[1]; break;
		case NUM_LT: out->num.hi = true; hi = e[1]; break;
		case NUM_LE: out->num.hi = out->num.hi_incl = true; hi = e[1]; break;
		case NUM_GT: out->num.lo = true; lo = e[1]; break;
		default:     out->num.lo = out->num.lo_incl = true; lo = e[1]; break;
		}
		goto store;
	}
	if (op != NUM_GT && op != NUM_GE)
		return compile_error(c, "too many elements: only a lower bound (> or >=) "
				     "may be followed by an upper bound");
	op2 = numeric_op(e[2]);
	if (op2 != NUM_LT && op2 != NUM_LE)
		return compile_error(c, "a range is a lower bound (> or >=) followed by an "
				     "upper bound (< or <=)");
	if (n < 4 || e[3].type != JSON_NUMBER)
		return compile_error(c, "the operator at [2] must be followed by a number");
	if (n > 4)
		return compile_error(c, "too many terms in numeric range expression");
	if (json_number_compare(e[1], e[3]) >= 0)
		return compile_error(c, "the lower bound must be below the upper bound");
	out->num.lo = out->num.hi = true;
	out->num.lo_incl = op == NUM_GE;
	out->num.hi_incl = op2 == NUM_LE;
	lo = e[1];
	hi = e[3];
store:
	if (out->num.lo) {
		out->num.lo_text = xstrndup(lo.p, lo.n);
		out->num.lo_n = lo.n;
	}
	if (out->num.hi) {
		out->num.hi_text = xstrndup(hi.p, hi.n);
		out->num.hi_n = hi.n;
	}
	return true;
}

/* cidr: "a.b.c.d/n" or an IPv6 block. */
static bool compile_cidr(struct compiler *c, json_value v, struct cond *out)
{
	size_t n, bits = 0, max;
	char *s, *slash;
	const char *why = NULL;

	memset(out, 0, sizeof(*out));
	out->kind = COND_CIDR;
	if (v.type != JSON_STRING)
		return compile_error(c, "must be a string such as \"10.0.0.0/24\", not %s",
				     a_type(v.type));
	s = string_dup(v, &n);
	slash = memchr(s, '/', n);
	if (!slash || memchr(slash + 1, '/', n - (size_t)(slash + 1 - s))) {
		why = "one '/' required";
		goto fail;
	}
	for (char *p = slash + 1; p < s + n; p++) {
		if (*p < '0' || *p > '9' || bits > 1000) {
			why = "the mask must be a number of bits";
			goto fail;
		}
		bits = bits * 10 + (size_t)(*p - '0');
	}
	if (slash + 1 == s + n) {
		why = "the mask must be a number of bits";
		goto fail;
	}
	switch (parse_ip(s, (size_t)(slash - s), out->cidr.addr)) {
	case 4:
		out->cidr.family = 4;
		max = 32;
		break;
	case 6:
		out->cidr.family = 6;
		max = 128;
		break;
	default:
		why = "invalid IP address";
		goto fail;
	}
	if (bits > max) {
		why = out->cidr.family == 4 ? "at most 32 mask bits for IPv4"
					    : "at most 128 mask bits for IPv6";
		goto fail;
	}
	out->cidr.bits = (unsigned)bits;
	/* clear the host bits: "10.0.0.171/31" means 10.0.0.170/31 */
	for (size_t i = 0; i < 16; i++) {
		size_t first = i * 8;

		if (first >= bits)
			out->cidr.addr[i] = 0;
		else if (first + 8 > bits)
			out->cidr.addr[i] &= (unsigned char)(0xff << (8 - (bits - first)));
	}
	free(s);
	return true;
fail:
	free(s);
	return compile_error(c, "malformed CIDR block: %s", why);
}

/* An operator object {"name": argument}; the path is at the object. */
static bool compile_operator(struct compiler *c, json_value obj, struct cond *out)
{
	size_t len = c->path.len, nname;
	json_value k, v;
	char *name;
	bool ok;

	memset(out, 0, sizeof(*out));
	switch (only_member(obj, &k, &v)) {
	case 0:
		return compile_error(c, "an operator object must not be empty");
	case 2:
		return compile_error(c, "an operator object must have exactly one key");
	}
	name = string_dup(k, &nname);
	path_push_key(c, name, nname);
	if (name_is(name, nname, "prefix") || name_is(name, nname, "suffix")) {
		ok = compile_affix(c, v, name[0] == 'p', out);
	} else if (name_is(name, nname, "equals-ignore-case")) {
		ok = v.type == JSON_STRING ? compile_string_cond(v, COND_EQUALS_IC, out)
			: compile_error(c, "must be a string, not %s", a_type(v.type));
	} else if (name_is(name, nname, "wildcard")) {
		ok = v.type == JSON_STRING ? compile_wildcard_cond(c, v, out)
			: compile_error(c, "must be a string, not %s", a_type(v.type));
	} else if (name_is(name, nname, "anything-but")) {
		ok = compile_anything_but(c, v, out);
	} else if (name_is(name, nname, "numeric")) {
		ok = compile_numeric(c, v, out);
	} else if (name_is(name, nname, "cidr")) {
		ok = compile_cidr(c, v, out);
	} else if (name_is(name, nname, "exists")) {
		if (v.type == JSON_TRUE)
			out->kind = COND_EXISTS;
		else if (v.type == JSON_FALSE)
			out->kind = COND_ABSENT;
		ok = v.type == JSON_TRUE || v.type == JSON_FALSE ||
		     compile_error(c, "must be true or false, not %s", a_type(v.type));
	} else {
		buf q = BUF_INIT;

		path_pop(c, len);
		buf_add_json_string(&q, name, nname);
		ok = compile_error(c, "unknown operator %s (operators are prefix, suffix, "
				   "equals-ignore-case, wildcard, anything-but, numeric, "
				   "exists and cidr)", q.data);
		buf_release(&q);
	}
	free(name);
	path_pop(c, len);
	return ok;
}

/* One element of a leaf array: a value to match exactly or an operator. */
static bool compile_value(struct compiler *c, json_value v, struct cond *out)
{
	memset(out, 0, sizeof(*out));
	switch (v.type) {
	case JSON_STRING:
		return compile_string_cond(v, COND_STRING, out);
	case JSON_NUMBER:
		out->kind = COND_NUMBER;
		out->s = xstrndup(v.p, v.n);
		out->n = v.n;
		return true;
	case JSON_TRUE:
		out->kind = COND_TRUE;
		return true;
	case JSON_FALSE:
		out->kind = COND_FALSE;
		return true;
	case JSON_NULL:
		out->kind = COND_NULL;
		return true;
	case JSON_OBJECT:
		return compile_operator(c, v, out);
	case JSON_ARRAY:
		break;
	}
	return compile_error(c, "a match value must be a string, a number, true, false, "
			     "null or an operator object, not an array");
}

/* Check EventBridge's complexity limit on the wildcards of a leaf. */
static bool leaf_check_wildcards(struct compiler *c, const struct leaf *l)
{
	const struct glob **globs = NULL;
	size_t n = 0, alloc = 0;
	bool ok;

	for (size_t i = 0; i < l->nconds; i++) {
		const struct cond *cd = &l->conds[i];

		if (cd->kind == COND_WILDCARD) {
			globs = xgrow(globs, n + 1, &alloc, sizeof(*globs));
			globs[n++] = &cd->glob;
		}
		for (size_t j = 0; j < cd->nsubs; j++) {
			if (cd->subs[j].kind == COND_WILDCARD) {
				globs = xgrow(globs, n + 1, &alloc, sizeof(*globs));
				globs[n++] = &cd->subs[j].glob;
			}
		}
	}
	ok = !n || wildcards_simple(globs, n);
	free(globs);
	if (!ok)
		return compile_error(c, "wildcards are too complex: use fewer '*' or fewer "
				     "repeated characters after a '*' (EventBridge's limit)");
	return true;
}

/* A leaf array: the allowed values and operators. */
static const struct leaf *compile_leaf(struct compiler *c, json_value arr)
{
	struct leaf *l = xcalloc(1, sizeof(*l));
	size_t alloc = 0, i = 0, len = c->path.len;
	json_iter it;
	json_value v;

	json_iter_init(&it, arr);
	while (json_iter_element(&it, &v)) {
		l->conds = xgrow(l->conds, l->nconds + 1, &alloc, sizeof(*l->conds));
		path_push_index(c, i++);
		/* a failed condition is released with the leaf */
		l->nconds++;
		if (!compile_value(c, v, &l->conds[l->nconds - 1])) {
			leaf_free(l);
			return NULL;
		}
		if (l->conds[l->nconds - 1].kind == COND_ABSENT)
			l->exists_false = true;
		path_pop(c, len);
	}
	if (!l->nconds) {
		leaf_free(l);
		compile_error(c, "must not be an empty array");
		return NULL;
	}
	if (!leaf_check_wildcards(c, l)) {
		leaf_free(l);
		return NULL;
	}
	c->f->leaves = xgrow(c->f->leaves, c->f->nleaves + 1, &c->f->aleaves,
			     sizeof(*c->f->leaves));
	c->f->leaves[c->f->nleaves++] = l;
	return l;
}

/* Does a later member of the object have the same (decoded) key? */
static bool key_repeats_later(json_iter it, const char *key, size_t keylen)
{
	json_value k, v;

	while (json_iter_member(&it, &k, &v))
		if (json_string_equals(k, key, keylen))
			return true;
	return false;
}

static struct node *compile_object(struct compiler *c, json_value obj,
				   unsigned depth);

static bool compile_or(struct compiler *c, struct node *n, json_value v,
		       unsigned depth)
{
	struct orgroup *g;
	size_t len = c->path.len, i = 0;
	json_iter it;
	json_value e;

	if (v.type != JSON_ARRAY)
		return compile_error(c, "$or must be an array of at least two objects");
	n->ors = xgrow(n->ors, n->nors + 1, &n->aors, sizeof(*n->ors));
	g = &n->ors[n->nors++];
	g->alts = NULL;
	g->nalts = 0;
	json_iter_init(&it, v);
	while (json_iter_element(&it, &e)) {
		struct node *alt;

		path_push_index(c, i++);
		if (e.type != JSON_OBJECT)
			return compile_error(c, "$or must be an array of objects, not %s",
					     a_type(e.type));
		alt = compile_object(c, e, depth);
		if (!alt)
			return false;
		g->alts = xrealloc(g->alts, (g->nalts + 1) * sizeof(*g->alts));
		g->alts[g->nalts++] = alt;
		path_pop(c, len);
	}
	if (g->nalts < 2)
		return compile_error(c, "$or must be an array of at least two objects");
	return true;
}

/* A member "a.b.c": V of a pattern object: add a -> b -> c: V to n. */
static bool compile_member(struct compiler *c, struct node *n, const char *key,
			   size_t keylen, json_value v, unsigned depth)
{
	const char *seg = key, *end = key + keylen;

	for (;;) {
		const char *dot = memchr(seg, '.', (size_t)(end - seg));
		struct field *f;

		if (++depth > FILTER_MAX_DEPTH)
			return compile_error(c, "pattern is nested too deeply (at most %d keys)",
					     FILTER_MAX_DEPTH);
		f = node_add_field(n, seg, (size_t)((dot ? dot : end) - seg));
		if (!dot) {
			if (v.type == JSON_OBJECT) {
				f->child = compile_object(c, v, depth);
				return f->child != NULL;
			}
			if (v.type == JSON_ARRAY) {
				f->leaf = compile_leaf(c, v);
				return f->leaf != NULL;
			}
			return compile_error(c, "must be an object or an array");
		}
		f->child = node_new();
		n = f->child;
		seg = dot + 1;
	}
}

/* A pattern object; depth counts the key segments above it. */
static struct node *compile_object(struct compiler *c, json_value obj,
				   unsigned depth)
{
	struct node *n = node_new();
	size_t len = c->path.len;
	json_iter it;
	json_value k, v;
	bool any = false;

	json_iter_init(&it, obj);
	while (json_iter_member(&it, &k, &v)) {
		size_t keylen;
		char *key = string_dup(k, &keylen);
		bool ok = true;

		any = true;
		/* a repeated key: the last one counts */
		if (!key_repeats_later(it, key, keylen)) {
			path_push_key(c, key, keylen);
			if (keylen == 3 && !memcmp(key, "$or", 3))
				ok = compile_or(c, n, v, depth);
			else
				ok = compile_member(c, n, key, keylen, v, depth);
			path_pop(c, len);
		}
		free(key);
		if (!ok) {
			node_free(n);
			return NULL;
		}
	}
	if (!any) {
		node_free(n);
		compile_error(c, "must not be an empty object");
		return NULL;
	}
	return n;
}

/* Are these many trees and fields past the limits?  (Reports it.) */
static bool too_complex(struct compiler *c, size_t combinations, size_t fields)
{
	if (combinations > FILTER_MAX_COMBINATIONS) {
		compile_error(c, "pattern has too many combinations of $or (at most %d)",
			      FILTER_MAX_COMBINATIONS);
		return true;
	}
	if (fields > FILTER_MAX_FIELDS) {
		compile_error(c, "pattern is too complex (more than %d fields once $or "
			      "is multiplied out)", FILTER_MAX_FIELDS);
		return true;
	}
	return false;
}

/* Multiply out the $or groups of n: append $or-free trees to out (at most
 * FILTER_MAX_COMBINATIONS of them, FILTER_MAX_FIELDS fields in all). */
static bool expand(struct compiler *c, const struct node *n, struct nodelist *out)
{
	struct nodelist cur = { NULL, 0, 0 };
	size_t cur_fields = 0;   /* in all of cur */
	bool ok = false;

	nodelist_add(&cur, node_new());
	for (size_t i = 0; i < n->nfields + n->nors; i++) {
		struct nodelist opts = { NULL, 0, 0 }, next = { NULL, 0, 0 };
		size_t opt_fields = 0;

		if (i < n->nfields && n->fields[i].leaf) {
			cur_fields += cur.n;
			if (too_complex(c, cur.n, cur_fields))
				goto fail;
			for (size_t j = 0; j < cur.n; j++) {
				struct field *f = node_add_field(cur.v[j], n->fields[i].key,
								 n->fields[i].keylen);

				f->leaf = n->fields[i].leaf;
			}
			continue;
		}
		if (i < n->nfields) {
			/* a child: its alternatives, each under the key */
			struct nodelist sub = { NULL, 0, 0 };

			if (!expand(c, n->fields[i].child, &sub))
				goto fail;
			for (size_t j = 0; j < sub.n; j++) {
				struct node *w = node_new();
				struct field *f = node_add_field(w, n->fields[i].key,
								 n->fields[i].keylen);

				f->child = sub.v[j];
				sub.v[j] = NULL;
				nodelist_add(&opts, w);
				opt_fields += node_size(w);
			}
			nodelist_release(&sub);
		} else {
			/* an $or group: the alternatives of all its members */
			const struct orgroup *g = &n->ors[i - n->nfields];

			for (size_t a = 0; a < g->nalts; a++) {
				size_t from = opts.n;

				if (!expand(c, g->alts[a], &opts)) {
					nodelist_release(&opts);
					goto fail;
				}
				for (size_t k = from; k < opts.n; k++)
					opt_fields += node_size(opts.v[k]);
				if (too_complex(c, opts.n, opt_fields)) {
					nodelist_release(&opts);
					goto fail;
				}
			}
		}
		/* every tree of cur with every option */
		if (too_complex(c, opts.n > FILTER_MAX_COMBINATIONS / cur.n ? SIZE_MAX
					: cur.n * opts.n,
				opts.n * cur_fields + cur.n * opt_fields)) {
			nodelist_release(&opts);
			goto fail;
		}
		cur_fields = opts.n * cur_fields + cur.n * opt_fields;
		for (size_t j = 0; j < cur.n; j++) {
			for (size_t k = 0; k < opts.n; k++) {
				struct node *w = node_clone(cur.v[j]);

				node_merge(w, opts.v[k]);
				nodelist_add(&next, w);
			}
		}
		nodelist_release(&opts);
		nodelist_release(&cur);
		cur = next;
	}
	for (size_t j = 0; j < cur.n; j++) {
		nodelist_add(out, cur.v[j]);
		cur.v[j] = NULL;
	}
	ok = true;
fail:
	nodelist_release(&cur);
	return ok;
}

es_result filter_compile(const char *p, size_t n, const char *base_path,
			 filter **out, buf *err)
{
	struct compiler c;
	struct nodelist alts = { NULL, 0, 0 };
	struct node *root = NULL;
	json_value v;
	json_error jerr;

	*out = NULL;
	c.f = xcalloc(1, sizeof(*c.f));
	buf_init(&c.path, 0);
	buf_addstr(&c.path, base_path ? base_path : "$");
	c.err = err;
	c.failed = false;

	if (n > FILTER_MAX_TEXT) {
		compile_error(&c, "pattern is too long (%zu bytes, at most %d)",
			      n, FILTER_MAX_TEXT);
		goto fail;
	}
	if (!json_parse(p, n, FILTER_MAX_JSON_DEPTH, &v, &jerr)) {
		compile_error(&c, "invalid JSON at offset %zu: %s", jerr.offset, jerr.reason);
		goto fail;
	}
	if (v.type != JSON_OBJECT) {
		compile_error(&c, "pattern must be an object, not %s", a_type(v.type));
		goto fail;
	}
	root = compile_object(&c, v, 0);
	if (!root || !expand(&c, root, &alts))
		goto fail;
	c.f->alts = alts.v;
	c.f->nalts = alts.n;
	for (size_t i = 0; i < alts.n; i++)
		node_compute_monotone(alts.v[i]);
	node_free(root);
	buf_release(&c.path);
	*out = c.f;
	return ES_OK;
fail:
	nodelist_release(&alts);
	node_free(root);
	buf_release(&c.path);
	filter_free(c.f);
	return ES_ERR_CONFIG;
}

void filter_free(filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nalts; i++)
		node_free(f->alts[i]);
	free(f->alts);
	for (size_t i = 0; i < f->nleaves; i++)
		leaf_free(f->leaves[i]);
	free(f->leaves);
	free(f);
}

/* --- matching ---------------------------------------------------------- */

/* An event string's decoded bytes, decoded only when needed. */
struct strval {
	json_value v;
	const char *p;
	size_t n;
	char *heap;
	char small[256];
	bool ready;
};

static void strval_init(struct strval *s, json_value v)
{
	s->v = v;
	s->heap = NULL;
	s->ready = false;
}

static void strval_get(struct strval *s, const char **p, size_t *n)
{
	if (!s->ready) {
		if (!json_string_has_escape(s->v)) {
			s->p = s->v.p + 1;
			s->n = s->v.n - 2;
		} else {
			char *dst = s->v.n <= sizeof(s->small) ? s->small
							       : (s->heap = xmalloc(s->v.n));

			s->n = json_string_decode(s->v, dst);
			s->p = dst;
		}
		s->ready = true;
	}
	*p = s->p;
	*n = s->n;
}

static void strval_release(struct strval *s)
{
	free(s->heap);
	s->heap = NULL;
}

/* Is the number v within the bounds of a numeric condition? */
static bool numeric_match(const struct cond *c, json_value v)
{
	if (c->num.lo) {
		json_value lo = { c->num.lo_text, c->num.lo_n, JSON_NUMBER };
		int r = json_number_compare(v, lo);

		if (r < 0 || (r == 0 && !c->num.lo_incl))
			return false;
	}
	if (c->num.hi) {
		json_value hi = { c->num.hi_text, c->num.hi_n, JSON_NUMBER };
		int r = json_number_compare(v, hi);

		if (r > 0 || (r == 0 && !c->num.hi_incl))
			return false;
	}
	return true;
}

/* Is the string an IP address inside the block? */
static bool cidr_match(const struct cond *c, const char *s, size_t n)
{
	unsigned char addr[16];
	int family;
	unsigned bits = c->cidr.bits;

	if (n > 64)   /* longer than any address */
		return false;
	family = parse_ip(s, n, addr);
	if (family != c->cidr.family)
		return false;
	if (bits / 8 && memcmp(addr, c->cidr.addr, bits / 8))
		return false;
	if (bits % 8) {
		unsigned char mask = (unsigned char)(0xff << (8 - bits % 8));

		return (addr[bits / 8] & mask) == c->cidr.addr[bits / 8];
	}
	return true;
}

/* Does a scalar event value satisfy the condition? */
static bool cond_match(const struct cond *c, json_value v, struct strval *sv)
{
	const char *s;
	size_t n;

	switch (c->kind) {
	case COND_NUMBER: {
		json_value pv = { c->s, c->n, JSON_NUMBER };

		return v.type == JSON_NUMBER && json_number_compare(v, pv) == 0;
	}
	case COND_NUMERIC:
		return v.type == JSON_NUMBER && numeric_match(c, v);
	case COND_TRUE:
		return v.type == JSON_TRUE;
	case COND_FALSE:
		return v.type == JSON_FALSE;
	case COND_NULL:
		return v.type == JSON_NULL;
	case COND_EXISTS:
		return true;
	case COND_ABSENT:
		return false;
	case COND_ANYTHING_BUT:
		/* the subconditions are plain (never anything-but): one level */
		for (size_t i = 0; i < c->nsubs; i++)
			if (cond_match(&c->subs[i], v, sv))
				return false;
		return true;
	default:
		break;
	}
	/* the string conditions */
	if (v.type != JSON_STRING)
		return false;
	strval_get(sv, &s, &n);
	switch (c->kind) {
	case COND_STRING:
		return n == c->n && !memcmp(s, c->s, n);
	case COND_PREFIX:
		return n >= c->n && !memcmp(s, c->s, c->n);
	case COND_SUFFIX:
		return n >= c->n && !memcmp(s + n - c->n, c->s, c->n);
	case COND_EQUALS_IC:
		return fold_match(s, n, c->cps, c->ncps, FOLD_EQUALS);
	case COND_PREFIX_IC:
		return fold_match(s, n, c->cps, c->ncps, FOLD_PREFIX);
	case COND_SUFFIX_IC:
		return fold_match(s, n, c->cps, c->ncps, FOLD_SUFFIX);
	case COND_WILDCARD:
		return glob_match(&c->glob, s, n);
	case COND_CIDR:
		return cidr_match(c, s, n);
	default:
		return false;
	}
}

/* Does a scalar satisfy any condition of the leaf? */
static bool leaf_match_scalar(const struct leaf *l, json_value v)
{
	struct strval sv;
	bool r = false;

	strval_init(&sv, v);
	for (size_t i = 0; i < l->nconds && !r; i++)
		r = cond_match(&l->conds[i], v, &sv);
	strval_release(&sv);
	return r;
}

/* What one pass over the event found for a field. */
struct fstate {
	bool settled;        /* holds whatever else is found */
	bool has_value;      /* a leaf: some scalar value is present */
	uint64_t seen;       /* views in which the key occurred */
	uint64_t dotted;     /* a child: views with members "key.x" */
};

/* Feed a value (scalar, or array to flatten) to a leaf's state. */
static void leaf_feed(const struct leaf *l, json_value v, struct fstate *st,
		      unsigned depth)
{
	if (v.type == JSON_OBJECT)
		return;
	if (v.type == JSON_ARRAY) {
		json_iter it;
		json_value e;

		if (depth >= FILTER_MAX_EVENT_DEPTH)
			return;
		json_iter_init(&it, v);
		while (!st->settled && json_iter_element(&it, &e))
			leaf_feed(l, e, st, depth + 1);
		return;
	}
	st->has_value = true;
	if (leaf_match_scalar(l, v))
		st->settled = true;
}

/* An event object whose keys are seen relative to path[from..depth). */
struct view {
	json_value obj;
	unsigned from;
	const json_member *members;   /* obj's members when recorded, else NULL */
	size_t nmembers;
};

/* The members of a view: from its record, else from the text. */
struct member_iter {
	json_iter it;
	const json_member *m;
	size_t i, n;
};

static void member_iter_init(struct member_iter *mi, const struct view *v)
{
	mi->m = v->members;
	mi->i = 0;
	mi->n = v->nmembers;
	if (!mi->m)
		json_iter_init(&mi->it, v->obj);
}

static bool member_iter_next(struct member_iter *mi, json_value *k, json_value *v)
{
	if (!mi->m)
		return json_iter_member(&mi->it, k, v);
	if (mi->i >= mi->n)
		return false;
	*k = mi->m[mi->i].key;
	*v = mi->m[mi->i].value;
	mi->i++;
	return true;
}

struct matcher {
	const struct field *path[FILTER_MAX_DEPTH + 1];
	unsigned edepth;     /* event nesting of the object being matched */
};

/* A key's decoded bytes (into scratch when escaped; free *heap after). */
static void key_bytes(json_value k, char *scratch, size_t scratch_size,
		      const char **p, size_t *n, char **heap)
{
	*heap = NULL;
	if (!json_string_has_escape(k)) {
		*p = k.p + 1;
		*n = k.n - 2;
		return;
	}
	if (k.n > scratch_size)
		scratch = *heap = xmalloc(k.n);
	*n = json_string_decode(k, scratch);
	*p = scratch;
}

/* Strip "seg1.seg2...segN." (path[from..depth)) from the key; false if the
 * key does not start with it. */
static bool strip_path(const struct matcher *m, unsigned from, unsigned depth,
		       const char **k, size_t *kn)
{
	const char *p = *k;
	size_t n = *kn;

	for (unsigned i = from; i < depth; i++) {
		const struct field *f = m->path[i];

		if (n < f->keylen + 1 || memcmp(p, f->key, f->keylen) || p[f->keylen] != '.')
			return false;
		p += f->keylen + 1;
		n -= f->keylen + 1;
	}
	*k = p;
	*kn = n;
	return true;
}

static bool match_node(struct matcher *m, const struct node *nd, unsigned depth,
		       const struct view *views, size_t nviews);

/* Match a child node against each object in v (arrays flattened), alone
 * or together with extra views.  *objects counts the objects seen. */
static bool child_try(struct matcher *m, const struct node *child, unsigned depth,
		      json_value v, const struct view *extra, size_t nextra,
		      size_t *objects, unsigned edepth)
{
	if (v.type == JSON_OBJECT) {
		struct view views[FILTER_MAX_DEPTH + 2];
		unsigned saved = m->edepth;
		bool r;

		(*objects)++;
		views[0].obj = v;
		views[0].from = depth + 1;
		views[0].members = NULL;
		views[0].nmembers = 0;
		if (nextra)
			memcpy(views + 1, extra, nextra * sizeof(*extra));
		m->edepth = edepth;
		r = match_node(m, child, depth + 1, views, nextra + 1);
		m->edepth = saved;
		return r;
	}
	if (v.type == JSON_ARRAY && edepth < FILTER_MAX_EVENT_DEPTH) {
		json_iter it;
		json_value e;

		json_iter_init(&it, v);
		while (json_iter_element(&it, &e))
			if (child_try(m, child, depth, e, extra, nextra, objects, edepth + 1))
				return true;
	}
	return false;
}

/* Second look at a child field that one pass could not settle: it needs
 * the members of dotted keys ("key.x") or it is not monotone.  The first
 * occurrence of the key in each view counts.  A single object is matched
 * together with the dotted members; otherwise each occurrence (and each
 * array element) is matched on its own and the dotted members on theirs,
 * which keeps the work linear however many elements there are. */
static bool child_settle(struct matcher *m, const struct field *f, unsigned depth,
			 const struct view *views, size_t nviews, uint64_t dotted)
{
	struct view extra[FILTER_MAX_DEPTH + 1];
	json_value occ[FILTER_MAX_DEPTH + 1];
	size_t nextra = 0, nocc = 0, objects = 0;
	bool together;

	for (size_t i = 0; i < nviews; i++)
		if (dotted & ((uint64_t)1 << i))
			extra[nextra++] = views[i];
	m->path[depth] = f;
	for (size_t i = 0; i < nviews; i++) {
		struct member_iter it;
		json_value k, v;

		member_iter_init(&it, &views[i]);
		while (member_iter_next(&it, &k, &v)) {
			char scratch[256], *heap;
			const char *kp;
			size_t kn;
			bool hit;

			key_bytes(k, scratch, sizeof(scratch), &kp, &kn, &heap);
			hit = strip_path(m, views[i].from, depth, &kp, &kn) &&
			      kn == f->keylen && !memcmp(kp, f->key, kn);
			free(heap);
			if (hit) {
				occ[nocc++] = v;
				break;
			}
		}
	}
	together = nocc == 1 && occ[0].type == JSON_OBJECT;
	for (size_t i = 0; i < nocc; i++)
		if (child_try(m, f->child, depth, occ[i], together ? extra : NULL,
			      together ? nextra : 0, &objects, m->edepth + 1))
			return true;
	if (together)
		return false;
	if (nextra || !objects)
		return match_node(m, f->child, depth + 1, extra, nextra);
	return false;
}

/* Does the node (at path depth `depth`) match the union of the views?
 * One pass over the members settles what it can and stops when every
 * field holds.  With a single view (no dotted keys above), a leaf is
 * decided by the first occurrence of its key, so a failing leaf ends the
 * pass at once. */
static bool match_node(struct matcher *m, const struct node *nd, unsigned depth,
		       const struct view *views, size_t nviews)
{
	struct fstate small[16], *st = small;
	size_t nsettled = 0;
	bool r = false;

	if (nd->nfields > sizeof(small) / sizeof(small[0]))
		st = xcalloc(nd->nfields, sizeof(*st));
	else
		memset(small, 0, sizeof(small));

	for (size_t i = 0; i < nviews && nsettled < nd->nfields; i++) {
		uint64_t bit = (uint64_t)1 << i;
		struct member_iter it;
		json_value k, v;

		member_iter_init(&it, &views[i]);
		while (nsettled < nd->nfields && member_iter_next(&it, &k, &v)) {
			char scratch[256], *heap;
			const char *kp;
			size_t kn;

			key_bytes(k, scratch, sizeof(scratch), &kp, &kn, &heap);
			if (!strip_path(m, views[i].from, depth, &kp, &kn)) {
				free(heap);
				continue;
			}
			for (size_t j = 0; j < nd->nfields; j++) {
				const struct field *f = &nd->fields[j];
				size_t objects = 0;

				if (st[j].settled || kn < f->keylen || memcmp(kp, f->key, f->keylen))
					continue;
				if (kn > f->keylen) {
					if (f->child && kp[f->keylen] == '.')
						st[j].dotted |= bit;
					continue;
				}
				if (st[j].seen & bit)
					continue;   /* a repeated key: the first counts */
				st[j].seen |= bit;
				if (f->leaf) {
					leaf_feed(f->leaf, v, &st[j], m->edepth + 1);
					if (!st[j].settled && nviews == 1) {
						/* nothing else can add to this leaf */
						if (!(f->leaf->exists_false && !st[j].has_value)) {
							free(heap);
							goto done;
						}
						st[j].settled = true;
					}
				} else if (f->child->monotone) {
					m->path[depth] = f;
					st[j].settled = child_try(m, f->child, depth, v, NULL, 0,
								  &objects, m->edepth + 1);
				}
				if (st[j].settled)
					nsettled++;
			}
			free(heap);
		}
	}
	if (nsettled == nd->nfields) {
		r = true;
		goto done;
	}
	/* leaves first: they are decided now */
	for (size_t j = 0; j < nd->nfields; j++) {
		const struct field *f = &nd->fields[j];

		if (f->leaf && !st[j].settled && !(f->leaf->exists_false && !st[j].has_value))
			goto done;
	}
	for (size_t j = 0; j < nd->nfields; j++) {
		const struct field *f = &nd->fields[j];

		if (!f->child || st[j].settled)
			continue;
		if (f->child->monotone && !st[j].dotted)
			goto done;   /* every occurrence was tried */
		if (!child_settle(m, f, depth, views, nviews, st[j].dotted))
			goto done;
	}
	r = true;
done:
	if (st != small)
		free(st);
	return r;
}

bool filter_match(const filter *f, json_value event)
{
	return filter_match_members(f, event, NULL, 0);
}

bool filter_match_members(const filter *f, json_value event, const json_member *members,
			  size_t n)
{
	struct matcher m;
	struct view root;

	if (!f || event.type != JSON_OBJECT)
		return false;
	root.obj = event;
	root.from = 0;
	root.members = members;
	root.nmembers = members ? n : 0;
	for (size_t i = 0; i < f->nalts; i++) {
		m.edepth = 0;
		if (match_node(&m, f->alts[i], 0, &root, 1))
			return true;
	}
	return false;
}
