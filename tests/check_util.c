/* check_util.c - buffers, UTF-8, time parsing and formatting; the
 * atomic file writer and its temporaries. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "files.h"

START_TEST(buf_cap_is_enforced)
{
	buf b;

	buf_init(&b, 5);
	ck_assert(buf_add(&b, "abc", 3));
	ck_assert(!buf_add(&b, "def", 3));
	ck_assert_uint_eq(b.len, 3);
	ck_assert(buf_add(&b, "de", 2));
	ck_assert_str_eq(b.data, "abcde");
	buf_release(&b);
}
END_TEST

START_TEST(json_string_escapes)
{
	buf b = BUF_INIT;

	buf_add_json_string(&b, "a\"b\\c\n\x01\xff\xc3\xa9", 10);
	ck_assert_str_eq(b.data, "\"a\\\"b\\\\c\\n\\u0001\\u00ff\xc3\xa9\"");
	buf_release(&b);
}
END_TEST

START_TEST(base64_matches_rfc4648)
{
	static const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *out[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
				     "Zm9vYmE=", "Zm9vYmFy" };

	for (int i = 0; i < 7; i++) {
		buf b = BUF_INIT;

		buf_add_base64(&b, in[i], strlen(in[i]));
		ck_assert_str_eq(b.data ? b.data : "", out[i]);
		buf_release(&b);
	}
}
END_TEST

START_TEST(utf8_validation)
{
	ck_assert(utf8_valid("plain", 5));
	ck_assert(utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
	ck_assert(!utf8_valid("\xc0\xaf", 2));          /* overlong */
	ck_assert(!utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
	ck_assert(!utf8_valid("\xe2\x82", 2));          /* truncated */
	ck_assert(!utf8_valid("\xff", 1));
}
END_TEST

START_TEST(time_round_trip)
{
	int64_t t;
	char s[32], c[20];

	ck_assert(time_parse_rfc3339("2026-11-27T00:46:12Z", &t));
	ck_assert_int_eq(t, 1795740372000LL);
	time_format_rfc3339(t, s);
	ck_assert_str_eq(s, "2026-11-27T00:46:12.000Z");
	time_format_compact(t, c);
	ck_assert_str_eq(c, "20261127T004612Z");
	ck_assert(time_parse_rfc3339("2026-11-27T02:46:12.5+02:00", &t));
	ck_assert_int_eq(t, 1795740372500LL);
	ck_assert(time_parse_rfc3339("2026-11-27", &t));
	ck_assert_int_eq(t, 1795737600000LL);
	ck_assert(!time_parse_rfc3339("2026-11-27T00:46", &t));
	ck_assert(!time_parse_rfc3339("2026-13-01", &t));
	ck_assert(!time_parse_rfc3339("2026-11-27T00:46:12", &t));
}
END_TEST

/* Before the epoch, and at the ends of int64 (a corrupt state file or
 * journal may hold them; found by fuzz_keyfmt): no overflow, fields in
 * range. */
START_TEST(time_fields_any_int64)
{
	static const int64_t ends[] = { INT64_MIN, INT64_MIN + 999, INT64_MAX, -1, 0 };
	char s[32];

	time_format_rfc3339(-1, s);
	ck_assert_str_eq(s, "1969-12-31T23:59:59.999Z");
	time_format_rfc3339(-86400000, s);
	ck_assert_str_eq(s, "1969-12-31T00:00:00.000Z");
	time_format_rfc3339(-86400001, s);
	ck_assert_str_eq(s, "1969-12-30T23:59:59.999Z");
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		int y, mo, d, h, mi, sec;

		time_utc_fields(ends[i], &y, &mo, &d, &h, &mi, &sec);
		ck_assert(mo >= 1 && mo <= 12 && d >= 1 && d <= 31);
		ck_assert(h >= 0 && h <= 23 && mi >= 0 && mi <= 59 && sec >= 0 && sec <= 59);
	}
}
END_TEST

