/*
 * stats.c -- wb_stats_text and wb_stats_json (stats.h).
 *
 * Both reports list the same facts; the text one is for people (the CLI's
 * `stats`), the JSON one for programs and the benchmark.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "db/compaction.h"
#include "db/db_impl.h"
#include "util/error.h"
#include "util/grow.h"

/* A growing string; out of memory makes it NULL and later appends no-ops. */
typedef struct sbuf {
	char *s;
	size_t len, cap;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
	if (b->cap > 0 && b->s == NULL)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->s != NULL && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		if (!grow_array((void **)&b->s, &b->cap, b->len + (size_t)n + 1, 1)) {
			free(b->s);
			b->s = NULL;
			b->cap = 1;
			return;
		}
	}
}

/* vlog_stats writes through this. */
static void sb_sink(void *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_sink(void *arg, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n >= 0)
		sb_printf(arg, "%s", line);
	free(line);
}

typedef struct counter {
	const char *name;
	uint64_t value;
} counter_t;

/* The counters in report order; returns how many. */
/* The value log's discard counts, one segment a call (vlog_discard_each). */
static void discard_text(void *arg, int i, uint64_t segment, uint64_t bytes)
{
	sb_printf(arg, "value-log segment %06llu: %llu bytes unreferenced\n",
		  (unsigned long long)segment, (unsigned long long)bytes);
}

static void discard_json(void *arg, int i, uint64_t segment, uint64_t bytes)
{
	sb_printf(arg, "%s{\"segment\":%llu,\"bytes\":%llu}", i ? "," : "",
		  (unsigned long long)segment, (unsigned long long)bytes);
}

static int collect(wb_db *db, counter_t *c)
{
	int n = 0;
#define C(field) c[n++] = (counter_t){ #field, STAT_GET(db, field) }
	C(puts);
	C(deletes);
	C(batches);
	C(writes_grouped);
	C(gets);
	C(get_hits);
	C(range_reads);
	C(stat_keys);
	C(bytes_written);
	C(bytes_read);
	C(wal_bytes);
	C(wal_records);
	C(wal_syncs);
	C(flushes);
	C(flush_bytes);
	C(flush_micros);
	C(memtable_switches);
	C(stalls);
	C(stall_micros);
	C(iterators);
	C(bg_errors);
	C(compactions);
	C(trivial_moves);
	C(compaction_bytes_read);
	C(compaction_bytes_written);
	C(compaction_micros);
	C(txn_begins);
	C(txn_commits);
	C(txn_conflicts);
	C(txn_aborts);
	C(txn_retries);
	C(txn_check_nanos);
#undef C
	return n;
}

typedef struct shape {
	int nfiles[NUM_LEVELS];
	uint64_t bytes[NUM_LEVELS];
	size_t mem_bytes;
	int nimm;
	uint64_t last_ts;
	double score[NUM_LEVELS];
	block_cache_stats_t cache;
	double write_amp; /* table bytes written (flush + compaction) per user byte */
	int readers;      /* transactions and iterators registered with the oracle */
	uint64_t txn_log_records, txn_log_bytes, txn_checks, txn_too_old;
} shape_t;

static void take_shape(wb_db *db, shape_t *s)
{
	pthread_mutex_lock(&db->mu);
	for (int l = 0; l < NUM_LEVELS; l++) {
		s->nfiles[l] = db->vs.current->nfiles[l];
		s->bytes[l] = version_level_bytes(db->vs.current, l);
		s->score[l] = compaction_score(db, db->vs.current, l);
	}
	s->mem_bytes = db->mem ? memtable_usage(db->mem) : 0;
	for (int i = 0; i < db->nimm; i++)
		s->mem_bytes += memtable_usage(db->imm[i]);
	s->nimm = db->nimm;
	s->readers = db->oracle.nreaders;
	s->txn_log_records = db->oracle.nrecs;
	s->txn_log_bytes = db->oracle.rec_bytes;
	s->txn_checks = db->oracle.checks;
	s->txn_too_old = db->oracle.too_old;
	pthread_mutex_unlock(&db->mu);
	s->last_ts = atomic_load(&db->visible_ts);
	block_cache_get_stats(db->cache, &s->cache);
	uint64_t user = STAT_GET(db, bytes_written);
	uint64_t disk = STAT_GET(db, flush_bytes) + STAT_GET(db, compaction_bytes_written);
	s->write_amp = user ? (double)disk / (double)user : 0;
}

