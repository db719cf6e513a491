#!/bin/bash
# GET /metrics through the shipped nginx vhost, 2 workers, real MariaDB and
# memcached.  Counters are exact: each step sends a known sequence (a
# cache miss then hits, unchanged revisions, an unknown key, bad
# signatures, an unknown relay, an expired signature, a MariaDB outage
# with stale copies and pending keys) and every counter it touches must
# move by exactly that much, whichever worker answered.  The counters
# survive a killed worker and a SIGHUP.  /metrics is refused with a JSON
# 403 to a client that is not internal: behind the trusted proxy by its
# X-Forwarded-For, directly by its REMOTE_ADDR, and by internal_networks.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
relay_stack_init "trusted_proxies = 127.0.0.1"	# S: static, internal
relay_new U	# never registered: "Unknown relay"
PROJ2=$(ctl project create --org "$ORG" api | jq -r .id)
K3=$(ctl key create --project "$PROJ2" | jq -r .public_key)
K0=00000000000000000000000000000000
harness_start_relaycfg
harness_start_nginx
jr() { printf '%s' "$HTTP_BODY" | jq -r "$1"; }

# --- reading /metrics ---------------------------------------------------
# scrape: GET /metrics through nginx into $T/metrics.last.
scrape() {
	http GET /metrics
	printf '%s\n' "$HTTP_BODY" >"$T/metrics.last"
}
# val SERIES [FILE]: one series' value (name and labels exactly as
# rendered), 0 when it is absent.
val() {
	awk -v s="$1" '$1 == s { v = $2 } END { print (v == "" ? 0 : v) }' \
	    "${2:-$T/metrics.last}"
}
# mark: the values the next deltas are counted from.
mark() {
	scrape
	cp "$T/metrics.last" "$T/metrics.mark"
}
# delta SERIES: its value now (last scrape) minus at the mark.
delta() {
	awk -v a="$(val "$1")" -v b="$(val "$1" "$T/metrics.mark")" \
	    'BEGIN { printf "%.17g\n", a - b }'
}
# expect_delta SERIES N DESCRIPTION: a worker counts a request once its
# answer is written, which may be a moment after the client has it; wait
# (1 s at most) for the delta to reach N, then it must be N exactly.
expect_delta() {
	local i=0 d
	while :; do
		scrape
		d=$(delta "$1")
		[ "$d" = "$2" ] || [ "$i" -ge 20 ] && break
		i=$((i + 1))
		sleep 0.05
	done
	is "$d" "$2" "$3 ($1 +$2)"
}
# wait_workers N: the master has N workers again (5 s at most).
wait_workers() {
	local i=0
	while [ "$(worker_pids | wc -w)" -ne "$1" ]; do
		i=$((i + 1))
		[ "$i" -le 50 ] || return 1
		sleep 0.1
	done
}
REQ='relaycfg_requests_total{endpoint="projectconfigs",version="3",status='
KEYS='relaycfg_project_keys_total{outcome='
AUTH='relaycfg_auth_total{outcome='
CACHE_CONFIG='relaycfg_cache_requests_total{kind="config",result='
BUILT=relaycfg_configs_built_total
GPC=relaycfg_relay_config_get_project_config_duration_seconds_count
MCOPS='relaycfg_memcached_operations_total{op='

# --- the format ---------------------------------------------------------
scrape
is "$HTTP_STATUS" 200 "GET /metrics through the shipped vhost"
like "$HTTP_HEADERS" '^Content-Type: text/plain; version=0.0.4; charset=utf-8$' \
    "Prometheus' text exposition format"
like "$HTTP_HEADERS" '^Cache-Control: no-store$' "not to be cached"
is "$(printf '%s\n' "$HTTP_HEADERS" | grep -ci '^Cache-Control:')" 1 \
    "... said once"
for f in relaycfg_requests_total relaycfg_request_duration_seconds \
    relaycfg_auth_total relaycfg_project_keys_total \
    relaycfg_relay_project_configs_fetching_keys_duration_seconds \
    relaycfg_relay_config_get_project_config_duration_seconds \
    relaycfg_cache_requests_total relaycfg_memcached_operations_total \
    relaycfg_worker_starts_total; do
	grep -q "^# TYPE $f " "$T/metrics.last"
	ok $? "family $f is rendered"
