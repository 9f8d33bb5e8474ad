/*
 * runner.h - one `evshare run`, start to end: the owner of the
 * exactly-once sequence.
 *
 *  1. An interrupted run (the plan journal, state.h) is finished first,
 *     with the configuration it was planned with, except that each
 *     subscriber's destination is the one configured now (a destination
 *     fixed after a failure is where its outputs go; a subscriber no
 *     longer configured is left out of it).  If it cannot be finished the
 *     run stops there: nothing newer is planned past it.
 *  2. Every pending part (state.h: a run's outputs still owed to
 *     subscribers whose destination failed) is tried again, oldest first,
 *     the same way, each under its own run id, keys and bytes.  One that
 *     fails again stays, its attempts counted; at max_attempts and beyond
 *     it is reported as stuck on every run.  Parts never stop the run.
 *  3. A new plan is made that serves no subscriber with a pending part
 *     (their files wait, the horizon below them), journaled, executed and
 *     committed.
 *
 * In 1 and 3 a subscriber whose destination fails is that subscriber's
 * problem alone: the others are delivered and committed, and its outputs
 * of the run become a pending part.  Nothing here exits or prints: the
 * command reports what runner_run() returns.
 */
#ifndef EVSHARE_RUNNER_H
#define EVSHARE_RUNNER_H

#include "config.h"
#include "plan.h"
#include "progress.h"
#include "run.h"
#include "state.h"

typedef struct runner_options {
	const plan_options *popt;   /* what the new plan selects */
	run_exec_options exec;      /* jobs, progress and the run's deadline
				       (run_timeout after its start) */
} runner_options;

/*
 * Steps 1 to 3 under the lock the caller holds.  *sum gets the new run's
 * summary (release it), with the interrupted run in sum->resumed, the
 * parts tried in sum->parts and the stuck subscribers in sum->stuck; when
 * the interrupted run could not be finished, *sum is its summary.
 * Returns ES_OK, or the failure that stopped the run (nothing of that
 * step committed).
 */
es_result runner_run(const config *cfg, state_store *ss, state_data *st,
		     const runner_options *opt, run_summary *sum);

/* Which subscribers of cfg have a pending part (per config.additional;
 * NULL when none has). */
bool *runner_held(const config *cfg, const state_data *st);

#endif
