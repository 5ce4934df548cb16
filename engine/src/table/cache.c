/*
 * cache.c -- sharded LRU block cache (cache.h).
 *
 * Each shard: a chained hash table that doubles when it fills, and a
 * circular doubly linked list in recency order (head.next is the most
 * recent). Lookups move the entry to the front; inserts evict from the back.
 */
#include "table/cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "wombat.h"

#define NUM_SHARDS 16 /* h >> 28 picks one: keep in step */

typedef struct entry {
	uint64_t id, offset;
	uint32_t hash;
	block_t *block;
	size_t charge;
	struct entry *prev, *next; /* recency list */
	struct entry *chain;       /* hash bucket */
} entry_t;

typedef struct shard {
	pthread_mutex_t mu;
	entry_t head; /* list sentinel */
	entry_t **buckets;
	uint32_t nbuckets; /* power of two */
	uint32_t count;
	uint64_t usage, capacity;
	uint64_t hits, misses, inserts, evictions; /* (mu) */
} shard_t;

struct block_cache {
	shard_t shards[NUM_SHARDS];
	uint64_t capacity;
};

static _Atomic uint64_t next_id = 1;

uint64_t block_cache_new_id(void)
{
	return atomic_fetch_add(&next_id, 1);
}

static uint32_t hash_key(uint64_t id, uint64_t offset)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ull ^ offset * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

block_cache_t *block_cache_new(uint64_t capacity)
{
	block_cache_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->capacity = capacity;
	for (int i = 0; i < NUM_SHARDS; i++) {
		shard_t *s = &c->shards[i];
		pthread_mutex_init(&s->mu, NULL);
		s->head.next = s->head.prev = &s->head;
		s->capacity = capacity / NUM_SHARDS;
		s->nbuckets = 256;
		s->buckets = calloc(s->nbuckets, sizeof(entry_t *));
		if (s->buckets == NULL) {
			block_cache_free(c);
			return NULL;
		}
	}
	return c;
}

void block_cache_free(block_cache_t *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < NUM_SHARDS; i++) {
		shard_t *s = &c->shards[i];
		if (s->head.next != NULL) {
			for (entry_t *e = s->head.next, *n; e != &s->head; e = n) {
				n = e->next;
				block_unref(e->block);
				free(e);
			}
		}
		free(s->buckets);
		pthread_mutex_destroy(&s->mu);
	}
	free(c);
}

static entry_t **find_slot(shard_t *s, uint64_t id, uint64_t offset, uint32_t hash)
{
	entry_t **slot = &s->buckets[hash & (s->nbuckets - 1)];
	while (*slot != NULL && ((*slot)->id != id || (*slot)->offset != offset))
		slot = &(*slot)->chain;
	return slot;
}

static void list_remove(entry_t *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void list_push_front(shard_t *s, entry_t *e)
{
	e->next = s->head.next;
	e->prev = &s->head;
	e->next->prev = e;
	s->head.next = e;
}

/* Unlinks e from its bucket and the list and drops it. REQUIRES: s->mu. */
static void drop(shard_t *s, entry_t *e)
{
	entry_t **slot = find_slot(s, e->id, e->offset, e->hash);
	*slot = e->chain;
	list_remove(e);
	s->usage -= e->charge;
	s->count--;
	block_unref(e->block);
	free(e);
}

static void grow(shard_t *s)
{
	uint32_t n = s->nbuckets * 2;
	entry_t **b = calloc(n, sizeof(entry_t *));
	if (b == NULL)
		return; /* longer chains, still correct */
	for (uint32_t i = 0; i < s->nbuckets; i++) {
		for (entry_t *e = s->buckets[i], *next; e != NULL; e = next) {
			next = e->chain;
			e->chain = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

block_t *block_cache_lookup(block_cache_t *c, uint64_t id, uint64_t offset)
{
	uint32_t h = hash_key(id, offset);
	shard_t *s = &c->shards[h >> 28]; /* high bits: the low ones index buckets */
	pthread_mutex_lock(&s->mu);
	entry_t *e = *find_slot(s, id, offset, h);
	block_t *b = NULL;
	if (e != NULL) {
		list_remove(e);
		list_push_front(s, e);
		b = e->block;
		block_ref(b);
		s->hits++;
	} else {
		s->misses++;
	}
	pthread_mutex_unlock(&s->mu);
	return b;
}

void block_cache_insert(block_cache_t *c, uint64_t id, uint64_t offset, block_t *b)
{
	size_t charge = b->len + sizeof(entry_t) + sizeof(block_t);
	uint32_t h = hash_key(id, offset);
	shard_t *s = &c->shards[h >> 28]; /* high bits: the low ones index buckets */
	if (charge > s->capacity)
		return;
	entry_t *e = malloc(sizeof(*e));
	if (e == NULL)
		return;
	*e = (entry_t){ .id = id, .offset = offset, .hash = h, .block = b, .charge = charge };
	block_ref(b);
	pthread_mutex_lock(&s->mu);
	entry_t *old = *find_slot(s, id, offset, h);
	if (old != NULL)
		drop(s, old);
	while (s->usage + charge > s->capacity && s->head.prev != &s->head) {
		drop(s, s->head.prev);
		s->evictions++;
	}
	entry_t **slot = find_slot(s, id, offset, h);
	*slot = e;
	list_push_front(s, e);
	s->usage += charge;
	s->count++;
	s->inserts++;
	if (s->count > s->nbuckets)
		grow(s);
	pthread_mutex_unlock(&s->mu);
}

void block_cache_get_stats(block_cache_t *c, block_cache_stats_t *out)
{
	*out = (block_cache_stats_t){ .capacity = c->capacity };
	for (int i = 0; i < NUM_SHARDS; i++) {
		shard_t *s = &c->shards[i];
		pthread_mutex_lock(&s->mu);
		out->hits += s->hits;
		out->misses += s->misses;
		out->inserts += s->inserts;
		out->evictions += s->evictions;
		out->usage += s->usage;
		pthread_mutex_unlock(&s->mu);
	}
}
