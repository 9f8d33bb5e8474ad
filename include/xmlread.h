/*
 * xmlread.h - the generic reader under s3xml.c and azxml.c: expat run over
 * one whole reply body, with the refusals both need.
 *
 * A document parser fills in an xml_reader (the root element the reply
 * must have, its rules, two callbacks and its own state) and calls
 * xmlread_run().  The reader:
 *  - refuses a body over max_bytes, an empty one, any DOCTYPE (so no entity
 *    is ever declared, expanded or loaded), XML that is not well-formed and
 *    a root other than r->root;
 *  - matches elements by local name (expat in namespace mode: a prefix or
 *    a default namespace is ignored), and keeps the path of the open
 *    elements below the root, "Contents/Key", at most XMLREAD_PATH_CAP
 *    bytes and rules->max_depth elements deep, root included;
 *  - calls start() at the start of each element below the root: true asks
 *    for its text, which is then collected (at most rules->max_text bytes;
 *    entities and CDATA resolved) and must hold no child element; end() at
 *    its end gets that text, NUL-terminated, or NULL when it was not asked
 *    for.  The root itself is never passed to the callbacks.
 * The first failure (the reader's or a callback's xmlread_fail()) stops the
 * parse; no callback runs after it.  Nothing here logs or performs I/O.
 *
 * Messages are one line, lowercase, and name the element concerned:
 * "unexpected root element <Html>, expected <Error>", "<Key> text over
 * 65536 bytes", "reply is not well-formed XML (line 1, column 7: mismatched
 * tag), expected <ListBucketResult>".  Bytes of a reply quoted in a message
 * go through xmlread_shown(), so a message never carries a control byte.
 */
#ifndef EVSHARE_XMLREAD_H
#define EVSHARE_XMLREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define XMLREAD_PATH_CAP    512   /* bytes of an element path */
#define XMLREAD_SHOWN_VALUE 64    /* bytes of a bad value quoted in a message */

/* What one family of replies (S3's, Azure's) allows; a static const each. */
typedef struct xmlread_rules {
	size_t max_text;   /* bytes of text in one element whose text is used */
	int max_depth;     /* elements nested, root included (at least 1) */
	bool skip_bom;     /* a leading UTF-8 byte order mark is skipped before
	                      the leading whitespace (Azure sends one); else a
	                      BOM is left to expat, which accepts it only
	                      directly before the XML declaration or the root */
} xmlread_rules;

typedef struct xml_reader xml_reader;

struct xml_reader {
	/* Set by the caller before xmlread_run(). */
	const char *root;             /* the root element the reply must have */
	const xmlread_rules *rules;
	/* At the start of each element below the root: is its text wanted?
	 * path is "Blobs/Blob/Name" (local names, no root); attributes are
	 * read with xmlread_attr(). */
	bool (*start)(xml_reader *r, const char *path);
	/* At its end: text[0..len) and a NUL if its text was wanted, else NULL. */
	void (*end)(xml_reader *r, const char *path, const char *text, size_t len);
	void *user;                   /* the document parser's state */

	/* Set by xmlread_run(): the document's root element ("" if the parse
	 * did not get that far), cut to fit; for telling apart replies that
	 * may come with one of several roots. */
	char root_seen[32];

	struct xmlread_state *state;  /* private to xmlread.c, during the run */
};

/*
 * Parse xml[0..n) with r's callbacks.  Leading whitespace (and a BOM, see
 * skip_bom) before the XML is skipped.  max_bytes (at most INT_MAX) is the
 * size cap of this kind of reply.  Returns NULL when the document was read
 * to its end with no failure, else the first failure's message (allocated;
 * the caller frees it).  What the callbacks stored is the caller's either
 * way.
 */
char *xmlread_run(xml_reader *r, const char *xml, size_t n, size_t max_bytes);

/*
 * For callbacks: record the failure (the first one only; later calls are
 * ignored) and stop the parse; xmlread_run() returns the message.
 */
void xmlread_fail(xml_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* xmlread_fail() with "invalid <Size> in <Contents> '12a': not a decimal
 * byte count" (what, the quoted value, problem); see xmlread_bad_value(). */
void xmlread_fail_value(xml_reader *r, const char *what, const char *text, size_t len,
			const char *problem);

/* That message on its own, for checks made after the parse (allocated):
 * the value goes through xmlread_shown() cut at XMLREAD_SHOWN_VALUE. */
char *xmlread_bad_value(const char *what, const char *text, size_t len, const char *problem);

/*
 * For elements that may appear once: true the first time `bit` is seen
 * (and it is added to *seen); false, and the reader fails with "duplicate
 * <what>", when *seen already has it.
 */
bool xmlread_once(xml_reader *r, unsigned *seen, unsigned bit, const char *what);

/* A decimal byte count that fills text and fits int64_t into *out; else
 * false and the reader fails with "invalid WHAT '...': not a decimal byte
 * count". */
bool xmlread_byte_count(xml_reader *r, const char *what, const char *text, size_t len,
			int64_t *out);

/*
 * For start() only: the value of the current element's attribute whose
 * local name is `local` (any namespace; the last one if several), or NULL.
 */
const char *xmlread_attr(const xml_reader *r, const char *local);

/* Is path one of the NULL-terminated paths[]? */
bool xmlread_path_in(const char *path, const char *const *paths);

/*
 * A printable excerpt of s[0..n) for a message (allocated, never NULL):
 * printable ASCII but ' and \ as is, every other byte as \xHH; cut at
 * `limit` bytes of s, and then "..." follows.
 */
char *xmlread_shown(const char *s, size_t n, size_t limit);

/* Hand msg (allocated) to *err, or free it when err is NULL; returns
 * ES_ERR_REMOTE, the result of every refused reply. */
es_result xmlread_refuse(char *msg, char **err);

#endif
