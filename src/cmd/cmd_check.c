/* cmd_check.c - `evshare check`: validate the configuration. */
#include "cmd.h"
#include "config.h"
#include "log.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

es_result cmd_check(const struct global_opts *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	config *cfg = NULL;
	es_result r;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		fprintf(c == 'h' ? stdout : stderr, "usage: evshare [-c FILE] check\n");
		return c == 'h' ? ES_OK : ES_ERR_USAGE;
	}
	if (optind < argc) {
		fprintf(stderr, "usage: evshare [-c FILE] check\n");
		return ES_ERR_USAGE;
	}
	if ((r = config_load(g->config_path, &cfg)) != ES_OK)
		return r;
	if (log_enabled(LOG_INFO)) {
		printf("%s: ok: %zu direct subscriber(s), %zu additional subscriber(s), "
		       "state in '%s'\n", cfg->path, cfg->ndirect, cfg->nadditional,
		       cfg->state_dir);
		for (size_t i = 0; i < cfg->nadditional; i++) {
			const additional_subscriber *a = &cfg->additional[i];

			printf("  %s <- ", a->org_id);
			for (size_t k = 0; k < a->nlinks; k++)
				printf("%s%s", k ? ", " : "", cfg->direct[a->links[k]].org_id);
			printf("%s -> %s%s\n", a->filter ? " (filtered)" : "",
			       a->destination.url, a->key_format_text);
		}
	}
	config_free(cfg);
	return ES_OK;
}
