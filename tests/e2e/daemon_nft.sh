#!/bin/bash
# daemon_nft: the running daemon keeps plumbd's nftables tables in step with
# the pods by adding and deleting set elements (macspoofchk ports and MACs,
# ipMasq addresses): pods that come and go change their own elements, the
# tables are not replaced (their handles stay), spoof checks still hold for
# a pod added that way, and a table that must appear or go is replaced.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml"
cat >"$CONF/masq-net.yml" <<'EOF'
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: masq-net
  namespace: default
spec:
  config: '{"cniVersion":"0.3.1","name":"masq-net","type":"bridge","bridge":"br-1","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.88.0.0/24"}}'
EOF
for p in a b c m1 m2; do lab_netns "${P}$p" || { not_ok lab "no netns $p"; exit 1; }; done

drop_pod() { # NAME NAD [IP]
    local ann="[{\"name\":\"$2\"${3:+,\"ips\":[\"$3\"]}}]"
    lab_pod "$1" "${P}$1" "$ann" >"$CONF/.$1.tmp" && mv "$CONF/.$1.tmp" "$CONF/$1.yml"
}
nftn() { ip netns exec "$NODE" nft "$@" 2>&1; }
handle_of() { # FAMILY TABLE -> the table's handle (a new one each time it is made), or nothing
    nftn -a list table "$1" "$2" | sed -n '1s/^table .* { # handle \([0-9][0-9]*\)$/\1/p'
}
host_of() { # POD -> its host veth (from the inventory)
    sql "SELECT host_if FROM attachments WHERE owner = 'Pod/default/$1'" 2>/dev/null
}
# (the listing is read whole first: with pipefail, grep -q leaving early would
# fail the pipeline when nft gets SIGPIPE)
port_listed() { local l; l=$(nftn list set bridge plumbd ports); [[ $l == *"\"$1\""* ]]; }
# pod_listed POD : its host veth is in the set (the inventory row that names
# the veth is written at the end of the pass that made it: asked each time)
pod_listed() { local h; h=$(host_of "$1"); [ -n "$h" ] && port_listed "$h"; }

drop_pod a linux-bridge-br-1 192.168.255.21/24
plumbd_daemon
if wait_for 15 has_addr "${P}a" net1 192.168.255.21/24; then
    ok "daemon attached pod a"
else
    not_ok "daemon attached pod a" "no address" "$DAEMON_LOG"
fi
wait_for 5 pod_listed a
h0=$(handle_of bridge plumbd)
[ -n "$h0" ] && ok "table bridge plumbd installed (handle $h0)" || not_ok "table bridge plumbd installed" "$(nftn list tables)"

# --- pods come: their elements are added, the table stays --------------------------
drop_pod b linux-bridge-br-1 192.168.255.22/24
drop_pod c linux-bridge-br-1 192.168.255.23/24
wait_for 15 has_addr "${P}c" net1 192.168.255.23/24 && wait_for 15 has_addr "${P}b" net1 192.168.255.22/24
both_listed() { pod_listed b && pod_listed c; }
if wait_for 10 both_listed; then
    ok "pods b and c: their host veths are in the ports set"
else
    not_ok "pods b and c in the ports set" "$(host_of b) $(host_of c) missing" <(nftn list table bridge plumbd)
