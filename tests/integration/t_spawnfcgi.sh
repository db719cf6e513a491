#!/bin/bash
# relaycfg started by spawn-fcgi (socket inherited on fd 0) behaves as with
# its own --listen: prefork under -n, and one process with --workers 0.
. "$top_srcdir/tests/lib/harness.sh"
harness_init
need_binary spawn-fcgi
harness_start_mariadb
harness_start_memcached
harness_write_conf
RELAYCFG_SOCKET=$T/relaycfg.sock
harness_start_nginx

# spawn_relaycfg ARGS...: spawn-fcgi -n (no fork, as under a supervisor).
spawn_relaycfg() {
	local owner=""
	# spawn-fcgi refuses to "set uid to 0"; as root the socket is root's anyway.
	[ "$(id -u)" -ne 0 ] && owner="-U $RUN_USER"
	spawn-fcgi -n -s "$RELAYCFG_SOCKET" -M 0660 $owner -- \
	    "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" "$@" 2>>"$T/relaycfg.log" &
	RELAYCFG_PID=$!
	harness_wait_socket "$RELAYCFG_SOCKET" "$RELAYCFG_PID"
}

spawn_relaycfg --workers 2
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "live through nginx under spawn-fcgi"
is "$HTTP_BODY" '{"is_healthy":true}' "live body under spawn-fcgi"
is "$(worker_pids | wc -w)" 2 "the inherited socket is served by two workers"
is "$(stat -c %a "$RELAYCFG_SOCKET")" 660 "spawn-fcgi's socket mode is kept"
http GET /api/0/relays/nope/
is "$HTTP_STATUS" 404 "404 under spawn-fcgi"

# Respawn works on an inherited socket too.
victim=$(worker_pids | cut -d' ' -f1)
kill -9 "$victim"
sleep 0.3
is "$(worker_pids | wc -w)" 2 "a killed worker is respawned under spawn-fcgi"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "still serving after the respawn"

harness_stop_relaycfg
rm -f "$RELAYCFG_SOCKET"

# mod_fcgid / shared hosting style: one process, no master.
spawn_relaycfg --workers 0
fails=0
for i in $(seq 20); do
	http GET /api/0/relays/live/
	[ "$HTTP_STATUS" = 200 ] || fails=$((fails + 1))
done
is "$fails" 0 "single-process mode under spawn-fcgi answers every request"
is "$(worker_pids | wc -w)" 0 "no children in single-process mode"
pid=$RELAYCFG_PID
kill -TERM "$pid"
harness_wait_gone "$pid" 20
ok $? "single process stops on SIGTERM"
RELAYCFG_PID=""

# Without any socket the server refuses to start, and says why.
out=$("$RELAYCFG_BIN" -c "$RELAYCFG_CONF" </dev/null 2>&1)
status=$?
ok $((status == 0)) "no socket: refuses to start"
like "$out" 'no listening socket' "no socket: the reason is given"

done_testing
