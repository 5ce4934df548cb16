#!/bin/sh
# reclaim.sh -- removing files gives their space back while mounted: 40
# files of 300 KiB (their values land in the value log's active segment)
# are removed with rm -r, with nothing else written afterwards; within
# 30 s the value-log files of DBDIR shrink to under a quarter, the kept
# file reads back, and after a remount the removed files stay removed.
. "$(dirname "$0")/lib/common.sh"

vlog_bytes() {
	total=0
	for f in "$DB"/*.vlog; do
		[ -f "$f" ] || continue
		total=$((total + $(stat -c %s "$f")))
	done
	echo $total
}

head -c 307200 /dev/urandom >"$T/src"
head -c 100000 /dev/urandom >"$T/keep"
fs_mount -o create
mkdir "$MNT/d"
i=0
while [ $i -lt 40 ]; do
	cp "$T/src" "$MNT/d/f$i" || fail "cp f$i"
	i=$((i + 1))
done
cp "$T/keep" "$MNT/keep" || fail "cp keep"
before=$(vlog_bytes)
[ "$before" -ge 12000000 ] || fail "the value log holds $before bytes after 12 MB of files"

rm -r "$MNT/d" || fail "rm -r"
tries=0
while [ "$(vlog_bytes)" -gt $((before / 4)) ] && [ $tries -lt 150 ]; do
	sleep 0.2
	tries=$((tries + 1))
done
after=$(vlog_bytes)
echo "value log: $before bytes before rm -r, $after after $((tries / 5)) s"
[ "$after" -le $((before / 4)) ] || fail "the value log still holds $after of $before bytes 30 s after rm -r"
same_file "$T/keep" "$MNT/keep"
absent "$MNT/d"
fs_umount

fs_mount
same_file "$T/keep" "$MNT/keep"
absent "$MNT/d"
fs_umount
