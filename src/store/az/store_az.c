/*
 * store_az.c - az:// locations: the object-store interface over the Azure
 * Blob Storage REST API.  See store_az.h for the settings, the requests and
 * the error mapping; store.h for what every backend guarantees.
 *
 * What is Azure's lives here: settings, request targets, Shared Key
 * signing or the SAS token of each attempt, the reading and wording of
 * Azure errors, and the requests of a block upload (Put Block's query,
 * Put Block List).  Retries, resumed GETs, the failure messages and the
 * upload's lifecycle are objhttp.c's, shared with store_s3.c: every
 * request goes through objhttp_run() with the az_http_ops below, every
 * upload through objhttp's with az_upload_ops.
 */
#include "store_az.h"
#include "azsign.h"
#include "azxml.h"
#include "http.h"
#include "log.h"
#include "objhttp.h"
#include "sigv4.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLY_BYTES   (1u << 20)
#define NO_CODE           "(no Azure error code)"

typedef struct az_store {
	objhttp_store h;             /* first: the store and its requests */
	az_settings set;
	az_credentials cred;         /* wiped when the store is freed */
} az_store;

/* --- settings ---------------------------------------------------------- */

static const objhttp_limits az_limits = {
	.service = "Azure",
	.upload = "block",
	.part = "block",
	.min_part = AZ_MIN_BLOCK_SIZE,
	.max_part = AZ_MAX_BLOCK_SIZE,
	.part_range = "5 MiB..4000 MiB (Azure's largest block)",
	.default_part = AZ_DEFAULT_BLOCK_SIZE,
	.max_parts = AZ_MAX_BLOCKS,
	.max_single = AZ_MAX_PUT_BLOB,
	.default_attempts = AZ_DEFAULT_ATTEMPTS,
};

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

es_result store_az_check(const location *loc, store_faults *out)
{
	size_t before = out->count;

	if (loc->scheme != LOC_AZ) {
		store_faults_add(out, "url", "not an az:// location");
		return ES_ERR_CONFIG;
	}
	if (!loc->account || !az_account_name_is_valid(loc->account))
		store_faults_add(out, "url", "account '%s' is not a storage account name (3 to 24 "
				 "lowercase letters and digits)", loc->account ? loc->account : "");
	if (!loc->bucket || !az_container_name_is_valid(loc->bucket))
		store_faults_add(out, "url", "container '%s' is not a container name (3 to 63 "
				 "lowercase letters, digits and single hyphens, starting and ending "
				 "with a letter or digit)", loc->bucket ? loc->bucket : "");
	objhttp_check(loc, &az_limits, out);
	return out->count > before ? ES_ERR_CONFIG : ES_OK;
}

void az_settings_release(az_settings *s)
{
	if (!s)
		return;
	objhttp_endpoint_release(&s->endpoint);
	free(s->ca_bundle);
	memset(s, 0, sizeof(*s));
}

es_result az_settings_resolve(const location *loc, const char *cred_endpoint,
			      const creds_env *env, az_settings *out, buf *err)
{
	const char *endpoint = loc->endpoint ? loc->endpoint : cred_endpoint, *v;
	char *dflt = NULL;
	es_result r;

	memset(out, 0, sizeof(*out));
	if (!env)
		env = creds_process_env();
	out->default_endpoint = !endpoint;
	if (!endpoint)
		endpoint = dflt = xasprintf("https://%s" AZ_DEFAULT_HOST_SUFFIX, loc->account);
	if ((r = objhttp_endpoint_parse(endpoint, &out->endpoint, err)) != ES_OK)
		goto fail;
	objhttp_transfer_resolve(loc, &az_limits, &out->xfer);
	if ((r = objhttp_stall_timeout(env->get(env->ud, OBJHTTP_STALL_ENV),
					 &out->stall_timeout_s, err)) != ES_OK)
		goto fail;
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
		     const char *query, objhttp_target *out)
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

uint64_t az_block_size_for(uint64_t size, uint64_t block_size)
{
	return objhttp_part_size_for(size, block_size, AZ_MAX_BLOCKS);
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
	if (objhttp_code_in(code, auth_codes) || status == 401 || status == 403)
		return ES_ERR_AUTH;
	if (status >= 300 && status < 400)
		return ES_ERR_CONFIG;
	return ES_ERR_REMOTE;
}

/* --- one request: the Azure side of objhttp_run() ---------------------- */

static void az_call_target(void *ud, const objhttp_call *c, objhttp_target *out)
{
	az_store *s = ud;

	az_target_build(&s->set, s->h.base.loc.bucket, c->key, c->query, out);
}

/* Sign the attempt with the Shared Key (a new x-ms-date each time), or date
 * it and append the SAS token to its URL, and send it. */
