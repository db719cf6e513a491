#!/bin/bash
# relaycfgctl status: the arithmetic on two saved scrapes (rates, the
# interval's p50/p99 as Prometheus' histogram_quantile estimates them,
# hit ratio, workers, backends), then the live view of a real server
# through the shipped nginx vhost with 2 workers: exact request, key and
# auth-failure rates, --watch until SIGINT, a killed worker, a SIGHUP and
# a MariaDB outage as the operator sees them; --json prints whole values
# as integers, fractions as such.  file:PATH relative to the working
# directory; --header 'Host: ...' through a default server that answers
# 404 (Debian's "default" site) to the name-based vhost; a server name
# from the (untrusted) scrape is shown escaped.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
harness_init
need_binary jq

# status ARGS...: run relaycfgctl status; OUT, ERR, RC.
status() {
	OUT=$("$RELAYCFGCTL" status "$@" 2>"$T/status.err")
	RC=$?
	ERR=$(cat "$T/status.err")
}
# j FILTER: a field of the last --json view.
j() { printf '%s' "$OUT" | jq -r "$1"; }

# --- two saved scrapes, 2 s apart ---------------------------------------
# projectconfigs: 20 requests in the interval (10 under 1 ms, 10 under
# 10 ms); /metrics' own requests must not count.
cat >"$T/a.prom" <<'EOF'
# HELP relaycfg_requests_total Requests answered.
# TYPE relaycfg_requests_total counter
relaycfg_requests_total{endpoint="projectconfigs",version="3",status="200"} 100
relaycfg_requests_total{endpoint="projectconfigs",version="3",status="503"} 1
relaycfg_requests_total{endpoint="metrics",version="none",status="200"} 7
relaycfg_request_duration_seconds_bucket{endpoint="projectconfigs",le="0.001"} 50
relaycfg_request_duration_seconds_bucket{endpoint="projectconfigs",le="0.01"} 100
relaycfg_request_duration_seconds_bucket{endpoint="projectconfigs",le="+Inf"} 101
relaycfg_request_duration_seconds_bucket{endpoint="metrics",le="0.001"} 7
relaycfg_request_duration_seconds_bucket{endpoint="metrics",le="0.01"} 7
relaycfg_request_duration_seconds_bucket{endpoint="metrics",le="+Inf"} 7
relaycfg_requests_in_flight 0
relaycfg_auth_total{outcome="ok"} 90
relaycfg_auth_total{outcome="bad_signature"} 3
relaycfg_project_keys_total{outcome="config"} 80
relaycfg_project_keys_total{outcome="unchanged"} 20
relaycfg_cache_requests_total{kind="config",result="hit"} 60
relaycfg_cache_requests_total{kind="config",result="miss"} 40
relaycfg_configs_built_total 40
relaycfg_worker_starts_total 2
relaycfg_mariadb_up{worker="101"} 1
relaycfg_mariadb_up{worker="102"} 1
relaycfg_memcached_up{worker="101",server="127.0.0.1:11211"} 1
relaycfg_memcached_up{worker="102",server="127.0.0.1:11211"} 1
EOF
cat >"$T/b.prom" <<'EOF'
relaycfg_requests_total{endpoint="projectconfigs",version="3",status="200"} 120
relaycfg_requests_total{endpoint="projectconfigs",version="3",status="503"} 1
relaycfg_requests_total{endpoint="metrics",version="none",status="200"} 9
relaycfg_request_duration_seconds_bucket{endpoint="projectconfigs",le="0.001"} 60
relaycfg_request_duration_seconds_bucket{endpoint="projectconfigs",le="0.01"} 120
relaycfg_request_duration_seconds_bucket{endpoint="projectconfigs",le="+Inf"} 121
relaycfg_request_duration_seconds_bucket{endpoint="metrics",le="0.001"} 9
relaycfg_request_duration_seconds_bucket{endpoint="metrics",le="0.01"} 9
relaycfg_request_duration_seconds_bucket{endpoint="metrics",le="+Inf"} 9
relaycfg_requests_in_flight 1
this line is not a sample
relaycfg_auth_total{outcome="ok"} 105
relaycfg_auth_total{outcome="bad_signature"} 8
relaycfg_auth_total{outcome="unknown_relay"} 1
relaycfg_project_keys_total{outcome="config"} 90
relaycfg_project_keys_total{outcome="unchanged"} 30
relaycfg_cache_requests_total{kind="config",result="hit"} 78
relaycfg_cache_requests_total{kind="config",result="miss"} 42
relaycfg_cache_requests_total{kind="project",result="error"} 4
relaycfg_configs_built_total 42
relaycfg_stale_configs_served_total 5
relaycfg_worker_starts_total 3
relaycfg_worker_exits_total{cause="crashed"} 1
relaycfg_reloads_total 1
relaycfg_mariadb_up{worker="101"} 1
relaycfg_mariadb_up{worker="103"} 0
relaycfg_memcached_up{worker="101",server="127.0.0.1:11211"} 1
relaycfg_memcached_up{worker="103",server="127.0.0.1:11211"} 0
relaycfg_memcached_up{worker="101",server="b:1 \"x\""} 1
EOF
status --json --previous "$T/a.prom" --url "file://$T/b.prom" --interval 2
is "$RC" 0 "status --json from two saved scrapes"
is "$(j '[.interval_seconds, .requests_per_second, .requests_total, .errors_5xx_total, .in_flight] | @csv')" \
    "2,10,121,1,1" "request rate and totals leave /metrics out"
