/*
 * azsign.c - Azure Storage Shared Key signing; see azsign.h.
 *
 * Three steps: check the request, build the string to sign (standard
 * headers, canonicalized x-ms-* headers, canonicalized resource), then
 * HMAC-SHA256 it with the decoded account key and Base64 the MAC.
 */
#include "azsign.h"
#include "log.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The standard headers of the string to sign, in its order. */
static const char *const std_headers[] = {
	"Content-Encoding", "Content-Language", "Content-Length", "Content-MD5",
	"Content-Type", "Date", "If-Modified-Since", "If-Match", "If-None-Match",
	"If-Unmodified-Since", "Range", NULL
};
#define N_STD 11

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!is_tchar(*s))
			return false;
	return true;
}

/* A control character other than a tab? */
static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return true;
	return false;
}

/* printable ASCII, no space; none of the bytes in `not` */
static bool plain_ascii(const char *s, const char *not)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || strchr(not, *s))
			return false;
	return true;
}

/* %XX-decode s[0..n) ('+' kept) into an allocated string; NULL if a
 * %-escape is bad or decodes to NUL. */
static char *query_decode(const char *s, size_t n, bool lower)
{
	buf d = BUF_INIT;

	if (pct_decode(&d, s, n, PCT_NUL_IS_BAD) != PCT_OK) {
		buf_release(&d);
		return NULL;
	}
	if (lower)
		for (size_t i = 0; i < d.len; i++)
			if (d.data[i] >= 'A' && d.data[i] <= 'Z')
				d.data[i] = (char)(d.data[i] - 'A' + 'a');
	return buf_detach(&d, NULL);
}

struct param {
	char *name;
	char *value;
};

static int param_cmp(const void *a, const void *b)
{
	const struct param *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

struct xms {
	char *name;          /* lowercased */
	const char *value;   /* borrowed */
	size_t vlen;         /* trimmed */
};

static int xms_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xms *)a)->name, ((const struct xms *)b)->name);
}

static void sign_error(const char *what)
{
	log_msg(LOG_ERROR, NULL, "azsign: %s", what);
}

/* Append the canonicalized resource: "/" account path, then the query. */
static bool add_resource(buf *b, const char *account, const azsign_request *req)
{
	struct param *ps = NULL;
	size_t np = 0, alloc = 0;
	const char *q = req->query ? req->query : "";
	bool ok = false;

	buf_printf(b, "/%s%s", account, req->path);
	while (*q) {
		size_t len = strcspn(q, "&");
		const char *eq = memchr(q, '=', len);
		size_t nlen = eq ? (size_t)(eq - q) : len;

		if (nlen) {
			char *name = query_decode(q, nlen, true);
			char *value = eq ? query_decode(eq + 1, len - nlen - 1, false) : xstrdup("");

			if (!name || !value) {
				free(name);
				free(value);
				sign_error("the query has a bad %-escape or a %00");
				goto done;
			}
			ps = xgrow(ps, np + 1, &alloc, sizeof(*ps));
			ps[np].name = name;
			ps[np].value = value;
			np++;
		}
		q += len;
		if (*q == '&')
			q++;
	}
	if (np)
		qsort(ps, np, sizeof(*ps), param_cmp);
	for (size_t i = 0; i < np; i++) {
		if (i && !strcmp(ps[i].name, ps[i - 1].name)) {
			buf_printf(b, ",%s", ps[i].value);
			continue;
		}
		buf_printf(b, "\n%s:%s", ps[i].name, ps[i].value);
	}
	ok = true;
done:
	for (size_t i = 0; i < np; i++) {
		free(ps[i].name);
		free(ps[i].value);
	}
	free(ps);
	return ok;
}

/*
 * The string to sign of req.  date: the x-ms-date the signer adds (NULL:
 * the caller's must be among the headers).  NULL after a logged refusal.
 */
