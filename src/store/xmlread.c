/*
 * xmlread.c - expat over one whole reply, for s3xml.c and azxml.c; see
 * xmlread.h.
 *
 * The expat callbacks keep the path of the open elements in one buf (each
 * element's start offset in path_len[], so an end is a cut) and the text
 * of the wanted element in another; both bufs carry their caps, so an
 * append that fails is the cap being reached.  Every callback returns at
 * once after the first failure: expat may still deliver what it had
 * buffered before XML_StopParser() takes effect.
 */
#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmlread.h"

#define NS_SEP '|'   /* expat joins "namespace-URI|local-name" */

struct xmlread_state {
	XML_Parser parser;
	int depth;              /* open elements, root included */
	size_t *path_len;       /* path.len before each open element */
	buf path;               /* of the innermost open element */
	bool collecting;        /* its text is wanted */
	buf text;
	const char **attrs;     /* during start(): the element's attributes */
	char *err;              /* the first failure; parsing stops */
};

void xmlread_fail(xml_reader *r, const char *fmt, ...)
{
	struct xmlread_state *s = r->state;
	buf msg = BUF_INIT;
	va_list ap;

	if (s->err)
		return;
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	s->err = buf_detach(&msg, NULL);
	XML_StopParser(s->parser, XML_FALSE);
}

char *xmlread_shown(const char *s, size_t n, size_t limit)
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

char *xmlread_bad_value(const char *what, const char *text, size_t len, const char *problem)
{
	char *v = xmlread_shown(text, len, XMLREAD_SHOWN_VALUE);
	char *msg = xasprintf("invalid %s '%s': %s", what, v, problem);

	free(v);
	return msg;
}

void xmlread_fail_value(xml_reader *r, const char *what, const char *text, size_t len,
			const char *problem)
{
	char *msg = xmlread_bad_value(what, text, len, problem);

	xmlread_fail(r, "%s", msg);
	free(msg);
}

bool xmlread_once(xml_reader *r, unsigned *seen, unsigned bit, const char *what)
{
	if (*seen & bit) {
		xmlread_fail(r, "duplicate %s", what);
		return false;
	}
	*seen |= bit;
	return true;
}

bool xmlread_byte_count(xml_reader *r, const char *what, const char *text, size_t len,
			int64_t *out)
{
	uint64_t v;

	if (!parse_u64(text, &v) || v > (uint64_t)INT64_MAX) {
		xmlread_fail_value(r, what, text, len, "not a decimal byte count");
		return false;
	}
	*out = (int64_t)v;
	return true;
}

static const char *local_name(const char *name)
{
	const char *sep = strrchr(name, NS_SEP);

	return sep ? sep + 1 : name;
}

const char *xmlread_attr(const xml_reader *r, const char *local)
{
	const char **attrs = r->state->attrs;
	const char *value = NULL;

	for (size_t i = 0; attrs && attrs[i]; i += 2)
		if (!strcmp(local_name(attrs[i]), local))
			value = attrs[i + 1];
	return value;
}

bool xmlread_path_in(const char *path, const char *const *paths)
{
	for (; *paths; paths++)
		if (!strcmp(path, *paths))
			return true;
	return false;
}

es_result xmlread_refuse(char *msg, char **err)
{
	if (err)
		*err = msg;
	else
		free(msg);
	return ES_ERR_REMOTE;
}

static const char *last_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* --- expat callbacks ---------------------------------------------------- */

static void XMLCALL on_start(void *data, const XML_Char *name, const XML_Char **attrs)
{
	xml_reader *r = data;
	struct xmlread_state *s = r->state;
	const char *local = local_name(name);

	if (s->err)
		return;
	if (s->collecting) {
		xmlread_fail(r, "unexpected element <%.64s> inside <%s>", local,
			     last_name(s->path.data));
		return;
	}
	if (s->depth == 0) {
		snprintf(r->root_seen, sizeof(r->root_seen), "%s", local);
		if (strcmp(local, r->root)) {
			xmlread_fail(r, "unexpected root element <%.64s>, expected <%s>", local,
				     r->root);
			return;
		}
	}
	if (s->depth == r->rules->max_depth) {
		xmlread_fail(r, "elements nested deeper than %d levels in <%s>",
			     r->rules->max_depth, r->root);
		return;
	}
	s->path_len[s->depth] = s->path.len;
	if (s->depth > 0 && ((s->path.len > 0 && !buf_addch(&s->path, '/')) ||
			     !buf_addstr(&s->path, local))) {
		xmlread_fail(r, "element path over %d bytes in <%s>", XMLREAD_PATH_CAP, r->root);
		return;
	}
	s->depth++;
	buf_reset(&s->text);
	if (s->depth > 1) {
		s->attrs = attrs;
		s->collecting = r->start(r, s->path.data);
		s->attrs = NULL;
	}
}

