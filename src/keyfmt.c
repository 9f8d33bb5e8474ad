/* keyfmt.c - compile and render output key templates. */
#include "keyfmt.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

enum piece_kind {
	P_TEXT, P_SUBSCRIBER, P_SOURCE, P_YYYY, P_MM, P_DD, P_HH, P_RUN_ID, P_SEQ
};

static const struct {
	const char *name;
	enum piece_kind kind;
} placeholders[] = {
	{ "subscriber", P_SUBSCRIBER }, { "source", P_SOURCE },
	{ "yyyy", P_YYYY }, { "mm", P_MM }, { "dd", P_DD }, { "hh", P_HH },
	{ "run_id", P_RUN_ID }, { "seq", P_SEQ },
};

struct piece {
	enum piece_kind kind;
	char *text;
};

struct keyfmt {
	struct piece *pieces;
	size_t n, alloc;
	bool uses_source;
};

static void add_piece(keyfmt *k, enum piece_kind kind, const char *t, size_t n)
{
	k->pieces = xgrow(k->pieces, k->n + 1, &k->alloc, sizeof(*k->pieces));
	k->pieces[k->n].kind = kind;
	k->pieces[k->n].text = t ? xstrndup(t, n) : NULL;
	k->n++;
}

void keyfmt_free(keyfmt *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		free(k->pieces[i].text);
	free(k->pieces);
	free(k);
}

bool keyfmt_uses_source(const keyfmt *k)
{
	return k->uses_source;
}

es_result keyfmt_compile(const char *text, keyfmt **out, buf *err)
{
	keyfmt *k = xcalloc(1, sizeof(*k));
	const char *p = text;
	bool has_run = false, has_seq = false;
	keyfmt_vars probe = { "ORG", "SRC", 0, "20000101T000000Z-00000000", 1 };
	buf sample = BUF_INIT;

	*out = NULL;
	while (*p) {
		const char *open = strchr(p, '{');
		const char *close_brace = strchr(p, '}');
		const char *close;
		size_t i;

		if (close_brace && (!open || close_brace < open)) {
			buf_printf(err, "'}' without '{' at position %zu", (size_t)(close_brace - text) + 1);
			goto fail;
		}
		if (!open) {
			add_piece(k, P_TEXT, p, strlen(p));
			break;
		}
		if (open > p)
			add_piece(k, P_TEXT, p, (size_t)(open - p));
		close = strchr(open, '}');
		if (!close) {
			buf_printf(err, "'{' without '}' at position %zu", (size_t)(open - text) + 1);
			goto fail;
		}
		for (i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++)
			if (strlen(placeholders[i].name) == (size_t)(close - open - 1) &&
			    !strncmp(open + 1, placeholders[i].name, (size_t)(close - open - 1)))
				break;
		if (i == sizeof(placeholders) / sizeof(placeholders[0])) {
			buf_printf(err, "unknown placeholder '%.*s' (known: {subscriber} {source} "
				   "{yyyy} {mm} {dd} {hh} {run_id} {seq})",
				   (int)(close - open + 1), open);
			goto fail;
		}
		add_piece(k, placeholders[i].kind, NULL, 0);
		has_run |= placeholders[i].kind == P_RUN_ID;
		has_seq |= placeholders[i].kind == P_SEQ;
		k->uses_source |= placeholders[i].kind == P_SOURCE;
		p = close + 1;
	}
	if (!has_run || !has_seq) {
		buf_printf(err, "must contain {run_id} and {seq}, so that no two objects "
			   "share a key");
		goto fail;
	}
	if (!keyfmt_render(k, &probe, &sample)) {
		buf_printf(err, "would make keys that leave the destination prefix or are "
			   "not safe (no leading '/', no empty, '.' or '..' segment, no "
			   "control character or backslash)");
		goto fail;
	}
	buf_release(&sample);
	*out = k;
	return ES_OK;
fail:
	buf_release(&sample);
	keyfmt_free(k);
	return ES_ERR_CONFIG;
}

