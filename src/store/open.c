/*
 * open.c - opening a store and checking a location: the dispatch from a
 * location's scheme to its backend.  The one file of the storage wing that
 * calls the backends; no backend calls it.  See store.h.
 */
#include "store.h"
#include "log.h"

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

es_result store_check(const location *loc, store_faults *out)
{
	switch (loc->scheme) {
	case LOC_FILE:
		return ES_OK;
	case LOC_S3:
	case LOC_GS:
		return store_s3_check(loc, out);
	case LOC_AZ:
		return store_az_check(loc, out);
	}
	store_faults_add(out, "url", "this build of evshare has no backend for it");
	return ES_ERR_CONFIG;
}
