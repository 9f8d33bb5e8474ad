/*
 * sigv4.c - AWS Signature Version 4, in the four steps of the spec:
 * canonical request, string to sign, signing key, signature.
 *
 * See sigv4.h for the rules on the inputs.  The working buffers here have
 * no cap of their own: check_input() bounds the inputs, and the canonical
 * forms are at most three times their size plus a few fixed lines.
 */
#include "sigv4.h"
#include "log.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SCOPE_TERMINATOR "aws4_request"
#define MAX_TIME_S INT64_C(253402300799)  /* 9999-12-31T23:59:59Z */

/* A canonical header: lowercase name, trimmed value, and its position in
 * the request so that repeated names keep their order after sorting. */
struct canon_header {
	char *name;
	char *value;
	size_t order;
};

/* A query parameter, name and value both in canonical encoded form. */
struct query_param {
	char *name;
	char *value;
};

struct query_params {
	struct query_param *v;
	size_t n, alloc;
};

/* ---- character classes ---------------------------------------------- */

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~';
}

static bool is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!is_tchar((unsigned char)*s))
			return false;
	return true;
}

/* Non-empty and made of unreserved characters: safe inside the scope. */
static bool is_scope_part(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!is_unreserved((unsigned char)*s))
			return false;
	return true;
}

/* A header value: no control characters but tab. */
static bool is_field_value(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static bool is_upper_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* Already in canonical percent-encoded form (the S3 rule for paths). */
static bool is_canonical_path(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '%') {
			if (!is_upper_hex((unsigned char)s[1]) ||
			    !is_upper_hex((unsigned char)s[2]))
				return false;
			s += 2;
		} else if (c != '/' && !is_unreserved(c)) {
			return false;
		}
	}
	return true;
}

/* ---- public helpers -------------------------------------------------- */

bool sigv4_uri_encode(buf *out, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3];
		bool ok;

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			ok = buf_addch(out, (char)c);
		} else {
			esc[0] = '%';
			esc[1] = hex[c >> 4];
			esc[2] = hex[c & 15];
			ok = buf_add(out, esc, 3);
		}
		if (!ok)
			return false;
	}
	return true;
}

void sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len != 32)
		die("sha-256 failed");
	hex_encode(md, 32, out);
}

void sigv4_result_release(sigv4_result *r)
{
	if (!r)
		return;
	free(r->authorization);
	free(r->amz_date);
	free(r->security_token);
	free(r->content_sha256);
	free(r->canonical_request);
	free(r->string_to_sign);
	memset(r, 0, sizeof(*r));
}

/* ---- checking the inputs --------------------------------------------- */

