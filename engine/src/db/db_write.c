/*
 * db_write.c -- the write path: writer queue with group commit, memtable
 * switches, and the "wb-sync" thread.
 *
 * Every write joins a queue under mu. The writer at the head is the leader:
 * it takes the batches queued behind it (up to a size limit), stamps each
 * with its own commit timestamp, appends them to the WAL as one record
 * (one write(2), and one fsync if any of them asked for it), inserts them
 * into the memtable, publishes the newest timestamp as visible_ts, and wakes
 * the writers it carried. It drops mu during the I/O and the inserts, so
 * new writers keep queuing behind it; nobody else touches the active
 * memtable's insert side or the WAL's append side. See DESIGN.md 3.3.
 *
 * Large values: before the WAL append the leader moves every value of at
 * least value_threshold bytes into the value log and logs a pointer
 * instead (vlog_convert_record); before any WAL sync it syncs the value
 * log (vlog_sync), so a synced record never points at lost bytes.
 *
 * Conditional writes (value-log reclaim, db_write_cond) are led alone: the
 * leader drops every entry whose key's newest version no longer holds the
 * expected pointer, with no other write in between, so a reclaim can never
 * bring back a value that was overwritten, deleted or moved meanwhile.
 *
 * Transactions commit through the same queue (DESIGN.md 3.8). While it
 * stamps the group, the leader asks the oracle whether each transaction
 * conflicts with a commit stamped after its read timestamp; one that does
 * is left out of the record and gets WB_ECONFLICT. Every write it stamps
 * it also logs with the oracle while a read-write transaction is active
 * (blind writes too, so a transaction that read a key conflicts with a
 * later wb_put of it). Checks and stamps happen under mu in queue order, so
 * each check sees every commit stamped before it.
 */
#include <limits.h>
#include <stdlib.h>

#include "db/batch.h"
#include "db/compaction.h"
#include "util/clock.h"
#include "db/db_impl.h"
#include "util/error.h"
#include "table/ikey.h"

#define GROUP_MAX_BYTES (1u << 20)

struct writer {
	wb_batch *batch; /* NULL: a request to freeze the memtable */
	txn_check_t *check; /* a transaction's commit (NULL: a blind write) */
	const vptr_t *cond; /* db_write_cond: expected pointer per entry */
	int *skipped;
	bool barrier; /* db_write_barrier: leads, writes nothing */
	uint64_t seal; /* db_write_seal_vlog: the active segment to seal while leading */
	bool sync;
	bool done;
	int reject; /* set by the leader: left out of the group with this error */
	int status;
	pthread_cond_t cv;
	struct writer *next;
};

/* After a failed fsync of the WAL the kernel may have dropped the data, and
 * a later fsync can succeed without writing it: nothing written since the
 * last good sync can be promised durable any more, so writes (and wb_sync)
 * fail until the database is reopened (bgerror.h, BG_WAL). The calling
 * thread's message says which file failed. REQUIRES: mu not held. */
static void wal_sync_failed(wb_db *db, int rc, const char *what)
{
	STAT_ADD(db, bg_errors, 1);
	bgerror_fail(&db->bg, BG_WAL, rc, "%s", what);
	pthread_mutex_lock(&db->mu);
	pthread_cond_broadcast(&db->visible_cv); /* transactions waiting to begin */
	pthread_mutex_unlock(&db->mu);
}

/* Why a leader that needs room can get none now: the flush (no frozen
 * memtable can go) or the compaction (L0 past its stop trigger) that would
 * make it is failing. Waiting would last until a retry works, so the
 * writers fail at once instead. REQUIRES: mu. */
static int room_error(wb_db *db, bool memtables_full, bool stop)
{
	int rc = memtables_full ? bgerror_source(&db->bg, BG_FLUSH) : WB_OK;
	if (rc == WB_OK && stop)
		rc = bgerror_source(&db->bg, BG_COMPACTION);
	return rc;
}

/* Waits until there is room in the active memtable, freezing it when full
 * (or when force is set and it holds anything). REQUIRES: mu held, caller
 * is the leader. May release mu while it waits or does I/O. */
