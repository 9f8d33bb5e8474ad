/*
 * s3xml.c - parsers for S3's XML replies, on the reader of xmlread.h; see
 * s3xml.h.
 *
 * The reader runs expat, refuses DOCTYPEs, checks the root and collects
 * the text of the elements a reply parser asks for.  Each reply is then
 * two small callbacks: start() says which paths ("Contents/Key") it wants
 * the text of, end() stores a value.  The two listings share theirs
 * (struct listing: the repeated <Contents> or <Upload>, <IsTruncated>,
 * <EncodingType>).  Checks that need the whole document (EncodingType may
 * come after the keys, a truncated page needs its token) run after the
 * parse.
 */
#include <stdlib.h>
#include <string.h>

#include "s3xml.h"
#include "xmlread.h"

#define SHOWN_TEXT 300   /* bytes of an S3 error message quoted */

/* No BOM is skipped: S3 sends none, and expat takes one right before the XML. */
static const xmlread_rules s3_rules = {
	.max_text = S3XML_MAX_TEXT, .max_depth = S3XML_MAX_DEPTH, .skip_bom = false
};

/* --- values ------------------------------------------------------------- */

static void take_time(xml_reader *r, const char *what, const char *text, size_t len,
		      int64_t *out_ms)
{
	if (!time_parse_rfc3339(text, out_ms))
		xmlread_fail_value(r, what, text, len, "not an RFC 3339 time");
}

static void take_bool(xml_reader *r, const char *what, const char *text, size_t len,
		      bool *out)
{
	if (!strcmp(text, "true"))
		*out = true;
	else if (!strcmp(text, "false"))
		*out = false;
	else
		xmlread_fail_value(r, what, text, len, "not true or false");
}

/* A key or an upload id as the reply has it (a key is decoded after the
 * parse if need be). */
static void take_nonempty(xml_reader *r, const char *what, const char *text, size_t len,
			  char **out)
{
	if (len == 0)
		xmlread_fail(r, "empty %s", what);
	else
		*out = xstrndup(text, len);
}

/* The ETag without its quotes, whether they came raw or as &quot;. */
static char *etag_dup(const char *s, size_t n)
{
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
		return xstrndup(s + 1, n - 2);
	return xstrndup(s, n);
}

static void take_encoding(xml_reader *r, const char *text, size_t len, char **out)
{
	if (strcmp(text, "url"))
		xmlread_fail_value(r, "<EncodingType>", text, len, "only url is supported");
	else
		*out = xstrdup(text);
}

static pct_result url_decode(const char *s, size_t n, char **out)
{
	buf d = BUF_INIT;
	pct_result st = pct_decode(&d, s, n, PCT_PLUS_IS_SPACE | PCT_NUL_IS_BAD);

	if (st != PCT_OK) {
		buf_release(&d);
		return st;
	}
	*out = buf_detach(&d, NULL);
	return PCT_OK;
}

char *s3xml_url_decode(const char *s, size_t n)
{
	char *d = NULL;

	return url_decode(s, n, &d) == PCT_OK ? d : NULL;
}

/* Replace *field (NULL is left alone) by its url-decoding.  Returns NULL,
 * or an allocated message naming `what`. */
static char *decode_field(char **field, const char *what)
{
	char *d = NULL;
	pct_result st;

	if (!*field)
		return NULL;
	st = url_decode(*field, strlen(*field), &d);
	if (st == PCT_OK) {
		free(*field);
		*field = d;
		return NULL;
	}
	return xmlread_bad_value(what, *field, strlen(*field),
				 st == PCT_NUL ? "decodes to a NUL byte" : "bad %-escape");
}

/* --- the two listings --------------------------------------------------- */

/*
 * ListObjectsV2 and ListMultipartUploads: a repeated item (<Contents>,
 * <Upload>) whose first three children are required, and at the top a
 * required <IsTruncated> and an optional <EncodingType>.  listing_start()
 * and listing_end() do that much for both; each listing's end() takes the
 * rest.  The items are gathered here and handed to the caller's page after
 * the parse.
 */

