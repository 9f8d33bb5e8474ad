/*
 * check_xmlread.c - the generic expat reader under s3xml and azxml: the
 * paths and texts handed to the callbacks, namespaces and attributes, the
 * root check, leading whitespace and BOM, the caps (body, text, depth,
 * path), DOCTYPE and entity refusal, the messages for malformed XML, and
 * the value helpers.  Documents are built here; the parsers' own suites
 * use real replies.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "xmlread.h"

/* A document parser that logs what it is given: "S path" at each start,
 * "E path=text" (or "E path" when the text was not wanted) at each end. */
struct recorder {
	const char *const *wanted;   /* paths whose text is asked for */
	const char *attr;            /* at each start, log this attribute too */
	const char *fail_at;         /* xmlread_fail() at the end of this path */
	buf log;
};

static bool rec_start(xml_reader *r, const char *path)
{
	struct recorder *rec = r->user;

	buf_printf(&rec->log, "S %s|", path);
	if (rec->attr) {
		const char *v = xmlread_attr(r, rec->attr);

		buf_printf(&rec->log, "@%s=%s|", rec->attr, v ? v : "(none)");
	}
	return rec->wanted && xmlread_path_in(path, rec->wanted);
}

static void rec_end(xml_reader *r, const char *path, const char *text, size_t len)
{
	struct recorder *rec = r->user;

	if (text) {
		ck_assert_uint_eq(strlen(text), len);
		buf_printf(&rec->log, "E %s=%s|", path, text);
	} else {
		buf_printf(&rec->log, "E %s|", path);
	}
	if (rec->fail_at && !strcmp(path, rec->fail_at)) {
		xmlread_fail(r, "stop at <%s>", path);
		xmlread_fail(r, "second failure");   /* ignored: the first stays */
	}
}

static const xmlread_rules plain = { .max_text = 1024, .max_depth = 8, .skip_bom = false };
static const xmlread_rules with_bom = { .max_text = 1024, .max_depth = 8, .skip_bom = true };
static const xmlread_rules small = { .max_text = 8, .max_depth = 3, .skip_bom = false };

/* Run xml (strlen) with root <R>; returns the message or NULL, and the log
 * in *log (allocated). */
static char *run(const xmlread_rules *rules, struct recorder *rec, const char *xml,
		 char **log)
{
	xml_reader r = { .root = "R", .rules = rules, .start = rec_start, .end = rec_end,
			 .user = rec };
	char *msg;

	buf_init(&rec->log, 0);
	msg = xmlread_run(&r, xml, strlen(xml), 1 << 20);
	ck_assert_ptr_null(r.state);
	*log = buf_detach(&rec->log, NULL);
	return msg;
}

/* xml must be refused with exactly `want` (rec NULL: a recorder that
 * wants no text). */
static void refused_by(const xmlread_rules *rules, struct recorder *rec, const char *xml,
		       const char *want)
{
	struct recorder none = { 0 };
	char *log, *msg = run(rules, rec ? rec : &none, xml, &log);

	ck_assert_msg(msg != NULL, "accepted: %s", xml);
	ck_assert_msg(!strcmp(msg, want), "%s: got '%s', want '%s'", xml, msg, want);
	free(msg);
	free(log);
}

static void refused(const xmlread_rules *rules, const char *xml, const char *want)
{
	refused_by(rules, NULL, xml, want);
}

static void accepted(const xmlread_rules *rules, struct recorder *rec, const char *xml,
		     const char *want_log)
{
	char *log, *msg = run(rules, rec, xml, &log);

	ck_assert_msg(msg == NULL, "%s: %s", xml, msg);
	ck_assert_str_eq(log, want_log);
	free(log);
}

