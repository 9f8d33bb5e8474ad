/*
 * quarantine.h - the run's file of bad lines, with bounds.
 *
 * Every line a run cannot forward (malformed, or refused by the tenant
 * guard) becomes one NDJSON record in state_dir/quarantine/RUN.ndjson:
 *
 *   {"run_id", "source", "url", "line", "kind", "path", "reason",
 *    "text" | "base64", ["truncated": true, "sha256"], "bytes"}
 *
 * "text" holds the line when it is valid UTF-8, "base64" otherwise;
 * "bytes" is the line's length.  A line longer than quarantine_line_bytes
 * keeps only its first quarantine_line_bytes bytes (always as base64),
 * with "truncated": true and the SHA-256 of the whole line, so that the
 * record stays small and the line can still be found and checked in its
 * source file.  Over-long lines arrive in pieces (long_begin, long_part,
 * long_end) and are never held whole.
 *
 * Bounds: the records of one input file may take max_quarantine_per_file
 * bytes, those of the run max_quarantine_per_run.  After each record,
 * quarantine_over() says whether a bound was passed; the caller then
 * fails that file (a file's bound: it is poisoned; the run's: the file
 * waits for the next run) and drops its records with
 * quarantine_file_rollback(), so that what a failed file left behind
 * takes no room and is not counted.
 *
 * Records are buffered and written in 64 KiB pieces; the file is created
 * (0600) on the first write.  A re-executed plan writes the quarantine
 * again from the start: quarantine_init() removes an earlier one.
 *
 * Ownership: the quarantine owns its path, buffer, descriptor and digest
 * state; it borrows the run id and the strings given to file_begin.
 */
#ifndef EVSHARE_QUARANTINE_H
#define EVSHARE_QUARANTINE_H

#include "config.h"
#include "jsonw.h"
#include "state.h"
#include "util.h"

enum quarantine_bound {
	QUARANTINE_WITHIN = 0,
	QUARANTINE_FILE_FULL,      /* the file's records passed max_quarantine_per_file */
	QUARANTINE_RUN_FULL        /* the run's records passed max_quarantine_per_run */
};

typedef struct quarantine {
	state_store *ss;
	const char *run_id;
	char *path;
	int fd;                    /* -1 until the first write */
	bool discard;              /* records are counted, not written */
	buf pending;               /* records not yet written */
	uint64_t written;          /* bytes in the file */
	uint64_t line_cap, file_cap, run_cap;
	uint64_t run_bytes;        /* of the records kept */
	uint64_t file_start;       /* where the current input file's records begin */
	uint64_t file_bytes;
	const char *source;        /* the current input file's org_id and URL */
	const char *url;
	/* an over-long line being written */
	void *md;                  /* EVP_MD_CTX */
	unsigned char carry[3];    /* kept bytes not yet in base64 */
	size_t ncarry;
	uint64_t long_bytes;
	uint64_t record_mark;      /* where the record being written begins */
	jsonw rec;                 /* writes it into pending */
} quarantine;

/* Set up for run_id; removes a quarantine file the plan left earlier.
 * With keep false the records are counted and bounded but written
 * nowhere (the run's quarantine was written before). */
void quarantine_init(quarantine *q, state_store *ss, const char *run_id, const config *cfg,
		     bool keep);
/* Close the file (nothing is synced: see quarantine_sync). */
void quarantine_release(quarantine *q);

/* The records that follow are of this input file. */
void quarantine_file_begin(quarantine *q, const char *source, const char *url);

/* One whole bad line.  ES_ERR_IO (logged) if the file cannot be written. */
es_result quarantine_line(quarantine *q, uint64_t lineno, const char *kind,
			  const char *path, const char *reason, const char *line, size_t n);
/* An over-long line, in pieces (at least one part, possibly empty). */
void quarantine_long_begin(quarantine *q, uint64_t lineno, const char *kind,
			   const char *path, const char *reason);
es_result quarantine_long_part(quarantine *q, const char *p, size_t n);
es_result quarantine_long_end(quarantine *q);

/* Was a bound passed by the records so far? */
enum quarantine_bound quarantine_over(const quarantine *q);
/* Drop the current input file's records (written or not). */
es_result quarantine_file_rollback(quarantine *q);

/* Write what is buffered; then fdatasync (the end of a run). */
es_result quarantine_flush(quarantine *q);
es_result quarantine_sync(quarantine *q);
/* The file's path when a record was ever written to it, else NULL. */
const char *quarantine_used_path(const quarantine *q);

#endif