/* Elements seen so far, to refuse repeats and notice missing ones. */
enum top_seen {          /* at the top level of a listing */
	HAVE_TRUNCATED = 1 << 0, HAVE_TOKEN = 1 << 1, HAVE_ENCODING = 1 << 2,
	HAVE_NEXT_KEY = 1 << 3, HAVE_NEXT_UPLOAD_ID = 1 << 4
};
enum item_seen {         /* in the current item: the required[] are bits 0-2 */
	HAVE_KEY = 1 << 0,
	HAVE_SIZE = 1 << 1, HAVE_UPLOAD_ID = 1 << 1,
	HAVE_MTIME = 1 << 2, HAVE_INITIATED = 1 << 2,
	HAVE_ETAG = 1 << 3
};

struct listing {
	/* what the listing is */
	const char *item;                /* "Contents" */
	const char *required[3];         /* its children with bits 0, 1, 2 of have */
	const char *const *paths;        /* the paths whose text is used */
	size_t item_size;                /* sizeof(s3_object_info) */
	void *out;                       /* the caller's page */
	/* what it has so far */
	void *items;                     /* s3_object_info or s3_upload_info */
	size_t count, alloc;
	unsigned top;                    /* enum top_seen */
	unsigned have;                   /* enum item_seen, of the current item */
	bool truncated;
	char *encoding_type;
};

/* The current item, NULL before the first. */
static void *listing_item(const struct listing *l)
{
	return l->count ? (char *)l->items + (l->count - 1) * l->item_size : NULL;
}

static bool listing_start(xml_reader *r, const char *path)
{
	struct listing *l = r->user;

	if (strcmp(path, l->item))
		return xmlread_path_in(path, l->paths);
	l->items = xgrow(l->items, l->count + 1, &l->alloc, l->item_size);
	l->count++;
	memset(listing_item(l), 0, l->item_size);
	l->have = 0;
	return false;
}

/* The end of an item, <IsTruncated> or <EncodingType>: true if path was
 * one of them. */
static bool listing_end(xml_reader *r, struct listing *l, const char *path, const char *text,
			size_t len)
{
	if (!strcmp(path, l->item)) {
		for (unsigned i = 0; i < 3; i++)
			if (!(l->have & 1u << i)) {
				xmlread_fail(r, "<%s> number %zu has no <%s>", l->item, l->count,
					     l->required[i]);
				break;
			}
		return true;
	}
	if (!text)
		return true;
	if (!strcmp(path, "IsTruncated")) {
		if (xmlread_once(r, &l->top, HAVE_TRUNCATED, "<IsTruncated>"))
			take_bool(r, "<IsTruncated>", text, len, &l->truncated);
	} else if (!strcmp(path, "EncodingType")) {
		if (xmlread_once(r, &l->top, HAVE_ENCODING, "<EncodingType>"))
			take_encoding(r, text, len, &l->encoding_type);
	} else {
		return false;
	}
	return true;
}

/* Parse a listing (at most S3XML_MAX_LIST_BYTES) with `end` for its own
 * elements.  Returns NULL or the message; l's items and values are the
 * caller's to take either way. */
static char *listing_run(struct listing *l, const char *root,
			 void (*end)(xml_reader *, const char *, const char *, size_t),
			 const char *xml, size_t n)
{
	xml_reader r = { .root = root, .rules = &s3_rules, .start = listing_start, .end = end,
			 .user = l };
	char *msg = xmlread_run(&r, xml, n, S3XML_MAX_LIST_BYTES);

	if (!msg && !(l->top & HAVE_TRUNCATED))
		msg = xasprintf("no <IsTruncated> in <%s>", root);
	return msg;
}

/* --- ListObjectsV2 ------------------------------------------------------ */

static const char *const list_v2_paths[] = {
	"IsTruncated", "NextContinuationToken", "EncodingType",
	"Contents/Key", "Contents/Size", "Contents/LastModified", "Contents/ETag", NULL
};

