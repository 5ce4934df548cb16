/*
 * test_sst.c -- SSTables: build and read back (both directions, every kind
 * of seek, point lookups at several read timestamps), awkward keys, huge
 * entries, write failures, concurrent readers, and damage: flipped bytes
 * anywhere in the file never give wrong data, only WB_ECORRUPT/WB_EFORMAT
 * with a message naming the file and offset.
 *
 * Tables are written to a fresh directory under /tmp through the default
 * env, or through a wrapper env that counts and fails appends and syncs.
 * test_handmade_table writes a table byte by byte from docs/format.md.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/crc32c.h"
#include "util/error.h"
#include "table/ikey.h"
#include "table/sst.h"

static char dir[64];

/* ---- the model: entries in internal-key order ---- */

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

static void model_add(struct model *m, slice_t tk, uint64_t ts, uint8_t meta, const void *payload,
		      size_t plen)
{
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 256;
		m->e = realloc(m->e, m->cap * sizeof(*m->e));
		assert_non_null(m->e);
	}
	struct ent *e = &m->e[m->n++];
	e->k = malloc(tk.len + IKEY_SUFFIX);
	e->kl = ikey_encode(e->k, tk, ts);
	e->v = malloc(plen + 1);
	e->v[0] = meta;
	if (plen)
		memcpy(e->v + 1, payload, plen);
	e->vl = plen + 1;
}

static void model_free(struct model *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].k);
		free(m->e[i].v);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	return ikey_compare(slice_make(x->k, x->kl), slice_make(y->k, y->kl));
}

static slice_t ekey(const struct ent *e)
{
	return slice_make(e->k, e->kl);
}

/* The newest entry of tree key tk with ts <= read_ts, or NULL. */
static const struct ent *model_get(const struct model *m, slice_t tk, uint64_t read_ts)
{
	for (size_t i = 0; i < m->n; i++) {
		slice_t k = ekey(&m->e[i]);
		if (slice_compare(ikey_tree_key(k), tk) == 0 && ikey_ts(k) <= read_ts)
			return &m->e[i];
	}
	return NULL;
}

/* ---- helpers ---- */

