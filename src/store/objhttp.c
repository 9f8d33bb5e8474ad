/*
 * objhttp.c - one request of an object store over HTTP, with retries and
 * resumed GETs; the list, get and put operations, the lifecycle of an
 * upload in parts, and the digests of the bodies.
 * See objhttp.h; the backends are store_s3.c and store_az.c.
 */
#include "objhttp.h"
#include "log.h"
#include "sigv4.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- settings ---------------------------------------------------------- */

es_result objhttp_stall_timeout(const char *value, long *out, buf *err)
{
	uint64_t v;

	*out = HTTP_DEFAULT_STALL_TIMEOUT_S;
	if (!value || !*value)
		return ES_OK;
	if (!parse_u64(value, &v) || v < 1 || v > 3600) {
		buf_printf(err, "%s '%s': expected whole seconds from 1 to 3600",
			   OBJHTTP_STALL_ENV, value);
		return ES_ERR_CONFIG;
	}
	*out = (long)v;
	return ES_OK;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_';
}

static bool path_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

void objhttp_endpoint_release(objhttp_endpoint *e)
{
	if (!e)
		return;
	free(e->scheme);
	free(e->host);
	free(e->base_path);
	memset(e, 0, sizeof(*e));
}

es_result objhttp_endpoint_parse(const char *url, objhttp_endpoint *out, buf *err)
{
	/* messages show the URL up to a query or fragment only: a pasted
	 * "SAS URL" would put its signature there */
	int shown = (int)strcspn(url, "?#");
	const char *cut = url[shown] ? "..." : "";
	const char *rest, *end;
	size_t alen, plen;

	memset(out, 0, sizeof(*out));
	if (!strncmp(url, "https://", 8)) {
		out->scheme = xstrdup("https");
		rest = url + 8;
	} else if (!strncmp(url, "http://", 7)) {
		out->scheme = xstrdup("http");
		rest = url + 7;
	} else {
		buf_printf(err, "endpoint '%.*s%s' must start with http:// or https://", shown, url,
			   cut);
		return ES_ERR_CONFIG;
	}
	alen = strcspn(rest, "/?#");
	for (size_t i = 0; i < alen; i++)
		if (rest[i] == '@') {
			buf_printf(err, "endpoint '%s...' must not hold a user name or password",
				   out->scheme);
			goto fail;
		}
	if (!alen) {
		buf_printf(err, "endpoint '%.*s%s' has no host", shown, url, cut);
		goto fail;
	}
	for (size_t i = 0; i < alen; i++)
		if (!host_char(rest[i])) {
			buf_printf(err, "endpoint '%.*s%s': invalid character in the host", shown, url,
				   cut);
			goto fail;
		}
	out->host = xstrndup(rest, alen);
	rest += alen;
	end = rest + strlen(rest);
	if (strpbrk(rest, "?#")) {
		buf_printf(err, "endpoint '%.*s%c...' must not have a query or a fragment", shown,
			   url, url[shown]);
		goto fail;
	}
	for (const char *p = rest; p < end; p++)
		if (!path_char(*p)) {
			buf_printf(err, "endpoint '%s': its path must be plain (A-Z a-z 0-9 - . _ ~ /)",
				   url);
			goto fail;
		}
	plen = (size_t)(end - rest);
	while (plen && rest[plen - 1] == '/')
		plen--;
	out->base_path = xstrndup(rest, plen);
	return ES_OK;
fail:
	objhttp_endpoint_release(out);
	return ES_ERR_CONFIG;
}

void objhttp_check(const location *loc, const objhttp_limits *lim, store_faults *out)
{
	if (loc->endpoint) {
		objhttp_endpoint e;
		buf err = BUF_INIT;

		if (objhttp_endpoint_parse(loc->endpoint, &e, &err) == ES_OK)
			objhttp_endpoint_release(&e);
		else
			store_faults_add(out, "endpoint", "%s", err.data);
		buf_release(&err);
	}
	if (loc->part_size && (loc->part_size < lim->min_part || loc->part_size > lim->max_part))
		store_faults_add(out, "part_size", "part_size %" PRIu64 " is outside %s",
				 loc->part_size, lim->part_range);
	if (loc->multipart_threshold && (loc->multipart_threshold < OBJHTTP_MIN_THRESHOLD ||
					 loc->multipart_threshold > OBJHTTP_MAX_THRESHOLD))
		store_faults_add(out, "multipart_threshold", "multipart_threshold %" PRIu64
				 " is outside 5 MiB..5 TiB", loc->multipart_threshold);
	if (loc->retries > OBJHTTP_MAX_ATTEMPTS)
		store_faults_add(out, "retries", "retries %u is outside 1..%d", loc->retries,
				 OBJHTTP_MAX_ATTEMPTS);
	if (loc->upload_streams > OBJHTTP_MAX_STREAMS)
		store_faults_add(out, "upload_streams", "upload_streams %u is outside 1..%d",
				 loc->upload_streams, OBJHTTP_MAX_STREAMS);
}

void objhttp_transfer_resolve(const location *loc, const objhttp_limits *lim,
			      objhttp_transfer *out)
{
	out->part_size = loc->part_size ? loc->part_size : lim->default_part;
	out->threshold = loc->multipart_threshold ? loc->multipart_threshold : out->part_size;
	if (out->threshold > lim->max_single)
		out->threshold = lim->max_single;
	out->attempts = loc->retries ? loc->retries : lim->default_attempts;
	out->upload_streams = loc->upload_streams ? loc->upload_streams
						  : OBJHTTP_DEFAULT_STREAMS;
	if (out->upload_streams > OBJHTTP_MAX_STREAMS)
		out->upload_streams = OBJHTTP_MAX_STREAMS;
}

