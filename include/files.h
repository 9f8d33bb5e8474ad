/*
 * files.h - whole files written in place of others, and what interrupted
 * writes leave behind.  They log their failures (log.h), which is why
 * they are not in util.h: util.c calls nothing that logs.
 */
#ifndef EVSHARE_FILES_H
#define EVSHARE_FILES_H

#include "util.h"

/*
 * Atomic replacement: the one way evshare writes a whole file.
 *
 * The content goes to a new temporary "NAME.tmp.<16 random hex digits>"
 * in the same directory (create_temp_at), is fsync'ed, renamed over NAME
 * (renameat: a symbolic link at NAME is replaced, never written through)
 * and the directory is fsync'ed.  A reader sees the old file or the new
 * one.  A crash between the create and the rename leaves the temporary
 * behind; remove_atomic_leftovers_at() is how a writer that owns the
 * directory cleans them.  path names the file in messages.  Logs and
 * returns ES_ERR_IO on failure (the temporary is removed).
 */
es_result write_file_atomic_at(int dirfd, const char *path, const char *name,
			       const void *data, size_t n, unsigned mode);
/* The same for a path: its directory is opened (following links there,
 * as any path the operator gives), then write_file_atomic_at. */
es_result write_file_atomic(const char *path, const void *data, size_t n, unsigned mode);
/* Remove what write_file_atomic_at of NAME may have left in dirfd
 * ("NAME.tmp.*", also the "NAME.tmp.PID" of earlier versions), without
 * following links.  Only for a directory where no other writer of NAME
 * can be at work (the state directory, under its lock). */
void remove_atomic_leftovers_at(int dirfd, const char *name);
/* Remove every entry of dirfd whose name is prefix followed by at least
 * one more byte (leftovers of interrupted writes named after prefix). */
void remove_prefixed_at(int dirfd, const char *prefix);

/* Call fn(dirfd, name, ud) for each entry of the directory dirfd ("." and
 * ".." left out), reading it through a description of its own (a dup
 * would share and move dirfd's offset).  An unreadable directory has no
 * entries.  fn may remove the entry it is given. */
void dir_each_at(int dirfd, void (*fn)(int dirfd, const char *name, void *ud), void *ud);

#endif
