#!/bin/sh
# usage.sh -- help output, usage errors (exit 2, nothing created), missing
# databases (exit 1 with a clear message) and --create.
. "$(dirname "$0")/lib/common.sh"
db=$T/db
new=$T/new

# Help: exit 0, on stdout, every command and the escaping rules listed.
expect 0 "$W" --help
out_has "usage: wombat [OPTIONS] DBDIR COMMAND [ARGS]"
for c in put get del scan load flush stats verify; do
	grep -q "^  $c" "$T/out" || fail "--help does not list $c"
done
out_has '\xHH'
out_has '--sync=MODE'
out_has '--create'
expect 0 "$W" -h
out_has "usage: wombat"
expect 0 "$W" scan --help
out_has "usage: wombat [OPTIONS] DBDIR scan [PREFIX] [--keys-only] [--limit N] [--reverse]"
expect 0 "$W" "$db" put --help
out_has "DBDIR put KEY VALUE"
expect 0 "$W" --help load
out_has "DBDIR load"
[ ! -e "$db" ] || fail "help created a database"
expect 0 "$W" --version
out_has "wombat "

# Usage errors: exit 2, "wombat: " message plus a usage line, nothing done.
usage() {
	run "$@"
	[ "$status" -eq 2 ] || fail "'$*' exited $status, want 2; stderr: $(cat "$T/err")"
	head -n 1 "$T/err" | grep -q '^wombat: ' || fail "'$*': no 'wombat: ' message: $(cat "$T/err")"
	grep -q '^usage: wombat' "$T/err" || fail "'$*': no usage line: $(cat "$T/err")"
	[ ! -s "$T/out" ] || fail "'$*' wrote to stdout"
}
usage "$W"
err_has "missing DBDIR"
usage "$W" "$new"
err_has "missing COMMAND"
usage "$W" "$new" frobnicate
err_has "unknown command 'frobnicate'"
usage "$W" get k
err_has "DBDIR comes first"
usage "$W" --bogus "$new" get k
err_has "unknown option '--bogus'"
usage "$W" --sync=sometimes "$new" get k
err_has "--sync=sometimes"
usage "$W" "$new" put k
err_has "missing VALUE"
usage "$W" "$new" put
err_has "missing KEY"
usage "$W" "$new" get a b
err_has "unexpected argument 'b'"
usage "$W" "$new" get ''
err_has "must not be empty"
usage "$W" "$new" get 'bad\q'
err_has "bad escape"
usage "$W" "$new" put 'trailing\' v
err_has "bad escape"
usage "$W" "$new" put 'short\x4' v
err_has "bad escape"
usage "$W" "$new" scan --limit ten
err_has "--limit ten"
usage "$W" "$new" scan --limit
err_has "needs a value"
usage "$W" "$new" scan --reverse=yes
err_has "takes no value"
usage "$W" "$new" scan a b
usage "$W" "$new" stats --yaml
err_has "unknown option '--yaml'"
usage "$W" "$new" load extra
usage "$W" "$new" verify --fast
[ ! -e "$new" ] || fail "a usage error created $new"

# A missing database: exit 1, one clear line, nothing created.
for cmd in "get k" "del k" "scan" "flush" "stats" "verify"; do
	# shellcheck disable=SC2086 # word splitting of $cmd is wanted
	run "$W" "$new" $cmd
	[ "$status" -eq 1 ] || fail "'$cmd' on a missing database exited $status"
	[ "$(cat "$T/err")" = "wombat: $new: no database here (--create makes one)" ] ||
		fail "'$cmd' on a missing database said: $(cat "$T/err")"
done
[ ! -e "$new" ] || fail "a read of a missing database created it"
mkdir "$T/empty"
expect 1 "$W" "$T/empty" get k
err_has "no database here"

# --create makes one for any command; put and load do it themselves.
expect 1 "$W" --create "$new" get k
err_has "k: not found"
expect 0 "$W" "$new" stats
expect 0 "$W" "$new" verify
expect 0 "$W" "$db" put k v
expect 0 "$W" "$db" get k
out_is v
printf 'a\tb\n' | "$W" "$T/loaded" load >/dev/null || fail "load did not create its database"

# Options go before the command; "--" lets a key start with a dash.
expect 0 "$W" "$db" --sync=always put -- --dash v
expect 0 "$W" "$db" get -- --dash
out_is v
expect 0 "$W" --sync none "$db" scan -- --dash
out_is "$(printf -- '--dash\tv')
"
exit 0
