/*
 * sst.h -- sorted string tables: immutable files of internal keys
 * (docs/format.md, "SSTable").
 *
 * Layout: data blocks, filter block, properties block, index block, footer.
 * Every block is followed by a 5-byte trailer: codec id (1 byte; 0 = none)
 * and the masked CRC32C of block bytes + codec byte. The fixed 64-byte footer
 * ends with the format version and the magic number.
 *
 * A builder belongs to one thread. A reader is shared: every function on it
 * may be called from any number of threads at once. Readers are reference
 * counted; iterators hold a reference.
 */
#ifndef WB_SST_H
#define WB_SST_H

#include <stdatomic.h>

#include "table/block.h"
#include "table/cache.h"
#include "util/coding.h"
#include "table/iter.h"
#include "wombat.h"

#define SST_MAGIC 0x57424d5353540a01ull /* never change: on-disk */
#define SST_FORMAT_VERSION 1            /* never renumber: on-disk */
#define SST_FOOTER_SIZE 64
#define BLOCK_TRAILER_SIZE 5

/* Block codecs. Never renumber: on-disk. */
enum codec_id {
	CODEC_NONE = 0,
	CODEC_ZLIB = 1, /* later issue */
};

/* Where a block is in the file (size excludes the trailer). */
typedef struct block_handle {
	uint64_t offset;
	uint64_t size;
} block_handle_t;

/* What a table holds; written in its properties block. */
typedef struct sst_props {
	uint8_t *smallest; /* first internal key (malloc'ed copy) */
	size_t smallest_len;
	uint8_t *largest; /* last internal key (malloc'ed copy) */
	size_t largest_len;
	uint64_t min_ts, max_ts;
	uint64_t entries;
	uint64_t tombstones;
	uint64_t raw_key_bytes, raw_value_bytes;
	uint64_t vlog_bytes; /* value-log bytes referenced (value-log issue) */
	uint64_t data_blocks;
	uint64_t file_size;
} sst_props_t;

void sst_props_destroy(sst_props_t *p); /* frees the key copies */

typedef struct sst_options {
	size_t block_size;      /* target data block size (4096) */
	int restart_interval;   /* 16 */
	int bloom_bits_per_key; /* 0: no filter */
} sst_options_t;

/* ---- building ---- */

typedef struct sst_builder sst_builder_t;

/* Creates (truncating) path through env. Errors from env->open. */
int sst_builder_new(const wb_env *env, const char *path, const sst_options_t *opts,
		    sst_builder_t **out);

/* REQUIRES: ikey sorts strictly after the previous one (ikey_compare).
 * value starts with the meta byte. Errors: WB_EIO, WB_ENOSPC, WB_ENOMEM
 * (sticky: later calls return it too). */
int sst_builder_add(sst_builder_t *b, slice_t ikey, slice_t value);

/* Bytes written so far plus the pending block. */
uint64_t sst_builder_file_size(const sst_builder_t *b);
uint64_t sst_builder_entries(const sst_builder_t *b);

/* Writes the remaining blocks and footer, fsyncs and closes the file, and
 * frees b. On success *props (may be NULL) receives the table's properties
 * (caller destroys). On error the file is removed and b is freed too. */
int sst_builder_finish(sst_builder_t *b, sst_props_t *props);

/* Closes and removes the file, frees b. NULL is fine. */
void sst_builder_abandon(sst_builder_t *b);

/* ---- reading ---- */

typedef struct sst_reader sst_reader_t;

/* Opens path: reads and checks the footer, index, filter and properties.
 * Errors (wb_errmsg names the file and offset): WB_ENOTFOUND, WB_EFORMAT
 * (bad magic or unknown version), WB_ECORRUPT (checksum, truncated file),
 * WB_EIO, WB_ENOMEM. refs = 1 on success. */
int sst_reader_open(const wb_env *env, const char *path, sst_reader_t **out);
void sst_reader_ref(sst_reader_t *r);
void sst_reader_unref(sst_reader_t *r); /* NULL is fine */

const sst_props_t *sst_reader_props(const sst_reader_t *r);

/* Makes r keep its data blocks in cache (which must outlive r). Call it
 * right after opening, before r is shared with other threads. */
void sst_reader_set_cache(sst_reader_t *r, block_cache_t *cache);

/* Called with an entry found by a point lookup; the slices are valid only
 * during the call. Its return value is returned by the lookup. */
typedef int (*found_fn)(void *arg, slice_t ikey, slice_t value);

/* Finds the newest version of tree_key with ts <= read_ts: if the filter
 * rules it out or there is none, WB_ENOTFOUND; otherwise returns
 * found(arg, ikey, value). Errors: WB_ECORRUPT, WB_EIO, WB_ENOMEM. */
int sst_reader_get(sst_reader_t *r, slice_t tree_key, uint64_t read_ts, found_fn found,
		   void *arg);

/* false only when the filter proves tree_key is absent. */
bool sst_reader_may_contain(const sst_reader_t *r, slice_t tree_key);

/* An iterator over every entry (holds a reference on r). NULL on out of memory. */
iter_t *sst_reader_iter(sst_reader_t *r);

/* Reads every block and checks its checksum and structure. WB_OK or the
 * first error (wb_errmsg names the file and offset). */
int sst_reader_verify(sst_reader_t *r);

#endif /* WB_SST_H */
