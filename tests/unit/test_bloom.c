/*
 * test_bloom.c -- unit tests for bloom.c: no false negatives, the false
 * positive rate at the default 10 bits per key, malformed filters answering
 * true, and the on-disk format pinned down: fixed hash values and a filter
 * laid out byte for byte as bloom.c's opening comment describes.
 *
 * Single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "table/bloom.h"
#include "wombat.h"

enum { NKEYS = 100000 };

static uint64_t hash_of(const char *fmt, int i)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), fmt, i);
	return bloom_hash(slice_make(buf, (size_t)n));
}

static void test_no_false_negatives_and_fp_rate(void **state)
{
	uint64_t *hashes = malloc(NKEYS * sizeof(*hashes));
	assert_non_null(hashes);
	for (int i = 0; i < NKEYS; i++)
		hashes[i] = hash_of("user/%08d", i);

	uint8_t *filter;
	size_t len;
	assert_int_equal(bloom_build(hashes, NKEYS, 10, &filter, &len), WB_OK);
	assert_int_equal(len, NKEYS * 10 / 8 + 1);
	slice_t f = slice_make(filter, len);

	for (int i = 0; i < NKEYS; i++)
		if (!bloom_may_contain(f, hashes[i]))
			fail_msg("false negative for key %d", i);

	/* Absent keys close to the present ones (same prefix, next numbers)
	 * and unrelated ones, half each. */
	int fp = 0;
	for (int i = 0; i < NKEYS / 2; i++) {
		fp += bloom_may_contain(f, hash_of("user/%08d", NKEYS + i));
		fp += bloom_may_contain(f, hash_of("absent-%d", i));
	}
	double rate = (double)fp / NKEYS;
	print_message("bloom: %d false positives in %d absent keys at 10 bits/key: %.3f%%\n", fp,
		      NKEYS, 100.0 * rate);
	assert_true(rate <= 0.02);

	free(filter);
	free(hashes);
}

static void test_malformed_filter_answers_true(void **state)
{
	uint8_t bytes[16];
	memset(bytes, 0, sizeof(bytes)); /* all bits clear: a real filter says no */

	assert_true(bloom_may_contain(slice_make(NULL, 0), 123));
	assert_true(bloom_may_contain(slice_make(bytes, 1), 123));
	bytes[15] = 0; /* k == 0 */
	assert_true(bloom_may_contain(slice_make(bytes, 16), 123));
	bytes[15] = 31; /* k above 30 */
	assert_true(bloom_may_contain(slice_make(bytes, 16), 123));
	bytes[15] = 255;
	assert_true(bloom_may_contain(slice_make(bytes, 16), 123));
	bytes[15] = 30; /* well formed, empty: no */
	assert_false(bloom_may_contain(slice_make(bytes, 16), 123));
}

static void test_empty_filter(void **state)
{
	uint8_t *filter;
	size_t len;
	assert_int_equal(bloom_build(NULL, 0, 10, &filter, &len), WB_OK);
	assert_int_equal(len, 64 / 8 + 1);
	for (int i = 0; i < 1000; i++)
		assert_false(bloom_may_contain(slice_make(filter, len), hash_of("k%d", i)));
	free(filter);
	assert_int_equal(bloom_build(NULL, 0, 0, &filter, &len), WB_EINVAL);
}

static void test_sizes_and_probe_counts(void **state)
{
	static uint64_t hashes[1000];
	const struct {
		size_t n;
		int bits_per_key;
		size_t len;
		int k;
	} cases[] = {
		{ 1000, 10, 1250 + 1, 7 }, /* 0.69 * 10 = 6.9 rounds to 7 */
		{ 3, 10, 8 + 1, 7 },       /* 30 bits: raised to 64 */
		{ 100, 1, 13 + 1, 1 },     /* 100 bits rounded up to 104 */
		{ 7, 3, 8 + 1, 2 },        /* 2.07 rounds to 2 */
		{ 10, 50, 63 + 1, 30 },    /* 500 bits -> 504; 34.5 clamped */
		{ 1, 1, 8 + 1, 1 },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint8_t *filter;
		size_t len;
		int rc = bloom_build(hashes, cases[c].n, cases[c].bits_per_key, &filter, &len);
		assert_int_equal(rc, WB_OK);
		assert_int_equal(len, cases[c].len);
		assert_int_equal(filter[len - 1], cases[c].k);
		free(filter);
	}
}

/* Fixed values of the documented algorithm. If one of these changes,
 * every filter already on disk answers wrongly: do not update them. */
static void test_hash_is_stable(void **state)
{
	const struct {
		const char *key;
		size_t len;
		uint64_t hash;
	} cases[] = {
		{ "", 0, 0xECB96905C817ACC3ull },
		{ "a", 1, 0x6F21657B3825C553ull },
		{ "\0", 1, 0xAFA863A602F521DDull },
		{ "hello", 5, 0x624072F1251C948Eull },
		{ "12345678", 8, 0xFAF92218C50EC45Eull },
		{ "123456789", 9, 0x479AB0E91FD46BD3ull },
		{ "wombat key 0001", 15, 0x8C58E7F914D16E25ull },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(bloom_hash(slice_make(cases[i].key, cases[i].len)), cases[i].hash);

	uint8_t seq[32];
	for (int i = 0; i < 32; i++)
		seq[i] = (uint8_t)i;
	assert_int_equal(bloom_hash(slice_make(seq, sizeof(seq))), 0x8F35C89587A32DE2ull);
}

/* Rebuilds a filter from the layout described in bloom.c, independently of
 * its code, and compares byte for byte. */
static void test_layout_matches_description(void **state)
{
	const uint64_t hashes[] = { 0x0123456789ABCDEFull, 0xFFFFFFFF00000001ull, 42, 0 };
	const size_t n = sizeof(hashes) / sizeof(hashes[0]);
	const int bits_per_key = 20; /* 80 bits, k = 13.8 -> 14 */
	const size_t nbits = 80;
	const int k = 14;
	uint8_t want[80 / 8 + 1] = { 0 };
	for (size_t j = 0; j < n; j++) {
		uint64_t h1 = hashes[j] & 0xFFFFFFFFu, h2 = hashes[j] >> 32;
		for (int i = 0; i < k; i++) {
			uint64_t bit = (h1 + (uint64_t)i * h2) % nbits;
			want[bit / 8] |= (uint8_t)(1u << (bit % 8));
		}
	}
	want[nbits / 8] = (uint8_t)k;

	uint8_t *filter;
	size_t len;
	assert_int_equal(bloom_build(hashes, n, bits_per_key, &filter, &len), WB_OK);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(filter, want, sizeof(want));
	for (size_t j = 0; j < n; j++)
		assert_true(bloom_may_contain(slice_make(filter, len), hashes[j]));
	free(filter);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_false_negatives_and_fp_rate),
		cmocka_unit_test(test_malformed_filter_answers_true),
		cmocka_unit_test(test_empty_filter),
		cmocka_unit_test(test_sizes_and_probe_counts),
		cmocka_unit_test(test_hash_is_stable),
		cmocka_unit_test(test_layout_matches_description),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
