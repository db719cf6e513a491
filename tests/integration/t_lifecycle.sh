#!/bin/bash
# Master/worker life cycle through nginx: respawn after SIGKILL under load,
# graceful SIGTERM with a request in flight and with connections queued,
# SIGHUP reload without a failed request, crash-loop backoff, workers killed
# from outside after serving, the watchdog (also over workers a reload
# retired), --max-requests recycling, single-process mode; then on TCP with
# no web server in front: stalled FastCGI peers (io_timeout) and bodies
# without CONTENT_LENGTH.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/fcgi.sh"
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

# --- SIGTERM answers the connections already queued ---------------------
# One worker, busy with a slow request; 20 more connections wait in the
# listen backlog (nginx made them).  None may be reset or refused by the
# stop: the worker answers them all before it leaves.
harness_start_relaycfg --workers 1
# Only what nginx logs from here on: the SIGKILL of a worker at the top
# may have been logged as a reset (a request it had not read yet).
drain_log_from=$(($(stat -c %s "$T/nginx.log" 2>/dev/null || echo 0) + 1))
curl -s -o /dev/null -w '%{http_code}' --max-time 15 \
    "$BASE_URL/api/0/relays/_test/sleep/?ms=3000" >"$T/drain.slow" &
slow=$!
sleep 0.3
queued=""
for i in $(seq 20); do
	curl -s -o /dev/null -w '%{http_code}\n' --max-time 15 \
	    "$BASE_URL/api/0/relays/live/" >"$T/drain.q$i" &
	queued="$queued $!"
done
# The slow request ends 3 s after it began: SIGTERM comes at 2 s, when the
# 20 connections have long been made and queued.
sleep 1.7
kill -TERM "$RELAYCFG_PID"
# shellcheck disable=SC2086
wait "$slow" $queued
is "$(cat "$T/drain.slow")" 200 "drain: the request in flight completed"
is "$(cat "$T"/drain.q* | grep -c '^200$')" 20 \
    "drain: all 20 connections queued before SIGTERM got 200"
unlike "$(tail -c +"$drain_log_from" "$T/nginx.log" 2>/dev/null)" \
    'Connection reset by peer' "drain: nginx saw no reset connection"
harness_wait_gone "$RELAYCFG_PID" 50
ok $? "drain: the master is gone once the queue is empty"
RELAYCFG_PID=""
rm -f "$RELAYCFG_SOCKET"

# --- stop signals that arrive before the handlers --------------------------
# FCGX_Init installs libfcgi's own SIGTERM handler, which only makes every
# later accept fail. A SIGTERM right after a SIGHUP reached new workers
# before their own handlers (and a master's before its sigtimedwait): the
# worker then spun on a failing accept until shutdown_timeout killed it.
# Eight rounds of HUP then TERM at once, with eight workers, and TERM
# sent at once after a start, master and single-process alike: each stop
# within 3 s (shutdown_timeout is 10) and without killing anyone.
{ cat "$RELAYCFG_CONF"; echo "shutdown_timeout = 10"; } >"$T/sig.conf"
slow_stops=0
for round in 1 2 3 4 5 6 7 8; do
	"$RELAYCFG_BIN" -c "$T/sig.conf" --listen "unix:$T/sig.sock" \
	    --workers 8 </dev/null >>"$T/sig.log" 2>&1 &
	pid=$!
	harness_wait_socket "$T/sig.sock" "$pid"
	kill -HUP "$pid"
	kill -TERM "$pid"
	harness_wait_gone "$pid" 30 || { slow_stops=$((slow_stops + 1)); kill -9 "$pid"; }
	wait "$pid" 2>/dev/null
	rm -f "$T/sig.sock"
