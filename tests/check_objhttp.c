/*
 * check_objhttp.c - the request loop the HTTP object stores share, driven
 * through a scripted backend (no network): resumed GETs (Range offsets, a
 * 206 that starts early, a 200 that ignores the Range, a reply shorter than
 * its object, a stream complete before the connection broke), what is
 * refused, listings and what they keep, retries and their limits, the
 * failure messages, quiet calls, the lifecycle of an upload in parts (two
 * scripted protocols, one that begins and takes back as S3 does, one that
 * does neither as Azure), and the digests of bodies.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "objhttp.h"

/* --- a scripted backend ------------------------------------------------ */

struct step {
	bool sign_fails;
	long status;
	const char *content_range;   /* NULL: none */
	const char *content_length;  /* NULL: none */
	const char *body;            /* sent, whatever the status */
	http_error error;            /* after the body */
	const char *want_range;      /* the Range this attempt must carry */
	int64_t takes_ms;            /* on the fake clock */
	bool run_deadline;           /* error HTTP_E_DEADLINE: the run's */
};

/* The clock deadlines are read on: moved by sends and sleeps only. */
static int64_t fake_clock;
static int64_t budgets[32];      /* each attempt's req->timeout_ms */
static size_t nbudgets;

struct script {
	const struct step *steps;
	size_t nsteps, sent;
	char *target_url;            /* the last target built */
};

static void fake_target(void *ud, const objhttp_call *c, objhttp_target *out)
{
	struct script *sc = ud;

	out->host = xstrdup("fake.example");
	out->path = xasprintf("/b/%s", c->key ? c->key : "");
	out->url = xasprintf("http://fake.example%s", out->path);
	free(sc->target_url);
	sc->target_url = xstrdup(out->url);
}

static void add_header(http_response *r, const char *name, const char *value)
{
	r->headers[r->nheaders].name = xstrdup(name);
	r->headers[r->nheaders].value = xstrdup(value);
	r->nheaders++;
}

/* What http_perform would leave in resp for this step. */
static es_result fake_send(void *ud, http_client *http, const objhttp_call *c,
			   const objhttp_target *t, const char *range, http_request *req,
			   http_response *resp)
{
	struct script *sc = ud;
	const struct step *st;
	size_t n;

	(void)c;
	(void)http;
	ck_assert_uint_lt(sc->sent, sc->nsteps);
	st = &sc->steps[sc->sent++];
	if (nbudgets < 32)
		budgets[nbudgets++] = req->timeout_ms;
	fake_clock += st->takes_ms;
	if (st->want_range)
		ck_assert_str_eq(range ? range : "(none)", st->want_range);
	else
		ck_assert_ptr_null(range);
	if (st->sign_fails)
		return ES_ERR_INTERNAL;
	req->url = t->url;
	memset(resp, 0, sizeof(*resp));
	resp->status = st->status;
	if (st->content_range)
		add_header(resp, "Content-Range", st->content_range);
	if (st->content_length)
		add_header(resp, "Content-Length", st->content_length);
	n = st->body ? strlen(st->body) : 0;
	if (n && st->status >= 200 && st->status < 300 && req->on_body) {
		/* two pieces, as a body arrives */
		size_t half = n / 2;

		if (req->on_body(req->ud, st->body, half) ||
		    req->on_body(req->ud, st->body + half, n - half)) {
			resp->error = HTTP_E_ABORTED;
			return ES_OK;
		}
	} else if (n) {
		buf_add(&resp->body, st->body, n);
	}
	resp->body_bytes = n;
	resp->error = st->error;
	resp->run_deadline = st->run_deadline;
	if (st->error != HTTP_OK)
		snprintf(resp->message, sizeof(resp->message), "scripted");
	return ES_OK;
}

/* The code is the error body's first word, the rest its message. */
static void fake_reply_error(const http_response *r, objhttp_error *out)
{
	const char *sp;

	if (!r->body.len)
		return;
	sp = strchr(r->body.data, ' ');
	out->code = sp ? xstrndup(r->body.data, (size_t)(sp - r->body.data))
		       : xstrdup(r->body.data);
	out->message = sp ? xstrdup(sp + 1) : NULL;
}

static es_result fake_status_failure(void *ud, const objhttp_call *c, const objhttp_error *e,
				     bool exhausted, buf *m)
{
	(void)ud;
	objhttp_add_status(m, c->resp.status, e->code ? e->code : "(no fake code)",
			   e->message);
	return exhausted ? ES_ERR_TEMP : ES_ERR_REMOTE;
}

static const objhttp_ops fake_ops = {
	.no_code = "(no fake code)",
	.ca_bundle_env = "FAKE_CA_BUNDLE",
	.reply_cap = 1 << 20,
	.target = fake_target,
	.send = fake_send,
	.reply_error = fake_reply_error,
	.status_failure = fake_status_failure,
};

static unsigned slept;
static unsigned sleeps[32];      /* each wait, ms */

static uint64_t no_random(void *ud)
{
	(void)ud;
	return 0;
}

/* With base_ms = max_ms = 4000: every wait is 4000 ms. */
static uint64_t top_random(void *ud)
{
	(void)ud;
	return 4000;
}

static void count_sleep(void *ud, unsigned ms)
{
	(void)ud;
	if (slept < 32)
		sleeps[slept] = ms;
	slept++;
	fake_clock += ms;
}

static int64_t fake_now(void *ud)
{
	(void)ud;
	return fake_clock;
}

struct fixture {
	store st;
	struct script sc;
	objhttp h;
	buf got;                     /* what the GET's callback received */
	int stop_after;              /* > 0: the callback stops past that many bytes */
};

static void fixture_init(struct fixture *f, const struct step *steps, size_t n,
			 unsigned attempts)
{
	buf err = BUF_INIT;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(location_parse("s3://bkt/in/", "/", &f->st.loc, &err), ES_OK);
	buf_release(&err);
	f->sc.steps = steps;
	f->sc.nsteps = n;
	f->h.st = &f->st;
	f->h.ops = &fake_ops;
	f->h.ud = &f->sc;
	f->h.endpoint_host = "fake.example";
	f->h.retry.max_attempts = attempts;
	f->h.xfer.attempts = attempts;
	f->h.retry.random = no_random;
	f->h.retry.sleep_ms = count_sleep;
	f->h.retry.now_ms = fake_now;
	buf_init(&f->got, 1 << 20);
	slept = 0;
	fake_clock = time_now_ms();
	nbudgets = 0;
	http_set_deadline(0);
}

static void fixture_release(struct fixture *f)
{
	location_release(&f->st.loc);
	free(f->sc.target_url);
	buf_release(&f->got);
}

static int collect(void *ud, const char *p, size_t n)
{
	struct fixture *f = ud;

	buf_add(&f->got, p, n);
	return f->stop_after > 0 && f->got.len > (size_t)f->stop_after;
}

static es_result get(struct fixture *f, const char *etag)
{
	store_object obj = { (char *)"in/k", 10, 0, (char *)etag };

	return objhttp_get(&f->h, &obj, collect, f);
}

/* --- resumed GETs ------------------------------------------------------ */

START_TEST(get_whole_in_one)
{
	static const struct step steps[] = {
		{ .status = 200, .content_length = "10", .body = "0123456789" },
	};
	struct fixture f;

	fixture_init(&f, steps, 1, 5);
	ck_assert_int_eq(get(&f, "e1"), ES_OK);
	ck_assert_str_eq(f.got.data, "0123456789");
	ck_assert_str_eq(f.sc.target_url, "http://fake.example/b/in/k");
	ck_assert_uint_eq(slept, 0);
	fixture_release(&f);
}
END_TEST

START_TEST(get_resumes_from_what_was_delivered)
{
	/* cut after 4 bytes; the resumed reply starts two bytes early; a
	 * resume that made progress is not counted as a failure, so two
	 * attempts are enough however many times the body is cut */
	static const struct step steps[] = {
		{ .status = 200, .content_length = "10", .body = "0123", .error = HTTP_E_RECV },
		{ .status = 206, .content_range = "bytes 2-6/10", .body = "23456",
		  .error = HTTP_E_STALL, .want_range = "bytes=4-" },
		{ .status = 206, .content_range = "bytes 7-9/10", .body = "789",
		  .want_range = "bytes=7-" },
	};
	struct fixture f;

	fixture_init(&f, steps, 3, 2);
	ck_assert_int_eq(get(&f, "e1"), ES_OK);
	ck_assert_str_eq(f.got.data, "0123456789");
	ck_assert_uint_eq(f.sc.sent, 3);
	ck_assert_uint_eq(slept, 2);
	fixture_release(&f);
}
END_TEST

