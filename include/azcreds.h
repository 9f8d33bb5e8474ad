/*
 * azcreds.h - Azure Storage credentials, found the way Azure's own tools
 * (the az CLI, the SDKs) find them: connection strings and the
 * AZURE_STORAGE_* environment variables.
 *
 * For an az://ACCOUNT/CONTAINER/prefix/ location, first found wins:
 *  1. the location's "credentials_file": a file holding one connection
 *     string (nothing else is looked at when it is set);
 *  2. AZURE_STORAGE_CONNECTION_STRING;
 *  3. AZURE_STORAGE_KEY (the account key, Base64), with
 *     AZURE_STORAGE_ACCOUNT if set;
 *  4. AZURE_STORAGE_SAS_TOKEN (a SAS token, with or without its '?'), with
 *     AZURE_STORAGE_ACCOUNT if set.
 * Empty variables count as unset.  Credentials that name an account (a
 * connection string's AccountName, AZURE_STORAGE_ACCOUNT) must name the
 * location's: anything else is an error naming both accounts, so that no
 * key is ever sent to another account's endpoint.  Nothing found is an
 * error listing what was looked for.
 *
 * Connection strings ("DefaultEndpointsProtocol=https;AccountName=a;
 * AccountKey=...;EndpointSuffix=core.windows.net"): ';'-separated
 * "Key=Value" pairs, split at the first '=' (values hold '=' padding),
 * keys without case, spaces around pairs ignored, empty pairs skipped.
 * Used: AccountName, AccountKey, SharedAccessSignature, BlobEndpoint,
 * DefaultEndpointsProtocol (http or https), EndpointSuffix,
 * UseDevelopmentStorage=true (Azurite's account devstoreaccount1, its
 * published key, http://127.0.0.1:10000/devstoreaccount1).  Other keys
 * (QueueEndpoint, TableEndpoint...) are ignored; a repeated key, a pair
 * without '=', DevelopmentStorageProxyUri and a string over
 * AZ_CREDS_MAX_BYTES are errors.  With both AccountKey and
 * SharedAccessSignature the key is used, as the Azure SDKs do.
 *
 * The endpoint a connection string gives: BlobEndpoint (trailing '/'
 * removed), else PROTOCOL://ACCOUNT.blob.SUFFIX when the string has
 * DefaultEndpointsProtocol or EndpointSuffix (https and core.windows.net
 * by default), else none (the location's default applies).
 *
 * Checks: an account key must be valid Base64 of 1..512 bytes; a SAS token
 * must be a query string (printable ASCII, no space or '#') with a "sig"
 * parameter.
 *
 * Secrets: account keys (text and decoded) and SAS tokens, and every byte
 * read from a credentials file or a connection string, are wiped with
 * secure_wipe() when released.  No message built here holds a secret: they
 * name the variable, the file or the connection-string key instead.  The
 * account key's Base64 text, the SAS token and its sig value (as given
 * and %-decoded) of credentials that are loaded are registered with
 * log_add_secret(), so that no message of the process can hold them, not
 * even a server's error reply that echoes the request.
 *
 * The environment is read through a creds_env (creds.h) so that tests can
 * give their own.
 */
#ifndef EVSHARE_AZCREDS_H
#define EVSHARE_AZCREDS_H

#include "creds.h"
#include "util.h"

#define AZ_CREDS_MAX_BYTES  (64u << 10)   /* a connection string or its file */
#define AZ_MAX_KEY_BYTES    512           /* a decoded account key */
#define AZ_DEV_ACCOUNT      "devstoreaccount1"
#define AZ_DEV_ENDPOINT     "http://127.0.0.1:10000/devstoreaccount1"

typedef struct az_conn_string {
	char *account;         /* AccountName; NULL when absent (so for all below) */
	char *account_key;     /* AccountKey, Base64 text; wiped on release */
	char *sas;             /* SharedAccessSignature, without '?'; wiped */
	char *blob_endpoint;   /* BlobEndpoint, without a trailing '/' */
	char *protocol;        /* DefaultEndpointsProtocol */
	char *endpoint_suffix; /* EndpointSuffix */
	bool dev_storage;      /* UseDevelopmentStorage=true */
} az_conn_string;

/*
 * Parse a connection string s[0..n) (surrounding whitespace ignored).
 * origin names it in messages ("AZURE_STORAGE_CONNECTION_STRING", "'/etc/x'").
 * On ES_OK fills *out (release with az_conn_string_release); on failure
 * returns ES_ERR_CONFIG with a reason in err (never a value) and leaves
 * *out released.
 */
es_result az_conn_string_parse(const char *s, size_t n, const char *origin,
			       az_conn_string *out, buf *err);
/* Wipe the secrets and free everything; c is left empty.  Accepts NULL. */
void az_conn_string_release(az_conn_string *c);

typedef struct az_credentials {
	unsigned char *key;    /* decoded account key (Shared Key); NULL with a SAS */
	size_t key_len;
	char *sas;             /* SAS token without '?'; NULL with a key */
	char *endpoint;        /* from a connection string; NULL: none given */
	char *source;          /* for messages: "AZURE_STORAGE_KEY",
	                          "AZURE_STORAGE_CONNECTION_STRING",
	                          "credentials file '/path'" */
} az_credentials;

/*
 * Find the credentials of `account` (the location's) by the rules above;
 * credentials_file is the location's (NULL: none).  On ES_OK fills *out
 * (release with az_credentials_release).  On failure returns
 * ES_ERR_CONFIG with a reason in err (never a secret) and leaves *out
 * released.
 */
es_result az_credentials_load(const creds_env *env, const char *account,
			      const char *credentials_file, az_credentials *out, buf *err);
/* Wipe the key and token and free everything; c is left empty.  Accepts NULL. */
void az_credentials_release(az_credentials *c);

/*
 * Decode strict Base64 (RFC 4648, padding required, no whitespace) of
 * s[0..n) into an allocated buffer, *out_len bytes.  NULL when malformed.
 * The caller wipes and frees it.
 */
unsigned char *az_base64_decode(const char *s, size_t n, size_t *out_len);

/* Is s (without '?') acceptable as a SAS token (see above)? */
bool az_sas_is_valid(const char *s);

#endif
