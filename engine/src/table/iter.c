/*
 * iter.c -- the empty iterator (see iter.h).
 *
 * Returned where a source has nothing to offer (an empty level) or could not
 * be opened: a merge can then treat every source alike, and an error stays
 * visible through status() instead of being lost at construction time. It
 * has no state beyond its status, so it is trivially safe for its one user.
 */
#include "table/iter.h"

#include <stdlib.h>

#include "wombat.h"

struct empty_iter {
	iter_t base;
	int status;
};

static bool empty_valid(const iter_t *it)
{
	return false;
}

static void empty_seek_noop(iter_t *it)
{
}

static void empty_seek_target(iter_t *it, slice_t target)
{
}

/* next/prev/key/value REQUIRE a valid iterator, which this never is; they
 * still return something harmless rather than trusting every caller. */
static slice_t empty_slice(const iter_t *it)
{
	return slice_make(NULL, 0);
}

static int empty_status(const iter_t *it)
{
	return ((const struct empty_iter *)it)->status;
}

static void empty_destroy(iter_t *it)
{
	free(it);
}

static const struct iter_ops empty_ops = {
	.valid = empty_valid,
	.seek_first = empty_seek_noop,
	.seek_last = empty_seek_noop,
	.seek = empty_seek_target,
	.seek_for_prev = empty_seek_target,
	.next = empty_seek_noop,
	.prev = empty_seek_noop,
	.key = empty_slice,
	.value = empty_slice,
	.status = empty_status,
	.destroy = empty_destroy,
};

iter_t *iter_new_empty(int rc)
{
	struct empty_iter *it = malloc(sizeof(*it));
	if (it == NULL)
		return NULL;
	it->base.ops = &empty_ops;
	it->status = rc;
	return &it->base;
}
