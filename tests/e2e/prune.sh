#!/bin/bash
# prune: removing the files removes what their objects created and restores
# what they changed (DESIGN "Ownership, idempotence, prune"); an interface
# plumbd never touched is never deleted; plumbd/prune: "false" keeps things.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
# Something plumbd does not own, on the node and in the pod.
ip -n "$NODE" link add mine0 type bridge
ip -n "$NODE" link set ens19 mtu 1400

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "seed apply exits 0" 0 "$rc"
assert_match "ens19 on br-1" 'master br-1' "$(ip -n "$NODE" link show ens19 2>&1)"

# Pod file removed: its attachment goes, the bridge stays.
rm -f "$CONF/multus-demo.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply after removing the pod exits 0" 0 "$rc"
assert_eq "pod netns is empty again" "" "$(links_except_lo "$POD_NS")"
assert_eq "br-1 keeps only ens19" "ens19" "$(bridge_ports "$NODE" br-1 | tr '\n' ' ' | sed 's/ $//')"
assert_eq "allocation released" "" "$(alloc_of Pod/default/multus-demo)"
assert_eq "pod status removed" "" "$(plumbd_status_line default/multus-demo)"

# Policy file removed: br-1 deleted, ens19 released and set back as it was.
rm -f "$CONF/linux-bridge-br1-ens19.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply after removing the policy exits 0" 0 "$rc"
assert_eq "br-1 deleted" 0 "$(link_exists "$NODE" br-1 && echo 1 || echo 0)"
e=$(ip -n "$NODE" -o link show ens19 2>&1)
assert_no_match "ens19 released (no master)" 'master' "$e"
assert_match "ens19 still up" '[<,]UP[,>]' "$e"
assert_match "ens19 keeps its mtu 1400" 'mtu 1400 ' "$e"
assert_eq "unowned bridge mine0 untouched" 1 "$(link_exists "$NODE" mine0 && echo 1 || echo 0)"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan after the prune is empty" "0:" "$rc:$(plan_ops "$out")"

# plumbd/prune: "false": removing the object leaves its bridge in place.
sed 's|^  name: linux-bridge-br1-ens19$|&\n  annotations:\n    plumbd/prune: "false"|' \
    "$LAB_ROOT/examples/linux-bridge-br1-ens19.yml" >"$CONF/keep.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply of the prune=false policy exits 0" 0 "$rc"
rm -f "$CONF/keep.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "prune=false: br-1 stays after its file is removed" 1 "$(link_exists "$NODE" br-1 && echo 1 || echo 0)"

lab_done
