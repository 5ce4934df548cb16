/*
 * merge_iter.c -- k-way merge of internal iterators (merge_iter.h).
 *
 * A linear scan picks the smallest (or largest) child: there are rarely
 * more than a dozen children, where a heap would not pay for itself.
 */
#include "table/merge_iter.h"

#include <stdlib.h>

#include "table/ikey.h"

enum { FORWARD, REVERSE };

typedef struct merge_iter {
	iter_t base;
	iter_t **children;
	int n;
	int current; /* index of the child under the cursor; -1 when invalid */
	int direction;
} merge_iter_t;

static void find_smallest(merge_iter_t *m)
{
	int best = -1;
	for (int i = 0; i < m->n; i++) {
		if (!iter_valid(m->children[i]))
			continue;
		if (best < 0 || ikey_compare(iter_key(m->children[i]), iter_key(m->children[best])) < 0)
			best = i;
	}
	m->current = best;
}

static void find_largest(merge_iter_t *m)
{
	int best = -1;
	for (int i = 0; i < m->n; i++) {
		if (!iter_valid(m->children[i]))
			continue;
		if (best < 0 || ikey_compare(iter_key(m->children[i]), iter_key(m->children[best])) >= 0)
			best = i;
	}
	m->current = best;
}

static bool m_valid(const iter_t *i)
{
	return ((const merge_iter_t *)i)->current >= 0;
}

static void m_seek_first(iter_t *i)
{
	merge_iter_t *m = (merge_iter_t *)i;
	for (int c = 0; c < m->n; c++)
		iter_seek_first(m->children[c]);
	m->direction = FORWARD;
	find_smallest(m);
}

static void m_seek_last(iter_t *i)
{
	merge_iter_t *m = (merge_iter_t *)i;
	for (int c = 0; c < m->n; c++)
		iter_seek_last(m->children[c]);
	m->direction = REVERSE;
	find_largest(m);
}

static void m_seek(iter_t *i, slice_t target)
{
	merge_iter_t *m = (merge_iter_t *)i;
	for (int c = 0; c < m->n; c++)
		iter_seek(m->children[c], target);
	m->direction = FORWARD;
	find_smallest(m);
}

static void m_seek_for_prev(iter_t *i, slice_t target)
{
	merge_iter_t *m = (merge_iter_t *)i;
	for (int c = 0; c < m->n; c++)
		iter_seek_for_prev(m->children[c], target);
	m->direction = REVERSE;
	find_largest(m);
}

static void m_next(iter_t *i)
{
	merge_iter_t *m = (merge_iter_t *)i;
	iter_t *cur = m->children[m->current];
	if (m->direction != FORWARD) {
		/* Every other child must move to its first entry after the key;
		 * an equal key in an older child belongs after ours, a newer one
		 * before it (and was already passed). A child can hold the key
		 * more than once (a batch that wrote it twice), so skip them all. */
		slice_t key = iter_key(cur);
		for (int c = 0; c < m->n; c++) {
			if (c == m->current)
				continue;
			iter_t *ch = m->children[c];
			iter_seek(ch, key);
			while (iter_valid(ch) && c < m->current && ikey_compare(iter_key(ch), key) == 0)
				iter_next(ch);
		}
		m->direction = FORWARD;
	}
	iter_next(cur);
	find_smallest(m);
}

static void m_prev(iter_t *i)
{
	merge_iter_t *m = (merge_iter_t *)i;
	iter_t *cur = m->children[m->current];
	if (m->direction != REVERSE) {
		/* The mirror image: equal keys in older children come before ours
		 * going backward and were passed; skip every copy. */
		slice_t key = iter_key(cur);
		for (int c = 0; c < m->n; c++) {
			if (c == m->current)
				continue;
			iter_t *ch = m->children[c];
			iter_seek_for_prev(ch, key);
			while (iter_valid(ch) && c > m->current && ikey_compare(iter_key(ch), key) == 0)
				iter_prev(ch);
		}
		m->direction = REVERSE;
	}
	iter_prev(cur);
	find_largest(m);
}

static slice_t m_key(const iter_t *i)
{
	const merge_iter_t *m = (const merge_iter_t *)i;
	return iter_key(m->children[m->current]);
}

static slice_t m_value(const iter_t *i)
{
	const merge_iter_t *m = (const merge_iter_t *)i;
	return iter_value(m->children[m->current]);
}

static int m_status(const iter_t *i)
{
	const merge_iter_t *m = (const merge_iter_t *)i;
	for (int c = 0; c < m->n; c++) {
		int rc = iter_status(m->children[c]);
		if (rc != WB_OK)
			return rc;
	}
	return WB_OK;
}

static void m_destroy(iter_t *i)
{
	merge_iter_t *m = (merge_iter_t *)i;
	for (int c = 0; c < m->n; c++)
		iter_destroy(m->children[c]);
	free(m->children);
	free(m);
}

static const struct iter_ops merge_iter_ops = {
	m_valid, m_seek_first, m_seek_last, m_seek,  m_seek_for_prev,
	m_next,  m_prev,       m_key,       m_value, m_status,
	m_destroy,
};

iter_t *merge_iter_new(iter_t **children, int n)
{
	merge_iter_t *m = calloc(1, sizeof(*m));
	iter_t **kids = malloc((size_t)(n > 0 ? n : 1) * sizeof(*kids));
	if (m == NULL || kids == NULL) {
		free(m);
		free(kids);
		for (int c = 0; c < n; c++)
			iter_destroy(children[c]);
		return NULL;
	}
	if (n > 0) /* children may be NULL when there are none */
		memcpy(kids, children, (size_t)n * sizeof(*kids));
	m->base.ops = &merge_iter_ops;
	m->children = kids;
	m->n = n;
	m->current = -1;
	return &m->base;
}
