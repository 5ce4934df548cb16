/*
 * db_flush.c -- the "wb-flush" thread: frozen memtables become L0 tables.
 *
 * One flush at a time, oldest frozen memtable first. A flush writes and
 * fsyncs the table, appends the version edit to the MANIFEST (with the new
 * log number: the WALs before it are no longer needed), installs the new
 * version, and only then deletes the memtable's WAL (unless a later frozen
 * memtable came from the same WAL, as when a big WAL is replayed at open).
 * A failure removes the table (unless the MANIFEST may already name it),
 * keeps the memtable and its WAL, puts the database in the error state
 * (bgerror.h: writes are refused with the failure's message) and retries
 * on the error state's schedule, at once when wb_flush asks; the first
 * flush that works ends that part of the state.
 */
#include <limits.h>
#include <stdlib.h>

#include "util/clock.h"
#include "db/db_impl.h"
#include "util/error.h"
#include "table/ikey.h"
#include "util/grow.h"

int db_build_table(wb_db *db, memtable_t *mem, uint64_t number, file_meta_t **out_meta)
{
	*out_meta = NULL;
	if (memtable_count(mem) == 0)
		return WB_OK;
	char path[PATH_MAX];
	db_filename(path, sizeof(path), db->dir, FILE_SST, number);
	sst_options_t so = {
		.block_size = db->opts.block_size,
		.restart_interval = 16,
		.bloom_bits_per_key = db->opts.bloom_bits_per_key,
	};
	iter_t *it = memtable_iter(mem);
	if (it == NULL)
		return WB_ENOMEM;
	sst_builder_t *b;
	int rc = sst_builder_new(db->env, path, &so, &b);
	if (rc != WB_OK) {
		iter_destroy(it);
		return err_set(rc, "%s: cannot create: %s", path, wb_strerror(rc));
	}
	/* Equal internal keys (the same key twice in one batch) keep the first,
	 * which is the one inserted last. */
	uint8_t *prev = NULL;
	size_t prev_len = 0, prev_cap = 0;
	for (iter_seek_first(it); rc == WB_OK && iter_valid(it); iter_next(it)) {
		slice_t k = iter_key(it);
		if (prev != NULL && ikey_compare(k, slice_make(prev, prev_len)) == 0)
			continue;
		rc = sst_builder_add(b, k, iter_value(it));
		if (!grow_array((void **)&prev, &prev_cap, k.len, 1)) {
			rc = WB_ENOMEM;
			break;
		}
		memcpy(prev, k.data, k.len);
		prev_len = k.len;
	}
	free(prev);
	iter_destroy(it);
	if (rc != WB_OK) {
		sst_builder_abandon(b);
		return rc;
	}
	sst_props_t props;
	rc = sst_builder_finish(b, &props);
	if (rc != WB_OK)
		return rc;
	file_meta_t *f = file_meta_new(number, props.file_size, slice_make(props.smallest, props.smallest_len),
				       slice_make(props.largest, props.largest_len));
	if (f == NULL) {
		rc = WB_ENOMEM;
	} else {
		f->min_ts = props.min_ts;
		f->max_ts = props.max_ts;
		f->entries = props.entries;
		rc = sst_reader_open(db->env, path, &f->reader);
		if (rc == WB_OK)
			sst_reader_set_cache(f->reader, db->cache);
	}
	sst_props_destroy(&props);
	if (rc != WB_OK) {
		file_meta_unref(f);
		db->env->remove(db->env->ctx, path);
		return rc;
	}
	*out_meta = f;
	return WB_OK;
}

/* Removes every WAL below the log number just made durable: the flushed
 * memtable's, and any that held no records (a crash can leave those, and
 * replay makes no memtable for them, so no flush would name them). */
static void remove_old_wals(wb_db *db, uint64_t log_number)
{
	uint64_t *wals = NULL;
	int n = 0;
	if (db_list_wals(db, &wals, &n, NULL) != WB_OK)
		return; /* the next open removes them */
	for (int i = 0; i < n && wals[i] < log_number; i++) {
		char path[PATH_MAX];
		db_filename(path, sizeof(path), db->dir, FILE_WAL, wals[i]);
		db->env->remove(db->env->ctx, path);
	}
	free(wals);
}

