/*
 * clock.h -- the one way the engine reads time, sleeps and waits with a
 * deadline: through the clock of a wb_env (wombat.h), so a test can drive
 * time by hand (tests/support/test_clock.h).
 *
 * Two clocks: the monotonic one (clock_now_*) times the engine's work
 * (intervals, retry pauses, statistics' durations) and never goes back;
 * the wall clock (clock_wall_micros) is only for what must mean a date:
 * commit timestamps (hlc.h), the retention window, the LOG's lines. It
 * may step either way.
 *
 * env may be NULL, and any of its clock functions may be: the system's
 * clock then (CLOCK_MONOTONIC, CLOCK_REALTIME, nanosleep). Any thread;
 * none of these can fail.
 */
#ifndef WB_CLOCK_H
#define WB_CLOCK_H

#include <pthread.h>
#include <stdint.h>

#include "wombat.h"

/* Monotonic microseconds and nanoseconds since an arbitrary start. */
uint64_t clock_now_micros(const wb_env *env);
uint64_t clock_now_nanos(const wb_env *env);

/* Microseconds since the Unix epoch. */
uint64_t clock_wall_micros(const wb_env *env);

/* Returns after at least us microseconds of the monotonic clock. */
void clock_sleep_micros(const wb_env *env, uint64_t us);

/* Waits on cv until it is signalled or clock_now_micros(env) reaches
 * deadline (microseconds), then returns with mu locked again; may return
 * early, so the caller checks its condition again. The one place a
 * deadline becomes a timespec. REQUIRES: mu is locked by the caller. */
void clock_cond_wait_until(const wb_env *env, pthread_cond_t *cv, pthread_mutex_t *mu,
			   uint64_t deadline);

/* The system's clock, for envs that keep it (env_posix.c) or wrap it. */
uint64_t clock_system_now_nanos(void *clock_ctx);
uint64_t clock_system_wall_nanos(void *clock_ctx);
void clock_system_sleep_nanos(void *clock_ctx, uint64_t ns);
void clock_system_cond_wait_until(void *clock_ctx, pthread_cond_t *cv, pthread_mutex_t *mu,
				  uint64_t deadline);

#endif /* WB_CLOCK_H */
