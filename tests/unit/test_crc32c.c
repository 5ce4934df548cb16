/*
 * test_crc32c.c -- unit tests for crc32c.c: published vectors, extend()
 * continuing a checksum, the software and SSE4.2 paths against each other
 * and against a bitwise reference, and the mask round trip.
 *
 * Single-threaded. Random inputs come from a fixed seed, so a failure
 * reproduces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/*
 * A private copy of the module, compiled into this file under other names,
 * so the test can call its static extend_sw() and extend_hw() directly: the
 * public entry point only ever runs the path this CPU picks. The renames
 * keep the copy from clashing with the real crc32c.o this test links; the
 * real header is then included again for the API under test.
 */
#define crc32c_extend copy_crc32c_extend
#define crc32c copy_crc32c
#define crc32c_mask copy_crc32c_mask
#define crc32c_unmask copy_crc32c_unmask
#include "util/crc32c.c"
#undef crc32c_extend
#undef crc32c
#undef crc32c_mask
#undef crc32c_unmask
#undef WB_CRC32C_H
#include "util/crc32c.h"

static uint64_t rng_state = 0x1234567887654321ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_random(uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)rnd();
}

/* The definition, one bit at a time: slow, obviously right. */
static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;
	while (n--) {
		crc ^= *p++;
		for (int bit = 0; bit < 8; bit++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static bool cpu_has_sse42(void)
{
#ifdef HAVE_SSE42_PATH
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
#else
	return false;
#endif
}

static void test_known_vectors(void **state)
{
	uint8_t buf[32];

	assert_int_equal(crc32c("123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c("", 0), 0);

	/* RFC 3720 (iSCSI), appendix B.4. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(crc32c(buf, sizeof(buf)), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(crc32c(buf, sizeof(buf)), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c(buf, sizeof(buf)), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(buf, sizeof(buf)), 0x113FDB5Cu);
}

static void test_extend_matches_one_shot(void **state)
{
	static uint8_t buf[4096];
	fill_random(buf, sizeof(buf));

	for (int iter = 0; iter < 2000; iter++) {
		size_t n = rnd() % (sizeof(buf) + 1);
		uint32_t whole = crc32c(buf, n);

		/* Up to three cut points, in order, some possibly equal. */
		size_t cuts[5] = { 0, 0, 0, 0, n };
		int ncuts = (int)(rnd() % 4);
		for (int c = 1; c <= ncuts; c++)
			cuts[c] = cuts[c - 1] + rnd() % (n - cuts[c - 1] + 1);
		cuts[ncuts + 1] = n;

		uint32_t crc = 0;
		for (int c = 0; c <= ncuts; c++)
			crc = crc32c_extend(crc, buf + cuts[c], cuts[c + 1] - cuts[c]);
		assert_int_equal(crc, whole);
	}
}

static void test_matches_bitwise_reference(void **state)
{
	static uint8_t buf[1024 + 8];
	fill_random(buf, sizeof(buf));

	/* Every length up to a few words, at every alignment, then random. */
	for (size_t off = 0; off < 8; off++)
		for (size_t n = 0; n <= 40; n++)
			assert_int_equal(crc32c(buf + off, n), crc_bitwise(buf + off, n));
	for (int iter = 0; iter < 500; iter++) {
		size_t off = rnd() % 8;
		size_t n = rnd() % 1025;
		assert_int_equal(crc32c(buf + off, n), crc_bitwise(buf + off, n));
	}
}

static void test_software_and_hardware_agree(void **state)
{
	static uint8_t buf[1 << 16];
	fill_random(buf, sizeof(buf));
	pthread_once(&init_once, init); /* builds the copy's tables */
	bool hw = cpu_has_sse42();
	if (!hw)
		print_message("no SSE4.2 on this CPU: checking the software path only\n");

	for (int iter = 0; iter < 300; iter++) {
		size_t off = rnd() % 8;
		/* Every length up to 4 KiB, and around the three-way parts
		 * (3 x 256 and 3 x 8192 bytes) and their multiples. */
		size_t n = iter == 0	 ? sizeof(buf) - 8
			   : iter < 200 ? rnd() % 4097
			   : iter < 250 ? 3 * 8192 * (1 + rnd() % 2) + rnd() % 1024 - 512
					 : 3 * 256 + rnd() % 64 - 32;
		/* Raw register in and out: ~crc_bitwise() is the register after
		 * starting from all ones. */
		uint32_t sw = extend_sw(0xFFFFFFFFu, buf + off, n);
		assert_int_equal(sw, ~crc_bitwise(buf + off, n));
#ifdef HAVE_SSE42_PATH
		if (hw) {
			assert_int_equal(extend_hw(0xFFFFFFFFu, buf + off, n), sw);
			/* Mid-stream, from any register state. */
			uint32_t reg = (uint32_t)rnd();
			uint32_t want = extend_sw(reg, buf + off, n);
			assert_int_equal(extend_hw(reg, buf + off, n), want);
		}
#endif
	}
}

static void test_mask_round_trip(void **state)
{
	const uint32_t fixed[] = { 0, 1, 0xFFFFFFFFu, 0x80000000u, CRC32C_MASK_DELTA, 0xE3069283u };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		assert_int_equal(crc32c_unmask(crc32c_mask(fixed[i])), fixed[i]);
	for (int iter = 0; iter < 10000; iter++) {
		uint32_t crc = (uint32_t)rnd();
		assert_int_equal(crc32c_unmask(crc32c_mask(crc)), crc);
	}
	/* The stored form is the documented rotate-and-add, not the raw CRC. */
	assert_int_equal(crc32c_mask(0), CRC32C_MASK_DELTA);
	assert_int_equal(crc32c_mask(0xE3069283u), 0xC78AB0E5u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vectors),
		cmocka_unit_test(test_extend_matches_one_shot),
		cmocka_unit_test(test_matches_bitwise_reference),
		cmocka_unit_test(test_software_and_hardware_agree),
		cmocka_unit_test(test_mask_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
