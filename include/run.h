/*
 * run.h - execute a plan and commit its results.
 *
 * run_execute() reads the plan's files in order.  A gzip file is read
 * twice: first only decompressed, to verify every member (a remote object
 * is copied to the spool meanwhile, so the second read is local); once it
 * is good its outcome is appended to the plan journal, and the second read
 * streams it through the line splitter; each line is validated (event.h),
 * checked against the tenant guard (its org_id must be the source's), and
 * offered to the filters of the file's subscribers, whose sinks get the
 * matching lines at once.  A file that fails (corrupt gzip, unreadable)
 * therefore forwards nothing and quarantines nothing; a failure after
 * verification can only come from this machine or a source changed in
 * between, and fails the run (nothing is committed).
 *
 * When re-executing an interrupted plan, `outcomes` holds the outcomes
 * journaled before the interruption: files that failed then are failed
 * again without being read, and a file that succeeded then must succeed
 * again (else the run fails: it cannot reproduce what may already have
 * been delivered).
 *
 * run_commit() records the results in the state (not for replays) and
 * clears the journal.
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

typedef struct sub_summary {
	char *org_id;            /* owned */
	uint64_t matched, duplicates, events;
	char **objects;          /* URLs, owned */
	size_t nobjects;
} sub_summary;

typedef struct file_problem {
	size_t index;            /* plan file index (failed files) */
	char *url;
	char *reason;
} file_problem;

typedef struct run_summary {
	char run_id[RUN_ID_MAX];
	const char *status;      /* "ok", "partial", "failed" */
	bool replay, dry_run;
	uint64_t files_listed, files_planned, files_processed, files_failed;
	uint64_t files_deferred;  /* not read: they wait for the next run */
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
	bool committed;          /* the run's results are recorded (or, for a
				  * replay, it completed); false: nothing was */
	char *quarantine;        /* path of the quarantine file, if any line went there */
	double elapsed_s;
	struct run_summary *resumed;   /* an interrupted run finished first */
} run_summary;

void run_summary_init(run_summary *s, const config *cfg, const plan *p);
void run_summary_release(run_summary *s);

/* outcomes: one byte per plan file; on entry the journaled outcomes of an
 * interrupted run ('o', 'f') or 0, on return 'o' or 'f' for every file
 * reached.  jobs: compression threads (0: compress in this thread).
 * prog: the progress line, or NULL; it is erased before this returns.
 * Returns ES_OK when every output was put (some files may have failed: see
 * sum), else the failure (nothing may be committed). */
es_result run_execute(const config *cfg, state_store *ss, const plan *p,
		      unsigned jobs, progress *prog, char *outcomes, run_summary *sum);
/* Record the run in st and save it (a replay records nothing), then
 * clear the plan journal and the spool. */
es_result run_commit(const config *cfg, state_store *ss, state_data *st,
		     const plan *p, run_summary *sum, const char *outcomes);

#endif
