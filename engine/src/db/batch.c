/*
 * batch.c -- building and decoding write batches (batch.h), and the public
 * wb_batch_* calls.
 */
#include "db/batch.h"

#include <stdlib.h>

#include "util/error.h"
#include "util/grow.h"
#include "table/ikey.h"

static int reserve(wb_batch *b, size_t more)
{
	if (b->error)
		return b->error;
	if (!grow_array((void **)&b->rep, &b->cap, b->len + more, 1))
		return b->error = WB_ENOMEM;
	return WB_OK;
}

/* An entry whose tree key is *ks (when not NULL) followed by key. */
static uint8_t *encode(uint8_t *p, uint8_t meta, const uint8_t *ks, slice_t key, slice_t value)
{
	*p++ = meta;
	p += put_varint64(p, key.len + (ks != NULL));
	if (ks != NULL)
		*p++ = *ks;
	if (key.len)
		memcpy(p, key.data, key.len);
	p += key.len;
	p += put_varint64(p, value.len);
	if (value.len)
		memcpy(p, value.data, value.len);
	return p + value.len;
}

uint8_t *batch_encode_entry(uint8_t *p, uint8_t meta, slice_t tree_key, slice_t value)
{
	return encode(p, meta, NULL, tree_key, value);
}

int batch_check_key(size_t klen)
{
	return klen == 0 || klen > WB_MAX_KEY_LEN ? WB_EINVAL : WB_OK;
}

int batch_add(wb_batch *b, uint8_t meta, uint8_t ks, slice_t key, slice_t value)
{
	if (batch_check_key(key.len) != WB_OK)
		return WB_EINVAL;
	if (meta & META_TOMBSTONE)
		value = slice_make(NULL, 0);
	if ((uint64_t)value.len > WB_MAX_VALUE_LEN)
		return WB_EINVAL;
	int rc = reserve(b, BATCH_ENTRY_MAX(1 + key.len, value.len));
	if (rc != WB_OK)
		return rc;
	b->len = (size_t)(encode(b->rep + b->len, meta, &ks, key, value) - b->rep);
	put_u32(b->rep + 8, get_u32(b->rep + 8) + 1);
	if (meta & META_VALUE_PTR)
		b->has_ptr = true;
	return WB_OK;
}

uint64_t batch_ts(slice_t rep)
{
	return get_u64(rep.data);
}

void batch_set_ts(wb_batch *b, uint64_t ts)
{
	put_u64(b->rep, ts);
}

uint32_t batch_count_rep(slice_t rep)
{
	return get_u32(rep.data + 8);
}

/* Whether batch_add could have written this entry: a known meta byte
 * (a tombstone carries no value), a known keyspace, a key and a value
 * within the limits. Replay applies exactly what was written, so anything
 * else is damage, never something to store under a keyspace no reader
 * looks at or with a value no reader expects. */
static bool entry_ok(uint8_t meta, slice_t tree_key, slice_t value)
{
	if (meta != 0 && meta != META_TOMBSTONE && meta != META_VALUE_PTR && meta != META_OBJECT)
		return false;
	if (meta == META_OBJECT && tree_key.len > 0 && tree_key.data[0] != KS_USER)
		return false; /* only a user key refers to an object */
	if (tree_key.len < 2 || tree_key.data[0] > KS_LAST ||
	    batch_check_key(tree_key.len - 1) != WB_OK)
		return false;
	if ((meta & META_TOMBSTONE) && value.len != 0)
		return false;
	return (uint64_t)value.len <= WB_MAX_VALUE_LEN;
}

/* Walks the entries; with fn == NULL only checks the structure. With end
 * != NULL, bytes after the last entry are allowed and *end points at them. */
