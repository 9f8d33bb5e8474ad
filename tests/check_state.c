/*
 * check_state.c - the state directory: layout, state.json round trip,
 * corrupt files refused and left alone, the lock, the plan journal and
 * its outcomes (torn lines), pruning and the record helpers; and what
 * the state may be made of (state.h): directories and files writable by
 * others, links, FIFOs and another user's state refused, temporaries
 * never written through, the quarantine file.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state.h"
#include "util.h"

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
	snprintf(basedir, sizeof(basedir), "/tmp/evshare-state-XXXXXX");
	if (!mkdtemp(basedir))
		basedir[0] = '\0';
}

static void base_teardown(void)
{
	if (basedir[0])
		remove_tree(basedir);
}

/* A fresh state directory path (not created) for this test. */
static const char *new_dir(void)
{
	char *d;

	ck_assert(basedir[0] != '\0');
	snprintf(tmpdir, sizeof(tmpdir), "%s/t-XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	d = xasprintf("%s/state", tmpdir);
	snprintf(tmpdir, sizeof(tmpdir), "%s", d);
	free(d);
	return tmpdir;
}

static char *in_dir(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static bool is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static void append_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, text, strlen(text)), 0);
	close(fd);
}

static unsigned dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static state_store *open_store(const char *dir)
{
	state_store *s = NULL;

	ck_assert_int_eq(state_open(dir, true, &s), ES_OK);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* The whole content of path ("" for an empty file); the caller frees. */
static char *slurp(const char *path)
{
	buf b = BUF_INIT;

	ck_assert_msg(read_file(path, &b, 1 << 20) == 0, "cannot read %s", path);
	return buf_detach(&b, NULL);
}

static bool is_link(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* A file outside the state that nothing may write to. */
static char *precious_file(const char *dir, const char *name)
{
	char *p = xasprintf("%s/../%s", dir, name);

	write_text(p, "precious\n");
	return p;
}

static void assert_precious(const char *path)
{
	char *text = slurp(path);

	ck_assert_msg(!strcmp(text, "precious\n"), "'%s' was written through: '%s'",
		      path, text);
	free(text);
}

/* --- tests ---------------------------------------------------------- */

START_TEST(open_creates_layout)
{
	const char *dir = new_dir();
	state_store *s = NULL;
	char *q = in_dir(dir, "quarantine"), *sp = in_dir(dir, "spool");
	state_data *d = NULL;

	/* without create, a missing directory is an error */
	ck_assert_int_ne(state_open(dir, false, &s), ES_OK);
	ck_assert_ptr_null(s);
	s = open_store(dir);
	ck_assert_str_eq(state_dir(s), dir);
	ck_assert(is_dir(dir));
	ck_assert(is_dir(q));
	ck_assert(is_dir(sp));
	/* an absent state.json is an empty state */
	ck_assert_int_eq(state_load(s, &d), ES_OK);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->nsources, 0);
	ck_assert_ptr_null(d->committed_run);
	state_data_free(d);
	state_close(s);
	/* now it exists */
	ck_assert_int_eq(state_open(dir, false, &s), ES_OK);
	state_close(s);
	state_close(NULL);
	free(q);
	free(sp);
}
END_TEST

START_TEST(paths)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	char *p = state_quarantine_path(s, "20261127T004612Z-1a2b3c4d");
	char *want = xasprintf("%s/quarantine/20261127T004612Z-1a2b3c4d.ndjson", dir);
	char *f;

	ck_assert_str_eq(p, want);
	free(p);
	free(want);
	p = state_spool_dir(s, "R1");
	want = xasprintf("%s/spool/R1", dir);
	ck_assert_str_eq(p, want);
	/* spool removal takes the directory and its files */
	ck_assert_int_eq(mkdir_p(p, 0755), 0);
	f = in_dir(p, "a.gz");
	write_text(f, "x");
	free(f);
	f = in_dir(p, ".hidden");
	write_text(f, "y");
	free(f);
	state_spool_remove(s, "R1");
	ck_assert(!is_dir(p));
	state_spool_remove(s, "absent");   /* no error for a missing one */
	free(p);
	free(want);
	state_close(s);
}
END_TEST

static void fill_state(state_data *d)
{
	source_state *a, *b, *c;
	file_record *f;

	d->committed_run = xstrdup("20261127T004612Z-1a2b3c4d");
	d->committed_ms = 1795740372000LL;
	a = state_source(d, "TN-a", true);
	a->horizon_ms = 1700000000000LL;
	f = state_file_add(a, "events/2026/11/27/a.ndjson.gz");
	f->etag = xstrdup("\"9b2cf535f27731c974343645a3985328\"");
	f->size = 123456789012ULL;
	f->mtime_ms = 1700000000500LL;
	file_record_mark_done(f, "TN-partner-0001");
	file_record_mark_done(f, "P2");
	f->run_id = xstrdup("20261127T004612Z-1a2b3c4d");
	f = state_file_add(a, "odd key/with space+plus=eq%25/\xc3\xa9.gz");
	f->etag = xstrdup("e2");
	f->size = 0;
	f->mtime_ms = 1700000001000LL;
	f->failures = 2;
	f->last_error = xstrdup("crc mismatch in gzip member 2 (compressed byte 1234)");
	f = state_file_add(a, "poisoned.gz");
	f->etag = xstrdup("e3");
	f->size = 10;
	f->mtime_ms = 1600000000000LL;
	f->failures = 3;
	f->poisoned = true;
	f->last_error = xstrdup("bad \"gzip\"\n\\ \xc3\xa9");
	b = state_source(d, "TN-b", true);   /* never listed: no horizon, no files */
	(void)b;
	c = state_source(d, "TN-c", true);
	c->horizon_ms = 5;
	f = state_file_add(c, "gone.gz");
	f->etag = xstrdup("e4");
	f->removed = true;   /* not saved */
	f = state_file_add(c, "kept.gz");
	f->etag = xstrdup("e5");
	f->mtime_ms = 6;
}

