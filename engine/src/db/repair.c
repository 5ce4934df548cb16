/*
 * repair.c -- wb_repair: salvaging a damaged database. It never runs on its
 * own: wb_open refuses damaged data with WB_ECORRUPT naming the file and
 * offset, and a person decides to run `wombat DBDIR repair` after reading
 * that. It keeps everything that checks out and reports everything it
 * drops, one line each, through the caller's callback and the info log:
 *
 *   1. a salvaging open (db_open_with): value-log segments and tables the
 *      MANIFEST names but that are missing or unreadable are dropped; WAL
 *      replay skips damaged stretches of a log and every batch holding a
 *      value that fails its checks (the batch whole, as it was written),
 *      and goes on to the records and logs after them; the replayed writes
 *      go to tables at once, so the damaged logs are never replayed again;
 *   2. every key whose newest version points at a value that fails its
 *      checks (its segment gone or a block damaged) gets a tombstone: it
 *      reads as missing instead of failing forever;
 *   3. every value-log segment that fails its checks (the damaged bytes
 *      now belong to no live key) is reclaimed whatever its garbage share:
 *      its live values are moved and the file deleted, so verify passes;
 *   4. a clean close. The next wb_open sees a sound database.
 *
 * Damaged blocks of a table that still opens are reported, not rebuilt:
 * reads of the keys in them keep failing with WB_ECORRUPT.
 */
#include <stdio.h>
#include <stdlib.h>

#include "db/batch.h"
#include "db/db_impl.h"
#include "util/error.h"
#include "util/grow.h"
#include "table/ikey.h"
#include "table/iter.h"
#include "table/sst.h"

/* Keys to delete: tree keys, back to back, each after its u32 length. */
typedef struct doomed {
	uint8_t *buf;
	size_t len, cap;
	uint64_t n;
} doomed_t;

static int doom(doomed_t *d, slice_t tree_key)
{
	if (!grow_array((void **)&d->buf, &d->cap, d->len + 4 + tree_key.len, 1))
		return WB_ENOMEM;
	put_u32(d->buf + d->len, (uint32_t)tree_key.len);
	memcpy(d->buf + d->len + 4, tree_key.data, tree_key.len);
	d->len += 4 + tree_key.len;
	d->n++;
	return WB_OK;
}

/* Checks the value the newest version of tree_key points at. */
static int check_value(wb_db *db, slice_t tree_key, const vptr_t *p, doomed_t *d)
{
	vlog_seg_t *s = vlog_get(&db->vlog, p->segment);
	int rc = s == NULL ? err_set(WB_ECORRUPT, "%06llu.vlog is gone", (unsigned long long)p->segment)
			   : vlog_check_entry(&db->vlog, s, p);
	vlog_seg_unref(s);
	if (rc != WB_ECORRUPT)
		return rc;
	char key[256];
	err_quote(tree_key.data + 1, tree_key.len - 1, key, sizeof(key));
	db_salvage_note(db, "key \"%s\"%s: its value is damaged (%s): deleted", key,
			tree_key.data[0] == KS_META ? " (metadata)" : "", err_message());
	return doom(d, tree_key);
}

/* Step 2: walks the newest version of every key of both keyspaces. */
static int find_damaged_values(wb_db *db, doomed_t *d)
{
	db_snapshot_t snap;
	db_snapshot_take(db, &snap);
	iter_t *m;
	int rc = db_snapshot_iter(&snap, NULL, &m);
	uint8_t *prev = NULL;
	size_t prev_len = 0, prev_cap = 0;
	if (rc == WB_OK)
		iter_seek_first(m);
	while (rc == WB_OK && iter_valid(m)) {
		slice_t k = iter_key(m), tk = ikey_tree_key(k);
		bool older = prev != NULL && slice_compare(tk, slice_make(prev, prev_len)) == 0;
		if (!older && ikey_ts(k) <= snap.read_ts) {
			if (!grow_array((void **)&prev, &prev_cap, tk.len, 1)) {
				rc = WB_ENOMEM;
				break;
			}
			memcpy(prev, tk.data, tk.len);
			prev_len = tk.len;
			slice_t v = iter_value(m);
			vptr_t p;
			if (vptr_of_entry(v, &p))
				rc = check_value(db, tk, &p, d);
		}
		iter_next(m);
	}
	if (rc == WB_OK)
		rc = iter_status(m);
	if (rc == WB_ECORRUPT) {
		/* A damaged table block: the walk cannot go past it. */
		db_salvage_note(db, "%s: keys in that block are unreadable (tables are not rebuilt)",
				err_message());
		rc = WB_OK;
	}
	free(prev);
	iter_destroy(m);
	db_snapshot_release(&snap);
	return rc;
}

