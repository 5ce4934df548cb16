/*
 * test_version.c -- versions and version edits (version.c): an edit encodes
 * to the bytes of docs/format.md "MANIFEST" and decodes back field for
 * field; every truncation of an encoding is either WB_ECORRUPT or, exactly
 * at a field boundary, the edit made of the fields before it; garbage is
 * WB_ECORRUPT. version_apply orders L0 newest first by file number and L1+
 * by smallest key, shares file metas by reference and refuses to delete a
 * file that is not there. version_get reads through real tables in L0
 * (overlapping, newest first) and in sorted levels, at several read
 * timestamps; version_add_iters gives one iterator per L0 table and one per
 * deeper level, and the level iterator walks several tables as one, in both
 * directions, with seeks on and between table boundaries.
 *
 * Tables are built with sst_builder_* into a fresh mkdtemp directory and
 * opened with sst_reader_open; the teardown removes the directory.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "util/error.h"
#include "table/ikey.h"
#include "db/version.h"

static char dir[64];

/* ---- keys, entries and tables ---- */

/* Tree key of key number k: KS_USER "k" + 4 digits. */
static slice_t tk_of(int k, char buf[16])
{
	buf[0] = KS_USER;
	return slice_make(buf, 1 + (size_t)snprintf(buf + 1, 15, "k%04d", k));
}

struct ent {
	int k;
	uint64_t ts;
	uint8_t meta;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	return x->ts > y->ts ? -1 : x->ts < y->ts; /* newest first */
}

/* Value of an entry: meta byte, then "v<k>@<ts>/<table>". */
static size_t value_of(const struct ent *e, uint64_t table, uint8_t *buf)
{
	buf[0] = e->meta;
	if (e->meta & META_TOMBSTONE)
		return 1;
	return 1 + (size_t)sprintf((char *)buf + 1, "v%d@%llu/%llu", e->k,
				   (unsigned long long)e->ts, (unsigned long long)table);
}

static size_t ikey_of(const struct ent *e, uint8_t *buf)
{
	char kb[16];
	return ikey_encode(buf, tk_of(e->k, kb), e->ts);
}

/* Builds table `number` from n entries (sorted here), opens it and returns
 * its file_meta (refs = 1, reader set). */
static file_meta_t *make_table(uint64_t number, struct ent *es, size_t n)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%06llu.sst", dir, (unsigned long long)number);
	qsort(es, n, sizeof(*es), ent_cmp);
	sst_options_t o = { 256, 4, 10 }; /* small blocks: several per table */
	sst_builder_t *b;
	assert_int_equal(sst_builder_new(wb_env_default(), path, &o, &b), WB_OK);
	for (size_t i = 0; i < n; i++) {
		uint8_t k[32], v[64];
		assert_int_equal(sst_builder_add(b, slice_make(k, ikey_of(&es[i], k)),
						 slice_make(v, value_of(&es[i], number, v))),
				 WB_OK);
	}
	sst_props_t p;
	assert_int_equal(sst_builder_finish(b, &p), WB_OK);
	file_meta_t *f = file_meta_new(number, p.file_size, slice_make(p.smallest, p.smallest_len),
				       slice_make(p.largest, p.largest_len));
	assert_non_null(f);
	f->min_ts = p.min_ts;
	f->max_ts = p.max_ts;
	f->entries = p.entries;
	sst_props_destroy(&p);
	int rc = sst_reader_open(wb_env_default(), path, &f->reader);
	if (rc != WB_OK)
		fail_msg("open %s: %s", path, err_message());
	return f;
}

/* A file_meta without a table, for the edit and apply tests. */
static file_meta_t *meta_only(uint64_t number, int k_lo, int k_hi)
{
	struct ent lo = { k_lo, 100, 0 }, hi = { k_hi, 1, 0 };
	uint8_t a[32], b[32];
	file_meta_t *f = file_meta_new(number, 1000 * number, slice_make(a, ikey_of(&lo, a)),
				       slice_make(b, ikey_of(&hi, b)));
	assert_non_null(f);
	return f;
}

/* ---- edits ---- */

