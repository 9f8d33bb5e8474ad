/*
 * check_ndjson.c - the line splitter: terminators, blank lines, line
 * numbers, the max_line limit, streamed over-long lines, stopping, reset.
 *
 * A recorder collects what the callbacks receive and checks the protocol
 * of over-long pieces (first on the first piece only, last on the last
 * only, one line number).  A reference splitter written here from the
 * contract gives the expected records, and every input is also fed in
 * many different chunkings, which must not change the result.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ndjson.h"
#include "util.h"

enum rec_kind { REC_LINE, REC_OVERLONG };

typedef struct rec {
	enum rec_kind kind;
	uint64_t lineno;
	buf bytes;
	unsigned pieces;
} rec;

typedef struct recorder {
	rec *r;
	size_t n, alloc;
	bool in_overlong;        /* a first piece seen, the last not yet */
	int stop_at;             /* return non-zero on this callback (1-based) */
	int calls;
	int stop_value;
	char errmsg[200];        /* first protocol violation */
} recorder;

static void rec_fail(recorder *rc, const char *msg)
{
	if (!rc->errmsg[0])
		snprintf(rc->errmsg, sizeof(rc->errmsg), "%s", msg);
}

static rec *rec_new(recorder *rc, enum rec_kind kind, uint64_t lineno)
{
	rec *r;

	rc->r = xgrow(rc->r, rc->n + 1, &rc->alloc, sizeof(*rc->r));
	r = &rc->r[rc->n++];
	r->kind = kind;
	r->lineno = lineno;
	buf_init(&r->bytes, 0);
	r->pieces = 0;
	return r;
}

static int on_line(void *ud, const char *p, size_t n, uint64_t lineno)
{
	recorder *rc = ud;
	rec *r;

	if (rc->in_overlong)
		rec_fail(rc, "a line inside an over-long line");
	r = rec_new(rc, REC_LINE, lineno);
	buf_add(&r->bytes, p, n);
	if (++rc->calls == rc->stop_at)
		return rc->stop_value;
	return 0;
}

static int on_overlong(void *ud, const char *p, size_t n, uint64_t lineno,
		       bool first, bool last)
{
	recorder *rc = ud;
	rec *r;

	if (first) {
		if (rc->in_overlong)
			rec_fail(rc, "first piece while the previous over-long line is open");
		r = rec_new(rc, REC_OVERLONG, lineno);
		rc->in_overlong = true;
	} else {
		if (!rc->in_overlong) {
			rec_fail(rc, "a non-first piece without a first one");
			r = rec_new(rc, REC_OVERLONG, lineno);
		} else {
			r = &rc->r[rc->n - 1];
		}
		if (r->lineno != lineno)
			rec_fail(rc, "line number changed between pieces");
	}
	buf_add(&r->bytes, p, n);
	r->pieces++;
	if (last)
		rc->in_overlong = false;
	if (++rc->calls == rc->stop_at)
		return rc->stop_value;
	return 0;
}

static void recorder_init(recorder *rc)
{
	memset(rc, 0, sizeof(*rc));
}

static void recorder_release(recorder *rc)
{
	for (size_t i = 0; i < rc->n; i++)
		buf_release(&rc->r[i].bytes);
	free(rc->r);
	memset(rc, 0, sizeof(*rc));
}

static const char *rec_data(const rec *r)
{
	return r->bytes.data ? r->bytes.data : "";
}

/* Feed text in chunks of `chunk` bytes (0: all at once), then finish. */
static void run_splitter(recorder *rc, size_t max_line, const char *text, size_t n,
			 size_t chunk)
{
	line_splitter ls;

	lines_init(&ls, max_line, on_line, on_overlong, rc);
	if (!chunk)
		chunk = n ? n : 1;
	for (size_t off = 0; off < n; off += chunk) {
		size_t k = n - off < chunk ? n - off : chunk;

		/* each chunk in its own exact-size block, so reads past it are
		 * caught by ASan */
		char *c = xmalloc(k);

		memcpy(c, text + off, k);
		ck_assert_int_eq(lines_feed(&ls, c, k), 0);
		free(c);
	}
	ck_assert_int_eq(lines_finish(&ls), 0);
	lines_release(&ls);
	ck_assert_msg(!rc->errmsg[0], "protocol: %s", rc->errmsg);
	ck_assert_msg(!rc->in_overlong, "an over-long line was never closed");
}

