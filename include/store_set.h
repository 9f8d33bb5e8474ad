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
 * For the thread that runs the pipeline only: a store is not shared
 * between threads (each subscriber's sink opens its own destination).
 * Ownership: the set owns its stores; store_set_free() frees them all.
 */
#ifndef EVSHARE_STORE_SET_H
#define EVSHARE_STORE_SET_H

#include "store.h"

typedef struct store_set store_set;

store_set *store_set_new(void);
void store_set_free(store_set *s);

/* The open store of loc (opened now if it is new to the set).  A failure
 * to open is logged by the store and returned; it is not remembered (a
 * later call tries again). */
es_result store_set_get(store_set *s, const location *loc, store **out);

#endif
