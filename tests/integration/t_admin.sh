#!/bin/bash
# relaycfgctl's admin commands against real servers: schema (and the SQL
# files applied by hand, as a DBA does), every write,
# the cache it invalidates (read back with --cached, i.e. through
# memcached as the server reads), invalidate after direct SQL, human and
# --json output, exit statuses; org delete's statements find their rows
# by an index (EXPLAIN of MariaDB's general log).
. "$top_srcdir/tests/lib/harness.sh"
harness_init
harness_start_mariadb
harness_start_memcached_logged
harness_write_conf "memcached_retry_timeout = 1"

ctl() { "$RELAYCFGCTL" -c "$RELAYCFG_CONF" "$@"; }
# run CMD...: $OUT (stdout), $ERR (stderr), $RC
run() {
	OUT=$(ctl "$@" 2>"$T/err")
	RC=$?
	ERR=$(cat "$T/err")
}
# field NAME: a "name: value" line of $OUT
field() { printf '%s\n' "$OUT" | sed -n "s/^$1: //p"; }

# --- schema -------------------------------------------------------------
# Only init and migrate write: anything else leaves an empty database be.
tables() { sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'relaycfg'"; }
run db stauts
is "$RC:$OUT" "2:" "db with an unknown subcommand is a usage error"
like "$ERR" "db init\|migrate\|status" "and says which there are"
run db frobnicate --json
is "$RC:$OUT" "2:" "also with an option"
run db
is "$RC:$OUT" "2:" "db without a subcommand is a usage error"
run db --help
is "$RC:$ERR" "0:" "db --help: exit 0"
like "$OUT" "db init \| migrate \| status" "and the db usage on stdout"
is "$(tables)" 0 "none of them created the schema"
run db status
is "$RC:$OUT" "0:schema version 0 (latest 5): not initialised; run relaycfgctl db init" \
    "db status on an empty database"
run db migrate
is "$RC" 1 "db migrate refuses an empty database"
like "$ERR" "run relaycfgctl db init" "and says what to do"
run db init
is "$RC:$OUT" "0:schema created from version 0 to 5" "db init creates the schema"
run db init
is "$RC:$OUT" "0:schema already at version 5" "db init twice is harmless"
run db migrate
is "$RC:$OUT" "0:schema already at version 5" "db migrate when up to date"
run --json db status
is "$OUT" '{"version":5,"latest":5,"pending":[]}' "db status --json"
is "$(sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'relaycfg'")" 13 \
    "eleven Sentry tables, the version table and the sync's pending row"
is "$(sql "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'relaycfg' AND (ENGINE <> 'InnoDB' OR TABLE_COLLATION NOT LIKE 'utf8mb4%')")" 0 \
    "all InnoDB, utf8mb4"
# A migration interrupted after its DDL (its row missing) runs again.
sql "INSERT INTO sentry_organization (name, slug) VALUES ('Kept', 'kept')"
sql "DELETE FROM relaycfg_schema_version"
run db init
is "$RC:$OUT" "0:schema created from version 0 to 5" "a half-applied migration re-runs"
is "$(sql "SELECT slug FROM sentry_organization")" kept "and keeps the data"
sql "DELETE FROM sentry_organization"
# The SQL files, applied by hand, leave what db init and migrate leave:
# each records its version, so db status and db migrate go on from there.
rootsql() { mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot -N -B "$@"; }
# schema DB: every table's definition, AUTO_INCREMENT counters left out.
schema() {
	local t
	for t in $(rootsql "$1" -e "SHOW TABLES"); do
		rootsql "$1" -e "SHOW CREATE TABLE $t" | sed 's/ AUTO_INCREMENT=[0-9]*//'
	done
}
# hand DB FILE...: apply the files as a DBA does, with the mariadb client.
hand() {
	local db=$1 f
	shift
	for f in "$@"; do
		rootsql "$db" <"$top_srcdir/sql/$f" || return 1
	done
}
rootsql -e "CREATE DATABASE hand1; CREATE DATABASE hand4"
sed 's/^db_name = .*/db_name = hand1/' "$RELAYCFG_CONF" >"$T/hand1.conf"
sed 's/^db_name = .*/db_name = hand4/' "$RELAYCFG_CONF" >"$T/hand4.conf"
hand hand1 001_initial.sql
ok $? "001_initial.sql applies by hand"
OUT=$("$RELAYCFGCTL" -c "$T/hand1.conf" db status 2>&1)
is "$OUT" "schema version 1 (latest 5): 4 migration(s) pending; run relaycfgctl db migrate" \
    "db status after 001 by hand: version 1"
OUT=$("$RELAYCFGCTL" -c "$T/hand1.conf" db init 2>&1)
is "$?:$OUT" "1:relaycfgctl: db init: the schema is at version 1: run relaycfgctl db migrate" \
    "db init refuses the older schema"
