/* plan.c - list sources, choose new files, journal the plan. */
#include "plan.h"
#include "store_set.h"
#include "json.h"
#include "jsonw.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void plan_new_run_id(int64_t now_ms, char out[RUN_ID_MAX])
{
	unsigned char rnd[4];
	char t[20], hex[9];

	random_bytes(rnd, sizeof(rnd));
	time_format_compact(now_ms, t);
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(out, RUN_ID_MAX, "%s-%s", t, hex);
}

void plan_release(plan *p)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		store_object_release(&p->files[i].obj);
		free(p->files[i].subs);
	}
	free(p->files);
	free(p->listed);
	free(p->min_pending_ms);
	for (size_t i = 0; i < p->npoisoned; i++) {
		free(p->poisoned[i].key);
		free(p->poisoned[i].reason);
	}
	free(p->poisoned);
	for (size_t i = 0; i < p->nlist_failures; i++) {
		free(p->list_failures[i].key);
		free(p->list_failures[i].reason);
	}
	free(p->list_failures);
	for (size_t i = 0; i < p->nlate; i++) {
		free(p->late[i].key);
		free(p->late[i].reason);
	}
	free(p->late);
	free(p->below);
	memset(p, 0, sizeof(*p));
}

static void plan_alloc_sources(plan *p, size_t ndirect)
{
	p->listed = xcalloc(ndirect + 1, sizeof(bool));
	p->min_pending_ms = xcalloc(ndirect, sizeof(int64_t));
	for (size_t i = 0; i < ndirect; i++)
		p->min_pending_ms[i] = INT64_MAX;
}

void plan_restrict(const plan *p, size_t ndirect, const char *outcomes, const bool *keep,
		   plan *out)
{
	memset(out, 0, sizeof(*out));
	plan_alloc_sources(out, ndirect);
	memcpy(out->run_id, p->run_id, sizeof(out->run_id));
	out->started_ms = p->started_ms;
	out->replay = p->replay;
	for (size_t i = 0; i < p->nfiles; i++) {
		const plan_file *f = &p->files[i];
		plan_file *g;
		size_t n = 0;

		for (size_t k = 0; k < f->nsubs; k++)
			n += keep[f->subs[k]];
		if (outcomes[i] != 'o' || !n)
			continue;
		out->files = xgrow(out->files, out->nfiles + 1, &out->alloc, sizeof(*out->files));
		g = &out->files[out->nfiles++];
		memset(g, 0, sizeof(*g));
		g->source = f->source;
		store_object_copy(&g->obj, &f->obj);
		g->changed = f->changed;
		g->subs = xcalloc(n, sizeof(size_t));
		for (size_t k = 0; k < f->nsubs; k++)
			if (keep[f->subs[k]])
				g->subs[g->nsubs++] = f->subs[k];
	}
}

void plan_drop_subscriber(plan *p, size_t a)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		plan_file *f = &p->files[i];
		size_t n = 0;

		for (size_t k = 0; k < f->nsubs; k++)
			if (f->subs[k] != a)
				f->subs[n++] = f->subs[k];
		f->nsubs = n;
	}
}

void plan_warn_poisoned(const config *cfg, const plan *p)
{
	for (size_t s = 0; s < cfg->ndirect; s++) {
		/* one warning per source, naming it: not one per file every run */
		size_t n = 0;

		for (size_t i = 0; i < p->npoisoned; i++)
			n += p->poisoned[i].source == s;
		if (n)
			log_msg(LOG_WARNING, cfg->direct[s].source.url, "%zu poisoned file(s) "
				"under '%s' skipped; 'evshare state show' lists them and "
				"'evshare state forget URL' re-enables one", n,
				cfg->direct[s].source.url);
	}
}

static int cmp_objects(const void *x, const void *y)
{
	const store_object *a = x, *b = y;

	if (a->mtime_ms != b->mtime_ms)
		return a->mtime_ms < b->mtime_ms ? -1 : 1;
	return strcmp(a->key, b->key);
}


