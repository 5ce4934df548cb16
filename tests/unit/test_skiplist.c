/*
 * test_skiplist.c -- unit tests for skiplist.c: order, every kind of seek
 * and step at the boundaries, equal entries newest first, and one writer
 * inserting while readers iterate and seek without locks.
 *
 * An entry is 16 bytes in the list's arena: an 8-byte big-endian key, which
 * is all the comparator looks at, then 8 bytes of payload (an insertion
 * sequence number, or the key's complement so a reader can tell a whole
 * entry from a torn one). Random keys come from fixed seeds.
 *
 * The concurrent test's reader threads must not call cmocka's assertions
 * (they long-jump into the main thread's stack); they record the first
 * problem they see and the main thread asserts on it after joining.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>

#include "util/arena.h"
#include "util/coding.h"
#include "db/skiplist.h"

#define ENTRY_LEN 16

static int cmp_key(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 8);
}

static uint64_t key_of(const uint8_t *e)
{
	return get_be64(e);
}

static uint64_t payload_of(const uint8_t *e)
{
	return get_be64(e + 8);
}

static uint8_t *make_entry(skiplist_t *list, uint64_t key, uint64_t payload)
{
	uint8_t *e = skiplist_alloc(list, ENTRY_LEN);
	if (e == NULL)
		return NULL;
	put_be64(e, key);
	put_be64(e + 8, payload);
	return e;
}

/* A search target; only the key half is compared. */
static const uint8_t *target(uint8_t buf[ENTRY_LEN], uint64_t key)
{
	put_be64(buf, key);
	put_be64(buf + 8, 0);
	return buf;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct fixture {
	arena_t *arena;
	skiplist_t *list;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	f->arena = arena_new(0);
	f->list = f->arena ? skiplist_new(f->arena, cmp_key, NULL) : NULL;
	if (f->list == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	arena_free(f->arena);
	free(f);
	return 0;
}

static void test_empty(void **state)
{
	struct fixture *f = *state;
	skiplist_iter_t it;
	uint8_t t[ENTRY_LEN];

	assert_int_equal(skiplist_count(f->list), 0);
	skiplist_iter_init(&it, f->list);
	assert_false(skiplist_iter_valid(&it));
	skiplist_iter_seek_first(&it);
	assert_false(skiplist_iter_valid(&it));
	skiplist_iter_seek_last(&it);
	assert_false(skiplist_iter_valid(&it));
	skiplist_iter_seek(&it, target(t, 42));
	assert_false(skiplist_iter_valid(&it));
	skiplist_iter_seek_for_prev(&it, target(t, 42));
	assert_false(skiplist_iter_valid(&it));
}

/* Keys 2, 4, ..., 2N inserted in random order: odd keys are gaps. */
static void test_order_and_seeks(void **state)
{
	enum { N = 20000 };
	struct fixture *f = *state;
	uint64_t *keys = malloc(N * sizeof(*keys));
	assert_non_null(keys);
	uint64_t seed = 0xC0FFEE;
	for (uint64_t i = 0; i < N; i++)
		keys[i] = 2 * (i + 1);
	for (size_t i = N - 1; i > 0; i--) {
		size_t j = rnd(&seed) % (i + 1);
		uint64_t tmp = keys[i];
		keys[i] = keys[j];
		keys[j] = tmp;
	}
	for (size_t i = 0; i < N; i++) {
		uint8_t *e = make_entry(f->list, keys[i], ~keys[i]);
		assert_non_null(e);
		skiplist_insert(f->list, e);
	}
	assert_int_equal(skiplist_count(f->list), N);

	skiplist_iter_t it;
	uint8_t t[ENTRY_LEN];
	skiplist_iter_init(&it, f->list);

	/* Forward: exactly 2, 4, ..., 2N. */
	uint64_t want = 2;
	for (skiplist_iter_seek_first(&it); skiplist_iter_valid(&it); skiplist_iter_next(&it)) {
		assert_int_equal(key_of(skiplist_iter_entry(&it)), want);
		assert_int_equal(payload_of(skiplist_iter_entry(&it)), ~want);
		want += 2;
	}
	assert_int_equal(want, 2 * N + 2);

	/* Backward: exactly 2N, ..., 2. */
	want = 2 * N;
	for (skiplist_iter_seek_last(&it); skiplist_iter_valid(&it); skiplist_iter_prev(&it)) {
		assert_int_equal(key_of(skiplist_iter_entry(&it)), want);
		want -= 2;
	}
	assert_int_equal(want, 0);

	/* Seeks on present keys and on the gaps around them. */
	for (uint64_t k = 2; k <= 2 * N; k += 2) {
		skiplist_iter_seek(&it, target(t, k));
		assert_true(skiplist_iter_valid(&it));
		assert_int_equal(key_of(skiplist_iter_entry(&it)), k);
		skiplist_iter_seek(&it, target(t, k - 1));
		assert_int_equal(key_of(skiplist_iter_entry(&it)), k);
		skiplist_iter_seek_for_prev(&it, target(t, k));
		assert_int_equal(key_of(skiplist_iter_entry(&it)), k);
		skiplist_iter_seek_for_prev(&it, target(t, k + 1));
		assert_int_equal(key_of(skiplist_iter_entry(&it)), k);
	}

	/* Boundaries. */
	skiplist_iter_seek(&it, target(t, 0));
	assert_int_equal(key_of(skiplist_iter_entry(&it)), 2);
	skiplist_iter_seek(&it, target(t, 2 * N + 1));
	assert_false(skiplist_iter_valid(&it));
	skiplist_iter_seek(&it, target(t, UINT64_MAX));
	assert_false(skiplist_iter_valid(&it));
	skiplist_iter_seek_for_prev(&it, target(t, 1));
	assert_false(skiplist_iter_valid(&it));
	skiplist_iter_seek_for_prev(&it, target(t, 0));
	assert_false(skiplist_iter_valid(&it));
	skiplist_iter_seek_for_prev(&it, target(t, UINT64_MAX));
	assert_int_equal(key_of(skiplist_iter_entry(&it)), 2 * N);

	skiplist_iter_seek_first(&it);
	skiplist_iter_prev(&it);
	assert_false(skiplist_iter_valid(&it));
	skiplist_iter_seek_last(&it);
	assert_int_equal(key_of(skiplist_iter_entry(&it)), 2 * N);
	skiplist_iter_next(&it);
	assert_false(skiplist_iter_valid(&it));

	/* prev and next undo each other anywhere in the middle. */
	for (int i = 0; i < 1000; i++) {
		uint64_t k = 2 * (2 + rnd(&seed) % (N - 2));
		skiplist_iter_seek(&it, target(t, k));
		skiplist_iter_prev(&it);
		assert_int_equal(key_of(skiplist_iter_entry(&it)), k - 2);
		skiplist_iter_next(&it);
		assert_int_equal(key_of(skiplist_iter_entry(&it)), k);
	}
	free(keys);
}

/* Keys 10, 20, 30, each inserted several times, interleaved; the payload
 * is the insertion number. */
static void test_duplicates_newest_first(void **state)
{
	enum { ROUNDS = 50 };
	struct fixture *f = *state;
	const uint64_t keys[] = { 20, 10, 30 };
	uint64_t seq = 0;
	for (int r = 0; r < ROUNDS; r++)
		for (size_t i = 0; i < 3; i++) {
			uint8_t *e = make_entry(f->list, keys[i], seq++);
			assert_non_null(e);
			skiplist_insert(f->list, e);
		}
	assert_int_equal(skiplist_count(f->list), 3 * ROUNDS);

	skiplist_iter_t it;
	uint8_t t[ENTRY_LEN];
	skiplist_iter_init(&it, f->list);

	/* Forward: each key's versions newest (highest seq) first. */
	const uint8_t *order[3 * ROUNDS];
	size_t n = 0;
	for (skiplist_iter_seek_first(&it); skiplist_iter_valid(&it); skiplist_iter_next(&it)) {
		const uint8_t *e = skiplist_iter_entry(&it);
		if (n > 0 && key_of(order[n - 1]) == key_of(e))
			assert_true(payload_of(order[n - 1]) > payload_of(e));
		else if (n > 0)
			assert_true(key_of(order[n - 1]) < key_of(e));
		assert_true(n < 3 * ROUNDS);
		order[n++] = e;
	}
	assert_int_equal(n, 3 * ROUNDS);

	/* seek lands on the newest version, seek_for_prev on the oldest. */
	for (size_t i = 0; i < 3; i++) {
		skiplist_iter_seek(&it, target(t, keys[i]));
		assert_int_equal(key_of(skiplist_iter_entry(&it)), keys[i]);
		assert_int_equal(payload_of(skiplist_iter_entry(&it)), 3 * (ROUNDS - 1) + i);
		skiplist_iter_seek_for_prev(&it, target(t, keys[i]));
		assert_int_equal(key_of(skiplist_iter_entry(&it)), keys[i]);
		assert_int_equal(payload_of(skiplist_iter_entry(&it)), i);
	}

	/* prev visits every entry, including each one inside a run of equal
	 * entries, in exactly the reverse of the forward order. */
	skiplist_iter_seek_last(&it);
	for (size_t i = n; i-- > 0;) {
		assert_true(skiplist_iter_valid(&it));
		assert_ptr_equal(skiplist_iter_entry(&it), order[i]);
		skiplist_iter_prev(&it);
	}
	assert_false(skiplist_iter_valid(&it));
}

/* ---- one writer, concurrent readers ---- */

enum { CONC_ENTRIES = 200000, CONC_READERS = 2 };

struct shared {
	skiplist_t *list;
	arena_t *arena;
	atomic_int readers_ready; /* the writer starts once all readers run */
	atomic_bool writer_done;
	atomic_int failed;
	char why[256]; /* written once, by whoever sets failed first */
	int writer_rc;
};

struct reader {
	struct shared *sh;
	uint64_t seed;
	uint64_t scans; /* full forward passes */
	uint64_t seeks;
};

static void report(struct shared *sh, const char *fmt, ...)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&sh->failed, &expected, 1))
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
	va_end(ap);
}

