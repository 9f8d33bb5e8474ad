/* quarantine.c - the run's file of bad lines, with bounds. */
#include "quarantine.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUARANTINE_FLUSH (64u << 10)

void quarantine_init(quarantine *q, state_store *ss, const char *run_id, const config *cfg,
		     bool keep)
{
	memset(q, 0, sizeof(*q));
	q->ss = ss;
	q->run_id = run_id;
	q->path = state_quarantine_path(ss, run_id);
	q->fd = -1;
	q->line_cap = cfg->quarantine_line_bytes;
	q->file_cap = cfg->max_quarantine_per_file;
	q->run_cap = cfg->max_quarantine_per_run;
	buf_init(&q->pending, 0);
	q->discard = !keep;
	/* a re-executed plan writes its quarantine again from the start */
	if (keep)
		state_quarantine_remove(ss, run_id);
}

void quarantine_release(quarantine *q)
{
	if (q->fd >= 0)
		close(q->fd);
	EVP_MD_CTX_free(q->md);
	buf_release(&q->pending);
	free(q->path);
	memset(q, 0, sizeof(*q));
	q->fd = -1;
}

void quarantine_file_begin(quarantine *q, const char *source, const char *url)
{
	q->source = source;
	q->url = url;
	q->file_start = q->written + q->pending.len;
	q->file_bytes = 0;
}

es_result quarantine_flush(quarantine *q)
{
	if (!q->pending.len)
		return ES_OK;
	if (q->discard) {
		q->written += q->pending.len;
		buf_reset(&q->pending);
		return ES_OK;
	}
	if (q->fd < 0) {
		es_result r = state_quarantine_open(q->ss, q->run_id, &q->fd);

		if (r != ES_OK)
			return r;
	}
	if (write_all(q->fd, q->pending.data, q->pending.len) < 0)
		return es_error(ES_ERR_IO, "cannot write quarantine file '%s': %s",
				q->path, strerror(errno));
	q->written += q->pending.len;
	buf_reset(&q->pending);
	return ES_OK;
}

es_result quarantine_sync(quarantine *q)
{
	es_result r = quarantine_flush(q);

	if (r == ES_OK && q->fd >= 0 && fdatasync(q->fd) < 0)
		r = es_error(ES_ERR_IO, "cannot write quarantine file '%s': %s", q->path,
			     strerror(errno));
	return r;
}

const char *quarantine_used_path(const quarantine *q)
{
	return q->fd >= 0 ? q->path : NULL;
}

static void record_begin(quarantine *q, uint64_t lineno, const char *kind,
			 const char *path, const char *reason)
{
	jsonw *w = &q->rec;

	q->record_mark = q->written + q->pending.len;
	jsonw_init(w, &q->pending, JSONW_TEXT);
	jsonw_object_begin(w);
	jsonw_string_field(w, "run_id", q->run_id);
	jsonw_string_field(w, "source", q->source);
	jsonw_string_field(w, "url", q->url);
	jsonw_uint_field(w, "line", lineno);
	jsonw_string_field(w, "kind", kind);
	jsonw_string_field(w, "path", path);
	jsonw_string_field(w, "reason", reason);
}

/* The record is complete ("bytes" is its last member): count it, and
 * write out a full buffer. */
static es_result record_end(quarantine *q, uint64_t bytes)
{
	uint64_t n;

	jsonw_uint_field(&q->rec, "bytes", bytes);
	jsonw_object_end(&q->rec);
	buf_addch(&q->pending, '\n');
	n = q->written + q->pending.len - q->record_mark;
	q->file_bytes += n;
	q->run_bytes += n;
	return q->pending.len >= QUARANTINE_FLUSH ? quarantine_flush(q) : ES_OK;
}

static void add_truncated(quarantine *q, const unsigned char digest[32])
{
	char hex[65];

	hex_encode(digest, 32, hex);
	jsonw_bool_field(&q->rec, "truncated", true);
	jsonw_string_field(&q->rec, "sha256", hex);
}

