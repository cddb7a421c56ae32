#!/bin/bash
# tools/demo.sh - the seed scenario in throwaway network namespaces (make demo).
#
# Builds a lab: a "node" netns whose second NIC ens19 is a veth wired to a
# "peer" netns holding 192.168.255.11/24 (a host on the ens19 wire), and the
# pod's netns. Copies examples/ into a temp config dir, adding to the Pod's
# copy the annotation plumbd/netns pointing at the lab's pod netns (the
# example files stay verbatim). Runs `plumbd apply` as node worker-1, shows
# the pod's addresses and routes, the bridge ports and the status, then pings
# the pod from the peer. Exits with the ping's status; the lab is removed on
# exit whatever happens. Touches no interface of the host's root namespace.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# The lab has no DHCP server: apply shows plumbd's own wait for the seed's
# ipv4.dhcp lease (3 s) and reports the lease pending.
LAB_DHCP_WAIT_MS=''
. tests/lib/lab.sh
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
[ -x "$PLUMBD" ] || { echo "demo: no binary at $PLUMBD (run make)" >&2; exit 1; }
PLUMBD_TEST_PREFIX=${PLUMBD_TEST_PREFIX:-pd}
lab_init

if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
say() { printf '\n%s$ %s%s\n' "$B" "$*" "$N"; }
show() { say "$*"; "$@"; }

lab_seed || { echo "demo: could not build the lab" >&2; exit 1; }
echo "lab: node netns $NODE (ens19), peer netns $PEER (192.168.255.11/24 on eth0), pod netns $POD_NS"
echo "config dir $CONF (examples/ + plumbd/netns: $POD_NS on the pod), state dir $STATE"

say "plumbd --netns $NODE --node-name worker-1 --config-dir $CONF --state-dir $STATE apply"
plumbd_run apply
echo "(exit $?)"

show ip -n "$POD_NS" a
show ip -n "$POD_NS" route
show ip -n "$NODE" -br link show master br-1
say "ip -n $NODE -d link show br-1 | grep -o 'stp_state [0-9]'"
ip -n "$NODE" -d link show br-1 | grep -o 'stp_state [0-9]'
say "plumbd status"
plumbd_run status

say "ip netns exec $PEER ping -c 3 -W 1 192.168.255.100"
ip netns exec "$PEER" ping -c 3 -W 1 192.168.255.100
rc=$?
if [ "$rc" = 0 ]; then echo "demo: the pod answers on the ens19 wire"; else echo "demo: ping failed (exit $rc)"; fi
exit "$rc"