START_TEST(save_load_round_trip)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	state_data *d = xcalloc(1, sizeof(*d)), *e = NULL;
	source_state *a, *b, *c;
	file_record *f;

	fill_state(d);
	ck_assert_int_eq(state_save(s, d), ES_OK);
	state_data_free(d);
	ck_assert_int_eq(state_load(s, &e), ES_OK);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->committed_run, "20261127T004612Z-1a2b3c4d");
	ck_assert_int_eq(e->committed_ms, 1795740372000LL);
	ck_assert_uint_eq(e->nsources, 3);

	a = state_source(e, "TN-a", false);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->horizon_ms, 1700000000000LL);
	ck_assert_uint_eq(a->nfiles, 3);
	f = state_file(a, "events/2026/11/27/a.ndjson.gz");
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->etag, "\"9b2cf535f27731c974343645a3985328\"");
	ck_assert_uint_eq(f->size, 123456789012ULL);
	ck_assert_int_eq(f->mtime_ms, 1700000000500LL);
	ck_assert_uint_eq(f->ndone, 2);
	ck_assert(file_record_done_for(f, "TN-partner-0001"));
	ck_assert(file_record_done_for(f, "P2"));
	ck_assert(!file_record_done_for(f, "P3"));
	ck_assert_str_eq(f->run_id, "20261127T004612Z-1a2b3c4d");
	ck_assert_uint_eq(f->failures, 0);
	ck_assert(!f->poisoned);
	ck_assert_ptr_null(f->last_error);
	f = state_file(a, "odd key/with space+plus=eq%25/\xc3\xa9.gz");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->size, 0);
	ck_assert_uint_eq(f->ndone, 0);
	ck_assert_uint_eq(f->failures, 2);
	ck_assert_str_eq(f->last_error, "crc mismatch in gzip member 2 (compressed byte 1234)");
	ck_assert_ptr_null(f->run_id);
	f = state_file(a, "poisoned.gz");
	ck_assert_ptr_nonnull(f);
	ck_assert(f->poisoned);
	ck_assert_uint_eq(f->failures, 3);
	ck_assert_str_eq(f->last_error, "bad \"gzip\"\n\\ \xc3\xa9");

	b = state_source(e, "TN-b", false);
	ck_assert_ptr_nonnull(b);
	ck_assert(b->horizon_ms == INT64_MIN);
	ck_assert_uint_eq(b->nfiles, 0);

	c = state_source(e, "TN-c", false);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->horizon_ms, 5);
	ck_assert_ptr_null(state_file(c, "gone.gz"));
	ck_assert_ptr_nonnull(state_file(c, "kept.gz"));
	ck_assert_uint_eq(c->nfiles, 1);
	ck_assert_ptr_null(state_source(e, "TN-z", false));

	/* saving what was loaded gives the same file */
	{
		char *p = in_dir(dir, "state.json");
		buf one = BUF_INIT, two = BUF_INIT;

		ck_assert_int_eq(read_file(p, &one, 1 << 20), 0);
		ck_assert_int_eq(state_save(s, e), ES_OK);
		ck_assert_int_eq(read_file(p, &two, 1 << 20), 0);
		ck_assert_uint_eq(one.len, two.len);
		ck_assert(!memcmp(one.data, two.data, one.len));
		buf_release(&one);
		buf_release(&two);
		free(p);
	}
	/* only state.json, quarantine/ and spool/ (no temporary left) */
	ck_assert_uint_eq(dir_entries(dir), 3);
	state_data_free(e);
	state_close(s);
}
END_TEST

START_TEST(many_records_round_trip)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	state_data *d = xcalloc(1, sizeof(*d)), *e = NULL;
	source_state *src = state_source(d, "S", true);

	for (int i = 0; i < 10000; i++) {
		char key[32];
		file_record *f;

		snprintf(key, sizeof(key), "k/%05d.gz", i);
		f = state_file_add(src, key);
		f->etag = xasprintf("etag-%d", i);
		f->size = (uint64_t)i;
		f->mtime_ms = 1000 + i;
		if (i % 3 == 0)
			file_record_mark_done(f, "B");
	}
	/* adding an existing key returns the same record */
	ck_assert_ptr_eq(state_file_add(src, "k/00042.gz"), state_file(src, "k/00042.gz"));
	ck_assert_int_eq(state_save(s, d), ES_OK);
	ck_assert_int_eq(state_load(s, &e), ES_OK);
	src = state_source(e, "S", false);
	ck_assert_uint_eq(src->nfiles, 10000);
	for (int i = 0; i < 10000; i += 37) {
		char key[32];
		file_record *f;

		snprintf(key, sizeof(key), "k/%05d.gz", i);
		f = state_file(src, key);
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(f->size, (uint64_t)i);
		ck_assert_int_eq(f->mtime_ms, 1000 + i);
		ck_assert_int_eq(file_record_done_for(f, "B"), i % 3 == 0);
	}
	state_data_free(d);
	state_data_free(e);
	state_close(s);
}
END_TEST

START_TEST(corrupt_state_refused_and_untouched)
{
	static const char *bad[] = {
		"garbage",
		"",
		"{",
		"[]",
		"{}",
		"{\"sources\":{}}",
		"{\"version\":2,\"sources\":{}}",
		"{\"version\":\"1\",\"sources\":{}}",
		"{\"version\":1}",
		"{\"version\":1,\"sources\":[]}",
		"{\"version\":1,\"sources\":{\"A\":1}}",
		"{\"version\":1,\"sources\":{\"A\":{}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":{}}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"etag\":\"e\",\"size\":1,"
		"\"mtime_ms\":1,\"done\":[]}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"size\":1,"
		"\"mtime_ms\":1,\"done\":[]}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"mtime_ms\":1,\"done\":[]}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":1,\"done\":[]}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":1,\"mtime_ms\":1}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":1,\"mtime_ms\":1,\"done\":[1]}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":1,\"mtime_ms\":1,\"done\":[]},{\"key\":\"k\",\"etag\":\"f\","
		"\"size\":2,\"mtime_ms\":2,\"done\":[]}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":\"1\",\"mtime_ms\":1,\"done\":[]}]}}}",
	};
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	char *path = in_dir(dir, "state.json");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		state_data *d = (state_data *)1;
		buf after = BUF_INIT;
		struct stat st1, st2;

		write_text(path, bad[i]);
		ck_assert_int_eq(stat(path, &st1), 0);
		ck_assert_msg(state_load(s, &d) == ES_ERR_STATE, "accepted: %s", bad[i]);
		ck_assert_ptr_null(d);
		ck_assert_int_eq(stat(path, &st2), 0);
		ck_assert_int_eq(read_file(path, &after, 1 << 20), 0);
		ck_assert_msg(after.len == strlen(bad[i]) &&
			      !memcmp(after.data ? after.data : "", bad[i], after.len),
			      "state.json changed for %s", bad[i]);
		ck_assert(st1.st_ino == st2.st_ino);
		ck_assert_uint_eq(dir_entries(dir), 3);
		buf_release(&after);
	}
	/* a valid file cut short */
	{
		state_data *d = xcalloc(1, sizeof(*d)), *e = (state_data *)1;
		buf text = BUF_INIT;

		fill_state(d);
		ck_assert_int_eq(state_save(s, d), ES_OK);
		state_data_free(d);
		ck_assert_int_eq(read_file(path, &text, 1 << 20), 0);
		text.data[text.len / 2] = '\0';
		write_text(path, text.data);
		ck_assert_int_eq(state_load(s, &e), ES_ERR_STATE);
		ck_assert_ptr_null(e);
		buf_release(&text);
	}
	free(path);
	state_close(s);
}
END_TEST