static void assert_meta_equal(const file_meta_t *a, const file_meta_t *b)
{
	assert_int_equal(a->number, b->number);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->smallest_len, b->smallest_len);
	assert_memory_equal(a->smallest, b->smallest, a->smallest_len);
	assert_int_equal(a->largest_len, b->largest_len);
	assert_memory_equal(a->largest, b->largest, a->largest_len);
	assert_int_equal(a->min_ts, b->min_ts);
	assert_int_equal(a->max_ts, b->max_ts);
	assert_int_equal(a->entries, b->entries);
}

static void assert_edit_equal(const version_edit_t *a, const version_edit_t *b)
{
	assert_int_equal(a->has_log_number, b->has_log_number);
	assert_int_equal(a->has_next_file, b->has_next_file);
	assert_int_equal(a->has_last_ts, b->has_last_ts);
	if (a->has_log_number)
		assert_int_equal(a->log_number, b->log_number);
	if (a->has_next_file)
		assert_int_equal(a->next_file, b->next_file);
	if (a->has_last_ts)
		assert_int_equal(a->last_ts, b->last_ts);
	assert_int_equal(a->nadded, b->nadded);
	for (int i = 0; i < a->nadded; i++) {
		assert_int_equal(a->added[i].level, b->added[i].level);
		assert_meta_equal(a->added[i].meta, b->added[i].meta);
	}
	assert_int_equal(a->ndeleted, b->ndeleted);
	for (int i = 0; i < a->ndeleted; i++) {
		assert_int_equal(a->deleted[i].level, b->deleted[i].level);
		assert_int_equal(a->deleted[i].number, b->deleted[i].number);
	}
}

/* The full edit of the round-trip tests, built field by field in the
 * encoder's order (scalars, deletions, additions); stops after `fields`. */
static void full_edit(version_edit_t *e, int fields)
{
	edit_init(e);
	int n = 0;
	if (n++ < fields)
		e->has_log_number = true, e->log_number = 5;
	if (n++ < fields)
		e->has_next_file = true, e->next_file = UINT64_MAX;
	if (n++ < fields)
		e->has_last_ts = true, e->last_ts = 0x123456789abcdefull;
	const uint64_t dels[][2] = { { 0, 17 }, { 6, 1ull << 40 }, { 3, 0 } };
	for (int i = 0; i < 3 && n++ < fields; i++)
		assert_int_equal(edit_delete_file(e, (int)dels[i][0], dels[i][1]), WB_OK);
	const int levels[] = { 0, 6, 2 };
	for (int i = 0; i < 3 && n++ < fields; i++) {
		/* keys with NUL bytes and a long one */
		uint8_t s[400], l[400];
		memset(s, 0, sizeof(s));
		memset(l, 0xab, sizeof(l));
		size_t sl = 9 + (size_t)i, ll = i == 2 ? 400 : 12;
		file_meta_t *f = file_meta_new(1000 + (uint64_t)i, (uint64_t)i << 33,
					       slice_make(s, sl), slice_make(l, ll));
		f->min_ts = (uint64_t)i;
		f->max_ts = UINT64_MAX - (uint64_t)i;
		f->entries = 300 + (uint64_t)i;
		assert_int_equal(edit_add_file(e, levels[i], f), WB_OK);
		assert_int_equal(atomic_load(&f->refs), 2);
		file_meta_unref(f);
	}
}

#define FULL_FIELDS 9