START_TEST(durations)
{
	int64_t d;

	ck_assert(duration_parse("7d", &d));
	ck_assert_int_eq(d, 7LL * 86400 * 1000);
	ck_assert(duration_parse("90", &d));
	ck_assert_int_eq(d, 90000);
	ck_assert(duration_parse("36h", &d));
	ck_assert_int_eq(d, 36LL * 3600 * 1000);
	ck_assert(!duration_parse("", &d));
	ck_assert(!duration_parse("d", &d));
	ck_assert(!duration_parse("-1d", &d));
	ck_assert(!duration_parse("99999999999999999999d", &d));
}
END_TEST

START_TEST(visible_text)
{
	buf b = BUF_INIT, s = BUF_INIT;
	const char raw[] = "a\nb\rc\td\x1b[0m\x7f\\n\xc3\xa9";

	buf_add_visible(&b, raw, sizeof(raw) - 1);
	ck_assert_str_eq(b.data, "a\\nb\\rc\\td\\x1b[0m\\x7f\\n\xc3\xa9");
	buf_reset(&b);
	buf_add_visible(&b, "x\0y", 3);
	ck_assert_str_eq(b.data, "x\\x00y");
	ck_assert_str_eq(visible(&s, NULL), "");
	ck_assert_str_eq(visible(&s, "plain"), "plain");
	ck_assert_str_eq(visible(&s, "two\nlines"), "two\\nlines");
	buf_release(&b);
	buf_release(&s);
}
END_TEST

START_TEST(ascii_space_and_trim)
{
	const char *s = " \t\r\n\v\fkey = v a\t \n";
	size_t n = strlen(s);
	const char *p = span_trim(s, &n);

	ck_assert_uint_eq(n, 9);
	ck_assert_int_eq(memcmp(p, "key = v a", 9), 0);
	n = 3;
	p = span_trim("   ", &n);
	ck_assert_uint_eq(n, 0);
	n = 0;
	ck_assert_ptr_eq(span_trim(s, &n), s);
	ck_assert_uint_eq(n, 0);
	ck_assert(!ascii_space('\0'));
	ck_assert(!ascii_space((char)0xa0));
	ck_assert(ascii_space('\v'));
}
END_TEST

START_TEST(hex_digits_and_percent_decoding)
{
	static const char digits[] = "0123456789abcdefABCDEF";
	buf b = BUF_INIT;

	for (int c = 0; c < 256; c++) {
		const char *at = c ? strchr(digits, c) : NULL;
		int want = !at ? -1 : at - digits < 16 ? (int)(at - digits)
						       : (int)(at - digits) - 6;

		ck_assert_int_eq(hex_digit(c), want);
	}

	ck_assert_int_eq(pct_decode(&b, "a%2Fb+c%2b%7e", 13, 0), PCT_OK);
	ck_assert_uint_eq(b.len, 7);
	ck_assert_mem_eq(b.data, "a/b+c+~", 7);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "a+b%20c", 7, PCT_PLUS_IS_SPACE), PCT_OK);
	ck_assert_mem_eq(b.data, "a b c", 5);
	buf_reset(&b);
	/* %00 is a NUL byte: kept unless refused */
	ck_assert_int_eq(pct_decode(&b, "x%00y", 5, 0), PCT_OK);
	ck_assert_uint_eq(b.len, 3);
	ck_assert_int_eq(b.data[1], 0);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "x%00y", 5, PCT_NUL_IS_BAD), PCT_NUL);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "x\0y", 3, PCT_NUL_IS_BAD), PCT_NUL);
	buf_reset(&b);
	/* cut or non-hex escapes, at the end and inside */
	ck_assert_int_eq(pct_decode(&b, "ab%4", 4, 0), PCT_BAD_ESCAPE);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "ab%", 3, 0), PCT_BAD_ESCAPE);
	buf_reset(&b);
	ck_assert_int_eq(pct_decode(&b, "%g0x", 4, 0), PCT_BAD_ESCAPE);
	buf_reset(&b);
	/* n bounds the input: an escape cut by n is bad even if s goes on */
	ck_assert_int_eq(pct_decode(&b, "a%41", 3, 0), PCT_BAD_ESCAPE);
	buf_release(&b);
}
END_TEST

/* --- files ------------------------------------------------------------ */

static char *file_text(const char *path)
{
	buf b = BUF_INIT;

	ck_assert_msg(read_file(path, &b, 1 << 20) == 0, "cannot read %s", path);
	return buf_detach(&b, NULL);
}

