/*
 * check_sigv4.c - the SigV4 signer against the AWS test suite and the S3
 * worked examples (tests/data/sigv4/, see README.md there), plus the cases
 * the S3 backend depends on: key and query encoding, session tokens,
 * headers passed by the caller, refused arguments, and no secret in any
 * output.
 *
 * Only the header form is run: evshare signs no presigned URLs, so the
 * query-* files of the vectors (every suite case has them, and
 * s3/presigned-get-object has nothing else) are kept with the copy of the
 * suite but not compared.
 */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "sigv4.h"
#include "util.h"

#define VECTOR_CASES       43  /* 38 suite cases and 5 S3 ones */
#define VECTOR_HEADER_CASES 42  /* every suite case and 4 S3 ones */
#define QUERY_ONLY_CASE    "s3/presigned-get-object"
#define FILE_CAP (1024 * 1024)

/* ---- reading the vectors --------------------------------------------- */

static const char *data_dir(void)
{
	const char *d = getenv("EVSHARE_TEST_DATA");

	return d && *d ? d : "tests/data";
}

/* The case directories, suite first, then s3/, each sorted. */
static size_t vector_dirs(char ***out)
{
	const char *const pats[] = { "sigv4/*/context.json", "sigv4/s3/*/context.json" };
	char **dirs = NULL;
	size_t n = 0, alloc = 0;

	for (size_t p = 0; p < 2; p++) {
		char *pat = xasprintf("%s/%s", data_dir(), pats[p]);
		glob_t g;

		if (glob(pat, 0, NULL, &g) == 0) {
			for (size_t i = 0; i < g.gl_pathc; i++) {
				char *slash = strrchr(g.gl_pathv[i], '/');

				dirs = xgrow(dirs, n + 1, &alloc, sizeof(*dirs));
				dirs[n++] = xstrndup(g.gl_pathv[i],
						     (size_t)(slash - g.gl_pathv[i]));
			}
			globfree(&g);
		}
		free(pat);
	}
	*out = dirs;
	return n;
}

static void free_dirs(char **dirs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

/* Read dir/name into b; false if it does not exist. */
static bool read_case_file(const char *dir, const char *name, buf *b)
{
	char *path = xasprintf("%s/%s", dir, name);
	int r;

	buf_reset(b);
	r = read_file(path, b, FILE_CAP);
	free(path);
	if (r == 0 && !b->data)
		buf_addstr(b, "");
	return r == 0;
}

static bool case_has(const char *dir, const char *name)
{
	buf b = BUF_INIT;
	bool ok = read_case_file(dir, name, &b);

	buf_release(&b);
	return ok;
}

/* The case directories with header-form files, in vector_dirs() order. */
static size_t header_vector_dirs(char ***out)
{
	char **dirs;
	size_t n = vector_dirs(&dirs), k = 0;

	for (size_t i = 0; i < n; i++) {
		if (case_has(dirs[i], "header-canonical-request.txt"))
			dirs[k++] = dirs[i];
		else
			free(dirs[i]);
	}
	*out = dirs;
	return k;
}

/* ---- the request.txt format ------------------------------------------ */

struct http_field {
	char *name;
	char *value;
};

struct http_msg {
	char *method;
	char *target;               /* request-target as written */
	char *path;
	char *query;                /* NULL when there is no '?' */
	struct http_field *h;
	size_t nh, alloc;
	char *head_lines;           /* the header lines verbatim */
	char *body;
	size_t body_len;
	bool blank;                 /* an empty line ends the headers */
};

static void http_msg_release(struct http_msg *m)
{
	free(m->method);
	free(m->target);
	free(m->path);
	free(m->query);
	for (size_t i = 0; i < m->nh; i++) {
		free(m->h[i].name);
		free(m->h[i].value);
	}
	free(m->h);
	free(m->head_lines);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

/*
 * Parse "METHOD SP target SP HTTP/1.1", header lines "Name:value" (a line
 * starting with whitespace continues the previous value, joined with one
 * space), then an optional empty line and body.
 */
static bool http_parse(const char *text, size_t len, struct http_msg *m)
{
	static const char version[] = " HTTP/1.1";
	const char *end = text + len, *p = text, *eol, *sp, *q, *heads;

	memset(m, 0, sizeof(*m));
	eol = memchr(p, '\n', len);
	if (!eol)
		return false;
	sp = memchr(p, ' ', (size_t)(eol - p));
	if (!sp || (size_t)(eol - sp) < sizeof(version) ||
	    memcmp(eol - (sizeof(version) - 1), version, sizeof(version) - 1))
		return false;
	m->method = xstrndup(p, (size_t)(sp - p));
	m->target = xstrndup(sp + 1, (size_t)(eol - (sizeof(version) - 1) - sp - 1));
	q = strchr(m->target, '?');
	m->path = q ? xstrndup(m->target, (size_t)(q - m->target)) : xstrdup(m->target);
	m->query = q ? xstrdup(q + 1) : NULL;

	heads = p = eol + 1;
	while (p < end) {
		const char *colon;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if (eol == p) {
			m->blank = true;
			m->head_lines = xstrndup(heads, (size_t)(p - heads));
			p = eol + 1;
			m->body_len = p < end ? (size_t)(end - p) : 0;
			m->body = xstrndup(p < end ? p : "", m->body_len);
			return true;
		}
		if (*p == ' ' || *p == '\t') {
			char *old;

			if (!m->nh)
				return false;
			while (p < eol && (*p == ' ' || *p == '\t'))
				p++;
			old = m->h[m->nh - 1].value;
			m->h[m->nh - 1].value = xasprintf("%s %.*s", old, (int)(eol - p), p);
			free(old);
		} else {
			colon = memchr(p, ':', (size_t)(eol - p));
			if (!colon)
				return false;
			m->h = xgrow(m->h, m->nh + 1, &m->alloc, sizeof(*m->h));
			m->h[m->nh].name = xstrndup(p, (size_t)(colon - p));
			m->h[m->nh].value = xstrndup(colon + 1, (size_t)(eol - colon - 1));
			m->nh++;
		}
		p = eol < end ? eol + 1 : end;
	}
	m->head_lines = xstrndup(heads, (size_t)(end - heads));
	m->body = xstrdup("");
	return true;
}

static int strptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Split a query on '&' into a sorted list (a multiset). */
static size_t query_split(const char *q, char ***out)
{
	char **v = NULL;
	size_t n = 0, alloc = 0;

	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);

		v = xgrow(v, n + 1, &alloc, sizeof(*v));
		v[n++] = xstrndup(q, len);
		q = amp ? amp + 1 : NULL;
	}
	if (n)
		qsort(v, n, sizeof(*v), strptr_cmp);
	*out = v;
	return n;
}

