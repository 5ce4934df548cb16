/*
 * test_vlog_module.c -- the value log on its own (vlog.h), with no
 * database: a vlog_t over a temporary directory through the fault env,
 * given file numbers and reclaim wake-ups by the test.
 *
 *   - a WAL record's conversion: values at or above value_threshold become
 *     pointers into the active segment, smaller ones and tombstones stay
 *     inline; every pointer reads back its value, key and timestamp; a
 *     record with nothing to move is left as it is;
 *   - pointer checks (vlog_check_ptr): a missing segment, a pointer past
 *     the end, a damaged entry (and its read says WB_ECORRUPT), a segment
 *     reclaim removed;
 *   - an injected EIO on append and ENOSPC on sync are reported with the
 *     segment's name, and the next conversion moves to a new segment;
 *   - recovery of the segment set from a MANIFEST state: named segments
 *     reopen and read, a missing one is refused (or left out when
 *     salvaging), an unrecorded one the WAL points into is taken in.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/batch.h"
#include "table/ikey.h"
#include "testutil.h"
#include "util/coding.h"
#include "util/error.h"
#include "vlog/vlog.h"

#define THRESHOLD 100
#define TS 77

typedef struct fixture {
	char dir[96];
	fault_env_t *fe;
	vlog_t v;
	uint64_t next_number; /* new_file_number hands these out */
	int wakes;            /* wake_reclaim calls */
	int salvaged;         /* segments vlog_recover left out */
} fixture_t;

static uint64_t new_number(void *arg)
{
	fixture_t *f = arg;
	return ++f->next_number;
}

static void wake(void *arg)
{
	fixture_t *f = arg;
	f->wakes++;
}

static void start(fixture_t *f)
{
	const vlog_config_t cfg = { .env = fault_env_get(f->fe),
				    .dir = f->dir,
				    .value_threshold = THRESHOLD,
				    .segment_size = 1 << 20,
				    .new_file_number = new_number,
				    .wake_reclaim = wake,
				    .arg = f };
	vlog_init(&f->v, &cfg);
}

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	tu_mkdtemp(f->dir, "vlogmod");
	f->fe = fault_env_new(NULL);
	assert_non_null(f->fe);
	start(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	vlog_destroy(&f->v);
	fault_env_free(f->fe);
	tu_rmtree(f->dir);
	free(f);
	return 0;
}

/* ---- building and reading records ---- */

typedef struct rec {
	uint8_t buf[1 << 16];
	size_t len;
} rec_t;

static void rec_begin(rec_t *r)
{
	put_u64(r->buf, TS);
	put_u32(r->buf + 8, 0);
	r->len = BATCH_HEADER_SIZE;
}

static void rec_add(rec_t *r, uint8_t meta, const char *key, slice_t value)
{
	uint8_t tk[64];
	tk[0] = WB_KS_USER;
	memcpy(tk + 1, key, strlen(key));
	uint8_t *end = batch_encode_entry(r->buf + r->len, meta, slice_make(tk, strlen(key) + 1), value);
	r->len = (size_t)(end - r->buf);
	put_u32(r->buf + 8, get_u32(r->buf + 8) + 1);
}

/* A value of n bytes, its bytes depending on seed. */
static slice_t value_of(uint8_t *buf, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(seed + i * 7);
	return slice_make(buf, n);
}

/* What a converted record holds, entry by entry. */
typedef struct seen {
	int n;
	uint8_t meta[8];
	char key[8][16];
	vptr_t ptr[8];
	size_t vlen[8];
	uint64_t ts[8];
} seen_t;

static int collect(void *arg, uint8_t meta, slice_t tree_key, slice_t value, uint64_t ts)
{
	seen_t *s = arg;
	int i = s->n++;
	s->meta[i] = meta;
	memcpy(s->key[i], tree_key.data + 1, tree_key.len - 1);
	s->key[i][tree_key.len - 1] = 0;
	s->ts[i] = ts;
	s->vlen[i] = value.len;
	if (meta & META_VALUE_PTR)
		assert_true(vptr_decode(value, &s->ptr[i]));
	return WB_OK;
}

