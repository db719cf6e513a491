#!/bin/bash
# "relaycfgctl fetch" as an operator reads it: compact into a pipe (what
# scripts and the other tests parse), indented on a terminal (a real pty,
# by script(1)) and with --pretty, compact again with --compact on a
# terminal, and --summary: a line per key saying what Relay gets for it
# (enabled with project, rev and features; disabled; pending), and the
# global config when asked for; a line also for a key asked for and not
# answered (invalid: no public key); one output option at a time; with
# --json the summary as one object.  An answer is never altered, only
# laid out.  A hostile upstream (a python3 server) drives no terminal:
# control characters of an error's body on stderr, or of an answer on a
# terminal (C0, DEL and C1, and bytes that are not UTF-8), come out as
# \xNN, an error is one bounded line, an endless
# answer or a gzip bomb is one line saying it was too large.
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
need_binary script
relay_stack_init
K2=$(ctl key create --project "$PROJ" | jq -r .public_key)
ctl key disable "$K2" >/dev/null
K0=00000000000000000000000000000000
harness_start_relaycfg
harness_start_nginx

fetch() {
	"$RELAYCFGCTL" fetch --upstream "$BASE_URL" --credentials "$T/S.json" "$@"
}

# A password in --upstream would be in argv for every user to read.
# So is one libcurl's URL parser refuses, which the request's error line
# would repeat, password and all.
for u in "http://relay:s3cret@127.0.0.1:9/" "relay:s3cret@127.0.0.1:9" \
    "https://relay@127.0.0.1:9/" "http://relay:s3cret@127.0.0.1:99999/" \
    "foo://relay:s3cret@127.0.0.1/" "http://relay:s3cret@127.0.0.1/a b"; do
	"$RELAYCFGCTL" fetch --upstream "$u" --credentials "$T/S.json" "$K1" \
	    >"$T/userinfo.out" 2>"$T/userinfo.err"
	is "$?:$(cat "$T/userinfo.out")" 2: "--upstream $u: refused (exit 2), nothing sent"
	is "$(cat "$T/userinfo.err")" "relaycfgctl: fetch: --upstream: no user or password in the URL (every user can read argv; the upstream knows a relay by its signature)" \
	    "... said without repeating it"
done

fetch "$K1" "$K2" "$K0" >"$T/compact" 2>"$T/err"
ok $? "fetch into a pipe exits 0"
is "$(wc -l <"$T/compact")" 1 "into a pipe: one line, as it came"
jq -e . "$T/compact" >/dev/null
ok $? "... one JSON document"

fetch --pretty "$K1" "$K2" "$K0" >"$T/pretty"
ok $(( $(wc -l <"$T/pretty") < 20 )) "--pretty: indented over many lines ($(wc -l <"$T/pretty"))"
is "$(jq -S -c . "$T/pretty" | jq -S -c 'del(.configs[]?.lastFetch)')" \
    "$(jq -S -c 'del(.configs[]?.lastFetch)' "$T/compact")" \
    "--pretty: the same JSON as the compact answer"

# A terminal: script(1) gives the command a pty on stdout.
script -qec "'$RELAYCFGCTL' fetch --upstream '$BASE_URL' --credentials '$T/S.json' '$K1'" \
    /dev/null | tr -d '\r' >"$T/tty"
ok $(( $(wc -l <"$T/tty") < 20 )) "on a terminal: indented by default ($(wc -l <"$T/tty") lines)"
like "$(head -n 1 "$T/tty")" '^\{$' "... starting with a lone {"
script -qec "'$RELAYCFGCTL' fetch --compact --upstream '$BASE_URL' --credentials '$T/S.json' '$K1'" \
    /dev/null | tr -d '\r' >"$T/tty-compact"
is "$(wc -l <"$T/tty-compact")" 1 "--compact on a terminal: one line"

