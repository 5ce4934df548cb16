/*
 * db_open.c -- opening, recovering and closing a database; file names.
 *
 * Open, in order (nothing on disk changes until every file has been read
 * and checked, so a corrupt database is reported, not "repaired"):
 *   1. take LOCK (another process holding it: WB_EBUSY naming its pid);
 *   2. read CURRENT and replay the MANIFEST into a version (no CURRENT in
 *      a directory holding tables or logged writes is damage, not a new
 *      database);
 *   3. open every table (footer, index, filter checked);
 *   4. open the value-log segments the MANIFEST names; replay every WAL at
 *      or above the log number into memtables (a torn tail from a crash is
 *      dropped; damage in the middle is an error). A batch holding a value
 *      pointer whose bytes did not survive was never synced: replay stops
 *      there, and the memtables are written to tables at once so that the
 *      cut stays where it is (vlog.h);
 *   5. start a new WAL and write a fresh MANIFEST; the replayed memtables
 *      are queued for the flush thread, their WALs deleted once flushed;
 *   6. delete files no longer referenced (value-log segments no edit and no
 *      replayed pointer names: a stream that never committed); start the
 *      background threads.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/batch.h"
#include "db/compaction.h"
#include "db/db_impl.h"
#include "obj/object.h" /* the chunk size limits */
#include "util/error.h"
#include "table/ikey.h"
#include "util/grow.h"

void db_filename(char *buf, size_t len, const char *dir, enum file_type type, uint64_t number)
{
	unsigned long long n = (unsigned long long)number;
	switch (type) {
	case FILE_WAL:
		snprintf(buf, len, "%s/%06llu.wal", dir, n);
		break;
	case FILE_SST:
		snprintf(buf, len, "%s/%06llu.sst", dir, n);
		break;
	case FILE_MANIFEST:
		snprintf(buf, len, "%s/MANIFEST-%06llu", dir, n);
		break;
	case FILE_CURRENT:
		snprintf(buf, len, "%s/CURRENT", dir);
		break;
	case FILE_LOCK:
		snprintf(buf, len, "%s/LOCK", dir);
		break;
	case FILE_TEMP:
		snprintf(buf, len, "%s/%06llu.tmp", dir, n);
		break;
	case FILE_VLOG:
		vlog_segment_path(buf, len, dir, number);
		break;
	}
}

bool db_parse_filename(const char *name, enum file_type *type, uint64_t *number)
{
	*number = 0;
	if (strcmp(name, "CURRENT") == 0) {
		*type = FILE_CURRENT;
		return true;
	}
	if (strcmp(name, "LOCK") == 0) {
		*type = FILE_LOCK;
		return true;
	}
	const char *p = name;
	if (strncmp(name, "MANIFEST-", 9) == 0)
		p = name + 9;
	if (*p < '0' || *p > '9')
		return false;
	char *end;
	unsigned long long n = strtoull(p, &end, 10);
	*number = n;
	if (p != name)
		return *end == '\0' && (*type = FILE_MANIFEST, true);
	if (strcmp(end, ".wal") == 0)
		*type = FILE_WAL;
	else if (strcmp(end, ".sst") == 0)
		*type = FILE_SST;
	else if (strcmp(end, ".tmp") == 0)
		*type = FILE_TEMP;
	else if (strcmp(end, ".vlog") == 0)
		*type = FILE_VLOG;
	else
		return false;
	return true;
}

void wb_options_init(wb_options *o)
{
	memset(o, 0, sizeof(*o));
	o->sync = WB_SYNC_INTERVAL;
	o->sync_interval_ms = 100;
	o->memtable_size = 64u << 20;
	o->max_immutable = 2;
	o->block_size = 4096;
	o->bloom_bits_per_key = 10;
	o->sst_target_size = 64u << 20;
	o->block_cache_size = 256u << 20;
	o->compaction_threads = 2;
	o->level1_size = 64u << 20;
	o->l0_compaction_trigger = 4;
	o->l0_slowdown_trigger = 20;
	o->l0_stop_trigger = 36;
	o->pending_slowdown_bytes = (uint64_t)64 << 30;
	o->pending_stop_bytes = (uint64_t)256 << 30;
	o->value_threshold = 4096;
	o->object_chunk_size = 64u << 10;
	o->vlog_segment_size = (uint64_t)256 << 20;
	o->vlog_gc_ratio = 0.5;
	o->vlog_gc_interval_ms = 1000;
	o->disk_reserve = 8u << 20;
}

static int check_options(const wb_options *o)
{
	if (o->sync < WB_SYNC_INTERVAL || o->sync > WB_SYNC_NONE)
		return err_set(WB_EINVAL, "sync mode %d is not one of interval, always, none", o->sync);
	if (o->sync == WB_SYNC_INTERVAL && o->sync_interval_ms == 0)
		return err_set(WB_EINVAL, "sync_interval_ms must be > 0");
	if (o->memtable_size < 4096)
		return err_set(WB_EINVAL, "memtable_size %zu is below 4096", o->memtable_size);
	if (o->max_immutable < 1 || o->max_immutable > MAX_IMMUTABLE)
		return err_set(WB_EINVAL, "max_immutable must be 1..%d", MAX_IMMUTABLE);
	if (o->block_size < 256 || o->block_size > (16u << 20))
		return err_set(WB_EINVAL, "block_size %zu is outside 256..16M", o->block_size);
	if (o->bloom_bits_per_key < 0 || o->bloom_bits_per_key > 64)
		return err_set(WB_EINVAL, "bloom_bits_per_key must be 0..64");
	if (o->compaction_threads < 0 || o->compaction_threads > MAX_COMPACT_THREADS)
		return err_set(WB_EINVAL, "compaction_threads must be 0..%d", MAX_COMPACT_THREADS);
	if (o->level1_size < (64u << 10))
		return err_set(WB_EINVAL, "level1_size must be at least 64 KiB");
	if (o->l0_compaction_trigger < 1 || o->l0_slowdown_trigger < o->l0_compaction_trigger ||
	    o->l0_stop_trigger < o->l0_slowdown_trigger)
		return err_set(WB_EINVAL, "L0 triggers must satisfy 1 <= compaction <= slowdown <= stop");
	if (o->pending_stop_bytes < o->pending_slowdown_bytes)
		return err_set(WB_EINVAL, "pending_stop_bytes must be >= pending_slowdown_bytes");
	if (o->sst_target_size < 4096)
		return err_set(WB_EINVAL, "sst_target_size must be at least 4096");
	if (o->value_threshold != 0 && o->value_threshold < 64)
		return err_set(WB_EINVAL, "value_threshold must be 0 (off) or at least 64");
	if (o->object_chunk_size != 0 && /* 0: the default */
	    (o->object_chunk_size < (1u << OBJ_CHUNK_SHIFT_MIN) ||
	     o->object_chunk_size > (1u << OBJ_CHUNK_SHIFT_MAX) ||
	     (o->object_chunk_size & (o->object_chunk_size - 1)) != 0))
		return err_set(WB_EINVAL, "object_chunk_size must be a power of two from 4 KiB to 1 MiB");
	if (o->vlog_segment_size < (64u << 10))
		return err_set(WB_EINVAL, "vlog_segment_size must be at least 64 KiB");
	if (!(o->vlog_gc_ratio > 0.0 && o->vlog_gc_ratio <= 1.0))
		return err_set(WB_EINVAL, "vlog_gc_ratio must be in (0, 1]");
	return WB_OK;
}

