/*
 * test_version_set.c -- the version set (engine/src/db/version_set.h)
 * without a database: a set over a bare directory, its own mutex and the
 * fault env, with file metas that name no real table (a version only
 * needs their numbers and keys).
 *
 *   - log-and-apply: edits adding, moving and removing tables make the
 *     new current version, record next_file and the log number, run the
 *     caller's prepare hook before the edit is logged and its installed
 *     hook with mu held after; an empty edit writes nothing;
 *   - recovery: a second set over the same directory recovers the same
 *     tree, log number and file counter from CURRENT and the MANIFEST;
 *     without CURRENT it is WB_ENOTFOUND;
 *   - a failed MANIFEST append: the edit is not applied, the error names
 *     the MANIFEST, the hooks' segments are not marked recorded, and the
 *     next edit first writes a new MANIFEST holding the installed tree;
 *   - a failed sync: the edit was logged (*logged) but is not applied;
 *   - an edit logged but not applicable (it deletes a table the tree does
 *     not hold): WB_ECORRUPT with a message, current unchanged, the
 *     MANIFEST marked broken and replaced by a snapshot at the next edit,
 *     so recovery never meets the bad edit;
 *   - compact pointers: the set keeps its own copy of each level's.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db/version_set.h"
#include "fault_env.h"
#include "table/ikey.h"
#include "testutil.h"
#include "util/error.h"

static char dir[96];
static fault_env_t *fe;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

/* What the hooks saw. */
static struct {
	int snapshots, segment_calls, recorded;
	uint64_t next_segment; /* a fake value-log segment per edit */
} seen;

static int snapshot_hook(void *arg, version_edit_t *e)
{
	assert_int_equal(pthread_mutex_trylock(&mu), EBUSY); /* mu held */
	seen.snapshots++;
	e->has_last_ts = true;
	e->last_ts = 77;
	return WB_OK;
}

static int segments_hook(void *arg, version_edit_t *e, bool snapshot, uint64_t log_number, uint64_t **segs,
			 int *nsegs)
{
	seen.segment_calls++;
	*segs = NULL;
	*nsegs = 0;
	if (snapshot)
		return WB_OK;
	*segs = malloc(sizeof(**segs));
	assert_non_null(*segs);
	(*segs)[0] = ++seen.next_segment;
	*nsegs = 1;
	return edit_add_segment(e, (*segs)[0]);
}

static void recorded_hook(void *arg, const uint64_t *segs, int nsegs)
{
	seen.recorded += nsegs;
}

static const vset_hooks_t hooks = {
	.snapshot = snapshot_hook, .segments = segments_hook, .recorded = recorded_hook
};

static int setup(void **state)
{
	tu_watchdog_start("test_version_set", 60);
	tu_mkdtemp(dir, "vset");
	fe = fault_env_new(NULL);
	memset(&seen, 0, sizeof(seen));
	return fe == NULL;
}

static int teardown(void **state)
{
	fault_env_free(fe);
	tu_rmtree(dir);
	tu_watchdog_stop();
	return 0;
}

/* A set over dir with a fresh tree and its first MANIFEST. */
static void open_fresh(version_set_t *vs)
{
	vset_init(vs, fault_env_get(fe), dir, &mu, &hooks);
	assert_int_equal(vset_create(vs), WB_OK);
	pthread_mutex_lock(&mu);
	uint64_t number = vset_new_file_number(vs);
	pthread_mutex_unlock(&mu);
	assert_int_equal(vset_write_snapshot(vs, number), WB_OK);
	assert_int_equal(vs->manifest_number, number);
}

/* A table numbered from the set's counter covering keys [lo, hi]. */
static file_meta_t *new_table(version_set_t *vs, int lo, int hi)
{
	uint8_t a[32], b[32];
	char tk[16];
	tk[0] = KS_USER;
	size_t n = 1 + (size_t)snprintf(tk + 1, sizeof(tk) - 1, "k%04d", lo);
	size_t al = ikey_encode(a, slice_make(tk, n), 9);
	n = 1 + (size_t)snprintf(tk + 1, sizeof(tk) - 1, "k%04d", hi);
	size_t bl = ikey_encode(b, slice_make(tk, n), 1);
	pthread_mutex_lock(&mu);
	uint64_t number = vset_new_file_number(vs);
	pthread_mutex_unlock(&mu);
	file_meta_t *f = file_meta_new(number, 1000 + number, slice_make(a, al), slice_make(b, bl));
	assert_non_null(f);
	return f;
}