done
# Every line is a comment or "name{labels} value" (what Prometheus parses).
bad=$(grep -Ev '^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+Inf-]+)$' \
    "$T/metrics.last" | head -n 3)
is "$bad" "" "every line is in the exposition format"
# Operations issued, not round trips: buffered sets share one.
like "$(grep '^# HELP relaycfg_memcached_operations_total ' "$T/metrics.last")" \
    'libmemcached operations' "memcached operations say what they count"
is "$(val relaycfg_requests_in_flight)" 1 "in flight during a scrape: the scrape itself"
is "$(val relaycfg_worker_starts_total)" 2 "two workers started"
# Prometheus asks for gzip; the vhost's gzip must take the content type
# relaycfg sends (nginx matches gzip_types against the type up to the
# last ';' before charset=: "text/plain; version=0.0.4", not "text/plain").
enc=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "$BASE_URL/metrics" |
    tr -d '\r' | sed -n 's/^Content-Encoding: //Ip')
is "$enc" gzip "a scrape that accepts gzip gets it gzipped"
like "$(curl -s --compressed "$BASE_URL/metrics")" '# TYPE relaycfg_requests_total counter' \
    "... and it unzips to the exposition format"
http HEAD /metrics -I
is "$HTTP_STATUS" 200 "HEAD /metrics"
http POST /metrics --data x
is "$HTTP_STATUS" 405 "POST /metrics: 405"
like "$HTTP_HEADERS" '^Allow: GET, HEAD$' "... with Allow"

# --- a cache miss, then hits ---------------------------------------------
mark
ctl_fetch S "$K1"
is "$HTTP_STATUS" 200 "first fetch of K1"
REV1=$(jr ".configs[\"$K1\"].rev")
expect_delta "${REQ}\"200\"}" 1 "the miss: one request"
expect_delta "${KEYS}\"config\"}" 1 "the miss: one config answered"
expect_delta "${CACHE_CONFIG}\"miss\"}" 1 "the miss: one config cache miss"
expect_delta "${CACHE_CONFIG}\"hit\"}" 0 "the miss: no config cache hit"
expect_delta "$BUILT" 1 "the miss: one config built"
expect_delta "$GPC" 1 "the miss: Sentry's get_project_config timed once"
expect_delta relaycfg_relay_project_configs_fetching_keys_duration_seconds_count 1 \
    "the miss: Sentry's fetching_keys timed once"
expect_delta "${AUTH}\"ok\"}" 1 "the miss: one good signature"
expect_delta relaycfg_keys_per_request_count 1 "the miss: one keys-per-request observation"
expect_delta relaycfg_keys_per_request_sum 1 "... of one key"
expect_delta 'relaycfg_request_duration_seconds_count{endpoint="projectconfigs"}' 1 \
    "the miss: one request timed"
ok $(( $(delta "${MCOPS}\"get\"}") < 1 )) "the miss: memcached multi-gets counted"
ok $(( $(delta "${MCOPS}\"set\"}") < 1 )) "the miss: the write-back's sets counted"

n=5
mark
for i in $(seq $n); do ctl_fetch S "$K1"; done
expect_delta "${REQ}\"200\"}" $n "$n hits: $n requests"
expect_delta "${KEYS}\"config\"}" $n "$n hits: $n configs answered"
expect_delta "${CACHE_CONFIG}\"hit\"}" $n "$n hits: $n config cache hits"
expect_delta "${CACHE_CONFIG}\"miss\"}" 0 "$n hits: no config cache miss"
expect_delta "$BUILT" 0 "$n hits: nothing built"
expect_delta "$GPC" 0 "$n hits: get_project_config not timed"
ok $(( $(delta "${MCOPS}\"get\"}") < n )) "$n hits: a multi-get each at least"
expect_delta "${MCOPS}\"set\"}" 0 "$n hits: nothing written to memcached"

