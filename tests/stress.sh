#!/bin/sh
# stress.sh -- `make stress`: runs the randomized and concurrent tests many
# times, each with its own seed (WB_TEST_SEED, see tests/support/testutil.h)
# and its own MALLOC_PERTURB_ (fresh heap memory filled with a non-zero byte,
# so a read of bytes nobody wrote shows), then every unit binary once under
# valgrind memcheck (uninitialized reads, invalid accesses, leaks), then the
# concurrent tests built with ThreadSanitizer. Not part of `make test`.
#
#   churn     test_churn (test_compaction.c): puts, overwrites and deletes
#             with readers, compaction and an open iterator; RUNS times.
#   load      the other concurrent and randomized unit tests (reclaim under
#             load, reclaim racing moves, threads, iterator models, bank
#             transactions, crash kill points); RUNS/20 times each.
#   bank      `wombat DBDIR bank` under both isolation levels; RUNS/40 each.
#   fs        tests/fs/concurrent.sh on a real mount; RUNS/100 times.
#   valgrind  every $BUILD/tests/test_* once, --error-exitcode, origins,
#             definite and indirect leaks; VALGRIND_SKIP leaves out the
#             few tests that alone would take most of the phase.
#   tsan      the churn, load and fs tests once each, built in build-tsan
#             (make tsan-build); reports in $STRESS_DIR/tsan-report.<pid>.
#
# Knobs (environment, or make stress RUNS=N ...):
#   RUNS=200       churn runs; the other phases scale from it (at least 1)
#   SEED=<now>     first seed; run i of a test uses SEED + i
#   PHASES="churn load bank fs valgrind tsan"   which phases, in that order
#   BUILD=build    where `make` put the binaries; TSAN_BUILD=build-tsan
#   STRESS_DIR=$BUILD/stress   where the logs of failed runs are kept
#   VALGRIND_SKIP="test_compaction:test_churn ..."   BINARY:PATTERN pairs
#                  (one cmocka pattern a binary) valgrind skips; "" for none
#
# Every failure is listed at the end with the command that replays it. The
# exit status is 0 only when every run passed and valgrind and TSan found
# nothing. A phase runs its jobs one after another: the tests themselves
# use every core.
BUILD=${BUILD:-build}
TSAN_BUILD=${TSAN_BUILD:-build-tsan}
RUNS=${RUNS:-200}
SEED=${SEED:-$(date +%s)}
PHASES=${PHASES:-churn load bank fs valgrind tsan}
STRESS_DIR=${STRESS_DIR:-$BUILD/stress}
# Under valgrind (~50x slower) these three took 20 of the phase's 40
# minutes; the churn and the others run many times in the other phases.
VALGRIND_SKIP=${VALGRIND_SKIP-test_compaction:test_churn test_recovery:test_many_keys test_vlog_stream:test_stream_100m}
T=$BUILD/tests

rm -rf "$STRESS_DIR"
mkdir -p "$STRESS_DIR" || exit 1
results=$STRESS_DIR/results # one line a run: phase, ok|FAIL, replay command
: >"$results"
n_log=0
started=$(date +%s)

scaled() { # scaled DIVISOR: RUNS/DIVISOR, at least 1
	n=$((RUNS / $1))
	[ $n -ge 1 ] || n=1
	echo $n
}

# record PHASE STATUS LOG COMMAND...: one result line; a passing run's log goes.
record() {
	phase=$1 status=$2 log=$3
	shift 3
	if [ "$status" = 0 ]; then
		echo "$phase ok $*" >>"$results"
		rm -f "$log"
	else
		echo "$phase FAIL $* (log: $log)" >>"$results"
		printf '  FAIL %s (log: %s)\n' "$*" "$log"
	fi
}

new_log() {
	n_log=$((n_log + 1))
	echo "$STRESS_DIR/$1.$n_log.log"
}

# unit PHASE BIN FILTER SEED: one run of the tests in BIN matching FILTER.
unit() {
	perturb=$((1 + $4 % 255))
	log=$(new_log "$1")
	WB_TEST_SEED=$4 WB_TEST_FILTER=$3 MALLOC_PERTURB_=$perturb CMOCKA_MESSAGE_OUTPUT=stdout \
		timeout 900 "$2" >"$log" 2>&1
	record "$1" $? "$log" "WB_TEST_SEED=$4 WB_TEST_FILTER='$3' MALLOC_PERTURB_=$perturb $2"
}

phase_start() {
	phase_t0=$(date +%s)
	printf '== %s: %s\n' "$1" "$2"
}

phase_end() {
	ok=$(grep -c "^$1 ok" "$results")
	bad=$(grep -c "^$1 FAIL" "$results")
	echo "$1 $ok $bad $(($(date +%s) - phase_t0))" >>"$STRESS_DIR/phases"
	printf '   %s: %d passed, %d failed, %ds\n' "$1" "$ok" "$bad" $(($(date +%s) - phase_t0))
}

# The unit tests of the load phase, as BINARY:FILTER.
LOAD_TESTS="test_vlog_gc:test_reclaim_under_load test_vlog_gc:test_gc_races_writes_and_moves
test_db:test_threads test_db:test_iter_* test_txn:test_bank_* test_txn:test_long_txn
test_crash:test_kill_points test_compaction:test_deleted_keys_stay_deleted"

# repeat PHASE N WHAT: phase PHASE runs ${PHASE}_run 0 .. N-1, one after another.
repeat() {
	phase_start "$1" "$2 runs of $3"
	i=0
	while [ $i -lt "$2" ]; do
		"$1_run" $i
		i=$((i + 1))
	done
	phase_end "$1"
}

churn_run() {
	unit churn "$T/test_compaction" test_churn $((SEED + $1))
}

