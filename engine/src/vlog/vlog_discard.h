/*
 * vlog_discard.h -- the value log's discard accounting: per segment, the
 * bytes compaction found no longer referenced (docs/format.md, "Value
 * log": the MANIFEST's discard records add to these counts).
 *
 * A small map, segment number -> bytes, kept as an array sorted by
 * segment, so a lookup is a binary search and iteration is in segment
 * order. It has no lock of its own: the value log keeps one inside vlog_t
 * under vlog.mu (vlog.h, vlog_discard_add and friends). Needs no database.
 */
#ifndef WB_VLOG_DISCARD_H
#define WB_VLOG_DISCARD_H

#include <stdbool.h>
#include <stdint.h>

typedef struct discard_entry {
	uint64_t segment;
	uint64_t bytes;
} discard_entry_t;

typedef struct discard_map {
	discard_entry_t *e; /* ascending segment numbers, no duplicates */
	int n, cap;
} discard_map_t;

/* An empty map; it allocates nothing until the first add. Can't fail. */
void discard_map_init(discard_map_t *m);
void discard_map_destroy(discard_map_t *m);

/* Adds bytes to segment's count (a new entry when it has none). WB_OK, or
 * WB_ENOMEM with the map unchanged. */
int discard_map_add(discard_map_t *m, uint64_t segment, uint64_t bytes);

/* The count of segment; 0 when it has none. */
uint64_t discard_map_get(const discard_map_t *m, uint64_t segment);

/* Forgets segment's count. Absent is fine. */
void discard_map_remove(discard_map_t *m, uint64_t segment);

/* The sum of every count. */
uint64_t discard_map_total(const discard_map_t *m);

/* Iteration in ascending segment order: entry i of discard_map_size(m),
 * valid until the map next changes. */
static inline int discard_map_size(const discard_map_t *m)
{
	return m->n;
}
static inline discard_entry_t discard_map_at(const discard_map_t *m, int i)
{
	return m->e[i];
}

#endif /* WB_VLOG_DISCARD_H */
