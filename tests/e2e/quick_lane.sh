#!/bin/bash
# quick_lane: under the daemon, a file pass where one Pod document changed
# and nothing else did runs that pod's ops first ("quick lane", before the
# full pass). Checks what an operator sees: the new address in place and
# reachable, an interface renamed, a conflicting request refused by the full
# pass (the lane steps aside), a new pod attached; and the daemon's own
# check (PLUMBD_MEMO_CHECK=1, set by tests/run.sh) never found the lane's
# plan different from the full plan (it would have aborted).
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
export PLUMBD_MEMO_CHECK=1

pod() { # N NETWORKS-JSON : write pod pN (netns ${P}qN) atomically
    lab_pod "p$1" "/run/netns/${P}q$1" "$2" >"$CONF/.p$1.tmp" && mv "$CONF/.p$1.tmp" "$CONF/p$1.yml"
}
req() { echo "[{\"name\":\"linux-bridge-br-1\",\"ips\":[\"192.168.255.$1/24\"]${2:-}}]"; }
for i in 1 2 3 4 5; do lab_netns "${P}q$i" || { not_ok lab "netns q$i"; exit 1; }; done
pod 1 "$(req 61)"
pod 2 "$(req 62)"
pod 3 '[{"name":"linux-bridge-br-1"}]'
pod 4 '[{"name":"linux-bridge-br-1"}]'

export PLUMBD_LOG=debug
plumbd_daemon
unset PLUMBD_LOG
all_up() { for i in 1 2 3 4; do status_is "default/p$i" Available || return 1; done; }
wait_for 20 all_up || not_ok "daemon: four pods Available" "$(plumbd_run status 2>&1)" "$DAEMON_LOG"
quick_for() { grep -c "obj=Pod/default/$1 msg=\"quick lane: planned alone" "$DAEMON_LOG"; }
# The lane needs every other pod remembered as converged, which a pass with
# nothing to do records (a pod attached by the last pass is not yet): a
# touched file brings one about.
file_passes() { grep -c 'pass (file)' "$DAEMON_LOG"; }
passes_above() { [ "$(file_passes)" -gt "$1" ]; }
quiet_pass() {
    local n; n=$(file_passes)
    touch "$CONF/node.yml"
    wait_for 5 passes_above "$n" || not_ok "a pass after touching node.yml" "none" "$DAEMON_LOG"
}

# --- a new requested address: the quick lane ----------------------------------
quiet_pass
pod 2 "$(req 72)"
if wait_for 10 has_addr "${P}q2" net1 192.168.255.72/24; then
    ok "p2 has its new address 192.168.255.72/24"
else
    not_ok "p2 has its new address" "$(ip -n "${P}q2" -o addr show dev net1 2>&1)" "$DAEMON_LOG"
fi
wait_for 5 status_is default/p2 Available
assert_eq "p2's change took the quick lane" 1 "$(quick_for p2)"
# the watch named the one file written: the lane ran before the directory was read
hinted() { grep -c "quick lane ($CONF/p[0-9]*\.yml alone)" "$DAEMON_LOG"; }
assert_eq "the lane read p2.yml alone, before the directory" 1 "$(hinted)"
expect "peer reaches 192.168.255.72" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.72
expect_fail "192.168.255.62 no longer answers" ip netns exec "$PEER" ping -c 1 -W 1 192.168.255.62
assert_eq "IPAM: p2 holds 192.168.255.72 only" "192.168.255.72|net1" "$(alloc_of Pod/default/p2)"

# --- an interface renamed: detach net1, attach eth5, in the lane ----------------
quiet_pass
pod 4 '[{"name":"linux-bridge-br-1","interface":"eth5"}]'
if wait_for 10 link_exists "${P}q4" eth5 && wait_for 5 link_absent "${P}q4" net1; then
    ok "p4: eth5 attached, net1 gone"
else
    not_ok "p4: eth5 attached, net1 gone" "$(ip -n "${P}q4" -o link 2>&1)" "$DAEMON_LOG"
fi
wait_for 5 status_is default/p4 Available
assert_eq "p4's change took the quick lane" 1 "$(quick_for p4)"
a4=$(ip -n "${P}q4" -4 -o addr show dev eth5 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4 }')
assert_match "eth5 has an address of the network" '^192\.168\.255\.[0-9]+$' "$a4"
expect "peer reaches p4 at ${a4:-?} on eth5" ip netns exec "$PEER" ping -c 1 -w 3 "${a4:-0.0.0.0}"

# --- a renamed interface keeping its requested address: the old one is detached,
# then the new one gets the address in the pass that follows --------------------
pod 1 "$(req 61 ',"interface":"eth7"')"
if wait_for 10 has_addr "${P}q1" eth7 192.168.255.61/24 && wait_for 5 link_absent "${P}q1" net1; then
    ok "p1: eth7 has 192.168.255.61 (net1 detached first)"
else
    not_ok "p1: eth7 has 192.168.255.61" "$(ip -n "${P}q1" -o addr 2>&1; plumbd_status_line default/p1)" "$DAEMON_LOG"
fi
wait_for 5 status_is default/p1 Available || not_ok "p1 Available after the rename" "$(plumbd_status_line default/p1)" "$DAEMON_LOG"
expect "peer reaches p1 at 192.168.255.61 on eth7" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.61
assert_eq "IPAM: p1 holds 192.168.255.61 for eth7" "192.168.255.61|eth7" "$(alloc_of Pod/default/p1)"

