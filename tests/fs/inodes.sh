#!/bin/sh
# inodes.sh -- inode numbers that last, and the times and counts ext4
# keeps. An entry keeps its number across renames (a file, a directory
# with its tree, a symlink, a key written through the CLI that has no
# record) and across remounts; every number in the tree is distinct; `ls
# -i`, `find -inum` and readdir's d_ino agree with stat. A directory's
# nlink (2 + subdirectories) survives a remount. tests/fs/posix_times.py
# checks the times of directories and files through every namespace
# change and write, directory link counts, log rotation and devices. A
# user other than root creates a file with mode 0 and ftruncates it
# through the descriptor (access is checked at open, as on ext4).
. "$(dirname "$0")/lib/common.sh"

# Keys written through the CLI have no attribute record: their numbers
# come from their names, and stay when the mount renames them.
printf 'api/one\tfirst\napi/two\tsecond\n' >"$T/load"
expect 0 "$W" --create "$DB" load <"$T/load"

fs_mount -o allow_other
M=$MNT

# num PATH: its inode number.
num() {
	stat -c %i "$1"
}

api_one=$(num "$M/api/one")
api_dir=$(num "$M/api")
mkdir -p "$M/tree/sub"
echo data >"$M/tree/sub/file"
ln -s sub/file "$M/tree/sym"
file=$(num "$M/tree/sub/file")
sub=$(num "$M/tree/sub")
sym=$(num "$M/tree/sym")
tree=$(num "$M/tree")

mv "$M/api/one" "$M/api/renamed"
eq "an API key renamed keeps its number" "$api_one" "$(num "$M/api/renamed")"
mv "$M/tree" "$M/moved"
eq "a directory renamed keeps its number" "$tree" "$(num "$M/moved")"
eq "a file in a renamed directory keeps its number" "$file" "$(num "$M/moved/sub/file")"
eq "a subdirectory in a renamed directory keeps its number" "$sub" "$(num "$M/moved/sub")"
mv "$M/moved/sym" "$M/sym"
eq "a symlink renamed keeps its number" "$sym" "$(num "$M/sym")"
eq "find -inum finds the file" "$M/moved/sub/file" "$(find "$M" -inum "$file")"
eq "ls -i agrees with stat" "$file file" "$(ls -i "$M/moved/sub" | sed 's/^ *//')"
# readdir's d_ino (os.scandir reads it without a stat).
expect 0 python3 -c '
import os, sys
for e in os.scandir(sys.argv[1]):
    print(e.name, e.inode() == os.lstat(e.path).st_ino)' "$M/moved"
out_is "sub True
"

# Numbers are distinct over the tree.
for i in 1 2 3 4 5 6 7 8 9 10; do : >"$M/moved/n$i"; mkdir "$M/moved/dir$i"; done
find "$M" | while read -r f; do stat -c %i "$f"; done | sort >"$T/nums"
eq "distinct inode numbers" "$(wc -l <"$T/nums")" "$(sort -u "$T/nums" | wc -l)"

mkdir "$M/counted" "$M/counted/a" "$M/counted/b"
stat -c '%n %i %h' "$M/api" "$M/api/renamed" "$M/api/two" "$M/moved" "$M/moved/sub" \
	"$M/moved/sub/file" "$M/sym" "$M/counted" >"$T/before"
fs_umount
fs_mount -o allow_other
stat -c '%n %i %h' "$M/api" "$M/api/renamed" "$M/api/two" "$M/moved" "$M/moved/sub" \
	"$M/moved/sub/file" "$M/sym" "$M/counted" >"$T/after"
diff "$T/before" "$T/after" >"$T/diff" || fail "numbers or counts changed across a remount: $(cat "$T/diff")"
eq "the API directory's number" "$api_dir" "$(num "$M/api")"
eq "nlink of a directory with two subdirectories" 4 "$(stat -c %h "$M/counted")"

# Times, counts, rotation, devices.
mkdir "$M/posix"
expect 0 python3 "$(dirname "$0")/posix_times.py" "$M/posix"

# Mode 0 at O_CREAT, then ftruncate through that descriptor, as a user.
mkdir "$M/open"
chmod 1777 "$M/open"
chmod 755 "$T" # (mktemp -d made it 0700: the user must reach the mount)
expect 0 setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0)
os.ftruncate(fd, 4096)
os.write(fd, b"written")
os.close(fd)
st = os.stat(sys.argv[1])
print(oct(st.st_mode & 0o777), st.st_size, st.st_uid)' "$M/open/zero"
out_is "0o0 4096 65534
"
fs_umount
