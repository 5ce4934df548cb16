#!/bin/sh
# cleanup.sh -- the EXIT trap of lib/common.sh: a test that fails while
# mounted must leave neither the mount nor its scratch directory behind.
. "$(dirname "$0")/lib/common.sh"
probe=$T/probe
BUILD=$BUILD sh -c '
	. "$1"
	echo "$T" >"$2"
	fs_mount -o create
	echo hello >"$MNT/f"
	fail "deliberate failure (expected by cleanup.sh)"' sh "$(dirname "$0")/lib/common.sh" "$probe" >"$T/self.out" 2>&1 &&
	fail "the inner test should have failed"
inner=$(cat "$probe") || fail "the inner test did not start: $(cat "$T/self.out")"
grep -qF "deliberate failure" "$T/self.out" || fail "inner output: $(cat "$T/self.out")"
grep -q " $inner/mnt " /proc/mounts && fail "$inner/mnt is still mounted after a failing test"
[ ! -e "$inner" ] || fail "scratch directory $inner was left behind"
exit 0
