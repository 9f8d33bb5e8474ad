/*
 * metrics.h - the metrics file of `evshare run --metrics-file PATH`.
 *
 * At the end of every run (whatever its outcome, once the options were
 * read; not for a dry run) evshare writes what the run did in the
 * Prometheus text exposition format (version 0.0.4), for node_exporter's
 * textfile collector: the file is written whole under a temporary name
 * in the same directory (write_file_atomic: PATH.tmp.RANDOM, created
 * anew, which the collector's *.prom pattern does not match), synced, and
 * renamed over PATH, so a scrape sees the previous file or the new one,
 * never part of one.  That directory may be writable by others (a
 * collector's is, by group): nothing there is written through a link,
 * and a PATH that is not a regular file is not read.
 *
 * Every value describes the last run (one process), so everything is a
 * gauge (a counter would be read as restarting every run).  The names:
 *
 *   evshare_build_info{version}                     1
 *   evshare_last_run_start_timestamp_seconds        Unix time, ms precision
 *   evshare_last_run_end_timestamp_seconds
 *   evshare_last_run_duration_seconds
 *   evshare_last_success_timestamp_seconds          end of the last run that
 *       exited 0: this run's, else carried over from the file being
 *       replaced (0 if it had none)
 *   evshare_last_run_exit_status                    the process exit status
 *   evshare_last_run_status{status="ok|partial|failed"}   1 for this run's
 *   evshare_last_run_replay, evshare_last_run_resumed      0 or 1
 *   evshare_last_run_files_listed, evshare_last_run_files_planned
 *   evshare_last_run_files{outcome="processed|failed"}
 *   evshare_last_run_poisoned_files                 skipped or newly poisoned
 *   evshare_last_run_failed_sources                 sources not listed
 *   evshare_last_run_events_read
 *   evshare_last_run_events{outcome="malformed|rejected|duplicate|written"}
 *   evshare_last_run_input_bytes, evshare_last_run_output_bytes
 *   evshare_last_run_subscriber_events{subscriber}  lines written to it
 *   evshare_last_run_subscriber_objects{subscriber} objects put for it
 *   evshare_last_run_http_retries                   HTTP attempts retried
 *
 * The counts are those of the JSON summary (report.h); when an
 * interrupted run was finished first, its counts are added in (and
 * evshare_last_run_resumed is 1).
 *
 * Ownership: a metrics_run owns copies of what it was given.
 */
#ifndef EVSHARE_METRICS_H
#define EVSHARE_METRICS_H

#include "run.h"
#include "util.h"

typedef struct metrics_sub {
	char *org_id;
	uint64_t events, objects;
	bool failed;              /* its destination failed: outputs owed */
} metrics_sub;

typedef struct metrics_run {
	int64_t start_ms, end_ms;       /* Unix time */
	int exit_status;
	bool replay, resumed;
	uint64_t subscribers_stuck;     /* pending parts past max_attempts */
	uint64_t files_listed, files_planned, files_processed, files_failed, files_deferred;
	uint64_t files_late;
	uint64_t files_poisoned, sources_failed;
	uint64_t ev_read, ev_malformed, ev_rejected, ev_duplicates, ev_written;
	uint64_t bytes_in, bytes_out;
	uint64_t http_retries;
	metrics_sub *subs;              /* in the order first seen */
	size_t nsubs;
} metrics_run;

void metrics_init(metrics_run *m, int64_t start_ms);
void metrics_release(metrics_run *m);
/* Add a run summary's counts (and those of the run it resumed). */
void metrics_add_summary(metrics_run *m, const run_summary *s);

/* Append the exposition text.  last_success_ms: the end of an earlier
 * successful run, or 0; used when m->exit_status is not 0. */
void metrics_format(buf *out, const metrics_run *m, int64_t last_success_ms);

/* The evshare_last_success_timestamp_seconds of an existing metrics file,
 * in ms; 0 when the file is missing, not a regular file (a symbolic link
 * is not followed) or has no such sample. */
int64_t metrics_last_success_ms(const char *path);

/* Write the file atomically (mode 0644 less the umask: the collector
 * reads it).  ES_OK, or ES_ERR_IO (logged). */
es_result metrics_write(const char *path, const metrics_run *m);

#endif
