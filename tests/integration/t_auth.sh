#!/bin/bash
# Relay authentication, registration and publickeys through nginx, driven
# by relaycfgctl exactly as an operator (or Relay) would.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
harness_init
harness_start_mariadb
harness_start_memcached

relay_new S1	# static, internal
relay_new S2	# static, external
relay_new R	# registers itself
relay_new X	# never known
K0=00000000000000000000000000000000	# a key no project has
# fetch NAME ARGS...: a signed v3 fetch of K0.
fetch() { ctl_fetch "$@" "$K0"; }

# 127.0.0.1 (every test request) is *not* internal here, so that internal
# status must come from a static flag or a trusted X-Forwarded-For.
write_conf() {
	harness_write_conf \
	    "static_relay = $(relay_id S1) $(relay_pk S1) internal" \
	    "static_relay = $(relay_id S2) $(relay_pk S2) external" \
	    "internal_networks = 10.0.0.0/8" \
	    "$@"
}
write_conf "trusted_proxies = 127.0.0.1"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" db init >"$T/dbinit.out" 2>&1
ok $? "relaycfgctl db init"
harness_start_relaycfg
harness_start_nginx

# --- a static internal relay needs no registration -------------------
fetch S1
is "$HTTP_STATUS" 200 "static internal relay fetches"
is "$HTTP_BODY" "{\"configs\":{\"$K0\":{\"disabled\":true}},\"pending\":[]}" "an unknown key is disabled"

fetch S2
is "$HTTP_STATUS" 403 "static external relay is refused"
is "$HTTP_BODY" '"Relay unauthorized for config information"' "403 body is Sentry's JSON string"

# --- registration ------------------------------------------------------
fetch R
is "$HTTP_STATUS" 401 "an unregistered relay is refused"
is "$HTTP_BODY" '{"detail":"Unknown relay"}' "Unknown relay"

ctl_register R
is "$HTTP_STATUS" 200 "register: challenge and response"
is "$HTTP_BODY" "{\"relay_id\":\"$(relay_id R)\"}" "register answers the relay id"
is "$(sql "SELECT public_key, is_internal FROM sentry_relay WHERE relay_id='$(relay_id R)'")" \
    "$(relay_pk R)	0" "sentry_relay row created, not internal (127.0.0.1 is outside internal_networks)"
is "$(sql "SELECT COUNT(*) FROM sentry_relayusage WHERE relay_id='$(relay_id R)'")" 1 "sentry_relayusage upserted"

ctl_register R
is "$HTTP_STATUS" 200 "registering again is fine (Relay re-registers every 10 min)"
is "$(sql "SELECT COUNT(*) FROM sentry_relay WHERE relay_id='$(relay_id R)'")" 1 "still one sentry_relay row"

fetch R
is "$HTTP_STATUS" 403 "registered but external by address: 403"

fetch R --header 'X-Forwarded-For: 10.1.2.3'
is "$HTTP_STATUS" 200 "internal through a trusted proxy's X-Forwarded-For"

fetch R --header 'X-Forwarded-For: 10.1.2.3, 8.8.8.8'
is "$HTTP_STATUS" 403 "only the rightmost untrusted hop counts"
# A balancer that appends "address:port" (Azure Application Gateway):
# the hop is its address, as Sentry's SetRemoteAddrFromForwardedFor reads
# an IPv4 hop; the port used to make every such relay external.
fetch R --header 'X-Forwarded-For: 10.1.2.3:5555'
is "$HTTP_STATUS" 200 "a hop with a port: its address counts"
fetch R --header 'X-Forwarded-For: 10.1.2.3, 127.0.0.1:4444'
is "$HTTP_STATUS" 200 "a trusted proxy's hop with a port is skipped"
fetch R --header 'X-Forwarded-For: 10.1.2.3, 8.8.8.8:53'
is "$HTTP_STATUS" 403 "an external hop with a port is external"

