#!/bin/bash
# `user` / --user: started as root, the master stays root and every worker
# (also after a reload, and a single-process server, whose reloads read the
# file as that user) runs as the user, with
# its group as the only supplementary one; unknown names fail at start and in
# --check-config; a non-root start as another user fails.  And the unix
# socket's mode and owner are never set through a symlink swapped in at
# its path after bind.
. "$top_srcdir/tests/lib/harness.sh"
harness_init
if [ "$(id -u)" -ne 0 ] || ! getent passwd nobody >/dev/null ||
    ! getent group nogroup >/dev/null; then
	echo "1..0 # SKIP needs root and the nobody user, nogroup group"
	exit 0
fi
harness_start_mariadb
harness_start_memcached
# relaycfg also runs as nobody here (setpriv): its config is for nogroup.
HARNESS_CONF_GROUP=nogroup
harness_write_conf
RELAYCFG_BIN=$RELAYCFG_TEST_BIN
NOBODY=$(id -u nobody)
NOGROUP=$(getent group nogroup | cut -d: -f3)

# status_of PID FIELD: the values of Uid:, Gid: or Groups: in /proc.
status_of() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s ' \t' ' ' |
	    sed 's/ *$//'
}

# check_workers WHAT: every worker runs as nobody:nogroup, groups nogroup only.
check_workers() {
	local pid n=0
	for pid in $(worker_pids); do
		n=$((n + 1))
		is "$(status_of "$pid" Uid)" "$NOBODY $NOBODY $NOBODY $NOBODY" \
		    "$1: worker $pid: real, effective, saved, fs uid nobody"
		is "$(status_of "$pid" Gid)" "$NOGROUP $NOGROUP $NOGROUP $NOGROUP" \
		    "$1: worker $pid: every gid nogroup"
		is "$(status_of "$pid" Groups)" "$NOGROUP" \
		    "$1: worker $pid: no supplementary group but nogroup"
	done
	is "$n" 2 "$1: two workers"
}

# refuses_unknown_user WHAT: a SIGHUP whose file names an unknown user is
# refused, the log naming the file's line.
refuses_unknown_user() {
	local line
	harness_write_conf "user = nosuchuser"
	line=$(grep -n '^user = nosuchuser$' "$RELAYCFG_CONF" | cut -d: -f1)
	kill -HUP "$RELAYCFG_PID"
	harness_wait_log "reload refused"
	like "$(grep "reload refused" "$T/relaycfg.log")" \
	    "keeping the running config: $RELAYCFG_CONF:$line: user: nosuchuser: unknown user" \
	    "$1: an unknown user is refused with file:line"
}

# --- the master keeps root, the workers are nobody --------------------
harness_start_relaycfg --user nobody:nogroup
is "$(status_of "$RELAYCFG_PID" Uid)" "0 0 0 0" "the master is root"
check_workers "start"
harness_start_nginx
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "a worker running as nobody answers"

# --- a reload: the new workers are dropped too ------------------------
old=$(worker_pids)
kill -HUP "$RELAYCFG_PID"
i=0
while [ "$i" -lt 100 ]; do
	new=$(worker_pids)
	stale=0
	for p in $old; do case " $new " in *" $p "*) stale=1;; esac; done
	[ "$stale" -eq 0 ] && [ "$(echo $new | wc -w)" -eq 2 ] && break
	i=$((i + 1)); sleep 0.1
done
like "$(cat "$T/relaycfg.log")" "configuration reloaded" "SIGHUP reloads"
check_workers "after SIGHUP"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "answered after the reload"
harness_stop_relaycfg

# --- a reload with an unknown user is refused, naming the file's line ----
harness_write_conf "user = nobody:nogroup"
harness_start_relaycfg
check_workers "user = in the file"
old=$(worker_pids)
refuses_unknown_user "SIGHUP"
is "$(worker_pids)" "$old" "SIGHUP: the workers stay"
# A reload that removes user: the new workers stay root, and the log says
# so.
harness_write_conf
kill -HUP "$RELAYCFG_PID"
harness_wait_log "the new workers run as root"
like "$(grep "the new workers run as root" "$T/relaycfg.log")" \
    "warn: $RELAYCFG_CONF: user removed: the new workers run as root, as the master does" \
    "SIGHUP without user: warned that the workers run as root"
sleep 0.5
for pid in $(worker_pids); do
	is "$(status_of "$pid" Uid)" "0 0 0 0" "SIGHUP without user: worker $pid is root"