OUT=$("$RELAYCFGCTL" -c "$T/hand1.conf" db migrate 2>&1)
is "$?:$OUT" "0:schema migrated from version 1 to 5" "db migrate goes on from there"
# shellcheck disable=SC2046
hand hand4 $(cd "$top_srcdir/sql" && ls [0-9]*.sql)
ok $? "every file applies by hand"
OUT=$("$RELAYCFGCTL" -c "$T/hand4.conf" db status 2>&1)
is "$OUT" "schema version 5 (latest 5): up to date" "db status after all of them: up to date"
OUT=$("$RELAYCFGCTL" -c "$T/hand4.conf" db migrate 2>&1)
is "$?:$OUT" "0:schema already at version 5" "db migrate has nothing to do"
OUT=$("$RELAYCFGCTL" -c "$T/hand4.conf" db init 2>&1)
is "$?:$OUT" "0:schema already at version 5" "nor has db init"
hand hand4 003_transaction_thresholds.sql
ok $? "a file applied again by hand is harmless"
VERSIONS="SELECT GROUP_CONCAT(version, ' ', name ORDER BY version) FROM relaycfg_schema_version"
is "$(rootsql hand4 -e "$VERSIONS")" "$(sql "$VERSIONS")" \
    "the versions recorded are the tool's"
is "$(schema hand4)" "$(schema relaycfg)" "by hand: the same tables as db init's"
is "$(schema hand1)" "$(schema relaycfg)" "001 by hand, then db migrate: the same"
rootsql -e "DROP DATABASE hand1; DROP DATABASE hand4"

# Every lookup the store makes has an index.
explain() { sql "EXPLAIN $1" | awk -F'\t' '{print $4 ":" $6}' | head -1; }
like "$(explain "SELECT id FROM sentry_projectkey WHERE public_key IN ('0123456789abcdef0123456789abcdef', _utf8mb4 X'41')")" \
    "^(range|const|ref):sentry_projectkey_public_key_uniq" "projectkey by public_key uses its index"
like "$(explain "SELECT id FROM sentry_projectkey WHERE project_id IN (1,2)")" \
    ":sentry_projectkey_project_id" "projectkey by project uses its index"
like "$(explain "SELECT id FROM sentry_relay WHERE relay_id IN ('6f1b2e3c-1234-4abc-8def-0123456789ab', _utf8mb4 X'41')")" \
    ":sentry_relay_relay_id_uniq" "relay by relay_id uses its index"
like "$(explain "SELECT id FROM sentry_project WHERE template_id = 1")" \
    ":sentry_project_template_id" "project by template uses its index"

# --- organizations ------------------------------------------------------
run org create acme --name "Acme Inc"
is "$RC" 0 "org create"
ORG=$(field id)
is "$(field slug):$(field name):$(field status_name)" "acme:Acme Inc:active" "org create prints the new row"
run --json org create beta
BETA=$(printf '%s' "$OUT" | jq -r .id)
is "$(printf '%s' "$OUT" | jq -r '.slug + ":" + .name + ":" + (.status|tostring)')" "beta:beta:0" \
    "org create --json (name defaults to the slug)"
run org create acme
is "$RC" 1 "a taken slug is refused"
like "$ERR" "slug is taken" "and says so"
run org create "Bad Slug"
like "$RC:$ERR" "^2:relaycfgctl: org create: an organization slug is 1-50" "a bad slug is a usage error, and says why"
run org create 1234
is "$RC" 2 "an all-digit slug is a usage error"
run org create ok-slug --name "$(printf '%065d' 0)"
is "$RC" 2 "a name too long is a usage error"
run org list
is "$OUT" "$ORG	acme	active	Acme Inc
$BETA	beta	active	beta" "org list, one line per row"
run org show "$ORG" --json
is "$(printf '%s' "$OUT" | jq -r .name)" "Acme Inc" "--json also after the command"
run org show 999
is "$RC:$ERR" "1:relaycfgctl: org show: no such organization" "org show of a missing id"
run org show abc
is "$RC" 2 "org show of a non-id is a usage error"

run org show "$ORG" --cached
run org update "$ORG" --name "Acme Corp" --slug acme-corp
is "$RC:$OUT" "0:organization $ORG updated" "org update"
run org show "$ORG" --cached
is "$(field slug):$(field name)" "acme-corp:Acme Corp" "org update: the cached copy is fresh"
run org disable "$ORG"
run org show "$ORG" --cached
is "$(field status_name)" pending_deletion "org disable: status 1 (pending deletion), fresh in cache"
run org enable "$ORG"
run org show "$ORG" --cached
is "$(field status_name)" active "org enable"
run org update "$ORG"
like "$RC:$ERR" "^2:relaycfgctl: org update: nothing to change" "org update with nothing to change is a usage error"
run org update "$ORG" --slug "Bad Slug"
is "$RC" 2 "org update with a bad slug is a usage error"
run org update "$ORG" --status nonsense
is "$RC" 2 "org update with a bad status"