static es_result check_input(const sigv4_request *req, const sigv4_credentials *cred,
			     const sigv4_params *params)
{
	size_t total;

	if (!req || !cred || !params)
		return es_error(ES_ERR_INTERNAL, "sigv4: missing argument");
	if (!is_token(req->method))
		return es_error(ES_ERR_INTERNAL, "sigv4: bad method");
	if (!req->path || req->path[0] != '/')
		return es_error(ES_ERR_INTERNAL, "sigv4: path must start with '/'");
	if (!params->double_encode && !is_canonical_path(req->path))
		return es_error(ES_ERR_INTERNAL,
				"sigv4: path '%s' is not percent-encoded", req->path);
	if (!req->payload_hash || !is_scope_part(req->payload_hash))
		return es_error(ES_ERR_INTERNAL, "sigv4: bad payload hash");
	if (req->nheaders > SIGV4_MAX_HEADERS || (req->nheaders && !req->headers))
		return es_error(ES_ERR_INTERNAL, "sigv4: bad header list");
	if (!is_scope_part(cred->access_key_id))
		return es_error(ES_ERR_INTERNAL, "sigv4: bad access key id");
	if (!cred->secret_access_key || !*cred->secret_access_key)
		return es_error(ES_ERR_INTERNAL, "sigv4: empty secret access key");
	if (cred->session_token && !is_field_value(cred->session_token))
		return es_error(ES_ERR_INTERNAL, "sigv4: bad session token");
	if (!is_scope_part(params->region))
		return es_error(ES_ERR_INTERNAL, "sigv4: bad region");
	if (!is_scope_part(params->service))
		return es_error(ES_ERR_INTERNAL, "sigv4: bad service");
	if (params->time_s < 0 || params->time_s > MAX_TIME_S)
		return es_error(ES_ERR_INTERNAL, "sigv4: time out of range");

	total = strlen(req->path) + (req->query ? strlen(req->query) : 0);
	for (size_t i = 0; i < req->nheaders; i++) {
		const sigv4_header *h = &req->headers[i];

		if (!is_token(h->name))
			return es_error(ES_ERR_INTERNAL, "sigv4: bad header name");
		if (!h->value || !is_field_value(h->value))
			return es_error(ES_ERR_INTERNAL,
					"sigv4: bad value for header '%s'", h->name);
		if (!strcasecmp(h->name, "authorization"))
			return es_error(ES_ERR_INTERNAL,
					"sigv4: the request already has an authorization header");
		total += strlen(h->name) + strlen(h->value);
		if (total > SIGV4_MAX_INPUT)
			break;
	}
	if (total > SIGV4_MAX_INPUT)
		return es_error(ES_ERR_INTERNAL, "sigv4: request too large to sign");
	return ES_OK;
}

/* ---- step 1: the canonical request ----------------------------------- */

/*
 * Remove "." and ".." segments and empty segments (repeated '/'), keeping
 * a trailing '/', which a final "." or ".." also implies (RFC 3986 5.2.4).
 * The result always starts with '/'.
 */
static void normalize_path(buf *out, const char *path)
{
	size_t *seg = NULL, nseg = 0, alloc = 0;
	size_t plen = strlen(path);
	const char *p = path;
	bool trailing;

	buf_addch(out, '/');
	while (*p) {
		const char *s;
		size_t n;

		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		n = (size_t)(p - s);
		if (n == 0 || (n == 1 && s[0] == '.'))
			continue;
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (nseg) {
				out->len = seg[--nseg];
				out->data[out->len] = '\0';
			}
			continue;
		}
		seg = xgrow(seg, nseg + 1, &alloc, sizeof(*seg));
		seg[nseg++] = out->len;
		if (out->len > 1)
			buf_addch(out, '/');
		buf_add(out, s, n);
	}
	trailing = path[plen - 1] == '/' ||
		   (plen >= 2 && !strcmp(path + plen - 2, "/.")) ||
		   (plen >= 3 && !strcmp(path + plen - 3, "/.."));
	if (trailing && out->len > 1)
		buf_addch(out, '/');
	free(seg);
}

static void canonical_uri(buf *out, const char *path, const sigv4_params *params)
{
	buf norm = BUF_INIT;

	if (params->normalize_path) {
		normalize_path(&norm, path);
		path = norm.data;
	}
	if (params->double_encode)
		sigv4_uri_encode(out, path, strlen(path), true);
	else
		buf_addstr(out, path);
	buf_release(&norm);
}

/* Decode s[0..n) and encode it again the canonical way; NULL if malformed. */
static char *canonical_component(const char *s, size_t n)
{
	buf raw = BUF_INIT, enc = BUF_INIT;
	char *ret = NULL;

	if (pct_decode(&raw, s, n, 0) == PCT_OK) {
		sigv4_uri_encode(&enc, raw.data ? raw.data : "", raw.len, false);
		ret = buf_detach(&enc, NULL);
	}
	buf_release(&raw);
	return ret;
}

static void params_add(struct query_params *qp, char *name, char *value)
{
	qp->v = xgrow(qp->v, qp->n + 1, &qp->alloc, sizeof(*qp->v));
	qp->v[qp->n].name = name;
	qp->v[qp->n].value = value;
	qp->n++;
}

