/* cmd_run.c - `evshare run` and `evshare list`. */
#include "cmd.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "plan.h"
#include "progress.h"
#include "report.h"
#include "run.h"
#include "state.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct run_opts {
	bool dry_run, json, replay;
	unsigned jobs;
	enum progress_mode progress;
	const char *metrics_path;
	plan_options popt;
	bool *source_selected;
	bool *sub_selected;
};

enum {
	OPT_SINCE = 256, OPT_UNTIL, OPT_SOURCE, OPT_SUBSCRIBER, OPT_REPLAY,
	OPT_JSON, OPT_DRY_RUN, OPT_JOBS, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_METRICS_FILE
};

static const struct option run_long[] = {
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "subscriber", required_argument, NULL, OPT_SUBSCRIBER },
	{ "replay", no_argument, NULL, OPT_REPLAY },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "metrics-file", required_argument, NULL, OPT_METRICS_FILE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void run_usage(const char *cmd)
{
	fprintf(stderr, "usage: evshare [-c FILE] %s [--since T] [--until T] "
		"[--source ORG]... [--subscriber ORG]... [--replay] [--json]%s\n",
		cmd, strcmp(cmd, "run") ? "" : " [--dry-run] [--jobs N]\n"
		"       [--progress | --no-progress] [--metrics-file PATH]");
}

/* Parse options; the selections need the config, so they are kept as
 * strings until it is loaded. */
static es_result parse_run_opts(int argc, char **argv, bool is_run,
				struct run_opts *o, char ***sources, size_t *nsources,
				char ***subs, size_t *nsubs)
{
	int c;

	memset(o, 0, sizeof(*o));
	{
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		o->jobs = n > 0 ? (unsigned)n : 1;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", run_long, NULL)) != -1) {
		switch (c) {
		case OPT_DRY_RUN:
			if (!is_run)
				goto bad;
			o->dry_run = true;
			break;
		case OPT_SINCE:
			if (!time_parse_rfc3339(optarg, &o->popt.since_ms))
				return es_error(ES_ERR_USAGE, "--since: '%s' is not an RFC 3339 "
						"time (2026-11-27T00:00:00Z)", optarg);
			o->popt.has_since = true;
			break;
		case OPT_UNTIL:
			if (!time_parse_rfc3339(optarg, &o->popt.until_ms))
				return es_error(ES_ERR_USAGE, "--until: '%s' is not an RFC 3339 "
						"time (2026-11-27T00:00:00Z)", optarg);
			o->popt.has_until = true;
			break;
		case OPT_SOURCE:
			*sources = xrealloc(*sources, (*nsources + 1) * sizeof(char *));
			(*sources)[(*nsources)++] = optarg;
			break;
		case OPT_SUBSCRIBER:
			*subs = xrealloc(*subs, (*nsubs + 1) * sizeof(char *));
			(*subs)[(*nsubs)++] = optarg;
			break;
		case OPT_REPLAY:
			o->replay = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_JOBS: {
			uint64_t v;

			if (!is_run || !parse_u64(optarg, &v) || v > 256)
				return es_error(ES_ERR_USAGE, "--jobs: '%s' is not a number of "
						"threads from 0 to 256", optarg);
			o->jobs = (unsigned)v;
			break;
		}
		case OPT_PROGRESS:
		case OPT_NO_PROGRESS:
			if (!is_run)
				goto bad;
			o->progress = c == OPT_PROGRESS ? PROGRESS_ALWAYS : PROGRESS_NEVER;
			break;
		case OPT_METRICS_FILE:
			if (!is_run || !*optarg)
				goto bad;
			o->metrics_path = optarg;
			break;
		case 'h':
			run_usage(argv[0]);
			exit(0);
		default:
			goto bad;
		}
	}
	if (optind < argc) {
		error("unexpected argument '%s'", argv[optind]);
		goto bad;
	}
	if (o->popt.has_since && o->popt.has_until && o->popt.since_ms >= o->popt.until_ms)
		return es_error(ES_ERR_USAGE, "--since must be earlier than --until");
	o->popt.replay = o->replay;
	return ES_OK;
bad:
	run_usage(argv[0]);
	return ES_ERR_USAGE;
}

static es_result select_orgs(const config *cfg, struct run_opts *o, char **sources,
			     size_t nsources, char **subs, size_t nsubs)
{
	if (nsources) {
		o->source_selected = xcalloc(cfg->ndirect + 1, sizeof(bool));
		for (size_t i = 0; i < nsources; i++) {
			ssize_t k = config_direct_index(cfg, sources[i]);

			if (k < 0)
				return es_error(ES_ERR_USAGE, "--source: '%s' is not a direct "
						"subscriber in '%s'", sources[i], cfg->path);
			o->source_selected[k] = true;
		}
		o->popt.source_selected = o->source_selected;
	}
	if (nsubs) {
		o->sub_selected = xcalloc(cfg->nadditional + 1, sizeof(bool));
		for (size_t i = 0; i < nsubs; i++) {
			ssize_t k = config_additional_index(cfg, subs[i]);

			if (k < 0)
				return es_error(ES_ERR_USAGE, "--subscriber: '%s' is not an "
						"additional subscriber in '%s'", subs[i], cfg->path);
			o->sub_selected[k] = true;
		}
		o->popt.sub_selected = o->sub_selected;
	}
	return ES_OK;
}

