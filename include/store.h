/*
 * store.h - the object-store interface every backend implements.
 *
 * A store is opened on a location (a bucket and a key prefix).  The
 * pipeline only ever calls the functions below; it never knows which
 * backend it talks to.  Backends: store_file.c (file://), store_s3.c
 * (s3://, gs://), store_az.c (az://).
 *
 * Keys are full keys within the bucket (the prefix included), as UTF-8
 * byte strings without NUL.  store_url() turns a key into the URL used in
 * every message about it.
 *
 * Semantics every backend guarantees:
 *  - list: every object under the prefix, at any depth, with its size,
 *    last-modified time (ms) and an etag that changes when the content
 *    changes.  Order is unspecified (the planner sorts).
 *  - get: streams the object's bytes to the callback, in order, each byte
 *    once, even across retried or resumed transfers.  If the object's
 *    etag is no longer obj->etag the read fails (the plan was made on
 *    another version).  If the callback returns non-zero, get stops and
 *    returns ES_ERR_DATA without logging: the callback reports why.
 *  - put: makes the local file's content visible under key atomically
 *    (readers see the old object or the whole new one, never a part),
 *    replacing any object already there.  The store may take the local
 *    file itself (file:// hard-links it when it can): the caller must not
 *    change it afterwards, only remove it.
 *  - upload (optional; s3://, gs:// and az:// have it): a put in steps, for a
 *    local file that is still being written (only ever appended to).
 *    store_upload_send() may send whole parts of its first `ready` bytes,
 *    nothing of which becomes visible; store_upload_end(), once the file
 *    is complete, sends the rest and makes the object visible as put
 *    does.  store_upload_free() of an upload that did not end takes back
 *    what was sent (an S3 multipart upload is aborted; one a crash left
 *    behind is aborted by the next put of the same key; Azure drops
 *    uncommitted blocks by itself).  Without the operations, send does
 *    nothing and end is put.
 *
 * Errors are logged by the backend with store_fail(), naming the URL, and
 * returned as ES_ERR_TEMP (worth retrying later), ES_ERR_AUTH,
 * ES_ERR_REMOTE or ES_ERR_IO.  store_fail() also keeps the message, so the
 * caller can put it in the run summary (store_last_error()); what it keeps
 * and logs is redacted (log_redact(): no registered secret, no sig=), as
 * a server's error text may echo the request.
 *
 * Files, each calling only the ones below it (no circle): open.c
 * (store_open, store_check: the dispatch to the backends; no backend calls
 * it), the backends, store.c (what the backends call: store_fail, faults,
 * listings, a store's URLs), location.c (the location type, key URLs, key
 * safety).
 */
#ifndef EVSHARE_STORE_H
#define EVSHARE_STORE_H

#include "util.h"

enum location_scheme { LOC_FILE, LOC_S3, LOC_GS, LOC_AZ };

/* A parsed location: the URL and the settings that apply to it. */
typedef struct location {
	char *url;            /* as configured, normalised to end with '/' */
	enum location_scheme scheme;
	char *root;           /* file://: the directory (absolute, no trailing '/') */
	char *bucket;         /* s3/gs: bucket; az: container */
	char *account;        /* az: storage account */
	char *prefix;         /* key prefix, "" or ending with '/' */
	char *endpoint;       /* NULL: the scheme's default */
	char *region;         /* NULL: from the environment or the default */
	char *profile;        /* NULL: AWS_PROFILE or "default" */
	int path_style;       /* -1 unset, 0 virtual-host, 1 path */
	uint64_t part_size;   /* multipart part size in bytes, 0: the default */
	uint64_t multipart_threshold; /* objects at or above: multipart; 0: default */
	unsigned retries;     /* attempts per request, 0: the default */
	unsigned upload_streams; /* connections sending one upload's parts or
				    blocks, 0: the default */
	char *credentials_file; /* az: a file holding a connection string;
				   NULL: the AZURE_STORAGE_* environment */
	/* bounds (the config's top-level limits; 0: the defaults below) */
	uint64_t max_list_keys;   /* objects one listing may return */
	uint64_t max_list_pages;  /* pages (requests) one listing may take */
	int64_t object_timeout_ms; /* one object's transfer, retries included */
} location;

