#!/bin/sh
# links.sh -- hard links as ext4 has them: ln gives a file a second name
# with the same inode number and st_nlink 2 on both; a write through one
# name (appended, overwritten in place, cut by O_TRUNC) is read through
# the other; chmod through one shows on both; rm of one keeps the other
# (nlink back to 1); rename(2) of one name onto the other changes nothing;
# a large file (an object of many chunks) linked and written in place.
# Tools: cp -al of a tree, tar x of an archive with hard links and
# rsync -H keep the names linked. After a remount the links, numbers and
# counts are the same, and `wombat get` of either name gives the bytes.
. "$(dirname "$0")/lib/common.sh"

fs_mount -o create
M=$MNT

# ino_nlink PATH...: "ino nlink" of each.
ino_nlink() {
	stat -c '%i %h' "$@"
}

printf 'first\n' >"$M/a"
ino_a=$(stat -c %i "$M/a")
expect 0 ln "$M/a" "$M/b"
eq "ino and nlink of a" "$ino_a 2" "$(ino_nlink "$M/a")"
eq "ino and nlink of b" "$ino_a 2" "$(ino_nlink "$M/b")"
eq "ls -i lists both with one number" "$ino_a a
$ino_a b" "$(cd "$M" && ls -i a b | sed 's/^ *//')"

# Writes through one name, read through the other.
printf 'second\n' >>"$M/b"
file_is "$M/a" 'first
second
'
printf 'X' | dd of="$M/a" bs=1 seek=2 conv=notrunc 2>/dev/null
file_is "$M/b" 'fiXst
second
'
printf 'cut\n' >"$M/b" # O_TRUNC: the shared contents, not a new file for b
file_is "$M/a" 'cut
'
eq "sizes after O_TRUNC" "4 4" "$(stat -c %s "$M/a" "$M/b" | tr '\n' ' ' | sed 's/ $//')"
chmod 600 "$M/a"
eq "chmod shows through both" "600 600" "$(stat -c %a "$M/a" "$M/b" | tr '\n' ' ' | sed 's/ $//')"

# link onto a name that exists: EEXIST, nothing changed.
printf 'other\n' >"$M/c"
expect_fail ln "$M/a" "$M/c"
err_has 'File exists'
file_is "$M/c" 'other
'

# A third name in another directory; rm of one keeps the rest.
mkdir "$M/d"
expect 0 ln "$M/b" "$M/d/third"
eq "nlink with three names" "3 3 3" "$(stat -c %h "$M/a" "$M/b" "$M/d/third" | tr '\n' ' ' | sed 's/ $//')"
rm "$M/a"
absent "$M/a"
eq "after rm a" "$ino_a 2" "$(ino_nlink "$M/b")"
file_is "$M/d/third" 'cut
'

# rename(2) of a name onto another name of the same file: nothing changes.
expect 0 python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' "$M/b" "$M/d/third"
eq "both names stay" "$ino_a 2 $ino_a 2" "$(ino_nlink "$M/b" "$M/d/third" | tr '\n' ' ' | sed 's/ $//')"
# Renaming a linked name elsewhere keeps it linked.
mv "$M/d/third" "$M/moved"
eq "after mv" "$ino_a 2" "$(ino_nlink "$M/moved")"
printf 'via moved\n' >>"$M/moved"
file_is "$M/b" 'cut
via moved
'

# A large file: linked, then a page written in place through the link.
head -c 3000000 /dev/urandom >"$T/big"
cp "$T/big" "$M/big"
expect 0 ln "$M/big" "$M/big2"
printf 'PAGE' | dd of="$M/big2" bs=1 seek=1000000 conv=notrunc 2>/dev/null
printf 'PAGE' | dd of="$T/big" bs=1 seek=1000000 conv=notrunc 2>/dev/null
same_file "$T/big" "$M/big"
same_file "$T/big" "$M/big2"

# cp -al, tar and rsync -H: trees whose files share names.
mkdir -p "$T/src/x"
printf 'one\n' >"$T/src/x/f"
ln "$T/src/x/f" "$T/src/g"
printf 'two\n' >"$T/src/h"
ln "$T/src/h" "$T/src/x/h2"
(cd "$T/src" && tar cf "$T/tree.tar" .) || fail "tar c failed"
mkdir "$M/tarred"
expect 0 tar xf "$T/tree.tar" -C "$M/tarred"
eq "tar x keeps f and g linked" "$(stat -c %i "$M/tarred/x/f") 2" "$(ino_nlink "$M/tarred/g")"
eq "tar x keeps h and x/h2 linked" "$(stat -c %i "$M/tarred/h") 2" "$(ino_nlink "$M/tarred/x/h2")"
file_is "$M/tarred/g" 'one
'
expect 0 cp -al "$M/tarred" "$M/copy"
eq "cp -al: two more names" "$(stat -c %i "$M/tarred/g") 4" "$(ino_nlink "$M/copy/g")"
expect 0 rsync -aH "$T/src/" "$M/synced/"
eq "rsync -H keeps f and g linked" "$(stat -c %i "$M/synced/x/f") 2" "$(ino_nlink "$M/synced/g")"

# A symlink and a fifo get second names too (ln -P links the symlink).
ln -s target "$M/sym"
expect 0 ln -P "$M/sym" "$M/sym2"
eq "symlink names" "$(stat -c %i "$M/sym") 2" "$(ino_nlink "$M/sym2")"
eq "readlink of the second name" target "$(readlink "$M/sym2")"
mkfifo "$M/fifo"
expect 0 ln "$M/fifo" "$M/fifo2"
eq "fifo names" "$(stat -c %i "$M/fifo") 2 fifo" "$(stat -c '%i %h' "$M/fifo2") $(stat -c %F "$M/fifo2")"
rm "$M/sym"
eq "symlink after rm of one name" "1 target" "$(stat -c %h "$M/sym2") $(readlink "$M/sym2")"
rm "$M/sym2" "$M/fifo" "$M/fifo2"
absent "$M/sym2"

# The same after a remount, and through the CLI.
snap() {
	(cd "$M" && find . -type f | sort | while read -r f; do
		printf '%s %s\n' "$f" "$(stat -c '%i %h %a %s' "$f")"
	done)
}
snap >"$T/before"
fs_umount
fs_mount
snap >"$T/after"
diff "$T/before" "$T/after" >"$T/diff" || fail "links changed across a remount: $(cat "$T/diff")"
fs_umount
expect 0 "$W" "$DB" get moved
out_is 'cut
via moved
'
expect 0 "$W" "$DB" get b
out_is 'cut
via moved
'

# The last name going takes the file with it: no inode record is left.
fs_mount
rm "$M/b"
eq "one name left" "1" "$(stat -c %h "$M/moved")"
rm "$M/moved" "$M/big" "$M/big2"
rm -rf "$M/tarred" "$M/copy" "$M/synced"
fs_umount
expect 0 "$W" "$DB" scan --keys-only
out_is 'c
'
