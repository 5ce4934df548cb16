#!/bin/sh
# layers.sh -- the engine's folders are layers (docs/design.md "Code map"):
# a file may include the public header, headers of its own folder, and
# headers of the folders below it; never one above. Also: the filesystem
# and the CLI use the engine through wombat.h (the filesystem may also use
# util/error.h for its messages and util/grow.h for its growing arrays),
# and nothing under engine/ includes a header of fusefs/ or tests/. Fails
# listing every include that breaks a rule.
#
#   util    (arena, clock, coding, crc32c, env, error, ...)  nothing else
#   table   blocks, filters, the cache, tables, iterators     util
#   db vlog txn obj  the database, the value log, transactions,   util table,
#                values changed in place (objects), and each other
#                (they still share the database's state)
cd "$(dirname "$0")/../.." || exit 1
allowed() { # allowed FOLDER: the folders FOLDER may include from
	case $1 in
	util) echo "util" ;;
	table) echo "util table" ;;
	db | vlog | txn | obj) echo "util table db vlog txn obj" ;;
	fusefs) echo "util/error.h util/grow.h" ;;
	*) echo "" ;;
	esac
}
bad=0
check() { # check FILE FOLDER
	for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$1"); do
		case $inc in
		wombat.h) continue ;;
		*/*) ;;
		*) [ -f "$(dirname "$1")/$inc" ] && continue ;; # its own folder
		esac
		ok=0
		for a in $(allowed "$2"); do
			case $inc in "$a" | "$a"/*) ok=1 ;; esac
		done
		if [ $ok -eq 0 ]; then
			echo "$1: includes \"$inc\", which layer $2 may not use"
			bad=$((bad + 1))
		fi
	done
}
for f in engine/src/*/*.[ch]; do
	layer=$(basename "$(dirname "$f")")
	check "$f" "$layer"
done
for f in fusefs/*.[ch]; do check "$f" fusefs; done
for f in engine/tools/*.[ch] engine/include/*.h; do check "$f" public; done
n=$(ls engine/src/*.[ch] 2>/dev/null | wc -l)
if [ "$n" -ne 0 ]; then
	echo "engine/src: $n files outside the layer folders:" $(ls engine/src/*.[ch])
	bad=$((bad + n))
fi
[ $bad -eq 0 ] && echo "layers: every include follows the layers"
[ $bad -eq 0 ]