/* Trim optional whitespace; in Authorization, ", " and "," are the same. */
static char *loose_value(const char *name, const char *v)
{
	buf b = BUF_INIT;
	size_t n;

	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < n; i++) {
		buf_addch(&b, v[i]);
		if (v[i] == ',' && !strcasecmp(name, "authorization"))
			while (i + 1 < n && v[i + 1] == ' ')
				i++;
	}
	return buf_detach(&b, NULL);
}

/*
 * Compare two signed requests the way README.md says: header names
 * without case, query parameters in any order; everything else exactly.
 * Returns NULL when equal, else a description of the first difference.
 */
static char *signed_request_diff(const char *want, size_t want_len,
				 const char *got, size_t got_len)
{
	struct http_msg a, b;
	char **qa = NULL, **qb = NULL;
	size_t nqa = 0, nqb = 0;
	char *diff = NULL;

	if (!http_parse(want, want_len, &a)) {
		http_msg_release(&a);
		return xstrdup("expected signed request does not parse");
	}
	if (!http_parse(got, got_len, &b)) {
		diff = xstrdup("signed request does not parse");
		goto done;
	}
	nqa = query_split(a.query, &qa);
	nqb = query_split(b.query, &qb);
	if (strcmp(a.method, b.method) || strcmp(a.path, b.path)) {
		diff = xasprintf("request line: '%s %s' vs '%s %s'", a.method,
				 a.path, b.method, b.path);
		goto done;
	}
	if (nqa != nqb) {
		diff = xasprintf("query: %zu vs %zu parameters", nqa, nqb);
		goto done;
	}
	for (size_t i = 0; i < nqa; i++)
		if (strcmp(qa[i], qb[i])) {
			diff = xasprintf("query parameter: '%s' vs '%s'", qa[i], qb[i]);
			goto done;
		}
	if (a.nh != b.nh) {
		diff = xasprintf("%zu vs %zu headers", a.nh, b.nh);
		goto done;
	}
	for (size_t i = 0; i < a.nh && !diff; i++) {
		char *va = loose_value(a.h[i].name, a.h[i].value);
		char *vb = loose_value(b.h[i].name, b.h[i].value);

		if (strcasecmp(a.h[i].name, b.h[i].name) || strcmp(va, vb))
			diff = xasprintf("header %zu: '%s: %s' vs '%s: %s'", i,
					 a.h[i].name, va, b.h[i].name, vb);
		free(va);
		free(vb);
	}
	if (!diff && (a.blank != b.blank || a.body_len != b.body_len ||
		      memcmp(a.body, b.body, a.body_len)))
		diff = xstrdup("body differs");
done:
	for (size_t i = 0; i < nqa; i++)
		free(qa[i]);
	for (size_t i = 0; i < nqb; i++)
		free(qb[i]);
	free(qa);
	free(qb);
	http_msg_release(&a);
	http_msg_release(&b);
	return diff;
}