# histogram_quantile: p50 rank 10 of 20 ends the first bucket; p99 rank
# 19.8 lies 9.8/10 into the second (1 ms + 9 ms * 0.98).
is "$(j '[.latency_p50_seconds, .latency_p99_seconds] | map(. * 1e6 | round) | @csv')" \
    "1000,9820" "interval p50 and p99 interpolated in the interval's buckets"
is "$(j '[.latency_p50_seconds_since_start, .latency_p99_seconds_since_start] | map(. * 1e7 | round) | @csv')" \
    "10750,99685" "p50 and p99 since start from the second scrape alone"
is "$(j '[.cache_hit_ratio, .cache_hit_ratio_since_start, .cache_errors_per_second, .cache_errors_total] | @csv')" \
    "0.9,0.65,2,4" "hit ratio over the interval (18 of 20) and since start"
is "$(j '[.builds_per_second, .builds_total, .stale_served_total] | @csv')" "1,42,5" \
    "builds and stale copies"
is "$(j '[.keys_per_second.config, .keys_per_second.unchanged, .keys_per_second.pending] | @csv')" \
    "5,5,0" "keys per second by outcome"
is "$(j '[.auth_failures_per_second, .auth_failures_total, .auth_failures_by_outcome.bad_signature, .auth_failures_by_outcome.unknown_relay] | @csv')" \
    "3,9,8,1" "auth failures: rate, total, by outcome"
is "$(j '[.workers, .worker_starts_total, .worker_exits_total, .worker_exits_by_cause.crashed, .reloads_total, .mariadb_up_workers] | @csv')" \
    "2,3,1,1,1,1" "workers by their gauges' lines, starts, exits, reloads"
is "$(j '.memcached | map("\(.server)=\(.up_workers)/\(.workers)") | join(" ")')" \
    '127.0.0.1:11211=1/2 b:1 "x"=1/1' "memcached servers (label escapes undone)"
# As printed (jq would hide it): integral values are JSON integers, real
# fractions keep theirs.
raw() { printf '%s' "$OUT" | grep -o "\"$1\": *[^,}]*" | head -n 1 | sed 's/^[^:]*: *//'; }
is "$(raw requests_total) $(raw in_flight) $(raw interval_seconds) $(raw requests_per_second) $(raw workers) $(raw builds_total)" \
    "121 1 2 10 2 42" "counters, gauges and whole rates print as integers"
is "$(raw cache_hit_ratio) $(raw cache_hit_ratio_since_start)" "0.9 0.65" \
    "a ratio keeps its fraction, in the fewest digits that read back"