# Repeated X-Forwarded-For lines (a proxy such as HAProxy appends its own
# line): nginx 1.22 passes each as its own param, and every one counts, in
# order, as if joined with commas.  The client's own first line never
# decides (issue 11, 1).
printf '{"publicKeys":["%s"]}' "$K0" >"$T/k0.json"
PC3=/api/0/relays/projectconfigs/?version=3
signed_http R "$PC3" "$T/k0.json" -H 'X-Forwarded-For: 10.1.2.3, 203.0.113.5'
is "$HTTP_STATUS" 403 "one line, external hop rightmost: 403"
signed_http R "$PC3" "$T/k0.json" -H 'X-Forwarded-For: 10.1.2.3' \
    -H 'X-Forwarded-For: 203.0.113.5'
is "$HTTP_STATUS" 403 "two lines, internal then external: 403"
signed_http R "$PC3" "$T/k0.json" -H 'X-Forwarded-For: 10.1.2.3' \
    -H 'X-Forwarded-For: 8.8.8.8, 127.0.0.1'
is "$HTTP_STATUS" 403 "two lines, the trusted proxy skipped, external rightmost: 403"
signed_http R "$PC3" "$T/k0.json" -H 'X-Forwarded-For: 203.0.113.5' \
    -H 'X-Forwarded-For: 10.1.2.3'
is "$HTTP_STATUS" 200 "two lines, external then internal: the rightmost hop is internal"

# --- relaycfgctl relay update --internal / --external (issue 11, 14) ----
fetch R
is "$HTTP_STATUS" 403 "before --internal: external by address"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" relay update "$(relay_id R)" --internal >"$T/upd.out" 2>&1
ok $? "relaycfgctl relay update --internal"
fetch R
is "$HTTP_STATUS" 200 "a relay marked --internal gets configs from an external address"
ctl_publickeys R "$(relay_id R)"
like "$HTTP_STATUS $HTTP_BODY" '^200 .*"internal":true' "... and may call publickeys, which reports it internal"
ctl_register R
is "$HTTP_STATUS" 200 "re-registering from an external address..."
fetch R
is "$HTTP_STATUS" 200 "... keeps the operator's --internal"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" relay update "$(relay_id R)" --external >"$T/upd.out" 2>&1
ok $? "relaycfgctl relay update --external"
fetch R
is "$HTTP_STATUS" 403 "after --external: 403 again"

# A relay that re-registers its id with another key is refused.
cp "$T/X.json" "$T/Rfake.json"
sed -i "s/\"id\": *\"[^\"]*\"/\"id\": \"$(relay_id R)\"/" "$T/Rfake.json"
ctl_register Rfake
is "$HTTP_STATUS" 400 "same id, other key: 400"
is "$HTTP_BODY" '{"detail":"Attempted to register agent with a different public key"}' "different public key message"

# Challenge errors.
printf '{"relay_id":"%s","public_key":"%s","version":"25.1.0"}' "$(relay_id X)" "$(relay_pk X)" >"$T/chal.json"
http POST /api/0/relays/register/challenge/ --data-binary @"$T/chal.json" \
    -H "X-Sentry-Relay-Id: $(relay_id S1)" \
    -H "X-Sentry-Relay-Signature: $("$RELAYCFGCTL" sign --credentials "$T/X.json" <"$T/chal.json")"
