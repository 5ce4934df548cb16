#!/bin/sh
# load_million.sh -- load 1 000 000 generated lines, then in new processes
# scan them all, spot-check values with get, and stop a scan early through
# a closed pipe without any error message.
. "$(dirname "$0")/lib/common.sh"
db=$T/db
n=1000000

awk -v n=$n 'BEGIN { for (i = 0; i < n; i++) printf "key%07d\tvalue-%d-%d\n", i, i, i * 7 }' >"$T/in"
expect 0 "$W" "$db" load <"$T/in"
out_is "loaded $n keys
"

lines=$("$W" "$db" scan | wc -l)
[ "$lines" -eq $n ] || fail "scan listed $lines entries, want $n"
lines=$("$W" "$db" scan --keys-only | wc -l)
[ "$lines" -eq $n ] || fail "scan --keys-only listed $lines keys, want $n"
"$W" "$db" scan | cmp -s - "$T/in" || fail "scan output differs from the loaded lines"

for i in 0 1 12345 499999 500000 777777 999999; do
	k=$(printf 'key%07d' $i)
	expect 0 "$W" "$db" get "$k"
	out_is "value-$i-$((i * 7))"
done
expect 1 "$W" "$db" get key1000000

expect 0 "$W" "$db" scan --reverse --limit 1
out_is "$(printf 'key0999999\tvalue-999999-6999993')
"
expect 0 "$W" "$db" scan key012345 --keys-only
[ "$(wc -l <"$T/out")" -eq 10 ] || fail "prefix key012345 listed $(wc -l <"$T/out") keys, want 10"

# The reader goes away early: no message, a clean exit.
{
	"$W" "$db" scan 2>"$T/err"
	echo $? >"$T/status"
} | head -n 3 >"$T/out"
[ "$(wc -l <"$T/out")" -eq 3 ] || fail "head got $(wc -l <"$T/out") lines"
err_empty
[ "$(cat "$T/status")" -eq 0 ] || fail "scan into a closed pipe exited $(cat "$T/status")"

# A write error that is not a closed pipe is reported.
if [ -w /dev/full ]; then
	run sh -c '"$1" "$2" scan --limit 100000 >/dev/full' sh "$W" "$db"
	[ "$status" -eq 1 ] || fail "scan to /dev/full exited $status"
	err_has "writing to stdout"
fi
exit 0
