/*
 * test_block.c -- blocks: building, prefix compression, every kind of seek,
 * stepping both ways across restart points, and damaged blocks.
 *
 * The block layer has no checksum (the table layer adds it), so the damage
 * tests here check what the block itself promises: no read out of bounds
 * (run under ASan), every walk terminates, and any problem found shows up
 * as WB_ECORRUPT in status(). "Damage never yields wrong data" is tested
 * in test_sst.c, where the checksum is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "table/block.h"
#include "table/ikey.h"
#include "wombat.h"

struct kv {
	char key[32];
	size_t klen;
	char val[32];
	size_t vlen;
};

static int bytes_cmp(slice_t a, slice_t b)
{
	return slice_compare(a, b);
}

/* n keys "user.%06d" (sharing long prefixes) with values "v%d". */
static struct kv *make_kvs(int n)
{
	struct kv *kv = calloc((size_t)n, sizeof(*kv));
	assert_non_null(kv);
	for (int i = 0; i < n; i++) {
		kv[i].klen = (size_t)sprintf(kv[i].key, "user.%06d", i * 2);
		kv[i].vlen = (size_t)sprintf(kv[i].val, "v%d", i);
	}
	return kv;
}

static block_t *build(const struct kv *kv, int n, int interval)
{
	block_builder_t bb;
	block_builder_init(&bb, interval);
	for (int i = 0; i < n; i++)
		block_builder_add(&bb, slice_make(kv[i].key, kv[i].klen),
				  slice_make(kv[i].val, kv[i].vlen));
	slice_t out;
	assert_int_equal(block_builder_finish(&bb, &out), WB_OK);
	assert_int_equal(out.len, block_builder_size(&bb));
	uint8_t *copy = malloc(out.len);
	assert_non_null(copy);
	memcpy(copy, out.data, out.len);
	block_t *b;
	assert_int_equal(block_new(copy, out.len, &b), WB_OK);
	block_builder_destroy(&bb);
	return b;
}

static void assert_at(iter_t *it, const struct kv *kv)
{
	assert_true(iter_valid(it));
	slice_t k = iter_key(it), v = iter_value(it);
	assert_int_equal(k.len, kv->klen);
	assert_memory_equal(k.data, kv->key, k.len);
	assert_int_equal(v.len, kv->vlen);
	assert_memory_equal(v.data, kv->val, v.len);
}

static void test_round_trip(void **state)
{
	const int n = 1000;
	struct kv *kv = make_kvs(n);
	size_t raw = 0;
	for (int i = 0; i < n; i++)
		raw += kv[i].klen + kv[i].vlen;
	int intervals[] = { 1, 2, 16, 1000 };
	for (size_t t = 0; t < sizeof(intervals) / sizeof(intervals[0]); t++) {
		block_t *b = build(kv, n, intervals[t]);
		if (intervals[t] >= 16) /* prefixes were shared */
			assert_true(b->len < raw * 3 / 4);
		iter_t *it = block_iter_new(b, bytes_cmp);
		assert_non_null(it);
		int i = 0;
		for (iter_seek_first(it); iter_valid(it); iter_next(it))
			assert_at(it, &kv[i++]);
		assert_int_equal(i, n);
		assert_int_equal(iter_status(it), WB_OK);
		for (iter_seek_last(it); iter_valid(it); iter_prev(it))
			assert_at(it, &kv[--i]);
		assert_int_equal(i, 0);
		assert_int_equal(iter_status(it), WB_OK);
		iter_destroy(it);
		block_unref(b);
	}
	free(kv);
}

