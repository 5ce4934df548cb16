/*
 * ratelimit.h -- a token bucket that paces background writes (compaction).
 *
 * rate_limiter_request(n) blocks the caller until n more bytes may be
 * written at the configured rate. A rate of 0 means unlimited (never
 * blocks). Thread-safe: several compaction threads share one bucket.
 */
#ifndef WB_RATELIMIT_H
#define WB_RATELIMIT_H

#include <pthread.h>
#include <stdint.h>

#include "wombat.h"

typedef struct rate_limiter {
	pthread_mutex_t mu;
	const wb_env *env;  /* whose clock paces it; read-only after init */
	uint64_t rate;      /* bytes per second; 0 = unlimited */
	double available;   /* tokens in the bucket (bytes); may go negative */
	uint64_t last_us;   /* when tokens were last added */
	uint64_t waited_us; /* total time callers slept */
} rate_limiter_t;

/* env: whose clock to read and sleep on (NULL: the system's). */
void rate_limiter_init(rate_limiter_t *rl, const wb_env *env, uint64_t bytes_per_second);
void rate_limiter_destroy(rate_limiter_t *rl);
void rate_limiter_request(rate_limiter_t *rl, uint64_t bytes);

#endif /* WB_RATELIMIT_H */
