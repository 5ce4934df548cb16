/*
 * sst_reader.c -- reading an SSTable: open, point lookups, the two-level
 * iterator and verification (sst.h; layout in docs/format.md, "SSTable").
 *
 * A reader is shared by every thread that reads the table. After open it is
 * immutable: the footer, index block, filter and properties stay in memory
 * for its whole life, and data blocks are read with env->read_at (which may
 * run concurrently) into memory owned by the caller's lookup or iterator.
 * The only mutable field is the atomic reference count; iterators hold a
 * reference so that a table dropped by compaction stays readable until the
 * last iterator over it is gone.
 *
 * Nothing read from the file is trusted: every block's checksum is checked
 * before use, every handle is checked against the file size, and a problem
 * becomes WB_ECORRUPT (or WB_EFORMAT for a file that is not an sstable of a
 * known version) with a message naming the file and the offset, never wrong
 * data or a read out of bounds.
 */
#include "table/sst.h"

#include <stddef.h>
#include <stdlib.h>

#include "table/bloom.h"
#include "util/crc32c.h"
#include "util/error.h"
#include "util/grow.h"
#include "table/ikey.h"

/* Footer layout (docs/format.md, "SSTable"); sst_builder.c writes it. */
enum {
	FOOTER_INDEX = 0,
	FOOTER_FILTER = 16,
	FOOTER_PROPS = 32,
	FOOTER_VERSION = 48,
	FOOTER_CRC = 52,
	FOOTER_MAGIC = 56,
};

struct sst_reader {
	atomic_int refs;
	const wb_env *env;
	wb_env_file *file;
	char *path;
	const char *name; /* last component of path, for messages */
	uint64_t file_size;
	uint64_t footer_off; /* every block ends at or before this */
	block_handle_t index_h, filter_h, props_h;
	block_t *index;
	uint8_t *filter; /* NULL when the table has none */
	size_t filter_len;
	sst_props_t props;
	block_cache_t *cache; /* data blocks; NULL for none (set before sharing) */
	uint64_t cache_id;
};

#define OFF(x) ((unsigned long long)(x))

/* Index and data blocks hold internal keys. A damaged block could present a
 * key shorter than the timestamp suffix, which ikey_compare() must never
 * see; such keys get some total order here and are reported as corrupt by
 * whoever surfaces them. */
static int table_key_cmp(slice_t a, slice_t b)
{
	if (a.len < IKEY_SUFFIX || b.len < IKEY_SUFFIX)
		return slice_compare(a, b);
	return ikey_compare(a, b);
}

static bool entry_ok(slice_t ikey, slice_t value)
{
	return ikey_valid(ikey) && value.len > 0;
}

/* Reads h.size bytes plus the trailer, checks the checksum and the codec.
 * On success *out (malloc'ed, h.size + trailer bytes) is the caller's. */
static int read_raw(const sst_reader_t *r, block_handle_t h, const char *what, uint8_t **out)
{
	*out = NULL;
	if (h.size > r->footer_off || h.offset > r->footer_off - h.size ||
	    r->footer_off - h.size - h.offset < BLOCK_TRAILER_SIZE)
		return err_set(WB_ECORRUPT,
			       "%s offset %llu: %s block of %llu bytes runs past the end", r->name,
			       OFF(h.offset), what, OFF(h.size));
	size_t n = (size_t)h.size + BLOCK_TRAILER_SIZE;
	uint8_t *buf = malloc(n);
	if (buf == NULL)
		return WB_ENOMEM;
	size_t got;
	int rc = r->env->read_at(r->file, h.offset, buf, n, &got);
	if (rc != WB_OK) {
		free(buf);
		return err_set(rc, "%s offset %llu: read failed: %s", r->name, OFF(h.offset),
			       wb_strerror(rc));
	}
	if (got < n) {
		free(buf);
		return err_set(WB_ECORRUPT, "%s offset %llu: %s block truncated", r->name,
			       OFF(h.offset), what);
	}
	/* The CRC covers the codec byte too, so a flipped codec id reads as
	 * damage, and only a well-formed unknown id as "unknown codec". */
	uint32_t want = crc32c_unmask(get_u32(buf + h.size + 1));
	if (crc32c(buf, (size_t)h.size + 1) != want) {
		free(buf);
		return err_set(WB_ECORRUPT, "%s offset %llu: %s block checksum mismatch", r->name,
			       OFF(h.offset), what);
	}
	if (buf[h.size] != CODEC_NONE) {
		unsigned codec = buf[h.size];
		free(buf);
		return err_set(WB_ECORRUPT, "%s offset %llu: %s block has unknown codec id %u",
			       r->name, OFF(h.offset), what, codec);
	}
	*out = buf;
	return WB_OK;
}

