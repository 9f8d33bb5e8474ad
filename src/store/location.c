/*
 * location.c - the location type: parsing a location URL, copying and
 * comparing locations, the URL of a key in one, and which keys are safe.
 * It calls nothing else of the storage wing: store.c, open.c and the
 * backends call it.  See store.h.
 */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void location_zero(location *l)
{
	memset(l, 0, sizeof(*l));
	l->path_style = -1;
}

void location_release(location *l)
{
	free(l->url);
	free(l->root);
	free(l->bucket);
	free(l->account);
	free(l->prefix);
	free(l->endpoint);
	free(l->region);
	free(l->profile);
	free(l->credentials_file);
	location_zero(l);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void location_copy(location *d, const location *s)
{
	d->url = dup_or_null(s->url);
	d->scheme = s->scheme;
	d->root = dup_or_null(s->root);
	d->bucket = dup_or_null(s->bucket);
	d->account = dup_or_null(s->account);
	d->prefix = dup_or_null(s->prefix);
	d->endpoint = dup_or_null(s->endpoint);
	d->region = dup_or_null(s->region);
	d->profile = dup_or_null(s->profile);
	d->path_style = s->path_style;
	d->part_size = s->part_size;
	d->multipart_threshold = s->multipart_threshold;
	d->retries = s->retries;
	d->upload_streams = s->upload_streams;
	d->credentials_file = dup_or_null(s->credentials_file);
	d->max_list_keys = s->max_list_keys;
	d->max_list_pages = s->max_list_pages;
	d->object_timeout_ms = s->object_timeout_ms;
}

char *location_space(const location *l)
{
	if (l->scheme == LOC_FILE)
		return xasprintf("%s/", strcmp(l->root, "/") ? l->root : "");
	return xstrdup(l->prefix ? l->prefix : "");
}

/* Endpoints compared without case and a final '/'. */
static bool same_endpoint(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);

	while (na && a[na - 1] == '/')
		na--;
	while (nb && b[nb - 1] == '/')
		nb--;
	return na == nb && !strncasecmp(a, b, na);
}

bool location_same_store(const location *a, const location *b)
{
	bool s3ish_a = a->scheme == LOC_S3 || a->scheme == LOC_GS;
	bool s3ish_b = b->scheme == LOC_S3 || b->scheme == LOC_GS;

	if (a->scheme == LOC_FILE || b->scheme == LOC_FILE)
		return a->scheme == b->scheme;
	if (a->scheme != b->scheme && !(s3ish_a && s3ish_b && a->endpoint && b->endpoint))
		return false;
	if (a->endpoint && b->endpoint && !same_endpoint(a->endpoint, b->endpoint))
		return false;
	if (a->scheme == LOC_AZ && strcmp(a->account, b->account))
		return false;
	return !strcmp(a->bucket, b->bucket);
}

bool location_overlap(const location *a, const location *b)
{
	char *sa, *sb;
	bool nested;

	if (!location_same_store(a, b))
		return false;
	sa = location_space(a);
	sb = location_space(b);
	nested = !strncmp(sa, sb, strlen(sa)) || !strncmp(sb, sa, strlen(sb));
	free(sa);
	free(sb);
	return nested;
}

/* Normalise an absolute directory path lexically: collapse "//" and "/./",
 * resolve "..".  False if ".." would climb above "/". */
static bool clean_dir(const char *in, buf *out)
{
	const char *p = in;

	while (*p) {
		const char *seg = p;
		size_t n;

		while (*p && *p != '/')
			p++;
		n = (size_t)(p - seg);
		if (*p == '/')
			p++;
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			char *slash;

			if (!out->len)
				return false;
			slash = strrchr(out->data, '/');
			out->len = (size_t)(slash - out->data);
			out->data[out->len] = '\0';
			continue;
		}
		buf_addch(out, '/');
		buf_add(out, seg, n);
	}
	if (!out->len)
		buf_addch(out, '/');
	return true;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static es_result parse_file_url(const char *url, const char *rest,
				const char *base_dir, location *out, buf *err)
{
	buf path = BUF_INIT, clean = BUF_INIT;

	if (!strncmp(rest, "//", 2)) {
		rest += 2;
		if (*rest != '/') {
			buf_printf(err, "'%s': a file URL is file:///absolute/dir/ "
				   "or file:relative/dir/ (no host)", url);
			return ES_ERR_CONFIG;
		}
		buf_addstr(&path, rest);
	} else if (*rest == '/') {
		buf_addstr(&path, rest);
	} else {
		if (!*rest) {
			buf_printf(err, "'%s': empty path", url);
			return ES_ERR_CONFIG;
		}
		buf_printf(&path, "%s/%s", base_dir ? base_dir : ".", rest);
	}
	if (!clean_dir(path.data, &clean)) {
		buf_printf(err, "'%s': '..' climbs above the root directory", url);
		buf_release(&path);
		buf_release(&clean);
		return ES_ERR_CONFIG;
	}
	out->scheme = LOC_FILE;
	out->root = buf_detach(&clean, NULL);
	out->prefix = xstrdup("");
	out->url = xasprintf("file://%s%s", out->root,
			     strcmp(out->root, "/") ? "/" : "");
	buf_release(&path);
	return ES_OK;
}

