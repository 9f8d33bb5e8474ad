/*
 * run.h - execute a plan and commit its results.
 *
 * run_execute() reads the plan's files in order, each in one pass: the
 * bytes are decompressed, split into lines, each line validated
 * (event.h), checked against the tenant guard (its org_id must be the
 * source's) and offered to the filters of the file's subscribers, whose
 * sinks get the matching lines at once; bad lines go to the quarantine
 * (quarantine.h).  An object holding a file's lines becomes visible only
 * once that file was read to its end and its outcome journaled.
 *
 * A file fails as a whole: corrupt gzip, unreadable ('f': retried next
 * run, poisoned after max_attempts), or past a bound on what one file may
 * cost, max_file_bytes, max_inflate_ratio or max_quarantine_per_file ('p':
 * poisoned at once).  Its quarantine records are dropped; when some of its
 * lines had already reached a sink, the attempt is abandoned and the run
 * starts over without it, checking each gzip file before delivering it
 * (each restart fails one more file for good, so they end).  Files wait
 * for the next run ('d', nothing counted against them) once the run's
 * quarantine passed max_quarantine_per_run, and once run_timeout passed
 * (files of an interrupted run that must be read again excepted).  After
 * a file was read, a failure can only come from this machine or a source
 * changed in between, and fails the run (nothing is committed).
 *
 * A subscriber whose destination fails (its sink's putter) fails alone:
 * its sink stops and takes back what it sent, the others go on, and the
 * commit keeps its outputs of the run owed (state.h, pending_part).
 *
 * When re-executing an interrupted plan, `outcomes` holds the outcomes
 * journaled before the interruption: files that failed or waited then are
 * not read, and a file that succeeded then must succeed again (else the
 * run fails: it cannot reproduce what may already have been delivered).
 *
 * run_commit() records the results in the state (not for replays) and
 * clears the journal; run_commit_part() does the same for a pending part.
 *
 * Progress (progress.h) is counted where the summary is: files done,
 * bytes read, events matched; the line is redrawn when due, checked once
 * per chunk read and once per file, never per line.
 */
#ifndef EVSHARE_RUN_H
#define EVSHARE_RUN_H

#include "config.h"
#include "plan.h"
#include "progress.h"
#include "state.h"
#include "store_set.h"

typedef struct sub_summary {
	char *org_id;            /* owned */
	uint64_t matched, duplicates, events;
	char **objects;          /* URLs, owned */
	size_t nobjects;
	char *error;             /* its destination failed: why (owned); its
				    outputs of the run are still owed */
	es_result status;        /* ES_OK, or the kind of that failure */
	bool served;             /* the run had files for it */
} sub_summary;

typedef struct file_problem {
	size_t index;            /* plan file index (failed files) */
	char *url;
	char *reason;
} file_problem;

/* A subscriber whose pending part has failed max_attempts runs or more. */
typedef struct stuck_sub {
	char *org_id, *run_id, *reason;   /* owned */
	unsigned attempts;
	int64_t since_ms;
} stuck_sub;

typedef struct run_summary {
	char run_id[RUN_ID_MAX];
	const char *status;      /* "ok", "partial", "failed" */
	bool replay, dry_run;
	uint64_t files_listed, files_planned, files_processed, files_failed;
	uint64_t files_deferred;  /* not read: they wait for the next run */
	uint64_t files_late;      /* not read: they appeared below the horizon */
	uint64_t ev_read, ev_malformed, ev_rejected, ev_matched, ev_duplicates, ev_written;
	uint64_t bytes_read, bytes_written;
	sub_summary *subs;
	size_t nsubs;
	file_problem *failed;    /* files that failed in this run */
	size_t nfailed;
	file_problem *poisoned;  /* files skipped as poisoned, or poisoned now */
	size_t npoisoned;
	file_problem *failed_sources;  /* sources that could not be listed */
	size_t nfailed_sources;
	file_problem *late;      /* files that appeared below the horizon (named) */
	size_t nlate;
	bool committed;          /* the run's results are recorded (or, for a
				  * replay, it completed); false: nothing was */
	char *quarantine;        /* path of the quarantine file, if any line went there */
	double elapsed_s;
	struct run_summary *resumed;   /* an interrupted run finished first */
	struct run_summary *parts;     /* pending parts tried before this run */
	size_t nparts;
	stuck_sub *stuck;              /* after them: the stuck subscribers */
	size_t nstuck;
} run_summary;

void run_summary_init(run_summary *s, const config *cfg, const plan *p);
void run_summary_release(run_summary *s);

/* How a plan is executed. */
typedef struct run_exec_options {
	bool part;              /* p is a pending part: its quarantine is not
				   written again */
	unsigned jobs;          /* compression threads (0: in this thread) */
	progress *prog;         /* the progress line, or NULL */
	int64_t deadline_ms;    /* run_timeout: no file is begun after it */
	store_set *stores;      /* where every store of the run is opened, once */
} run_exec_options;

/* outcomes: one byte per plan file; on entry the journaled outcomes of an
 * interrupted run ('o', 'f', 'p', 'd') or 0, on return one of them for
 * every file reached.  A subscriber whose destination fails is that
 * subscriber's failure (sum->subs[a].error), not the run's.  The progress
 * line is erased before this returns.
 * Returns ES_OK when every output was put (some files may have failed: see
 * sum), else the failure (nothing may be committed). */
es_result run_execute(const config *cfg, state_store *ss, const plan *p,
		      const run_exec_options *opt, char *outcomes, run_summary *sum);
/* Record the run in st and save it (a replay records nothing), then
 * clear the plan journal and the spool.  Subscribers whose destination
 * failed (sum->subs[].error) get nothing marked done: their part of the
 * plan is kept (state.h, pending_part) and the horizon stays below it. */
es_result run_commit(const config *cfg, state_store *ss, state_data *st,
		     const plan *p, run_summary *sum, const char *outcomes);

/* Record what the re-execution of pending part p delivered: its files
 * done for the subscribers that succeeded, who leave the part; the
 * others' attempts are counted. */
es_result run_commit_part(const config *cfg, state_store *ss, state_data *st,
			  const plan *p, run_summary *sum);

#endif
