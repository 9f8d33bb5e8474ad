/*
 * check_gz.c - streaming gunzip and deterministic gzip.
 *
 * Expected values come from zlib used directly (its own gzip wrapper for
 * encoding test inputs and decoding encoder output), from a fixture
 * written by gzip(1), and from the gzip format (RFC 1952) for the header
 * and trailer bytes.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gz.h"
#include "util.h"

/* --- helpers ------------------------------------------------------------- */

typedef struct sinkbuf {
	buf b;
	size_t calls;
	size_t max_chunk;
	int stop_after;    /* return stop_value on this call (1-based), 0: never */
	int stop_value;
} sinkbuf;

static int collect(void *ud, const char *p, size_t n)
{
	sinkbuf *s = ud;

	ck_assert(buf_add(&s->b, p, n));
	s->calls++;
	if (n > s->max_chunk)
		s->max_chunk = n;
	if (s->stop_after && (int)s->calls == s->stop_after)
		return s->stop_value;
	return 0;
}

static void sinkbuf_init(sinkbuf *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->b, 0);
}

static const char *sb_data(const sinkbuf *s)
{
	return s->b.data ? s->b.data : "";
}

/* Independent gzip encoding with zlib's own gzip wrapper. */
static void zlib_gzip(const void *p, size_t n, int level, buf *out)
{
	z_stream zs;
	unsigned char tmp[16384];
	int zr;

	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(deflateInit2(&zs, level, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)(uintptr_t)p;
	zs.avail_in = (uInt)n;
	do {
		zs.next_out = tmp;
		zs.avail_out = sizeof(tmp);
		zr = deflate(&zs, Z_FINISH);
		ck_assert(zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR);
		buf_add(out, tmp, sizeof(tmp) - zs.avail_out);
	} while (zr != Z_STREAM_END);
	deflateEnd(&zs);
}

/* Independent gunzip of any number of members; false if corrupt. */
static bool zlib_gunzip(const void *p, size_t n, buf *out)
{
	z_stream zs;
	unsigned char tmp[16384];
	const unsigned char *in = p;
	bool ok = true;

	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (uInt)n;
	while (zs.avail_in) {
		int zr;

		zs.next_out = tmp;
		zs.avail_out = sizeof(tmp);
		zr = inflate(&zs, Z_NO_FLUSH);
		buf_add(out, tmp, sizeof(tmp) - zs.avail_out);
		if (zr == Z_STREAM_END) {
			inflateReset(&zs);
			continue;
		}
		if (zr != Z_OK) {
			ok = false;
			break;
		}
	}
	/* drain */
	for (;;) {
		int zr;

		zs.next_out = tmp;
		zs.avail_out = sizeof(tmp);
		zr = inflate(&zs, Z_NO_FLUSH);
		buf_add(out, tmp, sizeof(tmp) - zs.avail_out);
		if (zr != Z_OK || zs.avail_out != 0)
			break;
	}
	inflateEnd(&zs);
	return ok;
}

/* Decode with gz_decoder in chunks of `chunk` bytes (0: all at once).
 * Returns 0 or the failing return value; *where 'f' (feed) or 'F' (finish). */
static int gz_decode(const void *p, size_t n, size_t chunk, sinkbuf *out,
		     char *errmsg, size_t errlen, char *where)
{
	gz_decoder *d = gz_decoder_new();
	const char *c = p;
	int rc = 0;

	if (!chunk)
		chunk = n ? n : 1;
	*where = 0;
	for (size_t off = 0; off < n && !rc; off += chunk) {
		size_t k = n - off < chunk ? n - off : chunk;
		char *piece = xmalloc(k);

		memcpy(piece, c + off, k);
		rc = gz_decoder_feed(d, piece, k, collect, out);
		free(piece);
		if (rc)
			*where = 'f';
	}
	if (!rc) {
		rc = gz_decoder_finish(d, collect, out);
		if (rc)
			*where = 'F';
	}
	if (errmsg)
		snprintf(errmsg, errlen, "%s", gz_decoder_error(d));
	gz_decoder_free(d);
	return rc;
}

/* Compress p[0..n) as one gzip member (the chunk argument is kept from
 * the streaming encoder's tests: a member is made in one call now). */
static void gz_encode(const void *p, size_t n, int level, size_t chunk, buf *out)
{
	gz_compressor *c = gz_compressor_new();
	size_t before = out->len;

	(void)chunk;
	gz_compress_member(c, level, p, n, out);
	ck_assert_uint_le(out->len - before, gz_member_bound(n));
	gz_compressor_free(c);
}

/* Text-like pseudo-random NDJSON of about n bytes. */
static void make_text(buf *b, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	static const char words[][12] = { "event", "onboarding", "succeeded", "TN-a1",
					  "billing", "\"id\":", "{\"x\":", "}\n", "1234",
					  "ab", "zz", "\\u00e9" };

	while (b->len < n) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf_addstr(b, words[x % 12]);
		if (x & 0x100)
			buf_printf(b, "%llu", (unsigned long long)(x >> 40));
	}
	b->len = n;
	b->data[n] = '\0';
}

