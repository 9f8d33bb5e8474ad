/*
 * util.h - the small things every module of evshare uses.
 *
 * Out of memory is fatal: the x* allocators print one message and exit 70.
 * A batch job has nothing better to do, so error plumbing elsewhere is about
 * I/O, HTTP and data, never about malloc.
 *
 * Errors: every fallible function returns an es_result.  ES_OK is 0; the
 * others say what kind of failure it was, and only main() turns a result
 * into an exit status (es_exit_status).  A function that fails logs the
 * failure once, where the context is known, and returns the result.
 *
 * buf: a growable byte buffer with a cap.  The bytes are always followed by
 * a NUL (not counted in len) so that a buf can be used as a C string when
 * it holds text.  buf_release() frees the bytes and leaves an empty buf.
 */
#ifndef EVSHARE_UTIL_H
#define EVSHARE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum es_result {
	ES_OK = 0,
	ES_ERR_USAGE,     /* bad command line                        -> 64 */
	ES_ERR_DATA,      /* bad input data where it is fatal         -> 65 */
	ES_ERR_STATE,     /* state directory content is corrupt       -> 65 */
	ES_ERR_INTERNAL,  /* a bug                                    -> 70 */
	ES_ERR_IO,        /* local I/O (disk full, permissions)       -> 74 */
	ES_ERR_TEMP,      /* try again later: lock held, network      -> 75 */
	ES_ERR_AUTH,      /* credentials refused                      -> 77 */
	ES_ERR_REMOTE,    /* the remote store refused for good        -> 69 */
	ES_ERR_CONFIG,    /* configuration error                      -> 78 */
	ES_ERR_PARTIAL    /* the run finished but some files failed   -> 1  */
} es_result;

/* The exit status for a result (sysexits.h values; 0 and 1 as documented). */
int es_exit_status(es_result r);
/* A short lowercase name for a result ("temporary failure"). */
const char *es_result_name(es_result r);

/* Allocation: never returns NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A newly allocated string made like printf; never NULL. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Grow an array of *alloc elements of size `size` to hold at least `need`. */
void *xgrow(void *p, size_t need, size_t *alloc, size_t size);

/* Print "evshare: fatal: ..." and exit 70.  For impossible situations. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

typedef struct buf {
	char *data;     /* NULL until the first append; NUL-terminated after */
	size_t len;
	size_t alloc;
	size_t cap;     /* appends that would exceed cap fail; 0 means SIZE_MAX */
} buf;

#define BUF_INIT { NULL, 0, 0, 0 }

void buf_init(buf *b, size_t cap);
/* Free the bytes; the buf is empty and usable again (cap kept). */
void buf_release(buf *b);
/* Forget the content, keep the memory. */
void buf_reset(buf *b);
/* Make room for `extra` more bytes; false if that would pass the cap.
 * The first allocation is exactly the size needed; later ones double. */
bool buf_reserve(buf *b, size_t extra);
/* Append; false (and nothing appended) if the cap would be passed. */
bool buf_add(buf *b, const void *p, size_t n);
bool buf_addstr(buf *b, const char *s);
bool buf_addch(buf *b, char c);
bool buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool buf_vprintf(buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Take the bytes (NUL-terminated, never NULL); the buf is left empty. */
char *buf_detach(buf *b, size_t *len);

/* Append s as a JSON string literal (quotes included, UTF-8 kept as is,
 * control characters and invalid UTF-8 bytes escaped as \u00XX). */
void buf_add_json_string(buf *b, const char *s, size_t n);
/* The inside of that literal (no quotes); with keep_bytes, bytes that are
 * not UTF-8 are kept as they are instead of \u00XX (for the files evshare
 * reads back, whose keys may be file names: jsonw.h, JSONW_BYTES). */
void buf_add_json_chars(buf *b, const char *s, size_t n, bool keep_bytes);

/* s[0..n) appended to b with each control character (below 0x20, and
 * 0x7f) written as \n, \r, \t or \xHH: text for a line of a log, a
 * summary or a listing that no name (an object key, a file name) can
 * break into two, or fill with terminal escapes. */
void buf_add_visible(buf *b, const char *s, size_t n);

/* s (NULL: "") made visible into scratch; returns scratch's text. */
const char *visible(buf *scratch, const char *s);

/* Base64 (RFC 4648, with padding). */
void buf_add_base64(buf *b, const void *p, size_t n);

/* Lowercase hex of n bytes into out (2n+1 bytes incl. NUL). */
void hex_encode(const unsigned char *p, size_t n, char *out);

/* Length of the valid UTF-8 sequence at p (n >= 1 bytes left), or 0:
 * no overlongs, no surrogates, nothing above U+10FFFF.  An ASCII byte is
 * 1.  Inline: the event scanner calls it for every byte >= 0x80. */
static inline size_t utf8_char_len(const void *s, size_t n)
{
	const unsigned char *p = s;
	unsigned char c = p[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (n < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f))
			return 0;       /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (n < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] > 0x8f))
			return 0;       /* overlong, above U+10FFFF */
		return 4;
	}
	return 0;
}

