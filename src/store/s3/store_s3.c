/*
 * store_s3.c - s3:// and gs:// locations: the object-store interface over
 * the S3 REST API.  See store_s3.h for the settings, the requests and the
 * error mapping; store.h for what every backend guarantees.
 *
 * What is S3's lives here: settings, request targets (path or virtual-host
 * style), SigV4 signing of each attempt, the reading and wording of S3
 * errors, and the requests of a multipart upload (Create, UploadPart's
 * query and ETag, Complete with the lost-reply check, Abort, and the
 * leftovers of interrupted runs).  Retries, resumed GETs, the failure
 * messages and the upload's lifecycle are objhttp.c's, shared with
 * store_az.c: every request goes through objhttp_run() with the
 * s3_http_ops below, every upload through objhttp's with s3_upload_ops.
 */
#include "store_s3.h"
#include "http.h"
#include "log.h"
#include "objhttp.h"
#include "s3xml.h"
#include "sigv4.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct s3_store {
	objhttp_store h;             /* first: the store and its requests */
	s3_settings set;
	aws_config aws;              /* credentials: wiped when the store is freed */
} s3_store;

/* --- settings ---------------------------------------------------------- */

static const objhttp_limits s3_limits = {
	.service = "S3",
	.upload = "multipart",
	.part = "part",
	.min_part = S3_MIN_PART_SIZE,
	.max_part = S3_MAX_PART_SIZE,
	.part_range = "5 MiB..5 GiB",
	.default_part = S3_DEFAULT_PART_SIZE,
	.max_parts = S3_MAX_PARTS,
	.max_single = S3_MAX_PUT_SIZE,
	.default_attempts = S3_DEFAULT_ATTEMPTS,
};

static bool region_is_valid(const char *r)
{
	if (!*r || strlen(r) > 64)
		return false;
	for (; *r; r++)
		if (!((*r >= 'a' && *r <= 'z') || (*r >= '0' && *r <= '9') || *r == '-'))
			return false;
	return true;
}

