/*
 * db_iter.c -- the public iterator (wb_iter_*).
 *
 * Wraps a merge of every source (memtables and tables, pinned when the
 * iterator is made) and turns internal entries into user entries: for each
 * key, the newest version at or below the snapshot's read timestamp, unless
 * that version is a tombstone. Bounds are applied as tree keys in the user
 * keyspace, so the filesystem's metadata never shows.
 *
 * Moving forward, the merge sits on the entry being shown. Moving backward,
 * it sits just before the shown key's versions (it had to read all of them
 * to find the visible one). Changing direction re-seeks. The shown key and
 * value are copied, so they stay valid while the merge moves on.
 *
 * Errors are sticky: once a source fails (a damaged block), the iterator
 * stops and stays invalid with that status, also after a new seek, since
 * the merge of the remaining sources could show keys the failed one hides.
 */
#include <stdlib.h>

#include "db/db_impl.h"
#include "util/error.h"
#include "util/grow.h"
#include "table/ikey.h"
#include "table/merge_iter.h"
#include "obj/object.h"

enum { DIR_FORWARD, DIR_REVERSE };

/* Bytes with a NUL after them (not counted in len), so the key and value
 * wb_iter_key and wb_iter_value show are terminated as wombat.h promises. */
typedef struct buf {
	uint8_t *p;
	size_t len, cap;
} buf_t;

static int buf_set(buf_t *b, const void *a, size_t alen, const void *c, size_t clen)
{
	if (!grow_array((void **)&b->p, &b->cap, alen + clen + 1, 1))
		return WB_ENOMEM;
	if (alen)
		memcpy(b->p, a, alen);
	if (clen && c != NULL) /* c == NULL only reserves room */
		memcpy(b->p + alen, c, clen);
	b->len = alen + clen;
	b->p[b->len] = '\0';
	return WB_OK;
}

struct wb_iter {
	wb_db *db;
	iter_t *merge;
	db_snapshot_t snap;
	oracle_reader_t reader; /* registered while it lives (own == false) */
	bool registered;
	bool own; /* the merge includes a transaction's write buffer */
	buf_t lower, upper; /* tree keys; lower inclusive, upper exclusive */
	buf_t key;          /* tree key of the current entry */
	buf_t value;        /* payload of the current entry */
	bool is_ptr;        /* value is a value-log pointer, not yet read */
	bool is_obj;        /* value is an object reference, not yet read */
	memtable_t *own_mem; /* the transaction's writes it merges (own) */
	void *loaded;       /* the value it points at, once read (malloc'ed) */
	size_t loaded_len;
	buf_t target;       /* scratch internal key for seeks */
	uint64_t ts;
	uint8_t ks; /* keyspace of every key this iterator shows */
	bool valid;
	int dir;
	int status;
};

static slice_t bslice(const buf_t *b)
{
	return slice_make(b->p, b->len);
}

static bool set_target(wb_iter *it, slice_t tree_key, uint64_t ts)
{
	if (buf_set(&it->target, tree_key.data, tree_key.len, NULL, IKEY_SUFFIX) != WB_OK) {
		it->status = WB_ENOMEM;
		return false;
	}
	ikey_encode(it->target.p, tree_key, ts);
	return true;
}

/* Whether a version at ts shows in this iterator: committed at or before
 * its read timestamp, or a write of its own transaction. */
static bool visible(const wb_iter *it, uint64_t ts)
{
	return ts <= it->snap.read_ts || (it->own && ts >= TXN_TS_BASE);
}

static void stop(wb_iter *it)
{
	free(it->loaded);
	it->loaded = NULL;
	it->valid = false;
	if (it->status == WB_OK)
		it->status = iter_status(it->merge);
}

/* From the merge's position, moving forward, finds the first visible key;
 * versions of `skip` (a tree key; NULL for none) are passed over. */
static void find_next(wb_iter *it, bool skipping)
{
	iter_t *m = it->merge;
	for (; iter_valid(m); iter_next(m)) {
		/* A source that failed drops out of the merge, which would then
		 * show the others without it (even keys it deleted): stop. */
		if (iter_status(m) != WB_OK)
			break;
		slice_t k = iter_key(m);
		slice_t tk = ikey_tree_key(k);
		if (slice_compare(tk, bslice(&it->upper)) >= 0)
			break;
		if (skipping && slice_compare(tk, bslice(&it->key)) == 0)
			continue;
		skipping = false;
		if (!visible(it, ikey_ts(k)))
			continue;
		slice_t v = iter_value(m);
		if (v.len < 1) {
			it->status = err_set(WB_ECORRUPT, "entry without a meta byte");
			break;
		}
		/* The newest visible version decides; older ones are skipped. */
		if (buf_set(&it->key, tk.data, tk.len, NULL, 0) != WB_OK) {
			it->status = WB_ENOMEM;
			break;
		}
		if (v.data[0] & META_TOMBSTONE) {
			skipping = true;
			continue;
		}
		if (buf_set(&it->value, v.data + 1, v.len - 1, NULL, 0) != WB_OK) {
			it->status = WB_ENOMEM;
			break;
		}
		it->ts = ikey_ts(k);
		it->is_ptr = v.data[0] & META_VALUE_PTR;
		it->is_obj = v.data[0] & META_OBJECT;
		free(it->loaded);
		it->loaded = NULL;
		it->valid = true;
		it->dir = DIR_FORWARD;
		return;
	}
	stop(it);
}