static void test_edit_round_trip(void **state)
{
	version_edit_t e, d;
	full_edit(&e, FULL_FIELDS);
	uint8_t *buf;
	size_t len;
	assert_int_equal(edit_encode(&e, &buf, &len), WB_OK);
	assert_int_equal(edit_decode(slice_make(buf, len), &d), WB_OK);
	assert_edit_equal(&e, &d);
	edit_destroy(&d);
	free(buf);
	edit_destroy(&e);
	edit_destroy(&e); /* harmless twice: destroy re-initializes */

	/* The empty edit is zero bytes. */
	edit_init(&e);
	assert_int_equal(edit_encode(&e, &buf, &len), WB_OK);
	assert_int_equal(len, 0);
	assert_int_equal(edit_decode(slice_make(buf, 0), &d), WB_OK);
	assert_edit_equal(&e, &d);
	edit_destroy(&d);
	free(buf);

	/* The exact bytes of a small edit (docs/format.md, "MANIFEST"). */
	e.has_log_number = true, e.log_number = 5;
	e.has_next_file = true, e.next_file = 300;
	e.has_last_ts = true, e.last_ts = 7;
	assert_int_equal(edit_delete_file(&e, 2, 9), WB_OK);
	file_meta_t *f = file_meta_new(10, 1000, slice_make("\0a12345678", 10),
				       slice_make("\0b87654321", 10));
	f->min_ts = 1, f->max_ts = 200, f->entries = 3;
	assert_int_equal(edit_add_file(&e, 1, f), WB_OK);
	file_meta_unref(f);
	static const uint8_t want[] = {
		1, 5, 2, 0xac, 0x02, 3, 7, 5, 2, 9,                        /* scalars, deletion */
		4, 1, 10, 0xe8, 0x07,                                      /* new file 10 at L1 */
		10, 0, 'a', '1', '2', '3', '4', '5', '6', '7', '8',        /* smallest */
		10, 0, 'b', '8', '7', '6', '5', '4', '3', '2', '1',        /* largest */
		1, 0xc8, 0x01, 3,                                          /* ts range, entries */
	};
	assert_int_equal(edit_encode(&e, &buf, &len), WB_OK);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(buf, want, len);
	free(buf);
	edit_destroy(&e);
}

/* Every truncation: at a field boundary the edit of the fields before it,
 * anywhere else WB_ECORRUPT (an edit has no length of its own; the log
 * record's checksum is what catches a cut record). */
static void test_edit_truncations_and_garbage(void **state)
{
	size_t bound[FULL_FIELDS + 1];
	for (int f = 0; f <= FULL_FIELDS; f++) {
		version_edit_t e;
		uint8_t *buf;
		full_edit(&e, f);
		assert_int_equal(edit_encode(&e, &buf, &bound[f]), WB_OK);
		free(buf);
		edit_destroy(&e);
	}
	version_edit_t full;
	uint8_t *buf;
	size_t len;
	full_edit(&full, FULL_FIELDS);
	assert_int_equal(edit_encode(&full, &buf, &len), WB_OK);
	assert_int_equal(len, bound[FULL_FIELDS]);
	int f = 0;
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
		memcpy(copy, buf, cut);
		version_edit_t d;
		int rc = edit_decode(slice_make(copy, cut), &d);
		while (f < FULL_FIELDS && bound[f] < cut)
			f++;
		if (bound[f] == cut) {
			assert_int_equal(rc, WB_OK);
			version_edit_t want;
			full_edit(&want, f);
			assert_edit_equal(&want, &d);
			edit_destroy(&want);
			edit_destroy(&d);
		} else {
			if (rc != WB_ECORRUPT)
				fail_msg("cut at %zu of %zu: %s", cut, len, wb_strerror(rc));
			assert_int_equal(d.nadded, 0); /* nothing left to free */
			assert_null(d.added);
		}
		free(copy);
	}
	free(buf);
	edit_destroy(&full);

	static const struct {
		uint8_t b[32];
		size_t n;
	} bad[] = {
		{ { 0 }, 1 },                               /* tag 0 */
		{ { 6, 1 }, 2 },                            /* unknown tag */
		{ { 0x80, 0x01, 1 }, 3 },                   /* tag 128 */
		{ { 1, 0x80 }, 2 },                         /* value varint never ends */
		{ { 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1 }, 12 },
		{ { 5, 7, 1 }, 3 },                         /* deleted file at level 7 */
		/* new file at level 7; smallest or largest of 8 bytes (no tree key) */
		{ { 4, 7, 1, 1, 9, 0, 'a', 1, 1, 1, 1, 1, 1, 1, 9, 0, 'b', 1, 1, 1, 1, 1, 1, 1,
		    1, 1, 1 }, 27 },
		{ { 4, 1, 1, 1, 8, 0, 1, 1, 1, 1, 1, 1, 1, 9, 0, 'b', 1, 1, 1, 1, 1, 1, 1,
		    1, 1, 1 }, 26 },
		{ { 4, 1, 1, 1, 9, 0, 'a', 1, 1, 1, 1, 1, 1, 1, 8, 0, 1, 1, 1, 1, 1, 1, 1,
		    1, 1, 1 }, 26 },
		{ { 4, 1, 1, 1, 50, 0, 'a' }, 7 },          /* key length past the end */
		{ { 1, 5, 2, 6, 4 }, 5 },                   /* good fields, then a cut new file */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		version_edit_t d;
		if (edit_decode(slice_make(bad[i].b, bad[i].n), &d) != WB_ECORRUPT)
			fail_msg("garbage case %zu decoded", i);
		assert_int_equal(d.nadded, 0);
		assert_int_equal(d.ndeleted, 0);
	}
	/* Noise never crashes or leaks; whatever decodes is freed. */
	uint64_t x = 12345;
	for (int i = 0; i < 20000; i++) {
		uint8_t noise[40];
		size_t n = (size_t)i % sizeof(noise);
		for (size_t j = 0; j < n; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			noise[j] = (uint8_t)(j % 3 == 0 ? x % 7 : x);
		}
		version_edit_t d;
		int rc = edit_decode(slice_make(noise, n), &d);
		assert_true(rc == WB_OK || rc == WB_ECORRUPT);
		edit_destroy(&d);
	}
}