START_TEST(get_whole_reply_to_a_range_is_skipped)
{
	/* a server that ignores Range sends the whole object again */
	static const struct step steps[] = {
		{ .status = 200, .content_length = "10", .body = "01234", .error = HTTP_E_RECV },
		{ .status = 200, .content_length = "10", .body = "0123456789",
		  .want_range = "bytes=5-" },
	};
	struct fixture f;

	fixture_init(&f, steps, 2, 5);
	ck_assert_int_eq(get(&f, NULL), ES_OK);
	ck_assert_str_eq(f.got.data, "0123456789");
	fixture_release(&f);
}
END_TEST

START_TEST(get_shorter_than_announced_is_resumed)
{
	static const struct step steps[] = {
		{ .status = 206, .content_range = "bytes 0-5/10", .body = "012345" },
		{ .status = 206, .content_range = "bytes 6-9/10", .body = "6789",
		  .want_range = "bytes=6-" },
	};
	struct fixture f;

	fixture_init(&f, steps, 2, 5);
	ck_assert_int_eq(get(&f, NULL), ES_OK);
	ck_assert_str_eq(f.got.data, "0123456789");
	fixture_release(&f);
}
END_TEST

START_TEST(get_complete_before_the_break_sends_nothing_more)
{
	static const struct step steps[] = {
		{ .status = 200, .content_length = "10", .body = "0123456789",
		  .error = HTTP_E_RECV },
	};
	struct fixture f;

	fixture_init(&f, steps, 1, 5);
	ck_assert_int_eq(get(&f, NULL), ES_OK);
	ck_assert_str_eq(f.got.data, "0123456789");
	ck_assert_uint_eq(f.sc.sent, 1);
	fixture_release(&f);
}
END_TEST

START_TEST(get_refuses_a_reply_that_starts_late)
{
	static const struct step steps[] = {
		{ .status = 200, .content_length = "10", .body = "0123", .error = HTTP_E_RECV },
		{ .status = 206, .content_range = "bytes 6-9/10", .body = "6789",
		  .want_range = "bytes=4-" },
	};
	struct fixture f;

	fixture_init(&f, steps, 2, 5);
	ck_assert_int_eq(get(&f, NULL), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "cannot read 's3://bkt/in/k': the resumed "
			 "reply starts at byte 6, not 4");
	ck_assert_str_eq(f.got.data, "0123");
	fixture_release(&f);
}
END_TEST

START_TEST(get_refuses_a_206_without_content_range)
{
	static const struct step steps[] = {
		{ .status = 206, .content_range = "bytes 0-3", .body = "0123" },
	};
	struct fixture f;

	fixture_init(&f, steps, 1, 5);
	ck_assert_int_eq(get(&f, NULL), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "cannot read 's3://bkt/in/k': a 206 reply "
			 "without a valid Content-Range");
	ck_assert_uint_eq(f.got.len, 0);
	fixture_release(&f);
}
END_TEST

START_TEST(get_stopped_by_the_reader_logs_nothing)
{
	static const struct step steps[] = {
		{ .status = 200, .content_length = "10", .body = "0123456789" },
	};
	struct fixture f;

	fixture_init(&f, steps, 1, 5);
	f.stop_after = 3;
	ck_assert_int_eq(get(&f, NULL), ES_ERR_DATA);
	ck_assert_str_eq(store_last_error(&f.st), "");
	fixture_release(&f);
}
END_TEST

START_TEST(get_precondition_failed_is_final)
{
	static const struct step steps[] = {
		{ .status = 412, .body = "PreconditionFailed At least one condition failed." },
	};
	struct fixture f;

	fixture_init(&f, steps, 1, 5);
	ck_assert_int_eq(get(&f, "old"), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "cannot read 's3://bkt/in/k': 412 "
			 "PreconditionFailed: At least one condition failed");
	ck_assert_uint_eq(slept, 0);
	fixture_release(&f);
}
END_TEST

START_TEST(get_refuses_a_body_past_the_listed_size)
{
	/* the object was listed with 10 bytes; the body goes on (no
	 * Content-Length): nothing past byte 10 is delivered, and the
	 * failure is final (a server that does this once does it again) */
	static const struct step steps[] = {
		{ .status = 200, .body = "0123456789ABCDEF" },
		{ .status = 200, .body = "0123456789" },
	};
	struct fixture f;

	fixture_init(&f, steps, 2, 5);
	ck_assert_int_eq(get(&f, NULL), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "cannot read 's3://bkt/in/k': the body went "
			 "past the listed size (10 bytes); the object changed since it was "
			 "listed, or the server is broken");
	ck_assert_uint_le(f.got.len, 10);
	ck_assert_uint_eq(f.sc.sent, 1);
	ck_assert_uint_eq(slept, 0);
	fixture_release(&f);
}
END_TEST

START_TEST(get_refuses_a_reply_announced_past_the_listed_size)
{
	static const struct step whole[] = {
		{ .status = 200, .content_length = "1000000", .body = "0123456789" },
	};
	static const struct step resumed[] = {
		{ .status = 200, .content_length = "10", .body = "0123", .error = HTTP_E_RECV },
		{ .status = 206, .content_range = "bytes 4-99/100", .body = "456789",
		  .want_range = "bytes=4-" },
	};
	struct fixture f;

	/* refused on its headers: not a byte of it is taken */
	fixture_init(&f, whole, 1, 5);
	ck_assert_int_eq(get(&f, NULL), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "cannot read 's3://bkt/in/k': the reply "
			 "announces 1000000 bytes, more than the listed size (10 bytes); the "
			 "object changed since it was listed, or the server is broken");
	ck_assert_uint_eq(f.got.len, 0);
	fixture_release(&f);
	/* a resumed reply whose Content-Range says the object is larger */
	fixture_init(&f, resumed, 2, 5);
	ck_assert_int_eq(get(&f, NULL), ES_ERR_REMOTE);
	ck_assert_ptr_nonnull(strstr(store_last_error(&f.st), "announces 100 bytes"));
	ck_assert_str_eq(f.got.data, "0123");
	fixture_release(&f);
}
END_TEST

/* --- deadlines ---------------------------------------------------------- */

START_TEST(object_deadline_bounds_retries_and_waits)
{
	/* 10 s for the request; each attempt takes 1.5 s and each wait 4 s:
	 * attempt 1 (0-1.5), wait 4 (to 5.5), attempt 2 (to 7), the next
	 * wait cut to 3 s (to 10), and no attempt 3 */
	static const struct step steps[] = {
		{ .status = 503, .body = "SlowDown Reduce.", .takes_ms = 1500 },
		{ .status = 503, .body = "SlowDown Reduce.", .takes_ms = 1500 },
		{ .status = 503, .body = "SlowDown Reduce.", .takes_ms = 1500 },
	};
	struct fixture f;
	objhttp_call c = { 0 };
	int64_t t0;

	fixture_init(&f, steps, 3, 100);
	f.st.loc.object_timeout_ms = 10000;
	f.h.retry.base_ms = f.h.retry.max_ms = 4000;
	f.h.retry.random = top_random;
	t0 = fake_clock;
	c.method = "PUT";
	c.key = "in/k";
	c.verb = "write";
	c.url = "s3://bkt/in/k";
	ck_assert_int_eq(objhttp_run(&f.h, &c), ES_ERR_TEMP);
	ck_assert_uint_eq(f.sc.sent, 2);
	ck_assert_uint_eq(slept, 2);
	ck_assert_uint_eq(sleeps[0], 4000);
	ck_assert_uint_eq(sleeps[1], 3000);          /* never past the deadline */
	ck_assert_int_eq(fake_clock - t0, 10000);
	/* each attempt's time budget is what is left of the object's */
	ck_assert_int_eq(budgets[0], 10000);
	ck_assert_int_eq(budgets[1], 4500);
	ck_assert_str_eq(store_last_error(&f.st), "cannot write 's3://bkt/in/k': object "
			 "deadline reached: more than 10 s for one request with its retries "
			 "(object_timeout); the last of 2 attempts: 503 SlowDown");
	objhttp_call_release(&c);
	fixture_release(&f);
}
END_TEST

