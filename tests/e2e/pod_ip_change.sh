#!/bin/bash
# pod_ip_change: a pod whose requested IP changes keeps its veth: the
# address is changed in place (same ifindex, link never down), the old one
# is gone, the default route is back, traffic reaches the new address, and
# a rollback puts the old address back the same way. A change of MAC still
# replaces the pair (new ifindex). Run with `plumbd apply`, then under the
# daemon.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
POD_NS=${P}ipchg
lab_netns "$POD_NS"

pod_file() { # IP MAC
    lab_pod ipchg "/run/netns/$POD_NS" \
        "[{\"name\":\"linux-bridge-br-1\",\"ips\":[\"$1/24\"],\"mac\":\"$2\"}]" >"$CONF/.ipchg.tmp" &&
        mv "$CONF/.ipchg.tmp" "$CONF/ipchg.yml"
}
ifindex() { ip -n "$POD_NS" -o link show net1 2>/dev/null | cut -d: -f1; }
addrs() { ip -n "$POD_NS" -4 -o addr show dev net1 2>/dev/null | awk '{print $4}' | sort | tr '\n' ' '; }
defroute() { ip -n "$POD_NS" -4 route show default 2>/dev/null; }

pod_file 192.168.255.120 c2:b0:57:00:00:01
plumbd_run apply >/dev/null 2>&1 # the seed policy's DHCP lease stays pending: not 0
idx0=$(ifindex)
assert_eq "net1 has 192.168.255.120/24" "192.168.255.120/24 " "$(addrs)"
expect "peer reaches 192.168.255.120" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.120

# --- a new requested IP: in place ------------------------------------------------
pod_file 192.168.255.121 c2:b0:57:00:00:01
plumbd_run apply >/dev/null 2>&1
assert_eq "same net1 (ifindex $idx0) after the IP change" "$idx0" "$(ifindex)"
assert_eq "net1 has only 192.168.255.121/24" "192.168.255.121/24 " "$(addrs)"
assert_match "default route via the gateway again" '^default via 192\.168\.255\.254 dev net1' "$(defroute)"
expect "peer reaches 192.168.255.121" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.121
expect_fail "old address 192.168.255.120 no longer answers" ip netns exec "$PEER" ping -c 1 -W 1 192.168.255.120
held() { sqlite3 "$STATE/plumbd.db" "SELECT ip FROM ipam_allocations WHERE owner='Pod/default/ipchg'" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
assert_eq "IPAM: the pod holds 192.168.255.121 only (the old one released)" "192.168.255.121" "$(held)"
assert_match "status Available" '^Available$' "$(plumbd_status_field default/ipchg 3)"
out=$(plumbd_run apply 2>&1)
assert_eq "a second apply writes nothing" 0 "$(apply_writes "$out")"

# --- rollback of that generation: the old address, in place too ---------------
out=$(plumbd_run rollback 2>&1) || not_ok "rollback" "$out"
assert_eq "same net1 after the rollback" "$idx0" "$(ifindex)"
assert_eq "net1 has 192.168.255.120/24 back" "192.168.255.120/24 " "$(addrs)"
expect "peer reaches 192.168.255.120 again" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.120
assert_eq "IPAM after the rollback: 192.168.255.120 only" "192.168.255.120" "$(held)"

# --- a new MAC: the pair is replaced -----------------------------------------------
pod_file 192.168.255.122 c2:b0:57:00:00:02
plumbd_run apply >/dev/null 2>&1
idx1=$(ifindex)
[ -n "$idx1" ] && [ "$idx1" != "$idx0" ] && ok "a new MAC replaces the pair (ifindex $idx0 -> $idx1)" ||
    not_ok "a new MAC replaces the pair" "ifindex $idx0 -> ${idx1:-none}"
assert_match "net1 has the new MAC" 'c2:b0:57:00:00:02' "$(ip -n "$POD_NS" link show net1 2>/dev/null)"
assert_eq "net1 has 192.168.255.122/24" "192.168.255.122/24 " "$(addrs)"
expect "peer reaches 192.168.255.122" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.122

# --- under the daemon: the link stays up through the change ------------------------
plumbd_daemon
wait_for 10 status_is default/ipchg Available || not_ok "daemon: pod Available" "$(plumbd_status_line default/ipchg)" "$DAEMON_LOG"
ip -n "$POD_NS" monitor link >"$LAB_TMP/monitor.log" 2>&1 &
MON=$!
lab_track_pid "$MON"
sleep 0.3
pod_file 192.168.255.123 c2:b0:57:00:00:02
addrs_are() { [ "$(addrs)" = "$1" ]; }
if wait_for 10 addrs_are "192.168.255.123/24 "; then
    ok "daemon: the new IP in place (192.168.255.123/24 only)"
else
    not_ok "daemon: the new IP in place" "net1 has $(addrs)" "$DAEMON_LOG"
fi
sleep 0.3
kill "$MON" 2>/dev/null
assert_eq "daemon: same net1 after the change" "$idx1" "$(ifindex)"
assert_no_match "daemon: net1 was never deleted or down meanwhile" 'Deleted|state DOWN' "$(cat "$LAB_TMP/monitor.log")"
expect "peer reaches 192.168.255.123" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.123
lab_done
