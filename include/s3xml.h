/*
 * s3xml.h - parsers for the XML bodies S3 sends back: ListObjectsV2,
 * ListMultipartUploads, Create/CompleteMultipartUpload and <Error>.
 *
 * Built on expat (a streaming parser) through the reader of xmlread.h,
 * which makes the refusals below that are not about values; nothing here
 * parses XML by hand, performs I/O, or logs.  A parser that fails returns
 * ES_ERR_REMOTE and, when err is not NULL, sets *err to an allocated
 * one-line message naming the problem ("invalid <Size> in <Contents> '12a':
 * not a decimal byte count"); the caller adds the context (bucket,
 * request), logs it once, and frees it.  On success *err is set to NULL.
 *
 * What is refused, always as ES_ERR_REMOTE:
 *  - a body over its cap: S3XML_MAX_LIST_BYTES for the two listings,
 *    S3XML_MAX_REPLY_BYTES for the others;
 *  - any DOCTYPE, and so any entity declaration: no entity is ever expanded
 *    and nothing external is ever loaded (the billion-laughs document fails
 *    at its DOCTYPE);
 *  - text over S3XML_MAX_TEXT bytes in an element whose text is used (a key,
 *    a token, an upload id...), and elements nested deeper than
 *    S3XML_MAX_DEPTH;
 *  - XML that is not well-formed, or whose root element is not the one the
 *    reply must have (the message says which was expected);
 *  - a used value that is malformed: a size that is not plain digits or does
 *    not fit int64_t, a time that is not RFC 3339, an <IsTruncated> that is
 *    not true/false, a key that is empty, badly %-encoded or decodes to a NUL
 *    byte, a repeated element, a truncated listing without its markers.
 *
 * Elements are matched by their path from the root and by local name (any
 * namespace prefix is ignored), so a <Key> inside <Owner>, <CommonPrefixes>
 * or an unknown element is never taken for an object key.  Unknown elements
 * are skipped.  Whitespace before the XML declaration is skipped: S3 may pad
 * a CompleteMultipartUpload reply to keep the connection open.
 *
 * What is read is what S3 sends, and what follows from XML and URL
 * encoding whoever writes them: an ETag's quotes, raw or as &quot; (the
 * same text to XML); a space in an encoding-type=url key as '+' (S3) or as
 * %20 (any %XX is a byte); LastModified with or without a fraction (S3
 * sends .000, Cloud Storage milliseconds).  <IsTruncated> is "true" or
 * "false", as S3 and Cloud Storage write it; nothing else is taken for a
 * test server's sake (tests/peer/ makes its server answer as S3 does).
 *
 * Keys come back as bytes: non-ASCII UTF-8 is kept as is, and with
 * encoding-type=url any byte but NUL can be a key.  Ask for
 * encoding-type=url: without it S3 puts control characters raw into the
 * XML, which makes the reply ill-formed, and XML turns a CR into a LF.
 *
 * Ownership: each parser overwrites its output (without freeing what was
 * there) and the caller releases it with the matching _release(); every
 * _release() accepts NULL or a zeroed struct and leaves a zeroed one.  On
 * failure the output is already released (all NULL/0), except the <Error>
 * that s3xml_parse_complete_multipart() reports.
 */
#ifndef EVSHARE_S3XML_H
#define EVSHARE_S3XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define S3XML_MAX_LIST_BYTES  (16u << 20)  /* a ListObjectsV2 or ListMultipartUploads page */
#define S3XML_MAX_REPLY_BYTES (1u << 20)   /* an <Error> or a multipart reply */
#define S3XML_MAX_TEXT        (64u << 10)  /* the text of one used element */
#define S3XML_MAX_DEPTH       16           /* elements nested, root included */

/* --- ListObjectsV2 ---------------------------------------------------- */

typedef struct s3_object_info {
	char *key;          /* decoded when the reply is url-encoded; never NULL */
	int64_t size;       /* bytes */
	int64_t mtime_ms;   /* LastModified, ms since the epoch */
	char *etag;         /* without the surrounding quotes; NULL if absent */
} s3_object_info;

typedef struct s3_list_page {
	s3_object_info *objects;
	size_t count;
	bool truncated;
	char *next_token;      /* NextContinuationToken as sent (S3 never encodes
				  it: base64 '+' '/' '=' stay); NULL if none */
	char *encoding_type;   /* "url" if the reply says so, else NULL */
} s3_list_page;

