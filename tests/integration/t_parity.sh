#!/bin/bash
# Sentry parity through nginx (issue 13): a fresh project fetched with v3
# under relaycfg's defaults carries what a fresh self-hosted Sentry sends
# (/work/shared/spec/selfhosted-fidelity.md, verified against Sentry's
# source as named in docs/PROJECT-OPTIONS.md), key by key and in Sentry's
# order; the inputs change it as Sentry's do; and every answer passes
# Relay's parser rules (tests/lib/relay_rules.jq).
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
relay_stack_init
restart_with() {
	harness_stop_relaycfg
	write_conf "$@"
	harness_start_relaycfg
}
harness_start_relaycfg
harness_start_nginx
RULES="-L $top_srcdir/tests/lib"
cfg() { printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$K1\"].config$1"; }
cfg_of() { printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$1\"].config$2"; }
# parses - the whole answer passes Relay's parser rules.
parses() {
	local errs
	errs=$(printf '%s' "$HTTP_BODY" | jq -c $RULES 'include "relay_rules";
	    [(.configs[] | state_errors[]), (if has("global") then
	    (.global | global_errors[]) else empty end)]')
	is "$errs" "[]" "$1: Relay's parser takes the answer"
}

# --- a fresh project under the self-hosted defaults ----------------------
ctl_fetch S --global "$K1"
is "$HTTP_STATUS" 200 "v3 with global answers 200"
parses "fresh project"
is "$(cfg '| keys_unsorted')" \
    '["allowedDomains","trustedRelays","piiConfig","datascrubbingSettings","features","sampling","breakdownsV2","metrics","transactionMetrics","metricConditionalTagging","sessionMetrics","performanceScore","filterSettings","groupingConfig","eventRetention","quotas"]' \
    "config keys in _get_project_config's order"
is "$(cfg .quotas)" \
    "[{\"id\":\"mrl\",\"scope\":\"project\",\"scopeId\":\"$PROJ\",\"categories\":[\"monitor\"],\"limit\":50,\"window\":60,\"reasonCode\":\"monitor_rate_limit\"}]" \
    "quotas: RedisQuota's monitor check-in quota (50 per minute, no monitors)"
is "$(cfg .features)" \
    '["organizations:continuous-profiling","organizations:session-replay","projects:span-metrics-extraction","projects:span-metrics-extraction-addons","organizations:indexed-spans-extraction","organizations:ourlogs-ingestion","organizations:tracemetrics-ingestion"]' \
    "features: the self-hosted flags on EXPOSABLE_FEATURES, in its order"
is "$(cfg .sampling)" \
    '{"version":2,"rules":[{"samplingValue":{"type":"sampleRate","value":1},"type":"trace","condition":{"op":"and","inner":[]},"id":1000}]}' \
    "sampling: base rate 1.0 gives the boost-low-volume-projects rule only"
like "$HTTP_BODY" '"samplingValue":\{"type":"sampleRate","value":1\.0\}' \
    "... its rate written as Python writes 1.0"
is "$(cfg .metrics)" \
    '{"cardinalityLimits":[{"id":"sessions","window":{"windowSeconds":3600,"granularitySeconds":600},"limit":10000,"scope":"organization","namespace":"sessions"}]}' \
    "metrics: the per-org sessions cardinality limit"
is "$(cfg .transactionMetrics)" \
    '{"version":6,"extractCustomTags":[],"customMeasurements":{"limit":10},"acceptTransactionNames":"clientBased"}' \
    "transactionMetrics: version 6, clientBased"
TARGETS='["s:transactions/user@none","d:transactions/duration@millisecond","d:transactions/measurements.lcp@millisecond"]'
is "$(cfg .metricConditionalTagging)" \
    "[{\"condition\":{\"op\":\"and\",\"inner\":[{\"op\":\"gt\",\"name\":\"event.duration\",\"value\":1200}]},\"targetMetrics\":$TARGETS,\"targetTag\":\"satisfaction\",\"tagValue\":\"frustrated\"},{\"condition\":{\"op\":\"and\",\"inner\":[{\"op\":\"gt\",\"name\":\"event.duration\",\"value\":300}]},\"targetMetrics\":$TARGETS,\"targetTag\":\"satisfaction\",\"tagValue\":\"tolerated\"},{\"condition\":{\"op\":\"and\",\"inner\":[]},\"targetMetrics\":$TARGETS,\"targetTag\":\"satisfaction\",\"tagValue\":\"satisfied\"}]" \
    "metricConditionalTagging: the default 300 ms satisfaction rules"
is "$(cfg .eventRetention)" 90 "eventRetention: 90 days, as self-hosted"
is "$(printf '%s' "$HTTP_BODY" | jq -c '.global | [keys_unsorted, .aiModelMetadata]')" \
    '[["measurements","aiModelMetadata","metricExtraction","spanOpDefaults","options"],null]' \
    "global config keys in get_global_config's order, aiModelMetadata null as offline"
is "$(printf '%s' "$HTTP_BODY" | jq -c '.global.options | keys_unsorted')" \
    '["profiling.profile_metrics.unsampled_profiles.platforms","profiling.profile_metrics.unsampled_profiles.sample_rate","profiling.profile_metrics.unsampled_profiles.enabled","relay.span-usage-metric","relay.cardinality-limiter.mode","relay.cardinality-limiter.error-sample-rate","relay.metric-bucket-set-encodings","relay.metric-bucket-distribution-encodings","relay.span-normalization.allowed_hosts","relay.drop-transaction-attachments","replay.relay-snuba-publishing-disabled.sample-rate","relay.sessions-eap.rollout-rate","relay.endpoint-fetch-config.enabled"]' \
    "global options: every RELAY_OPTIONS entry, in its order"
is "$(printf '%s' "$HTTP_BODY" | jq -c '.global.options | [.["relay.cardinality-limiter.mode"], .["relay.span-usage-metric"], .["relay.metric-bucket-set-encodings"], .["relay.span-normalization.allowed_hosts"]]')" \
    '["enabled",false,{},[]]' "... with Sentry's defaults, falsy ones included"
REV_DEFAULT=$(printf '%s' "$HTTP_BODY" | jq -r ".configs[\"$K1\"].rev")

# --- flags and options from relaycfg.conf, no invalidation needed ------
restart_with "feature = organizations:dynamic-sampling off" \
    "feature = organizations:transaction-metrics-extraction off" \
    "feature = organizations:session-replay off" \
    "sentry_option = system.event-retention-days 30" \
    "sentry_option = relay.span-usage-metric true" \
    "sentry_option = relay.span-normalization.allowed_hosts null"
ctl_fetch S --global "$K1"
parses "flags off"
is "$(cfg '| [has("sampling"), has("transactionMetrics"), has("metricConditionalTagging"), .eventRetention]')" \
    '[false,false,false,30]' \
    "dynamic sampling and transaction metrics off, retention 30: at once, though cached"
is "$(cfg '.features | index("organizations:session-replay")')" null \
    "a flag switched off leaves features"
unlike "$(printf '%s' "$HTTP_BODY" | jq -r ".configs[\"$K1\"].rev")" "^$REV_DEFAULT\$" \
    "... and the rev moves"
is "$(printf '%s' "$HTTP_BODY" | jq -c '.global.options | [.["relay.span-usage-metric"], has("relay.span-normalization.allowed_hosts")]')" \
    '[true,false]' "a sentry_option changes the global config; null (None) leaves it out"

restart_with "sentry_option = dynamic-sampling.config.killswitch true" \
    "sentry_option = relay.drop-transaction-metrics [{\"project_id\": \"$PROJ\"}]" \
    "sentry_option = system.event-retention-days 0"
ctl_fetch S "$K1"
parses "kill switches"
is "$(cfg '| [has("sampling"), has("transactionMetrics"), has("eventRetention")]')" \
    '[false,false,false]' \
    "the sampling kill switch, relay.drop-transaction-metrics for this project, retention 0"

restart_with
ctl_fetch S "$K1"
is "$(printf '%s' "$HTTP_BODY" | jq -r ".configs[\"$K1\"].rev")" "$REV_DEFAULT" \
    "back to the defaults: the same rev as before"

# --- organization and project overrides --------------------------------
ctl option set org "$ORG" relaycfg:features '["-organizations:session-replay","organizations:relay-generate-billing-outcome"]' >/dev/null
ctl option set project "$PROJ" relaycfg:features '["-projects:span-metrics-extraction-addons"]' >/dev/null
ctl_fetch S "$K1"
parses "overrides"
is "$(cfg .features)" \
    '["organizations:continuous-profiling","organizations:relay-generate-billing-outcome","projects:span-metrics-extraction","organizations:indexed-spans-extraction","organizations:ourlogs-ingestion","organizations:tracemetrics-ingestion"]' \
    "relaycfg:features switches flags on and off per organization and project"
ctl option set project "$PROJ" sentry:transaction_metrics_custom_tags '["browser","os"]' >/dev/null
ctl_fetch S "$K1"
is "$(cfg .transactionMetrics.extractCustomTags)" '["browser","os"]' \
    "extractCustomTags from sentry:transaction_metrics_custom_tags"

ctl option set project "$PROJ" sentry:breakdowns '{"ok":{"type":"spanOperations","matches":["db"]},"bad":{"type":"spanOperations","matches":"db"}}' >/dev/null
ctl_fetch S "$K1"
parses "a breakdown Relay's parser refuses"
is "$(cfg .breakdownsV2)" '{"ok":{"type":"spanOperations","matches":["db"]}}' \
    "sentry:breakdowns as stored, less a breakdown that would fail the project"
ctl option unset project "$PROJ" sentry:breakdowns >/dev/null
ctl option set project "$PROJ" sentry:relay_pii_config '"{\"rules\":{\"ok\":{\"type\":\"email\"},\"bad\":{\"type\":\"bogus\"}},\"applications\":{\"$string\":[\"ok\",\"bad\"]}}"' >/dev/null
ctl_fetch S "$K1"
parses "a PII rule Relay's parser refuses"
is "$(cfg .piiConfig)" '{"rules":{"project:ok":{"type":"email"}},"applications":{"$string":["project:ok"]}}' \
    "sentry:relay_pii_config less a rule that would fail the project, and its references"
ctl option unset project "$PROJ" sentry:relay_pii_config >/dev/null

ctl option set project "$PROJ" sentry:log_messages '["*debug*"]' >/dev/null
ctl_fetch S "$K1"
is "$(cfg '.filterSettings.generic.filters[0].id')" '"log-message"' \
    "sentry:log_messages: a log-message generic filter, first"
ctl option set project "$PROJ" relaycfg:features '["-projects:custom-inbound-filters"]' >/dev/null
ctl_fetch S "$K1"
is "$(cfg '.filterSettings.generic.filters | map(.id)')" '["chunk-load-error","react-hydration-errors"]' \
    "... only with projects:custom-inbound-filters, as Sentry builds it in that branch"
ctl option unset project "$PROJ" sentry:log_messages >/dev/null
ctl option set project "$PROJ" relaycfg:features '["-projects:span-metrics-extraction-addons"]' >/dev/null

# --- the transaction-name clusterer's project options ---------------------
# (Sentry's clusterer writes them; sentry-sync mirrors them; here by hand)
ctl option set project "$PROJ" sentry:transaction_name_cluster_rules '[["/users/*/**", 1700000000]]' >/dev/null
ctl option set project "$PROJ" sentry:transaction_name_cluster_meta '{"runs": 10, "first_run": 1700000000, "last_run": 1700003600}' >/dev/null
ctl_fetch S "$K1"
parses "clusterer rules"
is "$(cfg '| [.txNameRules, .txNameReady, (keys_unsorted | index("txNameRules") - index("sampling"))]')" \
    '[[{"pattern":"/users/*/**","expiry":"2024-02-12T22:13:20Z","redaction":{"method":"replace","substitution":"*"}}],true,1]' \
    "txNameRules (last seen + 90 days) and txNameReady (10 runs), right after sampling"

# --- a JavaScript project: Sentry's project creation turns filters on -----
JSP=$(ctl project create --org "$ORG" jsapp --platform javascript-react | jq -r .id)
KJ=$(ctl key create --project "$JSP" | jq -r .public_key)
PYP=$(ctl project create --org "$ORG" pyapp --platform python | jq -r .id)
KP=$(ctl key create --project "$PYP" | jq -r .public_key)
ctl_fetch S "$KJ" "$KP"
parses "JavaScript and Python projects"
is "$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$KJ\"].config.filterSettings | del(.csp, .generic) | map_values(del(.patterns))")" \
    '{"browserExtensions":{"isEnabled":true},"legacyBrowsers":{"isEnabled":true,"options":["ie","firefox","chrome","safari","opera","opera_mini","android","edge"]},"webCrawlers":{"isEnabled":true},"ignoreTransactions":{"isEnabled":true}}' \
    "a javascript-* project gets set_default_inbound_filters' filters, in Sentry's order"
is "$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$KP\"].config.filterSettings | keys_unsorted")" \
    '["ignoreTransactions","csp","generic"]' "... a python project gets none of them"
ctl project update "$JSP" --platform python >/dev/null
ctl_fetch S "$KJ"
is "$(cfg_of "$KJ" '.filterSettings.webCrawlers')" '{"isEnabled":true}' \
    "... and they stay when the platform changes, as stored options"

# --- the settings an operator sees ---------------------------------------
is "$(ctl settings | jq -c '[(.features[] | select(.name == "organizations:dynamic-sampling") | .on), (.options[] | select(.name == "system.event-retention-days") | .value)]')" \
    '[true,90]' "relaycfgctl settings shows the flags and options in effect"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" settings | grep -q '^feature organizations:dynamic-sampling on$'
ok $? "... also as text"
done_testing
