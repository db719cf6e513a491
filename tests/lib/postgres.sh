# postgres.sh - a throwaway PostgreSQL server standing in for Sentry's
# database, for the sync tests (sourced after harness.sh, and after
# harness_init).
#
#   pg_start             a fresh cluster in $T/pgdata (initdb -A trust -U
#                        postgres, UTF8, locale C), unix socket only in
#                        $PG_SOCKDIR (port $PG_PORT names the socket file),
#                        fsync off, log $T/postgres.log; waits (30 s at most)
#                        until pg_isready says yes, then creates database
#                        $PG_DB (sentry) and the login role sentry_ro
#                        (password $PG_RO_PASSWORD): SELECT on every table
#                        of schema public, now and (default privileges)
#                        for tables postgres creates later, nothing else
#   pg_run               start it again on the existing data dir and wait
#   pgsql "SQL"          SQL as superuser postgres in $PG_DB; -X -q -A -t,
#                        ON_ERROR_STOP: bare rows on stdout, for assertions
#   pgsql_file FILE      the same for a file of SQL
#   pg_conninfo [ROLE]   prints a libpq connection string for the socket,
#                        without a password (ROLE defaults to sentry_ro)
#   pg_stop              fast shutdown and wait, keeping the data
#   pg_cleanup           the same, when it runs (harness_cleanup calls it)
#   sync ARGS...         relaycfgctl -c $RELAYCFG_CONF sentry-sync ARGS: its
#                        stdout in $OUT, stderr in $ERR, exit status in $RC
#
# pg_hba.conf lets postgres in without a password (trust) and makes every
# other role, sentry_ro included, give its password (scram-sha-256), so a
# test proves the password from a config file is the one sent.  Exported:
# PG_SOCKDIR, PG_PORT, PG_DB; not PGHOST and friends, which would hide a
# tool that ignores its own settings.
#
# PostgreSQL refuses to run as root, and CI runs the tests as root: then
# initdb, postgres and pg_ctl run as the "postgres" system user (the Debian
# package's; "nobody" when absent) through runuser, and the dirs it writes
# are given to it.  A missing server (no initdb/postgres under pg_config
# --bindir or /usr/lib/postgresql/*/bin) makes the test skip_all; a server
# that does not start is a failure.
# shellcheck shell=bash

PG_PORT=${PG_PORT:-5432}
PG_DB=sentry
PG_RO_USER=sentry_ro
PG_RO_PASSWORD=s3cret-pg
PG_SOCKDIR=""
PG_DATADIR=""
PG_PID=""
export PG_SOCKDIR PG_PORT PG_DB

# pg_find_bindir: sets PG_BINDIR to the newest server's bin dir; skip_all
# when there is none.
pg_find_bindir() {
	local d
	PG_BINDIR=""
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null)
		[ -x "$d/initdb" ] && [ -x "$d/postgres" ] && PG_BINDIR=$d
	fi
	if [ -z "$PG_BINDIR" ]; then
		# Glob order is lexical (10 before 9): sort -V, the newest last.
		for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
			if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then
				PG_BINDIR=$d
			fi
		done
	fi
	[ -n "$PG_BINDIR" ] || skip_all "PostgreSQL server (initdb, postgres) not found"
}

# pg_as CMD...: CMD from $T as the server's user (root cannot run it).
pg_as() {
	if [ -n "$PG_OS_USER" ]; then
		(cd "$T" && exec runuser -u "$PG_OS_USER" -- "$@")
	else
		(cd "$T" && exec "$@")
	fi
}