/* Targets at, between, before and after every key, with both seeks. */
static void test_seek_boundaries(void **state)
{
	const int n = 100;
	struct kv *kv = make_kvs(n); /* keys use even numbers only */
	block_t *b = build(kv, n, 4);
	iter_t *it = block_iter_new(b, bytes_cmp);
	block_unref(b); /* the iterator keeps it alive */
	char t[32];

	for (int i = 0; i < n; i++) {
		slice_t exact = slice_make(kv[i].key, kv[i].klen);
		iter_seek(it, exact);
		assert_at(it, &kv[i]);
		iter_seek_for_prev(it, exact);
		assert_at(it, &kv[i]);

		/* between kv[i] and kv[i+1] (or after the last) */
		slice_t between = slice_make(t, (size_t)sprintf(t, "user.%06d", i * 2 + 1));
		iter_seek(it, between);
		if (i + 1 < n)
			assert_at(it, &kv[i + 1]);
		else
			assert_false(iter_valid(it));
		iter_seek_for_prev(it, between);
		assert_at(it, &kv[i]);

		/* a key with kv[i] as proper prefix sorts right after it */
		memcpy(t, kv[i].key, kv[i].klen);
		t[kv[i].klen] = '\0';
		iter_seek(it, slice_make(t, kv[i].klen + 1));
		if (i + 1 < n)
			assert_at(it, &kv[i + 1]);
		else
			assert_false(iter_valid(it));
	}
	iter_seek(it, slice_make("a", 1)); /* before all */
	assert_at(it, &kv[0]);
	iter_seek_for_prev(it, slice_make("a", 1));
	assert_false(iter_valid(it));
	iter_seek(it, slice_make("", 0));
	assert_at(it, &kv[0]);
	iter_seek(it, slice_make("z", 1)); /* after all */
	assert_false(iter_valid(it));
	iter_seek_for_prev(it, slice_make("z", 1));
	assert_at(it, &kv[n - 1]);
	assert_int_equal(iter_status(it), WB_OK);
	iter_destroy(it);
	free(kv);
}

/* Walks that change direction at and around every restart point. */
static void test_next_prev_across_restarts(void **state)
{
	const int n = 50;
	struct kv *kv = make_kvs(n);
	for (int interval = 1; interval <= 7; interval++) {
		block_t *b = build(kv, n, interval);
		iter_t *it = block_iter_new(b, bytes_cmp);
		block_unref(b);
		for (int i = 0; i < n; i++) {
			iter_seek(it, slice_make(kv[i].key, kv[i].klen));
			for (int back = 1; back <= 3 && i - back >= 0; back++) {
				iter_prev(it);
				assert_at(it, &kv[i - back]);
			}
			for (int back = (i < 3 ? i : 3) - 1; back >= 0; back--) {
				iter_next(it);
				assert_at(it, &kv[i - back]);
			}
			if (i == 0) {
				iter_prev(it);
				assert_false(iter_valid(it));
			} else if (i == n - 1) {
				iter_next(it);
				assert_false(iter_valid(it));
			}
		}
		assert_int_equal(iter_status(it), WB_OK);
		iter_destroy(it);
	}
	free(kv);
}

static void test_empty_and_single(void **state)
{
	block_builder_t bb;
	block_builder_init(&bb, 16);
	assert_true(block_builder_empty(&bb));
	slice_t out;
	assert_int_equal(block_builder_finish(&bb, &out), WB_OK);
	assert_int_equal(out.len, 4);
	uint8_t *copy = malloc(out.len);
	memcpy(copy, out.data, out.len);
	block_t *b;
	assert_int_equal(block_new(copy, out.len, &b), WB_OK);
	iter_t *it = block_iter_new(b, bytes_cmp);
	block_unref(b);
	iter_seek_first(it);
	assert_false(iter_valid(it));
	iter_seek_last(it);
	assert_false(iter_valid(it));
	iter_seek(it, slice_make("k", 1));
	assert_false(iter_valid(it));
	iter_seek_for_prev(it, slice_make("k", 1));
	assert_false(iter_valid(it));
	assert_int_equal(iter_status(it), WB_OK);
	iter_destroy(it);

	/* reset then reuse; an empty key and an empty value are fine */
	block_builder_reset(&bb);
	block_builder_add(&bb, slice_make("", 0), slice_make("", 0));
	assert_int_equal(block_builder_finish(&bb, &out), WB_OK);
	copy = malloc(out.len);
	memcpy(copy, out.data, out.len);
	assert_int_equal(block_new(copy, out.len, &b), WB_OK);
	it = block_iter_new(b, bytes_cmp);
	block_unref(b);
	iter_seek_last(it);
	assert_true(iter_valid(it));
	assert_int_equal(iter_key(it).len, 0);
	assert_int_equal(iter_value(it).len, 0);
	iter_prev(it);
	assert_false(iter_valid(it));
	iter_destroy(it);
	block_builder_destroy(&bb);
}