struct flush_install {
	wb_db *db;
	uint64_t wals_below;
};

/* The log number and clock the flush edit records, read in MANIFEST order
 * (vset_apply_t.prepare). Only the flush thread takes memtables off the
 * frozen list, so imm[0] is the flushed one until the edit is installed. */
static int flush_prepare(void *arg, version_edit_t *e)
{
	struct flush_install *fi = arg;
	wb_db *db = fi->db;
	pthread_mutex_lock(&db->mu);
	e->has_log_number = e->has_last_ts = true;
	e->log_number = db->nimm > 1 ? db->imm[1]->wal_number : db->mem->wal_number;
	fi->wals_below = db->imm[0]->wal_number < e->log_number ? e->log_number : 0;
	e->last_ts = hlc_last(&db->clock);
	pthread_mutex_unlock(&db->mu);
	return WB_OK;
}

/* Takes the flushed memtable off the frozen list, in step with the new
 * version (vset_apply_t.installed; mu held). */
static void flush_installed(void *arg, const version_edit_t *e)
{
	wb_db *db = ((struct flush_install *)arg)->db;
	db->nimm--;
	memmove(db->imm, db->imm + 1, (size_t)db->nimm * sizeof(db->imm[0]));
}

/* Records the table in the MANIFEST and installs the new version, dropping
 * the flushed memtable. *wals_below is the new log number when the flushed
 * memtable's WAL is no longer needed, or 0 when it still backs a later
 * frozen memtable (a WAL replayed at open can fill several). *logged is
 * set once the whole edit is in the MANIFEST: from then on it may name the
 * table even if this fails. REQUIRES: mu not held. */
static int install_flush(wb_db *db, file_meta_t *f, uint64_t *wals_below, bool *logged)
{
	pthread_mutex_lock(&db->mu);
	memtable_t *m = db->imm[0];
	pthread_mutex_unlock(&db->mu);
	version_edit_t e;
	edit_init(&e);
	struct flush_install fi = { db, 0 };
	const vset_apply_t how = { .arg = &fi, .prepare = flush_prepare, .installed = flush_installed };
	int rc = f ? edit_add_file(&e, 0, f) : WB_OK;
	if (rc == WB_OK)
		rc = vset_log_and_apply(&db->vs, &e, &how, logged);
	if (rc == WB_OK)
		memtable_unref(m);
	*wals_below = fi.wals_below;
	edit_destroy(&e);
	return rc;
}

/* Sleeps on cv for up to us microseconds. REQUIRES: mu. */
void db_timed_wait(wb_db *db, pthread_cond_t *cv, uint64_t us)
{
	clock_cond_wait_until(db->env, cv, &db->mu, clock_now_micros(db->env) + us);
}

