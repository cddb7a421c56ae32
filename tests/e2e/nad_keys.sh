#!/bin/bash
# nad_keys: the CNI bridge plugin's keys and the macvlan plugin, against the
# kernel: isGateway/isDefaultGateway (gateway on the bridge, forwarding on,
# pod default route, pod pings the gateway), ipMasq (pod reaches a host
# beyond the node, which sees the node's address; the inet plumbd-nat
# table), hairpinMode/portIsolation (port flags), promiscMode,
# disableContainerInterface, forceAddress (and the failure without it),
# vlan (skipped when the kernel lacks bridge VLAN filtering), macvlan (pod
# pings a host on the wire), UnsupportedType; a second apply writes nothing;
# the journal's undo puts the node back (sysctl, promisc, addresses); the
# masquerade goes when the pod's netns vanishes; a macvlan pod's removal
# deletes its interface.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
lab_has_kind bridge || { skip nad_keys "kernel lacks bridge"; exit 0; }
lab_has_kind veth || { skip nad_keys "kernel lacks veth"; exit 0; }

FAR=${P}far
GWPOD=${P}gwpod
PPOD=${P}ppod
FPOD=${P}fpod
NPOD=${P}npod
MVPOD=${P}mvpod
UPOD=${P}upod
for ns in "$FAR" "$GWPOD" "$PPOD" "$FPOD" "$NPOD" "$MVPOD" "$UPOD"; do
    lab_netns "$ns" || { not_ok lab "netns $ns"; exit 1; }
done
# A host beyond the node: routed through the node (uplink 10.99.0.0/24),
# with no route back to the pods' subnet: it answers only masqueraded pods.
lab_wire "$NODE" uplink "$FAR" eth0 || { not_ok lab "uplink"; exit 1; }
ip -n "$NODE" addr add 10.99.0.1/24 dev uplink
ip -n "$FAR" addr add 10.99.0.2/24 dev eth0
# A second wire to the peer for the macvlan (ens19 is a bridge port).
lab_wire "$NODE" ens20 "$PEER" eth1 || { not_ok lab "ens20"; exit 1; }
ip -n "$PEER" addr add 192.168.254.11/24 dev eth1
# Count what reaches the far host, by source.
ip netns exec "$FAR" nft -f - <<'EOF'
table ip count {
    chain input {
        type filter hook input priority 0; policy accept;
        ip saddr 10.99.0.1 icmp type echo-request counter
        ip saddr 10.77.0.0/24 icmp type echo-request counter
    }
}
EOF

# Bridges for the NADs, made by a policy (no ports).
cat >"$CONF/bridges.yml" <<'EOF'
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: nad-bridges
spec:
  desiredState:
    interfaces:
    - {name: br-gw, type: linux-bridge, state: up}
    - {name: br-p, type: linux-bridge, state: up}
    - {name: br-f, type: linux-bridge, state: up}
    - {name: br-n, type: linux-bridge, state: up}
EOF
nad() { # NAME CONFIG
    printf -- '---\napiVersion: k8s.cni.cncf.io/v1\nkind: NetworkAttachmentDefinition\nmetadata:\n  name: %s\n  namespace: default\nspec:\n  config: %s\n' "$1" "'$2'"
}
{
    nad gw-net '{"cniVersion":"1.0.0","name":"gw-net","type":"bridge","bridge":"br-gw","isDefaultGateway":true,"ipMasq":true,"hairpinMode":true,"portIsolation":true,"ipam":{"type":"host-local","subnet":"10.77.0.0/24"}}'
    nad p-net '{"name":"p-net","type":"bridge","bridge":"br-p","promiscMode":true,"disableContainerInterface":true,"ipam":{}}'
    nad f-net '{"name":"f-net","type":"bridge","bridge":"br-f","isGateway":true,"forceAddress":true,"ipam":{"type":"host-local","subnet":"10.66.0.0/24"}}'
    nad n-net '{"name":"n-net","type":"bridge","bridge":"br-n","isGateway":true,"ipam":{"type":"host-local","subnet":"10.55.0.0/24"}}'
    nad mv-net '{"name":"mv-net","type":"macvlan","master":"ens20","mode":"bridge","ipam":{"type":"host-local","subnet":"192.168.254.0/24","rangeStart":"192.168.254.150"}}'
    nad ipvlan-net '{"name":"ipvlan-net","type":"ipvlan","master":"ens20","ipam":{}}'
} >"$CONF/nads.yml"
lab_pod gwpod "$GWPOD" '[{"name":"gw-net"}]' >"$CONF/gwpod.yml"
lab_pod ppod "$PPOD" '[{"name":"p-net"}]' >"$CONF/ppod.yml"
lab_pod fpod "$FPOD" '[{"name":"f-net"}]' >"$CONF/fpod.yml"
lab_pod npod "$NPOD" '[{"name":"n-net"}]' >"$CONF/npod.yml"
lab_pod mvpod "$MVPOD" '[{"name":"mv-net"}]' >"$CONF/mvpod.yml"
lab_pod upod "$UPOD" '[{"name":"ipvlan-net"}]' >"$CONF/upod.yml"

