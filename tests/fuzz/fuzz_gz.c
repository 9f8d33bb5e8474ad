/*
 * fuzz_gz.c - libFuzzer target for the gzip decoder and encoder (gz.h).
 *
 * Input: one control byte C, then (C & 7) chunk-size bytes, then the
 * stream.  The stream is decoded four ways with one decoder, reset in
 * between (so reuse after success, failure and a stop is exercised):
 *   1. fed in chunks whose sizes cycle through the chunk-size bytes;
 *   2. fed whole;
 *   3. fed whole to a callback that keeps nothing;
 *   4. fed whole to a callback that stops at its Nth call.
 * Invariants: 1, 2 and 3 agree on success or failure, and 1 and 2 on the
 * bytes; a failure comes with a message; every callback chunk holds 1 to
 * GZ_CHUNK bytes; a stopping callback's value is returned and it is not
 * called again.  zlib, used directly, is the reference: it must agree on
 * success and on the bytes (so the build's ISA-L inflate is held to RFC
 * 1952 as zlib reads it).
 * Round trip: the stream compressed with gz_compress_member (level from
 * C), in one member and in two, decodes back to itself, within
 * gz_member_bound, and the same input gives the same bytes.
 * Seeds are in tests/fuzz/corpus/gz/: each file is a control byte, no
 * chunk sizes or a few, then a gzip file or plain NDJSON.
 *
 * Built and run by tests/fuzz/run-fuzz.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decoded output above this is not compared (a deflate bomb): the
 * collecting callback stops with OUT_TOO_BIG. */
#define OUT_CAP (64u << 20)
#define OUT_TOO_BIG 9001
#define STOP_VALUE 42

typedef struct sink {
	buf out;
	bool keep;           /* keep the bytes (else count them only) */
	size_t calls;
	size_t stop_at;      /* return STOP_VALUE on this call (1-based), 0: never */
	bool stopped;
} sink;

static int collect(void *ud, const char *p, size_t n)
{
	sink *s = ud;

	if (s->stopped || n == 0 || n > GZ_CHUNK)
		abort();
	s->calls++;
	if (s->stop_at && s->calls == s->stop_at) {
		s->stopped = true;
		return STOP_VALUE;
	}
	if (s->keep && !buf_add(&s->out, p, n))
		return OUT_TOO_BIG;
	return 0;
}

static void sink_init(sink *s, bool keep, size_t stop_at)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->out, OUT_CAP);
	s->keep = keep;
	s->stop_at = stop_at;
}

/* Chunk sizes from control bytes: 1..64 times 1, 4, 16 or 64. */
static size_t chunk_size(uint8_t b)
{
	return ((size_t)(b & 0x3f) + 1) << (2 * (b >> 6));
}

/* Decode p[0..n) with d (reset first), in chunks when sizes is given.
 * Returns what feed or finish returned. */
static int decode(gz_decoder *d, const uint8_t *p, size_t n, const uint8_t *sizes,
		  size_t nsizes, sink *s)
{
	size_t off = 0, i = 0;
	int rc = 0;

	gz_decoder_reset(d);
	if (gz_decoder_error(d)[0] || gz_decoder_bytes_in(d) != 0)
		abort();
	while (off < n) {
		size_t k = nsizes ? chunk_size(sizes[i++ % nsizes]) : n;

		if (k > n - off)
			k = n - off;
		/* each chunk in its own block, so that reads past it are seen */
		{
			uint8_t *c = xmalloc(k);

			memcpy(c, p + off, k);
			rc = gz_decoder_feed(d, c, k, collect, s);
			free(c);
		}
		off += k;
		if (rc)
			break;
	}
	if (!rc)
		rc = gz_decoder_finish(d, collect, s);
	if (rc == -1 && !gz_decoder_error(d)[0])
		abort();
	if (rc != -1 && rc != 0 && rc != STOP_VALUE && rc != OUT_TOO_BIG)
		abort();
	if (rc == 0) {
		if (gz_decoder_bytes_in(d) != n)
			abort();
		if (n >= 2 && gz_decoder_is_gzip(d) != (p[0] == 0x1f && p[1] == 0x8b))
			abort();
	}
	return rc;
}

/* The reference: zlib's gzip reader, member after member, as gz.h
 * describes the format (plain text when the magic is absent). */
