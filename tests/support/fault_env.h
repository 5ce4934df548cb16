/*
 * fault_env.h -- a wb_env for crash and error tests: it wraps another env
 * (normally wb_env_default()) and can simulate a power cut, fail chosen
 * calls, tear a write, or "kill the process" at a byte count. Its clock
 * is the wrapped env's, untouched (wrap a copy that has a test clock,
 * test_clock.h, to drive time as well).
 *
 * Durability model. For every path opened for writing through it, the env
 * remembers the file's durable length: its length at the last successful
 * sync. A file that already existed when first opened here is durable at its
 * length at that open; a file this env created is not durable at all until
 * its first sync (through any handle: a sync through one opened only for
 * reading flushes the file too, as fsync does). Renames, removes, truncations to a shorter length and
 * mkdir are durable as soon as they return (sync_dir and writeback are passed
 * through but change nothing in the model: writeback promises nothing).
 * fault_env_power_loss() applies the model to the disk. Paths are compared
 * as strings, so the engine must name a file the same way each time (it
 * does: "<dir>/<name>"); renaming a directory does not move the state of the
 * files inside it.
 *
 * Threads: every function here and every env call may be used from any
 * thread; one mutex protects the state, and it is held across the wrapped
 * call for every call that writes, so the model and the disk agree. The
 * wrapped read_at, size and list run outside it, concurrently.
 */
#ifndef WB_FAULT_ENV_H
#define WB_FAULT_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wombat.h"

typedef struct fault_env fault_env_t;

/* The calls that can be made to fail. Every env call belongs to at most one. */
enum fault_op {
	FAULT_OPEN_READ,  /* open without WB_ENV_WRITE, WB_ENV_CREATE or WB_ENV_TRUNCATE */
	FAULT_OPEN_WRITE, /* open with any of them (this is where files get created) */
	FAULT_READ,       /* read_at */
	FAULT_APPEND,     /* append */
	FAULT_SYNC,       /* sync of a file */
	FAULT_TRUNCATE,   /* truncate */
	FAULT_RENAME,     /* rename */
	FAULT_REMOVE,     /* remove */
	FAULT_SYNC_DIR,   /* sync_dir */
	FAULT_WRITEBACK,  /* writeback (only when the wrapped env has it) */
	FAULT_OP_COUNT
};

enum fault_mode {
	FAULT_ONCE,   /* only the chosen call fails; later ones work */
	FAULT_STICKY, /* the chosen call and every later one fail (a full or dead disk) */
};

/* What the env has seen since fault_env_new(), for picking fail and kill
 * points: run a workload once, read the counts, then rerun it with a fault
 * somewhere in [1, count]. */
struct fault_env_counts {
	uint64_t calls[FAULT_OP_COUNT]; /* calls of each kind, failed ones included */
	uint64_t bytes_appended;        /* bytes that reached the wrapped env */
};

/* Creates a fault env over base (NULL means wb_env_default()). base must
 * outlive it. No fault is armed. NULL when memory runs out. */
fault_env_t *fault_env_new(const wb_env *base);

/* Frees fe. REQUIRES: every file and lock opened through it is closed (close
 * the database first). NULL is fine. Files on disk are left as they are. */
void fault_env_free(fault_env_t *fe);

/* The table to put in wb_options.env. Valid until fault_env_free(fe). This
 * function can't fail. */
const wb_env *fault_env_get(fault_env_t *fe);

/* Simulates a power cut followed by a reboot: every file written through fe
 * is cut back to its durable length, and every file fe created that was
 * never synced is removed. Then all armed faults are cleared (as
 * fault_env_clear_faults) and the surviving files count as durable at their
 * new length, so fe can be used to reopen the database. Counters are kept.
 * The database should be closed (or at least idle) first: a file that is
 * still open keeps its handle, and its later writes are tracked as usual.
 * Returns WB_OK or the first error of the wrapped env while cutting files
 * back (it still processes every other file). */
int fault_env_power_loss(fault_env_t *fe);

/* Arms a failure: the n-th future call of kind op (n = 1 is the next one)
 * does nothing and returns rc (normally WB_EIO or WB_ENOSPC); with
 * FAULT_STICKY every later call of that kind fails the same way too. A
 * failed append writes nothing, a failed sync leaves the durable length
 * where it was. Replaces whatever was armed for op before. REQUIRES: n >= 1,
 * rc < 0. */
void fault_env_fail_nth(fault_env_t *fe, enum fault_op op, int n, int rc, enum fault_mode mode);

/* The next append (to any file) writes only its first keep bytes (all of it
 * if it is shorter) and still returns WB_OK, as if the power went out while
 * the kernel was writing it. Follow with fault_env_power_loss() or a close
 * and reopen. One-shot. */
void fault_env_tear_next_append(fault_env_t *fe, size_t keep);

/* Simulates the process dying after n more bytes have been appended, across
 * all files: the append that crosses the point writes only the bytes that
 * fit and returns WB_EIO; from then on (including right away when n is 0,
 * or when an append ends exactly on the point) every call that would change
 * the disk -- append, sync, truncate, rename, remove, mkdir, sync_dir, and
 * open for writing -- fails with WB_EIO. Reads, close and unlock keep
 * working so the database can be shut down. The bytes already appended stay
 * (a dead process does not lose the page cache); add fault_env_power_loss()
 * to lose the unsynced ones too. */
void fault_env_kill_after_bytes(fault_env_t *fe, uint64_t n);

/* True once a kill point set by fault_env_kill_after_bytes() was reached
 * (false if the workload ended first). */
bool fault_env_killed(fault_env_t *fe);

/* Makes the disk holding dir full at `bytes`: from now on an append fails
 * with WB_ENOSPC, writing nothing, when the regular files directly in dir
 * would then hold more than bytes in all -- like a small disk, it fills
 * up, and removing or shrinking files makes room again (a removed file
 * still open counts no more). Sizes are read from the disk at each
 * append, so files made around the env count too. 0 lifts the limit, and
 * so does fault_env_clear_faults. dir is copied. */
void fault_env_set_capacity(fault_env_t *fe, const char *dir, uint64_t bytes);

/* The bytes the regular files directly in dir hold now. This function
 * can't fail (0 for a missing directory). */
uint64_t fault_env_dir_bytes(const char *dir);

/* Disarms every failure, the pending tear, the kill point and the
 * capacity, and revives a killed env. Durability state and counters are
 * kept. */
void fault_env_clear_faults(fault_env_t *fe);

/* Copies the counters into *out. This function can't fail. */
void fault_env_counts(fault_env_t *fe, struct fault_env_counts *out);

#endif /* WB_FAULT_ENV_H */