done
bin=$(readlink -f "$RELAYCFG_BIN")
for mode in 2 0; do
	"$RELAYCFG_BIN" -c "$T/sig.conf" --listen "unix:$T/sig.sock" \
	    --workers "$mode" </dev/null >>"$T/sig.log" 2>&1 &
	pid=$!
	# Not before the exec: until then the child is this shell, and
	# SIGTERM would run its EXIT trap.
	until [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$bin" ] ||
	    ! kill -0 "$pid" 2>/dev/null; do :; done
	kill -TERM "$pid"
	harness_wait_gone "$pid" 30 || { slow_stops=$((slow_stops + 1)); kill -9 "$pid"; }
	wait "$pid" 2>/dev/null
	rm -f "$T/sig.sock"
done
is "$slow_stops" 0 "HUP then TERM, and TERM at start: every stop within 3 s"
unlike "$(cat "$T/sig.log")" 'shutdown timeout|accept: ' "... with no worker killed and no failing accept"

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

# --- workers killed from outside after serving: no backoff ---------------
# An operator or the OOM killer SIGKILLs every worker that has answered
# requests, every 0.5 s, under load.  None of them was crash-looping: each
# must be replaced at once (no "crashed N times"), and a request made right
# after each kill is answered within 1 s.
harness_start_relaycfg --workers 2
crashed_before=$(grep -c 'crashed [0-9]* times' "$T/relaycfg.log")
load_until() {
	while [ "$(date +%s%N)" -lt "$1" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 5 \
		    "$BASE_URL/api/0/relays/live/"
	done
}
until_ns=$(( $(date +%s%N) + 5000000000 ))
load_until "$until_ns" >"$T/kill.a" &
la=$!
load_until "$until_ns" >"$T/kill.b" &
lb=$!
killed=0
late=0
for round in $(seq 8); do
	sleep 0.5
	for p in $(worker_pids); do
		grep -q "relaycfg\[$p\] info: access" "$T/relaycfg.log" || continue
		kill -9 "$p" && killed=$((killed + 1))
	done
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
	    "$BASE_URL/api/0/relays/live/")
	[ "$code" = 200 ] || late=$((late + 1))
done
wait "$la" "$lb"
diag "$killed workers killed in 8 rounds"
ok $((killed < 8)) "kills: served workers were killed in every round ($killed)"
is "$late" 0 "kills: a request after each kill was answered within 1 s"
is "$(grep -c 'crashed [0-9]* times' "$T/relaycfg.log")" "$crashed_before" \
    "kills: no crash-loop backoff for workers that had served"
failed=$(cat "$T/kill.a" "$T/kill.b" | grep -vc '^200$')
ok $((failed > killed)) "kills: at most one failed request per killed worker ($failed)"
sleep 0.3
is "$(worker_pids | wc -w)" 2 "kills: two workers again"
harness_stop_relaycfg
rm -f "$RELAYCFG_SOCKET"

# --- workers = auto: two per CPU ---------------------------------------------
# Without --workers, the configured "auto" starts two workers per CPU it
# may run on (master.c, WORKERS_PER_CPU; nproc counts the same CPUs), at
# most 1024.  Started once on all of them and once pinned to one CPU.
cp "$RELAYCFG_CONF" "$T/before-auto.conf"
echo "workers = auto" >>"$RELAYCFG_CONF"
log_from=$(($(wc -c <"$T/relaycfg.log") + 1))
"$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$RELAYCFG_SOCKET" \
    </dev/null >>"$T/relaycfg.log" 2>&1 &
RELAYCFG_PID=$!
harness_wait_socket "$RELAYCFG_SOCKET" "$RELAYCFG_PID"
want=$((2 * $(nproc)))
[ "$want" -le 1024 ] || want=1024
n=0
for i in $(seq 100); do
	n=$(worker_pids | wc -w)
	[ "$n" -ge "$want" ] && break
	sleep 0.05
done
is "$n" "$want" "workers = auto: two workers per CPU ($want)"
like "$(tail -c +"$log_from" "$T/relaycfg.log")" "master ready, $want workers" \
    "... and the master says how many"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "... and they answer"
harness_stop_relaycfg
rm -f "$RELAYCFG_SOCKET"
# Pinned to one CPU (a cpuset, taskset): two workers, whatever the host has.
log_from=$(($(wc -c <"$T/relaycfg.log") + 1))
taskset -c "$(taskset -cp $$ | sed 's/.*: //; s/[,-].*//')" \
    "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$RELAYCFG_SOCKET" \
    </dev/null >>"$T/relaycfg.log" 2>&1 &
RELAYCFG_PID=$!
harness_wait_socket "$RELAYCFG_SOCKET" "$RELAYCFG_PID"
like "$(tail -c +"$log_from" "$T/relaycfg.log")" "master ready, 2 workers" \
    "workers = auto pinned to one CPU: two workers"
harness_stop_relaycfg
cp "$T/before-auto.conf" "$RELAYCFG_CONF"
rm -f "$RELAYCFG_SOCKET"

# --- the watchdog ends a request that spins --------------------------------
# request_timeout = 4: the worker's own guard ends a CPU loop that blocks the
# stop signals; the master's SIGKILL ends one that blocks every signal.
cp "$RELAYCFG_CONF" "$T/before-watchdog.conf"
{
	echo "io_timeout = 2"
	echo "request_timeout = 4"
	echo "db_connect_timeout = 1"
	echo "db_read_timeout = 1"
	echo "db_write_timeout = 1"
} >>"$RELAYCFG_CONF"
harness_start_relaycfg --workers 2
t0=$(date +%s%N)
http GET '/api/0/relays/_test/crash/?how=spin'
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$HTTP_STATUS" 502 "watchdog: the spinning request ends (nginx 502)"
ok $((ms < 3500 || ms > 8000)) "watchdog: after request_timeout, not before ($ms ms)"
grep -Eq 'watchdog: a request ran longer than request_timeout \(4 s\), the worker exits' "$T/relaycfg.log"
ok $? "watchdog: the worker logs why it exits"
grep -Eq 'worker [0-9]+ stopped by the watchdog: "GET /api/0/relays/_test/crash/" ran longer than request_timeout \(4 s\)' "$T/relaycfg.log"
ok $? "watchdog: the master reports it, with the request"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "watchdog: a new worker serves live"
sleep 0.3
is "$(worker_pids | wc -w)" 2 "watchdog: two workers again"
t0=$(date +%s%N)
http GET '/api/0/relays/_test/crash/?how=spin&mask=all'
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
is "$HTTP_STATUS" 502 "watchdog: a spin with every signal blocked ends too"
ok $((ms < 3500 || ms > 9000)) "watchdog: ... by the master's SIGKILL ($ms ms)"
grep -Eq 'worker [0-9]+ still busy [0-9]+ ms after request_timeout, killing it' "$T/relaycfg.log"
ok $? "watchdog: the master's kill is logged"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "watchdog: live after the master's kill"
harness_stop_relaycfg
rm -f "$RELAYCFG_SOCKET"

# --- the watchdog holds for workers retired by a reload ----------------------
# A reload retires the old generation, which finishes its requests: the
# master must keep watching it.  Three workers take a spin that blocks the
# stop signals, one that blocks every signal, and a 3 s sleep; SIGHUP comes
# 1 s in.  The first retiree's own guard ends it (status 3); the master
# SIGKILLs the second 2 s after request_timeout; both deaths are logged as
# for current workers.  The sleep, within request_timeout, is answered and
# its worker leaves without a word.
harness_start_relaycfg --workers 3
old=$(worker_pids)
log_from=$(($(stat -c %s "$T/relaycfg.log") + 1))
curl -s -o /dev/null -w '%{http_code}' --max-time 12 \
    "$BASE_URL/api/0/relays/_test/crash/?how=spin" >"$T/retire.spin" &
r1=$!
sleep 0.2
t0=$(date +%s%N)
curl -s -o /dev/null -w '%{http_code}' --max-time 12 \
    "$BASE_URL/api/0/relays/_test/crash/?how=spin&mask=all" >"$T/retire.all" &
r2=$!
sleep 0.2
curl -s -o "$T/retire.sleep.body" -w '%{http_code}' --max-time 12 \
    "$BASE_URL/api/0/relays/_test/sleep/?ms=3000" >"$T/retire.sleep" &
r3=$!
sleep 0.6
kill -HUP "$RELAYCFG_PID"
wait "$r2"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$r1" "$r3"
is "$(cat "$T/retire.sleep")" 200 "retired: the request within request_timeout is answered"
is "$(cat "$T/retire.sleep.body")" '{"slept":true}' "retired: ... in full"
is "$(cat "$T/retire.spin")" 502 "retired: the worker's own watchdog ends a spin"
is "$(cat "$T/retire.all")" 502 "retired: the master ends a spin with every signal blocked"
ok $((ms < 5500 || ms > 10000)) "retired: ... 2 s after request_timeout ($ms ms)"
alive=0
for p in $old; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
is "$alive" 0 "retired: no worker of the old generation is left"
tail -c +"$log_from" "$T/relaycfg.log" >"$T/retire.log"
killed=$(sed -n 's/.*worker \([0-9]*\) still busy [0-9]* ms after request_timeout, killing it.*/\1/p' "$T/retire.log")
is "$(echo $killed | wc -w)" 1 "retired: the master's kill is logged"
case " $(echo $old) " in *" $killed "*) ok 0 "retired: ... for a retired worker";; *) ok 1 "retired: ... for a retired worker ($killed)";; esac
is "$(grep -Ec 'worker [0-9]+ stopped by the watchdog: "GET /api/0/relays/_test/crash/" ran longer than request_timeout \(4 s\)' "$T/retire.log")" 2 \
    "retired: both deaths are reported, with the request"