static int make_room(wb_db *db, bool force)
{
	uint64_t stall_start = 0;
	const char *stall_reason = "";
	bool slowed = false;
	int rc = WB_OK;
	for (;;) {
		if ((rc = bgerror_sticky(&db->bg)) != WB_OK)
			break;
		if (db->closing) {
			rc = WB_ECLOSED;
			break;
		}
		int l0 = db->vs.current->nfiles[0];
		uint64_t debt = compaction_pending_bytes(db, db->vs.current);
		bool compacting = db->opts.compaction_threads > 0;
		bool stop = compacting && (l0 >= db->opts.l0_stop_trigger ||
					   debt >= db->opts.pending_stop_bytes);
		if (compacting && !stop && !slowed &&
		    (l0 >= db->opts.l0_slowdown_trigger || debt >= db->opts.pending_slowdown_bytes)) {
			/* Every write group gives compaction a millisecond, so the
			 * tree catches up gradually instead of stopping outright. */
			slowed = true;
			STAT_ADD(db, stalls, 1);
			pthread_mutex_unlock(&db->mu);
			uint64_t t0 = clock_now_micros(db->env);
			clock_sleep_micros(db->env, 1000);
			STAT_ADD(db, stall_micros, clock_now_micros(db->env) - t0);
			pthread_mutex_lock(&db->mu);
			continue;
		}
		if (memtable_count(db->mem) == 0 ||
		    (!force && memtable_usage(db->mem) < db->opts.memtable_size))
			break;
		/* Past the stop triggers no new table may reach L0: the switch
		 * waits for compaction, and so do the writers behind it. */
		bool full = db->nimm >= db->opts.max_immutable || db->nimm >= MAX_IMMUTABLE;
		if (full || stop) {
			if ((rc = room_error(db, full, stop)) != WB_OK)
				break;
			if (stall_start == 0) {
				stall_start = clock_now_micros(db->env);
				STAT_ADD(db, stalls, 1);
				stall_reason = full ? "every memtable is full, waiting for a flush"
					       : l0 >= db->opts.l0_stop_trigger ? "too many L0 tables, waiting for compaction"
										: "compaction is too far behind";
			}
			pthread_cond_wait(&db->room_cv, &db->mu);
			continue;
		}
		/* Freeze: new WAL first, so no write is ever without a log. */
		uint64_t number = vset_new_file_number(&db->vs);
		char path[PATH_MAX];
		db_filename(path, sizeof(path), db->dir, FILE_WAL, number);
		memtable_t *fresh = memtable_new(number, db->opts.memtable_size);
		pthread_mutex_unlock(&db->mu);
		log_writer_t *w = NULL;
		rc = fresh ? log_writer_create(db->env, path, LOG_KIND_WAL, &w) : WB_ENOMEM;
		/* The new log's name must be durable too: a wb_sync of its
		 * records means nothing if a crash can lose the file itself. */
		if (rc == WB_OK)
			rc = db->env->sync_dir(db->env->ctx, db->dir);
		/* The frozen log must be durable before the new one takes writes:
		 * otherwise a crash could keep later writes and lose earlier ones. */
		bool sync_failed = false;
		if (rc == WB_OK)
			rc = vlog_sync(&db->vlog);
		if (rc == WB_OK) {
			rc = log_writer_sync(db->wal);
			STAT_ADD(db, wal_syncs, 1);
			sync_failed = rc != WB_OK;
		}
		if (sync_failed)
			wal_sync_failed(db, rc, "sync of the frozen memtable's log");
		pthread_mutex_lock(&db->mu);
		if (rc != WB_OK) {
			memtable_unref(fresh);
			if (w != NULL) {
				log_writer_close(w);
				db->env->remove(db->env->ctx, path);
			}
			break;
		}
		pthread_mutex_lock(&db->wal_mu);
		log_writer_t *old = db->wal;
		db->wal = w;
		db->wal_number = number;
		atomic_store(&db->wal_size, 0);
		atomic_store(&db->wal_synced_size, 0);
		pthread_mutex_unlock(&db->wal_mu);
		log_writer_close(old);
		db->imm[db->nimm++] = db->mem;
		db->mem = fresh;
		STAT_ADD(db, memtable_switches, 1);
		pthread_cond_signal(&db->work_cv);
		if (force)
			break;
	}
	if (stall_start != 0) {
		uint64_t us = clock_now_micros(db->env) - stall_start;
		STAT_ADD(db, stall_micros, us);
		info_log(db->info, "writes stopped for %llu ms: %s", (unsigned long long)(us / 1000),
			 stall_reason);
	}
	return rc;
}

