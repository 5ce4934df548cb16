# common.sh -- sourced by every tests/cli/*.sh (kept in lib/ so run.sh does
# not run it as a test). Finds the wombat binary under $BUILD (default
# build), makes a scratch directory $T that is removed on exit, and gives the
# helpers below. A test prints "FAIL: what" and exits 1 at the first failure.

# Byte-oriented tools (sed, tr, sort) must not interpret UTF-8.
LC_ALL=C
export LC_ALL
BUILD=${BUILD:-build}
W=$BUILD/bin/wombat
case $W in
/*) ;;
*) W=$(pwd)/$W ;;
esac
[ -x "$W" ] || {
	echo "FAIL: $W is not built (make cli)"
	exit 1
}
T=$(mktemp -d) || exit 1
# cleanup runs extra commands a test registers in $cleanup (e.g. killing a
# background process) before removing the scratch directory.
cleanup=
trap 'eval "$cleanup"; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP

# (printf, not echo: dash's echo would expand the backslashes we print.)
fail() {
	printf 'FAIL: %s\n' "$*"
	exit 1
}

# run CMD...: runs CMD with stdout in $T/out and stderr in $T/err; sets $status.
run() {
	"$@" >"$T/out" 2>"$T/err"
	status=$?
}

# expect WANT CMD...: run, and fail unless CMD exited with status WANT.
expect() {
	want=$1
	shift
	run "$@"
	[ "$status" -eq "$want" ] ||
		fail "'$*' exited $status, want $want; stderr: $(cat "$T/err")"
}

# err_has TEXT / out_has TEXT: the last run's stderr / stdout contains TEXT.
err_has() {
	grep -qF -- "$1" "$T/err" || fail "stderr lacks '$1'; it is: $(cat "$T/err")"
}
out_has() {
	grep -qF -- "$1" "$T/out" || fail "stdout lacks '$1'; it is: $(head -c 2000 "$T/out")"
}

# out_is TEXT: the last run's stdout is exactly TEXT (no newline added).
out_is() {
	printf '%s' "$1" >"$T/want"
	cmp -s "$T/want" "$T/out" || fail "stdout is '$(cat "$T/out")', want '$1'"
}

# err_empty: the last run printed nothing on stderr.
err_empty() {
	[ ! -s "$T/err" ] || fail "unexpected stderr: $(cat "$T/err")"
}
