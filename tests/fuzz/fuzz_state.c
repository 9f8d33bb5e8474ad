/*
 * fuzz_state.c - libFuzzer target for the state file and the plan journal
 * readers (state.h, plan.h).
 *
 * The input is written as state.json into a state directory made once
 * (under /dev/shm when there is one, else TMPDIR) and read with
 * state_load(); the same bytes go to plan_from_json().  Neither may crash,
 * and a refusal is ES_ERR_STATE (corrupt content), never a silent success
 * on text that is not JSON: whatever is accepted must be one JSON text
 * (RFC 8259, bytes >= 0x80 taken as they are: keys of file:// sources are
 * file names, which need not be UTF-8, and jsonw writes them as they are).
 * Both readers are json.c's scanner and its accessors (json_parse_bytes,
 * json_object_pick, json_string_dup, json_number_get_int64), so this
 * target is theirs too.
 *
 * What is accepted must survive a round trip: the state saved with
 * state_save() into a second directory and loaded again, and the plan
 * written with plan_to_json() and read again, give the same records.  The
 * times of the state are formatted as `evshare state` does.
 * Seeds are in tests/fuzz/corpus/state/: state.json and plan.json written
 * by evshare runs of the demo, and broken variants.
 *
 * Built and run by tests/fuzz/run-fuzz.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "plan.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char *top_dir;                  /* holds the two state directories */
static state_store *store_in, *store_out;
static char *state_path;               /* state.json of store_in */

