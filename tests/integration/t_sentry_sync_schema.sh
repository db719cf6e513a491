#!/bin/bash
# relaycfgctl sentry-sync against values Sentry's schema allows and a
# realistic data set seldom shows (tests/data/sentry-pg-schema.sql, real
# PostgreSQL, MariaDB, memcached, relaycfg and nginx):
#   * a DSN key whose secret_key is NULL (Sentry's column is null=True)
#     is mirrored and served, as Sentry serves it;
#   * an option value with an integer beyond 64 bits (Python's json writes
#     any integer) is reported and skipped, never stored as json-c's
#     nearest bound; the bounds themselves are mirrored exactly;
#   * a Sentry lacking a column relaycfg cannot do without (a key's
#     status) is refused with nothing written, not read as unknown;
#   * an option value nested deeper than relaycfg stores (32) is reported
#     as such, not as "not JSON";
#   * PostgreSQL's messages are one line each, prefixed like relaycfgctl's
#     own (under the service each line is a journal entry): libpq's
#     two-line connect error, and the FATAL a server sends to a --watch
#     it ends;
#   * a Sentry that does not answer (a statement waiting on a lock, a
#     backend frozen like a host or network that says nothing) ends the
#     sync after sentry_pg_timeout, instead of leaving it waiting forever.
#   * a --watch keeps the digests of the snapshot it read, so a change
#     landing between its digests and its read, undone before the next
#     round, is still mirrored;
#   * a FATAL right after the connection's startup is one prefixed line
#     too, not libpq's bare one;
#   * a host of the connection string's list that accepts and says
#     nothing costs connect_timeout, then the next host is tried, as in
#     libpq's own connect.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/postgres.sh"

harness_init
need_binary jq
harness_start_mariadb
harness_start_memcached
pg_start
relay_new S
harness_write_conf \
    "static_relay = $(relay_id S) $(relay_pk S) internal" \
    "sentry_pg = $(pg_conninfo)" \
    "sentry_pg_password = $PG_RO_PASSWORD"
ctl() { "$RELAYCFGCTL" -c "$RELAYCFG_CONF" "$@"; }

# watch_connected: wait (up to 5 s) until one sync is connected.
watch_connected() {
	for _ in $(seq 50); do
		[ "$(pgsql "SELECT COUNT(*) FROM pg_stat_activity
		    WHERE application_name = 'relaycfg-sentry-sync'")" = 1 ] &&
			return 0
		sleep 0.1
	done
	return 1
}
ctl db init >/dev/null || { diag "db init failed"; exit 1; }
harness_start_relaycfg
harness_start_nginx
pgsql_file "$top_srcdir/tests/data/sentry-pg-schema.sql" >/dev/null
ok $? "Sentry's schema loads into PostgreSQL"

K1=0123456789abcdef0123456789abcdef
K2=1123456789abcdef0123456789abcdef
pgsql "
INSERT INTO sentry_organization (id, name, slug, status, date_added,
    default_role, is_test, flags) VALUES
 (1, 'Acme', 'acme', 0, now(), 'member', false, 1);
INSERT INTO sentry_project (id, slug, name, public, date_added, status,
    flags, organization_id) VALUES (1, 'web', 'Web', false, now(), 0, 10, 1);
INSERT INTO sentry_projectkey (id, label, public_key, secret_key, roles,
    status, date_added, data, project_id) VALUES
 (1, 'Default', '$K1', 'a123456789abcdef0123456789abcdef', 1, 0, now(), '{}', 1),
 (2, 'no secret', '$K2', NULL, 1, 0, now(), '{}', 1);
" >/dev/null
ok $? "a Sentry data set"

# --- a key without a secret key -------------------------------------------
sync
is "$RC" 0 "sentry-sync: exit 0"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" '^sentry-sync: organizations \+1 ~0 -0, projects \+1 ~0 -0, keys \+2 ~0 -0; .* 0 rows skipped' \
    "both keys are created, none skipped"
