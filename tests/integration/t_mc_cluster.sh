#!/bin/bash
# A memcached cluster of two real servers on loopback, through nginx and
# relaycfg with signed Relay requests: keys spread over both (ketama);
# the generation and the epoch live on both; either node killed, caching
# goes on with the other (its hits keep counting); a frozen node costs
# only its share and bounded time; "invalidate --all" while a node is
# frozen, then SIGCONT: no old value comes back from it; invalidation
# deletes each key on the node that holds it; an option changed with
# relaycfgctl is seen on the next request with both nodes up and with
# either one down, also by workers that remember revisions; every node
# frozen: a request waits for one poll timeout, not one per node.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
harness_init
need_binary jq
harness_start_mariadb
harness_start_memcached_n 1
harness_start_memcached_n 2
A=${MC_PORTS[1]}
B=${MC_PORTS[2]}
relay_new S
RETRY=1
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal" \
    "memcached_server = 127.0.0.1:$A" "memcached_server = 127.0.0.1:$B" \
    "memcached_retry_timeout = $RETRY" "memcached_poll_timeout_ms = 200"
ctl() { "$RELAYCFGCTL" -c "$RELAYCFG_CONF" --json "$@"; }
ctl db init >/dev/null || { diag "db init failed"; exit 1; }
ORG=$(ctl org create acme | jq -r .id)
PROJ=$(ctl project create --org "$ORG" web | jq -r .id)
PROJ2=$(ctl project create --org "$ORG" api | jq -r .id)
KEYS=()
for i in $(seq 1 24); do
	KEYS+=("$(ctl key create --project "$PROJ" | jq -r .public_key)")
done
K2=$(ctl key create --project "$PROJ2" | jq -r .public_key)
harness_start_relaycfg
harness_start_nginx

# One command to a node over /dev/tcp; prints the answer up to END.
mc() {
	local line
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf '%s\r\n' "$2" >&3
	while read -r -t 2 line <&3; do
		line=${line%$'\r'}
		[ "$line" = END ] && break
		printf '%s\n' "$line"
	done
	exec 3<&-
}
mc_val() { mc "$1" "get $2" | sed -n 2p; }
mc_stat() { mc "$1" stats | sed -n "s/^STAT $2 //p"; }
# cfg_on PORT KEYS...: how many of the keys' config entries the node has
cfg_on() {
	local port=$1 k n=0 v
	shift
	for k; do
		v=$(mc_val "$port" "relaycfg:1:cfgz:$k")
		# an invalidation's tombstone (cache_lease.c) holds no config
		[ -n "$v" ] && [ "$v" != rc-invalidated ] && n=$((n + 1))
	done
	echo "$n"
}
# fetch_all: every key of PROJ in one signed request; FETCH_BAD counts
# keys not answered with a config of slug $1 (default web)
fetch_all() {
	ctl_fetch S "${KEYS[@]}"
	FETCH_BAD=$(printf '%s' "$HTTP_BODY" | jq --arg s "${1:-web}" \
	    '([.configs[] | select(.slug != $s)] | length) + 24 - (.configs | length)' 2>/dev/null)
	[ "$HTTP_STATUS" = 200 ] && [ -n "$FETCH_BAD" ] || FETCH_BAD=24
}
# rc_hits: config look-ups relaycfg answered from memcached (framing and
# generation checked), all workers; a worker counts just after answering.
rc_hits() {
	sleep 0.2
	http GET /metrics
	printf '%s\n' "$HTTP_BODY" | awk '$1 == "relaycfg_cache_requests_total{kind=\"config\",result=\"hit\"}" { v = $2 } END { print v + 0 }'
}

# --- spread: keys on both nodes, the generation and the epoch on each ---
fetch_all
is "$FETCH_BAD" 0 "24 keys answered (built)"
fetch_all
is "$FETCH_BAD" 0 "and again (from the cache)"
na=$(cfg_on "$A" "${KEYS[@]}")
nb=$(cfg_on "$B" "${KEYS[@]}")
is "$((na + nb))" 24 "each config entry lives on one node ($na on A, $nb on B)"
ok $((na < 3 || nb < 3)) "keys spread over both nodes (ketama)"
GA=$(mc_val "$A" relaycfg:1:gen)
GB=$(mc_val "$B" relaycfg:1:gen)
like "$GA" '^[0-9a-f]{16}$' "node A holds the generation"
is "$GB" "$GA" "node B holds the same one"
like "$(mc_val "$A" relaycfg:1:epoch:0)" "^rc1 $GA epoch [0-9a-f]{16}\$" "node A holds an epoch"
like "$(mc_val "$B" relaycfg:1:epoch:0)" "^rc1 $GA epoch [0-9a-f]{16}\$" "node B holds an epoch"