static void params_release(struct query_params *qp)
{
	for (size_t i = 0; i < qp->n; i++) {
		free(qp->v[i].name);
		free(qp->v[i].value);
	}
	free(qp->v);
	qp->v = NULL;
	qp->n = qp->alloc = 0;
}

/* Split the raw query into canonical parameters. */
static es_result params_parse(struct query_params *qp, const char *query)
{
	const char *p = query;

	while (p && *p) {
		const char *end = strchr(p, '&');
		const char *eq;
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *name, *value;

		eq = memchr(p, '=', n);
		if (n) {
			size_t nlen = eq ? (size_t)(eq - p) : n;

			name = canonical_component(p, nlen);
			value = eq ? canonical_component(eq + 1, n - nlen - 1)
				   : xstrdup("");
			if (!name || !value) {
				free(name);
				free(value);
				return es_error(ES_ERR_INTERNAL,
						"sigv4: malformed %%-escape in query");
			}
			params_add(qp, name, value);
		}
		p = end ? end + 1 : NULL;
	}
	return ES_OK;
}

static int param_cmp(const void *a, const void *b)
{
	const struct query_param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

/* Sort the parameters and write them as name=value&... */
static void params_write(buf *out, struct query_params *qp)
{
	if (qp->n)
		qsort(qp->v, qp->n, sizeof(*qp->v), param_cmp);
	for (size_t i = 0; i < qp->n; i++)
		buf_printf(out, "%s%s=%s", i ? "&" : "", qp->v[i].name, qp->v[i].value);
}

/* Trim spaces and tabs, collapse inner runs to one space. */
static char *canonical_header_value(const char *v)
{
	buf b = BUF_INIT;
	bool space = false;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = b.len > 0;
			continue;
		}
		if (space)
			buf_addch(&b, ' ');
		space = false;
		buf_addch(&b, *v);
	}
	return buf_detach(&b, NULL);
}

static char *lowercase(const char *s)
{
	char *l = xstrdup(s);

	for (char *p = l; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return l;
}

static int header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

struct header_set {
	struct canon_header *v;
	size_t n, alloc;
};

static void headers_add(struct header_set *hs, const char *name, const char *value)
{
	hs->v = xgrow(hs->v, hs->n + 1, &hs->alloc, sizeof(*hs->v));
	hs->v[hs->n].name = lowercase(name);
	hs->v[hs->n].value = canonical_header_value(value);
	hs->v[hs->n].order = hs->n;
	hs->n++;
}

static void headers_release(struct header_set *hs)
{
	for (size_t i = 0; i < hs->n; i++) {
		free(hs->v[i].name);
		free(hs->v[i].value);
	}
	free(hs->v);
	hs->v = NULL;
	hs->n = hs->alloc = 0;
}

static const struct canon_header *headers_find(const struct header_set *hs,
					       const char *lname)
{
	for (size_t i = 0; i < hs->n; i++)
		if (!strcmp(hs->v[i].name, lname))
			return &hs->v[i];
	return NULL;
}

/*
 * Sort the set and write the canonical header lines ("name:v1,v2\n") to
 * lines and the signed-header list ("a;b;c") to names.
 */
static void headers_write(buf *lines, buf *names, struct header_set *hs)
{
	if (hs->n)
		qsort(hs->v, hs->n, sizeof(*hs->v), header_cmp);
	for (size_t i = 0; i < hs->n; i++) {
		const struct canon_header *h = &hs->v[i];

		if (i && !strcmp(h->name, hs->v[i - 1].name)) {
			buf_printf(lines, ",%s", h->value);
			continue;
		}
		if (i)
			buf_addch(lines, '\n');
		buf_printf(lines, "%s:%s", h->name, h->value);
		buf_printf(names, "%s%s", names->len ? ";" : "", h->name);
	}
	if (hs->n)
		buf_addch(lines, '\n');
}

/*
 * A header the signer would add that the caller passed itself must carry
 * the same value, or the request would say one thing and sign another.
 */
static es_result check_preset(const struct header_set *hs, const char *lname,
			      const char *want)
{
	const struct canon_header *h = headers_find(hs, lname);

	if (h && (!want || strcmp(h->value, want)))
		return es_error(ES_ERR_INTERNAL,
				"sigv4: header '%s' disagrees with the signing parameters",
				lname);
	return ES_OK;
}

/* ---- steps 3 and 4: signing key and signature ------------------------ */

static bool hmac_sha256(const void *key, size_t klen, const char *msg,
			unsigned char out[32])
{
	unsigned int len = 0;

	if (klen > INT_MAX)
		return false;
	return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
		    strlen(msg), out, &len) && len == 32;
}

