/* state.c - the local state directory.  See state.h for what is checked
 * and why. */
#include "state.h"
#include "json.h"
#include "jsonw.h"
#include "log.h"
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_MAX_BYTES (512u << 20)
#define STATE_FILE_MODE 0640
#define QUARANTINE_MODE 0600
#define STATE_DIR_MODE 0750

struct state_store {
	char *dir;              /* as configured, without trailing slashes */
	int dirfd;              /* the state directory, opened once, checked */
	int qdirfd;             /* quarantine/ (writing stores, else -1) */
	int spoolfd;            /* spool/ (writing stores, else -1) */
	int partsfd;            /* parts/ (once used, else -1) */
	bool writing;
	uid_t euid;
	int lock_fd;
	int outcomes_fd;
};

const char *state_dir(const state_store *s)
{
	return s->dir;
}

static char *path_in(const state_store *s, const char *name)
{
	return xasprintf("%s/%s", s->dir, name);
}

/* --- what the state may be made of ------------------------------------ */

/* A run id names a file or directory in quarantine/ and spool/: one
 * component, not hidden. */
static bool run_id_ok(const char *run_id)
{
	return *run_id && *run_id != '.' && !strchr(run_id, '/');
}

static es_result need_writing(const state_store *s, const char *what)
{
	if (s->writing)
		return ES_OK;
	return es_error(ES_ERR_INTERNAL, "%s in '%s', opened read-only", what, s->dir);
}

/* st (of path, a directory or a file as `dir` says) may be part of the
 * state (see state.h); else the one message, ES_ERR_IO. */
static es_result check_stat(const state_store *s, const struct stat *st,
			    const char *path, bool dir)
{
	const char *kind = dir ? "state directory" : "state file";

	if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode))
		return es_error(ES_ERR_IO, "%s '%s' is not a %s: move it away", kind,
				path, dir ? "directory" : "regular file");
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return es_error(ES_ERR_IO, "%s '%s' is writable by %s (mode %04o), so "
				"another user could change what evshare delivers: "
				"chmod go-w '%s'", kind, path,
				st->st_mode & S_IWOTH ? "others" : "its group",
				(unsigned)(st->st_mode & 07777), path);
	if (s->writing && st->st_uid != s->euid)
		return es_error(ES_ERR_IO, "%s '%s' belongs to uid %lu, but evshare "
				"runs as uid %lu and writes only to a state of its own: "
				"run it as uid %lu, or give the state to uid %lu "
				"(chown -R %lu '%s')", kind, path,
				(unsigned long)st->st_uid, (unsigned long)s->euid,
				(unsigned long)st->st_uid, (unsigned long)s->euid,
				(unsigned long)s->euid, dir ? path : s->dir);
	return ES_OK;
}

static es_result check_fd(const state_store *s, int fd, const char *path, bool dir)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return es_error(ES_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
	return check_stat(s, &st, path, dir);
}

/* The message for an open of path that failed with err.  O_NOFOLLOW
 * fails with ELOOP on a link (O_DIRECTORY may say ENOTDIR instead).
 * top: path is state_dir itself. */
static es_result open_failed(const char *path, bool dir, bool top, int err)
{
	struct stat st;

	if ((err == ELOOP || err == ENOTDIR) && lstat(path, &st) == 0 &&
	    S_ISLNK(st.st_mode))
		return es_error(ES_ERR_IO, "%s '%s' is a symbolic link, which evshare "
				"never follows in its state: %s", dir ? "state directory"
				: "state file", path, top ? "give the real directory "
				"as state_dir" : "move it away");
	return es_error(ES_ERR_IO, "cannot open %s '%s': %s", dir ? "state directory"
			: "state file", path, strerror(err));
}

/* Open name in dirfd (path: for messages) with flags, never through a
 * link and never waiting on a FIFO, and check it.  ES_OK with *fd -1 when
 * it does not exist (and flags do not create it). */
static es_result open_checked(const state_store *s, int dirfd, const char *name,
			      const char *path, int flags, unsigned mode, int *fd)
{
	es_result r;

	*fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
	if (*fd < 0)
		return errno == ENOENT && !(flags & O_CREAT) ? ES_OK
		       : open_failed(path, false, false, errno);
	if ((r = check_fd(s, *fd, path, false)) != ES_OK) {
		close(*fd);
		*fd = -1;
	}
	return r;
}

/* Open (creating it for a writing store) the subdirectory name, and check
 * it. */
static es_result open_subdir(const state_store *s, const char *name, int *fd)
{
	char *path = path_in(s, name);
	es_result r = ES_OK;

	if (mkdirat(s->dirfd, name, STATE_DIR_MODE) < 0 && errno != EEXIST) {
		r = es_error(ES_ERR_IO, "cannot create state directory '%s': %s", path,
			     strerror(errno));
		goto done;
	}
	*fd = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		r = open_failed(path, true, false, errno);
	else if ((r = check_fd(s, *fd, path, true)) != ES_OK) {
		close(*fd);
		*fd = -1;
	}
done:
	free(path);
	return r;
}

/* spool/ holds a directory per run; one of an interrupted run is used
 * again, so each must pass the same checks. */