/* Internal keys where one tree key is a prefix of another: the block must
 * follow the comparator, not memcmp. */
static int ikey_cmp(slice_t a, slice_t b)
{
	return ikey_compare(a, b);
}

static void test_internal_key_order(void **state)
{
	const char *tks[] = { "a", "a\0", "a\0\0", "ab", "b" };
	const size_t tkl[] = { 1, 2, 3, 2, 1 };
	uint8_t keys[20][16];
	size_t klen[20];
	int n = 0;
	for (int i = 0; i < 5; i++)
		for (uint64_t ts = 400; ts >= 100; ts -= 100) { /* newest first */
			klen[n] = ikey_encode(keys[n], slice_make(tks[i], tkl[i]), ts);
			n++;
		}
	block_builder_t bb;
	block_builder_init(&bb, 3);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			assert_true(ikey_compare(slice_make(keys[i - 1], klen[i - 1]),
						 slice_make(keys[i], klen[i])) < 0);
		block_builder_add(&bb, slice_make(keys[i], klen[i]), slice_make("x", 1));
	}
	slice_t out;
	assert_int_equal(block_builder_finish(&bb, &out), WB_OK);
	uint8_t *copy = malloc(out.len);
	memcpy(copy, out.data, out.len);
	block_t *b;
	assert_int_equal(block_new(copy, out.len, &b), WB_OK);
	block_builder_destroy(&bb);
	iter_t *it = block_iter_new(b, ikey_cmp);
	block_unref(b);
	uint8_t t[16];
	for (int i = 0; i < 5; i++) {
		/* (tk, ts=250) lands on the version at ts 200 of that tree key */
		slice_t target = slice_make(t, ikey_encode(t, slice_make(tks[i], tkl[i]), 250));
		iter_seek(it, target);
		assert_true(iter_valid(it));
		assert_int_equal(iter_key(it).len, klen[i * 4 + 2]);
		assert_memory_equal(iter_key(it).data, keys[i * 4 + 2], klen[i * 4 + 2]);
		iter_seek_for_prev(it, target);
		assert_memory_equal(iter_key(it).data, keys[i * 4 + 1], klen[i * 4 + 1]);
	}
	iter_destroy(it);
}

static void test_block_new_rejects(void **state)
{
	block_t *b;
	uint8_t *p;

	p = malloc(3); /* shorter than the restart count */
	assert_int_equal(block_new(p, 3, &b), WB_ECORRUPT);

	p = calloc(1, 8);
	put_u32(p + 4, 5); /* five restarts cannot fit in 4 bytes */
	assert_int_equal(block_new(p, 8, &b), WB_ECORRUPT);

	p = calloc(1, 12); /* entries but no restart */
	assert_int_equal(block_new(p, 12, &b), WB_ECORRUPT);

	p = calloc(1, 28); /* restarts 0, 6, 2: out of order */
	put_u32(p + 16, 6);
	put_u32(p + 20, 2);
	put_u32(p + 24, 3);
	assert_int_equal(block_new(p, 28, &b), WB_ECORRUPT);

	p = calloc(1, 28); /* restarts 0, 6, 12: the last is past the entries */
	put_u32(p + 16, 6);
	put_u32(p + 20, 12);
	put_u32(p + 24, 3);
	assert_int_equal(block_new(p, 28, &b), WB_ECORRUPT);

	p = calloc(1, 12); /* first restart not at 0 */
	put_u32(p + 4, 2);
	put_u32(p + 8, 1);
	assert_int_equal(block_new(p, 12, &b), WB_ECORRUPT);
}

