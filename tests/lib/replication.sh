# replication.sh - MariaDB primaries and GTID replicas for tests (sourced
# after harness.sh, and after harness_init).
#
#   repl_start_mariadbd NAME SERVER_ID BIND_ADDR PORT [PREFIX...]
#                        a fresh datadir $T/NAME (mariadb-install-db, retried
#                        like harness_start_mariadb), socket $T/NAME.sock,
#                        binlog on (ROW, GTID, log_slave_updates), TCP on
#                        BIND_ADDR:PORT, error log $T/NAME.log.  PREFIX (e.g.
#                        "ip netns exec db1"; words without blanks) is put in
#                        front of the mariadbd command line.  Sets
#                        REPL_PID_<NAME> (REPL_PID_db1), waits until the
#                        server answers, and creates database "relaycfg" and
#                        the user $REPL_APP_USER@'%' (password
#                        $REPL_APP_PASSWORD, every privilege on relaycfg.*)
#                        outside the binlog, so every server, primary or
#                        replica, has both and replication never replays them
#   repl_restart_mariadbd NAME
#                        start it again on its datadir with the same arguments
#   repl_sql NAME SQL    SQL as root through the unix socket (works from the
#                        root namespace), in database relaycfg when it exists;
#                        -N -B output
#   repl_make_replica NAME PRIMARY_NAME PRIMARY_ADDR PRIMARY_PORT
#                        a replication user on the primary, CHANGE MASTER TO
#                        ... MASTER_USE_GTID=slave_pos on NAME, START SLAVE;
#                        waits until both replica threads run and NAME has
#                        caught up with the primary
#   repl_wait_caught_up NAME PRIMARY_NAME [TIMEOUT_S]
#                        waits (default 30 s) until NAME has applied the
#                        primary's @@gtid_binlog_pos; 1 when it has not
#   repl_stop NAME       SIGTERM and wait (a clean shutdown)
#   repl_kill NAME       SIGKILL and wait (a crash)
#
# NAME must be a shell identifier (db1, primary, replica2).  Servers still
# running when the test exits are stopped by harness_cleanup (repl_cleanup).
# A replica's threads start again by themselves when it is restarted, and
# retry a lost primary every second.
# shellcheck shell=bash

REPL_APP_USER=${REPL_APP_USER:-relaycfg}
REPL_APP_PASSWORD=${REPL_APP_PASSWORD:-relaycfg-test-pw}
REPL_NAMES=""
declare -A REPL_ARGS REPL_PREFIX

# repl_pid NAME: the pid of NAME's mariadbd (empty when stopped).
repl_pid() {
	local v=REPL_PID_$1
	echo "${!v:-}"
}

repl_start_mariadbd() {
	local name=$1 id=$2 addr=$3 port=$4 attempt
	shift 4
	need_binary mariadbd
	need_binary mariadb-install-db
	# A fresh bootstrap occasionally fails under heavy parallel load
	# ("Unknown table 'mysql.tmp_user_sys'"); a fresh datadir then works.
	for attempt in 1 2 3; do
		rm -rf "${T:?}/$name"
		mkdir -p "$T/$name"
		mariadb-install-db --no-defaults --datadir="$T/$name" \
		    --user="$RUN_USER" --auth-root-authentication-method=normal \
		    --skip-test-db --skip-name-resolve \
		    >"$T/$name-install.out" 2>&1 && break
		diag "mariadb-install-db for $name failed (attempt $attempt)"
		[ "$attempt" -lt 3 ] ||
		    { sed 's/^/# /' "$T/$name-install.out"; exit 1; }
	done
	REPL_NAMES="$REPL_NAMES $name"
	REPL_PREFIX[$name]="$*"
	# slave_net_timeout 5: a replica notices a silent primary (a cut
	# network) within seconds, not the default minute.
	REPL_ARGS[$name]="--server-id=$id --bind-address=$addr --port=$port
	    --log-bin=$name-bin --relay-log=$name-relay-bin
	    --binlog-format=ROW --log-slave-updates --slave-net-timeout=5"
	repl_restart_mariadbd "$name"
	repl_sql "$name" "SET sql_log_bin = 0;
	    CREATE DATABASE relaycfg CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
	    CREATE USER '$REPL_APP_USER'@'%' IDENTIFIED BY '$REPL_APP_PASSWORD';
	    GRANT ALL ON relaycfg.* TO '$REPL_APP_USER'@'%'" ||
	    { diag "$name: cannot create the test database"; exit 1; }
}

