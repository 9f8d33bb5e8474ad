/*
 * objhttp.h - what the object stores over HTTP (store_s3.c, store_az.c)
 * share: one request with retries and resumed GETs, the failure message,
 * the list, get and put operations around it, the lifecycle of an upload
 * in parts, the store.h operations themselves, the checks and defaults of
 * a location's transfer settings, and body digests.
 *
 * It sits between the stores and http.c: http.c is plain HTTP (it neither
 * logs nor knows what a store, a signature or a message is); this module
 * speaks store.h (results, store_fail(), the write callback of a get) and
 * knows no protocol.  A backend keeps only what is its protocol's: the
 * request target, signing (or a SAS token), reading its error replies, the
 * result and wording of an HTTP error, its listing's query and reply, and
 * the requests of its upload scheme (objhttp_upload_ops: S3's multipart
 * upload, Azure's block list).  Its store begins with an objhttp_store
 * (objhttp_store_new: the store.h operations are objhttp_store_ops), it
 * gives it an objhttp_ops, and every request goes with objhttp_run():
 *
 *  target   once per call, ops->target: Host, encoded path, and the URL
 *           that traces name (never one holding a secret);
 *  attempt  ops->send signs the attempt (a new date each time) and sends
 *           it, with "Range: bytes=N-" when a GET resumes; the outcome is
 *           classified by http_classify() with the error code
 *           ops->reply_error reads from a reply of status >= 300 (or from
 *           a 2xx one when the call says error_in_2xx);
 *  retry    what http_classify() calls worth retrying, after a full-jitter
 *           wait (http.h), until retry.max_attempts attempts have failed;
 *           an attempt of a GET that moved the stream on is not a failure,
 *           up to OBJHTTP_MAX_RESUMES attempts in all;
 *  deadline one call of objhttp_run() (one object's GET or PUT, one part
 *           or block, one page) has the location's object_timeout_ms
 *           (0: LOCATION_DEFAULT_OBJECT_TIMEOUT_MS) for all its attempts,
 *           resumes and waits, read on retry's clock; the run deadline
 *           (http_set_deadline) bounds it too.  Each attempt is sent with
 *           what is left as its time budget, a wait never sleeps past the
 *           nearer deadline, and no attempt starts after it: the call
 *           fails ES_ERR_TEMP, "object deadline reached: more than N s
 *           for one request with its retries (object_timeout)" or "run
 *           deadline reached (run_timeout): the run may not go on";
 *  fail     once: "cannot VERB 'URL': WHY[; gave up after N attempts]",
 *           logged with store_fail() and returned, or kept in
 *           call->message when the call is quiet (the caller decides).
 *
 * A streaming GET (objhttp_get) hands each byte of the object to its
 * callback once and in order, whatever the attempts: a resumed reply (206)
 * must start at or before the next byte wanted and is skipped up to it, a
 * whole reply (200) is skipped up to it too, and a reply shorter than its
 * object is resumed.  If the callback returns non-zero the GET stops with
 * ES_ERR_DATA, logging nothing.  No byte past the object's listed size
 * (store_object.size) is taken: a reply whose Content-Length or
 * Content-Range announces more, or a body that goes past it, fails the
 * GET at once with ES_ERR_REMOTE (not retried; the same server would do
 * it again), "the body went past the listed size (N bytes)...".
 *
 * An upload (see "uploads" below) is written once here for every
 * protocol: when its parts are due, begun lazily, sent on several
 * connections with the first failure stopping the rest, the MD5 of each
 * part (and of the whole object when the protocol asks), committed, or
 * taken back.  A protocol gives only its requests: objhttp_upload_ops.
 *
 * At -v -v every attempt is logged: method, target URL, status and error
 * code or transport error, attempt number, bytes sent and received, time.
 * Nothing ops->send adds to a request (Authorization, a SAS) is logged.
 */
#ifndef EVSHARE_OBJHTTP_H
#define EVSHARE_OBJHTTP_H

#include <openssl/evp.h>

#include "http.h"
#include "store.h"

#define OBJHTTP_MAX_EXTRA_HEADERS 8
#define OBJHTTP_MAX_RESUMES       100     /* attempts of a GET in all */
#define OBJHTTP_MD5_B64_LEN       25      /* Base64 of an MD5, and a NUL */
#define OBJHTTP_DEFAULT_STREAMS   4       /* upload_streams: connections per upload */
#define OBJHTTP_MAX_STREAMS       16

