/*
 * fuzz_sst.c -- fuzzes a whole SSTable through its reader
 * (engine/src/table/sst_reader.c, and through it block.c and bloom.c): footer,
 * index, filter and properties at open, then data blocks by iteration,
 * point lookups and verify (docs/format.md, "SSTable").
 *
 * Input: one byte of flags, then the file. With flag bit 0 the target
 * first recomputes every checksum it can find (footer, index, filter,
 * properties, and each data block the index points at), so the fuzzer
 * reaches the structure behind the CRCs: that stands for a buggy writer
 * rather than a bad disk, and the reader must still answer with an error,
 * never a crash or a read out of bounds.
 *
 * Promises checked: open gives WB_OK, or WB_ECORRUPT / WB_EFORMAT naming the
 * file; iterating either way yields well-formed internal keys in strict
 * order or stops with WB_ECORRUPT naming the file; when verify passes, the
 * table holds what its properties say and a point lookup finds every
 * entry the scan found (unless the filter rules the key out: a filter is
 * not checkable without the keys).
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "util/crc32c.h"
#include "util/error.h"
#include "table/ikey.h"
#include "mem_env.h"
#include "table/sst.h"

#define NAME     "000009.sst"
#define PATH     "db/" NAME
#define MAX_GETS 32

static void check_message(int rc)
{
	const char *msg = err_message();
	FUZZ_CHECK(strstr(msg, NAME) != NULL, "%s without the file's name: \"%s\"", wb_strerror(rc),
	           msg);
}

/* Recomputes the trailer checksum of the block at (off, size) if it fits. */
static void fix_block(uint8_t *p, size_t len, uint64_t off, uint64_t size)
{
	if (size > len || off > len - size || len - size - off < BLOCK_TRAILER_SIZE)
		return;
	put_u32(p + off + size + 1, crc32c_mask(crc32c(p + off, (size_t)size + 1)));
}

/* Index entries in whatever order they are: the iterator checks keys
 * against its comparator, and only the handles matter here. */
static int any_order(slice_t a, slice_t b)
{
	return -1;
}

static void fix_checksums(uint8_t *p, size_t len)
{
	if (len < SST_FOOTER_SIZE)
		return;
	uint8_t *f = p + len - SST_FOOTER_SIZE;
	put_u32(f + 52, crc32c_mask(crc32c(f, 52)));
	size_t body = len - SST_FOOTER_SIZE;
	for (int i = 0; i < 3; i++)
		fix_block(p, body, get_u64(f + 16 * i), get_u64(f + 16 * i + 8));
	uint64_t ioff = get_u64(f), isize = get_u64(f + 8);
	if (isize > body || ioff > body - isize)
		return;
	uint8_t *copy = malloc(isize ? isize : 1);
	memcpy(copy, p + ioff, isize);
	block_t *ib;
	if (block_new(copy, (size_t)isize, &ib) != WB_OK)
		return;
	iter_t *it = block_iter_new(ib, any_order);
	block_unref(ib);
	for (iter_seek_first(it); iter_valid(it); iter_next(it)) {
		slice_t v = iter_value(it);
		uint64_t off, size;
		const uint8_t *q = get_varint64(v.data, v.data + v.len, &off);
		if (q != NULL && get_varint64(q, v.data + v.len, &size) != NULL)
			fix_block(p, body, off, size);
	}
	iter_destroy(it);
}

struct want {
	slice_t ikey;
	bool found;
};

static int on_found(void *arg, slice_t ikey, slice_t value)
{
	struct want *w = arg;
	w->found = slice_compare(ikey, w->ikey) == 0;
	return WB_OK;
}

/* Walks the table one way; returns the entries seen (copies of the keys
 * of the first MAX_GETS in *keys) and whether it ended without error. */
