/*
 * check_store_az.c - the pure parts of the az:// backend: names, the
 * location's checks (store_check), settings and their defaults, request
 * targets, block ids and sizes, and the error mapping.  (The requests
 * themselves run against Azurite in tests/integration/test_az.py.)
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_az.h"
#include "util.h"

struct fake_env {
	const char *const *vars;
};

static const char *fake_get(void *ud, const char *name)
{
	const struct fake_env *e = ud;

	for (size_t i = 0; e->vars[i]; i += 2)
		if (!strcmp(e->vars[i], name))
			return e->vars[i + 1];
	return NULL;
}

static es_result resolve(const char *url, const char *endpoint, const char *cred_endpoint,
			 const char *const *vars, az_settings *out, buf *err)
{
	struct fake_env fe = { vars };
	creds_env env = { fake_get, &fe };
	location loc;
	es_result r;

	ck_assert_int_eq(location_parse(url, "/", &loc, err), ES_OK);
	loc.endpoint = endpoint ? xstrdup(endpoint) : NULL;
	buf_reset(err);
	r = az_settings_resolve(&loc, cred_endpoint, &env, out, err);
	location_release(&loc);
	return r;
}

START_TEST(names)
{
	ck_assert(az_account_name_is_valid("devstoreaccount1"));
	ck_assert(az_account_name_is_valid("abc"));
	ck_assert(!az_account_name_is_valid("ab"));
	ck_assert(!az_account_name_is_valid("Devstoreaccount1"));
	ck_assert(!az_account_name_is_valid("dev-store"));
	ck_assert(!az_account_name_is_valid("a234567890123456789012345"));
	ck_assert(az_container_name_is_valid("events"));
	ck_assert(az_container_name_is_valid("a-b-c1"));
	ck_assert(az_container_name_is_valid("$root"));
	ck_assert(!az_container_name_is_valid("ab"));
	ck_assert(!az_container_name_is_valid("a--b"));
	ck_assert(!az_container_name_is_valid("-ab"));
	ck_assert(!az_container_name_is_valid("ab-"));
	ck_assert(!az_container_name_is_valid("Events"));
	ck_assert(!az_container_name_is_valid("ev_ents"));
	ck_assert(!az_container_name_is_valid("$logs"));
}
END_TEST

START_TEST(settings_defaults_and_endpoints)
{
	static const char *const none[] = { NULL };
	static const char *const env[] = { "EVSHARE_STALL_TIMEOUT", "7",
					   "REQUESTS_CA_BUNDLE", "/etc/ca.pem", NULL };
	buf err = BUF_INIT;
	az_settings s;

	ck_assert_int_eq(resolve("az://acct/cont/p/", NULL, NULL, none, &s, &err), ES_OK);
	ck_assert(s.default_endpoint);
	ck_assert_str_eq(s.endpoint.scheme, "https");
	ck_assert_str_eq(s.endpoint.host, "acct.blob.core.windows.net");
	ck_assert_str_eq(s.endpoint.base_path, "");
	ck_assert_uint_eq(s.xfer.part_size, AZ_DEFAULT_BLOCK_SIZE);
	ck_assert_uint_eq(s.xfer.threshold, AZ_DEFAULT_BLOCK_SIZE);
	ck_assert_uint_eq(s.xfer.attempts, AZ_DEFAULT_ATTEMPTS);
	ck_assert_int_eq(s.stall_timeout_s, 30);
	ck_assert_ptr_null(s.ca_bundle);
	az_settings_release(&s);

	/* the connection string's endpoint, unless the location has one */
	ck_assert_int_eq(resolve("az://devstoreaccount1/cont/", NULL,
				 "http://127.0.0.1:10000/devstoreaccount1", env, &s, &err), ES_OK);
	ck_assert(!s.default_endpoint);
	ck_assert_str_eq(s.endpoint.host, "127.0.0.1:10000");
	ck_assert_str_eq(s.endpoint.base_path, "/devstoreaccount1");
	ck_assert_int_eq(s.stall_timeout_s, 7);
	ck_assert_str_eq(s.ca_bundle, "/etc/ca.pem");
	az_settings_release(&s);
	ck_assert_int_eq(resolve("az://devstoreaccount1/cont/", "http://localhost:9/x/",
				 "http://127.0.0.1:10000/devstoreaccount1", none, &s, &err), ES_OK);
	ck_assert_str_eq(s.endpoint.host, "localhost:9");
	ck_assert_str_eq(s.endpoint.base_path, "/x");
	az_settings_release(&s);
	buf_release(&err);
}
END_TEST