bool keyfmt_render(const keyfmt *k, const keyfmt_vars *v, buf *out)
{
	int y, mo, d, h, mi, s;
	size_t start = out->len;

	time_utc_fields(v->run_start_ms, &y, &mo, &d, &h, &mi, &s);
	for (size_t i = 0; i < k->n; i++) {
		const struct piece *pc = &k->pieces[i];

		switch (pc->kind) {
		case P_TEXT:       buf_addstr(out, pc->text); break;
		case P_SUBSCRIBER: buf_addstr(out, v->subscriber); break;
		case P_SOURCE:     buf_addstr(out, v->source ? v->source : ""); break;
		case P_YYYY:       buf_printf(out, "%04d", y); break;
		case P_MM:         buf_printf(out, "%02d", mo); break;
		case P_DD:         buf_printf(out, "%02d", d); break;
		case P_HH:         buf_printf(out, "%02d", h); break;
		case P_RUN_ID:     buf_addstr(out, v->run_id); break;
		case P_SEQ:        buf_printf(out, "%06u", v->seq); break;
		}
	}
	return store_key_is_safe(out->data + start);
}

/* --- key spaces --------------------------------------------------------
 *
 * Each key space becomes a small automaton whose edges carry byte ranges
 * (a literal byte, '0'-'9', 'a'-'f') or nothing (epsilon).  State 0
 * starts; the last state accepts.  {source} is a trie of the org_ids, so
 * two automata are nearly deterministic and their product stays small.
 */

struct ks_edge {
	unsigned char lo, hi;     /* lo > hi: epsilon */
	uint32_t to;
};

struct ks_state {
	struct ks_edge *e;
	size_t n, alloc;
};

struct ks_nfa {
	struct ks_state *s;
	size_t n, alloc;
};

static uint32_t ks_new(struct ks_nfa *a)
{
	a->s = xgrow(a->s, a->n + 1, &a->alloc, sizeof(*a->s));
	memset(&a->s[a->n], 0, sizeof(a->s[a->n]));
	return (uint32_t)a->n++;
}

static void ks_edge(struct ks_nfa *a, uint32_t from, unsigned char lo, unsigned char hi,
		    uint32_t to)
{
	struct ks_state *st = &a->s[from];

	st->e = xgrow(st->e, st->n + 1, &st->alloc, sizeof(*st->e));
	st->e[st->n].lo = lo;
	st->e[st->n].hi = hi;
	st->e[st->n].to = to;
	st->n++;
}

#define KS_EPS 1, 0

/* Literal text from `at`; returns the state after it. */
static uint32_t ks_text(struct ks_nfa *a, uint32_t at, const char *t)
{
	for (; *t; t++) {
		uint32_t next = ks_new(a);

		ks_edge(a, at, (unsigned char)*t, (unsigned char)*t, next);
		at = next;
	}
	return at;
}

/* n bytes, each in one of the ranges ("09af": '0'-'9' or 'a'-'f'). */
static uint32_t ks_class(struct ks_nfa *a, uint32_t at, unsigned n, const char *ranges)
{
	while (n--) {
		uint32_t next = ks_new(a);

		for (const char *r = ranges; r[0] && r[1]; r += 2)
			ks_edge(a, at, (unsigned char)r[0], (unsigned char)r[1], next);
		at = next;
	}
	return at;
}

/* One of the strings: a trie from `at`, every end joined to one state. */
static uint32_t ks_choice(struct ks_nfa *a, uint32_t at, const char *const *v, size_t n)
{
	uint32_t end = ks_new(a);

	for (size_t i = 0; i < n; i++) {
		uint32_t cur = at;

		for (const char *t = v[i]; *t; t++) {
			uint32_t next = UINT32_MAX;
			struct ks_state *st = &a->s[cur];

			for (size_t k = 0; k < st->n; k++)
				if (st->e[k].lo == (unsigned char)*t && st->e[k].hi == (unsigned char)*t)
					next = st->e[k].to;
			if (next == UINT32_MAX) {
				next = ks_new(a);
				ks_edge(a, cur, (unsigned char)*t, (unsigned char)*t, next);
			}
			cur = next;
		}
		ks_edge(a, cur, KS_EPS, end);
	}
	return end;
}

