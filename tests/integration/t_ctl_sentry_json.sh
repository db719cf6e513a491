#!/bin/bash
# relaycfgctl sentry-sync --json: stdout is exactly one JSON document,
# --dry-run's changes included, and also when the deletion guard stops the
# sync; a dry run so stopped still prints its summary; no sentry_pg is a
# configuration error (t_sentry_sync.sh tests the sync itself).
# Real PostgreSQL (Sentry's tables), MariaDB and memcached.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/postgres.sh"

harness_init
need_binary python3
need_binary jq
harness_start_mariadb
harness_start_memcached
pg_start
harness_write_conf \
    "sentry_pg = $(pg_conninfo)" \
    "sentry_pg_password = $PG_RO_PASSWORD"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" db init >/dev/null ||
    { diag "db init failed"; exit 1; }
pgsql_file "$top_srcdir/tests/data/sentry-pg-schema.sql" >/dev/null
ok $? "Sentry's schema loads into PostgreSQL"
pgsql "
INSERT INTO sentry_organization (id, name, slug, status, date_added,
    default_role, is_test, flags) VALUES
 (1, 'Acme Corp', 'acme', 0, now(), 'member', false, 1);
INSERT INTO sentry_project (id, slug, name, forced_color, public,
    date_added, status, first_event, external_id, flags, platform,
    organization_id, template_id) VALUES
 (1, 'web', 'Web', NULL, false, now(), 0, NULL, NULL, 0, 'javascript', 1, NULL);
" >/dev/null

# one_json: does $OUT parse as one JSON document, and nothing else?
one_json() {
	printf '%s' "$OUT" | python3 -c 'import json,sys; json.load(sys.stdin)'
}

sync --dry-run --json
is "$RC" 0 "--dry-run --json: exit 0"
one_json
ok $? "--dry-run --json: stdout is one JSON document"
is "$(printf '%s' "$OUT" | jq -c '[.dry_run, .changes]')" \
    '[true,[{"op":"create","table":"sentry_organization","key":"1","columns":[]},{"op":"create","table":"sentry_project","key":"1","columns":[]}]]' \
    "the changes are in it"
is "$(sql "SELECT COUNT(*) FROM sentry_organization")" 0 "and nothing was written"

sync --json
is "$RC" 0 "a sync"
one_json
ok $? "--json: one JSON document"
is "$(printf '%s' "$OUT" | jq -c '[.dry_run, .changed, has("changes")]')" \
    '[false,true,false]' "a sync lists no changes"

pgsql "UPDATE sentry_project SET name = 'Web app', platform = 'python' WHERE id = 1" >/dev/null
OUT=$("$RELAYCFGCTL" -c "$RELAYCFG_CONF" --json sentry-sync --dry-run 2>"$T/err")
RC=$?
one_json
ok $? "--json before the command: the same"
is "$RC:$(printf '%s' "$OUT" | jq -c .changes)" \
    '0:[{"op":"update","table":"sentry_project","key":"1","columns":["name","platform"]}]' \
    "an update lists its columns"
sync --dry-run
is "$OUT" "update sentry_project 1: name,platform
$(printf '%s\n' "$OUT" | sed -n 2p)" "without --json: the change lines, then the summary"
like "$(printf '%s\n' "$OUT" | sed -n 2p)" '^sentry-sync \(dry run\): projects \+0 ~1 -0' \
    "(the summary line)"

# The deletion guard: exit 3, and a dry run still one document.
pgsql_db postgres "CREATE DATABASE empty" >/dev/null
"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" \
    -U postgres -d empty -f "$top_srcdir/tests/data/sentry-pg-schema.sql" >/dev/null
sync --pg "host=$PG_SOCKDIR port=$PG_PORT dbname=empty user=postgres" --dry-run --json
is "$RC" 3 "the guard stops a dry run: exit 3"
like "$ERR" "refusing to delete" "and says why on stderr"
one_json
ok $? "--dry-run --json stopped by the guard: one JSON document"
is "$(printf '%s' "$OUT" | jq -c '[.changes[] | .op + " " + .table]')" \
    '["delete sentry_organization","delete sentry_project"]' "with the deletes it refused"
is "$(printf '%s' "$OUT" | jq -c '[.dry_run, .deletion_guard]')" \
    '[true,{"table":"sentry_organization","deletes":1,"rows":1,"max_delete_percent":50}]' \
    "and the refusal"
# Without --dry-run, --json still prints its one object, the refusal in it.
sync --pg "host=$PG_SOCKDIR port=$PG_PORT dbname=empty user=postgres" --json
is "$RC" 3 "--json stopped by the guard: exit 3"
one_json
ok $? "--json stopped by the guard: one JSON document"
is "$(printf '%s' "$OUT" | jq -c '[.dry_run, .sql_writes, .deletion_guard.table, has("changes")]')" \
    '[false,0,"sentry_organization",false]' "with the refusal in it, nothing written"