static void add_skipped(plan_skipped **arr, size_t *n, size_t *alloc, size_t source,
			const char *key, const char *reason)
{
	plan_skipped *sk;

	*arr = xgrow(*arr, *n + 1, alloc, sizeof(**arr));
	sk = &(*arr)[(*n)++];
	sk->source = source;
	sk->key = xstrdup(key);
	sk->reason = xstrdup(reason ? reason : "");
}

/* Does subscriber org still need this file version? */
static bool needs(const file_record *rec, bool changed, const char *org)
{
	return !rec || changed || !file_record_done_for(rec, org);
}

/* Does this run serve subscriber a? */
static bool serves(const plan_options *opt, size_t a)
{
	return (!opt->sub_selected || opt->sub_selected[a]) &&
	       !(opt->sub_held && opt->sub_held[a]);
}

/* The subscribers linked to source s: all of them, and the served ones. */
static void linked_subscribers(const config *cfg, const plan_options *opt, size_t s,
			       size_t *all, size_t *nall, size_t *sel, size_t *nsel)
{
	*nall = *nsel = 0;
	for (size_t a = 0; a < cfg->nadditional; a++)
		for (size_t l = 0; l < cfg->additional[a].nlinks; l++)
			if (cfg->additional[a].links[l] == s) {
				all[(*nall)++] = a;
				if (serves(opt, a))
					sel[(*nsel)++] = a;
			}
}

struct source_scan {
	const config *cfg;
	const plan_options *opt;
	size_t s;
	const source_state *ss;
	int64_t horizon;
	const size_t *all, *sel;
	size_t nall, nsel;
};

/* Decide what to do with one listed object of a source. */
static void plan_object(plan *out, const struct source_scan *sc, const store_object *o)
{
	const config *cfg = sc->cfg;
	const plan_options *opt = sc->opt;
	const file_record *rec = sc->ss ? state_file((source_state *)sc->ss, o->key) : NULL;
	bool changed = rec && strcmp(rec->etag, o->etag) != 0;
	bool in_window = !((opt->has_since && o->mtime_ms < opt->since_ms) ||
			   (opt->has_until && o->mtime_ms >= opt->until_ms));
	bool pending_elsewhere = false;
	size_t *fsubs, n = 0;

	if (opt->replay) {
		if (!in_window)
			return;
		fsubs = xcalloc(sc->nsel, sizeof(size_t));
		memcpy(fsubs, sc->sel, sc->nsel * sizeof(size_t));
		n = sc->nsel;
		goto add;
	}
	/* Below the horizon only files with a record that still owes a
	 * delivery come back (retried failures, forgotten files); anything
	 * else there was done and pruned. */
	if (o->mtime_ms < sc->horizon && (!rec || changed))
		return;   /* (find_late tells those that appeared there late) */
	if (rec && !changed && rec->poisoned) {
		add_skipped(&out->poisoned, &out->npoisoned, &out->poisoned_alloc, sc->s,
			    o->key, rec->last_error);
		return;
	}
	fsubs = xcalloc(sc->nsel ? sc->nsel : 1, sizeof(size_t));
	for (size_t k = 0; k < sc->nsel; k++)
		if (needs(rec, changed, cfg->additional[sc->sel[k]].org_id))
			fsubs[n++] = sc->sel[k];
	/* owed to a subscriber this run does not serve: keep the horizon below it */
	for (size_t k = 0; k < sc->nall; k++) {
		const char *org = cfg->additional[sc->all[k]].org_id;
		bool selected = serves(opt, sc->all[k]);

		if ((!selected || !in_window) && needs(rec, changed, org))
			pending_elsewhere = true;
	}
	if (pending_elsewhere && o->mtime_ms < out->min_pending_ms[sc->s])
		out->min_pending_ms[sc->s] = o->mtime_ms;
	if (!n || !in_window) {
		free(fsubs);
		return;
	}
	if (changed) {
		char *url = location_key_url(&cfg->direct[sc->s].source, o->key);

		log_msg(LOG_WARNING, url, "'%s' changed since it was last read "
			"(etag %s, now %s); reading it again", url, rec->etag, o->etag);
		free(url);
	}
add:
	out->files = xgrow(out->files, out->nfiles + 1, &out->alloc, sizeof(*out->files));
	out->files[out->nfiles].source = sc->s;
	store_object_copy(&out->files[out->nfiles].obj, o);
	out->files[out->nfiles].subs = fsubs;
	out->files[out->nfiles].nsubs = n;
	out->files[out->nfiles].changed = changed;
	out->nfiles++;
}

