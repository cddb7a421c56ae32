#!/bin/bash
# reconcile_drift: `plumbd run` repairs changes made behind its back to what it
# owns, from the netlink event, each within 1000 ms (measured from the end of
# the drift command, polled every 10 ms): br-1 deleted, ens19 released, an
# address plumbd added removed, a pod's host veth deleted, the pod's net1
# address deleted inside the pod netns (issue 3, "Drift repair").
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
LIMIT_MS=${DRIFT_LIMIT_MS:-1000}
BR_ADDR=192.168.255.1/24
POD_ADDR=192.168.255.100/24
POD_MAC=c2:b0:57:49:47:f1
# The seed policy with a static address on br-1 instead of DHCP.
lab_bridge_policy linux-bridge-br1-ens19 br-1 addr=$BR_ADDR port=ens19 \
    >"$CONF/linux-bridge-br1-ens19.yml"

# The whole seed state, as plumbd must keep it.
host_if() { sql "SELECT host_if FROM attachments WHERE owner = 'Pod/default/multus-demo' AND pod_if = 'net1'"; }
bridge_ok() {
    pod_if_up "$NODE" br-1 || return 1
    addr_present "$NODE" br-1 "$BR_ADDR" || return 1
    ip -n "$NODE" -o link show dev ens19 | grep 'master br-1 ' >/dev/null || return 1
    pod_if_up "$NODE" ens19
}
pod_ok() {
    pod_net1_is "$POD_NS" "$POD_ADDR" "$POD_MAC" || return 1
    ip -n "$POD_NS" route show default | grep 'via 192.168.255.254 dev net1' >/dev/null || return 1
    # the pod's peer is on br-1
    local peer
    peer=$(ip -n "$POD_NS" -o link show dev net1 | sed -n 's/^[0-9]*: net1@if\([0-9]*\):.*/\1/p')
    [ -n "$peer" ] && ip -n "$NODE" -o link show master br-1 | grep "^$peer: " >/dev/null
}
all_ok() { bridge_ok && pod_ok; }
ping_ok() { ip netns exec "$PEER" ping -c 1 -W 1 192.168.255.100; }

plumbd_daemon
if wait_for 10 all_ok; then
    ok "daemon converges the seed with br-1 $BR_ADDR"
else
    not_ok "daemon converges the seed" "not converged after 10 s" "$DAEMON_LOG"
    lab_done; exit
fi
expect "peer pings the pod" ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 192.168.255.100
lab_quiesce 1 "$NODE" "$POD_NS"

# drift NAME CHECK-FN CMD... : run CMD (the drift), then time CHECK-FN.
drift() {
    local name=$1 check=$2
    shift 2
    local mark
    mark=$(wc -l <"$DAEMON_LOG")
    if ! "$@"; then
        not_ok "drift: $name" "the drift command '$*' failed"
        return
    fi
    heal_start
    if heal_wait 5000 "$check"; then
        if [ "$HEAL_MS" -lt "$LIMIT_MS" ]; then
            ok "drift: $name repaired in $HEAL_MS ms"
        else
            not_ok "drift: $name repaired in < $LIMIT_MS ms" "took $HEAL_MS ms"
            tail -n +"$((mark + 1))" "$DAEMON_LOG" | head -n 15 | sed 's/^/#   /'
        fi
    else
        not_ok "drift: $name repaired" "not repaired after $HEAL_MS ms"
        tail -n +"$((mark + 1))" "$DAEMON_LOG" | head -n 15 | sed 's/^/#   /'
        diag "state: $(link_image "$NODE" br-1)"
        diag "pod:   $(ip -n "$POD_NS" -o addr show 2>&1 | tr '\n' ' ')"
    fi
    proc_alive "$DAEMON_PID" || not_ok "drift: $name" "the daemon died" "$DAEMON_LOG"
    lab_quiesce 1 "$NODE" "$POD_NS"
}

mac0=$(ip -n "$POD_NS" -o link show dev net1 | grep -o 'link/ether [0-9a-f:]*')

drift "ip link del br-1" all_ok ip -n "$NODE" link del br-1
assert_eq "after br-1 deletion: pod keeps its MAC" "$mac0" \
    "$(ip -n "$POD_NS" -o link show dev net1 2>/dev/null | grep -o 'link/ether [0-9a-f:]*')"
if wait_for 5 ping_ok; then ok "after br-1 deletion: peer pings the pod again"
else not_ok "after br-1 deletion: peer pings the pod again" "no reply in 5 s" "$DAEMON_LOG"; fi

drift "ip link set ens19 nomaster" all_ok ip -n "$NODE" link set ens19 nomaster
if wait_for 5 ping_ok; then ok "after ens19 nomaster: peer pings the pod again"
else not_ok "after ens19 nomaster: peer pings the pod again" "no reply in 5 s" "$DAEMON_LOG"; fi

drift "ip addr del $BR_ADDR dev br-1" all_ok ip -n "$NODE" addr del "$BR_ADDR" dev br-1
expect "after address removal: br-1 reaches the peer" ip netns exec "$NODE" ping -c 1 -w 3 192.168.255.11

h=$(host_if)
if [ -n "$h" ] && link_exists "$NODE" "$h"; then
    drift "ip link del <pod host veth $h>" all_ok ip -n "$NODE" link del "$h"
    if wait_for 5 ping_ok; then ok "after host veth deletion: peer pings the pod again"
    else not_ok "after host veth deletion: peer pings the pod again" "no reply in 5 s" "$DAEMON_LOG"; fi
else
    not_ok "drift: pod host veth deleted" "no host veth recorded for the pod ('$h')"
fi

drift "ip -n <pod> addr del $POD_ADDR dev net1" all_ok ip -n "$POD_NS" addr del "$POD_ADDR" dev net1
if wait_for 5 ping_ok; then ok "after net1 address deletion: peer pings the pod again"
else not_ok "after net1 address deletion: peer pings the pod again" "no reply in 5 s" "$DAEMON_LOG"; fi

# nothing leaked by the repairs
assert_eq "one host veth on the node after the repairs" 1 "$(node_veths | wc -l)"
assert_eq "one IPAM allocation after the repairs" "192.168.255.100|net1" "$(alloc_of Pod/default/multus-demo)"
assert_eq "pod status Available" Available "$(plumbd_status_field default/multus-demo 3)"
assert_eq "policy status Available" Available "$(plumbd_status_field linux-bridge-br1-ens19 3)"

kill -TERM "$DAEMON_PID"
if wait_for 5 proc_gone "$DAEMON_PID"; then
    wait "$DAEMON_PID"; rc=$?
    assert_eq "daemon exits 0 on SIGTERM" 0 "$rc"
else
    not_ok "daemon exits on SIGTERM" "still running after 5 s" "$DAEMON_LOG"
fi
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan after the repairs is empty" "0:" "$rc:$(plan_ops "$out")"

lab_done
