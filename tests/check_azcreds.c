/*
 * check_azcreds.c - Azure credentials: Base64 keys, SAS tokens,
 * connection strings, the AZURE_STORAGE_* precedence, per-location
 * credentials files, account checks, and no secret in any message.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "azcreds.h"
#include "util.h"

#define DEV_KEY "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/" \
		"K1SZFPTOtr/KBHBeksoGMGw=="
#define KEY_A   "a2V5LWZvci1hY2NvdW50LWE="          /* "key-for-account-a" */
#define SAS     "sv=2021-08-06&ss=b&srt=sco&sp=rl&se=2099-01-01T00%3A00%3A00Z&sig=c2ln%2Bsig%3D"

/* --- a fake environment --------------------------------------------------- */

struct fake_env {
	const char *const *vars;     /* name, value, ..., NULL */
};

static const char *fake_get(void *ud, const char *name)
{
	const struct fake_env *e = ud;

	for (size_t i = 0; e->vars[i]; i += 2)
		if (!strcmp(e->vars[i], name))
			return e->vars[i + 1];
	return NULL;
}

static es_result load(const char *const *vars, const char *account, const char *file,
		      az_credentials *out, buf *err)
{
	struct fake_env fe = { vars };
	creds_env env = { fake_get, &fe };

	buf_reset(err);
	return az_credentials_load(&env, account, file, out, err);
}

static bool key_is(const az_credentials *c, const char *text)
{
	return c->key && c->key_len == strlen(text) && !memcmp(c->key, text, c->key_len);
}

/* --- Base64 and SAS ------------------------------------------------------- */