static es_result check_spool_entries(const state_store *s)
{
	int fd = openat(s->spoolfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	es_result r = ES_OK;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return es_error(ES_ERR_IO, "cannot read state directory '%s/spool': %s",
				s->dir, strerror(errno));
	}
	while (r == ES_OK && (de = readdir(d))) {
		struct stat st;
		char *path;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(s->spoolfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;       /* gone */
		path = xasprintf("%s/spool/%s", s->dir, de->d_name);
		r = S_ISLNK(st.st_mode) ? open_failed(path, true, false, ELOOP)
		    : check_stat(s, &st, path, true);
		free(path);
	}
	closedir(d);
	return r;
}

es_result state_open(const char *dir, bool writing, state_store **out)
{
	state_store *s = xcalloc(1, sizeof(*s));
	size_t n = strlen(dir);
	es_result r;

	*out = NULL;
	/* "dir/" would follow a link at dir: its last component is cut */
	while (n > 1 && dir[n - 1] == '/')
		n--;
	s->dir = xstrndup(dir, n);
	s->dirfd = s->qdirfd = s->spoolfd = s->partsfd = s->lock_fd = s->outcomes_fd = -1;
	s->writing = writing;
	s->euid = geteuid();
	if (writing && mkdir_p(s->dir, STATE_DIR_MODE) < 0) {
		r = es_error(ES_ERR_IO, "cannot create state directory '%s': %s", s->dir,
			     strerror(errno));
		goto fail;
	}
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->dirfd < 0) {
		r = errno == ENOENT ? es_error(ES_ERR_IO, "state directory '%s' does not "
					       "exist", s->dir)
		    : open_failed(s->dir, true, true, errno);
		goto fail;
	}
	if ((r = check_fd(s, s->dirfd, s->dir, true)) != ES_OK)
		goto fail;
	if (writing &&
	    ((r = open_subdir(s, "quarantine", &s->qdirfd)) != ES_OK ||
	     (r = open_subdir(s, "spool", &s->spoolfd)) != ES_OK ||
	     (r = check_spool_entries(s)) != ES_OK))
		goto fail;
	*out = s;
	return ES_OK;
fail:
	state_close(s);
	return r;
}

void state_close(state_store *s)
{
	if (!s)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->outcomes_fd >= 0)
		close(s->outcomes_fd);
	if (s->spoolfd >= 0)
		close(s->spoolfd);
	if (s->partsfd >= 0)
		close(s->partsfd);
	if (s->qdirfd >= 0)
		close(s->qdirfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->dir);
	free(s);
}

/* Read the state file name (what: for messages) into out; *exists false
 * when there is none. */
static es_result read_state_file(state_store *s, const char *name, const char *what,
				 buf *out, bool *exists)
{
	char *path = path_in(s, name);
	es_result r;
	int fd;

	*exists = false;
	if ((r = open_checked(s, s->dirfd, name, path, O_RDONLY, 0, &fd)) != ES_OK ||
	    fd < 0)
		goto done;
	if (read_fd(fd, out, STATE_MAX_BYTES) < 0)
		r = es_error(errno == EIO ? ES_ERR_IO : ES_ERR_STATE, "cannot read %s "
			     "'%s': %s", what, path, strerror(errno));
	else
		*exists = true;
	close(fd);
done:
	free(path);
	return r;
}

/* Replace the state file name with data, atomically; then remove what
 * an interrupted write of it left (the lock keeps other writers out). */
static es_result save_state_file(state_store *s, const char *name, const char *data,
				 size_t n)
{
	char *path = path_in(s, name);
	es_result r = need_writing(s, "cannot write the state");

	if (r == ES_OK)
		r = write_file_atomic_at(s->dirfd, path, name, data, n, STATE_FILE_MODE);
	if (r == ES_OK)
		remove_atomic_leftovers_at(s->dirfd, name);
	free(path);
	return r;
}

es_result state_lock(state_store *s)
{
	char *path = path_in(s, "lock");
	es_result r;
	int fd;

	if ((r = need_writing(s, "cannot take the lock")) != ES_OK ||
	    (r = open_checked(s, s->dirfd, "lock", path, O_RDWR | O_CREAT,
			      STATE_FILE_MODE, &fd)) != ES_OK)
		goto done;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;

		close(fd);
		if (saved == EWOULDBLOCK)
			r = es_error(ES_ERR_TEMP, "another evshare run holds the lock '%s'; "
				     "try again later", path);
		else
			r = es_error(ES_ERR_IO, "cannot lock '%s': %s", path, strerror(saved));
		goto done;
	}
	s->lock_fd = fd;
done:
	free(path);
	return r;
}

/* --- records --------------------------------------------------------- */

static void record_free(file_record *f)
{
	free(f->key);
	free(f->etag);
	for (size_t i = 0; i < f->ndone; i++)
		free(f->done[i]);
	free(f->done);
	free(f->run_id);
	free(f->last_error);
}

void state_data_free(state_data *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nsources; i++) {
		source_state *src = &d->sources[i];

		for (size_t j = 0; j < src->nfiles; j++)
			record_free(&src->files[j]);
		free(src->files);
		strmap_release(&src->by_key);
		free(src->org_id);
	}
	free(d->sources);
	for (size_t i = 0; i < d->nparts; i++) {
		pending_part *pp = &d->parts[i];

		for (size_t k = 0; k < pp->nsubs; k++)
			free(pp->subs[k]);
		free(pp->subs);
		free(pp->run_id);
		free(pp->last_error);
	}
	free(d->parts);
	free(d->committed_run);
	free(d);
}