static void assert_same_bytes(const char *what, const char *a, size_t an,
			      const char *b, size_t bn)
{
	size_t i = 0;

	while (i < an && i < bn && a[i] == b[i])
		i++;
	ck_assert_msg(an == bn && i == an, "%s: %zu vs %zu bytes, first difference at %zu",
		      what, an, bn, i);
}

static const char *data_dir(void)
{
	const char *d = getenv("EVSHARE_TEST_DATA");

	return d && *d ? d : "tests/data";
}

static void read_fixture(const char *name, buf *out)
{
	char *path = xasprintf("%s/gz/%s", data_dir(), name);

	ck_assert_msg(read_file(path, out, 1 << 20) == 0, "cannot read %s", path);
	free(path);
}

/* --- encoder ------------------------------------------------------------ */

START_TEST(encoder_round_trip)
{
	static const int levels[] = { 1, 6, 9 };
	buf text = BUF_INIT;

	make_text(&text, 300000, 7);
	for (size_t li = 0; li < 3; li++) {
		static const size_t sizes[] = { 0, 1, 2, 100, 65536, 300000 };

		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			buf gz = BUF_INIT, plain = BUF_INIT;
			sinkbuf dec;
			char err[200], where;

			gz_encode(text.data, sizes[si], levels[li], 4096, &gz);
			ck_assert(zlib_gunzip(gz.data, gz.len, &plain));
			assert_same_bytes("zlib decode", plain.data ? plain.data : "",
					  plain.len, text.data, sizes[si]);
			sinkbuf_init(&dec);
			ck_assert_int_eq(gz_decode(gz.data, gz.len, 0, &dec, err, sizeof(err),
						   &where), 0);
			assert_same_bytes("gz decode", sb_data(&dec), dec.b.len, text.data,
					  sizes[si]);
			buf_release(&dec.b);
			buf_release(&gz);
			buf_release(&plain);
		}
	}
	buf_release(&text);
}
END_TEST

/* The fixed parts of the header: magic, deflate, no flags, mtime 0,
 * OS 255 (unknown); byte 8 (XFL) may say "fastest" or "best". */
static void assert_fixed_header(const buf *gz)
{
	static const unsigned char head[8] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0 };
	const unsigned char *h = (const unsigned char *)gz->data;

	ck_assert_uint_gt(gz->len, 18);
	ck_assert(!memcmp(h, head, 8));
	ck_assert(h[8] == 0 || h[8] == 2 || h[8] == 4);
	ck_assert_uint_eq(h[9], 255);
}

