/*
 * http.h - the HTTP client of the object stores: one request at a time on a
 * kept-alive connection, with streaming bodies, stall detection, and the
 * retry policy (what is worth retrying, and how long to wait).
 *
 * Built on libcurl.  Every http_client of the process draws its
 * connections from one shared connection cache (a CURLSH with
 * CURL_LOCK_DATA_CONNECT, DNS and TLS sessions, locked with mutexes), so
 * the stores of a run that talk to the same endpoint reuse the same
 * connection whichever store opened it.  The cache lives until the process
 * exits.  A client is used by one thread at a time; different clients may
 * be used by different threads.
 *
 * What a request gets, always:
 *  - TLS peers verified (host and chain); http_options.ca_bundle replaces
 *    the system's CA store (AWS_CA_BUNDLE);
 *  - http and https only, no redirects followed, no proxy from the
 *    environment unless curl's own variables (https_proxy...) say so;
 *  - the path sent exactly as given (no "." or ".." squashing);
 *  - a body always sent with Content-Length (never chunked) and no
 *    "Expect: 100-continue" round trip;
 *  - a speed floor: a transfer during which no byte moves, in either
 *    direction, for stall_timeout_s seconds, or fewer than
 *    HTTP_MIN_WINDOW_BYTES bytes in any window of stall_timeout_s seconds
 *    (counted from the start of the request, window after window), is
 *    aborted (HTTP_E_STALL; a progress callback watches the counters): a
 *    server that drips a byte a second is cut like one that stopped;
 *    connecting is bounded by connect_timeout_s;
 *  - a time budget: the request's own (http_request.timeout_ms, what is
 *    left of its object's deadline) and the process's run deadline
 *    (http_set_deadline), whichever ends first.  A request whose budget
 *    is spent fails at once, without connecting; one that runs out of
 *    it is aborted; either ends HTTP_E_DEADLINE, which is final (never
 *    worth retrying), and resp->run_deadline says which deadline it was.
 *
 * Nothing here logs or signs: the caller (objhttp.c, with the signer of
 * store_s3.c or store_az.c) signs each attempt, decides with
 * http_classify() and waits with http_backoff_ms() and http_sleep().  The
 * caller's headers are sent as given, so whatever was signed is what goes
 * on the wire; Host must be among them.  Neither requests nor responses
 * are ever logged here, so no Authorization header can reach a log.
 *
 * The run deadline is one wall-clock time for the whole process (a
 * scheduled run must end before the next one starts): set once by the
 * run, read by every request of every thread.
 *
 * Retries: http_classify() says whether an attempt's outcome is final.
 * Worth retrying: connection failures (refused, reset, unresolvable host,
 * a body cut short), stalls and timeouts, status 500, 502, 503 (SlowDown),
 * 504 and 429, and the S3 codes RequestTimeout, SlowDown, InternalError
 * and ServiceUnavailable whatever the status (S3 can send them in a 200
 * CompleteMultipartUpload reply).  Everything else is final.  The wait
 * before attempt n+1 is "full jitter": uniform in [0, min(max_ms,
 * base_ms * 2^(n-1))] milliseconds.
 */
#ifndef EVSHARE_HTTP_H
#define EVSHARE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define HTTP_MAX_HEADERS       100        /* response headers kept */
#define HTTP_MAX_HEADER_BYTES  (64u << 10)
#define HTTP_DEFAULT_CONNECT_TIMEOUT_S 10
#define HTTP_DEFAULT_STALL_TIMEOUT_S   30
#define HTTP_MIN_WINDOW_BYTES          1024   /* the speed floor: bytes per
						 stall_timeout_s window */

typedef struct http_options {
	const char *ca_bundle;      /* CA file; NULL: the system's store */
	long connect_timeout_s;     /* 0: HTTP_DEFAULT_CONNECT_TIMEOUT_S */
	long stall_timeout_s;       /* 0: HTTP_DEFAULT_STALL_TIMEOUT_S */
	const char *user_agent;     /* NULL: "evshare" */
} http_options;

typedef struct http_client http_client;

/* A client with its own easy handle on the shared connection cache.
 * Options are copied.  Never NULL (dies if libcurl cannot start). */
http_client *http_client_new(const http_options *opt);
void http_client_free(http_client *c);

typedef struct http_header {
	const char *name;
	const char *value;
} http_header;

/* A request body: bytes in memory, or `length` bytes of a file at
 * `offset` (read with pread as they are sent, never all in memory). */
typedef struct http_body {
	const char *mem;            /* non-NULL: the bytes */
	int fd;                     /* mem == NULL: the file */
	uint64_t offset;
	uint64_t length;
} http_body;

/* Called with the body of a 2xx response as it arrives.  Return 0 to go
 * on, non-zero to stop the transfer (the request ends HTTP_E_ABORTED). */
typedef int (*http_body_fn)(void *ud, const char *p, size_t n);

typedef struct http_request {
	const char *method;          /* "GET", "PUT", "POST", "DELETE", "HEAD" */
	const char *url;             /* scheme://host[:port]/path?query, encoded */
	const http_header *headers;  /* sent as given (Host included) */
	size_t nheaders;
	const http_body *body;       /* NULL: no body (Content-Length: 0 for
	                                PUT and POST) */
	http_body_fn on_body;        /* NULL: 2xx bodies go to response.body */
	void *ud;
	size_t body_cap;             /* cap of response.body; 0: 1 MiB */
	int64_t timeout_ms;          /* this request's time budget, ms; 0: none
	                                (the run deadline applies anyway) */
} http_request;