static es_result az_send(void *ud, http_client *http, const objhttp_call *c,
			 const objhttp_target *t, const char *range, http_request *req,
			 http_response *resp)
{
	az_store *s = ud;
	azsign_header sh[OBJHTTP_MAX_EXTRA_HEADERS + 3];
	http_header hh[OBJHTTP_MAX_EXTRA_HEADERS + 3 + 2];
	azsign_result sig = { 0 };
	azsign_request sreq;
	char date[AZSIGN_DATE_LEN], *sas_url = NULL;
	size_t ns = 0, nh = 0;

	sh[ns++] = (azsign_header){ "Host", t->host };
	sh[ns++] = (azsign_header){ "x-ms-version", AZ_API_VERSION };
	for (size_t i = 0; i < c->nextra; i++)
		sh[ns++] = (azsign_header){ c->extra[i].name, c->extra[i].value };
	if (range)
		sh[ns++] = (azsign_header){ "Range", range };
	for (size_t i = 0; i < ns; i++)
		hh[nh++] = (http_header){ sh[i].name, sh[i].value };
	if (s->cred.key) {
		sreq = (azsign_request){ c->method, t->path, c->query, sh, ns,
					 c->body ? c->body->length : 0 };
		if (azsign_sign(&sreq, s->h.base.loc.account, s->cred.key, s->cred.key_len,
				time_now_ms() / 1000, &sig) != ES_OK)
			return ES_ERR_INTERNAL;
		for (size_t i = 0; i < sig.nadd; i++)
			hh[nh++] = (http_header){ sig.add[i].name, sig.add[i].value };
	} else {
		azsign_format_date(time_now_ms() / 1000, date);
		hh[nh++] = (http_header){ "x-ms-date", date };
	}
	if (s->cred.sas)
		sas_url = xasprintf("%s%s%s", t->url, c->query && *c->query ? "&" : "?",
				    s->cred.sas);
	req->url = sas_url ? sas_url : t->url;
	req->headers = hh;
	req->nheaders = nh;
	http_perform(http, req, resp);
	azsign_result_release(&sig);
	if (sas_url) {
		secure_wipe(sas_url, strlen(sas_url));
		free(sas_url);
	}
	return ES_OK;
}

/* Azure's error code: the x-ms-error-code header, else the <Error> body. */
static void az_reply_error(const http_response *r, objhttp_error *out)
{
	const char *h = http_response_header(r, "x-ms-error-code");
	az_error_info e = { 0 };

	if (r->body.data && r->body.len)
		azxml_parse_error(r->body.data, r->body.len, &e);
	out->code = e.code;
	out->message = e.message;
	e.code = e.message = NULL;
	az_error_info_release(&e);
	if (h && *h && (!out->code || strcmp(out->code, h))) {
		free(out->code);
		out->code = xstrndup(h, strlen(h) < 100 ? strlen(h) : 100);
	}
}

static es_result az_status_failure(void *ud, const objhttp_call *c, const objhttp_error *e,
				   bool exhausted, buf *m)
{
	az_store *s = ud;
	const http_response *r = &c->resp;
	const char *code = e->code;
	es_result res = az_error_result(r->status, code, exhausted);

	if (r->status == 412)
		buf_printf(m, "the object changed since it was listed (412 %s)",
			   code ? code : "ConditionNotMet");
	else if (code && !strcmp(code, "ContainerNotFound"))
		buf_printf(m, "container '%s' does not exist in account '%s' "
			   "(404 ContainerNotFound)", s->h.base.loc.bucket, s->h.base.loc.account);
	else
		objhttp_add_status(m, r->status, code ? code : NO_CODE, e->message);
	if (res == ES_ERR_AUTH)
		buf_printf(m, " (%s from %s)", s->cred.key ? "Shared Key" : "SAS token",
			   s->cred.source);
	return res;
}

/* --- list -------------------------------------------------------------- */

static void az_list_query(buf *q, const char *prefix, const char *marker)
{
	char pagesz[16];

	snprintf(pagesz, sizeof(pagesz), "%d", AZ_LIST_PAGE);
	objhttp_query_add(q, "restype", "container");
	objhttp_query_add(q, "comp", "list");
	if (*prefix)
		objhttp_query_add(q, "prefix", prefix);
	if (marker)
		objhttp_query_add(q, "marker", marker);
	objhttp_query_add(q, "maxresults", pagesz);
}

static es_result az_list_parse(const char *body, size_t n, const char *prefix,
			       store_list *out, char **next, char **err)
{
	az_list_page page;

	if (azxml_parse_list_blobs(body, n, &page, err) != ES_OK)
		return ES_ERR_REMOTE;
	for (size_t i = 0; i < page.count; i++) {
		const az_blob_info *b = &page.blobs[i];

		objhttp_list_add(out, prefix, b->name, (uint64_t)b->size, b->mtime_ms, b->etag);
	}
	*next = page.next_marker ? xstrdup(page.next_marker) : NULL;
	az_list_page_release(&page);
	return ES_OK;
}

/* List Blobs, continued with NextMarker */
static const objhttp_lister az_lister = {
	.reply_cap = AZXML_MAX_LIST_BYTES,
	.marker_name = "NextMarker",
	.query = az_list_query,
	.parse = az_list_parse,
};

