/*
 * sketch.h - a fixed-size summary of a set of object names that tells
 * which few names one set has and another has not.
 *
 * An invertible Bloom lookup table: SKETCH_CELLS cells, each a count and
 * two XOR sums; a name (a 64-bit hash of key and etag) is added to three
 * cells.  Subtracting the sketch of one listing from the sketch of a
 * later one and peeling cells that hold a single name recovers the names
 * added and removed in between, as long as they are few (about half the
 * cells: 12 of 24, almost always); beyond that sketch_diff() says it
 * could not tell.
 *
 * The planner keeps one per source, of the objects listed below the
 * horizon, to find files that appeared there late (state.h): the state
 * stays a few hundred bytes per source, whatever the history.
 */
#ifndef EVSHARE_SKETCH_H
#define EVSHARE_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKETCH_CELLS 24
#define SKETCH_BYTES (SKETCH_CELLS * 20)   /* serialised */

typedef struct sketch_cell {
	int32_t count;
	uint64_t ids;      /* XOR of the names */
	uint64_t checks;   /* XOR of a second hash of each name */
} sketch_cell;

typedef struct sketch {
	sketch_cell cell[SKETCH_CELLS];
} sketch;

/* The name of an object: a hash of its key and etag. */
uint64_t sketch_name(const char *key, const char *etag);

void sketch_init(sketch *s);
void sketch_add(sketch *s, uint64_t name);
/* Do a and b summarise the same set (as far as a sketch can tell)? */
bool sketch_equal(const sketch *a, const sketch *b);

/* The names now has and before has not (added) and the reverse
 * (removed), at most max of each; false when the difference is too large
 * to recover (then *nadded and *nremoved are what was recovered). */
bool sketch_diff(const sketch *now, const sketch *before, uint64_t *added, size_t *nadded,
		 uint64_t *removed, size_t *nremoved, size_t max);

/* To and from SKETCH_BYTES bytes (little-endian, fixed layout). */
void sketch_store(const sketch *s, unsigned char out[SKETCH_BYTES]);
void sketch_load(sketch *s, const unsigned char in[SKETCH_BYTES]);

#endif
