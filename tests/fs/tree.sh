#!/bin/sh
# tree.sh -- whole trees in and out: cp -r of a real header tree then diff
# -r; tar into the mount and out of it, diff -r both; cp -a and tar xp keep
# modes, mtimes and symlinks; du -s; find | wc -l counts; rm -rf of a
# 20-level deep tree leaves nothing; all still the same after a remount,
# and rm -rf of everything leaves no key behind.
. "$(dirname "$0")/lib/common.sh"

# A real tree: two subdirectories of /usr/include/linux (~550 KiB, ~100 files),
# or a tree of our own when that is missing.
src=$T/src
mkdir "$src"
if [ -d /usr/include/linux/netfilter ] && [ -d /usr/include/linux/usb ]; then
	cp -r /usr/include/linux/netfilter /usr/include/linux/usb "$src/" || fail "copying the source tree"
else
	for d in a b c; do
		mkdir -p "$src/$d/sub"
		for i in 1 2 3 4 5; do
			head -c $((i * 1000)) /dev/urandom >"$src/$d/f$i"
			echo "$d $i" >"$src/$d/sub/g$i.h"
		done
	done
fi
nfiles=$(find "$src" | wc -l)
[ "$nfiles" -gt 10 ] || fail "source tree has only $nfiles entries"

fs_mount -o create
M=$MNT

# cp -r into the mount.
cp -r "$src" "$M/copy" || fail "cp -r into the mount failed"
expect 0 diff -r "$src" "$M/copy"
eq "find | wc -l of the copy" "$nfiles" "$(find "$M/copy" | wc -l)"
eq "files in the copy" "$(find "$src" -type f | wc -l)" "$(find "$M/copy" -type f | wc -l)"
eq "directories in the copy" "$(find "$src" -type d | wc -l)" "$(find "$M/copy" -type d | wc -l)"

# tar into the mount ...
(cd "$src" && tar cf - .) | (mkdir "$M/untar" && cd "$M/untar" && tar xf -) ||
	fail "tar into the mount failed"
expect 0 diff -r "$src" "$M/untar"
# ... and out of it.
mkdir "$T/out.tree"
(cd "$M/untar" && tar cf - .) | (cd "$T/out.tree" && tar xf -) || fail "tar out of the mount failed"
expect 0 diff -r "$src" "$T/out.tree"

# Modes, mtimes and symlinks come along with cp -a and tar xp (tar keeps
# whole seconds), and stay after a remount (checked below).
meta=$T/meta
mkdir -p "$meta/priv/sub" "$meta/shared"
echo secret >"$meta/priv/key"
echo run >"$meta/shared/tool"
echo old >"$meta/priv/sub/old"
ln -s ../shared/tool "$meta/priv/link"
chmod 600 "$meta/priv/key"
chmod 755 "$meta/shared/tool"
chmod 640 "$meta/priv/sub/old"
touch -h -d '2003-03-03 03:03:03.25' "$meta/priv/link"
touch -d '2001-01-01 01:01:01.5' "$meta/priv/key" "$meta/priv/sub/old"
touch -d '2002-02-02 02:02:02' "$meta/shared/tool"
chmod 750 "$meta/priv/sub"
chmod 700 "$meta/priv"
touch -d '2004-04-04 04:04:04.125' "$meta/priv/sub" "$meta/priv" "$meta/shared"
# listing DIR FMT: every entry's path and FMT (find -printf), sorted.
listing() {
	(cd "$1" && find . -printf "%P $2\n" | sort)
}
cp -a "$meta" "$M/meta.cp" || fail "cp -a into the mount failed"
(cd "$meta" && tar cf - .) | (mkdir "$M/meta.tar" && cd "$M/meta.tar" && tar xpf -) ||
	fail "tar xp into the mount failed"
listing "$meta" '%y %m %T@ %l' >"$T/meta.want"
listing "$M/meta.cp" '%y %m %T@ %l' >"$T/meta.got"
diff "$T/meta.want" "$T/meta.got" >"$T/diff" || fail "cp -a lost metadata (want, got): $(cat "$T/diff")"
listing "$meta" '%y %m %Ts %l' >"$T/meta.want.s"
listing "$M/meta.tar" '%y %m %Ts %l' >"$T/meta.got.s"
diff "$T/meta.want.s" "$T/meta.got.s" >"$T/diff" || fail "tar xp lost metadata (want, got): $(cat "$T/diff")"
nsrc=$nfiles
nmeta=$(find "$meta" | wc -l)

# du: the copy takes about what the source does, never nothing.
want_kb=$(du -s --apparent-size "$src" | cut -f1)
got_kb=$(du -s --apparent-size "$M/copy" | cut -f1)
[ "$got_kb" -gt 0 ] || fail "du -s of the copy says $got_kb"
[ "$got_kb" -ge $((want_kb / 2)) ] && [ "$got_kb" -le $((want_kb * 2)) ] ||
	fail "du -s --apparent-size: copy $got_kb KiB, source $want_kb KiB"
blocks_kb=$(du -s "$M/copy" | cut -f1)
[ "$blocks_kb" -gt 0 ] || fail "du -s (blocks) of the copy says $blocks_kb"

# A 20-level deep tree, a file at every level.
p=$M/deep
for i in $(seq 1 20); do
	p=$p/level$i
done
mkdir -p "$p" || fail "mkdir -p of 20 levels failed"
q=$M/deep
for i in $(seq 1 20); do
	q=$q/level$i
	echo "$i" >"$q/file" || fail "writing at level $i"
done
file_is "$p/file" '20
'
eq "entries of the deep tree" 41 "$(find "$M/deep" | wc -l)"
rm -rf "$M/deep" || fail "rm -rf of the deep tree failed"
absent "$M/deep"
expect 0 ls "$M"
out_is 'copy
meta.cp
meta.tar
untar
'
eq "entries of the mount" $((2 * nsrc + 2 * nmeta + 1)) "$(find "$M" | wc -l)"

# The same after a remount, and rm -rf of everything leaves an empty mount.
fs_umount
fs_mount
expect 0 diff -r "$src" "$M/copy"
expect 0 diff -r "$src" "$M/untar"
listing "$M/meta.cp" '%y %m %T@ %l' >"$T/meta.got"
diff "$T/meta.want" "$T/meta.got" >"$T/diff" || fail "cp -a copy changed on remount: $(cat "$T/diff")"
listing "$M/meta.tar" '%y %m %Ts %l' >"$T/meta.got.s"
diff "$T/meta.want.s" "$T/meta.got.s" >"$T/diff" || fail "tar copy changed on remount: $(cat "$T/diff")"
rm -rf "$M/copy" "$M/untar" "$M/meta.cp" "$M/meta.tar" || fail "rm -rf of the copies failed"
expect 0 ls -A "$M"
out_is ''
fs_umount
# Nothing is left in the store either.
expect 0 "$W" "$DB" scan --keys-only
out_is ''
exit 0
