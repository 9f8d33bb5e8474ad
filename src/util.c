/* util.c - allocation, buffers, results, time and file helpers. */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

int es_exit_status(es_result r)
{
	switch (r) {
	case ES_OK:           return 0;
	case ES_ERR_PARTIAL:  return 1;
	case ES_ERR_USAGE:    return 64;
	case ES_ERR_DATA:     return 65;
	case ES_ERR_STATE:    return 65;
	case ES_ERR_REMOTE:   return 69;
	case ES_ERR_INTERNAL: return 70;
	case ES_ERR_IO:       return 74;
	case ES_ERR_TEMP:     return 75;
	case ES_ERR_AUTH:     return 77;
	case ES_ERR_CONFIG:   return 78;
	}
	return 70;
}

const char *es_result_name(es_result r)
{
	switch (r) {
	case ES_OK:           return "ok";
	case ES_ERR_PARTIAL:  return "some files failed";
	case ES_ERR_USAGE:    return "usage error";
	case ES_ERR_DATA:     return "bad data";
	case ES_ERR_STATE:    return "corrupt state";
	case ES_ERR_REMOTE:   return "remote store error";
	case ES_ERR_INTERNAL: return "internal error";
	case ES_ERR_IO:       return "local i/o error";
	case ES_ERR_TEMP:     return "temporary failure";
	case ES_ERR_AUTH:     return "access denied";
	case ES_ERR_CONFIG:   return "configuration error";
	}
	return "unknown error";
}

