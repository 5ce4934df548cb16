/*
 * grow.c -- doubling growth of heap arrays (grow.h).
 */
#include "util/grow.h"

#include <stdint.h>
#include <stdlib.h>

bool grow_array(void **buf, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 64;
	while (n < need) {
		if (n > SIZE_MAX / 2 / elem)
			return false;
		n *= 2;
	}
	void *p = realloc(*buf, n * elem);
	if (p == NULL)
		return false;
	*buf = p;
	*cap = n;
	return true;
}
