/*
 * compaction.c -- picking, running and installing compactions
 * (compaction.h), and the compaction threads.
 *
 * Inputs are marked busy in db->busy (a small set of file numbers, under
 * mu) so that concurrent compactions never share a table. Replaced tables
 * are not deleted at install: readers may still hold the old version. They
 * go on db->obsolete, and db_delete_obsolete_tables() removes a table once
 * that list holds its last reference.
 */
#include "db/compaction.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/clock.h"
#include "db/db_impl.h"
#include "util/error.h"
#include "table/ikey.h"
#include "table/merge_iter.h"
#include "table/vptr.h"
#include "util/grow.h"

struct compaction {
	int level, output_level;
	file_meta_t **in[2];
	int nin[2];
	version_t *base; /* the version the inputs were chosen from */
	/* The read timestamps that must still find their versions, ascending;
	 * the last is the horizon, above which every version stays
	 * (oracle_horizon). */
	uint64_t *snaps;
	int nsnaps;
	bool trivial;
};

uint64_t compaction_level_target(const wb_db *db, int level)
{
	uint64_t t = db->opts.level1_size;
	for (int l = 1; l < level; l++)
		t *= 10;
	return t;
}

double compaction_score(const wb_db *db, const version_t *v, int level)
{
	if (level == 0)
		return (double)v->nfiles[0] / (double)db->opts.l0_compaction_trigger;
	if (level == NUM_LEVELS - 1)
		return 0; /* the last level has nowhere to go */
	return (double)version_level_bytes(v, level) / (double)compaction_level_target(db, level);
}

uint64_t compaction_pending_bytes(const wb_db *db, const version_t *v)
{
	uint64_t debt = compaction_score(db, v, 0) >= 1.0 ? v->bytes[0] : 0;
	for (int l = 1; l < NUM_LEVELS - 1; l++) {
		uint64_t target = compaction_level_target(db, l);
		if (v->bytes[l] > target)
			debt += v->bytes[l] - target;
	}
	return debt;
}

static bool is_busy(const wb_db *db, uint64_t number)
{
	for (int i = 0; i < db->nbusy; i++)
		if (db->busy[i] == number)
			return true;
	return false;
}

static bool any_busy(const wb_db *db, file_meta_t **files, int n)
{
	for (int i = 0; i < n; i++)
		if (is_busy(db, files[i]->number))
			return true;
	return false;
}

static void set_busy(wb_db *db, compaction_t *c, bool busy)
{
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < c->nin[w]; i++) {
			uint64_t n = c->in[w][i]->number;
			if (busy) {
				if (db->nbusy < MAX_BUSY)
					db->busy[db->nbusy++] = n;
				continue;
			}
			for (int j = 0; j < db->nbusy; j++) {
				if (db->busy[j] == n) {
					db->busy[j] = db->busy[--db->nbusy];
					break;
				}
			}
		}
	}
}

static bool overlaps(const file_meta_t *f, const slice_t *lo, const slice_t *hi)
{
	if (lo != NULL && slice_compare(ikey_tree_key(file_largest(f)), *lo) < 0)
		return false;
	if (hi != NULL && slice_compare(ikey_tree_key(file_smallest(f)), *hi) > 0)
		return false;
	return true;
}

/* Files of `level` overlapping [lo, hi] into a new array. */
static int collect(const version_t *v, int level, const slice_t *lo, const slice_t *hi,
		   file_meta_t ***out, int *n)
{
	*n = 0;
	*out = malloc(((size_t)v->nfiles[level] + 1) * sizeof(file_meta_t *));
	if (*out == NULL)
		return WB_ENOMEM;
	for (int i = 0; i < v->nfiles[level]; i++)
		if (overlaps(v->files[level][i], lo, hi))
			(*out)[(*n)++] = v->files[level][i];
	return WB_OK;
}

/* The tree-key range covered by files. */
static void key_range(file_meta_t **files, int n, slice_t *lo, slice_t *hi)
{
	for (int i = 0; i < n; i++) {
		slice_t s = ikey_tree_key(file_smallest(files[i]));
		slice_t l = ikey_tree_key(file_largest(files[i]));
		if (i == 0 || slice_compare(s, *lo) < 0)
			*lo = s;
		if (i == 0 || slice_compare(l, *hi) > 0)
			*hi = l;
	}
}

