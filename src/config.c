/*
 * config.c - load and validate the JSON configuration.
 *
 * The text is validated once by json.c (RFC 8259, UTF-8) and read from the
 * same text with json.c's accessors: no tree, no second parser.  A
 * filter is compiled from its own text as written ($.additional_subscribers
 * [i].filter is a span of the config: its numbers are never rewritten).
 */
#include "config.h"
#include "json.h"
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_MAX_OBJECT_BYTES (128ull << 20)
#define DEFAULT_MAX_LINE_BYTES (1u << 20)
#define DEFAULT_LOOKBACK_MS (7LL * 86400 * 1000)
#define DEFAULT_QUARANTINE_RETENTION_MS (30LL * 86400 * 1000)
#define DEFAULT_MAX_FILE_BYTES (16ull << 30)
#define DEFAULT_MAX_INFLATE_RATIO 100
#define DEFAULT_QUARANTINE_LINE_BYTES (64u << 10)
#define DEFAULT_MAX_QUARANTINE_PER_FILE (64ull << 20)
#define DEFAULT_MAX_QUARANTINE_PER_RUN (1ull << 30)
#define DEFAULT_RUN_TIMEOUT_MS (6LL * 3600 * 1000)
#define MAX_TIMEOUT_MS (30LL * 86400 * 1000)
/* How deep the configuration may nest (its filters are the deep part), as
 * it always could. */
#define CONFIG_MAX_DEPTH 1000

/* Validation context: collects every error with its path. */
struct ctx {
	buf *err;
	unsigned nerrors;
	const char *base_dir;
	char **strings;          /* strings decoded from the text, freed at */
	size_t nstrings;         /* the end of config_parse */
	size_t strings_alloc;
	json_value s3;           /* $.s3, when s3_keys_set */
	bool s3_keys_set;
	char s3_told[256];       /* "|key|..." of the faults told at $.s3 */
};

