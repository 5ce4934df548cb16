/*
 * cache.h -- the block cache: recently read table blocks, shared by every
 * table of a database.
 *
 * Sharded LRU: a key (table id, block offset) hashes to one of the shards,
 * each with its own mutex, hash table and recency list, so readers on
 * different blocks rarely contend. Blocks are reference counted (block.h):
 * the cache holds one reference, every reader of a block its own, so
 * evicting a block somebody is reading only drops the cache's reference.
 * Capacity is in bytes of block data. Thread-safe.
 */
#ifndef WB_CACHE_H
#define WB_CACHE_H

#include <stdint.h>

#include "table/block.h"

typedef struct block_cache block_cache_t;

/* capacity 0 makes a cache that keeps nothing. NULL on out of memory. */
block_cache_t *block_cache_new(uint64_t capacity);
void block_cache_free(block_cache_t *c); /* NULL is fine */

/* A new reference to the cached block, or NULL on a miss. */
block_t *block_cache_lookup(block_cache_t *c, uint64_t table_id, uint64_t offset);

/* Adds b under the key (the cache takes its own reference; an existing
 * entry for the key is replaced). Evicts least recently used blocks to stay
 * within capacity. Out of memory just skips caching. */
void block_cache_insert(block_cache_t *c, uint64_t table_id, uint64_t offset, block_t *b);

typedef struct block_cache_stats {
	uint64_t hits, misses, inserts, evictions;
	uint64_t usage, capacity;
} block_cache_stats_t;

void block_cache_get_stats(block_cache_t *c, block_cache_stats_t *out);

/* A process-wide unique id for a table, so cache keys never collide. */
uint64_t block_cache_new_id(void);

#endif /* WB_CACHE_H */
