#!/bin/bash
# The StatsD push through nginx with real MariaDB and memcached: a UDP
# collector (tests/udplisten) receives, for one project-config request,
# Sentry's metric names exactly as Sentry's statsd backend sends them
# (prefix "sentry.", seconds as "%0.6f|ms", the keys as "|c"), in one
# datagram after the answer; after a SIGHUP the DogStatsD form with tags and
# another prefix; with the collector gone requests still answer and the
# lost datagrams are counted.
# Sentry sources: src/sentry/metrics/statsd.py 32553fa3765215a678db823e46d4654019dc694b,
# dogstatsd.py 6869364e19aac66fcbbbc33cef3c9e2da212faa0, utils/metrics.py
# 6a81ba2feece7cc23a7d71f1a14ab3e91fcda4c8 (getsentry/sentry).
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
UDPLISTEN=$top_builddir/tests/udplisten
[ -x "$UDPLISTEN" ] || { diag "$UDPLISTEN not built"; exit 1; }

# the collector: its port in $T/udp.port, every datagram in $T/udp.out
start_collector() {
	rm -f "$T/udp.port"
	"$UDPLISTEN" "$T/udp.port" "$T/udp.out" 300 &
	UDP_PID=$!
	HARNESS_PIDS="$HARNESS_PIDS $UDP_PID"
	local i=0
	until [ -s "$T/udp.port" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { diag "udplisten did not start"; exit 1; }
		sleep 0.05
	done
	UDP_PORT=$(cat "$T/udp.port")
}
# datagrams: how many the collector has received so far
datagrams() { awk '/^#dgram /{ n++ } END { print n + 0 }' "$T/udp.out" 2>/dev/null; }
# wait_datagrams N: until at least N have come (5 s at most)
wait_datagrams() {
	local i=0
	while [ "$(datagrams)" -lt "$1" ] && [ "$i" -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}
# datagram N: the payload of the Nth datagram
datagram() {
	awk -v n="$1" '/^#dgram /{ cur = ($2 == n); next } cur' "$T/udp.out"
}

relay_stack_init
start_collector
: >"$T/udp.out"
STATSD="statsd_server = 127.0.0.1:$UDP_PORT"
write_conf "$STATSD"
K2=$(ctl key create --project "$PROJ" | jq -r .public_key)
K0=00000000000000000000000000000000
harness_start_relaycfg
harness_start_nginx

# --- plain StatsD: Sentry's names, seconds as %0.6f|ms -----------------
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "live answers"
sleep 0.3
is "$(datagrams)" 0 "a request without Sentry metrics sends nothing"

ctl_fetch S "$K1"
is "$HTTP_STATUS" 200 "v3 fetch (a miss, built inline) answers 200"
wait_datagrams 1
sleep 0.2
is "$(datagrams)" 1 "the request's lines come in one datagram"
D=$(datagram 1)
NUM='[0-9]+\.[0-9]{6}'
for name in relay_project_configs.fetching_keys.duration \
    relay_project_configs.fetching_projects.duration \
    relay_project_configs.fetching_orgs.duration \
    relay.config.get_project_config.duration; do
	like "$D" "^sentry\\.$name:$NUM\\|ms\$" \
	    "sentry.$name as a timing in seconds"
done
like "$D" '^sentry\.relay\.project_configs\.post_v3\.pending:0\|c$' \
    "post_v3.pending: nothing pending"
like "$D" '^sentry\.relay\.project_configs\.post_v3\.fetched:1\|c$' \
    "post_v3.fetched: the one key answered"
unlike "$D" '\|#' "plain StatsD sends no tags"
is "$(printf '%s\n' "$D" | grep -cv '^sentry\.')" 0 "every line has the sentry. prefix"
# every value is a sane duration (under 10 s)
is "$(printf '%s\n' "$D" | awk -F'[:|]' '$3 == "ms" && !($2 >= 0 && $2 < 10)' | wc -l)" 0 \
    "timings are seconds, not milliseconds"

ctl_fetch S "$K1" "$K2" "$K0"
is "$HTTP_STATUS" 200 "three keys answer 200"
wait_datagrams 2
D=$(datagram 2)
like "$D" 'sentry\.relay\.project_configs\.post_v3\.fetched:3\|c' \
    "post_v3.fetched counts the three keys answered (one unknown: disabled)"

# Sentry counts post_v3 keys in _post_or_schedule_by_key only: version 3
# without noCache.  v2, noCache and v1 go through _post_by_key or
# _post_by_project, which time the fetches and send no key counts.
# (project_configs.py, getsentry/sentry, find_string id 1815088642)
K4=$(ctl key create --project "$PROJ" | jq -r .public_key)
for how in "--version 2 $K4" "--no-cache $K1" "--version 1 $PROJ"; do
	N=$(datagrams)
	# shellcheck disable=SC2086 # the options are words
	ctl_fetch S $how
	is "$HTTP_STATUS" 200 "fetch $how answers 200"
	wait_datagrams $((N + 1))
	sleep 0.2
	D=$(datagram $((N + 1)))
	like "$D" 'sentry\.relay_project_configs\.fetching_projects\.duration:' \
	    "fetch $how: Sentry's fetching timers"
	unlike "$D" 'post_v3' "fetch $how: no post_v3 counts, as Sentry"
done

# --- SIGHUP: DogStatsD with tags and another prefix --------------------
write_conf "$STATSD" "statsd_dogstatsd = yes" "statsd_prefix = relaycfg." \
    "statsd_tags = env:test, region:eu"
kill -HUP "$RELAYCFG_PID"
sleep 1.5
K3=$(ctl key create --project "$PROJ" | jq -r .public_key)
N=$(datagrams)
ctl_fetch S "$K3" "$K0"	# K3 new: the store is read, the timers run
is "$HTTP_STATUS" 200 "fetch after the reload answers 200"
wait_datagrams $((N + 1))
D=$(datagram $((N + 1)))
like "$D" '^relaycfg\.relay_project_configs\.fetching_keys\.duration:[0-9.e+-]+\|ms\|#result:success,env:test,region:eu$' \
    "DogStatsD timing: str(seconds), result tag, then the configured tags"
like "$D" '^relaycfg\.relay\.project_configs\.post_v3\.fetched:2\|c\|#env:test,region:eu$' \
    "DogStatsD counter with the configured tags"
unlike "$D" 'sentry\.' "the new prefix replaced sentry."

# --- the collector gone: answers unchanged, the loss counted -----------
kill "$UDP_PID"
harness_wait_gone "$UDP_PID" 50
for i in 1 2 3 4 5 6 7 8; do
	ctl_fetch S "$K1"
	[ "$HTTP_STATUS" = 200 ] || break
done
is "$HTTP_STATUS" 200 "requests answer while nobody listens"
http GET /metrics
if [ "$HTTP_STATUS" = 200 ]; then
	like "$HTTP_BODY" 'relaycfg_statsd_dropped_total [1-9]' \
	    "dropped datagrams are counted in /metrics"
else
	diag "GET /metrics answered $HTTP_STATUS: the dropped counter is not checked"
fi
done_testing
