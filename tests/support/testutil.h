/*
 * testutil.h -- helpers shared by the database-level tests (test_db.c,
 * test_recovery.c, test_crash.c): temporary directories, raw file surgery
 * (flip a byte, cut a tail, digest a whole directory), and an in-memory
 * sorted key-value model to compare the database against.
 *
 * The helpers that touch the database or the disk check their own results
 * with cmocka assertions, so a test reads as a list of expectations; like
 * those assertions, they belong to the test's main thread (tu_rand,
 * tu_key, tu_value and tu_seed excepted).
 *
 * Three environment variables serve repeated runs (tests/stress.sh):
 *   WB_TEST_SEED    a number mixed into every randomized test's seed (see
 *                   tu_seed); unset, every run is the same as `make test`'s.
 *   WB_TEST_FILTER  runs only the tests whose names match it (cmocka's
 *                   pattern, with * and ?), e.g. WB_TEST_FILTER=test_churn.
 *   WB_TEST_SKIP    skips the tests whose names match it (the same way).
 * Every test binary links this file, so a constructor here applies the
 * last two before main.
 */
#ifndef WB_TESTUTIL_H
#define WB_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fault_env.h"
#include "wombat.h"

/* ---- directories and files ---- */

/* Makes a fresh directory /tmp/wombat-<tag>-XXXXXX into buf (>= 96 bytes). */
void tu_mkdtemp(char *buf, const char *tag);

/* Removes dir and everything under it. Missing is fine. */
void tu_rmtree(const char *dir);

/* "<dir>/<name>" into buf (PATH_MAX bytes); returns buf. */
char *tu_path(char *buf, const char *dir, const char *name);

/* Size of a file; -1 when it does not exist. */
long long tu_file_size(const char *path);

/* Inverts every bit of the byte at off. */
void tu_flip_byte(const char *path, uint64_t off);

/* Cuts the file to len bytes. */
void tu_truncate(const char *path, uint64_t len);

/* The whole file in a malloc'ed buffer (caller frees); *len its size. */
void *tu_read_file(const char *path, size_t *len);

/* Writes len bytes to path, replacing it. */
void tu_write_file(const char *path, const void *data, size_t len);

/* The sorted names in dir (no "." or ".."); *n of them. Free with tu_free_names. */
char **tu_list(const char *dir, int *n);
void tu_free_names(char **names, int n);

/* Number of names in dir ending in suffix. */
int tu_count_suffix(const char *dir, const char *suffix);

/* The first name in dir (sorted) ending in suffix, into buf (256 bytes);
 * false when none. */
bool tu_find_suffix(const char *dir, const char *suffix, char *buf);

/* A 64-bit digest of every name and every byte in dir (one level), except
 * the info log (LOG, LOG.old), which every open writes. */
uint64_t tu_dir_digest(const char *dir);

/* ---- database shortcuts (each asserts success) ---- */

/* Options for tests: create_if_missing, sync none, the given memtable size,
 * no background compaction (so the set of tables only changes when asked),
 * no disk reserve. */
wb_options tu_options(size_t memtable_size);

wb_db *tu_open(const char *dir, const wb_options *opts);
void tu_put(wb_db *db, const char *key, const char *val);
void tu_putn(wb_db *db, const void *key, size_t klen, const void *val, size_t vlen);

/* key must hold exactly val (vlen bytes). */
void tu_expect(wb_db *db, const void *key, size_t klen, const void *val, size_t vlen);
void tu_expect_str(wb_db *db, const char *key, const char *val);
/* key must be absent (WB_ENOTFOUND). */
void tu_expect_missing(wb_db *db, const void *key, size_t klen);

/* A crash of db, opened through fe: the process dies (nothing more reaches
 * the disk, so the final sync of wb_close fails and db is freed), then the
 * power goes (fault_env_power_loss). fe can then open the database again. */
void tu_crash(wb_db *db, fault_env_t *fe);

/* The process dies (db must have been opened through fe): fe refuses every
 * write from now on, db is closed (so nothing more reaches the disk, not
 * even the clean-close mark) and fe revived. Unlike tu_crash nothing
 * written is lost: the page cache survives a killed process. */
void tu_kill(wb_db *db, fault_env_t *fe);

