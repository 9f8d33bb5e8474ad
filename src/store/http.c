/*
 * http.c - libcurl requests on a shared, kept-alive connection cache, and
 * the retry policy of the object stores.  See http.h.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BODY_CAP   (1u << 20)
#define ERROR_BODY_CAP     (1u << 20)
#define DEFAULT_BASE_MS    100
#define DEFAULT_MAX_MS     20000

struct http_client {
	CURL *easy;
	char *ca_bundle;
	char *user_agent;
	long connect_timeout_s;
	long stall_timeout_s;
	char errbuf[CURL_ERROR_SIZE];
};

/* --- the process-wide connection cache ------------------------------- */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static CURLSH *http_share;
static pthread_mutex_t http_share_mutex[CURL_LOCK_DATA_LAST];
static bool http_started;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	(void)h;
	(void)access;
	(void)ud;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&http_share_mutex[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	(void)h;
	(void)ud;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&http_share_mutex[data]);
}

static void http_start(void)
{
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		return;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&http_share_mutex[i], NULL);
	http_share = curl_share_init();
	if (!http_share)
		return;
	curl_share_setopt(http_share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(http_share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	http_started = true;
}

http_client *http_client_new(const http_options *opt)
{
	http_client *c;

	pthread_once(&http_once, http_start);
	if (!http_started)
		die("cannot start libcurl");
	c = xcalloc(1, sizeof(*c));
	c->easy = curl_easy_init();
	if (!c->easy)
		die("cannot start libcurl");
	c->ca_bundle = opt && opt->ca_bundle ? xstrdup(opt->ca_bundle) : NULL;
	c->user_agent = xstrdup(opt && opt->user_agent ? opt->user_agent : "evshare");
	c->connect_timeout_s = opt && opt->connect_timeout_s > 0 ? opt->connect_timeout_s
							      : HTTP_DEFAULT_CONNECT_TIMEOUT_S;
	c->stall_timeout_s = opt && opt->stall_timeout_s > 0 ? opt->stall_timeout_s
							  : HTTP_DEFAULT_STALL_TIMEOUT_S;
	return c;
}

void http_client_free(http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->easy);
	free(c->ca_bundle);
	free(c->user_agent);
	free(c);
}

/* --- one transfer ----------------------------------------------------- */

struct xfer {
	const http_request *req;
	http_response *resp;
	size_t body_cap;
	uint64_t pos;             /* request body bytes handed to curl */
	size_t header_bytes;
	bool aborted;             /* on_body said stop */
	bool too_big;             /* a collected body or the headers passed a cap */
	bool stalled;
	int read_errno;           /* the request body could not be read */
	long stall_s;
	double last_progress;     /* monotonic seconds */
	curl_off_t last_dl, last_ul;
	double window_start;      /* the speed floor's current window */
	curl_off_t window_moved;  /* bytes moved (both ways) when it began */
	curl_off_t slow_bytes;    /* stalled by the floor: moved in the window */
	double deadline;          /* monotonic; 0: none */
	bool deadline_hit;
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void clear_headers(http_response *r)
{
	for (size_t i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
		r->headers[i].name = r->headers[i].value = NULL;
	}
	r->nheaders = 0;
}

static size_t trim_len(const char *p, size_t n)
{
	while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' ||
		     p[n - 1] == '\t'))
		n--;
	return n;
}

/* A status line starts a new response (a 100 Continue comes before the
 * real one): forget the headers of the previous one. */
static void on_status_line(struct xfer *x, const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);
	long status = 0;

	clear_headers(x->resp);
	if (sp) {
		const char *d = sp + 1, *end = p + n;

		while (d < end && *d >= '0' && *d <= '9' && status < 1000)
			status = status * 10 + (*d++ - '0');
	}
	x->resp->status = status;
}

static size_t on_header(char *p, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	http_response *r = x->resp;
	size_t total = size * nitems, n = trim_len(p, total);
	const char *colon;

	x->header_bytes += total;
	if (x->header_bytes > HTTP_MAX_HEADER_BYTES) {
		x->too_big = true;
		return 0;
	}
	if (n >= 5 && !memcmp(p, "HTTP/", 5)) {
		on_status_line(x, p, n);
		return total;
	}
	if (!n)
		return total;
	if ((p[0] == ' ' || p[0] == '\t') && r->nheaders) {
		/* obsolete line folding: continue the previous value */
		char *old = r->headers[r->nheaders - 1].value;
		size_t skip = 0;

		while (skip < n && (p[skip] == ' ' || p[skip] == '\t'))
			skip++;
		r->headers[r->nheaders - 1].value =
			xasprintf("%s %.*s", old, (int)(n - skip), p + skip);
		free(old);
		return total;
	}
	colon = memchr(p, ':', n);
	if (!colon || r->nheaders >= HTTP_MAX_HEADERS)
		return total;
	{
		const char *v = colon + 1, *end = p + n;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		r->headers[r->nheaders].name = xstrndup(p, (size_t)(colon - p));
		r->headers[r->nheaders].value = xstrndup(v, (size_t)(end - v));
		r->nheaders++;
	}
	return total;
}

