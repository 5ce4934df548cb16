#!/bin/sh
# interop.sh -- the mount and the CLI see one store. Files written through
# the mount are keys `wombat get` returns byte for byte after the unmount;
# keys put or loaded with the CLI are files with the right sizes and
# contents; keys that are no valid path show under their escaped names
# (names.h): "a//b" as a/%%/b, "x/./y" as x/%%./y, "d/.." as d/%%.., a file
# "f" beside the directory "f/" as %%f%, a component starting with "%%",
# one holding a NUL, one of 300 bytes (%%#hash#start, 255 bytes); reading
# them gives their values and writing through them writes those keys.
. "$(dirname "$0")/lib/common.sh"

# ---- the mount writes, the CLI reads ----
fs_mount -o create
M=$MNT
head -c 300000 /dev/urandom >"$T/bin"
cp "$T/bin" "$M/binary" || fail "cp binary failed"
printf 'line one\nline two\n' >"$M/text"
mkdir -p "$M/etc/conf.d"
printf 'x=1\n' >"$M/etc/conf.d/x.conf"
: >"$M/empty"
printf 'tab\there' >"$M/with space"
fs_umount
"$W" "$DB" get binary >"$T/got" || fail "wombat get binary failed"
same_file "$T/bin" "$T/got"
expect 0 "$W" "$DB" get text
out_is 'line one
line two
'
expect 0 "$W" "$DB" get etc/conf.d/x.conf
out_is 'x=1
'
expect 0 "$W" "$DB" get empty
out_is ''
expect 0 "$W" "$DB" get 'with space'
out_is "$(printf 'tab\there')"
# Directories are no user keys; files are exactly the keys.
expect 0 "$W" "$DB" scan --keys-only
out_is 'binary
empty
etc/conf.d/x.conf
text
with space
'

# ---- the CLI writes, the mount reads ----
printf 'a//b\tv-ab\nx/./y\tv-xy\nd/..\tv-dotdot\nf\tv-f\nf/g\tv-fg\n%%%%lit\tv-lit\nn\\x00ul\tv-nul\npct%%x\tv-pct\n/lead\tv-lead\nbin\\x00\\xff\tz\\x00\\x01\\xff\n' >"$T/load"
expect 0 "$W" "$DB" load <"$T/load"
out_is 'loaded 10 keys
'
long=$(printf '%300s' '' | tr ' ' L)
expect 0 "$W" "$DB" put "$long" v-long
# A long component that is a file and a directory at once.
mlong=$(printf '%260s' '' | tr ' ' M)
expect 0 "$W" "$DB" put "$mlong" v-mfile
expect 0 "$W" "$DB" put "$mlong/in" v-min
head -c 1048579 /dev/urandom >"$T/mib"
expect 0 "$W" "$DB" put mib - <"$T/mib"
expect 0 "$W" "$DB" put binary 'replaced by the CLI'

