/* sketch.c - an invertible Bloom lookup table of object names. */
#include "sketch.h"

#include <string.h>

/* 64-bit FNV-1a, then a finaliser (splitmix64) to spread the bits. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

uint64_t sketch_name(const char *key, const char *etag)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;   /* a separator no key holds */
	for (const unsigned char *p = (const unsigned char *)(etag ? etag : ""); *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return mix(h);
}

static uint64_t check_of(uint64_t name)
{
	return mix(name ^ 0x9e3779b97f4a7c15ULL);
}

/* The three distinct cells of a name. */
static void cells_of(uint64_t name, size_t out[3])
{
	uint64_t h = mix(name + 0x632be59bd9b4e019ULL);

	out[0] = (size_t)(h % SKETCH_CELLS);
	out[1] = (size_t)((h >> 21) % (SKETCH_CELLS - 1));
	if (out[1] >= out[0])
		out[1]++;
	out[2] = (size_t)((h >> 42) % (SKETCH_CELLS - 2));
	/* skip the two taken, lower first */
	if (out[2] >= (out[0] < out[1] ? out[0] : out[1]))
		out[2]++;
	if (out[2] >= (out[0] < out[1] ? out[1] : out[0]))
		out[2]++;
}

void sketch_init(sketch *s)
{
	memset(s, 0, sizeof(*s));
}

static void toggle(sketch *s, uint64_t name, int32_t by)
{
	size_t c[3];
	uint64_t chk = check_of(name);

	cells_of(name, c);
	for (int k = 0; k < 3; k++) {
		s->cell[c[k]].count += by;
		s->cell[c[k]].ids ^= name;
		s->cell[c[k]].checks ^= chk;
	}
}

void sketch_add(sketch *s, uint64_t name)
{
	toggle(s, name, 1);
}

bool sketch_equal(const sketch *a, const sketch *b)
{
	for (size_t i = 0; i < SKETCH_CELLS; i++)
		if (a->cell[i].count != b->cell[i].count || a->cell[i].ids != b->cell[i].ids ||
		    a->cell[i].checks != b->cell[i].checks)
			return false;
	return true;
}

bool sketch_diff(const sketch *now, const sketch *before, uint64_t *added, size_t *nadded,
		 uint64_t *removed, size_t *nremoved, size_t max)
{
	sketch d;
	bool progress = true;

	*nadded = *nremoved = 0;
	for (size_t i = 0; i < SKETCH_CELLS; i++) {
		d.cell[i].count = now->cell[i].count - before->cell[i].count;
		d.cell[i].ids = now->cell[i].ids ^ before->cell[i].ids;
		d.cell[i].checks = now->cell[i].checks ^ before->cell[i].checks;
	}
	while (progress) {
		progress = false;
		for (size_t i = 0; i < SKETCH_CELLS; i++) {
			sketch_cell *c = &d.cell[i];
			uint64_t name = c->ids;

			if ((c->count != 1 && c->count != -1) || c->checks != check_of(name))
				continue;
			if (c->count == 1) {
				if (*nadded >= max)
					return false;
				added[(*nadded)++] = name;
			} else {
				if (*nremoved >= max)
					return false;
				removed[(*nremoved)++] = name;
			}
			toggle(&d, name, -c->count);
			progress = true;
		}
	}
	for (size_t i = 0; i < SKETCH_CELLS; i++)
		if (d.cell[i].count || d.cell[i].ids || d.cell[i].checks)
			return false;
	return true;
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void sketch_store(const sketch *s, unsigned char out[SKETCH_BYTES])
{
	for (size_t i = 0; i < SKETCH_CELLS; i++) {
		unsigned char *p = out + 20 * i;
		uint32_t c = (uint32_t)s->cell[i].count;

		for (int k = 0; k < 4; k++)
			p[k] = (unsigned char)(c >> (8 * k));
		put64(p + 4, s->cell[i].ids);
		put64(p + 12, s->cell[i].checks);
	}
}

void sketch_load(sketch *s, const unsigned char in[SKETCH_BYTES])
{
	for (size_t i = 0; i < SKETCH_CELLS; i++) {
		const unsigned char *p = in + 20 * i;
		uint32_t c = 0;

		for (int k = 3; k >= 0; k--)
			c = c << 8 | p[k];
		s->cell[i].count = (int32_t)c;
		s->cell[i].ids = get64(p + 4);
		s->cell[i].checks = get64(p + 12);
	}
}
