#!/bin/sh
# watch.sh -- a work queue on the mount: producers drop files into
# MOUNTPOINT/queue, this loop picks each one up, processes it, and moves it
# to MOUNTPOINT/done (an atomic rename: a file is never seen in both places
# or half-written, because wombatfs commits a file only when it is closed).
#
#   examples/watch.sh MOUNTPOINT [INTERVAL_SECONDS]
#   echo "job 1" > MOUNTPOINT/queue/job1      # from another shell
set -eu
[ $# -ge 1 ] || { echo "usage: $0 MOUNTPOINT [INTERVAL]" >&2; exit 2; }
mnt=$1 every=${2:-1}
mkdir -p "$mnt/queue" "$mnt/done"
echo "watching $mnt/queue (Ctrl-C to stop)"
while :; do
	for f in "$mnt"/queue/*; do
		[ -f "$f" ] || continue
		name=$(basename "$f")
		echo "$(date +%T) $name: $(wc -c < "$f") bytes: $(head -c 60 "$f")"
		mv "$f" "$mnt/done/$name"
	done
	sleep "$every"
done