/* From the merge's position, moving backward, finds the previous visible key. */
static void find_prev(wb_iter *it)
{
	iter_t *m = it->merge;
	while (iter_valid(m) && iter_status(m) == WB_OK) { /* see find_next */
		slice_t tk = ikey_tree_key(iter_key(m));
		if (slice_compare(tk, bslice(&it->lower)) < 0)
			break;
		if (buf_set(&it->key, tk.data, tk.len, NULL, 0) != WB_OK) {
			it->status = WB_ENOMEM;
			break;
		}
		bool found = false, deleted = false;
		/* Walking back through this key's versions, oldest first: the last
		 * one at or below read_ts is the visible one. */
		for (; iter_valid(m) && iter_status(m) == WB_OK; iter_prev(m)) {
			slice_t k = iter_key(m);
			if (slice_compare(ikey_tree_key(k), bslice(&it->key)) != 0)
				break;
			if (!visible(it, ikey_ts(k)))
				continue;
			slice_t v = iter_value(m);
			if (v.len < 1) {
				it->status = err_set(WB_ECORRUPT, "entry without a meta byte");
				stop(it);
				return;
			}
			found = true;
			deleted = v.data[0] & META_TOMBSTONE;
			it->ts = ikey_ts(k);
			it->is_ptr = v.data[0] & META_VALUE_PTR;
			it->is_obj = v.data[0] & META_OBJECT;
			free(it->loaded);
			it->loaded = NULL;
			if (!deleted && buf_set(&it->value, v.data + 1, v.len - 1, NULL, 0) != WB_OK) {
				it->status = WB_ENOMEM;
				stop(it);
				return;
			}
		}
		if (iter_status(m) != WB_OK)
			break; /* the versions seen may not include the newest */
		if (found && !deleted) {
			it->valid = true;
			it->dir = DIR_REVERSE;
			return;
		}
	}
	stop(it);
}

/* Seeks forward to the first key >= tree key tk (clamped to the bounds). */
static void seek_tree_key(wb_iter *it, slice_t tk)
{
	if (slice_compare(tk, bslice(&it->lower)) < 0)
		tk = bslice(&it->lower);
	if (!set_target(it, tk, TS_MAX)) {
		stop(it);
		return;
	}
	iter_seek(it->merge, bslice(&it->target));
	find_next(it, false);
}

/* Seeks backward to the last key <= tree key tk; inclusive selects <=
 * rather than <. */
static void seek_prev_tree_key(wb_iter *it, slice_t tk, bool inclusive)
{
	if (slice_compare(tk, bslice(&it->upper)) >= 0) {
		tk = bslice(&it->upper);
		inclusive = false;
	}
	/* (tk, ts 0) sorts after every version of tk; (tk, TS_MAX) before all. */
	if (!set_target(it, tk, inclusive ? 0 : TS_MAX)) {
		stop(it);
		return;
	}
	iter_seek_for_prev(it->merge, bslice(&it->target));
	if (!inclusive && iter_valid(it->merge) &&
	    slice_compare(ikey_tree_key(iter_key(it->merge)), tk) == 0)
		iter_prev(it->merge); /* only a version with ts == TS_MAX; never written */
	find_prev(it);
}

void wb_iter_seek_first(wb_iter *it)
{
	it->status = WB_OK;
	seek_tree_key(it, bslice(&it->lower));
}

void wb_iter_seek_last(wb_iter *it)
{
	it->status = WB_OK;
	seek_prev_tree_key(it, bslice(&it->upper), false);
}

/* key as a tree key in the iterator's keyspace. */
static bool user_tree_key(wb_iter *it, const void *key, size_t klen, buf_t *out)
{
	if (buf_set(out, &it->ks, 1, key, klen) != WB_OK) {
		it->status = WB_ENOMEM;
		stop(it);
		return false;
	}
	return true;
}

void wb_iter_seek(wb_iter *it, const void *key, size_t klen)
{
	it->status = WB_OK;
	buf_t tk = { 0 };
	if (user_tree_key(it, key, klen, &tk))
		seek_tree_key(it, bslice(&tk));
	free(tk.p);
}

