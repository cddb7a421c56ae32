#!/bin/bash
# reconcile_conflict: two objects that want one thing are a conflict, the
# older wins and the newer is Failing/Conflict naming the other object and
# its file; a Pod whose NAD or bridge does not exist yet is Pending with the
# reason and converges (in the daemon) when the missing piece arrives
# (issue 3, "Ordering and conflicts").
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
A=linux-bridge-br1-ens19
lab_bridge_policy $A br-1 mtu=1500 port=ens19 >"$CONF/$A.yml"

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "seed with br-1 mtu 1500: apply exits 0" 0 "$rc"

# --- two policies, one attribute ------------------------------------------------
# The newer one sorts first by name and by file, so "older wins" is not "first
# in the directory wins".
lab_bridge_policy br-1-jumbo br-1 mtu=9000 >"$CONF/a-jumbo.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "conflicting policy: apply exits 1" 1 "$rc"
assert_eq "older policy $A stays Available" Available "$(plumbd_status_field $A 3)"
line=$(plumbd_status_line br-1-jumbo)
assert_eq "newer policy br-1-jumbo is Failing" Failing "$(plumbd_status_field br-1-jumbo 3)"
assert_eq "newer policy's reason is Conflict" Conflict "$(plumbd_status_field br-1-jumbo 4)"
assert_match "Conflict message names the other policy" "$A" "$line"
assert_match "Conflict message names the other policy's file" "$CONF/$A.yml" "$line"
assert_match "br-1 keeps mtu 1500" 'mtu 1500 ' "$(ip -n "$NODE" -o link show dev br-1)"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "conflict is stable: a second apply still exits 1" 1 "$rc"
assert_eq "conflict is stable: still $A Available" Available "$(plumbd_status_field $A 3)"
assert_eq "conflict is stable: still br-1-jumbo Failing" Failing "$(plumbd_status_field br-1-jumbo 3)"
assert_match "conflict is stable: br-1 mtu 1500" 'mtu 1500 ' "$(ip -n "$NODE" -o link show dev br-1)"
rm -f "$CONF/a-jumbo.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "conflicting policy removed: apply exits 0" 0 "$rc"
assert_eq "conflicting policy removed: $A Available" Available "$(plumbd_status_field $A 3)"
e=$(ip -n "$NODE" -o link show dev br-1 2>&1)
assert_match "conflicting policy removed: br-1 still there with mtu 1500" 'mtu 1500 ' "$e"
assert_match "conflicting policy removed: ens19 still on br-1" 'master br-1 ' "$(ip -n "$NODE" -o link show dev ens19 2>&1)"
assert_eq "conflicting policy removed: pod still attached" 1 \
    "$(pod_net1_is "$POD_NS" 192.168.255.100/24 c2:b0:57:49:47:f1 && echo 1 || echo 0)"

# --- two pods, one IP -------------------------------------------------------------
DUP=${P}dup
lab_netns "$DUP"
lab_pod dup "$DUP" '[{"name":"linux-bridge-br-1","ips":["192.168.255.100/24"]}]' >"$CONF/a-dup.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "two pods with one IP: apply exits 1" 1 "$rc"
assert_eq "older pod multus-demo stays Available" Available "$(plumbd_status_field default/multus-demo 3)"
line=$(plumbd_status_line default/dup)
assert_eq "newer pod dup is Failing" Failing "$(plumbd_status_field default/dup 3)"
assert_eq "newer pod's reason is Conflict" Conflict "$(plumbd_status_field default/dup 4)"
assert_match "pod conflict message names the other pod" 'multus-demo' "$line"
assert_match "pod conflict message names the other pod's file" "$CONF/multus-demo.yml" "$line"
assert_eq "older pod keeps its address" 1 "$(addr_present "$POD_NS" net1 192.168.255.100/24 && echo 1 || echo 0)"
assert_eq "newer pod got no net1" 0 "$(link_exists "$DUP" net1 && echo 1 || echo 0)"
assert_eq "one allocation of 192.168.255.100" "Pod/default/multus-demo" \
    "$(sql "SELECT owner FROM ipam_allocations WHERE ip = '192.168.255.100'")"
rm -f "$CONF/a-dup.yml"
plumbd_run apply >/dev/null 2>&1; rc=$?
assert_eq "conflicting pod removed: apply exits 0" 0 "$rc"

# --- Pending, converging in the daemon -----------------------------------------------
plumbd_daemon
wait_for 10 status_is default/multus-demo Available

NONAD=${P}nonad
lab_netns "$NONAD"
lab_pod nonad "$NONAD" '[{"name":"late-nad","ips":["192.168.255.130/24"]}]' >"$CONF/nonad.yml"
if wait_for 10 status_is default/nonad Pending; then ok "pod with a missing NAD is Pending"
else not_ok "pod with a missing NAD is Pending" "$(plumbd_status_line default/nonad)" "$DAEMON_LOG"; fi
assert_eq "missing NAD: reason NetworkAttachmentDefinitionMissing" NetworkAttachmentDefinitionMissing \
    "$(plumbd_status_field default/nonad 4)"
assert_match "missing NAD: message names it" 'late-nad' "$(plumbd_status_line default/nonad)"
lab_nad late-nad br-1 192.168.255.0/24 >"$CONF/late-nad.yml"
if wait_for 10 addr_present "$NONAD" net1 192.168.255.130/24; then ok "NAD added: the pending pod is attached"
else not_ok "NAD added: the pending pod is attached" "no net1 after 10 s" "$DAEMON_LOG"; fi
wait_for 5 status_is default/nonad Available
assert_eq "NAD added: pod Available" Available "$(plumbd_status_field default/nonad 3)"

NOBR=${P}nobr
lab_netns "$NOBR"
lab_nad br9-net br-9 10.9.0.0/24 >"$CONF/br9-net.yml"
lab_pod nobr "$NOBR" '[{"name":"br9-net","ips":["10.9.0.10/24"]}]' >"$CONF/nobr.yml"
if wait_for 10 status_is default/nobr Pending; then ok "pod whose NAD's bridge is missing is Pending"
else not_ok "pod whose NAD's bridge is missing is Pending" "$(plumbd_status_line default/nobr)" "$DAEMON_LOG"; fi
assert_eq "missing bridge: reason BridgeMissing" BridgeMissing "$(plumbd_status_field default/nobr 4)"
assert_match "missing bridge: message names br-9" 'br-9' "$(plumbd_status_line default/nobr)"
lab_bridge_policy br-9-policy br-9 >"$CONF/br-9.yml"
if wait_for 10 addr_present "$NOBR" net1 10.9.0.10/24; then ok "bridge policy added: the pending pod is attached"
else not_ok "bridge policy added: the pending pod is attached" "no net1 after 10 s" "$DAEMON_LOG"; fi
wait_for 5 status_is default/nobr Available
assert_eq "bridge policy added: pod Available" Available "$(plumbd_status_field default/nobr 3)"
assert_eq "bridge policy added: its host veth is on br-9" 1 "$(bridge_ports "$NODE" br-9 | wc -l)"
assert_eq "bridge policy Available" Available "$(plumbd_status_field br-9-policy 3)"

proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"
lab_done