static void test_edit_inverted_range(void **state)
{
	/* A table whose smallest key sorts after its largest: what fuzz_edit
	 * found (a MANIFEST record of the fuzzer's seeds, mutated), and the
	 * same made by hand. */
	static const uint8_t found[] = {
		0x01, 0x06, 0x02, 0x08, 0x03, 0xa7, 0x80, 0xb0, 0xc5, 0xc8, 0xf9, 0x8c, 0xd1, 0x01,
		0x04, 0x00, 0x07, 0xcc, 0x0b, 0x11, 0x00, 'k',  'e',  'y',  '0',  '0',  '0',  '0',
		'0',  0xfe, 0x5c, 0xcc, 0x33, 0x77, 0x53, 0xff, 0xff, 0x11, 0x00, 'k',  0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x4a, 0x5d, 0xcc, 0x33, 0x77, 0xfa, 0xff, 0xd8, 0x80,
		0x80, 0xb0, 0xc5, 0xc8, 0xf9, 0x8c, 0xd1, 0x01, 0xa7, 0x80, 0xb0, 0xc5, 0xc8, 0xf9,
		0x8c, 0xd1, 0x01, 0x28,
	};
	version_edit_t d;
	assert_int_equal(edit_decode(slice_make(found, sizeof(found)), &d), WB_ECORRUPT);
	version_edit_t e;
	edit_init(&e);
	file_meta_t *inverted = meta_only(9, 5, 2);
	assert_int_equal(edit_add_file(&e, 1, inverted), WB_OK);
	file_meta_unref(inverted);
	uint8_t *enc;
	size_t len;
	assert_int_equal(edit_encode(&e, &enc, &len), WB_OK);
	assert_int_equal(edit_decode(slice_make(enc, len), &d), WB_ECORRUPT);
	free(enc);
	edit_destroy(&e);
	/* One key for both ends is fine. */
	edit_init(&e);
	file_meta_t *one = meta_only(10, 3, 3);
	assert_int_equal(edit_add_file(&e, 1, one), WB_OK);
	file_meta_unref(one);
	assert_int_equal(edit_encode(&e, &enc, &len), WB_OK);
	assert_int_equal(edit_decode(slice_make(enc, len), &d), WB_OK);
	edit_destroy(&d);
	free(enc);
	edit_destroy(&e);
}

/* ---- applying edits ---- */

/* An edit that makes two L1 tables overlap is WB_ECORRUPT naming both.
 * fuzz_edit found the message made from the new version's file array
 * after version_unref had freed it (a use after free on every MANIFEST
 * with such an edit; run under make asan to see it). */
static void test_apply_overlap(void **state)
{
	version_edit_t e;
	edit_init(&e);
	for (int i = 0; i < 3; i++) {
		file_meta_t *f = meta_only(21 + (uint64_t)i, 10 * i, 10 * i + 15);
		assert_int_equal(edit_add_file(&e, 1, f), WB_OK);
		file_meta_unref(f);
	}
	version_t *base = version_new_empty(), *v = NULL;
	err_clear();
	assert_int_equal(version_apply(base, &e, &v), WB_ECORRUPT);
	assert_null(v);
	const char *msg = err_message();
	if (strstr(msg, "000021") == NULL || strstr(msg, "000022") == NULL || strstr(msg, "L1") == NULL)
		fail_msg("message should name tables 000021, 000022 and L1: \"%s\"", msg);
	version_unref(base);
	edit_destroy(&e);
}