# --- each node killed in turn: caching goes on with the other ---------
# down N PORT: kill node N, check answers and that the other node keeps
# serving hits, restart it.
down() {
	local n=$1 port=$2 other=$3 h0 h1 bad=0
	kill -9 "${MC_PIDS[$n]}"
	wait "${MC_PIDS[$n]}" 2>/dev/null
	# New workers, which know no generation yet: the other node's copy
	# must be enough for them to cache.
	harness_stop_relaycfg
	harness_start_relaycfg
	fetch_all
	bad=$((bad + FETCH_BAD))
	h0=$(rc_hits)
	for i in 1 2 3; do fetch_all; bad=$((bad + FETCH_BAD)); done
	h1=$(rc_hits)
	is "$bad" 0 "node $n killed: every answer right"
	is "$((h1 - h0))" "$((3 * $4))" "node $n killed: new workers cache on the other node (hits in 3 requests of 24 keys, $4 of them there)"
	harness_start_memcached_n "$n" "$port"
	sleep $((RETRY + 1))
	fetch_all
	fetch_all
	is "$FETCH_BAD" 0 "node $n back (empty): every answer right"
}
down 1 "$A" "$B" "$nb"
is "$(mc_val "$A" relaycfg:1:gen)" "$GB" "the restarted node A got the generation back"
down 2 "$B" "$A" "$na"
is "$(mc_val "$B" relaycfg:1:gen)" "$GA" "the restarted node B got the generation back"
ok $([ -n "$(mc_val "$B" relaycfg:1:epoch:0)" ]; echo $?) "and an epoch"

# --- a write in a worker while a node is down rests that node only ----
# A registration is written and invalidated by a worker; the deletes for
# node A fail, and that must not make the worker leave B alone too.
kill -9 "${MC_PIDS[1]}"
wait "${MC_PIDS[1]}" 2>/dev/null
fetch_all
fetch_all
nb=$(cfg_on "$B" "${KEYS[@]}")
relay_new R
h0=$(rc_hits)
ctl_register R
is "$HTTP_STATUS" 200 "a relay registers while node A is down"
for i in 1 2 3 4; do fetch_all; done
h1=$(rc_hits)
is "$((h1 - h0))" "$((4 * nb))" "the workers keep hitting node B's share ($nb keys) after the write"
harness_start_memcached_n 1 "$A"
sleep $((RETRY + 1))

# --- invalidation deletes each key on the node that holds it ----------
# Every entry cached first.  A worker that did not touch node A while it
# was down still holds its connection to the killed server: its first use
# fails and rests A for the retry timeout, so this may take a few tries.
for i in $(seq 20); do
	fetch_all
	na=$(cfg_on "$A" "${KEYS[@]}")
	nb=$(cfg_on "$B" "${KEYS[@]}")
	[ $((na + nb)) = 24 ] && break
	sleep 0.5
done
is "$((na + nb))" 24 "all 24 config entries cached ($na on A, $nb on B)"
ctl invalidate --project "$PROJ" >"$T/inv.out" 2>"$T/inv.err"
is "$(jq -r .cache_invalidated "$T/inv.out")" true "invalidate --project: memcached took it"
is "$(cfg_on "$A" "${KEYS[@]}") $(cfg_on "$B" "${KEYS[@]}")" "0 0" \
    "invalidate --project deleted the entries on both nodes"
# Deleted by a tombstone that outlives any request that read before the
# change (request_timeout, 120 s by default, + 60 s): memcached's meta get
# tells its time to live (a plain get after it ends the answer with END).
tomb=""
for port in "$A" "$B"; do
	v=$(mc "$port" "mg relaycfg:1:cfgz:${KEYS[0]} t v"$'\r\n'"get -" |
	    tr '\n' ' ')
	case $v in "VA 14 t"*) tomb=$v ;; esac
done
like "$tomb" '^VA 14 t1(7[0-9]|80) rc-invalidated $' \
    "a key's entry is a tombstone that lives request_timeout + 60 s ($tomb)"

