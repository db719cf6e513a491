#!/bin/bash
# The man pages lint clean (mandoc -Tlint, groff -ww), and the docs cover
# what the code has: every config key (man page and default config), every
# relaycfg option, every relaycfgctl command; every commented line of the
# default config is valid when uncommented.
. "$top_srcdir/tests/lib/tap.sh"
PATH=$PATH:/usr/sbin:/sbin
MAN="$top_srcdir/man/relaycfg.8 $top_srcdir/man/relaycfg.conf.5 $top_srcdir/man/relaycfgctl.1"
CONF_IN=$top_srcdir/etc/relaycfg.conf.in
CONF=$top_builddir/etc/relaycfg.conf
RELAYCFG=$top_builddir/src/relaycfg

command -v mandoc >/dev/null 2>&1 || skip_all "mandoc not found"
T=$(mktemp -d /tmp/relaycfg-test.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT

# From their directory, where mandoc finds the pages they refer to each
# other by.  Pages of other packages may be absent (containers drop
# /usr/share/man): only those references, and notes about the system's
# stale mandoc.db, are let pass.
(cd "$top_srcdir/man" && mandoc -Tlint -Wall relaycfg.8 relaycfg.conf.5 relaycfgctl.1) >"$T/lint" 2>&1
grep -v -e 'outdated mandoc.db' \
    -e 'referenced manual not found: Xr \(spawn-fcgi 1\|systemd.socket 5\|nginx 8\)' \
    "$T/lint" >"$T/lint.left"
is "$(cat "$T/lint.left")" "" "mandoc -Tlint: no messages"

if command -v groff >/dev/null 2>&1; then
	for f in $MAN; do
		out=$(groff -ww -mandoc -z -Tutf8 "$f" 2>&1)
		is "$out" "" "groff -ww: $(basename "$f") clean"
		# .Dq inside .Dq nests (it takes the rest of the line):
		# groff then prints runs of closing quotes.
		out=$(groff -mandoc -Tutf8 -P-c "$f" 2>/dev/null | grep -n '””')
		is "$out" "" "groff: $(basename "$f") has no nested quotes"
	done
fi

# Every key of src/core/conf.c's table, in relaycfg.conf(5) and the default file.
keys=$(sed -n 's/^[[:space:]]*{ "\([a-z_]*\)",[[:space:]]*CT_.*/\1/p' "$top_srcdir/src/core/conf.c")
ok $(( $(echo "$keys" | wc -w) < 40 )) "conf_keys found in src/core/conf.c ($(echo "$keys" | wc -w))"
missing_man="" missing_conf=""
for k in $keys; do
	grep -Eq "^\.It Ic ([a-z_]+ , )*$k( |\$)" "$top_srcdir/man/relaycfg.conf.5" ||
	    missing_man="$missing_man $k"
	grep -Eq "^#?$k = " "$CONF_IN" || missing_conf="$missing_conf $k"
done
is "$missing_man" "" "every config key is described in relaycfg.conf(5)"
is "$missing_conf" "" "every config key is in the default relaycfg.conf"

# Every long option of relaycfg in relaycfg(8).
opts=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)",[[:space:]]*\(required\|no\)_argument.*/\1/p' "$top_srcdir/src/server/main.c")
missing=""
for o in $opts; do
	grep -q "Fl \\\\-$(echo "$o" | sed 's/-/\\\\-/g')\\b" "$top_srcdir/man/relaycfg.8" ||
	    missing="$missing $o"
done
ok $(( $(echo "$opts" | wc -w) < 5 )) "relaycfg options found in src/server/main.c"
is "$missing" "" "every relaycfg option is in relaycfg(8)"
# --help gives the default of --workers as relaycfg(8) and the README do
# (t_lifecycle counts the workers auto starts).
like "$("$RELAYCFG" --help)" "default: two per CPU" "--help: --workers is two per CPU"
grep -q '^is two per CPU\.$' "$top_srcdir/man/relaycfg.8"
ok $? "relaycfg(8): --workers is two per CPU"
grep -q 'default: two per CPU' "$top_srcdir/README.md"
ok $? "README.md: --workers is two per CPU"

# relaycfg.conf(5) names each command-line option that overrides a key
# (struct conf_overrides) where it says which options win.
ovs=$(sed -n '/^struct conf_overrides {/,/^};/p' "$top_srcdir/src/core/conf.h" |
    sed -n 's/.*[[:space:]*]\([a-z_]*\);$/\1/p')
wins=$(sed -n '/^are used only at start;$/,/also after a reload\.$/p' \
    "$top_srcdir/man/relaycfg.conf.5")
ok $(( $(echo "$ovs" | wc -w) < 6 )) "overrides found in src/core/conf.h"
missing=""
for o in $ovs; do
	printf '%s\n' "$wins" | grep -qF -- "\\-$(printf '%s' "$o" | sed 's/_/\\-/g')" ||
	    missing="$missing $o"
done
is "$missing" "" "relaycfg.conf(5) says which options win: all of them"

# Every relaycfgctl command in relaycfgctl(1).
cmds=$(sed -n '/_commands\[\] = {/,/};/p' "$top_srcdir/ctl/relaycfgctl.c" |
    grep -o '"[a-z]*"' | tr -d '"')
missing=""
for c in $cmds; do
	grep -q "^\.It Cm $c\\b" "$top_srcdir/man/relaycfgctl.1" || missing="$missing $c"
done
ok $(( $(echo "$cmds" | wc -w) < 8 )) "relaycfgctl commands found"
is "$missing" "" "every relaycfgctl command is in relaycfgctl(1)"

# The default config is valid as installed, and with any one commented
# line switched on.
"$RELAYCFG" --check-config -c "$CONF" >/dev/null 2>"$T/err"
ok $? "the default relaycfg.conf passes --check-config"
bad=""
n=0
while IFS= read -r line; do
	n=$((n + 1))
	case $line in
	'#'[a-z]*' = '*) ;;
	*) continue ;;
	esac
	# --check-config resolves user names and, as start-up, refuses one
	# this process could not become or give the socket to; the relaycfg
	# user the package creates is not on a build machine: the user
	# running the test stands in.
	on=$(printf '%s\n' "$line" | sed -e 's/^#//' -e 's/ = e\.g\. / = /' \
	    -e "s/^user = relaycfg\$/user = $(id -un)/" \
	    -e "s/^socket_owner = relaycfg:www-data\$/socket_owner = $(id -un):$(id -gn)/")
	{ cat "$CONF"; printf '%s\n' "$on"; } >"$T/one.conf"
	"$RELAYCFG" --check-config -c "$T/one.conf" >/dev/null 2>>"$T/err" ||
	    bad="$bad $n"
done <"$CONF"
is "$bad" "" "every commented example in relaycfg.conf is valid"
[ -z "$bad" ] || sed 's/^/# /' "$T/err"

done_testing