/* ---- one vector case --------------------------------------------------- */

struct vector {
	char *name;                 /* "get-vanilla", "s3/get-object" */
	struct http_msg req;
	sigv4_header *headers;
	char *strs[8];              /* strings of context.json, decoded */
	size_t nstrs;
	sigv4_credentials cred;
	sigv4_params params;
	sigv4_request sreq;
	char body_hash[65];
};

/* The string member key of obj, decoded and kept by v until its release;
 * NULL when obj has none. */
static const char *json_str(struct vector *v, json_value obj, const char *key)
{
	json_value s;
	char *d;

	if (!json_object_get(obj, key, strlen(key), &s) || s.type != JSON_STRING)
		return NULL;
	d = json_string_dup(s, NULL);
	ck_assert_msg(d && v->nstrs < sizeof(v->strs) / sizeof(v->strs[0]),
		      "%s: context.json: %s", v->name, key);
	v->strs[v->nstrs++] = d;
	return d;
}

static bool json_bool(json_value obj, const char *key, bool dflt)
{
	json_value b;

	if (!json_object_get(obj, key, strlen(key), &b) ||
	    (b.type != JSON_TRUE && b.type != JSON_FALSE))
		return dflt;
	return b.type == JSON_TRUE;
}

static void vector_load(struct vector *v, const char *dir)
{
	buf b = BUF_INIT, cb = BUF_INIT;
	json_value ctx, creds;
	json_error jerr;
	const char *ts, *hash;
	int64_t ms = 0;

	memset(v, 0, sizeof(*v));
	v->name = xstrdup(strstr(dir, "sigv4/") + strlen("sigv4/"));

	ck_assert_msg(read_case_file(dir, "context.json", &cb), "%s: no context.json", v->name);
	ck_assert_msg(json_parse(cb.data, cb.len, JSON_DEFAULT_MAX_DEPTH, &ctx, &jerr) &&
		      ctx.type == JSON_OBJECT, "%s: context.json does not parse", v->name);
	ck_assert_msg(read_case_file(dir, "request.txt", &b), "%s: no request.txt", v->name);
	ck_assert_msg(http_parse(b.data, b.len, &v->req), "%s: request.txt does not parse", v->name);
	buf_release(&b);

	if (!json_object_get(ctx, "credentials", 11, &creds))
		creds.type = 0;
	v->cred.access_key_id = json_str(v, creds, "access_key_id");
	v->cred.secret_access_key = json_str(v, creds, "secret_access_key");
	v->cred.session_token = json_str(v, creds, "token");
	ck_assert_msg(v->cred.access_key_id && v->cred.secret_access_key,
		      "%s: no credentials", v->name);

	ts = json_str(v, ctx, "timestamp");
	ck_assert_msg(ts && time_parse_rfc3339(ts, &ms), "%s: bad timestamp", v->name);
	v->params.region = json_str(v, ctx, "region");
	v->params.service = json_str(v, ctx, "service");
	v->params.time_s = ms / 1000;
	v->params.normalize_path = json_bool(ctx, "normalize", false);
	v->params.double_encode = json_bool(ctx, "double_uri_encode", true);
	v->params.add_content_sha256 = json_bool(ctx, "sign_body", false);
	v->params.omit_session_token = json_bool(ctx, "omit_session_token", false);

	/* sign_body: hash the body; otherwise the empty hash, unless given. */
	hash = json_str(v, ctx, "payload_hash");
	if (!hash && v->params.add_content_sha256) {
		sigv4_sha256_hex(v->req.body, v->req.body_len, v->body_hash);
		hash = v->body_hash;
	}
	buf_release(&cb);   /* what it held is decoded in v->strs */

	v->headers = xcalloc(v->req.nh ? v->req.nh : 1, sizeof(*v->headers));
	for (size_t i = 0; i < v->req.nh; i++) {
		v->headers[i].name = v->req.h[i].name;
		v->headers[i].value = v->req.h[i].value;
	}
	v->sreq.method = v->req.method;
	v->sreq.path = v->req.path;
	v->sreq.query = v->req.query;
	v->sreq.headers = v->headers;
	v->sreq.nheaders = v->req.nh;
	v->sreq.payload_hash = hash ? hash : SIGV4_EMPTY_SHA256;
}