is "$(grep -Ec 'worker [0-9]+ (killed by signal|exited with status)' "$T/retire.log")" 0 \
    "retired: no other death is reported (the sleep's worker left gracefully)"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "retired: the new generation serves live"
is "$(worker_pids | wc -w)" 3 "retired: three workers of the new generation"
harness_stop_relaycfg
rm -f "$RELAYCFG_SOCKET"
cp "$T/before-watchdog.conf" "$RELAYCFG_CONF"

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

# workers = 0 from the file (no --workers): a reload that asks for workers
# cannot fork a master out of the single process; it says so.
rm -f "$RELAYCFG_SOCKET"
sed -i '/^workers = /d' "$RELAYCFG_CONF"
echo "workers = 0" >>"$RELAYCFG_CONF"
"$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$RELAYCFG_SOCKET" \
    </dev/null >>"$T/single.log" 2>&1 &
RELAYCFG_PID=$!
harness_wait_socket "$RELAYCFG_SOCKET" "$RELAYCFG_PID"
sed -i 's/^workers = 0$/workers = 2/' "$RELAYCFG_CONF"
kill -HUP "$RELAYCFG_PID"
harness_wait_log "not applied" "$T/single.log"
like "$(grep "not applied" "$T/single.log")" \
    "workers = 2, not applied: a single process takes a restart" \
    "single mode: a reload asking for workers says it takes a restart"
