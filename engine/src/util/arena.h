/*
 * arena.h -- bump allocator for one memtable.
 *
 * Memory is carved from large blocks and released all at once when the
 * arena is freed. Allocation is single-threaded (the memtable's one writer);
 * arena_memory_usage() may be read from any thread at any time.
 */
#ifndef WB_ARENA_H
#define WB_ARENA_H

#include <stddef.h>

typedef struct arena arena_t;

/* NULL when memory runs out. block_size 0 means the default (1 MiB). */
arena_t *arena_new(size_t block_size);
void arena_free(arena_t *a); /* NULL is fine */

/* n bytes (n > 0), aligned to 8 (arena_alloc_aligned) or unaligned
 * (arena_alloc). Requests larger than a quarter block get a block of their
 * own. NULL when memory runs out. */
void *arena_alloc(arena_t *a, size_t n);
void *arena_alloc_aligned(arena_t *a, size_t n);

/* Bytes taken from the system so far (blocks plus bookkeeping). */
size_t arena_memory_usage(const arena_t *a);

#endif /* WB_ARENA_H */
