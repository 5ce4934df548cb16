#!/bin/sh
# verify.sh -- verify passes on a healthy database and, after one byte in
# the middle of an SSTable is changed, fails naming that table.
. "$(dirname "$0")/lib/common.sh"
db=$T/db

# Enough data for the middle of the table to be inside a data block.
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "key%06d\tsome value number %d, padded out a little\n", i, i }' |
	"$W" "$db" load >/dev/null || fail "load failed"
"$W" "$db" flush || fail "flush failed"

expect 0 "$W" "$db" verify
grep -q '^ok: [1-9][0-9]* files checked$' "$T/out" || fail "verify printed '$(cat "$T/out")'"
err_empty # stderr is not a terminal: no progress lines

sst=$(ls "$db"/*.sst | head -n 1)
[ -f "$sst" ] || fail "no .sst file"
size=$(wc -c <"$sst")
off=$((size / 2))
old=$(dd if="$sst" bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
# Any byte other than the one there now (101 is 'e', 65 is 'A').
if [ "$old" = 65 ]; then new='\145'; else new='\101'; fi
printf "$new" | dd of="$sst" bs=1 seek=$off count=1 conv=notrunc 2>/dev/null ||
	fail "could not change the byte at $off of $sst"
[ "$(dd if="$sst" bs=1 skip=$off count=1 2>/dev/null | od -An -tu1 | tr -d ' ')" != "$old" ] ||
	fail "the byte did not change"

run "$W" "$db" verify
[ "$status" -ne 0 ] || fail "verify passed on a damaged table"
err_has "$(basename "$sst")"
err_has "offset"
grep -q '^wombat: ' "$T/err" || fail "verify error is not prefixed: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "verify error is not one line: $(cat "$T/err")"
exit 0
