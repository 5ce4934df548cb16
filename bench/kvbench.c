/*
 * kvbench.c -- the engine half of `make bench`: db_bench-style workloads run
 * with the same keys and values on Wombat, RocksDB, LevelDB and LMDB, side
 * by side, through the adapters of kv_adapter.h. Prints one table per value
 * size (ops/s per engine, Wombat's ratio to each peer, p99 latency), the
 * space and memory each engine used, and the machine it ran on; writes every
 * number to a JSON file and the 100-byte ops/s to a data file for gnuplot.
 * This file holds the workloads, the child processes and the options;
 * kv_report.c the output.
 *
 * Fair settings (also printed in the report, see report_settings):
 *   - no compression in any engine;
 *   - the LSMs (wombat, rocksdb, leveldb): bloom filter 10 bits/key, LRU
 *     block cache 256 MiB, memtable / write buffer 64 MiB;
 *   - wombat: wb_options_init() defaults (which are the values above),
 *     sync = WB_SYNC_NONE;
 *   - rocksdb: its defaults otherwise, max_background_jobs 2;
 *   - leveldb: its defaults otherwise; write_buffer_size is raised from its
 *     default 4 MiB to 64 MiB to match;
 *   - lmdb: no cache of its own (the OS page cache), map size 64 GiB,
 *     MDB_NOSYNC | MDB_NOMETASYNC, MDB_WRITEMAP off;
 *   - no write is synced except in fillsync, where every write is (wombat
 *     WB_SYNC_ALWAYS, rocksdb/leveldb WriteOptions.sync, lmdb without
 *     MDB_NOSYNC);
 *   - a get returns the value the way each C API does: a malloc'd copy in
 *     wombat, rocksdb and leveldb, a pointer into the map in lmdb;
 *   - after every workload that writes, the engine settles (untimed): wombat
 *     wb_flush, then up to 30 s while its level scores (wb_stats_text) show
 *     a compaction due; rocksdb flush, then up to 30 s for running and
 *     pending compactions to reach 0; leveldb and lmdb nothing (LevelDB
 *     has no call for it).
 *
 * Process model: the parent forks one child per (value size, engine) on a
 * fresh directory DIR/<engine>-<value size>, so one engine's memory and page
 * cache habits do not spill into another's figures. The child runs the
 * workloads in order and writes one struct result per workload into a pipe;
 * the parent prints each as it arrives. A child that dies or stays silent
 * past --timeout has the workload it was in marked failed, and a new child
 * carries on with the rest (reloading the data it needs). Failures inside a
 * workload (a call returned an error) mark that cell failed with the
 * engine's message; the run goes on.
 *
 * After the tables, the stream step (kv_stream.c, Wombat only): one value
 * of --stream-mib MiB through the streaming writer, right before the dd of
 * the disk's write bandwidth it is compared with.
 *
 * Keys are 16 bytes: the zero-padded decimal of 2*i for the i-th key of
 * [0, N); readmissing asks for 2*i+1, which falls between existing keys.
 * Key order and values come from seeded generators that are the same for
 * every engine. Values are incompressible random bytes.
 */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvbench.h"

#define SYNC_OPS        1000       /* fillsync: synced puts */
#define VALBUF          (1u << 20) /* values are windows into this much random data */
#define DEFAULT_TIMEOUT 600        /* seconds a child may stay silent */
#define STREAM_MIB       2048      /* the stream step's value (issue #4: 2 GiB) */
#define STREAM_QUICK_MIB 256

/* ---- Errors reported by adapters (kv_adapter.h) ---- */

static __thread char kv_errbuf[256];

int kv_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(kv_errbuf, sizeof(kv_errbuf), fmt, ap);
	va_end(ap);
	return KV_ERR;
}

const char *kv_last_error(void)
{
	return kv_errbuf;
}

/* ---- Time and latency histogram ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Log-linear buckets over nanoseconds: values below 16 exactly, then 16
 * buckets per power of two (about 6% wide). */
#define HIST_SUB     16
#define HIST_BUCKETS (64 * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t max;
	uint64_t b[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned e = 63 - (unsigned)__builtin_clzll(v); /* >= 4 */
	unsigned sub = (unsigned)(v >> (e - 4)) & (HIST_SUB - 1);
	return (e - 3) * HIST_SUB + sub;
}

