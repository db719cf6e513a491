#!/bin/bash
# The installed tree: "make install DESTDIR=..." puts every file where the
# docs say, never overwrites an existing relaycfg.conf, and what it
# installed runs: the installed relaycfg.conf (edited as README step 2
# says), started exactly as the installed relaycfg.service's ExecStart says
# through socket activation (LISTEN_FDS, by tests/listenfds standing in for
# systemd and relaycfg.socket), behind the installed nginx sample; then
# ExecReload, the stop, and "make uninstall".
. "$top_srcdir/tests/lib/harness.sh"
. "$top_srcdir/tests/lib/relay.sh"
. "$top_srcdir/tests/lib/installed.sh"
harness_init
need_binary nginx
D=$T/root

# make_in_builddir TARGET...: a clean sub-make (no jobserver or flags of
# the "make check" that runs us).
make_in_builddir() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    make -s -C "$top_builddir" "$@" DESTDIR="$D" >>"$T/make.log" 2>&1
}

make_in_builddir install
ok $? "make install DESTDIR=..."

SBIN=$D$deploy_sbindir
ETC=$D$deploy_sysconfdir
EX=$D$deploy_docdir/examples
CONF=$ETC/relaycfg.conf
for f in "$SBIN/relaycfg" "$D$deploy_bindir/relaycfgctl"; do
	[ -x "$f" ]
	ok $? "installed: ${f#"$D"}"
done
for f in "$D$deploy_mandir/man8/relaycfg.8" "$D$deploy_mandir/man5/relaycfg.conf.5" \
    "$D$deploy_mandir/man1/relaycfgctl.1" "$EX/relaycfg.conf" \
    "$EX/nginx/relaycfg.conf" "$EX/apache/relaycfg-proxy-fcgi.conf" \
    "$EX/apache/fcgid/htaccess" "$EX/apache/fcgid/fcgid.conf" \
    "$EX/systemd/relaycfg.service" "$EX/systemd/relaycfg.socket" \
    "$EX/systemd/relaycfg-sentry-sync.service"; do
	[ -s "$f" ]
	ok $? "installed: ${f#"$D"}"
done
is "$(grep -v '^#' "$D$deploy_tmpfilesdir/relaycfg.conf")" \
    "d /run/relaycfg 0755 relaycfg relaycfg -" \
    "tmpfiles.d: /run/relaycfg at boot, owned by relaycfg"
[ -x "$EX/apache/fcgid/relaycfg.fcgi" ]
ok $? "installed: the mod_fcgid wrapper, executable"
like "$(grep '^RELAYCFG=' "$EX/apache/fcgid/relaycfg.fcgi")" "^RELAYCFG=$deploy_sbindir/relaycfg\$" \
    "the wrapper runs the installed relaycfg"
cmp -s "$EX/nginx/relaycfg.conf" "$top_srcdir/nginx/relaycfg.conf"
ok $? "the installed nginx sample is the one the tests run"
if [ -n "$deploy_unitdir" ]; then
	UNITS=$D$deploy_unitdir
	[ -s "$UNITS/relaycfg.service" ] && [ -s "$UNITS/relaycfg.socket" ] &&
	    [ -s "$UNITS/relaycfg-sentry-sync.service" ]
	ok $? "systemd units installed in ${UNITS#"$D"}"
else
	UNITS=$EX/systemd
	diag "configure found no systemd: units only among the examples"
fi

# The config: the commented default, mode 0640, valid as it is.
cmp -s "$CONF" "$top_builddir/etc/relaycfg.conf"
ok $? "relaycfg.conf is the commented default"
is "$(stat -c %a "$CONF")" 640 "relaycfg.conf is mode 0640"
out=$("$SBIN/relaycfg" --check-config -c "$CONF" 2>&1)
is "$out" "$CONF: OK" "the default passes --check-config"

# The units name the installed paths.
exec_start=$(sed -n 's/^ExecStart=//p' "$UNITS/relaycfg.service")
is "$exec_start" "$deploy_sbindir/relaycfg -c $deploy_sysconfdir/relaycfg.conf" \
    "ExecStart runs the installed relaycfg with the installed config"
is "$(sed -n 's/^ListenStream=//p' "$UNITS/relaycfg.socket")" /run/relaycfg/relaycfg.sock \
    "relaycfg.socket listens on the samples' socket"
grep -q '^NoNewPrivileges=yes' "$UNITS/relaycfg.service" &&
    grep -q '^ProtectSystem=strict' "$UNITS/relaycfg.service" &&
    grep -q '^User=relaycfg' "$UNITS/relaycfg.service"
ok $? "relaycfg.service is hardened (own user, NoNewPrivileges, ProtectSystem)"
like "$(sed -n 's/^ExecStart=//p' "$UNITS/relaycfg-sentry-sync.service")" \
    "^$deploy_bindir/relaycfgctl -c $deploy_sysconfdir/relaycfg.conf sentry-sync --watch [0-9]+\$" \
    "relaycfg-sentry-sync.service runs the installed relaycfgctl on the installed config"
