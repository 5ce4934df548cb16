/*
 * test_memtable.c -- the skiplist memtable (memtable.c): point reads pick the
 * newest version at or below the read timestamp, tombstones come back as
 * entries with their meta byte, tree keys that are prefixes of each other
 * or hold NUL bytes stay apart, and so do keys that share their first 16
 * bytes or more, a 64 KiB key and a 16 MiB value round-trip,
 * the iterator agrees with a sorted model in both directions and on every
 * kind of seek, an internal key inserted twice puts the later insert first,
 * and an iterator keeps its memtable alive after the last other reference
 * is dropped.
 *
 * Everything is in memory; the model is an array sorted with ikey_compare.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "table/ikey.h"
#include "db/memtable.h"

/* ---- the model ---- */

struct ent {
	uint8_t *k; /* internal key */
	size_t kl;
	uint8_t *v; /* meta byte + payload */
	size_t vl;
};

struct model {
	struct ent *e;
	size_t n, cap;
};

/* Adds to both the memtable and the model. */
static void add(memtable_t *m, struct model *md, slice_t tk, uint64_t ts, uint8_t meta,
		const void *payload, size_t plen)
{
	assert_int_equal(memtable_add(m, tk, ts, meta, slice_make(payload, plen)), WB_OK);
	if (md == NULL)
		return;
	if (md->n == md->cap) {
		md->cap = md->cap ? 2 * md->cap : 64;
		md->e = realloc(md->e, md->cap * sizeof(*md->e));
		assert_non_null(md->e);
	}
	struct ent *e = &md->e[md->n++];
	e->k = malloc(tk.len + IKEY_SUFFIX);
	e->kl = ikey_encode(e->k, tk, ts);
	e->v = malloc(plen + 1);
	e->v[0] = meta;
	if (plen)
		memcpy(e->v + 1, payload, plen);
	e->vl = plen + 1;
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	return ikey_compare(slice_make(x->k, x->kl), slice_make(y->k, y->kl));
}

static void model_sort(struct model *md)
{
	qsort(md->e, md->n, sizeof(*md->e), ent_cmp);
}

static void model_free(struct model *md)
{
	for (size_t i = 0; i < md->n; i++) {
		free(md->e[i].k);
		free(md->e[i].v);
	}
	free(md->e);
	memset(md, 0, sizeof(*md));
}

static void assert_at(iter_t *it, const struct ent *e)
{
	assert_true(iter_valid(it));
	slice_t k = iter_key(it), v = iter_value(it);
	assert_int_equal(k.len, e->kl);
	assert_memory_equal(k.data, e->k, e->kl);
	assert_int_equal(v.len, e->vl);
	assert_memory_equal(v.data, e->v, e->vl);
}

/* ---- point reads ---- */

struct got {
	uint8_t k[256], v[256];
	size_t kl, vl;
	int calls;
	int ret; /* what found() returns */
};

static int on_found(void *arg, slice_t ikey, slice_t value)
{
	struct got *g = arg;
	g->calls++;
	g->kl = ikey.len;
	g->vl = value.len;
	memcpy(g->k, ikey.data, ikey.len < sizeof(g->k) ? ikey.len : sizeof(g->k));
	memcpy(g->v, value.data, value.len < sizeof(g->v) ? value.len : sizeof(g->v));
	return g->ret;
}

/* A tree key from a string literal, NUL bytes included. */
#define TK(s) slice_make(s, sizeof(s) - 1)

/* get(tk, read_ts) finds version want_ts with meta and payload, or nothing
 * when want_ts is 0. */
static void expect_get(memtable_t *m, slice_t tk, uint64_t read_ts, uint64_t want_ts, uint8_t meta,
		       const char *payload)
{
	struct got g = { .ret = WB_OK };
	int rc = memtable_get(m, tk, read_ts, on_found, &g);
	if (want_ts == 0) {
		assert_int_equal(rc, WB_ENOTFOUND);
		assert_int_equal(g.calls, 0);
		return;
	}
	assert_int_equal(rc, WB_OK);
	assert_int_equal(g.calls, 1);
	uint8_t ik[256];
	size_t kl = ikey_encode(ik, tk, want_ts);
	assert_int_equal(g.kl, kl);
	assert_memory_equal(g.k, ik, kl);
	size_t plen = strlen(payload);
	assert_int_equal(g.vl, plen + 1);
	assert_int_equal(g.v[0], meta);
	assert_memory_equal(g.v + 1, payload, plen);
}

