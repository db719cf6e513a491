#!/bin/bash
# The data layer when allocations fail and when what it reads is damaged:
# tests/integration/test_store_fault drives (see its header), against a
# real MariaDB and memcached.
. "$top_srcdir/tests/lib/harness.sh"
harness_init
harness_start_mariadb
harness_start_memcached
harness_write_conf "ttl_negative = 30" "log_level = error"

"$RELAYCFGCTL" -c "$RELAYCFG_CONF" db init >"$T/dbinit.out" 2>&1
ok $? "relaycfgctl db init"

export STORE_TEST_CONF=$RELAYCFG_CONF MARIADB_SOCKET MC_PORT

# test_store_fault asks for nothing ("@@" lines): none is expected.
no_order() {
	diag "test_store_fault asked for an unknown order: $1"
}
harness_drive no_order "$T/test_store_fault.log" \
    "$top_builddir/tests/integration/test_store_fault"
ok $? "test_store_fault finished cleanly"

done_testing