void db_snapshot_take(wb_db *db, db_snapshot_t *s)
{
	db_snapshot_take_at(db, s, 0, NULL);
}

void db_snapshot_take_at(wb_db *db, db_snapshot_t *s, uint64_t read_ts, oracle_reader_t *reader)
{
	pthread_mutex_lock(&db->mu);
	s->mem = db->mem;
	if (s->mem)
		memtable_ref(s->mem);
	s->nimm = db->nimm;
	for (int i = 0; i < db->nimm; i++) {
		s->imm[i] = db->imm[i];
		memtable_ref(s->imm[i]);
	}
	s->version = db->vs.current;
	version_ref(s->version);
	s->read_ts = read_ts != 0 ? read_ts : atomic_load(&db->visible_ts);
	/* Value-log reclaim deletes a segment only once every snapshot older
	 * than its retirement is released. */
	s->db = db;
	s->seq = db->snap_seq++;
	if (reader != NULL) {
		reader->snap_seq = s->seq;
		oracle_add_reader(&db->oracle, reader, s->read_ts, false);
	}
	s->next = NULL;
	s->prev = db->snap_tail;
	if (db->snap_tail != NULL)
		db->snap_tail->next = s;
	else
		db->snap_head = s;
	db->snap_tail = s;
	pthread_mutex_unlock(&db->mu);
}

void db_reader_remove(wb_db *db, oracle_reader_t *r)
{
	pthread_mutex_lock(&db->mu);
	oracle_remove_reader(&db->oracle, r);
	pthread_mutex_unlock(&db->mu);
}

uint64_t db_oldest_snapshot(wb_db *db)
{
	uint64_t oldest = db->snap_head != NULL ? db->snap_head->seq : db->snap_seq;
	/* A transaction takes a fresh snapshot per read but reads at its own
	 * read_ts all along: the oldest registered reader (the list is in
	 * registration order) counts from when it began. */
	const oracle_reader_t *r = db->oracle.readers.next;
	if (r != &db->oracle.readers && r->snap_seq < oldest)
		oldest = r->snap_seq;
	return oldest;
}

void db_snapshot_release(db_snapshot_t *s)
{
	wb_db *db = s->db;
	pthread_mutex_lock(&db->mu);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		db->snap_head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	else
		db->snap_tail = s->prev;
	pthread_mutex_unlock(&db->mu);
	memtable_unref(s->mem);
	for (int i = 0; i < s->nimm; i++)
		memtable_unref(s->imm[i]);
	version_unref(s->version);
}

/* ---- recovery ---- */

typedef struct dir_listing {
	uint64_t *wals;
	int nwals, cap;
	uint64_t max_number; /* of any file of ours */
} dir_listing_t;

