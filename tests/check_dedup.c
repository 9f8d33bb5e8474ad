/*
 * check_dedup.c - SipHash-2-4-128 and the bounded-memory fingerprint set.
 *
 * The SipHash vectors are entries of vectors_sip128 in the reference
 * implementation's vectors.h (key 00..0f, message 00..len-1), recomputed
 * here from the SipHash paper with an independent Python implementation
 * (which also reproduces the paper's 64-bit example a129ca6149be45e5).
 * The bytes are the output in order: lo is bytes 0..7 little-endian, hi
 * bytes 8..15.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedup.h"
#include "util.h"

static char basedir[64];

static void base_setup(void)
{
	snprintf(basedir, sizeof(basedir), "/tmp/evshare-dedup-XXXXXX");
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

static unsigned entries(const char *dir)
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

static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void hex16(const char *hex, unsigned char out[16])
{
	for (int i = 0; i < 16; i++) {
		unsigned v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

START_TEST(siphash128_reference_vectors)
{
	static const struct { size_t len; const char *hex; } vec[] = {
		{ 0, "a3817f04ba25a8e66df67214c7550293" },
		{ 1, "da87c1d86b99af44347659119b22fc45" },
		{ 7, "a1f1ebbed8dbc153c0b84aa61ff08239" },
		{ 8, "3b62a9ba6258f5610f83e264f31497b4" },
		{ 15, "5493e99933b0a8117e08ec0f97cfc3d9" },
		{ 16, "6ee2a4ca67b054bbfd3315bf85230577" },
		{ 63, "5150d1772f50834a503e069a973fbd7c" },
	};
	unsigned char key[16], msg[64];

	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		unsigned char want[16];
		dedup_fp fp;

		hex16(vec[i].hex, want);
		fp = siphash128(key, msg, vec[i].len);
		ck_assert_msg(fp.lo == le64(want) && fp.hi == le64(want + 8),
			      "length %zu: got %016llx %016llx, want %s", vec[i].len,
			      (unsigned long long)fp.lo, (unsigned long long)fp.hi, vec[i].hex);
	}
}
END_TEST

START_TEST(siphash128_sensitivity)
{
	unsigned char key[16] = { 0 }, key2[16] = { 0 };
	const char *m = "event-0001";
	dedup_fp a, b, c, d;

	key2[15] = 1;
	a = siphash128(key, m, 10);
	b = siphash128(key, m, 10);
	c = siphash128(key2, m, 10);
	d = siphash128(key, "event-0002", 10);
	ck_assert(a.hi == b.hi && a.lo == b.lo);
	ck_assert(a.hi != c.hi && a.lo != c.lo);
	ck_assert(a.hi != d.hi && a.lo != d.lo);
	/* the length is part of the hash: a trailing NUL changes it */
	d = siphash128(key, "event-0001\0", 11);
	ck_assert(a.hi != d.hi || a.lo != d.lo);
}
END_TEST

START_TEST(fingerprint_process_key)
{
	dedup_fp a, b, c;

	dedup_init_key();
	a = dedup_fingerprint("id-1", 4);
	b = dedup_fingerprint("id-1", 4);
	c = dedup_fingerprint("id-2", 4);
	ck_assert(a.hi == b.hi && a.lo == b.lo);
	ck_assert(a.hi != c.hi || a.lo != c.lo);
	/* NUL bytes count */
	b = dedup_fingerprint("id-1\0x", 6);
	ck_assert(a.hi != b.hi || a.lo != b.lo);
	/* a new key gives other fingerprints (the key is random) */
	dedup_init_key();
	b = dedup_fingerprint("id-1", 4);
	ck_assert(a.hi != b.hi || a.lo != b.lo);
}
END_TEST

START_TEST(insert_new_and_seen)
{
	dedup_set *d = dedup_new(1 << 20, NULL);
	dedup_fp z = { 0, 0 }, x = { 5, 1 }, y = { 6, 1 }, w = { 5, 2 };

	ck_assert_uint_eq(dedup_count(d), 0);
	ck_assert_int_eq(dedup_insert(d, x), 0);
	ck_assert_int_eq(dedup_insert(d, x), 1);
	/* same lo, other hi; same hi, other lo: distinct */
	ck_assert_int_eq(dedup_insert(d, y), 0);
	ck_assert_int_eq(dedup_insert(d, w), 0);
	ck_assert_int_eq(dedup_insert(d, y), 1);
	/* the all-zero fingerprint is a value like any other */
	ck_assert_int_eq(dedup_insert(d, z), 0);
	ck_assert_int_eq(dedup_insert(d, z), 1);
	ck_assert_uint_eq(dedup_count(d), 4);
	dedup_free(d);
	dedup_free(NULL);
}
END_TEST

static dedup_fp id_fp(const char *prefix, unsigned i)
{
	char id[64];
	int n = snprintf(id, sizeof(id), "%s-%u", prefix, i);

	return dedup_fingerprint(id, (size_t)n);
}