void compaction_free(compaction_t *c)
{
	if (c == NULL)
		return;
	version_unref(c->base);
	free(c->snaps);
	free(c->in[0]);
	free(c->in[1]);
	free(c);
}

/* Completes c from its level-`level` inputs: adds the overlapping files
 * below, checks that none is busy, marks them all. NULL (c freed) when
 * busy or out of memory. REQUIRES: mu. */
static compaction_t *finish_pick(wb_db *db, compaction_t *c, bool *busy)
{
	slice_t lo = { 0 }, hi = { 0 };
	key_range(c->in[0], c->nin[0], &lo, &hi);
	bool is_busy_now = false;
	if (collect(c->base, c->output_level, &lo, &hi, &c->in[1], &c->nin[1]) != WB_OK ||
	    (is_busy_now = any_busy(db, c->in[0], c->nin[0]) || any_busy(db, c->in[1], c->nin[1]) ||
			   db->nbusy + c->nin[0] + c->nin[1] > MAX_BUSY)) {
		if (busy != NULL)
			*busy = is_busy_now;
		compaction_free(c);
		return NULL;
	}
	c->trivial = c->nin[1] == 0 && c->nin[0] == 1;
	if (oracle_horizon(&db->oracle, atomic_load(&db->visible_ts), &c->snaps, &c->nsnaps) !=
	    WB_OK) {
		if (busy != NULL)
			*busy = false;
		compaction_free(c);
		return NULL;
	}
	set_busy(db, c, true);
	return c;
}

static compaction_t *new_compaction(wb_db *db, int level)
{
	compaction_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->level = level;
	c->output_level = level + 1;
	c->base = db->vs.current;
	version_ref(c->base);
	return c;
}

/* A compaction of `level` by its score; NULL when its inputs are busy. */
static compaction_t *pick_level(wb_db *db, int level)
{
	version_t *v = db->vs.current;
	compaction_t *c = new_compaction(db, level);
	if (c == NULL)
		return NULL;
	if (level == 0) {
		/* An L0 table that overlaps no other L0 table and nothing in L1
		 * (a sequential load makes these) just moves down -- but not
		 * while an L0 merge runs: its output may span the gap this table
		 * sits in. */
		for (int i = any_busy(db, v->files[0], v->nfiles[0]) ? -1 : v->nfiles[0] - 1; i >= 0;
		     i--) {
			file_meta_t *f = v->files[0][i];
			slice_t lo = ikey_tree_key(file_smallest(f)), hi = ikey_tree_key(file_largest(f));
			bool alone = !is_busy(db, f->number);
			for (int j = 0; j < v->nfiles[0] && alone; j++)
				alone = j == i || !overlaps(v->files[0][j], &lo, &hi);
			for (int j = 0; j < v->nfiles[1] && alone; j++)
				alone = !overlaps(v->files[1][j], &lo, &hi);
			if (!alone)
				continue;
			c->in[0] = malloc(sizeof(file_meta_t *));
			if (c->in[0] == NULL) {
				compaction_free(c);
				return NULL;
			}
			c->in[0][0] = f;
			c->nin[0] = 1;
			return finish_pick(db, c, NULL);
		}
		/* Flushed tables usually overlap each other: take them all. */
		if (collect(v, 0, NULL, NULL, &c->in[0], &c->nin[0]) != WB_OK) {
			compaction_free(c);
			return NULL;
		}
		return finish_pick(db, c, NULL);
	}
	/* Round robin through the level, starting after the last compacted key. */
	c->in[0] = malloc(sizeof(file_meta_t *));
	if (c->in[0] == NULL) {
		compaction_free(c);
		return NULL;
	}
	int n = v->nfiles[level], start = 0;
	if (db->vs.compact_pointer[level] != NULL) {
		slice_t ptr = slice_make(db->vs.compact_pointer[level], db->vs.compact_pointer_len[level]);
		while (start < n && ikey_compare(file_smallest(v->files[level][start]), ptr) <= 0)
			start++;
	}
	for (int k = 0; k < n; k++) {
		file_meta_t *f = v->files[level][(start + k) % n];
		if (is_busy(db, f->number))
			continue;
		c->in[0][0] = f;
		c->nin[0] = 1;
		compaction_t *got = finish_pick(db, c, NULL);
		if (got != NULL) {
			vset_set_compact_pointer(&db->vs, level, file_largest(f));
			return got;
		}
		/* finish_pick freed c: start over for the next candidate. */
		if ((c = new_compaction(db, level)) == NULL ||
		    (c->in[0] = malloc(sizeof(file_meta_t *))) == NULL) {
			compaction_free(c);
			return NULL;
		}
	}
	compaction_free(c);
	return NULL;
}