static void convert(fixture_t *f, const rec_t *r, uint8_t **out, seen_t *s)
{
	slice_t conv;
	assert_int_equal(vlog_convert_record(&f->v, slice_make(r->buf, r->len), out, &conv), WB_OK);
	memset(s, 0, sizeof(*s));
	assert_int_equal(batch_iterate(conv, collect, s), WB_OK);
}

/* Converts a record of one put of value under key into r and returns
 * the pointer that replaced the value. */
static vptr_t put_one(fixture_t *f, rec_t *r, const char *key, slice_t value)
{
	rec_begin(r);
	rec_add(r, 0, key, value);
	uint8_t *out;
	seen_t s;
	convert(f, r, &out, &s);
	free(out);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.meta[0], META_VALUE_PTR);
	return s.ptr[0];
}

/* The value at p reads back as want, with its key and timestamp. */
static void reads_back(fixture_t *f, const vptr_t *p, const char *key, slice_t want)
{
	void *val;
	uint8_t *k;
	size_t klen;
	uint64_t ts;
	assert_int_equal(vlog_read_value(&f->v, p, &val, &k, &klen, &ts), WB_OK);
	assert_memory_equal(val, want.data, want.len);
	assert_int_equal(klen, strlen(key) + 1);
	assert_memory_equal(k + 1, key, strlen(key));
	assert_int_equal(ts, TS);
	free(val);
	free(k);
	assert_int_equal(vlog_check_ptr(&f->v, p), WB_OK);
}

static void seg_path(const fixture_t *f, uint64_t number, char *path)
{
	vlog_segment_path(path, PATH_MAX, f->dir, number);
}

/* ---- tests ---- */

static void test_convert_record(void **state)
{
	fixture_t *f = *state;
	static uint8_t small[THRESHOLD - 1], exact[THRESHOLD], big[10000];
	rec_t r;
	rec_begin(&r);
	rec_add(&r, 0, "small", value_of(small, sizeof(small), 1));
	rec_add(&r, 0, "exact", value_of(exact, sizeof(exact), 2));
	rec_add(&r, META_TOMBSTONE, "gone", slice_make(NULL, 0));
	rec_add(&r, 0, "big", value_of(big, sizeof(big), 3));
	uint8_t *out;
	seen_t s;
	convert(f, &r, &out, &s);
	assert_non_null(out);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.meta[0], 0);
	assert_int_equal(s.vlen[0], sizeof(small));
	assert_int_equal(s.meta[2], META_TOMBSTONE);
	assert_string_equal(s.key[2], "gone");
	for (int i = 0; i < 4; i++)
		assert_int_equal(s.ts[i], TS);
	/* The first segment, entries back to back after its header. */
	assert_int_equal(s.meta[1], META_VALUE_PTR);
	assert_int_equal(s.ptr[1].segment, 1);
	assert_int_equal(s.ptr[1].offset, VLOG_HEADER_SIZE);
	assert_int_equal(s.ptr[1].value_len, sizeof(exact));
	assert_int_equal(s.meta[3], META_VALUE_PTR);
	assert_int_equal(s.ptr[3].segment, 1);
	assert_int_equal(s.ptr[3].offset, s.ptr[1].offset + s.ptr[1].length);
	assert_int_equal(s.ptr[3].value_len, sizeof(big));
	assert_int_equal(s.ptr[3].length, vlog_entry_len(strlen("big") + 1, sizeof(big)));
	assert_int_equal(atomic_load(&f->v.appended), s.ptr[1].length + s.ptr[3].length);
	reads_back(f, &s.ptr[1], "exact", slice_make(exact, sizeof(exact)));
	reads_back(f, &s.ptr[3], "big", slice_make(big, sizeof(big)));
	size_t got;
	uint8_t part[100];
	assert_int_equal(vlog_read_range(&f->v, &s.ptr[3], 5000, part, sizeof(part), &got), WB_OK);
	assert_int_equal(got, sizeof(part));
	assert_memory_equal(part, big + 5000, sizeof(part));
	free(out);
	assert_int_equal(vlog_sync(&f->v), WB_OK);
	assert_true(vlog_is_live(&f->v, 1));
	assert_int_equal(f->wakes, 0); /* nothing sealed yet */

	/* Nothing to move: the record is used as it is. */
	rec_begin(&r);
	rec_add(&r, 0, "small", value_of(small, sizeof(small), 4));
	slice_t conv;
	assert_int_equal(vlog_convert_record(&f->v, slice_make(r.buf, r.len), &out, &conv), WB_OK);
	assert_null(out);
	assert_ptr_equal(conv.data, r.buf);
	assert_int_equal(conv.len, r.len);
}

