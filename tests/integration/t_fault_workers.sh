#!/bin/bash
# Faults under load, workers: signed Relay traffic through the shipped nginx
# vhost (bodies of 1 and 100 keys, every answer checked) while a worker is
# SIGKILLed from outside every 2 s, as an operator or the OOM killer would.
# Promises: fewer than 0.1% failed answers (only a request inside a killed
# worker may fail); the pool is never empty for longer than the first
# backoff step (100 ms): after each kill the master is back to its worker
# count within 1 s; workers that served requests are not treated as a
# crash loop, even when every worker is killed at once, every second.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/load.sh"
harness_init
harness_start_mariadb
harness_start_memcached
relay_new S
WORKERS=2
KILLS=6
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" db init >"$T/dbinit.out" 2>&1 ||
    { diag "db init failed"; exit 1; }
load_data 300
harness_start_relaycfg --workers "$WORKERS"
harness_start_nginx
CREDS=$T/S.json

load_run warm "$CREDS" --duration 2
is "$LOAD_FAILED" 0 "warm-up: every answer right ($LOAD_RPS answers/s)"

load_start kills "$CREDS" --duration $((KILLS * 2 + 2)) --answer-timeout 5
killed=0 refilled=0 empty_max=0
for i in $(seq "$KILLS"); do
	sleep 2
	pids=$(worker_pids)
	set -- $pids
	[ $# -gt 0 ] || continue
	victim=$(eval echo "\${$(( (RANDOM % $#) + 1 ))}")
	kill -9 "$victim" && killed=$((killed + 1))
	# Count how long the pool stays below its size, in 50 ms steps.
	t=0
	while [ "$(worker_pids | wc -w)" -lt "$WORKERS" ] && [ "$t" -lt 20 ]; do
		sleep 0.05
		t=$((t + 1))
	done
	[ "$t" -lt 20 ] && refilled=$((refilled + 1))
	[ "$t" -gt "$empty_max" ] && empty_max=$t
done
load_wait
is "$killed" "$KILLS" "$KILLS workers SIGKILLed, one every 2 s"
is "$refilled" "$KILLS" "each was replaced within 1 s (slowest: $((empty_max * 50)) ms)"
ok $((LOAD_FAILED * 1000 >= LOAD_REQUESTS)) \
    "fewer than 0.1% failed: $LOAD_FAILED of $LOAD_REQUESTS ($LOAD_5XX 5xx, $LOAD_ERRORS errors, $LOAD_WRONG wrong)"
ok $((LOAD_FAILED > KILLS)) "at most one failed answer per kill ($LOAD_FAILED, $KILLS kills)"
ok $((LOAD_OK < 100)) "the load ran ($LOAD_RPS answers/s)"
is "$(grep -E 'crashed [0-9]+ times in a row' "$T/relaycfg.log" | head -n 3)" "" \
    "workers that served requests are not treated as a crash loop"
is "$(worker_pids | wc -w)" "$WORKERS" "$WORKERS workers at the end"

load_run after "$CREDS" --duration 1
is "$LOAD_FAILED" 0 "after the kills: every answer right"

# --- every worker killed at once, again and again ------------------------
# Workers that served requests and die young are not a crash loop: the
# pool must never stay empty for longer than the first backoff step
# (100 ms; 400 ms allowed here for scheduling).
# The load outlasts the kills: a worker killed with no traffic to serve
# would rightly count as a crash.
load_start allkills "$CREDS" --duration $((KILLS * 3 / 2 + 2)) --answer-timeout 5
slow_refills=0 worst=0
for i in $(seq "$KILLS"); do
	sleep 1
	kill -9 $(worker_pids) 2>/dev/null
	t=0
	while [ "$(worker_pids | wc -w)" -lt "$WORKERS" ] && [ "$t" -lt 100 ]; do
		sleep 0.02
		t=$((t + 1))
	done
	[ "$t" -gt 20 ] && slow_refills=$((slow_refills + 1))
	[ "$t" -gt "$worst" ] && worst=$t
	sleep 0.2	# let the new workers serve
done
load_wait
is "$slow_refills" 0 "all workers killed $KILLS times: the pool was full again within 400 ms each time (worst: $((worst * 20)) ms)"
ok $((LOAD_FAILED > KILLS * WORKERS)) "only requests inside killed workers failed ($LOAD_FAILED of $LOAD_REQUESTS)"
is "$(grep -E 'crashed [0-9]+ times in a row' "$T/relaycfg.log" | head -n 3)" "" \
    "still no crash-loop backoff"

done_testing
