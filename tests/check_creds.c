/*
 * check_creds.c - the AWS credentials chain and the ini reader: environment
 * against profiles, explicit profiles, the two files and their section
 * names, session tokens, settings precedence, error messages (which must
 * name the profile and never hold a secret), wiping, and the shared files
 * read once a process.
 * Fixtures: tests/data/creds/ (see its README).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds.h"

static const char *data_dir(void)
{
	const char *d = getenv("EVSHARE_TEST_DATA");

	return d && *d ? d : "tests/data";
}

/* A fake environment: NULL-terminated name/value pairs. */
struct fake_env {
	const char *vars[32][2];
	char *cred_path, *conf_path;
};

static const char *fake_get(void *ud, const char *name)
{
	struct fake_env *f = ud;

	for (size_t i = 0; i < 32 && f->vars[i][0]; i++)
		if (!strcmp(f->vars[i][0], name))
			return f->vars[i][1];
	return NULL;
}

static void fake_set(struct fake_env *f, const char *name, const char *value)
{
	size_t i = 0;

	while (i < 31 && f->vars[i][0] && strcmp(f->vars[i][0], name))
		i++;
	f->vars[i][0] = name;
	f->vars[i][1] = value;
}

/* The fixture files, HOME=/nonexistent. */
static void fake_init(struct fake_env *f)
{
	memset(f, 0, sizeof(*f));
	f->cred_path = xasprintf("%s/creds/credentials", data_dir());
	f->conf_path = xasprintf("%s/creds/config", data_dir());
	fake_set(f, "HOME", "/nonexistent-home");
	fake_set(f, "AWS_SHARED_CREDENTIALS_FILE", f->cred_path);
	fake_set(f, "AWS_CONFIG_FILE", f->conf_path);
}

static void fake_release(struct fake_env *f)
{
	free(f->cred_path);
	free(f->conf_path);
}

static es_result load(struct fake_env *f, const char *profile, aws_config *c, buf *err)
{
	creds_env env = { fake_get, f };

	buf_reset(err);
	return aws_config_load(&env, profile, c, err);
}

START_TEST(env_keys_win_over_default_profile)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	fake_set(&f, "AWS_ACCESS_KEY_ID", "AKIDENV");
	fake_set(&f, "AWS_SECRET_ACCESS_KEY", "env-secret");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.access_key_id, "AKIDENV");
	ck_assert_str_eq(c.secret_access_key, "env-secret");
	ck_assert_ptr_null(c.session_token);
	ck_assert_str_eq(c.source, "environment");
	ck_assert_str_eq(c.profile, "default");
	ck_assert(!c.profile_explicit);
	ck_assert_str_eq(c.region, "us-west-2");     /* the default profile's */
	aws_config_release(&c);

	/* with AWS_PROFILE too, the key variables still win (as the CLI) */
	fake_set(&f, "AWS_PROFILE", "dest");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.access_key_id, "AKIDENV");
	ck_assert_str_eq(c.region, "eu-west-1");     /* dest's region */
	aws_config_release(&c);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

START_TEST(explicit_profile_wins_over_env_keys)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	fake_set(&f, "AWS_ACCESS_KEY_ID", "AKIDENV");
	fake_set(&f, "AWS_SECRET_ACCESS_KEY", "env-secret");
	fake_set(&f, "AWS_SESSION_TOKEN", "env-token");
	ck_assert_int_eq(load(&f, "dest", &c, &err), ES_OK);
	ck_assert(c.profile_explicit);
	ck_assert_str_eq(c.access_key_id, "AKIDDEST");   /* key names are case-insensitive */
	ck_assert_str_eq(c.secret_access_key, "dest-secret");
	ck_assert_str_eq(c.session_token, "dest-token");
	ck_assert_ptr_nonnull(strstr(c.source, "profile 'dest'"));
	ck_assert_ptr_nonnull(strstr(c.source, f.cred_path));
	aws_config_release(&c);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

START_TEST(aws_profile_selects_profile)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	fake_set(&f, "AWS_PROFILE", "dest");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.profile, "dest");
	ck_assert(!c.profile_explicit);
	ck_assert_str_eq(c.access_key_id, "AKIDDEST");
	aws_config_release(&c);

	/* AWS_DEFAULT_PROFILE is the older name */
	fake_set(&f, "AWS_PROFILE", "");
	fake_set(&f, "AWS_DEFAULT_PROFILE", "dest");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.profile, "dest");
	aws_config_release(&c);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

