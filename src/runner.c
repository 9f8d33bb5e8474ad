/* runner.c - one `evshare run`: interrupted run, pending parts, new plan. */
#include "runner.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool *runner_held(const config *cfg, const state_data *st)
{
	bool *held = NULL;

	for (size_t a = 0; a < cfg->nadditional; a++)
		if (state_part_of(st, cfg->additional[a].org_id)) {
			if (!held)
				held = xcalloc(cfg->nadditional, sizeof(bool));
			held[a] = true;
		}
	return held;
}

/*
 * A journaled run is finished with its own configuration but the
 * destinations configured now.  A subscriber no longer configured is
 * taken out of the plan; when dropped is given, its org_ids are added to
 * it (the caller takes them out of a pending part).
 */
static void adopt_destinations(config *jcfg, const config *cfg, plan *p, const char *run_id,
			       char ***dropped, size_t *ndropped)
{
	for (size_t a = 0; a < jcfg->nadditional; a++) {
		additional_subscriber *js = &jcfg->additional[a];
		ssize_t k = config_additional_index(cfg, js->org_id);

		if (k < 0) {
			log_msg(LOG_WARNING, js->destination.url, "subscriber '%s' of run %s is "
				"no longer configured: its outputs of that run are dropped",
				js->org_id, run_id);
			plan_drop_subscriber(p, a);
			if (dropped) {
				*dropped = xrealloc(*dropped, (*ndropped + 1) * sizeof(char *));
				(*dropped)[(*ndropped)++] = js->org_id;
			}
			continue;
		}
		if (strcmp(js->destination.url, cfg->additional[k].destination.url))
			info("run %s: the outputs of '%s' go to '%s', its destination now "
			     "(was '%s')", run_id, js->org_id, cfg->additional[k].destination.url,
			     js->destination.url);
		config_set_destination(jcfg, a, &cfg->additional[k].destination);
	}
}

/* Step 1: finish the run the plan journal holds, if any. */
static es_result finish_interrupted(const config *cfg, state_store *ss, state_data *st,
				    const runner_options *opt, run_summary **resumed)
{
	buf text = BUF_INIT;
	bool exists;
	plan p;
	config *jcfg = NULL;
	char *outcomes = NULL;
	run_summary *sum;
	es_result r;

	*resumed = NULL;
	if ((r = state_plan_load(ss, &text, &exists)) != ES_OK || !exists) {
		buf_release(&text);
		return r;
	}
	r = plan_from_json(text.data, text.len, &p, &jcfg);
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
	adopt_destinations(jcfg, cfg, &p, p.run_id, NULL, NULL);
	sum = xcalloc(1, sizeof(*sum));
	run_summary_init(sum, jcfg, &p);
	*resumed = sum;
	r = run_execute(jcfg, ss, &p, &opt->exec, outcomes, sum);
	if (r == ES_OK)
		r = run_commit(jcfg, ss, st, &p, sum, outcomes);
	if (r != ES_OK)
		sum->status = "failed";
done:
	free(outcomes);
	plan_release(&p);
	config_free(jcfg);
	return r;
}

static bool part_named(const state_data *st, const char *run_id)
{
	for (size_t i = 0; i < st->nparts; i++)
		if (!strcmp(st->parts[i].run_id, run_id))
			return true;
	return false;
}

/* A part that could not be tried, or failed as a whole: every subscriber
 * of it keeps it, one attempt more. */
static es_result part_failed(state_store *ss, state_data *st, const char *run_id,
			     const char *why)
{
	for (size_t i = 0; i < st->nparts; i++)
		if (!strcmp(st->parts[i].run_id, run_id))
			state_part_failed(&st->parts[i], why);
	return state_save(ss, st);
}

