#!/bin/bash
# Master/worker life cycle through nginx: respawn after SIGKILL under load,
# graceful SIGTERM with a request in flight, SIGHUP reload without a failed
# request, crash-loop backoff, --max-requests recycling, single-process mode.
. "$top_srcdir/tests/lib/harness.sh"
harness_init
harness_start_mariadb
harness_start_memcached
harness_write_conf "max_body_size = 4096"
RELAYCFG_BIN=$RELAYCFG_TEST_BIN
harness_start_relaycfg --workers 2
harness_start_nginx

# load N OUT: N sequential requests to live, one status per line in OUT.
load() {
	local i
	for i in $(seq "$1"); do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 10 "$BASE_URL/api/0/relays/live/"
	done >"$2"
}

count_not_200() {
	grep -vc '^200$' "$1"
}

# --- SIGKILL a worker under load --------------------------------------
pids_before=$(worker_pids)
is "$(echo $pids_before | wc -w)" 2 "two workers running"
load 400 "$T/load1" &
loader=$!
sleep 0.3
victim=$(echo $pids_before | cut -d' ' -f1)
kill -9 "$victim"
wait "$loader"
is "$(wc -l <"$T/load1")" 400 "every request of the load got an answer"
failed=$(count_not_200 "$T/load1")
# Only a request that was inside the killed worker at that instant may fail.
ok $((failed > 1)) "at most one request lost to the SIGKILL (lost: $failed)"
is "$(tail -n 100 "$T/load1" | grep -c '^200$')" 100 "requests after the kill are answered"
sleep 0.3
pids_after=$(worker_pids)
is "$(echo $pids_after | wc -w)" 2 "the dead worker was replaced"
case " $pids_after " in *" $victim "*) ok 1 "killed pid is gone";; *) ok 0 "killed pid is gone";; esac
like "$(cat "$T/relaycfg.log")" "worker $victim killed by signal 9" "the death is logged"

# --- SIGHUP reload under load, no failed request ------------------------
head -c 6000 /dev/zero | tr '\0' 'x' >"$T/6k"
http POST /api/0/relays/_test/echo/ --data-binary @"$T/6k"
is "$HTTP_STATUS" 413 "6000 bytes refused under max_body_size = 4096"
pids_before=$(worker_pids)
load 300 "$T/load2" &
loader=$!
sleep 0.2
sed -i 's/^max_body_size = 4096$/max_body_size = 8192/' "$RELAYCFG_CONF"
kill -HUP "$RELAYCFG_PID"
wait "$loader"
is "$(count_not_200 "$T/load2")" 0 "no request failed across the reload"
is "$(wc -l <"$T/load2")" 300 "all reload-time requests answered"
sleep 0.3
http POST /api/0/relays/_test/echo/ --data-binary @"$T/6k"
is "$HTTP_STATUS" 200 "the reloaded max_body_size is in force"
pids_after=$(worker_pids)
is "$(echo $pids_after | wc -w)" 2 "two workers after reload"
common=$(comm -12 <(echo $pids_before | tr ' ' '\n' | sort) <(echo $pids_after | tr ' ' '\n' | sort) | wc -l)
is "$common" 0 "every worker was replaced"

# A bad config on reload is refused and the old one keeps serving.
cp "$RELAYCFG_CONF" "$T/good.conf"
echo "workers = many" >>"$RELAYCFG_CONF"
kill -HUP "$RELAYCFG_PID"
sleep 0.3
like "$(cat "$T/relaycfg.log")" "reload refused, keeping the running config: $RELAYCFG_CONF:[0-9]+: workers" \
    "a bad reload is refused with file:line"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "still serving after a refused reload"
cp "$T/good.conf" "$RELAYCFG_CONF"

# --- SIGTERM with a slow request in flight -----------------------------
curl -s -o "$T/slow.body" -w '%{http_code}' --max-time 15 \
    "$BASE_URL/api/0/relays/_test/sleep/?ms=1500" >"$T/slow.status" &
slow=$!
sleep 0.5
workers=$(worker_pids)
kill -TERM "$RELAYCFG_PID"
wait "$slow"
done_at=$(date +%s%N)
is "$(cat "$T/slow.status")" 200 "the request in flight completed after SIGTERM"
is "$(cat "$T/slow.body")" '{"slept":true}' "with its full answer"
harness_wait_gone "$RELAYCFG_PID" 20
ok $? "the master is gone within 2 s of the last request"
gone_at=$(date +%s%N)
alive=0
for p in $workers; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
is "$alive" 0 "every worker is gone"
ok $(( (gone_at - done_at) / 1000000 > 2000 )) "stopped $(( (gone_at - done_at) / 1000000 )) ms after the last answer"
RELAYCFG_PID=""
rm -f "$RELAYCFG_SOCKET"

# --- a crash loop backs off instead of fork-bombing ---------------------
harness_start_relaycfg --workers 1
: >"$T/crash.codes"
end=$(( $(date +%s) + 3 ))
while [ "$(date +%s)" -lt "$end" ]; do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 \
	    "$BASE_URL/api/0/relays/_test/crash/" >>"$T/crash.codes"
done
crashes=$(grep -c 'killed by signal 6' "$T/relaycfg.log")
diag "$(wc -l <"$T/crash.codes") crash requests, $crashes worker deaths in 3 s"
ok $((crashes > 12)) "backoff bounds respawns of a crash loop ($crashes deaths in 3 s)"
like "$(cat "$T/relaycfg.log")" 'crashed [0-9]+ times in a row, respawning in [0-9]+ ms' "the backoff is logged"
harness_stop_relaycfg
rm -f "$RELAYCFG_SOCKET"

# --- --max-requests recycles workers -------------------------------------
harness_start_relaycfg --workers 1 --max-requests 5
first=$(worker_pids)
load 23 "$T/load3"
is "$(count_not_200 "$T/load3")" 0 "all requests answered while recycling"
sleep 0.2
last=$(worker_pids)
ok $([ -n "$last" ] && [ "$first" != "$last" ]; echo $?) "the worker was recycled ($first -> $last)"
harness_stop_relaycfg
rm -f "$RELAYCFG_SOCKET"

# --- --workers 0: one process serves, HUP reloads in place --------------
harness_start_relaycfg --workers 0
is "$(worker_pids | wc -w)" 0 "single mode has no children"
http POST /api/0/relays/_test/echo/ --data-binary @"$T/6k"
is "$HTTP_STATUS" 200 "single mode serves (max_body_size 8192)"
sed -i 's/^max_body_size = 8192$/max_body_size = 4096/' "$RELAYCFG_CONF"
kill -HUP "$RELAYCFG_PID"
sleep 0.2
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "single mode answers after HUP"
http POST /api/0/relays/_test/echo/ --data-binary @"$T/6k"
is "$HTTP_STATUS" 413 "single mode reloaded its config in place"
pid=$RELAYCFG_PID
kill -TERM "$pid"
harness_wait_gone "$pid" 20
ok $? "single mode stops on SIGTERM"
RELAYCFG_PID=""

done_testing