void wb_iter_seek_for_prev(wb_iter *it, const void *key, size_t klen)
{
	it->status = WB_OK;
	buf_t tk = { 0 };
	if (user_tree_key(it, key, klen, &tk))
		seek_prev_tree_key(it, bslice(&tk), true);
	free(tk.p);
}

void wb_iter_next(wb_iter *it)
{
	if (!it->valid)
		return;
	if (it->dir == DIR_REVERSE) {
		if (!set_target(it, bslice(&it->key), TS_MAX)) {
			stop(it);
			return;
		}
		iter_seek(it->merge, bslice(&it->target));
	}
	find_next(it, true);
}

void wb_iter_prev(wb_iter *it)
{
	if (!it->valid)
		return;
	if (it->dir == DIR_FORWARD) {
		if (!set_target(it, bslice(&it->key), TS_MAX)) {
			stop(it);
			return;
		}
		iter_seek_for_prev(it->merge, bslice(&it->target));
	}
	find_prev(it);
}

int wb_iter_valid(const wb_iter *it)
{
	return it->valid;
}

const void *wb_iter_key(const wb_iter *it, size_t *klen)
{
	*klen = it->key.len - 1;
	return it->key.p + 1;
}

/* The object the current entry refers to, read in the iterator's view. */
static int read_object(const wb_iter *it, bool whole, obj_header_t *h, void **val, size_t *vlen)
{
	db_view_t v = { .snap = (db_snapshot_t *)&it->snap, .own = it->own_mem };
	uint64_t id, ts;
	if (!obj_ref_decode(bslice(&it->value), &id))
		return err_set(WB_ECORRUPT, "malformed object reference");
	int rc = obj_header_read(&v, id, h, &ts);
	if (rc == WB_OK && whole)
		rc = obj_read_all(&v, id, h, val, vlen);
	return rc;
}

const void *wb_iter_value(const wb_iter *cit, size_t *vlen)
{
	wb_iter *it = (wb_iter *)cit; /* reading a pointed-at value is a cache fill */
	if (it->is_ptr || it->is_obj) {
		*vlen = 0;
		if (it->loaded == NULL) {
			vptr_t p;
			obj_header_t h;
			int rc;
			if (it->is_obj)
				rc = read_object(it, true, &h, &it->loaded, &it->loaded_len);
			else if (!vptr_decode(bslice(&it->value), &p))
				rc = err_set(WB_ECORRUPT, "malformed value pointer");
			else if ((rc = db_value_read(it->db, &p, &it->loaded)) == WB_OK)
				it->loaded_len = (size_t)p.value_len;
			if (rc != WB_OK) {
				it->status = rc;
				return NULL;
			}
		}
		*vlen = it->loaded_len;
		return it->loaded;
	}
	*vlen = it->value.len;
	return it->value.p ? it->value.p : (const void *)"";
}

uint64_t wb_iter_value_size(const wb_iter *it)
{
	vptr_t p;
	obj_header_t h;
	if (it->is_obj)
		return read_object(it, false, &h, NULL, NULL) == WB_OK ? h.size : 0;
	if (!it->is_ptr)
		return it->value.len;
	return vptr_decode(bslice(&it->value), &p) ? p.value_len : 0;
}

uint64_t wb_iter_ts(const wb_iter *it)
{
	return it->ts >= TXN_TS_BASE ? 0 : it->ts;
}

void db_iter_bounds(const wb_iter *it, slice_t *lo, slice_t *hi)
{
	*lo = bslice(&it->lower);
	*hi = bslice(&it->upper);
}

int wb_iter_status(const wb_iter *it)
{
	return it->status;
}

/* The smallest tree key greater than every key starting with p (p's last
 * byte that is not 0xff, incremented, the rest cut); false when none. */
static bool prefix_successor(buf_t *b)
{
	while (b->len > 0 && b->p[b->len - 1] == 0xff)
		b->len--;
	if (b->len == 0)
		return false;
	b->p[b->len - 1]++;
	return true;
}