pending_part *state_part_add(state_data *d, const char *run_id)
{
	pending_part *pp;

	d->parts = xgrow(d->parts, d->nparts + 1, &d->parts_alloc, sizeof(*d->parts));
	pp = &d->parts[d->nparts++];
	memset(pp, 0, sizeof(*pp));
	pp->run_id = xstrdup(run_id);
	return pp;
}

pending_part *state_part_of(const state_data *d, const char *org)
{
	for (size_t i = 0; i < d->nparts; i++)
		for (size_t k = 0; k < d->parts[i].nsubs; k++)
			if (!strcmp(d->parts[i].subs[k], org))
				return &d->parts[i];
	return NULL;
}

void state_part_done(state_data *d, size_t i, const char *org)
{
	pending_part *pp = &d->parts[i];

	for (size_t k = 0; k < pp->nsubs; k++)
		if (!strcmp(pp->subs[k], org)) {
			free(pp->subs[k]);
			memmove(&pp->subs[k], &pp->subs[k + 1], (pp->nsubs - k - 1) * sizeof(char *));
			pp->nsubs--;
			break;
		}
	if (pp->nsubs)
		return;
	free(pp->subs);
	free(pp->run_id);
	free(pp->last_error);
	memmove(&d->parts[i], &d->parts[i + 1], (d->nparts - i - 1) * sizeof(*d->parts));
	d->nparts--;
}

source_state *state_source(state_data *d, const char *org_id, bool create)
{
	source_state *src;

	for (size_t i = 0; i < d->nsources; i++)
		if (!strcmp(d->sources[i].org_id, org_id))
			return &d->sources[i];
	if (!create)
		return NULL;
	d->sources = xgrow(d->sources, d->nsources + 1, &d->alloc, sizeof(*d->sources));
	src = &d->sources[d->nsources++];
	memset(src, 0, sizeof(*src));
	src->org_id = xstrdup(org_id);
	src->horizon_ms = INT64_MIN;
	strmap_init(&src->by_key);
	return src;
}

file_record *state_file(source_state *src, const char *key)
{
	size_t i;

	if (!strmap_get(&src->by_key, key, &i) || src->files[i].removed)
		return NULL;
	return &src->files[i];
}

file_record *state_file_add(source_state *src, const char *key)
{
	file_record *f = state_file(src, key);
	size_t i;

	if (f)
		return f;
	if (strmap_get(&src->by_key, key, &i)) {
		/* a removed record comes back: give the map the new key while
		 * the old one (which it compares against) is still alive */
		char *nkey = xstrdup(key);

		f = &src->files[i];
		strmap_put(&src->by_key, nkey, i);
		record_free(f);
		memset(f, 0, sizeof(*f));
		f->key = nkey;
		return f;
	}
	/* the map borrows f->key, a heap string, so moving records is fine */
	src->files = xgrow(src->files, src->nfiles + 1, &src->alloc, sizeof(*src->files));
	f = &src->files[src->nfiles];
	memset(f, 0, sizeof(*f));
	f->key = xstrdup(key);
	strmap_put(&src->by_key, f->key, src->nfiles);
	src->nfiles++;
	return f;
}

bool file_record_done_for(const file_record *f, const char *org_id)
{
	for (size_t i = 0; i < f->ndone; i++)
		if (!strcmp(f->done[i], org_id))
			return true;
	return false;
}

void file_record_mark_done(file_record *f, const char *org_id)
{
	if (file_record_done_for(f, org_id))
		return;
	f->done = xrealloc(f->done, (f->ndone + 1) * sizeof(*f->done));
	f->done[f->ndone++] = xstrdup(org_id);
}

void file_record_reset(file_record *f, const char *etag, uint64_t size,
		       int64_t mtime_ms)
{
	for (size_t i = 0; i < f->ndone; i++)
		free(f->done[i]);
	free(f->done);
	f->done = NULL;
	f->ndone = 0;
	free(f->etag);
	f->etag = xstrdup(etag);
	f->size = size;
	f->mtime_ms = mtime_ms;
	f->failures = 0;
	f->poisoned = false;
	free(f->last_error);
	f->last_error = NULL;
}

void state_prune(source_state *src)
{
	for (size_t i = 0; i < src->nfiles; i++) {
		file_record *f = &src->files[i];

		/* a failing file stays until it is delivered or poisoned,
		 * also below the horizon (a forgotten old file that failed
		 * again): the planner retries records that still owe */
		if (!f->removed && !f->poisoned && !f->failures &&
		    f->mtime_ms < src->horizon_ms)
			f->removed = true;
	}
}

/* --- the commit policy ------------------------------------------------ */

