/* sink.c - dedup, block, compress, put one subscriber's output. */
#include "sink.h"
#include "log.h"
#include "strmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_MAX (1u << 20)     /* input bytes per gzip member */
#define BLOCK_MIN (4u << 10)

static void stop_putter(sink *s);

struct sink_claim {
	char *url;
	const char *org;          /* the sink's subscriber (borrowed) */
};

struct sink_keys {
	pthread_mutex_t mu;
	strmap owner;             /* URL -> index into claims */
	struct sink_claim *claims;
	size_t n, alloc;
};

sink_keys *sink_keys_new(void)
{
	sink_keys *k = xcalloc(1, sizeof(*k));

	pthread_mutex_init(&k->mu, NULL);
	strmap_init(&k->owner);
	return k;
}

void sink_keys_free(sink_keys *k)
{
	if (!k)
		return;
	strmap_release(&k->owner);
	for (size_t i = 0; i < k->n; i++)
		free(k->claims[i].url);
	free(k->claims);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

/* Claim url for org: NULL, or the org that has it already. */
static const char *claim_url(sink_keys *k, const char *url, const char *org)
{
	const char *other = NULL;
	size_t i;

	pthread_mutex_lock(&k->mu);
	if (strmap_get(&k->owner, url, &i)) {
		if (strcmp(k->claims[i].org, org))
			other = k->claims[i].org;
	} else {
		k->claims = xgrow(k->claims, k->n + 1, &k->alloc, sizeof(*k->claims));
		k->claims[k->n].url = xstrdup(url);
		k->claims[k->n].org = org;
		strmap_put(&k->owner, k->claims[k->n].url, k->n);
		k->n++;
	}
	pthread_mutex_unlock(&k->mu);
	return other;
}

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
	/* an object ends past max_object_bytes by less than a block and a
	 * line (at most 1 GiB): this bounds it and sizes its parts */
	s->upload_max = sub->max_object_bytes +
			(sub->max_object_bytes > (2ull << 30) ? sub->max_object_bytes : 2ull << 30);
	s->uploads = store_has_uploads(dest);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->progress, NULL);
}

void sink_release(sink *s)
{
	if (!s->sub)
		return;
	stop_putter(s);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->progress);
	pthread_mutex_destroy(&s->mu);
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

/* --- the putter thread ---------------------------------------------------
 *
 * Objects (spool files) are listed in s->objs in order, as the writer
 * starts them.  The putter sends what the store can take of each while
 * it grows (store_upload_send: nothing visible), and ends objects
 * [next, allowed) in order (store_upload_end: visible).  The pipeline
 * moves `allowed` on when every line in those objects comes from a file
 * known to be good.  The first failure stops the putter's work; the
 * pipeline sees it at its next call.
 */

/*
 * However many subscribers a run has, at most SINK_PUTTERS_AT_ONCE
 * putters talk to their stores at the same time: a bound on connections
 * (each putter may use upload_streams of them) and open files.  The
 * process's putters share it.
 */
#define SINK_PUTTERS_AT_ONCE 8

static pthread_mutex_t putters_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t putters_cv = PTHREAD_COND_INITIALIZER;
static unsigned putters_busy;

static void putter_enter(void)
{
	pthread_mutex_lock(&putters_mu);
	while (putters_busy >= SINK_PUTTERS_AT_ONCE)
		pthread_cond_wait(&putters_cv, &putters_mu);
	putters_busy++;
	pthread_mutex_unlock(&putters_mu);
}

static void putter_leave(void)
{
	pthread_mutex_lock(&putters_mu);
	putters_busy--;
	pthread_cond_signal(&putters_cv);
	pthread_mutex_unlock(&putters_mu);
}

/* An object's key: ES_ERR_INTERNAL when it came out unsafe, ES_ERR_CONFIG
 * when another subscriber has it (an error was logged). */