/* The reference: split on LF, drop one CR before it (and at the end of an
 * unterminated last line), skip lines of only spaces, tabs and CRs, and
 * classify by length. */
static void reference(recorder *rc, size_t max_line, const char *text, size_t n)
{
	size_t start = 0;
	uint64_t lineno = 1;

	while (start < n) {
		const char *nl = memchr(text + start, '\n', n - start);
		size_t end = nl ? (size_t)(nl - text) : n;
		size_t len = end - start;
		bool blank = true;

		if (len && text[start + len - 1] == '\r')
			len--;
		for (size_t i = 0; i < len; i++)
			if (text[start + i] != ' ' && text[start + i] != '\t' &&
			    text[start + i] != '\r')
				blank = false;
		if (!blank || len > max_line) {
			rec *r = rec_new(rc, len > max_line ? REC_OVERLONG : REC_LINE,
					 lineno);

			buf_add(&r->bytes, text + start, len);
		}
		lineno++;
		start = end + 1;
	}
}

static void assert_same(const recorder *got, const recorder *want, const char *what)
{
	ck_assert_msg(got->n == want->n, "%s: %zu records, want %zu", what, got->n,
		      want->n);
	for (size_t i = 0; i < got->n; i++) {
		const rec *g = &got->r[i], *w = &want->r[i];

		ck_assert_msg(g->kind == w->kind, "%s: record %zu is %s, want %s", what, i,
			      g->kind == REC_LINE ? "a line" : "over-long",
			      w->kind == REC_LINE ? "a line" : "over-long");
		ck_assert_msg(g->lineno == w->lineno, "%s: record %zu line %llu, want %llu",
			      what, i, (unsigned long long)g->lineno,
			      (unsigned long long)w->lineno);
		ck_assert_msg(g->bytes.len == w->bytes.len &&
			      !memcmp(rec_data(g), rec_data(w), g->bytes.len),
			      "%s: record %zu (line %llu) has %zu bytes '%.40s', want %zu '%.40s'",
			      what, i, (unsigned long long)w->lineno, g->bytes.len,
			      rec_data(g), w->bytes.len, rec_data(w));
	}
}

/* Check text against the reference, fed whole and in many chunkings. */
static void check_all_chunkings(size_t max_line, const char *text, size_t n)
{
	recorder want;
	static const size_t sizes[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 13, 16, 31, 64, 100 };

	recorder_init(&want);
	reference(&want, max_line, text, n);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		recorder got;
		char what[64];

		snprintf(what, sizeof(what), "chunk %zu, max_line %zu", sizes[i], max_line);
		recorder_init(&got);
		run_splitter(&got, max_line, text, n, sizes[i]);
		assert_same(&got, &want, what);
		recorder_release(&got);
	}
	recorder_release(&want);
}

#define CHECK_ALL(max, s) check_all_chunkings((max), (s), sizeof(s) - 1)

/* Expected records written by hand. */
struct exp_rec {
	enum rec_kind kind;
	uint64_t lineno;
	const char *bytes;
};

static void expect_records(const recorder *rc, const struct exp_rec *e, size_t ne)
{
	ck_assert_uint_eq(rc->n, ne);
	for (size_t i = 0; i < ne; i++) {
		ck_assert_int_eq(rc->r[i].kind, e[i].kind);
		ck_assert_uint_eq(rc->r[i].lineno, e[i].lineno);
		ck_assert_msg(rc->r[i].bytes.len == strlen(e[i].bytes) &&
			      !memcmp(rec_data(&rc->r[i]), e[i].bytes, rc->r[i].bytes.len),
			      "record %zu: '%s', want '%s'", i, rec_data(&rc->r[i]),
			      e[i].bytes);
	}
}

/* ---------------------------------------------------------------- */

START_TEST(lf_and_crlf)
{
	recorder rc;
	static const char text[] = "{\"a\":1}\n{\"b\":2}\r\n{\"c\":3}\n";
	static const struct exp_rec e[] = {
		{ REC_LINE, 1, "{\"a\":1}" },
		{ REC_LINE, 2, "{\"b\":2}" },
		{ REC_LINE, 3, "{\"c\":3}" },
	};

	recorder_init(&rc);
	run_splitter(&rc, 100, text, sizeof(text) - 1, 0);
	expect_records(&rc, e, 3);
	recorder_release(&rc);
	CHECK_ALL(100, "{\"a\":1}\n{\"b\":2}\r\n{\"c\":3}\n");
}
END_TEST

