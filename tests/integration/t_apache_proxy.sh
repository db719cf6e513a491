#!/bin/bash
# Apache mod_proxy_fcgi in front of relaycfg, with the shipped
# apache/relaycfg-proxy-fcgi.conf verbatim except for the socket path, the
# TCP port and the VirtualHost address: the unix socket (default), TCP
# (-D RELAYCFG_TCP) and the balancer with a TCP hot standby
# (-D RELAYCFG_BALANCER), and the pool of two TCP hosts (-D RELAYCFG_POOL,
# one stopped under it).  Through each: live, the signed v3 fetch
# (500 keys, gzip) and a registration; chunked bodies (no CONTENT_LENGTH).
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
harness_init

APACHE=$(command -v apache2 || command -v httpd) || skip_all "apache2 not found"
APACHE_MODULES=""
for d in /usr/lib/apache2/modules /usr/lib64/httpd/modules /usr/lib/httpd/modules; do
	[ -f "$d/mod_proxy_fcgi.so" ] && APACHE_MODULES=$d && break
done
[ -n "$APACHE_MODULES" ] || skip_all "mod_proxy_fcgi not found"
# Apache refuses to run its children as root: they become www-data, which
# must reach relaycfg's socket (group www-data, mode 0660, as the sample
# says); as another user everything runs as that user.
APACHE_USER=""
OWNER_ARGS=""
if [ "$(id -u)" -eq 0 ]; then
	APACHE_USER=www-data
	id "$APACHE_USER" >/dev/null 2>&1 || APACHE_USER=nobody
	OWNER_ARGS="--socket-owner root:$(id -gn "$APACHE_USER")"
fi

# The modules: those the README's a2enmod line enables, plus what Debian
# enables by default (an MPM, authz_core and authz_host).
a2enmod_line=$(grep -m 1 '^a2enmod proxy' "$top_srcdir/README.md")
like "$a2enmod_line" '^a2enmod proxy proxy_fcgi' "README has the a2enmod line"
APACHE_MODS="mpm_event authz_core authz_host ${a2enmod_line#a2enmod }"

harness_start_mariadb
harness_start_memcached
relay_new S	# static internal relay, no database row
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal"
fixture_project "$RELAYCFG_CONF"
# shellcheck disable=SC2086
harness_start_relaycfg $OWNER_ARGS

# An instance on TCP, its log $T/LOG.log (which instance served a request):
# sets TCP_PORT and TCP_PID.  The first is the -D RELAYCFG_TCP backend and
# the balancer's hot standby; with a second, the two are -D RELAYCFG_POOL.
start_tcp_relaycfg() {
	harness_start_relaycfg_tcp "$T/$1.log" "$RELAYCFG_BIN" \
	    -c "$RELAYCFG_CONF" --workers 2
}
start_tcp_relaycfg relaycfg-tcp

apache_stop() {
	if [ -n "${APACHE_PID:-}" ]; then
		kill -TERM "$APACHE_PID" 2>/dev/null
		harness_wait_gone "$APACHE_PID" 100 || kill -9 "$APACHE_PID" 2>/dev/null
		APACHE_PID=""
	fi
}
cleanup() {
	local status=$?
	apache_stop
	if [ -n "${TCP_PID:-}" ]; then
		kill -TERM "$TCP_PID" 2>/dev/null
		harness_wait_gone "$TCP_PID" 100 || kill -9 "$TCP_PID" 2>/dev/null
	fi
	(exit "$status")
	harness_cleanup
}
trap cleanup EXIT

# apache_start NAME [-D DEFINE]: the shipped vhost on a free loopback port.
apache_start() {
	local name=$1 dir attempt i
	shift
	dir=$T/apache-$name
	mkdir -p "$dir"
	for attempt in 1 2 3 4 5; do
		APACHE_PORT=$(free_port)
		sed -e "s|/run/relaycfg/relaycfg.sock|$RELAYCFG_SOCKET|g" \
		    -e "s|127\.0\.0\.1:9001|127.0.0.1:$TCP_PORT|g" \
		    -e "s|10\.0\.0\.31:9001|127.0.0.1:$TCP_PORT|g" \
		    -e "s|10\.0\.0\.32:9001|127.0.0.1:${POOL2_PORT:-9}|g" \
		    -e "s|<VirtualHost \*:80>|<VirtualHost 127.0.0.1:$APACHE_PORT>|" \
		    "$top_srcdir/apache/relaycfg-proxy-fcgi.conf" >"$dir/vhost.conf"
		{
			echo "ServerRoot $dir"
			echo "Listen 127.0.0.1:$APACHE_PORT"
			for m in $APACHE_MODS; do
				echo "LoadModule ${m}_module $APACHE_MODULES/mod_$m.so"
			done
			if [ -n "$APACHE_USER" ]; then
				echo "User $APACHE_USER"
				echo "Group $(id -gn "$APACHE_USER")"
			fi
			echo "ServerName localhost"
			echo "PidFile $dir/httpd.pid"
			echo "ErrorLog $T/apache-$name.log"
			echo "LogLevel warn"
			echo "DefaultRuntimeDir $dir"
			echo "Mutex file:$dir"
			echo "Include $dir/vhost.conf"
		} >"$dir/httpd.conf"
		"$APACHE" -t -f "$dir/httpd.conf" "$@" >"$dir/configtest" 2>&1 ||
		    { diag "apache2 -t failed:"; diag "$(cat "$dir/configtest")"; exit 1; }
		"$APACHE" -f "$dir/httpd.conf" -DFOREGROUND "$@" \
		    </dev/null >>"$T/apache-$name.log" 2>&1 &
		APACHE_PID=$!
		if harness_wait_port "$APACHE_PORT" "$APACHE_PID"; then
			BASE_URL=http://127.0.0.1:$APACHE_PORT
			return 0
		fi
	done
	diag "apache2 did not start"
	exit 1
}