/* Middle of bucket i in nanoseconds. */
static double hist_value(unsigned i)
{
	if (i < HIST_SUB)
		return i;
	unsigned e = i / HIST_SUB + 3, sub = i % HIST_SUB;
	double lo = (double)((uint64_t)(HIST_SUB + sub) << (e - 4));
	return lo + (double)(1ull << (e - 4)) / 2;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_index(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

/* The q-quantile in microseconds (0 when empty). */
static double hist_quantile_us(const struct hist *h, double q)
{
	if (h->count == 0)
		return 0;
	uint64_t want = (uint64_t)ceil(q * (double)h->count), seen = 0;
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want)
			return hist_value(i) / 1000.0;
	}
	return (double)h->max / 1000.0;
}

/* Adds the time since *t to h and moves *t to now. */
static inline void lap(struct hist *h, uint64_t *t)
{
	uint64_t n = now_ns();
	hist_add(h, n - *t);
	*t = n;
}

/* ---- Keys, values, random numbers ---- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

static void make_key(char *k, uint64_t i, int missing)
{
	uint64_t v = 2 * i + (missing ? 1 : 0);
	for (int p = KEY_LEN - 1; p >= 0; p--) {
		k[p] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* ---- Workloads ---- */

/* State of one child: one engine, one value size. */
struct ctx {
	const struct kv_engine *eng;
	struct kv_config cfg;
	void *db;
	int db_sync;  /* db was opened for fillsync */
	int loaded;   /* every key of [0, n) was written */
	int complete; /* ...and none deleted since */
	char dbdir[PATH_MAX + 8];
	size_t vsize;
	uint64_t n;
	uint64_t sync_ops;
	unsigned char *vals;
	struct hist hist;
	struct result *r;
	uint64_t seed;
};

static const void *value_at(const struct ctx *c, uint64_t j)
{
	return c->vals + (j * 4099u) % VALBUF;
}

/* Records the failure of the current workload; returns KV_ERR. */
static int fail(struct ctx *c, const char *op, uint64_t i, const char *msg)
{
	struct result *r = c->r;
	r->status = ST_FAILED;
	snprintf(r->error, sizeof(r->error), "%s #%" PRIu64 ": %s", op, i, msg);
	return KV_ERR;
}

static int fill_keys(struct ctx *c, const uint32_t *order, uint64_t count)
{
	char k[KEY_LEN];
	uint64_t t = now_ns();
	for (uint64_t j = 0; j < count; j++) {
		make_key(k, order ? order[j] : j, 0);
		if (c->eng->put(c->db, k, KEY_LEN, value_at(c, j), c->vsize) != KV_OK)
			return fail(c, "put", j, kv_last_error());
		lap(&c->hist, &t);
		c->r->ops++;
	}
	c->r->user_bytes = c->r->user_written = count * (KEY_LEN + c->vsize);
	return KV_OK;
}

static int w_fillseq(struct ctx *c)
{
	int rc = fill_keys(c, NULL, c->n);
	c->loaded = c->complete = rc == KV_OK;
	return rc;
}

/* Sequential keys in atomic batches; latency is per batch. */
static int batch_fill(struct ctx *c, int timed)
{
	void *b;
	if (c->eng->batch_new(c->db, &b) != KV_OK)
		return fail(c, "batch_new", 0, kv_last_error());
	char k[KEY_LEN];
	uint64_t t = now_ns();
	int rc = KV_OK;
	for (uint64_t j = 0; j < c->n && rc == KV_OK; j++) {
		make_key(k, j, 0);
		if (c->eng->batch_put(b, k, KEY_LEN, value_at(c, j), c->vsize) != KV_OK) {
			rc = fail(c, "batch_put", j, kv_last_error());
			break;
		}
		if ((j + 1) % BATCH_OPS == 0 || j + 1 == c->n) {
			if (c->eng->batch_write(c->db, b) != KV_OK)
				rc = fail(c, "batch_write", j, kv_last_error());
			else if (timed)
				lap(&c->hist, &t);
		}
	}
	c->eng->batch_free(b);
	if (timed && rc == KV_OK) {
		c->r->ops = c->n;
		c->r->user_bytes = c->r->user_written = c->n * (KEY_LEN + c->vsize);
	}
	return rc;
}

static int w_fillbatch(struct ctx *c)
{
	int rc = batch_fill(c, 1);
	c->loaded = c->complete = rc == KV_OK;
	return rc;
}

