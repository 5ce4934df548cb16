#!/bin/sh
# busy.sh -- while one process holds the database open (a load reading from
# a fifo that stays open), every other command fails at once with "in use
# by process PID"; once the holder finishes, its data is there.
. "$(dirname "$0")/lib/common.sh"
db=$T/db

"$W" "$db" put k v || fail "put failed"
mkfifo "$T/fifo" || fail "mkfifo failed"
"$W" "$db" load <"$T/fifo" >"$T/load.out" 2>"$T/load.err" &
pid=$!
cleanup='kill $pid 2>/dev/null'
exec 3>"$T/fifo" # unblocks the load's open of the fifo; keeps it open

# Wait until the load holds the lock. Not by trying a command: that could
# take the lock first and make the load fail. The holder writes its pid into
# LOCK once it has the lock.
i=0
until [ "$(cat "$db/LOCK" 2>/dev/null)" = "$pid" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the load never took the lock: $(cat "$T/load.err")"
	sleep 0.1
done

printf 'early\tone\n' >&3
for cmd in "get k" "put k2 v2" "del k" "scan" "load" "flush" "stats" "verify"; do
	# shellcheck disable=SC2086 # word splitting of $cmd is wanted
	run "$W" "$db" $cmd </dev/null
	[ "$status" -eq 1 ] || fail "'$cmd' on a busy database exited $status"
	err_has "is in use by process $pid"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "'$cmd': message is not one line: $(cat "$T/err")"
done

printf 'late\ttwo\n' >&3
exec 3>&-
wait $pid
st=$?
cleanup=
[ $st -eq 0 ] || fail "the holding load exited $st: $(cat "$T/load.err")"
[ "$(cat "$T/load.out")" = "loaded 2 keys" ] || fail "load printed '$(cat "$T/load.out")'"
expect 0 "$W" "$db" get late
out_is two
expect 1 "$W" "$db" get k2 # the busy put did not happen
exit 0
