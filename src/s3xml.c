/*
 * s3xml.c - parsers for S3's XML replies, on expat; see s3xml.h.
 *
 * One generic reader (struct xml_reader) runs expat over a whole body:
 * it refuses DOCTYPEs, checks the root element, keeps the path of the open
 * elements below the root ("Contents/Key") and collects, under a cap, the
 * text of the elements a reply parser asks for.  Each reply is then two
 * small callbacks: start() says which paths it wants the text of (and
 * notes a new <Contents> or <Upload>), end() stores a value.  Checks that
 * need the whole document (EncodingType may come after the keys, a
 * truncated page needs its token) run after the parse.
 */
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3xml.h"

#define NS_SEP      '|'   /* expat joins "namespace-URI|local-name" */
#define PATH_CAP    512   /* bytes of "Contents/Key"-like paths */
#define SHOWN_VALUE 64    /* bytes of a bad value quoted in a message */
#define SHOWN_TEXT  300   /* bytes of an S3 error message quoted */

struct xml_reader {
	const char *root;  /* the root element the reply must have */
	/* At the start of each element below the root: is its text wanted? */
	bool (*start)(struct xml_reader *r, const char *path);
	/* At its end: text is its NUL-terminated text if wanted, else NULL. */
	void (*end)(struct xml_reader *r, const char *path, const char *text, size_t len);
	void *user;        /* the reply parser's state */

	XML_Parser parser;
	int depth;                         /* open elements, root included */
	size_t path_len[S3XML_MAX_DEPTH];  /* path.len before each open element */
	buf path;                          /* of the innermost open element */
	bool collecting;                   /* its text is wanted */
	buf text;
	char root_seen[32];                /* the document's root (cut to fit:
					      only compared with short names) */
	char *err;                         /* the first failure; parsing stops */
};

