/* log.c - text or JSON lines on stderr, with secrets redacted. */
#include "log.h"
#include "jsonw.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static enum log_format log_fmt = LOG_TEXT;
static enum log_level log_level_max = LOG_INFO;
static atomic_bool log_status_shown;

static const char *const level_names[] = {
	"error", "warning", "info", "debug", "trace"
};

void log_setup(enum log_format fmt, enum log_level threshold)
{
	log_fmt = fmt;
	log_level_max = threshold;
}

bool log_enabled(enum log_level level)
{
	return level <= log_level_max;
}

bool log_first_time(const char *key)
{
	static char *seen[32];

	for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++) {
		if (!seen[i]) {
			seen[i] = xstrdup(key);
			return true;
		}
		if (!strcmp(seen[i], key))
			return false;
	}
	return true;
}

/* --- secrets ------------------------------------------------------------ */

struct secret {
	char *p;
	size_t n;
};

/* registered values, longest first (a SAS token before its sig value) */
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secret *secrets;
static size_t nsecrets, secrets_alloc;

void log_add_secret(const char *s, size_t n)
{
	size_t at;

	if (!s || n < LOG_SECRET_MIN)
		return;
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < nsecrets; i++)
		if (secrets[i].n == n && !memcmp(secrets[i].p, s, n)) {
			pthread_mutex_unlock(&secrets_lock);
			return;
		}
	secrets = xgrow(secrets, nsecrets + 1, &secrets_alloc, sizeof(*secrets));
	for (at = 0; at < nsecrets && secrets[at].n >= n; at++)
		;
	memmove(secrets + at + 1, secrets + at, (nsecrets - at) * sizeof(*secrets));
	secrets[at].p = xmalloc(n);
	memcpy(secrets[at].p, s, n);
	secrets[at].n = n;
	nsecrets++;
	pthread_mutex_unlock(&secrets_lock);
}

void log_forget_secrets(void)
{
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < nsecrets; i++) {
		secure_wipe(secrets[i].p, secrets[i].n);
		free(secrets[i].p);
	}
	free(secrets);
	secrets = NULL;
	nsecrets = secrets_alloc = 0;
	pthread_mutex_unlock(&secrets_lock);
}

#define REDACTED "***"

/* Replace every occurrence of the n bytes at s in b with REDACTED. */
static void redact_value(buf *b, const char *s, size_t n)
{
	buf out = BUF_INIT;
	const char *p, *end, *hit;

	if (!b->data || !(hit = memmem(b->data, b->len, s, n)))
		return;
	p = b->data;
	end = b->data + b->len;
	do {
		buf_add(&out, p, (size_t)(hit - p));
		buf_addstr(&out, REDACTED);
		p = hit + n;
	} while ((hit = memmem(p, (size_t)(end - p), s, n)));
	buf_add(&out, p, (size_t)(end - p));
	secure_wipe(b->data, b->len);
	buf_release(b);
	*b = out;
}

/* Parameters whose value is a secret or a signature, whoever sent them:
 * a SAS token's sig, SigV4's Signature (header) and X-Amz-Signature
 * (presigned URL), a session token in a query, a connection string's key. */
static const char *const secret_params[] = {
	"sig", "signature", "x-amz-signature", "x-amz-security-token", "accountkey", NULL
};

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Where a parameter's value ends: a separator, a quote, markup, space. */
static bool value_end(char c)
{
	return (unsigned char)c <= ' ' || c == '&' || c == '"' || c == '\'' || c == '<' ||
	       c == '>' || c == ',' || c == ';' || c == 0x7f;
}

/* The length of a secret-bearing "NAME=" or "SharedKey[Lite] ACCOUNT:" at
 * p (n bytes left; p starts a word), else 0. */
static size_t secret_prefix(const char *p, size_t n)
{
	for (size_t i = 0; secret_params[i]; i++) {
		size_t k = strlen(secret_params[i]);

		if (n > k && p[k] == '=' && !strncasecmp(p, secret_params[i], k))
			return k + 1;
	}
	if (n > 10 && !strncasecmp(p, "SharedKey", 9)) {
		size_t k = 9;

		if (n > k + 4 && !strncasecmp(p + k, "Lite", 4))
			k += 4;
		if (p[k] != ' ')
			return 0;
		for (k++; k < n && !value_end(p[k]); k++)
			if (p[k] == ':')
				return k + 1;
	}
	return 0;
}

/* Replace the value of every secret-bearing parameter with REDACTED. */
static void redact_params(buf *b)
{
	buf out = BUF_INIT;
	size_t i = 0, copied = 0;
	bool changed = false;

	while (b->data && i < b->len) {
		size_t k = i == 0 || !name_char(b->data[i - 1])
			   ? secret_prefix(b->data + i, b->len - i) : 0, v;

		if (!k) {
			i++;
			continue;
		}
		for (v = i + k; v < b->len && !value_end(b->data[v]); v++)
			;
		if (v > i + k) {
			buf_add(&out, b->data + copied, i + k - copied);
			buf_addstr(&out, REDACTED);
			copied = v;
			changed = true;
		}
		i = v > i + k ? v : i + k;
	}
	if (!changed)
		return;
	buf_add(&out, b->data + copied, b->len - copied);
	secure_wipe(b->data, b->len);
	buf_release(b);
	*b = out;
}

void log_redact(buf *b)
{
	pthread_mutex_lock(&secrets_lock);
	for (size_t i = 0; i < nsecrets; i++)
		redact_value(b, secrets[i].p, secrets[i].n);
	pthread_mutex_unlock(&secrets_lock);
	redact_params(b);
}

/* --- lines ---------------------------------------------------------------- */

void log_status_line(bool shown)
{
	atomic_store(&log_status_shown, shown);
}

void log_vmsg(enum log_level level, const char *url, const char *fmt, va_list ap)
{
	buf msg = BUF_INIT, line = BUF_INIT, u = BUF_INIT;

	if (!log_enabled(level))
		return;
	buf_vprintf(&msg, fmt, ap);
	log_redact(&msg);
	if (atomic_exchange(&log_status_shown, false))
		buf_addstr(&line, "\r\033[K");   /* erase the progress line */
	if (log_fmt == LOG_JSON) {
		char now[32];
		jsonw w;

		time_format_rfc3339(time_now_ms(), now);
		jsonw_init(&w, &line, JSONW_TEXT);
		jsonw_object_begin(&w);
		jsonw_string_field(&w, "time", now);
		jsonw_string_field(&w, "level", level_names[level]);
		jsonw_name(&w, "msg");
		jsonw_string_n(&w, msg.data ? msg.data : "", msg.len);
		if (url) {
			buf_addstr(&u, url);
			log_redact(&u);
			jsonw_name(&w, "url");
			jsonw_string_n(&w, u.data ? u.data : "", u.len);
		}
		jsonw_object_end(&w);
		buf_addch(&line, '\n');
	} else {
		/* one line per message, whatever a key or a file name holds */
		buf_addstr(&line, "evshare: ");
		if (level != LOG_INFO)
			buf_printf(&line, "%s: ", level_names[level]);
		buf_add_visible(&line, msg.data, msg.len);
		buf_addch(&line, '\n');
	}
	(void)write_all(STDERR_FILENO, line.data, line.len);
	buf_release(&msg);
	buf_release(&line);
	buf_release(&u);
}

void log_msg(enum log_level level, const char *url, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, url, fmt, ap);
	va_end(ap);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

es_result es_error(es_result r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	return r;
}

es_result es_error_url(es_result r, const char *url, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERROR, url, fmt, ap);
	va_end(ap);
	return r;
}