/* Number of tables in the stats (the sum of "files" over the levels). */
int tu_tables(wb_db *db);

/* Asserts dir holds only what an open, fully flushed database needs:
 * LOCK, CURRENT, the one MANIFEST it names, the live WAL and exactly the
 * tables of the current version. REQUIRES: db opened with
 * compaction_threads = 0 (a compaction's new tables exist before the
 * version names them, its old ones until their last reader is gone). */
void tu_expect_clean_dir(wb_db *db, const char *dir);

/* Keys written by the tests, formatted: "<prefix><n, 8 digits>". */
size_t tu_key(char *buf, const char *prefix, uint64_t n);
/* A deterministic value of len bytes for (n, round) in buf; returns len. */
size_t tu_value(char *buf, size_t len, uint64_t n, uint64_t round);

/* xorshift64*; never returns the same sequence for different seeds. */
uint64_t tu_rand(uint64_t *state);

/* The seed a randomized test starts from: `fixed` (the test's own
 * constant) when WB_TEST_SEED is unset, else `fixed` mixed with
 * WB_TEST_SEED, so each test and thread still gets its own sequence and a
 * run is replayed by setting the same WB_TEST_SEED. When it is set, says
 * "seed <fixed> with WB_TEST_SEED=<n>" (print_message), so the log of a
 * failing run names what to replay. Any thread. */
uint64_t tu_seed(uint64_t fixed);

/* ---- the model: a sorted map of byte strings ---- */

typedef struct tu_kv {
	uint8_t *k, *v;
	size_t kl, vl;
} tu_kv_t;

typedef struct tu_model {
	tu_kv_t *e; /* sorted by key: memcmp, then shorter first (as the engine) */
	size_t n, cap;
} tu_model_t;

int tu_keycmp(const void *a, size_t al, const void *b, size_t bl);
void tu_model_put(tu_model_t *m, const void *k, size_t kl, const void *v, size_t vl);
void tu_model_del(tu_model_t *m, const void *k, size_t kl);
/* The entry for k, or NULL. */
const tu_kv_t *tu_model_get(const tu_model_t *m, const void *k, size_t kl);
/* Index of the first key >= k (m->n when none). */
size_t tu_model_lower_bound(const tu_model_t *m, const void *k, size_t kl);
void tu_model_copy(tu_model_t *dst, const tu_model_t *src);
void tu_model_free(tu_model_t *m);

/* Puts key n of prefix (tu_key) with the value tu_value(vlen, n, round)
 * and, when that works, into m too (m may be NULL). Returns wb_put's
 * result: unlike tu_putn, a failure is the caller's to judge. */
int tu_try_put(wb_db *db, tu_model_t *m, const char *prefix, uint64_t n, size_t vlen,
	       uint64_t round);

/* Fails the test unless text holds needle; what names the text. */
void tu_expect_has(const char *what, const char *text, const char *needle);

/* A watchdog for tests that must not hang: unless tu_watchdog_stop is
 * called within `seconds`, the process says that a call of test `name`
 * hung and exits (status 3), which the test run counts as a failure.
 * Tests then need no timing assertions. */
void tu_watchdog_start(const char *name, unsigned seconds);
void tu_watchdog_stop(void);

/* Scans the whole database forward and backward and asserts it holds
 * exactly the model's entries. */
void tu_expect_db_equals(wb_db *db, const tu_model_t *m);
/* The same over an iterator the caller made (and frees): what it shows
 * from its snapshot, both ways, must be exactly m. */
void tu_expect_iter_equals(wb_iter *it, const tu_model_t *m);

/* A random key of 1..4 bytes over the alphabet a, b, c, 0xff into k (>= 4
 * bytes): keys are often prefixes of each other, and 0xff puts prefix ends
 * to the test. Returns its length. */
size_t tu_random_key(uint64_t *rs, char *k);

/* Checks an iterator with options io over db against the model m: full
 * scans both ways, then random seeks and seek_for_prevs, each followed by
 * a random walk that changes direction. */
void tu_check_iter(wb_db *db, const tu_model_t *m, const wb_iter_options *io, uint64_t *rs);

#endif /* WB_TESTUTIL_H */