static char *table_path(const char *name)
{
	static char buf[512];
	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static sst_options_t opts_of(size_t block_size, int bloom)
{
	sst_options_t o = { block_size, 16, bloom };
	return o;
}

static void build_with(const wb_env *env, const char *path, const struct model *m, sst_options_t o,
		       sst_props_t *props)
{
	sst_builder_t *b;
	assert_int_equal(sst_builder_new(env, path, &o, &b), WB_OK);
	for (size_t i = 0; i < m->n; i++)
		assert_int_equal(sst_builder_add(b, ekey(&m->e[i]),
						 slice_make(m->e[i].v, m->e[i].vl)),
				 WB_OK);
	assert_int_equal(sst_builder_entries(b), m->n);
	assert_int_equal(sst_builder_finish(b, props), WB_OK);
}

static void build(const char *path, const struct model *m, sst_options_t o, sst_props_t *props)
{
	build_with(wb_env_default(), path, m, o, props);
}

static sst_reader_t *open_ok(const char *path)
{
	sst_reader_t *r;
	int rc = sst_reader_open(wb_env_default(), path, &r);
	if (rc != WB_OK)
		fail_msg("open %s: %s: %s", path, wb_strerror(rc), err_message());
	return r;
}

static void assert_entry(iter_t *it, const struct ent *e)
{
	assert_true(iter_valid(it));
	slice_t k = iter_key(it), v = iter_value(it);
	assert_int_equal(k.len, e->kl);
	assert_memory_equal(k.data, e->k, k.len);
	assert_int_equal(v.len, e->vl);
	assert_memory_equal(v.data, e->v, v.len);
}

static bool entry_is(iter_t *it, const struct ent *e)
{
	slice_t k = iter_key(it), v = iter_value(it);
	return k.len == e->kl && v.len == e->vl && memcmp(k.data, e->k, k.len) == 0 &&
	       memcmp(v.data, e->v, v.len) == 0;
}

static void check_scan(sst_reader_t *r, const struct model *m)
{
	iter_t *it = sst_reader_iter(r);
	assert_non_null(it);
	size_t i = 0;
	for (iter_seek_first(it); iter_valid(it); iter_next(it))
		assert_entry(it, &m->e[i++]);
	assert_int_equal(iter_status(it), WB_OK);
	assert_int_equal(i, m->n);
	for (iter_seek_last(it); iter_valid(it); iter_prev(it))
		assert_entry(it, &m->e[--i]);
	assert_int_equal(iter_status(it), WB_OK);
	assert_int_equal(i, 0);
	iter_destroy(it);
}

/* Seeks to every entry, and to just after and before it, then steps. */
static void check_seeks(sst_reader_t *r, const struct model *m)
{
	iter_t *it = sst_reader_iter(r);
	for (size_t i = 0; i < m->n; i++) {
		slice_t k = ekey(&m->e[i]);
		iter_seek(it, k);
		assert_entry(it, &m->e[i]);
		iter_next(it);
		if (i + 1 < m->n)
			assert_entry(it, &m->e[i + 1]);
		else
			assert_false(iter_valid(it));
		iter_seek_for_prev(it, k);
		assert_entry(it, &m->e[i]);
		iter_prev(it);
		if (i > 0)
			assert_entry(it, &m->e[i - 1]);
		else
			assert_false(iter_valid(it));

		/* Same tree key, ts one below: sorts right after entry i, before
		 * i + 1 (whose ts is lower still, or whose tree key is larger). */
		uint64_t ts = ikey_ts(k);
		if (ts > 0) {
			uint8_t *t = malloc(k.len);
			slice_t between = slice_make(t, ikey_encode(t, ikey_tree_key(k), ts - 1));
			bool next_is_it =
				i + 1 < m->n && ikey_compare(ekey(&m->e[i + 1]), between) == 0;
			iter_seek(it, between);
			if (i + 1 < m->n)
				assert_entry(it, &m->e[i + 1]);
			else
				assert_false(iter_valid(it));
			iter_seek_for_prev(it, between);
			assert_entry(it, &m->e[next_is_it ? i + 1 : i]);
			free(t);
		}
	}
	assert_int_equal(iter_status(it), WB_OK);
	iter_destroy(it);
}

struct got {
	uint8_t *k, *v;
	size_t kl, vl;
	int calls;
};

static int on_found(void *arg, slice_t ikey, slice_t value)
{
	struct got *g = arg;
	free(g->k);
	free(g->v);
	g->k = malloc(ikey.len);
	g->v = malloc(value.len);
	memcpy(g->k, ikey.data, ikey.len);
	memcpy(g->v, value.data, value.len);
	g->kl = ikey.len;
	g->vl = value.len;
	g->calls++;
	return WB_OK;
}

static void got_free(struct got *g)
{
	free(g->k);
	free(g->v);
	memset(g, 0, sizeof(*g));
}

/* A lookup of tk at read_ts gives exactly what the model says. */
static void check_get(sst_reader_t *r, const struct model *m, slice_t tk, uint64_t read_ts)
{
	struct got g = { 0 };
	int rc = sst_reader_get(r, tk, read_ts, on_found, &g);
	const struct ent *e = model_get(m, tk, read_ts);
	if (e == NULL) {
		assert_int_equal(rc, WB_ENOTFOUND);
		assert_int_equal(g.calls, 0);
	} else {
		if (rc != WB_OK)
			fail_msg("get: %s: %s", wb_strerror(rc), err_message());
		assert_int_equal(g.calls, 1);
		assert_int_equal(g.kl, e->kl);
		assert_memory_equal(g.k, e->k, e->kl);
		assert_int_equal(g.vl, e->vl);
		assert_memory_equal(g.v, e->v, e->vl);
	}
	got_free(&g);
}

static void slurp(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	*data = malloc(*len ? *len : 1);
	assert_int_equal(fread(*data, 1, *len, f), *len);
	fclose(f);
}

static void spit(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* The message of the last error names the table and an offset. */
static void assert_message_names(const char *name)
{
	const char *msg = err_message();
	if (strstr(msg, name) == NULL || strstr(msg, "offset") == NULL)
		fail_msg("message does not name file and offset: \"%s\"", msg);
}

/* ---- the big table: 100 000 entries ---- */

#define BIG_KEYS 40000

static struct model big;
static size_t big_start[BIG_KEYS + 1]; /* first entry of each key */

static void key_of(int k, char *buf, slice_t *tk)
{
	buf[0] = KS_USER;
	*tk = slice_make(buf, 1 + (size_t)sprintf(buf + 1, "key%07d", k));
}

static void make_big(void)
{
	char kb[32], vb[64];
	for (int k = 0; k < BIG_KEYS; k++) {
		slice_t tk;
		key_of(k, kb, &tk);
		big_start[k] = big.n;
		int versions = 1 + k % 4; /* 1..4, 2.5 on average */
		for (int v = versions - 1; v >= 0; v--) {
			uint64_t ts = 100 * (uint64_t)(v + 1) + (uint64_t)(k % 7);
			if ((k + v) % 5 == 0) {
				model_add(&big, tk, ts, META_TOMBSTONE, NULL, 0);
			} else {
				int n = sprintf(vb, "value-%d-%llu-", k, (unsigned long long)ts);
				n += sprintf(vb + n, "%.*s", k % 23, "abcdefghijklmnopqrstuvw");
				model_add(&big, tk, ts, 0, vb, (size_t)n);
			}
		}
	}
	big_start[BIG_KEYS] = big.n;
}

static void test_big_table(void **state)
{
	if (big.n == 0)
		make_big();
	assert_int_equal(big.n, 100000);
	const char *path = table_path("000100.sst");
	sst_props_t props;
	build(path, &big, opts_of(4096, 10), &props);

	uint64_t tombstones = 0, kbytes = 0, vbytes = 0;
	for (size_t i = 0; i < big.n; i++) {
		tombstones += big.e[i].v[0] & META_TOMBSTONE;
		kbytes += big.e[i].kl;
		vbytes += big.e[i].vl;
	}
	sst_reader_t *r = open_ok(path);
	const sst_props_t *rp = sst_reader_props(r);
	const sst_props_t *ps[2] = { &props, rp };
	for (int i = 0; i < 2; i++) {
		const sst_props_t *p = ps[i];
		assert_int_equal(p->entries, big.n);
		assert_int_equal(p->tombstones, tombstones);
		assert_int_equal(p->raw_key_bytes, kbytes);
		assert_int_equal(p->raw_value_bytes, vbytes);
		assert_int_equal(p->min_ts, 100);
		assert_int_equal(p->max_ts, 406);
		assert_true(p->data_blocks > 100);
		assert_int_equal(p->vlog_bytes, 0);
		assert_int_equal(p->smallest_len, big.e[0].kl);
		assert_memory_equal(p->smallest, big.e[0].k, big.e[0].kl);
		assert_int_equal(p->largest_len, big.e[big.n - 1].kl);
		assert_memory_equal(p->largest, big.e[big.n - 1].k, big.e[big.n - 1].kl);
	}
	assert_int_equal(props.data_blocks, rp->data_blocks);
	assert_int_equal(props.file_size, rp->file_size);
	sst_props_destroy(&props);

	check_scan(r, &big);
	check_seeks(r, &big);
	assert_int_equal(sst_reader_verify(r), WB_OK);

	/* Every key at read timestamps below, between and above its versions. */
	const uint64_t read_ts[] = { 50, 100, 150, 203, 250, 350, 450, TS_MAX };
	char kb[32];
	for (int k = 0; k < BIG_KEYS; k++) {
		slice_t tk;
		key_of(k, kb, &tk);
		struct model one = { big.e + big_start[k], big_start[k + 1] - big_start[k], 0 };
		for (size_t t = 0; t < sizeof(read_ts) / sizeof(read_ts[0]); t++)
			check_get(r, &one, tk, read_ts[t]);
	}

	/* Absent keys: never found; the filter rules out nearly all. */
	int maybe = 0;
	for (int k = BIG_KEYS; k < BIG_KEYS + 10000; k++) {
		slice_t tk;
		key_of(k, kb, &tk);
		maybe += sst_reader_may_contain(r, tk);
		struct got g = { 0 };
		assert_int_equal(sst_reader_get(r, tk, TS_MAX, on_found, &g), WB_ENOTFOUND);
	}
	assert_true(maybe < 300); /* ~1% expected at 10 bits per key */
	for (int k = 0; k < BIG_KEYS; k += 97) {
		slice_t tk;
		key_of(k, kb, &tk);
		assert_true(sst_reader_may_contain(r, tk));
	}
	sst_reader_unref(r);
}

/* One entry per block: every seek crosses a block boundary, and targets
 * fall in the gaps between blocks. */
static void test_tiny_blocks(void **state)
{
	if (big.n == 0)
		make_big();
	struct model m = { big.e, 3000, 0 };
	const char *path = table_path("000101.sst");
	sst_props_t props;
	build(path, &m, opts_of(1, 10), &props);
	assert_int_equal(props.data_blocks, 3000);
	sst_props_destroy(&props);
	sst_reader_t *r = open_ok(path);
	check_scan(r, &m);
	check_seeks(r, &m);
	char kb[32];
	for (int k = 0; k < 1200; k++) {
		slice_t tk;
		key_of(k, kb, &tk);
		check_get(r, &m, tk, 250);
		check_get(r, &m, tk, TS_MAX);
	}
	assert_int_equal(sst_reader_verify(r), WB_OK);
	sst_reader_unref(r);
}

/* Tree keys that are prefixes of each other, NUL and 0xff bytes. */
static void test_prefix_and_binary_keys(void **state)
{
	static const struct {
		const char *k;
		size_t len;
	} tks[] = {
		{ "\0a", 2 },      { "\0a\0", 3 },       { "\0a\0\0", 4 }, { "\0a\x01", 3 },
		{ "\0ab", 3 },     { "\0a\xff", 3 },     { "\0b", 2 },     { "\0\xff\xff", 3 },
		{ "\x01" "a", 2 }, { "\x01" "a\0", 3 }, { "\0\0", 2 },
		{ "\0\0\0\0\0\0\0\0\0", 9 },
	};
	const size_t ntk = sizeof(tks) / sizeof(tks[0]);
	struct model m = { 0 };
	for (size_t i = 0; i < ntk; i++)
		for (uint64_t ts = 1; ts <= 3; ts++) {
			uint8_t payload[4] = { (uint8_t)i, (uint8_t)ts, 0, 0xff };
			model_add(&m, slice_make(tks[i].k, tks[i].len), ts * 10,
				  ts == 2 ? META_TOMBSTONE : 0, payload, ts == 2 ? 0 : 4);
		}
	qsort(m.e, m.n, sizeof(*m.e), ent_cmp);
	const size_t sizes[] = { 1, 64, 4096 };
	for (size_t s = 0; s < 3; s++) {
		const char *path = table_path("000102.sst");
		build(path, &m, opts_of(sizes[s], s == 1 ? 0 : 10), NULL);
		sst_reader_t *r = open_ok(path);
		check_scan(r, &m);
		check_seeks(r, &m);
		for (size_t i = 0; i < ntk; i++) {
			slice_t tk = slice_make(tks[i].k, tks[i].len);
			for (uint64_t ts = 0; ts <= 40; ts += 5)
				check_get(r, &m, tk, ts);
		}
		/* absent keys that are prefixes or extensions of present ones */
		const char *absent[] = { "\0", "\0a\0\0\0", "\0a\0\x01", "\x01", "\x02" };
		const size_t alen[] = { 1, 5, 4, 1, 1 };
		for (size_t i = 0; i < 5; i++)
			check_get(r, &m, slice_make(absent[i], alen[i]), TS_MAX);
		assert_int_equal(sst_reader_verify(r), WB_OK);
		sst_reader_unref(r);
	}
	model_free(&m);
}

/* A 64 KiB key and a 16 MiB value: blocks larger than block_size. */
static void test_huge_entries(void **state)
{
	struct model m = { 0 };
	size_t klen = 65536 + 1;
	uint8_t *bigkey = malloc(klen);
	bigkey[0] = KS_USER;
	for (size_t i = 1; i < klen; i++)
		bigkey[i] = (uint8_t)('k' + i % 7);
	size_t vlen = 16u << 20;
	uint8_t *bigval = malloc(vlen);
	for (size_t i = 0; i < vlen; i++)
		bigval[i] = (uint8_t)(i * 2654435761u >> 13);
	model_add(&m, slice_make("\0a", 2), 5, 0, "small", 5);
	model_add(&m, slice_make(bigkey, klen), 9, 0, "v", 1);
	model_add(&m, slice_make(bigkey, klen), 7, 0, bigval, vlen);
	model_add(&m, slice_make("\0z", 2), 5, 0, bigval, 100);
	const char *path = table_path("000103.sst");
	build(path, &m, opts_of(4096, 10), NULL);
	sst_reader_t *r = open_ok(path);
	check_scan(r, &m);
	check_seeks(r, &m);
	check_get(r, &m, slice_make(bigkey, klen), TS_MAX);
	check_get(r, &m, slice_make(bigkey, klen), 8);
	check_get(r, &m, slice_make(bigkey, klen), 6);
	check_get(r, &m, slice_make(bigkey, klen - 1), TS_MAX);
	check_get(r, &m, slice_make("\0z", 2), 5);
	assert_int_equal(sst_reader_verify(r), WB_OK);
	sst_reader_unref(r);
	free(bigkey);
	free(bigval);
	model_free(&m);
}

/* Decision: a table with no entries is not written (WB_EINVAL, no file). */
static void test_empty_table(void **state)
{
	const char *path = table_path("000104.sst");
	sst_options_t o = opts_of(4096, 10);
	sst_builder_t *b;
	assert_int_equal(sst_builder_new(wb_env_default(), path, &o, &b), WB_OK);
	assert_true(file_exists(path));
	assert_int_equal(sst_builder_finish(b, NULL), WB_EINVAL);
	assert_false(file_exists(path));

	assert_int_equal(sst_builder_new(wb_env_default(), path, &o, &b), WB_OK);
	sst_builder_abandon(b);
	assert_false(file_exists(path));
	sst_builder_abandon(NULL);
}

static void test_builder_refuses_bad_input(void **state)
{
	const char *path = table_path("000105.sst");
	sst_options_t o = opts_of(4096, 10);
	sst_builder_t *b;
	assert_int_equal(sst_builder_new(wb_env_default(), path, &o, &b), WB_OK);
	uint8_t k1[16], k2[16];
	slice_t a = slice_make(k1, ikey_encode(k1, slice_make("\0b", 2), 5));
	slice_t before = slice_make(k2, ikey_encode(k2, slice_make("\0a", 2), 5));
	assert_int_equal(sst_builder_add(b, a, slice_make("\0x", 2)), WB_OK);
	assert_int_equal(sst_builder_add(b, a, slice_make("\0x", 2)), WB_EINVAL); /* equal */
	assert_int_equal(sst_builder_add(b, before, slice_make("\0x", 2)), WB_EINVAL);
	slice_t later = slice_make(k2, ikey_encode(k2, slice_make("\0c", 2), 5));
	assert_int_equal(sst_builder_add(b, later, slice_make("", 0)), WB_EINVAL); /* no meta */
	assert_int_equal(sst_builder_add(b, slice_make(k2, 8), slice_make("\0", 1)), WB_EINVAL);
	assert_int_equal(sst_builder_add(b, later, slice_make("\0y", 2)), WB_OK);
	assert_true(sst_builder_file_size(b) > 0);
	assert_int_equal(sst_builder_finish(b, NULL), WB_OK);
	sst_reader_t *r = open_ok(path);
	assert_int_equal(sst_reader_props(r)->entries, 2);
	assert_int_equal(sst_reader_verify(r), WB_OK);
	sst_reader_unref(r);

	assert_int_equal(sst_reader_open(wb_env_default(), table_path("999999.sst"), &r),
			 WB_ENOTFOUND);
	assert_null(r);
}

/* ---- a wrapper env that counts and fails appends and syncs ---- */

static const wb_env *real;
static int appends, fail_append_at = -1, fail_sync;

static int counting_append(wb_env_file *f, const void *buf, size_t len)
{
	if (appends++ == fail_append_at)
		return WB_ENOSPC;
	return real->append(f, buf, len);
}

static int failing_sync(wb_env_file *f)
{
	return fail_sync ? WB_EIO : real->sync(f);
}

static void test_write_buffering_and_errors(void **state)
{
	if (big.n == 0)
		make_big();
	real = wb_env_default();
	wb_env env = *real;
	env.append = counting_append;
	env.sync = failing_sync;
	const char *path = table_path("000106.sst");

	appends = 0;
	fail_append_at = -1;
	fail_sync = 0;
	sst_props_t props;
	build_with(&env, path, &big, opts_of(4096, 10), &props);
	/* one append per 64 KiB, not one per 4 KiB block */
	assert_true((uint64_t)appends <= props.file_size / (64 * 1024) + 2);
	assert_true((uint64_t)appends < props.data_blocks / 8);
	sst_props_destroy(&props);
	int total = appends;

	/* An append failing anywhere: the error comes back, sticky, and the
	 * file is gone. */
	const int where[] = { 0, 1, total / 2, total - 1 };
	for (int w = 0; w < 4; w++) {
		appends = 0;
		fail_append_at = where[w];
		sst_options_t o = opts_of(4096, 10);
		sst_builder_t *b;
		assert_int_equal(sst_builder_new(&env, path, &o, &b), WB_OK);
		int rc = WB_OK;
		for (size_t i = 0; i < big.n && rc == WB_OK; i++)
			rc = sst_builder_add(b, ekey(&big.e[i]),
					     slice_make(big.e[i].v, big.e[i].vl));
		if (rc != WB_OK) {
			assert_int_equal(rc, WB_ENOSPC);
			assert_int_equal(sst_builder_add(b, ekey(&big.e[0]), slice_make("\0", 1)),
					 WB_ENOSPC);
		}
		assert_int_equal(sst_builder_finish(b, NULL), WB_ENOSPC);
		assert_false(file_exists(path));
	}

	fail_append_at = -1;
	fail_sync = 1;
	struct model small = { big.e, 100, 0 };
	sst_options_t o = opts_of(4096, 10);
	sst_builder_t *b;
	assert_int_equal(sst_builder_new(&env, path, &o, &b), WB_OK);
	for (size_t i = 0; i < small.n; i++)
		assert_int_equal(sst_builder_add(b, ekey(&small.e[i]),
						 slice_make(small.e[i].v, small.e[i].vl)),
				 WB_OK);
	assert_int_equal(sst_builder_finish(b, NULL), WB_EIO);
	assert_false(file_exists(path));
	fail_sync = 0;
}

/* ---- damage ---- */

static struct model small_model(size_t n)
{
	if (big.n == 0)
		make_big();
	struct model m = { big.e, n, 0 };
	return m;
}

/* A flipped byte in a data block: open is fine (data blocks are read
 * lazily), but get, iteration and verify all report it. */
static void test_damaged_data_block(void **state)
{
	struct model m = small_model(2000);
	const char *path = table_path("000107.sst");
	build(path, &m, opts_of(4096, 10), NULL);
	uint8_t *data;
	size_t len;
	slurp(path, &data, &len);
	data[100] ^= 0x40; /* inside the first data block */
	spit(path, data, len);

	sst_reader_t *r = open_ok(path);
	struct got g = { 0 };
	char kb[32];
	slice_t tk;
	key_of(1, kb, &tk);
	assert_int_equal(sst_reader_get(r, tk, TS_MAX, on_found, &g), WB_ECORRUPT);
	assert_int_equal(g.calls, 0);
	assert_message_names("000107.sst");
	assert_non_null(strstr(err_message(), "offset 0:"));
	assert_non_null(strstr(err_message(), "checksum mismatch"));

	iter_t *it = sst_reader_iter(r);
	iter_seek_first(it);
	assert_false(iter_valid(it));
	assert_int_equal(iter_status(it), WB_ECORRUPT);
	iter_destroy(it);
	/* backwards, everything up to the damaged block comes out right */
	it = sst_reader_iter(r);
	size_t i = m.n;
	for (iter_seek_last(it); iter_valid(it); iter_prev(it))
		assert_entry(it, &m.e[--i]);
	assert_int_equal(iter_status(it), WB_ECORRUPT);
	assert_true(i > 0 && i < m.n);
	iter_destroy(it);

	assert_int_equal(sst_reader_verify(r), WB_ECORRUPT);
	assert_message_names("000107.sst");
	sst_reader_unref(r);
	free(data);
}

/* 1000 single-byte flips at random places: every byte of a table is under
 * a checksum, so each one is caught by open or by verify, and no lookup or
 * scan ever returns an entry that was not written. */
static void test_random_flips(void **state)
{
	struct model m = small_model(300);
	const char *path = table_path("000108.sst");
	build(path, &m, opts_of(256, 10), NULL);
	uint8_t *good, *bad;
	size_t len;
	slurp(path, &good, &len);
	bad = malloc(len);
	unsigned seed = 4242;
	int open_failed = 0;
	for (int trial = 0; trial < 1000; trial++) {
		memcpy(bad, good, len);
		size_t at = (size_t)rand_r(&seed) % len;
		bad[at] ^= (uint8_t)(1 + rand_r(&seed) % 255);
		spit(path, bad, len);

		sst_reader_t *r;
		int rc = sst_reader_open(wb_env_default(), path, &r);
		if (rc != WB_OK) {
			assert_true(rc == WB_ECORRUPT || rc == WB_EFORMAT);
			assert_message_names("000108.sst");
			open_failed++;
			continue;
		}
		assert_int_equal(sst_reader_verify(r), WB_ECORRUPT);
		assert_message_names("000108.sst");

		iter_t *it = sst_reader_iter(r);
		size_t i = 0;
		for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
			assert_true(i < m.n);
			assert_true(entry_is(it, &m.e[i]));
			i++;
		}
		assert_int_equal(iter_status(it), WB_ECORRUPT);
		iter_destroy(it);

		char kb[32];
		for (int q = 0; q < 10; q++) {
			slice_t tk;
			key_of(rand_r(&seed) % 130, kb, &tk);
			uint64_t ts = (uint64_t)(rand_r(&seed) % 500);
			struct got g = { 0 };
			rc = sst_reader_get(r, tk, ts, on_found, &g);
			const struct ent *e = model_get(&m, tk, ts);
			if (rc == WB_OK) {
				assert_non_null(e);
				assert_int_equal(g.vl, e->vl);
				assert_memory_equal(g.v, e->v, e->vl);
				assert_memory_equal(g.k, e->k, e->kl);
			} else if (rc == WB_ENOTFOUND) {
				assert_null(e);
			} else {
				assert_int_equal(rc, WB_ECORRUPT);
			}
			got_free(&g);
		}
		sst_reader_unref(r);
	}
	assert_true(open_failed > 0 && open_failed < 1000);
	free(good);
	free(bad);
}

/* Reads the footer handles of the table at data (docs/format.md). */
static block_handle_t footer_handle(const uint8_t *data, size_t len, int which)
{
	const uint8_t *f = data + len - SST_FOOTER_SIZE;
	block_handle_t h = { get_u64(f + 16 * which), get_u64(f + 16 * which + 8) };
	return h;
}

static void test_damaged_footer_index_truncated(void **state)
{
	struct model m = small_model(2000);
	const char *path = table_path("000109.sst");
	build(path, &m, opts_of(4096, 10), NULL);
	uint8_t *good, *bad;
	size_t len;
	slurp(path, &good, &len);
	bad = malloc(len);
	sst_reader_t *r;

	for (size_t i = 0; i < SST_FOOTER_SIZE; i++) {
		memcpy(bad, good, len);
		bad[len - SST_FOOTER_SIZE + i] ^= 0x10;
		spit(path, bad, len);
		int rc = sst_reader_open(wb_env_default(), path, &r);
		assert_int_equal(rc, i >= 56 ? WB_EFORMAT : WB_ECORRUPT);
		assert_null(r);
		assert_message_names("000109.sst");
	}

	block_handle_t ih = footer_handle(good, len, 0);
	for (uint64_t off = ih.offset; off < ih.offset + ih.size + BLOCK_TRAILER_SIZE; off += 7) {
		memcpy(bad, good, len);
		bad[off] ^= 0x01;
		spit(path, bad, len);
		assert_int_equal(sst_reader_open(wb_env_default(), path, &r), WB_ECORRUPT);
		assert_message_names("000109.sst");
		assert_non_null(strstr(err_message(), "index block"));
	}

	const size_t cuts[] = { 0, 1, 63, 64, 65, len / 2, len - SST_FOOTER_SIZE, len - 1 };
	for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
		spit(path, good, cuts[c]);
		int rc = sst_reader_open(wb_env_default(), path, &r);
		assert_true(rc == WB_EFORMAT || rc == WB_ECORRUPT);
		assert_non_null(strstr(err_message(), "000109.sst"));
	}
	free(good);
	free(bad);
}

