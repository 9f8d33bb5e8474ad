/*
 * check_metrics.c - the metrics file (metrics.h) and the progress line
 * (progress.h): what operators read while and after a run.
 *
 * The metrics text is checked line by line here; the integration suite
 * (tests/integration/test_ops.py) has promtool parse real runs' files.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "files.h"
#include "metrics.h"
#include "progress.h"

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; ) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len == n && !memcmp(p, line, n))
			return true;
		p = nl ? nl + 1 : NULL;
	}
	return false;
}

static size_t count_prefix(const char *text, const char *prefix)
{
	size_t k = 0, n = strlen(prefix);

	for (const char *p = text; p && *p; ) {
		const char *nl = strchr(p, '\n');

		k += !strncmp(p, prefix, n);
		p = nl ? nl + 1 : NULL;
	}
	return k;
}

/* A summary with two subscribers; the caller releases it. */
static void make_summary(run_summary *s, const char *org0, const char *org1)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->run_id, sizeof(s->run_id), "20261127T004612Z-1a2b3c4d");
	s->status = "ok";
	s->files_listed = 9;
	s->files_planned = 4;
	s->files_processed = 3;
	s->files_failed = 1;
	s->ev_read = 74;
	s->ev_malformed = 2;
	s->ev_rejected = 1;
	s->ev_matched = 60;
	s->ev_duplicates = 2;
	s->ev_written = 58;
	s->bytes_read = 5829;
	s->bytes_written = 3724;
	s->nsubs = 2;
	s->subs = calloc(2, sizeof(*s->subs));
	s->subs[0].org_id = strdup(org0);
	s->subs[0].events = 58;
	s->subs[0].nobjects = 2;
	s->subs[0].objects = calloc(2, sizeof(char *));
	s->subs[0].objects[0] = strdup("file:///o/1");
	s->subs[0].objects[1] = strdup("file:///o/2");
	s->subs[1].org_id = strdup(org1);
}

START_TEST(format_has_every_family_once)
{
	run_summary s;
	metrics_run m;
	buf b = BUF_INIT;
	static const char *const families[] = {
		"evshare_build_info", "evshare_last_run_start_timestamp_seconds",
		"evshare_last_run_end_timestamp_seconds", "evshare_last_run_duration_seconds",
		"evshare_last_success_timestamp_seconds", "evshare_last_run_exit_status",
		"evshare_last_run_status", "evshare_last_run_replay", "evshare_last_run_resumed",
		"evshare_last_run_files_listed", "evshare_last_run_files_planned",
		"evshare_last_run_files", "evshare_last_run_poisoned_files",
		"evshare_last_run_failed_sources", "evshare_last_run_events_read",
		"evshare_last_run_events", "evshare_last_run_input_bytes",
		"evshare_last_run_output_bytes", "evshare_last_run_subscriber_events",
		"evshare_last_run_subscriber_objects", "evshare_last_run_http_retries", NULL
	};

	make_summary(&s, "TN-partner-0001", "TN-partner-0002");
	metrics_init(&m, 1795740372000LL);
	metrics_add_summary(&m, &s);
	m.end_ms = 1795740373250LL;
	m.exit_status = 1;
	m.http_retries = 3;
	metrics_format(&b, &m, 1795740000500LL);
	for (size_t i = 0; families[i]; i++) {
		char help[128], type[128];

		snprintf(help, sizeof(help), "# HELP %s ", families[i]);
		snprintf(type, sizeof(type), "# TYPE %s gauge", families[i]);
		ck_assert_msg(count_prefix(b.data, help) == 1, "HELP of %s", families[i]);
		ck_assert_msg(has_line(b.data, type), "TYPE of %s", families[i]);
	}
	ck_assert(has_line(b.data, "evshare_build_info{version=\"" EVSHARE_VERSION "\"} 1"));
	ck_assert(has_line(b.data, "evshare_last_run_start_timestamp_seconds 1795740372.000"));
	ck_assert(has_line(b.data, "evshare_last_run_end_timestamp_seconds 1795740373.250"));
	ck_assert(has_line(b.data, "evshare_last_run_duration_seconds 1.250"));
	/* exit status 1: the success timestamp is the one carried over */
	ck_assert(has_line(b.data, "evshare_last_success_timestamp_seconds 1795740000.500"));
	ck_assert(has_line(b.data, "evshare_last_run_exit_status 1"));
	ck_assert(has_line(b.data, "evshare_last_run_status{status=\"ok\"} 0"));
	ck_assert(has_line(b.data, "evshare_last_run_status{status=\"partial\"} 1"));
	ck_assert(has_line(b.data, "evshare_last_run_status{status=\"failed\"} 0"));
	ck_assert(has_line(b.data, "evshare_last_run_files_listed 9"));
	ck_assert(has_line(b.data, "evshare_last_run_files_planned 4"));
	ck_assert(has_line(b.data, "evshare_last_run_files{outcome=\"processed\"} 3"));
	ck_assert(has_line(b.data, "evshare_last_run_files{outcome=\"failed\"} 1"));
	ck_assert(has_line(b.data, "evshare_last_run_events_read 74"));
	ck_assert(has_line(b.data, "evshare_last_run_events{outcome=\"malformed\"} 2"));
	ck_assert(has_line(b.data, "evshare_last_run_events{outcome=\"rejected\"} 1"));
	ck_assert(has_line(b.data, "evshare_last_run_events{outcome=\"duplicate\"} 2"));
	ck_assert(has_line(b.data, "evshare_last_run_events{outcome=\"written\"} 58"));
	ck_assert(has_line(b.data, "evshare_last_run_input_bytes 5829"));
	ck_assert(has_line(b.data, "evshare_last_run_output_bytes 3724"));
	ck_assert(has_line(b.data,
		"evshare_last_run_subscriber_events{subscriber=\"TN-partner-0001\"} 58"));
	ck_assert(has_line(b.data,
		"evshare_last_run_subscriber_objects{subscriber=\"TN-partner-0001\"} 2"));
	ck_assert(has_line(b.data,
		"evshare_last_run_subscriber_events{subscriber=\"TN-partner-0002\"} 0"));
	ck_assert(has_line(b.data, "evshare_last_run_http_retries 3"));
	ck_assert(b.data[b.len - 1] == '\n');
	buf_release(&b);
	metrics_release(&m);
	run_summary_release(&s);
}
END_TEST

