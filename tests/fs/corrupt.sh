#!/bin/sh
# corrupt.sh -- damage on disk is reported, never returned, and never
# silently costs later writes, as a person would meet it through the mount:
#   1. a byte changed inside a large file's value (its pointer in a table):
#      cat fails with EIO, `wombat get` fails naming the .vlog file and
#      offset; the bytes before the damaged 4 KiB block still read;
#   2. the same with the pointer still in the log after a clean unmount:
#      the mount is refused with a message naming the log record and the
#      value; `wombat repair` drops that one write and keeps the 50 files
#      written after it;
#   3. the newest log cut short after a clean unmount: refused, and repair
#      keeps what checks out.
. "$(dirname "$0")/lib/common.sh"

# flip FILE OFFSET: inverts the byte at OFFSET of FILE.
flip() {
	python3 -c '
import sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1)
f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0xff])); f.close()' "$1" "$2"
}

# The one value-log segment of $DB.
segment() {
	n=$(ls "$DB" | grep -c '\.vlog$')
	[ "$n" = 1 ] || fail "expected one .vlog file in $DB, found $n: $(ls "$DB")"
	echo "$DB/$(ls "$DB" | grep '\.vlog$')"
}

head -c 100000 /dev/urandom >"$T/big"
# Value byte 50000 is in block 12 (49152..53247); in the file it lies
# after the 16-byte segment header, the 24-byte entry header and 12 block
# checksums.
at=$((16 + 24 + 50000 + 4 * 12))

# ---- 1: pointer in a table ----
fs_mount -o create
cp "$T/big" "$MNT/big"
fs_umount
expect 0 "$W" "$DB" flush
flip "$(segment)" $at
fs_mount
expect_fail cat "$MNT/big"
grep -q "Input/output error" "$T/err" || fail "cat said: $(cat "$T/err")"
# The first 48 KiB are in sound blocks.
expect 0 dd if="$MNT/big" of="$T/part" bs=4096 count=12 status=none
head -c 49152 "$T/big" >"$T/want"
same_file "$T/want" "$T/part"
fs_umount
expect 1 "$W" "$DB" get big
grep -q '\.vlog offset [0-9]*: value block checksum mismatch' "$T/err" ||
	fail "wombat get said: $(cat "$T/err")"
expect 1 "$W" "$DB" verify
rm -rf "$DB"

# ---- 2: pointer in the log, clean unmount ----
fs_mount -o create
cp "$T/big" "$MNT/big"
mkdir "$MNT/later"
i=0
while [ $i -lt 50 ]; do
	printf 'file %d\n' $i >"$MNT/later/f$i"
	i=$((i + 1))
done
fs_umount
flip "$(segment)" $at
"$FSD" "$DB" "$MNT" >"$T/mount.err" 2>&1 && fail "a damaged database mounted"
mountpoint -q "$MNT" && fail "$MNT is mounted"
grep -q 'corruption detected' "$T/mount.err" || fail "wombatfs said: $(cat "$T/mount.err")"
grep -q '\.wal record [0-9]*' "$T/mount.err" || fail "no log record named: $(cat "$T/mount.err")"
grep -q '\.vlog offset' "$T/mount.err" || fail "no value named: $(cat "$T/mount.err")"
grep -q 'repair' "$T/mount.err" || fail "no way out named: $(cat "$T/mount.err")"
expect 0 "$W" "$DB" repair
grep -q "^dropped: .*\.wal record" "$T/out" || fail "repair said: $(cat "$T/out")"
grep -q '^repaired: 1 thing dropped' "$T/out" || fail "repair said: $(cat "$T/out")"
expect 0 "$W" "$DB" verify
fs_mount
i=0
while [ $i -lt 50 ]; do
	file_is "$MNT/later/f$i" "file $i
"
	i=$((i + 1))
done
# The damaged write is gone: the file is whatever it was before it (empty).
if [ -e "$MNT/big" ]; then
	[ "$(stat -c %s "$MNT/big")" = 0 ] || fail "big has $(stat -c %s "$MNT/big") bytes after repair"
fi
fs_umount
rm -rf "$DB"

# ---- 3: the newest log cut short after a clean unmount ----
fs_mount -o create
i=0
while [ $i -lt 200 ]; do
	printf 'file %d\n' $i >"$MNT/f$i"
	i=$((i + 1))
done
fs_umount
wal=$DB/$(ls "$DB" | grep '\.wal$' | tail -n 1)
size=$(stat -c %s "$wal")
truncate -s $((size / 2)) "$wal"
"$FSD" "$DB" "$MNT" >"$T/mount.err" 2>&1 && fail "a database with a cut log mounted"
grep -q 'closed cleanly' "$T/mount.err" || fail "wombatfs said: $(cat "$T/mount.err")"
expect 0 "$W" "$DB" repair
grep -q '^dropped: ' "$T/out" || fail "repair said: $(cat "$T/out")"
fs_mount
[ -f "$MNT/f0" ] || fail "f0 is gone: repair kept nothing"
file_is "$MNT/f0" 'file 0
'
fs_umount
expect 0 "$W" "$DB" verify
exit 0