void state_file_read(source_state *src, const store_object *obj, const char *run_id,
		     const char *const *orgs, size_t norgs)
{
	file_record *rec = state_file_add(src, obj->key);

	if (!rec->etag || strcmp(rec->etag, obj->etag))
		file_record_reset(rec, obj->etag, obj->size, obj->mtime_ms);
	free(rec->run_id);
	rec->run_id = xstrdup(run_id);
	for (size_t i = 0; i < norgs; i++)
		file_record_mark_done(rec, orgs[i]);
	rec->failures = 0;
	free(rec->last_error);
	rec->last_error = NULL;
}

const file_record *state_file_failed(source_state *src, const store_object *obj,
				     const char *run_id, const char *reason, bool poison_now,
				     unsigned max_attempts)
{
	file_record *rec = state_file_add(src, obj->key);

	if (!rec->etag || strcmp(rec->etag, obj->etag))
		file_record_reset(rec, obj->etag, obj->size, obj->mtime_ms);
	free(rec->run_id);
	rec->run_id = xstrdup(run_id);
	rec->failures++;
	free(rec->last_error);
	rec->last_error = reason ? xstrdup(reason) : NULL;
	if (poison_now || rec->failures >= max_attempts)
		rec->poisoned = true;
	return rec;
}

void state_source_advance(source_state *src, int64_t h, const sketch *below,
			  int64_t below_until_ms)
{
	if (src->horizon_ms == INT64_MIN || h > src->horizon_ms)
		src->horizon_ms = h;
	state_prune(src);
	if (below) {
		src->has_below = true;
		src->below_until_ms = below_until_ms;
		src->below = *below;
	}
}

void state_run_committed(state_data *d, const char *run_id)
{
	free(d->committed_run);
	d->committed_run = xstrdup(run_id);
	d->committed_ms = time_now_ms();
}

void state_part_failed(pending_part *pp, const char *why)
{
	if (!pp->attempts)
		pp->first_ms = time_now_ms();
	pp->attempts++;
	free(pp->last_error);
	pp->last_error = xstrdup(why ? why : "");
}

/* --- state.json ------------------------------------------------------ */

/*
 * state.json is read with json.c alone: validated once (json_parse_bytes:
 * strict JSON, but a key's bytes need not be UTF-8, they are file names),
 * then read from the same text.  It is written with jsonw (JSONW_BYTES:
 * those bytes are kept as they are), integers exactly.
 */

static es_result corrupt(const char *path, const char *what)
{
	return es_error(ES_ERR_STATE, "state file '%s' is corrupt (%s); refusing to "
			"run rather than reprocess or lose files: restore it from a "
			"backup, or move it away to start over", path, what);
}

/* What a string holding U+0000 makes of the file: evshare writes C
 * strings, so it never wrote one, and a C string would lose the rest. */
#define NUL_IN_STRING "a string holds \\u0000"

/* j (a value, or type 0: absent) as an int64: false if it is not a
 * number, not an integer, or out of range. */
static bool json_int64(json_value j, int64_t *out)
{
	return j.type == JSON_NUMBER && json_number_get_int64(j, out);
}

/* j as a new C string in *out, NULL if j is not a string; false if it
 * holds U+0000. */
static bool json_str(json_value j, char **out)
{
	*out = NULL;
	if (j.type != JSON_STRING)
		return true;
	*out = json_string_dup(j, NULL);
	return *out != NULL;
}

/* "pending": [{"run_id", "subscribers", "attempts", "first_failed_ms",
 * "last_error"}] (absent: none) */
static es_result parse_parts(const char *path, json_value arr, state_data *d)
{
	enum { RUN_ID, LAST_ERROR, SUBS, ATTEMPTS, FIRST, NFIELDS };
	static const char *const names[NFIELDS] = {
		"run_id", "last_error", "subscribers", "attempts", "first_failed_ms"
	};
	json_value el, v[NFIELDS], sj;
	json_iter it, sit;

	if (!arr.type)
		return ES_OK;
	if (arr.type != JSON_ARRAY)
		return corrupt(path, "pending is not an array");
	json_iter_init(&it, arr);
	while (json_iter_element(&it, &el)) {
		char *run_id, *le;
		int64_t attempts = 0;
		pending_part *pp;

		json_object_pick(el, names, NFIELDS, v);
		if (!json_str(v[RUN_ID], &run_id))
			return corrupt(path, NUL_IN_STRING);
		if (!run_id || !*run_id || strchr(run_id, '/') || !strcmp(run_id, ".") ||
		    !strcmp(run_id, "..") || v[SUBS].type != JSON_ARRAY ||
		    !json_int64(v[ATTEMPTS], &attempts) || attempts < 0 ||
		    attempts > UINT32_MAX) {
			free(run_id);
			return corrupt(path, "a pending part lacks run_id, subscribers or attempts");
		}
		if (!json_str(v[LAST_ERROR], &le)) {
			free(run_id);
			return corrupt(path, NUL_IN_STRING);
		}
		pp = state_part_add(d, run_id);
		free(run_id);
		pp->attempts = (unsigned)attempts;
		json_int64(v[FIRST], &pp->first_ms);
		pp->last_error = le;
		json_iter_init(&sit, v[SUBS]);
		while (json_iter_element(&sit, &sj)) {
			char *sub;

			if (sj.type != JSON_STRING)
				return corrupt(path, "a pending subscriber is not a string");
			if (!json_str(sj, &sub))
				return corrupt(path, NUL_IN_STRING);
			pp->subs = xrealloc(pp->subs, (pp->nsubs + 1) * sizeof(char *));
			pp->subs[pp->nsubs++] = sub;
		}
	}
	return ES_OK;
}

