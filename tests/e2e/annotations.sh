#!/bin/bash
# annotations: Multus network selection elements beyond name/ips/mac.
#   default-route  the pod (which has its own eth0 with a default route to
#                  another router) gets "default via GW dev net1"; it reaches
#                  an address only that router knows; a second apply writes
#                  nothing; a deleted or re-added default route is repaired;
#                  detaching the network (and `plumbd rollback` of the
#                  attach) puts the old default route back.
#   warnings       unknown keys and cni-args: warnings on the pod's status.
#   network-status name, interface, ips, mac, default, dns, gateway.
#   errors         two elements with default-route, or a gateway outside the
#                  network: Failing with the reason, nothing done.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
lab_has_kind bridge || { skip annotations "kernel lacks bridge"; exit 0; }
lab_has_kind veth || { skip annotations "kernel lacks veth"; exit 0; }
command -v python3 >/dev/null || { skip annotations "no python3 (JSON checks)"; exit 0; }

# The pod's own "cluster" interface: eth0 wired to ${P}other (10.77.0.1),
# default route that way. 203.0.113.7 lives on the peer (192.168.255.11),
# which only the br-1 network reaches.
OTHER=${P}other
lab_netns "$OTHER" || { not_ok lab "netns $OTHER"; exit 1; }
lab_wire "$POD_NS" eth0 "$OTHER" eth0 || { not_ok lab "pod eth0"; exit 1; }
ip -n "$POD_NS" addr add 10.77.0.2/24 dev eth0
ip -n "$OTHER" addr add 10.77.0.1/24 dev eth0
ip -n "$POD_NS" route add default via 10.77.0.1 dev eth0
ip -n "$PEER" addr add 203.0.113.7/32 dev lo

pod_file=$CONF/multus-demo.yml
write_pod() { # ANNOTATION-VALUE
    lab_pod multus-demo "$POD_NS" "$1" >"$pod_file"
}
defaults() { ip -n "$POD_NS" route show default 2>&1; }
ping_far() { ip netns exec "$POD_NS" ping -c 2 -W 1 -i 0.2 203.0.113.7; }
netstatus() { # python expression on the pod's networkStatus list `s`
    plumbd_run status -o json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
objs = d if isinstance(d, list) else d.get("objects", d.get("items", []))
s = [o for o in objs if o.get("kind") == "Pod" and o.get("name") == "multus-demo"][0].get("networkStatus") or []
print(eval(sys.argv[1]))' "$1" 2>&1
}

expect_fail "before: the pod cannot reach 203.0.113.7 (only via the peer)" ping_far

ANN='[{"name":"linux-bridge-br-1","ips":["192.168.255.100/24"],"mac":"c2:b0:57:49:47:f1","default-route":["192.168.255.11"],"colour":"blue","cni-args":{"foo":"bar"}}]'
write_pod "$ANN"

out=$(plumbd_run apply 2>&1); rc=$?
printf '%s\n' "$out" >"$LAB_TMP/apply1.out"
assert_eq "apply with default-route exits 0" 0 "$rc"
[ "$rc" = 0 ] || tail -n 15 "$LAB_TMP/apply1.out" | sed 's/^/#   /'

d=$(defaults)
assert_match "pod default route via 192.168.255.11 dev net1" '^default via 192\.168\.255\.11 dev net1' "$d"
assert_eq "pod has exactly one default route" 1 "$(printf '%s\n' "$d" | grep -c '^default')"
assert_no_match "the default route via eth0 is gone" 'dev eth0' "$d"
assert_no_match "the NAD's own default via .254 is not used" '192\.168\.255\.254' "$d"
expect "the pod reaches 203.0.113.7 through net1" ping_far
assert_match "the attachment records the displaced route" '"dev":"eth0"' \
    "$(sql "SELECT defroute FROM attachments WHERE pod_if = 'net1'")"

# --- warnings on the status -------------------------------------------------------
y=$(plumbd_run status -o yaml 2>&1)
pod_y=$(printf '%s\n' "$y" | awk '/^kind: /{p = 0} /^name: multus-demo/{p = 1} p')
assert_match "status -o yaml: warning names the unknown key colour" 'unknown key \\?"colour\\?"' "$y"
assert_match "status -o yaml: cni-args warning" 'cni-args recorded but not used' "$y"
assert_eq "pod is Available despite the warnings" Available "$(plumbd_status_field default/multus-demo 3)"

