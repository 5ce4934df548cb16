#!/bin/sh
# randio.sh -- random file I/O against an in-memory model on a real mount
# (tests/fs/randio.py says which operations and how each is checked):
# pread, pwrite inside and past the end (holes read as zeros), O_APPEND
# writes, truncate and ftruncate, fsync, close and reopen, rename, unlink
# of open files, mmap reads and MAP_SHARED writes with msync, on several
# files of up to 64 MiB, several descriptors per file, byte for byte.
# Each seed runs in two phases with an unmount and a remount between them,
# and is checked once more after a last remount (every file read through
# several descriptors at once) and through `wombat DBDIR get`.
#
# Knobs (the defaults keep it to about a minute on the current wombatfs,
# where every fsync and close rewrites the whole file):
#   RANDIO_SEEDS="1 2 3"  seeds, one directory each on the same mount
#   RANDIO_OPS=2000       operations per seed (split over the two phases)
#   RANDIO_MAX_MB=64      largest file, MiB (the big* files; others 1/16)
#   RANDIO_STRICT=1       also rename over files that have open descriptors,
#                         which fails on the current wombatfs (the replaced
#                         file's descriptor reads the new file's bytes and
#                         fstat is ENOENT; unlink of an open file is right)
# e.g. RANDIO_OPS=20000 RANDIO_SEEDS="1 2 3 4 5 6 7 8" sh tests/fs/randio.sh
. "$(dirname "$0")/lib/common.sh"

SEEDS=${RANDIO_SEEDS:-"1 2 3"}
OPS=${RANDIO_OPS:-2000}
PY="$(dirname "$0")/randio.py"
half=$((OPS / 2))

# phase N OPS [WANT]: every seed's phase N on the mount.
phase() {
	for s in $SEEDS; do
		python3 "$PY" "$MNT" "$T/state.$s" "$s" "$1" "$2" $3 ||
			fail "randio seed $s phase $1 failed (above)"
	done
}

fs_mount -o create
phase 0 $half
fs_umount
fs_mount
phase 1 $((OPS - half))
fs_umount
fs_mount
mkdir "$T/want"
phase 2 0 "$T/want"
fs_umount

# The keys are the files: the CLI reads what the mount wrote.
n=0
for f in $(cd "$T/want" && find . -type f | sed 's|^\./||'); do
	"$W" "$DB" get "$f" >"$T/got" || fail "wombat get $f failed"
	same_file "$T/want/$f" "$T/got"
	n=$((n + 1))
done
[ $n -gt 0 ] || fail "no files left to compare with wombat get"
echo "randio: $n files match through wombat get"
exit 0