/* The below_sketch of a source (v: its below_sketch and below_until_ms). */
static es_result parse_below(const char *path, json_value sketch_v, json_value until,
			     source_state *ss)
{
	unsigned char raw[SKETCH_BYTES];
	char *s;
	size_t n;

	if (!json_str(sketch_v, &s))
		return corrupt(path, NUL_IN_STRING);
	if (!s)
		return ES_OK;
	n = strlen(s);
	if (n != 2 * SKETCH_BYTES || !json_int64(until, &ss->below_until_ms)) {
		free(s);
		return corrupt(path, "a source's below_sketch is malformed");
	}
	for (size_t i = 0; i < SKETCH_BYTES; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			free(s);
			return corrupt(path, "a source's below_sketch is not hex");
		}
		raw[i] = (unsigned char)(hi << 4 | lo);
	}
	free(s);
	sketch_load(&ss->below, raw);
	ss->has_below = true;
	return ES_OK;
}

/* One file record of a source. */
static es_result parse_record(const char *path, json_value f, source_state *ss)
{
	enum { KEY, ETAG, SIZE, MTIME, DONE, RUN_ID, FAILURES, POISONED, LAST_ERROR,
	       NFIELDS };
	static const char *const names[NFIELDS] = {
		"key", "etag", "size", "mtime_ms", "done", "run_id", "failures", "poisoned",
		"last_error"
	};
	json_value v[NFIELDS], dn;
	json_iter it;
	char *key = NULL, *etag = NULL, *s;
	file_record *fr;
	int64_t size = 0, mtime = 0, failures = 0;
	es_result r = ES_OK;

	json_object_pick(f, names, NFIELDS, v);
	if (!json_str(v[KEY], &key) || !json_str(v[ETAG], &etag)) {
		r = corrupt(path, NUL_IN_STRING);
		goto done;
	}
	if (!key || !etag || !json_int64(v[SIZE], &size) || size < 0 ||
	    !json_int64(v[MTIME], &mtime) || v[DONE].type != JSON_ARRAY) {
		r = corrupt(path, "a file record lacks key, etag, size, mtime_ms or done, "
			    "or has one out of range");
		goto done;
	}
	if (state_file(ss, key)) {
		r = corrupt(path, "a file is recorded twice");
		goto done;
	}
	fr = state_file_add(ss, key);
	fr->etag = etag;
	etag = NULL;
	fr->size = (uint64_t)size;
	fr->mtime_ms = mtime;
	json_iter_init(&it, v[DONE]);
	while (json_iter_element(&it, &dn)) {
		if (dn.type != JSON_STRING) {
			r = corrupt(path, "a done entry is not a string");
			goto done;
		}
		if (!json_str(dn, &s)) {
			r = corrupt(path, NUL_IN_STRING);
			goto done;
		}
		file_record_mark_done(fr, s);
		free(s);
	}
	if (!json_str(v[RUN_ID], &fr->run_id) || !json_str(v[LAST_ERROR], &fr->last_error)) {
		r = corrupt(path, NUL_IN_STRING);
		goto done;
	}
	if (json_int64(v[FAILURES], &failures))
		fr->failures = (unsigned)failures;
	fr->poisoned = v[POISONED].type == JSON_TRUE;
done:
	free(key);
	free(etag);
	return r;
}

/* "sources": {ORG: {"horizon_ms", "below_until_ms", "below_sketch",
 * "files": [record...]}} */
static es_result parse_sources(const char *path, json_value sources, state_data *d)
{
	enum { HORIZON, SKETCH, UNTIL, FILES, NFIELDS };
	static const char *const names[NFIELDS] = {
		"horizon_ms", "below_sketch", "below_until_ms", "files"
	};
	json_value k, src, v[NFIELDS], f;
	json_iter it, fit;
	es_result r;

	json_iter_init(&it, sources);
	while (json_iter_member(&it, &k, &src)) {
		source_state *ss;
		char *org;

		if (src.type != JSON_OBJECT)
			return corrupt(path, "a source is not an object");
		if (!(org = json_string_dup(k, NULL)))
			return corrupt(path, NUL_IN_STRING);
		ss = state_source(d, org, true);
		free(org);
		json_object_pick(src, names, NFIELDS, v);
		if (!json_int64(v[HORIZON], &ss->horizon_ms))
			ss->horizon_ms = INT64_MIN;
		if ((r = parse_below(path, v[SKETCH], v[UNTIL], ss)) != ES_OK)
			return r;
		if (v[FILES].type != JSON_ARRAY)
			return corrupt(path, "a source has no files array");
		json_iter_init(&fit, v[FILES]);
		while (json_iter_element(&fit, &f))
			if ((r = parse_record(path, f, ss)) != ES_OK)
				return r;
	}
	return ES_OK;
}

