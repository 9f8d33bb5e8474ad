/* cmd_list.c - `evshare list`: what a run would read, and for whom. */
#include "cmd.h"
#include "config.h"
#include "log.h"
#include "selection.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum { OPT_JSON = SEL_OPT_END };

static const struct option list_long[] = {
	SELECTION_LONG_OPTIONS,
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void list_usage(FILE *out)
{
	fprintf(out, "usage: evshare [-c FILE] list [--since T] [--until T] [--source ORG]... "
		"[--subscriber ORG]... [--replay] [--json]\n");
}

es_result cmd_list(const struct global_opts *g, int argc, char **argv)
{
	selection sel;
	bool json = false;
	config *cfg = NULL;
	state_store *ss = NULL;
	state_data *st = NULL;
	plan p;
	es_result r = ES_OK;
	int c;

	memset(&sel, 0, sizeof(sel));
	memset(&p, 0, sizeof(p));
	optind = 1;
	while (r == ES_OK && (c = getopt_long(argc, argv, "h", list_long, NULL)) != -1) {
		if (c == OPT_JSON) {
			json = true;
		} else if (c >= SEL_OPT_SINCE && c < SEL_OPT_END) {
			r = selection_option(&sel, c, optarg);
		} else if (c == 'h') {
			list_usage(stdout);
			goto done;
		} else {
			list_usage(stderr);
			r = ES_ERR_USAGE;
		}
	}
	if (r == ES_OK && optind < argc) {
		error("unexpected argument '%s'", argv[optind]);
		list_usage(stderr);
		r = ES_ERR_USAGE;
	}
	if (r != ES_OK || (r = selection_check(&sel)) != ES_OK ||
	    (r = config_load(g->config_path, &cfg)) != ES_OK ||
	    (r = selection_resolve(&sel, cfg)) != ES_OK ||
	    (r = selection_state(cfg, &ss, &st)) != ES_OK ||
	    (r = selection_preview(cfg, ss, st, &sel, &p)) != ES_OK)
		goto done;
	selection_print(cfg, &p, json);
	plan_release(&p);
done:
	state_data_free(st);
	state_close(ss);
	config_free(cfg);
	selection_release(&sel);
	return r;
}
