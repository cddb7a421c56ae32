#!/bin/bash
# nmstate_verify: read-back verification after a policy (issue 6). Failures
# are forced with real kernel behaviour, not a test hook:
#  1. a new bridge asks for MTU 9000 with a port of MTU 1500: the kernel
#     accepts the bridge's MTU, then silently lowers it to its smallest
#     port's when the port joins. apply exits 1, the policy is Failing /
#     VerificationFailed naming `br-1.mtu`, the bridge is gone again and
#     the port released as it was, history shows the undone generation, and
#     the pinned revision is not retried until the file changes.
#  2. a converged bridge (MTU 1500) whose policy now raises its port's MTU:
#     only the port is written (its own read-back is fine), but the bridge
#     follows the port to 9000: the whole-policy comparison catches
#     `br-2.mtu: desired 1500, current 9000` and the port's MTU goes back.
#  3. allow-extra-address: false with an address plumbd did not add: plumbd
#     removes it and the read-back passes; with the default (true) it stays.
#  4. the daemon: a file dropped in with case 1 for another bridge is
#     rolled back the same way (read back from the event-fed snapshot), and
#     not retried.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_netns "$NODE" && lab_netns "$PEER" && lab_wire "$NODE" ens19 "$PEER" eth0 &&
    lab_wire "$NODE" ens20 "$PEER" eth1 && lab_wire "$NODE" ens21 "$PEER" eth2 &&
    lab_wire "$NODE" ens22 "$PEER" eth3 ||
    { not_ok lab "could not build the lab"; exit 1; }

