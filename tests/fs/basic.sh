#!/bin/sh
# basic.sh -- a file's life through the mount, with everyday tools: echo and
# cat, ls -la, stat (size, mode, type), find, overwrite, append (>>),
# truncate -s both ways, a sparse write with dd seek= whose hole reads as
# zeros (compared with the same dd on /tmp), and O_EXCL (set -C) refusing an
# existing file. Every check is redone after a remount: the store kept it.
. "$(dirname "$0")/lib/common.sh"

fs_mount -o create
M=$MNT

# An empty mount lists nothing but . and ..
expect 0 ls -A "$M"
out_is ''

echo hello >"$M/greeting" || fail "echo > greeting failed"
file_is "$M/greeting" 'hello
'
expect 0 stat -c '%s|%a|%F|%h' "$M/greeting"
out_is '6|644|regular file|1
'
expect 0 stat -c '%a|%F' "$M"
out_is '755|directory
'

mkdir "$M/docs" || fail "mkdir docs failed"
printf 'one\ntwo\n' >"$M/docs/list.txt" || fail "write docs/list.txt failed"
: >"$M/docs/empty" || fail "creating an empty file failed"
expect 0 ls -la "$M"
out_has ' .
'
out_has ' ..
'
grep -q '^drwxr-xr-x .* docs$' "$T/out" || fail "ls -la lacks docs as a 0755 directory: $(cat "$T/out")"
grep -q '^-rw-r--r-- .* 6 .* greeting$' "$T/out" || fail "ls -la lacks greeting, 0644, 6 bytes: $(cat "$T/out")"
expect 0 ls "$M/docs"
out_is 'empty
list.txt
'
expect 0 stat -c '%s' "$M/docs/empty"
out_is '0
'
(cd "$M" && find . | sort) >"$T/got" || fail "find failed"
printf '.\n./docs\n./docs/empty\n./docs/list.txt\n./greeting\n' >"$T/want"
same_file "$T/want" "$T/got"
expect 0 find "$M" -type f -name '*.txt'
out_is "$M/docs/list.txt
"

# Overwrite: the new contents replace the old ones entirely.
echo bye >"$M/greeting"
file_is "$M/greeting" 'bye
'
expect 0 stat -c '%s' "$M/greeting"
out_is '4
'
# Append.
echo again >>"$M/greeting"
echo 'and again' >>"$M/greeting"
file_is "$M/greeting" 'bye
again
and again
'

# truncate: shrink, then grow (the new bytes read as zeros).
printf '0123456789' >"$M/trunc"
truncate -s 4 "$M/trunc" || fail "truncate -s 4 failed"
file_is "$M/trunc" '0123'
truncate -s 8 "$M/trunc" || fail "truncate -s 8 failed"
printf '0123\0\0\0\0' >"$T/want"
same_file "$T/want" "$M/trunc"
truncate -s 0 "$M/trunc"
expect 0 stat -c '%s' "$M/trunc"
out_is '0
'

# Sparse: a block far past the end, then one in the hole; the same dd
# commands on /tmp make the reference.
head -c 4096 /dev/urandom >"$T/chunk"
head -c 100 /dev/urandom >"$T/small"
for f in "$T/ref" "$M/sparse"; do
	dd if="$T/chunk" of="$f" bs=4096 seek=300 conv=notrunc status=none || fail "dd seek=300 into $f"
	dd if="$T/small" of="$f" bs=100 seek=7 conv=notrunc status=none || fail "dd seek=7 into $f"
done
same_file "$T/ref" "$M/sparse"
expect 0 stat -c '%s' "$M/sparse"
out_is "$((301 * 4096))
"
# The hole itself, read on its own: zeros.
dd if="$M/sparse" bs=4096 skip=10 count=5 status=none | cmp -s - /dev/zero -n 20480 ||
	fail "bytes in the hole of sparse do not read as zeros"
# A big file (past the in-memory buffer of a writer, 16 MiB), copied in.
head -c $((20 * 1024 * 1024 + 123)) /dev/urandom >"$T/big"
cp "$T/big" "$M/big" || fail "cp of a 20 MiB file failed"
same_file "$T/big" "$M/big"

# O_EXCL: the shell's noclobber refuses an existing file, and leaves it.
expect_fail sh -c "set -C; echo clobbered >'$M/greeting'"
err_has 'File exists'
file_is "$M/greeting" 'bye
again
and again
'
# ... but creates a new one.
expect 0 sh -c "set -C; echo fresh >'$M/fresh'"
file_is "$M/fresh" 'fresh
'

# Everything again after a remount.
fs_umount
fs_mount
file_is "$M/greeting" 'bye
again
and again
'
file_is "$M/fresh" 'fresh
'
file_is "$M/docs/list.txt" 'one
two
'
same_file "$T/ref" "$M/sparse"
same_file "$T/big" "$M/big"
expect 0 stat -c '%s|%a|%F' "$M/docs/empty" "$M/trunc" "$M/docs"
out_is '0|644|regular empty file
0|644|regular empty file
4096|755|directory
'
(cd "$M" && find . | sort) >"$T/got" || fail "find failed"
printf '.\n./big\n./docs\n./docs/empty\n./docs/list.txt\n./fresh\n./greeting\n./sparse\n./trunc\n' >"$T/want"
same_file "$T/want" "$T/got"
exit 0
