/*
 * check_azsign.c - the Shared Key signer against fixed vectors computed
 * independently with Python's hmac/hashlib/base64 from Microsoft's
 * string-to-sign rules (tests/data/azure/sign/make_vectors.py; the first
 * two are AZURE-PEER.md's, accepted live by Azurite), both the string to
 * sign and the Authorization value; plus the order-independence, the date
 * format, refused arguments, and no secret in any output.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azcreds.h"
#include "azsign.h"
#include "json.h"
#include "util.h"

#define VECTOR_CASES 8
#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/" \
		"K1SZFPTOtr/KBHBeksoGMGw=="

static const char *data_dir(void)
{
	const char *d = getenv("EVSHARE_TEST_DATA");

	return d && *d ? d : "tests/data";
}

/* vectors.json, read with json.c: the strings handed out are decoded and
 * kept until vectors_release() */
static struct vectors {
	buf text;
	char **strs;
	size_t nstrs, alloc;
} vecs;

static json_value load_vectors(void)
{
	char *path = xasprintf("%s/azure/sign/vectors.json", data_dir());
	json_value root;
	json_error err;

	ck_assert_msg(read_file(path, &vecs.text, 1 << 20) == 0, "cannot read %s", path);
	ck_assert(json_parse(vecs.text.data, vecs.text.len, JSON_DEFAULT_MAX_DEPTH, &root, &err));
	free(path);
	return root;
}

static void vectors_release(void)
{
	for (size_t i = 0; i < vecs.nstrs; i++)
		free(vecs.strs[i]);
	free(vecs.strs);
	buf_release(&vecs.text);
	memset(&vecs, 0, sizeof(vecs));
}

static json_value jget(json_value o, const char *k)
{
	json_value v;

	if (!json_object_get(o, k, strlen(k), &v))
		v.type = 0;
	return v;
}

static const char *jstring(json_value v, const char *what)
{
	char *s = v.type == JSON_STRING ? json_string_dup(v, NULL) : NULL;

	ck_assert_msg(s != NULL, "vector field %s", what);
	vecs.strs = xgrow(vecs.strs, vecs.nstrs + 1, &vecs.alloc, sizeof(char *));
	vecs.strs[vecs.nstrs++] = s;
	return s;
}

static const char *jstr(json_value o, const char *k)
{
	return jstring(jget(o, k), k);
}

static int64_t jint(json_value o, const char *k)
{
	json_value v = jget(o, k);
	int64_t n = 0;

	ck_assert_msg(v.type == JSON_NUMBER && json_number_get_int64(v, &n),
		      "vector field %s", k);
	return n;
}

/* A vector as a request; with_date adds its x-ms-date to the headers. */
struct vreq {
	azsign_request req;
	azsign_header h[AZSIGN_MAX_HEADERS];
	unsigned char *key;
	size_t key_len;
};

static void vreq_load(json_value c, bool with_date, bool reverse, struct vreq *v)
{
	json_value hs = jget(c, "headers"), h, part;
	const char *key = jstr(c, "key");
	size_t n = 0, total = json_count(hs);
	json_iter it, pit;

	memset(v, 0, sizeof(*v));
	json_iter_init(&it, hs);
	while (json_iter_element(&it, &h)) {
		size_t at = reverse ? total - 1 - n : n;

		json_iter_init(&pit, h);
		ck_assert(json_iter_element(&pit, &part));
		v->h[at].name = jstring(part, "header name");
		ck_assert(json_iter_element(&pit, &part));
		v->h[at].value = jstring(part, "header value");
		n++;
	}
	if (with_date)
		v->h[n++] = (azsign_header){ "x-ms-date", jstr(c, "x_ms_date") };
	v->req = (azsign_request){ jstr(c, "method"), jstr(c, "path"), jstr(c, "query"),
				   v->h, n, (uint64_t)jint(c, "content_length") };
	v->key = az_base64_decode(key, strlen(key), &v->key_len);
	ck_assert_ptr_nonnull(v->key);
}

static void vreq_release(struct vreq *v)
{
	secure_wipe(v->key, v->key_len);
	free(v->key);
}

