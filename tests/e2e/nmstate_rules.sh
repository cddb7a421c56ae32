#!/bin/bash
# nmstate_rules: route-rules.config of a policy (tests/nmstate/rules-*.yml)
# applied to a lab node: IPv4 source/fwmark/iif+blackhole/prohibit rules and
# an IPv6 rule; a rule already there as listed is not owned; a second apply
# writes nothing; traffic steered by a rule into table 100; `show` fed back
# plans nothing; the absent wildcard by priority; drift repaired by the
# daemon; removal deletes only owned rules; rollback restores (issue 6).
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
CORPUS=$LAB_ROOT/tests/nmstate
lab_netns "$NODE" && lab_netns "$PEER" && lab_wire "$NODE" ens19 "$PEER" eth0 ||
    { not_ok lab "could not build the lab"; exit 1; }
ip -n "$NODE" addr add 192.0.2.1/24 dev ens19
ip -n "$NODE" addr add 10.1.0.1/32 dev lo
ip -n "$NODE" link set lo up
ip -n "$PEER" addr add 192.0.2.2/24 dev eth0
ip -n "$PEER" addr add 198.51.100.1/32 dev lo   # only reachable through table 100
ip -n "$PEER" link set lo up
ip -n "$PEER" route add 10.1.0.0/16 via 192.0.2.1
# foreign rules: plumbd never added them
ip -n "$NODE" rule add priority 500 from 10.50.0.0/16 lookup 100
ip -n "$NODE" rule add priority 600 fwmark 0x20 lookup 300
# already there exactly as listed: not touched, not owned
ip -n "$NODE" -6 rule add priority 1003 from 2001:db8:5::/64 to 2001:db8:6::/64 lookup 100

rules4() { ip -n "$NODE" -4 rule show 2>&1; }
rules6() { ip -n "$NODE" -6 rule show 2>&1; }
has_rule4() { grep -qE -- "$1" <<<"$(rules4)"; }
owned_count() { sql 'SELECT count(*) FROM owned_rules'; }
steered_ping() { ip netns exec "$NODE" ping -c 1 -W 2 -I 10.1.0.1 198.51.100.1; }

expect_fail "before: no route from 10.1.0.1 to 198.51.100.1" steered_ping
cp "$CORPUS/rules-basic.yml" "$CONF/"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
r4=$(rules4); r6=$(rules6)
assert_match "1000: from 10.1.0.0/16 lookup 100" '^1000:[[:space:]]+from 10\.1\.0\.0/16 lookup 100 proto static' "$r4"
assert_match "1001: fwmark 0x10 lookup 200" '^1001:[[:space:]]+from all fwmark 0x10 lookup 200 proto static' "$r4"
assert_match "1002: from 10.99.0.0/16 iif ens19 blackhole" '^1002:[[:space:]]+from 10\.99\.0\.0/16 iif ens19 blackhole proto static' "$r4"
assert_match "prohibit to 203.0.113.0/24 (kernel-chosen priority)" '^[0-9]+:[[:space:]]+from all to 203\.0\.113\.0/24 prohibit proto static' "$r4"
assert_match "IPv6 1003 rule there" '^1003:[[:space:]]+from 2001:db8:5::/64 to 2001:db8:6::/64 lookup 100' "$r6"
assert_match "kernel default rules kept" '^32766:[[:space:]]+from all lookup main' "$r4"
assert_eq "4 rules owned (the IPv6 one was already there)" 4 "$(owned_count)"
assert_eq "policy Available" "Available" "$(plumbd_status_field rules-basic 3)"
expect "rule 1000 steers pings from 10.1.0.1 via table 100" steered_ping

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "second apply: exit 0, zero netlink writes" "0:0" "$rc:$(apply_writes "$out")"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan after apply is empty" "0:" "$rc:$(plan_ops "$out")"

