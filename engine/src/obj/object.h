/*
 * object.h -- values changed in place: objects (docs/format.md, "Objects").
 *
 * A user key normally holds its value whole, and a write replaces it. To
 * let a write cost what it changes (a file appended to, a database file
 * written a page at a time), a key can instead hold a reference (meta byte
 * META_OBJECT, payload varint id) to an object: a header, an optional base
 * and chunks, all in the internal keyspace KS_OBJ under the object's id:
 *
 *   KS_OBJ ‖ be64(id) ‖ 0x00               header: size, base_len, links, chunk_shift
 *   KS_OBJ ‖ be64(id) ‖ 0x01               base: the value the key held when it
 *                                          became an object, moved there as it was
 *                                          (a value-log pointer moves, no bytes copied)
 *   KS_OBJ ‖ be64(id) ‖ 0x02 ‖ be64(i)     chunk i: bytes [i·C, i·C + len) of the object
 *
 * A byte at offset o < size comes from chunk o/C when that chunk exists
 * (bytes past the chunk's length read as zeros), else from the base when
 * o < base_len, else it is zero (a hole). Every chunk and the base are
 * ordinary entries, so snapshots, transactions, time travel, compaction
 * and value-log reclaim treat them like any other key; the header is
 * rewritten by every change, which makes it the key concurrent changes
 * conflict on.
 *
 * The read side (obj_header_read, obj_read_range, obj_read_all) works on a
 * view (db_view_t: a snapshot plus a transaction's own writes); the write
 * side (obj_write_at, obj_truncate, obj_link, obj_unlink, obj_move) reads
 * through a view and adds what it changes to a sink, which a transaction
 * provides (txn.c). Pure functions of their arguments and the database;
 * any thread.
 */
#ifndef WB_OBJECT_H
#define WB_OBJECT_H

#include "db/db_impl.h"
#include "table/ikey.h"

#define OBJ_HEADER_VERSION 1
#define OBJ_TAG_HEADER 0x00
#define OBJ_TAG_BASE 0x01
#define OBJ_TAG_CHUNK 0x02

#define OBJ_KEY_MAX (1 + 8 + 1 + 8) /* the longest object tree key */
#define OBJ_REF_MAX VARINT64_MAX
#define OBJ_HEADER_MAX (1 + 3 * VARINT64_MAX + 1)

#define OBJ_CHUNK_SHIFT_MIN 12 /* 4 KiB */
#define OBJ_CHUNK_SHIFT_MAX 20 /* 1 MiB */

typedef struct obj_header {
	uint64_t size;     /* bytes of the value */
	uint64_t base_len; /* bytes [0, base_len) may come from the base; 0: no base */
	uint64_t links;    /* user keys referring to it */
	uint8_t chunk_shift;
} obj_header_t;

/* The tree keys of object id's parts into buf (OBJ_KEY_MAX bytes). */
slice_t obj_header_key(uint8_t *buf, uint64_t id);
slice_t obj_base_key(uint8_t *buf, uint64_t id);
slice_t obj_chunk_key(uint8_t *buf, uint64_t id, uint64_t index);

/* The reference payload (after the meta byte) of id into buf (OBJ_REF_MAX). */
slice_t obj_ref_encode(uint8_t *buf, uint64_t id);
/* false when payload is not exactly one varint. */
bool obj_ref_decode(slice_t payload, uint64_t *id);

slice_t obj_header_encode(uint8_t *buf, const obj_header_t *h);
/* false when value is not a well-formed header of a known version. */
bool obj_header_decode(slice_t value, obj_header_t *h);

/* The header of object id in v, and its version timestamp (0 for a
 * transaction's own write). WB_ECORRUPT when it is missing or malformed:
 * a reference always has its object. */
int obj_header_read(const db_view_t *v, uint64_t id, obj_header_t *h, uint64_t *ts);
/* As wb_get_range, over the object's bytes. */
int obj_read_range(const db_view_t *v, uint64_t id, const obj_header_t *h, uint64_t off,
		   void *buf, size_t len, size_t *nread);
/* As wb_get: the whole value into a new buffer with a NUL after it. */
int obj_read_all(const db_view_t *v, uint64_t id, const obj_header_t *h, void **val,
		 size_t *vlen);

/* Where the write side puts what it changes: entries given as tree keys,
 * read back through the view it writes under (a transaction's buffer). */
typedef struct obj_sink {
	int (*put)(void *arg, slice_t tree_key, uint8_t meta, slice_t value);
	void *arg;
	const db_view_t *view;
	wb_db *db;
} obj_sink_t;

/* Writes len bytes at off into the value of user tree key tk (creating
 * it when missing; a hole before off reads as zeros). A value that stays
 * within one chunk stays plain and is rewritten whole; a larger one
 * becomes an object first (its value moves to the base, no bytes copied).
 * Costs the chunks the range touches. Errors: WB_EINVAL (past
 * WB_MAX_STREAM_LEN), WB_ECORRUPT, WB_EIO, WB_ENOMEM. */
int obj_write_at(const obj_sink_t *s, slice_t tk, uint64_t off, const void *data, size_t len);
/* Sets the length of tk's value to size: cut (the chunks past it deleted,
 * the last one shortened) or extended with zeros. WB_ENOTFOUND when tk
 * has no value; errors as obj_write_at. */
int obj_truncate(const obj_sink_t *s, slice_t tk, uint64_t size);
/* Gives the value of `from` a second name `to`, both user tree keys: `from`
 * becomes an object if it is not one, `to` refers to it (whatever `to`
 * held is released as obj_unlink would) and the object counts one more
 * link. WB_ENOTFOUND when from has no value. */
int obj_link(const obj_sink_t *s, slice_t from, slice_t to);
/* Deletes tk (a tombstone also when it is missing); when it refers to an
 * object, the object loses a link, and with its last link its header,
 * base and chunks are deleted. */
int obj_unlink(const obj_sink_t *s, slice_t tk);
/* Renames `from` to `to`: its entry moves as it is (a reference, a
 * value-log pointer or an inline value; nothing is copied), whatever `to`
 * held is released as by obj_unlink, and from is deleted. When both refer
 * to the same object (two links), nothing changes, as rename(2) does.
 * WB_ENOTFOUND when from has no value. */
int obj_move(const obj_sink_t *s, slice_t from, slice_t to);

#endif /* WB_OBJECT_H */
