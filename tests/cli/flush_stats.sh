#!/bin/sh
# flush_stats.sh -- flush writes an SSTable that stats then shows at L0, in
# text and in JSON; both commands refuse a missing database.
. "$(dirname "$0")/lib/common.sh"
db=$T/db

awk 'BEGIN { for (i = 0; i < 5000; i++) printf "k%05d\tv%d\n", i, i }' |
	"$W" "$db" load >/dev/null || fail "load failed"

expect 0 "$W" "$db" stats
out_has "L0"
expect 0 "$W" "$db" flush
err_empty
out_is ''
ls "$db"/*.sst >/dev/null 2>&1 || fail "no .sst file after flush: $(ls "$db")"

expect 0 "$W" "$db" stats
l0=$(awk '$1 == "L0" { print $2 }' "$T/out")
[ -n "$l0" ] || fail "stats has no L0 line: $(cat "$T/out")"
[ "$l0" -ge 1 ] || fail "stats shows $l0 files at L0 after flush: $(cat "$T/out")"

expect 0 "$W" "$db" stats --json
grep -q '^{.*}$' "$T/out" || fail "stats --json is not one object: $(cat "$T/out")"
grep -q '"level":0,"files":[1-9]' "$T/out" || fail "stats --json shows no L0 file: $(cat "$T/out")"
# The error state and the disk reserve (made by load, a read-write open).
out_has '"background_error":null'
out_has '"disk_reserve":{"file":"RESERVE","bytes":8388608'
expect 0 "$W" "$db" stats
out_has 'background error: none'
out_has 'disk reserve: 8388608 bytes in RESERVE'

# The data is still all there, read back from the table.
expect 0 "$W" "$db" get k04999
out_is v4999
[ "$("$W" "$db" scan | wc -l)" -eq 5000 ] || fail "scan after flush lost keys"

# A missing database is reported, not created.
expect 1 "$W" "$T/none" flush
err_has "no database here"
expect 1 "$W" "$T/none" stats
err_has "no database here"
[ ! -e "$T/none" ] || fail "flush or stats created a database"
exit 0