# --- unchanged, disabled, two keys in one request ----------------------------
m=3
mark
for i in $(seq $m); do ctl_fetch S --revision "$K1=$REV1" "$K1"; done
expect_delta "${KEYS}\"unchanged\"}" $m "$m current revisions: $m unchanged"
expect_delta "${KEYS}\"config\"}" 0 "... and no config"
mark
ctl_fetch S "$K0"
expect_delta "${KEYS}\"disabled\"}" 1 "an unknown key: one disabled"
expect_delta "${KEYS}\"config\"}" 0 "... and no config"
mark
ctl_fetch S "$K1" "$K3"
expect_delta "${KEYS}\"config\"}" 2 "two keys in one request: two configs"
expect_delta "$BUILT" 1 "... one of them built"
expect_delta relaycfg_keys_per_request_count 1 "... one keys-per-request observation"
expect_delta relaycfg_keys_per_request_sum 2 "... of two keys"

# --- authentication failures --------------------------------------------
k=3
printf '{"publicKeys":["%s"]}' "$K1" >"$T/k1.json"
# Signed by U's key but claiming to be S.
badsig=$("$RELAYCFGCTL" sign --credentials "$T/U.json" <"$T/k1.json")
mark
for i in $(seq $k); do
	http POST "/api/0/relays/projectconfigs/?version=3" --data-binary @"$T/k1.json" \
	    -H "Content-Type: application/json" \
	    -H "X-Sentry-Relay-Id: $(relay_id S)" -H "X-Sentry-Relay-Signature: $badsig"
done
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "signed with another key: 401"
ctl_fetch U "$K1"
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Unknown relay"}' "an unknown relay: 401"
ctl_fetch S --time $(( $(date +%s) - 3600 )) "$K1"
is "$HTTP_STATUS" 401 "an hour-old signature: 401"
expect_delta "${AUTH}\"bad_signature\"}" $k "$k bad signatures"
expect_delta "${AUTH}\"unknown_relay\"}" 1 "one unknown relay"
expect_delta "${AUTH}\"expired\"}" 1 "one expired signature"
expect_delta "${AUTH}\"ok\"}" 0 "no good signature"
expect_delta "${REQ}\"401\"}" $((k + 2)) "$((k + 2)) requests answered 401"
expect_delta "${KEYS}\"config\"}" 0 "no key answered"

# --- live, and the bytes it sent ------------------------------------------
mark
for i in 1 2 3 4; do http GET /api/0/relays/live/; done
expect_delta 'relaycfg_requests_total{endpoint="live",version="none",status="200"}' 4 \
    "four live checks"
expect_delta 'relaycfg_response_bytes_total{endpoint="live"}' $((4 * 19)) \
    "... of 19 body bytes each"

# --- a killed worker ------------------------------------------------------
mark
before_config=$(val "${KEYS}\"config\"}")
victim=$(worker_pids | awk '{ print $1 }')
kill -9 "$victim"
harness_wait_gone "$victim" 50
wait_workers 2
ok $? "the master replaced the killed worker"
expect_delta 'relaycfg_worker_exits_total{cause="crashed"}' 1 "a worker killed by a signal: crashed"
expect_delta relaycfg_worker_starts_total 1 "... and one more worker started"
is "$(val "${KEYS}\"config\"}")" "$before_config" "the dead worker's counts are still there"
mark
for i in 1 2 3 4 5 6; do ctl_fetch S "$K1"; done
expect_delta "${KEYS}\"config\"}" 6 "the new worker adds to the same numbers"

# --- SIGHUP ---------------------------------------------------------------
mark
before_config=$(val "${KEYS}\"config\"}")
old=$(worker_pids)
kill -HUP "$RELAYCFG_PID"
i=0
while [ "$(worker_pids)" = "$old" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
wait_workers 2
expect_delta relaycfg_reloads_total 1 "SIGHUP: one reload"
expect_delta relaycfg_worker_starts_total 2 "... a new generation of two workers"
is "$(val "${KEYS}\"config\"}")" "$before_config" "SIGHUP keeps every count"
mark
for i in 1 2 3 4 5 6; do ctl_fetch S "$K1"; done
expect_delta "${KEYS}\"config\"}" 6 "the new generation adds to the same numbers"

# --- a MariaDB outage: stale copies, pending keys --------------------------
# Rows and configs that expire within a second, so that a fetch during
# the outage can only answer from the expired (stale) copies.
write_conf "ttl_config = 1" "ttl_project = 1" "ttl_organization = 1" \
    "ttl_projectkey = 1" "ttl_options = 1"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