void die(const char *fmt, ...)
{
	va_list ap;

	fputs("evshare: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(70);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (!p)
		die("out of memory (%zu x %zu bytes)", count, size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		die("out of memory (%zu bytes)", n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return buf_detach(&b, NULL);
}

void *xgrow(void *p, size_t need, size_t *alloc, size_t size)
{
	size_t n;

	if (need <= *alloc)
		return p;
	n = *alloc ? *alloc : 8;
	while (n < need) {
		if (n > SIZE_MAX / 2 / size)
			die("array too large");
		n *= 2;
	}
	*alloc = n;
	return xrealloc(p, n * size);
}

void buf_init(buf *b, size_t cap)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
}

void buf_release(buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

void buf_reset(buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

bool buf_reserve(buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : SIZE_MAX - 1;
	size_t need, n;

	if (extra > cap - b->len)
		return false;
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return true;
	/* the first allocation is what was asked for (callers that know the
	 * size, such as a block of lines, get no slack); growth doubles */
	n = b->alloc ? b->alloc : (need > 64 ? need : 64);
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	b->data = xrealloc(b->data, n);
	b->alloc = n;
	b->data[b->len] = '\0';
	return true;
}

bool buf_add(buf *b, const void *p, size_t n)
{
	if (!buf_reserve(b, n))
		return false;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool buf_addstr(buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

bool buf_addch(buf *b, char c)
{
	return buf_add(b, &c, 1);
}

bool buf_vprintf(buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		die("bad format string '%s'", fmt);
	if (!buf_reserve(b, (size_t)n))
		return false;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return true;
}

bool buf_printf(buf *b, const char *fmt, ...)
{
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	ok = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ok;
}

char *buf_detach(buf *b, size_t *len)
{
	char *p;

	if (!b->data)
		buf_reserve(b, 0);
	p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t k;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_char_len(p + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

void buf_add_json_chars(buf *b, const char *s, size_t n, bool keep_bytes)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];
		size_t k;

		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f) {
			size_t j = i + 1;

			while (j < n && p[j] >= 0x20 && p[j] != '"' &&
			       p[j] != '\\' && p[j] < 0x7f)
				j++;
			buf_add(b, p + i, j - i);
			i = j;
			continue;
		}
		switch (c) {
		case '"':  buf_addstr(b, "\\\""); i++; continue;
		case '\\': buf_addstr(b, "\\\\"); i++; continue;
		case '\n': buf_addstr(b, "\\n"); i++; continue;
		case '\r': buf_addstr(b, "\\r"); i++; continue;
		case '\t': buf_addstr(b, "\\t"); i++; continue;
		default:
			break;
		}
		k = c >= 0x80 ? utf8_char_len(p + i, n - i) : 0;
		if (k || (c >= 0x80 && keep_bytes)) {
			k = k ? k : 1;
			buf_add(b, p + i, k);
			i += k;
		} else {
			char esc[7] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0 };

			buf_add(b, esc, 6);
			i++;
		}
	}
}

void buf_add_json_string(buf *b, const char *s, size_t n)
{
	buf_addch(b, '"');
	buf_add_json_chars(b, s, n, false);
	buf_addch(b, '"');
}

void buf_add_visible(buf *b, const char *s, size_t n)
{
	size_t start = 0;

	if (!n)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != 0x7f)
			continue;
		buf_add(b, s + start, i - start);
		if (c == '\n')
			buf_addstr(b, "\\n");
		else if (c == '\r')
			buf_addstr(b, "\\r");
		else if (c == '\t')
			buf_addstr(b, "\\t");
		else
			buf_printf(b, "\\x%02x", c);
		start = i + 1;
	}
	buf_add(b, s + start, n - start);
}

const char *visible(buf *scratch, const char *s)
{
	buf_reset(scratch);
	if (s)
		buf_add_visible(scratch, s, strlen(s));
	return scratch->data ? scratch->data : "";
}

void buf_add_base64(buf *b, const void *data, size_t n)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	char out[4];
	size_t i;

	buf_reserve(b, (n + 2) / 3 * 4);
	for (i = 0; i + 2 < n; i += 3) {
		out[0] = tbl[p[i] >> 2];
		out[1] = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		out[2] = tbl[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		out[3] = tbl[p[i + 2] & 63];
		buf_add(b, out, 4);
	}
	if (i < n) {
		out[0] = tbl[p[i] >> 2];
		if (i + 1 < n) {
			out[1] = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			out[2] = tbl[(p[i + 1] & 15) << 2];
		} else {
			out[1] = tbl[(p[i] & 3) << 4];
			out[2] = '=';
		}
		out[3] = '=';
		buf_add(b, out, 4);
	}
}

void hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

bool parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

int64_t time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

void time_utc_fields(int64_t t_ms, int *year, int *mon, int *day, int *hour,
		     int *min, int *sec)
{
	/* floor divisions that cannot overflow, for any t_ms (a state file
	 * or a journal may hold INT64_MIN) */
	int64_t s = t_ms / 1000 - (t_ms % 1000 < 0);
	int64_t days = s / 86400 - (s % 86400 < 0);
	int64_t rem = s - days * 86400;

	civil_from_days(days, year, mon, day);
	*hour = (int)(rem / 3600);
	*min = (int)(rem / 60 % 60);
	*sec = (int)(rem % 60);
}

void time_format_rfc3339(int64_t t_ms, char out[32])
{
	int y, mo, d, h, mi, s;
	int64_t ms = t_ms % 1000;

	if (ms < 0)
		ms += 1000;
	time_utc_fields(t_ms, &y, &mo, &d, &h, &mi, &s);
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 y, mo, d, h, mi, s, (int)ms);
}

void time_format_compact(int64_t t_ms, char out[20])
{
	int y, mo, d, h, mi, s;

	time_utc_fields(t_ms, &y, &mo, &d, &h, &mi, &s);
	snprintf(out, 20, "%04d%02d%02dT%02d%02d%02dZ", y, mo, d, h, mi, s);
}

static bool take_digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*s)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*s += n;
	*out = v;
	return true;
}

bool time_parse_rfc3339(const char *s, int64_t *out_ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, oh = 0, om = 0, sign = 0;

	if (!take_digits(&s, 4, &y) || *s++ != '-' || !take_digits(&s, 2, &mo) ||
	    *s++ != '-' || !take_digits(&s, 2, &d))
		return false;
	if (*s) {
		if (*s != 'T' && *s != 't' && *s != ' ')
			return false;
		s++;
		if (!take_digits(&s, 2, &h) || *s++ != ':' ||
		    !take_digits(&s, 2, &mi) || *s++ != ':' ||
		    !take_digits(&s, 2, &sec))
			return false;
		if (*s == '.') {
			int scale = 100;

			s++;
			if (*s < '0' || *s > '9')
				return false;
			while (*s >= '0' && *s <= '9') {
				ms += (*s - '0') * scale;
				scale /= 10;
				s++;
			}
		}
		if (*s == 'Z' || *s == 'z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			sign = *s == '-' ? -1 : 1;
			s++;
			if (!take_digits(&s, 2, &oh) || *s++ != ':' ||
			    !take_digits(&s, 2, &om))
				return false;
		} else {
			return false;
		}
		if (*s)
			return false;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		return false;
	*out_ms = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
		   sign * (oh * 3600 + om * 60)) * 1000 + ms;
	return true;
}