# ---- show: rules in nmstate format, fed back plans nothing -----------------
show=$(plumbd_run show 2>/dev/null)
assert_match "show: route-rules ip-from 10.1.0.0/16" 'ip-from: "?10\.1\.0\.0/16' "$show"
assert_match "show: action blackhole" 'action: blackhole' "$show"
assert_match "show: iif ens19" 'iif: ens19' "$show"
assert_no_match "show: no kernel default rule (32766)" 'priority: 32766' "$show"
mkdir -p "$LAB_TMP/conf2" "$LAB_TMP/state2"
printf '%s\n' "$show" >"$LAB_TMP/conf2/show.yaml"
out=$("$PLUMBD" --config-dir "$LAB_TMP/conf2" --state-dir "$LAB_TMP/state2" --netns "$NODE" \
    --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" plan 2>"$LAB_TMP/plan2.err"); rc=$?
if [ "$rc" = 0 ] && [ -z "$(plan_ops "$out")" ]; then ok "show fed back plans zero operations"
else not_ok "show fed back plans zero operations" "plan exited $rc"; printf '%s\n' "$out" | head | sed 's/^/#   /'; fi

# ---- drift: the daemon puts back a rule deleted by hand --------------------
plumbd_daemon
wait_for 10 status_is rules-basic Available
sleep 1
ip -n "$NODE" rule del priority 1000
if wait_for 10 has_rule4 '^1000:[[:space:]]+from 10\.1\.0\.0/16 lookup 100'; then
    ok "daemon repaired a deleted rule"
else
    not_ok "daemon repaired a deleted rule" "still missing" "$DAEMON_LOG"
fi
kill -TERM "$DAEMON_PID"; wait_for 5 proc_gone "$DAEMON_PID"
lab_untrack_pid "$DAEMON_PID" 2>/dev/null

# ---- absent wildcard by priority only --------------------------------------
cp "$CORPUS/rules-absent-prio500.yml" "$CONF/"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "absent wildcard apply exits 0" 0 "$rc"
r4=$(rules4)
assert_no_match "foreign priority 500 rule removed" '^500:' "$r4"
assert_match "foreign priority 600 rule kept" '^600:[[:space:]]+from all fwmark 0x20 lookup 300' "$r4"
assert_match "kernel local rule kept" '^0:[[:space:]]+from all lookup local' "$r4"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "absent: second apply writes nothing" "0:0" "$rc:$(apply_writes "$out")"

# ---- rollback of the absent generation puts the foreign rule back ----------
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback exits 0" 0 "$rc"
assert_match "rollback restored the foreign priority 500 rule" '^500:[[:space:]]+from 10\.50\.0\.0/16 lookup 100' "$(rules4)"
assert_eq "restored foreign rule is not owned" 4 "$(owned_count)"
rm -f "$CONF/rules-absent-prio500.yml"

# ---- removing the policy removes what it added, nothing else ---------------
rm -f "$CONF/rules-basic.yml"
out=$(plumbd_run --allow-empty apply 2>&1); rc=$?
assert_eq "apply after removal exits 0" 0 "$rc"
r4=$(rules4); r6=$(rules6)
assert_no_match "owned rules removed" '^(1000|1001|1002):|203\.0\.113\.0/24 prohibit' "$r4"
assert_match "foreign rules kept" '^600:[[:space:]]+from all fwmark 0x20' "$r4"
assert_match "rollback-restored foreign 500 rule kept" '^500:' "$r4"
assert_match "unowned IPv6 rule kept" '^1003:[[:space:]]+from 2001:db8:5::/64' "$r6"
assert_match "kernel default rules kept" '^32767:[[:space:]]+from all lookup default' "$r4"
assert_eq "inventory of rules empty" 0 "$(owned_count)"
expect_fail "no steering without the rule" steered_ping

# ---- rollback of the removal puts them back --------------------------------
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback of the removal exits 0" 0 "$rc"
r4=$(rules4)
assert_match "rollback: 1000 back" '^1000:[[:space:]]+from 10\.1\.0\.0/16 lookup 100' "$r4"
assert_match "rollback: 1002 blackhole back" '^1002:[[:space:]]+from 10\.99\.0\.0/16 iif ens19 blackhole' "$r4"
assert_match "rollback: prohibit back" 'to 203\.0\.113\.0/24 prohibit' "$r4"
assert_eq "rollback: rules owned again" 4 "$(owned_count)"
expect "steered pings work again" steered_ping

lab_done