START_TEST(only_one_cr_dropped)
{
	recorder rc;
	/* a CR inside a line stays; only one CR before the LF goes */
	static const char text[] = "a\rb\nc\r\r\nd\r\n\re\n";
	static const struct exp_rec e[] = {
		{ REC_LINE, 1, "a\rb" },
		{ REC_LINE, 2, "c\r" },
		{ REC_LINE, 3, "d" },
		{ REC_LINE, 4, "\re" },
	};

	recorder_init(&rc);
	run_splitter(&rc, 100, text, sizeof(text) - 1, 0);
	expect_records(&rc, e, 4);
	recorder_release(&rc);
	CHECK_ALL(100, "a\rb\nc\r\r\nd\r\n\re\n");
}
END_TEST

START_TEST(last_line_without_newline)
{
	recorder rc;
	static const char text[] = "one\ntwo";
	static const struct exp_rec e[] = {
		{ REC_LINE, 1, "one" },
		{ REC_LINE, 2, "two" },
	};
	static const struct exp_rec e2[] = {
		{ REC_LINE, 1, "x" },
	};

	recorder_init(&rc);
	run_splitter(&rc, 100, text, sizeof(text) - 1, 0);
	expect_records(&rc, e, 2);
	recorder_release(&rc);
	/* a final CR without LF is dropped too */
	recorder_init(&rc);
	run_splitter(&rc, 100, "x\r", 2, 0);
	expect_records(&rc, e2, 1);
	recorder_release(&rc);
	CHECK_ALL(100, "one\ntwo");
	CHECK_ALL(3, "one\ntwo\r");
	/* empty input and a lone newline give nothing */
	recorder_init(&rc);
	run_splitter(&rc, 100, "", 0, 0);
	ck_assert_uint_eq(rc.n, 0);
	recorder_release(&rc);
	recorder_init(&rc);
	run_splitter(&rc, 100, "\n", 1, 0);
	ck_assert_uint_eq(rc.n, 0);
	recorder_release(&rc);
}
END_TEST

START_TEST(blank_lines_skipped_but_counted)
{
	recorder rc;
	static const char text[] = "\n  \n\t\r\n\r\na\n \t \r \n\nb\n   ";
	static const struct exp_rec e[] = {
		{ REC_LINE, 5, "a" },
		{ REC_LINE, 8, "b" },
	};

	recorder_init(&rc);
	run_splitter(&rc, 100, text, sizeof(text) - 1, 0);
	expect_records(&rc, e, 2);
	recorder_release(&rc);
	CHECK_ALL(100, "\n  \n\t\r\n\r\na\n \t \r \n\nb\n   ");
	/* other whitespace is not blank */
	{
		static const struct exp_rec e2[] = {
			{ REC_LINE, 1, "\f" },
			{ REC_LINE, 2, "\v" },
			{ REC_LINE, 3, "\xc2\xa0" },
		};
		recorder_init(&rc);
		run_splitter(&rc, 100, "\f\n\v\n\xc2\xa0\n", 7, 0);
		expect_records(&rc, e2, 3);
		recorder_release(&rc);
	}
}
END_TEST

START_TEST(one_byte_feeds)
{
	recorder rc;
	buf text = BUF_INIT;

	for (int i = 0; i < 50; i++)
		buf_printf(&text, "{\"event_id\":\"id-%d\",\"pad\":\"%*s\"}%s", i, i, "",
			   i % 3 ? "\n" : "\r\n");
	recorder_init(&rc);
	run_splitter(&rc, 1000, text.data, text.len, 1);
	ck_assert_uint_eq(rc.n, 50);
	for (int i = 0; i < 50; i++) {
		char want[200];

		snprintf(want, sizeof(want), "{\"event_id\":\"id-%d\",\"pad\":\"%*s\"}", i, i, "");
		ck_assert_int_eq(rc.r[i].kind, REC_LINE);
		ck_assert_uint_eq(rc.r[i].lineno, (uint64_t)i + 1);
		ck_assert_uint_eq(rc.r[i].bytes.len, strlen(want));
		ck_assert(!memcmp(rc.r[i].bytes.data, want, strlen(want)));
	}
	recorder_release(&rc);
	check_all_chunkings(1000, text.data, text.len);
	buf_release(&text);
}
END_TEST

