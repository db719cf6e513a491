# installed.sh - run relaycfg from installed files, as an operator and
# systemd would: the README's config edit, then socket activation from
# the installed units.  Shared by t_install (make install DESTDIR=...)
# and t_deb (the Debian package).  Needs harness.sh and relay.sh, relay S
# made, MariaDB and memcached started.
#
#   installed_edit_conf CONF
#       README step 2 on CONF: the test's MariaDB socket (user root),
#       memcached, a registration secret, relay S as a static internal
#       relay.
#   installed_activate UNITDIR ROOT [WRAPPER...]
#       What systemd does for relaycfg.socket + relaycfg.service found in
#       UNITDIR: the socket at $RELAYCFG_SOCKET (default $T/relaycfg.sock)
#       with the unit's SocketMode (set in SOCKET_MODE) on fd 3 with
#       LISTEN_FDS=1 and LISTEN_PID, then ExecStart (in EXEC_START), its
#       paths under ROOT ("" for a real install), run through WRAPPER
#       (e.g. setpriv to the unit's User=; it must exec, not fork, so that
#       LISTEN_PID stays true).  Sets RELAYCFG_PID, waits for the socket.
#   installed_copy_sources DEST
#       the source tree into DEST, as a clean checkout has it: no build
#       trees (build/, distcheck's _build/, the running build dir), no git
#       metadata, so that a package or user build starts from sources only.
LISTENFDS=$top_builddir/tests/listenfds

installed_copy_sources() {
	local excl=()
	case $top_builddir/ in
	"$top_srcdir"/?*) excl=(--exclude="./${top_builddir#"$top_srcdir"/}") ;;
	esac
	mkdir -p "$1" &&
	    tar -C "$top_srcdir" --exclude=./build --exclude=./_build \
	    --exclude=./.git --exclude=./autom4te.cache "${excl[@]}" -cf - . |
	    tar -C "$1" -xf -
}

installed_edit_conf() {
	sed -i -e "s|^db_socket = .*|db_socket = $MARIADB_SOCKET|" \
	    -e "s|^db_user = .*|db_user = root|" \
	    -e "s|^memcached_server = .*|memcached_server = 127.0.0.1:$MC_PORT|" \
	    -e "s|^#registration_secret = .*|registration_secret = $(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')|" \
	    "$1"
	echo "static_relay = $(relay_id S) $(relay_pk S) internal" >>"$1"
}

installed_activate() {
	local units=$1 root=$2 start
	shift 2
	SOCKET_MODE=$(sed -n 's/^SocketMode=//p' "$units/relaycfg.socket")
	EXEC_START=$(sed -n 's/^ExecStart=//p' "$units/relaycfg.service")
	read -r -a start <<<"$EXEC_START"
	start[0]=$root${start[0]}
	start[2]=$root${start[2]}
	RELAYCFG_SOCKET=${RELAYCFG_SOCKET:-$T/relaycfg.sock}
	"$LISTENFDS" -m "$SOCKET_MODE" "unix:$RELAYCFG_SOCKET" -- "$@" \
	    "${start[@]}" </dev/null >>"$T/relaycfg.log" 2>&1 &
	RELAYCFG_PID=$!
	harness_wait_socket "$RELAYCFG_SOCKET" "$RELAYCFG_PID"
}
