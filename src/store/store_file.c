/*
 * store_file.c - file:// locations: a local directory used as a bucket.
 *
 * Keys are paths relative to the root directory.  A listing is bounded as
 * the remote ones are (max_list_keys; max_list_pages counting each
 * directory read as a page), and a get delivers nothing past the listed
 * size (a file being appended to fails).  Nothing here follows a
 * symbolic link: listings skip them (with a warning) and every path is
 * opened one component at a time with O_NOFOLLOW, so no key can leave
 * the root.  Puts write a temporary file next to the target
 * (".evshare-tmp.NAME.RANDOM", made anew: skipped by listings), fsync it,
 * rename it into place and fsync the directory.
 *
 * Modes: whatever a put creates gets mode 0640 (files) or 0750
 * (directories) less the umask; nothing is chmod'ed afterwards.  A spool
 * file hard-linked into place keeps the mode it was created with in the
 * spool (0640 less the umask, zpool.c).
 */
#include "store.h"
#include "log.h"
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_MARK ".evshare-tmp."
#define OUTPUT_MODE 0640
#define OUTPUT_DIR_MODE 0750
#define READ_CHUNK (256 * 1024)

typedef struct file_store {
	store base;
} file_store;

static void make_etag(const struct stat *st, char out[64])
{
	snprintf(out, 64, "%llx-%llx.%lx-%llx", (unsigned long long)st->st_size,
		 (unsigned long long)st->st_mtim.tv_sec, (long)st->st_mtim.tv_nsec,
		 (unsigned long long)st->st_ino);
}

