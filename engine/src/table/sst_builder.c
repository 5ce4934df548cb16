/*
 * sst_builder.c -- writing an SSTable (sst.h; every byte is described in
 * docs/format.md, "SSTable").
 *
 * A builder belongs to the one thread that flushes a memtable or runs a
 * compaction. Entries arrive in strictly increasing internal-key order and
 * are cut into data blocks of about opts->block_size bytes; each block is
 * followed by its trailer (codec id, masked CRC32C). finish() then appends
 * the filter block, the properties block, the index block and the 64-byte
 * footer, fsyncs and closes the file.
 *
 * Invariants: `offset` is the file size once the write buffer is flushed;
 * the first error is sticky, and a builder that failed never leaves a file
 * behind (finish and abandon remove it), so a half-written table can never
 * be mistaken for a whole one. A table is only complete once finish()
 * returned WB_OK: the footer is written last.
 *
 * Tables with no entries are refused (finish returns WB_EINVAL and removes
 * the file): every table in the tree then has a key range, and callers that
 * end up with nothing to write (a compaction that dropped every entry)
 * simply record no table.
 */
#include "table/sst.h"
#include "util/grow.h"

#include <stdlib.h>

#include "table/bloom.h"
#include "util/crc32c.h"
#include "util/error.h"
#include "table/ikey.h"
#include "table/vptr.h"

/* Writes are gathered so that a table costs one append per 64 KiB, not one
 * per 4 KiB block. */
#define WRITE_BUF_SIZE (64 * 1024)

/* Footer layout (docs/format.md, "SSTable"). Never change: on-disk. */
enum {
	FOOTER_INDEX = 0,    /* u64 offset, u64 size */
	FOOTER_FILTER = 16,  /* u64 offset, u64 size (size 0: no filter) */
	FOOTER_PROPS = 32,   /* u64 offset, u64 size */
	FOOTER_VERSION = 48, /* u32 */
	FOOTER_CRC = 52,     /* u32 masked crc32c of bytes [0, 52) */
	FOOTER_MAGIC = 56,   /* u64 */
};

struct sst_builder {
	const wb_env *env;
	wb_env_file *file; /* NULL once closed */
	char *path;
	const char *name; /* last component of path, for messages */
	sst_options_t opts;

	block_builder_t data;  /* the pending data block */
	block_builder_t index; /* one entry per finished data block */

	uint8_t *wbuf; /* bytes not yet handed to env->append */
	size_t wlen;
	uint64_t offset;  /* file bytes so far, appended or buffered */
	uint64_t flushed; /* of which appended (offset == flushed + wlen) */

	uint8_t *first_key; /* becomes props.smallest */
	size_t first_len;
	uint8_t *last_key; /* previous ikey; becomes props.largest */
	size_t last_len, last_cap;

	uint64_t *hashes; /* bloom_hash of each distinct tree key */
	size_t nhashes, hashes_cap;

	sst_props_t props; /* counters; keys and file size filled by finish */
	int error;         /* first failure; sticky */
};

void sst_props_destroy(sst_props_t *p)
{
	if (p == NULL)
		return;
	free(p->smallest);
	free(p->largest);
	p->smallest = p->largest = NULL;
	p->smallest_len = p->largest_len = 0;
}

static int fail(sst_builder_t *b, int rc)
{
	if (b->error == WB_OK)
		b->error = rc;
	return b->error;
}

static int append_failed(sst_builder_t *b, int rc)
{
	return fail(b, err_set(rc, "%s offset %llu: write failed: %s", b->name,
			       (unsigned long long)b->flushed, wb_strerror(rc)));
}

static int flush_buf(sst_builder_t *b)
{
	if (b->wlen == 0)
		return WB_OK;
	int rc = b->env->append(b->file, b->wbuf, b->wlen);
	if (rc != WB_OK)
		return append_failed(b, rc);
	b->flushed += b->wlen;
	b->wlen = 0;
	return WB_OK;
}

/* Fills the buffer to the brim before each append, so a table of S bytes
 * costs ceil(S / 64 KiB) appends; a write of a whole buffer or more that
 * finds the buffer empty goes straight through without a copy. */
