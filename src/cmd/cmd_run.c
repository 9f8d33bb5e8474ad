/* cmd_run.c - `evshare run`: options, the run (runner.h), its summary,
 * metrics and exit status. */
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
#include "selection.h"
#include "state.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct run_opts {
	selection sel;
	bool dry_run, json, help;
	unsigned jobs;
	enum progress_mode progress;
	const char *metrics_path;
};

enum {
	OPT_JSON = SEL_OPT_END, OPT_DRY_RUN, OPT_JOBS, OPT_PROGRESS, OPT_NO_PROGRESS,
	OPT_METRICS_FILE
};

static const struct option run_long[] = {
	SELECTION_LONG_OPTIONS,
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "metrics-file", required_argument, NULL, OPT_METRICS_FILE },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void run_usage(FILE *out)
{
	fprintf(out, "usage: evshare [-c FILE] run [--since T] [--until T] "
		"[--source ORG]... [--subscriber ORG]... [--replay] [--json]\n"
		"       [--dry-run] [--jobs N] [--progress | --no-progress] "
		"[--metrics-file PATH]\n");
}

/* One option of run's own. */
static es_result run_option(struct run_opts *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case OPT_DRY_RUN:
		o->dry_run = true;
		return ES_OK;
	case OPT_JSON:
		o->json = true;
		return ES_OK;
	case OPT_JOBS:
		if (!parse_u64(arg, &v) || v > 256)
			return es_error(ES_ERR_USAGE, "--jobs: '%s' is not a number of "
					"threads from 0 to 256", arg);
		o->jobs = (unsigned)v;
		return ES_OK;
	case OPT_PROGRESS:
	case OPT_NO_PROGRESS:
		o->progress = c == OPT_PROGRESS ? PROGRESS_ALWAYS : PROGRESS_NEVER;
		return ES_OK;
	case OPT_METRICS_FILE:
		if (!*arg)
			break;
		o->metrics_path = arg;
		return ES_OK;
	case 'h':
		o->help = true;
		return ES_OK;
	}
	run_usage(stderr);
	return ES_ERR_USAGE;
}

static es_result parse_run_opts(int argc, char **argv, struct run_opts *o)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	es_result r = ES_OK;
	int c;

	memset(o, 0, sizeof(*o));
	o->jobs = ncpu > 0 ? (unsigned)ncpu : 1;
	optind = 1;
	while (r == ES_OK && !o->help && (c = getopt_long(argc, argv, "h", run_long, NULL)) != -1)
		r = c >= SEL_OPT_SINCE && c < SEL_OPT_END ? selection_option(&o->sel, c, optarg)
		    : run_option(o, c, optarg);
	if (o->help)            /* help stops the parsing, as everywhere */
		return r;
	if (r == ES_OK && optind < argc) {
		error("unexpected argument '%s'", argv[optind]);
		run_usage(stderr);
		r = ES_ERR_USAGE;
	}
	return r == ES_OK ? selection_check(&o->sel) : r;
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

/* run --dry-run: the plan a run would make, nothing written */
static es_result dry_run(const config *cfg, struct run_opts *o, metrics_run *mr)
{
	state_store *ss = NULL;
	state_data *st = NULL;
	run_summary sum;
	plan p;
	es_result r;

	if ((r = selection_state(cfg, &ss, &st)) == ES_OK &&
	    (r = selection_preview(cfg, ss, st, &o->sel, &p)) == ES_OK) {
		run_summary_init(&sum, cfg, &p);
		sum.dry_run = true;
		if (!o->json)
			selection_print(cfg, &p, false);
		r = finish(&sum, o->json, mr, ES_OK);
		run_summary_release(&sum);
		plan_release(&p);
	}
	state_data_free(st);
	state_close(ss);
	return r;
}

/* The run, under the state's lock: runner.h. */
static es_result real_run(const config *cfg, struct run_opts *o, metrics_run *mr)
{
	runner_options ro = { &o->sel.popt, { false, o->jobs, NULL, 0, store_set_new() } };
	int64_t start = time_now_ms();
	state_store *ss = NULL;
	state_data *st = NULL;
	progress *prog = NULL;
	run_summary sum;
	es_result r;

	if ((r = state_open(cfg->state_dir, true, &ss)) != ES_OK ||
	    (r = state_lock(ss)) != ES_OK || (r = state_load(ss, &st)) != ES_OK)
		goto done;
	/* -q turns the automatic progress line off, not a forced one */
	prog = progress_new(o->progress == PROGRESS_AUTO && !log_enabled(LOG_INFO)
			    ? PROGRESS_NEVER : o->progress, STDERR_FILENO);
	ro.exec.prog = prog;
	/* no file is begun after run_timeout; what was read is still
	 * delivered, each transfer within object_timeout, and no request
	 * goes on past both */
	ro.exec.deadline_ms = start + cfg->run_timeout_ms;
	http_set_deadline(start + cfg->run_timeout_ms + cfg->object_timeout_ms);
	r = runner_run(cfg, ss, st, &ro, &sum);
	progress_free(prog);
	r = finish(&sum, o->json, mr, r);
	run_summary_release(&sum);
done:
	store_set_free(ro.exec.stores);
	state_data_free(st);
	state_close(ss);
	return r;
}

es_result cmd_run(const struct global_opts *g, int argc, char **argv)
{
	struct run_opts o;
	config *cfg = NULL;
	metrics_run mr;
	es_result r;

	metrics_init(&mr, time_now_ms());
	r = parse_run_opts(argc, argv, &o);
	if (r == ES_OK && o.help) {
		run_usage(stdout);
		goto out;
	}
	if (r != ES_OK)         /* a usage error: no run, no metrics */
		goto out;
	mr.replay = o.sel.popt.replay;
	if (r == ES_OK && (r = config_load(g->config_path, &cfg)) == ES_OK &&
	    (r = selection_resolve(&o.sel, cfg)) == ES_OK)
		r = o.dry_run ? dry_run(cfg, &o, &mr) : real_run(cfg, &o, &mr);
	if (o.metrics_path && !o.dry_run) {
		mr.end_ms = time_now_ms();
		mr.exit_status = es_exit_status(r);
		mr.http_retries = http_retries_total();
		/* the run's exit status stands: the error is in the log */
		(void)metrics_write(o.metrics_path, &mr);
	}
out:
	metrics_release(&mr);
	config_free(cfg);
	selection_release(&o.sel);
	return r;
}
