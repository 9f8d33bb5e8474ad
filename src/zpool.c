/* zpool.c - worker threads compressing blocks; ordered writes into files. */
#include "zpool.h"
#include "gz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct zjob {
	zstream *z;
	char *in;
	size_t n;
	const void *tag;
	bool cut_before;        /* start a new file with this block */
	buf out;
	bool done;
	struct zjob *next;      /* in the stream, in submission order */
	struct zjob *qnext;     /* in the pool's work queue */
};

struct zstream {
	zpool *p;
	int level;
	uint64_t max_bytes;
	char *prefix;
	struct zjob *head, *tail;   /* submitted, not yet written */
	bool writing;               /* a thread is writing the head */
	bool cut_pending;           /* zstream_cut() since the last submit */
	/* the file being written (by the writing thread only) */
	int fd;
	zfile cur;
	zfile grow;                 /* seq, bytes and tag of cur as of the last
				       write, under the lock (no path) */
	unsigned seq;
	/* finished files, waiting for zstream_take() */
	zfile *done;
	size_t ndone, done_alloc;
	int error;
	char *error_path;
};

struct zpool {
	pthread_mutex_t mu;
	pthread_cond_t work;        /* a job was queued, or stop */
	pthread_cond_t progress;    /* a job was written */
	struct zjob *qhead, *qtail;
	unsigned in_pool;           /* jobs submitted and not yet written */
	unsigned max_blocks;
	bool stop;
	pthread_t *threads;
	unsigned nthreads;
	gz_compressor *inline_c;    /* for zero workers */
};

void zfile_release(zfile *f)
{
	free(f->path);
	f->path = NULL;
}

/* Close the current file and move it to *closed (the writer, unlocked). */
static int close_current(zstream *z, zfile *closed)
{
	int rc = 0;

	if (z->fd < 0)
		return 0;
	if (close(z->fd) < 0)
		rc = errno;
	z->fd = -1;
	*closed = z->cur;
	memset(&z->cur, 0, sizeof(z->cur));
	return rc;
}

/* Queue a closed file as finished (the pool lock held). */
static void add_done(zstream *z, zfile *f)
{
	if (!f->path)
		return;
	z->done = xgrow(z->done, z->ndone + 1, &z->done_alloc, sizeof(*z->done));
	z->done[z->ndone++] = *f;
	memset(f, 0, sizeof(*f));
}

char *zstream_file_path(const zstream *z, unsigned seq)
{
	return xasprintf("%s%06u.gz", z->prefix, seq);
}

/* Create the file at path, new: a file of that name is one an earlier
 * attempt at the same plan left (a crash, or a restart that keeps what
 * it put); its bytes may be an output already linked into a destination,
 * which must not change, so it is unlinked, never truncated.  Never
 * opened through a link. */
static int create_new(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);

	if (fd < 0 && errno == EEXIST && unlink(path) == 0)
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	return fd;
}

/* Write one compressed block where it belongs (the writer, unlocked); a
 * file it ends goes to *closed. */
static int write_block(zstream *z, struct zjob *j, zfile *closed)
{
	int rc;

	if (z->fd >= 0 && (j->cut_before || z->cur.bytes >= z->max_bytes) &&
	    (rc = close_current(z, closed)) != 0)
		return rc;
	if (z->fd < 0) {
		z->cur.seq = ++z->seq;
		z->cur.path = zstream_file_path(z, z->cur.seq);
		z->cur.tag = j->tag;
		z->cur.bytes = 0;
		z->fd = create_new(z->cur.path);
		if (z->fd < 0)
			return errno;
	}
	if (write_all(z->fd, j->out.data, j->out.len) < 0)
		return errno;
	z->cur.bytes += j->out.len;
	return 0;
}

/* Write the stream's completed blocks at the head, in order.  Called with
 * the pool lock held; drops it while writing. */
static void write_ready(zpool *p, zstream *z)
{
	while (!z->writing && z->head && z->head->done) {
		struct zjob *j = z->head;
		zfile closed = { 0 };
		int err = 0;

		z->head = j->next;
		if (!z->head)
			z->tail = NULL;
		z->writing = true;
		pthread_mutex_unlock(&p->mu);
		if (!z->error)
			err = write_block(z, j, &closed);
		pthread_mutex_lock(&p->mu);
		z->writing = false;
		add_done(z, &closed);
		z->grow = z->cur;
		z->grow.path = NULL;      /* not ours: nobody reads it */
		if (err && !z->error) {
			z->error = err;
			z->error_path = xstrdup(z->cur.path ? z->cur.path : z->prefix);
		}
		buf_release(&j->out);
		free(j->in);
		free(j);
		p->in_pool--;
		pthread_cond_broadcast(&p->progress);
	}
}

