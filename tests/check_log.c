/*
 * check_log.c - what the logger writes: secrets redacted from every
 * message (registered values, sig= and the other secret-bearing
 * parameters), in text and JSON lines, and in what store_fail() keeps for
 * the run summary and the state; the credential loaders register what
 * they load.
 */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "azcreds.h"
#include "creds.h"
#include "log.h"
#include "store.h"

/* b's text after log_redact(). */
static const char *redacted(buf *b, const char *text)
{
	buf_reset(b);
	buf_addstr(b, text);
	log_redact(b);
	return b->data;
}

START_TEST(registered_secrets_are_redacted)
{
	buf b = BUF_INIT;

	log_forget_secrets();
	log_add_secret("short", 5);                    /* ignored: too common */
	log_add_secret("wJalrXUtnFEMI/K7MDENG", 21);
	log_add_secret("FwoGZXIvYXdz+token/value==", 26);
	log_add_secret("FwoGZXIvYXdz+token/value==", 26);   /* kept once */
	ck_assert_str_eq(redacted(&b, "a short one"), "a short one");
	ck_assert_str_eq(redacted(&b, "403 AccessDenied: key wJalrXUtnFEMI/K7MDENG and "
				  "x-amz-security-token: FwoGZXIvYXdz+token/value== twice "
				  "wJalrXUtnFEMI/K7MDENG"),
			 "403 AccessDenied: key *** and x-amz-security-token: *** twice ***");
	/* in the middle of other text, at the start and the end */
	ck_assert_str_eq(redacted(&b, "wJalrXUtnFEMI/K7MDENGwJalrXUtnFEMI/K7MDENG"), "******");
	ck_assert_str_eq(redacted(&b, "nothing here"), "nothing here");
	log_forget_secrets();
	ck_assert_str_eq(redacted(&b, "key wJalrXUtnFEMI/K7MDENG"), "key wJalrXUtnFEMI/K7MDENG");
	buf_release(&b);
}
END_TEST

START_TEST(longest_secret_first)
{
	buf b = BUF_INIT;

	/* a SAS token and its signature: the whole token goes, not only its sig */
	log_forget_secrets();
	log_add_secret("AbCdEf0123456789xyz", 19);
	log_add_secret("sv=2022-11-02&ss=b&sig=AbCdEf0123456789xyz", 42);
	ck_assert_str_eq(redacted(&b, "GET /c/k?sv=2022-11-02&ss=b&sig=AbCdEf0123456789xyz "
				  "then AbCdEf0123456789xyz"), "GET /c/k?*** then ***");
	log_forget_secrets();
	buf_release(&b);
}
END_TEST

START_TEST(secret_parameters_are_redacted)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{ "GET /c?comp=list&sig=abc%2Bdef%3D&se=2026", "GET /c?comp=list&sig=***&se=2026" },
		{ "url 'https://a.blob/c?sv=1&SIG=xyz' failed", "url 'https://a.blob/c?sv=1&SIG=***' failed" },
		{ "<Message>sig=q+r/s=</Message>", "<Message>sig=***</Message>" },
		{ "\"sig=abc\"", "\"sig=***\"" },
		{ "sig=abc\tnext", "sig=***\tnext" },
		{ "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/s3/"
		  "aws4_request, SignedHeaders=host;x-amz-date, Signature=0123abcd",
		  "Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/s3/"
		  "aws4_request, SignedHeaders=host;x-amz-date, Signature=***" },
		{ "?X-Amz-Signature=beef&X-Amz-Security-Token=tok%2F1&a=b",
		  "?X-Amz-Signature=***&X-Amz-Security-Token=***&a=b" },
		{ "AccountName=a;AccountKey=Zm9vYmFy==;EndpointSuffix=x",
		  "AccountName=a;AccountKey=***;EndpointSuffix=x" },
		{ "Authorization: SharedKey myaccount:c2lnbmF0dXJl= rest",
		  "Authorization: SharedKey myaccount:*** rest" },
		{ "SharedKeyLite acct:c2ln", "SharedKeyLite acct:***" },
		/* not a parameter of that name */
		{ "design=x usig=y the signature you provided sig= sig", "design=x usig=y the "
		  "signature you provided sig= sig" },
		{ "403 SignatureDoesNotMatch: The request signature we calculated does not match",
		  "403 SignatureDoesNotMatch: The request signature we calculated does not match" },
		{ "", "" },
	};
	buf b = BUF_INIT;

	log_forget_secrets();
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_str_eq(redacted(&b, t[i].in), t[i].out);
	buf_release(&b);
}
END_TEST

