/*
 * fuzz_keyfmt.c - libFuzzer target for output key templates (keyfmt.h).
 *
 * Input: the template on the first line; optional second and third lines
 * name the subscriber and the source (used when they are valid org_ids,
 * as the config loader guarantees); then up to 12 bytes give the run start
 * (8 bytes, any int64 milliseconds, as a journal may hold) and {seq}.
 *
 * A refused template comes with a message and no keyfmt.  An accepted one
 * contains {run_id} and {seq}, says whether it uses {source}, and renders,
 * for the input's values and a few fixed ones, a key that is safe
 * (store_key_is_safe) and equal to what a reference substitution written
 * here makes (dates from a naive calendar, for 1970 to 2099).
 * Seeds are in tests/fuzz/corpus/keyfmt/.
 *
 * Built and run by tests/fuzz/run-fuzz.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "keyfmt.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RUN_ID "20261127T004612Z-1a2b3c4d"

/* Civil date of t_ms for 1970 <= year < 2100, the slow way. */
static bool naive_date(int64_t t_ms, int *y, int *mo, int *d, int *h)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t days;

	if (t_ms < 0 || t_ms >= 4102444800000)   /* 2100-01-01 */
		return false;
	days = t_ms / 86400000;
	*h = (int)(t_ms / 3600000 % 24);
	for (*y = 1970;; (*y)++) {
		int len = *y % 4 == 0 ? 366 : 365;   /* no century year in range */

		if (days < len)
			break;
		days -= len;
	}
	for (*mo = 1;; (*mo)++) {
		int len = mdays[*mo - 1] + (*mo == 2 && *y % 4 == 0);

		if (days < len)
			break;
		days -= len;
	}
	*d = (int)days + 1;
	return true;
}

/* The reference: substitute each {name}; false if the date is out of the
 * naive calendar's range. */
static bool reference(const char *tmpl, const keyfmt_vars *v, buf *out)
{
	int y = 0, mo = 0, d = 0, h = 0;
	bool dated = naive_date(v->run_start_ms, &y, &mo, &d, &h);
	const char *p = tmpl;

	while (*p) {
		const char *close;
		size_t n;

		if (*p != '{') {
			buf_addch(out, *p++);
			continue;
		}
		close = strchr(p, '}');
		if (!close)
			abort();          /* the template was accepted */
		n = (size_t)(close - p - 1);
#define IS(name) (n == sizeof(name) - 1 && !memcmp(p + 1, name, n))
		if (IS("subscriber"))
			buf_addstr(out, v->subscriber);
		else if (IS("source"))
			buf_addstr(out, v->source);
		else if (IS("run_id"))
			buf_addstr(out, v->run_id);
		else if (IS("seq"))
			buf_printf(out, "%06u", v->seq);
		else if (!dated && (IS("yyyy") || IS("mm") || IS("dd") || IS("hh")))
			return false;
		else if (IS("yyyy"))
			buf_printf(out, "%04d", y);
		else if (IS("mm"))
			buf_printf(out, "%02d", mo);
		else if (IS("dd"))
			buf_printf(out, "%02d", d);
		else if (IS("hh"))
			buf_printf(out, "%02d", h);
		else
			abort();          /* an unknown placeholder was accepted */
#undef IS
		p = close + 1;
	}
	return true;
}

static void check_render(const keyfmt *k, const char *tmpl, const keyfmt_vars *v)
{
	buf key = BUF_INIT, want = BUF_INIT;

	if (!keyfmt_render(k, v, &key) || !key.data || !store_key_is_safe(key.data))
		abort();
	if (!strstr(key.data, v->run_id))
		abort();
	if (reference(tmpl, v, &want) &&
	    (want.len != key.len || memcmp(want.data, key.data, key.len)))
		abort();
	/* appending to a buffer that holds something renders the same */
	buf_reset(&want);
	buf_addstr(&want, "prefix/");
	if (!keyfmt_render(k, v, &want) || strcmp(want.data + 7, key.data))
		abort();
	buf_release(&key);
	buf_release(&want);
}

/* The next line of p[0..n) as a C string (allocated), or NULL at the end. */
static char *next_line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *nl;
	char *s;

	if (*p >= end)
		return NULL;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	if (!nl)
		nl = end;
	s = xstrndup((const char *)*p, (size_t)(nl - *p));
	*p = nl < end ? nl + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char *tmpl, *sub, *src;
	keyfmt *k = (keyfmt *)&size;   /* must be overwritten */
	buf err = BUF_INIT;
	keyfmt_vars v = { "TN-partner-0001", "TN-a1db4e4e-315f-4a67-9036-ecacd370b561",
			  1795307172000, RUN_ID, 1 };
	es_result r;

	tmpl = next_line(&p, end);
	if (!tmpl)
		return 0;
	sub = next_line(&p, end);
	src = next_line(&p, end);
	if (end - p >= 8) {
		uint64_t t = 0;

		for (int i = 0; i < 8; i++)
			t = t << 8 | *p++;
		v.run_start_ms = (int64_t)t;
	}
	if (end - p >= 4) {
		v.seq = (unsigned)p[0] << 24 | (unsigned)p[1] << 16 | (unsigned)p[2] << 8 | p[3];
		p += 4;
	}

	r = keyfmt_compile(tmpl, &k, &err);
	if (r != ES_OK) {
		if (r != ES_ERR_CONFIG || k || !err.len)
			abort();
		goto done;
	}
	if (!k || err.len || !strstr(tmpl, "{run_id}") || !strstr(tmpl, "{seq}") ||
	    keyfmt_uses_source(k) != (strstr(tmpl, "{source}") != NULL))
		abort();
	check_render(k, tmpl, &v);
	if (!keyfmt_uses_source(k)) {
		v.source = NULL;
		check_render(k, tmpl, &v);
		v.source = "TN-a";
	}
	if (sub && org_id_is_valid(sub))
		v.subscriber = sub;
	if (src && org_id_is_valid(src))
		v.source = src;
	check_render(k, tmpl, &v);
	/* the smallest and most awkward org_ids, the first and last times */
	{
		static const char *const orgs[] = { "a", "...", "-", "_.", "A.-_z9" };
		static const int64_t times[] = { 0, -1, 951782400000 /* 2000-02-29 */,
						 4102444799999, INT64_MIN, INT64_MAX };

		for (size_t i = 0; i < sizeof(orgs) / sizeof(orgs[0]); i++) {
			v.subscriber = orgs[i];
			v.source = orgs[(i + 1) % (sizeof(orgs) / sizeof(orgs[0]))];
			v.run_start_ms = times[i % (sizeof(times) / sizeof(times[0]))];
			check_render(k, tmpl, &v);
		}
		v.run_start_ms = times[5];
		v.seq = UINT32_MAX;
		check_render(k, tmpl, &v);
	}
	keyfmt_free(k);
done:
	buf_release(&err);
	free(tmpl);
	free(sub);
	free(src);
	return 0;
}
