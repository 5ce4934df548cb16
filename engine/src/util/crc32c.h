/*
 * crc32c.h -- CRC-32C (Castagnoli), the checksum of every record and block
 * on disk (docs/format.md, "Checksums").
 *
 * Uses the SSE4.2 crc32 instruction when the CPU has it (checked once) and a
 * slicing-by-8 table otherwise; both give the same values. Thread-safe.
 *
 * Stored checksums are masked (rotated and offset, as LevelDB does) so that
 * a CRC computed over bytes that themselves contain CRCs stays well mixed.
 */
#ifndef WB_CRC32C_H
#define WB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) with n bytes of data. */
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n);

static inline uint32_t crc32c(const void *data, size_t n)
{
	return crc32c_extend(0, data, n);
}

#define CRC32C_MASK_DELTA 0xa282ead8u

static inline uint32_t crc32c_mask(uint32_t crc)
{
	return ((crc >> 15) | (crc << 17)) + CRC32C_MASK_DELTA;
}

static inline uint32_t crc32c_unmask(uint32_t masked)
{
	uint32_t rot = masked - CRC32C_MASK_DELTA;
	return (rot >> 17) | (rot << 15);
}

#endif /* WB_CRC32C_H */