like "$(raw latency_p99_seconds)" '^0\.0098[0-9]*$' "a duration keeps its fraction"

status --previous "$T/a.prom" --url "file://$T/b.prom" --interval 2
is "$RC" 0 "the human view"
like "$OUT" '^requests   10\.0/s  \(5xx 0\.0/s\)  in flight 1  total 121' "requests line"
like "$OUT" '^latency    p50 1\.0 ms  p99 9\.8 ms' "latency line"
like "$OUT" '^cache      hit ratio 90\.0%  \(since start 65\.0%\)' "cache line"
like "$OUT" '^auth       failures 3\.0/s  total 9 \(unknown_relay 1, bad_signature 8\)' "auth line"
like "$OUT" '^workers    2 running  started 3  exited 1 \(crashed 1\)  reloads 1' "workers line"
like "$OUT" '^mariadb    partly down  \(up in 1 of 2 workers\)' "MariaDB down in one worker"

# file:RELATIVE, against the working directory (whose name is
# percent-encoded in the URL made of it).
mkdir "$T/saved 100%#"
cp "$T/b.prom" "$T/saved 100%#/s2.prom"
cd "$T/saved 100%#" || exit 1
status --json --previous ../a.prom --url file:s2.prom --interval 2
cd - >/dev/null || exit 1
is "$RC" 0 "--url file:RELATIVE"
is "$(j '[.url, .requests_total] | @csv')" '"file:s2.prom",121' \
    "... read from the working directory, shown as given"
status --json --previous "$T/a.prom" --url file:nothere.prom
is "$RC" 1 "a missing relative file: exit 1"
like "$ERR" '^relaycfgctl: status: file:nothere\.prom: ' "... saying which"

# A master restarted between the scrapes: smaller counters are all new.
status --json --previous "$T/b.prom" --url "file://$T/a.prom" --interval 2
is "$(j '[.requests_per_second, .builds_per_second] | @csv')" "50.5,20" \
    "a counter reset counts from zero"
# Beyond 2^53 a double is no exact integer: printed as one with a fraction
# part, not as an integer it may not be.
printf 'relaycfg_requests_total{endpoint="projectconfigs",version="3",status="200"} 2e16\n' >"$T/big.prom"
status --json --previous "$T/big.prom" --url "file://$T/big.prom" --interval 1
unlike "$(raw requests_total)" '^[0-9]+$' "a counter past 2^53 is printed as a double ($(raw requests_total))"
is "$(j '.requests_total == 2e16')" true "... of the same value"
# An empty scrape: nothing known, nothing made up.
: >"$T/empty.prom"
status --json --previous "$T/empty.prom" --url "file://$T/empty.prom"
is "$(j '[.requests_per_second, .latency_p50_seconds, .cache_hit_ratio, .workers] | @csv')" \
    "0,,,0" "an empty scrape: zero rates, unknown percentiles and ratio"
# The scrape is untrusted: a server name holding ESC, BEL or CSI (U+009B)
# is shown escaped, not sent to the terminal.
printf 'relaycfg_mariadb_up{worker="1",server="primary"} 1\nrelaycfg_memcached_up{worker="1",server="mc\033]0;x\007\302\233"} 1\n' >"$T/evil.prom"
status --previous "$T/evil.prom" --url "file://$T/evil.prom" --interval 1
is "$(printf '%s\n' "$OUT" | grep '^memcached  mc')" \
    'memcached  mc\x1b]0;x\x07\xc2\x9b up  (up in 1 of 1 workers)' \
    "a server name from the scrape: control characters as \\xNN"
if command -v script >/dev/null; then
	script -qec "'$RELAYCFGCTL' status --json --previous '$T/evil.prom' --url 'file://$T/evil.prom' --interval 1" \
	    /dev/null | tr -d '\r' >"$T/tty"
	like "$(cat "$T/tty")" '"server":"mc\\u001b\]0;x\\u0007\\xc2\\x9b"' \
	    "... with --json on a terminal: the C1 control as \\xNN"