/* What a lenient reader would take but is not JSON, and numbers that do
 * not fit their fields, are corrupt too; a key that is not UTF-8 (a
 * file:// name) is not.  (Found by fuzz_state.) */
START_TEST(state_json_strict_but_bytes_in_keys)
{
	static const char ok[] = "{\"version\":1,\"sources\":{}}";
	static const char file_ok[] =
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"caf\xe9\","
		"\"etag\":\"e\",\"size\":1,\"mtime_ms\":1,\"done\":[]}]}}}";
	static const char *bad[] = {
		"{\"version\":1,\"sources\":{}} garbage",
		"{\"version\":1,\"sources\":{}}{\"version\":1,\"sources\":{}}",
		"{\"version\":01,\"sources\":{}}",
		"{\"version\":1.,\"sources\":{}}",
		"{\"version\":1,\"sources\":{\"A\tB\":{\"files\":[]}}}",
		"\x01{\"version\":1,\"sources\":{}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":-1,\"mtime_ms\":1,\"done\":[]}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":1,\"mtime_ms\":1e300,\"done\":[]}]}}}",
		/* an integer with a fraction is none (it was cut to 1) */
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":1.5,\"mtime_ms\":1,\"done\":[]}]}}}",
		"{\"version\":1.5,\"sources\":{}}",
		/* a string holding U+0000: evshare writes C strings, which end
		 * there (it was cut short) */
		"{\"version\":1,\"sources\":{\"A\\u0000B\":{\"files\":[]}}}",
		"{\"version\":1,\"committed_run\":\"R\\u0000\",\"sources\":{}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\\u0000x\",\"etag\":\"e\","
		"\"size\":1,\"mtime_ms\":1,\"done\":[]}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":1,\"mtime_ms\":1,\"done\":[\"B\\u0000\"]}]}}}",
		"{\"version\":1,\"sources\":{\"A\":{\"files\":[{\"key\":\"k\",\"etag\":\"e\","
		"\"size\":1,\"mtime_ms\":1,\"done\":[],\"last_error\":\"\\u0000\"}]}}}",
		"{\"version\":1,\"pending\":[{\"run_id\":\"R1\",\"subscribers\":[\"B\\u0000\"],"
		"\"attempts\":1}],\"sources\":{}}",
	};
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	char *path = in_dir(dir, "state.json");
	state_data *d = (state_data *)1;
	buf padded = BUF_INIT;
	int fd;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(path, bad[i]);
		ck_assert_msg(state_load(s, &d) == ES_ERR_STATE, "accepted: %s", bad[i]);
		ck_assert_ptr_null(d);
	}
	/* NUL bytes around a valid file (blocks of a damaged disk) */
	buf_add(&padded, "\0\0\0\0", 4);
	buf_addstr(&padded, ok);
	buf_add(&padded, "\0\0\0\0", 4);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, padded.data, padded.len), 0);
	close(fd);
	ck_assert_int_eq(state_load(s, &d), ES_ERR_STATE);
	ck_assert_ptr_null(d);
	/* the valid ones, and a key that is not UTF-8 survives a round trip */
	write_text(path, ok);
	ck_assert_int_eq(state_load(s, &d), ES_OK);
	state_data_free(d);
	write_text(path, file_ok);
	ck_assert_int_eq(state_load(s, &d), ES_OK);
	ck_assert_uint_eq(d->nsources, 1);
	ck_assert_ptr_nonnull(state_file(&d->sources[0], "caf\xe9"));
	ck_assert_int_eq(state_save(s, d), ES_OK);
	state_data_free(d);
	ck_assert_int_eq(state_load(s, &d), ES_OK);
	ck_assert_ptr_nonnull(state_file(&d->sources[0], "caf\xe9"));
	state_data_free(d);
	buf_release(&padded);
	free(path);
	state_close(s);
}
END_TEST

/* Integers come back exactly, also above 2^52, where a writer of doubles
 * keeps 15 digits.  (Found by fuzz_state.) */
/* An upgrade keeps a cron job's state: state.json as the cJSON-era
 * writer left it (tests/data/state/: DEL raw, a backspace as \b, a
 * failing file, a pending part) reads, and reads the same once saved. */
static void assert_cjson_era(const state_data *d)
{
	const source_state *a, *b;
	const file_record *f;

	ck_assert_str_eq(d->committed_run, "20261205T200126Z-3873dea8");
	ck_assert_uint_eq(d->nsources, 2);
	a = state_source((state_data *)d, "TN-a1db4e4e-315f-4a67-9036-ecacd370b561", false);
	b = state_source((state_data *)d, "TN-1234e4e-531f-jhft-5896-asades55655", false);
	ck_assert(a && b);
	ck_assert_int_eq(a->horizon_ms, 1795896086186LL);
	ck_assert(a->has_below);
	ck_assert_uint_eq(a->nfiles, 4);
	ck_assert_uint_eq(b->nfiles, 4);
	f = state_file((source_state *)a, "2026/11/26/odd-\x7f-\b-\tname-\xc3\xa9.ndjson.gz");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->failures, 2);
	ck_assert_uint_eq(f->ndone, 0);
	ck_assert_ptr_nonnull(strstr(f->last_error, "refusing unsafe key"));
	f = state_file((source_state *)b, "2026/11/26/broken.ndjson.gz");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->size, 15);
	ck_assert_int_eq(f->mtime_ms, 1796500886075LL);
	ck_assert(file_record_done_for(f, "TN-partner-0001"));
	ck_assert(!file_record_done_for(f, "TN-partner-0002"));
	ck_assert_uint_eq(d->nparts, 1);
	ck_assert_str_eq(d->parts[0].run_id, "20261205T200126Z-6ab5b7c6");
	ck_assert_uint_eq(d->parts[0].nsubs, 1);
	ck_assert_str_eq(d->parts[0].subs[0], "TN-partner-0002");
	ck_assert_uint_eq(d->parts[0].attempts, 2);
	ck_assert_int_eq(d->parts[0].first_ms, 1796500886131LL);
}

