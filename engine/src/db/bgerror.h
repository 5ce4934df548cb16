/*
 * bgerror.h -- the error state of a database: whether writes are accepted
 * now, and when they are not, what failed, where and since when.
 *
 * The sources of failure, and how each one ends:
 *
 *   BG_WAL (sticky): an fsync of the WAL or of the value log failed, or a
 *     logged write could not be applied to the memtable. The kernel may
 *     have dropped the dirty pages, and a later fsync can succeed without
 *     writing them, so nothing written since the last good sync can be
 *     promised durable: only a reopen, which recovers from what is on
 *     disk, leaves this state.
 *   BG_FLUSH, BG_COMPACTION, BG_RECLAIM (retried): background work failed
 *     (a full disk, an I/O error, a damaged input). Its thread retries it
 *     after a pause that starts at BG_RETRY_FIRST_MS and doubles after each
 *     failure up to BG_RETRY_MAX_MS; the first success of that work ends
 *     its part of the state. A full disk therefore clears by itself once
 *     there is room again.
 *   BG_DISK_FULL (retried, WB_ENOSPC): the disk reserve was given back
 *     because the disk is full (reserve.h). Its room is for deletes and
 *     the reclaim that turns them into space, not for new data, so writes
 *     are refused until the reserve can be made again (tried on the same
 *     schedule).
 *
 * While any source is failing, a write gets that error at once (the oldest
 * failure's, sticky first) and wb_errmsg carries the background thread's
 * own message (file, offset, operation). One exception: when every failing
 * source failed with WB_ENOSPC, a removal (a write that stores no value,
 * bgerror_check) still goes on, because deleting is how room is made.
 * What each public call returns in the state is in wombat.h ("Errors in
 * the background"); the policy is the one in db_impl.h.
 *
 * Thread-safe: any thread may call any function. `mu` is a leaf lock (taken
 * after db->mu when both are held) and is never held across I/O: lines for
 * the info log are written after it is released.
 */
#ifndef WB_BGERROR_H
#define WB_BGERROR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/infolog.h"
#include "wombat.h"

#define BG_RETRY_FIRST_MS 100
#define BG_RETRY_MAX_MS 5000

enum bg_source { BG_WAL, BG_FLUSH, BG_COMPACTION, BG_RECLAIM, BG_DISK_FULL, BG_NSOURCES };

typedef struct bg_failure {
	int rc;            /* WB_OK: this source works */
	char msg[480];     /* what failed: the failing thread's message */
	uint64_t since;    /* clock_now_micros(env) of the first failure in this run */
	uint64_t failures; /* failures in a row */
	uint64_t retry_at; /* clock_now_micros(env) when the next attempt is due */
} bg_failure_t;

typedef struct bgerror {
	pthread_mutex_t mu;
	/* The error a write gets now (WB_OK: none). Written under mu, read
	 * without it on the write path: a hint that is exact under mu. */
	_Atomic int rc;
	bg_failure_t src[BG_NSOURCES]; /* (mu) */
	uint64_t recoveries;           /* (mu) times a retried source worked again */
	info_log_t *log;               /* where failures are told (may be NULL); set before threads start */
	const wb_env *env;             /* whose clock times failures and retries; set by bgerror_init */
} bgerror_t;

/* env: whose monotonic clock to use (NULL: the system's). */
void bgerror_init(bgerror_t *b, const wb_env *env);
void bgerror_destroy(bgerror_t *b);

/* Records that src failed with rc (not WB_OK): the message is
 * "<what>: <the calling thread's wb_errmsg>" (or rc's name when that is
 * empty), the info log says so, and the next retry is scheduled. Returns
 * rc with the calling thread's message left as it was. */
int bgerror_fail(bgerror_t *b, enum bg_source src, int rc, const char *what, ...)
	__attribute__((format(printf, 4, 5)));

/* src worked: its part of the state ends (the info log says so when it was
 * failing). Ignored for BG_WAL, which only a reopen clears. */
void bgerror_ok(bgerror_t *b, enum bg_source src);

/* Whether a write may go on: WB_OK, or the error it must fail with, and
 * then wb_errmsg says what failed where and whether it is retried.
 * removal: the write stores no value (see the top of this file). */
int bgerror_check(bgerror_t *b, bool removal);

/* The error of src alone (WB_OK when it works), with wb_errmsg set to its
 * message when it fails. */
int bgerror_source(bgerror_t *b, enum bg_source src);

/* Whether src is failing now; the message is left alone. */
bool bgerror_failing(bgerror_t *b, enum bg_source src);

/* The sticky error (BG_WAL) or WB_OK; wb_errmsg set as bgerror_source. */
int bgerror_sticky(bgerror_t *b);

/* Microseconds until src's next attempt is due: 0 when it is due now or
 * src is not failing. */
uint64_t bgerror_retry_wait(bgerror_t *b, enum bg_source src);

/* The state for the statistics, through the caller's printf-like sink:
 * text lines, or the value of a JSON field (an object, or null). */
typedef void (*bgerror_sink_fn)(void *arg, const char *fmt, ...);
void bgerror_report(bgerror_t *b, bool json, bgerror_sink_fn sink, void *arg);

#endif /* WB_BGERROR_H */
