/*
 * state.h - what has been processed, the plan journal, and the lock.
 *
 * The state lives in a directory (state_dir):
 *   lock                 flock(2) target: one run at a time
 *   state.json           processed files, failures, poisoned files
 *   plan.json            the plan of the run in progress (journal)
 *   plan.outcomes        one line per finished input file of that plan
 *   quarantine/RUN.ndjson  bad lines of each run
 *   spool/RUN/           output objects being written (removed after)
 *   parts/RUN.json       the plan of a run, cut down to the subscribers
 *                        whose outputs are still owed (see pending_part)
 *
 * Every write of state.json and plan.json is atomic (write_file_atomic_at:
 * a temporary "NAME.tmp.RANDOM", fsync, rename, fsync of the directory);
 * the temporaries a crash left are removed after the next write of the
 * same file.  plan.outcomes is append-only and fsync'ed per line; a torn
 * last line is ignored.
 *
 * Trust: what is in the state decides what is delivered to whom (plan.json
 * even carries the configuration of the interrupted run), and a run may be
 * root's, so the state must be writable by the user evshare runs as only.
 * state_open() opens the directory once, never through a symbolic link
 * at its last component (the directories above it are the operator's:
 * links there are followed), and every file and directory of the state
 * is then opened relative to it with O_NOFOLLOW and checked on its
 * descriptor (fstat):
 *   - the directory, quarantine/, spool/ and spool/'s entries are
 *     directories, the files regular files (a FIFO is never waited on);
 *   - nothing is writable by group or others (mode & 022), whatever the
 *     command: otherwise another user could plant or change a file;
 *   - for a store opened to write (state_open's `writing`: run, state
 *     forget), everything belongs to the effective user: a root run never
 *     works in another user's state.  A read-only look (list, run
 *     --dry-run, state show) may read another user's state, for root to
 *     inspect the service user's.
 * What fails a check is refused with ES_ERR_IO and one message naming
 * the path, the fault and the fix.  A store opened read-only refuses the
 * functions that write (ES_ERR_INTERNAL: a bug of the caller).
 *
 * The model: per source (a direct subscriber), a horizon time and the
 * records of files seen.  A file is new for an additional subscriber when
 * its last-modified time is at or after the horizon and its record does
 * not list that subscriber as done (or its etag changed).  Records older
 * than the horizon are pruned; the horizon moves forward to
 * (run start - lookback) but never past a file that is still pending, so
 * state size is bounded by the lookback window.  Poisoned files are kept
 * until forgotten.
 *
 * This module is the only one that knows the directory layout, so a
 * bucket-backed state can replace it behind the same functions.
 */
#ifndef EVSHARE_STATE_H
#define EVSHARE_STATE_H

#include "sketch.h"
#include "store.h"
#include "strmap.h"
#include "util.h"

#define STATE_VERSION 1

typedef struct file_record {
	char *key;
	char *etag;
	uint64_t size;
	int64_t mtime_ms;
	char **done;            /* org_ids of subscribers that have it */
	size_t ndone;
	char *run_id;           /* the last run that read it */
	unsigned failures;      /* consecutive failed attempts */
	bool poisoned;
	char *last_error;
	bool removed;           /* pruned or forgotten: not saved */
} file_record;

typedef struct source_state {
	char *org_id;
	int64_t horizon_ms;     /* INT64_MIN: never listed */
	/* the objects listed below below_until_ms by the last committed run
	 * that listed the source: a file found there later appeared late */
	bool has_below;
	int64_t below_until_ms;
	sketch below;
	file_record *files;
	size_t nfiles, alloc;
	strmap by_key;
} source_state;

/*
 * A committed run whose outputs are still owed to some subscribers: their
 * destination failed while the others' succeeded.  The files of the run
 * are marked done for everyone else; for these subscribers the run's plan,
 * cut down to their files, waits in parts/RUN.json, and every later run
 * tries to finish it first, under the same keys with the same bytes
 * (objects already put are put again, identical).  Until then a new plan
 * never serves them (their newer files wait too), so nothing is doubled.
 */
typedef struct pending_part {
	char *run_id;
	char **subs;            /* org_ids still owed this run's outputs */
	size_t nsubs;
	unsigned attempts;      /* runs that failed to deliver it, the first included */
	int64_t first_ms;       /* when it first failed */
	char *last_error;
} pending_part;

typedef struct state_data {
	char *committed_run;    /* the last run whose results were committed */
	int64_t committed_ms;
	source_state *sources;
	size_t nsources, alloc;
	pending_part *parts;    /* oldest first */
	size_t nparts, parts_alloc;
} state_data;

typedef struct state_store state_store;

/* Open the state directory and check it (see the top of this file).
 * writing: for a command that writes (creates what is missing: the
 * directory, mode 0750 less the umask, its parents, quarantine/ and
 * spool/; requires everything to be the effective user's); else the
 * directory must exist.  ES_OK and *out, or ES_ERR_IO (logged). */
