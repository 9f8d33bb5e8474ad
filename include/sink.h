/*
 * sink.h - one additional subscriber's output for one run.
 *
 * Lines arrive in the documented order (sink_write).  The sink drops a
 * line whose event_id it has already written in this run (when dedup is
 * on), gzips the rest into an object in the spool directory, and when the
 * object's compressed size reaches max_object_bytes (checked at each line
 * boundary) closes it and puts it to the destination under the next key
 * of key_format.  With {source} in key_format, a change of source also
 * closes the object.  sink_finish() closes and puts the last object.
 * A subscriber that received no line gets no object.
 *
 * Everything a sink writes is a function of the lines it is given and the
 * run's id and start time, so re-executing a plan reproduces each object
 * byte for byte under the same key.
 *
 * Ownership: the sink borrows the config, subscriber, store and strings
 * it is given (they must outlive it) and owns its encoder, dedup set,
 * spool file and the list of object URLs it put.
 */
#ifndef EVSHARE_SINK_H
#define EVSHARE_SINK_H

#include "config.h"
#include "dedup.h"
#include "gz.h"
#include "store.h"

typedef struct sink {
	const additional_subscriber *sub;
	store *dest;
	const char *run_id;
	int64_t run_start_ms;
	const char *spool_dir;
	dedup_set *dedup;
	gz_encoder *enc;
	int fd;
	char *tmp_path;
	bool open;
	bool write_failed;
	int write_errno;
	unsigned seq;
	const char *cur_source;
	uint64_t matched, duplicates, written, bytes_out;
	char **objects;
	size_t nobjects, objects_alloc;
} sink;

void sink_init(sink *s, const additional_subscriber *sub, store *dest,
	       const char *run_id, int64_t run_start_ms, const char *spool_dir,
	       size_t dedup_memory);
void sink_release(sink *s);
es_result sink_write(sink *s, const char *source_org, dedup_fp fp,
		     const char *line, size_t n);
es_result sink_finish(sink *s);

#endif