START_TEST(encoder_deterministic_header_trailer)
{
	buf text = BUF_INIT, a = BUF_INIT, b = BUF_INIT;
	uLong crc;
	const unsigned char *t;

	make_text(&text, 100000, 3);
	gz_encode(text.data, text.len, 6, 0, &a);
	gz_encode(text.data, text.len, 6, 0, &b);
	assert_same_bytes("same input twice", a.data, a.len, b.data, b.len);
	assert_fixed_header(&a);
	/* trailer: CRC-32 and ISIZE, little-endian */
	crc = crc32(0L, (const Bytef *)text.data, (uInt)text.len);
	t = (const unsigned char *)a.data + a.len - 8;
	ck_assert_uint_eq((uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
			  (uint32_t)t[3] << 24, (uint32_t)crc);
	ck_assert_uint_eq((uint32_t)t[4] | (uint32_t)t[5] << 8 | (uint32_t)t[6] << 16 |
			  (uint32_t)t[7] << 24, (uint32_t)text.len);
	for (int level = 1; level <= 9; level++) {
		buf x = BUF_INIT, plain = BUF_INIT;

		gz_encode("abc", 3, level, 0, &x);
		assert_fixed_header(&x);
		ck_assert(zlib_gunzip(x.data, x.len, &plain));
		ck_assert_uint_eq(plain.len, 3);
		buf_release(&x);
		buf_release(&plain);
	}
	buf_release(&text);
	buf_release(&a);
	buf_release(&b);
}
END_TEST

START_TEST(encoder_empty_member)
{
	buf gz = BUF_INIT, plain = BUF_INIT;

	gz_encode("", 0, 6, 0, &gz);
	/* header, an empty final block, a trailer of zeros */
	ck_assert_uint_ge(gz.len, 20);
	ck_assert(!memcmp(gz.data + gz.len - 8, "\0\0\0\0\0\0\0\0", 8));
	ck_assert(zlib_gunzip(gz.data, gz.len, &plain));
	ck_assert_uint_eq(plain.len, 0);
	buf_release(&gz);
	buf_release(&plain);
}
END_TEST

START_TEST(encoder_members_concatenate)
{
	gz_compressor *c = gz_compressor_new();
	buf out = BUF_INIT, plain = BUF_INIT, single = BUF_INIT;
	size_t first_len;

	gz_compress_member(c, 6, "first\n", 6, &out);
	first_len = out.len;
	gz_compress_member(c, 6, "second\n", 7, &out);
	ck_assert(zlib_gunzip(out.data, out.len, &plain));
	ck_assert_uint_eq(plain.len, 13);
	ck_assert(!memcmp(plain.data, "first\nsecond\n", 13));
	/* a member does not depend on what the compressor did before */
	gz_encode("second\n", 7, 6, 0, &single);
	assert_same_bytes("second member", out.data + first_len, out.len - first_len,
			  single.data, single.len);
	gz_compressor_free(c);
	buf_release(&plain);
	buf_release(&single);
	buf_release(&out);
}
END_TEST

/* --- decoder ------------------------------------------------------------ */

START_TEST(decoder_multi_member)
{
	buf a = BUF_INIT, b = BUF_INIT, empty = BUF_INIT, all = BUF_INIT;
	sinkbuf out;
	char err[200], where;

	zlib_gzip("{\"a\":1}\n", 8, 9, &a);
	zlib_gzip("{\"b\":2}\n{\"c\":3}\n", 16, 1, &b);
	zlib_gzip("", 0, 6, &empty);
	buf_add(&all, a.data, a.len);
	buf_add(&all, empty.data, empty.len);
	buf_add(&all, b.data, b.len);
	buf_add(&all, empty.data, empty.len);
	for (size_t chunk = 0; chunk <= 9; chunk++) {
		sinkbuf_init(&out);
		ck_assert_int_eq(gz_decode(all.data, all.len, chunk, &out, err, sizeof(err),
					   &where), 0);
		assert_same_bytes("members", sb_data(&out), out.b.len,
				  "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n", 24);
		buf_release(&out.b);
	}
	buf_release(&a);
	buf_release(&b);
	buf_release(&empty);
	buf_release(&all);
}
END_TEST

/* A member header with every optional field and a header CRC (FHCRC),
 * built by hand from RFC 1952, fed in chunks of every size: the header is
 * split at every byte.  (Found by fuzz_gz: ISA-L checked the header CRC
 * only when the whole header came in one call.)  A wrong header CRC fails. */
START_TEST(decoder_header_fields_and_crc_any_split)
{
	static const char text[] = "{\"a\":1}\n";
	buf member = BUF_INIT, raw = BUF_INIT, bad = BUF_INIT;
	z_stream zs;
	unsigned char tmp[256];
	uLong crc = crc32(0L, Z_NULL, 0), hcrc;
	sinkbuf out;
	char err[200], where;

	/* ID1 ID2 CM FLG=FHCRC|FEXTRA|FNAME|FCOMMENT MTIME XFL OS */
	buf_add(&member, "\x1f\x8b\x08\x1e\x01\x02\x03\x04\x00\x03", 10);
	buf_add(&member, "\x03\x00" "AB\x00", 5);           /* XLEN 3, extra */
	buf_add(&member, "name.ndjson\x00", 12);
	buf_add(&member, "a comment\x00", 10);
	hcrc = crc32(0L, (const unsigned char *)member.data, (uInt)member.len) & 0xffff;
	buf_addch(&member, (char)(hcrc & 0xff));
	buf_addch(&member, (char)(hcrc >> 8));
	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	zs.next_in = (unsigned char *)(uintptr_t)text;
	zs.avail_in = sizeof(text) - 1;
	zs.next_out = tmp;
	zs.avail_out = sizeof(tmp);
	ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	buf_add(&raw, tmp, sizeof(tmp) - zs.avail_out);
	deflateEnd(&zs);
	buf_add(&member, raw.data, raw.len);
	crc = crc32(crc, (const unsigned char *)text, sizeof(text) - 1);
	for (int i = 0; i < 4; i++)
		buf_addch(&member, (char)(crc >> (8 * i)));
	for (int i = 0; i < 4; i++)
		buf_addch(&member, (char)((sizeof(text) - 1) >> (8 * i)));
	/* zlib agrees that it is a valid member */
	ck_assert(zlib_gunzip(member.data, member.len, &bad));
	assert_same_bytes("zlib", bad.data, bad.len, text, sizeof(text) - 1);
	buf_reset(&bad);

	for (size_t chunk = 0; chunk <= member.len; chunk++) {
		sinkbuf_init(&out);
		ck_assert_msg(gz_decode(member.data, member.len, chunk, &out, err, sizeof(err),
					&where) == 0, "chunk %zu: %s", chunk, err);
		assert_same_bytes("fhcrc", sb_data(&out), out.b.len, text, sizeof(text) - 1);
		buf_release(&out.b);
	}
	buf_add(&bad, member.data, member.len);
	bad.data[10 + 5 + 12 + 10] ^= 1;   /* the stored header CRC */
	for (size_t chunk = 0; chunk <= bad.len; chunk += 7) {
		sinkbuf_init(&out);
		ck_assert_int_eq(gz_decode(bad.data, bad.len, chunk, &out, err, sizeof(err),
					   &where), -1);
		ck_assert_msg(strstr(err, "header crc") != NULL, "%s", err);
		buf_release(&out.b);
	}
	buf_release(&member);
	buf_release(&raw);
	buf_release(&bad);
}
END_TEST

START_TEST(decoder_gzip_tool_fixture)
{
	/* written by gzip(1): a header with FNAME and mtime, a second member */
	buf gz = BUF_INIT, want = BUF_INIT;
	sinkbuf out;
	char err[200], where;

	read_fixture("named-member.ndjson.gz", &gz);
	read_fixture("named-member.ndjson", &want);
	ck_assert_uint_gt(gz.len, 10);
	ck_assert_int_eq((unsigned char)gz.data[3] & 0x08, 0x08);   /* FNAME */
	for (size_t chunk = 0; chunk <= 5; chunk++) {
		sinkbuf_init(&out);
		ck_assert_int_eq(gz_decode(gz.data, gz.len, chunk, &out, err, sizeof(err),
					   &where), 0);
		assert_same_bytes("fixture", sb_data(&out), out.b.len, want.data, want.len);
		buf_release(&out.b);
	}
	buf_release(&gz);
	buf_release(&want);
}
END_TEST

START_TEST(decoder_plain_passthrough)
{
	static const struct { const char *in; size_t n; } cases[] = {
		{ "{\"a\":1}\n{\"b\":2}\n", 16 },
		{ "x", 1 },
		{ "\x1f", 1 },          /* half a magic is not gzip */
		{ "\x1f\x8a rest", 7 },
		{ "\x8b\x1f", 2 },
		{ "", 0 },
		{ "ab", 2 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t chunk = 0; chunk <= 3; chunk++) {
			gz_decoder *d = gz_decoder_new();
			sinkbuf out;
			size_t step = chunk ? chunk : (cases[i].n ? cases[i].n : 1);

			sinkbuf_init(&out);
			for (size_t off = 0; off < cases[i].n; off += step) {
				size_t k = cases[i].n - off < step ? cases[i].n - off : step;

				ck_assert_int_eq(gz_decoder_feed(d, cases[i].in + off, k,
								 collect, &out), 0);
			}
			ck_assert_int_eq(gz_decoder_finish(d, collect, &out), 0);
			assert_same_bytes("plain", sb_data(&out), out.b.len, cases[i].in,
					  cases[i].n);
			ck_assert(!gz_decoder_is_gzip(d));
			ck_assert_uint_eq(gz_decoder_bytes_in(d), cases[i].n);
			gz_decoder_free(d);
			buf_release(&out.b);
		}
	}
}
END_TEST

START_TEST(decoder_large_plain_chunks)
{
	/* plain input is passed on in chunks of at most GZ_CHUNK */
	buf text = BUF_INIT;
	sinkbuf out;
	char err[200], where;

	make_text(&text, 3 * GZ_CHUNK + 17, 11);
	text.data[0] = '{';
	sinkbuf_init(&out);
	ck_assert_int_eq(gz_decode(text.data, text.len, 0, &out, err, sizeof(err), &where), 0);
	assert_same_bytes("plain large", sb_data(&out), out.b.len, text.data, text.len);
	ck_assert_uint_le(out.max_chunk, GZ_CHUNK);
	buf_release(&out.b);
	buf_release(&text);
}
END_TEST

START_TEST(decoder_truncated)
{
	buf gz = BUF_INIT, text = BUF_INIT, two = BUF_INIT;

	make_text(&text, 5000, 5);
	zlib_gzip(text.data, text.len, 6, &gz);
	/* every cut from 2 bytes (the magic) to one byte short fails; what
	 * came out before the failure is a prefix of the content */
	for (size_t cut = 2; cut < gz.len; cut++) {
		static const size_t chunks[] = { 0, 1, 100 };

		for (size_t ci = 0; ci < 3; ci++) {
			sinkbuf out;
			char err[200], where;
			int rc;

			sinkbuf_init(&out);
			rc = gz_decode(gz.data, cut, chunks[ci], &out, err, sizeof(err), &where);
			ck_assert_msg(rc == -1, "cut at %zu of %zu (chunk %zu): rc %d", cut,
				      gz.len, chunks[ci], rc);
			ck_assert_msg(err[0] != '\0', "cut at %zu: no message", cut);
			ck_assert_uint_le(out.b.len, text.len);
			ck_assert(!memcmp(sb_data(&out), text.data, out.b.len));
			buf_release(&out.b);
		}
	}
	/* a truncated second member fails too, and says it is truncated */
	buf_add(&two, gz.data, gz.len);
	buf_add(&two, gz.data, gz.len - 3);
	{
		sinkbuf out;
		char err[200], where;

		sinkbuf_init(&out);
		ck_assert_int_eq(gz_decode(two.data, two.len, 0, &out, err, sizeof(err),
					   &where), -1);
		ck_assert_int_eq(where, 'F');
		ck_assert_msg(strstr(err, "truncated") != NULL, "message '%s'", err);
		buf_release(&out.b);
	}
	buf_release(&gz);
	buf_release(&text);
	buf_release(&two);
}
END_TEST

static void expect_corrupt(const buf *gz, const char *what, const char *part)
{
	static const size_t chunks[] = { 0, 1, 7 };

	for (size_t ci = 0; ci < 3; ci++) {
		sinkbuf out;
		char err[200], where;
		int rc;

		sinkbuf_init(&out);
		rc = gz_decode(gz->data, gz->len, chunks[ci], &out, err, sizeof(err), &where);
		ck_assert_msg(rc == -1, "%s (chunk %zu): rc %d", what, chunks[ci], rc);
		ck_assert_msg(err[0] != '\0', "%s: no message", what);
		if (part)
			ck_assert_msg(strstr(err, part) != NULL, "%s: message '%s', want '%s'",
				      what, err, part);
		buf_release(&out.b);
	}
}

START_TEST(decoder_corrupt_trailer_and_data)
{
	buf gz = BUF_INIT, bad = BUF_INIT;
	const char *text = "{\"event_id\":\"x\"}\n{\"event_id\":\"y\"}\n";

	zlib_gzip(text, strlen(text), 6, &gz);

	/* CRC */
	buf_add(&bad, gz.data, gz.len);
	bad.data[bad.len - 8] ^= 0x01;
	expect_corrupt(&bad, "crc", NULL);
	/* ISIZE */
	buf_reset(&bad);
	buf_add(&bad, gz.data, gz.len);
	bad.data[bad.len - 1] ^= 0x40;
	expect_corrupt(&bad, "isize", NULL);
	/* compression method other than deflate */
	buf_reset(&bad);
	buf_add(&bad, gz.data, gz.len);
	bad.data[2] = 7;
	expect_corrupt(&bad, "method", NULL);
	/* reserved flag bits */
	buf_reset(&bad);
	buf_add(&bad, gz.data, gz.len);
	bad.data[3] = (char)0xe0;
	expect_corrupt(&bad, "flags", NULL);
	/* an invalid deflate block type (BTYPE 11) */
	buf_reset(&bad);
	buf_add(&bad, gz.data, gz.len);
	bad.data[10] = (char)0x07;
	expect_corrupt(&bad, "block type", NULL);

	/* a corrupt CRC in the second member names member 2 */
	buf_reset(&bad);
	buf_add(&bad, gz.data, gz.len);
	buf_add(&bad, gz.data, gz.len);
	bad.data[bad.len - 6] ^= 0x10;
	expect_corrupt(&bad, "crc of member 2", "member 2");
	buf_release(&gz);
	buf_release(&bad);
}
END_TEST

START_TEST(decoder_garbage_after_member)
{
	static const struct { const char *tail; size_t n; } tails[] = {
		{ "x", 1 },
		{ "\n", 1 },
		{ "\0\0\0\0", 4 },
		{ "{\"a\":1}\n", 8 },
		{ "\x1f\x8c", 2 },
		{ "\x1f", 1 },            /* the start of a member that never comes */
		{ "\x1f\x8b", 2 },
		{ "\x1f\x8b\x08\0\0\0\0\0\0\xff", 10 },
	};
	buf gz = BUF_INIT;

	zlib_gzip("line\n", 5, 6, &gz);
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		buf bad = BUF_INIT;

		buf_add(&bad, gz.data, gz.len);
		buf_add(&bad, tails[i].tail, tails[i].n);
		expect_corrupt(&bad, "garbage after member", NULL);
		buf_release(&bad);
	}
	buf_release(&gz);
}
END_TEST

