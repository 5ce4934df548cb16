/*
 * test_clock.c -- a clock the test moves by hand (test_clock.h).
 *
 * Every thread in a sleep or a deadline wait is on the list `waiters`,
 * with its deadline and the epoch (count of advances) it last saw. A
 * sleeper waits on the clock's own condition variable, which an advance
 * broadcasts under the clock's mutex. A deadline waiter waits on the
 * caller's variable under the caller's mutex, which it holds from its
 * look at the clock until the wait releases it; so an advance broadcasts
 * that variable holding that mutex, and no wakeup is lost. The advance
 * takes it without the clock's mutex (waiters take the two the other
 * way round) and pins the waiter meanwhile: a pinned waiter does not
 * return, so its variable and mutex stay valid.
 */
#include "test_clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct waiter {
	uint64_t deadline;   /* nanoseconds of the monotonic clock */
	uint64_t epoch;      /* the advance it last saw */
	pthread_cond_t *cv;  /* the caller's (deadline waits); NULL for a sleep */
	pthread_mutex_t *mu; /* and its mutex */
	int pins;            /* advances about to broadcast cv: it must not return */
	struct waiter *prev, *next;
};

struct test_clock {
	pthread_mutex_t mu;
	pthread_cond_t tick_cv; /* an advance: sleepers look again */
	pthread_cond_t idle_cv; /* a waiter saw the latest time: test_clock_wait_idle looks again */
	pthread_cond_t unpin_cv; /* an advance let go of its pinned waiters */
	uint64_t now, wall;      /* nanoseconds (mu) */
	uint64_t epoch;          /* advances so far (mu) */
	struct waiter waiters;   /* sentinel of a circular list (mu) */
};

static void fatal(const char *what)
{
	fprintf(stderr, "test_clock: %s\n", what);
	abort();
}

static struct timespec real_deadline(unsigned ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	uint64_t ns = (uint64_t)t.tv_nsec + (uint64_t)ms * 1000000;
	t.tv_sec += (time_t)(ns / 1000000000);
	t.tv_nsec = (long)(ns % 1000000000);
	return t;
}

/* REQUIRES: tc->mu. */
static void enlist(test_clock_t *tc, struct waiter *w)
{
	w->epoch = tc->epoch;
	w->next = &tc->waiters;
	w->prev = tc->waiters.prev;
	w->prev->next = w;
	tc->waiters.prev = w;
	pthread_cond_broadcast(&tc->idle_cv);
}

/* REQUIRES: tc->mu. */
static void delist(struct waiter *w)
{
	w->prev->next = w->next;
	w->next->prev = w->prev;
}

static uint64_t tc_now_nanos(void *ctx)
{
	test_clock_t *tc = ctx;
	pthread_mutex_lock(&tc->mu);
	uint64_t now = tc->now;
	pthread_mutex_unlock(&tc->mu);
	return now;
}

static uint64_t tc_wall_nanos(void *ctx)
{
	test_clock_t *tc = ctx;
	pthread_mutex_lock(&tc->mu);
	uint64_t wall = tc->wall;
	pthread_mutex_unlock(&tc->mu);
	return wall;
}

static void tc_sleep_nanos(void *ctx, uint64_t ns)
{
	test_clock_t *tc = ctx;
	struct waiter w = { .cv = NULL };
	pthread_mutex_lock(&tc->mu);
	w.deadline = tc->now + ns;
	enlist(tc, &w);
	while (tc->now < w.deadline)
		pthread_cond_wait(&tc->tick_cv, &tc->mu);
	delist(&w);
	pthread_mutex_unlock(&tc->mu);
}

/* REQUIRES: mu (the caller's), as pthread_cond_timedwait. */
static void tc_cond_wait_until(void *ctx, pthread_cond_t *cv, pthread_mutex_t *mu,
			       uint64_t deadline)
{
	test_clock_t *tc = ctx;
	struct waiter w = { .deadline = deadline, .cv = cv, .mu = mu };
	pthread_mutex_lock(&tc->mu);
	if (tc->now >= deadline) {
		pthread_mutex_unlock(&tc->mu);
		return;
	}
	enlist(tc, &w);
	pthread_mutex_unlock(&tc->mu);
	/* Signalled by the engine or by an advance that reached the deadline
	 * (or a spurious wakeup, which the contract allows). */
	pthread_cond_wait(cv, mu);
	pthread_mutex_lock(&tc->mu);
	while (w.pins > 0) { /* the advance needs mu to finish */
		pthread_mutex_unlock(mu);
		pthread_cond_wait(&tc->unpin_cv, &tc->mu);
		pthread_mutex_unlock(&tc->mu);
		pthread_mutex_lock(mu);
		pthread_mutex_lock(&tc->mu);
	}
	delist(&w);
	pthread_mutex_unlock(&tc->mu);
}