fetch --summary "$K1" "$K2" "$K0" >"$T/summary"
ok $? "--summary exits 0"
diag "$(cat "$T/summary")"
like "$(head -n 1 "$T/summary")" '^KEY +STATUS +PROJECT/SLUG +REV +FEATURES$' "--summary: a header"
rev=$(jq -r --arg k "$K1" '.configs[$k].rev' "$T/compact")
features=$(jq -r --arg k "$K1" '.configs[$k].config.features // [] | join(",")' "$T/compact")
[ -n "$features" ] || features=-
is "$(grep "^$K1 " "$T/summary" | tr -s ' ')" \
    "$K1 enabled $PROJ/web $rev $features" \
    "--summary: the live key with project, slug, rev and every feature"
is "$(grep "^$K2 " "$T/summary" | tr -s ' ')" "$K2 disabled - - -" \
    "--summary: the inactive key is disabled"
is "$(grep "^$K0 " "$T/summary" | tr -s ' ')" "$K0 disabled - - -" \
    "--summary: the unknown key is disabled"
is "$(grep -c . "$T/summary")" 4 "--summary: a line per key"
fetch --summary --global "$K1" >"$T/summary-global"
like "$(tail -n 1 "$T/summary-global")" '^global config: [0-9]+ sections$' \
    "--summary --global: says the global config came"

is "$(tail -n 1 "$T/summary" | tr -s ' ')" "$K0 disabled - - -" \
    "--summary without --global: no global config line (it was not asked for)"
# Every key asked for gets a line, also one the upstream ignores.
fetch --summary "$K1" AAAA "$K1" >"$T/summary-bad"
ok $? "--summary with a key that is no public key: exit 0"
is "$(grep "^AAAA " "$T/summary-bad" | tr -s ' ')" "AAAA invalid - - -" \
    "--summary: a key that is not 32 hex digits is said invalid"
is "$(grep -c . "$T/summary-bad")" 3 "--summary: one line per key asked (a repeated one once)"

# One output option at a time.
fetch --summary --pretty "$K1" >"$T/out" 2>"$T/err"
is "$?" 2 "--summary --pretty: a usage error"
like "$(cat "$T/err")" 'do not mix' "... saying the options do not mix"
is "$(cat "$T/out")" "" "... with nothing on stdout"
fetch --compact --summary "$K1" >/dev/null 2>&1
is "$?" 2 "--compact --summary: a usage error"
fetch --pretty --compact "$K1" >/dev/null 2>&1
is "$?" 2 "--pretty --compact: a usage error"
fetch --summary --summary "$K1" >/dev/null 2>&1
is "$?" 0 "--summary twice: fine"

# --json --summary: the summary as one JSON object.
"$RELAYCFGCTL" --json fetch --upstream "$BASE_URL" --credentials "$T/S.json" \
    --summary --global "$K1" "$K2" AAAA >"$T/summary.json"
ok $? "--json fetch --summary: exit 0"
is "$(jq -c '[.keys[] | [.key, .status]]' "$T/summary.json")" \
    "[[\"$K1\",\"enabled\"],[\"$K2\",\"disabled\"],[\"AAAA\",\"invalid\"]]" \
    "--json --summary: one object, a row per key"
is "$(jq -c --arg k "$K1" '.keys[] | select(.key == $k) | [.project_id, .slug, .rev, (.features | type)]' "$T/summary.json")" \
    "[$PROJ,\"web\",\"$rev\",\"array\"]" "--json --summary: project, slug, rev, features"
jq -e '.global_sections > 0' "$T/summary.json" >/dev/null
ok $? "--json --summary --global: global_sections"
is "$(wc -l <"$T/summary.json")" 1 "--json --summary: on one line"
"$RELAYCFGCTL" --json fetch --upstream "$BASE_URL" --credentials "$T/S.json" \
    --summary "$K1" >"$T/summary.json"
is "$(jq -c 'has("global_sections")' "$T/summary.json")" false \
    "--json --summary without --global: no global_sections"

# Errors keep their form: HTTP status and body on stderr, exit 1.
"$RELAYCFGCTL" fetch --summary --upstream "$BASE_URL" --credentials "$T/S.json" \
    --header 'X-Sentry-Relay-Signature: bad' "$K1" >"$T/out" 2>"$T/err"
is "$?" 1 "a refused fetch exits 1 with --summary too"
like "$(head -n 1 "$T/err")" '^HTTP 401$' "... and says the status on stderr"
is "$(cat "$T/out")" "" "... with nothing on stdout"