static void vector_release(struct vector *v)
{
	free(v->name);
	http_msg_release(&v->req);
	free(v->headers);
	for (size_t i = 0; i < v->nstrs; i++)
		free(v->strs[i]);
	memset(v, 0, sizeof(*v));
}

static void assert_no_secret(const sigv4_result *r, const char *secret, const char *what)
{
	const char *const s[] = {
		r->authorization, r->amz_date, r->security_token,
		r->content_sha256, r->canonical_request, r->string_to_sign,
		r->signature,
	};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		ck_assert_msg(!s[i] || !strstr(s[i], secret),
			      "%s: the secret appears in result string %zu", what, i);
	for (size_t i = 0; i < r->nadd; i++)
		ck_assert_msg(!strstr(r->add[i].value, secret),
			      "%s: the secret appears in header %s", what, r->add[i].name);
}

/* Compare a result string with prefix-canonical-request.txt and friends. */
static void expect_file(const struct vector *v, const char *dir, const char *file,
			const char *got)
{
	buf want = BUF_INIT;

	if (read_case_file(dir, file, &want)) {
		ck_assert_msg(strlen(got) == want.len && !memcmp(got, want.data, want.len),
			      "%s: %s differs\n--- expected\n%s\n--- got\n%s",
			      v->name, file, want.data, got);
	}
	buf_release(&want);
}

static void expect_signed_request(const struct vector *v, const char *dir,
				  const char *file, const buf *got)
{
	buf want = BUF_INIT;

	if (read_case_file(dir, file, &want)) {
		char *diff = signed_request_diff(want.data, want.len, got->data, got->len);

		ck_assert_msg(!diff, "%s: %s: %s\n--- got\n%s", v->name, file,
			      diff ? diff : "", got->data);
	}
	buf_release(&want);
}

static void check_header_form(const struct vector *v, const char *dir)
{
	sigv4_result r;
	buf sreq = BUF_INIT;

	ck_assert_msg(sigv4_sign_headers(&v->sreq, &v->cred, &v->params, &r) == ES_OK,
		      "%s: header signing failed", v->name);
	expect_file(v, dir, "header-canonical-request.txt", r.canonical_request);
	expect_file(v, dir, "header-string-to-sign.txt", r.string_to_sign);
	expect_file(v, dir, "header-signature.txt", r.signature);

	buf_printf(&sreq, "%s %s HTTP/1.1\n%s", v->req.method, v->req.target,
		   v->req.head_lines);
	for (size_t i = 0; i < r.nadd; i++)
		buf_printf(&sreq, "%s:%s\n", r.add[i].name, r.add[i].value);
	buf_addch(&sreq, '\n');
	buf_add(&sreq, v->req.body, v->req.body_len);
	expect_signed_request(v, dir, "header-signed-request.txt", &sreq);

	assert_no_secret(&r, v->cred.secret_access_key, v->name);
	buf_release(&sreq);
	sigv4_result_release(&r);
}

START_TEST(vector_case)
{
	char **dirs;
	size_t n = header_vector_dirs(&dirs);
	struct vector v;

	ck_assert_msg(n == VECTOR_HEADER_CASES, "found %zu header-form vector cases under "
		      "'%s/sigv4', want %d", n, data_dir(), VECTOR_HEADER_CASES);
	vector_load(&v, dirs[_i]);
	check_header_form(&v, dirs[_i]);
	vector_release(&v);
	free_dirs(dirs, n);
}
END_TEST

/* Every case is there, with the header files README.md promises; the one
 * without them is the presigned URL, which evshare does not make. */