static void test_check_ptr(void **state)
{
	fixture_t *f = *state;
	static uint8_t big[3000];
	rec_t r;
	vptr_t p = put_one(f, &r, "k", value_of(big, sizeof(big), 9));
	assert_int_equal(vlog_sync(&f->v), WB_OK);
	vlog_seal_active(&f->v, p.segment);
	assert_int_equal(f->wakes, 0); /* sealing by request wakes no one */
	assert_int_equal(vlog_check_ptr(&f->v, &p), WB_OK);

	/* A segment that does not exist. */
	vptr_t missing = p;
	missing.segment = 42;
	assert_int_equal(vlog_check_ptr(&f->v, &missing), WB_ENOTFOUND);
	assert_non_null(strstr(err_message(), "000042.vlog"));
	void *val;
	assert_int_equal(vlog_read_value(&f->v, &missing, &val, NULL, NULL, NULL), WB_ECORRUPT);
	assert_non_null(strstr(err_message(), "does not exist"));

	/* Past the end of the segment. */
	vptr_t past = p;
	past.offset = p.offset + p.length;
	assert_int_equal(vlog_check_ptr(&f->v, &past), WB_ENOTFOUND);

	/* A damaged byte in the value. */
	char path[PATH_MAX];
	seg_path(f, p.segment, path);
	tu_flip_byte(path, p.offset + VLOG_ENTRY_HEADER + 1000);
	assert_int_equal(vlog_check_ptr(&f->v, &p), WB_ENOTFOUND);
	assert_int_equal(vlog_read_value(&f->v, &p, &val, NULL, NULL, NULL), WB_ECORRUPT);
	assert_non_null(strstr(err_message(), "000001.vlog"));
	vlog_seg_t *seg = vlog_get(&f->v, 1);
	assert_non_null(seg);
	assert_int_equal(vlog_check_segment(&f->v, seg), WB_ECORRUPT);
	vlog_seg_unref(seg);
	tu_flip_byte(path, p.offset + VLOG_ENTRY_HEADER + 1000);
	assert_int_equal(vlog_check_ptr(&f->v, &p), WB_OK);
	assert_int_equal(vlog_verify(&f->v, NULL, NULL), WB_OK);
}