#define REGION_REFUSED "region '%s' is not a region name (a-z 0-9 -)"

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Why b (a-z 0-9 . - _ already, location_parse's) is no bucket name of
 * S3 or Cloud Storage, or NULL.  S3 has taken 3 to 63 characters since
 * 2018; older buckets in us-east-1 may have up to 255 and '_'.  Cloud
 * Storage takes up to 222 with dots, 63 between two. */
static const char *bucket_problem(const char *b, bool gs)
{
	size_t n = strlen(b), part = 0;

	if (n < 3)
		return "it has fewer than 3 characters";
	if (!alnum(b[0]) || !alnum(b[n - 1]))
		return "it must start and end with a letter or a digit";
	if (!gs && n > 255)
		return "it has more than 255 characters";
	if (gs && n > 222)
		return "it has more than 222 characters";
	for (size_t i = 0; gs && i <= n; i++) {
		if (i < n && b[i] != '.')
			part++;
		else if (part > 63)
			return "it has more than 63 characters between dots";
		else
			part = 0;
	}
	return NULL;
}

bool s3_bucket_is_host_name(const char *b)
{
	size_t label = 0;

	for (const char *p = b;; p++) {
		if (*p == '.' || !*p) {
			if (!label || label > 63 || p[-1] == '-')
				return false;
			if (!*p)
				return true;
			label = 0;
		} else if (alnum(*p) || (*p == '-' && label)) {
			label++;
		} else {
			return false;
		}
	}
}

es_result store_s3_check(const location *loc, store_faults *out)
{
	size_t before = out->count;
	const char *why;

	if (loc->scheme != LOC_S3 && loc->scheme != LOC_GS) {
		store_faults_add(out, "url", "not an s3:// or gs:// location");
		return ES_ERR_CONFIG;
	}
	if ((why = bucket_problem(loc->bucket, loc->scheme == LOC_GS)))
		store_faults_add(out, "url", "bucket '%s' is not a bucket name: %s", loc->bucket,
				 why);
	if (loc->region && !region_is_valid(loc->region))
		store_faults_add(out, "region", REGION_REFUSED, loc->region);
	if (loc->path_style == 0 && !s3_bucket_is_host_name(loc->bucket))
		store_faults_add(out, "path_style", "bucket '%s' is not a host name: it can be "
				 "addressed path-style only (set path_style true, or remove it)",
				 loc->bucket);
	objhttp_check(loc, &s3_limits, out);
	return out->count > before ? ES_ERR_CONFIG : ES_OK;
}

void s3_settings_release(s3_settings *s)
{
	if (!s)
		return;
	free(s->region);
	objhttp_endpoint_release(&s->endpoint);
	free(s->ca_bundle);
	memset(s, 0, sizeof(*s));
}

es_result s3_settings_resolve(const location *loc, const aws_config *aws,
			      const creds_env *env, s3_settings *out, buf *err)
{
	bool gs = loc->scheme == LOC_GS, explicit_style;
	const char *endpoint = loc->endpoint;
	char *dflt = NULL;
	es_result r;

	memset(out, 0, sizeof(*out));
	if (gs)
		out->region = xstrdup(loc->region ? loc->region : S3_GS_REGION);
	else
		out->region = xstrdup(loc->region ? loc->region :
				      aws && aws->region ? aws->region : S3_DEFAULT_REGION);
	if (!region_is_valid(out->region)) {
		buf_printf(err, REGION_REFUSED, out->region);
		r = ES_ERR_CONFIG;
		goto fail;
	}
	if (!endpoint && !gs && aws)
		endpoint = aws->endpoint_url;
	out->default_endpoint = !endpoint;
	if (!endpoint) {
		if (gs)
			dflt = xstrdup(S3_GS_ENDPOINT);
		else
			dflt = xasprintf("https://s3.%s.amazonaws.com%s", out->region,
					 strncmp(out->region, "cn-", 3) ? "" : ".cn");
		endpoint = dflt;
	}
	if ((r = objhttp_endpoint_parse(endpoint, &out->endpoint, err)) != ES_OK)
		goto fail;
	explicit_style = loc->path_style >= 0 || (!gs && aws && aws->path_style >= 0);
	if (loc->path_style >= 0)
		out->path_style = loc->path_style;
	else if (!gs && aws && aws->path_style >= 0)
		out->path_style = aws->path_style;
	else
		out->path_style = !out->default_endpoint;
	if (!out->path_style && !explicit_style && strchr(loc->bucket, '.') &&
	    !strcmp(out->endpoint.scheme, "https"))
		out->path_style = true;
	if (!out->path_style && !s3_bucket_is_host_name(loc->bucket)) {
		/* its name cannot go in the Host: path style, unless told
		 * otherwise (the location's false is store_s3_check's) */
		if (explicit_style) {
			if (loc->path_style == 0)
				buf_printf(err, "bucket '%s' is not a host name: it can be "
					   "addressed path-style only", loc->bucket);
			else
				buf_printf(err, "bucket '%s' is not a host name: it can be "
					   "addressed path-style only, not virtual-host style as "
					   "profile '%s' says (s3.addressing_style)", loc->bucket,
					   aws->profile);
			r = ES_ERR_CONFIG;
			goto fail;
		}
		out->path_style = true;
	}
	objhttp_transfer_resolve(loc, &s3_limits, &out->xfer);
	if ((r = objhttp_stall_timeout(env ? env->get(env->ud, OBJHTTP_STALL_ENV) : NULL,
					 &out->stall_timeout_s, err)) != ES_OK)
		goto fail;
	out->ca_bundle = aws && aws->ca_bundle ? xstrdup(aws->ca_bundle) : NULL;
	free(dflt);
	return ES_OK;
fail:
	free(dflt);
	s3_settings_release(out);
	return r;
}

/* --- targets ----------------------------------------------------------- */

void s3_target_build(const s3_settings *s, const char *bucket, const char *key,
		     const char *query, objhttp_target *out)
{
	buf path = BUF_INIT;

	out->host = s->path_style ? xstrdup(s->endpoint.host)
				  : xasprintf("%s.%s", bucket, s->endpoint.host);
	buf_addstr(&path, s->endpoint.base_path);
	if (s->path_style) {
		buf_printf(&path, "/%s", bucket);
		if (key)
			buf_addch(&path, '/');
	} else {
		buf_addch(&path, '/');
	}
	if (key)
		sigv4_uri_encode(&path, key, strlen(key), true);
	out->path = buf_detach(&path, NULL);
	out->url = xasprintf("%s://%s%s%s%s", s->endpoint.scheme, out->host, out->path,
			     query && *query ? "?" : "", query && *query ? query : "");
}

uint64_t s3_part_size_for(uint64_t size, uint64_t part_size)
{
	return objhttp_part_size_for(size, part_size, S3_MAX_PARTS);
}

static const char *const auth_codes[] = {
	"RequestTimeTooSkewed", "InvalidAccessKeyId", "SignatureDoesNotMatch",
	"AccessDenied", "InvalidToken", "ExpiredToken", "TokenRefreshRequired",
	"AllAccessDisabled", "InvalidSecurity", "AccountProblem", NULL
};

static const char *const config_codes[] = {
	"AuthorizationHeaderMalformed", "PermanentRedirect", "TemporaryRedirect",
	"IllegalLocationConstraintException", NULL
};

es_result s3_error_result(long status, const char *code, bool exhausted)
{
	if (exhausted)
		return ES_ERR_TEMP;
	if (objhttp_code_in(code, auth_codes))
		return ES_ERR_AUTH;
	if (objhttp_code_in(code, config_codes))
		return ES_ERR_CONFIG;
	if (status == 401 || status == 403)
		return ES_ERR_AUTH;
	if (status >= 300 && status < 400)
		return ES_ERR_CONFIG;
	return ES_ERR_REMOTE;
}

/* --- one request: the S3 side of objhttp_run() ------------------------- */

#define NO_CODE "(no S3 error code)"

void s3_skew_note(buf *m, const char *date, int64_t now_s)
{
	int64_t server_s, diff;

	if (!date || !http_date_parse(date, &server_s)) {
		buf_addstr(m, "; the clock of this machine is off (the reply had no usable Date "
			   "to tell by how much): set the clock (NTP)");
		return;
	}
	diff = now_s - server_s;
	buf_printf(m, "; the clock of this machine is off by %s%" PRId64 " s (%s the "
		   "server's Date '%s'): set the clock (NTP)", diff >= 0 ? "+" : "", diff,
		   diff >= 0 ? "ahead of" : "behind", date);
}

static void s3_call_target(void *ud, const objhttp_call *c, objhttp_target *out)
{
	s3_store *s = ud;

	s3_target_build(&s->set, s->h.base.loc.bucket, c->key, c->query, out);
}

/* Sign the attempt with SigV4 (a new X-Amz-Date each time) and send it. */
static es_result s3_send(void *ud, http_client *http, const objhttp_call *c,
			 const objhttp_target *t, const char *range, http_request *req,
			 http_response *resp)
{
	s3_store *s = ud;
	sigv4_credentials cred = { s->aws.access_key_id, s->aws.secret_access_key,
				   s->aws.session_token };
	sigv4_header sh[OBJHTTP_MAX_EXTRA_HEADERS + 2];
	http_header hh[OBJHTTP_MAX_EXTRA_HEADERS + 2 + SIGV4_MAX_ADDED];
	sigv4_params params = {
		.region = s->set.region, .service = "s3", .time_s = time_now_ms() / 1000,
		.normalize_path = false, .double_encode = false, .add_content_sha256 = true,
		.omit_session_token = false,
	};
	sigv4_request sreq;
	sigv4_result sig;
	size_t ns = 0, nh = 0;

	sh[ns++] = (sigv4_header){ "Host", t->host };
	for (size_t i = 0; i < c->nextra; i++)
		sh[ns++] = (sigv4_header){ c->extra[i].name, c->extra[i].value };
	if (range)
		sh[ns++] = (sigv4_header){ "Range", range };
	sreq = (sigv4_request){ c->method, t->path, c->query, sh, ns,
				c->payload_hash ? c->payload_hash : SIGV4_EMPTY_SHA256 };
	if (sigv4_sign_headers(&sreq, &cred, &params, &sig) != ES_OK)
		return ES_ERR_INTERNAL;
	for (size_t i = 0; i < ns; i++)
		hh[nh++] = (http_header){ sh[i].name, sh[i].value };
	for (size_t i = 0; i < sig.nadd; i++)
		hh[nh++] = (http_header){ sig.add[i].name, sig.add[i].value };
	req->url = t->url;
	req->headers = hh;
	req->nheaders = nh;
	http_perform(http, req, resp);
	sigv4_result_release(&sig);
	return ES_OK;
}

/* S3's error document: <Error> with its Code and Message. */
static void s3_reply_error(const http_response *r, objhttp_error *out)
{
	s3_error_info e = { 0 };

	if (s3xml_parse_error(r->body.data ? r->body.data : "", r->body.len, &e) == ES_OK) {
		out->code = e.code;
		out->message = e.message;
		e.code = e.message = NULL;
	}
	s3_error_info_release(&e);
}

static es_result s3_status_failure(void *ud, const objhttp_call *c, const objhttp_error *e,
				   bool exhausted, buf *m)
{
	s3_store *s = ud;
	const http_response *r = &c->resp;
	const char *code = e->code;
	es_result res = s3_error_result(r->status, code, exhausted);

	if (r->status == 412)
		buf_printf(m, "the object changed since it was listed (412 %s)",
			   code ? code : "PreconditionFailed");
	else if (code && !strcmp(code, "NoSuchBucket"))
		buf_printf(m, "bucket '%s' does not exist (404 NoSuchBucket)", s->h.base.loc.bucket);
	else
		objhttp_add_status(m, r->status, code ? code : NO_CODE, e->message);
	if (code && !strcmp(code, "RequestTimeTooSkewed"))
		s3_skew_note(m, http_response_header(r, "Date"), time_now_ms() / 1000);
	else if (res == ES_ERR_AUTH)
		buf_printf(m, " (credentials from %s)", s->aws.source);
	if (r->status >= 300 && r->status < 400) {
		const char *region = http_response_header(r, "x-amz-bucket-region");

		if (region)
			buf_printf(m, "; the bucket is in region '%s'", region);
	}
	return res;
}

/* --- list -------------------------------------------------------------- */

static void s3_list_query(buf *q, const char *prefix, const char *token)
{
	if (token)
		objhttp_query_add(q, "continuation-token", token);
	objhttp_query_add(q, "encoding-type", "url");
	objhttp_query_add(q, "list-type", "2");
	if (*prefix)
		objhttp_query_add(q, "prefix", prefix);
}

static es_result s3_list_parse(const char *body, size_t n, const char *prefix,
			       store_list *out, char **next, char **err)
{
	s3_list_page page;

	if (s3xml_parse_list_v2(body, n, &page, err) != ES_OK)
		return ES_ERR_REMOTE;
	for (size_t i = 0; i < page.count; i++) {
		const s3_object_info *o = &page.objects[i];

		objhttp_list_add(out, prefix, o->key, (uint64_t)o->size, o->mtime_ms, o->etag);
	}
	*next = page.truncated ? xstrdup(page.next_token) : NULL;
	s3_list_page_release(&page);
	return ES_OK;
}

/* ListObjectsV2, continued with NextContinuationToken */
static const objhttp_lister s3_lister = {
	.reply_cap = S3XML_MAX_LIST_BYTES,
	.marker_name = "continuation token",
	.query = s3_list_query,
	.parse = s3_list_parse,
};

/* --- put --------------------------------------------------------------- */

/* DELETE an upload; failures are warnings (the put has already failed, or
 * a later rerun cleans up). */
static void abort_upload(s3_store *s, const char *key, const char *upload_id,
			 const char *url)
{
	objhttp_call c = { 0 };
	buf q = BUF_INIT;

	objhttp_query_add(&q, "uploadId", upload_id);
	c.method = "DELETE";
	c.key = key;
	c.query = q.data;
	c.verb = "abort the multipart upload of";
	c.url = url;
	c.quiet = true;
	if (objhttp_run(&s->h.oh, &c) != ES_OK) {
		if (c.resp.error == HTTP_OK && c.resp.status == 404)
			log_msg(LOG_DEBUG, url, "multipart upload of '%s' already gone", url);
		else
			log_msg(LOG_WARNING, url, "%s", c.message);
	} else {
		log_msg(LOG_DEBUG, url, "aborted multipart upload %s of '%s'", upload_id, url);
	}
	objhttp_call_release(&c);
	buf_release(&q);
}

/* Abort the unfinished uploads of exactly this key: leftovers of an
 * interrupted run of the same plan. */
static es_result abort_leftovers(s3_store *s, const char *key, const char *url)
{
	char *key_marker = NULL, *id_marker = NULL;
	unsigned aborted = 0;

	for (;;) {
		objhttp_call c = { 0 };
		buf q = BUF_INIT;
		s3_upload_list list;
		char *err = NULL;
		es_result r;

		objhttp_query_add(&q, "encoding-type", "url");
		if (key_marker)
			objhttp_query_add(&q, "key-marker", key_marker);
		objhttp_query_add(&q, "prefix", key);
		if (id_marker)
			objhttp_query_add(&q, "upload-id-marker", id_marker);
		objhttp_query_add(&q, "uploads", NULL);
		c.method = "GET";
		c.query = q.data;
		c.body_cap = S3XML_MAX_LIST_BYTES;
		c.verb = "list the unfinished uploads of";
		c.url = url;
		c.quiet = true;
		r = objhttp_run(&s->h.oh, &c);
		if (r != ES_OK) {
			/* Bad credentials stop here.  Anything else, a policy that
			 * allows s3:PutObject but not listing uploads included, only
			 * means leftovers cannot be cleaned: the upload goes on. */
			s3_error_info e = { 0 };
			bool denied = c.resp.error == HTTP_OK && c.resp.body.data &&
				      s3xml_parse_error(c.resp.body.data, c.resp.body.len, &e) == ES_OK &&
				      !strcmp(e.code, "AccessDenied");

			s3_error_info_release(&e);
			if (r == ES_ERR_AUTH && !denied)
				store_fail(&s->h.base, r, url, "%s", c.message);
			else
				log_msg(LOG_WARNING, url, "%s; going on (unfinished uploads of "
					"interrupted runs stay until a lifecycle rule removes them)",
					c.message);
			objhttp_call_release(&c);
			buf_release(&q);
			free(key_marker);
			free(id_marker);
			return r == ES_ERR_AUTH && !denied ? r : ES_OK;
		}
		r = s3xml_parse_list_multipart_uploads(c.resp.body.data ? c.resp.body.data : "",
						       c.resp.body.len, &list, &err);
		objhttp_call_release(&c);
		buf_release(&q);
		if (r != ES_OK) {
			log_msg(LOG_WARNING, url, "cannot list the unfinished uploads of '%s': "
				"invalid reply: %s; going on", url, err);
			free(err);
			break;
		}
		for (size_t i = 0; i < list.count; i++)
			if (!strcmp(list.uploads[i].key, key)) {
				abort_upload(s, key, list.uploads[i].upload_id, url);
				aborted++;
			}
		free(key_marker);
		free(id_marker);
		key_marker = id_marker = NULL;
		if (list.truncated && list.next_key_marker && list.next_upload_id_marker) {
			key_marker = xstrdup(list.next_key_marker);
			id_marker = xstrdup(list.next_upload_id_marker);
		}
		s3_upload_list_release(&list);
		if (!key_marker)
			break;
	}
	free(key_marker);
	free(id_marker);
	if (aborted)
		log_msg(LOG_INFO, url, "aborted %u unfinished multipart upload(s) of '%s' "
			"left by an interrupted run", aborted, url);
	return ES_OK;
}

static void xml_escape_add(buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			buf_addstr(b, "&amp;");
		else if (*s == '<')
			buf_addstr(b, "&lt;");
		else if (*s == '>')
			buf_addstr(b, "&gt;");
		else
			buf_addch(b, *s);
	}
}