mtu_of() { ip -n "$NODE" -o link show dev "$1" 2>/dev/null | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
master_of() { ip -n "$NODE" -o link show dev "$1" 2>/dev/null | sed -n 's/.* master \([^ ]*\) .*/\1/p'; }
status_msg() { plumbd_run status 2>/dev/null | awk -v n="$1" 'NR > 1 && $2 == n'; }

# ---- 1. a bridge whose MTU the kernel lowers to its port's ----------------
cat >"$CONF/jumbo.yml" <<'Y'
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: jumbo
spec:
  desiredState:
    interfaces:
    - name: br-1
      type: linux-bridge
      state: up
      mtu: 9000
      bridge:
        options:
          stp:
            enabled: false
        port:
        - name: ens19
Y
before=$(ip -n "$NODE" -d -o link show dev ens19 | sed 's/ qlen [0-9]*//')
t0=$(date +%s%N)
out=$(plumbd_run -v apply 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "bridge MTU lowered by the kernel: apply exits 1" 1 "$rc"
assert_eq "jumbo is Failing" Failing "$(plumbd_status_field jumbo 3)"
assert_eq "jumbo's reason is VerificationFailed" VerificationFailed "$(plumbd_status_field jumbo 4)"
assert_match "the status names the attribute: br-1.mtu: desired 9000, current 1500" \
    'br-1\.mtu: desired 9000, current 1500' "$(status_msg jumbo)"
assert_match "the status says the changes were rolled back" 'rolled back' "$(status_msg jumbo)"
n=$(printf '%s\n' "$out" | grep -c 'read-back differs')
assert_eq "read back 5 times before failing (4 retries logged, $ms ms)" 4 "$n"
if link_absent "$NODE" br-1; then ok "br-1 created by the generation is gone again"
else not_ok "br-1 created by the generation is gone again" "$(ip -n "$NODE" -o link show dev br-1)"; fi
assert_eq "ens19 is back as it was (no master, mtu 1500, up)" "$before" \
    "$(ip -n "$NODE" -d -o link show dev ens19 | sed 's/ qlen [0-9]*//')"
gen=$(hist_gen newest id)
assert_eq "history: the newest generation failed" failed "$(hist_gen newest outcome)"
ops=$(hist_ops "$gen")
assert_match "history: the bridge creation was undone" '^[0-9]+ undone ' "$ops"
assert_no_match "history: no op of the generation stayed done" '^[0-9]+ done ' "$ops"
assert_match "history lists the generation with jumbo" "jumbo" "$(plumbd_run history 2>&1 | head -n 3)"

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "pinned: a second apply exits 1" 1 "$rc"
assert_match "pinned: a second apply does not retry" 'applied 0 operations, 0 netlink writes' "$out"
assert_match "pinned: the status says so" 'pinned until its file changes' "$(status_msg jumbo)"
expect_fail "pinned: br-1 still absent" link_exists "$NODE" br-1

# The file changes (MTU the port can carry): the new revision applies.
sed -i 's/mtu: 9000/mtu: 1500/' "$CONF/jumbo.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "fixed revision: apply exits 0" 0 "$rc"
assert_eq "fixed revision: Available" Available "$(plumbd_status_field jumbo 3)"
assert_eq "fixed revision: ens19 is a port of br-1" br-1 "$(master_of ens19)"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "converged: exit 0, zero netlink writes" "0:0" "$rc:$(apply_writes "$out")"

# ---- 2. a port's MTU drags the bridge along --------------------------------
cat >"$CONF/follow.yml" <<'Y'
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: follow
spec:
  desiredState:
    interfaces:
    - name: br-2
      type: linux-bridge
      state: up
      mtu: 1500
      description: follows its port
      bridge:
        port:
        - name: ens20
Y
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "br-2 at MTU 1500: apply exits 0" 0 "$rc"
assert_eq "br-2 at MTU 1500: Available" Available "$(plumbd_status_field follow 3)"
cat >>"$CONF/follow.yml" <<'Y'
    - name: ens20
      type: ethernet
      state: up
      mtu: 9000
Y
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "port MTU 9000 under br-2 MTU 1500: apply exits 1" 1 "$rc"
assert_match "the generation's only op was the port's, undone" '^[0-9]+ undone link-set ens20$' \
    "$(hist_ops "$(hist_gen newest id)")"
assert_eq "the generation had 1 op" 1 "$(hist_ops "$(hist_gen newest id)" | wc -l)"
assert_eq "follow is Failing VerificationFailed" "Failing VerificationFailed" \
    "$(plumbd_status_field follow 3) $(plumbd_status_field follow 4)"
assert_match "the whole-policy read-back names br-2.mtu: desired 1500, current 9000" \
    'br-2\.mtu: desired 1500, current 9000' "$(status_msg follow)"
assert_eq "ens20 is back at MTU 1500" 1500 "$(mtu_of ens20)"
assert_eq "br-2 is back at MTU 1500" 1500 "$(mtu_of br-2)"
assert_eq "ens20 is still a port of br-2 (the last good revision stays)" br-2 "$(master_of ens20)"
out=$(plumbd_run apply 2>&1)
assert_match "pinned: not retried" 'applied 0 operations, 0 netlink writes' "$out"
head -n -4 "$CONF/follow.yml" >"$LAB_TMP/f" && cat "$LAB_TMP/f" >"$CONF/follow.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "back to the first revision: exit 0, Available" "0 Available" "$rc $(plumbd_status_field follow 3)"

# ---- 3. allow-extra-address -------------------------------------------------
ip -n "$NODE" addr add 10.8.0.1/24 dev ens21   # not plumbd's
cat >"$CONF/strict.yml" <<'Y'
apiVersion: nmstate.io/v1
kind: NodeNetworkConfigurationPolicy
metadata:
  name: strict
spec:
  desiredState:
    interfaces:
    - name: ens21
      type: ethernet
      state: up
      ipv4:
        enabled: true
        allow-extra-address: false
        address:
        - ip: 10.9.0.1
          prefix-length: 24
Y
out=$(plumbd_run apply 2>&1); rc=$?
# plumbd removes the address the list does not name (nmstate's meaning), so
# the read-back finds exactly the list
assert_eq "allow-extra-address: false: apply exits 0" 0 "$rc"
assert_eq "strict is Available" Available "$(plumbd_status_field strict 3)"
expect "ens21 has the policy's 10.9.0.1/24" has_addr "$NODE" ens21 10.9.0.1/24
expect_fail "the address the list does not name was removed" has_addr "$NODE" ens21 10.8.0.1/24
ip -n "$NODE" addr add 10.8.0.1/24 dev ens21   # back by hand
expect "validate accepts allow-extra-address without a warning" \
    sh -c '! "$1" validate "$2" 2>&1 | grep -q "allow-extra-address"' sh "$PLUMBD" "$CONF/strict.yml"
sed -i '/allow-extra-address/d' "$CONF/strict.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "default (extra addresses tolerated): apply exits 0" 0 "$rc"
expect "ens21 has 10.9.0.1/24" has_addr "$NODE" ens21 10.9.0.1/24
expect "ens21 keeps 10.8.0.1/24" has_addr "$NODE" ens21 10.8.0.1/24

# ---- 4. the daemon -------------------------------------------------------------
plumbd_daemon
wait_for 10 status_is strict Available || not_ok "daemon started" "strict not Available"
gens=$(hist_gen newest id)
sed -e 's/name: jumbo/name: jumbo3/' -e 's/br-1/br-3/' -e 's/ens19/ens22/' -e 's/mtu: 1500/mtu: 9000/' \
    "$CONF/jumbo.yml" >"$LAB_TMP/jumbo3.yml" && mv "$LAB_TMP/jumbo3.yml" "$CONF/jumbo3.yml"
if wait_for 15 status_is jumbo3 Failing; then ok "daemon: jumbo3 is Failing"
else not_ok "daemon: jumbo3 is Failing" "$(status_msg jumbo3)" "$DAEMON_LOG"; fi
assert_eq "daemon: reason VerificationFailed" VerificationFailed "$(plumbd_status_field jumbo3 4)"
assert_match "daemon: the status names br-3.mtu" 'br-3\.mtu: desired 9000, current 1500' "$(status_msg jumbo3)"
expect_fail "daemon: br-3 is gone again" link_exists "$NODE" br-3
assert_eq "daemon: ens22 released" "" "$(master_of ens22)"
g1=$(hist_gen newest id)
sleep 2
assert_eq "daemon: the pinned revision is not retried (no new generation in 2 s)" "$g1" "$(hist_gen newest id)"
[ "$g1" != "$gens" ] || not_ok "daemon: a generation was recorded" "newest still $gens"

lab_done
