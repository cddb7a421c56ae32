#!/bin/bash
# reconcile_foreign: kernel objects plumbd did not create survive every pass
# (one-shot apply, daemon passes, drift repair, removal of an address from the
# policy, removal of the policy): a foreign bridge, a foreign veth pair with an
# address, a foreign address on ens19 and on br-1 beside plumbd's own, a
# foreign port on br-1. Only plumbd's own things are removed (issue 3:
# "Interfaces, addresses and routes that no object names are never touched").
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
OURS=192.168.255.1/24
lab_bridge_policy linux-bridge-br1-ens19 br-1 addr=$OURS port=ens19 >"$CONF/linux-bridge-br1-ens19.yml"

# Foreign things created before plumbd ever runs.
ip -n "$NODE" link add foreign0 type bridge
ip -n "$NODE" link set foreign0 up
ip -n "$NODE" addr add 10.66.0.1/24 dev foreign0
ip -n "$NODE" link add fv0 type veth peer name fv1
ip -n "$NODE" link set fv0 up
ip -n "$NODE" link set fv1 up
ip -n "$NODE" addr add 10.77.0.1/24 dev fv0
ip -n "$NODE" link add fport0 type veth peer name fport1

# foreign_ok STAGE : assert that every foreign object is still there.
foreign_ok() {
    local st=$1
    assert_eq "$st: foreign bridge foreign0 still there" bridge \
        "$(ip -n "$NODE" -d -o link show dev foreign0 2>/dev/null | grep -o 'bridge ' | head -n 1 | tr -d ' ')"
    addr_present "$NODE" foreign0 10.66.0.1/24 && ok "$st: foreign0 keeps 10.66.0.1/24" ||
        not_ok "$st: foreign0 keeps 10.66.0.1/24" "gone"
    link_exists "$NODE" fv0 && link_exists "$NODE" fv1 && ok "$st: foreign veth pair fv0/fv1 still there" ||
        not_ok "$st: foreign veth pair fv0/fv1 still there" "gone"
    addr_present "$NODE" fv0 10.77.0.1/24 && ok "$st: fv0 keeps 10.77.0.1/24" ||
        not_ok "$st: fv0 keeps 10.77.0.1/24" "gone"
    link_exists "$NODE" fport0 && ok "$st: foreign port fport0 still there" ||
        not_ok "$st: foreign port fport0 still there" "gone"
}
# br1_foreign_ok STAGE : foreign address and port on br-1 kept beside ours.
br1_foreign_ok() {
    local st=$1
    addr_present "$NODE" br-1 10.88.0.1/24 && ok "$st: foreign address 10.88.0.1/24 on br-1 kept" ||
        not_ok "$st: foreign address 10.88.0.1/24 on br-1 kept" "gone: $(ip -n "$NODE" -o -4 addr show dev br-1 | awk '{print $4}' | tr '\n' ' ')"
    ip -n "$NODE" -o link show dev fport0 | grep 'master br-1 ' >/dev/null && ok "$st: foreign port fport0 kept on br-1" ||
        not_ok "$st: foreign port fport0 kept on br-1" "$(ip -n "$NODE" -o link show dev fport0 2>&1)"
}

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply exits 0" 0 "$rc"
foreign_ok "after apply"
ip -n "$NODE" addr add 10.88.0.1/24 dev br-1
ip -n "$NODE" link set fport0 master br-1 up
ip -n "$NODE" addr add 10.99.0.7/24 dev ens19

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "second apply exits 0" 0 "$rc"
assert_eq "second apply writes nothing (foreign things are not drift)" 0 "$(apply_writes "$out")"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan with foreign things beside ours is empty" "0:" "$rc:$(plan_ops "$out")"
foreign_ok "after a second apply"
br1_foreign_ok "after a second apply"

# --- daemon passes: start, a new file, a drift repair -------------------------
plumbd_daemon
sleep 1
lab_pod other "${P}other" '[{"name":"linux-bridge-br-1","ips":["192.168.255.101/24"]}]' >"$CONF/other.yml"
lab_netns "${P}other"
if wait_for 10 addr_present "${P}other" net1 192.168.255.101/24; then ok "daemon pass: second pod attached"
else not_ok "daemon pass: second pod attached" "no net1" "$DAEMON_LOG"; fi
ip -n "$NODE" addr del $OURS dev br-1
if wait_for 5 addr_present "$NODE" br-1 $OURS; then ok "daemon pass: our address on br-1 repaired"
else not_ok "daemon pass: our address on br-1 repaired" "not back after 5 s" "$DAEMON_LOG"; fi
sleep 0.5
foreign_ok "after daemon passes"
br1_foreign_ok "after daemon passes"
addr_present "$NODE" ens19 10.99.0.7/24 && ok "after daemon passes: foreign address on ens19 kept" ||
    not_ok "after daemon passes: foreign address on ens19 kept" "gone"

# --- our address replaced in the policy: only ours goes ------------------------
# (nmstate: an omitted address list means "keep"; a new list replaces ours.)
lab_bridge_policy linux-bridge-br1-ens19 br-1 addr=192.168.255.2/24 port=ens19 >"$CONF/.p.tmp" &&
    mv "$CONF/.p.tmp" "$CONF/linux-bridge-br1-ens19.yml"
if wait_for 5 addr_present "$NODE" br-1 192.168.255.2/24; then ok "address replaced in the policy: 192.168.255.2/24 added"
else not_ok "address replaced in the policy: 192.168.255.2/24 added" "not there after 5 s" "$DAEMON_LOG"; fi
if wait_for 5 eval "! addr_present $NODE br-1 $OURS"; then ok "address replaced in the policy: $OURS removed from br-1"
else not_ok "address replaced in the policy: $OURS removed from br-1" "still there after 5 s" "$DAEMON_LOG"; fi
br1_foreign_ok "after our address was replaced"

# --- the policy removed: br-1 goes, foreign things stay --------------------------
rm -f "$CONF/other.yml" "$CONF/multus-demo.yml"
sleep 0.5
rm -f "$CONF/linux-bridge-br1-ens19.yml"
if wait_for 5 link_absent "$NODE" br-1; then ok "policy removed: br-1 deleted"
else not_ok "policy removed: br-1 deleted" "still there after 5 s" "$DAEMON_LOG"; fi
sleep 0.5
foreign_ok "after the policy was removed"
ip -n "$NODE" -o link show dev ens19 | grep master >/dev/null && not_ok "policy removed: ens19 released" "still enslaved" ||
    ok "policy removed: ens19 released"
addr_present "$NODE" ens19 10.99.0.7/24 && ok "policy removed: foreign address on ens19 kept" ||
    not_ok "policy removed: foreign address on ens19 kept" "gone"
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"
kill -TERM "$DAEMON_PID"
wait_for 5 proc_gone "$DAEMON_PID"

# --- state: absent deletes an interface plumbd did not create ---------------
cat >"$CONF/absent.yml" <<EOY
interfaces:
  - name: foreign0
    state: absent
EOY
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "state: absent apply exits 0" 0 "$rc"
link_absent "$NODE" foreign0 && ok "state: absent deletes foreign0" || not_ok "state: absent deletes foreign0" "still there"
link_exists "$NODE" fv0 && addr_present "$NODE" fv0 10.77.0.1/24 && ok "state: absent leaves fv0 alone" ||
    not_ok "state: absent leaves fv0 alone" "gone"

lab_done