static void ks_build(struct ks_nfa *a, const keyfmt_space *sp)
{
	uint32_t at = ks_new(a);

	at = ks_text(a, at, sp->prefix);
	for (size_t i = 0; i < sp->fmt->n; i++) {
		const struct piece *pc = &sp->fmt->pieces[i];

		switch (pc->kind) {
		case P_TEXT:       at = ks_text(a, at, pc->text); break;
		case P_SUBSCRIBER: at = ks_text(a, at, sp->subscriber); break;
		case P_SOURCE:     at = ks_choice(a, at, sp->sources, sp->nsources); break;
		case P_YYYY:       at = ks_class(a, at, 4, "09"); break;
		case P_MM:
		case P_DD:
		case P_HH:         at = ks_class(a, at, 2, "09"); break;
		case P_RUN_ID:
			/* 20261127T004612Z-1a2b3c4d */
			at = ks_class(a, at, 8, "09");
			at = ks_text(a, at, "T");
			at = ks_class(a, at, 6, "09");
			at = ks_text(a, at, "Z-");
			at = ks_class(a, at, 8, "09af");
			break;
		case P_SEQ: {
			/* six digits, then any more */
			uint32_t loop;

			at = ks_class(a, at, 6, "09");
			loop = ks_new(a);
			ks_edge(a, at, KS_EPS, loop);
			ks_edge(a, loop, '0', '9', loop);
			at = loop;
			break;
		}
		}
	}
	/* the accepting state is the last one */
	if (at != a->n - 1) {
		uint32_t end = ks_new(a);

		ks_edge(a, at, KS_EPS, end);
	}
}

static void ks_free(struct ks_nfa *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->s[i].e);
	free(a->s);
}

/* A visited pair of states, how it was reached, for the example key. */
struct ks_pair {
	uint32_t i, j;
	size_t parent;            /* SIZE_MAX: the start */
	int ch;                   /* the byte taken, -1: epsilon */
};

struct ks_search {
	struct ks_pair *v;
	size_t n, alloc;
	uint64_t *slots;          /* open addressing: pair key + 1, 0 empty */
	size_t *slot_index;
	size_t nslots;
};

static uint64_t ks_key(uint32_t i, uint32_t j)
{
	return ((uint64_t)i << 32 | j) + 1;
}

static size_t ks_hash(uint64_t k, size_t nslots)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k & (nslots - 1);
}

static void ks_rehash(struct ks_search *s)
{
	size_t old = s->nslots;
	uint64_t *os = s->slots;
	size_t *oi = s->slot_index;

	s->nslots = old ? old * 2 : 64;
	s->slots = xcalloc(s->nslots, sizeof(*s->slots));
	s->slot_index = xcalloc(s->nslots, sizeof(*s->slot_index));
	for (size_t k = 0; k < old; k++) {
		size_t h;

		if (!os[k])
			continue;
		for (h = ks_hash(os[k], s->nslots); s->slots[h]; h = (h + 1) & (s->nslots - 1))
			;
		s->slots[h] = os[k];
		s->slot_index[h] = oi[k];
	}
	free(os);
	free(oi);
}

/* Visit (i, j) reached from parent by ch, unless it was visited. */
static void ks_visit(struct ks_search *s, uint32_t i, uint32_t j, size_t parent, int ch)
{
	uint64_t key = ks_key(i, j);
	size_t h;

	if ((s->n + 1) * 2 > s->nslots)
		ks_rehash(s);
	for (h = ks_hash(key, s->nslots); s->slots[h]; h = (h + 1) & (s->nslots - 1))
		if (s->slots[h] == key)
			return;
	s->slots[h] = key;
	s->slot_index[h] = s->n;
	s->v = xgrow(s->v, s->n + 1, &s->alloc, sizeof(*s->v));
	s->v[s->n].i = i;
	s->v[s->n].j = j;
	s->v[s->n].parent = parent;
	s->v[s->n].ch = ch;
	s->n++;
}

/* The bytes taken from the start to pair k. */
static void ks_example(const struct ks_search *s, size_t k, buf *out)
{
	size_t start = out->len;

	for (; k != SIZE_MAX; k = s->v[k].parent)
		if (s->v[k].ch >= 0)
			buf_addch(out, (char)s->v[k].ch);
	for (size_t lo = start, hi = out->len; hi > lo + 1; lo++, hi--) {
		char t = out->data[lo];

		out->data[lo] = out->data[hi - 1];
		out->data[hi - 1] = t;
	}
}

