#!/bin/sh
# common.sh -- sourced by every tests/fs/*.sh: a scratch directory $T under
# /tmp, a database $DB and an empty mountpoint $MNT in it, helpers to mount
# and unmount wombatfs, and assertions that print what was expected and what
# came. An EXIT trap always unmounts whatever the test mounted (fusermount3
# -u, then -uz for a dead or busy mount), stops daemons the test registered,
# and removes $T -- also when the test fails half-way.
#
# tests/fs/cleanup.sh checks that trap (a test that fails while mounted
# leaves no mount and no $T).

# Byte-oriented tools (sort, tr, ls order) must not interpret UTF-8.
LC_ALL=C
export LC_ALL
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$(pwd)/$BUILD ;;
esac
W=$BUILD/bin/wombat
FSD=$BUILD/bin/wombatfs
MOUNT_HELPER=$BUILD/bin/mount.wombat

# (printf, not echo: dash's echo would expand backslashes we print.)
fail() {
	printf 'FAIL: %s\n' "$*"
	exit 1
}

for b in "$W" "$FSD" "$MOUNT_HELPER"; do
	[ -x "$b" ] || fail "$b is not built (make)"
done
[ -c /dev/fuse ] || fail "no /dev/fuse"
command -v fusermount3 >/dev/null || fail "fusermount3 is not installed"

T=$(mktemp -d /tmp/wombatfs-test.XXXXXX) || exit 1
DB=$T/db
MNT=$T/mnt
mkdir "$MNT"
# Mountpoints this test mounted, and extra commands ($cleanup) it wants run
# at exit, e.g. killing a background daemon by its pid.
mounted=
cleanup=

# daemon_pid DB: the pid of the process holding DB open (its LOCK file).
daemon_pid() {
	[ -s "$1/LOCK" ] && tr -dc 0-9 <"$1/LOCK"
}

# wait_gone PID [SECONDS]: waits until PID has exited; 1 if it did not.
wait_gone() {
	[ -n "$1" ] || return 0
	n=$((${2:-10} * 10))
	while kill -0 "$1" 2>/dev/null; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
	return 0
}

# wait_mounted MNT [SECONDS]: waits until MNT is a mountpoint.
wait_mounted() {
	n=$((${2:-10} * 10))
	until mountpoint -q "$1"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}

_lib_cleanup() {
	eval "$cleanup"
	# (/proc/mounts, not mountpoint -q: a dead daemon's mount fails stat.)
	for m in $mounted; do
		if grep -q " $m fuse" /proc/mounts; then
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null
		fi
	done
	# The daemons close their databases after the unmount: let them finish
	# before their directory goes.
	for p in $_lib_pids; do
		wait_gone "$p" 5 || kill -9 "$p" 2>/dev/null
	done
	rm -rf "$T"
}
_lib_pids=
trap '_lib_cleanup' EXIT
trap 'exit 1' INT TERM HUP

# fs_mount [-d DB] [-m MNT] [wombatfs options...]: mounts DB (default $DB)
# at MNT (default $MNT) and fails the test with wombatfs's message unless
# it worked. Sets $fs_pid to the daemon's pid.
fs_mount() {
	_db=$DB
	_mnt=$MNT
	while :; do
		case $1 in
		-d) _db=$2; shift 2 ;;
		-m) _mnt=$2; shift 2 ;;
		*) break ;;
		esac
	done
	"$FSD" "$_db" "$_mnt" "$@" >"$T/mount.err" 2>&1 ||
		fail "wombatfs $_db $_mnt $* failed: $(cat "$T/mount.err")"
	mountpoint -q "$_mnt" || fail "wombatfs returned but $_mnt is not mounted"
	fs_track "$_db" "$_mnt"
}

# fs_track DB MNT: the cleanup unmounts MNT and waits for DB's daemon.
fs_track() {
	mounted="$mounted $2"
	fs_pid=$(daemon_pid "$1")
	_lib_pids="$_lib_pids $fs_pid"
}

# fs_umount [-d DB] [MNT]: unmounts MNT (default $MNT) and waits until the
# daemon has closed DB (default $DB), so the CLI can open it.
fs_umount() {
	_db=$DB
	[ "$1" = -d ] && _db=$2 && shift 2
	_mnt=${1:-$MNT}
	_pid=$(daemon_pid "$_db")
	fusermount3 -u "$_mnt" 2>"$T/umount.err" ||
		fail "fusermount3 -u $_mnt failed: $(cat "$T/umount.err")"
	wait_gone "$_pid" 10 || fail "wombatfs (pid $_pid) still running 10s after unmount"
}

# run CMD...: runs CMD with stdout in $T/out and stderr in $T/err; sets $status.
run() {
	"$@" >"$T/out" 2>"$T/err"
	status=$?
}

# expect WANT CMD...: run, and fail unless CMD exited with status WANT.
expect() {
	_want=$1
	shift
	run "$@"
	[ "$status" -eq "$_want" ] ||
		fail "'$*' exited $status, want $_want; stderr: $(cat "$T/err")"
}

# expect_fail CMD...: run, and fail unless CMD exited non-zero.
expect_fail() {
	run "$@"
	[ "$status" -ne 0 ] || fail "'$*' succeeded, want a failure; stdout: $(head -c 500 "$T/out")"
}

# expect_sh WANT SCRIPT: expect, for a shell snippet (redirections).
expect_sh() {
	expect "$1" sh -c "$2"
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
	cmp -s "$T/want" "$T/out" || fail "stdout is '$(head -c 2000 "$T/out")', want '$1'"
}

# eq WHAT WANT GOT: fail unless the two strings are equal.
eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
}

# same_file WANT GOT: the two files have the same bytes.
same_file() {
	[ -f "$2" ] || fail "$2 is missing (want the bytes of $1)"
	cmp "$1" "$2" >"$T/cmp" 2>&1 || fail "$2 differs from $1: $(cat "$T/cmp")"
}

# file_is PATH TEXT: the file holds exactly TEXT.
file_is() {
	[ -e "$1" ] || fail "$1 is missing (want '$2')"
	_got=$(cat "$1"; printf x)
	_got=${_got%x}
	[ "$_got" = "$2" ] || fail "$1 holds '$_got', want '$2'"
}

# absent PATH: nothing is there (not even a dangling symlink).
absent() {
	[ ! -e "$1" ] && [ ! -L "$1" ] || fail "$1 exists, want it gone"
}
