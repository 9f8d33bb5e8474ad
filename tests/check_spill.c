/*
 * check_spill.c - the memory-then-disk byte log: records below and above
 * the memory cap, records spanning the boundary and the replay chunks,
 * reset and reuse, raw bytes, stopping, and I/O errors.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spill.h"
#include "util.h"

static char basedir[64];

static void base_setup(void)
{
	snprintf(basedir, sizeof(basedir), "/tmp/evshare-spill-XXXXXX");
	if (!mkdtemp(basedir))
		basedir[0] = '\0';
}

static void base_teardown(void)
{
	DIR *d;
	struct dirent *de;

	if (!basedir[0])
		return;
	d = opendir(basedir);
	if (d) {
		while ((de = readdir(d))) {
			char *p;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			p = xasprintf("%s/%s", basedir, de->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(basedir);
}

/* Expected records, kept independently of the spill. */
typedef struct expect {
	dedup_fp *fp;
	char **line;
	size_t *len;
	size_t n, alloc_fp, alloc_line, alloc_len;
} expect;

static void expect_add(expect *e, dedup_fp fp, const char *line, size_t n)
{
	e->fp = xgrow(e->fp, e->n + 1, &e->alloc_fp, sizeof(*e->fp));
	e->line = xgrow(e->line, e->n + 1, &e->alloc_line, sizeof(*e->line));
	e->len = xgrow(e->len, e->n + 1, &e->alloc_len, sizeof(*e->len));
	e->fp[e->n] = fp;
	e->line[e->n] = xmalloc(n ? n : 1);
	memcpy(e->line[e->n], line, n);
	e->len[e->n] = n;
	e->n++;
}

static void expect_free(expect *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->line[i]);
	free(e->fp);
	free(e->line);
	free(e->len);
	memset(e, 0, sizeof(*e));
}

struct checker {
	const expect *e;
	size_t seen;
	size_t stop_at;       /* return 7 when this many were seen (0: never) */
	char msg[200];
};

static int check_record(void *ud, dedup_fp fp, const char *line, size_t n)
{
	struct checker *c = ud;
	size_t i = c->seen++;

	if (c->msg[0])
		return 0;
	if (i >= c->e->n) {
		snprintf(c->msg, sizeof(c->msg), "extra record %zu", i);
	} else if (fp.hi != c->e->fp[i].hi || fp.lo != c->e->fp[i].lo) {
		snprintf(c->msg, sizeof(c->msg), "record %zu: fingerprint differs", i);
	} else if (n != c->e->len[i] || (n && memcmp(line, c->e->line[i], n))) {
		snprintf(c->msg, sizeof(c->msg), "record %zu: %zu bytes, want %zu", i, n,
			 c->e->len[i]);
	}
	if (c->stop_at && c->seen == c->stop_at)
		return 7;
	return 0;
}

static void assert_replay(spill *s, const expect *e)
{
	struct checker c = { e, 0, 0, "" };

	ck_assert_int_eq(spill_replay_records(s, check_record, &c), 0);
	ck_assert_msg(!c.msg[0], "%s", c.msg);
	ck_assert_uint_eq(c.seen, e->n);
	ck_assert_uint_eq(s->records, e->n);
}

static uint64_t rng = 0x243f6a8885a308d3ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Add a record with random content of n bytes to both. */
static void add_random(spill *s, expect *e, size_t n)
{
	char *line = xmalloc(n ? n : 1);
	dedup_fp fp = { next_rand(), next_rand() };

	for (size_t i = 0; i < n; i++)
		line[i] = (char)next_rand();
	ck_assert_int_eq(spill_add_record(s, fp, line, n), ES_OK);
	expect_add(e, fp, line, n);
	free(line);
}