static es_result object_key(sink *s, const sink_object *o, buf *key)
{
	keyfmt_vars v = {
		.subscriber = s->sub->org_id,
		.source = o->tag,
		.run_start_ms = s->run_start_ms,
		.run_id = s->run_id,
		.seq = o->seq,
	};

	buf_addstr(key, s->dest->loc.prefix);
	if (!keyfmt_render(s->sub->key_format, &v, key)) {
		return store_fail(s->dest, ES_ERR_INTERNAL, s->dest->loc.url, "key_format of "
				  "'%s' gave an unsafe key '%s' under '%s'", s->sub->org_id,
				  key->data, s->dest->loc.url);
	}
	if (s->keys) {
		char *url = store_url(s->dest, key->data);
		const char *other = claim_url(s->keys, url, s->sub->org_id);

		/* the store keeps the message: it is the subscriber's failure */
		if (other)
			store_fail(s->dest, ES_ERR_CONFIG, url, "'%s' would be an output of both "
				   "'%s' and '%s' in this run: nothing of it is put for '%s' "
				   "(two subscribers whose keys can meet; 'evshare check' "
				   "tells which)", url, other, s->sub->org_id, s->sub->org_id);
		free(url);
		if (other)
			return ES_ERR_CONFIG;
	}
	return ES_OK;
}

/* Make an object visible (the putter, unlocked). */
static es_result end_object(sink *s, const char *key, const char *path, uint64_t size,
			    store_upload *up)
{
	es_result r = store_upload_end(s->dest, up, key, path);

	if (r == ES_OK) {
		char *url = store_url(s->dest, key);

		log_msg(LOG_DEBUG, url, "put '%s' (%llu bytes)", url, (unsigned long long)size);
		unlink(path);
		pthread_mutex_lock(&s->mu);
		s->objects = xgrow(s->objects, s->nobjects + 1, &s->objects_alloc,
				   sizeof(*s->objects));
		s->objects[s->nobjects++] = url;
		s->bytes_out += size;
		pthread_mutex_unlock(&s->mu);
	}
	return r;
}

static void *putter_main(void *arg)
{
	sink *s = arg;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		size_t i = s->next;
		bool end = false;
		uint64_t ready = 0;
		store_upload *up;
		const char *path, *key_text;
		buf key = BUF_INIT;
		es_result r = ES_OK;

		if (s->stop)
			break;
		if (s->err == ES_OK) {
			for (; i < s->nobjs; i++) {
				sink_object *o = &s->objs[i];

				if (i == s->next && i < s->allowed) {
					end = true;
					break;
				}
				if (s->uploads && o->ready > o->offered)
					break;
			}
		}
		if (s->err != ES_OK || i == s->nobjs) {
			pthread_cond_wait(&s->work, &s->mu);
			continue;
		}
		ready = s->objs[i].ready;
		path = s->objs[i].path;
		if (!s->objs[i].key) {
			/* the key needs nothing the pipeline changes */
			if ((r = object_key(s, &s->objs[i], &key)) != ES_OK) {
				s->err = r;
				buf_release(&key);
				pthread_cond_broadcast(&s->progress);
				continue;
			}
			s->objs[i].key = buf_detach(&key, NULL);
			s->objs[i].up = store_upload_new(s->dest, s->objs[i].key, s->upload_max);
		}
		up = s->objs[i].up;
		key_text = s->objs[i].key;
		pthread_mutex_unlock(&s->mu);
		/* s->objs may move meanwhile; what the strings point to does not */
		putter_enter();
		if (end)
			r = end_object(s, key_text, path, ready, up);
		else
			r = store_upload_send(s->dest, up, path, ready);
		putter_leave();
		pthread_mutex_lock(&s->mu);
		if (end && r == ES_OK) {
			store_upload_free(s->dest, s->objs[i].up);
			s->objs[i].up = NULL;
			s->next++;
		}
		s->objs[i].offered = ready;
		if (r != ES_OK)
			s->err = r;
		pthread_cond_broadcast(&s->progress);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* The object numbered seq, added at the end if it is new (locked). */
static sink_object *object_of(sink *s, unsigned seq, const void *tag)
{
	sink_object *o;

	for (size_t i = s->nobjs; i > 0; i--)
		if (s->objs[i - 1].seq == seq)
			return &s->objs[i - 1];
	s->objs = xgrow(s->objs, s->nobjs + 1, &s->objs_alloc, sizeof(*s->objs));
	o = &s->objs[s->nobjs++];
	memset(o, 0, sizeof(*o));
	o->seq = seq;
	o->tag = tag;
	o->path = zstream_file_path(s->zs, seq);
	return o;
}

/* Tell the putter what the writer has done since the last call: files
 * finished, and how far the one being written has grown.  With ends,
 * every finished object may be made visible.  Returns the putter's
 * failure, if any. */
static es_result refresh(sink *s, bool ends)
{
	unsigned seq = 0;
	uint64_t bytes = 0;
	const void *tag = NULL;
	/* the growing file first: every file before it is finished by then,
	 * so the take below has them all and objects are added in order */
	bool growing = s->uploads && zstream_growing(s->zs, &seq, &bytes, &tag);
	zfile *files;
	size_t n = zstream_take(s->zs, &files);
	es_result r;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		sink_object *o = object_of(s, files[i].seq, files[i].tag);

		o->finished = true;
		o->ready = files[i].bytes;
		zfile_release(&files[i]);
	}
	if (growing) {
		sink_object *o = object_of(s, seq, tag);

		if (bytes > o->ready)
			o->ready = bytes;
	}
	if (ends)
		while (s->allowed < s->nobjs && s->objs[s->allowed].finished)
			s->allowed++;
	pthread_cond_signal(&s->work);
	r = s->err;
	pthread_mutex_unlock(&s->mu);
	free(files);
	return r;
}

