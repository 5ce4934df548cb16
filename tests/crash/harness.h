/*
 * harness.h -- what the two engine crash loops (kvcrash.c: SIGKILL of a
 * writer process; faultcrash.c: power loss and injected errors through the
 * fault env) share: their command line, random engine options per cycle,
 * `wombat DBDIR verify` run as a separate process, a watchdog that turns a
 * hang into a failure naming what hung, and the closing tally.
 *
 * Threads: the main thread of the harness only.
 */
#ifndef WB_CRASH_HARNESS_H
#define WB_CRASH_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "wombat.h"

struct hx_args {
	const char *prog;   /* for messages */
	uint64_t cycles;    /* stop after this many (0: only the time limit) */
	double seconds;     /* stop starting cycles after this long (0: only cycles) */
	uint64_t seed;      /* every cycle's choices follow from it */
	const char *dir;    /* scratch directory (NULL: a new one under /tmp) */
	const char *wombat; /* the CLI, for `verify` */
	bool verbose;       /* a line per cycle */
	bool keep_going;    /* go on after a failed cycle */
	bool strict;        /* known bugs (hx_known) fail the run too */
};

/* Parses the command line; prints usage and exits 2 on a bad one. Fills
 * what is not given: seed from the clock, the CLI next to argv[0]
 * (../bin/wombat). */
void hx_parse(int argc, char **argv, struct hx_args *a);

/* A generator for stream s of cycle c: the same (seed, c, s), the same
 * numbers, whatever earlier cycles did. */
uint64_t hx_rng(uint64_t seed, uint64_t cycle, uint64_t stream);

/* Options drawn for one open: small memtables and value-log segments (so
 * flushes, compactions and reclaim happen in every cycle), a low value
 * threshold, one of the sync modes. create_if_missing set. */
wb_options hx_options(uint64_t *rng);

const char *hx_sync_name(int mode);

/* Runs `wombat db verify`; true when it exits 0. Its output goes to
 * out_path, and when it fails, to stderr too; *msg (may be NULL) gets its
 * last line then (a static buffer, valid until the next call). */
bool hx_verify_cli(const struct hx_args *a, const char *db, const char *out_path, const char **msg);

/* A failure the harness found before, whose reproduction is a unit test
 * waiting for its fix (in files another change owns): the test's name
 * when msg matches one (power_lost: the cycle ended in a power loss),
 * else NULL. Such a failure is counted as "known" and does not fail the
 * run unless --strict. Remove an entry with its fix. */
const char *hx_known(const char *msg, bool power_lost);

/* Arms the watchdog: if hx_watch is not called again (or hx_unwatch) within
 * seconds, prints "hang: <what>" with the cycle and seed, kills *victim
 * when it is not 0, and exits 3. what must stay valid meanwhile. */
void hx_watch(unsigned seconds, const char *what, uint64_t cycle, uint64_t seed, pid_t victim);
void hx_unwatch(void);

/* Seconds since an arbitrary start. */
double hx_now(void);

/* The tally printed at the end. */
struct hx_tally {
	uint64_t cycles, ops, lost, torn, inconsistent, verify, writer, refused, silent;
	uint64_t known; /* failures hx_known recognised (not in hx_failed) */
};

/* True when now counts a failure that before did not (a known bug's too
 * with --strict). */
bool hx_new_failures(const struct hx_args *a, const struct hx_tally *before,
		     const struct hx_tally *now);

/* Makes the scratch directory into dir (len bytes): a->dir, or a new
 * /tmp/wombat-<tag>-XXXXXX. Exits 1 when it cannot. */
void hx_scratch(const struct hx_args *a, const char *tag, char *dir, size_t len);

/* The loop: cycle(ctx, c) for c = 0, 1, ... while a's limits allow; after
 * a failed cycle (false) prints how to replay it and stops, unless
 * keep_going. Then prints the tally t (what: the kind of crash) and
 * removes dir if nothing failed and it was not given. Returns the exit
 * status (0: nothing found). */
int hx_loop(const struct hx_args *a, bool (*cycle)(void *ctx, uint64_t c), void *ctx,
	    const struct hx_tally *t, const char *dir, const char *what);

#endif /* WB_CRASH_HARNESS_H */
