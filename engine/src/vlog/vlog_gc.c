/*
 * vlog_gc.c -- value-log space reclaim: the "wb-vlog-gc" thread and
 * wb_vlog_gc (DESIGN.md 3.7).
 *
 * A pass (one at a time, gc_mu):
 *   1. scan the tree once at a snapshot: for every key (both keyspaces) the
 *      newest version, and when it is a pointer, add its entry's bytes to
 *      its segment's live count. That is the only sound liveness test: after
 *      wb_batch_move a value lives under a key other than the one its entry
 *      names, so "look the entry's key up" would be wrong;
 *   2. pick the sealed segments (never the active one, never one a writer
 *      is filling or committing) whose obsolete share is at least
 *      vlog_gc_ratio, at most MAX_PICK of them. When the active segment
 *      qualifies too (and holds at least SEAL_MIN_GARBAGE of garbage),
 *      the pass has the write leader seal it and runs again, so files
 *      deleted in a mount do not keep their space until it fills;
 *   3. condemn them (under mu and vlog.mu), wait for the writes in flight
 *      (db_write_barrier), scan again for the pointers into them, and
 *      rewrite each such value through the normal write path as a
 *      conditional write (db_write_cond): the leader applies it only if the
 *      key's newest version still holds exactly that pointer, so a value
 *      overwritten, deleted or moved meanwhile is never brought back;
 *   4. a commit adding a pointer into a condemned segment (a move that read
 *      it before step 3) bumps vlog.races: the pass then scans again;
 *      after MAX_ROUNDS it gives up on this pass and uncondemns;
 *   5. sync (value log, then WAL), retire the segments (a MANIFEST edit
 *      names them dead) and delete each once every snapshot taken before
 *      it was retired is released (readers and iterators may still hold
 *      pointers into it); the thread retries those later.
 * Large values are copied in chunks into a segment of their own, so memory
 * stays bounded whatever the size.
 */
#include <limits.h>
#include <stdlib.h>

#include "db/batch.h"
#include "util/clock.h"
#include "db/db_impl.h"
#include "util/error.h"
#include "table/ikey.h"
#include "table/merge_iter.h"
#include "util/grow.h"

#define MAX_PICK 16
#define MAX_ROUNDS 4
#define BATCH_BYTES (4u << 20)
#define INLINE_MAX (1u << 20) /* larger values are copied in chunks */
#define SEAL_MIN_GARBAGE (1u << 20)
#define DELETE_PASS_GAP 5 /* intervals between passes started by deletes */

typedef struct cand {
	vlog_seg_t *seg;
	uint64_t size; /* when the pass began */
	uint64_t live;
	bool active; /* the active segment: never picked, maybe sealed */
	bool picked;
	bool pinned; /* an older version inside the retention window points here */
} cand_t;

typedef struct found_ptr {
	uint8_t *tree_key;
	size_t len;
	vptr_t p;
} found_ptr_t;

typedef struct scan {
	cand_t *c;
	int n;
	bool collect; /* collect the pointers into picked candidates */
	uint64_t keep_ts; /* older versions at or above it may still be read
			   * (retain_versions_ms; 0: none beyond the readers) */
	found_ptr_t *found;
	int nfound, cap;
} scan_t;

static cand_t *cand_of(scan_t *s, uint64_t segment)
{
	int lo = 0, hi = s->n;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (s->c[mid].seg->number < segment)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->c[lo].seg->number == segment ? &s->c[lo] : NULL;
}

static int note_ptr(scan_t *s, slice_t tree_key, const vptr_t *p)
{
	cand_t *c = cand_of(s, p->segment);
	if (c == NULL)
		return WB_OK;
	c->live += p->length;
	if (!s->collect || !c->picked)
		return WB_OK;
	if (!GROW_ONE(s->found, s->nfound, s->cap))
		return WB_ENOMEM;
	found_ptr_t *f = &s->found[s->nfound];
	f->tree_key = malloc(tree_key.len);
	if (f->tree_key == NULL)
		return WB_ENOMEM;
	memcpy(f->tree_key, tree_key.data, tree_key.len);
	f->len = tree_key.len;
	f->p = *p;
	s->nfound++;
	return WB_OK;
}

