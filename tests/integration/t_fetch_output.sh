#!/bin/bash
# "relaycfgctl fetch" as an operator reads it: compact into a pipe (what
# scripts and the other tests parse), indented on a terminal (a real pty,
# by script(1)) and with --pretty, compact again with --compact on a
# terminal, and --summary: a line per key saying what Relay gets for it
# (enabled with project, rev and features; disabled; pending), and the
# global config.  An answer is never altered, only laid out.
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

# Errors keep their form: HTTP status and body on stderr, exit 1.
"$RELAYCFGCTL" fetch --summary --upstream "$BASE_URL" --credentials "$T/S.json" \
    --header 'X-Sentry-Relay-Signature: bad' "$K1" >"$T/out" 2>"$T/err"
is "$?" 1 "a refused fetch exits 1 with --summary too"
like "$(head -n 1 "$T/err")" '^HTTP 401$' "... and says the status on stderr"
is "$(cat "$T/out")" "" "... with nothing on stdout"

done_testing
