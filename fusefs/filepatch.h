/*
 * filepatch.h -- the changes made to a file that is already in the store,
 * until they are committed: the byte ranges written over its committed
 * contents, and how far it was cut.
 *
 * A file opened without O_TRUNC and written (an append, a database page, an
 * editor saving in place) must not be read whole first, nor written whole
 * at close: its node gets a patch, which holds only what changed, and the
 * commit writes only that (wb_txn_write_at and wb_txn_truncate, so the
 * store touches only the chunks the changes fall in). A read takes the
 * committed bytes below `keep` from the store and lays the patch over them.
 *
 * Extents are kept sorted and disjoint; a write touching or adjoining
 * extents merges with them, so a file appended to holds one extent that
 * grows (its buffer doubles). The caller serializes access (the node's
 * mutex) and bounds the dirty bytes by committing.
 */
#ifndef WOMBATFS_FILEPATCH_H
#define WOMBATFS_FILEPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct patch_extent {
	uint64_t off;
	size_t len, cap;
	uint8_t *data;
} patch_extent;

typedef struct filepatch {
	uint64_t size;     /* bytes of the file, the changes applied */
	uint64_t keep;     /* committed bytes below this are still the file's */
	uint64_t base;     /* bytes of the committed file when the patch began */
	patch_extent *ext; /* sorted by off, disjoint, not adjoining */
	size_t n, cap;
	uint64_t bytes;    /* bytes the extents hold */
} filepatch;

/* A patch over a committed file of `size` bytes, with no changes. */
void filepatch_init(filepatch *p, uint64_t size);
void filepatch_free(filepatch *p);

/* Each returns 0 or -ENOMEM. */
int filepatch_write(filepatch *p, uint64_t off, const void *data, size_t len);
int filepatch_truncate(filepatch *p, uint64_t size);

/* Whether there is anything to commit. */
bool filepatch_dirty(const filepatch *p);

/* buf holds bytes [off, off + len) of the file as the store has them
 * below keep (zeros from keep on); writes the patch's bytes over them. */
void filepatch_overlay(const filepatch *p, uint64_t off, uint8_t *buf, size_t len);

/* After a commit: the store now holds the file as patched. */
void filepatch_committed(filepatch *p);

#endif /* WOMBATFS_FILEPATCH_H */
