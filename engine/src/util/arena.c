/*
 * arena.c -- bump allocator for one memtable. See arena.h.
 *
 * Threads: only the memtable's single writer allocates; any thread may call
 * arena_memory_usage(), which is why that one counter is atomic and
 * everything else is plain.
 *
 * Invariants: [ptr, ptr + remaining) is the unused tail of the current
 * block; every block ever taken from malloc is on the blocks list and is
 * released by arena_free(); usage is the sum of every malloc'ed size
 * (including the arena itself) and only grows.
 */
#include "util/arena.h"

#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define DEFAULT_BLOCK_SIZE ((size_t)1 << 20)
#define ALIGN 8

/* A chunk from malloc. The header is padded to max_align_t so that data
 * starts as aligned as malloc's own result. */
struct block {
	struct block *next;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	size_t block_size;
	unsigned char *ptr; /* next free byte of the current block */
	size_t remaining;   /* bytes left after ptr in the current block */
	struct block *blocks;
	atomic_size_t usage;
};

arena_t *arena_new(size_t block_size)
{
	arena_t *a = malloc(sizeof(*a));
	if (a == NULL)
		return NULL;
	a->block_size = block_size ? block_size : DEFAULT_BLOCK_SIZE;
	a->ptr = NULL;
	a->remaining = 0;
	a->blocks = NULL;
	atomic_init(&a->usage, sizeof(*a));
	return a;
}

void arena_free(arena_t *a)
{
	if (a == NULL)
		return;
	struct block *b = a->blocks;
	while (b != NULL) {
		struct block *next = b->next;
		free(b);
		b = next;
	}
	free(a);
}

/* Takes a new block of n usable bytes from the system and links it in.
 * NULL when malloc fails or n is too large to add a header to. */
static unsigned char *new_block(arena_t *a, size_t n)
{
	if (n > SIZE_MAX - sizeof(struct block))
		return NULL;
	size_t size = sizeof(struct block) + n;
	struct block *b = malloc(size);
	if (b == NULL)
		return NULL;
	b->next = a->blocks;
	a->blocks = b;
	/* Only this thread writes usage, so a plain read-modify-write is
	 * enough; the atomic store lets other threads read it untorn. */
	size_t usage = atomic_load_explicit(&a->usage, memory_order_relaxed);
	atomic_store_explicit(&a->usage, usage + size, memory_order_relaxed);
	return b->data;
}

/* A small request does not fit in what is left of the current block. */
static void *alloc_fallback(arena_t *a, size_t n)
{
	/* Start a fresh block. The old block's tail is abandoned, but it was
	 * too short for a small request, so it is under a quarter block. */
	unsigned char *p = new_block(a, a->block_size);
	if (p == NULL)
		return NULL;
	a->ptr = p + n;
	a->remaining = a->block_size - n;
	return p;
}

/* A large request gets a block of its own, sized to fit, and the current
 * block is left to small ones. So a fresh block is only ever started for a
 * small request, which is what bounds the waste at each block's end. */
static bool is_large(const arena_t *a, size_t n)
{
	return n > a->block_size / 4;
}

void *arena_alloc(arena_t *a, size_t n)
{
	assert(n > 0);
	if (is_large(a, n))
		return new_block(a, n);
	if (n <= a->remaining) {
		void *p = a->ptr;
		a->ptr += n;
		a->remaining -= n;
		return p;
	}
	return alloc_fallback(a, n);
}

void *arena_alloc_aligned(arena_t *a, size_t n)
{
	assert(n > 0);
	if (is_large(a, n))
		return new_block(a, n); /* block data is max_align_t-aligned */
	size_t slop = (size_t)(-(uintptr_t)a->ptr & (ALIGN - 1));
	if (n <= a->remaining && slop <= a->remaining - n) {
		void *p = a->ptr + slop;
		a->ptr += slop + n;
		a->remaining -= slop + n;
		return p;
	}
	return alloc_fallback(a, n);
}

size_t arena_memory_usage(const arena_t *a)
{
	return atomic_load_explicit(&a->usage, memory_order_relaxed);
}
