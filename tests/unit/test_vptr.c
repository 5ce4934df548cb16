/*
 * test_vptr.c -- value pointers (vptr.h): every pointer the engine writes
 * decodes back to itself, and a payload that is not exactly one pointer
 * (trailing or missing bytes, a value with no room left in its entry for
 * the header, key and trailer, an entry that wraps past the end of a
 * 64-bit file) is refused, so no read can take bytes outside the value for
 * the value. The cases come from tests/fuzz/fuzz_vptr.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "table/vptr.h"

static bool decodes(const vptr_t *p)
{
	uint8_t buf[VPTR_MAX_LEN];
	size_t n = vptr_encode(buf, p);
	vptr_t q;
	return vptr_decode(slice_make(buf, n), &q) && vptr_equal(p, &q);
}

static void test_round_trip(void **state)
{
	/* The smallest entry: a 2-byte tree key around an empty value. */
	assert_true(decodes(&(vptr_t){7, 16, 38, 0}));
	assert_true(decodes(&(vptr_t){1, 16, 36 + 9 + 4096, 4096}));
	assert_true(decodes(&(vptr_t){UINT64_MAX, 0, UINT64_MAX, UINT64_MAX - 100}));
	assert_true(decodes(&(vptr_t){3, UINT64_MAX - 1000, 1000, 10}));
}

static void test_malformed(void **state)
{
	uint8_t buf[VPTR_MAX_LEN + 1];
	vptr_t p = {5, 100, 200, 50}, q;
	size_t n = vptr_encode(buf, &p);
	assert_true(vptr_decode(slice_make(buf, n), &q));
	assert_false(vptr_decode(slice_make(buf, n - 1), &q)); /* cut */
	buf[n] = 0;
	assert_false(vptr_decode(slice_make(buf, n + 1), &q)); /* a byte too many */
	assert_false(vptr_decode(slice_make(buf, 0), &q));
}

/* Found by fuzz_vptr: a 191-byte value in a 205-byte entry. Byte i of the
 * value is at offset + 24 + i, so the last bytes of such a "value" would be
 * the entry's key and trailer. */
static void test_value_without_room(void **state)
{
	static const uint8_t found[] = {0x13, 0x8f, 0x13, 0xcd, 0x01, 0xbf, 0x01};
	vptr_t q;
	assert_false(vptr_decode(slice_make(found, sizeof(found)), &q));
	assert_false(decodes(&(vptr_t){1, 16, 36, 0}));
	assert_false(decodes(&(vptr_t){1, 16, 100, 64}));
	assert_true(decodes(&(vptr_t){1, 16, 101, 64}));
}

static void test_entry_past_the_end(void **state)
{
	assert_false(decodes(&(vptr_t){1, UINT64_MAX - 99, 100, 10}));
	assert_false(decodes(&(vptr_t){1, UINT64_MAX, 1000, 10}));
	assert_true(decodes(&(vptr_t){1, UINT64_MAX - 100, 100, 10}));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_value_without_room),
	    cmocka_unit_test(test_entry_past_the_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
