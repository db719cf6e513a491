#!/bin/bash
# What an operator does to relaycfg from a shell, as relaycfg(8) documents
# it: a stray argument on the command line, --help, SIGUSR1, --max-requests
# in a single process, and a reload whose file asks a master for
# workers = 0.  No database is needed: the workers connect on their first
# request.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/fcgi.sh"
harness_init
harness_write_conf

# --- a stray argument: exit 2, and the message names it --------------------
out=$("$RELAYCFG_BIN" "$RELAYCFG_CONF" 2>&1 </dev/null)
is "$?" 2 "stray argument: exit status 2"
like "$out" "relaycfg: unexpected argument \"$RELAYCFG_CONF\" \\(a config file is given with -c\\)" \
    "stray argument: the message names it"
like "$out" '^usage: relaycfg' "stray argument: usage follows"

# --- --help: on stdout, exit 0, and it lists every option it takes -------
out=$("$RELAYCFG_BIN" --help 2>/dev/null)
is "$?" 0 "--help: exit status 0"
for opt in -c --config --check-config --listen --socket-mode --socket-owner \
    --user --workers --max-requests -V --version -h --help; do
	like "$out" "(^|[ ,])$opt([ ,]|$)" "--help lists $opt"
done

# --- SIGUSR1 stops gracefully, as SIGTERM --------------------------------
harness_start_relaycfg --workers 2
pid=$RELAYCFG_PID
is "$(worker_pids | wc -w)" 2 "USR1: two workers before"
kill -USR1 "$pid"
wait "$pid"
is "$?" 0 "USR1: the master exits 0"
RELAYCFG_PID=""
like "$(cat "$T/relaycfg.log")" 'stopping: 2 workers finish their requests' \
    "USR1: logged as a graceful stop"
ok "$([ ! -e "$RELAYCFG_SOCKET" ]; echo $?)" "a graceful stop removes the socket it made"
rm -f "$RELAYCFG_SOCKET"

"$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$RELAYCFG_SOCKET" \
    --workers 0 </dev/null >>"$T/relaycfg.log" 2>&1 &
pid=$!
harness_wait_socket "$RELAYCFG_SOCKET" "$pid"
kill -USR1 "$pid"
wait "$pid"
is "$?" 0 "USR1: a single process exits 0 too"
ok "$([ ! -e "$RELAYCFG_SOCKET" ]; echo $?)" "... and removes its socket"
rm -f "$RELAYCFG_SOCKET"

# A socket at the path that is not the one it made (the operator moved its
# own away and started another instance there) is left alone.
harness_start_relaycfg --workers 1
first=$RELAYCFG_PID
mv "$RELAYCFG_SOCKET" "$T/first.sock"
harness_start_relaycfg --workers 1
second=$RELAYCFG_PID
kill -TERM "$first"
wait "$first"
ok "$([ -S "$RELAYCFG_SOCKET" ]; echo $?)" "a stop leaves another instance's socket at its path"
kill -TERM "$second"
wait "$second"
RELAYCFG_PID=""
ok "$([ ! -e "$RELAYCFG_SOCKET" ]; echo $?)" "... which that instance removes when it stops"
rm -f "$T/first.sock" "$RELAYCFG_SOCKET"

# --- --max-requests with --workers 0: the process itself exits ------------
# (relaycfg(8): there is no master to start another.)
RELAYCFG_SOCKET=$T/relaycfg.sock
harness_start_nginx
"$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$RELAYCFG_SOCKET" \
    --workers 0 --max-requests 2 </dev/null >>"$T/relaycfg.log" 2>&1 &
pid=$!
harness_wait_socket "$RELAYCFG_SOCKET" "$pid"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "single, --max-requests 2: first request"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "single, --max-requests 2: second request"
harness_wait_gone "$pid" 30
ok $? "single, --max-requests 2: the process exits after them"
wait "$pid"
is "$?" 0 "... with status 0"
grep -q 'served 2 requests (max_requests), exiting: a single process' "$T/relaycfg.log"
ok $? "... and says so at the default log level"
rm -f "$RELAYCFG_SOCKET"

# Its socket goes with it, so it first answers what the web server queued
# there: raw FastCGI over TCP (tests/lib/fcgi.sh), --max-requests 1.  A
# request whose body is held back keeps it busy while two more queue.
harness_start_relaycfg_tcp "$T/relaycfg.log" "$RELAYCFG_TEST_BIN" \
    -c "$RELAYCFG_CONF" --workers 0 --max-requests 1
pid=$TCP_PID
printf 'abc' >"$T/abc"
fcgi_head "$T/held.req" REQUEST_METHOD=POST \
    REQUEST_URI=/api/0/relays/_test/echo/ CONTENT_LENGTH=3
fcgi_stdin "$T/held.body" "$T/abc"
fcgi_head "$T/live.req" REQUEST_METHOD=GET REQUEST_URI=/api/0/relays/live/
fcgi_stdin "$T/live.req" /dev/null
exec 5<>"/dev/tcp/127.0.0.1/$TCP_PORT"
cat "$T/held.req" >&5
sleep 0.3
fcgi_send "$T/live.req" >"$T/queued1.out" &
q1=$!
fcgi_send "$T/live.req" >"$T/queued2.out" &
q2=$!
sleep 0.3
cat "$T/held.body" >&5
held=$(timeout 10 cat <&5 | tr -d '\0')
exec 5>&-
like "$held" '\{"length":3\}' "single, --max-requests 1: the held request is answered"
wait "$q1" "$q2"
like "$(tr -d '\0' <"$T/queued1.out")" 'Status: 200' "... and a request queued meanwhile"
like "$(tr -d '\0' <"$T/queued2.out")" 'Status: 200' "... and another"
harness_wait_gone "$pid" 30
ok $? "... before the process exits"
wait "$pid"

# --- a master reloaded with workers = 0 stays a master ----------------------
cp "$RELAYCFG_CONF" "$T/before.conf"
echo "workers = 2" >>"$RELAYCFG_CONF"
log_from=$(($(wc -c <"$T/relaycfg.log") + 1))
"$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$RELAYCFG_SOCKET" \
    </dev/null >>"$T/relaycfg.log" 2>&1 &
RELAYCFG_PID=$!
harness_wait_socket "$RELAYCFG_SOCKET" "$RELAYCFG_PID"
is "$(worker_pids | wc -w)" 2 "reload to 0: two workers before"
sed -i 's/^workers = 2$/workers = 0/' "$RELAYCFG_CONF"
kill -HUP "$RELAYCFG_PID"
harness_wait_log "configuration reloaded from $RELAYCFG_CONF"
sleep 0.5
is "$(worker_pids | wc -w)" 2 "reload to 0: still two workers"
like "$(tail -c +"$log_from" "$T/relaycfg.log")" \
    "$RELAYCFG_CONF: workers = 0, not applied: a master takes a restart to become a single process; keeping 2 workers" \
    "reload to 0: the log says it takes a restart"
like "$(tail -c +"$log_from" "$T/relaycfg.log")" "configuration reloaded from $RELAYCFG_CONF, 2 workers" \
    "reload to 0: the rest of the file is applied"
harness_stop_relaycfg
cp "$T/before.conf" "$RELAYCFG_CONF"

done_testing