typedef enum http_error {
	HTTP_OK = 0,        /* a whole response arrived, whatever its status */
	HTTP_E_RESOLVE,     /* host name not resolved */
	HTTP_E_CONNECT,     /* connection refused or unreachable */
	HTTP_E_TIMEOUT,     /* connecting took too long */
	HTTP_E_SEND,        /* the connection failed while sending */
	HTTP_E_RECV,        /* reset, closed early, body shorter than announced */
	HTTP_E_STALL,       /* below the speed floor (see above) */
	HTTP_E_TLS,         /* TLS handshake or certificate verification */
	HTTP_E_ABORTED,     /* on_body asked to stop */
	HTTP_E_TOO_BIG,     /* a collected body passed body_cap */
	HTTP_E_LOCAL,       /* the request body could not be read (errno kept) */
	HTTP_E_DEADLINE,    /* its time budget or the run deadline ran out */
	HTTP_E_OTHER        /* anything else libcurl reports */
} http_error;

typedef struct http_response {
	http_error error;
	long status;                 /* 0 if no status line arrived */
	char message[256];           /* error != HTTP_OK: what went wrong */
	int local_errno;             /* HTTP_E_LOCAL: errno of the read */
	bool run_deadline;           /* HTTP_E_DEADLINE: the run's (else the
	                                request's own budget) */
	struct { char *name, *value; } headers[HTTP_MAX_HEADERS];
	size_t nheaders;             /* of the final response (not of a 100) */
	buf body;                    /* non-2xx bodies, and 2xx without on_body */
	uint64_t body_bytes;         /* body bytes received (all of them) */
	uint64_t sent_bytes;         /* request body bytes sent */
	double seconds;
} http_response;

/*
 * Send one request and wait for the whole answer.  *resp is overwritten
 * (release it with http_response_release, also after a failure).  The
 * transport outcome is resp->error; an HTTP error status is not a failure
 * here.  Returns resp->error.
 */
http_error http_perform(http_client *c, const http_request *req, http_response *resp);

/* The first response header of that name (case-insensitive), or NULL. */
const char *http_response_header(const http_response *resp, const char *name);
void http_response_release(http_response *resp);

/* A short lowercase name ("connection reset or closed early"). */
const char *http_error_name(http_error e);

/* --- The run deadline -------------------------------------------------- */

/* From now on no request of this process runs past unix_ms (wall clock,
 * ms since the epoch); 0: no run deadline (the default).  Thread-safe. */
void http_set_deadline(int64_t unix_ms);
/* The run deadline, 0 when none. */
int64_t http_deadline(void);
/* Has the run deadline passed?  A request that failed with
 * HTTP_E_DEADLINE and run_deadline, and every request after it, fails
 * because of it: the caller can defer what is left instead of counting
 * it failed. */
bool http_deadline_passed(void);

/* --- Retry policy ---------------------------------------------------- */

typedef enum http_verdict {
	HTTP_VERDICT_DONE,    /* success: 1xx-3xx with no error code */
	HTTP_VERDICT_RETRY,   /* worth another attempt */
	HTTP_VERDICT_FAIL     /* final failure */
} http_verdict;

/*
 * Classify an attempt: the transport outcome, the status (when error is
 * HTTP_OK) and the S3 error code from the body (NULL if none).
 */
http_verdict http_classify(http_error error, long status, const char *s3_code);

typedef struct http_retry {
	unsigned max_attempts;            /* attempts per request, >= 1 */
	unsigned base_ms;                 /* 0: 100 */
	unsigned max_ms;                  /* 0: 20000 */
	uint64_t (*random)(void *ud);     /* NULL: a generator seeded from the OS */
	void (*sleep_ms)(void *ud, unsigned ms);   /* NULL: nanosleep */
	void *ud;
	int64_t (*now_ms)(void *ud);      /* the clock deadlines are read on, ms
	                                     since the epoch; NULL: time_now_ms */
} http_retry;

/* The wait after failed attempt `attempt` (1 for the first):
 * uniform in [0, min(max_ms, base_ms << (attempt - 1))]. */
unsigned http_backoff_ms(const http_retry *p, unsigned attempt);
/* Sleep ms milliseconds with p's sleep (nanosleep when it is NULL): the
 * wait before another attempt, counted as one retry. */
void http_sleep(const http_retry *p, unsigned ms);
/* Retries so far in this process (http_sleep and http_retry_wait calls,
 * from any thread): the runs' metrics. */
uint64_t http_retries_total(void);
/* Sleep http_backoff_ms(p, attempt) with p's sleep; returns the ms slept. */
unsigned http_retry_wait(const http_retry *p, unsigned attempt);
/* p's clock (now_ms, else time_now_ms()). */
int64_t http_retry_now(const http_retry *p);

/* --- Helpers ---------------------------------------------------------- */

/* Parse an HTTP date (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT"; also
 * the RFC 850 and asctime forms) into seconds since the epoch. */
bool http_date_parse(const char *s, int64_t *out_s);
/* Parse a Content-Range "bytes START-LAST/TOTAL" (TOTAL may be '*':
 * *total = UINT64_MAX); false for anything else, LAST before START, or
 * LAST not before TOTAL. */
bool http_parse_content_range(const char *s, uint64_t *start, uint64_t *total);

#endif