/* A random permutation of [0, n): every key written exactly once. */
static int w_fillrandom(struct ctx *c)
{
	uint32_t *order = malloc(c->n * sizeof(*order));
	if (order == NULL)
		return fail(c, "malloc", 0, "out of memory");
	struct rng g = {c->seed};
	for (uint64_t i = 0; i < c->n; i++)
		order[i] = (uint32_t)i;
	for (uint64_t i = c->n - 1; i > 0; i--) {
		uint64_t j = rng_below(&g, i + 1);
		uint32_t x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	int rc = fill_keys(c, order, c->n);
	free(order);
	c->loaded = c->complete = rc == KV_OK;
	return rc;
}

/* Random keys of [0, n), with repeats. */
static int w_overwrite(struct ctx *c)
{
	struct rng g = {c->seed};
	char k[KEY_LEN];
	uint64_t t = now_ns();
	for (uint64_t j = 0; j < c->n; j++) {
		make_key(k, rng_below(&g, c->n), 0);
		if (c->eng->put(c->db, k, KEY_LEN, value_at(c, j + 7), c->vsize) != KV_OK)
			return fail(c, "put", j, kv_last_error());
		lap(&c->hist, &t);
		c->r->ops++;
	}
	c->r->user_bytes = c->r->user_written = c->n * (KEY_LEN + c->vsize);
	return KV_OK;
}

static int gets(struct ctx *c, int missing)
{
	struct rng g = {c->seed};
	char k[KEY_LEN];
	uint64_t t = now_ns();
	for (uint64_t j = 0; j < c->n; j++) {
		make_key(k, rng_below(&g, c->n), missing);
		size_t vlen = 0;
		int rc = c->eng->get(c->db, k, KEY_LEN, &vlen);
		if (rc == KV_ERR)
			return fail(c, "get", j, kv_last_error());
		if (rc == KV_OK) {
			if (vlen != c->vsize) {
				char m[96];
				snprintf(m, sizeof(m), "value of %zu bytes, expected %zu", vlen,
				         c->vsize);
				return fail(c, "get", j, m);
			}
			c->r->found++;
			c->r->user_bytes += KEY_LEN + vlen;
		} else {
			c->r->user_bytes += KEY_LEN;
		}
		lap(&c->hist, &t);
		c->r->ops++;
	}
	if (!missing && c->complete && c->r->found != c->r->ops)
		snprintf(c->r->note, sizeof(c->r->note),
		         "found %" PRIu64 " of %" PRIu64 " keys that all exist", c->r->found,
		         c->r->ops);
	if (missing && c->r->found != 0)
		snprintf(c->r->note, sizeof(c->r->note), "found %" PRIu64 " keys never written",
		         c->r->found);
	return KV_OK;
}

static int w_readrandom(struct ctx *c)
{
	return gets(c, 0);
}

static int w_readmissing(struct ctx *c)
{
	return gets(c, 1);
}

/* Walks the whole database forward or backward (at most n entries). */
static int scan(struct ctx *c, int reverse)
{
	void *it;
	if (c->eng->iter_new(c->db, &it) != KV_OK)
		return fail(c, "iter_new", 0, kv_last_error());
	uint64_t t = now_ns();
	int rc = reverse ? c->eng->iter_last(it) : c->eng->iter_first(it);
	uint64_t j = 0;
	while (rc == KV_OK && j < c->n) {
		const void *k, *v;
		size_t kl, vl;
		c->eng->iter_entry(it, &k, &kl, &v, &vl);
		c->r->user_bytes += kl + vl;
		lap(&c->hist, &t);
		j++;
		rc = reverse ? c->eng->iter_prev(it) : c->eng->iter_next(it);
	}
	c->eng->iter_free(it);
	c->r->ops = c->r->found = j;
	if (rc == KV_ERR)
		return fail(c, reverse ? "iter_prev" : "iter_next", j, kv_last_error());
	if (c->complete && j != c->n)
		snprintf(c->r->note, sizeof(c->r->note), "saw %" PRIu64 " of %" PRIu64 " keys", j,
		         c->n);
	return KV_OK;
}

static int w_readseq(struct ctx *c)
{
	return scan(c, 0);
}

static int w_readreverse(struct ctx *c)
{
	return scan(c, 1);
}

/* One iterator, n seeks to random existing keys, each reading the entry it
 * lands on. */
static int w_seekrandom(struct ctx *c)
{
	void *it;
	if (c->eng->iter_new(c->db, &it) != KV_OK)
		return fail(c, "iter_new", 0, kv_last_error());
	struct rng g = {c->seed};
	char k[KEY_LEN];
	int rc = KV_OK;
	uint64_t t = now_ns();
	for (uint64_t j = 0; j < c->n; j++) {
		make_key(k, rng_below(&g, c->n), 0);
		rc = c->eng->iter_seek(it, k, KEY_LEN);
		if (rc == KV_ERR) {
			fail(c, "iter_seek", j, kv_last_error());
			break;
		}
		if (rc == KV_OK) {
			const void *ek, *ev;
			size_t ekl, evl;
			c->eng->iter_entry(it, &ek, &ekl, &ev, &evl);
			if (ekl == KEY_LEN && memcmp(ek, k, KEY_LEN) == 0)
				c->r->found++;
			c->r->user_bytes += ekl + evl;
		}
		lap(&c->hist, &t);
		c->r->ops++;
	}
	c->eng->iter_free(it);
	if (rc == KV_ERR)
		return KV_ERR;
	if (c->complete && c->r->found != c->r->ops)
		snprintf(c->r->note, sizeof(c->r->note),
		         "found %" PRIu64 " of %" PRIu64 " keys that all exist", c->r->found,
		         c->r->ops);
	return KV_OK;
}

/* Random keys of [0, n), with repeats (about 37% are never hit). */
static int w_deleterandom(struct ctx *c)
{
	struct rng g = {c->seed};
	char k[KEY_LEN];
	uint64_t t = now_ns();
	for (uint64_t j = 0; j < c->n; j++) {
		make_key(k, rng_below(&g, c->n), 0);
		if (c->eng->del(c->db, k, KEY_LEN) != KV_OK)
			return fail(c, "delete", j, kv_last_error());
		lap(&c->hist, &t);
		c->r->ops++;
	}
	c->r->user_bytes = c->r->user_written = c->n * KEY_LEN;
	c->complete = 0;
	return KV_OK;
}

struct writer {
	struct ctx *c;
	int stop;    /* set by the reader (atomic) */
	int started; /* set by the writer after its first put (atomic) */
	uint64_t ops;
	uint64_t ns;
	char error[384];
};

/* readwhilewriting's writer: random overwrites as fast as it can until the
 * reader is done. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct ctx *c = w->c;
	struct rng g = {c->seed ^ 0x5757ull};
	char k[KEY_LEN];
	uint64_t t0 = now_ns();
	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		make_key(k, rng_below(&g, c->n), 0);
		if (c->eng->put(c->db, k, KEY_LEN, value_at(c, w->ops + 13), c->vsize) != KV_OK) {
			snprintf(w->error, sizeof(w->error), "writer put #%" PRIu64 ": %s", w->ops,
			         kv_last_error());
			break;
		}
		if (w->ops++ == 0)
			__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&w->started, 1, __ATOMIC_RELEASE); /* even after a failure */
	w->ns = now_ns() - t0;
	if (c->eng->thread_end)
		c->eng->thread_end(c->db);
	return NULL;
}

