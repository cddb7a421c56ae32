#!/bin/bash
# node_selector: a policy whose nodeSelector does not match this node's labels
# is NotMatching and creates nothing; relabelling the node applies it.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml"
sed 's/linux-bridge-br1: "true"/linux-bridge-br1: "false"/' "$LAB_ROOT/examples/node.yml" >"$CONF/node.yml"

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a non-matching policy exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
assert_eq "policy is NotMatching" NotMatching "$(plumbd_status_field linux-bridge-br1-ens19 3)"
assert_eq "no br-1" 0 "$(link_exists "$NODE" br-1 && echo 1 || echo 0)"
assert_match "ens19 untouched (no master)" '^[0-9]+: ens19@' "$(ip -n "$NODE" -o link show ens19 | grep -v master)"

# --node-name of a node with no Node file: no labels, so still NotMatching.
out=$("$PLUMBD" --config-dir "$CONF" --state-dir "$STATE" --netns "$NODE" --node-name other-node plan 2>/dev/null); rc=$?
assert_eq "plan for an unlabelled node name: no operations" "" "$(plan_ops "$out")"

# Relabel: the policy now selects the node.
cp "$LAB_ROOT/examples/node.yml" "$CONF/node.yml"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan after relabelling exits 4" 4 "$rc"
assert_match "plan mentions br-1" 'br-1' "$out"
assert_eq "plan changed nothing" 0 "$(link_exists "$NODE" br-1 && echo 1 || echo 0)"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply after relabelling exits 0" 0 "$rc"
assert_eq "policy Available" Available "$(plumbd_status_field linux-bridge-br1-ens19 3)"
assert_match "ens19 on br-1" 'master br-1' "$(ip -n "$NODE" link show ens19 2>&1)"

lab_done