/* The one place a block is fetched: from the block cache when the table
 * has one (data blocks only; index and filter live in the reader), else
 * from the file. A block enters the cache only after its checksum and
 * layout were checked. */
static int read_block(const sst_reader_t *r, block_handle_t h, const char *what, bool use_cache,
		      block_t **out)
{
	bool cached = use_cache && r->cache != NULL;
	if (cached && (*out = block_cache_lookup(r->cache, r->cache_id, h.offset)) != NULL)
		return WB_OK;
	uint8_t *buf;
	int rc = read_raw(r, h, what, &buf);
	if (rc != WB_OK)
		return rc;
	rc = block_new(buf, (size_t)h.size, out);
	if (rc == WB_ECORRUPT)
		return err_set(rc, "%s offset %llu: malformed %s block", r->name, OFF(h.offset),
			       what);
	if (rc == WB_OK && cached)
		block_cache_insert(r->cache, r->cache_id, h.offset, *out);
	return rc;
}

void sst_reader_set_cache(sst_reader_t *r, block_cache_t *cache)
{
	r->cache = cache;
	r->cache_id = block_cache_new_id();
}

/* An index entry's value: varint64 offset, varint64 size, nothing more. */
static int decode_handle(const sst_reader_t *r, slice_t v, block_handle_t *h)
{
	const uint8_t *p = v.data, *end = v.data + v.len;
	if ((p = get_varint64(p, end, &h->offset)) == NULL ||
	    (p = get_varint64(p, end, &h->size)) == NULL || p != end)
		return err_set(WB_ECORRUPT, "%s offset %llu: malformed block handle in index",
			       r->name, OFF(r->index_h.offset));
	return WB_OK;
}

static const struct {
	const char *name;
	size_t off;
} u64_props[] = {
	{ "wb.data_blocks", offsetof(sst_props_t, data_blocks) },
	{ "wb.entries", offsetof(sst_props_t, entries) },
	{ "wb.max_ts", offsetof(sst_props_t, max_ts) },
	{ "wb.min_ts", offsetof(sst_props_t, min_ts) },
	{ "wb.raw_key_bytes", offsetof(sst_props_t, raw_key_bytes) },
	{ "wb.raw_value_bytes", offsetof(sst_props_t, raw_value_bytes) },
	{ "wb.tombstones", offsetof(sst_props_t, tombstones) },
	{ "wb.vlog_bytes", offsetof(sst_props_t, vlog_bytes) },
};

static bool name_is(slice_t k, const char *name)
{
	return k.len == strlen(name) && memcmp(k.data, name, k.len) == 0;
}

static int copy_key(slice_t v, uint8_t **dst, size_t *len)
{
	free(*dst);
	*dst = malloc(v.len ? v.len : 1);
	if (*dst == NULL)
		return WB_ENOMEM;
	memcpy(*dst, v.data, v.len);
	*len = v.len;
	return WB_OK;
}

/* Names this version does not know are skipped, so later versions can add
 * properties without a format bump. */
static int parse_props(sst_reader_t *r, block_t *pb)
{
	iter_t *it = block_iter_new(pb, slice_compare);
	if (it == NULL)
		return WB_ENOMEM;
	int rc = WB_OK;
	for (iter_seek_first(it); rc == WB_OK && iter_valid(it); iter_next(it)) {
		slice_t k = iter_key(it), v = iter_value(it);
		if (name_is(k, "wb.smallest")) {
			rc = copy_key(v, &r->props.smallest, &r->props.smallest_len);
			continue;
		}
		if (name_is(k, "wb.largest")) {
			rc = copy_key(v, &r->props.largest, &r->props.largest_len);
			continue;
		}
		for (size_t i = 0; i < sizeof(u64_props) / sizeof(u64_props[0]); i++) {
			if (!name_is(k, u64_props[i].name))
				continue;
			uint64_t x = 0;
			if (get_varint64(v.data, v.data + v.len, &x) != v.data + v.len) {
				rc = err_set(WB_ECORRUPT,
					     "%s offset %llu: bad value for property %s", r->name,
					     OFF(r->props_h.offset), u64_props[i].name);
				break;
			}
			memcpy((uint8_t *)&r->props + u64_props[i].off, &x, sizeof(x));
			break;
		}
	}
	if (rc == WB_OK && iter_status(it) != WB_OK)
		rc = err_set(WB_ECORRUPT, "%s offset %llu: malformed properties block", r->name,
			     OFF(r->props_h.offset));
	iter_destroy(it);
	return rc;
}

