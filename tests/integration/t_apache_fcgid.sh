#!/bin/bash
# Shared hosting: Apache mod_fcgid starts relaycfg itself, through the
# shipped apache/fcgid/ recipe (htaccess and fcgid.conf verbatim; in the
# relaycfg.fcgi wrapper only the RELAYCFG= and CONFIG= lines are changed)
# under a document root in a temp dir.  relaycfg serves from one process
# per mod_fcgid process, reads its config from the file the wrapper names,
# routes on REQUEST_URI, answers a signed 500-key fetch within the
# documented FcgidMaxRequestLen, registers a relay, and exits on mod_fcgid's
# SIGTERM well before the SIGKILL.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
harness_init

APACHE=$(command -v apache2 || command -v httpd) || skip_all "apache2 not found"
APACHE_MODULES=""
for d in /usr/lib/apache2/modules /usr/lib64/httpd/modules /usr/lib/httpd/modules; do
	[ -f "$d/mod_fcgid.so" ] && APACHE_MODULES=$d && break
done
[ -n "$APACHE_MODULES" ] || skip_all "mod_fcgid not found"
# As root, Apache and the processes mod_fcgid starts run as www-data: that
# user must reach MariaDB's socket, the config and the program.
APACHE_USER=$RUN_USER
if [ "$(id -u)" -eq 0 ]; then
	APACHE_USER=www-data
	id "$APACHE_USER" >/dev/null 2>&1 || APACHE_USER=nobody
fi
APACHE_GROUP=$(id -gn "$APACHE_USER")

harness_start_mariadb
harness_start_memcached
relay_new S
harness_write_conf "static_relay = $(relay_id S) $(relay_pk S) internal"
fixture_project "$RELAYCFG_CONF"
# The user's own config, mode 0600, as the wrapper's comment asks.
chown "$APACHE_USER" "$RELAYCFG_CONF"
chmod 600 "$RELAYCFG_CONF"

# The account: a document root with the program (shared hosts often have
# no system-wide relaycfg; the build tree may not be reachable either).
DOCROOT=$T/htdocs
mkdir -p "$DOCROOT" "$T/bin" "$T/fcgid"
cp "$RELAYCFG_BIN" "$T/bin/relaycfg"
cp "$top_srcdir/apache/fcgid/htaccess" "$DOCROOT/.htaccess"
sed -e "s|^RELAYCFG=.*|RELAYCFG=$T/bin/relaycfg|" \
    -e "s|^CONFIG=.*|CONFIG=$RELAYCFG_CONF|" \
    "$top_builddir/apache/fcgid/relaycfg.fcgi" >"$DOCROOT/relaycfg.fcgi"
chmod 755 "$DOCROOT" "$DOCROOT/relaycfg.fcgi" "$T/bin" "$T/bin/relaycfg"
chown -R "$APACHE_USER" "$DOCROOT" "$T/fcgid"
is "$(grep -c '^RELAYCFG=\|^CONFIG=' "$DOCROOT/relaycfg.fcgi")" 2 "the wrapper's two lines were found"

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
	(exit "$status")
	harness_cleanup
}
trap cleanup EXIT

apache_start() {
	local attempt i dir=$T/apache
	mkdir -p "$dir"
	for attempt in 1 2 3 4 5; do
		APACHE_PORT=$(free_port)
		{
			echo "ServerRoot $dir"
			echo "Listen 127.0.0.1:$APACHE_PORT"
			for m in mpm_event authz_core mime rewrite fcgid; do
				echo "LoadModule ${m}_module $APACHE_MODULES/mod_$m.so"
			done
			if [ "$(id -u)" -eq 0 ]; then
				echo "User $APACHE_USER"
				echo "Group $APACHE_GROUP"
			fi
			echo "ServerName localhost"
			echo "TypesConfig /dev/null"
			echo "PidFile $dir/httpd.pid"
			echo "ErrorLog $T/apache.log"
			echo "LogLevel info"
			echo "DefaultRuntimeDir $dir"
			echo "Mutex file:$dir"
			echo "FcgidIPCDir $T/fcgid"
			echo "FcgidProcessTableFile $T/fcgid/shm"
			echo "<VirtualHost 127.0.0.1:$APACHE_PORT>"
			echo "    DocumentRoot $DOCROOT"
			echo "    <Directory $DOCROOT>"
			echo "        AllowOverride FileInfo Options"
			echo "        Require all granted"
			echo "    </Directory>"
			echo "    Include $top_srcdir/apache/fcgid/fcgid.conf"
			echo "</VirtualHost>"
		} >"$dir/httpd.conf"
		"$APACHE" -t -f "$dir/httpd.conf" >"$dir/configtest" 2>&1 ||
		    { diag "apache2 -t failed:"; diag "$(cat "$dir/configtest")"; exit 1; }
		"$APACHE" -f "$dir/httpd.conf" -DFOREGROUND </dev/null >>"$T/apache.log" 2>&1 &
		APACHE_PID=$!
		if harness_wait_port "$APACHE_PORT" "$APACHE_PID"; then
			BASE_URL=http://127.0.0.1:$APACHE_PORT
			return 0
		fi
	done
	diag "apache2 did not start"
	exit 1
}

