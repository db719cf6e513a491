#!/bin/bash
# The data layer against real servers: tests/integration/test_store drives
# (see its header) and asks this script, by "@@ <command>" lines, to stop,
# pause and restart memcached and MariaDB under it.  Then the server: a
# worker starts and answers while MariaDB is down.
. "$top_srcdir/tests/lib/harness.sh"
harness_init
harness_start_mariadb
harness_start_memcached_logged
harness_start_memcached_unix
harness_write_conf "memcached_poll_timeout_ms = 200" \
    "memcached_connect_timeout_ms = 100" "memcached_retry_timeout = 1" \
    "ttl_negative = 30" "log_level = warn"

"$RELAYCFGCTL" -c "$RELAYCFG_CONF" db init >"$T/dbinit.out" 2>&1
ok $? "relaycfgctl db init"

export STORE_TEST_CONF=$RELAYCFG_CONF MARIADB_SOCKET MC_PORT MC_SOCKET
export MC_LOG=$T/memcached-vv.log

# What test_store asks of the servers ("@@" lines, harness_drive).
store_order() {
	case $1 in
	mc-stop)	harness_stop_memcached ;;
	mc-start)	harness_start_memcached_logged "$MC_PORT" ;;
	mc-pause)	harness_pause_memcached ;;
	mc-resume)	harness_resume_memcached ;;
	db-stop)	harness_stop_mariadb ;;
	db-start)	harness_run_mariadbd ;;
	*)		diag "test_store asked for an unknown order: $1" ;;
	esac
}
harness_drive store_order "$T/test_store.log" \
    "$top_builddir/tests/integration/test_store"
ok $? "test_store finished cleanly"
# A memcached paused mid-test must not stay paused for the cleanup.
[ -n "${MC_PID:-}" ] && harness_resume_memcached 2>/dev/null

# The server: a worker opens nothing at start, so it starts and answers
# /live while MariaDB is down, then serves again without a restart.
harness_stop_mariadb
harness_start_relaycfg
harness_start_nginx
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "a worker starts and answers while MariaDB is down"
harness_run_mariadbd
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "and after MariaDB is back"
kill -0 "$RELAYCFG_PID" 2>/dev/null
ok $? "the server is still running"

done_testing
