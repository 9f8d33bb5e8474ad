/*
 * spill.h - an append-only byte log in memory that spills to disk.
 *
 * Holds the lines a file produced for one subscriber (or for the
 * quarantine) until the file is known to be good.  The first `mem_cap`
 * bytes stay in memory; the rest go to an unlinked temporary file in
 * `dir` (so a crash leaves nothing behind), which the page cache, not
 * this process, keeps in memory.
 *
 * Records: spill_add_record() frames a line with its length and
 * fingerprint; spill_replay_records() hands them back in order.
 * spill_replay_bytes() hands back the raw bytes in chunks.
 * spill_reset() empties the log for reuse (the temporary file is kept
 * and truncated).
 */
#ifndef EVSHARE_SPILL_H
#define EVSHARE_SPILL_H

#include "dedup.h"
#include "util.h"

typedef struct spill {
	char *dir;
	size_t mem_cap;
	buf mem;
	int fd;               /* -1 until needed */
	uint64_t file_bytes;
	uint64_t records;
} spill;

void spill_init(spill *s, const char *dir, size_t mem_cap);
void spill_release(spill *s);
void spill_reset(spill *s);
bool spill_empty(const spill *s);

es_result spill_add(spill *s, const void *p, size_t n);
es_result spill_add_record(spill *s, dedup_fp fp, const char *line, size_t n);

typedef int (*spill_record_fn)(void *ud, dedup_fp fp, const char *line, size_t n);
typedef int (*spill_bytes_fn)(void *ud, const char *p, size_t n);

/* Replay; a non-zero return from fn stops and is returned.  -1 on I/O
 * error (logged). */
int spill_replay_records(spill *s, spill_record_fn fn, void *ud);
int spill_replay_bytes(spill *s, spill_bytes_fn fn, void *ud);

#endif
