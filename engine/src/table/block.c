/*
 * block.c -- building and reading prefix-compressed sorted blocks (block.h;
 * the byte layout is in docs/format.md, "Blocks").
 *
 * A builder is used by one thread (a flush or a compaction). A block_t is
 * immutable once block_new() has accepted it, so any number of threads may
 * iterate it at once; only its reference count changes, atomically. Each
 * iterator belongs to one thread.
 *
 * The reader trusts nothing in the block: block_new() checks that the
 * restart array fits and is strictly increasing, and every entry header,
 * length and shared-prefix count is checked against the block bounds before
 * use, and each key against the one before it as the iterator steps (a
 * checksum cannot catch a writer's bug that left keys out of order, and
 * seeks would then miss keys). A malformed block makes the iterator
 * invalid with WB_ECORRUPT, and it
 * stays so (no later seek revives it), so a caller can never mistake the
 * rest of a damaged block for good data. Whether the bytes are the ones that
 * were written is the checksum's job, one layer up (sst.c).
 */
#include "table/block.h"
#include "util/grow.h"

#include <stdlib.h>

#include "wombat.h"

/* Blocks address their entries with u32 offsets. */
#define BLOCK_MAX_LEN ((size_t)UINT32_MAX)

/* ---- building ---- */

void block_builder_init(block_builder_t *b, int restart_interval)
{
	memset(b, 0, sizeof(*b));
	b->restart_interval = restart_interval < 1 ? 1 : restart_interval;
}

void block_builder_destroy(block_builder_t *b)
{
	free(b->buf);
	free(b->restarts);
	free(b->last_key);
	memset(b, 0, sizeof(*b));
}

void block_builder_reset(block_builder_t *b)
{
	b->len = 0;
	b->nrestarts = 0;
	b->counter = 0;
	b->last_key_len = 0;
	b->entries = 0;
}

size_t block_builder_size(const block_builder_t *b)
{
	return b->len + 4 * b->nrestarts + 4;
}

void block_builder_add(block_builder_t *b, slice_t key, slice_t value)
{
	if (b->error != WB_OK)
		return;

	bool restart = b->entries == 0 || b->counter >= b->restart_interval;
	size_t shared = 0;
	if (!restart) {
		size_t n = key.len < b->last_key_len ? key.len : b->last_key_len;
		while (shared < n && key.data[shared] == b->last_key[shared])
			shared++;
	}
	size_t unshared = key.len - shared;

	/* Offsets inside a block are u32; a block that would not fit is the
	 * caller's mistake (sst.c cuts blocks long before that), not memory. */
	uint64_t need = (uint64_t)b->len + 3 * VARINT32_MAX + unshared + value.len +
			4 * (b->nrestarts + 2);
	if (key.len > UINT32_MAX || value.len > UINT32_MAX || need > BLOCK_MAX_LEN) {
		b->error = WB_EINVAL;
		return;
	}
	if (!grow_array((void **)&b->buf, &b->cap, (size_t)need, 1) ||
	    !grow_array((void **)&b->last_key, &b->last_key_cap, key.len, 1) ||
	    (restart && !grow_array((void **)&b->restarts, &b->restarts_cap, b->nrestarts + 1,
				 sizeof(uint32_t)))) {
		b->error = WB_ENOMEM;
		return;
	}

	if (restart) {
		b->restarts[b->nrestarts++] = (uint32_t)b->len;
		b->counter = 0;
	}
	uint8_t *p = b->buf + b->len;
	p += put_varint32(p, (uint32_t)shared);
	p += put_varint32(p, (uint32_t)unshared);
	p += put_varint32(p, (uint32_t)value.len);
	if (unshared) /* memcpy's pointers must not be NULL even for 0 bytes */
		memcpy(p, key.data + shared, unshared);
	p += unshared;
	if (value.len)
		memcpy(p, value.data, value.len);
	p += value.len;
	b->len = (size_t)(p - b->buf);

	if (unshared)
		memcpy(b->last_key + shared, key.data + shared, unshared);
	b->last_key_len = key.len;
	b->counter++;
	b->entries++;
}

