#!/bin/bash
# nmstate_capture: spec.capture (nmpolicy) with the real binary in a lab
# (issue 6). ens19 carries 192.0.2.1/24 and two routes; the policy
# tests/nmstate/capture-bridge-ens19.yml captures ens19, its routes, and
# moves them to br-1 (kubernetes-nmstate's example). Checked: br-1 holds
# the address and the routes, ens19 is its port, traffic flows through
# br-1; the captures are stored per revision, so a second apply (against
# the state the first one made) plans nothing; `plumbd capture` prints the
# expansion; --recapture evaluates again (a MAC change shows up in a
# description only then; a policy whose captures no longer resolve reports
# CaptureError and keeps its state); rollback puts ens19 back and an edited
# policy captures that afresh; a syntax error is Failing/CaptureError with
# its position; a policy for another node is NotMatching, not captured;
# `plumbd validate` checks expressions offline; the daemon captures again
# on an edited policy only.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
CORPUS=$LAB_ROOT/tests/nmstate
lab_netns "$NODE" && lab_netns "$PEER" && lab_wire "$NODE" ens19 "$PEER" eth0 &&
    lab_wire "$NODE" ens20 "$PEER" eth1 || { not_ok lab "could not build the lab"; exit 1; }
ip -n "$NODE" addr add 192.0.2.1/24 dev ens19
ip -n "$PEER" addr add 192.0.2.2/24 dev eth0
ip -n "$PEER" addr add 198.51.100.1/32 dev lo   # only reachable through a route
ip -n "$NODE" route add 198.51.100.0/24 via 192.0.2.2 dev ens19 metric 50
ip -n "$NODE" route add 10.70.0.0/16 via 192.0.2.2 dev ens19
ip -n "$NODE" link set ens20 address 02:00:00:00:00:20

routes4() { ip -n "$NODE" -4 route show 2>&1; }
status_of() { plumbd_status_field "$1" "$2"; }

# ---- plumbd capture: the expansion, printed --------------------------------
out=$("$PLUMBD" --netns "$NODE" --resolv-conf "$RESOLV_CONF" capture \
    "$CORPUS/capture-bridge-ens19.yml" 2>&1); rc=$?
assert_eq "plumbd capture exits 0" 0 "$rc"
assert_match "capture: br-1 gets ens19's address" '^    - ip: "?192\.0\.2\.1"?$' "$out"
assert_match "capture: port ens19" '^    - name: ens19$' "$out"
assert_match "capture: routes moved to br-1" '^    next-hop-interface: br-1$' "$out"
assert_no_match "capture: no template left" '\{\{' "$out"

# ---- apply: address, port and routes moved to br-1 -------------------------
cp "$CORPUS/capture-bridge-ens19.yml" "$CONF/"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
if has_addr "$NODE" br-1 192.0.2.1/24; then ok "br-1 has 192.0.2.1/24 (captured from ens19)"
else not_ok "br-1 has 192.0.2.1/24 (captured from ens19)" "$(ip -n "$NODE" -o addr show dev br-1 2>&1)"; fi
assert_eq "ens19 is the port of br-1" "ens19" "$(bridge_ports "$NODE" br-1)"
r4=$(routes4)
assert_match "198.51.100.0/24 moved to br-1, metric kept" '^198\.51\.100\.0/24 via 192\.0\.2\.2 dev br-1 proto static metric 50' "$r4"
assert_match "10.70.0.0/16 moved to br-1" '^10\.70\.0\.0/16 via 192\.0\.2\.2 dev br-1 proto static' "$r4"
assert_no_match "no route left via ens19 (but the kernel's own)" 'via .* dev ens19' "$r4"
expect "node pings 198.51.100.1 through br-1" ip netns exec "$NODE" ping -c 1 -w 3 198.51.100.1
assert_eq "policy Available" "Available" "$(status_of capture-br-1 3)"
assert_eq "captures stored for the policy's revision" "1" \
    "$(sql "SELECT count(*) FROM captures WHERE policy = 'capture-br-1'")"

