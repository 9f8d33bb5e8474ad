/*
 * open.c - opening a store and checking a location: the dispatch from a
 * location's scheme to its backend.  The one file of the storage wing that
 * calls the backends; no backend calls it.  See store.h.
 */
#include "store.h"
#include "log.h"
#include "objhttp.h"

es_result store_open(const location *loc, store **out)
{
	*out = NULL;
	switch (loc->scheme) {
	case LOC_FILE:
		return store_file_open(loc, out);
	case LOC_S3:
	case LOC_GS:
		return store_s3_open(loc, out);
	case LOC_AZ:
		return store_az_open(loc, out);
	}
	return es_error_url(ES_ERR_CONFIG, loc->url,
			    "'%s': this build of evshare has no backend for it", loc->url);
}

/* A file: location takes the transfer settings without using them
 * (evshare.json(5)): they are checked with the ranges every location has,
 * and an endpoint must parse. */
static const objhttp_limits file_limits = {
	.service = "file:",
	.upload = "file",
	.part = "part",
	.min_part = 5ull << 20,
	.max_part = 5ull << 30,
	.part_range = "5 MiB..5 GiB",
};

es_result store_check(const location *loc, store_faults *out)
{
	size_t before = out->count;

	switch (loc->scheme) {
	case LOC_FILE:
		objhttp_check(loc, &file_limits, out);
		return out->count > before ? ES_ERR_CONFIG : ES_OK;
	case LOC_S3:
	case LOC_GS:
		return store_s3_check(loc, out);
	case LOC_AZ:
		return store_az_check(loc, out);
	}
	store_faults_add(out, "url", "this build of evshare has no backend for it");
	return ES_ERR_CONFIG;
}