done
harness_stop_relaycfg
# A reload whose user names root: the new workers are root too, and the
# log says so, as relaycfg(8) SIGNALS does.
harness_write_conf "user = nobody:nogroup"
harness_start_relaycfg
check_workers "before user = root"
harness_write_conf "user = root"
reloads=$(grep -c "configuration reloaded" "$T/relaycfg.log")
kill -HUP "$RELAYCFG_PID"
i=0
until [ "$(grep -c "configuration reloaded" "$T/relaycfg.log")" -gt "$reloads" ] ||
    [ "$i" -gt 100 ]; do
	i=$((i + 1)); sleep 0.05
done
sleep 0.5
for pid in $(worker_pids); do
	is "$(status_of "$pid" Uid)" "0 0 0 0" "SIGHUP with user = root: worker $pid is root"
done
like "$(grep "names root now" "$T/relaycfg.log")" \
    "warn: $RELAYCFG_CONF: user names root now: the new workers run as root, as the master does" \
    "SIGHUP with user = root: warned that the workers run as root"
harness_stop_relaycfg

# --- the key in the file, user's primary group; the option wins ---------
harness_write_conf "user = nosuchuser"
harness_start_relaycfg --user nobody
check_workers "--user over user ="
harness_stop_relaycfg

# --- root:group: the group still applies, as documented ------------------
harness_start_relaycfg --user root:nogroup
for pid in $(worker_pids); do
	is "$(status_of "$pid" Uid) / $(status_of "$pid" Gid) / $(status_of "$pid" Groups)" \
	    "0 0 0 0 / $NOGROUP $NOGROUP $NOGROUP $NOGROUP / $NOGROUP" \
	    "--user root:nogroup: worker $pid root, its only group nogroup"
done
harness_stop_relaycfg

# --- unknown names --------------------------------------------------------
# From the file: FILE:LINE, as any other key; from --user: the option.
harness_write_conf "user = nosuchuser"
line=$(grep -n '^user = nosuchuser$' "$RELAYCFG_CONF" | cut -d: -f1)
out=$("$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$T/x.sock" \
    --workers 1 </dev/null 2>&1)
is "$?" 1 "user = nosuchuser: refused at start"
is "$out" "relaycfg: $RELAYCFG_CONF:$line: user: nosuchuser: unknown user" \
    "the start-up error says why, with file:line"