# --- network-status ------------------------------------------------------------------
assert_eq "network-status name" "default/linux-bridge-br-1" "$(netstatus 's[0]["name"]')"
assert_eq "network-status interface" "net1" "$(netstatus 's[0]["interface"]')"
assert_eq "network-status ips" "['192.168.255.100']" "$(netstatus 's[0]["ips"]')"
assert_eq "network-status mac" "c2:b0:57:49:47:f1" "$(netstatus 's[0]["mac"]')"
assert_eq "network-status default" "True" "$(netstatus 's[0]["default"]')"
assert_eq "network-status gateway" "['192.168.255.11']" "$(netstatus 's[0].get("gateway")')"
assert_eq "network-status dns present" "True" "$(netstatus '"dns" in s[0]')"

# --- converged: empty plan, zero writes --------------------------------------------
lab_quiesce 2 "$NODE" "$POD_NS"
out=$(plumbd_run plan 2>/dev/null)
assert_eq "second plan prints no operations" "" "$(plan_ops "$out")"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "second apply exits 0" 0 "$rc"
assert_eq "second apply makes 0 netlink writes" 0 "$(apply_writes "$out")"

# --- drift: the default route deleted, or another one added ------------------------
ip -n "$POD_NS" route del default
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply after deleting the default route exits 0" 0 "$rc"
assert_match "deleted default route repaired" '^default via 192\.168\.255\.11 dev net1' "$(defaults)"
expect "the pod reaches 203.0.113.7 again" ping_far

ip -n "$POD_NS" route add default via 10.77.0.1 dev eth0 metric 50
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply after a foreign default route appears exits 0" 0 "$rc"
d=$(defaults)
assert_no_match "the foreign default route via eth0 is removed" 'dev eth0' "$d"
assert_match "default via net1 kept" '^default via 192\.168\.255\.11 dev net1' "$d"
ip -n "$POD_NS" route del default via 10.77.0.1 dev eth0 metric 50 2>/dev/null

# --- detach restores the old default route ------------------------------------------
write_pod '[]'
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply without the network exits 0" 0 "$rc"
d=$(defaults)
assert_eq "net1 is gone" 0 "$(link_exists "$POD_NS" net1 && echo 1 || echo 0)"
assert_match "the old default route via 10.77.0.1 dev eth0 is back" '^default via 10\.77\.0\.1 dev eth0( |$)' "$d"
assert_no_match "no default route via the network" '192\.168\.255' "$d"
expect_fail "203.0.113.7 unreachable again" ping_far

# --- rollback of an attach generation restores it too -------------------------------
ip -n "$POD_NS" route del default via 10.77.0.1 dev eth0 metric 50 2>/dev/null
write_pod '[{"name":"linux-bridge-br-1","ips":["192.168.255.100/24"],"default-route":["192.168.255.11"]}]'
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "re-attach with default-route exits 0" 0 "$rc"
assert_match "default via net1 again" '^default via 192\.168\.255\.11 dev net1' "$(defaults)"
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
d=$(defaults)
assert_match "after rollback the default route via eth0 is back" '^default via 10\.77\.0\.1 dev eth0( |$)' "$d"
assert_no_match "after rollback no default via net1" 'dev net1' "$d"

# --- errors: nothing done half-way ------------------------------------------------------
TWO=${P}two
lab_netns "$TWO" || { not_ok lab "netns $TWO"; exit 1; }
lab_pod two "$TWO" '[{"name":"linux-bridge-br-1","default-route":["192.168.255.11"]},{"name":"linux-bridge-br-1","default-route":["192.168.255.12"]}]' >"$CONF/two.yml"
FAR=${P}far
lab_netns "$FAR" || { not_ok lab "netns $FAR"; exit 1; }
lab_pod far "$FAR" '[{"name":"linux-bridge-br-1","default-route":["10.9.9.1"]}]' >"$CONF/far.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with bad default-route pods exits 1" 1 "$rc"
assert_eq "two default-route elements: Failing" Failing "$(plumbd_status_field default/two 3)"
assert_match "two default-route elements: reason says so" 'at most one network of a pod may carry the default route' \
    "$(plumbd_status_line default/two)"
assert_eq "two default-route elements: no interface added" "" "$(links_except_lo "$TWO")"
assert_eq "gateway outside the subnet: Failing" Failing "$(plumbd_status_field default/far 3)"
assert_eq "gateway outside the subnet: reason" InvalidDefaultRoute "$(plumbd_status_field default/far 4)"
assert_match "gateway outside the subnet: message" '10\.9\.9\.1 is not inside a subnet' \
    "$(plumbd_status_line default/far)"
assert_eq "gateway outside the subnet: no interface added" "" "$(links_except_lo "$FAR")"

lab_done
