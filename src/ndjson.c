/* ndjson.c - line splitting with a cap and a streamed over-long path. */
#include "ndjson.h"

#include <string.h>

void lines_init(line_splitter *ls, size_t max_line, line_fn on_line,
		overlong_fn on_overlong, void *ud)
{
	ls->max_line = max_line;
	ls->on_line = on_line;
	ls->on_overlong = on_overlong;
	ls->ud = ud;
	buf_init(&ls->partial, max_line + 1);
	ls->lineno = 1;
	ls->overlong = false;
	ls->held_cr = false;
	ls->overlong_bytes = 0;
}

void lines_release(line_splitter *ls)
{
	buf_release(&ls->partial);
}

void lines_reset(line_splitter *ls)
{
	buf_reset(&ls->partial);
	ls->lineno = 1;
	ls->overlong = false;
	ls->held_cr = false;
	ls->overlong_bytes = 0;
}

static bool is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* A complete line of n bytes (terminator removed, CR still there). */
static int emit(line_splitter *ls, const char *p, size_t n)
{
	if (n && p[n - 1] == '\r')
		n--;
	/* length first, as on the streamed path, which cannot look ahead */
	if (n > ls->max_line)
		return ls->on_overlong(ls->ud, p, n, ls->lineno, true, true);
	if (is_blank(p, n))
		return 0;
	return ls->on_line(ls->ud, p, n, ls->lineno);
}

/* Stream a piece of an over-long line; `last` when the LF was seen. */
static int overlong_piece(line_splitter *ls, const char *p, size_t n, bool last)
{
	bool first = ls->overlong_bytes == 0;
	int rc = 0;

	if (ls->held_cr) {
		ls->held_cr = false;
		if (!(last && n == 0)) {
			rc = ls->on_overlong(ls->ud, "\r", 1, ls->lineno, first, false);
			if (rc)
				return rc;
			first = false;
			ls->overlong_bytes++;
		}
	}
	if (n && p[n - 1] == '\r') {
		n--;
		if (!last)
			ls->held_cr = true;   /* decided by the next byte */
	}
	if (n || last)
		rc = ls->on_overlong(ls->ud, p, n, ls->lineno, first, last);
	ls->overlong_bytes += n;
	return rc;
}

int lines_feed(line_splitter *ls, const char *p, size_t n)
{
	const char *end = p + n;
	int rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);

		if (ls->overlong) {
			rc = overlong_piece(ls, p, len, nl != NULL);
			if (rc)
				return rc;
			if (!nl)
				return 0;
			ls->overlong = false;
			ls->overlong_bytes = 0;
		} else if (ls->partial.len) {
			if (ls->partial.len + len > ls->max_line + 1) {
				/* too long: flush what we have as the first
				 * over-long piece and continue streaming */
				ls->overlong = true;
				ls->overlong_bytes = 0;
				rc = overlong_piece(ls, ls->partial.data, ls->partial.len, false);
				buf_reset(&ls->partial);
				if (rc)
					return rc;
				continue;
			}
			buf_add(&ls->partial, p, len);
			if (!nl)
				return 0;
			rc = emit(ls, ls->partial.data, ls->partial.len);
			buf_reset(&ls->partial);
			if (rc)
				return rc;
		} else if (nl) {
			rc = emit(ls, p, len);
			if (rc)
				return rc;
		} else if (len > ls->max_line + 1) {
			ls->overlong = true;
			ls->overlong_bytes = 0;
			return overlong_piece(ls, p, len, false);
		} else {
			buf_add(&ls->partial, p, len);
			return 0;
		}
		ls->lineno++;
		p = nl + 1;
	}
	return 0;
}

int lines_finish(line_splitter *ls)
{
	int rc = 0;

	if (ls->overlong) {
		rc = overlong_piece(ls, "", 0, true);
		ls->overlong = false;
	} else if (ls->partial.len) {
		rc = emit(ls, ls->partial.data, ls->partial.len);
		buf_reset(&ls->partial);
	}
	return rc;
}
