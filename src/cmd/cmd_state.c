/*
 * cmd_state.c - `evshare state show` and `evshare state forget`.
 *
 *   state show [--json] [--files]
 *   state forget URL...        forget what was delivered of these files and
 *                              their failures: the next run reads them again
 *                              for every linked subscriber (poisoned ones too)
 *   state forget --poisoned    re-enable every poisoned file
 *   state forget --plan        drop an interrupted run's plan (its outputs
 *                              may have been partly delivered)
 *   state forget --pending ORG drop what a run still owes to subscriber ORG
 *                              (its files are read for it again by a new run)
 */
#include "cmd.h"
#include "config.h"
#include "json.h"
#include "jsonw.h"
#include "log.h"
#include "state.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void state_usage(FILE *out)
{
	fprintf(out, "usage: evshare [-c FILE] state show [--json] [--files]\n"
		"       evshare [-c FILE] state forget URL... | --poisoned | --plan | "
		"--pending ORG\n");
}

/* A file record as state show --json has it. */
static void record_json(jsonw *w, const config *cfg, const source_state *src,
			const file_record *f)
{
	ssize_t s = config_direct_index(cfg, src->org_id);
	char mt[32];

	jsonw_object_begin(w);
	if (s >= 0) {
		char *url = location_key_url(&cfg->direct[s].source, f->key);

		jsonw_string_field(w, "url", url);
		free(url);
	}
	jsonw_string_field(w, "key", f->key);
	jsonw_uint_field(w, "size", f->size);
	time_format_rfc3339(f->mtime_ms, mt);
	jsonw_string_field(w, "last_modified", mt);
	jsonw_name(w, "done");
	jsonw_array_begin(w);
	for (size_t i = 0; i < f->ndone; i++)
		jsonw_string(w, f->done[i]);
	jsonw_array_end(w);
	if (f->run_id)
		jsonw_string_field(w, "run_id", f->run_id);
	jsonw_uint_field(w, "failures", f->failures);
	jsonw_bool_field(w, "poisoned", f->poisoned);
	if (f->last_error)
		jsonw_string_field(w, "last_error", f->last_error);
	jsonw_object_end(w);
}

/* Is a record shown: all of them with --files, else those with a
 * problem. */
static bool record_shown(const file_record *f, bool files)
{
	return !f->removed && (files || f->poisoned || f->failures);
}

/* The records of a source, its failing and poisoned ones. */
static void source_counts(const source_state *src, size_t *nrec, size_t *nfail,
			  size_t *npois)
{
	*nrec = *nfail = *npois = 0;
	for (size_t j = 0; j < src->nfiles; j++) {
		const file_record *f = &src->files[j];

		if (f->removed)
			continue;
		(*nrec)++;
		*npois += f->poisoned;
		*nfail += f->failures > 0 && !f->poisoned;
	}
}

/* The run id and the number of files of an interrupted run's plan, read
 * as state show always has: "?" and 0 when they cannot be. */
static void plan_glance(const buf *plan_text, char **run_id, size_t *nfiles)
{
	json_value root, v;
	json_error jerr;

	*run_id = NULL;
	*nfiles = 0;
	if (!json_parse_bytes(plan_text->data ? plan_text->data : "", plan_text->len,
			      JSON_DEFAULT_MAX_DEPTH, &root, &jerr))
		return;
	if (json_object_get(root, "run_id", 6, &v) && v.type == JSON_STRING)
		*run_id = json_string_dup(v, NULL);
	if (!*run_id)
		*run_id = xstrdup("?");
	if (json_object_get(root, "files", 5, &v))
		*nfiles = json_count(v);
}

