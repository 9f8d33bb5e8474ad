/* sink.c - dedup, block, compress, put one subscriber's output. */
#include "sink.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_MAX (1u << 20)     /* input bytes per gzip member */
#define BLOCK_MIN (4u << 10)

void sink_init(sink *s, const additional_subscriber *sub, store *dest, zpool *pool,
	       const char *run_id, int64_t run_start_ms, const char *spool_dir,
	       size_t dedup_memory)
{
	uint64_t bs = sub->max_object_bytes / 8;

	memset(s, 0, sizeof(*s));
	s->sub = sub;
	s->dest = dest;
	s->pool = pool;
	s->run_id = run_id;
	s->run_start_ms = run_start_ms;
	s->spool_dir = spool_dir;
	s->block_size = bs > BLOCK_MAX ? BLOCK_MAX : bs < BLOCK_MIN ? BLOCK_MIN : (size_t)bs;
	buf_init(&s->block, 0);
	if (sub->dedup)
		s->dedup = dedup_new(dedup_memory, spool_dir);
}

void sink_release(sink *s)
{
	zstream_free(s->zs);
	buf_release(&s->block);
	dedup_free(s->dedup);
	for (size_t i = 0; i < s->nobjects; i++)
		free(s->objects[i]);
	free(s->objects);
	memset(s, 0, sizeof(*s));
}

static es_result stream_error(sink *s, int err)
{
	return es_error(ES_ERR_IO, "cannot write spool file '%s': %s",
			zstream_error_path(s->zs), strerror(err));
}

/* Put one finished object under its key. */
static es_result put_object(sink *s, const zfile *f)
{
	keyfmt_vars v = {
		.subscriber = s->sub->org_id,
		.source = f->tag,
		.run_start_ms = s->run_start_ms,
		.run_id = s->run_id,
		.seq = f->seq,
	};
	buf key = BUF_INIT;
	es_result r;

	buf_addstr(&key, s->dest->loc.prefix);
	if (!keyfmt_render(s->sub->key_format, &v, &key)) {
		r = es_error_url(ES_ERR_INTERNAL, s->dest->loc.url, "key_format of '%s' gave "
				 "an unsafe key '%s' under '%s'", s->sub->org_id, key.data,
				 s->dest->loc.url);
		buf_release(&key);
		return r;
	}
	r = store_put(s->dest, key.data, f->path);
	if (r == ES_OK) {
		char *url = store_url(s->dest, key.data);

		log_msg(LOG_DEBUG, url, "put '%s' (%llu bytes)", url,
			(unsigned long long)f->bytes);
		s->objects = xgrow(s->objects, s->nobjects + 1, &s->objects_alloc,
				   sizeof(*s->objects));
		s->objects[s->nobjects++] = url;
		s->bytes_out += f->bytes;
		unlink(f->path);
	}
	buf_release(&key);
	return r;
}

/* Put the objects the writer has finished so far. */
static es_result put_finished(sink *s)
{
	zfile *files;
	size_t n = zstream_take(s->zs, &files);
	es_result r = ES_OK;

	for (size_t i = 0; i < n; i++) {
		if (r == ES_OK)
			r = put_object(s, &files[i]);
		if (r != ES_OK)
			unlink(files[i].path);
		zfile_release(&files[i]);
	}
	free(files);
	return r;
}

/* Hand the current block to the pool. */
static void submit_block(sink *s)
{
	size_t n;
	char *in;

	if (!s->block.len)
		return;
	in = buf_detach(&s->block, &n);
	zstream_submit(s->zs, in, n, s->cur_source);
}

es_result sink_write(sink *s, const char *source_org, dedup_fp fp,
		     const char *line, size_t n)
{
	int err;

	s->matched++;
	if (s->dedup) {
		int seen = dedup_insert(s->dedup, fp);

		if (seen < 0)
			return ES_ERR_IO;
		if (seen) {
			s->duplicates++;
			return ES_OK;
		}
	}
	if (!s->zs) {
		char *prefix = xasprintf("%s/%s-", s->spool_dir, s->sub->org_id);

		s->zs = zstream_new(s->pool, s->sub->compression_level,
				    s->sub->max_object_bytes, prefix);
		free(prefix);
		s->cur_source = source_org;
	} else if (s->cur_source != source_org && strcmp(s->cur_source, source_org)) {
		submit_block(s);
		if (keyfmt_uses_source(s->sub->key_format))
			zstream_cut(s->zs);
		s->cur_source = source_org;
	}
	if (!s->block.alloc)
		buf_reserve(&s->block, (n + 1 > s->block_size ? n + 1 : s->block_size) + 4096);
	else
		buf_reserve(&s->block, n + 1);
	memcpy(s->block.data + s->block.len, line, n);
	s->block.data[s->block.len + n] = '\n';
	s->block.len += n + 1;
	s->written++;
	if (s->block.len < s->block_size)
		return ES_OK;
	submit_block(s);
	if ((err = zstream_error(s->zs)) != 0)
		return stream_error(s, err);
	return ES_OK;
}

es_result sink_put_ready(sink *s)
{
	int err;

	if (!s->zs)
		return ES_OK;
	if ((err = zstream_error(s->zs)) != 0)
		return stream_error(s, err);
	return put_finished(s);
}

es_result sink_finish(sink *s)
{
	int err;

	if (!s->zs)
		return ES_OK;
	submit_block(s);
	if ((err = zstream_finish(s->zs)) != 0)
		return stream_error(s, err);
	return put_finished(s);
}