void objhttp_query_add(buf *q, const char *name, const char *value)
{
	if (q->len)
		buf_addch(q, '&');
	sigv4_uri_encode(q, name, strlen(name), false);
	if (value) {
		buf_addch(q, '=');
		sigv4_uri_encode(q, value, strlen(value), false);
	}
}

#define HASH_CHUNK (1u << 20)
#define MIB        (1ull << 20)

void objhttp_target_release(objhttp_target *t)
{
	if (!t)
		return;
	free(t->host);
	free(t->path);
	free(t->url);
	memset(t, 0, sizeof(*t));
}

void objhttp_error_release(objhttp_error *e)
{
	if (!e)
		return;
	free(e->code);
	free(e->message);
	memset(e, 0, sizeof(*e));
}

void objhttp_call_header(objhttp_call *c, const char *name, const char *value)
{
	if (c->nextra >= OBJHTTP_MAX_EXTRA_HEADERS)
		die("objhttp: too many headers");
	c->extra[c->nextra].name = name;
	c->extra[c->nextra].value = value;
	c->nextra++;
}

void objhttp_call_release(objhttp_call *c)
{
	http_response_release(&c->resp);
	free(c->message);
	c->message = NULL;
}

void objhttp_init(objhttp *h, store *st, const objhttp_ops *ops, void *ud,
		  const char *endpoint_host, const char *ca_bundle, long stall_timeout_s,
		  const objhttp_transfer *xfer)
{
	http_options opt = { 0 };

	memset(h, 0, sizeof(*h));
	h->st = st;
	h->ops = ops;
	h->ud = ud;
	h->endpoint_host = endpoint_host;
	h->ca_bundle = ca_bundle;
	h->stall_timeout_s = stall_timeout_s;
	opt.ca_bundle = ca_bundle;
	opt.stall_timeout_s = stall_timeout_s;
	opt.user_agent = "evshare/" EVSHARE_VERSION;
	h->http = http_client_new(&opt);
	h->xfer = *xfer;
	h->retry.max_attempts = xfer->attempts;
}

void objhttp_release(objhttp *h)
{
	if (!h)
		return;
	http_client_free(h->http);
	h->http = NULL;
	for (size_t k = 0; k < h->nmore; k++)
		objhttp_release(&h->more[k]);
	free(h->more);
	h->more = NULL;
	h->nmore = 0;
}

/* --- items on several connections -------------------------------------- */

struct each {
	size_t n;
	objhttp_item_fn send;
	void *ud;
	atomic_size_t next;
	atomic_bool failed;
};

struct sender {
	struct each *e;
	objhttp *c;
	pthread_t thread;
	size_t failed_item;          /* e->n when none */
	es_result r;
	char *message;
};

static void send_items(struct sender *w)
{
	struct each *e = w->e;

	w->failed_item = e->n;
	w->r = ES_OK;
	while (!atomic_load(&e->failed)) {
		size_t i = atomic_fetch_add(&e->next, 1);

		if (i >= e->n)
			break;
		if ((w->r = e->send(w->c, i, e->ud, &w->message)) != ES_OK) {
			w->failed_item = i;
			atomic_store(&e->failed, true);
			break;
		}
	}
}

static void *sender_main(void *arg)
{
	send_items(arg);
	return NULL;
}

es_result objhttp_each(objhttp *h, unsigned streams, size_t n, objhttp_item_fn send,
		       void *ud, const char *url)
{
	struct each e = { n, send, ud, 0, false };
	struct sender *w;
	size_t nw = streams < 1 ? 1 : streams < n ? streams : n, started = 1;
	const struct sender *first = NULL;
	es_result r = ES_OK;

	if (!n)
		return ES_OK;
	if (nw - 1 > h->nmore) {
		h->more = xrealloc(h->more, (nw - 1) * sizeof(*h->more));
		for (size_t k = h->nmore; k < nw - 1; k++)
			objhttp_init(&h->more[k], h->st, h->ops, h->ud, h->endpoint_host,
				     h->ca_bundle, h->stall_timeout_s, &h->xfer);
		h->nmore = nw - 1;
	}
	w = xcalloc(nw, sizeof(*w));
	for (size_t k = 0; k < nw; k++) {
		w[k].e = &e;
		w[k].c = k ? &h->more[k - 1] : h;
	}
	for (size_t k = 1; k < nw; k++) {
		if (pthread_create(&w[k].thread, NULL, sender_main, &w[k]) != 0)
			break;
		started++;
	}
	send_items(&w[0]);
	for (size_t k = 1; k < started; k++)
		pthread_join(w[k].thread, NULL);
	for (size_t k = 0; k < started; k++)
		if (w[k].r != ES_OK && (!first || w[k].failed_item < first->failed_item))
			first = &w[k];
	if (first)
		r = store_fail(h->st, first->r, url, "%s",
			       first->message ? first->message : "failed");
	for (size_t k = 0; k < started; k++)
		free(w[k].message);
	free(w);
	return r;
}

/* --- a streaming GET --------------------------------------------------- */