test_clock_t *test_clock_new(void)
{
	test_clock_t *tc = calloc(1, sizeof(*tc));
	if (tc == NULL)
		fatal("out of memory");
	pthread_mutex_init(&tc->mu, NULL);
	pthread_cond_init(&tc->tick_cv, NULL);
	pthread_cond_init(&tc->idle_cv, NULL);
	pthread_cond_init(&tc->unpin_cv, NULL);
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	tc->now = 1000000000;
	tc->wall = (uint64_t)t.tv_sec * 1000000000 + (uint64_t)t.tv_nsec;
	tc->waiters.next = tc->waiters.prev = &tc->waiters;
	return tc;
}

void test_clock_free(test_clock_t *tc)
{
	if (tc == NULL)
		return;
	if (tc->waiters.next != &tc->waiters)
		fatal("freed while a thread waits on it");
	pthread_cond_destroy(&tc->unpin_cv);
	pthread_cond_destroy(&tc->idle_cv);
	pthread_cond_destroy(&tc->tick_cv);
	pthread_mutex_destroy(&tc->mu);
	free(tc);
}

void test_clock_install(test_clock_t *tc, wb_env *env)
{
	env->clock_ctx = tc;
	env->now_nanos = tc_now_nanos;
	env->wall_nanos = tc_wall_nanos;
	env->sleep_nanos = tc_sleep_nanos;
	env->cond_wait_until = tc_cond_wait_until;
}

wb_env test_clock_env(test_clock_t *tc, const wb_env *base)
{
	wb_env env = *(base != NULL ? base : wb_env_default());
	test_clock_install(tc, &env);
	return env;
}

uint64_t test_clock_now(test_clock_t *tc)
{
	return tc_now_nanos(tc) / 1000;
}

uint64_t test_clock_wall(test_clock_t *tc)
{
	return tc_wall_nanos(tc) / 1000;
}

void test_clock_advance(test_clock_t *tc, uint64_t us)
{
	pthread_mutex_lock(&tc->mu);
	tc->now += us * 1000;
	tc->wall += us * 1000;
	tc->epoch++;
	int n = 0;
	for (struct waiter *w = tc->waiters.next; w != &tc->waiters; w = w->next)
		n++;
	struct waiter **due = malloc(((size_t)n + 1) * sizeof(*due));
	if (due == NULL)
		fatal("out of memory");
	n = 0;
	for (struct waiter *w = tc->waiters.next; w != &tc->waiters; w = w->next) {
		if (w->deadline > tc->now) {
			w->epoch = tc->epoch; /* nothing to do yet: idle at the new time */
		} else if (w->cv != NULL) {
			w->pins++;
			due[n++] = w;
		}
	}
	pthread_cond_broadcast(&tc->tick_cv);
	pthread_cond_broadcast(&tc->idle_cv);
	pthread_mutex_unlock(&tc->mu);
	/* Each deadline waiter is woken under its own mutex, with the clock's
	 * released (waiters take the caller's mutex first). */
	for (int i = 0; i < n; i++) {
		pthread_mutex_lock(due[i]->mu);
		pthread_cond_broadcast(due[i]->cv);
		pthread_mutex_unlock(due[i]->mu);
	}
	pthread_mutex_lock(&tc->mu);
	for (int i = 0; i < n; i++)
		due[i]->pins--;
	pthread_cond_broadcast(&tc->unpin_cv);
	pthread_mutex_unlock(&tc->mu);
	free(due);
}

void test_clock_set_wall(test_clock_t *tc, uint64_t wall_us)
{
	pthread_mutex_lock(&tc->mu);
	tc->wall = wall_us * 1000;
	pthread_mutex_unlock(&tc->mu);
}

/* REQUIRES: tc->mu. */
static int count(test_clock_t *tc, bool idle_only)
{
	int n = 0;
	for (struct waiter *w = tc->waiters.next; w != &tc->waiters; w = w->next)
		if (!idle_only || (w->epoch == tc->epoch && w->deadline > tc->now))
			n++;
	return n;
}

int test_clock_waiters(test_clock_t *tc)
{
	pthread_mutex_lock(&tc->mu);
	int n = count(tc, false);
	pthread_mutex_unlock(&tc->mu);
	return n;
}

bool test_clock_wait_idle(test_clock_t *tc, int n, unsigned real_ms)
{
	struct timespec t = real_deadline(real_ms);
	bool idle;
	pthread_mutex_lock(&tc->mu);
	while (!(idle = count(tc, true) >= n))
		if (pthread_cond_clockwait(&tc->idle_cv, &tc->mu, CLOCK_MONOTONIC, &t) == ETIMEDOUT)
			break;
	if (!idle)
		idle = count(tc, true) >= n;
	pthread_mutex_unlock(&tc->mu);
	return idle;
}

bool test_clock_step_until(test_clock_t *tc, uint64_t step_us, int n, bool (*done)(void *arg),
			   void *arg, int max_steps)
{
	for (int i = 0; i < max_steps && !done(arg); i++) {
		test_clock_advance(tc, step_us);
		if (!test_clock_wait_idle(tc, n, 30000))
			return done(arg);
	}
	return done(arg);
}