static double hit_rate(const block_cache_stats_t *c)
{
	uint64_t all = c->hits + c->misses;
	return all ? (double)c->hits / (double)all : 0;
}

int wb_stats_text(wb_db *db, char **out)
{
	sbuf_t b = { 0 };
	shape_t s;
	counter_t c[64];
	take_shape(db, &s);
	int n = collect(db, c);

	sb_printf(&b, "level  files        bytes  score\n");
	for (int l = 0; l < NUM_LEVELS; l++)
		sb_printf(&b, "L%d     %5d  %11llu  %5.2f\n", l, s.nfiles[l], (unsigned long long)s.bytes[l],
			  s.score[l]);
	sb_printf(&b, "memtables: %d frozen, %zu bytes\n", s.nimm, s.mem_bytes);
	sb_printf(&b, "block cache: %llu of %llu bytes, hit rate %.1f%% (%llu hits, %llu misses)\n",
		  (unsigned long long)s.cache.usage, (unsigned long long)s.cache.capacity,
		  100 * hit_rate(&s.cache), (unsigned long long)s.cache.hits,
		  (unsigned long long)s.cache.misses);
	sb_printf(&b, "write amplification: %.2f (table bytes written per user byte)\n", s.write_amp);
	vlog_discard_each(&db->vlog, discard_text, &b);
	vlog_stats(&db->vlog, false, sb_sink, &b);
	bgerror_report(&db->bg, false, sb_sink, &b);
	reserve_report(db, false, sb_sink, &b);
	sb_printf(&b, "last commit ts: %llu\n", (unsigned long long)s.last_ts);
	sb_printf(&b,
		  "readers: %d; transaction commit log: %llu commits, %llu bytes; %llu checked, "
		  "%llu too old to check\n",
		  s.readers, (unsigned long long)s.txn_log_records,
		  (unsigned long long)s.txn_log_bytes, (unsigned long long)s.txn_checks,
		  (unsigned long long)s.txn_too_old);
	for (int i = 0; i < n; i++)
		sb_printf(&b, "%-20s %llu\n", c[i].name, (unsigned long long)c[i].value);
	if (b.s == NULL)
		return WB_ENOMEM;
	*out = b.s;
	return WB_OK;
}

int wb_stats_json(wb_db *db, char **out)
{
	sbuf_t b = { 0 };
	shape_t s;
	counter_t c[64];
	take_shape(db, &s);
	int n = collect(db, c);

	sb_printf(&b, "{\"levels\":[");
	for (int l = 0; l < NUM_LEVELS; l++)
		sb_printf(&b, "%s{\"level\":%d,\"files\":%d,\"bytes\":%llu,\"score\":%.6f}", l ? "," : "",
			  l, s.nfiles[l], (unsigned long long)s.bytes[l], s.score[l]);
	sb_printf(&b, "],\"frozen_memtables\":%d,\"memtable_bytes\":%zu,\"last_ts\":%llu", s.nimm,
		  s.mem_bytes, (unsigned long long)s.last_ts);
	sb_printf(&b, ",\"cache_hits\":%llu,\"cache_misses\":%llu,\"cache_usage\":%llu",
		  (unsigned long long)s.cache.hits, (unsigned long long)s.cache.misses,
		  (unsigned long long)s.cache.usage);
	sb_printf(&b, ",\"write_amplification\":%.3f", s.write_amp);
	sb_printf(&b, ",\"readers\":%d,\"txn_log_records\":%llu,\"txn_log_bytes\":%llu",
		  s.readers, (unsigned long long)s.txn_log_records,
		  (unsigned long long)s.txn_log_bytes);
	sb_printf(&b, ",\"txn_checks\":%llu,\"txn_too_old\":%llu", (unsigned long long)s.txn_checks,
		  (unsigned long long)s.txn_too_old);
	sb_printf(&b, ",\"vlog_discards\":[");
	vlog_discard_each(&db->vlog, discard_json, &b);
	sb_printf(&b, "],\"background_error\":");
	bgerror_report(&db->bg, true, sb_sink, &b);
	sb_printf(&b, ",");
	reserve_report(db, true, sb_sink, &b);
	sb_printf(&b, ",");
	vlog_stats(&db->vlog, true, sb_sink, &b);
	for (int i = 0; i < n; i++)
		sb_printf(&b, ",\"%s\":%llu", c[i].name, (unsigned long long)c[i].value);
	sb_printf(&b, "}");
	if (b.s == NULL)
		return WB_ENOMEM;
	*out = b.s;
	return WB_OK;
}