START_TEST(state_written_by_cjson_reads)
{
	const char *env = getenv("EVSHARE_TEST_DATA");
	char *src = xasprintf("%s/state/cjson-era/state.json", env && *env ? env : "tests/data");
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	char *path = in_dir(dir, "state.json"), *text = slurp(src);
	state_data *d = NULL, *e = NULL;

	write_text(path, text);
	ck_assert_int_eq(state_load(s, &d), ES_OK);
	assert_cjson_era(d);
	ck_assert_int_eq(state_save(s, d), ES_OK);
	ck_assert_int_eq(state_load(s, &e), ES_OK);
	assert_cjson_era(e);
	state_data_free(d);
	state_data_free(e);
	state_close(s);
	free(text);
	free(path);
	free(src);
}
END_TEST

START_TEST(integers_round_trip_exactly)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	state_data *d = xcalloc(1, sizeof(*d)), *e = NULL;
	source_state *a = state_source(d, "TN-a", true);
	file_record *f = state_file_add(a, "k");

	d->committed_ms = -9007199254740991LL;
	a->horizon_ms = 4503599627370497LL;
	f->etag = xstrdup("e");
	f->size = 4503599627370497ULL;
	f->mtime_ms = 9007199254740991LL;
	ck_assert_int_eq(state_save(s, d), ES_OK);
	ck_assert_int_eq(state_load(s, &e), ES_OK);
	ck_assert_int_eq(e->committed_ms, -9007199254740991LL);
	ck_assert_int_eq(e->sources[0].horizon_ms, 4503599627370497LL);
	ck_assert_uint_eq(e->sources[0].files[0].size, 4503599627370497ULL);
	ck_assert_int_eq(e->sources[0].files[0].mtime_ms, 9007199254740991LL);
	state_data_free(d);
	state_data_free(e);
	state_close(s);
}
END_TEST

START_TEST(lock_is_exclusive)
{
	const char *dir = new_dir();
	state_store *s1 = open_store(dir), *s2 = open_store(dir);
	pid_t pid;
	int status;

	ck_assert_int_eq(state_lock(s1), ES_OK);
	/* another open file description in this process */
	ck_assert_int_eq(state_lock(s2), ES_ERR_TEMP);
	/* another process */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		state_store *s3 = NULL;
		es_result r = state_open(dir, true, &s3);

		if (r == ES_OK)
			r = state_lock(s3);
		_exit(r == ES_ERR_TEMP ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0, "a second process got the lock");
	/* released on close */
	state_close(s1);
	ck_assert_int_eq(state_lock(s2), ES_OK);
	state_close(s2);
}
END_TEST

START_TEST(plan_journal)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	const char *plan = "{\"run_id\":\"R1\",\"files\":[1,2,3,4,5]}";
	buf text = BUF_INIT;
	bool exists = true;
	char out[6];
	char *opath = in_dir(dir, "plan.outcomes");

	ck_assert_int_eq(state_plan_load(s, &text, &exists), ES_OK);
	ck_assert(!exists);
	/* no outcomes yet */
	memset(out, 'x', sizeof(out));
	ck_assert_int_eq(state_plan_outcomes(s, out, 5), ES_OK);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(out[i], 0);

	ck_assert_int_eq(state_plan_save(s, plan, strlen(plan)), ES_OK);
	ck_assert_int_eq(state_plan_load(s, &text, &exists), ES_OK);
	ck_assert(exists);
	ck_assert_str_eq(text.data, plan);
	buf_release(&text);

	ck_assert_int_eq(state_plan_outcome(s, 0, 'o'), ES_OK);
	ck_assert_int_eq(state_plan_outcome(s, 2, 'f'), ES_OK);
	ck_assert_int_eq(state_plan_outcome(s, 4, 'o'), ES_OK);
	ck_assert_int_eq(state_plan_outcome(s, 9, 'o'), ES_OK);   /* beyond nfiles */
	ck_assert_int_eq(state_plan_outcomes(s, out, 5), ES_OK);
	ck_assert_int_eq(out[0], 'o');
	ck_assert_int_eq(out[1], 0);
	ck_assert_int_eq(out[2], 'f');
	ck_assert_int_eq(out[3], 0);
	ck_assert_int_eq(out[4], 'o');
	/* poisoned and deferred; a later outcome replaces an earlier one */
	ck_assert_int_eq(state_plan_outcome(s, 1, 'd'), ES_OK);
	ck_assert_int_eq(state_plan_outcome(s, 4, 'p'), ES_OK);
	ck_assert_int_eq(state_plan_outcomes(s, out, 5), ES_OK);
	ck_assert_int_eq(out[1], 'd');
	ck_assert_int_eq(out[4], 'p');
	ck_assert_int_eq(state_plan_outcome(s, 4, 'o'), ES_OK);
	/* a torn last line (a crash in the middle of a write) is ignored */
	append_text(opath, "3 o");
	ck_assert_int_eq(state_plan_outcomes(s, out, 5), ES_OK);
	ck_assert_int_eq(out[3], 0);
	ck_assert_int_eq(out[4], 'o');
	/* another process reads the same */
	{
		state_store *s2 = open_store(dir);

		ck_assert_int_eq(state_plan_outcomes(s2, out, 5), ES_OK);
		ck_assert_int_eq(out[0], 'o');
		ck_assert_int_eq(out[2], 'f');
		ck_assert_int_eq(out[3], 0);
		state_close(s2);
	}

	ck_assert_int_eq(state_plan_clear(s), ES_OK);
	ck_assert_int_eq(state_plan_load(s, &text, &exists), ES_OK);
	ck_assert(!exists);
	ck_assert_int_eq(state_plan_outcomes(s, out, 5), ES_OK);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(out[i], 0);
	ck_assert(access(opath, F_OK) != 0);
	/* clearing twice is fine */
	ck_assert_int_eq(state_plan_clear(s), ES_OK);
	/* outcomes can be written again after a clear */
	ck_assert_int_eq(state_plan_save(s, plan, strlen(plan)), ES_OK);
	ck_assert_int_eq(state_plan_outcome(s, 1, 'o'), ES_OK);
	ck_assert_int_eq(state_plan_outcomes(s, out, 5), ES_OK);
	ck_assert_int_eq(out[0], 0);
	ck_assert_int_eq(out[1], 'o');
	buf_release(&text);
	free(opath);
	state_close(s);
}
END_TEST