static int collect_wal(void *arg, const char *name)
{
	dir_listing_t *d = arg;
	enum file_type type;
	uint64_t number;
	if (!db_parse_filename(name, &type, &number))
		return WB_OK;
	if (number > d->max_number)
		d->max_number = number;
	if (type != FILE_WAL)
		return WB_OK;
	if (!GROW_ONE(d->wals, d->nwals, d->cap))
		return WB_ENOMEM;
	d->wals[d->nwals++] = number;
	return WB_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int db_list_wals(wb_db *db, uint64_t **wals, int *n, uint64_t *max_number)
{
	dir_listing_t d = { 0 };
	int rc = db->env->list(db->env->ctx, db->dir, collect_wal, &d);
	if (rc != WB_OK) {
		free(d.wals);
		return rc;
	}
	if (d.nwals > 0) /* qsort(NULL, 0) is undefined */
		qsort(d.wals, (size_t)d.nwals, sizeof(uint64_t), cmp_u64);
	*wals = d.wals;
	*n = d.nwals;
	if (max_number != NULL)
		*max_number = d.max_number;
	return WB_OK;
}

typedef struct replay {
	wb_db *db;
	memtable_t *mem;
	uint64_t max_ts;
} replay_t;

/* What replaying one WAL found at its end. */
typedef struct wal_end {
	uint64_t records;   /* replayed */
	bool torn;          /* the reader dropped a torn tail ... */
	bool zero_tail;     /* ... of nothing but zeros (prepared space) */
	uint64_t valid_end; /* end of the last good record */
	uint64_t file_size;
	bool cut;           /* stopped at a batch whose value did not survive */
	uint64_t cut_record, cut_offset; /* that batch's record: index, file offset */
	char why[320];      /* and what was wrong with the value */
} wal_end_t;

/* WB_ENOTFOUND when an entry of the batch points at value-log bytes that
 * did not survive (the message says what is wrong with them). */
static int check_pointers(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	wb_db *db = arg;
	if (!(meta & META_VALUE_PTR))
		return WB_OK;
	vptr_t p;
	if (!vptr_decode(value, &p))
		return WB_ECORRUPT;
	return vlog_check_ptr(&db->vlog, &p);
}

static int replay_entry(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	replay_t *r = arg;
	if (ts > r->max_ts)
		r->max_ts = ts;
	return memtable_add(r->mem, tree_key, ts, meta, value);
}

static void salvage_say(wb_db *db, bool dropped, const char *fmt, va_list ap)
{
	char line[768];
	vsnprintf(line, sizeof(line), fmt, ap);
	info_log(db->info, "repair: %s", line);
	db->salvage->dropped += dropped;
	if (db->salvage->report != NULL)
		db->salvage->report(db->salvage->arg, dropped, line);
}

void db_salvage_note(wb_db *db, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	salvage_say(db, true, fmt, ap);
	va_end(ap);
}

/* A segment the MANIFEST names that wb_repair drops (vlog_recover). */
static void vlog_salvage_hook(void *arg, const char *why)
{
	db_salvage_note(arg, "%s: dropped the segment", why);
}

void db_salvage_tell(wb_db *db, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	salvage_say(db, false, fmt, ap);
	va_end(ap);
}

/* Replays one WAL into memtables queued on db->imm (a new one whenever the
 * current one fills up), up to its end or the first batch holding a value
 * pointer whose bytes did not survive (*end says which). A salvage skips
 * such batches and damaged stretches of the log instead, and goes on. */
static int replay_wal(wb_db *db, uint64_t number, uint64_t *max_ts, wal_end_t *end)
{
	memset(end, 0, sizeof(*end));
	char path[PATH_MAX];
	db_filename(path, sizeof(path), db->dir, FILE_WAL, number);
	log_reader_t *r;
	int rc = log_reader_open(db->env, path, LOG_KIND_WAL, &r);
	if (rc != WB_OK)
		return rc;
	/* Small logs share a memtable: many short runs killed before their
	 * replayed writes were flushed must not need one each. A memtable's
	 * WAL number is the first log it holds, which is what flushing it
	 * lets go of. */
	replay_t rp = { db, db->nimm > 0 ? db->imm[db->nimm - 1] : NULL, *max_ts };
	slice_t rec;
	uint64_t records = 0, rec_start = 0;
	log_reader_torn(r, &rec_start);
	for (;;) {
		rc = log_reader_next(r, &rec);
		if (rc == WB_ECORRUPT && db->salvage != NULL) {
			uint64_t from = 0, to = 0;
			db_salvage_note(db, "%s", err_message());
			rc = log_reader_resync(r, &from, &to);
			if (rc == WB_OK)
				continue;
		}
		if (rc != WB_OK)
			break;
		if (rp.mem == NULL || memtable_usage(rp.mem) >= db->opts.memtable_size) {
			if (db->nimm == MAX_IMMUTABLE) {
				rc = err_set(WB_ENOMEM, "%s: too many memtables to replay; raise memtable_size", path);
				break;
			}
			rp.mem = memtable_new(number, db->opts.memtable_size);
			if (rp.mem == NULL) {
				rc = WB_ENOMEM;
				break;
			}
			db->imm[db->nimm++] = rp.mem;
		}
		slice_t rest = rec;
		while (rc == WB_OK && rest.len > 0) {
			slice_t one;
			rc = batch_split(&rest, &one);
			if (rc == WB_OK)
				rc = batch_iterate(one, check_pointers, db);
			if (rc == WB_ENOTFOUND && db->salvage != NULL) {
				db_salvage_note(db, "%s record %llu (offset %llu): dropped a batch of %u writes: %s", path,
					     (unsigned long long)records, (unsigned long long)rec_start,
					     batch_count_rep(one), err_message());
				rc = WB_OK;
				continue;
			}
			if (rc == WB_ENOTFOUND) {
				/* Whether that may happen (never synced) or is damage
				 * (synced data lost) the caller decides. */
				end->cut = true;
				end->cut_record = records;
				end->cut_offset = rec_start;
				snprintf(end->why, sizeof(end->why), "%s", err_message());
				break;
			}
			if (rc == WB_OK)
				rc = batch_iterate(one, replay_entry, &rp);
		}
		if (end->cut) {
			rc = WB_OK;
			break;
		}
		if (rc == WB_ECORRUPT)
			rc = err_set(rc, "%s record %llu: malformed write batch", path, (unsigned long long)records);
		if (rc != WB_OK)
			break;
		records++;
		log_reader_torn(r, &rec_start);
	}
	if (rc == WB_ENOTFOUND)
		rc = WB_OK;
	end->records = records;
	end->torn = log_reader_torn(r, &end->valid_end);
	end->file_size = log_reader_file_size(r);
	end->zero_tail = rc == WB_OK && !end->cut && log_reader_zero_tail(r);
	log_reader_close(r);
	if (rp.mem != NULL && memtable_count(rp.mem) == 0 && db->nimm > 0 && db->imm[db->nimm - 1] == rp.mem) {
		memtable_unref(rp.mem);
		db->nimm--;
	}
	*max_ts = rp.max_ts;
	return rc;
}

/* Does WAL `number` hold at least one record? *yes is false only when it
 * is missing or ends before its first record (WB_OK then). A first record
 * that is damaged is WB_ECORRUPT, with *yes true: something was written
 * there; the caller decides what that means. Env errors as they come. */
static int wal_has_records(wb_db *db, uint64_t number, bool *yes)
{
	char path[PATH_MAX];
	db_filename(path, sizeof(path), db->dir, FILE_WAL, number);
	log_reader_t *r;
	slice_t rec;
	int rc = log_reader_open(db->env, path, LOG_KIND_WAL, &r);
	if (rc == WB_OK)
		rc = log_reader_next(r, &rec);
	log_reader_close(r);
	*yes = rc != WB_ENOTFOUND;
	return rc == WB_ENOTFOUND ? WB_OK : rc;
}

/* Replays every WAL from the log number on, and decides what the end of
 * each means (docs/format.md, "Recovery"). What a crash may leave -- a torn
 * tail, a value whose bytes never reached the disk -- is dropped quietly
 * (the info log says what) only where nothing synced can have been lost:
 * in the newest WAL holding records, and only when the last close was not
 * clean. Anywhere else it is damage to synced data, and the open fails
 * with WB_ECORRUPT naming file and offset, before anything is changed; a
 * salvage (wb_repair) keeps going instead. Each WAL whose torn tail was
 * dropped is listed in db->torn_wals to be cut back before new writes. */
/* The last close's word (version_edit_t.has_clean_close). */
typedef struct clean_close {
	bool clean;
	uint64_t wal, size;
} clean_close_t;

static int replay_wals(wb_db *db, const clean_close_t *cc, uint64_t *max_ts, uint64_t *max_number)
{
	uint64_t *wals = NULL;
	int nwals = 0;
	int rc = db_list_wals(db, &wals, &nwals, max_number);
	bool clean = cc->clean, seen_clean = false;
	/* The WAL at the log number is never deleted before an edit moving
	 * the number past it is synced: missing while a later one exists, it
	 * means the MANIFEST lost that edit (cut short, so a table the edit
	 * added is not named either). (Missing with no later one, it may
	 * never have reached the disk: a crash right after it was made.) */
	bool have_first = false, have_later = false;
	for (int i = 0; i < nwals; i++) {
		have_first |= wals[i] == db->vs.log_number;
		have_later |= wals[i] > db->vs.log_number;
	}
	if (rc == WB_OK && !have_first && have_later && db->salvage == NULL)
		rc = err_set(WB_ECORRUPT, "%06llu.wal, the oldest log the MANIFEST says is needed, is missing: "
			     "the MANIFEST lost edits, or the log was deleted",
			     (unsigned long long)db->vs.log_number);
	for (int i = 0; rc == WB_OK && i < nwals; i++) {
		if (wals[i] < db->vs.log_number)
			continue;
		wal_end_t end;
		rc = replay_wal(db, wals[i], max_ts, &end);
		if (rc != WB_OK)
			break;
		char path[PATH_MAX];
		db_filename(path, sizeof(path), db->dir, FILE_WAL, wals[i]);
		const char *name = strrchr(path, '/') + 1;
		if (clean && wals[i] == cc->wal) {
			seen_clean = true;
			if (db->salvage != NULL && !end.cut && end.valid_end < cc->size) {
				db_salvage_note(db, "%s: cut short or damaged at offset %llu (it had %llu bytes when "
						"closed): the writes after that are lost",
						path, (unsigned long long)end.valid_end, (unsigned long long)cc->size);
				continue;
			}
			if (db->salvage == NULL && (end.cut || end.valid_end < cc->size)) {
				rc = err_set(WB_ECORRUPT,
					     "%s ends at offset %llu, but the database was closed cleanly with %llu bytes "
					     "in it: the log was cut short or damaged (`wombat %s repair` keeps what "
					     "checks out)",
					     path, (unsigned long long)(end.cut ? end.cut_offset : end.valid_end),
					     (unsigned long long)cc->size, db->dir);
				if (end.cut)
					rc = err_set(WB_ECORRUPT, "%s record %llu (offset %llu): %s; the database was closed "
						     "cleanly, so this is damage (`wombat %s repair` keeps what checks out)",
						     path, (unsigned long long)end.cut_record, (unsigned long long)end.cut_offset,
						     end.why, db->dir);
				break;
			}
			continue;
		}
		bool partial = end.torn && !end.zero_tail;
		if (!partial && !end.cut)
			continue;
		/* A later WAL with records means this one was synced whole
		 * (with the value log) before it took them. */
		bool later = clean && wals[i] < cc->wal;
		for (int j = i + 1; rc == WB_OK && !later && j < nwals; j++) {
			rc = wal_has_records(db, wals[j], &later);
			if (rc == WB_ECORRUPT)
				rc = WB_OK; /* a damaged later log took writes too */
		}
		if (rc != WB_OK)
			break;
		if (later && db->salvage == NULL) {
			if (end.cut)
				rc = err_set(WB_ECORRUPT, "%s record %llu (offset %llu): %s; later logs hold writes, so "
					     "this was synced: damage (`wombat %s repair` keeps what checks out)",
					     path, (unsigned long long)end.cut_record, (unsigned long long)end.cut_offset,
					     end.why, db->dir);
			else
				rc = err_set(WB_ECORRUPT, "%s offset %llu: the log is damaged or cut short, and later "
					     "logs hold writes (`wombat %s repair` keeps what checks out)",
					     path, (unsigned long long)end.valid_end, db->dir);
			break;
		}
		if (end.cut) {
			info_log(db->info, "recovery: %s record %llu (offset %llu) points at a value that never reached "
				 "the disk (%s): replay stops there; %llu bytes of the log after it dropped (never synced)",
				 name, (unsigned long long)end.cut_record, (unsigned long long)end.cut_offset, end.why,
				 (unsigned long long)(end.file_size - end.cut_offset));
			if (db->salvage != NULL)
				db_salvage_note(db, "%s: replay stopped at record %llu", path,
					     (unsigned long long)end.cut_record);
			db->replay_cut = true;
			break;
		}
		info_log(db->info, "recovery: %s: torn tail after a crash: %llu bytes after offset %llu dropped "
			 "(never synced)",
			 name, (unsigned long long)(end.file_size - end.valid_end), (unsigned long long)end.valid_end);
		if (db->salvage != NULL)
			db_salvage_note(db, "%s: dropped %llu bytes cut short or damaged after offset %llu", path,
				     (unsigned long long)(end.file_size - end.valid_end),
				     (unsigned long long)end.valid_end);
		if (db->ntorn < MAX_TORN_WALS)
			db->torn_wals[db->ntorn++] = (torn_wal_t){ wals[i], end.valid_end };
		else
			db->replay_cut = true; /* flushing the replayed writes does as well */
	}
	if (rc == WB_OK && clean && !seen_clean && cc->wal >= db->vs.log_number && db->salvage == NULL)
		rc = err_set(WB_ECORRUPT, "%06llu.wal is missing, but the database was closed cleanly with it",
			     (unsigned long long)cc->wal);
	free(wals);
	return rc;
}

/* Opens every table of db->vs.current. A salvage drops the tables it cannot
 * open from the version instead of failing. */
static int open_tables(wb_db *db)
{
	version_edit_t drop;
	edit_init(&drop);
	version_t *v = db->vs.current;
	int rc = WB_OK;
	for (int l = 0; l < NUM_LEVELS && rc == WB_OK; l++) {
		for (int i = 0; i < v->nfiles[l] && rc == WB_OK; i++) {
			file_meta_t *f = v->files[l][i];
			char path[PATH_MAX];
			db_filename(path, sizeof(path), db->dir, FILE_SST, f->number);
			rc = sst_reader_open(db->env, path, &f->reader);
			if (rc == WB_ENOTFOUND)
				rc = err_set(WB_ECORRUPT, "table %06llu.sst listed in the MANIFEST is missing",
					     (unsigned long long)f->number);
			if ((rc == WB_ECORRUPT || rc == WB_EFORMAT) && db->salvage != NULL) {
				db_salvage_note(db, "%s: dropped the table (its keys are lost)", err_message());
				rc = edit_delete_file(&drop, l, f->number);
				continue;
			}
			if (rc == WB_OK)
				sst_reader_set_cache(f->reader, db->cache);
		}
	}
	if (rc == WB_OK && drop.ndeleted > 0)
		rc = vset_apply_unlogged(&db->vs, &drop);
	edit_destroy(&drop);
	return rc;
}

/* Called for each name in a directory without CURRENT: a table, or a log
 * holding a record, means a database whose CURRENT was lost. (A crash
 * during the very first open leaves only empty logs and a MANIFEST of an
 * empty tree.) */
static int check_no_data(void *arg, const char *name)
{
	wb_db *db = arg;
	enum file_type type;
	uint64_t number;
	if (!db_parse_filename(name, &type, &number) || (type != FILE_SST && type != FILE_WAL))
		return WB_OK;
	if (type == FILE_WAL) {
		bool records;
		int rc = wal_has_records(db, number, &records);
		if (rc != WB_OK) /* a damaged first record too: its own message */
			return rc;
		if (!records)
			return WB_OK;
	}
	return err_set(WB_ECORRUPT, "%s/CURRENT is missing, but %s holds data: not starting afresh",
		       db->dir, name);
}

static int recover(wb_db *db, bool *fresh)
{
	char path[PATH_MAX];
	db_filename(path, sizeof(path), db->dir, FILE_CURRENT, 0);
	version_edit_t state;
	int rc = vset_recover(&db->vs, &state);
	if (rc == WB_ENOTFOUND) {
		/* Starting afresh over lost data would delete it as unreferenced. */
		rc = db->env->list(db->env->ctx, db->dir, check_no_data, db);
		if (rc != WB_OK)
			return rc;
		if (!db->opts.create_if_missing)
			return err_set(WB_ENOTFOUND, "%s: no database here (create it first)", db->dir);
		if (db->opts.read_only)
			return err_set(WB_ENOTFOUND, "%s: no database here", db->dir);
		*fresh = true;
		return vset_create(&db->vs);
	}
	if (rc != WB_OK)
		return rc;
	if (db->opts.error_if_exists) {
		edit_destroy(&state);
		return err_set(WB_EEXIST, "%s: a database already exists", db->dir);
	}
	hlc_observe(&db->clock, state.last_ts);
	for (int i = 0; i < state.ndiscards && rc == WB_OK; i++)
		rc = vlog_discard_add(&db->vlog, state.discards[i].segment, state.discards[i].bytes);
	if (rc == WB_OK)
		rc = vlog_recover(&db->vlog, &state, db->salvage != NULL ? vlog_salvage_hook : NULL, db);
	if (rc != WB_OK) {
		edit_destroy(&state);
		return rc;
	}
	clean_close_t cc = { state.has_clean_close, state.clean_wal, state.clean_wal_size };
	edit_destroy(&state);
	rc = open_tables(db);
	if (rc != WB_OK)
		return rc;

	uint64_t max_number = 0, max_ts = 0;
	rc = replay_wals(db, &cc, &max_ts, &max_number);
	/* A crash can leave files numbered past the MANIFEST's next file. */
	if (max_number >= db->vs.next_file)
		db->vs.next_file = max_number + 1;
	hlc_observe(&db->clock, max_ts);
	atomic_store(&db->visible_ts, hlc_last(&db->clock));
	db->stamped_ts = hlc_last(&db->clock);
	/* Which versions earlier runs compacted away is not recorded, so time
	 * travel reaches back only to what is recovered now. */
	db->oracle.discard_ts = hlc_last(&db->clock);
	return rc;
}

static int remove_obsolete(void *arg, const char *name)
{
	wb_db *db = arg;
	enum file_type type;
	uint64_t number;
	if (!db_parse_filename(name, &type, &number))
		return WB_OK;
	bool keep = true;
	switch (type) {
	case FILE_WAL:
		keep = number >= db->vs.log_number;
		break;
	case FILE_MANIFEST:
		keep = number == db->vs.manifest_number;
		break;
	case FILE_TEMP:
		keep = false;
		break;
	case FILE_SST:
		keep = false;
		for (int l = 0; l < NUM_LEVELS && !keep; l++)
			for (int i = 0; i < db->vs.current->nfiles[l] && !keep; i++)
				keep = db->vs.current->files[l][i]->number == number;
		break;
	case FILE_VLOG:
		keep = vlog_is_live(&db->vlog, number);
		break;
	default:
		break;
	}
	if (!keep) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", db->dir, name);
		db->env->remove(db->env->ctx, path);
	}
	return WB_OK;
}