/* What comes from elsewhere than the location: the credentials' endpoint
 * and the environment (the location's own settings are store_az_check's). */
START_TEST(settings_refused)
{
	static const char *const none[] = { NULL };
	static const char *const stall[] = { "EVSHARE_STALL_TIMEOUT", "0", NULL };
	buf err = BUF_INIT;
	az_settings s;

	ck_assert_int_eq(resolve("az://acct/cont/", NULL, "ftp://x", none, &s, &err),
			 ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "endpoint 'ftp://x' must start with http:// or https://");
	ck_assert_int_eq(resolve("az://acct/cont/", NULL, "https://u:p@x", none, &s, &err),
			 ES_ERR_CONFIG);
	ck_assert_int_eq(resolve("az://acct/cont/", NULL, NULL, stall, &s, &err), ES_ERR_CONFIG);
	ck_assert_ptr_null(s.endpoint.host);
	buf_release(&err);
}
END_TEST

/* The faults of an az:// location, each with its key, found without I/O. */
static const char *check(const char *url, const char *endpoint, uint64_t part_size,
			 store_faults *f)
{
	buf err = BUF_INIT;
	location loc;

	ck_assert_int_eq(location_parse(url, "/", &loc, &err), ES_OK);
	loc.endpoint = endpoint ? xstrdup(endpoint) : NULL;
	loc.part_size = part_size;
	store_faults_release(f);
	if (store_check(&loc, f) == ES_OK)
		ck_assert_uint_eq(f->count, 0);
	else
		ck_assert_uint_gt(f->count, 0);
	location_release(&loc);
	buf_release(&err);
	return f->count ? f->items[0].key : NULL;
}

START_TEST(location_checks)
{
	store_faults f = STORE_FAULTS_INIT;

	ck_assert_ptr_null(check("az://acct/cont/p/", "http://127.0.0.1:10000/acct", 5ull << 20,
				 &f));
	ck_assert_ptr_null(check("az://acct/cont/", NULL, AZ_MAX_BLOCK_SIZE, &f));
	ck_assert_str_eq(check("az://Acct/cont/", NULL, 0, &f), "url");
	ck_assert_str_eq(f.items[0].message, "account 'Acct' is not a storage account name (3 "
			 "to 24 lowercase letters and digits)");
	ck_assert_str_eq(check("az://acct/Cont/", NULL, 0, &f), "url");
	ck_assert_str_eq(f.items[0].message, "container 'Cont' is not a container name (3 to "
			 "63 lowercase letters, digits and single hyphens, starting and ending "
			 "with a letter or digit)");
	/* both names, and every other key at fault: all told */
	ck_assert_str_eq(check("az://ab/c/", "ftp://x", 4096ull << 20, &f), "url");
	ck_assert_uint_eq(f.count, 4);
	ck_assert_str_eq(f.items[1].key, "url");
	ck_assert_str_eq(f.items[2].key, "endpoint");
	ck_assert_str_eq(f.items[2].message, "endpoint 'ftp://x' must start with http:// or "
			 "https://");
	ck_assert_str_eq(f.items[3].key, "part_size");
	ck_assert_str_eq(f.items[3].message, "part_size 4294967296 is outside 5 MiB..4000 MiB "
			 "(Azure's largest block)");
	/* the floor every store has */
	ck_assert_str_eq(check("az://acct/cont/", NULL, (5ull << 20) - 1, &f), "part_size");
	store_faults_release(&f);
}
END_TEST

START_TEST(block_sizes_and_threshold)
{
	static const char *const none[] = { NULL };
	buf err = BUF_INIT;
	location loc;
	az_settings s;
	struct fake_env fe = { none };
	creds_env env = { fake_get, &fe };

	ck_assert_int_eq(location_parse("az://acct/cont/", "/", &loc, &err), ES_OK);
	loc.part_size = 5ull << 20;
	loc.multipart_threshold = 8ull << 30;
	ck_assert_int_eq(az_settings_resolve(&loc, NULL, &env, &s, &err), ES_OK);
	ck_assert_uint_eq(s.xfer.part_size, 5ull << 20);
	ck_assert_uint_eq(s.xfer.threshold, AZ_MAX_PUT_BLOB);
	az_settings_release(&s);
	location_release(&loc);

	ck_assert_uint_eq(az_block_size_for(100, 16ull << 20), 16ull << 20);
	ck_assert_uint_eq(az_block_size_for(50000ull * (5ull << 20), 5ull << 20), 5ull << 20);
	ck_assert_uint_eq(az_block_size_for(50000ull * (5ull << 20) + 1, 5ull << 20), 6ull << 20);
	ck_assert_uint_eq(az_block_size_for(4ull << 40, 16ull << 20), 84ull << 20);
	buf_release(&err);
}
END_TEST