static void test_versions_and_read_ts(void **state)
{
	memtable_t *m = memtable_new(7, 1 << 20);
	assert_non_null(m);
	assert_int_equal(m->wal_number, 7);
	assert_int_equal(memtable_count(m), 0);
	assert_int_equal(m->min_ts, 0);
	slice_t a = TK("\0apple");
	/* Out of order on purpose: the order comes from the keys. */
	add(m, NULL, a, 20, 0, "v20", 3);
	add(m, NULL, a, 10, 0, "v10", 3);
	add(m, NULL, a, 30, 0, "v30", 3);
	add(m, NULL, a, 25, META_TOMBSTONE, NULL, 0);
	add(m, NULL, a, 40, META_VALUE_PTR, "ptr", 3);
	add(m, NULL, TK("\x01" "b"), 15, 0, "b15", 3);
	assert_int_equal(memtable_count(m), 6);
	assert_int_equal(m->min_ts, 10);
	assert_int_equal(m->max_ts, 40);

	expect_get(m, a, 0, 0, 0, NULL);
	expect_get(m, a, 9, 0, 0, NULL);
	expect_get(m, a, 10, 10, 0, "v10");
	expect_get(m, a, 19, 10, 0, "v10");
	expect_get(m, a, 20, 20, 0, "v20");
	expect_get(m, a, 24, 20, 0, "v20");
	expect_get(m, a, 25, 25, META_TOMBSTONE, "");
	expect_get(m, a, 29, 25, META_TOMBSTONE, "");
	expect_get(m, a, 30, 30, 0, "v30");
	expect_get(m, a, 39, 30, 0, "v30");
	expect_get(m, a, 40, 40, META_VALUE_PTR, "ptr");
	expect_get(m, a, TS_MAX, 40, META_VALUE_PTR, "ptr");
	expect_get(m, TK("\x01" "b"), TS_MAX, 15, 0, "b15");
	expect_get(m, TK("\x01" "b"), 14, 0, 0, NULL);
	/* A key in the other keyspace, and neighbours, are not found. */
	expect_get(m, TK("\x01" "apple"), TS_MAX, 0, 0, NULL);
	expect_get(m, TK("\x01"), TS_MAX, 0, 0, NULL);
	expect_get(m, TK("\x01" "ba"), TS_MAX, 0, 0, NULL);

	/* found()'s result is passed back as it is. */
	struct got g = { .ret = -12345 };
	assert_int_equal(memtable_get(m, a, TS_MAX, on_found, &g), -12345);
	assert_int_equal(g.calls, 1);
	assert_true(memtable_usage(m) > 0);
	memtable_unref(m);
}

/* Tree keys that are prefixes of one another, and keys made of NUL bytes:
 * each read finds its own key only, and the iteration order is the
 * ikey_compare order (a proper prefix first, whatever its timestamps). */
static void test_prefix_and_nul_keys(void **state)
{
	static const struct {
		const char *k;
		size_t len;
	} keys[] = {
		{ "\0", 1 },       { "\0\0", 2 },       { "\0\0\0", 3 },   { "\0a", 2 },
		{ "\0a\0", 3 },    { "\0a\0\0", 4 },    { "\0ab", 3 },     { "\0a\xff", 3 },
		{ "\0a\xff\xff", 4 }, { "\0b", 2 },     { "\x01", 1 },     { "\x01\0", 2 },
		{ "\0a\0b", 4 },   { "\0\xff\xff\xff\xff\xff\xff\xff\xff", 9 },
	};
	const int nkeys = (int)(sizeof(keys) / sizeof(keys[0]));
	memtable_t *m = memtable_new(1, 1 << 20);
	struct model md = { 0 };
	for (int i = 0; i < nkeys; i++) {
		slice_t tk = slice_make(keys[i].k, keys[i].len);
		char v[32];
		for (uint64_t ts = 1; ts <= 3; ts++) {
			/* Long keys get high timestamps, so a byte-wise compare of
			 * whole internal keys would interleave them wrongly. */
			uint64_t t = ts * 1000 + (uint64_t)(keys[i].len * 0x0101010101ull);
			int n = snprintf(v, sizeof(v), "key%d-ts%llu", i, (unsigned long long)t);
			add(m, &md, tk, t, 0, v, (size_t)n);
		}
	}
	model_sort(&md);
	for (int i = 0; i < nkeys; i++) {
		slice_t tk = slice_make(keys[i].k, keys[i].len);
		struct got g = { .ret = WB_OK };
		assert_int_equal(memtable_get(m, tk, TS_MAX, on_found, &g), WB_OK);
		assert_int_equal(g.kl, tk.len + IKEY_SUFFIX);
		assert_memory_equal(g.k, tk.data, tk.len);
		char want[32];
		int n = snprintf(want, sizeof(want), "key%d-ts%llu", i,
				 (unsigned long long)(3000 + keys[i].len * 0x0101010101ull));
		assert_int_equal(g.vl, (size_t)n + 1);
		assert_memory_equal(g.v + 1, want, (size_t)n);
	}
	/* Absent keys between and around the present ones. */
	expect_get(m, slice_make("\0a\0\0\0", 5), TS_MAX, 0, 0, NULL);
	expect_get(m, slice_make("\0aa", 3), TS_MAX, 0, 0, NULL);
	expect_get(m, slice_make("\x02", 1), TS_MAX, 0, 0, NULL);

	iter_t *it = memtable_iter(m);
	size_t i = 0;
	for (iter_seek_first(it); iter_valid(it); iter_next(it))
		assert_at(it, &md.e[i++]);
	assert_int_equal(i, md.n);
	for (iter_seek_last(it); iter_valid(it); iter_prev(it))
		assert_at(it, &md.e[--i]);
	assert_int_equal(i, 0);
	assert_int_equal(iter_status(it), WB_OK);
	iter_destroy(it);
	model_free(&md);
	memtable_unref(m);
}

