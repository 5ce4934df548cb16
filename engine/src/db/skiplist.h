/*
 * skiplist.h -- the ordered index of a memtable.
 *
 * A skiplist of entries that live in its nodes, in an arena. Thread-safety:
 * one writer at a time (the caller serializes inserts), any number of
 * readers concurrently with it and without locks: nodes are published with
 * release stores and read with acquire loads, and nothing is ever removed
 * until the whole list is freed with its arena.
 *
 * Entries are opaque to the list; cmp orders them. Inserting an entry equal
 * to an existing one places the new one first, so a reader that seeks finds
 * the most recently inserted of equal entries.
 */
#ifndef WB_SKIPLIST_H
#define WB_SKIPLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "util/arena.h"

typedef struct skiplist skiplist_t;
typedef int (*skiplist_cmp_fn)(const uint8_t *a, const uint8_t *b);
/* An order-preserving 128-bit summary of an entry, compared as (hi, lo):
 * prefix(a) < prefix(b) must imply cmp(a, b) < 0 (equal prefixes say
 * nothing). Computed once per node and once per search, it settles most
 * comparisons without calling cmp. 16 bytes rather than 8 because keys
 * often share their first 8 bytes (an inode number, zero-padded digits). */
typedef struct skiplist_prefix {
	uint64_t hi, lo;
} skiplist_prefix_t;
typedef skiplist_prefix_t (*skiplist_prefix_fn)(const uint8_t *entry);

#define SKIPLIST_MAX_HEIGHT 12

/* The list and its nodes are allocated in arena. prefix may be NULL.
 * NULL on out of memory. */
skiplist_t *skiplist_new(arena_t *arena, skiplist_cmp_fn cmp, skiplist_prefix_fn prefix);

/* Room for an entry of len bytes inside a new node, in the list's arena
 * (it lives as long as the list): the caller fills it in, then inserts it.
 * NULL on out of memory. REQUIRES: no concurrent alloc or insert. */
uint8_t *skiplist_alloc(skiplist_t *list, size_t len);

/* Adds entry, as returned by skiplist_alloc and filled in since; it must
 * not change afterwards. This function can't fail. REQUIRES: no
 * concurrent alloc or insert; entry not inserted before. */
void skiplist_insert(skiplist_t *list, uint8_t *entry);

/* Number of entries inserted (approximate when read by another thread). */
uint64_t skiplist_count(const skiplist_t *list);

/* A position in the list; plain struct, no allocation, no cleanup. */
typedef struct skiplist_iter {
	const skiplist_t *list;
	const void *node; /* NULL when not valid */
} skiplist_iter_t;

void skiplist_iter_init(skiplist_iter_t *it, const skiplist_t *list);
bool skiplist_iter_valid(const skiplist_iter_t *it);
const uint8_t *skiplist_iter_entry(const skiplist_iter_t *it); /* REQUIRES: valid */
void skiplist_iter_next(skiplist_iter_t *it);                  /* REQUIRES: valid */
/* O(log n): searches for the last node before the current one. REQUIRES: valid */
void skiplist_iter_prev(skiplist_iter_t *it);
/* First entry >= target. */
void skiplist_iter_seek(skiplist_iter_t *it, const uint8_t *target);
/* Last entry <= target. */
void skiplist_iter_seek_for_prev(skiplist_iter_t *it, const uint8_t *target);
void skiplist_iter_seek_first(skiplist_iter_t *it);
void skiplist_iter_seek_last(skiplist_iter_t *it);

#endif /* WB_SKIPLIST_H */
