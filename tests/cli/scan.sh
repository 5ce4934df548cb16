#!/bin/sh
# scan.sh -- scan with a prefix, --limit, --keys-only and --reverse, and the
# escaping: keys and values holding tabs, newlines, NULs, backslashes and
# high bytes are printed escaped, round-trip through load into another
# database, and can be named again with get.
. "$(dirname "$0")/lib/common.sh"
db=$T/db

printf 'apple\t1\napricot\t2\nbanana\t3\nb\t4\ncherry\t5\n' | "$W" "$db" load >/dev/null ||
	fail "load failed"

expect 0 "$W" "$db" scan
out_is "$(printf 'apple\t1\napricot\t2\nb\t4\nbanana\t3\ncherry\t5\n')
"
expect 0 "$W" "$db" scan ap
out_is "$(printf 'apple\t1\napricot\t2\n')
"
expect 0 "$W" "$db" scan b --keys-only
out_is 'b
banana
'
expect 0 "$W" "$db" scan --limit 2 --keys-only
out_is 'apple
apricot
'
expect 0 "$W" "$db" scan --limit=3 --reverse
out_is "$(printf 'cherry\t5\nbanana\t3\nb\t4\n')
"
expect 0 "$W" "$db" scan ap --reverse --keys-only
out_is 'apricot
apple
'
expect 0 "$W" "$db" scan --limit 0
out_is ''
expect 0 "$W" "$db" scan zzz
out_is ''
# An empty prefix means every key.
expect 0 "$W" "$db" scan '' --keys-only
[ "$(wc -l <"$T/out")" -eq 5 ] || fail "scan '' listed $(wc -l <"$T/out") keys, want 5"
# Deleted keys are not listed.
"$W" "$db" del banana || fail "del failed"
expect 0 "$W" "$db" scan b --keys-only
out_is 'b
'

# Escaping. Keys and values made of awkward bytes, written with put (raw
# bytes through stdin) so the escaping is not tested against itself.
db2=$T/db2
printf 'v\ttab' | "$W" "$db2" put 'k\ttab' - || fail "put tab"
printf 'v\nnewline\n' | "$W" "$db2" put 'k\nnewline' - || fail "put newline"
printf 'v\000nul' | "$W" "$db2" put 'k\x00nul' - || fail "put nul"
printf 'v\\back' | "$W" "$db2" put 'k\\back' - || fail "put backslash"
printf 'v\377\001\177' | "$W" "$db2" put 'k\xFFhigh' - || fail "put high bytes"
printf 'plain' | "$W" "$db2" put 'k plain' - || fail "put plain"
expect 0 "$W" "$db2" scan
# Byte order of the keys: 0x00, tab, newline, space, backslash, 0xff.
cat >"$T/want" <<'END'
k\x00nul	v\x00nul
k\ttab	v\ttab
k\nnewline	v\nnewline\n
k plain	plain
k\\back	v\\back
k\xffhigh	v\xff\x01\x7f
END
cmp -s "$T/want" "$T/out" || fail "escaped scan output is:
$(cat "$T/out")
want:
$(cat "$T/want")"
expect 0 "$W" "$db2" scan --keys-only --reverse
out_is 'k\xffhigh
k\\back
k plain
k\nnewline
k\ttab
k\x00nul
'
# A prefix with an escape.
expect 0 "$W" "$db2" scan 'k\x00' --keys-only
out_is 'k\x00nul
'

# Every byte value in keys and values survives scan | load.
i=0
while [ $i -lt 256 ]; do
	printf "\\$(printf %o $i)"
	i=$((i + 1))
done >"$T/all"
"$W" "$db2" put 'all\x00bytes' - <"$T/all" || fail "put all bytes"
"$W" "$db2" put "$(cat "$T/all" | tr -d '\000\n' | head -c 200 | sed 's/\\/\\\\/g')" x >/dev/null ||
	fail "put key of many bytes"
db3=$T/db3
"$W" "$db2" scan >"$T/dump" || fail "scan for dump failed"
expect 0 "$W" "$db3" load <"$T/dump"
out_is "loaded $(wc -l <"$T/dump" | tr -d ' ') keys
"
"$W" "$db3" scan >"$T/dump3" || fail "scan of the copy failed"
cmp -s "$T/dump" "$T/dump3" || fail "scan | load does not round-trip"
"$W" "$db3" get 'all\x00bytes' | cmp - "$T/all" || fail "all-bytes value differs after load"
printf 'v\000nul' >"$T/want"
"$W" "$db3" get 'k\x00nul' | cmp - "$T/want" || fail "NUL value differs after load"
printf 'v\nnewline\n' >"$T/want"
"$W" "$db3" get 'k\nnewline' | cmp - "$T/want" || fail "newline value differs after load"
exit 0
