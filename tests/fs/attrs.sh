#!/bin/sh
# attrs.sh -- metadata through the mount: chmod, chown, touch -d, kept
# across a remount (stat output compared); symlinks (ln -s, readlink, cat
# through one, a dangling one); a fifo (test -p); user.* extended
# attributes set, read, listed, removed and kept across a remount; and a
# file unlinked while open staying readable through the open descriptor.
. "$(dirname "$0")/lib/common.sh"

fs_mount -o create
M=$MNT
mkdir "$M/dir"
echo contents >"$M/dir/file"
echo other >"$M/plain"

# ---- mode, owner, times ----
chmod 600 "$M/dir/file" || fail "chmod 600 failed"
chmod 711 "$M/dir" || fail "chmod 711 dir failed"
chown 1234:2345 "$M/dir/file" || fail "chown 1234:2345 failed"
touch -d "2001-02-03 04:05:06" "$M/dir/file" || fail "touch -d failed"
touch -m -d "2010-01-01 00:00:00.5" "$M/plain" || fail "touch -m -d failed"
expect 0 stat -c '%a %u %g %y %x %F' "$M/dir/file"
out_is '600 1234 2345 2001-02-03 04:05:06.000000000 +0000 2001-02-03 04:05:06.000000000 +0000 regular file
'
expect 0 stat -c '%a %F' "$M/dir"
out_is '711 directory
'
expect 0 stat -c '%a %y' "$M/plain"
out_is '644 2010-01-01 00:00:00.500000000 +0000
'
expect 0 ls -l "$M/dir/file"
grep -q '^-rw------- 1 1234 2345 9 Feb  3  2001 ' "$T/out" || fail "ls -l says: $(cat "$T/out")"
file_is "$M/dir/file" 'contents
'
# A write keeps the mode and owner.
echo more >>"$M/dir/file"
expect 0 stat -c '%a %u %g %s' "$M/dir/file"
out_is '600 1234 2345 14
'

# futimens on a file still open for writing, as cp -p and tar x do: the
# time set is the one kept, not the time of the close.
python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"stamped\n")
os.fchmod(fd, 0o640)
t = 1046661783250000000  # 2003-03-03 03:23:03.25
os.utime(fd, ns=(t, t))
os.close(fd)' "$M/stamped" || fail "write + fchmod + futimens failed"
expect 0 stat -c '%a %y %s' "$M/stamped"
out_is '640 2003-03-03 03:23:03.250000000 +0000 8
'
# touch of an existing file: now.
before=$(date +%s)
touch "$M/plain"
expect 0 stat -c '%Y' "$M/plain"
[ "$(cat "$T/out")" -ge "$before" ] || fail "touch left mtime at $(cat "$T/out"), before $before"
touch -m -d "2010-01-01 00:00:00.5" "$M/plain"

# ---- symlinks ----
ln -s dir/file "$M/link" || fail "ln -s failed"
ln -s /nowhere/at/all "$M/dangling" || fail "ln -s (dangling) failed"
eq "readlink link" dir/file "$(readlink "$M/link")"
eq "readlink dangling" /nowhere/at/all "$(readlink "$M/dangling")"
file_is "$M/link" 'contents
more
'
[ -L "$M/link" ] || fail "link is not a symlink"
expect 0 stat -c '%F %s' "$M/link"
out_is 'symbolic link 8
'
expect 0 ls -l "$M/dangling"
out_has 'dangling -> /nowhere/at/all'
grep -q '^l' "$T/out" || fail "ls -l dangling: $(cat "$T/out")"
expect_fail cat "$M/dangling"
err_has 'No such file or directory'
# A symlink to a directory walks into it.
ln -s dir "$M/dirlink"
expect 0 ls "$M/dirlink/"
out_is 'file
'