/* --- settings ---------------------------------------------------------- */

#define OBJHTTP_STALL_ENV "EVSHARE_STALL_TIMEOUT"

/* The stall timeout from the value of EVSHARE_STALL_TIMEOUT (NULL or "":
 * HTTP_DEFAULT_STALL_TIMEOUT_S): whole seconds, 1..3600, else
 * ES_ERR_CONFIG with the reason in err. */
es_result objhttp_stall_timeout(const char *value, long *out, buf *err);

typedef struct objhttp_endpoint {
	char *scheme;        /* "http" or "https" */
	char *host;          /* host[:port] as it goes in the Host header */
	char *base_path;     /* "" or "/path" without a trailing '/' */
} objhttp_endpoint;

/* Parse an endpoint URL (http:// or https://, a host, a plain path; no
 * user, query or fragment).  ES_ERR_CONFIG with a reason in err, which
 * shows the URL cut at any '?' or '#' (a pasted SAS URL stays out). */
es_result objhttp_endpoint_parse(const char *url, objhttp_endpoint *out, buf *err);
void objhttp_endpoint_release(objhttp_endpoint *e);

/*
 * A protocol's limits on what one object's transfer may be, and its names
 * for the pieces in messages (store_s3.c, store_az.c give one each).
 */
typedef struct objhttp_limits {
	const char *service;          /* "S3", "Azure": "more than S3 takes" */
	const char *upload;           /* "multipart", "block": "block upload of 'URL'" */
	const char *part;             /* "part", "block" (plural: with an 's') */
	uint64_t min_part, max_part;  /* part_size, inclusive */
	const char *part_range;       /* both, for the part_size message: "5 MiB..5 GiB" */
	uint64_t default_part;
	size_t max_parts;             /* parts (blocks) one object may have */
	uint64_t max_single;          /* the largest object one request puts: a
	                                 multipart_threshold above it counts as it */
	unsigned default_attempts;
} objhttp_limits;

/* The ranges every HTTP store takes (evshare.json(5)); 0 is "unset". */
#define OBJHTTP_MIN_THRESHOLD     (5ull << 20)    /* multipart_threshold */
#define OBJHTTP_MAX_THRESHOLD     (5ull << 40)
#define OBJHTTP_MAX_ATTEMPTS      20              /* retries */

/* What a location's transfer settings come to for one protocol. */
typedef struct objhttp_transfer {
	uint64_t part_size;       /* objhttp_part_size_for() raises it per object */
	uint64_t threshold;       /* objects at or above go in parts; <= max_single */
	unsigned attempts;        /* per request */
	unsigned upload_streams;  /* connections sending one upload's parts,
	                             1..OBJHTTP_MAX_STREAMS */
} objhttp_transfer;

/*
 * The faults (store.h's store_check) of the location's settings every
 * HTTP store has, in one place:
 *  endpoint             does not parse (objhttp_endpoint_parse's reason)
 *  part_size            outside lim's min_part..max_part: "part_size N is
 *                       outside <lim->part_range>"
 *  multipart_threshold  outside 5 MiB..5 TiB
 *  retries              over OBJHTTP_MAX_ATTEMPTS (20)
 *  upload_streams       over OBJHTTP_MAX_STREAMS (16)
 * (0: unset, never a fault).
 */
void objhttp_check(const location *loc, const objhttp_limits *lim, store_faults *out);

/* loc's part_size, multipart_threshold, retries and upload_streams, or
 * lim's defaults for those unset (threshold: the part size); a threshold
 * above lim->max_single counts as it.  No check: see objhttp_check(). */
void objhttp_transfer_resolve(const location *loc, const objhttp_limits *lim,
			      objhttp_transfer *out);

/* Append "name=value" (or "name" when value is NULL) to an encoded query,
 * both encoded with sigv4_uri_encode(keep_slash = false) (RFC 3986
 * unreserved bytes kept), with '&' first when q is not empty. */
void objhttp_query_add(buf *q, const char *name, const char *value);

/* --- one request ------------------------------------------------------ */

typedef struct objhttp_target {
	char *host;          /* the Host header */
	char *path;          /* encoded path as sent and signed */
	char *url;           /* scheme://host/path[?query], without any secret */
} objhttp_target;