typedef struct apply_ctx {
	memtable_t *mem;
	uint64_t tombstones;
} apply_ctx_t;

static int apply_entry(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	apply_ctx_t *a = arg;
	a->tombstones += (meta & META_TOMBSTONE) != 0;
	return memtable_add(a->mem, tree_key, ts, meta, value);
}

/* Inserts every batch of a WAL record into a->mem, counting tombstones. */
static int apply_record(apply_ctx_t *a, slice_t rec)
{
	while (rec.len > 0) {
		slice_t one;
		int rc = batch_split(&rec, &one);
		if (rc == WB_OK)
			rc = batch_iterate(one, apply_entry, a);
		if (rc != WB_OK)
			return rc;
	}
	return WB_OK;
}

/* Logs w's writes at ts with the oracle when a read-write transaction
 * (other than w's own) may conflict with them. REQUIRES: mu. */
static int log_commit(wb_db *db, struct writer *w, uint64_t ts)
{
	if (!oracle_logging(&db->oracle, w->check != NULL))
		return WB_OK;
	commit_rec_t *rec = NULL;
	bool own = w->check == NULL || w->check->rec == NULL;
	int rc = own ? oracle_rec_build(slice_make(w->batch->rep, w->batch->len), &rec) : WB_OK;
	if (rc == WB_OK)
		rc = oracle_log(&db->oracle, own ? rec : w->check->rec, ts);
	if (rc == WB_OK && !own)
		w->check->rec = NULL; /* the oracle has it now */
	if (rc != WB_OK && own)
		oracle_rec_free(rec);
	return rc;
}

/* Builds the group's WAL record: checks each transaction for conflicts,
 * stamps the writers that go in, and lays their reps out back to back in
 * *buf (with one, the record is that batch itself and *buf is NULL). An
 * empty record when every writer was rejected. *max_ts is the last stamp
 * handed out (0 when none), to be published even when nothing is written. */
static int build_group(wb_db *db, struct writer *lead, struct writer **last, slice_t *rec,
		       uint8_t **buf, bool *sync, uint64_t *max_ts)
{
	size_t total = 0, limit = lead->batch->len <= (128u << 10) ? lead->batch->len + (128u << 10)
								: GROUP_MAX_BYTES;
	int n = 0;
	struct writer *w;
	*last = lead;
	*sync = false;
	*max_ts = 0;
	*buf = NULL;
	for (w = lead; w != NULL && w->batch != NULL; w = w->next) {
		if (n > 0 && (total + w->batch->len > limit || (w->sync && !lead->sync) ||
			      w->cond != NULL || lead->cond != NULL || w->batch->has_ptr ||
			      lead->batch->has_ptr))
			break;
		total += w->batch->len;
		*sync |= w->sync;
		*last = w;
		n++;
	}
	/* Allocate before stamping: past this point nothing may fail for the
	 * whole group, or stamped and logged writers would go round again. */
	if (n > 1 && (*buf = malloc(total)) == NULL)
		return WB_ENOMEM;
	struct writer *only = NULL;
	int kept = 0;
	total = 0;
	for (w = lead;; w = w->next) {
		w->reject = WB_OK;
		bool conflict = false;
		if (w->check != NULL) {
			uint64_t t0 = clock_now_nanos(db->env);
			conflict = oracle_conflicts(&db->oracle, w->check);
			STAT_ADD(db, txn_check_nanos, clock_now_nanos(db->env) - t0);
		}
		if (conflict) {
			w->reject = WB_ECONFLICT;
		} else {
			uint64_t ts = *max_ts = db->stamped_ts = hlc_next(&db->clock);
			batch_set_ts(w->batch, ts);
			w->reject = log_commit(db, w, ts);
			if (w->reject == WB_OK) {
				if (*buf != NULL)
					memcpy(*buf + total, w->batch->rep, w->batch->len);
				total += w->batch->len;
				only = w;
				kept++;
			}
		}
		if (w == *last)
			break;
	}
	oracle_prune(&db->oracle);
	if (kept <= 1) {
		free(*buf);
		*buf = NULL;
		*rec = kept ? slice_make(only->batch->rep, only->batch->len) : slice_make(NULL, 0);
		return WB_OK;
	}
	*rec = slice_make(*buf, total);
	STAT_ADD(db, writes_grouped, (uint64_t)(kept - 1));
	return WB_OK;
}

