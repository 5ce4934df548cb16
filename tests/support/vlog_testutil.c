/*
 * vlog_testutil.c -- helpers for the value-log tests through the database
 * (vlog_testutil.h). Files are measured straight through POSIX calls, as
 * in testutil.c, never through the engine's env.
 */
#include "vlog_testutil.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

wb_options vt_options(void)
{
	wb_options o = tu_options(1u << 20);
	o.value_threshold = VT_THRESHOLD;
	o.vlog_segment_size = 256u << 10;
	return o;
}

void vt_put_big(wb_db *db, uint64_t n, size_t len, uint64_t round)
{
	char k[32];
	char *v = malloc(len + 1);
	size_t kl = tu_key(k, "k", n);
	tu_value(v, len, n, round);
	assert_int_equal(wb_put(db, k, kl, v, len), WB_OK);
	free(v);
}

void vt_expect_big(wb_db *db, uint64_t n, size_t len, uint64_t round)
{
	char k[32];
	char *v = malloc(len + 1);
	size_t kl = tu_key(k, "k", n);
	tu_value(v, len, n, round);
	tu_expect(db, k, kl, v, len);
	free(v);
}

void vt_verify_and_close(wb_db *db, int want)
{
	assert_int_equal(wb_verify(db, NULL, NULL), want);
	assert_int_equal(wb_close(db), WB_OK);
}

uint64_t vt_last_nonzero_end(const char *path)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	uint64_t end = 0, off = 0;
	int c;
	while ((c = getc(f)) != EOF) {
		off++;
		if (c != 0)
			end = off;
	}
	fclose(f);
	return end;
}

uint64_t vt_dir_sum(const char *d, const char *suffix, uint64_t (*measure)(const char *path))
{
	int n;
	char **names = tu_list(d, &n);
	uint64_t total = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(names[i]);
		if (suffix != NULL && (l < strlen(suffix) || strcmp(names[i] + l - strlen(suffix), suffix) != 0))
			continue;
		char p[PATH_MAX];
		total += measure(tu_path(p, d, names[i]));
	}
	tu_free_names(names, n);
	return total;
}

static uint64_t file_bytes(const char *path)
{
	long long s = tu_file_size(path);
	return s > 0 ? (uint64_t)s : 0;
}

uint64_t vt_dir_bytes(const char *d, const char *suffix)
{
	return vt_dir_sum(d, suffix, file_bytes);
}
