# relay_rules.jq - what Relay's parser requires of a project state and of
# the global config, as jq functions that list every violation.
#
# Relay (getsentry/relay relay-dynamic-config, relay-filter, relay-quotas,
# relay-sampling, relay-cardinality) takes a project state through serde:
# a field of the wrong type outside an ErrorBoundary makes the whole
# state invalid, so the project stays pending and nothing is ingested.
# These checks encode the types of the fields relaycfg sends
# (/work/shared/spec/relay-client.md sections 4.3 and 11); an empty list
# means the state parses.  Use: jq -L tests/lib 'include "relay_rules";
# state_errors' <state.json

def isint: type == "number" and . == floor;
def isuint: isint and . >= 0;
def isstrs: type == "array" and all(.[]; type == "string");
def need(cond; msg): if cond then empty else msg end;

def condition_errors(path):
  need(type == "object" and (.op | type) == "string";
       "\(path): a rule condition needs an op");

def filter_errors:
  . as $f
  | (to_entries[] | select(.value | type != "object")
     | "filterSettings.\(.key): not an object"),
    (["browserExtensions", "localhost", "webCrawlers", "legacyBrowsers",
      "ignoreTransactions"][] as $k
     | select($f | has($k))
     | need(($f[$k].isEnabled | type) == "boolean";
            "filterSettings.\($k): isEnabled must be a boolean")),
    (if has("csp") then need(.csp.disallowedSources | isstrs;
       "filterSettings.csp: disallowedSources must be strings") else empty end),
    (if has("clientIps") then need(.clientIps.blacklistedIps | isstrs;
       "filterSettings.clientIps: blacklistedIps must be strings") else empty end),
    (if has("releases") then need(.releases.releases | isstrs;
       "filterSettings.releases: releases must be strings") else empty end),
    (if has("errorMessages") then need(.errorMessages.patterns | isstrs;
       "filterSettings.errorMessages: patterns must be strings") else empty end),
    (if has("ignoreTransactions") then need(.ignoreTransactions.patterns | isstrs;
       "filterSettings.ignoreTransactions: patterns must be strings") else empty end),
    (if has("generic") then
       need((.generic.version | isuint) and (.generic.filters | type) == "array";
            "filterSettings.generic: version and filters") else empty end);

def quota_errors:
  to_entries[] | .key as $i | .value
  | need(type == "object"; "quotas[\($i)]: not an object"),
    (if has("scopeId") then need((.scopeId | type) == "string" or .scopeId == null;
       "quotas[\($i)].scopeId must be a string") else empty end),
    (if has("categories") then need(.categories | isstrs;
       "quotas[\($i)].categories must be strings") else empty end),
    (if has("limit") then need(.limit == null or (.limit | isuint);
       "quotas[\($i)].limit must be an unsigned integer") else empty end),
    (if has("window") then need(.window == null or (.window | isuint);
       "quotas[\($i)].window must be an unsigned integer") else empty end);