static es_result parse_state(const char *path, json_value root, state_data *d)
{
	enum { VERSION, COMMITTED_RUN, COMMITTED_MS, PENDING, SOURCES, NFIELDS };
	static const char *const names[NFIELDS] = {
		"version", "committed_run", "committed_ms", "pending", "sources"
	};
	json_value v[NFIELDS];
	int64_t version;
	es_result r;

	if (root.type != JSON_OBJECT)
		return corrupt(path, "not a JSON object");
	json_object_pick(root, names, NFIELDS, v);
	if (!json_int64(v[VERSION], &version) || version != STATE_VERSION)
		return corrupt(path, "unknown version");
	if (!json_str(v[COMMITTED_RUN], &d->committed_run))
		return corrupt(path, NUL_IN_STRING);
	json_int64(v[COMMITTED_MS], &d->committed_ms);
	if ((r = parse_parts(path, v[PENDING], d)) != ES_OK)
		return r;
	if (v[SOURCES].type != JSON_OBJECT)
		return corrupt(path, "no sources object");
	return parse_sources(path, v[SOURCES], d);
}

es_result state_load(state_store *s, state_data **out)
{
	char *path = path_in(s, "state.json");
	buf text = BUF_INIT;
	state_data *d = xcalloc(1, sizeof(*d));
	json_value root;
	json_error jerr;
	bool exists;
	es_result r;

	*out = NULL;
	if ((r = read_state_file(s, "state.json", "state file", &text, &exists)) != ES_OK) {
		state_data_free(d);
		goto done;
	}
	if (!exists) {
		*out = d;
		goto done;
	}
	/* strict: no data after the value (two files run together, NUL
	 * blocks of a damaged disk), no control characters, no numbers like
	 * 01 */
	if (!json_parse_bytes(text.data, text.len, JSON_DEFAULT_MAX_DEPTH, &root, &jerr)) {
		r = corrupt(path, "not valid JSON");
		state_data_free(d);
		goto done;
	}
	r = parse_state(path, root, d);
	if (r != ES_OK)
		state_data_free(d);
	else
		*out = d;
done:
	buf_release(&text);
	free(path);
	return r;
}

es_result state_save(state_store *s, const state_data *d)
{
	buf text = BUF_INIT;
	jsonw w;
	es_result r;

	jsonw_init(&w, &text, JSONW_BYTES);
	jsonw_object_begin(&w);
	jsonw_int_field(&w, "version", STATE_VERSION);
	if (d->committed_run)
		jsonw_string_field(&w, "committed_run", d->committed_run);
	jsonw_int_field(&w, "committed_ms", d->committed_ms);
	if (d->nparts) {
		jsonw_name(&w, "pending");
		jsonw_array_begin(&w);
		for (size_t i = 0; i < d->nparts; i++) {
			const pending_part *pp = &d->parts[i];

			jsonw_object_begin(&w);
			jsonw_string_field(&w, "run_id", pp->run_id);
			jsonw_name(&w, "subscribers");
			jsonw_array_begin(&w);
			for (size_t k = 0; k < pp->nsubs; k++)
				jsonw_string(&w, pp->subs[k]);
			jsonw_array_end(&w);
			jsonw_uint_field(&w, "attempts", pp->attempts);
			jsonw_int_field(&w, "first_failed_ms", pp->first_ms);
			if (pp->last_error)
				jsonw_string_field(&w, "last_error", pp->last_error);
			jsonw_object_end(&w);
		}
		jsonw_array_end(&w);
	}
	jsonw_name(&w, "sources");
	jsonw_object_begin(&w);
	for (size_t i = 0; i < d->nsources; i++) {
		const source_state *src = &d->sources[i];

		jsonw_name(&w, src->org_id);
		jsonw_object_begin(&w);
		if (src->horizon_ms != INT64_MIN)
			jsonw_int_field(&w, "horizon_ms", src->horizon_ms);
		if (src->has_below) {
			unsigned char raw[SKETCH_BYTES];
			char hex[2 * SKETCH_BYTES + 1];

			sketch_store(&src->below, raw);
			hex_encode(raw, sizeof(raw), hex);
			jsonw_int_field(&w, "below_until_ms", src->below_until_ms);
			jsonw_string_field(&w, "below_sketch", hex);
		}
		jsonw_name(&w, "files");
		jsonw_array_begin(&w);
		for (size_t j = 0; j < src->nfiles; j++) {
			const file_record *f = &src->files[j];

			if (f->removed)
				continue;
			jsonw_object_begin(&w);
			jsonw_string_field(&w, "key", f->key);
			jsonw_string_field(&w, "etag", f->etag ? f->etag : "");
			jsonw_uint_field(&w, "size", f->size);
			jsonw_int_field(&w, "mtime_ms", f->mtime_ms);
			jsonw_name(&w, "done");
			jsonw_array_begin(&w);
			for (size_t k = 0; k < f->ndone; k++)
				jsonw_string(&w, f->done[k]);
			jsonw_array_end(&w);
			if (f->run_id)
				jsonw_string_field(&w, "run_id", f->run_id);
			if (f->failures)
				jsonw_uint_field(&w, "failures", f->failures);
			if (f->poisoned)
				jsonw_bool_field(&w, "poisoned", true);
			if (f->last_error)
				jsonw_string_field(&w, "last_error", f->last_error);
			jsonw_object_end(&w);
		}
		jsonw_array_end(&w);
		jsonw_object_end(&w);
	}
	jsonw_object_end(&w);
	jsonw_object_end(&w);
	r = save_state_file(s, "state.json", text.data, text.len);
	buf_release(&text);
	return r;
}

