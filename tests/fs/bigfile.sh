#!/bin/sh
# bigfile.sh -- a 2 GiB file written with dd and read back: the bytes are
# the same (sha256 of the stream against the file), the daemon's memory
# stays bounded (the buffer spills to a temporary file and is streamed into
# the value log at close), a rename moves it without copying (the database
# does not grow), and it is all still there after a remount and through
# `wombat get` (which streams too).
. "$(dirname "$0")/lib/common.sh"
# In `make asan` builds freed memory sits in a quarantine (256 MiB by
# default) before reuse, which would be counted as the daemon's own; keep
# it small so the bound below measures wombatfs, not the sanitizer.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16"
export ASAN_OPTIONS

head -c 1048576 /dev/urandom >"$T/block" || fail "no random block"
gen() {
	i=0
	while [ $i -lt 2048 ]; do
		cat "$T/block"
		i=$((i + 1))
	done
}
want=$(gen | sha256sum | cut -d' ' -f1)

fs_mount -o create
gen | dd of="$MNT/big" bs=1M iflag=fullblock status=none || fail "dd into the mount failed"
size=$(stat -c %s "$MNT/big")
[ "$size" = 2147483648 ] || fail "size is $size, want 2147483648"
got=$(sha256sum <"$MNT/big" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "read back $got, want $want"
hwm=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\) kB/\1/p' "/proc/$fs_pid/status")
[ "$hwm" -lt 262144 ] || fail "daemon peak memory ${hwm} kB for a 2 GiB file (limit 256 MiB)"

before=$(du -sk "$DB" | cut -f1)
mkdir "$MNT/moved"
mv "$MNT/big" "$MNT/moved/big" || fail "mv failed"
after=$(du -sk "$DB" | cut -f1)
[ $((after - before)) -lt 65536 ] || fail "the rename grew the database from $before to $after kB"
absent "$MNT/big"

fs_umount
fs_mount
got=$(sha256sum <"$MNT/moved/big" | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "after remount $got, want $want"
fs_umount
got=$("$W" "$DB" get moved/big | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "wombat get gives $got, want $want"
exit 0