START_TEST(session_token_from_env)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	fake_set(&f, "AWS_ACCESS_KEY_ID", "ASIAENV");
	fake_set(&f, "AWS_SECRET_ACCESS_KEY", "env-secret");
	fake_set(&f, "AWS_SESSION_TOKEN", "the-token");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.session_token, "the-token");
	aws_config_release(&c);
	fake_set(&f, "AWS_SESSION_TOKEN", NULL);
	fake_set(&f, "AWS_SECURITY_TOKEN", "old-token");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.session_token, "old-token");
	aws_config_release(&c);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

START_TEST(config_sections_are_profile_name)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	/* in the config file only: [profile "configonly"] (quoted) */
	ck_assert_int_eq(load(&f, "configonly", &c, &err), ES_OK);
	ck_assert_str_eq(c.access_key_id, "AKIDCONFIG");
	ck_assert_ptr_nonnull(strstr(c.source, f.conf_path));
	ck_assert_str_eq(c.endpoint_url, "https://profile.example.com");
	ck_assert_str_eq(c.ca_bundle, "/nonexistent-home/ca.pem");  /* ~/ expanded */
	aws_config_release(&c);
	/* [notaprofile] in the config file is not a profile */
	ck_assert_int_eq(load(&f, "notaprofile", &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "profile 'notaprofile' not found"));
	ck_assert_ptr_null(c.secret_access_key);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

START_TEST(credentials_file_wins_over_config_file)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	ck_assert_int_eq(load(&f, "both", &c, &err), ES_OK);
	ck_assert_str_eq(c.access_key_id, "AKIDBOTHCRED");
	ck_assert_str_eq(c.secret_access_key, "both-cred-secret");
	ck_assert_str_eq(c.region, "ap-south-1");
	ck_assert_int_eq(c.path_style, 1);        /* s3 = / addressing_style = path */
	aws_config_release(&c);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

START_TEST(region_precedence)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	ck_assert_int_eq(load(&f, "dest", &c, &err), ES_OK);
	ck_assert_str_eq(c.region, "eu-west-1");
	aws_config_release(&c);
	fake_set(&f, "AWS_DEFAULT_REGION", "us-east-2");
	ck_assert_int_eq(load(&f, "dest", &c, &err), ES_OK);
	ck_assert_str_eq(c.region, "us-east-2");
	aws_config_release(&c);
	fake_set(&f, "AWS_REGION", "ca-central-1");
	ck_assert_int_eq(load(&f, "dest", &c, &err), ES_OK);
	ck_assert_str_eq(c.region, "ca-central-1");
	aws_config_release(&c);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

START_TEST(endpoint_precedence)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	ck_assert_int_eq(load(&f, "svc", &c, &err), ES_OK);
	ck_assert_str_eq(c.endpoint_url, "http://127.0.0.1:9000");   /* services section */
	aws_config_release(&c);
	fake_set(&f, "AWS_ENDPOINT_URL", "http://env-global");
	ck_assert_int_eq(load(&f, "svc", &c, &err), ES_OK);
	ck_assert_str_eq(c.endpoint_url, "http://env-global");
	aws_config_release(&c);
	fake_set(&f, "AWS_ENDPOINT_URL_S3", "http://env-s3");
	ck_assert_int_eq(load(&f, "svc", &c, &err), ES_OK);
	ck_assert_str_eq(c.endpoint_url, "http://env-s3");
	aws_config_release(&c);
	fake_set(&f, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
	ck_assert_int_eq(load(&f, "svc", &c, &err), ES_OK);
	ck_assert_ptr_null(c.endpoint_url);
	aws_config_release(&c);
	fake_set(&f, "AWS_CA_BUNDLE", "/etc/ca.pem");
	ck_assert_int_eq(load(&f, "configonly", &c, &err), ES_OK);
	ck_assert_str_eq(c.ca_bundle, "/etc/ca.pem");
	aws_config_release(&c);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

START_TEST(default_files_under_home)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;
	char *home = xasprintf("%s/creds/home", data_dir());

	memset(&f, 0, sizeof(f));
	fake_set(&f, "HOME", home);
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_OK);
	ck_assert_str_eq(c.access_key_id, "AKIDHOME");
	ck_assert_str_eq(c.region, "eu-north-1");
	aws_config_release(&c);
	free(home);
	buf_release(&err);
}
END_TEST