static void test_append_and_sync_errors(void **state)
{
	fixture_t *f = *state;
	static uint8_t big[500];
	rec_t r;
	assert_int_equal(put_one(f, &r, "a", value_of(big, sizeof(big), 5)).segment, 1);

	uint8_t *out;
	fault_env_fail_nth(f->fe, FAULT_APPEND, 1, WB_EIO, FAULT_ONCE);
	slice_t conv;
	err_clear();
	assert_int_equal(vlog_convert_record(&f->v, slice_make(r.buf, r.len), &out, &conv), WB_EIO);
	assert_null(out);
	assert_non_null(strstr(err_message(), "000001.vlog"));
	assert_non_null(strstr(err_message(), "append failed"));

	/* The broken segment is left: the next value starts segment 2, and
	 * the sealed one wakes reclaim. */
	vptr_t p = put_one(f, &r, "a", slice_make(big, sizeof(big)));
	assert_int_equal(p.segment, 2);
	assert_int_equal(p.offset, VLOG_HEADER_SIZE);
	assert_int_equal(f->wakes, 1);
	reads_back(f, &p, "a", slice_make(big, sizeof(big)));

	fault_env_fail_nth(f->fe, FAULT_SYNC, 1, WB_ENOSPC, FAULT_ONCE);
	err_clear();
	assert_int_equal(vlog_sync(&f->v), WB_ENOSPC);
	assert_non_null(strstr(err_message(), "sync failed"));
	assert_int_equal(vlog_sync(&f->v), WB_OK);

	/* A segment that cannot be created: nothing is left behind. */
	vlog_seal_active(&f->v, 2);
	fault_env_fail_nth(f->fe, FAULT_APPEND, 1, WB_ENOSPC, FAULT_ONCE);
	assert_int_equal(vlog_convert_record(&f->v, slice_make(r.buf, r.len), &out, &conv), WB_ENOSPC);
	assert_non_null(strstr(err_message(), "cannot create"));
	char path[PATH_MAX];
	seg_path(f, 3, path);
	assert_int_equal(tu_file_size(path), -1);
	assert_false(vlog_is_live(&f->v, 3));
}

static void salvage(void *arg, const char *why)
{
	fixture_t *f = arg;
	f->salvaged++;
	assert_non_null(strstr(why, "000009.vlog"));
}

static void test_recover(void **state)
{
	fixture_t *f = *state;
	static uint8_t one[200], two[300];
	rec_t r;
	vptr_t p1 = put_one(f, &r, "one", value_of(one, sizeof(one), 6));
	vlog_seal_active(&f->v, 1);
	vptr_t p2 = put_one(f, &r, "two", value_of(two, sizeof(two), 7));
	assert_int_equal(p2.segment, 2);
	assert_int_equal(vlog_sync(&f->v), WB_OK);
	vlog_destroy(&f->v);

	/* Segment 1 recorded, 2 not (the active one of a crashed run), 5
	 * removed by reclaim. */
	version_edit_t st;
	edit_init(&st);
	assert_int_equal(edit_add_segment(&st, 1), WB_OK);
	assert_int_equal(edit_delete_segment(&st, 5, 3), WB_OK);
	start(f);
	assert_int_equal(vlog_recover(&f->v, &st, NULL, NULL), WB_OK);
	assert_true(vlog_is_live(&f->v, 1));
	assert_false(vlog_is_live(&f->v, 2));
	assert_true(vlog_is_dead(&f->v, 5));
	reads_back(f, &p1, "one", slice_make(one, sizeof(one)));
	/* A pointer into a removed segment is already hidden: accepted. */
	vptr_t dead = { 5, VLOG_HEADER_SIZE, 100, 10 };
	assert_int_equal(vlog_check_ptr(&f->v, &dead), WB_OK);
	/* The WAL points into segment 2: it is taken into the set. */
	assert_int_equal(vlog_check_ptr(&f->v, &p2), WB_OK);
	assert_true(vlog_is_live(&f->v, 2));
	reads_back(f, &p2, "two", slice_make(two, sizeof(two)));
	vlog_destroy(&f->v);

	/* A named segment that is missing is damage, or a drop when salvaging. */
	assert_int_equal(edit_add_segment(&st, 9), WB_OK);
	start(f);
	assert_int_equal(vlog_recover(&f->v, &st, NULL, NULL), WB_ECORRUPT);
	assert_non_null(strstr(err_message(), "000009.vlog"));
	assert_non_null(strstr(err_message(), "missing"));
	vlog_destroy(&f->v);
	start(f);
	assert_int_equal(vlog_recover(&f->v, &st, salvage, f), WB_OK);
	assert_int_equal(f->salvaged, 1);
	assert_true(vlog_is_live(&f->v, 1));
	assert_false(vlog_is_live(&f->v, 9));
	edit_destroy(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_convert_record, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_ptr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_append_and_sync_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