static char *unquote(const char *etag)
{
	size_t n = strlen(etag);

	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
		return xstrndup(etag + 1, n - 2);
	return xstrdup(etag);
}

/* After a CompleteMultipartUpload whose reply was lost, a retry finds no
 * upload: the object is there if its ETag is the multipart ETag of our
 * parts (MD5 of the part MD5s, "-N"). */
static bool completed_already(s3_store *s, const char *key, const char *url,
			      const unsigned char *md5s, size_t nparts)
{
	objhttp_call c = { 0 };
	unsigned char sum[16];
	unsigned int len = 0;
	char hex[33], *want, *got = NULL;
	const char *etag;
	bool same = false;

	EVP_Digest(md5s, 16 * nparts, sum, &len, EVP_md5(), NULL);
	hex_encode(sum, 16, hex);
	want = xasprintf("%s-%zu", hex, nparts);
	c.method = "HEAD";
	c.key = key;
	c.verb = "check";
	c.url = url;
	c.quiet = true;
	if (objhttp_run(&s->h.oh, &c) == ES_OK && (etag = http_response_header(&c.resp, "ETag"))) {
		got = unquote(etag);
		same = !strcasecmp(got, want);
	}
	objhttp_call_release(&c);
	free(got);
	free(want);
	return same;
}