START_TEST(max_line_boundary)
{
	recorder rc;
	char line[40];

	/* exactly max_line bytes: a line, whether in one chunk or assembled */
	memset(line, 'x', 10);
	memcpy(line + 10, "\n", 1);
	for (size_t chunk = 0; chunk <= 11; chunk++) {
		recorder_init(&rc);
		run_splitter(&rc, 10, line, 11, chunk);
		ck_assert_uint_eq(rc.n, 1);
		ck_assert_int_eq(rc.r[0].kind, REC_LINE);
		ck_assert_uint_eq(rc.r[0].bytes.len, 10);
		recorder_release(&rc);
	}
	/* max_line bytes plus CRLF: still a line of max_line bytes */
	memcpy(line + 10, "\r\n", 2);
	for (size_t chunk = 0; chunk <= 12; chunk++) {
		recorder_init(&rc);
		run_splitter(&rc, 10, line, 12, chunk);
		ck_assert_uint_eq(rc.n, 1);
		ck_assert_int_eq(rc.r[0].kind, REC_LINE);
		ck_assert_uint_eq(rc.r[0].bytes.len, 10);
		recorder_release(&rc);
	}
	/* exactly max_line without a newline at the end of input */
	for (size_t chunk = 0; chunk <= 10; chunk++) {
		recorder_init(&rc);
		run_splitter(&rc, 10, line, 10, chunk);
		ck_assert_uint_eq(rc.n, 1);
		ck_assert_int_eq(rc.r[0].kind, REC_LINE);
		recorder_release(&rc);
	}
	/* one byte over: over-long, in every chunking, with or without LF/CRLF */
	memset(line, 'y', 11);
	memcpy(line + 11, "\r\n", 2);
	for (size_t chunk = 0; chunk <= 13; chunk++) {
		recorder_init(&rc);
		run_splitter(&rc, 10, line, 13, chunk);
		ck_assert_uint_eq(rc.n, 1);
		ck_assert_int_eq(rc.r[0].kind, REC_OVERLONG);
		ck_assert_uint_eq(rc.r[0].bytes.len, 11);
		ck_assert(!memcmp(rc.r[0].bytes.data, line, 11));
		recorder_release(&rc);

		recorder_init(&rc);
		run_splitter(&rc, 10, line, 11, chunk);
		ck_assert_uint_eq(rc.n, 1);
		ck_assert_int_eq(rc.r[0].kind, REC_OVERLONG);
		ck_assert_uint_eq(rc.r[0].bytes.len, 11);
		recorder_release(&rc);
	}
}
END_TEST

START_TEST(overlong_streamed)
{
	/* lines of 1000 bytes with max_line 16, fed in small chunks: the
	 * pieces concatenate to the line, several pieces were used, and the
	 * lines around it are intact */
	buf text = BUF_INIT, big = BUF_INIT;
	recorder rc;

	for (int i = 0; i < 1000; i++)
		buf_addch(&big, (char)('a' + i % 26));
	buf_addstr(&text, "short1\n");
	buf_add(&text, big.data, big.len);
	buf_addstr(&text, "\r\nshort2\n");
	buf_add(&text, big.data, big.len);
	buf_addstr(&text, "\nshort3\n");
	buf_add(&text, big.data, big.len);   /* unterminated, at the end */

	recorder_init(&rc);
	run_splitter(&rc, 16, text.data, text.len, 7);
	ck_assert_uint_eq(rc.n, 6);
	ck_assert_int_eq(rc.r[0].kind, REC_LINE);
	ck_assert_uint_eq(rc.r[0].lineno, 1);
	for (int i = 1; i < 6; i += 2) {
		ck_assert_int_eq(rc.r[i].kind, REC_OVERLONG);
		ck_assert_uint_eq(rc.r[i].lineno, (uint64_t)i + 1);
		ck_assert_uint_eq(rc.r[i].bytes.len, 1000);
		ck_assert(!memcmp(rc.r[i].bytes.data, big.data, 1000));
		ck_assert_uint_gt(rc.r[i].pieces, 1);
	}
	ck_assert_int_eq(rc.r[2].kind, REC_LINE);
	ck_assert_uint_eq(rc.r[2].lineno, 3);
	ck_assert_int_eq(rc.r[4].kind, REC_LINE);
	ck_assert_uint_eq(rc.r[4].lineno, 5);
	recorder_release(&rc);
	check_all_chunkings(16, text.data, text.len);
	buf_release(&text);
	buf_release(&big);
}
END_TEST

