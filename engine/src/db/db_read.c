/*
 * db_read.c -- point reads: wb_get, wb_get_range, wb_stat_key.
 *
 * A read pins a snapshot (db_snapshot_take), then asks the sources newest
 * first: active memtable, frozen memtables newest first, then the tables
 * (version_get: L0 newest first, one table per deeper level). The first
 * version at or below the read timestamp decides; a tombstone means "not
 * found" without looking further. Any thread; no lock held during the
 * search.
 *
 * A version holding a value-log pointer is resolved while the snapshot is
 * still held (so its segment cannot be reclaimed meanwhile): wb_get reads
 * and checks the whole entry, wb_get_range reads only the bytes asked for,
 * wb_stat_key reads nothing (the pointer carries the length). A version
 * holding an object reference is resolved the same way, through the
 * object's header and chunks in the same snapshot (obj/object.h).
 *
 * Every read goes through a view (db_view_t): the snapshot, and for a
 * transaction its own writes over it, so the transaction's reads
 * (txn.c) and the object layer's use this one resolver.
 */
#include <stdlib.h>

#include "db/db_impl.h"
#include "util/error.h"
#include "db/batch.h"
#include "table/ikey.h"
#include "table/vptr.h"
#include "obj/object.h"

enum read_mode { READ_ALL, READ_RANGE, READ_INFO, READ_RAW };

typedef struct read_ctx {
	enum read_mode mode;
	bool deleted;
	/* READ_ALL */
	void **val;
	size_t *vlen;
	/* READ_RANGE */
	uint64_t offset;
	void *buf;
	size_t len;
	size_t *nread;
	/* READ_INFO */
	wb_key_info *info;
	/* READ_RAW: the stored meta byte and payload, copied */
	const db_view_t *view;
	uint8_t meta;
	uint8_t *raw;
	size_t raw_len;
} read_ctx_t;

int db_value_copy(slice_t value, void **val, size_t *vlen)
{
	uint8_t *p = malloc(value.len + 1);
	if (p == NULL)
		return WB_ENOMEM;
	if (value.len)
		memcpy(p, value.data, value.len);
	p[value.len] = '\0';
	*val = p;
	*vlen = value.len;
	return WB_OK;
}

int db_value_read(wb_db *db, const vptr_t *p, void **val)
{
	int rc = vlog_read_value(&db->vlog, p, val, NULL, NULL, NULL);
	/* vlog_read_value's buffer holds the whole entry (header, value, key,
	 * trailer) with the value moved to its front, so byte value_len is
	 * inside it. This goes once vlog_read_value terminates the value itself
	 * (issue 13, with the value log's new entry format). */
	if (rc == WB_OK)
		((uint8_t *)*val)[p->value_len] = '\0';
	return rc;
}

/* The timestamp a read reports for a version: 0 for a transaction's own. */
static uint64_t shown_ts(slice_t ikey)
{
	uint64_t ts = ikey_ts(ikey);
	return ts >= TXN_TS_BASE ? 0 : ts;
}

/* A reference resolves through the object's header, in the same view. */
static int on_object(read_ctx_t *c, slice_t ikey, slice_t payload)
{
	uint64_t id, hts;
	obj_header_t h;
	if (ikey.data[0] != KS_USER || !obj_ref_decode(payload, &id))
		return err_set(WB_ECORRUPT, "malformed object reference");
	int rc = obj_header_read(c->view, id, &h, &hts);
	if (rc != WB_OK)
		return rc;
	switch (c->mode) {
	case READ_ALL:
		return obj_read_all(c->view, id, &h, c->val, c->vlen);
	case READ_RANGE:
		return obj_read_range(c->view, id, &h, c->offset, c->buf, c->len, c->nread);
	case READ_INFO: {
		/* The header changes with every write: the newer of the two is
		 * the version of the contents. */
		uint64_t ts = shown_ts(ikey);
		c->info->value_len = h.size;
		c->info->ts = ts == 0 || hts == 0 ? 0 : ts > hts ? ts : hts;
		c->info->links = h.links > UINT32_MAX ? UINT32_MAX : (uint32_t)h.links;
		return WB_OK;
	}
	case READ_RAW:
		break;
	}
	return WB_OK;
}