# --- templates, projects ------------------------------------------------
run project template create --org "$ORG" base
is "$RC" 0 "project template create"
TMPL=$(field id)
run project template list
is "$OUT" "$TMPL	$ORG	base" "project template list"
run project create web --platform javascript --template "$TMPL"
is "$RC" 2 "project create without --org is a usage error"
run project create --org 999 web
is "$RC:$ERR" "1:relaycfgctl: project create: no such organization" "project create in a missing org"
run project create --org "$BETA" web --template "$TMPL"
like "$RC:$ERR" "^2:.*the template belongs to another organization" "a template of another organization is a refused value (usage)"
run project create --org "$ORG" "Bad Slug"
is "$RC" 2 "project create with a bad slug is a usage error"
run project create --org "$ORG" web --name "Web" --platform javascript --template "$TMPL"
is "$RC" 0 "project create"
PROJ=$(field id)
is "$(field slug):$(field platform):$(field template_id)" "web:javascript:$TMPL" "project create prints the new row"
run project create --org "$ORG" web
is "$RC" 1 "a taken project slug is refused"
# The default filters of a javascript project are written with its row:
# one that fails leaves no project (it was left without its filters, and
# the command said it failed).
sql "CREATE TRIGGER t_admin_po_refuse BEFORE INSERT ON sentry_projectoptions FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by t_admin'"
run project create --org "$ORG" jsfail --platform javascript-react
is "$RC" 1 "project create whose default filters cannot be written fails"
is "$(sql "SELECT COUNT(*) FROM sentry_project WHERE slug = 'jsfail'")" 0 \
    "... and leaves no project behind"
sql "DROP TRIGGER t_admin_po_refuse"
run --json project create --org "$BETA" api
PROJ2=$(printf '%s' "$OUT" | jq -r .id)
run project list --org "$ORG"
is "$OUT" "$PROJ	$ORG	web	active	$TMPL	javascript	Web" "project list --org"
run project show "$PROJ" --cached
run project update "$PROJ" --platform none --template none --name "Web App"
is "$RC" 0 "project update"
run project show "$PROJ" --cached
is "$(field platform):$(field template_id):$(field name)" "-:-:Web App" "project update: fresh in cache"
run project disable "$PROJ"
run project show "$PROJ" --cached
is "$(field status_name)" disabled "project disable, fresh in cache"
run project enable "$PROJ"
run project update "$PROJ" --template "$TMPL"
is "$RC" 0 "project update --template"

# --- keys ---------------------------------------------------------------
run key create --project "$PROJ" --label main --rate-limit 100/60
is "$RC" 0 "key create"
PK=$(field public_key)
like "$PK:$(field secret_key)" '^[0-9a-f]{32}:[0-9a-f]{32}$' "32-hex public and secret keys"
is "$(field rate_limit):$(field label):$(field status_name)" '{"count":100,"window":60}:main:active' \
    "key create prints the new row"
run --json key create --project "$PROJ"
PK2=$(printf '%s' "$OUT" | jq -r .public_key)
like "$PK2" '^[0-9a-f]{32}$' "key create --json"
[ "$PK" != "$PK2" ]
ok $? "two keys differ"
run key create --project 999
is "$RC:$ERR" "1:relaycfgctl: key create: no such project" "key create in a missing project"
run key create --project "$PROJ" --rate-limit lots
is "$RC" 2 "a bad rate limit is a usage error"
# Sentry's rate_limit_count and rate_limit_window hold at most 2^31-1.
for rl in 99999999999/60 4294967295/60 2147483648/60 60/2147483648 99999999999999999999/1; do
	run key create --project "$PROJ" --rate-limit "$rl"
	is "$RC:$ERR" "2:relaycfgctl: key create: --rate-limit: COUNT and SECONDS are at most 2147483647 (see relaycfgctl --help)" \
	    "--rate-limit $rl: out of range, a usage error that says so"
done
run key create --project "$PROJ" --rate-limit 2147483647/2147483647 --label max
is "$RC:$(field rate_limit)" '0:{"count":2147483647,"window":2147483647}' "--rate-limit 2147483647/2147483647 is taken"
run key delete "$(field public_key)"
run key list --project "$PROJ"
is "$(printf '%s\n' "$OUT" | cut -f3 | tr '\n' ' ')" "$PK $PK2 " "key list --project"
run key list --project "$PROJ" --cached
run key show "$PK" --cached
run key update "$PK" --status inactive --rate-limit none --label none
is "$RC:$OUT" "0:key $PK updated" "key update"
run key show "$PK" --cached
is "$(field status_name):$(field rate_limit):$(field label)" "inactive:-:-" "key update: fresh in cache"
run --json key list --project "$PROJ" --cached
is "$(printf '%s' "$OUT" | jq -r '.keys[0].status_name')" inactive "key update: the project's cached key list is fresh"
run key enable "$PK"
run key show "$PK" --cached
is "$(field status_name)" active "key enable"
run key disable "$PK"
run key show "$PK" --cached
is "$(field status_name)" inactive "key disable"
run key update nothex
is "$RC" 2 "key update of a malformed public key is a usage error"
run key update "$PK" --rate-limit 4294967295/60
is "$RC" 2 "key update: a rate limit out of range is a usage error"
run key update "$PK" --label "$(printf '%065d' 0)"
is "$RC" 2 "key update: a label too long is a usage error"
run key update "$PK"
is "$RC" 2 "key update with nothing to change is a usage error"
run key delete "$PK2"
is "$RC:$OUT" "0:key $PK2 deleted" "key delete"
run key show "$PK2" --cached
is "$RC" 1 "key delete: gone from the cache too"
run key delete "$PK2"
is "$RC:$ERR" "1:relaycfgctl: key delete: no such key" "key delete twice"

