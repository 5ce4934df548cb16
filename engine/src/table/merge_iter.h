/*
 * merge_iter.h -- merges sorted iterators into one.
 *
 * Children are given newest source first (memtable, frozen memtables, L0
 * newest first, then L1..L6). Where two children hold an equal internal
 * key, the newer child's entry comes first going forward (and last going
 * backward), so "first seen" always means "newest". A child may hold one
 * internal key several times (a batch that wrote a key twice); its copies
 * come out together, in the child's own order. One thread at a time.
 */
#ifndef WB_MERGE_ITER_H
#define WB_MERGE_ITER_H

#include "table/iter.h"

/* Takes ownership of the n children (destroyed with the merge, or right
 * away when this fails); children may be NULL when n is 0. NULL on out of
 * memory. */
iter_t *merge_iter_new(iter_t **children, int n);

#endif /* WB_MERGE_ITER_H */
