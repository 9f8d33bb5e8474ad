/*
 * gz.c - gzip decoding (ISA-L or zlib) and member compression
 * (libdeflate or zlib).  The backends are chosen at build time
 * (HAVE_ISAL, HAVE_LIBDEFLATE); the interface and the guarantees are the
 * same.
 */
#include "gz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifdef HAVE_ISAL
#include <isa-l.h>
#endif
#ifdef HAVE_LIBDEFLATE
#include <libdeflate.h>
#endif

enum gz_mode { GZ_UNKNOWN, GZ_PLAIN, GZ_GZIP };

struct gz_decoder {
#ifdef HAVE_ISAL
	struct inflate_state is;
#else
	z_stream zs;
#endif
	enum gz_mode mode;
	bool in_member;        /* inside a member (header seen, end not yet) */
	unsigned char magic[2];
	size_t nmagic;         /* bytes of magic held while undecided */
	unsigned member;       /* 1-based member number */
#ifdef HAVE_ISAL
	/* the member header, parsed here (see header_some) */
	enum gz_hfield { H_FIXED, H_XLEN, H_EXTRA, H_NAME, H_COMMENT, H_HCRC, H_DONE } hfield;
	unsigned char flg;     /* its FLG byte */
	size_t hlen;           /* bytes of the current field seen */
	uint32_t hval;         /* XLEN or the stored CRC16 being read; extra bytes left */
	uint32_t hcrc;         /* CRC-32 of the header bytes so far */
#endif
	uint64_t bytes_in;     /* compressed bytes consumed */
	char error[160];
	unsigned char out[GZ_CHUNK];
};

gz_decoder *gz_decoder_new(void)
{
	gz_decoder *d = xcalloc(1, sizeof(*d));

#ifdef HAVE_ISAL
	isal_inflate_init(&d->is);
#else
	if (inflateInit2(&d->zs, 16 + MAX_WBITS) != Z_OK)
		die("inflateInit2 failed");
#endif
	gz_decoder_reset(d);
	return d;
}

void gz_decoder_free(gz_decoder *d)
{
	if (!d)
		return;
#ifndef HAVE_ISAL
	inflateEnd(&d->zs);
#endif
	free(d);
}

void gz_decoder_reset(gz_decoder *d)
{
	d->mode = GZ_UNKNOWN;
	d->in_member = false;
	d->nmagic = 0;
	d->member = 0;
	d->bytes_in = 0;
	d->error[0] = '\0';
}

const char *gz_decoder_error(const gz_decoder *d)
{
	return d->error;
}

bool gz_decoder_is_gzip(const gz_decoder *d)
{
	return d->mode == GZ_GZIP;
}

uint64_t gz_decoder_bytes_in(const gz_decoder *d)
{
	return d->bytes_in;
}

static int corrupt(gz_decoder *d, const char *what, size_t left)
{
	snprintf(d->error, sizeof(d->error), "%s in gzip member %u (compressed byte %llu)",
		 what, d->member ? d->member : 1, (unsigned long long)(d->bytes_in - left));
	return -1;
}

/* Start the next member (the input is at its first byte). */
static void member_start(gz_decoder *d)
{
	d->in_member = true;
	d->member++;
#ifdef HAVE_ISAL
	d->hfield = H_FIXED;
	d->hlen = 0;
	d->hval = 0;
	d->hcrc = (uint32_t)crc32(0L, Z_NULL, 0);
	isal_inflate_reset(&d->is);
	d->is.crc_flag = ISAL_GZIP_NO_HDR_VER;   /* deflate data, then the trailer */
#else
	inflateReset(&d->zs);
#endif
}

#ifdef HAVE_ISAL
/*
 * The member header (RFC 1952 2.3) is read here, byte by byte, and ISA-L
 * is given the deflate data and the trailer only: ISA-L 2.30 checks a
 * header CRC (FHCRC) wrongly unless the whole header comes in one call,
 * and it ignores the reserved FLG bits, which a decoder must refuse.
 */

/* The field after f that this member's header has. */
static enum gz_hfield field_after(const gz_decoder *d, enum gz_hfield f)
{
	if (f < H_XLEN && (d->flg & 0x04))      /* FEXTRA */
		return H_XLEN;
	if (f < H_NAME && (d->flg & 0x08))      /* FNAME */
		return H_NAME;
	if (f < H_COMMENT && (d->flg & 0x10))   /* FCOMMENT */
		return H_COMMENT;
	if (f < H_HCRC && (d->flg & 0x02))      /* FHCRC */
		return H_HCRC;
	return H_DONE;
}

/* Read header bytes of the current member from in[0..n); *used says how
 * many were header bytes.  -1 on a bad header. */
