/*
 * report.h - the run summary, as text or as one JSON object.
 *
 * The JSON form has the fields DESIGN.md lists: run_id, status, files
 * {listed, processed, failed}, events {read, malformed, rejected, matched,
 * duplicates, written}, bytes {read, written}, subscribers [{org_id,
 * events, duplicates, objects}], elapsed_s; and also replay, dry_run,
 * failed_files, poisoned_files, quarantine and resumed_run (the summary
 * of an interrupted run finished first).
 */
#ifndef EVSHARE_REPORT_H
#define EVSHARE_REPORT_H

#include <stdio.h>

#include "run.h"

void report_text(FILE *out, const run_summary *s);
void report_json(FILE *out, const run_summary *s);

#endif