# served_by LOG: access lines in an instance's log so far.
served_by() {
	grep -c ' access ' "$1" 2>/dev/null
}

# 500 random public keys (unknown ones answer {"disabled":true}).
head -c 8000 /dev/urandom | od -An -tx1 -v | tr -d ' \n' | fold -w32 |
    head -n 500 >"$T/keys500"

# signed_checks LABEL: the signed v3 fetch, 500 keys with gzip, and a
# registration, through whatever BASE_URL points at.
signed_checks() {
	local label=$1 key n
	key=$(head -n 1 "$T/keys500")
	ctl_fetch S "$PK" "$key"
	is "$HTTP_STATUS" 200 "$label: signed v3 fetch by a static relay"
	like "$HTTP_BODY" "\"$PK\":\\{\"disabled\":false,\"slug\":\"backend\"" \
	    "$label: the project's config, from MariaDB"
	like "$HTTP_BODY" "\"$key\":\\{\"disabled\":true\\}" "$label: unknown key is disabled"

	# shellcheck disable=SC2046
	ctl_fetch S $(cat "$T/keys500")
	is "$HTTP_STATUS" 200 "$label: 500-key fetch"
	n=$(printf '%s' "$HTTP_BODY" | grep -o '"disabled":true' | wc -l)
	is "$n" 500 "$label: 500 configs answered"

	relay_new "R$label"
	ctl_register "R$label"
	is "$HTTP_STATUS" 200 "$label: registration (challenge and response)"
	ctl_fetch "R$label" "$key"
	is "$HTTP_STATUS" 200 "$label: the registered relay fetches (127.0.0.1 is internal)"

	# The 500-key answer comes back gzip'ed when asked for, as Relay does.
	printf '{"publicKeys":[%s],"fullConfig":true}' \
	    "$(sed 's/.*/"&"/' "$T/keys500" | paste -sd,)" >"$T/body500.json"
	signed_http S "/api/0/relays/projectconfigs/?version=3" "$T/body500.json" \
	    --compressed
	like "$HTTP_HEADERS" '^Content-Encoding: gzip' "$label: large answers are gzip'ed"
	is "$(printf '%s' "$HTTP_BODY" | grep -o '"disabled":true' | wc -l)" 500 \
	    "$label: ... and arrive whole"
}

# --- 1. the unix socket (the sample's default) -------------------------
apache_start unix
before_unix=$(served_by "$T/relaycfg.log")
before_tcp=$(served_by "$T/relaycfg-tcp.log")
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "unix: live through Apache"
is "$HTTP_BODY" '{"is_healthy":true}' "unix: live body"
http POST /api/0/relays/live/ --data '{}'
is "$HTTP_STATUS" 405 "unix: relaycfg's own 405 comes through"
like "$HTTP_HEADERS" '^Allow: GET, HEAD$' "unix: with its Allow header"
# The vhost's /metrics location (loopback is allowed by both Apache and
# relaycfg).
http GET /metrics
is "$HTTP_STATUS" 200 "unix: /metrics through Apache"
like "$HTTP_HEADERS" '^Content-Type: text/plain; version=0.0.4' "unix: in Prometheus' text format"
like "$HTTP_BODY" '^# TYPE relaycfg_requests_total counter$' "unix: with the request counters"
signed_checks unix
# A request target in absolute form (RFC 9112 3.2.2): Apache passes it in
# REQUEST_URI as sent, nginx only its path; relaycfg routes on the path.
http GET /api/0/relays/live/ --request-target "http://127.0.0.1:$APACHE_PORT/api/0/relays/live/"
is "$HTTP_STATUS" 200 "unix: live asked in absolute form"
is "$HTTP_BODY" '{"is_healthy":true}' "... answered by the endpoint, not a 404"
printf '{"publicKeys":["%s"]}' "$PK" >"$T/pk1.json"
signed_http S /api/0/relays/projectconfigs/ "$T/pk1.json" \
    --request-target "HTTP://127.0.0.1:$APACHE_PORT/api/0/relays/projectconfigs/?version=3"