is "$HTTP_STATUS" 400 "challenge with another header id: 400"
is "$HTTP_BODY" '{"detail":"relay_id in payload did not match header"}' "mismatch message"
http POST /api/0/relays/register/challenge/ --data-binary @"$T/chal.json" -H "X-Sentry-Relay-Id: $(relay_id X)"
is "$HTTP_BODY" '{"detail":"Missing relay signature"}' "challenge without signature: 400 Missing relay signature"
is "$HTTP_STATUS" 400 "... status 400"
printf 'not json' >"$T/junk"
signed_http X /api/0/relays/register/challenge/ "$T/junk"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"No valid json body"}' "challenge with a bad body"
printf '{"public_key":"%s"}' "$(relay_pk X)" >"$T/noid.json"
signed_http X /api/0/relays/register/challenge/ "$T/noid.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"relay_id":["This field is required."]}' "challenge without relay_id: DRF field error"
printf '{}' >"$T/empty.json"
signed_http X /api/0/relays/register/challenge/ "$T/empty.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"relay_id":["This field is required."],"public_key":["This field is required."]}' "challenge {}: every field's error, in the serializer's order"
printf '{"relay_id":"nope","public_key":null}' >"$T/bad2.json"
signed_http X /api/0/relays/register/challenge/ "$T/bad2.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"relay_id":["This value does not match the required pattern."],"public_key":["This field may not be null."]}' "challenge with two bad fields: both errors"
signed_http X /api/0/relays/register/response/ "$T/empty.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"relay_id":["This field is required."],"token":["This field is required."]}' "response {}: every field's error"
printf '{"relay_id":"%s","public_key":"%s"}' "$(relay_id X | tr a-f A-F)" "$(relay_pk X)" >"$T/upper.json"
signed_http X /api/0/relays/register/challenge/ "$T/upper.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"relay_id":["This value does not match the required pattern."]}' "uppercase relay_id refused like Sentry's regex"
"$RELAYCFGCTL" sign --credentials "$T/X.json" --time $(( $(date +%s) - 61 )) <"$T/chal.json" >"$T/oldsig"
http POST /api/0/relays/register/challenge/ --data-binary @"$T/chal.json" \
    -H "X-Sentry-Relay-Id: $(relay_id X)" -H "X-Sentry-Relay-Signature: $(cat "$T/oldsig")"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"signature is too old"}' "challenge signed 61 s ago: too old"

# --- a response whose signature header is older than register_max_age ---
# relay-auth's RegisterResponse::unpack says SignatureExpired for the header
# as for the token, and Sentry answers both 401 Challenge expired.
signed_http X /api/0/relays/register/challenge/ "$T/chal.json"
is "$HTTP_STATUS" 200 "challenge issued (for an old signature)"
token=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
printf '{"relay_id":"%s","token":"%s","version":"25.1.0"}' "$(relay_id X)" "$token" >"$T/resp.json"
"$RELAYCFGCTL" sign --credentials "$T/X.json" --time $(( $(date +%s) - 61 )) <"$T/resp.json" >"$T/oldsig"
http POST /api/0/relays/register/response/ --data-binary @"$T/resp.json" \
    -H "X-Sentry-Relay-Id: $(relay_id X)" -H "X-Sentry-Relay-Signature: $(cat "$T/oldsig")"
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Challenge expired"}' "a response signed 61 s ago: 401 Challenge expired, as Sentry"

# A tampered or foreign token in the response.
printf '{"relay_id":"%s","token":"abc:def","version":"25.1.0"}' "$(relay_id X)" >"$T/resp.json"
signed_http X /api/0/relays/register/response/ "$T/resp.json"
is "$HTTP_STATUS" 400 "response with a forged token: 400"
# The detail is relay-auth's UnpackError text, as Sentry passes it on:
# a MAC or state that is not base64url is BadEncoding, a MAC that does
# not match (or is missing) BadSignature.
is "$HTTP_BODY" '{"detail":"bad key encoding"}' "... a MAC that is not base64url: bad key encoding"
resp_token() {
	printf '{"relay_id":"%s","token":"%s","version":"25.1.0"}' "$(relay_id X)" "$1" >"$T/resp.json"
	signed_http X /api/0/relays/register/response/ "$T/resp.json"
}
resp_token "abc"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"invalid signature on data"}' "a token without ':': invalid signature on data"
resp_token "abc:$(printf 'A%.0s' $(seq 86))"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"invalid signature on data"}' "a token with a wrong MAC: invalid signature on data"
if command -v openssl >/dev/null 2>&1; then
	mac=$(printf 'abc=' | openssl dgst -sha512 -binary \
	    -hmac test-secret-0123456789abcdef | base64 -w0 | tr '+/' '-_' | tr -d '=')
	resp_token "abc=:$mac"
	is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"bad key encoding"}' "a good MAC over a state that is not base64url: bad key encoding"
else
	ok 0 "a good MAC over a state that is not base64url # SKIP no openssl"
