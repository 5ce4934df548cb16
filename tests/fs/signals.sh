#!/bin/sh
# signals.sh -- SIGTERM and SIGINT end a foreground (-f) wombatfs cleanly:
# it exits 0 within seconds, unmounts, closes the database (which then
# verifies and opens for the CLI), files closed before the signal are
# intact, and a file still open for writing -- its writes sent, no close
# yet -- is committed at shutdown as main.c promises.
. "$(dirname "$0")/lib/common.sh"

# start_fg [options]: wombatfs -f in the background; sets $dpid.
start_fg() {
	# A background job of a script starts with SIGINT ignored, and
	# libfuse leaves ignored signals alone: restore the default first.
	python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$FSD" "$DB" "$MNT" -f "$@" >"$T/daemon.out" 2>&1 &
	dpid=$!
	cleanup="kill -9 $dpid 2>/dev/null;"
	mounted="$mounted $MNT"
	wait_mounted "$MNT" 10 || fail "wombatfs -f did not mount within 10s: $(cat "$T/daemon.out")"
}

# stop_fg SIGNAL: sends it and checks the daemon exits 0 within 5 seconds.
stop_fg() {
	kill -"$1" "$dpid" || fail "kill -$1 $dpid failed"
	wait_gone "$dpid" 5 || fail "wombatfs -f still running 5s after SIG$1"
	wait "$dpid"
	st=$?
	cleanup=
	[ "$st" -eq 0 ] || fail "wombatfs -f exited $st after SIG$1: $(cat "$T/daemon.out")"
	mountpoint -q "$MNT" && fail "$MNT is still mounted after SIG$1"
	return 0
}

start_fg -o create
head -c 500000 /dev/urandom >"$T/closed"
cp "$T/closed" "$MNT/closed" || fail "cp closed failed"
mkdir "$MNT/d"
echo 'small' >"$MNT/d/small"

# A writer that keeps its file open: it writes (unbuffered, so the daemon
# has the bytes), says so, and waits to be killed.
head -c 70000 /dev/urandom >"$T/open"
python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
data = open(sys.argv[2], "rb").read()
os.write(fd, data[:50000])
os.write(fd, data[50000:])
open(sys.argv[3], "w").close()
time.sleep(60)' "$MNT/open" "$T/open" "$T/ready" 2>/dev/null &
holder=$!
cleanup="kill -9 $dpid $holder 2>/dev/null;"
n=100
until [ -e "$T/ready" ]; do
	n=$((n - 1))
	[ $n -gt 0 ] || fail "the writer did not get its data written"
	sleep 0.1
done
# While it is open, the mount shows the written bytes.
same_file "$T/open" "$MNT/open"

stop_fg TERM
kill -9 "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
expect 0 "$W" "$DB" verify
"$W" "$DB" get closed >"$T/got" || fail "wombat get closed failed"
same_file "$T/closed" "$T/got"
expect 0 "$W" "$DB" get d/small
out_is 'small
'
"$W" "$DB" get open >"$T/got" || fail "wombat get open failed: the open file was not saved at SIGTERM"
same_file "$T/open" "$T/got"

# SIGINT too, on a mount that already has data; then a normal mount sees it.
start_fg
file_is "$MNT/d/small" 'small
'
echo 'before sigint' >"$MNT/int"
stop_fg INT
expect 0 "$W" "$DB" verify
fs_mount
file_is "$MNT/int" 'before sigint
'
same_file "$T/closed" "$MNT/closed"
same_file "$T/open" "$MNT/open"
fs_umount
exit 0