START_TEST(vector_inventory)
{
	static const char *const files[] = {
		"header-canonical-request.txt", "header-string-to-sign.txt",
		"header-signature.txt", "header-signed-request.txt",
	};
	char **dirs;
	size_t n = vector_dirs(&dirs), nheader = 0;

	ck_assert_uint_eq(n, VECTOR_CASES);
	for (size_t i = 0; i < n; i++) {
		size_t have = 0;

		for (size_t f = 0; f < 4; f++)
			have += case_has(dirs[i], files[f]);
		ck_assert_msg(have == 0 || have == 4, "%s: %zu of 4 header files", dirs[i], have);
		if (have)
			nheader++;
		else
			ck_assert_str_eq(strstr(dirs[i], "sigv4/") + strlen("sigv4/"),
					 QUERY_ONLY_CASE);
	}
	ck_assert_uint_eq(nheader, VECTOR_HEADER_CASES);
	free_dirs(dirs, n);
}
END_TEST

/* ---- the signer's own rules ------------------------------------------ */

static char *encode(const char *s, bool keep_slash)
{
	buf b = BUF_INIT;

	ck_assert(sigv4_uri_encode(&b, s, strlen(s), keep_slash));
	return buf_detach(&b, NULL);
}

#define ck_encode(in, keep, want)			\
	do {						\
		char *got_ = encode(in, keep);		\
		ck_assert_str_eq(got_, want);		\
		free(got_);				\
	} while (0)

START_TEST(uri_encode_keys)
{
	buf b;

	ck_encode("", false, "");
	ck_encode("a b", true, "a%20b");
	ck_encode("a+b", true, "a%2Bb");
	ck_encode("k=v", false, "k%3Dv");
	ck_encode("100%", true, "100%25");
	ck_encode("%20", true, "%2520");
	ck_encode("-._~AZaz09", false, "-._~AZaz09");
	ck_encode("caf\xc3\xa9", true, "caf%C3%A9");
	ck_encode("\xe1\x88\xb4", false, "%E1%88%B4");
	ck_encode("a$b!*'()", true, "a%24b%21%2A%27%28%29");
	ck_encode("dir/sub/key.gz", true, "dir/sub/key.gz");
	ck_encode("dir/sub/key.gz", false, "dir%2Fsub%2Fkey.gz");
	ck_encode("\x01\x7f\xff", false, "%01%7F%FF");

	/* Bytes after a NUL count: n, not strlen, is the length. */
	buf_init(&b, 0);
	ck_assert(sigv4_uri_encode(&b, "a\0b", 3, false));
	ck_assert_str_eq(b.data, "a%00b");
	buf_release(&b);

	/* A cap that would be passed is reported. */
	buf_init(&b, 4);
	ck_assert(!sigv4_uri_encode(&b, "a b", 3, false));
	buf_release(&b);
}
END_TEST