/* A well-formed block with an unknown codec id, and a newer format
 * version, are told apart from damage. */
static void test_unknown_codec_and_version(void **state)
{
	struct model m = small_model(2000);
	const char *path = table_path("000110.sst");
	build(path, &m, opts_of(4096, 0), NULL);
	uint8_t *data;
	size_t len;
	slurp(path, &data, &len);
	assert_int_equal(footer_handle(data, len, 1).size, 0); /* no filter */

	/* The first data block's handle: the first index entry. */
	block_handle_t ih = footer_handle(data, len, 0);
	uint8_t *ib = malloc(ih.size);
	memcpy(ib, data + ih.offset, ih.size);
	block_t *index;
	assert_int_equal(block_new(ib, ih.size, &index), WB_OK);
	iter_t *it = block_iter_new(index, slice_compare);
	iter_seek_first(it);
	slice_t hv = iter_value(it);
	uint64_t off = 1, size = 0;
	const uint8_t *p = get_varint64(hv.data, hv.data + hv.len, &off);
	assert_non_null(p);
	assert_non_null(get_varint64(p, hv.data + hv.len, &size));
	iter_destroy(it);
	block_unref(index);
	assert_int_equal(off, 0);

	uint8_t *copy = malloc(len);
	memcpy(copy, data, len);
	copy[size] = 7;
	put_u32(copy + size + 1, crc32c_mask(crc32c(copy, size + 1)));
	spit(path, copy, len);
	sst_reader_t *r = open_ok(path);
	char kb[32];
	slice_t tk;
	key_of(0, kb, &tk);
	struct got g = { 0 };
	assert_int_equal(sst_reader_get(r, tk, TS_MAX, on_found, &g), WB_ECORRUPT);
	assert_non_null(strstr(err_message(), "unknown codec id 7"));
	assert_message_names("000110.sst");
	sst_reader_unref(r);

	memcpy(copy, data, len);
	uint8_t *f = copy + len - SST_FOOTER_SIZE;
	put_u32(f + 48, 2);
	put_u32(f + 52, crc32c_mask(crc32c(f, 52)));
	spit(path, copy, len);
	assert_int_equal(sst_reader_open(wb_env_default(), path, &r), WB_EFORMAT);
	assert_non_null(strstr(err_message(), "version 2"));
	free(copy);
	free(data);
}

