#!/bin/bash
# Faults under load, MariaDB: signed Relay traffic through the shipped nginx
# vhost (bodies of 1 and 100 keys, every answer checked) while mariadbd is
# SIGKILLed and restarted, with a warm cache and with a cold one.  The
# relay is a static relay (config file): its authentication needs no
# database.  Promises: never a 5xx; with a warm cache every key is
# answered in full from the cache (stale copies are fine); with a cold
# cache a key is answered or "pending", never wrong; once MariaDB is back
# every key is answered again.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/load.sh"
harness_init
harness_start_mariadb
harness_start_memcached
relay_new S
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" db init >"$T/dbinit.out" 2>&1 ||
    { diag "db init failed"; exit 1; }
load_data 300
harness_start_relaycfg --workers 2
harness_start_nginx
CREDS=$T/S.json

# kill_mariadb: SIGKILL, as a crash or the OOM killer would.
kill_mariadb() {
	kill -9 "$MARIADB_PID"
	wait "$MARIADB_PID" 2>/dev/null
	MARIADB_PID=""
}

# await_full_answers: a worker that saw MariaDB fail rests it briefly
# (DB_RETRY_MS) before it reconnects, so the first answers after a restart
# may still be pending: recovery is by itself, within a bound. Sets $tries;
# 20 means it did not recover in 20 half-second probes.
await_full_answers() {
	tries=0
	until load_run probe "$CREDS" --duration 0.5 &&
	    [ "$LOAD_FAILED" -eq 0 ] || [ "$tries" -ge 20 ]; do
		tries=$((tries + 1))
	done
}

# --- warm cache: the same bodies (same seed) have been answered ---------
load_run warm "$CREDS" --duration 2
is "$LOAD_FAILED" 0 "warm-up: every answer right ($LOAD_RPS answers/s)"
load_start warmkill "$CREDS" --duration 5
sleep 1
kill_mariadb
sleep 2
harness_run_mariadbd
load_wait
is "$LOAD_5XX" 0 "warm cache, MariaDB killed and restarted under load: no 5xx"
is "$LOAD_FAILED" 0 "warm cache: 0 failed answers, every key answered in full ($LOAD_OK answers)"

load_start warmdown "$CREDS" --duration 2
sleep 0.5
kill_mariadb
load_wait
is "$LOAD_5XX" 0 "warm cache, MariaDB down: no 5xx"
is "$LOAD_FAILED" 0 "warm cache, MariaDB down: every key answered from the cache ($LOAD_OK answers)"

# --- cold cache: memcached emptied, MariaDB still down -------------------
harness_stop_memcached
harness_start_memcached "$MC_PORT"
load_run colddown "$CREDS" --duration 2 --allow-pending
is "$LOAD_5XX" 0 "cold cache, MariaDB down: no 5xx"
is "$LOAD_FAILED" 0 "cold cache, MariaDB down: every key answered or pending ($LOAD_OK answers)"
ok $((LOAD_PENDING == 0)) "and keys are pending ($LOAD_PENDING)"

harness_run_mariadbd
await_full_answers
ok $((tries >= 20)) "MariaDB back: full answers again within 10 s"
load_run back "$CREDS" --duration 2
is "$LOAD_FAILED" 0 "MariaDB back: every key answered in full again"

# --- cold cache, MariaDB killed under load ----------------------------------
harness_stop_memcached
harness_start_memcached "$MC_PORT"
load_start coldkill "$CREDS" --duration 4 --allow-pending
sleep 0.3
kill_mariadb
sleep 2
harness_run_mariadbd
load_wait
is "$LOAD_5XX" 0 "cold cache, MariaDB killed and restarted under load: no 5xx"
is "$LOAD_FAILED" 0 "cold cache: 0 failed answers (answered or pending)"
await_full_answers
ok $((tries >= 20)) "MariaDB restarted under load: full answers again within 10 s"
load_run end "$CREDS" --duration 1
is "$LOAD_FAILED" 0 "and every key answered in full afterwards"

done_testing
