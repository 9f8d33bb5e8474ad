/* sink.c - dedup, gzip, rotate and put one subscriber's output. */
#include "sink.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_spool(void *ud, const char *p, size_t n)
{
	sink *s = ud;

	if (write_all(s->fd, p, n) < 0) {
		s->write_failed = true;
		s->write_errno = errno;
		return -1;
	}
	return 0;
}

void sink_init(sink *s, const additional_subscriber *sub, store *dest,
	       const char *run_id, int64_t run_start_ms, const char *spool_dir,
	       size_t dedup_memory)
{
	memset(s, 0, sizeof(*s));
	s->sub = sub;
	s->dest = dest;
	s->run_id = run_id;
	s->run_start_ms = run_start_ms;
	s->spool_dir = spool_dir;
	s->fd = -1;
	if (sub->dedup)
		s->dedup = dedup_new(dedup_memory, spool_dir);
	s->enc = gz_encoder_new(sub->compression_level, write_spool, s);
}

void sink_release(sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->tmp_path) {
		unlink(s->tmp_path);
		free(s->tmp_path);
	}
	gz_encoder_free(s->enc);
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
	s->seq++;
	s->open = true;
	s->cur_source = source_org;
	gz_encoder_restart(s->enc);
	return ES_OK;
}

static es_result spool_error(sink *s)
{
	return es_error(ES_ERR_IO, "cannot write spool file '%s': %s", s->tmp_path,
			strerror(s->write_errno));
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

	s->open = false;
	if (gz_encoder_finish(s->enc) != 0)
		return spool_error(s);
	s->bytes_out += gz_encoder_bytes_out(s->enc);
	if (close(s->fd) < 0) {
		s->fd = -1;
		s->write_errno = errno;
		return spool_error(s);
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

		log_msg(LOG_DEBUG, url, "put '%s' (%llu events so far for %s)", url,
			(unsigned long long)s->written, s->sub->org_id);
		s->objects = xgrow(s->objects, s->nobjects + 1, &s->objects_alloc,
				   sizeof(*s->objects));
		s->objects[s->nobjects++] = url;
		unlink(s->tmp_path);
	}
	buf_release(&key);
	return r;
}

/*
 * Close the object at the first line boundary where its compressed size
 * reaches max_object_bytes.  bytes_out lags the input by what deflate
 * still buffers, so bytes_out + unflushed input (+ a margin for input that
 * does not compress) is an upper bound; only when that bound reaches the
 * limit is the encoder sync-flushed to learn the exact size.  Near the end
 * of an object the gap to the limit shrinks geometrically, so an object
 * gets a few dozen flushes at most.  All of it depends only on the bytes
 * written, so it is deterministic.
 */
static es_result maybe_rotate(sink *s)
{
	uint64_t pending = gz_encoder_unflushed(s->enc);
	uint64_t bound = gz_encoder_bytes_out(s->enc) + pending + pending / 512 + 64;

	if (bound < s->sub->max_object_bytes)
		return ES_OK;
	if (gz_encoder_flush(s->enc) != 0)
		return spool_error(s);
	if (gz_encoder_bytes_out(s->enc) >= s->sub->max_object_bytes)
		return close_object(s);
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
	if (gz_encoder_write(s->enc, line, n) != 0 || gz_encoder_write(s->enc, "\n", 1) != 0)
		return spool_error(s);
	s->written++;
	return maybe_rotate(s);
}

es_result sink_finish(sink *s)
{
	return s->open ? close_object(s) : ES_OK;
}