# --- an option change is seen at once, by workers remembering revs ----
# origin N: set sentry:origins to vN, then every key must show it on the
# next request, even when the Relay sends the revision it had before
# (each worker remembered it as current: the epoch must say otherwise).
origin() {
	local rev bad=0 k
	fetch_all
	for k in "${KEYS[0]}" "${KEYS[1]}" "${KEYS[2]}"; do
		rev=$(ctl_fetch S "$k"; printf '%s' "$HTTP_BODY" | jq -r ".configs[\"$k\"].rev")
		for i in 1 2 3 4; do ctl_fetch S --revision "$k=$rev" "$k"; done
		REVS[$k]=$rev
	done
	ctl option set project "$PROJ" sentry:origins "[\"https://v$1.example\"]" >/dev/null
	for k in "${KEYS[0]}" "${KEYS[1]}" "${KEYS[2]}"; do
		for i in 1 2 3 4; do
			ctl_fetch S --revision "$k=${REVS[$k]}" "$k"
			[ "$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$k\"].config.allowedDomains")" = "[\"https://v$1.example\"]" ] ||
			    bad=$((bad + 1))
		done
	done
	ctl_fetch S "${KEYS[@]}"
	bad=$((bad + $(printf '%s' "$HTTP_BODY" | jq --arg d "https://v$1.example" \
	    '[.configs[] | select(.config.allowedDomains != [$d])] | length')))
	echo "$bad"
}
declare -A REVS
is "$(origin 1)" 0 "both nodes up: an option change is seen on the next request"
kill -9 "${MC_PIDS[1]}"; wait "${MC_PIDS[1]}" 2>/dev/null
is "$(origin 2)" 0 "node A down: the same"
harness_start_memcached_n 1 "$A"
sleep $((RETRY + 1))
is "$(origin 3)" 0 "node A back: the same"
kill -9 "${MC_PIDS[2]}"; wait "${MC_PIDS[2]}" 2>/dev/null
is "$(origin 4)" 0 "node B down: the same"
harness_start_memcached_n 2 "$B"
sleep $((RETRY + 1))
is "$(origin 5)" 0 "node B back: the same"

# --- frozen: only its share, bounded time -----------------------------
fetch_all
fetch_all
nb=$(cfg_on "$B" "${KEYS[@]}")
kill -STOP "${MC_PIDS[2]}"
h0=$(rc_hits)
bad=0
# How long relaycfg took, from its access log: the client's own time
# (relaycfgctl's start, signing) says nothing about the cache.
n0=$(grep -c ' access 200 POST /api/0/relays/projectconfigs/' "$T/relaycfg.log")
for i in 1 2 3 4 5 6; do
	fetch_all
	bad=$((bad + FETCH_BAD))
done
worst=$(grep ' access 200 POST /api/0/relays/projectconfigs/' "$T/relaycfg.log" |
    tail -n +$((n0 + 1)) | sed -n 's/.* \([0-9]*\)us .*/\1/p' | sort -n | tail -n 1)
worst=$(( ${worst:-99999999} / 1000 ))
h1=$(rc_hits)
is "$bad" 0 "node B frozen: every answer right"
ok $((worst > 1500)) "node B frozen: no request waits long (worst $worst ms in relaycfg, poll 200 ms)"
is "$((h1 - h0))" "$((6 * (24 - nb)))" "node B frozen: only its share misses (hits in 6 requests, $((24 - nb)) keys on A)"

# --- invalidate --all while B is frozen, then SIGCONT -----------------
# The slug changes behind relaycfg's back; only the new generation can
# make B's entries (built with "web") misses once B answers again.
sql "UPDATE sentry_project SET slug = 'web2' WHERE id = $PROJ"
t0=$(date +%s%N)
ctl invalidate --all >"$T/all.out" 2>"$T/all.err"
diag "invalidate --all with node B frozen took $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(cat "$T/all.out")"
GA2=$(mc_val "$A" relaycfg:1:gen)
ok $([ "$GA2" != "$GA" ]; echo $?) "invalidate --all: node A has a new generation"
fetch_all web2
is "$FETCH_BAD" 0 "node B still frozen: the new data"
# (B may still apply the replace relaycfgctl queued before it gave up:
# its old values are misses either way.)
kill -CONT "${MC_PIDS[2]}"
bad=0
for i in 1 2 3 4 5 6 7 8; do
	fetch_all web2
	bad=$((bad + FETCH_BAD))
	sleep 0.3
done
is "$bad" 0 "node B thawed: no old value served (8 requests over $RETRY s retry)"
is "$(mc_val "$B" relaycfg:1:gen)" "$GA2" "node B holds the newest generation"
fetch_all web2
h0=$(rc_hits)
fetch_all web2
is "$FETCH_BAD" 0 "and caching works on B again"
is "$(( $(rc_hits) - h0 ))" 24 "every key a hit again"