static int on_pointer(read_ctx_t *c, slice_t ikey, slice_t payload)
{
	vptr_t p;
	if (!vptr_decode(payload, &p))
		return err_set(WB_ECORRUPT, "malformed value pointer");
	switch (c->mode) {
	case READ_ALL: {
		if (p.value_len > SIZE_MAX)
			return WB_ENOMEM;
		int rc = db_value_read(c->view->snap->db, &p, c->val);
		if (rc == WB_OK)
			*c->vlen = (size_t)p.value_len;
		return rc;
	}
	case READ_RANGE:
		return vlog_read_range(&c->view->snap->db->vlog, &p, c->offset, c->buf, c->len,
				       c->nread);
	case READ_INFO:
		c->info->value_len = p.value_len;
		c->info->ts = shown_ts(ikey);
		c->info->links = 1;
		return WB_OK;
	case READ_RAW:
		break;
	}
	return WB_OK;
}

static int on_found(void *arg, slice_t ikey, slice_t value)
{
	read_ctx_t *c = arg;
	if (value.len < 1)
		return err_set(WB_ECORRUPT, "entry without a meta byte");
	uint8_t meta = value.data[0];
	slice_t payload = slice_make(value.data + 1, value.len - 1);
	if (meta & META_TOMBSTONE) {
		c->deleted = true;
		return WB_OK;
	}
	if (c->mode == READ_RAW) {
		c->meta = meta;
		c->raw = malloc(payload.len ? payload.len : 1);
		if (c->raw == NULL)
			return WB_ENOMEM;
		memcpy(c->raw, payload.data, payload.len);
		c->raw_len = payload.len;
		return WB_OK;
	}
	if (meta & META_VALUE_PTR)
		return on_pointer(c, ikey, payload);
	if (meta & META_OBJECT)
		return on_object(c, ikey, payload);
	switch (c->mode) {
	case READ_RAW:
		break;
	case READ_ALL:
		return db_value_copy(payload, c->val, c->vlen);
	case READ_RANGE: {
		size_t n = 0;
		if (c->offset < payload.len) {
			n = payload.len - (size_t)c->offset;
			if (n > c->len)
				n = c->len;
			memcpy(c->buf, payload.data + c->offset, n);
		}
		*c->nread = n;
		break;
	}
	case READ_INFO:
		c->info->value_len = payload.len;
		c->info->ts = shown_ts(ikey);
		c->info->links = 1;
		break;
	}
	return WB_OK;
}

int db_snapshot_get(db_snapshot_t *s, slice_t tree_key, uint64_t read_ts, found_fn found, void *arg)
{
	int rc = s->mem ? memtable_get(s->mem, tree_key, read_ts, found, arg) : WB_ENOTFOUND;
	for (int i = s->nimm - 1; rc == WB_ENOTFOUND && i >= 0; i--)
		rc = memtable_get(s->imm[i], tree_key, read_ts, found, arg);
	if (rc == WB_ENOTFOUND)
		rc = version_get(s->version, tree_key, read_ts, found, arg);
	return rc;
}

int db_view_get(const db_view_t *v, slice_t tree_key, found_fn found, void *arg)
{
	int rc = WB_ENOTFOUND;
	if (v->own != NULL)
		rc = memtable_get(v->own, tree_key, TS_MAX, found, arg);
	if (rc == WB_ENOTFOUND)
		rc = db_snapshot_get(v->snap, tree_key, v->snap->read_ts, found, arg);
	return rc;
}

static int view_read(const db_view_t *v, slice_t tree_key, read_ctx_t *c)
{
	c->view = v;
	int rc = db_view_get(v, tree_key, on_found, c);
	if (rc == WB_OK && c->deleted)
		rc = WB_ENOTFOUND;
	return rc;
}

int db_view_read_all(const db_view_t *v, slice_t tree_key, void **val, size_t *vlen)
{
	read_ctx_t c = { .mode = READ_ALL, .val = val, .vlen = vlen };
	*val = NULL;
	*vlen = 0;
	return view_read(v, tree_key, &c);
}

int db_view_read_range(const db_view_t *v, slice_t tree_key, uint64_t off, void *buf, size_t len,
		       size_t *nread)
{
	read_ctx_t c = { .mode = READ_RANGE, .offset = off, .buf = buf, .len = len, .nread = nread };
	*nread = 0;
	return view_read(v, tree_key, &c);
}

