/*
 * ratelimit.c -- token bucket (ratelimit.h).
 *
 * Tokens accrue at `rate` bytes a second, up to one second's worth. A
 * request takes its tokens at once (going into debt if needed) and sleeps
 * until the debt is paid, so large requests are paced, not refused.
 */
#include "util/ratelimit.h"

#include "util/clock.h"

void rate_limiter_init(rate_limiter_t *rl, const wb_env *env, uint64_t bytes_per_second)
{
	pthread_mutex_init(&rl->mu, NULL);
	rl->env = env;
	rl->rate = bytes_per_second;
	rl->available = (double)bytes_per_second;
	rl->last_us = clock_now_micros(env);
	rl->waited_us = 0;
}

void rate_limiter_destroy(rate_limiter_t *rl)
{
	pthread_mutex_destroy(&rl->mu);
}

void rate_limiter_request(rate_limiter_t *rl, uint64_t bytes)
{
	if (rl->rate == 0)
		return;
	pthread_mutex_lock(&rl->mu);
	uint64_t now = clock_now_micros(rl->env);
	rl->available += (double)(now - rl->last_us) * (double)rl->rate / 1e6;
	if (rl->available > (double)rl->rate)
		rl->available = (double)rl->rate;
	rl->last_us = now;
	rl->available -= (double)bytes;
	double debt_us = rl->available < 0 ? -rl->available * 1e6 / (double)rl->rate : 0;
	rl->waited_us += (uint64_t)debt_us;
	pthread_mutex_unlock(&rl->mu);
	if (debt_us > 0)
		clock_sleep_micros(rl->env, (uint64_t)debt_us);
}