repl_restart_mariadbd() {
	local name=$1 pid
	# Word splitting of the prefix and the arguments is intended.
	# shellcheck disable=SC2086
	${REPL_PREFIX[$name]} mariadbd --no-defaults --datadir="$T/$name" \
	    --socket="$T/$name.sock" --pid-file="$T/$name.pid" \
	    --user="$RUN_USER" --innodb-buffer-pool-size=32M \
	    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
	    --skip-name-resolve ${REPL_ARGS[$name]} \
	    --log-error="$T/$name.log" </dev/null >>"$T/$name.log" 2>&1 &
	pid=$!
	printf -v "REPL_PID_$name" '%s' "$pid"
	harness_wait_mariadb "$T/$name.sock" "$pid" 600 "mariadbd $name"
}

repl_sql() {
	local db=""
	[ -d "$T/$1/relaycfg" ] && db=relaycfg
	mariadb --no-defaults --socket="$T/$1.sock" -uroot -N -B $db -e "$2"
}

repl_make_replica() {
	local name=$1 primary=$2 addr=$3 port=$4 i=0 st
	repl_sql "$primary" "SET sql_log_bin = 0;
	    CREATE USER IF NOT EXISTS 'repl'@'%' IDENTIFIED BY 'repl-test-pw';
	    GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'" ||
	    { diag "$primary: cannot create the replication user"; exit 1; }
	repl_sql "$name" "STOP SLAVE;
	    CHANGE MASTER TO MASTER_HOST='$addr', MASTER_PORT=$port,
	    MASTER_USER='repl', MASTER_PASSWORD='repl-test-pw',
	    MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos;
	    START SLAVE" ||
	    { diag "$name: cannot start replicating from $primary"; exit 1; }
	# Not repl_sql: -N would drop the field names of the vertical output.
	while :; do
		st=$(mariadb --no-defaults --socket="$T/$name.sock" -uroot \
		    -e "SHOW SLAVE STATUS\G" 2>/dev/null)
		printf '%s\n' "$st" | grep -q 'Slave_IO_Running: Yes' &&
		    printf '%s\n' "$st" | grep -q 'Slave_SQL_Running: Yes' && break
		i=$((i + 1))
		if [ "$i" -gt 150 ]; then
			diag "$name: replica threads did not start"
			printf '%s\n' "$st" | grep -E 'Running|Error' | sed 's/^/# /'
			exit 1
		fi
		sleep 0.1
	done
	repl_wait_caught_up "$name" "$primary" ||
	    { diag "$name did not catch up with $primary"; exit 1; }
}

repl_wait_caught_up() {
	local pos got
	pos=$(repl_sql "$2" "SELECT @@gtid_binlog_pos") || return 1
	[ -n "$pos" ] || return 0
	got=$(repl_sql "$1" "SELECT MASTER_GTID_WAIT('$pos', ${3:-30})") || return 1
	[ "$got" = 0 ] && return 0
	diag "$1 has not applied $2's $pos: $(repl_sql "$1" "SELECT @@gtid_slave_pos")"
	return 1
}

repl_stop() {
	local pid
	pid=$(repl_pid "$1")
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	harness_wait_gone "$pid" 600 || kill -9 "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null
	printf -v "REPL_PID_$1" '%s' ""
}

repl_kill() {
	local pid
	pid=$(repl_pid "$1")
	[ -n "$pid" ] || return 0
	kill -9 "$pid" 2>/dev/null
	# A child of this shell: wait reaps it without the job notice.
	{ wait "$pid"; } 2>/dev/null || harness_wait_gone "$pid" 100
	printf -v "REPL_PID_$1" '%s' ""
}

# repl_cleanup: stop every server still running (harness_cleanup calls it).
repl_cleanup() {
	local n
	for n in $REPL_NAMES; do
		[ -n "$(repl_pid "$n")" ] && kill "$(repl_pid "$n")" 2>/dev/null
	done
	for n in $REPL_NAMES; do
		[ -n "$(repl_pid "$n")" ] || continue
		harness_wait_gone "$(repl_pid "$n")" 200 ||
		    kill -9 "$(repl_pid "$n")" 2>/dev/null
	done
}
