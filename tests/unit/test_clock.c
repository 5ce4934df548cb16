/*
 * test_clock.c -- time through the env (util/clock.c): the system's clock
 * the default env has, and the test clock (tests/support/test_clock.c)
 * that the other tests drive time with.
 *
 * The test-clock tests run one helper thread that sleeps or waits on the
 * clock while the main thread advances it; each wait for the helper has a
 * generous real bound, so a slow machine makes them slower, not wrong.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_clock.h"
#include "util/clock.h"
#include "wombat.h"

/* The system's clock: monotonic, sleeps at least as asked, a deadline wait
 * ends at its deadline; a NULL env or NULL fields mean the same clock. */
static void test_system_clock(void **state)
{
	const wb_env *env = wb_env_default();
	assert_non_null(env->now_nanos);
	assert_non_null(env->wall_nanos);
	assert_non_null(env->sleep_nanos);
	assert_non_null(env->cond_wait_until);
	wb_env bare = { 0 };

	uint64_t t0 = clock_now_micros(env);
	clock_sleep_micros(env, 2000);
	uint64_t t1 = clock_now_micros(NULL);
	assert_true(t1 - t0 >= 2000);
	clock_sleep_micros(&bare, 1000);
	assert_true(clock_now_micros(&bare) - t1 >= 1000);
	assert_true(clock_now_nanos(env) / 1000 >= t1);
	/* The wall clock is a date: after 2020-01-01. */
	assert_true(clock_wall_micros(env) > 1577836800ull * 1000000);
	assert_true(clock_wall_micros(&bare) > 1577836800ull * 1000000);

	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	pthread_mutex_lock(&mu);
	uint64_t deadline = clock_now_micros(env) + 5000;
	while (clock_now_micros(env) < deadline)
		clock_cond_wait_until(env, &cv, &mu, deadline);
	pthread_mutex_unlock(&mu);
	assert_true(clock_now_micros(env) >= deadline);
}

struct sleeper {
	wb_env env;
	uint64_t us;
	atomic_bool done;
	/* For the deadline wait: */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool signalled; /* (mu) */
};

static void *sleep_main(void *arg)
{
	struct sleeper *s = arg;
	clock_sleep_micros(&s->env, s->us);
	atomic_store(&s->done, true);
	return NULL;
}

/* Returns after the test advanced past the deadline, or once signalled. */
static void *wait_main(void *arg)
{
	struct sleeper *s = arg;
	pthread_mutex_lock(&s->mu);
	uint64_t deadline = clock_now_micros(&s->env) + s->us;
	while (!s->signalled && clock_now_micros(&s->env) < deadline)
		clock_cond_wait_until(&s->env, &s->cv, &s->mu, deadline);
	pthread_mutex_unlock(&s->mu);
	atomic_store(&s->done, true);
	return NULL;
}

static void start(struct sleeper *s, test_clock_t *tc, uint64_t us, void *(*fn)(void *), pthread_t *th)
{
	s->env = test_clock_env(tc, NULL);
	s->us = us;
	atomic_init(&s->done, false);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->signalled = false;
	assert_int_equal(pthread_create(th, NULL, fn, s), 0);
}

static void finish(struct sleeper *s, pthread_t th)
{
	assert_int_equal(pthread_join(th, NULL), 0);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

/* Time stands still until the test moves it; both clocks move together,
 * and the wall clock can be stepped alone. */
static void test_manual_time(void **state)
{
	test_clock_t *tc = test_clock_new();
	wb_env env = test_clock_env(tc, NULL);
	uint64_t now = clock_now_micros(&env), wall = clock_wall_micros(&env);
	assert_int_equal(now, 1000000);
	assert_int_equal(now, test_clock_now(tc));
	assert_int_equal(wall, test_clock_wall(tc));
	assert_int_equal(clock_now_micros(&env), now);
	test_clock_advance(tc, 1500);
	assert_int_equal(clock_now_micros(&env), now + 1500);
	assert_int_equal(clock_now_nanos(&env), (now + 1500) * 1000);
	assert_int_equal(clock_wall_micros(&env), wall + 1500);
	test_clock_set_wall(tc, wall - 3600000000ull);
	assert_int_equal(clock_wall_micros(&env), wall - 3600000000ull);
	assert_int_equal(clock_now_micros(&env), now + 1500); /* the monotonic one stays */
	test_clock_free(tc);
}

/* A sleep returns once the test has advanced past its end, not before. */
static void test_sleep_wakes_on_advance(void **state)
{
	test_clock_t *tc = test_clock_new();
	struct sleeper s;
	pthread_t th;
	start(&s, tc, 100000, sleep_main, &th);
	assert_true(test_clock_wait_idle(tc, 1, 10000));
	assert_int_equal(test_clock_waiters(tc), 1);
	test_clock_advance(tc, 60000);
	assert_true(test_clock_wait_idle(tc, 1, 10000)); /* not due: still asleep */
	assert_false(atomic_load(&s.done));
	test_clock_advance(tc, 40000);
	finish(&s, th);
	assert_true(atomic_load(&s.done));
	assert_int_equal(test_clock_waiters(tc), 0);
	test_clock_free(tc);
}

/* A deadline wait returns when the test advances past the deadline, and
 * still when its variable is signalled before. */
static void test_cond_wait(void **state)
{
	test_clock_t *tc = test_clock_new();
	struct sleeper s;
	pthread_t th;
	start(&s, tc, 50000, wait_main, &th);
	assert_true(test_clock_wait_idle(tc, 1, 10000));
	test_clock_advance(tc, 49999);
	assert_true(test_clock_wait_idle(tc, 1, 10000));
	assert_false(atomic_load(&s.done));
	test_clock_advance(tc, 1);
	finish(&s, th);
	assert_true(atomic_load(&s.done));

	start(&s, tc, 3600000000ull, wait_main, &th);
	assert_true(test_clock_wait_idle(tc, 1, 10000));
	pthread_mutex_lock(&s.mu);
	s.signalled = true;
	pthread_cond_signal(&s.cv);
	pthread_mutex_unlock(&s.mu);
	finish(&s, th);
	assert_true(atomic_load(&s.done));
	assert_int_equal(test_clock_waiters(tc), 0);
	test_clock_free(tc);
}

/* Nobody waits: test_clock_wait_idle gives up at its real bound. */
static void test_wait_idle_times_out(void **state)
{
	test_clock_t *tc = test_clock_new();
	assert_false(test_clock_wait_idle(tc, 1, 50));
	assert_true(test_clock_wait_idle(tc, 0, 50));
	test_clock_free(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_system_clock),
		cmocka_unit_test(test_manual_time),
		cmocka_unit_test(test_sleep_wakes_on_advance),
		cmocka_unit_test(test_cond_wait),
		cmocka_unit_test(test_wait_idle_times_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