fi
# A scrape of 8 million tiny lines after the real ones: samples past
# 100,000 are not kept (each cost 24 bytes or more against its 4).
{ cat "$T/b.prom"; head -c $((24 << 20)) /dev/zero | tr '\0' x | sed 's/xxx/a 1\n/g'; } >"$T/huge.prom"
status --json --previous "$T/a.prom" --url "file://$T/b.prom" --interval 2
want=$(j .requests_total)
if [ -x /usr/bin/time ]; then
	OUT=$(/usr/bin/time -o "$T/rss" -f %M "$RELAYCFGCTL" status --json \
	    --previous "$T/a.prom" --url "file://$T/huge.prom" --interval 2)
	is "$(j .requests_total)" "$want" "a scrape of 8 million tiny lines: the real ones read"
	# Kept, 8 million samples take 500 MB or more (each at least 24
	# bytes and its name); not kept, about 50 MB plainly and 140-153 MB
	# under AddressSanitizer (its quarantine holds the read's freed
	# buffers; 150 MB was too tight for it once): 200 MB for both.
	ok $(( $(tail -n 1 "$T/rss") > 200000 )) \
	    "... the rest not kept (peak $(tail -n 1 "$T/rss") kB)"
fi

status --interval 0
is "$RC" 2 "--interval 0 is a usage error"
status extra
is "$RC" 2 "operands are a usage error"
status --header nocolon --url "file://$T/b.prom"
is "$RC" 2 "--header without a colon is a usage error"
status --url "http://127.0.0.1:$(free_port)/metrics" --interval 0.1
is "$RC" 1 "nothing listening: exit 1"
like "$ERR" '^relaycfgctl: status: http://127\.0\.0\.1:[0-9]+/metrics: ' "... saying where"

# --- a real server through the shipped vhost ---------------------------
harness_start_mariadb
harness_start_memcached
relay_new S
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal"
fixture_project "$RELAYCFG_CONF"
harness_start_relaycfg
harness_start_nginx
URL=$BASE_URL/metrics

http GET /metrics
is "$HTTP_STATUS" 200 "GET /metrics through nginx"
printf '%s\n' "$HTTP_BODY" >"$T/before.prom"
# The shipped Grafana dashboard asks only for families the server has.
jq -r '.panels[].targets[]?.expr' "$top_srcdir/docs/grafana-relaycfg.json" |
    grep -o 'relaycfg_[a-z0-9_]*' | sed 's/_bucket$//' | sort -u >"$T/dash.names"
sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' "$T/before.prom" | sort -u >"$T/served.names"
is "$(comm -23 "$T/dash.names" "$T/served.names" | paste -sd' ')" "" \
    "every family docs/grafana-relaycfg.json graphs is served"
ok $(( $(wc -l <"$T/dash.names") < 15 )) "... and the dashboard graphs at least 15 of them"
ctl_fetch S "$PK"
is "$HTTP_STATUS" 200 "a fetch (the config is built)"
for i in 1 2 3; do
	ctl_fetch S "$PK"
done
is "$HTTP_STATUS" 200 "three more (cached)"
for i in 1 2; do
	ctl_fetch S --header "X-Sentry-Relay-Signature: bad.sig" "$PK"
done
is "$HTTP_STATUS" 401 "two with a bad signature"
# --previous pins the interval: the rates are the exact counts.
status --json --previous "$T/before.prom" --interval 1 --url "$URL"
is "$RC" 0 "status --json against the live server"
is "$(j '[.requests_per_second, .keys_per_second.config, .auth_failures_per_second] | @csv')" \
    "6,4,2" "6 requests, 4 configs answered, 2 auth failures in the interval"
is "$(j '.builds_per_second')" 1 "one config built"
is "$(j '.cache_hit_ratio > 0 and .cache_hit_ratio < 1')" true "a miss then hits"
is "$(j '.latency_p50_seconds != null and .latency_p99_seconds >= .latency_p50_seconds')" true \
    "p50 and p99 of the 6 requests"
is "$(j '.workers')" 2 "2 workers"
is "$(j '[.memcached[0].server, .memcached[0].up_workers] | @csv')" "\"127.0.0.1:$MC_PORT\",2" \
    "memcached named from the config, up in both"