int db_view_stat(const db_view_t *v, slice_t tree_key, wb_key_info *info)
{
	read_ctx_t c = { .mode = READ_INFO, .info = info };
	return view_read(v, tree_key, &c);
}

int db_view_read_raw(const db_view_t *v, slice_t tree_key, uint8_t *meta, uint8_t **raw,
		     size_t *raw_len)
{
	read_ctx_t c = { .mode = READ_RAW };
	*raw = NULL;
	*raw_len = 0;
	int rc = view_read(v, tree_key, &c);
	if (rc == WB_OK) {
		*meta = c.meta;
		*raw = c.raw;
		*raw_len = c.raw_len;
	} else {
		free(c.raw);
	}
	return rc;
}

/* Reads at read_ts (0: the visible timestamp now). */
static int lookup(wb_db *db, uint8_t ks, const void *key, size_t klen, uint64_t read_ts,
		  read_ctx_t *c)
{
	if (klen == 0 || klen > WB_MAX_KEY_LEN)
		return err_set(WB_EINVAL, "key length %zu is outside 1..%u", klen, WB_MAX_KEY_LEN);
	uint8_t stack[256], *tk = stack;
	if (klen + 1 > sizeof(stack) && (tk = malloc(klen + 1)) == NULL)
		return WB_ENOMEM;
	tk[0] = ks;
	memcpy(tk + 1, key, klen);
	slice_t tree_key = slice_make(tk, klen + 1);

	db_snapshot_t s;
	db_snapshot_take_at(db, &s, read_ts, NULL);
	db_view_t v = { .snap = &s };
	int rc = view_read(&v, tree_key, c);
	db_snapshot_release(&s);
	/* This read may have held the last reference to tables a compaction
	 * replaced; one atomic load when there are none. */
	if (atomic_load_explicit(&db->obsolete_pending, memory_order_relaxed) > 0)
		db_delete_obsolete_tables(db);
	if (tk != stack)
		free(tk);
	return rc;
}

int wb_get(wb_db *db, const void *key, size_t klen, void **val, size_t *vlen)
{
	return wb_get_ks(db, WB_KS_USER, key, klen, val, vlen);
}

int wb_get_ks(wb_db *db, unsigned ks, const void *key, size_t klen, void **val, size_t *vlen)
{
	err_clear();
	if (ks > KS_PUBLIC_LAST)
		return err_set(WB_EINVAL, "unknown keyspace %u", ks);
	return db_get_at(db, (uint8_t)ks, key, klen, 0, val, vlen);
}

int db_get_at(wb_db *db, uint8_t ks, const void *key, size_t klen, uint64_t read_ts, void **val,
	      size_t *vlen)
{
	read_ctx_t c = { .mode = READ_ALL, .val = val, .vlen = vlen };
	*val = NULL;
	*vlen = 0;
	int rc = lookup(db, ks, key, klen, read_ts, &c);
	STAT_ADD(db, gets, 1);
	if (rc == WB_OK) {
		STAT_ADD(db, get_hits, 1);
		STAT_ADD(db, bytes_read, *vlen);
	}
	return rc;
}

int wb_get_range(wb_db *db, const void *key, size_t klen, uint64_t offset, void *buf, size_t len,
		 size_t *nread)
{
	err_clear();
	read_ctx_t c = { .mode = READ_RANGE, .offset = offset, .buf = buf, .len = len, .nread = nread };
	*nread = 0;
	int rc = lookup(db, KS_USER, key, klen, 0, &c);
	STAT_ADD(db, range_reads, 1);
	if (rc == WB_OK)
		STAT_ADD(db, bytes_read, *nread);
	return rc;
}

int wb_stat_key(wb_db *db, const void *key, size_t klen, wb_key_info *info)
{
	return wb_stat_key_ks(db, WB_KS_USER, key, klen, info);
}

int wb_stat_key_ks(wb_db *db, unsigned ks, const void *key, size_t klen, wb_key_info *info)
{
	err_clear();
	if (ks > KS_PUBLIC_LAST)
		return err_set(WB_EINVAL, "unknown keyspace %u", ks);
	read_ctx_t c = { .mode = READ_INFO, .info = info };
	STAT_ADD(db, stat_keys, 1);
	return lookup(db, (uint8_t)ks, key, klen, 0, &c);
}