static void assert_err(const buf *err, const char *needle)
{
	ck_assert_ptr_nonnull(err->data);
	ck_assert_msg(strstr(err->data, needle) != NULL, "'%s' lacks '%s'", err->data, needle);
}

START_TEST(missing_and_partial_keys)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	/* an explicit profile without keys */
	ck_assert_int_eq(load(&f, "nokeys", &c, &err), ES_ERR_CONFIG);
	assert_err(&err, "no credentials for profile 'nokeys'");
	assert_err(&err, f.cred_path);
	ck_assert_ptr_null(c.access_key_id);
	/* an unknown profile */
	ck_assert_int_eq(load(&f, "nope", &c, &err), ES_ERR_CONFIG);
	assert_err(&err, "profile 'nope' not found in");
	fake_set(&f, "AWS_PROFILE", "nope");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_ERR_CONFIG);
	assert_err(&err, "profile 'nope' not found in");
	fake_set(&f, "AWS_PROFILE", NULL);
	/* half a key pair */
	ck_assert_int_eq(load(&f, "partial", &c, &err), ES_ERR_CONFIG);
	assert_err(&err, "profile 'partial'");
	assert_err(&err, "no aws_secret_access_key");
	fake_set(&f, "AWS_ACCESS_KEY_ID", "AKIDENV");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_ERR_CONFIG);
	assert_err(&err, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
	fake_set(&f, "AWS_ACCESS_KEY_ID", NULL);
	/* role_arn is not read */
	ck_assert_int_eq(load(&f, "role", &c, &err), ES_ERR_CONFIG);
	assert_err(&err, "profile 'role' gets its credentials from 'role_arn'");
	/* no files, no variables */
	fake_set(&f, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
	fake_set(&f, "AWS_CONFIG_FILE", "/nonexistent/config");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_ERR_CONFIG);
	assert_err(&err, "no AWS credentials");
	assert_err(&err, "profile 'default'");
	assert_err(&err, "/nonexistent/credentials");
	buf_release(&err);
	fake_release(&f);
}
END_TEST