static void clear_found(scan_t *s)
{
	for (int i = 0; i < s->nfound; i++)
		free(s->found[i].tree_key);
	s->nfound = 0;
}

/* One pass over the newest version of every key at a fresh snapshot. */
static int scan_tree(wb_db *db, scan_t *s)
{
	for (int i = 0; i < s->n; i++)
		s->c[i].live = 0, s->c[i].pinned = false;
	db_snapshot_t snap;
	db_snapshot_take(db, &snap);
	/* A reader that registered before a segment is retired keeps it until
	 * it ends (db_oldest_snapshot). Time travel into the retention window
	 * can begin later: a segment an older version there points into is not
	 * reclaimed until that version leaves the window. */
	s->keep_ts = 0;
	if (db->opts.retain_versions_ms > 0) {
		/* timestamps are unix milliseconds << 16 */
		uint64_t now_ms = clock_wall_micros(db->env) / 1000;
		uint64_t from = now_ms > db->opts.retain_versions_ms ? now_ms - db->opts.retain_versions_ms : 0;
		s->keep_ts = from << 16;
	}
	iter_t *m = NULL;
	int rc = db_snapshot_iter(&snap, NULL, &m);
	uint8_t *prev = NULL;
	size_t prev_len = 0, prev_cap = 0;
	if (m != NULL)
		iter_seek_first(m);
	while (rc == WB_OK && m != NULL && iter_valid(m)) {
		slice_t k = iter_key(m);
		slice_t tk = ikey_tree_key(k);
		if (ikey_ts(k) > snap.read_ts ||
		    (prev != NULL && slice_compare(tk, slice_make(prev, prev_len)) == 0)) {
			slice_t ov = iter_value(m);
			vptr_t op;
			cand_t *oc;
			if (s->keep_ts != 0 && ikey_ts(k) >= s->keep_ts && vptr_of_entry(ov, &op) &&
			    (oc = cand_of(s, op.segment)) != NULL)
				oc->pinned = true;
			iter_next(m);
			continue;
		}
		if (!grow_array((void **)&prev, &prev_cap, tk.len, 1)) {
			rc = WB_ENOMEM;
			break;
		}
		memcpy(prev, tk.data, tk.len);
		prev_len = tk.len;
		slice_t v = iter_value(m);
		vptr_t p;
		if (vptr_of_entry(v, &p))
			rc = note_ptr(s, tk, &p);
		iter_next(m);
	}
	if (rc == WB_OK && m != NULL)
		rc = iter_status(m);
	free(prev);
	iter_destroy(m);
	db_snapshot_release(&snap);
	return rc;
}

/* Copies the entry at f->p into a segment of its own, chunk by chunk, and
 * returns the pointer to the copy in *np (the segment in *out). */
static int copy_large(wb_db *db, const found_ptr_t *f, vptr_t *np, vlog_seg_t **out)
{
	*out = NULL;
	vlog_seg_t *src = vlog_get(&db->vlog, f->p.segment);
	if (src == NULL)
		return err_set(WB_ECORRUPT, "%06llu.vlog vanished during reclaim",
			       (unsigned long long)f->p.segment);
	int rc = vlog_check_entry(&db->vlog, src, &f->p);
	vlog_seg_t *dst = NULL;
	if (rc == WB_OK)
		rc = vlog_create(&db->vlog, true, &dst);
	uint8_t *buf = rc == WB_OK ? malloc(INLINE_MAX) : NULL;
	if (rc == WB_OK && buf == NULL)
		rc = WB_ENOMEM;
	/* Bytes that changed between the check and the copy would be caught
	 * by wb_get's checksum; segments are never rewritten in place. */
	for (uint64_t off = 0; rc == WB_OK && off < f->p.length;) {
		size_t n = f->p.length - off < INLINE_MAX ? (size_t)(f->p.length - off) : INLINE_MAX, got;
		rc = db->env->read_at(src->file, f->p.offset + off, buf, n, &got);
		if (rc == WB_OK && got != n)
			rc = err_set(WB_ECORRUPT, "%06llu.vlog: short read during reclaim",
				     (unsigned long long)f->p.segment);
		if (rc == WB_OK)
			rc = vlog_append(&db->vlog, dst, buf, n);
		rate_limiter_request(&db->gc_limiter, n);
		off += n;
	}
	free(buf);
	vlog_seg_unref(src);
	if (rc != WB_OK) {
		if (dst != NULL) {
			vlog_drop(&db->vlog, dst);
			vlog_seg_unref(dst);
		}
		return rc;
	}
	pthread_mutex_lock(&db->vlog.mu);
	dst->streaming = false;
	dst->writable = false;
	dst->busy = true;
	pthread_mutex_unlock(&db->vlog.mu);
	*np = (vptr_t){ dst->number, VLOG_HEADER_SIZE, f->p.length, f->p.value_len };
	*out = dst;
	return WB_OK;
}

