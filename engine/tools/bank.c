/*
 * bank.c -- `wombat DBDIR bank`: the bank test of BadgerDB, as a command.
 *
 * N accounts "bank/NNNNNNNN" start with 1000 each (any earlier bank/ keys
 * are replaced). T threads move random amounts between random pairs of
 * accounts, each transfer one transaction run by wb_txn_run (read both
 * balances, write both); a checker thread keeps summing every balance in
 * read-only transactions. The total must never change and no balance may
 * go negative: the first check that finds otherwise stops the run, is
 * printed, and makes the exit status 1. Balances are decimal text, so
 * `wombat DBDIR scan bank/` shows them.
 *
 * Threads: the command's own main thread, T transfer threads and one
 * checker, all on one wb_db; they share only the atomics in struct bank.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define START_BALANCE 1000
#define MAX_THREADS 64
#define PREFIX "bank/"

struct bank {
	wb_db *db;
	long accounts;
	unsigned flags; /* isolation */
	atomic_bool stop;
	atomic_ullong transfers, skipped, checks;
	atomic_int error; /* first engine error met by a thread */
	atomic_bool violated;
	pthread_mutex_t mu; /* guards violation */
	char violation[256];
};

struct transfer {
	struct bank *bank;
	long from, to, amount;
	bool skipped; /* the payer could not afford it */
};

static size_t account_key(char *k, long i)
{
	return (size_t)snprintf(k, 32, PREFIX "%08ld", i);
}

static int get_balance(wb_txn *t, long i, long *bal)
{
	char k[32], buf[32];
	void *v;
	size_t vl;
	int rc = wb_txn_get(t, k, account_key(k, i), &v, &vl);
	if (rc != WB_OK)
		return rc;
	size_t n = vl < sizeof(buf) - 1 ? vl : sizeof(buf) - 1;
	memcpy(buf, v, n);
	buf[n] = 0;
	wb_free(v);
	*bal = atol(buf);
	return WB_OK;
}

static int put_balance(wb_txn *t, long i, long bal)
{
	char k[32], v[32];
	size_t kl = account_key(k, i);
	int vl = snprintf(v, sizeof(v), "%ld", bal);
	return wb_txn_put(t, k, kl, v, (size_t)vl);
}

static int transfer(wb_txn *t, void *arg)
{
	struct transfer *x = arg;
	long a, b;
	int rc = get_balance(t, x->from, &a);
	if (rc == WB_OK)
		rc = get_balance(t, x->to, &b);
	if (rc != WB_OK)
		return rc;
	x->skipped = a < x->amount;
	if (x->skipped)
		return WB_OK;
	rc = put_balance(t, x->from, a - x->amount);
	return rc == WB_OK ? put_balance(t, x->to, b + x->amount) : rc;
}

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void set_error(struct bank *b, int rc)
{
	int none = WB_OK;
	atomic_compare_exchange_strong(&b->error, &none, rc);
	atomic_store(&b->stop, true);
}

static void *transfer_thread(void *arg)
{
	struct bank *b = arg;
	uint64_t rs = (uint64_t)(uintptr_t)&rs ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull;
	while (!atomic_load(&b->stop)) {
		struct transfer x = { .bank = b };
		x.from = (long)(next_rand(&rs) % (uint64_t)b->accounts);
		x.to = (x.from + 1 + (long)(next_rand(&rs) % (uint64_t)(b->accounts - 1))) %
		       b->accounts;
		x.amount = 1 + (long)(next_rand(&rs) % 100);
		int rc = wb_txn_run(b->db, b->flags, transfer, &x);
		if (rc != WB_OK) {
			set_error(b, rc);
			break;
		}
		atomic_fetch_add(x.skipped ? &b->skipped : &b->transfers, 1);
	}
	return NULL;
}

/* Sums every balance in one read-only transaction; records the first
 * violation. Returns WB_OK or the engine's error. */