static int w_readwhilewriting(struct ctx *c)
{
	struct writer w = {.c = c};
	pthread_t th;
	if (pthread_create(&th, NULL, writer_main, &w) != 0)
		return fail(c, "pthread_create", 0, strerror(errno));
	/* Small runs would otherwise finish reading before the writer runs. */
	while (!__atomic_load_n(&w.started, __ATOMIC_ACQUIRE))
		sched_yield();
	int rc = gets(c, 0);
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	c->r->writer_ops = w.ops;
	c->r->writer_secs = (double)w.ns / 1e9;
	c->r->user_written = w.ops * (KEY_LEN + c->vsize);
	if (rc == KV_OK && w.error[0]) {
		c->r->status = ST_FAILED;
		snprintf(c->r->error, sizeof(c->r->error), "%s", w.error);
		return KV_ERR;
	}
	return rc;
}

static int w_fillsync(struct ctx *c)
{
	struct rng g = {c->seed};
	char k[KEY_LEN];
	uint64_t t = now_ns();
	for (uint64_t j = 0; j < c->sync_ops; j++) {
		make_key(k, rng_below(&g, c->n), 0);
		if (c->eng->put(c->db, k, KEY_LEN, value_at(c, j), c->vsize) != KV_OK)
			return fail(c, "put", j, kv_last_error());
		lap(&c->hist, &t);
		c->r->ops++;
	}
	c->r->user_bytes = c->r->user_written = c->sync_ops * (KEY_LEN + c->vsize);
	return KV_OK;
}

/* Run order of the default list. fillsync is fresh and synced; every other
 * reader or overwriter needs all n keys and loads them (untimed) if the
 * previous workloads did not. */
const struct workload kv_workloads[KV_NWORKLOADS] = {
    {"fillseq", 1, 1, w_fillseq, "N puts, keys in order, empty db"},
    {"fillbatch", 1, 1, w_fillbatch, "N puts in order, 1000 per atomic batch (latency per batch)"},
    {"fillrandom", 1, 1, w_fillrandom, "N puts, keys in random order (each once), empty db"},
    {"overwrite", 0, 1, w_overwrite, "N puts of random existing keys"},
    {"readrandom", 0, 0, w_readrandom, "N gets of random existing keys"},
    {"readmissing", 0, 0, w_readmissing, "N gets of random keys between existing ones"},
    {"readseq", 0, 0, w_readseq, "iterator: first, then next over the whole db"},
    {"readreverse", 0, 0, w_readreverse, "iterator: last, then prev over the whole db"},
    {"seekrandom", 0, 0, w_seekrandom, "N seeks to random existing keys, one iterator"},
    {"readwhilewriting", 0, 1, w_readwhilewriting,
     "N gets by a reader thread while a writer thread overwrites; reader's ops/s"},
    {"deleterandom", 0, 1, w_deleterandom, "N deletes of random keys (with repeats)"},
    {"fillsync", 1, 1, w_fillsync, "1000 puts of random keys, each synced, empty db"},
};