status --interval 0.2 --url "$URL"
is "$RC" 0 "the human view against the live server"
like "$OUT" '^workers    2 running  started 2  exited 0  reloads 0' "2 workers, none gone"
# A worker connects to MariaDB on its first miss, and its gauge says 0
# until then: a worker that only had cache hits is not "up" yet.
like "$OUT" '^mariadb    (up|partly down)  \(up in [12] of 2 workers\)  errors 0' \
    "MariaDB up in the workers that used it, no errors"

# --watch refreshes until SIGINT, which ends it with status 0.
timeout --preserve-status -s INT 3.5 "$RELAYCFGCTL" status --watch 1 \
    --url "$URL" >"$T/watch.out" 2>"$T/watch.err"
is "$?" 0 "--watch: SIGINT ends it, exit 0"
ok $(( $(grep -c $'\033\\[H\033\\[2J' "$T/watch.out") < 2 )) "--watch cleared the screen and redrew at least twice"
ok $(( $(grep -c '^workers    2 running' "$T/watch.out") < 2 )) "... each time a full view"

# A worker killed: the master counts its exit and the new start.
set -- $(worker_pids)
kill -KILL "$1"
for i in $(seq 1 100); do
	[ "$(worker_pids | wc -w)" -eq 2 ] && ! kill -0 "$1" 2>/dev/null && break
	sleep 0.05
done
status --json --interval 0.2 --url "$URL"
is "$(j '[.workers, .worker_starts_total, .worker_exits_total, .worker_exits_by_cause.crashed] | @csv')" \
    "2,3,1,1" "a SIGKILLed worker: crashed 1, started 3, 2 running"
is "$(j '.requests_total >= 6')" true "counters survive the dead worker"

kill -HUP "$RELAYCFG_PID"
sleep 1
status --json --interval 0.2 --url "$URL"
is "$(j '[.reloads_total, .workers] | @csv')" "1,2" "SIGHUP: one reload, 2 workers"
is "$(j '.requests_total >= 6 and .auth_failures_total == 2')" true "counters survive SIGHUP"

# MariaDB down: keys no cache holds need it.
harness_stop_mariadb
for i in 1 2 3 4 5 6; do
	ctl_fetch S "$(printf '%032x' "$i")"
done
status --interval 0.2 --url "$URL"
like "$OUT" '^mariadb    (DOWN|partly down)  \(up in [01] of 2 workers\)  errors [1-9]' \
    "MariaDB outage: down in the workers that tried it, errors counted"

# --- the vhost behind a default server ----------------------------------
# As on a stock Debian web server: the enabled "default" site (listen 80
# default_server) takes every Host no server_name claims, 127.0.0.1
# included, and has no /metrics.  --header 'Host: NAME' reaches the vhost.
vhost=$(sed -n 's/^ *server_name \([^ ;]*\);.*/\1/p' "$top_srcdir/nginx/relaycfg.conf")
is "$vhost" sentry.example.org "the shipped vhost's server_name"
sed -i "s|^\( *\)include $T/nginx/vhost.conf;|\1server { listen 127.0.0.1:$NGINX_PORT default_server; server_name _; return 404; }\n&|" \
    "$T/nginx/nginx.conf"
nginx -e "$T/nginx.log" -p "$T/nginx" -c "$T/nginx/nginx.conf" -s reload \
    >>"$T/nginx.log" 2>&1
ok $? "nginx reloaded with a default server"
for i in $(seq 1 50); do
	http GET /metrics
	[ "$HTTP_STATUS" = 404 ] && break
	sleep 0.1
done
is "$HTTP_STATUS" 404 "Host 127.0.0.1 now reaches the default server"
status --interval 0.1 --url "$URL"
is "$RC" 1 "status without a Host header: exit 1"
like "$ERR" 'HTTP 404' "... the default server's 404"
status --json --interval 0.1 --url "$URL" --header "Host: $vhost"
is "$RC" 0 "status --header 'Host: $vhost': the vhost's /metrics"
is "$(j '.workers')" 2 "... the server's view"

done_testing