fi
hb=$(host_of b) hc=$(host_of c)
macb=$(ip -n "${P}b" -o link show net1 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
assert_match "pod b's MAC and port are allowed" "$macb \\. \"$hb\"" "$(nftn list set bridge plumbd allowed)"
assert_eq "the table was changed in place, not replaced (same handle)" "$h0" "$(handle_of bridge plumbd)"
expect "pod b (added as set elements) answers the peer" \
    ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 192.168.255.22

# macspoofchk holds for the pod added as elements: a frame with another source
# MAC is dropped. The daemon is stopped meanwhile, so it does not put the MAC back.
kill -STOP "$DAEMON_PID"
ip -n "${P}b" link set net1 address 02:00:00:00:00:99
expect_fail "pod b with a spoofed MAC does not answer the peer" \
    ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 192.168.255.22
ip -n "${P}b" link set net1 address "$macb"
kill -CONT "$DAEMON_PID"
expect "pod b with its own MAC answers again" \
    ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 192.168.255.22

# --- a pod goes: its elements go, the others stay ----------------------------------
rm -f "$CONF/b.yml"
if wait_for 15 bash -c "! ip netns exec $NODE nft list set bridge plumbd ports | grep -q '\"$hb\"'"; then
    ok "pod b removed: its port left the set"
else
    not_ok "pod b removed: its port left the set" "still listed" <(nftn list table bridge plumbd)
fi
assert_no_match "pod b removed: its MAC left the allowed set" "\"$hb\"" "$(nftn list set bridge plumbd allowed)"
ha=$(host_of a)
port_listed "$ha" && port_listed "$hc" && ok "pods a and c stay in the set" ||
    not_ok "pods a and c stay in the set" "a=$ha c=$hc" <(nftn list table bridge plumbd)
assert_eq "still the same table (handle)" "$h0" "$(handle_of bridge plumbd)"
expect "pod c answers the peer" ip netns exec "$PEER" ping -c 2 -W 1 -i 0.2 192.168.255.23

# --- ipMasq: the first masqueraded pod brings the nat table; the second is an element
drop_pod m1 masq-net 10.88.0.11/24
if wait_for 15 bash -c "ip netns exec $NODE nft list set inet plumbd-nat m4_0 2>/dev/null | grep -q 10.88.0.11"; then
    ok "first masqueraded pod: table inet plumbd-nat with its address"
else
    not_ok "first masqueraded pod: nat table" "no element" <(nftn list ruleset)
fi
hn=$(handle_of inet plumbd-nat)
drop_pod m2 masq-net 10.88.0.12/24
if wait_for 15 bash -c "ip netns exec $NODE nft list set inet plumbd-nat m4_0 | grep -q 10.88.0.12"; then
    ok "second masqueraded pod: its address added to set m4_0"
else
    not_ok "second masqueraded pod: its address added" "missing" <(nftn list ruleset)
fi
assert_eq "the nat table was changed in place (same handle)" "$hn" "$(handle_of inet plumbd-nat)"
rm -f "$CONF/m1.yml"
if wait_for 15 bash -c "! ip netns exec $NODE nft list set inet plumbd-nat m4_0 | grep -q '10.88.0.11'"; then
    ok "pod m1 removed: its address left set m4_0"
else
    not_ok "pod m1 removed: its address left set m4_0" "still there" <(nftn list ruleset)
fi
assert_match "pod m2's address stays" '10\.88\.0\.12' "$(nftn list set inet plumbd-nat m4_0)"

# --- another process changed the tables: the daemon's memory is stale ------------
# With the daemon stopped, pod c's file goes and `plumbd apply --standalone`
# from the CLI (not handed to the daemon) detaches it and rewrites the tables. The daemon then sees the change; what it
# remembers still lists c, so it must re-read rather than patch.
# (stopped between two passes: one stopped inside a pass holds the state
# lock, and the CLI would wait for it for ever)
stop_between_passes() {
    local i
    for i in $(seq 50); do
        kill -STOP "$DAEMON_PID"
        flock -n "$STATE/lock" true && return 0
        kill -CONT "$DAEMON_PID"
        sleep 0.1
    done
    return 1
}
stop_between_passes || not_ok "daemon stopped between two passes" "it always held the state lock"
rm -f "$CONF/c.yml"
plumbd_run --standalone apply >/dev/null 2>&1
kill -CONT "$DAEMON_PID"
drop_pod b linux-bridge-br-1 192.168.255.22/24
wait_for 15 has_addr "${P}b" net1 192.168.255.22/24
if wait_for 10 pod_listed b; then
    ok "after another process's apply the daemon adds pod b"
else
    not_ok "after another process's apply the daemon adds pod b" "missing" <(nftn list table bridge plumbd)
fi
assert_no_match "pod c (detached by the CLI) is not in the set" "\"$hc\"" "$(nftn list set bridge plumbd ports)"
port_listed "$ha" && ok "pod a still in the set" || not_ok "pod a still in the set" "a=$ha" <(nftn list table bridge plumbd)
assert_no_match "daemon log: no failed nftables change" 'cannot install|level=error' "$(cat "$DAEMON_LOG")"

# --- the last pods go: the tables go ------------------------------------------------
rm -f "$CONF/a.yml" "$CONF/b.yml" "$CONF/m2.yml"
if wait_for 15 bash -c "! ip netns exec $NODE nft list tables | grep -q 'plumbd'"; then
    ok "no pod asks for macspoofchk or ipMasq: both tables gone"
else
    not_ok "both tables gone" "still there" <(nftn list tables)
fi
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "exited" "$DAEMON_LOG"
lab_done
