/*
 * vblock.h -- how a value is laid out inside a value-log entry (format
 * version 2, docs/format.md "Value log"): cut into blocks of VBLOCK_SIZE
 * bytes (the last one may be shorter), each followed by the masked
 * CRC-32C of its bytes. Any range of the value can then be read and
 * checked by reading just the blocks it touches, and a value of any size
 * can be written in one pass with bounded memory.
 *
 * Why 4 KiB: a read through the mount asks for 4 KiB pages (random access)
 * to 128 KiB (readahead), aligned to the file's offsets, so a block of 4 KiB
 * is never read for less than it holds when the access is aligned; the
 * price is 4 bytes in 4096 (0.1 %). `make bench-vblock` measures the sizes
 * against each other and against reads that checked nothing.
 *
 * Pure functions and a small incremental encoder; thread-safe.
 */
#ifndef WB_VBLOCK_H
#define WB_VBLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/coding.h"
#include "util/crc32c.h"

/* Value bytes per block. Never change: on-disk (v2). Overridable only so
 * that bench/run_vblock.sh can measure other sizes in builds of their own;
 * such a build cannot read what the default one wrote. */
#ifndef VBLOCK_SIZE
#define VBLOCK_SIZE 4096u
#endif
#define VBLOCK_CRC 4u     /* bytes of the checksum after each block */
#define VBLOCK_STRIDE (VBLOCK_SIZE + VBLOCK_CRC)

/* Blocks of a value of vlen bytes. */
static inline uint64_t vblock_count(uint64_t vlen)
{
	return vlen / VBLOCK_SIZE + (vlen % VBLOCK_SIZE != 0);
}

/* Bytes the blocks of a value of vlen bytes take in an entry. */
static inline uint64_t vblock_stored(uint64_t vlen)
{
	return vlen + VBLOCK_CRC * vblock_count(vlen);
}

/* Where value byte i lies, counted from the start of the value's blocks. */
static inline uint64_t vblock_pos(uint64_t i)
{
	return i + VBLOCK_CRC * (i / VBLOCK_SIZE);
}

/* The value length whose blocks take exactly `stored` bytes: false when
 * no length does (the stored bytes end inside a checksum). */
static inline bool vblock_value_len(uint64_t stored, uint64_t *vlen)
{
	uint64_t blocks = stored / VBLOCK_STRIDE + (stored % VBLOCK_STRIDE != 0);
	if (stored < VBLOCK_CRC * blocks)
		return false;
	*vlen = stored - VBLOCK_CRC * blocks;
	return vblock_stored(*vlen) == stored;
}

/* Checks one stored block (data of n bytes followed by its checksum). */
static inline bool vblock_ok(const uint8_t *block, size_t n)
{
	return get_u32(block + n) == crc32c_mask(crc32c(block, n));
}

/* An encoder of a value's blocks, fed the value in pieces of any size.
 * `sum` is the running CRC-32C of the checksums written so far, which the
 * entry's trailer covers (so the trailer vouches for every block). */
typedef struct vblock_enc {
	uint32_t block_crc; /* of the current block's bytes so far */
	size_t fill;        /* bytes in the current block */
	uint32_t sum;       /* crc32c_extend over the stored checksums */
} vblock_enc_t;

/* Starts an encoder whose `sum` continues from crc (the entry's running
 * checksum of its header). */
static inline void vblock_enc_init(vblock_enc_t *e, uint32_t crc)
{
	e->block_crc = 0;
	e->fill = 0;
	e->sum = crc;
}

/* Writes the current block's checksum at dst and starts a new block.
 * REQUIRES: e->fill > 0. */
static inline size_t vblock_enc_close_block(vblock_enc_t *e, uint8_t *dst)
{
	put_u32(dst, crc32c_mask(e->block_crc));
	e->sum = crc32c_extend(e->sum, dst, VBLOCK_CRC);
	e->block_crc = 0;
	e->fill = 0;
	return VBLOCK_CRC;
}

/* Frames up to len bytes of src into dst, which has room for cap bytes,
 * closing each block that fills. Returns the bytes of src taken (*out the
 * bytes written to dst): fewer than len only when dst is full, and never
 * leaves dst without room for the checksum of a block that filled.
 * REQUIRES: cap >= VBLOCK_STRIDE. */
static inline size_t vblock_enc_add(vblock_enc_t *e, const uint8_t *src, size_t len, uint8_t *dst,
				    size_t cap, size_t *out)
{
	size_t taken = 0, w = 0;
	while (taken < len) {
		size_t room = VBLOCK_SIZE - e->fill;
		size_t n = len - taken < room ? len - taken : room;
		if (cap - w < n + (n == room ? VBLOCK_CRC : 0))
			break;
		memcpy(dst + w, src + taken, n);
		e->block_crc = crc32c_extend(e->block_crc, src + taken, n);
		e->fill += n;
		w += n;
		taken += n;
		if (e->fill == VBLOCK_SIZE)
			w += vblock_enc_close_block(e, dst + w);
	}
	*out = w;
	return taken;
}

/* Ends the value: the checksum of a last, partial block (nothing when the
 * value ended on a block boundary). dst has room for VBLOCK_CRC bytes.
 * Returns the bytes written. */
static inline size_t vblock_enc_finish(vblock_enc_t *e, uint8_t *dst)
{
	return e->fill > 0 ? vblock_enc_close_block(e, dst) : 0;
}

#endif /* WB_VBLOCK_H */