typedef struct cond_ctx {
	db_snapshot_t *snap;
	const vptr_t *expect;
	int i;
	uint8_t *out;
	uint32_t kept;
	int skipped;
} cond_ctx_t;

typedef struct newest {
	bool found;
	vptr_t p;
} newest_t;

static int on_newest(void *arg, slice_t ikey, slice_t value)
{
	newest_t *n = arg;
	n->found = vptr_of_entry(value, &n->p);
	return WB_OK;
}

static int keep_if_current(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	cond_ctx_t *c = arg;
	newest_t n = { false, { 0, 0, 0, 0 } };
	int rc = db_snapshot_get(c->snap, tree_key, TS_MAX, on_newest, &n);
	if (rc != WB_OK && rc != WB_ENOTFOUND)
		return rc;
	if (rc == WB_OK && n.found && vptr_equal(&n.p, &c->expect[c->i])) {
		c->out = batch_encode_entry(c->out, meta, tree_key, value);
		c->kept++;
	} else {
		c->skipped++;
	}
	c->i++;
	return WB_OK;
}

/* The conditional batch of lead, reduced to the entries whose key still
 * holds the expected pointer, into *buf (NULL: none left). REQUIRES: mu
 * not held; the caller leads alone, so nothing changes under the check. */
static int filter_cond(wb_db *db, struct writer *lead, slice_t rec, uint8_t **buf, slice_t *out)
{
	db_snapshot_t s;
	db_snapshot_take(db, &s);
	cond_ctx_t c = { .snap = &s, .expect = lead->cond };
	*buf = c.out = malloc(rec.len);
	int rc = c.out ? WB_OK : WB_ENOMEM;
	if (rc == WB_OK) {
		memcpy(c.out, rec.data, BATCH_HEADER_SIZE);
		c.out += BATCH_HEADER_SIZE;
		rc = batch_iterate(rec, keep_if_current, &c);
	}
	db_snapshot_release(&s);
	if (rc != WB_OK || c.kept == 0) {
		free(*buf);
		*buf = NULL;
		*out = slice_make(NULL, 0);
	} else {
		put_u32(*buf + 8, c.kept);
		*out = slice_make(*buf, (size_t)(c.out - *buf));
	}
	*lead->skipped = c.skipped;
	return rc;
}

typedef struct ptr_check {
	vlog_t *v;
	uint64_t races;
	uint64_t stale;
} ptr_check_t;

static int check_ptr(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	ptr_check_t *c = arg;
	vptr_t p;
	if (!(meta & META_VALUE_PTR))
		return WB_OK;
	if (!vptr_decode(value, &p))
		return WB_EINVAL;
	vlog_t *v = c->v;
	for (int i = 0; i < v->nsegs; i++)
		if (v->segs[i]->number == p.segment) {
			c->races += v->segs[i]->condemned;
			return WB_OK;
		}
	for (int i = 0; i < v->nretired; i++)
		if (v->retired[i].seg->number == p.segment)
			c->stale = p.segment;
	for (int i = 0; i < v->ndead; i++)
		if (v->dead[i].segment == p.segment)
			c->stale = p.segment;
	return WB_OK;
}

/* A batch carrying pointers (wb_batch_move) may have read them before a
 * reclaim pass emptied their segment. Into a segment being emptied: the
 * pass is told to look again (it waits for this write, see
 * db_write_barrier). Into one already emptied: WB_ECONFLICT, the move must
 * be redone. REQUIRES: mu not held. */
static int check_moved_pointers(wb_db *db, slice_t rec)
{
	ptr_check_t c = { &db->vlog, 0, 0 };
	pthread_mutex_lock(&db->vlog.mu);
	int rc = batch_iterate(rec, check_ptr, &c);
	if (rc == WB_OK && c.stale != 0)
		rc = err_set(WB_ECONFLICT, "a moved value in %06llu.vlog was reclaimed before the write; redo the move",
			     (unsigned long long)c.stale);
	if (rc == WB_OK)
		db->vlog.races += c.races;
	pthread_mutex_unlock(&db->vlog.mu);
	return rc == WB_EINVAL ? err_set(WB_EINVAL, "malformed value pointer in a batch") : rc;
}

