/* metrics.c - the Prometheus metrics file of a run.  See metrics.h. */
#include "metrics.h"
#include "log.h"
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define METRICS_READ_CAP (16u << 20)
#define LAST_SUCCESS "evshare_last_success_timestamp_seconds"

void metrics_init(metrics_run *m, int64_t start_ms)
{
	memset(m, 0, sizeof(*m));
	m->start_ms = start_ms;
	m->end_ms = start_ms;
}

void metrics_release(metrics_run *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nsubs; i++)
		free(m->subs[i].org_id);
	free(m->subs);
	memset(m, 0, sizeof(*m));
}

static metrics_sub *sub_entry(metrics_run *m, const char *org_id)
{
	for (size_t i = 0; i < m->nsubs; i++)
		if (!strcmp(m->subs[i].org_id, org_id))
			return &m->subs[i];
	m->subs = xrealloc(m->subs, (m->nsubs + 1) * sizeof(*m->subs));
	memset(&m->subs[m->nsubs], 0, sizeof(m->subs[m->nsubs]));
	m->subs[m->nsubs].org_id = xstrdup(org_id);
	return &m->subs[m->nsubs++];
}

void metrics_add_summary(metrics_run *m, const run_summary *s)
{
	if (!s)
		return;
	if (s->resumed) {
		m->resumed = true;
		metrics_add_summary(m, s->resumed);
	}
	for (size_t i = 0; i < s->nparts; i++)
		metrics_add_summary(m, &s->parts[i]);
	m->subscribers_stuck += s->nstuck;
	m->replay = s->replay;
	m->files_listed += s->files_listed;
	m->files_planned += s->files_planned;
	m->files_processed += s->files_processed;
	m->files_failed += s->files_failed;
	m->files_deferred += s->files_deferred;
	m->files_late += s->files_late;
	m->files_poisoned += s->npoisoned;
	m->sources_failed += s->nfailed_sources;
	m->ev_read += s->ev_read;
	m->ev_malformed += s->ev_malformed;
	m->ev_rejected += s->ev_rejected;
	m->ev_duplicates += s->ev_duplicates;
	m->ev_written += s->ev_written;
	m->bytes_in += s->bytes_read;
	m->bytes_out += s->bytes_written;
	for (size_t i = 0; i < s->nsubs; i++) {
		metrics_sub *ms = sub_entry(m, s->subs[i].org_id);

		ms->events += s->subs[i].events;
		ms->objects += s->subs[i].nobjects;
		ms->failed |= s->subs[i].error != NULL;
	}
}

/* --- the exposition format ------------------------------------------- */

static void family(buf *b, const char *name, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

static void add_label_value(buf *b, const char *v)
{
	buf_addch(b, '"');
	for (; *v; v++) {
		if (*v == '\\')
			buf_addstr(b, "\\\\");
		else if (*v == '"')
			buf_addstr(b, "\\\"");
		else if (*v == '\n')
			buf_addstr(b, "\\n");
		else
			buf_addch(b, *v);
	}
	buf_addch(b, '"');
}

static void sample_u64(buf *b, const char *name, const char *label, const char *value,
		       uint64_t v)
{
	buf_addstr(b, name);
	if (label) {
		buf_printf(b, "{%s=", label);
		add_label_value(b, value);
		buf_addch(b, '}');
	}
	buf_printf(b, " %" PRIu64 "\n", v);
}

static void gauge_u64(buf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, help);
	sample_u64(b, name, NULL, NULL, v);
}

/* Milliseconds as seconds with three decimals, exactly. */
static void gauge_ms(buf *b, const char *name, const char *help, int64_t ms)
{
	family(b, name, help);
	if (ms < 0)
		ms = 0;
	buf_printf(b, "%s %" PRId64 ".%03d\n", name, ms / 1000, (int)(ms % 1000));
}

