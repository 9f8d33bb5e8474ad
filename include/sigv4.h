/*
 * sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256) request signing.
 *
 * The signer is a pure function of (request, credentials, parameters with
 * the time).  It reads no clock, no environment and no files, and does no
 * network I/O: the caller (the S3 backend) builds the request, asks for a
 * signature, and sends the headers it gets back.  It follows the four steps
 * of the AWS specification: canonical request, string to sign, signing key,
 * signature.  tests/check_sigv4.c runs it against the AWS test suite and the
 * S3 worked examples in tests/data/sigv4/ (their header-form files).
 *
 * One form: sigv4_sign_headers(), the Authorization header, which every S3
 * request evshare makes carries.  evshare hands out no URLs, so there is no
 * presigned (query string) form.
 *
 * What the caller gives (all strings NUL-terminated, borrowed for the call
 * only; nothing is kept):
 *
 *   path     The path as it goes on the wire.  With double_encode false (S3)
 *            it must already be percent-encoded in canonical form: only
 *            A-Z a-z 0-9 - . _ ~ /, and %XX with uppercase hex; build it
 *            with sigv4_uri_encode(..., keep_slash = true).  It is then used
 *            as the canonical URI unchanged, and anything else is refused.
 *            With double_encode true (the generic AWS services), the path is
 *            encoded once more, every byte but unreserved and '/' becoming
 *            %XX, so raw bytes (a space, UTF-8) are allowed there.
 *            normalize_path removes "." and ".." segments and merges repeated
 *            '/' (keeping a trailing '/') before that; S3 never normalizes.
 *
 *   query    The query string without '?', NULL or "" for none.  It is taken
 *            as already percent-encoded: split on '&' (empty pieces skipped),
 *            split at the first '=', each name and value %XX-decoded and
 *            re-encoded with the unreserved rule (so '/' becomes %2F and a
 *            space %20), sorted by encoded name then encoded value, and a
 *            parameter without '=' is written "name=" (S3's "uploads=").
 *            '+' is NOT form-decoded: it is a literal plus and becomes %2B.
 *            A '%' not followed by two hex digits is refused.  So that the
 *            server sees the same bytes, send a query whose names and values
 *            were each made with sigv4_uri_encode(..., keep_slash = false).
 *
 *   headers  The headers to sign, Host included (it is required).  Names
 *            are compared without case and must be HTTP tokens; values may
 *            not hold control characters (no CR or LF: fold continuation
 *            lines into spaces before calling).  Canonical form: names
 *            lowercased and sorted, values trimmed of spaces and tabs with
 *            inner runs collapsed to one space, repeated names joined with
 *            ',' in the order given.  An Authorization header is refused.
 *
 *   payload_hash  Lowercase hex SHA-256 of the body (sigv4_sha256_hex), or
 *            SIGV4_UNSIGNED_PAYLOAD.  It is the last line of the canonical
 *            request.
 *
 * Which headers the signer adds.  The signer owns the authentication
 * headers: it adds and signs, in this order,
 *   X-Amz-Security-Token   when the credentials carry a session token,
 *   X-Amz-Date             always,
 *   x-amz-content-sha256   when params.add_content_sha256 (S3 needs it on
 *                          every request; set it there),
 * and finally Authorization (not signed).  The result lists them in
 * result.add[]: send the request's own headers plus those.  A caller may
 * instead pass any of the first three itself (the S3 examples of the AWS
 * guide do); it is then signed as given and not added again, and its value
 * must equal what the signer would have added (the signing time, the token,
 * payload_hash) or the call is refused.  The recommended use is to pass none
 * of them.
 *
 * Memory: a sigv4_result owns every string in it; sigv4_result_release()
 * frees them and leaves an empty result.  sigv4_sign_headers() starts by
 * emptying *out, and leaves it empty on failure, so releasing is always safe.
 *
 * Secrets: the secret key is copied only into the "AWS4"+secret HMAC key,
 * which is wiped with secure_wipe() after use, as are the derived keys.  No
 * returned string and no log message holds the secret.  The session token
 * is not a secret in this sense: it travels on the wire, so it is in the
 * canonical request and the added headers.
 *
 * Errors: invalid arguments are a bug in the caller: the functions log one
 * "sigv4: ..." message naming the field (never a secret) and return
 * ES_ERR_INTERNAL.  Inputs are capped: path, query and headers together at
 * SIGV4_MAX_INPUT bytes, at most SIGV4_MAX_HEADERS headers.
 */