static int write_bytes(sst_builder_t *b, const void *data, size_t n)
{
	const uint8_t *p = data;
	b->offset += n;
	while (n > 0) {
		if (b->wlen == 0 && n >= WRITE_BUF_SIZE) {
			int rc = b->env->append(b->file, p, n);
			if (rc != WB_OK)
				return append_failed(b, rc);
			b->flushed += n;
			return WB_OK;
		}
		size_t take = WRITE_BUF_SIZE - b->wlen;
		if (take > n)
			take = n;
		memcpy(b->wbuf + b->wlen, p, take);
		b->wlen += take;
		p += take;
		n -= take;
		if (b->wlen == WRITE_BUF_SIZE) {
			int rc = flush_buf(b);
			if (rc != WB_OK)
				return rc;
		}
	}
	return WB_OK;
}

/* Appends contents and its trailer; *h says where the contents went. */
static int write_block(sst_builder_t *b, slice_t contents, block_handle_t *h)
{
	uint8_t trailer[BLOCK_TRAILER_SIZE];
	trailer[0] = CODEC_NONE;
	uint32_t crc = crc32c_extend(crc32c(contents.data, contents.len), trailer, 1);
	put_u32(trailer + 1, crc32c_mask(crc));

	h->offset = b->offset;
	h->size = contents.len;
	int rc = write_bytes(b, contents.data, contents.len);
	if (rc == WB_OK)
		rc = write_bytes(b, trailer, sizeof(trailer));
	return rc;
}

static int flush_data_block(sst_builder_t *b)
{
	slice_t contents;
	int rc = block_builder_finish(&b->data, &contents);
	if (rc != WB_OK)
		return fail(b, rc);
	block_handle_t h;
	rc = write_block(b, contents, &h);
	if (rc != WB_OK)
		return rc;

	/* The index key is the block's last key: the first block whose last
	 * key is >= a target is the only one that can hold the target. */
	uint8_t hv[2 * VARINT64_MAX];
	size_t n = put_varint64(hv, h.offset);
	n += put_varint64(hv + n, h.size);
	block_builder_add(&b->index, slice_make(b->last_key, b->last_len), slice_make(hv, n));
	if (b->index.error != WB_OK)
		return fail(b, b->index.error);
	b->props.data_blocks++;
	block_builder_reset(&b->data);
	return WB_OK;
}

int sst_builder_new(const wb_env *env, const char *path, const sst_options_t *opts,
		    sst_builder_t **out)
{
	*out = NULL;
	sst_builder_t *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return WB_ENOMEM;
	b->env = env;
	static const sst_options_t defaults = { 4096, 16, 10 };
	b->opts = opts != NULL ? *opts : defaults;
	if (b->opts.block_size == 0)
		b->opts.block_size = defaults.block_size;
	if (b->opts.restart_interval < 1)
		b->opts.restart_interval = defaults.restart_interval;
	if (b->opts.bloom_bits_per_key < 0)
		b->opts.bloom_bits_per_key = 0;
	b->path = strdup(path);
	b->wbuf = malloc(WRITE_BUF_SIZE);
	if (b->path == NULL || b->wbuf == NULL) {
		free(b->path);
		free(b->wbuf);
		free(b);
		return WB_ENOMEM;
	}
	const char *slash = strrchr(b->path, '/');
	b->name = slash ? slash + 1 : b->path;
	block_builder_init(&b->data, b->opts.restart_interval);
	/* Restart interval 1: every index key is stored whole, so the binary
	 * search lands on the right block without a linear scan. */
	block_builder_init(&b->index, 1);
	b->props.min_ts = UINT64_MAX;

	int rc = env->open(env->ctx, path, WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE,
			   &b->file);
	if (rc != WB_OK) {
		rc = err_set(rc, "%s: cannot create: %s", path, wb_strerror(rc));
		block_builder_destroy(&b->data);
		block_builder_destroy(&b->index);
		free(b->path);
		free(b->wbuf);
		free(b);
		return rc;
	}
	*out = b;
	return WB_OK;
}