ctl invalidate --all >/dev/null
ctl_fetch S "$K1" "$K3"
is "$HTTP_STATUS" 200 "both configs rebuilt with the short TTLs"
sleep 2.2
# errors are counted from here: the worker that first meets the outage
# rests MariaDB, so which request pays the failed connect depends on which
# worker nginx picks
scrape
cp "$T/metrics.last" "$T/metrics.outage"
harness_stop_mariadb
mark
ctl_fetch S "$K1" "$K3"
is "$HTTP_STATUS $(jr '.pending | length')" "200 0" "MariaDB down: expired copies served"
expect_delta relaycfg_stale_configs_served_total 2 "two stale copies served"
expect_delta "${KEYS}\"config\"}" 2 "... as two configs"
K4=$(printf '%032x' 4242)
mark
ctl_fetch S "$K4"
is "$HTTP_STATUS $(jr '.pending | join(",")')" "200 $K4" "MariaDB down, no copy: pending"
expect_delta "${KEYS}\"pending\"}" 1 "one key pending"
expect_delta relaycfg_stale_configs_served_total 0 "no stale copy for it"
ok $([ "$(val relaycfg_mariadb_errors_total)" -gt \
    "$(val relaycfg_mariadb_errors_total "$T/metrics.outage")" ]; echo $?) \
    "MariaDB errors counted"
grep -q '^relaycfg_mariadb_up{worker="[0-9]*",server="primary"} 0$' "$T/metrics.last"
ok $? "a worker saw MariaDB down"
harness_run_mariadbd
sleep 1.2
for i in 1 2 3 4; do ctl_fetch S "$K4"; done
scrape
grep -q '^relaycfg_mariadb_up{worker="[0-9]*",server="primary"} 1$' "$T/metrics.last"
ok $? "MariaDB back: a worker saw it up"
grep -q "^relaycfg_memcached_up{worker=\"[0-9]*\",server=\"127.0.0.1:$MC_PORT\"} 1\$" \
    "$T/metrics.last"
ok $? "memcached up, named by its server"

