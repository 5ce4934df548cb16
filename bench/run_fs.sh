#!/bin/sh
# run_fs.sh -- installs what the filesystem benchmark needs, builds it and
# wombatfs and runs it: `make bench-fs` calls it (see bench/bench.mk). Extra
# arguments go to fsbench (bench/fsbench.c, --help). QUICK=1 runs smoke
# sizes (fsbench --quick).
#
# Writes, under $BUILD/bench: fs.txt (the report as printed), fs.json (every
# number), fs.dat (rates relative to native) and fs.png (grouped bars of
# fs.dat) when gnuplot can be had. The mounts, databases and directories go
# to $BUILD/bench/fs, on the build directory's filesystem, and are removed
# after each step group. Whatever way this script ends, nothing stays
# mounted under $BUILD/bench/fs (fsbench unmounts too; this is the backstop
# for a fsbench killed outright).
set -e
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
OUT=$BUILD/bench
WORK=$OUT/fs

# FUSE, bindfs and the rest with apt-get (bindfs is among the BENCH peers).
BENCH=1 sh tests/deps.sh

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
if ! command -v gnuplot >/dev/null 2>&1; then
	echo "run_fs: installing gnuplot-nox for the plot"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnuplot-nox >/dev/null 2>&1 ||
		{ $SUDO apt-get update -qq >/dev/null 2>&1 &&
		  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnuplot-nox >/dev/null 2>&1; } ||
		echo "run_fs: could not install gnuplot-nox: the plot will be skipped"
fi
[ "$(id -u)" = 0 ] ||
	echo "run_fs: not root: fsbench cannot drop the page cache before its cold steps"

$MAKE --no-print-directory "$BUILD/bin/wombatfs" "$BUILD/bin/fsbench"
mkdir -p "$WORK"
WORK_ABS=$(cd "$WORK" && pwd)

# Every FUSE mount below $WORK, innermost first.
unmount_all() {
	awk -v w="$WORK_ABS/" 'index($2, w) == 1 && $3 ~ /^fuse/ { print $2 }' /proc/mounts |
		sort -r | while read -r m; do
			echo "run_fs: unmounting $m left by fsbench"
			fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		done
}
trap 'unmount_all' EXIT
trap 'unmount_all; exit 130' INT
trap 'unmount_all; exit 143' TERM
unmount_all # left over from an earlier run that was killed

quick=""
case "${QUICK:-0}" in
0 | "") ;;
*) quick=--quick ;;
esac

# POSIX sh has no pipefail: keep fsbench's status in a file.
rm -f "$OUT/.fsbench.status"
{
	set +e
	"$BUILD/bin/fsbench" --dir "$WORK" --wombatfs "$BUILD/bin/wombatfs" \
		--json "$OUT/fs.json" --plot-data "$OUT/fs.dat" $quick "$@"
	echo $? >"$OUT/.fsbench.status"
} | tee "$OUT/fs.txt"
status=$(cat "$OUT/.fsbench.status" 2>/dev/null || echo 1)
rm -f "$OUT/.fsbench.status"

if [ -s "$OUT/fs.dat" ]; then
	if command -v gnuplot >/dev/null 2>&1; then
		if gnuplot -e "datafile='$OUT/fs.dat'; outfile='$OUT/fs.png'" bench/fs_plot.gp; then
			echo "run_fs: wrote $OUT/fs.png"
		else
			echo "run_fs: gnuplot failed: no plot"
		fi
	else
		echo "run_fs: gnuplot is not installed: no plot"
	fi
fi
exit "$status"
