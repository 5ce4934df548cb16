/*
 * test_batch.c -- write batches (batch.c): the public wb_batch_* calls build
 * exactly the bytes docs/format.md "Write batch" describes, batch_iterate
 * hands back exactly what was added (keyspace byte, meta, value, the one
 * timestamp), batch_split cuts a WAL record holding several batches back to
 * back, and malformed input -- every truncation, bad varints, lengths that
 * run past the end, counts that disagree with the entries -- is WB_ECORRUPT
 * before the callback runs even once. Keys outside 1..WB_MAX_KEY_LEN and
 * oversized values are WB_EINVAL and change nothing.
 *
 * Pure in-memory tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "db/batch.h"
#include "table/ikey.h"

static slice_t rep_of(const wb_batch *b)
{
	return slice_make(b->rep, b->len);
}

/* ---- what the callback saw ---- */

struct call {
	uint8_t meta;
	uint8_t *tk, *v;
	size_t tkl, vl;
	uint64_t ts;
};

struct calls {
	struct call c[512];
	int n;
	int fail_at; /* return -77 on this call (1-based); 0: never */
};

static int record(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	struct calls *cs = arg;
	assert_true(cs->n < 512);
	struct call *c = &cs->c[cs->n++];
	c->meta = meta;
	c->tk = malloc(tree_key.len + 1);
	c->v = malloc(value.len + 1);
	memcpy(c->tk, tree_key.data, tree_key.len);
	if (value.len)
		memcpy(c->v, value.data, value.len);
	c->tkl = tree_key.len;
	c->vl = value.len;
	c->ts = ts;
	return cs->n == cs->fail_at ? -77 : WB_OK;
}

static void calls_free(struct calls *cs)
{
	for (int i = 0; i < cs->n; i++) {
		free(cs->c[i].tk);
		free(cs->c[i].v);
	}
	cs->n = 0;
}

static void expect_call(const struct calls *cs, int i, uint8_t meta, uint8_t ks, const void *key,
			size_t klen, const void *val, size_t vlen, uint64_t ts)
{
	const struct call *c = &cs->c[i];
	assert_int_equal(c->meta, meta);
	assert_int_equal(c->tkl, klen + 1);
	assert_int_equal(c->tk[0], ks);
	assert_memory_equal(c->tk + 1, key, klen);
	assert_int_equal(c->vl, vlen);
	if (vlen)
		assert_memory_equal(c->v, val, vlen);
	assert_int_equal(c->ts, ts);
}

/* rep must be rejected as a whole: WB_ECORRUPT and no call. */
static void expect_corrupt(slice_t rep)
{
	struct calls cs = { .n = 0 };
	assert_int_equal(batch_iterate(rep, record, &cs), WB_ECORRUPT);
	assert_int_equal(cs.n, 0);
}

/* ---- tests ---- */

