/*
 * azxml.c - parsers for Azure Blob Storage's XML replies, on expat; see
 * azxml.h.
 *
 * The same shape as s3xml.c: one generic reader runs expat over a whole
 * body, refuses DOCTYPEs, checks the root, keeps the path of the open
 * elements below the root ("Blobs/Blob/Name") and collects, under a cap,
 * the text of the elements a reply parser asks for.  Each reply is then
 * two small callbacks: start() says which paths it wants the text of
 * (and notes a new <Blob>, or the Encoded attribute of a <Name>), end()
 * stores a value.
 */
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "azxml.h"
#include "http.h"

#define NS_SEP      '|'   /* expat joins "namespace-URI|local-name" */
#define PATH_CAP    512   /* bytes of "Blobs/Blob/Properties/Etag"-like paths */
#define SHOWN_VALUE 64    /* bytes of a bad value quoted in a message */
#define SHOWN_TEXT  300   /* bytes of an error message kept */

struct xml_reader {
	const char *root;
	/* At the start of each element below the root: is its text wanted? */
	bool (*start)(struct xml_reader *r, const char *path, const char **attrs);
	/* At its end: text is its NUL-terminated text if wanted, else NULL. */
	void (*end)(struct xml_reader *r, const char *path, const char *text, size_t len);
	void *user;

	XML_Parser parser;
	int depth;
	size_t path_len[AZXML_MAX_DEPTH];
	buf path;
	bool collecting;
	buf text;
	char *err;
};

static void reader_fail(struct xml_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void reader_fail(struct xml_reader *r, const char *fmt, ...)
{
	buf msg = BUF_INIT;
	va_list ap;

	if (r->err)
		return;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	r->err = buf_detach(&msg, NULL);
	XML_StopParser(r->parser, XML_FALSE);
}

/* A printable excerpt of s[0..n) for messages. */
static char *shown(const char *s, size_t n, size_t limit)
{
	buf b = BUF_INIT;
	size_t i;

	for (i = 0; i < n && i < limit; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			buf_addch(&b, (char)c);
		else
			buf_printf(&b, "\\x%02x", c);
	}
	if (i < n)
		buf_addstr(&b, "...");
	return buf_detach(&b, NULL);
}

static void fail_value(struct xml_reader *r, const char *what, const char *text,
		       size_t len, const char *problem)
{
	char *v = shown(text, len, SHOWN_VALUE);

	reader_fail(r, "invalid %s '%s': %s", what, v, problem);
	free(v);
}

static const char *last_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static const char *local_name(const char *name)
{
	const char *sep = strrchr(name, NS_SEP);

	return sep ? sep + 1 : name;
}

/* --- expat callbacks ---------------------------------------------------- */

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_reader *r = data;
	const char *local = local_name(name);

	if (r->err)
		return;
	if (r->collecting) {
		reader_fail(r, "unexpected element <%.64s> inside <%s>", local,
			    last_name(r->path.data));
		return;
	}
	if (r->depth == 0 && strcmp(local, r->root)) {
		reader_fail(r, "unexpected root element <%.64s>, expected <%s>", local, r->root);
		return;
	}
	if (r->depth == AZXML_MAX_DEPTH) {
		reader_fail(r, "elements nested deeper than %d levels in <%s>", AZXML_MAX_DEPTH,
			    r->root);
		return;
	}
	r->path_len[r->depth] = r->path.len;
	if (r->depth > 0 && ((r->path.len > 0 && !buf_addch(&r->path, '/')) ||
			     !buf_addstr(&r->path, local))) {
		reader_fail(r, "element path over %d bytes in <%s>", PATH_CAP, r->root);
		return;
	}
	r->depth++;
	buf_reset(&r->text);
	if (r->depth > 1)
		r->collecting = r->start(r, r->path.data, attrs);
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
	struct xml_reader *r = data;

	(void)name;
	if (r->err)
		return;
	if (r->depth > 1)
		r->end(r, r->path.data,
		       r->collecting ? (r->text.data ? r->text.data : "") : NULL, r->text.len);
	r->collecting = false;
	r->depth--;
	r->path.len = r->path_len[r->depth];
	if (r->path.data)
		r->path.data[r->path.len] = '\0';
}