static int check(struct bank *b)
{
	wb_txn *t;
	int rc = wb_txn_begin(b->db, WB_TXN_READONLY, &t);
	if (rc != WB_OK)
		return rc;
	wb_iter_options io = { .prefix = PREFIX, .prefix_len = strlen(PREFIX) };
	wb_iter *it;
	rc = wb_txn_iter_new(t, &io, &it);
	if (rc != WB_OK) {
		wb_txn_abort(t);
		return rc;
	}
	long total = 0, n = 0, negative = -1;
	for (wb_iter_seek_first(it); wb_iter_valid(it); wb_iter_next(it), n++) {
		size_t vl;
		const char *v = wb_iter_value(it, &vl);
		char buf[32];
		size_t m = vl < sizeof(buf) - 1 ? vl : sizeof(buf) - 1;
		memcpy(buf, v, m);
		buf[m] = 0;
		long bal = atol(buf);
		if (bal < 0 && negative < 0)
			negative = n;
		total += bal;
	}
	rc = wb_iter_status(it);
	wb_iter_free(it);
	uint64_t ts = wb_txn_read_ts(t);
	wb_txn_abort(t);
	if (rc != WB_OK)
		return rc;
	long want = b->accounts * START_BALANCE;
	if ((total != want || n != b->accounts || negative >= 0) &&
	    !atomic_exchange(&b->violated, true)) {
		pthread_mutex_lock(&b->mu);
		snprintf(b->violation, sizeof(b->violation),
			 "check %llu at ts %llu saw %ld accounts totalling %ld (want %ld in %ld)%s",
			 (unsigned long long)atomic_load(&b->checks) + 1, (unsigned long long)ts, n,
			 total, want, b->accounts, negative >= 0 ? ", one of them negative" : "");
		pthread_mutex_unlock(&b->mu);
		atomic_store(&b->stop, true);
	}
	atomic_fetch_add(&b->checks, 1);
	return WB_OK;
}

static void *checker_thread(void *arg)
{
	struct bank *b = arg;
	while (!atomic_load(&b->stop)) {
		int rc = check(b);
		if (rc != WB_OK) {
			set_error(b, rc);
			break;
		}
	}
	return NULL;
}

