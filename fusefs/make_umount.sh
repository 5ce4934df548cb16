#!/bin/sh
# make_umount.sh -- `make umount`: unmounts MNT and waits until the daemon
# has closed the database DB, so `wombat DB ...` works right after.
# Usage: make_umount.sh DB MNT
db=$1 mnt=$2
if ! mountpoint -q "$mnt" 2>/dev/null; then
	echo "$mnt is not mounted"
	exit 0
fi
pid=$(tr -dc 0-9 <"$db/LOCK" 2>/dev/null)
fusermount3 -u "$mnt" || exit 1
n=100
while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do
	sleep 0.1
	n=$((n - 1))
done
echo "unmounted $mnt"
