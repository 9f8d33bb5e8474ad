/*
 * gz.h - streaming gunzip for input files and gzip for output objects.
 *
 * Decoder: input is recognised by content.  If the first two bytes are the
 * gzip magic (1f 8b) the stream is decompressed, any number of members in
 * a row; otherwise the bytes are passed through as plain NDJSON.  An empty
 * input is an empty file.  A corrupt stream (bad header, bad deflate data,
 * CRC or length mismatch, truncation, or data after a member that is not
 * another member) is an error: the whole file fails.  Decompressed bytes
 * are passed to the output callback in chunks of at most GZ_CHUNK bytes;
 * a non-zero return from it stops decoding and is returned.
 *
 * Decoding uses ISA-L's inflate when evshare was built with it, else
 * zlib; both check every member's CRC and length.
 */
#ifndef EVSHARE_GZ_H
#define EVSHARE_GZ_H

#include "util.h"

#define GZ_CHUNK (256 * 1024)

typedef int (*gz_out_fn)(void *ud, const char *p, size_t n);

typedef struct gz_decoder gz_decoder;

gz_decoder *gz_decoder_new(void);
void gz_decoder_free(gz_decoder *d);
/* Prepare for a new input stream. */
void gz_decoder_reset(gz_decoder *d);
/* Feed input.  Returns 0, the callback's non-zero value, or -1 on corrupt
 * data (gz_decoder_error() says why). */
int gz_decoder_feed(gz_decoder *d, const void *in, size_t n, gz_out_fn out,
		    void *ud);
/* End of input: -1 if the stream is truncated. */
int gz_decoder_finish(gz_decoder *d, gz_out_fn out, void *ud);
/* Why the last call failed ("crc mismatch in member 2 at byte 1234"). */
const char *gz_decoder_error(const gz_decoder *d);
/* Was the input gzip (known once two bytes were seen)? */
bool gz_decoder_is_gzip(const gz_decoder *d);
/* Compressed bytes consumed so far. */
uint64_t gz_decoder_bytes_in(const gz_decoder *d);

/*
 * Compression: each call makes one complete gzip member (fixed header:
 * no name, mtime 0), so a stream of them is a valid multi-member gzip
 * file and blocks can be compressed in any order on any thread.  The same
 * input and level give the same bytes with the same build.  libdeflate
 * is used when evshare was built with it (its levels 1-9 are used as
 * given), else zlib.
 */
typedef struct gz_compressor gz_compressor;

/* One per thread: it holds the codec state for each level used. */
gz_compressor *gz_compressor_new(void);
void gz_compressor_free(gz_compressor *c);
/* Append to out one gzip member holding in[0..n) compressed at level. */
void gz_compress_member(gz_compressor *c, int level, const void *in, size_t n,
			buf *out);
/* Upper bound of what gz_compress_member appends for n input bytes. */
size_t gz_member_bound(size_t n);
/* "isa-l 2.30.0 inflate, libdeflate 1.14 deflate" */
const char *gz_codec_description(void);

#endif
