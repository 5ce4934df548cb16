/*
 * grow.h -- growing a heap array by doubling, the one way every module
 * extends a buffer it appends to (amortised O(1) appends).
 */
#ifndef WB_GROW_H
#define WB_GROW_H

#include <stdbool.h>
#include <stddef.h>

/* Makes *buf (an array of *cap elements of elem bytes) hold at least need
 * elements. false when memory runs out or the size would overflow; *buf
 * and *cap are then unchanged. */
bool grow_array(void **buf, size_t *cap, size_t need, size_t elem);

#endif /* WB_GROW_H */