/* A prefix ("a/b/") is safe when it is a safe key but for its final '/'. */
static bool prefix_is_safe(const char *prefix)
{
	char *p = xstrndup(prefix, strlen(prefix) - 1);
	bool ok = store_key_is_safe(p);

	free(p);
	return ok;
}

/* bucket/prefix... of s3://, gs://; account/container/prefix of az:// */
static es_result parse_bucket_url(const char *url, const char *scheme_name,
				  const char *rest, location *out, buf *err)
{
	const char *slash = strchr(rest, '/');
	const char *prefix, *query = strchr(url, '?');
	size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);

	if (query) {
		/* a pasted SAS or presigned URL: its signature is not repeated
		 * here, this message goes to logs */
		buf_printf(err, "'%.*s?...': a location takes no query; %s go%s in %s, "
			   "never in the URL (and a prefix cannot hold '?')",
			   (int)(query - url), url,
			   out->scheme == LOC_AZ ? "a SAS token" : "credentials",
			   out->scheme == LOC_AZ ? "es" : "",
			   out->scheme == LOC_AZ ? "credentials_file or AZURE_STORAGE_SAS_TOKEN"
						 : "the environment or a credentials file");
		return ES_ERR_CONFIG;
	}
	if (blen == 0) {
		buf_printf(err, "'%s': missing %s", url,
			   out->scheme == LOC_AZ ? "account" : "bucket");
		return ES_ERR_CONFIG;
	}
	if (out->scheme == LOC_AZ) {
		const char *c = slash ? slash + 1 : "";
		const char *cs = strchr(c, '/');
		size_t clen = cs ? (size_t)(cs - c) : strlen(c);

		if (clen == 0) {
			buf_printf(err, "'%s': missing container (az://ACCOUNT/CONTAINER/prefix/)",
				   url);
			return ES_ERR_CONFIG;
		}
		out->account = xstrndup(rest, blen);
		out->bucket = xstrndup(c, clen);
		prefix = cs ? cs + 1 : "";
	} else {
		for (size_t i = 0; i < blen; i++) {
			char c = rest[i];

			if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			      c == '-' || c == '.' || c == '_')) {
				buf_printf(err, "'%s': invalid bucket name", url);
				return ES_ERR_CONFIG;
			}
		}
		out->bucket = xstrndup(rest, blen);
		prefix = slash ? slash + 1 : "";
	}
	if (*prefix && prefix[strlen(prefix) - 1] != '/')
		out->prefix = xasprintf("%s/", prefix);
	else
		out->prefix = xstrdup(prefix);
	if (*out->prefix && !prefix_is_safe(out->prefix)) {
		buf_printf(err, "'%s': the prefix must not contain empty, '.' or '..' "
			   "segments or control characters", url);
		return ES_ERR_CONFIG;
	}
	if (out->scheme == LOC_AZ)
		out->url = xasprintf("%s://%s/%s/%s", scheme_name, out->account,
				     out->bucket, out->prefix);
	else
		out->url = xasprintf("%s://%s/%s", scheme_name, out->bucket, out->prefix);
	return ES_OK;
}

es_result location_parse(const char *url, const char *base_dir, location *out,
			 buf *err)
{
	es_result r;

	location_zero(out);
	if (has_ctl(url)) {
		buf_printf(err, "control character in location");
		return ES_ERR_CONFIG;
	}
	if (!strncmp(url, "file:", 5)) {
		r = parse_file_url(url, url + 5, base_dir, out, err);
	} else if (!strncmp(url, "s3://", 5)) {
		out->scheme = LOC_S3;
		r = parse_bucket_url(url, "s3", url + 5, out, err);
	} else if (!strncmp(url, "gs://", 5)) {
		out->scheme = LOC_GS;
		r = parse_bucket_url(url, "gs", url + 5, out, err);
	} else if (!strncmp(url, "az://", 5)) {
		out->scheme = LOC_AZ;
		r = parse_bucket_url(url, "az", url + 5, out, err);
	} else {
		buf_printf(err, "'%s': unknown scheme (use file:, s3://, gs:// or az://)",
			   url);
		r = ES_ERR_CONFIG;
	}
	if (r != ES_OK)
		location_release(out);
	return r;
}

bool store_key_is_safe(const char *key)
{
	const char *p = key;

	if (!*key || *key == '/' || key[strlen(key) - 1] == '/')
		return false;
	while (*p) {
		const char *seg = p;
		size_t n;

		while (*p && *p != '/') {
			if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
				return false;
			p++;
		}
		n = (size_t)(p - seg);
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		if (*p == '/')
			p++;
	}
	return true;
}

char *location_key_url(const location *l, const char *key)
{
	switch (l->scheme) {
	case LOC_FILE:
		return xasprintf("file://%s/%s", strcmp(l->root, "/") ? l->root : "", key);
	case LOC_S3:
		return xasprintf("s3://%s/%s", l->bucket, key);
	case LOC_GS:
		return xasprintf("gs://%s/%s", l->bucket, key);
	case LOC_AZ:
		return xasprintf("az://%s/%s/%s", l->account, l->bucket, key);
	}
	return xstrdup(key);
}