/* Logs and applies an edit adding f at level (and dropping the reference). */
static int add_table(version_set_t *vs, int level, file_meta_t *f, bool *logged)
{
	version_edit_t e;
	edit_init(&e);
	assert_int_equal(edit_add_file(&e, level, f), WB_OK);
	file_meta_unref(f);
	int rc = vset_log_and_apply(vs, &e, NULL, logged);
	edit_destroy(&e);
	return rc;
}

/* The two versions hold the same tables, level by level. */
static void expect_same_tree(const version_t *a, const version_t *b)
{
	for (int l = 0; l < NUM_LEVELS; l++) {
		assert_int_equal(a->nfiles[l], b->nfiles[l]);
		for (int i = 0; i < a->nfiles[l]; i++) {
			const file_meta_t *x = a->files[l][i], *y = b->files[l][i];
			assert_int_equal(x->number, y->number);
			assert_int_equal(x->size, y->size);
			assert_int_equal(x->smallest_len, y->smallest_len);
			assert_memory_equal(x->smallest, y->smallest, x->smallest_len);
			assert_int_equal(x->largest_len, y->largest_len);
			assert_memory_equal(x->largest, y->largest, x->largest_len);
		}
	}
}

/* A second set recovers vs's state from the disk. */
static void expect_recovers(version_set_t *vs)
{
	version_set_t r;
	vset_init(&r, fault_env_get(fe), dir, &mu, NULL);
	version_edit_t state;
	assert_int_equal(vset_recover(&r, &state), WB_OK);
	expect_same_tree(vs->current, r.current);
	assert_int_equal(r.log_number, vs->log_number);
	assert_int_equal(r.manifest_number, vs->manifest_number);
	/* The counter is at least where the last edit left it: never reused. */
	assert_true(r.next_file <= vs->next_file);
	assert_true(r.next_file > vs->manifest_number);
	for (int l = 0; l < NUM_LEVELS; l++)
		for (int i = 0; i < vs->current->nfiles[l]; i++)
			assert_true(r.next_file > vs->current->files[l][i]->number);
	assert_true(state.has_last_ts);
	assert_int_equal(state.last_ts, 77);
	edit_destroy(&state);
	vset_destroy(&r);
}

static int installs;

static int prepare_adds_log_number(void *arg, version_edit_t *e)
{
	version_set_t *vs = arg;
	assert_int_equal(pthread_mutex_trylock(&mu), 0); /* mu not held */
	pthread_mutex_unlock(&mu);
	assert_int_equal(pthread_mutex_trylock(&vs->edit_mu), EBUSY);
	e->has_log_number = true;
	e->log_number = 42;
	return WB_OK;
}

static void installed_hook(void *arg, const version_edit_t *e)
{
	version_set_t *vs = arg;
	assert_int_equal(pthread_mutex_trylock(&mu), EBUSY); /* mu held */
	assert_int_equal(vs->log_number, 42);                /* already the new state */
	installs++;
}

static void test_log_and_apply(void **state)
{
	version_set_t vs;
	open_fresh(&vs);
	assert_int_equal(seen.snapshots, 1);

	/* Two L0 tables, newest first. */
	bool logged = false;
	file_meta_t *a = new_table(&vs, 0, 50), *b = new_table(&vs, 20, 70);
	uint64_t na = a->number, nb = b->number;
	assert_int_equal(add_table(&vs, 0, a, &logged), WB_OK);
	assert_true(logged);
	assert_int_equal(add_table(&vs, 0, b, &logged), WB_OK);
	assert_int_equal(vs.current->nfiles[0], 2);
	assert_int_equal(vs.current->files[0][0]->number, nb);
	assert_int_equal(vs.current->files[0][1]->number, na);
	assert_int_equal(seen.recorded, 2); /* each edit's segment, once durable */

	/* Compaction-like: both out of L0, one new table in L1; the hooks
	 * run in their places. */
	file_meta_t *c = new_table(&vs, 0, 70);
	uint64_t nc = c->number;
	version_edit_t e;
	edit_init(&e);
	assert_int_equal(edit_delete_file(&e, 0, na), WB_OK);
	assert_int_equal(edit_delete_file(&e, 0, nb), WB_OK);
	assert_int_equal(edit_add_file(&e, 1, c), WB_OK);
	file_meta_unref(c);
	version_t *before = vs.current;
	version_ref(before);
	const vset_apply_t how = { .arg = &vs, .prepare = prepare_adds_log_number, .installed = installed_hook };
	installs = 0;
	assert_int_equal(vset_log_and_apply(&vs, &e, &how, &logged), WB_OK);
	assert_true(e.has_next_file);
	assert_int_equal(e.next_file, vs.next_file);
	edit_destroy(&e);
	assert_int_equal(installs, 1);
	assert_int_equal(vs.log_number, 42);
	assert_int_equal(vs.current->nfiles[0], 0);
	assert_int_equal(vs.current->nfiles[1], 1);
	assert_int_equal(vs.current->files[1][0]->number, nc);
	/* The old version is untouched for whoever still reads it. */
	assert_int_equal(before->nfiles[0], 2);
	version_unref(before);

	/* An edit with nothing in it writes nothing. */
	char path[PATH_MAX], name[32];
	snprintf(name, sizeof(name), "MANIFEST-%06llu", (unsigned long long)vs.manifest_number);
	long long size = tu_file_size(tu_path(path, dir, name));
	edit_init(&e);
	assert_int_equal(vset_log_and_apply(&vs, &e, NULL, &logged), WB_OK);
	assert_false(logged);
	edit_destroy(&e);
	assert_int_equal(tu_file_size(path), size);

	expect_recovers(&vs);
	vset_destroy(&vs);
}

