#!/bin/sh
# config-store.sh -- a configuration store kept in Wombat, used with nothing
# but echo and cat through the mount.
#
#   examples/config-store.sh MOUNTPOINT set app/db/host db1.internal
#   examples/config-store.sh MOUNTPOINT get app/db/host
#   examples/config-store.sh MOUNTPOINT list app
#   examples/config-store.sh MOUNTPOINT del app/db/host
#
# Each setting is one key (app/db/host), so after unmounting
# `wombat DBDIR get app/db/host` reads the same value.
set -eu
[ $# -ge 2 ] || { echo "usage: $0 MOUNTPOINT set|get|list|del KEY [VALUE]" >&2; exit 2; }
mnt=$1 cmd=$2 key=${3:-}
case $cmd in
set)
	[ $# -eq 4 ] || { echo "usage: $0 MOUNTPOINT set KEY VALUE" >&2; exit 2; }
	mkdir -p "$mnt/$(dirname "$key")"
	# Write a temporary name and rename it: readers see the old or the new
	# value, never a partial one (wombatfs renames are atomic).
	printf '%s\n' "$4" > "$mnt/$key.tmp.$$"
	mv -f "$mnt/$key.tmp.$$" "$mnt/$key"
	;;
get) cat "$mnt/$key" ;;
list) (cd "$mnt/$key" && find . -type f | sed 's|^\./||' | sort) ;;
del) rm -f "$mnt/$key" ;;
*) echo "$0: unknown command $cmd" >&2; exit 2 ;;
esac
