#!/bin/bash
# The negative cache, as relaycfg.conf(5) ttl_negative says: a row
# inserted into MariaDB directly is read after ttl_negative (v2, which
# builds every answer from the store); the project config computed while
# it was absent stays cached for ttl_config (v3, as Sentry caches it)
# until relaycfgctl invalidate; a row made with relaycfgctl is seen at
# once.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
relay_stack_init "ttl_negative = 2"
harness_start_relaycfg
harness_start_nginx
# state VERSION KEY: "disabled" or the slug VERSION answers for KEY
state() {
	ctl_fetch S --version "$1" "$2"
	printf '%s' "$HTTP_BODY" |
	    jq -r --arg k "$2" '.configs[$k] | if .disabled then "disabled" else .slug end'
}

# insert KEY: the key in MariaDB, behind relaycfg's back
insert() {
	sql "INSERT INTO sentry_projectkey (project_id, public_key, secret_key, roles, status)
	    VALUES ($PROJ, '$1', MD5('$1'), 1, 0)"
}
K=0123456789abcdef0123456789abcdef
is "$(state 3 "$K")" disabled "an unknown key is disabled (v3)"
insert "$K"
is "$(state 2 "$K")" disabled "inserted directly: still absent within ttl_negative (v2)"
sleep 3
is "$(state 3 "$K")" disabled "v3 keeps the config computed while it was absent"
is "$(state 2 "$K")" web "v2 reads the row after ttl_negative"

K2=0123456789abcdef0123456789abcde2
is "$(state 3 "$K2")" disabled "another unknown key"
insert "$K2"
sleep 3
is "$(state 3 "$K2")" disabled "inserted directly: v3 still disabled after ttl_negative"
ctl invalidate --key "$K2" >/dev/null
is "$(state 3 "$K2")" web "until relaycfgctl invalidate --key"

# relaycfgctl's own writes drop the negative entries they affect.
NEXT=$(sql "SELECT AUTO_INCREMENT FROM information_schema.TABLES
    WHERE TABLE_SCHEMA = 'relaycfg' AND TABLE_NAME = 'sentry_project'")
is "$(state 1 "$NEXT")" disabled "an unknown project id is disabled (v1)"
ctl project create --org "$ORG" fresh >/dev/null
is "$(state 1 "$NEXT")" fresh "project create: seen at once (v1)"

done_testing