static unsigned count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

START_TEST(temp_names_are_unpredictable)
{
	char *a = temp_name("x.tmp."), *b = temp_name("x.tmp.");

	ck_assert_uint_eq(strlen(a), strlen("x.tmp.") + 16);
	ck_assert(!strncmp(a, "x.tmp.", 6));
	ck_assert_str_ne(a, b);
	free(a);
	free(b);
}
END_TEST

START_TEST(atomic_write_replaces_links_never_writes_through)
{
	char dir[] = "/tmp/evshare-util-XXXXXX";
	char *path, *target, *text, *tmp = NULL;
	int dirfd, fd;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = xasprintf("%s/m.prom", dir);
	target = xasprintf("%s/target", dir);
	fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_eq(write_all(fd, "precious", 8), 0);
	close(fd);
	/* a link at the name itself, and at the temporary name of old */
	ck_assert_int_eq(symlink(target, path), 0);
	text = xasprintf("%s.tmp.%ld", path, (long)getpid());
	ck_assert_int_eq(symlink(target, text), 0);
	free(text);
	umask(027);
	ck_assert_int_eq(write_file_atomic(path, "new\n", 4, 0666), ES_OK);
	text = file_text(target);
	ck_assert_str_eq(text, "precious");
	free(text);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0640);      /* the umask applies */
	text = file_text(path);
	ck_assert_str_eq(text, "new\n");
	free(text);
	/* target, m.prom, the old link: no temporary of this write left
	 * (write_file_atomic cleans nothing of others: the directory may be
	 * shared) */
	ck_assert_uint_eq(count_entries(dir), 3);
	/* the _at form, and leftovers cleaned by the directory's owner */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd, 0);
	fd = create_temp_at(dirfd, "m.prom.tmp.", 0600, &tmp);
	ck_assert_int_ge(fd, 0);
	ck_assert(!strncmp(tmp, "m.prom.tmp.", 11));
	close(fd);
	free(tmp);
	ck_assert_int_eq(write_file_atomic_at(dirfd, path, "m.prom", "again", 5, 0600), ES_OK);
	ck_assert_uint_eq(count_entries(dir), 4);
	remove_atomic_leftovers_at(dirfd, "m.prom");
	ck_assert_uint_eq(count_entries(dir), 2);          /* target, m.prom */
	text = file_text(target);
	ck_assert_str_eq(text, "precious");
	free(text);
	text = file_text(path);
	ck_assert_str_eq(text, "again");
	free(text);
	/* a directory that is not there */
	text = xasprintf("%s/no/such.prom", dir);
	ck_assert_int_eq(write_file_atomic(text, "x", 1, 0644), ES_ERR_IO);
	free(text);
	close(dirfd);
	unlink(path);
	unlink(target);
	rmdir(dir);
	free(path);
	free(target);
}
END_TEST

START_TEST(read_fd_cap)
{
	char path[] = "/tmp/evshare-util-XXXXXX";
	int fd = mkstemp(path);
	buf b = BUF_INIT;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_all(fd, "0123456789", 10), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	errno = 0;
	ck_assert_int_eq(read_fd(fd, &b, 9), -1);
	ck_assert_int_eq(errno, EFBIG);
	buf_release(&b);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(read_fd(fd, &b, 10), 0);
	ck_assert_uint_eq(b.len, 10);
	buf_release(&b);
	close(fd);
	unlink(path);
}
END_TEST

Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, buf_cap_is_enforced);
	tcase_add_test(tc, json_string_escapes);
	tcase_add_test(tc, base64_matches_rfc4648);
	tcase_add_test(tc, utf8_validation);
	tcase_add_test(tc, time_round_trip);
	tcase_add_test(tc, time_fields_any_int64);
	tcase_add_test(tc, durations);
	tcase_add_test(tc, hex_digits_and_percent_decoding);
	tcase_add_test(tc, ascii_space_and_trim);
	tcase_add_test(tc, visible_text);
	tcase_add_test(tc, temp_names_are_unpredictable);
	tcase_add_test(tc, atomic_write_replaces_links_never_writes_through);
	tcase_add_test(tc, read_fd_cap);
	suite_add_tcase(s, tc);
	return s;
}
