/*
 * version.c -- versions, file metadata, edits and their encoding (version.h).
 *
 * Edit encoding (docs/format.md, "MANIFEST"): a sequence of fields, each a
 * varint tag followed by its value. Tags are on-disk: never renumber.
 */
#include "db/version.h"

#include <stdlib.h>

#include "util/error.h"
#include "util/grow.h"
#include "table/ikey.h"

enum edit_tag {
	TAG_LOG_NUMBER = 1,
	TAG_NEXT_FILE = 2,
	TAG_LAST_TS = 3,
	TAG_NEW_FILE = 4,
	TAG_DELETED_FILE = 5,
	TAG_VLOG_DISCARD = 6,
	TAG_VLOG_SEGMENT = 7,
	TAG_VLOG_DEAD_SEGMENT = 8,
	TAG_CLEAN_CLOSE = 9,
};

file_meta_t *file_meta_new(uint64_t number, uint64_t size, slice_t smallest, slice_t largest)
{
	file_meta_t *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->smallest = malloc(smallest.len ? smallest.len : 1);
	f->largest = malloc(largest.len ? largest.len : 1);
	if (f->smallest == NULL || f->largest == NULL) {
		free(f->smallest);
		free(f->largest);
		free(f);
		return NULL;
	}
	memcpy(f->smallest, smallest.data, smallest.len);
	memcpy(f->largest, largest.data, largest.len);
	f->smallest_len = smallest.len;
	f->largest_len = largest.len;
	f->number = number;
	f->size = size;
	atomic_init(&f->refs, 1);
	return f;
}

void file_meta_ref(file_meta_t *f)
{
	atomic_fetch_add(&f->refs, 1);
}

void file_meta_unref(file_meta_t *f)
{
	if (f != NULL && atomic_fetch_sub(&f->refs, 1) == 1) {
		sst_reader_unref(f->reader);
		free(f->smallest);
		free(f->largest);
		free(f);
	}
}

version_t *version_new_empty(void)
{
	version_t *v = calloc(1, sizeof(*v));
	if (v != NULL)
		atomic_init(&v->refs, 1);
	return v;
}

void version_ref(version_t *v)
{
	atomic_fetch_add(&v->refs, 1);
}

void version_unref(version_t *v)
{
	if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (int l = 0; l < NUM_LEVELS; l++) {
		for (int i = 0; i < v->nfiles[l]; i++)
			file_meta_unref(v->files[l][i]);
		free(v->files[l]);
	}
	free(v);
}

uint64_t version_level_bytes(const version_t *v, int level)
{
	return v->bytes[level];
}

/* Index of the first file in a sorted level whose largest tree key is >=
 * tree_key (nfiles when none). */
