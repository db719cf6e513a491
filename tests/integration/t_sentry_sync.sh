#!/bin/bash
# relaycfgctl sentry-sync against a real PostgreSQL holding Sentry's tables
# (tests/data/sentry-pg-schema.sql, from Sentry's migrations) and the real
# MariaDB, memcached, relaycfg and nginx:
#   * the golden path: the same data entered with relaycfgctl and mirrored
#     from Sentry give the same v3 answer for every key;
#   * a sync without changes writes nothing and deletes no cache entry;
#   * one changed option, disabled key, deleted project: the next answer
#     shows it, and only that project's configs are rebuilt;
#   * a sync killed between its COMMIT and its cache deletes: the next
#     one (no changes left) drops the cache, and the answer is right;
#   * Sentry's sentry_relay.is_internal never marks a relay internal, and a
#     relaycfgctl mark survives syncs;
#   * a pickled option value is reported and left alone, the rest applies;
#   * so are threshold rows relaycfgctl threshold would refuse;
#   * --dry-run shows keys whole, UTF-8 as it is, controls escaped;
#   * the deletion guard, --dry-run, --force, the lock, the password kept
#     out of argv, a read-only Sentry role;
#   * --watch by polling, and woken by LISTEN/NOTIFY within a second;
#   * a Sentry that dropped project templates: relaycfg's go too (they
#     would block deleting their organization), listed by --dry-run.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/postgres.sh"

harness_init
need_binary jq
harness_start_mariadb
harness_start_memcached
pg_start
relay_new S
relay_new R1
relay_new R2
# 127.0.0.1 (every test request) is not internal: a relay is given
# configs only when S, or marked with relaycfgctl relay update --internal.
harness_write_conf \
    "static_relay = $(relay_id S) $(relay_pk S) internal" \
    "internal_networks = 10.99.0.0/16" \
    "sentry_pg = $(pg_conninfo)" \
    "sentry_pg_password = $PG_RO_PASSWORD"
ctl() { "$RELAYCFGCTL" -c "$RELAYCFG_CONF" "$@"; }
ctl db init >/dev/null || { diag "db init failed"; exit 1; }
harness_start_relaycfg
harness_start_nginx

# --- Sentry's data: every kind of row relaycfg reads ---------------------
pgsql_file "$top_srcdir/tests/data/sentry-pg-schema.sql" >/dev/null
ok $? "Sentry's schema loads into PostgreSQL"
# Organization 2 is pending deletion; projects: 1 active on a template,
# 2 active, 3 pending deletion, 4 hidden, 5 in organization 2.  Keys:
# active, inactive, rate-limited, labelled.  Options of every JSON type,
# Sentry's own sentry:relay-rev (relaycfg keeps its own), a pickled value
# (an old Sentry's) and a NULL.  Option values in organizations and
# templates are jsonb, as in Sentry 25.x.  DSN keys are placeholders until
# relaycfgctl has made the golden copy's (its keys are random).
pgsql "
INSERT INTO sentry_organization (id, name, slug, status, date_added,
    default_role, is_test, flags) VALUES
 (1, 'Acme Corp', 'acme', 0, '2024-03-01 10:00:00.123456+00', 'member', false, 1),
 (2, 'Umbrella', 'umbrella', 1, '2024-03-02 11:00:00+00', 'member', false, 1);
INSERT INTO sentry_projecttemplate (id, date_updated, date_added, name,
    organization_id) VALUES (1, now(), NULL, 'strict', 1);
INSERT INTO sentry_project (id, slug, name, forced_color, public,
    date_added, status, first_event, external_id, flags, platform,
    organization_id, template_id) VALUES
 (1, 'web', 'Web', NULL, false, '2024-03-01 10:05:00+00', 0, NULL, NULL, 0, 'javascript', 1, 1),
 (2, 'api', 'API', 'ff0000', false, '2024-03-01 10:06:00+00', 0, '2024-04-01 00:00:00+00', NULL, 0, 'python', 1, NULL),
 (3, 'old', 'Old', NULL, false, '2024-03-01 10:07:00+00', 2, NULL, NULL, 0, NULL, 1, NULL),
 (4, 'hidden', 'Hidden', NULL, false, '2024-03-01 10:08:00+00', 1, NULL, NULL, 0, NULL, 1, NULL),
 (5, 'umb', 'Umb', NULL, false, '2024-03-02 11:05:00+00', 0, NULL, NULL, 0, 'go', 2, NULL);
INSERT INTO sentry_projectkey (id, label, public_key, secret_key, roles,
    status, date_added, rate_limit_count, rate_limit_window, data,
    use_case, project_id) VALUES
 (1, NULL, NULL, NULL, 1, 0, now(), NULL, NULL, '{}', 'user', 1),
 (2, NULL, NULL, NULL, 1, 1, now(), NULL, NULL, '{}', 'user', 1),
 (3, NULL, NULL, NULL, 1, 0, now(), 100, 60, '{\"dynamicSdkLoaderOptions\": {\"hasReplay\": true}}', 'user', 2),
 (4, NULL, NULL, NULL, 1, 0, now(), NULL, NULL, '{}', 'user', 3),
 (5, NULL, NULL, NULL, 1, 0, now(), NULL, NULL, '{}', 'user', 4),
 (6, NULL, NULL, NULL, 1, 0, now(), 10, 3600, '{}', 'user', 5),
 (7, 'ci', NULL, NULL, 1, 0, now(), NULL, NULL, '{}', 'user', 2);