START_TEST(paths_and_text)
{
	static const char *const wanted[] = { "a", "b/c", "b/d", "e", "f", NULL };
	struct recorder rec = { .wanted = wanted };

	/* the root is never passed; unwanted elements end with NULL text */
	accepted(&plain, &rec, "<R><a>x</a><b><c>1&amp;2 &quot;q&quot; &#233;</c>"
		 "<d><![CDATA[<z>]]>t</d></b><e/><f></f><g>skipped</g></R>",
		 "S a|E a=x|S b|S b/c|E b/c=1&2 \"q\" \xc3\xa9|S b/d|E b/d=<z>t|E b|"
		 "S e|E e=|S f|E f=|S g|E g|");
	/* the same name at two depths is two paths; text around children is
	 * not collected for an unwanted parent */
	accepted(&plain, &rec, "<R>t<b>u<a>v</a><c>w</c></b><a>x</a></R>",
		 "S b|S b/a|E b/a|S b/c|E b/c=w|E b|S a|E a=x|");
	/* an empty root */
	accepted(&plain, &rec, "<R/>", "");
}
END_TEST

START_TEST(namespaces_and_attributes)
{
	static const char *const wanted[] = { "a", NULL };
	struct recorder rec = { .wanted = wanted, .attr = "Enc" };

	/* prefixes and default namespaces are ignored, for elements and the root */
	accepted(&plain, &rec, "<x:R xmlns:x=\"urn:a\"><x:a>v</x:a></x:R>",
		 "S a|@Enc=(none)|E a=v|");
	accepted(&plain, &rec, "<R xmlns=\"urn:b\"><a Enc=\"true\">v</a></R>",
		 "S a|@Enc=true|E a=v|");
	/* an attribute is found by its local name, whatever its namespace */
	accepted(&plain, &rec, "<R xmlns:p=\"urn:p\"><a p:Enc=\"1\">v</a><b Other=\"2\"/></R>",
		 "S a|@Enc=1|E a=v|S b|@Enc=(none)|E b|");
}
END_TEST

START_TEST(root_and_leading_bytes)
{
	struct recorder rec = { 0 };
	xml_reader r = { .root = "R", .rules = &plain, .start = rec_start, .end = rec_end,
			 .user = &rec };
	char *msg;

	refused(&plain, "<Html><R/></Html>", "unexpected root element <Html>, expected <R>");
	refused(&plain, "", "empty reply, expected <R>");
	refused(&plain, " \t\r\n", "empty reply, expected <R>");
	/* root_seen says what the root was, cut to fit, or "" */
	buf_init(&rec.log, 0);
	msg = xmlread_run(&r, "<Other/>", 8, 100);
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(r.root_seen, "Other");
	free(msg);
	msg = xmlread_run(&r, "<R/>", 4, 100);
	ck_assert_ptr_null(msg);
	ck_assert_str_eq(r.root_seen, "R");
	msg = xmlread_run(&r, "<ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/>", 39, 100);
	ck_assert_str_eq(r.root_seen, "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234");
	free(msg);
	msg = xmlread_run(&r, "", 0, 100);
	ck_assert_str_eq(r.root_seen, "");
	free(msg);
	/* the body cap, before anything is parsed */
	msg = xmlread_run(&r, "<R/>      ", 10, 9);
	ck_assert_str_eq(msg, "reply of 10 bytes is over the 9 byte limit for <R>");
	free(msg);
	msg = xmlread_run(&r, "<R/>      ", 10, 10);
	ck_assert_ptr_null(msg);
	buf_release(&rec.log);

	/* whitespace before the declaration is skipped */
	accepted(&plain, &rec, "\r\n  \t<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R/>", "");
	/* a BOM right before the XML: expat takes it either way */
	accepted(&plain, &rec, "\xef\xbb\xbf<?xml version=\"1.0\"?><R/>", "");
	accepted(&plain, &rec, "\xef\xbb\xbf<R/>", "");
	/* a BOM, then whitespace: only with skip_bom */
	accepted(&with_bom, &rec, "\xef\xbb\xbf\r\n<?xml version=\"1.0\"?><R/>", "");
	refused(&plain, "\xef\xbb\xbf\r\n<?xml version=\"1.0\"?><R/>",
		"reply is not well-formed XML (line 2, column 0: XML or text declaration not at "
		"start of entity), expected <R>");
	/* a BOM alone is an empty reply only when skipped */
	refused(&with_bom, "\xef\xbb\xbf \n", "empty reply, expected <R>");
}
END_TEST

