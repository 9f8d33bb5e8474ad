/*
 * strmap.h - a string -> size_t hash map (open addressing).
 *
 * Keys are borrowed: the map stores the caller's pointers, which must stay
 * valid and unchanged while they are in the map.  Used to find state
 * records by key and subscribers by org_id.
 */
#ifndef EVSHARE_STRMAP_H
#define EVSHARE_STRMAP_H

#include "util.h"

typedef struct strmap {
	const char **keys;
	size_t *values;
	size_t slots, used;
} strmap;

void strmap_init(strmap *m);
void strmap_release(strmap *m);
/* Insert or replace. */
void strmap_put(strmap *m, const char *key, size_t value);
bool strmap_get(const strmap *m, const char *key, size_t *value);

#endif