static void test_put_delete_bytes(void **state)
{
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_count(b), 0);
	assert_int_equal(b->len, BATCH_HEADER_SIZE);
	assert_int_equal(wb_batch_put(b, "k1", 2, "v1", 2), WB_OK);
	assert_int_equal(wb_batch_delete(b, "k2", 2), WB_OK);
	assert_int_equal(wb_batch_put(b, "k1", 2, "", 0), WB_OK);
	assert_int_equal(batch_add(b, META_TOMBSTONE, KS_META, slice_make("m", 1),
				   slice_make("ignored", 7)),
			 WB_OK);
	assert_int_equal(wb_batch_count(b), 4);
	batch_set_ts(b, 0x1122334455667788ull);

	static const uint8_t want[] = {
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, /* ts */
		4, 0, 0, 0,                                     /* count */
		0, 3, KS_USER, 'k', '1', 2, 'v', '1',           /* put k1 v1 */
		META_TOMBSTONE, 3, KS_USER, 'k', '2', 0,        /* delete k2 */
		0, 3, KS_USER, 'k', '1', 0,                     /* put k1 "" */
		META_TOMBSTONE, 2, KS_META, 'm', 0,             /* tombstone: no value */
	};
	assert_int_equal(b->len, sizeof(want));
	assert_memory_equal(b->rep, want, sizeof(want));
	assert_int_equal(batch_ts(rep_of(b)), 0x1122334455667788ull);
	assert_int_equal(batch_count_rep(rep_of(b)), 4);

	struct calls cs = { .n = 0 };
	assert_int_equal(batch_iterate(rep_of(b), record, &cs), WB_OK);
	assert_int_equal(cs.n, 4);
	const uint64_t ts = 0x1122334455667788ull;
	expect_call(&cs, 0, 0, KS_USER, "k1", 2, "v1", 2, ts);
	expect_call(&cs, 1, META_TOMBSTONE, KS_USER, "k2", 2, NULL, 0, ts);
	expect_call(&cs, 2, 0, KS_USER, "k1", 2, NULL, 0, ts);
	expect_call(&cs, 3, META_TOMBSTONE, KS_META, "m", 1, NULL, 0, ts);
	calls_free(&cs);

	/* Clear empties it completely, timestamp included, for reuse. */
	wb_batch_clear(b);
	assert_int_equal(wb_batch_count(b), 0);
	assert_int_equal(b->len, BATCH_HEADER_SIZE);
	assert_int_equal(batch_ts(rep_of(b)), 0);
	assert_int_equal(batch_iterate(rep_of(b), record, &cs), WB_OK);
	assert_int_equal(cs.n, 0);
	assert_int_equal(wb_batch_put(b, "x", 1, "y", 1), WB_OK);
	assert_int_equal(wb_batch_count(b), 1);
	assert_int_equal(batch_iterate(rep_of(b), record, &cs), WB_OK);
	assert_int_equal(cs.n, 1);
	expect_call(&cs, 0, 0, KS_USER, "x", 1, "y", 1, 0);
	calls_free(&cs);
	wb_batch_free(b);
	wb_batch_free(NULL);
}

/* Many entries of many sizes, binary keys and values: decoded exactly, in
 * order, and a callback error stops the walk and is returned. */
static void test_iterate_many(void **state)
{
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	uint8_t *big = malloc(1 << 20), *maxkey = malloc(WB_MAX_KEY_LEN);
	for (size_t i = 0; i < (1 << 20); i++)
		big[i] = (uint8_t)(i * 31);
	memset(maxkey, 0, WB_MAX_KEY_LEN); /* NUL bytes throughout */
	maxkey[WB_MAX_KEY_LEN - 1] = 0xff;
	for (int i = 0; i < 300; i++) {
		uint8_t k[300];
		size_t kl = 1 + (size_t)(i * 7) % 299; /* lengths 1..299 cross the varint step */
		for (size_t j = 0; j < kl; j++)
			k[j] = (uint8_t)(i + j);
		size_t vl = i == 150 ? 1 << 20 : (size_t)(i * 13) % 200;
		if (i % 5 == 0)
			assert_int_equal(wb_batch_delete(b, k, kl), WB_OK);
		else
			assert_int_equal(wb_batch_put(b, k, kl, big, vl), WB_OK);
	}
	assert_int_equal(wb_batch_put(b, maxkey, WB_MAX_KEY_LEN, "max", 3), WB_OK);
	assert_int_equal(wb_batch_count(b), 301);
	batch_set_ts(b, 424242);

	static struct calls cs;
	cs.n = 0;
	cs.fail_at = 0;
	assert_int_equal(batch_iterate(rep_of(b), record, &cs), WB_OK);
	assert_int_equal(cs.n, 301);
	for (int i = 0; i < 300; i++) {
		uint8_t k[300];
		size_t kl = 1 + (size_t)(i * 7) % 299;
		for (size_t j = 0; j < kl; j++)
			k[j] = (uint8_t)(i + j);
		size_t vl = i == 150 ? 1 << 20 : (size_t)(i * 13) % 200;
		if (i % 5 == 0)
			expect_call(&cs, i, META_TOMBSTONE, KS_USER, k, kl, NULL, 0, 424242);
		else
			expect_call(&cs, i, 0, KS_USER, k, kl, big, vl, 424242);
	}
	expect_call(&cs, 300, 0, KS_USER, maxkey, WB_MAX_KEY_LEN, "max", 3, 424242);
	calls_free(&cs);

	cs.fail_at = 6;
	assert_int_equal(batch_iterate(rep_of(b), record, &cs), -77);
	assert_int_equal(cs.n, 6);
	calls_free(&cs);
	free(big);
	free(maxkey);
	wb_batch_free(b);
}

