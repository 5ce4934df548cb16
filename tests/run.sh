#!/bin/sh
# run.sh -- runs every test: the cmocka unit binaries under $BUILD/tests, then
# the shell tests under tests/code, tests/cli, tests/fs and tests/crash. Prints each
# binary's cmocka report and ends with how long it took and one line
# `N passed, N failed`.
# Exit status 0 only when nothing failed.
BUILD=${BUILD:-build}
passed=0
failed=0
failures=""
started=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	CMOCKA_MESSAGE_OUTPUT=stdout "$t" >"$log" 2>&1
	rc=$?
	cat "$log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -n 1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ -z "$f" ]; then
		failed=$((failed + 1)) # crashed before cmocka could report
		failures="$failures $name"
	elif [ -n "$f" ] && [ "$f" -gt 0 ]; then
		failures="$failures $name"
	fi
done

for t in tests/code/*.sh tests/cli/*.sh tests/fs/*.sh tests/crash/*.sh; do
	[ -f "$t" ] || continue
	printf '[ RUN      ] %s\n' "$t"
	if BUILD="$BUILD" sh "$t" >"$log" 2>&1; then
		passed=$((passed + 1))
		printf '[       OK ] %s\n' "$t"
	else
		failed=$((failed + 1))
		failures="$failures $t"
		cat "$log"
		printf '[  FAILED  ] %s\n' "$t"
	fi
done

[ -n "$failures" ] && echo "failing:$failures"
echo "run.sh: $BUILD took $(($(date +%s) - started))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
