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
 * source also ends the object.  A subscriber that received no line gets
 * no object.
 *
 * Objects go to the destination under the next keys of key_format from
 * the sink's own thread (the putter), so the pipeline never waits for the
 * network.  While an object grows, the putter sends what the store takes
 * in steps (S3: the parts of a multipart upload), none of it visible; it
 * makes an object visible only once the caller said every line in it
 * comes from a file known to be good (sink_put_ready), in order.
 * sink_finish() ends the last object and allows every one; sink_wait()
 * waits until all are visible.  The putter's first failure stops it and
 * is returned by the next sink_put_ready(), sink_finish() or sink_wait(),
 * or by a sink_write() that hands a block on.  sink_stop() (also part of
 * sink_release()) stops the putter and takes back what was sent of
 * objects not made visible.  At most 8 putters of the process talk to
 * their stores at once.
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

#include <pthread.h>

#include "config.h"
#include "dedup.h"
#include "store.h"
#include "zpool.h"

/*
 * The object URLs every sink of a run has claimed: before a putter sends
 * anything of an object it claims the object's URL, and a URL another
 * sink claimed is refused (that sink fails; the other's object stands).
 * The configuration check refuses subscribers whose keys can meet
 * (keyfmt_spaces_meet); this is the run's own check that no two outputs
 * share an object, whatever reaches it.  Thread-safe.
 */
typedef struct sink_keys sink_keys;

sink_keys *sink_keys_new(void);
void sink_keys_free(sink_keys *k);

/* An object of the sink, as the writer makes it (sink.c). */
typedef struct sink_object {
	unsigned seq;             /* 1, 2, ... */
	const void *tag;          /* the source of its first line */
	char *path;               /* its spool file */
	char *key;                /* NULL until the putter first looks at it */
	uint64_t ready;           /* bytes written that will not change */
	uint64_t offered;         /* `ready` when last sent */
	bool finished;            /* ready is its size */
	store_upload *up;         /* the putter's */
} sink_object;

typedef struct sink {
	const additional_subscriber *sub;
	store *dest;
	zpool *pool;
	const char *run_id;
	int64_t run_start_ms;
	const char *spool_dir;
	dedup_set *dedup;
	sink_keys *keys;          /* the run's claimed URLs, or NULL (borrowed) */
	zstream *zs;              /* NULL until the first line */
	const char *cur_source;   /* the source of the lines in `block` */
	buf block;                /* lines not yet handed to the pool */
	size_t block_size;
	/* counters */
	uint64_t matched, duplicates, written;
	/* the putter; under mu from here on */
	pthread_t putter;
	bool putter_started;      /* (the pipeline's) */
	bool uploads;             /* the store takes growing files (const) */
	uint64_t upload_max;      /* bound on an object's size (const) */
	pthread_mutex_t mu;
	pthread_cond_t work;      /* something for the putter to do, or stop */
	pthread_cond_t progress;  /* an object was made visible, or a failure */
	sink_object *objs;
	size_t nobjs, objs_alloc;
	size_t next;              /* objs[next] is the first not visible */
	size_t allowed;           /* objs[< allowed] may be made visible */
	bool stop;
	es_result err;            /* the putter's first failure */
	uint64_t bytes_out;       /* of the objects made visible */
	char **objects;           /* their URLs, in order */
	size_t nobjects, objects_alloc;
} sink;

void sink_init(sink *s, const additional_subscriber *sub, store *dest, zpool *pool,
	       const char *run_id, int64_t run_start_ms, const char *spool_dir,
	       size_t dedup_memory);
void sink_release(sink *s);
es_result sink_write(sink *s, const char *source_org, dedup_fp fp,
		     const char *line, size_t n);
/* The objects finished so far may be made visible: the caller says so
 * only once every line in them comes from a file known to be good. */
es_result sink_put_ready(sink *s);
/* End the last object; every object may now be made visible. */
es_result sink_finish(sink *s);
/* Wait until every object allowed is visible (ES_OK) or the putter
 * failed (its result). */
es_result sink_wait(sink *s);
/* Did the putter fail (its store refused or could not be reached)?  The
 * sink's other failures (its spool, its dedup set) are this machine's. */
bool sink_putter_failed(sink *s);
/* Stop the putter and take back what it sent of objects not visible.
 * The counters and the list of objects are the caller's to read from
 * then on. */
void sink_stop(sink *s);

#endif