static void state_show_json(const config *cfg, const state_data *st, bool plan_exists,
			    const buf *plan_text, bool files)
{
	buf b = BUF_INIT;
	jsonw w;

	/* names are shown as they are, bytes that are not UTF-8 too, as
	 * they always were */
	jsonw_init(&w, &b, JSONW_BYTES);
	jsonw_object_begin(&w);
	jsonw_name(&w, "sources");
	jsonw_array_begin(&w);
	for (size_t i = 0; i < st->nsources; i++) {
		const source_state *src = &st->sources[i];
		size_t nrec, nfail, npois;
		char h[32];

		source_counts(src, &nrec, &nfail, &npois);
		jsonw_object_begin(&w);
		jsonw_string_field(&w, "org_id", src->org_id);
		if (src->horizon_ms != INT64_MIN) {
			time_format_rfc3339(src->horizon_ms, h);
			jsonw_string_field(&w, "horizon", h);
		}
		jsonw_uint_field(&w, "files", nrec);
		jsonw_uint_field(&w, "failing", nfail);
		jsonw_uint_field(&w, "poisoned", npois);
		jsonw_name(&w, files ? "records" : "problems");
		jsonw_array_begin(&w);
		for (size_t j = 0; j < src->nfiles; j++)
			if (record_shown(&src->files[j], files))
				record_json(&w, cfg, src, &src->files[j]);
		jsonw_array_end(&w);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_string_field(&w, "state_dir", cfg->state_dir);
	jsonw_string_field(&w, "committed_run", st->committed_run);   /* NULL: null */
	if (st->committed_run) {
		char t[32];

		time_format_rfc3339(st->committed_ms, t);
		jsonw_string_field(&w, "committed_at", t);
	}
	jsonw_name(&w, "interrupted_run");
	if (plan_exists) {
		char *rid;
		size_t nfiles;

		plan_glance(plan_text, &rid, &nfiles);
		jsonw_object_begin(&w);
		if (rid) {
			jsonw_string_field(&w, "run_id", rid);
			jsonw_uint_field(&w, "files", nfiles);
		}
		jsonw_object_end(&w);
		free(rid);
	} else {
		jsonw_null(&w);
	}
	jsonw_name(&w, "pending");
	jsonw_array_begin(&w);
	for (size_t i = 0; i < st->nparts; i++) {
		const pending_part *pp = &st->parts[i];
		char t[32];

		jsonw_object_begin(&w);
		jsonw_string_field(&w, "run_id", pp->run_id);
		jsonw_name(&w, "subscribers");
		jsonw_array_begin(&w);
		for (size_t k = 0; k < pp->nsubs; k++)
			jsonw_string(&w, pp->subs[k]);
		jsonw_array_end(&w);
		jsonw_uint_field(&w, "attempts", pp->attempts);
		jsonw_bool_field(&w, "stuck", pp->attempts >= cfg->max_attempts);
		time_format_rfc3339(pp->first_ms, t);
		jsonw_string_field(&w, "since", t);
		jsonw_string_field(&w, "last_error", pp->last_error ? pp->last_error : "");
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_object_end(&w);
	buf_addch(&b, '\n');
	fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
}

static void state_show_text(const config *cfg, const state_data *st, bool plan_exists,
			    bool files)
{
	printf("state directory: %s\n", cfg->state_dir);
	printf("last committed run: %s\n", st->committed_run ? st->committed_run : "none");
	if (plan_exists)
		printf("interrupted run pending: yes (the next run finishes it)\n");
	for (size_t i = 0; i < st->nparts; i++) {
		const pending_part *pp = &st->parts[i];
		buf va = BUF_INIT;

		for (size_t k = 0; k < pp->nsubs; k++)
			printf("outputs owed to %s: run %s, %u failed attempt(s)%s: %s\n",
			       pp->subs[k], pp->run_id, pp->attempts,
			       pp->attempts >= cfg->max_attempts ? " (STUCK)" : "",
			       visible(&va, pp->last_error));
		buf_release(&va);
	}
	for (size_t i = 0; i < st->nsources; i++) {
		const source_state *src = &st->sources[i];
		ssize_t s = config_direct_index(cfg, src->org_id);
		size_t nrec, nfail, npois;
		char h[32];

		source_counts(src, &nrec, &nfail, &npois);
		if (src->horizon_ms != INT64_MIN)
			time_format_rfc3339(src->horizon_ms, h);
		printf("source %s: %d file record(s), %d failing, %d poisoned, horizon %s\n",
		       src->org_id, (int)nrec, (int)nfail, (int)npois,
		       src->horizon_ms != INT64_MIN ? h : "none");
		for (size_t j = 0; j < src->nfiles; j++) {
			const file_record *f = &src->files[j];
			char *url;
			buf va = BUF_INIT, vb = BUF_INIT;   /* made visible */

			if (!record_shown(f, files))
				continue;
			url = s >= 0 ? location_key_url(&cfg->direct[s].source, f->key)
				     : xstrdup(f->key);
			printf("  %s%s%s%s\n", visible(&va, url), f->poisoned ? "  POISONED" : "",
			       f->last_error ? "  " : "",
			       f->last_error ? visible(&vb, f->last_error) : "");
			free(url);
			buf_release(&va);
			buf_release(&vb);
		}
	}
}

static es_result state_show(const config *cfg, state_store *ss, state_data *st,
			    bool json, bool files)
{
	buf plan_text = BUF_INIT;
	bool plan_exists = false;

	if (ss)
		state_plan_load(ss, &plan_text, &plan_exists);
	if (json)
		state_show_json(cfg, st, plan_exists, &plan_text, files);
	else
		state_show_text(cfg, st, plan_exists, files);
	buf_release(&plan_text);
	return ES_OK;
}

/* Find the source and key a URL names. */
static bool url_to_record(const config *cfg, state_data *st, const char *url,
			  source_state **src, file_record **rec)
{
	for (size_t i = 0; i < cfg->ndirect; i++) {
		const location *l = &cfg->direct[i].source;
		size_t n = strlen(l->url);

		if (strncmp(url, l->url, n) != 0)
			continue;
		*src = state_source(st, cfg->direct[i].org_id, false);
		if (*src) {
			char *key = xasprintf("%s%s", l->prefix, url + n);

			*rec = state_file(*src, key);
			free(key);
			if (*rec)
				return true;
		}
	}
	return false;
}

/* Keep the record (so a file older than the horizon is still found) but
 * owe it to everyone again, with no failures. */
static void forget_record(file_record *f)
{
	char *etag = xstrdup(f->etag ? f->etag : "");

	file_record_reset(f, etag, f->size, f->mtime_ms);
	free(etag);
}

static es_result state_forget(const config *cfg, state_store *ss, state_data *st,
			      int argc, char **argv)
{
	bool poisoned = false, plan = false;
	const char *pending = NULL;
	es_result r = ES_OK;
	size_t changed = 0;
	int first = 1;

	for (; first < argc && argv[first][0] == '-'; first++) {
		if (!strcmp(argv[first], "--poisoned"))
			poisoned = true;
		else if (!strcmp(argv[first], "--plan"))
			plan = true;
		else if (!strcmp(argv[first], "--pending") && first + 1 < argc)
			pending = argv[++first];
		else if (!strcmp(argv[first], "--"))
			{ first++; break; }
		else {
			state_usage(stderr);
			return ES_ERR_USAGE;
		}
	}
	if (!poisoned && !plan && !pending && first >= argc) {
		state_usage(stderr);
		return ES_ERR_USAGE;
	}
	if (plan) {
		buf text = BUF_INIT;
		bool exists = false;

		if ((r = state_plan_load(ss, &text, &exists)) != ES_OK)
			return r;
		buf_release(&text);
		if (!exists) {
			info("no interrupted run to forget");
		} else {
			warning("dropping the interrupted run's plan: objects it already put "
				"stay where they are, and its files will be read again by the "
				"next run, so their events may be delivered twice");
			if ((r = state_plan_clear(ss)) != ES_OK)
				return r;
		}
	}
	if (pending) {
		size_t dropped = 0;

		for (size_t i = 0; i < st->nparts; ) {
			size_t before = st->nparts, nsubs = st->parts[i].nsubs;

			state_part_done(st, i, pending);
			if (st->nparts < before) {
				dropped++;
				continue;
			}
			dropped += st->parts[i].nsubs < nsubs;
			i++;
		}
		if (!dropped)
			return es_error(ES_ERR_USAGE, "no run owes outputs to '%s'", pending);
		warning("dropping what %zu run(s) still owe to '%s': objects already put stay "
			"where they are, and the next run reads its files for it again, so "
			"their events may reach it twice", dropped, pending);
		changed++;
	}
	if (poisoned) {
		for (size_t i = 0; i < st->nsources; i++)
			for (size_t j = 0; j < st->sources[i].nfiles; j++) {
				file_record *f = &st->sources[i].files[j];

				if (!f->removed && f->poisoned) {
					forget_record(f);
					changed++;
				}
			}
	}
	for (int i = first; i < argc; i++) {
		source_state *src;
		file_record *rec;

		if (!url_to_record(cfg, st, argv[i], &src, &rec)) {
			r = es_error(ES_ERR_USAGE, "'%s' is not a file in the state of any "
				     "configured source", argv[i]);
			continue;
		}
		forget_record(rec);
		changed++;
	}
	if (changed) {
		es_result sr = state_save(ss, st);

		if (sr != ES_OK)
			return sr;
		state_parts_prune(ss, st);
		if (changed > (pending != NULL))
			info("forgot %zu file record(s)", changed - (pending != NULL));
	}
	return r;
}

es_result cmd_state(const struct global_opts *g, int argc, char **argv)
{
	config *cfg = NULL;
	state_store *ss = NULL;
	state_data *st = NULL;
	es_result r;

	if (argc < 2) {
		state_usage(stderr);
		return ES_ERR_USAGE;
	}
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			state_usage(stdout);
			return ES_OK;
		}
	if ((r = config_load(g->config_path, &cfg)) != ES_OK)
		return r;
	if (!strcmp(argv[1], "show")) {
		bool json = false, files = false;

		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--json"))
				json = true;
			else if (!strcmp(argv[i], "--files"))
				files = true;
			else {
				state_usage(stderr);
				r = ES_ERR_USAGE;
				goto done;
			}
		}
		if (access(cfg->state_dir, F_OK) < 0 && errno == ENOENT) {
			/* no run yet: an empty state */
			st = xcalloc(1, sizeof(*st));
		} else if ((r = state_open(cfg->state_dir, false, &ss)) != ES_OK ||
			   (r = state_load(ss, &st)) != ES_OK) {
			goto done;
		}
		r = state_show(cfg, ss, st, json, files);
	} else if (!strcmp(argv[1], "forget")) {
		if ((r = state_open(cfg->state_dir, true, &ss)) != ES_OK ||
		    (r = state_lock(ss)) != ES_OK || (r = state_load(ss, &st)) != ES_OK)
			goto done;
		r = state_forget(cfg, ss, st, argc - 1, argv + 1);
	} else {
		state_usage(stderr);
		r = ES_ERR_USAGE;
	}
done:
	state_data_free(st);
	state_close(ss);
	config_free(cfg);
	return r;
}