int block_builder_finish(block_builder_t *b, slice_t *out)
{
	if (b->error != WB_OK)
		return b->error;
	size_t total = block_builder_size(b);
	if (!grow_array((void **)&b->buf, &b->cap, total, 1)) {
		b->error = WB_ENOMEM;
		return b->error;
	}
	/* The restart array goes after the entries without moving b->len, so
	 * finishing twice gives the same bytes. */
	uint8_t *p = b->buf + b->len;
	for (size_t i = 0; i < b->nrestarts; i++, p += 4)
		put_u32(p, b->restarts[i]);
	put_u32(p, (uint32_t)b->nrestarts);
	*out = slice_make(b->buf, total);
	return WB_OK;
}

/* ---- reading ---- */

static inline uint32_t restart_point(const block_t *b, uint32_t i)
{
	return get_u32(b->data + b->restarts_off + 4 * (size_t)i);
}

int block_new(uint8_t *data, size_t len, block_t **out)
{
	*out = NULL;
	if (len < 4 || len > BLOCK_MAX_LEN)
		goto corrupt;
	uint32_t n = get_u32(data + len - 4);
	if (n > (len - 4) / 4)
		goto corrupt;
	uint32_t roff = (uint32_t)(len - 4 - 4 * (size_t)n);
	/* The first entry is always a restart; without entries there are no
	 * restarts, and entries without a restart could not be decoded. */
	if (n == 0 && roff != 0)
		goto corrupt;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t rp = get_u32(data + roff + 4 * (size_t)i);
		if (rp >= roff || (i == 0 && rp != 0) ||
		    (i > 0 && rp <= get_u32(data + roff + 4 * (size_t)(i - 1))))
			goto corrupt;
	}

	block_t *b = malloc(sizeof(*b));
	if (b == NULL) {
		free(data);
		return WB_ENOMEM;
	}
	b->data = data;
	b->len = len;
	b->restarts_off = roff;
	b->nrestarts = n;
	atomic_init(&b->refs, 1);
	*out = b;
	return WB_OK;

corrupt:
	free(data);
	return WB_ECORRUPT;
}

void block_ref(block_t *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void block_unref(block_t *b)
{
	if (b == NULL)
		return;
	/* acq_rel: the last owner must see every other owner's reads finished
	 * before it frees the bytes. */
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
		free(b->data);
		free(b);
	}
}

struct block_iter {
	iter_t base;
	block_t *b;
	key_cmp_fn cmp;
	uint32_t cur;      /* offset of the current entry; restarts_off when invalid */
	uint32_t next_off; /* offset just past the current entry */
	uint32_t restart;  /* index of the last restart point <= cur */
	uint8_t *key;      /* the current key, rebuilt from the shared prefixes */
	size_t key_len, key_cap;
	/* The next key is built here, then checked against key and swapped
	 * in: a block whose keys do not increase is corrupt, even with a good
	 * checksum (a writer's bug), and must not be handed out as sorted. */
	uint8_t *next_key;
	size_t next_cap;
	bool have_key; /* key holds the entry before next_off (not after a restart seek) */
	uint8_t *back; /* bi_prev's copy of the key it starts from */
	size_t back_cap;
	slice_t value; /* points into b->data */
	int status;    /* sticky: once not WB_OK the iterator stays invalid */
};

static void mark_end(struct block_iter *it)
{
	it->cur = it->b->restarts_off;
	it->next_off = it->b->restarts_off;
	it->key_len = 0;
	it->have_key = false;
	it->value = slice_make(NULL, 0);
}

static bool fail(struct block_iter *it, int rc)
{
	it->status = rc;
	mark_end(it);
	return false;
}

static void seek_to_restart(struct block_iter *it, uint32_t i)
{
	it->restart = i;
	it->next_off = restart_point(it->b, i);
	it->key_len = 0;
	it->have_key = false;
}

/* Decodes the entry at next_off and makes it current. false at the end of
 * the entries (status unchanged) or on a malformed entry (WB_ECORRUPT). */