compaction_t *compaction_pick(wb_db *db)
{
	double score[NUM_LEVELS];
	for (int l = 0; l < NUM_LEVELS; l++)
		score[l] = compaction_score(db, db->vs.current, l);
	/* Most urgent first; a busy level lets the next one run meanwhile. */
	for (;;) {
		int best = -1;
		for (int l = 0; l < NUM_LEVELS - 1; l++)
			if (score[l] >= 1.0 && (best < 0 || score[l] > score[best]))
				best = l;
		if (best < 0)
			return NULL;
		compaction_t *c = pick_level(db, best);
		if (c != NULL)
			return c;
		score[best] = 0;
	}
}

compaction_t *compaction_pick_range(wb_db *db, int level, const slice_t *begin, const slice_t *end,
				    bool *busy)
{
	*busy = false;
	compaction_t *c = new_compaction(db, level);
	if (c == NULL)
		return NULL;
	/* L0 tables overlap each other: taking only those in the range could
	 * move a newer version below an older one left in L0. */
	bool all = level == 0;
	if (collect(db->vs.current, level, all ? NULL : begin, all ? NULL : end, &c->in[0], &c->nin[0]) !=
		    WB_OK ||
	    c->nin[0] == 0) {
		compaction_free(c);
		return NULL;
	}
	if (any_busy(db, c->in[0], c->nin[0])) {
		*busy = true;
		compaction_free(c);
		return NULL;
	}
	c = finish_pick(db, c, busy);
	return c;
}

/* ---- running ---- */

/* Versions at or below the horizon fall into stripes: stripe i holds the
 * timestamps in (snaps[i-1], snaps[i]]. Every reader of a stripe sees the
 * same newest version of a key, so only that one is kept. -1 above the
 * horizon, where every version stays. */