/* Step 2 for the part of run_id. */
static es_result finish_part(const config *cfg, state_store *ss, state_data *st,
			     const runner_options *opt, const char *run_id, run_summary *sum)
{
	buf text = BUF_INIT;
	plan p;
	config *jcfg = NULL;
	char *outcomes = NULL, **dropped = NULL;
	size_t ndropped = 0;
	es_result r;

	memset(&p, 0, sizeof(p));
	if ((r = state_part_load(ss, run_id, &text)) != ES_OK ||
	    (r = plan_from_json(text.data, text.len, &p, &jcfg)) != ES_OK) {
		buf_release(&text);
		memset(sum, 0, sizeof(*sum));
		snprintf(sum->run_id, sizeof(sum->run_id), "%s", run_id);
		sum->status = "failed";
		error("the outputs still owed of run %s cannot be finished: their plan "
		      "cannot be read; 'evshare state forget --pending ORG' drops them for "
		      "subscriber ORG (its files are then read for it again)", run_id);
		return part_failed(ss, st, run_id, "its plan cannot be read (see the log)");
	}
	buf_release(&text);
	adopt_destinations(jcfg, cfg, &p, run_id, &dropped, &ndropped);
	for (size_t i = 0; i < ndropped; i++)
		for (size_t k = 0; k < st->nparts; k++)
			if (!strcmp(st->parts[k].run_id, run_id)) {
				state_part_done(st, k, dropped[i]);
				break;
			}
	if (ndropped && !part_named(st, run_id)) {
		/* nobody is left to deliver it to */
		run_summary_init(sum, jcfg, &p);
		if ((r = state_save(ss, st)) == ES_OK)
			state_parts_prune(ss, st);
		goto done;
	}
	info("finishing the outputs of run %s still owed (%zu file(s))", run_id, p.nfiles);
	run_summary_init(sum, jcfg, &p);
	/* every file of a part was read when its run was executed */
	outcomes = xcalloc(p.nfiles + 1, 1);
	memset(outcomes, 'o', p.nfiles);
	{
		run_exec_options eo = opt->exec;

		eo.part = true;
		r = run_execute(jcfg, ss, &p, &eo, outcomes, sum);
	}
	if (r == ES_OK) {
		r = run_commit_part(jcfg, ss, st, &p, sum);
	} else {
		/* it failed as a whole: a failure of each of its subscribers */
		const pending_part *pp = NULL;

		for (size_t i = 0; i < st->nparts; i++)
			if (!strcmp(st->parts[i].run_id, run_id))
				pp = &st->parts[i];
		for (size_t k = 0; pp && k < pp->nsubs; k++) {
			ssize_t a = config_additional_index(jcfg, pp->subs[k]);

			if (a >= 0 && !sum->subs[a].error) {
				sum->subs[a].error = xstrdup(es_result_name(r));
				sum->subs[a].status = r;
				sum->subs[a].served = true;
			}
		}
		sum->status = "failed";
		r = part_failed(ss, st, run_id, es_result_name(r));
	}
done:
	free(dropped);
	free(outcomes);
	plan_release(&p);
	config_free(jcfg);
	return r;
}

/* Step 2: every pending part, oldest first; then who is stuck. */
static es_result finish_parts(const config *cfg, state_store *ss, state_data *st,
			      const runner_options *opt, run_summary **parts, size_t *nparts,
			      stuck_sub **stuck, size_t *nstuck)
{
	size_t n = st->nparts;
	char **ids = xcalloc(n + 1, sizeof(char *));
	es_result r = ES_OK;

	/* finishing a part changes st->parts */
	for (size_t i = 0; i < n; i++)
		ids[i] = xstrdup(st->parts[i].run_id);
	*parts = n ? xcalloc(n, sizeof(**parts)) : NULL;
	*nparts = 0;
	for (size_t i = 0; i < n && r == ES_OK; i++)
		r = finish_part(cfg, ss, st, opt, ids[i], &(*parts)[(*nparts)++]);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	*stuck = NULL;
	*nstuck = 0;
	for (size_t i = 0; i < st->nparts; i++) {
		const pending_part *pp = &st->parts[i];

		if (pp->attempts < cfg->max_attempts)
			continue;
		for (size_t k = 0; k < pp->nsubs; k++) {
			stuck_sub *ss_ = NULL;

			*stuck = xrealloc(*stuck, (*nstuck + 1) * sizeof(**stuck));
			ss_ = &(*stuck)[(*nstuck)++];
			ss_->org_id = xstrdup(pp->subs[k]);
			ss_->run_id = xstrdup(pp->run_id);
			ss_->reason = xstrdup(pp->last_error ? pp->last_error : "");
			ss_->attempts = pp->attempts;
			ss_->since_ms = pp->first_ms;
			log_msg(LOG_WARNING, NULL, "subscriber '%s' is stuck: its outputs of run %s "
				"failed %u runs in a row (%s); its files wait.  Fix its "
				"destination (the one configured now is used), or drop the "
				"part with 'evshare state forget --pending %s' (its files are "
				"then delivered again by a new run)", pp->subs[k], pp->run_id,
				pp->attempts, ss_->reason, pp->subs[k]);
		}
	}
	return r;
}