START_TEST(plan_outcomes_after_torn_line_and_resume)
{
	/* a run crashes while writing "3 ok\n" (only "3 o" reaches the disk);
	 * the resumed run (another process) re-executes file 3 and appends its
	 * outcomes: they must all be read back */
	const char *dir = new_dir();
	state_store *s = open_store(dir), *s2;
	const char *plan = "{\"run_id\":\"R1\"}";
	char *opath = in_dir(dir, "plan.outcomes");
	char out[5];

	ck_assert_int_eq(state_plan_save(s, plan, strlen(plan)), ES_OK);
	ck_assert_int_eq(state_plan_outcome(s, 0, 'o'), ES_OK);
	ck_assert_int_eq(state_plan_outcome(s, 1, 'f'), ES_OK);
	state_close(s);
	append_text(opath, "3 o");

	s2 = open_store(dir);
	ck_assert_int_eq(state_plan_outcomes(s2, out, 5), ES_OK);
	ck_assert_int_eq(out[3], 0);
	ck_assert_int_eq(state_plan_outcome(s2, 3, 'o'), ES_OK);
	ck_assert_int_eq(state_plan_outcome(s2, 4, 'f'), ES_OK);
	ck_assert_int_eq(state_plan_outcomes(s2, out, 5), ES_OK);
	ck_assert_int_eq(out[0], 'o');
	ck_assert_int_eq(out[1], 'f');
	ck_assert_int_eq(out[2], 0);
	ck_assert_msg(out[3] == 'o', "file 3 finished ok after the resume, read back as '%c'",
		      out[3] ? out[3] : '0');
	ck_assert_int_eq(out[4], 'f');
	free(opath);
	state_close(s2);
}
END_TEST

START_TEST(plan_save_starts_fresh_outcomes)
{
	/* a new plan saved by the same process: its outcomes are its own */
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	const char *a = "{\"run_id\":\"A\"}", *b = "{\"run_id\":\"B\"}";
	char out[3];

	ck_assert_int_eq(state_plan_save(s, a, strlen(a)), ES_OK);
	ck_assert_int_eq(state_plan_outcome(s, 0, 'o'), ES_OK);
	ck_assert_int_eq(state_plan_save(s, b, strlen(b)), ES_OK);
	ck_assert_int_eq(state_plan_outcomes(s, out, 3), ES_OK);
	ck_assert_int_eq(out[0], 0);   /* plan A's outcome is not B's */
	ck_assert_int_eq(state_plan_outcome(s, 1, 'o'), ES_OK);
	ck_assert_int_eq(state_plan_outcomes(s, out, 3), ES_OK);
	ck_assert_int_eq(out[0], 0);
	ck_assert_msg(out[1] == 'o', "the outcome of plan B was lost");
	state_close(s);
}
END_TEST

START_TEST(prune_keeps_poisoned)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	state_data *d = xcalloc(1, sizeof(*d)), *e = NULL;
	source_state *src = state_source(d, "A", true);
	file_record *f;

	f = state_file_add(src, "old");
	f->etag = xstrdup("1");
	f->mtime_ms = 500;
	f = state_file_add(src, "old-poisoned");
	f->etag = xstrdup("2");
	f->mtime_ms = 400;
	f->poisoned = true;
	f->failures = 3;
	f = state_file_add(src, "at-horizon");
	f->etag = xstrdup("3");
	f->mtime_ms = 1000;
	f = state_file_add(src, "new");
	f->etag = xstrdup("4");
	f->mtime_ms = 2000;
	/* forgotten, read again below the horizon, failed again: still owed */
	f = state_file_add(src, "old-failing");
	f->etag = xstrdup("5");
	f->mtime_ms = 300;
	f->failures = 1;
	src->horizon_ms = 1000;
	state_prune(src);
	ck_assert_ptr_null(state_file(src, "old"));
	ck_assert_ptr_nonnull(state_file(src, "old-poisoned"));
	ck_assert_ptr_nonnull(state_file(src, "old-failing"));
	ck_assert_ptr_nonnull(state_file(src, "at-horizon"));
	ck_assert_ptr_nonnull(state_file(src, "new"));
	ck_assert_int_eq(state_save(s, d), ES_OK);
	ck_assert_int_eq(state_load(s, &e), ES_OK);
	src = state_source(e, "A", false);
	ck_assert_uint_eq(src->nfiles, 4);
	ck_assert_ptr_null(state_file(src, "old"));
	f = state_file(src, "old-poisoned");
	ck_assert_ptr_nonnull(f);
	ck_assert(f->poisoned);
	ck_assert_int_eq(src->horizon_ms, 1000);
	state_data_free(d);
	state_data_free(e);
	state_close(s);
}
END_TEST

START_TEST(pruned_record_comes_back_clean)
{
	/* a record pruned in memory (run_commit of a resumed plan) and added
	 * again by the next plan of the same process (the file was rewritten
	 * after the horizon) */
	state_data *d = xcalloc(1, sizeof(*d));
	source_state *src = state_source(d, "A", true);
	file_record *f;

	for (int i = 0; i < 20; i++) {
		char key[16];

		snprintf(key, sizeof(key), "f%d", i);
		f = state_file_add(src, key);
		f->etag = xstrdup("e");
		f->mtime_ms = i;
		file_record_mark_done(f, "B");
	}
	src->horizon_ms = 10;
	state_prune(src);
	ck_assert_ptr_null(state_file(src, "f3"));
	f = state_file_add(src, "f3");
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f->key, "f3");
	ck_assert(!f->removed);
	ck_assert_ptr_null(f->etag);
	ck_assert_uint_eq(f->ndone, 0);
	ck_assert_ptr_eq(state_file(src, "f3"), f);
	/* the map still finds the others */
	ck_assert_ptr_nonnull(state_file(src, "f15"));
	ck_assert_ptr_null(state_file(src, "f4"));
	state_data_free(d);
}
END_TEST

START_TEST(record_helpers)
{
	state_data *d = xcalloc(1, sizeof(*d));
	source_state *src = state_source(d, "A", true);
	file_record *f = state_file_add(src, "k");

	ck_assert(src->horizon_ms == INT64_MIN);
	ck_assert_ptr_null(state_source(d, "B", false));
	ck_assert_ptr_eq(state_source(d, "A", true), src);
	file_record_mark_done(f, "X");
	file_record_mark_done(f, "X");
	file_record_mark_done(f, "Y");
	ck_assert_uint_eq(f->ndone, 2);
	ck_assert(file_record_done_for(f, "X"));
	ck_assert(!file_record_done_for(f, "x"));
	f->failures = 2;
	f->poisoned = true;
	f->last_error = xstrdup("boom");
	f->run_id = xstrdup("R");
	file_record_reset(f, "new-etag", 77, 1234);
	ck_assert_uint_eq(f->ndone, 0);
	ck_assert(!file_record_done_for(f, "X"));
	ck_assert_str_eq(f->etag, "new-etag");
	ck_assert_uint_eq(f->size, 77);
	ck_assert_int_eq(f->mtime_ms, 1234);
	ck_assert_uint_eq(f->failures, 0);
	ck_assert(!f->poisoned);
	ck_assert_ptr_null(f->last_error);
	ck_assert_ptr_null(state_file(src, "absent"));
	state_data_free(d);
	state_data_free(NULL);
}
END_TEST