/* ---- Measuring the child ---- */

static uint64_t du_total;

static int du_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path;
	(void)f;
	if (flag == FTW_F)
		du_total += (uint64_t)st->st_blocks * 512;
	return 0;
}

/* Bytes allocated on disk under dir, as du counts them. */
static uint64_t du(const char *dir)
{
	du_total = 0;
	nftw(dir, du_one, 32, FTW_PHYS);
	return du_total;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

void kv_rm_rf(const char *dir)
{
	nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static int mkdir_p(const char *dir)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", dir);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	}
	return mkdir(p, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* Bytes this process has written to files: the kernel's write_bytes, which
 * counts each page as it turns dirty (and O_DIRECT bytes). Gross, not net of
 * cancelled_write_bytes: a log deleted before writeback (RocksDB's after a
 * flush) still counts, so the figure does not depend on writeback timing.
 * *cancelled gets the pages dropped dirty, for the JSON. */
static uint64_t io_written(uint64_t *cancelled)
{
	FILE *f = fopen("/proc/self/io", "r");
	if (f == NULL)
		return 0;
	char line[128];
	uint64_t w = 0, v;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "write_bytes: %" SCNu64, &v) == 1)
			w = v;
		else if (sscanf(line, "cancelled_write_bytes: %" SCNu64, &v) == 1)
			*cancelled = v;
	}
	fclose(f);
	return w;
}

static uint64_t peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_maxrss;
}

/* ---- The child ---- */

static int db_close(struct ctx *c)
{
	int rc = KV_OK;
	if (c->db) {
		rc = c->eng->close(c->db);
		c->db = NULL;
	}
	return rc;
}

static int db_fresh(struct ctx *c, int sync)
{
	if (db_close(c) != KV_OK)
		fprintf(stderr, "kvbench: %s close: %s\n", c->eng->name, kv_last_error());
	kv_rm_rf(c->dbdir);
	if (mkdir_p(c->dbdir) != 0)
		return kv_error("mkdir %s: %s", c->dbdir, strerror(errno));
	c->cfg.sync = sync;
	c->db_sync = sync;
	c->loaded = c->complete = 0;
	return c->eng->open(c->dbdir, &c->cfg, &c->db);
}

/* Makes sure an unsynced database holding every key is open. */
static int db_ready(struct ctx *c, const char **what)
{
	if (c->db == NULL || c->db_sync) {
		*what = "open";
		if (db_fresh(c, 0) != KV_OK)
			return KV_ERR;
	}
	if (c->loaded)
		return KV_OK;
	*what = "load";
	struct result *saved = c->r, scratch;
	memset(&scratch, 0, sizeof(scratch));
	c->r = &scratch;
	int rc = batch_fill(c, 0);
	c->r = saved;
	if (rc != KV_OK)
		return kv_error("%s", scratch.error);
	if (c->eng->settle(c->db) != KV_OK)
		return KV_ERR;
	c->loaded = c->complete = 1;
	return KV_OK;
}

static void run_one(struct ctx *c, const struct workload *w)
{
	struct result *r = c->r;
	const char *what = "open";
	int rc;
	if (w->fresh)
		rc = db_fresh(c, w->run == w_fillsync);
	else
		rc = db_ready(c, &what);
	if (rc != KV_OK) {
		r->status = ST_FAILED;
		snprintf(r->error, sizeof(r->error), "%s: %s", what, kv_last_error());
		db_close(c);
		return;
	}
	memset(&c->hist, 0, sizeof(c->hist));
	uint64_t cancel0 = 0, cancel1 = 0;
	uint64_t io0 = io_written(&cancel0);
	uint64_t t0 = now_ns();
	r->status = ST_OK;
	rc = w->run(c);
	r->secs = (double)(now_ns() - t0) / 1e9;
	if (rc == KV_OK && w->writes) {
		uint64_t s0 = now_ns();
		if (c->eng->settle(c->db) != KV_OK || c->eng->sync(c->db) != KV_OK) {
			r->status = ST_FAILED;
			snprintf(r->error, sizeof(r->error), "settle: %s", kv_last_error());
		}
		r->settle_secs = (double)(now_ns() - s0) / 1e9;
	}
	if (w->writes && r->user_written > 0) {
		r->io_written = io_written(&cancel1) - io0;
		r->io_cancelled = cancel1 - cancel0;
		r->wamp_valid = 1;
	}
	r->p50_us = hist_quantile_us(&c->hist, 0.50);
	r->p99_us = hist_quantile_us(&c->hist, 0.99);
	r->p999_us = hist_quantile_us(&c->hist, 0.999);
	r->max_us = (double)c->hist.max / 1000.0;
	r->disk_bytes = du(c->dbdir);
	r->peak_rss_kb = peak_rss_kb();
}

