/*
 * run.c - execute a plan: read, check, filter, deliver; commit.
 *
 * A first attempt reads each file once, straight into the sinks and the
 * quarantine; the objects holding a file's lines are made visible only
 * after its last byte was read and its outcome journaled.  A file that
 * fails half way (a CRC at its end, a bound passed) has then gone nowhere
 * but the spool, and when lines of it had reached a sink the attempt
 * starts over without it, checking each gzip file first this time (inflate
 * only, every member's CRC and length; a remote object is copied to the
 * spool as it goes, so the second read is local and of the same bytes).
 * After a file was read, a failure can only come from the environment (the
 * disk, a file:// object replaced in between): it fails the run, which
 * commits nothing and is finished by the next run.  See run.h for the
 * outcomes of a file and for subscribers whose destination fails.
 */
#include "run.h"
#include "event.h"
#include "gz.h"
#include "http.h"
#include "log.h"
#include "ndjson.h"
#include "progress.h"
#include "quarantine.h"
#include "sink.h"
#include "zpool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEDUP_MEMORY_TOTAL (36u << 20)  /* shared by the subscribers with dedup */
#define DEDUP_MEMORY_MIN (512u << 10)
#define DEDUP_MEMORY_MAX (12u << 20)
#define READ_CHUNK (256u << 10)

/* What lasts across the attempts at one plan (run_execute). */
struct run_exec {
	const config *cfg;
	state_store *ss;
	const plan *p;
	unsigned jobs;
	progress *prog;
	run_summary *sum;
	char *outcomes;              /* per plan file: 'o', 'f', 'p', 'd' or 0 */
	char **reasons;              /* per plan file: why it failed in this process */
	size_t defer_from;           /* files from here on wait for the next run */
	size_t last_journaled;       /* the last file with an outcome from before
					this process (SIZE_MAX: none) */
	int64_t deadline_ms;         /* run_timeout: files not begun by then wait */
	char **sub_error;            /* per subscriber: its destination failed */
	es_result *sub_status;
	bool part;                   /* finishing a pending part (run_execute) */
	store_set *stores;           /* every store of the run, opened once */
};

/* The file being read (reset by start_read and read_files). */
struct file_read {
	const plan_file *pf;
	const char *url;
	const char *source_org;
	size_t source_org_len;
	int copy_fd;                 /* spool copy of a remote object, or -1 */
	bool verifying;              /* first read: check only */
	bool plain_local;            /* verification found a local plain file */
	bool delivered;              /* a line reached a sink */
	uint64_t read, malformed, rejected;
	uint64_t plain;              /* decompressed bytes */
	es_result error;             /* ES_OK, or why the read failed */
	bool local_error;            /* ... because of this machine, not the file */
	char outcome;                /* when it failed: 'f' failed, 'p' poisoned at
					once (a bound passed), 'd' waits for the
					next run */
	char reason[256];
};

/* Everything one attempt needs while it reads files. */
struct run_ctx {
	/* the run's, borrowed */
	const config *cfg;
	const plan *p;
	state_store *ss;
	run_summary *sum;
	struct run_exec *x;
	progress *progress;          /* NULL: none */
	uint64_t bytes_total;        /* of the plan's files */
	bool verify_first;           /* check each gzip file before delivering it */
	/* the attempt's own */
	char *spool_dir;
	sink *sinks;                 /* per config.additional (only used ones set up) */
	bool *sink_used;
	bool *matches;               /* per subscriber of the current file */
	store **dests;
	store **sources;             /* per config.direct: from x->stores */
	sink_keys *keys;             /* the objects' URLs, claimed by the sinks */
	zpool *pool;
	quarantine q;                /* the run's bad lines */
	gz_decoder *gz;
	line_splitter lines;
	event_parser ep;
	bool restart;                /* a bad file was partly delivered: run again */
	struct file_read f;          /* the file being read */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_counts_of(const struct run_ctx *c, progress_counts *pc)
{
	pc->files_done = c->sum->files_processed + c->sum->files_failed;
	pc->files_total = c->p->nfiles;
	pc->bytes_read = c->sum->bytes_read;
	pc->bytes_total = c->bytes_total;
	pc->events_matched = 0;
	for (size_t a = 0; a < c->cfg->nadditional; a++)
		if (c->sink_used && c->sink_used[a])
			pc->events_matched += c->sinks[a].matched;
}

/* Redraw the progress line when it is due (a clock read otherwise). */
static void tick_progress(struct run_ctx *c)
{
	progress_counts pc;

	if (!progress_due(c->progress))
		return;
	progress_counts_of(c, &pc);
	progress_show(c->progress, &pc);
}

static void add_problem(file_problem **arr, size_t *n, size_t index, const char *url,
			const char *reason)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[*n].index = index;
	(*arr)[*n].url = xstrdup(url);
	(*arr)[*n].reason = xstrdup(reason);
	(*n)++;
}

void run_summary_init(run_summary *s, const config *cfg, const plan *p)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->run_id, sizeof(s->run_id), "%s", p->run_id);
	s->status = "ok";
	s->replay = p->replay;
	s->files_listed = p->objects_listed;
	s->files_planned = p->nfiles;
	s->subs = xcalloc(cfg->nadditional ? cfg->nadditional : 1, sizeof(*s->subs));
	s->nsubs = cfg->nadditional;
	for (size_t i = 0; i < cfg->nadditional; i++)
		s->subs[i].org_id = xstrdup(cfg->additional[i].org_id);
	for (size_t i = 0; i < p->npoisoned; i++) {
		char *url = location_key_url(&cfg->direct[p->poisoned[i].source].source,
					     p->poisoned[i].key);

		add_problem(&s->poisoned, &s->npoisoned, (size_t)-1, url, p->poisoned[i].reason);
		free(url);
	}
	for (size_t i = 0; i < p->nlate; i++) {
		char *url = location_key_url(&cfg->direct[p->late[i].source].source,
					     p->late[i].key);

		add_problem(&s->late, &s->nlate, (size_t)-1, url, p->late[i].reason);
		free(url);
	}
	s->files_late = p->nlate + p->late_unnamed;
	for (size_t i = 0; i < p->nlist_failures; i++)
		add_problem(&s->failed_sources, &s->nfailed_sources, (size_t)-1,
			    cfg->direct[p->list_failures[i].source].source.url,
			    p->list_failures[i].reason);
	if (p->nlist_failures)
		s->status = "partial";
}

