#!/bin/sh
# concurrent.sh -- several clients at once, so that requests answered by the
# receiving thread (lookups, creates, small writes and commits) interleave
# with the ones handed to workers (writes and reads of 128 KiB and more,
# commits of big files, fsync, rename): four writers each copy files of
# 1 000 B, 300 KiB and 3 MiB in, fsync every third, and rename each into a
# shared directory, while a fifth client lists and stats it. Every file
# must arrive whole (cmp), in the mount and again after a remount, and
# every client must succeed. A second round with -o sync=always (every
# commit is synced, so flush and release go to workers too) ends with
# kill -9 of the daemon: every file whose close returned is there.
. "$(dirname "$0")/lib/common.sh"

JOBS=4
FILES=12 # per job
mkdir "$T/src"
head -c 1000 /dev/urandom >"$T/src/small"
head -c 307200 /dev/urandom >"$T/src/medium"
head -c 3145728 /dev/urandom >"$T/src/large"
sizes="small medium large"

M=$MNT

# writer J: copies FILES files into $M/jJ, then renames each into done/.
writer() {
	mkdir "$M/j$1" || return 1
	i=0
	while [ $i -lt $FILES ]; do
		for s in $sizes; do
			f="$M/j$1/$s.$i"
			if [ $((i % 3)) -eq 0 ]; then
				dd if="$T/src/$s" of="$f" bs=64k conv=fsync status=none || return 1
			else
				cp "$T/src/$s" "$f" || return 1
			fi
			cmp -s "$T/src/$s" "$f" || { echo "j$1: $f differs right after writing"; return 1; }
			mv "$f" "$M/done/j$1-$s.$i" || return 1
		done
		i=$((i + 1))
	done
	rmdir "$M/j$1"
}

# lister: lists and stats done/ (which only grows) until told to stop.
lister() {
	while [ ! -e "$T/stop" ]; do
		ls -l "$M/done" >/dev/null || return 1
		find "$M/done" -type f -exec stat -c %s {} + >/dev/null || return 1
	done
}

# round: the writers and the lister against an empty done/.
round() {
	rm -f "$T/stop"
	mkdir "$M/done" || fail "mkdir done"
	lister >"$T/lister.out" 2>&1 &
	lpid=$!
	pids=
	j=0
	while [ $j -lt $JOBS ]; do
		writer $j >"$T/writer.$j" 2>&1 &
		pids="$pids $!"
		j=$((j + 1))
	done
	j=0
	for p in $pids; do
		wait "$p" || fail "writer $j failed: $(cat "$T/writer.$j")"
		j=$((j + 1))
	done
	touch "$T/stop"
	wait $lpid || fail "the lister failed: $(cat "$T/lister.out")"
}

# check: every file in done/ has its source's bytes, and nothing else is there.
check() {
	eq "files in done ($1)" $((JOBS * FILES * 3)) "$(ls "$M/done" | wc -l)"
	j=0
	while [ $j -lt $JOBS ]; do
		i=0
		while [ $i -lt $FILES ]; do
			for s in $sizes; do
				same_file "$T/src/$s" "$M/done/j$j-$s.$i"
			done
			i=$((i + 1))
		done
		absent "$M/j$j"
		j=$((j + 1))
	done
}
fs_mount -o create
round
check "mounted"
fs_umount
fs_mount
check "after a remount"
rm -r "$M/done" || fail "rm -r done"
fs_umount

fs_mount -o sync=always
round
check "sync=always"
kill -9 "$fs_pid"
wait_gone "$fs_pid" 5 || fail "wombatfs survived kill -9"
fusermount3 -uz "$MNT" || fail "fusermount3 -uz of the dead mount failed"
fs_mount
check "after kill -9 with sync=always"
fs_umount
