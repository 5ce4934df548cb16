/*
 * coding.h -- byte slices and the fixed/varint encodings used by every
 * on-disk format (docs/format.md, "Encodings").
 *
 * Fixed-width integers are little-endian except the timestamp suffix of an
 * internal key, which is big-endian so that keys sort by bytes. Varints are
 * LEB128 (7 bits a byte, low group first). All functions are pure and
 * thread-safe.
 */
#ifndef WB_CODING_H
#define WB_CODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A view of bytes owned by someone else. */
typedef struct slice {
	const uint8_t *data;
	size_t len;
} slice_t;

static inline slice_t slice_make(const void *data, size_t len)
{
	slice_t s = { (const uint8_t *)data, len };
	return s;
}

/* memcmp order; a proper prefix sorts first. */
static inline int slice_compare(slice_t a, slice_t b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.data, b.data, n) : 0;
	if (c != 0)
		return c;
	return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

static inline bool slice_starts_with(slice_t s, slice_t prefix)
{
	return s.len >= prefix.len && memcmp(s.data, prefix.data, prefix.len) == 0;
}

static inline void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4); /* x86-64 and arm64 are little-endian */
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static inline uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	v = __builtin_bswap64(v);
	memcpy(p, &v, 8);
}

static inline uint64_t get_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

#define VARINT32_MAX 5
#define VARINT64_MAX 10

/* Writes v at p; returns the number of bytes written. */
static inline size_t put_varint64(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

static inline size_t put_varint32(uint8_t *p, uint32_t v)
{
	return put_varint64(p, v);
}

static inline size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Decodes a varint from [p, end). Returns the byte after it, or NULL when
 * the input is truncated, has bits past 64, or is not the shortest
 * spelling of its value (a last byte of 0 after the first): writers only
 * write the shortest, so every value has one spelling and a decoded
 * record re-encodes to the same bytes. */
static inline const uint8_t *get_varint64(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	uint64_t result = 0;
	for (unsigned shift = 0; shift <= 63 && p < end; shift += 7) {
		uint64_t byte = *p++;
		if (shift == 63 && byte > 1)
			return NULL;
		result |= (byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			if (byte == 0 && shift > 0)
				return NULL;
			*v = result;
			return p;
		}
	}
	return NULL;
}

static inline const uint8_t *get_varint32(const uint8_t *p, const uint8_t *end, uint32_t *v)
{
	uint64_t x;
	p = get_varint64(p, end, &x);
	if (p == NULL || x > UINT32_MAX)
		return NULL;
	*v = (uint32_t)x;
	return p;
}

/* Reads a varint length then that many bytes as a slice. NULL on truncation. */
static inline const uint8_t *get_length_prefixed(const uint8_t *p, const uint8_t *end, slice_t *out)
{
	uint64_t len;
	p = get_varint64(p, end, &len);
	if (p == NULL || len > (uint64_t)(end - p))
		return NULL;
	*out = slice_make(p, (size_t)len);
	return p + len;
}

#endif /* WB_CODING_H */
