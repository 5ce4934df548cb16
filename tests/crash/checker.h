/*
 * checker.h -- judges a database reopened after a crash against what the
 * writer journaled (workload.h): the state before the cycle (base) plus
 * the cycle's operations in order.
 *
 * The database must hold exactly the state after the first P operations
 * for some P with lo <= P <= n, where n counts every intent (the last one
 * may have been applied without its acknowledgement arriving) and lo is
 * the number acknowledged (need_acked: after a process kill or an injected
 * error, when nothing that was written can be gone) or the number covered
 * by a completed sync (after a power loss). Every key is read by point read
 * and by a scan of both keyspaces (they must agree), a large value also by
 * a range read, and every byte is compared with the version it claims to
 * be. What it can find:
 *   torn          a value that is not exactly one version written for that
 *                 key (bad header, wrong bytes, wrong length), or a read
 *                 that fails (WB_ECORRUPT, WB_EIO);
 *   lost          the state is a prefix, but one that ends before lo;
 *   inconsistent  no prefix fits: half a batch, transaction or move, an
 *                 older version back, a key no op wrote, point reads and
 *                 scans disagreeing.
 *
 * Threads: one call at a time; it only reads db.
 */
#ifndef WB_CRASH_CHECKER_H
#define WB_CRASH_CHECKER_H

#include <stdio.h>

#include "workload.h"

struct wl_check {
	const struct wl_journal *j; /* the cycle's journal */
	bool need_acked;            /* lo = acknowledged ops (else: synced ones) */
	uint64_t rng;               /* picks the range reads */
	/* results */
	size_t applied; /* P, when a prefix fits */
	uint64_t lost, torn, inconsistent;
};

/* Checks db against base (WL_KEYS states) and c->j. Prints each problem
 * found (the first 20) to log, each line starting with tag. When every
 * check passed, base becomes the recovered state and 0 is returned;
 * otherwise the number of problems. With repair, a failed check also makes
 * base the state recovered (torn keys are deleted from db first), so that
 * a run can go on past a failure; without it, base is left alone. */
uint64_t wl_check(wb_db *db, struct wl_state *base, struct wl_check *c, bool repair, FILE *log,
		  const char *tag);

#endif /* WB_CRASH_CHECKER_H */