START_TEST(malformed)
{
	refused(&plain, "<R><a></b></R>",
		"reply is not well-formed XML (line 1, column 8: mismatched tag), expected <R>");
	refused(&plain, "<?xml version=\"1.0\"?>\n<R>\n  <a>x</a>\n  <b>&x;</b>\n</R>",
		"reply is not well-formed XML (line 4, column 5: undefined entity), "
		"expected <R>");
	/* a truncated document; the position is its end */
	refused(&plain, "<R><a>x</a>",
		"reply is not well-formed XML (line 1, column 11: no element found), "
		"expected <R>");
	refused(&plain, "<html>busy",
		"unexpected root element <html>, expected <R>");
	refused(&plain, "<R/><R/>",
		"reply is not well-formed XML (line 1, column 4: junk after document element), "
		"expected <R>");
	refused(&plain, "not xml",
		"reply is not well-formed XML (line 1, column 0: syntax error), expected <R>");
}
END_TEST

START_TEST(caps)
{
	static const char *const wanted[] = { "a", "a/b", NULL };
	struct recorder rec = { .wanted = wanted };
	buf b = BUF_INIT;

	/* text: the cap is on wanted text only, and is inclusive */
	accepted(&small, &rec, "<R><a>12345678</a><c>123456789</c></R>",
		 "S a|E a=12345678|S c|E c|");
	refused_by(&small, &rec, "<R><a>123456789</a></R>", "<a> text over 8 bytes");
	refused_by(&small, &rec, "<R><a>1234&amp;5678</a></R>", "<a> text over 8 bytes");
	/* depth: root included */
	accepted(&small, &rec, "<R><c><d/></c></R>", "S c|S c/d|E c/d|E c|");
	refused(&small, "<R><c><d><e/></d></c></R>", "elements nested deeper than 3 levels in <R>");
	/* path: XMLREAD_PATH_CAP bytes fit */
	buf_addstr(&b, "<R><");
	for (int i = 0; i < XMLREAD_PATH_CAP + 1; i++)
		buf_addch(&b, 'n');
	buf_addstr(&b, "/></R>");
	refused(&plain, b.data, "element path over 512 bytes in <R>");
	buf_release(&b);
	/* a wanted element holds text only */
	refused_by(&plain, &rec, "<R><a>x<b/></a></R>", "unexpected element <b> inside <a>");
}
END_TEST

START_TEST(doctype_and_entities)
{
	refused(&plain, "<!DOCTYPE R><R/>", "XML with a DOCTYPE is refused");
	refused(&plain, "<!DOCTYPE R SYSTEM \"file:///etc/passwd\"><R>&e;</R>",
		"XML with a DOCTYPE is refused");
	refused(&plain, "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>"
		"<R><a>&lol2;</a></R>", "XML with a DOCTYPE is refused");
	refused(&plain, "<!DOCTYPE R [<!ENTITY % p SYSTEM \"http://127.0.0.1/x\"> %p;]><R/>",
		"XML with a DOCTYPE is refused");
	/* only the five predefined entities and character references exist */
	refused(&plain, "<R><a>&nbsp;</a></R>",
		"reply is not well-formed XML (line 1, column 6: undefined entity), expected <R>");
}
END_TEST

START_TEST(callback_failure_stops)
{
	static const char *const wanted[] = { "a", "b", NULL };
	struct recorder rec = { .wanted = wanted, .fail_at = "a" };
	char *log, *msg;

	/* the first message stays; nothing is called after it, even when the
	 * rest of the document is broken */
	msg = run(&plain, &rec, "<R><a>1</a><b>2</b></R>", &log);
	ck_assert_str_eq(msg, "stop at <a>");
	ck_assert_str_eq(log, "S a|E a=1|");
	free(msg);
	free(log);
	msg = run(&plain, &rec, "<R><a>1</a><b>2</c></R>", &log);
	ck_assert_str_eq(msg, "stop at <a>");
	free(msg);
	free(log);
}
END_TEST

/* A parser using the value helpers on <n> elements. */
struct values {
	unsigned seen;
	int64_t size;
};

static bool values_start(xml_reader *r, const char *path)
{
	(void)r;
	return !strcmp(path, "n") || !strcmp(path, "v");
}