static int walk_to(slice_t rep, batch_entry_fn fn, void *arg, const uint8_t **end_out)
{
	if (rep.len < BATCH_HEADER_SIZE)
		return WB_ECORRUPT;
	uint64_t ts = batch_ts(rep);
	uint32_t count = batch_count_rep(rep);
	const uint8_t *p = rep.data + BATCH_HEADER_SIZE, *end = rep.data + rep.len;
	for (uint32_t i = 0; i < count; i++) {
		if (p >= end)
			return WB_ECORRUPT;
		uint8_t meta = *p++;
		slice_t key, value;
		p = get_length_prefixed(p, end, &key);
		if (p == NULL)
			return WB_ECORRUPT;
		p = get_length_prefixed(p, end, &value);
		if (p == NULL || !entry_ok(meta, key, value))
			return WB_ECORRUPT;
		if (fn != NULL) {
			int rc = fn(arg, meta, key, value, ts);
			if (rc != WB_OK)
				return rc;
		}
	}
	if (end_out != NULL) {
		*end_out = p;
		return WB_OK;
	}
	return p == end ? WB_OK : WB_ECORRUPT;
}

static int walk(slice_t rep, batch_entry_fn fn, void *arg)
{
	return walk_to(rep, fn, arg, NULL);
}

int batch_split(slice_t *rest, slice_t *first)
{
	const uint8_t *end;
	int rc = walk_to(*rest, NULL, NULL, &end);
	if (rc != WB_OK)
		return rc;
	*first = slice_make(rest->data, (size_t)(end - rest->data));
	*rest = slice_make(end, rest->len - first->len);
	return WB_OK;
}

int batch_iterate(slice_t rep, batch_entry_fn fn, void *arg)
{
	int rc = walk(rep, NULL, NULL);
	return rc != WB_OK ? rc : walk(rep, fn, arg);
}

/* For batch_is_removal: stops (WB_EINVAL) at a value for the user
 * keyspace, counts the tombstones. */
static int removal_entry(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	if (meta & META_TOMBSTONE) {
		++*(uint32_t *)arg;
		return WB_OK;
	}
	return tree_key.data[0] == KS_USER ? WB_EINVAL : WB_OK;
}

bool batch_is_removal(slice_t rep)
{
	uint32_t deletes = 0;
	return batch_iterate(rep, removal_entry, &deletes) == WB_OK && deletes > 0;
}

/* ---- public API ---- */

int wb_batch_new(wb_batch **out)
{
	wb_batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return WB_ENOMEM;
	if (reserve(b, BATCH_HEADER_SIZE) != WB_OK) {
		free(b);
		return WB_ENOMEM;
	}
	wb_batch_clear(b);
	*out = b;
	return WB_OK;
}

void wb_batch_free(wb_batch *b)
{
	if (b == NULL)
		return;
	free(b->rep);
	free(b);
}

void wb_batch_clear(wb_batch *b)
{
	memset(b->rep, 0, BATCH_HEADER_SIZE);
	b->len = BATCH_HEADER_SIZE;
	b->error = WB_OK;
	b->has_ptr = false;
}

int wb_batch_put(wb_batch *b, const void *key, size_t klen, const void *val, size_t vlen)
{
	return batch_add(b, 0, KS_USER, slice_make(key, klen), slice_make(val, vlen));
}

int wb_batch_delete(wb_batch *b, const void *key, size_t klen)
{
	return batch_add(b, META_TOMBSTONE, KS_USER, slice_make(key, klen), slice_make(NULL, 0));
}

int wb_batch_put_ks(wb_batch *b, unsigned ks, const void *key, size_t klen, const void *val,
		    size_t vlen)
{
	if (ks > KS_PUBLIC_LAST)
		return err_set(WB_EINVAL, "unknown keyspace %u", ks);
	return batch_add(b, 0, (uint8_t)ks, slice_make(key, klen), slice_make(val, vlen));
}

int wb_batch_delete_ks(wb_batch *b, unsigned ks, const void *key, size_t klen)
{
	if (ks > KS_PUBLIC_LAST)
		return err_set(WB_EINVAL, "unknown keyspace %u", ks);
	return batch_add(b, META_TOMBSTONE, (uint8_t)ks, slice_make(key, klen), slice_make(NULL, 0));
}

uint32_t wb_batch_count(const wb_batch *b)
{
	return get_u32(b->rep + 8);
}
