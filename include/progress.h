/*
 * progress.h - the progress line of a run started by hand.
 *
 * On a terminal, one line on standard error is redrawn in place (a
 * carriage return, the text, then "erase to the end of the line"):
 *
 *   evshare: 12/40 files, 153.2 MB read, 85.3 MB/s, 120311 events matched, ETA 0:42
 *
 * no more often than every PROGRESS_TTY_INTERVAL_MS, cut to the width of
 * the terminal so that it never wraps.  A log message erases the line
 * first (log.h: log_status_line), the next redraw brings it back, and
 * progress_end() erases it for good: what stays on the terminal are the
 * log messages and the summary.
 *
 * Forced on (--progress) when standard error is not a terminal, it writes
 * the same text as an info message of the log instead (so in the log's
 * format, text or JSON, and not with -q), at most one every
 * PROGRESS_LOG_INTERVAL_MS, and one more at the end.
 *
 * MB are 10^6 bytes of input as stored (compressed), the rate is the
 * average since progress_begin(), and the ETA divides the bytes still to
 * read by that rate (shown once a second has passed).
 *
 * Cost: progress_due() reads a coarse monotonic clock and compares; the
 * caller asks it once per chunk read and counts only when it says so.
 *
 * One thread (the one reading the files) uses a progress object.  Every
 * function accepts NULL, which is "progress off", and then does nothing.
 */
#ifndef EVSHARE_PROGRESS_H
#define EVSHARE_PROGRESS_H

#include "util.h"

#define PROGRESS_TTY_INTERVAL_MS 250
#define PROGRESS_LOG_INTERVAL_MS 10000

enum progress_mode {
	PROGRESS_AUTO,      /* on when fd is a terminal (and TERM is not "dumb") */
	PROGRESS_ALWAYS,    /* --progress */
	PROGRESS_NEVER      /* --no-progress */
};

typedef struct progress progress;

typedef struct progress_counts {
	uint64_t files_done, files_total;   /* done: processed or failed */
	uint64_t bytes_read, bytes_total;   /* input bytes as stored */
	uint64_t events_matched;            /* summed over subscribers */
} progress_counts;

/* A progress display on fd (standard error), or NULL when mode says off
 * (PROGRESS_AUTO and fd is not a terminal, or PROGRESS_NEVER). */
progress *progress_new(enum progress_mode mode, int fd);
/* Erase the line if it is shown, and free.  NULL is fine. */
void progress_free(progress *p);

/* Start (or start again) counting: the clock of the rate and the ETA
 * starts now, and the first progress_due() is true. */
void progress_begin(progress *p);
/* True when the line should be redrawn now.  Cheap. */
bool progress_due(const progress *p);
/* Redraw the line with these counts (whether due or not). */
void progress_show(progress *p, const progress_counts *c);
/* The end of the reading: erase the line on a terminal; otherwise write
 * the last counts (c may be NULL: nothing more is written). */
void progress_end(progress *p, const progress_counts *c);

/* The text of the line, without "evshare: " and without control
 * characters, cut to at most width bytes (0: no limit).  For the tests. */
void progress_format(buf *out, const progress_counts *c, double elapsed_s, size_t width);

#endif
