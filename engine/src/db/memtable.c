/*
 * memtable.c -- skiplist memtable (memtable.h).
 *
 * Seeks build a target entry in a small stack buffer (or the heap for big
 * keys) with the same encoding as stored entries, so the skiplist compares
 * like with like.
 */
#include "db/memtable.h"

#include <stdlib.h>

#include "table/ikey.h"
#include "util/grow.h"

static slice_t entry_key(const uint8_t *e)
{
	uint32_t len = 0;
	const uint8_t *p = get_varint32(e, e + VARINT32_MAX, &len);
	return slice_make(p, len);
}

static slice_t entry_value(const uint8_t *e)
{
	slice_t k = entry_key(e);
	const uint8_t *p = k.data + k.len;
	uint32_t len = 0;
	p = get_varint32(p, p + VARINT32_MAX, &len);
	return slice_make(p, len);
}

static int entry_cmp(const uint8_t *a, const uint8_t *b)
{
	return ikey_compare(entry_key(a), entry_key(b));
}

/* The entry's tree key as a number: its keyspace byte in two bits (every
 * keyspace is 0, 1 or 2; a larger first byte, which only a seek target can
 * have, maps to the largest value), then the first 16 bytes of the user
 * key, zero-padded, less their last two bits. A key that is a prefix of
 * another never gets a larger value, and dropping bits only makes more
 * values equal, so the order is kept. Keeping nearly the whole first 16
 * bytes of the user key rather than the keyspace byte and 15 settles by
 * prefix alone the comparisons of distinct 16-byte keys (kvbench's,
 * hashes, UUIDs), except those differing only in those last two bits. */
_Static_assert(KS_LAST <= 2, "entry_prefix keeps two bits of the keyspace");
static skiplist_prefix_t entry_prefix(const uint8_t *e)
{
	slice_t k = ikey_tree_key(entry_key(e));
	if (k.len == 0)
		return (skiplist_prefix_t){ 0, 0 };
	if (k.data[0] > KS_LAST)
		return (skiplist_prefix_t){ UINT64_MAX, UINT64_MAX };
	uint8_t buf[16] = { 0 };
	memcpy(buf, k.data + 1, k.len - 1 < 16 ? k.len - 1 : 16);
	uint64_t ks = k.data[0], hi = get_be64(buf), lo = get_be64(buf + 8);
	return (skiplist_prefix_t){ ks << 62 | hi >> 2, hi << 62 | lo >> 2 };
}

memtable_t *memtable_new(uint64_t wal_number, size_t capacity)
{
	size_t block = capacity / 16;
	block = block < 4096 ? 4096 : block > (1u << 20) ? (1u << 20) : block;
	memtable_t *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->arena = arena_new(block);
	m->list = m->arena ? skiplist_new(m->arena, entry_cmp, entry_prefix) : NULL;
	if (m->list == NULL) {
		arena_free(m->arena);
		free(m);
		return NULL;
	}
	atomic_init(&m->refs, 1);
	m->wal_number = wal_number;
	return m;
}

void memtable_ref(memtable_t *m)
{
	atomic_fetch_add(&m->refs, 1);
}

void memtable_unref(memtable_t *m)
{
	if (m != NULL && atomic_fetch_sub(&m->refs, 1) == 1) {
		arena_free(m->arena);
		free(m);
	}
}

int memtable_add(memtable_t *m, slice_t tree_key, uint64_t ts, uint8_t meta, slice_t value)
{
	size_t klen = tree_key.len + IKEY_SUFFIX, vlen = value.len + 1;
	if (klen > UINT32_MAX || vlen > UINT32_MAX)
		return WB_EINVAL;
	size_t need = varint_len(klen) + klen + varint_len(vlen) + vlen;
	uint8_t *e = skiplist_alloc(m->list, need);
	if (e == NULL)
		return WB_ENOMEM;
	uint8_t *p = e + put_varint32(e, (uint32_t)klen);
	p += ikey_encode(p, tree_key, ts);
	p += put_varint32(p, (uint32_t)vlen);
	*p++ = meta;
	if (value.len)
		memcpy(p, value.data, value.len);
	skiplist_insert(m->list, e);
	uint64_t lo = atomic_load(&m->min_ts);
	if (lo == 0 || ts < lo)
		atomic_store(&m->min_ts, ts);
	if (ts > atomic_load(&m->max_ts))
		atomic_store(&m->max_ts, ts);
	return WB_OK;
}

/* Encodes (ikey, no value) as a skiplist target. *heap is set when the
 * stack buffer was too small; the caller frees it. */
static const uint8_t *make_target(uint8_t *stack, size_t stack_len, slice_t ikey, uint8_t **heap)
{
	size_t need = VARINT32_MAX + ikey.len + 1;
	uint8_t *t = stack;
	*heap = NULL;
	if (need > stack_len) {
		t = *heap = malloc(need);
		if (t == NULL)
			return NULL;
	}
	size_t n = put_varint32(t, (uint32_t)ikey.len);
	memcpy(t + n, ikey.data, ikey.len);
	t[n + ikey.len] = 0; /* value length 0: never read by entry_cmp */
	return t;
}