INSERT INTO sentry_projectoptions (project_id, key, value) VALUES
 (1, 'sentry:scrub_data', 'false'),
 (1, 'sentry:sensitive_fields', '[\"card_number\", \"iban\"]'),
 (1, 'sentry:origins', '[\"https://acme.example\", \"*.acme.test\"]'),
 (1, 'filters:browser-extensions', '\"1\"'),
 (1, 'filters:legacy-browsers', '[\"ie\", \"firefox\", \"chrome\", \"safari\", \"opera\", \"opera_mini\", \"android\", \"edge\"]'),
 (1, 'filters:web-crawlers', '\"1\"'),
 (1, 'filters:filtered-transaction', '\"1\"'),
 (1, 'sentry:blacklisted_ips', '[\"10.1.0.0/16\"]'),
 (1, 'sentry:relay-rev', '\"0123456789abcdef0123456789abcdef\"'),
 (2, 'sentry:scrub_ip_address', 'true'),
 (2, 'sentry:grouping_config', '\"newstyle:2023-01-11\"'),
 (2, 'sentry:transaction_metrics_custom_tags', '[\"customer\"]'),
 (2, 'sentry:target_sample_rate', '0.25'),
 (2, 'sentry:releases', NULL),
 (2, 'sentry:error_messages', 'gAJdcQBYAQAAACpxAWEu'),
 (5, 'filters:localhost', '\"1\"');
INSERT INTO sentry_organizationoptions (organization_id, key, value) VALUES
 (1, 'sentry:require_scrub_data', 'true'::jsonb),
 (1, 'sentry:safe_fields', '[\"user_id\"]'::jsonb),
 (2, 'sentry:require_scrub_ip_address', 'true'::jsonb);
INSERT INTO sentry_projecttemplateoption (project_template_id, key, value)
    VALUES (1, 'sentry:scrub_defaults', 'false'::jsonb),
           (1, 'filters:web-crawlers', '\"1\"'::jsonb);
INSERT INTO sentry_projecttransactionthreshold (date_updated, date_added,
    threshold, metric, edited_by_id, organization_id, project_id)
    VALUES (now(), now(), 500, 2, 17, 1, 2);
INSERT INTO sentry_projecttransactionthresholdoverride (date_updated,
    date_added, transaction, threshold, metric, edited_by_id,
    organization_id, project_id)
    VALUES (now(), now(), '/checkout', 800, 1, NULL, 1, 2);
INSERT INTO sentry_relay (relay_id, public_key, first_seen, last_seen,
    is_internal) VALUES
 ('$(relay_id R1)', '$(relay_pk R1)', now(), now(), true),
 ('$(relay_id R2)', '$(relay_pk R2)', now(), now(), NULL);
" >/dev/null
ok $? "a realistic Sentry data set"

# --- the golden copy: the same data through relaycfgctl -------------------
{
	ctl org create acme --name "Acme Corp" &&
	ctl org create umbrella --name Umbrella &&
	ctl org update 2 --status pending_deletion &&
	ctl project template create --org 1 strict &&
	ctl project create --org 1 web --name Web --platform javascript --template 1 &&
	ctl project create --org 1 api --name API --platform python &&
	ctl project create --org 1 old --name Old &&
	ctl project update 3 --status pending_deletion &&
	ctl project create --org 1 hidden --name Hidden &&
	ctl project update 4 --status disabled &&
	ctl project create --org 2 umb --name Umb --platform go &&
	ctl key create --project 1 &&
	ctl key create --project 1 &&
	ctl key create --project 2 --rate-limit 100/60 &&
	ctl key create --project 3 &&
	ctl key create --project 4 &&
	ctl key create --project 5 --rate-limit 10/3600 &&
	ctl key create --project 2 --label ci &&
	ctl option set project 1 sentry:scrub_data false &&
	ctl option set project 1 sentry:sensitive_fields '["card_number","iban"]' &&
	ctl option set project 1 sentry:origins '["https://acme.example","*.acme.test"]' &&
	ctl option set project 1 filters:browser-extensions '"1"' &&
	ctl option set project 1 sentry:blacklisted_ips '["10.1.0.0/16"]' &&
	ctl option set project 2 sentry:scrub_ip_address true &&
	ctl option set project 2 sentry:grouping_config '"newstyle:2023-01-11"' &&
	ctl option set project 2 sentry:transaction_metrics_custom_tags '["customer"]' &&
	ctl option set project 2 sentry:target_sample_rate 0.25 &&
	ctl option set project 2 sentry:releases null &&
	ctl option set project 5 filters:localhost '"1"' &&
	ctl option set org 1 sentry:require_scrub_data true &&
	ctl option set org 1 sentry:safe_fields '["user_id"]' &&
	ctl option set org 2 sentry:require_scrub_ip_address true &&
	ctl option set template 1 sentry:scrub_defaults false &&
	ctl option set template 1 filters:web-crawlers '"1"' &&
	ctl threshold set 2 --metric lcp --threshold 500 &&
	ctl threshold override set 2 /checkout --metric duration --threshold 800 &&
	ctl relay create "$(relay_id R1)" "$(relay_pk R1)" &&
	ctl relay create "$(relay_id R2)" "$(relay_pk R2)"
} >"$T/golden.out" 2>&1
GOLDEN_RC=$?
ok "$GOLDEN_RC" "the same data entered with relaycfgctl"
[ "$GOLDEN_RC" = 0 ] || diag "$(tail -n 5 "$T/golden.out")"
ctl key disable "$(sql "SELECT public_key FROM sentry_projectkey WHERE id = 2")" \
    >/dev/null