/* Every operation on a damaged block terminates without touching memory
 * outside it, and what it finds wrong is WB_ECORRUPT. */
static void exercise(block_t *b, const struct kv *kv, int n, unsigned *seed, int *corrupt_seen)
{
	iter_t *it = block_iter_new(b, bytes_cmp);
	assert_non_null(it);
	int steps = 0;
	for (iter_seek_first(it); iter_valid(it) && steps <= 2 * n; iter_next(it))
		steps++;
	assert_true(steps <= n + 1);
	int rc = iter_status(it);
	assert_true(rc == WB_OK || rc == WB_ECORRUPT);
	*corrupt_seen += rc == WB_ECORRUPT;
	iter_destroy(it);

	it = block_iter_new(b, bytes_cmp);
	steps = 0;
	for (iter_seek_last(it); iter_valid(it) && steps <= 2 * n; iter_prev(it))
		steps++;
	assert_true(steps <= n + 1);
	rc = iter_status(it);
	assert_true(rc == WB_OK || rc == WB_ECORRUPT);
	iter_destroy(it);

	it = block_iter_new(b, bytes_cmp);
	for (int s = 0; s < 8; s++) {
		const struct kv *t = &kv[rand_r(seed) % n];
		if (s & 1)
			iter_seek_for_prev(it, slice_make(t->key, t->klen));
		else
			iter_seek(it, slice_make(t->key, t->klen));
		for (int j = 0; j < 3 && iter_valid(it); j++) {
			slice_t k = iter_key(it), v = iter_value(it);
			/* touch every byte so ASan sees any bad view */
			volatile uint8_t sink = 0;
			for (size_t x = 0; x < k.len; x++)
				sink ^= k.data[x];
			for (size_t x = 0; x < v.len; x++)
				sink ^= v.data[x];
			(void)sink;
			if ((s + j) & 1)
				iter_prev(it);
			else
				iter_next(it);
		}
		rc = iter_status(it);
		assert_true(rc == WB_OK || rc == WB_ECORRUPT);
		if (rc != WB_OK)
			assert_false(iter_valid(it));
	}
	iter_destroy(it);
}

/* A block built with keys out of order: what fuzz_block found (entry 6 of a
 * seed's index block sorting before entry 5), as a buggy writer would leave
 * it behind a good checksum. Walking it either way reports WB_ECORRUPT
 * instead of handing the keys out unsorted, within a run of prefix-shared
 * keys and across a restart point alike. */
static void expect_disorder_reported(const char *const *keys, int n, int interval)
{
	struct kv kv[8];
	for (int i = 0; i < n; i++) {
		kv[i].klen = strlen(keys[i]);
		memcpy(kv[i].key, keys[i], kv[i].klen);
		kv[i].vlen = 1;
		kv[i].val[0] = 'v';
	}
	block_t *b = build(kv, n, interval);
	iter_t *it = block_iter_new(b, bytes_cmp);
	slice_t prev = { NULL, 0 };
	char copy[32];
	for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
		if (prev.data != NULL)
			assert_true(slice_compare(prev, iter_key(it)) < 0);
		memcpy(copy, iter_key(it).data, iter_key(it).len);
		prev = slice_make(copy, iter_key(it).len);
	}
	assert_int_equal(iter_status(it), WB_ECORRUPT);
	iter_destroy(it);
	it = block_iter_new(b, bytes_cmp);
	prev = slice_make(NULL, 0);
	for (iter_seek_last(it); iter_valid(it); iter_prev(it)) {
		if (prev.data != NULL)
			assert_true(slice_compare(iter_key(it), prev) < 0);
		memcpy(copy, iter_key(it).data, iter_key(it).len);
		prev = slice_make(copy, iter_key(it).len);
	}
	assert_int_equal(iter_status(it), WB_ECORRUPT);
	iter_destroy(it);
	block_unref(b);
}

