/*
 * ndjson.h - split a byte stream into NDJSON lines.
 *
 * Bytes are fed in chunks of any size; each complete line is passed to
 * on_line without its terminator ("\n", or "\r\n": one CR before the LF
 * is dropped).  A last line without a newline is passed by
 * lines_finish().  Blank lines (only spaces, tabs and CRs) are skipped,
 * but still counted in line numbers.  Line numbers start at 1 and count
 * physical lines of the decompressed stream.
 *
 * A line that lies inside one chunk is passed in place (no copy); one that
 * spans chunks is assembled in a buffer whose size is capped by max_line.
 * A line longer than max_line bytes is not assembled (even if it is only
 * whitespace: its length is known before its content): its bytes are
 * streamed to on_overlong in pieces (first piece: first = true; last
 * piece: last = true), so it can be kept whole elsewhere without being
 * held in memory.  A CR just before its LF is dropped there as well.
 *
 * A callback returning non-zero stops the splitter; lines_feed() and
 * lines_finish() then return that value.
 */
#ifndef EVSHARE_NDJSON_H
#define EVSHARE_NDJSON_H

#include "util.h"

typedef int (*line_fn)(void *ud, const char *p, size_t n, uint64_t lineno);
typedef int (*overlong_fn)(void *ud, const char *p, size_t n, uint64_t lineno,
			   bool first, bool last);

typedef struct line_splitter {
	size_t max_line;
	line_fn on_line;
	overlong_fn on_overlong;
	void *ud;
	buf partial;          /* the start of a line that spans chunks */
	uint64_t lineno;      /* number of the line being read */
	bool overlong;        /* inside an over-long line */
	bool held_cr;         /* over-long: a CR held back, LF may follow */
	uint64_t overlong_bytes;
} line_splitter;

void lines_init(line_splitter *ls, size_t max_line, line_fn on_line,
		overlong_fn on_overlong, void *ud);
void lines_release(line_splitter *ls);
/* Forget any partial line and restart numbering at 1. */
void lines_reset(line_splitter *ls);
int lines_feed(line_splitter *ls, const char *p, size_t n);
int lines_finish(line_splitter *ls);

#endif
