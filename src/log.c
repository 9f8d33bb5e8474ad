/* log.c - text or JSON lines on stderr. */
#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
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

enum log_level log_threshold(void)
{
	return log_level_max;
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

void log_status_line(bool shown)
{
	atomic_store(&log_status_shown, shown);
}

void log_vmsg(enum log_level level, const char *url, const char *fmt, va_list ap)
{
	buf msg = BUF_INIT, line = BUF_INIT;

	if (!log_enabled(level))
		return;
	buf_vprintf(&msg, fmt, ap);
	if (atomic_exchange(&log_status_shown, false))
		buf_addstr(&line, "\r\033[K");   /* erase the progress line */
	if (log_fmt == LOG_JSON) {
		char now[32];

		time_format_rfc3339(time_now_ms(), now);
		buf_printf(&line, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":",
			   now, level_names[level]);
		buf_add_json_string(&line, msg.data, msg.len);
		if (url) {
			buf_addstr(&line, ",\"url\":");
			buf_add_json_string(&line, url, strlen(url));
		}
		buf_addstr(&line, "}\n");
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