is "$(sql "SELECT COUNT(*) FROM sentry_project")" 1 "(and nothing was deleted)"
# A text dry run stopped by the guard: the changes, then the summary.
sync --pg "host=$PG_SOCKDIR port=$PG_PORT dbname=empty user=postgres" --dry-run
is "$RC" 3 "--dry-run stopped by the guard: exit 3"
is "$(printf '%s\n' "$OUT" | sed -n '1,2p')" "delete sentry_organization 1
delete sentry_project 1" "the changes it refused"
like "$(printf '%s\n' "$OUT" | sed -n 3p)" \
    '^sentry-sync \(dry run\): .*projects \+0 ~0 -1.*; stopped by the deletion guard$' \
    "then the summary, which says the guard stopped it"

# json-c running out of memory while the JSON is built: a preloaded shim
# fails the k-th json_object_new_* call, for each k in turn.  Never an
# abort (json-c asserts on a NULL object); stdout is one JSON document, or
# empty with a failure said and exit 1.
cat >"$T/jfail.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
static long calls;
static int
fail_now(void)
{
	const char *at = getenv("JFAIL_AT"), *mark = getenv("JFAIL_MARK");
	if (at == NULL || ++calls != atol(at))
		return 0;
	if (mark != NULL) {
		FILE *f = fopen(mark, "w");
		if (f != NULL)
			fclose(f);
	}
	return 1;
}
#define WRAP(name, type)						\
void *name(type v)							\
{									\
	void *(*real)(type) = (void *(*)(type))dlsym(RTLD_NEXT, #name);	\
	return fail_now() ? NULL : real(v);				\
}
WRAP(json_object_new_int64, int64_t)
WRAP(json_object_new_string, const char *)
WRAP(json_object_new_boolean, int)
WRAP(json_object_new_double, double)
void *
json_object_new_object(void)
{
	void *(*real)(void) = (void *(*)(void))dlsym(RTLD_NEXT,
	    "json_object_new_object");
	return fail_now() ? NULL : real();
}
void *
json_object_new_array(void)
{
	void *(*real)(void) = (void *(*)(void))dlsym(RTLD_NEXT,
	    "json_object_new_array");
	return fail_now() ? NULL : real();
}
C
if ! ${CC:-cc} -shared -fPIC -o "$T/jfail.so" "$T/jfail.c" -ldl; then
	ok 1 "cc builds the json-c shim"
else
	# jfail_each WHAT ARGS...: run sentry-sync ARGS failing each call.
	jfail_each() {
		local what=$1 k=1 runs=0 bad=0
		shift
		while [ "$k" -lt 400 ]; do
			rm -f "$T/jfail.mark"
			OUT=$(JFAIL_AT=$k JFAIL_MARK=$T/jfail.mark \
			    LD_PRELOAD=$T/jfail.so \
			    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
			    "$RELAYCFGCTL" -c "$RELAYCFG_CONF" sentry-sync "$@" \
			    2>"$T/err")
			RC=$?
			runs=$((runs + 1))
			[ -e "$T/jfail.mark" ] || break	# nothing failed: done
			if [ "$RC" -ge 128 ]; then
				bad=$((bad + 1)); diag "$what: call $k: exit $RC"
			elif [ -n "$OUT" ] && ! one_json; then
				bad=$((bad + 1))
				diag "$what: call $k: not one JSON document"
			elif [ -z "$OUT" ] && [ "$RC" -eq 0 ]; then
				bad=$((bad + 1))
				diag "$what: call $k: nothing printed, exit 0"
			fi
			k=$((k + 1))
		done
		ok $(( bad != 0 || runs < 3 || k >= 400 )) "$what: json-c failing each call in turn ($runs runs): no abort, one document or a failure said"
	}
	jfail_each "--dry-run --json" --dry-run --json
	jfail_each "--dry-run --json stopped by the guard" --pg \
	    "host=$PG_SOCKDIR port=$PG_PORT dbname=empty user=postgres" \
	    --dry-run --json
fi

# No Sentry database configured: a configuration error, exit 1 (not 2).
grep -v '^sentry_pg' "$RELAYCFG_CONF" >"$T/nopg.conf"
OUT=$("$RELAYCFGCTL" -c "$T/nopg.conf" sentry-sync 2>"$T/err")
RC=$?
is "$RC" 1 "no sentry_pg and no --pg: exit 1, a configuration error"
like "$(cat "$T/err")" 'no Sentry database: give --pg CONNINFO or set sentry_pg' \
    "it says what to set"

done_testing
