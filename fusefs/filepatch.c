/*
 * filepatch.c -- the changed byte ranges of a file in the store
 * (filepatch.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filepatch.h"

void filepatch_init(filepatch *p, uint64_t size)
{
	memset(p, 0, sizeof(*p));
	p->size = p->keep = p->base = size;
}

static void drop_extents(filepatch *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->ext[i].data);
	p->n = 0;
	p->bytes = 0;
}

void filepatch_free(filepatch *p)
{
	drop_extents(p);
	free(p->ext);
	p->ext = NULL;
	p->cap = 0;
}

bool filepatch_dirty(const filepatch *p)
{
	return p->n > 0 || p->size != p->base || p->keep != p->base;
}

/* Makes room for cap bytes in e, doubling. */
static int extent_reserve(patch_extent *e, size_t need)
{
	if (need <= e->cap)
		return 0;
	size_t cap = e->cap ? e->cap : 4096;
	while (cap < need)
		cap *= 2;
	uint8_t *d = realloc(e->data, cap);
	if (d == NULL)
		return -ENOMEM;
	e->data = d;
	e->cap = cap;
	return 0;
}

/* The first extent that ends at or after off. */
static size_t first_reaching(const filepatch *p, uint64_t off)
{
	size_t lo = 0, hi = p->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->ext[mid].off + p->ext[mid].len < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int filepatch_write(filepatch *p, uint64_t off, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	uint64_t end = off + len;
	/* Extents [i, j) touch or adjoin [off, end): they merge into one. */
	size_t i = first_reaching(p, off), j = i;
	while (j < p->n && p->ext[j].off <= end)
		j++;
	if (i == j) { /* a new extent at i */
		if (p->n == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 8;
			patch_extent *e = realloc(p->ext, cap * sizeof(*e));
			if (e == NULL)
				return -ENOMEM;
			p->ext = e;
			p->cap = cap;
		}
		patch_extent ne = { .off = off };
		if (extent_reserve(&ne, len) != 0)
			return -ENOMEM;
		memcpy(ne.data, data, len);
		ne.len = len;
		memmove(p->ext + i + 1, p->ext + i, (p->n - i) * sizeof(*p->ext));
		p->ext[i] = ne;
		p->n++;
		p->bytes += len;
	} else {
		patch_extent *e = &p->ext[i];
		uint64_t start = e->off < off ? e->off : off;
		uint64_t last_end = p->ext[j - 1].off + p->ext[j - 1].len;
		uint64_t new_end = last_end > end ? last_end : end;
		size_t new_len = (size_t)(new_end - start);
		if (start < e->off) { /* grows at the front: into a new buffer */
			patch_extent ne = { .off = start };
			if (extent_reserve(&ne, new_len) != 0)
				return -ENOMEM;
			memcpy(ne.data + (e->off - start), e->data, e->len);
			free(e->data);
			*e = ne;
		} else if (extent_reserve(e, new_len) != 0) {
			return -ENOMEM;
		}
		uint64_t old_bytes = e->len;
		for (size_t k = i + 1; k < j; k++) { /* the others' bytes, then free them */
			memcpy(e->data + (p->ext[k].off - start), p->ext[k].data, p->ext[k].len);
			old_bytes += p->ext[k].len;
			free(p->ext[k].data);
		}
		memcpy(e->data + (off - start), data, len);
		e->len = new_len;
		memmove(p->ext + i + 1, p->ext + j, (p->n - j) * sizeof(*p->ext));
		p->n -= j - i - 1;
		p->bytes += new_len - old_bytes;
	}
	if (end > p->size)
		p->size = end;
	return 0;
}

int filepatch_truncate(filepatch *p, uint64_t size)
{
	while (p->n > 0 && p->ext[p->n - 1].off >= size) {
		p->bytes -= p->ext[p->n - 1].len;
		free(p->ext[--p->n].data);
	}
	if (p->n > 0) {
		patch_extent *e = &p->ext[p->n - 1];
		if (e->off + e->len > size) {
			p->bytes -= e->len - (size - e->off);
			e->len = (size_t)(size - e->off);
		}
	}
	if (size < p->keep)
		p->keep = size;
	p->size = size;
	return 0;
}

void filepatch_overlay(const filepatch *p, uint64_t off, uint8_t *buf, size_t len)
{
	uint64_t end = off + len;
	for (size_t i = first_reaching(p, off); i < p->n && p->ext[i].off < end; i++) {
		const patch_extent *e = &p->ext[i];
		uint64_t a = e->off > off ? e->off : off;
		uint64_t b = e->off + e->len < end ? e->off + e->len : end;
		if (a < b)
			memcpy(buf + (a - off), e->data + (a - e->off), (size_t)(b - a));
	}
}

void filepatch_committed(filepatch *p)
{
	drop_extents(p);
	p->keep = p->base = p->size;
}
