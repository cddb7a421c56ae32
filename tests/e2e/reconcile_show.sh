#!/bin/bash
# reconcile_show: `plumbd show` of the converged seed, fed back as the only
# desired-state file of a fresh config dir (and a fresh state dir), plans zero
# operations; `show -o json` is JSON (issue 3, "Status and show").
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "seed apply exits 0" 0 "$rc"
lab_quiesce 1 "$NODE"

CONF2=$LAB_TMP/conf2
STATE2=$LAB_TMP/state2
mkdir -p "$CONF2" "$STATE2"
plumbd_run show >"$CONF2/show.yaml" 2>"$LAB_TMP/show.err"; rc=$?
assert_eq "show exits 0" 0 "$rc"
assert_match "show lists br-1 as a linux-bridge" 'type: linux-bridge' "$(cat "$CONF2/show.yaml")"
assert_match "show lists ens19 as a port of br-1" '^ *- name: ens19' "$(cat "$CONF2/show.yaml")"
if python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); sys.exit(0 if isinstance(d.get("interfaces"), list) else 1)' "$CONF2/show.yaml" 2>/dev/null; then
    ok "show output is YAML with an interfaces list"
else
    not_ok "show output is YAML with an interfaces list" "yaml.safe_load failed" "$CONF2/show.yaml"
fi
expect "show output validates" "$PLUMBD" validate "$CONF2/show.yaml"

plan=$("$PLUMBD" --config-dir "$CONF2" --state-dir "$STATE2" --netns "$NODE" --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" \
    plan 2>"$LAB_TMP/plan.err"); rc=$?
if [ "$rc" = 0 ] && [ -z "$(plan_ops "$plan")" ]; then
    ok "show output fed back as desired state plans zero operations"
else
    not_ok "show output fed back plans zero operations" "plan exited $rc"
    printf '%s\n' "$plan" | head -n 15 | sed 's/^/#   /'
    sed 's/^/#   /' "$LAB_TMP/plan.err" | tail -n 10
fi
# also through apply: no writes, and the lab is unchanged
before=$(ip -n "$NODE" -o link show | sed 's/ qlen [0-9]*//' | sort)
out=$("$PLUMBD" --config-dir "$CONF2" --state-dir "$STATE2" --netns "$NODE" --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" \
    apply 2>&1); rc=$?
assert_eq "show output applied: exits 0" 0 "$rc"
assert_eq "show output applied: zero netlink writes" 0 "$(apply_writes "$out")"
assert_eq "show output applied: links unchanged" "$before" "$(ip -n "$NODE" -o link show | sed 's/ qlen [0-9]*//' | sort)"
expect "pod still reachable" ip netns exec "$PEER" ping -c 1 -W 1 192.168.255.100

json=$(plumbd_run show -o json 2>/dev/null); rc=$?
assert_eq "show -o json exits 0" 0 "$rc"
expect "show -o json parses (python3 -m json.tool)" \
    sh -c 'printf "%s" "$1" | python3 -m json.tool >/dev/null' sh "$json"
# same content in both formats
printf '%s\n' "$json" >"$LAB_TMP/show.json"
if python3 -c '
import json, sys, yaml
sys.exit(0 if yaml.safe_load(open(sys.argv[1])) == json.load(open(sys.argv[2])) else 1)
' "$CONF2/show.yaml" "$LAB_TMP/show.json" 2>"$LAB_TMP/cmp.err"
then ok "show -o json and show (YAML) hold the same state"
else not_ok "show -o json and show (YAML) hold the same state" "they differ" "$LAB_TMP/cmp.err"; fi

lab_done