static size_t on_write(char *p, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	http_response *r = x->resp;
	size_t n = size * nitems;
	bool ok_status = r->status >= 200 && r->status < 300;

	r->body_bytes += n;
	if (ok_status && x->req->on_body) {
		if (x->req->on_body(x->req->ud, p, n)) {
			x->aborted = true;
			return 0;
		}
		return n;
	}
	if (ok_status) {
		if (r->body.len + n > x->body_cap) {
			x->too_big = true;
			return 0;
		}
		buf_add(&r->body, p, n);
		return n;
	}
	/* an error body: keep its start, drop the rest */
	if (r->body.len < ERROR_BODY_CAP)
		buf_add(&r->body, p, n < ERROR_BODY_CAP - r->body.len ? n : ERROR_BODY_CAP - r->body.len);
	return n;
}

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
	struct xfer *x = ud;
	const http_body *b = x->req->body;
	uint64_t left = b->length - x->pos;
	size_t want = size * nitems;

	if (want > left)
		want = (size_t)left;
	if (!want)
		return 0;
	if (b->mem) {
		memcpy(dst, b->mem + x->pos, want);
	} else {
		ssize_t got;

		do
			got = pread(b->fd, dst, want, (off_t)(b->offset + x->pos));
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			x->read_errno = got < 0 ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)got;
	}
	x->pos += want;
	return want;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct xfer *x = ud;

	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->req->body->length)
		return CURL_SEEKFUNC_CANTSEEK;
	x->pos = (uint64_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* The time budget, and the speed floor: no byte moved either way for
 * stall_s seconds, or fewer than HTTP_MIN_WINDOW_BYTES in a window of
 * stall_s seconds. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = ud;
	double now = mono_now();
	curl_off_t moved = dlnow + ulnow;

	(void)dltotal;
	(void)ultotal;
	if (x->deadline > 0 && now >= x->deadline) {
		x->deadline_hit = true;
		return 1;
	}
	if (dlnow != x->last_dl || ulnow != x->last_ul) {
		x->last_dl = dlnow;
		x->last_ul = ulnow;
		x->last_progress = now;
	} else if (now - x->last_progress >= (double)x->stall_s) {
		x->stalled = true;
		return 1;
	}
	if (now - x->window_start >= (double)x->stall_s) {
		if (moved - x->window_moved < HTTP_MIN_WINDOW_BYTES) {
			x->stalled = true;
			x->slow_bytes = moved - x->window_moved;
			return 1;
		}
		x->window_start = now;
		x->window_moved = moved;
	}
	return 0;
}

static struct curl_slist *header_list(const http_request *req)
{
	struct curl_slist *l = NULL;

	for (size_t i = 0; i < req->nheaders; i++) {
		char *line;

		if (*req->headers[i].value)
			line = xasprintf("%s: %s", req->headers[i].name, req->headers[i].value);
		else
			line = xasprintf("%s;", req->headers[i].name);
		l = curl_slist_append(l, line);
		free(line);
		if (!l)
			die("out of memory");
	}
	/* no 100-continue round trip; curl's Accept is harmless but useless */
	l = curl_slist_append(l, "Expect:");
	l = curl_slist_append(l, "Accept:");
	if (!l)
		die("out of memory");
	return l;
}