START_TEST(run_deadline_bounds_retries_and_waits)
{
	static const struct step steps[] = {
		{ .status = 500, .takes_ms = 1000 },
		{ .status = 500, .takes_ms = 1000 },
	};
	struct fixture f;
	objhttp_call c = { 0 };
	int64_t t0;

	fixture_init(&f, steps, 2, 100);
	f.h.retry.base_ms = f.h.retry.max_ms = 4000;
	f.h.retry.random = top_random;
	t0 = fake_clock;
	http_set_deadline(t0 + 3000);                 /* before the object's (1 h) */
	c.method = "GET";
	c.verb = "list";
	c.url = "s3://bkt/in/";
	c.quiet = true;
	ck_assert_int_eq(objhttp_run(&f.h, &c), ES_ERR_TEMP);
	ck_assert_uint_eq(f.sc.sent, 1);
	ck_assert_uint_eq(sleeps[0], 2000);
	ck_assert_int_eq(fake_clock - t0, 3000);
	ck_assert_str_eq(c.message, "cannot list 's3://bkt/in/': run deadline reached "
			 "(run_timeout): the run may not go on; the last of 1 attempts: 500 "
			 "(no fake code)");
	objhttp_call_release(&c);
	/* a request started after it is not sent at all */
	ck_assert_int_eq(objhttp_run(&f.h, &c), ES_ERR_TEMP);
	ck_assert_uint_eq(f.sc.sent, 1);
	ck_assert_str_eq(c.message, "cannot list 's3://bkt/in/': run deadline reached "
			 "(run_timeout): the run may not go on");
	objhttp_call_release(&c);
	http_set_deadline(0);
	fixture_release(&f);
}
END_TEST

START_TEST(deadline_in_a_transfer_is_final)
{
	/* http.c cut the transfer at its budget: no retry, whatever is left */
	static const struct step object[] = {
		{ .status = 200, .body = "0123", .error = HTTP_E_DEADLINE },
	};
	static const struct step run[] = {
		{ .status = 200, .body = "0123", .error = HTTP_E_DEADLINE, .run_deadline = true },
	};
	struct fixture f;

	fixture_init(&f, object, 1, 5);
	f.st.loc.object_timeout_ms = 90500;
	ck_assert_int_eq(get(&f, NULL), ES_ERR_TEMP);
	ck_assert_str_eq(store_last_error(&f.st), "cannot read 's3://bkt/in/k': object deadline "
			 "reached: more than 90500 ms for one request with its retries "
			 "(object_timeout) (attempt 1)");
	ck_assert_uint_eq(slept, 0);
	fixture_release(&f);
	fixture_init(&f, run, 1, 5);
	ck_assert_int_eq(get(&f, NULL), ES_ERR_TEMP);
	ck_assert_str_eq(store_last_error(&f.st), "cannot read 's3://bkt/in/k': run deadline "
			 "reached (run_timeout): the run may not go on (attempt 1)");
	fixture_release(&f);
}
END_TEST

/* --- listings --------------------------------------------------------- */

/* A page's body: "key:size key:size ...|NEXT" (no '|': the last page). */
static void fake_list_query(buf *q, const char *prefix, const char *marker)
{
	buf_printf(q, "prefix=%s&marker=%s", prefix, marker ? marker : "");
}

static es_result fake_list_parse(const char *body, size_t n, const char *prefix,
				 store_list *out, char **next, char **err)
{
	const char *bar = memchr(body, '|', n), *end = bar ? bar : body + n, *p = body;

	if (n && body[0] == '!') {
		*err = xstrdup("not a page");
		return ES_ERR_REMOTE;
	}
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p)), *colon;
		char *key;

		if (!sp)
			sp = end;
		colon = memchr(p, ':', (size_t)(sp - p));
		ck_assert_ptr_nonnull(colon);
		key = xstrndup(p, (size_t)(colon - p));
		objhttp_list_add(out, prefix, key, (uint64_t)(colon[1] - '0'), 1000, "e");
		free(key);
		p = sp + 1;
	}
	*next = bar ? xstrndup(bar + 1, n - (size_t)(bar + 1 - body)) : NULL;
	return ES_OK;
}

static const objhttp_lister fake_lister = {
	.reply_cap = 1 << 20,
	.marker_name = "fake marker",
	.query = fake_list_query,
	.parse = fake_list_parse,
};

START_TEST(list_pages_and_what_is_kept)
{
	static const struct step steps[] = {
		{ .status = 200, .body = "in/a:1 in/dir/:0 out/b:2|m1" },
		{ .status = 200, .body = "in/dir/:3 in/c:0" },
	};
	struct fixture f;
	store_list l = { 0 };

	fixture_init(&f, steps, 2, 5);
	ck_assert_int_eq(objhttp_list(&f.h, &fake_lister, &l), ES_OK);
	ck_assert_uint_eq(l.count, 3);   /* not the folder marker, not out/b */
	ck_assert_str_eq(l.items[0].key, "in/a");
	ck_assert_str_eq(l.items[1].key, "in/dir/");
	ck_assert_str_eq(l.items[2].key, "in/c");
	ck_assert_str_eq(f.sc.target_url, "http://fake.example/b/");
	store_list_release(&l);
	fixture_release(&f);
}
END_TEST

START_TEST(list_refusals)
{
	static const struct step twice[] = {
		{ .status = 200, .body = "in/a:1|m1" },
		{ .status = 200, .body = "in/b:1|m1" },
	};
	static const struct step invalid[] = { { .status = 200, .body = "!" } };
	struct fixture f;
	store_list l = { 0 };

	fixture_init(&f, twice, 2, 5);
	ck_assert_int_eq(objhttp_list(&f.h, &fake_lister, &l), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "cannot list 's3://bkt/in/': the server sent "
			 "the same fake marker twice");
	store_list_release(&l);
	fixture_release(&f);

	fixture_init(&f, invalid, 1, 5);
	ck_assert_int_eq(objhttp_list(&f.h, &fake_lister, &l), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "cannot list 's3://bkt/in/': invalid reply: "
			 "not a page");
	ck_assert_uint_eq(l.count, 0);
	store_list_release(&l);
	fixture_release(&f);
}
END_TEST

START_TEST(list_bounds)
{
	/* a fresh marker every page: stopped at max_list_pages, the pages
	 * after it never asked for */
	static const struct step endless[] = {
		{ .status = 200, .body = "|m1" },
		{ .status = 200, .body = "in/a:1|m2" },
		{ .status = 200, .body = "|m3" },
		{ .status = 200, .body = "|m4" },
	};
	static const struct step many[] = {
		{ .status = 200, .body = "in/a:1 in/b:1|m1" },
		{ .status = 200, .body = "in/c:1 in/d:1|m2" },
		{ .status = 200, .body = "in/e:1" },
	};
	struct fixture f;
	store_list l = { 0 };

	fixture_init(&f, endless, 4, 5);
	f.st.loc.max_list_pages = 3;
	ck_assert_int_eq(objhttp_list(&f.h, &fake_lister, &l), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "'s3://bkt/in/': the listing passed 3 pages "
			 "(max_list_pages); raise max_list_pages or narrow the prefix");
	ck_assert_uint_eq(f.sc.sent, 3);
	store_list_release(&l);
	fixture_release(&f);
	/* keys: stopped at the page that passed max_list_keys */
	fixture_init(&f, many, 3, 5);
	f.st.loc.max_list_keys = 3;
	ck_assert_int_eq(objhttp_list(&f.h, &fake_lister, &l), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "'s3://bkt/in/': the listing passed 3 objects "
			 "(max_list_keys); raise max_list_keys or narrow the prefix");
	ck_assert_uint_eq(f.sc.sent, 2);
	store_list_release(&l);
	fixture_release(&f);
	/* exactly at both bounds: a listing */
	fixture_init(&f, many, 3, 5);
	f.st.loc.max_list_keys = 5;
	f.st.loc.max_list_pages = 3;
	ck_assert_int_eq(objhttp_list(&f.h, &fake_lister, &l), ES_OK);
	ck_assert_uint_eq(l.count, 5);
	store_list_release(&l);
	fixture_release(&f);
}
END_TEST

/* --- retries and messages ---------------------------------------------- */

static es_result run_put(struct fixture *f, bool quiet, bool error_in_2xx, objhttp_call *c)
{
	memset(c, 0, sizeof(*c));
	c->method = "PUT";
	c->key = "in/k";
	c->verb = "write";
	c->url = "s3://bkt/in/k";
	c->quiet = quiet;
	c->error_in_2xx = error_in_2xx;
	return objhttp_run(&f->h, c);
}

