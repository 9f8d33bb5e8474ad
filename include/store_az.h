/*
 * store_az.h - the az:// object store: the store.h interface over the
 * Azure Blob Storage REST API (version AZ_API_VERSION), signed with
 * azsign.c (Shared Key) or authorized by a SAS token, sent with objhttp.c
 * (retries, resumed GETs, messages, as for s3://) over http.c, replies
 * parsed with azxml.c, credentials from azcreds.c.
 *
 * A location az://ACCOUNT/CONTAINER/prefix/ names a storage account, a
 * container in it and a blob-name prefix.  store_az_open() (declared in
 * store.h) checks the location (store_az_check, below), loads the
 * credentials, resolves the settings below and opens an http_client;
 * nothing is sent until the first operation.  A store is
 * used by one thread at a time.
 *
 * Settings and their defaults (for the man page):
 *
 *  credentials  azcreds.h: the location's "credentials_file" (a file
 *               holding a connection string), else
 *               AZURE_STORAGE_CONNECTION_STRING, else AZURE_STORAGE_KEY,
 *               else AZURE_STORAGE_SAS_TOKEN; AZURE_STORAGE_ACCOUNT, when
 *               set, must be the location's account.  A key signs every
 *               request (Shared Key); a SAS token is appended to every
 *               request's query as it is.
 *  endpoint     the base URL before the container: the location's
 *               "endpoint", else the connection string's (BlobEndpoint,
 *               or built from DefaultEndpointsProtocol and
 *               EndpointSuffix), else https://ACCOUNT.blob.core.windows.net.
 *               A path-style endpoint holds the account in its path
 *               (Azurite: http://127.0.0.1:10000/devstoreaccount1).  http://
 *               or https:// with a host, an optional port and base path,
 *               no user:password@, query or fragment.  The "s3" defaults
 *               of the config file never apply to az:// locations.
 *  block size   the location's "part_size", else AZ_DEFAULT_BLOCK_SIZE
 *               (16 MiB); AZ_MIN_BLOCK_SIZE (5 MiB, evshare's floor for
 *               every store) to AZ_MAX_BLOCK_SIZE (4000 MiB); raised, in
 *               whole MiB, when an object would need more than
 *               AZ_MAX_BLOCKS (50000) blocks.
 *  threshold    objects of at least the location's "multipart_threshold"
 *               (default: the block size) are sent as blocks (Put Block,
 *               Put Block List), smaller ones by one Put Blob; capped at
 *               AZ_MAX_PUT_BLOB (5000 MiB).
 *  upload_streams  connections that send the blocks of one upload at
 *               once (the location's "upload_streams", 1..16), default
 *               OBJHTTP_DEFAULT_STREAMS (4).
 *  retries      attempts per request (the location's "retries", 1..20),
 *               default AZ_DEFAULT_ATTEMPTS (5); backoff with full jitter
 *               from 100 ms doubling up to 20 s (http.h).  A GET that
 *               keeps making progress resumes past that bound (up to
 *               OBJHTTP_MAX_RESUMES, 100, attempts in all).
 *  CA bundle    REQUESTS_CA_BUNDLE (as the az CLI reads it), else the
 *               system's CA store.  TLS peers are always verified.
 *  stall timeout  EVSHARE_STALL_TIMEOUT (whole seconds, 1..3600), default
 *               30 (as for s3://).
 *
 * store_az_check() (declared in store.h; store_check() for az://)
 * refuses, without I/O, a URL whose account is not 3..24 lowercase
 * letters and digits, or whose container is not 3..63 lowercase letters,
 * digits and single hyphens starting and ending with a letter or digit
 * (or $root), both with the key "url"; and objhttp_check()'s endpoint,
 * part_size (AZ_MIN_BLOCK_SIZE .. AZ_MAX_BLOCK_SIZE), multipart_threshold,
 * retries and upload_streams.
 *
 * Requests (every one with x-ms-version AZ_API_VERSION and x-ms-date, and
 * a Content-Length when it has a body):
 *  list  List Blobs: GET /CONTAINER?restype=container&comp=list with the
 *        location prefix, AZ_LIST_PAGE results a page, following
 *        NextMarker (the same marker twice is an error).  Zero-byte names
 *        ending in '/' (folder markers) are not listed.
 *  get   Get Blob with If-Match: the listed ETag (a blob replaced since it
 *        was listed fails with 412 ConditionNotMet), streamed to the
 *        caller, resumed with Range: bytes=N- after a broken connection,
 *        a truncated body or a stall, so each byte reaches the callback
 *        once.
 *  put   below the threshold, Put Blob (x-ms-blob-type: BlockBlob) with
 *        Content-MD5; at or above it, Put Block per block (Content-MD5,
 *        read from the file with pread; on up to upload_streams
 *        connections at once, objhttp_each) with block ids unique to the
 *        upload, then Put Block List of those ids (<Latest>) with
 *        Content-MD5 of the XML and x-ms-blob-content-md5, the MD5 of the
 *        whole object.  Either way the blob appears whole or not at all:
 *        blocks stay uncommitted (invisible, discarded by Azure after a
 *        week or at the blob's next commit) until the block list is
 *        written.  A retried Put Block List whose first reply was lost
 *        finds the same blocks committed: writes are idempotent, which is
 *        what the core's replays of an interrupted plan need; no write is
 *        conditional.
 *
 * Errors, logged once with the az:// URL and Azure's code (x-ms-error-code,
 * else the <Error> body) and the first line of its message:
 *  401/403 (AuthenticationFailed; AuthorizationFailure, which Azure
 *  sends for a request its network rules refuse, and Azurite for a bad
 *  signature),
 *  AuthorizationPermissionMismatch (a SAS without the permission),
 *  InvalidAuthenticationInfo                    -> ES_ERR_AUTH
 *  a redirect                                   -> ES_ERR_CONFIG
 *  attempts exhausted on a retryable failure (500 InternalError and
 *  OperationTimedOut, 503 ServerBusy, 502, 504, 429, resets, stalls)
 *                                               -> ES_ERR_TEMP
 *  TLS failures and other 4xx (ContainerNotFound, BlobNotFound, 412
 *  ConditionNotMet, Md5Mismatch...)             -> ES_ERR_REMOTE
 *  the local file of a put cannot be read       -> ES_ERR_IO
 * Never logged: the account key, the SAS token (request URLs are logged
 * without it), the Authorization header, and the AuthenticationErrorDetail
 * of an error body (it quotes the signature).  At -v -v every attempt is
 * logged: method, URL without the SAS, status, attempt, bytes and time.
 *
 * The functions below are the pure parts, exposed for tests.
 */