static void unbusy(wb_db *db, vlog_seg_t *s)
{
	pthread_mutex_lock(&db->vlog.mu);
	s->busy = false;
	pthread_mutex_unlock(&db->vlog.mu);
	vlog_seg_unref(s);
}

/* A value too large to hold: copied into a segment of its own, then its
 * pointer committed conditionally on its own. */
static int rewrite_large(wb_db *db, const found_ptr_t *f)
{
	vptr_t np = { 0, 0, 0, 0 };
	vlog_seg_t *dst;
	int rc = copy_large(db, f, &np, &dst);
	if (rc != WB_OK)
		return rc;
	uint8_t enc[VPTR_MAX_LEN];
	size_t elen = vptr_encode(enc, &np);
	wb_batch *b;
	int skipped = 0;
	rc = wb_batch_new(&b);
	if (rc == WB_OK)
		rc = batch_add(b, META_VALUE_PTR, f->tree_key[0], slice_make(f->tree_key + 1, f->len - 1),
			       slice_make(enc, elen));
	if (rc == WB_OK)
		rc = db_write_cond(db, b, &f->p, &skipped);
	wb_batch_free(b);
	if (rc == WB_OK)
		atomic_fetch_add(skipped ? &db->vlog.gc_skipped : &db->vlog.gc_rewritten, 1);
	/* A copy nothing points at (skipped, or the commit failed) stays for
	 * a later pass to reclaim like any garbage. Deleting it here would be
	 * wrong: since copy_large made it a plain segment, a sync may have
	 * covered it and a MANIFEST edit named it live, and an open refuses a
	 * named segment that is missing. */
	unbusy(db, dst);
	return rc;
}

static int commit_batch(wb_db *db, wb_batch *b, const vptr_t *expect, int *n)
{
	if (*n == 0)
		return WB_OK;
	int skipped;
	int rc = db_write_cond(db, b, expect, &skipped);
	atomic_fetch_add(&db->vlog.gc_rewritten, (uint64_t)(*n - skipped));
	atomic_fetch_add(&db->vlog.gc_skipped, (uint64_t)skipped);
	wb_batch_clear(b);
	*n = 0;
	return rc;
}

/* Rewrites every pointer found, conditionally, in batches. */
static int rewrite(wb_db *db, scan_t *s)
{
	wb_batch *b;
	int rc = wb_batch_new(&b);
	if (rc != WB_OK)
		return rc;
	vptr_t *expect = malloc(sizeof(*expect) * (size_t)(s->nfound + 1));
	if (expect == NULL) {
		wb_batch_free(b);
		return WB_ENOMEM;
	}
	int n = 0;
	for (int i = 0; rc == WB_OK && i < s->nfound; i++) {
		found_ptr_t *f = &s->found[i];
		if (f->p.value_len > INLINE_MAX) {
			rc = rewrite_large(db, f);
			continue;
		}
		void *val;
		rc = vlog_read_value(&db->vlog, &f->p, &val, NULL, NULL, NULL);
		if (rc != WB_OK)
			break;
		rate_limiter_request(&db->gc_limiter, f->p.length);
		rc = batch_add(b, 0, f->tree_key[0], slice_make(f->tree_key + 1, f->len - 1),
			       slice_make(val, (size_t)f->p.value_len));
		free(val);
		expect[n++] = f->p;
		if (rc == WB_OK && b->len >= BATCH_BYTES)
			rc = commit_batch(db, b, expect, &n);
	}
	if (rc == WB_OK)
		rc = commit_batch(db, b, expect, &n);
	free(expect);
	wb_batch_free(b);
	return rc;
}