static unsigned pending_files(void)
{
	DIR *d = opendir(basedir);
	struct dirent *de;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

START_TEST(records_in_memory)
{
	spill s;
	expect e = { 0 };

	spill_init(&s, basedir, 1 << 20);
	ck_assert(spill_empty(&s));
	for (int i = 0; i < 200; i++)
		add_random(&s, &e, (size_t)(next_rand() % 300));
	add_random(&s, &e, 0);   /* an empty line */
	ck_assert(!spill_empty(&s));
	ck_assert_int_eq(s.fd, -1);
	ck_assert_uint_eq(s.file_bytes, 0);
	assert_replay(&s, &e);
	/* replay twice gives the same */
	assert_replay(&s, &e);
	spill_release(&s);
	expect_free(&e);
}
END_TEST

START_TEST(records_on_disk)
{
	spill s;
	expect e = { 0 };

	spill_init(&s, basedir, 0);
	for (int i = 0; i < 500; i++)
		add_random(&s, &e, (size_t)(next_rand() % 2000));
	ck_assert_int_ge(s.fd, 0);
	ck_assert_uint_gt(s.file_bytes, 0);
	ck_assert_uint_eq(s.mem.len, 0);
	/* the temporary file is unlinked: nothing in the directory */
	ck_assert_uint_eq(pending_files(), 0);
	assert_replay(&s, &e);
	spill_release(&s);
	expect_free(&e);
}
END_TEST

START_TEST(record_spanning_memory_and_file)
{
	/* header 1 (24) + "abc" + header 2 (24) fill a 51-byte memory cap; the
	 * second line goes to the file */
	spill s;
	expect e = { 0 };
	dedup_fp f1 = { 1, 2 }, f2 = { 3, 4 }, f3 = { 5, 6 };

	spill_init(&s, basedir, 51);
	ck_assert_int_eq(spill_add_record(&s, f1, "abc", 3), ES_OK);
	expect_add(&e, f1, "abc", 3);
	ck_assert_int_eq(spill_add_record(&s, f2, "defgh", 5), ES_OK);
	expect_add(&e, f2, "defgh", 5);
	ck_assert_int_eq(spill_add_record(&s, f3, "i", 1), ES_OK);
	expect_add(&e, f3, "i", 1);
	ck_assert_uint_eq(s.mem.len, 51);
	ck_assert_uint_eq(s.file_bytes, 5 + 24 + 1);
	assert_replay(&s, &e);
	spill_release(&s);
	expect_free(&e);
}
END_TEST

START_TEST(every_cap_small_records)
{
	/* many caps: the memory/file boundary falls at every position of a
	 * header and of a line */
	for (size_t cap = 0; cap < 160; cap++) {
		spill s;
		expect e = { 0 };

		spill_init(&s, basedir, cap);
		for (int i = 0; i < 12; i++)
			add_random(&s, &e, (size_t)(next_rand() % 40));
		assert_replay(&s, &e);
		spill_release(&s);
		expect_free(&e);
	}
}
END_TEST

START_TEST(records_across_replay_chunks)
{
	/* the file is read back in 256 KiB chunks: put a header across the
	 * first chunk boundary, a header ending exactly on the second, and a
	 * line longer than a chunk */
	spill s;
	expect e = { 0 };
	const size_t chunk = 256 * 1024, head = 24;

	spill_init(&s, basedir, 0);
	add_random(&s, &e, chunk - 10 - head);            /* next header at chunk-10 */
	ck_assert_uint_eq(s.file_bytes, chunk - 10);
	add_random(&s, &e, chunk - 38);                   /* ends at 2*chunk-24 */
	/* so the third header ends at 2*chunk */
	ck_assert_uint_eq(s.file_bytes + head, 2 * chunk + 0);
	add_random(&s, &e, 3 * chunk + 5);                /* a long line */
	add_random(&s, &e, 0);
	for (int i = 0; i < 2000; i++)
		add_random(&s, &e, (size_t)(next_rand() % 1000));
	assert_replay(&s, &e);

	/* some in memory first, the rest on disk */
	spill_release(&s);
	expect_free(&e);
	spill_init(&s, basedir, 100000);
	for (int i = 0; i < 3000; i++)
		add_random(&s, &e, (size_t)(next_rand() % 1000));
	ck_assert_uint_gt(s.mem.len, 0);
	ck_assert_uint_gt(s.file_bytes, 0);
	assert_replay(&s, &e);
	spill_release(&s);
	expect_free(&e);
}
END_TEST

START_TEST(reset_and_reuse)
{
	spill s;
	expect e = { 0 };

	spill_init(&s, basedir, 1000);
	for (int i = 0; i < 100; i++)
		add_random(&s, &e, 100);
	ck_assert_uint_gt(s.file_bytes, 0);
	assert_replay(&s, &e);
	expect_free(&e);

	spill_reset(&s);
	ck_assert(spill_empty(&s));
	ck_assert_uint_eq(s.records, 0);
	{
		struct checker c = { &e, 0, 0, "" };

		ck_assert_int_eq(spill_replay_records(&s, check_record, &c), 0);
		ck_assert_uint_eq(c.seen, 0);
	}
	/* reuse: memory first again, then the (truncated) file */
	for (int i = 0; i < 3; i++)
		add_random(&s, &e, 10);
	ck_assert_uint_eq(s.file_bytes, 0);
	for (int i = 0; i < 50; i++)
		add_random(&s, &e, 77);
	ck_assert_uint_gt(s.file_bytes, 0);
	assert_replay(&s, &e);
	expect_free(&e);

	/* a reset without anything spilled, and one more round */
	spill_reset(&s);
	add_random(&s, &e, 5);
	assert_replay(&s, &e);
	spill_release(&s);
	expect_free(&e);
}
END_TEST

static int collect_bytes(void *ud, const char *p, size_t n)
{
	buf *b = ud;

	ck_assert(buf_add(b, p, n));
	return 0;
}

START_TEST(raw_bytes_replay)
{
	spill s;
	buf want = BUF_INIT, got = BUF_INIT;

	spill_init(&s, basedir, 1000);
	for (int i = 0; i < 3000; i++) {
		char piece[300];
		size_t n = (size_t)(next_rand() % sizeof(piece));

		for (size_t j = 0; j < n; j++)
			piece[j] = (char)next_rand();
		ck_assert_int_eq(spill_add(&s, piece, n), ES_OK);
		buf_add(&want, piece, n);
	}
	ck_assert_uint_gt(s.file_bytes, 256 * 1024);
	ck_assert_int_eq(spill_replay_bytes(&s, collect_bytes, &got), 0);
	ck_assert_uint_eq(got.len, want.len);
	ck_assert(!memcmp(got.data, want.data, want.len));
	ck_assert_uint_eq(s.mem.len + s.file_bytes, want.len);
	ck_assert_uint_le(s.mem.len, 1000);
	spill_release(&s);
	buf_release(&want);
	buf_release(&got);
}
END_TEST

static int stop_bytes(void *ud, const char *p, size_t n)
{
	int *calls = ud;

	(void)p;
	(void)n;
	return ++*calls == 2 ? -3 : 0;
}

START_TEST(replay_stops)
{
	spill s;
	expect e = { 0 };
	struct checker c;
	int calls = 0;

	spill_init(&s, basedir, 500);
	for (int i = 0; i < 100; i++)
		add_random(&s, &e, 50);
	memset(&c, 0, sizeof(c));
	c.e = &e;
	c.stop_at = 3;
	ck_assert_int_eq(spill_replay_records(&s, check_record, &c), 7);
	ck_assert_uint_eq(c.seen, 3);
	ck_assert_msg(!c.msg[0], "%s", c.msg);
	/* on disk too: stop at a record read back from the file */
	memset(&c, 0, sizeof(c));
	c.e = &e;
	c.stop_at = 90;
	ck_assert_int_eq(spill_replay_records(&s, check_record, &c), 7);
	ck_assert_uint_eq(c.seen, 90);
	/* bytes: memory is one call, the file the next */
	ck_assert_int_eq(spill_replay_bytes(&s, stop_bytes, &calls), -3);
	ck_assert_int_eq(calls, 2);
	spill_release(&s);
	expect_free(&e);
}
END_TEST

START_TEST(unwritable_dir)
{
	spill s;
	dedup_fp fp = { 1, 1 };

	spill_init(&s, "/nonexistent/evshare/spill", 10);
	ck_assert_int_eq(spill_add_record(&s, fp, "fits?", 5), ES_ERR_IO);
	spill_release(&s);
	/* below the cap nothing touches the disk */
	spill_init(&s, "/nonexistent/evshare/spill", 1000);
	ck_assert_int_eq(spill_add_record(&s, fp, "fits", 4), ES_OK);
	spill_release(&s);
}
END_TEST

Suite *spill_suite(void)
{
	Suite *s = suite_create("spill");
	TCase *tc = tcase_create("spill");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_test(tc, records_in_memory);
	tcase_add_test(tc, records_on_disk);
	tcase_add_test(tc, record_spanning_memory_and_file);
	tcase_add_test(tc, every_cap_small_records);
	tcase_add_test(tc, records_across_replay_chunks);
	tcase_add_test(tc, reset_and_reuse);
	tcase_add_test(tc, raw_bytes_replay);
	tcase_add_test(tc, replay_stops);
	tcase_add_test(tc, unwritable_dir);
	suite_add_tcase(s, tc);
	return s;
}