static wb_batch *batch_of(int first, int n, uint64_t ts)
{
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	for (int i = first; i < first + n; i++) {
		char k[16], v[16];
		int kl = snprintf(k, sizeof(k), "key%d", i);
		int vl = snprintf(v, sizeof(v), "val%d", i);
		assert_int_equal(wb_batch_put(b, k, (size_t)kl, v, (size_t)vl), WB_OK);
	}
	batch_set_ts(b, ts);
	return b;
}

/* A WAL record of several batches back to back (one of them empty). */
static void test_split(void **state)
{
	wb_batch *bs[4] = { batch_of(0, 3, 100), batch_of(3, 0, 101), batch_of(3, 40, 102),
			    batch_of(43, 1, 103) };
	size_t total = 0;
	for (int i = 0; i < 4; i++)
		total += bs[i]->len;
	uint8_t *rec = malloc(total + 1), *p = rec;
	for (int i = 0; i < 4; i++) {
		memcpy(p, bs[i]->rep, bs[i]->len);
		p += bs[i]->len;
	}

	slice_t rest = slice_make(rec, total), one;
	struct calls cs = { .n = 0 };
	size_t off = 0;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(batch_split(&rest, &one), WB_OK);
		assert_ptr_equal(one.data, rec + off);
		off += bs[i]->len;
		assert_ptr_equal(rest.data, rec + off);
		assert_int_equal(rest.len, total - off);
		assert_int_equal(one.len, bs[i]->len);
		assert_memory_equal(one.data, bs[i]->rep, one.len);
		assert_int_equal(batch_ts(one), 100 + (uint64_t)i);
		assert_int_equal(batch_iterate(one, record, &cs), WB_OK);
	}
	assert_int_equal(rest.len, 0);
	assert_ptr_equal(rest.data, rec + total);
	assert_int_equal(cs.n, 44);
	for (int i = 0; i < 44; i++) {
		char k[16], v[16];
		int kl = snprintf(k, sizeof(k), "key%d", i);
		int vl = snprintf(v, sizeof(v), "val%d", i);
		expect_call(&cs, i, 0, KS_USER, k, (size_t)kl, v, (size_t)vl,
			    i < 3 ? 100 : i < 43 ? 102 : 103);
	}
	calls_free(&cs);

	/* Nothing left is not a batch. */
	assert_int_equal(batch_split(&rest, &one), WB_ECORRUPT);

	/* The record cut inside the third batch: the first two still split
	 * off, the third is WB_ECORRUPT and rest stays where it was. */
	size_t cut = bs[0]->len + bs[1]->len + bs[2]->len / 2;
	rest = slice_make(rec, cut);
	assert_int_equal(batch_split(&rest, &one), WB_OK);
	assert_int_equal(batch_split(&rest, &one), WB_OK);
	slice_t before = rest;
	assert_int_equal(batch_split(&rest, &one), WB_ECORRUPT);
	assert_ptr_equal(rest.data, before.data);
	assert_int_equal(rest.len, before.len);

	/* One stray byte after the last batch. */
	rec[total] = 0;
	rest = slice_make(rec + total - bs[3]->len, bs[3]->len + 1);
	assert_int_equal(batch_split(&rest, &one), WB_OK);
	assert_int_equal(rest.len, 1);
	assert_int_equal(batch_split(&rest, &one), WB_ECORRUPT);
	free(rec);
	for (int i = 0; i < 4; i++)
		wb_batch_free(bs[i]);
}

/* Every proper prefix of a batch is malformed, both to iterate and to
 * split; so is the batch with anything after it (to iterate). */
static void test_every_truncation(void **state)
{
	wb_batch *b = batch_of(0, 5, 9);
	assert_int_equal(wb_batch_put(b, "big", 3, NULL, 0), WB_OK);
	uint8_t v[200];
	memset(v, 'v', sizeof(v));
	assert_int_equal(wb_batch_put(b, "k", 1, v, sizeof(v)), WB_OK); /* 2-byte varint */
	assert_int_equal(wb_batch_delete(b, "gone", 4), WB_OK);
	for (size_t len = 0; len < b->len; len++) {
		uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
		memcpy(copy, b->rep, len);
		expect_corrupt(slice_make(copy, len));
		slice_t rest = slice_make(copy, len), one;
		assert_int_equal(batch_split(&rest, &one), WB_ECORRUPT);
		free(copy);
	}
	uint8_t *longer = malloc(b->len + 1);
	memcpy(longer, b->rep, b->len);
	longer[b->len] = 0;
	expect_corrupt(slice_make(longer, b->len + 1));
	free(longer);
	wb_batch_free(b);
}

