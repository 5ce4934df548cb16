/*
 * vlog_entry.h -- one value-log entry: its layout, writing it in order, and
 * reading and checking all or any part of it (docs/format.md, "Value log",
 * format version 2).
 *
 *   entry   header (24) | value blocks | tree_key | trailer (12)
 *   header  u8 meta (0) | 3 zero bytes | u32 klen | u64 vlen | u64 ts
 *   blocks  the value in blocks of VBLOCK_SIZE bytes, each followed by the
 *           masked CRC-32C of its bytes (vblock.h)
 *   trailer u64 vlen | u32 masked CRC-32C of the header, every block's
 *           stored checksum in order, the tree key and the trailer's vlen
 *
 * The value comes first, so a pointer (which carries the value's length)
 * finds any byte of it without reading the header, and a range read checks
 * exactly the blocks it touches. The trailer chains the block checksums,
 * so checking the whole entry reads every byte once.
 *
 * Everything here works on a vlog_source_t (an open segment file and what
 * to call it), not on a database, so it can be tested and fuzzed alone.
 * Thread-safe: reads only call the env's read_at.
 */
#ifndef WB_VLOG_ENTRY_H
#define WB_VLOG_ENTRY_H

#include "util/coding.h"
#include "vlog/vblock.h"
#include "table/vptr.h"
#include "wombat.h"

/* Segment header and entry framing (docs/format.md). Never renumber:
 * on-disk. Version 2: values in checksummed blocks. Version 1 (one
 * checksum per entry) is not read: WB_EFORMAT. */
#define VLOG_MAGIC 0x474f4c5654424d57ull /* "WMBTVLOG" little-endian */
#define VLOG_FORMAT_VERSION 2
#define VLOG_HEADER_SIZE 16
#define VLOG_ENTRY_HEADER 24
#define VLOG_ENTRY_TRAILER 12
#define VLOG_ENTRY_OVERHEAD (VLOG_ENTRY_HEADER + VLOG_ENTRY_TRAILER)
#define VLOG_STREAMED UINT64_MAX /* header vlen of a streamed entry */

/* How far before the end of a segment a crash can leave torn bytes: the
 * zeros a mapped segment prepares past its entries (mapped.h: at most two
 * MAPPED_PREPARE) and one store into the map (vlog.c: at most 1 MiB), with
 * room to spare. Everything before it was stored in full. */
#define VLOG_TORN_TAIL (4u << 20)

/* A segment file to read entries from. */
typedef struct vlog_source {
	const wb_env *env;
	wb_env_file *file;
	uint64_t number; /* the segment's file number, for messages */
	uint64_t size;   /* bytes that may be read */
} vlog_source_t;

/* Bytes of the entry for a tree key of klen bytes and a value of vlen. */
static inline uint64_t vlog_entry_len(uint64_t klen, uint64_t vlen)
{
	return VLOG_ENTRY_OVERHEAD + klen + vblock_stored(vlen);
}

/* The tree key's length in the entry p points at; false when p's length
 * and value length fit no entry with a key of at least 2 bytes (keyspace
 * byte and one key byte). */
bool vlog_entry_key_len(const vptr_t *p, uint64_t *klen);

/* Header and trailer bytes (VLOG_ENTRY_HEADER / _TRAILER). `sum` is the
 * running CRC-32C of everything the trailer covers up to its vlen. */
void vlog_encode_header(uint8_t *p, uint32_t klen, uint64_t vlen, uint64_t ts);
void vlog_encode_trailer(uint8_t *p, uint64_t vlen, uint32_t sum);

/* Writes an entry out in order, in pieces (the header, each block, each
 * block's checksum, the key, the trailer), through put; stops at put's
 * first error and returns it. Used by the write leader, whose sinks copy
 * into a map or a buffer. */
typedef int (*vlog_put_fn)(void *arg, const void *p, size_t n);
int vlog_entry_emit(slice_t tree_key, slice_t value, uint64_t ts, vlog_put_fn put, void *arg);

/* Reads len bytes at off of the segment; WB_ECORRUPT ("runs past the
 * end") when the file ends first; env errors with a message. */
int vlog_entry_read_at(const vlog_source_t *src, uint64_t off, void *buf, size_t len);

/* Checks that p lies inside the segment and fits an entry. WB_OK or
 * WB_ECORRUPT naming the segment and offset. */
int vlog_entry_check_ptr(const vlog_source_t *src, const vptr_t *p);

/* Reads up to len bytes of the value at p from offset off into buf,
 * reading and checking every block the range touches. *nread < len only
 * at the end of the value (0 at or past it). WB_ECORRUPT names the
 * segment and the file offset of the bad block. */
int vlog_entry_read_range(const vlog_source_t *src, const vptr_t *p, uint64_t off, void *buf,
			  size_t len, size_t *nread);

/* Reads the whole value at p into a malloc'ed buffer of p->value_len + 1
 * bytes (a NUL after the value), after checking the header and trailer
 * against p and every checksum. *key (may be NULL) gets a malloc'ed copy
 * of the entry's tree key (*klen its length), *ts (may be NULL) its
 * timestamp. WB_ECORRUPT naming segment and offset; WB_ENOMEM; env errors. */
int vlog_entry_read(const vlog_source_t *src, const vptr_t *p, void **val, uint8_t **key,
		    size_t *klen, uint64_t *ts);

/* Checks the entry at p as vlog_entry_read does, reading it in chunks
 * (bounded memory whatever its size). *bad (may be NULL) gets the file
 * offset of the first bad byte range found (a block, the header or the
 * trailer). WB_OK, WB_ECORRUPT, WB_ENOMEM, env errors. */
int vlog_entry_check(const vlog_source_t *src, const vptr_t *p, uint64_t *bad);

/* ---- whole segments ---- */

/* Checks the 16-byte segment header (docs/format.md): WB_EFORMAT for
 * another kind of file or version, WB_ECORRUPT for a bad checksum. */
int vlog_segment_check_header(const vlog_source_t *src);

/* Walks the entries from the header to the end and checks each. The end
 * of what a crash left is not damage (nothing points at it: replay made
 * sure): an entry that runs past the end of the file, when its key length
 * is one a key can have and every value block of it that lies before the
 * last VLOG_TORN_TAIL bytes checks out (else its length is what is
 * damaged, and the entries it would swallow are unchecked); zeros written
 * ahead of the entries (map mode), seen as a header with klen 0 (a header
 * store cut short may have left some of its own bytes); an entry cut short
 * with nothing but those zeros after it. WB_OK, WB_ECORRUPT, env errors. */
int vlog_segment_check(const vlog_source_t *src);

#endif /* WB_VLOG_ENTRY_H */