out=$("$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --check-config 2>&1)
is "$?" 1 "--check-config fails on an unknown user"
is "$out" "relaycfg: $RELAYCFG_CONF:$line: user: nosuchuser: unknown user" \
    "--check-config says so, with file:line"
harness_write_conf
out=$("$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$T/x.sock" \
    --workers 1 --user nobody:nosuchgroup </dev/null 2>&1)
is "$?" 1 "an unknown group: refused at start"
is "$out" "relaycfg: --user: nosuchgroup: unknown group" \
    "the error names the group and --user, not the file"
out=$("$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --check-config --user nosuchuser 2>&1)
is "$?" 1 "--check-config --user nosuchuser fails"
is "$out" "relaycfg: --user: nosuchuser: unknown user" \
    "--check-config blames --user"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$T/x.sock" \
    --workers 1 --user root </dev/null 2>&1)
is "$?" 1 "not root and --user names someone else: refused at start"
like "$out" "not running as root" "the error says why"
check=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --check-config --user root 2>&1)
is "$?" 1 "not root and --user names someone else: --check-config fails too"
is "$check" "$out" "... with start-up's message"
like "$check" "^relaycfg: --user: root: not running as root" "... naming --user"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
    "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --check-config --user nobody:nogroup 2>&1)
is "$?" 0 "not root, --user names the current user: --check-config passes"

# --- the socket's owner -----------------------------------------------------
# check_refuses WHAT [setpriv ARGS --] ARGS...: --check-config and a start
# both exit 1 with the same message (in CHECK_OUT).
check_refuses() {
	local what=$1 check start
	shift
	check=$("$@" --check-config 2>&1)
	is "$?" 1 "$what: --check-config fails"
	start=$(timeout 10 "$@" --workers 1 </dev/null 2>&1)
	is "$?" 1 "$what: start-up fails"
	is "$check" "$start" "$what: with the same message"
	CHECK_OUT=$check
}
# An unknown owner is refused on TCP too; a known one is ignored there,
# with a warning.
check_refuses "TCP, --socket-owner nosuchuser" "$RELAYCFG_BIN" \
    -c "$RELAYCFG_CONF" --listen "127.0.0.1:$(free_port)" \
    --socket-owner nosuchuser --socket-mode 0600
is "$CHECK_OUT" "relaycfg: --socket-owner: nosuchuser: unknown user" \
    "... naming the option"
out=$(FCGI_WEB_SERVER_ADDRS=127.0.0.1 "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" \
    --check-config --listen 127.0.0.1:9 --socket-owner nobody \
    --socket-mode 0600 2>&1)
is "$?" 0 "TCP, --socket-owner nobody: valid"
like "$out" "warning: --socket-mode and --socket-owner ignored: only a unix socket" \
    "... with a warning that they are ignored"
harness_write_conf "socket_owner = :"
line=$(grep -n '^socket_owner = :$' "$RELAYCFG_CONF" | cut -d: -f1)
check_refuses "socket_owner = :" "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" \
    --listen "unix:$T/colon.sock"
is "$CHECK_OUT" "relaycfg: $RELAYCFG_CONF:$line: socket_owner: \":\": expected USER, USER:GROUP or :GROUP" \
    "socket_owner = :: refused with FILE:LINE"
harness_write_conf
# Not root: only root may give the socket to someone else; refused before
# any socket file is made.
mkdir -m 0777 "$T/nr"
check_refuses "not root, --socket-owner root:root" setpriv --reuid=nobody \
    --regid=nogroup --clear-groups "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" \
    --listen "unix:$T/nr/s.sock" --socket-owner root:root
is "$CHECK_OUT" "relaycfg: --socket-owner: root:root: only root (CAP_CHOWN) may give the socket to another user, or to a group it is not in: start as root, or leave socket_owner unset" \
    "... saying that the owner needs root"
ok "$([ ! -e "$T/nr/s.sock" ]; echo $?)" "... and no socket file is left"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$RELAYCFG_BIN" \
    -c "$RELAYCFG_CONF" --check-config --listen "unix:$T/nr/s.sock" \
    --socket-owner nobody:nogroup 2>&1)
is "$?" 0 "not root, --socket-owner of its own user and group: valid"
# ... or a supplementary group of it, also past the 256th.
out=$(setpriv --reuid=nobody --regid=daemon \
    --groups "$(seq -s, 20000 20299),$NOGROUP" "$RELAYCFG_BIN" \
    -c "$RELAYCFG_CONF" --check-config --listen "unix:$T/nr/s.sock" \
    --socket-owner nobody:nogroup 2>&1)
is "$?" 0 "not root, --socket-owner to its 301st group: valid"
# Root without CAP_CHOWN: the chown itself fails; the error says it was
# the chown to that owner, and the socket is removed again.
out=$(setpriv --bounding-set -chown --inh-caps -chown "$RELAYCFG_BIN" \
    -c "$RELAYCFG_CONF" --listen "unix:$T/nr/c.sock" --workers 1 \
    --socket-owner nobody:nogroup </dev/null 2>&1)
is "$?" 1 "no CAP_CHOWN: refused at start"
like "$out" "error: --socket-owner: nobody:nogroup: chown of $T/nr/c.sock: Operation not permitted; only root \\(CAP_CHOWN\\)" \
    "... saying it was the chown to that owner"
ok "$([ ! -e "$T/nr/c.sock" ]; echo $?)" "... and the socket file is removed"

# --- single-process mode: user is taken at start only ---------------------
# Started as root without user, then user added and SIGHUP: the reload
# applies the rest, warns that user takes a restart, and stays root.
: >"$T/relaycfg.log"
harness_start_relaycfg --workers 0
harness_write_conf "user = nobody"
kill -HUP "$RELAYCFG_PID"
harness_wait_log "configuration reloaded"
like "$(grep "user changed" "$T/relaycfg.log")" \
    "warn: $RELAYCFG_CONF: user changed from unset to \"nobody\", not applied: a single process \\(workers = 0\\) takes its user at start only; it keeps running as uid 0 until restarted" \
    "single mode: a user added by SIGHUP is warned about"
is "$(status_of "$RELAYCFG_PID" Uid)" "0 0 0 0" "single mode: ... and not applied"
# An unknown user is refused as a master refuses it, with file:line.
refuses_unknown_user "single mode: SIGHUP"
harness_stop_relaycfg
harness_write_conf
: >"$T/relaycfg.log"

# --- single-process mode drops after the socket --------------------------
harness_start_relaycfg --workers 0 --user nobody
is "$(status_of "$RELAYCFG_PID" Uid)" "$NOBODY $NOBODY $NOBODY $NOBODY" \
    "single mode runs as nobody"
is "$(status_of "$RELAYCFG_PID" Groups)" "$NOGROUP" "single mode: no groups"
ls -ln "$RELAYCFG_SOCKET" | awk '{print $3}' >"$T/sockuid"
is "$(cat "$T/sockuid")" 0 "the socket was made as root, before the drop"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "single mode as nobody answers"

# A reload reads the file as nobody: a readable one applies (a smaller
# max_body_size, a user line that cannot take root back), a root-only one
# is refused and the running config stays.
head -c 4096 /dev/zero | tr '\0' x >"$T/big.body"
post_big() {
	http POST /api/0/relays/projectconfigs/ \
	    -H 'Content-Type: application/json' --data-binary "@$T/big.body"
}
post_big
is "$HTTP_STATUS" 401 "single mode: a 4 KiB body is under the limit (unsigned: 401)"
harness_write_conf "max_body_size = 2048" "user = root"
chmod 0644 "$RELAYCFG_CONF"
kill -HUP "$RELAYCFG_PID"
i=0
until [ "$(grep -c "configuration reloaded" "$T/relaycfg.log")" -ge 1 ] ||
    [ "$i" -gt 100 ]; do
	i=$((i + 1)); sleep 0.05
done
post_big
is "$HTTP_STATUS" 413 "single mode: a reload readable by nobody applies"
is "$(status_of "$RELAYCFG_PID" Uid)" "$NOBODY $NOBODY $NOBODY $NOBODY" \
    "single mode: a reloaded user = root does not take root back"
harness_write_conf
chmod 0600 "$RELAYCFG_CONF"
kill -HUP "$RELAYCFG_PID"
harness_wait_log "reload refused"
like "$(grep "reload refused" "$T/relaycfg.log")" "Permission denied" \
    "single mode: a root-only file is refused, and the log says why"
post_big
is "$HTTP_STATUS" 413 "single mode: the running config stays"
http GET /api/0/relays/live/
is "$HTTP_STATUS" 200 "single mode: still answering after the refusal"
is "$(status_of "$RELAYCFG_PID" Uid)" "$NOBODY $NOBODY $NOBODY $NOBODY" \
    "single mode: still nobody"
chmod 0644 "$RELAYCFG_CONF"
harness_stop_relaycfg

# --- the socket: a symlink swapped in after bind is not followed ----------
# A preloaded bind() replaces the fresh socket with a symlink to a root file,
# as its directory's owner could; mode and owner must not reach the file.
cat >"$T/swap.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) =
	    (int (*)(int, const struct sockaddr *, socklen_t))
	    dlsym(RTLD_NEXT, "bind");
	const char *path = getenv("SWAP_PATH"), *to = getenv("SWAP_TO");
	int rc = real(fd, sa, len);
	if (rc == 0 && path != NULL && to != NULL && sa->sa_family == AF_UNIX &&
	    strcmp(((const struct sockaddr_un *)sa)->sun_path, path) == 0) {
		unlink(path);
		if (symlink(to, path) != 0)
			abort();
	}
	return rc;
}
C
if ! ${CC:-cc} -shared -fPIC -o "$T/swap.so" "$T/swap.c" -ldl; then
	ok 1 "cc builds the bind() shim"
else
	echo secret >"$T/victim"
	chmod 0600 "$T/victim"
	SWAP_PATH=$T/swap.sock SWAP_TO=$T/victim LD_PRELOAD=$T/swap.so \
	    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    "$RELAYCFG_BIN" -c "$RELAYCFG_CONF" --listen "unix:$T/swap.sock" \
	    --workers 1 --socket-mode 0666 --socket-owner nobody:nogroup \
	    </dev/null >>"$T/swap.log" 2>&1 &
	swap_pid=$!
	i=0
	until [ -L "$T/swap.sock" ] || [ "$i" -gt 100 ]; do
		i=$((i + 1)); sleep 0.05
	done
	sleep 0.5
	is "$(stat -c '%u:%g %a' "$T/victim")" "0:0 600" \
	    "the symlink's target keeps its owner and mode"
	kill "$swap_pid" 2>/dev/null
	wait "$swap_pid" 2>/dev/null
fi
done_testing