/*
 * Parse a ListObjectsV2 reply (root <ListBucketResult>).  Keys are
 * URL-decoded when the reply has <EncodingType>url</EncodingType>, wherever
 * that element comes in the document ('+' is a space, %XX the byte).
 * <Key>, <Size> and <LastModified> are required in each <Contents>;
 * <IsTruncated> is required, and a truncated page must carry a non-empty
 * <NextContinuationToken>.  <CommonPrefixes> are skipped.
 * Returns ES_OK, or ES_ERR_REMOTE with *err set (see above).
 */
es_result s3xml_parse_list_v2(const char *xml, size_t n, s3_list_page *out, char **err);
void s3_list_page_release(s3_list_page *page);

/* --- <Error> ---------------------------------------------------------- */

typedef struct s3_error_info {
	char *code;         /* "NoSuchKey"; never NULL after ES_OK */
	char *message;      /* the others are NULL when absent */
	char *resource;
	char *request_id;
} s3_error_info;

/*
 * Parse an error body: root <Error> with a non-empty <Code>.  Also what a
 * CompleteMultipartUpload can send with status 200.  Returns ES_OK when it
 * is one; ES_ERR_REMOTE (and *out zeroed) for anything else: an empty body,
 * HTML from a proxy, a different root, ill-formed or refused XML.
 */
es_result s3xml_parse_error(const char *xml, size_t n, s3_error_info *out);
void s3_error_info_release(s3_error_info *info);

/* --- Multipart upload ------------------------------------------------- */

/*
 * Parse a CreateMultipartUpload reply (root <InitiateMultipartUploadResult>)
 * and set *upload_id to its non-empty <UploadId> (allocated, caller frees;
 * NULL on failure).  Returns ES_OK or ES_ERR_REMOTE with *err set.
 */
es_result s3xml_parse_initiate_multipart(const char *xml, size_t n, char **upload_id,
					 char **err);

/*
 * Parse a CompleteMultipartUpload reply.  On success (root
 * <CompleteMultipartUploadResult> with an <ETag>) sets *etag to the ETag
 * without quotes (allocated) and returns ES_OK.  If the body is an <Error>
 * (S3 can send one with status 200 after the upload has started), fills
 * *error (caller releases it), sets *err to "... failed: 'Code': message"
 * and returns ES_ERR_REMOTE: the caller decides from error->code whether to
 * retry (InternalError, SlowDown) or give up.  Any other failure returns
 * ES_ERR_REMOTE with *error zeroed.  *etag is NULL on failure.
 */
es_result s3xml_parse_complete_multipart(const char *xml, size_t n, char **etag,
					 s3_error_info *error, char **err);

typedef struct s3_upload_info {
	char *key;            /* decoded when the reply is url-encoded */
	char *upload_id;
	int64_t initiated_ms; /* <Initiated>, ms since the epoch */
} s3_upload_info;

typedef struct s3_upload_list {
	s3_upload_info *uploads;
	size_t count;
	bool truncated;
	char *next_key_marker;        /* decoded like keys; NULL if none */
	char *next_upload_id_marker;  /* NULL if none */
} s3_upload_list;

/*
 * Parse a ListMultipartUploads reply (root <ListMultipartUploadsResult>).
 * <Key>, <UploadId> and <Initiated> are required in each <Upload>; keys and
 * <NextKeyMarker> are URL-decoded when <EncodingType> is url.  A truncated
 * list must carry both next markers.  <CommonPrefixes> are skipped.
 * Returns ES_OK, or ES_ERR_REMOTE with *err set.
 */
es_result s3xml_parse_list_multipart_uploads(const char *xml, size_t n, s3_upload_list *out,
					     char **err);
void s3_upload_list_release(s3_upload_list *list);

/* --- Helper ----------------------------------------------------------- */

/*
 * Decode s[0..n) as encoding-type=url sends it: '+' is a space, %XX (hex,
 * either case) is that byte, anything else is itself.  Returns an allocated
 * NUL-terminated string, or NULL if malformed: a '%' without two hex digits
 * after it, or a %00 (the result could not be a C string).
 */
char *s3xml_url_decode(const char *s, size_t n);

#endif
