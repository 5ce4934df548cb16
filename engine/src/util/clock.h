/*
 * clock.h -- the monotonic clock the engine times its work with
 * (durations in the statistics, rate limits, error timestamps' ages).
 * Never goes back; unrelated to the wall clock (hlc.h keeps that one).
 */
#ifndef WB_CLOCK_H
#define WB_CLOCK_H

#include <stdint.h>

/* Monotonic microseconds and nanoseconds since an arbitrary start. */
uint64_t clock_now_micros(void);
uint64_t clock_now_nanos(void);

#endif /* WB_CLOCK_H */
