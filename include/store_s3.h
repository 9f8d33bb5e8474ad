/*
 * store_s3.h - the s3:// and gs:// object store: the store.h interface over
 * the S3 REST API, signed with sigv4.c, sent with objhttp.c (retries,
 * resumed GETs, messages) over http.c, replies parsed with s3xml.c,
 * credentials from creds.c.
 *
 * store_s3_open() (declared in store.h) checks the location
 * (store_s3_check, below), loads the credentials, resolves the settings
 * below and opens an http_client; nothing is sent until the first
 * operation.  A store is used by one thread at a time (a put
 * may run threads of its own for the parts of a multipart upload, and
 * joins them before it returns).
 *
 * Settings and their defaults (for the man page):
 *
 *  credentials  the AWS chain of creds.h: AWS_ACCESS_KEY_ID /
 *               AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the profile
 *               (the location's "profile", else AWS_PROFILE, else "default")
 *               in AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and
 *               AWS_CONFIG_FILE (~/.aws/config).  A location that names a
 *               profile uses that profile's keys even when the AWS_* key
 *               variables are set.  gs:// takes the same chain: give it a
 *               profile holding a Cloud Storage HMAC key id and secret.
 *  region       s3: the location's "region", else AWS_REGION, else
 *               AWS_DEFAULT_REGION, else the profile's region, else
 *               S3_DEFAULT_REGION (us-east-1).  gs: the location's
 *               "region", else S3_GS_REGION ("auto").  It is the signing
 *               region.
 *  endpoint     the location's "endpoint", else (s3 only) AWS_ENDPOINT_URL_S3,
 *               AWS_ENDPOINT_URL, the profile's endpoint_url, else
 *               https://s3.REGION.amazonaws.com (.amazonaws.com.cn for cn-*
 *               regions); gs: https://storage.googleapis.com.  http:// or
 *               https:// with a host, an optional port and base path, no
 *               user:password@, query or fragment.
 *  path_style   the location's "path_style", else (s3) the profile's
 *               s3.addressing_style, else true when the endpoint is not the
 *               default one (S3-compatible servers such as MinIO), false
 *               for AWS and Google.  A bucket name with a '.' over https is
 *               addressed path-style unless path_style is set false
 *               explicitly (its name would not match the TLS certificate),
 *               and one that is not a host name (a '_', as older S3 and
 *               Cloud Storage buckets may have) always is.
 *  part_size    the location's "part_size", else S3_DEFAULT_PART_SIZE
 *               (16 MiB); raised, in whole MiB, when an object would need
 *               more than S3_MAX_PARTS (10000) parts.
 *  multipart_threshold  objects of at least this size are sent by
 *               multipart upload, smaller ones by one PUT; default: the
 *               part size; capped at S3_MAX_PUT_SIZE (5 GiB).
 *  upload_streams  connections that send the parts of one multipart
 *               upload at once (the location's "upload_streams", 1..16),
 *               default OBJHTTP_DEFAULT_STREAMS (4); each takes the next
 *               part not yet sent, the first failure stops them all.
 *  retries      attempts per request (the location's "retries", 1..20),
 *               default S3_DEFAULT_ATTEMPTS (5); backoff with full jitter
 *               from 100 ms doubling up to 20 s (http.h).  A GET that
 *               keeps making progress resumes past that bound (up to
 *               OBJHTTP_MAX_RESUMES, 100, attempts in all).
 *  CA bundle    AWS_CA_BUNDLE, else the profile's ca_bundle, else the
 *               system's CA store.  TLS peers are always verified.
 *  stall timeout  EVSHARE_STALL_TIMEOUT (whole seconds, 1..3600), default
 *               30: a transfer that moves no byte for that long is aborted
 *               and retried (resumed, for a GET).
 *
 * Requests: ListObjectsV2 (list-type=2, encoding-type=url, the location
 * prefix, continuation tokens percent-encoded); GET with If-Match: the
 * listed ETag, streamed to the caller, resumed with Range: bytes=N- after a
 * broken connection, a truncated body or a stall, so each byte reaches the
 * callback once; PUT with Content-MD5 and the signed SHA-256 of the body
 * below the threshold; at or above it ListMultipartUploads for the key
 * (unfinished uploads of that exact key are aborted: only an interrupted
 * run of the same plan, writing the same bytes, leaves one; a bucket
 * policy that denies listing them, AccessDenied, is a warning, since
 * s3:PutObject is all an upload needs), then
 * CreateMultipartUpload, UploadPart (Content-MD5 and signed SHA-256 per
 * part, read from the file with pread; on up to upload_streams connections
 * at once, each a thread of the put), CompleteMultipartUpload (an
 * <Error> in a 200 reply is an error) and AbortMultipartUpload when it
 * fails for good.  Bodies are always sent with Content-Length.  Zero-byte
 * keys ending in '/' (console "folders") are not listed.
 *
 * Errors, logged once with the s3:// URL and the S3 code and message:
 *  401/403 (SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied,
 *  InvalidToken, ExpiredToken), RequestTimeTooSkewed (with the clock
 *  offset measured from the reply's Date)        -> ES_ERR_AUTH
 *  AuthorizationHeaderMalformed (wrong region), a redirect (bucket in
 *  another region)                                -> ES_ERR_CONFIG
 *  attempts exhausted on a retryable failure      -> ES_ERR_TEMP
 *  TLS failures and other 4xx (NoSuchBucket, NoSuchKey, 412 the object
 *  changed since it was listed...)                -> ES_ERR_REMOTE
 *  the local file of a put cannot be read         -> ES_ERR_IO
 * Never logged: the secret key, the session token, the Authorization
 * header.  At -v -v every attempt is logged: method, URL, status, attempt,
 * bytes and time.
 *
 * The functions below are the pure parts, exposed for tests.
 */