START_TEST(overlong_cr_handling)
{
	/* CRs inside an over-long line are kept wherever chunks split them;
	 * only the CR just before the LF is dropped */
	CHECK_ALL(4, "abcdef\rgh\r\r\nx\n");
	CHECK_ALL(4, "\r\r\r\r\r\r\rz\r\n");
	CHECK_ALL(4, "abcdefgh\r");
	CHECK_ALL(4, "abcdefgh\r\r");
	CHECK_ALL(4, "ab\rcd\ref\rgh\r\n\r\nabcdefghij\r\n");
	CHECK_ALL(5, "ab\rcd\r\r\r\rgh\rij\rkl\r\nmnop\r\n");
	CHECK_ALL(3, "abcd\r\nefgh\rijkl\r\rmnop\r\r\r\n");
}
END_TEST

START_TEST(overlong_blank_line_is_overlong)
{
	/* the length is checked first: an over-long line is over-long even if
	 * it is only whitespace, however it is fed (the streamed path cannot
	 * know it is blank until its end, and must keep its bytes) */
	CHECK_ALL(4, "a\n                          \nb\n");
	CHECK_ALL(4, "a\n \t \t \t \t \t \t \t\r\n\t\t\t\t\t\t\t\t\t\t\nb\n");
	CHECK_ALL(4, "a\n          ");
}
END_TEST

/* A pseudo-random mix of short, boundary and long lines. */
START_TEST(random_inputs_all_chunkings)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	static const char alphabet[] = "ab{}\"\\ \t\r\r\n\n\n";

	for (int round = 0; round < 60; round++) {
		char text[300];
		size_t n, max_line = 1 + (size_t)(round % 12);

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % sizeof(text));
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* no blank-only long lines here: those have their own test */
			text[i] = alphabet[x % (sizeof(alphabet) - 1)];
			if (text[i] == ' ' || text[i] == '\t')
				text[i] = 'c';
		}
		/* a long line of only CRs is blank: give it a visible byte */
		for (size_t i = 0, start = 0; i <= n; i++) {
			if (i == n || text[i] == '\n') {
				bool blank = true;

				for (size_t j = start; j < i; j++)
					if (text[j] != '\r')
						blank = false;
				if (blank && i - start > max_line)
					text[start] = 'c';
				start = i + 1;
			}
		}
		check_all_chunkings(max_line, text, n);
	}
}
END_TEST

START_TEST(callback_stops)
{
	line_splitter ls;
	recorder rc;
	static const char text[] = "a\nb\nc\nd\n";
	int r;

	recorder_init(&rc);
	rc.stop_at = 2;
	rc.stop_value = 42;
	lines_init(&ls, 100, on_line, on_overlong, &rc);
	r = lines_feed(&ls, text, sizeof(text) - 1);
	ck_assert_int_eq(r, 42);
	ck_assert_uint_eq(rc.n, 2);   /* "c" and "d" were not passed */
	lines_release(&ls);
	recorder_release(&rc);

	/* negative values too, from lines_finish */
	recorder_init(&rc);
	rc.stop_at = 2;
	rc.stop_value = -7;
	lines_init(&ls, 100, on_line, on_overlong, &rc);
	ck_assert_int_eq(lines_feed(&ls, "a\nb", 3), 0);
	ck_assert_int_eq(lines_finish(&ls), -7);
	ck_assert_uint_eq(rc.n, 2);
	lines_release(&ls);
	recorder_release(&rc);

	/* from an over-long piece */
	recorder_init(&rc);
	rc.stop_at = 1;
	rc.stop_value = 5;
	lines_init(&ls, 4, on_line, on_overlong, &rc);
	ck_assert_int_eq(lines_feed(&ls, "abcdefghij", 10), 5);
	ck_assert_uint_eq(rc.n, 1);
	ck_assert_int_eq(rc.r[0].kind, REC_OVERLONG);
	lines_release(&ls);
	recorder_release(&rc);

	/* from an assembled line (spanning chunks) */
	recorder_init(&rc);
	rc.stop_at = 1;
	rc.stop_value = 9;
	lines_init(&ls, 100, on_line, on_overlong, &rc);
	ck_assert_int_eq(lines_feed(&ls, "ab", 2), 0);
	ck_assert_int_eq(lines_feed(&ls, "c\nd\n", 4), 9);
	ck_assert_uint_eq(rc.n, 1);
	ck_assert_str_eq(rc.r[0].bytes.data, "abc");
	lines_release(&ls);
	recorder_release(&rc);
}
END_TEST