/* A table put together byte by byte from docs/format.md, with property
 * names this version does not know (they must be ignored). */
static void append_block(uint8_t *file, size_t *len, slice_t contents, block_handle_t *h)
{
	h->offset = *len;
	h->size = contents.len;
	memcpy(file + *len, contents.data, contents.len);
	*len += contents.len;
	file[*len] = CODEC_NONE;
	put_u32(file + *len + 1, crc32c_mask(crc32c(file + h->offset, contents.len + 1)));
	*len += BLOCK_TRAILER_SIZE;
}

/* The footer of a handmade table, after its blocks. */
static void append_footer(uint8_t *file, size_t *len, block_handle_t index_h,
			  block_handle_t filter_h, block_handle_t props_h)
{
	uint8_t *f = file + *len;
	put_u64(f + 0, index_h.offset);
	put_u64(f + 8, index_h.size);
	put_u64(f + 16, filter_h.offset);
	put_u64(f + 24, filter_h.size);
	put_u64(f + 32, props_h.offset);
	put_u64(f + 40, props_h.size);
	put_u32(f + 48, SST_FORMAT_VERSION);
	put_u32(f + 52, crc32c_mask(crc32c(f, 52)));
	put_u64(f + 56, SST_MAGIC);
	*len += SST_FOOTER_SIZE;
}