static void XMLCALL on_end(void *data, const XML_Char *name)
{
	xml_reader *r = data;
	struct xmlread_state *s = r->state;

	(void)name;
	if (s->err)
		return;
	if (s->depth > 1)
		r->end(r, s->path.data,
		       s->collecting ? (s->text.data ? s->text.data : "") : NULL, s->text.len);
	s->collecting = false;
	s->depth--;
	s->path.len = s->path_len[s->depth];
	if (s->path.data)
		s->path.data[s->path.len] = '\0';
}

static void XMLCALL on_text(void *data, const XML_Char *text, int len)
{
	xml_reader *r = data;
	struct xmlread_state *s = r->state;

	if (s->err || !s->collecting)
		return;
	if (!buf_add(&s->text, text, (size_t)len))
		xmlread_fail(r, "<%s> text over %zu bytes", last_name(s->path.data),
			     r->rules->max_text);
}

static void XMLCALL on_doctype(void *data, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	xmlread_fail(data, "XML with a DOCTYPE is refused");
}

/* Belt and braces: declarations only come inside a DOCTYPE, which
 * on_doctype() has refused before. */
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
	xmlread_fail(data, "XML entity declarations are refused");
}

/* --- the run ------------------------------------------------------------ */

/* Where the XML starts in xml[0..n): after a BOM if the rules skip one,
 * then after spaces, tabs, CRs and LFs. */
static size_t leading_skip(const xml_reader *r, const char *xml, size_t n)
{
	size_t skip = 0;

	if (r->rules->skip_bom && n >= 3 && !memcmp(xml, "\xef\xbb\xbf", 3))
		skip = 3;
	while (skip < n && (xml[skip] == ' ' || xml[skip] == '\t' || xml[skip] == '\r' ||
			    xml[skip] == '\n'))
		skip++;
	return skip;
}

char *xmlread_run(xml_reader *r, const char *xml, size_t n, size_t max_bytes)
{
	struct xmlread_state s = { 0 };
	size_t skip;

	r->root_seen[0] = '\0';
	if (n > max_bytes)
		return xasprintf("reply of %zu bytes is over the %zu byte limit for <%s>", n,
				 max_bytes, r->root);
	skip = leading_skip(r, xml, n);
	if (skip == n)
		return xasprintf("empty reply, expected <%s>", r->root);

	s.parser = XML_ParserCreateNS(NULL, NS_SEP);
	if (!s.parser)
		die("out of memory (XML parser)");
	s.path_len = xcalloc((size_t)r->rules->max_depth, sizeof(*s.path_len));
	buf_init(&s.path, XMLREAD_PATH_CAP);
	buf_init(&s.text, r->rules->max_text);
	r->state = &s;
	XML_SetUserData(s.parser, r);
	XML_SetElementHandler(s.parser, on_start, on_end);
	XML_SetCharacterDataHandler(s.parser, on_text);
	XML_SetStartDoctypeDeclHandler(s.parser, on_doctype);
	XML_SetEntityDeclHandler(s.parser, on_entity_decl);

	if (XML_Parse(s.parser, xml + skip, (int)(n - skip), XML_TRUE) != XML_STATUS_OK &&
	    !s.err) {
		enum XML_Error code = XML_GetErrorCode(s.parser);

		if (code == XML_ERROR_NO_MEMORY)
			die("out of memory (XML parser)");
		s.err = xasprintf("reply is not well-formed XML (line %llu, column %llu: %s), "
				  "expected <%s>",
				  (unsigned long long)XML_GetCurrentLineNumber(s.parser),
				  (unsigned long long)XML_GetCurrentColumnNumber(s.parser),
				  XML_ErrorString(code), r->root);
	}
	/* expat fails a final parse with open elements; kept as a safeguard */
	if (!s.err && s.depth != 0)
		s.err = xasprintf("reply ended inside <%s>", r->root);
	XML_ParserFree(s.parser);
	free(s.path_len);
	buf_release(&s.path);
	buf_release(&s.text);
	r->state = NULL;
	return s.err;
}
