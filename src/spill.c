/* spill.c - byte log in memory, then in an unlinked temporary file. */
#include "spill.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_CHUNK (256 * 1024)

struct record_head {
	uint32_t len;
	uint32_t pad;
	dedup_fp fp;
};

void spill_init(spill *s, const char *dir, size_t mem_cap)
{
	s->dir = xstrdup(dir);
	s->mem_cap = mem_cap;
	buf_init(&s->mem, 0);
	s->fd = -1;
	s->file_bytes = 0;
	s->records = 0;
}

void spill_release(spill *s)
{
	free(s->dir);
	s->dir = NULL;
	buf_release(&s->mem);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

void spill_reset(spill *s)
{
	buf_reset(&s->mem);
	if (s->fd >= 0 && s->file_bytes && ftruncate(s->fd, 0) < 0) {
		close(s->fd);
		s->fd = -1;
	}
	s->file_bytes = 0;
	s->records = 0;
}

bool spill_empty(const spill *s)
{
	return s->mem.len == 0 && s->file_bytes == 0;
}

static es_result open_file(spill *s)
{
	char *path = xasprintf("%s/.pending-XXXXXX", s->dir);

	s->fd = mkstemp(path);
	if (s->fd < 0) {
		es_result r = es_error(ES_ERR_IO, "cannot create a temporary file in '%s': %s",
				       s->dir, strerror(errno));

		free(path);
		return r;
	}
	unlink(path);
	free(path);
	return ES_OK;
}

es_result spill_add(spill *s, const void *p, size_t n)
{
	es_result r;

	if (s->file_bytes == 0 && s->mem.len + n <= s->mem_cap) {
		buf_add(&s->mem, p, n);
		return ES_OK;
	}
	if (s->fd < 0 && (r = open_file(s)) != ES_OK)
		return r;
	if (pwrite(s->fd, p, n, (off_t)s->file_bytes) != (ssize_t)n) {
		/* retry through write_all semantics for short writes */
		if (lseek(s->fd, (off_t)s->file_bytes, SEEK_SET) < 0 ||
		    write_all(s->fd, p, n) < 0)
			return es_error(ES_ERR_IO, "cannot write a temporary file in '%s': %s",
					s->dir, strerror(errno));
	}
	s->file_bytes += n;
	return ES_OK;
}

es_result spill_add_record(spill *s, dedup_fp fp, const char *line, size_t n)
{
	struct record_head h = { (uint32_t)n, 0, fp };
	es_result r;

	if (n > UINT32_MAX)
		return es_error(ES_ERR_INTERNAL, "line too long for a spill record");
	if ((r = spill_add(s, &h, sizeof(h))) != ES_OK)
		return r;
	s->records++;
	return spill_add(s, line, n);
}

int spill_replay_bytes(spill *s, spill_bytes_fn fn, void *ud)
{
	char *chunk;
	uint64_t off = 0;
	int rc;

	if (s->mem.len && (rc = fn(ud, s->mem.data, s->mem.len)) != 0)
		return rc;
	if (!s->file_bytes)
		return 0;
	chunk = xmalloc(REPLAY_CHUNK);
	while (off < s->file_bytes) {
		size_t want = s->file_bytes - off < REPLAY_CHUNK ? (size_t)(s->file_bytes - off)
								 : REPLAY_CHUNK;
		ssize_t got = pread(s->fd, chunk, want, (off_t)off);

		if (got <= 0) {
			if (got < 0 && errno == EINTR)
				continue;
			free(chunk);
			return error("cannot read a temporary file in '%s': %s", s->dir,
				     got < 0 ? strerror(errno) : "unexpected end");
		}
		off += (uint64_t)got;
		if ((rc = fn(ud, chunk, (size_t)got)) != 0) {
			free(chunk);
			return rc;
		}
	}
	free(chunk);
	return 0;
}

/* Reassemble records from the byte stream. */
struct reassembly {
	spill_record_fn fn;
	void *ud;
	buf part;             /* a record split across chunks */
};

static int feed_records(void *ud, const char *p, size_t n)
{
	struct reassembly *ra = ud;
	int rc;

	while (n) {
		struct record_head h;
		size_t need;

		if (ra->part.len) {
			/* complete the header, then the line */
			size_t take;

			if (ra->part.len < sizeof(h)) {
				take = sizeof(h) - ra->part.len;
				if (take > n)
					take = n;
				buf_add(&ra->part, p, take);
				p += take;
				n -= take;
				if (ra->part.len < sizeof(h))
					return 0;
			}
			memcpy(&h, ra->part.data, sizeof(h));
			need = sizeof(h) + h.len - ra->part.len;
			take = need > n ? n : need;
			buf_add(&ra->part, p, take);
			p += take;
			n -= take;
			if (take < need)
				return 0;
			rc = ra->fn(ra->ud, h.fp, ra->part.data + sizeof(h), h.len);
			buf_reset(&ra->part);
			if (rc)
				return rc;
			continue;
		}
		if (n < sizeof(h)) {
			buf_add(&ra->part, p, n);
			return 0;
		}
		memcpy(&h, p, sizeof(h));
		if (n - sizeof(h) < h.len) {
			buf_add(&ra->part, p, n);
			return 0;
		}
		if ((rc = ra->fn(ra->ud, h.fp, p + sizeof(h), h.len)) != 0)
			return rc;
		p += sizeof(h) + h.len;
		n -= sizeof(h) + h.len;
	}
	return 0;
}

int spill_replay_records(spill *s, spill_record_fn fn, void *ud)
{
	struct reassembly ra = { fn, ud, BUF_INIT };
	int rc = spill_replay_bytes(s, feed_records, &ra);

	if (!rc && ra.part.len)
		rc = error("a temporary file in '%s' ends inside a record", s->dir);
	buf_release(&ra.part);
	return rc;
}