START_TEST(retries_until_the_attempts_run_out)
{
	static const struct step steps[] = {
		{ .status = 503, .body = "SlowDown Please reduce your request rate." },
		{ .status = 500 },
		{ .status = 503, .body = "SlowDown Please reduce your request rate." },
	};
	struct fixture f;
	objhttp_call c;

	fixture_init(&f, steps, 3, 3);
	ck_assert_int_eq(run_put(&f, false, false, &c), ES_ERR_TEMP);
	ck_assert_str_eq(store_last_error(&f.st), "cannot write 's3://bkt/in/k': 503 SlowDown: "
			 "Please reduce your request rate; gave up after 3 attempts");
	ck_assert_uint_eq(slept, 2);
	ck_assert(!c.had_transport_error);
	objhttp_call_release(&c);
	fixture_release(&f);
}
END_TEST

START_TEST(transport_failures_and_tls)
{
	static const struct step reset[] = {
		{ .error = HTTP_E_RECV }, { .error = HTTP_E_RECV },
	};
	static const struct step tls[] = { { .error = HTTP_E_TLS } };
	struct fixture f;
	objhttp_call c;

	fixture_init(&f, reset, 2, 2);
	ck_assert_int_eq(run_put(&f, false, false, &c), ES_ERR_TEMP);
	ck_assert_str_eq(store_last_error(&f.st), "cannot write 's3://bkt/in/k': connection "
			 "reset or closed early (scripted); gave up after 2 attempts");
	ck_assert(c.had_transport_error);
	objhttp_call_release(&c);
	fixture_release(&f);

	fixture_init(&f, tls, 1, 5);
	ck_assert_int_eq(run_put(&f, false, false, &c), ES_ERR_REMOTE);
	ck_assert_ptr_nonnull(strstr(store_last_error(&f.st), "; the TLS peer 'fake.example' is "
				     "not trusted or TLS failed (FAKE_CA_BUNDLE names a CA file)"));
	objhttp_call_release(&c);
	fixture_release(&f);
}
END_TEST

START_TEST(quiet_calls_keep_the_message)
{
	static const struct step steps[] = { { .status = 404, .body = "NoSuchUpload" } };
	struct fixture f;
	objhttp_call c;

	fixture_init(&f, steps, 1, 5);
	ck_assert_int_eq(run_put(&f, true, false, &c), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "");
	ck_assert_str_eq(c.message, "cannot write 's3://bkt/in/k': 404 NoSuchUpload");
	ck_assert_int_eq(c.resp.status, 404);
	objhttp_call_release(&c);
	ck_assert_ptr_null(c.message);
	fixture_release(&f);
}
END_TEST

START_TEST(signing_failures)
{
	/* A quiet call that cannot be signed has a message for its caller
	 * like any other failure (store_s3.c's copy left it NULL, and logged
	 * it as the store's error although the caller only warns). */
	static const struct step steps[] = { { .sign_fails = true } };
	struct fixture f;
	objhttp_call c;

	fixture_init(&f, steps, 1, 5);
	ck_assert_int_eq(run_put(&f, true, false, &c), ES_ERR_INTERNAL);
	ck_assert_str_eq(store_last_error(&f.st), "");
	ck_assert_str_eq(c.message, "cannot write 's3://bkt/in/k': the request could not be "
			 "signed");
	objhttp_call_release(&c);
	fixture_release(&f);

	fixture_init(&f, steps, 1, 5);
	ck_assert_int_eq(run_put(&f, false, false, &c), ES_ERR_INTERNAL);
	ck_assert_str_eq(store_last_error(&f.st), "cannot write 's3://bkt/in/k': the request "
			 "could not be signed");
	objhttp_call_release(&c);
	fixture_release(&f);
}
END_TEST

START_TEST(error_in_2xx_only_when_asked)
{
	static const struct step steps[] = { { .status = 200, .body = "InternalError Oops." },
					     { .status = 200, .body = "InternalError Oops." } };
	struct fixture f;
	objhttp_call c;

	/* a 2xx body is a reply, not an error... */
	fixture_init(&f, steps, 1, 1);
	ck_assert_int_eq(run_put(&f, false, false, &c), ES_OK);
	objhttp_call_release(&c);
	fixture_release(&f);
	/* ...unless the call says a 2xx may be an error document */
	fixture_init(&f, steps, 2, 2);
	ck_assert_int_eq(run_put(&f, false, true, &c), ES_ERR_TEMP);
	ck_assert_str_eq(store_last_error(&f.st), "cannot write 's3://bkt/in/k': 200 "
			 "InternalError: Oops; gave up after 2 attempts");
	objhttp_call_release(&c);
	fixture_release(&f);
}
END_TEST

START_TEST(status_text)
{
	buf m = BUF_INIT;

	objhttp_add_status(&m, 403, "AccessDenied", "Access Denied. ");
	ck_assert_str_eq(m.data, "403 AccessDenied: Access Denied");
	buf_reset(&m);
	objhttp_add_status(&m, 500, "(no S3 error code)", NULL);
	ck_assert_str_eq(m.data, "500 (no S3 error code)");
	buf_reset(&m);
	objhttp_add_status(&m, 400, "X", "..");
	ck_assert_str_eq(m.data, "400 X");
	buf_release(&m);
}
END_TEST

START_TEST(stall_timeout_setting)
{
	static const char *const bad[] = { "0", "3601", "x", "5s", "-1", " 5" };
	buf err = BUF_INIT;
	long v = -1;

	ck_assert_int_eq(objhttp_stall_timeout(NULL, &v, &err), ES_OK);
	ck_assert_int_eq(v, HTTP_DEFAULT_STALL_TIMEOUT_S);
	ck_assert_int_eq(objhttp_stall_timeout("", &v, &err), ES_OK);
	ck_assert_int_eq(v, HTTP_DEFAULT_STALL_TIMEOUT_S);
	ck_assert_int_eq(objhttp_stall_timeout("1", &v, &err), ES_OK);
	ck_assert_int_eq(v, 1);
	ck_assert_int_eq(objhttp_stall_timeout("3600", &v, &err), ES_OK);
	ck_assert_int_eq(v, 3600);
	ck_assert_uint_eq(err.len, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.len = 0;
		ck_assert_int_eq(objhttp_stall_timeout(bad[i], &v, &err), ES_ERR_CONFIG);
		ck_assert_ptr_nonnull(strstr(err.data, OBJHTTP_STALL_ENV));
		ck_assert_ptr_nonnull(strstr(err.data, bad[i]));
	}
	buf_release(&err);
}
END_TEST