static void reader_fail(struct xml_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Record the first failure and stop the parser; later calls are ignored. */
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

/* An allocated printable excerpt of s[0..n) for messages: bytes outside
 * printable ASCII (and ' \) as \xHH, cut at `limit` bytes with "...". */
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

/* "invalid <Size> in <Contents> '12a': not a decimal byte count" */
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

static bool path_in(const char *path, const char *const *paths)
{
	for (; *paths; paths++)
		if (!strcmp(path, *paths))
			return true;
	return false;
}

/* --- expat callbacks ---------------------------------------------------- */

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	struct xml_reader *r = data;
	const char *sep = strrchr(name, NS_SEP);
	const char *local = sep ? sep + 1 : name;

	(void)attrs;
	if (r->err)
		return;
	if (r->collecting) {
		reader_fail(r, "unexpected element <%.64s> inside <%s>", local,
			    last_name(r->path.data));
		return;
	}
	if (r->depth == 0) {
		snprintf(r->root_seen, sizeof(r->root_seen), "%s", local);
		if (strcmp(local, r->root)) {
			reader_fail(r, "unexpected root element <%.64s>, expected <%s>",
				    local, r->root);
			return;
		}
	}
	if (r->depth == S3XML_MAX_DEPTH) {
		reader_fail(r, "elements nested deeper than %d levels in <%s>",
			    S3XML_MAX_DEPTH, r->root);
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
		r->collecting = r->start(r, r->path.data);
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
	struct xml_reader *r = data;

	(void)name;
	if (r->err)
		return;
	if (r->depth > 1)
		r->end(r, r->path.data,
		       r->collecting ? (r->text.data ? r->text.data : "") : NULL,
		       r->text.len);
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
		reader_fail(r, "<%s> text over %u bytes", last_name(r->path.data),
			    S3XML_MAX_TEXT);
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

/*
 * Parse xml[0..n) (at most cap bytes) with r's callbacks.  Returns NULL on
 * success, else the allocated message.  r->root_seen tells what the root
 * was, if the parse got that far.
 */
static char *reader_run(struct xml_reader *r, const char *xml, size_t n, size_t cap)
{
	size_t skip = 0;
	char *err;

	if (n > cap)
		return xasprintf("reply of %zu bytes is over the %zu byte limit for <%s>",
				 n, cap, r->root);
	while (skip < n && (xml[skip] == ' ' || xml[skip] == '\t' ||
			    xml[skip] == '\r' || xml[skip] == '\n'))
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
	buf_init(&r->text, S3XML_MAX_TEXT);

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
	XML_ParserFree(r->parser);
	r->parser = NULL;
	buf_release(&r->path);
	buf_release(&r->text);
	err = r->err;
	r->err = NULL;
	return err;
}

/* --- values ------------------------------------------------------------- */

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

static void take_size(struct xml_reader *r, const char *what, const char *text,
		      size_t len, int64_t *out)
{
	uint64_t v;

	if (!parse_u64(text, &v) || v > (uint64_t)INT64_MAX)
		fail_value(r, what, text, len, "not a decimal byte count");
	else
		*out = (int64_t)v;
}

static void take_time(struct xml_reader *r, const char *what, const char *text,
		      size_t len, int64_t *out_ms)
{
	if (!time_parse_rfc3339(text, out_ms))
		fail_value(r, what, text, len, "not an RFC 3339 time");
}

static void take_bool(struct xml_reader *r, const char *what, const char *text,
		      size_t len, bool *out)
{
	if (!strcasecmp(text, "true"))
		*out = true;
	else if (!strcasecmp(text, "false"))
		*out = false;
	else
		fail_value(r, what, text, len, "not true or false");
}

/* A key as the reply has it (decoded after the parse if need be). */
static void take_key(struct xml_reader *r, const char *what, const char *text,
		     size_t len, char **out)
{
	if (len == 0)
		reader_fail(r, "empty %s", what);
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

static void take_encoding(struct xml_reader *r, const char *text, size_t len, char **out)
{
	if (strcmp(text, "url"))
		fail_value(r, "<EncodingType>", text, len, "only url is supported");
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
	char *d = NULL, *v, *msg;
	pct_result st;

	if (!*field)
		return NULL;
	st = url_decode(*field, strlen(*field), &d);
	if (st == PCT_OK) {
		free(*field);
		*field = d;
		return NULL;
	}
	v = shown(*field, strlen(*field), SHOWN_VALUE);
	msg = xasprintf("invalid %s '%s': %s", what, v,
			st == PCT_NUL ? "decodes to a NUL byte" : "bad %-escape");
	free(v);
	return msg;
}

/* Hand msg to the caller (or free it); returns ES_ERR_REMOTE. */
static es_result give_err(char *msg, char **err)
{
	if (err)
		*err = msg;
	else
		free(msg);
	return ES_ERR_REMOTE;
}

/* --- ListObjectsV2 ------------------------------------------------------ */

/* Elements seen so far, to refuse repeats and notice missing ones. */
enum top_seen {          /* at the top level of a listing */
	HAVE_TRUNCATED = 1 << 0, HAVE_TOKEN = 1 << 1, HAVE_ENCODING = 1 << 2,
	HAVE_NEXT_KEY = 1 << 3, HAVE_NEXT_UPLOAD_ID = 1 << 4
};
enum item_seen {         /* in the current <Contents> or <Upload> */
	HAVE_KEY = 1 << 0, HAVE_SIZE = 1 << 1, HAVE_MTIME = 1 << 2, HAVE_ETAG = 1 << 3,
	HAVE_UPLOAD_ID = 1 << 4, HAVE_INITIATED = 1 << 5
};

struct list_v2 {
	s3_list_page *page;
	size_t alloc;
	unsigned top;    /* HAVE_* of the top level */
	unsigned item;   /* HAVE_* of the current <Contents> */
};

static const char *const list_v2_paths[] = {
	"IsTruncated", "NextContinuationToken", "EncodingType",
	"Contents/Key", "Contents/Size", "Contents/LastModified", "Contents/ETag", NULL
};

static bool list_v2_start(struct xml_reader *r, const char *path)
{
	struct list_v2 *st = r->user;
	s3_list_page *p = st->page;

	if (!strcmp(path, "Contents")) {
		p->objects = xgrow(p->objects, p->count + 1, &st->alloc, sizeof(*p->objects));
		memset(&p->objects[p->count], 0, sizeof(*p->objects));
		p->count++;
		st->item = 0;
		return false;
	}
	return path_in(path, list_v2_paths);
}

static void list_v2_end(struct xml_reader *r, const char *path, const char *text, size_t len)
{
	struct list_v2 *st = r->user;
	s3_list_page *p = st->page;
	s3_object_info *o = p->count ? &p->objects[p->count - 1] : NULL;

	if (!strcmp(path, "Contents")) {
		const char *missing = !(st->item & HAVE_KEY) ? "Key" :
				      !(st->item & HAVE_SIZE) ? "Size" :
				      !(st->item & HAVE_MTIME) ? "LastModified" : NULL;

		if (missing)
			reader_fail(r, "<Contents> number %zu has no <%s>", p->count, missing);
		return;
	}
	if (!text)
		return;
	if (!strcmp(path, "IsTruncated")) {
		if (first_time(r, &st->top, HAVE_TRUNCATED, "<IsTruncated>"))
			take_bool(r, "<IsTruncated>", text, len, &p->truncated);
	} else if (!strcmp(path, "NextContinuationToken")) {
		if (first_time(r, &st->top, HAVE_TOKEN, "<NextContinuationToken>") && len)
			p->next_token = xstrndup(text, len);
	} else if (!strcmp(path, "EncodingType")) {
		if (first_time(r, &st->top, HAVE_ENCODING, "<EncodingType>"))
			take_encoding(r, text, len, &p->encoding_type);
	} else if (!strcmp(path, "Contents/Key")) {
		if (first_time(r, &st->item, HAVE_KEY, "<Key> in <Contents>"))
			take_key(r, "<Key> in <Contents>", text, len, &o->key);
	} else if (!strcmp(path, "Contents/Size")) {
		if (first_time(r, &st->item, HAVE_SIZE, "<Size> in <Contents>"))
			take_size(r, "<Size> in <Contents>", text, len, &o->size);
	} else if (!strcmp(path, "Contents/LastModified")) {
		if (first_time(r, &st->item, HAVE_MTIME, "<LastModified> in <Contents>"))
			take_time(r, "<LastModified> in <Contents>", text, len, &o->mtime_ms);
	} else if (!strcmp(path, "Contents/ETag")) {
		if (first_time(r, &st->item, HAVE_ETAG, "<ETag> in <Contents>"))
			o->etag = etag_dup(text, len);
	}
}

es_result s3xml_parse_list_v2(const char *xml, size_t n, s3_list_page *out, char **err)
{
	struct list_v2 st = { .page = out };
	struct xml_reader r = { .root = "ListBucketResult", .start = list_v2_start,
				.end = list_v2_end, .user = &st };
	char *msg;

	memset(out, 0, sizeof(*out));
	if (err)
		*err = NULL;
	msg = reader_run(&r, xml, n, S3XML_MAX_LIST_BYTES);
	if (msg)
		goto fail;
	if (!(st.top & HAVE_TRUNCATED)) {
		msg = xstrdup("no <IsTruncated> in <ListBucketResult>");
		goto fail;
	}
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
	return give_err(msg, err);
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

struct error_doc {
	s3_error_info *info;
};

static const char *const error_paths[] = { "Code", "Message", "Resource", "RequestId", NULL };

static bool error_start(struct xml_reader *r, const char *path)
{
	(void)r;
	return path_in(path, error_paths);
}

static void error_end(struct xml_reader *r, const char *path, const char *text, size_t len)
{
	s3_error_info *e = ((struct error_doc *)r->user)->info;
	char **field;

	if (!text)
		return;
	field = !strcmp(path, "Code") ? &e->code :
		!strcmp(path, "Message") ? &e->message :
		!strcmp(path, "Resource") ? &e->resource : &e->request_id;
	if (*field)
		reader_fail(r, "duplicate <%s> in <Error>", path);
	else
		*field = xstrndup(text, len);
}

/* s3xml_parse_error() with the reason when it is not an <Error>. */
static es_result parse_error_doc(const char *xml, size_t n, s3_error_info *out, char **err)
{
	struct error_doc st = { .info = out };
	struct xml_reader r = { .root = "Error", .start = error_start, .end = error_end,
				.user = &st };
	char *msg;

	memset(out, 0, sizeof(*out));
	msg = reader_run(&r, xml, n, S3XML_MAX_REPLY_BYTES);
	if (!msg && (!out->code || !*out->code))
		msg = xstrdup("no <Code> in <Error>");
	if (!msg)
		return ES_OK;
	s3_error_info_release(out);
	return give_err(msg, err);
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

static bool one_field_start(struct xml_reader *r, const char *path)
{
	return !strcmp(path, ((struct one_field *)r->user)->path);
}

static void one_field_end(struct xml_reader *r, const char *path, const char *text, size_t len)
{
	struct one_field *st = r->user;

	if (!text)
		return;
	if (st->value)
		reader_fail(r, "duplicate <%s> in <%s>", path, r->root);
	else
		st->value = xstrndup(text, len);
}

es_result s3xml_parse_initiate_multipart(const char *xml, size_t n, char **upload_id,
					 char **err)
{
	struct one_field st = { .path = "UploadId" };
	struct xml_reader r = { .root = "InitiateMultipartUploadResult",
				.start = one_field_start, .end = one_field_end, .user = &st };
	char *msg;

	*upload_id = NULL;
	if (err)
		*err = NULL;
	msg = reader_run(&r, xml, n, S3XML_MAX_REPLY_BYTES);
	if (!msg && (!st.value || !*st.value))
		msg = xstrdup("no <UploadId> in <InitiateMultipartUploadResult>");
	if (msg) {
		free(st.value);
		return give_err(msg, err);
	}
	*upload_id = st.value;
	return ES_OK;
}

es_result s3xml_parse_complete_multipart(const char *xml, size_t n, char **etag,
					 s3_error_info *error, char **err)
{
	struct one_field st = { .path = "ETag" };
	struct xml_reader r = { .root = "CompleteMultipartUploadResult",
				.start = one_field_start, .end = one_field_end, .user = &st };
	char *msg, *code, *text;

	*etag = NULL;
	memset(error, 0, sizeof(*error));
	if (err)
		*err = NULL;
	msg = reader_run(&r, xml, n, S3XML_MAX_REPLY_BYTES);
	if (msg && !strcmp(r.root_seen, "CompleteMultipartUploadResponse")) {
		/* moto 5.2.1 names the root so; the children are S3's */
		struct xml_reader r2 = { .root = "CompleteMultipartUploadResponse",
					 .start = one_field_start, .end = one_field_end,
					 .user = &st };

		free(msg);
		free(st.value);
		st.value = NULL;
		msg = reader_run(&r2, xml, n, S3XML_MAX_REPLY_BYTES);
	}
	if (msg && !strcmp(r.root_seen, "Error")) {
		/* The 200-with-Error reply: report S3's reason instead. */
		free(msg);
		msg = NULL;
		if (parse_error_doc(xml, n, error, &msg) != ES_OK)
			goto fail;
		code = shown(error->code, strlen(error->code), SHOWN_VALUE);
		text = error->message ? shown(error->message, strlen(error->message),
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
	return give_err(msg, err);
}

/* --- ListMultipartUploads ----------------------------------------------- */

struct upload_list {
	s3_upload_list *list;
	size_t alloc;
	unsigned top;
	unsigned item;
	char *encoding_type;
};

static const char *const uploads_paths[] = {
	"IsTruncated", "NextKeyMarker", "NextUploadIdMarker", "EncodingType",
	"Upload/Key", "Upload/UploadId", "Upload/Initiated", NULL
};

static bool uploads_start(struct xml_reader *r, const char *path)
{
	struct upload_list *st = r->user;
	s3_upload_list *l = st->list;

	if (!strcmp(path, "Upload")) {
		l->uploads = xgrow(l->uploads, l->count + 1, &st->alloc, sizeof(*l->uploads));
		memset(&l->uploads[l->count], 0, sizeof(*l->uploads));
		l->count++;
		st->item = 0;
		return false;
	}
	return path_in(path, uploads_paths);
}

static void uploads_end(struct xml_reader *r, const char *path, const char *text, size_t len)
{
	struct upload_list *st = r->user;
	s3_upload_list *l = st->list;
	s3_upload_info *u = l->count ? &l->uploads[l->count - 1] : NULL;

	if (!strcmp(path, "Upload")) {
		const char *missing = !(st->item & HAVE_KEY) ? "Key" :
				      !(st->item & HAVE_UPLOAD_ID) ? "UploadId" :
				      !(st->item & HAVE_INITIATED) ? "Initiated" : NULL;

		if (missing)
			reader_fail(r, "<Upload> number %zu has no <%s>", l->count, missing);
		return;
	}
	if (!text)
		return;
	if (!strcmp(path, "IsTruncated")) {
		if (first_time(r, &st->top, HAVE_TRUNCATED, "<IsTruncated>"))
			take_bool(r, "<IsTruncated>", text, len, &l->truncated);
	} else if (!strcmp(path, "NextKeyMarker")) {
		if (first_time(r, &st->top, HAVE_NEXT_KEY, "<NextKeyMarker>") && len)
			l->next_key_marker = xstrndup(text, len);
	} else if (!strcmp(path, "NextUploadIdMarker")) {
		if (first_time(r, &st->top, HAVE_NEXT_UPLOAD_ID, "<NextUploadIdMarker>") && len)
			l->next_upload_id_marker = xstrndup(text, len);
	} else if (!strcmp(path, "EncodingType")) {
		if (first_time(r, &st->top, HAVE_ENCODING, "<EncodingType>"))
			take_encoding(r, text, len, &st->encoding_type);
	} else if (!strcmp(path, "Upload/Key")) {
		if (first_time(r, &st->item, HAVE_KEY, "<Key> in <Upload>"))
			take_key(r, "<Key> in <Upload>", text, len, &u->key);
	} else if (!strcmp(path, "Upload/UploadId")) {
		if (!first_time(r, &st->item, HAVE_UPLOAD_ID, "<UploadId> in <Upload>"))
			return;
		if (len == 0)
			reader_fail(r, "empty <UploadId> in <Upload>");
		else
			u->upload_id = xstrndup(text, len);
	} else if (!strcmp(path, "Upload/Initiated")) {
		if (first_time(r, &st->item, HAVE_INITIATED, "<Initiated> in <Upload>"))
			take_time(r, "<Initiated> in <Upload>", text, len, &u->initiated_ms);
	}
}

es_result s3xml_parse_list_multipart_uploads(const char *xml, size_t n, s3_upload_list *out,
					     char **err)
{
	struct upload_list st = { .list = out };
	struct xml_reader r = { .root = "ListMultipartUploadsResult", .start = uploads_start,
				.end = uploads_end, .user = &st };
	char *msg;

	memset(out, 0, sizeof(*out));
	if (err)
		*err = NULL;
	msg = reader_run(&r, xml, n, S3XML_MAX_LIST_BYTES);
	if (msg)
		goto fail;
	if (!(st.top & HAVE_TRUNCATED)) {
		msg = xstrdup("no <IsTruncated> in <ListMultipartUploadsResult>");
		goto fail;
	}
	if (out->truncated && (!out->next_key_marker || !out->next_upload_id_marker)) {
		msg = xstrdup("<IsTruncated> is true but <NextKeyMarker> or "
			      "<NextUploadIdMarker> is missing");
		goto fail;
	}
	if (st.encoding_type) {
		for (size_t i = 0; i < out->count; i++)
			if ((msg = decode_field(&out->uploads[i].key, "<Key> in <Upload>")))
				goto fail;
		if ((msg = decode_field(&out->next_key_marker, "<NextKeyMarker>")))
			goto fail;
	}
	free(st.encoding_type);
	return ES_OK;

fail:
	free(st.encoding_type);
	s3_upload_list_release(out);
	return give_err(msg, err);
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