static void list_v2_end(xml_reader *r, const char *path, const char *text, size_t len)
{
	struct listing *l = r->user;
	s3_list_page *p = l->out;
	s3_object_info *o = listing_item(l);

	if (listing_end(r, l, path, text, len))
		return;
	if (!strcmp(path, "NextContinuationToken")) {
		if (xmlread_once(r, &l->top, HAVE_TOKEN, "<NextContinuationToken>") && len)
			p->next_token = xstrndup(text, len);
	} else if (!strcmp(path, "Contents/Key")) {
		if (xmlread_once(r, &l->have, HAVE_KEY, "<Key> in <Contents>"))
			take_nonempty(r, "<Key> in <Contents>", text, len, &o->key);
	} else if (!strcmp(path, "Contents/Size")) {
		if (xmlread_once(r, &l->have, HAVE_SIZE, "<Size> in <Contents>"))
			xmlread_byte_count(r, "<Size> in <Contents>", text, len, &o->size);
	} else if (!strcmp(path, "Contents/LastModified")) {
		if (xmlread_once(r, &l->have, HAVE_MTIME, "<LastModified> in <Contents>"))
			take_time(r, "<LastModified> in <Contents>", text, len, &o->mtime_ms);
	} else if (!strcmp(path, "Contents/ETag")) {
		if (xmlread_once(r, &l->have, HAVE_ETAG, "<ETag> in <Contents>"))
			o->etag = etag_dup(text, len);
	}
}

es_result s3xml_parse_list_v2(const char *xml, size_t n, s3_list_page *out, char **err)
{
	struct listing l = { .item = "Contents", .required = { "Key", "Size", "LastModified" },
			     .paths = list_v2_paths, .item_size = sizeof(*out->objects),
			     .out = out };
	char *msg;

	memset(out, 0, sizeof(*out));
	if (err)
		*err = NULL;
	msg = listing_run(&l, "ListBucketResult", list_v2_end, xml, n);
	out->objects = l.items;
	out->count = l.count;
	out->truncated = l.truncated;
	out->encoding_type = l.encoding_type;
	if (msg)
		goto fail;
	if (out->truncated && !out->next_token) {
		msg = xstrdup("<IsTruncated> is true but there is no <NextContinuationToken>");
		goto fail;
	}
	if (out->encoding_type)
		for (size_t i = 0; i < out->count; i++)
			if ((msg = decode_field(&out->objects[i].key, "<Key> in <Contents>")))
				goto fail;
	return ES_OK;

fail:
	s3_list_page_release(out);
	return xmlread_refuse(msg, err);
}

void s3_list_page_release(s3_list_page *page)
{
	if (!page)
		return;
	for (size_t i = 0; i < page->count; i++) {
		free(page->objects[i].key);
		free(page->objects[i].etag);
	}
	free(page->objects);
	free(page->next_token);
	free(page->encoding_type);
	memset(page, 0, sizeof(*page));
}

/* --- <Error> ------------------------------------------------------------ */

static const char *const error_paths[] = { "Code", "Message", "Resource", "RequestId", NULL };

static bool error_start(xml_reader *r, const char *path)
{
	(void)r;
	return xmlread_path_in(path, error_paths);
}

static void error_end(xml_reader *r, const char *path, const char *text, size_t len)
{
	s3_error_info *e = r->user;
	char **field;

	if (!text)
		return;
	field = !strcmp(path, "Code") ? &e->code :
		!strcmp(path, "Message") ? &e->message :
		!strcmp(path, "Resource") ? &e->resource : &e->request_id;
	if (*field)
		xmlread_fail(r, "duplicate <%s> in <Error>", path);
	else
		*field = xstrndup(text, len);
}