START_TEST(endpoints)
{
	objhttp_endpoint e;
	buf err = BUF_INIT;

	ck_assert_int_eq(objhttp_endpoint_parse("http://127.0.0.1:10000/devstoreaccount1/",
						&e, &err), ES_OK);
	ck_assert_str_eq(e.scheme, "http");
	ck_assert_str_eq(e.host, "127.0.0.1:10000");
	ck_assert_str_eq(e.base_path, "/devstoreaccount1");
	objhttp_endpoint_release(&e);
	ck_assert_int_eq(objhttp_endpoint_parse("https://acct.blob.core.windows.net", &e, &err),
			 ES_OK);
	ck_assert_str_eq(e.base_path, "");
	objhttp_endpoint_release(&e);
	ck_assert_int_eq(objhttp_endpoint_parse("https://x/#frag", &e, &err), ES_ERR_CONFIG);
	ck_assert_ptr_nonnull(strstr(err.data, "fragment"));
	/* a pasted SAS URL: the message stops at the '?' */
	buf_reset(&err);
	ck_assert_int_eq(objhttp_endpoint_parse("https://acct.blob.core.windows.net/?sv=2022"
						"&sig=SECRETSIG", &e, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "endpoint 'https://acct.blob.core.windows.net/?...' must not "
			 "have a query or a fragment");
	buf_reset(&err);
	ck_assert_int_eq(objhttp_endpoint_parse("ftp://h/?sig=SECRETSIG", &e, &err),
			 ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "endpoint 'ftp://h/...' must start with http:// or https://");
	buf_reset(&err);
	ck_assert_int_eq(objhttp_endpoint_parse("https://?sig=SECRETSIG", &e, &err),
			 ES_ERR_CONFIG);
	ck_assert_ptr_null(strstr(err.data, "SECRETSIG"));
	buf_reset(&err);
	ck_assert_int_eq(objhttp_endpoint_parse("https://a b?sig=SECRETSIG", &e, &err),
			 ES_ERR_CONFIG);
	ck_assert_ptr_null(strstr(err.data, "SECRETSIG"));
	buf_release(&err);
}
END_TEST

START_TEST(part_sizes)
{
	const uint64_t mib = 1ull << 20;

	ck_assert_uint_eq(objhttp_part_size_for(0, 16 * mib, 10000), 16 * mib);
	ck_assert_uint_eq(objhttp_part_size_for(10 * 5 * mib, 5 * mib, 10), 5 * mib);
	ck_assert_uint_eq(objhttp_part_size_for(10 * 5 * mib + 1, 5 * mib, 10), 6 * mib);
	ck_assert_uint_eq(objhttp_part_size_for(100 * mib, 0, 10), 10 * mib);
}
END_TEST

/* When parts of a growing file are due: whole ones, new ones, from the
 * threshold on (or once begun), never past the limit. */
START_TEST(parts_due_of_a_growing_file)
{
	const uint64_t mib = 1ull << 20;

	/* below the threshold: nothing, unless the upload has begun */
	ck_assert_uint_eq(objhttp_parts_due(10 * mib, 5 * mib, 0, 100, false, 16 * mib), 0);
	ck_assert_uint_eq(objhttp_parts_due(10 * mib, 5 * mib, 0, 100, true, 16 * mib), 2);
	/* at the threshold: the whole parts only */
	ck_assert_uint_eq(objhttp_parts_due(16 * mib, 5 * mib, 0, 100, false, 16 * mib), 3);
	/* a threshold below one part: nothing until a part is whole */
	ck_assert_uint_eq(objhttp_parts_due(4 * mib, 5 * mib, 0, 100, false, 1 * mib), 0);
	ck_assert_uint_eq(objhttp_parts_due(5 * mib, 5 * mib, 0, 100, false, 1 * mib), 1);
	/* nothing new */
	ck_assert_uint_eq(objhttp_parts_due(14 * mib, 5 * mib, 2, 100, true, 0), 0);
	ck_assert_uint_eq(objhttp_parts_due(15 * mib, 5 * mib, 2, 100, true, 0), 3);
	/* more than the store takes: left to the end, which says so */
	ck_assert_uint_eq(objhttp_parts_due(15 * mib, 5 * mib, 0, 2, true, 0), 0);
	ck_assert_uint_eq(objhttp_parts_due(15 * mib, 0, 0, 100, true, 0), 0);
}
END_TEST

/* --- items on several connections ------------------------------------- */

struct items {
	atomic_uint sent[64];        /* times each item was sent */
	objhttp *conn[64];           /* the connection that sent it */
	size_t fail_from;            /* items at or past it fail (64: none) */
	/* items 0..meet-1 are held until meet senders hold one each: then
	 * each of them is on a connection of its own */
	unsigned meet, arrived;
	pthread_mutex_t mu;
	pthread_cond_t all_there;
};

/* Wait until `meet` senders are here; false if they never came (30 s,
 * a failsafe: a sender holds its item until then). */
static bool items_meet(struct items *it)
{
	struct timespec until;
	int rc = 0;
	bool met;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 30;
	pthread_mutex_lock(&it->mu);
	it->arrived++;
	pthread_cond_broadcast(&it->all_there);
	while (!(met = it->arrived >= it->meet) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&it->all_there, &it->mu, &until);
	pthread_mutex_unlock(&it->mu);
	return met;
}

static es_result send_item(objhttp *c, size_t i, void *ud, char **message)
{
	struct items *it = ud;

	ck_assert_uint_lt(i, 64);
	atomic_fetch_add(&it->sent[i], 1);
	it->conn[i] = c;
	if (i < it->meet && !items_meet(it)) {
		*message = xasprintf("item %zu: %u of %u senders came", i, it->arrived, it->meet);
		return ES_ERR_REMOTE;
	}
	if (i >= it->fail_from) {
		*message = xasprintf("item %zu failed", i);
		return i % 2 ? ES_ERR_TEMP : ES_ERR_REMOTE;
	}
	return ES_OK;
}

static void items_init(struct items *it, size_t fail_from, unsigned meet)
{
	pthread_condattr_t a;

	memset(it, 0, sizeof(*it));
	it->fail_from = fail_from;
	it->meet = meet;
	pthread_mutex_init(&it->mu, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&it->all_there, &a);
	pthread_condattr_destroy(&a);
}

static void items_release(struct items *it)
{
	pthread_mutex_destroy(&it->mu);
	pthread_cond_destroy(&it->all_there);
}

START_TEST(each_item_once_on_several_connections)
{
	struct fixture f;
	struct items it;
	size_t conns = 0;
	objhttp *seen[8] = { 0 };

	fixture_init(&f, NULL, 0, 1);
	/* the first 4 items wait for each other: 4 senders, 4 connections */
	items_init(&it, 64, 4);
	ck_assert_msg(objhttp_each(&f.h, 4, 40, send_item, &it, "s3://bkt/in/k") == ES_OK,
		      "%s", store_last_error(&f.st));
	for (size_t i = 0; i < 40; i++) {
		bool known = false;

		ck_assert_uint_eq(atomic_load(&it.sent[i]), 1);
		for (size_t k = 0; k < conns; k++)
			known |= seen[k] == it.conn[i];
		if (!known && conns < 8)
			seen[conns++] = it.conn[i];
	}
	ck_assert_uint_eq(atomic_load(&it.sent[40]), 0);
	ck_assert_uint_eq(conns, 4);
	ck_assert_uint_eq(f.h.nmore, 3);
	items_release(&it);
	/* one stream: this thread's connection only; n = 0: nothing */
	items_init(&it, 64, 0);
	ck_assert_int_eq(objhttp_each(&f.h, 1, 5, send_item, &it, "s3://bkt/in/k"), ES_OK);
	for (size_t i = 0; i < 5; i++)
		ck_assert_ptr_eq(it.conn[i], &f.h);
	ck_assert_int_eq(objhttp_each(&f.h, 4, 0, send_item, &it, "s3://bkt/in/k"), ES_OK);
	items_release(&it);
	objhttp_release(&f.h);
	ck_assert_uint_eq(f.h.nmore, 0);
	fixture_release(&f);
}
END_TEST

START_TEST(each_stops_at_the_first_failure_and_tells_the_lowest)
{
	struct fixture f;
	struct items it;
	size_t sent = 0;

	fixture_init(&f, NULL, 0, 1);
	items_init(&it, 10, 0);
	/* items 10.. fail: 10 is told (ES_ERR_REMOTE), whatever failed first */
	ck_assert_int_eq(objhttp_each(&f.h, 4, 60, send_item, &it, "s3://bkt/in/k"),
			 ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "item 10 failed");
	for (size_t i = 0; i < 60; i++) {
		ck_assert_uint_le(atomic_load(&it.sent[i]), 1);
		sent += atomic_load(&it.sent[i]);
	}
	for (size_t i = 0; i < 10; i++)
		ck_assert_uint_eq(atomic_load(&it.sent[i]), 1);
	/* the others stopped taking items: each sender fails at most once */
	ck_assert_uint_le(sent, 10 + 4);
	items_release(&it);
	objhttp_release(&f.h);
	fixture_release(&f);
}
END_TEST

/* --- uploads: the lifecycle, through a scripted protocol ---------------- */

/*
 * Two protocols on the fake connection: "multi" begins, keeps each part's
 * ETag and takes back (as S3), "blocks" has nothing to begin or take back
 * and commits with the MD5 of the whole object (as Azure).  Every request
 * is answered at once (200 with ETag "eN" for part N), unless a rule
 * refuses it; sends may come from several threads.
 */
struct proto {
	pthread_mutex_t mu;
	buf log;                     /* a line a request: "PUT in/k?QUERY [BODY]" */
	const char *refuse;          /* a part whose query holds it: 403 */
	const char *untagged;        /* ... is stored without an ETag */
	bool begin_fails, commit_fails;
	unsigned begins, commits, aborts, parts, bad_digests;
	unsigned sha256s;            /* bodies sent with their SHA-256 */
	char *committed;             /* what commit saw: "N tags... md5s-ok whole" */
};

static void proto_log(struct proto *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void proto_log(struct proto *p, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&p->mu);
	va_start(ap, fmt);
	buf_vprintf(&p->log, fmt, ap);
	va_end(ap);
	buf_addch(&p->log, '\n');
	pthread_mutex_unlock(&p->mu);
}

static void up_target(void *ud, const objhttp_call *c, objhttp_target *out)
{
	(void)ud;
	out->host = xstrdup("fake.example");
	out->path = xasprintf("/b/%s", c->key ? c->key : "");
	out->url = xasprintf("http://fake.example%s%s%s", out->path, c->query ? "?" : "",
			     c->query ? c->query : "");
}

static es_result up_send(void *ud, http_client *http, const objhttp_call *c,
			 const objhttp_target *t, const char *range, http_request *req,
			 http_response *resp)
{
	struct proto *p = ud;
	const http_body *b = c->body;
	char *body = xcalloc(1, b ? b->length + 1 : 1), etag[32];
	const char *md5 = NULL, *part;
	objhttp_digest d;
	buf extra = BUF_INIT;

	(void)http;
	(void)range;
	if (b && b->mem)
		memcpy(body, b->mem, b->length);
	else if (b)
		ck_assert_int_eq(pread(b->fd, body, b->length, (off_t)b->offset),
				 (ssize_t)b->length);
	for (size_t i = 0; i < c->nextra; i++)
		if (!strcmp(c->extra[i].name, "Content-MD5"))
			md5 = c->extra[i].value;
		else
			buf_printf(&extra, " %s: %s", c->extra[i].name, c->extra[i].value);
	objhttp_digest_mem(body, b ? b->length : 0, true, &d);
	req->url = t->url;
	memset(resp, 0, sizeof(*resp));
	resp->status = 200;
	part = c->query ? strstr(c->query, "part=") : NULL;
	pthread_mutex_lock(&p->mu);
	if (part)
		p->parts++;
	if (b && (!md5 || strcmp(md5, d.md5_b64)))
		p->bad_digests++;
	if (b && c->payload_hash) {
		if (strcmp(c->payload_hash, d.sha256_hex))
			p->bad_digests++;
		p->sha256s++;
	}
	pthread_mutex_unlock(&p->mu);
	proto_log(p, "%s %s%s%s [%s]%s", c->method, c->key, c->query ? "?" : "",
		  c->query ? c->query : "", body, extra.data ? extra.data : "");
	buf_release(&extra);
	if (part && p->refuse && strstr(c->query, p->refuse)) {
		resp->status = 403;
		buf_addstr(&resp->body, "AccessDenied no");
	} else if (part && !(p->untagged && strstr(c->query, p->untagged))) {
		snprintf(etag, sizeof(etag), "\"e%ld\"", strtol(part + 5, NULL, 10));
		add_header(resp, "ETag", etag);
	}
	free(body);
	return ES_OK;
}

static es_result up_begin(objhttp_upload *u)
{
	struct proto *p = u->h->ud;

	p->begins++;
	proto_log(p, "begin %s", u->url);
	if (p->begin_fails)
		return store_fail(u->h->st, ES_ERR_REMOTE, u->url, "cannot begin '%s'", u->url);
	u->id = xstrdup("U1");
	return ES_OK;
}

static void up_part_query(const objhttp_upload *u, size_t n, buf *q)
{
	buf_printf(q, "part=%zu%s%s", n + 1, u->id ? "&id=" : "", u->id ? u->id : "");
}

static es_result up_part_stored(objhttp_upload *u, size_t n, const http_response *r,
				char **message)
{
	const char *etag = http_response_header(r, "ETag");

	if (!etag) {
		*message = xasprintf("piece %zu has no tag", n + 1);
		return ES_ERR_REMOTE;
	}
	u->tags[n] = xstrdup(etag);
	return ES_OK;
}

static es_result up_commit(objhttp_upload *u)
{
	struct proto *p = u->h->ud;
	buf b = BUF_INIT;

	p->commits++;
	buf_printf(&b, "%zu", u->nsent);
	for (size_t i = 0; u->tags && i < u->nsent; i++)
		if (u->tags[i])
			buf_printf(&b, " %s", u->tags[i]);
	if (u->whole)
		buf_printf(&b, " whole %s", u->whole_md5_b64);
	free(p->committed);
	p->committed = buf_detach(&b, NULL);
	proto_log(p, "commit %s", p->committed);
	if (p->commit_fails)
		return store_fail(u->h->st, ES_ERR_TEMP, u->url, "cannot commit '%s'", u->url);
	return ES_OK;
}

static void up_abort(objhttp_upload *u)
{
	struct proto *p = u->h->ud;

	p->aborts++;
	proto_log(p, "abort %s", u->id);
}

static const objhttp_limits up_limits = {
	.service = "Fake", .upload = "fake", .part = "piece",
	.min_part = 1, .max_part = 1 << 20, .part_range = "1..1 MiB", .default_part = 4,
	.max_parts = 30, .max_single = 1 << 20, .default_attempts = 1,
};

static const objhttp_upload_ops multi_ops = {
	.limits = &up_limits, .body_sha256 = true, .whole_md5 = false,
	.begin = up_begin, .part_query = up_part_query,
	.part_stored = up_part_stored, .commit = up_commit, .abort = up_abort,
};

static const objhttp_upload_ops blocks_ops = {
	.limits = &up_limits, .body_sha256 = false, .whole_md5 = true,
	.put_header = { "x-fake-blob", "yes" }, .part_query = up_part_query,
	.commit = up_commit,
};

static const objhttp_ops up_http_multi = {
	.no_code = "(no fake code)", .ca_bundle_env = "FAKE_CA_BUNDLE", .reply_cap = 1 << 20,
	.target = up_target, .send = up_send, .reply_error = fake_reply_error,
	.status_failure = fake_status_failure, .upload = &multi_ops,
};

static const objhttp_ops up_http_blocks = {
	.no_code = "(no fake code)", .ca_bundle_env = "FAKE_CA_BUNDLE", .reply_cap = 1 << 20,
	.target = up_target, .send = up_send, .reply_error = fake_reply_error,
	.status_failure = fake_status_failure, .upload = &blocks_ops,
};

struct upfix {
	store st;
	objhttp h;
	struct proto p;
	char path[64];
	int fd;
};

/* Parts of 4 bytes, objects of 8 or more in parts, one connection. */
static void upfix_init(struct upfix *f, const objhttp_ops *ops)
{
	buf err = BUF_INIT;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(location_parse("s3://bkt/in/", "/", &f->st.loc, &err), ES_OK);
	buf_release(&err);
	pthread_mutex_init(&f->p.mu, NULL);
	f->h.st = &f->st;
	f->h.ops = ops;
	f->h.ud = &f->p;
	f->h.endpoint_host = "fake.example";
	f->h.retry.max_attempts = 1;
	f->h.retry.random = no_random;
	f->h.retry.sleep_ms = count_sleep;
	f->h.retry.now_ms = fake_now;
	f->h.xfer = (objhttp_transfer){ 4, 8, 1, 1 };
	snprintf(f->path, sizeof(f->path), "/tmp/evshare-upload-XXXXXX");
	f->fd = mkstemp(f->path);
	ck_assert_int_ge(f->fd, 0);
	fake_clock = time_now_ms();
	http_set_deadline(0);
}

static void upfix_release(struct upfix *f)
{
	objhttp_release(&f->h);
	location_release(&f->st.loc);
	buf_release(&f->p.log);
	free(f->p.committed);
	pthread_mutex_destroy(&f->p.mu);
	close(f->fd);
	unlink(f->path);
}

/* The file grows to hold n bytes of "abcdefghijklmnopqrstuvwxyzabc...". */
static void grow(struct upfix *f, size_t n)
{
	char text[256];

	ck_assert_uint_le(n, sizeof(text));
	for (size_t i = 0; i < n; i++)
		text[i] = (char)('a' + i % 26);
	ck_assert_int_eq(pwrite(f->fd, text, n, 0), (ssize_t)n);
}

static const char *log_of(struct upfix *f)
{
	return f->p.log.data ? f->p.log.data : "";
}

START_TEST(upload_of_a_growing_file)
{
	struct upfix f;
	store_upload *u;

	upfix_init(&f, &up_http_multi);
	u = objhttp_upload_new(&f.h, "in/k", 100);
	ck_assert_uint_eq(u->part_size, 4);
	/* below the threshold: nothing, not even a begin */
	grow(&f, 7);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 7), ES_OK);
	ck_assert_str_eq(log_of(&f), "");
	/* at the threshold: begun, and the whole parts go */
	grow(&f, 9);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 9), ES_OK);
	ck_assert_str_eq(log_of(&f), "begin s3://bkt/in/k\n"
			 "PUT in/k?part=1&id=U1 [abcd]\n"
			 "PUT in/k?part=2&id=U1 [efgh]\n");
	/* no new whole part: nothing */
	grow(&f, 11);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 11), ES_OK);
	ck_assert_uint_eq(f.p.parts, 2);
	/* the end: the rest, then the commit of every part's tag */
	grow(&f, 14);
	buf_reset(&f.p.log);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_OK);
	ck_assert_str_eq(log_of(&f), "PUT in/k?part=3&id=U1 [ijkl]\n"
			 "PUT in/k?part=4&id=U1 [mn]\n"
			 "commit 4 \"e1\" \"e2\" \"e3\" \"e4\"\n");
	ck_assert_uint_eq(f.p.begins, 1);
	ck_assert_uint_eq(f.p.sha256s, 4);
	ck_assert_uint_eq(f.p.bad_digests, 0);
	/* each part's MD5 is kept for the commit */
	{
		objhttp_digest d;

		objhttp_digest_mem("mn", 2, false, &d);
		ck_assert_mem_eq(u->md5s + 3 * 16, d.md5, 16);
	}
	/* committed: nothing to take back */
	objhttp_upload_free(&f.st, u);
	ck_assert_uint_eq(f.p.aborts, 0);
	upfix_release(&f);
}
END_TEST