fi
# bootstrap_unpack parses the body, public_key as a PublicKey, before it
# checks the signature: a key Relay cannot parse is BadPayload.
for pk in abc "$(printf 'A%.0s' $(seq 42))B" "$(relay_pk X)x"; do
	printf '{"relay_id":"%s","public_key":"%s","version":"25.1.0"}' "$(relay_id X)" "$pk" >"$T/chalpk.json"
	signed_http X /api/0/relays/register/challenge/ "$T/chalpk.json"
	is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"could not deserialize payload"}' "challenge public_key '$pk': could not deserialize payload"
done
# A JSON body of another type than an object: the serializer's own error.
for b in '[]:list' '"x":str' '1:int' '1.5:float' '-2e3:float' 'true:bool' ' [1]:list'; do
	printf '%s' "${b%:*}" >"$T/regtype.json"
	for ep in challenge response; do
		signed_http X /api/0/relays/register/$ep/ "$T/regtype.json"
		is "$HTTP_STATUS $HTTP_BODY" "400 {\"non_field_errors\":[\"Invalid data. Expected a dictionary, but got ${b##*:}.\"]}" "$ep body '${b%:*}': DRF's non_field_errors"
	done
done
printf 'null' >"$T/regtype.json"
signed_http X /api/0/relays/register/challenge/ "$T/regtype.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"non_field_errors":["No data provided"]}' "challenge body null: No data provided"
printf '' >"$T/regtype.json"
signed_http X /api/0/relays/register/challenge/ "$T/regtype.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"No valid json body"}' "challenge with an empty body: No valid json body"
# DRF's CharField takes numbers as text and validates the text stripped
# of whitespace; what it passes, Relay's serde must still read.
chal_fields() {
	printf '{"relay_id":%s,"public_key":%s,"version":"25.1.0"}' "$1" "$2" >"$T/chalf.json"
	signed_http X /api/0/relays/register/challenge/ "$T/chalf.json"
}
chal_fields 123 "\"$(relay_pk X)\""
is "$HTTP_STATUS $HTTP_BODY" '400 {"relay_id":["This value does not match the required pattern."]}' "challenge relay_id 123: the pattern's error"
chal_fields "\"$(relay_id X)\"" 12345
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"could not deserialize payload"}' "challenge public_key 12345: could not deserialize payload"
chal_fields "\"$(relay_id X)\"" '" \t "'
is "$HTTP_STATUS $HTTP_BODY" '400 {"public_key":["This field may not be blank."]}' "challenge public_key of whitespace: blank"
chal_fields "\" $(relay_id X) \"" "\"$(relay_pk X)\""
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"could not deserialize payload"}' "challenge relay_id padded with spaces: could not deserialize payload"
chal_fields "\"$(relay_id X)\"" "\"$(printf '\xc3\xa9%.0s' $(seq 40))\""
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"could not deserialize payload"}' "challenge public_key of 40 characters in 80 bytes: within max_length"
printf '{"relay_id":"%s","token":12345,"version":"25.1.0"}' "$(relay_id X)" >"$T/resp.json"
signed_http X /api/0/relays/register/response/ "$T/resp.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"could not deserialize payload"}' "response token 12345: could not deserialize payload"
printf '{"relay_id":" %s","token":"a:b","version":"25.1.0"}' "$(relay_id X)" >"$T/resp.json"
signed_http X /api/0/relays/register/response/ "$T/resp.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"could not deserialize payload"}' "response relay_id padded: could not deserialize payload"
printf '{"relay_id":"%s","public_key":"%s","version":"25.1.0"}' "$(relay_id X)" "$(relay_pk R)" >"$T/chalpk.json"
signed_http X /api/0/relays/register/challenge/ "$T/chalpk.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"invalid signature on data"}' "challenge with another relay's key: invalid signature on data"

# --- the 401 paths -------------------------------------------------------
printf '{"publicKeys":[]}' >"$T/body.json"
http POST /api/0/relays/projectconfigs/?version=3 --data-binary @"$T/body.json"
is "$HTTP_STATUS" 401 "no headers: 401"
is "$HTTP_BODY" '{"detail":"Invalid relay ID"}' "Invalid relay ID"
like "$HTTP_HEADERS" '^WWW-Authenticate: Basic realm="api"$' "401 carries WWW-Authenticate"

fetch S1 --header 'X-Sentry-Relay-Id: not-a-uuid'
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay ID"}' "malformed relay id"