if command -v systemd-analyze >/dev/null 2>&1; then
	# Verified with the paths moved into DESTDIR, so the programs exist.
	mkdir -p "$T/units"
	for u in relaycfg.service relaycfg.socket relaycfg-sentry-sync.service; do
		sed -e "s|$deploy_sbindir/|$SBIN/|g" \
		    -e "s|$deploy_bindir/|$D$deploy_bindir/|g" "$UNITS/$u" >"$T/units/$u"
	done
	systemd-analyze verify --man=no "$T/units/relaycfg.socket" \
	    "$T/units/relaycfg.service" "$T/units/relaycfg-sentry-sync.service" \
	    >"$T/verify.log" 2>&1
	ok $? "systemd-analyze verify: the units are valid"
	[ $? -eq 0 ] || diag "$(cat "$T/verify.log")"
	for u in relaycfg.service relaycfg-sentry-sync.service; do
		systemd-analyze security --offline=yes --threshold=20 \
		    "$T/units/$u" >"$T/security.log" 2>&1
		ok $? "systemd-analyze security: $u exposure at most 2.0 ($(grep -o 'exposure level.*: [0-9.]*' "$T/security.log" | grep -o '[0-9.]*$'))"
	done
else
	diag "systemd-analyze not found: unit files not verified"
fi

# README step 2, as an operator does it: edit the installed file.
harness_start_mariadb
harness_start_memcached
relay_new S
installed_edit_conf "$CONF"
out=$("$SBIN/relaycfg" --check-config -c "$CONF" 2>"$T/check.err")
is "$out" "$CONF: OK" "the edited config passes --check-config"
# Registration open, Sentry's private networks internal, no proxy trusted.
like "$(cat "$T/check.err")" "^relaycfg: $CONF: warning: registration enabled, private networks internal and no trusted_proxies: " \
    "... with the warning for load-balanced set-ups"
sum=$(md5sum <"$CONF")
make_in_builddir install
ok $? "make install again"
is "$(md5sum <"$CONF")" "$sum" "an existing relaycfg.conf is never overwritten"
like "$(cat "$T/make.log")" "keeping $CONF" "make install says it kept it"

RELAYCFGCTL=$D$deploy_bindir/relaycfgctl
fixture_project "$CONF"

# --- socket activation ---------------------------------------------------
# What systemd would do: relaycfg.socket's ListenStream and SocketMode, the
# socket on fd 3 with LISTEN_FDS=1 and LISTEN_PID, then ExecStart.
installed_activate "$UNITS" "$D"
harness_start_nginx

is "$(readlink "/proc/$RELAYCFG_PID/exe")" "$SBIN/relaycfg" "ExecStart runs the installed binary"
like "$(readlink "/proc/$RELAYCFG_PID/fd/0")" '^socket:' "the activated socket is moved to fd 0"
[ ! -e "/proc/$RELAYCFG_PID/fd/3" ] || [ "$(readlink "/proc/$RELAYCFG_PID/fd/3")" != "$(readlink "/proc/$RELAYCFG_PID/fd/0")" ]
ok $? "fd 3 is not kept open as well"
is "$(stat -c %a "$RELAYCFG_SOCKET")" "${SOCKET_MODE#0}" "the socket keeps SocketMode"
ok $(( $(worker_pids | wc -w) < 1 )) "the master preforked its workers"

http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "live through nginx to the activated socket"
is "$HTTP_BODY" '{"is_healthy":true}' "live body"

head -c 8000 /dev/urandom | od -An -tx1 -v | tr -d ' \n' | fold -w32 |
    head -n 500 >"$T/keys500"
key=$(head -n 1 "$T/keys500")
ctl_fetch S "$PK" "$key"
is "$HTTP_STATUS" 200 "signed v3 fetch (installed relaycfgctl, installed config)"
like "$HTTP_BODY" "\"$PK\":\\{\"disabled\":false,\"slug\":\"backend\"" \
    "the project's config, from MariaDB"
like "$HTTP_BODY" "\"$key\":\\{\"disabled\":true\\}" "unknown key is disabled"
# shellcheck disable=SC2046
ctl_fetch S $(cat "$T/keys500")
is "$(printf '%s' "$HTTP_BODY" | grep -o '"disabled":true' | wc -l)" 500 \
    "500-key fetch"
relay_new R
ctl_register R
is "$HTTP_STATUS" 200 "registration (registration_secret from the edited config)"
ctl_fetch R "$key"
is "$HTTP_STATUS" 200 "the registered relay fetches"

# ExecReload, every line of it, with $MAINPID.
reload_ok=0
while IFS= read -r cmdline; do
	cmdline=${cmdline//\$MAINPID/$RELAYCFG_PID}
	cmdline=${cmdline//$deploy_sbindir\//$SBIN/}
	cmdline=${cmdline//$deploy_sysconfdir\//$ETC/}
	read -r -a argv <<<"$cmdline"
	"${argv[@]}" >>"$T/reload.log" 2>&1 || reload_ok=1
done < <(sed -n 's/^ExecReload=//p' "$UNITS/relaycfg.service")
ok "$reload_ok" "ExecReload: config checked, SIGHUP sent"
harness_wait_log "configuration reloaded"
like "$(cat "$T/relaycfg.log")" 'configuration reloaded' "the server reloaded"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "still serving after the reload"

# Stop: KillMode=mixed sends SIGTERM to the main process only.
pid=$RELAYCFG_PID
kill -TERM "$pid"
wait "$pid"
is "$?" 0 "SIGTERM: graceful stop, exit 0"
RELAYCFG_PID=""

# A socket meant for another process (LISTEN_PID) is not taken.
out=$("$LISTENFDS" -P 1 "unix:$T/other.sock" -- "$SBIN/relaycfg" -c "$CONF" </dev/null 2>&1)
ok $(( $? == 0 )) "LISTEN_PID of another process: refuses to start"
like "$out" 'no listening socket' "... and says why"

# Uninstall: everything goes but the operator's config.
make_in_builddir uninstall
ok $? "make uninstall"
is "$(find "$D" -type f | sed "s|^$D||")" "$deploy_sysconfdir/relaycfg.conf" \
    "only the edited relaycfg.conf is left"

done_testing
