/*
 * azcreds.c - Azure Storage credentials from connection strings, the
 * AZURE_STORAGE_* environment and per-location credentials files.  See
 * azcreds.h.
 */
#include "azcreds.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The emulator key published in Microsoft's Azurite documentation (not a
 * secret: every Azurite has it). */
static const char dev_key[] =
	"Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
	"K1SZFPTOtr/KBHBeksoGMGw==";

static void wipe_free(char *s)
{
	if (s) {
		secure_wipe(s, strlen(s));
		free(s);
	}
}

/* A variable's value, or NULL when unset or empty. */
static const char *env_get(const creds_env *env, const char *name)
{
	const char *v = env->get(env->ud, name);

	return v && *v ? v : NULL;
}

/* --- Base64 ------------------------------------------------------------ */

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

unsigned char *az_base64_decode(const char *s, size_t n, size_t *out_len)
{
	unsigned char *out;
	size_t pad = 0, j = 0;

	*out_len = 0;
	if (n == 0 || n % 4)
		return NULL;
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	out = xmalloc(n / 4 * 3);
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		bool last = i + 4 == n;

		for (int k = 0; k < 4; k++) {
			bool padded = last && k >= 4 - (int)pad;

			v[k] = padded ? 0 : b64_value(s[i + k]);
			if (v[k] < 0)
				goto bad;
		}
		/* the bits the padding drops must be zero (canonical form) */
		if (last && pad == 1 && (v[2] & 0x3))
			goto bad;
		if (last && pad == 2 && (v[1] & 0xf))
			goto bad;
		out[j++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (!(last && pad == 2))
			out[j++] = (unsigned char)((v[1] & 0xf) << 4 | v[2] >> 2);
		if (!(last && pad >= 1))
			out[j++] = (unsigned char)((v[2] & 0x3) << 6 | v[3]);
	}
	*out_len = j;
	return out;
bad:
	secure_wipe(out, n / 4 * 3);
	free(out);
	return NULL;
}

bool az_sas_is_valid(const char *s)
{
	const char *p = s;
	bool sig = false;

	if (!*s)
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
			return false;
	for (p = s; *p;) {
		size_t len = strcspn(p, "&");

		if (len > 4 && !strncmp(p, "sig=", 4))
			sig = true;
		p += len;
		if (*p)
			p++;
	}
	return sig;
}

/* --- connection strings ------------------------------------------------ */

void az_conn_string_release(az_conn_string *c)
{
	if (!c)
		return;
	free(c->account);
	wipe_free(c->account_key);
	wipe_free(c->sas);
	free(c->blob_endpoint);
	free(c->protocol);
	free(c->endpoint_suffix);
	memset(c, 0, sizeof(*c));
}

es_result az_conn_string_parse(const char *s, size_t n, const char *origin,
			       az_conn_string *out, buf *err)
{
	static const char *const known[] = {
		"AccountName", "AccountKey", "SharedAccessSignature", "BlobEndpoint",
		"DefaultEndpointsProtocol", "EndpointSuffix", "UseDevelopmentStorage", NULL
	};
	const char *p;
	size_t pairs = 0;

	memset(out, 0, sizeof(*out));
	if (n > AZ_CREDS_MAX_BYTES) {
		buf_printf(err, "%s: connection string over %u bytes", origin, AZ_CREDS_MAX_BYTES);
		return ES_ERR_CONFIG;
	}
	p = span_trim(s, &n);
	while (n) {
		const char *semi = memchr(p, ';', n);
		size_t len = semi ? (size_t)(semi - p) : n, klen, vlen;
		const char *k = p, *eq, *v;
		char **field = NULL;
		size_t ki;

		p += len;
		n -= len;
		if (n) {
			p++;
			n--;
		}
		k = span_trim(k, &len);
		if (!len)
			continue;
		pairs++;
		eq = memchr(k, '=', len);
		if (!eq) {
			buf_printf(err, "%s: pair %zu of the connection string has no '='", origin,
				   pairs);
			goto fail;
		}
		klen = (size_t)(eq - k);
		vlen = len - klen - 1;
		k = span_trim(k, &klen);
		v = span_trim(eq + 1, &vlen);
		for (size_t i = 0; i < klen; i++)
			if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] >= 0x7f) {
				buf_printf(err, "%s: pair %zu of the connection string has an invalid "
					   "key", origin, pairs);
				goto fail;
			}
		if (klen == strlen("DevelopmentStorageProxyUri") &&
		    !strncasecmp(k, "DevelopmentStorageProxyUri", klen)) {
			buf_printf(err, "%s: DevelopmentStorageProxyUri is not supported", origin);
			goto fail;
		}
		for (ki = 0; known[ki]; ki++)
			if (strlen(known[ki]) == klen && !strncasecmp(k, known[ki], klen))
				break;
		if (!known[ki])
			continue;    /* QueueEndpoint, TableEndpoint...: not ours */
		switch (ki) {
		case 0: field = &out->account; break;
		case 1: field = &out->account_key; break;
		case 2: field = &out->sas; break;
		case 3: field = &out->blob_endpoint; break;
		case 4: field = &out->protocol; break;
		case 5: field = &out->endpoint_suffix; break;
		default: break;
		}
		if (ki == 6) {
			if (out->dev_storage || (vlen != 4 || strncasecmp(v, "true", 4))) {
				buf_printf(err, "%s: UseDevelopmentStorage %s", origin,
					   out->dev_storage ? "is repeated" : "must be true");
				goto fail;
			}
			out->dev_storage = true;
			continue;
		}
		if (*field) {
			buf_printf(err, "%s: %s is repeated in the connection string", origin,
				   known[ki]);
			goto fail;
		}
		if (!vlen) {
			buf_printf(err, "%s: %s is empty in the connection string", origin, known[ki]);
			goto fail;
		}
		if (ki == 2 && *v == '?') {
			v++;
			vlen--;
		}
		if (ki == 3)
			while (vlen > 1 && v[vlen - 1] == '/')
				vlen--;
		*field = xstrndup(v, vlen);
	}
	if (out->protocol && strcmp(out->protocol, "https") && strcmp(out->protocol, "http")) {
		buf_printf(err, "%s: DefaultEndpointsProtocol must be http or https", origin);
		goto fail;
	}
	if (out->sas && !az_sas_is_valid(out->sas)) {
		buf_printf(err, "%s: SharedAccessSignature is not a SAS token (a query string "
			   "with sig=)", origin);
		goto fail;
	}
	if (!pairs) {
		buf_printf(err, "%s: the connection string is empty", origin);
		goto fail;
	}
	return ES_OK;