/* Learn where this attempt's body starts and how long the object is. */
static bool stream_begin(objhttp_stream *g)
{
	const http_response *r = g->resp;
	const char *cl = http_response_header(r, "Content-Length");
	uint64_t v;

	g->started = true;
	if (r->status == 206) {
		uint64_t start, total;

		if (!http_parse_content_range(http_response_header(r, "Content-Range"),
					      &start, &total)) {
			snprintf(g->bad, sizeof(g->bad), "a 206 reply without a valid Content-Range");
			return false;
		}
		if (start > g->delivered) {
			snprintf(g->bad, sizeof(g->bad), "the resumed reply starts at byte %" PRIu64
				 ", not %" PRIu64, start, g->delivered);
			return false;
		}
		g->pos = start;
		if (total != UINT64_MAX)
			g->total = total;
	} else {
		g->pos = 0;   /* a whole reply: skip what was delivered already */
		if (cl && parse_u64(cl, &v))
			g->total = v;
	}
	if (g->total != UINT64_MAX && g->total > g->limit) {
		snprintf(g->bad, sizeof(g->bad), "the reply announces %" PRIu64 " bytes, more than "
			 "the listed size (%" PRIu64 " bytes); the object changed since it was "
			 "listed, or the server is broken", g->total, g->limit);
		return false;
	}
	return true;
}

static int stream_body(void *ud, const char *p, size_t n)
{
	objhttp_stream *g = ud;

	if (!g->started && !stream_begin(g))
		return 1;
	if (g->pos < g->delivered) {
		uint64_t skip = g->delivered - g->pos;

		if (skip > n)
			skip = n;
		p += skip;
		n -= (size_t)skip;
		g->pos += skip;
	}
	if (!n)
		return 0;
	if (n > g->limit - g->pos) {
		/* nothing past the listed size reaches the reader, or the disk */
		snprintf(g->bad, sizeof(g->bad), "the body went past the listed size (%" PRIu64
			 " bytes); the object changed since it was listed, or the server is "
			 "broken", g->limit);
		return 1;
	}
	if (g->fn(g->ud, p, n)) {
		g->stopped = true;
		return 1;
	}
	g->pos += n;
	g->delivered += n;
	return 0;
}

/* --- one request, with retries ----------------------------------------- */

static void trace_attempt(const objhttp_call *c, const objhttp_target *t, unsigned attempt,
			  const char *code)
{
	const http_response *r = &c->resp;

	if (!log_enabled(LOG_TRACE))
		return;
	if (r->error == HTTP_OK)
		log_msg(LOG_TRACE, c->url, "%s %s -> %ld%s%s (attempt %u, sent %" PRIu64
			" B, received %" PRIu64 " B, %.3f s)", c->method, t->url, r->status,
			code ? " " : "", code ? code : "", attempt,
			r->sent_bytes, r->body_bytes, r->seconds);
	else
		log_msg(LOG_TRACE, c->url, "%s %s -> %s: %s (attempt %u, sent %" PRIu64
			" B, received %" PRIu64 " B, %.3f s)", c->method, t->url,
			http_error_name(r->error), r->message, attempt,
			r->sent_bytes, r->body_bytes, r->seconds);
}

/* The failure message m of c, result res: logged, or kept when c is quiet. */
static es_result call_report(objhttp *h, objhttp_call *c, es_result res, buf *m)
{
	if (c->quiet) {
		free(c->message);
		c->message = buf_detach(m, NULL);
	} else {
		store_fail(h->st, res, c->url, "%s", m->data);
		buf_release(m);
	}
	return res;
}

/* The object deadline of h's requests, in ms. */
static int64_t object_timeout_ms(const objhttp *h)
{
	return h->st->loc.object_timeout_ms > 0 ? h->st->loc.object_timeout_ms
						: LOCATION_DEFAULT_OBJECT_TIMEOUT_MS;
}

/* Why a deadline ended c: after "cannot VERB 'URL': ". */
static void add_deadline(buf *m, const objhttp *h, bool run)
{
	int64_t ms = object_timeout_ms(h);

	if (run)
		buf_addstr(m, "run deadline reached (run_timeout): the run may not go on");
	else if (ms % 1000)
		buf_printf(m, "object deadline reached: more than %" PRId64 " ms for one "
			   "request with its retries (object_timeout)", ms);
	else
		buf_printf(m, "object deadline reached: more than %" PRId64 " s for one "
			   "request with its retries (object_timeout)", ms / 1000);
}

/* c reached a deadline before attempt `attempts` + 1 could be sent (why:
 * the last attempt's failure, "" when none). */
static es_result deadline_fail(objhttp *h, objhttp_call *c, bool run, unsigned attempts,
			       const char *why)
{
	buf m = BUF_INIT;

	buf_printf(&m, "cannot %s '%s': ", c->verb, c->url);
	add_deadline(&m, h, run);
	if (*why)
		buf_printf(&m, "; the last of %u attempts: %s", attempts, why);
	return call_report(h, c, ES_ERR_TEMP, &m);
}

