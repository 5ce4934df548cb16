/*
 * batch.h -- write batches: the unit of atomic writes, and the payload of
 * write-ahead-log records (docs/format.md, "Write batch").
 *
 *   u64 ts | u32 count | count × ( u8 meta | varint len | tree_key | varint len | value )
 *
 * tree_key is the keyspace byte followed by the user key (ikey.h). ts is 0
 * while the batch is being built and is set by the write leader when it is
 * committed; every entry of a batch gets that one timestamp. A batch belongs
 * to one thread.
 */
#ifndef WB_BATCH_H
#define WB_BATCH_H

#include "util/coding.h"
#include "wombat.h"

#define BATCH_HEADER_SIZE 12

struct wb_batch {
	uint8_t *rep; /* header + entries */
	size_t len, cap;
	int error;    /* sticky WB_ENOMEM */
	bool has_ptr; /* holds a value-log pointer (a move): led alone, checked */
};

/* The most bytes one entry of a tree key of klen bytes and a value of vlen
 * takes in a batch. */
#define BATCH_ENTRY_MAX(klen, vlen) (1 + 2 * VARINT64_MAX + (klen) + (vlen))

/* Encodes one entry (meta, tree key, value) at p, which has room for
 * BATCH_ENTRY_MAX bytes; returns the end of what it wrote. The one encoder
 * of entries: batches, and the records the write leader rewrites. */
uint8_t *batch_encode_entry(uint8_t *p, uint8_t meta, slice_t tree_key, slice_t value);

/* Checks a user key against the limits: WB_OK or WB_EINVAL. */
int batch_check_key(size_t klen);

/* Adds an entry for user key `key` in keyspace ks. value is ignored for
 * tombstones. WB_OK, WB_EINVAL (key), WB_ENOMEM. */
int batch_add(wb_batch *b, uint8_t meta, uint8_t ks, slice_t key, slice_t value);

uint64_t batch_ts(slice_t rep);
void batch_set_ts(wb_batch *b, uint64_t ts);
uint32_t batch_count_rep(slice_t rep);

typedef int (*batch_entry_fn)(void *arg, uint8_t meta, slice_t tree_key, slice_t value,
			      uint64_t ts);

/* Calls fn for each entry of the encoded batch rep, stopping at the first
 * non-WB_OK result (returned). WB_ECORRUPT when rep is malformed (checked
 * before any call, so a bad batch applies nothing). */
int batch_iterate(slice_t rep, batch_entry_fn fn, void *arg);

/* A log record holds one or more batches back to back. Splits the first
 * off *rest into *first and advances *rest. WB_ECORRUPT when malformed. */
int batch_split(slice_t *rest, slice_t *first);

/* Whether the encoded batch rep is a removal: it deletes at least one key
 * and stores no value in the user keyspace (metadata records, such as the
 * marker the mount writes to keep a directory, are allowed). A database
 * refusing writes because the disk is full still takes removals
 * (bgerror.h). False when rep is malformed. */
bool batch_is_removal(slice_t rep);

#endif /* WB_BATCH_H */
