#!/bin/bash
# reconcile_show: `plumbd show` of the converged seed, fed back as the only
# desired-state file of a fresh config dir (and a fresh state dir), plans zero
# operations; `show -o json` is JSON (issue 3, "Status and show"). Then the
# same round trip on a node converged with every policy key plumbd
# implements (descriptions, mtu, stp, ports, IPv4/IPv6 addresses,
# routes.config, route-rules.config, dns-resolver), each of which show must
# print; and show's output as a policy passes read-back verification when a
# change makes it write (issue 6).
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
expect "pod still reachable" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.100

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

# ---- every key implemented today -------------------------------------------
lab_wire "$NODE" ens20 "$PEER" eth1 && lab_wire "$NODE" ens21 "$PEER" eth2 ||
    { not_ok lab "could not wire ens20/ens21"; exit 1; }
cat >"$CONF/keys.yml" <<'Y'
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: keys
spec:
  desiredState:
    interfaces:
    - name: br-k
      type: linux-bridge
      state: up
      description: "keys bridge: every key"
      mtu: 1500
      bridge:
        options:
          stp:
            enabled: true
        port:
        - name: ens20
      ipv4:
        enabled: true
        address:
        - ip: 192.0.2.1
          prefix-length: 24
      ipv6:
        enabled: true
        address:
        - ip: 2001:db8:1::1
          prefix-length: 64
    - name: ens21
      type: ethernet
      state: up
      mtu: 1400
      description: spare
    routes:
      config:
      - destination: 198.51.100.0/24
        next-hop-interface: br-k
        next-hop-address: 192.0.2.2
        metric: 150
      - destination: 203.0.113.0/24
        next-hop-interface: br-k
        next-hop-address: 192.0.2.2
        table-id: 100
        source: 192.0.2.1
      - destination: 10.66.0.0/16
        route-type: blackhole
      - destination: 2001:db8:99::/64
        next-hop-interface: br-k
        next-hop-address: 2001:db8:1::2
    route-rules:
      config:
      - ip-from: 10.1.0.0/16
        priority: 1000
        route-table: 100
      - family: ipv4
        fwmark: "0x10"
        priority: 1001
        route-table: 200
      - ip-from: 10.99.0.0/16
        iif: ens21
        action: blackhole
        priority: 1002
      - ip-from: 2001:db8:5::/64
        priority: 1003
        route-table: 100
    dns-resolver:
      config:
        server: [192.0.2.53, 2001:db8::53]
        search: [example.com]
        options: [rotate, "ndots:2"]
Y
out=$(plumbd_run -v apply 2>&1); rc=$?
assert_eq "every key: apply exits 0 (read back without a mismatch)" 0 "$rc"
assert_match "every key: the whole policy was read back" 'keys.*read back: the node holds the desired state' "$out"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 8 | sed 's/^/#   /'
assert_eq "every key: keys is Available" Available "$(plumbd_status_field keys 3)"
lab_quiesce 1 "$NODE"
show=$(plumbd_run show 2>/dev/null)
for want in 'description: "keys bridge: every key"' 'description: spare' 'mtu: 1400' \
    '- name: ens20' 'ip: "?192.0.2.1' 'ip: "?2001:db8:1::1' 'prefix-length: 64' \
    'destination: 198.51.100.0/24' 'metric: 150' 'table-id: 100' 'source: "?192.0.2.1' \
    'route-type: blackhole' 'next-hop-address: "?2001:db8:1::2' 'ip-from: 10.1.0.0/16' \
    'priority: 1001' 'fwmark: 16' 'fwmask: 4294967295' 'iif: ens21' 'action: blackhole' \
    'ip-from: "?2001:db8:5::/64' 'route-table: 200' '- "?192.0.2.53' '- example.com' '- "?ndots:2'; do
    assert_match "show prints $want" "$want" "$show"
done
if plumbd_run show -o json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
b = [i for i in s["interfaces"] if i["name"] == "br-k"][0]
sys.exit(0 if b["bridge"]["options"]["stp"]["enabled"] is True and
         [p["name"] for p in b["bridge"]["port"]] == ["ens20"] and b["mtu"] == 1500 else 1)'
then ok "show prints br-k with stp enabled, port ens20, mtu 1500"
else not_ok "show prints br-k with stp enabled, port ens20, mtu 1500" "show -o json differs"; fi
CONF3=$LAB_TMP/conf3
STATE3=$LAB_TMP/state3
mkdir -p "$CONF3" "$STATE3"
printf '%s\n' "$show" >"$CONF3/show.yaml"
p3() { "$PLUMBD" --config-dir "$CONF3" --state-dir "$STATE3" --netns "$NODE" --node-name "$NODE_NAME" \
    --resolv-conf "$RESOLV_CONF" "$@"; }
plan=$(p3 plan 2>"$LAB_TMP/plan3.err"); rc=$?
if [ "$rc" = 0 ] && [ -z "$(plan_ops "$plan")" ]; then
    ok "every key: show fed back plans zero operations"
else
    not_ok "every key: show fed back plans zero operations" "plan exited $rc"
    printf '%s\n' "$plan" | head -n 15 | sed 's/^/#   /'
fi
before=$(ip -n "$NODE" -o link show | sed 's/ qlen [0-9]*//' | sort)
resolv_before=$(cat "$RESOLV_CONF")
out=$(p3 apply 2>&1); rc=$?
assert_eq "every key: show applied: exit 0, zero netlink writes" "0:0" "$rc:$(apply_writes "$out")"
assert_eq "every key: links unchanged" "$before" "$(ip -n "$NODE" -o link show | sed 's/ qlen [0-9]*//' | sort)"
assert_eq "every key: resolv.conf unchanged" "$resolv_before" "$(cat "$RESOLV_CONF")"

# show's output as a policy, verified: a deleted address makes it write, and
# the read-back of the whole show document (every interface, route, rule,
# dns) finds no mismatch.
ip -n "$NODE" addr del 192.0.2.1/24 dev br-k
ip -n "$NODE" route del 10.66.0.0/16 2>/dev/null
out=$(p3 -v apply 2>&1); rc=$?
assert_eq "show as a policy: repair applies and verifies (exit 0)" 0 "$rc"
assert_match "show as a policy: read back whole" 'read back: the node holds the desired state' "$out"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 8 | sed 's/^/#   /'
assert_no_match "show as a policy: no verification failure" 'VerificationFailed|verification failed' \
    "$out$(p3 status 2>&1)"
expect "show as a policy: the address is back" has_addr "$NODE" br-k 192.0.2.1/24

lab_done