START_TEST(success_uses_this_run_end)
{
	metrics_run m;
	buf b = BUF_INIT;

	metrics_init(&m, 1000);
	m.end_ms = 61001;
	metrics_format(&b, &m, 5000);
	ck_assert(has_line(b.data, "evshare_last_success_timestamp_seconds 61.001"));
	ck_assert(has_line(b.data, "evshare_last_run_status{status=\"ok\"} 1"));
	/* no summary: no per-subscriber family at all */
	ck_assert_uint_eq(count_prefix(b.data, "evshare_last_run_subscriber"), 0);
	buf_release(&b);
	metrics_release(&m);
}
END_TEST

START_TEST(label_values_are_escaped)
{
	run_summary s;
	metrics_run m;
	buf b = BUF_INIT;

	make_summary(&s, "TN-\"quoted\"\\back\nslash", "TN-\xc3\xa9");
	metrics_init(&m, 0);
	metrics_add_summary(&m, &s);
	metrics_format(&b, &m, 0);
	ck_assert(has_line(b.data, "evshare_last_run_subscriber_events"
			   "{subscriber=\"TN-\\\"quoted\\\"\\\\back\\nslash\"} 58"));
	ck_assert(has_line(b.data,
		"evshare_last_run_subscriber_events{subscriber=\"TN-\xc3\xa9\"} 0"));
	buf_release(&b);
	metrics_release(&m);
	run_summary_release(&s);
}
END_TEST

START_TEST(resumed_run_is_added_in)
{
	run_summary s, *prev = calloc(1, sizeof(*prev));
	metrics_run m;
	buf b = BUF_INIT;

	make_summary(&s, "TN-a", "TN-b");
	make_summary(prev, "TN-b", "TN-c");
	prev->replay = false;
	s.resumed = prev;
	metrics_init(&m, 0);
	metrics_add_summary(&m, &s);
	ck_assert(m.resumed);
	ck_assert_uint_eq(m.files_processed, 6);
	ck_assert_uint_eq(m.ev_written, 116);
	ck_assert_uint_eq(m.nsubs, 3);
	metrics_format(&b, &m, 0);
	ck_assert(has_line(b.data, "evshare_last_run_resumed 1"));
	ck_assert(has_line(b.data, "evshare_last_run_subscriber_events{subscriber=\"TN-a\"} 58"));
	ck_assert(has_line(b.data, "evshare_last_run_subscriber_events{subscriber=\"TN-b\"} 58"));
	ck_assert(has_line(b.data, "evshare_last_run_subscriber_objects{subscriber=\"TN-b\"} 2"));
	ck_assert(has_line(b.data, "evshare_last_run_subscriber_events{subscriber=\"TN-c\"} 0"));
	buf_release(&b);
	metrics_release(&m);
	run_summary_release(&s);   /* frees prev too */
}
END_TEST