/* s3xml_parse_error() with the reason when it is not an <Error>. */
static es_result parse_error_doc(const char *xml, size_t n, s3_error_info *out, char **err)
{
	xml_reader r = { .root = "Error", .rules = &s3_rules, .start = error_start,
			 .end = error_end, .user = out };
	char *msg;

	memset(out, 0, sizeof(*out));
	msg = xmlread_run(&r, xml, n, S3XML_MAX_REPLY_BYTES);
	if (!msg && (!out->code || !*out->code))
		msg = xstrdup("no <Code> in <Error>");
	if (!msg)
		return ES_OK;
	s3_error_info_release(out);
	return xmlread_refuse(msg, err);
}

es_result s3xml_parse_error(const char *xml, size_t n, s3_error_info *out)
{
	return parse_error_doc(xml, n, out, NULL);
}

void s3_error_info_release(s3_error_info *info)
{
	if (!info)
		return;
	free(info->code);
	free(info->message);
	free(info->resource);
	free(info->request_id);
	memset(info, 0, sizeof(*info));
}

/* --- Create/CompleteMultipartUpload ------------------------------------- */

/* The one text element used from a small reply, e.g. <UploadId>. */
struct one_field {
	const char *path;
	char *value;
};

static bool one_field_start(xml_reader *r, const char *path)
{
	return !strcmp(path, ((struct one_field *)r->user)->path);
}

static void one_field_end(xml_reader *r, const char *path, const char *text, size_t len)
{
	struct one_field *st = r->user;

	if (!text)
		return;
	if (st->value)
		xmlread_fail(r, "duplicate <%s> in <%s>", path, r->root);
	else
		st->value = xstrndup(text, len);
}

/* Parse a reply of root `root` for st->path.  Returns NULL or the message;
 * root_seen (32 bytes), if not NULL, gets the document's root. */
static char *one_field_run(struct one_field *st, const char *root, const char *xml, size_t n,
			   char root_seen[32])
{
	xml_reader r = { .root = root, .rules = &s3_rules, .start = one_field_start,
			 .end = one_field_end, .user = st };
	char *msg = xmlread_run(&r, xml, n, S3XML_MAX_REPLY_BYTES);

	if (root_seen)
		memcpy(root_seen, r.root_seen, sizeof(r.root_seen));
	return msg;
}

es_result s3xml_parse_initiate_multipart(const char *xml, size_t n, char **upload_id,
					 char **err)
{
	struct one_field st = { .path = "UploadId" };
	char *msg;

	*upload_id = NULL;
	if (err)
		*err = NULL;
	msg = one_field_run(&st, "InitiateMultipartUploadResult", xml, n, NULL);
	if (!msg && (!st.value || !*st.value))
		msg = xstrdup("no <UploadId> in <InitiateMultipartUploadResult>");
	if (msg) {
		free(st.value);
		return xmlread_refuse(msg, err);
	}
	*upload_id = st.value;
	return ES_OK;
}

es_result s3xml_parse_complete_multipart(const char *xml, size_t n, char **etag,
					 s3_error_info *error, char **err)
{
	struct one_field st = { .path = "ETag" };
	char root_seen[32];
	char *msg, *code, *text;

	*etag = NULL;
	memset(error, 0, sizeof(*error));
	if (err)
		*err = NULL;
	msg = one_field_run(&st, "CompleteMultipartUploadResult", xml, n, root_seen);
	if (msg && !strcmp(root_seen, "Error")) {
		/* The 200-with-Error reply: report S3's reason instead. */
		free(msg);
		msg = NULL;
		if (parse_error_doc(xml, n, error, &msg) != ES_OK)
			goto fail;
		code = xmlread_shown(error->code, strlen(error->code), XMLREAD_SHOWN_VALUE);
		text = error->message ? xmlread_shown(error->message, strlen(error->message),
						      SHOWN_TEXT) : NULL;
		msg = xasprintf("CompleteMultipartUpload failed: '%s'%s%s", code,
				text ? ": " : "", text ? text : "");
		free(code);
		free(text);
		goto fail;
	}
	if (msg)
		goto fail;
	if (st.value)
		*etag = etag_dup(st.value, strlen(st.value));
	if (!*etag || !**etag) {
		msg = xstrdup("no <ETag> in <CompleteMultipartUploadResult>");
		goto fail;
	}
	free(st.value);
	return ES_OK;

fail:
	free(st.value);
	free(*etag);
	*etag = NULL;
	return xmlread_refuse(msg, err);
}

