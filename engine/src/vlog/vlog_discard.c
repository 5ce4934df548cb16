/*
 * vlog_discard.c -- the sorted map of discarded value-log bytes per segment
 * (vlog_discard.h). Segments number in the tens to thousands, so a sorted
 * array beats anything cleverer: one binary search per lookup, a memmove
 * per new segment. No locking here; the owner serializes.
 */
#include "vlog/vlog_discard.h"

#include <stdlib.h>
#include <string.h>

#include "wombat.h"
#include "util/grow.h"

void discard_map_init(discard_map_t *m)
{
	memset(m, 0, sizeof(*m));
}

void discard_map_destroy(discard_map_t *m)
{
	free(m->e);
	memset(m, 0, sizeof(*m));
}

/* Index of the first entry whose segment is >= segment. */
static int lower_bound(const discard_map_t *m, uint64_t segment)
{
	int lo = 0, hi = m->n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (m->e[mid].segment < segment)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int discard_map_add(discard_map_t *m, uint64_t segment, uint64_t bytes)
{
	int i = lower_bound(m, segment);
	if (i < m->n && m->e[i].segment == segment) {
		m->e[i].bytes += bytes;
		return WB_OK;
	}
	if (!GROW_ONE(m->e, m->n, m->cap))
		return WB_ENOMEM;
	memmove(m->e + i + 1, m->e + i, (size_t)(m->n - i) * sizeof(*m->e));
	m->e[i] = (discard_entry_t){ segment, bytes };
	m->n++;
	return WB_OK;
}

uint64_t discard_map_get(const discard_map_t *m, uint64_t segment)
{
	int i = lower_bound(m, segment);
	return i < m->n && m->e[i].segment == segment ? m->e[i].bytes : 0;
}

void discard_map_remove(discard_map_t *m, uint64_t segment)
{
	int i = lower_bound(m, segment);
	if (i < m->n && m->e[i].segment == segment) {
		memmove(m->e + i, m->e + i + 1, (size_t)(m->n - i - 1) * sizeof(*m->e));
		m->n--;
	}
}

uint64_t discard_map_total(const discard_map_t *m)
{
	uint64_t t = 0;
	for (int i = 0; i < m->n; i++)
		t += m->e[i].bytes;
	return t;
}