/* Replaces every bank/ key with accounts fresh ones, in one transaction. */
static int open_accounts(struct bank *b)
{
	wb_txn *t;
	int rc = wb_txn_begin(b->db, 0, &t);
	if (rc != WB_OK)
		return rc;
	wb_iter_options io = { .prefix = PREFIX, .prefix_len = strlen(PREFIX) };
	wb_iter *it;
	rc = wb_txn_iter_new(t, &io, &it);
	if (rc == WB_OK) {
		/* Deletes of keys not yet visited do not disturb the walk: the
		 * iterator shows the buffer only from its next move on, and each
		 * key is left behind before it is deleted. */
		for (wb_iter_seek_first(it); rc == WB_OK && wb_iter_valid(it);) {
			size_t kl;
			const void *k = wb_iter_key(it, &kl);
			char key[64];
			memcpy(key, k, kl < sizeof(key) ? kl : sizeof(key));
			wb_iter_next(it);
			rc = wb_txn_delete(t, key, kl < sizeof(key) ? kl : sizeof(key));
		}
		if (rc == WB_OK)
			rc = wb_iter_status(it);
		wb_iter_free(it);
	}
	for (long i = 0; rc == WB_OK && i < b->accounts; i++)
		rc = put_balance(t, i, START_BALANCE);
	if (rc != WB_OK) {
		wb_txn_abort(t);
		return rc;
	}
	return wb_txn_commit(t);
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
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

int cmd_bank(struct cli *cli, const struct command *cmd, int argc, char **argv)
{
	const char *accounts_arg = NULL, *threads_arg = NULL, *seconds_arg = NULL, *iso_arg = NULL;
	const struct flag flags[] = {
		{ "--accounts", NULL, &accounts_arg }, { "--threads", NULL, &threads_arg },
		{ "--seconds", NULL, &seconds_arg },   { "--isolation", NULL, &iso_arg },
		{ NULL, NULL, NULL },
	};
	char *pos[1];
	int n, st = cli_args(cmd, argc, argv, flags, pos, 0, 0, &n);
	if (st != EXIT_OK)
		return st;
	long accounts = 100, threads = 4, seconds = 5;
	if (accounts_arg && !parse_long(accounts_arg, 2, 100000000, &accounts))
		return cli_usage(cmd, "bank: --accounts must be 2..100000000, not '%s'", accounts_arg);
	if (threads_arg && !parse_long(threads_arg, 1, MAX_THREADS, &threads))
		return cli_usage(cmd, "bank: --threads must be 1..%d, not '%s'", MAX_THREADS,
				 threads_arg);
	if (seconds_arg && !parse_long(seconds_arg, 0, 86400, &seconds))
		return cli_usage(cmd, "bank: --seconds must be 0..86400, not '%s'", seconds_arg);
	unsigned iso = 0;
	if (iso_arg && strcmp(iso_arg, "si") == 0)
		iso = WB_TXN_SNAPSHOT;
	else if (iso_arg && strcmp(iso_arg, "ssi") != 0)
		return cli_usage(cmd, "bank: --isolation must be ssi or si, not '%s'", iso_arg);
	st = cli_open(cli, OPEN_CREATE);
	if (st != EXIT_OK)
		return st;

	struct bank b = { .db = cli->db, .accounts = accounts, .flags = iso };
	pthread_mutex_init(&b.mu, NULL);
	int rc = open_accounts(&b);
	if (rc != WB_OK) {
		pthread_mutex_destroy(&b.mu);
		return cli_fail("bank: cannot create the accounts: %s", cli_reason(cli, rc));
	}
	printf("bank: %ld accounts of %d, %ld threads, %ld s, isolation %s\n", accounts,
	       START_BALANCE, threads, seconds, iso ? "si" : "ssi");
	uint64_t conflicts0 = stat_field(cli->db, "txn_conflicts");
	uint64_t retries0 = stat_field(cli->db, "txn_retries");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t th[MAX_THREADS + 1];
	int started = 0;
	for (long i = 0; i < threads; i++, started++)
		if (pthread_create(&th[started], NULL, transfer_thread, &b) != 0)
			break;
	bool checker = started == threads &&
		       pthread_create(&th[started], NULL, checker_thread, &b) == 0;
	if (!checker)
		set_error(&b, WB_ENOMEM);
	for (long ms = 0; ms < seconds * 1000 && !atomic_load(&b.stop); ms += 10) {
		struct timespec d = { 0, 10 * 1000000L };
		nanosleep(&d, NULL);
	}
	atomic_store(&b.stop, true);
	for (int i = 0; i < started + (checker ? 1 : 0); i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* One last look, with every thread stopped. */
	rc = atomic_load(&b.error);
	if (rc == WB_OK && !atomic_load(&b.violated))
		rc = check(&b);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	unsigned long long done = atomic_load(&b.transfers);
	printf("transfers %llu (%.0f/s), skipped %llu (insufficient funds), conflicts %llu, "
	       "retries %llu, checks %llu\n",
	       done, secs > 0 ? (double)done / secs : 0.0,
	       (unsigned long long)atomic_load(&b.skipped),
	       (unsigned long long)(stat_field(cli->db, "txn_conflicts") - conflicts0),
	       (unsigned long long)(stat_field(cli->db, "txn_retries") - retries0),
	       (unsigned long long)atomic_load(&b.checks));
	pthread_mutex_destroy(&b.mu);
	if (rc != WB_OK)
		return cli_fail("bank: %s", wb_strerror(rc));
	if (atomic_load(&b.violated)) {
		printf("invariant VIOLATED: %s\n", b.violation);
		return EXIT_FAIL;
	}
	printf("invariant held: total %ld in %ld accounts\n", accounts * START_BALANCE, accounts);
	return EXIT_OK;
}
