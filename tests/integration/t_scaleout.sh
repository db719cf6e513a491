#!/bin/bash
# Scale-out (issue 15), on real servers in a small network of namespaces
# (tests/lib/netns.sh): db1 a MariaDB primary and db2 its GTID replica
# (tests/lib/replication.sh), mc1 and mc2 memcached, app1 and app2
# relaycfg on TCP, each with db1 as primary, db2 as replica and both
# memcached servers; nginx in front runs the pool form of the shipped
# vhost.  Signed Relay traffic (bench/loadgen --expect: every answer
# checked against the data) runs through each fault.  Promises:
#   - app1 killed under load: every request app1 had not begun to
#     answer is answered by app2 (nginx fails over); an answer app1 was
#     in the middle of sending cannot be retried: at most one per app1
#     worker fails, at once (the client's connection is closed, as
#     fastcgi_keep_conn in the vhost makes nginx do), never wrong;
#   - mc1, then mc2, killed and frozen under load (the other up): 0
#     failed; the live node keeps serving configs from the cache (relaycfg
#     counts config hits on both hosts), whichever node is gone;
#   - the replica's SQL thread stopped while relaycfgctl (from app2's
#     configuration) changes an option: no answer, through either host,
#     older than the write once relaycfgctl returned; once the replica
#     has caught up, nothing stale is left in memcached;
#   - the replica down: reads go to the primary, nothing pending;
#   - the primary down: configs served from the replica, relaycfgctl
#     writes fail with a non-zero exit and a message;
#   - an invalidation made with app2's relaycfgctl is seen by app1 on the
#     next request.
# The namespaces need root: without them the test fails, it never skips.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/load.sh"
. "$top_srcdir/tests/lib/netns.sh"
. "$top_srcdir/tests/lib/replication.sh"
harness_init
need_binary jq
need_binary memcached
netns_init
netns_host db1 11
netns_host db2 12
netns_host mc1 21
netns_host mc2 22
netns_host app1 31
netns_host app2 32
DB_PORT=3306
MC_PORT=11211
APP_PORT=9001

# --- MariaDB: db1 primary, db2 a real replica --------------------------------
repl_start_mariadbd db1 1 "$(netns_addr db1)" "$DB_PORT" ip netns exec "$NETNS_ID-db1"
repl_start_mariadbd db2 2 "$(netns_addr db2)" "$DB_PORT" ip netns exec "$NETNS_ID-db2"
repl_make_replica db2 db1 "$(netns_addr db1)" "$DB_PORT"
# Both have database relaycfg and the account $REPL_APP_USER@'%', made
# by repl_start_mariadbd: the app hosts connect over the network.
# harness.sh's sql() and load_data work on the primary's socket.
MARIADB_SOCKET=$T/db1.sock

# --- memcached: mc1, mc2 -------------------------------------------------------
declare -A MC_PIDS
mc_start() {
	netns_spawn "$1" "$T/$1.log" memcached -u "$RUN_USER" \
	    -l "$(netns_addr "$1")" -p "$MC_PORT" -U 0 -m 32
	MC_PIDS[$1]=$NETNS_PID
	netns_wait_tcp "$(netns_addr "$1")" "$MC_PORT" "${MC_PIDS[$1]}" ||
	    { diag "memcached $1 did not start"; exit 1; }
}

mc_kill() {
	kill -9 "${MC_PIDS[$1]}"
	{ wait "${MC_PIDS[$1]}"; } 2>/dev/null
}

# mc_stat NODE NAME: one of the node's "stats" counters.
mc_stat() {
	local line
	exec 3<>"/dev/tcp/$(netns_addr "$1")/$MC_PORT" || return 1
	printf 'stats\r\nquit\r\n' >&3
	while IFS=$' \r' read -r -t 2 _ name value _ <&3; do
		[ "$name" = "$2" ] && line=$value
	done
	exec 3<&-
	echo "${line:-0}"
}

mc_start mc1
mc_start mc2

# --- relaycfg on app1 and app2 ---------------------------------------------------
relay_new S
for h in app1 app2; do
	{
		echo "# written by t_scaleout.sh: the same file on every app host"
		echo "db_host = $(netns_addr db1)"
		echo "db_port = $DB_PORT"
		echo "db_user = $REPL_APP_USER"
		echo "db_password = $REPL_APP_PASSWORD"
		echo "db_name = relaycfg"
		echo "db_replica = $(netns_addr db2):$DB_PORT"
		echo "memcached_server = $(netns_addr mc1):$MC_PORT"
		echo "memcached_server = $(netns_addr mc2):$MC_PORT"
		echo "log_level = info"
		echo "shutdown_timeout = 10"
		echo "registration_secret = test-secret-0123456789abcdef"
		echo "static_relay = $(relay_id S) $(relay_pk S) internal"
	} >"$T/$h.conf"