# --- options ------------------------------------------------------------
run option set template "$TMPL" sentry:scrub_data true
is "$RC:$OUT" "0:option template $TMPL sentry:scrub_data set" "option set template"
# The inbound filters Sentry's project creation stores for a javascript
# project (set_default_inbound_filters), project 'web' has them too.
JSF='filters:browser-extensions: "1"
filters:legacy-browsers: ["ie","firefox","chrome","safari","opera","opera_mini","android","edge"]
filters:web-crawlers: "1"
filters:filtered-transaction: "1"'
JSJ='"filters:browser-extensions":"1","filters:legacy-browsers":["ie","firefox","chrome","safari","opera","opera_mini","android","edge"],"filters:web-crawlers":"1","filters:filtered-transaction":"1"'
run option set project "$PROJ" filters:localhost '"1"'
run option get project "$PROJ" --cached
is "$OUT" "sentry:scrub_data: true (template $TMPL)
$JSF
filters:localhost: \"1\"" "project options include the template's, marked"
run option get project "$PROJ"
is "$OUT" "sentry:scrub_data: true (template $TMPL)
$JSF
filters:localhost: \"1\"" "also read from MariaDB"
run --json option get project "$PROJ"
is "$OUT" "{\"sentry:scrub_data\":true,$JSJ,\"filters:localhost\":\"1\"}" "--json: the values as the server sees them, unmarked"
run option get project "$PROJ" sentry:scrub_data
is "$OUT" "true (template $TMPL)" "one inherited option, marked"
run --json option get project "$PROJ" sentry:scrub_data
is "$OUT" true "--json: the bare value"
run option unset project "$PROJ" sentry:scrub_data
is "$RC:$ERR" "1:relaycfgctl: option unset: project $PROJ has no sentry:scrub_data of its own; its value comes from template $TMPL (option set|unset template $TMPL sentry:scrub_data)" \
    "unset of an inherited option says where it comes from"
run option set project "$PROJ" sentry:scrub_data false
run option get project "$PROJ" sentry:scrub_data --cached
is "$OUT" false "the project's own option wins, fresh in cache"
run option get project "$PROJ" --cached
is "$OUT" "sentry:scrub_data: false
$JSF
filters:localhost: \"1\"" "and is not marked"
run option unset project "$PROJ" sentry:scrub_data
run option get project "$PROJ" sentry:scrub_data --cached
is "$OUT" "true (template $TMPL)" "unset: the template's shows again"
run option set template "$TMPL" sentry:scrub_data '{"a": [1, 2]}'
run --json option get project "$PROJ" sentry:scrub_data --cached
is "$OUT" '{"a":[1,2]}' "template option change: the project's cached options are fresh"
run option set org "$ORG" sentry:relay_pii_config '"{\"rules\":{}}"'
run --json option get org "$ORG" --cached
is "$OUT" '{"sentry:relay_pii_config":"{\"rules\":{}}"}' "org option: a JSON string holding JSON"
# (mariadb -B shows a backslash as two)
is "$(sql "SELECT value FROM sentry_organizationoptions")" '"{\\"rules\\":{}}"' "stored as JSON text"
run option set org "$ORG" x '{bad'
is "$RC" 2 "a value that is not JSON is refused (a usage error)"
run option set org "$ORG" 'bad key' 1
is "$RC" 2 "an option key with a space is refused (a usage error)"
# Strict RFC 8259, as request bodies: json-c alone takes NaN, Infinity,
# 1. and single quotes, and a NaN origins list served allowedDomains ["*"];
# a number beyond a double (1e999) would fail Relay's parse of the answer.
for scope in "project $PROJ" "org $ORG" "template $TMPL"; do
	for v in NaN Infinity -Infinity 1. "{'a':1}" nan '[1,2,]' 01 '"a\u0000"' \
	    1e999 '[1.8e308]'; do
		# shellcheck disable=SC2086
		run option set $scope sentry:origins "$v"
		like "$RC:$OUT:$ERR" "^2::relaycfgctl: option set: the value is not JSON" \
		    "option set $scope: $v is refused"
	done
	# shellcheck disable=SC2086
	run option get $scope sentry:origins
	is "$RC:$OUT" "1:" "option set $scope: none of them stored"
