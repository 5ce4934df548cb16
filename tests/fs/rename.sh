#!/bin/sh
# rename.sh -- mv as people use it: a file, onto an existing file (which it
# replaces), into a directory, a nested directory; a directory of 10 000
# files (loaded with the CLI before mounting) moved at once, every file
# arriving with its contents, while a reader running `ls | wc -l` on both
# names only ever sees 0 or 10000 -- never part of it; mv -T; and the
# renameat2 flags through python ctypes: RENAME_NOREPLACE (EEXIST, nothing
# changed) and RENAME_EXCHANGE swapping a file and a directory; rm -rf of
# the 10 000 files at the end.
. "$(dirname "$0")/lib/common.sh"

N=10000
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "src/f%05d\tvalue %d\n", i, i }' >"$T/load"
expect 0 "$W" "$DB" load <"$T/load"
out_is "loaded $N keys
"
# What `grep -r '' .` prints for the tree: ./fNNNNN:value N
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "./f%05d:value %d\n", i, i }' >"$T/want.grep"

cat >"$T/renameat2.py" <<'EOF'
# renameat2.py FLAGS OLD NEW: renameat2(2); prints the errno name on failure.
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
r = libc.renameat2(AT_FDCWD, os.fsencode(sys.argv[2]), AT_FDCWD, os.fsencode(sys.argv[3]),
                   int(sys.argv[1]))
if r != 0:
    print(errno.errorcode[ctypes.get_errno()], file=sys.stderr)
    sys.exit(1)
EOF
RENAME_NOREPLACE=1
RENAME_EXCHANGE=2

fs_mount
M=$MNT

# ---- a directory of N files, atomically ----
eq "files in src before the move" $N "$(ls "$M/src" | wc -l)"
# The reader: each line "src-count dst-count" until told to stop.
: >"$T/counts"
(
	while [ ! -e "$T/stop" ]; do
		echo "$(ls "$M/src" 2>/dev/null | wc -l) $(ls "$M/dst" 2>/dev/null | wc -l)"
	done >"$T/counts"
) &
reader=$!
cleanup="kill $reader 2>/dev/null;"
# seen PATTERN: waits (10s at most) until the reader has written a line
# matching PATTERN.
seen() {
	n=100
	until grep -q "$1" "$T/counts"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}
seen "^$N 0\$" || fail "the reader did not see src: $(head -n 3 "$T/counts")"
mv "$M/src" "$M/dst" || fail "mv src dst failed"
seen "^0 $N\$"
touch "$T/stop"
wait $reader
cleanup=
[ -s "$T/counts" ] || fail "the reader saw nothing"
# src is listed before dst in each line, so a line is "N 0" (before the
# move), "0 N" (after), or "N N" (the move fell between the two ls). A
# partial count, or "0 0" (src gone before dst came), breaks atomicity.
bad=$(grep -v -e "^$N 0\$" -e "^0 $N\$" -e "^$N $N\$" "$T/counts" | head -n 5)
[ -z "$bad" ] || fail "a reader saw a partial rename (src dst counts): $bad"
grep -q "^0 $N\$" "$T/counts" || fail "the reader never saw the move done: $(tail -n 3 "$T/counts")"
grep -q "^$N " "$T/counts" || fail "the reader never saw src before the move: $(head -n 3 "$T/counts")"
# Once src is gone it stays gone.
sed -n "/^0 /,\$ p" "$T/counts" | grep -q "^$N " && fail "src came back after the move"
absent "$M/src"
eq "files in dst" $N "$(ls "$M/dst" | wc -l)"
(cd "$M/dst" && grep -r '' . | sort) >"$T/got.grep" || fail "reading dst failed"
same_file "$T/want.grep" "$T/got.grep"

# ---- files ----
echo first >"$M/a"
mv "$M/a" "$M/b" || fail "mv a b failed"
absent "$M/a"
file_is "$M/b" 'first
'
# Onto an existing file: replaced.
echo second >"$M/c"
mv "$M/c" "$M/b" || fail "mv c b (replacing b) failed"
absent "$M/c"
file_is "$M/b" 'second
'
# Into a directory, and back out under another name.
mkdir "$M/d"
mv "$M/b" "$M/d/" || fail "mv b d/ failed"
file_is "$M/d/b" 'second
'
mv "$M/d/b" "$M/e" || fail "mv d/b e failed"
file_is "$M/e" 'second
'
expect 0 ls -A "$M/d"
out_is ''

