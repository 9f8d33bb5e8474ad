/* report.c - run summaries. */
#include "report.h"
#include "jsonw.h"

#include <stdlib.h>

/* name: [{"url": ..., "reason": ...}, ...] */
static void add_problems(jsonw *w, const char *name, const file_problem *fp, size_t n)
{
	jsonw_name(w, name);
	jsonw_array_begin(w);
	for (size_t i = 0; i < n; i++) {
		jsonw_object_begin(w);
		jsonw_string_field(w, "url", fp[i].url);
		jsonw_string_field(w, "reason", fp[i].reason);
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
}

static void summary_json(jsonw *w, const run_summary *s)
{
	jsonw_object_begin(w);
	jsonw_string_field(w, "run_id", s->run_id);
	jsonw_string_field(w, "status", s->status);
	jsonw_bool_field(w, "replay", s->replay);
	jsonw_bool_field(w, "dry_run", s->dry_run);
	jsonw_bool_field(w, "committed", s->committed);
	jsonw_name(w, "files");
	jsonw_object_begin(w);
	jsonw_uint_field(w, "listed", s->files_listed);
	jsonw_uint_field(w, "planned", s->files_planned);
	jsonw_uint_field(w, "processed", s->files_processed);
	jsonw_uint_field(w, "failed", s->files_failed);
	jsonw_uint_field(w, "poisoned", s->npoisoned);
	jsonw_uint_field(w, "deferred", s->files_deferred);
	jsonw_uint_field(w, "late", s->files_late);
	jsonw_object_end(w);
	jsonw_name(w, "events");
	jsonw_object_begin(w);
	jsonw_uint_field(w, "read", s->ev_read);
	jsonw_uint_field(w, "malformed", s->ev_malformed);
	jsonw_uint_field(w, "rejected", s->ev_rejected);
	jsonw_uint_field(w, "matched", s->ev_matched);
	jsonw_uint_field(w, "duplicates", s->ev_duplicates);
	jsonw_uint_field(w, "written", s->ev_written);
	jsonw_object_end(w);
	jsonw_name(w, "bytes");
	jsonw_object_begin(w);
	jsonw_uint_field(w, "read", s->bytes_read);
	jsonw_uint_field(w, "written", s->bytes_written);
	jsonw_object_end(w);
	jsonw_name(w, "subscribers");
	jsonw_array_begin(w);
	for (size_t i = 0; i < s->nsubs; i++) {
		const sub_summary *ss = &s->subs[i];

		jsonw_object_begin(w);
		jsonw_string_field(w, "org_id", ss->org_id);
		jsonw_uint_field(w, "events", ss->events);
		jsonw_uint_field(w, "matched", ss->matched);
		jsonw_uint_field(w, "duplicates", ss->duplicates);
		jsonw_name(w, "objects");
		jsonw_array_begin(w);
		for (size_t j = 0; j < ss->nobjects; j++)
			jsonw_string(w, ss->objects[j]);
		jsonw_array_end(w);
		jsonw_string_field(w, "status", ss->error ? "failed" : "ok");
		if (ss->error)
			jsonw_string_field(w, "error", ss->error);
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
	add_problems(w, "failed_files", s->failed, s->nfailed);
	add_problems(w, "failed_sources", s->failed_sources, s->nfailed_sources);
	add_problems(w, "poisoned_files", s->poisoned, s->npoisoned);
	add_problems(w, "late_files", s->late, s->nlate);
	jsonw_string_field(w, "quarantine", s->quarantine);   /* NULL: null */
	/* seconds to the millisecond, as a decimal: 1.5, 2, 0.001 */
	jsonw_name(w, "elapsed_s");
	jsonw_fixed(w, (int64_t)(s->elapsed_s * 1000), 3);
	if (s->resumed) {
		jsonw_name(w, "resumed_run");
		summary_json(w, s->resumed);
	}
	if (s->nparts) {
		jsonw_name(w, "pending_parts");
		jsonw_array_begin(w);
		for (size_t i = 0; i < s->nparts; i++)
			summary_json(w, &s->parts[i]);
		jsonw_array_end(w);
	}
	jsonw_name(w, "stuck_subscribers");
	jsonw_array_begin(w);
	for (size_t i = 0; i < s->nstuck; i++) {
		char t[32];

		jsonw_object_begin(w);
		jsonw_string_field(w, "org_id", s->stuck[i].org_id);
		jsonw_string_field(w, "run_id", s->stuck[i].run_id);
		jsonw_uint_field(w, "attempts", s->stuck[i].attempts);
		time_format_rfc3339(s->stuck[i].since_ms, t);
		jsonw_string_field(w, "since", t);
		jsonw_string_field(w, "reason", s->stuck[i].reason);
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
	jsonw_object_end(w);
}

void report_json(FILE *out, const run_summary *s)
{
	buf b = BUF_INIT;
	jsonw w;

	/* names are shown as they are, bytes that are not UTF-8 too, as
	 * they always were */
	jsonw_init(&w, &b, JSONW_BYTES);
	summary_json(&w, s);
	buf_addch(&b, '\n');
	fwrite(b.data, 1, b.len, out);
	buf_release(&b);
}

static void text_one(FILE *out, const run_summary *s, const char *indent)
{
	buf a = BUF_INIT, b = BUF_INIT;   /* names and reasons, made visible */

	fprintf(out, "%srun%s%s%s%s: %s%s\n", indent, *s->run_id ? " " : "", s->run_id,
		s->replay ? " (replay)" : "", s->dry_run ? " (dry run)" : "", s->status,
		!s->committed && !s->dry_run ? " (nothing committed)" : "");
	fprintf(out, "%s  files:  %llu listed, %llu planned, %llu processed, %llu failed, "
		"%zu poisoned", indent, (unsigned long long)s->files_listed,
		(unsigned long long)s->files_planned, (unsigned long long)s->files_processed,
		(unsigned long long)s->files_failed, s->npoisoned);
	if (s->files_deferred)
		fprintf(out, ", %llu deferred to the next run",
			(unsigned long long)s->files_deferred);
	if (s->files_late)
		fprintf(out, ", %llu late (not read)", (unsigned long long)s->files_late);
	fputc('\n', out);
	fprintf(out, "%s  events: %llu read, %llu malformed, %llu rejected, %llu matched, "
		"%llu duplicates, %llu written\n", indent, (unsigned long long)s->ev_read,
		(unsigned long long)s->ev_malformed, (unsigned long long)s->ev_rejected,
		(unsigned long long)s->ev_matched, (unsigned long long)s->ev_duplicates,
		(unsigned long long)s->ev_written);
	fprintf(out, "%s  bytes:  %llu read, %llu written\n", indent,
		(unsigned long long)s->bytes_read, (unsigned long long)s->bytes_written);
	for (size_t i = 0; i < s->nsubs; i++) {
		const sub_summary *ss = &s->subs[i];

		if (!ss->matched && !ss->nobjects && !ss->error)
			continue;
		if (ss->error)
			fprintf(out, "%s  %s: FAILED: %s; its outputs of this run are owed and "
				"retried by the next run\n", indent, ss->org_id,
				visible(&b, ss->error));
		else
			fprintf(out, "%s  %s: %llu events, %llu duplicates dropped, %zu object(s)\n",
				indent, ss->org_id, (unsigned long long)ss->events,
				(unsigned long long)ss->duplicates, ss->nobjects);
		for (size_t j = 0; j < ss->nobjects; j++)
			fprintf(out, "%s    %s\n", indent, visible(&a, ss->objects[j]));
	}
	for (size_t i = 0; i < s->nfailed; i++)
		fprintf(out, "%s  failed: %s: %s\n", indent, visible(&a, s->failed[i].url),
			visible(&b, s->failed[i].reason));
	for (size_t i = 0; i < s->nfailed_sources; i++)
		fprintf(out, "%s  cannot list: %s: %s\n", indent,
			visible(&a, s->failed_sources[i].url),
			visible(&b, s->failed_sources[i].reason));
	for (size_t i = 0; i < s->npoisoned; i++)
		fprintf(out, "%s  poisoned: %s: %s\n", indent, visible(&a, s->poisoned[i].url),
			visible(&b, s->poisoned[i].reason));
	for (size_t i = 0; i < s->nlate; i++)
		fprintf(out, "%s  late, not read: %s\n", indent, visible(&a, s->late[i].url));
	if (s->quarantine)
		fprintf(out, "%s  quarantine: %s\n", indent, visible(&a, s->quarantine));
	buf_release(&a);
	buf_release(&b);
	fprintf(out, "%s  elapsed: %.3f s\n", indent, s->elapsed_s);
}

void report_text(FILE *out, const run_summary *s)
{
	buf a = BUF_INIT;

	if (s->resumed) {
		fprintf(out, "finished the interrupted run first:\n");
		text_one(out, s->resumed, "  ");
	}
	for (size_t i = 0; i < s->nparts; i++) {
		fprintf(out, "tried the outputs still owed of run %s first:\n", s->parts[i].run_id);
		text_one(out, &s->parts[i], "  ");
	}
	for (size_t i = 0; i < s->nstuck; i++) {
		char t[32];

		time_format_rfc3339(s->stuck[i].since_ms, t);
		fprintf(out, "stuck: %s: the outputs of run %s, %u failed attempts since %s: %s\n",
			s->stuck[i].org_id, s->stuck[i].run_id, s->stuck[i].attempts, t,
			visible(&a, s->stuck[i].reason));
	}
	buf_release(&a);
	text_one(out, s, "");
}
