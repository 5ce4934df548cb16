/*
 * fuzz_vptr.c -- fuzzes the decoding of value pointers (engine/src/table/vptr.h,
 * docs/format.md "Value pointers"), the payload of every tree entry whose
 * value lives in the value log.
 *
 * Input: the payload. Promises checked: a pointer that decodes re-encodes
 * to exactly the same bytes (one spelling per pointer), leaves room in its
 * entry for the header, key and trailer around the value (value_len + 36
 * < length, as the format says), and does not run past the end of a
 * 64-bit file.
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "table/vptr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vptr_t p;
	if (!vptr_decode(slice_make(data, size), &p))
		return 0;
	uint8_t buf[VPTR_MAX_LEN];
	size_t n = vptr_encode(buf, &p);
	FUZZ_CHECK(n == size && memcmp(buf, data, n) == 0,
	           "pointer re-encodes to %zu other bytes (input %zu)", n, size);
	FUZZ_CHECK(p.value_len < p.length && p.length - p.value_len > 36,
	           "a value of %llu bytes in an entry of %llu", (unsigned long long)p.value_len,
	           (unsigned long long)p.length);
	FUZZ_CHECK(p.offset <= UINT64_MAX - p.length, "entry at %llu of %llu bytes wraps",
	           (unsigned long long)p.offset, (unsigned long long)p.length);
	return 0;
}