# ---- a fifo ----
mkfifo "$M/fifo" || fail "mkfifo failed"
[ -p "$M/fifo" ] || fail "fifo is not a fifo: $(ls -l "$M/fifo")"
expect 0 stat -c '%F' "$M/fifo"
out_is 'fifo
'

# ---- extended attributes ----
setfattr -n user.color -v blue "$M/dir/file" || fail "setfattr user.color failed"
setfattr -n user.size -v 42 "$M/dir/file" || fail "setfattr user.size failed"
setfattr -n user.tag -v on-a-dir "$M/dir" || fail "setfattr on a directory failed"
expect 0 getfattr --only-values -n user.color "$M/dir/file"
out_is 'blue'
expect 0 getfattr -d --absolute-names "$M/dir/file"
out_is "# file: $M/dir/file
user.color=\"blue\"
user.size=\"42\"

"
setfattr -n user.color -v red "$M/dir/file" || fail "setfattr (replace) failed"
expect 0 getfattr --only-values -n user.color "$M/dir/file"
out_is 'red'
setfattr -x user.size "$M/dir/file" || fail "setfattr -x failed"
expect_fail getfattr -n user.size "$M/dir/file"
err_has 'No such attribute'
expect_fail setfattr -x user.never "$M/dir/file"
err_has 'No such attribute'
expect 0 getfattr --only-values -n user.tag "$M/dir"
out_is 'on-a-dir'
# A binary value.
setfattr -n user.bin -v 0x00ff10 "$M/plain" || fail "setfattr of a hex value failed"
expect 0 getfattr -e hex -n user.bin --absolute-names "$M/plain"
out_has 'user.bin=0x00ff10'

# ---- an unlinked file still open ----
echo 'still here' >"$M/doomed"
expect 0 sh -c "exec 3<'$M/doomed'; rm '$M/doomed'; cat <&3"
out_is 'still here
'
absent "$M/doomed"
# A writer's file removed while open: its descriptor still reads and
# writes, and the name stays gone after it closes.
cat >"$T/unlinked.py" <<'EOF'
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"written before unlink\n")
os.unlink(p)
assert not os.path.exists(p), "the name is still there"
os.write(fd, b"and after\n")
os.lseek(fd, 0, 0)
sys.stdout.write(os.read(fd, 1000).decode())
# ftruncate and fchmod on the descriptor work as on ext4 (nlink 0 now).
os.ftruncate(fd, 7)
os.fchmod(fd, 0o600)
st = os.fstat(fd)
assert st.st_size == 7 and st.st_nlink == 0, (st.st_size, st.st_nlink)
os.lseek(fd, 0, 0)
assert os.read(fd, 100) == b"written", "truncated contents"
os.ftruncate(fd, 10)
os.lseek(fd, 0, 0)
assert os.read(fd, 100) == b"written\0\0\0", "extended with zeros"
os.close(fd)
EOF
expect 0 python3 "$T/unlinked.py" "$M/doomed2"
out_is 'written before unlink
and after
'
absent "$M/doomed2"

# Snapshot, remount, compare.
snap() {
	(cd "$M" && stat -c '%n %a %u %g %s %F %X %Y %Z' dir dir/file plain stamped link dangling fifo dirlink &&
		readlink link dangling &&
		getfattr -d -e text dir dir/file plain 2>&1 && ls -A)
}
snap >"$T/before" || fail "stat before the remount failed"
fs_umount
fs_mount
snap >"$T/after" || fail "stat after the remount failed"
diff "$T/before" "$T/after" >"$T/diff" || fail "metadata changed across a remount: $(cat "$T/diff")"
file_is "$M/link" 'contents
more
'
expect 0 stat -c '%a %y %s' "$M/stamped"
out_is '640 2003-03-03 03:23:03.250000000 +0000 8
'
grep -q 'user.color="red"' "$T/after" || fail "user.color lost: $(cat "$T/after")"
grep -q 'user.tag="on-a-dir"' "$T/after" || fail "user.tag lost: $(cat "$T/after")"
exit 0
