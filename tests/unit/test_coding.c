/*
 * test_coding.c -- the encodings of coding.h (docs/format.md, "Encodings"):
 * fixed-width integers and varints. Every value round-trips in the
 * documented number of bytes; truncated varints, varints with bits past
 * 64 and varints longer than their value needs are refused, so every value
 * has one spelling (the last case is what tests/fuzz/fuzz_batch found: a
 * batch whose value length was spelled "92 00").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/coding.h"

static void test_fixed(void **state)
{
	uint8_t b[8];
	put_u32(b, 0x01020304u);
	assert_int_equal(b[0], 0x04);
	assert_int_equal(get_u32(b), 0x01020304u);
	put_u64(b, 0x0102030405060708ull);
	assert_int_equal(b[0], 0x08);
	assert_true(get_u64(b) == 0x0102030405060708ull);
	put_be64(b, 0x0102030405060708ull);
	assert_int_equal(b[0], 0x01);
	assert_true(get_be64(b) == 0x0102030405060708ull);
	put_u16(b, 0xbeef);
	assert_int_equal(get_u16(b), 0xbeef);
}

static void test_varint_round_trip(void **state)
{
	static const uint64_t vals[] = {0,
	                                1,
	                                127,
	                                128,
	                                300,
	                                16383,
	                                16384,
	                                UINT32_MAX,
	                                (uint64_t)UINT32_MAX + 1,
	                                UINT64_MAX >> 1,
	                                UINT64_MAX};
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint8_t b[VARINT64_MAX];
		size_t n = put_varint64(b, vals[i]);
		assert_int_equal(n, varint_len(vals[i]));
		uint64_t v = 0;
		assert_ptr_equal(get_varint64(b, b + n, &v), b + n);
		assert_true(v == vals[i]);
		assert_null(get_varint64(b, b + n - 1, &v)); /* truncated */
	}
	uint8_t b[] = {0xac, 0x02};
	uint32_t v32;
	assert_ptr_equal(get_varint32(b, b + 2, &v32), b + 2);
	assert_int_equal(v32, 300);
}

static void test_varint_refused(void **state)
{
	uint64_t v;
	uint32_t v32;
	/* Not the shortest spelling: 0 in two bytes, 18 in two, 1 in ten. */
	static const uint8_t zero2[] = {0x80, 0x00};
	static const uint8_t found[] = {0x92, 0x00};
	static const uint8_t one10[] = {0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	assert_null(get_varint64(zero2, zero2 + 2, &v));
	assert_null(get_varint64(found, found + 2, &v));
	assert_null(get_varint64(one10, one10 + 10, &v));
	assert_null(get_varint32(found, found + 2, &v32));
	/* Bits past 64: a tenth byte above 1. */
	static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
	assert_null(get_varint64(big, big + 10, &v));
	/* Never ends within 10 bytes. */
	static const uint8_t endless[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
	                                  0x80, 0x80, 0x80, 0x80, 0x01};
	assert_null(get_varint64(endless, endless + 11, &v));
	/* Over 32 bits for a varint32. */
	static const uint8_t over32[] = {0x80, 0x80, 0x80, 0x80, 0x10};
	assert_null(get_varint32(over32, over32 + 5, &v32));
	assert_null(get_varint64(zero2, zero2, &v)); /* empty */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixed),
	    cmocka_unit_test(test_varint_round_trip),
	    cmocka_unit_test(test_varint_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