START_TEST(upload_never_begun_is_one_put)
{
	struct upfix f;
	store_upload *u;

	upfix_init(&f, &up_http_multi);
	u = objhttp_upload_new(&f.h, "in/k", 100);
	grow(&f, 6);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 6), ES_OK);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_OK);
	ck_assert_str_eq(log_of(&f), "PUT in/k [abcdef] Content-Type: application/octet-stream\n");
	ck_assert_uint_eq(f.p.sha256s, 1);
	ck_assert_uint_eq(f.p.bad_digests, 0);
	objhttp_upload_free(&f.st, u);
	ck_assert_uint_eq(f.p.begins + f.p.aborts + f.p.commits, 0);
	/* a put at the threshold goes in parts at once: begun, sent,
	 * committed */
	grow(&f, 9);
	buf_reset(&f.p.log);
	ck_assert_int_eq(objhttp_put(&f.h, "in/k", f.path), ES_OK);
	ck_assert_str_eq(log_of(&f), "begin s3://bkt/in/k\n"
			 "PUT in/k?part=1&id=U1 [abcd]\n"
			 "PUT in/k?part=2&id=U1 [efgh]\n"
			 "PUT in/k?part=3&id=U1 [i]\n"
			 "commit 3 \"e1\" \"e2\" \"e3\"\n");
	ck_assert_uint_eq(f.p.aborts, 0);
	/* an unsafe key never begins; the put refuses it */
	u = objhttp_upload_new(&f.h, "in/../k", 100);
	buf_reset(&f.p.log);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 9), ES_OK);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_ERR_INTERNAL);
	ck_assert_str_eq(log_of(&f), "");
	objhttp_upload_free(&f.st, u);
	upfix_release(&f);
}
END_TEST

