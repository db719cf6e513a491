# netns.sh - a small network of hosts on one machine, for the scale-out
# test (sourced after harness.sh): one network namespace per host, each
# with its lo and an eth0 on one bridge, addresses from 10.213.0.0/16.
#
#   netns_init                 the switch (a namespace holding the bridge)
#                              and the root namespace's port on it, the
#                              gateway $NETNS_NET.1, where nginx and the
#                              load run; call after harness_init
#   netns_host NAME NUM        namespace NAME, address $NETNS_NET.NUM
#   netns_addr NAME            prints NAME's address
#   netns_exec NAME CMD...     runs CMD in NAME's namespace
#   netns_spawn NAME LOG CMD...
#                              the same in the background, output appended
#                              to LOG; NETNS_PID is CMD's pid (ip netns exec
#                              execs it; "netns_exec ... &" would be a
#                              subshell's)
#   netns_wait_tcp ADDR PORT PID
#                              waits (5 s at most) until ADDR:PORT accepts
#                              while PID lives; 0 when it does
#   netns_kill_host NAME [SIG] every process of NAME (SIGKILL: a dead host)
#
# Everything is named after the test's pid, and the /24 is one no other
# run (and nothing else on the machine) uses, so parallel "make check"
# runs cannot collide.  The bridge lives in a namespace of its own: hosts
# talk through it without the root namespace's firewall (br_netfilter,
# Docker's FORWARD policy) seeing their traffic.  The EXIT trap kills
# every process in the namespaces and removes namespaces, links and the
# subnet's lock, then runs the trap it found (harness_cleanup), so a
# failing test leaves nothing behind.  A machine where namespaces cannot
# be made fails the test: CI runs as root and must run it.
# shellcheck shell=bash

NETNS_ID=rc$$
NETNS_SW=$NETNS_ID-sw
NETNS_GW=${NETNS_ID}gw		# the root namespace's port: 15 chars at most
NETNS_HOSTS=""
NETNS_LOCK=""
declare -A NETNS_ADDRS

# netns_fail MESSAGE: not a skip: the test cannot run, which is a failure.
netns_fail() {
	echo "Bail out! network namespaces: $*"
	exit 1
}

# netns_claim_subnet: NETNS_NET = 10.213.X for the first X, from one
# derived from our pid, that no other run has locked and that no address
# or route of the root namespace uses.  The lock is a directory holding
# its owner's pid; one whose owner is gone is taken over (one without a
# pid yet is being taken: left alone).  A wider route (a VPN's
# 10.0.0.0/8) does not matter: the /24 on our port is longer.
netns_claim_subnet() {
	local i x lock owner
	for i in $(seq 0 249); do
		x=$(( ($$ + i) % 250 + 1 ))
		lock=/tmp/relaycfg-netns-10.213.$x.lock
		if ! mkdir "$lock" 2>/dev/null; then
			owner=$(cat "$lock/pid" 2>/dev/null)
			{ [ -z "$owner" ] || kill -0 "$owner" 2>/dev/null; } && continue
			rm -rf "$lock"
			mkdir "$lock" 2>/dev/null || continue
		fi
		echo $$ >"$lock/pid"
		if [ -n "$(ip -4 -o addr show to "10.213.$x.0/24")" ] ||
		    [ -n "$(ip -4 route show root "10.213.$x.0/24")" ]; then
			rm -rf "$lock"
			continue
		fi
		NETNS_LOCK=$lock
		NETNS_NET=10.213.$x
		return 0
	done
	netns_fail "no free /24 in 10.213.0.0/16"
}