/* Tree keys in both keyspaces that agree on their first 8 to 20 bytes,
 * with lengths around the 16 bytes of user key the skiplist keeps of each
 * (entry_prefix), some prefixes of others, some with NUL or 0xff bytes or
 * '0' and '1' (one bit apart) where the kept part ends: the iteration
 * order is still the model's, and each read finds its own key. */
static void test_long_shared_prefixes(void **state)
{
	memtable_t *m = memtable_new(1, 1 << 20);
	struct model md = { 0 };
	static const uint8_t tails[] = { '0', '1', '9', 0x00, 0xff };
	uint64_t x = 0x2545F4914F6CDD1Dull;
	for (int i = 0; i < 2000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		uint8_t kb[24];
		size_t len = 13 + (size_t)(x % 8); /* 13..20 bytes */
		kb[0] = (x >> 60) % 4 == 0 ? KS_META : KS_USER;
		memset(kb + 1, '0', sizeof(kb) - 1);
		for (size_t j = 8; j < len; j++)
			kb[j] = tails[(x >> ((8 + 3 * j) % 61)) % sizeof(tails)];
		slice_t tk = slice_make(kb, len);
		uint64_t ts = 1 + (x >> 40) % 5;
		bool dup = false;
		for (size_t j = 0; j < md.n && !dup; j++) {
			slice_t k = slice_make(md.e[j].k, md.e[j].kl);
			dup = slice_compare(ikey_tree_key(k), tk) == 0 && ikey_ts(k) == ts;
		}
		if (!dup)
			add(m, &md, tk, ts, 0, &i, sizeof(i));
	}
	model_sort(&md);
	iter_t *it = memtable_iter(m);
	size_t i = 0;
	for (iter_seek_first(it); iter_valid(it); iter_next(it))
		assert_at(it, &md.e[i++]);
	assert_int_equal(i, md.n);
	for (i = 0; i < md.n; i++) {
		slice_t k = slice_make(md.e[i].k, md.e[i].kl);
		iter_seek(it, k);
		assert_at(it, &md.e[i]);
		struct got g = { .ret = WB_OK };
		assert_int_equal(memtable_get(m, ikey_tree_key(k), TS_MAX, on_found, &g), WB_OK);
		assert_int_equal(g.kl, k.len);
		assert_memory_equal(g.k, k.data, k.len - IKEY_SUFFIX);
	}
	iter_destroy(it);
	model_free(&md);
	memtable_unref(m);
}