static http_error map_curl_error(CURLcode rc, const struct xfer *x)
{
	switch (rc) {
	case CURLE_OK:
		return HTTP_OK;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return HTTP_E_RESOLVE;
	case CURLE_COULDNT_CONNECT:
		return HTTP_E_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		/* CURLOPT_TIMEOUT_MS is the time budget: its end is the deadline */
		if (x->deadline > 0 && mono_now() >= x->deadline - 0.05)
			return HTTP_E_DEADLINE;
		return x->resp->status || x->pos ? HTTP_E_STALL : HTTP_E_TIMEOUT;
	case CURLE_SEND_ERROR:
		return HTTP_E_SEND;
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return HTTP_E_RECV;
	case CURLE_ABORTED_BY_CALLBACK:
		if (x->deadline_hit)
			return HTTP_E_DEADLINE;
		if (x->stalled)
			return HTTP_E_STALL;
		return x->read_errno ? HTTP_E_LOCAL : HTTP_E_OTHER;
	case CURLE_READ_ERROR:
		return HTTP_E_LOCAL;
	case CURLE_WRITE_ERROR:
		if (x->aborted)
			return HTTP_E_ABORTED;
		return x->too_big ? HTTP_E_TOO_BIG : HTTP_E_OTHER;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_USE_SSL_FAILED:
		return HTTP_E_TLS;
	default:
		return HTTP_E_OTHER;
	}
}

static void set_options(http_client *c, const http_request *req, struct xfer *x,
			struct curl_slist *hdrs, int64_t budget_ms)
{
	CURL *e = c->easy;
	bool upload = req->body != NULL;

	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_SHARE, http_share);
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_bundle)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_bundle);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, c->connect_timeout_s);
	if (budget_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(budget_ms < LONG_MAX ? budget_ms
										  : LONG_MAX));
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/* large objects: fewer, bigger reads and writes than curl's defaults */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (upload) {
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body->length);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, x);
		curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
		if (strcmp(req->method, "PUT"))
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	} else if (!strcmp(req->method, "GET")) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	}
}

/* --- the run deadline ------------------------------------------------ */

static _Atomic int64_t http_run_deadline;

void http_set_deadline(int64_t unix_ms)
{
	atomic_store(&http_run_deadline, unix_ms > 0 ? unix_ms : 0);
}

int64_t http_deadline(void)
{
	return atomic_load(&http_run_deadline);
}

bool http_deadline_passed(void)
{
	int64_t d = atomic_load(&http_run_deadline);

	return d > 0 && time_now_ms() >= d;
}

/* The time budget of req in ms (-1: none), and whether the run deadline
 * is what bounds it. */
static int64_t time_budget(const http_request *req, bool *is_run)
{
	int64_t budget = req->timeout_ms > 0 ? req->timeout_ms : -1;
	int64_t run = atomic_load(&http_run_deadline);

	*is_run = false;
	if (run > 0) {
		int64_t left = run - time_now_ms();

		if (budget < 0 || left <= budget) {
			/* a millisecond more: the clocks' rounding (and curl's
			 * timer's) may not end it before the deadline */
			budget = left > 0 ? left + 1 : 0;
			*is_run = true;
		}
	}
	return budget;
}

static void deadline_message(http_response *resp)
{
	snprintf(resp->message, sizeof(resp->message), "%s",
		 resp->run_deadline ? "run deadline reached" : "time budget of the request spent");
}

http_error http_perform(http_client *c, const http_request *req, http_response *resp)
{
	static const http_body no_body = { "", -1, 0, 0 };
	http_request local = *req;
	struct xfer x;
	struct curl_slist *hdrs;
	CURLcode rc;
	long status = 0;
	bool is_run;
	/* the budget first, then its clock: a deadline on the wall clock is
	 * never cut early by the time between the two reads */
	int64_t budget = time_budget(req, &is_run);
	double t0 = mono_now(), secs = 0;

	memset(resp, 0, sizeof(*resp));
	resp->run_deadline = is_run;
	if (budget == 0) {
		/* spent before it began: nothing is sent */
		resp->error = HTTP_E_DEADLINE;
		deadline_message(resp);
		return resp->error;
	}
	if (!local.body && (!strcmp(req->method, "PUT") || !strcmp(req->method, "POST")))
		local.body = &no_body;
	memset(&x, 0, sizeof(x));
	x.req = &local;
	x.resp = resp;
	x.body_cap = req->body_cap ? req->body_cap : DEFAULT_BODY_CAP;
	x.stall_s = c->stall_timeout_s;
	x.last_progress = t0;
	x.window_start = t0;
	x.deadline = budget > 0 ? t0 + (double)budget / 1000.0 : 0;
	c->errbuf[0] = '\0';
	hdrs = header_list(&local);
	set_options(c, &local, &x, hdrs, budget);
	rc = curl_easy_perform(c->easy);
	curl_slist_free_all(hdrs);
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c->easy, CURLINFO_TOTAL_TIME, &secs);
	if (status && !resp->status)
		resp->status = status;
	resp->seconds = secs > 0 ? secs : mono_now() - t0;
	resp->sent_bytes = x.pos;
	resp->error = map_curl_error(rc, &x);
	if (resp->error == HTTP_OK && !resp->status) {
		resp->error = HTTP_E_OTHER;
		snprintf(resp->message, sizeof(resp->message), "no HTTP status received");
	} else if (resp->error == HTTP_E_DEADLINE) {
		deadline_message(resp);
	} else if (resp->error == HTTP_E_STALL && x.slow_bytes > 0) {
		snprintf(resp->message, sizeof(resp->message),
			 "only %lld bytes moved in %ld s, fewer than %d (stalled transfer)",
			 (long long)x.slow_bytes, c->stall_timeout_s, HTTP_MIN_WINDOW_BYTES);
	} else if (resp->error == HTTP_E_STALL) {
		snprintf(resp->message, sizeof(resp->message),
			 "no data moved for %ld s (stalled transfer)", c->stall_timeout_s);
	} else if (resp->error == HTTP_E_LOCAL) {
		resp->local_errno = x.read_errno ? x.read_errno : EIO;
		snprintf(resp->message, sizeof(resp->message), "cannot read the body: %s",
			 strerror(resp->local_errno));
	} else if (resp->error == HTTP_E_TOO_BIG) {
		snprintf(resp->message, sizeof(resp->message),
			 "reply larger than %zu bytes", x.body_cap);
	} else if (resp->error != HTTP_OK) {
		snprintf(resp->message, sizeof(resp->message), "%s",
			 c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
	}
	return resp->error;
}

