#!/bin/sh
# run.sh BUILD SECONDS TARGET... -- runs each fuzz target for SECONDS, one
# after another, in one process each (the machine is shared): writes the
# seed corpus first when BUILD/corpus/TARGET is missing, keeps what the
# fuzzer finds in that corpus for the next run, and saves crashes, leaks,
# hangs and out-of-memory inputs under BUILD/crashes/TARGET/. Prints one
# line per target (executions, coverage and corpus growth, findings) and
# exits non-zero when any target found something. The full libFuzzer
# output of each run is appended to BUILD/logs/TARGET.log.
BUILD=$1
SECONDS_EACH=$2
shift 2
[ -x "$BUILD/bin/fuzz_seeds" ] || { echo "run.sh: $BUILD/bin/fuzz_seeds missing (make fuzz-build)"; exit 2; }
mkdir -p "$BUILD/logs" "$BUILD/crashes"
for t in "$@"; do
	if [ ! -d "$BUILD/corpus/$t" ]; then
		"$BUILD/bin/fuzz_seeds" "$BUILD/corpus" || exit 2
	fi
	mkdir -p "$BUILD/corpus/$t"
done

status=0
printf '%-8s %8s %12s %10s %14s %s\n' target seconds executions coverage corpus findings
for t in "$@"; do
	bin="$BUILD/bin/fuzz_$t"
	corpus="$BUILD/corpus/$t"
	crashes="$BUILD/crashes/$t"
	mkdir -p "$crashes"
	before=$(ls "$corpus" | wc -l)
	found_before=$(ls "$crashes" | wc -l)
	run_log=$(mktemp)
	start=$(date +%s)
	"$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 \
		-rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$crashes/" \
		"$corpus" >"$run_log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	{ echo "==== $(date -u '+%F %T') $t ${SECONDS_EACH}s rc=$rc"; cat "$run_log"; } >>"$BUILD/logs/$t.log"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$run_log" | tail -n 1)
	cov0=$(sed -n 's/.*INITED cov: \([0-9]*\).*/\1/p' "$run_log" | head -n 1)
	cov1=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' "$run_log" | tail -n 1)
	after=$(ls "$corpus" | wc -l)
	found=$(($(ls "$crashes" | wc -l) - found_before))
	what=none
	if [ "$rc" -ne 0 ] || [ "$found" -gt 0 ]; then
		status=1
		what="$found saved in $crashes/: $(grep -m 1 -E 'ERROR: |broken promise|SUMMARY' "$run_log")"
	fi
	printf '%-8s %8s %12s %10s %14s %s\n' "$t" "$took" "${execs:-?}" "${cov0:-?}->${cov1:-?}" \
		"$before->$after" "$what"
	rm -f "$run_log"
done
exit $status
