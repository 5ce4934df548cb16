/*
 * iter.h -- the one internal iterator interface.
 *
 * Memtables, SSTable blocks, whole SSTables, levels and the merge of all of
 * them are iterators over (internal key, stored value) pairs in internal-key
 * order (ikey.h), so they compose. An iterator is used by one thread at a
 * time. key() and value() stay valid until the iterator moves or is
 * destroyed.
 *
 * The stored value begins with the entry's meta byte (ikey.h); iterators
 * pass it through untouched.
 */
#ifndef WB_ITER_H
#define WB_ITER_H

#include "util/coding.h"
#include "wombat.h"

typedef struct iter iter_t;

struct iter_ops {
	bool (*valid)(const iter_t *it);
	void (*seek_first)(iter_t *it);
	void (*seek_last)(iter_t *it);
	/* First entry with internal key >= target. */
	void (*seek)(iter_t *it, slice_t target);
	/* Last entry with internal key <= target. */
	void (*seek_for_prev)(iter_t *it, slice_t target);
	void (*next)(iter_t *it); /* REQUIRES: valid */
	void (*prev)(iter_t *it); /* REQUIRES: valid */
	slice_t (*key)(const iter_t *it);   /* REQUIRES: valid */
	slice_t (*value)(const iter_t *it); /* REQUIRES: valid */
	/* WB_OK, or the error that made the iterator invalid (it is then !valid). */
	int (*status)(const iter_t *it);
	void (*destroy)(iter_t *it);
};

/* Every iterator struct starts with this. */
struct iter {
	const struct iter_ops *ops;
};

static inline bool iter_valid(const iter_t *it) { return it->ops->valid(it); }
static inline void iter_seek_first(iter_t *it) { it->ops->seek_first(it); }
static inline void iter_seek_last(iter_t *it) { it->ops->seek_last(it); }
static inline void iter_seek(iter_t *it, slice_t t) { it->ops->seek(it, t); }
static inline void iter_seek_for_prev(iter_t *it, slice_t t) { it->ops->seek_for_prev(it, t); }
static inline void iter_next(iter_t *it) { it->ops->next(it); }
static inline void iter_prev(iter_t *it) { it->ops->prev(it); }
static inline slice_t iter_key(const iter_t *it) { return it->ops->key(it); }
static inline slice_t iter_value(const iter_t *it) { return it->ops->value(it); }
static inline int iter_status(const iter_t *it) { return it->ops->status(it); }

static inline void iter_destroy(iter_t *it)
{
	if (it != NULL)
		it->ops->destroy(it);
}

/* An iterator with no entries whose status is rc (WB_OK for plain empty).
 * NULL only when memory runs out. */
iter_t *iter_new_empty(int rc);

#endif /* WB_ITER_H */