/* After a cut replay: the replayed memtables become L0 tables now, so
 * that the WALs holding the batches after the cut are never replayed
 * again (new writes go to a new WAL that a later replay would reach). */
static int flush_replayed(wb_db *db)
{
	version_edit_t e;
	edit_init(&e);
	int rc = WB_OK;
	for (int i = 0; i < db->nimm && rc == WB_OK; i++) {
		file_meta_t *f = NULL;
		rc = db_build_table(db, db->imm[i], vset_new_file_number(&db->vs), &f);
		if (rc == WB_OK && f != NULL)
			rc = edit_add_file(&e, 0, f);
		file_meta_unref(f);
	}
	if (rc == WB_OK)
		rc = db->env->sync_dir(db->env->ctx, db->dir);
	if (rc == WB_OK)
		rc = vset_apply_unlogged(&db->vs, &e);
	edit_destroy(&e);
	if (rc != WB_OK)
		return rc;
	for (int i = 0; i < db->nimm; i++)
		memtable_unref(db->imm[i]);
	db->nimm = 0;
	return WB_OK;
}

/* Cuts each WAL whose torn tail recovery dropped back to its last good
 * record, so the new WAL's records never follow a torn one. */
static int trim_torn_wals(wb_db *db)
{
	for (int i = 0; i < db->ntorn; i++) {
		char path[PATH_MAX];
		db_filename(path, sizeof(path), db->dir, FILE_WAL, db->torn_wals[i].number);
		wb_env_file *f;
		int rc = db->env->open(db->env->ctx, path, WB_ENV_WRITE, &f);
		if (rc == WB_OK) {
			rc = db->env->truncate(f, db->torn_wals[i].valid_end);
			if (rc == WB_OK)
				rc = db->env->sync(f);
			int crc = db->env->close(f);
			if (rc == WB_OK)
				rc = crc;
		}
		if (rc != WB_OK)
			return err_set(rc, "%s: cannot cut the torn tail off: %s", path, wb_strerror(rc));
	}
	db->ntorn = 0;
	return WB_OK;
}

