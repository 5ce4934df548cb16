/*
 * txnbench.c -- commit throughput of small transactions (issue #5).
 *
 *     build/bin/txnbench [--dir DIR] [--keys N] [--seconds S] [--threads 1,2,4]
 *
 * Loads N keys (default 100 000, 16-byte keys, 100-byte values), then for
 * each thread count runs, for S seconds (default 3), transactions that
 * read one random key and write another (wb_txn_run, serializable; then
 * the same under snapshot isolation), and for comparison blind wb_put of
 * one random key. Prints commits/s, the conflicts met, and the time the
 * write leader spent in conflict checks per commit (the txn_check_nanos
 * counter over the commits checked). Sync mode: interval (the default).
 * The database in DIR (default build/bench/txn) is removed first.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wombat.h"

#define MAX_THREADS 64

struct run {
	wb_db *db;
	long keys;
	int mode; /* 0 blind put, 1 ssi, 2 si */
	atomic_bool stop;
	atomic_ullong ops;
};

struct op {
	long r, w;
};

static size_t key(char *k, long i)
{
	return (size_t)snprintf(k, 32, "key%013ld", i);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int one_txn(wb_txn *t, void *arg)
{
	struct op *o = arg;
	char k[32], v[100];
	void *got;
	size_t gl;
	int rc = wb_txn_get(t, k, key(k, o->r), &got, &gl);
	if (rc == WB_OK)
		wb_free(got);
	else if (rc != WB_ENOTFOUND)
		return rc;
	memset(v, 'v', sizeof(v));
	return wb_txn_put(t, k, key(k, o->w), v, sizeof(v));
}

static void *worker(void *arg)
{
	struct run *r = arg;
	uint64_t s = (uint64_t)(uintptr_t)&s ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull;
	char k[32], v[100];
	memset(v, 'b', sizeof(v));
	while (!atomic_load(&r->stop)) {
		int rc;
		if (r->mode == 0) {
			rc = wb_put(r->db, k, key(k, (long)(rnd(&s) % (uint64_t)r->keys)), v, sizeof(v));
		} else {
			struct op o = { (long)(rnd(&s) % (uint64_t)r->keys),
					(long)(rnd(&s) % (uint64_t)r->keys) };
			rc = wb_txn_run(r->db, r->mode == 2 ? WB_TXN_SNAPSHOT : 0, one_txn, &o);
		}
		if (rc != WB_OK) {
			fprintf(stderr, "txnbench: %s\n", wb_strerror(rc));
			exit(1);
		}
		atomic_fetch_add(&r->ops, 1);
	}
	return NULL;
}

static uint64_t stat_field(wb_db *db, const char *name)
{
	char *json, pat[64];
	uint64_t v = 0;
	if (wb_stats_json(db, &json) != WB_OK)
		return 0;
	snprintf(pat, sizeof(pat), "\"%s\":", name);
	const char *p = strstr(json, pat);
	if (p != NULL)
		v = strtoull(p + strlen(pat), NULL, 10);
	wb_free(json);
	return v;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *dir = "build/bench/txn", *threads_arg = "1,2,4";
	long keys = 100000, seconds = 3;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--keys") == 0 && i + 1 < argc)
			keys = atol(argv[++i]);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atol(argv[++i]);
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			threads_arg = argv[++i];
		else {
			fprintf(stderr, "usage: txnbench [--dir DIR] [--keys N] [--seconds S] "
					"[--threads 1,2,4]\n");
			return 2;
		}
	}
	if (keys < 2 || seconds < 1) {
		fprintf(stderr, "txnbench: --keys must be >= 2 and --seconds >= 1\n");
		return 2;
	}
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	wb_options o;
	wb_options_init(&o);
	o.create_if_missing = 1;
	wb_db *db;
	int rc = wb_open(dir, &o, &db);
	if (rc != WB_OK) {
		fprintf(stderr, "txnbench: %s: %s\n", dir, wb_errmsg(NULL));
		return 1;
	}
	wb_batch *b;
	wb_batch_new(&b);
	char k[32], v[100];
	memset(v, 'v', sizeof(v));
	for (long i = 0; i < keys; i++) {
		wb_batch_put(b, k, key(k, i), v, sizeof(v));
		if (wb_batch_count(b) == 1000 || i == keys - 1) {
			if ((rc = wb_write(db, b)) != WB_OK) {
				fprintf(stderr, "txnbench: load: %s\n", wb_strerror(rc));
				return 1;
			}
			wb_batch_clear(b);
		}
	}
	wb_batch_free(b);
	printf("txnbench: %ld keys, %ld s per run, sync=interval\n", keys, seconds);
	printf("%-22s %7s %12s %10s %14s\n", "workload", "threads", "commits/s", "conflicts",
	       "check ns/commit");
	static const char *names[] = { "blind wb_put", "txn 1r+1w serializable",
				       "txn 1r+1w snapshot" };
	for (int mode = 0; mode < 3; mode++) {
		for (const char *p = threads_arg; *p;) {
			int n = atoi(p);
			if (n < 1 || n > MAX_THREADS) {
				fprintf(stderr, "txnbench: bad thread count in '%s'\n", threads_arg);
				return 2;
			}
			struct run r = { .db = db, .keys = keys, .mode = mode };
			uint64_t c0 = stat_field(db, "txn_conflicts");
			uint64_t n0 = stat_field(db, "txn_check_nanos"), k0 = stat_field(db, "txn_checks");
			pthread_t th[MAX_THREADS];
			double t0 = now();
			for (int i = 0; i < n; i++)
				pthread_create(&th[i], NULL, worker, &r);
			sleep((unsigned)seconds);
			atomic_store(&r.stop, true);
			for (int i = 0; i < n; i++)
				pthread_join(th[i], NULL);
			double secs = now() - t0;
			uint64_t checks = stat_field(db, "txn_checks") - k0;
			uint64_t nanos = stat_field(db, "txn_check_nanos") - n0;
			printf("%-22s %7d %12.0f %10llu %14.0f\n", names[mode], n,
			       (double)atomic_load(&r.ops) / secs,
			       (unsigned long long)(stat_field(db, "txn_conflicts") - c0),
			       checks ? (double)nanos / (double)checks : 0.0);
			fflush(stdout);
			p = strchr(p, ',');
			if (p == NULL)
				break;
			p++;
		}
	}
	rc = wb_close(db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return rc == WB_OK && system(cmd) == 0 ? 0 : 1;
}
