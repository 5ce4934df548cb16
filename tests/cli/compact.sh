#!/bin/sh
# compact.sh -- compact merges the tables into one level: after overwriting
# every key three times and deleting some, it leaves no L0 table, less data
# on disk than before, only the newest values, and no deleted key.
. "$(dirname "$0")/lib/common.sh"
db=$T/db

for round in 1 2 3; do
	awk -v r=$round 'BEGIN { for (i = 0; i < 20000; i++) printf "k%05d\tv%d-%d-%0100d\n", i, i, r, 0 }' |
		"$W" "$db" load >/dev/null || fail "load round $round failed"
done
for i in 00000 00007 19999; do
	"$W" "$db" del k$i || fail "del k$i"
done
before=$(cat "$db"/*.sst | wc -c)

expect 0 "$W" "$db" compact
out_has "compacted:"
expect 0 "$W" "$db" stats
l0=$(awk '$1 == "L0" { print $2 }' "$T/out")
[ "$l0" -eq 0 ] || fail "L0 still holds $l0 tables after compact: $(cat "$T/out")"
after=$(cat "$db"/*.sst | wc -c)
[ "$after" -lt "$before" ] || fail "compact did not shrink the tables ($before -> $after bytes)"

[ "$("$W" "$db" scan | wc -l)" -eq 19997 ] || fail "scan after compact: wrong number of keys"
expect 0 "$W" "$db" get k12345
out_is "v12345-3-$(printf '%0100d' 0)"
expect 1 "$W" "$db" get k00007
expect 0 "$W" "$db" verify

# A range, and a bad one.
expect 0 "$W" "$db" compact k1 k2
expect 2 "$W" "$db" compact a b c