/* --- ListMultipartUploads ----------------------------------------------- */

static const char *const uploads_paths[] = {
	"IsTruncated", "NextKeyMarker", "NextUploadIdMarker", "EncodingType",
	"Upload/Key", "Upload/UploadId", "Upload/Initiated", NULL
};

static void uploads_end(xml_reader *r, const char *path, const char *text, size_t len)
{
	struct listing *l = r->user;
	s3_upload_list *ul = l->out;
	s3_upload_info *u = listing_item(l);

	if (listing_end(r, l, path, text, len))
		return;
	if (!strcmp(path, "NextKeyMarker")) {
		if (xmlread_once(r, &l->top, HAVE_NEXT_KEY, "<NextKeyMarker>") && len)
			ul->next_key_marker = xstrndup(text, len);
	} else if (!strcmp(path, "NextUploadIdMarker")) {
		if (xmlread_once(r, &l->top, HAVE_NEXT_UPLOAD_ID, "<NextUploadIdMarker>") && len)
			ul->next_upload_id_marker = xstrndup(text, len);
	} else if (!strcmp(path, "Upload/Key")) {
		if (xmlread_once(r, &l->have, HAVE_KEY, "<Key> in <Upload>"))
			take_nonempty(r, "<Key> in <Upload>", text, len, &u->key);
	} else if (!strcmp(path, "Upload/UploadId")) {
		if (xmlread_once(r, &l->have, HAVE_UPLOAD_ID, "<UploadId> in <Upload>"))
			take_nonempty(r, "<UploadId> in <Upload>", text, len, &u->upload_id);
	} else if (!strcmp(path, "Upload/Initiated")) {
		if (xmlread_once(r, &l->have, HAVE_INITIATED, "<Initiated> in <Upload>"))
			take_time(r, "<Initiated> in <Upload>", text, len, &u->initiated_ms);
	}
}

es_result s3xml_parse_list_multipart_uploads(const char *xml, size_t n, s3_upload_list *out,
					     char **err)
{
	struct listing l = { .item = "Upload", .required = { "Key", "UploadId", "Initiated" },
			     .paths = uploads_paths, .item_size = sizeof(*out->uploads),
			     .out = out };
	char *msg;

	memset(out, 0, sizeof(*out));
	if (err)
		*err = NULL;
	msg = listing_run(&l, "ListMultipartUploadsResult", uploads_end, xml, n);
	out->uploads = l.items;
	out->count = l.count;
	out->truncated = l.truncated;
	if (msg)
		goto fail;
	if (out->truncated && (!out->next_key_marker || !out->next_upload_id_marker)) {
		msg = xstrdup("<IsTruncated> is true but <NextKeyMarker> or "
			      "<NextUploadIdMarker> is missing");
		goto fail;
	}
	if (l.encoding_type) {
		for (size_t i = 0; i < out->count; i++)
			if ((msg = decode_field(&out->uploads[i].key, "<Key> in <Upload>")))
				goto fail;
		if ((msg = decode_field(&out->next_key_marker, "<NextKeyMarker>")))
			goto fail;
	}
	free(l.encoding_type);
	return ES_OK;

fail:
	free(l.encoding_type);
	s3_upload_list_release(out);
	return xmlread_refuse(msg, err);
}

void s3_upload_list_release(s3_upload_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++) {
		free(list->uploads[i].key);
		free(list->uploads[i].upload_id);
	}
	free(list->uploads);
	free(list->next_key_marker);
	free(list->next_upload_id_marker);
	memset(list, 0, sizeof(*list));
}
