/*
 * hlc.c -- hybrid logical clock (hlc.h).
 */
#include "util/hlc.h"

#include <time.h>

static uint64_t wall_stamp(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	uint64_t ms = (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
	return ms << 16;
}

void hlc_init(hlc_t *c)
{
	atomic_init(&c->last, 0);
}

uint64_t hlc_next(hlc_t *c)
{
	uint64_t wall = wall_stamp();
	uint64_t last = atomic_load_explicit(&c->last, memory_order_relaxed);
	for (;;) {
		uint64_t next = wall > last ? wall : last + 1;
		if (atomic_compare_exchange_weak(&c->last, &last, next))
			return next;
	}
}

void hlc_observe(hlc_t *c, uint64_t ts)
{
	uint64_t last = atomic_load(&c->last);
	while (ts > last && !atomic_compare_exchange_weak(&c->last, &last, ts))
		;
}

uint64_t hlc_last(const hlc_t *c)
{
	return atomic_load(&((hlc_t *)c)->last);
}
