#!/bin/bash
# netns_churn: the daemon follows pod namespaces that go and come while it
# runs. A namespace's events reach the daemon on its one event socket tagged
# with the id the node gives that namespace, and the kernel hands a dead
# namespace's id to the next one: a pod whose namespace was deleted must not
# keep that id from a new pod, a pod whose namespace comes back is attached
# again (its address was released while the namespace was gone, as a CNI
# DEL does; no duplicate allocation), and drift inside the new
# namespaces is repaired (their events arrive).
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
NET='[{"name":"linux-bridge-br-1"}]'
has_net1_inet() { grep -q inet <<<"$(ip -n "$1" -4 -o addr show dev net1 2>/dev/null)"; }
A=${P}a B=${P}b C=${P}c
lab_netns "$A"
lab_netns "$B"
lab_pod pa "$A" "$NET" >"$CONF/pa.yml"
lab_pod pb "$B" "$NET" >"$CONF/pb.yml"
plumbd_daemon
wait_for 15 status_is default/pa Available && wait_for 15 status_is default/pb Available &&
    ok "two pods attached" || not_ok "two pods attached" "$(plumbd_run status 2>&1 | tr '\n' '|')" "$DAEMON_LOG"
addr_a=$(ip -n "$A" -4 -o addr show dev net1 2>/dev/null | awk '{print $4}')
diag "pa has ${addr_a:-nothing}"

# --- pa's namespace goes; a new pod's namespace appears (it may get pa's id)
ip netns delete "$A"
wait_for 10 status_is default/pa Pending && ok "pa Pending once its netns is gone" ||
    not_ok "pa Pending once its netns is gone" "$(plumbd_status_field default/pa 3)" "$DAEMON_LOG"
assert_eq "pa's address released while its netns is gone" "" "$(alloc_of Pod/default/pa)"
lab_netns "$C"
lab_pod pc "$C" "$NET" >"$CONF/.pc.tmp" && mv "$CONF/.pc.tmp" "$CONF/pc.yml"
wait_for 15 has_net1_inet "$C" && ok "a new pod in a new namespace is attached" ||
    not_ok "a new pod in a new namespace is attached" "no net1 address in $C" "$DAEMON_LOG"
# its events arrive: an address removed by hand comes back
a_c=$(ip -n "$C" -4 -o addr show dev net1 2>/dev/null | awk '{print $4}')
if [ -n "$a_c" ]; then
    ip -n "$C" addr del "$a_c" dev net1
    wait_for 10 has_addr "$C" net1 "$a_c" && ok "drift in the new namespace repaired ($a_c)" ||
        not_ok "drift in the new namespace repaired" "$a_c not back" "$DAEMON_LOG"
fi

# --- pa's namespace comes back: attached again, its address kept, once ---------
lab_netns "$A"
wait_for 15 has_net1_inet "$A" && ok "pa attached again when its netns came back" ||
    not_ok "pa attached again when its netns came back" "no net1 in $A" "$DAEMON_LOG"
a_again=$(ip -n "$A" -4 -o addr show dev net1 2>/dev/null | awk '{print $4}')
assert_eq "pa's allocation is what its net1 holds" "${a_again%/*}|net1" "$(alloc_of Pod/default/pa)"
assert_eq "one allocation per pod (3)" 3 "$(sql "SELECT count(*) FROM ipam_allocations")"
assert_eq "addresses unique" 3 "$(sql "SELECT count(DISTINCT ip) FROM ipam_allocations")"
wait_for 10 status_is default/pa Available && ok "pa Available" ||
    not_ok "pa Available" "$(plumbd_status_field default/pa 3)"
assert_eq "daemon error lines" 0 "$(grep -c 'level=error' "$DAEMON_LOG")"
lab_done