static void expect_level(const version_t *v, int level, const uint64_t *numbers, int n)
{
	assert_int_equal(v->nfiles[level], n);
	for (int i = 0; i < n; i++)
		assert_int_equal(v->files[level][i]->number, numbers[i]);
}

static void test_apply(void **state)
{
	file_meta_t *l0[3] = { meta_only(3, 0, 50), meta_only(7, 10, 20), meta_only(5, 5, 90) };
	/* L1 by key: 12 holds 0..9, 11 holds 10..19, 13 holds 20..29 */
	file_meta_t *l1[3] = { meta_only(11, 10, 19), meta_only(13, 20, 29), meta_only(12, 0, 9) };
	file_meta_t *l3 = meta_only(20, 0, 99);
	version_edit_t e;
	edit_init(&e);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(edit_add_file(&e, 0, l0[i]), WB_OK);
		assert_int_equal(edit_add_file(&e, 1, l1[i]), WB_OK);
	}
	assert_int_equal(edit_add_file(&e, 3, l3), WB_OK);
	version_t *base = version_new_empty(), *v1, *v2;
	assert_int_equal(version_apply(base, &e, &v1), WB_OK);
	edit_destroy(&e);
	const uint64_t want0[] = { 7, 5, 3 }, want1[] = { 12, 11, 13 }, want3[] = { 20 };
	expect_level(v1, 0, want0, 3);
	expect_level(v1, 1, want1, 3);
	expect_level(v1, 2, NULL, 0);
	expect_level(v1, 3, want3, 1);
	assert_int_equal(version_level_bytes(v1, 0), 15000);
	assert_int_equal(version_level_bytes(v1, 1), 36000);
	assert_int_equal(version_level_bytes(v1, 6), 0);
	assert_int_equal(atomic_load(&l0[0]->refs), 2); /* ours and v1's */

	/* Delete one of each, add to L0 and L1, move 20 from L3 to L4. */
	edit_init(&e);
	assert_int_equal(edit_delete_file(&e, 0, 5), WB_OK);
	assert_int_equal(edit_delete_file(&e, 1, 11), WB_OK);
	assert_int_equal(edit_delete_file(&e, 3, 20), WB_OK);
	file_meta_t *n9 = meta_only(9, 0, 5), *n14 = meta_only(14, 10, 19);
	assert_int_equal(edit_add_file(&e, 0, n9), WB_OK);
	assert_int_equal(edit_add_file(&e, 1, n14), WB_OK);
	assert_int_equal(edit_add_file(&e, 4, l3), WB_OK);
	assert_int_equal(version_apply(v1, &e, &v2), WB_OK);
	edit_destroy(&e);
	const uint64_t w0[] = { 9, 7, 3 }, w1[] = { 12, 14, 13 }, w4[] = { 20 };
	expect_level(v2, 0, w0, 3);
	expect_level(v2, 1, w1, 3);
	expect_level(v2, 3, NULL, 0);
	expect_level(v2, 4, w4, 1);
	expect_level(v1, 0, want0, 3); /* the base is untouched */
	expect_level(v1, 1, want1, 3);
	assert_ptr_equal(v2->files[0][1], l0[1]); /* shared, not copied */

	/* Deleting a file that is not there: in no level, in another level,
	 * or twice. The output is left alone. */
	const int bad[][3] = { { 1, 42, 1 }, { 2, 12, 1 }, { 0, 9, 2 } };
	for (int i = 0; i < 3; i++) {
		edit_init(&e);
		for (int j = 0; j < bad[i][2]; j++)
			assert_int_equal(edit_delete_file(&e, bad[i][0], (uint64_t)bad[i][1]),
					 WB_OK);
		version_t *v3 = (version_t *)&e; /* any non-NULL marker */
		assert_int_equal(version_apply(v2, &e, &v3), WB_ECORRUPT);
		assert_ptr_equal(v3, (version_t *)&e);
		edit_destroy(&e);
	}
	expect_level(v2, 0, w0, 3);

	version_unref(base);
	version_unref(v1);
	assert_int_equal(atomic_load(&l0[2]->refs), 1); /* only v1 held 5 besides us */
	assert_int_equal(atomic_load(&l0[1]->refs), 2);
	version_unref(v2);
	assert_int_equal(atomic_load(&l0[1]->refs), 1);
	for (int i = 0; i < 3; i++) {
		file_meta_unref(l0[i]);
		file_meta_unref(l1[i]);
	}
	file_meta_unref(l3);
	file_meta_unref(n9);
	file_meta_unref(n14);
	version_unref(NULL);
}

