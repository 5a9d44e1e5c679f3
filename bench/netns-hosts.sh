#!/bin/bash
# Makes K test hosts on this machine, as internal/netns does for the tests:
# each host a network namespace with eth0 at SUBNET.<i+1>/24, all plugged
# into a bridge that lives in a namespace of its own (the machine's own
# network is not touched), each link optionally limited to RATE in both
# directions (tc tbf). Prints how to run a command in each host, how to
# cut and restore a host's link, and a two-node ddprun example; then waits.
# Everything is torn down on exit, Ctrl-C or SIGTERM (processes still
# running in the hosts are killed).
#
# Usage (as root):
#   bench/netns-hosts.sh [-k HOSTS] [-r RATE] [-s SUBNET] [-p PREFIX] [-- COMMAND ...]
#     -k  number of hosts (2)
#     -r  rate of every link, tc units: 100mbit, 1gbit (none)
#     -s  first three octets of the hosts' /24 (10.213.0)
#     -p  namespace name prefix (ddpn); names are PREFIX-<pid>-<random>-h<i>
#   With a COMMAND, runs it (in the machine's namespace) instead of waiting,
#   with NETNS_HOSTS="name0 name1 ..." and NETNS_ADDRS="addr0 addr1 ..." in
#   its environment, and tears down when it ends; its exit status is kept.
set -eu
K=2 RATE= SUBNET=10.213.0 PREFIX=ddpn
while getopts k:r:s:p:h opt; do
	case $opt in
	k) K=$OPTARG ;;
	r) RATE=$OPTARG ;;
	s) SUBNET=$OPTARG ;;
	p) PREFIX=$OPTARG ;;
	*) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ "$(id -u)" != 0 ]; then echo "netns-hosts: run as root (ip netns needs CAP_NET_ADMIN and CAP_SYS_ADMIN)" >&2; exit 2; fi
command -v ip >/dev/null || { echo "netns-hosts: no ip binary (iproute2)" >&2; exit 2; }
if [ -n "$RATE" ]; then command -v tc >/dev/null || { echo "netns-hosts: -r needs tc (iproute2)" >&2; exit 2; }; fi
case $K in '' | *[!0-9]*) echo "netns-hosts: -k $K: want a number" >&2; exit 2 ;; esac
if [ "$K" -lt 1 ] || [ "$K" -gt 250 ]; then echo "netns-hosts: -k $K: want 1 to 250" >&2; exit 2; fi

NAME=$PREFIX-$$-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
BR=$NAME-br
MADE=()

teardown() {
	local ns pid i
	trap - EXIT INT TERM
	[ -z "${WAITER:-}" ] || kill "$WAITER" 2>/dev/null || true
	for ((i = ${#MADE[@]} - 1; i >= 0; i--)); do
		ns=${MADE[i]}
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
		ip netns del "$ns" 2>/dev/null || echo "netns-hosts: could not delete namespace $ns" >&2
	done
	[ ${#MADE[@]} -gt 0 ] && echo "netns-hosts: removed ${#MADE[@]} namespaces ($NAME-*)" >&2
	MADE=()
}
trap 'teardown' EXIT
trap 'teardown; exit 130' INT
trap 'teardown; exit 143' TERM

addns() { ip netns add "$1"; MADE+=("$1"); }
limit() { # namespace device
	[ -z "$RATE" ] || tc -n "$1" qdisc replace dev "$2" root tbf rate "$RATE" burst 256kb latency 20ms
}

addns "$BR"
ip -n "$BR" link add br0 type bridge
ip -n "$BR" link set br0 up
HOSTS=() ADDRS=()
for ((i = 0; i < K; i++)); do
	h=$NAME-h$i addr=$SUBNET.$((i + 1))
	addns "$h"
	ip -n "$BR" link add "p$i" type veth peer name eth0 netns "$h"
	ip -n "$BR" link set "p$i" master br0
	ip -n "$BR" link set "p$i" up
	ip -n "$h" addr add "$addr/24" dev eth0
	ip -n "$h" link set eth0 up
	ip -n "$h" link set lo up
	limit "$h" eth0
	limit "$BR" "p$i"
	HOSTS+=("$h") ADDRS+=("$addr")
done

if [ $# -gt 0 ]; then
	set +e
	NETNS_HOSTS="${HOSTS[*]}" NETNS_ADDRS="${ADDRS[*]}" "$@"
	status=$?
	teardown
	exit $status
fi

cat <<EOF
$K hosts on a bridge${RATE:+, every link limited to $RATE each way}:
EOF
for ((i = 0; i < K; i++)); do
	echo "  host $i  ${ADDRS[i]}  ip netns exec ${HOSTS[i]} COMMAND"
done
cat <<EOF

Cut host 1's link (no RST: peers find out by their timeouts), and restore it:
  ip -n $BR link set p1 down
  ip -n $BR link set p1 up
Change a host's rate (both directions):
  tc -n ${HOSTS[0]} qdisc replace dev eth0 root tbf rate 50mbit burst 256kb latency 20ms
  tc -n $BR qdisc replace dev p0 root tbf rate 50mbit burst 256kb latency 20ms

A two-node job (one secret for both; files are shared, the network is not):
  export DDPRUN_SECRET=\$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n')
  ip netns exec ${HOSTS[0]} bin/ddprun --nodes 2 --nproc 2 --bind ${ADDRS[0]} train --train data.csv --preset micro --output /tmp/n0
  ip netns exec ${HOSTS[$((K > 1 ? 1 : 0))]} bin/ddprun --nodes 2 --nproc 2 --bind ${ADDRS[$((K > 1 ? 1 : 0))]} --join ${ADDRS[0]}:7946 train --train data.csv --preset micro --output /tmp/n1

Ctrl-C tears everything down.
EOF
sleep infinity &
WAITER=$!
wait "$WAITER" || true