static bool parse_next(struct block_iter *it)
{
	const block_t *b = it->b;
	uint32_t off = it->next_off;
	if (off >= b->restarts_off) {
		mark_end(it);
		return false;
	}
	while (it->restart + 1 < b->nrestarts) {
		uint32_t rp = restart_point(b, it->restart + 1);
		if (rp > off)
			break;
		if (rp < off) /* an entry overlaps a restart point */
			return fail(it, WB_ECORRUPT);
		it->restart++;
	}
	bool at_restart = restart_point(b, it->restart) == off;

	const uint8_t *p = b->data + off;
	const uint8_t *end = b->data + b->restarts_off;
	uint32_t shared, unshared, vlen;
	if ((p = get_varint32(p, end, &shared)) == NULL ||
	    (p = get_varint32(p, end, &unshared)) == NULL ||
	    (p = get_varint32(p, end, &vlen)) == NULL)
		return fail(it, WB_ECORRUPT);
	if (shared > it->key_len || (at_restart && shared != 0) ||
	    (uint64_t)unshared + vlen > (uint64_t)(end - p))
		return fail(it, WB_ECORRUPT);
	/* The next restart point may not lie inside this entry: a scan from
	 * there (seek_last, prev) would decode from the middle of it. */
	uint32_t entry_end = (uint32_t)(p + unshared + vlen - b->data);
	if (it->restart + 1 < b->nrestarts && restart_point(b, it->restart + 1) < entry_end)
		return fail(it, WB_ECORRUPT);

	size_t klen = (size_t)shared + unshared;
	if (!grow_array((void **)&it->next_key, &it->next_cap, klen, 1))
		return fail(it, WB_ENOMEM);
	if (shared)
		memcpy(it->next_key, it->key, shared);
	if (unshared)
		memcpy(it->next_key + shared, p, unshared);
	if (it->have_key &&
	    it->cmp(slice_make(it->key, it->key_len), slice_make(it->next_key, klen)) >= 0)
		return fail(it, WB_ECORRUPT); /* keys out of order */
	uint8_t *t = it->key;
	size_t tcap = it->key_cap;
	it->key = it->next_key;
	it->key_cap = it->next_cap;
	it->next_key = t;
	it->next_cap = tcap;
	it->key_len = klen;
	it->have_key = true;
	it->value = slice_make(p + unshared, vlen);
	it->cur = off;
	it->next_off = entry_end;
	return true;
}

/* The key stored whole at restart point i, as a view into the block (no
 * copy: the binary search touches log2(restarts) of them). */
static bool restart_key(const struct block_iter *it, uint32_t i, slice_t *key)
{
	const uint8_t *p = it->b->data + restart_point(it->b, i);
	const uint8_t *end = it->b->data + it->b->restarts_off;
	uint32_t shared, unshared, vlen;
	if ((p = get_varint32(p, end, &shared)) == NULL || shared != 0 ||
	    (p = get_varint32(p, end, &unshared)) == NULL ||
	    (p = get_varint32(p, end, &vlen)) == NULL ||
	    (uint64_t)unshared + vlen > (uint64_t)(end - p))
		return false;
	*key = slice_make(p, unshared);
	return true;
}

static bool bi_valid(const iter_t *base)
{
	const struct block_iter *it = (const struct block_iter *)base;
	return it->status == WB_OK && it->cur < it->b->restarts_off;
}

static void bi_seek_first(iter_t *base)
{
	struct block_iter *it = (struct block_iter *)base;
	if (it->status != WB_OK || it->b->nrestarts == 0) {
		mark_end(it);
		return;
	}
	seek_to_restart(it, 0);
	parse_next(it);
}

static void bi_seek_last(iter_t *base)
{
	struct block_iter *it = (struct block_iter *)base;
	if (it->status != WB_OK || it->b->nrestarts == 0) {
		mark_end(it);
		return;
	}
	seek_to_restart(it, it->b->nrestarts - 1);
	while (parse_next(it) && it->next_off < it->b->restarts_off)
		;
}