fetch S1 --header "X-Sentry-Relay-Id: {$(relay_id S1 | tr a-f A-F)}"
is "$HTTP_STATUS" 200 "relay id parsed like Python's uuid.UUID (braces, upper case)"

fetch S1 --header 'X-Sentry-Relay-Signature:'
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Missing relay signature"}' "missing signature"

# A header sent twice is one value of both lines joined with ", " (RFC
# 9110 5.3), as Sentry, Apache and nginx 1.23+ read it; nginx 1.22 passes
# each line as a param of its own, and only the first used to count.
signed_http S1 "$PC3" "$T/k0.json" \
    -H "X-Sentry-Relay-Id: $(relay_id X)"
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay ID"}' "two X-Sentry-Relay-Id lines (the relay's own, then another): no UUID"
signed_http S1 "$PC3" "$T/k0.json" \
    -H "X-Sentry-Relay-Id: $(relay_id S1)"
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay ID"}' "the same relay id twice: no UUID either"
signed_http S1 "$PC3" "$T/k0.json" \
    -H 'X-Sentry-Relay-Signature: x.y'
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "two signature lines, the good one first: invalid"
signed_http S1 "$PC3" "$T/k0.json"
is "$HTTP_STATUS" 200 "... each header once: 200"

fetch X
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Unknown relay"}' "unknown relay"

fetch S1 --header "X-Sentry-Relay-Signature: $("$RELAYCFGCTL" sign --credentials "$T/X.json" <"$T/body.json")" --body-file "$T/body.json"
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "signed by another key"

fetch S1 --header 'X-Sentry-Relay-Signature: !!!.???'
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "garbage signature"

now=$(date +%s)
fetch S1 --time $((now - 301))
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "a signature 301 s old is refused"
# Age counts to the nanosecond: leave room for the second ticking on.
fetch S1 --time $(($(date +%s) - 298))
is "$HTTP_STATUS" 200 "a signature 298-299 s old is accepted"
fetch S1 --time $((now + 3600))
is "$HTTP_STATUS" 200 "a future signature is accepted (no skew check, as Sentry)"

printf '{"publicKeys":["00000000000000000000000000000000"]}' >"$T/other.json"
fetch S1 --header "X-Sentry-Relay-Signature: $("$RELAYCFGCTL" sign --credentials "$T/S1.json" <"$T/body.json")" --body-file "$T/other.json"
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "a body changed after signing is refused"

# A well-signed body that is not a JSON object (JSON of another type, or
# no JSON text at all: empty or blank) is refused during authentication,
# as Sentry refuses it: 401 "Invalid relay signature" (issues 4 and 5).
for b in '[1,2,3]' '[]' '"x"' 'null' '1' 'true' '' ' ' '\n'; do
	printf "$b" >"$T/nonobj.json"
	signed_http S1 "$PC3" "$T/nonobj.json"
	is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "a signed body '$b' is not a JSON object: 401"
	like "$HTTP_HEADERS" 'WWW-Authenticate: Basic realm="api"' "... with WWW-Authenticate"
	signed_http S1 /api/0/relays/publickeys/ "$T/nonobj.json"
	is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "publickeys: a signed body '$b': 401"
done
# The JSON text itself is malformed: 400 with the reason (issue 11, 6).

printf '{"publicKeys":[' >"$T/trunc.json"
fetch S1 --body-file "$T/trunc.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"Invalid JSON body: truncated JSON"}' "a signed body that is not JSON"

# --- strict JSON: what Sentry's parser refuses (issue 11, 6) -------------
printf "{'publicKeys':[]}" >"$T/squote.json"
fetch S1 --body-file "$T/squote.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"Invalid JSON body: single-quoted string"}' "single quotes: 400"
printf '{"publicKeys":["\xc0\x80"]}' >"$T/overlong.json"
fetch S1 --body-file "$T/overlong.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"Invalid JSON body: invalid UTF-8"}' "overlong UTF-8 C0 80 in a key: 400"
printf '{"publicKeys":["a\nb"]}' >"$T/newline.json"
fetch S1 --body-file "$T/newline.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"Invalid JSON body: control character in string"}' "a raw newline in a key: 400"
printf '{"publicKeys":[]} x' >"$T/trailing.json"
fetch S1 --body-file "$T/trailing.json"
is "$HTTP_STATUS" 400 "bytes after the JSON value: 400"
printf '{"relay_ids":[\x27%s\x27]}' "$(relay_id R)" >"$T/pksq.json"
signed_http S1 /api/0/relays/publickeys/ "$T/pksq.json"
is "$HTTP_STATUS" 400 "publickeys: single quotes: 400"
printf '{"relay_id":"%s","public_key":"%s","version":"25.1.0\xed\xa0\x80"}' "$(relay_id X)" "$(relay_pk X)" >"$T/chalsur.json"
signed_http X /api/0/relays/register/challenge/ "$T/chalsur.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"No valid json body"}' "challenge: a UTF-8 surrogate: 400"
printf '{"relay_id":"%s","token":"a:b","version":"25.1.0"}\n\x01' "$(relay_id X)" >"$T/respctl.json"
signed_http X /api/0/relays/register/response/ "$T/respctl.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"No valid json body"}' "response: a control byte after the JSON: 400"

# --- values json-c would build: bounded before it builds them -------------
# json-c spends some 780 bytes on an empty object: 1 MB of {} sent to
# register/challenge, which parses before any signature, made a worker
# 260 MB (glibc kept it).  At most 25,000 values, 1,000 arrays and objects.
# many N ITEM: {"a":[ITEM,ITEM,...]} with N items, into $T/many.json.
many() { { printf '{"a":['; yes "$2" | head -n "$1" | paste -sd, - | tr -d '\n'; printf ']}'; } >"$T/many.json"; }
many 333000 '{}'
http POST /api/0/relays/register/challenge/ --data-binary @"$T/many.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"No valid json body"}' "challenge: 333,000 {} (1 MB): 400 before json-c builds it"
# AddressSanitizer keeps freed memory in its quarantine: no claim there.
if ! ldd "$RELAYCFG_BIN" 2>/dev/null | grep -q libasan; then
	rss=0
	for w in $(cat "/proc/$RELAYCFG_PID/task/$RELAYCFG_PID/children"); do
		r=$(awk '/^VmRSS/ { print $2 }' "/proc/$w/status" 2>/dev/null)
		[ "${r:-0}" -gt "$rss" ] && rss=$r
	done
	ok $((rss >= 40000)) "... and the workers stay small (largest ${rss} kB)"
fi
many 998 '{}'
http POST /api/0/relays/register/challenge/ --data-binary @"$T/many.json"
like "$HTTP_STATUS $HTTP_BODY" '^400 \{"relay_id":\["This field is required' "challenge: 1,000 arrays and objects are parsed"
many 999 '[]'
signed_http S1 "$PC3" "$T/many.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"Invalid JSON body: too many arrays and objects"}' "projectconfigs: 1,001 arrays and objects: 400"
many 24999 0
signed_http S1 /api/0/relays/publickeys/ "$T/many.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"Invalid JSON body: too many values"}' "publickeys: 25,001 values: 400"

# --- base64url: one text per signature (issue 11, 7) ----------------------
# libsodium alone reads any byte >= 0x80 as '_'.
for i in $(seq 50); do
	sig=$("$RELAYCFGCTL" sign --credentials "$T/S1.json" <"$T/k0.json")
	case ${sig%%.*} in *_*) break;; esac
