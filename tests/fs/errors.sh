#!/bin/sh
# errors.sh -- the errors a person meets, as the tools print them: ENOENT,
# EEXIST, ENOTEMPTY, ENOTDIR, EISDIR, ENAMETOOLONG (a 256-byte name; 255
# works), EEXIST and EPERM (a directory) for hard links, and EROFS on a -o ro mount where reads
# still work. A failed call changes nothing.
. "$(dirname "$0")/lib/common.sh"

fs_mount -o create
M=$MNT
echo data >"$M/file"
mkdir "$M/dir"
echo inner >"$M/dir/inner"

# ENOENT
expect_fail cat "$M/missing"
err_has 'No such file or directory'
expect_fail ls "$M/missing"
err_has 'No such file or directory'
expect_fail rm "$M/missing"
err_has 'No such file or directory'
expect_fail mkdir "$M/nodir/sub"
err_has 'No such file or directory'
expect_fail cp "$M/file" "$M/nodir/f"
err_has 'No such file or directory'

# EEXIST
expect_fail mkdir "$M/dir"
err_has 'File exists'
expect_fail mkdir "$M/file"
err_has 'File exists'
file_is "$M/file" 'data
'

# ENOTEMPTY
expect_fail rmdir "$M/dir"
err_has 'Directory not empty'
file_is "$M/dir/inner" 'inner
'

# ENOTDIR: a path through a file, rmdir of a file.
expect_fail cat "$M/file/x"
err_has 'Not a directory'
expect_fail mkdir "$M/file/x"
err_has 'Not a directory'
expect_fail rmdir "$M/file"
err_has 'Not a directory'

# EISDIR: writing to a directory, rm of a directory, cat of a directory.
expect_fail sh -c "echo x >'$M/dir'"
err_has 'Is a directory'
expect_fail rm "$M/dir"
err_has 'Is a directory'
expect_fail cat "$M/dir"
err_has 'Is a directory'
file_is "$M/dir/inner" 'inner
'

# ENAMETOOLONG: 256 bytes is one too many; 255 is fine.
n255=$(printf '%255s' '' | tr ' ' n)
n256=${n255}x
expect 0 touch "$M/$n255"
expect 0 ls "$M"
out_has "$n255"
expect_fail touch "$M/$n256"
err_has 'File name too long'
expect_fail mkdir "$M/$n256"
err_has 'File name too long'
expect_fail cat "$M/$n256"
err_has 'File name too long'
expect_fail mv "$M/file" "$M/$n256"
err_has 'File name too long'
file_is "$M/file" 'data
'

# A hard link onto a name that exists: EEXIST; of a directory: EPERM.
# Neither changes a thing.
echo other >"$M/taken"
expect_fail ln "$M/file" "$M/taken"
err_has 'File exists'
file_is "$M/taken" 'other
'
mkdir "$M/linkme"
expect_fail python3 -c 'import os, sys; os.link(sys.argv[1], sys.argv[2])' "$M/linkme" "$M/hardlink"
err_has 'Operation not permitted'
absent "$M/hardlink"

fs_umount

# EROFS: a read-only mount reads but changes nothing.
fs_mount -o ro
file_is "$M/file" 'data
'
file_is "$M/dir/inner" 'inner
'
expect_fail touch "$M/new"
err_has 'Read-only file system'
expect_fail touch "$M/file"
err_has 'Read-only file system'
expect_fail sh -c "echo more >>'$M/file'"
err_has 'Read-only file system'
expect_fail mkdir "$M/newdir"
err_has 'Read-only file system'
expect_fail rm "$M/file"
err_has 'Read-only file system'
expect_fail mv "$M/file" "$M/moved"
err_has 'Read-only file system'
expect_fail chmod 600 "$M/file"
err_has 'Read-only file system'
file_is "$M/file" 'data
'
absent "$M/new"
absent "$M/moved"
fs_umount
# The -o ro mount left the database as it was.
expect 0 "$W" "$DB" get file
out_is 'data
'
expect 1 "$W" "$DB" get new
exit 0
