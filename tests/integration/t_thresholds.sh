#!/bin/bash
# Transaction thresholds end to end: relaycfgctl threshold writes Sentry's
# sentry_projecttransactionthreshold(override) rows, and a v3 fetch through
# nginx shows them in metricConditionalTagging at once (the write drops the
# project's cached thresholds and its keys' configs); removing them brings
# Sentry's default back.  Bad input is refused with a reason and exit
# status 1 (refused by the store) or 2 (usage).  The killswitch
# relay.drop-transaction-metrics and the flag switch both keys off.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
relay_stack_init
# plain output from here on: the tests read relaycfgctl's text
ctl() { "$RELAYCFGCTL" -c "$RELAYCFG_CONF" "$@"; }
# run CMD...: $OUT (stdout), $ERR (stderr), $RC
run() {
	OUT=$(ctl "$@" 2>"$T/err")
	RC=$?
	ERR=$(cat "$T/err")
}
harness_start_relaycfg
harness_start_nginx
j() { printf '%s' "$HTTP_BODY" | jq -c "$1"; }
# rules: "tagValue:name>value[&transaction]" per rule, one line
rules() {
	ctl_fetch S "$K1"
	j ".configs[\"$K1\"].config.metricConditionalTagging" | jq -r \
	    '[.[] | .tagValue + ":" + ([.condition.inner[] |
	      if .op == "gt" then (.name | sub("^event\\.";"")) + ">" + (.value|tostring)
	      else "=" + .value end] | join("&"))] | join(" ")'
}

# --- a fresh project: Sentry's default threshold -------------------------
run threshold list "$PROJ"
is "$RC:$OUT" "0:default	-	duration	300" "threshold list: the default"
is "$(rules)" "frustrated:duration>1200 tolerated:duration>300 satisfied:" \
    "fresh project: the default satisfaction rules"
ctl_fetch S "$K1"
is "$(j ".configs[\"$K1\"].config.transactionMetrics")" \
    '{"version":6,"extractCustomTags":[],"customMeasurements":{"limit":10},"acceptTransactionNames":"clientBased"}' \
    "transactionMetrics as Sentry's get_transaction_metrics_settings"
is "$(j ".configs[\"$K1\"].config | keys_unsorted | map(select(. == \"breakdownsV2\" or . == \"transactionMetrics\" or . == \"metricConditionalTagging\" or . == \"sessionMetrics\"))")" \
    '["breakdownsV2","transactionMetrics","metricConditionalTagging","sessionMetrics"]' \
    "in Sentry's key order"

# --- the project's threshold ------------------------------------------------
run threshold set "$PROJ" --metric lcp --threshold 500
is "$RC:$OUT" "0:threshold $PROJ set" "threshold set"
is "$(rules)" "frustrated:measurements.lcp.value>2000 tolerated:measurements.lcp.value>500 satisfied:" \
    "served at once: lcp 500 (Sentry's snapshot False/True)"
is "$(sql "SELECT project_id, organization_id, metric, threshold, date_added IS NOT NULL FROM sentry_projecttransactionthreshold" | tr '\t' ' ')" \
    "$PROJ $ORG 2 500 1" "stored as Sentry stores it (TransactionMetric.LCP = 2)"
run threshold set "$PROJ" --threshold 700
run threshold list "$PROJ"
is "$OUT" "project	-	lcp	700" "set --threshold alone keeps the metric"
run --json threshold list "$PROJ"
is "$OUT" '{"thresholds":[{"scope":"project","transaction":null,"metric":"lcp","threshold":700}]}' \
    "threshold list --json"
run threshold list "$PROJ" --cached
is "$OUT" "project	-	lcp	700" "threshold list --cached: as the server reads it"