done
declare -A APP_PIDS
APP_WORKERS=2
app_start() {
	netns_spawn "$1" "$T/$1.log" "$RELAYCFG_BIN" -c "$T/$1.conf" \
	    --listen "$(netns_addr "$1"):$APP_PORT" --workers "$APP_WORKERS"
	APP_PIDS[$1]=$NETNS_PID
	netns_wait_tcp "$(netns_addr "$1")" "$APP_PORT" "${APP_PIDS[$1]}" ||
	    { diag "relaycfg on $1 did not start"; exit 1; }
}

# ctl2: relaycfgctl as an operator runs it on app2.
ctl2() {
	netns_exec app2 "$RELAYCFGCTL" -c "$T/app2.conf" "$@"
}

ctl2 db init >"$T/dbinit.out" 2>&1 ||
    { diag "db init failed: $(cat "$T/dbinit.out")"; exit 1; }
load_data 300
repl_wait_caught_up db2 db1 30
ok $? "the replica has caught up with the data"
app_start app1
app_start app2

# --- nginx: the shipped vhost's pool form ------------------------------------------
# harness_start_nginx writes the vhost with its single-host upstream;
# the pool replaces it, as the vhost's comment says, with our hosts.
harness_start_nginx
V=$T/nginx/vhost.conf
grep -q '^#upstream relaycfg {$' "$V"
ok $? "the shipped vhost has the commented pool form"
sed -i -e '/^upstream relaycfg {$/,/^}$/d' \
    -e '/^#upstream relaycfg {$/,/^#}$/s/^#//' \
    -e "s|10\.0\.0\.31:9001|$(netns_addr app1):$APP_PORT|" \
    -e "s|10\.0\.0\.32:9001|$(netns_addr app2):$APP_PORT|" "$V"
# One more server per host, straight to it (not a sample: the test's
# own window on each host for /metrics and "seen by app1").
declare -A DIRECT_PORT
for h in app1 app2; do
	DIRECT_PORT[$h]=$(free_port)
	cat >>"$V" <<NGINX
server {
    listen 127.0.0.1:${DIRECT_PORT[$h]};
    location / {
        include fastcgi_params;
        fastcgi_pass $(netns_addr "$h"):$APP_PORT;
    }
}
NGINX
done
kill -HUP "$NGINX_PID"
sleep 1
is "$(grep -c "server $NETNS_NET\.3[12]:$APP_PORT max_fails" "$V")" 2 \
    "nginx runs the pool of both app hosts"