static void reader_free(sst_reader_t *r)
{
	if (r->file != NULL)
		r->env->close(r->file);
	block_unref(r->index);
	free(r->filter);
	sst_props_destroy(&r->props);
	free(r->path);
	free(r);
}

static int read_footer(sst_reader_t *r)
{
	if (r->file_size < SST_FOOTER_SIZE)
		return err_set(WB_EFORMAT, "%s: not an sstable (%llu bytes, less than a footer)",
			       r->name, OFF(r->file_size));
	r->footer_off = r->file_size - SST_FOOTER_SIZE;
	uint8_t f[SST_FOOTER_SIZE];
	size_t got;
	int rc = r->env->read_at(r->file, r->footer_off, f, sizeof(f), &got);
	if (rc != WB_OK)
		return err_set(rc, "%s offset %llu: read failed: %s", r->name, OFF(r->footer_off),
			       wb_strerror(rc));
	if (got < sizeof(f))
		return err_set(WB_ECORRUPT, "%s offset %llu: footer truncated", r->name,
			       OFF(r->footer_off));
	if (get_u64(f + FOOTER_MAGIC) != SST_MAGIC)
		return err_set(WB_EFORMAT, "%s offset %llu: not an sstable (bad magic number)",
			       r->name, OFF(r->footer_off + FOOTER_MAGIC));
	/* Every version keeps this 64-byte footer with the checksum in the
	 * same place, so damage is told apart from a newer version. */
	if (crc32c(f, FOOTER_CRC) != crc32c_unmask(get_u32(f + FOOTER_CRC)))
		return err_set(WB_ECORRUPT, "%s offset %llu: footer checksum mismatch", r->name,
			       OFF(r->footer_off));
	uint32_t version = get_u32(f + FOOTER_VERSION);
	if (version != SST_FORMAT_VERSION)
		return err_set(WB_EFORMAT, "%s offset %llu: unknown sstable format version %u",
			       r->name, OFF(r->footer_off + FOOTER_VERSION), version);
	r->index_h.offset = get_u64(f + FOOTER_INDEX);
	r->index_h.size = get_u64(f + FOOTER_INDEX + 8);
	r->filter_h.offset = get_u64(f + FOOTER_FILTER);
	r->filter_h.size = get_u64(f + FOOTER_FILTER + 8);
	r->props_h.offset = get_u64(f + FOOTER_PROPS);
	r->props_h.size = get_u64(f + FOOTER_PROPS + 8);
	return WB_OK;
}

int sst_reader_open(const wb_env *env, const char *path, sst_reader_t **out)
{
	*out = NULL;
	sst_reader_t *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return WB_ENOMEM;
	r->env = env;
	r->path = strdup(path);
	if (r->path == NULL) {
		free(r);
		return WB_ENOMEM;
	}
	const char *slash = strrchr(r->path, '/');
	r->name = slash ? slash + 1 : r->path;
	atomic_init(&r->refs, 1);

	int rc = env->open(env->ctx, path, WB_ENV_READ, &r->file);
	if (rc != WB_OK) {
		r->file = NULL;
		rc = err_set(rc, "%s: cannot open: %s", path, wb_strerror(rc));
		goto fail;
	}
	rc = env->size(r->file, &r->file_size);
	if (rc != WB_OK) {
		rc = err_set(rc, "%s: cannot read size: %s", r->name, wb_strerror(rc));
		goto fail;
	}
	if ((rc = read_footer(r)) != WB_OK)
		goto fail;
	if ((rc = read_block(r, r->index_h, "index", false, &r->index)) != WB_OK)
		goto fail;
	if (r->filter_h.size > 0) {
		if ((rc = read_raw(r, r->filter_h, "filter", &r->filter)) != WB_OK)
			goto fail;
		r->filter_len = (size_t)r->filter_h.size;
	}
	block_t *pb;
	if ((rc = read_block(r, r->props_h, "properties", false, &pb)) != WB_OK)
		goto fail;
	rc = parse_props(r, pb);
	block_unref(pb);
	if (rc != WB_OK)
		goto fail;
	r->props.file_size = r->file_size;
	*out = r;
	return WB_OK;

fail:
	reader_free(r);
	return rc;
}