static int zlib_decode(const uint8_t *p, size_t n, buf *out)
{
	z_stream zs;
	unsigned char tmp[16384];
	bool in_member = false;
	int rc = 0;

	if (n < 2 || p[0] != 0x1f || p[1] != 0x8b)
		return buf_add(out, p, n) ? 0 : OUT_TOO_BIG;
	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		abort();
	zs.next_in = (unsigned char *)p;
	zs.avail_in = (uInt)n;
	while (zs.avail_in) {
		int zr;

		if (!in_member) {
			if (zs.next_in[0] != 0x1f || (zs.avail_in > 1 && zs.next_in[1] != 0x8b)) {
				rc = -1;    /* data after the end of the stream */
				break;
			}
			inflateReset(&zs);
			in_member = true;
		}
		zs.next_out = tmp;
		zs.avail_out = sizeof(tmp);
		zr = inflate(&zs, Z_NO_FLUSH);
		if (!buf_add(out, tmp, sizeof(tmp) - zs.avail_out)) {
			rc = OUT_TOO_BIG;
			break;
		}
		if (zr == Z_STREAM_END) {
			in_member = false;
		} else if (zr != Z_OK && !(zr == Z_BUF_ERROR && zs.avail_out == 0)) {
			rc = -1;
			break;
		}
	}
	if (!rc && in_member)
		rc = -1;            /* truncated */
	inflateEnd(&zs);
	return rc;
}

static bool same_bytes(const buf *a, const buf *b)
{
	return a->len == b->len && (a->len == 0 || !memcmp(a->data, b->data, a->len));
}

static void round_trip(gz_decoder *d, gz_compressor *c, int level, const uint8_t *p,
		       size_t n, size_t split)
{
	buf one = BUF_INIT, again = BUF_INIT, two = BUF_INIT;
	sink s;

	gz_compress_member(c, level, p, n, &one);
	if (one.len > gz_member_bound(n) || one.len < 18 ||
	    (uint8_t)one.data[0] != 0x1f || (uint8_t)one.data[1] != 0x8b)
		abort();
	gz_compress_member(c, level, p, n, &again);
	if (!same_bytes(&one, &again))
		abort();
	sink_init(&s, true, 0);
	if (decode(d, (const uint8_t *)one.data, one.len, NULL, 0, &s) != 0 ||
	    !gz_decoder_is_gzip(d) || s.out.len != n || (n && memcmp(s.out.data, p, n)))
		abort();
	buf_release(&s.out);

	/* two members: p[0..split) and p[split..n) */
	gz_compress_member(c, level, p, split, &two);
	gz_compress_member(c, level, p + split, n - split, &two);
	sink_init(&s, true, 0);
	if (decode(d, (const uint8_t *)two.data, two.len, NULL, 0, &s) != 0 ||
	    s.out.len != n || (n && memcmp(s.out.data, p, n)))
		abort();
	buf_release(&s.out);
	buf_release(&one);
	buf_release(&again);
	buf_release(&two);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gz_decoder *d;
	static gz_compressor *c;
	const uint8_t *sizes, *p;
	size_t nsizes, n;
	uint8_t ctl;
	sink chunked, whole, counted, stopping;
	buf ref = BUF_INIT;
	int rc_chunked, rc_whole, rc_counted, rc_ref;

	if (!d) {
		d = gz_decoder_new();
		c = gz_compressor_new();
	}
	if (size < 1)
		return 0;
	ctl = data[0];
	nsizes = ctl & 7;
	if (size < 1 + nsizes)
		return 0;
	sizes = data + 1;
	p = data + 1 + nsizes;
	n = size - 1 - nsizes;

	sink_init(&chunked, true, 0);
	rc_chunked = decode(d, p, n, sizes, nsizes, &chunked);
	sink_init(&whole, true, 0);
	rc_whole = decode(d, p, n, NULL, 0, &whole);
	sink_init(&counted, false, 0);
	rc_counted = decode(d, p, n, NULL, 0, &counted);
	if (rc_chunked != OUT_TOO_BIG && rc_whole != OUT_TOO_BIG) {
		if ((rc_chunked == 0) != (rc_whole == 0) || (rc_whole == 0) != (rc_counted == 0))
			abort();
		if (rc_whole == 0 && !same_bytes(&chunked.out, &whole.out))
			abort();
		buf_init(&ref, OUT_CAP);
		rc_ref = zlib_decode(p, n, &ref);
		if (rc_ref != OUT_TOO_BIG) {
			if ((rc_ref == 0) != (rc_whole == 0))
				abort();
			if (rc_ref == 0 && !same_bytes(&ref, &whole.out))
				abort();
		}
		buf_release(&ref);
	}

	/* a callback that stops: its value comes back, no call after it */
	if (rc_counted == 0 && counted.calls) {
		sink_init(&stopping, false, 1 + (size_t)(ctl >> 3) % counted.calls);
		if (decode(d, p, n, NULL, 0, &stopping) != STOP_VALUE || !stopping.stopped ||
		    stopping.calls != stopping.stop_at)
			abort();
	}
	buf_release(&chunked.out);
	buf_release(&whole.out);

	round_trip(d, c, 1 + (ctl >> 3) % 9, p, n, n ? (size_t)(ctl * 7919u) % (n + 1) : 0);
	return 0;
}
