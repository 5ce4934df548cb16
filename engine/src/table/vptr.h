/*
 * vptr.h -- value pointers: where a large value lives in the value log
 * (docs/format.md, "Value pointers").
 *
 * The payload of an entry whose meta byte has META_VALUE_PTR is
 *   varint segment | varint offset | varint length | varint value_len
 * segment is the value-log file number, offset the byte offset of the
 * value-log entry in it, length the bytes that entry occupies, value_len
 * the bytes of the value in it (so a read can find any byte of the value,
 * and stat its length, without reading the entry's header first).
 * Compaction adds up the lengths of the pointers it drops, per segment, so
 * the value log's space reclaim knows which segments are mostly garbage.
 * Pure functions; thread-safe.
 */
#ifndef WB_VPTR_H
#define WB_VPTR_H

#include "table/ikey.h"
#include "util/coding.h"

#define VPTR_MAX_LEN (4 * VARINT64_MAX)

typedef struct vptr {
	uint64_t segment, offset, length, value_len;
} vptr_t;

/* Writes p into buf (VPTR_MAX_LEN bytes); returns the bytes used. */
static inline size_t vptr_encode(uint8_t *buf, const vptr_t *p)
{
	size_t n = put_varint64(buf, p->segment);
	n += put_varint64(buf + n, p->offset);
	n += put_varint64(buf + n, p->length);
	n += put_varint64(buf + n, p->value_len);
	return n;
}

/* Bytes of a value-log entry besides its value: 36 of header and trailer
 * (docs/format.md, "Value log"). A pointer whose value leaves less room
 * than that in its entry would let a range read return the entry's key or
 * trailer as value bytes. */
#define VPTR_ENTRY_OVERHEAD 36

/* false when payload is not exactly one well-formed pointer: four varints,
 * value_len + VPTR_ENTRY_OVERHEAD < length, and the entry ends inside a
 * 64-bit file. */
static inline bool vptr_decode(slice_t payload, vptr_t *p)
{
	const uint8_t *q = payload.data, *end = payload.data + payload.len;
	if ((q = get_varint64(q, end, &p->segment)) == NULL ||
	    (q = get_varint64(q, end, &p->offset)) == NULL ||
	    (q = get_varint64(q, end, &p->length)) == NULL ||
	    (q = get_varint64(q, end, &p->value_len)) == NULL)
		return false;
	return q == end && p->value_len < p->length &&
	       p->length - p->value_len > VPTR_ENTRY_OVERHEAD && p->offset <= UINT64_MAX - p->length;
}

static inline bool vptr_equal(const vptr_t *a, const vptr_t *b)
{
	return a->segment == b->segment && a->offset == b->offset && a->length == b->length &&
	       a->value_len == b->value_len;
}

/* The pointer in a tree entry's value (its meta byte, then the payload):
 * true, with *p, when the entry is a live value pointer that decodes. */
static inline bool vptr_of_entry(slice_t value, vptr_t *p)
{
	return value.len > 0 && (value.data[0] & META_VALUE_PTR) && !(value.data[0] & META_TOMBSTONE) &&
	       vptr_decode(slice_make(value.data + 1, value.len - 1), p);
}

#endif /* WB_VPTR_H */
