#!/bin/bash
# nmstate_iftypes: interface types and common interface keys of nmstate
# files (tests/nmstate/iftypes-*.yml) applied to a lab node (issue 6): a veth
# pair, a vxlan over ens19 with every key (traffic to a vxlan in the peer
# netns), a mac-vlan with mode/promiscuous, mac-address, copy-mac-from,
# controller attach/detach, accept-all-mac-addresses, an existing device's
# settings; a second apply writes nothing; `show` fed back plans nothing;
# state down deletes a virtual device (rollback re-creates it), absent,
# ignore; removal (prune) and rollback put everything back. dummy, vlan and
# bond: their plans are checked; created in the kernel only when it has the
# module, otherwise the check reports a skip.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
CORPUS=$LAB_ROOT/tests/nmstate
lab_netns "$NODE" && lab_netns "$PEER" && lab_wire "$NODE" ens19 "$PEER" eth0 &&
    lab_wire "$NODE" ens20 "$PEER" eth1 && lab_wire "$NODE" ens21 "$PEER" eth2 ||
    { not_ok lab "could not build the lab"; exit 1; }
ip -n "$NODE" link add plprobe0 type vxlan id 1 dstport 4789 >/dev/null 2>&1 &&
    ip -n "$NODE" link del plprobe0 || { skip nmstate_iftypes "kernel lacks vxlan"; exit 0; }
ip -n "$NODE" addr add 192.0.2.1/24 dev ens19
ip -n "$PEER" addr add 192.0.2.2/24 dev eth0
# the far end of the vxlan, in the peer
ip -n "$PEER" link add vx100 type vxlan id 100 local 192.0.2.2 remote 192.0.2.1 dev eth0 \
    dstport 4790 nolearning
ip -n "$PEER" addr add 10.200.0.2/24 dev vx100
ip -n "$PEER" link set vx100 up

dlink() { ip -n "$NODE" -d -o link show dev "$1" 2>&1; }
# "mtu mac flags" of a link, the before-image checks compare
image() { ip -n "$NODE" -o link show dev "$1" | sed -E 's/.*<([^>]*)>.* mtu ([0-9]+) .*link\/ether ([0-9a-f:]+) .*/\2 \3 \1/'; }
ens20_before=$(image ens20)
ens21_before=$(image ens21)

cp "$CORPUS"/iftypes-{veth,vxlan,macvlan,controller,ethernet}.yml "$CONF/"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
assert_eq "policies Available" "Available Available Available Available Available" \
    "$(for p in veth vxlan macvlan controller ethernet; do plumbd_status_field iftypes-$p 3; done | xargs)"

# ---- veth ------------------------------------------------------------------
l=$(dlink veth0)
assert_match "veth0 is a veth whose peer is veth0p" '^[0-9]+: veth0@veth0p: .* veth ' "$l"
assert_match "veth0: mtu 1400, UP" '<[^>]*UP[^>]*> mtu 1400 ' "$l"
assert_match "veth0: mac-address 02:11:22:33:44:55" 'link/ether 02:11:22:33:44:55 ' "$l"
assert_match "veth0: description" 'alias test veth' "$l"
l=$(dlink veth0p)
assert_match "veth0p: accept-all-mac-addresses (PROMISC), mtu 1400, up" '<[^>]*PROMISC[^>]*UP[^>]*> mtu 1400 ' "$l"

# ---- vxlan -----------------------------------------------------------------
l=$(dlink vx100)
assert_match "vx100: id, remote, local, base-iface, destination-port, learning" \
    'vxlan id 100 remote 192\.0\.2\.2 local 192\.0\.2\.1 dev ens19 .*dstport 4790 nolearning' "$l"
assert_match "vx100: mtu 1450, up" '<[^>]*UP[^>]*> mtu 1450 ' "$l"
expect "node pings 10.200.0.2 over the vxlan" ip netns exec "$NODE" ping -c 1 -w 3 10.200.0.2