/*
 * Files that appeared below the horizon after it passed them.  The last
 * committed run kept a sketch of the objects it listed below a time T;
 * the same sketch of this listing, minus that one, names the objects
 * added below T since.  Those below the horizon with no record are not
 * read (planning only looks at the horizon and after): each is told, and
 * counted.  Then the sketch below this run's own T is made for the state.
 */
static void find_late(plan *out, const struct source_scan *sc, const store_list *list,
		      int64_t until_ms)
{
	const source_state *ss = sc->ss;
	sketch now;
	uint64_t added[SKETCH_CELLS], removed[SKETCH_CELLS];
	size_t nadded = 0, nremoved = 0;
	bool known;

	sketch_init(&now);
	sketch_init(&out->below[sc->s]);
	for (size_t i = 0; i < list->count; i++) {
		const store_object *o = &list->items[i];
		uint64_t name = sketch_name(o->key, o->etag);

		if (ss && ss->has_below && o->mtime_ms < ss->below_until_ms)
			sketch_add(&now, name);
		if (o->mtime_ms < until_ms)
			sketch_add(&out->below[sc->s], name);
	}
	if (!ss || !ss->has_below)
		return;
	known = sketch_diff(&now, &ss->below, added, &nadded, removed, &nremoved, SKETCH_CELLS);
	if (!known) {
		int64_t before = 0, after = 0;

		for (size_t c = 0; c < SKETCH_CELLS; c++) {
			before += ss->below.cell[c].count;
			after += now.cell[c].count;
		}
		if (after > before) {
			out->late_unnamed += (uint64_t)(after - before) / 3;
			log_msg(LOG_WARNING, sc->cfg->direct[sc->s].source.url, "'%s': %lld or "
				"more files appeared with a last-modified time before the "
				"horizon, too many to name: they are not read (see LATE FILES "
				"in evshare(1))", sc->cfg->direct[sc->s].source.url,
				(long long)(after - before) / 3);
		}
		return;
	}
	for (size_t i = 0; i < list->count && nadded; i++) {
		const store_object *o = &list->items[i];
		uint64_t name;
		bool is_new = false;

		if (o->mtime_ms >= ss->below_until_ms || o->mtime_ms >= sc->horizon ||
		    state_file((source_state *)ss, o->key))
			continue;
		name = sketch_name(o->key, o->etag);
		for (size_t k = 0; k < nadded; k++)
			is_new |= added[k] == name;
		if (is_new) {
			char *url = location_key_url(&sc->cfg->direct[sc->s].source, o->key);
			char mt[32], h[32];

			time_format_rfc3339(o->mtime_ms, mt);
			time_format_rfc3339(sc->horizon, h);
			log_msg(LOG_WARNING, url, "'%s' appeared after the horizon of its source "
				"had passed it (last modified %s, horizon %s): it is not read; "
				"see LATE FILES in evshare(1)", url, mt, h);
			add_skipped(&out->late, &out->nlate, &out->late_alloc, sc->s, o->key,
				    "appeared below the horizon");
			free(url);
		}
	}
}

