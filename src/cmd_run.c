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
#include "runner.h"
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

/* Did a subscriber's destination fail in this run or the runs it
 * finished first? */
static bool subscriber_failed(const run_summary *s)
{
	for (size_t i = 0; i < s->nsubs; i++)
		if (s->subs[i].error)
			return true;
	return false;
}

static bool anything_owed(const run_summary *s)
{
	if (s->files_failed || s->files_deferred || s->nfailed_sources || subscriber_failed(s))
		return true;
	if (s->resumed && anything_owed(s->resumed))
		return true;
	for (size_t i = 0; i < s->nparts; i++)
		if (anything_owed(&s->parts[i]) || !strcmp(s->parts[i].status, "failed"))
			return true;
	return false;
}

/* Over a run and those it finished first: the first subscriber failure,
 * and whether any subscriber served was delivered. */
static void subscriber_outcomes(const run_summary *s, es_result *first_failure,
				bool *delivered)
{
	for (size_t i = 0; i < s->nsubs; i++) {
		if (s->subs[i].error && *first_failure == ES_OK)
			*first_failure = s->subs[i].status ? s->subs[i].status : ES_ERR_REMOTE;
		else if (!s->subs[i].error && s->subs[i].served)
			*delivered = true;
	}
	if (s->resumed)
		subscriber_outcomes(s->resumed, first_failure, delivered);
	for (size_t i = 0; i < s->nparts; i++)
		subscriber_outcomes(&s->parts[i], first_failure, delivered);
}

/*
 * The exit status: the run's own failure; else, when subscribers' outputs
 * failed and no subscriber's succeeded, the first of those failures (77
 * for refused keys, 69 for a missing bucket...: a run that delivered
 * nothing says why); else 1 when anything is owed; else 0.
 */
static es_result finish(const run_summary *sum, bool json, metrics_run *mr, es_result r)
{
	es_result first_failure = ES_OK;
	bool delivered = false;

	metrics_add_summary(mr, sum);
	if (json)
		report_json(stdout, sum);
	else if (log_enabled(LOG_INFO))
		report_text(stdout, sum);
	fflush(stdout);
	if (r != ES_OK)
		return r;
	subscriber_outcomes(sum, &first_failure, &delivered);
	if (first_failure != ES_OK && !delivered)
		return first_failure;
	return anything_owed(sum) ? ES_ERR_PARTIAL : ES_OK;
}

/* list, and run --dry-run: the plan a run would make, nothing written */
static es_result show_plan(const config *cfg, state_store *ss, state_data *st,
			   struct run_opts *o, bool is_run, metrics_run *mr)
{
	bool *held = runner_held(cfg, st);
	plan_options popt = o->popt;
	run_summary sum;
	plan p;
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
	r = plan_build(cfg, st, &popt, time_now_ms(), &p);
	free(held);
	if (r != ES_OK)
		return r;
	plan_warn_poisoned(cfg, &p);
	if (!is_run) {
		print_plan(cfg, &p, o->json);
		plan_release(&p);
		return ES_OK;
	}
	run_summary_init(&sum, cfg, &p);
	sum.dry_run = true;
	if (!o->json)
		print_plan(cfg, &p, false);
	r = finish(&sum, o->json, mr, ES_OK);
	run_summary_release(&sum);
	plan_release(&p);
	return r;
}

static es_result do_run(const struct global_opts *g, int argc, char **argv, bool is_run)
{
	struct run_opts o;
	char **sources = NULL, **subs = NULL;
	size_t nsources = 0, nsubs = 0;
	config *cfg = NULL;
	state_store *ss = NULL;
	state_data *st = NULL;
	run_summary sum;
	bool have_sum = false, writing, want_metrics = false;
	progress *prog = NULL;
	metrics_run mr;
	es_result r;

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
	if (!writing) {
		r = show_plan(cfg, ss, st, &o, is_run, &mr);
		goto out;
	}
	{
		runner_options ro = { &o.popt, { false, o.jobs, NULL, 0 } };
		int64_t start = time_now_ms();

		/* -q turns the automatic progress line off, not a forced one */
		prog = progress_new(o.progress == PROGRESS_AUTO && !log_enabled(LOG_INFO)
				    ? PROGRESS_NEVER : o.progress, STDERR_FILENO);
		ro.exec.prog = prog;
		/* no file is begun after run_timeout; what was read is still
		 * delivered, each transfer within object_timeout, and no
		 * request goes on past both */
		ro.exec.deadline_ms = start + cfg->run_timeout_ms;
		http_set_deadline(start + cfg->run_timeout_ms + cfg->object_timeout_ms);
		r = runner_run(cfg, ss, st, &ro, &sum);
		have_sum = true;
		r = finish(&sum, o.json, &mr, r);
	}
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
