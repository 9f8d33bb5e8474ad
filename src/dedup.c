/*
 * dedup.c - a set of 128-bit fingerprints in bounded memory.
 *
 * Level 0 is an open-addressing hash table in memory.  When it is full its
 * entries are sorted and written as a run file; runs of similar size are
 * merged (tiered, like a binary counter), so there are O(log n) runs and
 * every fingerprint is rewritten O(log n) times.  A Bloom filter holds
 * every fingerprint that went to disk; a lookup reads the disk only when
 * the filter says "maybe", and then reads one 4 KiB block per run, found
 * through a sparse in-memory index (the first fingerprint of each block).
 */
#include "dedup.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BLOCK_FPS 256                      /* 4 KiB blocks */
#define BLOOM_K 6
#define MIN_TABLE_SLOTS 1024
#define TABLE_MAX ((size_t)1 << 20)

static unsigned char process_key[16];
static bool process_key_set;

/* --- SipHash-2-4, 128-bit output (reference algorithm, public domain) --- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

dedup_fp siphash128(const unsigned char key[16], const void *data, size_t n)
{
	const unsigned char *in = data;
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1 ^ 0xee;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)n << 56, m;
	size_t left = n & 7;
	const unsigned char *end = in + n - left;
	dedup_fp out;

	for (; in != end; in += 8) {
		m = load_le64(in);
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = 0; i < left; i++)
		b |= (uint64_t)in[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xee;
	SIPROUND; SIPROUND; SIPROUND; SIPROUND;
	out.lo = v0 ^ v1 ^ v2 ^ v3;
	v1 ^= 0xdd;
	SIPROUND; SIPROUND; SIPROUND; SIPROUND;
	out.hi = v0 ^ v1 ^ v2 ^ v3;
	return out;
}

void dedup_init_key(void)
{
	random_bytes(process_key, sizeof(process_key));
	process_key_set = true;
}

dedup_fp dedup_fingerprint(const char *id, size_t n)
{
	if (!process_key_set)
		dedup_init_key();
	return siphash128(process_key, id, n);
}

/* --- the set --------------------------------------------------------- */

struct run {
	int fd;
	uint64_t count;
	dedup_fp *index;      /* first fingerprint of each block */
	size_t nindex;
};

struct dedup_set {
	/* level 0 */
	dedup_fp *table;      /* {0,0} marks an empty slot */
	size_t slots, used, max_slots;
	/* on disk */
	char *spill_dir;
	struct run *runs;
	size_t nruns, runs_alloc;
	uint64_t *bloom;
	uint64_t bloom_bits;  /* a power of two */
	size_t bloom_bytes;
	uint64_t count;
	unsigned char *io;    /* one block */
};

/*
 * The table and the Bloom filter are read at random, one cache line per
 * lookup; with 4 KiB pages each lookup also misses the TLB.  Large zeroed
 * areas are therefore mapped directly and marked for transparent huge
 * pages (a hint: the kernel may ignore it).  Pages are still only touched,
 * and counted, as they are used.
 */
#define HUGE_ALIGN (2u << 20)

static void *big_zalloc(size_t n)
{
	void *p;

	if (n < HUGE_ALIGN)
		return xcalloc(1, n);
	p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("out of memory (%zu bytes)", n);
	madvise(p, n, MADV_HUGEPAGE);
	return p;
}

static void big_free(void *p, size_t n)
{
	if (!p)
		return;
	if (n < HUGE_ALIGN)
		free(p);
	else
		munmap(p, n);
}

static bool fp_is_zero(dedup_fp f)
{
	return f.hi == 0 && f.lo == 0;
}

static int fp_cmp(dedup_fp a, dedup_fp b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	if (a.lo != b.lo)
		return a.lo < b.lo ? -1 : 1;
	return 0;
}

static int fp_qsort_cmp(const void *x, const void *y)
{
	return fp_cmp(*(const dedup_fp *)x, *(const dedup_fp *)y);
}

