/*
 * store_az.c - az:// locations: the object-store interface over the Azure
 * Blob Storage REST API.  See store_az.h for the settings, the requests and
 * the error mapping; store.h for what every backend guarantees.
 *
 * Every request goes through az_call(): build the target, sign the attempt
 * (a new x-ms-date each time) or append the SAS token, send it, classify
 * the outcome, and either return, wait and try again, or log the failure
 * once and return its result.  A streaming GET keeps its position across
 * attempts and resumes with a Range request, so each byte reaches the
 * caller once.  The same shape as store_s3.c.
 */
#include "store_az.h"
#include "azsign.h"
#include "azxml.h"
#include "http.h"
#include "log.h"
#include "sigv4.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_CHUNK        (1u << 20)
#define MAX_EXTRA_HEADERS 8
#define MIB               (1ull << 20)
#define MAX_REPLY_BYTES   (1u << 20)

typedef struct az_store {
	store base;
	az_settings set;
	az_credentials cred;         /* wiped when the store is freed */
	http_client *http;
	http_retry retry;
} az_store;

/* --- settings ---------------------------------------------------------- */

bool az_account_name_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > 24)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

bool az_container_name_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (!strcmp(s, "$root"))
		return true;
	if (n < 3 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '-') {
			if (s[i + 1] == '-')
				return false;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			return false;
		}
	}
	return true;
}

void az_settings_release(az_settings *s)
{
	if (!s)
		return;
	s3_endpoint_release(&s->endpoint);
	free(s->ca_bundle);
	memset(s, 0, sizeof(*s));
}

es_result az_settings_resolve(const location *loc, const char *cred_endpoint,
			      const creds_env *env, az_settings *out, buf *err)
{
	const char *endpoint = loc->endpoint ? loc->endpoint : cred_endpoint, *v;
	char *dflt = NULL;
	es_result r = ES_ERR_CONFIG;

	memset(out, 0, sizeof(*out));
	if (!env)
		env = creds_process_env();
	if (!loc->account || !az_account_name_is_valid(loc->account)) {
		buf_printf(err, "account '%s' is not a storage account name (3 to 24 lowercase "
			   "letters and digits)", loc->account ? loc->account : "");
		goto fail;
	}
	if (!loc->bucket || !az_container_name_is_valid(loc->bucket)) {
		buf_printf(err, "container '%s' is not a container name (3 to 63 lowercase "
			   "letters, digits and single hyphens, starting and ending with a "
			   "letter or digit)", loc->bucket ? loc->bucket : "");
		goto fail;
	}
	out->default_endpoint = !endpoint;
	if (!endpoint)
		endpoint = dflt = xasprintf("https://%s" AZ_DEFAULT_HOST_SUFFIX, loc->account);
	if ((r = s3_endpoint_parse(endpoint, &out->endpoint, err)) != ES_OK)
		goto fail;
	r = ES_ERR_CONFIG;
	out->block_size = loc->part_size ? loc->part_size : AZ_DEFAULT_BLOCK_SIZE;
	if (out->block_size > AZ_MAX_BLOCK_SIZE) {
		buf_printf(err, "part_size %" PRIu64 " is over Azure's block size limit of "
			   "4000 MiB", out->block_size);
		goto fail;
	}
	out->threshold = loc->multipart_threshold ? loc->multipart_threshold : out->block_size;
	if (out->threshold > AZ_MAX_PUT_BLOB)
		out->threshold = AZ_MAX_PUT_BLOB;
	out->attempts = loc->retries ? loc->retries : AZ_DEFAULT_ATTEMPTS;
	out->stall_timeout_s = 30;
	v = env->get(env->ud, S3_STALL_ENV);
	if (v && *v) {
		uint64_t t;

		if (!parse_u64(v, &t) || t < 1 || t > 3600) {
			buf_printf(err, "%s '%s': expected whole seconds from 1 to 3600",
				   S3_STALL_ENV, v);
			goto fail;
		}
		out->stall_timeout_s = (long)t;
	}
	v = env->get(env->ud, "REQUESTS_CA_BUNDLE");
	out->ca_bundle = v && *v ? xstrdup(v) : NULL;
	free(dflt);
	return ES_OK;
fail:
	free(dflt);
	az_settings_release(out);
	return r;
}

