#!/bin/sh
# crash.sh -- what fsync promises survives the daemon's death: files
# written and fsynced (dd conv=fsync, python os.fsync, sync FILE), then
# kill -9 of wombatfs, fusermount3 -uz of the dead mount, and a remount:
# the fsynced files are all there byte for byte, the directories they sit
# in too, and the database verifies.
. "$(dirname "$0")/lib/common.sh"

fs_mount -o create
M=$MNT
pid=$fs_pid
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || fail "no daemon pid from $DB/LOCK"

head -c 200000 /dev/urandom >"$T/a"
head -c 3000000 /dev/urandom >"$T/b"
printf 'small and synced\n' >"$T/c"
mkdir -p "$M/dir/sub"
dd if="$T/a" of="$M/dir/a" bs=64k conv=fsync status=none || fail "dd conv=fsync failed"
python3 -c '
import os, sys
src, dst = sys.argv[1], sys.argv[2]
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
data = open(src, "rb").read()
for i in range(0, len(data), 100000):
    os.write(fd, data[i:i + 100000])
os.fsync(fd)
os.close(fd)' "$T/b" "$M/dir/sub/b" || fail "python write + fsync failed"
cp "$T/c" "$M/c" && sync "$M/c" || fail "cp + sync FILE failed"
# An overwrite, fsynced: the new contents are what must survive.
printf 'old\n' >"$M/over"
printf 'new contents\n' >"$T/over"
dd if="$T/over" of="$M/over" conv=fsync status=none || fail "dd overwrite failed"

kill -9 "$pid"
wait_gone "$pid" 5 || fail "wombatfs survived kill -9"
# The mount is dead: its files cannot be read.
expect_fail cat "$M/c"
fusermount3 -uz "$M" 2>"$T/err" || fail "fusermount3 -uz of the dead mount failed: $(cat "$T/err")"
mountpoint -q "$M" && fail "$M is still a mountpoint after -uz"

fs_mount
same_file "$T/a" "$M/dir/a"
same_file "$T/b" "$M/dir/sub/b"
same_file "$T/c" "$M/c"
same_file "$T/over" "$M/over"
expect 0 stat -c '%a' "$M/dir/sub/b"
out_is '600
'
[ -d "$M/dir/sub" ] || fail "dir/sub is gone"
# And the mount works as before.
echo after >"$M/after"
file_is "$M/after" 'after
'
fs_umount
expect 0 "$W" "$DB" verify
"$W" "$DB" get dir/sub/b >"$T/got" || fail "wombat get dir/sub/b failed"
same_file "$T/b" "$T/got"
exit 0
