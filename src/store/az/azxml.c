/*
 * azxml.c - parsers for Azure Blob Storage's XML replies, on the reader of
 * xmlread.h; see azxml.h.
 *
 * The reader runs expat, refuses DOCTYPEs, checks the root and collects
 * the text of the elements a reply parser asks for.  Each reply is then
 * two small callbacks: start() says which paths ("Blobs/Blob/Name") it
 * wants the text of (and notes a new <Blob>, or the Encoded attribute of
 * a <Name>), end() stores a value.
 */
#include <stdlib.h>
#include <string.h>

#include "azxml.h"
#include "http.h"
#include "xmlread.h"

#define SHOWN_TEXT 300   /* bytes of an error message kept */

/* Azure starts its bodies with a UTF-8 BOM, at times before whitespace. */
static const xmlread_rules az_rules = {
	.max_text = AZXML_MAX_TEXT, .max_depth = AZXML_MAX_DEPTH, .skip_bom = true
};

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

static bool list_start(xml_reader *r, const char *path)
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
		const char *encoded = xmlread_attr(r, "Encoded");

		st->name_encoded = encoded && !strcmp(encoded, "true");
	}
	return xmlread_path_in(path, list_paths);
}

static void list_end(xml_reader *r, const char *path, const char *text, size_t len)
{
	struct list_blobs *st = r->user;
	az_list_page *p = st->page;
	az_blob_info *b = p->count ? &p->blobs[p->count - 1] : NULL;

	if (!strcmp(path, P_BLOB)) {
		const char *missing = !(st->item & HAVE_NAME) ? "Name" :
				      !(st->item & HAVE_SIZE) ? "Content-Length" :
				      !(st->item & HAVE_MTIME) ? "Last-Modified" : NULL;

		if (missing)
			xmlread_fail(r, "<Blob> number %zu has no <%s>", p->count, missing);
		return;
	}
	if (!text)
		return;
	if (!strcmp(path, "NextMarker")) {
		if (xmlread_once(r, &st->top, HAVE_MARKER, "<NextMarker>") && len)
			p->next_marker = xstrndup(text, len);
	} else if (!strcmp(path, P_BLOB "/Name")) {
		if (!xmlread_once(r, &st->item, HAVE_NAME, "<Name> in <Blob>"))
			return;
		if (!len) {
			xmlread_fail(r, "empty <Name> in <Blob>");
		} else if (st->name_encoded) {
			if (!(b->name = name_decode(text, len)))
				xmlread_fail_value(r, "<Name Encoded=\"true\"> in <Blob>", text,
						   len, "bad %-escape or %00");
		} else {
			b->name = xstrndup(text, len);
		}
	} else if (!strcmp(path, P_PROPS "Content-Length")) {
		if (xmlread_once(r, &st->item, HAVE_SIZE, "<Content-Length> in <Blob>"))
			xmlread_byte_count(r, "<Content-Length> in <Blob>", text, len, &b->size);
	} else if (!strcmp(path, P_PROPS "Last-Modified")) {
		int64_t s;

		if (!xmlread_once(r, &st->item, HAVE_MTIME, "<Last-Modified> in <Blob>"))
			return;
		if (!http_date_parse(text, &s) || s > INT64_MAX / 1000 || s < INT64_MIN / 1000)
			xmlread_fail_value(r, "<Last-Modified> in <Blob>", text, len,
					   "not an HTTP date");
		else
			b->mtime_ms = s * 1000;
	} else if (!strcmp(path, P_PROPS "Etag")) {
		if (!xmlread_once(r, &st->item, HAVE_ETAG, "<Etag> in <Blob>"))
			return;
		if (len >= 2 && text[0] == '"' && text[len - 1] == '"')
			b->etag = xstrndup(text + 1, len - 2);
		else
			b->etag = xstrndup(text, len);
	} else if (!strcmp(path, P_PROPS "BlobType")) {
		if (xmlread_once(r, &st->item, HAVE_TYPE, "<BlobType> in <Blob>"))
			b->blob_type = xstrndup(text, len);
	}
}

es_result azxml_parse_list_blobs(const char *xml, size_t n, az_list_page *out, char **err)
{
	struct list_blobs st = { .page = out };
	xml_reader r = { .root = "EnumerationResults", .rules = &az_rules, .start = list_start,
			 .end = list_end, .user = &st };
	char *msg;

	memset(out, 0, sizeof(*out));
	if (err)
		*err = NULL;
	msg = xmlread_run(&r, xml, n, AZXML_MAX_LIST_BYTES);
	if (!msg)
		return ES_OK;
	az_list_page_release(out);
	return xmlread_refuse(msg, err);
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

static bool error_start(xml_reader *r, const char *path)
{
	(void)r;
	return !strcmp(path, "Code") || !strcmp(path, "Message");
}

static void error_end(xml_reader *r, const char *path, const char *text, size_t len)
{
	az_error_info *e = r->user;
	char **field;

	if (!text)
		return;
	field = !strcmp(path, "Code") ? &e->code : &e->message;
	if (*field) {
		xmlread_fail(r, "duplicate <%s> in <Error>", path);
		return;
	}
	if (field == &e->message) {
		/* "The specified blob does not exist.\nRequestId:...\nTime:..." */
		size_t first = strcspn(text, "\r\n");

		len = first < len ? first : len;
		if (len > SHOWN_TEXT)
			len = SHOWN_TEXT;
		*field = xmlread_shown(text, len, SHOWN_TEXT);
		return;
	}
	*field = xstrndup(text, len);
}

es_result azxml_parse_error(const char *xml, size_t n, az_error_info *out)
{
	xml_reader r = { .root = "Error", .rules = &az_rules, .start = error_start,
			 .end = error_end, .user = out };
	char *msg;

	memset(out, 0, sizeof(*out));
	msg = xmlread_run(&r, xml, n, AZXML_MAX_REPLY_BYTES);
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