es_result quarantine_line(quarantine *q, uint64_t lineno, const char *kind,
			  const char *path, const char *reason, const char *line, size_t n)
{
	size_t keep = n > q->line_cap ? (size_t)q->line_cap : n;

	log_msg(LOG_DEBUG, q->url, "'%s' line %llu: %s: %s (%s, quarantined)", q->url,
		(unsigned long long)lineno, path, reason, kind);
	record_begin(q, lineno, kind, path, reason);
	if (keep == n && utf8_valid(line, n)) {
		jsonw_name(&q->rec, "text");
		jsonw_string_n(&q->rec, line, n);
	} else {
		jsonw_name(&q->rec, "base64");
		jsonw_string_begin(&q->rec);
		buf_add_base64(&q->pending, line, keep);   /* needs no escaping */
		jsonw_string_end(&q->rec);
	}
	if (keep < n) {
		unsigned char digest[32];
		unsigned int dlen = 0;

		if (!EVP_Digest(line, n, digest, &dlen, EVP_sha256(), NULL))
			die("SHA-256 failed");
		add_truncated(q, digest);
	}
	return record_end(q, n);
}

void quarantine_long_begin(quarantine *q, uint64_t lineno, const char *kind,
			   const char *path, const char *reason)
{
	log_msg(LOG_DEBUG, q->url, "'%s' line %llu: %s (%s, quarantined)", q->url,
		(unsigned long long)lineno, reason, kind);
	record_begin(q, lineno, kind, path, reason);
	jsonw_name(&q->rec, "base64");
	jsonw_string_begin(&q->rec);   /* its pieces need no escaping */
	if (!q->md && !(q->md = EVP_MD_CTX_new()))
		die("out of memory");
	if (!EVP_DigestInit_ex(q->md, EVP_sha256(), NULL))
		die("SHA-256 failed");
	q->ncarry = 0;
	q->long_bytes = 0;
}

es_result quarantine_long_part(quarantine *q, const char *p, size_t n)
{
	uint64_t room = q->long_bytes < q->line_cap ? q->line_cap - q->long_bytes : 0;
	size_t keep = n < room ? n : (size_t)room;
	const char *k = p;

	if (!EVP_DigestUpdate(q->md, p, n))
		die("SHA-256 failed");
	q->long_bytes += n;
	/* base64 of the kept bytes, three at a time across the pieces */
	while (keep && q->ncarry) {
		q->carry[q->ncarry++] = (unsigned char)*k++;
		keep--;
		if (q->ncarry == 3) {
			buf_add_base64(&q->pending, q->carry, 3);
			q->ncarry = 0;
		}
	}
	if (keep >= 3) {
		size_t whole = keep - keep % 3;

		buf_add_base64(&q->pending, k, whole);
		k += whole;
		keep -= whole;
	}
	while (keep) {
		q->carry[q->ncarry++] = (unsigned char)*k++;
		keep--;
	}
	/* the record may not fit in memory whole: write it out in pieces */
	return q->pending.len >= QUARANTINE_FLUSH ? quarantine_flush(q) : ES_OK;
}

es_result quarantine_long_end(quarantine *q)
{
	unsigned char digest[32];
	unsigned int dlen = 0;

	if (q->ncarry)
		buf_add_base64(&q->pending, q->carry, q->ncarry);
	q->ncarry = 0;
	jsonw_string_end(&q->rec);
	if (!EVP_DigestFinal_ex(q->md, digest, &dlen))
		die("SHA-256 failed");
	if (q->long_bytes > q->line_cap)
		add_truncated(q, digest);
	return record_end(q, q->long_bytes);
}

enum quarantine_bound quarantine_over(const quarantine *q)
{
	if (q->file_bytes > q->file_cap)
		return QUARANTINE_FILE_FULL;
	if (q->run_bytes > q->run_cap)
		return QUARANTINE_RUN_FULL;
	return QUARANTINE_WITHIN;
}

es_result quarantine_file_rollback(quarantine *q)
{
	if (q->file_start >= q->written) {
		q->pending.len = (size_t)(q->file_start - q->written);
		if (q->pending.data)
			q->pending.data[q->pending.len] = '\0';
	} else {
		if (!q->discard && ftruncate(q->fd, (off_t)q->file_start) < 0)
			return es_error(ES_ERR_IO, "cannot write quarantine file '%s': %s",
					q->path, strerror(errno));
		q->written = q->file_start;
		buf_reset(&q->pending);
	}
	q->run_bytes -= q->file_bytes;
	q->file_bytes = 0;
	return ES_OK;
}