# ---- mac-vlan --------------------------------------------------------------
l=$(dlink mv0)
assert_match "mv0: a macvlan on ens19, mode bridge, nopromisc" '^[0-9]+: mv0@ens19: .*macvlan mode bridge nopromisc' "$l"
assert_match "mv0: mac-address and accept-all-mac-addresses" '<[^>]*PROMISC[^>]*>.* link/ether 02:00:5e:10:00:01 ' "$l"
expect "peer pings mv0 (192.0.2.50)" ip netns exec "$PEER" ping -c 1 -w 3 192.0.2.50

# ---- controller, copy-mac-from ---------------------------------------------
assert_match "ctl0 is a port of br-t (controller)" ' master br-t ' "$(dlink ctl0)"
assert_match "br-t copied ctl0's MAC (copy-mac-from)" 'link/ether 02:aa:bb:cc:dd:01 ' "$(dlink br-t)"

# ---- an existing device ----------------------------------------------------
assert_eq "ens20: mtu, mac-address, accept-all-mac-addresses" "1300 02:de:ad:be:ef:20 BROADCAST,MULTICAST,PROMISC,UP,LOWER_UP" "$(image ens20)"

# ---- converged -------------------------------------------------------------
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "second apply: exit 0, zero netlink writes" "0:0" "$rc:$(apply_writes "$out")"
out=$(plumbd_run plan 2>/dev/null); rc=$?
assert_eq "plan after apply is empty" "0:" "$rc:$(plan_ops "$out")"