/* What replay leaves to do before new writes: the replayed writes to
 * tables after a cut or a salvage, or the torn WALs cut back. */
static int settle_replay(wb_db *db)
{
	if (db->replay_cut || db->salvage != NULL)
		return flush_replayed(db);
	return trim_torn_wals(db);
}

/* The new WAL and the fresh MANIFEST of start_writing. On failure it
 * leaves neither WAL nor active memtable behind, so it can be tried again
 * (the MANIFEST snapshot cleans up after itself). */
static int start_log_and_manifest(wb_db *db)
{
	uint64_t wal = vset_new_file_number(&db->vs);
	uint64_t manifest = vset_new_file_number(&db->vs);
	char path[PATH_MAX];
	db_filename(path, sizeof(path), db->dir, FILE_WAL, wal);
	int rc = log_writer_create(db->env, path, LOG_KIND_WAL, &db->wal);
	if (rc == WB_OK)
		rc = log_writer_sync(db->wal);
	if (rc != WB_OK) {
		char why[400];
		snprintf(why, sizeof(why), "%s", err_message());
		rc = err_set(rc, "%s: cannot create the log: %s", path, *why ? why : wb_strerror(rc));
	} else {
		db->wal_number = wal;
		db->mem = memtable_new(wal, db->opts.memtable_size);
		rc = db->mem ? WB_OK : WB_ENOMEM;
	}
	/* The log number stays at the oldest replayed WAL until it is flushed. */
	if (rc == WB_OK)
		db->vs.log_number = db->nimm == 0 ? wal : db->imm[0]->wal_number;
	if (rc == WB_OK)
		rc = vset_write_snapshot(&db->vs, manifest);
	if (rc != WB_OK) {
		char why[512]; /* the cleanup's own failures must not replace it */
		snprintf(why, sizeof(why), "%s", err_message());
		log_writer_close(db->wal);
		db->wal = NULL;
		db->env->remove(db->env->ctx, path);
		memtable_unref(db->mem);
		db->mem = NULL;
		err_set(rc, "%s", why);
	}
	return rc;
}

