#!/bin/sh
# sqlite.sh -- SQLite databases on the mount (Python's sqlite3 module,
# tests/fs/sqlite_txn.py; synchronous=FULL), in rollback-journal (delete)
# and WAL mode:
#   - 1 000 one-row transactions: PRAGMA integrity_check is ok and every
#     row is there with its bytes, the totals row and the index agree, no
#     journal is left behind; again after a remount, also through the
#     sqlite3 CLI;
#   - kill -9 of wombatfs in the middle of a run of transactions (after a
#     random number of commits, printed), fusermount3 -uz of the dead
#     mount, a remount: the database opens (WAL mode: recovers from its
#     WAL), integrity_check is ok, and the rows are exactly those of the
#     transactions 1..k, where k is the last one whose COMMIT the client
#     saw return (or the one after it, in flight at the kill); then 200
#     more transactions work on it.
# SQLITE_KILL_AT=N kills after N commits instead of a random 100..499.
. "$(dirname "$0")/lib/common.sh"

python3 -c 'import sqlite3' 2>"$T/err" ||
	fail "python3 has no sqlite3 module (tests/deps.sh installs python3): $(cat "$T/err")"
SQ="$(dirname "$0")/sqlite_txn.py"

fs_mount -o create
for mode in delete wal; do
	expect 0 python3 "$SQ" write "$MNT/$mode.db" $mode 1 1000 "$T/$mode.log"
	expect 0 python3 "$SQ" check "$MNT/$mode.db" 1000 1000
	out_is '1000
'
	absent "$MNT/$mode.db-journal"
done
fs_umount
fs_mount
for mode in delete wal; do
	expect 0 python3 "$SQ" check "$MNT/$mode.db" 1000 1000
	if command -v sqlite3 >/dev/null; then
		expect 0 sqlite3 "$MNT/$mode.db" 'PRAGMA integrity_check; SELECT count(*) FROM t;'
		out_is 'ok
1000
'
	fi
done
rm -f "$MNT"/*.db*

# lines FILE: how many lines FILE has (0 when it is missing).
lines() {
	[ -f "$1" ] && wc -l <"$1" | tr -d ' ' || echo 0
}

for mode in delete wal; do
	db="$MNT/kill-$mode.db"
	log="$T/kill-$mode.log"
	at=${SQLITE_KILL_AT:-$((100 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 400))}
	python3 "$SQ" write "$db" $mode 1 1000000 "$log" >"$T/writer.out" 2>&1 &
	wpid=$!
	cleanup="${cleanup:+$cleanup; }kill $wpid 2>/dev/null"
	n=0
	while [ "$(lines "$log")" -lt "$at" ]; do
		kill -0 $wpid 2>/dev/null || fail "$mode: the writer stopped before $at commits: $(cat "$T/writer.out")"
		n=$((n + 1))
		[ $n -lt 1200 ] || fail "$mode: fewer than $at commits in 120 s"
		sleep 0.1
	done
	kill -9 "$fs_pid"
	wait_gone "$fs_pid" 5 || fail "wombatfs survived kill -9"
	wait $wpid
	wst=$?
	[ $wst -ne 0 ] || fail "$mode: the writer finished a million transactions before the kill?"
	seen=$(tail -n 1 "$log")
	echo "$mode: killed the daemon after $(lines "$log") commits seen (asked $at); writer: $(cat "$T/writer.out") (status $wst)"
	fusermount3 -uz "$MNT" 2>"$T/err" || fail "fusermount3 -uz of the dead mount failed: $(cat "$T/err")"
	mountpoint -q "$MNT" && fail "$MNT is still mounted after -uz"
	fs_mount
	expect 0 python3 "$SQ" check "$db" "$seen" $((seen + 1))
	k=$(cat "$T/out")
	echo "$mode: after the remount: integrity ok, transactions 1..$k there"
	expect 0 python3 "$SQ" write "$db" $mode $((k + 1)) $((k + 200)) "$log"
	expect 0 python3 "$SQ" check "$db" $((k + 200)) $((k + 200))
done
fs_umount
exit 0
