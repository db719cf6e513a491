#!/bin/bash
# POST /api/0/relays/projectconfigs/ through nginx with relaycfgctl fetch,
# against real MariaDB and memcached: v1/v2/v3, hits and misses, global,
# unchanged, disabled cases, bad versions and bodies, 500 keys, writes
# followed by fetches, memcached down, MariaDB down and back.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
relay_stack_init "global_option = relay.endpoint-fetch-config.enabled true" \
    "event_retention = 90"
K2=$(ctl key create --project "$PROJ" --rate-limit 100/60 | jq -r .public_key)
PROJ2=$(ctl project create --org "$ORG" api | jq -r .id)
K3=$(ctl key create --project "$PROJ2" | jq -r .public_key)
K0=00000000000000000000000000000000
harness_start_relaycfg
harness_start_nginx
TIME_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+Z$'
j() { printf '%s' "$HTTP_BODY" | jq -c "$1"; }
jr() { printf '%s' "$HTTP_BODY" | jq -r "$1"; }

# --- v3: a miss is built inline, then served from the cache -----------
ctl_fetch S "$K1"
is "$HTTP_STATUS" 200 "v3 miss answers 200"
is "$(j '.pending')" '[]' "nothing pending: built in the same request"
is "$(j ".configs[\"$K1\"] | [.disabled, .slug, .projectId, .organizationId]")" "[false,\"web\",$PROJ,$ORG]" \
    "the config names its project and organization"
is "$(j ".configs[\"$K1\"].publicKeys")" "[{\"publicKey\":\"$K1\",\"numericId\":$(ctl key show "$K1" | jq .id),\"isEnabled\":true}]" \
    "publicKeys lists the requested key only"
like "$(jr ".configs[\"$K1\"].lastFetch")" "$TIME_RE" "lastFetch has fractional seconds and Z"
like "$(jr ".configs[\"$K1\"].lastChange")" "$TIME_RE" "lastChange has fractional seconds and Z"
REV1=$(jr ".configs[\"$K1\"].rev")
like "$REV1" '^[0-9a-f]{32}$' "rev is a 32-hex content digest"
is "$(jr ".configs[\"$K1\"].config.eventRetention")" 90 "eventRetention from the config file"
is "$(j "[.configs[\"$K1\"] | .. | objects | keys[] | select(test(\"[_-]\"))] - [\"span_ops\"]")" '[]' \
    "no key contains _ or - (but below breakdownsV2)"
FETCH1=$(jr ".configs[\"$K1\"].lastFetch")
sleep 0.1
ctl_fetch S "$K1"
is "$(jr ".configs[\"$K1\"].lastFetch")" "$FETCH1" "v3 hit is served as cached (same lastFetch)"
is "$(jr ".configs[\"$K1\"].rev")" "$REV1" "same rev on a hit"

# A fresh project through nginx matches the builder's golden file (whose
# monitor quota names the builder's project id).
is "$(jr ".configs[\"$K1\"].config" | jq -S -c .)" \
    "$(jq -S -c --arg p "$PROJ" '.config | .quotas |= map(.scopeId = $p)' \
    "$top_srcdir/tests/golden/fresh_project.json")" \
    "a fresh project's config is the golden one, byte for byte after sorting"
is "$(j ".configs[\"$K1\"] | keys_unsorted")" \
    '["disabled","slug","lastFetch","lastChange","rev","publicKeys","config","organizationId","projectId"]' \
    "top-level keys in Sentry's order"

# Mixed: one cached, one not.
ctl_fetch S "$K1" "$K3"
is "$(j '[(.configs|length), (.pending|length)]')" '[2,0]' "v3 mixed hit and miss: both answered"
is "$(jr ".configs[\"$K3\"].slug")" api "the miss is the other project's config"

# Rate-limited key: a key-scope quota with a string scopeId.
ctl_fetch S "$K2"
is "$(j ".configs[\"$K2\"].config.quotas[1] | [.scope, (.scopeId|type), .limit, .window, .reasonCode]")" \
    '["key","string",100,60,"key_quota"]' "key rate limit becomes a key quota"

# --- v2, noCache, v1 -----------------------------------------------------
ctl_fetch S --version 2 "$K1" "$K1"
is "$(j 'keys')" '["configs"]' "v2 answers configs only"
is "$(j '.configs | keys')" "[\"$K1\"]" "duplicate keys collapse"
ctl_fetch S --no-cache "$K1"
is "$(j 'keys')" '["configs"]' "v3 noCache takes the by-key path (no pending)"
is "$(jr ".configs[\"$K1\"].rev")" "$REV1" "rebuilt config has the same rev"
ctl_fetch S --version 1 "$PROJ" 999999
is "$HTTP_STATUS" 200 "v1 by project id"
is "$(j ".configs[\"$PROJ\"].publicKeys | map(.publicKey) | sort")" "$(printf '["%s","%s"]' "$K1" "$K2" | jq -c sort)" \
    "v1 lists all keys of the project"
is "$(j '.configs["999999"]')" '{"disabled":true}' "v1 unknown project is disabled"
printf '{"projects":[%s,"%s",999999,%s]}' "$PROJ" "$PROJ" "$PROJ" >"$T/bdup1"
ctl_fetch S --version 1 --body-file "$T/bdup1"
is "$(j '.configs | keys | sort')" "$(printf '["%s","999999"]' "$PROJ" | jq -c sort)" "v1 duplicate ids collapse"
# The first occurrence of a key decides, revision included.
REV3=$(ctl_fetch S "$K3"; jr ".configs[\"$K3\"].rev")
printf '{"publicKeys":["%s","%s","%s","%s"],"revisions":["%s",null,null,"%s"]}' \
    "$K1" "$K3" "$K1" "$K3" "$REV1" "$REV3" >"$T/bdup3"
ctl_fetch S --body-file "$T/bdup3"
is "$(j '[.unchanged, (.configs | keys)]')" "[[\"$K1\"],[\"$K3\"]]" \
    "v3 duplicates collapse to the first occurrence and its revision"

# --- global ----------------------------------------------------------------
ctl_fetch S --global
is "$HTTP_STATUS" 200 "global config fetch"
is "$(j '[.global_status, .globalStatus]')" '["ready","ready"]' "global_status and globalStatus"
is "$(j '.global.measurements.builtinMeasurements | length')" 21 "21 builtin measurements"
is "$(j '.global.options["relay.endpoint-fetch-config.enabled"]')" true "configured global option"
ctl_fetch S --version 2 --global "$K1"
is "$(j 'has("global")')" false "global is never added for v2"

# With workers = 0 a reload frees the old conf in the serving process. Two
# reloads between global requests used to hand the newest conf the address
# of the one the global config was rendered for, and the old options were
# answered. Three rounds: malloc gave the address back in most of them.
harness_stop_relaycfg
rm -f "$RELAYCFG_SOCKET"
harness_start_relaycfg --workers 0
stale=""
for round in 1 2 3; do
	ctl_fetch S --global
	write_conf "global_option = relay.sessions-eap.rollout-rate 0.$round"
	kill -HUP "$RELAYCFG_PID"
	sleep 0.3
	write_conf "global_option = relay.sessions-eap.rollout-rate 0.${round}5"
	kill -HUP "$RELAYCFG_PID"
	sleep 0.3
	ctl_fetch S --global
	stale="$stale $(j '.global.options["relay.sessions-eap.rollout-rate"]')"
done
is "$stale" " 0.15 0.25 0.35" "workers = 0: two reloads in a row, then the newest global options"
reloads=$(grep -c "configuration reloaded" "$T/relaycfg.log")
http GET /metrics
is "$(printf '%s\n' "$HTTP_BODY" | sed -n 's/^relaycfg_reloads_total //p')" "$reloads" \
    "workers = 0: relaycfg_reloads_total counts the process's reloads ($reloads)"
harness_stop_relaycfg
rm -f "$RELAYCFG_SOCKET"
write_conf
harness_start_relaycfg

# --- unchanged ---------------------------------------------------------------
ctl_fetch S --revision "$K1=$REV1" "$K1" "$K3"
is "$(j '.unchanged')" "[\"$K1\"]" "a current revision lands in unchanged"
is "$(j '.configs | keys')" "[\"$K3\"]" "and not in configs"
ctl_fetch S --revision "$K1=0123456789abcdef0123456789abcdef" "$K1"
is "$(j '[has("unchanged"), (.configs|keys)]')" "[false,[\"$K1\"]]" "a stale revision gets the config"
ctl_fetch S "$K1"
is "$(j 'has("unchanged")')" false "a null revision never matches"
# Sentry never sends "unchanged" (relay issue #4078): v2 ignores
# revisions and answers every config in full; v3 noCache keeps them.
ctl_fetch S --version 2 --revision "$K1=$REV1" "$K1" "$K3"
is "$(j '[has("unchanged"), (.configs|keys|sort)]')" "[false,$(printf '["%s","%s"]' "$K1" "$K3" | jq -c sort)]" \
    "v2 with a current revision: the full config, no unchanged"
is "$(jr ".configs[\"$K1\"].rev")" "$REV1" "... with the same rev"
ctl_fetch S --no-cache --revision "$K1=$REV1" "$K1"
is "$(j '.unchanged')" "[\"$K1\"]" "v3 noCache still answers unchanged"

# --- disabled cases ------------------------------------------------------------
ctl_fetch S "$K0"
is "$(j ".configs[\"$K0\"]")" '{"disabled":true}' "unknown key is disabled"
ctl key disable "$K2" >/dev/null
ctl_fetch S "$K2"
is "$(j ".configs[\"$K2\"]")" '{"disabled":true}' "inactive key is disabled"
ctl project disable "$PROJ2" >/dev/null
ctl_fetch S "$K3"
is "$(j ".configs[\"$K3\"]")" '{"disabled":true}' "disabled project is disabled"
ctl project enable "$PROJ2" >/dev/null
ctl_fetch S "$K3"
is "$(jr ".configs[\"$K3\"].slug")" api "re-enabled project is served again (write invalidates)"

# --- writes are seen at once ---------------------------------------------------
LC1=$(ctl_fetch S "$K1"; jr ".configs[\"$K1\"].lastChange")
ctl_fetch S --revision "$K1=$REV1" "$K1"
is "$(j '.unchanged')" "[\"$K1\"]" "before the write: the cached rev is current"
ctl option set project "$PROJ" sentry:origins '["https://Example.com/"]' >/dev/null
ctl_fetch S --revision "$K1=$REV1" "$K1"
is "$(j ".configs[\"$K1\"].config.allowedDomains") $(j 'has("unchanged")')" '["https://example.com"] false' \
    "an option write is seen by the next fetch, even one that has the old rev"
REV2=$(jr ".configs[\"$K1\"].rev")
ctl_fetch S --revision "$K1=$REV2" "$K1" "$K3"
is "$(j '[.unchanged, (.configs | keys)]')" "[[\"$K1\"],[\"$K3\"]]" \
    "the new rev is current at once; a key without a revision beside it gets its config"
ok $([ "$REV2" != "$REV1" ]; echo $?) "a changed config gets a new rev"
ok $([ "$(jr ".configs[\"$K1\"].lastChange")" != "$LC1" ]; echo $?) "and a new lastChange"

# --- versions and bodies ---------------------------------------------------------
for v in 0 4 abc; do
	ctl_fetch S --version "$v" "$K1"
	is "$HTTP_STATUS $HTTP_BODY" '400 "Unsupported version, we only support versions 1 to 3."' "version $v is 400"
done
# A repeated version: Django's request.GET.get answers the last one.
printf '{"publicKeys":["%s"],"global":true}' "$K1" >"$T/bver"
signed_http S "/api/0/relays/projectconfigs/?version=1&version=3" "$T/bver"
is "$HTTP_STATUS $(j '[has("pending"), has("global"), (.configs | keys)]')" "200 [true,true,[\"$K1\"]]" \
    "version=1&version=3 is answered as v3"
signed_http S "/api/0/relays/projectconfigs/?version=3&version=9" "$T/bver"
is "$HTTP_STATUS $HTTP_BODY" '400 "Unsupported version, we only support versions 1 to 3."' "version=3&version=9 is 400"
printf '{"publicKeys":"%s"}' "$K1" >"$T/b1"
ctl_fetch S --body-file "$T/b1"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"publicKeys must be a list of strings"}' "publicKeys not a list"
printf '{"publicKeys":[1,2]}' >"$T/b2"
ctl_fetch S --body-file "$T/b2"
is "$HTTP_STATUS" 400 "publicKeys of numbers"
printf '{"projects":[{"a":1}]}' >"$T/b3"
ctl_fetch S --version 1 --body-file "$T/b3"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"projects must be a list of project ids"}' "projects not ids"
# Integers json-c would saturate: refused, never answered under another id.
for big in 99999999999999999999999 9223372036854775808 -9223372036854775809; do
	printf '{"projects":[%s]}' "$big" >"$T/bbig"
	ctl_fetch S --version 1 --body-file "$T/bbig"
	is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"projects must be a list of project ids"}' "project id $big: 400"
done
printf '{"projects":[9223372036854775807,-5]}' >"$T/bbig"
ctl_fetch S --version 1 --body-file "$T/bbig"
is "$HTTP_STATUS $(j '.configs')" '200 {"9223372036854775807":{"disabled":true},"-5":{"disabled":true}}' \
    "the largest 64-bit id and a negative one: no such project"
printf '{"publicKeys":["%s"],"revisions":[5]}' "$K1" >"$T/b4"
ctl_fetch S --body-file "$T/b4"
is "$HTTP_STATUS" 400 "revisions of numbers"
printf '{}' >"$T/b5"
ctl_fetch S --body-file "$T/b5"
is "$HTTP_STATUS $HTTP_BODY" '200 {"configs":{},"pending":[]}' "empty body, v3"
ctl_fetch S --version 2 --body-file "$T/b5"
is "$HTTP_STATUS $HTTP_BODY" '200 {"configs":{}}' "empty body, v2"
printf '{"publicKeys":["short","%s","with\\"quote5678901234567890123456"]}' "$K1" >"$T/b6"
ctl_fetch S --body-file "$T/b6"
is "$(j '.configs | keys')" "[\"$K1\"]" "key strings Relay could not parse are never echoed"

# --- 500 keys in one request ----------------------------------------------------
keys=$(for i in $(seq 498); do printf '%032x\n' "$i"; done)
ctl_fetch S $keys "$K1" "$K3"
is "$HTTP_STATUS" 200 "500 keys in one request"
is "$(j '.configs | length')" 500 "500 answers"
is "$(jr ".configs[\"$K3\"].slug")" api "real keys among them are served"

# --- the cap: 10,000 keys (v1: projects) in one request (docs/HARDENING.md) ---
# Relay sends 500 at most; a larger list is refused whole, before any lookup.
printf '{"publicKeys":[%s]}' "$(seq 10000 | xargs printf '"%032x"\n' | paste -sd, -)" >"$T/cap"
signed_http S /api/0/relays/projectconfigs/?version=2 "$T/cap"
is "$HTTP_STATUS $(j '.configs | length')" "200 10000" "10,000 keys: answered"
printf '{"publicKeys":[%s]}' "$(seq 10001 | xargs printf '"%032x"\n' | paste -sd, -)" >"$T/cap"
for v in 2 3; do
	signed_http S "/api/0/relays/projectconfigs/?version=$v" "$T/cap"
	is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"Too many keys in one request"}' "10,001 keys (v$v): 400"
done
printf '{"projects":[%s]}' "$(seq 10000 | paste -sd, -)" >"$T/cap"
signed_http S /api/0/relays/projectconfigs/?version=1 "$T/cap"
is "$HTTP_STATUS $(j '.configs | length')" "200 10000" "10,000 project ids: answered"
printf '{"projects":[%s]}' "$(seq 10001 | paste -sd, -)" >"$T/cap"
signed_http S /api/0/relays/projectconfigs/?version=1 "$T/cap"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"Too many projects in one request"}' "10,001 project ids: 400"

# --- compression: one gzip body made of the precompressed configs -----------------
# nginx passes relaycfg's gzip on as it is (its own gzip is on for JSON); a
# client that does not ask for gzip gets the same bytes inflated.
PC=/api/0/relays/projectconfigs/?version=3
printf '{"publicKeys":["%s","%s","%s","with\\"quote5678901234567890123456"],"global":true}' \
    "$K1" "$K3" "$K0" >"$T/bz"
signed_http S "$PC" "$T/bz" -H "Accept-Encoding: gzip"	# every config cached
signed_http S "$PC" "$T/bz" -H "Accept-Encoding: gzip"
cp "$T/http.body" "$T/bz.gz"
is "$HTTP_STATUS" 200 "gzip: 200"
like "$HTTP_HEADERS" "Content-Encoding: gzip" "gzip asked: gzip answered"
like "$HTTP_HEADERS" "Vary: Accept-Encoding" "and Vary names Accept-Encoding"
is "$(sed -n 's/^Content-Length: //Ip' <<<"$HTTP_HEADERS")" "$(wc -c <"$T/bz.gz")" \
    "Content-Length is what was sent"
gzip -t "$T/bz.gz" 2>/dev/null
ok $? "gzip -t: one valid gzip stream (CRC and length check out)"
gzip -dc "$T/bz.gz" >"$T/bz.json" 2>/dev/null
is "$(jq -c '[(.configs|keys|length), .configs["'"$K3"'"].slug, .globalStatus, (.global.measurements.builtinMeasurements|length)]' "$T/bz.json")" \
    '[3,"api","ready",21]' "it inflates to the answer, configs and global"
signed_http S "$PC" "$T/bz"
unlike "$HTTP_HEADERS" "Content-Encoding" "no Accept-Encoding: identity"
like "$HTTP_HEADERS" "Vary: Accept-Encoding" "with Vary too"
cmp -s "$T/http.body" "$T/bz.json"
ok $? "identity is byte for byte the inflated gzip answer"
is "$(sed -n 's/^Content-Length: //Ip' <<<"$HTTP_HEADERS")" "$(wc -c <"$T/http.body")" \
    "identity Content-Length is what was sent"
signed_http S "$PC" "$T/bz" -H "Accept-Encoding: gzip;q=0, deflate"
unlike "$HTTP_HEADERS" "Content-Encoding" "gzip;q=0 is refused gzip"
cmp -s "$T/http.body" "$T/bz.json"
ok $? "and gets the same answer"
signed_http S "$PC" "$T/bz" -H "Accept-Encoding: br;q=1, *;q=0.5"
like "$HTTP_HEADERS" "Content-Encoding: gzip" "* takes gzip"
printf '{"publicKeys":[%s]}' "$(printf '"%s",' $keys "$K1" | sed 's/,$//'),\"$K3\"" >"$T/b500"
signed_http S "$PC" "$T/b500" -H "Accept-Encoding: gzip"
gzip -dc "$T/http.body" >"$T/b500.json" 2>/dev/null
ok $? "500 keys: valid gzip"
Z500=$(wc -c <"$T/http.body")
signed_http S "$PC" "$T/b500"
cmp -s "$T/http.body" "$T/b500.json"
ok $? "500 keys: gzip inflates to the identity answer"
is "$(jq '.configs | length' "$T/b500.json")" 500 "500 keys: 500 answers"
ok $([ "$Z500" -lt "$(wc -c <"$T/http.body")" ]; echo $?) \
    "500 keys, mostly disabled: gzip still smaller ($Z500 of $(wc -c <"$T/http.body") bytes)"
ZBZ=$(wc -c <"$T/bz.gz")
ok $([ $((ZBZ * 3)) -lt "$(wc -c <"$T/bz.json")" ]; echo $?) \
    "real configs: gzip under a third of identity ($ZBZ of $(wc -c <"$T/bz.json") bytes)"
# answer_gzip = no: relaycfg answers plain JSON, nginx gzips it whole.
write_conf "answer_gzip = no"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
signed_http S "$PC" "$T/bz" -H "Accept-Encoding: gzip"
like "$HTTP_HEADERS" "Content-Encoding: gzip" "answer_gzip = no: nginx gzips instead"
gzip -dc "$T/http.body" >"$T/bz-nginx.json" 2>/dev/null
cmp -s "$T/bz-nginx.json" "$T/bz.json"
ok $? "to the same answer"
ok $([ "$(wc -c <"$T/http.body")" -lt "$ZBZ" ]; echo $?) \
    "one gzip of the whole answer is smaller ($(wc -c <"$T/http.body") against $ZBZ bytes)"
write_conf
kill -HUP "$RELAYCFG_PID"
sleep 0.5

# --- settings changed, then changed back: an invalidation reaches every copy ------
# A config built under other Sentry settings (feature and sentry_option
# lines) is never answered, and a change made while the file says A
# reaches the config cached while it said B: once the file says B again,
# a key disabled meanwhile is disabled, not B's old copy of it (which was
# answered live for ttl_config).
FB="feature = organizations:session-replay off"
reload_with() { write_conf "$@"; kill -HUP "$RELAYCFG_PID"; sleep 0.5; }
K5=$(ctl key create --project "$PROJ" | jq -r .public_key)
other_settings() {	# relaycfg_configs_other_settings_total, all workers
	http GET /metrics
	printf '%s\n' "$HTTP_BODY" | sed -n 's/^relaycfg_configs_other_settings_total //p'
}
reload_with "$FB"
DIGEST_B=$(ctl settings | jq -r .digest)
ctl_fetch S "$K5"
REV5B=$(jr ".configs[\"$K5\"].rev")
is "$HTTP_STATUS $(j ".configs[\"$K5\"].disabled")" "200 false" "settings B: the key is live"
reload_with
DIGEST_A=$(ctl settings | jq -r .digest)
OTHER0=$(other_settings)
LOGOFF=$(wc -c <"$T/relaycfg.log")
ctl_fetch S "$K5"
REV5A=$(jr ".configs[\"$K5\"].rev")
ok $([ "$REV5A" != "$REV5B" ]; echo $?) "settings A: another config, not B's copy ($REV5A, $REV5B)"
ok $(( $(other_settings) <= OTHER0 )) \
    "... B's entry is counted in relaycfg_configs_other_settings_total ($OTHER0 before)"
tail -c +$((LOGOFF + 1)) "$T/relaycfg.log" |
    grep -q "cached configs built under other settings (digest $DIGEST_B, ours $DIGEST_A)"
ok $? "... and said in the log, with B's digest"
ctl key disable "$K5" >/dev/null 2>"$T/disable.err"
is "$?:$(cat "$T/disable.err")" "0:" "key disable under settings A: done, cache invalidated"
reload_with "$FB"
ctl_fetch S "$K5"
is "$(j ".configs[\"$K5\"]")" '{"disabled":true}' \
    "settings B again: the key disabled under A is disabled, not B's old copy"
ctl_fetch S --revision "$K5=$REV5B" "$K5"
is "$(j '.unchanged // []') $(j ".configs[\"$K5\"]")" '[] {"disabled":true}' \
    "and B's old revision is not unchanged"
reload_with

# --- the rev memo: workers remember current revs until any invalidation ----------
# Each worker learns K3's rev from its rev entry, then answers "unchanged"
# from memory while the cache epoch stays; a change made behind
# relaycfg's back becomes visible through the invalidation alone.
memo_warm() { for i in 1 2 3 4 5 6; do ctl_fetch S --revision "$K3=$1" "$K3"; done; }
memo_slugs() {		# six fetches with an old revision: the slugs answered
	for i in 1 2 3 4 5 6; do
		ctl_fetch S --revision "$K3=$1" "$K3"
		printf '%s ' "$(jr ".configs[\"$K3\"].slug")"
	done
}
REV3=$(ctl_fetch S "$K3"; jr ".configs[\"$K3\"].rev")
memo_warm "$REV3"
is "$(j '.unchanged')" "[\"$K3\"]" "a current revision, remembered by the workers"
sql "UPDATE sentry_project SET slug = 'api-renamed' WHERE id = $PROJ2"
ctl invalidate --project "$PROJ2" >/dev/null
is "$(memo_slugs "$REV3")" "$(printf 'api-renamed %.0s' 1 2 3 4 5 6)" \
    "changed behind relaycfg's back, then invalidate --project: no worker says unchanged"
REV3=$(ctl_fetch S "$K3"; jr ".configs[\"$K3\"].rev")
memo_warm "$REV3"
sql "UPDATE sentry_project SET slug = 'api' WHERE id = $PROJ2"
ctl invalidate --all >/dev/null
is "$(memo_slugs "$REV3")" "$(printf 'api %.0s' 1 2 3 4 5 6)" \
    "the same after invalidate --all (a new cache generation)"

# --- a single process keeps its rev memo across a reload: not past new settings ---
# With workers = 0 a reload swaps the config in the same process; the
# revisions it remembers as current were current under the old settings.
harness_stop_relaycfg
harness_start_relaycfg --workers 0
REV3B=$(ctl_fetch S "$K3"; jr ".configs[\"$K3\"].rev")
memo_warm "$REV3B"
is "$(j '.unchanged')" "[\"$K3\"]" "single process: a current revision, remembered"
reload_with "$FB"
ctl_fetch S --revision "$K3=$REV3B" "$K3"
REV3F=$(jr ".configs[\"$K3\"].rev")
is "$(j '.unchanged // []') $([ -n "$REV3F" ] && [ "$REV3F" != "$REV3B" ]; echo $?)" "[] 0" \
    "... reloaded with other settings: the remembered revision is not unchanged"
reload_with
harness_stop_relaycfg
harness_start_relaycfg

# --- damaged computed-config entries are misses, never answers ---------------------
# Written over /dev/tcp with the current generation, so only the payload
# after relaycfg's framing is wrong.
mc_get() {
	local line val=""
	exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"
	printf 'get %s\r\n' "$1" >&3
	read -r line <&3
	case $line in VALUE*) read -r val <&3; read -r line <&3 ;; esac
	exec 3<&-
	printf '%s' "${val%$'\r'}"
}
mc_set() {
	local line
	exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"
	printf 'set %s 0 0 %d\r\n%s\r\n' "$1" "${#2}" "$2" >&3
	read -r line <&3
	exec 3<&-
	[ "${line%$'\r'}" = STORED ]
}
# computed configs begin with the digest of the Sentry settings
CFGTAG=$(ctl settings | jq -r .digest)
ctl_fetch S "$K1"		# its entry, under the current generation
GEN=$(mc_get relaycfg:1:gen)
like "$GEN" '^[0-9a-f]{16}$' "the cache generation is readable"
like "$(mc_get "relaycfg:1:cfgz:$K1")" "^rc1 $GEN cfgz $CFGTAG [0-9]+ $REV2 [^ ]+ [0-9a-f]{8} [0-9a-f]{8} [0-9]+\$" \
    "the entry to damage is where we write, with the header we expect"
