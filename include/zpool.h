/*
 * zpool.h - compress output blocks on worker threads; write them, in
 * order, into a sequence of files.
 *
 * A zstream is one subscriber's output in a run.  The caller hands it
 * blocks of whole lines (zstream_submit); each block becomes one gzip
 * member (gz_compress_member), compressed by any worker, and members are
 * written in the order they were submitted, by whichever thread completes
 * the oldest one.  The writer starts a new file when the current one has
 * reached max_bytes (checked after each member) or when the caller asked
 * for a cut (zstream_cut), so a file ends at the first member boundary at
 * or past max_bytes.  File boundaries therefore depend only on the blocks
 * and the level, never on scheduling: output is deterministic with any
 * number of threads, and nobody waits for sizes.
 *
 * Finished files (closed, numbered from 1) wait for the caller, who takes
 * them with zstream_take() and owns them from then on.  The file being
 * written can be read as it grows (zstream_growing()): written bytes
 * never change.
 *
 * Memory is bounded: at most max_blocks blocks (input and output buffers)
 * exist at once in the whole pool; zstream_submit waits for room.  With
 * zero workers each block is compressed and written in the submitting
 * thread.  zpool_* and zstream_* are called from one thread (the
 * pipeline's); the workers are internal.
 */
#ifndef EVSHARE_ZPOOL_H
#define EVSHARE_ZPOOL_H

#include "util.h"

typedef struct zpool zpool;
typedef struct zstream zstream;

zpool *zpool_new(unsigned workers, unsigned max_blocks);
/* Stops the workers; every stream must have been freed. */
void zpool_free(zpool *p);

typedef struct zfile {
	char *path;            /* owned by whoever holds the zfile */
	uint64_t bytes;        /* compressed size */
	unsigned seq;          /* 1, 2, ... within the stream */
	const void *tag;       /* the tag of its first block */
} zfile;

/* Files are created as "<path_prefix><seq>.gz" (mode 0640). */
zstream *zstream_new(zpool *p, int level, uint64_t max_bytes, const char *path_prefix);
/* Hand over a block: `in` (from xmalloc) now belongs to the stream.  tag
 * is remembered for the file the block starts, if it starts one. */
void zstream_submit(zstream *z, char *in, size_t n, const void *tag);
/* The next block starts a new file. */
void zstream_cut(zstream *z);
/* Move the finished files, in order, to *out (an array the caller frees,
 * with each path); returns how many.  Does not wait. */
size_t zstream_take(zstream *z, zfile **out);
/* The file being written: its number, the bytes written to it so far (a
 * prefix of what it will hold, readable under zstream_file_path()) and
 * the tag of its first block.  false: none (or the stream failed). */
bool zstream_growing(zstream *z, unsigned *seq, uint64_t *bytes, const void **tag);
/* The path of file number seq (allocated). */
char *zstream_file_path(const zstream *z, unsigned seq);
/* Wait until every block is written and close the last file (it becomes
 * finished).  Returns 0 or the errno of the first failure (a file that
 * could not be created or written); the stream is then useless. */
int zstream_finish(zstream *z);
/* The first failure so far (0: none), without waiting. */
int zstream_error(zstream *z);
/* Path of the file being written when a failure happened (for messages). */
const char *zstream_error_path(zstream *z);
/* Waits for the stream's blocks, removes files nobody took, frees it. */
void zstream_free(zstream *z);

void zfile_release(zfile *f);

#endif