http GET /api/0/relays/live/
is "$HTTP_STATUS:$(worker_pids | wc -w)" "200:0" \
    "single mode: still one process, answering"
sed -i '/^workers = /d' "$RELAYCFG_CONF"
kill -TERM "$RELAYCFG_PID"
harness_wait_gone "$RELAYCFG_PID" 20
RELAYCFG_PID=""

# --- TCP, no web server in front: stalled peers and bodies without length --
# FastCGI records written by hand (tests/lib/fcgi.sh): nothing protects
# relaycfg here.

{
	echo "io_timeout = 2"
	echo "request_timeout = 4"
	echo "db_connect_timeout = 1"
	echo "db_read_timeout = 1"
	echo "db_write_timeout = 1"
} >>"$RELAYCFG_CONF"
# Under AddressSanitizer a malloc that cannot be served returns NULL, as
# glibc's does, instead of ending the process (the huge param lengths).
harness_start_relaycfg_tcp "$T/relaycfg-tcp.log" env \
    "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1" \
    "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --workers 2
RELAYCFG_PID=$TCP_PID
sleep 0.2
mark=$(wc -l <"$T/relaycfg-tcp.log")

fcgi_head "$T/live.req" REQUEST_METHOD=GET REQUEST_URI=/api/0/relays/live/
fcgi_stdin "$T/live.req" /dev/null
fcgi_send "$T/live.req" >"$T/live.out"
like "$(tr -d '\0' <"$T/live.out")" 'Status: 200' "tcp: live over raw FastCGI"