void objhttp_target_release(objhttp_target *t);

/* The error a reply carries (both NULL: none). */
typedef struct objhttp_error {
	char *code;          /* "NoSuchKey", "BlobNotFound" */
	char *message;       /* the server's sentence */
} objhttp_error;

void objhttp_error_release(objhttp_error *e);

/* A streaming GET's position, kept across attempts (objhttp_get). */
typedef struct objhttp_stream {
	store_write_fn fn;
	void *ud;
	const http_response *resp;   /* the current attempt's */
	uint64_t delivered;          /* bytes given to fn */
	uint64_t pos;                /* object offset of the next body byte */
	uint64_t total;              /* object size once known; UINT64_MAX before */
	uint64_t limit;              /* the listed size: no byte past it is taken */
	bool started;                /* this attempt's reply was looked at */
	bool stopped;                /* fn asked to stop */
	char bad[200];               /* a reply that cannot be resumed from */
} objhttp_stream;

typedef struct objhttp_call {
	/* the request */
	const char *method;
	const char *key;             /* NULL: the bucket or container */
	const char *query;           /* encoded; NULL: none */
	http_header extra[OBJHTTP_MAX_EXTRA_HEADERS];
	size_t nextra;
	const http_body *body;       /* NULL: none */
	const char *payload_hash;    /* hex SHA-256 of the body, for a signer
	                                that signs it; NULL: of an empty body */
	size_t body_cap;             /* collected 2xx bodies; 0: ops->reply_cap */
	bool error_in_2xx;           /* a 2xx reply may be an error document */
	objhttp_stream *get;         /* a streaming GET; NULL: none */
	/* for messages */
	const char *verb;            /* "cannot VERB 'URL'" */
	const char *url;             /* the store's URL of the object */
	bool quiet;                  /* failure: kept in message, not logged */
	/* results */
	http_response resp;          /* the last attempt's reply */
	bool had_transport_error;    /* some attempt failed in transit */
	char *message;               /* quiet: the failure message */
} objhttp_call;

/* Add a header to c (the strings are not copied); dies past
 * OBJHTTP_MAX_EXTRA_HEADERS, a bug. */
void objhttp_call_header(objhttp_call *c, const char *name, const char *value);
/* Free what objhttp_run() left in c; c can be run again after. */
void objhttp_call_release(objhttp_call *c);

/* What a backend supplies.  ud is the objhttp's. */
typedef struct objhttp_ops {
	const char *no_code;          /* "(no S3 error code)": an error reply
	                                 that names none */
	const char *ca_bundle_env;    /* named when TLS fails: "AWS_CA_BUNDLE" */
	size_t reply_cap;             /* collected 2xx bodies by default */
	/* c's request target (released by objhttp_run). */
	void (*target)(void *ud, const objhttp_call *c, objhttp_target *out);
	/*
	 * Sign one attempt of c and send it: set req->url and req->headers
	 * (Host, c's extra headers, "Range: range" when range is not NULL,
	 * and the protocol's own), then http_perform() it on `http` (the
	 * connection of the objhttp running c) into resp.  The rest of req
	 * (method, body, body callback, cap) is set.  Returns ES_OK once
	 * sent, whatever the outcome; ES_ERR_INTERNAL when the request could
	 * not be signed (nothing sent, resp untouched).  It may be called
	 * from several threads at once, one objhttp each: it must not change
	 * the backend's state.
	 */
	es_result (*send)(void *ud, http_client *http, const objhttp_call *c,
			  const objhttp_target *t, const char *range, http_request *req,
			  http_response *resp);
	/* The error code and message of reply r (fields NULL when none). */
	void (*reply_error)(const http_response *r, objhttp_error *out);
	/*
	 * A final failure with an HTTP status (c->resp): append why to m,
	 * after "cannot VERB 'URL': ", and return the result.  exhausted: the
	 * failure was worth retrying and the attempts ran out.
	 */
	es_result (*status_failure)(void *ud, const objhttp_call *c, const objhttp_error *e,
				    bool exhausted, buf *m);
	/* The protocol's uploads (objhttp_put, objhttp_upload_*). */
	const struct objhttp_upload_ops *upload;
	/* The protocol's listing (objhttp_store_ops.list). */
	const struct objhttp_lister *lister;
	/* objhttp_store_ops.free: release what the backend's store (ud)
	 * holds besides its objhttp_store (settings, credentials). */
	void (*release)(void *ud);
} objhttp_ops;

