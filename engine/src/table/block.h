/*
 * block.h -- sorted key/value blocks: the data and index blocks of an
 * SSTable (docs/format.md, "Blocks").
 *
 * A block holds entries in key order with prefix compression: each entry is
 *   varint shared | varint unshared | varint value_len | key[shared..] | value
 * Every `restart_interval` entries the key is stored whole (shared = 0) and
 * its offset is recorded; the block ends with the restart offsets (u32 each)
 * and their count (u32). Seeks binary-search the restarts, then scan.
 *
 * A block_t is immutable and reference counted so that iterators (and the
 * block cache of a later issue) can share it across threads. A
 * block_builder_t belongs to one thread.
 */
#ifndef WB_BLOCK_H
#define WB_BLOCK_H

#include <stdatomic.h>

#include "util/coding.h"
#include "table/iter.h"

typedef int (*key_cmp_fn)(slice_t a, slice_t b);

/* ---- building ---- */

typedef struct block_builder {
	uint8_t *buf; /* entries so far */
	size_t len, cap;
	uint32_t *restarts;
	size_t nrestarts, restarts_cap;
	int restart_interval;
	int counter; /* entries since the last restart */
	uint8_t *last_key;
	size_t last_key_len, last_key_cap;
	uint64_t entries;
	int error; /* WB_ENOMEM once an allocation failed; sticky */
} block_builder_t;

void block_builder_init(block_builder_t *b, int restart_interval);
void block_builder_destroy(block_builder_t *b);
/* Empties b for the next block (keeps its memory). */
void block_builder_reset(block_builder_t *b);
/* REQUIRES: key sorts after every key added since the last reset. */
void block_builder_add(block_builder_t *b, slice_t key, slice_t value);
/* Size of the block if finished now. */
size_t block_builder_size(const block_builder_t *b);
static inline bool block_builder_empty(const block_builder_t *b) { return b->entries == 0; }
/* Appends the restart array; the returned view is valid until the next
 * reset/destroy. WB_OK or WB_ENOMEM (b->error). */
int block_builder_finish(block_builder_t *b, slice_t *out);

/* ---- reading ---- */

typedef struct block {
	uint8_t *data; /* owned; malloc'ed */
	size_t len;    /* entries + restart array */
	uint32_t restarts_off;
	uint32_t nrestarts;
	atomic_int refs;
} block_t;

/* Takes ownership of data (malloc'ed, len bytes) and checks the restart
 * array. Returns WB_OK with refs = 1, WB_ECORRUPT (data freed) when the
 * layout is impossible, or WB_ENOMEM. */
int block_new(uint8_t *data, size_t len, block_t **out);
void block_ref(block_t *b);
void block_unref(block_t *b); /* NULL is fine; frees at zero */

/* An iterator over b ordered by cmp; holds its own reference on b.
 * Malformed entries, and keys that do not strictly increase under cmp
 * between the entries it steps across, make it invalid with status
 * WB_ECORRUPT: it never hands out keys out of order. NULL on out of
 * memory. */
iter_t *block_iter_new(block_t *b, key_cmp_fn cmp);

#endif /* WB_BLOCK_H */