static void *worker(void *arg)
{
	zpool *p = arg;
	gz_compressor *c = gz_compressor_new();

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct zjob *j;

		while (!p->qhead && !p->stop)
			pthread_cond_wait(&p->work, &p->mu);
		if (!p->qhead)
			break;
		j = p->qhead;
		p->qhead = j->qnext;
		if (!p->qhead)
			p->qtail = NULL;
		pthread_mutex_unlock(&p->mu);
		gz_compress_member(c, j->z->level, j->in, j->n, &j->out);
		pthread_mutex_lock(&p->mu);
		j->done = true;
		write_ready(p, j->z);
	}
	pthread_mutex_unlock(&p->mu);
	gz_compressor_free(c);
	return NULL;
}

zpool *zpool_new(unsigned workers, unsigned max_blocks)
{
	zpool *p = xcalloc(1, sizeof(*p));

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->progress, NULL);
	p->max_blocks = max_blocks ? max_blocks : 1;
	if (!workers) {
		p->inline_c = gz_compressor_new();
		return p;
	}
	p->threads = xcalloc(workers, sizeof(pthread_t));
	for (unsigned i = 0; i < workers; i++) {
		int rc = pthread_create(&p->threads[i], NULL, worker, p);

		if (rc)
			die("cannot start a compression thread: %s", strerror(rc));
		p->nthreads++;
	}
	return p;
}

void zpool_free(zpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	gz_compressor_free(p->inline_c);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->progress);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

zstream *zstream_new(zpool *p, int level, uint64_t max_bytes, const char *path_prefix)
{
	zstream *z = xcalloc(1, sizeof(*z));

	z->p = p;
	z->level = level;
	z->max_bytes = max_bytes;
	z->prefix = xstrdup(path_prefix);
	z->fd = -1;
	return z;
}

void zstream_submit(zstream *z, char *in, size_t n, const void *tag)
{
	zpool *p = z->p;
	struct zjob *j = xcalloc(1, sizeof(*j));

	j->z = z;
	j->in = in;
	j->n = n;
	j->tag = tag;
	j->cut_before = z->cut_pending;
	z->cut_pending = false;
	buf_init(&j->out, 0);
	pthread_mutex_lock(&p->mu);
	while (p->in_pool >= p->max_blocks && p->nthreads)
		pthread_cond_wait(&p->progress, &p->mu);
	p->in_pool++;
	if (z->tail)
		z->tail->next = j;
	else
		z->head = j;
	z->tail = j;
	if (!p->nthreads) {
		/* inline: compress and write now */
		pthread_mutex_unlock(&p->mu);
		gz_compress_member(p->inline_c, z->level, in, n, &j->out);
		pthread_mutex_lock(&p->mu);
		j->done = true;
		write_ready(p, z);
	} else {
		if (p->qtail)
			p->qtail->qnext = j;
		else
			p->qhead = j;
		p->qtail = j;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->mu);
}

void zstream_cut(zstream *z)
{
	z->cut_pending = true;
}

bool zstream_growing(zstream *z, unsigned *seq, uint64_t *bytes, const void **tag)
{
	bool any;

	pthread_mutex_lock(&z->p->mu);
	any = z->grow.seq != 0 && !z->error;
	if (any) {
		*seq = z->grow.seq;
		*bytes = z->grow.bytes;
		*tag = z->grow.tag;
	}
	pthread_mutex_unlock(&z->p->mu);
	return any;
}

size_t zstream_take(zstream *z, zfile **out)
{
	size_t n;

	pthread_mutex_lock(&z->p->mu);
	n = z->ndone;
	*out = n ? z->done : NULL;
	z->done = NULL;
	z->ndone = z->done_alloc = 0;
	pthread_mutex_unlock(&z->p->mu);
	return n;
}

static void wait_written(zstream *z)
{
	zpool *p = z->p;

	pthread_mutex_lock(&p->mu);
	while (z->head || z->writing)
		pthread_cond_wait(&p->progress, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

int zstream_finish(zstream *z)
{
	int err;

	wait_written(z);
	/* nothing is in flight: this thread is the only writer now */
	pthread_mutex_lock(&z->p->mu);
	if (!z->error) {
		zfile closed = { 0 };

		if ((err = close_current(z, &closed)) != 0) {
			z->error = err;
			z->error_path = xstrdup(z->prefix);
		}
		add_done(z, &closed);
		memset(&z->grow, 0, sizeof(z->grow));
	}
	err = z->error;
	pthread_mutex_unlock(&z->p->mu);
	return err;
}

int zstream_error(zstream *z)
{
	int err;

	pthread_mutex_lock(&z->p->mu);
	err = z->error;
	pthread_mutex_unlock(&z->p->mu);
	return err;
}

const char *zstream_error_path(zstream *z)
{
	return z->error_path ? z->error_path : z->prefix;
}

void zstream_free(zstream *z)
{
	if (!z)
		return;
	wait_written(z);
	if (z->fd >= 0) {
		close(z->fd);
		unlink(z->cur.path);
	}
	free(z->cur.path);
	for (size_t i = 0; i < z->ndone; i++) {
		unlink(z->done[i].path);
		free(z->done[i].path);
	}
	free(z->done);
	free(z->error_path);
	free(z->prefix);
	free(z);
}
