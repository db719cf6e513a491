#!/bin/bash
# nginx -> unix socket -> relaycfg under spawn-fcgi, with the README's
# spawn-fcgi line (paths and, as root, the run-as user substituted) and
# the shipped nginx vhost: live, the signed v3 fetch with 500 keys, a
# registration, and a graceful stop as a supervisor would do it.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
harness_init
need_binary spawn-fcgi
need_binary nginx

# The README's line, as an operator would paste it into a run script.
readme_line=$(grep -m 1 '^exec spawn-fcgi -n ' "$top_srcdir/README.md")
like "$readme_line" '^exec spawn-fcgi -n -s /run/relaycfg/relaycfg.sock .* -- /usr/sbin/relaycfg -c /etc/relaycfg.conf$' \
    "README has the spawn-fcgi line"

harness_start_mariadb
harness_start_memcached
relay_new S
# As root, spawn-fcgi runs relaycfg as nobody, which reads the config as
# relaycfg's own user would: root and its group, 0640.
[ "$(id -u)" -eq 0 ] && HARNESS_CONF_GROUP=$(id -gn nobody)
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal"
fixture_project "$RELAYCFG_CONF"

# As root, the README's "-u relaycfg -g relaycfg" becomes nobody (no
# relaycfg user here); the program is copied where that user may run it.
APP_USER=$RUN_USER
mkdir -p "$T/bin"
cp "$RELAYCFG_BIN" "$T/bin/relaycfg"
chmod 755 "$T/bin" "$T/bin/relaycfg"
cmd=${readme_line#exec }
cmd=${cmd//\/run\/relaycfg\/relaycfg.sock/$T/relaycfg.sock}
cmd=${cmd//\/usr\/sbin\/relaycfg/$T/bin/relaycfg}
cmd=${cmd//\/etc\/relaycfg.conf/$RELAYCFG_CONF}
if [ "$(id -u)" -eq 0 ]; then
	APP_USER=nobody
	cmd=${cmd//-u relaycfg -g relaycfg/-u nobody -g $(id -gn nobody)}
	id www-data >/dev/null 2>&1 || cmd=${cmd//-U www-data/-U nobody}
fi
diag "running: $cmd"
read -r -a argv <<<"$cmd"
RELAYCFG_SOCKET=$T/relaycfg.sock
"${argv[@]}" </dev/null >>"$T/relaycfg.log" 2>&1 &
RELAYCFG_PID=$!
harness_wait_socket "$RELAYCFG_SOCKET" "$RELAYCFG_PID"
harness_start_nginx

is "$(readlink "/proc/$RELAYCFG_PID/exe")" "$T/bin/relaycfg" "spawn-fcgi -n execs relaycfg in its own place"
is "$(stat -c %U "/proc/$RELAYCFG_PID")" "$APP_USER" "relaycfg runs as $APP_USER"
is "$(stat -c %a "$RELAYCFG_SOCKET")" 660 "the socket has spawn-fcgi's mode 0660"
ok $(( $(worker_pids | wc -w) < 1 )) "the master preforked its workers"

http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "live through nginx"
is "$HTTP_BODY" '{"is_healthy":true}' "live body"

head -c 8000 /dev/urandom | od -An -tx1 -v | tr -d ' \n' | fold -w32 |
    head -n 500 >"$T/keys500"
key=$(head -n 1 "$T/keys500")
ctl_fetch S "$PK" "$key"
is "$HTTP_STATUS" 200 "signed v3 fetch by a static relay"
like "$HTTP_BODY" "\"$PK\":\\{\"disabled\":false,\"slug\":\"backend\"" \
    "the project's config, from MariaDB"
like "$HTTP_BODY" "\"$key\":\\{\"disabled\":true\\}" "unknown key is disabled"
# shellcheck disable=SC2046
ctl_fetch S $(cat "$T/keys500")
is "$HTTP_STATUS" 200 "500-key fetch"
is "$(printf '%s' "$HTTP_BODY" | grep -o '"disabled":true' | wc -l)" 500 \
    "500 configs answered"
printf '{"publicKeys":[%s],"fullConfig":true}' \
    "$(sed 's/.*/"&"/' "$T/keys500" | paste -sd,)" >"$T/body500.json"
signed_http S "/api/0/relays/projectconfigs/?version=3" "$T/body500.json" \
    --compressed
like "$HTTP_HEADERS" '^Content-Encoding: gzip' "the 500-key answer is gzip'ed by nginx"
is "$(printf '%s' "$HTTP_BODY" | grep -o '"disabled":true' | wc -l)" 500 \
    "... and arrives whole"
relay_new R
ctl_register R
is "$HTTP_STATUS" 200 "registration (challenge and response)"
ctl_fetch R "$key"
is "$HTTP_STATUS" 200 "the registered relay fetches"

# The vhost's optional TCP backup, switched on as its comment says: a
# second relaycfg on TCP, used only while the socket fails.
TCP_PORT=$(free_port)
"$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "127.0.0.1:$TCP_PORT" --workers 1 \
    </dev/null >>"$T/relaycfg-tcp.log" 2>&1 &
TCP_PID=$!
HARNESS_PIDS="$HARNESS_PIDS $TCP_PID"
grep -q '^    # server 127.0.0.1:9001 backup;$' "$T/nginx/vhost.conf"
ok $? "the vhost has the commented backup line"
sed -i "s|^    # server 127.0.0.1:9001 backup;|    server 127.0.0.1:$TCP_PORT backup;|" "$T/nginx/vhost.conf"
kill -HUP "$NGINX_PID"
sleep 0.5

# The supervisor stops it: SIGTERM to the pid it started.
pid=$RELAYCFG_PID
kill -TERM "$pid"
wait "$pid"
is "$?" 0 "SIGTERM: relaycfg stops gracefully, exit 0"
RELAYCFG_PID=""

# The socket is dead now: nginx retries on the backup, POSTs included
# (fastcgi_next_upstream ... non_idempotent).
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "socket down: live answered by the TCP backup"
ctl_fetch S "$PK"
is "$HTTP_STATUS" 200 "socket down: a signed POST is retried on the backup"
like "$(grep ' access ' "$T/relaycfg-tcp.log" | tail -n 1)" 'access 200 POST /api/0/relays/projectconfigs/' \
    "... and served there"
kill -TERM "$TCP_PID"
wait "$TCP_PID"

done_testing