#ifndef EVSHARE_SIGV4_H
#define EVSHARE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* The payload hash for a body that is not hashed (S3 takes it; evshare
 * hashes every body it sends). */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* The SHA-256 of the empty string: the payload hash of GET, HEAD, DELETE. */
#define SIGV4_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define SIGV4_MAX_INPUT   (64 * 1024)  /* bytes of path + query + headers */
#define SIGV4_MAX_HEADERS 100          /* headers in a request */
#define SIGV4_MAX_ADDED   4            /* headers the signer adds */

typedef struct sigv4_header {
	const char *name;
	const char *value;
} sigv4_header;

typedef struct sigv4_request {
	const char *method;          /* "GET" */
	const char *path;            /* on the wire: "/bucket/a%20b" (see above) */
	const char *query;           /* without '?'; NULL or "" for none */
	const sigv4_header *headers; /* headers to sign, Host included */
	size_t nheaders;
	const char *payload_hash;    /* hex SHA-256 of the body, or UNSIGNED-PAYLOAD */
} sigv4_request;

typedef struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;   /* NULL or "" when there is none */
} sigv4_credentials;

typedef struct sigv4_params {
	const char *region;          /* "us-east-1" */
	const char *service;         /* "s3" */
	int64_t time_s;              /* signing time, seconds since the epoch, UTC */
	bool normalize_path;         /* false for S3 */
	bool double_encode;          /* false for S3: the path is used as sent */
	bool add_content_sha256;     /* add x-amz-content-sha256; true for S3 */
	bool omit_session_token;     /* send the token but leave it out of the
	                                signature (some services, e.g. IoT);
	                                false for S3 */
} sigv4_params;

typedef struct sigv4_result {
	/*
	 * The headers to add to the request, in this order, with
	 * Authorization last.  Names are string constants; values point into
	 * the strings below.
	 */
	sigv4_header add[SIGV4_MAX_ADDED];
	size_t nadd;
	char *authorization;         /* the Authorization value */
	char *amz_date;              /* "20150830T123600Z" */
	char *security_token;        /* X-Amz-Security-Token value when added */
	char *content_sha256;        /* x-amz-content-sha256 value when added */
	char *canonical_request;     /* for tests and debugging; holds no secret */
	char *string_to_sign;
	char signature[65];          /* lowercase hex */
} sigv4_result;

/*
 * Sign for the Authorization header.  On ES_OK, out holds the headers to
 * add (out->add) and the intermediate strings; release it with
 * sigv4_result_release().  On failure (ES_ERR_INTERNAL, logged), out is empty.
 */
es_result sigv4_sign_headers(const sigv4_request *req, const sigv4_credentials *cred,
			     const sigv4_params *params, sigv4_result *out);

/* Free everything a result owns; it is left empty.  Accepts NULL. */
void sigv4_result_release(sigv4_result *r);

/*
 * Helpers for building requests.
 */

/*
 * Append s[0..n) to out percent-encoded the SigV4 way: A-Z a-z 0-9 - . _ ~
 * are kept, '/' is kept when keep_slash, every other byte becomes %XX with
 * uppercase hex (a space is %20, never '+').  Use keep_slash = true for an
 * object key in a path, false for a query name or value.  Returns false,
 * with out holding a truncated result, only when out's cap would be passed.
 */
bool sigv4_uri_encode(buf *out, const char *s, size_t n, bool keep_slash);

/* Lowercase hex SHA-256 of p[0..n) into out (64 digits and a NUL). */
void sigv4_sha256_hex(const void *p, size_t n, char out[65]);

#endif