static void values_end(xml_reader *r, const char *path, const char *text, size_t len)
{
	struct values *v = r->user;

	if (!strcmp(path, "n")) {
		if (xmlread_once(r, &v->seen, 1, "<n> in <R>"))
			xmlread_byte_count(r, "<n> in <R>", text, len, &v->size);
	} else if (!strcmp(path, "v")) {
		xmlread_fail_value(r, "<v>", text, len, "not wanted");
	}
}

static char *values_run(const char *xml, struct values *v)
{
	xml_reader r = { .root = "R", .rules = &plain, .start = values_start,
			 .end = values_end, .user = v };

	memset(v, 0, sizeof(*v));
	return xmlread_run(&r, xml, strlen(xml), 1 << 20);
}

START_TEST(value_helpers)
{
	static const struct { const char *xml, *msg; } bad[] = {
		{ "<R><n>1</n><n>2</n></R>", "duplicate <n> in <R>" },
		{ "<R><n>12a</n></R>", "invalid <n> in <R> '12a': not a decimal byte count" },
		{ "<R><n></n></R>", "invalid <n> in <R> '': not a decimal byte count" },
		{ "<R><n>-1</n></R>", "invalid <n> in <R> '-1': not a decimal byte count" },
		{ "<R><n> 1</n></R>", "invalid <n> in <R> ' 1': not a decimal byte count" },
		{ "<R><n>9223372036854775808</n></R>",
		  "invalid <n> in <R> '9223372036854775808': not a decimal byte count" },
		{ "<R><v>a&#9;'\\\xc3\xa9</v></R>",
		  "invalid <v> 'a\\x09\\x27\\x5c\\xc3\\xa9': not wanted" },
		{ NULL, NULL }
	};
	struct values v;
	char *msg, *s;

	ck_assert_ptr_null(values_run("<R><n>9223372036854775807</n></R>", &v));
	ck_assert_int_eq(v.size, INT64_MAX);
	ck_assert_ptr_null(values_run("<R><n>0</n></R>", &v));
	ck_assert_int_eq(v.size, 0);
	for (size_t i = 0; bad[i].xml; i++) {
		msg = values_run(bad[i].xml, &v);
		ck_assert_msg(msg && !strcmp(msg, bad[i].msg), "%s: got '%s', want '%s'",
			      bad[i].xml, msg ? msg : "(null)", bad[i].msg);
		free(msg);
	}

	/* shown: cut at the limit with "...", nothing raw but printable ASCII */
	s = xmlread_shown("abc\n", 4, 10);
	ck_assert_str_eq(s, "abc\\x0a");
	free(s);
	s = xmlread_shown("abcdef", 6, 3);
	ck_assert_str_eq(s, "abc...");
	free(s);
	s = xmlread_shown("", 0, 3);
	ck_assert_str_eq(s, "");
	free(s);
	s = xmlread_bad_value("<k>", "a\0b", 3, "has a NUL");
	ck_assert_str_eq(s, "invalid <k> 'a\\x00b': has a NUL");
	free(s);
	s = xmlread_bad_value("<k>", "0123456789012345678901234567890123456789"
			      "012345678901234567890123456789", 70, "long");
	ck_assert_str_eq(s, "invalid <k> '0123456789012345678901234567890123456789"
			 "012345678901234567890123...': long");
	free(s);

	/* refuse: hands the message over, or frees it */
	s = NULL;
	ck_assert_int_eq(xmlread_refuse(xstrdup("m"), &s), ES_ERR_REMOTE);
	ck_assert_str_eq(s, "m");
	free(s);
	ck_assert_int_eq(xmlread_refuse(xstrdup("m"), NULL), ES_ERR_REMOTE);
}
END_TEST

Suite *xmlread_suite(void)
{
	Suite *s = suite_create("xmlread");
	TCase *tc = tcase_create("xmlread");

	tcase_add_test(tc, paths_and_text);
	tcase_add_test(tc, namespaces_and_attributes);
	tcase_add_test(tc, root_and_leading_bytes);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, caps);
	tcase_add_test(tc, doctype_and_entities);
	tcase_add_test(tc, callback_failure_stops);
	tcase_add_test(tc, value_helpers);
	suite_add_tcase(s, tc);
	return s;
}
