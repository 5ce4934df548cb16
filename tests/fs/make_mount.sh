#!/bin/sh
# make_mount.sh -- the README's `make mount` / `make umount` scripts
# (fusefs/make_mount.sh, make_umount.sh) on a temporary database: the
# database is created, the mount is usable when the script returns, it
# says how to unmount, a second `make mount` is harmless, and after
# `make umount` the CLI can open the database at once and read the file.
. "$(dirname "$0")/lib/common.sh"

R=$(dirname "$0")/../..
D=$T/wombat.db
M=$T/wombat.mnt
expect 0 sh "$R/fusefs/make_mount.sh" "$BUILD" "$D" "$M"
fs_track "$D" "$M"
out_has "make umount"
mountpoint -q "$M" || fail "make mount returned but $M is not mounted"
echo hello >"$M/greeting" || fail "write through the mount failed"
expect 0 sh "$R/fusefs/make_mount.sh" "$BUILD" "$D" "$M"
out_has "already mounted"
expect 0 sh "$R/fusefs/make_umount.sh" "$D" "$M"
out_has "unmounted"
expect 0 "$W" "$D" get greeting
out_is 'hello
'
expect 0 sh "$R/fusefs/make_umount.sh" "$D" "$M"
out_has "not mounted"
exit 0