/* --- pending parts ---------------------------------------------------- */

/* parts/RUN.json, parts/ opened (and checked) on first use */
static es_result parts_dir(state_store *s, const char *run_id, int *fd)
{
	es_result r;

	if (run_id && !run_id_ok(run_id))
		return es_error(ES_ERR_STATE, "'%s' is not a run id", run_id);
	if ((r = need_writing(s, "cannot keep a pending part")) != ES_OK)
		return r;
	if (s->partsfd < 0 && (r = open_subdir(s, "parts", &s->partsfd)) != ES_OK)
		return r;
	*fd = s->partsfd;
	return ES_OK;
}

es_result state_part_save(state_store *s, const char *run_id, const char *json, size_t n)
{
	char *name = xasprintf("%s.json", run_id), *path = NULL;
	int fd;
	es_result r = parts_dir(s, run_id, &fd);

	if (r == ES_OK) {
		path = xasprintf("%s/parts/%s", s->dir, name);
		r = write_file_atomic_at(fd, path, name, json, n, STATE_FILE_MODE);
		if (r == ES_OK)
			remove_atomic_leftovers_at(fd, name);
	}
	free(name);
	free(path);
	return r;
}

es_result state_part_load(state_store *s, const char *run_id, buf *out)
{
	char *name = xasprintf("%s.json", run_id), *path = NULL;
	int dfd, fd = -1;
	es_result r = parts_dir(s, run_id, &dfd);

	if (r != ES_OK)
		goto done;
	path = xasprintf("%s/parts/%s", s->dir, name);
	if ((r = open_checked(s, dfd, name, path, O_RDONLY, 0, &fd)) != ES_OK)
		goto done;
	if (fd < 0 || read_fd(fd, out, STATE_MAX_BYTES) < 0)
		r = es_error(ES_ERR_STATE, "cannot read the plan of run %s, '%s': %s",
			     run_id, path, fd < 0 ? strerror(ENOENT) : strerror(errno));
done:
	if (fd >= 0)
		close(fd);
	free(name);
	free(path);
	return r;
}

static void prune_part(int dirfd, const char *name, void *ud)
{
	const state_data *d = ud;
	size_t n = strlen(name);

	if (n < 6 || strcmp(name + n - 5, ".json"))
		return;
	for (size_t i = 0; i < d->nparts; i++)
		if (strlen(d->parts[i].run_id) == n - 5 && !strncmp(d->parts[i].run_id, name, n - 5))
			return;
	unlinkat(dirfd, name, 0);
}

void state_parts_prune(state_store *s, const state_data *d)
{
	int dfd;

	if (parts_dir(s, NULL, &dfd) == ES_OK)
		dir_each_at(dfd, prune_part, (void *)d);
}

/* --- plan journal ----------------------------------------------------- */

/* Remove the state file name (absent is fine); -1 with errno. */
static int remove_state_file(state_store *s, const char *name)
{
	return unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT ? -1 : 0;
}

es_result state_plan_save(state_store *s, const char *json, size_t n)
{
	es_result r;

	if ((r = need_writing(s, "cannot save a plan")) != ES_OK)
		return r;
	if (s->outcomes_fd >= 0) {
		close(s->outcomes_fd);
		s->outcomes_fd = -1;
	}
	/* a stale outcomes file must never be read against a new plan */
	if (remove_state_file(s, "plan.outcomes") < 0)
		return es_error(ES_ERR_IO, "cannot remove '%s/plan.outcomes': %s", s->dir,
				strerror(errno));
	return save_state_file(s, "plan.json", json, n);
}

es_result state_plan_load(state_store *s, buf *out, bool *exists)
{
	return read_state_file(s, "plan.json", "plan journal", out, exists);
}

/* A crash in the middle of an append leaves a last line without its
 * newline; cut it off before appending, or the next outcome would be
 * glued to it. */
static int cut_torn_tail(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END), pos = end;
	char c;

	if (end <= 0)
		return end < 0 ? -1 : 0;
	while (pos > 0) {
		if (pread(fd, &c, 1, pos - 1) != 1)
			return -1;
		if (c == '\n')
			break;
		pos--;
	}
	if (pos == end)
		return 0;
	return ftruncate(fd, pos);
}

static const struct {
	char code;
	const char *word;
} outcome_words[] = {
	{ 'o', "ok" }, { 'f', "failed" }, { 'p', "poisoned" }, { 'd', "deferred" },
};