done
like "${sig%%.*}" '_' "a signature with a '_' (try $i)"
fetch S1 --body-file "$T/k0.json" --header "X-Sentry-Relay-Signature: $sig"
is "$HTTP_STATUS" 200 "... verifies"
badsig=$(printf '%s' "$sig" | sed 's/_/\xff/')
fetch S1 --body-file "$T/k0.json" --header "X-Sentry-Relay-Signature: $badsig"
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "... and with \\xff for its '_' it does not"

# --- signature age to the nanosecond (issue 11, 8) ------------------------
# Sign at a whole second S while the clock reads S + 300.4..S + 300.6:
# 300.4 s or more is expired, although whole seconds would say 300.
while :; do
	read -r secs frac < <(date '+%s %N')
	case $frac in [45]*) break;; esac
	sleep 0.05
done
fetch S1 --time $((secs - 300))
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Invalid relay signature"}' "a signature 300.4 s old is expired"
while :; do
	read -r secs frac < <(date '+%s %N')
	case $frac in [45]*) break;; esac
	sleep 0.05
done
fetch S1 --time $((secs - 299))
is "$HTTP_STATUS" 200 "a signature 299.4 s old is not"

# --- register: only versions Relay could send (issue 11, 9) --------------
chal_version() {
	printf '{"relay_id":"%s","public_key":"%s","version":%s}' \
	    "$(relay_id X)" "$(relay_pk X)" "$1" >"$T/chalv.json"
	signed_http X /api/0/relays/register/challenge/ "$T/chalv.json"
}
for v in '"not.a.version"' '"1.2"' '"256.0.0"' '"1.2.x"' '"+1.2.3"' '""' \
    '"1.2.3+build"' 25 null '["25.1.0"]'; do
	chal_version "$v"
	is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"could not deserialize payload"}' "challenge version $v: 400"