/* Builds header(ts 1, count) + raw entry bytes. */
static slice_t handmade(uint8_t *buf, uint32_t count, const uint8_t *entries, size_t n)
{
	put_u64(buf, 1);
	put_u32(buf + 8, count);
	memcpy(buf + BATCH_HEADER_SIZE, entries, n);
	return slice_make(buf, BATCH_HEADER_SIZE + n);
}

static void test_malformed(void **state)
{
	uint8_t buf[128];
	/* A good one first, so the cases below differ from it in one thing. */
	static const uint8_t good[] = { 0, 2, 0, 'a', 1, 'x' };
	struct calls cs = { .n = 0 };
	assert_int_equal(batch_iterate(handmade(buf, 1, good, sizeof(good)), record, &cs), WB_OK);
	assert_int_equal(cs.n, 1);
	calls_free(&cs);

	/* split_ok: batch_split accepts bytes after the counted entries (the
	 * next batch of the record), so those cases split but do not iterate. */
	static const struct {
		uint32_t count;
		uint8_t bytes[24];
		size_t n;
		bool split_ok;
	} bad[] = {
		/* key length varint that never ends */
		{ 1, { 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80 }, 12,
		  false },
		/* key length varint past 64 bits */
		{ 1,
		  { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		    0, 'a', 0 },
		  15,
		  false },
		/* key length runs past the end */
		{ 1, { 0, 9, 0, 'a', 0 }, 5, false },
		/* huge key length */
		{ 1, { 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 'a', 0 }, 9, false },
		/* key of the keyspace byte only, and an empty key */
		{ 1, { 0, 1, 0, 0 }, 4, false },
		{ 1, { 0, 0, 0 }, 3, false },
		/* value length varint that never ends, past the end, huge */
		{ 1, { 0, 2, 0, 'a', 0x80 }, 5, false },
		{ 1, { 0, 2, 0, 'a', 2, 'x' }, 6, false },
		{ 1,
		  { 0, 2, 0, 'a', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'x' },
		  15,
		  false },
		/* count says more entries than there are, or fewer */
		{ 2, { 0, 2, 0, 'a', 1, 'x' }, 6, false },
		{ 0, { 0, 2, 0, 'a', 1, 'x' }, 6, true },
		{ 1, { 0, 2, 0, 'a', 1, 'x', 0, 2, 0, 'b', 0 }, 11, true },
		/* a good entry, then a broken second one */
		{ 2, { 0, 2, 0, 'a', 1, 'x', 0, 2, 0, 'b', 5, 'y' }, 12, false },
		/* meta byte only */
		{ 1, { 0 }, 1, false },
		{ 0xffffffffu, { 0, 2, 0, 'a', 0 }, 5, false },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		slice_t rep = handmade(buf, bad[i].count, bad[i].bytes, bad[i].n);
		expect_corrupt(rep);
		/* batch_split allows bytes after the counted entries, nothing else. */
		slice_t rest = rep, one;
		int want = bad[i].split_ok ? WB_OK : WB_ECORRUPT;
		if (batch_split(&rest, &one) != want)
			fail_msg("case %zu: split should give %s", i, wb_strerror(want));
	}
	expect_corrupt(slice_make(buf, 0));
	expect_corrupt(slice_make(buf, BATCH_HEADER_SIZE - 1));
}

/* Entries whose every length is fine but which no writer makes: replay
 * must refuse them rather than apply them. The first is what fuzz_batch
 * found: a value pointer's meta byte turned into a tombstone's, the
 * pointer left behind as the tombstone's value. */
