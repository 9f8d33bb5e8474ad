/*
 * check_store_set.c - the stores a run reads from, each opened once: the
 * same location (URL and settings) gives the same store, another setting
 * another one, a failed open is not remembered.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_set.h"
#include "util.h"

static location parse(const char *url)
{
	location l;
	buf err = BUF_INIT;

	ck_assert_msg(location_parse(url, "/base", &l, &err) == ES_OK, "%s: %s", url,
		      err.data ? err.data : "");
	buf_release(&err);
	return l;
}

START_TEST(one_store_per_location)
{
	store_set *set = store_set_new();
	location a = parse("file:///tmp/evshare-set-a/"), a2 = parse("file:///tmp/evshare-set-a/");
	location b = parse("file:///tmp/evshare-set-b/");
	store *sa, *sa2, *sb, *sa3;

	ck_assert_int_eq(store_set_get(set, &a, NULL, &sa), ES_OK);
	ck_assert_int_eq(store_set_get(set, &a2, NULL, &sa2), ES_OK);
	ck_assert_ptr_eq(sa, sa2);
	ck_assert_int_eq(store_set_get(set, &b, NULL, &sb), ES_OK);
	ck_assert_ptr_ne(sa, sb);
	/* another setting is another store */
	a2.max_list_keys = 1234;
	ck_assert_int_eq(store_set_get(set, &a2, NULL, &sa3), ES_OK);
	ck_assert_ptr_ne(sa, sa3);
	/* another owner (a subscriber's sink) is another store; the same
	 * owner gets the same one again */
	{
		store *p1, *p2, *p1again;

		ck_assert_int_eq(store_set_get(set, &b, "P1", &p1), ES_OK);
		ck_assert_int_eq(store_set_get(set, &b, "P2", &p2), ES_OK);
		ck_assert_int_eq(store_set_get(set, &b, "P1", &p1again), ES_OK);
		ck_assert(p1 != sb && p1 != p2 && p1 == p1again);
	}
	location_release(&a);
	location_release(&a2);
	location_release(&b);
	store_set_free(set);
	store_set_free(NULL);
}
END_TEST

Suite *store_set_suite(void)
{
	Suite *s = suite_create("store_set");
	TCase *tc = tcase_create("store_set");

	tcase_add_test(tc, one_store_per_location);
	suite_add_tcase(s, tc);
	return s;
}