done
for v in '"25.1.0"' '"0.0.0"' '"255.255.255"' '"25.1.0-rc.1"' '"1.2.3.4"'; do
	chal_version "$v"
	is "$HTTP_STATUS" 200 "challenge version $v: 200"
done
token=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
printf '{"relay_id":"%s","token":"%s","version":"x.y.z"}' "$(relay_id X)" "$token" >"$T/respv.json"
signed_http X /api/0/relays/register/response/ "$T/respv.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"could not deserialize payload"}' "response version x.y.z: 400"
is "$(sql "SELECT COUNT(*) FROM sentry_relay WHERE relay_id='$(relay_id X)'")" 0 "... and nothing registered"

# --- publickeys -----------------------------------------------------------
ctl_publickeys S1 "$(relay_id R)" "$(relay_id S2)" "$(relay_id X)" "junk"
is "$HTTP_STATUS" 200 "publickeys for an internal relay"
is "$HTTP_BODY" "{\"public_keys\":{\"$(relay_id R)\":\"$(relay_pk R)\",\"$(relay_id S2)\":\"$(relay_pk S2)\",\"$(relay_id X)\":null,\"junk\":null},\"relays\":{\"$(relay_id R)\":{\"publicKey\":\"$(relay_pk R)\",\"internal\":false},\"$(relay_id S2)\":{\"publicKey\":\"$(relay_pk S2)\",\"internal\":false},\"$(relay_id X)\":null,\"junk\":null}}" \
    "publickeys answer: database, static and unknown relays"
# Any authenticated relay may ask; "internal" is Sentry's
# relay.is_internal and calling_relay.is_internal (public_keys.py).
ctl_publickeys S1 "$(relay_id S1)"
is "$HTTP_STATUS $HTTP_BODY" "200 {\"public_keys\":{\"$(relay_id S1)\":\"$(relay_pk S1)\"},\"relays\":{\"$(relay_id S1)\":{\"publicKey\":\"$(relay_pk S1)\",\"internal\":true}}}" \
    "publickeys: an internal relay learns that another is internal"
ctl_publickeys R "$(relay_id S1)" "$(relay_id X)"
is "$HTTP_STATUS $HTTP_BODY" "200 {\"public_keys\":{\"$(relay_id S1)\":\"$(relay_pk S1)\",\"$(relay_id X)\":null},\"relays\":{\"$(relay_id S1)\":{\"publicKey\":\"$(relay_pk S1)\",\"internal\":false},\"$(relay_id X)\":null}}" \
    "publickeys answers an external relay, internal flag masked"
ctl_publickeys S2 "$(relay_id S1)"
like "$HTTP_STATUS $HTTP_BODY" '^200 .*"internal":false}}}$' "... a static external relay likewise"

