#!/bin/sh
# backup.sh -- backs up a mounted Wombat store with tar, and restores it.
#
#   examples/backup.sh backup  MOUNTPOINT backup.tar.gz
#   examples/backup.sh restore MOUNTPOINT backup.tar.gz
#
# The archive holds files, directories, modes, times, symlinks and extended
# attributes (--xattrs), so a restore into an empty mount brings back the
# same keys and metadata.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 backup|restore MOUNTPOINT ARCHIVE" >&2; exit 2; }
case $1 in
backup) tar -C "$2" --xattrs -czf "$3" . && echo "wrote $3 ($(du -h "$3" | cut -f1))" ;;
restore) tar -C "$2" --xattrs -xzf "$3" && echo "restored $3 into $2" ;;
*) echo "$0: backup or restore" >&2; exit 2 ;;
esac