struct job {
	const struct kv_engine *eng;
	size_t vsize;
	uint64_t n;
	uint64_t sync_ops;
	char dir[PATH_MAX];    /* this (engine, size)'s directory */
	int wl[KV_NWORKLOADS]; /* indexes into kv_workloads */
	int nwl;
};

void child_send(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t k = write(fd, s, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			_exit(3);
		s += k;
		n -= (size_t)k;
	}
}

size_t child_receive(int fd, pid_t pid, void *buf, size_t len, int timeout_s, int *timed_out)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int k = poll(&p, 1, timeout_s * 1000);
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0) {
			*timed_out = 1;
			kill(pid, SIGKILL);
			break;
		}
		ssize_t n = read(fd, (char *)buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

void child_failure(char *msg, size_t n, int timed_out, int status, int timeout_s)
{
	if (timed_out)
		snprintf(msg, n, "no result within %d s: killed", timeout_s);
	else if (WIFSIGNALED(status))
		snprintf(msg, n, "child died: %s", strsignal(WTERMSIG(status)));
	else
		snprintf(msg, n, "child exited with status %d", WEXITSTATUS(status));
}

static void child_main(const struct job *j, int first, int fd)
{
	struct ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		_exit(2);
	c->eng = j->eng;
	c->cfg = (struct kv_config){.cache_bytes = FAIR_CACHE,
	                            .write_buffer_bytes = FAIR_WRITE_BUFFER,
	                            .bloom_bits = FAIR_BLOOM_BITS,
	                            .sync = 0,
	                            .lmdb_map_bytes = FAIR_LMDB_MAP};
	snprintf(c->dbdir, sizeof(c->dbdir), "%s/db", j->dir);
	c->vsize = j->vsize;
	c->n = j->n;
	c->sync_ops = j->sync_ops;
	c->vals = malloc(VALBUF + j->vsize);
	if (c->vals == NULL)
		_exit(2);
	struct rng g = {0xda7a};
	for (size_t i = 0; i < VALBUF + j->vsize; i += 8) {
		uint64_t x = rng_next(&g);
		memcpy(c->vals + i, &x, i + 8 <= VALBUF + j->vsize ? 8 : VALBUF + j->vsize - i);
	}
	for (int p = first; p < j->nwl; p++) {
		struct result r;
		memset(&r, 0, sizeof(r));
		r.pos = p;
		c->r = &r;
		c->seed = 0x5eed0000ull + (uint64_t)j->wl[p] * 7919 + j->vsize;
		run_one(c, &kv_workloads[j->wl[p]]);
		child_send(fd, &r, sizeof(r));
	}
	db_close(c);
	_exit(0);
}

/* ---- The parent ---- */

static const struct kv_engine *const ALL_ENGINES[] = {&kv_wombat, &kv_rocksdb, &kv_leveldb,
                                                      &kv_lmdb};

/* kv_results[size][engine][position in the workload list] */
struct result kv_results[MAX_SIZES][MAX_ENGINES][KV_NWORKLOADS];
uint64_t kv_nums[MAX_SIZES];

/* N for a value size: about the data volume the brief asks of a full run
 * (1M x 100 B, 200k x 4 KiB, 20k x 64 KiB), a tenth of it with --quick. */
static uint64_t default_num(size_t vsize, int quick)
{
	uint64_t n;
	if (vsize <= 256)
		n = 1000000;
	else if (vsize <= 16384)
		n = (820000000ull / (vsize + KEY_LEN) + 5000) / 10000 * 10000;
	else
		n = (1300000000ull / (vsize + KEY_LEN) + 500) / 1000 * 1000;
	if (n < 1000)
		n = 1000;
	return quick ? n / 10 : n;
}

/* Runs one (size, engine) in children until every workload has a result. */
static void run_job(const struct opts *o, int si, int ei)
{
	struct job j;
	memset(&j, 0, sizeof(j));
	j.eng = o->engines[ei];
	j.vsize = o->sizes[si];
	j.n = kv_nums[si];
	j.sync_ops = o->sync_ops;
	snprintf(j.dir, sizeof(j.dir), "%s/%s-%zu", o->dir, j.eng->name, j.vsize);
	memcpy(j.wl, o->wl, sizeof(j.wl));
	j.nwl = o->nwl;

	int next = 0;
	while (next < j.nwl) {
		kv_rm_rf(j.dir);
		mkdir_p(j.dir);
		int fds[2];
		if (pipe(fds) != 0) {
			perror("kvbench: pipe");
			exit(1);
		}
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			perror("kvbench: fork");
			exit(1);
		}
		if (pid == 0) {
			close(fds[0]);
			child_main(&j, next, fds[1]);
		}
		close(fds[1]);
		struct result r;
		int timed_out = 0;
		while (child_receive(fds[0], pid, &r, sizeof(r), o->timeout, &timed_out) == sizeof(r)) {
			if (r.pos >= 0 && r.pos < j.nwl) {
				kv_results[si][ei][r.pos] = r;
				report_progress(o, si, ei, &r);
				next = r.pos + 1;
			}
		}
		close(fds[0]);
		int st = 0;
		waitpid(pid, &st, 0);
		if (next < j.nwl) {
			struct result *f = &kv_results[si][ei][next];
			memset(f, 0, sizeof(*f));
			f->pos = next;
			f->status = ST_FAILED;
			child_failure(f->error, sizeof(f->error), timed_out, st, o->timeout);
			report_progress(o, si, ei, f);
			next++;
		}
	}
	if (!o->keep)
		kv_rm_rf(j.dir);
}