/* ---- reads through real tables ---- */

struct got {
	uint8_t k[64], v[64];
	size_t kl, vl;
	int calls;
};

static int on_found(void *arg, slice_t ikey, slice_t value)
{
	struct got *g = arg;
	g->calls++;
	assert_true(ikey.len <= sizeof(g->k) && value.len <= sizeof(g->v));
	memcpy(g->k, ikey.data, ikey.len);
	memcpy(g->v, value.data, value.len);
	g->kl = ikey.len;
	g->vl = value.len;
	return WB_OK;
}

/* version_get(k, read_ts) finds (k, want_ts) written to table `table`, or
 * nothing when table is 0. */
static void expect_get(version_t *v, int k, uint64_t read_ts, uint64_t want_ts, uint8_t meta,
		       uint64_t table)
{
	char kb[16];
	struct got g = { .calls = 0 };
	int rc = version_get(v, tk_of(k, kb), read_ts, on_found, &g);
	if (table == 0) {
		if (rc != WB_ENOTFOUND)
			fail_msg("k%d@%llu: found %.*s", k, (unsigned long long)read_ts, (int)g.vl,
				 g.v);
		assert_int_equal(g.calls, 0);
		return;
	}
	if (rc != WB_OK)
		fail_msg("k%d@%llu: %s", k, (unsigned long long)read_ts, wb_strerror(rc));
	struct ent e = { k, want_ts, meta };
	uint8_t wk[32], wv[64];
	size_t wkl = ikey_of(&e, wk), wvl = value_of(&e, table, wv);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.kl, wkl);
	assert_memory_equal(g.k, wk, wkl);
	if (g.vl != wvl || memcmp(g.v, wv, wvl) != 0)
		fail_msg("k%d@%llu: got %.*s, want %.*s", k, (unsigned long long)read_ts,
			 (int)g.vl - 1, g.v + 1, (int)wvl - 1, wv + 1);
}

/*
 * The tree used by the read tests:
 *   L0: 31 (newest) k10@300 k12@300(tombstone) k50@300
 *       30          k10@200 k11@200 k12@200 k60@200
 *   L1: 21 k00..k19 @100, 22 k20..k39 @100, 23 k40..k59 @100 (no k45)
 *   L2: 25 k00..k99 @50
 */
static version_t *make_tree(void)
{
	version_edit_t e;
	edit_init(&e);
	struct ent t31[] = { { 10, 300, 0 }, { 12, 300, META_TOMBSTONE }, { 50, 300, 0 } };
	struct ent t30[] = { { 10, 200, 0 }, { 11, 200, 0 }, { 12, 200, 0 }, { 60, 200, 0 } };
	struct ent l1[60], l2[100];
	int n1 = 0;
	for (int k = 0; k < 60; k++)
		if (k != 45)
			l1[n1++] = (struct ent){ k, 100, 0 };
	for (int k = 0; k < 100; k++)
		l2[k] = (struct ent){ k, 50, 0 };
	file_meta_t *fs[] = {
		make_table(30, t30, 4),       make_table(31, t31, 3),       make_table(21, l1, 20),
		make_table(22, l1 + 20, 20), make_table(23, l1 + 40, 19), make_table(25, l2, 100),
	};
	const int level[] = { 0, 0, 1, 1, 1, 2 };
	for (int i = 0; i < 6; i++) {
		assert_int_equal(edit_add_file(&e, level[i], fs[i]), WB_OK);
		file_meta_unref(fs[i]);
	}
	version_t *base = version_new_empty(), *v;
	assert_int_equal(version_apply(base, &e, &v), WB_OK);
	version_unref(base);
	edit_destroy(&e);
	return v;
}