#ifndef EVSHARE_STORE_S3_H
#define EVSHARE_STORE_S3_H

#include "creds.h"
#include "objhttp.h"
#include "store.h"

#define S3_DEFAULT_REGION     "us-east-1"
#define S3_GS_ENDPOINT        "https://storage.googleapis.com"
#define S3_GS_REGION          "auto"
#define S3_DEFAULT_PART_SIZE  (16ull << 20)
#define S3_MIN_PART_SIZE      (5ull << 20)
#define S3_MAX_PART_SIZE      (5ull << 30)
#define S3_MAX_PARTS          10000
#define S3_MAX_PUT_SIZE       (5ull << 30)
#define S3_DEFAULT_ATTEMPTS   5

typedef struct s3_settings {
	char *region;            /* signing region */
	objhttp_endpoint endpoint;
	bool default_endpoint;   /* the scheme's own (AWS, Google) */
	bool path_style;
	objhttp_transfer xfer;   /* part size, threshold (<= S3_MAX_PUT_SIZE),
	                            attempts, upload streams */
	long stall_timeout_s;
	char *ca_bundle;         /* NULL: the system's */
} s3_settings;

/*
 * store_s3_check() (declared in store.h; store_check() for s3:// and gs://)
 * refuses, without I/O:
 *  url         a bucket name of fewer than 3 characters, not starting and
 *              ending with a letter or digit, of more than 255 characters
 *              (S3: 63 since 2018, 255 for older buckets) or, for gs://,
 *              222, or 63 between two dots
 *  region      not 1 to 64 of a-z 0-9 -
 *  path_style  false for a bucket that is not a host name
 *              (s3_bucket_is_host_name)
 * and objhttp_check()'s endpoint, part_size (S3_MIN_PART_SIZE ..
 * S3_MAX_PART_SIZE), multipart_threshold, retries and upload_streams.
 */

/*
 * Settings of loc, a location that passed store_s3_check(), from the
 * location, the AWS settings (creds.h) and env (for EVSHARE_STALL_TIMEOUT),
 * by the rules above.  ES_ERR_CONFIG with a reason in err for what came
 * from elsewhere and cannot work: the region or the endpoint of the
 * environment or the profile, the profile's virtual-host style for a
 * bucket that is not a host name, EVSHARE_STALL_TIMEOUT.
 */
es_result s3_settings_resolve(const location *loc, const aws_config *aws,
			      const creds_env *env, s3_settings *out, buf *err);
void s3_settings_release(s3_settings *s);

/* Can the bucket name go in a host name (virtual-host style)?  Labels
 * between dots of 1 to 63 letters, digits and '-', not starting or ending
 * with '-' (so no '_').  A bucket that cannot is addressed path-style. */
bool s3_bucket_is_host_name(const char *bucket);

/* The request target for key (NULL: the bucket itself) with an encoded
 * query (NULL or "": none).  Key bytes are encoded with
 * sigv4_uri_encode(keep_slash = true).  Release with
 * objhttp_target_release(). */
void s3_target_build(const s3_settings *s, const char *bucket, const char *key,
		     const char *query, objhttp_target *out);

/* The part size for an object of `size` bytes: part_size, raised to whole
 * MiB so that at most S3_MAX_PARTS parts are needed. */
uint64_t s3_part_size_for(uint64_t size, uint64_t part_size);

/* The result for a final failure: status and S3 code (NULL if none);
 * exhausted is true when the failure was retryable and the attempts ran out. */
es_result s3_error_result(long status, const char *code, bool exhausted);

/* Append to m the note of a RequestTimeTooSkewed failure: by how much this
 * machine's clock (now_s) differs from the reply's Date header (NULL when
 * there was none). */
void s3_skew_note(buf *m, const char *date, int64_t now_s);

#endif