/* Publishes ts as the visible timestamp. REQUIRES: mu. */
static void publish(wb_db *db, uint64_t ts)
{
	atomic_store(&db->visible_ts, ts);
	if (db->visible_waiters > 0)
		pthread_cond_broadcast(&db->visible_cv);
}

static int lead_group(wb_db *db, struct writer *lead, struct writer **last)
{
	slice_t rec;
	uint8_t *buf;
	bool sync;
	uint64_t max_ts;
	bool sync_failed = false;
	int rc = build_group(db, lead, last, &rec, &buf, &sync, &max_ts);
	if (rc != WB_OK) {
		*last = lead;
		return rc;
	}
	if (rec.len == 0) { /* every writer was rejected */
		if (max_ts != 0)
			publish(db, max_ts); /* stamped, but nothing to show */
		return WB_OK;
	}
	memtable_t *mem = db->mem;
	log_writer_t *wal = db->wal;
	pthread_mutex_unlock(&db->mu);

	uint8_t *filtered = NULL, *converted = NULL;
	if (lead->cond != NULL) {
		rc = filter_cond(db, lead, rec, &filtered, &rec);
		if (rc != WB_OK || rec.len == 0) {
			free(buf);
			pthread_mutex_lock(&db->mu);
			publish(db, max_ts); /* stamped: waiters must not wait on it */
			return rc;
		}
	}
	if (lead->batch->has_ptr)
		rc = check_moved_pointers(db, rec);
	if (rc == WB_OK)
		rc = vlog_convert_record(&db->vlog, rec, &converted, &rec);
	if (rc != WB_OK) {
		free(buf);
		free(filtered);
		pthread_mutex_lock(&db->mu);
		publish(db, max_ts);
		return rc;
	}
	if (sync) {
		rc = vlog_sync(&db->vlog);
		sync_failed = rc != WB_OK;
	}
	if (rc == WB_OK)
		rc = log_writer_add(wal, rec);
	if (rc == WB_OK) {
		atomic_store(&db->wal_size, log_writer_size(wal));
		STAT_ADD(db, wal_bytes, rec.len);
		STAT_ADD(db, wal_records, 1);
		if (sync) {
			rc = log_writer_sync(wal);
			STAT_ADD(db, wal_syncs, 1);
			if (rc == WB_OK)
				atomic_store(&db->wal_synced_size, log_writer_size(wal));
			else
				sync_failed = true;
		}
	}
	int apply_rc = WB_OK;
	apply_ctx_t applied = { mem, 0 };
	if (rc == WB_OK)
		apply_rc = apply_record(&applied, rec);
	if (applied.tombstones > 0)
		atomic_fetch_add(&db->vlog.tombstones, applied.tombstones);

	free(buf);
	free(filtered);
	free(converted);
	if (apply_rc != WB_OK) {
		/* Logged but not in the memtable: reads would miss an acknowledged
		 * write, so stop accepting writes until the database is reopened. */
		err_set(apply_rc, "%s", wb_strerror(apply_rc));
		wal_sync_failed(db, apply_rc, "memtable insert after logging");
		pthread_mutex_lock(&db->mu);
		return bgerror_sticky(&db->bg);
	}
	if (sync_failed) /* the record is in the log, not in the memtable */
		wal_sync_failed(db, rc, "log sync of a write group");
	pthread_mutex_lock(&db->mu);
	/* Also after a failed append: nothing of the group is in the memtable,
	 * and transactions waiting for these stamps must not wait forever. */
	publish(db, max_ts);
	return rc;
}

static int enqueue(wb_db *db, struct writer *wp);

/* Holds a writer back while value-log reclaim is VLOG_GC_STALL segments
 * behind (outside the queue: reclaim's own rewrites need the leader). */
static void wait_for_reclaim(wb_db *db)
{
	if (db->opts.value_threshold == 0 ||
	    atomic_load(&db->vlog.sealed_since_gc) < VLOG_GC_STALL || !db->gc_started)
		return;
	uint64_t t0 = clock_now_micros(db->env);
	pthread_mutex_lock(&db->mu);
	pthread_cond_signal(&db->gc_cv);
	/* Not for a failing reclaim: it would hold the writer until a retry
	 * works. The writer goes on to the error state's check instead. */
	while (!db->closing && atomic_load(&db->vlog.sealed_since_gc) >= VLOG_GC_STALL &&
	       atomic_load(&db->bg.rc) == WB_OK)
		db_timed_wait(db, &db->gc_done_cv, 10 * 1000);
	pthread_mutex_unlock(&db->mu);
	atomic_fetch_add(&db->vlog.stall_micros, clock_now_micros(db->env) - t0);
}

