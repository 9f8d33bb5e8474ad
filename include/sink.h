/*
 * sink.h - one additional subscriber's output for one run.
 *
 * Lines arrive in the documented order (sink_write).  The sink drops a
 * line whose event_id it has already written in this run (when dedup is
 * on) and gathers the rest into blocks of whole lines; each block becomes
 * one gzip member, compressed on the run's worker threads, and the
 * members are written in order into spool files (zpool.h).  An object
 * ends at the first member boundary where its compressed size has
 * reached max_object_bytes; blocks hold max_object_bytes / 8 bytes of
 * input (between 4 KiB and 1 MiB), so an object passes the limit by less
 * than one block's compressed size (a few per cent of the limit at most,
 * far less for large limits).  With {source} in key_format, a change of
 * source also ends the object.  Finished objects are put to the
 * destination under the next keys of key_format when the caller says
 * (sink_put_ready); sink_finish() ends and puts the last one.  A subscriber that received no
 * line gets no object.
 *
 * Everything a sink writes is a function of the lines it is given and the
 * run's id and start time: block sizes depend on the lines only, and the
 * writer ends objects from exact member sizes, in order.  So re-executing
 * a plan reproduces each object byte for byte under the same key, with any
 * number of threads.
 *
 * Ownership: the sink borrows the subscriber, store, pool and strings it
 * is given (they must outlive it) and owns its dedup set, stream, blocks
 * and the list of object URLs it put.
 */
#ifndef EVSHARE_SINK_H
#define EVSHARE_SINK_H

#include "config.h"
#include "dedup.h"
#include "store.h"
#include "zpool.h"

typedef struct sink {
	const additional_subscriber *sub;
	store *dest;
	zpool *pool;
	const char *run_id;
	int64_t run_start_ms;
	const char *spool_dir;
	dedup_set *dedup;
	zstream *zs;              /* NULL until the first line */
	const char *cur_source;   /* the source of the lines in `block` */
	buf block;                /* lines not yet handed to the pool */
	size_t block_size;
	/* counters */
	uint64_t matched, duplicates, written, bytes_out;
	char **objects;
	size_t nobjects, objects_alloc;
} sink;

void sink_init(sink *s, const additional_subscriber *sub, store *dest, zpool *pool,
	       const char *run_id, int64_t run_start_ms, const char *spool_dir,
	       size_t dedup_memory);
void sink_release(sink *s);
es_result sink_write(sink *s, const char *source_org, dedup_fp fp,
		     const char *line, size_t n);
/* Put the objects finished so far.  The caller decides when: only once
 * every line in them comes from a file known to be good. */
es_result sink_put_ready(sink *s);
/* End the last object and put every object not yet put. */
es_result sink_finish(sink *s);

#endif