START_TEST(write_is_atomic_and_carries_last_success)
{
	char dir[] = "/tmp/evshare-metrics-XXXXXX", path[128];
	metrics_run m;
	struct stat st;
	buf b = BUF_INIT;
	mode_t old = umask(022);

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/evshare.prom", dir);
	ck_assert_int_eq(metrics_last_success_ms(path), 0);   /* no file */
	metrics_init(&m, 1795740372000LL);
	m.end_ms = 1795740372345LL;
	ck_assert_int_eq(metrics_write(path, &m), ES_OK);
	ck_assert_int_eq(metrics_last_success_ms(path), 1795740372345LL);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	/* a failed run keeps the earlier success */
	m.start_ms = 1795740900000LL;
	m.end_ms = 1795740901000LL;
	m.exit_status = 75;
	ck_assert_int_eq(metrics_write(path, &m), ES_OK);
	ck_assert_int_eq(read_file(path, &b, 1 << 20), 0);
	ck_assert(has_line(b.data, "evshare_last_success_timestamp_seconds 1795740372.345"));
	ck_assert(has_line(b.data, "evshare_last_run_end_timestamp_seconds 1795740901.000"));
	ck_assert(has_line(b.data, "evshare_last_run_status{status=\"failed\"} 1"));
	ck_assert(has_line(b.data, "evshare_last_run_exit_status 75"));
	buf_release(&b);
	/* only the file itself is left: the temporary one was renamed */
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "test \"$(ls -A %s)\" = evshare.prom", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	/* a directory that does not exist: an error, nothing written */
	snprintf(path, sizeof(path), "%s/missing/evshare.prom", dir);
	ck_assert_int_eq(metrics_write(path, &m), ES_ERR_IO);
	snprintf(path, sizeof(path), "%s/evshare.prom", dir);
	unlink(path);
	rmdir(dir);
	metrics_release(&m);
	umask(old);
}
END_TEST