/*
 * signature = hex(HMAC(kSigning, string_to_sign)), where kSigning is
 * HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
 * Every key on the way is wiped.
 */
static es_result compute_signature(const char *secret, const char *date,
				   const sigv4_params *params, const char *sts,
				   char sig[65])
{
	size_t slen = strlen(secret);
	size_t klen = 4 + slen;
	char *k_secret = xmalloc(klen);
	unsigned char k_date[32], k_region[32], k_service[32], k_signing[32];
	unsigned char mac[32];
	es_result ret = ES_OK;

	memcpy(k_secret, "AWS4", 4);
	memcpy(k_secret + 4, secret, slen);
	if (!hmac_sha256(k_secret, klen, date, k_date) ||
	    !hmac_sha256(k_date, 32, params->region, k_region) ||
	    !hmac_sha256(k_region, 32, params->service, k_service) ||
	    !hmac_sha256(k_service, 32, SCOPE_TERMINATOR, k_signing) ||
	    !hmac_sha256(k_signing, 32, sts, mac)) {
		ret = es_error(ES_ERR_INTERNAL, "sigv4: hmac-sha256 failed");
		goto done;
	}
	hex_encode(mac, 32, sig);
done:
	secure_wipe(k_secret, klen);
	free(k_secret);
	secure_wipe(k_date, sizeof(k_date));
	secure_wipe(k_region, sizeof(k_region));
	secure_wipe(k_service, sizeof(k_service));
	secure_wipe(k_signing, sizeof(k_signing));
	return ret;
}

/* ---- the whole signature --------------------------------------------- */

/* What one signing needs between the steps. */
struct signing {
	const sigv4_request *req;
	const sigv4_params *params;
	const char *token;          /* NULL when there is none */
	bool sign_token;            /* token present and not omitted */
	char amz_date[20];          /* 20150830T123600Z */
	char date[9];               /* 20150830 */
	char *scope;                /* 20150830/us-east-1/s3/aws4_request */
	char *credential;           /* AKID/<scope> */
	struct header_set hs;
	buf header_lines;           /* "name:value\n" for each signed name */
	buf signed_names;           /* "host;x-amz-date" */
	struct query_params qp;     /* the canonical query */
};

static void signing_release(struct signing *sg)
{
	free(sg->scope);
	free(sg->credential);
	headers_release(&sg->hs);
	buf_release(&sg->header_lines);
	buf_release(&sg->signed_names);
	params_release(&sg->qp);
}

static void result_add(sigv4_result *out, const char *name, const char *value)
{
	out->add[out->nadd].name = name;
	out->add[out->nadd].value = value;
	out->nadd++;
}

/*
 * The signed headers: the caller's, then those the signer adds (listed in
 * out->add as well), unless the caller passed them.
 */