static int delete_doomed(wb_db *db, const doomed_t *d)
{
	wb_batch *b;
	int rc = wb_batch_new(&b);
	for (size_t off = 0; rc == WB_OK && off < d->len;) {
		uint32_t n = get_u32(d->buf + off);
		const uint8_t *tk = d->buf + off + 4;
		rc = wb_batch_delete_ks(b, tk[0], tk + 1, n - 1);
		off += 4 + n;
		if (rc == WB_OK && (wb_batch_count(b) >= 1000 || off >= d->len)) {
			rc = db_write_batch(db, b, true);
			wb_batch_clear(b);
		}
	}
	wb_batch_free(b);
	return rc;
}

/* Step 3: marks the damaged segments and reclaims them, MAX passes at most
 * (a pass takes up to 16). */
static int reclaim_damaged_segments(wb_db *db)
{
	int rc = WB_OK;
	for (int pass = 0; rc == WB_OK && pass < 64; pass++) {
		int damaged = 0;
		for (int i = 0;; i++) {
			pthread_mutex_lock(&db->vlog.mu);
			vlog_seg_t *s = i < db->vlog.nsegs ? db->vlog.segs[i] : NULL;
			if (s != NULL)
				atomic_fetch_add(&s->refs, 1);
			bool skip = s == NULL || s->writable || s->streaming;
			pthread_mutex_unlock(&db->vlog.mu);
			if (s == NULL)
				break;
			if (!skip && vlog_check_segment(&db->vlog, s) == WB_ECORRUPT) {
				if (pass == 0)
					db_salvage_tell(db, "%s: its live values are moved and the file deleted",
							err_message());
				pthread_mutex_lock(&db->vlog.mu);
				s->damaged = true;
				pthread_mutex_unlock(&db->vlog.mu);
				damaged++;
			}
			vlog_seg_unref(s);
		}
		err_clear();
		if (damaged == 0)
			break;
		rc = vlog_gc_run(db, true, NULL);
	}
	return rc;
}

/* Tables that open but hold damaged blocks, reported (not rebuilt). */
static void report_damaged_tables(wb_db *db)
{
	pthread_mutex_lock(&db->mu);
	version_t *v = db->vs.current;
	version_ref(v);
	pthread_mutex_unlock(&db->mu);
	for (int l = 0; l < NUM_LEVELS; l++)
		for (int i = 0; i < v->nfiles[l]; i++)
			if (sst_reader_verify(v->files[l][i]->reader) == WB_ECORRUPT)
				db_salvage_note(db, "%s: the table keeps its damaged block (reads of the keys "
						"in it fail; tables are not rebuilt)", err_message());
	version_unref(v);
	err_clear();
}

int wb_repair(const char *dir, const wb_options *opts,
	      void (*report)(void *arg, int dropped, const char *what), void *arg, uint64_t *dropped)
{
	salvage_t s = { report, arg, 0 };
	if (dropped != NULL)
		*dropped = 0;
	wb_options o;
	if (opts != NULL)
		o = *opts;
	else
		wb_options_init(&o);
	if (o.read_only)
		return err_set(WB_EINVAL, "repair writes: not with read_only");
	o.create_if_missing = 0;
	o.error_if_exists = 0;
	wb_db *db;
	int rc = db_open_with(dir, &o, &s, &db);
	if (rc != WB_OK)
		return rc;
	doomed_t d = { NULL, 0, 0, 0 };
	rc = find_damaged_values(db, &d);
	if (rc == WB_OK)
		rc = delete_doomed(db, &d);
	free(d.buf);
	if (rc == WB_OK)
		rc = reclaim_damaged_segments(db);
	if (rc == WB_OK)
		report_damaged_tables(db);
	info_log(db->info, "repair: done, %llu things dropped", (unsigned long long)s.dropped);
	char msg[512];
	snprintf(msg, sizeof(msg), "%s", err_message());
	int crc = wb_close(db);
	if (rc == WB_OK)
		rc = crc;
	else
		err_set(rc, "%s", msg);
	if (dropped != NULL)
		*dropped = s.dropped;
	return rc;
}