is "$HTTP_STATUS" 200 "unix: signed v3 fetch in absolute form"
like "$HTTP_BODY" "\"$PK\":\\{\"disabled\":false" "... with the version from its query"
ok $(( $(served_by "$T/relaycfg.log") <= before_unix )) "unix: served by the socket instance"
is "$(served_by "$T/relaycfg-tcp.log")" "$before_tcp" "unix: nothing went to TCP"

# Body limits: over relaycfg's max_body_size (1 MiB) is relaycfg's JSON
# 413, before the body is read; over the vhost's LimitRequestBody (2 MiB)
# Apache may answer before relaycfg does, but it is a 413 either way.
head -c 1500000 /dev/zero | tr '\0' 'x' >"$T/big"
http POST '/api/0/relays/projectconfigs/?version=3' --data-binary @"$T/big" \
    -H 'Content-Type: application/json'
is "$HTTP_STATUS" 413 "1.5 MB body: 413"
is "$HTTP_BODY" '{"detail":"Request body too large"}' "... from relaycfg, as JSON"
head -c 2200000 /dev/zero | tr '\0' 'x' >"$T/huge"
http POST '/api/0/relays/projectconfigs/?version=3' --data-binary @"$T/huge"
is "$HTTP_STATUS" 413 "2.2 MB body: 413"

# A chunked body larger than Apache's read-ahead reaches relaycfg without
# CONTENT_LENGTH: it is read to the end of the FastCGI stream, so the
# signature verifies; beyond max_body_size it is relaycfg's JSON 413.
signed_http S "/api/0/relays/projectconfigs/?version=3" "$T/body500.json" \
    -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 200 "chunked 20 KB signed body: 200"
is "$(printf '%s' "$HTTP_BODY" | grep -o '"disabled":true' | wc -l)" 500 \
    "chunked: 500 configs answered"
http POST '/api/0/relays/projectconfigs/?version=3' --data-binary @"$T/huge" \
    -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked'
is "$HTTP_STATUS" 413 "chunked 2.2 MB body: 413"
is "$HTTP_BODY" '{"detail":"Request body too large"}' "... from relaycfg, as JSON"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "chunked: the next request is served"
apache_stop

# --- 2. TCP ------------------------------------------------------------
apache_start tcp -D RELAYCFG_TCP
before_unix=$(served_by "$T/relaycfg.log")
before_tcp=$(served_by "$T/relaycfg-tcp.log")
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "tcp: live through Apache"
http GET /metrics
is "$HTTP_STATUS" 200 "tcp: /metrics through Apache"
like "$HTTP_BODY" '^# TYPE relaycfg_requests_total counter$' "tcp: with the request counters"
signed_checks tcp
ok $(( $(served_by "$T/relaycfg-tcp.log") <= before_tcp )) "tcp: served by the TCP instance"
is "$(served_by "$T/relaycfg.log")" "$before_unix" "tcp: nothing went to the socket"
apache_stop

# --- 3. the balancer: socket first, TCP as hot standby ------------------
apache_start balancer -D RELAYCFG_BALANCER
before_tcp=$(served_by "$T/relaycfg-tcp.log")
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "balancer: live"
signed_checks balancer
is "$(served_by "$T/relaycfg-tcp.log")" "$before_tcp" "balancer: the standby idles while the socket works"
harness_stop_relaycfg
fails=0
for i in 1 2 3 4 5; do
	http GET /api/0/relays/live/
	[ "$HTTP_STATUS" = 200 ] || fails=$((fails + 1))
done
is "$fails" 0 "balancer: the socket instance stopped, every request still answered"
ok $(( $(served_by "$T/relaycfg-tcp.log") < before_tcp + 5 )) "balancer: ... by the hot standby"
apache_stop

# --- 4. the pool: two relaycfg hosts over TCP (here both on loopback) ----
first_port=$TCP_PORT first_pid=$TCP_PID
start_tcp_relaycfg relaycfg-tcp2
POOL2_PORT=$TCP_PORT POOL2_PID=$TCP_PID
HARNESS_PIDS="$HARNESS_PIDS $POOL2_PID"
TCP_PORT=$first_port TCP_PID=$first_pid
apache_start pool -D RELAYCFG_POOL
before_1=$(served_by "$T/relaycfg-tcp.log")
before_2=$(served_by "$T/relaycfg-tcp2.log")
signed_checks pool
for i in 1 2 3 4 5 6 7 8 9 10; do
	http GET /api/0/relays/live/
done
ok $(( $(served_by "$T/relaycfg-tcp.log") <= before_1 ||
    $(served_by "$T/relaycfg-tcp2.log") <= before_2 )) \
    "pool: both members serve ($(( $(served_by "$T/relaycfg-tcp.log") - before_1 )) and $(( $(served_by "$T/relaycfg-tcp2.log") - before_2 )) requests)"
kill -TERM "$POOL2_PID"
harness_wait_gone "$POOL2_PID" 100
fails=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	ctl_fetch S "$PK"
	[ "$HTTP_STATUS" = 200 ] || fails=$((fails + 1))
done
is "$fails" 0 "pool: a member stopped, every signed fetch still answered"
apache_stop

done_testing