typedef struct objhttp {
	store *st;                    /* the backend's: messages, URLs */
	const objhttp_ops *ops;
	void *ud;                     /* given to ops: the backend's store */
	http_client *http;
	http_retry retry;             /* max_attempts: failed attempts per request */
	const char *endpoint_host;    /* named when TLS fails; not owned */
	const char *ca_bundle;        /* not owned (the store's settings) */
	long stall_timeout_s;
	objhttp_transfer xfer;        /* parts, threshold, attempts, streams */
	struct objhttp *more;         /* objhttp_each()'s other connections */
	size_t nmore;
} objhttp;

/* Open h's HTTP client (ca_bundle NULL: the system's; the user agent is
 * evshare's) for a store whose requests go to endpoint_host (kept, not
 * copied), with xfer's attempts per request and its uploads (copied). */
void objhttp_init(objhttp *h, store *st, const objhttp_ops *ops, void *ud,
		  const char *endpoint_host, const char *ca_bundle, long stall_timeout_s,
		  const objhttp_transfer *xfer);
/* Close h's client (and the ones objhttp_each opened); h may be zeroed
 * or NULL. */
void objhttp_release(objhttp *h);

/*
 * Items 0..n-1 (the parts or blocks of one upload) sent on up to
 * `streams` connections at once: h's own, on this thread, and streams - 1
 * more with h's settings, each on a thread of its own, opened on first use
 * and kept until objhttp_release(h).  Each sender takes the next item not
 * yet taken and calls send(c, i, ud, &message) with its connection c;
 * send returns ES_OK, or a result and an allocated message (a quiet
 * call's).  The first failure stops every sender from taking more items;
 * when all have stopped, the failure of the lowest item is logged with
 * store_fail() and returned.  send runs on several threads at once: it
 * may write only what belongs to its item.  Threads that cannot be
 * started leave their share to the others.
 */
typedef es_result (*objhttp_item_fn)(objhttp *c, size_t i, void *ud, char **message);
es_result objhttp_each(objhttp *h, unsigned streams, size_t n, objhttp_item_fn send,
		       void *ud, const char *url);

/*
 * Send c with retries (see above).  ES_OK: the last reply (c->resp) is a
 * success and, for a GET, the whole object reached its callback.
 * ES_ERR_DATA: the GET's callback stopped it (nothing logged).  Otherwise
 * the failure's result, logged (or kept in c->message when c->quiet).
 * Release c with objhttp_call_release() either way.
 */
es_result objhttp_run(objhttp *h, objhttp_call *c);

/* Is code (may be NULL) one of list (NULL-terminated)? */
bool objhttp_code_in(const char *code, const char *const *list);

/* Append an HTTP error to m: "STATUS CODE: MESSAGE", the message without
 * its full stop (a server's sentence; more may follow), or "STATUS CODE"
 * when message is NULL or empty. */
void objhttp_add_status(buf *m, long status, const char *code, const char *message);

/* --- operations ------------------------------------------------------- */

/* A listing's pages: the backend's request and reply. */
typedef struct objhttp_lister {
	size_t reply_cap;             /* a page's reply */
	const char *marker_name;      /* "continuation token": in messages */
	/* The encoded query of the page after marker (NULL: the first) of the
	 * objects under prefix. */
	void (*query)(buf *q, const char *prefix, const char *marker);
	/* Parse a page: objhttp_list_add() its objects to out, and set *next
	 * to the marker of the next page (allocated), NULL after the last.
	 * ES_ERR_REMOTE with *err (allocated) for an invalid reply, having
	 * added nothing. */
	es_result (*parse)(const char *body, size_t n, const char *prefix, store_list *out,
			   char **next, char **err);
} objhttp_lister;

/* The store.h list: every page of the listing of the location's prefix,
 * until a page names no next one; the same marker twice is an error, and
 * so is a listing that passes the location's max_list_keys objects (found
 * at the page that passes it: at most a page more is held) or needs more
 * than max_list_pages pages (0: the LOCATION_DEFAULT_ values), ES_ERR_REMOTE
 * with "'URL': the listing passed N objects (max_list_keys); raise
 * max_list_keys or narrow the prefix" (or pages, max_list_pages). */
