#!/bin/sh
# fulldisk.sh -- the disk holding DBDIR fills up (a 32 MiB tmpfs): writing
# files of 1 MB until one fails gives "No space left on device", every file
# written before it reads back whole, reads go on working, and unmounting
# is clean. Then the disk is filled to the last byte, and a read-write
# mount still works on the database's reserve (DBDIR/RESERVE): writes fail
# with ENOSPC at once (no hang), rm works, reclaim gives the space back,
# writes work again, and the next mount has every file and the reserve
# made again. With no reserve left either, a read-write mount is refused
# with a message that says so and what to do; a read-only mount shows
# every file; once there is space again a read-write mount takes new files.
. "$(dirname "$0")/lib/common.sh"

mkdir "$T/disk"
mount -t tmpfs -o size=32m tmpfs "$T/disk" || fail "cannot mount a tmpfs (this test needs root)"
# Runs after the unmounts of common.sh's cleanup have been queued: the
# daemon must be gone before the tmpfs can go.
cleanup="${cleanup:+$cleanup; }fusermount3 -u '$MNT' 2>/dev/null; sleep 0.5; umount '$T/disk' 2>/dev/null || umount -l '$T/disk'"
DB=$T/disk/db
head -c 1000000 /dev/urandom >"$T/src"

fs_mount -o create
[ -s "$DB/RESERVE" ] || fail "no disk reserve in $DB: $(ls "$DB")"
nfiles=0
while :; do
	[ $nfiles -lt 100 ] || fail "wrote 100 MB to a 32 MiB disk"
	if ! timeout 60 cp "$T/src" "$MNT/f$nfiles" 2>"$T/cp.err"; then
		grep -q "No space left on device" "$T/cp.err" ||
			fail "f$nfiles: want 'No space left on device', got: $(cat "$T/cp.err")"
		break
	fi
	nfiles=$((nfiles + 1))
done
[ $nfiles -gt 10 ] || fail "only $nfiles files fit on a 32 MiB disk"
echo "$nfiles files fit; the next: $(cat "$T/cp.err")"

# check FILE...: each holds the source's bytes.
check() {
	for f in "$@"; do
		same_file "$T/src" "$MNT/$f"
	done
}
all=$(i=0; while [ $i -lt $nfiles ]; do printf 'f%d ' $i; i=$((i + 1)); done)
# shellcheck disable=SC2086
check $all
ls "$MNT" >/dev/null || fail "ls failed on a full disk"
fs_umount
# Closing gives back what the logs had prepared ahead of their data; fill
# that too, so the disk is full to the last byte for the mount below.
head -c 64m /dev/zero >"$T/disk/ballast" 2>/dev/null

# A read-write mount on the reserve's room.
fs_mount
[ -e "$DB/RESERVE" ] && fail "the reserve is still there on a full disk"
grep -q "gave back RESERVE" "$DB/LOG" || fail "the LOG does not say the reserve was given back: $(cat "$DB/LOG")"
# shellcheck disable=SC2086
check $all
# That room is for deletes: a write that stores data fails at once.
expect_fail timeout 60 cp "$T/src" "$MNT/new0"
err_has "No space left on device"
# rm makes room: every file but every fifth goes.
kept=
i=0
while [ $i -lt $nfiles ]; do
	if [ $((i % 5)) -eq 0 ]; then
		kept="$kept f$i"
	else
		timeout 60 rm "$MNT/f$i" 2>"$T/rm.err" || fail "rm f$i on a full disk: $(cat "$T/rm.err")"
	fi
	i=$((i + 1))
done
# shellcheck disable=SC2086
check $kept
# Reclaim gives the space back in the background, and once the reserve
# fits again writes work: wait for that (a minute at most).
n=0
until timeout 60 cp "$T/src" "$MNT/new0" 2>"$T/cp.err"; do
	grep -q "No space left on device" "$T/cp.err" || fail "new0: $(cat "$T/cp.err")"
	n=$((n + 1))
	[ $n -lt 120 ] || fail "no room 60 s after deleting $((nfiles - nfiles / 5)) files; df: $(df -k "$T/disk" | tail -n 1); LOG: $(tail -n 20 "$DB/LOG")"
	sleep 0.5
done
echo "writes work again $((n / 2)) s after the deletes"
cp "$T/src" "$MNT/new1" || fail "cannot write once there is space again"
# shellcheck disable=SC2086
check $kept new0 new1
fs_umount

fs_mount
# shellcheck disable=SC2086
check $kept new0 new1
for f in $all; do
	case " $kept " in
	*" $f "*) ;;
	*) absent "$MNT/$f" ;;
	esac
done
[ -s "$DB/RESERVE" ] || fail "the reserve was not made again: $(ls -l "$DB")"
fs_umount

# Full to the last byte with no reserve left: a read-write mount is
# refused, and says what to do; a read-only one works.
# (LOG.old too: the next open's rotation would free its bytes.)
rm -f "$DB/RESERVE" "$DB/LOG.old"
head -c 64m /dev/zero >"$T/disk/ballast2" 2>/dev/null
expect 1 "$FSD" "$DB" "$MNT"
err_has "no space left on device"
err_has "-o ro"
mountpoint -q "$MNT" && fail "a refused mount is mounted"

fs_mount -o ro
# shellcheck disable=SC2086
check $kept new0 new1
fs_umount

mount -o remount,size=96m "$T/disk" || fail "cannot grow the tmpfs"
fs_mount
# shellcheck disable=SC2086
check $kept new0 new1
echo "after" >"$MNT/new" || fail "cannot write once there is space again"
file_is "$MNT/new" "after
"
fs_umount
