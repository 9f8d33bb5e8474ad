/*
 * azsign.h - Azure Storage Shared Key request signing (the "SharedKey"
 * scheme of Blob service versions 2009-09-19 and later).
 *
 * The signer is a pure function of (request, account, key, time): it reads
 * no clock, no environment and no files, and does no I/O.  The caller (the
 * az:// backend, store_az.c) builds the request, asks for a signature, and
 * sends its own headers plus the two the signer adds.  tests/check_azsign.c
 * checks it against vectors computed independently from Microsoft's rules
 * (tests/data/azure/sign/), two of them replayed live against Azurite.
 *
 * The string to sign, one field per line:
 *
 *   VERB
 *   Content-Encoding  Content-Language  Content-Length  Content-MD5
 *   Content-Type  Date  If-Modified-Since  If-Match  If-None-Match
 *   If-Unmodified-Since  Range          (each the header's value, or empty)
 *   CanonicalizedHeaders                 ("x-ms-name:value\n" per x-ms-*
 *                                         header, names lowercased, sorted)
 *   CanonicalizedResource                ("/" account path, then
 *                                         "\nname:value" per query parameter)
 *
 * Authorization: SharedKey ACCOUNT:Base64(HMAC-SHA256(key, UTF-8(string)))
 *
 * What the caller gives (strings borrowed for the call only):
 *
 *   path     The path exactly as it goes on the wire, percent-encoded,
 *            starting with '/'.  With a path-style endpoint it holds the
 *            account as well ("/devstoreaccount1/cont/a%20b"): the resource
 *            is then "/devstoreaccount1/devstoreaccount1/cont/a%20b", as
 *            Azure and Azurite compute it.  Only printable ASCII, no space,
 *            '?' or '#'.
 *
 *   query    The query as sent, without '?' (NULL or "": none).  Split on
 *            '&' (empty pieces skipped), at the first '='; names are
 *            %XX-decoded and lowercased, values %XX-decoded ('+' stays a
 *            plus: send a space as %20 and a plus as %2B), parameters sorted
 *            by name, the values of a repeated name sorted and joined with
 *            ','.  A bad %-escape or a %00 is refused.
 *
 *   headers  Every header that goes on the wire but Content-Length, Host
 *            included or not (it is not signed).  Names are compared
 *            without case and must be HTTP tokens; values may not hold
 *            control characters; x-ms-* values are trimmed of spaces and
 *            tabs at both ends.  x-ms-* names are sorted byte by byte (the
 *            spec's order; Azurite sorts in JavaScript locale order, which
 *            differs only for names with '_' next to digits: use none).
 *            A repeated name, and the headers the signer owns
 *            (Authorization, x-ms-date, Date, Content-Length), are refused.
 *
 *   content_length  The body's length; 0 is signed as an empty field
 *            (version 2015-02-21 and later), as Azure requires.
 *
 * The signer adds, in this order, x-ms-date (the time given, RFC 1123) and
 * Authorization; result.add[] lists them: send the request's own headers
 * plus those, and a Content-Length equal to content_length.
 *
 * Memory: an azsign_result owns its strings; azsign_result_release() frees
 * them and leaves an empty result.  azsign_sign() starts by emptying *out
 * and leaves it empty on failure.
 *
 * Secrets: the key is only passed to HMAC; no returned string and no
 * message holds it.  string_to_sign holds no secret (it is what the server
 * computes too) but the signature in authorization is a credential for
 * that one request: neither is ever logged by evshare.
 *
 * Errors: invalid arguments are a bug in the caller: azsign_sign() logs one
 * "azsign: ..." message naming the field (never the key) and returns
 * ES_ERR_INTERNAL.  Inputs are capped: path, query and headers together at
 * AZSIGN_MAX_INPUT bytes, at most AZSIGN_MAX_HEADERS headers.
 */
#ifndef EVSHARE_AZSIGN_H
#define EVSHARE_AZSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define AZSIGN_MAX_INPUT   (64 * 1024)
#define AZSIGN_MAX_HEADERS 100
#define AZSIGN_DATE_LEN    30          /* "Fri, 27 Nov 2026 00:00:00 GMT" + NUL */

typedef struct azsign_header {
	const char *name;
	const char *value;
} azsign_header;

typedef struct azsign_request {
	const char *method;              /* "PUT" */
	const char *path;                /* on the wire: "/cont/a%20b" */
	const char *query;               /* without '?'; NULL or "" for none */
	const azsign_header *headers;
	size_t nheaders;
	uint64_t content_length;         /* 0: no body */
} azsign_request;

typedef struct azsign_result {
	azsign_header add[2];            /* x-ms-date, Authorization */
	size_t nadd;
	char x_ms_date[AZSIGN_DATE_LEN];
	char *authorization;             /* "SharedKey ACCOUNT:BASE64" */
	char *string_to_sign;            /* for tests; holds no secret */
} azsign_result;

/*
 * Sign req for `account` with the decoded account key key[0..key_len) at
 * time_s (seconds since the epoch, UTC).  On ES_OK, out holds the headers
 * to add; release it with azsign_result_release().  On failure
 * (ES_ERR_INTERNAL, logged) out is empty.
 */
es_result azsign_sign(const azsign_request *req, const char *account,
		      const unsigned char *key, size_t key_len, int64_t time_s,
		      azsign_result *out);

/* Free what a result owns; it is left empty.  Accepts NULL. */
void azsign_result_release(azsign_result *r);

/*
 * The string to sign alone, for a request that already carries its
 * x-ms-date among headers (tests, debugging).  Same rules and refusals as
 * azsign_sign() but for x-ms-date.  Returns an allocated string, or NULL
 * (logged) when the request is invalid.
 */
char *azsign_string_to_sign(const azsign_request *req, const char *account);

/* Format time_s as an RFC 1123 date: "Fri, 27 Nov 2026 00:00:00 GMT". */
void azsign_format_date(int64_t time_s, char out[AZSIGN_DATE_LEN]);

#endif