/* Stop the putter; take back what it sent of objects not made visible
 * and remove their spool files.  Idempotent. */
static void stop_putter(sink *s)
{
	if (s->putter_started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->work);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->putter, NULL);
		s->putter_started = false;
	}
	for (size_t i = 0; i < s->nobjs; i++) {
		sink_object *o = &s->objs[i];

		store_upload_free(s->dest, o->up);
		if (i >= s->next && o->path)
			unlink(o->path);
		free(o->path);
		free(o->key);
	}
	free(s->objs);
	s->objs = NULL;
	s->nobjs = s->objs_alloc = s->next = s->allowed = 0;
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
		int rc;

		s->zs = zstream_new(s->pool, s->sub->compression_level,
				    s->sub->max_object_bytes, prefix);
		free(prefix);
		s->cur_source = source_org;
		if ((rc = pthread_create(&s->putter, NULL, putter_main, s)) != 0)
			die("cannot start an upload thread: %s", strerror(rc));
		s->putter_started = true;
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
	return refresh(s, false);
}

es_result sink_put_ready(sink *s)
{
	int err;

	if (!s->zs)
		return ES_OK;
	if ((err = zstream_error(s->zs)) != 0)
		return stream_error(s, err);
	return refresh(s, true);
}

es_result sink_finish(sink *s)
{
	int err;

	if (!s->zs)
		return ES_OK;
	submit_block(s);
	if ((err = zstream_finish(s->zs)) != 0)
		return stream_error(s, err);
	return refresh(s, true);
}

es_result sink_wait(sink *s)
{
	es_result r;

	if (!s->zs)
		return ES_OK;
	pthread_mutex_lock(&s->mu);
	while (s->err == ES_OK && s->next < s->allowed)
		pthread_cond_wait(&s->progress, &s->mu);
	r = s->err;
	pthread_mutex_unlock(&s->mu);
	return r;
}

bool sink_putter_failed(sink *s)
{
	bool failed;

	pthread_mutex_lock(&s->mu);
	failed = s->err != ES_OK;
	pthread_mutex_unlock(&s->mu);
	return failed;
}

void sink_stop(sink *s)
{
	stop_putter(s);
}