es_result plan_build(const config *cfg, const state_data *st,
		     const plan_options *opt, int64_t now_ms, store_set *stores, plan *out)
{
	size_t cap = cfg->nadditional ? cfg->nadditional : 1;
	size_t *all = xcalloc(cap, sizeof(size_t)), *sel = xcalloc(cap, sizeof(size_t));
	es_result first_error = ES_OK;
	size_t attempted = 0;

	memset(out, 0, sizeof(*out));
	out->started_ms = now_ms;
	out->replay = opt->replay;
	plan_new_run_id(now_ms, out->run_id);
	plan_alloc_sources(out, cfg->ndirect);
	out->below = xcalloc(cfg->ndirect + 1, sizeof(sketch));
	out->below_until_ms = now_ms - cfg->lookback_ms;

	for (size_t s = 0; s < cfg->ndirect; s++) {
		const direct_subscriber *d = &cfg->direct[s];
		struct source_scan sc = { cfg, opt, s, NULL, 0, all, sel, 0, 0 };
		store *st_store = NULL;
		store_list list = { 0 };
		es_result r;

		if (opt->source_selected && !opt->source_selected[s])
			continue;
		linked_subscribers(cfg, opt, s, all, &sc.nall, sel, &sc.nsel);
		if (!sc.nsel)
			continue;
		if (st)
			for (size_t i = 0; i < st->nsources; i++)
				if (!strcmp(st->sources[i].org_id, d->org_id))
					sc.ss = &st->sources[i];
		sc.horizon = sc.ss && sc.ss->horizon_ms != INT64_MIN ? sc.ss->horizon_ms
								     : now_ms - cfg->lookback_ms;
		attempted++;
		r = store_set_get(stores, &d->source, NULL, &st_store);
		if (r == ES_OK)
			r = store_list_objects(st_store, &list);
		if (r != ES_OK) {
			/* the store logged why; the other sources go on */
			add_skipped(&out->list_failures, &out->nlist_failures,
				    &out->list_failures_alloc, s, "",
				    st_store && *store_last_error(st_store)
				    ? store_last_error(st_store) : es_result_name(r));
			if (first_error == ES_OK)
				first_error = r;
			store_list_release(&list);
			continue;
		}
		out->listed[s] = true;
		out->objects_listed += list.count;
		if (list.count)   /* qsort's array may not be NULL, even for none */
			qsort(list.items, list.count, sizeof(*list.items), cmp_objects);
		for (size_t i = 0; i < list.count; i++)
			plan_object(out, &sc, &list.items[i]);
		if (!opt->replay)
			find_late(out, &sc, &list, out->below_until_ms);
		store_list_release(&list);
	}
	free(all);
	free(sel);
	if (attempted && out->nlist_failures == attempted) {
		/* nothing could be listed: the run fails as a whole */
		plan_release(out);
		return first_error;
	}
	return ES_OK;
}