static void test_keys_out_of_order(void **state)
{
	static const char *const in_run[] = { "apple", "banana", "apricot", "cherry" };
	static const char *const across[] = { "a", "c", "b", "d" };
	static const char *const twice[] = { "a", "b", "b", "c" };
	static const char *const last_two[] = { "a", "b", "d", "c" };
	expect_disorder_reported(in_run, 4, 16);
	expect_disorder_reported(across, 4, 1);
	expect_disorder_reported(twice, 4, 16);
	expect_disorder_reported(twice, 4, 1);
	expect_disorder_reported(last_two, 4, 1);
	expect_disorder_reported(last_two, 4, 2);
}

/* The last entry of a block straddling the last restart point: what
 * fuzz_block found. A forward scan went through it cleanly (the check
 * that an entry does not overlap a restart ran only when the next entry
 * was parsed, and there was none), while seek_last and prev, which start
 * at that restart, decoded from the middle of the entry and failed: one
 * block, two answers. Both directions must report it. */
static void test_entry_straddles_last_restart(void **state)
{
	struct kv kv[2] = { { "apple", 5, "1", 1 }, { "banana", 6, "22", 2 } };
	block_t *good = build(kv, 2, 1);
	size_t len = good->len;
	uint8_t *p = malloc(len);
	memcpy(p, good->data, len);
	block_unref(good);
	uint32_t second = get_u32(p + len - 8); /* restart[1]: where "banana" starts */
	put_u32(p + len - 8, second + 2);          /* now inside it */
	block_t *b;
	assert_int_equal(block_new(p, len, &b), WB_OK);
	iter_t *it = block_iter_new(b, bytes_cmp);
	for (iter_seek_first(it); iter_valid(it); iter_next(it))
		;
	assert_int_equal(iter_status(it), WB_ECORRUPT);
	iter_destroy(it);
	it = block_iter_new(b, bytes_cmp);
	for (iter_seek_last(it); iter_valid(it); iter_prev(it))
		;
	assert_int_equal(iter_status(it), WB_ECORRUPT);
	iter_destroy(it);
	block_unref(b);
}

static void test_random_damage(void **state)
{
	const int n = 60;
	struct kv *kv = make_kvs(n);
	block_builder_t bb;
	block_builder_init(&bb, 4);
	for (int i = 0; i < n; i++)
		block_builder_add(&bb, slice_make(kv[i].key, kv[i].klen),
				  slice_make(kv[i].val, kv[i].vlen));
	slice_t good;
	assert_int_equal(block_builder_finish(&bb, &good), WB_OK);

	unsigned seed = 12345;
	int rejected = 0, corrupt_seen = 0;
	for (int trial = 0; trial < 1000; trial++) {
		/* Exact-size copies, so ASan catches a read one byte past. */
		size_t len = good.len;
		if (trial % 10 == 9)
			len = (size_t)rand_r(&seed) % good.len; /* truncated */
		uint8_t *p = malloc(len ? len : 1);
		memcpy(p, good.data, len);
		int flips = 1 + trial % 3;
		for (int f = 0; f < flips && len > 0; f++)
			p[(size_t)rand_r(&seed) % len] ^= (uint8_t)(1 + rand_r(&seed) % 255);
		block_t *b;
		int rc = block_new(p, len, &b);
		if (rc != WB_OK) {
			assert_int_equal(rc, WB_ECORRUPT);
			rejected++;
			continue;
		}
		exercise(b, kv, n, &seed, &corrupt_seen);
		block_unref(b);
	}
	/* Sanity: the damage did get noticed a good share of the time. */
	assert_true(rejected + corrupt_seen > 100);
	block_builder_destroy(&bb);
	free(kv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_seek_boundaries),
		cmocka_unit_test(test_next_prev_across_restarts),
		cmocka_unit_test(test_empty_and_single),
		cmocka_unit_test(test_internal_key_order),
		cmocka_unit_test(test_block_new_rejects),
		cmocka_unit_test(test_keys_out_of_order),
		cmocka_unit_test(test_entry_straddles_last_restart),
		cmocka_unit_test(test_random_damage),
	};
	return cmocka_run_group_tests(tests, 0, NULL);
}
