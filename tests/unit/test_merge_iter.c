/*
 * test_merge_iter.c -- the k-way merge (merge_iter.c) over memtable
 * children, compared against a sorted model: full scans both ways, seek and
 * seek_for_prev to every key and between keys, and long random walks that
 * change direction often (next, next, prev, prev, next, ...). Equal
 * internal keys in several children, and even twice in one child (a batch
 * that writes a key twice), must come out newest child first going
 * forward and last going backward, each exactly once, whatever the path.
 * Also: no children, one child, and a child whose status is an error.
 *
 * The model is every child's entries, each child in its own iteration
 * order, sorted by (internal key, child index, position in the child).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "table/ikey.h"
#include "db/memtable.h"
#include "table/merge_iter.h"

#define MAX_KIDS 6

struct ent {
	uint8_t k[24], v[24];
	size_t kl, vl;
	int child, pos;
};

struct model {
	struct ent *e;
	int n;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;
	int c = ikey_compare(slice_make(x->k, x->kl), slice_make(y->k, y->kl));
	if (c != 0)
		return c;
	if (x->child != y->child)
		return x->child < y->child ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

struct world {
	memtable_t *mem[MAX_KIDS];
	int nkids;
	struct model md;
};

static void put(struct world *w, int child, int k, uint64_t ts, int tag)
{
	char kb[16], vb[24];
	kb[0] = KS_USER;
	size_t kl = 1 + (size_t)snprintf(kb + 1, sizeof(kb) - 1, "k%03d", k);
	int vl = snprintf(vb, sizeof(vb), "c%d-%d", child, tag);
	assert_int_equal(memtable_add(w->mem[child], slice_make(kb, kl), ts, 0,
				      slice_make(vb, (size_t)vl)),
			 WB_OK);
}

/* Reads every child in its own order into the model, then sorts it. */
static void build_model(struct world *w)
{
	int total = 0;
	for (int c = 0; c < w->nkids; c++)
		total += (int)memtable_count(w->mem[c]);
	w->md.e = calloc((size_t)total + 1, sizeof(struct ent));
	w->md.n = 0;
	for (int c = 0; c < w->nkids; c++) {
		iter_t *it = memtable_iter(w->mem[c]);
		int pos = 0;
		for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
			struct ent *e = &w->md.e[w->md.n++];
			e->kl = iter_key(it).len;
			e->vl = iter_value(it).len;
			memcpy(e->k, iter_key(it).data, e->kl);
			memcpy(e->v, iter_value(it).data, e->vl);
			e->child = c;
			e->pos = pos++;
		}
		iter_destroy(it);
	}
	assert_int_equal(w->md.n, total);
	qsort(w->md.e, (size_t)w->md.n, sizeof(struct ent), ent_cmp);
}

static iter_t *merge_of(struct world *w)
{
	iter_t *kids[MAX_KIDS];
	for (int c = 0; c < w->nkids; c++)
		kids[c] = memtable_iter(w->mem[c]);
	iter_t *m = merge_iter_new(kids, w->nkids);
	assert_non_null(m);
	return m;
}

static void world_free(struct world *w)
{
	for (int c = 0; c < w->nkids; c++)
		memtable_unref(w->mem[c]);
	free(w->md.e);
}

/* The iterator is at model entry i (or invalid when i is -1 or n). */
static void assert_pos(iter_t *it, const struct model *md, int i, const char *how)
{
	if (i < 0 || i >= md->n) {
		if (iter_valid(it))
			fail_msg("%s: valid, expected the end (%d)", how, i);
		return;
	}
	if (!iter_valid(it))
		fail_msg("%s: invalid, expected entry %d", how, i);
	const struct ent *e = &md->e[i];
	slice_t k = iter_key(it), v = iter_value(it);
	if (k.len != e->kl || memcmp(k.data, e->k, k.len) != 0 || v.len != e->vl ||
	    memcmp(v.data, e->v, v.len) != 0)
		fail_msg("%s: at %.*s = %.*s, expected entry %d: %.*s = %.*s", how, (int)k.len - 9,
			 k.data + 1, (int)v.len - 1, v.data + 1, i, (int)e->kl - 9, e->k + 1,
			 (int)e->vl - 1, e->v + 1);
}

/* First model entry >= t, last <= t. */
static int model_seek(const struct model *md, slice_t t)
{
	int i = 0;
	while (i < md->n && ikey_compare(slice_make(md->e[i].k, md->e[i].kl), t) < 0)
		i++;
	return i;
}

static int model_seek_for_prev(const struct model *md, slice_t t)
{
	int i = md->n - 1;
	while (i >= 0 && ikey_compare(slice_make(md->e[i].k, md->e[i].kl), t) > 0)
		i--;
	return i;
}