#ifndef EVSHARE_STORE_AZ_H
#define EVSHARE_STORE_AZ_H

#include "azcreds.h"
#include "objhttp.h"
#include "store.h"

#define AZ_API_VERSION        "2021-08-06"
#define AZ_DEFAULT_BLOCK_SIZE (16ull << 20)
#define AZ_MIN_BLOCK_SIZE     (5ull << 20)   /* evshare's floor; Azure has none */
#define AZ_MAX_BLOCK_SIZE     (4000ull << 20)
#define AZ_MAX_BLOCKS         50000
#define AZ_MAX_PUT_BLOB       (5000ull << 20)
#define AZ_LIST_PAGE          5000
#define AZ_DEFAULT_ATTEMPTS   5
#define AZ_DEFAULT_HOST_SUFFIX ".blob.core.windows.net"
#define AZ_BLOCK_ID_RAW_LEN   24   /* "evshare-NNNNNNNN-IIIIIII" */
#define AZ_BLOCK_ID_LEN       33   /* its Base64 (32) and a NUL */

typedef struct az_settings {
	objhttp_endpoint endpoint;     /* the base URL before the container */
	bool default_endpoint;    /* https://ACCOUNT.blob.core.windows.net */
	objhttp_transfer xfer;    /* block size, threshold (<= AZ_MAX_PUT_BLOB),
	                             attempts, upload streams */
	long stall_timeout_s;
	char *ca_bundle;          /* NULL: the system's */
} az_settings;

/*
 * Settings of loc, a location that passed store_az_check(), from the
 * location, the endpoint the credentials gave (NULL: none) and env
 * (EVSHARE_STALL_TIMEOUT, REQUESTS_CA_BUNDLE), by the rules above.
 * ES_ERR_CONFIG with a reason in err for what came from elsewhere and
 * cannot work: the credentials' endpoint, EVSHARE_STALL_TIMEOUT.
 */
es_result az_settings_resolve(const location *loc, const char *cred_endpoint,
			      const creds_env *env, az_settings *out, buf *err);
void az_settings_release(az_settings *s);

bool az_account_name_is_valid(const char *s);
bool az_container_name_is_valid(const char *s);

/* The request target for blob `key` (NULL: the container itself) with an
 * encoded query (NULL or "": none).  Key bytes are percent-encoded but for
 * A-Z a-z 0-9 - . _ ~ and '/'.  The URL holds no SAS: the token is added
 * only to the URL that is sent.  Release with objhttp_target_release(). */
void az_target_build(const az_settings *s, const char *container, const char *key,
		     const char *query, objhttp_target *out);

/* The block size for an object of `size` bytes: block_size, raised to whole
 * MiB so that at most AZ_MAX_BLOCKS blocks are needed. */
uint64_t az_block_size_for(uint64_t size, uint64_t block_size);

/* The Base64 block id of block `index` (0-based, < 10^7) of an upload
 * whose nonce is `nonce`: Base64("evshare-%08x-%07zu"); every id of every
 * upload has the same length, as Azure requires for one blob. */
void az_block_id(uint32_t nonce, size_t index, char out[AZ_BLOCK_ID_LEN]);

/* The result for a final failure: status and Azure code (NULL if none);
 * exhausted is true when the failure was retryable and the attempts ran out. */
es_result az_error_result(long status, const char *code, bool exhausted);

#endif