DIRECT1=http://127.0.0.1:${DIRECT_PORT[app1]}
DIRECT2=http://127.0.0.1:${DIRECT_PORT[app2]}
for h in app1 app2; do
	is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	    "http://127.0.0.1:${DIRECT_PORT[$h]}/api/0/relays/live/")" 200 \
	    "$h answers straight (the test's own window on it)"
done
POOL=$BASE_URL
CREDS=$T/S.json

# metric_sum URL PATTERN: the sum of the /metrics samples matching PATTERN.
metric_sum() {
	curl -s --max-time 10 "$1/metrics" |
	    awk -v pat="$2" 'index($0, pat) == 1 { s += $NF } END { printf "%d\n", s }'
}

# config_lookups: "hits total" of config entries in memcached, both hosts.
config_lookups() {
	local h=0 n=0 u
	for u in "$DIRECT1" "$DIRECT2"; do
		h=$((h + $(metric_sum "$u" 'relaycfg_cache_requests_total{kind="config",result="hit"')))
		n=$((n + $(metric_sum "$u" 'relaycfg_cache_requests_total{kind="config"')))
	done
	echo "$h $n"
}

# origins URL...: sentry:origins (the first origin) in $KEY's config as
# each URL answers it, one line each, "?" for an answer without it (an
# error).  One curl for all, with the body sign_probe signed: relaycfgctl
# fetch per answer would let through a few answers a second.
sign_probe() {
	printf '{"publicKeys":["%s"]}' "$KEY" >"$T/probe.json"
	PROBE_SIG=$("$RELAYCFGCTL" sign --credentials "$CREDS" <"$T/probe.json") ||
	    { diag "sign failed"; exit 1; }
}

origins() {
	local u urls=()
	for u in "$@"; do
		urls+=("$u/api/0/relays/projectconfigs/?version=3")
	done
	curl -s --max-time 10 -H "Content-Type: application/json" \
	    -H "X-Sentry-Relay-Id: $(relay_id S)" \
	    -H "X-Sentry-Relay-Signature: $PROBE_SIG" \
	    --data-binary @"$T/probe.json" -w '\n' "${urls[@]}" |
	    sed -e 's/.*"allowedDomains":\["\([^"]*\)".*/\1/' -e t -e 's/.*/?/'
}

read -r KEY PROJ <<<"$(awk '$2 == "live" { print $1, $3; exit }' "$T/expect.txt")"
sign_probe
ORIGIN0=$(sql "SELECT JSON_VALUE(value, '\$[0]') FROM sentry_projectoptions
    WHERE project_id = $PROJ AND \`key\` = 'sentry:origins'")

# --- the whole network answers ------------------------------------------------------
load_run base "$CREDS" --duration 2
is "$LOAD_FAILED" 0 "baseline through the pool: every answer right ($LOAD_OK answers, $LOAD_RPS/s)"
for h in app1 app2; do
	like "$(grep -c ' access 200 POST ' "$T/$h.log")" '^[1-9]' "$h answers its share"
done
for n in mc1 mc2; do
	like "$(mc_stat "$n" curr_items)" '^[1-9]' "$n holds its share of the keys"
done

# --- an invalidation from app2 is seen by app1 at once --------------------------------
is "$(origins "$DIRECT1")" "$ORIGIN0" "app1 answers the key (cached now)"
ctl2 option set project "$PROJ" sentry:origins '["https://seen.example"]' >/dev/null
ok $? "relaycfgctl on app2 changes an option"
is "$(origins "$DIRECT1")" https://seen.example \
    "app1's next answer carries the change made with app2's relaycfgctl"
is "$(origins "$DIRECT2")" https://seen.example "... and app2's"

# --- app1 killed under load ------------------------------------------------------------
load_start appkill "$CREDS" --duration 6
sleep 1.5
netns_kill_host app1 KILL
{ wait "${APP_PIDS[app1]}"; } 2>/dev/null
load_wait
ok $((LOAD_FAILED > APP_WORKERS)) \
    "app1 killed under load: nginx fails over, only answers app1 was sending failed ($LOAD_FAILED of $LOAD_REQUESTS, at most $APP_WORKERS)"
is "$LOAD_5XX/$LOAD_WRONG/$LOAD_TIMEOUTS" 0/0/0 \
    "... no 5xx, no wrong answer, none left waiting (5xx/wrong/timeouts)"
app_start app1

# --- memcached: each node killed, then frozen, with the other up -------------------
# cached_share LABEL BEFORE: config hits since BEFORE ("hits total"), as
# a share of config lookups in per cent, printed; sets SHARE.
cached_share() {
	local h0 n0 h1 n1
	read -r h0 n0 <<<"$2"
	read -r h1 n1 <<<"$(config_lookups)"
	SHARE=$(( (h1 - h0) * 100 / (n1 - n0 > 0 ? n1 - n0 : 1) ))
	diag "$1: $((h1 - h0)) config hits of $((n1 - n0)) lookups ($SHARE%)"
}

load_run warm "$CREDS" --duration 2
for n in mc1 mc2; do
	other=mc1
	[ "$n" = mc1 ] && other=mc2
	hits0=$(mc_stat "$other" get_hits)
	load_start "kill-$n" "$CREDS" --duration 5
	sleep 1
	mc_kill "$n"
	load_wait
	is "$LOAD_FAILED" 0 "$n killed under load: 0 failed answers ($LOAD_OK answers)"
	before=$(config_lookups)
	load_run "down-$n" "$CREDS" --duration 3
	cached_share "$n down" "$before"
	is "$LOAD_FAILED" 0 "$n down: 0 failed answers"
	ok $((SHARE < 20)) "$n down: configs still come from the cache on $other ($SHARE% of lookups hit)"
	ok $(($(mc_stat "$other" get_hits) > hits0 ? 0 : 1)) "... $other's get_hits grew"
	mc_start "$n"
	load_run "back-$n" "$CREDS" --duration 2
	is "$LOAD_FAILED" 0 "$n restarted: 0 failed answers"
done

for n in mc1 mc2; do
	other=mc1
	[ "$n" = mc1 ] && other=mc2
	kill -STOP "${MC_PIDS[$n]}"
	before=$(config_lookups)
	load_run "frozen-$n" "$CREDS" --duration 5
	cached_share "$n frozen" "$before"
	kill -CONT "${MC_PIDS[$n]}"
	is "$LOAD_FAILED" 0 "$n frozen (SIGSTOP) 5 s under load: 0 failed answers ($LOAD_OK answers)"
	ok $((SHARE < 20)) "$n frozen: configs still come from the cache on $other ($SHARE% of lookups hit)"
	load_run "thawed-$n" "$CREDS" --duration 2
	is "$LOAD_FAILED" 0 "$n resumed: 0 failed answers"
done

# --- the replica lagging: no answer older than a returned write --------------------
# The replica's SQL thread stops: it receives the primary's changes and
# applies none.  relaycfgctl on app2 changes the option again and again;
# after each write returned, both hosts are asked, in turn, while the
# load keeps both hosts and both caches busy.
repl_sql db2 "STOP SLAVE SQL_THREAD" || { diag "STOP SLAVE SQL_THREAD failed"; exit 1; }
sign_probe
load_start lag "$CREDS" --duration 7
answers=0 old=0 writes=0 last=""
end=$((SECONDS + 5))
while [ "$SECONDS" -lt "$end" ]; do
	writes=$((writes + 1))
	last=https://v$writes.example
	ctl2 option set project "$PROJ" sentry:origins "[\"$last\"]" >"$T/ctl.out" 2>&1 ||
	    { diag "write $writes failed: $(cat "$T/ctl.out")"; break; }
	while read -r got; do
		answers=$((answers + 1))
		[ "$got" = "$last" ] && continue
		old=$((old + 1))
		# What relaycfgctl said of that write's invalidation too (a
		# warning there means memcached did not take it).
		[ "$old" -gt 5 ] || diag "write $writes ($last) returned; then answered: $got;" \
		    "relaycfgctl said: $(tr '\n' ' ' < "$T/ctl.out")"
	done < <(origins "$DIRECT1" "$DIRECT2" "$POOL" "$DIRECT2" "$DIRECT1" "$POOL" \
	    "$DIRECT1" "$DIRECT2" "$POOL" "$DIRECT2" "$DIRECT1" "$POOL")
done
load_wait
is "$LOAD_FAILED" 0 "replica lagging: 0 failed answers under load ($LOAD_OK answers)"
is "$old" 0 "replica lagging: 0 of $answers answers older than the write relaycfgctl returned ($writes writes)"
repl_sql db2 "START SLAVE SQL_THREAD"
repl_wait_caught_up db2 db1 30
ok $? "the replica catches up"
sleep 0.5
stale=0
while read -r got; do
	[ "$got" = "$last" ] || { stale=$((stale + 1)); diag "caught up; answered $got, not $last"; }
done < <(origins "$DIRECT1" "$DIRECT2" "$DIRECT1" "$DIRECT2")
cached=$(ctl2 --json option get project "$PROJ" sentry:origins --cached 2>&1)
like "$cached" "$last" "caught up: the project's cached options (relaycfgctl --cached) are the last ones"
is "$stale" 0 "caught up: 0 answers from a stale cache entry"

# --- the replica down: the primary serves ---------------------------------------------
repl_kill db2
ctl2 invalidate --all >"$T/ctl.out" 2>&1
ok $? "invalidate --all with the replica down"
load_run replicadown "$CREDS" --duration 4 --allow-pending
is "$LOAD_FAILED" 0 "replica down, cache emptied: 0 failed answers ($LOAD_OK answers)"
is "$LOAD_PENDING" 0 "replica down: nothing pending (reads go to the primary)"
repl_restart_mariadbd db2
repl_wait_caught_up db2 db1 30
ok $? "the replica is back and caught up"

# --- the primary down: the replica serves, writes fail clearly --------------------------
ctl2 invalidate --all >"$T/ctl.out" 2>&1
ok $? "invalidate --all"
repl_stop db1
load_run primarydown "$CREDS" --duration 4 --allow-pending
is "$LOAD_FAILED" 0 "primary down, cache emptied: 0 failed answers ($LOAD_OK answers)"
is "$LOAD_PENDING" 0 "primary down: nothing pending (configs built from the replica)"
ctl2 option set project "$PROJ" sentry:origins '["https://down.example"]' >"$T/ctl.out" 2>&1
rc=$?
ok $((rc == 0)) "primary down: relaycfgctl option set fails (exit $rc)"
like "$(cat "$T/ctl.out")" '[A-Za-z]' "... with a message: $(head -n 1 "$T/ctl.out")"

done_testing
