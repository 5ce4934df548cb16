#!/bin/sh
# vlog.sh -- large values through the CLI: `put KEY -` streams stdin into
# the value log (a 24 MiB value, more than the 1 MiB read buffer), `get`
# streams it back in pieces, `gc` reclaims the segments an overwrite left
# behind and says how many bytes, `stats` lists the segments, `verify`
# checks them.
. "$(dirname "$0")/lib/common.sh"
db=$T/db

head -c 25165824 /dev/urandom >"$T/big"
expect 0 "$W" "$db" put big - <"$T/big"
err_empty
"$W" "$db" get big >"$T/got" || fail "get big failed"
cmp "$T/big" "$T/got" || fail "streamed value differs"
ls "$db" | grep -q '\.vlog$' || fail "no value-log segment after a large put"

# The same through a pipe, then overwritten: the old segment is garbage.
cat "$T/big" | "$W" "$db" put piped - || fail "put from a pipe failed"
"$W" "$db" get piped | cmp - "$T/big" || fail "piped value differs"
expect 0 "$W" "$db" put piped small
expect 0 "$W" "$db" put big smaller
expect 0 "$W" "$db" gc
grep -q '^reclaimed [1-9][0-9]* bytes$' "$T/out" || fail "gc reclaimed nothing: $(cat "$T/out")"
expect 0 "$W" "$db" get piped
out_is small
expect 0 "$W" "$db" get big
out_is smaller

# A value of exactly 1 MiB (the read buffer) and one just past it.
head -c 1048576 /dev/urandom >"$T/m"
expect 0 "$W" "$db" put m - <"$T/m"
"$W" "$db" get m | cmp - "$T/m" || fail "1 MiB value differs"
head -c 1048577 /dev/urandom >"$T/m1"
expect 0 "$W" "$db" put m1 - <"$T/m1"
"$W" "$db" get m1 | cmp - "$T/m1" || fail "1 MiB + 1 value differs"

expect 0 "$W" "$db" stats
grep -q '^value log:' "$T/out" || fail "stats without the value log"
expect 0 "$W" "$db" stats --json
grep -q '"vlog":{"segments":' "$T/out" || fail "stats --json without the value log"
expect 0 "$W" "$db" verify
exit 0