# The DSN keys relaycfgctl made become Sentry's.
while read -r id pub sec; do
	pgsql "UPDATE sentry_projectkey SET public_key = '$pub',
	    secret_key = '$sec' WHERE id = $id" >/dev/null
done < <(sql "SELECT id, public_key, secret_key FROM sentry_projectkey ORDER BY id")
KEYS=$(sql "SELECT public_key FROM sentry_projectkey ORDER BY id" | tr '\n' ' ')
key() { sql "SELECT public_key FROM sentry_projectkey WHERE id = $1"; }
K1=$(key 1) K3=$(key 3) K5=$(key 5) K6=$(key 6)

# answers: the v3 answer for every key, lastChange and lastFetch left out
# (the times relaycfg first saw a revision and computed it: not data).
answers() {
	# shellcheck disable=SC2086
	ctl_fetch S $KEYS
	printf '%s' "$HTTP_BODY" | jq -S 'del(.configs[]?.lastChange, .configs[]?.lastFetch)'
}
GOLDEN=$(answers)
is "$(printf '%s' "$GOLDEN" | jq '.configs | length')" 7 "the golden answer has all 7 keys"
is "$(printf '%s' "$GOLDEN" | jq -r ".configs[\"$(key 2)\"].disabled")" true \
    "the inactive key is disabled"

# Empty relaycfg (children first), and a new cache generation.
for t in sentry_projecttransactionthresholdoverride \
    sentry_projecttransactionthreshold sentry_projecttemplateoption \
    sentry_organizationoptions sentry_projectoptions sentry_projectkey \
    sentry_project sentry_projecttemplate sentry_organization \
    sentry_relayusage sentry_relay; do
	sql "DELETE FROM $t"
done
ctl invalidate --all >/dev/null
# shellcheck disable=SC2086
ctl_fetch S $KEYS
is "$(printf '%s' "$HTTP_BODY" | jq -c '[.configs[] | .disabled] | unique')" \
    '[true]' "emptied: no key is served"

# --- the first sync ---------------------------------------------------------
sync
is "$RC" 0 "sentry-sync: exit 0"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" '^sentry-sync: organizations \+2 ~0 -0, templates \+1 ~0 -0, projects \+5 ~0 -0, keys \+7 ~0 -0, project options \+14 ~0 -0, organization options \+3 ~0 -0, template options \+2 ~0 -0, thresholds \+1 ~0 -0, threshold overrides \+1 ~0 -0, relays \+2 ~0 -0; [0-9]+ SQL writes, [0-9]+ cache deletes, 1 rows skipped, [0-9.]+ s$' \
    "the summary: created per table, writes, deletes, skipped, duration"
like "$ERR" "skipped sentry_projectoptions \\(2 sentry:error_messages\\): value is not JSON \\(a pickled value\\?\\); relaycfg's row is left as it was" \
    "the pickled value is reported by table, owner and key"
AFTER=$(answers)
if [ "$AFTER" = "$GOLDEN" ]; then
	ok 0 "golden path: every key's v3 answer equals the relaycfgctl-entered one"
else
	ok 1 "golden path: every key's v3 answer equals the relaycfgctl-entered one"
	diff <(printf '%s\n' "$GOLDEN") <(printf '%s\n' "$AFTER") | head -n 60 |
	    while IFS= read -r line; do diag "$line"; done