es_result objhttp_list(objhttp *h, const objhttp_lister *l, store_list *out);

/* Add an object of a listing to out, unless it is not under prefix (never
 * asked for) or a "folder" marker (no bytes, a name ending in '/'). */
void objhttp_list_add(store_list *out, const char *prefix, const char *key, uint64_t size,
		      int64_t mtime_ms, const char *etag);

/* The store.h get of obj: a streaming GET with If-Match: its etag (when
 * there is one), resumed across attempts. */
es_result objhttp_get(objhttp *h, const store_object *obj, store_write_fn fn, void *ud);

/* The store.h put: refuse an unsafe key, open local_path, and send it in
 * parts when it has at least xfer.threshold bytes (an upload begun, sent,
 * committed at once, and taken back if that fails), else in one PUT. */
es_result objhttp_put(objhttp *h, const char *key, const char *local_path);

/* Open a local file to send to url; its size in *size (may be NULL).  The
 * fd, or -1 after a failure logged with store_fail() (ES_ERR_IO). */
int objhttp_open_file(store *st, const char *url, const char *local_path, uint64_t *size);

/* The part size for an object of `size` bytes: part_size, raised to whole
 * MiB so that at most max_parts parts are needed. */
uint64_t objhttp_part_size_for(uint64_t size, uint64_t part_size, uint64_t max_parts);

/* For an upload of a file that is still growing (store.h): how many
 * whole parts of part_size its first `ready` bytes hold, when that is
 * more than the `sent` ones already out, at most max_parts, and worth
 * sending now: the upload has begun, or ready has reached threshold (a
 * smaller object goes in one request at the end).  0: nothing to send. */
size_t objhttp_parts_due(uint64_t ready, uint64_t part_size, size_t sent, size_t max_parts,
			 bool begun, uint64_t threshold);

/* --- uploads ---------------------------------------------------------- */

/*
 * One upload of an object in parts, the same for every protocol:
 *
 *  new      objhttp_upload_new(): no I/O; the part size is xfer.part_size
 *           raised (objhttp_part_size_for) for an object of max_size;
 *  begin    lazily, when the first parts are due (objhttp_parts_due: the
 *           file reached the threshold and holds a whole part): ops->begin
 *           (S3: CreateMultipartUpload) if the protocol has one;
 *  parts    each a PUT of the part's bytes, read from the file with
 *           pread, with Content-MD5 (and its SHA-256 as payload_hash when
 *           ops->body_sha256), the query ops->part_query gives, sent
 *           quietly on up to xfer.upload_streams connections
 *           (objhttp_each: the first failure stops the rest, the lowest
 *           failed part is told); ops->part_stored keeps what the commit
 *           needs (S3: the ETag);
 *  commit   once the file is complete: its last parts, then ops->commit
 *           (S3: CompleteMultipartUpload; Azure: Put Block List), with
 *           each part's MD5 in md5s and, when ops->whole_md5, the whole
 *           object's in whole_md5_b64;
 *  abort    an upload that was begun and is not committed (a failed
 *           commit, a file that cannot be read or shrank, an upload freed
 *           before its end) is taken back by ops->abort (S3:
 *           AbortMultipartUpload) if the protocol has one; Azure drops
 *           uncommitted blocks by itself.
 *
 * An upload that never began ends as objhttp_put(): below the threshold
 * one PUT of the object with its Content-MD5 (and SHA-256 when
 * ops->body_sha256).  An unsafe key never begins (the put refuses it).
 */
typedef struct store_upload objhttp_upload;

struct store_upload {
	objhttp *h;                   /* the store's; h->ud is the backend's store */
	char *key, *url;
	uint64_t part_size;
	bool open;                    /* begun: there is something to commit or
	                                 take back (for a protocol without a
	                                 begin: parts were stored) */
	char *id;                     /* the protocol's, set by ops->begin (S3's
	                                 UploadId); freed with the upload */
	uint32_t nonce;               /* random, for ids the protocol makes up
	                                 (Azure's block ids) */
	size_t nsent;                 /* parts stored: 0 .. nsent - 1 */
	unsigned char *md5s;          /* [16 * nsent]: each part's MD5 */
	char **tags;                  /* [nsent]: what ops->part_stored kept, or NULL */
	size_t alloc;
	EVP_MD_CTX *whole;            /* ops->whole_md5: MD5 of the first `hashed` bytes */
	uint64_t hashed;
	char whole_md5_b64[OBJHTTP_MD5_B64_LEN];  /* ops->whole_md5: set before commit */
};

