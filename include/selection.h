/*
 * selection.h - what `evshare run` and `evshare list` share on the command
 * line: the selection of files (--since, --until, --source, --subscriber,
 * --replay), and the look at what a run would read (list, run --dry-run),
 * which writes nothing.
 *
 * The selection names org_ids, which need the config: options are kept as
 * given until selection_resolve().  Ownership: a selection borrows the
 * argv strings and owns its arrays; selection_release() frees them.
 */
#ifndef EVSHARE_SELECTION_H
#define EVSHARE_SELECTION_H

#include <getopt.h>

#include "config.h"
#include "plan.h"
#include "state.h"

typedef struct selection {
	plan_options popt;            /* for plan_build (its arrays are ours) */
	const char **sources, **subs; /* as given */
	size_t nsources, nsubs;
	bool *source_selected, *sub_selected;
} selection;

/* getopt_long codes of the selection's options; a command's own start at
 * SEL_OPT_END. */
enum {
	SEL_OPT_SINCE = 256, SEL_OPT_UNTIL, SEL_OPT_SOURCE, SEL_OPT_SUBSCRIBER,
	SEL_OPT_REPLAY, SEL_OPT_END
};

#define SELECTION_LONG_OPTIONS \
	{ "since", required_argument, NULL, SEL_OPT_SINCE }, \
	{ "until", required_argument, NULL, SEL_OPT_UNTIL }, \
	{ "source", required_argument, NULL, SEL_OPT_SOURCE }, \
	{ "subscriber", required_argument, NULL, SEL_OPT_SUBSCRIBER }, \
	{ "replay", no_argument, NULL, SEL_OPT_REPLAY }

/* Take option opt (a SEL_OPT_* code) with its argument; ES_ERR_USAGE (told)
 * for a bad value. */
es_result selection_option(selection *s, int opt, const char *arg);
/* After the options: a window that is empty is a usage error (told). */
es_result selection_check(const selection *s);
/* Turn the org_ids into selections of cfg; an unknown one is a usage
 * error (told). */
es_result selection_resolve(selection *s, const config *cfg);
void selection_release(selection *s);

/* The state to look at without writing: read-only, or an empty one when
 * the state directory does not exist yet (*ss NULL then). */
es_result selection_state(const config *cfg, state_store **ss, state_data **st);
/* The plan a run would make now (serving no subscriber still owed
 * outputs), after warnings about an interrupted run and owed outputs. */
es_result selection_preview(const config *cfg, state_store *ss, state_data *st,
			    const selection *s, plan *p);
/* One line per planned file: tab-separated text, or a JSON object. */
void selection_print(const config *cfg, const plan *p, bool json);

#endif