static void cerr(struct ctx *c, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* End the error line begun at err->data[start]: a control character in it
 * (a key or a value may hold an escaped "\n") becomes '?', so that every
 * error stays on a line of its own. */
static void end_error_line(buf *err, size_t start)
{
	for (size_t i = start; i < err->len; i++)
		if ((unsigned char)err->data[i] < 0x20 || err->data[i] == 0x7f)
			err->data[i] = '?';
	buf_addch(err, '\n');
}

static void cerr(struct ctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;
	size_t start = c->err->len;

	if (c->nerrors++ >= 50)
		return;
	buf_printf(c->err, "%s: ", path);
	va_start(ap, fmt);
	buf_vprintf(c->err, fmt, ap);
	va_end(ap);
	end_error_line(c->err, start);
}

bool org_id_is_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

static const char *type_name(json_value j)
{
	switch (j.type) {
	case JSON_STRING: return "a string";
	case JSON_NUMBER: return "a number";
	case JSON_TRUE:
	case JSON_FALSE:  return "a boolean";
	case JSON_NULL:   return "null";
	case JSON_ARRAY:  return "an array";
	case JSON_OBJECT: return "an object";
	}
	return "an invalid value";
}

static char *child_path(const char *path, const char *key)
{
	return xasprintf("%s.%s", path, key);
}

static char *index_path(const char *path, size_t i)
{
	return xasprintf("%s[%zu]", path, i);
}

/* The path of a member of the object at path, by its key as written (a
 * U+0000 in it shows as '?', as the other control characters do). */
static char *member_path(const char *path, json_value key)
{
	char *k = xmalloc(key.n - 1);
	size_t n = json_string_decode(key, k);
	char *p;

	for (size_t i = 0; i < n; i++)
		if (!k[i])
			k[i] = '?';
	p = xasprintf("%s.%.*s", path, (int)n, k);
	free(k);
	return p;
}

/* The member key of obj (absent: false). */
static bool get(json_value obj, const char *key, json_value *out)
{
	return json_object_get(obj, key, strlen(key), out);
}

/* The string j, decoded, owned by the context until the end of the parse;
 * an error at path when it holds U+0000 (a C string would end there). */
static bool string_value(struct ctx *c, json_value j, const char *path, const char **out)
{
	char *s = json_string_dup(j, NULL);

	*out = NULL;
	if (!s) {
		cerr(c, path, "must not contain a NUL character (\\u0000)");
		return false;
	}
	c->strings = xgrow(c->strings, c->nstrings + 1, &c->strings_alloc, sizeof(char *));
	c->strings[c->nstrings++] = s;
	*out = s;
	return true;
}

/* Does the string j begin with prefix? */
static bool string_starts(json_value j, const char *prefix)
{
	char *s = j.type == JSON_STRING ? json_string_dup(j, NULL) : NULL;
	bool yes = s && !strncmp(s, prefix, strlen(prefix));

	free(s);
	return yes;
}

/* Check that obj has only the allowed keys, each once. */
static bool check_keys(struct ctx *c, json_value obj, const char *path,
		       const char *const *allowed)
{
	bool seen[32] = { false };
	json_iter it;
	json_value k, v;
	bool ok = true;

	json_iter_init(&it, obj);
	while (json_iter_member(&it, &k, &v)) {
		size_t a = 0;
		char *p;

		while (allowed[a] && !json_string_equals(k, allowed[a], strlen(allowed[a])))
			a++;
		if (a >= sizeof(seen) / sizeof(seen[0]))
			die("check_keys: %zu keys allowed at '%s'", a, path);
		if (!allowed[a]) {
			p = member_path(path, k);
			cerr(c, p, "unknown key");
			free(p);
			ok = false;
			continue;
		}
		if (seen[a]) {
			p = member_path(path, k);
			cerr(c, p, "duplicate key");
			free(p);
			ok = false;
		}
		seen[a] = true;
	}
	return ok;
}

static bool get_string(struct ctx *c, json_value obj, const char *key,
		       const char *path, bool required, const char **out)
{
	json_value j;
	char *p;
	bool ok;

	*out = NULL;
	if (!get(obj, key, &j)) {
		if (required) {
			p = child_path(path, key);
			cerr(c, p, "missing (a string is required)");
			free(p);
			return false;
		}
		return true;
	}
	p = child_path(path, key);
	if (j.type != JSON_STRING) {
		cerr(c, p, "expected a string, found %s", type_name(j));
		free(p);
		return false;
	}
	ok = string_value(c, j, p, out);
	free(p);
	return ok;
}

static bool get_bool(struct ctx *c, json_value obj, const char *key,
		     const char *path, bool dflt, bool *out)
{
	json_value j;

	*out = dflt;
	if (!get(obj, key, &j))
		return true;
	if (j.type != JSON_TRUE && j.type != JSON_FALSE) {
		char *p = child_path(path, key);

		cerr(c, p, "expected true or false, found %s", type_name(j));
		free(p);
		return false;
	}
	*out = j.type == JSON_TRUE;
	return true;
}

/* An integer in [min, max] (in any notation: 5e6 is 5000000; exactly). */
static bool get_uint(struct ctx *c, json_value obj, const char *key,
		     const char *path, uint64_t min, uint64_t max, uint64_t dflt,
		     uint64_t *out)
{
	json_value j;
	char *p;
	uint64_t v;

	*out = dflt;
	if (!get(obj, key, &j))
		return true;
	p = child_path(path, key);
	if (j.type != JSON_NUMBER) {
		cerr(c, p, "expected an integer, found %s", type_name(j));
		free(p);
		return false;
	}
	if (!json_number_get_uint64(j, &v) || v < min || v > max) {
		cerr(c, p, "expected an integer from %llu to %llu",
		     (unsigned long long)min, (unsigned long long)max);
		free(p);
		return false;
	}
	*out = v;
	free(p);
	return true;
}

static char *resolve_dir(const char *base, const char *p);

static const char *const location_keys[] = {
	"url", "endpoint", "region", "profile", "path_style", "part_size",
	"multipart_threshold", "retries", "upload_streams", "credentials_file", NULL
};

struct s3_defaults {
	const char *endpoint, *region, *profile;
	int path_style;
	uint64_t part_size, multipart_threshold, retries, upload_streams;
};

/* part_size, multipart_threshold, retries, upload_streams of an object (s3
 * or a location): integers here (0 means unset in a location, so it is
 * refused); their ranges are each protocol's, checked by store_check */
static void parse_transfer_keys(struct ctx *c, json_value j, const char *path,
				struct s3_defaults *d)
{
	uint64_t v;

	if (get_uint(c, j, "part_size", path, 1, 1ull << 50, 0, &v) && v)
		d->part_size = v;
	if (get_uint(c, j, "multipart_threshold", path, 1, 1ull << 50, 0, &v) && v)
		d->multipart_threshold = v;
	if (get_uint(c, j, "retries", path, 1, 1u << 20, 0, &v) && v)
		d->retries = v;
	if (get_uint(c, j, "upload_streams", path, 1, 1u << 20, 0, &v) && v)
		d->upload_streams = v;
}

/* Whether check_s3_defaults told a fault of $.s3's key. */
static bool s3_told(const struct ctx *c, const char *key)
{
	const char *at = c->s3_told;
	size_t n = strlen(key);

	if (!n)
		return false;
	while ((at = strstr(at, key)))
		if (at[-1] == '|' && at[n] == '|')
			return true;
		else
			at += n;
	return false;
}

/*
 * What the store of loc would refuse (store_check: each protocol's limits,
 * names and endpoint form, checked in that one place), each fault told at
 * its JSON path: the location's own key, its url, or "$.s3.KEY" for a
 * setting it takes from $.s3, which is told once (by check_s3_defaults).
 */
static bool check_store(struct ctx *c, const location *loc, const char *path,
			bool object, json_value j)
{
	store_faults f = STORE_FAULTS_INIT;
	bool ok = store_check(loc, &f) == ES_OK;

	for (size_t i = 0; i < f.count; i++) {
		const char *key = f.items[i].key;
		bool from_s3 = false;
		json_value v;
		char *p;

		if (!strcmp(key, "url")) {
			p = object ? child_path(path, "url") : xstrdup(path);
		} else if (object && get(j, key, &v)) {
			p = child_path(path, key);
		} else if (loc->scheme != LOC_AZ && c->s3_keys_set && get(c->s3, key, &v)) {
			if (s3_told(c, key))
				continue;    /* $.s3's own fault: told once, at $.s3 */
			p = xstrdup(path);   /* $.s3's value, wrong for this location */
			from_s3 = true;
		} else {
			p = xstrdup(path);
		}
		if (from_s3)
			cerr(c, p, "%s (its %s is $.s3's)", f.items[i].message, key);
		else
			cerr(c, p, "%s", f.items[i].message);
		free(p);
	}
	store_faults_release(&f);
	if (!ok && !c->nerrors)      /* never refuse without saying where */
		cerr(c, path, "refused by its store");
	return ok;
}

/* $.s3's settings, checked as an s3:// location of theirs would be. */
static void check_s3_defaults(struct ctx *c, const struct s3_defaults *d)
{
	location l;
	buf err = BUF_INIT;
	store_faults f = STORE_FAULTS_INIT;

	if (location_parse("s3://bucket-of-the-defaults/", NULL, &l, &err) != ES_OK)
		die("s3 defaults: %s", err.data);
	l.endpoint = d->endpoint ? xstrdup(d->endpoint) : NULL;
	l.region = d->region ? xstrdup(d->region) : NULL;
	l.path_style = d->path_style;
	l.part_size = d->part_size;
	l.multipart_threshold = d->multipart_threshold;
	l.retries = (unsigned)d->retries;
	l.upload_streams = (unsigned)d->upload_streams;
	if (store_check(&l, &f) != ES_OK)
		for (size_t i = 0; i < f.count; i++) {
			char *p = child_path("$.s3", f.items[i].key);
			size_t len = strlen(c->s3_told);

			cerr(c, p, "%s", f.items[i].message);
			free(p);
			snprintf(c->s3_told + len, sizeof(c->s3_told) - len, "%s%s|",
				 len ? "" : "|", f.items[i].key);
		}
	store_faults_release(&f);
	location_release(&l);
	buf_release(&err);
}

/*
 * An az:// location takes none of the "s3" defaults (they are S3
 * settings): only its own url, endpoint, part_size, multipart_threshold,
 * retries, upload_streams and credentials_file; region, profile and
 * path_style are errors there.  credentials_file is for az:// only.
 */
static bool check_az_keys(struct ctx *c, json_value j, const char *path, bool az)
{
	static const char *const s3_only[] = { "region", "profile", "path_style", NULL };
	json_value v;
	bool ok = true;

	for (size_t i = 0; az && s3_only[i]; i++)
		if (get(j, s3_only[i], &v)) {
			char *p = child_path(path, s3_only[i]);

			cerr(c, p, "not used by az:// locations");
			free(p);
			ok = false;
		}
	if (!az && get(j, "credentials_file", &v)) {
		char *p = child_path(path, "credentials_file");

		cerr(c, p, "only az:// locations have a credentials_file");
		free(p);
		ok = false;
	}
	return ok;
}

static bool parse_location(struct ctx *c, json_value j, const char *path,
			   const struct s3_defaults *s3_dflt, location *out)
{
	static const struct s3_defaults none = { NULL, NULL, NULL, -1, 0, 0, 0, 0 };
	json_value u = j;
	bool az;
	const struct s3_defaults *dflt;
	const char *url = NULL, *endpoint, *region, *profile, *cred_file = NULL;
	int path_style;
	struct s3_defaults xfer;
	buf err = BUF_INIT;
	bool ok = true;

	if (j.type == JSON_OBJECT && !get(j, "url", &u))
		u.type = 0;
	az = string_starts(u, "az://");
	dflt = az ? &none : s3_dflt;
	endpoint = dflt->endpoint;
	region = dflt->region;
	profile = dflt->profile;
	path_style = dflt->path_style;
	xfer = *dflt;
	if (j.type == JSON_STRING) {
		if (!string_value(c, j, path, &url))
			return false;
	} else if (j.type == JSON_OBJECT) {
		const char *s;
		json_value v;
		bool b;

		ok &= check_keys(c, j, path, location_keys);
		ok &= check_az_keys(c, j, path, az);
		ok &= get_string(c, j, "url", path, true, &url);
		if (get_string(c, j, "credentials_file", path, false, &s) && s) {
			if (*s) {
				cred_file = s;
			} else {
				char *p = child_path(path, "credentials_file");

				cerr(c, p, "must not be empty");
				free(p);
				ok = false;
			}
		}
		if (get_string(c, j, "endpoint", path, false, &s) && s)
			endpoint = s;
		if (get_string(c, j, "region", path, false, &s) && s)
			region = s;
		if (get_string(c, j, "profile", path, false, &s) && s)
			profile = s;
		if (get(j, "path_style", &v)) {
			ok &= get_bool(c, j, "path_style", path, false, &b);
			path_style = b;
		}
		parse_transfer_keys(c, j, path, &xfer);
	} else {
		cerr(c, path, "expected a URL string or an object with \"url\", found %s",
		     type_name(j));
		return false;
	}
	if (!url)
		return false;
	if (location_parse(url, c->base_dir, out, &err) != ES_OK) {
		char *p = j.type == JSON_OBJECT ? child_path(path, "url") : xstrdup(path);

		cerr(c, p, "%s", err.data);
		free(p);
		buf_release(&err);
		return false;
	}
	if (endpoint)
		out->endpoint = xstrdup(endpoint);
	out->region = region ? xstrdup(region) : NULL;
	out->profile = profile ? xstrdup(profile) : NULL;
	out->path_style = path_style;
	out->part_size = xfer.part_size;
	out->multipart_threshold = xfer.multipart_threshold;
	out->retries = (unsigned)xfer.retries;
	out->upload_streams = (unsigned)xfer.upload_streams;
	if (cred_file)
		out->credentials_file = resolve_dir(c->base_dir, cred_file);
	return check_store(c, out, path, j.type == JSON_OBJECT, j) && ok;
}

static const char *const top_keys[] = {
	"state_dir", "s3", "direct_subscribers", "additional_subscribers",
	"max_line_bytes", "max_json_depth", "lookback", "max_attempts",
	"quarantine_retention", "max_file_bytes", "max_inflate_ratio",
	"quarantine_line_bytes", "max_quarantine_per_file", "max_quarantine_per_run",
	"max_list_keys", "max_list_pages", "object_timeout", "run_timeout", NULL
};
static const char *const s3_keys[] = {
	"region", "endpoint", "path_style", "profile", "part_size",
	"multipart_threshold", "retries", "upload_streams", NULL
};
static const char *const direct_keys[] = { "org_id", "source", NULL };
static const char *const additional_keys[] = {
	"org_id", "links", "filter", "destination", "key_format", "dedup",
	"max_object_bytes", "compression_level", NULL
};

static bool parse_org_id(struct ctx *c, json_value obj, const char *path,
			 const char **out)
{
	if (!get_string(c, obj, "org_id", path, true, out))
		return false;
	if (!org_id_is_valid(*out)) {
		char *p = child_path(path, "org_id");

		cerr(c, p, "'%s' is not a valid org_id (1 to 128 of A-Z a-z 0-9 . _ -)",
		     *out);
		free(p);
		return false;
	}
	return true;
}

static void parse_direct(struct ctx *c, config *cfg, json_value arr,
			 const struct s3_defaults *dflt)
{
	size_t i = 0;
	json_iter it;
	json_value el;

	cfg->direct = xcalloc(json_count(arr), sizeof(*cfg->direct));
	json_iter_init(&it, arr);
	while (json_iter_element(&it, &el)) {
		char *path = index_path("$.direct_subscribers", i++);
		direct_subscriber *d = &cfg->direct[cfg->ndirect];
		const char *org = NULL;
		json_value src;

		if (el.type != JSON_OBJECT) {
			cerr(c, path, "expected an object, found %s", type_name(el));
			free(path);
			continue;
		}
		check_keys(c, el, path, direct_keys);
		if (parse_org_id(c, el, path, &org)) {
			if (config_direct_index(cfg, org) >= 0) {
				char *p = child_path(path, "org_id");

				cerr(c, p, "duplicate org_id '%s'", org);
				free(p);
			}
		}
		if (!get(el, "source", &src)) {
			char *p = child_path(path, "source");

			cerr(c, p, "missing (the location of this subscriber's event files)");
			free(p);
		} else {
			char *p = child_path(path, "source");

			if (!parse_location(c, src, p, dflt, &d->source))
				location_release(&d->source);
			free(p);
		}
		d->org_id = xstrdup(org ? org : "");
		cfg->ndirect++;
		free(path);
	}
}

/* The filter is compiled from its text as written, a span of the config:
 * 9007199254740993 stays itself and 1e400 a number. */
static void parse_filter(struct ctx *c, additional_subscriber *a, json_value obj,
			 const char *path)
{
	json_value f;
	buf err = BUF_INIT;

	if (!get(obj, "filter", &f) || f.type == JSON_NULL)
		return;
	if (filter_compile(f.p, f.n, path, &a->filter, &err) != ES_OK) {
		/* filter errors carry their own path */
		size_t start = c->err->len, len = err.len;

		while (len && err.data[len - 1] == '\n')
			len--;
		c->nerrors++;
		buf_add(c->err, err.data, len);
		end_error_line(c->err, start);
	}
	buf_release(&err);
}

/* $.additional_subscribers[i].links: direct subscribers' org_ids, each once */
static void parse_links(struct ctx *c, config *cfg, additional_subscriber *a,
			json_value obj, const char *path)
{
	json_value links, l;
	json_iter it;
	size_t j = 0;

	if (!get(obj, "links", &links) || links.type != JSON_ARRAY || !json_count(links)) {
		char *p = child_path(path, "links");

		cerr(c, p, "expected a non-empty array of direct subscribers' org_ids");
		free(p);
		return;
	}
	a->links = xcalloc(json_count(links), sizeof(size_t));
	json_iter_init(&it, links);
	while (json_iter_element(&it, &l)) {
		char *lp = xasprintf("%s.links[%zu]", path, j++);
		const char *org;
		ssize_t idx;

		if (l.type != JSON_STRING) {
			cerr(c, lp, "expected an org_id string, found %s", type_name(l));
		} else if (!string_value(c, l, lp, &org)) {
			/* told */
		} else if ((idx = config_direct_index(cfg, org)) < 0) {
			cerr(c, lp, "unknown org_id '%s': not among direct_subscribers", org);
		} else {
			bool dup = false;

			for (size_t k = 0; k < a->nlinks; k++)
				dup |= a->links[k] == (size_t)idx;
			if (dup)
				cerr(c, lp, "'%s' is linked twice", org);
			else
				a->links[a->nlinks++] = (size_t)idx;
		}
		free(lp);
	}
}

static void parse_additional(struct ctx *c, config *cfg, json_value arr,
			     const struct s3_defaults *dflt)
{
	size_t i = 0;
	json_iter it;
	json_value el;

	cfg->additional = xcalloc(json_count(arr), sizeof(*cfg->additional));
	json_iter_init(&it, arr);
	while (json_iter_element(&it, &el)) {
		char *path = index_path("$.additional_subscribers", i++);
		additional_subscriber *a = &cfg->additional[cfg->nadditional];
		const char *org = NULL, *kf = NULL;
		json_value dest;
		uint64_t v;

		a->compression_level = 5;
		a->dedup = true;
		a->max_object_bytes = DEFAULT_MAX_OBJECT_BYTES;
		if (el.type != JSON_OBJECT) {
			cerr(c, path, "expected an object, found %s", type_name(el));
			a->org_id = xstrdup("");
			cfg->nadditional++;
			free(path);
			continue;
		}
		check_keys(c, el, path, additional_keys);
		if (parse_org_id(c, el, path, &org)) {
			if (config_additional_index(cfg, org) >= 0) {
				char *p = child_path(path, "org_id");

				cerr(c, p, "duplicate org_id '%s'", org);
				free(p);
			}
		}
		a->org_id = xstrdup(org ? org : "");
		cfg->nadditional++;

		parse_links(c, cfg, a, el, path);
		{
			char *p = child_path(path, "filter");

			parse_filter(c, a, el, p);
			free(p);
		}
		if (!get(el, "destination", &dest)) {
			char *p = child_path(path, "destination");

			cerr(c, p, "missing (where this subscriber's output files go)");
			free(p);
		} else {
			char *p = child_path(path, "destination");

			if (!parse_location(c, dest, p, dflt, &a->destination))
				location_release(&a->destination);
			free(p);
		}
		if (get_string(c, el, "key_format", path, false, &kf)) {
			buf err = BUF_INIT;

			a->key_format_text = xstrdup(kf ? kf : KEYFMT_DEFAULT);
			if (keyfmt_compile(a->key_format_text, &a->key_format, &err) != ES_OK) {
				char *p = child_path(path, "key_format");

				cerr(c, p, "%s", err.data);
				free(p);
			}
			buf_release(&err);
		}
		get_bool(c, el, "dedup", path, true, &a->dedup);
		if (get_uint(c, el, "max_object_bytes", path, 1024, 5ull << 40,
			     DEFAULT_MAX_OBJECT_BYTES, &v))
			a->max_object_bytes = v;
		if (get_uint(c, el, "compression_level", path, 1, 9, 5, &v))
			a->compression_level = (int)v;
		free(path);
	}
}

static char *resolve_dir(const char *base, const char *p)
{
	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s/%s", base, p);
}

/* A key for a message about loc: a URL (file: keys are absolute paths). */
static char *space_url(const location *loc, const char *key)
{
	if (loc->scheme == LOC_FILE)
		return xasprintf("file://%s", key);
	return location_key_url(loc, key);
}

/* Could the outputs of a and b share an object key?  (Same store, nested
 * spaces, and key formats that can render the same key.) */
static void check_output_keys(struct ctx *c, const config *cfg, size_t ai, size_t bi)
{
	const additional_subscriber *a = &cfg->additional[ai], *b = &cfg->additional[bi];
	const char **srca = xcalloc(a->nlinks + 1, sizeof(char *));
	const char **srcb = xcalloc(b->nlinks + 1, sizeof(char *));
	char *pa = location_space(&a->destination), *pb = location_space(&b->destination);
	keyfmt_space sa = { pa, a->key_format, a->org_id, srca, a->nlinks };
	keyfmt_space sb = { pb, b->key_format, b->org_id, srcb, b->nlinks };
	buf ex = BUF_INIT;

	for (size_t i = 0; i < a->nlinks; i++)
		srca[i] = cfg->direct[a->links[i]].org_id;
	for (size_t i = 0; i < b->nlinks; i++)
		srcb[i] = cfg->direct[b->links[i]].org_id;
	if (keyfmt_spaces_meet(&sa, &sb, &ex)) {
		char *path = xasprintf("$.additional_subscribers[%zu].key_format", bi);
		char *url = space_url(&b->destination, ex.data ? ex.data : "");

		cerr(c, path, "'%s' under '%s' can produce the same object keys as the "
		     "outputs of '%s' ($.additional_subscribers[%zu]), such as '%s': one "
		     "partner's objects would replace the other's; put {subscriber} in the "
		     "key_format or give each subscriber a destination of its own",
		     b->key_format_text, b->destination.url, a->org_id, ai, url);
		free(url);
		free(path);
	}
	buf_release(&ex);
	free(pa);
	free(pb);
	free(srca);
	free(srcb);
}

/*
 * Locations that touch each other (evshare.json(5), "Locations that
 * overlap"): two sources, or a source and a destination, that share
 * objects; two destinations whose key formats can make the same key; a
 * state directory inside a file: location or holding one.  Run once every
 * location parsed.
 */
/* Does one space start with the other (or are they equal)? */
static bool nested(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	return !strncmp(a, b, na < nb ? na : nb);
}

static void check_overlaps(struct ctx *c, const config *cfg)
{
	size_t n = cfg->ndirect + cfg->nadditional;
	const location **locs = xcalloc(n + 1, sizeof(*locs));
	char **space = xcalloc(n + 1, sizeof(*space)), ***literal;
	size_t *nliteral;
	location state;
	buf err = BUF_INIT;
	bool have_state;

	/* every location's space once: a config of thousands of subscribers
	 * compares millions of pairs */
	for (size_t i = 0; i < n; i++) {
		locs[i] = i < cfg->ndirect ? &cfg->direct[i].source
					   : &cfg->additional[i - cfg->ndirect].destination;
		space[i] = location_space(locs[i]);
	}
	/* what every key of each subscriber starts with: most pairs in one
	 * bucket differ there, and need no closer look */
	literal = xcalloc(cfg->nadditional + 1, sizeof(*literal));
	nliteral = xcalloc(cfg->nadditional + 1, sizeof(*nliteral));
	for (size_t a = 0; a < cfg->nadditional; a++) {
		const additional_subscriber *sub = &cfg->additional[a];
		const char **srcs = xcalloc(sub->nlinks + 1, sizeof(char *));
		keyfmt_space ks = { space[cfg->ndirect + a], sub->key_format, sub->org_id,
				    srcs, sub->nlinks };

		for (size_t i = 0; i < sub->nlinks; i++)
			srcs[i] = cfg->direct[sub->links[i]].org_id;
		nliteral[a] = keyfmt_space_literals(&ks, &literal[a]);
		free(srcs);
	}
#define OVERLAP(i, k) (location_same_store(locs[i], locs[k]) && nested(space[i], space[k]))
	for (size_t j = 0; j < cfg->ndirect; j++)
		for (size_t i = 0; i < j; i++)
			if (OVERLAP(i, j)) {
				char *p = xasprintf("$.direct_subscribers[%zu].source", j);

				cerr(c, p, "'%s' overlaps the source of '%s' ('%s'): the same "
				     "files would be read for two organisations; give each "
				     "direct subscriber a prefix of its own",
				     cfg->direct[j].source.url, cfg->direct[i].org_id,
				     cfg->direct[i].source.url);
				free(p);
			}
	for (size_t a = 0; a < cfg->nadditional; a++) {
		size_t ia = cfg->ndirect + a;
		const location *dest = locs[ia];

		for (size_t s = 0; s < cfg->ndirect; s++)
			if (OVERLAP(ia, s)) {
				char *p = xasprintf("$.additional_subscribers[%zu].destination", a);

				cerr(c, p, "'%s' overlaps the source of '%s' ('%s'): outputs "
				     "would be read back as events; put outputs outside every "
				     "source", dest->url, cfg->direct[s].org_id,
				     cfg->direct[s].source.url);
				free(p);
			}
		for (size_t b = 0; b < a; b++)
			if (OVERLAP(cfg->ndirect + b, ia) &&
			    keyfmt_literals_meet(literal[b], nliteral[b], literal[a], nliteral[a]))
				check_output_keys(c, cfg, b, a);
	}
#undef OVERLAP
	{
		char *url = xasprintf("file://%s", cfg->state_dir);

		have_state = location_parse(url, NULL, &state, &err) == ES_OK;
		free(url);
		buf_release(&err);
	}
	for (size_t i = 0; have_state && i < n; i++) {
		bool direct = i < cfg->ndirect;

		if (!location_overlap(&state, locs[i]))
			continue;
		cerr(c, "$.state_dir", "'%s' overlaps '%s' ($.%s[%zu].%s): keep the state "
		     "directory outside every source and destination", cfg->state_dir,
		     locs[i]->url, direct ? "direct_subscribers" : "additional_subscribers",
		     direct ? i : i - cfg->ndirect, direct ? "source" : "destination");
	}
	if (have_state)
		location_release(&state);
	for (size_t i = 0; i < n; i++)
		free(space[i]);
	for (size_t a = 0; a < cfg->nadditional; a++) {
		for (size_t k = 0; k < nliteral[a]; k++)
			free(literal[a][k]);
		free(literal[a]);
	}
	free(literal);
	free(nliteral);
	free(space);
	free(locs);
}

/* A duration of at least min_ms and at most MAX_TIMEOUT_MS. */
static void get_timeout(struct ctx *c, json_value root, const char *key, int64_t min_ms,
			const char *min_text, int64_t dflt, int64_t *out)
{
	const char *v = NULL;

	*out = dflt;
	if (!get_string(c, root, key, "$", false, &v) || !v)
		return;
	if (!duration_parse(v, out) || *out < min_ms || *out > MAX_TIMEOUT_MS) {
		char *p = child_path("$", key);

		cerr(c, p, "'%s' is not a duration from %s to 30 days (like \"90m\", "
		     "\"6h\")", v, min_text);
		free(p);
		*out = dflt;
	}
}

/*
 * The bounds on what one file, one listing, one transfer and one run may
 * cost (evshare.json(5), LIMITS).  The listing and transfer bounds are
 * copied into every location, where the stores read them.
 */
static void parse_limits(struct ctx *c, json_value root, config *cfg)
{
	uint64_t keys, pages;
	int64_t object_ms;

	get_uint(c, root, "max_file_bytes", "$", 1ull << 20, 1ull << 50,
		 DEFAULT_MAX_FILE_BYTES, &cfg->max_file_bytes);
	get_uint(c, root, "max_inflate_ratio", "$", 2, 100000, DEFAULT_MAX_INFLATE_RATIO,
		 &cfg->max_inflate_ratio);
	get_uint(c, root, "quarantine_line_bytes", "$", 256, 1ull << 30,
		 DEFAULT_QUARANTINE_LINE_BYTES, &cfg->quarantine_line_bytes);
	get_uint(c, root, "max_quarantine_per_file", "$", 64u << 10, 1ull << 50,
		 DEFAULT_MAX_QUARANTINE_PER_FILE, &cfg->max_quarantine_per_file);
	get_uint(c, root, "max_quarantine_per_run", "$", 64u << 10, 1ull << 50,
		 DEFAULT_MAX_QUARANTINE_PER_RUN, &cfg->max_quarantine_per_run);
	if (cfg->max_quarantine_per_run < cfg->max_quarantine_per_file)
		cerr(c, "$.max_quarantine_per_run", "%llu is less than max_quarantine_per_file "
		     "(%llu): a run must have room for one file's quarantine",
		     (unsigned long long)cfg->max_quarantine_per_run,
		     (unsigned long long)cfg->max_quarantine_per_file);
	get_uint(c, root, "max_list_keys", "$", 1000, 1ull << 32,
		 LOCATION_DEFAULT_MAX_LIST_KEYS, &keys);
	get_uint(c, root, "max_list_pages", "$", 10, 1ull << 32,
		 LOCATION_DEFAULT_MAX_LIST_PAGES, &pages);
	get_timeout(c, root, "object_timeout", 1000, "a second",
		    LOCATION_DEFAULT_OBJECT_TIMEOUT_MS, &object_ms);
	cfg->object_timeout_ms = object_ms;
	get_timeout(c, root, "run_timeout", 1000, "a second", DEFAULT_RUN_TIMEOUT_MS,
		    &cfg->run_timeout_ms);
	for (size_t i = 0; i < cfg->ndirect; i++) {
		cfg->direct[i].source.max_list_keys = keys;
		cfg->direct[i].source.max_list_pages = pages;
		cfg->direct[i].source.object_timeout_ms = object_ms;
	}
	for (size_t i = 0; i < cfg->nadditional; i++) {
		cfg->additional[i].destination.max_list_keys = keys;
		cfg->additional[i].destination.max_list_pages = pages;
		cfg->additional[i].destination.object_timeout_ms = object_ms;
	}
}

static void strings_free(struct ctx *c)
{
	for (size_t i = 0; i < c->nstrings; i++)
		free(c->strings[i]);
	free(c->strings);
}

es_result config_parse(const char *text, size_t n, const char *origin,
		       const char *base_dir, config **out, buf *err)
{
	struct ctx c = { .err = err, .base_dir = base_dir };
	json_value root, j;
	json_error jerr;
	config *cfg = xcalloc(1, sizeof(*cfg));
	struct s3_defaults dflt = { NULL, NULL, NULL, -1, 0, 0, 0, 0 };
	uint64_t v;

	*out = NULL;
	cfg->path = xstrdup(origin);
	cfg->dir = xstrdup(base_dir);
	cfg->text = xstrndup(text, n);
	cfg->text_len = n;
	/* RFC 8259 and UTF-8, as evshare.json(5) says (no control character:
	 * NUL neither, or the text kept for the journal would end there) */
	if (!json_parse(text, n, CONFIG_MAX_DEPTH, &root, &jerr)) {
		size_t line = 1, col = 1;

		for (size_t i = 0; i < jerr.offset && i < n; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		cerr(&c, "$", "invalid JSON near line %zu, column %zu: %s", line, col,
		     jerr.reason);
		goto fail;
	}
	if (root.type != JSON_OBJECT) {
		cerr(&c, "$", "expected an object, found %s", type_name(root));
		goto fail;
	}
	check_keys(&c, root, "$", top_keys);

	if (get(root, "s3", &j)) {
		if (j.type != JSON_OBJECT) {
			cerr(&c, "$.s3", "expected an object, found %s", type_name(j));
		} else {
			json_value ps;
			bool b;

			check_keys(&c, j, "$.s3", s3_keys);
			get_string(&c, j, "region", "$.s3", false, &dflt.region);
			get_string(&c, j, "endpoint", "$.s3", false, &dflt.endpoint);
			get_string(&c, j, "profile", "$.s3", false, &dflt.profile);
			if (get(j, "path_style", &ps) &&
			    get_bool(&c, j, "path_style", "$.s3", false, &b))
				dflt.path_style = b;
			parse_transfer_keys(&c, j, "$.s3", &dflt);
			c.s3 = j;
			c.s3_keys_set = true;
			check_s3_defaults(&c, &dflt);
		}
	}
	{
		const char *sd = NULL;

		get_string(&c, root, "state_dir", "$", false, &sd);
		if (sd && !*sd)
			cerr(&c, "$.state_dir", "must not be empty");
		cfg->state_dir = resolve_dir(base_dir, sd && *sd ? sd : "/var/lib/evshare");
	}
	if (!get(root, "direct_subscribers", &j))
		cerr(&c, "$.direct_subscribers", "missing");
	else if (j.type != JSON_ARRAY)
		cerr(&c, "$.direct_subscribers", "expected an array");
	else
		parse_direct(&c, cfg, j, &dflt);
	if (!get(root, "additional_subscribers", &j))
		cerr(&c, "$.additional_subscribers", "missing");
	else if (j.type != JSON_ARRAY)
		cerr(&c, "$.additional_subscribers", "expected an array");
	else
		parse_additional(&c, cfg, j, &dflt);

	for (size_t i = 0; i < cfg->ndirect; i++)
		if (config_additional_index(cfg, cfg->direct[i].org_id) >= 0) {
			char *p = xasprintf("$.direct_subscribers[%zu].org_id", i);

			cerr(&c, p, "'%s' is also an additional subscriber; an org_id names "
			     "one or the other", cfg->direct[i].org_id);
			free(p);
		}

	get_uint(&c, root, "max_line_bytes", "$", 64, 1ull << 30, DEFAULT_MAX_LINE_BYTES, &v);
	cfg->max_line_bytes = v;
	get_uint(&c, root, "max_json_depth", "$", 2, 1024, 64, &v);
	cfg->max_json_depth = (unsigned)v;
	get_uint(&c, root, "max_attempts", "$", 1, 1000, 3, &v);
	cfg->max_attempts = (unsigned)v;
	cfg->lookback_ms = DEFAULT_LOOKBACK_MS;
	{
		const char *lb = NULL, *qr = NULL;

		if (get_string(&c, root, "lookback", "$", false, &lb) && lb &&
		    (!duration_parse(lb, &cfg->lookback_ms) || cfg->lookback_ms < 60000))
			cerr(&c, "$.lookback", "'%s' is not a duration of at least a minute "
			     "(like \"90m\", \"36h\", \"7d\")", lb);
		cfg->quarantine_retention_ms = DEFAULT_QUARANTINE_RETENTION_MS;
		if (get_string(&c, root, "quarantine_retention", "$", false, &qr) && qr &&
		    (!duration_parse(qr, &cfg->quarantine_retention_ms) ||
		     cfg->quarantine_retention_ms < 3600000))
			cerr(&c, "$.quarantine_retention", "'%s' is not a duration of at "
			     "least an hour (like \"30d\")", qr);
	}
	parse_limits(&c, root, cfg);
	if (c.nerrors)
		goto fail;
	check_overlaps(&c, cfg);
	if (c.nerrors)
		goto fail;
	strings_free(&c);
	*out = cfg;
	return ES_OK;
fail:
	if (c.nerrors > 50)
		buf_printf(err, "(%u more errors)\n", c.nerrors - 50);
	strings_free(&c);
	config_free(cfg);
	return ES_ERR_CONFIG;
}

es_result config_load(const char *path, config **out)
{
	buf text = BUF_INIT, err = BUF_INIT;
	char *dir, *slash;
	es_result r;


	*out = NULL;
	if (read_file(path, &text, CONFIG_MAX_BYTES) < 0) {
		r = es_error(ES_ERR_CONFIG, "cannot read config '%s': %s", path,
			     errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
		buf_release(&text);
		return r;
	}
	/* relative paths in the config are relative to its real directory */
	{
		char *copy = xstrdup(path), *real;

		slash = strrchr(copy, '/');
		if (!slash)
			real = realpath(".", NULL);
		else if (slash == copy)
			real = realpath("/", NULL);
		else {
			*slash = '\0';
			real = realpath(copy, NULL);
		}
		free(copy);
		if (!real) {
			r = es_error(ES_ERR_CONFIG, "cannot resolve the directory of config "
				     "'%s': %s", path, strerror(errno));
			buf_release(&text);
			return r;
		}
		dir = xstrdup(real);
		free(real);
	}
	r = config_parse(text.data, text.len, path, dir, out, &err);
	if (r != ES_OK) {
		/* one log line per error */
		char *line = err.data;

		while (line && *line) {
			char *nl = strchr(line, '\n');

			if (nl)
				*nl = '\0';
			error("config '%s': %s", path, line);
			line = nl ? nl + 1 : NULL;
		}
	}
	free(dir);
	buf_release(&text);
	buf_release(&err);
	return r;
}

void config_free(config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ndirect; i++) {
		free(c->direct[i].org_id);
		location_release(&c->direct[i].source);
	}
	free(c->direct);
	for (size_t i = 0; i < c->nadditional; i++) {
		additional_subscriber *a = &c->additional[i];

		free(a->org_id);
		free(a->links);
		filter_free(a->filter);
		location_release(&a->destination);
		free(a->key_format_text);
		keyfmt_free(a->key_format);
	}
	free(c->additional);
	free(c->path);
	free(c->dir);
	free(c->text);
	free(c->state_dir);
	free(c);
}

void config_set_destination(config *c, size_t a, const location *loc)
{
	location_release(&c->additional[a].destination);
	location_copy(&c->additional[a].destination, loc);
}

ssize_t config_direct_index(const config *c, const char *org_id)
{
	for (size_t i = 0; i < c->ndirect; i++)
		if (c->direct[i].org_id && !strcmp(c->direct[i].org_id, org_id))
			return (ssize_t)i;
	return -1;
}

ssize_t config_additional_index(const config *c, const char *org_id)
{
	for (size_t i = 0; i < c->nadditional; i++)
		if (c->additional[i].org_id && !strcmp(c->additional[i].org_id, org_id))
			return (ssize_t)i;
	return -1;
}