# Bridges first (the foreign addresses forceAddress meets must exist before
# the pods' pass), then everything.
mv "$CONF"/{gwpod,ppod,fpod,npod,mvpod,upod}.yml "$LAB_TMP/"
plumbd_run apply >"$LAB_TMP/apply0.out" 2>&1
ip -n "$NODE" addr add 10.66.0.9/24 dev br-f
ip -n "$NODE" addr add 10.55.0.9/24 dev br-n
mv "$LAB_TMP"/{gwpod,ppod,fpod,npod,mvpod,upod}.yml "$CONF/"
assert_eq "node starts with ip_forward 0" 0 "$(ip netns exec "$NODE" sysctl -n net.ipv4.ip_forward)"

out=$(plumbd_run apply 2>&1); rc=$?
printf '%s\n' "$out" >"$LAB_TMP/apply1.out"
# exit 1: npod (no forceAddress) and upod (ipvlan) fail by design
assert_eq "apply exits 1 (two pods fail by design)" 1 "$rc"

host_of() { # POD-NETNS : the host-side veth of the pod's net1 (its peer index)
    local idx
    idx=$(ip -n "$1" -o link show net1 2>/dev/null | sed -n 's/.*net1@if\([0-9]*\).*/\1/p')
    [ -n "$idx" ] && ip -n "$NODE" -o link show 2>/dev/null | awk -F': ' -v i="$idx" '$1 == i { sub(/@.*/, "", $2); print $2 }'
}

# --- isGateway / isDefaultGateway / forwarding -----------------------------
assert_match "br-gw has the gateway 10.77.0.1/24" 'inet 10\.77\.0\.1/24 ' \
    "$(ip -n "$NODE" addr show br-gw 2>&1)"
assert_eq "ip_forward is on in the node netns" 1 "$(ip netns exec "$NODE" sysctl -n net.ipv4.ip_forward)"
assert_eq "IPv6 forwarding untouched (IPv4-only network)" 0 \
    "$(ip netns exec "$NODE" sysctl -n net.ipv6.conf.all.forwarding)"
assert_match "gwpod default route via 10.77.0.1 (isDefaultGateway)" '^default via 10\.77\.0\.1 dev net1' \
    "$(ip -n "$GWPOD" route show 2>&1)"
expect "gwpod pings its gateway on the bridge" ip netns exec "$GWPOD" ping -c 2 -W 1 -i 0.2 10.77.0.1

# --- hairpin, isolation -----------------------------------------------------
gh=$(host_of "$GWPOD")
if [ -n "$gh" ]; then
    bl=$(bridge -n "$NODE" -d link show dev "$gh" 2>&1)
    assert_match "gwpod's port $gh: hairpin on" 'hairpin on' "$bl"
    assert_match "gwpod's port $gh: isolated on" 'isolated on' "$bl"
    assert_match "ip -d link: bridge_slave hairpin on" 'bridge_slave .*hairpin on' \
        "$(ip -n "$NODE" -d link show "$gh" 2>&1)"
else
    not_ok "gwpod host veth" "no net1 peer found"
fi