int sst_builder_add(sst_builder_t *b, slice_t ikey, slice_t value)
{
	if (b->error != WB_OK)
		return b->error;

	/* A broken precondition is refused without poisoning the builder: the
	 * table written so far is still well formed. */
	bool first = b->props.entries == 0;
	if (!ikey_valid(ikey) || value.len == 0)
		return err_set(WB_EINVAL, "%s: malformed entry (key %zu bytes, value %zu bytes)",
			       b->name, ikey.len, value.len);
	if (!first && ikey_compare(ikey, slice_make(b->last_key, b->last_len)) <= 0)
		return err_set(WB_EINVAL, "%s: keys added out of order", b->name);
	/* Offsets inside a block are u32: an entry must fit in a block of its
	 * own, and a pending block is cut early rather than overflow. Values
	 * this large belong in the value log anyway. */
	uint64_t entry = (uint64_t)ikey.len + value.len + 3 * VARINT32_MAX;
	if (entry > UINT32_MAX - 64)
		return err_set(WB_EINVAL, "%s: entry of %llu bytes is too large for a block",
			       b->name, (unsigned long long)entry);
	if (!block_builder_empty(&b->data) &&
	    block_builder_size(&b->data) + entry + 8 > UINT32_MAX) {
		int rc = flush_data_block(b);
		if (rc != WB_OK)
			return rc;
	}

	slice_t tk = ikey_tree_key(ikey);
	slice_t last = slice_make(b->last_key, b->last_len);
	if (b->opts.bloom_bits_per_key > 0 &&
	    (first || slice_compare(tk, ikey_tree_key(last)) != 0)) {
		if (!grow_array((void **)&b->hashes, &b->hashes_cap, b->nhashes + 1, sizeof(uint64_t)))
			return fail(b, WB_ENOMEM);
		b->hashes[b->nhashes++] = bloom_hash(tk);
	}

	block_builder_add(&b->data, ikey, value);
	if (b->data.error != WB_OK)
		return fail(b, b->data.error);
	if (!grow_array((void **)&b->last_key, &b->last_cap, ikey.len, 1))
		return fail(b, WB_ENOMEM);
	memcpy(b->last_key, ikey.data, ikey.len);
	b->last_len = ikey.len;
	if (first) {
		b->first_key = malloc(ikey.len);
		if (b->first_key == NULL)
			return fail(b, WB_ENOMEM);
		memcpy(b->first_key, ikey.data, ikey.len);
		b->first_len = ikey.len;
	}

	uint64_t ts = ikey_ts(ikey);
	if (ts < b->props.min_ts)
		b->props.min_ts = ts;
	if (ts > b->props.max_ts)
		b->props.max_ts = ts;
	b->props.entries++;
	if (value.data[0] & META_TOMBSTONE)
		b->props.tombstones++;
	b->props.raw_key_bytes += ikey.len;
	b->props.raw_value_bytes += value.len;
	vptr_t p;
	if (vptr_of_entry(value, &p))
		b->props.vlog_bytes += p.length;

	if (block_builder_size(&b->data) >= b->opts.block_size)
		return flush_data_block(b);
	return WB_OK;
}

uint64_t sst_builder_file_size(const sst_builder_t *b)
{
	return b->offset + (block_builder_empty(&b->data) ? 0 : block_builder_size(&b->data));
}

uint64_t sst_builder_entries(const sst_builder_t *b)
{
	return b->props.entries;
}

static void prop_u64(block_builder_t *pb, const char *name, uint64_t v)
{
	uint8_t buf[VARINT64_MAX];
	size_t n = put_varint64(buf, v);
	block_builder_add(pb, slice_make(name, strlen(name)), slice_make(buf, n));
}

static void prop_bytes(block_builder_t *pb, const char *name, const uint8_t *p, size_t n)
{
	block_builder_add(pb, slice_make(name, strlen(name)), slice_make(p, n));
}

/* The names must be added in memcmp order (it is a block); sst_reader.c
 * and docs/format.md list the same names. */
static int write_props(sst_builder_t *b, block_handle_t *h)
{
	block_builder_t pb;
	block_builder_init(&pb, 1);
	const sst_props_t *p = &b->props;
	prop_u64(&pb, "wb.data_blocks", p->data_blocks);
	prop_u64(&pb, "wb.entries", p->entries);
	prop_bytes(&pb, "wb.largest", b->last_key, b->last_len);
	prop_u64(&pb, "wb.max_ts", p->max_ts);
	prop_u64(&pb, "wb.min_ts", p->min_ts);
	prop_u64(&pb, "wb.raw_key_bytes", p->raw_key_bytes);
	prop_u64(&pb, "wb.raw_value_bytes", p->raw_value_bytes);
	prop_bytes(&pb, "wb.smallest", b->first_key, b->first_len);
	prop_u64(&pb, "wb.tombstones", p->tombstones);
	prop_u64(&pb, "wb.vlog_bytes", p->vlog_bytes);
	slice_t contents;
	int rc = block_builder_finish(&pb, &contents);
	if (rc == WB_OK)
		rc = write_block(b, contents, h);
	else
		rc = fail(b, rc);
	block_builder_destroy(&pb);
	return rc;
}