static void test_handmade_table(void **state)
{
	uint8_t file[4096];
	size_t len = 0;
	uint8_t k1[16], k2[16];
	slice_t a = slice_make(k1, ikey_encode(k1, slice_make("\0a", 2), 7));
	slice_t b = slice_make(k2, ikey_encode(k2, slice_make("\0b", 2), 3));

	block_builder_t bb;
	block_builder_init(&bb, 16);
	block_builder_add(&bb, a, slice_make("\0A", 2));
	block_builder_add(&bb, b, slice_make("\x01", 1));
	slice_t c;
	assert_int_equal(block_builder_finish(&bb, &c), WB_OK);
	block_handle_t data_h, props_h, index_h;
	append_block(file, &len, c, &data_h);
	block_builder_destroy(&bb);

	block_handle_t filter_h = { len, 0 };

	block_builder_init(&bb, 1);
	uint8_t v[10];
	block_builder_add(&bb, slice_make("wb.aaa_from_the_future", 22), slice_make("?", 1));
	block_builder_add(&bb, slice_make("wb.data_blocks", 14), slice_make(v, put_varint64(v, 1)));
	block_builder_add(&bb, slice_make("wb.entries", 10), slice_make(v, put_varint64(v, 2)));
	block_builder_add(&bb, slice_make("wb.max_ts", 9), slice_make(v, put_varint64(v, 7)));
	block_builder_add(&bb, slice_make("wb.zzz", 6), slice_make("", 0));
	assert_int_equal(block_builder_finish(&bb, &c), WB_OK);
	append_block(file, &len, c, &props_h);
	block_builder_destroy(&bb);

	block_builder_init(&bb, 1);
	size_t n = put_varint64(v, data_h.offset);
	n += put_varint64(v + n, data_h.size);
	block_builder_add(&bb, b, slice_make(v, n));
	assert_int_equal(block_builder_finish(&bb, &c), WB_OK);
	append_block(file, &len, c, &index_h);
	block_builder_destroy(&bb);

	append_footer(file, &len, index_h, filter_h, props_h);

	const char *path = table_path("000111.sst");
	spit(path, file, len);
	sst_reader_t *r = open_ok(path);
	const sst_props_t *p = sst_reader_props(r);
	assert_int_equal(p->entries, 2);
	assert_int_equal(p->data_blocks, 1);
	assert_int_equal(p->max_ts, 7);
	assert_int_equal(p->smallest_len, 0); /* absent: left empty */
	assert_int_equal(p->file_size, len);
	assert_true(sst_reader_may_contain(r, slice_make("\0zz", 3))); /* no filter */
	struct model m = { 0 };
	model_add(&m, slice_make("\0a", 2), 7, 0, "A", 1);
	model_add(&m, slice_make("\0b", 2), 3, META_TOMBSTONE, NULL, 0);
	check_scan(r, &m);
	check_get(r, &m, slice_make("\0a", 2), 9);
	check_get(r, &m, slice_make("\0a", 2), 6);
	check_get(r, &m, slice_make("\0b", 2), 3);
	assert_int_equal(sst_reader_verify(r), WB_OK);
	sst_reader_unref(r);
	model_free(&m);
}