es_result state_plan_outcome(state_store *s, size_t index, char outcome)
{
	const char *word = NULL;

	char line[32];
	int n;

	if (s->outcomes_fd < 0) {
		char *path = path_in(s, "plan.outcomes");
		es_result r = need_writing(s, "cannot record an outcome");

		if (r == ES_OK)
			r = open_checked(s, s->dirfd, "plan.outcomes", path, O_RDWR | O_CREAT |
					 O_APPEND, STATE_FILE_MODE, &s->outcomes_fd);
		if (r == ES_OK && cut_torn_tail(s->outcomes_fd) < 0) {
			r = es_error(ES_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
			close(s->outcomes_fd);
			s->outcomes_fd = -1;
		}
		free(path);
		if (r != ES_OK)
			return r;
	}
	for (size_t i = 0; i < sizeof(outcome_words) / sizeof(outcome_words[0]); i++)
		if (outcome_words[i].code == outcome)
			word = outcome_words[i].word;
	if (!word)
		die("unknown plan outcome %d", outcome);
	n = snprintf(line, sizeof(line), "%zu %s\n", index, word);
	if (write_all(s->outcomes_fd, line, (size_t)n) < 0 || fdatasync(s->outcomes_fd) < 0)
		return es_error(ES_ERR_IO, "cannot write the plan journal in '%s': %s",
				s->dir, strerror(errno));
	return ES_OK;
}

es_result state_plan_outcomes(state_store *s, char *out, size_t nfiles)
{
	buf text = BUF_INIT;
	bool exists;
	es_result r;
	char *p;

	memset(out, 0, nfiles);
	r = read_state_file(s, "plan.outcomes", "plan journal", &text, &exists);
	if (r != ES_OK || !exists) {
		buf_release(&text);
		return r;
	}
	p = text.data;
	for (;;) {
		char *nl = strchr(p, '\n'), *sp;
		uint64_t idx;

		if (!nl)
			break;   /* a torn last line: that outcome was not recorded */
		*nl = '\0';
		sp = strchr(p, ' ');
		if (sp) {
			*sp = '\0';
			/* a later line of the same file replaces an earlier one */
			for (size_t i = 0; i < sizeof(outcome_words) / sizeof(outcome_words[0]); i++)
				if (parse_u64(p, &idx) && idx < nfiles &&
				    !strcmp(sp + 1, outcome_words[i].word))
					out[idx] = outcome_words[i].code;
		}
		p = nl + 1;
	}
	buf_release(&text);
	return ES_OK;
}

es_result state_plan_clear(state_store *s)
{
	es_result r;

	if ((r = need_writing(s, "cannot clear the plan journal")) != ES_OK)
		return r;
	if (s->outcomes_fd >= 0) {
		close(s->outcomes_fd);
		s->outcomes_fd = -1;
	}
	if (remove_state_file(s, "plan.json") < 0 ||
	    remove_state_file(s, "plan.outcomes") < 0)
		return es_error(ES_ERR_IO, "cannot remove the plan journal in '%s': %s",
				s->dir, strerror(errno));
	fsync(s->dirfd);
	return ES_OK;
}

/* --- quarantine and spool ---------------------------------------------- */

char *state_quarantine_path(const state_store *s, const char *run_id)
{
	return xasprintf("%s/quarantine/%s.ndjson", s->dir, run_id);
}

char *state_spool_dir(const state_store *s, const char *run_id)
{
	return xasprintf("%s/spool/%s", s->dir, run_id);
}

es_result state_quarantine_open(state_store *s, const char *run_id, int *fd)
{
	char *path = state_quarantine_path(s, run_id), *name;
	es_result r;

	*fd = -1;
	if ((r = need_writing(s, "cannot open a quarantine file")) != ES_OK)
		goto done;
	if (!run_id_ok(run_id)) {
		r = es_error(ES_ERR_INTERNAL, "refusing quarantine file '%s'", path);
		goto done;
	}
	name = xasprintf("%s.ndjson", run_id);
	r = open_checked(s, s->qdirfd, name, path, O_WRONLY | O_CREAT | O_APPEND,
			 QUARANTINE_MODE, fd);
	free(name);
done:
	free(path);
	return r;
}

void state_quarantine_remove(state_store *s, const char *run_id)
{
	char *name;

	if (!s->writing || !run_id_ok(run_id))
		return;
	name = xasprintf("%s.ndjson", run_id);
	unlinkat(s->qdirfd, name, 0);
	free(name);
}

struct prune {
	const state_store *s;
	int64_t before_ms;
};

static void prune_quarantine_file(int dirfd, const char *name, void *ud)
{
	const struct prune *pr = ud;
	struct stat st;
	size_t n = strlen(name);

	if (n < 8 || strcmp(name + n - 7, ".ndjson") ||
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    (int64_t)st.st_mtim.tv_sec * 1000 >= pr->before_ms)
		return;
	debug("removing old quarantine file '%s/quarantine/%s'", pr->s->dir, name);
	unlinkat(dirfd, name, 0);
}

void state_quarantine_prune(const state_store *s, int64_t t_ms)
{
	struct prune pr = { s, t_ms };

	if (s->writing)
		dir_each_at(s->qdirfd, prune_quarantine_file, &pr);
}

static void remove_entry(int dirfd, const char *name, void *ud)
{
	(void)ud;
	unlinkat(dirfd, name, 0);
}

void state_spool_remove(const state_store *s, const char *run_id)
{
	int fd = s->writing && run_id_ok(run_id)
		 ? openat(s->spoolfd, run_id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			  O_CLOEXEC) : -1;

	if (fd < 0)
		return;
	dir_each_at(fd, remove_entry, NULL);
	close(fd);
	unlinkat(s->spoolfd, run_id, AT_REMOVEDIR);
}