/* --- what the state may be made of ---------------------------------- */

START_TEST(state_dir_writable_by_others_refused)
{
	static const unsigned modes[] = { 0777, 0770, 0730, 0707, 0752, 01777 };
	const char *dir = new_dir();
	state_store *s = open_store(dir);

	state_close(s);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		ck_assert_int_eq(chmod(dir, modes[i]), 0);
		s = (state_store *)1;
		ck_assert_msg(state_open(dir, true, &s) == ES_ERR_IO,
			      "mode %04o accepted for a run", modes[i]);
		ck_assert_ptr_null(s);
		/* read-only looks too: another user could have planted it */
		ck_assert_msg(state_open(dir, false, &s) == ES_ERR_IO,
			      "mode %04o accepted for a look", modes[i]);
		ck_assert_ptr_null(s);
	}
	/* 0750 and 0700 are fine, and so is a trailing slash */
	ck_assert_int_eq(chmod(dir, 0700), 0);
	state_close(open_store(dir));
	ck_assert_int_eq(chmod(dir, 0750), 0);
	{
		char *slashed = xasprintf("%s//", dir);

		state_close(open_store(slashed));
		free(slashed);
	}
}
END_TEST

START_TEST(state_dir_symlink_refused)
{
	const char *dir = new_dir();
	char *link = xasprintf("%s-link", dir), *slashed = xasprintf("%s-link/", dir);
	char *parent = xasprintf("%s-parent", dir), *via = xasprintf("%s-parent/state", dir);
	char *up = xstrndup(dir, strrchr(dir, '/') - dir);
	state_store *s = NULL;

	state_close(open_store(dir));
	ck_assert_int_eq(symlink(dir, link), 0);
	ck_assert_int_eq(state_open(link, true, &s), ES_ERR_IO);
	ck_assert_int_eq(state_open(link, false, &s), ES_ERR_IO);
	/* "link/" would follow it: the slash is cut first */
	ck_assert_int_eq(state_open(slashed, true, &s), ES_ERR_IO);
	ck_assert_ptr_null(s);
	/* a link above the state directory is the operator's: followed */
	ck_assert_int_eq(symlink(up, parent), 0);
	s = open_store(via);
	state_close(s);
	free(link);
	free(slashed);
	free(parent);
	free(via);
	free(up);
}
END_TEST

START_TEST(subdirectories_checked)
{
	const char *dir = new_dir();
	char *q = in_dir(dir, "quarantine"), *sp = in_dir(dir, "spool");
	char *run = in_dir(dir, "spool/R1"), *elsewhere = xasprintf("%s-elsewhere", dir);
	state_store *s = open_store(dir);

	state_close(s);
	ck_assert_int_eq(chmod(q, 0777), 0);
	ck_assert_int_eq(state_open(dir, true, &s), ES_ERR_IO);
	ck_assert_int_eq(chmod(q, 0750), 0);
	/* spool/ as a link to a directory someone else may write */
	ck_assert_int_eq(mkdir(elsewhere, 0777), 0);
	ck_assert_int_eq(rmdir(sp), 0);
	ck_assert_int_eq(symlink(elsewhere, sp), 0);
	ck_assert_int_eq(state_open(dir, true, &s), ES_ERR_IO);
	ck_assert_int_eq(unlink(sp), 0);
	ck_assert_int_eq(mkdir(sp, 0750), 0);
	/* an interrupted run's spool directory is used again: checked too */
	ck_assert_int_eq(mkdir(run, 0770), 0);
	ck_assert_int_eq(chmod(run, 0770), 0);
	ck_assert_int_eq(state_open(dir, true, &s), ES_ERR_IO);
	ck_assert_int_eq(rmdir(run), 0);
	ck_assert_int_eq(symlink(elsewhere, run), 0);
	ck_assert_int_eq(state_open(dir, true, &s), ES_ERR_IO);
	ck_assert_int_eq(unlink(run), 0);
	ck_assert_int_eq(mkdir(run, 0750), 0);
	s = open_store(dir);
	state_close(s);
	free(q);
	free(sp);
	free(run);
	free(elsewhere);
}
END_TEST

START_TEST(state_json_symlink_refused_target_untouched)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	char *path = in_dir(dir, "state.json"), *target = precious_file(dir, "target");
	state_data *d = (state_data *)1;

	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(state_load(s, &d), ES_ERR_IO);
	ck_assert_ptr_null(d);
	assert_precious(target);
	/* a save replaces the link, never writes through it */
	d = xcalloc(1, sizeof(*d));
	fill_state(d);
	ck_assert_int_eq(state_save(s, d), ES_OK);
	state_data_free(d);
	assert_precious(target);
	ck_assert(!is_link(path));
	ck_assert_int_eq(state_load(s, &d), ES_OK);
	state_data_free(d);
	state_close(s);
	free(path);
	free(target);
}
END_TEST

START_TEST(plan_json_symlink_refused)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	char *path = in_dir(dir, "plan.json"), *opath = in_dir(dir, "plan.outcomes");
	char *target = precious_file(dir, "planted-plan");
	buf text = BUF_INIT;
	bool exists = true;
	char out[2];

	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(state_plan_load(s, &text, &exists), ES_ERR_IO);
	ck_assert(!exists);
	/* the outcomes too, for reading and for appending */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink(target, opath), 0);
	ck_assert_int_eq(state_plan_outcomes(s, out, 2), ES_ERR_IO);
	ck_assert_int_eq(state_plan_outcome(s, 0, true), ES_ERR_IO);
	assert_precious(target);
	buf_release(&text);
	state_close(s);
	free(path);
	free(opath);
	free(target);
}
END_TEST