/*
 * A multipart upload: the steps of objhttp's upload lifecycle (objhttp.h).
 * Parts are numbered from 1; u->id is the UploadId, u->tags[n] the ETag
 * part n + 1 was stored with.
 */

/* CreateMultipartUpload, after aborting leftovers of an interrupted run. */
static es_result mp_begin(objhttp_upload *u)
{
	s3_store *s = u->h->ud;
	objhttp_call c = { 0 };
	buf q = BUF_INIT;
	char *err = NULL;
	es_result r;

	if ((r = abort_leftovers(s, u->key, u->url)) != ES_OK)
		return r;
	objhttp_query_add(&q, "uploads", NULL);
	c.method = "POST";
	c.key = u->key;
	c.query = q.data;
	c.verb = "start the multipart upload of";
	c.url = u->url;
	objhttp_call_header(&c, "Content-Type", "application/octet-stream");
	r = objhttp_run(&s->h.oh, &c);
	if (r == ES_OK &&
	    s3xml_parse_initiate_multipart(c.resp.body.data ? c.resp.body.data : "",
					   c.resp.body.len, &u->id, &err) != ES_OK)
		r = store_fail(&s->h.base, ES_ERR_REMOTE, u->url, "cannot start the multipart "
			       "upload of '%s': invalid reply: %s", u->url, err);
	else if (r == ES_OK)
		log_msg(LOG_DEBUG, u->url, "multipart upload of '%s' started, parts of %" PRIu64
			" bytes", u->url, u->part_size);
	objhttp_call_release(&c);
	buf_release(&q);
	free(err);
	return r;
}