static void XMLCALL on_text(void *data, const XML_Char *s, int len)
{
	struct xml_reader *r = data;

	if (r->err || !r->collecting)
		return;
	if (!buf_add(&r->text, s, (size_t)len))
		reader_fail(r, "<%s> text over %u bytes", last_name(r->path.data), AZXML_MAX_TEXT);
}

static void XMLCALL on_doctype(void *data, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	reader_fail(data, "XML with a DOCTYPE is refused");
}

static void XMLCALL on_entity_decl(void *data, const XML_Char *name, int is_param,
				   const XML_Char *value, int value_len,
				   const XML_Char *base, const XML_Char *sysid,
				   const XML_Char *pubid, const XML_Char *notation)
{
	(void)name;
	(void)is_param;
	(void)value;
	(void)value_len;
	(void)base;
	(void)sysid;
	(void)pubid;
	(void)notation;
	reader_fail(data, "XML entity declarations are refused");
}

/* Parse xml[0..n) (at most cap bytes) with r's callbacks.  NULL on
 * success, else the allocated message. */
static char *reader_run(struct xml_reader *r, const char *xml, size_t n, size_t cap)
{
	size_t skip = 0;
	char *err;

	if (n > cap)
		return xasprintf("reply of %zu bytes is over the %zu byte limit for <%s>", n, cap,
				 r->root);
	if (n >= 3 && !memcmp(xml, "\xef\xbb\xbf", 3))
		skip = 3;
	while (skip < n && (xml[skip] == ' ' || xml[skip] == '\t' || xml[skip] == '\r' ||
			    xml[skip] == '\n'))
		skip++;
	if (skip == n)
		return xasprintf("empty reply, expected <%s>", r->root);

	r->parser = XML_ParserCreateNS(NULL, NS_SEP);
	if (!r->parser)
		die("out of memory (XML parser)");
	XML_SetUserData(r->parser, r);
	XML_SetElementHandler(r->parser, on_start, on_end);
	XML_SetCharacterDataHandler(r->parser, on_text);
	XML_SetStartDoctypeDeclHandler(r->parser, on_doctype);
	XML_SetEntityDeclHandler(r->parser, on_entity_decl);
	buf_init(&r->path, PATH_CAP);
	buf_init(&r->text, AZXML_MAX_TEXT);

	if (XML_Parse(r->parser, xml + skip, (int)(n - skip), XML_TRUE) != XML_STATUS_OK &&
	    !r->err) {
		enum XML_Error code = XML_GetErrorCode(r->parser);

		if (code == XML_ERROR_NO_MEMORY)
			die("out of memory (XML parser)");
		r->err = xasprintf("reply is not well-formed XML (line %llu, column %llu: %s), "
				   "expected <%s>",
				   (unsigned long long)XML_GetCurrentLineNumber(r->parser),
				   (unsigned long long)XML_GetCurrentColumnNumber(r->parser),
				   XML_ErrorString(code), r->root);
	}
	if (!r->err && r->depth != 0)
		r->err = xasprintf("reply ended inside <%s>", r->root);
	XML_ParserFree(r->parser);
	r->parser = NULL;
	buf_release(&r->path);
	buf_release(&r->text);
	err = r->err;
	r->err = NULL;
	return err;
}

static es_result give_err(char *msg, char **err)
{
	if (err)
		*err = msg;
	else
		free(msg);
	return ES_ERR_REMOTE;
}

/* False (and the reader failed) if `bit` was already in *have. */
static bool first_time(struct xml_reader *r, unsigned *have, unsigned bit, const char *what)
{
	if (*have & bit) {
		reader_fail(r, "duplicate %s", what);
		return false;
	}
	*have |= bit;
	return true;
}