# --- the cached thresholds are checked as strictly as any row ------------------
# mc FORMAT ARGS...: one memcached text-protocol exchange, answer on stdout
mc() {
	exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT" || return 1
	printf "$@" >&3
	printf 'quit\r\n' >&3
	tr -d '\r' <&3
	exec 3<&-
}
ctl_fetch S "$K1"
TT=$(mc 'get relaycfg:1:tt:%s\r\n' "$PROJ" | sed -n 2p)
like "$TT" "^rc1 [^ ]+ tt \\[\\[2,700\\],\\[\\]\\]\$" \
    "cached per project: [[metric, threshold], [overrides]]"
for bad in '[[9,700],[]]' '[[2,"700"],[]]' '[[2,700],[["b",1,100],["a",1,100]]]' \
    '[[2,700],[["a",1,100],["a",1,200]]]' '[[2,700]]' '{"p":[2,700]}' '[null,[["",1,100]]]'; do
	POISON="${TT% *} $bad"
	mc 'set relaycfg:1:tt:%s 0 300 %d\r\n%s\r\n' "$PROJ" "${#POISON}" "$POISON" >/dev/null
	ctl invalidate --key "$K1" >/dev/null
	is "$(rules)" "frustrated:measurements.lcp.value>2800 tolerated:measurements.lcp.value>700 satisfied:" \
	    "a cached $bad is a miss: read again from MariaDB"
done
is "$(mc 'get relaycfg:1:tt:%s\r\n' "$PROJ" | sed -n 2p)" "$TT" "and the good value is cached again"
# A well-formed entry is served as it is: the cache is really read.
POISON="${TT% *} [[1,300],[]]"
mc 'set relaycfg:1:tt:%s 0 300 %d\r\n%s\r\n' "$PROJ" "${#POISON}" "$POISON" >/dev/null
ctl invalidate --key "$K1" >/dev/null
is "$(rules)" "frustrated:duration>1200 tolerated:duration>300 satisfied:" \
    "a valid cached entry is used without MariaDB"
mc 'set relaycfg:1:tt:%s 0 300 %d\r\n%s\r\n' "$PROJ" "${#TT}" "$TT" >/dev/null
ctl invalidate --key "$K1" >/dev/null

# --- overrides --------------------------------------------------------------
run threshold override set "$PROJ" foo --metric duration --threshold 400
is "$RC:$OUT" "0:override $PROJ set" "threshold override set"
run threshold override set "$PROJ" bar --metric lcp --threshold 600
run threshold override set "$PROJ" "GET /api/{id}/" --metric duration --threshold 1000
run threshold list "$PROJ"
is "$OUT" "override	GET /api/{id}/	duration	1000
override	bar	lcp	600
override	foo	duration	400
project	-	lcp	700" "overrides first, by name, then the project's"
is "$(rules)" "frustrated:duration>4000&=GET /api/{id}/ tolerated:duration>1000&=GET /api/{id}/ satisfied:=GET /api/{id}/ frustrated:measurements.lcp.value>2400&=bar tolerated:measurements.lcp.value>600&=bar satisfied:=bar frustrated:duration>1600&=foo tolerated:duration>400&=foo satisfied:=foo frustrated:measurements.lcp.value>2800 tolerated:measurements.lcp.value>700 satisfied:" \
    "served: each override's three rules with its event.transaction condition"