START_TEST(unbounded_memory)
{
	dedup_set *d = dedup_new(0, NULL);

	for (unsigned i = 0; i < 100000; i++)
		ck_assert_int_eq(dedup_insert(d, id_fp("u", i)), 0);
	for (unsigned i = 0; i < 100000; i++)
		ck_assert_int_eq(dedup_insert(d, id_fp("u", i)), 1);
	ck_assert_uint_eq(dedup_count(d), 100000);
	dedup_free(d);
}
END_TEST

START_TEST(bounded_memory_with_runs)
{
	/* 64 KiB: a 1024-slot table, so 300k ids make hundreds of runs and
	 * many merges */
	const unsigned n = 300000, fresh = 50000;
	dedup_set *d = dedup_new(64 * 1024, basedir);
	unsigned bad = 0;

	for (unsigned i = 0; i < n; i++)
		if (dedup_insert(d, id_fp("event", i)) != 0)
			bad++;
	ck_assert_msg(bad == 0, "%u of %u distinct ids were reported as seen", bad, n);
	ck_assert_uint_eq(dedup_count(d), n);
	/* run files are unlinked: nothing visible in the directory */
	ck_assert_uint_eq(entries(basedir), 0);
	/* every id again, in another order: all seen */
	for (unsigned k = 0; k < n; k++) {
		unsigned i = (unsigned)(((uint64_t)k * 7919) % n);

		if (dedup_insert(d, id_fp("event", i)) != 1)
			bad++;
	}
	ck_assert_msg(bad == 0, "%u re-inserted ids were reported as new", bad);
	ck_assert_uint_eq(dedup_count(d), n);
	/* fresh ids: all new, then all seen */
	for (unsigned i = 0; i < fresh; i++)
		if (dedup_insert(d, id_fp("fresh", i)) != 0)
			bad++;
	ck_assert_msg(bad == 0, "%u fresh ids were reported as seen", bad);
	for (unsigned i = 0; i < fresh; i += 7)
		ck_assert_int_eq(dedup_insert(d, id_fp("fresh", i)), 1);
	ck_assert_uint_eq(dedup_count(d), n + fresh);
	dedup_free(d);
	ck_assert_uint_eq(entries(basedir), 0);
}
END_TEST

START_TEST(same_lo_many_hi_spilled)
{
	/* fingerprints that share lo (one table chain, one Bloom start) and
	 * differ in hi, spread over runs */
	dedup_set *d = dedup_new(64 * 1024, basedir);

	for (uint64_t i = 1; i <= 5000; i++) {
		dedup_fp fp = { i * 0x9e3779b97f4a7c15ULL, 42 };

		ck_assert_int_eq(dedup_insert(d, fp), 0);
	}
	for (uint64_t i = 1; i <= 5000; i++) {
		dedup_fp fp = { i * 0x9e3779b97f4a7c15ULL, 42 };
		dedup_fp other = { i * 0x9e3779b97f4a7c15ULL, 43 };

		ck_assert_int_eq(dedup_insert(d, fp), 1);
		ck_assert_int_eq(dedup_insert(d, other), 0);
	}
	ck_assert_uint_eq(dedup_count(d), 10000);
	dedup_free(d);
}
END_TEST

START_TEST(spill_dir_unusable)
{
	dedup_set *d = dedup_new(64 * 1024, "/nonexistent/evshare/dedup");
	int rc = 0;
	unsigned i;

	for (i = 0; i < 100000 && rc == 0; i++)
		rc = dedup_insert(d, id_fp("x", i));
	ck_assert_int_eq(rc, -1);
	dedup_free(d);
}
END_TEST

START_TEST(tiny_budget)
{
	/* a budget smaller than the smallest table still makes a working set */
	static const size_t budgets[] = { 0, 1000, 16383 };

	for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
		dedup_set *d = dedup_new(budgets[b], basedir);

		for (unsigned i = 0; i < 5000; i++)
			ck_assert_int_eq(dedup_insert(d, id_fp("t", i)), 0);
		for (unsigned i = 0; i < 5000; i++)
			ck_assert_int_eq(dedup_insert(d, id_fp("t", i)), 1);
		dedup_free(d);
	}
}
END_TEST

Suite *dedup_suite(void)
{
	Suite *s = suite_create("dedup");
	TCase *tc = tcase_create("dedup");
	TCase *tiny = tcase_create("dedup-tiny-budget");

	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_test(tc, siphash128_reference_vectors);
	tcase_add_test(tc, siphash128_sensitivity);
	tcase_add_test(tc, fingerprint_process_key);
	tcase_add_test(tc, insert_new_and_seen);
	tcase_add_test(tc, unbounded_memory);
	tcase_add_test(tc, bounded_memory_with_runs);
	tcase_add_test(tc, same_lo_many_hi_spilled);
	tcase_add_test(tc, spill_dir_unusable);
	suite_add_tcase(s, tc);
	/* a hang here is a failure, not a stuck test run */
	tcase_set_timeout(tiny, 20);
	tcase_add_unchecked_fixture(tiny, base_setup, base_teardown);
	tcase_add_test(tiny, tiny_budget);
	suite_add_tcase(s, tiny);
	return s;
}