/* --- put --------------------------------------------------------------- */

/*
 * A block upload: the steps of objhttp's upload lifecycle (objhttp.h).
 * Nothing begins it: blocks are stored uncommitted (invisible, dropped by
 * Azure when not committed), with ids made of the upload's nonce and
 * their index; Put Block List commits them, with the MD5 of the whole
 * blob.  Nothing to take back either.
 */

/* Put Block's query */
static void blocks_part_query(const objhttp_upload *u, size_t n, buf *q)
{
	char id[AZ_BLOCK_ID_LEN];

	az_block_id(u->nonce, n, id);
	objhttp_query_add(q, "comp", "block");
	objhttp_query_add(q, "blockid", id);
}

/* Put Block List of the u->nsent blocks. */
static es_result blocks_commit(objhttp_upload *u)
{
	az_store *s = u->h->ud;
	char id[AZ_BLOCK_ID_LEN];
	objhttp_digest xml_md5;
	objhttp_call c = { 0 };
	buf q = BUF_INIT, xml = BUF_INIT;
	http_body body;
	es_result r;

	buf_addstr(&xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
	for (size_t i = 0; i < u->nsent; i++) {
		az_block_id(u->nonce, i, id);
		buf_printf(&xml, "<Latest>%s</Latest>", id);
	}
	buf_addstr(&xml, "</BlockList>");
	objhttp_digest_mem(xml.data, xml.len, false, &xml_md5);
	body = (http_body){ xml.data, -1, 0, xml.len };
	objhttp_query_add(&q, "comp", "blocklist");
	c.method = "PUT";
	c.key = u->key;
	c.query = q.data;
	c.body = &body;
	c.verb = "write";
	c.url = u->url;
	objhttp_call_header(&c, "Content-MD5", xml_md5.md5_b64);
	objhttp_call_header(&c, "Content-Type", "application/xml");
	objhttp_call_header(&c, "x-ms-blob-content-md5", u->whole_md5_b64);
	objhttp_call_header(&c, "x-ms-blob-content-type", "application/octet-stream");
	r = objhttp_run(&s->h.oh, &c);
	objhttp_call_release(&c);
	buf_release(&q);
	buf_release(&xml);
	return r;
}

static const objhttp_upload_ops az_upload_ops = {
	.limits = &az_limits,
	.body_sha256 = false,
	.whole_md5 = true,         /* x-ms-blob-content-md5 */
	.put_header = { "x-ms-blob-type", "BlockBlob" },   /* Put Blob */
	.begin = NULL,
	.part_query = blocks_part_query,
	.part_stored = NULL,
	.commit = blocks_commit,
	.abort = NULL,
};

/* --- open ------------------------------------------------------------- */

/* objhttp_store_ops.free: what the store holds besides its objhttp_store */
static void az_release(void *ud)
{
	az_store *s = ud;

	az_credentials_release(&s->cred);
	az_settings_release(&s->set);
}

static const objhttp_ops az_http_ops = {
	.no_code = NO_CODE,
	.ca_bundle_env = "REQUESTS_CA_BUNDLE",
	.reply_cap = MAX_REPLY_BYTES,
	.target = az_call_target,
	.send = az_send,
	.reply_error = az_reply_error,
	.status_failure = az_status_failure,
	.upload = &az_upload_ops,
	.lister = &az_lister,
	.release = az_release,
};

es_result store_az_open(const location *loc, store **out)
{
	store_faults faults = STORE_FAULTS_INIT;
	az_store *s;
	buf err = BUF_INIT;
	es_result r;

	*out = NULL;
	if (loc->scheme != LOC_AZ || !loc->account || !loc->bucket)
		return es_error_url(ES_ERR_INTERNAL, loc->url, "'%s': not an az:// location",
				    loc->url);
	if (store_az_check(loc, &faults) != ES_OK) {
		r = store_faults_fail(loc, &faults);
		store_faults_release(&faults);
		return r;
	}
	s = objhttp_store_new(sizeof(*s), &az_http_ops, loc);
	if ((r = az_credentials_load(creds_process_env(), loc->account, loc->credentials_file,
				     &s->cred, &err)) != ES_OK ||
	    (r = az_settings_resolve(loc, s->cred.endpoint, creds_process_env(), &s->set,
				     &err)) != ES_OK) {
		es_error_url(r, loc->url, "'%s': %s", loc->url, err.data);
		buf_release(&err);
		store_free(&s->h.base);
		return r;
	}
	objhttp_init(&s->h.oh, &s->h.base, &az_http_ops, s, s->set.endpoint.host,
		     s->set.ca_bundle, s->set.stall_timeout_s, &s->set.xfer);
	log_msg(LOG_DEBUG, loc->url, "'%s': endpoint %s://%s%s, %s from %s", loc->url,
		s->set.endpoint.scheme, s->set.endpoint.host, s->set.endpoint.base_path,
		s->cred.key ? "Shared Key" : "SAS token", s->cred.source);
	*out = &s->h.base;
	return ES_OK;
}
