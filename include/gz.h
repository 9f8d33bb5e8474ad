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
 * Encoder: writes one gzip member with a fixed header (no name, mtime 0,
 * OS 255 "unknown"), so the same input and level always give the same
 * bytes.  Output goes to a callback.
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

typedef struct gz_encoder gz_encoder;

gz_encoder *gz_encoder_new(int level, gz_out_fn out, void *ud);
void gz_encoder_free(gz_encoder *e);
/* Start a new member (after gz_encoder_finish, for the next object). */
void gz_encoder_restart(gz_encoder *e);
/* Compress p[0..n).  Returns 0 or the output callback's non-zero value. */
int gz_encoder_write(gz_encoder *e, const void *p, size_t n);
/* Flush and write the trailer. */
int gz_encoder_finish(gz_encoder *e);
/* Sync-flush: everything written so far is in the output (bytes_out is
 * then exact).  Costs a few bytes; the dictionary is kept. */
int gz_encoder_flush(gz_encoder *e);
/* Uncompressed bytes written since the last flush (not yet certainly
 * reflected in bytes_out). */
uint64_t gz_encoder_unflushed(const gz_encoder *e);
/* Compressed bytes handed to the callback since the member started. */
uint64_t gz_encoder_bytes_out(const gz_encoder *e);
/* Uncompressed bytes since the member started. */
uint64_t gz_encoder_bytes_in(const gz_encoder *e);

#endif
