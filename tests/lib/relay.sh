# relay.sh - the Relay side of integration tests (sourced after harness.sh).
# Every signed request goes through relaycfgctl, as an operator's would.
#
#   relay_new NAME                credentials in $T/NAME.json
#   relay_id NAME / relay_pk NAME the relay's id / public key
#   ctl_fetch NAME ARGS...        relaycfgctl fetch; sets HTTP_STATUS, HTTP_BODY
#   ctl_register NAME ARGS...     relaycfgctl register; same
#   ctl_publickeys NAME IDS...    relaycfgctl publickeys; same
#   fixture_project CONF          schema plus one org, project and DSN key
#                                 (README "Check it"); sets PK
#   signed_http NAME PATH FILE [CURL ARGS...]
#                                 POST FILE signed by NAME with curl; sets
#                                 HTTP_STATUS, HTTP_BODY, HTTP_HEADERS
#   relay_stack_init [CONF LINES...]
#                                 the stack most endpoint tests start from
#                                 (see the function); defines write_conf and
#                                 ctl, sets ORG, PROJ and K1
# shellcheck shell=bash

relay_new() {
	"$RELAYCFGCTL" keygen --output "$T/$1.json" >/dev/null ||
	    { diag "keygen failed"; exit 1; }
}

relay_field() {
	sed -n "s/.*\"$2\": *\"\([^\"]*\)\".*/\1/p" "$T/$1.json"
}

relay_id() { relay_field "$1" id; }
relay_pk() { relay_field "$1" public_key; }

# ctl_run COMMAND NAME ARGS...: run a networked relaycfgctl command.
ctl_run() {
	local cmd=$1 name=$2 out
	shift 2
	out=$("$RELAYCFGCTL" "$cmd" --upstream "$BASE_URL" \
	    --credentials "$T/$name.json" --status "$@" 2>"$T/ctl.err")
	HTTP_STATUS=$(printf '%s\n' "$out" | head -n 1)
	HTTP_BODY=$(printf '%s\n' "$out" | tail -n +2)
}

ctl_fetch() { ctl_run fetch "$@"; }
ctl_register() { ctl_run register "$@"; }
ctl_publickeys() { ctl_run publickeys "$@"; }

signed_http() {
	local name=$1 path=$2 file=$3 sig
	shift 3
	sig=$("$RELAYCFGCTL" sign --credentials "$T/$name.json" <"$file") ||
	    { diag "sign failed"; exit 1; }
	http POST "$path" --data-binary @"$file" \
	    -H "Content-Type: application/json" \
	    -H "X-Sentry-Relay-Id: $(relay_id "$name")" \
	    -H "X-Sentry-Relay-Signature: $sig" "$@"
}

# fixture_project CONF: "$RELAYCFGCTL" db init, then org acme, project
# backend and one key, exactly as the README shows; PK = the key.
fixture_project() {
	"$RELAYCFGCTL" -c "$1" db init >"$T/dbinit.out" 2>&1
	ok $? "relaycfgctl db init"
	{ "$RELAYCFGCTL" -c "$1" org create acme &&
	    "$RELAYCFGCTL" -c "$1" project create --org 1 backend &&
	    "$RELAYCFGCTL" -c "$1" key create --project 1; } >"$T/admin.out" 2>&1
	ok $? "relaycfgctl org, project and key create"
	PK=$(sed -n 's/^public_key: //p' "$T/admin.out")
	like "$PK" '^[0-9a-f]{32}$' "key create prints the public key"
}

# relay_stack_init [CONF LINES...]: harness_init (jq needed), MariaDB and
# memcached up, relay S made, relaycfg.conf written by write_conf (S as a
# static internal relay, then the CONF LINES, then write_conf's own
# arguments, so a test can rewrite it with more lines), ctl defined as
# relaycfgctl --json on that file, the schema made, and org acme, project
# web with one key: ORG, PROJ, K1.  relaycfg and nginx are not started, so
# that a test can add rows first.
relay_stack_init() {
	RELAY_STACK_CONF=("$@")
	harness_init
	need_binary jq
	harness_start_mariadb
	harness_start_memcached
	relay_new S
	write_conf() {
		harness_write_conf \
		    "static_relay = $(relay_id S) $(relay_pk S) internal" \
		    "${RELAY_STACK_CONF[@]}" "$@"
	}
	write_conf
	ctl() { "$RELAYCFGCTL" -c "$RELAYCFG_CONF" --json "$@"; }
	ctl db init >/dev/null
	ORG=$(ctl org create acme | jq -r .id)
	PROJ=$(ctl project create --org "$ORG" web | jq -r .id)
	K1=$(ctl key create --project "$PROJ" | jq -r .public_key)
}
