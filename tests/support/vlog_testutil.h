/*
 * vlog_testutil.h -- helpers shared by the tests of the value log through
 * the database (test_vlog.c, test_vlog_stream.c, test_vlog_recovery.c,
 * test_vlog_gc.c): their options, large values put and checked by key
 * number, and the bytes of a directory's files.
 *
 * Like those of testutil.h, they check their own results with cmocka
 * assertions and belong to the test's main thread.
 */
#ifndef WB_VLOG_TESTUTIL_H
#define WB_VLOG_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "wombat.h"

/* vt_options' value_threshold: a value this long or longer goes to the
 * value log. */
#define VT_THRESHOLD 1024

/* tu_options with a 1 MiB memtable, VT_THRESHOLD and 256 KiB segments. */
wb_options vt_options(void);

/* Puts key n of prefix "k" (tu_key) with the value tu_value(len, n, round). */
void vt_put_big(wb_db *db, uint64_t n, size_t len, uint64_t round);

/* Key n of prefix "k" holds what vt_put_big(db, n, len, round) put. */
void vt_expect_big(wb_db *db, uint64_t n, size_t len, uint64_t round);

/* wb_verify says want; then the database closes cleanly. */
void vt_verify_and_close(wb_db *db, int want);

/* Offset just past the last non-zero byte of path: its data, when it is a
 * log written through a map (zeros past the data while it is open). */
uint64_t vt_last_nonzero_end(const char *path);

/* measure(path) summed over the files in d whose name ends in suffix
 * (all when NULL). */
uint64_t vt_dir_sum(const char *d, const char *suffix, uint64_t (*measure)(const char *path));

/* Bytes in the files in d whose name ends in suffix (all when NULL). */
uint64_t vt_dir_bytes(const char *d, const char *suffix);

#endif /* WB_VLOG_TESTUTIL_H */