static void test_recover(void **state)
{
	version_set_t vs;
	vset_init(&vs, fault_env_get(fe), dir, &mu, &hooks);
	version_edit_t st;
	assert_int_equal(vset_recover(&vs, &st), WB_ENOTFOUND); /* no CURRENT */
	vset_destroy(&vs);

	open_fresh(&vs);
	for (int i = 0; i < 5; i++)
		assert_int_equal(add_table(&vs, i % 2 ? 2 : 0, new_table(&vs, i * 100, i * 100 + 50), NULL),
				 WB_OK);
	expect_recovers(&vs);

	/* A recovered set goes on: its next snapshot and edits recover too. */
	version_set_t r;
	vset_init(&r, fault_env_get(fe), dir, &mu, &hooks);
	assert_int_equal(vset_recover(&r, &st), WB_OK);
	edit_destroy(&st);
	pthread_mutex_lock(&mu);
	uint64_t number = vset_new_file_number(&r);
	pthread_mutex_unlock(&mu);
	assert_int_equal(vset_write_snapshot(&r, number), WB_OK);
	char path[PATH_MAX], name[32];
	snprintf(name, sizeof(name), "MANIFEST-%06llu", (unsigned long long)vs.manifest_number);
	assert_int_equal(tu_file_size(tu_path(path, dir, name)), -1); /* the old one is gone */
	assert_int_equal(add_table(&r, 0, new_table(&r, 900, 950), NULL), WB_OK);
	vset_destroy(&vs);
	expect_recovers(&r);
	vset_destroy(&r);
}

static void test_append_fails(void **state)
{
	version_set_t vs;
	open_fresh(&vs);
	assert_int_equal(add_table(&vs, 0, new_table(&vs, 0, 10), NULL), WB_OK);
	uint64_t manifest = vs.manifest_number;
	int recorded = seen.recorded;
	version_t *before = vs.current;

	err_clear();
	fault_env_fail_nth(fe, FAULT_APPEND, 1, WB_ENOSPC, FAULT_ONCE);
	bool logged = true;
	version_edit_t e;
	edit_init(&e);
	e.has_log_number = true;
	e.log_number = 99;
	file_meta_t *f = new_table(&vs, 20, 30);
	assert_int_equal(edit_add_file(&e, 0, f), WB_OK);
	file_meta_unref(f);
	installs = 0;
	const vset_apply_t how = { .arg = &vs, .installed = installed_hook };
	assert_int_equal(vset_log_and_apply(&vs, &e, &how, &logged), WB_ENOSPC);
	edit_destroy(&e);
	assert_false(logged);
	tu_expect_has("the error", err_message(), "MANIFEST-");
	tu_expect_has("the error", err_message(), "write failed");
	/* Nothing changed in memory. */
	assert_ptr_equal(vs.current, before);
	assert_int_equal(vs.current->nfiles[0], 1);
	assert_int_equal(vs.log_number, 0);
	assert_int_equal(installs, 0);
	assert_int_equal(seen.recorded, recorded);
	assert_true(vs.manifest_broken);
	expect_recovers(&vs); /* the disk agrees */

	/* The next edit starts over in a new MANIFEST, holding the tree. */
	assert_int_equal(add_table(&vs, 0, new_table(&vs, 40, 50), &logged), WB_OK);
	assert_true(logged);
	assert_false(vs.manifest_broken);
	assert_true(vs.manifest_number > manifest);
	assert_int_equal(vs.current->nfiles[0], 2);
	char path[PATH_MAX], name[32];
	snprintf(name, sizeof(name), "MANIFEST-%06llu", (unsigned long long)manifest);
	assert_int_equal(tu_file_size(tu_path(path, dir, name)), -1);
	expect_recovers(&vs);
	vset_destroy(&vs);
}