/* Condemns or releases the picked candidates. REQUIRES: no lock held. */
static void condemn(wb_db *db, scan_t *s, bool on, uint64_t *races)
{
	pthread_mutex_lock(&db->mu);
	pthread_mutex_lock(&db->vlog.mu);
	for (int i = 0; i < s->n; i++) {
		if (!s->c[i].picked || s->c[i].seg->condemned == on)
			continue;
		s->c[i].seg->condemned = on;
		db->vlog.ncondemned += on ? 1 : -1;
	}
	if (races != NULL)
		*races = db->vlog.races;
	pthread_mutex_unlock(&db->vlog.mu);
	pthread_mutex_unlock(&db->mu);
}

struct retire {
	wb_db *db;
	scan_t *s;
	uint64_t races;
	int first; /* the first entry of vlog.retired this call added */
};

/* Takes the picked segments out of the live set into the retired list and
 * names them dead in e (vset_apply_t.prepare: in MANIFEST order) -- unless
 * a move into one of them was checked since the pass last looked
 * (vlog.races moved past races): then nothing is retired and a later pass
 * tries again. The test and the retirement happen under vlog.mu, where the
 * leader checks moved pointers, so a move is either counted before or
 * refused (WB_ECONFLICT) after. */
static int retire_prepare(void *arg, version_edit_t *e)
{
	struct retire *r = arg;
	wb_db *db = r->db;
	scan_t *s = r->s;
	pthread_mutex_lock(&db->mu);
	uint64_t seq = db->snap_seq, wal = db->wal_number;
	vlog_t *v = &db->vlog;
	pthread_mutex_lock(&v->mu);
	int rc = WB_OK;
	r->first = v->nretired;
	for (int i = 0; i < s->n && rc == WB_OK && v->races == r->races; i++) {
		if (!s->c[i].picked)
			continue;
		vlog_seg_t *seg = s->c[i].seg;
		rc = edit_delete_segment(e, seg->number, wal);
		if (rc == WB_OK && (!GROW_ONE(v->retired, v->nretired, v->retired_cap) ||
				    !GROW_ONE(v->dead, v->ndead, v->dead_cap)))
			rc = WB_ENOMEM;
		if (rc != WB_OK)
			break;
		/* Out of the live set: the set's reference moves to the list. */
		int j = 0;
		while (j < v->nsegs && v->segs[j] != seg)
			j++;
		memmove(v->segs + j, v->segs + j + 1, (size_t)(v->nsegs - j - 1) * sizeof(*v->segs));
		v->nsegs--;
		seg->condemned = false;
		v->ncondemned--;
		v->retired[v->nretired++] = (vlog_retired_t){ seg, seq };
		v->dead[v->ndead++] = (vlog_deleted_t){ seg->number, wal };
		s->c[i].picked = false;
		/* Its discard count means nothing any more (compaction may still
		 * add to it; snapshots leave dead segments out). */
		discard_map_remove(&v->discards, seg->number);
	}
	pthread_mutex_unlock(&v->mu);
	pthread_mutex_unlock(&db->mu);
	return rc; /* nothing retired (a race): an empty edit, not logged */
}

/* Retires the picked segments (retire_prepare) and records them dead in
 * the MANIFEST. REQUIRES: gc_mu (only this call appends to retired). */