# A worker tries each memcached server as it starts, as it does MariaDB:
# new workers must not say a dead server is up before a request has met it.
harness_stop_memcached
old=$(worker_pids)
kill -HUP "$RELAYCFG_PID"
i=0
while [ "$(worker_pids)" = "$old" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
wait_workers 2
sleep 0.3
scrape
is "$(grep -c "^relaycfg_memcached_up{worker=\"[0-9]*\",server=\"127.0.0.1:$MC_PORT\"} 0\$" \
    "$T/metrics.last")" 2 "memcached stopped, then a reload: both new workers say it is down"
harness_start_memcached "$MC_PORT"

# --- refused to clients that are not internal ----------------------------
write_conf
kill -HUP "$RELAYCFG_PID"
sleep 0.5
FORBIDDEN='{"detail":"Metrics are served to loopback and internal networks only"}'
# A second server in the test's nginx that sets REMOTE_ADDR itself: a
# client reaching relaycfg directly, with no proxy in between.
DIRECT_PORT=$(free_port)
cat >>"$T/nginx/vhost.conf" <<NGINX
server {
    listen 127.0.0.1:$DIRECT_PORT;
    location = /public {
        fastcgi_param REQUEST_METHOD GET;
        fastcgi_param REQUEST_URI /metrics;
        fastcgi_param REMOTE_ADDR 203.0.113.9;
        fastcgi_pass relaycfg;
    }
    location = /private {
        fastcgi_param REQUEST_METHOD GET;
        fastcgi_param REQUEST_URI /metrics;
        fastcgi_param REMOTE_ADDR 10.9.8.7;
        fastcgi_pass relaycfg;
    }
}
NGINX
kill -HUP "$NGINX_PID"
harness_wait_port "$DIRECT_PORT" "$NGINX_PID"
ok $? "nginx serves the direct-client server"
direct() {
	local base=$BASE_URL
	BASE_URL=http://127.0.0.1:$DIRECT_PORT
	http GET "$1"
	BASE_URL=$base
}

mark
http GET /metrics -H 'X-Forwarded-For: 203.0.113.7'
is "$HTTP_STATUS $HTTP_BODY" "403 $FORBIDDEN" "behind the trusted proxy, a public client: JSON 403"
like "$HTTP_HEADERS" '^Content-Type: application/json' "... as JSON"
http GET /metrics -H 'X-Forwarded-For: 203.0.113.7, 127.0.0.1'
is "$HTTP_STATUS" 403 "the rightmost hop that is not a trusted proxy decides"
http GET /metrics -H 'X-Forwarded-For: 10.1.2.3, 203.0.113.7'
is "$HTTP_STATUS" 403 "a claimed internal hop left of a public one does not count"
http GET /metrics -H 'X-Forwarded-For: 2001:db8::1'
is "$HTTP_STATUS" 403 "a public IPv6 client: 403"
http GET /metrics -H 'X-Forwarded-For: 10.1.2.3'
is "$HTTP_STATUS" 200 "an internal client (Sentry's INTERNAL_SYSTEM_IPS): 200"
http GET /metrics -H 'X-Forwarded-For: ::1'
is "$HTTP_STATUS" 200 "IPv6 loopback: 200"
direct /public
is "$HTTP_STATUS $HTTP_BODY" "403 $FORBIDDEN" "directly from a public address: JSON 403"
direct /private
is "$HTTP_STATUS" 200 "directly from a private address: 200"
grep -q 'metrics refused to 203.0.113.9: not internal' "$T/relaycfg.log"
ok $? "a refusal is logged with the client address"
expect_delta 'relaycfg_requests_total{endpoint="metrics",version="none",status="403"}' 5 \
    "five refusals counted"

# internal_networks replaces Sentry's list; loopback is always let in.
write_conf "internal_networks = 192.168.0.0/16"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
http GET /metrics -H 'X-Forwarded-For: 10.1.2.3'
is "$HTTP_STATUS $HTTP_BODY" "403 $FORBIDDEN" "internal_networks without 10/8: 10.1.2.3 refused"
http GET /metrics -H 'X-Forwarded-For: 192.168.7.7'
is "$HTTP_STATUS" 200 "... 192.168.7.7 let in"
direct /private
is "$HTTP_STATUS" 403 "... directly from 10.9.8.7: refused"
http GET /metrics
is "$HTTP_STATUS" 200 "... loopback still let in"

# Without trusted_proxies, X-Forwarded-For proves nothing either way.
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal" \
    "internal_networks = 192.168.0.0/16"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
http GET /metrics -H 'X-Forwarded-For: 203.0.113.7'
is "$HTTP_STATUS" 200 "no trusted proxy: the peer (loopback) decides, not the header"

# --- the server label names the server, not its weight ------------------
# (a weight changed must not start a new series)
MC_PORT_WAS=$MC_PORT
MC_PORT= write_conf "memcached_server = 127.0.0.1:$MC_PORT_WAS:3"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
ctl_fetch S "$K1"
scrape
grep -q "^relaycfg_memcached_up{worker=\"[0-9]*\",server=\"127.0.0.1:$MC_PORT_WAS\"} 1\$" \
    "$T/metrics.last"
ok $? "weight 3: memcached_up's server label is host:port"
is "$(grep -c ":$MC_PORT_WAS:3\"" "$T/metrics.last")" 0 "... never with the weight"

# --- memcached_server = none: no cache, and no look-up counted ----------
# (relaycfg.conf(5); METRICS.md: the hit ratio then has no data)
# cache_total: every relaycfg_cache_requests_total series of the last scrape
cache_total() {
	awk '/^relaycfg_cache_requests_total\{/ { n += $2 } END { print n + 0 }' \
	    "${1:-$T/metrics.last}"
}
MC_PORT= write_conf "memcached_server = none"
out=$("$RELAYCFG_BIN" --check-config -c "$RELAYCFG_CONF" 2>&1)
is "$out" "$RELAYCFG_CONF: OK" "memcached_server = none passes --check-config"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
mark
ctl_fetch S "$K1" "$K3"
is "$HTTP_STATUS" 200 "no cache: configs answered"
expect_delta "$BUILT" 2 "no cache: both configs built"
is "$(grep -c '^relaycfg_memcached_up{' "$T/metrics.last")" 0 \
    "no cache: no memcached_up series (no server named \"none\")"
is "$(( $(cache_total) - $(cache_total "$T/metrics.mark") ))" 0 \
    "no cache: no cache look-up counted"
expect_delta "${MCOPS}\"get\"}" 0 "no cache: memcached never asked"

done_testing