int wb_batch_move(wb_db *db, wb_batch *b, const void *from, size_t flen, const void *to, size_t tlen)
{
	return wb_batch_move_ks(db, b, WB_KS_USER, from, flen, to, tlen);
}

int wb_batch_move_ks(wb_db *db, wb_batch *b, unsigned ks, const void *from, size_t flen,
		     const void *to, size_t tlen)
{
	err_clear();
	if (ks > KS_PUBLIC_LAST)
		return err_set(WB_EINVAL, "unknown keyspace %u", ks);
	if (batch_check_key(tlen) != WB_OK)
		return err_set(WB_EINVAL, "key length %zu is outside 1..%u", tlen, WB_MAX_KEY_LEN);
	read_ctx_t c = { .mode = READ_RAW };
	int rc = lookup(db, (uint8_t)ks, from, flen, 0, &c);
	bool same = flen == tlen && memcmp(from, to, flen) == 0;
	if (rc == WB_OK && same) { /* a move onto itself changes nothing */
		free(c.raw);
		return WB_OK;
	}
	if (rc == WB_OK)
		rc = batch_add(b, c.meta & (META_VALUE_PTR | META_OBJECT), (uint8_t)ks, slice_make(to, tlen),
			       slice_make(c.raw, c.raw_len));
	if (rc == WB_OK)
		rc = batch_add(b, META_TOMBSTONE, (uint8_t)ks, slice_make(from, flen), slice_make(NULL, 0));
	free(c.raw);
	return rc;
}

/* The sink of wb_batch_unlink: entries go into the batch. */
static int batch_sink_put(void *arg, slice_t tk, uint8_t meta, slice_t value)
{
	return batch_add(arg, meta, tk.data[0], slice_make(tk.data + 1, tk.len - 1), value);
}

/* A user key as a tree key (KS_USER ‖ key) in stack, or malloc'ed when
 * it does not fit; NULL when out of memory. */
static uint8_t *user_tree_key(const void *key, size_t klen, uint8_t *stack, size_t cap)
{
	uint8_t *tk = klen + 1 > cap ? malloc(klen + 1) : stack;
	if (tk != NULL) {
		tk[0] = KS_USER;
		memcpy(tk + 1, key, klen);
	}
	return tk;
}

/* wb_batch_unlink (to NULL) or wb_batch_link: the object layer's entries
 * for the store as it is now go into b. */
static int batch_object_op(wb_db *db, wb_batch *b, const void *key, size_t klen, const void *to,
			   size_t tlen)
{
	err_clear();
	if (batch_check_key(klen) != WB_OK || (to && batch_check_key(tlen) != WB_OK))
		return err_set(WB_EINVAL, "key length %zu is outside 1..%u", to ? tlen : klen,
			       WB_MAX_KEY_LEN);
	uint8_t stack[256], tstack[256];
	uint8_t *tk = user_tree_key(key, klen, stack, sizeof(stack));
	uint8_t *tt = to ? user_tree_key(to, tlen, tstack, sizeof(tstack)) : NULL;
	int rc = WB_ENOMEM;
	if (tk != NULL && (to == NULL || tt != NULL)) {
		db_snapshot_t s;
		db_snapshot_take(db, &s);
		db_view_t v = { .snap = &s };
		obj_sink_t sink = { .put = batch_sink_put, .arg = b, .view = &v, .db = db };
		rc = to ? obj_link(&sink, slice_make(tk, klen + 1), slice_make(tt, tlen + 1))
			: obj_unlink(&sink, slice_make(tk, klen + 1));
		db_snapshot_release(&s);
	}
	if (tk != stack)
		free(tk);
	if (tt != tstack)
		free(tt);
	return rc;
}

int wb_batch_unlink(wb_db *db, wb_batch *b, const void *key, size_t klen)
{
	return batch_object_op(db, b, key, klen, NULL, 0);
}

int wb_batch_link(wb_db *db, wb_batch *b, const void *from, size_t flen, const void *to,
		  size_t tlen)
{
	return batch_object_op(db, b, from, flen, to, tlen);
}

void wb_free(void *p)
{
	free(p);
}
