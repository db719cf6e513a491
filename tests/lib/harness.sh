# harness.sh - start real servers for integration tests (sourced).
#
# Everything lives in one temp dir ($T) and is stopped by an EXIT trap:
#   harness_init                   temp dir, traps, binaries
#   harness_start_mariadb          mariadbd on $T/mysql.sock, database "relaycfg"
#   harness_start_memcached        memcached on 127.0.0.1:$MC_PORT
#   harness_write_conf [LINES...]  $T/relaycfg.conf from the running servers
#   harness_start_relaycfg [ARGS]  relaycfg (or $RELAYCFG_BIN) on $T/relaycfg.sock
#   harness_start_nginx            nginx/relaycfg.conf, verbatim but for the
#                                  socket path and port, on 127.0.0.1:$NGINX_PORT
#   http METHOD PATH [CURL ARGS]   sets $HTTP_STATUS, $HTTP_BODY, $HTTP_HEADERS
#   sql "STATEMENT"                runs SQL against the test database
# A server binary that is truly absent makes the test skip_all; anything
# else that fails to start is a failure.
# shellcheck shell=bash

: "${top_srcdir:?top_srcdir must be set (make check sets it)}"
: "${top_builddir:?top_builddir must be set (make check sets it)}"

. "$top_srcdir/tests/lib/tap.sh"

RELAYCFG_BIN=${RELAYCFG_BIN:-$top_builddir/src/relaycfg}
RELAYCFG_TEST_BIN=$top_builddir/tests/relaycfg-test
RELAYCFGCTL=$top_builddir/ctl/relaycfgctl
PATH=$PATH:/usr/sbin:/sbin

harness_init() {
	T=$(mktemp -d /tmp/relaycfg-test.XXXXXX) || exit 1
	chmod 755 "$T"
	RUN_USER=$(id -un)
	HARNESS_PIDS=""
	trap harness_cleanup EXIT
	trap 'exit 1' INT TERM
}

harness_cleanup() {
	local status=$?
	harness_stop_relaycfg
	# tests/lib/replication.sh's servers, when the test sourced it.
	! declare -F repl_cleanup >/dev/null || repl_cleanup
	# tests/lib/postgres.sh's server, when the test sourced it.
	! declare -F pg_cleanup >/dev/null || pg_cleanup
	if [ -n "${NGINX_PID:-}" ]; then
		kill -QUIT "$NGINX_PID" 2>/dev/null
		harness_wait_gone "$NGINX_PID" 50
	fi
	if [ -n "${MC_PID:-}" ]; then
		kill "$MC_PID" 2>/dev/null
		harness_wait_gone "$MC_PID" 50
	fi
	if [ -n "${MARIADB_PID:-}" ]; then
		kill "$MARIADB_PID" 2>/dev/null
		harness_wait_gone "$MARIADB_PID" 200
	fi
	for p in $HARNESS_PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	harness_check_mariadb_crash || status=1
	if [ "$status" -ne 0 ] || [ -n "${KEEP_TEMP:-}" ]; then
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "# ---- tail of $f"
			tail -n 25 "$f" | sed 's/^/# /'
		done
	fi
	[ -n "${KEEP_TEMP:-}" ] || rm -rf "$T"
	exit "$status"
}

