#!/bin/bash
# The request skeleton through the shipped nginx vhost: live, 404, 405, 413,
# 415, JSON error bodies, the access log, and --check-config.
. "$top_srcdir/tests/lib/harness.sh"
harness_init
harness_start_mariadb
harness_start_memcached
harness_write_conf "max_body_size = 4096"
RELAYCFG_BIN=$RELAYCFG_TEST_BIN harness_start_relaycfg
harness_start_nginx

http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "live answers 200 through nginx"
is "$HTTP_BODY" '{"is_healthy":true}' "live body"
like "$HTTP_HEADERS" '^Content-Type: application/json' "live is JSON"

http GET /api/0/relays/live
is "$HTTP_STATUS" 200 "live without the trailing slash"

http HEAD /api/0/relays/live/ -I
is "$HTTP_STATUS" 200 "HEAD live"

http GET /api/0/relays/nope/
is "$HTTP_STATUS" 404 "unknown path is 404"
is "$HTTP_BODY" '{"detail":"Not found"}' "404 body is JSON detail"
like "$HTTP_HEADERS" '^Content-Type: application/json' "404 is JSON"

http GET '/api/0/relays/live/../nope/?x=1'
is "$HTTP_STATUS" 404 "path outside the table is 404"

http POST /api/0/relays/live/ --data '{}'
is "$HTTP_STATUS" 405 "POST to live is 405"
like "$HTTP_HEADERS" '^Allow: GET, HEAD$' "405 names the allowed methods"
is "$HTTP_BODY" '{"detail":"Method not allowed"}' "405 body"

http GET /api/0/relays/_test/echo/
is "$HTTP_STATUS" 405 "GET to a POST route is 405"
like "$HTTP_HEADERS" '^Allow: POST$' "Allow: POST"

http POST /api/0/relays/_test/echo/ --data '{"a":1}' -H 'Content-Type: application/json'
is "$HTTP_STATUS" 200 "small body accepted"
is "$HTTP_BODY" '{"length":7}' "body read completely"

head -c 5000 /dev/zero | tr '\0' 'x' >"$T/big"
http POST /api/0/relays/_test/echo/ --data-binary @"$T/big"
is "$HTTP_STATUS" 413 "body over max_body_size is 413"
is "$HTTP_BODY" '{"detail":"Request body too large"}' "413 body"

head -c 4096 /dev/zero | tr '\0' 'x' >"$T/edge"
http POST /api/0/relays/_test/echo/ --data-binary @"$T/edge"
is "$HTTP_STATUS" 200 "body of exactly max_body_size accepted"

http POST /api/0/relays/_test/echo/ --data '{}' -H 'Content-Encoding: gzip'
is "$HTTP_STATUS" 415 "gzip body is 415"
is "$HTTP_BODY" '{"detail":"Unsupported Content-Encoding"}' "415 body"

http POST /api/0/relays/_test/echo/ --data '{}' -H 'Content-Encoding: identity'
is "$HTTP_STATUS" 200 "identity encoding accepted"

# Chunked bodies are buffered by nginx and arrive with CONTENT_LENGTH.
http POST /api/0/relays/_test/echo/ --data '{"chunked":true}' -H 'Transfer-Encoding: chunked'
is "$HTTP_BODY" '{"length":16}' "chunked body arrives whole"

# The access log: status, method, path, duration in us, worker pid.
sleep 0.2
like "$(grep -c 'access 413 POST /api/0/relays/_test/echo/ [0-9]*us' "$T/relaycfg.log")" '^[1-9]' \
    "access log line for the 413"
like "$(grep 'access 200 GET /api/0/relays/live/' "$T/relaycfg.log" | head -1)" \
    'relaycfg\[[0-9]+\] info: access 200 GET /api/0/relays/live/ [0-9]+us' "access log has pid and duration"

# A hostile path never reaches the log raw.
curl -s -o /dev/null --path-as-is "$BASE_URL/api/0/relays/%0a%1b[31mX/"
sleep 0.2
is "$(grep -c $'\x1b' "$T/relaycfg.log")" 0 "control characters never reach the log"

# --check-config
"$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --check-config >"$T/check.out" 2>&1
ok $? "--check-config accepts the test config"
printf 'db_host = x\ndb_name = y\nworkers = lots\n' >"$T/bad.conf"
out=$("$RELAYCFG_BIN" -c "$T/bad.conf" --check-config 2>&1)
ok $((! $?)) "--check-config refuses a bad config"
is "$out" "relaycfg: $T/bad.conf:3: workers: expected a number from 0 to 1024 or \"auto\", got \"lots\"" \
    "the refusal names file:line and the reason"
# A short registration_secret works (issue 4: any length; relay-auth's
# vectors use "secret") and is warned of, naming file:line, not the secret.
printf 'db_host = x\ndb_name = y\n\nregistration_secret = short-one\n' >"$T/short.conf"
out=$("$RELAYCFG_BIN" -c "$T/short.conf" --check-config 2>&1)
ok $? "--check-config takes a short registration_secret"
like "$out" "warning: $T/short.conf:4: registration_secret is shorter than 16 characters" \
    "... and warns of it, naming file:line"
unlike "$out" "short-one" "... never the secret"

done_testing
