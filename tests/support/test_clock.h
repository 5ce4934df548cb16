/*
 * test_clock.h -- a clock for wb_env (wombat.h) that only the test moves:
 * time stands still until test_clock_advance(), so a test that waits for
 * a background thread's interval or retry pause advances the clock past
 * it instead of sleeping and hoping the thread ran.
 *
 * It has both clocks of the env: a monotonic one, starting at 1 s, and a
 * wall clock, starting at the real one's reading when the clock is made.
 * test_clock_advance() moves both; test_clock_set_wall() steps the wall
 * clock alone (back, for the commit timestamps' "wall clock stepped back"
 * path). An env's sleep on it returns once the test has advanced past its
 * end; a deadline wait on a condition variable returns when the variable
 * is signalled as usual, or once the test has advanced past the deadline.
 * So a thread that sleeps on it stays asleep until the test advances:
 * with a test clock, a test either avoids the engine's sleeps (write
 * slowdowns, rate limits, transaction retry pauses) or advances the clock
 * while they may happen.
 *
 * Threads: any function and any env call, from any thread; one mutex
 * guards the state, and a wait on the engine's condition variable never
 * holds it. test_clock_advance takes, one at a time, the mutex of each
 * deadline wait it ends (the database's own), so no wakeup is lost; it
 * must not be called holding one (from inside an env call, say).
 */
#ifndef WB_TEST_CLOCK_H
#define WB_TEST_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "wombat.h"

typedef struct test_clock test_clock_t;

/* A new clock at monotonic 1 s and the real wall clock's now. Aborts when
 * memory runs out. */
test_clock_t *test_clock_new(void);

/* Frees tc. REQUIRES: nothing uses it any more (close the database
 * first). NULL is fine. */
void test_clock_free(test_clock_t *tc);

/* Makes env's clock tc: sets its clock fields, leaves the rest. */
void test_clock_install(test_clock_t *tc, wb_env *env);

/* A copy of base (NULL: wb_env_default()) with tc as its clock: for
 * wb_options.env (keep it alive as long as the database), or as the base
 * of a fault env. */
wb_env test_clock_env(test_clock_t *tc, const wb_env *base);

/* The monotonic and wall clocks, in microseconds. */
uint64_t test_clock_now(test_clock_t *tc);
uint64_t test_clock_wall(test_clock_t *tc);

/* Moves both clocks forward by us and wakes every sleep and deadline wait
 * whose end it reached. */
void test_clock_advance(test_clock_t *tc, uint64_t us);

/* Sets the wall clock to wall_us (microseconds since the epoch), back or
 * forward; the monotonic clock, and so every sleep and wait, is left. */
void test_clock_set_wall(test_clock_t *tc, uint64_t wall_us);

/* Threads sleeping or waiting with a deadline on tc now. */
int test_clock_waiters(test_clock_t *tc);

/* Waits, up to real_ms of real time, until at least n threads sleep or
 * wait on tc that have seen its latest time: since the last advance each
 * of them either began its wait or was found not yet due. That is: the
 * threads the advance woke have done their work and wait again. False on
 * timeout. */
bool test_clock_wait_idle(test_clock_t *tc, int n, unsigned real_ms);

/* Until done(arg) is true, and at most max_steps times: advances tc by
 * step_us and waits for n threads to be idle again (as
 * test_clock_wait_idle, up to 30 s real each). Returns done(arg) at the
 * end. For "a background thread does this within some of its intervals". */
bool test_clock_step_until(test_clock_t *tc, uint64_t step_us, int n, bool (*done)(void *arg),
			   void *arg, int max_steps);

#endif /* WB_TEST_CLOCK_H */