/* Makes the recovered state the live one: a new WAL, a fresh MANIFEST.
 * Both need room, so on a full disk the disk reserve is given back
 * (reserve.h) and they are tried once more: a full disk still opens
 * read-write, and deletes can make room. */
static int start_writing(wb_db *db)
{
	int rc = settle_replay(db);
	if (rc == WB_ENOSPC && reserve_release(db, "to write the replayed log of an open"))
		rc = settle_replay(db);
	if (rc == WB_OK)
		rc = start_log_and_manifest(db);
	if (rc == WB_ENOSPC && reserve_release(db, "to make the new log and MANIFEST of an open"))
		rc = start_log_and_manifest(db);
	if (rc != WB_OK)
		return rc;
	return db->env->list(db->env->ctx, db->dir, remove_obsolete, db);
}

static void db_free(wb_db *db)
{
	log_writer_close(db->wal);
	vset_destroy(&db->vs);
	vlog_destroy(&db->vlog);
	memtable_unref(db->mem);
	for (int i = 0; i < db->nimm; i++)
		memtable_unref(db->imm[i]);
	if (db->obsolete != NULL) {
		int left;
		do { /* 64 at a time */
			left = db->nobsolete;
			db_delete_obsolete_tables(db);
		} while (db->nobsolete > 0 && db->nobsolete < left);
		for (int i = 0; i < db->nobsolete; i++)
			file_meta_unref(db->obsolete[i]);
		free(db->obsolete);
	}
	block_cache_free(db->cache); /* after every table that used it */
	oracle_destroy(&db->oracle);
	pthread_cond_destroy(&db->visible_cv);
	rate_limiter_destroy(&db->limiter);
	pthread_cond_destroy(&db->compact_cv);
	info_log_close(db->info);
	if (db->lock_file != NULL)
		db->env->unlock(db->env->ctx, db->lock_file);
	pthread_mutex_destroy(&db->mu);
	pthread_mutex_destroy(&db->wal_mu);
	pthread_cond_destroy(&db->work_cv);
	pthread_cond_destroy(&db->room_cv);
	pthread_cond_destroy(&db->flushed_cv);
	pthread_cond_destroy(&db->sync_cv);
	pthread_cond_destroy(&db->gc_cv);
	pthread_cond_destroy(&db->gc_done_cv);
	pthread_mutex_destroy(&db->gc_mu);
	bgerror_destroy(&db->bg);
	reserve_destroy(&db->reserve);
	rate_limiter_destroy(&db->gc_limiter);
	free(db->dir);
	free(db);
}

