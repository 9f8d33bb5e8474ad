/*
 * crashpoint.c - an LD_PRELOAD shim for crash tests (never linked into
 * evshare).  It counts the calls that change files - write, pwrite,
 * rename, renameat, fsync, fdatasync, unlink, unlinkat, ftruncate - and
 * kills the process with SIGKILL just before the Nth one, so a test can
 * stop a run at any chosen side effect and check what the rerun does.
 *
 *   CRASHPOINT_AT=N        kill before the Nth counted call (unset: never)
 *   CRASHPOINT_COUNT=PATH  at exit, write the number of counted calls there
 *
 * Writes to fds 0-2 (logs) are not counted.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long crash_at = -1;
static long calls;

__attribute__((constructor)) static void crashpoint_init(void)
{
	const char *at = getenv("CRASHPOINT_AT");

	if (at && *at)
		crash_at = strtol(at, NULL, 10);
}

__attribute__((destructor)) static void crashpoint_fini(void)
{
	const char *path = getenv("CRASHPOINT_COUNT");
	char line[32];
	int fd, n;

	if (!path || !*path)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%ld\n", calls);
	if (write(fd, line, (size_t)n) < 0)
		calls = calls;
	close(fd);
}

static void count(void)
{
	if (++calls == crash_at)
		kill(getpid(), SIGKILL);
}

#define NEXT(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)

ssize_t write(int fd, const void *p, size_t n)
{
	NEXT(write);
	if (fd > 2)
		count();
	return real(fd, p, n);
}

ssize_t pwrite(int fd, const void *p, size_t n, off_t off)
{
	NEXT(pwrite);
	count();
	return real(fd, p, n, off);
}

int rename(const char *a, const char *b)
{
	NEXT(rename);
	count();
	return real(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
	NEXT(renameat);
	count();
	return real(da, a, db, b);
}

int fsync(int fd)
{
	NEXT(fsync);
	count();
	return real(fd);
}

int fdatasync(int fd)
{
	NEXT(fdatasync);
	count();
	return real(fd);
}

int unlink(const char *p)
{
	NEXT(unlink);
	count();
	return real(p);
}

int unlinkat(int d, const char *p, int f)
{
	NEXT(unlinkat);
	count();
	return real(d, p, f);
}

int ftruncate(int fd, off_t len)
{
	NEXT(ftruncate);
	count();
	return real(fd, len);
}