# After an invalidation the first rebuild caches both entries again: the
# config entry over the tombstone its lookup read, and the rev entry
# (which a request without revisions does not look up) over the tombstone
# leased before the rows were read (cache_lease).
ctl invalidate --key "$K1" >/dev/null
is "$(mc_get "relaycfg:1:cfgr:$K1")" rc-invalidated "invalidate --key: the rev entry is a tombstone"
ctl_fetch S "$K1"
like "$(mc_get "relaycfg:1:cfgr:$K1")" "^rc1 $GEN cfgr $CFGTAG [0-9]+ $REV2\$" \
    "the first rebuild after it writes the rev entry again"
like "$(mc_get "relaycfg:1:cfgz:$K1")" "^rc1 $GEN cfgz $CFGTAG [0-9]+ $REV2 " \
    "... and the config entry"
n=0
for bad in "x" $'123 - - zzzzzzzz 00000000 10\nabcdefghij' \
    $'123 short - 00000000 00000000 10\nabcdefghij' \
    $'99999999999999999999 - - 00000000 00000000 10\nabcdefghij' \
    $'123 - - 00000000 00000000 999999999999\nabcdefghij' \
    $'123 - - 00000000 00000000 10\n' $'123 - - 00000000 00000000\nabc' \
    $'123  - 00000000 00000000 10\nabcdefghij' \
    "$(date +%s) - - 00000000 00000000 10 no newline"; do
	mc_set "relaycfg:1:cfgz:$K1" "rc1 $GEN cfgz $CFGTAG $bad" || n=$((n + 100))
	ctl_fetch S "$K1"
	[ "$HTTP_STATUS $(jr ".configs[\"$K1\"].rev")" = "200 $REV2" ] || n=$((n + 1))
done
is "$n" 0 "nine damaged entries: each one a miss, the config rebuilt"

# Entries whose header is consistent but whose fragment is not what it
# says, or whose operator is impossible, planted byte for byte: the real
# config text in a stored deflate block (what any inflater reads), with
# the real header's CRC, operator and length unless one is the damage.
# Each must be a miss (rebuilt, and overwritten in memcached), answered
# with exactly Content-Length bytes, to gzip and identity clients alike.
mc_set_file() {		# KEY FILE: the file's bytes as the value
	local line
	exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"
	{ printf 'set %s 0 0 %d\r\n' "$1" "$(wc -c <"$2")"; cat "$2"; printf '\r\n'; } >&3
	read -r line <&3
	exec 3<&-
	[ "${line%$'\r'}" = STORED ]
}
byte() { printf "\\$(printf '%03o' "$1")"; }
# stored_frag FINAL FILE: FILE as one stored block (BFINAL as given),
# then the empty stored block of a sync flush.
stored_frag() {
	local n
	n=$(wc -c <"$2")
	byte "$1"; byte $((n & 255)); byte $((n >> 8))
	byte $((~n & 255)); byte $(((~n >> 8) & 255))
	cat "$2"
	printf '\000\000\000\377\377'
}
PC1=/api/0/relays/projectconfigs/?version=3
printf '{"publicKeys":["%s"]}' "$K1" >"$T/bk1"
signed_http S "$PC1" "$T/bk1"		# cached, then read back as identity
signed_http S "$PC1" "$T/bk1"
pre="{\"configs\":{\"$K1\":" post='},"pending":[]}'
tail -c +$((${#pre} + 1)) "$T/http.body" | head -c -${#post} >"$T/k1.txt"
read -r _ _ _ _ HBUILT HREV HLC HCRC HOP HLEN <<<"$(mc_get "relaycfg:1:cfgz:$K1")"
TCRC=$(gzip -c <"$T/k1.txt" | tail -c 8 | head -c 4 | od -An -tx4 | tr -d ' \n')
is "$HLEN $HCRC" "$(wc -c <"$T/k1.txt") $TCRC" \
    "the cached text read back has the entry's length and CRC"
head -c -10 "$T/k1.txt" >"$T/k1.short"
{ cat "$T/k1.txt"; printf '          '; } >"$T/k1.long"
# Fresh, and never the header of an entry that was checked: the real one
# has HBUILT, and rebuilt ones have other CRCs (lastFetch moves).
FRESH=$((HBUILT - 1))
# plant NAME FINAL TEXTFILE LASTCHANGE CRC OP LEN
plant() {
	{ printf 'rc1 %s cfgz %s %s %s %s %s %s %s\n' "$GEN" "$CFGTAG" "$FRESH" "$HREV" "$4" "$5" "$6" "$7"
	    stored_frag "$2" "$3"; } >"$T/plant.$1"
	mc_set_file "relaycfg:1:cfgz:$K1" "$T/plant.$1" || diag "could not plant $1"
}
# check_answer NAME ENCODING MARK: 200, the right config, exactly
# Content-Length bytes, and the entry in memcached rebuilt (MARK, the
# planted CRC, gone from its header).
check_answer() {
	local cl bad=""
	if [ "$2" = gzip ]; then
		signed_http S "$PC1" "$T/bk1" -H "Accept-Encoding: gzip" --max-time 5
		gzip -t "$T/http.body" 2>/dev/null || bad="$bad gzip"
		gzip -dc "$T/http.body" >"$T/ans.json" 2>/dev/null
	else
		signed_http S "$PC1" "$T/bk1" --max-time 5
		cp "$T/http.body" "$T/ans.json"
	fi
	cl=$(sed -n 's/^Content-Length: //Ip' <<<"$HTTP_HEADERS")
	[ "$HTTP_STATUS" = 200 ] || bad="$bad status=$HTTP_STATUS"
	[ "$cl" = "$(wc -c <"$T/http.body")" ] || bad="$bad length=$cl/$(wc -c <"$T/http.body")"
	[ "$(jq -r ".configs[\"$K1\"].rev" "$T/ans.json" 2>/dev/null)" = "$REV2" ] || bad="$bad rev"
	[[ "$(jq -r ".configs[\"$K1\"].lastChange" "$T/ans.json" 2>/dev/null)" =~ $TIME_RE ]] || bad="$bad lastChange"
	[[ "$(mc_get "relaycfg:1:cfgz:$K1")" != *" $3 "* ]] || bad="$bad not-rebuilt"
	is "${bad:-ok}" ok "damaged entry, $1, $2 client: a miss, rebuilt, whole"
}
BADCRC=$(printf '%08x' $((0x$HCRC ^ 1)))
for enc in gzip identity; do
	plant op0 0 "$T/k1.txt" "$HLC" "$HCRC" 00000000 "$HLEN"
	check_answer "CRC operator 00000000" "$enc" "$HCRC"
	plant long 0 "$T/k1.long" "$HLC" "$HCRC" "$HOP" "$HLEN"
	check_answer "fragment 10 bytes longer than its length" "$enc" "$HCRC"
	plant short 0 "$T/k1.short" "$HLC" "$HCRC" "$HOP" "$HLEN"
	check_answer "fragment 10 bytes shorter than its length" "$enc" "$HCRC"
	plant final 1 "$T/k1.txt" "$HLC" "$HCRC" "$HOP" "$HLEN"
	check_answer "a final block inside the answer" "$enc" "$HCRC"
	plant crc 0 "$T/k1.txt" "$HLC" "$BADCRC" "$HOP" "$HLEN"
	check_answer "a wrong CRC" "$enc" "$BADCRC"
done
# An expired copy whose lastChange would be kept (same rev) must not
# bring its own bytes into the rebuilt config.
FRESH=123
plant lc 0 "$T/k1.txt" '2026-01-01T00:00:00.00000"Z' "$HCRC" "$HOP" "$HLEN"
check_answer "a lastChange that is not a time" identity "$HCRC"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "the workers still answer after every damaged entry"
cpu_ticks() {		# user + system ticks of all workers
	local p t=0
	for p in $(worker_pids); do
		set -- $(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null)
		t=$((t + ${12:-0} + ${13:-0}))
	done
	echo "$t"
}
c0=$(cpu_ticks); sleep 1; c1=$(cpu_ticks)
ok $([ $((c1 - c0)) -lt 30 ]; echo $?) \
    "and no worker spins: $((c1 - c0)) CPU ticks in an idle second"

# --- memcached frozen: a breaker per server, per worker -----------------------------
# SIGSTOP: memcached still accepts connections and never answers.  Each
# worker waits for it once (poll timeout), then leaves it alone for the
# retry timeout (2 s by default) before one probe; meanwhile answers come
# from MariaDB.  Signed identity requests for K1, 4 at a time, for SECS
# seconds; every answer must be 200 with the size of a correct one.
# burst SIG: 16 requests for K1 signed with SIG, 4 at a time; a line
# "code size seconds" per answer.
burst() {
	local i args=()
	for i in $(seq 16); do args+=("$BASE_URL$PC1" -o /dev/null); done
	curl -s --no-progress-meter -Z --parallel-max 4 --max-time 10 \
	    -w '%{http_code} %{size_download} %{time_total}\n' --data-binary @"$T/bk1" \
	    -H "Content-Type: application/json" \
	    -H "X-Sentry-Relay-Id: $(relay_id S)" \
	    -H "X-Sentry-Relay-Signature: $1" "${args[@]}" 2>/dev/null
}
# load SECS: prints "answers failed slow" (slow: 150 ms or more, which
# only a wait for memcached's 200 ms poll timeout explains here).
load() {
	local end sig n=0 bad=0 slow=0 code size secs
	sig=$("$RELAYCFGCTL" sign --credentials "$T/S.json" <"$T/bk1")
	end=$(($(date +%s%N) / 1000000 + $1 * 1000))
	while [ "$(($(date +%s%N) / 1000000))" -lt "$end" ]; do
		while read -r code size secs; do
			n=$((n + 1))
			[ "$code $size" = "200 $OKSIZE" ] || bad=$((bad + 1))
			[[ "$secs" < 0.150 ]] || slow=$((slow + 1))
		done < <(burst "$sig")
	done
	echo "$n $bad $slow"
}
com_select() { sql "SHOW GLOBAL STATUS LIKE 'Com_select'" | cut -f2; }
signed_http S "$PC1" "$T/bk1"
OKSIZE=$(wc -c <"$T/http.body")
read -r N_WARM BAD_WARM SLOW_WARM <<<"$(load 2)"
diag "memcached up: $N_WARM answers in 2 s, $SLOW_WARM of them slow"
LOGOFF=$(wc -c <"$T/relaycfg.log")
kill -STOP "$MC_PID"
read -r N_FROZEN BAD_FROZEN SLOW_FROZEN <<<"$(load 5)"
kill -CONT "$MC_PID"
is "$BAD_FROZEN" 0 "memcached frozen 5 s: 0 failed answers of $N_FROZEN"
ok $([ $((SLOW_FROZEN * 4)) -lt "$N_FROZEN" ]; echo $?) \
    "memcached frozen 5 s: few answers waited for it ($SLOW_FROZEN of $N_FROZEN took 150 ms or more)"
WAITS=$(tail -c +$((LOGOFF + 1)) "$T/relaycfg.log" | grep -Ec 'memcached [^ ]+: ([a-z]+ failed|still failing)')
NW=$(worker_pids | wc -w)
ok $([ "$WAITS" -ge 1 ] && [ "$WAITS" -le $((NW * (5 / 2 + 1) + 1)) ]; echo $?) \
    "memcached frozen 5 s: $WAITS timeouts for $NW workers (at most one per worker per 2 s retry, plus one)"
# Back: each worker's next probe closes its breaker, and the configs and
# rows come from memcached again (no SELECT reaches MariaDB).
sleep 2.2
resumed=1
for i in $(seq 20); do
	for j in 1 2 3 4; do signed_http S "$PC1" "$T/bk1"; done
	c0=$(com_select)
	for j in 1 2 3 4 5 6; do signed_http S "$PC1" "$T/bk1"; done
	[ "$(com_select)" = "$c0" ] && { resumed=0; break; }
	sleep 0.3
done
ok $resumed "memcached resumed: answers come from the cache again (Com_select still)"
grep -q "answers again" "$T/relaycfg.log"
ok $? "and the breaker's closing is logged"
# For the record: the same load with memcached killed (libmemcached
# itself rests a refused server), against which frozen is measured.
harness_stop_memcached
read -r N_KILLED BAD_KILLED SLOW_KILLED <<<"$(load 5)"
harness_start_memcached "$MC_PORT"
is "$BAD_KILLED" 0 "memcached killed 5 s: 0 failed answers of $N_KILLED"
diag "answers in 5 s: frozen $N_FROZEN, killed $N_KILLED ($((N_FROZEN * 100 / (N_KILLED > 0 ? N_KILLED : 1)))%)"
sleep 2.2

# --- memcached down: answers stay correct -------------------------------------------
harness_stop_memcached
ctl_fetch S "$K1" "$K3"
is "$HTTP_STATUS" 200 "memcached down: 200"
is "$(j "[.configs[\"$K1\"].rev, .configs[\"$K3\"].slug]")" "[\"$REV2\",\"api\"]" "memcached down: correct configs from MariaDB"
harness_start_memcached "$MC_PORT"

# Caching resumes once libmemcached retries the server (memcached_retry_timeout):
# two fetches in a row then give the same lastFetch, served from the cache.
cached=1
for i in $(seq 40); do
	ctl_fetch S "$K1"
	a=$(jr ".configs[\"$K1\"].lastFetch")
	ctl_fetch S "$K1"
	ctl_fetch S "$K1"
	if [ "$a" = "$(jr ".configs[\"$K1\"].lastFetch")" ]; then cached=0; break; fi
	sleep 0.25
done
ok $cached "memcached restarted: caching resumes"
# Each worker has its own connection to memcached (broken by the restart)
# and its own breaker: before MariaDB goes away, every worker must answer
# K1 from memcached again.  Bursts of 16 requests, 4 at a time, keep every
# worker busy; a burst that every worker answered (relaycfg.log) while
# MariaDB ran no SELECT shows it.  A worker whose first try met the broken
# connection rests memcached for the retry timeout (2 s), hence the wait.
NW=$(worker_pids | wc -w)
SIG1=$("$RELAYCFGCTL" sign --credentials "$T/S.json" <"$T/bk1")
all_cached=1
for i in $(seq 40); do
	c0=$(com_select)
	off=$(wc -c <"$T/relaycfg.log")
	n=$(burst "$SIG1" | grep -c '^200 ')
	served=$(tail -c +$((off + 1)) "$T/relaycfg.log" |
	    sed -n 's/.*relaycfg\[\([0-9]*\)\] info: access 200 POST .*/\1/p' |
	    sort -u | wc -l)
	if [ "$n" = 16 ] && [ "$served" -ge "$NW" ] && [ "$(com_select)" = "$c0" ]; then
		all_cached=0
		break
	fi
	sleep 0.5
done
ok $all_cached "every worker ($NW) answers from memcached again (a burst all of them served, no SELECT)"

# --- MariaDB down: cached answers served, unknown ones pending ------------------------
harness_stop_mariadb
ctl_fetch S "$K1"
is "$HTTP_STATUS" 200 "MariaDB down: cached config still served"
is "$(jr ".configs[\"$K1\"].rev")" "$REV2" "with the current rev"
K4=$(printf '%032x' 4242)
ctl_fetch S "$K4"
is "$HTTP_STATUS $(j '.pending')" "200 [\"$K4\"]" "MariaDB down, no copy: pending, not an error"
ctl_fetch S --version 2 "$K4"
is "$HTTP_STATUS" 503 "MariaDB down, v2 (no pending list): 503"
harness_run_mariadbd
sleep 1.2	# a worker retries a lost MariaDB at most once a second
ctl_fetch S "$K4"
is "$(j ".configs[\"$K4\"]") $(j '.pending')" '{"disabled":true} []' "MariaDB back: answered again without a restart"

# --- stale while error: expired copies stand in while MariaDB is away ----------------
# The rows expire too, or a config would simply be rebuilt from them.
write_conf "ttl_config = 1" "ttl_project = 1" "ttl_organization = 1" \
    "ttl_projectkey = 1" "ttl_options = 1"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
ctl invalidate --all >/dev/null	# rows cached before had the old TTLs
ctl_fetch S "$K1" "$K3"		# rebuilt, rows cached for 1 s
REV_K3=$(jr ".configs[\"$K3\"].rev")
FETCH_K1=$(jr ".configs[\"$K1\"].lastFetch")
sleep 2.2			# expired (memcached counts whole seconds)
harness_stop_mariadb
ctl_fetch S "$K1" "$K3"
is "$HTTP_STATUS $(j '.pending')" "200 []" "MariaDB down, copies expired: served, nothing pending"
is "$(jr ".configs[\"$K1\"] | .rev + \" \" + .lastFetch") $(jr ".configs[\"$K3\"].rev")" \
    "$REV2 $FETCH_K1 $REV_K3" "the expired copies as they were"
ctl_fetch S --revision "$K3=$REV_K3" "$K3" "$K1"
is "$(j '[.unchanged, (.configs|keys)]')" "[[\"$K3\"],[\"$K1\"]]" \
    "an expired copy's rev still answers unchanged"
ctl_fetch S --version 2 "$K1"
is "$HTTP_STATUS $(jr ".configs[\"$K1\"].rev")" "200 $REV2" "v2 (no pending list) serves the expired copy"
harness_run_mariadbd
sleep 1.2
ctl_fetch S "$K1"
ok $([ "$(jr ".configs[\"$K1\"].lastFetch")" != "$FETCH_K1" ]; echo $?) "MariaDB back: rebuilt, not stale"

# ttl_config = 0 and ttl_config_stale = 0: a config is neither fresh nor
# kept, so none stands in while MariaDB is away (memcached would have
# kept one written with a TTL of 0 for ever).
write_conf "ttl_config = 0" "ttl_config_stale = 0" "ttl_project = 1" \
    "ttl_organization = 1" "ttl_projectkey = 1" "ttl_options = 1"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
ctl invalidate --all >/dev/null
ctl_fetch S "$K1"
is "$HTTP_STATUS $(jr ".configs[\"$K1\"].rev")" "200 $REV2" "ttl_config_stale = 0: built"
sleep 2.2			# the rows expired
harness_stop_mariadb
ctl_fetch S "$K1"
is "$HTTP_STATUS $(j '.pending')" "200 [\"$K1\"]" \
    "ttl_config = ttl_config_stale = 0, MariaDB down: pending, no copy kept"
harness_run_mariadbd

done_testing