# --- a hostile upstream ------------------------------------------------
need_binary python3
HPORT=$(free_port)
cat >"$T/hostile.py" <<'PY'
import http.server, socketserver, sys, zlib
bomb = zlib.compressobj(1, zlib.DEFLATED, 31)
bomb = bomb.compress(b"\0" * (80 << 20)) + bomb.flush()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body, extra=()):
        self.send_response(code)
        for k, v in extra: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        mode = self.path.split("/")[1]
        try:
            if mode == "esc401":
                self.send(401, b'{"detail":"\x1b]0;owned\x07\x1b[2J"}\n')
            elif mode == "lines":
                self.send(502, b"<html>\r\nrelaycfgctl: fetch: ok\r\n</html>")
            elif mode == "c1":
                self.send(200, b'{"configs":{"0123456789abcdef0123456789abcdef":'
                    b'{"disabled":false,"slug":"\\u009b2J","projectId":1,'
                    b'"rev":"r"}}}')
            elif mode == "notutf8":
                self.send(200, b'{"configs":{"k":{"slug":"\xff\x1b[2J"}}}')
            elif mode == "manyobjects":
                self.send(200, b'{"configs":{},"x":[' + b"{}," * (1 << 20) + b"{}]}")
            elif mode == "err4096":
                self.send(500, b"a" * 4096 + b"\n")
            elif mode == "c1err":
                self.send(500, b"\xc2\x9b2J\x9b2J\xc3\xa9")
            elif mode == "redirect":
                self.send(307, b"", [("Location", "file:///etc/passwd")])
            elif mode == "raw200":
                self.send(200, b'{"configs":{}}\x00\x1b[2J')
            elif mode == "deep":
                self.send(200, b"[\x1b[2J" * 100000)
            elif mode == "endless":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while True:
                    self.wfile.write(b"10000\r\n" + b"a" * 65536 + b"\r\n")
            elif mode == "gzbomb":
                self.send(200, bomb, [("Content-Encoding", "gzip")])
        except (BrokenPipeError, ConnectionResetError):
            pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$T/hostile.py" "$HPORT" 2>>"$T/hostile.log" &
HARNESS_PIDS="$HARNESS_PIDS $!"
harness_wait_port "$HPORT" "$!" || { diag "no hostile server"; exit 1; }
hostile() {
	local mode=$1
	shift
	"$RELAYCFGCTL" "$@" --upstream "http://127.0.0.1:$HPORT/$mode" \
	    --credentials "$T/S.json"
}
ESC=$(printf '\033')