START_TEST(vectors_string_to_sign_and_authorization)
{
	json_value j = load_vectors(), c;
	json_iter it;
	int n = 0;

	json_iter_init(&it, jget(j, "cases"));
	while (json_iter_element(&it, &c)) {
		const char *name = jstr(c, "name"), *account = jstr(c, "account");
		struct vreq v;
		azsign_result r;
		char *sts;

		for (int reverse = 0; reverse < 2; reverse++) {
			/* the string to sign of the request with its x-ms-date */
			vreq_load(c, true, reverse, &v);
			sts = azsign_string_to_sign(&v.req, account);
			ck_assert_msg(sts, "%s: refused", name);
			ck_assert_msg(!strcmp(sts, jstr(c, "string_to_sign")),
				      "%s: string to sign\n got: %s\nwant: %s", name, sts,
				      jstr(c, "string_to_sign"));
			free(sts);
			vreq_release(&v);

			/* the signer adds x-ms-date from the time */
			vreq_load(c, false, reverse, &v);
			ck_assert_int_eq(azsign_sign(&v.req, account, v.key, v.key_len,
						     jint(c, "time"), &r), ES_OK);
			ck_assert_str_eq(r.x_ms_date, jstr(c, "x_ms_date"));
			ck_assert_str_eq(r.string_to_sign, jstr(c, "string_to_sign"));
			ck_assert_msg(!strcmp(r.authorization, jstr(c, "authorization")),
				      "%s: got %s, want %s", name, r.authorization,
				      jstr(c, "authorization"));
			ck_assert_uint_eq(r.nadd, 2);
			ck_assert_str_eq(r.add[0].name, "x-ms-date");
			ck_assert_str_eq(r.add[0].value, r.x_ms_date);
			ck_assert_str_eq(r.add[1].name, "Authorization");
			ck_assert_str_eq(r.add[1].value, r.authorization);
			azsign_result_release(&r);
			ck_assert_ptr_null(r.authorization);
			vreq_release(&v);
		}
		n++;
	}
	ck_assert_int_eq(n, VECTOR_CASES);
	vectors_release();
}
END_TEST

START_TEST(peer_doc_vectors_literal)
{
	/* AZURE-PEER.md section 2, written out here as well */
	static const azsign_header h[] = {
		{ "x-ms-blob-type", "BlockBlob" }, { "Content-Type", "text/plain" },
		{ "x-ms-version", "2021-08-06" }
	};
	azsign_request req = { "PUT", "/devstoreaccount1/cont/dir/a%20b.txt", NULL, h, 3, 11 };
	size_t klen;
	unsigned char *key = az_base64_decode(DEV_KEY, strlen(DEV_KEY), &klen);
	azsign_result r;

	ck_assert_int_eq(azsign_sign(&req, "devstoreaccount1", key, klen, 1795737600, &r), ES_OK);
	ck_assert_str_eq(r.string_to_sign,
			 "PUT\n\n\n11\n\ntext/plain\n\n\n\n\n\n\nx-ms-blob-type:BlockBlob\n"
			 "x-ms-date:Fri, 27 Nov 2026 00:00:00 GMT\nx-ms-version:2021-08-06\n"
			 "/devstoreaccount1/devstoreaccount1/cont/dir/a%20b.txt");
	ck_assert_str_eq(r.authorization,
			 "SharedKey devstoreaccount1:IuJ23kgzCEfS1q55uhn9ZdnFJHe+Zd80QB8dDyZYSHs=");
	azsign_result_release(&r);
	free(key);
}
END_TEST

START_TEST(date_format)
{
	char d[AZSIGN_DATE_LEN];

	azsign_format_date(0, d);
	ck_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 GMT");
	azsign_format_date(1795737600, d);
	ck_assert_str_eq(d, "Fri, 27 Nov 2026 00:00:00 GMT");
	azsign_format_date(1709251199, d);            /* leap day */
	ck_assert_str_eq(d, "Thu, 29 Feb 2024 23:59:59 GMT");
	azsign_format_date(951782400, d);             /* 2000-02-29 */
	ck_assert_str_eq(d, "Tue, 29 Feb 2000 00:00:00 GMT");
	azsign_format_date(-1, d);
	ck_assert_str_eq(d, "Wed, 31 Dec 1969 23:59:59 GMT");
}
END_TEST