static char *build_sts(const azsign_request *req, const char *account, const char *date)
{
	const char *std[N_STD] = { 0 };
	struct xms *x = NULL;
	size_t nx = 0, total;
	buf b = BUF_INIT;
	char len[24];
	bool have_date = false;

	if (!req || !req->method || !is_token(req->method)) {
		sign_error("the method is not an HTTP token");
		return NULL;
	}
	if (!account || !*account || !plain_ascii(account, "/?#%")) {
		sign_error("the account name is empty or not plain ASCII");
		return NULL;
	}
	if (!req->path || req->path[0] != '/' || !plain_ascii(req->path, "?#")) {
		sign_error("the path must start with '/' and be percent-encoded "
			   "(printable ASCII, no space, '?' or '#')");
		return NULL;
	}
	if (req->query && *req->query && !plain_ascii(req->query, "#")) {
		sign_error("the query must be percent-encoded (printable ASCII, no space or '#')");
		return NULL;
	}
	if (req->nheaders > AZSIGN_MAX_HEADERS || (req->nheaders && !req->headers)) {
		sign_error("too many headers");
		return NULL;
	}
	total = strlen(req->path) + (req->query ? strlen(req->query) : 0);
	for (size_t i = 0; i < req->nheaders; i++) {
		const azsign_header *h = &req->headers[i];

		if (!h->name || !h->value || !is_token(h->name)) {
			sign_error("a header name is not an HTTP token");
			goto fail;
		}
		if (has_ctl(h->value)) {
			log_msg(LOG_ERROR, NULL, "azsign: header '%s' has a control character",
				h->name);
			goto fail;
		}
		total += strlen(h->name) + strlen(h->value) + 2;
		if (!strcasecmp(h->name, "Authorization") || !strcasecmp(h->name, "Date") ||
		    !strcasecmp(h->name, "Content-Length") ||
		    (date && !strcasecmp(h->name, "x-ms-date"))) {
			log_msg(LOG_ERROR, NULL, "azsign: header '%s' is the signer's own", h->name);
			goto fail;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcasecmp(h->name, req->headers[j].name)) {
				log_msg(LOG_ERROR, NULL, "azsign: header '%s' is repeated", h->name);
				goto fail;
			}
		if (!strncasecmp(h->name, "x-ms-", 5)) {
			const char *v = h->value;
			size_t vl = strlen(v);
			char *name = xstrdup(h->name);

			for (char *p = name; *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
			while (*v == ' ' || *v == '\t')
				v++, vl--;
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			x = xrealloc(x, (nx + 1) * sizeof(*x));
			x[nx++] = (struct xms){ name, v, vl };
			if (!strcmp(name, "x-ms-date"))
				have_date = true;
			continue;
		}
		for (size_t k = 0; k < N_STD; k++)
			if (!strcasecmp(h->name, std_headers[k]))
				std[k] = h->value;
	}
	if (total > AZSIGN_MAX_INPUT) {
		sign_error("path, query and headers are over the input limit");
		goto fail;
	}
	if (!date && !have_date) {
		sign_error("no x-ms-date header");
		goto fail;
	}
	if (date) {
		x = xrealloc(x, (nx + 1) * sizeof(*x));
		x[nx++] = (struct xms){ xstrdup("x-ms-date"), date, strlen(date) };
	}
	qsort(x, nx, sizeof(*x), xms_cmp);

	buf_printf(&b, "%s\n", req->method);
	snprintf(len, sizeof(len), "%llu", (unsigned long long)req->content_length);
	for (size_t k = 0; k < N_STD; k++) {
		if (!strcmp(std_headers[k], "Content-Length"))
			buf_addstr(&b, req->content_length ? len : "");
		else if (std[k])
			buf_addstr(&b, std[k]);
		buf_addch(&b, '\n');
	}
	for (size_t i = 0; i < nx; i++) {
		buf_printf(&b, "%s:", x[i].name);
		buf_add(&b, x[i].value, x[i].vlen);
		buf_addch(&b, '\n');
	}
	if (!add_resource(&b, account, req))
		goto fail;
	for (size_t i = 0; i < nx; i++)
		free(x[i].name);
	free(x);
	return buf_detach(&b, NULL);
fail:
	for (size_t i = 0; i < nx; i++)
		free(x[i].name);
	free(x);
	buf_release(&b);
	return NULL;
}

char *azsign_string_to_sign(const azsign_request *req, const char *account)
{
	return build_sts(req, account, NULL);
}

void azsign_format_date(int64_t time_s, char out[AZSIGN_DATE_LEN])
{
	static const char *const wday[] = { "Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int y, m, d, hh, mm, ss;
	int64_t days = time_s >= 0 ? time_s / 86400 : (time_s - 86399) / 86400;
	int w = (int)(((days % 7) + 7) % 7);

	time_utc_fields(time_s * 1000, &y, &m, &d, &hh, &mm, &ss);
	snprintf(out, AZSIGN_DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT", wday[w],
		 d, mon[(m - 1) % 12], y % 10000, hh, mm, ss);
}

es_result azsign_sign(const azsign_request *req, const char *account,
		      const unsigned char *key, size_t key_len, int64_t time_s,
		      azsign_result *out)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	buf auth = BUF_INIT;

	memset(out, 0, sizeof(*out));
	if (!key || !key_len || key_len > 1024) {
		sign_error("the account key is empty or too long");
		return ES_ERR_INTERNAL;
	}
	azsign_format_date(time_s, out->x_ms_date);
	out->string_to_sign = build_sts(req, account, out->x_ms_date);
	if (!out->string_to_sign) {
		azsign_result_release(out);
		return ES_ERR_INTERNAL;
	}
	if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)out->string_to_sign,
		  strlen(out->string_to_sign), mac, &mac_len))
		die("azsign: HMAC-SHA256 failed");
	buf_printf(&auth, "SharedKey %s:", account);
	buf_add_base64(&auth, mac, mac_len);
	secure_wipe(mac, sizeof(mac));
	out->authorization = buf_detach(&auth, NULL);
	out->add[0] = (azsign_header){ "x-ms-date", out->x_ms_date };
	out->add[1] = (azsign_header){ "Authorization", out->authorization };
	out->nadd = 2;
	return ES_OK;
}

void azsign_result_release(azsign_result *r)
{
	if (!r)
		return;
	if (r->authorization)
		secure_wipe(r->authorization, strlen(r->authorization));
	free(r->authorization);
	free(r->string_to_sign);
	memset(r, 0, sizeof(*r));
}