static void print_plan(const config *cfg, const plan *p, bool json)
{
	for (size_t i = 0; i < p->nfiles; i++) {
		const plan_file *f = &p->files[i];
		const direct_subscriber *d = &cfg->direct[f->source];
		char *url = location_key_url(&d->source, f->obj.key);
		char mt[32];

		time_format_rfc3339(f->obj.mtime_ms, mt);
		if (json) {
			buf b = BUF_INIT;

			buf_addstr(&b, "{\"source\":");
			buf_add_json_string(&b, d->org_id, strlen(d->org_id));
			buf_addstr(&b, ",\"url\":");
			buf_add_json_string(&b, url, strlen(url));
			buf_addstr(&b, ",\"key\":");
			buf_add_json_string(&b, f->obj.key, strlen(f->obj.key));
			buf_printf(&b, ",\"size\":%llu,\"last_modified\":\"%s\",\"subscribers\":[",
				   (unsigned long long)f->obj.size, mt);
			for (size_t k = 0; k < f->nsubs; k++) {
				const char *org = cfg->additional[f->subs[k]].org_id;

				if (k)
					buf_addch(&b, ',');
				buf_add_json_string(&b, org, strlen(org));
			}
			buf_addstr(&b, "]}");
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

/* Finish an interrupted run, if the journal holds one. */
static es_result resume_plan(state_store *ss, state_data *st, unsigned jobs,
			     progress *prog, run_summary **resumed)
{
	buf text = BUF_INIT;
	bool exists;
	plan p;
	config *pcfg = NULL;
	char *outcomes = NULL;
	run_summary *sum;
	es_result r;

	*resumed = NULL;
	if ((r = state_plan_load(ss, &text, &exists)) != ES_OK || !exists) {
		buf_release(&text);
		return r;
	}
	r = plan_from_json(text.data, text.len, &p, &pcfg);
	buf_release(&text);
	if (r != ES_OK)
		return r;
	if (st->committed_run && !strcmp(st->committed_run, p.run_id)) {
		/* committed, but the journal was not yet cleared */
		r = state_plan_clear(ss);
		state_spool_remove(ss, p.run_id);
		goto done;
	}
	outcomes = xcalloc(p.nfiles + 1, 1);
	if ((r = state_plan_outcomes(ss, outcomes, p.nfiles)) != ES_OK)
		goto done;
	info("finishing interrupted run %s (%zu files) before anything else", p.run_id,
	     p.nfiles);
	sum = xcalloc(1, sizeof(*sum));
	run_summary_init(sum, pcfg, &p);
	*resumed = sum;
	r = run_execute(pcfg, ss, &p, jobs, prog, outcomes, sum);
	if (r == ES_OK)
		r = run_commit(pcfg, ss, st, &p, sum, outcomes);
	if (r != ES_OK)
		sum->status = "failed";
done:
	free(outcomes);
	plan_release(&p);
	config_free(pcfg);
	return r;
}

static es_result finish(const run_summary *sum, bool json, metrics_run *mr, es_result r)
{
	metrics_add_summary(mr, sum);
	if (json)
		report_json(stdout, sum);
	else if (log_enabled(LOG_INFO))
		report_text(stdout, sum);
	fflush(stdout);
	if (r != ES_OK)
		return r;
	if (sum->files_failed || sum->files_deferred || sum->nfailed_sources ||
	    (sum->resumed && (sum->resumed->files_failed || sum->resumed->files_deferred)))
		return ES_ERR_PARTIAL;
	return ES_OK;
}

static es_result do_run(const struct global_opts *g, int argc, char **argv, bool is_run)
{
	struct run_opts o;
	char **sources = NULL, **subs = NULL;
	size_t nsources = 0, nsubs = 0;
	config *cfg = NULL;
	state_store *ss = NULL;
	state_data *st = NULL;
	run_summary sum, *resumed = NULL;
	plan p;
	char *outcomes = NULL, *json = NULL;
	size_t json_len;
	bool have_plan = false, have_sum = false, writing, want_metrics = false;
	progress *prog = NULL;
	metrics_run mr;
	es_result r;

	memset(&p, 0, sizeof(p));
	metrics_init(&mr, time_now_ms());
	r = parse_run_opts(argc, argv, is_run, &o, &sources, &nsources, &subs, &nsubs);
	if (r != ES_OK)
		goto out;
	want_metrics = o.metrics_path && !o.dry_run;
	mr.replay = o.replay;
	if ((r = config_load(g->config_path, &cfg)) != ES_OK)
		goto out;
	if ((r = select_orgs(cfg, &o, sources, nsources, subs, nsubs)) != ES_OK)
		goto out;
	writing = is_run && !o.dry_run;
	if (!writing && access(cfg->state_dir, F_OK) < 0) {
		/* list and dry runs work before the first run made the state */
		st = xcalloc(1, sizeof(*st));
	} else if ((r = state_open(cfg->state_dir, writing, &ss)) != ES_OK) {
		goto out;
	} else {
		if (writing && (r = state_lock(ss)) != ES_OK)
			goto out;
		if ((r = state_load(ss, &st)) != ES_OK)
			goto out;
	}
	if (writing) {
		/* -q turns the automatic progress line off, not a forced one */
		prog = progress_new(o.progress == PROGRESS_AUTO && !log_enabled(LOG_INFO)
				    ? PROGRESS_NEVER : o.progress, STDERR_FILENO);
		r = resume_plan(ss, st, o.jobs, prog, &resumed);
		if (r != ES_OK) {
			if (resumed) {
				r = finish(resumed, o.json, &mr, r);
				run_summary_release(resumed);
				free(resumed);
			}
			goto out;
		}
	} else if (ss) {
		buf text = BUF_INIT;
		bool exists = false;

		if (state_plan_load(ss, &text, &exists) == ES_OK && exists)
			warning("an interrupted run is pending in '%s'; the next run finishes "
				"it first", cfg->state_dir);
		buf_release(&text);
	}
	r = plan_build(cfg, st, &o.popt, time_now_ms(), &p);
	if (r != ES_OK) {
		if (resumed) {
			run_summary_release(resumed);
			free(resumed);
		}
		goto out;
	}
	have_plan = true;
	for (size_t s = 0; s < cfg->ndirect; s++) {
		/* one warning per source, naming it: not one per file every run */
		size_t n = 0;

		for (size_t i = 0; i < p.npoisoned; i++)
			n += p.poisoned[i].source == s;
		if (n)
			log_msg(LOG_WARNING, cfg->direct[s].source.url, "%zu poisoned file(s) "
				"under '%s' skipped; 'evshare state show' lists them and "
				"'evshare state forget URL' re-enables one", n,
				cfg->direct[s].source.url);
	}
	if (!is_run) {
		print_plan(cfg, &p, o.json);
		goto out;
	}
	run_summary_init(&sum, cfg, &p);
	have_sum = true;
	sum.resumed = resumed;
	sum.dry_run = o.dry_run;
	if (o.dry_run) {
		if (!o.json)
			print_plan(cfg, &p, false);
		r = finish(&sum, o.json, &mr, ES_OK);
		goto out;
	}
	if (p.nfiles == 0) {
		sum.committed = true;   /* nothing was owed */
		r = finish(&sum, o.json, &mr, ES_OK);
		goto out;
	}
	info("run %s: %zu file(s) to read%s", p.run_id, p.nfiles, p.replay ? " (replay)" : "");
	json = plan_to_json(&p, cfg, &json_len);
	if ((r = state_plan_save(ss, json, json_len)) != ES_OK) {
		sum.status = "failed";
		r = finish(&sum, o.json, &mr, r);
		goto out;
	}
	outcomes = xcalloc(p.nfiles + 1, 1);
	r = run_execute(cfg, ss, &p, o.jobs, prog, outcomes, &sum);
	if (r == ES_OK)
		r = run_commit(cfg, ss, st, &p, &sum, outcomes);
	if (r != ES_OK) {
		sum.status = "failed";
		error("run %s failed; nothing was committed, and the next run finishes it",
		      p.run_id);
	}
	r = finish(&sum, o.json, &mr, r);
out:
	progress_free(prog);
	if (want_metrics) {
		mr.end_ms = time_now_ms();
		mr.exit_status = es_exit_status(r);
		mr.http_retries = http_retries_total();
		/* the run's exit status stands: the error is in the log */
		(void)metrics_write(o.metrics_path, &mr);
	}
	metrics_release(&mr);
	if (have_sum)
		run_summary_release(&sum);
	if (have_plan)
		plan_release(&p);
	free(json);
	free(outcomes);
	state_data_free(st);
	state_close(ss);
	config_free(cfg);
	free(sources);
	free(subs);
	free(o.source_selected);
	free(o.sub_selected);
	return r;
}

es_result cmd_run(const struct global_opts *g, int argc, char **argv)
{
	return do_run(g, argc, argv, true);
}

es_result cmd_list(const struct global_opts *g, int argc, char **argv)
{
	return do_run(g, argc, argv, false);
}