fail:
	az_conn_string_release(out);
	return ES_ERR_CONFIG;
}

/* --- credentials -------------------------------------------------------- */

void az_credentials_release(az_credentials *c)
{
	if (!c)
		return;
	if (c->key) {
		secure_wipe(c->key, c->key_len);
		free(c->key);
	}
	wipe_free(c->sas);
	free(c->endpoint);
	free(c->source);
	memset(c, 0, sizeof(*c));
}

/* A server's error reply may echo the request (a SAS in its query): the
 * token and its signature, as sent and %-decoded, are registered so that
 * no message holds them (log.h). */
static void register_sas(const char *sas)
{
	const char *p = sas;

	log_add_secret(sas, strlen(sas));
	while (*p) {
		size_t len = strcspn(p, "&");

		if (len > 4 && !strncmp(p, "sig=", 4)) {
			char *decoded = xmalloc(len);
			size_t n = 0;

			log_add_secret(p + 4, len - 4);
			for (size_t i = 4; i < len; i++) {
				int hi, lo;

				if (p[i] == '%' && i + 2 < len && (hi = hex_digit(p[i + 1])) >= 0 &&
				    (lo = hex_digit(p[i + 2])) >= 0) {
					decoded[n++] = (char)(hi << 4 | lo);
					i += 2;
				} else {
					decoded[n++] = p[i];
				}
			}
			log_add_secret(decoded, n);
			secure_wipe(decoded, len);
			free(decoded);
		}
		p += len;
		if (*p)
			p++;
	}
}

static es_result take_key(az_credentials *out, const char *b64, const char *what, buf *err)
{
	size_t n = strlen(b64);
	const char *p = span_trim(b64, &n);

	out->key = az_base64_decode(p, n, &out->key_len);
	if (!out->key || out->key_len > AZ_MAX_KEY_BYTES) {
		buf_printf(err, "%s: the account key is not valid Base64 of at most %d bytes", what,
			   AZ_MAX_KEY_BYTES);
		return ES_ERR_CONFIG;
	}
	log_add_secret(p, n);
	return ES_OK;
}

static es_result take_sas(az_credentials *out, const char *sas, const char *what, buf *err)
{
	size_t n = strlen(sas);
	const char *p = span_trim(sas, &n);

	if (n && *p == '?') {
		p++;
		n--;
	}
	out->sas = xstrndup(p, n);
	if (!az_sas_is_valid(out->sas)) {
		buf_printf(err, "%s: not a SAS token (a query string with sig=, printable ASCII, "
			   "no space or '#')", what);
		return ES_ERR_CONFIG;
	}
	register_sas(out->sas);
	return ES_OK;
}