/* %XX-decode ('+' is itself); NULL on a bad escape or a %00. */
static char *name_decode(const char *s, size_t n)
{
	buf d = BUF_INIT;

	if (pct_decode(&d, s, n, PCT_NUL_IS_BAD) != PCT_OK) {
		buf_release(&d);
		return NULL;
	}
	return buf_detach(&d, NULL);
}

/* --- List Blobs --------------------------------------------------------- */

enum { HAVE_MARKER = 1 << 0 };
enum { HAVE_NAME = 1 << 0, HAVE_SIZE = 1 << 1, HAVE_MTIME = 1 << 2, HAVE_ETAG = 1 << 3,
       HAVE_TYPE = 1 << 4 };

struct list_blobs {
	az_list_page *page;
	size_t alloc;
	unsigned top;
	unsigned item;
	bool name_encoded;   /* the current <Name> has Encoded="true" */
};

#define P_BLOB  "Blobs/Blob"
#define P_PROPS "Blobs/Blob/Properties/"

static const char *const list_paths[] = {
	"NextMarker", P_BLOB "/Name", P_PROPS "Content-Length", P_PROPS "Last-Modified",
	P_PROPS "Etag", P_PROPS "BlobType", NULL
};

static bool list_start(struct xml_reader *r, const char *path, const char **attrs)
{
	struct list_blobs *st = r->user;
	az_list_page *p = st->page;

	if (!strcmp(path, P_BLOB)) {
		p->blobs = xgrow(p->blobs, p->count + 1, &st->alloc, sizeof(*p->blobs));
		memset(&p->blobs[p->count], 0, sizeof(*p->blobs));
		p->count++;
		st->item = 0;
		return false;
	}
	if (!strcmp(path, P_BLOB "/Name")) {
		st->name_encoded = false;
		for (size_t i = 0; attrs && attrs[i]; i += 2)
			if (!strcmp(local_name(attrs[i]), "Encoded"))
				st->name_encoded = !strcmp(attrs[i + 1], "true");
	}
	for (size_t i = 0; list_paths[i]; i++)
		if (!strcmp(path, list_paths[i]))
			return true;
	return false;
}

static void list_end(struct xml_reader *r, const char *path, const char *text, size_t len)
{
	struct list_blobs *st = r->user;
	az_list_page *p = st->page;
	az_blob_info *b = p->count ? &p->blobs[p->count - 1] : NULL;

	if (!strcmp(path, P_BLOB)) {
		const char *missing = !(st->item & HAVE_NAME) ? "Name" :
				      !(st->item & HAVE_SIZE) ? "Content-Length" :
				      !(st->item & HAVE_MTIME) ? "Last-Modified" : NULL;

		if (missing)
			reader_fail(r, "<Blob> number %zu has no <%s>", p->count, missing);
		return;
	}
	if (!text)
		return;
	if (!strcmp(path, "NextMarker")) {
		if (first_time(r, &st->top, HAVE_MARKER, "<NextMarker>") && len)
			p->next_marker = xstrndup(text, len);
	} else if (!strcmp(path, P_BLOB "/Name")) {
		if (!first_time(r, &st->item, HAVE_NAME, "<Name> in <Blob>"))
			return;
		if (!len) {
			reader_fail(r, "empty <Name> in <Blob>");
		} else if (st->name_encoded) {
			if (!(b->name = name_decode(text, len)))
				fail_value(r, "<Name Encoded=\"true\"> in <Blob>", text, len,
					   "bad %-escape or %00");
		} else {
			b->name = xstrndup(text, len);
		}
	} else if (!strcmp(path, P_PROPS "Content-Length")) {
		uint64_t v;

		if (!first_time(r, &st->item, HAVE_SIZE, "<Content-Length> in <Blob>"))
			return;
		if (!parse_u64(text, &v) || v > (uint64_t)INT64_MAX)
			fail_value(r, "<Content-Length> in <Blob>", text, len,
				   "not a decimal byte count");
		else
			b->size = (int64_t)v;
	} else if (!strcmp(path, P_PROPS "Last-Modified")) {
		int64_t s;

		if (!first_time(r, &st->item, HAVE_MTIME, "<Last-Modified> in <Blob>"))
			return;
		if (!http_date_parse(text, &s) || s > INT64_MAX / 1000 || s < INT64_MIN / 1000)
			fail_value(r, "<Last-Modified> in <Blob>", text, len, "not an HTTP date");
		else
			b->mtime_ms = s * 1000;
	} else if (!strcmp(path, P_PROPS "Etag")) {
		if (!first_time(r, &st->item, HAVE_ETAG, "<Etag> in <Blob>"))
			return;
		if (len >= 2 && text[0] == '"' && text[len - 1] == '"')
			b->etag = xstrndup(text + 1, len - 2);
		else
			b->etag = xstrndup(text, len);
	} else if (!strcmp(path, P_PROPS "BlobType")) {
		if (first_time(r, &st->item, HAVE_TYPE, "<BlobType> in <Blob>"))
			b->blob_type = xstrndup(text, len);
	}
}