# --- a request for an address another pod holds: refused (full pass) ------------
quiet_pass
pod 3 "$(req 61)"
if wait_for 10 status_is default/p3 Failing; then
    ok "p3 asking for p1's address is Failing"
else
    not_ok "p3 asking for p1's address is Failing" "$(plumbd_status_line default/p3)" "$DAEMON_LOG"
fi
assert_match "p3's reason is Conflict" 'Conflict' "$(plumbd_status_line default/p3)"
assert_eq "p3's conflicting change did not take the quick lane" 0 "$(quick_for p3)"
assert_eq "p1 keeps 192.168.255.61" "192.168.255.61|eth7" "$(alloc_of Pod/default/p1)"
expect "peer still reaches p1 at 192.168.255.61" ip netns exec "$PEER" ping -c 1 -w 3 192.168.255.61
pod 3 '[{"name":"linux-bridge-br-1"}]'
wait_for 10 status_is default/p3 Available || not_ok "p3 Available again" "$(plumbd_status_line default/p3)" "$DAEMON_LOG"

# --- two files written in one settle window: no file is "the" change, the lane
# steps aside, both pods converge in the full pass --------------------------------
quiet_pass
h0=$(hinted) q0=$(quick_for p2)
# (both written first, then renamed in back to back: within the settle window
# however slow the machine)
lab_pod p2 "/run/netns/${P}q2" "$(req 92)" >"$CONF/.p2.tmp"
lab_pod p4 "/run/netns/${P}q4" '[{"name":"linux-bridge-br-1","interface":"eth6"}]' >"$CONF/.p4.tmp"
mv "$CONF/.p2.tmp" "$CONF/p2.yml"; mv "$CONF/.p4.tmp" "$CONF/p4.yml"
if wait_for 10 has_addr "${P}q2" net1 192.168.255.92/24 && wait_for 10 link_exists "${P}q4" eth6; then
    ok "two files at once: p2 has .92, p4 has eth6"
else
    not_ok "two files at once" "$(ip -n "${P}q2" -o addr show dev net1 2>&1; ip -n "${P}q4" -o link 2>&1)" "$DAEMON_LOG"
fi
assert_eq "two files at once: the lane did not read one file alone" "$h0" "$(hinted)"
assert_eq "two files at once: no quick lane for p2" "$q0" "$(quick_for p2)"
pod 4 '[{"name":"linux-bridge-br-1","interface":"eth5"}]'
wait_for 10 link_exists "${P}q4" eth5 || not_ok "p4 back on eth5" "$(ip -n "${P}q4" -o link 2>&1)" "$DAEMON_LOG"

# --- a new pod: the full pass attaches it (its namespace is new to the daemon) --
drift_after_p5() { # a drift pass logged after p5's attach
    awk '/obj=Pod\/default\/p5 msg="pod-attach/ { seen = 1 } seen && /pass \(drift\)/ { n++ }
         END { exit !(n > 0) }' "$DAEMON_LOG"
}
pod 5 "$(req 65)"
if wait_for 10 has_addr "${P}q5" net1 192.168.255.65/24; then ok "new pod p5 attached"; else
    not_ok "new pod p5 attached" "$(plumbd_status_line default/p5)" "$DAEMON_LOG"; fi
# a pass that ran pods' ops is followed by one that remembers them converged
# (no file touched): the lane is open again after it
if wait_for 5 drift_after_p5; then ok "a pass follows the one that attached p5"; else
    not_ok "a pass follows the one that attached p5" "none" "$DAEMON_LOG"; fi
wait_for 5 status_is default/p5 Available

# --- the same edit twice in a row, back and forth, right after -------------------
# (each edit once the pass of the one before is over: the lane writes the
# address before that pass reads the directory, and an edit landing during
# the read voids it, rightly, and the next edit then takes the full pass)
file_passes() { grep -Ec 'msg="pass \(file\).* objects' "$DAEMON_LOG"; }
passes_above() { [ "$(file_passes)" -gt "$1" ]; }
for ip in 82 72 82; do
    n=$(file_passes)
    pod 2 "$(req $ip)"
    wait_for 10 has_addr "${P}q2" net1 "192.168.255.$ip/24" || not_ok "p2 back and forth to .$ip" "$(ip -n "${P}q2" -o addr show dev net1 2>&1)" "$DAEMON_LOG"
    wait_for 5 passes_above "$n"
done
assert_eq "p2 has exactly one IPv4 address" 1 "$(ip -n "${P}q2" -4 -o addr show dev net1 | wc -l)"
wait_for 5 status_is default/p2 Available
assert_eq "each of the three edits took the quick lane" 4 "$(quick_for p2)"
assert_eq "IPAM: p2 holds 192.168.255.82 only" "192.168.255.82|net1" "$(alloc_of Pod/default/p2)"

if proc_alive "$DAEMON_PID"; then ok "daemon alive: no plan differed from the full plan"; else
    not_ok "daemon alive" "exited" "$DAEMON_LOG"; fi
assert_no_match "no memo or lane mismatch logged" 'quick lane missed|plan memo:|validate memo:' "$(cat "$DAEMON_LOG")"
lab_done
