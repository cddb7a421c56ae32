#!/bin/bash
# nmstate_dhcp: the built-in DHCPv4 client against dnsmasq (issue 6).
# The seed lab (br-1 with port ens19, ipv4: {dhcp: true, enabled: true})
# with dnsmasq in the peer netns on the other end of ens19's wire, a 2 min
# lease (dnsmasq's minimum) and T1/T2 shortened to 4/8 s through options
# 58/59, which a client must honour:
#   - `plumbd apply` gets a lease within 3 s: address on br-1, default
#     route via the router option, resolv.conf from option 6, the lease in
#     dnsmasq's lease file and in plumbd's dhcp_lease table; plan after it
#     is empty;
#   - the daemon renews at T1 (a DHCPREQUEST and no DHCPDISCOVER in
#     dnsmasq's log, the stored lease's time moves on);
#   - a restarted daemon keeps the address and asks for it again with a
#     REQUEST (INIT-REBOOT), never a DISCOVER;
#   - the leased address deleted by hand comes back (drift repair);
#   - `plumbd show` says dhcp: true for br-1 and does not list the lease;
#   - dhcp: false releases the lease (dnsmasq's lease file loses the entry)
#     and removes the address, the route and the DNS servers;
#   - auto-route-table-id/auto-route-metric put the default route in table
#     100 with metric 50, auto-dns: false leaves resolv.conf alone;
#   - with no server, `plumbd apply` still returns within a few seconds
#     with the bridge created, Available, the message saying the lease is
#     pending.
# dnsmasq runs with --no-ping: by default it pings an address for 3 s
# before offering it to a new client, which would only measure dnsmasq.
set -uo pipefail
LAB_DHCP_WAIT_MS='' # plumbd's default wait (lab.sh's is 0)
. "$(dirname "$0")/../lib/lab.sh"
lab_init
if ! command -v dnsmasq >/dev/null; then
    skip "nmstate_dhcp" "dnsmasq not installed (Debian dnsmasq-base, make deps)"
    exit 0
fi
LAB_NO_POD=1 lab_seed || { not_ok lab "could not build the lab"; exit 1; }
rm -f "$CONF/multus-demo.yml" "$CONF/linux-bridge-br-1.yml"
POLICY=$CONF/linux-bridge-br1-ens19.yml
LEASES=$LAB_TMP/dnsmasq.leases
DLOG=$LAB_TMP/dnsmasq.log
printf 'nameserver 9.9.9.9\n' >"$RESOLV_CONF"

dnsmasq_start() {
    : >"$DLOG"
    ip netns exec "$PEER" dnsmasq --keep-in-foreground --port=0 --interface=eth0 \
        --bind-interfaces --no-ping --log-dhcp --log-facility="$DLOG" \
        --dhcp-range=192.168.255.50,192.168.255.60,255.255.255.0,2m \
        --dhcp-leasefile="$LEASES" --dhcp-option=3,192.168.255.254 \
        --dhcp-option=6,192.168.255.11 --dhcp-option=15,lab.example \
        --dhcp-option=58,4 --dhcp-option=59,8 --pid-file="$LAB_TMP/dnsmasq.pid" &
    DNSMASQ_PID=$!
    lab_track_pid "$DNSMASQ_PID"
    wait_for 5 grep -q 'DHCP, sockets bound' "$DLOG"
}
count() { grep -c "$1" "$DLOG" 2>/dev/null || true; }
br_addr() { ip -n "$NODE" -4 -o addr show dev br-1 2>/dev/null | awk '{print $4}' | head -n 1; }
lease_addr() { sql "SELECT address FROM dhcp_lease WHERE ifname = 'br-1'" 2>/dev/null; }
lease_time() { sql "SELECT acquired_at FROM dhcp_lease WHERE ifname = 'br-1'" 2>/dev/null; }

dnsmasq_start || { not_ok "dnsmasq" "did not start" "$DLOG"; exit 1; }

