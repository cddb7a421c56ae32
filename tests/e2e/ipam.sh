#!/bin/bash
# ipam: the short annotation form, host-local next-free allocation, and the
# refusals: a requested IP outside the subnet, a requested IP already held.
#
# The expected next-free addresses come from the reference CNI host-local
# plugin run on the same NAD config (differential test): with no `gateway`,
# host-local reserves the subnet's first address as gateway, so the first
# pod gets 192.168.255.2. Without the plugin the known answer is used.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml"

# --- what the reference host-local allocates first and second ----------------
ref1=192.168.255.2/24 ref2=192.168.255.3/24
if [ -x /usr/lib/cni/host-local ]; then
    hl() { # CONTAINER-ID
        printf '%s' '{"cniVersion":"0.3.1","name":"br-1","type":"bridge","ipam":{"type":"host-local","subnet":"192.168.255.0/24","dataDir":"'"$LAB_TMP/hl"'","routes":[{"dst":"0.0.0.0/0","gw":"192.168.255.254"}]}}' |
            CNI_COMMAND=ADD CNI_CONTAINERID=$1 CNI_NETNS=/proc/self/ns/net CNI_IFNAME=net1 \
                CNI_PATH=/usr/lib/cni /usr/lib/cni/host-local 2>/dev/null |
            sed -n 's/.*"address": *"\([^"]*\)".*/\1/p'
    }
    r1=$(hl c1) r2=$(hl c2)
    [ -n "$r1" ] && [ -n "$r2" ] && { ref1=$r1 ref2=$r2; }
    diag "reference host-local allocates $ref1 then $ref2"
fi

# --- short form, no ips: first free address ----------------------------------
lab_netns "${P}short"
lab_pod short "${P}short" 'default/linux-bridge-br-1@net2' >"$CONF/short.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a short-form pod exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
a=$(ip -n "${P}short" addr show net2 2>&1)
assert_match "short form default/linux-bridge-br-1@net2 gives net2" '^[0-9]+: net2' "$a"
assert_match "first pod without ips gets $ref1 (as host-local)" "inet ${ref1//./\\.} " "$a"
assert_match "IPAM route installed on net2" '^default via 192\.168\.255\.254 dev net2' \
    "$(ip -n "${P}short" route show 2>&1)"

# --- a second pod (JSON form, no ips) gets the next one ----------------------
lab_netns "${P}json"
lab_pod json "${P}json" '[{"name":"linux-bridge-br-1"}]' >"$CONF/json.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a second pod exits 0" 0 "$rc"
assert_match "second pod gets $ref2 on net1" "inet ${ref2//./\\.} " "$(ip -n "${P}json" addr show net1 2>&1)"
assert_match "first pod keeps $ref1" "inet ${ref1//./\\.} " "$(ip -n "${P}short" addr show net2 2>&1)"
assert_eq "two allocations recorded" \
    "$(printf '%s|Pod/default/json|net1\n%s|Pod/default/short|net2' "${ref2%/*}" "${ref1%/*}")" \
    "$(sql "SELECT ip, owner, ifname FROM ipam_allocations ORDER BY owner" 2>&1)"
expect "peer pings the second pod" ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 "${ref2%/*}"

out=$(plumbd_run apply 2>&1)
assert_eq "re-apply keeps the allocations and writes nothing" 0 "$(apply_writes "$out")"

# --- requested IP outside the subnet: Failing, nothing created --------------
lab_netns "${P}outside"
lab_pod outside "${P}outside" '[{"name":"linux-bridge-br-1","ips":["10.9.9.9/24"]}]' >"$CONF/outside.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with an out-of-subnet IP exits 1" 1 "$rc"
assert_eq "out-of-subnet pod is Failing" Failing "$(plumbd_status_field default/outside 3)"
assert_match "its message names the subnet" '192\.168\.255\.0/24' "$(plumbd_status_line default/outside)"
assert_eq "nothing created in its netns" "" "$(links_except_lo "${P}outside")"
assert_eq "no allocation for it" "" "$(sql "SELECT ip FROM ipam_allocations WHERE owner = 'Pod/default/outside'" 2>&1)"
assert_eq "the other pods stay Available" "Available Available" \
    "$(plumbd_status_field default/short 3) $(plumbd_status_field default/json 3)"
assert_eq "br-1 has only ens19 and the two pods' veths" 3 "$(bridge_ports "$NODE" br-1 | wc -l)"
rm -f "$CONF/outside.yml"

# --- requested IP held by another pod: Failing, naming the holder -----------
lab_netns "${P}taken"
lab_pod taken "${P}taken" "[{\"name\":\"linux-bridge-br-1\",\"ips\":[\"$ref1\"]}]" >"$CONF/taken.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a taken IP exits 1" 1 "$rc"
assert_eq "pod asking for a taken IP is Failing" Failing "$(plumbd_status_field default/taken 3)"
assert_match "its message names the holder" 'default/short' "$(plumbd_status_line default/taken)"
assert_eq "nothing created in its netns" "" "$(links_except_lo "${P}taken")"
assert_match "the holder keeps its address" "inet ${ref1//./\\.} " "$(ip -n "${P}short" addr show net2 2>&1)"
assert_eq "holder's allocation unchanged" "Pod/default/short" \
    "$(sql "SELECT owner FROM ipam_allocations WHERE ip = '${ref1%/*}'" 2>&1)"

# --- requested IP in the subnet and free: taken as asked -------------------
rm -f "$CONF/taken.yml"
lab_pod taken "${P}taken" '[{"name":"linux-bridge-br-1","ips":["192.168.255.77/24"],"interface":"data0"}]' >"$CONF/taken.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "after fixing the request, apply exits 0" 0 "$rc"
assert_match "requested interface name and IP used" 'inet 192\.168\.255\.77/24 ' "$(ip -n "${P}taken" addr show data0 2>&1)"
assert_eq "fixed pod is Available" Available "$(plumbd_status_field default/taken 3)"

lab_done