static bool well_formed(struct shared *sh, const uint8_t *e)
{
	if (payload_of(e) == ~key_of(e))
		return true;
	report(sh, "torn entry: key %016llx payload %016llx", (unsigned long long)key_of(e),
	       (unsigned long long)payload_of(e));
	return false;
}

static void *writer_main(void *arg)
{
	struct shared *sh = arg;
	uint64_t seed = 0xDEADBEEFCAFEull;
	while (atomic_load(&sh->readers_ready) < CONC_READERS)
		sched_yield();
	for (int i = 0; i < CONC_ENTRIES; i++) {
		uint64_t k = rnd(&seed);
		uint8_t *e = make_entry(sh->list, k, ~k);
		if (e == NULL) {
			sh->writer_rc = -1;
			break;
		}
		skiplist_insert(sh->list, e);
	}
	atomic_store(&sh->writer_done, true);
	return NULL;
}

/* One full forward pass: every entry whole, keys never decreasing. */
static void scan_forward(struct shared *sh)
{
	skiplist_iter_t it;
	skiplist_iter_init(&it, sh->list);
	uint64_t last = 0;
	uint64_t seen = 0;
	for (skiplist_iter_seek_first(&it); skiplist_iter_valid(&it); skiplist_iter_next(&it)) {
		const uint8_t *e = skiplist_iter_entry(&it);
		if (!well_formed(sh, e))
			return;
		if (seen > 0 && key_of(e) < last) {
			report(sh, "forward scan out of order: %016llx after %016llx",
			       (unsigned long long)key_of(e), (unsigned long long)last);
			return;
		}
		last = key_of(e);
		seen++;
	}
	if (seen > CONC_ENTRIES)
		report(sh, "scan saw %llu entries, more than were inserted",
		       (unsigned long long)seen);
}