pg_start() {
	pg_find_bindir
	PG_OS_USER=""
	if [ "$(id -u)" -eq 0 ]; then
		need_binary runuser
		PG_OS_USER=postgres
		id -u "$PG_OS_USER" >/dev/null 2>&1 || PG_OS_USER=nobody
	fi
	PG_DATADIR=$T/pgdata
	PG_SOCKDIR=$T/pgsock
	rm -rf "$PG_DATADIR" "$PG_SOCKDIR"
	mkdir -p "$PG_DATADIR" "$PG_SOCKDIR"
	chmod 700 "$PG_DATADIR"
	chmod 755 "$PG_SOCKDIR"
	: >"$T/postgres.log"
	[ -z "$PG_OS_USER" ] ||
	    chown "$PG_OS_USER" "$PG_DATADIR" "$PG_SOCKDIR" "$T/postgres.log"
	pg_as "$PG_BINDIR/initdb" -D "$PG_DATADIR" -A trust -U postgres \
	    --no-sync -E UTF8 --locale=C >"$T/postgres-initdb.out" 2>&1 ||
	    { diag "initdb failed"; sed 's/^/# /' "$T/postgres-initdb.out"; exit 1; }
	# Unix socket only, in our own dir: the port just names the socket
	# file, so parallel tests can all use the same one.  In the config
	# rather than on the command line, so that pg_run keeps them.
	cat >>"$PG_DATADIR/postgresql.conf" <<PGCONF

# written by tests/lib/postgres.sh
listen_addresses = ''
unix_socket_directories = '$PG_SOCKDIR'
port = $PG_PORT
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = 'scram-sha-256'
PGCONF
	cat >"$PG_DATADIR/pg_hba.conf" <<PGHBA
# written by tests/lib/postgres.sh: no TCP at all (listen_addresses='').
# TYPE  DATABASE  USER      METHOD
local   all       postgres  trust
local   all       all       scram-sha-256
PGHBA
	pg_run
	# Two calls: psql -c sends one transaction, CREATE DATABASE needs none.
	pgsql_db postgres "CREATE DATABASE $PG_DB TEMPLATE template0" ||
	    { diag "cannot create database $PG_DB"; exit 1; }
	pgsql_db postgres "CREATE ROLE $PG_RO_USER LOGIN PASSWORD '$PG_RO_PASSWORD'" ||
	    { diag "cannot create role $PG_RO_USER"; exit 1; }
	# PUBLIC keeps CONNECT on the database and USAGE (not CREATE, since
	# PostgreSQL 15) on schema public; sentry_ro gets SELECT and no more.
	pgsql "GRANT CONNECT ON DATABASE $PG_DB TO $PG_RO_USER;
	    GRANT USAGE ON SCHEMA public TO $PG_RO_USER;
	    GRANT SELECT ON ALL TABLES IN SCHEMA public TO $PG_RO_USER;
	    ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public
	        GRANT SELECT ON TABLES TO $PG_RO_USER" ||
	    { diag "cannot grant SELECT to $PG_RO_USER"; exit 1; }
}

# pg_run: start the server on the existing data dir; wait (30 s) until it
# accepts connections, exit 1 if it dies or does not.
pg_run() {
	local i=0
	# postgres in the foreground of a background job, like mariadbd:
	# PG_PID (runuser's or the postmaster's) lives exactly as long as the
	# server, so a server that cannot start is seen at once.
	if [ -n "$PG_OS_USER" ]; then
		(cd "$T" && exec runuser -u "$PG_OS_USER" -- \
		    "$PG_BINDIR/postgres" -D "$PG_DATADIR") \
		    </dev/null >>"$T/postgres.log" 2>&1 &
	else
		(cd "$T" && exec "$PG_BINDIR/postgres" -D "$PG_DATADIR") \
		    </dev/null >>"$T/postgres.log" 2>&1 &
	fi
	PG_PID=$!
	until "$PG_BINDIR/pg_isready" -q -h "$PG_SOCKDIR" -p "$PG_PORT" \
	    -d postgres -U postgres -t 1 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 300 ] || ! kill -0 "$PG_PID" 2>/dev/null; then
			diag "postgres did not start (log: $T/postgres.log)"
			exit 1
		fi
		sleep 0.1
	done
}

# pgsql_db DB SQL: SQL as postgres in DB.
pgsql_db() {
	"$PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" \
	    -p "$PG_PORT" -U postgres -d "$1" -c "$2"
}

pgsql() {
	pgsql_db "$PG_DB" "$1"
}

pgsql_file() {
	"$PG_BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" \
	    -p "$PG_PORT" -U postgres -d "$PG_DB" -f "$1"
}

pg_conninfo() {
	echo "host=$PG_SOCKDIR port=$PG_PORT dbname=$PG_DB user=${1:-$PG_RO_USER}"
}

# pg_postmaster_pid: the running postmaster's pid from its pid file.
pg_postmaster_pid() {
	local pid
	[ -n "$PG_DATADIR" ] && [ -f "$PG_DATADIR/postmaster.pid" ] || return 1
	read -r pid <"$PG_DATADIR/postmaster.pid" || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	echo "$pid"
}

pg_stop() {
	local pid
	[ -n "$PG_PID" ] || return 0
	if pid=$(pg_postmaster_pid); then
		pg_as "$PG_BINDIR/pg_ctl" stop -D "$PG_DATADIR" -m fast -w -t 30 \
		    >>"$T/postgres.log" 2>&1 || kill -9 "$pid" 2>/dev/null
	else
		# No pid file yet: runuser passes SIGTERM on to postgres.
		kill -TERM "$PG_PID" 2>/dev/null
	fi
	if ! harness_wait_gone "$PG_PID" 100; then
		pid=$(cat "/proc/$PG_PID/task/$PG_PID/children" 2>/dev/null)
		# Word splitting of the pid list is intended.
		# shellcheck disable=SC2086
		kill -9 "$PG_PID" $pid 2>/dev/null
	fi
	# A child of this shell: wait reaps it without the job notice.
	{ wait "$PG_PID"; } 2>/dev/null
	PG_PID=""
}

pg_cleanup() {
	pg_stop
}

sync() {
	OUT=$("$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync "$@" 2>"$T/sync.err")
	RC=$?
	ERR=$(cat "$T/sync.err")
}