es_result state_open(const char *dir, bool writing, state_store **out);
void state_close(state_store *s);
/* The directory as configured (without trailing slashes). */
const char *state_dir(const state_store *s);

/* Take the lock, or fail at once with ES_ERR_TEMP if another run has it. */
es_result state_lock(state_store *s);

/* Load state.json (an absent file is an empty state).  A file that cannot
 * be parsed is ES_ERR_STATE: it is never silently reset. */
es_result state_load(state_store *s, state_data **out);
es_result state_save(state_store *s, const state_data *d);
void state_data_free(state_data *d);

source_state *state_source(state_data *d, const char *org_id, bool create);
file_record *state_file(source_state *src, const char *key);
file_record *state_file_add(source_state *src, const char *key);
bool file_record_done_for(const file_record *f, const char *org_id);
void file_record_mark_done(file_record *f, const char *org_id);
/* Forget the record's delivery history (the content changed). */
void file_record_reset(file_record *f, const char *etag, uint64_t size,
		       int64_t mtime_ms);
/* Drop records older than the horizon (poisoned and failing ones are
 * kept: they still owe a delivery, or an operator's decision). */
void state_prune(source_state *src);

/*
 * The commit policy: what a run's outcomes do to the records.  Only these
 * (and state forget) change records, horizons and parts.
 */
/* Version obj of a file was read by run_id and delivered to orgs: a
 * record of another version starts over, failures are forgotten. */
void state_file_read(source_state *src, const store_object *obj, const char *run_id,
		     const char *const *orgs, size_t norgs);
/* obj failed in run_id for `reason`: one failure more; it is poisoned at
 * max_attempts, or at once with poison_now.  Returns its record (owned by
 * src): poisoned, and the failures that made it so. */
const file_record *state_file_failed(source_state *src, const store_object *obj,
				     const char *run_id, const char *reason, bool poison_now,
				     unsigned max_attempts);
/* After a run that listed the source: the horizon moves to h (never
 * back), old records go, and the sketch of what was listed below
 * below_until_ms is kept (NULL: unchanged). */
void state_source_advance(source_state *src, int64_t h, const sketch *below,
			  int64_t below_until_ms);
/* run_id is committed now. */
void state_run_committed(state_data *d, const char *run_id);
/* A pending part of run_id failed again (or for the first time, when it
 * has no attempt yet): one attempt more, why kept. */
void state_part_failed(pending_part *pp, const char *why);

/* Pending parts. */
pending_part *state_part_add(state_data *d, const char *run_id);
/* The part of subscriber org (NULL if it has none). */
pending_part *state_part_of(const state_data *d, const char *org);
/* org's outputs of part i are delivered (or dropped): it leaves the part,
 * and a part left with no subscriber goes. */
void state_part_done(state_data *d, size_t i, const char *org);
/* The plan of a part: saved before the state that names it, read back
 * when it is finished; state_parts_prune() removes the files of parts the
 * state no longer names. */
es_result state_part_save(state_store *s, const char *run_id, const char *json, size_t n);
es_result state_part_load(state_store *s, const char *run_id, buf *out);
void state_parts_prune(state_store *s, const state_data *d);

/* Plan journal. */
es_result state_plan_save(state_store *s, const char *json, size_t n);
/* Read plan.json into out; *exists false if there is none. */
es_result state_plan_load(state_store *s, buf *out, bool *exists);
/* Journal the outcome of plan file index: 'o' ok, 'f' failed, 'p'
 * poisoned at once, 'd' deferred to the next run.  A later outcome of the
 * same file replaces an earlier one. */
es_result state_plan_outcome(state_store *s, size_t index, char outcome);
/* Outcomes recorded so far: out[i] is 'o', 'f', 'p', 'd' or 0. */
es_result state_plan_outcomes(state_store *s, char *out, size_t nfiles);
es_result state_plan_clear(state_store *s);

/* Paths (allocated), for messages and for the pipeline's spool files;
 * run_id is the plan's. */
char *state_quarantine_path(const state_store *s, const char *run_id);
char *state_spool_dir(const state_store *s, const char *run_id);
/* Open the quarantine file of run_id for appending, creating it (mode
 * 0600 less the umask: it holds other tenants' lines), relative to the
 * checked quarantine/ with O_NOFOLLOW, and check it like every state file.
 * ES_OK and *fd (the caller closes it), or ES_ERR_IO (logged, naming the
 * path); writing stores only. */
es_result state_quarantine_open(state_store *s, const char *run_id, int *fd);
/* Remove run_id's quarantine file (a plan executed again writes it anew). */
void state_quarantine_remove(state_store *s, const char *run_id);
/* Remove quarantine files last modified before t_ms (writing stores). */
void state_quarantine_prune(const state_store *s, int64_t t_ms);
/* Remove a spool directory and everything in it (writing stores). */
void state_spool_remove(const state_store *s, const char *run_id);

#endif