START_TEST(query_canonical_forms)
{
	static const azsign_header h[] = { { "x-ms-date", "D" } };
	azsign_request req = { "GET", "/a/c", NULL, h, 1, 0 };
	char *s;

	req.query = "b=2&A=1&b=1&&c&%61%62=x%2By+z";
	s = azsign_string_to_sign(&req, "acct");
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(strstr(s, "\n/acct/a/c\na:1\nab:x+y+z\nb:1,2\nc:") != NULL, "%s", s);
	ck_assert_msg(s[strlen(s) - 1] == ':', "a bare name signs as 'c:'");
	free(s);
	/* no query at all: the resource alone ends the string */
	req.query = "";
	s = azsign_string_to_sign(&req, "acct");
	ck_assert_msg(strlen(s) > 10 && !strcmp(s + strlen(s) - 10, "\n/acct/a/c"), "%s", s);
	free(s);
}
END_TEST

START_TEST(content_length_zero_is_empty)
{
	static const azsign_header h[] = { { "x-ms-date", "D" } };
	azsign_request req = { "PUT", "/a/c/b", NULL, h, 1, 0 };
	char *s = azsign_string_to_sign(&req, "acct");

	ck_assert_str_eq(s, "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:D\n/acct/a/c/b");
	free(s);
	req.content_length = 5ull << 30;
	s = azsign_string_to_sign(&req, "acct");
	ck_assert_str_eq(s, "PUT\n\n\n5368709120\n\n\n\n\n\n\n\n\nx-ms-date:D\n/acct/a/c/b");
	free(s);
}
END_TEST

static bool refused(const azsign_request *req, const char *account)
{
	unsigned char key[32] = { 1, 2, 3 };
	azsign_result r;
	es_result res = azsign_sign(req, account, key, sizeof(key), 1795737600, &r);

	if (res == ES_OK) {
		azsign_result_release(&r);
		return false;
	}
	ck_assert_int_eq(res, ES_ERR_INTERNAL);
	ck_assert_ptr_null(r.authorization);
	ck_assert_ptr_null(r.string_to_sign);
	return true;
}

