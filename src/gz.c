/* gz.c - gzip decoding and encoding on zlib. */
#include "gz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

enum gz_mode { GZ_UNKNOWN, GZ_PLAIN, GZ_GZIP };

struct gz_decoder {
	z_stream zs;
	bool zs_ready;
	enum gz_mode mode;
	bool in_member;        /* inside a member (header seen, end not yet) */
	unsigned char magic[2];
	size_t nmagic;         /* bytes of magic held while undecided */
	unsigned member;       /* 1-based member number */
	uint64_t bytes_in;
	char error[160];
	unsigned char out[GZ_CHUNK];
};

gz_decoder *gz_decoder_new(void)
{
	gz_decoder *d = xcalloc(1, sizeof(*d));

	if (inflateInit2(&d->zs, 16 + MAX_WBITS) != Z_OK)
		die("inflateInit2 failed");
	d->zs_ready = true;
	gz_decoder_reset(d);
	return d;
}

void gz_decoder_free(gz_decoder *d)
{
	if (!d)
		return;
	if (d->zs_ready)
		inflateEnd(&d->zs);
	free(d);
}

void gz_decoder_reset(gz_decoder *d)
{
	inflateReset(&d->zs);
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

static int corrupt(gz_decoder *d, const char *what)
{
	snprintf(d->error, sizeof(d->error), "%s in gzip member %u (compressed byte %llu)",
		 what, d->member ? d->member : 1,
		 (unsigned long long)(d->bytes_in - d->zs.avail_in));
	return -1;
}

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
				/* between members: the next must start with the magic */
				if (d->zs.next_in[0] != 0x1f ||
				    (d->zs.avail_in > 1 && d->zs.next_in[1] != 0x8b))
					return corrupt(d, "data after the end of the gzip stream");
				d->in_member = true;
				d->member++;
				inflateReset(&d->zs);
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
				return corrupt(d, d->zs.msg ? d->zs.msg : "invalid data");
			case Z_MEM_ERROR:
				die("out of memory in inflate");
			default:
				return corrupt(d, "inflate failed");
			}
			if (zr == Z_BUF_ERROR && d->zs.avail_in && have == 0)
				return corrupt(d, "inflate made no progress");
		}
	}
	return 0;
}

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
		if (d->mode == GZ_PLAIN) {
			rc = out(ud, (const char *)d->magic, 2);
		} else {
			rc = inflate_some(d, d->magic, 2, out, ud);
		}
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

/* --- encoder --------------------------------------------------------- */

struct gz_encoder {
	z_stream zs;
	int level;
	gz_out_fn out;
	void *ud;
	bool started;
	uLong crc;
	uint64_t bytes_in, bytes_out;
	uint64_t flushed_in;     /* bytes_in at the last flush */
	unsigned char buf[GZ_CHUNK];
};

gz_encoder *gz_encoder_new(int level, gz_out_fn out, void *ud)
{
	gz_encoder *e = xcalloc(1, sizeof(*e));

	e->level = level;
	e->out = out;
	e->ud = ud;
	/* raw deflate; header and trailer are written here, so they are
	 * the same on every platform */
	if (deflateInit2(&e->zs, level, Z_DEFLATED, -MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		die("deflateInit2 failed");
	gz_encoder_restart(e);
	return e;
}

void gz_encoder_free(gz_encoder *e)
{
	if (!e)
		return;
	deflateEnd(&e->zs);
	free(e);
}

void gz_encoder_restart(gz_encoder *e)
{
	deflateReset(&e->zs);
	e->started = false;
	e->crc = crc32(0L, Z_NULL, 0);
	e->bytes_in = 0;
	e->bytes_out = 0;
	e->flushed_in = 0;
}

static int emit_out(gz_encoder *e, const unsigned char *p, size_t n)
{
	e->bytes_out += n;
	return n ? e->out(e->ud, (const char *)p, n) : 0;
}

static int start_member(gz_encoder *e)
{
	static const unsigned char header[10] = {
		0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255
	};

	e->started = true;
	return emit_out(e, header, sizeof(header));
}

static int deflate_loop(gz_encoder *e, int flush)
{
	int zr, rc;

	do {
		e->zs.next_out = e->buf;
		e->zs.avail_out = sizeof(e->buf);
		zr = deflate(&e->zs, flush);
		if (zr == Z_STREAM_ERROR)
			die("deflate stream error");
		rc = emit_out(e, e->buf, sizeof(e->buf) - e->zs.avail_out);
		if (rc)
			return rc;
	} while (e->zs.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
	return 0;
}

int gz_encoder_write(gz_encoder *e, const void *p, size_t n)
{
	const unsigned char *c = p;
	int rc;

	if (!e->started && (rc = start_member(e)) != 0)
		return rc;
	e->crc = crc32_z(e->crc, c, n);
	e->bytes_in += n;
	while (n) {
		uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;

		e->zs.next_in = (unsigned char *)c;
		e->zs.avail_in = chunk;
		if ((rc = deflate_loop(e, Z_NO_FLUSH)) != 0)
			return rc;
		c += chunk;
		n -= chunk;
	}
	return 0;
}

int gz_encoder_finish(gz_encoder *e)
{
	unsigned char trailer[8];
	uint32_t isize = (uint32_t)e->bytes_in;
	int rc;

	if (!e->started && (rc = start_member(e)) != 0)
		return rc;
	e->zs.next_in = NULL;
	e->zs.avail_in = 0;
	if ((rc = deflate_loop(e, Z_FINISH)) != 0)
		return rc;
	for (int i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(e->crc >> (8 * i));
		trailer[4 + i] = (unsigned char)(isize >> (8 * i));
	}
	return emit_out(e, trailer, sizeof(trailer));
}

int gz_encoder_flush(gz_encoder *e)
{
	int rc;

	if (!e->started && (rc = start_member(e)) != 0)
		return rc;
	e->zs.next_in = NULL;
	e->zs.avail_in = 0;
	e->flushed_in = e->bytes_in;
	return deflate_loop(e, Z_SYNC_FLUSH);
}

uint64_t gz_encoder_unflushed(const gz_encoder *e)
{
	return e->bytes_in - e->flushed_in;
}

uint64_t gz_encoder_bytes_out(const gz_encoder *e)
{
	return e->bytes_out;
}

uint64_t gz_encoder_bytes_in(const gz_encoder *e)
{
	return e->bytes_in;
}