static int find_file(file_meta_t *const *files, int n, slice_t tree_key)
{
	int lo = 0, hi = n;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (slice_compare(ikey_tree_key(file_largest(files[mid])), tree_key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool may_hold(const file_meta_t *f, slice_t tree_key)
{
	return slice_compare(tree_key, ikey_tree_key(file_smallest(f))) >= 0 &&
	       slice_compare(tree_key, ikey_tree_key(file_largest(f))) <= 0;
}

int version_get(version_t *v, slice_t tree_key, uint64_t read_ts, found_fn found, void *arg)
{
	for (int i = 0; i < v->nfiles[0]; i++) {
		file_meta_t *f = v->files[0][i];
		if (!may_hold(f, tree_key))
			continue;
		int rc = sst_reader_get(f->reader, tree_key, read_ts, found, arg);
		if (rc != WB_ENOTFOUND)
			return rc;
	}
	for (int l = 1; l < NUM_LEVELS; l++) {
		int n = v->nfiles[l];
		if (n == 0)
			continue;
		int i = find_file(v->files[l], n, tree_key);
		if (i == n || !may_hold(v->files[l][i], tree_key))
			continue;
		int rc = sst_reader_get(v->files[l][i]->reader, tree_key, read_ts, found, arg);
		if (rc != WB_ENOTFOUND)
			return rc;
	}
	return WB_ENOTFOUND;
}

/* ---- level iterator: the tables of one sorted level, one after another ---- */

typedef struct level_iter {
	iter_t base;
	version_t *v; /* referenced */
	int level;
	int index;    /* file under cur; nfiles when none */
	iter_t *cur;
	int status;
} level_iter_t;

static void li_open(level_iter_t *li, int index)
{
	iter_destroy(li->cur);
	li->cur = NULL;
	li->index = index;
	if (index < 0 || index >= li->v->nfiles[li->level])
		return;
	li->cur = sst_reader_iter(li->v->files[li->level][index]->reader);
	if (li->cur == NULL)
		li->status = WB_ENOMEM;
}

static bool li_valid(const iter_t *i)
{
	const level_iter_t *li = (const level_iter_t *)i;
	return li->cur != NULL && iter_valid(li->cur);
}

/* When the current table is exhausted, step into the next (dir > 0) or
 * previous one, stopping at an error. */
static void li_skip(level_iter_t *li, int dir)
{
	while (li->cur != NULL && !iter_valid(li->cur)) {
		int rc = iter_status(li->cur);
		if (rc != WB_OK) {
			li->status = rc;
			iter_destroy(li->cur);
			li->cur = NULL;
			return;
		}
		li_open(li, li->index + dir);
		if (li->cur == NULL)
			return;
		if (dir > 0)
			iter_seek_first(li->cur);
		else
			iter_seek_last(li->cur);
	}
}

static void li_seek_first(iter_t *i)
{
	level_iter_t *li = (level_iter_t *)i;
	li_open(li, 0);
	if (li->cur != NULL)
		iter_seek_first(li->cur);
	li_skip(li, 1);
}

static void li_seek_last(iter_t *i)
{
	level_iter_t *li = (level_iter_t *)i;
	li_open(li, li->v->nfiles[li->level] - 1);
	if (li->cur != NULL)
		iter_seek_last(li->cur);
	li_skip(li, -1);
}

static void li_seek(iter_t *i, slice_t target)
{
	level_iter_t *li = (level_iter_t *)i;
	int n = li->v->nfiles[li->level];
	file_meta_t **files = li->v->files[li->level];
	int lo = 0, hi = n;
	while (lo < hi) { /* first file whose largest key >= target */
		int mid = lo + (hi - lo) / 2;
		if (ikey_compare(file_largest(files[mid]), target) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	li_open(li, lo);
	if (li->cur != NULL)
		iter_seek(li->cur, target);
	li_skip(li, 1);
}

static void li_seek_for_prev(iter_t *i, slice_t target)
{
	level_iter_t *li = (level_iter_t *)i;
	int n = li->v->nfiles[li->level];
	file_meta_t **files = li->v->files[li->level];
	int lo = 0, hi = n;
	while (lo < hi) { /* first file whose smallest key > target */
		int mid = lo + (hi - lo) / 2;
		if (ikey_compare(file_smallest(files[mid]), target) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	li_open(li, lo - 1);
	if (li->cur != NULL)
		iter_seek_for_prev(li->cur, target);
	li_skip(li, -1);
}

static void li_next(iter_t *i)
{
	level_iter_t *li = (level_iter_t *)i;
	iter_next(li->cur);
	li_skip(li, 1);
}

static void li_prev(iter_t *i)
{
	level_iter_t *li = (level_iter_t *)i;
	iter_prev(li->cur);
	li_skip(li, -1);
}

static slice_t li_key(const iter_t *i)
{
	return iter_key(((const level_iter_t *)i)->cur);
}

static slice_t li_value(const iter_t *i)
{
	return iter_value(((const level_iter_t *)i)->cur);
}

static int li_status(const iter_t *i)
{
	const level_iter_t *li = (const level_iter_t *)i;
	if (li->status != WB_OK)
		return li->status;
	return li->cur != NULL ? iter_status(li->cur) : WB_OK;
}

static void li_destroy(iter_t *i)
{
	level_iter_t *li = (level_iter_t *)i;
	iter_destroy(li->cur);
	version_unref(li->v);
	free(li);
}

static const struct iter_ops level_iter_ops = {
	li_valid, li_seek_first, li_seek_last, li_seek, li_seek_for_prev,
	li_next,  li_prev,       li_key,       li_value, li_status,
	li_destroy,
};

static iter_t *level_iter_new(version_t *v, int level)
{
	level_iter_t *li = calloc(1, sizeof(*li));
	if (li == NULL)
		return NULL;
	li->base.ops = &level_iter_ops;
	li->v = v;
	version_ref(v);
	li->level = level;
	li->index = -1;
	return &li->base;
}

int version_add_iters(version_t *v, iter_t **iters, int *n)
{
	for (int i = 0; i < v->nfiles[0]; i++) {
		iter_t *it = sst_reader_iter(v->files[0][i]->reader);
		if (it == NULL)
			return WB_ENOMEM;
		iters[(*n)++] = it;
	}
	for (int l = 1; l < NUM_LEVELS; l++) {
		if (v->nfiles[l] == 0)
			continue;
		iter_t *it = level_iter_new(v, l);
		if (it == NULL)
			return WB_ENOMEM;
		iters[(*n)++] = it;
	}
	return WB_OK;
}

/* ---- edits ---- */

void edit_init(version_edit_t *e)
{
	memset(e, 0, sizeof(*e));
}

void edit_destroy(version_edit_t *e)
{
	for (int i = 0; i < e->nadded; i++)
		file_meta_unref(e->added[i].meta);
	free(e->added);
	free(e->deleted);
	free(e->discards);
	free(e->segments);
	free(e->dead_segments);
	edit_init(e);
}

int edit_add_file(version_edit_t *e, int level, file_meta_t *f)
{
	if (!GROW_ONE(e->added, e->nadded, e->added_cap))
		return WB_ENOMEM;
	file_meta_ref(f);
	e->added[e->nadded++] = (new_file_t){ level, f };
	return WB_OK;
}

int edit_delete_file(version_edit_t *e, int level, uint64_t number)
{
	if (!GROW_ONE(e->deleted, e->ndeleted, e->deleted_cap))
		return WB_ENOMEM;
	e->deleted[e->ndeleted++] = (deleted_file_t){ level, number };
	return WB_OK;
}

int edit_add_discard(version_edit_t *e, uint64_t segment, uint64_t bytes)
{
	for (int i = 0; i < e->ndiscards; i++) {
		if (e->discards[i].segment == segment) {
			e->discards[i].bytes += bytes;
			return WB_OK;
		}
	}
	if (!GROW_ONE(e->discards, e->ndiscards, e->discards_cap))
		return WB_ENOMEM;
	e->discards[e->ndiscards++] = (vlog_discard_t){ segment, bytes };
	return WB_OK;
}

int edit_add_segment(version_edit_t *e, uint64_t segment)
{
	if (!GROW_ONE(e->segments, e->nsegments, e->segments_cap))
		return WB_ENOMEM;
	e->segments[e->nsegments++] = segment;
	return WB_OK;
}

int edit_delete_segment(version_edit_t *e, uint64_t segment, uint64_t wal)
{
	if (!GROW_ONE(e->dead_segments, e->ndead_segments, e->dead_segments_cap))
		return WB_ENOMEM;
	e->dead_segments[e->ndead_segments++] = (vlog_deleted_t){ segment, wal };
	return WB_OK;
}

int edit_encode(const version_edit_t *e, uint8_t **out, size_t *len)
{
	size_t cap = 96; /* the fixed fields */
	for (int i = 0; i < e->nadded; i++)
		cap += 12 * VARINT64_MAX + e->added[i].meta->smallest_len + e->added[i].meta->largest_len;
	cap += (size_t)e->ndeleted * 3 * VARINT64_MAX;
	cap += (size_t)e->ndiscards * 3 * VARINT64_MAX;
	cap += (size_t)e->nsegments * 2 * VARINT64_MAX;
	cap += (size_t)e->ndead_segments * 3 * VARINT64_MAX;
	uint8_t *buf = malloc(cap), *p = buf;
	if (buf == NULL)
		return WB_ENOMEM;
	if (e->has_log_number) {
		p += put_varint64(p, TAG_LOG_NUMBER);
		p += put_varint64(p, e->log_number);
	}
	if (e->has_next_file) {
		p += put_varint64(p, TAG_NEXT_FILE);
		p += put_varint64(p, e->next_file);
	}
	if (e->has_last_ts) {
		p += put_varint64(p, TAG_LAST_TS);
		p += put_varint64(p, e->last_ts);
	}
	if (e->has_clean_close) {
		p += put_varint64(p, TAG_CLEAN_CLOSE);
		p += put_varint64(p, e->clean_wal);
		p += put_varint64(p, e->clean_wal_size);
	}
	for (int i = 0; i < e->ndiscards; i++) {
		p += put_varint64(p, TAG_VLOG_DISCARD);
		p += put_varint64(p, e->discards[i].segment);
		p += put_varint64(p, e->discards[i].bytes);
	}
	for (int i = 0; i < e->nsegments; i++) {
		p += put_varint64(p, TAG_VLOG_SEGMENT);
		p += put_varint64(p, e->segments[i]);
	}
	for (int i = 0; i < e->ndead_segments; i++) {
		p += put_varint64(p, TAG_VLOG_DEAD_SEGMENT);
		p += put_varint64(p, e->dead_segments[i].segment);
		p += put_varint64(p, e->dead_segments[i].wal);
	}
	for (int i = 0; i < e->ndeleted; i++) {
		p += put_varint64(p, TAG_DELETED_FILE);
		p += put_varint64(p, (uint64_t)e->deleted[i].level);
		p += put_varint64(p, e->deleted[i].number);
	}
	for (int i = 0; i < e->nadded; i++) {
		const file_meta_t *f = e->added[i].meta;
		p += put_varint64(p, TAG_NEW_FILE);
		p += put_varint64(p, (uint64_t)e->added[i].level);
		p += put_varint64(p, f->number);
		p += put_varint64(p, f->size);
		p += put_varint64(p, f->smallest_len);
		memcpy(p, f->smallest, f->smallest_len);
		p += f->smallest_len;
		p += put_varint64(p, f->largest_len);
		memcpy(p, f->largest, f->largest_len);
		p += f->largest_len;
		p += put_varint64(p, f->min_ts);
		p += put_varint64(p, f->max_ts);
		p += put_varint64(p, f->entries);
	}
	*out = buf;
	*len = (size_t)(p - buf);
	return WB_OK;
}

static int decode_new_file(const uint8_t **pp, const uint8_t *end, version_edit_t *e)
{
	const uint8_t *p = *pp;
	uint64_t level, number, size, min_ts, max_ts, entries;
	slice_t smallest, largest;
	if ((p = get_varint64(p, end, &level)) == NULL || level >= NUM_LEVELS ||
	    (p = get_varint64(p, end, &number)) == NULL || (p = get_varint64(p, end, &size)) == NULL ||
	    (p = get_length_prefixed(p, end, &smallest)) == NULL ||
	    (p = get_length_prefixed(p, end, &largest)) == NULL ||
	    (p = get_varint64(p, end, &min_ts)) == NULL || (p = get_varint64(p, end, &max_ts)) == NULL ||
	    (p = get_varint64(p, end, &entries)) == NULL)
		return WB_ECORRUPT;
	/* Reads binary-search a level by these keys, so a range that ends
	 * before it starts would hide the table's keys. */
	if (!ikey_valid(smallest) || !ikey_valid(largest) || ikey_compare(smallest, largest) > 0)
		return WB_ECORRUPT;
	file_meta_t *f = file_meta_new(number, size, smallest, largest);
	if (f == NULL)
		return WB_ENOMEM;
	f->min_ts = min_ts;
	f->max_ts = max_ts;
	f->entries = entries;
	int rc = edit_add_file(e, (int)level, f);
	file_meta_unref(f);
	*pp = p;
	return rc;
}

int edit_decode(slice_t rec, version_edit_t *e)
{
	const uint8_t *p = rec.data, *end = rec.data + rec.len;
	edit_init(e);
	while (p < end) {
		uint64_t tag, a, b;
		int rc = WB_OK;
		if ((p = get_varint64(p, end, &tag)) == NULL)
			goto corrupt;
		switch (tag) {
		case TAG_LOG_NUMBER:
			if ((p = get_varint64(p, end, &e->log_number)) == NULL)
				goto corrupt;
			e->has_log_number = true;
			break;
		case TAG_NEXT_FILE:
			if ((p = get_varint64(p, end, &e->next_file)) == NULL)
				goto corrupt;
			e->has_next_file = true;
			break;
		case TAG_LAST_TS:
			if ((p = get_varint64(p, end, &e->last_ts)) == NULL)
				goto corrupt;
			e->has_last_ts = true;
			break;
		case TAG_DELETED_FILE:
			if ((p = get_varint64(p, end, &a)) == NULL || a >= NUM_LEVELS ||
			    (p = get_varint64(p, end, &b)) == NULL)
				goto corrupt;
			rc = edit_delete_file(e, (int)a, b);
			break;
		case TAG_NEW_FILE:
			rc = decode_new_file(&p, end, e);
			break;
		case TAG_VLOG_DISCARD:
			if ((p = get_varint64(p, end, &a)) == NULL || (p = get_varint64(p, end, &b)) == NULL)
				goto corrupt;
			rc = edit_add_discard(e, a, b);
			break;
		case TAG_VLOG_SEGMENT:
			if ((p = get_varint64(p, end, &a)) == NULL)
				goto corrupt;
			rc = edit_add_segment(e, a);
			break;
		case TAG_VLOG_DEAD_SEGMENT:
			if ((p = get_varint64(p, end, &a)) == NULL || (p = get_varint64(p, end, &b)) == NULL)
				goto corrupt;
			rc = edit_delete_segment(e, a, b);
			break;
		case TAG_CLEAN_CLOSE:
			if ((p = get_varint64(p, end, &e->clean_wal)) == NULL ||
			    (p = get_varint64(p, end, &e->clean_wal_size)) == NULL)
				goto corrupt;
			e->has_clean_close = true;
			break;
		default:
			goto corrupt;
		}
		if (rc != WB_OK) {
			edit_destroy(e);
			return rc;
		}
	}
	return WB_OK;
corrupt:
	edit_destroy(e);
	return WB_ECORRUPT;
}

static int cmp_l0(const void *a, const void *b)
{
	const file_meta_t *x = *(file_meta_t *const *)a, *y = *(file_meta_t *const *)b;
	return x->number > y->number ? -1 : x->number < y->number; /* newest first */
}

static int cmp_sorted(const void *a, const void *b)
{
	const file_meta_t *x = *(file_meta_t *const *)a, *y = *(file_meta_t *const *)b;
	return ikey_compare(file_smallest(x), file_smallest(y));
}

int version_apply(const version_t *base, const version_edit_t *e, version_t **out)
{
	version_t *v = version_new_empty();
	if (v == NULL)
		return WB_ENOMEM;
	for (int l = 0; l < NUM_LEVELS; l++) {
		int cap = base->nfiles[l];
		for (int i = 0; i < e->nadded; i++)
			cap += e->added[i].level == l;
		if (cap == 0)
			continue;
		v->files[l] = malloc((size_t)cap * sizeof(file_meta_t *));
		if (v->files[l] == NULL) {
			version_unref(v);
			return WB_ENOMEM;
		}
		for (int i = 0; i < base->nfiles[l]; i++) {
			file_meta_t *f = base->files[l][i];
			bool gone = false;
			for (int d = 0; d < e->ndeleted && !gone; d++)
				gone = e->deleted[d].level == l && e->deleted[d].number == f->number;
			if (gone)
				continue;
			file_meta_ref(f);
			v->files[l][v->nfiles[l]++] = f;
		}
		for (int i = 0; i < e->nadded; i++) {
			if (e->added[i].level != l)
				continue;
			file_meta_ref(e->added[i].meta);
			v->files[l][v->nfiles[l]++] = e->added[i].meta;
		}
		qsort(v->files[l], (size_t)v->nfiles[l], sizeof(file_meta_t *), l == 0 ? cmp_l0 : cmp_sorted);
		for (int i = 0; i < v->nfiles[l]; i++)
			v->bytes[l] += v->files[l][i]->size;
		/* L1..L6 must stay disjoint (reads binary-search them); an edit
		 * that breaks that is a bug caught here, not a silent loss. */
		for (int i = 0; l > 0 && i + 1 < v->nfiles[l]; i++) {
			if (slice_compare(ikey_tree_key(file_largest(v->files[l][i])),
					  ikey_tree_key(file_smallest(v->files[l][i + 1]))) >= 0) {
				/* The message first: unref frees v's file arrays. */
				int rc = err_set(WB_ECORRUPT,
						 "version edit makes tables %06llu and %06llu overlap in L%d",
						 (unsigned long long)v->files[l][i]->number,
						 (unsigned long long)v->files[l][i + 1]->number, l);
				version_unref(v);
				return rc;
			}
		}
	}
	int total_before = 0, total_after = 0;
	for (int l = 0; l < NUM_LEVELS; l++) {
		total_before += base->nfiles[l];
		total_after += v->nfiles[l];
	}
	if (total_after != total_before + e->nadded - e->ndeleted) {
		version_unref(v);
		return err_set(WB_ECORRUPT, "version edit deletes a file that is not in the tree");
	}
	*out = v;
	return WB_OK;
}
