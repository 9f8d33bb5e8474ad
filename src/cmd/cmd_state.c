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
#include "log.h"
#include "state.h"

#include <cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void state_usage(void)
{
	fprintf(stderr, "usage: evshare [-c FILE] state show [--json] [--files]\n"
		"       evshare [-c FILE] state forget URL... | --poisoned | --plan | "
		"--pending ORG\n");
}

static cJSON *record_json(const config *cfg, const source_state *src, const file_record *f)
{
	cJSON *o = cJSON_CreateObject(), *done = cJSON_CreateArray();
	ssize_t s = config_direct_index(cfg, src->org_id);
	char mt[32];

	if (s >= 0) {
		char *url = location_key_url(&cfg->direct[s].source, f->key);

		cJSON_AddStringToObject(o, "url", url);
		free(url);
	}
	cJSON_AddStringToObject(o, "key", f->key);
	cJSON_AddNumberToObject(o, "size", (double)f->size);
	time_format_rfc3339(f->mtime_ms, mt);
	cJSON_AddStringToObject(o, "last_modified", mt);
	for (size_t i = 0; i < f->ndone; i++)
		cJSON_AddItemToArray(done, cJSON_CreateString(f->done[i]));
	cJSON_AddItemToObject(o, "done", done);
	if (f->run_id)
		cJSON_AddStringToObject(o, "run_id", f->run_id);
	cJSON_AddNumberToObject(o, "failures", f->failures);
	cJSON_AddBoolToObject(o, "poisoned", f->poisoned);
	if (f->last_error)
		cJSON_AddStringToObject(o, "last_error", f->last_error);
	return o;
}

static es_result state_show(const config *cfg, state_store *ss, state_data *st,
			    bool json, bool files)
{
	buf plan_text = BUF_INIT;
	bool plan_exists = false;
	cJSON *root = cJSON_CreateObject(), *sources = cJSON_AddArrayToObject(root, "sources");
	char *text;

	if (ss)
		state_plan_load(ss, &plan_text, &plan_exists);
	cJSON_AddStringToObject(root, "state_dir", cfg->state_dir);
	if (st->committed_run) {
		char t[32];

		cJSON_AddStringToObject(root, "committed_run", st->committed_run);
		time_format_rfc3339(st->committed_ms, t);
		cJSON_AddStringToObject(root, "committed_at", t);
	} else {
		cJSON_AddNullToObject(root, "committed_run");
	}
	if (plan_exists) {
		cJSON *pl = cJSON_ParseWithLength(plan_text.data, plan_text.len);
		cJSON *po = cJSON_AddObjectToObject(root, "interrupted_run");

		if (pl) {
			const char *rid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pl, "run_id"));

			cJSON_AddStringToObject(po, "run_id", rid ? rid : "?");
			cJSON_AddNumberToObject(po, "files", cJSON_GetArraySize(
				cJSON_GetObjectItemCaseSensitive(pl, "files")));
			cJSON_Delete(pl);
		}
	} else {
		cJSON_AddNullToObject(root, "interrupted_run");
	}
	{
		cJSON *parts = cJSON_AddArrayToObject(root, "pending");

		for (size_t i = 0; i < st->nparts; i++) {
			const pending_part *pp = &st->parts[i];
			cJSON *po = cJSON_CreateObject(), *subs = cJSON_CreateArray();
			char t[32];

			cJSON_AddStringToObject(po, "run_id", pp->run_id);
			for (size_t k = 0; k < pp->nsubs; k++)
				cJSON_AddItemToArray(subs, cJSON_CreateString(pp->subs[k]));
			cJSON_AddItemToObject(po, "subscribers", subs);
			cJSON_AddNumberToObject(po, "attempts", pp->attempts);
			cJSON_AddBoolToObject(po, "stuck", pp->attempts >= cfg->max_attempts);
			time_format_rfc3339(pp->first_ms, t);
			cJSON_AddStringToObject(po, "since", t);
			cJSON_AddStringToObject(po, "last_error", pp->last_error ? pp->last_error : "");
			cJSON_AddItemToArray(parts, po);
		}
	}
	for (size_t i = 0; i < st->nsources; i++) {
		const source_state *src = &st->sources[i];
		cJSON *so = cJSON_CreateObject(), *arr = cJSON_CreateArray();
		size_t nrec = 0, npois = 0, nfail = 0;
		char h[32];

		cJSON_AddStringToObject(so, "org_id", src->org_id);
		if (src->horizon_ms != INT64_MIN) {
			time_format_rfc3339(src->horizon_ms, h);
			cJSON_AddStringToObject(so, "horizon", h);
		}
		for (size_t j = 0; j < src->nfiles; j++) {
			const file_record *f = &src->files[j];

			if (f->removed)
				continue;
			nrec++;
			npois += f->poisoned;
			nfail += f->failures > 0 && !f->poisoned;
			if (files || f->poisoned || f->failures)
				cJSON_AddItemToArray(arr, record_json(cfg, src, f));
		}
		cJSON_AddNumberToObject(so, "files", (double)nrec);
		cJSON_AddNumberToObject(so, "failing", (double)nfail);
		cJSON_AddNumberToObject(so, "poisoned", (double)npois);
		cJSON_AddItemToObject(so, files ? "records" : "problems", arr);
		cJSON_AddItemToArray(sources, so);
	}
	if (json) {
		text = cJSON_PrintUnformatted(root);
		printf("%s\n", text);
		cJSON_free(text);
	} else {
		const cJSON *it, *rec;

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
		cJSON_ArrayForEach(it, sources) {
			const cJSON *hj = cJSON_GetObjectItemCaseSensitive(it, "horizon");

			printf("source %s: %d file record(s), %d failing, %d poisoned, horizon %s\n",
			       cJSON_GetObjectItemCaseSensitive(it, "org_id")->valuestring,
			       (int)cJSON_GetObjectItemCaseSensitive(it, "files")->valuedouble,
			       (int)cJSON_GetObjectItemCaseSensitive(it, "failing")->valuedouble,
			       (int)cJSON_GetObjectItemCaseSensitive(it, "poisoned")->valuedouble,
			       hj ? hj->valuestring : "none");
			cJSON_ArrayForEach(rec, cJSON_GetObjectItemCaseSensitive(it, files ? "records" : "problems")) {
				const cJSON *url = cJSON_GetObjectItemCaseSensitive(rec, "url");
				const cJSON *le = cJSON_GetObjectItemCaseSensitive(rec, "last_error");
				buf va = BUF_INIT, vb = BUF_INIT;   /* made visible */

				printf("  %s%s%s%s\n",
				       visible(&va, url ? url->valuestring :
					       cJSON_GetObjectItemCaseSensitive(rec, "key")->valuestring),
				       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "poisoned")) ? "  POISONED" : "",
				       le ? "  " : "", le ? visible(&vb, le->valuestring) : "");
				buf_release(&va);
				buf_release(&vb);
			}
		}
	}
	cJSON_Delete(root);
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
			state_usage();
			return ES_ERR_USAGE;
		}
	}
	if (!poisoned && !plan && !pending && first >= argc) {
		state_usage();
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
		state_usage();
		return ES_ERR_USAGE;
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
				state_usage();
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
		state_usage();
		r = ES_ERR_USAGE;
	}
done:
	state_data_free(st);
	state_close(ss);
	config_free(cfg);
	return r;
}
