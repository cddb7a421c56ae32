#!/bin/bash
# nmstate_routes: routes.config of nmstate files (tests/nmstate/routes-*.yml)
# applied to a lab node: main table, table-id, IPv6, preferred source,
# blackhole/unreachable/prohibit; a second apply writes nothing; traffic
# through a route to a subnet only the peer has; `show` fed back plans
# nothing; drift repaired by the daemon; the absent wildcard; Pending for a
# missing next-hop interface; removal and rollback (issue 6).
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
CORPUS=$LAB_ROOT/tests/nmstate
lab_netns "$NODE" && lab_netns "$PEER" && lab_wire "$NODE" ens19 "$PEER" eth0 ||
    { not_ok lab "could not build the lab"; exit 1; }
ip -n "$NODE" addr add 192.0.2.1/24 dev ens19
ip -n "$NODE" addr add 2001:db8:1::1/64 dev ens19 nodad
ip -n "$PEER" addr add 192.0.2.2/24 dev eth0
ip -n "$PEER" addr add 2001:db8:1::2/64 dev eth0 nodad
ip -n "$PEER" addr add 198.51.100.1/32 dev lo   # a subnet only the peer has
# foreign routes: plumbd never added them
ip -n "$NODE" route add 10.70.0.0/16 via 192.0.2.2 dev ens19
ip -n "$NODE" route add 10.71.0.0/16 via 192.0.2.2 dev ens19 table 100

routes4() { ip -n "$NODE" -4 route show table all 2>&1 | grep -v ' table local ' ; }
routes6() { ip -n "$NODE" -6 route show table all 2>&1 | grep -v ' table local ' ; }
has_route() { grep -qE -- "$1" <<<"$(routes4)"; }
route_gone() { ! has_route "$1"; }
owned_count() { sql 'SELECT count(*) FROM owned_routes'; }

cp "$CORPUS/routes-basic.yml" "$CORPUS/routes-policy-v6.yml" "$CONF/"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
r4=$(routes4); r6=$(routes6)
assert_match "198.51.100.0/24 via 192.0.2.2 metric 150 (main)" '^198\.51\.100\.0/24 via 192\.0\.2\.2 dev ens19 proto static metric 150' "$r4"
assert_match "203.0.113.0/24 in table 100" '^203\.0\.113\.0/24 via 192\.0\.2\.2 dev ens19 table 100 proto static' "$r4"
assert_match "10.68.0.0/16 with preferred source 192.0.2.1" '^10\.68\.0\.0/16 via 192\.0\.2\.2 dev ens19 proto static src 192\.0\.2\.1' "$r4"
assert_match "blackhole 10.66.0.0/16 in table 100" '^blackhole 10\.66\.0\.0/16 table 100 proto static' "$r4"
assert_match "unreachable 10.67.0.0/16 (main)" '^unreachable 10\.67\.0\.0/16 proto static' "$r4"
assert_match "IPv6 2001:db8:99::/64 via 2001:db8:1::2 metric 1024" '^2001:db8:99::/64 via 2001:db8:1::2 dev ens19 proto static metric 1024' "$r6"
assert_match "prohibit 2001:db8:98::/64 metric 300" '^prohibit 2001:db8:98::/64 dev lo proto static metric 300' "$r6"
assert_eq "7 routes owned" 7 "$(owned_count)"
assert_eq "policies Available" "Available Available" \
    "$(plumbd_status_field routes-basic.yml 3) $(plumbd_status_field routes-v6 3)"
expect "node pings 198.51.100.1 through the route" ip netns exec "$NODE" ping -c 1 -w 3 198.51.100.1

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "second apply: exit 0, zero netlink writes" "0:0" "$rc:$(apply_writes "$out")"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan after apply is empty" "0:" "$rc:$(plan_ops "$out")"