static int64_t mtime_ms(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* The root itself is not followed either when it is a link (its parents
 * are the system's: they may be). */
static int open_root(const file_store *fs)
{
	return open(fs->base.loc.root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Why the root cannot be opened, for a message. */
static const char *root_error(const file_store *fs, int err)
{
	struct stat st;

	if ((err == ELOOP || err == ENOTDIR) && lstat(fs->base.loc.root, &st) == 0 &&
	    S_ISLNK(st.st_mode))
		return "it is a symbolic link, and file locations never follow links "
		       "(give the directory it points to)";
	return strerror(err);
}

/* Open the directory holding key (creating it when `create`), following no
 * symlink.  Returns a directory fd and sets *leaf to the last segment. */
static int open_parent(int rootfd, const char *key, bool create, const char **leaf)
{
	int dirfd = dup(rootfd);
	const char *p = key;

	if (dirfd < 0)
		return -1;
	for (;;) {
		const char *slash = strchr(p, '/');
		char *seg;
		int next;

		if (!slash) {
			*leaf = p;
			return dirfd;
		}
		seg = xstrndup(p, (size_t)(slash - p));
		if (create && mkdirat(dirfd, seg, OUTPUT_DIR_MODE) < 0 && errno != EEXIST) {
			int saved = errno;

			free(seg);
			close(dirfd);
			errno = saved;
			return -1;
		}
		next = openat(dirfd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		free(seg);
		close(dirfd);
		if (next < 0)
			return -1;
		dirfd = next;
		p = slash + 1;
	}
}

struct walk_dir {
	char *rel;     /* "" for the root, else "a/b/" */
};

/* The listing's bounds: a directory read counts as one page. */
static es_result list_bounds(store *s, size_t keys, uint64_t dirs, bool more)
{
	uint64_t max_keys = s->loc.max_list_keys ? s->loc.max_list_keys
						 : LOCATION_DEFAULT_MAX_LIST_KEYS;
	uint64_t max_pages = s->loc.max_list_pages ? s->loc.max_list_pages
						   : LOCATION_DEFAULT_MAX_LIST_PAGES;

	if (keys > max_keys)
		return store_fail(s, ES_ERR_REMOTE, s->loc.url, "'%s': the listing passed %" PRIu64
				  " objects (max_list_keys); raise max_list_keys or narrow the "
				  "prefix", s->loc.url, max_keys);
	if (more && dirs >= max_pages)
		return store_fail(s, ES_ERR_REMOTE, s->loc.url, "'%s': the listing passed %" PRIu64
				  " pages (max_list_pages: here, directories); raise "
				  "max_list_pages or narrow the prefix", s->loc.url, max_pages);
	return ES_OK;
}

static es_result file_list(store *s, store_list *out)
{
	file_store *fs = (file_store *)s;
	struct walk_dir *stack = NULL;
	size_t nstack = 0, alloc = 0, base = out->count;
	int rootfd = open_root(fs);
	es_result r = ES_OK;
	unsigned symlinks = 0;
	uint64_t dirs = 0;

	if (rootfd < 0)
		return store_fail(s, errno == ENOENT ? ES_ERR_REMOTE : ES_ERR_IO,
				    s->loc.url, "cannot list '%s': %s", s->loc.url,
				    root_error(fs, errno));
	stack = xgrow(stack, 1, &alloc, sizeof(*stack));
	stack[nstack++].rel = xstrdup("");
	while (nstack) {
		char *rel = stack[--nstack].rel;
		const char *dummy;
		int dirfd;
		DIR *d;
		struct dirent *de;

		if (*rel) {
			/* open "a/b/" as the parent of "a/b/x" */
			char *probe = xasprintf("%sx", rel);

			dirfd = open_parent(rootfd, probe, false, &dummy);
			free(probe);
		} else {
			dirfd = dup(rootfd);
		}
		if (dirfd < 0 || !(d = fdopendir(dirfd))) {
			r = store_fail(s, ES_ERR_IO, s->loc.url, "cannot list '%s%s': %s",
					 s->loc.url, rel, strerror(errno));
			if (dirfd >= 0)
				close(dirfd);
			free(rel);
			break;
		}
		dirs++;
		while (r == ES_OK && (de = readdir(d))) {
			struct stat st;
			char *key;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (!strncmp(de->d_name, TMP_MARK, strlen(TMP_MARK)))
				continue;
			if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;   /* vanished */
			key = xasprintf("%s%s", rel, de->d_name);
			if (S_ISDIR(st.st_mode)) {
				stack = xgrow(stack, nstack + 1, &alloc, sizeof(*stack));
				stack[nstack++].rel = xasprintf("%s/", key);
			} else if (S_ISREG(st.st_mode)) {
				char etag[64];

				make_etag(&st, etag);
				store_list_add(out, key, (uint64_t)st.st_size, mtime_ms(&st), etag);
				r = list_bounds(s, out->count - base, dirs, false);
			} else if (S_ISLNK(st.st_mode)) {
				if (!symlinks++)
					log_msg(LOG_WARNING, s->loc.url,
						"skipping symbolic link '%s%s' (and any others): "
						"file locations never follow links", s->loc.url, key);
			}
			free(key);
		}
		closedir(d);
		free(rel);
		if (r == ES_OK)
			r = list_bounds(s, out->count - base, dirs, nstack > 0);
		if (r != ES_OK)
			break;
	}
	while (nstack)
		free(stack[--nstack].rel);
	free(stack);
	close(rootfd);
	return r;
}

static es_result file_get(store *s, const store_object *obj, store_write_fn fn,
			  void *ud)
{
	file_store *fs = (file_store *)s;
	char *url = store_url(s, obj->key);
	const char *leaf;
	int rootfd = -1, dirfd = -1, fd = -1;
	char *chunk = NULL;
	struct stat st;
	char etag[64];
	uint64_t got = 0;
	es_result r = ES_ERR_IO;

	if (!store_key_is_safe(obj->key)) {
		r = store_fail(s, ES_ERR_DATA, url, "refusing unsafe key '%s'", url);
		goto done;
	}
	if ((rootfd = open_root(fs)) < 0 ||
	    (dirfd = open_parent(rootfd, obj->key, false, &leaf)) < 0 ||
	    (fd = openat(dirfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = store_fail(s, errno == ENOENT ? ES_ERR_REMOTE : ES_ERR_IO, url,
				 "cannot read '%s': %s", url, strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = store_fail(s, ES_ERR_IO, url, "cannot read '%s': not a regular file", url);
		goto done;
	}
	make_etag(&st, etag);
	if (obj->etag && *obj->etag && strcmp(etag, obj->etag)) {
		r = store_fail(s, ES_ERR_REMOTE, url,
				 "'%s' changed since it was listed", url);
		goto done;
	}
	chunk = xmalloc(READ_CHUNK);
	for (;;) {
		ssize_t n = read(fd, chunk, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = store_fail(s, ES_ERR_IO, url, "cannot read '%s': %s", url,
					 strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > obj->size - got) {
			/* a file still being written: nothing past the listed size */
			r = store_fail(s, ES_ERR_REMOTE, url, "cannot read '%s': the file went "
				       "past the listed size (%" PRIu64 " bytes); it changed since it "
				       "was listed", url, obj->size);
			goto done;
		}
		got += (uint64_t)n;
		if (fn(ud, chunk, (size_t)n)) {
			r = ES_ERR_DATA;
			goto done;
		}
	}
	r = ES_OK;
done:
	free(chunk);
	if (fd >= 0)
		close(fd);
	if (dirfd >= 0)
		close(dirfd);
	if (rootfd >= 0)
		close(rootfd);
	free(url);
	return r;
}

static int copy_fd(int in, int out)
{
	char *chunk = xmalloc(READ_CHUNK);
	int rc = 0;

	for (;;) {
		ssize_t n = read(in, chunk, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -1 : 0;
			break;
		}
		if (write_all(out, chunk, (size_t)n) < 0) {
			rc = -1;
			break;
		}
	}
	free(chunk);
	return rc;
}

/* ".evshare-tmp.LEAF." (a long LEAF shortened with a hash, so that names
 * stay short and two leaves never share a prefix). */
static char *temp_prefix(const char *leaf)
{
	size_t n = strlen(leaf);
	uint64_t h = 1469598103934665603ULL;

	if (n <= 160)
		return xasprintf(TMP_MARK "%s.", leaf);
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)leaf[i];
		h *= 1099511628211ULL;
	}
	return xasprintf(TMP_MARK "%.100s-%016llx.", leaf, (unsigned long long)h);
}

/* A put interrupted by a crash leaves its temporary file behind; the put
 * that later completes the same key removes it. */
static void remove_stale_temps(int dirfd, const char *leaf)
{
	char *prefix = temp_prefix(leaf);

	remove_prefixed_at(dirfd, prefix);
	free(prefix);
}

/* Hard-link local_path into dirfd under prefix and a random name (set in
 * *tmp, allocated) and open the link.  -1 with errno and *tmp NULL when
 * no link was made (EXDEV: another filesystem), or with *tmp set when
 * the link could not be opened. */
static int link_temp(const char *local_path, int dirfd, const char *prefix, char **tmp)
{
	*tmp = NULL;
	for (int tries = 0; tries < 16; tries++) {
		char *name = temp_name(prefix);

		if (linkat(AT_FDCWD, local_path, dirfd, name, 0) == 0) {
			*tmp = name;
			return openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		}
		free(name);
		if (errno != EEXIST)
			break;
	}
	return -1;
}

static es_result file_put(store *s, const char *key, const char *local_path)
{
	file_store *fs = (file_store *)s;
	char *url = store_url(s, key);
	char *tmp = NULL, *prefix = NULL;
	const char *leaf;
	int rootfd = -1, dirfd = -1, in = -1, out = -1;
	es_result r = ES_ERR_IO;

	if (!store_key_is_safe(key)) {
		r = store_fail(s, ES_ERR_INTERNAL, url, "refusing unsafe key '%s'", url);
		goto done;
	}
	if ((rootfd = open_root(fs)) < 0 && errno == ENOENT &&
	    mkdir_p(s->loc.root, OUTPUT_DIR_MODE) == 0)
		rootfd = open_root(fs);
	if (rootfd < 0) {
		r = store_fail(s, ES_ERR_IO, url, "cannot write '%s': %s", url, root_error(fs, errno));
		goto done;
	}
	if ((dirfd = open_parent(rootfd, key, true, &leaf)) < 0) {
		r = store_fail(s, ES_ERR_IO, url, "cannot write '%s': %s", url, strerror(errno));
		goto done;
	}
	if ((in = open(local_path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = es_error_url(ES_ERR_IO, url, "cannot read '%s' to put '%s': %s", local_path,
				 url, strerror(errno));
		goto done;
	}
	prefix = temp_prefix(leaf);
	/* on the same filesystem the spool file itself becomes the object
	 * (a hard link: no copy); otherwise (or where links cannot be made)
	 * its bytes are copied.  Either way the temporary is new, under a
	 * name nobody could guess */
	out = link_temp(local_path, dirfd, prefix, &tmp);
	if (out < 0 && !tmp && (out = create_temp_at(dirfd, prefix, OUTPUT_MODE, &tmp)) >= 0 &&
	    copy_fd(in, out) < 0) {
		r = store_fail(s, ES_ERR_IO, url, "cannot write '%s': %s", url, strerror(errno));
		goto fail_tmp;
	}
	if (out < 0 || fsync(out) < 0) {
		r = store_fail(s, ES_ERR_IO, url, "cannot write '%s': %s", url, strerror(errno));
		goto fail_tmp;
	}
	if (close(out) < 0) {
		out = -1;
		r = store_fail(s, ES_ERR_IO, url, "cannot write '%s': %s", url, strerror(errno));
		goto fail_tmp;
	}
	out = -1;
	if (renameat(dirfd, tmp, dirfd, leaf) < 0) {
		r = store_fail(s, ES_ERR_IO, url, "cannot write '%s': %s", url, strerror(errno));
		goto fail_tmp;
	}
	if (fsync(dirfd) < 0) {
		r = store_fail(s, ES_ERR_IO, url, "cannot sync '%s': %s", url, strerror(errno));
		goto done;
	}
	remove_stale_temps(dirfd, leaf);
	r = ES_OK;
	goto done;
fail_tmp:
	if (tmp)
		unlinkat(dirfd, tmp, 0);
done:
	if (out >= 0)
		close(out);
	if (in >= 0)
		close(in);
	if (dirfd >= 0)
		close(dirfd);
	if (rootfd >= 0)
		close(rootfd);
	free(tmp);
	free(prefix);
	free(url);
	return r;
}

static void file_free(store *s)
{
	location_release(&s->loc);
	free(s);
}

static const struct store_ops file_ops = {
	.local = true,
	.list = file_list,
	.get = file_get,
	.put = file_put,
	.free = file_free,
};

es_result store_file_open(const location *loc, store **out)
{
	file_store *fs = xcalloc(1, sizeof(*fs));

	fs->base.ops = &file_ops;
	location_copy(&fs->base.loc, loc);
	*out = &fs->base;
	return ES_OK;
}
