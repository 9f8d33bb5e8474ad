/*
 * dedup.h - "have we written this event_id to this subscriber in this run?"
 *
 * An event_id is reduced to a 128-bit fingerprint with SipHash-2-4 under a
 * key drawn at random for each process, so no input can be crafted to
 * collide; two different ids share a fingerprint with probability about
 * n^2 / 2^129 (1e-25 for ten million ids).  The set stores fingerprints
 * only (16 bytes each).
 *
 * Memory is fixed by `mem_budget`, whatever the input: a hash table of
 * fingerprints (a third of the budget, at most 1 MiB, so that it stays in
 * the cache) and a blocked Bloom filter (the rest, rounded down to a power
 * of two), both allocated when the set is made.  When the table is
 * three-quarters full it is sorted and written out as a run file under
 * `spill_dir`; the Bloom filter, holding every fingerprint written out,
 * answers "certainly new" for almost every lookup, so only rare probable
 * hits read a run file (one 4 KiB block per run).  Runs of similar size
 * are merged, keeping their number logarithmic.
 *
 * Ownership: the set owns its table, filter and run files (unlinked at
 * creation, so nothing is left behind by a crash).
 */
#ifndef EVSHARE_DEDUP_H
#define EVSHARE_DEDUP_H

#include "util.h"

typedef struct dedup_fp {
	uint64_t hi, lo;
} dedup_fp;

typedef struct dedup_set dedup_set;

/* Draw this process's fingerprint key (once, before threads start). */
void dedup_init_key(void);
/* Fingerprint of id[0..n) under the process key. */
dedup_fp dedup_fingerprint(const char *id, size_t n);
/* SipHash-2-4 with a 128-bit output under an explicit key (for tests). */
dedup_fp siphash128(const unsigned char key[16], const void *p, size_t n);

/* A new empty set.  spill_dir may be NULL: then memory is unbounded. */
dedup_set *dedup_new(size_t mem_budget, const char *spill_dir);
void dedup_free(dedup_set *d);
/* Insert fp.  Returns 1 if it was already in the set, 0 if it is new,
 * -1 on an I/O error with a spill file (logged). */
int dedup_insert(dedup_set *d, dedup_fp fp);
/* Start loading what dedup_insert(d, fp) will read (a hint; no effect on
 * the result). */
void dedup_prefetch(const dedup_set *d, dedup_fp fp);
/* Number of distinct fingerprints inserted. */
uint64_t dedup_count(const dedup_set *d);

#endif