START_TEST(upload_first_failure_stops_the_rest)
{
	struct upfix f;
	store_upload *u;

	upfix_init(&f, &up_http_multi);
	f.h.xfer.upload_streams = 4;
	f.h.xfer.part_size = 1;
	f.h.xfer.threshold = 4;
	f.p.refuse = "part=3&";
	/* begun, then a part refused: the others stop, part 3 is told, and
	 * the upload is taken back once */
	u = objhttp_upload_new(&f.h, "in/k", 26);
	grow(&f, 24);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 24), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "cannot write 's3://bkt/in/k': 403 "
			 "AccessDenied: no");
	ck_assert_uint_le(f.p.parts, 24);
	ck_assert_uint_eq(u->nsent, 0);
	ck_assert_uint_eq(f.p.commits, 0);
	objhttp_upload_free(&f.st, u);
	ck_assert_uint_eq(f.p.aborts, 1);
	upfix_release(&f);
}
END_TEST

START_TEST(upload_parts_on_several_connections)
{
	struct upfix f;
	store_upload *u;

	upfix_init(&f, &up_http_multi);
	f.h.xfer.upload_streams = 4;
	f.h.xfer.part_size = 1;
	f.h.xfer.threshold = 1;
	u = objhttp_upload_new(&f.h, "in/k", 26);
	grow(&f, 26);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 20), ES_OK);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_OK);
	ck_assert_uint_eq(f.p.parts, 26);
	ck_assert_uint_eq(f.p.bad_digests, 0);
	ck_assert_uint_eq(f.h.nmore, 3);
	ck_assert_ptr_nonnull(strstr(f.p.committed, "26 \"e1\" \"e2\" \"e3\""));
	ck_assert_ptr_nonnull(strstr(f.p.committed, "\"e25\" \"e26\""));
	objhttp_upload_free(&f.st, u);
	ck_assert_uint_eq(f.p.aborts, 0);
	upfix_release(&f);
}
END_TEST

START_TEST(upload_failures_take_it_back)
{
	struct upfix f;
	store_upload *u;

	/* a failed commit: taken back, and only once */
	upfix_init(&f, &up_http_multi);
	f.p.commit_fails = true;
	u = objhttp_upload_new(&f.h, "in/k", 100);
	grow(&f, 10);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 10), ES_OK);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_ERR_TEMP);
	ck_assert_uint_eq(f.p.aborts, 1);
	objhttp_upload_free(&f.st, u);
	ck_assert_uint_eq(f.p.aborts, 1);
	/* a file that shrank after parts of it were sent */
	f.p.commit_fails = false;
	u = objhttp_upload_new(&f.h, "in/k", 100);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 10), ES_OK);
	ck_assert_int_eq(ftruncate(f.fd, 5), 0);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_ERR_INTERNAL);
	ck_assert_uint_eq(f.p.aborts, 2);
	{
		char *want = xasprintf("cannot write 's3://bkt/in/k': '%s' shrank to 5 bytes "
				       "after pieces of it were sent", f.path);

		ck_assert_str_eq(store_last_error(&f.st), want);
		free(want);
	}
	objhttp_upload_free(&f.st, u);
	/* a file that is gone at the end */
	u = objhttp_upload_new(&f.h, "in/k", 100);
	grow(&f, 10);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 10), ES_OK);
	unlink(f.path);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_ERR_IO);
	ck_assert_uint_eq(f.p.aborts, 3);
	objhttp_upload_free(&f.st, u);
	ck_assert_uint_eq(f.p.aborts, 3);
	close(f.fd);
	f.fd = open(f.path, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(f.fd, 0);
	/* freed before its end: taken back */
	grow(&f, 10);
	u = objhttp_upload_new(&f.h, "in/k", 100);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 10), ES_OK);
	objhttp_upload_free(&f.st, u);
	ck_assert_uint_eq(f.p.aborts, 4);
	/* a begin that fails sends nothing and leaves nothing to take back */
	f.p.begin_fails = true;
	f.p.parts = 0;
	u = objhttp_upload_new(&f.h, "in/k", 100);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 10), ES_ERR_REMOTE);
	ck_assert_uint_eq(f.p.parts, 0);
	objhttp_upload_free(&f.st, u);
	ck_assert_uint_eq(f.p.aborts, 4);
	upfix_release(&f);
}
END_TEST

START_TEST(upload_refusals)
{
	struct upfix f;
	store_upload *u;

	upfix_init(&f, &up_http_multi);
	/* a part stored without what the commit needs */
	f.p.untagged = "part=2&";
	u = objhttp_upload_new(&f.h, "in/k", 100);
	grow(&f, 10);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 10), ES_ERR_REMOTE);
	ck_assert_str_eq(store_last_error(&f.st), "piece 2 has no tag");
	objhttp_upload_free(&f.st, u);
	ck_assert_uint_eq(f.p.aborts, 1);
	/* more parts than the protocol takes (30): the file outgrew the size
	 * the part size was chosen for */
	f.p.untagged = NULL;
	u = objhttp_upload_new(&f.h, "in/k", 100);
	grow(&f, 130);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 8), ES_OK);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_ERR_INTERNAL);
	ck_assert_str_eq(store_last_error(&f.st), "cannot write 's3://bkt/in/k': 33 pieces of 4 "
			 "bytes are more than Fake takes");
	ck_assert_uint_eq(f.p.aborts, 2);
	objhttp_upload_free(&f.st, u);
	upfix_release(&f);
}
END_TEST