static int header_some(gz_decoder *d, const unsigned char *in, size_t n,
		       size_t *used)
{
	size_t i = 0;

	while (i < n && d->hfield != H_DONE) {
		unsigned char c = in[i++];
		bool done = false;

		if (d->hfield == H_HCRC) {
			d->hval |= (uint32_t)c << (8 * d->hlen);
			if (++d->hlen == 2 && d->hval != (d->hcrc & 0xffff))
				return corrupt(d, "gzip header crc mismatch", n - i);
			done = d->hlen == 2;
		} else {
			d->hcrc = (uint32_t)crc32(d->hcrc, &c, 1);
			switch (d->hfield) {
			case H_FIXED:
				if ((d->hlen == 0 && c != 0x1f) || (d->hlen == 1 && c != 0x8b))
					return corrupt(d, "data after the end of the gzip stream",
						       n - i + 1);
				if (d->hlen == 2 && c != 8)
					return corrupt(d, "unsupported compression method", n - i);
				if (d->hlen == 3 && (c & 0xe0))
					return corrupt(d, "reserved gzip header flags set", n - i);
				if (d->hlen == 3)
					d->flg = c;
				done = ++d->hlen == 10;
				break;
			case H_XLEN:
				d->hval |= (uint32_t)c << (8 * d->hlen);
				done = ++d->hlen == 2;
				if (done && d->hval) {
					d->hfield = H_EXTRA;   /* hval bytes follow */
					continue;
				}
				break;
			case H_EXTRA:
				done = --d->hval == 0;
				break;
			case H_NAME:
			case H_COMMENT:
				done = c == 0;
				break;
			default:
				break;
			}
		}
		if (done) {
			d->hfield = field_after(d, d->hfield);
			d->hlen = 0;
			d->hval = 0;
		}
	}
	*used = i;
	return 0;
}

static const char *isal_reason(int rc)
{
	switch (rc) {
	case ISAL_INVALID_BLOCK:       return "invalid deflate block";
	case ISAL_INVALID_SYMBOL:      return "invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK:    return "invalid deflate distance";
	case ISAL_INVALID_WRAPPER:     return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD:  return "unsupported compression method";
	case ISAL_INCORRECT_CHECKSUM:  return "incorrect data check (crc or length mismatch)";
	}
	return "invalid data";
}

static int inflate_some(gz_decoder *d, const unsigned char *in, size_t n,
			gz_out_fn out, void *ud)
{
	while (n) {
		uint32_t chunk;
		size_t have, used = 0;
		int zr, rc;

		if (!d->in_member) {
			if (in[0] != 0x1f || (n > 1 && in[1] != 0x8b))
				return corrupt(d, "data after the end of the gzip stream", n);
			member_start(d);
		}
		if (d->hfield != H_DONE) {
			if (header_some(d, in, n, &used) < 0)
				return -1;
			in += used;
			n -= used;
			continue;
		}
		chunk = n > (1u << 30) ? (1u << 30) : (uint32_t)n;
		d->is.next_in = (uint8_t *)in;
		d->is.avail_in = chunk;
		d->is.next_out = d->out;
		d->is.avail_out = sizeof(d->out);
		zr = isal_inflate(&d->is);
		have = sizeof(d->out) - d->is.avail_out;
		used = chunk - d->is.avail_in;
		in += used;
		n -= used;
		if (zr != ISAL_DECOMP_OK && zr != ISAL_END_INPUT)
			return corrupt(d, isal_reason(zr), n);
		if (have && (rc = out(ud, (const char *)d->out, have)) != 0)
			return rc;
		if (d->is.block_state == ISAL_BLOCK_FINISH)
			d->in_member = false;
		else if (!have && !used)
			return corrupt(d, "inflate made no progress", n);
	}
	return 0;
}
#else
static int inflate_some(gz_decoder *d, const unsigned char *in, size_t n,
			gz_out_fn out, void *ud)
{
	while (n) {
		uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;

		d->zs.next_in = (unsigned char *)in;
		d->zs.avail_in = chunk;
		in += chunk;
		n -= chunk;
		while (d->zs.avail_in) {
			int zr, rc;
			size_t have;

			if (!d->in_member) {
				if (d->zs.next_in[0] != 0x1f ||
				    (d->zs.avail_in > 1 && d->zs.next_in[1] != 0x8b))
					return corrupt(d, "data after the end of the gzip stream",
						       d->zs.avail_in + n);
				member_start(d);
			}
			d->zs.next_out = d->out;
			d->zs.avail_out = sizeof(d->out);
			zr = inflate(&d->zs, Z_NO_FLUSH);
			have = sizeof(d->out) - d->zs.avail_out;
			if (have && (rc = out(ud, (const char *)d->out, have)) != 0)
				return rc;
			switch (zr) {
			case Z_OK:
			case Z_BUF_ERROR:
				break;
			case Z_STREAM_END:
				d->in_member = false;
				break;
			case Z_DATA_ERROR:
				return corrupt(d, d->zs.msg ? d->zs.msg : "invalid data",
					       d->zs.avail_in + n);
			case Z_MEM_ERROR:
				die("out of memory in inflate");
			default:
				return corrupt(d, "inflate failed", d->zs.avail_in + n);
			}
			if (zr == Z_BUF_ERROR && d->zs.avail_in && have == 0)
				return corrupt(d, "inflate made no progress", d->zs.avail_in + n);
		}
	}
	return 0;
}
#endif