static int set_bounds(wb_iter *it, const wb_iter_options *o)
{
	uint8_t ks = it->ks, next_ks = (uint8_t)(it->ks + 1);
	int rc = buf_set(&it->lower, &ks, 1, NULL, 0);
	if (rc == WB_OK)
		rc = buf_set(&it->upper, &next_ks, 1, NULL, 0);
	buf_t tmp = { 0 };
	if (rc == WB_OK && o && o->lower) {
		rc = buf_set(&tmp, &ks, 1, o->lower, o->lower_len);
		if (rc == WB_OK && slice_compare(bslice(&tmp), bslice(&it->lower)) > 0)
			rc = buf_set(&it->lower, tmp.p, tmp.len, NULL, 0);
	}
	if (rc == WB_OK && o && o->upper) {
		rc = buf_set(&tmp, &ks, 1, o->upper, o->upper_len);
		if (rc == WB_OK && slice_compare(bslice(&tmp), bslice(&it->upper)) < 0)
			rc = buf_set(&it->upper, tmp.p, tmp.len, NULL, 0);
	}
	if (rc == WB_OK && o && o->prefix && o->prefix_len > 0) {
		rc = buf_set(&tmp, &ks, 1, o->prefix, o->prefix_len);
		if (rc == WB_OK && slice_compare(bslice(&tmp), bslice(&it->lower)) > 0)
			rc = buf_set(&it->lower, tmp.p, tmp.len, NULL, 0);
		if (rc == WB_OK && prefix_successor(&tmp) &&
		    slice_compare(bslice(&tmp), bslice(&it->upper)) < 0)
			rc = buf_set(&it->upper, tmp.p, tmp.len, NULL, 0);
	}
	free(tmp.p);
	return rc;
}

int wb_iter_new(wb_db *db, const wb_iter_options *opts, wb_iter **out)
{
	err_clear();
	*out = NULL;
	if (opts && opts->keyspace > KS_PUBLIC_LAST)
		return err_set(WB_EINVAL, "unknown keyspace %u", opts->keyspace);
	return db_iter_new(db, opts, 0, NULL, out);
}

int db_snapshot_iter(db_snapshot_t *s, memtable_t *own, iter_t **out)
{
	*out = NULL;
	int cap = 2 + s->nimm + s->version->nfiles[0] + NUM_LEVELS, n = 0;
	iter_t **kids = calloc((size_t)cap, sizeof(*kids));
	int rc = kids ? WB_OK : WB_ENOMEM;
	if (rc == WB_OK && own && (kids[n++] = memtable_iter(own)) == NULL)
		rc = WB_ENOMEM;
	if (rc == WB_OK && s->mem && (kids[n++] = memtable_iter(s->mem)) == NULL)
		rc = WB_ENOMEM;
	for (int i = s->nimm - 1; rc == WB_OK && i >= 0; i--)
		if ((kids[n++] = memtable_iter(s->imm[i])) == NULL)
			rc = WB_ENOMEM;
	if (rc == WB_OK)
		rc = version_add_iters(s->version, kids, &n);
	if (rc == WB_OK && (*out = merge_iter_new(kids, n)) == NULL)
		rc = WB_ENOMEM;
	if (rc != WB_OK)
		for (int i = 0; i < n; i++)
			iter_destroy(kids[i]);
	free(kids);
	return rc;
}

int db_iter_new(wb_db *db, const wb_iter_options *opts, uint64_t read_ts, memtable_t *own,
		wb_iter **out)
{
	*out = NULL;
	wb_iter *it = calloc(1, sizeof(*it));
	if (it == NULL)
		return WB_ENOMEM;
	it->db = db;
	it->ks = opts ? (uint8_t)opts->keyspace : KS_USER;
	if (opts && opts->keyspace > KS_LAST) {
		free(it);
		return err_set(WB_EINVAL, "unknown keyspace %u", opts->keyspace);
	}
	if (set_bounds(it, opts) != WB_OK) {
		wb_iter_free(it);
		return WB_ENOMEM;
	}
	/* A transaction's iterator reads at the transaction's timestamp, which
	 * the transaction keeps registered; a plain one registers its own, so
	 * compaction keeps what it reads (and the value log what it points to). */
	it->own = own != NULL;
	it->own_mem = own;
	it->registered = own == NULL;
	db_snapshot_take_at(db, &it->snap, read_ts, it->registered ? &it->reader : NULL);
	if (db_snapshot_iter(&it->snap, own, &it->merge) != WB_OK)
		it->merge = NULL;
	if (it->merge == NULL) {
		wb_iter_free(it);
		return WB_ENOMEM;
	}
	STAT_ADD(db, iterators, 1);
	*out = it;
	return WB_OK;
}

void wb_iter_free(wb_iter *it)
{
	if (it == NULL)
		return;
	iter_destroy(it->merge);
	if (it->registered && it->snap.version != NULL)
		db_reader_remove(it->db, &it->reader);
	if (it->snap.version != NULL) {
		db_snapshot_release(&it->snap);
		/* It may have been the last reader of tables compacted away. */
		if (atomic_load_explicit(&it->db->obsolete_pending, memory_order_relaxed) > 0)
			db_delete_obsolete_tables(it->db);
	}
	free(it->lower.p);
	free(it->upper.p);
	free(it->key.p);
	free(it->value.p);
	free(it->loaded);
	free(it->target.p);
	free(it);
}