START_TEST(sha256_hex)
{
	char h[65];

	sigv4_sha256_hex("", 0, h);
	ck_assert_str_eq(h, SIGV4_EMPTY_SHA256);
	sigv4_sha256_hex("abc", 3, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

static const sigv4_credentials test_cred = {
	"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL
};

static sigv4_params s3_params(void)
{
	sigv4_params p;

	memset(&p, 0, sizeof(p));
	p.region = "us-east-1";
	p.service = "s3";
	p.time_s = 1369353600;          /* 2013-05-24T00:00:00Z */
	p.add_content_sha256 = true;
	return p;
}

static const sigv4_header host_only[] = {
	{ "Host", "examplebucket.s3.amazonaws.com" },
};

/* The third line of the canonical request for an S3 GET of "/" with query. */
static char *canonical_query_of(const char *query, es_result *res)
{
	sigv4_request req = { "GET", "/", query, host_only, 1, SIGV4_EMPTY_SHA256 };
	sigv4_params p = s3_params();
	sigv4_result r;
	char *line = NULL;

	*res = sigv4_sign_headers(&req, &test_cred, &p, &r);
	if (*res == ES_OK) {
		const char *s = strchr(strchr(r.canonical_request, '\n') + 1, '\n') + 1;

		line = xstrndup(s, (size_t)(strchr(s, '\n') - s));
	}
	sigv4_result_release(&r);
	return line;
}

#define ck_canon_query(in, want)				\
	do {							\
		es_result res_;					\
		char *got_ = canonical_query_of(in, &res_);	\
		ck_assert_int_eq(res_, ES_OK);			\
		ck_assert_str_eq(got_, want);			\
		free(got_);					\
	} while (0)

START_TEST(canonical_query)
{
	es_result res;
	char *line;

	/* '+' is a literal plus; %XX is decoded and re-encoded; '/' is encoded. */
	ck_canon_query("list-type=2&prefix=a%2Fb&continuation-token=ab+c/d=",
		       "continuation-token=ab%2Bc%2Fd%3D&list-type=2&prefix=a%2Fb");
	ck_canon_query("uploads", "uploads=");
	ck_canon_query("uploadId=x%2By&partNumber=10", "partNumber=10&uploadId=x%2By");
	ck_canon_query("prefix=a%2fb%7e%20c", "prefix=a%2Fb~%20c");
	ck_canon_query("b=2&a=2&a=1&A=3", "A=3&a=1&a=2&b=2");
	ck_canon_query("a=1&&b=&", "a=1&b=");
	ck_canon_query("", "");
	ck_canon_query(NULL, "");
	ck_canon_query("delete", "delete=");
	ck_canon_query("k=caf\xc3\xa9", "k=caf%C3%A9");

	line = canonical_query_of("prefix=%G1", &res);
	ck_assert_int_eq(res, ES_ERR_INTERNAL);
	ck_assert_ptr_null(line);
	line = canonical_query_of("prefix=abc%2", &res);
	ck_assert_int_eq(res, ES_ERR_INTERNAL);
	ck_assert_ptr_null(line);
}
END_TEST

/* The second line of the canonical request for a path. */
static char *canonical_uri_of(const char *path, bool normalize, bool double_encode,
			      es_result *res)
{
	sigv4_request req = { "GET", path, NULL, host_only, 1, SIGV4_EMPTY_SHA256 };
	sigv4_params p = s3_params();
	sigv4_result r;
	char *line = NULL;

	p.normalize_path = normalize;
	p.double_encode = double_encode;
	*res = sigv4_sign_headers(&req, &test_cred, &p, &r);
	if (*res == ES_OK) {
		const char *s = strchr(r.canonical_request, '\n') + 1;

		line = xstrndup(s, (size_t)(strchr(s, '\n') - s));
	}
	sigv4_result_release(&r);
	return line;
}

#define ck_canon_uri(in, norm, dbl, want)				\
	do {								\
		es_result res_;						\
		char *got_ = canonical_uri_of(in, norm, dbl, &res_);	\
		ck_assert_int_eq(res_, ES_OK);				\
		ck_assert_str_eq(got_, want);				\
		free(got_);						\
	} while (0)

START_TEST(canonical_uri)
{
	es_result res;

	/* S3: the wire path as is. */
	ck_canon_uri("/bucket/dir/a%20b%2Bc", false, false, "/bucket/dir/a%20b%2Bc");
	ck_canon_uri("/bucket//x/./y/../", false, false, "/bucket//x/./y/../");
	/* Other services: encoded once more, normalized when asked. */
	ck_canon_uri("/a%20b", false, true, "/a%2520b");
	ck_canon_uri("/a b/\xe1\x88\xb4", false, true, "/a%20b/%E1%88%B4");
	ck_canon_uri("/a/b/../c/./d/", true, true, "/a/c/d/");
	ck_canon_uri("/a/b/..", true, true, "/a/");
	ck_canon_uri("/a/.", true, true, "/a/");
	ck_canon_uri("/..", true, true, "/");
	ck_canon_uri("/../../a", true, true, "/a");
	ck_canon_uri("///", true, true, "/");
	ck_canon_uri("/a//b", true, true, "/a/b");

	/* S3 paths must be encoded already, in canonical form. */
	ck_assert_ptr_null(canonical_uri_of("/bucket/a b", false, false, &res));
	ck_assert_int_eq(res, ES_ERR_INTERNAL);
	ck_assert_ptr_null(canonical_uri_of("/bucket/a%2fb", false, false, &res));
	ck_assert_int_eq(res, ES_ERR_INTERNAL);
	ck_assert_ptr_null(canonical_uri_of("/bucket/a%2", false, false, &res));
	ck_assert_int_eq(res, ES_ERR_INTERNAL);
	ck_assert_ptr_null(canonical_uri_of("bucket/a", false, false, &res));
	ck_assert_int_eq(res, ES_ERR_INTERNAL);
}
END_TEST

static const char *find_added(const sigv4_result *r, const char *name)
{
	for (size_t i = 0; i < r->nadd; i++)
		if (!strcasecmp(r->add[i].name, name))
			return r->add[i].value;
	return NULL;
}

/* A session token is sent and signed; nothing holds the secret. */
START_TEST(session_token)
{
	static const char token[] = "FQoGZXIvYXdzE+/token/==";
	sigv4_credentials cred = test_cred;
	sigv4_header hdrs[] = {
		{ "Host", "examplebucket.s3.amazonaws.com" },
		{ "Range", "bytes=0-9" },
	};
	sigv4_request req = { "GET", "/test.txt", "versionId=1", hdrs, 2, SIGV4_EMPTY_SHA256 };
	sigv4_params p = s3_params();
	sigv4_result r;

	cred.session_token = token;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_OK);
	ck_assert_uint_eq(r.nadd, 4);
	ck_assert_str_eq(r.add[0].name, "X-Amz-Security-Token");
	ck_assert_str_eq(r.add[0].value, token);
	ck_assert_str_eq(r.add[1].name, "X-Amz-Date");
	ck_assert_str_eq(r.add[1].value, "20130524T000000Z");
	ck_assert_str_eq(r.add[2].name, "x-amz-content-sha256");
	ck_assert_str_eq(r.add[2].value, SIGV4_EMPTY_SHA256);
	ck_assert_str_eq(r.add[3].name, "Authorization");
	ck_assert_ptr_eq(r.add[3].value, r.authorization);
	ck_assert_ptr_nonnull(strstr(r.canonical_request,
				     "\nx-amz-security-token:FQoGZXIvYXdzE+/token/==\n"));
	ck_assert_ptr_nonnull(strstr(r.authorization,
		"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date;x-amz-security-token, "));
	ck_assert_ptr_nonnull(strstr(r.authorization,
		"Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "));
	assert_no_secret(&r, cred.secret_access_key, "session token, headers");
	sigv4_result_release(&r);
}
END_TEST

/* Headers the signer adds may come from the caller instead, if they agree. */
START_TEST(caller_auth_headers)
{
	static const char token[] = "tok";
	sigv4_credentials cred = test_cred;
	sigv4_header plain[] = { { "Host", "b.example" } };
	sigv4_header preset[] = {
		{ "host", "b.example" },
		{ "X-AMZ-DATE", " 20130524T000000Z " },
		{ "x-amz-content-sha256", SIGV4_EMPTY_SHA256 },
		{ "x-amz-security-token", token },
	};
	sigv4_request req = { "DELETE", "/k", NULL, plain, 1, SIGV4_EMPTY_SHA256 };
	sigv4_params p = s3_params();
	sigv4_result a, b;

	cred.session_token = token;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &a), ES_OK);
	req.headers = preset;
	req.nheaders = 4;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &b), ES_OK);
	ck_assert_str_eq(a.signature, b.signature);
	ck_assert_str_eq(a.canonical_request, b.canonical_request);
	ck_assert_uint_eq(b.nadd, 1);
	ck_assert_str_eq(b.add[0].name, "Authorization");
	ck_assert_ptr_nonnull(find_added(&a, "x-amz-date"));
	sigv4_result_release(&a);
	sigv4_result_release(&b);

	/* A different date, hash or token is refused. */
	preset[1].value = "20130524T000001Z";
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &b), ES_ERR_INTERNAL);
	ck_assert_ptr_null(b.canonical_request);
	ck_assert_uint_eq(b.nadd, 0);
	preset[1].value = "20130524T000000Z";
	preset[2].value = SIGV4_UNSIGNED_PAYLOAD;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &b), ES_ERR_INTERNAL);
	preset[2].value = SIGV4_EMPTY_SHA256;
	cred.session_token = NULL;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &b), ES_ERR_INTERNAL);
	sigv4_result_release(&b);
}
END_TEST