/* ---- Options ---- */

static void usage(FILE *f)
{
	fprintf(f, "usage: kvbench [options]\n"
	           "  --engines LIST     wombat,rocksdb,leveldb,lmdb (default: all)\n"
	           "  --workloads LIST   default: all, in this order:");
	for (int i = 0; i < KV_NWORKLOADS; i++)
		fprintf(f, "%s%s", i % 6 == 0 ? "\n                       " : ",",
		        kv_workloads[i].name);
	fprintf(
	    f,
	    "\n"
	    "  --value-size LIST  value bytes, e.g. 100,4096,65536 (default 100)\n"
	    "  --num N            operations per workload (default per value size:\n"
	    "                     1000000 at 100 B, 200000 at 4 KiB, 20000 at 64 KiB)\n"
	    "  --quick            a tenth of the default N (100000 at 100 B), dd of 256 MiB,\n"
	    "                     stream of 256 MiB\n"
	    "  --sync-ops N       fillsync's synced puts (default 1000)\n"
	    "  --stream-mib N     the stream step's value in MiB (default 2048; 0: no stream\n"
	    "                     step; it runs only when wombat is among the engines)\n"
	    "  --dir DIR          work directory (default build/bench/kv)\n"
	    "  --json FILE        every number (default build/bench/kv.json)\n"
	    "  --plot-data FILE   ops/s of the smallest value size (default build/bench/kv.dat)\n"
	    "  --timeout S        kill a child silent for S seconds (default 600)\n"
	    "  --no-dd            skip the dd measurement of the disk\n"
	    "  --keep             keep the databases afterwards\n");
}

/* Splits a comma list, calling fn on each item; -1 if fn refuses one. */
static int each_item(const char *list, int (*fn)(struct opts *, const char *), struct opts *o)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s", list);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (fn(o, t) != 0)
			return -1;
	return 0;
}

static int add_engine(struct opts *o, const char *name)
{
	for (size_t i = 0; i < sizeof(ALL_ENGINES) / sizeof(ALL_ENGINES[0]); i++)
		if (strcmp(ALL_ENGINES[i]->name, name) == 0 && o->nengines < MAX_ENGINES) {
			o->engines[o->nengines++] = ALL_ENGINES[i];
			return 0;
		}
	fprintf(stderr, "kvbench: unknown engine '%s'\n", name);
	return -1;
}

static int add_workload(struct opts *o, const char *name)
{
	for (int i = 0; i < KV_NWORKLOADS; i++)
		if (strcmp(kv_workloads[i].name, name) == 0 && o->nwl < KV_NWORKLOADS) {
			o->wl[o->nwl++] = i;
			return 0;
		}
	fprintf(stderr, "kvbench: unknown workload '%s'\n", name);
	return -1;
}