# ---- no flip-flop: the stored captures are reused --------------------------
# Against today's state the captures would find no route via ens19; the
# stored ones (the policy did not change) keep the plan empty.
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "second apply: exit 0, zero netlink writes" "0:0" "$rc:$(apply_writes "$out")"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan after apply is empty" "0:" "$rc:$(plan_ops "$out")"

# ---- rollback puts ens19 back; an edited policy captures that afresh -------
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback exits 0" 0 "$rc"
if link_absent "$NODE" br-1; then ok "rollback: br-1 deleted"
else not_ok "rollback: br-1 deleted" "$(ip -n "$NODE" link show br-1 2>&1)"; fi
assert_match "rollback: 198.51.100.0/24 back on ens19" '^198\.51\.100\.0/24 via 192\.0\.2\.2 dev ens19 (proto [a-z]+ )?metric 50' "$(routes4)"
assert_eq "rollback: Aborted" "Aborted" "$(status_of capture-br-1 3)"
sed 's/^  name: capture-br-1$/  name: capture-br-1\n  labels: {edited: "1"}/' \
    "$CORPUS/capture-bridge-ens19.yml" >"$CONF/capture-bridge-ens19.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "edited policy: captured afresh and applied" "0 Available" "$rc $(status_of capture-br-1 3)"
if has_addr "$NODE" br-1 192.0.2.1/24 && [ "$(bridge_ports "$NODE" br-1)" = ens19 ] &&
   grep -qE '^198\.51\.100\.0/24 via 192\.0\.2\.2 dev br-1' <<<"$(routes4)"; then
    ok "edited policy: br-1 has the address, the port and the route again"
else not_ok "edited policy: br-1 has the address, the port and the route again" "$(routes4 | tr '\n' ';')"; fi

# ---- --recapture: evaluated again against the live state -------------------
cp "$CORPUS/capture-describe-ens20.yml" "$CONF/"
out=$(plumbd_run apply 2>&1)
assert_eq "ens20 described with its captured MAC" "02:00:00:00:00:20" \
    "$(ip -n "$NODE" -d link show dev ens20 | sed -n 's/^ *alias //p')"
ip -n "$NODE" link set ens20 address 02:00:00:00:00:21
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "a new MAC alone changes nothing (captured once per revision)" "0:0:02:00:00:00:00:20" \
    "$rc:$(apply_writes "$out"):$(ip -n "$NODE" -d link show dev ens20 | sed -n 's/^ *alias //p')"
out=$(plumbd_run apply --recapture 2>&1); rc=$?
assert_eq "apply --recapture: the description follows the new MAC" "02:00:00:00:00:21" \
    "$(ip -n "$NODE" -d link show dev ens20 | sed -n 's/^ *alias //p')"
# capture-br-1 evaluated again finds no route via ens19 any more: it says
# so and keeps what it did (exactly why captures are not re-evaluated on
# every pass).
assert_eq "recaptured capture-br-1: Failing CaptureError" "Failing CaptureError" \
    "$(status_of capture-br-1 3) $(status_of capture-br-1 4)"
assert_match "the message names the template and position" \
    "capture-bridge-ens19\.yml:[0-9]+:[0-9]+: template 'capture\.bridge-routes\.routes\.running\.0': capture\.bridge-routes is empty .* at position 22" \
    "$(plumbd_status_line capture-br-1)"
assert_match "br-1 and its routes stay" '^198\.51\.100\.0/24 via 192\.0\.2\.2 dev br-1' "$(routes4)"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "next apply: the last good captures, Available, no writes" "0:0:Available" \
    "$rc:$(apply_writes "$out"):$(status_of capture-br-1 3)"
assert_eq "recaptured description kept" "02:00:00:00:00:21" \
    "$(ip -n "$NODE" -d link show dev ens20 | sed -n 's/^ *alias //p')"