es_result azxml_parse_list_blobs(const char *xml, size_t n, az_list_page *out, char **err)
{
	struct list_blobs st = { .page = out };
	struct xml_reader r = { .root = "EnumerationResults", .start = list_start,
				.end = list_end, .user = &st };
	char *msg;

	memset(out, 0, sizeof(*out));
	if (err)
		*err = NULL;
	msg = reader_run(&r, xml, n, AZXML_MAX_LIST_BYTES);
	if (!msg)
		return ES_OK;
	az_list_page_release(out);
	return give_err(msg, err);
}

void az_list_page_release(az_list_page *page)
{
	if (!page)
		return;
	for (size_t i = 0; i < page->count; i++) {
		free(page->blobs[i].name);
		free(page->blobs[i].etag);
		free(page->blobs[i].blob_type);
	}
	free(page->blobs);
	free(page->next_marker);
	memset(page, 0, sizeof(*page));
}

/* --- <Error> ------------------------------------------------------------ */

static bool error_start(struct xml_reader *r, const char *path, const char **attrs)
{
	(void)r;
	(void)attrs;
	return !strcmp(path, "Code") || !strcmp(path, "Message");
}

static void error_end(struct xml_reader *r, const char *path, const char *text, size_t len)
{
	az_error_info *e = r->user;
	char **field;

	if (!text)
		return;
	field = !strcmp(path, "Code") ? &e->code : &e->message;
	if (*field) {
		reader_fail(r, "duplicate <%s> in <Error>", path);
		return;
	}
	if (field == &e->message) {
		/* "The specified blob does not exist.\nRequestId:...\nTime:..." */
		size_t first = strcspn(text, "\r\n");

		len = first < len ? first : len;
		if (len > SHOWN_TEXT)
			len = SHOWN_TEXT;
		*field = shown(text, len, SHOWN_TEXT);
		return;
	}
	*field = xstrndup(text, len);
}

es_result azxml_parse_error(const char *xml, size_t n, az_error_info *out)
{
	struct xml_reader r = { .root = "Error", .start = error_start, .end = error_end,
				.user = out };
	char *msg;

	memset(out, 0, sizeof(*out));
	msg = reader_run(&r, xml, n, AZXML_MAX_REPLY_BYTES);
	if (!msg && (!out->code || !*out->code))
		msg = xstrdup("no <Code> in <Error>");
	if (!msg)
		return ES_OK;
	free(msg);
	az_error_info_release(out);
	return ES_ERR_REMOTE;
}

void az_error_info_release(az_error_info *info)
{
	if (!info)
		return;
	free(info->code);
	free(info->message);
	memset(info, 0, sizeof(*info));
}