static int add_size(struct opts *o, const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end || v == 0 || v > (64u << 20) || o->nsizes >= MAX_SIZES) {
		fprintf(stderr, "kvbench: bad value size '%s'\n", s);
		return -1;
	}
	o->sizes[o->nsizes++] = (size_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->dir = "build/bench/kv";
	o->json = "build/bench/kv.json";
	o->plot = "build/bench/kv.dat";
	o->timeout = DEFAULT_TIMEOUT;
	o->dd = 1;
	o->sync_ops = SYNC_OPS;
	o->stream_mib = UINT64_MAX; /* default, set below once --quick is known */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int used = 1, rc = 0;
		if (strcmp(a, "--quick") == 0) {
			o->quick = 1;
			used = 0;
		} else if (strcmp(a, "--no-dd") == 0) {
			o->dd = 0;
			used = 0;
		} else if (strcmp(a, "--keep") == 0) {
			o->keep = 1;
			used = 0;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		} else if (v == NULL) {
			rc = -1;
		} else if (strcmp(a, "--engines") == 0) {
			rc = each_item(v, add_engine, o);
		} else if (strcmp(a, "--workloads") == 0) {
			rc = each_item(v, add_workload, o);
		} else if (strcmp(a, "--value-size") == 0) {
			rc = each_item(v, add_size, o);
		} else if (strcmp(a, "--num") == 0) {
			o->num = strtoull(v, NULL, 10);
			rc = o->num > 0 && o->num < UINT32_MAX ? 0 : -1;
		} else if (strcmp(a, "--sync-ops") == 0) {
			o->sync_ops = strtoull(v, NULL, 10);
			rc = o->sync_ops > 0 ? 0 : -1;
		} else if (strcmp(a, "--stream-mib") == 0) {
			char *end;
			o->stream_mib = strtoull(v, &end, 10);
			rc = *end == 0 && o->stream_mib <= (1u << 20) ? 0 : -1;
		} else if (strcmp(a, "--dir") == 0) {
			o->dir = v;
		} else if (strcmp(a, "--json") == 0) {
			o->json = v;
		} else if (strcmp(a, "--plot-data") == 0) {
			o->plot = v;
		} else if (strcmp(a, "--timeout") == 0) {
			o->timeout = atoi(v);
			rc = o->timeout > 0 ? 0 : -1;
		} else {
			rc = -1;
		}
		if (rc != 0) {
			fprintf(stderr, "kvbench: bad option or value: %s%s%s\n", a, v ? " " : "",
			        v ? v : "");
			usage(stderr);
			return -1;
		}
		i += used;
	}
	if (o->nengines == 0)
		for (size_t i = 0; i < sizeof(ALL_ENGINES) / sizeof(ALL_ENGINES[0]); i++)
			o->engines[o->nengines++] = ALL_ENGINES[i];
	if (o->nwl == 0)
		for (int i = 0; i < KV_NWORKLOADS; i++)
			o->wl[o->nwl++] = i;
	if (o->nsizes == 0)
		o->sizes[o->nsizes++] = 100;
	if (o->stream_mib == UINT64_MAX)
		o->stream_mib = o->quick ? STREAM_QUICK_MIB : STREAM_MIB;
	int wombat = 0;
	for (int e = 0; e < o->nengines; e++)
		wombat |= o->engines[e] == &kv_wombat;
	if (!wombat)
		o->stream_mib = 0;
	return 0;
}

static void mkdir_parent(const char *file)
{
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s", file);
	char *s = strrchr(d, '/');
	if (s) {
		*s = 0;
		mkdir_p(d);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	if (parse_args(argc, argv, &o) != 0)
		return 2;
	if (mkdir_p(o.dir) != 0) {
		fprintf(stderr, "kvbench: mkdir %s: %s\n", o.dir, strerror(errno));
		return 1;
	}
	mkdir_parent(o.json);
	mkdir_parent(o.plot);
	setvbuf(stdout, NULL, _IOLBF, 0);
	report_settings(&o);
	uint64_t t0 = now_ns();
	for (int s = 0; s < o.nsizes; s++) {
		kv_nums[s] = o.num ? o.num : default_num(o.sizes[s], o.quick);
		printf("---- value %zu B, N = %" PRIu64 " ----\n", o.sizes[s], kv_nums[s]);
		for (int e = 0; e < o.nengines; e++)
			run_job(&o, s, e);
		report_table(&o, s);
	}
	/* Right before the dd, so the two see the disk in the same state. */
	if (o.stream_mib)
		stream_measure(&o);
	struct machine m;
	report_gather_machine(&m, &o);
	report_machine(&m, &o);
	report_stream(&o, &m);
	printf("  total time   %.0f s\n", (double)(now_ns() - t0) / 1e9);
	int rc = report_json(&o, &m) | report_plot_data(&o);
	if (rc == 0)
		printf("\nwrote %s and %s\n", o.json, o.plot);
	return rc == 0 ? 0 : 1;
}