START_TEST(decoder_one_byte_at_a_time)
{
	buf text = BUF_INIT, gz = BUF_INIT, gz2 = BUF_INIT;
	sinkbuf out;
	char err[200], where;

	make_text(&text, 200000, 13);
	zlib_gzip(text.data, text.len, 9, &gz);
	zlib_gzip(text.data, 1000, 1, &gz2);
	buf_add(&gz, gz2.data, gz2.len);
	sinkbuf_init(&out);
	ck_assert_int_eq(gz_decode(gz.data, gz.len, 1, &out, err, sizeof(err), &where), 0);
	ck_assert_uint_eq(out.b.len, text.len + 1000);
	ck_assert(!memcmp(out.b.data, text.data, text.len));
	ck_assert(!memcmp(out.b.data + text.len, text.data, 1000));
	buf_release(&out.b);
	buf_release(&text);
	buf_release(&gz);
	buf_release(&gz2);
}
END_TEST

START_TEST(large_input_both_ways)
{
	/* 5 MB of text and 5 MB of one repeated byte (which inflates to far
	 * more than one output chunk per input byte) */
	buf text = BUF_INIT;

	make_text(&text, 5 << 20, 17);
	for (int pass = 0; pass < 2; pass++) {
		buf gz = BUF_INIT, plain = BUF_INIT;
		static const size_t chunks[] = { 0, 65536, 1000, 3 };

		if (pass == 1)
			memset(text.data, 'z', text.len);
		gz_encode(text.data, text.len, 6, 1 << 20, &gz);
		ck_assert(zlib_gunzip(gz.data, gz.len, &plain));
		assert_same_bytes("zlib", plain.data, plain.len, text.data, text.len);
		for (size_t ci = 0; ci < sizeof(chunks) / sizeof(chunks[0]); ci++) {
			sinkbuf out;
			char err[200], where;
			int rc;

			if (pass == 0 && chunks[ci] == 3)
				continue;   /* slow for incompressible-ish data */
			sinkbuf_init(&out);
			rc = gz_decode(gz.data, gz.len, chunks[ci], &out, err, sizeof(err),
				       &where);
			ck_assert_msg(rc == 0, "pass %d chunk %zu: rc %d (%c) %s", pass,
				      chunks[ci], rc, where, err);
			assert_same_bytes("gz", sb_data(&out), out.b.len, text.data, text.len);
			ck_assert_uint_le(out.max_chunk, GZ_CHUNK);
			buf_release(&out.b);
		}
		buf_release(&gz);
		buf_release(&plain);
	}
	buf_release(&text);
}
END_TEST