bool duration_parse(const char *s, int64_t *out_ms)
{
	uint64_t v = 0;
	int64_t unit = 1000;
	size_t n = strlen(s);
	char num[32];

	if (n == 0 || n >= sizeof(num))
		return false;
	switch (s[n - 1]) {
	case 's': unit = 1000; n--; break;
	case 'm': unit = 60 * 1000; n--; break;
	case 'h': unit = 3600 * 1000; n--; break;
	case 'd': unit = 86400 * 1000; n--; break;
	default: break;
	}
	memcpy(num, s, n);
	num[n] = '\0';
	if (!parse_u64(num, &v) || v > (uint64_t)INT64_MAX / (uint64_t)unit)
		return false;
	*out_ms = (int64_t)v * unit;
	return true;
}

int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int mkdir_p(const char *path, unsigned mode)
{
	char *p = xstrdup(path);
	size_t len = strlen(p);
	int rc = 0;

	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	for (char *s = p + 1; ; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;

			*s = '\0';
			if (mkdir(p, mode) < 0 && errno != EEXIST) {
				rc = -1;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	if (rc == 0) {
		struct stat st;

		if (stat(p, &st) < 0)
			rc = -1;
		else if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			rc = -1;
		}
	}
	free(p);
	return rc;
}

void random_bytes(void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom((char *)p + got, n - got, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("getrandom: %s", strerror(errno));
		got += (size_t)r;
	}
}

char *temp_name(const char *prefix)
{
	unsigned char rnd[8];
	char hex[2 * sizeof(rnd) + 1];

	random_bytes(rnd, sizeof(rnd));
	hex_encode(rnd, sizeof(rnd), hex);
	return xasprintf("%s%s", prefix, hex);
}

int create_temp_at(int dirfd, const char *prefix, unsigned mode, char **name)
{
	/* 64 random bits: a name that exists is someone's doing, and a
	 * few more tries are enough to step around what they made */
	for (int tries = 0; tries < 16; tries++) {
		char *tmp = temp_name(prefix);
		int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				O_CLOEXEC, mode);

		if (fd >= 0) {
			*name = tmp;
			return fd;
		}
		free(tmp);
		if (errno != EEXIST)
			break;
	}
	*name = NULL;
	return -1;
}


int read_fd(int fd, buf *b, size_t cap)
{
	char tmp[65536];
	size_t start = b->len;

	for (;;) {
		ssize_t r = read(fd, tmp, sizeof(tmp));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		if (b->len - start + (size_t)r > cap) {
			errno = EFBIG;
			return -1;
		}
		buf_add(b, tmp, (size_t)r);
	}
	if (!b->data)
		buf_reserve(b, 0);
	return 0;
}

int read_file(const char *path, buf *b, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc, saved;

	if (fd < 0)
		return -1;
	rc = read_fd(fd, b, cap);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

void secure_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

bool ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

const char *span_trim(const char *p, size_t *n)
{
	while (*n && ascii_space(*p)) {
		p++;
		(*n)--;
	}
	while (*n && ascii_space(p[*n - 1]))
		(*n)--;
	return p;
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

pct_result pct_decode(buf *out, const char *s, size_t n, unsigned flags)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int hi, lo;

		if (c == '%') {
			if (n - i < 3 || (hi = hex_digit((unsigned char)s[i + 1])) < 0 ||
			    (lo = hex_digit((unsigned char)s[i + 2])) < 0)
				return PCT_BAD_ESCAPE;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && (flags & PCT_PLUS_IS_SPACE)) {
			c = ' ';
		}
		if (c == '\0' && (flags & PCT_NUL_IS_BAD))
			return PCT_NUL;
		buf_addch(out, (char)c);
	}
	return PCT_OK;
}