START_TEST(refused_arguments)
{
	azsign_header h[AZSIGN_MAX_HEADERS + 1];
	azsign_request req = { "GET", "/c/b", NULL, h, 1, 0 };
	unsigned char key[4] = { 1 };
	azsign_result r;
	char *big;

	h[0] = (azsign_header){ "x-ms-version", "2021-08-06" };
	ck_assert(!refused(&req, "acct"));
	ck_assert(refused(&req, ""));
	ck_assert(refused(&req, "ac/ct"));
	req.method = "GE T";
	ck_assert(refused(&req, "acct"));
	req.method = "GET";
	req.path = "c/b";
	ck_assert(refused(&req, "acct"));
	req.path = "/c/a b";
	ck_assert(refused(&req, "acct"));
	req.path = "/c/a?b";
	ck_assert(refused(&req, "acct"));
	req.path = "/c/\xc3\xa9";
	ck_assert(refused(&req, "acct"));
	req.path = "/c/b";
	req.query = "a=%zz";
	ck_assert(refused(&req, "acct"));
	req.query = "a=%00";
	ck_assert(refused(&req, "acct"));
	req.query = "a=b c";
	ck_assert(refused(&req, "acct"));
	req.query = "a=%4";
	ck_assert(refused(&req, "acct"));
	req.query = NULL;
	const char *owned[] = { "Authorization", "authorization", "x-ms-date", "X-MS-DATE",
				"Date", "Content-Length" };
	for (size_t i = 0; i < sizeof(owned) / sizeof(owned[0]); i++) {
		h[1] = (azsign_header){ owned[i], "x" };
		req.nheaders = 2;
		ck_assert_msg(refused(&req, "acct"), "%s accepted", owned[i]);
	}
	h[1] = (azsign_header){ "X-Ms-Version", "2021-08-06" };
	ck_assert(refused(&req, "acct"));                    /* repeated */
	h[1] = (azsign_header){ "x-ms-meta-a", "a\r\nb" };
	ck_assert(refused(&req, "acct"));                    /* control character */
	h[1] = (azsign_header){ "x-ms-meta-a", "tab\tthen\nnewline" };
	ck_assert(refused(&req, "acct"));
	h[1] = (azsign_header){ "Content-Type", "text/plain\x7f" };
	ck_assert(refused(&req, "acct"));
	h[1] = (azsign_header){ "bad name", "x" };
	ck_assert(refused(&req, "acct"));
	h[1] = (azsign_header){ "x-ms-meta-a", "tab\tis fine" };
	ck_assert(!refused(&req, "acct"));
	for (size_t i = 0; i <= AZSIGN_MAX_HEADERS; i++) {
		char *name = xasprintf("x-ms-meta-h%03zu", i);

		h[i] = (azsign_header){ name, "v" };
	}
	req.nheaders = AZSIGN_MAX_HEADERS + 1;
	ck_assert(refused(&req, "acct"));
	req.nheaders = AZSIGN_MAX_HEADERS;
	ck_assert(!refused(&req, "acct"));
	for (size_t i = 0; i <= AZSIGN_MAX_HEADERS; i++)
		free((char *)h[i].name);
	big = xmalloc(AZSIGN_MAX_INPUT + 2);
	memset(big, 'a', AZSIGN_MAX_INPUT + 1);
	big[0] = '/';
	big[AZSIGN_MAX_INPUT + 1] = '\0';
	req.nheaders = 0;
	req.path = big;
	ck_assert(refused(&req, "acct"));
	free(big);
	/* an empty key */
	req.path = "/c/b";
	ck_assert_int_eq(azsign_sign(&req, "acct", key, 0, 0, &r), ES_ERR_INTERNAL);
	/* string_to_sign wants the caller's x-ms-date */
	ck_assert_ptr_null(azsign_string_to_sign(&req, "acct"));
}
END_TEST

START_TEST(secret_not_in_output)
{
	static const azsign_header h[] = { { "x-ms-version", "2021-08-06" } };
	azsign_request req = { "GET", "/c/b", "comp=list", h, 1, 0 };
	size_t klen;
	unsigned char *key = az_base64_decode(DEV_KEY, strlen(DEV_KEY), &klen);
	azsign_result r;

	ck_assert_int_eq(azsign_sign(&req, "acct", key, klen, 0, &r), ES_OK);
	ck_assert_ptr_null(strstr(r.string_to_sign, DEV_KEY));
	ck_assert_ptr_null(strstr(r.authorization, DEV_KEY));
	ck_assert_ptr_null(memmem(r.string_to_sign, strlen(r.string_to_sign), key, 8));
	ck_assert_ptr_null(memmem(r.authorization, strlen(r.authorization), key, 8));
	/* another key, another signature; the string to sign is the same */
	{
		azsign_result r2;

		key[0] ^= 1;
		ck_assert_int_eq(azsign_sign(&req, "acct", key, klen, 0, &r2), ES_OK);
		ck_assert_str_eq(r.string_to_sign, r2.string_to_sign);
		ck_assert_str_ne(r.authorization, r2.authorization);
		azsign_result_release(&r2);
	}
	azsign_result_release(&r);
	azsign_result_release(NULL);
	free(key);
}
END_TEST

Suite *azsign_suite(void)
{
	Suite *s = suite_create("azsign");
	TCase *tc = tcase_create("vectors");
	TCase *own = tcase_create("own");

	tcase_add_test(tc, vectors_string_to_sign_and_authorization);
	tcase_add_test(tc, peer_doc_vectors_literal);
	suite_add_tcase(s, tc);
	tcase_add_test(own, date_format);
	tcase_add_test(own, query_canonical_forms);
	tcase_add_test(own, content_length_zero_is_empty);
	tcase_add_test(own, refused_arguments);
	tcase_add_test(own, secret_not_in_output);
	suite_add_tcase(s, own);
	return s;
}