# ---- show round trip -------------------------------------------------------
show=$(plumbd_run show 2>/dev/null)
assert_match "show: vxlan block" 'destination-port: 4790' "$show"
assert_match "show: vxlan learning" 'learning: false' "$show"
assert_match "show: mac-vlan block" 'mode: bridge' "$show"
assert_match "show: veth peer" 'peer: veth0p' "$show"
assert_match "show: type mac-vlan" 'type: mac-vlan' "$show"
assert_match "show: accept-all-mac-addresses" 'accept-all-mac-addresses: true' "$show"
assert_match "show: controller" 'controller: br-t' "$show"
mkdir -p "$LAB_TMP/conf2" "$LAB_TMP/state2"
printf '%s\n' "$show" >"$LAB_TMP/conf2/show.yaml"
expect "show output validates" "$PLUMBD" validate "$LAB_TMP/conf2/show.yaml"
out=$("$PLUMBD" --config-dir "$LAB_TMP/conf2" --state-dir "$LAB_TMP/state2" --netns "$NODE" \
    --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" plan 2>"$LAB_TMP/plan2.err"); rc=$?
if [ "$rc" = 0 ] && [ -z "$(plan_ops "$out")" ]; then
    ok "show output fed back plans zero operations"
else
    not_ok "show output fed back plans zero operations" "plan exited $rc"
    printf '%s\n' "$out" | head -n 15 | sed 's/^/#   /'
fi

# ---- drift: the daemon re-creates a deleted vxlan, puts back a changed MAC --
plumbd_daemon
wait_for 10 status_is iftypes-vxlan Available
sleep 1
ip -n "$NODE" link del vx100
ip -n "$NODE" link set dev mv0 address 02:00:5e:10:00:99
ip -n "$NODE" link set dev ens20 promisc off
if wait_for 10 sh -c "ip -n '$NODE' -d -o link show dev vx100 2>/dev/null | grep -q 'vxlan id 100 remote 192.0.2.2 local 192.0.2.1 dev ens19 .*dstport 4790 nolearning'" &&
   wait_for 10 sh -c "ip -n '$NODE' -o link show dev mv0 | grep -q 02:00:5e:10:00:01" &&
   wait_for 10 sh -c "ip -n '$NODE' -o link show dev ens20 | grep -q PROMISC"; then
    ok "daemon repaired: vx100 re-created, mv0's MAC and ens20's promiscuity put back"
else
    not_ok "daemon repaired the drift" "not repaired" "$DAEMON_LOG"
fi
expect "ping over the re-created vxlan" wait_for 5 ip netns exec "$NODE" ping -c 1 -w 3 10.200.0.2
kill -TERM "$DAEMON_PID"; wait_for 5 proc_gone "$DAEMON_PID"
lab_untrack_pid "$DAEMON_PID" 2>/dev/null

# ---- a changed vxlan key re-creates the vxlan plumbd created ---------------
idx=$(watch_ifindex "$NODE" vx100)
sed -i 's/destination-port: 4790/destination-port: 4791/' "$CONF/iftypes-vxlan.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "destination-port changed: apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | grep -v 'level=info' | tail -n 8 | sed 's/^/#   /'
assert_match "vx100 re-created with dstport 4791" 'dstport 4791 ' "$(dlink vx100)"
[ "$(watch_ifindex "$NODE" vx100)" != "$idx" ] && ok "vx100 is a new link" || not_ok "vx100 is a new link" "same ifindex $idx"
sed -i 's/destination-port: 4791/destination-port: 4790/' "$CONF/iftypes-vxlan.yml"
out=$(plumbd_run apply 2>&1)
expect "back to 4790: ping over the vxlan" ip netns exec "$NODE" ping -c 1 -w 3 10.200.0.2

# ---- controller: "" detaches -----------------------------------------------
sed -i 's/controller: br-t/controller: ""/' "$CONF/iftypes-controller.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "controller \"\": apply exits 0" 0 "$rc"
assert_no_match "controller \"\": ctl0 left br-t" ' master ' "$(dlink ctl0)"

# ---- state down deletes a virtual device; rollback re-creates it -----------
cat >"$CONF/down.yml" <<'EOF'
interfaces:
- name: dn0
  type: veth
  state: up
  mtu: 1280
  veth:
    peer: dn0p
EOF
out=$(plumbd_run apply 2>&1)
assert_match "dn0 created" '^[0-9]+: dn0@dn0p: .* mtu 1280 ' "$(dlink dn0)"
sed -i 's/state: up/state: down/' "$CONF/down.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "state down: apply exits 0" 0 "$rc"
link_absent "$NODE" dn0 && link_absent "$NODE" dn0p && ok "state down deleted dn0 and its peer" ||
    not_ok "state down deleted dn0 and its peer" "still there"
out=$(plumbd_run plan 2>/dev/null)
assert_eq "state down: the config is kept, nothing more to do" "" "$(plan_ops "$out")"
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback of the deletion exits 0" 0 "$rc"
assert_match "rollback re-created dn0 with its peer and MTU" '^[0-9]+: dn0@dn0p: .* mtu 1280 ' "$(dlink dn0)"
rm -f "$CONF/down.yml"
out=$(plumbd_run apply 2>&1)
link_absent "$NODE" dn0 && ok "down.yml removed: dn0 pruned" || not_ok "down.yml removed: dn0 pruned" "still there"

# ---- absent and ignore -----------------------------------------------------
ip -n "$NODE" link add fv0 type veth peer name fv0p
ip -n "$NODE" link add ig0 type veth peer name ig0p
ip -n "$NODE" link set ig0 mtu 1234
cat >"$CONF/absent.yml" <<'EOF'
interfaces:
- name: fv0
  type: veth
  state: absent
- name: ens21
  type: ethernet
  state: absent
- name: ig0
  state: ignore
EOF
ig_before=$(image ig0)
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "absent/ignore: apply exits 0" 0 "$rc"
link_absent "$NODE" fv0 && link_absent "$NODE" fv0p && ok "absent deleted the foreign veth fv0 (both ends)" ||
    not_ok "absent deleted the foreign veth fv0" "still there"
if link_exists "$NODE" ens21 && ! pod_if_up "$NODE" ens21; then ok "absent on an ethernet: ens21 kept, down"
else not_ok "absent on an ethernet: ens21 kept, down" "$(image ens21 2>&1)"; fi
assert_eq "ignore: ig0 untouched" "$ig_before" "$(image ig0)"
rm -f "$CONF/absent.yml"
out=$(plumbd_run apply 2>&1)
assert_eq "absent.yml removed: ens21 back as it was" "$ens21_before" "$(image ens21)"

# ---- dummy, vlan, bond: planned; created only if the kernel can ------------
for t in dummy:dummy0:dummy vlan:ens19.10:vlan bond:bond0:bond; do
    file=${t%%:*}; rest=${t#*:}; name=${rest%%:*}; kind=${rest#*:}
    mkdir -p "$LAB_TMP/c-$file"
    cp "$CORPUS/iftypes-$file.yml" "$LAB_TMP/c-$file/"
    out=$("$PLUMBD" --config-dir "$LAB_TMP/c-$file" --state-dir "$LAB_TMP/s-$file" --netns "$NODE" \
        --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" plan 2>/dev/null)
    assert_match "$file: planned as link-add $name $kind" "^link-add $name $kind" "$out"
    if lab_has_kind "$kind"; then
        out=$("$PLUMBD" --config-dir "$LAB_TMP/c-$file" --state-dir "$LAB_TMP/s-$file" --netns "$NODE" \
            --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" apply 2>&1); rc=$?
        assert_eq "$file: apply exits 0" 0 "$rc"
        assert_match "$file: $name created" " $kind " "$(dlink "$name")"
        "$PLUMBD" --config-dir "$LAB_TMP/c-$file" --state-dir "$LAB_TMP/s-$file" --netns "$NODE" \
            --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" rollback >/dev/null 2>&1
        link_absent "$NODE" "$name" && ok "$file: rollback removed $name" || not_ok "$file: rollback removed $name" "still there"
    else
        skip "$file: $name created in the kernel" "kernel lacks $kind"
    fi
done
assert_match "bond plan: ports down first" 'link-set bp0 master=bond0 .*bond port' \
    "$("$PLUMBD" --config-dir "$LAB_TMP/c-bond" --state-dir "$LAB_TMP/s-bond" --netns "$NODE" \
        --node-name "$NODE_NAME" --resolv-conf "$RESOLV_CONF" plan 2>/dev/null)"

# ---- bad values: file:line:column, nothing applied -------------------------
cat >"$LAB_TMP/bad.yml" <<'EOF'
interfaces:
- name: vx9
  type: vxlan
  vxlan:
    id: 9
    remote: 10.0.0.x
- name: ens19
  type: ethernet
  mac-address: 01:00:5e:00:00:01
EOF
out=$("$PLUMBD" validate "$LAB_TMP/bad.yml" 2>&1); rc=$?
assert_eq "bad values: validate exits 1" 1 "$rc"
assert_match "bad vxlan.remote at 6:13" "bad\.yml:6:13: .*vx9\.vxlan\.remote: '10\.0\.0\.x' is not an IP address" "$out"
assert_match "multicast mac-address at 9:16" "bad\.yml:9:16: .*ens19\.mac-address: '01:00:5e:00:00:01' is not a unicast MAC address" "$out"

# ---- rollback: an existing device's before-image ---------------------------
out=$(plumbd_run rollback 2>&1)  # newest generation: ens21 put back (above)
rm -f "$CONF/iftypes-ethernet.yml"
out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "iftypes-ethernet removed: ens20 mtu, MAC, promiscuity back" "$ens20_before" "$(image ens20)"
cp "$CORPUS/iftypes-ethernet.yml" "$CONF/"
out=$(plumbd_run apply 2>&1)
assert_eq "re-applied" "1300 02:de:ad:be:ef:20" "$(image ens20 | cut -d' ' -f1,2)"
out=$(plumbd_run rollback 2>&1); rc=$?
assert_eq "rollback exits 0" 0 "$rc"
assert_eq "rollback: ens20 mtu, MAC, promiscuity back" "$ens20_before" "$(image ens20)"

# ---- removal prunes every created link, ens19 stays ------------------------
rm -f "$CONF"/iftypes-*.yml
out=$(plumbd_run --allow-empty apply 2>&1); rc=$?
assert_eq "all removed: apply exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/#   /'
left=$(links_except_lo "$NODE" | grep -Ev '^(ens19|ens20|ens21|ig0|ig0p)$' | xargs)
assert_eq "all removed: every created link is gone" "" "$left"
assert_match "ens19 untouched" '192\.0\.2\.1/24' "$(ip -n "$NODE" -o addr show dev ens19)"
assert_eq "owned_links empty" 0 "$(sql 'SELECT count(*) FROM owned_links')"

lab_done