hostile esc401 fetch "$K1" >"$T/out" 2>"$T/err"
is "$?" 1 "an upstream's 401: exit 1"
is "$(cat "$T/err")" "HTTP 401
{\"detail\":\"\\x1b]0;owned\\x07\\x1b[2J\"}" \
    "... its body on stderr with ESC and BEL as \\xNN"
hostile lines fetch "$K1" 2>"$T/err"
is "$(wc -l <"$T/err")" 2 "an error body's CR and LF do not make lines of their own"
hostile deep register >/dev/null 2>"$T/err"
is "$?" 1 "a challenge answer 100,000 deep: exit 1"
like "$(head -n 1 "$T/err")" 'lacks relay_id or token' "... saying what it lacks"
ok $(( $(wc -c <"$T/err") > 4 * 4096 + 200 )) "... its body shown cut short ($(wc -c <"$T/err") bytes)"
like "$(tail -n 1 "$T/err")" '\.\.\. \(500000 bytes\)$' "... saying how long it was"
is "$(grep -c "$ESC" "$T/err")" 0 "... and no ESC in it"
hostile err4096 fetch "$K1" 2>"$T/err"
is "$(tail -n 1 "$T/err")" "$(head -c 4096 /dev/zero | tr '\0' a)" \
    "an error body of 4096 bytes and a newline: all shown, not said to be cut"
hostile raw200 fetch "$K1" | od -An -c | tr -d '\n' | tr -s ' ' >"$T/out"
like "$(cat "$T/out")" '\\0 033 \[' "an answer that is no JSON, into a pipe: as it came"
script -qec "'$RELAYCFGCTL' fetch --upstream 'http://127.0.0.1:$HPORT/raw200' --credentials '$T/S.json' '$K1'" \
    /dev/null | tr -d '\r' >"$T/tty"
is "$(cat "$T/tty")" '{"configs":{}}\x00\x1b[2J' "... on a terminal: NUL and ESC as \\xNN"
hostile redirect fetch "$K1" >"$T/out" 2>"$T/err"
is "$?:$(head -n 1 "$T/err"):$(cat "$T/out")" "1:HTTP 307:" \
    "a redirect (to file:///etc/passwd) is not followed"
# C1 controls (U+009B is CSI to a terminal) and bytes that are no UTF-8.
KC=0123456789abcdef0123456789abcdef
script -qec "'$RELAYCFGCTL' fetch --upstream 'http://127.0.0.1:$HPORT/c1' --credentials '$T/S.json' $KC" \
    /dev/null | tr -d '\r' >"$T/tty"
is "$(grep slug "$T/tty")" '      "slug": "\xc2\x9b2J",' \
    "on a terminal, indented: a C1 control as \\xNN"
hostile c1 fetch --summary "$KC" >"$T/out"
is "$(grep "^$KC" "$T/out" | tr -s ' ')" "$KC enabled 1/\\xc2\\x9b2J r -" \
    "--summary: likewise"
script -qec "'$RELAYCFGCTL' --json fetch --summary --upstream 'http://127.0.0.1:$HPORT/c1' --credentials '$T/S.json' $KC" \
    /dev/null | tr -d '\r' >"$T/tty"
like "$(cat "$T/tty")" '"slug":"\\xc2\\x9b2J"' \
    "--summary --json on a terminal: the C1 control as \\xNN"
hostile c1 --json fetch --summary "$KC" | grep -c $'\xc2\x9b' >"$T/out"
is "$(cat "$T/out")" 1 "... and as it came into a pipe"
# Only strict JSON is laid out (json-c takes bytes that are not UTF-8).
script -qec "'$RELAYCFGCTL' fetch --summary --upstream 'http://127.0.0.1:$HPORT/notutf8' --credentials '$T/S.json' $KC" \
    /dev/null | tr -d '\r' >"$T/tty"
is "$(cat "$T/tty")" '{"configs":{"k":{"slug":"\xff\x1b[2J"}}}' \
    "an answer that is not UTF-8: as it came, escaped on a terminal"
# json-c builds some 780 bytes for each {}: 3 MiB of them made 830 MB.
hostile manyobjects fetch --summary "$KC" >"$T/out" 2>"$T/err"
is "$?:$(cat "$T/err")" "0:relaycfgctl: fetch: the answer is too large to lay out (too many arrays and objects): printed as it came" \
    "an answer of a million {}: not laid out, and said why"
is "$(head -c 21 "$T/out")" '{"configs":{},"x":[{}' "... printed as it came"
if [ -x /usr/bin/time ]; then
	/usr/bin/time -o "$T/rss" -f %M "$RELAYCFGCTL" register \
	    --upstream "http://127.0.0.1:$HPORT/manyobjects" \
	    --credentials "$T/S.json" >/dev/null 2>"$T/err"
	like "$(head -n 1 "$T/err")" 'lacks relay_id or token' \
	    "a challenge answer of a million {}: lacks relay_id or token"
	ok $(( $(tail -n 1 "$T/rss") > 200000 )) \
	    "... and not read by json-c (peak $(tail -n 1 "$T/rss") kB)"
fi
hostile c1err fetch "$KC" 2>"$T/err"
is "$(tail -n 1 "$T/err")" '\xc2\x9b2J\x9b2J'$'\xc3\xa9' \
    "an error body on stderr: C1 and stray bytes escaped, UTF-8 kept"
for m in endless gzbomb; do
	s=$SECONDS
	hostile "$m" fetch "$K1" >/dev/null 2>"$T/err"
	is "$?" 1 "$m answer: exit 1"
	like "$(cat "$T/err")" 'answer larger than 64 MiB$' "... one line saying it is too large"
	ok $(( SECONDS - s >= 20 )) "... within $(( SECONDS - s )) s"
done

done_testing