def sampling_errors:
  need(.version | isuint; "sampling.version must be an unsigned integer"),
  need((.rules | type) == "array"; "sampling.rules must be a list"),
  ((.rules // [])[] | . as $r
   | need(.id | isuint; "sampling rule: id must be an unsigned integer"),
     need(.type == "trace" or .type == "transaction";
          "sampling rule \(.id): type must be trace or transaction"),
     need((.samplingValue.type | IN("sampleRate", "factor", "reservoir",
           "minimumSampleRate")) and (.samplingValue.value | type) == "number";
          "sampling rule \(.id): samplingValue"),
     (.condition | condition_errors("sampling rule \($r.id)")));

def metrics_errors:
  need((.cardinalityLimits | type) == "array";
       "metrics.cardinalityLimits must be a list"),
  ((.cardinalityLimits // [])[]
   | need((.id | type) == "string"; "cardinality limit: id must be a string"),
     need((.window.windowSeconds | isuint) and (.window.granularitySeconds | isuint);
          "cardinality limit \(.id): window"),
     need(.limit | isuint; "cardinality limit \(.id): limit"),
     need(.scope | IN("organization", "project", "type", "name");
          "cardinality limit \(.id): scope"),
     need(.namespace == null or (.namespace | type) == "string";
          "cardinality limit \(.id): namespace"),
     (if has("passive") then need((.passive | type) == "boolean";
        "cardinality limit \(.id): passive") else empty end));

def transaction_metrics_errors:
  need(.version | isuint; "transactionMetrics.version"),
  need(.extractCustomTags | isstrs; "transactionMetrics.extractCustomTags"),
  need(.customMeasurements.limit | isuint;
       "transactionMetrics.customMeasurements.limit"),
  need(.acceptTransactionNames | IN("strict", "clientBased");
       "transactionMetrics.acceptTransactionNames");

def tagging_errors:
  to_entries[] | .key as $i | .value
  | need(.targetMetrics | isstrs; "metricConditionalTagging[\($i)].targetMetrics"),
    need((.targetTag | type) == "string"; "metricConditionalTagging[\($i)].targetTag"),
    need((.tagValue | type) == "string"; "metricConditionalTagging[\($i)].tagValue"),
    (.condition | condition_errors("metricConditionalTagging[\($i)]"));

def config_errors:
  (if has("allowedDomains") then need(.allowedDomains | isstrs;
     "allowedDomains must be strings") else empty end),
  (if has("trustedRelays") then need((.trustedRelays | isstrs) and
     all(.trustedRelays[]; length == 43); "trustedRelays must be 43-character keys")
   else empty end),
  (if has("trustedRelaySettings") then need(
     (.trustedRelaySettings.verifySignature | type) == "string";
     "trustedRelaySettings.verifySignature must be a string") else empty end),
  (if has("features") then need(.features | isstrs; "features must be strings")
   else empty end),
  (if has("sampling") and has("dynamicSampling") then
     "sampling and dynamicSampling both present" else empty end),
  (if has("sampling") then (.sampling | sampling_errors) else empty end),
  (if has("metrics") then (.metrics | metrics_errors) else empty end),
  (if has("transactionMetrics") then
     (.transactionMetrics | transaction_metrics_errors) else empty end),
  (if has("metricConditionalTagging") then
     (.metricConditionalTagging | tagging_errors) else empty end),
  (if has("sessionMetrics") then need(.sessionMetrics.version | isuint;
     "sessionMetrics.version") else empty end),
  (if has("filterSettings") then (.filterSettings | filter_errors) else empty end),
  (if has("eventRetention") then need((.eventRetention | isuint) and
     .eventRetention <= 65535; "eventRetention must fit an u16") else empty end),
  (if has("quotas") then (.quotas | quota_errors) else empty end),
  (if has("piiConfig") and .piiConfig != null then need(
     (.piiConfig | type) == "object" and
     all((.piiConfig.rules // {})[]; type == "object" and
       (.type | IN("anything", "pattern", "imei", "mac", "uuid", "email",
          "ip", "creditcard", "iban", "userpath", "pemkey", "url_auth",
          "us_ssn", "bearer", "password", "redact_pair", "redactPair",
          "multiple", "alias")));
     "piiConfig: every rule an object of a type Relay knows") else empty end),
  (if has("breakdownsV2") then need((.breakdownsV2 | type) == "object" and
     all(.breakdownsV2[]; type == "object" and (.type | type) == "string" and
       (if .type == "spanOperations" or .type == "span_operations"
        then .matches | isstrs else true end));
     "breakdownsV2: each a tagged object, spanOperations with string matches")
   else empty end),
  (if has("groupingConfig") then need((.groupingConfig.id | type) == "string";
     "groupingConfig.id") else empty end);

# state_errors - every violation in one project state (a configs value).
def state_errors:
  [ if . == null then empty
    elif type != "object" then "state: not an object"
    elif .disabled == true then empty
    else
      need(.projectId == null or (.projectId | isuint); "projectId"),
      need(.organizationId == null or (.organizationId | isuint); "organizationId"),
      need(.rev == null or (.rev | type) == "string"; "rev"),
      need(.lastChange == null or (.lastChange | type) == "string"; "lastChange"),
      need((.publicKeys | type) == "array" and
           all(.publicKeys[]; (.publicKey | type) == "string" and
               (.publicKey | length) == 32);
           "publicKeys: 32-character keys"),
      need(.projectId == null or (.publicKeys | length) > 0;
           "an enabled state with projectId needs its public key"),
      (.config // {} | config_errors)
    end ];

# global_errors - every violation in a global config.
def global_errors:
  [ need(type == "object"; "global: not an object"),
    (if has("measurements") then
       need((.measurements.builtinMeasurements | type) == "array" and
            (.measurements.maxCustomMeasurements | isuint);
            "global.measurements") else empty end),
    (if has("options") then need((.options | type) == "object";
       "global.options must be an object") else empty end),
    (if has("spanOpDefaults") then need((.spanOpDefaults.rules | type) == "array";
       "global.spanOpDefaults.rules") else empty end) ];
