#!/bin/sh
# load.sh -- load's input rules: escapes, the first tab splits, a last line
# without a newline, later lines win, empty input; and a malformed line
# stops the load with its line number while the lines before it stay loaded.
. "$(dirname "$0")/lib/common.sh"
db=$T/db

expect 0 "$W" "$db" load </dev/null
out_is 'loaded 0 keys
'

printf 'a\t1\nb\tx\\ty\tz\nc\t\nd\\x41\tlast' | "$W" "$db" load >"$T/out" 2>"$T/err" ||
	fail "load failed: $(cat "$T/err")"
out_is 'loaded 4 keys
'
expect 0 "$W" "$db" get b
out_is "$(printf 'x\ty\tz')"
expect 0 "$W" "$db" get c
out_is ''
expect 0 "$W" "$db" get 'dA'
out_is last

# Later lines win.
printf 'dup\tfirst\ndup\tsecond\n' | "$W" "$db" load >/dev/null || fail "load dup failed"
expect 0 "$W" "$db" get dup
out_is second

# A line without a tab: lines 1-3 stay, line 4 and after are not loaded.
printf 'm1\tv1\nm2\tv2\nm3\tv3\nno tab here\nm5\tv5\n' >"$T/in"
expect 1 "$W" "$db" load <"$T/in"
err_has "line 4"
err_has "no tab"
err_has "3 keys before it were loaded"
for k in m1 m2 m3; do
	expect 0 "$W" "$db" get $k
done
expect 1 "$W" "$db" get m5

# A bad escape, in the value this time, past a batch boundary.
awk 'BEGIN { for (i = 1; i <= 2500; i++) printf "n%d\tv%d\n", i, i }' >"$T/in"
printf 'bad\tv\\q\n' >>"$T/in"
expect 1 "$W" "$db" load <"$T/in"
err_has "line 2501"
err_has "bad escape"
err_has "2500 keys before it were loaded"
expect 0 "$W" "$db" get n2500
out_is v2500

# An empty key.
printf 'e1\tv\n\tnokey\n' | "$W" "$db" load >"$T/out" 2>"$T/err" && fail "empty key loaded"
err_has "line 2: empty key"
exit 0
