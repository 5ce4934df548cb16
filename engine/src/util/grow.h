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

/* Makes room for one more element in the array arr, which has n elements
 * in use and room for cap (lvalues of any integer types), by grow_array.
 * Evaluates to false when memory runs out (then nothing changed). */
#define GROW_ONE(arr, n, cap)                                                                   \
	({                                                                                      \
		size_t grow_cap_ = (size_t)(cap);                                               \
		bool grow_ok_ = grow_array((void **)&(arr), &grow_cap_, (size_t)(n) + 1, sizeof(*(arr))); \
		if (grow_ok_)                                                                   \
			(cap) = grow_cap_;                                                      \
		grow_ok_;                                                                       \
	})

#endif /* WB_GROW_H */