bool keyfmt_spaces_meet(const keyfmt_space *a, const keyfmt_space *b, buf *example)
{
	struct ks_nfa na = { 0 }, nb = { 0 };
	struct ks_search s = { 0 };
	bool meet = false;

	ks_build(&na, a);
	ks_build(&nb, b);
	ks_visit(&s, 0, 0, SIZE_MAX, -1);
	for (size_t k = 0; k < s.n; k++) {
		uint32_t i = s.v[k].i, j = s.v[k].j;
		const struct ks_state *si = &na.s[i], *sj = &nb.s[j];

		if (i == na.n - 1 && j == nb.n - 1) {
			meet = true;
			if (example)
				ks_example(&s, k, example);
			break;
		}
		if (s.n > KEYFMT_MEET_MAX_STEPS) {
			/* too large to tell: say they may meet */
			meet = true;
			if (example)
				ks_example(&s, k, example);
			break;
		}
		for (size_t x = 0; x < si->n; x++)
			if (si->e[x].lo > si->e[x].hi)
				ks_visit(&s, si->e[x].to, j, k, -1);
		for (size_t y = 0; y < sj->n; y++)
			if (sj->e[y].lo > sj->e[y].hi)
				ks_visit(&s, i, sj->e[y].to, k, -1);
		for (size_t x = 0; x < si->n; x++) {
			const struct ks_edge *ex = &si->e[x];

			if (ex->lo > ex->hi)
				continue;
			for (size_t y = 0; y < sj->n; y++) {
				const struct ks_edge *ey = &sj->e[y];
				unsigned char lo = ex->lo > ey->lo ? ex->lo : ey->lo;
				unsigned char hi = ex->hi < ey->hi ? ex->hi : ey->hi;

				if (ey->lo > ey->hi || lo > hi)
					continue;
				ks_visit(&s, ex->to, ey->to, k, lo);
			}
		}
	}
	free(s.v);
	free(s.slots);
	free(s.slot_index);
	ks_free(&na);
	ks_free(&nb);
	return meet;
}

size_t keyfmt_space_literals(const keyfmt_space *sp, char ***out)
{
	buf *b = xcalloc(KEYFMT_MAX_LITERALS, sizeof(buf));
	size_t n = 1;

	buf_addstr(&b[0], sp->prefix);
	for (size_t i = 0; i < sp->fmt->n; i++) {
		const struct piece *pc = &sp->fmt->pieces[i];

		if (pc->kind == P_TEXT || pc->kind == P_SUBSCRIBER) {
			for (size_t k = 0; k < n; k++)
				buf_addstr(&b[k], pc->kind == P_TEXT ? pc->text : sp->subscriber);
			continue;
		}
		if (pc->kind != P_SOURCE || !sp->nsources || n * sp->nsources > KEYFMT_MAX_LITERALS)
			break;
		/* each text so far, once per source */
		for (size_t k = n; k-- > 0;)
			for (size_t j = 0; j < sp->nsources; j++) {
				buf *d = &b[k * sp->nsources + j];

				if (d != &b[k]) {
					buf_reset(d);
					buf_add(d, b[k].data ? b[k].data : "", b[k].len);
				}
			}
		for (size_t k = 0; k < n; k++)
			for (size_t j = 0; j < sp->nsources; j++)
				buf_addstr(&b[k * sp->nsources + j], sp->sources[j]);
		n *= sp->nsources;
	}
	*out = xcalloc(n, sizeof(char *));
	for (size_t k = 0; k < n; k++)
		(*out)[k] = buf_detach(&b[k], NULL);
	for (size_t k = n; k < KEYFMT_MAX_LITERALS; k++)
		buf_release(&b[k]);
	free(b);
	return n;
}

bool keyfmt_literals_meet(char *const *a, size_t na, char *const *b, size_t nb)
{
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++) {
			size_t la = strlen(a[i]), lb = strlen(b[j]);

			if (!strncmp(a[i], b[j], la < lb ? la : lb))
				return true;
		}
	return false;
}