START_TEST(decoder_callback_stops)
{
	buf text = BUF_INIT, gz = BUF_INIT;
	gz_decoder *d;
	sinkbuf out;

	make_text(&text, 3 * GZ_CHUNK, 19);
	zlib_gzip(text.data, text.len, 6, &gz);
	d = gz_decoder_new();
	sinkbuf_init(&out);
	out.stop_after = 2;
	out.stop_value = 42;
	ck_assert_int_eq(gz_decoder_feed(d, gz.data, gz.len, collect, &out), 42);
	ck_assert_uint_eq(out.calls, 2);

	/* reset: the decoder reads a new stream, here a plain one */
	gz_decoder_reset(d);
	buf_release(&out.b);
	sinkbuf_init(&out);
	ck_assert_int_eq(gz_decoder_feed(d, "plain\n", 6, collect, &out), 0);
	ck_assert_int_eq(gz_decoder_finish(d, collect, &out), 0);
	ck_assert(!gz_decoder_is_gzip(d));
	ck_assert_str_eq(out.b.data, "plain\n");
	ck_assert_uint_eq(gz_decoder_bytes_in(d), 6);

	/* and a gzip one again */
	gz_decoder_reset(d);
	buf_release(&out.b);
	sinkbuf_init(&out);
	ck_assert_int_eq(gz_decoder_feed(d, gz.data, gz.len, collect, &out), 0);
	ck_assert_int_eq(gz_decoder_finish(d, collect, &out), 0);
	ck_assert(gz_decoder_is_gzip(d));
	ck_assert_uint_eq(gz_decoder_bytes_in(d), gz.len);
	assert_same_bytes("after reset", sb_data(&out), out.b.len, text.data, text.len);

	/* plain passthrough honours the callback's value */
	gz_decoder_reset(d);
	buf_release(&out.b);
	sinkbuf_init(&out);
	out.stop_after = 1;
	out.stop_value = -5;
	ck_assert_int_eq(gz_decoder_feed(d, "abc", 3, collect, &out), -5);
	gz_decoder_free(d);
	buf_release(&out.b);
	buf_release(&text);
	buf_release(&gz);
}
END_TEST

