/*
 * hlc.h -- the hybrid logical clock that stamps every commit.
 *
 *   ts = (unix_ms << 16) | counter
 *
 * Strictly increasing, even when the wall clock steps back: a new stamp is
 * max(last + 1, now << 16), so after a step back the stamps count up from
 * the last one until the wall clock passes it again (tests/unit/test_hlc.c).
 * Recovery feeds the largest stamp found on disk to hlc_observe() so a
 * restart continues above it. The wall clock is the env's (clock.h).
 * Lock-free; any thread.
 */
#ifndef WB_HLC_H
#define WB_HLC_H

#include <stdatomic.h>
#include <stdint.h>

#include "wombat.h"

typedef struct hlc {
	_Atomic uint64_t last;
	const wb_env *env; /* whose wall clock; set by hlc_init, then read-only */
} hlc_t;

/* env: whose wall clock to read (NULL: the system's). */
void hlc_init(hlc_t *c, const wb_env *env);
/* A new timestamp, greater than every one handed out or observed before. */
uint64_t hlc_next(hlc_t *c);
/* Makes every later stamp greater than ts. */
void hlc_observe(hlc_t *c, uint64_t ts);
/* The last stamp handed out or observed. */
uint64_t hlc_last(const hlc_t *c);
/* Milliseconds since the epoch in a stamp, and back. */
static inline uint64_t hlc_ms(uint64_t ts) { return ts >> 16; }

#endif /* WB_HLC_H */
