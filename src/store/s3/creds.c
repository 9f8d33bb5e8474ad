/*
 * creds.c - AWS credentials and settings from the environment and the
 * shared files, as the AWS CLI reads them.  See creds.h.
 */
#include "creds.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>

/* --- ini parsing ------------------------------------------------------- */

static void ini_add(aws_ini *ini, const char *section, const char *key, size_t klen,
		    const char *value, size_t vlen, unsigned line)
{
	aws_ini_entry *e;

	ini->items = xgrow(ini->items, ini->count + 1, &ini->alloc, sizeof(*ini->items));
	e = &ini->items[ini->count++];
	e->section = xstrdup(section);
	e->key = xstrndup(key, klen);
	for (char *p = e->key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	e->value = xstrndup(value, vlen);
	e->line = line;
}

static aws_ini_entry *ini_find(const aws_ini *ini, const char *section, const char *key)
{
	for (size_t i = 0; i < ini->count; i++)
		if (!strcmp(ini->items[i].section, section) && !strcmp(ini->items[i].key, key))
			return &ini->items[i];
	return NULL;
}

/* Append a continuation line to the last entry's value. */
static void ini_continue(aws_ini_entry *e, const char *p, size_t n)
{
	size_t old = strlen(e->value);
	char *v = xmalloc(old + 1 + n + 1);

	memcpy(v, e->value, old);
	v[old] = '\n';
	memcpy(v + old + 1, p, n);
	v[old + 1 + n] = '\0';
	secure_wipe(e->value, old);
	free(e->value);
	e->value = v;
}

/* Split "key = value" / "key: value" at the first '=' or ':'. */
static bool split_option(const char *p, size_t n, const char **k, size_t *klen,
			 const char **v, size_t *vlen)
{
	size_t i = 0;

	while (i < n && p[i] != '=' && p[i] != ':')
		i++;
	if (i == n)
		return false;
	*klen = i;
	*k = span_trim(p, klen);
	*vlen = n - i - 1;
	*v = span_trim(p + i + 1, vlen);
	return *klen > 0;
}

struct ini_state {
	aws_ini *ini;
	const char *name;
	buf *err;
	char *section;           /* current section, NULL before the first */
	aws_ini_entry *opt;      /* the option continuation lines belong to */
	size_t opt_index;
	size_t opt_indent;
	bool opt_nested;         /* its value was empty: lines are sub-keys */
};

static es_result ini_fail(struct ini_state *st, unsigned line, const char *why)
{
	buf_printf(st->err, "'%s' line %u: %s", st->name, line, why);
	return ES_ERR_CONFIG;
}

static es_result ini_line(struct ini_state *st, const char *p, size_t n, unsigned lineno)
{
	size_t indent = 0, tn = n;
	const char *t = span_trim(p, &tn), *k, *v;
	size_t klen, vlen;

	while (indent < n && ascii_space(p[indent]))
		indent++;
	if (!tn)
		return ES_OK;                       /* blank lines do not end a value */
	if (t[0] == '#' || t[0] == ';')
		return ES_OK;                       /* full-line comment */
	if (st->opt && indent > st->opt_indent) {
		aws_ini_entry *e = &st->ini->items[st->opt_index];

		if (!st->opt_nested) {
			ini_continue(e, t, tn);
			return ES_OK;
		}
		if (!split_option(t, tn, &k, &klen, &v, &vlen))
			return ini_fail(st, lineno, "expected 'key = value' in a nested block");
		{
			char *nk = xasprintf("%s.%.*s", e->key, (int)klen, k);

			for (char *q = nk; *q; q++)
				*q = (char)tolower((unsigned char)*q);
			if (ini_find(st->ini, st->section, nk)) {
				free(nk);
				return ini_fail(st, lineno, "duplicate key in a nested block");
			}
			ini_add(st->ini, st->section, nk, strlen(nk), v, vlen, lineno);
			free(nk);
		}
		return ES_OK;
	}
	st->opt = NULL;
	if (t[0] == '[') {
		const char *close = NULL;
		size_t hn;
		const char *h;

		for (size_t i = tn; i > 1; i--)
			if (t[i - 1] == ']') {
				close = t + i - 1;
				break;
			}
		if (!close || close == t + 1)
			return ini_fail(st, lineno, "malformed section header");
		hn = (size_t)(close - t - 1);
		h = span_trim(t + 1, &hn);
		free(st->section);
		st->section = xstrndup(h, hn);
		if (aws_ini_has_section(st->ini, st->section))
			return ini_fail(st, lineno, "duplicate section");
		st->ini->sections = xgrow(st->ini->sections, st->ini->nsections + 1,
					  &st->ini->sections_alloc, sizeof(char *));
		st->ini->sections[st->ini->nsections++] = xstrdup(st->section);
		return ES_OK;
	}
	if (!st->section)
		return ini_fail(st, lineno, "a line before the first [section]");
	if (!split_option(t, tn, &k, &klen, &v, &vlen))
		return ini_fail(st, lineno, "expected [section], 'key = value' or a comment");
	{
		char *key = xstrndup(k, klen);

		for (char *q = key; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		if (ini_find(st->ini, st->section, key)) {
			free(key);
			return ini_fail(st, lineno, "duplicate key in the section");
		}
		ini_add(st->ini, st->section, key, klen, v, vlen, lineno);
		free(key);
	}
	st->opt = &st->ini->items[st->ini->count - 1];
	st->opt_index = st->ini->count - 1;
	st->opt_indent = indent;
	st->opt_nested = vlen == 0;
	return ES_OK;
}

es_result aws_ini_parse(const char *text, size_t n, const char *name, aws_ini *out,
			buf *err)
{
	struct ini_state st = { out, name, err, NULL, NULL, 0, 0, false };
	unsigned lineno = 0;
	size_t pos = 0;
	es_result r = ES_OK;

	memset(out, 0, sizeof(*out));
	if (n > AWS_INI_MAX_BYTES) {
		buf_printf(err, "'%s': larger than %u bytes", name, AWS_INI_MAX_BYTES);
		return ES_ERR_CONFIG;
	}
	if (n >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		pos = 3;                            /* a UTF-8 byte order mark */
	while (pos < n && r == ES_OK) {
		const char *line = text + pos, *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos;

		lineno++;
		if (memchr(line, '\0', len))
			r = ini_fail(&st, lineno, "NUL byte");
		else
			r = ini_line(&st, line, len, lineno);
		pos += len + (nl ? 1 : 0);
	}
	free(st.section);
	if (r != ES_OK)
		aws_ini_release(out);
	return r;
}

const char *aws_ini_get(const aws_ini *ini, const char *section, const char *key)
{
	const aws_ini_entry *e = section ? ini_find(ini, section, key) : NULL;

	return e ? e->value : NULL;
}

bool aws_ini_has_section(const aws_ini *ini, const char *section)
{
	for (size_t i = 0; i < ini->nsections; i++)
		if (!strcmp(ini->sections[i], section))
			return true;
	return false;
}

void aws_ini_release(aws_ini *ini)
{
	if (!ini)
		return;
	for (size_t i = 0; i < ini->count; i++) {
		free(ini->items[i].section);
		free(ini->items[i].key);
		secure_wipe(ini->items[i].value, strlen(ini->items[i].value));
		free(ini->items[i].value);
	}
	free(ini->items);
	for (size_t i = 0; i < ini->nsections; i++)
		free(ini->sections[i]);
	free(ini->sections);
	memset(ini, 0, sizeof(*ini));
}

bool aws_config_section_is(const char *section, const char *profile)
{
	size_t n;

	if (!strcmp(section, "default"))
		return !strcmp(profile, "default");
	if (strncmp(section, "profile", 7) || !ascii_space(section[7]))
		return false;
	section += 8;
	while (ascii_space(*section))
		section++;
	n = strlen(section);
	if (n >= 2 && (section[0] == '"' || section[0] == '\'') && section[n - 1] == section[0]) {
		section++;
		n -= 2;
	}
	return strlen(profile) == n && !strncmp(section, profile, n);
}

/* --- the environment --------------------------------------------------- */

static const char *process_getenv(void *ud, const char *name)
{
	(void)ud;
	return getenv(name);
}

static const creds_env process_env = { process_getenv, NULL };

const creds_env *creds_process_env(void)
{
	return &process_env;
}

/* A variable's value, or NULL when unset or empty. */
static const char *env_get(const creds_env *env, const char *name)
{
	const char *v = env->get(env->ud, name);

	return v && *v ? v : NULL;
}

/* "~/x" -> "$HOME/x"; NULL if HOME is needed and unset. */
static char *expand_home(const creds_env *env, const char *path)
{
	const char *home;

	if (strncmp(path, "~/", 2))
		return xstrdup(path);
	home = env_get(env, "HOME");
	return home ? xasprintf("%s/%s", home, path + 2) : NULL;
}

/* A file that holds a secret key or token and that others may read draws
 * a warning (once per file and process); the AWS CLI itself says nothing. */
static void warn_if_exposed(const char *path, const aws_ini *ini)
{
	struct stat st;
	bool secret = false;

	for (size_t i = 0; i < ini->count && !secret; i++)
		secret = !strcmp(ini->items[i].key, "aws_secret_access_key") ||
			 !strcmp(ini->items[i].key, "aws_session_token");
	if (!secret || stat(path, &st) < 0 || !(st.st_mode & (S_IRWXG | S_IRWXO)) ||
	    !log_first_time(path))
		return;
	warning("'%s' holds secret keys and others may read it (mode %04o); "
		"make it private: chmod 600 '%s'", path, (unsigned)(st.st_mode & 07777), path);
}

/* Read and parse one shared file; a missing one is an empty ini. */
static es_result load_ini(const char *path, aws_ini *out, buf *err)
{
	buf b = BUF_INIT;
	es_result r;

	memset(out, 0, sizeof(*out));
	if (!path)
		return ES_OK;
	if (read_file(path, &b, AWS_INI_MAX_BYTES) < 0) {
		int e = errno;

		if (b.data)
			secure_wipe(b.data, b.alloc);
		buf_release(&b);
		if (e == ENOENT || e == ENOTDIR)
			return ES_OK;
		if (e == EFBIG)
			buf_printf(err, "'%s': larger than %u bytes", path, AWS_INI_MAX_BYTES);
		else
			buf_printf(err, "cannot read '%s': %s", path, strerror(e));
		return ES_ERR_CONFIG;
	}
	r = aws_ini_parse(b.data ? b.data : "", b.len, path, out, err);
	if (b.data)
		secure_wipe(b.data, b.alloc);
	buf_release(&b);
	if (r == ES_OK)
		warn_if_exposed(path, out);
	return r;
}

struct profile_view {
	const aws_ini *cred, *conf;
	const char *cred_section;    /* NULL: not in the credentials file */
	const char *conf_section;    /* NULL: not in the config file */
};

/* A profile key: the credentials file wins over the config file. */
static const char *profile_get(const struct profile_view *pv, const char *key)
{
	const char *v = aws_ini_get(pv->cred, pv->cred_section, key);

	if (!v)
		v = aws_ini_get(pv->conf, pv->conf_section, key);
	return v && *v ? v : NULL;
}

static bool is_true(const char *s)
{
	return s && !strcasecmp(s, "true");
}

static const char *const unsupported_sources[] = {
	"role_arn", "credential_process", "sso_session", "sso_start_url",
	"web_identity_token_file", "credential_source", NULL
};

static es_result keys_from_profile(const struct profile_view *pv, aws_config *out,
				   const char *cred_path, const char *conf_path, buf *err)
{
	const aws_ini *ini = NULL;
	const char *section = NULL, *path = NULL;
	const char *ak, *sk, *tok;

	/* one file gives the keys: the credentials file first, as botocore */
	if (aws_ini_get(pv->cred, pv->cred_section, "aws_access_key_id") ||
	    aws_ini_get(pv->cred, pv->cred_section, "aws_secret_access_key")) {
		ini = pv->cred;
		section = pv->cred_section;
		path = cred_path;
	} else if (aws_ini_get(pv->conf, pv->conf_section, "aws_access_key_id") ||
		   aws_ini_get(pv->conf, pv->conf_section, "aws_secret_access_key")) {
		ini = pv->conf;
		section = pv->conf_section;
		path = conf_path;
	}
	if (!ini) {
		for (size_t i = 0; unsupported_sources[i]; i++)
			if (profile_get(pv, unsupported_sources[i])) {
				buf_printf(err, "profile '%s' gets its credentials from '%s', which "
					   "evshare does not support: give the profile "
					   "aws_access_key_id and aws_secret_access_key, or set "
					   "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
					   out->profile, unsupported_sources[i]);
				return ES_ERR_CONFIG;
			}
		if (out->profile_explicit)
			buf_printf(err, "no credentials for profile '%s': it has no "
				   "aws_access_key_id and aws_secret_access_key in '%s' or '%s'",
				   out->profile, cred_path ? cred_path : "~/.aws/credentials",
				   conf_path ? conf_path : "~/.aws/config");
		else
			buf_printf(err, "no AWS credentials: AWS_ACCESS_KEY_ID and "
				   "AWS_SECRET_ACCESS_KEY are not set, and profile '%s' has no "
				   "aws_access_key_id and aws_secret_access_key in '%s' or '%s'",
				   out->profile, cred_path ? cred_path : "~/.aws/credentials",
				   conf_path ? conf_path : "~/.aws/config");
		return ES_ERR_CONFIG;
	}
	ak = aws_ini_get(ini, section, "aws_access_key_id");
	sk = aws_ini_get(ini, section, "aws_secret_access_key");
	if (!ak || !*ak || !sk || !*sk) {
		buf_printf(err, "profile '%s' in '%s' has %s but no %s", out->profile, path,
			   ak && *ak ? "aws_access_key_id" : "aws_secret_access_key",
			   ak && *ak ? "aws_secret_access_key" : "aws_access_key_id");
		return ES_ERR_CONFIG;
	}
	tok = aws_ini_get(ini, section, "aws_session_token");
	if (!tok || !*tok)
		tok = aws_ini_get(ini, section, "aws_security_token");
	out->access_key_id = xstrdup(ak);
	out->secret_access_key = xstrdup(sk);
	out->session_token = tok && *tok ? xstrdup(tok) : NULL;
	out->source = xasprintf("profile '%s' in '%s'", out->profile, path);
	return ES_OK;
}

static es_result keys_from_env(const creds_env *env, aws_config *out, bool *found, buf *err)
{
	const char *ak = env_get(env, "AWS_ACCESS_KEY_ID");
	const char *sk = env_get(env, "AWS_SECRET_ACCESS_KEY");
	const char *tok = env_get(env, "AWS_SESSION_TOKEN");

	*found = false;
	if (!ak && !sk)
		return ES_OK;
	if (!ak || !sk) {
		buf_printf(err, "%s is set but %s is not", ak ? "AWS_ACCESS_KEY_ID"
			   : "AWS_SECRET_ACCESS_KEY", ak ? "AWS_SECRET_ACCESS_KEY"
			   : "AWS_ACCESS_KEY_ID");
		return ES_ERR_CONFIG;
	}
	if (!tok)
		tok = env_get(env, "AWS_SECURITY_TOKEN");
	out->access_key_id = xstrdup(ak);
	out->secret_access_key = xstrdup(sk);
	out->session_token = tok ? xstrdup(tok) : NULL;
	out->source = xstrdup("environment");
	*found = true;
	return ES_OK;
}

static void settings_from(const creds_env *env, const struct profile_view *pv,
			  aws_config *out)
{
	const char *v;

	v = env_get(env, "AWS_REGION");
	if (!v)
		v = env_get(env, "AWS_DEFAULT_REGION");
	if (!v)
		v = profile_get(pv, "region");
	out->region = v ? xstrdup(v) : NULL;

	v = NULL;
	if (!is_true(env_get(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")) &&
	    !is_true(profile_get(pv, "ignore_configured_endpoint_urls"))) {
		v = env_get(env, "AWS_ENDPOINT_URL_S3");
		if (!v)
			v = env_get(env, "AWS_ENDPOINT_URL");
		if (!v && profile_get(pv, "services")) {
			char *sect = xasprintf("services %s", profile_get(pv, "services"));

			v = aws_ini_get(pv->conf, sect, "s3.endpoint_url");
			free(sect);
		}
		if (!v)
			v = profile_get(pv, "endpoint_url");
	}
	out->endpoint_url = v && *v ? xstrdup(v) : NULL;

	v = env_get(env, "AWS_CA_BUNDLE");
	if (!v)
		v = profile_get(pv, "ca_bundle");
	out->ca_bundle = v ? expand_home(env, v) : NULL;

	v = profile_get(pv, "s3.addressing_style");
	out->path_style = !v ? -1 : !strcmp(v, "path") ? 1 : !strcmp(v, "virtual") ? 0 : -1;
}

/* --- the shared files, read once a process ------------------------------ */

/*
 * What one profile takes from the two shared files: its section of each
 * and the "services" section it names (nothing else of the files is
 * kept), or why the files could not be read.  Made the first time a store
 * asks for the profile with these two paths, then kept for the process
 * (immutable: every later aws_config_load() of the same three reads it as
 * it is), and wiped by aws_config_cache_release().
 */
struct profile_files {
	char *cred_path, *conf_path, *profile;   /* the key; a path may be NULL */
	es_result r;                 /* reading the files */
	char *err;                   /* r != ES_OK: why */
	aws_ini cred, conf;          /* the profile's sections */
	char *cred_section;          /* NULL: not in the credentials file */
	char *conf_section;          /* NULL: not in the config file */
};

static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;
static struct profile_files **files_cache;   /* entries never move */
static size_t files_count, files_alloc;

static bool same_path(const char *a, const char *b)
{
	return a && b ? !strcmp(a, b) : a == b;
}

/* Copy the entries of `section` of src to dst, and the section itself. */
static void ini_copy_section(const aws_ini *src, const char *section, aws_ini *dst)
{
	for (size_t i = 0; i < src->count; i++) {
		const aws_ini_entry *e = &src->items[i];

		if (!strcmp(e->section, section))
			ini_add(dst, section, e->key, strlen(e->key), e->value, strlen(e->value),
				e->line);
	}
	dst->sections = xgrow(dst->sections, dst->nsections + 1, &dst->sections_alloc,
			      sizeof(char *));
	dst->sections[dst->nsections++] = xstrdup(section);
}

/* Read the two files and keep what profile takes of them. */
static void profile_files_fill(struct profile_files *pf)
{
	aws_ini cred = { 0 }, conf = { 0 };
	struct profile_view pv = { &pf->cred, &pf->conf, NULL, NULL };
	const char *services;
	buf err = BUF_INIT;

	if ((pf->r = load_ini(pf->cred_path, &cred, &err)) != ES_OK ||
	    (pf->r = load_ini(pf->conf_path, &conf, &err)) != ES_OK) {
		pf->err = buf_detach(&err, NULL);
		goto done;
	}
	if (aws_ini_has_section(&cred, pf->profile)) {
		ini_copy_section(&cred, pf->profile, &pf->cred);
		pf->cred_section = xstrdup(pf->profile);
	}
	for (size_t i = 0; i < conf.nsections; i++)
		if (aws_config_section_is(conf.sections[i], pf->profile)) {
			ini_copy_section(&conf, conf.sections[i], &pf->conf);
			pf->conf_section = xstrdup(conf.sections[i]);
			break;
		}
	pv.cred_section = pf->cred_section;
	pv.conf_section = pf->conf_section;
	if ((services = profile_get(&pv, "services"))) {
		char *sect = xasprintf("services %s", services);

		if (aws_ini_has_section(&conf, sect))
			ini_copy_section(&conf, sect, &pf->conf);
		free(sect);
	}
done:
	buf_release(&err);
	aws_ini_release(&cred);
	aws_ini_release(&conf);
}

/* What profile takes of the files at these paths (read on first use). */
static const struct profile_files *profile_files(const char *cred_path, const char *conf_path,
						 const char *profile)
{
	struct profile_files *pf = NULL;

	pthread_mutex_lock(&files_mu);
	for (size_t i = 0; i < files_count && !pf; i++)
		if (same_path(files_cache[i]->cred_path, cred_path) &&
		    same_path(files_cache[i]->conf_path, conf_path) &&
		    !strcmp(files_cache[i]->profile, profile))
			pf = files_cache[i];
	if (!pf) {
		pf = xcalloc(1, sizeof(*pf));
		pf->cred_path = cred_path ? xstrdup(cred_path) : NULL;
		pf->conf_path = conf_path ? xstrdup(conf_path) : NULL;
		pf->profile = xstrdup(profile);
		profile_files_fill(pf);
		files_cache = xgrow(files_cache, files_count + 1, &files_alloc,
				    sizeof(*files_cache));
		files_cache[files_count++] = pf;
	}
	pthread_mutex_unlock(&files_mu);
	return pf;
}

void aws_config_cache_release(void)
{
	pthread_mutex_lock(&files_mu);
	for (size_t i = 0; i < files_count; i++) {
		struct profile_files *pf = files_cache[i];

		aws_ini_release(&pf->cred);
		aws_ini_release(&pf->conf);
		free(pf->cred_path);
		free(pf->conf_path);
		free(pf->profile);
		free(pf->err);
		free(pf->cred_section);
		free(pf->conf_section);
		free(pf);
	}
	free(files_cache);
	files_cache = NULL;
	files_count = files_alloc = 0;
	pthread_mutex_unlock(&files_mu);
}

es_result aws_config_load(const creds_env *env, const char *profile, aws_config *out,
			  buf *err)
{
	const struct profile_files *pf;
	struct profile_view pv;
	char *cred_path = NULL, *conf_path = NULL;
	const char *name, *v;
	bool from_env = false;
	es_result r;

	memset(out, 0, sizeof(*out));
	out->path_style = -1;
	if (!env)
		env = creds_process_env();
	out->profile_explicit = profile && *profile;
	name = out->profile_explicit ? profile : env_get(env, "AWS_PROFILE");
	if (!name)
		name = env_get(env, "AWS_DEFAULT_PROFILE");
	out->profile = xstrdup(name ? name : "default");

	v = env_get(env, "AWS_SHARED_CREDENTIALS_FILE");
	cred_path = expand_home(env, v ? v : "~/.aws/credentials");
	v = env_get(env, "AWS_CONFIG_FILE");
	conf_path = expand_home(env, v ? v : "~/.aws/config");
	pf = profile_files(cred_path, conf_path, out->profile);
	if ((r = pf->r) != ES_OK) {
		buf_addstr(err, pf->err);
		goto done;
	}
	pv = (struct profile_view){ &pf->cred, &pf->conf, pf->cred_section, pf->conf_section };
	if (!pv.cred_section && !pv.conf_section && strcmp(out->profile, "default")) {
		buf_printf(err, "profile '%s' not found in '%s' or '%s'", out->profile,
			   cred_path ? cred_path : "~/.aws/credentials",
			   conf_path ? conf_path : "~/.aws/config");
		r = ES_ERR_CONFIG;
		goto done;
	}
	if (!out->profile_explicit && (r = keys_from_env(env, out, &from_env, err)) != ES_OK)
		goto done;
	if (!from_env && (r = keys_from_profile(&pv, out, cred_path, conf_path, err)) != ES_OK)
		goto done;
	settings_from(env, &pv, out);
	/* a server's error reply may echo a header: no message may hold them */
	log_add_secret(out->secret_access_key, strlen(out->secret_access_key));
	if (out->session_token)
		log_add_secret(out->session_token, strlen(out->session_token));
done:
	free(cred_path);
	free(conf_path);
	if (r != ES_OK)
		aws_config_release(out);
	return r;
}

static void wipe_string(char *p)
{
	if (p)
		secure_wipe(p, strlen(p));
}

void aws_config_wipe(aws_config *c)
{
	if (!c)
		return;
	wipe_string(c->access_key_id);
	wipe_string(c->secret_access_key);
	wipe_string(c->session_token);
}

void aws_config_release(aws_config *c)
{
	if (!c)
		return;
	aws_config_wipe(c);
	free(c->profile);
	free(c->access_key_id);
	free(c->secret_access_key);
	free(c->session_token);
	free(c->source);
	free(c->region);
	free(c->endpoint_url);
	free(c->ca_bundle);
	memset(c, 0, sizeof(*c));
	c->path_style = -1;
}
