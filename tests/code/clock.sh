#!/bin/sh
# clock.sh -- the engine reads time, sleeps and waits with a deadline only
# through the env's clock (engine/src/util/clock.h, STYLE.md rule 13), so
# a test can drive time (tests/support/test_clock.h). Fails listing every
# call to the system's clock outside util/clock.c.
cd "$(dirname "$0")/../.." || exit 1
calls='clock_gettime|gettimeofday|nanosleep|usleep|[^_a-z]sleep\(|[^_a-z]time\(|pthread_cond_timedwait|pthread_cond_clockwait'
found=$(grep -nE "$calls" engine/src/*/*.[ch] | grep -v '^engine/src/util/clock\.[ch]:' |
	grep -vE '^[^:]*:[0-9]+:[[:space:]]*(/?\*|//)')
if [ -n "$found" ]; then
	echo "$found" | sed 's/$/   <- use util\/clock.h/'
	exit 1
fi
echo "clock: no system clock call outside util/clock.c"
