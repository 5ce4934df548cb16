/*
 * fuzz_block.c -- fuzzes the block reader (engine/src/table/block.c): the layout
 * shared by data, index and properties blocks (docs/format.md, "Blocks").
 *
 * Input: one byte choosing the order (bit 0: internal-key order as in data
 * and index blocks, else memcmp order as in the properties block), one byte
 * counting seek targets (0..3), each target as a length byte and its bytes,
 * and then the block itself (what block_new gets after the checksum).
 *
 * Promises checked: block_new accepts or says WB_ECORRUPT; a forward scan
 * yields strictly increasing keys or ends with WB_ECORRUPT; when it ends
 * cleanly, a backward scan yields the same entries in reverse, every key
 * is found again by seek and seek_for_prev, and every target lands where
 * the sorted list of entries says it must. The block is fed through a
 * buffer of exactly its size, so ASan sees any read past its end.
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "table/block.h"
#include "table/ikey.h"

#define MAX_TARGETS 3

/* As sst_reader.c orders table keys: keys too short for a suffix get
 * memcmp order (a reader reports them as malformed one level up). */
static int table_key_cmp(slice_t a, slice_t b)
{
	if (a.len < IKEY_SUFFIX || b.len < IKEY_SUFFIX)
		return slice_compare(a, b);
	return ikey_compare(a, b);
}

typedef struct entry {
	uint8_t *k, *v;
	size_t kl, vl;
} entry_t;

static bool same(slice_t s, const uint8_t *p, size_t n)
{
	return s.len == n && (n == 0 || memcmp(s.data, p, n) == 0);
}

static bool is_entry(const iter_t *it, const entry_t *e)
{
	return iter_valid(it) && same(iter_key(it), e->k, e->kl) &&
	       same(iter_value(it), e->v, e->vl);
}

static uint8_t *dup_bytes(slice_t s)
{
	uint8_t *p = malloc(s.len + 1);
	if (s.len)
		memcpy(p, s.data, s.len);
	return p;
}

/* Index of the first entry >= t (n when none); e is sorted. */
static size_t lower_bound(const entry_t *e, size_t n, key_cmp_fn cmp, slice_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp(slice_make(e[mid].k, e[mid].kl), t) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void check_seeks(iter_t *it, const entry_t *e, size_t n, key_cmp_fn cmp, slice_t t)
{
	size_t lb = lower_bound(e, n, cmp, t);
	iter_seek(it, t);
	FUZZ_CHECK(iter_status(it) == WB_OK, "seek in a clean block: %s",
	           wb_strerror(iter_status(it)));
	FUZZ_CHECK(lb == n ? !iter_valid(it) : is_entry(it, &e[lb]),
	           "seek lands on the wrong entry");
	if (lb < n) {
		iter_next(it);
		FUZZ_CHECK(lb + 1 == n ? !iter_valid(it) : is_entry(it, &e[lb + 1]),
		           "next after seek is not the following entry");
	}
	/* The last entry <= t. */
	size_t le = lb < n && cmp(slice_make(e[lb].k, e[lb].kl), t) == 0 ? lb + 1 : lb;
	iter_seek_for_prev(it, t);
	FUZZ_CHECK(iter_status(it) == WB_OK, "seek_for_prev in a clean block");
	FUZZ_CHECK(le == 0 ? !iter_valid(it) : is_entry(it, &e[le - 1]),
	           "seek_for_prev lands on the wrong entry");
	if (le > 0) {
		iter_prev(it);
		FUZZ_CHECK(le == 1 ? !iter_valid(it) : is_entry(it, &e[le - 2]),
		           "prev after seek_for_prev is not the entry before");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in_t in = fuzz_in(data, size);
	key_cmp_fn cmp = fuzz_u8(&in) & 1 ? table_key_cmp : slice_compare;
	size_t ntargets = fuzz_u8(&in) % (MAX_TARGETS + 1);
	uint8_t targets[MAX_TARGETS][256];
	size_t tlen[MAX_TARGETS];
	for (size_t i = 0; i < ntargets; i++) {
		tlen[i] = fuzz_u8(&in);
		for (size_t j = 0; j < tlen[i]; j++)
			targets[i][j] = fuzz_u8(&in);
	}

	uint8_t *buf = malloc(in.left ? in.left : 1);
	if (in.left)
		memcpy(buf, in.p, in.left);
	block_t *b;
	int rc = block_new(buf, in.left, &b);
	if (rc != WB_OK) {
		FUZZ_CHECK(rc == WB_ECORRUPT, "block_new: %s", wb_strerror(rc));
		return 0;
	}
	iter_t *it = block_iter_new(b, cmp);
	block_unref(b);

	/* Forward: strictly increasing, or corruption. */
	entry_t *e = NULL;
	size_t n = 0, cap = 0;
	for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
		slice_t k = iter_key(it), v = iter_value(it);
		if (n > 0)
			FUZZ_CHECK(cmp(slice_make(e[n - 1].k, e[n - 1].kl), k) < 0,
			           "entry %zu out of order, no error", n);
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			e = realloc(e, cap * sizeof(*e));
		}
		e[n++] = (entry_t){dup_bytes(k), dup_bytes(v), k.len, v.len};
		FUZZ_CHECK(n <= in.left / 3, "more entries than fit");
	}
	bool clean = iter_status(it) == WB_OK;
	if (!clean)
		FUZZ_CHECK(iter_status(it) == WB_ECORRUPT, "scan: %s",
		           wb_strerror(iter_status(it)));

	/* Backward: the same entries reversed (decreasing keys, or corruption,
	 * when the forward scan did not get through). */
	size_t back = 0;
	slice_t prev = {NULL, 0};
	uint8_t *prev_copy = NULL;
	for (iter_seek_last(it); iter_valid(it); iter_prev(it), back++) {
		slice_t k = iter_key(it);
		if (clean)
			FUZZ_CHECK(back < n && is_entry(it, &e[n - 1 - back]),
			           "backward entry %zu differs from forward", back);
		else if (back > 0)
			FUZZ_CHECK(cmp(k, prev) < 0, "backward entry %zu out of order, no error",
			           back);
		free(prev_copy);
		prev_copy = dup_bytes(k);
		prev = slice_make(prev_copy, k.len);
		FUZZ_CHECK(back <= in.left / 3, "more entries backward than fit");
	}
	free(prev_copy);
	/* Seeks are checked against a sorted list, which needs a total order:
	 * table order is one only over keys with a timestamp suffix (shorter
	 * ones, malformed in a table, fall back to memcmp order). */
	bool ordered = true;
	for (size_t i = 0; cmp == table_key_cmp && i < n + ntargets; i++)
		if ((i < n ? e[i].kl : tlen[i - n]) < IKEY_SUFFIX)
			ordered = false;
	if (clean) {
		FUZZ_CHECK(iter_status(it) == WB_OK && back == n,
		           "backward scan: %zu of %zu entries, %s", back, n,
		           wb_strerror(iter_status(it)));
	}
	if (clean && ordered) {
		size_t step = n / 64 + 1; /* a few dozen keys suffice */
		for (size_t i = 0; i < n; i += step)
			check_seeks(it, e, n, cmp, slice_make(e[i].k, e[i].kl));
		for (size_t i = 0; i < ntargets; i++)
			check_seeks(it, e, n, cmp, slice_make(targets[i], tlen[i]));
	}
	for (size_t i = 0; i < n; i++) {
		free(e[i].k);
		free(e[i].v);
	}
	free(e);
	iter_destroy(it);
	return 0;
}