/* Seeks to a random key and checks what every kind of positioning and a
 * few steps either way return. */
static void probe(struct shared *sh, uint64_t *seed)
{
	skiplist_iter_t it;
	uint8_t t[ENTRY_LEN];
	uint64_t k = rnd(seed);
	skiplist_iter_init(&it, sh->list);

	skiplist_iter_seek(&it, target(t, k));
	if (skiplist_iter_valid(&it)) {
		const uint8_t *e = skiplist_iter_entry(&it);
		if (!well_formed(sh, e))
			return;
		if (key_of(e) < k) {
			report(sh, "seek(%016llx) gave smaller %016llx", (unsigned long long)k,
			       (unsigned long long)key_of(e));
			return;
		}
		uint64_t prev_key = key_of(e);
		for (int i = 0; i < 8 && skiplist_iter_valid(&it); i++, skiplist_iter_next(&it)) {
			e = skiplist_iter_entry(&it);
			if (!well_formed(sh, e))
				return;
			if (key_of(e) < prev_key) {
				report(sh, "next went backwards after seek");
				return;
			}
			prev_key = key_of(e);
		}
	}

	skiplist_iter_seek_for_prev(&it, target(t, k));
	if (skiplist_iter_valid(&it)) {
		const uint8_t *e = skiplist_iter_entry(&it);
		if (!well_formed(sh, e))
			return;
		if (key_of(e) > k) {
			report(sh, "seek_for_prev(%016llx) gave larger %016llx",
			       (unsigned long long)k, (unsigned long long)key_of(e));
			return;
		}
		uint64_t next_key = key_of(e);
		for (int i = 0; i < 8 && skiplist_iter_valid(&it); i++, skiplist_iter_prev(&it)) {
			e = skiplist_iter_entry(&it);
			if (!well_formed(sh, e))
				return;
			if (key_of(e) > next_key) {
				report(sh, "prev went forwards after seek_for_prev");
				return;
			}
			next_key = key_of(e);
		}
	}

	skiplist_iter_seek_last(&it);
	if (skiplist_iter_valid(&it))
		well_formed(sh, skiplist_iter_entry(&it));
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	struct shared *sh = r->sh;
	atomic_fetch_add(&sh->readers_ready, 1);
	do {
		scan_forward(sh);
		r->scans++;
		for (int i = 0; i < 200; i++) {
			probe(sh, &r->seed);
			r->seeks++;
		}
	} while (!atomic_load(&sh->writer_done) && !atomic_load(&sh->failed));
	return NULL;
}