fs_mount
# longname CHAR COUNT [%]: the long name of a component of COUNT CHARs
# (with the shadow mark when asked), as names.h spells it.
longname() {
	python3 -c '
import sys
comp, mark = sys.argv[1].encode() * int(sys.argv[2]), sys.argv[3]
h = 0xcbf29ce484222325
for b in comp:
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
name = "%%%%#%016x#" % h
print(name + sys.argv[1] * (255 - len(name) - len(mark)) + mark)' "$@" ''
}
lname=$(longname L 300)
eq "length of the long name" 255 "${#lname}"
mdir=$(longname M 260)
mfile=$(longname M 260 %)
eq "length of a shadowed long name" 255 "${#mfile}"
# Looked up by name on a fresh mount (no listing first): the directory's
# name is the directory, the shadow name the file.
[ -d "$M/$mdir" ] || fail "the long directory name is not a directory"
[ -f "$M/$mfile" ] || fail "the long shadow name is not a file"
file_is "$M/$mfile" v-mfile
file_is "$M/$mdir/in" v-min
# Only the canonical spelling of a long name: not upper-case hex, not a
# shorter start.
upper=$(printf '%s' "$lname" | cut -c1-19 | tr a-f A-F)$(printf '%s' "$lname" | cut -c20-)
expect_fail cat "$M/$upper"
err_has 'No such file or directory'
expect_fail cat "$M/$(printf '%s' "$lname" | cut -c1-100)"
err_has 'No such file or directory'
expect_fail cat "$M/$(printf '%s' "$mdir" | cut -c1-250)%"
err_has 'No such file or directory'
# "bin" NUL 0xff: escaped for the NUL; the 0xff byte is a valid name byte.
bname=$(printf '%%%%bin%%00\377')
(cd "$M" && find . | sort) >"$T/got"
sort >"$T/want" <<EOF
.
./%%
./%%%25%25lit
./%%/lead
./%%f%
./%%n%00ul
./$lname
./$mdir
./$mdir/in
./$mfile
./a
./a/%%
./a/%%/b
./$bname
./binary
./d
./d/%%..
./empty
./etc
./etc/conf.d
./etc/conf.d/x.conf
./f
./f/g
./mib
./pct%x
./text
./with space
./x
./x/%%.
./x/%%./y
EOF
diff "$T/want" "$T/got" >"$T/diff" || fail "the tree differs (want, got): $(cat "$T/diff")"
file_is "$M/a/%%/b" v-ab
file_is "$M/x/%%./y" v-xy
file_is "$M/d/%%.." v-dotdot
file_is "$M/%%f%" v-f
file_is "$M/f/g" v-fg
file_is "$M/%%%25%25lit" v-lit
file_is "$M/%%n%00ul" v-nul
file_is "$M/pct%x" v-pct
file_is "$M/%%/lead" v-lead
file_is "$M/$lname" v-long
file_is "$M/binary" 'replaced by the CLI'
printf 'z\000\001\377' >"$T/want.bin"
same_file "$T/want.bin" "$M/$bname"
same_file "$T/mib" "$M/mib"
[ -d "$M/f" ] || fail "f is not a directory"
[ -f "$M/%%f%" ] || fail "%%f% is not a file"
# Sizes, as ls -l and stat show them.
expect 0 stat -c '%s %n' "$M/mib" "$M/%%f%" "$M/$lname" "$M/empty" "$M/$bname"
out_is "1048579 $M/mib
3 $M/%%f%
6 $M/$lname
0 $M/empty
4 $M/$bname
"
expect 0 ls -l "$M/a/%%/b"
out_has ' 4 '
# Names no key maps to: not there, and not creatable.
for bad in '%%f' '%%plain' '%%%41' '%%n%00%' '%%a%2f' '%%x%25%2525' '%%#zz#L'; do
	expect_fail cat "$M/$bad"
	err_has 'No such file or directory'
done
expect_fail touch "$M/%%plain"
err_has 'Invalid argument'
expect_fail touch "$M/%%g%"
err_has 'Invalid argument'

# ---- writing through escaped names ----
echo new-ab >"$M/a/%%/b" || fail "write a/%%/b failed"
echo new-f >"$M/%%f%" || fail "write %%f% failed"
echo >>"$M/$lname" more || fail "append to the long name failed"
echo new-dot >"$M/x/%%.." || fail "create x/%%.. (a new file named ..) failed"
echo nul2 >"$M/%%n%00ew" || fail "create %%n%00ew failed"
mkdir "$M/%%%25%25d" || fail "mkdir %%%25%25d failed"
echo inside >"$M/%%%25%25d/in" || fail "write into %%%25%25d failed"
file_is "$M/%%f%" 'new-f
'
file_is "$M/f/g" v-fg
fs_umount
expect 0 "$W" "$DB" get 'a//b'
out_is 'new-ab
'
expect 0 "$W" "$DB" get f
out_is 'new-f
'
expect 0 "$W" "$DB" get f/g
out_is v-fg
expect 0 "$W" "$DB" get "$long"
out_is 'v-longmore
'
expect 0 "$W" "$DB" get 'x/..'
out_is 'new-dot
'
expect 0 "$W" "$DB" get 'x/./y'
out_is v-xy
expect 0 "$W" "$DB" get 'n\x00ew'
out_is 'nul2
'
expect 0 "$W" "$DB" get '%%d/in'
out_is 'inside
'
exit 0