static es_result signing_headers(struct signing *sg, sigv4_result *out)
{
	struct header_set *hs = &sg->hs;
	const sigv4_request *req = sg->req;
	es_result ret;

	for (size_t i = 0; i < req->nheaders; i++)
		headers_add(hs, req->headers[i].name, req->headers[i].value);
	if (!headers_find(hs, "host"))
		return es_error(ES_ERR_INTERNAL, "sigv4: no host header to sign");
	if ((ret = check_preset(hs, "x-amz-date", sg->amz_date)) ||
	    (ret = check_preset(hs, "x-amz-content-sha256", req->payload_hash)) ||
	    (ret = check_preset(hs, "x-amz-security-token",
				sg->sign_token ? sg->token : NULL)))
		return ret;
	if (sg->token && !headers_find(hs, "x-amz-security-token")) {
		out->security_token = xstrdup(sg->token);
		result_add(out, "X-Amz-Security-Token", out->security_token);
		if (sg->sign_token)
			headers_add(hs, "x-amz-security-token", sg->token);
	}
	if (!headers_find(hs, "x-amz-date")) {
		headers_add(hs, "x-amz-date", sg->amz_date);
		result_add(out, "X-Amz-Date", out->amz_date);
	}
	if (sg->params->add_content_sha256 && !headers_find(hs, "x-amz-content-sha256")) {
		out->content_sha256 = xstrdup(req->payload_hash);
		headers_add(hs, "x-amz-content-sha256", out->content_sha256);
		result_add(out, "x-amz-content-sha256", out->content_sha256);
	}
	headers_write(&sg->header_lines, &sg->signed_names, hs);
	return ES_OK;
}

/* Step 1: method, URI, query, header lines, signed names, payload hash. */
static char *canonical_request(struct signing *sg)
{
	buf b = BUF_INIT;

	buf_printf(&b, "%s\n", sg->req->method);
	canonical_uri(&b, sg->req->path, sg->params);
	buf_addch(&b, '\n');
	params_write(&b, &sg->qp);
	buf_printf(&b, "\n%s\n%s\n%s", sg->header_lines.data,
		   sg->signed_names.data, sg->req->payload_hash);
	return buf_detach(&b, NULL);
}

/* Step 2: algorithm, time, scope, hash of the canonical request. */
static char *string_to_sign(const struct signing *sg, const char *creq)
{
	char hash[65];

	sigv4_sha256_hex(creq, strlen(creq), hash);
	return xasprintf(ALGORITHM "\n%s\n%s\n%s", sg->amz_date, sg->scope, hash);
}

/* What the caller sends: the Authorization header, added last. */
static void signing_finish(const struct signing *sg, sigv4_result *out)
{
	out->authorization = xasprintf(ALGORITHM " Credential=%s, SignedHeaders=%s, Signature=%s",
				       sg->credential, sg->signed_names.data, out->signature);
	result_add(out, "Authorization", out->authorization);
}

es_result sigv4_sign_headers(const sigv4_request *req, const sigv4_credentials *cred,
			     const sigv4_params *params, sigv4_result *out)
{
	struct signing sg;
	es_result ret;

	memset(out, 0, sizeof(*out));
	memset(&sg, 0, sizeof(sg));
	ret = check_input(req, cred, params);
	if (ret)
		return ret;

	sg.req = req;
	sg.params = params;
	sg.token = cred->session_token && *cred->session_token ? cred->session_token : NULL;
	sg.sign_token = sg.token && !params->omit_session_token;
	time_format_compact(params->time_s * 1000, sg.amz_date);
	memcpy(sg.date, sg.amz_date, 8);
	sg.scope = xasprintf("%s/%s/%s/" SCOPE_TERMINATOR, sg.date, params->region,
			     params->service);
	sg.credential = xasprintf("%s/%s", cred->access_key_id, sg.scope);
	out->amz_date = xstrdup(sg.amz_date);

	if ((ret = signing_headers(&sg, out)) || (ret = params_parse(&sg.qp, req->query)))
		goto done;
	out->canonical_request = canonical_request(&sg);
	out->string_to_sign = string_to_sign(&sg, out->canonical_request);
	/* Steps 3 and 4. */
	ret = compute_signature(cred->secret_access_key, sg.date, params,
				out->string_to_sign, out->signature);
	if (ret)
		goto done;
	signing_finish(&sg, out);
done:
	signing_release(&sg);
	if (ret)
		sigv4_result_release(out);
	return ret;
}