# ---- a syntax error: Failing CaptureError with the position ----------------
sed -e 's/name: capture-describe/name: capture-bad/' \
    -e 's/interfaces.name=="ens20"/interfaces.name="ens20"/' \
    "$CORPUS/capture-describe-ens20.yml" >"$CONF/capture-bad.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a bad expression exits 1" 1 "$rc"
assert_eq "bad expression: Failing CaptureError" "Failing CaptureError" \
    "$(status_of capture-bad 3) $(status_of capture-bad 4)"
assert_match "message: file:line:col, the operator and the position" \
    "capture-bad\.yml:9:25: capture nic: '=' is not an operator .* at position 15 of 'interfaces\.name=\"ens20\"'" \
    "$(plumbd_status_line capture-bad)"
assert_eq "the other policies stay Available" "Available Available" \
    "$(status_of capture-br-1 3) $(status_of capture-describe 3)"
out=$("$PLUMBD" validate "$CONF/capture-bad.yml" 2>&1); rc=$?
assert_eq "validate: exit 1 on the bad expression" 1 "$rc"
assert_match "validate: file:line:col of the operator" "capture-bad\.yml:9:25: .*'=' is not an operator" "$out"
out=$("$PLUMBD" validate "$CONF/capture-bridge-ens19.yml" 2>&1); rc=$?
assert_eq "validate: a good capture policy passes (templates checked on apply)" 0 "$rc"
rm -f "$CONF/capture-bad.yml"

# ---- a policy for other nodes is not captured here: NotMatching ------------
sed -e 's/name: capture-describe/name: capture-elsewhere/' \
    -e 's/^spec:$/spec:\n  nodeSelector: {role: storage}/' \
    -e 's/interfaces.name=="ens20"/interfaces.name=="ens99"/' \
    "$CORPUS/capture-describe-ens20.yml" >"$CONF/capture-elsewhere.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "capture for another node (ens99 not here): NotMatching, exit 0" "0 NotMatching" \
    "$rc $(status_of capture-elsewhere 3)"
rm -f "$CONF/capture-elsewhere.yml"

# ---- removal: br-1 goes; the routes it added go with it --------------------
rm -f "$CONF/capture-bridge-ens19.yml"
out=$(plumbd_run apply 2>&1)
if link_absent "$NODE" br-1; then ok "policy removed: br-1 deleted"
else not_ok "policy removed: br-1 deleted" "$(ip -n "$NODE" link show br-1 2>&1)"; fi
assert_no_match "policy removed: routes via br-1 gone" 'dev br-1' "$(routes4)"
assert_eq "policy removed: its captures forgotten" "0" \
    "$(sql "SELECT count(*) FROM captures WHERE policy = 'capture-br-1'")"
# ---- the daemon captures again when a policy's revision changes -----------
alias_of() { ip -n "$NODE" -d link show dev ens20 | sed -n 's/^ *alias //p'; }
alias_is() { [ "$(alias_of)" = "$1" ]; }
plumbd_daemon
wait_for 10 status_is capture-describe Available
ip -n "$NODE" link set ens20 address 02:00:00:00:00:22
sleep 1
assert_eq "daemon: a new MAC alone is not recaptured" "02:00:00:00:00:21" "$(alias_of)"
# A new revision of the policy (a label added): captured afresh.
sed 's/^  name: capture-describe$/  name: capture-describe\n  labels: {rev: "2"}/' \
    "$CORPUS/capture-describe-ens20.yml" >"$LAB_TMP/describe.yml"
mv "$LAB_TMP/describe.yml" "$CONF/capture-describe-ens20.yml"
if wait_for 10 alias_is 02:00:00:00:00:22; then ok "daemon: the edited policy is captured again"
else not_ok "daemon: the edited policy is captured again" "alias $(alias_of)"; tail -n 5 "$DAEMON_LOG" | sed 's/^/#   /'; fi
lab_done
