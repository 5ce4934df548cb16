#!/bin/sh
# run_kv.sh -- installs what the engine benchmark needs, builds it and runs
# it: `make bench-kv` calls it (see bench/bench.mk). Extra arguments go to
# kvbench (bench/kvbench.c, --help). QUICK=1 runs a tenth of the data.
#
# Writes, under $BUILD/bench: kv.txt (the report as printed), kv.json (every
# number), kv.dat (ops/s at 100 B) and kv.png (grouped bars of kv.dat) when
# gnuplot can be had; the databases go to $BUILD/bench/kv and are removed
# after each engine.
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
OUT=$BUILD/bench

# The peers (librocksdb-dev, libleveldb-dev, liblmdb-dev) with apt-get.
BENCH=1 sh tests/deps.sh

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "run_kv: installing gnuplot-nox for the plot"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 ||
		{ $SUDO apt-get update -qq >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnuplot-nox >/dev/null 2>&1; } ||
		echo "run_kv: could not install gnuplot-nox: the plot will be skipped"
fi

$MAKE --no-print-directory "$BUILD/bin/kvbench"
mkdir -p "$OUT"

quick=""
case "${QUICK:-0}" in
0 | "") ;;
*) quick=--quick ;;
esac

# POSIX sh has no pipefail: keep kvbench's status in a file.
rm -f "$OUT/.kvbench.status"
{
	"$BUILD/bin/kvbench" --value-size 100,4096,65536 --dir "$OUT/kv" \
		--json "$OUT/kv.json" --plot-data "$OUT/kv.dat" $quick "$@"
	echo $? >"$OUT/.kvbench.status"
} | tee "$OUT/kv.txt"
status=$(cat "$OUT/.kvbench.status" 2>/dev/null || echo 1)
rm -f "$OUT/.kvbench.status"

if [ -s "$OUT/kv.dat" ]; then
	if command -v gnuplot >/dev/null 2>&1; then
		if gnuplot -e "datafile='$OUT/kv.dat'; outfile='$OUT/kv.png'" bench/kv_plot.gp; then
			echo "run_kv: wrote $OUT/kv.png"
		else
			echo "run_kv: gnuplot failed: no plot"
		fi
	else
		echo "run_kv: gnuplot is not installed: no plot"
	fi
fi
exit "$status"
