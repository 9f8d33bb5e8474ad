/* sink.c - dedup, block, compress, rotate and put one subscriber's output. */
#include "sink.h"
#include "gz.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_MAX (1u << 20)     /* input bytes per gzip member */
#define BLOCK_MIN (4u << 10)     /* the smallest block near an object's end */

void sink_init(sink *s, const additional_subscriber *sub, store *dest, zpool *pool,
	       const char *run_id, int64_t run_start_ms, const char *spool_dir,
	       size_t dedup_memory)
{
	memset(s, 0, sizeof(*s));
	s->sub = sub;
	s->dest = dest;
	s->pool = pool;
	s->run_id = run_id;
	s->run_start_ms = run_start_ms;
	s->spool_dir = spool_dir;
	s->fd = -1;
	buf_init(&s->block, 0);
	if (sub->dedup)
		s->dedup = dedup_new(dedup_memory, spool_dir);
}

void sink_release(sink *s)
{
	zstream_free(s->zs);
	if (s->fd >= 0)
		close(s->fd);
	if (s->tmp_path) {
		unlink(s->tmp_path);
		free(s->tmp_path);
	}
	buf_release(&s->block);
	dedup_free(s->dedup);
	for (size_t i = 0; i < s->nobjects; i++)
		free(s->objects[i]);
	free(s->objects);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

static es_result open_object(sink *s, const char *source_org)
{
	free(s->tmp_path);
	s->tmp_path = xasprintf("%s/%s-%06u.gz", s->spool_dir, s->sub->org_id, s->seq + 1);
	s->fd = open(s->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (s->fd < 0)
		return es_error(ES_ERR_IO, "cannot create spool file '%s': %s", s->tmp_path,
				strerror(errno));
	s->zs = zstream_new(s->pool, s->sub->compression_level, s->fd);
	s->seq++;
	s->open = true;
	s->cur_source = source_org;
	s->block_target = BLOCK_MAX;
	s->exact_in = s->exact_out = s->since_wait_in = 0;
	return ES_OK;
}

static es_result spool_error(sink *s, int err)
{
	return es_error(ES_ERR_IO, "cannot write spool file '%s': %s", s->tmp_path,
			strerror(err));
}

/* Hand the current block to the pool. */
static void cut_block(sink *s)
{
	size_t n;
	char *in;

	if (!s->block.len)
		return;
	in = buf_detach(&s->block, &n);
	s->since_wait_in += n;
	zstream_submit(s->zs, in, n);
}

/* Wait for every block: the object's size is then exact. */
static es_result settle(sink *s)
{
	int err = zstream_wait(s->zs);

	if (err)
		return spool_error(s, err);
	s->exact_in += s->since_wait_in;
	s->since_wait_in = 0;
	s->exact_out = zstream_bytes_out(s->zs);
	return ES_OK;
}

static es_result close_object(sink *s)
{
	keyfmt_vars v = {
		.subscriber = s->sub->org_id,
		.source = s->cur_source,
		.run_start_ms = s->run_start_ms,
		.run_id = s->run_id,
		.seq = s->seq,
	};
	buf key = BUF_INIT;
	es_result r;

	cut_block(s);
	if ((r = settle(s)) != ES_OK)
		return r;
	s->open = false;
	zstream_free(s->zs);
	s->zs = NULL;
	s->bytes_out += s->exact_out;
	if (close(s->fd) < 0) {
		s->fd = -1;
		return spool_error(s, errno);
	}
	s->fd = -1;
	buf_addstr(&key, s->dest->loc.prefix);
	if (!keyfmt_render(s->sub->key_format, &v, &key)) {
		r = es_error(ES_ERR_INTERNAL, "key_format of '%s' gave an unsafe key '%s'",
			     s->sub->org_id, key.data);
		buf_release(&key);
		return r;
	}
	r = store_put(s->dest, key.data, s->tmp_path);
	if (r == ES_OK) {
		char *url = store_url(s->dest, key.data);

		log_msg(LOG_DEBUG, url, "put '%s' (%llu bytes, %llu events so far for %s)", url,
			(unsigned long long)s->exact_out, (unsigned long long)s->written,
			s->sub->org_id);
		s->objects = xgrow(s->objects, s->nobjects + 1, &s->objects_alloc,
				   sizeof(*s->objects));
		s->objects[s->nobjects++] = url;
		unlink(s->tmp_path);
	}
	buf_release(&key);
	return r;
}

/*
 * After each line: could the object have reached max_object_bytes?  The
 * bound is the exact size at the last wait plus the input given since (a
 * block never compresses to more than its gz_member_bound), so it depends
 * only on data.  Only when the bound
 * reaches the limit does the sink wait for the exact size; then it either
 * ends the object or aims the next block at what is left, using the
 * object's compression ratio so far.  Near the limit blocks get small, so
 * the object ends a fraction of a small block past the limit.
 */
static es_result maybe_rotate(sink *s)
{
	uint64_t max = s->sub->max_object_bytes;
	uint64_t bound = s->exact_out +
		gz_member_bound((size_t)(s->since_wait_in + s->block.len));
	uint64_t left, target;
	es_result r;

	if (bound < max)
		return ES_OK;
	cut_block(s);
	if ((r = settle(s)) != ES_OK)
		return r;
	if (s->exact_out >= max)
		return close_object(s);
	left = max - s->exact_out;
	/* input that should compress to about what is left */
	target = s->exact_out ? left * s->exact_in / s->exact_out : left;
	if (target > BLOCK_MAX)
		target = BLOCK_MAX;
	if (target < BLOCK_MIN)
		target = BLOCK_MIN;
	s->block_target = (size_t)target;
	return ES_OK;
}

es_result sink_write(sink *s, const char *source_org, dedup_fp fp,
		     const char *line, size_t n)
{
	es_result r;

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
	if (s->open && keyfmt_uses_source(s->sub->key_format) &&
	    strcmp(s->cur_source, source_org) && (r = close_object(s)) != ES_OK)
		return r;
	if (!s->open && (r = open_object(s, source_org)) != ES_OK)
		return r;
	if (!s->block.alloc)
		buf_reserve(&s->block, (n + 1 > s->block_target ? n + 1 : s->block_target) + 4096);
	else
		buf_reserve(&s->block, n + 1);
	memcpy(s->block.data + s->block.len, line, n);
	s->block.data[s->block.len + n] = '\n';
	s->block.len += n + 1;
	s->written++;
	if (s->block.len >= s->block_target)
		cut_block(s);
	return maybe_rotate(s);
}

es_result sink_finish(sink *s)
{
	return s->open ? close_object(s) : ES_OK;
}
