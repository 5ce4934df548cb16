#!/bin/sh
# make_mount.sh -- `make mount`: mounts the database DB (created when
# missing) at MNT and says how to use it. Usage: make_mount.sh BUILD DB MNT
set -e
build=$1 db=$2 mnt=$3
if mountpoint -q "$mnt" 2>/dev/null; then
	echo "$mnt is already mounted (make umount to unmount it)"
	exit 0
fi
mkdir -p "$mnt"
"$build/bin/wombatfs" "$db" "$mnt" -o create
cat <<MSG
Mounted the Wombat database $db at $mnt.

  echo hello > $mnt/greeting        # a key "greeting"
  mkdir -p $mnt/config && cp /etc/hostname $mnt/config/
  ls -la $mnt; cat $mnt/greeting
  $build/bin/wombat $db scan        # the same keys, after unmounting

Unmount with: make umount   (or: fusermount3 -u $mnt)
MSG
