#!/bin/sh
# bank.sh -- the bank command: transfers in transactions under both
# isolation levels keep the total ("invariant held", exit 0), the accounts
# are there afterwards and sum up, a rerun with fewer accounts replaces
# them, and bad arguments are usage errors that create nothing.
. "$(dirname "$0")/lib/common.sh"
db=$T/db

expect 0 "$W" "$db" bank --accounts 50 --threads 4 --seconds 1
out_has "invariant held: total 50000 in 50 accounts"
grep -q '^transfers [1-9][0-9]* ' "$T/out" || fail "no transfers made: $(cat "$T/out")"

expect 0 "$W" "$db" bank --accounts 8 --threads 3 --seconds 1 --isolation si
out_has "isolation si"
out_has "invariant held: total 8000 in 8 accounts"

# What the command left behind: 8 accounts holding 8000 in all.
expect 0 "$W" "$db" scan bank/
[ "$(wc -l <"$T/out")" -eq 8 ] || fail "scan bank/ lists $(wc -l <"$T/out") accounts, want 8"
total=$(awk -F '\t' '{ s += $2 } END { print s }' "$T/out")
[ "$total" -eq 8000 ] || fail "the balances add up to $total, want 8000"

expect 2 "$W" "$T/new" bank --isolation serial
err_has "--isolation must be ssi or si"
expect 2 "$W" "$T/new" bank --accounts 1
expect 2 "$W" "$T/new" bank --threads 0
[ ! -e "$T/new" ] || fail "a usage error created the database"
exit 0
