#!/bin/bash
# Read replicas (issue 15), on loopback: a MariaDB primary and real GTID
# replicas (tests/lib/replication.sh), memcached, relaycfg with db_* on
# the primary and db_replica_* / db_replica on the replicas, the shipped
# nginx vhost, signed Relay fetches.  Promises (docs/ARCHITECTURE.md,
# "Replicas: what a read may see"): reads go to a replica that has
# applied the primary's position; after relaycfgctl returned, no answer
# and no memcached entry is older than its write, whether the replica's
# SQL thread is stopped or it runs MASTER_DELAY behind, even for a
# request whose replica was chosen before the write; a dead replica
# costs nothing but load on the primary (no "pending"); a dead primary
# leaves configs served by the replica and writes refused clearly; of two
# replicas the live one serves; a request that must choose its reader
# again with the primary down keeps the replica it checked; a replica
# rested for not answering serves again as soon as the primary is down;
# and relaycfg_mariadb_up names each server and is true from the start.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/replication.sh"
harness_init
need_binary jq
P_PORT=$(free_port)
R1_PORT=$(free_port)
R2_PORT=$(free_port)
repl_start_mariadbd prim 1 127.0.0.1 "$P_PORT"
repl_start_mariadbd rep1 2 127.0.0.1 "$R1_PORT"
repl_start_mariadbd rep2 3 127.0.0.1 "$R2_PORT"
MARIADB_SOCKET=$T/prim.sock	# harness_write_conf and sql use the primary
harness_start_memcached
relay_new S
# write_conf [LINES...]: the primary as root by its socket; replica 1 by
# its socket, with the application user every test server has.
write_conf() {
	harness_write_conf \
	    "static_relay = $(relay_id S) $(relay_pk S) internal" \
	    "db_replica_socket = $T/rep1.sock" \
	    "db_replica_user = $REPL_APP_USER" \
	    "db_replica_password = $REPL_APP_PASSWORD" "$@"
}
write_conf
ctl() { "$RELAYCFGCTL" -c "$RELAYCFG_CONF" --json "$@"; }
ctl db init >/dev/null || { diag "db init failed"; exit 1; }
ORG=$(ctl org create acme | jq -r .id)
PROJ=$(ctl project create --org "$ORG" web | jq -r .id)
K1=$(ctl key create --project "$PROJ" | jq -r .public_key)
ctl option set project "$PROJ" sentry:origins '["https://v1.example"]' >/dev/null
repl_make_replica rep1 prim 127.0.0.1 "$P_PORT"
repl_make_replica rep2 prim 127.0.0.1 "$P_PORT"
is "$(repl_sql rep1 "SELECT value FROM sentry_projectoptions
    WHERE project_id = $PROJ AND \`key\` = 'sentry:origins'")" \
    '["https://v1.example"]' "replica 1 replicates the primary"

# The MariaDB facts relaycfg relies on (MariaDB's MASTER_GTID_WAIT page):
# a position is domain-server-seq per domain, comma separated; the wait
# answers 0 when applied, -1 on timeout (a domain the replica never saw
# included), at once for '', NULL for a NULL list.
like "$(repl_sql prim "SELECT @@gtid_binlog_pos")" '^0-1-[0-9]+$' \
    "the primary's @@gtid_binlog_pos: domain-server-seq"
is "$(repl_sql rep1 "SELECT MASTER_GTID_WAIT(@@gtid_slave_pos, 0),
    MASTER_GTID_WAIT('0-1-999999', 0), MASTER_GTID_WAIT('', 0),
    MASTER_GTID_WAIT(CONCAT(@@gtid_slave_pos, ',7-1-1'), 0.1),
    MASTER_GTID_WAIT(NULL, 0)" | tr '\t' ' ')" "0 -1 0 -1 NULL" \
    "MASTER_GTID_WAIT: 0 applied, -1 not yet, 0 for '', -1 for an unseen domain, NULL for NULL"

harness_start_relaycfg --workers 2
harness_start_nginx

jr() { printf '%s' "$HTTP_BODY" | jq -r "$1"; }
# domains: allowedDomains of K1's answer ("pending" when it is one).
domains() {
	ctl_fetch S "$K1"
	if [ "$HTTP_STATUS" != 200 ]; then
		echo "status $HTTP_STATUS"
	elif [ "$(jr ".pending // [] | length")" != 0 ]; then
		echo pending
	else
		jr ".configs[\"$K1\"].config.allowedDomains | join(\",\")"
	fi
}
# selects NAME: SELECT statements NAME has run.
selects() {
	repl_sql "$1" "SHOW GLOBAL STATUS LIKE 'Com_select'" | cut -f2
}
# mc_flush: empty memcached (every read then goes to MariaDB).
mc_cmd() {
	exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"
	printf '%s\r\n' "$1" >&3
	sed -u '/^END\r\?$/q; /^OK\r\?$/q' <&3 | tr -d '\r'
	exec 3<&-
}
mc_flush() {
	local got
	got=$(mc_cmd flush_all)
	[ "$got" = OK ] || diag "flush_all: $got"
}
# mc_values: every value memcached holds, one "key value" line each.
mc_values() {
	local k
	# metadump URL-encodes the keys
	for k in $(mc_cmd "lru_crawler metadump all" |
	    sed -n 's/^key=\([^ ]*\).*/\1/p'); do
		k=$(printf '%b' "${k//%/\\x}")
		printf '%s ' "$k"
		mc_cmd "get $k" | sed -n 2p
	done
}
# burst N WANT [cold]: N fetches (each after a flush when cold); "ok" when
# each answered WANT, else the answers.
burst() {
	local i got bad=""
	for i in $(seq "$1"); do
		[ -z "${3:-}" ] || mc_flush
		got=$(domains)
		[ "$got" = "$2" ] || bad="$bad [$i: $got]"
	done
	echo "${bad:-ok}"
}

# cold_reads SERVER N WHAT: N fetches, each on an emptied cache, each
# full and v3 (no pending); SERVER ran more than 3 SELECTs a fetch (a
# cold build reads about 8).  Sets $DELTA.
cold_reads() {
	local before
	before=$(selects "$1")
	is "$(burst "$2" https://v3.example cold)" ok \
	    "$3: $2 full answers on a cold cache"
	DELTA=$(($(selects "$1") - before))
	ok $((DELTA > 3 * $2 ? 0 : 1)) "... read from $1 ($DELTA SELECTs)"
}
# scrape_up: the relaycfg_mariadb_up lines of /metrics into $UP.
scrape_up() {
	http GET /metrics
	UP=$(printf '%s\n' "$HTTP_BODY" | grep '^relaycfg_mariadb_up{')
}
# up_count SERVER VALUE: how many of them say SERVER is VALUE.
up_count() {
	printf '%s\n' "$UP" | grep -c "server=\"$1\"} $2\$"
}

# --- (f) the gauge, before any request: true from the start ----------------
scrape_up
is "$(up_count primary 1)" 2 \
    "mariadb_up: both workers up on the primary before any request"
is "$(up_count replica1 1)" 2 "... and on replica1"
unlike "$UP" 'server="replica2"' "... and no line for a replica not configured"

# --- (a) reads go to the replica -------------------------------------------
is "$(domains)" https://v1.example "a config, v1"
mc_flush
P0=$(selects prim)
R0=$(selects rep1)
for i in 1 2 3 4; do domains >/dev/null; mc_flush; done
DP=$(($(selects prim) - P0))
DR=$(($(selects rep1) - R0))
diag "cold fetches: $DP SELECTs on the primary, $DR on the replica"
ok $((DR > DP ? 0 : 1)) "the replica answers the reads ($DR SELECTs; the primary $DP)"

# --- (b) the replica's SQL thread stopped: never older than the write ------
repl_sql rep1 "STOP SLAVE SQL_THREAD"
ctl option set project "$PROJ" sentry:origins '["https://v2.example"]' >/dev/null
ok $? "relaycfgctl option set v2 (the replica will not apply it)"
is "$(burst 20 https://v2.example)" ok \
    "replica stopped: all 20 answers after relaycfgctl returned carry v2"
is "$(repl_sql rep1 "SELECT value FROM sentry_projectoptions
    WHERE project_id = $PROJ AND \`key\` = 'sentry:origins'")" \
    '["https://v1.example"]' "... while the replica still holds v1"
repl_sql rep1 "START SLAVE SQL_THREAD"
repl_wait_caught_up rep1 prim 30
ok $? "replica started again and caught up"
sleep 1.2	# a lagging replica rests db_replica_rest_ms
is "$(burst 5 https://v2.example)" ok "after it caught up: v2"
VALS=$(mc_values)
unlike "$VALS" 'v1\.example' "memcached holds no entry with v1"
is "$(ctl option get project "$PROJ" sentry:origins --cached | jq -c .)" \
    '["https://v2.example"]' "... the cached project options are v2"

# --- (b') MASTER_DELAY: the replica applies everything 5 s late ------------
repl_sql rep1 "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 5; START SLAVE"
ctl option set project "$PROJ" sentry:origins '["https://v3.example"]' >/dev/null
ok $? "relaycfgctl option set v3 (the replica applies it 5 s late)"
is "$(burst 20 https://v3.example)" ok \
    "replica 5 s behind: all 20 answers after relaycfgctl returned carry v3"
repl_wait_caught_up rep1 prim 30
ok $? "the delayed replica caught up"
sleep 1.2
is "$(burst 5 https://v3.example)" ok "after it caught up: v3"
VALS=$(mc_values)
unlike "$VALS" 'v[12]\.example' "memcached holds no entry with v1 or v2"
repl_sql rep1 "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY = 0; START SLAVE"
repl_wait_caught_up rep1 prim 30

# --- (b'') a request whose replica was chosen before the write --------------
# tests/integration/test_reader (see its header): the request's first
# read chooses replica 1; then the replica stops applying, relaycfgctl
# changes the option and returns, and the same request reads the options
# after the write's tombstone: it must read and write back the new value.
# Its own configuration waits up to 2 s for the replica, so that the
# workers' own writes do not keep it off the replica at the first read.
{ cat "$RELAYCFG_CONF"; echo "db_replica_wait_ms = 2000"; } >"$T/reader.conf"
NEW_ORIGINS='["https://v5.example"]'
# replica_name LABEL: the server behind relaycfg's label for a replica.
replica_name() {
	case $1 in replica1) echo rep1 ;; replica2) echo rep2 ;; esac
}
# What test_reader asks ("@@" lines, harness_drive; its header lists them).
reader_order() {
	local cmd=${1%% *} arg="" other
	[ "$cmd" = "$1" ] || arg=${1#* }
	case $cmd in
	stop-sql)	repl_sql rep1 "STOP SLAVE SQL_THREAD" ;;
	start-sql)	repl_sql rep1 "START SLAVE SQL_THREAD" ;;
	lag)	# the other replica applies the write before the request
		# looks (its wait is 300 ms: a loaded machine can take longer)
		repl_sql "$(replica_name "$arg")" "STOP SLAVE SQL_THREAD"
		# a new value each time: an unchanged one moves no position
		ctl option set project "$PROJ" sentry:lag-mark \
		    "\"$(date +%s%N)\"" >/dev/null
		if [ "$arg" = replica1 ]; then other=rep2; else other=rep1; fi
		repl_wait_caught_up "$other" prim 30 ;;
	write)	ctl option set project "$PROJ" sentry:origins \
		    "$NEW_ORIGINS" >/dev/null
		[ -z "$arg" ] ||
		    repl_wait_caught_up "$(replica_name "$arg")" prim 30 ;;
	kill-primary)	repl_kill prim ;;
	kill)	repl_kill "$(replica_name "$arg")" ;;
	restart-primary)
		repl_restart_mariadbd prim
		repl_sql rep1 "START SLAVE SQL_THREAD"
		repl_sql rep2 "START SLAVE SQL_THREAD" ;;
	*)	diag "test_reader asked for an unknown order: $1" ;;
	esac
}
harness_drive reader_order "$T/test_reader.log" env \
    RELAYCFG_CONF="$T/reader.conf" PROJ="$PROJ" NEW_ORIGINS="$NEW_ORIGINS" \
    "$top_builddir/tests/integration/test_reader" chosen-before-write
ok $? "test_reader finished cleanly"
# Applying again even if test_reader stopped before it asked.
repl_sql rep1 "START SLAVE SQL_THREAD"
# Back to v3, which the sections below expect.
ctl option set project "$PROJ" sentry:origins '["https://v3.example"]' >/dev/null
repl_wait_caught_up rep1 prim 30
ok $? "the replica caught up again"

# --- (c) the replica killed: the primary serves, no pending -----------------
repl_kill rep1
cold_reads prim 10 "replica killed"
scrape_up
ok $(($(up_count replica1 0) >= 1 ? 0 : 1)) \
    "mariadb_up: replica1 0 once a worker found it down"
repl_restart_mariadbd rep1
repl_wait_caught_up rep1 prim 30
ok $? "replica back and caught up"
sleep 1.2	# DB_RETRY_MS: a down server is tried again after it
cold_reads rep1 4 "replica back"

# --- (d) the primary killed: the replica serves, writes fail clearly -------
repl_kill prim
cold_reads rep1 6 "primary killed"
OUT=$(ctl option set project "$PROJ" sentry:origins '["https://v4.example"]' 2>&1)
ok $((! $?)) "relaycfgctl option set fails with the primary down"
like "$OUT" 'MariaDB unreachable' "... and says why: $OUT"
repl_restart_mariadbd prim
repl_wait_caught_up rep1 prim 30
ok $? "primary back, the replica reconnected"

# --- (e) two replicas, one down: the other serves --------------------------
# relaycfg starts with replica1 already down: the gauge says so at once.
harness_stop_relaycfg
write_conf "db_replica = 127.0.0.1:$R2_PORT" "db_replica_wait_ms = 20"
repl_kill rep1
harness_start_relaycfg --workers 2
scrape_up
is "$(up_count replica2 1)" 2 \
    "mariadb_up from the start: replica2 (db_replica over TCP) up in both workers"
is "$(up_count replica1 0)" 2 "... replica1 (down) 0 in both"
is "$(up_count primary 1)" 2 "... primary 1 in both"
P0=$(selects prim)
cold_reads rep2 10 "two replicas, replica1 down"
DP=$(($(selects prim) - P0))
ok $((DELTA > 2 * DP ? 0 : 1)) "... the primary only its position ($DP SELECTs)"
repl_kill rep2
cold_reads prim 6 "both replicas down"

# all_back WHAT: every server test_reader had killed started again, both
# replicas applying and caught up (even if test_reader stopped early).
all_back() {
	local r
	[ -n "$(repl_pid prim)" ] || repl_restart_mariadbd prim
	for r in rep1 rep2; do
		[ -n "$(repl_pid "$r")" ] || repl_restart_mariadbd "$r"
		repl_sql "$r" "START SLAVE SQL_THREAD"
	done
	repl_wait_caught_up rep1 prim 30 && repl_wait_caught_up rep2 prim 30
	ok $? "$1"
}

# --- (g) the primary down when a request must choose its reader again -----
# tests/integration/test_reader primary-down (see its header): the request
# chose replica B because A lagged; a write tombstones the options and B
# applies it; A's rest ends and the primary is killed; reading the options
# again, the request must keep B (checked), not read A unchecked.
repl_restart_mariadbd rep1
repl_restart_mariadbd rep2
repl_wait_caught_up rep1 prim 30 && repl_wait_caught_up rep2 prim 30
ok $? "both replicas back and caught up"
{ cat "$RELAYCFG_CONF"; echo "db_replica_wait_ms = 300"
  echo "db_replica_rest_ms = 300"; } >"$T/reader2.conf"
NEW_ORIGINS='["https://v6.example"]'
harness_drive reader_order "$T/test_reader2.log" env \
    RELAYCFG_CONF="$T/reader2.conf" PROJ="$PROJ" NEW_ORIGINS="$NEW_ORIGINS" \
    "$top_builddir/tests/integration/test_reader" primary-down
ok $? "test_reader primary-down finished cleanly"
all_back "the primary back, both replicas caught up"

# --- (h) the checked replica and the primary down together ------------------
# test_reader checked-down (see its header): the request chose B because
# A lagged, B applied a write, then B and the primary are killed while A
# rests; the request's next read must fail, not read A unchecked.
NEW_ORIGINS='["https://v7.example"]'
harness_drive reader_order "$T/test_reader3.log" env \
    RELAYCFG_CONF="$T/reader2.conf" PROJ="$PROJ" NEW_ORIGINS="$NEW_ORIGINS" \
    "$top_builddir/tests/integration/test_reader" checked-down
ok $? "test_reader checked-down finished cleanly"
all_back "all three back, both replicas caught up"

# --- (i) a replica that does not answer (frozen, as a host that drops packets)
# Each worker waits for it once (its query's db_read_timeout, then
# db_connect_timeout), not on every cold request after DB_RETRY_MS: a
# replica whose failed attempt took long is left alone twenty times as
# long, at most a minute (store.c, replica_unreachable); the primary serves.
harness_stop_relaycfg
write_conf "db_connect_timeout = 1" "db_read_timeout = 2"
harness_start_relaycfg --workers 2
WANT=$(domains)
like "$WANT" '^https://' "a config before the replica freezes ($WANT)"
kill -STOP "$(repl_pid rep1)"
n0=$(grep -c ' access 200 POST /api/0/relays/projectconfigs/' "$T/relaycfg.log")
bad=""
for i in $(seq 24); do
	mc_flush
	got=$(domains)
	[ "$got" = "$WANT" ] || bad="$bad [$i: $got]"
	sleep 0.2
done
kill -CONT "$(repl_pid rep1)"
is "${bad:-ok}" ok "replica frozen: 24 full answers on a cold cache"
# relaycfg's own time, from its access log (not relaycfgctl's)
slow=$(grep ' access 200 POST /api/0/relays/projectconfigs/' "$T/relaycfg.log" |
    tail -n +$((n0 + 1)) | sed -n 's/.* \([0-9]*\)us .*/\1/p' |
    awk '$1 > 900000 { n++ } END { print n + 0 }')
ok $((slow <= 2 ? 0 : 1)) "replica frozen: one slow answer per worker at most ($slow took over 0.9 s)"

# --- (j) the primary down while the workers still rest the thawed replica ----
# Each worker rests the replica of (i) for twenty times what its failed
# attempt cost, up to a minute.  It answers again; the primary goes
# down: a cold key is built from the replica (unchecked, as in (d)), not
# pending until the rest ends.
kill -STOP "$(repl_pid rep1)"
for i in 1 2 3 4; do mc_flush; domains >/dev/null; done	# both workers rest it
kill -CONT "$(repl_pid rep1)"
repl_wait_caught_up rep1 prim 30
ok $? "replica thawed and caught up"
repl_kill prim
sleep 1.2	# DB_RETRY_MS: each worker tries a replica that failed after it
is "$(burst 6 "$WANT" cold)" ok \
    "primary down, the thawed replica still rested: 6 full answers on a cold cache, none pending"
repl_restart_mariadbd prim
repl_wait_caught_up rep1 prim 30
ok $? "primary back, the replica reconnected"
done_testing
