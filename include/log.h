/*
 * log.h - messages to stderr, as text or as one JSON object per line.
 *
 * Levels: error, warning, info (default threshold), debug (-v), trace (-vv).
 * -q raises the threshold to warnings.  Text lines look like
 *   evshare: warning: cannot read 's3://b/k': connection reset
 * JSON lines carry time, level, msg and, when given, url:
 *   {"time":"2026-11-27T00:46:12.000Z","level":"warning","msg":"...","url":"s3://b/k"}
 *
 * Messages are lowercase with no full stop and quote the subject.
 * Callers must not pass secrets, and yet a message can hold one they did
 * not put there: a server's error reply that echoes the request (its
 * query with a SAS signature, its headers with a session token).  So the
 * logger redacts every message before it is written (log_redact): the
 * secret values the credential loaders registered (log_add_secret), and
 * the value of any sig=, signature=, x-amz-signature=,
 * x-amz-security-token= or accountkey= parameter and of a "SharedKey
 * ACCOUNT:SIGNATURE", whoever registered nothing, become "***".
 *
 * error() and its kin return -1 so that `return error(...)` reads well in
 * functions returning int; the es_* forms return the given es_result.
 * Thread-safe: one line is written with one write(2).
 */
#ifndef EVSHARE_LOG_H
#define EVSHARE_LOG_H

#include "util.h"

enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_TRACE };
enum log_format { LOG_TEXT, LOG_JSON };

void log_setup(enum log_format fmt, enum log_level threshold);
bool log_enabled(enum log_level level);

/* Log at `level`; url (may be NULL) names the object the message is about
 * and is added as a field in JSON format (in text it should already be in
 * the message). */
void log_msg(enum log_level level, const char *url, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level level, const char *url, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* --- secrets --------------------------------------------------------- */

#define LOG_SECRET_MIN 8       /* shorter values are not registered */

/*
 * Register a secret value (n bytes at s, copied): from now on no message
 * of this process holds it.  Values shorter than LOG_SECRET_MIN bytes are
 * ignored (redacting "abc" everywhere would maim messages and hide
 * nothing).  Thread-safe; the same value twice is kept once.
 */
void log_add_secret(const char *s, size_t n);
/* Wipe and forget every registered secret (tests; the end of a process). */
void log_forget_secrets(void);
/*
 * Replace in b, in place, every registered secret (longest first) and the
 * value of every secret-bearing parameter named above with "***".  Used by
 * log_vmsg() on every message and by store_fail() on the message it keeps
 * for the run summary and the state, so that what is kept is what was
 * logged.  b's bytes may be replaced by new ones (the old are wiped);
 * a cap on b is not kept.  Thread-safe.
 */
void log_redact(buf *b);

/* True the first time `key` is asked about in this process (for a
 * warning said once per run however often its cause is met: a
 * credentials file opened for several locations); keeps up to 32 keys,
 * then answers true.  Not thread-safe: for set-up code. */
bool log_first_time(const char *key);

/* A transient line (progress.h) is shown on standard error's terminal
 * (true) or not (false).  While it is, the next message erases it first,
 * in the same write. */
void log_status_line(bool shown);

int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log an error and return r. */
es_result es_error(es_result r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same, naming the object. */
es_result es_error_url(es_result r, const char *url, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