/* One writer inserts CONC_ENTRIES random keys while CONC_READERS threads
 * scan, seek and step, checking every entry they see and the order. */
static void test_concurrent(void **state)
{
	struct fixture *f = *state;
	struct shared sh = { .list = f->list, .arena = f->arena };
	struct reader readers[CONC_READERS];
	pthread_t writer, rthreads[CONC_READERS];

	for (int i = 0; i < CONC_READERS; i++) {
		readers[i] = (struct reader){ .sh = &sh, .seed = 0x1234u + 77u * (uint64_t)i };
		assert_int_equal(pthread_create(&rthreads[i], NULL, reader_main, &readers[i]), 0);
	}
	assert_int_equal(pthread_create(&writer, NULL, writer_main, &sh), 0);
	pthread_join(writer, NULL);
	for (int i = 0; i < CONC_READERS; i++)
		pthread_join(rthreads[i], NULL);

	if (atomic_load(&sh.failed))
		fail_msg("reader: %s", sh.why);
	assert_int_equal(sh.writer_rc, 0);
	for (int i = 0; i < CONC_READERS; i++) {
		print_message("reader %d: %llu full scans, %llu seeks\n", i,
			      (unsigned long long)readers[i].scans,
			      (unsigned long long)readers[i].seeks);
		assert_true(readers[i].scans > 0);
	}

	/* Quiescent now: everything is there, in order. */
	assert_int_equal(skiplist_count(f->list), CONC_ENTRIES);
	skiplist_iter_t it;
	skiplist_iter_init(&it, f->list);
	uint64_t n = 0, last = 0;
	for (skiplist_iter_seek_first(&it); skiplist_iter_valid(&it); skiplist_iter_next(&it)) {
		const uint8_t *e = skiplist_iter_entry(&it);
		assert_int_equal(payload_of(e), ~key_of(e));
		assert_true(n == 0 || key_of(e) >= last);
		last = key_of(e);
		n++;
	}
	assert_int_equal(n, CONC_ENTRIES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_and_seeks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_newest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