START_TEST(base64_strict)
{
	size_t n;
	unsigned char *p;

	p = az_base64_decode(KEY_A, strlen(KEY_A), &n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(n, 17);
	ck_assert(!memcmp(p, "key-for-account-a", 17));
	free(p);
	p = az_base64_decode("YWJj", 4, &n);
	ck_assert(p && n == 3 && !memcmp(p, "abc", 3));
	free(p);
	p = az_base64_decode("YQ==", 4, &n);
	ck_assert(p && n == 1 && p[0] == 'a');
	free(p);
	p = az_base64_decode("+/+/", 4, &n);
	ck_assert(p && n == 3 && p[0] == 0xfb && p[1] == 0xff && p[2] == 0xbf);
	free(p);
	p = az_base64_decode(DEV_KEY, strlen(DEV_KEY), &n);
	ck_assert(p && n == 64);
	free(p);
	/* refused */
	ck_assert_ptr_null(az_base64_decode("", 0, &n));
	ck_assert_ptr_null(az_base64_decode("YWJ", 3, &n));
	ck_assert_ptr_null(az_base64_decode("YW J", 4, &n));
	ck_assert_ptr_null(az_base64_decode("YW=j", 4, &n));
	ck_assert_ptr_null(az_base64_decode("Y===", 4, &n));
	ck_assert_ptr_null(az_base64_decode("YR==", 4, &n));     /* non-zero padding bits */
	ck_assert_ptr_null(az_base64_decode("YWJ=YWJj", 8, &n)); /* padding inside */
	ck_assert_ptr_null(az_base64_decode("YWJj\n", 5, &n));
	ck_assert_ptr_null(az_base64_decode("YW-_", 4, &n));     /* base64url */
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(sas_tokens)
{
	ck_assert(az_sas_is_valid(SAS));
	ck_assert(az_sas_is_valid("sig=x"));
	ck_assert(az_sas_is_valid("sp=r&sig=abc%3D"));
	ck_assert(!az_sas_is_valid(""));
	ck_assert(!az_sas_is_valid("sv=2021-08-06&sp=r"));          /* no sig */
	ck_assert(!az_sas_is_valid("sig="));
	ck_assert(!az_sas_is_valid("xsig=abc"));
	ck_assert(!az_sas_is_valid("sp=r&sig=a b"));
	ck_assert(!az_sas_is_valid("sp=r&sig=ab#c"));
	ck_assert(!az_sas_is_valid("sp=r&sig=ab\n"));
	ck_assert(!az_sas_is_valid("sp=r&sig=\xc3\xa9"));
}
END_TEST

/* --- connection strings --------------------------------------------------- */

START_TEST(conn_string_full)
{
	const char *s = " DefaultEndpointsProtocol=https;accountname=acct1;"
			"AccountKey=" DEV_KEY ";EndpointSuffix=core.chinacloudapi.cn;"
			"QueueEndpoint=https://q.example/;; ";
	az_conn_string cs;
	buf err = BUF_INIT;

	ck_assert_int_eq(az_conn_string_parse(s, strlen(s), "T", &cs, &err), ES_OK);
	ck_assert_str_eq(cs.account, "acct1");
	ck_assert_str_eq(cs.account_key, DEV_KEY);      /* '=' kept inside the value */
	ck_assert_str_eq(cs.protocol, "https");
	ck_assert_str_eq(cs.endpoint_suffix, "core.chinacloudapi.cn");
	ck_assert_ptr_null(cs.sas);
	ck_assert_ptr_null(cs.blob_endpoint);
	ck_assert(!cs.dev_storage);
	az_conn_string_release(&cs);
	ck_assert_ptr_null(cs.account_key);

	s = "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1/ ; SharedAccessSignature=?" SAS;
	ck_assert_int_eq(az_conn_string_parse(s, strlen(s), "T", &cs, &err), ES_OK);
	ck_assert_str_eq(cs.blob_endpoint, "http://127.0.0.1:1/devstoreaccount1");
	ck_assert_str_eq(cs.sas, SAS);
	ck_assert_ptr_null(cs.account);
	az_conn_string_release(&cs);

	s = "UseDevelopmentStorage=true";
	ck_assert_int_eq(az_conn_string_parse(s, strlen(s), "T", &cs, &err), ES_OK);
	ck_assert(cs.dev_storage);
	az_conn_string_release(&cs);
	az_conn_string_release(NULL);
	buf_release(&err);
}
END_TEST

START_TEST(conn_string_refused)
{
	static const char *const bad[] = {
		"", " ; ; ",
		"AccountName=a;AccountName=b",
		"AccountName=a;SECRETKEYWITHOUTEQUALS",
		"AccountName=a;AccountKey=",
		"DefaultEndpointsProtocol=ftp;AccountName=a",
		"UseDevelopmentStorage=false",
		"UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://x",
		"SharedAccessSignature=sp=r&se=x",
		NULL
	};
	buf err = BUF_INIT;

	for (size_t i = 0; bad[i]; i++) {
		az_conn_string cs;

		buf_reset(&err);
		ck_assert_msg(az_conn_string_parse(bad[i], strlen(bad[i]), "ORIGIN", &cs, &err) ==
			      ES_ERR_CONFIG, "accepted: %s", bad[i]);
		ck_assert_ptr_null(cs.account);
		ck_assert_ptr_nonnull(strstr(err.data, "ORIGIN"));
		ck_assert_ptr_null(strstr(err.data, "SECRETKEY"));
	}
	{
		buf big = BUF_INIT;
		az_conn_string cs;

		buf_addstr(&big, "AccountName=a;x=");
		while (big.len <= AZ_CREDS_MAX_BYTES)
			buf_addstr(&big, "0123456789abcdef");
		ck_assert_int_eq(az_conn_string_parse(big.data, big.len, "O", &cs, &err),
				 ES_ERR_CONFIG);
		buf_release(&big);
	}
	buf_release(&err);
}
END_TEST

/* --- precedence ----------------------------------------------------------- */

START_TEST(precedence_and_sources)
{
	az_credentials c;
	buf err = BUF_INIT;
	const char *all[] = {
		"AZURE_STORAGE_CONNECTION_STRING", "AccountName=acct;AccountKey=" KEY_A,
		"AZURE_STORAGE_KEY", DEV_KEY, "AZURE_STORAGE_SAS_TOKEN", SAS, NULL
	};
	const char *key_sas[] = { "AZURE_STORAGE_KEY", DEV_KEY, "AZURE_STORAGE_SAS_TOKEN", SAS,
				  "AZURE_STORAGE_CONNECTION_STRING", "", NULL };
	const char *sas_only[] = { "AZURE_STORAGE_SAS_TOKEN", "?" SAS "\n", "AZURE_STORAGE_KEY", "",
				   NULL };

	ck_assert_int_eq(load(all, "acct", NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.source, "AZURE_STORAGE_CONNECTION_STRING");
	ck_assert(key_is(&c, "key-for-account-a"));
	ck_assert_ptr_null(c.sas);
	ck_assert_ptr_null(c.endpoint);
	az_credentials_release(&c);

	ck_assert_int_eq(load(key_sas, "acct", NULL, &c, &err), ES_OK);   /* empty = unset */
	ck_assert_str_eq(c.source, "AZURE_STORAGE_KEY");
	ck_assert_uint_eq(c.key_len, 64);
	az_credentials_release(&c);

	ck_assert_int_eq(load(sas_only, "acct", NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.source, "AZURE_STORAGE_SAS_TOKEN");
	ck_assert_str_eq(c.sas, SAS);                     /* '?' and the newline dropped */
	ck_assert_ptr_null(c.key);
	az_credentials_release(&c);
	ck_assert_ptr_null(c.sas);
	az_credentials_release(NULL);
	buf_release(&err);
}
END_TEST

START_TEST(accounts_must_match)
{
	az_credentials c;
	buf err = BUF_INIT;
	const char *cs_other[] = { "AZURE_STORAGE_CONNECTION_STRING",
				   "AccountName=other;AccountKey=" KEY_A, NULL };
	const char *named_other[] = { "AZURE_STORAGE_ACCOUNT", "other", "AZURE_STORAGE_KEY", KEY_A,
				      NULL };
	const char *named_same[] = { "AZURE_STORAGE_ACCOUNT", "acct", "AZURE_STORAGE_KEY", KEY_A,
				     NULL };
	const char *sas_other[] = { "AZURE_STORAGE_ACCOUNT", "other", "AZURE_STORAGE_SAS_TOKEN",
				    SAS, NULL };
	const char *dev_other[] = { "AZURE_STORAGE_CONNECTION_STRING",
				    "UseDevelopmentStorage=true", NULL };

	ck_assert_int_eq(load(cs_other, "acct", NULL, &c, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "AZURE_STORAGE_CONNECTION_STRING is for account 'other', "
			 "not 'acct'");
	ck_assert_ptr_null(c.key);
	ck_assert_int_eq(load(named_other, "acct", NULL, &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "AZURE_STORAGE_ACCOUNT is 'other', not 'acct'"));
	ck_assert_int_eq(load(sas_other, "acct", NULL, &c, &err), ES_ERR_CONFIG);
	ck_assert_int_eq(load(dev_other, "acct", NULL, &c, &err), ES_ERR_CONFIG);
	ck_assert_int_eq(load(named_same, "acct", NULL, &c, &err), ES_OK);
	az_credentials_release(&c);
	buf_release(&err);
}
END_TEST

START_TEST(endpoints_from_connection_strings)
{
	az_credentials c;
	buf err = BUF_INIT;
	const char *dev[] = { "AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true", NULL };
	const char *suffix[] = { "AZURE_STORAGE_CONNECTION_STRING",
				 "AccountName=acct;AccountKey=" KEY_A ";EndpointSuffix=core.usgovcloudapi.net",
				 NULL };
	const char *proto[] = { "AZURE_STORAGE_CONNECTION_STRING",
				"DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=" KEY_A,
				NULL };
	const char *blob[] = { "AZURE_STORAGE_CONNECTION_STRING",
			       "BlobEndpoint=https://x.example:8443/base//;SharedAccessSignature=" SAS,
			       NULL };

	ck_assert_int_eq(load(dev, AZ_DEV_ACCOUNT, NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.endpoint, AZ_DEV_ENDPOINT);
	ck_assert_uint_eq(c.key_len, 64);
	az_credentials_release(&c);
	ck_assert_int_eq(load(suffix, "acct", NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.endpoint, "https://acct.blob.core.usgovcloudapi.net");
	az_credentials_release(&c);
	ck_assert_int_eq(load(proto, "acct", NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.endpoint, "http://acct.blob.core.windows.net");
	az_credentials_release(&c);
	ck_assert_int_eq(load(blob, "anyaccount", NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.endpoint, "https://x.example:8443/base");
	ck_assert_str_eq(c.sas, SAS);
	az_credentials_release(&c);
	buf_release(&err);
}
END_TEST

START_TEST(nothing_found_and_bad_values)
{
	az_credentials c;
	buf err = BUF_INIT;
	const char *none[] = { "AZURE_STORAGE_ACCOUNT", "acct", NULL };
	const char *badkey[] = { "AZURE_STORAGE_KEY", "not base64 SECRETVALUE", NULL };
	const char *badsas[] = { "AZURE_STORAGE_SAS_TOKEN", "sp=rl&se=SECRETVALUE", NULL };
	const char *nokey[] = { "AZURE_STORAGE_CONNECTION_STRING", "AccountName=acct", NULL };

	ck_assert_int_eq(load(none, "acct", NULL, &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "no credentials for Azure account 'acct'"));
	ck_assert_ptr_nonnull(strstr(err.data, "AZURE_STORAGE_SAS_TOKEN"));
	ck_assert_ptr_nonnull(strstr(err.data, "credentials_file"));
	ck_assert_int_eq(load(badkey, "acct", NULL, &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "AZURE_STORAGE_KEY"));
	ck_assert_ptr_null(strstr(err.data, "SECRETVALUE"));
	ck_assert_ptr_null(c.key);
	ck_assert_int_eq(load(badsas, "acct", NULL, &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_null(strstr(err.data, "SECRETVALUE"));
	ck_assert_ptr_null(c.sas);
	ck_assert_int_eq(load(nokey, "acct", NULL, &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "neither AccountKey nor SharedAccessSignature"));
	buf_release(&err);
}
END_TEST

START_TEST(credentials_file)
{
	char dir[] = "/tmp/evshare-azcreds-XXXXXX";
	char *path, *missing;
	az_credentials c;
	buf err = BUF_INIT;
	const char *env[] = { "AZURE_STORAGE_KEY", DEV_KEY, NULL };
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = xasprintf("%s/conn", dir);
	missing = xasprintf("%s/none", dir);
	f = fopen(path, "w");
	fprintf(f, "AccountName=acct;AccountKey=%s\n", KEY_A);
	fclose(f);
	chmod(path, 0600);
	/* the file wins over the environment */
	ck_assert_int_eq(load(env, "acct", path, &c, &err), ES_OK);
	ck_assert(key_is(&c, "key-for-account-a"));
	ck_assert_ptr_nonnull(strstr(c.source, path));
	az_credentials_release(&c);
	/* ... and nothing else is looked at when it is set */
	ck_assert_int_eq(load(env, "acct", missing, &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "cannot read credentials file"));
	ck_assert_int_eq(load(env, "other", path, &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "is for account 'acct', not 'other'"));
	ck_assert_ptr_null(strstr(err.data, KEY_A));
	ck_assert_int_eq(load(env, "acct", dir, &c, &err), ES_ERR_CONFIG);   /* a directory */
	unlink(path);
	rmdir(dir);
	free(path);
	free(missing);
	buf_release(&err);
}
END_TEST

Suite *azcreds_suite(void)
{
	Suite *s = suite_create("azcreds");
	TCase *tc = tcase_create("azcreds");

	tcase_add_test(tc, base64_strict);
	tcase_add_test(tc, sas_tokens);
	tcase_add_test(tc, conn_string_full);
	tcase_add_test(tc, conn_string_refused);
	tcase_add_test(tc, precedence_and_sources);
	tcase_add_test(tc, accounts_must_match);
	tcase_add_test(tc, endpoints_from_connection_strings);
	tcase_add_test(tc, nothing_found_and_bad_values);
	tcase_add_test(tc, credentials_file);
	suite_add_tcase(s, tc);
	return s;
}