is "$ERR" "" "nothing reported"
is "$(sql "SELECT COALESCE(secret_key, 'NULL') FROM sentry_projectkey WHERE id = 2")" NULL \
    "the key's secret_key is NULL in relaycfg too"
ctl_fetch S "$K2"
is "$HTTP_STATUS:$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$K2\"] | [.disabled, .publicKeys[0].publicKey]")" \
    "200:[false,\"$K2\"]" "the key without a secret key is served, as Sentry serves it"
sync
like "$OUT" '^sentry-sync: no changes; 0 SQL writes' "a re-sync finds nothing to change"

# --- integers beyond 64 bits ----------------------------------------------
pgsql "INSERT INTO sentry_projectoptions (project_id, key, value) VALUES
 (1, 'test:wide', '100000000000000000000'),
 (1, 'test:wide-neg', '[-9223372036854775809]'),
 (1, 'test:max', '18446744073709551615'),
 (1, 'test:min', '[-9223372036854775808]');
INSERT INTO sentry_organizationoptions (organization_id, key, value) VALUES
 (1, 'test:wide', '{\"n\": 123456789012345678901234567890}'::jsonb)" >/dev/null
sync
is "$RC" 0 "wide integers do not fail the sync"
like "$OUT" '^sentry-sync: project options \+2 ~0 -0; .* 3 rows skipped' \
    "the two bounds are created, the three wide values skipped"
like "$ERR" "skipped sentry_projectoptions \\(1 test:wide\\): value has an integer beyond 64 bits" \
    "a wide integer is reported by table, owner and key"
like "$ERR" "skipped sentry_projectoptions \\(1 test:wide-neg\\): value has an integer beyond 64 bits" \
    "... and one below INT64_MIN"
like "$ERR" "skipped sentry_organizationoptions \\(1 test:wide\\): value has an integer beyond 64 bits" \
    "... and one in a jsonb organization option"
is "$(sql "SELECT GROUP_CONCAT(CONCAT(\`key\`, '=', value) ORDER BY \`key\` SEPARATOR ' ')
    FROM sentry_projectoptions WHERE \`key\` LIKE 'test:%'")" \
    "test:max=18446744073709551615 test:min=[-9223372036854775808]" \
    "relaycfg holds the bounds exactly and no clamped copy of the others"
sync
like "$OUT" '^sentry-sync: no changes; 0 SQL writes' "a re-sync finds nothing to change"

# --- a column relaycfg cannot do without: refused, nothing written -----------
# A Sentry whose sentry_projectkey.status is gone (renamed): read as
# missing, a key disabled there would be created live in relaycfg.
K3=2123456789abcdef0123456789abcdef
pgsql "ALTER TABLE sentry_projectkey RENAME COLUMN status TO state;
INSERT INTO sentry_projectkey (id, label, public_key, secret_key, roles,
    state, date_added, data, project_id) VALUES
 (3, 'disabled', '$K3', NULL, 1, 1, now(), '{}', 1);
UPDATE sentry_projectkey SET state = 1 WHERE id = 2" >/dev/null
sync
is "$RC:$OUT" "1:" "a key table without status: the sync fails (exit 1)"
is "$ERR" "relaycfgctl: sentry-sync: PostgreSQL: sentry_projectkey has no column status, which relaycfg cannot do without: a Sentry schema it does not know; nothing was changed" \
    "... in one line naming the table and the column"
is "$(sql "SELECT COUNT(*) FROM sentry_projectkey WHERE id = 3")" 0 \
    "the key disabled in Sentry is not created in relaycfg"
ctl_fetch S "$K3" "$K2"
is "$(printf '%s' "$HTTP_BODY" | jq -c "[.configs[\"$K3\"].disabled, .configs[\"$K2\"].disabled]")" \
    "[true,false]" "relaycfg answers as before: no new live key"
pgsql "ALTER TABLE sentry_projectoptions RENAME COLUMN value TO v" >/dev/null
sync
like "$ERR" 'sentry_projectkey has no column status' "the first missing column is named"
pgsql "ALTER TABLE sentry_projectkey RENAME COLUMN state TO status" >/dev/null
sync
is "$RC" 1 "an option table without value: refused too"
like "$ERR" 'sentry_projectoptions has no column value' "... naming it"
pgsql "ALTER TABLE sentry_projectoptions RENAME COLUMN v TO value" >/dev/null
sync
is "$RC" 0 "the columns back: the sync applies"
[ "$RC" = 0 ] || diag "$ERR"
ctl_fetch S "$K3" "$K2"
is "$(printf '%s' "$HTTP_BODY" | jq -c "[.configs[\"$K3\"].disabled, .configs[\"$K2\"].disabled]")" \
    "[true,true]" "both keys disabled, as in Sentry"
is "$(sql "SELECT status FROM sentry_projectkey WHERE id = 3")" 1 \
    "key 3 exists in relaycfg, disabled"

# --- PostgreSQL's messages: one line each, said as relaycfgctl's --------------
mkdir -p "$T/nopg"
sync --pg "host=$T/nopg port=$PG_PORT dbname=$PG_DB user=$PG_RO_USER"
is "$RC" 1 "no PostgreSQL there: exit 1"
is "$(printf '%s\n' "$ERR" | wc -l)" 1 "libpq's two-line connect error is one line"
like "$ERR" '^relaycfgctl: sentry-sync: PostgreSQL: connect: .*No such file or directory; Is the server running' \
    "... its lines joined by '; ', after relaycfgctl's prefix"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync --watch 2 \
    >"$T/watch.out" 2>"$T/watch.err" &
WATCH=$!
watch_connected
pgsql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE application_name = 'relaycfg-sentry-sync'" >/dev/null
harness_wait_log 'terminating connection' "$T/watch.err"
ok $? "--watch: the server's FATAL is reported"
kill -TERM "$WATCH"
wait "$WATCH"
is "$?" 0 "--watch stops cleanly"
is "$(grep -vc '^relaycfgctl: sentry-sync: ' "$T/watch.err")" 0 \
    "every line --watch wrote to stderr is relaycfgctl's, none libpq's bare"
[ -s "$T/watch.err" ] && diag "$(cat "$T/watch.err")"


# --- JSON nested deeper than relaycfg stores -----------------------------------
DEEP33=$(printf '%.0s[' $(seq 33))$(printf '%.0s]' $(seq 33))
DEEP32=$(printf '%.0s[' $(seq 32))$(printf '%.0s]' $(seq 32))
pgsql "INSERT INTO sentry_projectoptions (project_id, key, value) VALUES
 (1, 'test:deep33', '$DEEP33'), (1, 'test:deep32', '$DEEP32')" >/dev/null
sync
is "$RC" 0 "a deeply nested value does not fail the sync"
like "$ERR" "skipped sentry_projectoptions \\(1 test:deep33\\): value is JSON nested deeper than 32 levels, which relaycfg does not store" \
    "a value nested 33 deep is reported as such, not as a pickle"
is "$(sql "SELECT value FROM sentry_projectoptions WHERE \`key\` = 'test:deep32'")" \
    "$DEEP32" "one nested 32 deep is mirrored"
pgsql "DELETE FROM sentry_projectoptions WHERE key LIKE 'test:deep%'" >/dev/null
sync

# --- a Sentry that does not answer -----------------------------------------------
# sentry_pg_timeout = 2.  A statement waiting on a lock is ended by
# PostgreSQL itself (statement_timeout); a backend that is frozen (SIGSTOP:
# as a frozen host, or a network that drops everything) can end nothing,
# and libpq alone would wait forever: the sync gives up 10 s later.
{ grep -v '^sentry_pg_timeout' "$RELAYCFG_CONF"; echo "sentry_pg_timeout = 2"; } \
    >"$T/pgtimeout.conf"
pgsync_slow() {
	"$RELAYCFGCTL" -c "$T/pgtimeout.conf" sentry-sync >"$T/slow.out" \
	    2>"$T/slow.err"
}
lock_projects() {
	pgsql "BEGIN; LOCK TABLE sentry_project IN ACCESS EXCLUSIVE MODE;
	    SELECT pg_sleep(120); COMMIT" >/dev/null 2>&1 &
	LOCKER=$!
	for _ in $(seq 100); do
		[ "$(pgsql "SELECT COUNT(*) FROM pg_locks l JOIN pg_class c
		    ON c.oid = l.relation WHERE c.relname = 'sentry_project'
		    AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ] &&
			return 0
		sleep 0.1
	done
	return 1
}
# lock_waiter: the pid of the sync's backend once it waits on the lock
# (nothing after 5 s).
lock_waiter() {
	local pid=""

	for _ in $(seq 100); do
		pid=$(pgsql "SELECT pid FROM pg_stat_activity
		    WHERE application_name = 'relaycfg-sentry-sync'
		    AND wait_event_type = 'Lock'")
		[ -n "$pid" ] && break
		sleep 0.05
	done
	echo "$pid"
}
unlock_projects() {
	pgsql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	    WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" \
	    >/dev/null
	wait "$LOCKER" 2>/dev/null
}
lock_projects
ok $? "sentry_project locked by another session"
pgsync_slow
is "$?" 1 "a statement waiting on a lock: the sync fails (exit 1)"
like "$(cat "$T/slow.err")" '^relaycfgctl: sentry-sync: PostgreSQL: sentry_project: ERROR: +canceling statement due to statement timeout' \
    "... ended by PostgreSQL after sentry_pg_timeout, said in one line"
# Ended by the server while it waits: its FATAL, in one line.
pgsync_slow &
SLOW=$!
BACKEND=$(lock_waiter)
[ -n "$BACKEND" ] && pgsql "SELECT pg_terminate_backend($BACKEND)" >/dev/null
wait "$SLOW"
is "$?" 1 "a backend terminated while it waits: the sync fails (exit 1)"
like "$(cat "$T/slow.err")" '^relaycfgctl: sentry-sync: PostgreSQL: sentry_project: FATAL: +terminating connection due to administrator command' \
    "... with the server's FATAL, in one line"
pgsync_slow &
SLOW=$!
BACKEND=$(lock_waiter)
[ -n "$BACKEND" ]
ok $? "the next sync waits on the lock"
kill -STOP "$BACKEND"
unlock_projects
for _ in $(seq 600); do
	kill -0 "$SLOW" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$SLOW" 2>/dev/null; then
	ok 1 "its backend frozen: the sync gives up (still waiting after 60 s)"
	kill -KILL "$SLOW"
	wait "$SLOW" 2>/dev/null
else
	wait "$SLOW"
	is "$?" 1 "its backend frozen: the sync gives up (exit 1)"
fi
kill -CONT "$BACKEND"
is "$(cat "$T/slow.err")" "relaycfgctl: sentry-sync: PostgreSQL: sentry_project: no answer within 12 s (the server or the network is frozen?); connection dropped" \
    "... after sentry_pg_timeout + 10 s, said in one line"
sync
is "$RC" 0 "PostgreSQL answering again: the sync applies"
[ "$RC" = 0 ] || diag "$ERR"

# --watch: a round whose backend froze fails, and the next one reconnects
# and mirrors what changed in the meantime.
"$RELAYCFGCTL" -c "$T/pgtimeout.conf" sentry-sync --watch 1 \
    >"$T/fwatch.out" 2>"$T/fwatch.err" &
FWATCH=$!
watch_connected
lock_projects
BACKEND=$(lock_waiter)
[ -n "$BACKEND" ]
ok $? "a round of the watch waits on the lock"
kill -STOP "$BACKEND"
unlock_projects
pgsql "UPDATE sentry_project SET name = 'Web after the freeze' WHERE id = 1" \
    >/dev/null
for _ in $(seq 300); do
	grep -q 'no answer within 12 s' "$T/fwatch.err" && break
	sleep 0.1
done
like "$(cat "$T/fwatch.err")" 'PostgreSQL: digests: no answer within 12 s' \
    "--watch: the frozen round gives up and says so, naming its statement"
for _ in $(seq 100); do
	[ "$(sql "SELECT name FROM sentry_project WHERE id = 1")" = \
	    "Web after the freeze" ] && break
	sleep 0.1
done
is "$(sql "SELECT name FROM sentry_project WHERE id = 1")" \
    "Web after the freeze" "... and the next round reconnects and mirrors the change"
kill -TERM "$FWATCH"
wait "$FWATCH"
is "$?" 0 "--watch stops cleanly"
kill -CONT "$BACKEND"

# SIGTERM while a round waits on Sentry (here on a lock, with the default
# sentry_pg_timeout of 300 s): the watch stops at once, not after the wait.
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync --watch 1 \
    >"$T/twatch.out" 2>"$T/twatch.err" &
TWATCH=$!
watch_connected
lock_projects
BACKEND=$(lock_waiter)
[ -n "$BACKEND" ]
ok $? "a round of a watch (sentry_pg_timeout 300 s) waits on the lock"
kill -TERM "$TWATCH"
for _ in $(seq 100); do
	kill -0 "$TWATCH" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$TWATCH" 2>/dev/null; then
	ok 1 "SIGTERM: the watch stops at once (still waiting after 10 s)"
	kill -KILL "$TWATCH"
	wait "$TWATCH" 2>/dev/null
else
	wait "$TWATCH"
	is "$?" 0 "SIGTERM: the watch stops at once, exit 0"
fi
like "$(cat "$T/twatch.err")" 'PostgreSQL: [a-z_]+: stopped by a signal while waiting for the answer' \
    "... saying it gave up the statement"
unlock_projects

# SIGTERM landing after the watch checked its flag and before it waits
# for the next round: gdb stops it at the top of that wait
# (sentry_pg_wait) and resumes it with the signal, as a SIGTERM arriving
# in that instant would.  The wait must end at once, not after the 60 s
# interval.  (LeakSanitizer cannot run under a tracer.)
command -v gdb >/dev/null || bail_out "gdb not found (scripts/install-deps)"
start=$(date +%s)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    timeout -s KILL 40 gdb -nx -batch -iex 'set debuginfod enabled off' \
    -ex 'handle SIGTERM nostop noprint pass' \
    -ex 'break sentry_pg_wait' -ex 'run' -ex 'delete' \
    -ex 'signal SIGTERM' \
    --args "$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync --watch 60 \
    >"$T/gdbwatch.out" 2>&1
gdb_rc=$?
took=$(( $(date +%s) - start ))
# a watch left behind by a killed gdb (the failure being looked for)
pkill -KILL -f -- "$RELAYCFG_CONF sentry-sync --watch 60" 2>/dev/null
like "$(cat "$T/gdbwatch.out")" 'Breakpoint 1, .*sentry_pg_wait' \
    "SIGTERM at the wait: gdb held the watch at the top of its wait"
like "$(cat "$T/gdbwatch.out")" 'Inferior 1 \(process [0-9]+\) exited normally' \
    "... which stopped with exit 0"
ok $(( gdb_rc != 0 || took >= 30 )) \
    "... at once, not after the 60 s interval (took ${took} s, gdb status $gdb_rc)"
"$RELAYCFGCTL" -c "$T/pgtimeout.conf" sentry-sync >/dev/null 2>&1
is "$?" 0 "... with sentry_pg_timeout = 2 too"
{ grep -v '^sentry_pg_timeout' "$RELAYCFG_CONF"; echo "sentry_pg_timeout = 0"; } \
    >"$T/pgtimeout0.conf"
"$RELAYCFGCTL" -c "$T/pgtimeout0.conf" sentry-sync >/dev/null 2>"$T/zero.err"
is "$?" 1 "sentry_pg_timeout = 0 is a configuration error"
like "$(cat "$T/zero.err")" 'sentry_pg_timeout must be at least 1' "... said as such"

# --- digests of the rows read, not of the rows before -------------------------
# A watch skips a round whose digests equal those of the last full round.
# Those must be the digests of the rows that round read: a change landing
# between the digests and the read (and undone before the next round)
# would otherwise leave relaycfg with a state Sentry no longer has, and
# every later round would skip it.  A view that takes 2 s to read (last
# of the mirrored tables) holds both statements open long enough.
pgsql "ALTER TABLE sentry_projecttransactionthresholdoverride RENAME TO slow_ptto;
CREATE FUNCTION slow_rows() RETURNS SETOF slow_ptto LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM pg_sleep(2); RETURN QUERY SELECT * FROM slow_ptto; END \$\$;
CREATE VIEW sentry_projecttransactionthresholdoverride AS SELECT * FROM slow_rows();
GRANT SELECT ON sentry_projecttransactionthresholdoverride TO $PG_RO_USER;
UPDATE sentry_projectkey SET status = 0 WHERE id = 1" >/dev/null
sync
is "$RC:$(sql "SELECT status FROM sentry_projectkey WHERE id = 1")" 0:0 \
    "a slow override table: key 1 live in both"
# sync_backend_on PATTERN: wait (20 s) until the watch's backend runs a
# statement LIKE PATTERN (and no digests when the second argument says so).
sync_backend_on() {
	for _ in $(seq 400); do
		[ -n "$(pgsql "SELECT pid FROM pg_stat_activity
		    WHERE application_name = 'relaycfg-sentry-sync'
		    AND state = 'active' AND query LIKE '$1'
		    AND (query NOT LIKE '%md5(%' OR '$2' <> 'nomd5')")" ] && return 0
		sleep 0.05
	done
	return 1
}
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync --watch 1 \
    >"$T/awatch.out" 2>"$T/awatch.err" &
AWATCH=$!
sync_backend_on '%md5(%'
ok $? "the watch's first round takes its digests"
pgsql "UPDATE sentry_projectkey SET status = 1 WHERE id = 1" >/dev/null
sync_backend_on 'SELECT % FROM public.sentry_projecttransactionthresholdoverride' nomd5
ok $? "... then reads Sentry's rows (key 1 disabled since the digests)"
pgsql "UPDATE sentry_projectkey SET status = 0 WHERE id = 1" >/dev/null
for _ in $(seq 200); do
	[ "$(sql "SELECT status FROM sentry_projectkey WHERE id = 1")" = 0 ] &&
	    [ -s "$T/awatch.out" ] && break
	sleep 0.1
done
sleep 6
is "$(sql "SELECT status FROM sentry_projectkey WHERE id = 1")" 0 \
    "key 1 enabled again in Sentry (before the next round): enabled in relaycfg too"
kill -TERM "$AWATCH"
wait "$AWATCH"
is "$?" 0 "--watch stops cleanly"
pgsql "DROP VIEW sentry_projecttransactionthresholdoverride; DROP FUNCTION slow_rows();
ALTER TABLE slow_ptto RENAME TO sentry_projecttransactionthresholdoverride" >/dev/null

# A watch's digests ended by the server (terminated while waiting on a
# lock): the round says the server's FATAL, not the "no connection to the
# server" of the read it would then try on the dead connection.
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync --watch 1 \
    >"$T/dwatch.out" 2>"$T/dwatch.err" &
DWATCH=$!
sleep 1
lock_projects
BACKEND=$(lock_waiter)
[ -n "$BACKEND" ] && pgsql "SELECT pg_terminate_backend($BACKEND)" >/dev/null
harness_wait_log 'terminating connection' "$T/dwatch.err"
unlock_projects
sleep 1
kill -TERM "$DWATCH"
wait "$DWATCH"
is "$?" 0 "--watch stops cleanly"
like "$(cat "$T/dwatch.err")" 'relaycfgctl: sentry-sync: PostgreSQL: digests: FATAL: +terminating connection due to administrator command' \
    "a watch's digests ended by the server: its FATAL is the round's message"
unlike "$(cat "$T/dwatch.err")" 'no connection to the server' \
    "... and no read is tried on the dead connection"

# A backend terminated while the connection is made (right after the
# startup): the server's FATAL is one line prefixed like relaycfgctl's,
# never libpq's bare line (its default notice processor, in place until
# the connect returned).  A race: many short syncs against a loop
# terminating their backends.
( while :; do pgsql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE application_name = 'relaycfg-sentry-sync'" >/dev/null 2>&1; done ) &
TERMINATOR=$!
: >"$T/race.err"
for _ in $(seq 250); do
	"$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync >/dev/null 2>>"$T/race.err"
done
kill "$TERMINATOR"
wait "$TERMINATOR" 2>/dev/null
is "$(grep -vc '^relaycfgctl: sentry-sync: ' "$T/race.err")" 0 \
    "backends terminated while connecting: no bare line from libpq on stderr"
grep -v '^relaycfgctl: sentry-sync: ' "$T/race.err" | sort | uniq -c | sed 's/^/# /'
sync
is "$RC" 0 "... and the sync applies once they are left alone"

# A host that accepts the connection and never answers (a frozen server,
# python3 listening without accepting): libpq's blocking connect gives it
# connect_timeout and goes on to the next host of the list; so does the
# sync.  Only when the last one times out does the connect fail.
need_binary python3
for _ in 1 2 3 4 5; do
	BH_PORT=$(free_port)
	python3 -c 'import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
time.sleep(600)' "$BH_PORT" 2>/dev/null &
	BH_PID=$!
	HARNESS_PIDS="$HARNESS_PIDS $BH_PID"
	harness_wait_port "$BH_PORT" "$BH_PID" && break
done
sync --pg "host=127.0.0.1,$PG_SOCKDIR port=$BH_PORT,$PG_PORT dbname=$PG_DB user=$PG_RO_USER connect_timeout=2"
is "$RC" 0 \
    "the first host of the list does not answer: the next one is connected to after connect_timeout"
unlike "$ERR" "connect" "... and nothing is said of the first one's timeout"
sync --pg "postgresql://127.0.0.1:$BH_PORT,127.0.0.1:$BH_PORT/$PG_DB?user=$PG_RO_USER&connect_timeout=2"
is "$RC:$ERR" "1:relaycfgctl: sentry-sync: PostgreSQL: connect: no answer within connect_timeout; connection dropped" \
    "no host of the list answers: the connect fails, saying so"
# The hosts after the silent one keep their entries as written.  An empty
# entry is libpq's default (a hostaddr: resolve the host name); passed on
# as an empty keyword value it was ignored and the whole list of conninfo
# stood again: 1 host against 2 hostaddrs ...
sync --pg "host=localhost,$PG_SOCKDIR hostaddr=127.0.0.1, port=$BH_PORT,$PG_PORT dbname=$PG_DB user=$PG_RO_USER connect_timeout=2"
is "$RC" 0 \
    "the silent host's rest of the list has an empty hostaddr: the next host is connected to"
[ "$RC" = 0 ] || diag "$ERR"
# ... or the silent host again, for ever (timeout ends that).
start=$(date +%s)
RC=0
timeout -s KILL 30 "$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync \
    --pg "host=127.0.0.1, port=$BH_PORT dbname=$PG_DB user=$PG_RO_USER connect_timeout=2" \
    >/dev/null 2>"$T/emptyhost.err" || RC=$?
took=$(( $(date +%s) - start ))
ok $(( RC != 1 || took >= 20 )) \
    "the rest of the list is one empty host (the default): tried once, then the connect fails (status $RC, $took s)"
[ "$RC" = 1 ] || diag "$(cat "$T/emptyhost.err")"
# A list longer than a fixed buffer is passed on whole, not cut inside a
# host (which made the host and port lists differ in length).
hosts=127.0.0.1 ports=$BH_PORT
for _ in $(seq 40); do
	hosts="$hosts,$PG_SOCKDIR" ports="$ports,$PG_PORT"
done
sync --pg "host=$hosts port=$ports dbname=$PG_DB user=$PG_RO_USER connect_timeout=2"
is "$RC" 0 "a host list of ${#hosts} bytes: the host after the silent one is connected to"
[ "$RC" = 0 ] || diag "$ERR"
kill "$BH_PID"

done_testing
