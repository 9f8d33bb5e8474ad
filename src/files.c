/* files.c - whole files written in place of others, and what interrupted
 * writes leave behind. */
#include "files.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

es_result write_file_atomic_at(int dirfd, const char *path, const char *name,
			       const void *data, size_t n, unsigned mode)
{
	char *prefix = xasprintf("%s.tmp.", name), *tmp = NULL;
	int fd = create_temp_at(dirfd, prefix, mode, &tmp);
	int saved;

	free(prefix);
	if (fd < 0) {
		saved = errno;
		goto fail;
	}
	if (write_all(fd, data, n) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
		saved = errno;
		goto fail;
	}
	free(tmp);
	tmp = NULL;
	if (fsync(dirfd) < 0) {
		saved = errno;
		goto fail;
	}
	return ES_OK;
fail:
	error("cannot write '%s': %s", path, strerror(saved));
	if (tmp)
		unlinkat(dirfd, tmp, 0);
	free(tmp);
	return ES_ERR_IO;
}

es_result write_file_atomic(const char *path, const void *data, size_t n,
			    unsigned mode)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path))
			  : xstrdup(".");
	const char *name = slash ? slash + 1 : path;
	int dirfd = -1;
	es_result r;

	if (!*name)
		errno = EISDIR;
	else
		dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (dirfd < 0)
		return es_error(ES_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
	r = write_file_atomic_at(dirfd, path, name, data, n, mode);
	close(dirfd);
	return r;
}

void dir_each_at(int dirfd, void (*fn)(int dirfd, const char *name, void *ud), void *ud)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			fn(dirfd, de->d_name, ud);
	closedir(d);
}

static void remove_if_prefixed(int dirfd, const char *name, void *ud)
{
	const char *prefix = ud;
	size_t plen = strlen(prefix);

	if (!strncmp(name, prefix, plen) && name[plen]) {
		debug("removing a temporary file left by an interrupted write: '%s'", name);
		unlinkat(dirfd, name, 0);
	}
}

void remove_prefixed_at(int dirfd, const char *prefix)
{
	dir_each_at(dirfd, remove_if_prefixed, (void *)prefix);
}

void remove_atomic_leftovers_at(int dirfd, const char *name)
{
	char *prefix = xasprintf("%s.tmp.", name);

	remove_prefixed_at(dirfd, prefix);
	free(prefix);
}
