/*
 * bloom.h -- the per-table bloom filter over tree keys (docs/format.md,
 * "Filter block").
 *
 * A table's builder collects one 64-bit hash per distinct tree key, then
 * bloom_build() lays out the filter: ceil(n * bits_per_key) bits (at least
 * 64) followed by one byte holding k, the number of probes. Probes use
 * double hashing of the 64-bit hash. Pure functions; thread-safe.
 */
#ifndef WB_BLOOM_H
#define WB_BLOOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/coding.h"

/* A 64-bit hash of key (stable across versions: on-disk). */
uint64_t bloom_hash(slice_t key);

/* Builds a filter for n hashes. *out is malloc'ed (caller frees), *out_len
 * its size. WB_OK or WB_ENOMEM. bits_per_key must be >= 1. */
int bloom_build(const uint64_t *hashes, size_t n, int bits_per_key, uint8_t **out,
		size_t *out_len);

/* False only when the key was certainly not added. A malformed filter
 * (too short, k out of range) answers true, so it never hides data. */
bool bloom_may_contain(slice_t filter, uint64_t hash);

#endif /* WB_BLOOM_H */