static es_result call_fail(objhttp *h, objhttp_call *c, const objhttp_error *e,
			   bool exhausted, unsigned attempts)
{
	const http_response *r = &c->resp;
	buf m = BUF_INIT;
	es_result res;

	buf_printf(&m, "cannot %s '%s': ", c->verb, c->url);
	if (r->error == HTTP_E_DEADLINE) {
		res = ES_ERR_TEMP;
		add_deadline(&m, h, r->run_deadline);
		buf_printf(&m, " (attempt %u)", attempts);
		return call_report(h, c, res, &m);
	}
	if (c->get && c->get->bad[0]) {
		res = ES_ERR_REMOTE;
		buf_addstr(&m, c->get->bad);
	} else if (r->error != HTTP_OK) {
		res = exhausted ? ES_ERR_TEMP : r->error == HTTP_E_LOCAL ? ES_ERR_IO : ES_ERR_REMOTE;
		buf_printf(&m, "%s (%s)", http_error_name(r->error), r->message);
		if (r->error == HTTP_E_TLS)
			buf_printf(&m, "; the TLS peer '%s' is not trusted or TLS failed "
				   "(%s names a CA file)", h->endpoint_host, h->ops->ca_bundle_env);
	} else {
		res = h->ops->status_failure(h->ud, c, e, exhausted, &m);
	}
	if (exhausted)
		buf_printf(&m, "; gave up after %u attempts", attempts);
	return call_report(h, c, res, &m);
}

bool objhttp_code_in(const char *code, const char *const *list)
{
	for (size_t i = 0; code && list[i]; i++)
		if (!strcmp(code, list[i]))
			return true;
	return false;
}

void objhttp_add_status(buf *m, long status, const char *code, const char *message)
{
	int mlen = message ? (int)strlen(message) : 0;

	while (mlen > 0 && (message[mlen - 1] == '.' || message[mlen - 1] == ' '))
		mlen--;
	buf_printf(m, "%ld %s%s%.*s", status, code, mlen ? ": " : "", mlen,
		   mlen ? message : "");
}

es_result objhttp_run(objhttp *h, objhttp_call *c)
{
	const objhttp_ops *ops = h->ops;
	objhttp_target t = { 0 };
	unsigned failures = 0, attempts = 0;
	es_result res = ES_ERR_INTERNAL;
	int64_t object_deadline = http_retry_now(&h->retry) + object_timeout_ms(h);
	char why[320] = "";     /* the last failed attempt's, for a deadline */

	ops->target(h->ud, c, &t);
	for (;;) {
		http_request req = { c->method, NULL, NULL, 0, c->body,
				     c->get ? stream_body : NULL, c->get,
				     c->body_cap ? c->body_cap : ops->reply_cap, 0 };
		objhttp_error e = { 0 };
		char range[48];
		uint64_t before = c->get ? c->get->delivered : 0;
		int64_t now = http_retry_now(&h->retry), run = http_deadline();
		bool run_first = run > 0 && run <= object_deadline;
		http_verdict v;

		if (c->get && c->get->total != UINT64_MAX && c->get->delivered == c->get->total) {
			res = ES_OK;    /* everything arrived before the connection broke */
			break;
		}
		if (now >= (run_first ? run : object_deadline)) {
			res = deadline_fail(h, c, run_first, attempts, why);
			break;
		}
		attempts++;
		req.timeout_ms = object_deadline - now;   /* http.c adds the run's */
		if (c->get && c->get->delivered)
			snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", c->get->delivered);
		http_response_release(&c->resp);
		if (c->get) {
			c->get->started = false;
			c->get->resp = &c->resp;
		}
		if (ops->send(h->ud, h->http, c, &t, c->get && c->get->delivered ? range : NULL,
			      &req, &c->resp) != ES_OK) {
			buf m = BUF_INIT;

			buf_printf(&m, "cannot %s '%s': the request could not be signed", c->verb,
				   c->url);
			res = call_report(h, c, ES_ERR_INTERNAL, &m);
			break;
		}
		if (c->resp.error != HTTP_OK && c->resp.error != HTTP_E_ABORTED)
			c->had_transport_error = true;
		if (c->resp.error == HTTP_OK && (c->resp.status >= 300 || c->error_in_2xx))
			ops->reply_error(&c->resp, &e);
		v = http_classify(c->resp.error, c->resp.status, e.code);
		trace_attempt(c, &t, attempts, e.code);
		if (c->get && c->resp.error == HTTP_OK && v == HTTP_VERDICT_DONE) {
			if (!c->get->started && !stream_begin(c->get))
				v = HTTP_VERDICT_FAIL;
			else if (c->get->total != UINT64_MAX && c->get->delivered != c->get->total)
				v = HTTP_VERDICT_RETRY;   /* shorter than announced */
		}
		if (v == HTTP_VERDICT_DONE) {
			objhttp_error_release(&e);
			res = ES_OK;
			break;
		}
		if (c->get && (c->get->stopped || c->get->bad[0])) {
			res = c->get->stopped ? ES_ERR_DATA : call_fail(h, c, &e, false, attempts);
			objhttp_error_release(&e);
			break;
		}
		if (c->get && c->get->delivered > before)
			failures = 0;     /* progress: a resume is not a failed attempt */
		failures++;
		if (v == HTTP_VERDICT_RETRY && failures < h->retry.max_attempts &&
		    attempts < OBJHTTP_MAX_RESUMES) {
			unsigned ms = http_backoff_ms(&h->retry, failures);
			int64_t left = (run_first ? run : object_deadline) - http_retry_now(&h->retry);

			if ((int64_t)ms > left)
				ms = left > 0 ? (unsigned)left : 0;   /* never past a deadline */
			if (c->resp.error != HTTP_OK)
				snprintf(why, sizeof(why), "%s (%s)", http_error_name(c->resp.error),
					 c->resp.message);
			else
				snprintf(why, sizeof(why), "%ld %s", c->resp.status,
					 e.code ? e.code : ops->no_code);
			log_msg(LOG_DEBUG, c->url, "%s '%s': %s; retrying in %u ms (attempt %u of %u)",
				c->method, c->url, why, ms, failures + 1, h->retry.max_attempts);
			http_sleep(&h->retry, ms);
			objhttp_error_release(&e);
			continue;
		}
		res = call_fail(h, c, &e, v == HTTP_VERDICT_RETRY, attempts);
		objhttp_error_release(&e);
		break;
	}
	objhttp_target_release(&t);
	return res;
}

