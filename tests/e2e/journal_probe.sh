#!/bin/bash
# journal_probe: probes after a policy (issue 4). The node reaches its default
# gateway (the peer, 192.168.255.11) through ens19; a policy that cuts it off
# is rolled back by the default-gateway probe (Aborted, ProbeFailed), the
# revision is pinned, and the peer still pings the node. A plumbd/probe
# annotation naming an unreachable target rolls back a harmless policy too.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF"/*.yml
ip -n "$NODE" link set ens19 up
ip -n "$NODE" addr add 192.168.255.5/24 dev ens19
ip -n "$NODE" route add default via 192.168.255.11
wait_for 5 ip netns exec "$NODE" ping -c 1 -W 1 192.168.255.11 >/dev/null ||
    { not_ok lab "node cannot reach its gateway before the test"; exit 1; }

cat >"$CONF/breaker.yml" <<'Y'
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: breaker
spec:
  desiredState:
    interfaces:
    - name: ens19
      type: ethernet
      state: down
Y
t0=$(date +%s%N)
out=$(plumbd_run --probe-timeout-s 2 apply 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "breaking policy: apply exits 1" 1 "$rc"
assert_eq "breaking policy is Aborted" Aborted "$(plumbd_status_field breaker 3)"
assert_eq "breaking policy's reason is ProbeFailed" ProbeFailed "$(plumbd_status_field breaker 4)"
assert_match "the status names the gateway" 'default gateway 192\.168\.255\.11' "$(plumbd_run status 2>&1)"
assert_match "ens19 is up again" '[<,]UP[,>]' "$(ip -n "$NODE" -o link show dev ens19)"
expect "the peer still pings the node (probe verdict in $ms ms)" \
    ip netns exec "$PEER" ping -c 1 -W 2 192.168.255.5
out=$(plumbd_run apply 2>&1)
assert_match "pinned: a second apply does not retry" 'applied 0 operations, 0 netlink writes' "$out"
assert_match "history: the generation failed" ' failed ' "$(plumbd_run history 2>&1)"

# The file changes: the pin is gone, the (harmless) new revision applies.
rm -f "$CONF/breaker.yml"
cat >"$CONF/probe.yml" <<'Y'
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: probed
  annotations:
    plumbd/probe: "ping 192.168.255.11, tcp 192.168.255.11:9"
spec:
  desiredState:
    interfaces:
    - name: br-9
      type: linux-bridge
      state: up
Y
out=$(plumbd_run --probe-timeout-s 1 apply 2>&1); rc=$?
assert_eq "annotation probe to a closed port: apply exits 1" 1 "$rc"
assert_eq "annotation probe failure: Aborted" Aborted "$(plumbd_status_field probed 3)"
assert_match "annotation probe failure names the probe" 'probe tcp 192\.168\.255\.11:9 failed' \
    "$(plumbd_run status 2>&1)"
assert_eq "the probed policy's bridge was rolled back" "" "$(ip -n "$NODE" -o link show dev br-9 2>/dev/null)"

sed -i 's/, tcp 192.168.255.11:9//' "$CONF/probe.yml"
out=$(plumbd_run --probe-timeout-s 2 apply 2>&1); rc=$?
assert_eq "reachable probe: apply exits 0" 0 "$rc"
assert_eq "reachable probe: Available" Available "$(plumbd_status_field probed 3)"
assert_match "br-9 exists" 'br-9' "$(ip -n "$NODE" -o link show dev br-9 2>&1)"

cat >"$CONF/bad.yml" <<'Y'
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: badprobe
  annotations:
    plumbd/probe: "traceroute 10.0.0.1"
spec:
  desiredState:
    interfaces: []
Y
out=$(plumbd_run validate "$CONF/bad.yml" 2>&1); rc=$?
assert_eq "malformed plumbd/probe: validate exits 1" 1 "$rc"
assert_match "malformed plumbd/probe is named" "bad\.yml:[0-9]+:[0-9]+: .*plumbd/probe" "$out"
lab_done