/* --- targets and small pure parts -------------------------------------- */

void az_target_build(const az_settings *s, const char *container, const char *key,
		     const char *query, az_target *out)
{
	buf path = BUF_INIT;

	out->host = xstrdup(s->endpoint.host);
	buf_printf(&path, "%s/%s", s->endpoint.base_path, container);
	if (key) {
		buf_addch(&path, '/');
		sigv4_uri_encode(&path, key, strlen(key), true);
	}
	out->path = buf_detach(&path, NULL);
	out->url = xasprintf("%s://%s%s%s%s", s->endpoint.scheme, out->host, out->path,
			     query && *query ? "?" : "", query && *query ? query : "");
}

void az_target_release(az_target *t)
{
	if (!t)
		return;
	free(t->host);
	free(t->path);
	free(t->url);
	memset(t, 0, sizeof(*t));
}

uint64_t az_block_size_for(uint64_t size, uint64_t block_size)
{
	uint64_t need;

	if (block_size && size / block_size < AZ_MAX_BLOCKS)
		return block_size;
	if (block_size && size / block_size == AZ_MAX_BLOCKS && size % block_size == 0)
		return block_size;
	need = (size + AZ_MAX_BLOCKS - 1) / AZ_MAX_BLOCKS;
	need = (need + MIB - 1) / MIB * MIB;
	return need > block_size ? need : block_size;
}

void az_block_id(uint32_t nonce, size_t index, char out[AZ_BLOCK_ID_LEN])
{
	char raw[AZ_BLOCK_ID_RAW_LEN + 1];
	buf b = BUF_INIT;

	snprintf(raw, sizeof(raw), "evshare-%08" PRIx32 "-%07zu", nonce, index % 10000000);
	buf_add_base64(&b, raw, AZ_BLOCK_ID_RAW_LEN);
	snprintf(out, AZ_BLOCK_ID_LEN, "%s", b.data);
	buf_release(&b);
}

static bool code_in(const char *code, const char *const *list)
{
	for (size_t i = 0; code && list[i]; i++)
		if (!strcmp(code, list[i]))
			return true;
	return false;
}

static const char *const auth_codes[] = {
	"AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch",
	"AuthorizationResourceTypeMismatch", "AuthorizationServiceMismatch",
	"AuthorizationProtocolMismatch", "AuthorizationSourceIPMismatch",
	"InsufficientAccountPermissions", "InvalidAuthenticationInfo", "AccountIsDisabled",
	"KeyVaultEncryptionKeyNotFound", NULL
};

es_result az_error_result(long status, const char *code, bool exhausted)
{
	if (exhausted)
		return ES_ERR_TEMP;
	if (code_in(code, auth_codes) || status == 401 || status == 403)
		return ES_ERR_AUTH;
	if (status >= 300 && status < 400)
		return ES_ERR_CONFIG;
	return ES_ERR_REMOTE;
}

/* --- one request, with retries ----------------------------------------- */

/* A streaming GET's position, kept across attempts. */
struct get_state {
	store_write_fn fn;
	void *ud;
	const http_response *resp;   /* the current attempt's */
	uint64_t delivered;          /* bytes given to fn */
	uint64_t pos;                /* object offset of the next body byte */
	uint64_t total;              /* object size once known; UINT64_MAX before */
	bool started;                /* this attempt's reply was looked at */
	bool stopped;                /* fn asked to stop */
	char bad[200];               /* a reply that cannot be resumed from */
};

struct az_call {
	const char *method;
	const char *key;             /* NULL: the container */
	const char *query;           /* encoded, without the SAS; NULL: none */
	azsign_header extra[MAX_EXTRA_HEADERS];
	size_t nextra;
	const http_body *body;
	size_t body_cap;             /* collected 2xx bodies; 0: MAX_REPLY_BYTES */
	struct get_state *get;
	/* for messages */
	const char *verb;            /* "cannot VERB 'URL'" */
	const char *url;             /* the az:// URL */
	/* results */
	http_response resp;          /* the last attempt's reply */
};

static void call_header(struct az_call *c, const char *name, const char *value)
{
	if (c->nextra >= MAX_EXTRA_HEADERS)
		die("az: too many headers");
	c->extra[c->nextra].name = name;
	c->extra[c->nextra].value = value;
	c->nextra++;
}

