#!/bin/sh
# fulldisk.sh -- the disk holding DBDIR fills up (a 32 MiB tmpfs): writing
# files of 1 MB until one fails gives "No space left on device", every file
# written before it reads back whole, reads go on working, and unmounting
# is clean. With the disk full a read-write mount is refused with a
# message that says so and what to do; a read-only mount shows every file
# intact. Once there is space again a read-write mount works and takes
# new files.
. "$(dirname "$0")/lib/common.sh"

mkdir "$T/disk"
mount -t tmpfs -o size=32m tmpfs "$T/disk" || fail "cannot mount a tmpfs (this test needs root)"
# Runs after the unmounts of common.sh's cleanup have been queued: the
# daemon must be gone before the tmpfs can go.
cleanup="${cleanup:+$cleanup; }fusermount3 -u '$MNT' 2>/dev/null; sleep 0.5; umount '$T/disk' 2>/dev/null || umount -l '$T/disk'"
DB=$T/disk/db
head -c 1000000 /dev/urandom >"$T/src"

fs_mount -o create
nfiles=0
while :; do
	[ $nfiles -lt 100 ] || fail "wrote 100 MB to a 32 MiB disk"
	if ! cp "$T/src" "$MNT/f$nfiles" 2>"$T/cp.err"; then
		grep -q "No space left on device" "$T/cp.err" ||
			fail "f$nfiles: want 'No space left on device', got: $(cat "$T/cp.err")"
		break
	fi
	nfiles=$((nfiles + 1))
done
[ $nfiles -gt 10 ] || fail "only $nfiles files fit on a 32 MiB disk"
echo "$nfiles files fit; the next: $(cat "$T/cp.err")"

# check N: f0 .. f(N-1) hold the source's bytes.
check() {
	i=0
	while [ $i -lt "$1" ]; do
		same_file "$T/src" "$MNT/f$i"
		i=$((i + 1))
	done
}
check $nfiles
ls "$MNT" >/dev/null || fail "ls failed on a full disk"
fs_umount
# Closing gives back what the value log had prepared ahead of its entries;
# fill that too, so the disk is full for the mount below.
head -c 64m /dev/zero >"$T/disk/ballast" 2>/dev/null

expect 1 "$FSD" "$DB" "$MNT"
err_has "no space left on device"
err_has "-o ro"
mountpoint -q "$MNT" && fail "a refused mount is mounted"

fs_mount -o ro
check $nfiles
fs_umount

mount -o remount,size=64m "$T/disk" || fail "cannot grow the tmpfs"
fs_mount
check $nfiles
echo "after" >"$MNT/new" || fail "cannot write once there is space again"
file_is "$MNT/new" "after
"
fs_umount