/* What log_msg() writes to standard error. */
static char *logged(enum log_format fmt, const char *url, const char *msg)
{
	char path[] = "/tmp/check_log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	buf out = BUF_INIT;
	char chunk[4096];
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	log_setup(fmt, LOG_INFO);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	log_msg(LOG_ERROR, url, "%s", msg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	log_setup(LOG_TEXT, LOG_INFO);
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(&out, chunk, (size_t)n);
	close(fd);
	return buf_detach(&out, NULL);
}

START_TEST(log_lines_are_redacted)
{
	char *line;

	log_forget_secrets();
	log_add_secret("session-token-0123456789", 24);
	line = logged(LOG_TEXT, NULL, "cannot read 'az://a/c/k': 403 AuthenticationFailed: "
		      "GET /c/k?sv=1&sig=S1GV4LU3 x-amz-security-token: session-token-0123456789");
	ck_assert_str_eq(line, "evshare: error: cannot read 'az://a/c/k': 403 "
			 "AuthenticationFailed: GET /c/k?sv=1&sig=*** x-amz-security-token: ***\n");
	free(line);
	line = logged(LOG_JSON, "https://h/c?sig=S1GV4LU3", "echo session-token-0123456789");
	ck_assert_ptr_null(strstr(line, "S1GV4LU3"));
	ck_assert_ptr_null(strstr(line, "session-token"));
	ck_assert_ptr_nonnull(strstr(line, "\"msg\":\"echo ***\""));
	ck_assert_ptr_nonnull(strstr(line, "\"url\":\"https://h/c?sig=***\""));
	free(line);
	log_forget_secrets();
}
END_TEST

/* What store_fail() keeps (the run summary's reason, state.json's
 * last_error) is the redacted message, then cut: a secret that straddles
 * the cut leaves no prefix behind. */
START_TEST(store_fail_keeps_the_redacted_message)
{
	store st;
	char pad[400];
	char *line;

	memset(&st, 0, sizeof(st));
	log_forget_secrets();
	log_add_secret("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 36);
	memset(pad, 'p', sizeof(pad));
	pad[300] = '\0';
	ck_assert_int_eq(store_fail(&st, ES_ERR_AUTH, NULL, "%s 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
				    pad), ES_ERR_AUTH);
	ck_assert_ptr_null(strstr(store_last_error(&st), "0123456789"));
	ck_assert_ptr_nonnull(strstr(store_last_error(&st), " ***"));
	store_fail(&st, ES_ERR_AUTH, NULL, "403: GET /c?sig=S1GV4LU3&sp=r");
	ck_assert_str_eq(store_last_error(&st), "403: GET /c?sig=***&sp=r");
	line = logged(LOG_TEXT, NULL, store_last_error(&st));
	ck_assert_ptr_null(strstr(line, "S1GV4LU3"));
	free(line);
	log_forget_secrets();
}
END_TEST

/* The credential loaders register what they load. */
static const char *const *env_vars;

static const char *env_get(void *ud, const char *name)
{
	(void)ud;
	for (size_t i = 0; env_vars[i]; i += 2)
		if (!strcmp(env_vars[i], name))
			return env_vars[i + 1];
	return NULL;
}

START_TEST(loaders_register_their_secrets)
{
	static const char *const aws_env[] = {
		"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE0001",
		"AWS_SECRET_ACCESS_KEY", "secret/key+0123456789",
		"AWS_SESSION_TOKEN", "FwoGZXIvYXdzEJr//token=",
		"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials",
		"AWS_CONFIG_FILE", "/nonexistent/config", NULL
	};
	static const char *const sas_env[] = {
		"AZURE_STORAGE_SAS_TOKEN", "?sv=2022-11-02&sp=rl&sig=R3d4ct%2BMe%3D", NULL
	};
	static const char *const key_env[] = {
		"AZURE_STORAGE_CONNECTION_STRING",
		"AccountName=acct;AccountKey=a2V5a2V5a2V5a2V5;SharedAccessSignature=sv=1&sig=0therS1g",
		NULL
	};
	creds_env env = { env_get, NULL };
	aws_config aws;
	az_credentials az;
	buf b = BUF_INIT, err = BUF_INIT;

	log_forget_secrets();
	env_vars = aws_env;
	ck_assert_int_eq(aws_config_load(&env, NULL, &aws, &err), ES_OK);
	aws_config_release(&aws);
	ck_assert_str_eq(redacted(&b, "k secret/key+0123456789 t FwoGZXIvYXdzEJr//token= id "
				  "AKIDEXAMPLE0001"), "k *** t *** id AKIDEXAMPLE0001");

	env_vars = sas_env;
	ck_assert_int_eq(az_credentials_load(&env, "acct", NULL, &az, &err), ES_OK);
	az_credentials_release(&az);
	/* the token, its sig as given and %-decoded, wherever they appear */
	ck_assert_str_eq(redacted(&b, "q sv=2022-11-02&sp=rl&sig=R3d4ct%2BMe%3D s R3d4ct%2BMe%3D "
				  "d R3d4ct+Me="), "q *** s *** d ***");

	env_vars = key_env;
	ck_assert_int_eq(az_credentials_load(&env, "acct", NULL, &az, &err), ES_OK);
	az_credentials_release(&az);
	ck_assert_str_eq(redacted(&b, "key a2V5a2V5a2V5a2V5 unused sas 0therS1g"),
			 "key *** unused sas ***");
	log_forget_secrets();
	buf_release(&b);
	buf_release(&err);
}
END_TEST

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("redaction");

	tcase_add_test(tc, registered_secrets_are_redacted);
	tcase_add_test(tc, longest_secret_first);
	tcase_add_test(tc, secret_parameters_are_redacted);
	tcase_add_test(tc, log_lines_are_redacted);
	tcase_add_test(tc, store_fail_keeps_the_redacted_message);
	tcase_add_test(tc, loaders_register_their_secrets);
	suite_add_tcase(s, tc);
	return s;
}
