/*
 * check_sink.c - one subscriber's output for a run, to a file://
 * destination in a temporary directory: order, keys, dedup, rotation at
 * max_object_bytes, {source} splitting, no empty objects, determinism;
 * and, through a destination that takes uploads in steps, what the sink's
 * putter thread does with them.
 *
 * Objects are read back from the destination directory and decompressed
 * with zlib directly.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "config.h"
#include "dedup.h"
#include "gz.h"
#include "sink.h"
#include "store.h"
#include "util.h"
#include "zpool.h"

#define RUN_ID "20261127T004612Z-1a2b3c4d"
#define RUN_START 1795740372000LL   /* 2026-11-27T00:46:12Z */

static char basedir[64];
static char tmpdir[128];

static void remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			char *sub;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			sub = xasprintf("%s/%s", path, de->d_name);
			remove_tree(sub);
			free(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static void base_setup(void)
{
	snprintf(basedir, sizeof(basedir), "/tmp/evshare-sink-XXXXXX");
	if (!mkdtemp(basedir))
		basedir[0] = '\0';
}

static void base_teardown(void)
{
	if (basedir[0])
		remove_tree(basedir);
}

static void new_tmpdir(void)
{
	ck_assert(basedir[0] != '\0');
	snprintf(tmpdir, sizeof(tmpdir), "%s/t-XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* A test bench: config, destination store, spool directory. */
typedef struct bench {
	config *cfg;
	store *dest;
	char *dest_dir;
	char *spool;
} bench;

/* `extra` is added to the additional subscriber's object, whose org_id
 * is `org`. */
static void bench_init_as(bench *b, const char *dest_name, const char *org,
			  const char *extra)
{
	char *text;
	buf err = BUF_INIT;

	b->dest_dir = xasprintf("%s/%s", tmpdir, dest_name);
	b->spool = xasprintf("%s/spool-%s", tmpdir, dest_name);
	ck_assert_int_eq(mkdir_p(b->spool, 0755), 0);
	text = xasprintf("{\"state_dir\":\"%s/state\","
			 "\"direct_subscribers\":[{\"org_id\":\"SRC-a\",\"source\":\"file:///in/a/\"},"
			 "{\"org_id\":\"SRC-b\",\"source\":\"file:///in/b/\"}],"
			 "\"additional_subscribers\":[{\"org_id\":\"%s\",\"links\":[\"SRC-a\",\"SRC-b\"],"
			 "\"destination\":\"file://%s/\"%s%s}]}",
			 tmpdir, org, b->dest_dir, extra ? "," : "", extra ? extra : "");
	ck_assert_msg(config_parse(text, strlen(text), "test.json", tmpdir, &b->cfg, &err) == ES_OK,
		      "config: %s", err.data ? err.data : "");
	ck_assert_int_eq(store_open(&b->cfg->additional[0].destination, &b->dest), ES_OK);
	buf_release(&err);
	free(text);
}

static void bench_init(bench *b, const char *dest_name, const char *extra)
{
	bench_init_as(b, dest_name, "SUB-1", extra);
}

static void bench_release(bench *b)
{
	store_free(b->dest);
	config_free(b->cfg);
	free(b->dest_dir);
	free(b->spool);
}

static zpool *test_pool;

static void sink_start(sink *s, bench *b)
{
	if (!test_pool)
		test_pool = zpool_new(2, 6);
	sink_init(s, &b->cfg->additional[0], b->dest, test_pool, RUN_ID, RUN_START,
		  b->spool, 1 << 20);
}

/* Offsets where each gzip member of raw starts (zlib, member by member). */
static size_t member_starts(const buf *raw, size_t *starts, size_t max)
{
	size_t n = 0, off = 0;
	unsigned char tmp[65536];

	while (off < raw->len && n < max) {
		z_stream zs;
		int zr;

		memset(&zs, 0, sizeof(zs));
		ck_assert_int_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
		zs.next_in = (unsigned char *)raw->data + off;
		zs.avail_in = (uInt)(raw->len - off);
		do {
			zs.next_out = tmp;
			zs.avail_out = sizeof(tmp);
			zr = inflate(&zs, Z_NO_FLUSH);
		} while (zr == Z_OK);
		ck_assert_int_eq(zr, Z_STREAM_END);
		starts[n++] = off;
		off += zs.total_in;
		inflateEnd(&zs);
	}
	return n;
}

static dedup_fp fp_of(const char *id)
{
	return dedup_fingerprint(id, strlen(id));
}

static void write_line(sink *s, const char *source, const char *id, const char *line)
{
	ck_assert_int_eq(sink_write(s, source, fp_of(id), line, strlen(line)), ES_OK);
}

/* Gunzip exactly one member that fills `in`; false if not. */
/* Decompress a whole object: one or more complete gzip members. */
static bool gunzip_member(const buf *in, buf *out)
{
	size_t off = 0;
	unsigned char tmp[16384];

	if (!in->len)
		return false;
	while (off < in->len) {
		z_stream zs;
		int zr = Z_OK;

		memset(&zs, 0, sizeof(zs));
		ck_assert_int_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
		zs.next_in = (unsigned char *)in->data + off;
		zs.avail_in = (uInt)(in->len - off);
		while (zr == Z_OK) {
			zs.next_out = tmp;
			zs.avail_out = sizeof(tmp);
			zr = inflate(&zs, Z_NO_FLUSH);
			buf_add(out, tmp, sizeof(tmp) - zs.avail_out);
		}
		off += zs.total_in;
		inflateEnd(&zs);
		if (zr != Z_STREAM_END)
			return false;
	}
	return true;
}

/* All regular files under dir, relative paths, sorted. */
static void walk(const char *dir, const char *rel, char ***out, size_t *n, size_t *alloc)
{
	char *path = *rel ? xasprintf("%s/%s", dir, rel) : xstrdup(dir);
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d) {
		free(path);
		return;
	}
	while ((de = readdir(d))) {
		char *sub, *full;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		sub = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		full = xasprintf("%s/%s", dir, sub);
		ck_assert_int_eq(lstat(full, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			walk(dir, sub, out, n, alloc);
			free(sub);
		} else {
			*out = xgrow(*out, *n + 1, alloc, sizeof(**out));
			(*out)[(*n)++] = sub;
		}
		free(full);
	}
	closedir(d);
	free(path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct objects {
	char **keys;
	size_t n, alloc;
} objects;

static void list_objects(const char *dir, objects *o)
{
	memset(o, 0, sizeof(*o));
	walk(dir, "", &o->keys, &o->n, &o->alloc);
	if (o->n)
		qsort(o->keys, o->n, sizeof(*o->keys), cmp_str);
}

static void objects_free(objects *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->keys[i]);
	free(o->keys);
}

static void read_object(const char *dir, const char *key, buf *raw, buf *plain)
{
	char *p = xasprintf("%s/%s", dir, key);

	ck_assert_int_eq(read_file(p, raw, 64 << 20), 0);
	ck_assert_msg(gunzip_member(raw, plain), "'%s' is not whole gzip members", key);
	free(p);
}

/* Do the objects, in key order, decompress to exactly `want`? */
static bool objects_hold(const char *dir, const objects *o, const buf *want)
{
	buf all = BUF_INIT;
	bool same;

	for (size_t i = 0; i < o->n; i++) {
		buf raw = BUF_INIT, plain = BUF_INIT;

		read_object(dir, o->keys[i], &raw, &plain);
		buf_add(&all, plain.data, plain.len);
		buf_release(&raw);
		buf_release(&plain);
	}
	same = all.len == want->len && (!all.len || !memcmp(all.data, want->data, all.len));
	buf_release(&all);
	return same;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* --- tests ------------------------------------------------------------ */

/* End the output and wait until its objects are put. */
static es_result finish(sink *s)
{
	es_result r = sink_finish(s);

	return r != ES_OK ? r : sink_wait(s);
}

START_TEST(lines_in_order_one_object)
{
	static const unsigned char header[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255 };
	bench b;
	sink s;
	objects o;
	buf want = BUF_INIT, raw = BUF_INIT, plain = BUF_INIT;
	char *url;

	new_tmpdir();
	bench_init(&b, "dest", NULL);
	sink_start(&s, &b);
	for (int i = 0; i < 10; i++) {
		char id[16], line[128];

		snprintf(id, sizeof(id), "e-%d", i);
		snprintf(line, sizeof(line),
			 "{\"event_id\":\"%s\",\"org_id\":\"SRC-a\",\"data\":{\"i\":%d}}", id, i);
		write_line(&s, "SRC-a", id, line);
		buf_printf(&want, "%s\n", line);
	}
	ck_assert_int_eq(finish(&s), ES_OK);
	ck_assert_uint_eq(s.matched, 10);
	ck_assert_uint_eq(s.duplicates, 0);
	ck_assert_uint_eq(s.written, 10);
	ck_assert_uint_eq(s.nobjects, 1);

	list_objects(b.dest_dir, &o);
	ck_assert_uint_eq(o.n, 1);
	ck_assert_str_eq(o.keys[0], "SUB-1/2026/11/27/" RUN_ID "-000001.ndjson.gz");
	url = xasprintf("file://%s/SUB-1/2026/11/27/" RUN_ID "-000001.ndjson.gz", b.dest_dir);
	ck_assert_str_eq(s.objects[0], url);
	free(url);
	read_object(b.dest_dir, o.keys[0], &raw, &plain);
	ck_assert(!memcmp(raw.data, header, 10));
	ck_assert_uint_eq(s.bytes_out, raw.len);
	ck_assert_uint_eq(plain.len, want.len);
	ck_assert(!memcmp(plain.data, want.data, want.len));
	/* the spool file is gone once the object is put */
	ck_assert_uint_eq(count_entries(b.spool), 0);

	objects_free(&o);
	buf_release(&want);
	buf_release(&raw);
	buf_release(&plain);
	sink_release(&s);
	bench_release(&b);
}
END_TEST

/*
 * Two subscribers whose outputs would share a key (a configuration the
 * check refuses; here two configs, each valid alone): the run's shared
 * claims let the first one's object stand and fail the second, which puts
 * nothing over it.
 */
START_TEST(two_sinks_never_share_an_object)
{
	static const char *fmt = "\"key_format\":\"{run_id}-{seq}.ndjson.gz\"";
	bench b1, b2;
	sink s1, s2;
	sink_keys *keys = sink_keys_new();
	objects o;
	buf raw = BUF_INIT, plain = BUF_INIT;
	const char *l1 = "{\"event_id\":\"e-1\",\"org_id\":\"SRC-a\",\"for\":\"SUB-1\"}";
	const char *l2 = "{\"event_id\":\"e-2\",\"org_id\":\"SRC-a\",\"for\":\"SUB-2\"}";

	new_tmpdir();
	bench_init_as(&b1, "dest", "SUB-1", fmt);
	bench_init_as(&b2, "dest", "SUB-2", fmt);
	sink_start(&s1, &b1);
	sink_start(&s2, &b2);
	s1.keys = s2.keys = keys;
	write_line(&s1, "SRC-a", "e-1", l1);
	write_line(&s2, "SRC-a", "e-2", l2);
	ck_assert_int_eq(finish(&s1), ES_OK);
	ck_assert_int_ne(finish(&s2), ES_OK);
	ck_assert_uint_eq(s2.nobjects, 0);
	list_objects(b1.dest_dir, &o);
	ck_assert_uint_eq(o.n, 1);
	read_object(b1.dest_dir, o.keys[0], &raw, &plain);
	ck_assert_uint_eq(plain.len, strlen(l1) + 1);
	ck_assert(!memcmp(plain.data, l1, strlen(l1)));
	objects_free(&o);
	buf_release(&raw);
	buf_release(&plain);
	sink_release(&s1);
	sink_release(&s2);
	sink_keys_free(keys);
	bench_release(&b1);
	bench_release(&b2);
}
END_TEST

START_TEST(dedup_first_occurrence_wins)
{
	static const struct { const char *id, *line; } in[] = {
		{ "a", "{\"event_id\":\"a\",\"v\":1}" },
		{ "b", "{\"event_id\":\"b\",\"v\":1}" },
		{ "a", "{\"event_id\":\"a\",\"v\":2}" },
		{ "c", "{\"event_id\":\"c\",\"v\":1}" },
		{ "b", "{\"event_id\":\"b\",\"v\":2}" },
		{ "a", "{\"event_id\":\"a\",\"v\":3}" },
	};
	for (int pass = 0; pass < 2; pass++) {
		bench b;
		sink s;
		objects o;
		buf raw = BUF_INIT, plain = BUF_INIT, want = BUF_INIT;

		new_tmpdir();
		bench_init(&b, "dest", pass ? "\"dedup\":false" : NULL);
		ck_assert_int_eq(b.cfg->additional[0].dedup, pass == 0);
		sink_start(&s, &b);
		for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
			write_line(&s, i % 2 ? "SRC-b" : "SRC-a", in[i].id, in[i].line);
			if (pass == 1 || i == 0 || i == 1 || i == 3)
				buf_printf(&want, "%s\n", in[i].line);
		}
		ck_assert_int_eq(finish(&s), ES_OK);
		ck_assert_uint_eq(s.matched, 6);
		ck_assert_uint_eq(s.duplicates, pass ? 0 : 3);
		ck_assert_uint_eq(s.written, pass ? 6 : 3);
		list_objects(b.dest_dir, &o);
		ck_assert_uint_eq(o.n, 1);
		read_object(b.dest_dir, o.keys[0], &raw, &plain);
		ck_assert_uint_eq(plain.len, want.len);
		ck_assert(!memcmp(plain.data, want.data, want.len));
		objects_free(&o);
		buf_release(&raw);
		buf_release(&plain);
		buf_release(&want);
		sink_release(&s);
		bench_release(&b);
	}
}
END_TEST

/* ~200 lines of pseudo-random hex (compresses to about half). */
static void make_lines(char ***lines, size_t *n, uint64_t seed)
{
	uint64_t x = seed;

	*n = 200;
	*lines = xcalloc(*n, sizeof(**lines));
	for (size_t i = 0; i < *n; i++) {
		buf b = BUF_INIT;
		size_t len = 40 + (size_t)(i * 37 % 160);

		buf_printf(&b, "{\"event_id\":\"id-%zu\",\"data\":\"", i);
		for (size_t j = 0; j < len; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf_addch(&b, "0123456789abcdef"[x & 15]);
		}
		buf_addstr(&b, "\"}");
		(*lines)[i] = buf_detach(&b, NULL);
	}
}

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

START_TEST(rotation_at_max_object_bytes)
{
	bench b;
	sink s;
	objects o;
	char **lines;
	size_t n, maxline = 0;
	buf all = BUF_INIT, want = BUF_INIT;

	new_tmpdir();
	bench_init(&b, "dest", "\"max_object_bytes\":1024");
	ck_assert_uint_eq(b.cfg->additional[0].max_object_bytes, 1024);
	make_lines(&lines, &n, 0x1234567887654321ULL);
	sink_start(&s, &b);
	for (size_t i = 0; i < n; i++) {
		char id[32];

		snprintf(id, sizeof(id), "id-%zu", i);
		write_line(&s, "SRC-a", id, lines[i]);
		buf_printf(&want, "%s\n", lines[i]);
		if (strlen(lines[i]) + 1 > maxline)
			maxline = strlen(lines[i]) + 1;
	}
	ck_assert_int_eq(finish(&s), ES_OK);
	list_objects(b.dest_dir, &o);
	ck_assert_uint_ge(o.n, 4);
	ck_assert_uint_eq(o.n, s.nobjects);
	for (size_t i = 0; i < o.n; i++) {
		buf raw = BUF_INIT, plain = BUF_INIT;
		char want_key[128];

		snprintf(want_key, sizeof(want_key), "SUB-1/2026/11/27/" RUN_ID "-%06zu.ndjson.gz",
			 i + 1);
		ck_assert_str_eq(o.keys[i], want_key);
		read_object(b.dest_dir, o.keys[i], &raw, &plain);
		if (i + 1 < o.n) {
			/* at or past the limit, by less than one small final
			 * member (at most 4 KiB of input and a line) */
			ck_assert_msg(raw.len >= 1024, "object %zu has %zu bytes", i + 1, raw.len);
			ck_assert_msg(raw.len <= 1024 + gz_member_bound(4096 + maxline),
				      "object %zu has %zu bytes", i + 1, raw.len);
		}
		/* each object holds whole lines */
		ck_assert(plain.len > 0 && plain.data[plain.len - 1] == '\n');
		buf_add(&all, plain.data, plain.len);
		buf_release(&raw);
		buf_release(&plain);
	}
	ck_assert_uint_eq(all.len, want.len);
	ck_assert(!memcmp(all.data, want.data, want.len));
	objects_free(&o);
	free_lines(lines, n);
	buf_release(&all);
	buf_release(&want);
	sink_release(&s);
	bench_release(&b);
}
END_TEST

START_TEST(rotation_is_at_the_first_boundary)
{
	/* an object closes at the first block boundary at or past the limit:
	 * without its last gzip member it would be below the limit */
	bench b;
	sink s;
	objects o;
	char **lines;
	size_t n;

	new_tmpdir();
	bench_init(&b, "dest", "\"max_object_bytes\":2048");
	make_lines(&lines, &n, 99);
	sink_start(&s, &b);
	for (size_t i = 0; i < n; i++) {
		char id[32];

		snprintf(id, sizeof(id), "id-%zu", i);
		write_line(&s, "SRC-a", id, lines[i]);
	}
	ck_assert_int_eq(finish(&s), ES_OK);
	list_objects(b.dest_dir, &o);
	ck_assert_uint_ge(o.n, 2);
	for (size_t i = 0; i + 1 < o.n; i++) {
		buf raw = BUF_INIT, plain = BUF_INIT;
		size_t starts[4096], m;

		read_object(b.dest_dir, o.keys[i], &raw, &plain);
		m = member_starts(&raw, starts, 4096);
		ck_assert_uint_ge(m, 1);
		ck_assert_uint_ge(raw.len, 2048);
		ck_assert_msg(starts[m - 1] < 2048, "object %zu: %zu bytes before its last "
			      "member: it should have closed a member earlier", i + 1,
			      starts[m - 1]);
		buf_release(&raw);
		buf_release(&plain);
	}
	objects_free(&o);
	free_lines(lines, n);
	sink_release(&s);
	bench_release(&b);
}
END_TEST

START_TEST(source_in_key_splits)
{
	bench b;
	sink s;
	objects o;
	static const struct { const char *src, *id, *line; } in[] = {
		{ "SRC-a", "1", "{\"event_id\":\"1\"}" },
		{ "SRC-a", "2", "{\"event_id\":\"2\"}" },
		{ "SRC-b", "3", "{\"event_id\":\"3\"}" },
		{ "SRC-b", "1", "{\"event_id\":\"1\",\"dup\":true}" },   /* a duplicate */
		{ "SRC-a", "4", "{\"event_id\":\"4\"}" },
	};
	static const struct { const char *key, *content; } want[] = {
		{ "SUB-1/SRC-a/" RUN_ID "-000001.gz", "{\"event_id\":\"1\"}\n{\"event_id\":\"2\"}\n" },
		{ "SUB-1/SRC-a/" RUN_ID "-000003.gz", "{\"event_id\":\"4\"}\n" },
		{ "SUB-1/SRC-b/" RUN_ID "-000002.gz", "{\"event_id\":\"3\"}\n" },
	};

	new_tmpdir();
	bench_init(&b, "dest", "\"key_format\":\"{subscriber}/{source}/{run_id}-{seq}.gz\"");
	sink_start(&s, &b);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		write_line(&s, in[i].src, in[i].id, in[i].line);
	ck_assert_int_eq(finish(&s), ES_OK);
	ck_assert_uint_eq(s.duplicates, 1);
	list_objects(b.dest_dir, &o);
	ck_assert_uint_eq(o.n, 3);
	for (size_t i = 0; i < 3; i++) {
		buf raw = BUF_INIT, plain = BUF_INIT;

		ck_assert_str_eq(o.keys[i], want[i].key);
		read_object(b.dest_dir, o.keys[i], &raw, &plain);
		ck_assert_uint_eq(plain.len, strlen(want[i].content));
		ck_assert(!memcmp(plain.data, want[i].content, plain.len));
		buf_release(&raw);
		buf_release(&plain);
	}
	objects_free(&o);
	sink_release(&s);
	bench_release(&b);

	/* without {source}, a change of source does not close the object */
	new_tmpdir();
	bench_init(&b, "dest", NULL);
	sink_start(&s, &b);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		write_line(&s, in[i].src, in[i].id, in[i].line);
	ck_assert_int_eq(finish(&s), ES_OK);
	list_objects(b.dest_dir, &o);
	ck_assert_uint_eq(o.n, 1);
	objects_free(&o);
	sink_release(&s);
	bench_release(&b);
}
END_TEST

START_TEST(nothing_written_no_object)
{
	bench b;
	sink s;
	objects o;

	new_tmpdir();
	bench_init(&b, "dest", NULL);
	sink_start(&s, &b);
	ck_assert_int_eq(finish(&s), ES_OK);
	ck_assert_uint_eq(s.nobjects, 0);
	ck_assert_uint_eq(s.written, 0);
	list_objects(b.dest_dir, &o);
	ck_assert_uint_eq(o.n, 0);
	objects_free(&o);
	ck_assert_uint_eq(count_entries(b.spool), 0);
	sink_release(&s);
	bench_release(&b);
}
END_TEST

/* Read a whole file (or the first n bytes of it) into out. */
static void read_prefix(const char *path, uint64_t n, buf *out)
{
	FILE *f = fopen(path, "rb");
	char chunk[4096];
	size_t got;

	ck_assert_ptr_nonnull(f);
	buf_reset(out);
	while (out->len < n && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(out, chunk, n - out->len < got ? (size_t)(n - out->len) : got);
	fclose(f);
}

/* What zstream_growing() shows of the file being written is a prefix of
 * the file as it ends, never shrinking, with the file's number and tag. */
START_TEST(growing_file_is_a_prefix_of_the_finished_one)
{
	static const char tag_a[] = "SRC-a", tag_b[] = "SRC-b";
	zpool *pool = zpool_new(2, 4);
	char *prefix;
	zstream *z;
	zfile *files = NULL;
	buf snap = BUF_INIT, whole = BUF_INIT;
	uint64_t last = 0;
	unsigned seen = 0, seq;
	size_t n;

	new_tmpdir();
	prefix = xasprintf("%s/z-", tmpdir);
	z = zstream_new(pool, 1, 1ull << 30, prefix);
	ck_assert(!zstream_growing(z, &seq, &last, &(const void *){ NULL }));
	for (int i = 0; i < 40; i++) {
		buf block = BUF_INIT;
		uint64_t bytes;
		const void *tag;
		char *data;
		size_t len;

		for (int k = 0; k < 2000; k++)
			buf_printf(&block, "{\"n\":%d,\"k\":%d,\"x\":\"%08x\"}\n", i, k,
				   (unsigned)(i * 7919 + k * 104729));
		if (i == 20)
			zstream_cut(z);       /* file 2 from here */
		data = buf_detach(&block, &len);
		zstream_submit(z, data, len, i < 20 ? tag_a : tag_b);
		if (!zstream_growing(z, &seq, &bytes, &tag))
			continue;
		ck_assert_ptr_eq(tag, seq == 1 ? tag_a : tag_b);
		if (seq == 1) {
			char *path = zstream_file_path(z, 1);

			ck_assert_uint_ge(bytes, last);
			last = bytes;
			read_prefix(path, bytes, &snap);
			ck_assert_uint_eq(snap.len, bytes);
			seen++;
			free(path);
		}
	}
	ck_assert_int_eq(zstream_finish(z), 0);
	ck_assert(!zstream_growing(z, &seq, &last, &(const void *){ NULL }));
	n = zstream_take(z, &files);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(files[0].seq, 1);
	ck_assert_ptr_eq(files[0].tag, tag_a);
	ck_assert_ptr_eq(files[1].tag, tag_b);
	/* a submit waits for room (4 blocks in the pool), so file 1 was seen
	 * growing at least from its 5th block on */
	ck_assert_uint_ge(seen, 15);
	read_prefix(files[0].path, UINT64_MAX, &whole);
	ck_assert_uint_ge(whole.len, snap.len);
	ck_assert_int_eq(memcmp(whole.data, snap.data, snap.len), 0);
	for (size_t i = 0; i < n; i++) {
		unlink(files[i].path);
		zfile_release(&files[i]);
	}
	free(files);
	zstream_free(z);
	zpool_free(pool);
	buf_release(&snap);
	buf_release(&whole);
	free(prefix);
}
END_TEST

/*
 * Waiting for a thread: on the condition it signals, never for a time.
 * FAILSAFE_S only ends a wait for something that should have happened
 * long before, with a message saying what it was.
 */
#define FAILSAFE_S 30

static struct timespec failsafe_deadline(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	ts.tv_sec += FAILSAFE_S;
	return ts;
}

/*
 * A destination that takes uploads in steps: the file:// store of the
 * bench with the four upload operations added, which record what the
 * putter does (from its thread, under a lock) and end an upload with the
 * file store's own put.  It checks the store contract the sink relies on:
 * what is sent only grows, nothing is visible before the caller allows
 * it, every upload is freed, one not ended is taken back.  A test can
 * close the gate: every send and end then waits inside the store until
 * it opens, so the test knows how many are under way at once.
 */
static struct recorder {
	pthread_mutex_t mu;
	pthread_cond_t changed;   /* a count moved, or the gate opened */
	const struct store_ops *file_ops;
	struct store_ops ops;
	unsigned news, sends, ends, frees, taken_back;
	unsigned shrank;          /* sends whose `ready` went down */
	unsigned busy, most_busy; /* sends and ends under way, and their peak */
	bool gate_closed;         /* sends and ends wait while it is */
	bool fail_sends;
} rec = { .mu = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t rec_once = PTHREAD_ONCE_INIT;

static void rec_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&rec.changed, &a);
	pthread_condattr_destroy(&a);
}

/* A send or end begins (+1: it waits at a closed gate) or is over (-1). */
static void rec_busy(int d)
{
	pthread_mutex_lock(&rec.mu);
	rec.busy += (unsigned)d;
	if (rec.busy > rec.most_busy)
		rec.most_busy = rec.busy;
	pthread_cond_broadcast(&rec.changed);
	while (d > 0 && rec.gate_closed)
		pthread_cond_wait(&rec.changed, &rec.mu);
	pthread_mutex_unlock(&rec.mu);
}

static void rec_set_gate(bool closed)
{
	pthread_mutex_lock(&rec.mu);
	rec.gate_closed = closed;
	pthread_cond_broadcast(&rec.changed);
	pthread_mutex_unlock(&rec.mu);
}

/* Wait until done() holds of the recorder (called under rec.mu). */
static void rec_wait(bool (*done)(void), const char *what)
{
	struct timespec until = failsafe_deadline(CLOCK_MONOTONIC);
	int rc = 0;
	bool ok;

	pthread_mutex_lock(&rec.mu);
	while (!(ok = done()) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&rec.changed, &rec.mu, &until);
	pthread_mutex_unlock(&rec.mu);
	ck_assert_msg(ok, "waited %d s for %s", FAILSAFE_S, what);
}

struct store_upload {
	char *key;
	uint64_t ready;
	bool ended;
};

static store_upload *rec_new(store *st, const char *key, uint64_t max_size)
{
	struct store_upload *u = xcalloc(1, sizeof(*u));

	(void)st;
	(void)max_size;
	u->key = xstrdup(key);
	pthread_mutex_lock(&rec.mu);
	rec.news++;
	pthread_mutex_unlock(&rec.mu);
	return u;
}

static es_result rec_send(store *st, store_upload *u, const char *path, uint64_t ready)
{
	struct stat sb;
	es_result r = ES_OK;

	rec_busy(+1);
	pthread_mutex_lock(&rec.mu);
	rec.sends++;
	if (ready < u->ready || stat(path, &sb) != 0 || (uint64_t)sb.st_size < ready)
		rec.shrank++;
	u->ready = ready;
	if (rec.fail_sends)
		r = store_fail(st, ES_ERR_TEMP, NULL, "recorder: sending refused");
	pthread_mutex_unlock(&rec.mu);
	rec_busy(-1);
	return r;
}

static es_result rec_end(store *st, store_upload *u, const char *path)
{
	es_result r;

	rec_busy(+1);
	r = rec.file_ops->put(st, u->key, path);
	pthread_mutex_lock(&rec.mu);
	rec.ends++;
	u->ended = r == ES_OK;
	pthread_mutex_unlock(&rec.mu);
	rec_busy(-1);
	return r;
}

static void rec_free(store *st, store_upload *u)
{
	(void)st;
	pthread_mutex_lock(&rec.mu);
	rec.frees++;
	if (!u->ended)
		rec.taken_back++;
	pthread_mutex_unlock(&rec.mu);
	free(u->key);
	free(u);
}

static void recorder_attach(bench *b)
{
	pthread_once(&rec_once, rec_init);
	pthread_mutex_lock(&rec.mu);
	rec.file_ops = b->dest->ops;
	rec.ops = *b->dest->ops;
	rec.ops.upload_new = rec_new;
	rec.ops.upload_send = rec_send;
	rec.ops.upload_end = rec_end;
	rec.ops.upload_free = rec_free;
	rec.news = rec.sends = rec.ends = rec.frees = rec.taken_back = rec.shrank = 0;
	rec.busy = rec.most_busy = 0;
	rec.gate_closed = rec.fail_sends = false;
	pthread_mutex_unlock(&rec.mu);
	b->dest->ops = &rec.ops;
}

static struct recorder rec_now(void)
{
	struct recorder r;

	pthread_mutex_lock(&rec.mu);
	r = rec;
	pthread_mutex_unlock(&rec.mu);
	return r;
}

/*
 * The putter's own state (sink.h: under s->mu; it signals s->progress
 * after each step).  Caught up: it has sent every object it was told of
 * as far as it was written, and has none left that it may make visible;
 * it waits for the writer now.  Failed: it stopped at a failure.
 */
static bool putter_caught_up(const sink *s)
{
	if (s->err != ES_OK)
		return true;
	for (size_t i = s->next; i < s->nobjs; i++)
		if (i < s->allowed || (s->uploads && s->objs[i].ready > s->objs[i].offered))
			return false;
	return true;
}

static bool putter_failed(const sink *s)
{
	return s->err != ES_OK;
}

static void wait_for_putter(sink *s, bool (*done)(const sink *), const char *what)
{
	/* s->progress has the default clock */
	struct timespec until = failsafe_deadline(CLOCK_REALTIME);
	int rc = 0;
	bool ok;

	pthread_mutex_lock(&s->mu);
	while (!(ok = done(s)) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&s->progress, &s->mu, &until);
	pthread_mutex_unlock(&s->mu);
	ck_assert_msg(ok, "waited %d s for the putter to have %s", FAILSAFE_S, what);
}

/* A fresh bench whose destination records uploads, objects of 16 KiB,
 * and a sink on it. */
static void recorded_start(bench *b, sink *s)
{
	new_tmpdir();
	bench_init(b, "dest", "\"max_object_bytes\":16384");
	recorder_attach(b);
	sink_start(s, b);
}

START_TEST(uploads_grow_and_become_visible_only_when_allowed)
{
	bench b;
	sink s;
	objects o;
	char **lines;
	size_t n;
	buf want = BUF_INIT;

	recorded_start(&b, &s);
	make_lines(&lines, &n, 0x5eed);
	/* "file 1": its lines are in objects that may not be shown yet */
	for (int round = 0; round < 5; round++)
		for (size_t i = 0; i < n; i++) {
			char id[48];

			snprintf(id, sizeof(id), "id-%d-%zu", round, i);
			write_line(&s, "SRC-a", id, lines[i]);
			buf_printf(&want, "%s\n", lines[i]);
		}
	/* everything the putter may do now is done: it sent what was
	 * written, and ended nothing */
	wait_for_putter(&s, putter_caught_up, "caught up with the writer");
	ck_assert_uint_gt(rec_now().sends, 0);
	ck_assert_uint_eq(rec_now().ends, 0);
	list_objects(b.dest_dir, &o);
	ck_assert_uint_eq(o.n, 0);
	objects_free(&o);
	/* file 1 is good: what holds only its lines may be shown */
	ck_assert_int_eq(sink_put_ready(&s), ES_OK);
	ck_assert_int_eq(finish(&s), ES_OK);
	sink_stop(&s);
	list_objects(b.dest_dir, &o);
	ck_assert_uint_ge(o.n, 3);
	ck_assert_uint_eq(o.n, s.nobjects);
	ck_assert_uint_eq(rec_now().ends, o.n);
	ck_assert_uint_eq(rec_now().news, o.n);
	ck_assert_uint_eq(rec_now().frees, o.n);
	ck_assert_uint_eq(rec_now().taken_back, 0);
	ck_assert_uint_eq(rec_now().shrank, 0);
	ck_assert(objects_hold(b.dest_dir, &o, &want));
	objects_free(&o);
	free_lines(lines, n);
	buf_release(&want);
	sink_release(&s);
	ck_assert_uint_eq(count_entries(b.spool), 0);
	bench_release(&b);
}
END_TEST

START_TEST(upload_failure_stops_the_sink_and_takes_back_what_was_sent)
{
	bench b;
	sink s;
	objects o;
	char **lines;
	size_t n;
	es_result r = ES_OK;

	recorded_start(&b, &s);
	pthread_mutex_lock(&rec.mu);
	rec.fail_sends = true;
	pthread_mutex_unlock(&rec.mu);
	make_lines(&lines, &n, 0xfa11);
	/* enough for the putter to send (and fail) before the last write;
	 * a write may tell the failure already */
	for (int round = 0; round < 5 && r == ES_OK; round++)
		for (size_t i = 0; i < n && r == ES_OK; i++) {
			char id[48];

			snprintf(id, sizeof(id), "id-%d-%zu", round, i);
			r = sink_write(&s, "SRC-a", fp_of(id), lines[i], strlen(lines[i]));
		}
	/* else the next write that hands a block on tells it */
	if (r == ES_OK) {
		wait_for_putter(&s, putter_failed, "failed");
		for (size_t i = 0; i < n && r == ES_OK; i++) {
			char id[48];

			snprintf(id, sizeof(id), "id-after-%zu", i);
			r = sink_write(&s, "SRC-a", fp_of(id), lines[i], strlen(lines[i]));
		}
	}
	ck_assert_int_eq(r, ES_ERR_TEMP);
	ck_assert_int_eq(sink_finish(&s), ES_ERR_TEMP);
	ck_assert_int_eq(sink_wait(&s), ES_ERR_TEMP);
	sink_stop(&s);
	ck_assert_uint_eq(rec_now().ends, 0);
	ck_assert_uint_gt(rec_now().news, 0);
	ck_assert_uint_eq(rec_now().frees, rec_now().news);
	ck_assert_uint_eq(rec_now().taken_back, rec_now().news);
	ck_assert_uint_eq(s.nobjects, 0);
	list_objects(b.dest_dir, &o);
	ck_assert_uint_eq(o.n, 0);
	objects_free(&o);
	free_lines(lines, n);
	sink_release(&s);
	ck_assert_uint_eq(count_entries(b.spool), 0);
	bench_release(&b);
}
END_TEST

static bool eight_busy(void)
{
	return rec.busy >= 8;
}

/* However many subscribers, at most 8 putters send at once: with the
 * gate closed, 12 putters with objects to end fill the 8 places and wait
 * there; once it opens, all finish and no ninth was ever let in. */
START_TEST(at_most_eight_putters_at_once)
{
	enum { NSINKS = 12 };
	bench b[NSINKS];
	sink s[NSINKS];
	char **lines;
	size_t n;

	new_tmpdir();
	for (int k = 0; k < NSINKS; k++) {
		char name[16];

		snprintf(name, sizeof(name), "dest%d", k);
		bench_init(&b[k], name, "\"max_object_bytes\":16384");
		recorder_attach(&b[k]);
		sink_start(&s[k], &b[k]);
	}
	rec_set_gate(true);
	make_lines(&lines, &n, 0x8);
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < n; i++)
			for (int k = 0; k < NSINKS; k++) {
				char id[48];

				snprintf(id, sizeof(id), "id-%d-%zu", round, i);
				write_line(&s[k], "SRC-a", id, lines[i]);
			}
	for (int k = 0; k < NSINKS; k++) {
		ck_assert_int_eq(sink_put_ready(&s[k]), ES_OK);
		ck_assert_int_eq(sink_finish(&s[k]), ES_OK);
	}
	rec_wait(eight_busy, "8 sends or ends under way at once");
	ck_assert_uint_eq(rec_now().busy, 8);
	rec_set_gate(false);
	for (int k = 0; k < NSINKS; k++)
		ck_assert_int_eq(sink_wait(&s[k]), ES_OK);
	ck_assert_uint_eq(rec_now().most_busy, 8);
	ck_assert_uint_eq(rec_now().busy, 0);
	ck_assert_uint_eq(rec_now().ends, rec_now().news);
	for (int k = 0; k < NSINKS; k++) {
		sink_release(&s[k]);
		bench_release(&b[k]);
	}
	free_lines(lines, n);
}
END_TEST

/* Write the lines of `seed` (with rotation) through a sink into dest_name. */
static void run_once(bench *b, const char *dest_name, uint64_t seed)
{
	sink s;
	char **lines;
	size_t n;

	bench_init(b, dest_name, "\"max_object_bytes\":1500,\"compression_level\":9");
	make_lines(&lines, &n, seed);
	sink_start(&s, b);
	for (size_t i = 0; i < n; i++) {
		char id[32];

		snprintf(id, sizeof(id), "id-%zu", i % 150);   /* some duplicates */
		write_line(&s, i % 3 ? "SRC-a" : "SRC-b", id, lines[i]);
	}
	ck_assert_int_eq(finish(&s), ES_OK);
	ck_assert_uint_eq(s.duplicates, 50);
	free_lines(lines, n);
	sink_release(&s);
}

START_TEST(same_lines_same_bytes)
{
	bench b1, b2;
	objects o1, o2;

	new_tmpdir();
	run_once(&b1, "dest1", 7);
	run_once(&b2, "dest2", 7);
	list_objects(b1.dest_dir, &o1);
	list_objects(b2.dest_dir, &o2);
	ck_assert_uint_ge(o1.n, 2);
	ck_assert_uint_eq(o1.n, o2.n);
	for (size_t i = 0; i < o1.n; i++) {
		buf r1 = BUF_INIT, r2 = BUF_INIT, p1 = BUF_INIT, p2 = BUF_INIT;

		ck_assert_str_eq(o1.keys[i], o2.keys[i]);
		read_object(b1.dest_dir, o1.keys[i], &r1, &p1);
		read_object(b2.dest_dir, o2.keys[i], &r2, &p2);
		ck_assert_uint_eq(r1.len, r2.len);
		ck_assert_msg(!memcmp(r1.data, r2.data, r1.len), "object %s differs", o1.keys[i]);
		buf_release(&r1);
		buf_release(&r2);
		buf_release(&p1);
		buf_release(&p2);
	}
	objects_free(&o1);
	objects_free(&o2);
	bench_release(&b1);
	bench_release(&b2);
}
END_TEST

START_TEST(write_errors)
{
	bench b;
	sink s;
	char *blocker;

	/* no spool directory */
	new_tmpdir();
	bench_init(&b, "dest", NULL);
	rmdir(b.spool);
	sink_start(&s, &b);
	/* blocks are written in the background: the failure shows at the
	 * latest when the output is finished */
	ck_assert_int_eq(sink_write(&s, "SRC-a", fp_of("x"), "{}", 2), ES_OK);
	ck_assert_int_eq(finish(&s), ES_ERR_IO);
	sink_release(&s);
	bench_release(&b);

	/* a destination that cannot be created: its path is a file */
	new_tmpdir();
	blocker = xasprintf("%s/dest", tmpdir);
	{
		FILE *f = fopen(blocker, "w");

		ck_assert_ptr_nonnull(f);
		fclose(f);
	}
	bench_init(&b, "dest", NULL);
	sink_start(&s, &b);
	ck_assert_int_eq(sink_write(&s, "SRC-a", fp_of("x"), "{}", 2), ES_OK);
	ck_assert_int_ne(finish(&s), ES_OK);
	ck_assert_uint_eq(s.nobjects, 0);
	sink_release(&s);
	/* the spool file does not outlive the sink */
	ck_assert_uint_eq(count_entries(b.spool), 0);
	bench_release(&b);
	free(blocker);
}
END_TEST

Suite *sink_suite(void)
{
	Suite *s = suite_create("sink");
	TCase *tc = tcase_create("sink");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_test(tc, lines_in_order_one_object);
	tcase_add_test(tc, dedup_first_occurrence_wins);
	tcase_add_test(tc, two_sinks_never_share_an_object);
	tcase_add_test(tc, rotation_at_max_object_bytes);
	tcase_add_test(tc, rotation_is_at_the_first_boundary);
	tcase_add_test(tc, source_in_key_splits);
	tcase_add_test(tc, nothing_written_no_object);
	tcase_add_test(tc, same_lines_same_bytes);
	tcase_add_test(tc, write_errors);
	tcase_add_test(tc, growing_file_is_a_prefix_of_the_finished_one);
	tcase_add_test(tc, uploads_grow_and_become_visible_only_when_allowed);
	tcase_add_test(tc, upload_failure_stops_the_sink_and_takes_back_what_was_sent);
	tcase_add_test(tc, at_most_eight_putters_at_once);
	suite_add_tcase(s, tc);
	return s;
}