static void test_entries_no_writer_makes(void **state)
{
	static const uint8_t found[] = { 0x01, 0x00, 0xad, 0x88, 0xcc, 0x33, 0xa2, 0x01, 0x01,
					 0x00, 0x00, 0x00, 0x01, 0x09, 0x00, 't',  'a',  'i',
					 'l',  '-',  'b',  'i',  'g',  0x07, 0x03, 0x99, 0x2c,
					 0xc3, 0x01, 0x96, 0x01 };
	expect_corrupt(slice_make(found, sizeof(found)));
	slice_t rest = slice_make(found, sizeof(found)), one;
	assert_int_equal(batch_split(&rest, &one), WB_ECORRUPT);

	uint8_t buf[64];
	static const struct {
		uint8_t bytes[8];
		size_t n;
	} bad[] = {
		{ { META_TOMBSTONE, 2, 0, 'a', 1, 'x' }, 6 },        /* tombstone with a value */
		{ { 0x08, 2, 0, 'a', 1, 'x' }, 6 },                  /* unknown meta bit */
		{ { META_OBJECT, 2, KS_META, 'a', 1, 1 }, 6 },       /* a reference outside KS_USER */
		{ { META_OBJECT | META_VALUE_PTR, 2, 0, 'a', 1, 1 }, 6 },
		{ { META_TOMBSTONE | META_VALUE_PTR, 2, 0, 'a', 0 }, 5 },
		{ { 0, 2, KS_LAST + 1, 'a', 1, 'x' }, 6 },            /* unknown keyspace */
		{ { 0, 2, 0xff, 'a', 1, 'x' }, 6 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_corrupt(handmade(buf, 1, bad[i].bytes, bad[i].n));
	static const uint8_t fine[] = { META_TOMBSTONE, 2, KS_META, 'a', 0 };
	struct calls cs = { .n = 0 };
	assert_int_equal(batch_iterate(handmade(buf, 1, fine, sizeof(fine)), record, &cs), WB_OK);
	calls_free(&cs);

	/* A user key of WB_MAX_KEY_LEN bytes is fine, one byte more is not. */
	uint8_t *big = calloc(1, BATCH_HEADER_SIZE + 16 + WB_MAX_KEY_LEN + 2);
	for (size_t ulen = WB_MAX_KEY_LEN; ulen <= WB_MAX_KEY_LEN + 1; ulen++) {
		uint8_t *q = big + BATCH_HEADER_SIZE;
		*q++ = 0;
		q += put_varint64(q, ulen + 1);
		*q++ = KS_USER;
		memset(q, 'k', ulen);
		q += ulen;
		*q++ = 0;
		put_u32(big + 8, 1);
		slice_t rep = slice_make(big, (size_t)(q - big));
		if (ulen == WB_MAX_KEY_LEN)
			assert_int_equal(batch_iterate(rep, NULL, NULL), WB_OK);
		else
			expect_corrupt(rep);
	}
	free(big);
}

static void test_bad_keys_and_values(void **state)
{
	wb_batch *b;
	assert_int_equal(wb_batch_new(&b), WB_OK);
	assert_int_equal(wb_batch_put(b, "a", 1, "1", 1), WB_OK);
	size_t len = b->len;
	uint8_t *big = calloc(1, WB_MAX_KEY_LEN + 1);
	assert_int_equal(wb_batch_put(b, "", 0, "v", 1), WB_EINVAL);
	assert_int_equal(wb_batch_put(b, NULL, 0, "v", 1), WB_EINVAL);
	assert_int_equal(wb_batch_delete(b, "", 0), WB_EINVAL);
	assert_int_equal(wb_batch_put(b, big, WB_MAX_KEY_LEN + 1, "v", 1), WB_EINVAL);
	assert_int_equal(wb_batch_delete(b, big, WB_MAX_KEY_LEN + 1), WB_EINVAL);
	assert_int_equal(batch_add(b, 0, KS_META, slice_make(big, WB_MAX_KEY_LEN + 1),
				   slice_make("v", 1)),
			 WB_EINVAL);
	/* The length is checked before the bytes are touched. */
	assert_int_equal(wb_batch_put(b, "k", 1, NULL, (size_t)WB_MAX_VALUE_LEN + 1), WB_EINVAL);
	assert_int_equal(b->len, len);
	assert_int_equal(wb_batch_count(b), 1);
	assert_int_equal(batch_check_key(0), WB_EINVAL);
	assert_int_equal(batch_check_key(1), WB_OK);
	assert_int_equal(batch_check_key(WB_MAX_KEY_LEN), WB_OK);
	assert_int_equal(batch_check_key(WB_MAX_KEY_LEN + 1), WB_EINVAL);
	/* A refused entry does not poison the batch. */
	assert_int_equal(wb_batch_put(b, big, WB_MAX_KEY_LEN, "v", 1), WB_OK);
	assert_int_equal(wb_batch_count(b), 2);
	free(big);
	wb_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_delete_bytes),
		cmocka_unit_test(test_iterate_many),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_entries_no_writer_makes),
		cmocka_unit_test(test_bad_keys_and_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