static int start_threads(wb_db *db)
{
	if (pthread_create(&db->flush_thread, NULL, db_flush_thread, db) != 0)
		return err_set(WB_ENOMEM, "cannot start the flush thread");
	pthread_setname_np(db->flush_thread, "wb-flush");
	db->flush_started = true;
	if (db->opts.sync == WB_SYNC_INTERVAL) {
		if (pthread_create(&db->sync_thread, NULL, db_sync_thread, db) != 0)
			return err_set(WB_ENOMEM, "cannot start the sync thread");
		pthread_setname_np(db->sync_thread, "wb-sync");
		db->sync_started = true;
	}
	int n = db->opts.compaction_threads;
	for (db->ncompact_threads = 0; db->ncompact_threads < n; db->ncompact_threads++) {
		pthread_t *t = &db->compact_threads[db->ncompact_threads];
		if (pthread_create(t, NULL, db_compaction_thread, db) != 0)
			return err_set(WB_ENOMEM, "cannot start a compaction thread");
		char name[16] = "wb-compact-";
		name[11] = (char)('1' + db->ncompact_threads); /* at most MAX_COMPACT_THREADS */
		pthread_setname_np(*t, name);
	}
	if (db->opts.vlog_gc_interval_ms > 0) {
		if (pthread_create(&db->gc_thread, NULL, vlog_gc_thread, db) != 0)
			return err_set(WB_ENOMEM, "cannot start the value-log reclaim thread");
		pthread_setname_np(db->gc_thread, "wb-vlog-gc");
		db->gc_started = true;
	}
	pthread_mutex_lock(&db->mu);
	pthread_cond_broadcast(&db->compact_cv); /* the tree may need work already */
	if (db->nimm > 0)
		pthread_cond_signal(&db->work_cv);
	pthread_mutex_unlock(&db->mu);
	return WB_OK;
}

static void stop_threads(wb_db *db)
{
	pthread_mutex_lock(&db->mu);
	db->closing = true;
	pthread_cond_broadcast(&db->work_cv);
	pthread_cond_broadcast(&db->room_cv);
	pthread_cond_broadcast(&db->flushed_cv);
	pthread_cond_broadcast(&db->sync_cv);
	pthread_cond_broadcast(&db->compact_cv);
	pthread_cond_broadcast(&db->gc_cv);
	pthread_cond_broadcast(&db->gc_done_cv);
	pthread_cond_broadcast(&db->visible_cv);
	/* A wb_compact_range on another thread notices `closing` and returns. */
	while (db->manual_compactions > 0)
		pthread_cond_wait(&db->compact_cv, &db->mu);
	pthread_mutex_unlock(&db->mu);
	for (int i = 0; i < db->ncompact_threads; i++)
		pthread_join(db->compact_threads[i], NULL);
	db->ncompact_threads = 0;
	if (db->flush_started)
		pthread_join(db->flush_thread, NULL);
	if (db->sync_started)
		pthread_join(db->sync_thread, NULL);
	if (db->gc_started)
		pthread_join(db->gc_thread, NULL);
	db->flush_started = db->sync_started = db->gc_started = false;
}

/* What a MANIFEST snapshot holds besides the tree (version_set.h,
 * vset_hooks_t): the clock, and the value log's discards and segments. */
static int vset_snapshot_hook(void *arg, version_edit_t *e)
{
	wb_db *db = arg;
	e->has_last_ts = true;
	e->last_ts = hlc_last(&db->clock);
	return vlog_discard_snapshot(&db->vlog, e);
}

static int vset_segments_hook(void *arg, version_edit_t *e, bool snapshot, uint64_t log_number,
			      uint64_t **segs, int *nsegs)
{
	wb_db *db = arg;
	return vlog_manifest_add(&db->vlog, e, snapshot, log_number, segs, nsegs);
}

static void vset_recorded_hook(void *arg, const uint64_t *segs, int nsegs)
{
	wb_db *db = arg;
	vlog_mark_recorded(&db->vlog, segs, nsegs);
}

/* What the value log asks of the database (vlog_config_t): file numbers
 * from the version set, and a nudge to the reclaim thread. */
static uint64_t vlog_file_number_hook(void *arg)
{
	wb_db *db = arg;
	pthread_mutex_lock(&db->mu);
	uint64_t n = vset_new_file_number(&db->vs);
	pthread_mutex_unlock(&db->mu);
	return n;
}

static void vlog_wake_hook(void *arg)
{
	wb_db *db = arg;
	pthread_mutex_lock(&db->mu);
	pthread_cond_signal(&db->gc_cv);
	pthread_mutex_unlock(&db->mu);
}

int wb_open(const char *dir, const wb_options *opts, wb_db **out)
{
	return db_open_with(dir, opts, NULL, out);
}

