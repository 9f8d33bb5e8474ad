/* selection.c - the file selection of run and list, and the look at what
 * a run would read. */
#include "selection.h"
#include "jsonw.h"
#include "log.h"
#include "runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

es_result selection_option(selection *s, int opt, const char *arg)
{
	switch (opt) {
	case SEL_OPT_SINCE:
		if (!time_parse_rfc3339(arg, &s->popt.since_ms))
			return es_error(ES_ERR_USAGE, "--since: '%s' is not an RFC 3339 "
					"time (2026-11-27T00:00:00Z)", arg);
		s->popt.has_since = true;
		return ES_OK;
	case SEL_OPT_UNTIL:
		if (!time_parse_rfc3339(arg, &s->popt.until_ms))
			return es_error(ES_ERR_USAGE, "--until: '%s' is not an RFC 3339 "
					"time (2026-11-27T00:00:00Z)", arg);
		s->popt.has_until = true;
		return ES_OK;
	case SEL_OPT_SOURCE:
		s->sources = xrealloc(s->sources, (s->nsources + 1) * sizeof(char *));
		s->sources[s->nsources++] = arg;
		return ES_OK;
	case SEL_OPT_SUBSCRIBER:
		s->subs = xrealloc(s->subs, (s->nsubs + 1) * sizeof(char *));
		s->subs[s->nsubs++] = arg;
		return ES_OK;
	case SEL_OPT_REPLAY:
		s->popt.replay = true;
		return ES_OK;
	}
	return es_error(ES_ERR_INTERNAL, "selection option %d", opt);
}

es_result selection_check(const selection *s)
{
	if (s->popt.has_since && s->popt.has_until && s->popt.since_ms >= s->popt.until_ms)
		return es_error(ES_ERR_USAGE, "--since must be earlier than --until");
	return ES_OK;
}

/* names[] as a selection of n org_ids found by index(); what: the option. */
static es_result resolve(const config *cfg, const char **names, size_t nnames, size_t n,
			 ssize_t (*index)(const config *, const char *), const char *what,
			 const char *kind, bool **out)
{
	if (!nnames)
		return ES_OK;
	*out = xcalloc(n + 1, sizeof(bool));
	for (size_t i = 0; i < nnames; i++) {
		ssize_t k = index(cfg, names[i]);

		if (k < 0)
			return es_error(ES_ERR_USAGE, "%s: '%s' is not %s in '%s'", what,
					names[i], kind, cfg->path);
		(*out)[k] = true;
	}
	return ES_OK;
}

es_result selection_resolve(selection *s, const config *cfg)
{
	es_result r;

	if ((r = resolve(cfg, s->sources, s->nsources, cfg->ndirect, config_direct_index,
			 "--source", "a direct subscriber", &s->source_selected)) != ES_OK ||
	    (r = resolve(cfg, s->subs, s->nsubs, cfg->nadditional, config_additional_index,
			 "--subscriber", "an additional subscriber", &s->sub_selected)) != ES_OK)
		return r;
	s->popt.source_selected = s->source_selected;
	s->popt.sub_selected = s->sub_selected;
	return ES_OK;
}

void selection_release(selection *s)
{
	free(s->sources);
	free(s->subs);
	free(s->source_selected);
	free(s->sub_selected);
	memset(s, 0, sizeof(*s));
}

es_result selection_state(const config *cfg, state_store **ss, state_data **st)
{
	es_result r;

	*ss = NULL;
	*st = NULL;
	if (access(cfg->state_dir, F_OK) < 0) {
		/* a look works before the first run made the state */
		*st = xcalloc(1, sizeof(**st));
		return ES_OK;
	}
	if ((r = state_open(cfg->state_dir, false, ss)) != ES_OK)
		return r;
	return state_load(*ss, st);
}

es_result selection_preview(const config *cfg, state_store *ss, state_data *st,
			    const selection *s, plan *p)
{
	bool *held = runner_held(cfg, st);
	plan_options popt = s->popt;
	es_result r;

	if (ss) {
		buf text = BUF_INIT;
		bool exists = false;

		if (state_plan_load(ss, &text, &exists) == ES_OK && exists)
			warning("an interrupted run is pending in '%s'; the next run finishes "
				"it first", cfg->state_dir);
		buf_release(&text);
	}
	for (size_t i = 0; i < st->nparts; i++)
		for (size_t k = 0; k < st->parts[i].nsubs; k++)
			warning("the outputs of run %s are still owed to '%s' (%u failed "
				"attempt(s): %s); the next run tries again first, and its newer "
				"files wait", st->parts[i].run_id, st->parts[i].subs[k],
				st->parts[i].attempts, st->parts[i].last_error
				? st->parts[i].last_error : "");
	popt.sub_held = held;
	{
		store_set *stores = store_set_new();

		r = plan_build(cfg, st, &popt, time_now_ms(), stores, p);
		store_set_free(stores);
	}
	free(held);
	if (r == ES_OK)
		plan_warn_poisoned(cfg, p);
	return r;
}

void selection_print(const config *cfg, const plan *p, bool json)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		const plan_file *f = &p->files[i];
		const direct_subscriber *d = &cfg->direct[f->source];
		char *url = location_key_url(&d->source, f->obj.key);
		char mt[32];

		time_format_rfc3339(f->obj.mtime_ms, mt);
		if (json) {
			buf b = BUF_INIT;
			jsonw w;

			jsonw_init(&w, &b, JSONW_TEXT);
			jsonw_object_begin(&w);
			jsonw_string_field(&w, "source", d->org_id);
			jsonw_string_field(&w, "url", url);
			jsonw_string_field(&w, "key", f->obj.key);
			jsonw_uint_field(&w, "size", f->obj.size);
			jsonw_string_field(&w, "last_modified", mt);
			jsonw_name(&w, "subscribers");
			jsonw_array_begin(&w);
			for (size_t k = 0; k < f->nsubs; k++)
				jsonw_string(&w, cfg->additional[f->subs[k]].org_id);
			jsonw_array_end(&w);
			jsonw_object_end(&w);
			printf("%s\n", b.data);
			buf_release(&b);
		} else {
			buf vis = BUF_INIT;

			/* one line per file, whatever its key holds */
			printf("%s\t%llu\t%s\t", visible(&vis, url),
			       (unsigned long long)f->obj.size, mt);
			buf_release(&vis);
			for (size_t k = 0; k < f->nsubs; k++)
				printf("%s%s", k ? "," : "", cfg->additional[f->subs[k]].org_id);
			printf("\n");
		}
		free(url);
	}
}
