/*
 * fuzz_lines.c - libFuzzer target for the NDJSON line splitter (ndjson.h).
 *
 * Input: a control byte M, a control byte S, three chunk-size bytes, then
 * the stream.  max_line is M % 64 (small, so over-long lines are common),
 * chunks cycle through the sizes 1..64 of the chunk-size bytes.
 *
 * The splitter's records (lines, over-long lines reassembled from their
 * pieces, each with its line number) must equal those of a reference
 * written here from the contract in ndjson.h: split on LF, drop one CR
 * before it (and at the end of an unterminated last line), skip lines of
 * only spaces, tabs and CRs unless longer than max_line, over-long when
 * longer than max_line.  The protocol of over-long pieces is checked
 * (first only on the first, last only on the last, one line number, no
 * line in between), and so is the sum: record bytes + blank lines + the
 * terminators and dropped CRs account for every input byte.  Then the
 * same splitter is reset and fed the stream whole (same records), and
 * once more with a callback that stops at record S (its value comes
 * back, no call after it).
 * Seeds are in tests/fuzz/corpus/lines/.
 *
 * Built and run by tests/fuzz/run-fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STOP_VALUE 7

enum rec_kind { REC_LINE, REC_OVERLONG };

typedef struct rec {
	enum rec_kind kind;
	uint64_t lineno;
	size_t off, len;          /* into the recorder's bytes */
} rec;

typedef struct recorder {
	rec *r;
	size_t n, alloc;
	buf bytes;                /* every record's bytes, one after another */
	bool in_overlong;
	size_t calls;
	size_t stop_at;           /* return STOP_VALUE on this call (1-based), 0: never */
	bool stopped;
} recorder;

static void recorder_init(recorder *rc, size_t stop_at)
{
	memset(rc, 0, sizeof(*rc));
	buf_init(&rc->bytes, 0);
	rc->stop_at = stop_at;
}

static void recorder_release(recorder *rc)
{
	free(rc->r);
	buf_release(&rc->bytes);
}

static rec *rec_new(recorder *rc, enum rec_kind kind, uint64_t lineno)
{
	rec *r;

	rc->r = xgrow(rc->r, rc->n + 1, &rc->alloc, sizeof(*rc->r));
	r = &rc->r[rc->n++];
	r->kind = kind;
	r->lineno = lineno;
	r->off = rc->bytes.len;
	r->len = 0;
	return r;
}

static int count_call(recorder *rc)
{
	if (rc->stopped)
		abort();          /* called after it asked to stop */
	if (++rc->calls == rc->stop_at) {
		rc->stopped = true;
		return STOP_VALUE;
	}
	return 0;
}

static int on_line(void *ud, const char *p, size_t n, uint64_t lineno)
{
	recorder *rc = ud;
	rec *r;

	if (rc->in_overlong || n == 0)
		abort();
	r = rec_new(rc, REC_LINE, lineno);
	buf_add(&rc->bytes, p, n);
	r->len = n;
	return count_call(rc);
}

static int on_overlong(void *ud, const char *p, size_t n, uint64_t lineno, bool first,
		       bool last)
{
	recorder *rc = ud;
	rec *r;

	if (first) {
		if (rc->in_overlong)
			abort();
		r = rec_new(rc, REC_OVERLONG, lineno);
		rc->in_overlong = true;
	} else {
		if (!rc->in_overlong || rc->r[rc->n - 1].lineno != lineno)
			abort();
		r = &rc->r[rc->n - 1];
	}
	buf_add(&rc->bytes, p, n);
	r->len += n;
	if (last)
		rc->in_overlong = false;
	return count_call(rc);
}

static size_t chunk_size(uint8_t b)
{
	return (size_t)(b & 0x3f) + 1;
}

/* Feed p[0..n) in chunks (each in its own block, so that reads past it
 * are seen), then finish.  Returns the first non-zero return value. */
static int split(line_splitter *ls, const uint8_t *p, size_t n, const uint8_t *sizes,
		 size_t nsizes)
{
	size_t off = 0, i = 0;
	int rc = 0;

	while (off < n && !rc) {
		size_t k = nsizes ? chunk_size(sizes[i++ % nsizes]) : n;
		char *c;

		if (k > n - off)
			k = n - off;
		c = xmalloc(k);
		memcpy(c, p + off, k);
		rc = lines_feed(ls, c, k);
		free(c);
		off += k;
	}
	if (!rc)
		rc = lines_finish(ls);
	return rc;
}

/* The reference, from the contract.  Also returns, in *blank_bytes, the
 * bytes of skipped lines and of terminators and dropped CRs. */
static void reference(recorder *rc, size_t max_line, const uint8_t *p, size_t n,
		      size_t *other_bytes)
{
	size_t start = 0;
	uint64_t lineno = 1;

	*other_bytes = 0;
	while (start < n) {
		const uint8_t *nl = memchr(p + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - p) : n;
		size_t len = end - start, full = len;
		bool blank = true;

		if (len && p[start + len - 1] == '\r')
			len--;
		for (size_t i = 0; i < len; i++)
			if (p[start + i] != ' ' && p[start + i] != '\t' && p[start + i] != '\r')
				blank = false;
		if (!blank || len > max_line) {
			rec *r = rec_new(rc, len > max_line ? REC_OVERLONG : REC_LINE, lineno);

			buf_add(&rc->bytes, p + start, len);
			r->len = len;
			*other_bytes += full - len;
		} else {
			*other_bytes += full;
		}
		*other_bytes += nl != NULL;
		lineno++;
		start = end + 1;
	}
}

static void assert_same(const recorder *got, const recorder *want)
{
	if (got->n != want->n || got->in_overlong)
		abort();
	for (size_t i = 0; i < got->n; i++) {
		const rec *g = &got->r[i], *w = &want->r[i];

		if (g->kind != w->kind || g->lineno != w->lineno || g->len != w->len ||
		    (g->len && memcmp(got->bytes.data + g->off, want->bytes.data + w->off, g->len)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	line_splitter ls;
	recorder want, chunked, whole, stopping;
	const uint8_t *p;
	size_t n, max_line, other;
	int rc;

	if (size < 5)
		return 0;
	max_line = data[0] % 64;
	p = data + 5;
	n = size - 5;

	recorder_init(&want, 0);
	reference(&want, max_line, p, n, &other);
	if (want.bytes.len + other != n)
		abort();          /* the reference itself accounts for every byte */

	recorder_init(&chunked, 0);
	lines_init(&ls, max_line, on_line, on_overlong, &chunked);
	if (split(&ls, p, n, data + 2, 3) != 0)
		abort();
	assert_same(&chunked, &want);

	/* the same splitter, reset, fed whole */
	recorder_init(&whole, 0);
	lines_reset(&ls);
	ls.ud = &whole;
	if (split(&ls, p, n, NULL, 0) != 0)
		abort();
	assert_same(&whole, &want);

	/* a callback that stops: its value comes back, nothing after it */
	if (chunked.calls) {
		recorder_init(&stopping, 1 + data[1] % chunked.calls);
		lines_reset(&ls);
		ls.ud = &stopping;
		rc = split(&ls, p, n, data + 2, 3);
		if (rc != STOP_VALUE || !stopping.stopped)
			abort();
		recorder_release(&stopping);
	}
	lines_release(&ls);
	recorder_release(&want);
	recorder_release(&chunked);
	recorder_release(&whole);
	return 0;
}