static void problems_free(file_problem *fp, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(fp[i].url);
		free(fp[i].reason);
	}
	free(fp);
}

void run_summary_release(run_summary *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nsubs; i++) {
		for (size_t j = 0; j < s->subs[i].nobjects; j++)
			free(s->subs[i].objects[j]);
		free(s->subs[i].objects);
		free(s->subs[i].org_id);
		free(s->subs[i].error);
	}
	free(s->subs);
	problems_free(s->failed, s->nfailed);
	problems_free(s->poisoned, s->npoisoned);
	problems_free(s->failed_sources, s->nfailed_sources);
	problems_free(s->late, s->nlate);
	free(s->quarantine);
	if (s->resumed) {
		run_summary_release(s->resumed);
		free(s->resumed);
	}
	for (size_t i = 0; i < s->nparts; i++)
		run_summary_release(&s->parts[i]);
	free(s->parts);
	for (size_t i = 0; i < s->nstuck; i++) {
		free(s->stuck[i].org_id);
		free(s->stuck[i].run_id);
		free(s->stuck[i].reason);
	}
	free(s->stuck);
	memset(s, 0, sizeof(*s));
}

/* --- per line ----------------------------------------------------------- */

static int fail_file_as(struct run_ctx *c, char outcome, es_result r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The file fails: outcome 'f' (retried next run, poisoned after
 * max_attempts), 'p' (poisoned now) or 'd' (read again next run). */
static int fail_file_as(struct run_ctx *c, char outcome, es_result r, const char *fmt, ...)
{
	va_list ap;

	c->f.error = r;
	c->f.outcome = outcome;
	va_start(ap, fmt);
	vsnprintf(c->f.reason, sizeof(c->f.reason), fmt, ap);
	va_end(ap);
	return -1;
}

#define fail_file(c, r, ...) fail_file_as((c), 'f', (r), __VA_ARGS__)

/* After a record: a bound of the quarantine passed fails the file. */
static int quarantine_bound(struct run_ctx *c, uint64_t lineno)
{
	switch (quarantine_over(&c->q)) {
	case QUARANTINE_FILE_FULL:
		return fail_file_as(c, 'p', ES_ERR_DATA, "its bad lines passed "
				    "max_quarantine_per_file (%llu bytes) at line %llu",
				    (unsigned long long)c->cfg->max_quarantine_per_file,
				    (unsigned long long)lineno);
	case QUARANTINE_RUN_FULL:
		return fail_file_as(c, 'd', ES_ERR_DATA, "the run's quarantine passed "
				    "max_quarantine_per_run (%llu bytes) at its line %llu",
				    (unsigned long long)c->cfg->max_quarantine_per_run,
				    (unsigned long long)lineno);
	case QUARANTINE_WITHIN:
		break;
	}
	return 0;
}

/* A failure of this machine (disk, spool), not of the file. */
static int fail_local(struct run_ctx *c, es_result r)
{
	c->f.local_error = true;
	c->f.error = r;
	snprintf(c->f.reason, sizeof(c->f.reason), "%s", es_result_name(r));
	return -1;
}

/* Subscriber a's destination failed: that is its failure alone.  Its
 * sink stops (what was sent of objects not yet visible is taken back) and
 * takes no more lines; the others go on, and the commit keeps its part of
 * the run owed. */
static void sub_fail(struct run_ctx *c, size_t a, es_result r, const char *why)
{
	const additional_subscriber *sub = &c->cfg->additional[a];

	c->x->sub_error[a] = xstrdup(why && *why ? why : es_result_name(r));
	c->x->sub_status[a] = r;
	log_msg(LOG_ERROR, sub->destination.url, "subscriber '%s': its destination '%s' "
		"failed (%s); its outputs of run %s are kept owed and retried by the next "
		"runs, the other subscribers go on", sub->org_id, sub->destination.url,
		c->x->sub_error[a], c->p->run_id);
}

/* The result of a call to subscriber a's sink: a failure of its putter is
 * the subscriber's (sub_fail, and ES_OK for the run); any other failure
 * is this machine's and stays the run's. */
static es_result sink_call(struct run_ctx *c, size_t a, es_result r)
{
	sink *s = &c->sinks[a];

	if (r == ES_OK || !sink_putter_failed(s))
		return r;
	sink_stop(s);
	sub_fail(c, a, r, store_last_error(c->dests[a]));
	return ES_OK;
}

static int on_line(void *ud, const char *line, size_t n, uint64_t lineno)
{
	struct run_ctx *c = ud;
	const config *cfg = c->cfg;
	event ev;
	event_error err;
	dedup_fp fp = { 0, 0 };
	bool have_fp = false;
	es_result r;

	c->f.read++;
	if (!event_parse(&c->ep, line, n, &ev, &err)) {
		c->f.malformed++;
		r = quarantine_line(&c->q, lineno, "malformed", err.path, err.reason, line, n);
		return r == ES_OK ? quarantine_bound(c, lineno) : fail_local(c, r);
	}
	if (ev.org_id_len != c->f.source_org_len ||
	    memcmp(ev.org_id, c->f.source_org, c->f.source_org_len)) {
		char reason[200];

		snprintf(reason, sizeof(reason), "org_id is not the source's ('%s'): "
			 "tenant guard", c->f.source_org);
		c->f.rejected++;
		r = quarantine_line(&c->q, lineno, "rejected", "$.org_id", reason, line, n);
		return r == ES_OK ? quarantine_bound(c, lineno) : fail_local(c, r);
	}
	/* decide for every subscriber first, starting the dedup lookups, then
	 * deliver: the lookups' cache misses overlap the filters' work */
	for (size_t k = 0; k < c->f.pf->nsubs; k++) {
		size_t a = c->f.pf->subs[k];
		const additional_subscriber *sub = &cfg->additional[a];

		if (c->x->sub_error[a]) {
			c->matches[k] = false;   /* its outputs of this run are owed */
			continue;
		}
		c->matches[k] = !sub->filter ||
				 filter_match_members(sub->filter, ev.object, ev.members, ev.nmembers);
		if (!c->matches[k])
			continue;
		if (!have_fp) {
			fp = dedup_fingerprint(ev.event_id, ev.event_id_len);
			have_fp = true;
		}
		if (c->sinks[a].dedup)
			dedup_prefetch(c->sinks[a].dedup, fp);
	}
	for (size_t k = 0; k < c->f.pf->nsubs; k++) {
		size_t a = c->f.pf->subs[k];

		if (!c->matches[k])
			continue;
		c->f.delivered = true;
		r = sink_call(c, a, sink_write(&c->sinks[a], c->f.source_org, fp, line, n));
		if (r != ES_OK)
			return fail_local(c, r);
	}
	return 0;
}

static int on_overlong(void *ud, const char *p, size_t n, uint64_t lineno,
		       bool first, bool last)
{
	struct run_ctx *c = ud;
	es_result r;

	if (first) {
		char reason[96];

		snprintf(reason, sizeof(reason), "line longer than max_line_bytes (%llu)",
			 (unsigned long long)c->cfg->max_line_bytes);
		c->f.read++;
		c->f.malformed++;
		quarantine_long_begin(&c->q, lineno, "malformed", "$", reason);
	}
	if ((r = quarantine_long_part(&c->q, p, n)) != ES_OK)
		return fail_local(c, r);
	if (!last)
		return 0;
	if ((r = quarantine_long_end(&c->q)) != ES_OK)
		return fail_local(c, r);
	return quarantine_bound(c, lineno);
}

/* Decompressed bytes: to the line splitter, or nowhere when verifying. */
static int on_plain(void *ud, const char *p, size_t n)
{
	struct run_ctx *c = ud;
	uint64_t size = c->f.pf->obj.size ? c->f.pf->obj.size : 1;

	c->f.plain += n;
	if (c->f.plain > c->cfg->max_file_bytes)
		return fail_file_as(c, 'p', ES_ERR_DATA, "it decompresses to more than "
				    "max_file_bytes (%llu bytes)",
				    (unsigned long long)c->cfg->max_file_bytes);
	if (c->f.plain > INFLATE_RATIO_FLOOR && c->f.plain / size >= c->cfg->max_inflate_ratio)
		return fail_file_as(c, 'p', ES_ERR_DATA, "it decompresses to "
				    "max_inflate_ratio (%llu) times its %llu bytes or more",
				    (unsigned long long)c->cfg->max_inflate_ratio,
				    (unsigned long long)c->f.pf->obj.size);
	if (c->f.verifying)
		return 0;
	return lines_feed(&c->lines, p, n);
}

/* Bytes of the object, as they arrive: 0 to go on, -1 to stop (a failure
 * is in f.error; plain_local says a local plain file needs no check). */
static int on_object(void *ud, const char *p, size_t n)
{
	struct run_ctx *c = ud;
	int rc;

	if (c->f.verifying && c->f.copy_fd >= 0 && write_all(c->f.copy_fd, p, n) < 0) {
		log_msg(LOG_ERROR, c->f.url, "cannot write a spool copy of '%s' in '%s': %s",
			c->f.url, c->spool_dir, strerror(errno));
		return fail_local(c, ES_ERR_IO);
	}
	if (!c->f.verifying)
		c->sum->bytes_read += n;
	rc = gz_decoder_feed(c->gz, p, n, on_plain, c);
	tick_progress(c);
	if (rc == -1 && c->f.error == ES_OK)
		return fail_file(c, ES_ERR_DATA, "%s", gz_decoder_error(c->gz));
	if (rc == 0 && c->f.verifying && c->f.copy_fd < 0 && !gz_decoder_is_gzip(c->gz) &&
	    gz_decoder_bytes_in(c->gz) >= 2) {
		/* a local plain file: nothing to verify */
		c->f.plain_local = true;
		return -1;
	}
	return rc ? -1 : 0;
}

static void add_failure(run_summary *sum, size_t index, const char *url, const char *reason)
{
	add_problem(&sum->failed, &sum->nfailed, index, url, reason);
	sum->files_failed++;
}

static void start_read(struct run_ctx *c, bool verifying)
{
	c->f.verifying = verifying;
	c->f.error = ES_OK;
	c->f.local_error = false;
	c->f.outcome = 0;
	c->f.plain = 0;
	c->f.reason[0] = '\0';
	gz_decoder_reset(c->gz);
	if (!verifying) {
		lines_reset(&c->lines);
		c->f.read = c->f.malformed = c->f.rejected = 0;
		c->f.delivered = false;
	}
}

/* The store's error as this file's failure, unless one is already set. */
static void store_failed(struct run_ctx *c, store *src, es_result r)
{
	if (c->f.error == ES_OK)
		fail_file(c, r, "%s", *store_last_error(src) ? store_last_error(src)
							   : es_result_name(r));
}

/* First read: verify a gzip file (and copy a remote object to the
 * spool).  ES_OK: the file is good. */
static es_result verify_file(struct run_ctx *c, store *src)
{
	es_result r;

	c->f.plain_local = false;
	c->f.copy_fd = -1;
	if (!store_is_local(src)) {
		char *path = xasprintf("%s/.object-XXXXXX", c->spool_dir);

		c->f.copy_fd = mkstemp(path);
		if (c->f.copy_fd >= 0)
			unlink(path);
		free(path);
		if (c->f.copy_fd < 0) {
			log_msg(LOG_ERROR, c->f.url, "cannot create a spool copy of '%s' in "
				"'%s': %s", c->f.url, c->spool_dir, strerror(errno));
			fail_local(c, ES_ERR_IO);
			return c->f.error;
		}
	}
	start_read(c, true);
	r = store_get(src, &c->f.pf->obj, on_object, c);
	if (c->f.plain_local)
		return ES_OK;
	if (r != ES_OK)
		store_failed(c, src, r);
	else if (gz_decoder_finish(c->gz, on_plain, c) == -1 && c->f.error == ES_OK)
		fail_file(c, ES_ERR_DATA, "%s", gz_decoder_error(c->gz));
	return c->f.error;
}

/* Second read: deliver.  From the spool copy of a remote object, else
 * from the store again. */
static es_result deliver_from(struct run_ctx *c, store *src)
{
	es_result r = ES_OK;

	start_read(c, false);
	if (c->f.copy_fd >= 0) {
		char *chunk = xmalloc(READ_CHUNK);
		off_t off = 0;

		for (;;) {
			ssize_t n = pread(c->f.copy_fd, chunk, READ_CHUNK, off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				log_msg(LOG_ERROR, c->f.url, "cannot read the spool copy of '%s' "
					"in '%s': %s", c->f.url, c->spool_dir, strerror(errno));
				fail_local(c, ES_ERR_IO);
				break;
			}
			if (n == 0 || on_object(c, chunk, (size_t)n) != 0)
				break;
			off += n;
		}
		free(chunk);
	} else {
		r = store_get(src, &c->f.pf->obj, on_object, c);
		if (r != ES_OK)
			store_failed(c, src, r);
	}
	if (c->f.error == ES_OK && gz_decoder_finish(c->gz, on_plain, c) == -1 &&
	    c->f.error == ES_OK)
		fail_file(c, ES_ERR_DATA, "%s", gz_decoder_error(c->gz));
	if (c->f.error == ES_OK)
		lines_finish(&c->lines);   /* its callbacks record any failure */
	if (c->f.error == ES_OK && (r = quarantine_flush(&c->q)) != ES_OK)
		fail_local(c, r);
	if (c->f.copy_fd >= 0) {
		close(c->f.copy_fd);
		c->f.copy_fd = -1;
	}
	return c->f.error;
}

/* The interrupted run journaled this file as read, and it cannot be read
 * now: it must not be counted as failed (it may have been delivered). */
static es_result cannot_resume(struct run_ctx *c, es_result fr)
{
	/*
	 * Only a file that is gone or whose bytes changed makes the run
	 * impossible to finish.  Anything else (network, refused credentials,
	 * configuration, local disk) keeps its own status: the plan stays and
	 * the next run tries again once the cause is fixed.
	 */
	if (fr == ES_ERR_TEMP || fr == ES_ERR_AUTH || fr == ES_ERR_CONFIG ||
	    fr == ES_ERR_IO || c->f.local_error)
		return es_error_url(fr, c->f.url,
				    "cannot finish run %s: '%s' was read for it before but "
				    "not now (%s); will try again next run",
				    c->p->run_id, c->f.url, c->f.reason);
	return es_error_url(ES_ERR_STATE, c->f.url, "cannot finish run %s: '%s' was read for "
			    "it before and is now gone or different (%s); outputs of that "
			    "run may be partly delivered.  %s abandons them (their files "
			    "are then read again)", c->p->run_id, c->f.url, c->f.reason,
			    c->x->part ? "'evshare state forget --pending ORG'"
				       : "'evshare state forget --plan'");
}

/* After a file was delivered and journaled: count it, put what is ready. */
static es_result file_done(struct run_ctx *c)
{
	es_result r;

	c->sum->files_processed++;
	c->sum->ev_read += c->f.read;
	c->sum->ev_malformed += c->f.malformed;
	c->sum->ev_rejected += c->f.rejected;
	/* (a part's lines were quarantined, and told, when its run was first
	 * executed) */
	if ((c->f.malformed || c->f.rejected) && !c->x->part)
		log_msg(LOG_WARNING, c->f.url, "'%s': %llu malformed and %llu rejected line(s) "
			"quarantined in '%s'", c->f.url, (unsigned long long)c->f.malformed,
			(unsigned long long)c->f.rejected, c->q.path);
	for (size_t a = 0; a < c->cfg->nadditional; a++)
		if (c->sink_used[a] && !c->x->sub_error[a] &&
		    (r = sink_call(c, a, sink_put_ready(&c->sinks[a]))) != ES_OK)
			return r;
	return ES_OK;
}

static es_result file_failed(struct run_ctx *c, size_t i, char *outcomes)
{
	char outcome = c->f.outcome ? c->f.outcome : 'f';
	es_result r;

	if (outcome == 'f' && http_deadline_passed()) {
		/* cut by the run's deadline, not the file's fault */
		outcome = 'd';
		snprintf(c->f.reason, sizeof(c->f.reason), "run_timeout passed while it was "
			 "read");
	}

	if (outcome == 'd')
		log_msg(LOG_WARNING, c->f.url, "'%s' waits for the next run: %s", c->f.url,
			c->f.reason);
	else if (outcome == 'p')
		log_msg(LOG_WARNING, c->f.url, "'%s' is poisoned: %s; it is skipped until "
			"'evshare state forget %s'", c->f.url, c->f.reason, c->f.url);
	else
		log_msg(LOG_WARNING, c->f.url, "'%s' failed: %s; it stays pending and is "
			"retried next run", c->f.url, c->f.reason);
	/* what it left in the quarantine goes with it */
	if ((r = quarantine_file_rollback(&c->q)) != ES_OK)
		return r;
	if ((r = state_plan_outcome(c->ss, i, outcome)) != ES_OK)
		return r;
	outcomes[i] = outcome;
	free(c->x->reasons[i]);
	c->x->reasons[i] = xstrdup(c->f.reason);
	if (outcome == 'd') {
		/* the run's quarantine is spent: the files after it wait too */
		if (i < c->x->defer_from)
			c->x->defer_from = i;
		c->sum->files_deferred++;
	} else {
		add_failure(c->sum, i, c->f.url, c->f.reason);
	}
	return ES_OK;
}

/* Verify first, then deliver (used after a restart). */
static es_result run_file_checked(struct run_ctx *c, size_t i, store *src, char *outcomes)
{
	bool was_ok = outcomes[i] == 'o';   /* its lines may be out already */
	es_result fr, r;

	fr = verify_file(c, src);
	if (fr != ES_OK) {
		if (c->f.copy_fd >= 0) {
			close(c->f.copy_fd);
			c->f.copy_fd = -1;
		}
		if (c->f.local_error)
			return fr;
		if (was_ok)
			return cannot_resume(c, fr);
		return file_failed(c, i, outcomes);
	}
	/* the file is good: journal it, then deliver it */
	if (!was_ok && (r = state_plan_outcome(c->ss, i, 'o')) != ES_OK)
		return r;
	outcomes[i] = 'o';
	fr = deliver_from(c, src);
	if (fr != ES_OK) {
		/* a local failure (spool, quarantine, an output's upload) was
		 * told where it happened: it is not the file's */
		if (c->f.local_error)
			return fr;
		if (!was_ok && (c->f.outcome == 'p' || c->f.outcome == 'd')) {
			/* a bound passed while its lines were read: nothing of
			 * it is visible yet; the outcome replaces 'ok' in the
			 * journal, and the run starts over without it */
			if ((r = file_failed(c, i, outcomes)) != ES_OK || !c->f.delivered)
				return r;
			c->restart = true;
			return ES_OK;
		}
		if (!c->f.delivered && !was_ok)
			return file_failed(c, i, outcomes);
		if (was_ok)
			return cannot_resume(c, fr);
		return es_error_url(ES_ERR_TEMP, c->f.url,
				    "'%s' could not be read to the end after it was checked "
				    "(%s); nothing is committed and the next run finishes this "
				    "one", c->f.url, c->f.reason);
	}
	return file_done(c);
}

/*
 * Read and deliver plan file i in one pass.  Objects holding its lines are
 * put only after its last byte was read and checked and its outcome
 * journaled, so a file that turns out corrupt half way has gone nowhere
 * but the spool.  Then the run must start over without it: its failure is
 * journaled and c->restart set.  ES_OK also when the file failed (it is
 * counted); anything else fails the run.
 */
static es_result run_file(struct run_ctx *c, size_t i, store *src, char *outcomes)
{
	es_result fr, r;

	quarantine_file_begin(&c->q, c->f.source_org, c->f.url);
	if (c->verify_first)
		return run_file_checked(c, i, src, outcomes);
	c->f.copy_fd = -1;
	fr = deliver_from(c, src);
	if (fr != ES_OK) {
		if (c->f.local_error)
			return fr;
		if (outcomes[i] == 'o')
			return cannot_resume(c, fr);
		if ((r = file_failed(c, i, outcomes)) != ES_OK || !c->f.delivered)
			return r;
		log_msg(LOG_INFO, c->f.url, "part of '%s' was read before it failed; "
			"the run starts over without it, checking each file first", c->f.url);
		c->restart = true;
		return ES_OK;
	}
	if (outcomes[i] != 'o' && (r = state_plan_outcome(c->ss, i, 'o')) != ES_OK)
		return r;
	outcomes[i] = 'o';
	return file_done(c);
}

/*
 * A file not begun waits for the next run (outcome 'd', nothing counted
 * against it) once the run's quarantine is spent, or once run_timeout
 * passed: the latter only for files after the last one an interrupted run
 * journaled, whose outputs must come out as they were.
 */
static const char *why_wait(const struct run_exec *x, size_t i)
{
	if (x->outcomes[i])
		return NULL;
	if (i > x->defer_from)
		return "the run's quarantine passed max_quarantine_per_run before it was read";
	if ((x->last_journaled == SIZE_MAX || i > x->last_journaled) &&
	    time_now_ms() >= x->deadline_ms)
		return "run_timeout passed before it was read";
	return NULL;
}

static es_result defer_file(struct run_ctx *c, size_t i, const char *why)
{
	es_result r = state_plan_outcome(c->ss, i, 'd');

	if (r != ES_OK)
		return r;
	c->x->outcomes[i] = 'd';
	free(c->x->reasons[i]);
	c->x->reasons[i] = xstrdup(why);
	c->sum->files_deferred++;
	log_msg(LOG_DEBUG, c->f.url, "'%s' waits for the next run: %s", c->f.url, why);
	return ES_OK;
}

/* One file of the plan: read it, or account for an outcome it has. */
static es_result plan_file_step(struct run_ctx *c, size_t i, store *src)
{
	struct run_exec *x = c->x;
	const char *why = why_wait(x, i);

	if (why)
		return defer_file(c, i, why);
	switch (x->outcomes[i]) {
	case 'f':
	case 'p':
		add_failure(c->sum, i, c->f.url, x->reasons[i] ? x->reasons[i]
			    : "failed before the run was interrupted");
		return ES_OK;
	case 'd':
		c->sum->files_deferred++;
		return ES_OK;
	default:
		log_msg(LOG_DEBUG, c->f.url, "reading '%s' (%llu bytes) for %zu subscriber(s)",
			c->f.url, (unsigned long long)c->f.pf->obj.size, c->f.pf->nsubs);
		return run_file(c, i, src, x->outcomes);
	}
}

/* The dedup memory of each subscriber with dedup, out of the run's budget. */
static size_t dedup_share(const config *cfg, const bool *used)
{
	size_t n = 0, mem;

	for (size_t a = 0; a < cfg->nadditional; a++)
		n += used[a] && cfg->additional[a].dedup;
	mem = n ? DEDUP_MEMORY_TOTAL / n : 0;
	if (mem < DEDUP_MEMORY_MIN)
		mem = DEDUP_MEMORY_MIN;
	return mem > DEDUP_MEMORY_MAX ? DEDUP_MEMORY_MAX : mem;
}

/* An attempt's context: the reader, the quarantine, the subscribers the
 * plan serves (sink_used). */
static void ctx_init(struct run_ctx *c, struct run_exec *x, bool verify_first)
{
	const config *cfg = x->cfg;
	const plan *p = x->p;
	size_t nsubs = cfg->nadditional ? cfg->nadditional : 1;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->p = p;
	c->ss = x->ss;
	c->sum = x->sum;
	c->x = x;
	c->f.copy_fd = -1;
	c->verify_first = verify_first;
	c->progress = x->prog;
	for (size_t i = 0; i < p->nfiles; i++)
		c->bytes_total += p->files[i].obj.size;
	c->spool_dir = state_spool_dir(x->ss, p->run_id);
	/* a part's lines were quarantined when its run was first executed */
	quarantine_init(&c->q, x->ss, p->run_id, cfg, !x->part);
	c->sinks = xcalloc(nsubs, sizeof(sink));
	c->sink_used = xcalloc(nsubs, sizeof(bool));
	c->matches = xcalloc(nsubs, sizeof(bool));
	c->dests = xcalloc(nsubs, sizeof(store *));
	c->sources = xcalloc(cfg->ndirect ? cfg->ndirect : 1, sizeof(store *));
	c->gz = gz_decoder_new();
	lines_init(&c->lines, cfg->max_line_bytes, on_line, on_overlong, c);
	event_parser_init(&c->ep, cfg->max_json_depth);
	for (size_t i = 0; i < p->nfiles; i++)
		for (size_t k = 0; k < p->files[i].nsubs; k++)
			c->sink_used[p->files[i].subs[k]] = true;
}

/* A sink for each subscriber the plan serves and has not failed; one
 * whose destination cannot be opened fails alone. */
static void open_sinks(struct run_ctx *c)
{
	const config *cfg = c->cfg;
	size_t dedup_mem = dedup_share(cfg, c->sink_used);

	c->pool = zpool_new(c->x->jobs, 2 * c->x->jobs + 2);
	c->keys = sink_keys_new();
	for (size_t a = 0; a < cfg->nadditional; a++) {
		es_result r;

		if (!c->sink_used[a] || c->x->sub_error[a])
			continue;
		if ((r = store_set_get(c->x->stores, &cfg->additional[a].destination,
				       cfg->additional[a].org_id, &c->dests[a])) != ES_OK) {
			/* (logged) its settings cannot work: its failure alone */
			sub_fail(c, a, r, NULL);
			continue;
		}
		sink_init(&c->sinks[a], &cfg->additional[a], c->dests[a], c->pool,
			  c->p->run_id, c->p->started_ms, c->spool_dir, dedup_mem);
		c->sinks[a].keys = c->keys;
	}
}

/* Every file of the plan in order, until the run fails or must restart. */
static es_result read_files(struct run_ctx *c)
{
	const config *cfg = c->cfg;
	const plan *p = c->p;
	size_t deferred_before = c->sum->files_deferred;
	es_result r = ES_OK;

	for (size_t i = 0; i < p->nfiles && r == ES_OK && !c->restart; i++) {
		const plan_file *pf = &p->files[i];
		const direct_subscriber *d = &cfg->direct[pf->source];
		store **src = &c->sources[pf->source];
		char *url;

		c->f.pf = pf;
		c->f.source_org = d->org_id;
		c->f.source_org_len = strlen(d->org_id);
		if (!*src && (r = store_set_get(c->x->stores, &d->source, NULL, src)) != ES_OK)
			break;
		url = store_url(*src, pf->obj.key);
		c->f.url = url;
		r = plan_file_step(c, i, *src);
		c->f.url = NULL;
		free(url);
		tick_progress(c);
	}
	if (c->sum->files_deferred > deferred_before)
		log_msg(LOG_WARNING, NULL, "%llu file(s) of run %s wait for the next run: %s",
			(unsigned long long)(c->sum->files_deferred - deferred_before),
			p->run_id, c->x->defer_from < p->nfiles ? "the run's quarantine "
			"passed max_quarantine_per_run" : "run_timeout passed");
	return r;
}

/* The last objects: ended, then put, each subscriber on its thread; the
 * quarantine on disk. */
static es_result finish_outputs(struct run_ctx *c)
{
	const config *cfg = c->cfg;
	es_result r = ES_OK;

	for (size_t a = 0; a < cfg->nadditional && r == ES_OK; a++)
		if (c->sink_used[a] && !c->x->sub_error[a])
			r = sink_call(c, a, sink_finish(&c->sinks[a]));
	for (size_t a = 0; a < cfg->nadditional && r == ES_OK; a++)
		if (c->sink_used[a] && !c->x->sub_error[a])
			r = sink_call(c, a, sink_wait(&c->sinks[a]));
	if (r == ES_OK)
		r = quarantine_sync(&c->q);
	if (quarantine_used_path(&c->q)) {
		free(c->sum->quarantine);
		c->sum->quarantine = xstrdup(quarantine_used_path(&c->q));
	}
	return r;
}

/* Each subscriber's counts and objects into the summary (its sink is
 * stopped and released: what it sent of objects not visible is taken
 * back). */
static void gather_subscribers(struct run_ctx *c)
{
	const config *cfg = c->cfg;
	run_summary *sum = c->sum;

	for (size_t a = 0; a < cfg->nadditional; a++) {
		sink *s = &c->sinks[a];
		sub_summary *ssum = &sum->subs[a];

		ssum->served = c->sink_used[a];
		if (c->x->sub_error[a] && !ssum->error) {
			ssum->error = xstrdup(c->x->sub_error[a]);
			ssum->status = c->x->sub_status[a];
		}
		if (!c->sink_used[a] || !s->sub)
			continue;
		sink_stop(s);
		ssum->matched = s->matched;
		ssum->duplicates = s->duplicates;
		ssum->events = s->written;
		ssum->objects = s->objects;
		ssum->nobjects = s->nobjects;
		s->objects = NULL;
		s->nobjects = 0;
		sum->ev_matched += s->matched;
		sum->ev_duplicates += s->duplicates;
		sum->ev_written += s->written;
		sum->bytes_written += s->bytes_out;
		sink_release(s);
	}
}

static void ctx_release(struct run_ctx *c)
{
	sink_keys_free(c->keys);
	zpool_free(c->pool);
	gz_decoder_free(c->gz);
	lines_release(&c->lines);
	event_parser_release(&c->ep);
	quarantine_release(&c->q);
	free(c->sources);     /* (the set's stores) */
	free(c->sinks);
	free(c->sink_used);
	free(c->matches);
	free(c->dests);       /* (the set's stores) */
	free(c->spool_dir);
}

/* The summary's status once an attempt is over. */
static void set_status(const struct run_exec *x, es_result r)
{
	bool owed = x->sum->files_failed || x->sum->files_deferred;

	for (size_t a = 0; a < x->cfg->nadditional; a++)
		owed |= x->sub_error[a] != NULL;
	if (r != ES_OK)
		x->sum->status = "failed";
	else if (owed)
		x->sum->status = "partial";
}

/* One attempt at the plan: *restart when a file failed after lines of it
 * had reached an output (run_execute tries again). */
static es_result execute_once(struct run_exec *x, bool verify_first, bool *restart)
{
	struct run_ctx c;
	double t0 = now_s();
	es_result r = ES_OK;

	ctx_init(&c, x, verify_first);
	progress_begin(x->prog);
	if (mkdir_p(c.spool_dir, 0750) < 0) {
		r = es_error(ES_ERR_IO, "cannot create spool directory '%s': %s",
			     c.spool_dir, strerror(errno));
	} else {
		open_sinks(&c);
		r = read_files(&c);
		*restart = c.restart;
		if (r == ES_OK && !c.restart)
			r = finish_outputs(&c);
	}
	if (x->prog) {
		progress_counts pc;

		progress_counts_of(&c, &pc);
		progress_end(x->prog, &pc);
	}
	gather_subscribers(&c);
	ctx_release(&c);
	x->sum->elapsed_s += now_s() - t0;
	set_status(x, r);
	return r;
}

es_result run_execute(const config *cfg, state_store *ss, const plan *p,
		      const run_exec_options *opt, char *outcomes, run_summary *sum)
{
	struct run_exec x = {
		.cfg = cfg, .ss = ss, .p = p, .jobs = opt->jobs, .prog = opt->prog, .sum = sum,
		.outcomes = outcomes, .defer_from = SIZE_MAX, .last_journaled = SIZE_MAX,
		.deadline_ms = opt->deadline_ms, .part = opt->part, .stores = opt->stores,
	};
	bool restart = false, verify_first = false;
	es_result r;

	x.reasons = xcalloc(p->nfiles + 1, sizeof(char *));
	x.sub_error = xcalloc(cfg->nadditional + 1, sizeof(char *));
	x.sub_status = xcalloc(cfg->nadditional + 1, sizeof(es_result));
	for (size_t i = 0; i < p->nfiles; i++) {
		if (outcomes[i])
			x.last_journaled = i;
		if (outcomes[i] == 'd' && x.defer_from == SIZE_MAX)
			x.defer_from = i;
	}
	for (;;) {
		r = execute_once(&x, verify_first, &restart);
		if (r != ES_OK || !restart)
			break;
		/*
		 * Nothing of this attempt that holds a line of the failed file
		 * was put; the next attempt rewrites the rest byte for byte,
		 * checking each file first.  Each attempt fails one more file
		 * for good, so there are at most as many as files.
		 */
		double elapsed = sum->elapsed_s;
		run_summary *resumed = sum->resumed;

		sum->resumed = NULL;
		run_summary_release(sum);
		run_summary_init(sum, cfg, p);
		sum->resumed = resumed;
		sum->elapsed_s = elapsed;
		verify_first = true;
	}
	for (size_t i = 0; i < p->nfiles; i++)
		free(x.reasons[i]);
	free(x.reasons);
	for (size_t a = 0; a < cfg->nadditional; a++)
		free(x.sub_error[a]);
	free(x.sub_error);
	free(x.sub_status);
	return r;
}

/* --- commit --------------------------------------------------------------- */

/*
 * Subscribers whose destination failed keep their outputs of the run
 * owed: the plan cut down to their files is saved as a pending part,
 * before the state that names it.
 */
static es_result keep_part(const config *cfg, state_store *ss, state_data *st,
			   const plan *p, const run_summary *sum, const char *outcomes)
{
	bool *keep = xcalloc(cfg->nadditional + 1, sizeof(bool));
	pending_part *pp = NULL;
	plan part;
	char *json;
	size_t len;
	es_result r;

	for (size_t a = 0; a < cfg->nadditional; a++) {
		if (!sum->subs[a].error)
			continue;
		keep[a] = true;
		if (!pp) {
			pp = state_part_add(st, p->run_id);
			state_part_failed(pp, sum->subs[a].error);
		}
		pp->subs = xrealloc(pp->subs, (pp->nsubs + 1) * sizeof(char *));
		pp->subs[pp->nsubs++] = xstrdup(cfg->additional[a].org_id);
	}
	plan_restrict(p, cfg->ndirect, outcomes, keep, &part);
	json = plan_to_json(&part, cfg, &len);
	r = state_part_save(ss, p->run_id, json, len);
	free(json);
	plan_release(&part);
	free(keep);
	return r;
}

/* Why file i failed in this run (summary), or NULL. */
static const char *failure_reason(const run_summary *sum, size_t i)
{
	for (size_t k = 0; k < sum->nfailed; k++)
		if (sum->failed[k].index == i)
			return sum->failed[k].reason;
	return NULL;
}

/* Record what happened to plan file i; *pending goes below a file still
 * owed (the horizon must not pass it). */
static void commit_file(const config *cfg, state_data *st, const plan *p, size_t i,
			char outcome, run_summary *sum, int64_t *pending)
{
	const plan_file *pf = &p->files[i];
	source_state *src = state_source(st, cfg->direct[pf->source].org_id, true);
	const char **orgs;
	size_t n = 0;
	bool owed = outcome == 'd';

	if (outcome == 'o') {
		orgs = xcalloc(pf->nsubs + 1, sizeof(char *));
		for (size_t k = 0; k < pf->nsubs; k++) {
			size_t a = pf->subs[k];

			if (!sum->subs[a].error)
				orgs[n++] = cfg->additional[a].org_id;
			else
				owed = true;      /* in a pending part */
		}
		state_file_read(src, &pf->obj, p->run_id, orgs, n);
		free(orgs);
	} else if (outcome == 'f' || outcome == 'p') {
		const char *why = failure_reason(sum, i);
		const file_record *rec = state_file_failed(src, &pf->obj, p->run_id, why,
							   outcome == 'p', cfg->max_attempts);

		if (rec->poisoned) {
			char *url = location_key_url(&cfg->direct[pf->source].source, pf->obj.key);

			if (outcome == 'f')
				log_msg(LOG_WARNING, url, "'%s' failed %u runs in a row and is "
					"now poisoned: it is skipped until 'evshare state forget "
					"%s'", url, rec->failures, url);
			add_problem(&sum->poisoned, &sum->npoisoned, i, url, why ? why : "");
			free(url);
		} else {
			owed = true;
		}
	}
	/* a file not read ('d') is not recorded at all */
	if (owed && pf->obj.mtime_ms < *pending)
		*pending = pf->obj.mtime_ms;
}

es_result run_commit(const config *cfg, state_store *ss, state_data *st,
		     const plan *p, run_summary *sum, const char *outcomes)
{
	int64_t *min_pending = xcalloc(cfg->ndirect ? cfg->ndirect : 1, sizeof(int64_t));
	bool owed = false;
	es_result r = ES_OK;

	if (p->replay)
		goto clear;
	for (size_t a = 0; a < cfg->nadditional; a++)
		owed |= sum->subs[a].error != NULL;
	if (owed && (r = keep_part(cfg, ss, st, p, sum, outcomes)) != ES_OK)
		goto done;
	for (size_t s = 0; s < cfg->ndirect; s++)
		min_pending[s] = p->min_pending_ms[s];
	for (size_t i = 0; i < p->nfiles; i++)
		if (outcomes[i])
			commit_file(cfg, st, p, i, outcomes[i], sum,
				    &min_pending[p->files[i].source]);
	for (size_t s = 0; s < cfg->ndirect; s++) {
		int64_t h = p->started_ms - cfg->lookback_ms;

		if (!p->listed[s])
			continue;
		if (min_pending[s] < h)
			h = min_pending[s];
		/* what was listed below, to tell late files next time */
		state_source_advance(state_source(st, cfg->direct[s].org_id, true), h,
				     p->below ? &p->below[s] : NULL, p->below_until_ms);
	}
	state_run_committed(st, p->run_id);
	if ((r = state_save(ss, st)) != ES_OK)
		goto done;
clear:
	r = state_plan_clear(ss);
	state_spool_remove(ss, p->run_id);
	state_quarantine_prune(ss, time_now_ms() - cfg->quarantine_retention_ms);
	if (r == ES_OK)
		sum->committed = true;
done:
	free(min_pending);
	return r;
}

es_result run_commit_part(const config *cfg, state_store *ss, state_data *st,
			  const plan *p, run_summary *sum)
{
	pending_part *pp = NULL;
	size_t pi = 0;
	es_result r;

	for (size_t i = 0; i < st->nparts; i++)
		if (!strcmp(st->parts[i].run_id, p->run_id)) {
			pp = &st->parts[i];
			pi = i;
		}
	if (!pp)
		return es_error(ES_ERR_INTERNAL, "no pending part of run %s", p->run_id);
	for (size_t i = 0; i < p->nfiles; i++) {
		const plan_file *pf = &p->files[i];
		source_state *src = state_source(st, cfg->direct[pf->source].org_id, false);
		file_record *rec = src ? state_file(src, pf->obj.key) : NULL;

		/* a record that describes another version is left alone: that
		 * version is owed to the subscriber in its turn */
		if (!rec || !rec->etag || strcmp(rec->etag, pf->obj.etag))
			continue;
		for (size_t k = 0; k < pf->nsubs; k++)
			if (!sum->subs[pf->subs[k]].error)
				file_record_mark_done(rec, cfg->additional[pf->subs[k]].org_id);
	}
	{
		const char *why = NULL;

		for (size_t a = 0; a < cfg->nadditional; a++)
			if (sum->subs[a].error)
				why = sum->subs[a].error;
		if (why)
			state_part_failed(pp, why);
	}
	for (size_t a = 0; a < cfg->nadditional; a++) {
		bool listed = false;

		for (size_t k = 0; k < pp->nsubs; k++)
			listed |= !strcmp(pp->subs[k], cfg->additional[a].org_id);
		if (listed && !sum->subs[a].error) {
			/* pp may go with its last subscriber */
			state_part_done(st, pi, cfg->additional[a].org_id);
			pp = pi < st->nparts && !strcmp(st->parts[pi].run_id, p->run_id)
			     ? &st->parts[pi] : NULL;
			if (!pp)
				break;
		}
	}
	if ((r = state_save(ss, st)) != ES_OK)
		return r;
	state_parts_prune(ss, st);
	state_spool_remove(ss, p->run_id);
	sum->committed = true;
	return ES_OK;
}
