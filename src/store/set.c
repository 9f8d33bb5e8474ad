/* set.c - the stores one run reads from, each opened once. */
#include "store_set.h"

#include <stdlib.h>
#include <string.h>

struct set_entry {
	store *st;
	char *owner;              /* NULL: the sources' */
};

struct store_set {
	struct set_entry *e;
	size_t n, alloc;
};

store_set *store_set_new(void)
{
	return xcalloc(1, sizeof(store_set));
}

void store_set_free(store_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		store_free(s->e[i].st);
		free(s->e[i].owner);
	}
	free(s->e);
	free(s);
}

static bool same_str(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Would a and b open the same store (the same place, the same settings)? */
static bool same_location(const location *a, const location *b)
{
	return a->scheme == b->scheme && same_str(a->url, b->url) &&
	       same_str(a->endpoint, b->endpoint) && same_str(a->region, b->region) &&
	       same_str(a->profile, b->profile) && a->path_style == b->path_style &&
	       a->part_size == b->part_size &&
	       a->multipart_threshold == b->multipart_threshold &&
	       a->retries == b->retries && a->upload_streams == b->upload_streams &&
	       same_str(a->credentials_file, b->credentials_file) &&
	       a->max_list_keys == b->max_list_keys &&
	       a->max_list_pages == b->max_list_pages &&
	       a->object_timeout_ms == b->object_timeout_ms;
}

es_result store_set_get(store_set *s, const location *loc, const char *owner, store **out)
{
	es_result r;

	for (size_t i = 0; i < s->n; i++)
		if (same_str(s->e[i].owner, owner) && same_location(&s->e[i].st->loc, loc)) {
			*out = s->e[i].st;
			return ES_OK;
		}
	if ((r = store_open(loc, out)) != ES_OK)
		return r;
	s->e = xgrow(s->e, s->n + 1, &s->alloc, sizeof(*s->e));
	s->e[s->n].st = *out;
	s->e[s->n].owner = owner ? xstrdup(owner) : NULL;
	s->n++;
	return ES_OK;
}
