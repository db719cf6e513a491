#!/bin/bash
# Faults under load, workers: signed Relay traffic through the shipped nginx
# vhost (bodies of 1 and 100 keys, every answer checked) while a worker is
# SIGKILLed from outside every 2 s, as an operator or the OOM killer would.
# Promises: fewer than 0.1% failed answers (only a request inside a killed
# worker may fail); the pool is never empty for longer than the first
# backoff step (100 ms): after each kill the master is back to its worker
# count within 1 s; workers that served requests are not treated as a
# crash loop, even when every worker is killed at once, every second; a
# request cut short by a kill fails at once (its client's connection is
# closed), never leaves its client waiting.
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
is "$LOAD_TIMEOUTS" 0 "each failed at once: none waited out the 5 s answer timeout"
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

# --- nginx keeping upstream connections ------------------------------------
# With fastcgi_keep_conn an operator may add "keepalive" to the upstream.
# relaycfg still closes each connection after its answer: a kept one would
# pin its worker (libfcgi reads it instead of accepting) and, with more
# clients than workers, requests would hang.
sed -i 's|^\(    server unix:[^;]*;\)$|\1\n    keepalive 8;|' "$T/nginx/vhost.conf"
grep -q '^    keepalive 8;$' "$T/nginx/vhost.conf"
ok $? "an upstream keepalive added to the vhost"
kill -HUP "$NGINX_PID"
sleep 1
LOAD_CONNS=8 load_run keepalive "$CREDS" --duration 3 --answer-timeout 5
is "$LOAD_FAILED/$LOAD_TIMEOUTS" 0/0 \
    "8 clients on $WORKERS workers with upstream keepalive: every answer right, none hung ($LOAD_OK answers)"

# --- a worker killed in the middle of an answer ------------------------------
# nginx cannot retry an answer it has begun to send.  The client must see
# the failure at once (its connection closed short of Content-Length),
# never wait on a keep-alive connection for bytes that will not come.
# fastcgi_keep_conn in the shipped vhost is what makes nginx wait for
# FastCGI's END_REQUEST and tell a cut-short answer from a whole one.  To
# kill the worker while it writes, nginx is made to hold little (small
# buffers, no temp file, a 4k send buffer), and the client reads nothing
# until the kill.
grep -q '^        fastcgi_keep_conn on;' "$T/nginx/vhost.conf"
ok $? "the shipped vhost waits for END_REQUEST (fastcgi_keep_conn on)"
sed -i -e "s|listen 127.0.0.1:$NGINX_PORT;|listen 127.0.0.1:$NGINX_PORT sndbuf=4k;|" \
    -e 's|fastcgi_buffer_size 32k;|fastcgi_buffer_size 4k;|' \
    -e 's|fastcgi_buffers 32 64k;|fastcgi_buffers 2 4k; fastcgi_max_temp_file_size 0;|' \
    -e 's|fastcgi_busy_buffers_size 128k;|fastcgi_busy_buffers_size 4k;|' \
    "$T/nginx/vhost.conf"
kill -HUP "$NGINX_PID"
sleep 1
cut_keys=$(awk '$2 == "live" && n < 500 { printf "%s\"%s\"", n++ ? "," : "", $1 }' "$T/expect.txt")
printf '{"publicKeys":[%s]}' "$cut_keys" >"$T/cut.json"
cut_sig=$("$RELAYCFGCTL" sign --credentials "$CREDS" <"$T/cut.json") ||
    { diag "sign failed"; exit 1; }
exec 3<>"/dev/tcp/127.0.0.1/$NGINX_PORT"
{
	printf 'POST /api/0/relays/projectconfigs/?version=3 HTTP/1.1\r\n'
	printf 'Host: 127.0.0.1\r\nContent-Type: application/json\r\n'
	printf 'X-Sentry-Relay-Id: %s\r\nX-Sentry-Relay-Signature: %s\r\n' \
	    "$(relay_id S)" "$cut_sig"
	printf 'Content-Length: %s\r\n\r\n' "$(wc -c <"$T/cut.json")"
	cat "$T/cut.json"
} >&3
sleep 2		# the worker fills what nginx holds and blocks writing
kill -9 $(worker_pids) 2>/dev/null
timeout 20 cat <&3 >"$T/cut.out"
cut_rc=$?
exec 3>&-
cut_len=$(sed -n 's/^Content-Length: \([0-9]*\)\r$/\1/p' "$T/cut.out" | head -n 1)
cut_got=$(( $(wc -c <"$T/cut.out") - $(grep -abo $'\r\n\r\n' "$T/cut.out" | head -n 1 | cut -d: -f1) - 4 ))
like "$(head -n 1 "$T/cut.out")" '^HTTP/1.1 200 ' "a 500-key answer had begun"
ok $((cut_got >= ${cut_len:-0})) "the worker was killed in mid-answer ($cut_got of ${cut_len:-?} bytes)"
ok $((cut_rc == 124)) "the client's connection was closed at once, not left waiting for the rest"
like "$(grep -c 'upstream prematurely closed' "$T/nginx.log")" '^[1-9]' \
    "nginx saw the cut (upstream prematurely closed connection)"
wait_workers "$WORKERS"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "new workers answer after the kill"

done_testing