/*
 * Four children with overlapping keys: 40 keys, three timestamps, so the
 * same internal key is often in several children, and (picked twice) in
 * one child twice.
 */
static void make_world(struct world *w, int nkids, int per_child, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->nkids = nkids;
	uint64_t x = seed;
	for (int c = 0; c < nkids; c++) {
		w->mem[c] = memtable_new((uint64_t)c, 1 << 20);
		for (int i = 0; i < per_child; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			put(w, c, (int)(x % 40), 10 * (1 + (x >> 8) % 3), i);
		}
	}
	build_model(w);
}

static void check_scans(struct world *w)
{
	iter_t *m = merge_of(w);
	int i = 0;
	for (iter_seek_first(m); iter_valid(m); iter_next(m), i++)
		assert_pos(m, &w->md, i, "forward");
	assert_int_equal(i, w->md.n);
	for (iter_seek_last(m); iter_valid(m); iter_prev(m))
		assert_pos(m, &w->md, --i, "backward");
	assert_int_equal(i, 0);
	assert_int_equal(iter_status(m), WB_OK);
	iter_destroy(m);
}

static void test_scans(void **state)
{
	struct world w;
	make_world(&w, 4, 150, 0x1234567);
	/* The model really has equal keys across and within children. */
	int across = 0, within = 0;
	for (int i = 1; i < w.md.n; i++) {
		if (ikey_compare(slice_make(w.md.e[i].k, w.md.e[i].kl),
				 slice_make(w.md.e[i - 1].k, w.md.e[i - 1].kl)) == 0) {
			across += w.md.e[i].child != w.md.e[i - 1].child;
			within += w.md.e[i].child == w.md.e[i - 1].child;
		}
	}
	assert_true(across > 50 && within > 20);
	check_scans(&w);
	world_free(&w);
}

static void test_seeks(void **state)
{
	struct world w;
	make_world(&w, 4, 150, 0xfeedbeef);
	iter_t *m = merge_of(&w);
	uint8_t tb[32];
	char kb[16];
	kb[0] = KS_USER;
	for (int k = -1; k <= 40; k++) {
		size_t kl = 1 + (size_t)snprintf(kb + 1, sizeof(kb) - 1, "k%03d", k < 0 ? 0 : k);
		if (k < 0)
			kl = 1; /* before every key */
		const uint64_t ts[] = { TS_MAX, 31, 30, 25, 20, 10, 5, 0 };
		for (int t = 0; t < 8; t++) {
			slice_t target = slice_make(tb, ikey_encode(tb, slice_make(kb, kl), ts[t]));
			int want = model_seek(&w.md, target);
			iter_seek(m, target);
			assert_pos(m, &w.md, want, "seek");
			if (want < w.md.n) { /* and step on, and back */
				iter_next(m);
				assert_pos(m, &w.md, want + 1, "seek+next");
				iter_prev(m);
				assert_pos(m, &w.md, want, "seek+next+prev");
				iter_prev(m);
				assert_pos(m, &w.md, want - 1, "seek+next+prev+prev");
			}
			want = model_seek_for_prev(&w.md, target);
			iter_seek_for_prev(m, target);
			assert_pos(m, &w.md, want, "seek_for_prev");
			if (want >= 0) {
				iter_prev(m);
				assert_pos(m, &w.md, want - 1, "sfp+prev");
				if (want > 0) {
					iter_next(m);
					assert_pos(m, &w.md, want, "sfp+prev+next");
				}
			}
		}
	}
	iter_destroy(m);
	world_free(&w);
}

/* Random walks: mostly short runs in one direction, turning often. */
static void random_walk(struct world *w, uint64_t seed, int steps)
{
	iter_t *m = merge_of(w);
	uint64_t x = seed;
	int pos = -1;
	int dir = 1, run = 0;
	for (int s = 0; s < steps; s++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (pos < 0 || pos >= w->md.n || x % 97 == 0) {
			/* (Re)position: seek somewhere or go to an end. */
			int how = (int)(x >> 8) % 4;
			if (how == 0) {
				iter_seek_first(m);
				pos = 0;
			} else if (how == 1) {
				iter_seek_last(m);
				pos = w->md.n - 1;
			} else {
				const struct ent *e = &w->md.e[(x >> 16) % (uint64_t)w->md.n];
				slice_t t = slice_make(e->k, e->kl);
				if (how == 2) {
					iter_seek(m, t);
					pos = model_seek(&w->md, t);
				} else {
					iter_seek_for_prev(m, t);
					pos = model_seek_for_prev(&w->md, t);
				}
			}
			assert_pos(m, &w->md, pos, "reposition");
			continue;
		}
		if (run-- <= 0) {
			dir = (x >> 20) % 2 ? 1 : -1;
			run = (int)((x >> 24) % 4);
		}
		if (dir > 0) {
			iter_next(m);
			pos++;
		} else {
			iter_prev(m);
			pos--;
		}
		char how[48];
		snprintf(how, sizeof(how), "step %d (%s)", s, dir > 0 ? "next" : "prev");
		assert_pos(m, &w->md, pos, how);
	}
	assert_int_equal(iter_status(m), WB_OK);
	iter_destroy(m);
}