/* Canonical headers: trimmed, collapsed, lowercased, repeats joined in order. */
START_TEST(canonical_headers)
{
	sigv4_header hdrs[] = {
		{ "X-Amz-Meta-B", "  two\t\tspaced   words " },
		{ "host", "h.example" },
		{ "x-amz-meta-a", "first" },
		{ "X-AMZ-META-A", "second" },
		{ "x-amz-meta-empty", "   " },
	};
	sigv4_request req = { "PUT", "/b/k", NULL, hdrs, 5, SIGV4_UNSIGNED_PAYLOAD };
	sigv4_params p = s3_params();
	sigv4_result r;

	p.add_content_sha256 = false;
	ck_assert_int_eq(sigv4_sign_headers(&req, &test_cred, &p, &r), ES_OK);
	ck_assert_str_eq(r.canonical_request,
			 "PUT\n/b/k\n\n"
			 "host:h.example\n"
			 "x-amz-date:20130524T000000Z\n"
			 "x-amz-meta-a:first,second\n"
			 "x-amz-meta-b:two spaced words\n"
			 "x-amz-meta-empty:\n"
			 "\n"
			 "host;x-amz-date;x-amz-meta-a;x-amz-meta-b;x-amz-meta-empty\n"
			 "UNSIGNED-PAYLOAD");
	ck_assert_uint_eq(r.nadd, 2);
	ck_assert_ptr_null(r.content_sha256);
	sigv4_result_release(&r);
}
END_TEST