#define LOCATION_DEFAULT_MAX_LIST_KEYS 1000000ull
#define LOCATION_DEFAULT_MAX_LIST_PAGES 20000ull
#define LOCATION_DEFAULT_OBJECT_TIMEOUT_MS (3600LL * 1000)

/* Parse a URL (file:///abs/dir/, file:rel/dir/ relative to base_dir,
 * s3://bucket/prefix/, gs://bucket/prefix/, az://account/container/prefix/).
 * On failure appends a reason to err and returns ES_ERR_CONFIG. */
es_result location_parse(const char *url, const char *base_dir, location *out,
			 buf *err);
void location_release(location *loc);
void location_copy(location *dst, const location *src);

/*
 * Where a location's keys live, to tell whether two locations can touch
 * the same objects.  location_space() gives the start every full key of
 * the location has: for file:, its root directory with a final '/' (all
 * file: locations share one store, the filesystem, compared by path
 * without resolving links); for the others, the prefix.
 *
 * location_same_store(): could a and b be the same bucket?  The same
 * scheme and bucket (account and container for az://), and endpoints
 * that are equal (ignoring case and a final '/') or not both set (an
 * unset endpoint may come from the environment).  s3:// and gs:// are one
 * store only when both name the same endpoint.
 *
 * location_overlap(): the same store, and one location's space starts
 * with the other's (one holds the other's objects, or they are equal).
 */
char *location_space(const location *loc);
bool location_same_store(const location *a, const location *b);
bool location_overlap(const location *a, const location *b);

typedef struct store_object {
	char *key;
	uint64_t size;
	int64_t mtime_ms;
	char *etag;
} store_object;

typedef struct store_list {
	store_object *items;
	size_t count, alloc;
} store_list;

void store_list_add(store_list *l, const char *key, uint64_t size,
		    int64_t mtime_ms, const char *etag);
void store_list_release(store_list *l);
void store_object_release(store_object *o);
void store_object_copy(store_object *dst, const store_object *src);

typedef int (*store_write_fn)(void *ud, const char *p, size_t n);

typedef struct store store;
typedef struct store_upload store_upload;    /* the backend's */

struct store_ops {
	bool local;           /* reading an object again is cheap (file://) */
	es_result (*list)(store *s, store_list *out);
	es_result (*get)(store *s, const store_object *obj, store_write_fn fn,
			 void *ud);
	es_result (*put)(store *s, const char *key, const char *local_path);
	/* optional, all four or none; upload_new does no I/O and never blocks */
	store_upload *(*upload_new)(store *s, const char *key, uint64_t max_size);
	es_result (*upload_send)(store *s, store_upload *u, const char *local_path,
				 uint64_t ready);
	es_result (*upload_end)(store *s, store_upload *u, const char *local_path);
	void (*upload_free)(store *s, store_upload *u);
	void (*free)(store *s);
};

struct store {
	const struct store_ops *ops;
	location loc;
	char last_error[320];
};

/* Log an error about url (may be NULL) and keep the message (redacted,
 * then cut to the size of last_error); returns r. */