const char *http_response_header(const http_response *resp, const char *name)
{
	for (size_t i = 0; i < resp->nheaders; i++)
		if (!strcasecmp(resp->headers[i].name, name))
			return resp->headers[i].value;
	return NULL;
}

void http_response_release(http_response *resp)
{
	if (!resp)
		return;
	clear_headers(resp);
	buf_release(&resp->body);
}

const char *http_error_name(http_error e)
{
	switch (e) {
	case HTTP_OK: return "ok";
	case HTTP_E_RESOLVE: return "host name not resolved";
	case HTTP_E_CONNECT: return "cannot connect";
	case HTTP_E_TIMEOUT: return "connection timed out";
	case HTTP_E_SEND: return "connection failed while sending";
	case HTTP_E_RECV: return "connection reset or closed early";
	case HTTP_E_STALL: return "stalled transfer";
	case HTTP_E_TLS: return "TLS failure";
	case HTTP_E_ABORTED: return "aborted by the reader";
	case HTTP_E_TOO_BIG: return "reply too large";
	case HTTP_E_LOCAL: return "local read error";
	case HTTP_E_DEADLINE: return "deadline reached";
	case HTTP_E_OTHER: return "transfer failed";
	}
	return "transfer failed";
}

/* --- retry policy ----------------------------------------------------- */

static bool code_is_transient(const char *code)
{
	static const char *const transient[] = {
		"RequestTimeout", "SlowDown", "InternalError", "ServiceUnavailable",
		"Throttling", "ThrottlingException", "RequestThrottled",
		"TooManyRequests", NULL
	};

	for (size_t i = 0; transient[i]; i++)
		if (!strcmp(code, transient[i]))
			return true;
	return false;
}

http_verdict http_classify(http_error error, long status, const char *s3_code)
{
	switch (error) {
	case HTTP_OK:
		break;
	case HTTP_E_RESOLVE:
	case HTTP_E_CONNECT:
	case HTTP_E_TIMEOUT:
	case HTTP_E_SEND:
	case HTTP_E_RECV:
	case HTTP_E_STALL:
		return HTTP_VERDICT_RETRY;
	default:
		return HTTP_VERDICT_FAIL;
	}
	if (s3_code && *s3_code && code_is_transient(s3_code))
		return HTTP_VERDICT_RETRY;
	if (status == 429 || status == 500 || status == 502 || status == 503 || status == 504)
		return HTTP_VERDICT_RETRY;
	if (status >= 200 && status < 300 && !(s3_code && *s3_code))
		return HTTP_VERDICT_DONE;
	return HTTP_VERDICT_FAIL;
}

/* splitmix64, one state per thread, seeded from the OS */
static _Thread_local uint64_t rng_state;
static _Thread_local bool rng_seeded;

