#!/bin/sh
# put_get.sh -- put/get/del round trips: plain and binary values (stdin),
# empty values, overwrites, escaped keys, a missing key (exit 1 with the
# documented message), and values surviving from one process to the next.
. "$(dirname "$0")/lib/common.sh"
db=$T/db

# put creates the database when it is missing.
expect 0 "$W" "$db" put greeting hello
err_empty
expect 0 "$W" "$db" get greeting
out_is hello

expect 0 "$W" "$db" put greeting 'hello again'
expect 0 "$W" "$db" get greeting
out_is 'hello again'

# VALUE on the command line is stored as given: no unescaping.
expect 0 "$W" "$db" put literal 'a\tb'
expect 0 "$W" "$db" get literal
out_is 'a\tb'

# A binary value of every byte, NULs included, through stdin.
head -c 300000 /dev/urandom >"$T/bin"
i=0
while [ $i -lt 256 ]; do
	printf "\\$(printf %o $i)"
	i=$((i + 1))
done >>"$T/bin"
expect 0 "$W" "$db" put blob - <"$T/bin"
"$W" "$db" get blob >"$T/got" || fail "get blob failed"
cmp "$T/bin" "$T/got" || fail "binary value differs after put/get"

# The same through a pipe (no size known in advance).
cat "$T/bin" | "$W" "$db" put piped - || fail "put from a pipe failed"
"$W" "$db" get piped | cmp - "$T/bin" || fail "piped value differs"

# Empty values.
expect 0 "$W" "$db" put empty ''
expect 0 "$W" "$db" get empty
[ ! -s "$T/out" ] || fail "empty value came back as $(wc -c <"$T/out") bytes"
expect 0 "$W" "$db" put empty2 - </dev/null
expect 0 "$W" "$db" get empty2
[ ! -s "$T/out" ] || fail "empty stdin value came back non-empty"

# Keys with escaped bytes can be named on the command line.
expect 0 "$W" "$db" put 'a\x00b' nul
expect 0 "$W" "$db" put 'a\x00B' other
expect 0 "$W" "$db" get 'a\x00b'
out_is nul
expect 0 "$W" "$db" get 'a\x00B'
out_is other
expect 0 "$W" "$db" put 'back\\slash\tand tab' bt
expect 0 "$W" "$db" get 'back\\slash\tand tab'
out_is bt
# Raw bytes given on the command line are the same key as their escapes.
expect 0 "$W" "$db" put "$(printf 'raw\ttab\001')" raw
expect 0 "$W" "$db" get 'raw\ttab\x01'
out_is raw

# A missing key: exit 1, one line on stderr, nothing on stdout.
expect 1 "$W" "$db" get nosuchkey
[ "$(cat "$T/err")" = "wombat: nosuchkey: not found" ] ||
	fail "missing key message is '$(cat "$T/err")'"
[ ! -s "$T/out" ] || fail "get of a missing key wrote to stdout"

# del removes; deleting a missing key is fine.
expect 0 "$W" "$db" del greeting
expect 1 "$W" "$db" get greeting
err_has "greeting: not found"
expect 0 "$W" "$db" del greeting
expect 0 "$W" "$db" del never-existed

# Everything else is still there after all those opens and closes.
expect 0 "$W" "$db" get literal
out_is 'a\tb'
"$W" "$db" get blob | cmp - "$T/bin" || fail "blob changed"

# Each sync mode works.
for mode in always interval none; do
	expect 0 "$W" --sync=$mode "$db" put "sync-$mode" $mode
	expect 0 "$W" "$db" get "sync-$mode"
	out_is $mode
done
exit 0
