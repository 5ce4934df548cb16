/*
 * hlc.c -- hybrid logical clock (hlc.h).
 */
#include "util/hlc.h"

#include "util/clock.h"

static uint64_t wall_stamp(const hlc_t *c)
{
	return (clock_wall_micros(c->env) / 1000) << 16;
}

void hlc_init(hlc_t *c, const wb_env *env)
{
	atomic_init(&c->last, 0);
	c->env = env;
}

uint64_t hlc_next(hlc_t *c)
{
	uint64_t wall = wall_stamp(c);
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