static void test_big_key_and_value(void **state)
{
	const size_t klen = 1 + 65536, vlen = 16u << 20;
	uint8_t *k = malloc(klen), *v = malloc(vlen);
	for (size_t i = 0; i < klen; i++)
		k[i] = (uint8_t)(i * 13 + 1);
	k[0] = KS_USER;
	k[100] = 0;
	for (size_t i = 0; i < vlen; i++)
		v[i] = (uint8_t)(i ^ (i >> 11));
	memtable_t *m = memtable_new(1, 4u << 20);
	slice_t tk = slice_make(k, klen);
	assert_int_equal(memtable_add(m, tk, 5, 0, slice_make(v, vlen)), WB_OK);
	assert_int_equal(memtable_add(m, tk, 6, META_TOMBSTONE, slice_make(NULL, 0)), WB_OK);
	slice_t shorter = slice_make(k, klen - 1); /* a prefix of the big key */
	assert_int_equal(memtable_add(m, shorter, 9, 0, slice_make("s", 1)), WB_OK);
	assert_true(memtable_usage(m) > vlen);

	iter_t *it = memtable_iter(m);
	uint8_t *ik = malloc(klen + IKEY_SUFFIX);
	slice_t target = slice_make(ik, ikey_encode(ik, tk, 5));
	for (int dir = 0; dir < 2; dir++) {
		if (dir == 0)
			iter_seek(it, target);
		else
			iter_seek_for_prev(it, target);
		assert_true(iter_valid(it));
		assert_int_equal(iter_key(it).len, target.len);
		assert_memory_equal(iter_key(it).data, ik, target.len);
		slice_t got = iter_value(it);
		assert_int_equal(got.len, vlen + 1);
		assert_int_equal(got.data[0], 0);
		assert_memory_equal(got.data + 1, v, vlen);
	}
	iter_prev(it); /* ts 6, the tombstone, sorts before ts 5 */
	assert_true(iter_valid(it));
	assert_int_equal(ikey_ts(iter_key(it)), 6);
	assert_int_equal(iter_value(it).len, 1);
	iter_prev(it); /* the shorter key sorts first */
	assert_true(iter_valid(it));
	assert_int_equal(iter_key(it).len, klen - 1 + IKEY_SUFFIX);
	iter_prev(it);
	assert_false(iter_valid(it));
	iter_destroy(it);

	struct got g = { .ret = WB_OK };
	assert_int_equal(memtable_get(m, tk, TS_MAX, on_found, &g), WB_OK);
	assert_int_equal(g.kl, klen + IKEY_SUFFIX);
	assert_int_equal(g.vl, 1);
	assert_int_equal(g.v[0], META_TOMBSTONE);
	assert_int_equal(memtable_get(m, tk, 4, on_found, &g), WB_ENOTFOUND);
	free(ik);
	free(k);
	free(v);
	memtable_unref(m);
}

/* Random keys and versions: the iterator walks the sorted model forward
 * and backward, and seeks land where the model says, including targets
 * that fall between entries. */
static void test_iterator_order(void **state)
{
	memtable_t *m = memtable_new(1, 1 << 20);
	struct model md = { 0 };
	uint64_t x = 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 3000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		char kb[32], vb[32];
		kb[0] = KS_USER;
		int kn = 1 + snprintf(kb + 1, sizeof(kb) - 1, "k%llu",
				      (unsigned long long)(x % 700));
		uint64_t ts = 1 + (x >> 20) % 100000;
		int vn = snprintf(vb, sizeof(vb), "%d", i);
		slice_t tk = slice_make(kb, (size_t)kn);
		bool dup = false;
		for (size_t j = 0; j < md.n && !dup; j++) { /* no equal ikeys here */
			slice_t k = slice_make(md.e[j].k, md.e[j].kl);
			dup = slice_compare(ikey_tree_key(k), tk) == 0 && ikey_ts(k) == ts;
		}
		if (!dup)
			add(m, &md, tk, ts, (uint8_t)(i % 3 == 0), vb, (size_t)vn);
	}
	model_sort(&md);
	assert_int_equal(memtable_count(m), md.n);

	iter_t *it = memtable_iter(m);
	assert_false(iter_valid(it));
	size_t i = 0;
	for (iter_seek_first(it); iter_valid(it); iter_next(it))
		assert_at(it, &md.e[i++]);
	assert_int_equal(i, md.n);
	for (iter_seek_last(it); iter_valid(it); iter_prev(it))
		assert_at(it, &md.e[--i]);
	assert_int_equal(i, 0);

	uint8_t tb[64];
	for (i = 0; i < md.n; i++) {
		slice_t k = slice_make(md.e[i].k, md.e[i].kl);
		iter_seek(it, k);
		assert_at(it, &md.e[i]);
		iter_seek_for_prev(it, k);
		assert_at(it, &md.e[i]);
		iter_prev(it);
		if (i > 0)
			assert_at(it, &md.e[i - 1]);
		else
			assert_false(iter_valid(it));
		/* ts - 1 sorts right after entry i and not after entry i + 1. */
		slice_t after = slice_make(tb, ikey_encode(tb, ikey_tree_key(k), ikey_ts(k) - 1));
		iter_seek(it, after);
		if (i + 1 < md.n)
			assert_at(it, &md.e[i + 1]);
		else
			assert_false(iter_valid(it));
		slice_t next = i + 1 < md.n ? slice_make(md.e[i + 1].k, md.e[i + 1].kl) : k;
		bool next_equal = i + 1 < md.n && ikey_compare(next, after) == 0;
		iter_seek_for_prev(it, after);
		assert_at(it, &md.e[next_equal ? i + 1 : i]);
	}
	/* Before the first key and after the last. */
	iter_seek(it, slice_make(tb, ikey_encode(tb, TK("\x01"), TS_MAX)));
	assert_false(iter_valid(it));
	iter_seek_for_prev(it, slice_make(tb, ikey_encode(tb, TK("\0"), 0)));
	assert_false(iter_valid(it));
	assert_int_equal(iter_status(it), WB_OK);
	iter_destroy(it);
	model_free(&md);
	memtable_unref(m);
}