/* Two data blocks, each sorted, whose keys are out of order from one to the
 * next ("a", "z" | "m", "zz"), with good checksums and an index in order:
 * a writer's bug that fuzz_sst found the reader passing on as a sorted
 * scan. Scanning either way must stop with WB_ECORRUPT naming the table. */
static void test_blocks_out_of_order(void **state)
{
	uint8_t file[4096];
	size_t len = 0;
	static const char *const tks[4] = { "\0a", "\0z", "\0m", "\0zz" };
	uint8_t kb[4][16];
	slice_t k[4];
	for (int i = 0; i < 4; i++)
		k[i] = slice_make(kb[i], ikey_encode(kb[i], slice_make(tks[i], strlen(tks[i] + 1) + 1), 5));
	block_builder_t bb;
	block_handle_t data_h[2], props_h, index_h;
	slice_t c;
	for (int blk = 0; blk < 2; blk++) {
		block_builder_init(&bb, 16);
		block_builder_add(&bb, k[2 * blk], slice_make("\0v", 2));
		block_builder_add(&bb, k[2 * blk + 1], slice_make("\0v", 2));
		assert_int_equal(block_builder_finish(&bb, &c), WB_OK);
		append_block(file, &len, c, &data_h[blk]);
		block_builder_destroy(&bb);
	}
	block_handle_t filter_h = { len, 0 };
	block_builder_init(&bb, 1);
	uint8_t v[24];
	block_builder_add(&bb, slice_make("wb.data_blocks", 14), slice_make(v, put_varint64(v, 2)));
	block_builder_add(&bb, slice_make("wb.entries", 10), slice_make(v, put_varint64(v, 4)));
	assert_int_equal(block_builder_finish(&bb, &c), WB_OK);
	append_block(file, &len, c, &props_h);
	block_builder_destroy(&bb);
	block_builder_init(&bb, 1);
	for (int blk = 0; blk < 2; blk++) {
		size_t n = put_varint64(v, data_h[blk].offset);
		n += put_varint64(v + n, data_h[blk].size);
		block_builder_add(&bb, k[2 * blk + 1], slice_make(v, n));
	}
	assert_int_equal(block_builder_finish(&bb, &c), WB_OK);
	append_block(file, &len, c, &index_h);
	block_builder_destroy(&bb);
	append_footer(file, &len, index_h, filter_h, props_h);

	const char *path = table_path("000113.sst");
	spit(path, file, len);
	sst_reader_t *r = open_ok(path);
	for (int forward = 0; forward < 2; forward++) {
		iter_t *it = sst_reader_iter(r);
		int n = 0;
		err_clear();
		for (forward ? iter_seek_first(it) : iter_seek_last(it); iter_valid(it);
		     forward ? iter_next(it) : iter_prev(it))
			n++;
		assert_int_equal(iter_status(it), WB_ECORRUPT);
		assert_int_equal(n, 2); /* the first block, then the crossing */
		assert_message_names("000113.sst");
		iter_destroy(it);
	}
	assert_int_equal(sst_reader_verify(r), WB_ECORRUPT);
	sst_reader_unref(r);
}