static void call_release(struct az_call *c)
{
	http_response_release(&c->resp);
}

/* Learn where this attempt's body starts and how long the object is. */
static bool get_begin(struct get_state *g)
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
		return true;
	}
	g->pos = 0;   /* a whole reply: skip what was delivered already */
	if (cl && parse_u64(cl, &v))
		g->total = v;
	return true;
}

static int get_on_body(void *ud, const char *p, size_t n)
{
	struct get_state *g = ud;

	if (!g->started && !get_begin(g))
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
	if (g->fn(g->ud, p, n)) {
		g->stopped = true;
		return 1;
	}
	g->pos += n;
	g->delivered += n;
	return 0;
}

static void trace_attempt(const struct az_call *c, const az_target *t, unsigned attempt,
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

/* Azure's error code: the x-ms-error-code header, else the <Error> body. */
static void reply_error(const http_response *r, az_error_info *e)
{
	const char *h = http_response_header(r, "x-ms-error-code");

	memset(e, 0, sizeof(*e));
	if (r->body.data && r->body.len)
		azxml_parse_error(r->body.data, r->body.len, e);
	if (h && *h && (!e->code || strcmp(e->code, h))) {
		free(e->code);
		e->code = xstrndup(h, strlen(h) < 100 ? strlen(h) : 100);
	}
}

static es_result call_fail(az_store *s, struct az_call *c, const az_error_info *e,
			   bool exhausted, unsigned attempts)
{
	const http_response *r = &c->resp;
	buf m = BUF_INIT;
	es_result res;

	buf_printf(&m, "cannot %s '%s': ", c->verb, c->url);
	if (c->get && c->get->bad[0]) {
		res = ES_ERR_REMOTE;
		buf_addstr(&m, c->get->bad);
	} else if (r->error != HTTP_OK) {
		res = exhausted ? ES_ERR_TEMP : r->error == HTTP_E_LOCAL ? ES_ERR_IO : ES_ERR_REMOTE;
		buf_printf(&m, "%s (%s)", http_error_name(r->error), r->message);
		if (r->error == HTTP_E_TLS)
			buf_printf(&m, "; the TLS peer '%s' is not trusted or TLS failed "
				   "(REQUESTS_CA_BUNDLE names a CA file)", s->set.endpoint.host);
	} else {
		const char *code = e->code;

		res = az_error_result(r->status, code, exhausted);
		if (r->status == 412)
			buf_printf(&m, "the object changed since it was listed (412 %s)",
				   code ? code : "ConditionNotMet");
		else if (code && !strcmp(code, "ContainerNotFound"))
			buf_printf(&m, "container '%s' does not exist in account '%s' "
				   "(404 ContainerNotFound)", s->base.loc.bucket,
				   s->base.loc.account);
		else {
			/* Azure's message is a sentence: drop its full stop */
			int mlen = e->message ? (int)strlen(e->message) : 0;

			while (mlen > 0 && (e->message[mlen - 1] == '.' || e->message[mlen - 1] == ' '))
				mlen--;
			buf_printf(&m, "%ld %s%s%.*s", r->status,
				   code ? code : "(no Azure error code)", mlen ? ": " : "", mlen,
				   mlen ? e->message : "");
		}
		if (res == ES_ERR_AUTH)
			buf_printf(&m, " (%s from %s)", s->cred.key ? "Shared Key" : "SAS token",
				   s->cred.source);
	}
	if (exhausted)
		buf_printf(&m, "; gave up after %u attempts", attempts);
	store_fail(&s->base, res, c->url, "%s", m.data);
	buf_release(&m);
	return res;
}

static es_result az_call(az_store *s, struct az_call *c)
{
	az_target t;
	unsigned failures = 0, attempts = 0;
	es_result res = ES_ERR_INTERNAL;
	char *sas_url = NULL;

	az_target_build(&s->set, s->base.loc.bucket, c->key, c->query, &t);
	if (s->cred.sas)
		sas_url = xasprintf("%s%s%s", t.url, c->query && *c->query ? "&" : "?",
				    s->cred.sas);
	for (;;) {
		azsign_header sh[MAX_EXTRA_HEADERS + 3];
		http_header hh[MAX_EXTRA_HEADERS + 3 + 2];
		azsign_result sig = { 0 };
		azsign_request sreq;
		http_request req;
		az_error_info einfo = { 0 };
		char range[48], date[AZSIGN_DATE_LEN];
		size_t ns = 0, nh = 0;
		uint64_t before = c->get ? c->get->delivered : 0;
		http_verdict v;
		const char *code = NULL;

		attempts++;
		if (c->get && c->get->total != UINT64_MAX && c->get->delivered == c->get->total) {
			res = ES_OK;    /* everything arrived before the connection broke */
			break;
		}
		sh[ns++] = (azsign_header){ "Host", t.host };
		sh[ns++] = (azsign_header){ "x-ms-version", AZ_API_VERSION };
		for (size_t i = 0; i < c->nextra; i++)
			sh[ns++] = c->extra[i];
		if (c->get && c->get->delivered) {
			snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", c->get->delivered);
			sh[ns++] = (azsign_header){ "Range", range };
		}
		for (size_t i = 0; i < ns; i++)
			hh[nh++] = (http_header){ sh[i].name, sh[i].value };
		if (s->cred.key) {
			sreq = (azsign_request){ c->method, t.path, c->query, sh, ns,
						 c->body ? c->body->length : 0 };
			if (azsign_sign(&sreq, s->base.loc.account, s->cred.key, s->cred.key_len,
					time_now_ms() / 1000, &sig) != ES_OK) {
				res = store_fail(&s->base, ES_ERR_INTERNAL, c->url,
						 "cannot %s '%s': the request could not be signed",
						 c->verb, c->url);
				break;
			}
			for (size_t i = 0; i < sig.nadd; i++)
				hh[nh++] = (http_header){ sig.add[i].name, sig.add[i].value };
		} else {
			azsign_format_date(time_now_ms() / 1000, date);
			hh[nh++] = (http_header){ "x-ms-date", date };
		}
		req = (http_request){ c->method, sas_url ? sas_url : t.url, hh, nh, c->body,
				      c->get ? get_on_body : NULL, c->get,
				      c->body_cap ? c->body_cap : MAX_REPLY_BYTES };
		http_response_release(&c->resp);
		if (c->get) {
			c->get->started = false;
			c->get->resp = &c->resp;
		}
		http_perform(s->http, &req, &c->resp);
		azsign_result_release(&sig);
		if (c->resp.error == HTTP_OK && c->resp.status >= 300) {
			reply_error(&c->resp, &einfo);
			code = einfo.code;
		}
		v = http_classify(c->resp.error, c->resp.status, code);
		trace_attempt(c, &t, attempts, code);
		if (c->get && c->resp.error == HTTP_OK && v == HTTP_VERDICT_DONE) {
			if (!c->get->started && !get_begin(c->get))
				v = HTTP_VERDICT_FAIL;
			else if (c->get->total != UINT64_MAX && c->get->delivered != c->get->total)
				v = HTTP_VERDICT_RETRY;   /* shorter than announced */
		}
		if (v == HTTP_VERDICT_DONE) {
			az_error_info_release(&einfo);
			res = ES_OK;
			break;
		}
		if (c->get && (c->get->stopped || c->get->bad[0])) {
			res = c->get->stopped ? ES_ERR_DATA
					      : call_fail(s, c, &einfo, false, attempts);
			az_error_info_release(&einfo);
			break;
		}
		if (c->get && c->get->delivered > before)
			failures = 0;     /* progress: a resume is not a failed attempt */
		failures++;
		if (v == HTTP_VERDICT_RETRY && failures < s->set.attempts &&
		    attempts < AZ_MAX_RESUMES) {
			unsigned ms = http_backoff_ms(&s->retry, failures);
			char why[320];

			if (c->resp.error != HTTP_OK)
				snprintf(why, sizeof(why), "%s (%s)", http_error_name(c->resp.error),
					 c->resp.message);
			else
				snprintf(why, sizeof(why), "%ld %s", c->resp.status,
					 code ? code : "(no Azure error code)");
			log_msg(LOG_DEBUG, c->url, "%s '%s': %s; retrying in %u ms (attempt %u of %u)",
				c->method, c->url, why, ms, failures + 1, s->set.attempts);
			http_sleep(&s->retry, ms);
			az_error_info_release(&einfo);
			continue;
		}
		res = call_fail(s, c, &einfo, v == HTTP_VERDICT_RETRY, attempts);
		az_error_info_release(&einfo);
		break;
	}
	if (sas_url) {
		secure_wipe(sas_url, strlen(sas_url));
		free(sas_url);
	}
	az_target_release(&t);
	return res;
}

/* --- list -------------------------------------------------------------- */

static void query_add(buf *q, const char *name, const char *value)
{
	if (q->len)
		buf_addch(q, '&');
	sigv4_uri_encode(q, name, strlen(name), false);
	buf_addch(q, '=');
	sigv4_uri_encode(q, value, strlen(value), false);
}

static es_result az_list(store *st, store_list *out)
{
	az_store *s = (az_store *)st;
	const char *prefix = st->loc.prefix;
	size_t plen = strlen(prefix);
	char *marker = NULL, pagesz[16];
	unsigned pages = 0;
	es_result r = ES_OK;

	snprintf(pagesz, sizeof(pagesz), "%d", AZ_LIST_PAGE);
	for (;;) {
		struct az_call c = { 0 };
		buf q = BUF_INIT;
		az_list_page page;
		char *err = NULL;

		query_add(&q, "restype", "container");
		query_add(&q, "comp", "list");
		if (*prefix)
			query_add(&q, "prefix", prefix);
		if (marker)
			query_add(&q, "marker", marker);
		query_add(&q, "maxresults", pagesz);
		c.method = "GET";
		c.query = q.data;
		c.body_cap = AZXML_MAX_LIST_BYTES;
		c.verb = "list";
		c.url = st->loc.url;
		r = az_call(s, &c);
		if (r == ES_OK && azxml_parse_list_blobs(c.resp.body.data ? c.resp.body.data : "",
							 c.resp.body.len, &page, &err) != ES_OK) {
			r = store_fail(st, ES_ERR_REMOTE, st->loc.url,
				       "cannot list '%s': invalid reply: %s", st->loc.url, err);
			free(err);
		}
		call_release(&c);
		buf_release(&q);
		if (r != ES_OK)
			break;
		pages++;
		for (size_t i = 0; i < page.count; i++) {
			const az_blob_info *b = &page.blobs[i];
			size_t nlen = strlen(b->name);

			if (strncmp(b->name, prefix, plen))
				continue;    /* not under the prefix: never asked for */
			if (nlen && b->name[nlen - 1] == '/' && b->size == 0)
				continue;    /* a "folder" marker */
			store_list_add(out, b->name, (uint64_t)b->size, b->mtime_ms, b->etag);
		}
		if (page.next_marker && marker && !strcmp(marker, page.next_marker)) {
			r = store_fail(st, ES_ERR_REMOTE, st->loc.url, "cannot list '%s': the "
				       "server sent the same NextMarker twice", st->loc.url);
			az_list_page_release(&page);
			break;
		}
		free(marker);
		marker = page.next_marker ? xstrdup(page.next_marker) : NULL;
		az_list_page_release(&page);
		if (!marker)
			break;
	}
	free(marker);
	if (r == ES_OK)
		log_msg(LOG_DEBUG, st->loc.url, "listed '%s': %zu objects in %u page(s)",
			st->loc.url, out->count, pages);
	return r;
}

/* --- get --------------------------------------------------------------- */

static es_result az_get(store *st, const store_object *obj, store_write_fn fn, void *ud)
{
	az_store *s = (az_store *)st;
	struct get_state g = { fn, ud, NULL, 0, 0, UINT64_MAX, false, false, "" };
	struct az_call c = { 0 };
	char *url = store_url(st, obj->key);
	char *if_match = NULL;
	es_result r;

	c.method = "GET";
	c.key = obj->key;
	c.get = &g;
	c.verb = "read";
	c.url = url;
	if (obj->etag && *obj->etag) {
		if_match = xasprintf("\"%s\"", obj->etag);
		call_header(&c, "If-Match", if_match);
	}
	r = az_call(s, &c);
	call_release(&c);
	free(if_match);
	free(url);
	return r;
}

/* --- put --------------------------------------------------------------- */

static void md5_base64(const unsigned char md5[16], char out[32])
{
	buf b = BUF_INIT;

	buf_add_base64(&b, md5, 16);
	snprintf(out, 32, "%s", b.data);
	buf_release(&b);
}

/* MD5 of length bytes of fd at offset, also fed to `whole` when not NULL.
 * -1 with errno. */
static int md5_file(int fd, uint64_t offset, uint64_t length, EVP_MD_CTX *whole,
		    char out[32])
{
	EVP_MD_CTX *md5 = EVP_MD_CTX_new();
	unsigned char *chunk = xmalloc(HASH_CHUNK), sum[16];
	unsigned int len = 0;
	int rc = -1;

	if (!md5)
		die("out of memory");
	EVP_DigestInit_ex(md5, EVP_md5(), NULL);
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
		EVP_DigestUpdate(md5, chunk, (size_t)got);
		if (whole)
			EVP_DigestUpdate(whole, chunk, (size_t)got);
		offset += (uint64_t)got;
		length -= (uint64_t)got;
	}
	EVP_DigestFinal_ex(md5, sum, &len);
	md5_base64(sum, out);
	rc = 0;
done:
	EVP_MD_CTX_free(md5);
	free(chunk);
	return rc;
}