int memtable_get(memtable_t *m, slice_t tree_key, uint64_t read_ts, found_fn found, void *arg)
{
	uint8_t kbuf[512], tbuf[600], *kheap = NULL, *theap = NULL;
	uint8_t *kb = tree_key.len + IKEY_SUFFIX <= sizeof(kbuf) ? kbuf : (kheap = malloc(tree_key.len + IKEY_SUFFIX));
	if (kb == NULL)
		return WB_ENOMEM;
	slice_t ikey = slice_make(kb, ikey_encode(kb, tree_key, read_ts));
	const uint8_t *target = make_target(tbuf, sizeof(tbuf), ikey, &theap);
	int rc = WB_ENOMEM;
	if (target != NULL) {
		skiplist_iter_t it;
		skiplist_iter_init(&it, m->list);
		skiplist_iter_seek(&it, target);
		rc = WB_ENOTFOUND;
		if (skiplist_iter_valid(&it)) {
			const uint8_t *e = skiplist_iter_entry(&it);
			slice_t k = entry_key(e);
			if (slice_compare(ikey_tree_key(k), tree_key) == 0)
				rc = found(arg, k, entry_value(e));
		}
	}
	free(theap);
	free(kheap);
	return rc;
}

size_t memtable_usage(const memtable_t *m)
{
	return arena_memory_usage(m->arena);
}

uint64_t memtable_count(const memtable_t *m)
{
	return skiplist_count(m->list);
}

/* ---- iterator ---- */

typedef struct mem_iter {
	iter_t base;
	memtable_t *mem;
	skiplist_iter_t it;
	uint8_t *target; /* reusable seek buffer */
	size_t target_cap;
	int status;
} mem_iter_t;

static bool mi_valid(const iter_t *i)
{
	return skiplist_iter_valid(&((const mem_iter_t *)i)->it);
}

static void mi_seek_first(iter_t *i)
{
	skiplist_iter_seek_first(&((mem_iter_t *)i)->it);
}

static void mi_seek_last(iter_t *i)
{
	skiplist_iter_seek_last(&((mem_iter_t *)i)->it);
}

static const uint8_t *mi_target(mem_iter_t *mi, slice_t ikey)
{
	if (!grow_array((void **)&mi->target, &mi->target_cap, VARINT32_MAX + ikey.len + 1, 1)) {
		mi->status = WB_ENOMEM;
		return NULL;
	}
	uint8_t *unused;
	return make_target(mi->target, mi->target_cap, ikey, &unused);
}

static void mi_seek(iter_t *i, slice_t ikey)
{
	mem_iter_t *mi = (mem_iter_t *)i;
	const uint8_t *t = mi_target(mi, ikey);
	if (t == NULL)
		mi->it.node = NULL;
	else
		skiplist_iter_seek(&mi->it, t);
}

static void mi_seek_for_prev(iter_t *i, slice_t ikey)
{
	mem_iter_t *mi = (mem_iter_t *)i;
	const uint8_t *t = mi_target(mi, ikey);
	if (t == NULL)
		mi->it.node = NULL;
	else
		skiplist_iter_seek_for_prev(&mi->it, t);
}

static void mi_next(iter_t *i)
{
	skiplist_iter_next(&((mem_iter_t *)i)->it);
}

static void mi_prev(iter_t *i)
{
	skiplist_iter_prev(&((mem_iter_t *)i)->it);
}

static slice_t mi_key(const iter_t *i)
{
	return entry_key(skiplist_iter_entry(&((const mem_iter_t *)i)->it));
}

static slice_t mi_value(const iter_t *i)
{
	return entry_value(skiplist_iter_entry(&((const mem_iter_t *)i)->it));
}

static int mi_status(const iter_t *i)
{
	return ((const mem_iter_t *)i)->status;
}

static void mi_destroy(iter_t *i)
{
	mem_iter_t *mi = (mem_iter_t *)i;
	memtable_unref(mi->mem);
	free(mi->target);
	free(mi);
}

static const struct iter_ops mem_iter_ops = {
	mi_valid, mi_seek_first, mi_seek_last, mi_seek, mi_seek_for_prev,
	mi_next,  mi_prev,       mi_key,       mi_value, mi_status,
	mi_destroy,
};

iter_t *memtable_iter(memtable_t *m)
{
	mem_iter_t *mi = calloc(1, sizeof(*mi));
	if (mi == NULL)
		return NULL;
	mi->base.ops = &mem_iter_ops;
	mi->mem = m;
	memtable_ref(m);
	skiplist_iter_init(&mi->it, m->list);
	return &mi->base;
}
