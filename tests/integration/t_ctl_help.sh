#!/bin/bash
# relaycfgctl(1) says each command takes --help: every command and
# subcommand the man page lists prints its usage on stdout and exits 0,
# with no config file to read and no server to reach; and the options the
# man page gives each command are in its --help and in relaycfgctl --help.
# No server.
. "$top_srcdir/tests/lib/tap.sh"
MAN=$top_srcdir/man/relaycfgctl.1
RELAYCFGCTL=$top_builddir/ctl/relaycfgctl
T=$(mktemp -d /tmp/relaycfg-test.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT

# ctl ARGS...: relaycfgctl with a config file that does not exist, so
# that anything but help fails; $OUT, $ERR, $RC.
ctl() {
	OUT=$("$RELAYCFGCTL" -c "$T/none.conf" "$@" 2>"$T/err")
	RC=$?
	ERR=$(cat "$T/err")
}

# --- a representative set, by content -------------------------------------
ctl db --help
is "$RC:$ERR" "0:" "db --help: exit 0, nothing on stderr"
like "$OUT" "^usage: .*db" "db --help: a usage line"
like "$OUT" "db init \| migrate \| status" "db --help: its subcommands"
ctl org --help
is "$RC" 0 "org --help"
like "$OUT" "org create SLUG" "org --help: the org synopses"
unlike "$OUT" "project create" "org --help: not the other commands'"
ctl org list --help
is "$RC:$ERR" "0:" "org list --help"
like "$OUT" "org list" "org list --help: its synopsis"
ctl invalidate --help
is "$RC:$ERR" "0:" "invalidate --help"
like "$OUT" "--relay RELAY_ID \| --all" "invalidate --help: its scopes"
ctl option --help
is "$RC" 0 "option --help"
like "$OUT" "option get project\|org\|template ID" "option --help: get"
ctl threshold --help
is "$RC" 0 "threshold --help"
like "$OUT" "threshold override remove" "threshold --help: overrides"
ctl project template delete 1 --help
is "$RC" 0 "--help after the positional arguments"
like "$OUT" "project template delete ID" "project template --help"
ctl --json relay show x --help
is "$RC" 0 "--help with --json"
ctl org show abc --bogus --help
is "$RC" 0 "--help wins over a bad rest of the line"
# Read as the options are: neither a value nor after "--" is a request.
ctl org create x --name --help
is "$RC" 1 "--name --help: a name, so the command runs (no config: 1)"
ctl relay delete -- --help
is "$RC" 1 "after --, --help is an argument"
ctl db
is "$RC" 2 "db without a subcommand is still a usage error"

# --- every command and subcommand of the man page -------------------------
# ".It Cm org enable | disable | delete Ar id" -> org enable, org
# disable, org delete: the command words up to the first other macro.
sed -n 's/^\.It Cm //p' "$MAN" | while read -r line; do
	words=()
	for w in $line; do
		case $w in
		'|'|[a-z]*) words+=("$w") ;;
		*) break ;;
		esac
	done
	# "option set Cm project | org" stopped at Cm: no alternation left.
	n=${#words[@]}
	i=0
	while [ $i -lt "$n" ] && [ "${words[$i]}" != '|' ]; do
		i=$((i + 1))
	done
	if [ $i -eq "$n" ]; then
		echo "${words[*]}"
		continue
	fi
	prefix=("${words[@]:0:$((i - 1))}")
	for w in "${words[@]:$((i - 1))}"; do
		[ "$w" = '|' ] || echo "${prefix[*]} $w"
	done
done >"$T/cmds"
n=$(wc -l <"$T/cmds")
ok $((n < 45)) "commands found in relaycfgctl(1) ($n, at least 45)"
bad=""
while read -r -a cmd; do
	ctl "${cmd[@]}" --help
	case $RC:$OUT in
	0:usage:*) [ -z "$ERR" ] || bad="$bad|${cmd[*]} (stderr)" ;;
	*) bad="$bad|${cmd[*]} ($RC)" ;;
	esac
done <"$T/cmds"
is "${bad#|}" "" "every command of relaycfgctl(1) takes --help"

# --- and lists the options the man page gives it ---------------------------
# Each ".It Cm CMD ..." line's options (\-name) must be in CMD's lines of
# "relaycfgctl --help" (a line "  CMD ..." and the more indented lines
# after it) and in "relaycfgctl CMD --help".
"$RELAYCFGCTL" --help >"$T/top"
# top_of CMD: CMD's lines of the top-level help.
top_of() {
	awk -v c="$1" '
	    /^  [a-z]/ { on = ($1 == c) }
	    /^[^ ]/ || /^$/ { on = 0 }
	    on' "$T/top"
}
missing=""
while read -r line; do
	cmd=${line%% *}
	opts=$(printf '%s\n' "$line" | sed 's/\\-/-/g' |
	    grep -oE '(^| )-[a-z][a-z-]*' | sed 's/^ *-/--/' | sort -u)
	[ -n "$opts" ] || continue
	"$RELAYCFGCTL" -c "$T/none.conf" "$cmd" --help >"$T/own" 2>/dev/null
	for o in $opts; do
		top_of "$cmd" | grep -q -e "$o\b" || missing="$missing|relaycfgctl --help: $cmd $o"
		grep -q -e "$o\b" "$T/own" || missing="$missing|$cmd --help: $o"
	done
done < <(sed -n 's/^\.It Cm //p' "$MAN")
is "${missing#|}" "" "every option relaycfgctl(1) gives a command is in both helps"
like "$(cat "$T/top")" '-V \| --version' "relaycfgctl --help: --version"
ctl sentry-sync --help
like "$OUT" '--dry-run  +print each change' "sentry-sync --help: its options, explained"

done_testing
