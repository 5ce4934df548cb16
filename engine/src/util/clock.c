/*
 * clock.c -- time through the env (clock.h), and the system's clock the
 * default env uses: CLOCK_MONOTONIC, CLOCK_REALTIME and nanosleep.
 */
#include "util/clock.h"

#include <errno.h>
#include <time.h>

static uint64_t read_clock(clockid_t id)
{
	struct timespec t;
	clock_gettime(id, &t);
	return (uint64_t)t.tv_sec * 1000000000 + (uint64_t)t.tv_nsec;
}

uint64_t clock_system_now_nanos(void *clock_ctx)
{
	return read_clock(CLOCK_MONOTONIC);
}

uint64_t clock_system_wall_nanos(void *clock_ctx)
{
	return read_clock(CLOCK_REALTIME);
}

void clock_system_sleep_nanos(void *clock_ctx, uint64_t ns)
{
	struct timespec t = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

void clock_system_cond_wait_until(void *clock_ctx, pthread_cond_t *cv, pthread_mutex_t *mu,
				  uint64_t deadline)
{
	/* On the monotonic clock itself, so a wall clock step neither cuts a
	 * wait short nor stretches it. */
	struct timespec t = { (time_t)(deadline / 1000000000), (long)(deadline % 1000000000) };
	pthread_cond_clockwait(cv, mu, CLOCK_MONOTONIC, &t);
}

uint64_t clock_now_nanos(const wb_env *env)
{
	if (env != NULL && env->now_nanos != NULL)
		return env->now_nanos(env->clock_ctx);
	return clock_system_now_nanos(NULL);
}

uint64_t clock_now_micros(const wb_env *env)
{
	return clock_now_nanos(env) / 1000;
}

uint64_t clock_wall_micros(const wb_env *env)
{
	if (env != NULL && env->wall_nanos != NULL)
		return env->wall_nanos(env->clock_ctx) / 1000;
	return clock_system_wall_nanos(NULL) / 1000;
}

void clock_sleep_micros(const wb_env *env, uint64_t us)
{
	if (env != NULL && env->sleep_nanos != NULL)
		env->sleep_nanos(env->clock_ctx, us * 1000);
	else
		clock_system_sleep_nanos(NULL, us * 1000);
}

void clock_cond_wait_until(const wb_env *env, pthread_cond_t *cv, pthread_mutex_t *mu,
			   uint64_t deadline)
{
	if (env != NULL && env->cond_wait_until != NULL)
		env->cond_wait_until(env->clock_ctx, cv, mu, deadline * 1000);
	else
		clock_system_cond_wait_until(NULL, cv, mu, deadline * 1000);
}