# --- a bump node B never hears of: B is recognised as older -------------
# relaycfgctl on a host that cannot reach B (its B is a closed port):
# the new generation reaches A only; the workers, which reach both, find
# B's older, treat its values as misses and repair it.
sed "s/^memcached_server = 127.0.0.1:$B\$/memcached_server = 127.0.0.1:$(free_port)/" \
    "$RELAYCFG_CONF" >"$T/partition.conf"
sql "UPDATE sentry_project SET slug = 'web3' WHERE id = $PROJ"
"$RELAYCFGCTL" -c "$T/partition.conf" --json invalidate --all >"$T/all.out" 2>"$T/all.err"
is "$(jq -r .cache_invalidated "$T/all.out")" true "invalidate --all from a host without B: taken by A"
GA3=$(mc_val "$A" relaycfg:1:gen)
is "$(mc_val "$B" relaycfg:1:gen)" "$GA2" "node B still holds the generation before it"
fetch_all web3
is "$FETCH_BAD" 0 "the next request: no old value from B"
is "$(mc_val "$B" relaycfg:1:gen)" "$GA3" "node B's generation was repaired to the newest"
grep -q "missed an invalidation" "$T/relaycfg.log"
ok $? "the repair is logged"

# --- the epoch on every node: an invalidation while one is down -------
# Workers remember K2's revision; K2's project changes behind relaycfg's
# back and is invalidated while node A is down: the epoch copy on B must
# carry it to every worker.
rev=$(ctl_fetch S "$K2"; printf '%s' "$HTTP_BODY" | jq -r ".configs[\"$K2\"].rev")
for i in 1 2 3 4 5 6; do ctl_fetch S --revision "$K2=$rev" "$K2"; done
is "$(printf '%s' "$HTTP_BODY" | jq -c .unchanged)" "[\"$K2\"]" "workers remember K2's revision"
for n in 1 2; do
	kill -9 "${MC_PIDS[$n]}"; wait "${MC_PIDS[$n]}" 2>/dev/null
	sql "UPDATE sentry_project SET slug = 'api$n' WHERE id = $PROJ2"
	ctl invalidate --project "$PROJ2" >/dev/null 2>&1
	s=""
	for i in 1 2 3 4 5 6; do
		ctl_fetch S --revision "$K2=$rev" "$K2"
		s="$s$(printf '%s' "$HTTP_BODY" | jq -r ".configs[\"$K2\"].slug") "
	done
	is "$s" "$(printf "api$n %.0s" 1 2 3 4 5 6)" "node $n down: invalidate --project reaches every worker"
	rev=$(printf '%s' "$HTTP_BODY" | jq -r ".configs[\"$K2\"].rev")
	harness_start_memcached_n "$n" "${MC_PORTS[$n]}"
	sleep $((RETRY + 1))
	for i in 1 2 3 4 5 6; do ctl_fetch S --revision "$K2=$rev" "$K2"; done
done

# --- every node frozen: a request waits for one of them, not each -----
# The servers are asked in turn; once one has failed, the rest of the
# request leaves memcached alone (no longer one poll timeout per node).
# relaycfg_memcached_errors_total counts the failures, each a timeout.
mc_errors() {
	http GET /metrics
	printf '%s\n' "$HTTP_BODY" | awk '$1 == "relaycfg_memcached_errors_total" { v = $2 } END { print v + 0 }'
}
fetch_all web3
fetch_all web3
e0=$(mc_errors)
n0=$(grep -c ' access 200 POST /api/0/relays/projectconfigs/' "$T/relaycfg.log")
kill -STOP "${MC_PIDS[1]}" "${MC_PIDS[2]}"
fetch_all web3
kill -CONT "${MC_PIDS[1]}" "${MC_PIDS[2]}"
took=$(grep ' access 200 POST /api/0/relays/projectconfigs/' "$T/relaycfg.log" |
    tail -n +$((n0 + 1)) | sed -n 's/.* \([0-9]*\)us .*/\1/p' | tail -n 1)
is "$FETCH_BAD" 0 "every node frozen: every answer right"
is "$(( $(mc_errors) - e0 ))" 1 "every node frozen: the request waited for one node only ($(( ${took:-0} / 1000 )) ms in relaycfg, poll 200 ms)"

done_testing
