#!/bin/bash
# Faults under load, SIGTERM with queued connections: both workers are busy
# with a slow request, 20 signed Relay requests (bodies of 1 and 100 keys)
# wait in the listen backlog (nginx has connected, the kernel has accepted),
# then the master gets SIGTERM; then the same with idle workers that get
# the signal before they look at the queue.  Promises: every connection
# the kernel accepted before the signal is served (0 dropped, every answer
# checked), the requests in flight finish, and then everything exits.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/load.sh"
harness_init
need_binary ss
harness_start_mariadb
harness_start_memcached
relay_new S
QUEUED=20
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" db init >"$T/dbinit.out" 2>&1 ||
    { diag "db init failed"; exit 1; }
load_data 300
RELAYCFG_BIN=$RELAYCFG_TEST_BIN
harness_start_relaycfg --workers 2
harness_start_nginx
CREDS=$T/S.json

# backlog: connections waiting in relaycfg's listen queue (Recv-Q of the
# listening socket).
backlog() {
	ss -xlnH src "$RELAYCFG_SOCKET" | awk '{ print $3; exit }'
}

load_run warm "$CREDS" --duration 2
is "$LOAD_FAILED" 0 "warm-up: every answer right ($LOAD_RPS answers/s)"

for i in 1 2; do
	curl -s -o "$T/slow$i.body" -w '%{http_code}' --max-time 20 \
	    "$BASE_URL/api/0/relays/_test/sleep/?ms=2500" >"$T/slow$i.status" &
	eval "slow$i=\$!"
done
sleep 0.5
LOAD_CONNS=$QUEUED load_start queued "$CREDS" --requests "$QUEUED" --answer-timeout 20
i=0
while [ "$(backlog)" -lt "$QUEUED" ] && [ "$i" -lt 40 ]; do
	sleep 0.05
	i=$((i + 1))
done
queued=$(backlog)
is "$queued" "$QUEUED" "$QUEUED connections wait in the listen backlog"
workers=$(worker_pids)
kill -TERM "$RELAYCFG_PID"
load_wait
is "$LOAD_OK" "$QUEUED" "SIGTERM: every queued connection was served ($LOAD_OK of $QUEUED; $LOAD_5XX 5xx, $LOAD_ERRORS errors)"
is "$LOAD_FAILED" 0 "0 dropped among connections accepted before the signal"
wait "$slow1" "$slow2"
is "$(cat "$T/slow1.status") $(cat "$T/slow2.status")" "200 200" "the requests in flight completed"
harness_wait_gone "$RELAYCFG_PID" 50
ok $? "the master exits after serving them"
alive=0
for p in $workers; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
is "$alive" 0 "every worker is gone"
RELAYCFG_PID=""
http GET /api/0/relays/live/
is "$HTTP_STATUS" 502 "a connection after the stop is refused (nginx: 502)"

# --- idle workers, connections queued at the instant of the signal -------
# The workers are stopped (SIGSTOP) while idle, so that the signal reaches
# them before they look at the queue: what happens when connections arrive
# just as the signal does.
rm -f "$RELAYCFG_SOCKET"
harness_start_relaycfg --workers 2
workers=$(worker_pids)
kill -STOP $workers
LOAD_CONNS=$QUEUED load_start idle "$CREDS" --requests "$QUEUED" --answer-timeout 20
i=0
while [ "$(backlog)" -lt "$QUEUED" ] && [ "$i" -lt 40 ]; do
	sleep 0.05
	i=$((i + 1))
done
is "$(backlog)" "$QUEUED" "$QUEUED connections wait while the workers are idle"
kill -TERM "$RELAYCFG_PID"
sleep 0.3
kill -CONT $workers
load_wait
is "$LOAD_OK" "$QUEUED" "SIGTERM to idle workers: every queued connection was served ($LOAD_OK of $QUEUED; $LOAD_5XX 5xx, $LOAD_ERRORS errors)"
is "$LOAD_FAILED" 0 "0 dropped among connections accepted before the signal"
harness_wait_gone "$RELAYCFG_PID" 50
ok $? "the master exits after serving them"
RELAYCFG_PID=""

done_testing