es_result store_fail(store *s, es_result r, const char *url, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The last message store_fail() kept ("" if none); a listing or a read
 * begins with none, so a store that lasts the whole run never shows a
 * file's failure with an earlier file's words. */
const char *store_last_error(const store *s);

/*
 * Checking a location, without I/O.
 *
 * store_check() finds everything store_open() would refuse about a
 * location's own settings (its URL's bucket, account and container names,
 * endpoint, region, path_style, part_size, multipart_threshold, retries,
 * upload_streams), each checked in one place, the backend's, which
 * store_open() calls too; for a file: location, which uses none of them,
 * the ranges every location has and the endpoint's form.  It reads no file, no credentials and no
 * environment, and sends nothing.  What store_open() may still refuse
 * comes from elsewhere: the environment and the AWS profile (a region or
 * an endpoint set there, EVSHARE_STALL_TIMEOUT), credentials, a
 * connection string's endpoint.
 *
 * A fault names the location key at fault, as the config file spells it,
 * and says why in a sentence that names the value ("part_size 1024 is
 * outside 5 MiB..5 GiB"); the URL's own faults are the key "url" (an
 * az:// URL may have two: its account and its container).  0 in a
 * location's number means unset, so an explicit 0 is the config reader's
 * to refuse.  The config reader tells each fault as "$.PATH.KEY: MESSAGE"
 * (a key the location does not set came from its defaults, "$.s3").
 */
typedef struct store_fault {
	const char *key;              /* "url", "endpoint", "region",
	                                 "path_style", "part_size",
	                                 "multipart_threshold", "retries",
	                                 "upload_streams" (static) */
	char *message;                /* allocated */
} store_fault;

typedef struct store_faults {
	store_fault *items;
	size_t count, alloc;
} store_faults;

#define STORE_FAULTS_INIT { NULL, 0, 0 }

/* Append loc's faults to out: ES_OK when it has none, else ES_ERR_CONFIG.
 * Release out with store_faults_release() either way. */
es_result store_check(const location *loc, store_faults *out);
/* Add a fault (the backends' checks). */
void store_faults_add(store_faults *f, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Free the messages; f is left empty.  Accepts NULL. */
void store_faults_release(store_faults *f);
/* For store_open(): log "'URL': WHY; WHY..." about loc and return
 * ES_ERR_CONFIG. */
es_result store_faults_fail(const location *loc, const store_faults *f);

/* Open a store on loc (copied).  Fails with a logged message for a scheme
 * that is not built in or settings that cannot work (store_check()'s
 * faults, and those of what comes from elsewhere). */
es_result store_open(const location *loc, store **out);
void store_free(store *s);

static inline bool store_is_local(const store *s)
{
	return s->ops->local;
}

static inline es_result store_list_objects(store *s, store_list *out)
{
	s->last_error[0] = '\0';
	return s->ops->list(s, out);
}

static inline es_result store_get(store *s, const store_object *obj,
				  store_write_fn fn, void *ud)
{
	s->last_error[0] = '\0';
	return s->ops->get(s, obj, fn, ud);
}

static inline es_result store_put(store *s, const char *key, const char *local_path)
{
	return s->ops->put(s, key, local_path);
}

/* Can the store take a file in steps as it grows? */
static inline bool store_has_uploads(const store *s)
{
	return s->ops->upload_new != NULL;
}

/* An upload of key in steps, for a file that will hold at most max_size
 * bytes (sizes the parts).  NULL when the store has none: then
 * store_upload_send() does nothing and store_upload_end() is store_put(). */
static inline store_upload *store_upload_new(store *s, const char *key, uint64_t max_size)
{
	return s->ops->upload_new ? s->ops->upload_new(s, key, max_size) : NULL;
}

/* The file has `ready` bytes that will not change: send what is worth
 * sending now (nothing becomes visible). */
static inline es_result store_upload_send(store *s, store_upload *u, const char *local_path,
					  uint64_t ready)
{
	return u ? s->ops->upload_send(s, u, local_path, ready) : ES_OK;
}

/* The file is complete: make it visible under the upload's key (with u
 * NULL: put it under key).  On failure nothing of it stays at the store. */
static inline es_result store_upload_end(store *s, store_upload *u, const char *key,
					 const char *local_path)
{
	return u ? s->ops->upload_end(s, u, local_path) : store_put(s, key, local_path);
}

/* Free an upload; one that was not ended is taken back first. */
static inline void store_upload_free(store *s, store_upload *u)
{
	if (u)
		s->ops->upload_free(s, u);
}

/* The URL of key in this store (allocated; caller frees). */
char *store_url(const store *s, const char *key);
/* The same from a location (key is a full key, prefix included). */
char *location_key_url(const location *loc, const char *key);

/* Is key safe to create: relative, no "." or ".." segment, no empty
 * segment, no control character or backslash? */
bool store_key_is_safe(const char *key);

/* Backends (open.c dispatches to them; a file: location's transfer
 * settings, taken but not used, are checked with the ranges every location
 * has: store_file_open refuses nothing). */
es_result store_file_open(const location *loc, store **out);
es_result store_s3_open(const location *loc, store **out);
es_result store_s3_check(const location *loc, store_faults *out);
es_result store_az_open(const location *loc, store **out);
es_result store_az_check(const location *loc, store_faults *out);

#endif
