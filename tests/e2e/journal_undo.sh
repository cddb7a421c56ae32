#!/bin/bash
# journal_undo: a policy whose second port the kernel refuses is applied as
# one transaction and fully undone: apply exits 1, the policy is Failing with
# the failing op and the kernel's error, the bridge it created is gone, the
# first port is back exactly as it was, history shows the generation failed
# with its ops undone/failed; the revision is pinned (a second apply writes
# nothing and says why); another policy of the same pass is unaffected; once
# the file is fixed, apply converges (issue 4, "Transactions and automatic
# rollback", "Tests that must exist").
#
# Two refused ports: `lo` (EINVAL: not an Ethernet device) and a bridge made
# by the test (ELOOP, "Can not enslave a bridge to a bridge").
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml" "$CONF/linux-bridge-br-1.yml" "$CONF/linux-bridge-br1-ens19.yml"

# undo_variant BAD : policy br-1 with ports ens19 and BAD.
undo_variant() {
    local bad=$1 kerr out rc before bad_before msg gen ops g2 writes
    local t="[$bad]"
    rm -rf "$STATE" && mkdir -p "$STATE"
    rm -f "$CONF"/*policy*.yml
    ip -n "$NODE" link del br-1 2>/dev/null
    ip -n "$NODE" link del br-2 2>/dev/null
    ip -n "$NODE" link set ens19 nomaster 2>/dev/null
    ip -n "$NODE" addr flush dev ens19
    ip -n "$NODE" link set ens19 mtu 1400 up
    ip -n "$NODE" addr add 10.99.0.5/24 dev ens19

    kerr=$(kernel_enslave_error "$NODE" "$bad")
    if [ -z "$kerr" ]; then
        skip "$t refused port" "the kernel accepts $bad as a bridge port here"
        return
    fi
    diag "$t the kernel refuses $bad as a bridge port: $kerr"
    lab_quiesce 1 "$NODE"
    before=$(link_image "$NODE" ens19)
    bad_before=$(link_image "$NODE" "$bad")

    lab_bridge_policy bad-policy br-1 port=ens19 "port=$bad" >"$CONF/bad-policy.yml"
    lab_bridge_policy good-policy br-2 >"$CONF/good-policy.yml"
    out=$(plumbd_run apply 2>&1); rc=$?
    printf '%s\n' "$out" | grep -E 'level=(error|warn)|undo|^applied' | sed 's/^/#   /'
    assert_eq "$t apply exits 1" 1 "$rc"
    assert_eq "$t policy is Failing" Failing "$(plumbd_status_field bad-policy 3)"
    msg=$(plumbd_status_line bad-policy)
    # The kernel's own words: extack text, or strerror of the errno.
    local kre
    case $kerr in
        *"enslave a bridge to a bridge"*) kre='Can not enslave a bridge to a bridge|Too many levels of symbolic links' ;;
        *) kre=$kerr ;;
    esac
    assert_match "$t status names the failing op" "link-set $bad .*master=br-1|$bad.*master.*br-1" "$msg"
    assert_match "$t status carries the kernel's error" "$kre" "$msg"
    assert_eq "$t the bridge it created is gone" absent "$(link_image "$NODE" br-1)"
    if wait_for 3 image_is "$NODE" ens19 "$before"; then
        ok "$t first port ens19 released and restored (no master, mtu 1400, up, 10.99.0.5/24)"
    else
        not_ok "$t first port ens19 released and restored" "images differ"
        diag "  before: $before"
        diag "  after:  $(link_image "$NODE" ens19)"
    fi
    # (one RTM_NEWLINK "master X up": the kernel applies the flags before
    # the master and does not revert them when the master is refused, so a
    # failed op may have half taken effect)
    assert_eq "$t refused port $bad left as it was (even a half-applied failed op undone)" \
        "$bad_before" "$(link_image "$NODE" "$bad")"
    assert_eq "$t the other policy of the pass is Available" Available "$(plumbd_status_field good-policy 3)"
    expect "$t the other policy's bridge br-2 exists" link_exists "$NODE" br-2

    # History: the generation failed, its ops done→undone, the refused one failed.
    gen=$(hist_gen newest id)
    assert_eq "$t history: newest generation's outcome" failed "$(hist_gen "$gen" outcome)"
    plumbd_run history 2>/dev/null | head -n 3 | sed 's/^/#   /'
    ops=$(hist_ops "$gen")
    printf '%s\n' "$ops" | sed 's/^/#   op: /'
    local pol_ops
    pol_ops=$(plumbd_run history -o json "$gen" 2>/dev/null | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    if r.get("owner", "").endswith("/bad-policy"):
        w = (r.get("op") or "").split()
        print(r.get("state"), *w[:2])')
    assert_eq "$t history GEN: the policy's ops undone in order, the refused one failed" \
        "undone bridge-add br-1|undone link-set ens19|failed link-set $bad" \
        "$(printf '%s\n' "$pol_ops" | paste -sd'|')"
    assert_match "$t history GEN shows the kernel's error on the failed op" "$kre" \
        "$(plumbd_run history "$gen" 2>/dev/null)"

    # Pinned: no retry, zero writes, status still says why and mentions the pin.
    lab_quiesce 1 "$NODE"
    monitor_start "$LAB_TMP/mon.$bad" "$NODE"
    out=$(plumbd_run apply 2>&1); rc=$?
    monitor_stop
    writes=$(apply_writes "$out")
    assert_eq "$t second apply: exit 1, 0 netlink writes" "1:0" "$rc:$writes"
    if grep -q . "$LAB_TMP/mon.$bad"; then
        not_ok "$t second apply: no kernel event" "netlink says:"
        head -n 5 "$LAB_TMP/mon.$bad" | sed 's/^/#   /'
    else
        ok "$t second apply: no kernel event"
    fi
    msg=$(plumbd_status_line bad-policy)
    assert_eq "$t second apply: still Failing" Failing "$(plumbd_status_field bad-policy 3)"
    assert_match "$t second apply: status still carries the kernel's error" "$kre" "$msg"
    assert_match "$t second apply: status mentions the pin" '[Pp]inned' "$msg"
    g2=$(hist_gen newest id)
    assert_eq "$t second apply: no generation with ops" "" \
        "$(plumbd_run history -o json 2>/dev/null | python3 -c '
import json, sys
print(" ".join(str(r["id"]) for r in json.load(sys.stdin) if r["id"] > int(sys.argv[1]) and (r.get("ops") or 0) > 0))' "$gen")"
    out=$(plumbd_run plan 2>/dev/null); rc=$?
    assert_eq "$t plan proposes nothing for the pinned revision" "0:" "$rc:$(plan_ops "$out")"

    # The same content rewritten (mtime changes, hash does not): still pinned.
    cp "$CONF/bad-policy.yml" "$CONF/bad-policy.yml.tmp" && mv "$CONF/bad-policy.yml.tmp" "$CONF/bad-policy.yml"
    out=$(plumbd_run apply 2>&1); rc=$?
    assert_eq "$t same content rewritten: still pinned (exit 1, 0 writes)" "1:0" "$rc:$(apply_writes "$out")"
    assert_eq "$t same content rewritten: br-1 still absent" absent "$(link_image "$NODE" br-1)"

    # The file is fixed: converges.
    lab_bridge_policy bad-policy br-1 port=ens19 >"$CONF/bad-policy.yml"
    out=$(plumbd_run apply 2>&1); rc=$?
    assert_eq "$t fixed file: apply exits 0" 0 "$rc"
    assert_eq "$t fixed file: policy Available" Available "$(plumbd_status_field bad-policy 3)"
    assert_match "$t fixed file: ens19 on br-1" 'master br-1 ' "$(ip -n "$NODE" -o link show dev ens19)"
    out=$(plumbd_run plan 2>/dev/null); rc=$?
    assert_eq "$t fixed file: plan empty" "0:" "$rc:$(plan_ops "$out")"
    out=$(plumbd_run apply 2>&1); rc=$?
    assert_eq "$t fixed file: next apply 0 writes" "0:0" "$rc:$(apply_writes "$out")"
}

undo_variant lo
ip -n "$NODE" link add brx type bridge || not_ok "lab" "cannot create brx"
undo_variant brx

lab_done
