/* progress.c - the progress line of a manual run.  See progress.h. */
#include "progress.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define ERASE_LINE "\r\033[K"

struct progress {
	int fd;
	bool tty;                /* redraw in place; else log messages */
	bool shown;              /* a line is on the terminal now */
	int64_t start_ms;        /* monotonic */
	int64_t next_ms;         /* monotonic: redraw from then on */
	buf line;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

#ifdef CLOCK_MONOTONIC_COARSE
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
	clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool can_redraw(int fd)
{
	const char *term = getenv("TERM");

	return isatty(fd) && !(term && !strcmp(term, "dumb"));
}

progress *progress_new(enum progress_mode mode, int fd)
{
	progress *p;
	bool tty = can_redraw(fd);

	if (mode == PROGRESS_NEVER || (mode == PROGRESS_AUTO && !tty))
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->fd = fd;
	p->tty = tty;
	buf_init(&p->line, 0);
	progress_begin(p);
	return p;
}

static void erase(progress *p)
{
	if (!p->shown)
		return;
	log_status_line(false);
	(void)write_all(p->fd, ERASE_LINE, strlen(ERASE_LINE));
	p->shown = false;
}

void progress_free(progress *p)
{
	if (!p)
		return;
	erase(p);
	buf_release(&p->line);
	free(p);
}

void progress_begin(progress *p)
{
	if (!p)
		return;
	p->start_ms = mono_ms();
	p->next_ms = p->start_ms;
}

bool progress_due(const progress *p)
{
	return p && mono_ms() >= p->next_ms;
}

static void add_bytes(buf *b, uint64_t n)
{
	if (n < 1000000)
		buf_printf(b, "%.1f kB", (double)n / 1e3);
	else if (n < UINT64_C(1000000000))
		buf_printf(b, "%.1f MB", (double)n / 1e6);
	else
		buf_printf(b, "%.2f GB", (double)n / 1e9);
}

static void add_duration(buf *b, double s)
{
	uint64_t t = (uint64_t)(s + 0.5);

	if (t >= 3600)
		buf_printf(b, "%" PRIu64 ":%02u:%02u", t / 3600, (unsigned)(t / 60 % 60),
			   (unsigned)(t % 60));
	else
		buf_printf(b, "%u:%02u", (unsigned)(t / 60), (unsigned)(t % 60));
}

void progress_format(buf *out, const progress_counts *c, double elapsed_s, size_t width)
{
	size_t start = out->len;
	double rate = elapsed_s > 0 ? (double)c->bytes_read / elapsed_s : 0;

	buf_printf(out, "%" PRIu64 "/%" PRIu64 " files, ", c->files_done, c->files_total);
	add_bytes(out, c->bytes_read);
	buf_printf(out, " read, %.1f MB/s, %" PRIu64 " events matched, ETA ", rate / 1e6,
		   c->events_matched);
	if (c->bytes_read >= c->bytes_total && c->files_done >= c->files_total)
		buf_addstr(out, "0:00");
	else if (elapsed_s >= 1 && rate > 0 && c->bytes_total >= c->bytes_read)
		add_duration(out, (double)(c->bytes_total - c->bytes_read) / rate);
	else
		buf_addstr(out, "-:--");
	if (width && out->len - start > width) {
		out->len = start + width;
		out->data[out->len] = '\0';
	}
}

static size_t terminal_width(int fd)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

static void draw(progress *p, const progress_counts *c, int64_t now)
{
	double elapsed = (double)(now - p->start_ms) / 1000.0;

	buf_reset(&p->line);
	if (p->tty) {
		size_t width = terminal_width(p->fd);

		buf_addstr(&p->line, "\revshare: ");
		/* one column short of the width: no wrap, whatever the terminal */
		progress_format(&p->line, c, elapsed, width > 10 ? width - 10 : 1);
		buf_addstr(&p->line, "\033[K");
		(void)write_all(p->fd, p->line.data, p->line.len);
		p->shown = true;
		log_status_line(true);
	} else {
		progress_format(&p->line, c, elapsed, 0);
		log_msg(LOG_INFO, NULL, "progress: %s", p->line.data);
	}
}

void progress_show(progress *p, const progress_counts *c)
{
	int64_t now;

	if (!p)
		return;
	now = mono_ms();
	draw(p, c, now);
	p->next_ms = now + (p->tty ? PROGRESS_TTY_INTERVAL_MS : PROGRESS_LOG_INTERVAL_MS);
}

void progress_end(progress *p, const progress_counts *c)
{
	if (!p)
		return;
	if (p->tty)
		erase(p);
	else if (c)
		draw(p, c, mono_ms());
	progress_begin(p);
}