START_TEST(state_files_writable_by_others_refused)
{
	static const char *const names[] = { "state.json", "plan.json", "plan.outcomes", "lock" };
	const char *dir = new_dir();
	state_store *s = open_store(dir), *ro = NULL;

	ck_assert_int_eq(state_open(dir, false, &ro), ES_OK);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *path = in_dir(dir, names[i]);
		state_data *d = NULL;
		buf text = BUF_INIT;
		bool exists;
		char out[2];

		write_text(path, "{\"version\":1,\"sources\":{}}");
		ck_assert_int_eq(chmod(path, i % 2 ? 0666 : 0620), 0);
		switch (i) {
		case 0:
			ck_assert_int_eq(state_load(s, &d), ES_ERR_IO);
			ck_assert_int_eq(state_load(ro, &d), ES_ERR_IO);
			break;
		case 1:
			ck_assert_int_eq(state_plan_load(s, &text, &exists), ES_ERR_IO);
			ck_assert_int_eq(state_plan_load(ro, &text, &exists), ES_ERR_IO);
			break;
		case 2:
			ck_assert_int_eq(state_plan_outcomes(s, out, 2), ES_ERR_IO);
			ck_assert_int_eq(state_plan_outcome(s, 0, true), ES_ERR_IO);
			break;
		default:
			ck_assert_int_eq(state_lock(s), ES_ERR_IO);
			break;
		}
		ck_assert_ptr_null(d);
		buf_release(&text);
		ck_assert_int_eq(unlink(path), 0);
		free(path);
	}
	state_close(s);
	state_close(ro);
}
END_TEST

START_TEST(fifo_state_file_refused_without_waiting)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	char *path = in_dir(dir, "state.json");
	state_data *d = NULL;

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	/* an open that waited for a writer would hang here */
	alarm(10);
	ck_assert_int_eq(state_load(s, &d), ES_ERR_IO);
	alarm(0);
	ck_assert_ptr_null(d);
	state_close(s);
	free(path);
}
END_TEST

/* Only root can make a file another user's: skipped (loudly) otherwise. */
START_TEST(another_users_state)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir), *ro = NULL;
	char *path = in_dir(dir, "state.json"), *lock = in_dir(dir, "lock");
	state_data *d = xcalloc(1, sizeof(*d));

	if (geteuid() != 0) {
		fprintf(stderr, "check_state: another_users_state SKIPPED: needs root "
			"to give files to another user\n");
		state_data_free(d);
		state_close(s);
		free(path);
		free(lock);
		return;
	}
	ck_assert_int_eq(state_save(s, d), ES_OK);
	state_data_free(d);
	d = NULL;
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	/* a run (or forget) never works with another user's file */
	ck_assert_int_eq(state_load(s, &d), ES_ERR_IO);
	ck_assert_ptr_null(d);
	/* a look may read it: nothing in the state is writable by others */
	ck_assert_int_eq(state_open(dir, false, &ro), ES_OK);
	ck_assert_int_eq(state_load(ro, &d), ES_OK);
	state_data_free(d);
	ck_assert_int_eq(chown(path, 0, 0), 0);
	write_text(lock, "");
	ck_assert_int_eq(chown(lock, 65534, 65534), 0);
	ck_assert_int_eq(state_lock(s), ES_ERR_IO);
	ck_assert_int_eq(chown(lock, 0, 0), 0);
	ck_assert_int_eq(state_lock(s), ES_OK);
	state_close(s);
	state_close(ro);
	/* the directory itself */
	ck_assert_int_eq(chown(dir, 65534, 65534), 0);
	ck_assert_int_eq(state_open(dir, true, &s), ES_ERR_IO);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(state_open(dir, false, &ro), ES_OK);
	ck_assert_int_eq(state_load(ro, &d), ES_OK);
	state_data_free(d);
	state_close(ro);
	ck_assert_int_eq(chown(dir, 0, 0), 0);
	free(path);
	free(lock);
}
END_TEST

START_TEST(temporaries_are_new_and_leftovers_cleaned)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir);
	char *target = precious_file(dir, "tmp-target");
	char *names[4];
	state_data *d = xcalloc(1, sizeof(*d));
	const char *plan = "{\"run_id\":\"R1\"}";

	/* the names earlier versions used (NAME.tmp.PID), planted as links
	 * and as a file */
	names[0] = xasprintf("%s/state.json.tmp.%ld", dir, (long)getpid());
	names[1] = xasprintf("%s/plan.json.tmp.%ld", dir, (long)getpid());
	names[2] = xasprintf("%s/state.json.tmp.XXXXXX", dir);
	names[3] = xasprintf("%s/plan.json.tmp.0123456789abcdef", dir);
	ck_assert_int_eq(symlink(target, names[0]), 0);
	ck_assert_int_eq(symlink(target, names[1]), 0);
	write_text(names[2], "left by a crash");
	ck_assert_int_eq(symlink(target, names[3]), 0);
	fill_state(d);
	ck_assert_int_eq(state_save(s, d), ES_OK);
	ck_assert_int_eq(state_plan_save(s, plan, strlen(plan)), ES_OK);
	assert_precious(target);
	/* what a crash may have left is gone after the next write (the
	 * links themselves, not what they point to) */
	for (size_t i = 0; i < 4; i++) {
		ck_assert_msg(access(names[i], F_OK) != 0 && !is_link(names[i]),
			      "'%s' left", names[i]);
		free(names[i]);
	}
	/* state.json, plan.json, quarantine/, spool/ */
	ck_assert_uint_eq(dir_entries(dir), 4);
	state_data_free(d);
	state_close(s);
	free(target);
}
END_TEST

START_TEST(quarantine_file_opened_safely)
{
	const char *dir = new_dir();
	state_store *s = open_store(dir), *ro = NULL;
	char *path = in_dir(dir, "quarantine/R1.ndjson"), *text;
	char *planted = in_dir(dir, "quarantine/R2.ndjson");
	char *target = precious_file(dir, "q-target");
	struct stat st;
	int fd = -2;

	umask(022);
	ck_assert_int_eq(state_quarantine_open(s, "R1", &fd), ES_OK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, "a\n", 2), 0);
	close(fd);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	/* appended to, not truncated */
	ck_assert_int_eq(state_quarantine_open(s, "R1", &fd), ES_OK);
	ck_assert_int_eq(write_all(fd, "b\n", 2), 0);
	close(fd);
	text = slurp(path);
	ck_assert_str_eq(text, "a\nb\n");
	free(text);
	/* a link is never written through; names stay in quarantine/ */
	ck_assert_int_eq(symlink(target, planted), 0);
	ck_assert_int_eq(state_quarantine_open(s, "R2", &fd), ES_ERR_IO);
	ck_assert_int_eq(fd, -1);
	assert_precious(target);
	ck_assert_int_eq(state_quarantine_open(s, "../R3", &fd), ES_ERR_INTERNAL);
	ck_assert_int_eq(state_quarantine_open(s, "", &fd), ES_ERR_INTERNAL);
	/* a read-only store writes nothing */
	ck_assert_int_eq(state_open(dir, false, &ro), ES_OK);
	ck_assert_int_eq(state_quarantine_open(ro, "R4", &fd), ES_ERR_INTERNAL);
	{
		state_data *d = xcalloc(1, sizeof(*d));

		ck_assert_int_eq(state_save(ro, d), ES_ERR_INTERNAL);
		ck_assert_int_eq(state_lock(ro), ES_ERR_INTERNAL);
		state_data_free(d);
	}
	state_close(ro);
	state_close(s);
	free(path);
	free(planted);
	free(target);
}
END_TEST