/* ---- sharing ---- */

struct reader_arg {
	sst_reader_t *r;
	int from;
};

static void *reader_thread(void *p)
{
	struct reader_arg *a = p;
	char kb[32];
	for (int k = a->from; k < BIG_KEYS; k += 4) {
		slice_t tk;
		key_of(k, kb, &tk);
		struct model one = { big.e + big_start[k], big_start[k + 1] - big_start[k], 0 };
		check_get(a->r, &one, tk, 250);
	}
	return NULL;
}

static void test_shared_reader(void **state)
{
	if (big.n == 0)
		make_big();
	const char *path = table_path("000112.sst");
	build(path, &big, opts_of(4096, 10), NULL);
	sst_reader_t *r = open_ok(path);
	pthread_t t[4];
	struct reader_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i] = (struct reader_arg){ r, i };
		assert_int_equal(pthread_create(&t[i], NULL, reader_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);

	/* an iterator keeps the reader alive after its owner lets go */
	iter_t *it = sst_reader_iter(r);
	sst_reader_unref(r);
	size_t i = 0;
	for (iter_seek_first(it); iter_valid(it); iter_next(it))
		assert_entry(it, &big.e[i++]);
	assert_int_equal(i, big.n);
	iter_destroy(it);

	it = iter_new_empty(WB_OK);
	iter_seek_first(it);
	assert_false(iter_valid(it));
	assert_int_equal(iter_status(it), WB_OK);
	iter_destroy(it);
	it = iter_new_empty(WB_EIO);
	iter_seek(it, slice_make("x", 1));
	assert_false(iter_valid(it));
	assert_int_equal(iter_status(it), WB_EIO);
	iter_destroy(it);
}

static int setup(void **state)
{
	strcpy(dir, "/tmp/wb_test_sst.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			unlink(table_path(de->d_name));
	}
	if (d)
		closedir(d);
	rmdir(dir);
	model_free(&big);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_table),
		cmocka_unit_test(test_tiny_blocks),
		cmocka_unit_test(test_prefix_and_binary_keys),
		cmocka_unit_test(test_huge_entries),
		cmocka_unit_test(test_empty_table),
		cmocka_unit_test(test_builder_refuses_bad_input),
		cmocka_unit_test(test_write_buffering_and_errors),
		cmocka_unit_test(test_damaged_data_block),
		cmocka_unit_test(test_random_flips),
		cmocka_unit_test(test_damaged_footer_index_truncated),
		cmocka_unit_test(test_unknown_codec_and_version),
		cmocka_unit_test(test_handmade_table),
		cmocka_unit_test(test_blocks_out_of_order),
		cmocka_unit_test(test_shared_reader),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
