#!/bin/bash
# "relaycfgctl fetch" as an operator reads it: compact into a pipe (what
# scripts and the other tests parse), indented on a terminal (a real pty,
# by script(1)) and with --pretty, compact again with --compact on a
# terminal, and --summary: a line per key saying what Relay gets for it
# (enabled with project, rev and features; disabled; pending), and the
# global config when asked for; a line also for a key asked for and not
# answered (invalid: no public key); one output option at a time; with
# --json the summary as one object.  An answer is never altered, only
# laid out.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
need_binary script
relay_stack_init
K2=$(ctl key create --project "$PROJ" | jq -r .public_key)
ctl key disable "$K2" >/dev/null
K0=00000000000000000000000000000000
harness_start_relaycfg
harness_start_nginx

fetch() {
	"$RELAYCFGCTL" fetch --upstream "$BASE_URL" --credentials "$T/S.json" "$@"
}

fetch "$K1" "$K2" "$K0" >"$T/compact" 2>"$T/err"
ok $? "fetch into a pipe exits 0"
is "$(wc -l <"$T/compact")" 1 "into a pipe: one line, as it came"
jq -e . "$T/compact" >/dev/null
ok $? "... one JSON document"

fetch --pretty "$K1" "$K2" "$K0" >"$T/pretty"
ok $(( $(wc -l <"$T/pretty") < 20 )) "--pretty: indented over many lines ($(wc -l <"$T/pretty"))"
is "$(jq -S -c . "$T/pretty" | jq -S -c 'del(.configs[]?.lastFetch)')" \
    "$(jq -S -c 'del(.configs[]?.lastFetch)' "$T/compact")" \
    "--pretty: the same JSON as the compact answer"

# A terminal: script(1) gives the command a pty on stdout.
script -qec "'$RELAYCFGCTL' fetch --upstream '$BASE_URL' --credentials '$T/S.json' '$K1'" \
    /dev/null | tr -d '\r' >"$T/tty"
ok $(( $(wc -l <"$T/tty") < 20 )) "on a terminal: indented by default ($(wc -l <"$T/tty") lines)"
like "$(head -n 1 "$T/tty")" '^\{$' "... starting with a lone {"
script -qec "'$RELAYCFGCTL' fetch --compact --upstream '$BASE_URL' --credentials '$T/S.json' '$K1'" \
    /dev/null | tr -d '\r' >"$T/tty-compact"
is "$(wc -l <"$T/tty-compact")" 1 "--compact on a terminal: one line"

fetch --summary "$K1" "$K2" "$K0" >"$T/summary"
ok $? "--summary exits 0"
diag "$(cat "$T/summary")"
like "$(head -n 1 "$T/summary")" '^KEY +STATUS +PROJECT/SLUG +REV +FEATURES$' "--summary: a header"
rev=$(jq -r --arg k "$K1" '.configs[$k].rev' "$T/compact")
features=$(jq -r --arg k "$K1" '.configs[$k].config.features // [] | join(",")' "$T/compact")
[ -n "$features" ] || features=-
is "$(grep "^$K1 " "$T/summary" | tr -s ' ')" \
    "$K1 enabled $PROJ/web $rev $features" \
    "--summary: the live key with project, slug, rev and every feature"
is "$(grep "^$K2 " "$T/summary" | tr -s ' ')" "$K2 disabled - - -" \
    "--summary: the inactive key is disabled"
is "$(grep "^$K0 " "$T/summary" | tr -s ' ')" "$K0 disabled - - -" \
    "--summary: the unknown key is disabled"
is "$(grep -c . "$T/summary")" 4 "--summary: a line per key"
fetch --summary --global "$K1" >"$T/summary-global"
like "$(tail -n 1 "$T/summary-global")" '^global config: [0-9]+ sections$' \
    "--summary --global: says the global config came"

is "$(tail -n 1 "$T/summary" | tr -s ' ')" "$K0 disabled - - -" \
    "--summary without --global: no global config line (it was not asked for)"
# Every key asked for gets a line, also one the upstream ignores.
fetch --summary "$K1" AAAA "$K1" >"$T/summary-bad"
ok $? "--summary with a key that is no public key: exit 0"
is "$(grep "^AAAA " "$T/summary-bad" | tr -s ' ')" "AAAA invalid - - -" \
    "--summary: a key that is not 32 hex digits is said invalid"
is "$(grep -c . "$T/summary-bad")" 3 "--summary: one line per key asked (a repeated one once)"

# One output option at a time.
fetch --summary --pretty "$K1" >"$T/out" 2>"$T/err"
is "$?" 2 "--summary --pretty: a usage error"
like "$(cat "$T/err")" 'do not mix' "... saying the options do not mix"
is "$(cat "$T/out")" "" "... with nothing on stdout"
fetch --compact --summary "$K1" >/dev/null 2>&1
is "$?" 2 "--compact --summary: a usage error"
fetch --pretty --compact "$K1" >/dev/null 2>&1
is "$?" 2 "--pretty --compact: a usage error"
fetch --summary --summary "$K1" >/dev/null 2>&1
is "$?" 0 "--summary twice: fine"

# --json --summary: the summary as one JSON object.
"$RELAYCFGCTL" --json fetch --upstream "$BASE_URL" --credentials "$T/S.json" \
    --summary --global "$K1" "$K2" AAAA >"$T/summary.json"
ok $? "--json fetch --summary: exit 0"
is "$(jq -c '[.keys[] | [.key, .status]]' "$T/summary.json")" \
    "[[\"$K1\",\"enabled\"],[\"$K2\",\"disabled\"],[\"AAAA\",\"invalid\"]]" \
    "--json --summary: one object, a row per key"
is "$(jq -c --arg k "$K1" '.keys[] | select(.key == $k) | [.project_id, .slug, .rev, (.features | type)]' "$T/summary.json")" \
    "[$PROJ,\"web\",\"$rev\",\"array\"]" "--json --summary: project, slug, rev, features"
jq -e '.global_sections > 0' "$T/summary.json" >/dev/null
ok $? "--json --summary --global: global_sections"
is "$(wc -l <"$T/summary.json")" 1 "--json --summary: on one line"
"$RELAYCFGCTL" --json fetch --upstream "$BASE_URL" --credentials "$T/S.json" \
    --summary "$K1" >"$T/summary.json"
is "$(jq -c 'has("global_sections")' "$T/summary.json")" false \
    "--json --summary without --global: no global_sections"

# Errors keep their form: HTTP status and body on stderr, exit 1.
"$RELAYCFGCTL" fetch --summary --upstream "$BASE_URL" --credentials "$T/S.json" \
    --header 'X-Sentry-Relay-Signature: bad' "$K1" >"$T/out" 2>"$T/err"
is "$?" 1 "a refused fetch exits 1 with --summary too"
like "$(head -n 1 "$T/err")" '^HTTP 401$' "... and says the status on stderr"
is "$(cat "$T/out")" "" "... with nothing on stdout"

done_testing