static void test_sync_fails(void **state)
{
	version_set_t vs;
	open_fresh(&vs);
	err_clear();
	fault_env_fail_nth(fe, FAULT_SYNC, 1, WB_EIO, FAULT_ONCE);
	bool logged = false;
	assert_int_equal(add_table(&vs, 0, new_table(&vs, 0, 10), &logged), WB_EIO);
	assert_true(logged); /* in the file, maybe: its table must stay */
	tu_expect_has("the error", err_message(), "sync failed");
	assert_int_equal(vs.current->nfiles[0], 0);
	assert_true(vs.manifest_broken);
	assert_int_equal(add_table(&vs, 0, new_table(&vs, 20, 30), NULL), WB_OK);
	assert_int_equal(vs.current->nfiles[0], 1);
	expect_recovers(&vs);
	vset_destroy(&vs);
}

static void test_logged_not_applied(void **state)
{
	version_set_t vs;
	open_fresh(&vs);
	file_meta_t *f = new_table(&vs, 0, 10);
	uint64_t n = f->number;
	assert_int_equal(add_table(&vs, 0, f, NULL), WB_OK);
	uint64_t manifest = vs.manifest_number;
	version_t *before = vs.current;

	/* Deletes a table at the wrong level: it encodes and logs, but does
	 * not apply. */
	err_clear();
	version_edit_t e;
	edit_init(&e);
	assert_int_equal(edit_delete_file(&e, 3, n), WB_OK);
	bool logged = false;
	assert_int_equal(vset_log_and_apply(&vs, &e, NULL, &logged), WB_ECORRUPT);
	edit_destroy(&e);
	assert_true(logged);
	tu_expect_has("the error", err_message(), "logged but not applied");
	assert_ptr_equal(vs.current, before);
	assert_true(vs.manifest_broken);
	/* The file on disk now holds an edit memory lacks: no open could
	 * use it as it is. */
	version_set_t r;
	vset_init(&r, fault_env_get(fe), dir, &mu, NULL);
	version_edit_t st;
	assert_int_equal(vset_recover(&r, &st), WB_ECORRUPT);
	vset_destroy(&r);

	/* The next edit replaces it with a snapshot of what is installed. */
	assert_int_equal(add_table(&vs, 0, new_table(&vs, 20, 30), NULL), WB_OK);
	assert_false(vs.manifest_broken);
	assert_true(vs.manifest_number > manifest);
	assert_int_equal(vs.current->nfiles[0], 2);
	expect_recovers(&vs);
	vset_destroy(&vs);
}

/* A compact pointer is the set's own copy of the key it is given; a
 * longer or a shorter key replaces it, each level has its own, and
 * vset_destroy frees them. */
static void test_compact_pointer(void **state)
{
	version_set_t vs;
	vset_init(&vs, fault_env_get(fe), dir, &mu, NULL);
	assert_null(vs.compact_pointer[1]);
	char key[300], want[300];
	memset(key, 'a', sizeof(key));
	pthread_mutex_lock(&mu);
	vset_set_compact_pointer(&vs, 1, slice_make(key, 20));
	key[0] = 'z';
	assert_int_equal(vs.compact_pointer_len[1], 20);
	memset(want, 'a', sizeof(want));
	assert_memory_equal(vs.compact_pointer[1], want, 20);
	const size_t lens[] = { sizeof(key), 9 };
	for (int i = 0; i < 2; i++) {
		memset(key, 'b' + i, sizeof(key));
		vset_set_compact_pointer(&vs, 1, slice_make(key, lens[i]));
		assert_int_equal(vs.compact_pointer_len[1], lens[i]);
		assert_memory_equal(vs.compact_pointer[1], key, lens[i]);
	}
	vset_set_compact_pointer(&vs, 2, slice_make("other", 5));
	assert_int_equal(vs.compact_pointer_len[2], 5);
	assert_memory_equal(vs.compact_pointer[2], "other", 5);
	assert_int_equal(vs.compact_pointer_len[1], 9);
	assert_null(vs.compact_pointer[0]);
	pthread_mutex_unlock(&mu);
	vset_destroy(&vs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_log_and_apply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_logged_not_applied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_pointer, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