/* UploadPart's query */
static void mp_part_query(const objhttp_upload *u, size_t n, buf *q)
{
	char num[24];

	snprintf(num, sizeof(num), "%zu", n + 1);
	objhttp_query_add(q, "partNumber", num);
	objhttp_query_add(q, "uploadId", u->id);
}

/* The ETag of a stored part goes in the CompleteMultipartUpload. */
static es_result mp_part_stored(objhttp_upload *u, size_t n, const http_response *r,
				char **message)
{
	const char *etag = http_response_header(r, "ETag");

	if (!etag || !*etag) {
		*message = xasprintf("cannot write '%s': part %zu was stored without an ETag",
				     u->url, n + 1);
		return ES_ERR_REMOTE;
	}
	u->tags[n] = xstrdup(etag);
	return ES_OK;
}

/* CompleteMultipartUpload of the u->nsent parts. */
static es_result mp_complete(objhttp_upload *u)
{
	s3_store *s = u->h->ud;
	objhttp_call c = { 0 };
	buf q = BUF_INIT, xml = BUF_INIT;
	http_body body;
	objhttp_digest d;
	char *final_etag = NULL, *err = NULL;
	s3_error_info einfo = { 0 };
	es_result r;

	buf_addstr(&xml, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
	for (size_t i = 0; i < u->nsent; i++) {
		buf_printf(&xml, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
		xml_escape_add(&xml, u->tags[i]);
		buf_addstr(&xml, "</ETag></Part>");
	}
	buf_addstr(&xml, "</CompleteMultipartUpload>");
	body = (http_body){ xml.data, -1, 0, xml.len };
	objhttp_digest_mem(xml.data, xml.len, true, &d);
	objhttp_query_add(&q, "uploadId", u->id);
	c.method = "POST";
	c.key = u->key;
	c.query = q.data;
	c.body = &body;
	c.payload_hash = d.sha256_hex;
	c.error_in_2xx = true;
	c.verb = "complete the multipart upload of";
	c.url = u->url;
	c.quiet = true;
	objhttp_call_header(&c, "Content-MD5", d.md5_b64);
	objhttp_call_header(&c, "Content-Type", "application/xml");
	r = objhttp_run(&s->h.oh, &c);
	if (r != ES_OK) {
		bool lost_reply = c.had_transport_error && c.resp.error == HTTP_OK &&
				  c.resp.status == 404;

		if (lost_reply && completed_already(s, u->key, u->url, u->md5s, u->nsent)) {
			log_msg(LOG_DEBUG, u->url, "'%s' was completed by an attempt whose "
				"reply was lost", u->url);
			r = ES_OK;
		} else {
			store_fail(&s->h.base, r, u->url, "%s", c.message);
		}
	} else if (s3xml_parse_complete_multipart(c.resp.body.data ? c.resp.body.data : "",
						  c.resp.body.len, &final_etag, &einfo,
						  &err) != ES_OK) {
		/* an <Error> in a 200 (S3 sends one when the completion fails
		 * after it has begun to answer), or a reply of another shape */
		r = store_fail(&s->h.base, ES_ERR_REMOTE, u->url, "cannot complete the multipart "
			       "upload of '%s': %s", u->url, err);
	}
	s3_error_info_release(&einfo);
	objhttp_call_release(&c);
	free(final_etag);
	free(err);
	buf_release(&q);
	buf_release(&xml);
	return r;
}

static void mp_abort(objhttp_upload *u)
{
	abort_upload(u->h->ud, u->key, u->id, u->url);
}

static const objhttp_upload_ops s3_upload_ops = {
	.limits = &s3_limits,
	.body_sha256 = true,
	.whole_md5 = false,
	.begin = mp_begin,
	.part_query = mp_part_query,
	.part_stored = mp_part_stored,
	.commit = mp_complete,
	.abort = mp_abort,
};

/* --- open ------------------------------------------------------------- */

/* objhttp_store_ops.free: what the store holds besides its objhttp_store */
static void s3_release(void *ud)
{
	s3_store *s = ud;

	aws_config_release(&s->aws);
	s3_settings_release(&s->set);
}

static const objhttp_ops s3_http_ops = {
	.no_code = NO_CODE,
	.ca_bundle_env = "AWS_CA_BUNDLE",
	.reply_cap = S3XML_MAX_REPLY_BYTES,
	.target = s3_call_target,
	.send = s3_send,
	.reply_error = s3_reply_error,
	.status_failure = s3_status_failure,
	.upload = &s3_upload_ops,
	.lister = &s3_lister,
	.release = s3_release,
};

es_result store_s3_open(const location *loc, store **out)
{
	store_faults faults = STORE_FAULTS_INIT;
	s3_store *s;
	buf err = BUF_INIT;
	es_result r;

	*out = NULL;
	if (loc->scheme != LOC_S3 && loc->scheme != LOC_GS)
		return es_error_url(ES_ERR_INTERNAL, loc->url, "'%s': not an s3:// or gs:// "
				    "location", loc->url);
	if (store_s3_check(loc, &faults) != ES_OK) {
		r = store_faults_fail(loc, &faults);
		store_faults_release(&faults);
		return r;
	}
	s = objhttp_store_new(sizeof(*s), &s3_http_ops, loc);
	if ((r = aws_config_load(creds_process_env(), loc->profile, &s->aws, &err)) != ES_OK ||
	    (r = s3_settings_resolve(loc, &s->aws, creds_process_env(), &s->set, &err)) != ES_OK) {
		es_error_url(r, loc->url, "'%s': %s", loc->url, err.data);
		buf_release(&err);
		store_free(&s->h.base);
		return r;
	}
	objhttp_init(&s->h.oh, &s->h.base, &s3_http_ops, s, s->set.endpoint.host,
		     s->set.ca_bundle, s->set.stall_timeout_s, &s->set.xfer);
	log_msg(LOG_DEBUG, loc->url, "'%s': endpoint %s://%s%s, region %s, %s-style, "
		"credentials from %s%s", loc->url, s->set.endpoint.scheme,
		s->set.endpoint.host, s->set.endpoint.base_path, s->set.region,
		s->set.path_style ? "path" : "virtual-host", s->aws.source,
		s->aws.session_token ? " (with a session token)" : "");
	*out = &s->h.base;
	return ES_OK;
}