START_TEST(last_success_ignores_lookalikes)
{
	char dir[] = "/tmp/evshare-metrics-XXXXXX", path[128];
	static const char text[] =
		"# HELP evshare_last_success_timestamp_seconds x\n"
		"evshare_last_success_timestamp_seconds_other 5\n"
		"evshare_last_success_timestamp_seconds 12.5\n";

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	ck_assert_int_eq(write_file_atomic(path, text, sizeof(text) - 1, 0644), ES_OK);
	ck_assert_int_eq(metrics_last_success_ms(path), 12500);
	ck_assert_int_eq(write_file_atomic(path, "garbage", 7, 0644), ES_OK);
	ck_assert_int_eq(metrics_last_success_ms(path), 0);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* --- the progress line ------------------------------------------------ */

START_TEST(progress_text)
{
	progress_counts c = { 12, 40, 153200000, 612800000, 120311 };
	buf b = BUF_INIT;

	progress_format(&b, &c, 2.0, 0);
	ck_assert_str_eq(b.data, "12/40 files, 153.2 MB read, 76.6 MB/s, "
			 "120311 events matched, ETA 0:06");
	buf_reset(&b);
	/* under a second: no ETA yet */
	progress_format(&b, &c, 0.5, 0);
	ck_assert_ptr_nonnull(strstr(b.data, "ETA -:--"));
	buf_reset(&b);
	/* long ETAs get hours */
	c.bytes_read = 1000;
	c.bytes_total = 4000000000ULL;
	progress_format(&b, &c, 10, 0);
	ck_assert_ptr_nonnull(strstr(b.data, "1.0 kB read"));
	ck_assert_ptr_nonnull(strstr(b.data, "ETA 11111:06:30"));
	buf_reset(&b);
	/* done */
	c = (progress_counts){ 40, 40, 2500000000ULL, 2500000000ULL, 7 };
	progress_format(&b, &c, 25, 0);
	ck_assert_str_eq(b.data, "40/40 files, 2.50 GB read, 100.0 MB/s, 7 events matched, "
			 "ETA 0:00");
	buf_reset(&b);
	/* cut to the width */
	progress_format(&b, &c, 25, 20);
	ck_assert_str_eq(b.data, "40/40 files, 2.50 GB");
	buf_release(&b);
}
END_TEST

START_TEST(progress_off_unless_terminal_or_forced)
{
	int fds[2];
	progress *p;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_ptr_null(progress_new(PROGRESS_AUTO, fds[1]));
	ck_assert_ptr_null(progress_new(PROGRESS_NEVER, fds[1]));
	ck_assert(!progress_due(NULL));
	progress_show(NULL, NULL);     /* NULL: off, nothing happens */
	progress_end(NULL, NULL);
	progress_free(NULL);
	p = progress_new(PROGRESS_ALWAYS, fds[1]);
	ck_assert_ptr_nonnull(p);
	ck_assert(progress_due(p));    /* the first one is due at once */
	progress_free(p);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(progress_on_a_terminal_redraws_in_place)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave;
	/* nothing read yet: the rate is 0.0 MB/s however long it took (the
	 * text of the line is progress_text's; this is about the terminal) */
	progress_counts c = { 1, 2, 0, 1000, 3 };
	progress *p;
	char out[512];
	ssize_t n;
	struct timespec t0, t1;
	bool due;

	ck_assert_int_ge(master, 0);
	ck_assert_int_eq(grantpt(master), 0);
	ck_assert_int_eq(unlockpt(master), 0);
	slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	ck_assert_int_ge(slave, 0);
	{
		/* the bytes as written: no output processing by the line
		 * discipline (a '\r' at column 0 went missing once in ten) */
		struct termios t;

		ck_assert_int_eq(tcgetattr(slave, &t), 0);
		t.c_oflag &= ~(tcflag_t)OPOST;
		ck_assert_int_eq(tcsetattr(slave, TCSANOW, &t), 0);
	}
	setenv("TERM", "xterm", 1);
	p = progress_new(PROGRESS_AUTO, slave);
	ck_assert_ptr_nonnull(p);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	progress_show(p, &c);
	/* not again within the interval (250 ms), when this thread is
	 * known to have taken less than that, a coarse tick included */
	due = progress_due(p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_msg(!due || (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 200,
		      "due again at once after a redraw");
	progress_end(p, &c);
	progress_free(p);
	/* TERM=dumb cannot erase a line: off unless forced */
	setenv("TERM", "dumb", 1);
	ck_assert_ptr_null(progress_new(PROGRESS_AUTO, slave));
	close(slave);
	{
		/* the pty hands the bytes over asynchronously: with the slave
		 * closed, read them all, up to the end (EIO: every slave end is
		 * closed); 30 s is a failsafe, not a wait.  Shown escaped if
		 * they differ. */
		static const char want[] = "\revshare: 1/2 files, 0.0 kB read, 0.0 MB/s, "
					   "3 events matched, ETA -:--\033[K\r\033[K";
		struct timespec now, until;
		size_t got = 0;
		buf shown = BUF_INIT, wanted = BUF_INIT;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 30;
		for (;;) {
			struct pollfd pfd = { master, POLLIN, 0 };
			long ms;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (until.tv_sec - now.tv_sec) * 1000 + (until.tv_nsec - now.tv_nsec) / 1000000;
			ck_assert_msg(ms > 0 && poll(&pfd, 1, (int)ms) > 0,
				      "the pty's end did not come in 30 s (%zu bytes)", got);
			n = read(master, out + got, sizeof(out) - 1 - got);
			if (n == 0 || (n < 0 && errno == EIO))
				break;
			ck_assert_msg(n > 0, "reading the pty: %s", strerror(errno));
			got += (size_t)n;
		}
		out[got] = '\0';
		buf_add_visible(&shown, out, got);
		buf_add_visible(&wanted, want, strlen(want));
		ck_assert_msg(got == strlen(want) && !memcmp(out, want, got),
			      "progress line: got \"%s\", want \"%s\"", shown.data, wanted.data);
		buf_release(&shown);
		buf_release(&wanted);
	}
	close(master);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics file");
	TCase *tp = tcase_create("progress line");

	tcase_add_test(tc, format_has_every_family_once);
	tcase_add_test(tc, success_uses_this_run_end);
	tcase_add_test(tc, label_values_are_escaped);
	tcase_add_test(tc, resumed_run_is_added_in);
	tcase_add_test(tc, write_is_atomic_and_carries_last_success);
	tcase_add_test(tc, last_success_ignores_lookalikes);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, progress_text);
	tcase_add_test(tp, progress_off_unless_terminal_or_forced);
	tcase_add_test(tp, progress_on_a_terminal_redraws_in_place);
	suite_add_tcase(s, tp);
	return s;
}