static int retire(wb_db *db, scan_t *s, uint64_t races)
{
	version_edit_t e;
	edit_init(&e);
	struct retire r = { db, s, races, 0 };
	const vset_apply_t how = { .arg = &r, .prepare = retire_prepare };
	int rc = vset_log_and_apply(&db->vs, &e, &how, NULL);
	if (rc != WB_OK) {
		/* The segments stay retired: the MANIFEST is rewritten whole
		 * before the next edit, naming them. But the file on disk may
		 * still list them live, and a later snapshot may too once their
		 * dead record is pruned, so deleting them could leave a listed
		 * segment missing, which an open refuses: they are kept until
		 * the next open, which removes what is dead. Only the pass
		 * under gc_mu deletes retired segments, so none went yet. */
		vlog_t *v = &db->vlog;
		pthread_mutex_lock(&v->mu);
		for (int i = r.first; i < v->nretired; i++)
			v->retired[i].snap_seq = UINT64_MAX;
		pthread_mutex_unlock(&v->mu);
	}
	edit_destroy(&e);
	return rc;
}

uint64_t vlog_delete_retired(wb_db *db)
{
	vlog_t *v = &db->vlog;
	pthread_mutex_lock(&db->mu);
	uint64_t oldest = db_oldest_snapshot(db);
	pthread_mutex_lock(&v->mu);
	vlog_seg_t *gone[64];
	int ngone = 0, keep = 0;
	for (int i = 0; i < v->nretired; i++) {
		if (v->retired[i].snap_seq <= oldest && ngone < 64)
			gone[ngone++] = v->retired[i].seg;
		else
			v->retired[keep++] = v->retired[i];
	}
	v->nretired = keep;
	pthread_mutex_unlock(&v->mu);
	pthread_mutex_unlock(&db->mu);
	uint64_t bytes = 0;
	for (int i = 0; i < ngone; i++) {
		char path[PATH_MAX];
		db_filename(path, sizeof(path), db->dir, FILE_VLOG, gone[i]->number);
		bytes += atomic_load(&gone[i]->size);
		db->env->remove(db->env->ctx, path);
		vlog_seg_unref(gone[i]);
	}
	atomic_fetch_add(&v->reclaimed, bytes);
	return bytes;
}

/* Fills s with every sealed segment reclaim may touch, and the active
 * one, to measure (referenced). */
static int candidates(wb_db *db, scan_t *s)
{
	vlog_t *v = &db->vlog;
	/* Writers held back by VLOG_GC_STALL may go on: this pass covers
	 * every segment sealed so far. */
	pthread_mutex_lock(&db->mu);
	atomic_store(&v->sealed_since_gc, 0);
	pthread_cond_broadcast(&db->gc_done_cv);
	pthread_mutex_unlock(&db->mu);
	pthread_mutex_lock(&v->mu);
	s->c = calloc((size_t)v->nsegs + 1, sizeof(*s->c));
	int rc = s->c ? WB_OK : WB_ENOMEM;
	for (int i = 0; rc == WB_OK && i < v->nsegs; i++) {
		vlog_seg_t *seg = v->segs[i];
		bool active = seg == v->active;
		if ((seg->writable && !active) || seg->streaming || seg->busy || seg->condemned)
			continue;
		atomic_fetch_add(&seg->refs, 1);
		s->c[s->n].seg = seg;
		s->c[s->n].size = atomic_load(&seg->size);
		s->c[s->n++].active = active;
	}
	pthread_mutex_unlock(&v->mu);
	return rc;
}

/* Is the active segment, with `data` bytes of which `live` are live, worth
 * sealing so that reclaim can take it? Only for a share of garbage that a
 * sealed segment would be reclaimed for, and enough of it (at least
 * SEAL_MIN_GARBAGE, a quarter segment when segments are smaller): the
 * files deleted in a mount often sit in the active segment, which would
 * otherwise keep their space until it fills, up to vlog_segment_size. */
static bool worth_sealing(const wb_db *db, uint64_t data, uint64_t live)
{
	uint64_t min = db->opts.vlog_segment_size / 4 < SEAL_MIN_GARBAGE ? db->opts.vlog_segment_size / 4
									  : SEAL_MIN_GARBAGE;
	return data - live >= min && (double)(data - live) >= db->opts.vlog_gc_ratio * (double)data;
}

/* One pass. *seal (when not NULL) gets the number of the active segment
 * if it is worth sealing, else 0. */