/* --- list, get and put ------------------------------------------------- */

void objhttp_list_add(store_list *out, const char *prefix, const char *key, uint64_t size,
		      int64_t mtime_ms, const char *etag)
{
	size_t klen = strlen(key);

	if (strncmp(key, prefix, strlen(prefix)))
		return;    /* not under the prefix: never asked for */
	if (klen && key[klen - 1] == '/' && size == 0)
		return;    /* a "folder" marker */
	store_list_add(out, key, size, mtime_ms, etag);
}

es_result objhttp_list(objhttp *h, const objhttp_lister *l, store_list *out)
{
	store *st = h->st;
	const char *prefix = st->loc.prefix;
	uint64_t max_keys = st->loc.max_list_keys ? st->loc.max_list_keys
						  : LOCATION_DEFAULT_MAX_LIST_KEYS;
	uint64_t max_pages = st->loc.max_list_pages ? st->loc.max_list_pages
						    : LOCATION_DEFAULT_MAX_LIST_PAGES;
	size_t base = out->count;
	char *marker = NULL;
	uint64_t pages = 0;
	es_result r = ES_OK;

	for (;;) {
		objhttp_call c = { 0 };
		buf q = BUF_INIT;
		char *next = NULL, *err = NULL;

		l->query(&q, prefix, marker);
		c.method = "GET";
		c.query = q.data;
		c.body_cap = l->reply_cap;
		c.verb = "list";
		c.url = st->loc.url;
		r = objhttp_run(h, &c);
		if (r == ES_OK && l->parse(c.resp.body.data ? c.resp.body.data : "", c.resp.body.len,
					   prefix, out, &next, &err) != ES_OK) {
			r = store_fail(st, ES_ERR_REMOTE, st->loc.url,
				       "cannot list '%s': invalid reply: %s", st->loc.url, err);
			free(err);
		}
		objhttp_call_release(&c);
		buf_release(&q);
		if (r != ES_OK)
			break;
		pages++;
		if (out->count - base > max_keys) {
			r = store_fail(st, ES_ERR_REMOTE, st->loc.url, "'%s': the listing passed %"
				       PRIu64 " objects (max_list_keys); raise max_list_keys or narrow "
				       "the prefix", st->loc.url, max_keys);
			free(next);
			break;
		}
		if (next && pages >= max_pages) {
			r = store_fail(st, ES_ERR_REMOTE, st->loc.url, "'%s': the listing passed %"
				       PRIu64 " pages (max_list_pages); raise max_list_pages or "
				       "narrow the prefix", st->loc.url, max_pages);
			free(next);
			break;
		}
		if (next && marker && !strcmp(marker, next)) {
			r = store_fail(st, ES_ERR_REMOTE, st->loc.url, "cannot list '%s': the "
				       "server sent the same %s twice", st->loc.url, l->marker_name);
			free(next);
			break;
		}
		free(marker);
		marker = next;
		if (!marker)
			break;
	}
	free(marker);
	if (r == ES_OK)
		log_msg(LOG_DEBUG, st->loc.url, "listed '%s': %zu objects in %" PRIu64 " page(s)",
			st->loc.url, out->count - base, pages);
	return r;
}

es_result objhttp_get(objhttp *h, const store_object *obj, store_write_fn fn, void *ud)
{
	objhttp_stream g = { fn, ud, NULL, 0, 0, UINT64_MAX, obj->size, false, false, "" };
	objhttp_call c = { 0 };
	char *url = store_url(h->st, obj->key);
	char *if_match = NULL;
	es_result r;

	c.method = "GET";
	c.key = obj->key;
	c.get = &g;
	c.verb = "read";
	c.url = url;
	if (obj->etag && *obj->etag) {
		if_match = xasprintf("\"%s\"", obj->etag);
		objhttp_call_header(&c, "If-Match", if_match);
	}
	r = objhttp_run(h, &c);
	objhttp_call_release(&c);
	free(if_match);
	free(url);
	return r;
}

int objhttp_open_file(store *st, const char *url, const char *local_path, uint64_t *size)
{
	struct stat sb;
	int fd = open(local_path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0 && fstat(fd, &sb) < 0) {
		int e = errno;

		close(fd);
		fd = -1;
		errno = e;
	}
	if (fd < 0) {
		store_fail(st, ES_ERR_IO, url, "cannot read '%s': %s", local_path, strerror(errno));
		return -1;
	}
	if (size)
		*size = (uint64_t)sb.st_size;
	return fd;
}

uint64_t objhttp_part_size_for(uint64_t size, uint64_t part_size, uint64_t max_parts)
{
	uint64_t need;

	if (part_size && size / part_size < max_parts)
		return part_size;
	if (part_size && size / part_size == max_parts && size % part_size == 0)
		return part_size;
	need = (size + max_parts - 1) / max_parts;
	need = (need + MIB - 1) / MIB * MIB;
	return need > part_size ? need : part_size;
}