static void bi_seek(iter_t *base, slice_t target)
{
	struct block_iter *it = (struct block_iter *)base;
	if (it->status != WB_OK || it->b->nrestarts == 0) {
		mark_end(it);
		return;
	}
	/* Find the last restart whose key is < target; the answer is in its
	 * run or is the first key of the next one, which the scan reaches. */
	uint32_t lo = 0, hi = it->b->nrestarts - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo + 1) / 2;
		slice_t k;
		if (!restart_key(it, mid, &k)) {
			fail(it, WB_ECORRUPT);
			return;
		}
		if (it->cmp(k, target) < 0)
			lo = mid;
		else
			hi = mid - 1;
	}
	seek_to_restart(it, lo);
	while (parse_next(it)) {
		if (it->cmp(slice_make(it->key, it->key_len), target) >= 0)
			return;
	}
}

static void bi_next(iter_t *base)
{
	struct block_iter *it = (struct block_iter *)base;
	if (it->status != WB_OK)
		return;
	parse_next(it);
}

/* Entries can only be decoded forwards, so stepping back re-scans from the
 * nearest restart point before the current entry (at most one run). */
static void bi_prev(iter_t *base)
{
	struct block_iter *it = (struct block_iter *)base;
	if (it->status != WB_OK)
		return;
	uint32_t orig = it->cur;
	uint32_t i = it->restart;
	while (restart_point(it->b, i) >= orig) {
		if (i == 0) {
			mark_end(it); /* was on the first entry */
			return;
		}
		i--;
	}
	/* The entry found must sort before the one we were on; when it lies
	 * in the run before, no forward step compared the two. */
	if (!grow_array((void **)&it->back, &it->back_cap, it->key_len, 1)) {
		fail(it, WB_ENOMEM);
		return;
	}
	size_t back_len = it->key_len;
	if (back_len)
		memcpy(it->back, it->key, back_len);
	seek_to_restart(it, i);
	do {
		if (!parse_next(it)) {
			if (it->status == WB_OK)
				fail(it, WB_ECORRUPT);
			return;
		}
	} while (it->next_off < orig);
	if (it->next_off != orig || /* the scan stepped over where we were */
	    it->cmp(slice_make(it->key, it->key_len), slice_make(it->back, back_len)) >= 0)
		fail(it, WB_ECORRUPT);
}

static void bi_seek_for_prev(iter_t *base, slice_t target)
{
	struct block_iter *it = (struct block_iter *)base;
	bi_seek(base, target);
	if (it->status != WB_OK)
		return;
	if (!bi_valid(base))
		bi_seek_last(base);
	else if (it->cmp(slice_make(it->key, it->key_len), target) > 0)
		bi_prev(base);
}

static slice_t bi_key(const iter_t *base)
{
	const struct block_iter *it = (const struct block_iter *)base;
	return slice_make(it->key, it->key_len);
}

static slice_t bi_value(const iter_t *base)
{
	return ((const struct block_iter *)base)->value;
}

static int bi_status(const iter_t *base)
{
	return ((const struct block_iter *)base)->status;
}

static void bi_destroy(iter_t *base)
{
	struct block_iter *it = (struct block_iter *)base;
	block_unref(it->b);
	free(it->key);
	free(it->next_key);
	free(it->back);
	free(it);
}

static const struct iter_ops block_iter_ops = {
	.valid = bi_valid,
	.seek_first = bi_seek_first,
	.seek_last = bi_seek_last,
	.seek = bi_seek,
	.seek_for_prev = bi_seek_for_prev,
	.next = bi_next,
	.prev = bi_prev,
	.key = bi_key,
	.value = bi_value,
	.status = bi_status,
	.destroy = bi_destroy,
};

iter_t *block_iter_new(block_t *b, key_cmp_fn cmp)
{
	struct block_iter *it = calloc(1, sizeof(*it));
	if (it == NULL)
		return NULL;
	it->base.ops = &block_iter_ops;
	block_ref(b);
	it->b = b;
	it->cmp = cmp;
	it->status = WB_OK;
	mark_end(it);
	return &it->base;
}
