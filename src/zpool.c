/* zpool.c - worker threads compressing blocks; ordered writes per stream. */
#include "zpool.h"
#include "gz.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct zjob {
	zstream *z;
	char *in;
	size_t n;
	buf out;
	bool done;
	struct zjob *next;      /* in the stream, in submission order */
	struct zjob *qnext;     /* in the pool's work queue */
};

struct zstream {
	zpool *p;
	int level;
	int fd;
	struct zjob *head, *tail;   /* submitted, not yet written */
	bool writing;               /* a thread is writing the head */
	uint64_t bytes_out;
	uint64_t pending_in;
	int error;
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

/* Write the stream's completed blocks at the head, in order.  Called with
 * the pool lock held; drops it while writing. */
static void write_ready(zpool *p, zstream *z)
{
	while (!z->writing && z->head && z->head->done) {
		struct zjob *j = z->head;
		int err = 0;

		z->head = j->next;
		if (!z->head)
			z->tail = NULL;
		z->writing = true;
		pthread_mutex_unlock(&p->mu);
		if (!z->error && write_all(z->fd, j->out.data, j->out.len) < 0)
			err = errno;
		pthread_mutex_lock(&p->mu);
		z->writing = false;
		if (err && !z->error)
			z->error = err;
		z->bytes_out += j->out.len;
		z->pending_in -= j->n;
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

unsigned zpool_workers(const zpool *p)
{
	return p->nthreads;
}

zstream *zstream_new(zpool *p, int level, int fd)
{
	zstream *z = xcalloc(1, sizeof(*z));

	z->p = p;
	z->level = level;
	z->fd = fd;
	return z;
}

void zstream_submit(zstream *z, char *in, size_t n)
{
	zpool *p = z->p;
	struct zjob *j = xcalloc(1, sizeof(*j));

	j->z = z;
	j->in = in;
	j->n = n;
	buf_init(&j->out, 0);
	pthread_mutex_lock(&p->mu);
	while (p->in_pool >= p->max_blocks && p->nthreads)
		pthread_cond_wait(&p->progress, &p->mu);
	p->in_pool++;
	z->pending_in += n;
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

int zstream_wait(zstream *z)
{
	zpool *p = z->p;
	int err;

	pthread_mutex_lock(&p->mu);
	while (z->head || z->writing)
		pthread_cond_wait(&p->progress, &p->mu);
	err = z->error;
	pthread_mutex_unlock(&p->mu);
	return err;
}

uint64_t zstream_bytes_out(zstream *z)
{
	uint64_t v;

	pthread_mutex_lock(&z->p->mu);
	v = z->bytes_out;
	pthread_mutex_unlock(&z->p->mu);
	return v;
}

uint64_t zstream_pending_in(zstream *z)
{
	uint64_t v;

	pthread_mutex_lock(&z->p->mu);
	v = z->pending_in;
	pthread_mutex_unlock(&z->p->mu);
	return v;
}

void zstream_free(zstream *z)
{
	if (!z)
		return;
	zstream_wait(z);
	free(z);
}
