/*
 * azxml.h - parsers for the XML bodies Azure Blob Storage sends back:
 * List Blobs (<EnumerationResults>) and <Error>.
 *
 * Built on expat through the reader of xmlread.h, as s3xml.h is, and with
 * its rules: nothing here parses XML by hand, performs I/O, or logs.  A
 * parser that fails returns ES_ERR_REMOTE and, when err is not NULL, sets
 * *err to an allocated one-line message naming the problem ("invalid
 * <Content-Length> in <Blob> '12a': not a decimal byte count"); the caller
 * adds the context, logs it once, and frees it.  On success *err is set to
 * NULL.
 *
 * What is refused, always as ES_ERR_REMOTE:
 *  - a body over its cap: AZXML_MAX_LIST_BYTES for a listing,
 *    AZXML_MAX_REPLY_BYTES for an <Error>;
 *  - any DOCTYPE, and so any entity declaration: no entity is ever
 *    expanded and nothing external is ever loaded;
 *  - text over AZXML_MAX_TEXT bytes in an element whose text is used, and
 *    elements nested deeper than AZXML_MAX_DEPTH;
 *  - XML that is not well-formed, or whose root is not the one expected;
 *  - a used value that is malformed: a <Content-Length> that is not plain
 *    digits or does not fit int64_t, a <Last-Modified> that is not an HTTP
 *    date, a <Name> that is empty, badly %-encoded (Encoded="true") or
 *    decodes to a NUL byte, a repeated element, a <Blob> without its
 *    <Name>, <Content-Length> or <Last-Modified>.
 *
 * Elements are matched by their path below the root and by local name (a
 * namespace prefix is ignored), so a <Name> in <Metadata> or in an
 * unknown element is never taken for a blob name.  Unknown elements and
 * <BlobPrefix> entries are skipped.  A leading UTF-8 byte order mark and
 * whitespace before the XML declaration are skipped (Azure sends a BOM).
 *
 * Ownership: each parser overwrites its output (without freeing what was
 * there) and the caller releases it with the matching _release(); every
 * _release() accepts NULL or a zeroed struct and leaves a zeroed one.  On
 * failure the output is already released.
 */
#ifndef EVSHARE_AZXML_H
#define EVSHARE_AZXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define AZXML_MAX_LIST_BYTES  (32u << 20)  /* a List Blobs page (5000 blobs) */
#define AZXML_MAX_REPLY_BYTES (1u << 20)   /* an <Error> */
#define AZXML_MAX_TEXT        (64u << 10)  /* the text of one used element */
#define AZXML_MAX_DEPTH       16           /* elements nested, root included */

typedef struct az_blob_info {
	char *name;          /* decoded when Encoded="true"; never NULL */
	int64_t size;        /* Properties/Content-Length */
	int64_t mtime_ms;    /* Properties/Last-Modified, ms since the epoch */
	char *etag;          /* Properties/Etag without quotes; NULL if absent */
	char *blob_type;     /* Properties/BlobType; NULL if absent */
} az_blob_info;

typedef struct az_list_page {
	az_blob_info *blobs;
	size_t count;
	char *next_marker;   /* NextMarker as sent; NULL when empty or absent
	                        (the last page) */
} az_list_page;

/*
 * Parse a List Blobs reply (root <EnumerationResults>, blobs in
 * Blobs/Blob).  Returns ES_OK, or ES_ERR_REMOTE with *err set.
 */
es_result azxml_parse_list_blobs(const char *xml, size_t n, az_list_page *out, char **err);
void az_list_page_release(az_list_page *page);

typedef struct az_error_info {
	char *code;          /* "AuthenticationFailed"; never NULL after ES_OK */
	char *message;       /* its first line (Azure adds RequestId and Time
	                        lines); NULL when absent */
} az_error_info;

/*
 * Parse an error body: root <Error> with a non-empty <Code>.  Other
 * children (AuthenticationErrorDetail, which quotes the request's
 * signature, included) are skipped, so nothing from them can reach a log.
 * Returns ES_OK when it is one; ES_ERR_REMOTE (and *out zeroed) for
 * anything else: an empty body, HTML from a proxy, another root,
 * ill-formed or refused XML.
 */
es_result azxml_parse_error(const char *xml, size_t n, az_error_info *out);
void az_error_info_release(az_error_info *info);

#endif