# Two peers send their params with CONTENT_LENGTH=100, then nothing; a
# third connects and sends nothing at all.  Both workers are pinned until
# io_timeout (2 s) drops them; live, queued behind, is answered then.
fcgi_head "$T/stall.req" REQUEST_METHOD=POST \
    REQUEST_URI=/api/0/relays/_test/echo/ CONTENT_LENGTH=100
exec 5<>"/dev/tcp/127.0.0.1/$TCP_PORT"
cat "$T/stall.req" >&5
exec 6<>"/dev/tcp/127.0.0.1/$TCP_PORT"
cat "$T/stall.req" >&6
exec 7<>"/dev/tcp/127.0.0.1/$TCP_PORT"
sleep 0.3
t0=$(date +%s%N)
fcgi_send "$T/live.req" >"$T/live2.out"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
like "$(tr -d '\0' <"$T/live2.out")" 'Status: 200' "stall: live answered while three peers stall"
ok $((ms > 5000)) "stall: within io_timeout + 3 s ($ms ms)"
sleep 2.2
tail -n +"$((mark + 1))" "$T/relaycfg-tcp.log" >"$T/stall.log"
is "$(grep -c 'io_timeout: dropped a connection whose peer sent or took nothing for 2 s while its body was read' "$T/stall.log")" 2 \
    "stall: both stalled bodies are dropped and logged"
is "$(grep -c 'io_timeout: dropped a connection whose peer sent or took nothing for 2 s before its params were complete' "$T/stall.log")" 1 \
    "stall: the silent connection is dropped and logged"
exec 5>&- 6>&- 7>&-
unlike "$(cat "$T/stall.log")" 'watchdog|killed by signal' "stall: no worker died for it"

# tcp_log_since MARK PATTERN OUT: wait (7 s at most) until the TCP
# instance's log after line MARK matches PATTERN (grep -E), then write
# that part of the log to OUT.
tcp_log_since() {
	local i
	for i in $(seq 70); do
		tail -n +"$(($1 + 1))" "$T/relaycfg-tcp.log" | grep -Eq "$2" && break
		sleep 0.1
	done
	sleep 0.3
	tail -n +"$(($1 + 1))" "$T/relaycfg-tcp.log" >"$3"
}

# A peer that trickles its body, one byte a second: each read comes well
# within io_timeout, but the body as a whole must not take longer, or a
# handful of such peers (through Apache mod_proxy_fcgi, which streams a
# client's body) pins every worker until request_timeout ends it.
mark=$(wc -l <"$T/relaycfg-tcp.log")
printf x >"$T/one"
(
	exec 5<>"/dev/tcp/127.0.0.1/$TCP_PORT" || exit 1
	cat "$T/stall.req" >&5
	for i in $(seq 8); do
		sleep 1
		fcgi_record 5 "$T/one" >&5 || break
	done
) 2>/dev/null &
trickle=$!
tcp_log_since "$mark" 'while its body was read|watchdog' "$T/trickle.log"
is "$(grep -c 'io_timeout: dropped a connection whose peer sent or took nothing for 2 s while its body was read' "$T/trickle.log")" 1 \
    "trickle: a body that takes longer than io_timeout is dropped and logged"
unlike "$(cat "$T/trickle.log")" 'watchdog|killed by signal' \
    "trickle: dropped by io_timeout, not by the watchdog"
wait "$trickle" 2>/dev/null

