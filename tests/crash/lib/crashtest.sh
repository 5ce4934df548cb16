#!/bin/sh
# crashtest.sh -- `make crashtest` (and, shorter, tests/crash/quick.sh in
# `make test`): runs the three crash loops one after the other, each on its
# own database in one scratch directory, and ends with one line per loop
# ("N cycles ... 0 lost, 0 torn") and a total.
#
#   kvcrash     kill -9 of a process writing through the engine API
#   faultcrash  power loss and injected EIO/ENOSPC through the fault env
#   fscrash.py  kill -9 of the wombatfs daemon under a writer on the mount
#
# What each checks and how to replay a seed: the top of its source.
#
# Knobs (environment): CRASH_SECONDS (total, default 600: 40% kvcrash, 20%
# faultcrash, 40% fscrash), CRASH_CYCLES (cycles per loop instead; KV_CYCLES,
# FAULT_CYCLES, FS_CYCLES for one), CRASH_SEED (default: drawn, printed),
# CRASH_PARTS (default "kv fault fs"), CRASH_ARGS (passed to each loop, e.g.
# --strict). A failing run keeps its directory and prints it; the EXIT trap
# always unmounts the filesystem loop's mount and stops its daemon.
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$(pwd)/$BUILD ;;
esac
HERE=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_ALL=${CRASH_SECONDS:-600}
SEED=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
PARTS=${CRASH_PARTS:-kv fault fs}
T=$(mktemp -d /tmp/wombat-crashtest.XXXXXX) || exit 1
failed=0

cleanup() {
	m=$T/fs/mnt
	if grep -q " $m fuse" /proc/mounts 2>/dev/null; then
		fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
	fi
	if [ -s "$T/fs/db/LOCK" ]; then
		pid=$(tr -dc 0-9 <"$T/fs/db/LOCK")
		n=50
		while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
			sleep 0.1
			n=$((n - 1))
		done
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	fi
	if [ "$failed" -eq 0 ]; then
		rm -rf "$T"
	else
		echo "crashtest: kept $T (seed $SEED)"
	fi
}
trap cleanup EXIT
trap 'failed=1; exit 1' INT TERM HUP

# limits NAME SHARE: --cycles or --seconds for one loop.
limits() {
	eval "c=\${$1:-\$CRASH_CYCLES}"
	if [ -n "$c" ]; then
		echo "--cycles $c"
	else
		echo "--seconds $((SECONDS_ALL * $2 / 100))"
	fi
}

# run CMD...: runs one loop, its output shown as it comes and kept for the
# summary.
run() {
	{
		"$@" 2>&1
		echo $? >"$T/rc"
	} | tee "$T/out"
	[ "$(cat "$T/rc")" -eq 0 ] || failed=1
	grep -E '^[a-z]+: ([0-9]+ (cycles|lost)|and [0-9]+ failures)' "$T/out" >>"$T/summary"
}

echo "crashtest: seed $SEED, in $T"
: >"$T/summary"
for part in $PARTS; do
	case $part in
	kv) run "$BUILD/crash/kvcrash" $(limits KV_CYCLES 40) --seed "$SEED" --dir "$T/kv" \
		--wombat "$BUILD/bin/wombat" $CRASH_ARGS ;;
	fault) run "$BUILD/crash/faultcrash" $(limits FAULT_CYCLES 20) --seed "$SEED" \
		--dir "$T/fault" --wombat "$BUILD/bin/wombat" $CRASH_ARGS ;;
	fs) run python3 "$HERE/fscrash.py" $(limits FS_CYCLES 40) --seed "$SEED" --dir "$T/fs" \
		--build "$BUILD" ;;
	*) echo "crashtest: unknown part $part" ; failed=1 ;;
	esac
done
echo "== crashtest summary (seed $SEED) =="
cat "$T/summary"
total=$(sed -n 's/^[a-z]*: \([0-9]*\) cycles.*/\1/p' "$T/summary" | awk '{s += $1} END {print s + 0}')
if [ "$failed" -eq 0 ]; then
	echo "crashtest: $total cycles: 0 lost, 0 torn"
else
	echo "crashtest: FAILED (see above; replay with CRASH_SEED=$SEED)"
fi
[ "$failed" -eq 0 ]