# --- ipMasq -----------------------------------------------------------------
rs=$(ip netns exec "$NODE" nft -n list ruleset 2>&1)
assert_match "table inet plumbd-nat exists" '^table inet plumbd-nat' "$rs"
gwip=$(ip -n "$GWPOD" -4 -o addr show net1 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
assert_match "masquerade rule for 10.77.0.0/24" 'ip saddr @m4_0 ip daddr != 10\.77\.0\.0/24 ip daddr != 224\.0\.0\.0/4 masquerade' "$rs"
assert_match "the pod's address $gwip is in the masquerade set" "elements = \\{ ${gwip//./\\.} \\}" "$rs"
expect "gwpod reaches 10.99.0.2 beyond the node" ip netns exec "$GWPOD" ping -c 2 -W 1 -i 0.2 10.99.0.2
cnt=$(ip netns exec "$FAR" nft -n list chain ip count input 2>&1)
assert_match "the far host sees the node's 10.99.0.1 as source" 'ip saddr 10\.99\.0\.1 icmp type (8|echo-request) counter packets [1-9]' "$cnt"
assert_match "the far host never sees the pod's address" 'ip saddr 10\.77\.0\.0/24 icmp type (8|echo-request) counter packets 0 ' "$cnt"

# --- promiscMode, disableContainerInterface --------------------------------
assert_match "br-p is promiscuous" '[<,]PROMISC[,>]' "$(ip -n "$NODE" link show br-p 2>&1)"
pl=$(ip -n "$PPOD" addr show net1 2>&1)
assert_match "ppod has net1" 'net1' "$pl"
assert_no_match "ppod's net1 is left down" '[<,]UP[,>]' "$pl"
assert_no_match "ppod's net1 has no address" 'inet ' "$pl"
assert_eq "ppod Available" Available "$(plumbd_status_field default/ppod 3)"

# --- forceAddress -------------------------------------------------------------
fa=$(ip -n "$NODE" addr show br-f 2>&1)
assert_match "br-f has the gateway 10.66.0.1/24 (forceAddress)" 'inet 10\.66\.0\.1/24 ' "$fa"
assert_no_match "br-f's other address 10.66.0.9 was replaced" 'inet 10\.66\.0\.9/' "$fa"
assert_eq "npod (no forceAddress) Failing" Failing "$(plumbd_status_field default/npod 3)"
assert_match "npod: GatewayAddressConflict naming the address" 'GatewayAddressConflict .*10\.55\.0\.9/24' \
    "$(plumbd_status_line default/npod)"
assert_match "br-n keeps its address without forceAddress" 'inet 10\.55\.0\.9/24 ' \
    "$(ip -n "$NODE" addr show br-n 2>&1)"

# --- macvlan ------------------------------------------------------------------
ml=$(ip -n "$MVPOD" -d addr show net1 2>&1)
assert_match "mvpod net1 is a macvlan" 'macvlan mode bridge' "$ml"
assert_match "mvpod net1 has 192.168.254.150/24" 'inet 192\.168\.254\.150/24 ' "$ml"
expect "mvpod pings the peer on the ens20 wire" ip netns exec "$MVPOD" ping -c 2 -W 1 -i 0.2 192.168.254.11
assert_eq "mvpod Available" Available "$(plumbd_status_field default/mvpod 3)"
ns=$(plumbd_run status -o json 2>/dev/null | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    if o.get("name") == "mvpod":
        print(json.dumps(o.get("networkStatus", o.get("network_status"))))' 2>&1)
assert_match "mvpod network-status has net1 with its address" '"interface": "net1".*192\.168\.254\.150|192\.168\.254\.150.*"interface": "net1"' "$ns"

# --- UnsupportedType ----------------------------------------------------------
assert_match "NAD ipvlan-net: Failing UnsupportedType naming ipvlan" "Failing +UnsupportedType .*'ipvlan'" \
    "$(plumbd_status_line default/ipvlan-net)"
assert_match "upod: Failing UnsupportedType" "Failing +UnsupportedType .*'ipvlan'" \
    "$(plumbd_status_line default/upod)"
expect_fail "validate reports the ipvlan NAD as an error" "$PLUMBD" validate "$CONF/nads.yml"

# --- vlan: needs bridge VLAN filtering ------------------------------------------
if ip -n "$NODE" link add plvf0 type bridge vlan_filtering 1 >/dev/null 2>&1; then
    ip -n "$NODE" link del plvf0
    diag "kernel has bridge vlan filtering: testing vlan"
    VPOD=${P}vpod
    lab_netns "$VPOD"
    nad v-net '{"name":"v-net","type":"bridge","bridge":"br-gw","vlan":100,"preserveDefaultVlan":false,"ipam":{}}' >"$CONF/vnad.yml"
    lab_pod vpod "$VPOD" '[{"name":"v-net"}]' >"$CONF/vpod.yml"
    plumbd_run apply >"$LAB_TMP/apply-vlan.out" 2>&1
    vh=$(host_of "$VPOD")
    vl=$(bridge -n "$NODE" vlan show dev "$vh" 2>&1)
    assert_match "vpod port: VLAN 100 PVID untagged" '100 PVID Egress Untagged' "$vl"
    assert_no_match "vpod port: VLAN 1 removed" '(^|[[:space:]])1 PVID' "$vl"
    rm -f "$CONF/vnad.yml" "$CONF/vpod.yml"
    plumbd_run apply >/dev/null 2>&1
else
    skip "vlan: PVID untagged, default VLAN removed" "kernel lacks bridge vlan filtering"
fi

# --- converged: a second apply plans and writes nothing --------------------------
out=$(plumbd_run apply 2>&1)
assert_eq "second apply: zero netlink writes" 0 "$(apply_writes "$out")"
pl=$(plumbd_run plan 2>&1)
assert_no_match "second plan: no gateway/port/sysctl op" '^(pod-attach|link-set|addr-add|sysctl)' "$pl"

# --- drift of a port flag / bridge setting is repaired ---------------------------
ip -n "$NODE" link set br-p promisc off
[ -n "$gh" ] && ip -n "$NODE" link set "$gh" type bridge_slave hairpin off
plumbd_run apply >/dev/null 2>&1
assert_match "promisc off by hand: repaired" '[<,]PROMISC[,>]' "$(ip -n "$NODE" link show br-p 2>&1)"
gh=$(host_of "$GWPOD")
assert_match "hairpin off by hand: repaired" 'hairpin on' "$(bridge -n "$NODE" -d link show dev "$gh" 2>&1)"

# --- macvlan pod removed: its interface goes --------------------------------------
rm -f "$CONF/mvpod.yml"
plumbd_run apply >/dev/null 2>&1
expect_fail "mvpod's net1 is deleted with the pod" ip -n "$MVPOD" link show net1
assert_eq "mvpod's allocation released" "" "$(alloc_of Pod/default/mvpod)"

# --- the pod's netns vanishes: its masquerade goes ---------------------------------
ip netns delete "$GWPOD"
plumbd_run apply >/dev/null 2>&1
assert_no_match "netns gone: table inet plumbd-nat removed" 'plumbd-nat' \
    "$(ip netns exec "$NODE" nft -n list tables 2>&1)"
assert_eq "gwpod Pending (NetnsMissing)" Pending "$(plumbd_status_field default/gwpod 3)"

# --- journal undo: a fresh state, one generation, rolled back ------------------------
# Everything above is removed first (prune), then re-applied from scratch with
# a new state dir and undone with `plumbd rollback`.
lab_netns "$GWPOD"
mkdir -p "$LAB_TMP/empty"
"$PLUMBD" --config-dir "$LAB_TMP/empty" --state-dir "$STATE" --netns "$NODE" --allow-empty \
    --node-name "$NODE_NAME" apply >"$LAB_TMP/prune.out" 2>&1
ip -n "$NODE" link del br-f 2>/dev/null; ip -n "$NODE" link del br-n 2>/dev/null
ip netns exec "$NODE" sysctl -qw net.ipv4.ip_forward=0
ip netns exec "$NODE" nft delete table inet plumbd-nat 2>/dev/null
STATE=$LAB_TMP/state2
mkdir -p "$STATE"
rm -f "$CONF"/{npod,upod,mvpod,fpod}.yml
plumbd_run apply >"$LAB_TMP/apply2.out" 2>&1
assert_eq "re-applied: ip_forward on" 1 "$(ip netns exec "$NODE" sysctl -n net.ipv4.ip_forward)"
assert_match "re-applied: br-p promiscuous" '[<,]PROMISC[,>]' "$(ip -n "$NODE" link show br-p 2>&1)"
assert_match "re-applied: masquerade table" 'plumbd-nat' "$(ip netns exec "$NODE" nft -n list tables 2>&1)"
plumbd_run rollback >"$LAB_TMP/rollback.out" 2>&1
assert_eq "rollback: ip_forward back to 0" 0 "$(ip netns exec "$NODE" sysctl -n net.ipv4.ip_forward)"
assert_no_match "rollback: gwpod's net1 gone" 'net1' "$(ip -n "$GWPOD" link show 2>&1)"
assert_no_match "rollback: br-gw gone (created in that generation)" 'br-gw' "$(ip -n "$NODE" link show 2>&1)"
assert_no_match "rollback: masquerade table gone" 'plumbd-nat' "$(ip netns exec "$NODE" nft -n list tables 2>&1)"

lab_done