# A peer that gets its answer and keeps sending: libfcgi's close shuts
# the connection down and reads until the peer closes, giving up only
# after 2 s of silence, so bytes every half second held the worker until
# request_timeout.  The close is bounded by io_timeout too.
mark=$(wc -l <"$T/relaycfg-tcp.log")
(
	exec 5<>"/dev/tcp/127.0.0.1/$TCP_PORT" || exit 1
	cat "$T/live.req" >&5
	for i in $(seq 16); do
		sleep 0.5
		printf xxxxxxxx >&5 || break
	done
) 2>/dev/null &
after=$!
tcp_log_since "$mark" 'after its answer|watchdog' "$T/after.log"
is "$(grep -c 'io_timeout: dropped a connection whose peer kept sending for 2 s after its answer' "$T/after.log")" 1 \
    "after the answer: a peer that keeps sending is dropped and logged"
unlike "$(cat "$T/after.log")" 'watchdog|killed by signal' \
    "after the answer: dropped by io_timeout, not by the watchdog"
wait "$after" 2>/dev/null

# A params record whose first pair announces a name and a value of 1 GiB
# each (20 bytes in all): libfcgi adds the lengths in an int, its malloc
# of the negative sum fails and its Malloc asserts: the worker aborted.
# Three in a row emptied the pool as a crash loop (a fresh worker that
# dies before answering backs off).  Each is dropped with one line now.
mark=$(wc -l <"$T/relaycfg-tcp.log")
{
	fcgi_bytes 1 1 0 1 0 8 0 0 0 1 0 0 0 0 0 0
	fcgi_bytes 1 4 0 1 0 11 0 0 192 0 0 0 192 0 0 0
	printf abc
} >"$T/huge-nv.req"
for i in 1 2 3; do
	timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		cat "$2" >&3; cat <&3 >/dev/null' _ "$TCP_PORT" "$T/huge-nv.req"
done
fcgi_send "$T/live.req" >"$T/live-nv.out"
like "$(tr -d '\0' <"$T/live-nv.out")" 'Status: 200' "huge param lengths: live answered after three"
sleep 0.3
tail -n +"$((mark + 1))" "$T/relaycfg-tcp.log" >"$T/huge-nv.log"
unlike "$(cat "$T/huge-nv.log")" 'killed by signal|crashed' "huge param lengths: no worker died"
is "$(grep -c 'params libfcgi could not hold' "$T/huge-nv.log")" 3 \
    "huge param lengths: each connection dropped with one line"

# Two million params of one byte (6 MB from a raw FastCGI peer; nginx and
# Apache cap a request's header fields far below): libfcgi holds each in
# its own allocation (~130 MB) before relaycfg sees any, and glibc kept
# that memory after the answer, 200 as if nothing were wrong.  Now 431
# with a JSON detail, and the memory handed back.
perl -e 'print "\x01\x00a" x 2000000' >"$T/many.params"
{
	fcgi_bytes 1 1 0 1 0 8 0 0 0 1 0 0 0 0 0 0
	fcgi_nv REQUEST_METHOD GET >"$T/many.head"
	fcgi_nv REQUEST_URI /api/0/relays/live/ >>"$T/many.head"
	cat "$T/many.head" "$T/many.params" >"$T/many.all"
	split -b 65528 "$T/many.all" "$T/many.part."
	for f in "$T"/many.part.*; do fcgi_record 4 "$f"; done
	fcgi_bytes 1 4 0 1 0 0 0 0 1 5 0 1 0 0 0 0
} >"$T/many.req"
fcgi_send "$T/many.req" >"$T/many.out"
like "$(tr -d '\0' <"$T/many.out")" 'Status: 431' "two million params: 431"
like "$(tr -d '\0' <"$T/many.out")" '"detail":"Request header fields too large"' \
    "two million params: a JSON detail"
