# load.sh - signed Relay traffic for the fault tests (sourced after
# harness.sh and relay.sh).  The traffic is bench/loadgen in its checker
# mode (--expect): keep-alive connections through nginx, bodies of 1 key
# and (one in ten) of 100 keys, signed as Relay signs them, every third
# one answered without gzip; every answer is inflated and compared with
# what the data says for each key it asked for.
#
#   load_data NPROJ              bench/gen-data.sh projects 1..NPROJ, every
#                                7th key made inactive, 20 unknown keys;
#                                $T/expect.txt says what each key must get
#   load_start LABEL CREDS ARGS  loadgen in the background (LOAD_PID); ARGS
#                                are loadgen's (--duration S, --requests N,
#                                --allow-pending, --slow-ms MS, ...)
#   load_wait                    waits for it and sets LOAD_REQUESTS,
#                                LOAD_ANSWERS, LOAD_OK, LOAD_FAILED, LOAD_5XX,
#                                LOAD_4XX, LOAD_ERRORS, LOAD_TIMEOUTS (the
#                                errors that were --answer-timeout),
#                                LOAD_WRONG, LOAD_PENDING, LOAD_SLOW, LOAD_RPS
#   load_run LABEL CREDS ARGS    both
#   wait_workers N [TENTHS]      until the master has N workers (0: it has)
#   fcgi_stall HOST PORT SECS    a FastCGI peer that sends its params with
#                                CONTENT_LENGTH=100 and then nothing, for at
#                                most SECS; in the background (STALL_PID),
#                                it writes how long the server kept the
#                                connection, in ms, to $T/stall.$STALL_PID
# shellcheck shell=bash

. "$top_srcdir/tests/lib/fcgi.sh"

LOADGEN=$top_builddir/bench/loadgen
LOAD_CONNS=${LOAD_CONNS:-4}

[ -x "$LOADGEN" ] || { echo "Bail out! $LOADGEN not built (make check builds it)"; exit 1; }

load_data() {
	local trusted
	"$RELAYCFGCTL" keygen --output "$T/trusted.json" >/dev/null ||
	    { diag "keygen failed"; exit 1; }
	trusted=$(sed -n 's/.*"public_key": *"\([^"]*\)".*/\1/p' "$T/trusted.json")
	"$top_srcdir/bench/gen-data.sh" 0 "$1" "$trusted" |
	    mariadb --no-defaults --socket="$MARIADB_SOCKET" -uroot relaycfg ||
	    { diag "gen-data.sh failed"; exit 1; }
	sql "UPDATE sentry_projectkey SET status = 1 WHERE id % 7 = 0"
	{
		sql "SELECT k.public_key,
		    IF(k.status = 0 AND p.status = 0, 'live', 'disabled'), k.project_id
		    FROM sentry_projectkey k JOIN sentry_project p ON p.id = k.project_id
		    ORDER BY k.id" | awk '$2 == "disabled" { print $1, $2; next } { print }'
		for i in $(seq 20); do
			printf '%s disabled\n' "$(printf 'relaycfg-unknown-%d' "$i" | md5sum | cut -c1-32)"
		done
	} >"$T/expect.txt"
	LOAD_KEYS=$(wc -l <"$T/expect.txt")
	LOAD_LIVE=$(grep -c ' live ' "$T/expect.txt")
}

load_start() {
	local label=$1 creds=$2
	shift 2
	LOAD_LABEL=$label
	"$LOADGEN" --port "$NGINX_PORT" --credentials "$creds" \
	    --expect "$T/expect.txt" --batch 1 --mix-batch 100 --mix-every 10 \
	    --connections "$LOAD_CONNS" --label "$label" --timeline "$@" \
	    >"$T/load-$label.out" 2>"$T/load-$label.err" &
	LOAD_PID=$!
	HARNESS_PIDS="$HARNESS_PIDS $LOAD_PID"
}

# load_field NAME: a field of the verify line.
load_field() {
	sed -n "s/^verify .* $1=\([^ ]*\).*/\1/p" "$T/load-$LOAD_LABEL.out"
}

load_wait() {
	wait "$LOAD_PID"
	LOAD_STATUS=$?
	if ! grep -q '^verify ' "$T/load-$LOAD_LABEL.out"; then
		diag "loadgen $LOAD_LABEL gave no verify line (exit $LOAD_STATUS):"
		sed 's/^/  /' "$T/load-$LOAD_LABEL.err" | head -n 20 | while read -r l; do diag "$l"; done
		LOAD_REQUESTS=0 LOAD_ANSWERS=0 LOAD_OK=0 LOAD_FAILED=999999 LOAD_5XX=0
		LOAD_4XX=0 LOAD_ERRORS=0 LOAD_TIMEOUTS=0 LOAD_WRONG=0 LOAD_PENDING=0 LOAD_SLOW=0 LOAD_RPS=0
		return 1
	fi
	LOAD_REQUESTS=$(load_field requests)
	LOAD_ANSWERS=$(load_field answers)
	LOAD_OK=$(load_field ok)
	LOAD_FAILED=$(load_field failed)
	LOAD_5XX=$(load_field status5xx)
	LOAD_4XX=$(load_field status4xx)
	LOAD_ERRORS=$(load_field errors)
	LOAD_TIMEOUTS=$(load_field timeouts)
	LOAD_WRONG=$(load_field wrong)
	LOAD_PENDING=$(load_field pending)
	LOAD_SLOW=$(load_field slow)
	LOAD_RPS=$(load_field rps)
	diag "$(grep '^verify ' "$T/load-$LOAD_LABEL.out")"
	if [ "$LOAD_FAILED" != 0 ]; then
		grep '^timeline ' "$T/load-$LOAD_LABEL.out" | while read -r l; do diag "$l"; done
		head -n 8 "$T/load-$LOAD_LABEL.err" | while read -r l; do diag "$l"; done
	fi
	return 0
}

load_run() {
	load_start "$@"
	load_wait
}

wait_workers() {
	local want=$1 max=${2:-50} i=0
	while [ "$(worker_pids | wc -w)" -ne "$want" ]; do
		i=$((i + 1))
		[ "$i" -le "$max" ] || return 1
		sleep 0.1
	done
}

fcgi_stall() {
	local host=$1 port=$2 secs=$3
	if [ ! -f "$T/stall.req" ]; then
		printf '\x00\x01\x00\x00\x00\x00\x00\x00' >"$T/stall.begin"
		{
			fcgi_nv REQUEST_METHOD POST
			fcgi_nv REQUEST_URI "/api/0/relays/projectconfigs/?version=3"
			fcgi_nv CONTENT_TYPE application/json
			fcgi_nv CONTENT_LENGTH 100
			fcgi_nv REMOTE_ADDR 127.0.0.1
		} >"$T/stall.params"
		: >"$T/stall.empty"
		{
			fcgi_record 1 "$T/stall.begin"
			fcgi_record 4 "$T/stall.params"
			fcgi_record 4 "$T/stall.empty"
		} >"$T/stall.req"
	fi
	(
		exec 3<>"/dev/tcp/$host/$port" || exit 1
		cat "$T/stall.req" >&3
		t0=$(date +%s%N)
		# Reads until the server closes the connection, or SECS pass.
		timeout "$secs" cat <&3 >/dev/null
		echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$T/stall.$BASHPID"
	) &
	STALL_PID=$!
	HARNESS_PIDS="$HARNESS_PIDS $STALL_PID"
}
