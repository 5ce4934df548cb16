#!/bin/sh
# trailing_slash.sh -- a key ending in '/' ("t/", put with the CLI) is, by
# names.h and docs/fs.md ("empty ... a trailing /" shows as %%), the file
# with the empty name in directory t: t/%%. The directory t must still
# list, with its other entries, and be walked by find; a file named %% is
# no key the mount can create (EINVAL; a directory %% is the key "t//...");
# reading t/%% gives the key's value, and its attributes are the defaults
# (it can have no record: 'A' "t/" is the directory's marker), so setting
# them is EPERM.
. "$(dirname "$0")/lib/common.sh"

printf 't/\tv-slash\nt/ok\tv-ok\n' >"$T/load"
expect 0 "$W" "$DB" load <"$T/load"
fs_mount
M=$MNT
file_is "$M/t/ok" v-ok
expect 0 find "$M/t"
out_has "$M/t/ok
"
# The empty name as a file is no key the mount can make; as a directory
# it is ("t//").
mkdir "$M/u" || fail "mkdir u failed"
expect_fail touch "$M/u/%%"
err_has 'Invalid argument'
expect_fail touch "$M/t/%%"
err_has 'Operation not permitted'
expect_fail touch "$M/%%"
err_has 'Invalid argument'
mkdir "$M/%%" || fail "mkdir %% failed"
echo in >"$M/%%/f" || fail "write %%/f failed"
file_is "$M/%%/f" 'in
'
# The documented view of the key "t/".
expect 0 ls -A "$M/t"
out_is '%%
ok
'
file_is "$M/t/%%" v-slash
# Written and removed through that name: the key "t/", nothing else.
printf new >"$M/t/%%" || fail "write t/%% failed"
file_is "$M/t/%%" new
fs_umount
expect 0 "$W" "$DB" get t/
out_is new
fs_mount
rm "$M/t/%%" || fail "rm t/%% failed"
expect 0 ls -A "$M/t"
out_is 'ok
'
fs_umount
expect_fail "$W" "$DB" get t/
expect 0 "$W" "$DB" get t/ok
out_is v-ok
expect 0 "$W" "$DB" get /f
out_is 'in
'
exit 0