# largest_worker_rss: the largest VmRSS (kB) among the TCP instance's workers.
largest_worker_rss() {
	local w r max=0
	for w in $(cat "/proc/$RELAYCFG_PID/task/$RELAYCFG_PID/children"); do
		r=$(awk '/^VmRSS/ { print $2 }' "/proc/$w/status" 2>/dev/null)
		[ "${r:-0}" -gt "$max" ] && max=$r
	done
	echo "$max"
}
# The worker hands the memory back after it has closed the connection,
# so the answer may arrive first.  AddressSanitizer's allocator keeps
# freed memory in its quarantine whatever glibc is told: there is no
# glibc heap to hand back in that build, so the claim is not made there.
if ! ldd "$RELAYCFG_BIN" 2>/dev/null | grep -q libasan; then
	for i in $(seq 30); do
		rss=$(largest_worker_rss)
		[ "$rss" -lt 40000 ] && break
		sleep 0.1
	done
	ok $((rss >= 40000)) "two million params: the memory is handed back (largest worker ${rss} kB)"
fi

# A peer that sends BEGIN_REQUEST and then nothing, and one that closes in
# the middle of its params: libfcgi's reader stops at a read error as at
# the params' end and accepts the request, params missing.  Neither is a
# request: no answer, no access line, nothing counted; each is one line.
mark=$(wc -l <"$T/relaycfg-tcp.log")
fcgi_bytes 1 1 0 1 0 8 0 0 0 1 0 0 0 0 0 0 >"$T/begin.req"
exec 5<>"/dev/tcp/127.0.0.1/$TCP_PORT"
cat "$T/begin.req" >&5
# BEGIN_REQUEST (16 bytes), a params header (8) and its first pair whole
# (REQUEST_METHOD=POST, 20): cut inside a pair, libfcgi drops it itself.
head -c 44 "$T/stall.req" >"$T/half.req"
timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
	cat "$2" >&3; exec 3>&-' _ "$TCP_PORT" "$T/half.req"
for i in $(seq 60); do	# io_timeout is 2 s
	[ "$(tail -n +"$((mark + 1))" "$T/relaycfg-tcp.log" |
	    grep -c 'before its params were complete')" -ge 2 ] && break
	sleep 0.1
done
exec 5>&-
fcgi_send "$T/live.req" >"$T/live4.out"
like "$(tr -d '\0' <"$T/live4.out")" 'Status: 200' "begin only: the worker serves the next request"
sleep 0.3
tail -n +"$((mark + 1))" "$T/relaycfg-tcp.log" >"$T/begin.log"
is "$(grep -c 'before its params were complete' "$T/begin.log")" 2 \
    "begin only, half params: each dropped with one line"
like "$(cat "$T/begin.log")" 'closed the connection before its params were complete' \
    "half params: the line says the peer closed"
is "$(grep -c ' access ' "$T/begin.log")" 1 \
    "begin only, half params: no access line (only live's)"
unlike "$(cat "$T/begin.log")" 'access 404' "begin only, half params: no phantom 404"

# No CONTENT_LENGTH (Apache mod_proxy_fcgi with a chunked body): the body
# is read to the end of FastCGI stdin, and beyond max_body_size is 413.
head -c 3000 /dev/zero | tr '\0' 'x' >"$T/3000"
fcgi_head "$T/nolen.req" REQUEST_METHOD=POST REQUEST_URI=/api/0/relays/_test/echo/
fcgi_stdin "$T/nolen.req" "$T/3000"
fcgi_send "$T/nolen.req" >"$T/nolen.out"
like "$(tr -d '\0' <"$T/nolen.out")" 'Status: 200' "no length: 200"
like "$(tr -d '\0' <"$T/nolen.out")" '\{"length":3000\}' "no length: all 3000 bytes read"
head -c 200000 /dev/zero | tr '\0' 'x' >"$T/200k"
fcgi_head "$T/nolen2.req" REQUEST_METHOD=POST REQUEST_URI=/api/0/relays/_test/echo/
fcgi_stdin "$T/nolen2.req" "$T/200k"
fcgi_send "$T/nolen2.req" >"$T/nolen2.out"
like "$(tr -d '\0' <"$T/nolen2.out")" 'Status: 413' "no length: over max_body_size is 413"
like "$(tr -d '\0' <"$T/nolen2.out")" '\{"detail":"Request body too large"\}' "no length: ... with a JSON detail"
fcgi_send "$T/live.req" >"$T/live3.out"
like "$(tr -d '\0' <"$T/live3.out")" 'Status: 200' "no length: the worker serves the next request"
harness_stop_relaycfg

