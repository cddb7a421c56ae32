#!/bin/bash
# ipam_ranges: host-local range sets and static IPAM on the real kernel.
#
# A dual-stack NAD (an IPv4 set of two ranges, an IPv6 set): each pod gets
# one address of each set, IPv6 without DAD (IFA_F_NODAD), the IPv4 and
# IPv6 routes (gw-less defaults via the gateway of the pod's range), and the
# peer on the ens19 wire pings it over both families. The picks - first
# range, fall-through to the second, after a release the round-robin of
# host-local - are compared with the reference /usr/lib/cni/host-local run
# on the same ipam config (differential test; known answers without it).
# Requested addresses (both families in one element), a taken one naming
# its holder. A static NAD: exactly its addresses, its gateway, its dns in
# the network-status, compared with /usr/lib/cni/static; a second pod with
# the same static address is a Conflict. enabledad: DAD left on.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml"
# the peer on the wire also speaks IPv6, and is the gateway of 10.77.0.0/29
ip -n "$PEER" addr add fd00:255::11/64 dev eth0 nodad
ip -n "$PEER" addr add 10.77.0.1/29 dev eth0

IPAM='{"type":"host-local","ranges":[[{"subnet":"192.168.255.0/24","rangeStart":"192.168.255.20","rangeEnd":"192.168.255.21"},{"subnet":"10.77.0.0/29"}],[{"subnet":"fd00:255::/64","rangeStart":"fd00:255::100"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0"}]}'
nad() { # NAME CNI-NAME IPAM [EXTRA-KEYS]
    cat <<EON
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: $1
  namespace: default
spec:
  config: '{"cniVersion":"0.4.0","name":"$2","type":"bridge","bridge":"br-1"${4:+,$4},"ipam":$3}'
EON
}
nad ds ds "$IPAM" >"$CONF/ds.yml"

# addrs NETNS : the pod's global addresses on net1, sorted, one line
addrs() {
    ip -n "$1" -o addr show dev net1 scope global 2>/dev/null | awk '{ print $4 }' | sort | xargs
}

# --- the reference host-local on the same ipam config -----------------------
HL=""
[ -x /usr/lib/cni/host-local ] && HL=/usr/lib/cni/host-local
hl() { # CMD CONTAINER-ID : addresses of the result, sorted, one line
    local conf='{"cniVersion":"0.4.0","name":"ds","type":"bridge","ipam":'"${IPAM%\}}"',"dataDir":"'"$LAB_TMP/hl"'"}}'
    printf '%s' "$conf" | CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/proc/self/ns/net \
        CNI_IFNAME=net1 CNI_PATH=/usr/lib/cni "$HL" 2>/dev/null |
        python3 -c 'import json,sys; t=sys.stdin.read().strip(); print(" ".join(sorted(i["address"] for i in json.loads(t).get("ips", []))) if t else "")'
}
ref() { # CMD CID KNOWN-ANSWER
    if [ -n "$HL" ]; then hl "$1" "$2"; else echo "$3"; fi
}
[ -n "$HL" ] || diag "no /usr/lib/cni/host-local: comparing with the known answers"

# --- three dual-stack pods: first range, then the second (fall-through) ------
for p in p1 p2 p3; do
    lab_netns "${P}$p"
    lab_pod "$p" "${P}$p" '[{"name":"ds"}]' >"$CONF/$p.yml"
done
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with three dual-stack pods exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
r1=$(ref ADD c1 "192.168.255.20/24 fd00:255::100/64")
r2=$(ref ADD c2 "192.168.255.21/24 fd00:255::101/64")
r3=$(ref ADD c3 "10.77.0.2/29 fd00:255::102/64")
diag "host-local: $r1 | $r2 | $r3"
assert_eq "p1 gets what host-local gives first ($r1)" "$r1" "$(addrs "${P}p1")"
assert_eq "p2 gets the second ($r2)" "$r2" "$(addrs "${P}p2")"
assert_eq "p3 falls through to the second range ($r3)" "$r3" "$(addrs "${P}p3")"
# DAD off as the CNI bridge plugin does it: accept_dad=0 on the pod's
# interface, so the address is usable at once (never tentative)
assert_eq "IPv6 without DAD: accept_dad=0 on the pod's net1" 0 \
    "$(ip netns exec "${P}p1" cat /proc/sys/net/ipv6/conf/net1/accept_dad 2>&1)"
assert_no_match "IPv6 address not tentative" 'fd00:255::100/64 .*tentative' \
    "$(ip -n "${P}p1" addr show dev net1 2>&1)"
assert_match "gw-less IPv4 default route via the range's gateway" \
    '^default via 192\.168\.255\.1 dev net1' "$(ip -n "${P}p1" route show 2>&1)"
assert_match "in the second range, via that range's gateway" '^default via 10\.77\.0\.1 dev net1' \
    "$(ip -n "${P}p3" route show 2>&1)"
assert_match "IPv6 default route via the range's gateway fd00:255::1" \
    '^default via fd00:255::1 dev net1' "$(ip -n "${P}p1" -6 route show 2>&1)"
expect "peer pings p1 over IPv4" ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 192.168.255.20
expect "peer pings p1 over IPv6" ip netns exec "$PEER" ping -6 -c 2 -W 1 -i 0.2 fd00:255::100
expect "peer pings p3 (second range) over IPv4" ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 10.77.0.2
expect "peer pings p3 over IPv6" ip netns exec "$PEER" ping -6 -c 2 -W 1 -i 0.2 fd00:255::102
assert_eq "allocations recorded with pod and interface" \
    "$(printf '10.77.0.2|net1\nfd00:255::102|net1')" "$(alloc_of Pod/default/p3)"