run threshold override set "$PROJ" foo --metric lcp --threshold 800
is "$(sql "SELECT COUNT(*), MAX(metric), MAX(threshold) FROM sentry_projecttransactionthresholdoverride WHERE \`transaction\` = 'foo'" | tr '\t' ' ')" \
    "1 2 800" "override set again replaces the row (unique project, transaction)"
run threshold override remove "$PROJ" "GET /api/{id}/"
is "$RC:$OUT" "0:override $PROJ removed" "threshold override remove"
run threshold override set "$PROJ" "foo " --metric duration --threshold 100
is "$(sql "SELECT COUNT(*) FROM sentry_projecttransactionthresholdoverride WHERE \`transaction\` LIKE 'foo%'")" 2 \
    "names are compared byte for byte: \"foo \" is not \"foo\""
run threshold override remove "$PROJ" "foo "
is "$(sql "SELECT threshold FROM sentry_projecttransactionthresholdoverride WHERE \`transaction\` LIKE 'foo%'")" 800 \
    "and removing \"foo \" leaves \"foo\""

# --- bad input --------------------------------------------------------------
run threshold set "$PROJ" --threshold 250
is "$RC" 2 "a threshold that is not a multiple of 100 is refused (usage)"
like "$ERR" "multiple of 100" "and says why"
run threshold set "$PROJ" --threshold 2147483700
is "$RC" 2 "a threshold above Sentry's MAX_VALUE is refused (usage)"
run threshold set "$PROJ" --threshold 12ms
is "$RC" 2 "a threshold that is not an integer: usage"
like "$ERR" "integer" "and says so"
run threshold set "$PROJ" --metric fcp
is "$RC" 2 "an unknown metric: usage"
like "$ERR" "duration or lcp" "and names the metrics"
run threshold set "$PROJ"
is "$RC" 2 "threshold set without a value: usage"
run threshold list 999999
is "$RC" 1 "threshold list of a missing project is refused"
like "$ERR" "no such project" "and says so"
run threshold set 999999 --threshold 300
is "$RC" 1 "threshold set on a missing project is refused"
like "$ERR" "no such project" "and says so"
run threshold override set "$PROJ" foo --threshold 300
is "$RC" 2 "override set without --metric: usage"
run threshold override set "$PROJ" "$(printf 'x%.0s' $(seq 201))" --metric lcp --threshold 300
is "$RC" 2 "a transaction name over 200 characters: usage"
run threshold override remove "$PROJ" nope
is "$RC" 1 "removing a missing override is refused"
like "$ERR" "no such override" "and says so"
run threshold list "$PROJ"
is "$OUT" "override	bar	lcp	600
override	foo	lcp	800
project	-	lcp	700" "nothing changed by the refused writes"

# --- remove: back to the default ----------------------------------------------
run threshold override remove "$PROJ" bar
run threshold override remove "$PROJ" foo
run threshold remove "$PROJ"
is "$RC:$OUT" "0:threshold $PROJ removed" "threshold remove"
is "$(rules)" "frustrated:duration>1200 tolerated:duration>300 satisfied:" \
    "back to the default at once"
run threshold remove "$PROJ"
is "$RC" 1 "removing a missing threshold is refused"
run threshold list "$PROJ"
is "$OUT" "default	-	duration	300" "list shows the default again"

# --- the gate: killswitch and flag ------------------------------------------
harness_stop_relaycfg
write_conf "sentry_option = relay.drop-transaction-metrics [{\"project_id\": \"$PROJ\"}]"
harness_start_relaycfg
ctl_fetch S "$K1"
is "$(j ".configs[\"$K1\"].config | has(\"transactionMetrics\"), has(\"metricConditionalTagging\")" | tr '\n' ' ')" \
    "false false " "the killswitch matching the project drops both keys"
harness_stop_relaycfg
write_conf "sentry_option = relay.drop-transaction-metrics [{\"project_id\": 1$PROJ}]"
harness_start_relaycfg
ctl_fetch S "$K1"
is "$(j ".configs[\"$K1\"].config | has(\"transactionMetrics\")")" true \
    "a killswitch for another project does not"
harness_stop_relaycfg
write_conf "feature = organizations:transaction-metrics-extraction off"
harness_start_relaycfg
ctl_fetch S "$K1"
is "$(j ".configs[\"$K1\"].config | has(\"transactionMetrics\"), has(\"metricConditionalTagging\")" | tr '\n' ' ')" \
    "false false " "the flag off drops both keys"

# --- a deleted project takes its rows along ------------------------------------
run threshold set "$PROJ" --threshold 900
run threshold override set "$PROJ" foo --metric lcp --threshold 300
run project delete "$PROJ"
is "$RC" 0 "project delete with thresholds"
is "$(sql "SELECT (SELECT COUNT(*) FROM sentry_projecttransactionthreshold) + (SELECT COUNT(*) FROM sentry_projecttransactionthresholdoverride)")" \
    0 "its threshold rows went with it"

done_testing