int db_open_with(const char *dir, const wb_options *opts, salvage_t *salvage, wb_db **out)
{
	err_clear();
	*out = NULL;
	wb_db *db = calloc(1, sizeof(*db));
	if (db == NULL)
		return WB_ENOMEM;
	db->salvage = salvage;
	if (opts != NULL)
		db->opts = *opts;
	else
		wb_options_init(&db->opts);
	db->env = db->opts.env ? db->opts.env : wb_env_default();
	db->dir = strdup(dir);
	pthread_mutex_init(&db->mu, NULL);
	const vset_hooks_t hooks = { .arg = db,
				     .snapshot = vset_snapshot_hook,
				     .segments = vset_segments_hook,
				     .recorded = vset_recorded_hook };
	vset_init(&db->vs, db->env, db->dir, &db->mu, &hooks);
	pthread_mutex_init(&db->wal_mu, NULL);
	pthread_cond_init(&db->work_cv, NULL);
	pthread_cond_init(&db->room_cv, NULL);
	pthread_cond_init(&db->flushed_cv, NULL);
	pthread_cond_init(&db->sync_cv, NULL);
	pthread_cond_init(&db->compact_cv, NULL);
	pthread_cond_init(&db->gc_cv, NULL);
	pthread_cond_init(&db->gc_done_cv, NULL);
	pthread_mutex_init(&db->gc_mu, NULL);
	const vlog_config_t vcfg = { .env = db->env,
				     .dir = db->dir,
				     .value_threshold = db->opts.value_threshold,
				     .segment_size = db->opts.vlog_segment_size,
				     .new_file_number = vlog_file_number_hook,
				     .wake_reclaim = vlog_wake_hook,
				     .arg = db };
	vlog_init(&db->vlog, &vcfg);
	bgerror_init(&db->bg, db->env);
	reserve_init(&db->reserve);
	pthread_cond_init(&db->visible_cv, NULL);
	oracle_init(&db->oracle, db->env, db->opts.retain_versions_ms, 0);
	rate_limiter_init(&db->limiter, db->env, db->opts.compaction_rate_limit);
	rate_limiter_init(&db->gc_limiter, db->env, db->opts.vlog_gc_rate_limit);
	db->cache = block_cache_new(db->opts.block_cache_size);
	hlc_init(&db->clock, db->env);
	if (db->dir == NULL || db->cache == NULL) {
		db_free(db);
		return WB_ENOMEM;
	}
	int rc = check_options(&db->opts);
	if (rc == WB_OK && db->opts.create_if_missing && !db->opts.read_only) {
		rc = db->env->mkdir(db->env->ctx, dir);
		if (rc == WB_EEXIST)
			rc = WB_OK;
		else if (rc != WB_OK)
			rc = err_set(rc, "%s: cannot create directory: %s", dir, wb_strerror(rc));
	}
	char path[PATH_MAX];
	db_filename(path, sizeof(path), dir, FILE_LOCK, 0);
	if (rc == WB_OK) {
		long holder = 0;
		rc = db->env->lock(db->env->ctx, path, &db->lock_file, &holder);
		if (rc == WB_EBUSY)
			rc = err_set(WB_EBUSY, "%s is in use by process %ld", dir, holder);
		else if (rc == WB_ENOTFOUND)
			rc = err_set(WB_ENOTFOUND, "%s: no such database directory", dir);
		else if (rc != WB_OK)
			rc = err_set(rc, "%s: cannot lock: %s", path, wb_strerror(rc));
	}
	if (rc == WB_OK && !db->opts.read_only && info_log_open(db->env, dir, db->opts.info_log, db->opts.info_log_arg, &db->info) != WB_OK)
		err_clear(); /* a database without its info log still works */
	db->bg.log = db->info;
	info_log(db->info, "opening %s (wombat %d.%d)", dir, WB_VERSION_MAJOR, WB_VERSION_MINOR);
	bool fresh = false;
	if (rc == WB_OK)
		rc = recover(db, &fresh);
	if (rc == WB_OK && !db->opts.read_only)
		rc = start_writing(db);
	/* Made (again) while no other thread writes: filling it may take the
	 * last room of a nearly full disk for a moment. Not after giving it
	 * back just now: the disk is full. */
	if (rc == WB_OK && !db->opts.read_only && !db->reserve.released)
		reserve_fill(db);
	if (rc == WB_OK && db->opts.read_only) {
		db->mem = memtable_new(0, db->opts.memtable_size);
		if (db->mem == NULL)
			rc = WB_ENOMEM;
	}
	/* Counted before the threads start: the flush thread changes both. */
	int tables = 0, replayed = db->nimm;
	for (int l = 0; rc == WB_OK && l < NUM_LEVELS; l++)
		tables += db->vs.current->nfiles[l];
	if (rc == WB_OK && !db->opts.read_only)
		rc = start_threads(db);
	if (rc != WB_OK) {
		info_log(db->info, "open failed: %s: %s", wb_strerror(rc), err_message());
		stop_threads(db);
		db_free(db);
		return rc;
	}
	info_log(db->info, "open: %s database, %d tables, %d memtables replayed", fresh ? "new" : "existing",
		 tables, replayed);
	err_clear(); /* e.g. mkdir's "exists" is no error of the call */
	*out = db;
	return WB_OK;
}

/* The last step of a clean close: the WAL's final size goes into the
 * MANIFEST, so the next open knows where the log ended and that every
 * byte it and the value log hold was synced; anything missing then is
 * damage, not a crash's torn tail (docs/format.md, "Recovery"). */
static int record_clean_close(wb_db *db)
{
	uint64_t size = log_writer_size(db->wal);
	int rc = log_writer_close(db->wal); /* trims a mapped log's zeros */
	db->wal = NULL;
	if (rc != WB_OK)
		return rc;
	version_edit_t e;
	edit_init(&e);
	e.has_clean_close = true;
	e.clean_wal = db->wal_number;
	e.clean_wal_size = size;
	rc = vset_log_and_apply(&db->vs, &e, NULL, NULL);
	edit_destroy(&e);
	return rc;
}

int wb_close(wb_db *db)
{
	if (db == NULL)
		return WB_OK;
	err_clear();
	stop_threads(db);
	int rc = WB_OK;
	if (db->wal != NULL && !db->opts.read_only) {
		rc = vlog_sync(&db->vlog);
		if (rc == WB_OK)
			rc = log_writer_sync(db->wal);
		/* After a sticky failure (a failed fsync) the log may not hold
		 * what it seems to: no clean-close mark then. */
		if (rc == WB_OK && bgerror_sticky(&db->bg) == WB_OK)
			rc = record_clean_close(db);
	}
	if (rc != WB_OK)
		info_log(db->info, "close: %s: %s", wb_strerror(rc), err_message());
	else
		info_log(db->info, "closed");
	db_free(db);
	return rc;
}
