/*
 * store_set.h - the stores one run reads from, each opened once.
 *
 * A run lists its sources (plan.h) and then reads their files (run.h),
 * and an interrupted run or a pending part finished first reads from the
 * same sources: store_set_get() opens a location's store the first time
 * it is asked for and hands the same store back afterwards, so that
 * credentials are resolved and files read once per location and run.
 * Two locations with the same URL and settings share a store.
 *
 * A store is used by one thread at a time: the sources' by the thread
 * that runs the pipeline, each destination's by its subscriber's sink,
 * which is why a destination is asked for with its subscriber as owner:
 * two subscribers writing to the same place get a store each, and one
 * subscriber gets the same store in every execution of the run (the
 * interrupted run, owed outputs, the new plan, a restart).
 * Ownership: the set owns its stores; store_set_free() frees them all.
 */
#ifndef EVSHARE_STORE_SET_H
#define EVSHARE_STORE_SET_H

#include "store.h"

typedef struct store_set store_set;

store_set *store_set_new(void);
void store_set_free(store_set *s);

/* The open store of loc for owner (NULL: the pipeline's sources; else
 * the subscriber's org_id), opened now if it is new to the set.  A failure
 * to open is logged by the store and returned; it is not remembered (a
 * later call tries again). */
es_result store_set_get(store_set *s, const location *loc, const char *owner, store **out);

#endif