void metrics_format(buf *out, const metrics_run *m, int64_t last_success_ms)
{
	static const char *const statuses[] = { "ok", "partial", "failed" };
	const char *status = m->exit_status == 0 ? "ok" : m->exit_status == 1 ? "partial"
					      : "failed";

	family(out, "evshare_build_info", "The version of evshare that wrote this file.");
	sample_u64(out, "evshare_build_info", "version", EVSHARE_VERSION, 1);
	gauge_ms(out, "evshare_last_run_start_timestamp_seconds",
		 "When the last run started, in seconds since the Unix epoch.", m->start_ms);
	gauge_ms(out, "evshare_last_run_end_timestamp_seconds",
		 "When the last run ended, in seconds since the Unix epoch.", m->end_ms);
	gauge_ms(out, "evshare_last_run_duration_seconds",
		 "How long the last run took.", m->end_ms - m->start_ms);
	gauge_ms(out, LAST_SUCCESS, "When the last run that exited 0 ended, in seconds "
		 "since the Unix epoch (0: none recorded).",
		 m->exit_status == 0 ? m->end_ms : last_success_ms);
	gauge_u64(out, "evshare_last_run_exit_status",
		  "The exit status of the last run (see evshare(1)).", (uint64_t)m->exit_status);
	family(out, "evshare_last_run_status",
	       "1 for the status of the last run: ok, partial (some files failed) or failed.");
	for (size_t i = 0; i < 3; i++)
		sample_u64(out, "evshare_last_run_status", "status", statuses[i],
			   !strcmp(status, statuses[i]));
	gauge_u64(out, "evshare_last_run_replay", "1 if the last run was a replay.", m->replay);
	gauge_u64(out, "evshare_last_run_resumed",
		  "1 if the last run finished an interrupted run first (its counts included).",
		  m->resumed);
	gauge_u64(out, "evshare_last_run_files_listed",
		  "Objects found under the selected sources by the last run.", m->files_listed);
	gauge_u64(out, "evshare_last_run_files_planned",
		  "Files in the plan of the last run.", m->files_planned);
	family(out, "evshare_last_run_files",
	       "Planned files of the last run by outcome: processed, or failed as a whole.");
	sample_u64(out, "evshare_last_run_files", "outcome", "processed", m->files_processed);
	sample_u64(out, "evshare_last_run_files", "outcome", "failed", m->files_failed);
	sample_u64(out, "evshare_last_run_files", "outcome", "deferred", m->files_deferred);
	sample_u64(out, "evshare_last_run_files", "outcome", "late", m->files_late);
	gauge_u64(out, "evshare_last_run_poisoned_files",
		  "Poisoned files the last run skipped or poisoned.", m->files_poisoned);
	gauge_u64(out, "evshare_last_run_failed_sources",
		  "Sources the last run could not list.", m->sources_failed);
	gauge_u64(out, "evshare_last_run_events_read",
		  "Non-blank lines of the files the last run processed.", m->ev_read);
	family(out, "evshare_last_run_events",
	       "Lines of the last run by outcome: malformed or rejected (quarantined); "
	       "and per subscriber whose filter matched, duplicate (dropped) or written.");
	sample_u64(out, "evshare_last_run_events", "outcome", "malformed", m->ev_malformed);
	sample_u64(out, "evshare_last_run_events", "outcome", "rejected", m->ev_rejected);
	sample_u64(out, "evshare_last_run_events", "outcome", "duplicate", m->ev_duplicates);
	sample_u64(out, "evshare_last_run_events", "outcome", "written", m->ev_written);
	gauge_u64(out, "evshare_last_run_input_bytes",
		  "Bytes the last run read from its sources, as stored.", m->bytes_in);
	gauge_u64(out, "evshare_last_run_output_bytes",
		  "Bytes of the output objects the last run put.", m->bytes_out);
	if (m->nsubs) {
		family(out, "evshare_last_run_subscriber_events",
		       "Lines the last run wrote for each additional subscriber.");
		for (size_t i = 0; i < m->nsubs; i++)
			sample_u64(out, "evshare_last_run_subscriber_events", "subscriber",
				   m->subs[i].org_id, m->subs[i].events);
		family(out, "evshare_last_run_subscriber_objects",
		       "Objects the last run put for each additional subscriber.");
		for (size_t i = 0; i < m->nsubs; i++)
			sample_u64(out, "evshare_last_run_subscriber_objects", "subscriber",
				   m->subs[i].org_id, m->subs[i].objects);
		family(out, "evshare_last_run_subscriber_failed",
		       "1 when a subscriber's destination failed in the last run (its "
		       "outputs are owed and retried).");
		for (size_t i = 0; i < m->nsubs; i++)
			sample_u64(out, "evshare_last_run_subscriber_failed", "subscriber",
				   m->subs[i].org_id, m->subs[i].failed);
	}
	gauge_u64(out, "evshare_subscribers_stuck",
		  "Subscribers whose owed outputs failed max_attempts runs or more.",
		  m->subscribers_stuck);
	gauge_u64(out, "evshare_last_run_http_retries",
		  "HTTP requests of the last run that were tried again.", m->http_retries);
}

int64_t metrics_last_success_ms(const char *path)
{
	buf b = BUF_INIT;
	int64_t ms = 0;
	size_t nlen = strlen(LAST_SUCCESS);
	struct stat st;
	int fd, rc = -1;

	/* the directory may be shared (node_exporter's): a link or a FIFO
	 * put at PATH is not read (nor waited on); the rename replaces it */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			rc = read_fd(fd, &b, METRICS_READ_CAP);
		close(fd);
	}
	if (rc < 0 || !b.data) {
		buf_release(&b);
		return 0;
	}
	for (const char *line = b.data; line && *line; ) {
		const char *nl = strchr(line, '\n');

		if (!strncmp(line, LAST_SUCCESS, nlen) && line[nlen] == ' ') {
			char *end;
			double v = strtod(line + nlen + 1, &end);

			if (end != line + nlen + 1 && v > 0 && v < 1e12)
				ms = (int64_t)(v * 1000.0 + 0.5);
			break;
		}
		line = nl ? nl + 1 : NULL;
	}
	buf_release(&b);
	return ms;
}

es_result metrics_write(const char *path, const metrics_run *m)
{
	buf b = BUF_INIT;
	es_result r;

	metrics_format(&b, m, m->exit_status == 0 ? 0 : metrics_last_success_ms(path));
	r = write_file_atomic(path, b.data, b.len, 0644);
	buf_release(&b);
	return r;
}
