#!/bin/bash
# reconcile_prune: removing the policy restores ens19 exactly as it was before
# plumbd enslaved it (master, MTU, up/down, addresses and their routes), in two
# variants (ens19 up, ens19 down); with plumbd/prune: "false" the removal and
# every later apply leave br-1 and ens19 as they are (issue 3, "Ownership and
# prune").
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml" # the policy alone is under test
POLICY=$LAB_ROOT/examples/linux-bridge-br1-ens19.yml

# prune_variant STATE : ens19 gets mtu 1400, 10.99.0.5/24, STATE (up|down);
# seed policy applied then removed; ens19 compared before/after.
prune_variant() {
    local st=$1 before after out rc
    rm -rf "$STATE" && mkdir -p "$STATE"
    ip -n "$NODE" link set ens19 nomaster 2>/dev/null
    ip -n "$NODE" link del br-1 2>/dev/null
    ip -n "$NODE" addr flush dev ens19
    ip -n "$NODE" link set ens19 mtu 1400 "$st"
    ip -n "$NODE" addr add 10.99.0.5/24 dev ens19
    lab_quiesce 1 "$NODE"
    before=$(link_image "$NODE" ens19)
    diag "[$st] ens19 before: $before"

    cp "$POLICY" "$CONF/"
    out=$(plumbd_run apply 2>&1); rc=$?
    assert_eq "[$st] seed policy apply exits 0" 0 "$rc"
    local e
    e=$(ip -n "$NODE" -o link show dev ens19 2>&1)
    assert_match "[$st] ens19 enslaved to br-1" 'master br-1 ' "$e"
    assert_match "[$st] ens19 set up" '[<,]UP[,>]' "$e"

    rm -f "$CONF/linux-bridge-br1-ens19.yml"
    out=$(plumbd_run apply 2>&1); rc=$?
    assert_eq "[$st] apply after removing the policy exits 0" 0 "$rc"
    assert_eq "[$st] br-1 is gone" absent "$(link_image "$NODE" br-1)"
    if wait_for 3 image_is "$NODE" ens19 "$before"; then
        ok "[$st] ens19 restored exactly (master, mtu, state, flags, addresses, routes)"
    else
        after=$(link_image "$NODE" ens19)
        not_ok "[$st] ens19 restored exactly" "images differ"
        diag "  before: $before"
        diag "  after:  $after"
        printf '%s\n' "$out" | tail -n 8 | sed 's/^/#   /'
    fi
    out=$(plumbd_run plan 2>/dev/null); rc=$?
    assert_eq "[$st] plan after the prune is empty" "0:" "$rc:$(plan_ops "$out")"
    assert_eq "[$st] nothing left in the inventory" "0" \
        "$(sql 'SELECT (SELECT count(*) FROM owned_links) + (SELECT count(*) FROM owned_addrs)')"
}

prune_variant up
prune_variant down

# ---- plumbd/prune: "false" -----------------------------------------------------
rm -rf "$STATE" && mkdir -p "$STATE"
ip -n "$NODE" addr flush dev ens19
ip -n "$NODE" link set ens19 mtu 1400 up
ip -n "$NODE" addr add 10.99.0.5/24 dev ens19
sed 's|^  name: linux-bridge-br1-ens19$|&\n  annotations:\n    plumbd/prune: "false"|' "$POLICY" >"$CONF/keep.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "prune=false: apply exits 0" 0 "$rc"
lab_quiesce 1 "$NODE"
br_img=$(link_image "$NODE" br-1)
ens_img=$(link_image "$NODE" ens19)
assert_match "prune=false: ens19 on br-1" '"master": "br-1"' "$ens_img"

rm -f "$CONF/keep.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "prune=false: apply after removal exits 0" 0 "$rc"
assert_eq "prune=false: br-1 unchanged after removal" "$br_img" "$(link_image "$NODE" br-1)"
assert_eq "prune=false: ens19 unchanged after removal" "$ens_img" "$(link_image "$NODE" ens19)"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "prune=false: a later apply exits 0" 0 "$rc"
assert_eq "prune=false: a later apply writes nothing" 0 "$(apply_writes "$out")"
assert_eq "prune=false: br-1 still unchanged after a later apply" "$br_img" "$(link_image "$NODE" br-1)"
assert_eq "prune=false: ens19 still unchanged after a later apply" "$ens_img" "$(link_image "$NODE" ens19)"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "prune=false: plan is empty" "0:" "$rc:$(plan_ops "$out")"

lab_done