static uint64_t default_random(void)
{
	uint64_t z;

	if (!rng_seeded) {
		if (getentropy(&rng_state, sizeof(rng_state)) != 0)
			rng_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		rng_seeded = true;
	}
	z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

unsigned http_backoff_ms(const http_retry *p, unsigned attempt)
{
	uint64_t base = p->base_ms ? p->base_ms : DEFAULT_BASE_MS;
	uint64_t cap = p->max_ms ? p->max_ms : DEFAULT_MAX_MS;
	uint64_t ceiling = base, r;

	for (unsigned i = 1; i < attempt && ceiling < cap; i++)
		ceiling *= 2;
	if (ceiling > cap)
		ceiling = cap;
	r = p->random ? p->random(p->ud) : default_random();
	return (unsigned)(r % (ceiling + 1));
}

static void default_sleep(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static atomic_uint_fast64_t http_retries;

uint64_t http_retries_total(void)
{
	return atomic_load(&http_retries);
}

void http_sleep(const http_retry *p, unsigned ms)
{
	atomic_fetch_add(&http_retries, 1);
	if (p->sleep_ms)
		p->sleep_ms(p->ud, ms);
	else if (ms)
		default_sleep(ms);
}

int64_t http_retry_now(const http_retry *p)
{
	return p->now_ms ? p->now_ms(p->ud) : time_now_ms();
}

unsigned http_retry_wait(const http_retry *p, unsigned attempt)
{
	unsigned ms = http_backoff_ms(p, attempt);

	http_sleep(p, ms);
	return ms;
}

/* --- HTTP dates ------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int month_index(const char *p, size_t n)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	if (n != 3)
		return -1;
	for (int i = 0; i < 12; i++)
		if (!strncasecmp(months + 3 * i, p, 3))
			return i + 1;
	return -1;
}

static bool all_digits(const char *p, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

static long digits_value(const char *p, size_t n)
{
	long v = 0;

	for (size_t i = 0; i < n && i < 9; i++)
		v = v * 10 + (p[i] - '0');
	return v;
}

bool http_date_parse(const char *s, int64_t *out_s)
{
	long day = -1, year = -1, hh = -1, mm = -1, ss = -1;
	int mon = -1;
	const char *p = s;

	while (*p) {
		const char *t;
		size_t n;

		while (*p == ' ' || *p == ',' || *p == '-' || *p == '\t')
			p++;
		if (!*p)
			break;
		t = p;
		while (*p && *p != ' ' && *p != ',' && *p != '-' && *p != '\t')
			p++;
		n = (size_t)(p - t);
		if (n == 8 && t[2] == ':' && t[5] == ':') {
			if (!all_digits(t, 2) || !all_digits(t + 3, 2) || !all_digits(t + 6, 2) ||
			    hh >= 0)
				return false;
			hh = digits_value(t, 2);
			mm = digits_value(t + 3, 2);
			ss = digits_value(t + 6, 2);
		} else if (all_digits(t, n)) {
			if (n <= 2 && day < 0) {
				day = digits_value(t, n);
			} else if ((n == 4 || n == 2) && year < 0) {
				year = digits_value(t, n);
				if (n == 2)
					year += year >= 70 ? 1900 : 2000;
			} else {
				return false;
			}
		} else if (month_index(t, n) > 0) {
			if (mon > 0)
				return false;
			mon = month_index(t, n);
		} else if (n == 3 && !strncmp(t, "GMT", 3)) {
			continue;
		} else if (n >= 3 && ((t[0] >= 'A' && t[0] <= 'Z') || (t[0] >= 'a' && t[0] <= 'z'))) {
			continue;   /* the day name */
		} else {
			return false;
		}
	}
	if (day < 1 || day > 31 || mon < 1 || year < 1970 || hh < 0 || hh > 23 ||
	    mm > 59 || ss > 60)
		return false;
	*out_s = days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 +
		 hh * 3600 + mm * 60 + ss;
	return true;
}

/* --- Content-Range ----------------------------------------------------- */

/* Digits at *p up to a stop character: the number, *p moved past them. */
static bool take_u64(const char **p, char stop, uint64_t *out)
{
	const char *end = strchr(*p, stop);
	char *digits;
	bool ok;

	if (!end || end == *p)
		return false;
	digits = xstrndup(*p, (size_t)(end - *p));
	ok = parse_u64(digits, out);
	free(digits);
	*p = end + 1;
	return ok;
}

bool http_parse_content_range(const char *s, uint64_t *start, uint64_t *total)
{
	uint64_t last;

	if (!s || strncmp(s, "bytes ", 6))
		return false;
	s += 6;
	if (!take_u64(&s, '-', start) || !take_u64(&s, '/', &last) || last < *start)
		return false;
	if (!strcmp(s, "*")) {
		*total = UINT64_MAX;
		return true;
	}
	return parse_u64(s, total) && last < *total;
}