dedup_set *dedup_new(size_t mem_budget, const char *spill_dir)
{
	dedup_set *d = xcalloc(1, sizeof(*d));
	/* a third of the budget, at most 1 MiB: the table is probed at random
	 * on every insert, so it should stay in the cache; the rest goes to the
	 * Bloom filter */
	size_t table_bytes = spill_dir ? (mem_budget / 3 < TABLE_MAX ? mem_budget / 3 : TABLE_MAX)
				       : SIZE_MAX;
	size_t max_slots = MIN_TABLE_SLOTS;

	while (max_slots * 2 * sizeof(dedup_fp) <= table_bytes && max_slots < ((size_t)1 << 40))
		max_slots *= 2;
	d->max_slots = max_slots;
	/* With a spill directory the table has its final size from the start:
	 * the allocation is lazy (pages are touched as fingerprints land), and
	 * a set's footprint then no longer depends on how much input a run
	 * has once it spills.  Without one it grows by doubling. */
	d->slots = spill_dir ? max_slots : MIN_TABLE_SLOTS;
	d->table = big_zalloc(d->slots * sizeof(dedup_fp));
	if (spill_dir) {
		size_t table = max_slots * sizeof(dedup_fp);
		size_t bloom_bytes = mem_budget > table ? mem_budget - table : 0;
		uint64_t bits = 1ULL << 16;   /* the smallest filter: 8 KiB */

		while (bits < (1ULL << 40) && bits * 2 / 8 <= bloom_bytes)
			bits *= 2;
		d->bloom_bits = bits;
		d->bloom_bytes = (size_t)(bits / 8);
		d->spill_dir = xstrdup(spill_dir);
		/* allocated and touched now, so that the set's footprint is the
		 * same whether or not this run ever spills */
		d->bloom = big_zalloc(d->bloom_bytes);
		memset(d->bloom, 0, d->bloom_bytes);
	}
	return d;
}

void dedup_free(dedup_set *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nruns; i++) {
		close(d->runs[i].fd);
		free(d->runs[i].index);
	}
	free(d->runs);
	big_free(d->table, d->slots * sizeof(dedup_fp));
	big_free(d->bloom, d->bloom ? d->bloom_bytes : 0);
	free(d->spill_dir);
	free(d->io);
	free(d);
}

uint64_t dedup_count(const dedup_set *d)
{
	return d->count;
}

/* Find fp's slot: its own if present, else the empty one to use. */
static size_t table_slot(const dedup_fp *table, size_t slots, dedup_fp fp)
{
	size_t mask = slots - 1, i = (size_t)fp.lo & mask;

	while (!fp_is_zero(table[i]) && (table[i].lo != fp.lo || table[i].hi != fp.hi))
		i = (i + 1) & mask;
	return i;
}

static void table_grow(dedup_set *d)
{
	size_t nslots = d->slots * 2;
	dedup_fp *nt = big_zalloc(nslots * sizeof(dedup_fp));

	for (size_t i = 0; i < d->slots; i++)
		if (!fp_is_zero(d->table[i]))
			nt[table_slot(nt, nslots, d->table[i])] = d->table[i];
	big_free(d->table, d->slots * sizeof(dedup_fp));
	d->table = nt;
	d->slots = nslots;
}

/*
 * A blocked Bloom filter: the BLOOM_K bits of a fingerprint all lie in one
 * 512-bit block (a cache line), chosen by its low bits; the bits within
 * the block come from its high word, 9 bits at a time.  One cache miss per
 * lookup instead of BLOOM_K, for a slightly higher false-positive rate.
 */
static const uint64_t *bloom_block(const dedup_set *d, dedup_fp fp)
{
	uint64_t nblocks = d->bloom_bits / 512;

	return d->bloom + (fp.lo & (nblocks - 1)) * 8;
}

static bool bloom_maybe(const dedup_set *d, dedup_fp fp)
{
	const uint64_t *blk = bloom_block(d, fp);
	uint64_t h = fp.hi;

	for (int i = 0; i < BLOOM_K; i++, h >>= 9) {
		unsigned bit = (unsigned)(h & 511);

		if (!(blk[bit >> 6] & (1ULL << (bit & 63))))
			return false;
	}
	return true;
}

static void bloom_add(dedup_set *d, dedup_fp fp)
{
	uint64_t *blk = (uint64_t *)bloom_block(d, fp);
	uint64_t h = fp.hi;

	for (int i = 0; i < BLOOM_K; i++, h >>= 9) {
		unsigned bit = (unsigned)(h & 511);

		blk[bit >> 6] |= 1ULL << (bit & 63);
	}
}

/* Sort fingerprints by (hi, lo): LSD radix sort on hi, 16 bits a pass,
 * then the rare equal hi words put in order by lo. */
