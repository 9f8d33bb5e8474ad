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