# ---- apply: a lease within 3 s ---------------------------------------------
t0=$(date +%s%N)
out=$(plumbd_run apply 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "apply with DHCP: ${ms} ms"
assert_eq "apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
if [ "$ms" -lt 3000 ]; then ok "lease within 3 s (${ms} ms)"; else not_ok "lease within 3 s" "${ms} ms"; fi
ADDR=$(br_addr)
assert_match "br-1 has an address of dnsmasq's range" '^192\.168\.255\.(5[0-9]|60)/24$' "$ADDR"
assert_eq "the lease is stored (dhcp_lease)" "$ADDR" "$(lease_addr)"
assert_match "dnsmasq's lease file holds it" "${ADDR%/*} " "$(cat "$LEASES" 2>/dev/null)"
assert_match "default route via the router option" '^default via 192\.168\.255\.254 dev br-1' \
    "$(ip -n "$NODE" -4 route show default)"
assert_match "resolv.conf from the lease (option 6)" '^nameserver 192\.168\.255\.11$' "$(cat "$RESOLV_CONF")"
assert_match "resolv.conf search from option 15" '^search lab\.example$' "$(cat "$RESOLV_CONF")"
assert_eq "policy Available" Available "$(plumbd_status_field linux-bridge-br1-ens19 3)"
assert_no_match "no dhcp warning any more" 'not implemented' "$(plumbd_status_line linux-bridge-br1-ens19)"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan after apply is empty" "0:" "$rc:$out"
ping_ok() { ip netns exec "$PEER" ping -c 1 -W 1 "${ADDR%/*}" >/dev/null 2>&1; }
expect "the peer pings the leased address" ping_ok

# ---- show: dhcp: true, the lease not a static address ------------------------
show=$(plumbd_run show 2>/dev/null)
br=$(printf '%s\n' "$show" | awk '/^- name: br-1$/ {p=1; next} /^- name:/ {p=0} p')
assert_match "show: br-1 ipv4 dhcp: true" '^ *dhcp: true$' "$br"
assert_no_match "show: the leased address is not listed" "ip: ${ADDR%/*}\$" "$br"

# show fed back (a fresh config and state dir): nothing to do, zero writes
CONF2=$LAB_TMP/conf2 STATE2=$LAB_TMP/state2
mkdir -p "$CONF2" "$STATE2"
printf '%s\n' "$show" >"$CONF2/show.yaml"
p2() { "$PLUMBD" --config-dir "$CONF2" --state-dir "$STATE2" --netns "$NODE" \
    --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" "$@"; }
out=$(p2 plan 2>"$LAB_TMP/p2.err"); rc=$?
assert_eq "show fed back: plan is empty" "0:" "$rc:$(plan_ops "$out")"
out=$(p2 apply 2>&1); rc=$?
assert_eq "show fed back: apply exits 0" 0 "$rc"
assert_eq "show fed back: zero netlink writes" 0 "$(apply_writes "$out")"
assert_eq "show fed back: same address" "$ADDR" "$(br_addr)"

# ---- daemon: INIT-REBOOT, then renew at T1 -----------------------------------
d0=$(count 'DHCPDISCOVER'); r0=$(count 'DHCPREQUEST'); t_lease=$(lease_time)
plumbd_daemon
# the restart REQUEST, then the T1 renewal (4 s later)
if wait_for 15 bash -c "[ \$(grep -c DHCPREQUEST '$DLOG') -ge $((r0 + 2)) ]"; then
    ok "daemon: the lease is renewed at T1 (two REQUESTs: reboot, renew)"
else
    not_ok "daemon: renew at T1" "$(count DHCPREQUEST) REQUESTs (had $r0)" "$DLOG"
fi
assert_eq "daemon: no DISCOVER (the stored lease is asked for)" "$d0" "$(count 'DHCPDISCOVER')"
wait_for 3 bash -c "[ \"\$(sqlite3 -cmd '.timeout 2000' '$STATE/plumbd.db' \"SELECT acquired_at FROM dhcp_lease\")\" != '$t_lease' ]"
if [ "$(lease_time)" != "$t_lease" ]; then ok "the renewal is stored"; else not_ok "the renewal is stored" "acquired_at unchanged"; fi
assert_eq "daemon: same address" "$ADDR" "$(br_addr)"
# the unicast ACK of the renewal reached port 68 without an ICMP port
# unreachable from the node (a UDP socket holds the port)
unreach=$(ip netns exec "$NODE" awk '/^Icmp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "OutDestUnreachs") c = i; h = 1 } else print $c }' /proc/net/snmp)
assert_eq "renewal: no ICMP port unreachable from the node" 0 "$unreach"
assert_match "daemon log: renewed" 'lease renewed' "$(cat "$DAEMON_LOG")"

# ---- drift: the leased address deleted by hand comes back --------------------
ip -n "$NODE" addr del "$ADDR" dev br-1
if wait_for 5 bash -c "ip -n '$NODE' -4 -o addr show dev br-1 | grep -q '$ADDR'"; then
    ok "drift: the leased address is put back"
else
    not_ok "drift: the leased address is put back" "still missing" "$DAEMON_LOG"
fi

# ---- restart: the address is kept, REQUEST without DISCOVER -------------------
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null
assert_eq "after SIGTERM the address stays" "$ADDR" "$(br_addr)"
d1=$(count 'DHCPDISCOVER'); r1=$(count 'DHCPREQUEST'); a1=$(count 'DHCPACK')
plumbd_daemon
if wait_for 5 bash -c "[ \$(grep -c DHCPREQUEST '$DLOG') -gt $r1 ]"; then
    ok "restart: a REQUEST for the stored lease"
else
    not_ok "restart: a REQUEST for the stored lease" "none" "$DAEMON_LOG"
fi
assert_eq "restart: no DISCOVER" "$d1" "$(count 'DHCPDISCOVER')"
assert_eq "restart: same address" "$ADDR" "$(br_addr)"
# (dnsmasq's log lags its answer a little)
acked() { [ "$(count 'DHCPACK')" -gt "$a1" ]; }
wait_for 3 acked
assert_match "restart: dnsmasq ACKed the same address" "DHCPACK\\(eth0\\) ${ADDR%/*} " "$(tail -n 30 "$DLOG")"

# ---- a policy file that stops parsing keeps its lease (last good state) ----------
cp "$POLICY" "$LAB_TMP/policy.good"
printf 'spec: [\n' >>"$POLICY"
if wait_for 5 bash -c "'$PLUMBD' --state-dir '$STATE' status 2>/dev/null | grep -q InvalidConfiguration"; then
    ok "broken policy file: InvalidConfiguration"
else
    not_ok "broken policy file: InvalidConfiguration" "status unchanged" "$DAEMON_LOG"
fi
sleep 0.5
assert_eq "broken policy file: the address stays" "$ADDR" "$(br_addr)"
assert_eq "broken policy file: no DHCPRELEASE" 0 "$(count 'DHCPRELEASE')"
assert_eq "broken policy file: the lease stays stored" "$ADDR" "$(lease_addr)"
cp "$LAB_TMP/policy.good" "$POLICY"
wait_for 5 status_is linux-bridge-br1-ens19 Available

# ---- dhcp: false: released -------------------------------------------------------
sed -i 's/dhcp: true/dhcp: false/' "$POLICY"
if wait_for 10 bash -c "! grep -q '${ADDR%/*} ' '$LEASES'"; then
    ok "dhcp: false: dnsmasq's lease file loses the entry (DHCPRELEASE)"
else
    not_ok "dhcp: false: released" "lease still in dnsmasq's file" "$DLOG"
fi
assert_match "dnsmasq logged the release" "DHCPRELEASE\\(eth0\\) ${ADDR%/*}" "$(cat "$DLOG")"
sleep 0.3
assert_eq "one DHCPRELEASE, not one per pass" 1 "$(count 'DHCPRELEASE')"
wait_for 5 bash -c "[ -z \"\$(ip -n '$NODE' -4 -o addr show dev br-1)\" ]"
assert_eq "dhcp: false: the address is removed" "" "$(br_addr)"
assert_eq "dhcp: false: the default route is removed" "" "$(ip -n "$NODE" -4 route show default)"
wait_for 3 grep -qx 'nameserver 9.9.9.9' "$RESOLV_CONF"
assert_eq "dhcp: false: resolv.conf is put back" 'nameserver 9.9.9.9' "$(cat "$RESOLV_CONF")"
assert_eq "dhcp: false: the stored lease is gone" "" "$(lease_addr)"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null

# ---- auto-route-table-id / auto-route-metric / auto-dns: false -------------------
sed -i 's/^\( *\)dhcp: false$/\1dhcp: true\n\1auto-route-table-id: 100\n\1auto-route-metric: 50\n\1auto-dns: false/' "$POLICY"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "auto keys: apply exits 0" 0 "$rc"
ADDR2=$(br_addr)
assert_match "auto keys: a lease again" '^192\.168\.255\.(5[0-9]|60)/24$' "$ADDR2"
assert_match "auto keys: default route in table 100, metric 50" \
    '^default via 192\.168\.255\.254 dev br-1 proto static metric 50' "$(ip -n "$NODE" -4 route show table 100)"
assert_eq "auto keys: no default route in main" "" "$(ip -n "$NODE" -4 route show default)"
assert_eq "auto keys: auto-dns: false leaves resolv.conf" 'nameserver 9.9.9.9' "$(cat "$RESOLV_CONF")"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "auto keys: plan after apply is empty" "0:" "$rc:$out"
sed -i '/auto-route-table-id\|auto-route-metric\|auto-dns/d; s/dhcp: true/dhcp: false/' "$POLICY"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "auto keys: dhcp: false again, the table 100 route goes" "0:" "$rc:$(ip -n "$NODE" -4 route show table 100)"

# ---- no server: apply returns soon, Available, lease pending -------------------
kill -TERM "$DNSMASQ_PID"; wait "$DNSMASQ_PID" 2>/dev/null
sed -i 's/dhcp: false/dhcp: true/' "$POLICY"
ip -n "$NODE" link del br-1
t0=$(date +%s%N)
out=$(plumbd_run apply 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
diag "apply with no DHCP server: ${ms} ms"
assert_eq "no server: apply exits 0" 0 "$rc"
if [ "$ms" -lt 5000 ]; then ok "no server: apply returns within 5 s (${ms} ms)"; else not_ok "no server: apply returns within 5 s" "${ms} ms"; fi
expect "no server: br-1 created" link_exists "$NODE" br-1
assert_eq "no server: policy Available" Available "$(plumbd_status_field linux-bridge-br1-ens19 3)"
assert_match "no server: the message says the lease is pending" 'br-1: ipv4 DHCP lease pending' \
    "$(plumbd_status_line linux-bridge-br1-ens19)"
assert_eq "no server: no address" "" "$(br_addr)"

lab_done