/* The commit policy: what outcomes do to records, horizons and parts. */
START_TEST(commit_policy)
{
	state_data *d = xcalloc(1, sizeof(*d));
	source_state *src = state_source(d, "TN-a", true), *other;
	store_object v1 = { (char *)"k", 10, 1000, (char *)"e1" };
	store_object v2 = { (char *)"k", 11, 2000, (char *)"e2" };
	const char *orgs[] = { "P1", "P2" };
	file_record *f;
	pending_part *pp;
	sketch sk;

	/* failures count, poisoned at max_attempts, or at once */
	ck_assert(!state_file_failed(src, &v1, "R1", "bad crc", false, 3)->poisoned);
	ck_assert(!state_file_failed(src, &v1, "R2", "bad crc", false, 3)->poisoned);
	f = state_file(src, "k");
	ck_assert_uint_eq(f->failures, 2);
	ck_assert_str_eq(f->last_error, "bad crc");
	ck_assert_str_eq(f->run_id, "R2");
	/* read at last: failures forgotten, done for the orgs given */
	state_file_read(src, &v1, "R3", orgs, 1);
	f = state_file(src, "k");
	ck_assert_uint_eq(f->failures, 0);
	ck_assert_ptr_null(f->last_error);
	ck_assert(file_record_done_for(f, "P1") && !file_record_done_for(f, "P2"));
	/* a new version starts over */
	ck_assert(state_file_failed(src, &v2, "R4", "a bomb", true, 3)->poisoned);
	f = state_file(src, "k");
	ck_assert(f->poisoned && f->failures == 1 && !file_record_done_for(f, "P1"));
	ck_assert_str_eq(f->etag, "e2");
	state_file_read(src, &v1, "R5", orgs, 2);
	f = state_file(src, "k");
	ck_assert(!f->poisoned && file_record_done_for(f, "P2"));
	/* poisoned after the failures it had, whatever max_attempts is now
	 * (another source: may move the array, so src is looked up again) */
	other = state_source(d, "TN-b", true);
	src = state_source(d, "TN-a", false);
	for (unsigned k = 0; k < 4; k++)
		ck_assert(!state_file_failed(other, &v1, "R6", "bad crc", false, 9)->poisoned);
	f = (file_record *)state_file_failed(other, &v1, "R7", "bad crc", false, 3);
	ck_assert(f->poisoned);
	ck_assert_uint_eq(f->failures, 5);
	/* the horizon moves forward only, old records go, the sketch is kept */
	sketch_init(&sk);
	sketch_add(&sk, 42);
	state_source_advance(src, 5000, &sk, 4000);
	ck_assert_int_eq(src->horizon_ms, 5000);
	ck_assert_ptr_null(state_file(src, "k"));
	ck_assert(src->has_below && src->below_until_ms == 4000 && sketch_equal(&src->below, &sk));
	state_source_advance(src, 3000, NULL, 0);
	ck_assert_int_eq(src->horizon_ms, 5000);
	ck_assert(src->below_until_ms == 4000);
	/* committed runs, parts and their attempts */
	state_run_committed(d, "R6");
	ck_assert_str_eq(d->committed_run, "R6");
	pp = state_part_add(d, "R6");
	state_part_failed(pp, "404");
	ck_assert(pp->attempts == 1 && pp->first_ms > 0);
	state_part_failed(pp, "403");
	ck_assert_uint_eq(pp->attempts, 2);
	ck_assert_str_eq(pp->last_error, "403");
	pp->subs = xcalloc(2, sizeof(char *));
	pp->subs[pp->nsubs++] = xstrdup("P1");
	pp->subs[pp->nsubs++] = xstrdup("P2");
	ck_assert_ptr_eq(state_part_of(d, "P2"), pp);
	state_part_done(d, 0, "P1");
	ck_assert_ptr_null(state_part_of(d, "P1"));
	state_part_done(d, 0, "P2");
	ck_assert_uint_eq(d->nparts, 0);
	state_data_free(d);
}
END_TEST

Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("state");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_test(tc, open_creates_layout);
	tcase_add_test(tc, paths);
	tcase_add_test(tc, save_load_round_trip);
	tcase_add_test(tc, commit_policy);
	tcase_add_test(tc, many_records_round_trip);
	tcase_add_test(tc, corrupt_state_refused_and_untouched);
	tcase_add_test(tc, state_json_strict_but_bytes_in_keys);
	tcase_add_test(tc, integers_round_trip_exactly);
	tcase_add_test(tc, state_written_by_cjson_reads);
	tcase_add_test(tc, lock_is_exclusive);
	tcase_add_test(tc, plan_journal);
	tcase_add_test(tc, plan_outcomes_after_torn_line_and_resume);
	tcase_add_test(tc, plan_save_starts_fresh_outcomes);
	tcase_add_test(tc, prune_keeps_poisoned);
	tcase_add_test(tc, pruned_record_comes_back_clean);
	tcase_add_test(tc, record_helpers);
	tcase_add_test(tc, state_dir_writable_by_others_refused);
	tcase_add_test(tc, state_dir_symlink_refused);
	tcase_add_test(tc, subdirectories_checked);
	tcase_add_test(tc, state_json_symlink_refused_target_untouched);
	tcase_add_test(tc, plan_json_symlink_refused);
	tcase_add_test(tc, state_files_writable_by_others_refused);
	tcase_add_test(tc, fifo_state_file_refused_without_waiting);
	tcase_add_test(tc, another_users_state);
	tcase_add_test(tc, temporaries_are_new_and_leftovers_cleaned);
	tcase_add_test(tc, quarantine_file_opened_safely);
	suite_add_tcase(s, tc);
	return s;
}