# harness_check_mariadb_crash: 1, with the server's backtrace as TAP
# comments, when a mariadbd of this test died of a signal it caught
# (SIGSEGV, SIGABRT...: "got signal" in its error log).  The tests kill
# MariaDB only with SIGKILL and SIGTERM, which never log that, so such a
# line is a server crash, most likely on one of our statements: it fails
# the test even when relaycfg rode it out.
harness_check_mariadb_crash() {
	local f crashed=0
	for f in "$T"/*.log; do
		[ -f "$f" ] && grep -q 'mariadbd got signal' "$f" || continue
		crashed=1
		echo "# mariadbd crashed ($f):"
		sed -n '/mariadbd got signal/,/^Query /p' "$f" | cut -c1-400 |
		    sed 's/^/#   /'
	done
	[ "$crashed" -eq 0 ]
}

# harness_wait_gone PID TENTHS: wait for a process to exit.
harness_wait_gone() {
	local i=0
	while kill -0 "$1" 2>/dev/null && [ "$i" -lt "$2" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now,
# below Linux's ephemeral range (32768-60999) so that no outgoing
# connection can be holding it.  Callers still retry when bind() loses a race.
free_port() {
	local p
	while :; do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % 22000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
}

# harness_port_owner PORT PID: 0 when the socket listening on
# 127.0.0.1:PORT is PID's (ss lists every process holding it).
harness_port_owner() {
	ss -Hltnp "sport = :$1" 2>/dev/null | grep -q "pid=$2,"
}

# harness_wait_port PORT PID: wait (5 s at most) until 127.0.0.1:PORT
# accepts and the listening socket is PID's.  Returns 0 when it is, 1 when
# PID died or the time ran out.  Accepting alone is not enough: with
# tests in parallel, another test's server may hold a port free_port
# picked a moment before, and a server that lost the race keeps trying to
# bind for a while (nginx for 2.5 s) while it still lives; this test
# would then talk to the other test's server.
harness_wait_port() {
	local i=0
	until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null &&
	    harness_port_owner "$1" "$2"; do
		i=$((i + 1))
		kill -0 "$2" 2>/dev/null && [ "$i" -lt 100 ] || return 1
		sleep 0.05
	done
	kill -0 "$2" 2>/dev/null
}

# harness_start_relaycfg_tcp LOG COMMAND...: start COMMAND (relaycfg with
# its options, or env ... relaycfg ...) in the background with --listen on a
# free loopback port appended, output appended to LOG; sets TCP_PORT and
# TCP_PID once the port is the new process's.  Another test may take the
# port between free_port and the bind: five ports are tried, each loser
# stopped; when none is won the test ends (exit 1).
harness_start_relaycfg_tcp() {
	local log=$1 attempt
	shift
	for attempt in 1 2 3 4 5; do
		TCP_PORT=$(free_port)
		"$@" --listen "127.0.0.1:$TCP_PORT" </dev/null >>"$log" 2>&1 &
		TCP_PID=$!
		harness_wait_port "$TCP_PORT" "$TCP_PID" && return 0
		kill "$TCP_PID" 2>/dev/null
		wait "$TCP_PID" 2>/dev/null
	done
	TCP_PID=
	diag "relaycfg did not start on TCP after $attempt ports (log: $log)"
	exit 1
}

need_binary() {
	command -v "$1" >/dev/null 2>&1 || skip_all "$1 not found"
}

harness_start_mariadb() {
	need_binary mariadbd
	need_binary mariadb-install-db
	MARIADB_DIR=$T/mariadb
	MARIADB_SOCKET=$T/mysql.sock
	# The bootstrap occasionally fails under heavy parallel load
	# ("Unknown table 'mysql.tmp_user_sys'"); a fresh datadir then works.
	local attempt
	for attempt in 1 2 3; do
		rm -rf "$MARIADB_DIR"
		mkdir -p "$MARIADB_DIR"
		mariadb-install-db --no-defaults --datadir="$MARIADB_DIR" \
		    --user="$RUN_USER" --auth-root-authentication-method=normal \
		    --skip-test-db --skip-name-resolve >"$T/mariadb-install.log" 2>&1 &&
		    break
		diag "mariadb-install-db failed (attempt $attempt)"
		[ "$attempt" -lt 3 ] || { sed 's/^/# /' "$T/mariadb-install.log"; exit 1; }
	done
	harness_run_mariadbd
	mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot -e \
	    "CREATE DATABASE relaycfg CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" ||
	    { diag "cannot create the test database"; exit 1; }
}

# harness_run_mariadbd: (re)start mariadbd on the existing data dir.
harness_run_mariadbd() {
	mariadbd --no-defaults --datadir="$MARIADB_DIR" --socket="$MARIADB_SOCKET" \
	    --pid-file="$T/mariadb.pid" --skip-networking --user="$RUN_USER" \
	    --innodb-buffer-pool-size=32M --character-set-server=utf8mb4 \
	    --collation-server=utf8mb4_unicode_ci --skip-log-bin \
	    --log-error="$T/mariadb.log" </dev/null >>"$T/mariadb.log" 2>&1 &
	MARIADB_PID=$!
	harness_wait_mariadb "$MARIADB_SOCKET" "$MARIADB_PID" 300 mariadbd
}

# harness_wait_mariadb SOCKET PID TRIES WHAT: until mariadbd answers on
# SOCKET (TRIES times 50 ms); exit 1 saying WHAT did not start if it dies
# or does not answer.
harness_wait_mariadb() {
	local i=0
	until mariadb-admin --no-defaults --socket="$1" -uroot ping >/dev/null 2>&1; do
		i=$((i + 1))
		if [ "$i" -gt "$3" ] || ! kill -0 "$2" 2>/dev/null; then
			diag "$4 did not start"
			exit 1
		fi
		sleep 0.05
	done
}

# harness_stop_mariadb: stop the server, keeping its data.
harness_stop_mariadb() {
	kill "$MARIADB_PID" 2>/dev/null
	harness_wait_gone "$MARIADB_PID" 300
	MARIADB_PID=""
}

sql() {
	mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot -N -B relaycfg -e "$1"
}

# harness_start_memcached [PORT]: a fixed PORT restarts on the same one.
harness_start_memcached() {
	need_binary memcached
	local attempt
	for attempt in 1 2 3 4 5; do
		MC_PORT=${1:-$(free_port)}
		memcached -u "$RUN_USER" -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 32 \
		    -P "$T/memcached.pid" ${MEMCACHED_ARGS:-} </dev/null >>"$T/memcached.log" 2>&1 &
		MC_PID=$!
		harness_wait_port "$MC_PORT" "$MC_PID" && return 0
	done
	diag "memcached did not start"
	exit 1
}

harness_stop_memcached() {
	kill "$MC_PID" 2>/dev/null
	harness_wait_gone "$MC_PID" 50
	MC_PID=""
}

# harness_write_conf [EXTRA LINES...]: a config for the running servers.
harness_write_conf() {
	RELAYCFG_CONF=$T/relaycfg.conf
	{
		echo "# written by tests/lib/harness.sh"
		echo "db_socket = ${MARIADB_SOCKET:-$T/no-mysql.sock}"
		echo "db_user = root"
		echo "db_name = relaycfg"
		[ -n "${MC_PORT:-}" ] && echo "memcached_server = 127.0.0.1:$MC_PORT"
		echo "log_level = info"
		echo "shutdown_timeout = 10"
		echo "registration_secret = test-secret-0123456789abcdef"
		for line in "$@"; do
			echo "$line"
		done
	} >"$RELAYCFG_CONF"
	# It holds the registration secret: not for every user, as an
	# operator's should not be (relaycfg warns of one every user may
	# read).  A test that runs relaycfg as another user names that user's
	# group in HARNESS_CONF_GROUP, as operators make it root:relaycfg 0640.
	if [ -n "${HARNESS_CONF_GROUP:-}" ]; then
		chgrp "$HARNESS_CONF_GROUP" "$RELAYCFG_CONF"
		chmod 640 "$RELAYCFG_CONF"
	else
		chmod 600 "$RELAYCFG_CONF"
	fi
}

# harness_start_relaycfg [ARGS...]: start the server (default 2 workers).
harness_start_relaycfg() {
	RELAYCFG_SOCKET=$T/relaycfg.sock
	[ -n "${RELAYCFG_CONF:-}" ] || harness_write_conf
	"$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$RELAYCFG_SOCKET" \
	    --workers 2 "$@" </dev/null >>"$T/relaycfg.log" 2>&1 &
	RELAYCFG_PID=$!
	harness_wait_socket "$RELAYCFG_SOCKET" "$RELAYCFG_PID"
}

# harness_wait_log PATTERN [FILE]: wait up to 5 s until FILE (relaycfg's log
# by default) has a line matching PATTERN (grep); 1 if none came.
harness_wait_log() {
	local i=0
	until grep -q -- "$1" "${2:-$T/relaycfg.log}"; do
		i=$((i + 1))
		[ "$i" -gt 100 ] && return 1
		sleep 0.05
	done
}

# harness_wait_socket PATH [PID]: wait until a unix socket exists.
harness_wait_socket() {
	local i=0
	until [ -S "$1" ]; do
		i=$((i + 1))
		if [ "$i" -gt 200 ] || { [ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null; }; then
			diag "no socket at $1"
			exit 1
		fi
		sleep 0.05
	done
	sleep 0.1
}

harness_stop_relaycfg() {
	if [ -n "${RELAYCFG_PID:-}" ]; then
		kill -TERM "$RELAYCFG_PID" 2>/dev/null
		harness_wait_gone "$RELAYCFG_PID" 100 || kill -9 "$RELAYCFG_PID" 2>/dev/null
		RELAYCFG_PID=""
	fi
}

# worker_pids: the worker processes of the running master.
worker_pids() {
	local kids
	kids=$(cat "/proc/$RELAYCFG_PID/task/$RELAYCFG_PID/children" 2>/dev/null)
	echo $kids
}

harness_start_nginx() {
	need_binary nginx
	NGINX_PORT=$(free_port)
	mkdir -p "$T/nginx"
	cp /etc/nginx/fastcgi_params "$T/nginx/fastcgi_params"
	# The shipped vhost, verbatim except for the socket path and port.
	sed -e "s|/run/relaycfg/relaycfg.sock|${RELAYCFG_SOCKET:-$T/relaycfg.sock}|g" \
	    -e "s|listen 80;|listen 127.0.0.1:$NGINX_PORT;|" \
	    "$top_srcdir/nginx/relaycfg.conf" >"$T/nginx/vhost.conf"
	local user_line=""
	[ "$(id -u)" -eq 0 ] && user_line="user root;"
	cat >"$T/nginx/nginx.conf" <<NGINX
$user_line
worker_processes 1;
daemon off;
pid $T/nginx.pid;
error_log $T/nginx.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    fastcgi_temp_path $T/nginx/fastcgi;
    proxy_temp_path $T/nginx/proxy;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    include $T/nginx/vhost.conf;
}
NGINX
	local attempt
	for attempt in 1 2 3 4 5; do
		nginx -e "$T/nginx.log" -p "$T/nginx" -c "$T/nginx/nginx.conf" \
		    </dev/null >>"$T/nginx.log" 2>&1 &
		NGINX_PID=$!
		if harness_wait_port "$NGINX_PORT" "$NGINX_PID"; then
			BASE_URL=http://127.0.0.1:$NGINX_PORT
			return 0
		fi
		# Lost the port to someone else: take another one.
		local old=$NGINX_PORT
		NGINX_PORT=$(free_port)
		sed -i "s|listen 127.0.0.1:$old;|listen 127.0.0.1:$NGINX_PORT;|" "$T/nginx/vhost.conf"
	done
	diag "nginx did not start"
	exit 1
}

# http METHOD PATH [CURL ARGS...]: one request through nginx.
http() {
	local method=$1 path=$2
	shift 2
	HTTP_STATUS=$(curl -s -o "$T/http.body" -D "$T/http.headers" \
	    -w '%{http_code}' -X "$method" --max-time 30 "$@" "$BASE_URL$path")
	HTTP_BODY=$(cat "$T/http.body")
	HTTP_HEADERS=$(tr -d '\r' <"$T/http.headers")
}

# --- added for the data-layer tests ------------------------------------
#   harness_start_memcached_logged [PORT]  memcached -vv: every command it
#                                  receives goes to $T/memcached-vv.log
#                                  (appended across restarts)
#   harness_pause_memcached        SIGSTOP: connections are accepted, never
#                                  answered (a "slow" memcached)
#   harness_resume_memcached       SIGCONT

harness_start_memcached_logged() {
	need_binary memcached
	MC_PORT=${1:-$(free_port)}
	memcached -vv -u "$RUN_USER" -l 127.0.0.1 -p "$MC_PORT" -U 0 -m 32 \
	    -P "$T/memcached.pid" >>"$T/memcached-vv.log" 2>&1 &
	MC_PID=$!
	harness_wait_port "$MC_PORT" "$MC_PID" ||
	    { diag "memcached did not start"; exit 1; }
}

#   harness_drive HANDLER LOG PROGRAM [ARGS...]
#                                  run a C driver (tests/integration/itest.h)
#                                  as a coprocess: its "ok"/"not ok" lines
#                                  become this test's, each "@@ COMMAND" is
#                                  run as HANDLER COMMAND (a shell function of
#                                  the test) and answered once it returns;
#                                  other lines are echoed, stderr goes to LOG.
#                                  Returns the driver's exit status.
harness_drive() {
	local handler=$1 log=$2 line pid
	shift 2
	coproc DRIVER { "$@" 2>>"$log"; }
	pid=$DRIVER_PID
	while IFS= read -r line <&"${DRIVER[0]}"; do
		case $line in
		"@@ "*)		"$handler" "${line#@@ }" ;;
		"ok - "*)	ok 0 "${line#ok - }"; continue ;;
		"not ok - "*)	ok 1 "${line#not ok - }"; continue ;;
		*)		echo "$line"; continue ;;
		esac
		echo done >&"${DRIVER[1]}"
	done
	wait "$pid"
}

#   harness_start_memcached_unix   another memcached, on the unix socket
#                                  $MC_SOCKET; killed by the EXIT trap
harness_start_memcached_unix() {
	local i=0
	need_binary memcached
	MC_SOCKET=$T/memcached.sock
	memcached -u "$RUN_USER" -s "$MC_SOCKET" -a 0700 -m 32 \
	    </dev/null >>"$T/memcached-unix.log" 2>&1 &
	HARNESS_PIDS="$HARNESS_PIDS $!"
	until [ -S "$MC_SOCKET" ]; do
		i=$((i + 1))
		kill -0 "$!" 2>/dev/null && [ "$i" -lt 100 ] ||
		    { diag "memcached on $MC_SOCKET did not start"; exit 1; }
		sleep 0.05
	done
}

harness_pause_memcached() {
	kill -STOP "$MC_PID"
}

harness_resume_memcached() {
	kill -CONT "$MC_PID"
}

# --- added for the memcached cluster test --------------------------------
#   harness_start_memcached_n N [PORT]  the Nth memcached of a cluster on
#                                  127.0.0.1:${MC_PORTS[N]}, pid
#                                  ${MC_PIDS[N]}, log $T/memcached-N.log;
#                                  a fixed PORT restarts it on the same one.
#                                  Killed (even if stopped) by the EXIT trap.

harness_start_memcached_n() {
	local n=$1 attempt port
	need_binary memcached
	for attempt in 1 2 3 4 5; do
		port=${2:-$(free_port)}
		memcached -u "$RUN_USER" -l 127.0.0.1 -p "$port" -U 0 -m 32 \
		    </dev/null >>"$T/memcached-$n.log" 2>&1 &
		MC_PIDS[$n]=$!
		MC_PORTS[$n]=$port
		HARNESS_PIDS="$HARNESS_PIDS $!"
		harness_wait_port "$port" "$!" && return 0
	done
	diag "memcached $n did not start"
	exit 1
}