/* The same internal key twice (a batch that writes a key twice gives both
 * entries one timestamp): the later insert is found first, by a read and
 * by a forward seek; a backward walk sees the two in reverse. */
static void test_same_ikey_twice(void **state)
{
	memtable_t *m = memtable_new(1, 1 << 20);
	slice_t k = TK("\0dup");
	add(m, NULL, TK("\0a"), 5, 0, "a", 1);
	add(m, NULL, k, 5, 0, "first", 5);
	add(m, NULL, k, 5, 0, "second", 6);
	add(m, NULL, k, 5, META_TOMBSTONE, NULL, 0);
	add(m, NULL, k, 5, 0, "fourth", 6);
	add(m, NULL, TK("\0z"), 5, 0, "z", 1);
	expect_get(m, k, 5, 5, 0, "fourth");
	expect_get(m, k, TS_MAX, 5, 0, "fourth");

	const char *order[] = { "fourth", "", "second", "first" };
	iter_t *it = memtable_iter(m);
	uint8_t ik[32];
	slice_t target = slice_make(ik, ikey_encode(ik, k, 5));
	iter_seek(it, target);
	for (int i = 0; i < 4; i++, iter_next(it)) {
		assert_true(iter_valid(it));
		assert_int_equal(iter_value(it).len, strlen(order[i]) + 1);
		assert_memory_equal(iter_value(it).data + 1, order[i], strlen(order[i]));
	}
	assert_memory_equal(iter_key(it).data, "\0z", 2);
	iter_seek_for_prev(it, target); /* the last of the equal entries */
	for (int i = 3; i >= 0; i--, iter_prev(it)) {
		assert_true(iter_valid(it));
		assert_int_equal(iter_value(it).len, strlen(order[i]) + 1);
		assert_memory_equal(iter_value(it).data + 1, order[i], strlen(order[i]));
	}
	assert_memory_equal(iter_key(it).data, "\0a", 2);
	/* Back and forth inside the run of equal keys. */
	iter_seek(it, target);
	iter_next(it);
	iter_next(it);
	iter_prev(it);
	assert_int_equal(iter_value(it).len, 1); /* the tombstone */
	iter_prev(it);
	assert_memory_equal(iter_value(it).data + 1, "fourth", 6);
	iter_destroy(it);
	memtable_unref(m);
}

/* The iterator holds a reference: it reads on after the owner let go, and
 * its destruction frees the memtable (ASan would see a leak or a use after
 * free). */
static void test_iterator_keeps_memtable(void **state)
{
	memtable_t *m = memtable_new(3, 1 << 20);
	struct model md = { 0 };
	for (int i = 0; i < 100; i++) {
		char kb[16];
		int n = snprintf(kb, sizeof(kb), "%ck%03d", 0, i);
		add(m, &md, slice_make(kb, (size_t)n), 1, 0, kb, (size_t)n);
	}
	model_sort(&md);
	assert_int_equal(atomic_load(&m->refs), 1);
	iter_t *it = memtable_iter(m);
	iter_t *it2 = memtable_iter(m);
	assert_int_equal(atomic_load(&m->refs), 3);
	memtable_ref(m);
	assert_int_equal(atomic_load(&m->refs), 4);
	memtable_unref(m);
	memtable_unref(m);
	iter_destroy(it2);
	assert_int_equal(atomic_load(&m->refs), 1); /* the iterator's */
	size_t i = 0;
	for (iter_seek_first(it); iter_valid(it); iter_next(it))
		assert_at(it, &md.e[i++]);
	assert_int_equal(i, 100);
	iter_destroy(it); /* frees m */
	memtable_unref(NULL);
	model_free(&md);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions_and_read_ts),
		cmocka_unit_test(test_prefix_and_nul_keys),
		cmocka_unit_test(test_long_shared_prefixes),
		cmocka_unit_test(test_big_key_and_value),
		cmocka_unit_test(test_iterator_order),
		cmocka_unit_test(test_same_ikey_twice),
		cmocka_unit_test(test_iterator_keeps_memtable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