fi
is "$(sql "SELECT COUNT(*) FROM sentry_projectoptions WHERE \`key\` = 'sentry:relay-rev'
    AND value = '\"0123456789abcdef0123456789abcdef\"'")" 0 \
    "Sentry's own sentry:relay-rev is not copied (relaycfg keeps its own)"
is "$(sql "SELECT value IS NULL FROM sentry_projectoptions WHERE project_id = 2
    AND \`key\` = 'sentry:releases'")" 1 "a NULL option value stays NULL"
is "$(sql "SELECT data FROM sentry_projectkey WHERE id = 3")" \
    '{"dynamicSdkLoaderOptions":{"hasReplay":true}}' "key data: JSON, stored compact"
is "$(sql "SELECT DATE_FORMAT(date_added, '%Y-%m-%d %H:%i:%s.%f') FROM sentry_organization WHERE id = 1")" \
    "2024-03-01 10:00:00.123456" "times arrive in UTC to the microsecond"

# --- Sentry's is_internal is not relaycfg's mark ------------------------------
# Sentry stores there whether R1 registered from a private address; in
# relaycfg the column is an operator's mark, internal from any address.
is "$(sql "SELECT COALESCE(is_internal, 0) FROM sentry_relay WHERE relay_id = '$(relay_id R1)'")" 0 \
    "relays: Sentry's is_internal = true does not mark R1 internal"
ctl_fetch R1 "$K1"
is "$HTTP_STATUS" 403 "R1, internal in Sentry, fetching from 127.0.0.1: 403"
# An operator's mark survives a sync that changes the relay, and a plain one.
ctl relay update "$(relay_id R2)" --internal >/dev/null
sync --dry-run
like "$OUT" '^sentry-sync \(dry run\): no changes' \
    "--dry-run: relaycfg's mark is no difference from Sentry's NULL"
relay_new R2NEW
sed "s/$(relay_id R2NEW)/$(relay_id R2)/" "$T/R2NEW.json" >"$T/R2B.json"
pgsql "UPDATE sentry_relay SET public_key = '$(relay_pk R2NEW)'
    WHERE relay_id = '$(relay_id R2)'" >/dev/null
sync
like "$OUT" '^sentry-sync: relays \+0 ~1 -0; ' "R2's new public key: one relay update"
is "$(sql "SELECT CONCAT(public_key, ' ', is_internal) FROM sentry_relay WHERE relay_id = '$(relay_id R2)'")" \
    "$(relay_pk R2NEW) 1" "R2 has Sentry's new key and keeps the operator's mark"
ctl_fetch R2B "$K1"
is "$HTTP_STATUS" 200 "R2, marked internal, fetches with its new key from 127.0.0.1"
sync
like "$OUT" '^sentry-sync: no changes' "a re-sync finds nothing to change"
ctl_fetch R2B "$K1"
is "$HTTP_STATUS:$(sql "SELECT is_internal FROM sentry_relay WHERE relay_id = '$(relay_id R2)'")" \
    200:1 "and R2 is still internal"

# --- a second sync with no change writes nothing ----------------------------
# sql_writes: statements that changed data, as MariaDB counts them.
sql_writes() {
	sql "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_insert',
	    'Com_update', 'Com_delete', 'Com_insert_select', 'Com_replace',
	    'Com_delete_multi', 'Com_update_multi')" | awk '{ n += $2 } END { print n }'
}
# mc_stat NAME: one memcached statistic.
mc_stat() {
	local line v=""
	exec 3<>"/dev/tcp/127.0.0.1/$MC_PORT"
	printf 'stats\r\n' >&3
	while read -r -t 5 line <&3; do
		line=${line%$'\r'}
		[ "$line" = END ] && break
		case $line in "STAT $1 "*) v=${line#"STAT $1 "} ;; esac
	done
	exec 3<&-
	echo "$v"
}
mc_deletes() { echo $(($(mc_stat delete_hits) + $(mc_stat delete_misses))); }
W0=$(sql_writes) D0=$(mc_deletes)
sync
is "$RC" 0 "second sync: exit 0"
like "$OUT" '^sentry-sync: no changes; 0 SQL writes, 0 cache deletes, 1 rows skipped' \
    "second sync: no changes"
is "$(sql_writes)" "$W0" "second sync: MariaDB ran no INSERT, UPDATE or DELETE"
is "$(mc_deletes)" "$D0" "second sync: memcached received no delete"
OUT=$(ctl --json sentry-sync 2>/dev/null)
is "$(printf '%s' "$OUT" | jq -c '[.changed, .sql_writes, .cache_deletes, .skipped, .tables.sentry_project]')" \
    '[false,0,0,1,{"created":0,"updated":0,"deleted":0}]' "--json: the summary as one object"

# --- one change at a time: only its project is rebuilt -----------------------
# built: configs built from rows so far (every cache miss of a config).
built() {
	http GET /metrics
	printf '%s\n' "$HTTP_BODY" | awk '/^relaycfg_configs_built_total/ { n += $2 } END { print n + 0 }'
}
# others_cached PUBKEY...: fetching these keys builds nothing.
others_cached() {
	local b0
	b0=$(built)
	ctl_fetch S "$@"
	is "$(built)" "$b0" "$1..: the other projects' configs are still cached"
}
OTHER_THAN_1="$K3 $(key 4) $K5 $K6 $(key 7)"
answers >/dev/null	# every config cached
answers >/dev/null

pgsql "UPDATE sentry_projectoptions SET value = '[\"card_number\", \"iban\", \"ssn\"]'
    WHERE project_id = 1 AND key = 'sentry:sensitive_fields'" >/dev/null
sync
like "$OUT" '^sentry-sync: project options \+0 ~1 -0; 1 SQL writes, [1-9][0-9]* cache deletes' \
    "a changed option: one update"
# shellcheck disable=SC2086
others_cached $OTHER_THAN_1
B0=$(built)
ctl_fetch S "$K1"
is "$(built)" $((B0 + 1)) "project 1's config is rebuilt"
is "$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$K1\"].config.datascrubbingSettings.sensitiveFields")" \
    '["card_number","iban","ssn"]' "the new sensitive field is in the next answer"

pgsql "UPDATE sentry_projectkey SET status = 1 WHERE id = 3" >/dev/null
sync
like "$OUT" '^sentry-sync: keys \+0 ~1 -0; 1 SQL writes' "a disabled key: one update"
# shellcheck disable=SC2086
others_cached $K1 $K5 $K6 $(key 7)
ctl_fetch S "$K3"
is "$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$K3\"].disabled")" true \
    "the disabled key is disabled in the next answer"

pgsql "DELETE FROM sentry_projectkey WHERE project_id = 4;
    DELETE FROM sentry_project WHERE id = 4" >/dev/null
sync
like "$OUT" '^sentry-sync: projects \+0 ~0 -1, keys \+0 ~0 -1; ' "a deleted project: it and its key"
# shellcheck disable=SC2086
others_cached $K1 $K3 $K6 $(key 7)
ctl_fetch S "$K5"
is "$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$K5\"].disabled")" true \
    "the deleted project's key is no longer served"
is "$(sql "SELECT COUNT(*) FROM sentry_project WHERE id = 4")" 0 "the project row is gone"

# --- a sync killed between its COMMIT and its cache deletes ------------------
# memcached frozen: the sync commits, then waits on its first cache delete;
# SIGKILL there.  The next sync finds relaycfg's rows equal to Sentry's
# (nothing to change, so nothing it would invalidate), and must still drop
# what the killed one did not: the key disabled in Sentry is disabled.
is "$(sql "SELECT COUNT(*) FROM relaycfg_sentry_sync_pending")" 0 \
    "a sync whose cache deletes went out leaves nothing pending"
ctl_fetch S "$K6"
is "$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$K6\"].disabled")" false \
    "key 6 is live and its config cached"
grep -v '^memcached_poll_timeout_ms' "$RELAYCFG_CONF" >"$T/slowmc.conf"
echo "memcached_poll_timeout_ms = 10000" >>"$T/slowmc.conf"
pgsql "UPDATE sentry_projectkey SET status = 1 WHERE id = 6" >/dev/null
kill -STOP "$MC_PID"
"$RELAYCFGCTL" -c "$T/slowmc.conf" sentry-sync >/dev/null 2>&1 &
KILLED=$!
for _ in $(seq 100); do
	[ "$(sql "SELECT status FROM sentry_projectkey WHERE id = 6")" = 1 ] && break
	sleep 0.1
done
is "$(sql "SELECT status FROM sentry_projectkey WHERE id = 6"):$(kill -0 "$KILLED" 2>/dev/null && echo running)" \
    1:running "the sync committed and waits on memcached"
kill -KILL "$KILLED"
wait "$KILLED" 2>/dev/null
kill -CONT "$MC_PID"
sync
is "$RC" 0 "the next sync: exit 0"
like "$OUT" '^sentry-sync: no changes' "... relaycfg's rows already equal Sentry's"
like "$ERR" 'a sync before this one committed but did not delete all its cache entries \(stopped, or memcached away\): every cache entry was dropped' \
    "... and it says it drops the cache the killed sync left"
ctl_fetch S "$K6"
is "$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$K6\"].disabled")" true \
    "the key disabled in Sentry is disabled in relaycfg's answer"
is "$(sql "SELECT COUNT(*) FROM relaycfg_sentry_sync_pending")" 0 "nothing pending any more"
sync
is "$RC" 0 "the sync after: exit 0"
unlike "$ERR" 'a sync before this one' "... nothing to recover, nothing said"
pgsql "UPDATE sentry_projectkey SET status = 0 WHERE id = 6" >/dev/null
sync

# --- a pickled value: reported, relaycfg's row left as it was ----------------
ctl option set project 2 sentry:error_messages '["timeout"]' >/dev/null
sync
is "$RC" 0 "a pickled value does not fail the sync"
like "$ERR" 'skipped sentry_projectoptions \(2 sentry:error_messages\)' "reported again"
is "$(sql "SELECT value FROM sentry_projectoptions WHERE project_id = 2 AND \`key\` = 'sentry:error_messages'")" \
    '["timeout"]' "relaycfg's value for it is left as it was"
pgsql "UPDATE sentry_projectoptions SET value = '[\"Timeout\"]'
    WHERE key = 'sentry:error_messages'" >/dev/null
sync
is "$(sql "SELECT value FROM sentry_projectoptions WHERE project_id = 2 AND \`key\` = 'sentry:error_messages'")" \
    '["Timeout"]' "rewritten as JSON in Sentry, it is mirrored"

# --- thresholds relaycfg would not take: reported, relaycfg's rows left -------
# relaycfgctl threshold takes metric 1 (duration) or 2 (lcp) and a multiple
# of 100; the server ignores any other row, so the sync must not make one.
ctl threshold set 1 --metric lcp --threshold 400 >/dev/null
pgsql "INSERT INTO sentry_projecttransactionthresholdoverride (date_updated,
        date_added, transaction, threshold, metric, edited_by_id,
        organization_id, project_id)
        VALUES (now(), now(), '/bad', 250, 7, NULL, 1, 2),
               (now(), now(), '/odd', 250, 1, NULL, 1, 2);
    INSERT INTO sentry_projecttransactionthreshold (date_updated, date_added,
        threshold, metric, edited_by_id, organization_id, project_id)
        VALUES (now(), now(), 300, 7, NULL, 1, 1)" >/dev/null
sync
is "$RC" 0 "bad threshold rows do not fail the sync"
like "$ERR" "skipped sentry_projecttransactionthresholdoverride \\(2 /bad\\): threshold is not a multiple of 100" \
    "an override with threshold 250 is reported by table and key"
like "$ERR" "skipped sentry_projecttransactionthresholdoverride \\(2 /odd\\): threshold" \
    "... with a good metric too"
like "$ERR" "skipped sentry_projecttransactionthreshold \\(1\\): metric is not 1 \\(duration\\) or 2 \\(lcp\\)" \
    "a threshold with metric 7 is reported"
like "$OUT" ' 3 rows skipped' "and counted as skipped"
is "$(sql "SELECT COUNT(*) FROM sentry_projecttransactionthresholdoverride WHERE \`transaction\` IN ('/bad', '/odd')")" 0 \
    "the refused overrides are not created in relaycfg"
is "$(sql "SELECT CONCAT(metric, ' ', threshold) FROM sentry_projecttransactionthreshold WHERE project_id = 1")" \
    "2 400" "relaycfg's own threshold for the refused row is left as it was"
pgsql "DELETE FROM sentry_projecttransactionthresholdoverride
        WHERE transaction IN ('/bad', '/odd');
    DELETE FROM sentry_projecttransactionthreshold WHERE project_id = 1" >/dev/null
sync
is "$RC:$(sql "SELECT COUNT(*) FROM sentry_projecttransactionthreshold WHERE project_id = 1")" 0:0 \
    "gone from Sentry, relaycfg's threshold goes"

# --- keys in --dry-run: text as it is, escaped only where it must be --------
# Transactions are text: an emoji, 200 characters past any cut, a
# backslash (shown escaped, so that no name looks like an escape), a tab
# (refused, and reported escaped).
LONG=$(printf 'é%.0s' $(seq 200))
pgsql "INSERT INTO sentry_projecttransactionthresholdoverride (date_updated,
        date_added, transaction, threshold, metric, edited_by_id,
        organization_id, project_id)
        VALUES (now(), now(), '/😀', 800, 1, NULL, 1, 2),
               (now(), now(), '$LONG', 800, 1, NULL, 1, 2),
               (now(), now(), '${LONG%é}è', 800, 1, NULL, 1, 2),
               (now(), now(), E'/a\\\\b', 800, 1, NULL, 1, 2),
               (now(), now(), E'/tab\\there', 800, 1, NULL, 1, 2)" >/dev/null
sync --dry-run
is "$RC" 0 "--dry-run with non-ASCII keys: exit 0"
PLAN=$(printf '%s\n' "$OUT" | grep '^create sentry_projecttransactionthresholdoverride' | sort)
is "$PLAN" "$(printf '%s\n' "create sentry_projecttransactionthresholdoverride 2 /a\\x5cb" \
    "create sentry_projecttransactionthresholdoverride 2 /😀" \
    "create sentry_projecttransactionthresholdoverride 2 ${LONG%é}è" \
    "create sentry_projecttransactionthresholdoverride 2 $LONG" | sort)" \
    "--dry-run: UTF-8 keys as they are, whole; a backslash as \\x5c"
like "$ERR" 'skipped sentry_projecttransactionthresholdoverride \(2 /tab\\x09here\): transaction is not 1-200 characters of text' \
    "a refused key's control character is shown as \\x09"
OUT=$(ctl --json sentry-sync --dry-run 2>/dev/null)
is "$(printf '%s' "$OUT" | jq -c '[.changes[] | select(.table == "sentry_projecttransactionthresholdoverride") | .key] | sort')" \
    "$(jq -cn --arg l "2 $LONG" --arg m "2 ${LONG%é}è" '["2 /a\\b", "2 /😀", $l, $m] | sort')" \
    "--dry-run --json: each key exactly as Sentry has it"
pgsql "DELETE FROM sentry_projecttransactionthresholdoverride
        WHERE transaction <> '/checkout'" >/dev/null

# --- changes whose order matters ------------------------------------------------
# In one sync: project 2's threshold goes (the project stays); project 5
# moves to organization 1 and organization 2 goes; projects 1 and 2 swap
# slugs; key 7 moves to project 1; a template named like another but for
# case (PostgreSQL's unique key compares bytes).
pgsql "DELETE FROM sentry_projecttransactionthreshold WHERE project_id = 2;
    UPDATE sentry_project SET organization_id = 1 WHERE id = 5;
    DELETE FROM sentry_organizationoptions WHERE organization_id = 2;
    DELETE FROM sentry_organization WHERE id = 2;
    UPDATE sentry_project SET slug = 'swap' WHERE id = 1;
    UPDATE sentry_project SET slug = 'web' WHERE id = 2;
    UPDATE sentry_project SET slug = 'api' WHERE id = 1;
    UPDATE sentry_projectkey SET project_id = 1 WHERE id = 7;
    INSERT INTO sentry_projecttemplate (id, date_updated, date_added, name,
        organization_id) VALUES (2, now(), now(), 'Strict', 1)" >/dev/null
sync
is "$RC" 0 "re-parenting, a slug swap and a parent's delete in one sync"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" '^sentry-sync: organizations \+0 ~0 -1, templates \+1 ~0 -0, projects \+0 ~3 -0, keys \+0 ~1 -0, organization options \+0 ~0 -1, thresholds \+0 ~0 -1; ' \
    "... each change counted once"
is "$(sql "SELECT GROUP_CONCAT(CONCAT(id, ':', slug, ':', organization_id) ORDER BY id) FROM sentry_project")" \
    "1:api:1,2:web:1,3:old:1,5:umb:1" "slugs swapped, project 5 in organization 1"
is "$(sql "SELECT COUNT(*) FROM sentry_projecttransactionthreshold"):$(sql "SELECT COUNT(*) FROM sentry_projecttransactionthresholdoverride")" \
    "0:1" "the threshold is gone, its project's override stays"
is "$(sql "SELECT GROUP_CONCAT(name ORDER BY id) FROM sentry_projecttemplate")" "strict,Strict" \
    "template names that differ in case both arrive"
ctl_fetch S "$(key 7)"
is "$(printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$(key 7)\"] | [.projectId, .slug]")" \
    '[1,"api"]' "the moved key answers for its new project"
sync
like "$OUT" '^sentry-sync: no changes' "and the next sync finds nothing to do"

# A table the Sentry role may not read is an error, not an empty table.
pgsql "REVOKE SELECT ON sentry_projectoptions FROM $PG_RO_USER" >/dev/null
N0=$(sql "SELECT COUNT(*) FROM sentry_projectoptions")
sync
is "$RC" 1 "an unreadable table fails the sync"
like "$ERR" 'may not read sentry_projectoptions' "and says which and why"
is "$(sql "SELECT COUNT(*) FROM sentry_projectoptions")" "$N0" "relaycfg's options are left alone"
pgsql "GRANT SELECT ON sentry_projectoptions TO $PG_RO_USER" >/dev/null

# --- safety -------------------------------------------------------------------
# A database without Sentry's tables (a wrong dbname) is no Sentry.
pgsql_db postgres "CREATE DATABASE nosentry" >/dev/null
sync --pg "host=$PG_SOCKDIR port=$PG_PORT dbname=nosentry user=postgres"
is "$RC" 1 "a database without Sentry's tables: refused"
like "$ERR" 'no sentry_organization table' "it says it is not Sentry's database"
# Sentry's tables, empty: the deletion guard.
pgsql_db postgres "CREATE DATABASE empty" >/dev/null
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" \
    -U postgres -d empty -f "$top_srcdir/tests/data/sentry-pg-schema.sql" >/dev/null
EMPTY="host=$PG_SOCKDIR port=$PG_PORT dbname=empty user=postgres"
ROWS0=$(sql "SELECT (SELECT COUNT(*) FROM sentry_project), (SELECT COUNT(*) FROM sentry_projectkey)")
sync --pg "$EMPTY"
is "$RC" 3 "an empty Sentry database: the deletion guard stops the sync (exit 3)"
like "$ERR" 'refusing to delete 4 of 4 organizations|refusing to delete [0-9]+ of [0-9]+ (projects|keys|organizations)' \
    "the guard says what it would delete"
like "$ERR" '--force' "and how to go on"
is "$(sql "SELECT (SELECT COUNT(*) FROM sentry_project), (SELECT COUNT(*) FROM sentry_projectkey)")" \
    "$ROWS0" "nothing was deleted"
sync --pg "$EMPTY" --dry-run
is "$RC" 3 "--dry-run against it: still refused"
like "$OUT" "delete sentry_project 1" "--dry-run lists the deletes"

pgsql "UPDATE sentry_project SET name = 'Web app' WHERE id = 1" >/dev/null
sync --dry-run
is "$RC" 0 "--dry-run: exit 0"
like "$OUT" $'^update sentry_project 1: name\nsentry-sync \\(dry run\\): projects \\+0 ~1 -0; 0 SQL writes' \
    "--dry-run prints each change and the summary"
is "$(sql "SELECT name FROM sentry_project WHERE id = 1")" Web "--dry-run writes nothing"

# libpq takes text that is no connection string as a database name (and
# tries its default socket): refused, with libpq's reason.
sync --pg "this is not conninfo"
is "$RC:$OUT" "2:" "--pg that is not a connection string: a usage error"
like "$ERR" '--pg is not a libpq connection string: missing "=" after "this" in connection info string' \
    "with libpq's reason"
sync --pg "   "
is "$RC" 2 "a blank --pg: refused"
like "$ERR" 'names no database' "... saying why"
sync --dry-run --pg "postgresql:///$PG_DB?host=$PG_SOCKDIR&port=$PG_PORT&user=$PG_RO_USER"
is "$RC" 0 "a postgresql:// URI is a connection string"
grep -v '^sentry_pg = ' "$RELAYCFG_CONF" >"$T/badpg.conf"
echo "sentry_pg = sentry on localhost" >>"$T/badpg.conf"
OUT=$("$RELAYCFGCTL" -c "$T/badpg.conf" sentry-sync 2>&1)
is "$?" 1 "sentry_pg that is not a connection string: a configuration error"
is "$OUT" "relaycfgctl: $T/badpg.conf:$(wc -l <"$T/badpg.conf"): sentry_pg: is not a libpq connection string: missing \"=\" after \"sentry\" in connection info string" \
    "... by file and line, with libpq's reason"

sync --pg "$(pg_conninfo) password=$PG_RO_PASSWORD"
is "$RC" 2 "--pg with a password: refused (argv is public)"
like "$ERR" 'sentry_pg_password' "and told where the password goes"
sed "s/^sentry_pg_password = .*/sentry_pg_password = wrong/" "$RELAYCFG_CONF" >"$T/wrong.conf"
OUT=$("$RELAYCFGCTL" -c "$T/wrong.conf" sentry-sync 2>&1)
is "$?" 1 "a wrong password fails the sync"
like "$OUT" 'password authentication failed' "with PostgreSQL's reason"
unlike "$OUT" 'wrong' "the password is not printed"

# The lock: another sync (here a client holding it) makes this one wait.
mariadb -S "$MARIADB_SOCKET" -u root relaycfg -e \
    "SELECT GET_LOCK(CONCAT(DATABASE(), ':relaycfg-sentry-sync'), 0); SELECT SLEEP(6)" \
    >/dev/null 2>&1 &
LOCKER=$!
for _ in $(seq 50); do
	[ "$(sql "SELECT IS_USED_LOCK(CONCAT(DATABASE(), ':relaycfg-sentry-sync')) IS NOT NULL")" = 1 ] && break
	sleep 0.1
done
sync
is "$RC" 1 "a second sync while one runs: refused"
like "$ERR" 'another sentry-sync holds' "it says why"
wait "$LOCKER"
sync
is "$RC:$(sql "SELECT name FROM sentry_project WHERE id = 1")" "0:Web app" \
    "after the lock is released the sync applies"

# The Sentry side is only read: sentry_ro has SELECT and nothing else, and
# the syncs above ran as sentry_ro.
is "$(pgsql "SELECT has_table_privilege('sentry_ro', 'sentry_project', 'INSERT')")" f \
    "the syncs ran as a role that cannot write to Sentry"

# --- --watch: polling, then LISTEN/NOTIFY ---------------------------------------
# wait_name NAME SECONDS: until project 1's name in relaycfg is NAME.
wait_name() {
	local i
	for i in $(seq $(($2 * 10))); do
		[ "$(sql "SELECT name FROM sentry_project WHERE id = 1")" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync --watch 2 \
    >"$T/watch.out" 2>"$T/watch.err" &
WATCH=$!
pgsql "UPDATE sentry_project SET name = 'Web 2' WHERE id = 1" >/dev/null
wait_name "Web 2" 10
ok $? "--watch 2 picks up a change within its interval"
kill -TERM "$WATCH"
wait "$WATCH"
is "$?" 0 "--watch stops cleanly on SIGTERM"
like "$(cat "$T/watch.out")" 'projects \+0 ~1 -0' "--watch logs the round that changed something"

pgsql_file "$top_srcdir/sql/sentry/relaycfg-notify.sql" >/dev/null 2>"$T/notify.err"
ok $? "relaycfg-notify.sql installs on Sentry's schema"
pgsql_file "$top_srcdir/sql/sentry/relaycfg-notify.sql" >/dev/null 2>"$T/notify.err"
ok $? "and again (idempotent)"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync --watch 300 \
    >"$T/watch.out" 2>"$T/watch.err" &
WATCH=$!
sleep 1		# its first round, then it listens
pgsql "UPDATE sentry_project SET name = 'Web 3' WHERE id = 1" >/dev/null
wait_name "Web 3" 5
ok $? "--watch 300 with the triggers: the change lands within seconds, not 300"
ROUNDS=$(wc -l <"$T/watch.out")
kill -TERM "$WATCH"
wait "$WATCH"
is "$?" 0 "stopped"
is "$ROUNDS" 2 "two rounds logged: the first (no changes), the notified one"

# --- --force: an intended mass deletion -----------------------------------------
pgsql "DELETE FROM sentry_projecttransactionthresholdoverride;
    DELETE FROM sentry_projecttransactionthreshold;
    DELETE FROM sentry_projectoptions; DELETE FROM sentry_projectkey
    WHERE project_id <> 1; DELETE FROM sentry_project WHERE id <> 1" >/dev/null
sync
is "$RC" 3 "deleting 3 of 4 projects trips the guard"
sync --force
is "$RC" 0 "--force applies it"
[ "$RC" = 0 ] || diag "$ERR"
is "$(sql "SELECT GROUP_CONCAT(id) FROM sentry_project")" 1 "one project left"
# shellcheck disable=SC2086
ctl_fetch S $KEYS
is "$(printf '%s' "$HTTP_BODY" | jq -c "[.configs | to_entries[] | select(.value.disabled != true) | .key] | sort")" \
    "$(jq -cn --arg a "$K1" --arg b "$(key 7)" '[$a, $b] | sort')" \
    "only project 1's active keys are served"

# --- Sentry without project templates (removed from Sentry in 2026) -----------
# scrub_defaults: template 1's option (false) reaches project 1's config.
scrub_defaults() {
	ctl_fetch S "$K1"
	printf '%s' "$HTTP_BODY" | jq -c ".configs[\"$K1\"].config.datascrubbingSettings.scrubDefaults"
}
pgsql "INSERT INTO sentry_organization (id, name, slug, status, date_added,
        default_role, is_test, flags)
        VALUES (3, 'Initech', 'initech', 0, now(), 'member', false, 1);
    INSERT INTO sentry_projecttemplate (id, date_updated, date_added, name,
        organization_id) VALUES (3, now(), now(), 'lax', 3);
    INSERT INTO sentry_projecttemplateoption (project_template_id, key, value)
        VALUES (3, 'sentry:scrub_data', 'false'::jsonb)" >/dev/null
sync
is "$RC:$(sql "SELECT COUNT(*) FROM sentry_projecttemplate WHERE organization_id = 3")" 0:1 \
    "a template in organization 3 is mirrored"
is "$(scrub_defaults)" false "project 1 inherits its template's sentry:scrub_defaults"
# Sentry's migrations drop the templates; then organization 3 is deleted.
pgsql "DROP TABLE sentry_projecttemplateoption;
    ALTER TABLE sentry_project DROP COLUMN template_id;
    DROP TABLE sentry_projecttemplate;
    DELETE FROM sentry_organization WHERE id = 3" >/dev/null
sync --dry-run
is "$RC" 0 "templates dropped in Sentry: --dry-run exit 0"
PLAN=$(printf '%s\n' "$OUT" | grep -v '^sentry-sync' | sort | tr '\n' ';')
is "$PLAN" "delete sentry_organization 3;delete sentry_projecttemplate 1;delete sentry_projecttemplate 2;delete sentry_projecttemplate 3;delete sentry_projecttemplateoption 1 filters:web-crawlers;delete sentry_projecttemplateoption 1 sentry:scrub_defaults;delete sentry_projecttemplateoption 3 sentry:scrub_data;update sentry_project 1: template_id;" \
    "--dry-run lists every template, template option and template_id as gone"
sync
is "$RC" 0 "templates dropped and an organization deleted in Sentry: the sync applies"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" '^sentry-sync: organizations \+0 ~0 -1, templates \+0 ~0 -3, projects \+0 ~1 -0, template options \+0 ~0 -3; ' \
    "... and counts them"
is "$(sql "SELECT CONCAT((SELECT COUNT(*) FROM sentry_projecttemplate), ' ',
    (SELECT COUNT(*) FROM sentry_projecttemplateoption), ' ',
    (SELECT COUNT(*) FROM sentry_project WHERE template_id IS NOT NULL), ' ',
    (SELECT COUNT(*) FROM sentry_organization WHERE id = 3))")" "0 0 0 0" \
    "no template, template option or project's template left; organization 3 gone"
is "$(scrub_defaults)" true "project 1 no longer inherits the template's option"
sync
like "$OUT" '^sentry-sync: no changes' "the next sync finds nothing to do"

done_testing
