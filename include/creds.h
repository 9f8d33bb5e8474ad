/*
 * creds.h - AWS credentials and settings, found the way the AWS CLI finds
 * them: the environment, then the shared credentials and config files.
 *
 * Which profile: the one named by the location ("profile" in the config
 * file, an explicit choice), else AWS_PROFILE, else AWS_DEFAULT_PROFILE,
 * else "default".  A profile other than "default" that is in neither file
 * is an error, as with the CLI.
 *
 * Credentials, first found wins:
 *  1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN, or the
 *     older AWS_SECURITY_TOKEN) - unless the location names a profile: an
 *     explicit profile is never overridden by the environment (botocore
 *     does the same for --profile).  Only one of the two set is an error.
 *  2. the profile's section in the shared credentials file
 *     (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials; "[NAME]"):
 *     aws_access_key_id, aws_secret_access_key, aws_session_token;
 *  3. the profile's section in the config file (AWS_CONFIG_FILE, default
 *     ~/.aws/config; "[profile NAME]", and "[default]" for default), same keys.
 * A profile that would need role_arn, credential_process, SSO or web
 * identity is refused with a message saying so, as are the instance and
 * container metadata services: evshare reads static keys only.
 *
 * Settings (NULL or -1 when not set; the caller applies its defaults):
 *  region     AWS_REGION, else AWS_DEFAULT_REGION, else the profile's
 *             "region" (the credentials file wins over the config file for
 *             a key both have, as in botocore);
 *  endpoint   AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, else the s3
 *             endpoint_url of the profile's "services" section ("services =
 *             NAME" and "[services NAME]" with "s3 =" and an indented
 *             "endpoint_url = URL"), else the profile's "endpoint_url";
 *             none at all when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true;
 *  ca_bundle  AWS_CA_BUNDLE, else the profile's "ca_bundle";
 *  path_style the profile's "s3 = / addressing_style = path|virtual".
 * "~/" at the start of a file name is $HOME.
 *
 * The two files are read once a process for a profile: the first load
 * of a profile with given file paths keeps what the profile takes of them
 * (its sections, the services section it names, or why the files could
 * not be read) and every later load of the same three uses it, so that
 * opening a store per location reads no file again; the environment is
 * read at each load.  A file changed while the process runs is not seen.
 *
 * Files are parsed as Python's configparser reads them for botocore
 * (aws_ini_parse): [sections], "key = value" or "key: value" (keys
 * lowercased, values trimmed, no quotes removed, no inline comments), full
 * line comments starting with '#' or ';', indented continuation lines, and
 * nested sub-keys ("s3 =" followed by indented "k = v" lines, stored as
 * "s3.k").  A duplicate section or key, a line outside any section, or a
 * line that is none of these is an error naming the file and line.  Files
 * over AWS_INI_MAX_BYTES are refused.  A missing file is not an error.
 *
 * Secrets: the secret key and the session token (and every value read from
 * a file, since a file holds secrets) are wiped with secure_wipe() when
 * released.  No message built here ever contains a secret or token; they
 * name the profile, the variable or the file instead.  The secret key and
 * the session token that aws_config_load() returns are registered with
 * log_add_secret(): no message of the process can hold them, not even a
 * server's error reply that echoes the request's headers.
 *
 * The environment is read through a creds_env so that tests can give
 * their own; creds_process_env() reads the real one.
 */
#ifndef EVSHARE_CREDS_H
#define EVSHARE_CREDS_H

#include "util.h"

#define AWS_INI_MAX_BYTES (1u << 20)

typedef struct creds_env {
	const char *(*get)(void *ud, const char *name);   /* NULL: unset */
	void *ud;
} creds_env;

/* The process environment (getenv). */
const creds_env *creds_process_env(void);

typedef struct aws_config {
	char *profile;            /* the profile used ("default" if none named) */
	bool profile_explicit;    /* named by the location */
	char *access_key_id;      /* never NULL after ES_OK */
	char *secret_access_key;  /* never NULL after ES_OK; wiped on release */
	char *session_token;      /* NULL when none; wiped on release */
	char *source;             /* where the keys came from, for messages:
	                             "environment" or "profile 'x' in '/path'" */
	char *region;             /* NULL: not set */
	char *endpoint_url;       /* NULL: not set */
	char *ca_bundle;          /* NULL: not set */
	int path_style;           /* -1 not set, 0 virtual, 1 path */
} aws_config;

/*
 * Find credentials and settings for `profile` (NULL: not named by the
 * location).  On ES_OK fills *out (release with aws_config_release).  On
 * failure returns ES_ERR_CONFIG with a reason in err (never a secret) and
 * leaves *out released.
 */
es_result aws_config_load(const creds_env *env, const char *profile, aws_config *out,
			  buf *err);
/* Overwrite the key id, secret and token with zero bytes in place (the
 * strings stay allocated, now empty).  aws_config_release() does this
 * before freeing. */
void aws_config_wipe(aws_config *c);
/* Wipe the secrets and free everything; c is left empty.  Accepts NULL. */
void aws_config_release(aws_config *c);
/* Wipe and forget what was kept of the shared files (the next load reads
 * them again). */
void aws_config_cache_release(void);

/* --- ini files -------------------------------------------------------- */

typedef struct aws_ini_entry {
	char *section;            /* as written between the brackets, trimmed */
	char *key;                /* lowercased; "parent.child" for nested keys */
	char *value;              /* trimmed; continuation lines joined by '\n' */
	unsigned line;
} aws_ini_entry;

typedef struct aws_ini {
	aws_ini_entry *items;
	size_t count, alloc;
	char **sections;          /* every section header, even empty ones */
	size_t nsections, sections_alloc;
} aws_ini;

/*
 * Parse text[0..n) read from file `name` (used in messages).  On ES_OK
 * *out holds the entries (release with aws_ini_release).  On failure
 * returns ES_ERR_CONFIG, appends "'name' line N: reason" to err, and
 * leaves *out empty.
 */
es_result aws_ini_parse(const char *text, size_t n, const char *name, aws_ini *out,
			buf *err);
/* The value of key in section, or NULL. */
const char *aws_ini_get(const aws_ini *ini, const char *section, const char *key);
bool aws_ini_has_section(const aws_ini *ini, const char *section);
/* Wipe every value, free everything; ini is left empty.  Accepts NULL. */
void aws_ini_release(aws_ini *ini);

/* Is `section` of the config file the section of `profile`?  "[default]"
 * and "[profile default]" are default's; "[profile NAME]" (the name may
 * be quoted) is NAME's; other sections ("sso-session x") are no profile's. */
bool aws_config_section_is(const char *section, const char *profile);

#endif
