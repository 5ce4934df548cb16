/*
 * memtable.h -- the in-memory sorted buffer of recent writes.
 *
 * A skiplist of entries in an arena; each entry is
 *   varint ikey_len | ikey | varint value_len | value (meta byte + payload)
 * Thread-safety: one writer at a time (the write leader), lock-free readers
 * and iterators concurrently. A memtable is reference counted: the database
 * holds one reference while it is active or waiting to be flushed, and every
 * iterator or reader holds its own; the memory is freed at zero.
 */
#ifndef WB_MEMTABLE_H
#define WB_MEMTABLE_H

#include <stdatomic.h>

#include "util/arena.h"
#include "table/iter.h"
#include "db/skiplist.h"
#include "table/sst.h"

typedef struct memtable {
	arena_t *arena;
	skiplist_t *list;
	atomic_int refs;
	uint64_t wal_number;      /* the log holding these writes */
	_Atomic uint64_t min_ts;  /* range of timestamps inserted (0 when empty) */
	_Atomic uint64_t max_ts;
} memtable_t;

/* refs = 1. capacity (the memtable size limit) picks the arena's block size
 * so that memory use is measured finely enough. NULL on out of memory. */
memtable_t *memtable_new(uint64_t wal_number, size_t capacity);
void memtable_ref(memtable_t *m);
void memtable_unref(memtable_t *m); /* NULL is fine */

/* Adds a version. REQUIRES: no concurrent add. Adding an internal key that
 * is already there keeps both; the later one is found first (by get, by a
 * forward seek). WB_OK, WB_ENOMEM, or WB_EINVAL when the internal key or
 * the meta byte + value is over UINT32_MAX bytes (the entry encoding). */
int memtable_add(memtable_t *m, slice_t tree_key, uint64_t ts, uint8_t meta, slice_t value);

/* Newest version of tree_key with ts <= read_ts: WB_ENOTFOUND when none,
 * otherwise found(arg, ikey, value). */
int memtable_get(memtable_t *m, slice_t tree_key, uint64_t read_ts, found_fn found, void *arg);

/* Bytes of memory used. Any thread. */
size_t memtable_usage(const memtable_t *m);
uint64_t memtable_count(const memtable_t *m);

/* An iterator that holds a reference on m. NULL on out of memory. */
iter_t *memtable_iter(memtable_t *m);

#endif /* WB_MEMTABLE_H */
