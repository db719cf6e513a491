#!/bin/bash
# What an operator does to relaycfg from a shell, as relaycfg(8) documents
# it: a stray argument on the command line, SIGUSR1, and a reload whose
# file asks a master for workers = 0.  No database is needed: the workers
# connect on their first request.
. "$top_srcdir/tests/lib/harness.sh"
harness_init
harness_write_conf

# --- a stray argument: exit 2, and the message names it --------------------
out=$("$RELAYCFG_BIN" "$RELAYCFG_CONF" 2>&1 </dev/null)
is "$?" 2 "stray argument: exit status 2"
like "$out" "relaycfg: unexpected argument \"$RELAYCFG_CONF\" \\(a config file is given with -c\\)" \
    "stray argument: the message names it"
like "$out" '^usage: relaycfg' "stray argument: usage follows"

done_testing