# ---- show: routes in nmstate format, fed back plans nothing ---------------
show=$(plumbd_run show 2>/dev/null)
assert_match "show: table-id 100" 'table-id: 100' "$show"
assert_match "show: route-type blackhole" 'route-type: blackhole' "$show"
assert_match "show: metric 150" 'metric: 150' "$show"
assert_match "show: source 192.0.2.1" 'source: "?192.0.2.1' "$show"
mkdir -p "$LAB_TMP/conf2" "$LAB_TMP/state2"
printf '%s\n' "$show" >"$LAB_TMP/conf2/show.yaml"
out=$("$PLUMBD" --config-dir "$LAB_TMP/conf2" --state-dir "$LAB_TMP/state2" --netns "$NODE" \
    --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" plan 2>"$LAB_TMP/plan2.err"); rc=$?
if [ "$rc" = 0 ] && [ -z "$(plan_ops "$out")" ]; then ok "show fed back plans zero operations"
else not_ok "show fed back plans zero operations" "plan exited $rc"; printf '%s\n' "$out" | head | sed 's/^/#   /'; fi

# ---- Pending: next-hop-interface missing ----------------------------------
cp "$CORPUS/routes-pending.yml" "$CONF/"
out=$(plumbd_run apply 2>&1)
assert_eq "missing next-hop-interface: Pending NextHopInterfaceMissing" "Pending NextHopInterfaceMissing" \
    "$(plumbd_status_field routes-pending 3) $(plumbd_status_field routes-pending 4)"
rm -f "$CONF/routes-pending.yml"

# ---- drift: the daemon puts back a route deleted by hand -------------------
plumbd_daemon
wait_for 10 status_is routes-basic.yml Available
sleep 1
ip -n "$NODE" route del 198.51.100.0/24 table main
ip -n "$NODE" route del 203.0.113.0/24 table 100
if wait_for 10 has_route '^198\.51\.100\.0/24 via 192\.0\.2\.2 dev ens19 proto static metric 150' &&
   wait_for 10 has_route '^203\.0\.113\.0/24 via .* table 100'; then
    ok "daemon repaired deleted routes (main and table 100)"
else
    not_ok "daemon repaired deleted routes" "still missing" "$DAEMON_LOG"
fi
kill -TERM "$DAEMON_PID"; wait_for 5 proc_gone "$DAEMON_PID"
lab_untrack_pid "$DAEMON_PID" 2>/dev/null

# ---- absent wildcard --------------------------------------------------------
cp "$CORPUS/routes-absent-table100.yml" "$CONF/"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "absent wildcard apply exits 0" 0 "$rc"
r4=$(routes4)
assert_no_match "foreign 10.71.0.0/16 via ens19 in table 100 removed" '^10\.71\.0\.0/16' "$r4"
assert_match "203.0.113.0/24 (wanted by a present entry) kept" '^203\.0\.113\.0/24 .*table 100' "$r4"
assert_match "blackhole in table 100 (no next-hop-interface) kept" '^blackhole 10\.66\.0\.0/16 table 100' "$r4"
assert_match "foreign 10.70.0.0/16 in main kept" '^10\.70\.0\.0/16 via' "$r4"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "absent: second apply writes nothing" "0:0" "$rc:$(apply_writes "$out")"

# ---- rollback of the absent generation puts the foreign route back --------
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback exits 0" 0 "$rc"
assert_match "rollback restored foreign 10.71.0.0/16 in table 100" '^10\.71\.0\.0/16 via 192\.0\.2\.2 dev ens19 table 100' "$(routes4)"
assert_eq "restored foreign route is not owned" 7 "$(owned_count)"
rm -f "$CONF/routes-absent-table100.yml"

# ---- removing the policies removes what they added, nothing else ----------
rm -f "$CONF/routes-basic.yml" "$CONF/routes-policy-v6.yml"
out=$(plumbd_run --allow-empty apply 2>&1); rc=$?
assert_eq "apply after removal exits 0" 0 "$rc"
r4=$(routes4); r6=$(routes6)
assert_no_match "owned IPv4 routes removed" '^(198\.51\.100\.0/24|203\.0\.113\.0/24|10\.68\.0\.0/16|blackhole|unreachable)' "$r4"
assert_no_match "owned IPv6 routes removed" '2001:db8:9[89]::' "$r6"
assert_match "foreign routes kept" '^10\.70\.0\.0/16 via' "$r4"
assert_match "foreign route in table 100 kept" '^10\.71\.0\.0/16 via' "$r4"
assert_eq "inventory of routes empty" 0 "$(owned_count)"
expect_fail "198.51.100.1 unreachable without the route" ip netns exec "$NODE" ping -c 1 -W 1 198.51.100.1

# ---- rollback of the removal puts them back ---------------------------------
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback of the removal exits 0" 0 "$rc"
r4=$(routes4); r6=$(routes6)
assert_match "rollback: 198.51.100.0/24 back" '^198\.51\.100\.0/24 via 192\.0\.2\.2 dev ens19 proto static metric 150' "$r4"
assert_match "rollback: blackhole in table 100 back" '^blackhole 10\.66\.0\.0/16 table 100' "$r4"
assert_match "rollback: IPv6 route back" '^2001:db8:99::/64 via 2001:db8:1::2' "$r6"
assert_eq "rollback: routes owned again" 7 "$(owned_count)"
expect "node pings 198.51.100.1 again" ip netns exec "$NODE" ping -c 1 -w 3 198.51.100.1

lab_done
