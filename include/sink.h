/*
 * sink.h - one additional subscriber's output for one run.
 *
 * Lines arrive in the documented order (sink_write).  The sink drops a
 * line whose event_id it has already written in this run (when dedup is
 * on) and gathers the rest into blocks of whole lines (up to 1 MiB); each
 * block becomes one gzip member, compressed on the run's worker threads
 * (zpool.h) and written to the object in the spool directory in order.
 * An object ends at the first block boundary where its compressed size
 * has reached max_object_bytes: blocks shrink as the object nears the
 * limit, so it ends a small fraction of a block past it.  The object is
 * then put to the destination under the next key of key_format.  With
 * {source} in key_format, a change of source also ends the object.
 * sink_finish() ends and puts the last object.  A subscriber that
 * received no line gets no object.
 *
 * Everything a sink writes is a function of the lines it is given and the
 * run's id and start time (every decision uses sizes known exactly, never
 * the progress of the worker threads), so re-executing a plan reproduces
 * each object byte for byte under the same key, with any number of
 * threads.
 *
 * Ownership: the sink borrows the subscriber, store, pool and strings it
 * is given (they must outlive it) and owns its dedup set, spool file,
 * blocks and the list of object URLs it put.
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
	/* the object being written */
	bool open;
	int fd;
	char *tmp_path;
	zstream *zs;
	const char *cur_source;
	buf block;                /* lines not yet handed to the pool */
	size_t block_target;
	uint64_t exact_in, exact_out;  /* at the last wait: input, compressed */
	uint64_t since_wait_in;        /* input handed over since then */
	unsigned seq;
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
es_result sink_finish(sink *s);

#endif