int gz_decoder_feed(gz_decoder *d, const void *in, size_t n, gz_out_fn out,
		    void *ud)
{
	const unsigned char *p = in;
	int rc;

	d->bytes_in += n;
	if (d->mode == GZ_UNKNOWN) {
		while (n && d->nmagic < 2) {
			d->magic[d->nmagic++] = *p++;
			n--;
		}
		if (d->nmagic < 2)
			return 0;
		d->mode = d->magic[0] == 0x1f && d->magic[1] == 0x8b ? GZ_GZIP : GZ_PLAIN;
		if (d->mode == GZ_PLAIN)
			rc = out(ud, (const char *)d->magic, 2);
		else
			rc = inflate_some(d, d->magic, 2, out, ud);
		if (rc)
			return rc;
	}
	if (!n)
		return 0;
	if (d->mode == GZ_PLAIN) {
		while (n) {
			size_t k = n > GZ_CHUNK ? GZ_CHUNK : n;

			if ((rc = out(ud, (const char *)p, k)) != 0)
				return rc;
			p += k;
			n -= k;
		}
		return 0;
	}
	return inflate_some(d, p, n, out, ud);
}

int gz_decoder_finish(gz_decoder *d, gz_out_fn out, void *ud)
{
	if (d->mode == GZ_UNKNOWN && d->nmagic == 1) {
		d->mode = GZ_PLAIN;
		return out(ud, (const char *)d->magic, 1);
	}
	if (d->mode == GZ_GZIP && d->in_member) {
		snprintf(d->error, sizeof(d->error),
			 "truncated gzip stream: member %u ends early after %llu compressed bytes",
			 d->member, (unsigned long long)d->bytes_in);
		return -1;
	}
	return 0;
}

/* --- compression ------------------------------------------------------- */

#define NLEVELS 10

struct gz_compressor {
#ifdef HAVE_LIBDEFLATE
	struct libdeflate_compressor *c[NLEVELS];
#else
	z_stream zs[NLEVELS];
	bool ready[NLEVELS];
#endif
};

gz_compressor *gz_compressor_new(void)
{
	return xcalloc(1, sizeof(gz_compressor));
}

void gz_compressor_free(gz_compressor *c)
{
	if (!c)
		return;
	for (int i = 0; i < NLEVELS; i++) {
#ifdef HAVE_LIBDEFLATE
		if (c->c[i])
			libdeflate_free_compressor(c->c[i]);
#else
		if (c->ready[i])
			deflateEnd(&c->zs[i]);
#endif
	}
	free(c);
}

size_t gz_member_bound(size_t n)
{
	/* deflate's worst case (stored blocks) plus header and trailer */
	return n + n / 1000 + (n / 16384 + 1) * 5 + 64;
}

void gz_compress_member(gz_compressor *c, int level, const void *in, size_t n,
			buf *out)
{
	size_t bound = gz_member_bound(n), got;

	if (level < 1 || level >= NLEVELS)
		level = 6;
	if (!buf_reserve(out, bound))
		die("compressed block larger than its buffer's cap");
#ifdef HAVE_LIBDEFLATE
	if (!c->c[level] && !(c->c[level] = libdeflate_alloc_compressor(level)))
		die("out of memory (libdeflate)");
	got = libdeflate_gzip_compress(c->c[level], in, n, out->data + out->len, bound);
	if (!got)
		die("libdeflate: output larger than its bound");
#else
	{
		static const unsigned char header[10] = {
			0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255
		};
		z_stream *zs = &c->zs[level];
		unsigned char *o = (unsigned char *)out->data + out->len;
		uLong crc = crc32_z(crc32(0L, Z_NULL, 0), in, n);
		size_t pos;

		if (!c->ready[level]) {
			if (deflateInit2(zs, level, Z_DEFLATED, -MAX_WBITS, 8,
					 Z_DEFAULT_STRATEGY) != Z_OK)
				die("deflateInit2 failed");
			c->ready[level] = true;
		} else {
			deflateReset(zs);
		}
		memcpy(o, header, sizeof(header));
		pos = sizeof(header);
		zs->next_in = (unsigned char *)in;
		zs->avail_in = (uInt)n;
		zs->next_out = o + pos;
		zs->avail_out = (uInt)(bound - pos - 8);
		if (n > (1u << 30) || deflate(zs, Z_FINISH) != Z_STREAM_END)
			die("deflate: block too large for one call");
		pos = (size_t)(zs->next_out - o);
		for (int i = 0; i < 4; i++) {
			o[pos + (size_t)i] = (unsigned char)(crc >> (8 * i));
			o[pos + 4 + (size_t)i] = (unsigned char)((uint32_t)n >> (8 * i));
		}
		got = pos + 8;
	}
#endif
	out->len += got;
	out->data[out->len] = '\0';
}

const char *gz_codec_description(void)
{
	static char desc[96];

	snprintf(desc, sizeof(desc), "%s inflate, %s deflate",
#ifdef HAVE_ISAL
		 "ISA-L",
#else
		 "zlib " ZLIB_VERSION,
#endif
#ifdef HAVE_LIBDEFLATE
		 "libdeflate " LIBDEFLATE_VERSION_STRING
#else
		 "zlib " ZLIB_VERSION
#endif
		 );
	return desc;
}