START_TEST(upload_without_begin_or_abort)
{
	struct upfix f;
	store_upload *u;
	objhttp_digest whole;
	char *want;

	upfix_init(&f, &up_http_blocks);
	u = objhttp_upload_new(&f.h, "in/k", 100);
	grow(&f, 9);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 9), ES_OK);
	ck_assert(u->open);              /* begun by its first parts */
	grow(&f, 13);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_OK);
	ck_assert_str_eq(log_of(&f), "PUT in/k?part=1 [abcd]\n"
			 "PUT in/k?part=2 [efgh]\n"
			 "PUT in/k?part=3 [ijkl]\n"
			 "PUT in/k?part=4 [m]\n"
			 "commit 4 whole Iq690U5y9rN5R2oUY0fVRg==\n");
	/* committed with the MD5 of the whole object; no SHA-256 asked */
	objhttp_digest_mem("abcdefghijklm", 13, false, &whole);
	want = xasprintf("4 whole %s", whole.md5_b64);
	ck_assert_str_eq(f.p.committed, want);
	free(want);
	ck_assert_uint_eq(f.p.sha256s, 0);
	ck_assert_uint_eq(f.p.bad_digests, 0);
	objhttp_upload_free(&f.st, u);
	/* a failed first batch leaves it not begun: its end is a put */
	f.p.refuse = "part=1";
	buf_reset(&f.p.log);
	u = objhttp_upload_new(&f.h, "in/k", 100);
	ck_assert_int_eq(objhttp_upload_send(&f.st, u, f.path, 9), ES_ERR_REMOTE);
	ck_assert(!u->open);
	f.p.refuse = NULL;
	grow(&f, 7);
	ck_assert_int_eq(ftruncate(f.fd, 7), 0);
	ck_assert_int_eq(objhttp_upload_end(&f.st, u, f.path), ES_OK);
	/* the protocol's header on the single PUT; no SHA-256 asked */
	ck_assert_ptr_nonnull(strstr(log_of(&f), "PUT in/k [abcdefg] Content-Type: "
				     "application/octet-stream x-fake-blob: yes\n"));
	ck_assert_uint_eq(f.p.sha256s, 0);
	objhttp_upload_free(&f.st, u);
	upfix_release(&f);
}
END_TEST

START_TEST(transfer_settings)
{
	location loc;
	objhttp_transfer t;
	buf err = BUF_INIT;

	ck_assert_int_eq(location_parse("s3://bkt/in/", "/", &loc, &err), ES_OK);
	objhttp_transfer_resolve(&loc, &up_limits, &t);
	ck_assert_uint_eq(t.part_size, 4);
	ck_assert_uint_eq(t.threshold, 4);          /* the part size */
	ck_assert_uint_eq(t.attempts, 1);
	ck_assert_uint_eq(t.upload_streams, OBJHTTP_DEFAULT_STREAMS);
	loc.part_size = 1000;
	loc.multipart_threshold = 2 << 20;          /* counts as max_single */
	loc.retries = 7;
	loc.upload_streams = 2;
	objhttp_transfer_resolve(&loc, &up_limits, &t);
	ck_assert_uint_eq(t.part_size, 1000);
	ck_assert_uint_eq(t.threshold, 1 << 20);
	ck_assert_uint_eq(t.attempts, 7);
	ck_assert_uint_eq(t.upload_streams, 2);
	location_release(&loc);
	buf_release(&err);
}
END_TEST

/* --- digests ----------------------------------------------------------- */

START_TEST(digests_of_memory)
{
	objhttp_digest d;

	objhttp_digest_mem("", 0, true, &d);
	ck_assert_str_eq(d.md5_b64, "1B2M2Y8AsgTpgAmY7PhCfg==");
	ck_assert_str_eq(d.sha256_hex,
			 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	objhttp_digest_mem("abc", 3, false, &d);
	ck_assert_str_eq(d.md5_b64, "kAFQmDzST7DWlj99KOF/cg==");
	ck_assert_str_eq(d.sha256_hex, "");
	ck_assert_uint_eq(d.md5[0], 0x90);
}
END_TEST

START_TEST(digests_of_files)
{
	char path[] = "/tmp/evshare-objhttp-XXXXXX";
	int fd = mkstemp(path);
	objhttp_digest d, want;
	EVP_MD_CTX *whole = EVP_MD_CTX_new();
	unsigned char sum[16];
	unsigned int len = 0;
	char b64[OBJHTTP_MD5_B64_LEN];

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "hello, world", 12), 12);
	/* two slices, the second also fed to a digest of the whole */
	EVP_DigestInit_ex(whole, EVP_md5(), NULL);
	ck_assert_int_eq(objhttp_digest_file(fd, 0, 5, true, whole, &d), 0);
	objhttp_digest_mem("hello", 5, true, &want);
	ck_assert_str_eq(d.md5_b64, want.md5_b64);
	ck_assert_str_eq(d.sha256_hex, want.sha256_hex);
	ck_assert_int_eq(objhttp_digest_file(fd, 5, 7, false, whole, &d), 0);
	objhttp_digest_mem(", world", 7, false, &want);
	ck_assert_str_eq(d.md5_b64, want.md5_b64);
	ck_assert_str_eq(d.sha256_hex, "");
	EVP_DigestFinal_ex(whole, sum, &len);
	objhttp_md5_base64(sum, b64);
	objhttp_digest_mem("hello, world", 12, false, &want);
	ck_assert_str_eq(b64, want.md5_b64);
	/* a file shorter than asked */
	errno = 0;
	ck_assert_int_eq(objhttp_digest_file(fd, 10, 5, true, NULL, &d), -1);
	ck_assert_int_eq(errno, EIO);
	EVP_MD_CTX_free(whole);
	close(fd);
	unlink(path);
}
END_TEST

Suite *objhttp_suite(void)
{
	Suite *s = suite_create("objhttp");
	TCase *tc = tcase_create("get");

	tcase_add_test(tc, get_whole_in_one);
	tcase_add_test(tc, get_resumes_from_what_was_delivered);
	tcase_add_test(tc, get_whole_reply_to_a_range_is_skipped);
	tcase_add_test(tc, get_shorter_than_announced_is_resumed);
	tcase_add_test(tc, get_complete_before_the_break_sends_nothing_more);
	tcase_add_test(tc, get_refuses_a_reply_that_starts_late);
	tcase_add_test(tc, get_refuses_a_206_without_content_range);
	tcase_add_test(tc, get_stopped_by_the_reader_logs_nothing);
	tcase_add_test(tc, get_precondition_failed_is_final);
	tcase_add_test(tc, get_refuses_a_body_past_the_listed_size);
	tcase_add_test(tc, get_refuses_a_reply_announced_past_the_listed_size);
	suite_add_tcase(s, tc);
	tc = tcase_create("deadlines");
	tcase_add_test(tc, object_deadline_bounds_retries_and_waits);
	tcase_add_test(tc, run_deadline_bounds_retries_and_waits);
	tcase_add_test(tc, deadline_in_a_transfer_is_final);
	suite_add_tcase(s, tc);
	tc = tcase_create("list");
	tcase_add_test(tc, list_pages_and_what_is_kept);
	tcase_add_test(tc, list_refusals);
	tcase_add_test(tc, list_bounds);
	suite_add_tcase(s, tc);
	tc = tcase_create("run");
	tcase_add_test(tc, retries_until_the_attempts_run_out);
	tcase_add_test(tc, transport_failures_and_tls);
	tcase_add_test(tc, quiet_calls_keep_the_message);
	tcase_add_test(tc, signing_failures);
	tcase_add_test(tc, error_in_2xx_only_when_asked);
	tcase_add_test(tc, status_text);
	tcase_add_test(tc, part_sizes);
	tcase_add_test(tc, parts_due_of_a_growing_file);
	tcase_add_test(tc, stall_timeout_setting);
	tcase_add_test(tc, endpoints);
	suite_add_tcase(s, tc);
	tc = tcase_create("each");
	tcase_add_test(tc, each_item_once_on_several_connections);
	tcase_add_test(tc, each_stops_at_the_first_failure_and_tells_the_lowest);
	suite_add_tcase(s, tc);
	tc = tcase_create("uploads");
	tcase_add_test(tc, upload_of_a_growing_file);
	tcase_add_test(tc, upload_never_begun_is_one_put);
	tcase_add_test(tc, upload_first_failure_stops_the_rest);
	tcase_add_test(tc, upload_parts_on_several_connections);
	tcase_add_test(tc, upload_failures_take_it_back);
	tcase_add_test(tc, upload_refusals);
	tcase_add_test(tc, upload_without_begin_or_abort);
	tcase_add_test(tc, transfer_settings);
	suite_add_tcase(s, tc);
	tc = tcase_create("digests");
	tcase_add_test(tc, digests_of_memory);
	tcase_add_test(tc, digests_of_files);
	suite_add_tcase(s, tc);
	return s;
}