START_TEST(reset_restarts)
{
	line_splitter ls;
	recorder rc;

	recorder_init(&rc);
	lines_init(&ls, 8, on_line, on_overlong, &rc);
	ck_assert_int_eq(lines_feed(&ls, "x\ny\npartial-", 12), 0);
	lines_reset(&ls);
	ck_assert_int_eq(lines_feed(&ls, "new\n", 4), 0);
	ck_assert_int_eq(lines_finish(&ls), 0);
	ck_assert_uint_eq(rc.n, 3);
	ck_assert_str_eq(rc.r[2].bytes.data, "new");
	ck_assert_uint_eq(rc.r[2].lineno, 1);

	/* reset in the middle of an over-long line */
	lines_reset(&ls);
	ck_assert_int_eq(lines_feed(&ls, "0123456789abcdef", 16), 0);
	ck_assert(rc.in_overlong);
	rc.in_overlong = false;   /* the recorder forgets it too */
	lines_reset(&ls);
	ck_assert_int_eq(lines_feed(&ls, "ok\n0123456789\n", 14), 0);
	ck_assert_int_eq(lines_finish(&ls), 0);
	ck_assert_uint_eq(rc.n, 6);
	ck_assert_int_eq(rc.r[4].kind, REC_LINE);
	ck_assert_str_eq(rc.r[4].bytes.data, "ok");
	ck_assert_uint_eq(rc.r[4].lineno, 1);
	ck_assert_int_eq(rc.r[5].kind, REC_OVERLONG);
	ck_assert_uint_eq(rc.r[5].lineno, 2);
	ck_assert_str_eq(rc.r[5].bytes.data, "0123456789");
	ck_assert_msg(!rc.errmsg[0], "%s", rc.errmsg);

	/* finish, reset, and a second stream is numbered from 1 again,
	 * with a fresh first piece for its over-long line */
	lines_reset(&ls);
	ck_assert_int_eq(lines_feed(&ls, "0123456789", 10), 0);
	ck_assert_int_eq(lines_finish(&ls), 0);
	lines_reset(&ls);
	ck_assert_int_eq(lines_feed(&ls, "9876543210\nz", 12), 0);
	ck_assert_int_eq(lines_finish(&ls), 0);
	ck_assert_msg(!rc.errmsg[0], "%s", rc.errmsg);
	ck_assert_uint_eq(rc.n, 9);
	ck_assert_uint_eq(rc.r[7].lineno, 1);
	ck_assert_str_eq(rc.r[7].bytes.data, "9876543210");
	ck_assert_uint_eq(rc.r[8].lineno, 2);
	lines_release(&ls);
	recorder_release(&rc);
}
END_TEST

START_TEST(large_line_numbers)
{
	/* 100000 lines, numbers keep counting */
	line_splitter ls;
	recorder rc;
	buf text = BUF_INIT;

	for (int i = 0; i < 100000; i++)
		buf_addstr(&text, i % 2 ? "l\n" : "\n");
	recorder_init(&rc);
	lines_init(&ls, 10, on_line, on_overlong, &rc);
	ck_assert_int_eq(lines_feed(&ls, text.data, text.len), 0);
	ck_assert_int_eq(lines_finish(&ls), 0);
	ck_assert_uint_eq(rc.n, 50000);
	ck_assert_uint_eq(rc.r[0].lineno, 2);
	ck_assert_uint_eq(rc.r[49999].lineno, 100000);
	lines_release(&ls);
	recorder_release(&rc);
	buf_release(&text);
}
END_TEST

Suite *ndjson_suite(void)
{
	Suite *s = suite_create("ndjson");
	TCase *tc = tcase_create("ndjson");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lf_and_crlf);
	tcase_add_test(tc, only_one_cr_dropped);
	tcase_add_test(tc, last_line_without_newline);
	tcase_add_test(tc, blank_lines_skipped_but_counted);
	tcase_add_test(tc, one_byte_feeds);
	tcase_add_test(tc, max_line_boundary);
	tcase_add_test(tc, overlong_streamed);
	tcase_add_test(tc, overlong_cr_handling);
	tcase_add_test(tc, overlong_blank_line_is_overlong);
	tcase_add_test(tc, random_inputs_all_chunkings);
	tcase_add_test(tc, callback_stops);
	tcase_add_test(tc, reset_restarts);
	tcase_add_test(tc, large_line_numbers);
	suite_add_tcase(s, tc);
	return s;
}
