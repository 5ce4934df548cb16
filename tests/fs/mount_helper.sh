#!/bin/sh
# mount_helper.sh -- mount.wombat as mount(8) and fstab call it: the
# fstab-only options (defaults, noauto, x-*, ...) are dropped, the rest
# reach wombatfs, and the mount is usable the moment it returns. Failures
# exit non-zero with a message that says why and leave nothing mounted: a
# missing database without create, a database in use by another mount, a
# mountpoint that is not empty, a bad option value.
. "$(dirname "$0")/lib/common.sh"
MH=$MOUNT_HELPER

# -v shows the wombatfs command: fstab-only options gone, create kept.
expect 0 "$MH" -f -v "$DB" "$MNT" -o defaults,noauto,x-systemd.automount,nofail,create,_netdev,comment=hi
out_is ''
err_has " $DB $MNT -o create"
[ ! -e "$DB" ] || fail "mount.wombat -f (fake) created $DB"
mountpoint -q "$MNT" && fail "mount.wombat -f mounted"

# The real thing; usable as soon as it returns (no sleep, no retry).
expect 0 "$MH" "$DB" "$MNT" -o defaults,noauto,x-foo,create
fs_track "$DB" "$MNT"
echo hello >"$MNT/greeting" || fail "writing right after mount.wombat returned failed"
file_is "$MNT/greeting" 'hello
'
grep " $MNT " /proc/mounts >"$T/mounts" || fail "$MNT is not in /proc/mounts"
grep -q "^$DB $MNT fuse.wombat " "$T/mounts" || fail "/proc/mounts says: $(cat "$T/mounts")"
mkdir "$T/mnt2"

# The database is in use by that mount: a second one fails, saying so.
expect_fail "$MH" "$DB" "$T/mnt2" -oro
err_has 'in use'
mountpoint -q "$T/mnt2" && fail "a second mount of a database in use succeeded"
expect_fail "$FSD" "$DB" "$T/mnt2"
err_has 'in use'

# A mountpoint that is not empty.
mkdir "$T/full"
echo x >"$T/full/x"
expect_fail "$MH" "$T/db2" "$T/full" -o create
err_has 'not empty'
mountpoint -q "$T/full" && fail "mounted over a non-empty directory"
file_is "$T/full/x" 'x
'

# A database that does not exist, without create: the message says to
# use create, and nothing is made.
expect_fail "$MH" "$T/nodb" "$T/mnt2" -o defaults
err_has 'create'
[ ! -e "$T/nodb" ] || fail "mount.wombat created $T/nodb without -o create"
mountpoint -q "$T/mnt2" && fail "mounted a missing database"
# A directory that holds no database.
mkdir "$T/notadb"
expect_fail "$MH" "$T/notadb" "$T/mnt2"
err_has 'create'
mountpoint -q "$T/mnt2" && fail "mounted an empty directory as a database"

# Bad option values.
expect_fail "$MH" "$T/db3" "$T/mnt2" -o create,sync=bogus
err_has 'sync'
expect_fail "$MH" "$T/db3" "$T/mnt2" -o create,cache_size=lots
err_has 'cache_size'
expect_fail "$MH" "$T/db3" "$T/mnt2" -o create,no_such_option
mountpoint -q "$T/mnt2" && fail "mounted despite a bad option"
# Usage errors.
expect_fail "$MH" "$DB"
err_has 'usage'
expect_fail "$MH" "$DB" "$T/mnt2" extra
expect_fail "$MH" -q "$DB" "$T/mnt2"

# The first mount is untouched by all that.
file_is "$MNT/greeting" 'hello
'
fs_umount
expect 0 "$W" "$DB" get greeting
out_is 'hello
'
# Options that do reach wombatfs: ro, glued to -o.
expect 0 "$MH" "$DB" "$MNT" -odefaults,ro
fs_track "$DB" "$MNT"
file_is "$MNT/greeting" 'hello
'
expect_fail touch "$MNT/new"
err_has 'Read-only file system'
fs_umount
exit 0