void sst_reader_ref(sst_reader_t *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void sst_reader_unref(sst_reader_t *r)
{
	if (r != NULL && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
		reader_free(r);
}

const sst_props_t *sst_reader_props(const sst_reader_t *r)
{
	return &r->props;
}

bool sst_reader_may_contain(const sst_reader_t *r, slice_t tree_key)
{
	if (r->filter == NULL)
		return true;
	return bloom_may_contain(slice_make(r->filter, r->filter_len), bloom_hash(tree_key));
}

/* Looks for the first entry >= target in the block at h. Returns false
 * with *rc set when the lookup is over (found, absent or an error), true
 * when the block holds nothing >= target and the next block must be tried. */
static bool get_in_block(sst_reader_t *r, block_handle_t h, slice_t target, slice_t tree_key,
			 found_fn found, void *arg, int *rc)
{
	block_t *blk;
	if ((*rc = read_block(r, h, "data", true, &blk)) != WB_OK)
		return false;
	iter_t *it = block_iter_new(blk, table_key_cmp);
	block_unref(blk);
	if (it == NULL) {
		*rc = WB_ENOMEM;
		return false;
	}
	bool next_block = false;
	iter_seek(it, target);
	if (iter_valid(it)) {
		slice_t k = iter_key(it), v = iter_value(it);
		if (!entry_ok(k, v))
			*rc = err_set(WB_ECORRUPT, "%s offset %llu: malformed entry in data block",
				      r->name, OFF(h.offset));
		else if (slice_compare(ikey_tree_key(k), tree_key) == 0)
			*rc = found(arg, k, v);
		else
			*rc = WB_ENOTFOUND;
	} else if (iter_status(it) == WB_ECORRUPT) {
		*rc = err_set(WB_ECORRUPT, "%s offset %llu: malformed data block", r->name,
			      OFF(h.offset));
	} else if (iter_status(it) != WB_OK) {
		*rc = iter_status(it);
	} else {
		*rc = WB_ENOTFOUND;
		next_block = true;
	}
	iter_destroy(it);
	return next_block;
}

int sst_reader_get(sst_reader_t *r, slice_t tree_key, uint64_t read_ts, found_fn found,
		   void *arg)
{
	if (!sst_reader_may_contain(r, tree_key))
		return WB_ENOTFOUND;

	/* Versions sort newest first, so the first entry >= (tree_key, read_ts)
	 * is the newest with ts <= read_ts, if it still has tree_key. */
	uint8_t small[256];
	uint8_t *buf = small;
	if (tree_key.len + IKEY_SUFFIX > sizeof(small) &&
	    (buf = malloc(tree_key.len + IKEY_SUFFIX)) == NULL)
		return WB_ENOMEM;
	slice_t target = slice_make(buf, ikey_encode(buf, tree_key, read_ts));

	int rc = WB_ENOMEM;
	iter_t *ix = block_iter_new(r->index, table_key_cmp);
	if (ix == NULL)
		goto out;
	rc = WB_ENOTFOUND;
	/* Only the first block whose last key is >= target can hold the
	 * answer; the loop goes on only if that block turns out to hold
	 * nothing >= target (its index key then lied: a damaged table). */
	for (iter_seek(ix, target); iter_valid(ix); iter_next(ix)) {
		block_handle_t h;
		if ((rc = decode_handle(r, iter_value(ix), &h)) != WB_OK)
			break;
		if (!get_in_block(r, h, target, tree_key, found, arg, &rc))
			break;
	}
	if (rc == WB_ENOTFOUND && iter_status(ix) != WB_OK)
		rc = err_set(WB_ECORRUPT, "%s offset %llu: malformed index block", r->name,
			     OFF(r->index_h.offset));
	iter_destroy(ix);
out:
	if (buf != small)
		free(buf);
	return rc;
}

/* ---- the two-level iterator: index entries -> data block entries ---- */

struct sst_iter {
	iter_t base;
	sst_reader_t *r;
	iter_t *index;
	iter_t *data;          /* over the block at `handle`; NULL when none */
	block_handle_t handle;
	int status; /* sticky: once not WB_OK the iterator stays invalid */
	/* The key a next/prev starts from: the block iterator checks order
	 * inside a block, this checks it where a step crosses into another. */
	uint8_t *from;
	size_t from_len, from_cap;
};

static void drop_data(struct sst_iter *it)
{
	iter_destroy(it->data);
	it->data = NULL;
}

static void set_error(struct sst_iter *it, int rc)
{
	if (it->status == WB_OK)
		it->status = rc;
	drop_data(it);
}

/* Makes `data` iterate the block the index is on (unpositioned), reusing
 * the loaded one when it is the same block. */
static void load_block(struct sst_iter *it)
{
	sst_reader_t *r = it->r;
	if (!iter_valid(it->index)) {
		drop_data(it);
		if (iter_status(it->index) != WB_OK)
			set_error(it, err_set(WB_ECORRUPT, "%s offset %llu: malformed index block",
					      r->name, OFF(r->index_h.offset)));
		return;
	}
	block_handle_t h;
	int rc = decode_handle(r, iter_value(it->index), &h);
	if (rc != WB_OK) {
		set_error(it, rc);
		return;
	}
	if (it->data != NULL && h.offset == it->handle.offset && h.size == it->handle.size)
		return;
	drop_data(it);
	block_t *blk;
	if ((rc = read_block(r, h, "data", true, &blk)) != WB_OK) {
		set_error(it, rc);
		return;
	}
	it->data = block_iter_new(blk, table_key_cmp);
	block_unref(blk);
	if (it->data == NULL) {
		set_error(it, WB_ENOMEM);
		return;
	}
	it->handle = h;
}

/* After every move: a data iterator that stopped on an error ends the
 * iteration, and an entry that is not a well-formed internal key is
 * reported rather than handed out. */
static bool data_ok(struct sst_iter *it)
{
	if (it->data == NULL)
		return false;
	if (iter_valid(it->data)) {
		if (entry_ok(iter_key(it->data), iter_value(it->data)))
			return true;
	} else if (iter_status(it->data) == WB_OK) {
		return false;
	} else if (iter_status(it->data) != WB_ECORRUPT) {
		set_error(it, iter_status(it->data));
		return false;
	}
	set_error(it, err_set(WB_ECORRUPT, "%s offset %llu: malformed data block", it->r->name,
			      OFF(it->handle.offset)));
	return false;
}

/* Moves on to the next block that has an entry (blocks are never empty in
 * tables this code writes, but nothing read from disk is assumed). */
static void skip_forward(struct sst_iter *it)
{
	while (!data_ok(it)) {
		if (it->status != WB_OK)
			return;
		if (!iter_valid(it->index)) {
			load_block(it); /* drops data; records an index error */
			return;
		}
		iter_next(it->index);
		load_block(it);
		if (it->data != NULL)
			iter_seek_first(it->data);
	}
}

static void skip_backward(struct sst_iter *it)
{
	while (!data_ok(it)) {
		if (it->status != WB_OK)
			return;
		if (!iter_valid(it->index)) {
			load_block(it);
			return;
		}
		iter_prev(it->index);
		load_block(it);
		if (it->data != NULL)
			iter_seek_last(it->data);
	}
}

static bool si_valid(const iter_t *base)
{
	const struct sst_iter *it = (const struct sst_iter *)base;
	return it->status == WB_OK && it->data != NULL && iter_valid(it->data);
}

static void si_seek_first(iter_t *base)
{
	struct sst_iter *it = (struct sst_iter *)base;
	if (it->status != WB_OK)
		return;
	iter_seek_first(it->index);
	load_block(it);
	if (it->data != NULL)
		iter_seek_first(it->data);
	skip_forward(it);
}

static void si_seek_last(iter_t *base)
{
	struct sst_iter *it = (struct sst_iter *)base;
	if (it->status != WB_OK)
		return;
	iter_seek_last(it->index);
	load_block(it);
	if (it->data != NULL)
		iter_seek_last(it->data);
	skip_backward(it);
}

static void si_seek(iter_t *base, slice_t target)
{
	struct sst_iter *it = (struct sst_iter *)base;
	if (it->status != WB_OK)
		return;
	iter_seek(it->index, target);
	load_block(it);
	if (it->data != NULL)
		iter_seek(it->data, target);
	skip_forward(it);
}

/* The last entry <= target is in the first block whose last key is
 * >= target, or, when that block starts after target, in the one before;
 * when every key is < target it is the very last entry. */
static void si_seek_for_prev(iter_t *base, slice_t target)
{
	struct sst_iter *it = (struct sst_iter *)base;
	if (it->status != WB_OK)
		return;
	iter_seek(it->index, target);
	if (iter_valid(it->index)) {
		load_block(it);
		if (it->data != NULL)
			iter_seek_for_prev(it->data, target);
		skip_backward(it);
	} else if (iter_status(it->index) != WB_OK) {
		load_block(it);
	} else {
		si_seek_last(base);
	}
}

/* Remembers the current key before a step. false on out of memory (the
 * iterator is then failed). */
static bool save_from(struct sst_iter *it)
{
	slice_t k = iter_key(it->data);
	if (!grow_array((void **)&it->from, &it->from_cap, k.len, 1)) {
		set_error(it, WB_ENOMEM);
		return false;
	}
	memcpy(it->from, k.data, k.len);
	it->from_len = k.len;
	return true;
}

/* After a step that moved to another block: the entry reached must lie
 * beyond the one left (want < 0: after it, > 0: before it), or the table
 * is out of order behind good checksums. */
static void check_crossing(struct sst_iter *it, uint64_t left_block, int want)
{
	if (!si_valid(&it->base) || it->handle.offset == left_block)
		return;
	int c = ikey_compare(slice_make(it->from, it->from_len), iter_key(it->data));
	if (want < 0 ? c >= 0 : c <= 0)
		set_error(it, err_set(WB_ECORRUPT,
				      "%s offset %llu: data block keys out of order with the block before",
				      it->r->name, OFF(want < 0 ? it->handle.offset : left_block)));
}

static void si_next(iter_t *base)
{
	struct sst_iter *it = (struct sst_iter *)base;
	if (!si_valid(base) || !save_from(it))
		return;
	uint64_t block = it->handle.offset;
	iter_next(it->data);
	skip_forward(it);
	check_crossing(it, block, -1);
}

static void si_prev(iter_t *base)
{
	struct sst_iter *it = (struct sst_iter *)base;
	if (!si_valid(base) || !save_from(it))
		return;
	uint64_t block = it->handle.offset;
	iter_prev(it->data);
	skip_backward(it);
	check_crossing(it, block, 1);
}

static slice_t si_key(const iter_t *base)
{
	return iter_key(((const struct sst_iter *)base)->data);
}

static slice_t si_value(const iter_t *base)
{
	return iter_value(((const struct sst_iter *)base)->data);
}

static int si_status(const iter_t *base)
{
	return ((const struct sst_iter *)base)->status;
}

static void si_destroy(iter_t *base)
{
	struct sst_iter *it = (struct sst_iter *)base;
	drop_data(it);
	iter_destroy(it->index);
	sst_reader_unref(it->r);
	free(it->from);
	free(it);
}

static const struct iter_ops sst_iter_ops = {
	.valid = si_valid,
	.seek_first = si_seek_first,
	.seek_last = si_seek_last,
	.seek = si_seek,
	.seek_for_prev = si_seek_for_prev,
	.next = si_next,
	.prev = si_prev,
	.key = si_key,
	.value = si_value,
	.status = si_status,
	.destroy = si_destroy,
};

iter_t *sst_reader_iter(sst_reader_t *r)
{
	struct sst_iter *it = calloc(1, sizeof(*it));
	if (it == NULL)
		return NULL;
	it->index = block_iter_new(r->index, table_key_cmp);
	if (it->index == NULL) {
		free(it);
		return NULL;
	}
	it->base.ops = &sst_iter_ops;
	sst_reader_ref(r);
	it->r = r;
	it->status = WB_OK;
	return &it->base;
}

/* ---- verification ---- */

struct verify_state {
	uint8_t *prev; /* the previous key of the table */
	size_t prev_len, prev_cap;
	uint64_t entries;
};

static int remember_key(struct verify_state *vs, slice_t k)
{
	if (!grow_array((void **)&vs->prev, &vs->prev_cap, k.len, 1))
		return WB_ENOMEM;
	memcpy(vs->prev, k.data, k.len);
	vs->prev_len = k.len;
	return WB_OK;
}

/* Checks one data block: checksum, structure, keys ascending (also across
 * blocks), and that its last key is the index key that points at it. */
static int verify_block(sst_reader_t *r, block_handle_t h, slice_t index_key,
			struct verify_state *vs)
{
	block_t *blk;
	int rc = read_block(r, h, "data", false, &blk); /* from the disk, not the cache */
	if (rc != WB_OK)
		return rc;
	iter_t *it = block_iter_new(blk, table_key_cmp);
	block_unref(blk);
	if (it == NULL)
		return WB_ENOMEM;
	const char *problem = NULL;
	uint64_t n = 0;
	for (iter_seek_first(it); iter_valid(it); iter_next(it), n++) {
		slice_t k = iter_key(it);
		if (!entry_ok(k, iter_value(it))) {
			problem = "malformed entry";
			break;
		}
		slice_t prev = slice_make(vs->prev, vs->prev_len);
		if (vs->entries + n > 0 && ikey_compare(prev, k) >= 0) {
			problem = "keys out of order";
			break;
		}
		if ((rc = remember_key(vs, k)) != WB_OK)
			break;
	}
	if (rc == WB_OK && problem == NULL) {
		if (iter_status(it) != WB_OK)
			problem = "malformed block";
		else if (n == 0)
			problem = "empty block";
		else if (!ikey_valid(index_key) ||
			 ikey_compare(index_key, slice_make(vs->prev, vs->prev_len)) != 0)
			problem = "last key differs from its index entry";
	}
	iter_destroy(it);
	vs->entries += n;
	if (problem != NULL)
		rc = err_set(WB_ECORRUPT, "%s offset %llu: data block: %s", r->name, OFF(h.offset),
			     problem);
	return rc;
}

int sst_reader_verify(sst_reader_t *r)
{
	iter_t *ix = block_iter_new(r->index, table_key_cmp);
	if (ix == NULL)
		return WB_ENOMEM;
	struct verify_state vs = { NULL, 0, 0, 0 };
	uint64_t expect = 0, blocks = 0;
	int rc = WB_OK;
	/* Data blocks are laid end to end from offset 0 up to the filter. */
	for (iter_seek_first(ix); iter_valid(ix); iter_next(ix), blocks++) {
		block_handle_t h;
		if ((rc = decode_handle(r, iter_value(ix), &h)) != WB_OK)
			break;
		if (h.offset != expect) {
			rc = err_set(WB_ECORRUPT,
				     "%s offset %llu: index points at a data block here, "
				     "expected one at offset %llu",
				     r->name, OFF(h.offset), OFF(expect));
			break;
		}
		if ((rc = verify_block(r, h, iter_key(ix), &vs)) != WB_OK)
			break;
		expect = h.offset + h.size + BLOCK_TRAILER_SIZE;
	}
	if (rc == WB_OK && iter_status(ix) != WB_OK)
		rc = err_set(WB_ECORRUPT, "%s offset %llu: malformed index block", r->name,
			     OFF(r->index_h.offset));
	if (rc == WB_OK && expect != r->filter_h.offset)
		rc = err_set(WB_ECORRUPT, "%s offset %llu: data blocks end here, but the filter "
					  "block is at offset %llu",
			     r->name, OFF(expect), OFF(r->filter_h.offset));
	if (rc == WB_OK && (vs.entries != r->props.entries || blocks != r->props.data_blocks))
		rc = err_set(WB_ECORRUPT, "%s offset %llu: properties say %llu entries in %llu "
					  "blocks, the table has %llu in %llu",
			     r->name, OFF(r->props_h.offset), OFF(r->props.entries),
			     OFF(r->props.data_blocks), OFF(vs.entries), OFF(blocks));
	iter_destroy(ix);
	free(vs.prev);
	return rc;
}