/* Is p[0..n) valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF)? */
bool utf8_valid(const char *p, size_t n);

/* Parse a decimal unsigned integer that fills the whole string. */
bool parse_u64(const char *s, uint64_t *out);

/* Time: milliseconds since the epoch, UTC. */
int64_t time_now_ms(void);
/* Format t (ms) as RFC 3339 UTC with milliseconds: 2026-11-27T00:46:12.000Z. */
void time_format_rfc3339(int64_t t_ms, char out[32]);
/* Format t (ms) as 20261127T004612Z. */
void time_format_compact(int64_t t_ms, char out[20]);
/* Parse RFC 3339 ("2026-11-27T00:46:12Z", fraction and offset allowed, a
 * bare date "2026-11-27" means midnight UTC); false if malformed. */
bool time_parse_rfc3339(const char *s, int64_t *out_ms);
/* Parse a duration "90s", "15m", "36h", "7d" (also plain seconds). */
bool duration_parse(const char *s, int64_t *out_ms);
/* Broken-down UTC time of t (ms); reentrant. */
void time_utc_fields(int64_t t_ms, int *year, int *mon, int *day, int *hour, int *min, int *sec);

/* The value of the hex digit c (either case), or -1. */
int hex_digit(int c);

/* ASCII white space (space, \t, \n, \v, \f, \r), whatever the locale. */
bool ascii_space(char c);

/* p[0..*n) without leading and trailing ascii_space(): returns the new
 * start and updates *n. */
const char *span_trim(const char *p, size_t *n);

/* %XX-decoding of s[0..n) appended to out, for the callers' own rules. */
enum {
	PCT_PLUS_IS_SPACE = 1 << 0,   /* '+' means ' ' (form encoding) */
	PCT_NUL_IS_BAD    = 1 << 1    /* a NUL byte, literal or %00, is refused */
};
typedef enum pct_result { PCT_OK, PCT_BAD_ESCAPE, PCT_NUL } pct_result;
pct_result pct_decode(buf *out, const char *s, size_t n, unsigned flags);

/* Write all of p to fd, retrying on EINTR and short writes; -1 with errno. */
int write_all(int fd, const void *p, size_t n);
/* Create dir and its parents (mode 0755 or `mode`); -1 with errno. */
int mkdir_p(const char *path, unsigned mode);

/* n bytes from the kernel's random source (getrandom); dies if there is
 * none (a batch job cannot do without). */
void random_bytes(void *p, size_t n);

/* prefix followed by 16 random hex digits (allocated): a name nobody can
 * guess before it exists, for a temporary file. */
char *temp_name(const char *prefix);

/* Create a new file named temp_name(prefix) in the directory dirfd for
 * writing: O_CREAT|O_EXCL|O_NOFOLLOW, so nothing that was there (a file,
 * a symbolic link someone planted) is ever opened; mode less the umask.
 * Tries another name if one exists.  Returns the fd and sets *name
 * (allocated, the caller frees it), or -1 with errno and *name NULL. */
int create_temp_at(int dirfd, const char *prefix, unsigned mode, char **name);

/* Read what is left of fd, at most `cap` bytes in all, into b (appended).
 * Returns 0, or -1 with errno (EFBIG when larger than cap). */
int read_fd(int fd, buf *b, size_t cap);
/* Read a whole file of at most `cap` bytes into b. Returns 0, or -1 with
 * errno (EFBIG when larger than cap). */
int read_file(const char *path, buf *b, size_t cap);

/* Wipe memory that held a secret (not optimised away). */
void secure_wipe(void *p, size_t n);

#endif
