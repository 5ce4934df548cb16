/*
 * fuzz_bloom.c -- fuzzes the table filter (engine/src/table/bloom.c,
 * docs/format.md "Filter block").
 *
 * The first input byte picks what the rest is (bit 0):
 *   probe  a filter as read from a table: every probe must stay inside it,
 *          and a filter too short or with k outside [1, 30] must answer
 *          "may contain" for every key, so a damaged filter never hides data;
 *   build  bits per key (one byte) and keys (a length byte, then the key,
 *          repeatedly): the built filter has the documented size and k, and
 *          contains every key it was built from (no false negatives).
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "table/bloom.h"
#include "wombat.h"

#define MAX_KEYS 512

static void probe(fuzz_in_t *in)
{
	slice_t filter = slice_make(in->p, in->left);
	int k = filter.len ? filter.data[filter.len - 1] : 0;
	bool malformed = filter.len < 2 || k < 1 || k > 30;
	for (size_t i = 0; i < 64; i++) {
		uint64_t h = bloom_hash(slice_make(&i, sizeof(i)));
		bool may = bloom_may_contain(filter, h);
		FUZZ_CHECK(may || !malformed, "a malformed filter (%zu bytes, k %d) hides a key",
		           filter.len, k);
	}
}

static void build(fuzz_in_t *in)
{
	int bits = fuzz_u8(in) % 40 + 1;
	uint64_t hashes[MAX_KEYS];
	size_t n = 0;
	while (in->left > 0 && n < MAX_KEYS) {
		size_t len = fuzz_u8(in);
		if (len > in->left)
			len = in->left;
		hashes[n++] = bloom_hash(slice_make(in->p, len));
		in->p += len;
		in->left -= len;
	}
	uint8_t *f;
	size_t flen;
	FUZZ_CHECK(bloom_build(hashes, n, bits, &f, &flen) == WB_OK, "build");
	size_t nbits = n * (size_t)bits < 64 ? 64 : n * (size_t)bits;
	nbits = (nbits + 7) / 8 * 8;
	int k = (bits * 69 + 50) / 100;
	k = k < 1 ? 1 : k > 30 ? 30 : k;
	FUZZ_CHECK(flen == nbits / 8 + 1 && f[flen - 1] == k, "filter of %zu bytes, k %d", flen,
	           f[flen - 1]);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(bloom_may_contain(slice_make(f, flen), hashes[i]), "key %zu not found",
		           i);
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in_t in = fuzz_in(data, size);
	if (fuzz_u8(&in) & 1)
		build(&in);
	else
		probe(&in);
	return 0;
}
