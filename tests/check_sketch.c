/*
 * check_sketch.c - the summary of a listing that names what was added
 * and removed since: recovery of small differences, failure on large
 * ones, the stored form.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_random(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static bool has(const uint64_t *v, size_t n, uint64_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* A listing of `common` names, then `add` more and `del` fewer: the
 * difference is recovered exactly. */
static bool round_trip(size_t common, size_t add, size_t del)
{
	sketch before, now;
	uint64_t *names = malloc((common + add) * sizeof(uint64_t));
	uint64_t got_add[SKETCH_CELLS], got_del[SKETCH_CELLS];
	size_t na = 0, nd = 0;
	bool ok;

	sketch_init(&before);
	sketch_init(&now);
	for (size_t i = 0; i < common + add; i++) {
		char key[32];

		snprintf(key, sizeof(key), "f-%016llx", (unsigned long long)next_random());
		names[i] = sketch_name(key, "etag");
		if (i < common)
			sketch_add(&before, names[i]);
		if (i >= del)
			sketch_add(&now, names[i]);
	}
	ok = sketch_diff(&now, &before, got_add, &na, got_del, &nd, SKETCH_CELLS);
	if (ok) {
		ck_assert_uint_eq(na, add);
		ck_assert_uint_eq(nd, del);
		for (size_t i = 0; i < add; i++)
			ck_assert(has(got_add, na, names[common + i]));
		for (size_t i = 0; i < del; i++)
			ck_assert(has(got_del, nd, names[i]));
	}
	free(names);
	return ok;
}

START_TEST(small_differences_are_named)
{
	size_t recovered = 0, tries = 0;

	/* none, one, a few: always */
	for (size_t common = 0; common < 3000; common += 997) {
		ck_assert(round_trip(common, 0, 0));
		ck_assert(round_trip(common, 1, 0));
		ck_assert(round_trip(common + 1, 0, 1));
		for (int k = 0; k < 50; k++) {
			ck_assert(round_trip(common + 2, 2, 2));
			recovered += round_trip(common + 3, 5, 0);
			tries++;
		}
	}
	/* five of 24 cells: almost always */
	ck_assert_msg(recovered * 100 >= tries * 98, "%zu of %zu", recovered, tries);
}
END_TEST

START_TEST(large_differences_are_not_guessed)
{
	/* far more than the cells can hold: told, never a wrong answer */
	for (int k = 0; k < 20; k++)
		ck_assert(!round_trip(100, 60, 0));
}
END_TEST

START_TEST(names_depend_on_key_and_etag)
{
	ck_assert(sketch_name("a", "b") != sketch_name("a", "c"));
	ck_assert(sketch_name("a", "b") != sketch_name("b", "a"));
	ck_assert(sketch_name("ab", "") != sketch_name("a", "b"));
	ck_assert(sketch_name("a", NULL) == sketch_name("a", ""));
}
END_TEST

START_TEST(stored_form_round_trips)
{
	sketch s, t;
	unsigned char raw[SKETCH_BYTES], raw2[SKETCH_BYTES];

	sketch_init(&s);
	for (int i = 0; i < 100; i++)
		sketch_add(&s, next_random());
	sketch_store(&s, raw);
	sketch_load(&t, raw);
	for (size_t i = 0; i < SKETCH_CELLS; i++) {
		ck_assert_int_eq(s.cell[i].count, t.cell[i].count);
		ck_assert(s.cell[i].ids == t.cell[i].ids);
		ck_assert(s.cell[i].checks == t.cell[i].checks);
	}
	sketch_store(&t, raw2);
	ck_assert(!memcmp(raw, raw2, sizeof(raw)));
}
END_TEST

Suite *sketch_suite(void)
{
	Suite *s = suite_create("sketch");
	TCase *tc = tcase_create("sketch");

	tcase_add_test(tc, small_differences_are_named);
	tcase_add_test(tc, large_differences_are_not_guessed);
	tcase_add_test(tc, names_depend_on_key_and_etag);
	tcase_add_test(tc, stored_form_round_trips);
	suite_add_tcase(s, tc);
	return s;
}
