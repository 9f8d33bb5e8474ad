/*
 * config.h - the configuration file (JSON; see evshare.json(5)).
 *
 * config_load() reads, parses and validates everything at once: unknown
 * keys, wrong types, bad locations, links to undefined org_ids, duplicate
 * org_ids, invalid filters and unsafe key formats are all errors, and
 * every error found is reported with the JSON path at fault
 * ("$.additional_subscribers[1].links[0]: unknown org_id 'X'").
 *
 * Relative paths (state_dir, file: locations) are relative to the
 * directory holding the config file.
 *
 * The config keeps its own text: an interrupted run is resumed with the
 * configuration it started with, so its outputs come out byte-identical.
 *
 * Ownership: a config owns everything it points to; config_free() frees
 * it all.  It is immutable once loaded.
 */
#ifndef EVSHARE_CONFIG_H
#define EVSHARE_CONFIG_H

#include "filter.h"
#include "keyfmt.h"
#include "store.h"
#include "util.h"

#include <sys/types.h>

#define CONFIG_DEFAULT_PATH "/etc/evshare/evshare.json"
#define CONFIG_MAX_BYTES (16u << 20)

typedef struct direct_subscriber {
	char *org_id;
	location source;
} direct_subscriber;

typedef struct additional_subscriber {
	char *org_id;
	size_t *links;             /* indexes into config.direct, config order */
	size_t nlinks;
	filter *filter;            /* NULL: every event */
	location destination;
	char *key_format_text;
	keyfmt *key_format;
	bool dedup;
	uint64_t max_object_bytes;
	int compression_level;     /* 1..9 */
} additional_subscriber;

typedef struct config {
	char *path;                /* where it was read from ("-" for stdin) */
	char *dir;                 /* base for relative paths */
	char *text;                /* the file's bytes */
	size_t text_len;
	char *state_dir;
	direct_subscriber *direct;
	size_t ndirect;
	additional_subscriber *additional;
	size_t nadditional;
	uint64_t max_line_bytes;
	unsigned max_json_depth;
	int64_t lookback_ms;
	int64_t quarantine_retention_ms;
	unsigned max_attempts;     /* failed runs before a file is poisoned */
	/* bounds on what one input file may cost (evshare.json(5), LIMITS) */
	uint64_t max_file_bytes;         /* decompressed bytes of one file */
	uint64_t max_inflate_ratio;      /* decompressed / compressed, past
					    INFLATE_RATIO_FLOOR bytes */
	uint64_t quarantine_line_bytes;  /* bytes of a bad line kept whole */
	uint64_t max_quarantine_per_file;
	uint64_t max_quarantine_per_run;
	int64_t run_timeout_ms;          /* files not started by then wait */
	int64_t object_timeout_ms;       /* one object's transfer (also in every
					    location) */
} config;

/* Decompressed bytes a file may reach whatever its ratio. */
#define INFLATE_RATIO_FLOOR (16ull << 20)

/* Parse and validate text.  origin names it in messages (the path of the
 * file), base_dir anchors
 * relative paths.  On failure appends one line per error to err and
 * returns ES_ERR_CONFIG. */
es_result config_parse(const char *text, size_t n, const char *origin,
		       const char *base_dir, config **out, buf *err);
/* Read path and parse it; errors are logged.  ES_ERR_CONFIG for a missing,
 * unreadable or invalid file. */
es_result config_load(const char *path, config **out);
void config_free(config *c);

/* Replace subscriber a's destination with a copy of loc: an interrupted
 * or pending run is finished where the subscriber's outputs go now. */
void config_set_destination(config *c, size_t a, const location *loc);

/* Lookups by org_id; -1 if absent. */
ssize_t config_direct_index(const config *c, const char *org_id);
ssize_t config_additional_index(const config *c, const char *org_id);

/* Is s a valid org_id ([A-Za-z0-9._-], 1..128 bytes, not "." or "..")? */
bool org_id_is_valid(const char *s);

#endif