/* What a protocol does at each step of an upload (a constant table). */
typedef struct objhttp_upload_ops {
	const objhttp_limits *limits;
	bool body_sha256;             /* the SHA-256 of each body (a part, or an
	                                 object in one PUT) is signed (SigV4) */
	bool whole_md5;               /* commit needs the MD5 of the whole object */
	/* A header the PUT of an object in one request (below the threshold)
	 * carries after Content-MD5 and Content-Type: application/octet-stream
	 * (Azure: x-ms-blob-type: BlockBlob); name NULL: none. */
	http_header put_header;
	/* Begin u before its first part (set u->id).  Logs its failure.
	 * NULL: nothing to begin, the first part begins the upload. */
	es_result (*begin)(objhttp_upload *u);
	/* The encoded query of part n (0-based). */
	void (*part_query)(const objhttp_upload *u, size_t n, buf *q);
	/* Part n was stored, r its reply: keep in u->tags[n] (allocated) what
	 * commit needs; ES_OK, or a result and an allocated *message (part n's
	 * failure, told by objhttp_each).  Runs on a sender's thread: it may
	 * write u->tags[n] only.  NULL: nothing to keep. */
	es_result (*part_stored)(objhttp_upload *u, size_t n, const http_response *r,
				 char **message);
	/* Make the u->nsent parts the object.  Logs its failure. */
	es_result (*commit)(objhttp_upload *u);
	/* Take back an upload that was begun; failures are warnings at most.
	 * NULL: nothing to take back. */
	void (*abort)(objhttp_upload *u);
} objhttp_upload_ops;

/* The store.h upload operations of the HTTP stores: a backend's
 * upload_new calls objhttp_upload_new() with its objhttp; the other three
 * go in its store_ops as they are (they ignore st). */
store_upload *objhttp_upload_new(objhttp *h, const char *key, uint64_t max_size);
es_result objhttp_upload_send(store *st, store_upload *u, const char *local_path,
			      uint64_t ready);
es_result objhttp_upload_end(store *st, store_upload *u, const char *local_path);
void objhttp_upload_free(store *st, store_upload *u);

/* --- the store of an HTTP backend ----------------------------------- */

/*
 * An HTTP backend's store (s3_store, az_store) begins with an
 * objhttp_store, so that the store.h operations are the same for every
 * protocol: objhttp_store_ops, which find the objhttp in it and the
 * protocol's lister and release in its objhttp_ops.
 */
typedef struct objhttp_store {
	store base;
	objhttp oh;
} objhttp_store;

/* A zeroed store of `size` bytes (the backend's struct, which begins with
 * an objhttp_store) for loc (copied), with objhttp_store_ops and ops, to
 * be freed with store_free() before objhttp_init() as after. */
void *objhttp_store_new(size_t size, const objhttp_ops *ops, const location *loc);

/* list, get, put, the uploads (above) and free of every HTTP store. */
extern const struct store_ops objhttp_store_ops;

/* --- digests ---------------------------------------------------------- */

typedef struct objhttp_digest {
	unsigned char md5[16];
	char md5_b64[OBJHTTP_MD5_B64_LEN];   /* Content-MD5 */
	char sha256_hex[65];                 /* "" unless asked for */
} objhttp_digest;

/* MD5, and SHA-256 when sha256, of n bytes at p. */
void objhttp_digest_mem(const void *p, size_t n, bool sha256, objhttp_digest *d);
/* The same of length bytes of fd at offset, read with pread; the bytes are
 * also fed to `also` when it is not NULL (a digest of the whole file).
 * With d NULL, only to `also`.  0, or -1 with errno (EIO when the file is
 * shorter). */
int objhttp_digest_file(int fd, uint64_t offset, uint64_t length, bool sha256,
			EVP_MD_CTX *also, objhttp_digest *d);
/* The Base64 of an MD5 (a Content-MD5 value). */
void objhttp_md5_base64(const unsigned char md5[16], char out[OBJHTTP_MD5_B64_LEN]);

#endif
