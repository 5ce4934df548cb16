/*
 * fuzz_edit.c -- fuzzes the decoding of version edits (engine/src/db/version.c,
 * docs/format.md "MANIFEST"), the records of the MANIFEST, and applying
 * them to a version as MANIFEST recovery does.
 *
 * Input: one record. Promises checked: edit_decode gives WB_OK or
 * WB_ECORRUPT (and frees everything either way); a decoded edit encodes
 * to bytes that decode to the same edit and encode to the same bytes again
 * (nothing decoded is lost or invented); every table it adds has a
 * well-formed key range (smallest <= largest); applying it to an empty
 * version, and then again to the result, gives a version or WB_ECORRUPT,
 * and L1..L6 of any version made stay sorted and disjoint.
 *
 * Build and run with `make fuzz` (see tests/fuzz/fuzz.h).
 */
#include "fuzz.h"

#include "table/ikey.h"
#include "db/version.h"

static void check_version(const version_t *v)
{
	for (int l = 1; l < NUM_LEVELS; l++)
		for (int i = 0; i + 1 < v->nfiles[l]; i++)
			FUZZ_CHECK(slice_compare(ikey_tree_key(file_largest(v->files[l][i])),
			                         ikey_tree_key(file_smallest(v->files[l][i + 1]))) <
			               0,
			           "L%d tables %d and %d overlap", l, i, i + 1);
}

static void apply(const version_t *base, const version_edit_t *e, version_t **out)
{
	*out = NULL;
	int rc = version_apply(base, e, out);
	FUZZ_CHECK(rc == WB_OK || rc == WB_ECORRUPT, "apply: %s", wb_strerror(rc));
	if (rc == WB_OK)
		check_version(*out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	version_edit_t e;
	int rc = edit_decode(slice_make(data, size), &e);
	if (rc != WB_OK) {
		FUZZ_CHECK(rc == WB_ECORRUPT, "decode: %s", wb_strerror(rc));
		return 0;
	}
	for (int i = 0; i < e.nadded; i++) {
		const file_meta_t *f = e.added[i].meta;
		FUZZ_CHECK(ikey_compare(file_smallest(f), file_largest(f)) <= 0,
		           "table %llu: smallest key after largest", (unsigned long long)f->number);
	}

	uint8_t *enc, *enc2;
	size_t len, len2;
	FUZZ_CHECK(edit_encode(&e, &enc, &len) == WB_OK, "encode");
	version_edit_t e2;
	FUZZ_CHECK(edit_decode(slice_make(enc, len), &e2) == WB_OK,
	           "an encoded edit does not decode");
	FUZZ_CHECK(edit_encode(&e2, &enc2, &len2) == WB_OK, "encode again");
	FUZZ_CHECK(len == len2 && memcmp(enc, enc2, len) == 0, "re-encoding changes the edit");
	FUZZ_CHECK(e.nadded == e2.nadded && e.ndeleted == e2.ndeleted &&
	               e.ndiscards == e2.ndiscards && e.nsegments == e2.nsegments &&
	               e.ndead_segments == e2.ndead_segments,
	           "the decoded edit lost parts");
	free(enc);
	free(enc2);
	edit_destroy(&e2);

	version_t *empty = version_new_empty(), *v1, *v2;
	apply(empty, &e, &v1);
	if (v1 != NULL) {
		apply(v1, &e, &v2);
		version_unref(v2);
	}
	version_unref(v1);
	version_unref(empty);
	edit_destroy(&e);
	return 0;
}