/* Remove dir and everything below it (the layout is two levels deep). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *p;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(p);
		else
			unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

static void cleanup(void)
{
	state_close(store_in);
	state_close(store_out);
	if (top_dir)
		remove_tree(top_dir);
	free(top_dir);
	free(state_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;
	char *in, *out;

	(void)argc;
	(void)argv;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (!tmp || !*tmp)
		tmp = "/tmp";
	top_dir = xasprintf("%s/evshare-fuzz-state.XXXXXX", tmp);
	if (!mkdtemp(top_dir))
		die("cannot create a directory under '%s'", tmp);
	atexit(cleanup);
	in = xasprintf("%s/in", top_dir);
	out = xasprintf("%s/out", top_dir);
	if (state_open(in, true, &store_in) != ES_OK || state_open(out, true, &store_out) != ES_OK)
		die("cannot create state directories in '%s'", top_dir);
	state_path = xasprintf("%s/state.json", in);
	free(in);
	free(out);
	return 0;
}

/* Is p[0..n) one JSON text, bytes >= 0x80 aside? */
static bool is_json_bytes(const uint8_t *p, size_t n)
{
	char *copy = xmalloc(n ? n : 1);
	json_value v;
	json_error err;
	bool ok;

	for (size_t i = 0; i < n; i++)
		copy[i] = p[i] >= 0x80 ? 'a' : (char)p[i];
	ok = json_parse(copy, n, 1024, &v, &err);
	free(copy);
	return ok;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_state(const state_data *d)
{
	char t[32];

	time_format_rfc3339(d->committed_ms, t);
	for (size_t i = 0; i < d->nsources; i++) {
		source_state *src = &d->sources[i];

		if (!src->org_id || state_source((state_data *)d, src->org_id, false) != src)
			abort();
		time_format_rfc3339(src->horizon_ms, t);
		for (size_t j = 0; j < src->nfiles; j++) {
			file_record *f = &src->files[j];

			if (!f->key || !f->etag || f->removed || state_file(src, f->key) != f)
				abort();
			for (size_t k = 0; k < f->ndone; k++)
				if (!f->done[k])
					abort();
			time_format_rfc3339(f->mtime_ms, t);
		}
	}
}

static void check_same_state(const state_data *a, const state_data *b)
{
	if (!same_str(a->committed_run, b->committed_run) || a->committed_ms != b->committed_ms ||
	    a->nsources != b->nsources)
		abort();
	for (size_t i = 0; i < a->nsources; i++) {
		const source_state *x = &a->sources[i], *y = &b->sources[i];

		if (strcmp(x->org_id, y->org_id) || x->horizon_ms != y->horizon_ms ||
		    x->nfiles != y->nfiles)
			abort();
		for (size_t j = 0; j < x->nfiles; j++) {
			const file_record *f = &x->files[j], *g = &y->files[j];

			if (strcmp(f->key, g->key) || !same_str(f->etag, g->etag) ||
			    f->size != g->size || f->mtime_ms != g->mtime_ms ||
			    f->ndone != g->ndone || !same_str(f->run_id, g->run_id) ||
			    f->failures != g->failures || f->poisoned != g->poisoned ||
			    !same_str(f->last_error, g->last_error))
				abort();
			for (size_t k = 0; k < f->ndone; k++)
				if (strcmp(f->done[k], g->done[k]))
					abort();
		}
	}
}

static void fuzz_state_file(const uint8_t *data, size_t size)
{
	state_data *d = NULL, *again = NULL;
	int fd = open(state_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	es_result r;

	if (fd < 0 || write_all(fd, data, size) < 0 || close(fd) < 0)
		die("cannot write '%s'", state_path);
	r = state_load(store_in, &d);
	if (r != ES_OK) {
		if (r != ES_ERR_STATE || d)
			abort();
		return;
	}
	if (!d || !is_json_bytes(data, size))
		abort();
	check_state(d);
	if (state_save(store_out, d) != ES_OK || state_load(store_out, &again) != ES_OK)
		abort();
	check_same_state(d, again);
	state_data_free(again);
	state_data_free(d);
}

static void check_same_plan(const plan *a, const config *ca, const plan *b, const config *cb)
{
	if (strcmp(a->run_id, b->run_id) || a->started_ms != b->started_ms ||
	    a->replay != b->replay || a->objects_listed != b->objects_listed ||
	    a->nfiles != b->nfiles || ca->ndirect != cb->ndirect ||
	    ca->nadditional != cb->nadditional || ca->text_len != cb->text_len ||
	    memcmp(ca->text, cb->text, ca->text_len))
		abort();
	for (size_t i = 0; i < ca->ndirect; i++)
		if (a->listed[i] != b->listed[i] || a->min_pending_ms[i] != b->min_pending_ms[i])
			abort();
	for (size_t i = 0; i < a->nfiles; i++) {
		const plan_file *f = &a->files[i], *g = &b->files[i];

		if (f->source != g->source || strcmp(f->obj.key, g->obj.key) ||
		    strcmp(f->obj.etag, g->obj.etag) || f->obj.size != g->obj.size ||
		    f->obj.mtime_ms != g->obj.mtime_ms || f->changed != g->changed ||
		    f->nsubs != g->nsubs || memcmp(f->subs, g->subs, f->nsubs * sizeof(*f->subs)))
			abort();
	}
}

static void fuzz_plan(const uint8_t *data, size_t size)
{
	plan p, back;
	config *cfg = (config *)&size, *cfg2 = NULL;   /* must be overwritten */
	char *json;
	size_t len;
	es_result r;

	r = plan_from_json((const char *)data, size, &p, &cfg);
	if (r != ES_OK) {
		if (r != ES_ERR_STATE || cfg || p.nfiles || p.files || p.listed)
			abort();
		return;
	}
	if (!cfg || !is_json_bytes(data, size) || strlen(p.run_id) >= RUN_ID_MAX)
		abort();
	for (size_t i = 0; i < p.nfiles; i++) {
		if (p.files[i].source >= cfg->ndirect || !p.files[i].obj.key || !p.files[i].obj.etag)
			abort();
		for (size_t k = 0; k < p.files[i].nsubs; k++)
			if (p.files[i].subs[k] >= cfg->nadditional)
				abort();
	}
	json = plan_to_json(&p, cfg, &len);
	if (plan_from_json(json, len, &back, &cfg2) != ES_OK)
		abort();
	check_same_plan(&p, cfg, &back, cfg2);
	free(json);
	plan_release(&back);
	config_free(cfg2);
	plan_release(&p);
	config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_state_file(data, size);
	fuzz_plan(data, size);
	return 0;
}