void *db_flush_thread(void *arg)
{
	wb_db *db = arg;
	pthread_mutex_lock(&db->mu);
	for (;;) {
		/* After a failure, the next attempt waits for its time (or for
		 * wb_flush); new frozen memtables do not hurry it. */
		uint64_t wait = 0;
		while (!db->closing &&
		       (db->nimm == 0 || (!db->flush_now && (wait = bgerror_retry_wait(&db->bg, BG_FLUSH)) > 0))) {
			if (db->nimm == 0)
				pthread_cond_wait(&db->work_cv, &db->mu);
			else
				db_timed_wait(db, &db->work_cv, wait);
		}
		if (db->closing)
			break;
		db->flush_now = false;
		db->flush_begun++;
		memtable_t *m = db->imm[0];
		uint64_t wal_number = m->wal_number; /* m may be gone once installed */
		uint64_t number = vset_new_file_number(&db->vs);
		db->flushing = true;
		pthread_mutex_unlock(&db->mu);

		err_clear(); /* the message of a failure below is this attempt's own */
		uint64_t start = clock_now_micros(db->env), wals_below = 0;
		file_meta_t *f = NULL;
		bool logged = false;
		int rc = db_build_table(db, m, number, &f);
		/* The table's name must be durable before the MANIFEST names it. */
		if (rc == WB_OK && f != NULL)
			rc = db->env->sync_dir(db->env->ctx, db->dir);
		if (rc == WB_OK)
			rc = install_flush(db, f, &wals_below, &logged);
		char path[PATH_MAX];
		if (rc == WB_OK) {
			bgerror_ok(&db->bg, BG_FLUSH);
			if (wals_below != 0)
				remove_old_wals(db, wals_below);
			uint64_t us = clock_now_micros(db->env) - start;
			STAT_ADD(db, flushes, 1);
			STAT_ADD(db, flush_bytes, f ? f->size : 0);
			STAT_ADD(db, flush_micros, us);
			if (f != NULL)
				info_log(db->info, "flushed %06llu.wal to %06llu.sst (%.1f MiB) in %llu ms",
					 (unsigned long long)wal_number, (unsigned long long)number,
					 (double)f->size / 1048576.0, (unsigned long long)(us / 1000));
			else
				info_log(db->info, "flushed %06llu.wal: nothing left to write",
					 (unsigned long long)wal_number);
		} else {
			/* Before the broadcasts below: a woken writer must see it. */
			STAT_ADD(db, bg_errors, 1);
			bgerror_fail(&db->bg, BG_FLUSH, rc, "flush of %06llu.wal to %06llu.sst",
				     (unsigned long long)wal_number, (unsigned long long)number);
			if (f != NULL && !logged) {
				/* A table the MANIFEST may name stays; if it does not,
				 * the next open removes it as unreferenced. */
				db_filename(path, sizeof(path), db->dir, FILE_SST, number);
				db->env->remove(db->env->ctx, path);
			}
		}
		file_meta_unref(f);

		pthread_mutex_lock(&db->mu);
		db->flushing = false;
		db->flush_error = rc;
		db->flush_attempts++;
		pthread_cond_broadcast(&db->compact_cv); /* L0 grew */
		pthread_cond_broadcast(&db->room_cv);
		pthread_cond_broadcast(&db->flushed_cv);
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}

/* The number of the first flush attempt to begin from now on. */
static uint64_t next_attempt(wb_db *db)
{
	pthread_mutex_lock(&db->mu);
	uint64_t n = db->flush_begun + 1;
	pthread_mutex_unlock(&db->mu);
	return n;
}

/* Asks the flush thread to write every frozen memtable now, without the
 * pause of a failing flush, and waits: WB_OK once none is left, or the
 * error of an attempt numbered `want` or later -- one that began after the
 * caller did, so neither a stale failure nor one in flight whose cause may
 * be gone -- with its message. */
static int flush_frozen(wb_db *db, uint64_t want)
{
	pthread_mutex_lock(&db->mu);
	db->flush_now = true;
	pthread_cond_signal(&db->work_cv);
	/* Also until the attempt under way is over: it cleans up old WALs
	 * after taking its memtable off the list. */
	while (!db->closing && (db->nimm > 0 || db->flushing) &&
	       (db->flush_error == WB_OK || db->flush_attempts < want))
		pthread_cond_wait(&db->flushed_cv, &db->mu);
	int rc = db->nimm == 0 ? WB_OK : db->flush_error != WB_OK ? db->flush_error : WB_ECLOSED;
	pthread_mutex_unlock(&db->mu);
	if (rc == WB_ECLOSED)
		return err_set(rc, "wb_flush: the database is closing");
	if (rc != WB_OK && bgerror_source(&db->bg, BG_FLUSH) == WB_OK) /* no message of its own */
		err_set(rc, "flush failed: %s", wb_strerror(rc));
	return rc;
}

int wb_flush(wb_db *db)
{
	err_clear();
	if (db->opts.read_only)
		return WB_EREADONLY;
	uint64_t want = next_attempt(db);
	int rc = db_force_switch(db);
	if (rc != WB_OK && bgerror_sticky(&db->bg) == WB_OK) {
		/* No room to freeze the memtable: the frozen ones must go first,
		 * which is the retry this call owes a failing flush anyway. */
		int frc = flush_frozen(db, want);
		if (frc != WB_OK)
			return frc;
		err_clear();
		want = next_attempt(db);
		rc = db_force_switch(db);
	}
	if (rc != WB_OK)
		return rc;
	return flush_frozen(db, want);
}