assert_eq "allocations carry their time" 0 \
    "$(sql "SELECT count(*) FROM ipam_allocations WHERE created IS NULL OR created < 1700000000")"
out=$(plumbd_run apply 2>&1)
assert_eq "re-apply keeps every address and writes nothing" 0 "$(apply_writes "$out")"

# --- release, then a new pod: host-local's round robin, not the freed one ----
rm -f "$CONF/p1.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "removing p1 exits 0" 0 "$rc"
expect "p1's allocations are released" no_alloc Pod/default/p1
[ -n "$HL" ] && hl DEL c1 >/dev/null
lab_netns "${P}p4"
lab_pod p4 "${P}p4" '[{"name":"ds"}]' >"$CONF/p4.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with p4 exits 0" 0 "$rc"
r4=$(ref ADD c4 "10.77.0.3/29 fd00:255::103/64")
assert_eq "p4 continues after the last reservation, as host-local ($r4)" "$r4" "$(addrs "${P}p4")"
assert_no_match "p1's freed address is not reused at once" '192\.168\.255\.20/' "$(addrs "${P}p4")"

# --- requested addresses: both families in one element; a taken one ---------
lab_netns "${P}req"
lab_pod req "${P}req" '[{"name":"ds","ips":["10.77.0.6/29","fd00:255::1:5/64"]}]' >"$CONF/req.yml"
lab_netns "${P}taken"
lab_pod taken "${P}taken" '[{"name":"ds","ips":["192.168.255.21/24"]}]' >"$CONF/taken.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a taken address exits 1" 1 "$rc"
assert_eq "requested dual-stack addresses used" "10.77.0.6/29 fd00:255::1:5/64" "$(addrs "${P}req")"
assert_eq "pod asking for a taken address is Failing" Failing "$(plumbd_status_field default/taken 3)"
assert_eq "its reason is Conflict" Conflict "$(plumbd_status_field default/taken 4)"
assert_match "its message names the holder" 'Pod/default/p2' "$(plumbd_status_line default/taken)"
assert_eq "nothing created in its netns" "" "$(links_except_lo "${P}taken")"
rm -f "$CONF/taken.yml"

# --- static IPAM --------------------------------------------------------------
SIPAM='{"type":"static","addresses":[{"address":"192.168.255.50/24","gateway":"192.168.255.254"},{"address":"fd00:255::50/64"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{"nameservers":["192.168.255.53"],"search":["lab.example"]}}'
nad st st "$SIPAM" >"$CONF/st.yml"
lab_netns "${P}s1"
lab_pod s1 "${P}s1" '[{"name":"st"}]' >"$CONF/s1.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a static pod exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
sref="192.168.255.50/24 fd00:255::50/64"
if [ -x /usr/lib/cni/static ]; then
    sref=$(printf '%s' '{"cniVersion":"0.4.0","name":"st","type":"bridge","ipam":'"$SIPAM"'}' |
        CNI_COMMAND=ADD CNI_CONTAINERID=s1 CNI_NETNS=/proc/self/ns/net CNI_IFNAME=net1 \
            CNI_PATH=/usr/lib/cni /usr/lib/cni/static 2>/dev/null |
        python3 -c 'import json,sys; print(" ".join(sorted(i["address"] for i in json.load(sys.stdin)["ips"])))')
fi
assert_eq "static pod gets exactly its addresses (as the static plugin: $sref)" "$sref" "$(addrs "${P}s1")"
assert_match "static route via the address's gateway" '^default via 192\.168\.255\.254 dev net1' \
    "$(ip -n "${P}s1" route show 2>&1)"
expect "peer pings the static pod over IPv4" ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 192.168.255.50
expect "peer pings the static pod over IPv6" ip netns exec "$PEER" ping -6 -c 2 -W 1 -i 0.2 fd00:255::50
dns=$(plumbd_run status -o json 2>/dev/null | python3 -c '
import json, sys
def walk(o):
    if isinstance(o, dict):
        if o.get("interface") == "net1" and "dns" in o and o.get("name") == "default/st":
            print(json.dumps(o["dns"], sort_keys=True))
        for v in o.values(): walk(v)
    elif isinstance(o, list):
        for v in o: walk(v)
walk(json.load(sys.stdin))' 2>&1)
assert_eq "network-status shows the NAD's dns" \
    '{"nameservers": ["192.168.255.53"], "search": ["lab.example"]}' "$dns"
lab_netns "${P}s2"
lab_pod s2 "${P}s2" '[{"name":"st"}]' >"$CONF/s2.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "a second pod with the same static address: apply exits 1" 1 "$rc"
assert_eq "it is a Conflict" Conflict "$(plumbd_status_field default/s2 4)"
assert_match "naming the holder" 'Pod/default/s1' "$(plumbd_status_line default/s2)"
assert_eq "the holder keeps its addresses" "$sref" "$(addrs "${P}s1")"
rm -f "$CONF/s2.yml"

# --- enabledad: DAD stays on for the pod's IPv6 address ---------------------
nad dad dad '{"type":"host-local","ranges":[[{"subnet":"fd00:256::/64"}]]}' '"enabledad":true' >"$CONF/dad.yml"
lab_netns "${P}dad"
lab_pod dad "${P}dad" '[{"name":"dad"}]' >"$CONF/dad-pod.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with an enabledad NAD exits 0" 0 "$rc"
a=$(ip -n "${P}dad" addr show dev net1 2>&1)
assert_match "enabledad pod has fd00:256::2" 'inet6 fd00:256::2/64' "$a"
assert_no_match "enabledad: no nodad flag" 'fd00:256::2/64 .*nodad' "$a"
assert_eq "enabledad: accept_dad left at 1" 1 \
    "$(ip netns exec "${P}dad" cat /proc/sys/net/ipv6/conf/net1/accept_dad 2>&1)"

lab_done
