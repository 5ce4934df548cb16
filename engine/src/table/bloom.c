/*
 * bloom.c -- the filter block of a table and the key hash it is built on.
 * Pure functions, safe from any thread. Everything below is an on-disk
 * format (docs/format.md, "Filter block"): never change it; a different
 * layout or hash needs a new filter format version.
 *
 * bloom_hash(key), all arithmetic on uint64_t, wrapping:
 *     K = 0x9E3779B97F4A7C15
 *     h = 0x776F6D6261742121 ^ (len * K)
 *     for each 8-byte word w of the key, read little-endian, the last one
 *     (when len is not a multiple of 8) zero-padded at the top:
 *         h = (h ^ w) * K
 *         h = h ^ (h >> 29)
 *     then, to spread every input bit over all 64 output bits:
 *         h ^= h >> 33;  h *= 0xFF51AFD7ED558CCD
 *         h ^= h >> 33;  h *= 0xC4CEB9FE1A85EC53
 *         h ^= h >> 33
 * The length enters the seed, so keys that differ only by trailing zero
 * bytes hash differently. Each word step is a bijection of h, so two keys
 * of the same length that differ in one word never collide.
 *
 * Filter layout, for n hashes at bits_per_key b:
 *     nbits = max(64, n * b) rounded up to a multiple of 8
 *     k     = (69 * b + 50) / 100, i.e. round(0.69 * b) with halves up,
 *             clamped to [1, 30]    (0.69 ~ ln 2, the best k for b)
 *     bytes [0, nbits / 8): the bit array, bit j is byte j / 8, bit j % 8
 *     byte  nbits / 8     : k
 * A hash sets (and a lookup tests) k bits by double hashing:
 *     h1 = hash & 0xFFFFFFFF,  h2 = hash >> 32
 *     bit_i = (h1 + i * h2) mod nbits   for i = 0 .. k-1, computed in 64
 *                                         bits (it cannot overflow)
 * A reader takes nbits from the filter's length, so a filter is readable
 * without knowing n or b.
 */
#include "table/bloom.h"

#include <stdlib.h>

#include "util/error.h"

#define HASH_SEED 0x776F6D6261742121ull /* "wombat!!" */
#define HASH_MUL 0x9E3779B97F4A7C15ull
#define MAX_PROBES 30

static uint64_t mix_word(uint64_t h, uint64_t w)
{
	h = (h ^ w) * HASH_MUL;
	return h ^ (h >> 29);
}

uint64_t bloom_hash(slice_t key)
{
	const uint8_t *p = key.data;
	size_t n = key.len;
	uint64_t h = HASH_SEED ^ ((uint64_t)n * HASH_MUL);

	for (; n >= 8; p += 8, n -= 8)
		h = mix_word(h, get_u64(p));
	if (n > 0) {
		uint64_t w = 0;
		for (size_t i = 0; i < n; i++)
			w |= (uint64_t)p[i] << (8 * i);
		h = mix_word(h, w);
	}

	h ^= h >> 33;
	h *= 0xFF51AFD7ED558CCDull;
	h ^= h >> 33;
	h *= 0xC4CEB9FE1A85EC53ull;
	h ^= h >> 33;
	return h;
}

static size_t probe_bit(uint64_t hash, int i, size_t nbits)
{
	uint64_t h1 = hash & 0xFFFFFFFFu;
	uint64_t h2 = hash >> 32;
	return (size_t)((h1 + (uint64_t)i * h2) % nbits);
}

int bloom_build(const uint64_t *hashes, size_t n, int bits_per_key, uint8_t **out,
		size_t *out_len)
{
	if (bits_per_key < 1)
		return WB_EINVAL;
	if (n > (SIZE_MAX - 8) / (size_t)bits_per_key)
		return WB_ENOMEM;
	size_t nbits = n * (size_t)bits_per_key;
	if (nbits < 64)
		nbits = 64;
	nbits = (nbits + 7) & ~(size_t)7;

	/* round(0.69 * b) in integers, so no platform rounds it differently. */
	int64_t k64 = ((int64_t)bits_per_key * 69 + 50) / 100;
	int k = k64 < 1 ? 1 : k64 > MAX_PROBES ? MAX_PROBES : (int)k64;

	size_t len = nbits / 8 + 1;
	uint8_t *filter = calloc(len, 1);
	if (filter == NULL)
		return WB_ENOMEM;
	for (size_t j = 0; j < n; j++)
		for (int i = 0; i < k; i++) {
			size_t bit = probe_bit(hashes[j], i, nbits);
			filter[bit / 8] |= (uint8_t)(1u << (bit % 8));
		}
	filter[len - 1] = (uint8_t)k;

	*out = filter;
	*out_len = len;
	return WB_OK;
}

bool bloom_may_contain(slice_t filter, uint64_t hash)
{
	if (filter.len < 2)
		return true;
	int k = filter.data[filter.len - 1];
	if (k < 1 || k > MAX_PROBES)
		return true; /* not a filter we wrote: never hide a key */
	size_t nbits = (filter.len - 1) * 8;
	for (int i = 0; i < k; i++) {
		size_t bit = probe_bit(hash, i, nbits);
		if (!(filter.data[bit / 8] & (1u << (bit % 8))))
			return false;
	}
	return true;
}