static int write_filter(sst_builder_t *b, block_handle_t *h)
{
	if (b->opts.bloom_bits_per_key == 0) {
		h->offset = b->offset;
		h->size = 0; /* no block, no trailer */
		return WB_OK;
	}
	uint8_t *f;
	size_t flen;
	int rc = bloom_build(b->hashes, b->nhashes, b->opts.bloom_bits_per_key, &f, &flen);
	if (rc != WB_OK)
		return fail(b, rc);
	rc = write_block(b, slice_make(f, flen), h);
	free(f);
	return rc;
}

static int write_footer(sst_builder_t *b, block_handle_t index, block_handle_t filter,
			block_handle_t props)
{
	uint8_t f[SST_FOOTER_SIZE];
	put_u64(f + FOOTER_INDEX, index.offset);
	put_u64(f + FOOTER_INDEX + 8, index.size);
	put_u64(f + FOOTER_FILTER, filter.offset);
	put_u64(f + FOOTER_FILTER + 8, filter.size);
	put_u64(f + FOOTER_PROPS, props.offset);
	put_u64(f + FOOTER_PROPS + 8, props.size);
	put_u32(f + FOOTER_VERSION, SST_FORMAT_VERSION);
	put_u32(f + FOOTER_CRC, crc32c_mask(crc32c(f, FOOTER_CRC)));
	put_u64(f + FOOTER_MAGIC, SST_MAGIC);
	return write_bytes(b, f, sizeof(f));
}

static void builder_free(sst_builder_t *b)
{
	block_builder_destroy(&b->data);
	block_builder_destroy(&b->index);
	free(b->wbuf);
	free(b->first_key);
	free(b->last_key);
	free(b->hashes);
	free(b->path);
	free(b);
}

void sst_builder_abandon(sst_builder_t *b)
{
	if (b == NULL)
		return;
	if (b->file != NULL)
		b->env->close(b->file);
	b->env->remove(b->env->ctx, b->path);
	builder_free(b);
}

int sst_builder_finish(sst_builder_t *b, sst_props_t *props)
{
	int rc = b->error;
	if (rc == WB_OK && b->props.entries == 0)
		rc = err_set(WB_EINVAL, "%s: no entries; an empty table is not written", b->name);
	if (rc == WB_OK && !block_builder_empty(&b->data))
		rc = flush_data_block(b);

	block_handle_t filter_h, props_h, index_h;
	if (rc == WB_OK)
		rc = write_filter(b, &filter_h);
	if (rc == WB_OK)
		rc = write_props(b, &props_h);
	if (rc == WB_OK) {
		slice_t contents;
		rc = block_builder_finish(&b->index, &contents);
		rc = rc == WB_OK ? write_block(b, contents, &index_h) : fail(b, rc);
	}
	if (rc == WB_OK)
		rc = write_footer(b, index_h, filter_h, props_h);
	if (rc == WB_OK)
		rc = flush_buf(b);
	if (rc == WB_OK) {
		rc = b->env->sync(b->file);
		if (rc != WB_OK)
			rc = err_set(rc, "%s: sync failed: %s", b->name, wb_strerror(rc));
	}
	if (rc == WB_OK) {
		rc = b->env->close(b->file);
		b->file = NULL;
		if (rc != WB_OK)
			rc = err_set(rc, "%s: close failed: %s", b->name, wb_strerror(rc));
	}
	if (rc != WB_OK) {
		sst_builder_abandon(b);
		return rc;
	}

	if (props != NULL) {
		/* The key copies change hands instead of being copied again. */
		*props = b->props;
		props->smallest = b->first_key;
		props->smallest_len = b->first_len;
		props->largest = b->last_key;
		props->largest_len = b->last_len;
		props->file_size = b->offset;
		b->first_key = b->last_key = NULL;
	}
	builder_free(b);
	return WB_OK;
}