load_run() {
	for bt in $LOAD_TESTS; do
		unit load "$T/${bt%%:*}" "${bt#*:}" $((SEED + $1))
	done
}

bank_run() {
	for iso in ssi si; do
		db=$(mktemp -d /tmp/wombat-stress-bank.XXXXXX)
		log=$(new_log bank)
		accounts=$((2 + (SEED + $1) % 200))
		MALLOC_PERTURB_=$((1 + (SEED + $1) % 255)) timeout 120 "$BUILD/bin/wombat" "$db" bank \
			--accounts $accounts --threads 4 --seconds 3 --isolation $iso >"$log" 2>&1
		record bank $? "$log" "$BUILD/bin/wombat DB bank --accounts $accounts --threads 4" \
			"--seconds 3 --isolation $iso"
		rm -rf "$db"
	done
}

fs_run() {
	log=$(new_log fs)
	MALLOC_PERTURB_=$((1 + (SEED + $1) % 255)) BUILD=$BUILD timeout 900 \
		sh tests/fs/concurrent.sh >"$log" 2>&1
	record fs $? "$log" "BUILD=$BUILD sh tests/fs/concurrent.sh"
}

valgrind_all() {
	phase_start valgrind "every unit binary under memcheck"
	for bin in "$T"/test_*; do
		[ -x "$bin" ] || continue
		name=$(basename "$bin")
		log=$(new_log "valgrind-$name")
		skip=
		for bt in $VALGRIND_SKIP; do
			[ "${bt%%:*}" = "$name" ] && skip=${bt#*:}
		done
		WB_TEST_SKIP=$skip WB_TEST_SEED=$SEED CMOCKA_MESSAGE_OUTPUT=stdout timeout 3600 valgrind -q \
			--error-exitcode=99 --track-origins=yes --leak-check=full \
			--show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
			--log-file="$log.%p.vg" "$bin" >"$log" 2>&1
		rc=$?
		t=$(($(date +%s) - phase_t0))
		cat "$log".*.vg >>"$log" 2>/dev/null # forked children write their own
		rm -f "$log".*.vg
		record valgrind $rc "$log" "WB_TEST_SKIP='$skip' WB_TEST_SEED=$SEED valgrind --track-origins=yes $bin"
		printf '   %s: rc %d (%ds into the phase)\n' "$name" $rc $t
	done
	phase_end valgrind
}

tsan() {
	phase_start tsan "the concurrent tests built with -fsanitize=thread"
	if ! make --no-print-directory -j2 tsan-build >"$STRESS_DIR/tsan-build.log" 2>&1; then
		record tsan 1 "$STRESS_DIR/tsan-build.log" "make tsan-build"
		phase_end tsan
		return
	fi
	# Every report makes the run fail (exitcode); each process writes its
	# reports to tsan-report.<pid>, also the daemon, whose stderr the fs
	# test keeps only while it runs.
	reports=$(pwd)/$STRESS_DIR/tsan-report
	export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 log_path=$reports"
	save_t=$T
	T=$TSAN_BUILD/tests
	unit tsan "$T/test_compaction" test_churn "$SEED"
	for bt in $LOAD_TESTS test_skiplist:*; do
		unit tsan "$T/${bt%%:*}" "${bt#*:}" "$SEED"
	done
	log=$(new_log tsan)
	BUILD=$TSAN_BUILD timeout 1800 sh tests/fs/concurrent.sh >"$log" 2>&1
	record tsan $? "$log" "BUILD=$TSAN_BUILD sh tests/fs/concurrent.sh"
	for f in "$reports".*; do # the daemon's exit status reaches no one
		[ -f "$f" ] || continue
		grep -q "wombatfs" "$f" && record tsan 1 "$f" "a TSan report from wombatfs"
	done
	T=$save_t
	unset TSAN_OPTIONS
	phase_end tsan
}

for p in $PHASES; do
	case $p in
	churn) repeat churn "$RUNS" test_churn ;;
	load) repeat load "$(scaled 20)" "each of $(echo $LOAD_TESTS | wc -w) tests" ;;
	bank) repeat bank "$(scaled 40)" "wombat bank under each isolation" ;;
	fs) repeat fs "$(scaled 100)" tests/fs/concurrent.sh ;;
	tsan) tsan ;;
	valgrind) valgrind_all ;;
	*) echo "stress.sh: unknown phase '$p'" >&2 && exit 2 ;;
	esac
done

echo
echo "== stress summary (SEED=$SEED RUNS=$RUNS, $(($(date +%s) - started))s)"
[ -f "$STRESS_DIR/phases" ] && while read -r p ok bad secs; do
	printf '%-9s %5d runs, %d failed, %ds\n' "$p" $((ok + bad)) "$bad" "$secs"
done <"$STRESS_DIR/phases"
grep -l "ThreadSanitizer" "$STRESS_DIR"/tsan-report.* 2>/dev/null | while read -r f; do
	printf 'TSan: %d reports in %s\n' "$(grep -c 'WARNING: ThreadSanitizer' "$f")" "$f"
done
grep -l "^==[0-9]*== " "$STRESS_DIR"/valgrind-*.log 2>/dev/null | while read -r f; do
	printf 'valgrind: %d errors in %s\n' \
		"$(grep -c '^==[0-9]*== \(Invalid\|Conditional\|Use of uninit\|Syscall param\|.*definitely lost\|.*indirectly lost\)' "$f")" "$f"
done
if grep -q ' FAIL ' "$results"; then
	echo "failed (replay each with its command):"
	grep ' FAIL ' "$results" | sed 's/^/  /'
fi
total=$(wc -l <"$results")
failed=$(grep -c ' FAIL ' "$results")
echo "stress: $((total - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
