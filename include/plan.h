/*
 * plan.h - what a run reads, in which order, for whom.
 *
 * plan_build() lists every selected source and keeps the files that are
 * new for at least one selected additional subscriber linked to it (see
 * state.h for "new"), ordered as DESIGN.md says: sources in config order,
 * then files by (last-modified time, key).  Each plan file carries the
 * subscribers it must be delivered to.
 *
 * A plan is written to the state directory (plan_to_json) before any
 * output is uploaded, together with the configuration text, so that an
 * interrupted run can be re-executed identically (plan_from_json).
 *
 * Ownership: a plan owns its files and arrays; plan_release() frees them.
 */
#ifndef EVSHARE_PLAN_H
#define EVSHARE_PLAN_H

#include "config.h"
#include "state.h"
#include "store.h"
#include "store_set.h"

#define RUN_ID_MAX 40

typedef struct plan_file {
	size_t source;            /* index into config.direct */
	store_object obj;
	size_t *subs;             /* indexes into config.additional */
	size_t nsubs;
	bool changed;             /* known before with another etag */
} plan_file;

typedef struct plan_skipped {
	size_t source;
	char *key;
	char *reason;
} plan_skipped;

typedef struct plan {
	char run_id[RUN_ID_MAX];
	int64_t started_ms;
	bool replay;
	plan_file *files;
	size_t nfiles, alloc;
	/* per source (config.direct order) */
	bool *listed;             /* listed in this run */
	int64_t *min_pending_ms;  /* oldest file left pending (not in plan), INT64_MAX if none */
	uint64_t objects_listed;
	/* poisoned files passed over, for the summary */
	plan_skipped *poisoned;
	size_t npoisoned, poisoned_alloc;
	/* sources that could not be listed (key ""), for the summary */
	plan_skipped *list_failures;
	size_t nlist_failures, list_failures_alloc;
	/* files that appeared below the horizon after it passed them (they
	 * are not read), for the summary */
	plan_skipped *late;
	size_t nlate, late_alloc;
	uint64_t late_unnamed;    /* more of them, too many to name */
	/* per source listed: the objects below below_until_ms (run start -
	 * lookback), for the state (not journaled) */
	sketch *below;
	int64_t below_until_ms;
} plan;

typedef struct plan_options {
	bool replay;
	bool has_since, has_until;
	int64_t since_ms, until_ms;   /* [since, until) on last-modified */
	const bool *source_selected;  /* per config.direct; NULL: all */
	const bool *sub_selected;     /* per config.additional; NULL: all */
	const bool *sub_held;         /* per config.additional, NULL: none; a
					 subscriber with a pending part (state.h):
					 served by no new plan until it is done */
} plan_options;

/* A fresh run id for a run started at now_ms: 20261127T004612Z-1a2b3c4d. */
void plan_new_run_id(int64_t now_ms, char out[RUN_ID_MAX]);

/* List the sources (their stores from `stores`, store_set.h) and build the
 * plan.  st may be NULL (no state yet).
 * A source that cannot be listed is logged and recorded in list_failures
 * while the others go on; if no source could be listed, the first error is
 * returned (ES_ERR_TEMP etc.) and there is no plan.
 *
 * What is planned: a file is owed to a subscriber when its record does not
 * list that subscriber as done (or its etag changed).  Files below the
 * source's horizon are considered only when their record still owes a
 * delivery (a retried failure, a forgotten file).  min_pending_ms keeps
 * the horizon below any file still owed to a subscriber this run does not
 * serve (--subscriber) or outside --since/--until. */
es_result plan_build(const config *cfg, const state_data *st,
		     const plan_options *opt, int64_t now_ms, store_set *stores, plan *out);
void plan_release(plan *p);

/* One warning per source whose poisoned files the plan passed over. */
void plan_warn_poisoned(const config *cfg, const plan *p);

/* A copy of p (made with a config of ndirect sources) cut down to the
 * files that were read ('o' in outcomes) for a subscriber keep[] names,
 * each with those subscribers only; no source counts as listed. */
void plan_restrict(const plan *p, size_t ndirect, const char *outcomes, const bool *keep,
		   plan *out);
/* Take subscriber a out of every file of p (the files stay, so that the
 * journal's outcomes still match them by index). */
void plan_drop_subscriber(plan *p, size_t a);

/* Serialise the plan with the configuration it was made with. */
char *plan_to_json(const plan *p, const config *cfg, size_t *len);
/* Parse a journal written by plan_to_json: the plan and its config. */
es_result plan_from_json(const char *text, size_t n, plan *out, config **cfg);

#endif