static void test_get(void **state)
{
	version_t *v = make_tree();
	expect_get(v, 10, TS_MAX, 300, 0, 31);
	expect_get(v, 10, 300, 300, 0, 31);
	expect_get(v, 10, 299, 200, 0, 30); /* the older L0 table */
	expect_get(v, 10, 199, 100, 0, 21); /* L1 */
	expect_get(v, 10, 99, 50, 0, 25);   /* L2 */
	expect_get(v, 10, 49, 0, 0, 0);
	expect_get(v, 12, TS_MAX, 300, META_TOMBSTONE, 31);
	expect_get(v, 12, 250, 200, 0, 30);
	expect_get(v, 11, TS_MAX, 200, 0, 30);
	expect_get(v, 50, TS_MAX, 300, 0, 31);
	expect_get(v, 60, TS_MAX, 200, 0, 30); /* L0 past the end of L1 */
	expect_get(v, 60, 150, 50, 0, 25);
	for (int k = 0; k < 60; k++) /* each L1 table, at its edges too */
		if (k != 10 && k != 45)
			expect_get(v, k, 150, 100, 0, k < 20 ? 21 : k < 40 ? 22 : 23);
	expect_get(v, 45, TS_MAX, 50, 0, 25); /* a hole in L1 */
	expect_get(v, 99, TS_MAX, 50, 0, 25);
	expect_get(v, 100, TS_MAX, 0, 0, 0);
	char kb[16] = { KS_USER, 'a' };
	struct got g = { .calls = 0 };
	assert_int_equal(version_get(v, slice_make(kb, 2), TS_MAX, on_found, &g), WB_ENOTFOUND);
	kb[1] = 'z';
	assert_int_equal(version_get(v, slice_make(kb, 2), TS_MAX, on_found, &g), WB_ENOTFOUND);
	assert_int_equal(g.calls, 0);
	version_unref(v);
}

/* ---- iterators ---- */

/* Entry e is under the iterator, written to `table`. */
static void assert_at(iter_t *it, int k, uint64_t ts, uint64_t table)
{
	if (!iter_valid(it))
		fail_msg("invalid, expected k%d@%llu", k, (unsigned long long)ts);
	struct ent e = { k, ts, 0 };
	uint8_t wk[32], wv[64];
	size_t wkl = ikey_of(&e, wk), wvl = value_of(&e, table, wv);
	slice_t key = iter_key(it), val = iter_value(it);
	if (key.len != wkl || memcmp(key.data, wk, wkl) != 0)
		fail_msg("at %.*s, expected k%d@%llu", (int)key.len - 9, key.data + 1, k,
			 (unsigned long long)ts);
	assert_int_equal(val.len, wvl);
	assert_memory_equal(val.data, wv, wvl);
}

static slice_t target(int k, uint64_t ts, uint8_t *buf)
{
	struct ent e = { k, ts, 0 };
	return slice_make(buf, ikey_of(&e, buf));
}

/*
 * L1 of four tables, two versions per key, the versions of a key never in
 * two tables: 41 k000..k009, 42 k010..k019, 43 k025..k029, 44 k030..k039
 * (k020..k024 missing: a gap between tables).
 */