done
is "$(sql "SELECT COUNT(*) FROM sentry_projectoptions WHERE \`key\` = 'sentry:origins'")" 0 \
    "not a row in MariaDB either"
# Nested as deep as the server's json-c reads (32 levels, the innermost
# value counted) is taken; one more is refused as such, not as "not JSON",
# in the words sentry-sync uses for the same value.
DEEP=$(printf '%.0s[' $(seq 31))1$(printf '%.0s]' $(seq 31))
run option set project "$PROJ" test:deep "$DEEP"
is "$RC" 0 "option set: 31 arrays around a number (32 levels) are taken"
for v in "[$DEEP]" "$(printf '%.0s[' $(seq 40))$(printf '%.0s]' $(seq 40))"; do
	run option set project "$PROJ" test:deep "$v"
	is "$RC:$OUT:$ERR" "2::relaycfgctl: option set: the value is JSON nested deeper than 32 levels, which relaycfg does not store (see relaycfgctl --help)" \
	    "option set: ${#v} bytes nested deeper are refused, saying so"
done
run option get project "$PROJ" test:deep
is "$RC:$OUT" "0:$DEEP" "... the value taken is kept"
run option unset project "$PROJ" test:deep
# Integers json-c would store changed (it saturates at -2^63 and 2^64-1;
# Python, which writes Sentry's values, keeps any integer), as sentry-sync
# refuses them; the bounds themselves and doubles are taken.
for v in 100000000000000000000 '[-9223372036854775809]' '{"a":18446744073709551616}'; do
	run option set project "$PROJ" sentry:wide "$v"
	like "$RC:$OUT:$ERR" "^2::relaycfgctl: option set: the value has an integer below -2\^63 or above 2\^64-1" \
	    "option set: $v is refused"
done
run option get project "$PROJ" sentry:wide
is "$RC:$OUT" "1:" "option set: none of the wide integers stored"
run option set project "$PROJ" sentry:wide '[-9223372036854775808,18446744073709551615,1e20]'
is "$RC" 0 "the 64-bit bounds and a double are taken"
run --json option get project "$PROJ" sentry:wide
is "$OUT" '[-9223372036854775808,18446744073709551615,1e20]' "... and stored as written"
run option unset project "$PROJ" sentry:wide
run option set project "$PROJ" sentry:origins ' [ "ok.com" , 1e3, -0.5, "\u00e9" ] '
is "$RC" 0 "strict JSON with whitespace, exponents and escapes is taken"
run --json option get project "$PROJ" sentry:origins
is "$OUT" '["ok.com",1e3,-0.5,"é"]' "and stored compact"
run option unset project "$PROJ" sentry:origins
# relaycfg's own lastChange bookkeeping: set by hand, lastChange would
# move (or jump) while rev stands still.
for k in sentry:relay-rev sentry:relay-rev-lastchange; do
	run option set project "$PROJ" "$k" '"0123456789abcdef0123456789abcdef"'
	like "$RC:$ERR" "^2:relaycfgctl: option set: $k is relaycfg's own" "option set of $k is refused"
	run option unset project "$PROJ" "$k"
	like "$RC:$ERR" "^2:relaycfgctl: option unset: $k is relaycfg's own" "option unset of $k is refused"
	run option set template "$TMPL" "$k" '"x"'
	is "$RC" 2 "also for a template"
done
is "$(sql "SELECT COUNT(*) FROM sentry_projectoptions WHERE \`key\` LIKE 'sentry:relay-rev%'")" 0 \
    "nothing written"
run option unset org "$ORG" nope
is "$RC:$ERR" "1:relaycfgctl: option unset: the option is not set" "unset of an unset option"
run option unset project 999 x
is "$RC:$ERR" "1:relaycfgctl: option unset: no such project" "unset of an option of a missing project"
run option unset project "$PROJ" nope
is "$RC:$ERR" "1:relaycfgctl: option unset: the option is not set" "unset of an option neither the project nor its template has"
run option get project 999
is "$RC:$OUT:$ERR" "1::relaycfgctl: option get: no such project" "options of a missing project"
run option get org 999
is "$RC:$OUT:$ERR" "1::relaycfgctl: option get: no such organization" "options of a missing organization"
run option get org 999 sentry:relay_pii_config --cached
is "$RC:$OUT:$ERR" "1::relaycfgctl: option get: no such organization" "one option of a missing organization, cached"
run option get template 999
is "$RC:$OUT:$ERR" "1::relaycfgctl: option get: no such template" "options of a missing template"
run option get org "$BETA"
is "$RC:$OUT:$ERR" "0::" "an organization without options: none, exit 0"
run option get team 1
is "$RC" 2 "options of an unknown owner kind"

# --- relays -------------------------------------------------------------
RID=6f1b2e3c-1234-4abc-8def-0123456789ab
# Real Ed25519 public keys (base64url, 43 characters): Relay signs with
# the secret half, and a key that is no key would get 401 for ever.
RPK=m1SqCyG35qZS4y5xuPUDGtevNkC1omaW4_1KGC8QxY0
run relay create "$RID" QvY7DaAeR-Ir0S3gtiMVJLhqE-33Dme1xxTJdX7ckQw
like "$RC:$ERR" "^2:relaycfgctl: relay create: .*not a relay public key" "relay create: a public key that is no Ed25519 point is a usage error"
run relay create "$RID" notakey
is "$RC" 2 "relay create: notakey is a usage error"
run relay show "$RID"
is "$RC" 1 "and nothing was created"
run relay create "$RID" "$RPK"
is "$RC:$(field relay_id):$(field is_internal)" "0:$RID:false" "relay create"
run relay create "$RID" "$RPK"
is "$RC" 1 "relay create twice is refused"
run relay create NOT-A-UUID "$RPK"
is "$RC" 2 "a relay id that is not a lowercase UUID is a usage error"
run relay list
is "$OUT" "1	$RID	false	$RPK" "relay list"
# base64url has '-': a key may begin with it and is still positional
RID2=7a2c3d4e-5678-4abc-8def-0123456789ab
RPK2=-W72G5Se2aQ-HrkwtEWXM3GwcljlfpyUyD2lt0QU64A
run relay create "$RID2" "$RPK2"
is "$RC:$(field relay_id):$(field public_key)" "0:$RID2:$RPK2" \
    "relay create with a public key that begins with '-'"
RPK3=--hyMFGy9kHDJb-IfOjpUUq5eHBdaC1ket7wgCSIxRo
run relay create --internal -- 8b3d4e5f-6789-4abc-8def-0123456789ab "$RPK3"
is "$RC:$(field is_internal):$(field public_key)" "0:true:$RPK3" \
    "after --, an argument that begins with -- is positional"
run relay delete "$RID2"
is "$RC" 0 "relay delete of it"
run relay delete 8b3d4e5f-6789-4abc-8def-0123456789ab
is "$RC" 0 "and of the other"
run relay update "$RID" --label=x
like "$RC:$ERR" "^2:.*unexpected option --label=x" "an option the subcommand does not take"
run relay update "$RID" --internal=yes
like "$RC:$ERR" "^2:.*option --internal takes no value" "a flag given a value"
run relay update "$RID" --public-key
like "$RC:$ERR" "^2:.*option --public-key needs a value" "an option without its value"
run relay update "$RID" --publ "$RPK"
like "$RC:$ERR" "^2:.*unexpected option --publ" "no abbreviations"
run relay show "$RID" --cached
run relay update "$RID" --internal
run relay show "$RID" --cached
is "$(field is_internal)" true "relay update --internal, fresh in cache"
run relay update "$RID" --external
run relay show "$RID" --cached
is "$RC:$(field is_internal)" "0:false" "relay update --external clears it"
run relay update "$RID" --internal --external
is "$RC" 2 "--internal and --external together: usage error"
run relay update "$RID" --public-key notakey
like "$RC:$ERR" "^2:relaycfgctl: relay update: .*not a relay public key" "relay update --public-key notakey is a usage error"
run relay show "$RID"
is "$(field public_key)" "$RPK" "and the key is kept"
run relay update "$RID" --public-key "$RPK2"
is "$RC" 0 "relay update --public-key with a real key"
run relay update "$RID" --public-key "$RPK"
run relay update not-a-uuid --internal
is "$RC" 2 "relay update of a relay id that is no UUID is a usage error"
# What the marks do for access is tested through the server in t_auth.sh.
# Migration 002 clears the column (registration used to store its own
# per-request decision there) and db migrate drops the cache with it, so
# no cached row keeps the old value.
run relay update "$RID" --internal
run relay show "$RID" --cached
is "$(field is_internal)" true "marked internal, cached"
sql "DELETE FROM relaycfg_schema_version WHERE version >= 2"
run db migrate
is "$RC:$OUT" "0:schema migrated from version 1 to 5" "db migrate applies 002 (and 003 to 005 again: idempotent)"
is "$(sql "SELECT is_internal FROM sentry_relay WHERE relay_id = '$RID'")" 0 \
    "migration 002 clears is_internal"
run relay show "$RID" --cached
is "$(field is_internal)" false "and no cached row keeps the old value"
run relay delete "$RID"
run relay show "$RID" --cached
is "$RC" 1 "relay delete: gone from the cache too"

# --- invalidate after direct SQL ----------------------------------------
run key show "$PK" --cached
sql "UPDATE sentry_projectkey SET label = 'direct' WHERE public_key = '$PK'"
run key show "$PK" --cached
is "$(field label)" - "a direct SQL write is not seen through the cache"
run invalidate --key "$PK"
is "$RC:$OUT" "0:invalidated key $PK" "invalidate --key"
run key show "$PK" --cached
is "$(field label)" direct "invalidate --key: fresh"

run project show "$PROJ" --cached
sql "UPDATE sentry_project SET name = 'Direct' WHERE id = $PROJ"
run invalidate --project "$PROJ"
run project show "$PROJ" --cached
is "$RC:$(field name)" "0:Direct" "invalidate --project: fresh"

run org show "$ORG" --cached
run key show "$PK" --cached
sql "UPDATE sentry_organization SET name = 'Direct Org' WHERE id = $ORG"
sql "UPDATE sentry_projectkey SET label = 'via-org' WHERE public_key = '$PK'"
run invalidate --org "$ORG"
run org show "$ORG" --cached
is "$(field name)" "Direct Org" "invalidate --org: the organization is fresh"
run key show "$PK" --cached
is "$(field label)" via-org "invalidate --org: and its keys"

run org show "$BETA" --cached
sql "UPDATE sentry_organization SET name = 'Everything' WHERE id = $BETA"
run --json invalidate --all
is "$OUT" '{"ok":true,"scope":"all","cache_invalidated":true}' "invalidate --all --json"
run org show "$BETA" --cached
is "$(field name)" Everything "invalidate --all: fresh"

run relay show "$RID" --cached
sql "INSERT INTO sentry_relay (relay_id, public_key) VALUES ('$RID', 'x')"
run relay show "$RID" --cached
is "$RC" 1 "a relay inserted directly hides behind the negative entry"
run invalidate --relay "$RID"
run relay show "$RID" --cached
is "$RC:$(field public_key)" "0:x" "invalidate --relay: seen"

run invalidate
is "$RC" 2 "invalidate needs a scope"
run invalidate --org 1 --all
is "$RC" 2 "invalidate takes one scope"
run invalidate --key $'a b\001c'
is "$RC" 2 "invalidate --key of an odd string is a usage error"
run invalidate --key zzz
like "$RC:$OUT:$ERR" "^2::relaycfgctl: invalidate: a public key is 32 lowercase hex digits" "invalidate --key zzz is a usage error"
run invalidate --key "$(printf %s "$PK" | tr a-f A-F)"
is "$RC" 2 "an uppercase public key too (the server never looks one up)"
run invalidate --relay nonexist
like "$RC:$ERR" "^2:.*a relay id is a lowercase UUID" "invalidate --relay of a non-UUID is a usage error"
run invalidate --relay 00000000-0000-4000-8000-000000000000
is "$RC:$OUT" "0:invalidated relay 00000000-0000-4000-8000-000000000000" \
    "invalidate --relay of a relay that does not exist: its negative entries go, exit 0"
run invalidate --org 999
is "$RC" 0 "invalidate --org of a missing organization: exit 0"
run key show $'a b\001c' --cached
is "$RC" 1 "and such a key is simply not found"
sleep 0.3
is "$(grep -c $'a b\001c' "$T/memcached-vv.log")" 0 "the odd string never reached memcached"

# --- memcached away -----------------------------------------------------
harness_stop_memcached
run key update "$PK" --label offline
is "$RC" 0 "a write with memcached down still succeeds"
like "$ERR" "warning: memcached did not take the invalidation" "with a warning"
run --json key update "$PK" --label offline2
is "$(printf '%s' "$OUT" | jq -r .cache_invalidated)" false "--json says cache_invalidated false"
run invalidate --all
is "$RC" 1 "invalidate with memcached down fails"
run key show "$PK" --cached
is "$RC:$(field label)" "0:offline2" "reads with memcached down come from MariaDB"
harness_start_memcached_logged "$MC_PORT"

# --- cascades -----------------------------------------------------------
run key show "$PK" --cached
run project template delete "$TMPL"
is "$RC" 0 "project template delete"
run project show "$PROJ" --cached
is "$(field template_id)" - "its projects lose the template, fresh in cache"
run project delete "$PROJ"
is "$RC:$OUT" "0:project $PROJ deleted" "project delete"
run key show "$PK" --cached
is "$RC" 1 "project delete takes its keys, out of the cache too"
is "$(sql "SELECT COUNT(*) FROM sentry_projectoptions WHERE project_id = $PROJ")" 0 "and its options"
run key create --project "$PROJ2"
run org delete "$BETA"
is "$RC" 0 "org delete"
is "$(sql "SELECT COUNT(*) FROM sentry_project WHERE organization_id = $BETA"):$(sql "SELECT COUNT(*) FROM sentry_projectkey")" "0:0" \
    "org delete takes its projects and keys"
run org show "$BETA" --cached
is "$RC" 1 "org delete: gone from the cache"

# org delete over tables that hold other organizations' rows: each of
# its statements (from MariaDB's general log) finds its rows by an index;
# a DELETE ... WHERE project_id IN (SELECT ...) read whole tables, and
# locked every row of them until the commit.
run --json org create gamma
GAMMA=$(printf '%s' "$OUT" | jq -r .id)
run --json org create delta
DELTA=$(printf '%s' "$OUT" | jq -r .id)
run --json project template create --org "$GAMMA" gt
run --json project template create --org "$DELTA" dt
DT=$(printf '%s' "$OUT" | jq -r .id)
run option set template "$DT" k 1
run --json project create --org "$GAMMA" gp
run key create --project "$(printf '%s' "$OUT" | jq -r .id)"
sql "INSERT INTO sentry_project (slug, name, organization_id, status)
    SELECT CONCAT('p', seq), 'p', $DELTA, 0 FROM seq_1_to_300;
INSERT INTO sentry_projectkey (project_id, public_key, secret_key, roles, status)
    SELECT id, MD5(id), MD5(-id), 1, 0 FROM sentry_project WHERE organization_id = $DELTA;
INSERT INTO sentry_projectoptions (project_id, \`key\`, value)
    SELECT id, 'k', '1' FROM sentry_project WHERE organization_id = $DELTA;
INSERT INTO sentry_projecttemplate (name, organization_id)
    SELECT CONCAT('t', seq), $DELTA FROM seq_1_to_300;
INSERT INTO sentry_projecttemplateoption (project_template_id, \`key\`, value)
    SELECT id, 'k2', '1' FROM sentry_projecttemplate WHERE organization_id = $DELTA;
ANALYZE TABLE sentry_project, sentry_projectkey, sentry_projectoptions,
    sentry_projecttemplate, sentry_projecttemplateoption" >/dev/null
sql "SET GLOBAL log_output = 'TABLE'; TRUNCATE TABLE mysql.general_log;
    SET GLOBAL general_log = 1"
run org delete "$GAMMA"
is "$RC" 0 "org delete of an organization beside 300 projects of another"
sql "SET GLOBAL general_log = 0"
scans=""
while IFS= read -r stmt; do
	plan=$(sql "EXPLAIN $stmt" | cut -f 4 | tr '\n' ' ')
	case " $plan" in *" ALL "*) scans="$scans[$stmt: $plan] " ;; esac
done < <(sql "SELECT CONVERT(argument USING utf8mb4) FROM mysql.general_log
    WHERE command_type = 'Query' AND argument LIKE 'DELETE %' ORDER BY event_time")
is "$scans" "" "org delete: no statement reads a whole table"
is "$(sql "SELECT COUNT(*) FROM sentry_project WHERE organization_id = $DELTA"):$(sql "SELECT COUNT(*) FROM sentry_projecttemplateoption")" \
    "300:302" "and the other organization's rows are all there"

# --- names as Sentry may hold them -----------------------------------------
# sentry-sync copies names as they are: a tab, a newline, ESC or CSI
# (U+009B) in one must neither break list's one row per line nor reach
# the terminal.
ODDSQL="CONCAT('Tab', CHAR(9), 'New', CHAR(10), 'Esc', CHAR(27), '[2J', 'Csi', CONVERT(X'C29B' USING utf8mb4), '1m')"
ODDRAW=$'Tab\tNew\nEsc\e[2JCsi\xc2\x9b1m'
ODDTXT='Tab\x09New\x0aEsc\x1b[2JCsi\xc2\x9b1m'
ODD=$(sql "INSERT INTO sentry_organization (name, slug) VALUES ($ODDSQL, 'odd'); SELECT LAST_INSERT_ID()")
OTMPL=$(sql "INSERT INTO sentry_projecttemplate (name, organization_id) VALUES ($ODDSQL, $ODD); SELECT LAST_INSERT_ID()")
OPROJ=$(sql "INSERT INTO sentry_project (slug, name, organization_id) VALUES ('oddp', $ODDSQL, $ODD); SELECT LAST_INSERT_ID()")
noesc() { case $1 in *$'\e'*) echo "ESC in the output" ;; esac; }
run org list
is "$(printf '%s\n' "$OUT" | grep -c .):$(printf '%s\n' "$OUT" | grep "^$ODD	")" \
    "$(sql "SELECT COUNT(*) FROM sentry_organization"):$ODD	odd	active	$ODDTXT" \
    "org list: the name escaped, one line per row"
is "$(noesc "$OUT")" "" "org list: no ESC reaches the terminal"
run org show "$ODD"
is "$RC:$(field name)" "0:$ODDTXT" "org show: the name escaped"
is "$(noesc "$OUT")" "" "org show: no ESC"
run project template list --org "$ODD"
is "$OUT" "$OTMPL	$ODD	$ODDTXT" "project template list: the name escaped"
run project list --org "$ODD"
is "$OUT" "$OPROJ	$ODD	oddp	active	-	-	$ODDTXT" "project list: the name escaped"
run project show "$OPROJ" --cached
is "$(field name):$(noesc "$OUT")" "$ODDTXT:" "project show: the name escaped"
run --json org show "$ODD"
is "$(printf '%s' "$OUT" | jq -j .name)" "$ODDRAW" "--json keeps the name as it is"
# An option value holding U+009B (CSI; Sentry's options may hold any
# text): the JSON as it is into a pipe, C1 escaped on a terminal.
ctl option set project "$OPROJ" sentry:csi '"a\u009b2J"' >/dev/null
run option get project "$OPROJ" sentry:csi
is "$OUT" $'"a\xc2\x9b2J"' "option get into a pipe: the JSON as it is"
if command -v script >/dev/null; then
	script -qec "'$RELAYCFGCTL' -c '$RELAYCFG_CONF' option get project $OPROJ sentry:csi" \
	    /dev/null | tr -d '\r' >"$T/tty"
	is "$(cat "$T/tty")" '"a\xc2\x9b2J"' "... on a terminal: U+009B as \\xNN"
	script -qec "'$RELAYCFGCTL' -c '$RELAYCFG_CONF' option get project $OPROJ" \
	    /dev/null | tr -d '\r' >"$T/tty"
	like "$(cat "$T/tty")" '^sentry:csi: "a\\xc2\\x9b2J"$' "... all options too"
fi
ctl option unset project "$OPROJ" sentry:csi >/dev/null
sql "DELETE FROM sentry_project WHERE id = $OPROJ; DELETE FROM sentry_projecttemplate WHERE id = $OTMPL; DELETE FROM sentry_organization WHERE id = $ODD"

# --- MariaDB away, usage ------------------------------------------------
harness_stop_mariadb
run org list
is "$RC" 1 "MariaDB down: commands fail"
like "$ERR" "MariaDB unreachable" "and say why"
harness_run_mariadbd
run org list
is "$RC" 0 "MariaDB back"

run org frobnicate
is "$RC" 2 "an unknown subcommand is a usage error"
run org
is "$RC" 2 "a missing subcommand is a usage error"
like "$("$RELAYCFGCTL" --help)" "invalidate --org ID" "--help lists the admin commands"
printf 'db_socket = %s/none.sock\ndb_name = relaycfg\n' "$T" >"$T/bad.conf"
OUT=$("$RELAYCFGCTL" -c "$T/bad.conf" org list 2>&1)
is "$?" 1 "a config whose database is unreachable: exit 1"

done_testing