# A nested directory with a symlink, moved into another directory.
mkdir -p "$M/t/u/v"
echo deep >"$M/t/u/v/w"
ln -s v/w "$M/t/u/link"
mv "$M/t" "$M/d/t2" || fail "mv t d/t2 failed"
absent "$M/t"
file_is "$M/d/t2/u/v/w" 'deep
'
file_is "$M/d/t2/u/link" 'deep
'
eq "readlink of a moved symlink" v/w "$(readlink "$M/d/t2/u/link")"

# mv -T: a directory onto an empty directory replaces it, onto a
# non-empty one fails.
mkdir "$M/empty" "$M/full"
echo x >"$M/full/x"
mv -T "$M/d" "$M/empty" || fail "mv -T d empty failed"
absent "$M/d"
file_is "$M/empty/t2/u/v/w" 'deep
'
expect_fail mv -T "$M/empty" "$M/full"
err_has 'Directory not empty'
file_is "$M/full/x" 'x
'
# A directory into itself.
expect_fail python3 -c "import os, sys; os.rename(sys.argv[1], sys.argv[1] + '/inside')" "$M/full"
err_has 'Invalid argument'
# A file onto a directory, a directory onto a file.
expect_fail python3 -c "import os, sys; os.rename(sys.argv[1], sys.argv[2])" "$M/e" "$M/full"
err_has 'Is a directory'
expect_fail python3 -c "import os, sys; os.rename(sys.argv[1], sys.argv[2])" "$M/full" "$M/e"
err_has 'Not a directory'

# RENAME_NOREPLACE: refused with EEXIST, both left as they were; fine
# when the target is free.
echo keep >"$M/target"
expect_fail python3 "$T/renameat2.py" $RENAME_NOREPLACE "$M/e" "$M/target"
err_has EEXIST
file_is "$M/e" 'second
'
file_is "$M/target" 'keep
'
expect 0 python3 "$T/renameat2.py" $RENAME_NOREPLACE "$M/e" "$M/free"
absent "$M/e"
file_is "$M/free" 'second
'
# mv -n does not replace either.
mv -n "$M/free" "$M/target" 2>/dev/null
file_is "$M/target" 'keep
'
file_is "$M/free" 'second
'

# RENAME_EXCHANGE: a file and a directory swap names.
mkdir "$M/swapdir"
echo in-dir >"$M/swapdir/inner"
echo the-file >"$M/swapfile"
expect 0 python3 "$T/renameat2.py" $RENAME_EXCHANGE "$M/swapfile" "$M/swapdir"
[ -f "$M/swapdir" ] || fail "after the exchange swapdir is not a file"
[ -d "$M/swapfile" ] || fail "after the exchange swapfile is not a directory"
file_is "$M/swapdir" 'the-file
'
file_is "$M/swapfile/inner" 'in-dir
'
# Exchanging with nothing: ENOENT.
expect_fail python3 "$T/renameat2.py" $RENAME_EXCHANGE "$M/swapdir" "$M/nothing"
err_has ENOENT

# All of it after a remount, and in the store.
fs_umount
fs_mount
eq "files in dst after remount" $N "$(ls "$M/dst" | wc -l)"
absent "$M/src"
file_is "$M/target" 'keep
'
file_is "$M/swapdir" 'the-file
'
file_is "$M/swapfile/inner" 'in-dir
'
file_is "$M/empty/t2/u/link" 'deep
'
fs_umount
eq "keys under dst/" $N "$("$W" "$DB" scan dst/ --keys-only | wc -l)"
eq "keys under src/" 0 "$("$W" "$DB" scan src/ --keys-only | wc -l)"
expect 0 "$W" "$DB" get dst/f01234
out_is 'value 1234'
expect 0 "$W" "$DB" get swapdir
out_is 'the-file
'
# rm -rf of the 10 000 files: readdir while its entries go must miss none.
fs_mount
rm -rf "$M/dst" || fail "rm -rf dst failed"
absent "$M/dst"
# A name that starts with the old one is no move "below itself" for a
# file (only a directory's key is a prefix of what it holds).
echo p >"$M/pre"
mv "$M/pre" "$M/prefix" || fail "mv pre prefix failed"
file_is "$M/prefix" 'p
'
mkdir "$M/dd"
mv "$M/dd" "$M/dd2" || fail "mv dd dd2 failed"
expect_fail mv "$M/dd2" "$M/dd2/in"
err_has 'subdirectory of itself'
fs_umount
eq "keys under dst/ after rm -rf" 0 "$("$W" "$DB" scan dst/ --keys-only | wc -l)"
exit 0