# fcgid_pids: the relaycfg processes mod_fcgid started from our docroot.
fcgid_pids() {
	local p
	for p in $(pgrep -x relaycfg); do
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$T/bin/relaycfg" ] && echo "$p"
	done
}

apache_start
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "live through the .htaccess rewrite"
is "$HTTP_BODY" '{"is_healthy":true}' "live body"
like "$HTTP_HEADERS" '^Server: .*mod_fcgid' "served by mod_fcgid"
http GET '/api/0/relays/nope/?x=1'
is "$HTTP_STATUS" 404 "relaycfg routes on REQUEST_URI: unknown path is its 404"
is "$HTTP_BODY" '{"detail":"Not found"}' "... as JSON"
http POST /api/0/relays/live/ --data '{}'
is "$HTTP_STATUS" 405 "405 from relaycfg"
# A request target in absolute form (RFC 9112 3.2.2) reaches relaycfg as
# sent, in REQUEST_URI; it routes on the path, as behind nginx.
http GET /api/0/relays/live/ --request-target "http://127.0.0.1:$APACHE_PORT/api/0/relays/live/?x=1"
is "$HTTP_STATUS" 200 "live asked in absolute form"
is "$HTTP_BODY" '{"is_healthy":true}' "... answered by the endpoint, not a 404"

pids=$(fcgid_pids)
ok $(( $(echo "$pids" | wc -w) < 1 )) "mod_fcgid started relaycfg"
p=$(echo "$pids" | head -n 1)
is "$(stat -c %U "/proc/$p")" "$APACHE_USER" "it runs as the Apache user ($APACHE_USER)"
like "$(tr '\0' ' ' <"/proc/$p/cmdline")" "--workers 0 -c $RELAYCFG_CONF" \
    "the wrapper passes --workers 0 and -c CONFIG"
is "$(cat "/proc/$p/task/$p/children" 2>/dev/null | wc -w)" 0 "one process, no workers"

# --- signed requests -----------------------------------------------------
head -c 8000 /dev/urandom | od -An -tx1 -v | tr -d ' \n' | fold -w32 |
    head -n 500 >"$T/keys500"
key=$(head -n 1 "$T/keys500")
ctl_fetch S "$PK" "$key"
is "$HTTP_STATUS" 200 "signed v3 fetch by a static relay"
like "$HTTP_BODY" "\"$PK\":\\{\"disabled\":false,\"slug\":\"backend\"" \
    "the project's config, from MariaDB"
like "$HTTP_BODY" "\"$key\":\\{\"disabled\":true\\}" "unknown key is disabled"

# 500 keys: about 20 KB of request, within FcgidMaxRequestLen.
printf '{"publicKeys":[%s],"revisions":[%s],"fullConfig":true,"noCache":false}' \
    "$(sed 's/.*/"&"/' "$T/keys500" | paste -sd,)" \
    "$(sed 's/.*/null/' "$T/keys500" | paste -sd,)" >"$T/body500.json"
ctl_fetch S --body-file "$T/body500.json"
is "$HTTP_STATUS" 200 "500-key fetch ($(wc -c <"$T/body500.json") bytes)"
is "$(printf '%s' "$HTTP_BODY" | grep -o '"disabled":true' | wc -l)" 500 \
    "500 configs answered"

# Above relaycfg's max_body_size but within FcgidMaxRequestLen: the
# JSON 413 of relaycfg, not mod_fcgid's bare 500.
head -c 1500000 /dev/zero | tr '\0' 'x' >"$T/big"
http POST '/api/0/relays/projectconfigs/?version=3' --data-binary @"$T/big" \
    -H 'Content-Type: application/json'
is "$HTTP_STATUS" 413 "1.5 MB body: 413"
is "$HTTP_BODY" '{"detail":"Request body too large"}' "... relaycfg's JSON"

relay_new R
ctl_register R
is "$HTTP_STATUS" 200 "registration (challenge and response)"
ctl_fetch R "$key"
is "$HTTP_STATUS" 200 "the registered relay fetches"

# --- stopping: SIGTERM, then SIGKILL at the next FcgidErrorScanInterval --
pids=$(fcgid_pids)
apache_stop
for p in $pids; do
	harness_wait_gone "$p" 20
done
is "$(fcgid_pids | wc -w)" 0 "relaycfg is gone within 2 s of Apache stopping"
like "$(grep 'relaycfg.fcgi' "$T/apache.log" | grep 'exit(')" 'terminated by calling exit\(\), return code: 0' \
    "it exited by itself on SIGTERM (exit 0), before mod_fcgid's SIGKILL"
is "$(grep -c 'relaycfg.fcgi.*get stop signal 9\|relaycfg.fcgi.*terminated by signal' "$T/apache.log")" 0 \
    "no relaycfg process was killed"

done_testing