static int snapshot_stripe(const compaction_t *c, uint64_t ts)
{
	int lo = 0, hi = c->nsnaps; /* first snaps[i] >= ts */
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (c->snaps[mid] < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->nsnaps ? lo : -1;
}

/* Could a level below the output hold tree_key? Then a tombstone must stay. */
static bool exists_below(const compaction_t *c, slice_t tree_key)
{
	const version_t *v = c->base;
	for (int l = c->output_level + 1; l < NUM_LEVELS; l++) {
		int lo = 0, hi = v->nfiles[l];
		while (lo < hi) { /* first file whose largest key >= tree_key */
			int mid = lo + (hi - lo) / 2;
			if (slice_compare(ikey_tree_key(file_largest(v->files[l][mid])), tree_key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < v->nfiles[l] &&
		    slice_compare(tree_key, ikey_tree_key(file_smallest(v->files[l][lo]))) >= 0)
			return true;
	}
	return false;
}

typedef struct outputs {
	file_meta_t **files;
	int n, cap;
	sst_builder_t *builder;
	uint64_t number; /* of the table being built */
	uint64_t bytes;
} outputs_t;

static int finish_output(wb_db *db, outputs_t *o)
{
	if (o->builder == NULL)
		return WB_OK;
	sst_props_t props;
	int rc = sst_builder_finish(o->builder, &props);
	o->builder = NULL;
	if (rc != WB_OK)
		return rc;
	char path[PATH_MAX];
	db_filename(path, sizeof(path), db->dir, FILE_SST, o->number);
	file_meta_t *f = file_meta_new(o->number, props.file_size,
				       slice_make(props.smallest, props.smallest_len),
				       slice_make(props.largest, props.largest_len));
	if (f != NULL) {
		f->min_ts = props.min_ts;
		f->max_ts = props.max_ts;
		f->entries = props.entries;
	}
	sst_props_destroy(&props);
	if (f == NULL)
		rc = WB_ENOMEM;
	if (rc == WB_OK)
		rc = sst_reader_open(db->env, path, &f->reader);
	if (rc == WB_OK && !GROW_ONE(o->files, o->n, o->cap))
		rc = WB_ENOMEM;
	if (rc != WB_OK) {
		file_meta_unref(f);
		db->env->remove(db->env->ctx, path);
		return rc;
	}
	sst_reader_set_cache(f->reader, db->cache);
	o->bytes += f->size;
	o->files[o->n++] = f;
	return WB_OK;
}

static int add_output(wb_db *db, outputs_t *o, slice_t ikey, slice_t value)
{
	if (o->builder == NULL) {
		pthread_mutex_lock(&db->mu);
		o->number = vset_new_file_number(&db->vs);
		pthread_mutex_unlock(&db->mu);
		char path[PATH_MAX];
		db_filename(path, sizeof(path), db->dir, FILE_SST, o->number);
		sst_options_t so = {
			.block_size = db->opts.block_size,
			.restart_interval = 16,
			.bloom_bits_per_key = db->opts.bloom_bits_per_key,
		};
		int rc = sst_builder_new(db->env, path, &so, &o->builder);
		if (rc != WB_OK)
			return err_set(rc, "%s: cannot create: %s", path, wb_strerror(rc));
	}
	return sst_builder_add(o->builder, ikey, value);
}

static void discard_outputs(wb_db *db, outputs_t *o)
{
	sst_builder_abandon(o->builder);
	for (int i = 0; i < o->n; i++) {
		char path[PATH_MAX];
		db_filename(path, sizeof(path), db->dir, FILE_SST, o->files[i]->number);
		file_meta_unref(o->files[i]);
		db->env->remove(db->env->ctx, path);
	}
	free(o->files);
}

/* A version compaction drops: if it points into the value log, the space
 * it holds there becomes garbage, counted per segment in e. */
static int note_discard(version_edit_t *e, slice_t value)
{
	vptr_t p;
	if (value.len < 1 || !(value.data[0] & META_VALUE_PTR))
		return WB_OK;
	if (!vptr_decode(slice_make(value.data + 1, value.len - 1), &p))
		return err_set(WB_ECORRUPT, "malformed value pointer in a compaction input");
	return edit_add_discard(e, p.segment, p.length);
}

/* Adds a compaction's discards to the totals. (vset_apply_t.installed:
 * mu held.) ENOMEM drops them from memory only: the MANIFEST has them. */
static void add_discards(void *arg, const version_edit_t *e)
{
	wb_db *db = arg;
	for (int i = 0; i < e->ndiscards; i++)
		vlog_discard_add(&db->vlog, e->discards[i].segment, e->discards[i].bytes);
}

/* Merges the inputs into o; dropped value pointers are counted in e. */
static int merge_inputs(wb_db *db, compaction_t *c, outputs_t *o, version_edit_t *e,
			uint64_t *bytes_read)
{
	int n = c->nin[0] + c->nin[1];
	iter_t **kids = calloc((size_t)n + 1, sizeof(*kids));
	if (kids == NULL)
		return WB_ENOMEM;
	/* Newest first: L0 inputs are already in that order, then the level below. */
	int k = 0;
	for (int w = 0; w < 2; w++) {
		for (int i = 0; i < c->nin[w]; i++) {
			*bytes_read += c->in[w][i]->size;
			if ((kids[k++] = sst_reader_iter(c->in[w][i]->reader)) == NULL) {
				for (int j = 0; j < k - 1; j++)
					iter_destroy(kids[j]);
				free(kids);
				return WB_ENOMEM;
			}
		}
	}
	iter_t *m = merge_iter_new(kids, n);
	free(kids);
	if (m == NULL)
		return WB_ENOMEM;

	uint8_t *last = NULL; /* tree key of the previous entry */
	size_t last_len = 0, last_cap = 0;
	bool have_last = false;
	int kept_stripe = -1; /* stripe of the last version kept of this key */
	uint64_t last_ts = 0, paced = 0, merged = 0;
	int rc = WB_OK;
	for (iter_seek_first(m); rc == WB_OK && iter_valid(m); iter_next(m)) {
		slice_t ikey = iter_key(m), value = iter_value(m);
		slice_t tk = ikey_tree_key(ikey);
		uint64_t ts = ikey_ts(ikey);
		bool same_key = have_last && slice_compare(tk, slice_make(last, last_len)) == 0;
		if (same_key && ts == last_ts)
			continue; /* one version in two inputs: the first is the newest copy */
		if (!same_key) {
			/* A table may end only between keys: a key's versions never
			 * straddle two tables of one level. */
			if (o->builder != NULL && sst_builder_file_size(o->builder) >= db->opts.sst_target_size &&
			    (rc = finish_output(db, o)) != WB_OK)
				break;
			if (!grow_array((void **)&last, &last_cap, tk.len, 1)) {
				rc = WB_ENOMEM;
				break;
			}
			memcpy(last, tk.data, tk.len);
			last_len = tk.len;
			have_last = true;
			kept_stripe = -1;
		}
		last_ts = ts;
		int stripe = snapshot_stripe(c, ts);
		if (stripe >= 0) {
			if (stripe == kept_stripe) {
				/* hidden by a newer version every reader that could
				 * see this one sees instead */
				rc = note_discard(e, value);
				continue;
			}
			kept_stripe = stripe;
			if (stripe == 0 && value.len > 0 && (value.data[0] & META_TOMBSTONE) &&
			    !exists_below(c, tk))
				continue; /* every reader sees the deletion; nothing older to hide */
		}
		rc = add_output(db, o, ikey, value);
		if (rc == WB_OK && o->builder != NULL) {
			uint64_t size = o->bytes + sst_builder_file_size(o->builder);
			if (size - paced >= (1u << 20)) {
				rate_limiter_request(&db->limiter, size - paced);
				paced = size;
			}
		}
		if ((++merged & 4095) == 0) {
			pthread_mutex_lock(&db->mu);
			bool closing = db->closing;
			pthread_mutex_unlock(&db->mu);
			if (closing)
				rc = WB_ECLOSED;
		}
	}
	if (rc == WB_OK)
		rc = iter_status(m);
	iter_destroy(m);
	free(last);
	if (rc == WB_OK)
		rc = finish_output(db, o);
	return rc;
}

int compaction_run(wb_db *db, compaction_t *c)
{
	uint64_t start = clock_now_micros(db->env), bytes_read = 0;
	version_edit_t e;
	edit_init(&e);
	outputs_t o = { 0 };
	bool logged = false;
	int rc = WB_OK;
	for (int w = 0; w < 2 && rc == WB_OK; w++)
		for (int i = 0; i < c->nin[w] && rc == WB_OK; i++)
			rc = edit_delete_file(&e, w == 0 ? c->level : c->output_level, c->in[w][i]->number);
	if (c->trivial) {
		if (rc == WB_OK)
			rc = edit_add_file(&e, c->output_level, c->in[0][0]);
		if (rc == WB_OK)
			rc = vset_log_and_apply(&db->vs, &e, NULL, &logged);
		edit_destroy(&e);
		if (rc == WB_OK) {
			STAT_ADD(db, trivial_moves, 1);
			info_log(db->info, "moved %06llu.sst from L%d to L%d",
				 (unsigned long long)c->in[0][0]->number, c->level, c->output_level);
		}
		return rc;
	}
	if (rc == WB_OK)
		rc = merge_inputs(db, c, &o, &e, &bytes_read);
	for (int i = 0; i < o.n && rc == WB_OK; i++)
		rc = edit_add_file(&e, c->output_level, o.files[i]);
	/* The tables' names must be durable before the MANIFEST names them. */
	if (rc == WB_OK && o.n > 0)
		rc = db->env->sync_dir(db->env->ctx, db->dir);
	/* The totals change with the version (under mu), so that a MANIFEST
	 * snapshot written by the next edit has them. */
	const vset_apply_t how = { .arg = db, .installed = add_discards };
	if (rc == WB_OK)
		rc = vset_log_and_apply(&db->vs, &e, &how, &logged);
	edit_destroy(&e);
	if (rc != WB_OK) {
		if (logged) { /* the MANIFEST may name them: the next open decides */
			for (int i = 0; i < o.n; i++)
				file_meta_unref(o.files[i]);
			o.n = 0;
		}
		discard_outputs(db, &o);
		return rc;
	}
	for (int i = 0; i < o.n; i++)
		file_meta_unref(o.files[i]);
	free(o.files);

	/* The inputs are out of the tree; delete each once no reader has it. */
	pthread_mutex_lock(&db->mu);
	for (int w = 0; w < 2; w++)
		for (int i = 0; i < c->nin[w]; i++)
			db_add_obsolete(db, c->in[w][i]);
	pthread_mutex_unlock(&db->mu);

	uint64_t us = clock_now_micros(db->env) - start;
	STAT_ADD(db, compactions, 1);
	STAT_ADD(db, compaction_bytes_read, bytes_read);
	STAT_ADD(db, compaction_bytes_written, o.bytes);
	STAT_ADD(db, compaction_micros, us);
	info_log(db->info, "compacted %d tables of L%d and %d of L%d into %d tables of L%d: %.1f MiB read, %.1f MiB written in %llu ms",
		 c->nin[0], c->level, c->nin[1], c->output_level, o.n, c->output_level,
		 (double)bytes_read / 1048576.0, (double)o.bytes / 1048576.0,
		 (unsigned long long)(us / 1000));
	return WB_OK;
}

/* What c does, for the error state's message. */
static void describe(const compaction_t *c, char *buf, size_t len)
{
	if (c->trivial)
		snprintf(buf, len, "compaction moving %06llu.sst from L%d to L%d",
			 (unsigned long long)c->in[0][0]->number, c->level, c->output_level);
	else
		snprintf(buf, len, "compaction of %d tables of L%d and %d of L%d", c->nin[0], c->level,
			 c->nin[1], c->output_level);
}

void *db_compaction_thread(void *arg)
{
	wb_db *db = arg;
	pthread_mutex_lock(&db->mu);
	for (;;) {
		compaction_t *c = NULL;
		while (!db->closing) {
			/* After a failure every thread waits for the retry's time:
			 * the others' broadcasts must not make it a busy loop. */
			uint64_t wait = bgerror_retry_wait(&db->bg, BG_COMPACTION);
			if (wait > 0) {
				db_timed_wait(db, &db->compact_cv, wait);
				continue;
			}
			if (db->manual_compactions == 0 && (c = compaction_pick(db)) != NULL)
				break;
			pthread_cond_wait(&db->compact_cv, &db->mu);
		}
		if (db->closing) {
			if (c != NULL) {
				set_busy(db, c, false);
				compaction_free(c);
			}
			break;
		}
		db->running_compactions++;
		pthread_mutex_unlock(&db->mu);
		char what[128];
		describe(c, what, sizeof(what));
		err_clear(); /* the message of a failure is this run's own */
		int rc = compaction_run(db, c);
		/* Before the broadcasts below: a woken writer must see it. */
		if (rc == WB_OK) {
			bgerror_ok(&db->bg, BG_COMPACTION);
		} else if (rc != WB_ECLOSED) {
			STAT_ADD(db, bg_errors, 1);
			bgerror_fail(&db->bg, BG_COMPACTION, rc, "%s", what);
		}
		pthread_mutex_lock(&db->mu);
		set_busy(db, c, false);
		compaction_free(c);
		db->running_compactions--;
		pthread_cond_broadcast(&db->compact_cv);
		pthread_cond_broadcast(&db->room_cv);
		pthread_mutex_unlock(&db->mu);
		db_delete_obsolete_tables(db); /* c no longer pins its base version */
		pthread_mutex_lock(&db->mu);
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

int wb_compact_range(wb_db *db, const void *begin, size_t blen, const void *end, size_t elen)
{
	err_clear();
	if (db->opts.read_only)
		return WB_EREADONLY;
	int rc = wb_flush(db);
	if (rc != WB_OK)
		return rc;
	uint8_t *lo_buf = NULL, *hi_buf = NULL;
	slice_t lo, hi;
	if (begin != NULL) {
		if ((lo_buf = malloc(blen + 1)) == NULL)
			return WB_ENOMEM;
		lo_buf[0] = KS_USER;
		memcpy(lo_buf + 1, begin, blen);
		lo = slice_make(lo_buf, blen + 1);
	}
	if (end != NULL) {
		if ((hi_buf = malloc(elen + 1)) == NULL) {
			free(lo_buf);
			return WB_ENOMEM;
		}
		hi_buf[0] = KS_USER;
		memcpy(hi_buf + 1, end, elen);
		hi = slice_make(hi_buf, elen + 1);
	}
	pthread_mutex_lock(&db->mu);
	db->manual_compactions++;
	while (db->running_compactions > 0 && !db->closing)
		pthread_cond_wait(&db->compact_cv, &db->mu);
	int deepest = 0;
	for (int l = 0; l < NUM_LEVELS; l++)
		for (int i = 0; i < db->vs.current->nfiles[l]; i++)
			if (overlaps(db->vs.current->files[l][i], begin ? &lo : NULL, end ? &hi : NULL))
				deepest = l;
	if (deepest == 0)
		deepest = 1;
	for (int level = 0; rc == WB_OK && level < deepest && !db->closing; level++) {
		bool busy;
		compaction_t *c = compaction_pick_range(db, level, begin ? &lo : NULL, end ? &hi : NULL, &busy);
		if (c == NULL)
			continue;
		db->running_compactions++;
		pthread_mutex_unlock(&db->mu);
		rc = compaction_run(db, c);
		pthread_mutex_lock(&db->mu);
		set_busy(db, c, false);
		compaction_free(c);
		db->running_compactions--;
		pthread_mutex_unlock(&db->mu);
		db_delete_obsolete_tables(db);
		pthread_mutex_lock(&db->mu);
	}
	db->manual_compactions--;
	pthread_cond_broadcast(&db->compact_cv);
	pthread_cond_broadcast(&db->room_cv);
	pthread_mutex_unlock(&db->mu);
	free(lo_buf);
	free(hi_buf);
	/* Compaction works again (its failure is the caller's to handle:
	 * nobody retries this call). */
	if (rc == WB_OK)
		bgerror_ok(&db->bg, BG_COMPACTION);
	return rc;
}

void db_add_obsolete(wb_db *db, file_meta_t *f)
{
	if (!GROW_ONE(db->obsolete, db->nobsolete, db->obsolete_cap))
		return; /* the file stays until the next open removes it */
	file_meta_ref(f);
	db->obsolete[db->nobsolete++] = f;
	atomic_store(&db->obsolete_pending, db->nobsolete);
}

void db_delete_obsolete_tables(wb_db *db)
{
	file_meta_t *doomed[64];
	int n = 0;
	pthread_mutex_lock(&db->mu);
	for (int i = 0; i < db->nobsolete && n < 64;) {
		file_meta_t *f = db->obsolete[i];
		if (atomic_load(&f->refs) == 1) {
			doomed[n++] = f;
			db->obsolete[i] = db->obsolete[--db->nobsolete];
			atomic_store(&db->obsolete_pending, db->nobsolete);
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&db->mu);
	for (int i = 0; i < n; i++) {
		char path[PATH_MAX];
		db_filename(path, sizeof(path), db->dir, FILE_SST, doomed[i]->number);
		file_meta_unref(doomed[i]); /* closes the table first */
		db->env->remove(db->env->ctx, path);
	}
}