static void test_direction_changes(void **state)
{
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct world w;
		make_world(&w, 2 + (int)(seed % 4), 120, seed * 0x9E3779B97F4A7C15ull);
		random_walk(&w, seed, 20000);
		world_free(&w);
	}
}

/*
 * One internal key K in children 0 (twice), 1, and 3 (twice): the merge
 * order is c0 second insert, c0 first insert, c1, c3 second, c3 first.
 * Turning around on each of them must neither skip nor repeat any.
 */
static void test_equal_keys_turning(void **state)
{
	struct world w;
	memset(&w, 0, sizeof(w));
	w.nkids = 4;
	for (int c = 0; c < 4; c++)
		w.mem[c] = memtable_new((uint64_t)c, 1 << 20);
	put(&w, 2, 1, 10, 0); /* neighbours on both sides */
	put(&w, 2, 9, 10, 1);
	put(&w, 0, 5, 10, 0);
	put(&w, 0, 5, 10, 1);
	put(&w, 1, 5, 10, 0);
	put(&w, 3, 5, 10, 0);
	put(&w, 3, 5, 10, 1);
	build_model(&w);
	assert_int_equal(w.md.n, 7);
	static const char *const order[] = { "c2-0", "c0-1", "c0-0", "c1-0",
					     "c3-1", "c3-0", "c2-1" };
	for (int i = 0; i < 7; i++)
		assert_memory_equal(w.md.e[i].v + 1, order[i], 4);

	iter_t *m = merge_of(&w);
	/* From every entry: each two-step pattern of turns. */
	static const char *const pats[] = { "np",   "pn",   "nnpp", "ppnn",
					    "npnp", "pnpn", "nppn", "pnnp" };
	for (int start = 0; start < 7; start++) {
		for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
			/* Arrive at start both from a forward and a backward move. */
			for (int arrive = 0; arrive < 2; arrive++) {
				int pos = start;
				if (arrive == 0) {
					iter_seek_first(m);
					for (int i = 0; i < start; i++)
						iter_next(m);
				} else {
					iter_seek_last(m);
					for (int i = 6; i > start; i--)
						iter_prev(m);
				}
				assert_pos(m, &w.md, pos, "arrive");
				for (const char *c = pats[p]; *c && pos >= 0 && pos < 7; c++) {
					if (*c == 'n')
						iter_next(m), pos++;
					else
						iter_prev(m), pos--;
					char how[64];
					snprintf(how, sizeof(how), "start %d via %s, %s up to '%c'",
						 start, arrive ? "prev" : "next", pats[p], *c);
					assert_pos(m, &w.md, pos, how);
				}
			}
		}
	}
	iter_destroy(m);
	world_free(&w);
}

static void test_degenerate(void **state)
{
	/* No children. */
	iter_t *m = merge_iter_new(NULL, 0);
	assert_non_null(m);
	iter_seek_first(m);
	assert_false(iter_valid(m));
	iter_seek_last(m);
	assert_false(iter_valid(m));
	iter_seek(m, slice_make("\0a\0\0\0\0\0\0\0\0", 10));
	assert_false(iter_valid(m));
	assert_int_equal(iter_status(m), WB_OK);
	iter_destroy(m);

	/* One child, and one child plus empty ones. */
	struct world w;
	make_world(&w, 1, 200, 77);
	check_scans(&w);
	world_free(&w);
	make_world(&w, 3, 0, 78);
	put(&w, 1, 3, 10, 0);
	free(w.md.e);
	build_model(&w);
	check_scans(&w);
	random_walk(&w, 5, 200);
	world_free(&w);

	/* A failed child: the others still merge, the status says so. */
	make_world(&w, 2, 50, 79);
	iter_t *kids[3] = { memtable_iter(w.mem[0]), iter_new_empty(WB_EIO),
			    memtable_iter(w.mem[1]) };
	m = merge_iter_new(kids, 3);
	int i = 0;
	for (iter_seek_first(m); iter_valid(m); iter_next(m))
		assert_pos(m, &w.md, i++, "with a failed child");
	assert_int_equal(i, w.md.n);
	assert_int_equal(iter_status(m), WB_EIO);
	iter_destroy(m);
	world_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scans),
		cmocka_unit_test(test_seeks),
		cmocka_unit_test(test_direction_changes),
		cmocka_unit_test(test_equal_keys_turning),
		cmocka_unit_test(test_degenerate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