START_TEST(messages_hold_no_secret)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;

	fake_init(&f);
	fake_set(&f, "AWS_SECRET_ACCESS_KEY", "very-secret-value");
	ck_assert_int_eq(load(&f, NULL, &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_null(strstr(err.data, "very-secret-value"));
	fake_set(&f, "AWS_SECRET_ACCESS_KEY", NULL);
	ck_assert_int_eq(load(&f, "partial", &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_null(strstr(err.data, "AKIDPARTIAL"));
	ck_assert_int_eq(load(&f, "dest", &c, &err), ES_OK);
	ck_assert_ptr_null(strstr(c.source, "dest-secret"));
	ck_assert_ptr_null(strstr(c.source, "dest-token"));
	aws_config_release(&c);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

START_TEST(released_secrets_are_wiped)
{
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;
	size_t nk, ns, nt;

	fake_init(&f);
	ck_assert_int_eq(load(&f, "dest", &c, &err), ES_OK);
	nk = strlen(c.access_key_id);
	ns = strlen(c.secret_access_key);
	nt = strlen(c.session_token);
	ck_assert_uint_gt(ns, 0);
	aws_config_wipe(&c);   /* what aws_config_release() does before freeing */
	ck_assert(all_zero(c.access_key_id, nk));
	ck_assert(all_zero(c.secret_access_key, ns));
	ck_assert(all_zero(c.session_token, nt));
	aws_config_release(&c);
	ck_assert_ptr_null(c.secret_access_key);
	ck_assert_ptr_null(c.session_token);
	aws_config_release(&c);   /* twice is fine */
	aws_config_release(NULL);
	buf_release(&err);
	fake_release(&f);
}
END_TEST

/* --- ini --------------------------------------------------------------- */

static es_result ini(const char *text, aws_ini *out, buf *err)
{
	buf_reset(err);
	return aws_ini_parse(text, strlen(text), "test.ini", out, err);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* The shared files are read once a process for a profile: a change made
 * after is not seen, by that profile, until the cache is released. */
START_TEST(shared_files_read_once)
{
	char dir[] = "/tmp/evshare-creds-XXXXXX";
	struct fake_env f;
	aws_config c;
	buf err = BUF_INIT;
	char *cred, *conf;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	cred = xasprintf("%s/credentials", dir);
	conf = xasprintf("%s/config", dir);
	memset(&f, 0, sizeof(f));
	fake_set(&f, "AWS_SHARED_CREDENTIALS_FILE", cred);
	fake_set(&f, "AWS_CONFIG_FILE", conf);
	write_text(cred, "[p1]\naws_access_key_id = AKID1\naws_secret_access_key = s1\n");
	write_text(conf, "[profile p1]\nregion = eu-west-1\nservices = svc\n"
		   "[services svc]\ns3 =\n  endpoint_url = http://127.0.0.1:9000\n");
	ck_assert_int_eq(load(&f, "p1", &c, &err), ES_OK);
	ck_assert_str_eq(c.access_key_id, "AKID1");
	ck_assert_str_eq(c.endpoint_url, "http://127.0.0.1:9000");
	aws_config_release(&c);
	write_text(cred, "[p1]\naws_access_key_id = AKID2\naws_secret_access_key = s2\n"
		   "[p2]\naws_access_key_id = AKIDP2\naws_secret_access_key = s3\n");
	unlink(conf);
	/* p1 as it was; the environment is read at each load */
	fake_set(&f, "AWS_REGION", "us-west-2");
	ck_assert_int_eq(load(&f, "p1", &c, &err), ES_OK);
	ck_assert_str_eq(c.access_key_id, "AKID1");
	ck_assert_str_eq(c.region, "us-west-2");
	ck_assert_str_eq(c.endpoint_url, "http://127.0.0.1:9000");
	aws_config_release(&c);
	/* another profile reads the files as they are now */
	ck_assert_int_eq(load(&f, "p2", &c, &err), ES_OK);
	ck_assert_str_eq(c.access_key_id, "AKIDP2");
	aws_config_release(&c);
	/* a file that cannot be read: its error is kept too */
	write_text(conf, "not ini\n");
	ck_assert_int_eq(load(&f, "p3", &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "line 1"));
	unlink(conf);
	ck_assert_int_eq(load(&f, "p3", &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "line 1"));
	/* released: read again */
	aws_config_cache_release();
	ck_assert_int_eq(load(&f, "p1", &c, &err), ES_OK);
	ck_assert_str_eq(c.access_key_id, "AKID2");
	ck_assert_ptr_null(c.endpoint_url);
	aws_config_release(&c);
	ck_assert_int_eq(load(&f, "p3", &c, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "profile 'p3' not found"));
	aws_config_cache_release();
	unlink(cred);
	rmdir(dir);
	free(cred);
	free(conf);
	buf_release(&err);
}
END_TEST

START_TEST(ini_basic_forms)
{
	aws_ini i;
	buf err = BUF_INIT;

	ck_assert_int_eq(ini("\xef\xbb\xbf# comment\n; comment\n[a]\nKey = v1 \n"
			     "k2:v2\nk3 =\nk4 = x = y\n\n  # indented comment\n"
			     "[ b ]\r\nk = with spaces  inside\r\n[c]\n", &i, &err), ES_OK);
	ck_assert_str_eq(aws_ini_get(&i, "a", "key"), "v1");
	ck_assert_str_eq(aws_ini_get(&i, "a", "k2"), "v2");
	ck_assert_str_eq(aws_ini_get(&i, "a", "k3"), "");
	ck_assert_str_eq(aws_ini_get(&i, "a", "k4"), "x = y");
	ck_assert_str_eq(aws_ini_get(&i, "b", "k"), "with spaces  inside");
	ck_assert(aws_ini_has_section(&i, "c"));
	ck_assert(!aws_ini_has_section(&i, "d"));
	ck_assert_ptr_null(aws_ini_get(&i, "a", "nope"));
	ck_assert_ptr_null(aws_ini_get(&i, "nope", "key"));
	ck_assert_ptr_null(aws_ini_get(&i, NULL, "key"));
	aws_ini_release(&i);
	aws_ini_release(&i);
	buf_release(&err);
}
END_TEST

START_TEST(ini_continuations_and_nesting)
{
	aws_ini i;
	buf err = BUF_INIT;

	ck_assert_int_eq(ini("[p]\nlong = one\n  two\n\n  three\ns3 =\n  addressing_style = path\n"
			     "  Max_Bandwidth: 5MB/s\nafter = x\n", &i, &err), ES_OK);
	ck_assert_str_eq(aws_ini_get(&i, "p", "long"), "one\ntwo\nthree");
	ck_assert_str_eq(aws_ini_get(&i, "p", "s3"), "");
	ck_assert_str_eq(aws_ini_get(&i, "p", "s3.addressing_style"), "path");
	ck_assert_str_eq(aws_ini_get(&i, "p", "s3.max_bandwidth"), "5MB/s");
	ck_assert_str_eq(aws_ini_get(&i, "p", "after"), "x");
	aws_ini_release(&i);
	buf_release(&err);
}
END_TEST

START_TEST(ini_errors_name_the_line)
{
	aws_ini i;
	buf err = BUF_INIT;

	ck_assert_int_eq(ini("k = v\n[a]\n", &i, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "'test.ini' line 1: a line before the first [section]");
	ck_assert_uint_eq(i.count, 0);
	ck_assert_int_eq(ini("[a]\nk = 1\n[b]\n[a]\n", &i, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "'test.ini' line 4: duplicate section");
	ck_assert_int_eq(ini("[a]\nk = 1\nK = 2\n", &i, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "'test.ini' line 3: duplicate key in the section");
	ck_assert_int_eq(ini("[a]\njunk line\n", &i, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "'test.ini' line 2: expected [section], 'key = value' or a comment");
	ck_assert_int_eq(ini("[a\n", &i, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "'test.ini' line 1: malformed section header");
	ck_assert_int_eq(ini("[a]\n= v\n", &i, &err), ES_ERR_CONFIG);
	ck_assert_int_eq(ini("[a]\ns3 =\n  junk\n", &i, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "'test.ini' line 3: expected 'key = value' in a nested block");
	buf_reset(&err);
	ck_assert_int_eq(aws_ini_parse("[a]\nk = v\0x\n", 10, "test.ini", &i, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "'test.ini' line 2: NUL byte");
	buf_release(&err);
}
END_TEST

START_TEST(ini_size_cap)
{
	aws_ini i;
	buf err = BUF_INIT;
	size_t n = AWS_INI_MAX_BYTES + 1;
	char *big = xmalloc(n);

	memset(big, '#', n);
	ck_assert_int_eq(aws_ini_parse(big, n, "big.ini", &i, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "larger than"));
	free(big);
	buf_release(&err);
}
END_TEST

START_TEST(config_section_names)
{
	ck_assert(aws_config_section_is("default", "default"));
	ck_assert(aws_config_section_is("profile default", "default"));
	ck_assert(aws_config_section_is("profile x", "x"));
	ck_assert(aws_config_section_is("profile   x", "x"));
	ck_assert(aws_config_section_is("profile \"my name\"", "my name"));
	ck_assert(!aws_config_section_is("x", "x"));
	ck_assert(!aws_config_section_is("profilex", "x"));
	ck_assert(!aws_config_section_is("profile xy", "x"));
	ck_assert(!aws_config_section_is("sso-session x", "x"));
	ck_assert(!aws_config_section_is("default", "x"));
}
END_TEST

Suite *creds_suite(void)
{
	Suite *s = suite_create("creds");
	TCase *tc = tcase_create("chain");

	tcase_add_test(tc, env_keys_win_over_default_profile);
	tcase_add_test(tc, explicit_profile_wins_over_env_keys);
	tcase_add_test(tc, aws_profile_selects_profile);
	tcase_add_test(tc, session_token_from_env);
	tcase_add_test(tc, config_sections_are_profile_name);
	tcase_add_test(tc, credentials_file_wins_over_config_file);
	tcase_add_test(tc, region_precedence);
	tcase_add_test(tc, endpoint_precedence);
	tcase_add_test(tc, default_files_under_home);
	tcase_add_test(tc, missing_and_partial_keys);
	tcase_add_test(tc, messages_hold_no_secret);
	tcase_add_test(tc, released_secrets_are_wiped);
	tcase_add_test(tc, shared_files_read_once);
	suite_add_tcase(s, tc);
	tc = tcase_create("ini");
	tcase_add_test(tc, ini_basic_forms);
	tcase_add_test(tc, ini_continuations_and_nesting);
	tcase_add_test(tc, ini_errors_name_the_line);
	tcase_add_test(tc, ini_size_cap);
	tcase_add_test(tc, config_section_names);
	suite_add_tcase(s, tc);
	return s;
}
