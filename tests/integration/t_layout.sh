#!/bin/bash
# The source layout keeps its promises (docs/ARCHITECTURE.md, "Layers"):
# every file in a layer folder, includes pointing down the layers only,
# each file opening with a comment that says its job, none much longer
# than 1,000 lines.  Pure text checks; no server.
. "$top_srcdir/tests/lib/tap.sh"
cd "$top_srcdir" || exit 1

# A layer's rank; a file may include headers of its own folder or of a
# folder of lower rank (http and store, auth and config are independent).
rank() {
	case $1 in
	core) echo 0 ;; mirror) echo 1 ;; http|store) echo 2 ;;
	auth|config) echo 3 ;; api) echo 4 ;; server) echo 5 ;; *) echo -1 ;;
	esac
}

stray=$(find src -maxdepth 1 -type f -name '*.[ch]' | tr '\n' ' ')
is "$stray" "" "no source file outside the layer folders"

# header name -> folder
declare -A home
for f in src/*/*.[ch]; do
	home[$(basename "$f")]=$(basename "$(dirname "$f")")
done

bad=""
n=0
for f in src/*/*.[ch]; do
	layer=$(basename "$(dirname "$f")")
	r=$(rank "$layer")
	[ "$r" -ge 0 ] || { bad="$bad $f(unknown layer)"; continue; }
	for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f"); do
		hl=${home[$h]:-}
		[ -n "$hl" ] && [ "$hl" != "$layer" ] || continue
		n=$((n + 1))
		[ "$(rank "$hl")" -lt "$r" ] || bad="$bad $f->$hl/$h"
	done
done
# (a sanity check of the scan itself: fewer would mean it missed them)
ok $((n < 20)) "the scan sees the cross-layer includes ($n, at least 20)"
is "${bad# }" "" "every include points down the layers"

long=""
nojob=""
for f in src/*/*.[ch] ctl/*.[ch]; do
	[ "$(wc -l <"$f")" -le 1000 ] || long="$long $f"
	# The opening comment names the file and its job: "name.c - ...".
	sed -n 2p "$f" | grep -q "^ \* $(basename "$f") - " || nojob="$nojob $f"
done
is "${nojob# }" "" "each file opens with 'name - its job'"
is "${long# }" "" "no file over 1,000 lines"

done_testing