size_t objhttp_parts_due(uint64_t ready, uint64_t part_size, size_t sent, size_t max_parts,
			 bool begun, uint64_t threshold)
{
	uint64_t whole = part_size ? ready / part_size : 0;

	if (whole <= sent || whole > max_parts || (!begun && ready < threshold))
		return 0;
	return (size_t)whole;
}

/* --- uploads ----------------------------------------------------------- */

/* A random number for the ids an upload makes up (getentropy, else the
 * clock and the pid: the ids need only differ from another upload's). */
static uint32_t upload_nonce(void)
{
	uint32_t n = 0;

	if (getentropy(&n, sizeof(n)) != 0)
		n = (uint32_t)time_now_ms() ^ (uint32_t)getpid() << 16;
	return n;
}

static const objhttp_limits *upload_limits(const objhttp_upload *u)
{
	return u->h->ops->upload->limits;
}

store_upload *objhttp_upload_new(objhttp *h, const char *key, uint64_t max_size)
{
	const objhttp_upload_ops *ops = h->ops->upload;
	objhttp_upload *u = xcalloc(1, sizeof(*u));

	u->h = h;
	u->key = xstrdup(key);
	u->url = store_url(h->st, key);
	u->part_size = objhttp_part_size_for(max_size, h->xfer.part_size, ops->limits->max_parts);
	u->nonce = upload_nonce();
	if (ops->whole_md5 &&
	    (!(u->whole = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(u->whole, EVP_md5(), NULL)))
		die("out of memory");
	return u;
}

static void upload_release(objhttp_upload *u)
{
	for (size_t i = 0; i < u->nsent; i++)
		free(u->tags[i]);
	free(u->tags);
	free(u->md5s);
	EVP_MD_CTX_free(u->whole);
	free(u->id);
	free(u->key);
	free(u->url);
	free(u);
}

void objhttp_upload_free(store *st, store_upload *u)
{
	(void)st;
	if (!u)
		return;
	if (u->open && u->h->ops->upload->abort)
		u->h->ops->upload->abort(u);
	upload_release(u);
}

static es_result upload_begin(objhttp_upload *u)
{
	es_result r = u->h->ops->upload->begin(u);

	if (r == ES_OK)
		u->open = true;
	return r;
}

/* Parts [first, first + n) of one upload, for objhttp_each(). */
struct parts {
	objhttp_upload *u;
	const char *local_path;
	int fd;
	uint64_t size;           /* of the file, or of its part that is ready */
	size_t first;
};

/* Send part p->first + i on connection c, reading it from the file. */
static es_result send_part(objhttp *c, size_t i, void *ud, char **message)
{
	struct parts *p = ud;
	objhttp_upload *u = p->u;
	const objhttp_upload_ops *ops = u->h->ops->upload;
	size_t n = p->first + i;
	uint64_t off = (uint64_t)n * u->part_size;
	http_body body = { NULL, p->fd, off,
			   p->size - off < u->part_size ? p->size - off : u->part_size };
	objhttp_digest d;
	objhttp_call call = { 0 };
	buf q = BUF_INIT;
	es_result r;

	if (objhttp_digest_file(p->fd, body.offset, body.length, ops->body_sha256, NULL, &d) < 0) {
		*message = xasprintf("cannot read '%s': %s", p->local_path, strerror(errno));
		return ES_ERR_IO;
	}
	memcpy(u->md5s + 16 * n, d.md5, 16);
	ops->part_query(u, n, &q);
	call.method = "PUT";
	call.key = u->key;
	call.query = q.data;
	call.body = &body;
	call.payload_hash = ops->body_sha256 ? d.sha256_hex : NULL;
	call.verb = "write";
	call.url = u->url;
	call.quiet = true;      /* objhttp_each tells the failure once */
	objhttp_call_header(&call, "Content-MD5", d.md5_b64);
	if ((r = objhttp_run(c, &call)) != ES_OK) {
		*message = call.message;
		call.message = NULL;
	} else if (ops->part_stored) {
		r = ops->part_stored(u, n, &call.resp, message);
	}
	objhttp_call_release(&call);
	buf_release(&q);
	return r;
}

/* Send parts u->nsent .. upto - 1 of the file (size bytes of it there),
 * after adding their bytes to the whole object's MD5 if it is kept. */
static es_result send_parts(objhttp_upload *u, int fd, const char *local_path, uint64_t size,
			    size_t upto)
{
	const objhttp_limits *lim = upload_limits(u);
	struct parts p = { u, local_path, fd, size, u->nsent };
	uint64_t end;
	es_result r;

	if (upto <= u->nsent)
		return ES_OK;
	if (upto > lim->max_parts)
		return store_fail(u->h->st, ES_ERR_INTERNAL, u->url, "cannot write '%s': %zu %ss "
				  "of %" PRIu64 " bytes are more than %s takes", u->url, upto,
				  lim->part, u->part_size, lim->service);
	if (upto > u->alloc) {
		u->tags = xrealloc(u->tags, upto * sizeof(*u->tags));
		u->md5s = xrealloc(u->md5s, upto * 16);
		u->alloc = upto;
	}
	for (size_t i = u->nsent; i < upto; i++)
		u->tags[i] = NULL;
	end = (uint64_t)upto * u->part_size < size ? (uint64_t)upto * u->part_size : size;
	if (u->whole && end > u->hashed) {
		if (objhttp_digest_file(fd, u->hashed, end - u->hashed, false, u->whole, NULL) < 0)
			return store_fail(u->h->st, ES_ERR_IO, u->url, "cannot read '%s': %s",
					  local_path, strerror(errno));
		u->hashed = end;
	}
	r = objhttp_each(u->h, u->h->xfer.upload_streams, upto - u->nsent, send_part, &p,
			 u->url);
	if (r != ES_OK) {
		/* parts of the batch that were stored are sent again if the
		 * upload goes on (nobody does so today: a failure ends it) */
		for (size_t i = u->nsent; i < upto; i++) {
			free(u->tags[i]);
			u->tags[i] = NULL;
		}
		return r;
	}
	u->nsent = upto;
	return ES_OK;
}

/* Send the parts of the file from u->nsent on and commit them; take the
 * upload back if that fails.  Either way nothing is left to take back. */
static es_result upload_finish(objhttp_upload *u, int fd, const char *local_path, uint64_t size)
{
	const objhttp_upload_ops *ops = u->h->ops->upload;
	size_t nparts = (size_t)((size + u->part_size - 1) / u->part_size);
	es_result r;

	if (size < (uint64_t)u->nsent * u->part_size || size < u->hashed) {
		r = store_fail(u->h->st, ES_ERR_INTERNAL, u->url, "cannot write '%s': '%s' shrank "
			       "to %" PRIu64 " bytes after %ss of it were sent", u->url, local_path,
			       size, ops->limits->part);
	} else if ((r = send_parts(u, fd, local_path, size, nparts)) == ES_OK) {
		if (u->whole) {
			unsigned char md5[16];
			unsigned int len = 0;

			EVP_DigestFinal_ex(u->whole, md5, &len);
			objhttp_md5_base64(md5, u->whole_md5_b64);
		}
		r = ops->commit(u);
	}
	if (r != ES_OK && u->open && ops->abort)
		ops->abort(u);
	u->open = false;
	return r;
}

/* The object of fd in one PUT. */
static es_result put_one(objhttp *h, const char *key, const char *url, int fd, uint64_t size,
			 const char *local_path)
{
	const objhttp_upload_ops *ops = h->ops->upload;
	objhttp_call c = { 0 };
	http_body body = { NULL, fd, 0, size };
	objhttp_digest d;
	es_result r;

	if (objhttp_digest_file(fd, 0, size, ops->body_sha256, NULL, &d) < 0)
		return store_fail(h->st, ES_ERR_IO, url, "cannot read '%s': %s", local_path,
				  strerror(errno));
	c.method = "PUT";
	c.key = key;
	c.body = &body;
	c.payload_hash = ops->body_sha256 ? d.sha256_hex : NULL;
	c.verb = "write";
	c.url = url;
	objhttp_call_header(&c, "Content-MD5", d.md5_b64);
	objhttp_call_header(&c, "Content-Type", "application/octet-stream");
	if (ops->put_header.name)
		objhttp_call_header(&c, ops->put_header.name, ops->put_header.value);
	r = objhttp_run(h, &c);
	objhttp_call_release(&c);
	return r;
}

/* The object of fd in parts, begun, sent and committed at once. */
static es_result put_parts(objhttp *h, const char *url, const char *key, int fd, uint64_t size,
			   const char *local_path)
{
	const objhttp_upload_ops *ops = h->ops->upload;
	objhttp_upload *u = objhttp_upload_new(h, key, size);
	es_result r = ES_OK;

	log_msg(LOG_DEBUG, url, "%s upload of '%s': %" PRIu64 " bytes in %ss of %" PRIu64,
		ops->limits->upload, url, size, ops->limits->part, u->part_size);
	if (ops->begin)
		r = upload_begin(u);
	if (r == ES_OK)
		r = upload_finish(u, fd, local_path, size);
	objhttp_upload_free(h->st, u);
	return r;
}

es_result objhttp_put(objhttp *h, const char *key, const char *local_path)
{
	char *url = store_url(h->st, key);
	uint64_t size;
	int fd = -1;
	es_result r;

	if (!store_key_is_safe(key)) {
		r = store_fail(h->st, ES_ERR_INTERNAL, url, "refusing unsafe key '%s'", url);
		goto done;
	}
	if ((fd = objhttp_open_file(h->st, url, local_path, &size)) < 0) {
		r = ES_ERR_IO;
		goto done;
	}
	if (size >= h->xfer.threshold)
		r = put_parts(h, url, key, fd, size, local_path);
	else
		r = put_one(h, key, url, fd, size, local_path);
done:
	if (fd >= 0)
		close(fd);
	free(url);
	return r;
}

/* Send the whole parts among the first `ready` bytes that are due,
 * beginning the upload first if need be. */
es_result objhttp_upload_send(store *st, store_upload *u, const char *local_path,
			      uint64_t ready)
{
	const objhttp_upload_ops *ops = u->h->ops->upload;
	size_t whole = objhttp_parts_due(ready, u->part_size, u->nsent, ops->limits->max_parts,
					 u->open, u->h->xfer.threshold);
	es_result r;
	int fd;

	(void)st;
	if (!whole || !store_key_is_safe(u->key))
		return ES_OK;            /* an unsafe key: upload_end refuses it */
	if (!u->open && ops->begin && (r = upload_begin(u)) != ES_OK)
		return r;
	if ((fd = objhttp_open_file(u->h->st, u->url, local_path, NULL)) < 0)
		return ES_ERR_IO;
	r = send_parts(u, fd, local_path, ready, whole);
	close(fd);
	if (r == ES_OK)
		u->open = true;          /* begun, whether the protocol begins or not */
	return r;
}

es_result objhttp_upload_end(store *st, store_upload *u, const char *local_path)
{
	const objhttp_upload_ops *ops = u->h->ops->upload;
	uint64_t size;
	es_result r;
	int fd;

	(void)st;
	if (!u->open)
		return objhttp_put(u->h, u->key, local_path);
	if ((fd = objhttp_open_file(u->h->st, u->url, local_path, &size)) < 0) {
		if (ops->abort)
			ops->abort(u);
		u->open = false;
		return ES_ERR_IO;
	}
	r = upload_finish(u, fd, local_path, size);
	close(fd);
	return r;
}

/* --- the store of an HTTP backend ------------------------------------- */

static objhttp *store_http(store *st)
{
	return &((objhttp_store *)st)->oh;
}

static es_result store_http_list(store *st, store_list *out)
{
	objhttp *h = store_http(st);

	return objhttp_list(h, h->ops->lister, out);
}

static es_result store_http_get(store *st, const store_object *obj, store_write_fn fn,
				void *ud)
{
	return objhttp_get(store_http(st), obj, fn, ud);
}

static es_result store_http_put(store *st, const char *key, const char *local_path)
{
	return objhttp_put(store_http(st), key, local_path);
}

static store_upload *store_http_upload_new(store *st, const char *key, uint64_t max_size)
{
	return objhttp_upload_new(store_http(st), key, max_size);
}

static void store_http_free(store *st)
{
	objhttp_store *s = (objhttp_store *)st;

	if (!s)
		return;
	if (s->oh.ops->release)
		s->oh.ops->release(s);
	objhttp_release(&s->oh);
	location_release(&st->loc);
	free(s);
}

const struct store_ops objhttp_store_ops = {
	.list = store_http_list,
	.get = store_http_get,
	.put = store_http_put,
	.upload_new = store_http_upload_new,
	.upload_send = objhttp_upload_send,
	.upload_end = objhttp_upload_end,
	.upload_free = objhttp_upload_free,
	.free = store_http_free,
};

void *objhttp_store_new(size_t size, const objhttp_ops *ops, const location *loc)
{
	objhttp_store *s = xcalloc(1, size);

	s->base.ops = &objhttp_store_ops;
	location_copy(&s->base.loc, loc);
	s->oh.ops = ops;
	return s;
}

/* --- digests ----------------------------------------------------------- */

void objhttp_md5_base64(const unsigned char md5[16], char out[OBJHTTP_MD5_B64_LEN])
{
	buf b = BUF_INIT;

	buf_add_base64(&b, md5, 16);
	snprintf(out, OBJHTTP_MD5_B64_LEN, "%s", b.data);
	buf_release(&b);
}

void objhttp_digest_mem(const void *p, size_t n, bool sha256, objhttp_digest *d)
{
	unsigned char sum[32];
	unsigned int len = 0;

	EVP_Digest(p, n, d->md5, &len, EVP_md5(), NULL);
	objhttp_md5_base64(d->md5, d->md5_b64);
	d->sha256_hex[0] = '\0';
	if (sha256) {
		EVP_Digest(p, n, sum, &len, EVP_sha256(), NULL);
		hex_encode(sum, 32, d->sha256_hex);
	}
}

int objhttp_digest_file(int fd, uint64_t offset, uint64_t length, bool sha256,
			EVP_MD_CTX *also, objhttp_digest *d)
{
	EVP_MD_CTX *md5 = d ? EVP_MD_CTX_new() : NULL;
	EVP_MD_CTX *sha = d && sha256 ? EVP_MD_CTX_new() : NULL;
	unsigned char *chunk = xmalloc(HASH_CHUNK), sum[32];
	unsigned int len = 0;
	int rc = -1;

	if ((d && !md5) || (d && sha256 && !sha))
		die("out of memory");
	if (md5)
		EVP_DigestInit_ex(md5, EVP_md5(), NULL);
	if (sha)
		EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
	while (length) {
		size_t want = length < HASH_CHUNK ? (size_t)length : HASH_CHUNK;
		ssize_t got = pread(fd, chunk, want, (off_t)offset);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0)
				errno = EIO;   /* the file shrank */
			goto done;
		}
		if (md5)
			EVP_DigestUpdate(md5, chunk, (size_t)got);
		if (sha)
			EVP_DigestUpdate(sha, chunk, (size_t)got);
		if (also)
			EVP_DigestUpdate(also, chunk, (size_t)got);
		offset += (uint64_t)got;
		length -= (uint64_t)got;
	}
	rc = 0;
	if (!d)
		goto done;
	EVP_DigestFinal_ex(md5, d->md5, &len);
	objhttp_md5_base64(d->md5, d->md5_b64);
	d->sha256_hex[0] = '\0';
	if (sha) {
		EVP_DigestFinal_ex(sha, sum, &len);
		hex_encode(sum, 32, d->sha256_hex);
	}
done:
	EVP_MD_CTX_free(md5);
	EVP_MD_CTX_free(sha);
	free(chunk);
	return rc;
}