/* Whether b may be written in the database's error state (bgerror.h): a
 * write that began before the state did may still go through; one that
 * begins in it does not, unless it is a removal on a full disk. */
static int check_state(wb_db *db, wb_batch *b)
{
	if (atomic_load(&db->bg.rc) == WB_OK)
		return WB_OK;
	return bgerror_check(&db->bg, batch_is_removal(slice_make(b->rep, b->len)));
}

static int write_queued(wb_db *db, wb_batch *b, bool sync, txn_check_t *check)
{
	if (b != NULL && b->error != WB_OK)
		return b->error;
	if (b != NULL && get_u32(b->rep + 8) == 0)
		return WB_OK;
	if (db->opts.read_only)
		return WB_EREADONLY;
	if (b != NULL) {
		int rc = check_state(db, b);
		if (rc == WB_OK) {
			wait_for_reclaim(db);
			rc = check_state(db, b); /* the reclaim it waited for may have failed */
		}
		if (rc != WB_OK)
			return rc;
	}
	struct writer w = { .batch = b,
			    .check = check,
			    .sync = sync || db->opts.sync == WB_SYNC_ALWAYS };
	int rc = enqueue(db, &w);
	/* A delete that finds the disk full is what the reserve is for. */
	if (rc == WB_ENOSPC && b != NULL && batch_is_removal(slice_make(b->rep, b->len)) &&
	    reserve_release(db, "to a delete"))
		rc = enqueue(db, &w);
	return rc;
}

static int enqueue(wb_db *db, struct writer *wp)
{
	struct writer w = *wp;
	pthread_cond_init(&w.cv, NULL);

	pthread_mutex_lock(&db->mu);
	if (db->wq_tail != NULL)
		db->wq_tail->next = &w;
	else
		db->wq_head = &w;
	db->wq_tail = &w;
	while (!w.done && db->wq_head != &w)
		pthread_cond_wait(&w.cv, &db->mu);
	if (w.done) {
		pthread_mutex_unlock(&db->mu);
		pthread_cond_destroy(&w.cv);
		return w.status;
	}

	struct writer *last = &w;
	wb_batch *b = w.batch;
	int rc = w.barrier ? WB_OK : make_room(db, b == NULL);
	if (w.seal != 0)
		vlog_seal_active(&db->vlog, w.seal);
	if (rc == WB_OK && b != NULL)
		rc = lead_group(db, &w, &last);

	/* Hand results to the writers carried, then pass leadership on. */
	for (;;) {
		struct writer *done = db->wq_head;
		db->wq_head = done->next;
		if (db->wq_head == NULL)
			db->wq_tail = NULL;
		if (done != &w) {
			done->status = done->reject != WB_OK ? done->reject : rc;
			done->done = true;
			pthread_cond_signal(&done->cv);
		}
		if (done == last)
			break;
	}
	if (db->wq_head != NULL)
		pthread_cond_signal(&db->wq_head->cv);
	pthread_mutex_unlock(&db->mu);
	pthread_cond_destroy(&w.cv);
	return w.reject != WB_OK ? w.reject : rc;
}

int db_write_batch(wb_db *db, wb_batch *b, bool sync)
{
	return write_queued(db, b, sync, NULL);
}

int db_write_txn(wb_db *db, wb_batch *b, txn_check_t *check)
{
	return write_queued(db, b, false, check);
}

int db_write_cond(wb_db *db, wb_batch *b, const vptr_t *expect, int *skipped)
{
	*skipped = 0;
	if (get_u32(b->rep + 8) == 0)
		return WB_OK;
	if (db->opts.read_only)
		return WB_EREADONLY;
	struct writer w = { .batch = b, .cond = expect, .skipped = skipped,
			    .sync = db->opts.sync == WB_SYNC_ALWAYS };
	return enqueue(db, &w);
}

int db_write_barrier(wb_db *db)
{
	struct writer w = { .barrier = true };
	return enqueue(db, &w);
}