static void test_level_iterator(void **state)
{
	struct ent es[80];
	int n = 0;
	for (int k = 0; k < 40; k++) {
		if (k >= 20 && k < 25)
			continue;
		es[n++] = (struct ent){ k, 20, 0 };
		es[n++] = (struct ent){ k, 10, 0 };
	}
	version_edit_t e;
	edit_init(&e);
	const int start[] = { 0, 20, 40, 50 }, count[] = { 20, 20, 10, 20 };
	for (int i = 0; i < 4; i++) { /* added out of order: apply sorts */
		file_meta_t *f =
			make_table(44 - (uint64_t)i, es + start[3 - i], (size_t)count[3 - i]);
		assert_int_equal(edit_add_file(&e, 1, f), WB_OK);
		file_meta_unref(f);
	}
	struct ent l0[] = { { 5, 99, 0 } };
	file_meta_t *f0 = make_table(50, l0, 1);
	assert_int_equal(edit_add_file(&e, 0, f0), WB_OK);
	file_meta_unref(f0);
	version_t *base = version_new_empty(), *v;
	assert_int_equal(version_apply(base, &e, &v), WB_OK);
	version_unref(base);
	edit_destroy(&e);

	iter_t *iters[NUM_LEVELS + 1];
	int ni = 0;
	assert_int_equal(version_add_iters(v, iters, &ni), WB_OK);
	assert_int_equal(ni, 2); /* one L0 table, one level */
	iter_t *l0it = iters[0], *it = iters[1];
	version_unref(v); /* the level iterator keeps the version alive */
	iter_seek_first(l0it);
	assert_at(l0it, 5, 99, 50);
	iter_destroy(l0it);

	/* Which table holds key k. */
#define TABLE(k) ((k) < 10 ? 41u : (k) < 20 ? 42u : (k) < 30 ? 43u : 44u)
	int i = 0;
	for (iter_seek_first(it); iter_valid(it); iter_next(it), i++)
		assert_at(it, es[i].k, es[i].ts, TABLE(es[i].k));
	assert_int_equal(i, n);
	for (iter_seek_last(it); iter_valid(it); iter_prev(it))
		--i, assert_at(it, es[i].k, es[i].ts, TABLE(es[i].k));
	assert_int_equal(i, 0);

	uint8_t tb[32];
	/* Every entry by seek and seek_for_prev, then a step each way. */
	for (i = 0; i < n; i++) {
		iter_seek(it, target(es[i].k, es[i].ts, tb));
		assert_at(it, es[i].k, es[i].ts, TABLE(es[i].k));
		iter_prev(it);
		if (i > 0)
			assert_at(it, es[i - 1].k, es[i - 1].ts, TABLE(es[i - 1].k));
		else
			assert_false(iter_valid(it));
		iter_seek_for_prev(it, target(es[i].k, es[i].ts, tb));
		assert_at(it, es[i].k, es[i].ts, TABLE(es[i].k));
		iter_next(it);
		if (i + 1 < n)
			assert_at(it, es[i + 1].k, es[i + 1].ts, TABLE(es[i + 1].k));
		else
			assert_false(iter_valid(it));
	}
	/* Between tables: after table 42's largest (k019@10) and in the gap. */
	iter_seek(it, target(19, 9, tb));
	assert_at(it, 25, 20, 43);
	iter_seek(it, target(22, TS_MAX, tb));
	assert_at(it, 25, 20, 43);
	iter_seek_for_prev(it, target(22, TS_MAX, tb));
	assert_at(it, 19, 10, 42);
	iter_seek_for_prev(it, target(25, 21, tb)); /* just before 43's smallest */
	assert_at(it, 19, 10, 42);
	iter_seek_for_prev(it, target(9, 0, tb)); /* after 41's largest */
	assert_at(it, 9, 10, 41);
	/* Crossing a boundary, then turning around on either side of it. */
	iter_seek(it, target(10, 20, tb));
	iter_prev(it);
	assert_at(it, 9, 10, 41);
	iter_next(it);
	assert_at(it, 10, 20, 42);
	iter_prev(it);
	iter_prev(it);
	assert_at(it, 9, 20, 41);
	iter_next(it);
	iter_next(it);
	iter_next(it);
	assert_at(it, 10, 10, 42);
	/* Before everything and after everything. */
	iter_seek(it, target(0, TS_MAX, tb));
	assert_at(it, 0, 20, 41);
	iter_seek_for_prev(it, target(0, 21, tb));
	assert_false(iter_valid(it));
	iter_seek(it, target(39, 9, tb));
	assert_false(iter_valid(it));
	iter_seek_for_prev(it, target(99, 0, tb));
	assert_at(it, 39, 10, 44);
	assert_int_equal(iter_status(it), WB_OK);
	iter_destroy(it); /* drops the last reference to v */
#undef TABLE
}

static int rm_entry(const char *p, const struct stat *sb, int type, struct FTW *ftw)
{
	return remove(p);
}

static int setup(void **state)
{
	strcpy(dir, "/tmp/wb_test_version.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edit_round_trip),
		cmocka_unit_test(test_edit_inverted_range),
		cmocka_unit_test(test_apply_overlap),
		cmocka_unit_test(test_edit_truncations_and_garbage),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_level_iterator),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
