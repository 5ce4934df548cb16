/*
 * test_arena.c -- unit tests for arena.c: alignment, large requests getting
 * their own block, memory usage accounting, and many small allocations
 * being distinct and writable.
 *
 * Single-threaded. Random sizes come from a fixed seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/arena.h"

#define MIB ((size_t)1 << 20)

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_new_and_free(void **state)
{
	arena_free(NULL);
	arena_t *a = arena_new(0);
	assert_non_null(a);
	assert_true(arena_memory_usage(a) > 0); /* the arena itself */
	assert_true(arena_memory_usage(a) < 4096); /* no block until asked */
	arena_free(a);
}

static void test_aligned_allocations_are_aligned(void **state)
{
	arena_t *a = arena_new(4096);
	assert_non_null(a);
	for (int i = 0; i < 10000; i++) {
		/* Odd unaligned sizes in between knock the bump pointer off. */
		assert_non_null(arena_alloc(a, 1 + rnd() % 13));
		size_t n = 1 + rnd() % (i % 100 == 0 ? 4096 : 64);
		uint8_t *p = arena_alloc_aligned(a, n);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 8, 0);
		memset(p, 0xAB, n);
	}
	arena_free(a);
}

static void test_large_allocation_gets_own_block(void **state)
{
	arena_t *a = arena_new(0);
	assert_non_null(a);
	uint8_t *small = arena_alloc(a, 16);
	assert_non_null(small);
	size_t before = arena_memory_usage(a);
	assert_true(before >= MIB);

	/* More than a quarter block: its own block, sized to fit. */
	size_t big = MIB / 4 + 1;
	uint8_t *p = arena_alloc(a, big);
	assert_non_null(p);
	memset(p, 0x5A, big);
	size_t after = arena_memory_usage(a);
	assert_true(after >= before + big);
	assert_true(after < before + big + 4096);

	/* The current block still serves small requests: no new block. */
	uint8_t *q = arena_alloc(a, 16);
	assert_non_null(q);
	assert_int_equal(arena_memory_usage(a), after);
	assert_ptr_equal(q, small + 16);

	/* Larger than a whole block works too, aligned or not. */
	uint8_t *huge = arena_alloc_aligned(a, 3 * MIB);
	assert_non_null(huge);
	assert_int_equal((uintptr_t)huge % 8, 0);
	memset(huge, 0xC3, 3 * MIB);
	assert_true(arena_memory_usage(a) >= after + 3 * MIB);

	for (size_t i = 0; i < big; i++)
		assert_int_equal(p[i], 0x5A);
	arena_free(a);
}

static void test_usage_grows(void **state)
{
	arena_t *a = arena_new(64 * 1024);
	assert_non_null(a);
	size_t last = arena_memory_usage(a);
	size_t requested = 0;
	for (int i = 0; i < 100000; i++) {
		size_t n = 1 + rnd() % 100;
		assert_non_null(arena_alloc(a, n));
		requested += n;
		size_t now = arena_memory_usage(a);
		assert_true(now >= last);
		last = now;
	}
	/* Everything handed out was taken from the system, and the waste at
	 * block ends stays under a quarter of what was taken. */
	assert_true(last >= requested);
	assert_true(last < requested + requested / 4 + 64 * 1024);
	arena_free(a);
}

struct piece {
	uint8_t *p;
	size_t n;
};

static void test_many_small_allocations_distinct(void **state)
{
	enum { COUNT = 200000 };
	arena_t *a = arena_new(0);
	assert_non_null(a);
	struct piece *pieces = malloc(COUNT * sizeof(*pieces));
	assert_non_null(pieces);

	/* Each piece is filled with its own index pattern; if any two
	 * overlapped, the later fill would corrupt the earlier one. */
	for (size_t i = 0; i < COUNT; i++) {
		size_t n = 1 + rnd() % 48;
		uint8_t *p = (i & 1) ? arena_alloc(a, n) : arena_alloc_aligned(a, n);
		assert_non_null(p);
		memset(p, (int)(i * 31 + 7), n);
		pieces[i].p = p;
		pieces[i].n = n;
	}
	for (size_t i = 0; i < COUNT; i++) {
		uint8_t want = (uint8_t)(i * 31 + 7);
		for (size_t j = 0; j < pieces[i].n; j++)
			if (pieces[i].p[j] != want)
				fail_msg("piece %zu byte %zu overwritten", i, j);
	}
	free(pieces);
	arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_free),
		cmocka_unit_test(test_aligned_allocations_are_aligned),
		cmocka_unit_test(test_large_allocation_gets_own_block),
		cmocka_unit_test(test_usage_grows),
		cmocka_unit_test(test_many_small_allocations_distinct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
