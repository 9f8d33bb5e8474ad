/* strmap.c - string -> size_t map with linear probing. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void strmap_init(strmap *m)
{
	m->keys = NULL;
	m->values = NULL;
	m->slots = m->used = 0;
}

void strmap_release(strmap *m)
{
	free(m->keys);
	free(m->values);
	strmap_init(m);
}

static size_t find_slot(const char **keys, size_t slots, const char *key)
{
	size_t i = (size_t)hash_str(key) & (slots - 1);

	while (keys[i] && strcmp(keys[i], key))
		i = (i + 1) & (slots - 1);
	return i;
}

void strmap_put(strmap *m, const char *key, size_t value)
{
	size_t i;

	if ((m->used + 1) * 4 >= m->slots * 3) {
		size_t nslots = m->slots ? m->slots * 2 : 16;
		const char **nk = xcalloc(nslots, sizeof(*nk));
		size_t *nv = xcalloc(nslots, sizeof(*nv));

		for (size_t j = 0; j < m->slots; j++) {
			if (m->keys[j]) {
				size_t s = find_slot(nk, nslots, m->keys[j]);

				nk[s] = m->keys[j];
				nv[s] = m->values[j];
			}
		}
		free(m->keys);
		free(m->values);
		m->keys = nk;
		m->values = nv;
		m->slots = nslots;
	}
	i = find_slot(m->keys, m->slots, key);
	if (!m->keys[i])
		m->used++;
	m->keys[i] = key;
	m->values[i] = value;
}

bool strmap_get(const strmap *m, const char *key, size_t *value)
{
	size_t i;

	if (!m->slots)
		return false;
	i = find_slot(m->keys, m->slots, key);
	if (!m->keys[i])
		return false;
	*value = m->values[i];
	return true;
}