static bool scan(sst_reader_t *r, bool forward, size_t size, size_t *count, uint8_t **keys,
                 size_t *klens)
{
	iter_t *it = sst_reader_iter(r);
	uint8_t *prev = NULL;
	size_t prev_len = 0, n = 0;
	for (forward ? iter_seek_first(it) : iter_seek_last(it); iter_valid(it);
	     forward ? iter_next(it) : iter_prev(it)) {
		slice_t k = iter_key(it);
		FUZZ_CHECK(ikey_valid(k) && iter_value(it).len > 0, "malformed entry handed out");
		if (n > 0) {
			int c = ikey_compare(slice_make(prev, prev_len), k);
			FUZZ_CHECK(forward ? c < 0 : c > 0, "entry %zu out of order, no error", n);
		}
		prev = realloc(prev, k.len);
		memcpy(prev, k.data, k.len);
		prev_len = k.len;
		if (keys != NULL && n < MAX_GETS) {
			keys[n] = malloc(k.len);
			memcpy(keys[n], k.data, k.len);
			klens[n] = k.len;
		}
		FUZZ_CHECK(++n <= size, "more entries than bytes");
	}
	free(prev);
	int rc = iter_status(it);
	if (rc != WB_OK) {
		FUZZ_CHECK(rc == WB_ECORRUPT, "scan: %s", wb_strerror(rc));
		check_message(rc);
	}
	iter_destroy(it);
	*count = n;
	return rc == WB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_in_t in = fuzz_in(data, size);
	bool fix = fuzz_u8(&in) & 1;
	mem_env_t *me = mem_env_new();
	if (me == NULL || mem_env_put(me, PATH, in.p, in.left) != WB_OK) {
		mem_env_free(me);
		return 0;
	}
	size_t len;
	uint8_t *file = mem_env_file(me, PATH, &len);
	if (fix)
		fix_checksums(file, len);

	err_clear();
	sst_reader_t *r;
	int rc = sst_reader_open(mem_env_get(me), PATH, &r);
	if (rc != WB_OK) {
		FUZZ_CHECK(rc == WB_ECORRUPT || rc == WB_EFORMAT, "open: %s", wb_strerror(rc));
		check_message(rc);
		mem_env_free(me);
		return 0;
	}
	uint8_t *keys[MAX_GETS];
	size_t klens[MAX_GETS], nfwd, nback;
	bool clean = scan(r, true, len, &nfwd, keys, klens);
	bool clean_back = scan(r, false, len, &nback, NULL, NULL);
	if (clean && clean_back)
		FUZZ_CHECK(nfwd == nback, "%zu entries forward, %zu backward", nfwd, nback);

	err_clear();
	rc = sst_reader_verify(r);
	bool verified = rc == WB_OK;
	if (rc != WB_OK) {
		FUZZ_CHECK(rc == WB_ECORRUPT, "verify: %s", wb_strerror(rc));
		check_message(rc);
	} else {
		FUZZ_CHECK(clean && clean_back, "verify passes a table that does not scan");
		FUZZ_CHECK(nfwd == sst_reader_props(r)->entries,
		           "verify passes %zu entries, props say %llu", nfwd,
		           (unsigned long long)sst_reader_props(r)->entries);
	}
	size_t ngets = nfwd < MAX_GETS ? nfwd : MAX_GETS;
	for (size_t i = 0; i < ngets; i++) {
		slice_t ik = slice_make(keys[i], klens[i]);
		struct want w = {ik, false};
		err_clear();
		rc = sst_reader_get(r, ikey_tree_key(ik), ikey_ts(ik), on_found, &w);
		if (rc == WB_ECORRUPT)
			check_message(rc);
		else
			FUZZ_CHECK(rc == WB_OK || rc == WB_ENOTFOUND, "get: %s", wb_strerror(rc));
		if (verified && sst_reader_may_contain(r, ikey_tree_key(ik)))
			FUZZ_CHECK(rc == WB_OK && w.found,
			           "get misses entry %zu of a verified table", i);
		free(keys[i]);
	}
	sst_reader_unref(r);
	mem_env_free(me);
	return 0;
}
