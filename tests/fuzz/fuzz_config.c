/*
 * fuzz_config.c - libFuzzer target for the configuration loader
 * (config.h), and through it the location parser, the filter compiler and
 * the key templates.
 *
 * The input is a config file's text, parsed with base_dir "/tmp/fuzzbase"
 * (nothing is read or written there).  A refusal comes with errors, one
 * per line, each starting with its JSON path ("$...").  An accepted config
 * must hold together: valid, distinct org_ids, links into
 * direct_subscribers, compiled key formats that render a safe key for
 * every linked source, compression levels 1..9, an absolute state_dir; it
 * keeps its text byte for byte; and it survives the plan journal: written
 * with plan_to_json() and read back with plan_from_json() it gives the
 * same configuration (an interrupted run resumes with the configuration
 * it started with).  config_free() releases everything (LeakSanitizer).
 * Seeds are in tests/fuzz/corpus/config/: the examples of examples/ and
 * man/evshare.json.5, and broken variants.
 *
 * Built and run by tests/fuzz/run-fuzz.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "keyfmt.h"
#include "plan.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE_DIR "/tmp/fuzzbase"

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_error_text(const buf *err)
{
	const char *p = err->data, *end = err->data + err->len;

	if (!err->len || end[-1] != '\n')
		abort();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		/* "$...: reason", or the "(N more errors)" line at the end */
		if (nl == p || (*p != '$' && *p != '('))
			abort();
		p = nl + 1;
	}
}

static void check_location(const location *loc)
{
	if (!loc->url || !*loc->url || !loc->prefix)
		abort();
	if (loc->scheme == LOC_FILE && (!loc->root || loc->root[0] != '/'))
		abort();
}

static void check_config(const config *cfg, const char *text, size_t n)
{
	if (cfg->text_len != n || memcmp(cfg->text, text, n) != 0 || cfg->text[n] != '\0')
		abort();
	if (!cfg->state_dir || cfg->state_dir[0] != '/' || strcmp(cfg->dir, BASE_DIR))
		abort();
	if (cfg->max_json_depth < 2 || cfg->max_json_depth > 1024 || cfg->max_line_bytes < 64 ||
	    cfg->max_attempts < 1)
		abort();
	for (size_t i = 0; i < cfg->ndirect; i++) {
		const direct_subscriber *d = &cfg->direct[i];

		if (!org_id_is_valid(d->org_id) || config_direct_index(cfg, d->org_id) != (ssize_t)i ||
		    config_additional_index(cfg, d->org_id) >= 0)
			abort();
		check_location(&d->source);
	}
	for (size_t i = 0; i < cfg->nadditional; i++) {
		const additional_subscriber *a = &cfg->additional[i];

		if (!org_id_is_valid(a->org_id) ||
		    config_additional_index(cfg, a->org_id) != (ssize_t)i || a->nlinks == 0 ||
		    !a->key_format || !a->key_format_text || a->compression_level < 1 ||
		    a->compression_level > 9 || a->max_object_bytes < 1024)
			abort();
		check_location(&a->destination);
		for (size_t l = 0; l < a->nlinks; l++) {
			keyfmt_vars v = { a->org_id, cfg->direct[a->links[l]].org_id,
					  1795307172000, "20261127T004612Z-1a2b3c4d", 1 };
			buf key = BUF_INIT;

			if (a->links[l] >= cfg->ndirect)
				abort();
			for (size_t m = 0; m < l; m++)
				if (a->links[m] == a->links[l])
					abort();
			if (!keyfmt_render(a->key_format, &v, &key) || !store_key_is_safe(key.data))
				abort();
			buf_release(&key);
		}
	}
}

/* Two configs say the same. */
static void check_same(const config *a, const config *b)
{
	if (a->ndirect != b->ndirect || a->nadditional != b->nadditional ||
	    a->text_len != b->text_len || memcmp(a->text, b->text, a->text_len) ||
	    !same_str(a->state_dir, b->state_dir) || a->max_line_bytes != b->max_line_bytes ||
	    a->max_json_depth != b->max_json_depth || a->lookback_ms != b->lookback_ms ||
	    a->max_attempts != b->max_attempts ||
	    a->quarantine_retention_ms != b->quarantine_retention_ms)
		abort();
	for (size_t i = 0; i < a->ndirect; i++)
		if (strcmp(a->direct[i].org_id, b->direct[i].org_id) ||
		    strcmp(a->direct[i].source.url, b->direct[i].source.url))
			abort();
	for (size_t i = 0; i < a->nadditional; i++) {
		const additional_subscriber *x = &a->additional[i], *y = &b->additional[i];

		if (strcmp(x->org_id, y->org_id) || x->nlinks != y->nlinks ||
		    memcmp(x->links, y->links, x->nlinks * sizeof(*x->links)) ||
		    strcmp(x->key_format_text, y->key_format_text) ||
		    strcmp(x->destination.url, y->destination.url) ||
		    (x->filter == NULL) != (y->filter == NULL) || x->dedup != y->dedup ||
		    x->max_object_bytes != y->max_object_bytes ||
		    x->compression_level != y->compression_level)
			abort();
	}
}

/* The configuration through the plan journal of an empty plan. */
static void check_journal(const config *cfg)
{
	plan p, back;
	config *again = NULL;
	char *json;
	size_t len;

	memset(&p, 0, sizeof(p));
	snprintf(p.run_id, sizeof(p.run_id), "20261127T004612Z-1a2b3c4d");
	p.started_ms = 1795307172000;
	p.listed = xcalloc(cfg->ndirect + 1, sizeof(bool));
	p.min_pending_ms = xcalloc(cfg->ndirect + 1, sizeof(int64_t));
	for (size_t i = 0; i < cfg->ndirect; i++)
		p.min_pending_ms[i] = INT64_MAX;
	json = plan_to_json(&p, cfg, &len);
	if (plan_from_json(json, len, &back, &again) != ES_OK || !again ||
	    strcmp(back.run_id, p.run_id) || back.started_ms != p.started_ms || back.nfiles)
		abort();
	check_same(cfg, again);
	plan_release(&back);
	config_free(again);
	plan_release(&p);
	free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	config *cfg = (config *)&size;   /* must be overwritten */
	buf err = BUF_INIT;
	es_result r;

	r = config_parse(text, size, "fuzz.json", BASE_DIR, &cfg, &err);
	if (r != ES_OK) {
		if (r != ES_ERR_CONFIG || cfg != NULL)
			abort();
		check_error_text(&err);
		buf_release(&err);
		return 0;
	}
	if (!cfg || err.len)
		abort();
	check_config(cfg, text, size);
	check_journal(cfg);
	config_free(cfg);
	buf_release(&err);
	return 0;
}