# relay_ids is capped like projectconfigs' keys (issue 11, 10).
ids() { seq -f '"%08g-0000-4000-8000-000000000000"' 1 "$1" | paste -sd, -; }
printf '{"relay_ids":[%s]}' "$(ids 10001)" >"$T/manyids.json"
signed_http S1 /api/0/relays/publickeys/ "$T/manyids.json"
is "$HTTP_STATUS $HTTP_BODY" '400 {"detail":"Too many relay ids in one request"}' "publickeys: 10001 relay ids: 400"
printf '{"relay_ids":[%s]}' "$(ids 10000)" >"$T/manyids.json"
signed_http S1 /api/0/relays/publickeys/ "$T/manyids.json"
is "$HTTP_STATUS" 200 "publickeys: 10000 relay ids: 200"

# --- an X-Forwarded-For too long to walk is "not internal" ---------------
# With the proxy itself internal, "too long" read as "absent" would fall
# back to REMOTE_ADDR and let anyone in.
write_conf "trusted_proxies = 127.0.0.1" "internal_networks = 127.0.0.0/8"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
fetch R
is "$HTTP_STATUS" 200 "the proxy's own address is internal here"
long=$(printf '203.0.113.5, %.0s' $(seq 384))127.0.0.2
signed_http R "$PC3" "$T/k0.json" -H "X-Forwarded-For: $long" \
    -H "X-Forwarded-For: $long"
is "$HTTP_STATUS" 403 "two 5 KB X-Forwarded-For lines: too long, not internal"
signed_http R "$PC3" "$T/k0.json" -H "X-Forwarded-For: ${long:3500}"
is "$HTTP_STATUS" 403 "one 1.5 KB line (more hops than are walked): not internal"

# --- trusted_proxies off: X-Forwarded-For no longer counts -------------
write_conf
kill -HUP "$RELAYCFG_PID"
sleep 0.5
fetch R --header 'X-Forwarded-For: 10.1.2.3'
is "$HTTP_STATUS" 403 "X-Forwarded-For is ignored from an untrusted peer"

# --- closed registration -------------------------------------------------
write_conf "open_registration = no" "register_max_age = 2"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
ctl_register X
is "$HTTP_STATUS" 403 "closed registration refuses an external relay"
is "$HTTP_BODY" '{"detail":"Relay is not allowed to register","relay":"stop"}' "with relay:stop, so that Relay stops retrying (issue 4)"
ctl_register S2
is "$HTTP_STATUS" 200 "a static relay may still register"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" relay update "$(relay_id R)" --internal >"$T/upd.out" 2>&1
ctl_register R
is "$HTTP_STATUS" 200 "a relay marked --internal may still re-register"
"$RELAYCFGCTL" -c "$RELAYCFG_CONF" relay update "$(relay_id R)" --external >"$T/upd.out" 2>&1
ctl_register R
is "$HTTP_STATUS" 403 "after --external it may not"

# --- an expired challenge -----------------------------------------------
write_conf "register_max_age = 1"
kill -HUP "$RELAYCFG_PID"
sleep 0.5
signed_http X /api/0/relays/register/challenge/ "$T/chal.json"
is "$HTTP_STATUS" 200 "challenge issued"
token=$(printf '%s' "$HTTP_BODY" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
sleep 2.2
printf '{"relay_id":"%s","token":"%s","version":"25.1.0"}' "$(relay_id X)" "$token" >"$T/resp.json"
signed_http X /api/0/relays/register/response/ "$T/resp.json"
is "$HTTP_STATUS $HTTP_BODY" '401 {"detail":"Challenge expired"}' "a response after the challenge's max age: 401 Challenge expired"

# --- a short registration secret (issue 4: any length) --------------------
# relay-auth's own vectors use "secret"; relaycfg starts with it, warns,
# and registers with it.
write_conf "registration_secret = secret"
log_from=$(($(wc -c <"$T/relaycfg.log") + 1))
kill -HUP "$RELAYCFG_PID"
harness_wait_log "configuration reloaded"
relay_new R2
ctl_register R2
is "$HTTP_STATUS" 200 "registration_secret = secret: a relay registers"
like "$(tail -c +"$log_from" "$T/relaycfg.log")" \
    "registration_secret is shorter than 16 characters" "... and the reload warned of it"
unlike "$(tail -c +"$log_from" "$T/relaycfg.log")" "= secret" "... without the secret"

done_testing