/* Credentials from a parsed connection string. */
static es_result from_conn(const az_conn_string *cs, const char *account, const char *what,
			   az_credentials *out, buf *err)
{
	const char *name = cs->dev_storage ? AZ_DEV_ACCOUNT : cs->account;

	if (cs->dev_storage && cs->account && strcmp(cs->account, AZ_DEV_ACCOUNT)) {
		buf_printf(err, "%s: UseDevelopmentStorage is for account '%s', not '%s'", what,
			   AZ_DEV_ACCOUNT, cs->account);
		return ES_ERR_CONFIG;
	}
	if (name && strcmp(name, account)) {
		buf_printf(err, "%s is for account '%s', not '%s'", what, name, account);
		return ES_ERR_CONFIG;
	}
	if (cs->sas)
		register_sas(cs->sas);     /* used or not, a secret of the string */
	if (cs->account_key) {
		if (take_key(out, cs->account_key, what, err) != ES_OK)
			return ES_ERR_CONFIG;
	} else if (cs->sas) {
		out->sas = xstrdup(cs->sas);
	} else if (cs->dev_storage) {
		if (take_key(out, dev_key, what, err) != ES_OK)
			return ES_ERR_CONFIG;
	} else {
		buf_printf(err, "%s has neither AccountKey nor SharedAccessSignature", what);
		return ES_ERR_CONFIG;
	}
	if (cs->blob_endpoint)
		out->endpoint = xstrdup(cs->blob_endpoint);
	else if (cs->dev_storage)
		out->endpoint = xstrdup(AZ_DEV_ENDPOINT);
	else if (cs->protocol || cs->endpoint_suffix)
		out->endpoint = xasprintf("%s://%s.blob.%s", cs->protocol ? cs->protocol : "https",
					  account, cs->endpoint_suffix ? cs->endpoint_suffix
								       : "core.windows.net");
	return ES_OK;
}

/* Read a credentials file (at most AZ_CREDS_MAX_BYTES) into an allocated
 * string the caller wipes.  NULL with a reason in err. */
static char *read_secret_file(const char *path, size_t *len, buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	char *data = NULL;
	size_t n = 0;

	if (fd < 0 || fstat(fd, &sb) < 0) {
		buf_printf(err, "cannot read credentials file '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size > (off_t)AZ_CREDS_MAX_BYTES) {
		buf_printf(err, "credentials file '%s' is not a regular file of at most %u bytes",
			   path, AZ_CREDS_MAX_BYTES);
		goto fail;
	}
	if ((sb.st_mode & 077) && log_first_time(path))
		log_msg(LOG_WARNING, NULL, "credentials file '%s' can be read by other users "
			"(chmod 600 it)", path);
	data = xmalloc((size_t)sb.st_size + 1);
	while (n < (size_t)sb.st_size) {
		ssize_t r = read(fd, data + n, (size_t)sb.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			buf_printf(err, "cannot read credentials file '%s': %s", path,
				   strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	data[n] = '\0';
	close(fd);
	*len = n;
	return data;
fail:
	if (data) {
		secure_wipe(data, (size_t)sb.st_size + 1);
		free(data);
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static es_result load_conn(const char *text, size_t n, const char *account,
			   const char *what, az_credentials *out, buf *err)
{
	az_conn_string cs;
	es_result r;

	if ((r = az_conn_string_parse(text, n, what, &cs, err)) != ES_OK)
		return r;
	r = from_conn(&cs, account, what, out, err);
	az_conn_string_release(&cs);
	return r;
}

es_result az_credentials_load(const creds_env *env, const char *account,
			      const char *credentials_file, az_credentials *out, buf *err)
{
	const char *v, *named;
	es_result r;

	memset(out, 0, sizeof(*out));
	if (!env)
		env = creds_process_env();
	if (credentials_file) {
		size_t n = 0;
		char *text = read_secret_file(credentials_file, &n, err);

		if (!text)
			return ES_ERR_CONFIG;
		out->source = xasprintf("credentials file '%s'", credentials_file);
		r = load_conn(text, n, account, out->source, out, err);
		secure_wipe(text, n);
		free(text);
		goto done;
	}
	if ((v = env_get(env, "AZURE_STORAGE_CONNECTION_STRING"))) {
		out->source = xstrdup("AZURE_STORAGE_CONNECTION_STRING");
		r = load_conn(v, strlen(v), account, out->source, out, err);
		goto done;
	}
	named = env_get(env, "AZURE_STORAGE_ACCOUNT");
	if ((v = env_get(env, "AZURE_STORAGE_KEY"))) {
		out->source = xstrdup("AZURE_STORAGE_KEY");
		r = ES_ERR_CONFIG;
		if (named && strcmp(named, account))
			buf_printf(err, "AZURE_STORAGE_ACCOUNT is '%s', not '%s' (the account of "
				   "the location)", named, account);
		else
			r = take_key(out, v, "AZURE_STORAGE_KEY", err);
		goto done;
	}
	if ((v = env_get(env, "AZURE_STORAGE_SAS_TOKEN"))) {
		out->source = xstrdup("AZURE_STORAGE_SAS_TOKEN");
		r = ES_ERR_CONFIG;
		if (named && strcmp(named, account))
			buf_printf(err, "AZURE_STORAGE_ACCOUNT is '%s', not '%s' (the account of "
				   "the location)", named, account);
		else
			r = take_sas(out, v, "AZURE_STORAGE_SAS_TOKEN", err);
		goto done;
	}
	buf_printf(err, "no credentials for Azure account '%s': set "
		   "AZURE_STORAGE_CONNECTION_STRING, AZURE_STORAGE_KEY or "
		   "AZURE_STORAGE_SAS_TOKEN, or the location's \"credentials_file\"", account);
	r = ES_ERR_CONFIG;
done:
	if (r != ES_OK)
		az_credentials_release(out);
	return r;
}
