/*
 * store.c - what every backend calls: failure messages (store_fail), the
 * listing type, a store's URLs, freeing a store, and the faults of a
 * location's check.  It calls no
 * backend (store_open is open.c's): the backends call it.  See store.h.
 */
#include "store.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void store_list_add(store_list *l, const char *key, uint64_t size,
		    int64_t mtime_ms, const char *etag)
{
	store_object *o;

	l->items = xgrow(l->items, l->count + 1, &l->alloc, sizeof(*l->items));
	o = &l->items[l->count++];
	o->key = xstrdup(key);
	o->size = size;
	o->mtime_ms = mtime_ms;
	o->etag = xstrdup(etag ? etag : "");
}

void store_object_release(store_object *o)
{
	free(o->key);
	free(o->etag);
	o->key = o->etag = NULL;
}

void store_object_copy(store_object *d, const store_object *s)
{
	d->key = xstrdup(s->key);
	d->size = s->size;
	d->mtime_ms = s->mtime_ms;
	d->etag = xstrdup(s->etag ? s->etag : "");
}

void store_list_release(store_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		store_object_release(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->count = l->alloc = 0;
}

es_result store_fail(store *s, es_result r, const char *url, const char *fmt, ...)
{
	va_list ap;
	buf m = BUF_INIT;

	va_start(ap, fmt);
	buf_vprintf(&m, fmt, ap);
	va_end(ap);
	/* redacted whole, then cut: no part of a secret survives the cut */
	log_redact(&m);
	snprintf(s->last_error, sizeof(s->last_error), "%s", m.data ? m.data : "");
	buf_release(&m);
	log_msg(LOG_ERROR, url, "%s", s->last_error);
	return r;
}

const char *store_last_error(const store *s)
{
	return s->last_error;
}

void store_free(store *s)
{
	if (s)
		s->ops->free(s);
}

char *store_url(const store *s, const char *key)
{
	return location_key_url(&s->loc, key);
}

void store_faults_add(store_faults *f, const char *key, const char *fmt, ...)
{
	va_list ap;
	buf m = BUF_INIT;

	va_start(ap, fmt);
	buf_vprintf(&m, fmt, ap);
	va_end(ap);
	f->items = xgrow(f->items, f->count + 1, &f->alloc, sizeof(*f->items));
	f->items[f->count].key = key;
	f->items[f->count].message = buf_detach(&m, NULL);
	f->count++;
}

void store_faults_release(store_faults *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->count; i++)
		free(f->items[i].message);
	free(f->items);
	f->items = NULL;
	f->count = f->alloc = 0;
}

es_result store_faults_fail(const location *loc, const store_faults *f)
{
	buf m = BUF_INIT;

	for (size_t i = 0; i < f->count; i++)
		buf_printf(&m, "%s%s", i ? "; " : "", f->items[i].message);
	es_error_url(ES_ERR_CONFIG, loc->url, "'%s': %s", loc->url, m.data ? m.data : "");
	buf_release(&m);
	return ES_ERR_CONFIG;
}