char *plan_to_json(const plan *p, const config *cfg, size_t *len)
{
	buf b = BUF_INIT;
	jsonw w;

	/* keys are bytes (file names): kept as they are, read back with
	 * json_parse_bytes */
	jsonw_init(&w, &b, JSONW_BYTES);
	jsonw_object_begin(&w);
	jsonw_int_field(&w, "version", 1);
	jsonw_string_field(&w, "run_id", p->run_id);
	jsonw_int_field(&w, "started_ms", p->started_ms);
	jsonw_bool_field(&w, "replay", p->replay);
	jsonw_uint_field(&w, "objects_listed", p->objects_listed);
	jsonw_string_field(&w, "config_path", cfg->path);
	jsonw_string_field(&w, "config_dir", cfg->dir);
	jsonw_name(&w, "config");
	jsonw_string_n(&w, cfg->text, cfg->text_len);
	jsonw_name(&w, "sources");
	jsonw_array_begin(&w);
	for (size_t s = 0; s < cfg->ndirect; s++) {
		jsonw_object_begin(&w);
		jsonw_string_field(&w, "org_id", cfg->direct[s].org_id);
		jsonw_bool_field(&w, "listed", p->listed[s]);
		if (p->min_pending_ms[s] != INT64_MAX)
			jsonw_int_field(&w, "min_pending_ms", p->min_pending_ms[s]);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_name(&w, "files");
	jsonw_array_begin(&w);
	for (size_t i = 0; i < p->nfiles; i++) {
		const plan_file *f = &p->files[i];

		jsonw_object_begin(&w);
		jsonw_string_field(&w, "source", cfg->direct[f->source].org_id);
		jsonw_string_field(&w, "key", f->obj.key);
		jsonw_uint_field(&w, "size", f->obj.size);
		jsonw_int_field(&w, "mtime_ms", f->obj.mtime_ms);
		jsonw_string_field(&w, "etag", f->obj.etag);
		jsonw_bool_field(&w, "changed", f->changed);
		jsonw_name(&w, "subscribers");
		jsonw_array_begin(&w);
		for (size_t k = 0; k < f->nsubs; k++)
			jsonw_string(&w, cfg->additional[f->subs[k]].org_id);
		jsonw_array_end(&w);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_object_end(&w);
	return buf_detach(&b, len);
}

static es_result bad_plan(const char *why)
{
	return es_error(ES_ERR_STATE, "the plan journal of the interrupted run is "
			"corrupt (%s); see 'evshare state forget --plan' in evshare(1)", why);
}

/* j (a value, or type 0: absent) as an int64 in [min, INT64_MAX]: false
 * if it is not a number, not an integer or out of that range. */
static bool number_in_range(json_value j, int64_t min, int64_t *out)
{
	int64_t v;

	if (j.type != JSON_NUMBER || !json_number_get_int64(j, &v) || v < min)
		return false;
	*out = v;
	return true;
}

/* j as a string (a C string: one holding U+0000 is none), or NULL. */
static char *string_of(json_value j)
{
	return j.type == JSON_STRING ? json_string_dup(j, NULL) : NULL;
}

/* The "sources" entries: which were listed, and their pending times. */
static es_result read_sources(json_value arr, const config *cfg, plan *out)
{
	static const char *const names[] = { "org_id", "listed", "min_pending_ms" };
	json_value el, v[3];
	json_iter it;

	json_iter_init(&it, arr);
	while (json_iter_element(&it, &el)) {
		char *org;
		ssize_t s;

		json_object_pick(el, names, 3, v);
		org = string_of(v[0]);
		s = org ? config_direct_index(cfg, org) : -1;
		free(org);
		if (s < 0)
			continue;
		out->listed[s] = v[1].type == JSON_TRUE;
		if (v[2].type && !number_in_range(v[2], INT64_MIN, &out->min_pending_ms[s]))
			return bad_plan("min_pending_ms out of range");
	}
	return ES_OK;
}

/* The "files" entries. */
static es_result read_files(json_value arr, const config *cfg, plan *out)
{
	enum { SOURCE, KEY, ETAG, SIZE, MTIME, SUBS, CHANGED, NFIELDS };
	static const char *const names[NFIELDS] = {
		"source", "key", "etag", "size", "mtime_ms", "subscribers", "changed"
	};
	json_value el, v[NFIELDS], sj;
	json_iter it, sit;

	json_iter_init(&it, arr);
	while (json_iter_element(&it, &el)) {
		char *org, *key, *etag;
		ssize_t s;
		int64_t size_v, mtime_v;
		plan_file *f;

		json_object_pick(el, names, NFIELDS, v);
		org = string_of(v[SOURCE]);
		key = string_of(v[KEY]);
		etag = string_of(v[ETAG]);
		s = org ? config_direct_index(cfg, org) : -1;
		free(org);
		if (s < 0 || !key || !etag || !number_in_range(v[SIZE], 0, &size_v) ||
		    !number_in_range(v[MTIME], INT64_MIN, &mtime_v) || v[SUBS].type != JSON_ARRAY) {
			free(key);
			free(etag);
			return bad_plan("a file entry is incomplete");
		}
		out->files = xgrow(out->files, out->nfiles + 1, &out->alloc, sizeof(*out->files));
		f = &out->files[out->nfiles++];
		memset(f, 0, sizeof(*f));
		f->source = (size_t)s;
		f->obj.key = key;
		f->obj.etag = etag;
		f->obj.size = (uint64_t)size_v;
		f->obj.mtime_ms = mtime_v;
		f->changed = v[CHANGED].type == JSON_TRUE;
		f->subs = xcalloc(json_count(v[SUBS]) + 1, sizeof(size_t));
		json_iter_init(&sit, v[SUBS]);
		while (json_iter_element(&sit, &sj)) {
			char *sub = string_of(sj);
			ssize_t a = sub ? config_additional_index(cfg, sub) : -1;

			free(sub);
			if (a < 0)
				return bad_plan("a file names an unknown subscriber");
			f->subs[f->nsubs++] = (size_t)a;
		}
	}
	return ES_OK;
}

es_result plan_from_json(const char *text, size_t n, plan *out, config **cfgp)
{
	enum { RUN_ID, CONFIG, CONFIG_DIR, CONFIG_PATH, STARTED, REPLAY, LISTED, SOURCES,
	       FILES, NFIELDS };
	static const char *const names[NFIELDS] = {
		"run_id", "config", "config_dir", "config_path", "started_ms", "replay",
		"objects_listed", "sources", "files"
	};
	json_value root, v[NFIELDS];
	json_error jerr;
	config *cfg = NULL;
	buf err = BUF_INIT;
	es_result r = ES_OK;
	char *run_id = NULL, *ctext = NULL, *cdir = NULL, *cpath = NULL;
	size_t clen = 0;

	memset(out, 0, sizeof(*out));
	*cfgp = NULL;
	/* JSON as written: strict, but a key's bytes need not be UTF-8 */
	if (!json_parse_bytes(text, n, JSON_DEFAULT_MAX_DEPTH, &root, &jerr) ||
	    root.type != JSON_OBJECT) {
		r = bad_plan("not a JSON object");
		goto done;
	}
	json_object_pick(root, names, NFIELDS, v);
	run_id = string_of(v[RUN_ID]);
	ctext = v[CONFIG].type == JSON_STRING ? json_string_dup(v[CONFIG], &clen) : NULL;
	cdir = string_of(v[CONFIG_DIR]);
	cpath = string_of(v[CONFIG_PATH]);
	if (!run_id || strlen(run_id) >= RUN_ID_MAX || !ctext || !cdir || !cpath) {
		r = bad_plan("run_id or config missing");
		goto done;
	}
	if (config_parse(ctext, clen, cpath, cdir, &cfg, &err) != ES_OK) {
		r = es_error(ES_ERR_STATE, "the configuration saved with the interrupted "
			     "run no longer loads: %s", err.data ? err.data : "");
		goto done;
	}
	snprintf(out->run_id, RUN_ID_MAX, "%s", run_id);
	if (v[STARTED].type && !number_in_range(v[STARTED], INT64_MIN, &out->started_ms)) {
		r = bad_plan("started_ms out of range");
		goto done;
	}
	out->replay = v[REPLAY].type == JSON_TRUE;
	{
		int64_t listed = 0;

		if (v[LISTED].type && !number_in_range(v[LISTED], 0, &listed)) {
			r = bad_plan("objects_listed out of range");
			goto done;
		}
		out->objects_listed = (uint64_t)listed;
	}
	plan_alloc_sources(out, cfg->ndirect);
	if (v[SOURCES].type && v[SOURCES].type != JSON_ARRAY) {
		r = bad_plan("sources is not an array");
		goto done;
	}
	if (v[SOURCES].type && (r = read_sources(v[SOURCES], cfg, out)) != ES_OK)
		goto done;
	if (v[FILES].type && v[FILES].type != JSON_ARRAY) {
		r = bad_plan("files is not an array");
		goto done;
	}
	if (v[FILES].type)
		r = read_files(v[FILES], cfg, out);
done:
	free(run_id);
	free(ctext);
	free(cdir);
	free(cpath);
	buf_release(&err);
	if (r != ES_OK) {
		plan_release(out);
		config_free(cfg);
	} else {
		*cfgp = cfg;
	}
	return r;
}
