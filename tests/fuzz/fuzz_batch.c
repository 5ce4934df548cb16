/*
 * fuzz_batch.c -- fuzzes write-batch decoding (engine/src/db/batch.c,
 * docs/format.md "Write batch"): what WAL replay does with each record,
 * which holds one or more batches back to back.
 *
 * Input: the record. It is split into batches as replay splits it, and
 * each batch is walked entry by entry. Promises checked: splitting either
 * consumes the whole record or says WB_ECORRUPT; a batch the decoder
 * accepts is one the encoder could have written: re-encoding its entries
 * with batch_add (the one batch-entry encoder) gives exactly its bytes, so
 * replay never applies something no writer wrote.
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "db/batch.h"

struct reencode {
	wb_batch *b;
	uint32_t n;
};

static int add_again(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	struct reencode *re = arg;
	FUZZ_CHECK(tree_key.len >= 2, "a tree key of %zu bytes", tree_key.len);
	int rc = batch_add(re->b, meta, tree_key.data[0],
	                   slice_make(tree_key.data + 1, tree_key.len - 1), value);
	FUZZ_CHECK(rc == WB_OK,
	           "entry %u decodes but cannot be encoded: %s (meta 0x%02x, key %zu "
	           "bytes in keyspace %u, value %zu bytes)",
	           re->n, wb_strerror(rc), meta, tree_key.len - 1, tree_key.data[0], value.len);
	re->n++;
	return WB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	slice_t rest = slice_make(data, size);
	size_t batches = 0;
	while (rest.len > 0) {
		slice_t one;
		size_t before = rest.len;
		int rc = batch_split(&rest, &one);
		if (rc != WB_OK) {
			FUZZ_CHECK(rc == WB_ECORRUPT, "split: %s", wb_strerror(rc));
			break;
		}
		FUZZ_CHECK(rest.len < before && one.len + rest.len == before,
		           "split made no progress");
		FUZZ_CHECK(++batches <= size / BATCH_HEADER_SIZE, "more batches than fit");

		wb_batch *b;
		if (wb_batch_new(&b) != WB_OK)
			return 0;
		struct reencode re = {b, 0};
		rc = batch_iterate(one, add_again, &re);
		FUZZ_CHECK(rc == WB_OK, "a batch split off whole does not iterate: %s",
		           wb_strerror(rc));
		batch_set_ts(b, batch_ts(one));
		FUZZ_CHECK(re.n == batch_count_rep(one), "%u entries iterated, count says %u", re.n,
		           batch_count_rep(one));
		FUZZ_CHECK(b->len == one.len && memcmp(b->rep, one.data, one.len) == 0,
		           "batch %zu re-encodes to other bytes (%zu, was %zu)", batches, b->len,
		           one.len);
		wb_batch_free(b);
	}
	return 0;
}
