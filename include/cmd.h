/*
 * cmd.h - the commands of evshare(1).  One cmd_NAME() per command; each
 * parses its own options from argv (argv[0] is the command name) and
 * returns an es_result; main() turns that into the exit status.
 */
#ifndef EVSHARE_CMD_H
#define EVSHARE_CMD_H

#include "util.h"

struct global_opts {
	const char *config_path;
};

es_result cmd_run(const struct global_opts *g, int argc, char **argv);
es_result cmd_list(const struct global_opts *g, int argc, char **argv);
es_result cmd_check(const struct global_opts *g, int argc, char **argv);
es_result cmd_filter(const struct global_opts *g, int argc, char **argv);
es_result cmd_state(const struct global_opts *g, int argc, char **argv);

#endif
