/*
 * zpool.h - compress output blocks on worker threads, write them in order.
 *
 * A zstream is one output file (an object being written).  The caller
 * hands it blocks of whole lines (zstream_submit); each block becomes one
 * gzip member (gz_compress_member), compressed by any worker, and the
 * members are written to the file in the order they were submitted, by
 * whichever thread completes the oldest one.  So the file's bytes depend
 * only on the blocks and the level, never on scheduling: output stays
 * deterministic with any number of threads.
 *
 * Memory is bounded: at most max_blocks blocks (input and output buffers)
 * exist at once in the whole pool; zstream_submit waits for room.
 *
 * With zero workers every block is compressed and written in the
 * submitting thread.  Threads: zpool_* and zstream_* may be called from
 * one thread (the pipeline's); the workers are internal.
 */
#ifndef EVSHARE_ZPOOL_H
#define EVSHARE_ZPOOL_H

#include "util.h"

typedef struct zpool zpool;
typedef struct zstream zstream;

/* workers: threads to start (0: compress inline). */
zpool *zpool_new(unsigned workers, unsigned max_blocks);
/* Stops the workers; every stream must have been freed. */
void zpool_free(zpool *p);
unsigned zpool_workers(const zpool *p);

/* A stream writing to fd at level.  The fd stays the caller's. */
zstream *zstream_new(zpool *p, int level, int fd);
/* Hand over a block: `in` (from xmalloc) now belongs to the stream. */
void zstream_submit(zstream *z, char *in, size_t n);
/* Wait until every submitted block is written.  Returns 0, or the errno
 * of the first failed write (the stream is then useless). */
int zstream_wait(zstream *z);
/* Compressed bytes written so far (exact after zstream_wait). */
uint64_t zstream_bytes_out(zstream *z);
/* Input bytes submitted and not yet written. */
uint64_t zstream_pending_in(zstream *z);
/* Waits for the stream's blocks, then frees it. */
void zstream_free(zstream *z);

#endif
