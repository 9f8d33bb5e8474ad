/*
 * cmd_filter.c - `evshare filter --filter JSON|@FILE`: print the stdin
 * lines the pattern matches, with exactly the matcher `run` uses.  Lines
 * need only be JSON objects (no event validation); a line that is not
 * is reported on stderr and skipped.
 */
#include "cmd.h"
#include "filter.h"
#include "json.h"
#include "log.h"
#include "ndjson.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILTER_MAX_LINE (64u << 20)

struct filter_ctx {
	filter *f;
	buf out;
	uint64_t skipped;
};

static int flush_out(struct filter_ctx *c)
{
	if (c->out.len && write_all(STDOUT_FILENO, c->out.data, c->out.len) < 0)
		return error("cannot write to standard output: %s", strerror(errno));
	buf_reset(&c->out);
	return 0;
}

static int filter_line(void *ud, const char *p, size_t n, uint64_t lineno)
{
	struct filter_ctx *c = ud;
	json_value v;
	json_error err = { 0, NULL };
	bool valid = json_parse(p, n, JSON_DEFAULT_MAX_DEPTH, &v, &err);

	if (!valid || v.type != JSON_OBJECT) {
		if (valid)
			warning("stdin line %llu: skipped: not a JSON object",
				(unsigned long long)lineno);
		else
			warning("stdin line %llu: skipped: invalid JSON at byte %zu: %s",
				(unsigned long long)lineno, err.offset + 1, err.reason);
		c->skipped++;
		return 0;
	}
	if (filter_match(c->f, v)) {
		buf_add(&c->out, p, n);
		buf_addch(&c->out, '\n');
		if (c->out.len >= (1u << 16))
			return flush_out(c);
	}
	return 0;
}

static int filter_overlong(void *ud, const char *p, size_t n, uint64_t lineno,
			   bool first, bool last)
{
	struct filter_ctx *c = ud;

	(void)p;
	(void)n;
	(void)last;
	if (first) {
		warning("stdin line %llu: skipped: longer than %u bytes",
			(unsigned long long)lineno, FILTER_MAX_LINE);
		c->skipped++;
	}
	return 0;
}

es_result cmd_filter(const struct global_opts *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "filter", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *arg = NULL;
	buf pattern = BUF_INIT, err = BUF_INIT;
	struct filter_ctx c = { NULL, BUF_INIT, 0 };
	line_splitter ls;
	char *chunk = NULL;
	es_result r = ES_OK;
	int opt;

	(void)g;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:h", longopts, NULL)) != -1) {
		if (opt == 'f') {
			arg = optarg;
			continue;
		}
		fprintf(opt == 'h' ? stdout : stderr,
			"usage: evshare filter --filter JSON|@FILE < events.ndjson\n");
		return opt == 'h' ? ES_OK : ES_ERR_USAGE;
	}
	if (!arg || optind < argc) {
		fprintf(stderr, "usage: evshare filter --filter JSON|@FILE < events.ndjson\n");
		return ES_ERR_USAGE;
	}
	if (arg[0] == '@') {
		if (read_file(arg + 1, &pattern, 1u << 20) < 0)
			return es_error(ES_ERR_USAGE, "cannot read filter file '%s': %s", arg + 1,
					strerror(errno));
	} else {
		buf_addstr(&pattern, arg);
	}
	if (filter_compile(pattern.data, pattern.len, "$", &c.f, &err) != ES_OK) {
		while (err.len && err.data[err.len - 1] == '\n')
			err.data[--err.len] = '\0';
		r = es_error(ES_ERR_DATA, "invalid filter: %s", err.data);
		goto done;
	}
	lines_init(&ls, FILTER_MAX_LINE, filter_line, filter_overlong, &c);
	chunk = xmalloc(1u << 18);
	for (;;) {
		ssize_t n = read(STDIN_FILENO, chunk, 1u << 18);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = es_error(ES_ERR_IO, "cannot read standard input: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			if (lines_finish(&ls) != 0)
				r = ES_ERR_IO;
			break;
		}
		if (lines_feed(&ls, chunk, (size_t)n) != 0) {
			r = ES_ERR_IO;
			break;
		}
	}
	if (r == ES_OK && flush_out(&c) != 0)
		r = ES_ERR_IO;
	lines_release(&ls);
done:
	free(chunk);
	filter_free(c.f);
	buf_release(&c.out);
	buf_release(&pattern);
	buf_release(&err);
	return r;
}