START_TEST(decoder_reset_after_error)
{
	buf gz = BUF_INIT;
	gz_decoder *d = gz_decoder_new();
	sinkbuf out;

	zlib_gzip("ok\n", 3, 6, &gz);
	sinkbuf_init(&out);
	ck_assert_int_eq(gz_decoder_feed(d, "\x1f\x8b\x07\x00garbage-garbage", 19, collect,
					 &out), -1);
	ck_assert(gz_decoder_error(d)[0] != '\0');
	gz_decoder_reset(d);
	ck_assert_str_eq(gz_decoder_error(d), "");
	buf_release(&out.b);
	sinkbuf_init(&out);
	ck_assert_int_eq(gz_decoder_feed(d, gz.data, gz.len, collect, &out), 0);
	ck_assert_int_eq(gz_decoder_finish(d, collect, &out), 0);
	ck_assert_str_eq(out.b.data, "ok\n");
	gz_decoder_free(d);
	buf_release(&out.b);
	buf_release(&gz);
}
END_TEST

Suite *gz_suite(void)
{
	Suite *s = suite_create("gz");
	TCase *tc = tcase_create("gz");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, encoder_round_trip);
	tcase_add_test(tc, encoder_deterministic_header_trailer);
	tcase_add_test(tc, encoder_empty_member);
	tcase_add_test(tc, encoder_members_concatenate);
	tcase_add_test(tc, decoder_multi_member);
	tcase_add_test(tc, decoder_header_fields_and_crc_any_split);
	tcase_add_test(tc, decoder_gzip_tool_fixture);
	tcase_add_test(tc, decoder_plain_passthrough);
	tcase_add_test(tc, decoder_large_plain_chunks);
	tcase_add_test(tc, decoder_truncated);
	tcase_add_test(tc, decoder_corrupt_trailer_and_data);
	tcase_add_test(tc, decoder_garbage_after_member);
	tcase_add_test(tc, decoder_one_byte_at_a_time);
	tcase_add_test(tc, large_input_both_ways);
	tcase_add_test(tc, decoder_callback_stops);
	tcase_add_test(tc, decoder_reset_after_error);
	suite_add_tcase(s, tc);
	return s;
}