netns_init() {
	[ "$(id -u)" -eq 0 ] || netns_fail "not root (CI runs this test as root)"
	command -v ip >/dev/null 2>&1 || netns_fail "no ip (iproute2, scripts/install-deps)"
	NETNS_PREV_TRAP=$(trap -p EXIT)
	NETNS_PREV_TRAP=${NETNS_PREV_TRAP#"trap -- '"}
	NETNS_PREV_TRAP=${NETNS_PREV_TRAP%"' EXIT"}
	trap netns_on_exit EXIT
	netns_claim_subnet
	ip netns add "$NETNS_SW" 2>"$T/netns.err" ||
	    netns_fail "ip netns add: $(cat "$T/netns.err")"
	{
		ip -n "$NETNS_SW" link add br0 type bridge &&
		    ip -n "$NETNS_SW" link set br0 up &&
		    ip link add "$NETNS_GW" type veth peer name gw netns "$NETNS_SW" &&
		    ip -n "$NETNS_SW" link set gw master br0 up &&
		    ip addr add "$NETNS_NET.1/24" dev "$NETNS_GW" &&
		    ip link set "$NETNS_GW" up
	} 2>"$T/netns.err" || netns_fail "the switch: $(cat "$T/netns.err")"
}

netns_host() {
	local name=$1 ns=$NETNS_ID-$1
	ip netns add "$ns" 2>"$T/netns.err" ||
	    netns_fail "ip netns add $ns: $(cat "$T/netns.err")"
	NETNS_HOSTS="$NETNS_HOSTS $name"
	NETNS_ADDRS[$name]=$NETNS_NET.$2
	{
		ip -n "$NETNS_SW" link add "$name" type veth peer name eth0 netns "$ns" &&
		    ip -n "$NETNS_SW" link set "$name" master br0 up &&
		    ip -n "$ns" link set lo up &&
		    ip -n "$ns" addr add "$NETNS_NET.$2/24" dev eth0 &&
		    ip -n "$ns" link set eth0 up
	} 2>"$T/netns.err" || netns_fail "host $name: $(cat "$T/netns.err")"
}

netns_addr() {
	echo "${NETNS_ADDRS[$1]}"
}

netns_exec() {
	local name=$1
	shift
	ip netns exec "$NETNS_ID-$name" "$@"
}

netns_spawn() {
	local name=$1 log=$2
	shift 2
	ip netns exec "$NETNS_ID-$name" "$@" </dev/null >>"$log" 2>&1 &
	NETNS_PID=$!
}

netns_wait_tcp() {
	# shellcheck disable=SC2016
	timeout 5 bash -c 'until (exec 3<>"/dev/tcp/$0/$1") 2>/dev/null; do
		kill -0 "$2" 2>/dev/null || exit 1
		sleep 0.05
	done' "$1" "$2" "$3"
}

netns_kill_host() {
	local p
	for p in $(ip netns pids "$NETNS_ID-$1" 2>/dev/null); do
		kill "-${2:-KILL}" "$p" 2>/dev/null
	done
}

# netns_cleanup: TERM to every process in our namespaces, KILL to what is
# left after 10 s, then the namespaces (their links go with them), the
# root namespace's port and the lock.
netns_cleanup() {
	local h i=0 left
	for h in $NETNS_HOSTS; do
		netns_kill_host "$h" CONT
		netns_kill_host "$h" TERM
	done
	while :; do
		left=""
		for h in $NETNS_HOSTS; do
			left="$left$(ip netns pids "$NETNS_ID-$h" 2>/dev/null)"
		done
		[ -n "$left" ] && [ "$i" -lt 100 ] || break
		sleep 0.1
		i=$((i + 1))
	done
	for h in $NETNS_HOSTS; do
		netns_kill_host "$h" KILL
		ip netns del "$NETNS_ID-$h" 2>/dev/null
	done
	ip link del "$NETNS_GW" 2>/dev/null
	ip netns del "$NETNS_SW" 2>/dev/null
	[ -z "$NETNS_LOCK" ] || rm -rf "$NETNS_LOCK"
	NETNS_HOSTS=""
}

netns_on_exit() {
	local status=$?
	netns_cleanup
	(exit "$status")
	eval "$NETNS_PREV_TRAP"
}