START_TEST(targets)
{
	static const char *const none[] = { NULL };
	buf err = BUF_INIT;
	az_settings s;
	objhttp_target t;

	ck_assert_int_eq(resolve("az://acct/cont/", NULL, NULL, none, &s, &err), ES_OK);
	az_target_build(&s, "cont", "in/a b+c\xc3\xa9%.gz", NULL, &t);
	ck_assert_str_eq(t.host, "acct.blob.core.windows.net");
	ck_assert_str_eq(t.path, "/cont/in/a%20b%2Bc%C3%A9%25.gz");
	ck_assert_str_eq(t.url, "https://acct.blob.core.windows.net/cont/in/a%20b%2Bc%C3%A9%25.gz");
	objhttp_target_release(&t);
	az_target_build(&s, "cont", NULL, "restype=container&comp=list", &t);
	ck_assert_str_eq(t.path, "/cont");
	ck_assert_str_eq(t.url, "https://acct.blob.core.windows.net/cont?restype=container&comp=list");
	objhttp_target_release(&t);
	az_settings_release(&s);
	ck_assert_int_eq(resolve("az://devstoreaccount1/cont/", "http://127.0.0.1:10000/devstoreaccount1",
				 NULL, none, &s, &err), ES_OK);
	az_target_build(&s, "cont", "k", "", &t);
	ck_assert_str_eq(t.path, "/devstoreaccount1/cont/k");
	ck_assert_str_eq(t.url, "http://127.0.0.1:10000/devstoreaccount1/cont/k");
	objhttp_target_release(&t);
	objhttp_target_release(NULL);
	az_settings_release(&s);
	buf_release(&err);
}
END_TEST

START_TEST(block_ids)
{
	char a[AZ_BLOCK_ID_LEN], b[AZ_BLOCK_ID_LEN], c[AZ_BLOCK_ID_LEN];

	az_block_id(0x1234abcd, 0, a);
	ck_assert_str_eq(a, "ZXZzaGFyZS0xMjM0YWJjZC0wMDAwMDAw");   /* evshare-1234abcd-0000000 */
	az_block_id(0x1234abcd, 49999, b);
	az_block_id(0xffffffff, 9999999, c);
	ck_assert_uint_eq(strlen(a), AZ_BLOCK_ID_LEN - 1);
	ck_assert_uint_eq(strlen(b), strlen(a));
	ck_assert_uint_eq(strlen(c), strlen(a));
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(error_mapping)
{
	ck_assert_int_eq(az_error_result(403, "AuthorizationFailure", false), ES_ERR_AUTH);
	ck_assert_int_eq(az_error_result(403, "AuthenticationFailed", false), ES_ERR_AUTH);
	ck_assert_int_eq(az_error_result(403, NULL, false), ES_ERR_AUTH);
	ck_assert_int_eq(az_error_result(400, "InvalidAuthenticationInfo", false), ES_ERR_AUTH);
	ck_assert_int_eq(az_error_result(401, NULL, false), ES_ERR_AUTH);
	ck_assert_int_eq(az_error_result(404, "ContainerNotFound", false), ES_ERR_REMOTE);
	ck_assert_int_eq(az_error_result(412, "ConditionNotMet", false), ES_ERR_REMOTE);
	ck_assert_int_eq(az_error_result(400, "Md5Mismatch", false), ES_ERR_REMOTE);
	ck_assert_int_eq(az_error_result(301, NULL, false), ES_ERR_CONFIG);
	ck_assert_int_eq(az_error_result(503, "ServerBusy", true), ES_ERR_TEMP);
	ck_assert_int_eq(az_error_result(403, "AuthorizationFailure", true), ES_ERR_TEMP);
}
END_TEST

Suite *store_az_suite(void)
{
	Suite *s = suite_create("store_az");
	TCase *tc = tcase_create("store_az");

	tcase_add_test(tc, names);
	tcase_add_test(tc, settings_defaults_and_endpoints);
	tcase_add_test(tc, settings_refused);
	tcase_add_test(tc, location_checks);
	tcase_add_test(tc, block_sizes_and_threshold);
	tcase_add_test(tc, targets);
	tcase_add_test(tc, block_ids);
	tcase_add_test(tc, error_mapping);
	suite_add_tcase(s, tc);
	return s;
}