static void fp_sort(dedup_fp *a, size_t n)
{
	dedup_fp *tmp;
	size_t *count;

	if (n < 64) {
		qsort(a, n, sizeof(*a), fp_qsort_cmp);
		return;
	}
	tmp = xmalloc(n * sizeof(*tmp));
	count = xmalloc(65536 * sizeof(*count));
	for (int shift = 0; shift < 64; shift += 16) {
		size_t sum = 0;

		memset(count, 0, 65536 * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(a[i].hi >> shift) & 0xffff]++;
		for (size_t b = 0; b < 65536; b++) {
			size_t c = count[b];

			count[b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			tmp[count[(a[i].hi >> shift) & 0xffff]++] = a[i];
		memcpy(a, tmp, n * sizeof(*a));
	}
	for (size_t i = 1; i < n; i++) {
		/* insertion step for runs of equal hi (almost never) */
		size_t j = i;

		while (j > 0 && a[j - 1].hi == a[j].hi && a[j - 1].lo > a[j].lo) {
			dedup_fp t = a[j - 1];

			a[j - 1] = a[j];
			a[j] = t;
			j--;
		}
	}
	free(count);
	free(tmp);
}

static int open_spill_file(dedup_set *d)
{
	char *path = xasprintf("%s/.dedup-XXXXXX", d->spill_dir);
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	else
		error("cannot create a dedup spill file in '%s': %s", d->spill_dir,
		      strerror(errno));
	free(path);
	return fd;
}

/* Buffered sequential writer / reader of fingerprints. */
struct fp_writer {
	int fd;
	dedup_fp buf[BLOCK_FPS];
	size_t n;
	uint64_t count;
	dedup_fp *index;
	size_t nindex, index_alloc;
};

static int writer_flush(struct fp_writer *w)
{
	if (w->n && write_all(w->fd, w->buf, w->n * sizeof(dedup_fp)) < 0)
		return -1;
	w->n = 0;
	return 0;
}

static int writer_put(struct fp_writer *w, dedup_fp fp)
{
	if (w->count % BLOCK_FPS == 0) {
		w->index = xgrow(w->index, w->nindex + 1, &w->index_alloc, sizeof(dedup_fp));
		w->index[w->nindex++] = fp;
	}
	w->buf[w->n++] = fp;
	w->count++;
	return w->n == BLOCK_FPS ? writer_flush(w) : 0;
}

struct fp_reader {
	int fd;
	uint64_t left;
	off_t off;
	dedup_fp buf[BLOCK_FPS];
	size_t n, pos;
};

static int reader_next(struct fp_reader *r, dedup_fp *out)
{
	if (r->pos == r->n) {
		size_t want = r->left < BLOCK_FPS ? (size_t)r->left : BLOCK_FPS;
		ssize_t got;

		if (!want)
			return 0;
		got = pread(r->fd, r->buf, want * sizeof(dedup_fp), r->off);
		if (got != (ssize_t)(want * sizeof(dedup_fp)))
			return -1;
		r->off += got;
		r->left -= want;
		r->n = want;
		r->pos = 0;
	}
	*out = r->buf[r->pos++];
	return 1;
}

/* Merge the last two runs into one. */
static int merge_last_two(dedup_set *d)
{
	struct run *a = &d->runs[d->nruns - 2], *b = &d->runs[d->nruns - 1];
	struct fp_reader *ra = xcalloc(1, sizeof(*ra)), *rb = xcalloc(1, sizeof(*rb));
	struct fp_writer *w = xcalloc(1, sizeof(*w));
	dedup_fp fa, fb;
	int ha, hb, rc = -1;

	w->fd = open_spill_file(d);
	if (w->fd < 0)
		goto done;
	ra->fd = a->fd;
	ra->left = a->count;
	rb->fd = b->fd;
	rb->left = b->count;
	ha = reader_next(ra, &fa);
	hb = reader_next(rb, &fb);
	while (ha > 0 || hb > 0) {
		if (hb <= 0 || (ha > 0 && fp_cmp(fa, fb) <= 0)) {
			if (writer_put(w, fa) < 0)
				goto io_fail;
			ha = reader_next(ra, &fa);
		} else {
			if (writer_put(w, fb) < 0)
				goto io_fail;
			hb = reader_next(rb, &fb);
		}
		if (ha < 0 || hb < 0)
			goto io_fail;
	}
	if (writer_flush(w) < 0)
		goto io_fail;
	close(a->fd);
	close(b->fd);
	free(a->index);
	free(b->index);
	a->fd = w->fd;
	a->count = w->count;
	a->index = w->index;
	a->nindex = w->nindex;
	d->nruns--;
	w->index = NULL;
	rc = 0;
	goto done;
io_fail:
	error("cannot write a dedup spill file in '%s': %s", d->spill_dir,
	      strerror(errno));
	close(w->fd);
done:
	free(w->index);
	free(w);
	free(ra);
	free(rb);
	return rc;
}

/* Level 0 is full: sort it into a new run, then merge similar runs. */
static int spill(dedup_set *d)
{
	struct fp_writer *w = xcalloc(1, sizeof(*w));
	size_t n = 0;
	int rc = -1;

	for (size_t i = 0; i < d->slots; i++)
		if (!fp_is_zero(d->table[i]))
			d->table[n++] = d->table[i];
	fp_sort(d->table, n);
	w->fd = open_spill_file(d);
	if (w->fd < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		bloom_add(d, d->table[i]);
		if (writer_put(w, d->table[i]) < 0)
			goto io_fail;
	}
	if (writer_flush(w) < 0)
		goto io_fail;
	d->runs = xgrow(d->runs, d->nruns + 1, &d->runs_alloc, sizeof(*d->runs));
	d->runs[d->nruns].fd = w->fd;
	d->runs[d->nruns].count = w->count;
	d->runs[d->nruns].index = w->index;
	d->runs[d->nruns].nindex = w->nindex;
	d->nruns++;
	w->index = NULL;
	memset(d->table, 0, d->slots * sizeof(dedup_fp));
	d->used = 0;
	while (d->nruns >= 2 &&
	       d->runs[d->nruns - 1].count * 2 >= d->runs[d->nruns - 2].count)
		if (merge_last_two(d) < 0)
			goto done;
	rc = 0;
	goto done;
io_fail:
	error("cannot write a dedup spill file in '%s': %s", d->spill_dir,
	      strerror(errno));
	close(w->fd);
done:
	free(w->index);
	free(w);
	return rc;
}

/* Is fp in run r?  1 yes, 0 no, -1 I/O error. */
static int run_contains(dedup_set *d, const struct run *r, dedup_fp fp)
{
	size_t lo = 0, hi = r->nindex, blk, n;
	dedup_fp *blkfp;
	ssize_t got;

	if (!r->nindex || fp_cmp(fp, r->index[0]) < 0)
		return 0;
	while (hi - lo > 1) {   /* last block whose first fp <= fp */
		size_t mid = lo + (hi - lo) / 2;

		if (fp_cmp(r->index[mid], fp) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	blk = lo;
	n = blk + 1 < r->nindex ? BLOCK_FPS : (size_t)(r->count - (uint64_t)blk * BLOCK_FPS);
	if (!d->io)
		d->io = xmalloc(BLOCK_FPS * sizeof(dedup_fp));
	got = pread(r->fd, d->io, n * sizeof(dedup_fp), (off_t)blk * BLOCK_FPS * (off_t)sizeof(dedup_fp));
	if (got != (ssize_t)(n * sizeof(dedup_fp)))
		return -1;
	blkfp = (dedup_fp *)(void *)d->io;
	lo = 0;
	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = fp_cmp(blkfp[mid], fp);

		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

void dedup_prefetch(const dedup_set *d, dedup_fp fp)
{
	if (fp_is_zero(fp))
		fp.lo = 1;
	__builtin_prefetch(&d->table[(size_t)fp.lo & (d->slots - 1)]);
	if (d->nruns)
		__builtin_prefetch(bloom_block(d, fp));
}

int dedup_insert(dedup_set *d, dedup_fp fp)
{
	size_t slot;

	if (fp_is_zero(fp))
		fp.lo = 1;   /* {0,0} marks empty slots */
	slot = table_slot(d->table, d->slots, fp);
	if (!fp_is_zero(d->table[slot]))
		return 1;
	if (d->nruns && bloom_maybe(d, fp)) {
		for (size_t i = 0; i < d->nruns; i++) {
			int c = run_contains(d, &d->runs[i], fp);

			if (c < 0) {
				error("cannot read a dedup spill file in '%s': %s",
				      d->spill_dir, strerror(errno));
				return -1;
			}
			if (c)
				return 1;
		}
	}
	d->table[slot] = fp;
	d->used++;
	d->count++;
	if (d->used * 4 >= d->slots * 3) {
		if (d->slots < d->max_slots)
			table_grow(d);
		else if (d->spill_dir && spill(d) < 0)
			return -1;
		else if (!d->spill_dir)
			table_grow(d);
	}
	return 0;
}