/* Bugs in the caller are refused with an empty result. */
START_TEST(refused_arguments)
{
	sigv4_header crlf[] = { { "Host", "h" }, { "X-A", "a\r\nX-Evil: 1" } };
	sigv4_header auth[] = { { "Host", "h" }, { "Authorization", "x" } };
	sigv4_header badname[] = { { "Host", "h" }, { "X A", "x" } };
	sigv4_header nohost[] = { { "X-A", "a" } };
	sigv4_request req = { "GET", "/", NULL, host_only, 1, SIGV4_EMPTY_SHA256 };
	sigv4_credentials cred = test_cred;
	sigv4_params p = s3_params();
	sigv4_result r;

	req.headers = crlf;
	req.nheaders = 2;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_ERR_INTERNAL);
	ck_assert_ptr_null(r.amz_date);
	req.headers = auth;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_ERR_INTERNAL);
	req.headers = badname;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_ERR_INTERNAL);
	req.headers = nohost;
	req.nheaders = 1;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_ERR_INTERNAL);
	req.headers = host_only;

	req.payload_hash = "not a hash";
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_ERR_INTERNAL);
	req.payload_hash = SIGV4_EMPTY_SHA256;
	p.region = "us/east";
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_ERR_INTERNAL);
	p.region = "us-east-1";
	p.time_s = -1;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_ERR_INTERNAL);
	p.time_s = 0;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_OK);
	ck_assert_str_eq(r.amz_date, "19700101T000000Z");
	sigv4_result_release(&r);
	cred.secret_access_key = "";
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_ERR_INTERNAL);
	ck_assert_ptr_null(r.authorization);
	cred.secret_access_key = test_cred.secret_access_key;
	cred.access_key_id = NULL;
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_ERR_INTERNAL);
	ck_assert_ptr_null(r.authorization);

	/* Releasing an empty or released result is harmless. */
	sigv4_result_release(&r);
	sigv4_result_release(&r);
	sigv4_result_release(NULL);
}
END_TEST

/* The secret is in no output, whatever it looks like. */
START_TEST(secret_not_in_output)
{
	/* A secret that is also a plausible substring of the outputs. */
	sigv4_credentials cred = { "AKID", "host", "sessiontoken" };
	sigv4_request req = { "GET", "/", "a=b", host_only, 1, SIGV4_EMPTY_SHA256 };
	sigv4_params p = s3_params();
	sigv4_result r;

	cred.secret_access_key = "Sx9/+secret+KEY=";
	ck_assert_int_eq(sigv4_sign_headers(&req, &cred, &p, &r), ES_OK);
	assert_no_secret(&r, cred.secret_access_key, "headers");
	assert_no_secret(&r, "Sx9", "headers");
	sigv4_result_release(&r);
}
END_TEST

Suite *sigv4_suite(void)
{
	Suite *s = suite_create("sigv4");
	TCase *tc = tcase_create("vectors");
	TCase *own = tcase_create("rules");

	tcase_add_test(tc, vector_inventory);
	tcase_add_loop_test(tc, vector_case, 0, VECTOR_HEADER_CASES);
	suite_add_tcase(s, tc);

	tcase_add_test(own, uri_encode_keys);
	tcase_add_test(own, sha256_hex);
	tcase_add_test(own, canonical_query);
	tcase_add_test(own, canonical_uri);
	tcase_add_test(own, session_token);
	tcase_add_test(own, caller_auth_headers);
	tcase_add_test(own, canonical_headers);
	tcase_add_test(own, refused_arguments);
	tcase_add_test(own, secret_not_in_output);
	suite_add_tcase(s, own);
	return s;
}