/* Did a listed source's objects below the horizon change since the state
 * last recorded them? */
static bool below_changed(const config *cfg, const state_data *st, const plan *p)
{
	for (size_t s = 0; p->below && s < cfg->ndirect; s++) {
		const source_state *src;

		if (!p->listed[s])
			continue;
		src = state_source((state_data *)st, cfg->direct[s].org_id, false);
		if (!src || !src->has_below || !sketch_equal(&src->below, &p->below[s]))
			return true;
	}
	return false;
}

es_result runner_run(const config *cfg, state_store *ss, state_data *st,
		     const runner_options *opt, run_summary *sum)
{
	run_summary *resumed = NULL, *parts = NULL;
	stuck_sub *stuck = NULL;
	size_t nparts = 0, nstuck = 0;
	plan_options popt = *opt->popt;
	bool *held = NULL;
	char *outcomes = NULL, *json = NULL;
	size_t json_len;
	plan p;
	es_result r;

	memset(&p, 0, sizeof(p));
	memset(sum, 0, sizeof(*sum));
	r = finish_interrupted(cfg, ss, st, opt, &resumed);
	if (r != ES_OK) {
		if (resumed) {
			*sum = *resumed;
			free(resumed);
		} else {     /* the journal could not even be read: no run */
			sum->status = "failed";
		}
		return r;
	}
	r = finish_parts(cfg, ss, st, opt, &parts, &nparts, &stuck, &nstuck);
	held = runner_held(cfg, st);
	popt.sub_held = held;
	if (r == ES_OK)
		r = plan_build(cfg, st, &popt, time_now_ms(), opt->exec.stores, &p);
	if (r != ES_OK) {
		run_summary_init(sum, cfg, &p);
		sum->status = "failed";
		goto attach;
	}
	plan_warn_poisoned(cfg, &p);
	run_summary_init(sum, cfg, &p);
	sum->resumed = resumed;
	resumed = NULL;
	if (p.nfiles == 0) {
		/* nothing was owed; the state is written only when what was
		 * listed below the horizon changed (so that a late file is told
		 * once) */
		if (!p.replay && below_changed(cfg, st, &p))
			r = run_commit(cfg, ss, st, &p, sum, "");
		else
			sum->committed = true;
		goto attach;
	}
	info("run %s: %zu file(s) to read%s", p.run_id, p.nfiles, p.replay ? " (replay)" : "");
	json = plan_to_json(&p, cfg, &json_len);
	if ((r = state_plan_save(ss, json, json_len)) != ES_OK) {
		sum->status = "failed";
		goto attach;
	}
	outcomes = xcalloc(p.nfiles + 1, 1);
	r = run_execute(cfg, ss, &p, &opt->exec, outcomes, sum);
	if (r == ES_OK)
		r = run_commit(cfg, ss, st, &p, sum, outcomes);
	if (r != ES_OK) {
		sum->status = "failed";
		error("run %s failed; nothing was committed, and the next run finishes it",
		      p.run_id);
	}
attach:
	if (resumed) {
		sum->resumed = resumed;
	}
	sum->parts = parts;
	sum->nparts = nparts;
	sum->stuck = stuck;
	sum->nstuck = nstuck;
	plan_release(&p);
	free(held);
	free(json);
	free(outcomes);
	return r;
}