static int pass_once(wb_db *db, uint64_t *seal)
{
	scan_t s = { 0 };
	int rc = candidates(db, &s);
	if (rc == WB_OK && s.n > 0)
		rc = scan_tree(db, &s);
	int picked = 0;
	double ratio = db->opts.vlog_gc_ratio;
	if (seal != NULL)
		*seal = 0;
	for (int i = 0; rc == WB_OK && i < s.n; i++) {
		uint64_t size = s.c[i].size;
		uint64_t data = size > VLOG_HEADER_SIZE ? size - VLOG_HEADER_SIZE : 0;
		uint64_t live = s.c[i].live < data ? s.c[i].live : data;
		pthread_mutex_lock(&db->vlog.mu);
		s.c[i].seg->live = live;
		bool damaged = s.c[i].seg->damaged;
		pthread_mutex_unlock(&db->vlog.mu);
		if (s.c[i].active) {
			if (seal != NULL && worth_sealing(db, data, live))
				*seal = s.c[i].seg->number;
			continue;
		}
		if (picked < MAX_PICK && !s.c[i].pinned &&
		    (damaged || data == 0 || (double)(data - live) >= ratio * (double)data)) {
			s.c[i].picked = true;
			picked++;
		}
	}
	if (rc == WB_OK && picked > 0) {
		uint64_t races, now;
		condemn(db, &s, true, &races);
		bool settled = false;
		for (int round = 0; rc == WB_OK && round < MAX_ROUNDS && !settled; round++) {
			rc = db_write_barrier(db);
			s.collect = true;
			if (rc == WB_OK)
				rc = scan_tree(db, &s);
			if (rc == WB_OK)
				rc = rewrite(db, &s);
			clear_found(&s);
			pthread_mutex_lock(&db->vlog.mu);
			now = db->vlog.races;
			pthread_mutex_unlock(&db->vlog.mu);
			settled = now == races;
			races = now;
		}
		/* The rewrites must be durable before the MANIFEST says dead. */
		if (rc == WB_OK && settled)
			rc = wb_sync(db);
		if (rc == WB_OK && settled)
			rc = retire(db, &s, races);
		condemn(db, &s, false, NULL); /* whatever was not retired */
	}
	for (int i = 0; i < s.n; i++)
		vlog_seg_unref(s.c[i].seg);
	free(s.c);
	free(s.found);
	atomic_fetch_add(&db->vlog.gc_runs, 1);
	return rc;
}

static int pass(wb_db *db)
{
	uint64_t seal;
	int rc = pass_once(db, &seal);
	if (rc == WB_OK && seal != 0) {
		rc = db_write_seal_vlog(db, seal);
		if (rc == WB_OK)
			rc = pass_once(db, NULL); /* it is a candidate now */
	}
	return rc;
}

int vlog_gc_run(wb_db *db, bool force, uint64_t *reclaimed)
{
	pthread_mutex_lock(&db->gc_mu);
	uint64_t start = clock_now_micros(db->env), bytes = vlog_delete_retired(db);
	int rc = pass(db);
	/* Moving the live values needs room before the segments give theirs
	 * back: on a full disk that is what the reserve is for. */
	if (rc == WB_ENOSPC && reserve_release(db, "to value-log reclaim"))
		rc = pass(db);
	bytes += vlog_delete_retired(db);
	pthread_mutex_unlock(&db->gc_mu);
	if (bytes > 0)
		info_log(db->info, "value-log reclaim: %.1f MiB of segments removed in %llu ms",
			 (double)bytes / 1048576.0, (unsigned long long)((clock_now_micros(db->env) - start) / 1000));
	if (reclaimed != NULL)
		*reclaimed = bytes;
	return rc;
}

int wb_vlog_gc(wb_db *db, uint64_t *reclaimed_bytes)
{
	err_clear();
	if (reclaimed_bytes != NULL)
		*reclaimed_bytes = 0;
	if (db->opts.read_only)
		return WB_EREADONLY;
	int rc = bgerror_sticky(&db->bg); /* its rewrites and edits would be refused half way */
	if (rc == WB_OK)
		rc = vlog_gc_run(db, true, reclaimed_bytes);
	/* Reclaim works again; a failure is the caller's (nobody retries it).
	 * The room it gave back may hold the reserve again. */
	if (rc == WB_OK) {
		bgerror_ok(&db->bg, BG_RECLAIM);
		reserve_retry(db, true);
	}
	return rc;
}

