/* report.c - run summaries. */
#include "report.h"

#include <cJSON.h>
#include <stdlib.h>

/* name: [{"url": ..., "reason": ...}, ...] */
static void add_problems(cJSON *o, const char *name, const file_problem *fp, size_t n)
{
	cJSON *arr = cJSON_AddArrayToObject(o, name);

	for (size_t i = 0; i < n; i++) {
		cJSON *fo = cJSON_CreateObject();

		cJSON_AddStringToObject(fo, "url", fp[i].url);
		cJSON_AddStringToObject(fo, "reason", fp[i].reason);
		cJSON_AddItemToArray(arr, fo);
	}
}

static cJSON *summary_json(const run_summary *s)
{
	cJSON *o = cJSON_CreateObject(), *files, *ev, *bytes, *subs;

	cJSON_AddStringToObject(o, "run_id", s->run_id);
	cJSON_AddStringToObject(o, "status", s->status);
	cJSON_AddBoolToObject(o, "replay", s->replay);
	cJSON_AddBoolToObject(o, "dry_run", s->dry_run);
	cJSON_AddBoolToObject(o, "committed", s->committed);
	files = cJSON_AddObjectToObject(o, "files");
	cJSON_AddNumberToObject(files, "listed", (double)s->files_listed);
	cJSON_AddNumberToObject(files, "planned", (double)s->files_planned);
	cJSON_AddNumberToObject(files, "processed", (double)s->files_processed);
	cJSON_AddNumberToObject(files, "failed", (double)s->files_failed);
	cJSON_AddNumberToObject(files, "poisoned", (double)s->npoisoned);
	cJSON_AddNumberToObject(files, "deferred", (double)s->files_deferred);
	cJSON_AddNumberToObject(files, "late", (double)s->files_late);
	ev = cJSON_AddObjectToObject(o, "events");
	cJSON_AddNumberToObject(ev, "read", (double)s->ev_read);
	cJSON_AddNumberToObject(ev, "malformed", (double)s->ev_malformed);
	cJSON_AddNumberToObject(ev, "rejected", (double)s->ev_rejected);
	cJSON_AddNumberToObject(ev, "matched", (double)s->ev_matched);
	cJSON_AddNumberToObject(ev, "duplicates", (double)s->ev_duplicates);
	cJSON_AddNumberToObject(ev, "written", (double)s->ev_written);
	bytes = cJSON_AddObjectToObject(o, "bytes");
	cJSON_AddNumberToObject(bytes, "read", (double)s->bytes_read);
	cJSON_AddNumberToObject(bytes, "written", (double)s->bytes_written);
	subs = cJSON_AddArrayToObject(o, "subscribers");
	for (size_t i = 0; i < s->nsubs; i++) {
		const sub_summary *ss = &s->subs[i];
		cJSON *so = cJSON_CreateObject(), *objs;

		cJSON_AddStringToObject(so, "org_id", ss->org_id);
		cJSON_AddNumberToObject(so, "events", (double)ss->events);
		cJSON_AddNumberToObject(so, "matched", (double)ss->matched);
		cJSON_AddNumberToObject(so, "duplicates", (double)ss->duplicates);
		objs = cJSON_AddArrayToObject(so, "objects");
		for (size_t j = 0; j < ss->nobjects; j++)
			cJSON_AddItemToArray(objs, cJSON_CreateString(ss->objects[j]));
		cJSON_AddStringToObject(so, "status", ss->error ? "failed" : "ok");
		if (ss->error)
			cJSON_AddStringToObject(so, "error", ss->error);
		cJSON_AddItemToArray(subs, so);
	}
	add_problems(o, "failed_files", s->failed, s->nfailed);
	add_problems(o, "failed_sources", s->failed_sources, s->nfailed_sources);
	add_problems(o, "poisoned_files", s->poisoned, s->npoisoned);
	add_problems(o, "late_files", s->late, s->nlate);
	if (s->quarantine)
		cJSON_AddStringToObject(o, "quarantine", s->quarantine);
	else
		cJSON_AddNullToObject(o, "quarantine");
	cJSON_AddNumberToObject(o, "elapsed_s", (double)(int64_t)(s->elapsed_s * 1000) / 1000.0);
	if (s->resumed)
		cJSON_AddItemToObject(o, "resumed_run", summary_json(s->resumed));
	if (s->nparts) {
		cJSON *parts = cJSON_AddArrayToObject(o, "pending_parts");

		for (size_t i = 0; i < s->nparts; i++)
			cJSON_AddItemToArray(parts, summary_json(&s->parts[i]));
	}
	{
		cJSON *stuck = cJSON_AddArrayToObject(o, "stuck_subscribers");

		for (size_t i = 0; i < s->nstuck; i++) {
			cJSON *so = cJSON_CreateObject();
			char t[32];

			cJSON_AddStringToObject(so, "org_id", s->stuck[i].org_id);
			cJSON_AddStringToObject(so, "run_id", s->stuck[i].run_id);
			cJSON_AddNumberToObject(so, "attempts", s->stuck[i].attempts);
			time_format_rfc3339(s->stuck[i].since_ms, t);
			cJSON_AddStringToObject(so, "since", t);
			cJSON_AddStringToObject(so, "reason", s->stuck[i].reason);
			cJSON_AddItemToArray(stuck, so);
		}
	}
	return o;
}

void report_json(FILE *out, const run_summary *s)
{
	cJSON *o = summary_json(s);
	char *text = cJSON_PrintUnformatted(o);

	if (!text)
		abort();
	fprintf(out, "%s\n", text);
	cJSON_free(text);
	cJSON_Delete(o);
}

static void text_one(FILE *out, const run_summary *s, const char *indent)
{
	buf a = BUF_INIT, b = BUF_INIT;   /* names and reasons, made visible */

	fprintf(out, "%srun %s%s%s: %s%s\n", indent, s->run_id,
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
