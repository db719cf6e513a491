#!/bin/bash
# Faults under load, SIGHUP: signed Relay traffic through the shipped nginx
# vhost (bodies of 1 and 100 keys, every answer checked) while the master
# is sent SIGHUP every 1.5 s (6 reloads, each replacing every worker; every
# other one also changes the config).  Promises: 0 failed answers; the
# worker count is the configured one afterwards.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/load.sh"
harness_init
harness_start_mariadb
harness_start_memcached
relay_new S
WORKERS=2
RELOADS=6
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal" \
    "max_requests = 0"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" db init >"$T/dbinit.out" 2>&1 ||
    { diag "db init failed"; exit 1; }
load_data 300
harness_start_relaycfg --workers "$WORKERS"
harness_start_nginx
CREDS=$T/S.json

load_run warm "$CREDS" --duration 2
is "$LOAD_FAILED" 0 "warm-up: every answer right ($LOAD_RPS answers/s)"

first=$(worker_pids)
load_start reloads "$CREDS" --duration $((RELOADS * 3 / 2 + 2))
for i in $(seq "$RELOADS"); do
	sleep 1.5
	# Every other reload changes something the workers use.
	if [ $((i % 2)) -eq 1 ]; then
		sed -i 's/^max_requests = 0$/max_requests = 100000/' "$RELAYCFG_CONF"
	else
		sed -i 's/^max_requests = 100000$/max_requests = 0/' "$RELAYCFG_CONF"
	fi
	kill -HUP "$RELAYCFG_PID"
done
load_wait
is "$LOAD_FAILED" 0 "$RELOADS reloads under load: 0 failed answers ($LOAD_OK answers, $LOAD_RPS/s)"
ok $((LOAD_OK < 100)) "the load ran"
is "$(grep -c 'configuration reloaded' "$T/relaycfg.log")" "$RELOADS" "every SIGHUP reloaded"
wait_workers "$WORKERS" 30
ok $? "$WORKERS workers afterwards"
common=$(comm -12 <(echo $first | tr ' ' '\n' | sort) <(worker_pids | tr ' ' '\n' | sort) | wc -l)
is "$common" 0 "the workers were replaced"
load_run after "$CREDS" --duration 1
is "$LOAD_FAILED" 0 "after the reloads: every answer right"

done_testing