void *vlog_gc_thread(void *arg)
{
	wb_db *db = arg;
	uint64_t seen = 0, seen_discards = 0, seen_tombs = 0, prev_tombs = 0;
	uint64_t last_pass = clock_now_micros(db->env);
	/* The first interval after open always looks: what earlier runs left
	 * (a crashed one never said how much it overwrote) is not in the
	 * counters below. And a pass that reclaimed something looks again at
	 * the next interval, until it catches up. */
	bool again = true;
	pthread_mutex_lock(&db->mu);
	while (!db->closing) {
		/* A failed pass is retried on the error state's schedule, whatever
		 * the thresholds below say, and no earlier. */
		uint64_t us = (uint64_t)db->opts.vlog_gc_interval_ms * 1000;
		/* Passes would fail at their first write once the log failed. */
		bool stopped = bgerror_failing(&db->bg, BG_WAL);
		bool failing = bgerror_failing(&db->bg, BG_RECLAIM);
		uint64_t retry_in = failing ? bgerror_retry_wait(&db->bg, BG_RECLAIM) : 0;
		if (failing && !stopped && retry_in < us)
			us = retry_in;
		if (bgerror_failing(&db->bg, BG_DISK_FULL)) { /* this thread makes the reserve again */
			uint64_t full_in = bgerror_retry_wait(&db->bg, BG_DISK_FULL);
			if (full_in < us)
				us = full_in;
		}
		/* A writer held back (wait_for_reclaim, same test) signals gc_cv
		 * once; one that did while a pass ran would wait a whole
		 * interval, so the thread looks before it sleeps. */
		if (atomic_load(&db->bg.rc) == WB_OK &&
		    atomic_load(&db->vlog.sealed_since_gc) >= VLOG_GC_STALL)
			again = true;
		else if (us > 0)
			db_timed_wait(db, &db->gc_cv, us);
		if (db->closing)
			break;
		retry_in = failing ? bgerror_retry_wait(&db->bg, BG_RECLAIM) : 0;
		/* Garbage shows up by new appends (overwrites), by compaction
		 * dropping pointers, and by deletes: a pass scans the whole
		 * tree, so only when the first two grew enough since the last
		 * one, or once deletes have stopped coming (an `rm -r` in a
		 * mount has finished), at most every DELETE_PASS_GAP
		 * intervals. */
		uint64_t discards = vlog_discard_total(&db->vlog);
		pthread_mutex_unlock(&db->mu);
		uint64_t appended = atomic_load(&db->vlog.appended), step = db->opts.vlog_segment_size / 4;
		uint64_t tombs = atomic_load(&db->vlog.tombstones), now = clock_now_micros(db->env);
		bool deleted = tombs != seen_tombs && tombs == prev_tombs &&
			       now - last_pass >= (uint64_t)DELETE_PASS_GAP * db->opts.vlog_gc_interval_ms * 1000;
		prev_tombs = tombs;
		bool due = !stopped &&
			   (failing ? retry_in == 0
				    : again || appended - seen >= step || discards - seen_discards >= step ||
					      discards < seen_discards || deleted);
		if (due) {
			seen = appended;
			seen_discards = discards;
			seen_tombs = tombs;
			last_pass = now;
			err_clear(); /* the message of a failure is this pass's own */
			uint64_t reclaimed = 0;
			int rc = vlog_gc_run(db, false, &reclaimed);
			again = rc == WB_OK && reclaimed > 0;
			if (rc == WB_OK) {
				bgerror_ok(&db->bg, BG_RECLAIM);
			} else if (rc != WB_ECLOSED) {
				STAT_ADD(db, bg_errors, 1);
				bgerror_fail(&db->bg, BG_RECLAIM, rc, "value-log reclaim pass");
			}
		} else {
			pthread_mutex_lock(&db->gc_mu);
			vlog_delete_retired(db);
			pthread_mutex_unlock(&db->gc_mu);
		}
		reserve_retry(db, false);
		pthread_mutex_lock(&db->mu);
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}