int db_write_seal_vlog(wb_db *db, uint64_t segment)
{
	struct writer w = { .barrier = true, .seal = segment };
	return enqueue(db, &w);
}

int db_force_switch(wb_db *db)
{
	return db_write_batch(db, NULL, false);
}

/* ---- public calls ---- */

/* Small writes build their one-entry batch on the stack. */
static int write_one(wb_db *db, uint8_t meta, const void *key, size_t klen, const void *val,
		     size_t vlen)
{
	err_clear();
	if (batch_check_key(klen) != WB_OK)
		return err_set(WB_EINVAL, "key length %zu is outside 1..%u", klen, WB_MAX_KEY_LEN);
	if ((uint64_t)vlen > WB_MAX_VALUE_LEN)
		return err_set(WB_EINVAL, "value length %zu is over the limit", vlen);
	uint8_t stack[512];
	wb_batch b = { .rep = stack, .cap = sizeof(stack) };
	size_t need = BATCH_HEADER_SIZE + 1 + 2 * VARINT64_MAX + 1 + klen + vlen;
	if (need > sizeof(stack)) {
		b.rep = malloc(need);
		if (b.rep == NULL)
			return WB_ENOMEM;
		b.cap = need;
	}
	memset(b.rep, 0, BATCH_HEADER_SIZE);
	b.len = BATCH_HEADER_SIZE;
	int rc = batch_add(&b, meta, KS_USER, slice_make(key, klen), slice_make(val, vlen));
	if (rc == WB_OK)
		rc = db_write_batch(db, &b, false);
	if (b.rep != stack)
		free(b.rep);
	return rc;
}

int wb_put(wb_db *db, const void *key, size_t klen, const void *val, size_t vlen)
{
	int rc = write_one(db, 0, key, klen, val, vlen);
	if (rc == WB_OK) {
		STAT_ADD(db, puts, 1);
		STAT_ADD(db, bytes_written, klen + vlen);
	}
	return rc;
}

int wb_delete(wb_db *db, const void *key, size_t klen)
{
	int rc = write_one(db, META_TOMBSTONE, key, klen, NULL, 0);
	if (rc == WB_OK)
		STAT_ADD(db, deletes, 1);
	return rc;
}

int wb_write(wb_db *db, wb_batch *b)
{
	err_clear();
	int rc = db_write_batch(db, b, false);
	if (rc == WB_OK) {
		STAT_ADD(db, batches, 1);
		STAT_ADD(db, bytes_written, b->len - BATCH_HEADER_SIZE);
	}
	return rc;
}

/* Syncs the current WAL. Older WALs were synced when they were frozen. */
static int sync_wal(wb_db *db)
{
	pthread_mutex_lock(&db->wal_mu);
	int rc = WB_OK;
	if (db->wal != NULL) {
		uint64_t size = atomic_load(&db->wal_size);
		if (size > atomic_load(&db->wal_synced_size)) {
			/* The values the records point at first. */
			rc = vlog_sync(&db->vlog);
			if (rc == WB_OK)
				rc = log_writer_sync(db->wal);
			STAT_ADD(db, wal_syncs, 1);
			if (rc == WB_OK)
				atomic_store(&db->wal_synced_size, size);
		}
	}
	pthread_mutex_unlock(&db->wal_mu);
	return rc;
}

int wb_sync(wb_db *db)
{
	err_clear();
	if (db->opts.read_only)
		return WB_OK;
	/* Only a sticky error stops a sync: while background work is being
	 * retried, what was acknowledged can and should still be made durable. */
	int rc = bgerror_sticky(&db->bg);
	if (rc != WB_OK)
		return rc;
	rc = sync_wal(db);
	if (rc != WB_OK)
		wal_sync_failed(db, rc, "wb_sync");
	return rc;
}

void *db_sync_thread(void *arg)
{
	wb_db *db = arg;
	pthread_mutex_lock(&db->mu);
	while (!db->closing) {
		db_timed_wait(db, &db->sync_cv, (uint64_t)db->opts.sync_interval_ms * 1000);
		if (db->closing)
			break;
		pthread_mutex_unlock(&db->mu);
		err_clear();
		int rc = sync_wal(db);
		if (rc != WB_OK)
			wal_sync_failed(db, rc, "the periodic log sync");
		pthread_mutex_lock(&db->mu);
	}
	pthread_mutex_unlock(&db->mu);
	return NULL;
}