static es_result put_blob(az_store *s, const char *key, const char *url, int fd,
			  uint64_t size, const char *local_path)
{
	struct az_call c = { 0 };
	http_body body = { NULL, fd, 0, size };
	char md5[32];
	es_result r;

	if (md5_file(fd, 0, size, NULL, md5) < 0)
		return store_fail(&s->base, ES_ERR_IO, url, "cannot read '%s': %s", local_path,
				  strerror(errno));
	c.method = "PUT";
	c.key = key;
	c.body = &body;
	c.verb = "write";
	c.url = url;
	call_header(&c, "Content-MD5", md5);
	call_header(&c, "Content-Type", "application/octet-stream");
	call_header(&c, "x-ms-blob-type", "BlockBlob");
	r = az_call(s, &c);
	call_release(&c);
	return r;
}

static uint32_t upload_nonce(void)
{
	uint32_t n = 0;

	if (getentropy(&n, sizeof(n)) != 0)
		n = (uint32_t)time_now_ms() ^ (uint32_t)getpid() << 16;
	return n;
}

static es_result put_blocks(az_store *s, const char *key, const char *url, int fd,
			    uint64_t size, const char *local_path)
{
	uint64_t block_size = az_block_size_for(size, s->set.block_size);
	size_t nblocks = (size_t)((size + block_size - 1) / block_size);
	uint32_t nonce = upload_nonce();
	EVP_MD_CTX *whole = EVP_MD_CTX_new();
	unsigned char sum[16];
	unsigned int len = 0;
	char whole_md5[32], xml_md5[32], id[AZ_BLOCK_ID_LEN];
	struct az_call c = { 0 };
	buf q = BUF_INIT, xml = BUF_INIT;
	es_result r = ES_OK;

	if (!whole)
		die("out of memory");
	EVP_DigestInit_ex(whole, EVP_md5(), NULL);
	log_msg(LOG_DEBUG, url, "block upload of '%s': %zu block(s) of %" PRIu64 " bytes",
		url, nblocks, block_size);
	buf_addstr(&xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (size_t i = 0; i < nblocks; i++) {
		uint64_t off = (uint64_t)i * block_size;
		http_body body = { NULL, fd, off, size - off < block_size ? size - off : block_size };
		char md5[32];

		if (md5_file(fd, body.offset, body.length, whole, md5) < 0) {
			r = store_fail(&s->base, ES_ERR_IO, url, "cannot read '%s': %s", local_path,
				       strerror(errno));
			goto done;
		}
		az_block_id(nonce, i, id);
		buf_printf(&xml, "<Latest>%s</Latest>", id);
		buf_reset(&q);
		query_add(&q, "comp", "block");
		query_add(&q, "blockid", id);
		memset(&c, 0, sizeof(c));
		c.method = "PUT";
		c.key = key;
		c.query = q.data;
		c.body = &body;
		c.verb = "write";
		c.url = url;
		call_header(&c, "Content-MD5", md5);
		r = az_call(s, &c);
		call_release(&c);
		if (r != ES_OK)
			goto done;   /* uncommitted blocks are invisible; Azure drops them */
	}
	buf_addstr(&xml, "</BlockList>");
	EVP_DigestFinal_ex(whole, sum, &len);
	md5_base64(sum, whole_md5);
	EVP_Digest(xml.data, xml.len, sum, &len, EVP_md5(), NULL);
	md5_base64(sum, xml_md5);
	{
		http_body body = { xml.data, -1, 0, xml.len };

		buf_reset(&q);
		query_add(&q, "comp", "blocklist");
		memset(&c, 0, sizeof(c));
		c.method = "PUT";
		c.key = key;
		c.query = q.data;
		c.body = &body;
		c.verb = "write";
		c.url = url;
		call_header(&c, "Content-MD5", xml_md5);
		call_header(&c, "Content-Type", "application/xml");
		call_header(&c, "x-ms-blob-content-md5", whole_md5);
		call_header(&c, "x-ms-blob-content-type", "application/octet-stream");
		r = az_call(s, &c);
		call_release(&c);
	}
done:
	EVP_MD_CTX_free(whole);
	buf_release(&q);
	buf_release(&xml);
	return r;
}

static es_result az_put(store *st, const char *key, const char *local_path)
{
	az_store *s = (az_store *)st;
	char *url = store_url(st, key);
	struct stat sb;
	int fd = -1;
	es_result r;

	if (!store_key_is_safe(key)) {
		r = store_fail(st, ES_ERR_INTERNAL, url, "refusing unsafe key '%s'", url);
		goto done;
	}
	if ((fd = open(local_path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0) {
		r = store_fail(st, ES_ERR_IO, url, "cannot read '%s': %s", local_path,
			       strerror(errno));
		goto done;
	}
	if ((uint64_t)sb.st_size >= s->set.threshold)
		r = put_blocks(s, key, url, fd, (uint64_t)sb.st_size, local_path);
	else
		r = put_blob(s, key, url, fd, (uint64_t)sb.st_size, local_path);
done:
	if (fd >= 0)
		close(fd);
	free(url);
	return r;
}

/* --- open / free ------------------------------------------------------- */

static void az_free(store *st)
{
	az_store *s = (az_store *)st;

	if (!s)
		return;
	http_client_free(s->http);
	az_credentials_release(&s->cred);
	az_settings_release(&s->set);
	location_release(&st->loc);
	free(s);
}

static const struct store_ops az_ops = {
	.list = az_list,
	.get = az_get,
	.put = az_put,
	.free = az_free,
};

es_result store_az_open(const location *loc, store **out)
{
	az_store *s;
	buf err = BUF_INIT;
	http_options opt = { 0 };
	es_result r;

	*out = NULL;
	if (loc->scheme != LOC_AZ || !loc->account || !loc->bucket)
		return es_error_url(ES_ERR_INTERNAL, loc->url, "'%s': not an az:// location",
				    loc->url);
	s = xcalloc(1, sizeof(*s));
	s->base.ops = &az_ops;
	location_copy(&s->base.loc, loc);
	if ((r = az_credentials_load(creds_process_env(), loc->account, loc->credentials_file,
				     &s->cred, &err)) != ES_OK ||
	    (r = az_settings_resolve(loc, s->cred.endpoint, creds_process_env(), &s->set,
				     &err)) != ES_OK) {
		es_error_url(r, loc->url, "'%s': %s", loc->url, err.data);
		buf_release(&err);
		az_free(&s->base);
		return r;
	}
	opt.ca_bundle = s->set.ca_bundle;
	opt.stall_timeout_s = s->set.stall_timeout_s;
	opt.user_agent = "evshare/" EVSHARE_VERSION;
	s->http = http_client_new(&opt);
	s->retry.max_attempts = s->set.attempts;
	log_msg(LOG_DEBUG, loc->url, "'%s': endpoint %s://%s%s, %s from %s", loc->url,
		s->set.endpoint.scheme, s->set.endpoint.host, s->set.endpoint.base_path,
		s->cred.key ? "Shared Key" : "SAS token", s->cred.source);
	*out = &s->base;
	return ES_OK;
}
