#!/bin/bash
# Faults under load, a stalled FastCGI peer: relaycfg on a TCP --listen
# socket (what Apache mod_proxy_fcgi or another proxy talks to, which do
# not buffer request bodies as nginx does) with io_timeout = 1 and 2
# workers.  Two peers connect straight to it, send their params with
# CONTENT_LENGTH=100 and then nothing, while signed Relay traffic (bodies
# of 1 and 100 keys, every answer checked) goes through the shipped nginx
# vhost to the same socket.  Promises: each worker drops its stalled
# connection after io_timeout, logs it and serves the next; the load keeps
# being answered (0 failed answers); live answers meanwhile.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/load.sh"
harness_init
harness_start_mariadb
harness_start_memcached
relay_new S
IO_TIMEOUT=1
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" db init >"$T/dbinit.out" 2>&1 ||
    { diag "db init failed"; exit 1; }
load_data 300
echo "io_timeout = $IO_TIMEOUT" >>"$RELAYCFG_CONF"
"$RELAYCFG_BIN" --check-config -c "$RELAYCFG_CONF" >"$T/check.out" 2>&1
ok $? "relaycfg accepts io_timeout = $IO_TIMEOUT"
"$RELAYCFG_BIN" --check-config -c "$RELAYCFG_CONF" >/dev/null 2>&1 ||
    sed -i '/^io_timeout = /d' "$RELAYCFG_CONF"	# test the rest anyway

# relaycfg on TCP, nginx's upstream pointed at it.
harness_start_relaycfg_tcp "$T/relaycfg.log" "$RELAYCFG_BIN" \
    -c "$RELAYCFG_CONF" --workers 2
FCGI_PORT=$TCP_PORT RELAYCFG_PID=$TCP_PID
harness_start_nginx
sed -i "s|server unix:[^ ;]*|server 127.0.0.1:$FCGI_PORT|" "$T/nginx/vhost.conf"
kill -HUP "$NGINX_PID"
for i in $(seq 50); do
	sleep 0.1
	http GET /api/0/relays/live/
	[ "$HTTP_STATUS" = 200 ] && break
done
is "$HTTP_STATUS" 200 "nginx reaches relaycfg over TCP"
CREDS=$T/S.json

load_run warm "$CREDS" --duration 2
is "$LOAD_FAILED" 0 "warm-up: every answer right ($LOAD_RPS answers/s)"

# Two stalled peers: one for each worker.
fcgi_stall 127.0.0.1 "$FCGI_PORT" 12
stall1=$STALL_PID
fcgi_stall 127.0.0.1 "$FCGI_PORT" 12
stall2=$STALL_PID
sleep 0.2
load_start stalled "$CREDS" --duration 5 --answer-timeout 5
sleep 2
live=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 \
    "$BASE_URL/api/0/relays/live/")
is "${live% *}" 200 "live answers while the peers stall (in ${live#* } s)"
load_wait
is "$LOAD_FAILED" 0 "load with two stalled peers: 0 failed answers ($LOAD_OK answers; $LOAD_ERRORS without an answer in 5 s)"
ok $((LOAD_OK < 50)) "the load kept being answered ($LOAD_RPS answers/s)"
wait "$stall1" "$stall2"
for s in "$stall1" "$stall2"; do
	held=$(cat "$T/stall.$s" 2>/dev/null || echo none)
	ok $([ "$held" != none ] && [ "$held" -le $(( (IO_TIMEOUT + 2) * 1000 )) ]; echo $?) \
	    "a stalled peer is dropped within io_timeout + 2 s (held $held ms)"
done
grep -v ' access ' "$T/relaycfg.log" | grep -Eq 'io_timeout|[Tt]imed out'
ok $? "the drop is logged"
is "$(worker_pids | wc -w)" 2 "both workers still serve"

done_testing
