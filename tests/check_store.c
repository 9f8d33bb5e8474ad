/*
 * check_store.c - locations, their checks (store_check, for every scheme),
 * safe keys, and the file:// backend (list, get, put) in a temporary
 * directory, symbolic links included.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_s3.h"
#include "util.h"

/* --- helpers ------------------------------------------------------------- */

/* base: one directory for the test case, made and removed in the parent
 * process by an unchecked fixture (so it goes even when a test fails);
 * tmpdir: one directory per test inside it. */
static char basedir[64];
static char tmpdir[128];

static void remove_tree(const char *path);

static void base_setup(void)
{
	snprintf(basedir, sizeof(basedir), "/tmp/evshare-store-XXXXXX");
	if (!mkdtemp(basedir))
		basedir[0] = '\0';
}

static void base_teardown(void)
{
	if (basedir[0])
		remove_tree(basedir);
}

static void make_tmpdir(void)
{
	ck_assert_msg(basedir[0] != '\0', "no base directory");
	snprintf(tmpdir, sizeof(tmpdir), "%s/t-XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((de = readdir(d))) {
			char *sub;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			sub = xasprintf("%s/%s", path, de->d_name);
			remove_tree(sub);
			free(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static void cleanup_tmpdir(void)
{
	if (tmpdir[0])
		remove_tree(tmpdir);
	tmpdir[0] = '\0';
}

/* tmpdir + "/" + rel (allocated) */
static char *tpath(const char *rel)
{
	return xasprintf("%s/%s", tmpdir, rel);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int fd;

	*slash = '\0';
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	free(dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_msg(fd >= 0, "cannot create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write_all(fd, p, n), 0);
	close(fd);
}

static void write_rel(const char *rel, const char *text)
{
	char *p = tpath(rel);

	write_bytes(p, text, strlen(text));
	free(p);
}

static void set_mtime(const char *rel, time_t sec, long nsec)
{
	char *p = tpath(rel);
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, AT_SYMLINK_NOFOLLOW), 0);
	free(p);
}

static store *open_store_at(const char *rel_root)
{
	char *url = xasprintf("file://%s/%s", tmpdir, rel_root);
	location loc;
	buf err = BUF_INIT;
	store *s = NULL;

	ck_assert_msg(location_parse(url, NULL, &loc, &err) == ES_OK, "%s: %s", url,
		      err.data ? err.data : "");
	ck_assert_int_eq(store_open(&loc, &s), ES_OK);
	ck_assert_ptr_nonnull(s);
	location_release(&loc);
	buf_release(&err);
	free(url);
	return s;
}

static const store_object *find_obj(const store_list *l, const char *key)
{
	for (size_t i = 0; i < l->count; i++)
		if (!strcmp(l->items[i].key, key))
			return &l->items[i];
	return NULL;
}

static int collect(void *ud, const char *p, size_t n)
{
	buf *b = ud;

	ck_assert(buf_add(b, p, n));
	return 0;
}

static int refuse(void *ud, const char *p, size_t n)
{
	(void)ud;
	(void)p;
	(void)n;
	return 1;
}

/* A get of key as listed with that size and etag ("": none). */
static es_result get_key(store *s, const char *key, uint64_t size, const char *etag, buf *out)
{
	store_object o = { (char *)(uintptr_t)key, size, 0, (char *)(uintptr_t)etag };

	return store_get(s, &o, collect, out);
}

/* A local file with the given content, for put. */
/* A new local file to put (a new inode each time: a put may take the
 * file itself, so it must not be rewritten afterwards). */
static char *local_file(const char *name, const void *p, size_t n)
{
	char *path = xasprintf("%s/local-%s", tmpdir, name);

	unlink(path);
	write_bytes(path, p, n);
	return path;
}

static void read_all(const char *path, buf *out)
{
	ck_assert_msg(read_file(path, out, 64 << 20) == 0, "cannot read %s", path);
}

static bool exists(const char *rel)
{
	char *p = tpath(rel);
	struct stat st;
	bool r = lstat(p, &st) == 0;

	free(p);
	return r;
}

/* --- locations ----------------------------------------------------------- */

static location parse_loc_ok(const char *url, const char *base)
{
	location l;
	buf err = BUF_INIT;

	ck_assert_msg(location_parse(url, base, &l, &err) == ES_OK, "%s: %s", url,
		      err.data ? err.data : "");
	buf_release(&err);
	return l;
}

static void parse_loc_bad(const char *url, const char *base, const char *part)
{
	location l;
	buf err = BUF_INIT;

	ck_assert_msg(location_parse(url, base, &l, &err) == ES_ERR_CONFIG, "'%s' accepted",
		      url);
	ck_assert_msg(err.len > 0, "'%s': no message", url);
	if (part)
		ck_assert_msg(strstr(err.data, part) != NULL, "'%s': '%s', want '%s'", url,
			      err.data, part);
	buf_release(&err);
}

START_TEST(location_file_urls)
{
	static const struct { const char *url, *base, *root, *norm; } cases[] = {
		{ "file:///abs/dir/", NULL, "/abs/dir", "file:///abs/dir/" },
		{ "file:///abs/dir", NULL, "/abs/dir", "file:///abs/dir/" },
		{ "file:///a/./b//c/", NULL, "/a/b/c", "file:///a/b/c/" },
		{ "file:///", NULL, "/", "file:///" },
		{ "file:/abs/x/", NULL, "/abs/x", "file:///abs/x/" },
		{ "file:rel/dir/", "/base", "/base/rel/dir", "file:///base/rel/dir/" },
		{ "file:rel", "/base/", "/base/rel", "file:///base/rel/" },
		{ "file:./rel/", "/base", "/base/rel", "file:///base/rel/" },
		{ "file:///with space/+=%/", NULL, "/with space/+=%", "file:///with space/+=%/" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		location l = parse_loc_ok(cases[i].url, cases[i].base);

		ck_assert_int_eq(l.scheme, LOC_FILE);
		ck_assert_str_eq(l.root, cases[i].root);
		ck_assert_str_eq(l.url, cases[i].norm);
		ck_assert_str_eq(l.prefix, "");
		ck_assert_ptr_null(l.bucket);
		ck_assert_int_eq(l.path_style, -1);
		location_release(&l);
	}
	parse_loc_bad("file://host/dir/", NULL, "no host");
	parse_loc_bad("file:", "/base", "empty");
	/* '..' is resolved lexically, but never above "/" */
	{
		location l = parse_loc_ok("file:///a/../b/", NULL);

		ck_assert_str_eq(l.root, "/b");
		location_release(&l);
		l = parse_loc_ok("file:../x/", "/base");
		ck_assert_str_eq(l.root, "/x");
		location_release(&l);
	}
	parse_loc_bad("file:///..", NULL, "'..'");
	parse_loc_bad("file:../../x/", "/base", "'..'");
	parse_loc_bad("file:///a\nb/", NULL, "control character");
}
END_TEST

START_TEST(location_bucket_urls)
{
	static const struct {
		const char *url;
		enum location_scheme scheme;
		const char *account, *bucket, *prefix, *norm;
	} cases[] = {
		{ "s3://bucket/prefix", LOC_S3, NULL, "bucket", "prefix/", "s3://bucket/prefix/" },
		{ "s3://bucket/prefix/", LOC_S3, NULL, "bucket", "prefix/", "s3://bucket/prefix/" },
		{ "s3://bucket/a/b/c", LOC_S3, NULL, "bucket", "a/b/c/", "s3://bucket/a/b/c/" },
		{ "s3://bucket", LOC_S3, NULL, "bucket", "", "s3://bucket/" },
		{ "s3://bucket/", LOC_S3, NULL, "bucket", "", "s3://bucket/" },
		{ "s3://my-bucket.v2_x/events/", LOC_S3, NULL, "my-bucket.v2_x", "events/",
		  "s3://my-bucket.v2_x/events/" },
		{ "gs://gbucket/p", LOC_GS, NULL, "gbucket", "p/", "gs://gbucket/p/" },
		{ "gs://gbucket", LOC_GS, NULL, "gbucket", "", "gs://gbucket/" },
		{ "az://account/container/p/", LOC_AZ, "account", "container", "p/",
		  "az://account/container/p/" },
		{ "az://account/container/p/q", LOC_AZ, "account", "container", "p/q/",
		  "az://account/container/p/q/" },
		{ "az://account/container", LOC_AZ, "account", "container", "",
		  "az://account/container/" },
		{ "az://devstoreaccount1/c/", LOC_AZ, "devstoreaccount1", "c", "",
		  "az://devstoreaccount1/c/" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		location l = parse_loc_ok(cases[i].url, "/base");
		location c;

		ck_assert_int_eq(l.scheme, cases[i].scheme);
		ck_assert_str_eq(l.bucket, cases[i].bucket);
		ck_assert_str_eq(l.prefix, cases[i].prefix);
		ck_assert_str_eq(l.url, cases[i].norm);
		if (cases[i].account)
			ck_assert_str_eq(l.account, cases[i].account);
		else
			ck_assert_ptr_null(l.account);
		ck_assert_ptr_null(l.root);
		ck_assert_ptr_null(l.endpoint);
		/* a copy is deep and equal */
		location_copy(&c, &l);
		ck_assert_ptr_ne(c.url, l.url);
		ck_assert_str_eq(c.url, l.url);
		ck_assert_str_eq(c.prefix, l.prefix);
		ck_assert_int_eq(c.scheme, l.scheme);
		location_release(&l);
		ck_assert_ptr_null(l.url);
		location_release(&c);
	}
	parse_loc_bad("s3://", NULL, "missing bucket");
	parse_loc_bad("s3:///prefix/", NULL, "missing bucket");
	parse_loc_bad("s3://Bucket/", NULL, "invalid bucket");
	parse_loc_bad("s3://bu cket/", NULL, "invalid bucket");
	parse_loc_bad("s3://b/a//c/", NULL, NULL);
	/* a pasted presigned or SAS URL: refused, its signature not repeated */
	parse_loc_bad("s3://b/in/?X-Amz-Signature=SECRETSIG", NULL, "'s3://b/in/?...'");
	parse_loc_bad("az://acct/cont/in/?sv=2024&sig=SECRETSIG", NULL,
		      "credentials_file or AZURE_STORAGE_SAS_TOKEN");
	{
		location l;
		buf err = BUF_INIT;

		ck_assert_int_eq(location_parse("az://acct/cont/?sig=SECRETSIG", NULL, &l, &err),
				 ES_ERR_CONFIG);
		ck_assert_ptr_null(strstr(err.data, "SECRETSIG"));
		buf_release(&err);
	}
	parse_loc_bad("s3://b/../c/", NULL, NULL);
	parse_loc_bad("s3://b/a/./c/", NULL, NULL);
	parse_loc_bad("s3://b/a\\c/", NULL, NULL);
	parse_loc_bad("s3://b/a\tc/", NULL, "control character");
	parse_loc_bad("gs://", NULL, "missing bucket");
	parse_loc_bad("gs://B/", NULL, "invalid bucket");
	parse_loc_bad("az://", NULL, "missing account");
	parse_loc_bad("az://account", NULL, "missing container");
	parse_loc_bad("az://account/", NULL, "missing container");
	parse_loc_bad("az://account//p/", NULL, "missing container");
	parse_loc_bad("https://bucket.s3.amazonaws.com/", NULL, "unknown scheme");
	parse_loc_bad("S3://bucket/", NULL, "unknown scheme");
	parse_loc_bad("/just/a/path/", NULL, "unknown scheme");
	parse_loc_bad("", NULL, "unknown scheme");
}
END_TEST

/* Which locations touch each other's objects. */
START_TEST(location_overlaps)
{
	static const struct {
		const char *a, *ea, *b, *eb;
		bool same_store, overlap;
	} cases[] = {
		{ "s3://b/x/", NULL, "s3://b/x/", NULL, true, true },
		{ "s3://b/", NULL, "s3://b/x/", NULL, true, true },
		{ "s3://b/x/", NULL, "s3://b/x/y/", NULL, true, true },
		{ "s3://b/x/", NULL, "s3://b/xy/", NULL, true, false },   /* "x/" vs "xy/" */
		{ "s3://b/x/", NULL, "s3://c/x/", NULL, false, false },
		{ "s3://b/x/", "http://h:9000", "s3://b/x/", "http://H:9000/", true, true },
		{ "s3://b/x/", "http://h:9000", "s3://b/x/", "http://other:9000", false, false },
		{ "s3://b/x/", NULL, "s3://b/x/", "http://h:9000", true, true },  /* may be */
		{ "s3://b/x/", NULL, "gs://b/x/", NULL, false, false },
		{ "s3://b/x/", "http://h", "gs://b/x/", "http://h", true, true },
		{ "az://acct/c/x/", NULL, "az://acct/c/", NULL, true, true },
		{ "az://acct/c/x/", NULL, "az://acct/d/x/", NULL, false, false },
		{ "az://acct/c/x/", NULL, "az://other/c/x/", NULL, false, false },
		{ "az://acct/c/x/", NULL, "s3://c/x/", NULL, false, false },
		{ "file:///data/a/", NULL, "file:///data/a/out/", NULL, true, true },
		{ "file:///data/a/", NULL, "file:///data/ab/", NULL, true, false },
		{ "file:///data/a/", NULL, "file:///data/./a/../a/", NULL, true, true },
		{ "file:///", NULL, "file:///data/", NULL, true, true },
		{ "file:///data/a/", NULL, "s3://data/a/", NULL, false, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		location a = parse_loc_ok(cases[i].a, "/base");
		location b = parse_loc_ok(cases[i].b, "/base");

		a.endpoint = cases[i].ea ? xstrdup(cases[i].ea) : NULL;
		b.endpoint = cases[i].eb ? xstrdup(cases[i].eb) : NULL;
		ck_assert_msg(location_same_store(&a, &b) == cases[i].same_store &&
			      location_same_store(&b, &a) == cases[i].same_store,
			      "%zu: same store of '%s' and '%s'", i, cases[i].a, cases[i].b);
		ck_assert_msg(location_overlap(&a, &b) == cases[i].overlap &&
			      location_overlap(&b, &a) == cases[i].overlap,
			      "%zu: overlap of '%s' and '%s'", i, cases[i].a, cases[i].b);
		location_release(&a);
		location_release(&b);
	}
}
END_TEST

/* store_check: everything store_open would refuse about a location's own
 * settings, each fault with its key, without I/O.  (az:// names are in
 * check_store_az.c.) */
START_TEST(location_checks)
{
	static const struct {
		const char *url, *endpoint, *region;
		int path_style;
		uint64_t part_size, threshold;
		unsigned retries, streams;
		const char *key, *message;    /* the first fault; NULL: none */
	} cases[] = {
		{ "file:///data/in/", NULL, "bad/r", 0, 5ull << 20, 5ull << 20, 20, 16, NULL,
		  NULL },
		{ "file:///data/in/", NULL, NULL, -1, 5ull << 30, 0, 0, 0, NULL, NULL },
		{ "file:///data/in/", NULL, NULL, -1, 1, 0, 0, 0, "part_size",
		  "part_size 1 is outside 5 MiB..5 GiB" },
		{ "file:///data/in/", "ftp://x", NULL, -1, 0, 0, 0, 0, "endpoint",
		  "endpoint 'ftp://x' must start with http:// or https://" },
		{ "s3://evbucket/in/", "http://127.0.0.1:9000/base", "eu-west-3", 1, 5ull << 20,
		  5ull << 20, 20, 16, NULL, NULL },
		{ "s3://evbucket/", NULL, NULL, -1, 5ull << 30, 5ull << 40, 1, 1, NULL, NULL },
		{ "s3://ab/", NULL, NULL, -1, 0, 0, 0, 0, "url",
		  "bucket 'ab' is not a bucket name: it has fewer than 3 characters" },
		{ "s3://-ab/", NULL, NULL, -1, 0, 0, 0, 0, "url",
		  "bucket '-ab' is not a bucket name: it must start and end with a letter or a "
		  "digit" },
		{ "s3://old_bucket/", NULL, NULL, -1, 0, 0, 0, 0, NULL, NULL },
		{ "gs://a.bc/", NULL, NULL, -1, 0, 0, 0, 0, NULL, NULL },
		{ "s3://evbucket/", NULL, "EU-1", -1, 0, 0, 0, 0, "region",
		  "region 'EU-1' is not a region name (a-z 0-9 -)" },
		{ "s3://old_bucket/", NULL, NULL, 0, 0, 0, 0, 0, "path_style",
		  "bucket 'old_bucket' is not a host name: it can be addressed path-style only "
		  "(set path_style true, or remove it)" },
		{ "s3://evbucket/", "https://s3.example.net/?sig=SECRET", NULL, -1, 0, 0, 0, 0,
		  "endpoint", "endpoint 'https://s3.example.net/?...' must not have a query or a "
		  "fragment" },
		{ "gs://evbucket/", "storage.googleapis.com", NULL, -1, 0, 0, 0, 0, "endpoint",
		  "endpoint 'storage.googleapis.com' must start with http:// or https://" },
		{ "s3://evbucket/", NULL, NULL, -1, (5ull << 20) - 1, 0, 0, 0, "part_size",
		  "part_size 5242879 is outside 5 MiB..5 GiB" },
		{ "s3://evbucket/", NULL, NULL, -1, (5ull << 30) + 1, 0, 0, 0, "part_size",
		  "part_size 5368709121 is outside 5 MiB..5 GiB" },
		{ "s3://evbucket/", NULL, NULL, -1, 0, 1024, 0, 0, "multipart_threshold",
		  "multipart_threshold 1024 is outside 5 MiB..5 TiB" },
		{ "s3://evbucket/", NULL, NULL, -1, 0, 0, 21, 0, "retries",
		  "retries 21 is outside 1..20" },
		{ "gs://evbucket/", NULL, NULL, -1, 0, 0, 0, 17, "upload_streams",
		  "upload_streams 17 is outside 1..16" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		location l = parse_loc_ok(cases[i].url, "/base");
		store_faults f = STORE_FAULTS_INIT;
		es_result r;

		l.endpoint = cases[i].endpoint ? xstrdup(cases[i].endpoint) : NULL;
		l.region = cases[i].region ? xstrdup(cases[i].region) : NULL;
		l.path_style = cases[i].path_style;
		l.part_size = cases[i].part_size;
		l.multipart_threshold = cases[i].threshold;
		l.retries = cases[i].retries;
		l.upload_streams = cases[i].streams;
		r = store_check(&l, &f);
		if (!cases[i].key) {
			ck_assert_msg(r == ES_OK && f.count == 0, "%zu: '%s': %s", i, cases[i].url,
				      f.count ? f.items[0].message : "");
		} else {
			ck_assert_msg(r == ES_ERR_CONFIG && f.count == 1, "%zu: %zu faults", i,
				      f.count);
			ck_assert_str_eq(f.items[0].key, cases[i].key);
			ck_assert_str_eq(f.items[0].message, cases[i].message);
		}
		store_faults_release(&f);
		location_release(&l);
	}
}
END_TEST

START_TEST(location_checks_tell_every_key)
{
	location l = parse_loc_ok("gs://x_/in/", "/base");
	store_faults f = STORE_FAULTS_INIT;
	static const char *const keys[] = { "url", "region", "path_style", "endpoint",
					    "part_size", "multipart_threshold", "retries",
					    "upload_streams" };

	l.endpoint = xstrdup("https://u:p@h/");
	l.region = xstrdup("");
	l.path_style = 0;
	l.part_size = 1;
	l.multipart_threshold = 6ull << 40;
	l.retries = 100;
	l.upload_streams = 100;
	ck_assert_int_eq(store_check(&l, &f), ES_ERR_CONFIG);
	ck_assert_uint_eq(f.count, sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < f.count; i++)
		ck_assert_str_eq(f.items[i].key, keys[i]);
	ck_assert_ptr_null(strstr(f.items[3].message, ":p@"));  /* no password told */
	store_faults_release(&f);
	store_faults_release(&f);
	location_release(&l);
}
END_TEST

/* store_open refuses what store_check finds, with the same words, before
 * any credentials are looked for. */
START_TEST(open_refuses_what_check_finds)
{
	location l = parse_loc_ok("s3://evbucket/in/", "/base");
	store *s = (store *)1;

	l.part_size = 1;
	l.retries = 30;
	ck_assert_int_eq(store_open(&l, &s), ES_ERR_CONFIG);
	ck_assert_ptr_null(s);
	location_release(&l);
	l = parse_loc_ok("az://acct/Bad_Container/", "/base");
	ck_assert_int_eq(store_open(&l, &s), ES_ERR_CONFIG);
	location_release(&l);
}
END_TEST

static const char *no_env(void *ud, const char *name)
{
	(void)ud;
	(void)name;
	return NULL;
}

/* A bucket that is not a host name is addressed path-style, unless a
 * profile says virtual-host. */
START_TEST(buckets_that_are_no_host_names)
{
	static const char *const hosts[] = { "evbucket", "a.b.c", "a-b", "x1", NULL };
	static const char *const not_hosts[] = { "old_bucket", "a..b", "a-.b", "-ab", "ab-",
						 "", NULL };
	creds_env env = { no_env, NULL };
	aws_config aws = { 0 };
	location l = parse_loc_ok("s3://old_bucket/in/", "/base");
	s3_settings set;
	buf err = BUF_INIT;
	char label[70];

	for (size_t i = 0; hosts[i]; i++)
		ck_assert_msg(s3_bucket_is_host_name(hosts[i]), "%s", hosts[i]);
	for (size_t i = 0; not_hosts[i]; i++)
		ck_assert_msg(!s3_bucket_is_host_name(not_hosts[i]), "%s", not_hosts[i]);
	memset(label, 'a', 64);
	label[64] = '\0';
	ck_assert(!s3_bucket_is_host_name(label));
	label[63] = '\0';
	ck_assert(s3_bucket_is_host_name(label));

	/* AWS's endpoint would be virtual-host style: not for this one */
	ck_assert_int_eq(s3_settings_resolve(&l, NULL, &env, &set, &err), ES_OK);
	ck_assert(set.default_endpoint);
	ck_assert(set.path_style);
	s3_settings_release(&set);
	aws.path_style = 0;
	aws.profile = (char *)"p1";
	ck_assert_int_eq(s3_settings_resolve(&l, &aws, &env, &set, &err), ES_ERR_CONFIG);
	ck_assert_str_eq(err.data, "bucket 'old_bucket' is not a host name: it can be addressed "
			 "path-style only, not virtual-host style as profile 'p1' says "
			 "(s3.addressing_style)");
	location_release(&l);
	buf_release(&err);
}
END_TEST

START_TEST(key_urls)
{
	location l;

	l = parse_loc_ok("file:///data/in/", NULL);
	{
		char *u = location_key_url(&l, "a/b.gz");

		ck_assert_str_eq(u, "file:///data/in/a/b.gz");
		free(u);
	}
	location_release(&l);
	l = parse_loc_ok("file:///", NULL);
	{
		char *u = location_key_url(&l, "k");

		ck_assert_str_eq(u, "file:///k");
		free(u);
	}
	location_release(&l);
	l = parse_loc_ok("s3://bkt/pre/", NULL);
	{
		char *u = location_key_url(&l, "pre/k.gz");

		ck_assert_str_eq(u, "s3://bkt/pre/k.gz");
		free(u);
	}
	location_release(&l);
	l = parse_loc_ok("az://acc/cont/p/", NULL);
	{
		char *u = location_key_url(&l, "p/k");

		ck_assert_str_eq(u, "az://acc/cont/p/k");
		free(u);
	}
	location_release(&l);
}
END_TEST

START_TEST(key_safety)
{
	static const char *safe[] = {
		"a", "a/b", "a.b", "..a", "a..", ".a/b", "a/.b/c", "with space/+=%",
		"\xc3\xa9/\xe6\x97\xa5", "a-b_c~d",
	};
	static const char *unsafe[] = {
		"", "/", "/a", "a//b", "./a", "a/./b", "a/.", "a/..", "../a", "..", ".",
		"a\\b", "a\nb", "a\x01", "a\x7f", "\tx",
	};

	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		ck_assert_msg(store_key_is_safe(safe[i]), "'%s' should be safe", safe[i]);
	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++)
		ck_assert_msg(!store_key_is_safe(unsafe[i]), "'%s' should be unsafe", unsafe[i]);
}
END_TEST

START_TEST(key_with_trailing_slash_is_unsafe)
{
	/* "a/" has an empty last segment: it names a directory, not an object */
	ck_assert_msg(!store_key_is_safe("a/"), "'a/' should be unsafe");
	ck_assert_msg(!store_key_is_safe("a/b/"), "'a/b/' should be unsafe");
}
END_TEST

/* --- file:// backend ----------------------------------------------------- */

START_TEST(list_nested_with_metadata)
{
	store *s;
	store_list l = { NULL, 0, 0 };
	const store_object *o;
	char big[1000];

	make_tmpdir();
	memset(big, 'b', sizeof(big));
	write_rel("root/a.ndjson", "0123456789");
	write_rel("root/x/y/z.gz", "");
	{
		char *p = tpath("root/x/b");

		write_bytes(p, big, sizeof(big));
		free(p);
	}
	{
		char *p = tpath("root/emptydir");

		ck_assert_int_eq(mkdir_p(p, 0755), 0);
		free(p);
	}
	set_mtime("root/a.ndjson", 1700000000, 123456789);
	set_mtime("root/x/y/z.gz", 1600000000, 0);
	set_mtime("root/x/b", 1700000001, 999999999);

	s = open_store_at("root/");
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	ck_assert_uint_eq(l.count, 3);
	o = find_obj(&l, "a.ndjson");
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(o->size, 10);
	ck_assert_int_eq(o->mtime_ms, 1700000000123LL);
	ck_assert(o->etag && *o->etag);
	o = find_obj(&l, "x/y/z.gz");
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(o->size, 0);
	ck_assert_int_eq(o->mtime_ms, 1600000000000LL);
	o = find_obj(&l, "x/b");
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(o->size, 1000);
	ck_assert_int_eq(o->mtime_ms, 1700000001999LL);
	/* etags differ between objects */
	ck_assert_str_ne(find_obj(&l, "a.ndjson")->etag, find_obj(&l, "x/b")->etag);
	ck_assert_str_ne(find_obj(&l, "x/y/z.gz")->etag, find_obj(&l, "x/b")->etag);
	store_list_release(&l);
	ck_assert_uint_eq(l.count, 0);
	store_free(s);
	cleanup_tmpdir();
}
END_TEST

START_TEST(list_skips_symlinks_and_temps)
{
	store *s;
	store_list l = { NULL, 0, 0 };

	make_tmpdir();
	write_rel("root/real.ndjson", "x\n");
	write_rel("root/sub/real2.ndjson", "y\n");
	write_rel("outside/secret.ndjson", "secret\n");
	write_rel("outside/deeper/secret2.ndjson", "secret\n");
	write_rel("root/.evshare-tmp.out.gz.123", "partial");
	write_rel("root/sub/.evshare-tmp.x.9", "partial");
	{
		char *o = tpath("outside/secret.ndjson"), *od = tpath("outside");
		char *l1 = tpath("root/file-link"), *l2 = tpath("root/dir-link");
		char *l3 = tpath("root/sub/inner-link"), *l4 = tpath("root/dangling");
		char *l5 = tpath("root/etc-link");

		ck_assert_int_eq(symlink(o, l1), 0);
		ck_assert_int_eq(symlink(od, l2), 0);
		ck_assert_int_eq(symlink("../real.ndjson", l3), 0);
		ck_assert_int_eq(symlink("/nonexistent/x", l4), 0);
		ck_assert_int_eq(symlink("/etc", l5), 0);
		free(o);
		free(od);
		free(l1);
		free(l2);
		free(l3);
		free(l4);
		free(l5);
	}
	s = open_store_at("root");
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	for (size_t i = 0; i < l.count; i++)
		ck_assert_msg(!strcmp(l.items[i].key, "real.ndjson") ||
			      !strcmp(l.items[i].key, "sub/real2.ndjson"),
			      "unexpected key '%s'", l.items[i].key);
	ck_assert_uint_eq(l.count, 2);
	store_list_release(&l);
	store_free(s);
	cleanup_tmpdir();
}
END_TEST

START_TEST(list_missing_root_fails)
{
	store *s;
	store_list l = { NULL, 0, 0 };

	make_tmpdir();
	s = open_store_at("does-not-exist/");
	ck_assert_int_ne(store_list_objects(s, &l), ES_OK);
	ck_assert_uint_eq(l.count, 0);
	ck_assert(store_last_error(s)[0] != '\0');
	store_list_release(&l);
	store_free(s);
	/* an empty root lists nothing */
	{
		char *p = tpath("empty");

		ck_assert_int_eq(mkdir_p(p, 0755), 0);
		free(p);
	}
	s = open_store_at("empty/");
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	ck_assert_uint_eq(l.count, 0);
	store_free(s);
	cleanup_tmpdir();
}
END_TEST

START_TEST(get_streams_exact_bytes)
{
	store *s;
	store_list l = { NULL, 0, 0 };
	size_t n = 3 * 1024 * 1024 + 12345;
	unsigned char *data = xmalloc(n);
	uint64_t x = 88172645463325252ULL;
	buf out = BUF_INIT;

	make_tmpdir();
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (unsigned char)x;
	}
	{
		char *p = tpath("root/big.bin");

		write_bytes(p, data, n);
		free(p);
	}
	write_rel("root/empty", "");
	s = open_store_at("root/");
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	ck_assert_int_eq(store_get(s, find_obj(&l, "big.bin"), collect, &out), ES_OK);
	ck_assert_uint_eq(out.len, n);
	ck_assert(!memcmp(out.data, data, n));
	buf_release(&out);
	ck_assert_int_eq(store_get(s, find_obj(&l, "empty"), collect, &out), ES_OK);
	ck_assert_uint_eq(out.len, 0);
	/* a callback that refuses stops the read with ES_ERR_DATA */
	ck_assert_int_eq(store_get(s, find_obj(&l, "big.bin"), refuse, NULL), ES_ERR_DATA);
	/* without an etag there is nothing to compare */
	ck_assert_int_eq(get_key(s, "big.bin", n, "", &out), ES_OK);
	ck_assert_uint_eq(out.len, n);
	buf_release(&out);
	store_list_release(&l);
	store_free(s);
	free(data);
	cleanup_tmpdir();
}
END_TEST

/* A file that has more bytes than the listing gave (one still being
 * appended to) fails, and nothing past the listed size is delivered. */
START_TEST(get_stops_past_the_listed_size)
{
	store *s;
	size_t n = 600 * 1024 + 7;
	char *data = xmalloc(n), *p;
	buf out = BUF_INIT;

	make_tmpdir();
	memset(data, 'x', n);
	p = tpath("root/growing");
	write_bytes(p, data, n);
	free(p);
	s = open_store_at("root/");
	ck_assert_int_eq(get_key(s, "growing", n - 1, "", &out), ES_ERR_REMOTE);
	ck_assert_uint_le(out.len, n - 1);
	ck_assert_ptr_nonnull(strstr(store_last_error(s), "/root/growing': the file went past the "
				     "listed size (614406 bytes)"));
	buf_reset(&out);
	ck_assert_int_eq(get_key(s, "growing", 1000, "", &out), ES_ERR_REMOTE);
	ck_assert_uint_le(out.len, 1000);
	buf_reset(&out);
	ck_assert_int_eq(get_key(s, "growing", n, "", &out), ES_OK);
	ck_assert_uint_eq(out.len, n);
	buf_release(&out);
	store_free(s);
	free(data);
	cleanup_tmpdir();
}
END_TEST

/* A store on root/ whose listings are bounded. */
static store *open_bounded(uint64_t max_keys, uint64_t max_pages)
{
	char *url = xasprintf("file://%s/root/", tmpdir);
	location loc;
	buf err = BUF_INIT;
	store *s = NULL;

	ck_assert_int_eq(location_parse(url, NULL, &loc, &err), ES_OK);
	loc.max_list_keys = max_keys;
	loc.max_list_pages = max_pages;
	ck_assert_int_eq(store_open(&loc, &s), ES_OK);
	location_release(&loc);
	buf_release(&err);
	free(url);
	return s;
}

START_TEST(list_is_bounded)
{
	store *s;
	store_list l = { NULL, 0, 0 };

	make_tmpdir();
	/* 5 files in 3 directories (the root, d1, d1/d2) */
	write_rel("root/a", "1");
	write_rel("root/b", "1");
	write_rel("root/d1/c", "1");
	write_rel("root/d1/d2/e", "1");
	write_rel("root/d1/d2/f", "1");
	/* exactly at the bounds: fine */
	s = open_bounded(5, 3);
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	ck_assert_uint_eq(l.count, 5);
	store_list_release(&l);
	store_free(s);
	/* one object too many */
	s = open_bounded(4, 3);
	ck_assert_int_eq(store_list_objects(s, &l), ES_ERR_REMOTE);
	ck_assert_uint_le(l.count, 5);
	ck_assert_ptr_nonnull(strstr(store_last_error(s), "/root/': the listing passed 4 objects "
				     "(max_list_keys); raise max_list_keys or narrow the prefix"));
	store_list_release(&l);
	store_free(s);
	/* one directory too many */
	s = open_bounded(5, 2);
	ck_assert_int_eq(store_list_objects(s, &l), ES_ERR_REMOTE);
	ck_assert_ptr_nonnull(strstr(store_last_error(s), "/root/': the listing passed 2 pages "
				     "(max_list_pages: here, directories); raise max_list_pages or "
				     "narrow the prefix"));
	store_list_release(&l);
	store_free(s);
	/* 0: the defaults */
	s = open_bounded(0, 0);
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	ck_assert_uint_eq(l.count, 5);
	store_list_release(&l);
	store_free(s);
	cleanup_tmpdir();
}
END_TEST

START_TEST(get_fails_on_change_or_absence)
{
	store *s;
	store_list l = { NULL, 0, 0 };
	store_object o;
	buf out = BUF_INIT;

	make_tmpdir();
	write_rel("root/f1", "version one\n");
	write_rel("root/f2", "version one\n");
	write_rel("root/f3", "version one\n");
	set_mtime("root/f3", 1700000000, 0);
	s = open_store_at("root/");
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	ck_assert_uint_eq(l.count, 3);

	/* replaced by a rename (another inode), same size */
	{
		char *tmp = tpath("root/f1.new"), *dst = tpath("root/f1");

		write_bytes(tmp, "version two\n", 12);
		ck_assert_int_eq(rename(tmp, dst), 0);
		free(tmp);
		free(dst);
	}
	ck_assert_int_ne(store_get(s, find_obj(&l, "f1"), collect, &out), ES_OK);
	ck_assert_uint_eq(out.len, 0);   /* nothing of the new version */
	/* rewritten in place with another size */
	write_rel("root/f2", "version two, longer\n");
	ck_assert_int_ne(store_get(s, find_obj(&l, "f2"), collect, &out), ES_OK);
	ck_assert_uint_eq(out.len, 0);
	/* rewritten in place, same size, a later mtime */
	write_rel("root/f3", "version 2!!\n");
	set_mtime("root/f3", 1700000001, 0);
	ck_assert_int_ne(store_get(s, find_obj(&l, "f3"), collect, &out), ES_OK);
	ck_assert_uint_eq(out.len, 0);
	ck_assert(store_last_error(s)[0] != '\0');

	/* a missing object */
	o.key = xstrdup("nope/absent.gz");
	o.size = 1;
	o.mtime_ms = 0;
	o.etag = xstrdup("x");
	ck_assert_int_ne(store_get(s, &o, collect, &out), ES_OK);
	store_object_release(&o);
	ck_assert_int_ne(get_key(s, "absent", 100, "", &out), ES_OK);
	/* an unsafe key is refused */
	ck_assert_int_ne(get_key(s, "../root/f1", 100, "", &out), ES_OK);
	ck_assert_uint_eq(out.len, 0);
	ck_assert(store_last_error(s)[0] != '\0');
	/* the next read that works leaves no earlier words behind */
	store_list_release(&l);
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	ck_assert_str_eq(store_last_error(s), "");
	ck_assert_int_ne(get_key(s, "absent", 100, "", &out), ES_OK);
	ck_assert_int_eq(store_get(s, find_obj(&l, "f1"), collect, &out), ES_OK);
	ck_assert_str_eq(store_last_error(s), "");
	buf_release(&out);
	store_list_release(&l);
	store_free(s);
	cleanup_tmpdir();
}
END_TEST

START_TEST(put_creates_replaces_refuses)
{
	store *s;
	char *src1, *src2, *p;
	buf got = BUF_INIT;
	store_list l = { NULL, 0, 0 };

	make_tmpdir();
	src1 = local_file("one", "first content\n", 14);
	src2 = local_file("two", "second\n", 7);
	/* the root itself does not exist yet */
	s = open_store_at("dest/out/");
	ck_assert_int_eq(store_put(s, "n1/n2/n3/obj.ndjson.gz", src1), ES_OK);
	p = tpath("dest/out/n1/n2/n3/obj.ndjson.gz");
	read_all(p, &got);
	ck_assert_uint_eq(got.len, 14);
	ck_assert(!memcmp(got.data, "first content\n", 14));
	buf_release(&got);
	/* replace */
	ck_assert_int_eq(store_put(s, "n1/n2/n3/obj.ndjson.gz", src2), ES_OK);
	read_all(p, &got);
	ck_assert_uint_eq(got.len, 7);
	ck_assert(!memcmp(got.data, "second\n", 7));
	buf_release(&got);
	free(p);
	/* the listing shows exactly the object: no temporary left behind */
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	ck_assert_uint_eq(l.count, 1);
	ck_assert_str_eq(l.items[0].key, "n1/n2/n3/obj.ndjson.gz");
	ck_assert_uint_eq(l.items[0].size, 7);
	store_list_release(&l);
	{
		DIR *d;
		struct dirent *de;

		p = tpath("dest/out/n1/n2/n3");
		d = opendir(p);
		ck_assert_ptr_nonnull(d);
		while ((de = readdir(d)))
			ck_assert_msg(strncmp(de->d_name, ".evshare-tmp.", 13),
				      "temporary '%s' left", de->d_name);
		closedir(d);
		free(p);
	}
	/* unsafe keys are refused and nothing is written */
	{
		static const char *bad[] = { "../escape", "/abs", "a//b", "a/./b", "a/../../x",
					     "..", "", "a\\b" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_msg(store_put(s, bad[i], src1) != ES_OK, "put '%s' accepted",
				      bad[i]);
		ck_assert(!exists("dest/escape"));
		ck_assert(!exists("escape"));
		ck_assert(!exists("x"));
	}
	/* a missing local file fails */
	ck_assert_int_ne(store_put(s, "k", "/nonexistent/local/file"), ES_OK);
	ck_assert(!exists("dest/out/k"));
	store_free(s);
	free(src1);
	free(src2);
	cleanup_tmpdir();
}
END_TEST

START_TEST(odd_key_round_trip)
{
	static const char *keys[] = {
		"dir with space/a+b=c%20d.ndjson",
		"\xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb6" "d" "\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.gz",
		"%2F/plus+/eq=/~tilde",
		"trailing space /x ",
	};
	store *s;
	store_list l = { NULL, 0, 0 };

	make_tmpdir();
	s = open_store_at("root/");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *content = xasprintf("content of key %zu\n", i);
		char *src = local_file("src", content, strlen(content));

		ck_assert_msg(store_put(s, keys[i], src) == ES_OK, "put '%s'", keys[i]);
		free(src);
		free(content);
	}
	/* the local source file is outside the root */
	ck_assert_int_eq(store_list_objects(s, &l), ES_OK);
	ck_assert_uint_eq(l.count, sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const store_object *o = find_obj(&l, keys[i]);
		char *content = xasprintf("content of key %zu\n", i);
		buf out = BUF_INIT;
		char *url;

		ck_assert_msg(o != NULL, "'%s' not listed", keys[i]);
		ck_assert_int_eq(store_get(s, o, collect, &out), ES_OK);
		ck_assert_uint_eq(out.len, strlen(content));
		ck_assert(!memcmp(out.data, content, out.len));
		url = store_url(s, keys[i]);
		ck_assert(!strncmp(url, "file:///tmp/evshare-store-", 26));
		ck_assert_ptr_nonnull(strstr(url, keys[i]));
		free(url);
		buf_release(&out);
		free(content);
	}
	store_list_release(&l);
	store_free(s);
	cleanup_tmpdir();
}
END_TEST

START_TEST(symlinked_components_refused)
{
	store *s;
	buf out = BUF_INIT;
	char *src;

	make_tmpdir();
	write_rel("outside/f", "secret\n");
	write_rel("root/ok/g", "fine\n");
	{
		char *od = tpath("outside"), *l1 = tpath("root/sl"), *l2 = tpath("root/ok/leaf");
		char *of = tpath("outside/f");

		ck_assert_int_eq(symlink(od, l1), 0);
		ck_assert_int_eq(symlink(of, l2), 0);
		free(od);
		free(l1);
		free(l2);
		free(of);
	}
	s = open_store_at("root/");
	/* get through a symlinked directory, or of a symlink leaf */
	ck_assert_int_ne(get_key(s, "sl/f", 100, "", &out), ES_OK);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_ne(get_key(s, "ok/leaf", 100, "", &out), ES_OK);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(get_key(s, "ok/g", 5, "", &out), ES_OK);
	ck_assert_uint_eq(out.len, 5);
	/* put through a symlinked directory writes nothing outside */
	src = local_file("src", "x\n", 2);
	ck_assert_int_ne(store_put(s, "sl/new", src), ES_OK);
	ck_assert(!exists("outside/new"));
	free(src);
	buf_release(&out);
	store_free(s);
	cleanup_tmpdir();
}
END_TEST

Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_test(tc, location_file_urls);
	tcase_add_test(tc, location_bucket_urls);
	tcase_add_test(tc, location_overlaps);
	tcase_add_test(tc, location_checks);
	tcase_add_test(tc, location_checks_tell_every_key);
	tcase_add_test(tc, open_refuses_what_check_finds);
	tcase_add_test(tc, buckets_that_are_no_host_names);
	tcase_add_test(tc, key_urls);
	tcase_add_test(tc, key_safety);
	tcase_add_test(tc, key_with_trailing_slash_is_unsafe);
	tcase_add_test(tc, list_nested_with_metadata);
	tcase_add_test(tc, list_skips_symlinks_and_temps);
	tcase_add_test(tc, list_missing_root_fails);
	tcase_add_test(tc, get_streams_exact_bytes);
	tcase_add_test(tc, get_stops_past_the_listed_size);
	tcase_add_test(tc, list_is_bounded);
	tcase_add_test(tc, get_fails_on_change_or_absence);
	tcase_add_test(tc, put_creates_replaces_refuses);
	tcase_add_test(tc, odd_key_round_trip);
	tcase_add_test(tc, symlinked_components_refused);
	suite_add_tcase(s, tc);
	return s;
}
