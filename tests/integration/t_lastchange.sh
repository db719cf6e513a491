#!/bin/bash
# lastChange moves only when rev does, whatever memcached does: the pair
# (project revision, lastChange) persisted per project in Sentry's
# sentry:relay-rev / sentry:relay-rev-lastchange project options
# (src/config/lastchange.h), written only when the revision moved, never
# a failure when MariaDB cannot be read.  Real MariaDB, memcached, nginx.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
relay_stack_init
K2=$(ctl key create --project "$PROJ" | jq -r .public_key)
harness_start_relaycfg
harness_start_nginx
isnt() {
	ok $([ "$1" != "$2" ]; echo $?) "$3"
	[ "$1" != "$2" ] || diag "got twice: $1"
}
j() { printf '%s' "$HTTP_BODY" | jq -c "$1"; }
jr() { printf '%s' "$HTTP_BODY" | jq -r "$1"; }
# pair: the persisted options, as stored (JSON text).
pair() {
	sql "SELECT value FROM sentry_projectoptions WHERE project_id = $PROJ
	    AND \`key\` IN ('sentry:relay-rev', 'sentry:relay-rev-lastchange')
	    ORDER BY \`key\`" | paste -sd' ' -
}
# writes: INSERT and UPDATE statements MariaDB has run so far.
writes() {
	sql "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_insert',
	    'Com_update', 'Com_insert_select', 'Com_replace')" |
	    awk '{ n += $2 } END { print n }'
}
# txns: transactions MariaDB has begun so far.
txns() {
	sql "SHOW GLOBAL STATUS WHERE Variable_name = 'Com_begin'" |
	    awk '{ print $2 }'
}
# flush: empty memcached, as a restart or an operator would.
flush() {
	exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"
	printf 'flush_all\r\n' >&3
	read -r -t 5 line <&3
	exec 3<&-
	[ "${line%$'\r'}" = OK ] || diag "flush_all: $line"
}
# race NAME: K1 and K2 fetched at once with --no-cache while a transaction
# holds the project row for 1.5 s, so that both builds wait on it and then
# run together.  Sets LCA and LCB (their lastChange), FAILED (relaycfg's
# "lastChange: cannot" lines meanwhile) and WAITED (answers that took over
# 0.8 s, from relaycfg's access log, in us).
race() {
	local off pids k
	off=$(wc -c <"$T/relaycfg.log")
	mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot -N -B relaycfg -e \
	    "START TRANSACTION; SELECT id FROM sentry_project WHERE id = $PROJ
	    FOR UPDATE; SELECT SLEEP(1.5); COMMIT" >/dev/null &
	pids=$!
	sleep 0.3
	for k in "$K1" "$K2"; do
		"$RELAYCFGCTL" fetch --upstream "$BASE_URL" --credentials "$T/S.json" \
		    --no-cache "$k" >"$T/$1.$k" 2>&1 &
		pids="$pids $!"
	done
	wait $pids
	LCA=$(jq -r ".configs[\"$K1\"].lastChange" "$T/$1.$K1")
	LCB=$(jq -r ".configs[\"$K2\"].lastChange" "$T/$1.$K2")
	FAILED=$(tail -c +$((off + 1)) "$T/relaycfg.log" | grep -c 'lastChange: cannot')
	WAITED=$(tail -c +$((off + 1)) "$T/relaycfg.log" |
	    sed -n 's/.* access 200 POST .* \([0-9]*\)us .*/\1/p' |
	    awk '$1 >= 800000 { n++ } END { print n + 0 }')
}
# fetch KEY ARGS...: rev and lastChange of KEY's config, "rev lc".
fetch() {
	local k=$1
	shift
	ctl_fetch S "$@" "$k"
	jr ".configs[\"$k\"] | \"\(.rev) \(.lastChange)\""
}
REV_RE='"[0-9a-f]{32}"'
TIME_RE='"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"'

# --- the first build persists the pair --------------------------------
is "$(pair)" "" "a new project has no persisted pair"
W=$(writes)
B=$(txns)
read -r REV1 LC1 <<<"$(fetch "$K1")"
is "$(($(writes) - W)) $(($(txns) - B))" "1 0" \
    "first fetch: the pair added by one statement, outside a transaction"
like "$REV1" '^[0-9a-f]{32}$' "first fetch: a rev"
like "$(pair)" "^$REV_RE $TIME_RE\$" \
    "first fetch: sentry:relay-rev and sentry:relay-rev-lastchange written, JSON strings"
is "$(pair | cut -d' ' -f2)" "\"$LC1\"" "the persisted time is the answered lastChange"
PAIR1=$(pair)
# The persisted rev is the project's (keys left out), not the key's.
isnt "$(pair | cut -d' ' -f1)" "\"$REV1\"" "the persisted rev is the project revision, not a key's rev"

# Another key of the project: its own rev, the project's lastChange.
W=$(writes)
read -r REV2 LC2 <<<"$(fetch "$K2")"
isnt "$REV2" "$REV1" "another key of the project has its own rev"
is "$LC2" "$LC1" "... and the project's lastChange"
is "$(pair)" "$PAIR1" "... and the pair is unchanged"
is "$(writes)" "$W" "... and nothing was written"

# A key with a rate limit, in a project without quotas of its own: its
# config alone has a key quota (after the project's monitor quota, which
# every key has), and that is no project change.
K3=$(ctl key create --project "$PROJ" --rate-limit 1000/60 | jq -r .public_key)
W=$(writes)
ctl_fetch S "$K3"
is "$(j ".configs[\"$K3\"].config.quotas | map(.scope)")" '["project","key"]' \
    "a rate-limited key: the monitor quota, then its key quota"
is "$(jr ".configs[\"$K3\"].lastChange")" "$LC1" "... the project's lastChange"
is "$(fetch "$K1" --no-cache)" "$REV1 $LC1" "... and the other key's, rebuilt after it"
is "$(fetch "$K3" --no-cache | cut -d' ' -f2)" "$LC1" "... and its own, rebuilt again"
is "$(writes)" "$W" "... and nothing was written"

# --- memcached flushed: same rev, same lastChange, no write ---------------
sleep 1.1
W=$(writes)
flush
ctl_fetch S "$K1"
FETCH=$(jr ".configs[\"$K1\"].lastFetch")
is "$(jr ".configs[\"$K1\"] | \"\(.rev) \(.lastChange)\"")" "$REV1 $LC1" \
    "memcached flushed: rebuilt with the same rev and the same lastChange"
isnt "$FETCH" "$LC1" "... rebuilt indeed (a new lastFetch)"
is "$(writes)" "$W" "... without a write"
is "$(pair)" "$PAIR1" "... the pair as it was"

# --- memcached down: the same ----------------------------------------------
harness_stop_memcached
W=$(writes)
is "$(fetch "$K1")" "$REV1 $LC1" "memcached down: same rev, same lastChange"
is "$(fetch "$K2" --no-cache)" "$REV2 $LC1" "memcached down, another key: the project's lastChange"
is "$(fetch "$K1" --version 2)" "$REV1 $LC1" "memcached down, v2: the same"
is "$(writes)" "$W" "memcached down: nothing written"
harness_start_memcached "$MC_PORT"
sleep 2.5

# --- v1 (never cached) answers the persisted lastChange too ---------------
ctl_fetch S --version 1 "$PROJ"
is "$(jr ".configs[\"$PROJ\"].lastChange")" "$LC1" "v1: the persisted lastChange, not now"

# --- an option change: new rev, new lastChange, persisted -------------------
sleep 1.1
W=$(writes)
ctl option set project "$PROJ" sentry:origins '["https://example.com"]' >/dev/null
read -r REV3 LC3 <<<"$(fetch "$K1")"
isnt "$REV3" "$REV1" "option changed: a new rev"
ok $([[ "$LC3" > "$LC1" ]]; echo $?) "... and a later lastChange ($LC3)"
is "$(pair | cut -d' ' -f2)" "\"$LC3\"" "... persisted"
PAIR3=$(pair)
isnt "$PAIR3" "$PAIR1" "... with a new project revision"
is "$(fetch "$K2" | cut -d' ' -f2)" "$LC3" "the other key follows: same lastChange"
is "$(pair)" "$PAIR3" "... without another write"
flush
is "$(fetch "$K1")" "$REV3 $LC3" "flushed again: the new pair stands"
W2=$(writes)
is "$(fetch "$K1" --no-cache)" "$REV3 $LC3" "rebuilt with noCache: the same"
is "$(writes)" "$W2" "... and no write"

# Back to the old value: the old rev again, and a new lastChange (the
# config did change twice).
sleep 1.1
ctl option unset project "$PROJ" sentry:origins >/dev/null
read -r REV4 LC4 <<<"$(fetch "$K1")"
is "$REV4" "$REV1" "option unset: the first rev again (content digest)"
ok $([[ "$LC4" > "$LC3" ]]; echo $?) "... with a later lastChange"

# --- the persisted pair is no config input ----------------------------------
# Written behind relaycfg's back (as Sentry's own update_rev_for_option
# would), it changes no rev; the next build that needs it rewrites it.
sql "UPDATE sentry_projectoptions SET value = '\"0123456789abcdef0123456789abcdef\"'
    WHERE project_id = $PROJ AND \`key\` = 'sentry:relay-rev'"
ctl invalidate --project "$PROJ" >/dev/null
read -r REV5 LC5 <<<"$(fetch "$K1")"
is "$REV5" "$REV1" "a foreign sentry:relay-rev changes no rev"
ok $([[ "$LC5" > "$LC4" ]]; echo $?) "... but is not ours: a new lastChange, written"
is "$(pair | cut -d' ' -f2)" "\"$LC5\"" "... persisted"

# --- a claim is one transaction with one write ------------------------------
sleep 1.1
ctl option set project "$PROJ" sentry:origins '["https://c.example"]' >/dev/null
W=$(writes)
read -r REV7 LC7 <<<"$(fetch "$K1")"
ok $([[ "$LC7" > "$LC5" ]]; echo $?) "option changed again: a later lastChange ($LC7)"
is "$(pair | cut -d' ' -f2)" "\"$LC7\"" "... persisted"
is "$(($(writes) - W))" 1 "... by one write statement (both options at once)"

# --- two workers claiming one revision at once agree ------------------------
# A transaction holds the project row, so both workers' claims wait on it
# (their first statement locks the project rows) and then run one after
# the other: one writes, the other reads what it wrote.  One lastChange.
sleep 1.1
ctl option set project "$PROJ" sentry:origins '["https://d.example"]' >/dev/null
race claim
ok $([[ "$LCA" > "$LC7" ]]; echo $?) "concurrent claims: a new lastChange ($LCA)"
is "$LCB" "$LCA" "... the same from both workers"
is "$(pair | cut -d' ' -f2)" "\"$LCA\"" "... and persisted"
is "$FAILED" 0 "... without a failure"
# Both waited behind the held row, so they did run together.
is "$WAITED" 2 "... both claims waited for the project row"

# --- two workers adding a new project's first pair at once agree -----------
# Both INSERT IGNOREs wait on the project row (the foreign key's check), then
# one adds the pair and the other finds it there: that one reads it on the
# primary and answers the time the first wrote, without a transaction.
sql "DELETE FROM sentry_projectoptions WHERE project_id = $PROJ
    AND \`key\` IN ('sentry:relay-rev', 'sentry:relay-rev-lastchange')"
ctl invalidate --project "$PROJ" >/dev/null
W=$(writes)
B=$(txns)
race add
like "$(pair)" "^$REV_RE $TIME_RE\$" \
    "concurrent first pairs: one pair persisted"
is "$LCB" "$LCA" "... the same lastChange from both workers"
is "$(pair | cut -d' ' -f2)" "\"$LCA\"" "... and it is the persisted one"
is "$(($(writes) - W))" 2 \
    "... two INSERT IGNOREs (the second adding nothing), no other write"
is "$(($(txns) - B))" 1 "... and no transaction but the one that held the row"
is "$FAILED" 0 "... without a failure"
is "$WAITED" 2 "... both waited for the project row"

# --- half a pair: our rev added beside a time that is not its own ---------
# Only the time is stored (a half Sentry or an operator left): the first
# build adds the rev, and must not take the time beside it for its own.
sql "DELETE FROM sentry_projectoptions WHERE project_id = $PROJ
    AND \`key\` = 'sentry:relay-rev'"
sql "UPDATE sentry_projectoptions SET value = '\"2001-01-01T00:00:00.000000Z\"'
    WHERE project_id = $PROJ AND \`key\` = 'sentry:relay-rev-lastchange'"
ctl invalidate --project "$PROJ" >/dev/null
read -r REVH LCH <<<"$(fetch "$K1")"
ok $([[ "$LCH" > "$LCA" ]]; echo $?) \
    "half a pair (a time alone): a new lastChange, not the old time ($LCH)"
is "$(pair | cut -d' ' -f2)" "\"$LCH\"" "... persisted beside the rev"
LCA=$LCH

# --- a persisted pair that is not exactly ours is rewritten -------------------
# A time of another shape, or our rev in capitals (which a case-blind
# comparison would take for ours), is no pair: the next build writes now.
read -r REVN LCN <<<"$(fetch "$K1")"
is "$LCN" "$LCA" "settled: the persisted lastChange"
# tamper KEY VALUE: store VALUE as the project's option KEY behind
# relaycfg's back, flush memcached, and fetch K1 again: "rev lc".
tamper() {
	sql "UPDATE sentry_projectoptions SET value = '$2'
	    WHERE project_id = $PROJ AND \`key\` = '$1'"
	flush
	fetch "$K1"
}
read -r REV8 LC8 <<<"$(tamper sentry:relay-rev-lastchange "\"$(date -u +%FT%T)Z\"")"
is "$REV8" "$REVN" "a persisted time without microseconds: the same rev"
ok $([[ "$LC8" > "$LCA" ]]; echo $?) "... a new lastChange ($LC8)"
is "$(pair | cut -d' ' -f2)" "\"$LC8\"" "... persisted"
sleep 0.1
UPPER=$(pair | cut -d' ' -f1 | tr a-f A-F)
read -r REV9 LC9 <<<"$(tamper sentry:relay-rev "$UPPER")"
is "$REV9" "$REVN" "our rev in capitals: the same rev"
ok $([[ "$LC9" > "$LC8" ]]; echo $?) "... a new lastChange ($LC9)"
is "$(pair)" "$(printf '%s' "$UPPER" | tr A-F a-f) \"$LC9\"" \
    "... persisted, the rev in our letters"

# Back to the revision the sections below start from.
sleep 0.1
ctl option unset project "$PROJ" sentry:origins >/dev/null
read -r REV10 LC5 <<<"$(fetch "$K1")"
is "$REV10" "$REV1" "option unset again: the first rev"

# --- relaycfgctl shows the pair among the project's options -----------------
is "$(ctl option get project "$PROJ" | jq -c 'keys')" \
    '["sentry:relay-rev","sentry:relay-rev-lastchange"]' \
    "option get lists the two options (documented: not config inputs)"

# --- a refused write (as on a read-only server): answered, now, logged ----
sleep 1.1
ctl option set project "$PROJ" sentry:origins '["https://b.example"]' >/dev/null
sql "CREATE TRIGGER t_refuse BEFORE INSERT ON sentry_projectoptions
    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused'"
OFF=$(wc -c <"$T/relaycfg.log")
ctl_fetch S "$K1"
is "$HTTP_STATUS" 200 "write refused: still answered"
read -r REV6 LC6 <<<"$(jr ".configs[\"$K1\"] | \"\(.rev) \(.lastChange)\"")"
isnt "$REV6" "$REV1" "... the new config"
ok $([[ "$LC6" > "$LC5" ]]; echo $?) "... lastChange = now"
is "$(pair | cut -d' ' -f2)" "\"$LC5\"" "... nothing persisted"
for i in 1 2 3 4; do ctl_fetch S --no-cache "$K2"; done
is "$HTTP_STATUS" 200 "more refused writes: still answered"
N=$(tail -c +$((OFF + 1)) "$T/relaycfg.log" | grep -c 'lastChange: cannot write')
NW=$(worker_pids | wc -w)
ok $([ "$N" -ge 1 ] && [ "$N" -le "$NW" ]; echo $?) \
    "... logged once per worker at most ($N lines, $NW workers)"
sql "DROP TRIGGER t_refuse"
ctl option unset project "$PROJ" sentry:origins >/dev/null
is "$(fetch "$K1")" "$REV1 $LC5" "back to the persisted revision: its lastChange, read"

# --- MariaDB down: still answered, lastChange now, logged once -------------
# v1 builds every time, from rows memcached still holds.
ctl_fetch S --version 1 "$PROJ"
sleep 1.1
harness_stop_mariadb
OFF=$(wc -c <"$T/relaycfg.log")
for i in 1 2 3 4; do
	ctl_fetch S --version 1 "$PROJ"
	[ "$HTTP_STATUS" = 200 ] || break
done
is "$HTTP_STATUS" 200 "MariaDB down: v1 still answered from the cache"
if [ "$HTTP_STATUS" != 200 ]; then
	diag "body: $HTTP_BODY"
	tail -c +$((OFF + 1)) "$T/relaycfg.log" | tail -n 20 | sed 's/^/# /'
fi
LCD=$(jr ".configs[\"$PROJ\"].lastChange")
ok $([[ "$LCD" > "$LC5" ]]; echo $?) "... with lastChange = now ($LCD)"
N=$(tail -c +$((OFF + 1)) "$T/relaycfg.log" | grep -c 'lastChange: cannot read')
NW=$(worker_pids | wc -w)
ok $([ "$N" -ge 1 ] && [ "$N" -le "$NW" ]; echo $?) \
    "... logged once per worker at most ($N lines, $NW workers)"
harness_run_mariadbd
for i in $(seq 40); do
	ctl_fetch S --version 1 "$PROJ"
	[ "$(jr ".configs[\"$PROJ\"].lastChange")" = "$LC5" ] && break
	sleep 0.25
done
is "$(jr ".configs[\"$PROJ\"].lastChange")" "$LC5" "MariaDB back: the persisted lastChange again"

done_testing