# libfcgi checks FCGI_WEB_SERVER_ADDRS for IPv4 peers only: an IPv6
# socket with it set would let anyone in, so relaycfg refuses to start
# (before binding: this host needs no IPv6).
out=$(FCGI_WEB_SERVER_ADDRS=127.0.0.1 timeout 10 "$RELAYCFG_BIN" \
    -c "$RELAYCFG_CONF" --listen "[::1]:$(free_port)" --workers 1 </dev/null 2>&1)
rc=$?
is "$rc" 1 "FCGI_WEB_SERVER_ADDRS with an IPv6 --listen: refused at start"
like "$out" 'FCGI_WEB_SERVER_ADDRS: libfcgi checks it for IPv4 peers only' "... saying why"
is "$(printf '%s\n' "$out" | grep -c 'IPv4 peers only')" 1 "... once, not as a warning too"
start_out=$out

# --check-config runs start-up's checks: what start-up refuses, it refuses,
# with the same message (the option, or FILE:LINE of the key).
# check_refuses WHAT ARGS...: --check-config and a start both exit 1 and
# print the same line.
check_refuses() {
	local what=$1 check start
	shift
	check=$(timeout 10 "$RELAYCFG_BIN" "$@" --check-config 2>&1)
	is "$?" 1 "$what: --check-config fails"
	start=$(timeout 10 "$RELAYCFG_BIN" "$@" --workers 1 </dev/null 2>&1)
	is "$?" 1 "$what: start-up fails"
	is "$check" "$start" "$what: with the same message"
	CHECK_OUT=$check
}
out=$(FCGI_WEB_SERVER_ADDRS=127.0.0.1 "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" \
    --check-config --listen "[::1]:39001" 2>&1)
is "$?" 1 "FCGI_WEB_SERVER_ADDRS with an IPv6 --listen: --check-config fails"
is "$out" "relaycfg: --listen: [::1]:39001: ${start_out#*--listen: \[::1\]:*: }" \
    "... with start-up's message"
cp "$RELAYCFG_CONF" "$T/garbage.conf"
echo "listen = garbage" >>"$T/garbage.conf"
line=$(wc -l <"$T/garbage.conf")
check_refuses "listen = garbage" -c "$T/garbage.conf"
is "$CHECK_OUT" "relaycfg: $T/garbage.conf:$line: listen: garbage: expected unix:/path, HOST:PORT or [V6ADDR]:PORT" \
    "listen = garbage: FILE:LINE"
check_refuses "--listen ''" -c "$RELAYCFG_CONF" --listen ''
like "$CHECK_OUT" '^relaycfg: --listen: "": expected' "--listen '': names the option"
check_refuses "--listen unix:" -c "$RELAYCFG_CONF" --listen unix:
like "$CHECK_OUT" 'expected a path after unix:' "--listen unix:: no path"
check_refuses "a port that is no number" -c "$RELAYCFG_CONF" --listen 127.0.0.1:http
# A TCP socket inherited (socket activation) without the variable: warned
# about, as --listen on TCP is.
port=$(free_port)
"$top_builddir/tests/listenfds" "127.0.0.1:$port" -- "$RELAYCFG_BIN" \
    -c "$RELAYCFG_CONF" --workers 1 </dev/null >"$T/inherited.log" 2>&1 &
pid=$!
harness_wait_port "$port" "$pid"
sleep 0.2
kill -TERM "$pid"
harness_wait_gone "$pid" 30
like "$(cat "$T/inherited.log")" 'inherited listening socket is TCP and FCGI_WEB_SERVER_ADDRS is not set' \
    "an inherited TCP socket without FCGI_WEB_SERVER_ADDRS: warned"

done_testing
